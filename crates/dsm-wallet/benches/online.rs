//! What online transfers cost (PROTOCOL.md §16), through the library with wallets kept open
//! (no process start, no key unsealing), against 6 embedded storage nodes on loopback
//! (N = 6, K = 3, W = 4; rationing off, so the figures are the protocol's, not the
//! limits'). Run: `cargo bench -p dsm-wallet --bench online` (add `-- quick` for a short
//! run).
//!
//! 1. One online transfer end to end: `send_online`, the receiver's `sync` (verify, settle
//!    at the nodes, accept, answer), the sender's `sync` (stitch), and the HTTP requests
//!    each step makes (from the nodes' own request counters).
//! 2. A receiver's sync that collects 50 transfers waiting in its b0x (50 senders).
//! 3. Per b0x item: sealing and opening (ML-KEM-768 + XChaCha20-Poly1305), and the
//!    recipient's access signature for one listing, made and checked, per signature suite.

use dsm_core::chain::Amount;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::slot::{Admission, B0xCursor, B0xOp, B0xRead, B0xScope};
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync};
use dsm_wallet::store::MemoryStore;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
#[allow(dead_code)]
#[path = "../tests/common/cluster.rs"]
mod cluster;
mod common;
use common::{per_op, KDF};
use std::time::{Duration, Instant};

fn wallet(funds: u128) -> Wallet {
    let mut w =
        Wallet::create(Box::new(MemoryStore::new()), SuiteId::MlDsa65, b"p", KDF).expect("wallet");
    if funds > 0 {
        w.dev_faucet(DEFAULT_TOKEN, Amount(funds)).expect("faucet");
    }
    w
}

/// Requests the nodes have answered so far, all nodes together (their Prometheus counter).
fn requests(c: &cluster::Cluster) -> u64 {
    c.requests_by_route().values().sum()
}

/// What happened between two [`cluster::Cluster::requests_by_route`] readings, route by route.
fn delta(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> String {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{d} {k}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let c = cluster::Cluster::new();
    let nodes: NodeSet = c.nodes();
    let rounds = if quick { 5 } else { 30 };

    // 1. One transfer end to end, step by step, over HTTP and over HTTPS (pinned keys,
    //    X25519MLKEM768; each node set keeps its connections open).
    transfer_rounds(&c, rounds, "HTTP");
    transfer_rounds(&cluster::Cluster::with_tls(6), rounds, "HTTPS");
    many_and_items(&c, &nodes, quick);
}

/// Section 1 against cluster `c`.
fn transfer_rounds(c: &cluster::Cluster, rounds: usize, over: &str) {
    let t = token(DEFAULT_TOKEN);
    let nodes: NodeSet = c.nodes();
    let (mut a, mut b) = (wallet(1_000_000), wallet(0));
    // One round first, so both relationships and caches are warm.
    send_online(&mut a, &nodes, &b.device_id(), t, Amount(1)).expect("send");
    sync(&mut b, &nodes).expect("sync b");
    sync(&mut a, &nodes).expect("sync a");
    // Where one round's requests go.
    let m0 = c.requests_by_route();
    send_online(&mut a, &nodes, &b.device_id(), t, Amount(1)).expect("send");
    let m1 = c.requests_by_route();
    sync(&mut b, &nodes).expect("sync b");
    let m2 = c.requests_by_route();
    sync(&mut a, &nodes).expect("sync a");
    let m3 = c.requests_by_route();
    println!("requests of one round, by route (all nodes together):");
    println!("  send_online: {}", delta(&m0, &m1));
    println!("  receiver sync: {}", delta(&m1, &m2));
    println!("  sender sync: {}", delta(&m2, &m3));
    let (mut send, mut recv, mut stitch) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut r_send, mut r_recv, mut r_stitch) = (0u64, 0u64, 0u64);
    for _ in 0..rounds {
        let r0 = requests(c);
        let t0 = Instant::now();
        send_online(&mut a, &nodes, &b.device_id(), t, Amount(1)).expect("send");
        send += t0.elapsed();
        let r1 = requests(c);
        let t1 = Instant::now();
        let rb = sync(&mut b, &nodes).expect("sync b");
        recv += t1.elapsed();
        assert_eq!(rb.received.len(), 1, "{rb:?}");
        let r2 = requests(c);
        let t2 = Instant::now();
        let ra = sync(&mut a, &nodes).expect("sync a");
        stitch += t2.elapsed();
        assert_eq!(ra.stitched.len(), 1, "{ra:?}");
        let r3 = requests(c);
        r_send += r1 - r0;
        r_recv += r2 - r1;
        r_stitch += r3 - r2;
    }
    let n = rounds as u32;
    let per = |x: u64| x as f64 / f64::from(n);
    println!("online transfer, library, 6 loopback nodes over {over}, ML-DSA-65, {rounds} rounds:");
    println!(
        "  send_online            {:>9}  {:>5.1} requests",
        ms(send / n),
        per(r_send)
    );
    println!(
        "  receiver sync          {:>9}  {:>5.1} requests",
        ms(recv / n),
        per(r_recv)
    );
    println!(
        "  sender sync (stitch)   {:>9}  {:>5.1} requests",
        ms(stitch / n),
        per(r_stitch)
    );
    println!(
        "  whole round            {:>9}  {:>5.1} requests",
        ms((send + recv + stitch) / n),
        per(r_send + r_recv + r_stitch)
    );
}

