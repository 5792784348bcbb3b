//! Client-side replication against a real cluster of 6 storage nodes on loopback: one node
//! down, one serving corrupted objects, one lying that slots and lists are empty. Reads are
//! still correct with K = 3, the misbehaving nodes are reported, and two writers racing in
//! one candidate list settle exactly one entry at the quorum W = 4.

mod common;

use dsm_core::crypto::SuiteId;
use dsm_core::hash::object_address;
use dsm_core::identity::{ceremony_id, device_contributor, node_contributor};
use dsm_node::api::Node;
use dsm_node::store::{
    Appended, EmbeddedStore, Id, NodeStore, PutObject, PutSlot, Quotas, StoreError,
};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::nodes::{Candidacy, ListHead, NodeSet, Replication, ReplicationError};
use dsm_wallet::store::MemoryStore;
use dsm_wallet::wallet::EntropyContributor;
use dsm_wallet::{Wallet, WalletError};
use std::time::Duration;

/// Serves objects with one byte flipped.
struct Corrupting(EmbeddedStore);
/// Says every slot and list is empty (but accepts writes), and reveals genesis entropy that
/// does not open its commitment.
struct SlotLiar(EmbeddedStore);
/// A store that hangs: every read of an object takes 3 s (a database that stopped
/// answering without closing its connections).
struct Stalled(EmbeddedStore);

macro_rules! delegate {
    ($t:ty, $($override:item)*) => {
        impl NodeStore for $t {
            $($override)*
            fn put_object(&self, a: &Id, b: &[u8]) -> Result<PutObject, StoreError> { self.0.put_object(a, b) }
            fn put_slot(&self, d: &Id, p: &Id, b: &[u8]) -> Result<PutSlot, StoreError> { self.0.put_slot(d, p, b) }
            fn list_append(&self, t: &Id, k: &Id, b: &[u8]) -> Result<Appended, StoreError> { self.0.list_append(t, k, b) }
            fn b0x_append(&self, r: &Id, b: &[u8], p: &[u8], q: &Quotas) -> Result<u64, StoreError> { self.0.b0x_append(r, b, p, q) }
            fn owner_known(&self, o: &Id) -> Result<bool, StoreError> { self.0.owner_known(o) }
            fn b0x_list(&self, r: &Id, a: u64, l: usize, m: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> { self.0.b0x_list(r, a, l, m) }
            fn b0x_ack(&self, r: &Id, u: u64) -> Result<u64, StoreError> { self.0.b0x_ack(r, u) }
            fn put_evidence(&self, d: &Id, b: &[u8]) -> Result<bool, StoreError> { self.0.put_evidence(d, b) }
            fn list_evidence(&self, a: u64, l: usize) -> Result<Vec<(u64, Id, Vec<u8>)>, StoreError> { self.0.list_evidence(a, l) }
            fn entropy_secret(&self, c: &Id, f: &[u8; 32]) -> Result<[u8; 32], StoreError> { self.0.entropy_secret(c, f) }
            fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> { self.0.counts() }
            fn stored_bytes(&self) -> Result<u64, StoreError> { self.0.stored_bytes() }
        }
    };
}

delegate! { Corrupting,
    fn get_object(&self, a: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get_object(a)?.map(|mut b| {
            b[0] ^= 1;
            b
        }))
    }
    fn get_slot(&self, d: &Id, p: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_slot(d, p)
    }
    fn list_read(&self, t: &Id, k: &Id, a: u64, l: usize, m: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.0.list_read(t, k, a, l, m)
    }
    fn entropy_reveal(&self, c: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        self.0.entropy_reveal(c)
    }
}

delegate! { Stalled,
    fn get_object(&self, a: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        std::thread::sleep(Duration::from_secs(3));
        self.0.get_object(a)
    }
    fn get_slot(&self, d: &Id, p: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_slot(d, p)
    }
    fn list_read(&self, t: &Id, k: &Id, a: u64, l: usize, m: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.0.list_read(t, k, a, l, m)
    }
    fn entropy_reveal(&self, c: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        self.0.entropy_reveal(c)
    }
}

/// `/health` runs a real lookup with a deadline: a store that hangs makes the node
/// unhealthy within about 2 s, not never (PROTOCOL.md §15).
#[test]
fn health_gives_up_on_a_store_that_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let url = serve_store(
        &rt,
        Stalled(EmbeddedStore::open(&dir.path().join("n.redb")).unwrap()),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(format!("{url}/health")).call().unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 503, "{body}");
    // The deadline's own answer (the store would have answered, late, with a lookup).
    assert!(body.contains("did not answer within 2 s"), "{body}");
}

