//! HTTPS to storage nodes (PROTOCOL.md §15.4): nodes served over rustls with a certificate
//! made here (rcgen), wallets that pin the node's key in the registry line, refusals of
//! every other key, and a registry moved from http to https that moves no data.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use common::{dev, memory_wallet};
use dsm_core::chain::Amount;
use dsm_node::api::Node;
use dsm_node::store::{EmbeddedStore, Quotas};
use dsm_wallet::nodes::{NodeSet, Replication, ReplicationError};
use dsm_wallet::online::{send_online, sync, Settlement};
use dsm_wallet::tls::{node_agent, NodeAddress, SpkiPin};
use dsm_wallet::{token, DEFAULT_TOKEN};

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`; returns
/// their paths and the key's pin.
fn certificate(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, SpkiPin) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let pin = SpkiPin::of_certificate(ck.cert.der()).unwrap();
    (cert, key, pin)
}

/// Nodes on loopback whose serving can be switched between plain HTTP and TLS on the same
/// port and the same store.
struct Nodes {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    nodes: Vec<Arc<Node<EmbeddedStore>>>,
    addrs: Vec<std::net::SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
    pin: SpkiPin,
    tls: dsm_node::tls::ServerConfig,
}

impl Nodes {
    fn new(n: usize) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (cert, key, pin) = certificate(dir.path(), "node");
        let tls = dsm_node::tls::server_config(&cert, &key).unwrap();
        let mut nodes = Vec::new();
        let mut addrs = Vec::new();
        for i in 0..n {
            let store = EmbeddedStore::open(&dir.path().join(format!("n{i}.redb"))).unwrap();
            nodes.push(Node::new(store, Quotas::default()));
            let l = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            addrs.push(l.local_addr().unwrap());
        }
        let mut me = Nodes {
            rt,
            dir,
            nodes,
            addrs,
            tasks: Vec::new(),
            pin,
            tls,
        };
        me.serve(true);
        me
    }

    /// (Re)starts every node on its port, over TLS or plain HTTP.
    fn serve(&mut self, tls: bool) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = self.rt.block_on(t);
        }
        for (node, addr) in self.nodes.iter().zip(&self.addrs) {
            let listener = self.rt.block_on(async {
                // The old listener is gone once its task ended; the port is free again.
                tokio::net::TcpListener::bind(addr).await.unwrap()
            });
            let (node, timeouts) = (node.clone(), dsm_node::Timeouts::default());
            self.tasks.push(if tls {
                self.rt.spawn(dsm_node::serve_tls(
                    listener,
                    node,
                    timeouts,
                    self.tls.clone(),
                ))
            } else {
                self.rt.spawn(dsm_node::serve(listener, node, timeouts))
            });
        }
    }

    fn lines(&self, tls: bool, pin: Option<SpkiPin>) -> Vec<String> {
        self.addrs
            .iter()
            .map(|a| match (tls, pin) {
                (false, _) => format!("http://{a}"),
                (true, None) => format!("https://{a}"),
                (true, Some(p)) => format!("https://{a}#spki-sha256={}", p.to_hex()),
            })
            .collect()
    }

    fn set(&self, lines: Vec<String>) -> NodeSet {
        NodeSet::new(lines, Replication::default(), Duration::from_secs(5))
    }
}

#[test]
fn https_nodes_pinned_by_key_carry_an_online_transfer_to_settlement() {
    let n = Nodes::new(6);
    let nodes = n.set(n.lines(true, Some(n.pin)));
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    common::introduce(&mut a, &b);
    let sent = send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(30),
    )
    .unwrap();
    assert_eq!(sent.settlement, Settlement::Settled { acks: 6 });
    assert!(sent.faults.is_empty(), "{:?}", sent.faults);
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(dev(&b), 30);
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    assert_eq!(dev(&a), 70);
    drop(n.dir);
}

/// The error text of a `/health` request with this registry line.
fn health_error(line: &str) -> String {
    let agent = node_agent(&[line.to_string()], Duration::from_secs(5));
    let url = format!("{}/health", dsm_wallet::tls::base_url(line));
    match agent.get(&url).call() {
        Ok(r) => format!("answered {}", r.status().as_u16()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_node_is_spoken_to_only_under_its_pinned_key() {
    let n = Nodes::new(1);
    let a = n.addrs[0];
    let right = format!("https://{a}#spki-sha256={}", n.pin.to_hex());
    assert_eq!(health_error(&right), "answered 200");

    // Another key (a node that was replaced, or someone on the path): refused in the
    // handshake, before any request is sent.
    let (_, _, other) = certificate(n.dir.path(), "other");
    let wrong = format!("https://{a}#spki-sha256={}", other.to_hex());
    let e = health_error(&wrong);
    assert!(
        e.contains("invalid peer certificate: ApplicationVerificationFailure"),
        "{e}"
    );
    // One of several pins (a key rollover) is enough.
    let both = format!(
        "https://{a}#spki-sha256={},{}",
        other.to_hex(),
        n.pin.to_hex()
    );
    assert_eq!(health_error(&both), "answered 200");
    // No pin: the system's roots, which do not know a self-signed certificate.
    let e = health_error(&format!("https://{a}"));
    assert!(
        e.contains("invalid peer certificate: UnknownIssuer")
            || e.contains("no system root certificates found"),
        "{e}"
    );
    // Plain HTTP to a TLS port gets no answer.
    let e = health_error(&format!("http://{a}"));
    assert!(!e.starts_with("answered"), "{e}");

    // Through the node set: a wrong pin leaves a node unreachable, never trusted.
    let nodes = NodeSet::new(
        vec![wrong],
        Replication { n: 1, k: 1, f: 0 },
        Duration::from_secs(5),
    );
    assert!(matches!(
        nodes.put_object(b"hello"),
        Err(ReplicationError::NotEnoughReplicas { got: 0, want: 1 })
    ));
    let nodes = NodeSet::new(
        vec![right],
        Replication { n: 1, k: 1, f: 0 },
        Duration::from_secs(5),
    );
    assert!(nodes.put_object(b"hello").is_ok());
}

#[test]
fn moving_nodes_from_http_to_https_moves_no_data() {
    let mut n = Nodes::new(6);
    n.serve(false);
    let plain = n.set(n.lines(false, None));
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    common::introduce(&mut a, &b);
    let sent = send_online(
        &mut a,
        &plain,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(30),
    )
    .unwrap();
    assert_eq!(sent.settlement, Settlement::Settled { acks: 6 });

    // The operators switch every node to TLS on the same port; the wallets' registries
    // change scheme and gain pins. Placement is by node id, so it is the same…
    n.serve(true);
    let tls = n.set(n.lines(true, Some(n.pin)));
    for key in [[0u8; 32], [7; 32], [0xff; 32]] {
        let ids = |s: &NodeSet| -> Vec<String> {
            s.placement(&key)
                .unwrap()
                .iter()
                .map(|u| dsm_wallet::nodes::node_authority(u).to_string())
                .collect()
        };
        assert_eq!(ids(&plain), ids(&tls));
    }
    // …and what was stored over HTTP is read over HTTPS: b collects the payment posted
    // before the move, settled, and a its acceptance.
    let rb = sync(&mut b, &tls).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(dev(&b), 30);
    let credit = b.history().unwrap().pop().unwrap();
    assert_eq!(credit.settlement, Some(dsm_wallet::LineSettlement::Settled));
    let ra = sync(&mut a, &tls).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    // A plain-HTTP registry reaches nobody now (a fresh agent: new connections).
    assert!(matches!(
        n.set(n.lines(false, None)).put_object(b"after"),
        Err(ReplicationError::NotEnoughReplicas { got: 0, want: 3 })
    ));
}

#[test]
fn a_tls_handshake_that_never_comes_is_cut_at_the_header_timeout() {
    let n = Nodes::new(1);
    let listener =
        n.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let addr = listener.local_addr().unwrap();
    n.rt.spawn(dsm_node::serve_tls(
        listener,
        n.nodes[0].clone(),
        dsm_node::Timeouts {
            header: Duration::from_millis(300),
            request: Duration::from_secs(30),
        },
        n.tls.clone(),
    ));
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 16];
    // The node closes the connection (end of stream), it does not wait for us.
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

/// Sends a TLS ClientHello to `addr` from a socket bound to `from`, and returns the first
/// byte the node answers (0x16, a handshake record) or `None` when it closes at once.
fn first_answer_byte(
    rt: &tokio::runtime::Runtime,
    from: &str,
    addr: std::net::SocketAddr,
) -> Option<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let mut hello = Vec::new();
    rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
        .unwrap()
        .write_tls(&mut hello)
        .unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        // The node may already have closed: a failed write is a refusal too.
        if s.write_all(&hello).await.is_err() {
            return None;
        }
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await {
            Ok(Ok(1)) => Some(b[0]),
            _ => None,
        }
    })
}

#[test]
fn tls_handshakes_are_rationed_per_client_before_they_start() {
    let n = Nodes::new(1);
    let store = EmbeddedStore::open(&n.dir.path().join("rationed.redb")).unwrap();
    let limits = dsm_node::ration::RationLimits {
        requests_per_second: 1,
        burst: 3,
        ..dsm_node::ration::RationLimits::default()
    };
    let node = Node::with_limits(
        store,
        Quotas::default(),
        limits,
        dsm_node::ration::StoreBudget::unlimited(),
    );
    let listener =
        n.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let addr = listener.local_addr().unwrap();
    n.rt.spawn(dsm_node::serve_tls(
        listener,
        node.clone(),
        dsm_node::Timeouts::default(),
        n.tls.clone(),
    ));
    // One client's burst of handshakes goes through (each ClientHello is answered)…
    for i in 0..3 {
        assert_eq!(
            first_answer_byte(&n.rt, "127.0.0.1", addr),
            Some(0x16),
            "handshake {i}"
        );
    }
    // …then its connections close before the node does any work for them…
    let (rate_before, _) = node.rationing().refused();
    assert_eq!(first_answer_byte(&n.rt, "127.0.0.1", addr), None);
    assert_eq!(node.rationing().refused().0, rate_before + 1);
    // …while another client's handshake still starts (Linux routes all of 127/8 to
    // loopback).
    assert_eq!(first_answer_byte(&n.rt, "127.0.0.2", addr), Some(0x16));
}

#[test]
fn registry_lines_are_read_strictly() {
    let pin = "ab".repeat(32);
    let upper = NodeAddress::parse(&format!("HTTPS://x:1/#spki-sha256={pin}")).unwrap();
    assert_eq!(upper.to_string(), format!("https://x:1#spki-sha256={pin}"));
    let ok = NodeAddress::parse(&format!("https://Node.example:7600/#spki-sha256={pin}")).unwrap();
    assert_eq!(
        ok.to_string(),
        format!("https://Node.example:7600#spki-sha256={pin}")
    );
    assert_eq!(ok.node_id(), "node.example:7600");
    assert_eq!(ok.base_url(), "https://Node.example:7600");
    let plain = NodeAddress::parse("http://127.0.0.1:7600").unwrap();
    assert!(plain.pins.is_empty());
    assert_eq!(plain.to_string(), "http://127.0.0.1:7600");
    for (line, error) in [
        (
            format!("http://x:1#spki-sha256={pin}"),
            "a key pin needs https:// (plain HTTP has no key to pin)",
        ),
        (
            "https://x:1#spki-sha256=abcd".to_string(),
            "a key pin is 64 hex digits",
        ),
        (
            format!("https://x:1#pin={pin}"),
            "the only fragment a node URL may carry is #spki-sha256=HEX",
        ),
        (
            "ftp://x:1".to_string(),
            "\"ftp://x:1\" is not a node URL; expected http://HOST:PORT or https://HOST:PORT (what `dsm node serve` prints)",
        ),
        (
            "https://".to_string(),
            "is not a node URL; expected http://HOST:PORT or https://HOST:PORT",
        ),
        (
            "https://user@x:1".to_string(),
            "is not a node URL; expected http://HOST:PORT or https://HOST:PORT",
        ),
    ] {
        let e = NodeAddress::parse(&line).unwrap_err();
        assert!(e.contains(error), "{line}: {e}");
    }
    // A line the parser refuses still trusts no key: a node set built from a registry
    // with a damaged pin speaks to nobody over TLS.
    let n = Nodes::new(1);
    let damaged = format!("https://{}#spki-sha256=zz", n.addrs[0]);
    let e = health_error(&damaged);
    assert!(e.contains("a key pin is 64 hex digits"), "{e}");
}

#[test]
fn the_key_exchange_is_the_post_quantum_hybrid() {
    let n = Nodes::new(1);
    let config = dsm_wallet::tls::pinned_config(&[n.pin]).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = std::net::TcpStream::connect(n.addrs[0]).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    assert_eq!(
        conn.negotiated_key_exchange_group().map(|g| g.name()),
        Some(rustls::NamedGroup::X25519MLKEM768)
    );
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
}
