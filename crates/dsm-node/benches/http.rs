//! Node throughput on loopback with the embedded store: small-object GET, object PUT,
//! candidate-list appends, and the two authenticated operations — an owned-slot write (the
//! node checks the admission and an ML-DSA-65 signature, then fsyncs) and a signed b0x
//! listing — from keep-alive HTTP/1.1 clients on threads of the same machine (so clients
//! and server share the 2 cores; the writes are signed before the clock starts). Run: `cargo bench -p dsm-node --bench http`;
//! with `DSM_BENCH_POSTGRES="host=… user=… dbname=…"` the same load also runs against the
//! PostgreSQL backend (its tables are dropped and recreated first).

use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceIdentity, GenesisDigest};
use dsm_core::slot::{
    body_digest, Admission, B0xCursor, B0xOp, B0xRead, B0xScope, OwnedPut, SlotEntry, SlotWrite,
};
use dsm_node::api::{object_address, Node};
use dsm_node::store::{EmbeddedStore, Quotas};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `op` from `clients` threads for `secs` seconds, or until it returns `None` (its
/// supply of prepared requests ran out).
fn run(
    name: &str,
    clients: usize,
    secs: f64,
    op: impl Fn(&ureq::Agent, u64) -> Option<u16> + Sync,
) {
    let done = AtomicU64::new(0);
    let bad = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let (done, bad, op) = (&done, &bad, &op);
            s.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut i = c as u64 * 1_000_000_000;
                while start.elapsed().as_secs_f64() < secs {
                    let Some(status) = op(&agent, i) else {
                        break;
                    };
                    if !(200..300).contains(&status) {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
    });
    let n = done.load(Ordering::Relaxed);
    println!(
        "{name:<28} {:>9.0} req/s  ({n} requests, {} clients, {} non-2xx)",
        n as f64 / start.elapsed().as_secs_f64(),
        clients,
        bad.load(Ordering::Relaxed)
    );
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Serves `node` on a free loopback port; returns its base URL.
fn spawn<S: dsm_node::store::NodeStore>(
    rt: &tokio::runtime::Runtime,
    node: std::sync::Arc<Node<S>>,
) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(dsm_node::serve(
        listener,
        node,
        dsm_node::Timeouts::default(),
    ));
    std::thread::sleep(Duration::from_millis(100));
    format!("http://{addr}")
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let secs = if quick { 1.0 } else { 5.0 };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let embedded = |name: &str| EmbeddedStore::open(&dir.path().join(name)).unwrap();
    let url = spawn(&rt, Node::new(embedded("node.redb"), Quotas::default()));
    println!("dsm-node, embedded store, 2 server worker threads, rationing off");
    load(&url, secs);
    // The same with rationing and the store budget on: every request goes through the
    // client's buckets and every write through the budget (limits high enough that this
    // one client is never refused, so what is measured is their cost).
    let limits = dsm_node::ration::RationLimits {
        requests_per_second: 1_000_000,
        burst: 1_000_000,
        write_bytes_per_minute: 1 << 40,
        owner_write_bytes_per_minute: 1 << 40,
        trusted_proxies: Vec::new(),
    };
    let budget = dsm_node::ration::StoreBudget::default();
    let url = spawn(
        &rt,
        Node::with_limits(
            embedded("node-rationed.redb"),
            Quotas::default(),
            limits.clone(),
            budget,
        ),
    );
    println!("dsm-node, embedded store, 2 server worker threads, rationing and store budget on");
    println!(
        "  (limits: {limits}; store budget {} MiB, {} MiB of it for owned writes)",
        budget.max_bytes >> 20,
        budget.owned_headroom >> 20
    );
    load(&url, secs);
    authenticated(&url, secs);
    if let Ok(url) = std::env::var("DSM_BENCH_POSTGRES") {
        let store = dsm_node::pg::PostgresStore::connect(&url, 4).unwrap();
        store.reset().unwrap();
        let url = spawn(&rt, Node::new(store, Quotas::default()));
        println!(
            "dsm-node, PostgreSQL store (4 connections, same machine), 2 server worker threads"
        );
        load(&url, secs);
    }
    println!(
        "memory of this process (node + load clients): peak RSS {} MiB, now {} MiB",
        rss_kib("VmHWM:") / 1024,
        rss_kib("VmRSS:") / 1024
    );
}

/// The two authenticated operations: owned-slot writes (one device, a fresh slot each,
/// signed beforehand) and a b0x listing with its signed access (the same signed request
/// repeated: the node verifies it every time).
fn authenticated(base: &str, secs: f64) {
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([3; 32]));
    let genesis = GenesisDigest(Digest([4; 32]));
    // A device's own slots, as wallets write them: owned by its slot owner under a
    // device-slots admission (PROTOCOL.md §15.2).
    let owner = dsm_core::slot::device_slots_owner(&DeviceIdentity {
        genesis,
        public_key: key.public_key().clone(),
    });
    let writes: Vec<(String, Vec<u8>)> = (0..(secs as usize * 4_000))
        .map(|i| {
            let mut slot = [0u8; 32];
            slot[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let body = format!("an anchor's bytes, number {i}").into_bytes();
            let write = SlotWrite::sign(
                Admission::DeviceSlots {
                    genesis_blind: dsm_core::slot::genesis_blind(&genesis),
                },
                &key,
                vec![SlotEntry {
                    owner,
                    key: Digest(slot),
                    body: body_digest(&body),
                }],
                &[1; 32],
            )
            .unwrap();
            (
                format!("{base}/v1/owned/{}/{}", hex(&owner.0), hex(&slot)),
                OwnedPut { write, body }.to_bytes(),
            )
        })
        .collect();
    let next = AtomicUsize::new(0);
    run("PUT owned slot (signed, fsync)", 4, secs, |a, _| {
        let (url, body) = writes.get(next.fetch_add(1, Ordering::Relaxed))?;
        Some(a.put(url).send(&body[..]).unwrap().status().as_u16())
    });
    // A device's listing of its introduction address and 50 relationship addresses: one
    // request and one signature however many addresses (PROTOCOL.md §16.1).
    let node = base.trim_start_matches("http://");
    let mut entries = vec![B0xCursor {
        blind: None,
        cursor: 0,
    }];
    entries.extend((1..=50u8).map(|i| B0xCursor {
        blind: Some(dsm_core::hash::Digest([i; 32])),
        cursor: 0,
    }));
    let read = B0xRead::sign(
        Admission::DeviceSlots {
            genesis_blind: dsm_core::slot::genesis_blind(&genesis),
        },
        &key,
        node,
        B0xOp::List,
        B0xScope { owner, entries },
        &[1; 32],
    )
    .unwrap()
    .to_bytes();
    let url = format!("{base}/v1/b0x-list");
    run(
        "POST b0x listing of 51 addresses (signed)",
        4,
        secs,
        |a, _| {
            let mut r = a.post(&url).send(&read[..]).unwrap();
            let _ = r.body_mut().read_to_vec();
            Some(r.status().as_u16())
        },
    );
}

fn load(base: &str, secs: f64) {
    // 1,000 small objects to read.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let objects: Vec<String> = (0..1000u32)
        .map(|i| {
            let body = format!("object number {i}, about a hundred bytes of payload .......................................").into_bytes();
            let url = format!("{base}/v1/objects/{}", hex(&object_address(&body)));
            agent.put(&url).send(&body[..]).unwrap();
            url
        })
        .collect();
    run("GET small object", 4, secs, |a, i| {
        let mut r = a.get(&objects[(i % 1000) as usize]).call().unwrap();
        let _ = r.body_mut().read_to_vec();
        Some(r.status().as_u16())
    });
    run("PUT new object (fsync)", 4, secs, |a, i| {
        let body = format!(
            "fresh object {i} ............................................................"
        )
        .into_bytes();
        Some(
            a.put(format!("{base}/v1/objects/{}", hex(&object_address(&body))))
                .send(&body[..])
                .unwrap()
                .status()
                .as_u16(),
        )
    });
    run("POST candidate-list entry (fsync)", 4, secs, |a, i| {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&i.to_be_bytes());
        Some(
            a.post(format!("{base}/v1/lists/{}/{}", hex(&d), hex(&[7; 32])))
                .send(&b"an emission step's bytes"[..])
                .unwrap()
                .status()
                .as_u16(),
        )
    });
}