delegate! { SlotLiar,
    fn get_object(&self, a: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_object(a)
    }
    fn get_slot(&self, _: &Id, _: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn list_read(&self, _: &Id, _: &Id, _: u64, _: usize, _: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        Ok(Vec::new())
    }
    // Reveals a secret other than the one it committed to.
    fn entropy_reveal(&self, c: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self.0.entropy_reveal(c)?.map(|mut s| {
            s[0] ^= 1;
            s
        }))
    }
}

/// Serves every candidate list as if `J` one-byte junk entries (seq 1..=J) had been
/// appended ahead of what it holds, where `J` is the shared counter: a node flooded that
/// far, without storing the flood (the bound on what a reader scans is the subject).
struct JunkAhead(EmbeddedStore, std::sync::Arc<std::sync::atomic::AtomicU64>);

delegate! { JunkAhead,
    fn get_object(&self, a: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_object(a)
    }
    fn get_slot(&self, d: &Id, p: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_slot(d, p)
    }
    fn list_read(&self, t: &Id, k: &Id, a: u64, l: usize, m: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let junk = self.1.load(std::sync::atomic::Ordering::SeqCst);
        let mut out: Vec<(u64, Vec<u8>)> = (a + 1..=junk).take(l).map(|seq| (seq, b"j".to_vec())).collect();
        let rest = l - out.len();
        if rest > 0 {
            for (seq, b) in self.0.list_read(t, k, a.saturating_sub(junk), rest, m)? {
                out.push((seq + junk, b));
            }
        }
        Ok(out)
    }
    fn entropy_reveal(&self, c: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        self.0.entropy_reveal(c)
    }
}

struct Cluster {
    urls: Vec<String>,
    down: String,
    corrupt: String,
    liar: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A runtime for test nodes.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `store` on a free loopback port of `rt`; returns its base URL.
fn serve_store<S: NodeStore + 'static>(rt: &tokio::runtime::Runtime, store: S) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(rt.spawn(dsm_node::serve(
        listener,
        Node::new(store, Quotas::default()),
        dsm_node::Timeouts::default(),
    )));
    url
}

fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut urls = Vec::new();
    let open = |i: usize| EmbeddedStore::open(&dir.path().join(format!("n{i}.redb"))).unwrap();
    let serve = |i: usize, kind: u8| match kind {
        0 => serve_store(&rt, open(i)),
        1 => serve_store(&rt, Corrupting(open(i))),
        _ => serve_store(&rt, SlotLiar(open(i))),
    };
    for i in 0..3 {
        urls.push(serve(i, 0));
    }
    let corrupt = serve(3, 1);
    let liar = serve(4, 2);
    // A node that is down: a port nobody listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    urls.extend([corrupt.clone(), liar.clone(), down.clone()]);
    Cluster {
        urls,
        down,
        corrupt,
        liar,
        _rt: rt,
        _dir: dir,
    }
}

fn nodes(c: &Cluster) -> NodeSet {
    NodeSet::new(
        c.urls.clone(),
        Replication::default(),
        Duration::from_secs(5),
    )
}

#[test]
fn reads_survive_a_down_a_corrupt_and_a_lying_node() {
    let c = cluster();
    let set = nodes(&c);
    let bytes = b"a receipt worth replicating".to_vec();
    let (addr, stored, _) = set.put_object(&bytes).unwrap();
    assert_eq!(addr, object_address(&bytes));
    assert_eq!(stored, 5, "every node but the one that is down stored it");
    let (got, faults) = set.get_object(&addr).unwrap();
    assert_eq!(got, bytes);
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].node, c.corrupt);
    assert!(faults[0].what.contains("do not hash"));
    assert!(
        !faults.iter().any(|f| f.node == c.down),
        "a node that is down is not a liar"
    );
    // An address nobody holds: not enough replicas, not a fake answer.
    assert_eq!(
        format!(
            "{:?}",
            set.get_object(&object_address(b"never stored"))
                .unwrap_err()
        ),
        "NotEnoughReplicas { got: 0, want: 3 }"
    );
}

