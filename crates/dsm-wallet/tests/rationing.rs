//! Nodes ration strangers (PROTOCOL.md §15, "Rationing"): a load test, bounded in count,
//! against six loopback nodes running the shipped defaults. A keyless client on 127.0.0.2
//! floods one node with reads and with the largest writes it may make, while honest wallets
//! on 127.0.0.1 keep transferring online and settling. The flood is refused with 429 before
//! its bodies are read, what it makes the node store stays within its byte budget, and
//! every honest transfer settles.

mod common;
use common::cluster::Cluster;
use common::{dev, memory_wallet};
use dsm_core::chain::Amount;
use dsm_node::ration::RationLimits;
use dsm_wallet::online::{send_online, sync, Settlement};
use dsm_wallet::{token, DEFAULT_TOKEN};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

/// One HTTP/1.1 request from 127.0.0.2 on its own connection; returns the status.
fn request_from_other_address(node: SocketAddr, method: &str, path: &str, body: &[u8]) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(node).await.unwrap()
    });
    let mut s = stream.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {node}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A refused request is answered from its head: the body may never be read.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let line = String::from_utf8_lossy(&out);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_keyless_flood_from_one_address_is_rationed_while_honest_wallets_settle() {
    // The shipped limits (`dsm node serve`'s defaults), printed with the result.
    let limits = RationLimits::default();
    eprintln!("limits: {limits}");
    let c = Cluster::with_limits(6, limits.clone());
    let nodes = c.nodes();
    let target: SocketAddr = c.urls[0].trim_start_matches("http://").parse().unwrap();
    let (mut alice, _) = memory_wallet(1_000);
    let (mut bob, _) = memory_wallet(0);
    let start = Instant::now();
    let (flood, honest) = std::thread::scope(|s| {
        let flood = s.spawn(|| {
            let mut seen = std::collections::BTreeMap::<(&str, u16), u32>::new();
            // Reads as fast as one connection per request allows.
            for i in 0..1_500u32 {
                let path = format!(
                    "/v1/objects/{}",
                    dsm_core::hash::Digest([i as u8; 32]).to_hex()
                );
                *seen
                    .entry((
                        "read",
                        request_from_other_address(target, "GET", &path, &[]),
                    ))
                    .or_default() += 1;
            }
            // The largest objects it may store, each at its own address.
            let mut stored = 0u64;
            for i in 0..400u32 {
                let mut body = vec![0u8; 300 * 1024];
                body[..4].copy_from_slice(&i.to_be_bytes());
                let addr = dsm_core::hash::object_address(&body).to_hex();
                let status = request_from_other_address(
                    target,
                    "PUT",
                    &format!("/v1/objects/{addr}"),
                    &body,
                );
                if status == 201 {
                    stored += body.len() as u64;
                }
                *seen.entry(("write", status)).or_default() += 1;
            }
            (seen, stored)
        });
        // Honest wallets on 127.0.0.1, all along.
        let mut settled = 0;
        for _ in 0..5 {
            common::introduce(&mut alice, &bob);
            let sent = send_online(
                &mut alice,
                &nodes,
                &bob.device_id(),
                token(DEFAULT_TOKEN),
                Amount(10),
            )
            .unwrap();
            assert!(
                matches!(sent.settlement, Settlement::Settled { .. }),
                "{sent:?}"
            );
            let rb = sync(&mut bob, &nodes).unwrap();
            assert_eq!(rb.received.len(), 1, "{rb:?}");
            let ra = sync(&mut alice, &nodes).unwrap();
            assert_eq!(ra.stitched.len(), 1, "{ra:?}");
            settled += 1;
        }
        (flood.join().unwrap(), settled)
    });
    let elapsed = start.elapsed();
    let (seen, stored) = flood;
    assert_eq!(honest, 5, "every honest transfer settled during the flood");
    assert_eq!(dev(&bob), 50);
    let count = |what: &str, status: u16| seen.get(&(what, status)).copied().unwrap_or(0);
    // Every attempt was answered, and the flood was refused by rationing in both phases.
    assert_eq!(seen.values().sum::<u32>(), 1_900, "{seen:?}");
    assert!(
        count("read", 429) > 0,
        "the read flood met the request rate: {seen:?}"
    );
    assert!(
        count("write", 429) > 0,
        "the write flood was rationed too: {seen:?}"
    );
    // What the flood made the node store: at most the budget, plus what refilled while it
    // ran, plus one body.
    let budget = limits.write_bytes_per_minute as f64;
    let bound = budget + budget * elapsed.as_secs_f64() / 60.0 + 300.0 * 1024.0;
    assert!(
        (stored as f64) <= bound,
        "stored {stored} > {bound}: {seen:?}"
    );
    eprintln!("flood answers {seen:?}; stored {stored} bytes in {elapsed:?}");
}