/// Sections 2 and 3.
fn many_and_items(c: &cluster::Cluster, nodes: &NodeSet, quick: bool) {
    let t = token(DEFAULT_TOKEN);
    let b = wallet(0);
    // 2. A receiver collecting 50 waiting transfers in one sync.
    let senders = if quick { 10 } else { 50 };
    let mut many: Vec<Wallet> = (0..senders).map(|_| wallet(100)).collect();
    let mut r = wallet(0);
    for s in &mut many {
        send_online(s, nodes, &r.device_id(), t, Amount(1)).expect("send");
    }
    let r0 = requests(c);
    let t0 = Instant::now();
    let rr = sync(&mut r, nodes).expect("sync");
    let took = t0.elapsed();
    assert_eq!(rr.received.len(), senders, "{rr:?}");
    println!(
        "receiver sync collecting {senders} waiting transfers: {} ({} per transfer), {} requests",
        ms(took),
        ms(took / senders as u32),
        requests(c) - r0
    );

    // 2b. As many transfers, queued (PROTOCOL.md §7.7): `MAX_QUEUE` from each sender, each
    // built on the one before, so the receiver's sync takes some only on a later pass.
    let per = dsm_core::receipt::MAX_QUEUE;
    let queuers = senders.div_ceil(per);
    let mut qs: Vec<Wallet> = (0..queuers).map(|_| wallet(100)).collect();
    let mut q = wallet(0);
    for s in &mut qs {
        for _ in 0..per {
            send_online(s, nodes, &q.device_id(), t, Amount(1)).expect("send");
        }
    }
    let r0 = requests(c);
    let t0 = Instant::now();
    let rq = sync(&mut q, nodes).expect("sync");
    let took = t0.elapsed();
    assert_eq!(rq.received.len(), queuers * per, "{rq:?}");
    println!(
        "receiver sync collecting {} transfers queued by {queuers} senders ({per} each): {} ({} per transfer), {} requests",
        queuers * per,
        ms(took),
        ms(took / (queuers * per) as u32),
        requests(c) - r0
    );

    // 3. Per item: seal and open; the recipient's access signature per listing.
    let (kem_pk, kem_sk) = b.kem_keys();
    let recipient = b.device_id();
    let item = vec![7u8; 8 * 1024];
    let n_items = if quick { 50 } else { 500 };
    let mut sealed = Vec::new();
    let seal = per_op(n_items, || {
        sealed = dsm_protocol::mailbox::seal_item(&kem_pk, &recipient, &item, &[1; 32], [2; 24])
            .expect("seal");
    });
    let parsed =
        <dsm_protocol::mailbox::SealedItem as dsm_core::codec::Canonical>::from_bytes(&sealed)
            .expect("sealed");
    let open = per_op(n_items, || {
        dsm_protocol::mailbox::open_item(&kem_sk, &recipient, &parsed).expect("open");
    });
    println!(
        "b0x item of 8 KiB: seal {:.0} µs, open {:.0} µs",
        seal.as_secs_f64() * 1e6,
        open.as_secs_f64() * 1e6
    );
    for suite in SuiteId::ALL {
        let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([3; 32]));
        let genesis = dsm_core::identity::GenesisDigest(dsm_core::hash::Digest([4; 32]));
        let owner = dsm_core::slot::device_slots_owner(&dsm_core::identity::DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        });
        let reps = if quick || suite != SuiteId::MlDsa65 {
            10
        } else {
            200
        };
        // The introduction address and 50 relationship addresses in one read.
        let mut entries = vec![B0xCursor {
            blind: None,
            cursor: 5,
        }];
        entries.extend((1..=50u8).map(|i| B0xCursor {
            blind: Some(dsm_core::hash::Digest([i; 32])),
            cursor: 0,
        }));
        let mut access = None;
        let sign = per_op(reps, || {
            access = Some(
                B0xRead::sign(
                    Admission::DeviceSlots {
                        genesis_blind: dsm_core::slot::genesis_blind(&genesis),
                    },
                    &key,
                    "127.0.0.1:7800",
                    B0xOp::List,
                    B0xScope {
                        owner,
                        entries: entries.clone(),
                    },
                    &[1; 32],
                )
                .expect("sign"),
            );
        });
        let access = access.expect("made");
        let check = per_op(reps, || {
            access.check("127.0.0.1:7800", B0xOp::List).expect("check");
        });
        println!(
            "b0x read of 51 addresses, {}: sign {} (wallet), check {} (node), {} bytes",
            suite.name(),
            ms(sign),
            ms(check),
            dsm_core::codec::Canonical::to_bytes(&access).len()
        );
    }
}