/// A sealed object (PROTOCOL.md §2, "Sealed objects"; a lineage object, a published
/// document) whose locator a stranger who learned its address filled with junk first — junk
/// bytes, the object in clear, another object sealed, the object sealed under another
/// address — among a corrupting, a lying and a down node: it is stored at K, read back
/// whole, and is not a plain object at its address; an address nobody stored finds nothing.
#[test]
fn a_sealed_object_is_found_past_junk_at_its_locator() {
    let c = cluster();
    let set = nodes(&c);
    let object = b"a lineage object".to_vec();
    let addr = object_address(&object);
    let (topic, key) = dsm_core::seal::object_locator(&addr);
    let other = object_address(b"another address");
    for junk in [
        b"junk".to_vec(),
        object.clone(),
        dsm_core::seal::seal_object(b"another object"),
        dsm_core::seal::seal(dsm_core::tags::Tag::SealedObject, other.as_bytes(), &object),
    ] {
        junk_everywhere(&c, &topic.0, &key.0, &junk);
    }
    let (stored_at, stored, _) = set.put_sealed_object(&object).unwrap();
    assert_eq!(stored_at, addr);
    assert_eq!(stored, 5, "every node but the one that is down holds it");
    let (found, _) = set.find_sealed_object(&addr).unwrap();
    assert_eq!(found, Some(object));
    assert!(
        set.get_object(&addr).is_err(),
        "nothing in clear at its address"
    );
    let (none, _) = set
        .find_sealed_object(&object_address(b"never stored"))
        .unwrap();
    assert_eq!(none, None);
}

/// What the tests below accept as a valid entry (a real reader decodes and verifies).
fn is_step(b: &[u8]) -> bool {
    b.starts_with(b"step ")
}

/// Appends `bytes` at every node of `c`, as a stranger can.
fn junk_everywhere(c: &Cluster, topic: &[u8; 32], key: &[u8; 32], bytes: &[u8]) {
    common::junk_in_lists(&c.urls[..5], topic, key, bytes);
}

#[test]
fn candidate_lists_settle_at_w_past_junk_and_a_lying_node() {
    let c = cluster();
    let set = nodes(&c);
    assert_eq!(Replication::default().w(), 4);
    let (topic, key) = ([1u8; 32], [2u8; 32]);
    // A stranger got there first, everywhere, with junk of every shape.
    junk_everywhere(&c, &topic, &key, b"junk");
    junk_everywhere(&c, &topic, &key, b"not a step either");
    let report = set
        .propose_candidate(&topic, &key, b"step A", &is_step)
        .unwrap();
    assert_eq!(
        report.outcome,
        Candidacy::Settled {
            winner: b"step A".to_vec(),
            firsts: 4
        },
        "first past the junk at the three honest nodes and the corrupting one: {report:?}"
    );
    let head = |url: &str| {
        report
            .heads
            .iter()
            .find(|(n, _)| n == url)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        head(&c.liar),
        ListHead::NoneValid,
        "the liar says the list is empty"
    );
    assert_eq!(head(&c.down), ListHead::Unreachable);
    // A second valid entry comes after the first at every node: it never settles, and
    // the writer stops at the first node where it is not first.
    let second = set
        .propose_candidate(&topic, &key, b"step B", &is_step)
        .unwrap();
    assert_eq!(
        second.outcome,
        Candidacy::Settled {
            winner: b"step A".to_vec(),
            firsts: 4
        }
    );
    // More junk after the fact changes nothing either.
    junk_everywhere(&c, &topic, &key, b"late junk");
    assert_eq!(
        set.read_candidates(&topic, &key, &is_step).unwrap().outcome,
        second.outcome
    );
}

/// A writer that stopped at two nodes (it crashed) is completed by the next reader, which
/// copies the leading entry to the nodes that lack one.
#[test]
fn a_reader_completes_a_half_written_candidate() {
    let c = cluster();
    let set = nodes(&c);
    let (topic, key) = ([3u8; 32], [4u8; 32]);
    common::junk_in_lists(&c.urls[..2], &topic, &key, b"step half");
    junk_everywhere(&c, &topic, &key, b"junk");
    assert_eq!(
        set.read_candidates(&topic, &key, &is_step).unwrap().outcome,
        Candidacy::Open {
            leading: Some((b"step half".to_vec(), 2))
        }
    );
    assert_eq!(
        set.settle_candidates(&topic, &key, &is_step)
            .unwrap()
            .outcome,
        Candidacy::Settled {
            winner: b"step half".to_vec(),
            firsts: 4
        }
    );
}

#[test]
fn split_brain_race_settles_exactly_one() {
    let c = cluster();
    for round in 0..8u8 {
        let (topic, key) = ([round; 32], [77u8; 32]);
        let (a, b) = std::thread::scope(|s| {
            let ha = s.spawn(|| {
                nodes(&c)
                    .propose_candidate(&topic, &key, b"step A", &is_step)
                    .unwrap()
            });
            let hb = s.spawn(|| {
                nodes(&c)
                    .propose_candidate(&topic, &key, b"step B", &is_step)
                    .unwrap()
            });
            (ha.join().unwrap(), hb.join().unwrap())
        });
        // Both writers visit the nodes in one order and stop where they are not first, so
        // one of them is first everywhere it wrote: the final read settles it.
        let last = nodes(&c).read_candidates(&topic, &key, &is_step).unwrap();
        let Candidacy::Settled { winner, .. } = &last.outcome else {
            panic!("round {round}: no entry settled: {last:?}")
        };
        for r in [&a, &b] {
            if let Candidacy::Settled { winner: w, .. } = &r.outcome {
                assert_eq!(w, winner, "round {round}: two winners: {a:?} {b:?}");
            }
        }
    }
}

#[test]
fn placement_is_deterministic_and_spread() {
    let urls: Vec<String> = (0..10)
        .map(|i| format!("http://node{i}.example:7600"))
        .collect();
    let set = NodeSet::new(urls.clone(), Replication::default(), Duration::from_secs(1));
    let mut reversed = urls.clone();
    reversed.reverse();
    let again = NodeSet::new(reversed, Replication::default(), Duration::from_secs(1));
    let mut counts = std::collections::HashMap::new();
    for k in 0..200u8 {
        let key = *object_address(&[k]).as_bytes();
        let p = set.placement(&key).unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(
            p,
            again.placement(&key).unwrap(),
            "independent of registry order"
        );
        for n in p {
            *counts.entry(n.to_string()).or_insert(0) += 1;
        }
    }
    assert_eq!(counts.len(), 10, "every node holds some keys");
    assert!(counts.values().all(|c| *c > 60 && *c < 180), "{counts:?}");
    let small = NodeSet::new(
        urls[..5].to_vec(),
        Replication::default(),
        Duration::from_secs(1),
    );
    assert!(
        matches!(
            small.placement(&[0; 32]),
            Err(ReplicationError::RegistryTooSmall { have: 5, need: 6 })
        ),
        "fewer nodes than N is an error, not a silent downgrade"
    );
}

fn create_with(set: &NodeSet) -> (Result<Wallet, WalletError>, MemoryStore) {
    let store = MemoryStore::new();
    let contributors = set.genesis_contributors();
    let refs: Vec<&dyn EntropyContributor> = contributors
        .iter()
        .map(|c| c as &dyn EntropyContributor)
        .collect();
    let w = Wallet::create_with_contributors(
        Box::new(store.clone()),
        SuiteId::MlDsa65,
        b"pass",
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        &refs,
    );
    (w, store)
}

#[test]
fn genesis_takes_entropy_from_every_node_by_commit_then_reveal() {
    let c = cluster();
    let honest = c.urls[..3].to_vec();
    let set = NodeSet::new(
        honest.clone(),
        Replication::default(),
        Duration::from_secs(5),
    );
    let (w, _) = create_with(&set);
    let w = w.unwrap();
    let record = w.genesis_record().unwrap();
    assert_eq!(record.digest(), w.identity().genesis);
    assert_eq!(record.contributions.len(), 4, "the device and three nodes");
    let ceremony = ceremony_id(
        &record.founding_key,
        &record
            .contributions
            .iter()
            .find(|r| r.contributor == device_contributor())
            .unwrap()
            .commitment(),
    );
    for url in &honest {
        let reveal = record
            .contributions
            .iter()
            .find(|r| r.contributor == node_contributor(url))
            .unwrap();
        // What the node reveals to anyone under this ceremony id is what went in.
        let body = ureq::get(&format!("{url}/v1/entropy/{}", ceremony.to_hex()))
            .call()
            .unwrap()
            .into_body()
            .read_to_vec()
            .unwrap();
        assert_eq!(body, reveal.secret);
    }
    // Two wallets never share node secrets: each ceremony id is fresh.
    let (w2, _) = create_with(&set);
    let r2 = w2.unwrap().genesis_record().unwrap();
    for (a, b) in record.contributions.iter().zip(&r2.contributions) {
        assert_ne!(a.secret, b.secret);
    }
}

#[test]
fn genesis_fails_cleanly_when_a_node_lies_or_is_down() {
    let c = cluster();
    let with = |bad: &str| {
        let mut urls = c.urls[..2].to_vec();
        urls.push(bad.to_string());
        NodeSet::new(urls, Replication::default(), Duration::from_secs(5))
    };
    let (w, store) = create_with(&with(&c.liar));
    let e = w.err().unwrap().to_string();
    assert!(
        e.contains(&c.liar) && e.contains("does not match its commitment"),
        "{e}"
    );
    assert!(
        dsm_wallet::store::Store::get(&store, dsm_wallet::store::Table::Meta, b"identity")
            .unwrap()
            .is_none(),
        "nothing is stored"
    );
    let (w, _) = create_with(&with(&c.down));
    let e = w.err().unwrap().to_string();
    assert!(e.contains(&c.down) && e.contains("did not commit"), "{e}");
}

/// The bound on junk a reader skips per node (PROTOCOL.md §15.3: 16,384 entries, 64
/// listings): a valid entry behind 16,383 junk entries at every node is found and settles;
/// behind 16,384, every node counts as not answering and nothing settles — the stall the
/// nodes' rationing and budget bound.
#[test]
fn a_reader_skips_at_most_max_list_scan_entries_of_junk_per_node() {
    use dsm_wallet::nodes::MAX_LIST_SCAN_ENTRIES;
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let junk = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let urls: Vec<String> = (0..6)
        .map(|i| {
            let store = EmbeddedStore::open(&dir.path().join(format!("j{i}.redb"))).unwrap();
            serve_store(&rt, JunkAhead(store, junk.clone()))
        })
        .collect();
    let set = NodeSet::new(urls.clone(), Replication::default(), Duration::from_secs(5));
    let (topic, key) = ([7u8; 32], [8u8; 32]);
    common::junk_in_lists(&urls, &topic, &key, b"step A");
    let read = |ahead: usize| {
        junk.store(ahead as u64, std::sync::atomic::Ordering::SeqCst);
        set.read_candidates(&topic, &key, &is_step).unwrap()
    };
    assert_eq!(
        read(MAX_LIST_SCAN_ENTRIES - 1).outcome,
        Candidacy::Settled {
            winner: b"step A".to_vec(),
            firsts: 6
        }
    );
    let stalled = read(MAX_LIST_SCAN_ENTRIES);
    assert_eq!(stalled.outcome, Candidacy::Open { leading: None });
    assert!(
        stalled
            .heads
            .iter()
            .all(|(_, h)| *h == ListHead::Unreachable),
        "{:?}",
        stalled.heads
    );
}

/// Placement ranks node ids, not URLs (PROTOCOL.md §15.1): writing a node with another
/// scheme, in upper case, with its default port or a trailing slash places every key on the
/// same nodes, and a registry naming one node twice holds it once.
#[test]
fn placement_follows_the_node_id_not_the_url() {
    let plain: Vec<String> = (1..=8)
        .map(|i| format!("http://node{i}.example:7600"))
        .collect();
    let mut moved = plain.clone();
    moved[0] = "https://NODE1.example:7600/".into();
    moved[1] = "HTTP://node2.EXAMPLE:7600".into();
    let mut defaults: Vec<String> = (1..=8).map(|i| format!("http://node{i}.example")).collect();
    let a = NodeSet::new(
        plain.clone(),
        Replication::default(),
        Duration::from_secs(1),
    );
    let b = NodeSet::new(moved, Replication::default(), Duration::from_secs(1));
    let ids = |set: &NodeSet, k: &[u8; 32]| -> Vec<String> {
        set.placement(k)
            .unwrap()
            .into_iter()
            .map(|u| dsm_core::slot::node_id(dsm_wallet::nodes::node_authority(u)))
            .collect()
    };
    for i in 0..64u8 {
        let k = [i; 32];
        assert_eq!(ids(&a, &k), ids(&b, &k), "key {i}");
    }
    // Default ports are left out of the id: `:80` is the same node as no port.
    let with_port: Vec<String> = defaults.iter().map(|u| format!("{u}:80")).collect();
    let c = NodeSet::new(
        defaults.clone(),
        Replication::default(),
        Duration::from_secs(1),
    );
    let d = NodeSet::new(with_port, Replication::default(), Duration::from_secs(1));
    assert_eq!(ids(&c, &[9; 32]), ids(&d, &[9; 32]));
    // One node under two schemes is one node.
    defaults.push("https://node1.example".into());
    let e = NodeSet::new(defaults, Replication::default(), Duration::from_secs(1));
    assert_eq!(e.nodes().len(), 8);
}
