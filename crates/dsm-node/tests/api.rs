//! The node's HTTP API over real loopback sockets: every endpoint, every rejection, and
//! first-writer-wins under a race.

use dsm_core::hash::Digest;
use dsm_node::api::{object_address, Node, MAX_ITEM_LEN};
use dsm_node::store::{EmbeddedStore, Quotas};
use std::net::SocketAddr;

struct Server {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn server(quotas: Quotas) -> Server {
    server_with(quotas, dsm_node::Timeouts::default())
}

fn server_with(quotas: Quotas, timeouts: dsm_node::Timeouts) -> Server {
    server_of(|store, _| Node::new(store, quotas), timeouts)
}

/// A node made by `node` from a fresh embedded store (given with its file's path).
fn server_of(
    node: impl FnOnce(EmbeddedStore, &std::path::Path) -> std::sync::Arc<Node<EmbeddedStore>>,
    timeouts: dsm_node::Timeouts,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let store = EmbeddedStore::open(&path).unwrap();
    let node = node(store, &path);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(dsm_node::serve(listener, node, timeouts));
    Server {
        addr,
        _dir: dir,
        _rt: rt,
    }
}

/// A device's owned-slot write of `body` (signing randomness `rnd`) for its slot
/// `[5; 32]`: (owner, slot key, the write).
fn device_write(body: &[u8], rnd: u8) -> (Digest, Digest, dsm_core::slot::OwnedPut) {
    device_write_at(3, 5, body, rnd)
}

/// As [`device_write`], for the device of key seed `seed`, in its slot `[slot; 32]`.
fn device_write_at(
    seed: u8,
    slot: u8,
    body: &[u8],
    rnd: u8,
) -> (Digest, Digest, dsm_core::slot::OwnedPut) {
    use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
    use dsm_core::identity::GenesisDigest;
    use dsm_core::slot::{body_digest, Admission, OwnedPut, SlotEntry, SlotWrite};
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([seed; 32]));
    let genesis = GenesisDigest(Digest([4; 32]));
    let owner = *dsm_core::identity::DeviceIdentity {
        genesis,
        public_key: key.public_key().clone(),
    }
    .device_id()
    .digest();
    let slot = Digest([slot; 32]);
    let write = SlotWrite::sign(
        Admission::Device { genesis },
        &key,
        vec![SlotEntry {
            owner,
            key: slot,
            body: body_digest(body),
        }],
        &[rnd; 32],
    )
    .unwrap();
    (
        owner,
        slot,
        OwnedPut {
            write,
            body: body.to_vec(),
        },
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn call(method: &str, url: &str, body: Option<&[u8]>) -> Reply {
    call_plain(&agent(), method, url, body)
}

fn call_plain(a: &ureq::Agent, method: &str, url: &str, body: Option<&[u8]>) -> Reply {
    let r = match (method, body) {
        ("GET", _) => a.get(url).call(),
        ("DELETE", _) => a.delete(url).call(),
        ("PUT", Some(b)) => a.put(url).send(b),
        ("POST", Some(b)) => a.post(url).send(b),
        ("PUT", None) => a.put(url).send_empty(),
        ("POST", None) => a.post(url).send_empty(),
        _ => unreachable!(),
    }
    .unwrap();
    reply(r)
}

fn reply(r: ureq::http::Response<ureq::Body>) -> Reply {
    let status = r.status().as_u16();
    let body = r
        .into_body()
        .with_config()
        .limit(10 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    Reply { status, body }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn objects_are_content_addressed() {
    let s = server(Quotas::default());
    let base = format!("http://{}", s.addr);
    let data = b"a receipt, say".to_vec();
    let addr = hex(&object_address(&data));
    let url = format!("{base}/v1/objects/{addr}");
    assert_eq!(call("GET", &url, None).status, 404);
    assert_eq!(call("PUT", &url, Some(&data)).status, 201);
    assert_eq!(call("PUT", &url, Some(&data)).status, 200, "idempotent");
    let r = call("GET", &url, None);
    assert_eq!((r.status, r.body), (200, data.clone()));
    // Wrong bytes for the address, malformed addresses, empty and oversize bodies.
    let r = call("PUT", &url, Some(b"other bytes"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("do not hash to this address"));
    assert_eq!(
        call("PUT", &format!("{base}/v1/objects/xyz"), Some(&data)).status,
        400
    );
    assert_eq!(
        call("GET", &format!("{base}/v1/objects/{}", &addr[..63]), None).status,
        400
    );
    assert_eq!(call("PUT", &url, Some(b"")).status, 400);
    let big = vec![7u8; MAX_ITEM_LEN + 10];
    let r = call(
        "PUT",
        &format!("{base}/v1/objects/{}", hex(&object_address(&big))),
        Some(&big),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().starts_with("{\"error\""), "{}", r.text());
    // Unknown routes and methods: every error is JSON.
    let r = call("GET", &format!("{base}/v2/nothing"), None);
    assert_eq!(r.status, 404);
    assert!(r.text().starts_with("{\"error\""), "{}", r.text());
    let r = call("DELETE", &url, None);
    assert_eq!(r.status, 405);
    assert!(r.text().starts_with("{\"error\""), "{}", r.text());
    // Health and metrics.
    assert_eq!(call("GET", &format!("{base}/health"), None).status, 200);
    let m = call("GET", &format!("{base}/metrics"), None).text();
    assert!(m.contains("dsm_node_objects 1"), "{m}");
    // Per route template (never the raw path), method and status, with latency histograms.
    assert!(
        m.contains(
            "dsm_node_http_requests_total{route=\"/v1/objects/{addr}\",method=\"PUT\",status=\"201\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains("dsm_node_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"} 1"),
        "an unknown path is `other`: {m}"
    );
    assert!(!m.contains("/v2/nothing"), "{m}");
    assert!(
        m.contains("dsm_node_http_request_duration_seconds_count{route=\"/v1/objects/{addr}\",method=\"PUT\",status=\"201\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("dsm_node_http_request_duration_seconds_bucket{route=\"/v1/objects/{addr}\",method=\"PUT\",status=\"201\",le=\"+Inf\"} 1"),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "dsm_node_accepted_bytes_total{{kind=\"object\"}} {}",
            data.len()
        )),
        "the one object stored (once, though put twice): {m}"
    );
    // Every family is introduced by HELP and TYPE lines.
    for family in [
        "dsm_node_http_requests_total",
        "dsm_node_http_request_duration_seconds",
        "dsm_node_accepted_bytes_total",
        "dsm_node_rationed_total",
        "dsm_node_refused_writes_total",
        "dsm_node_store_bytes",
        "dsm_node_store_budget_bytes",
        "dsm_node_objects",
        "dsm_node_slots",
        "dsm_node_b0x_items",
        "dsm_node_evidence",
    ] {
        assert!(m.contains(&format!("# HELP {family} ")), "{family}: {m}");
        assert!(m.contains(&format!("# TYPE {family} ")), "{family}: {m}");
    }
}

/// Candidate lists (PROTOCOL.md §15.3): anyone appends, entries keep their order, the
/// same bytes again are "already there" under their first number.
#[test]
fn candidate_lists_append_in_order_and_never_rewrite() {
    let s = server(Quotas::default());
    let url = format!(
        "http://{}/v1/lists/{}/{}",
        s.addr,
        hex(&[1; 32]),
        hex(&[2; 32])
    );
    let r = call("GET", &url, None);
    assert_eq!((r.status, r.body.len()), (200, 0), "an empty list");
    let r = call("POST", &url, Some(b"junk"));
    assert_eq!((r.status, r.text()), (201, "{\"seq\":1}".to_string()));
    let r = call("POST", &url, Some(b"step A"));
    assert_eq!((r.status, r.text()), (201, "{\"seq\":2}".to_string()));
    let r = call("POST", &url, Some(b"step A"));
    assert_eq!((r.status, r.text()), (200, "{\"seq\":2}".to_string()));
    let entry =
        |seq: u64, b: &[u8]| [&seq.to_be_bytes()[..], &(b.len() as u32).to_be_bytes(), b].concat();
    assert_eq!(
        call("GET", &url, None).body,
        [entry(1, b"junk"), entry(2, b"step A")].concat()
    );
    assert_eq!(
        call("GET", &format!("{url}?after=1"), None).body,
        entry(2, b"step A")
    );
    assert_eq!(
        call("GET", &format!("{url}?limit=1"), None).body,
        entry(1, b"junk")
    );
    let r = call("POST", &url, Some(b""));
    assert_eq!(r.status, 400, "{}", r.text());
    // The two new entries' bytes, counted under their own kind.
    let m = call("GET", &format!("http://{}/metrics", s.addr), None).text();
    assert!(
        m.contains("dsm_node_accepted_bytes_total{kind=\"list_entry\"} 10"),
        "{m}"
    );
}

/// Owned slots (PROTOCOL.md §15.2): a stranger's bytes are refused with the reason, the
/// owner's write is first, the same body under another signature is "already there", and
/// a candidate list at the same address cannot pre-empt it.
#[test]
fn owned_slots_take_only_admitted_signed_writes() {
    use dsm_core::codec::Canonical;
    use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
    use dsm_core::slot::SlotWrite;
    let s = server(Quotas::default());
    let (owner, slot, _) = device_write(b"", 0);
    let write = |body: &[u8], rnd: u8| device_write(body, rnd).2;
    let url = format!(
        "http://{}/v1/owned/{}/{}",
        s.addr,
        hex(owner.as_bytes()),
        hex(slot.as_bytes())
    );
    // A stranger: junk, then a well-formed write by another key.
    let r = call("PUT", &url, Some(b"junk"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not an owned-slot write"), "{}", r.text());
    let stranger = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([6; 32]));
    let mut forged = write(b"junk", 1);
    forged.write.signer = stranger.public_key().clone();
    forged.write.signature = stranger
        .sign(
            SlotWrite::message(&forged.write.entries).as_bytes(),
            &[0; 32],
        )
        .unwrap();
    let r = call("PUT", &url, Some(&forged.to_bytes()));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("not admitted"), "{}", r.text());
    // The owner's write for another slot, replayed here.
    let other = format!(
        "http://{}/v1/owned/{}/{}",
        s.addr,
        hex(owner.as_bytes()),
        hex(&[9; 32])
    );
    let r = call("PUT", &other, Some(&write(b"A", 1).to_bytes()));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("does not cover"), "{}", r.text());
    // A candidate list at the same address does not touch the owned slot.
    let list = url.replace("/v1/owned/", "/v1/lists/");
    assert_eq!(call("POST", &list, Some(b"junk")).status, 201);
    assert_eq!(call("GET", &url, None).status, 404);
    // The owner: first writer wins; the same body under another signature is 200.
    let a = write(b"A", 1);
    assert_eq!(call("PUT", &url, Some(&a.to_bytes())).status, 201);
    assert_eq!(
        call("PUT", &url, Some(&write(b"A", 2).to_bytes())).status,
        200
    );
    let r = call("PUT", &url, Some(&write(b"B", 1).to_bytes()));
    assert_eq!((r.status, r.body.clone()), (409, a.to_bytes()));
    assert_eq!(call("GET", &url, None).body, a.to_bytes());
}

#[test]
fn racing_writers_get_exactly_one_winner() {
    for round in 0..3u8 {
        let s = server(Quotas::default());
        let (owner, slot, _) = device_write(b"", 0);
        let url = format!(
            "http://{}/v1/owned/{}/{}",
            s.addr,
            hex(owner.as_bytes()),
            hex(slot.as_bytes())
        );
        let writes: Vec<Vec<u8>> = (0..12u8)
            .map(|i| {
                use dsm_core::codec::Canonical;
                device_write(&[round, i], i).2.to_bytes()
            })
            .collect();
        let results: Vec<(u16, Vec<u8>, Vec<u8>)> = std::thread::scope(|sc| {
            let hs: Vec<_> = writes
                .iter()
                .map(|mine| {
                    let url = url.clone();
                    sc.spawn(move || {
                        let r = call("PUT", &url, Some(mine));
                        (r.status, r.body, mine.clone())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&(u16, Vec<u8>, Vec<u8>)> =
            results.iter().filter(|r| r.0 == 201).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let value = call("GET", &url, None).body;
        assert_eq!(value, winners[0].2);
        for (status, body, _) in results.iter().filter(|r| r.0 != 201) {
            assert_eq!(*status, 409);
            assert_eq!(body, &value, "every loser is shown the winner's write");
        }
    }
}

/// A device's key, its slot admission (kind 6, which shows the genesis blind and the key,
/// never the genesis) and its slot owner, whose b0x addresses it reads (PROTOCOL.md §16.1).
fn b0x_owner(
    seed: u8,
) -> (
    dsm_core::crypto::SigningKey,
    dsm_core::slot::Admission,
    Digest,
) {
    use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
    use dsm_core::identity::{DeviceIdentity, GenesisDigest};
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([seed; 32]));
    let genesis = GenesisDigest(Digest([seed; 32]));
    let owner = dsm_core::slot::device_slots_owner(&DeviceIdentity {
        genesis,
        public_key: key.public_key().clone(),
    });
    let genesis_blind = dsm_core::slot::genesis_blind(&genesis);
    (
        key,
        dsm_core::slot::Admission::DeviceSlots { genesis_blind },
        owner,
    )
}

/// The URL that posts to `owner`'s b0x address of `blind` (none: its introduction address).
fn post_url(s: &Server, owner: &Digest, blind: Option<[u8; 32]>) -> String {
    let address = dsm_core::slot::b0x_address(owner, blind.map(Digest).as_ref());
    format!("http://{}/v1/b0x/{}", s.addr, hex(address.as_bytes()))
}

/// The body of `device`'s read of `entries` (blind, cursor) for `op` at `node`.
fn read_body(
    key: &dsm_core::crypto::SigningKey,
    admission: &dsm_core::slot::Admission,
    node: &str,
    owner: &Digest,
    op: dsm_core::slot::B0xOp,
    entries: &[(Option<[u8; 32]>, u64)],
) -> Vec<u8> {
    use dsm_core::codec::Canonical;
    use dsm_core::slot::{B0xCursor, B0xRead, B0xScope};
    B0xRead::sign(
        admission.clone(),
        key,
        node,
        op,
        B0xScope {
            owner: *owner,
            entries: entries
                .iter()
                .map(|(b, c)| B0xCursor {
                    blind: b.map(Digest),
                    cursor: *c,
                })
                .collect(),
        },
        &[1; 32],
    )
    .unwrap()
    .to_bytes()
}

/// POSTs a b0x read to `base` (`http://host:port`).
fn read_at(base: &str, op: dsm_core::slot::B0xOp, body: &[u8]) -> Reply {
    let route = match op {
        dsm_core::slot::B0xOp::List => "b0x-list",
        dsm_core::slot::B0xOp::Acknowledge => "b0x-ack",
    };
    call("POST", &format!("{base}/v1/{route}"), Some(body))
}

/// A listing's `complete` and its items `(entry, seq, bytes)`.
fn listed(r: &Reply) -> (u32, Vec<(u32, u64, Vec<u8>)>) {
    assert_eq!(r.status, 200, "{}", r.text());
    let complete = u32::from_be_bytes(r.body[..4].try_into().unwrap());
    let mut out = Vec::new();
    let mut rest = &r.body[4..];
    while !rest.is_empty() {
        let entry = u32::from_be_bytes(rest[..4].try_into().unwrap());
        let seq = u64::from_be_bytes(rest[4..12].try_into().unwrap());
        let len = u32::from_be_bytes(rest[12..16].try_into().unwrap()) as usize;
        out.push((entry, seq, rest[16..16 + len].to_vec()));
        rest = &rest[16 + len..];
    }
    (complete, out)
}

#[test]
fn b0x_append_list_ack_and_quota() {
    use dsm_core::slot::B0xOp::{Acknowledge, List};
    let s = server(Quotas { b0x_items: 3 });
    let (node, base) = (s.addr.to_string(), format!("http://{}", s.addr));
    let (key, adm, device) = b0x_owner(5);
    let url = post_url(&s, &device, None);
    for i in 1..=3u8 {
        let r = call("POST", &url, Some(&[i; 10]));
        assert_eq!(r.status, 201);
        assert!(r.text().contains(&format!("\"seq\":{i}")), "{}", r.text());
    }
    let r = call("POST", &url, Some(&[4; 10]));
    assert_eq!(r.status, 429, "{}", r.text());
    // A relationship address is a b0x of its own, with its own quota and seqs.
    let blind = [7u8; 32];
    assert_eq!(
        call("POST", &post_url(&s, &device, Some(blind)), Some(b"rel")).status,
        201
    );
    // One request lists both: the introduction address after seq 1, the relationship's
    // from the start.
    let body = read_body(
        &key,
        &adm,
        &node,
        &device,
        List,
        &[(None, 1), (Some(blind), 0)],
    );
    let (complete, items) = listed(&read_at(&base, List, &body));
    assert_eq!(complete, 2);
    assert_eq!(
        items,
        vec![
            (0, 2, vec![2; 10]),
            (0, 3, vec![3; 10]),
            (1, 1, b"rel".to_vec())
        ]
    );
    let body = read_body(
        &key,
        &adm,
        &node,
        &device,
        Acknowledge,
        &[(None, 2), (Some(blind), 1)],
    );
    let r = read_at(&base, Acknowledge, &body);
    assert!(r.text().contains("\"removed\":3"), "{}", r.text());
    let body = read_body(
        &key,
        &adm,
        &node,
        &device,
        List,
        &[(None, 0), (Some(blind), 0)],
    );
    assert_eq!(
        listed(&read_at(&base, List, &body)),
        (2, vec![(0, 3, vec![3; 10])])
    );
    assert_eq!(
        call("POST", &url, Some(&[5; 10])).status,
        201,
        "room again after the ack"
    );
}

/// A listing stops at 256 items; `complete` says which entries were listed in full, and
/// the reader goes on from the last seq it saw (PROTOCOL.md §15).
#[test]
fn a_b0x_listing_pages_across_its_addresses() {
    use dsm_core::slot::B0xOp::List;
    let s = server(Quotas::default());
    let (node, base) = (s.addr.to_string(), format!("http://{}", s.addr));
    let (key, adm, device) = b0x_owner(5);
    let blind = [7u8; 32];
    for i in 0..200u32 {
        assert_eq!(
            call("POST", &post_url(&s, &device, None), Some(&i.to_be_bytes())).status,
            201
        );
    }
    for i in 0..100u32 {
        assert_eq!(
            call(
                "POST",
                &post_url(&s, &device, Some(blind)),
                Some(&i.to_be_bytes())
            )
            .status,
            201
        );
    }
    let body = read_body(
        &key,
        &adm,
        &node,
        &device,
        List,
        &[(None, 0), (Some(blind), 0)],
    );
    let (complete, items) = listed(&read_at(&base, List, &body));
    assert_eq!(
        (complete, items.len()),
        (1, 256),
        "the second entry was cut"
    );
    assert_eq!(items.iter().filter(|i| i.0 == 1).count(), 56);
    assert_eq!(items.last().unwrap().1, 56);
    let body = read_body(&key, &adm, &node, &device, List, &[(Some(blind), 56)]);
    let (complete, items) = listed(&read_at(&base, List, &body));
    assert_eq!((complete, items.len()), (1, 44));
    assert_eq!(items[0], (0, 57, 56u32.to_be_bytes().to_vec()));
}

/// A full b0x keeps room by fair share (PROTOCOL.md §15): a client that filled it gives up
/// its newest item to a client holding fewer, so a flood from one address never keeps a
/// payment out; the flooder itself is refused. Clients are told apart as rationing tells
/// them (here through a trusted proxy's X-Forwarded-For).
#[test]
fn a_flooded_b0x_still_takes_an_honest_post() {
    use dsm_core::slot::B0xOp::List;
    let s = server_of(
        |store, _| {
            let mut limits = dsm_node::ration::RationLimits::unlimited();
            limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            Node::with_limits(
                store,
                Quotas { b0x_items: 3 },
                limits,
                dsm_node::ration::StoreBudget::unlimited(),
            )
        },
        dsm_node::Timeouts::default(),
    );
    let (key, adm, device) = b0x_owner(6);
    let url = post_url(&s, &device, None);
    let post = |from: &str, body: &[u8]| -> u16 {
        agent()
            .post(&url)
            .header("x-forwarded-for", from)
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    for i in 1..=3u8 {
        assert_eq!(post("198.51.100.7", &[i; 10]), 201);
    }
    assert_eq!(
        post("198.51.100.7", &[4; 10]),
        429,
        "the flooder holds its share"
    );
    assert_eq!(
        post("203.0.113.9", b"a payment"),
        201,
        "an honest post gets in"
    );
    let seqs = || -> Vec<u64> {
        let body = read_body(&key, &adm, &s.addr.to_string(), &device, List, &[(None, 0)]);
        listed(&read_at(&format!("http://{}", s.addr), List, &body))
            .1
            .into_iter()
            .map(|(_, seq, _)| seq)
            .collect()
    };
    assert_eq!(seqs(), vec![1, 2, 4], "the flood's newest item made room");
    // An IPv6 flooder is one client per /64, however many addresses it uses.
    assert_eq!(post("2001:db8:1:2::1", b"v6 a"), 201);
    assert_eq!(
        post("2001:db8:1:2::2", b"v6 b"),
        429,
        "one /64: one fair share"
    );
    assert_eq!(seqs(), vec![1, 4, 5]);
    let m = call("GET", &format!("http://{}/metrics", s.addr), None).text();
    assert!(
        m.contains("dsm_node_refused_writes_total{reason=\"b0x_quota\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("dsm_node_accepted_bytes_total{kind=\"b0x_item\"} "),
        "{m}"
    );
}

/// Only a b0x's recipient lists or acknowledges it (PROTOCOL.md §16.1): each refusal with
/// its status and reason, and a signature that holds for one node, operation, set of
/// addresses and cursors only — so one node cannot replay it to another, nor a stranger
/// turn a listing into a deletion or read another address with it.
#[test]
fn b0x_reads_and_deletes_take_only_the_recipients_signature_for_this_node_and_cursor() {
    use dsm_core::codec::Canonical;
    use dsm_core::slot::B0xOp::{Acknowledge, List};
    use dsm_core::slot::{B0xCursor, B0xRead, B0xScope};
    let s = server(Quotas::default());
    let (node, base) = (s.addr.to_string(), format!("http://{}", s.addr));
    let (key, adm, device) = b0x_owner(6);
    let (stranger, stranger_adm, _) = b0x_owner(7);
    let blind = [7u8; 32];
    assert_eq!(
        call(
            "POST",
            &post_url(&s, &device, Some(blind)),
            Some(b"an item")
        )
        .status,
        201
    );
    let list = |b: &[u8]| read_at(&base, List, b);
    let ack = |b: &[u8]| read_at(&base, Acknowledge, b);
    // No body, or not a read: 400 for both.
    for r in [
        call("POST", &format!("{base}/v1/b0x-list"), None),
        list(b"junk"),
        ack(b"junk"),
    ] {
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert!(list(b"junk").text().contains("not a b0x read"));
    // Entries out of order, or one address twice: 400.
    let mut read = B0xRead::from_bytes(&read_body(
        &key,
        &adm,
        &node,
        &device,
        List,
        &[(None, 0), (Some(blind), 0)],
    ))
    .unwrap();
    read.scope.entries.reverse();
    let r = list(&read.to_bytes());
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("ascending order of blind"),
        "{}",
        r.text()
    );
    let refused = |r: Reply, why: &str| {
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains(why), "{}", r.text());
    };
    // A stranger's key (a device of its own) is not admitted to this device's addresses:
    // the signer refuses to make such a read, and a node refuses one made by hand.
    let scope = B0xScope {
        owner: device,
        entries: vec![B0xCursor {
            blind: Some(Digest(blind)),
            cursor: 0,
        }],
    };
    assert_eq!(
        B0xRead::sign(
            stranger_adm.clone(),
            &stranger,
            &node,
            List,
            scope.clone(),
            &[1; 32]
        )
        .unwrap_err(),
        dsm_core::slot::SlotAuthError::NotAdmitted
    );
    let by_hand = B0xRead {
        access: dsm_core::slot::B0xAccess {
            admission: stranger_adm,
            signer: stranger.public_key().clone(),
            signature: stranger
                .sign(B0xRead::message(&node, List, &scope).as_bytes(), &[1; 32])
                .unwrap(),
        },
        scope: scope.clone(),
    };
    refused(list(&by_hand.to_bytes()), "not admitted");
    // The device's own key under a device admission (kind 1, which shows the genesis, so
    // the device id) owns no b0x address: reads go under the slot admission only.
    let genesis = dsm_core::identity::GenesisDigest(Digest([6; 32]));
    let shows_genesis = B0xRead {
        access: dsm_core::slot::B0xAccess {
            admission: dsm_core::slot::Admission::Device { genesis },
            signer: key.public_key().clone(),
            signature: key
                .sign(B0xRead::message(&node, List, &scope).as_bytes(), &[1; 32])
                .unwrap(),
        },
        scope: scope.clone(),
    };
    refused(list(&shows_genesis.to_bytes()), "not admitted");
    // Nor with the device id as the scope's owner, which its kind-1 admission does prove:
    // no b0x address derives from a device id any more.
    let id_scope = B0xScope {
        owner: *dsm_core::identity::DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        }
        .device_id()
        .digest(),
        ..scope.clone()
    };
    let by_id = B0xRead {
        access: dsm_core::slot::B0xAccess {
            signature: key
                .sign(
                    B0xRead::message(&node, List, &id_scope).as_bytes(),
                    &[1; 32],
                )
                .unwrap(),
            ..shows_genesis.access.clone()
        },
        scope: id_scope,
    };
    refused(list(&by_id.to_bytes()), "not admitted");
    // The recipient's signature, but for another node, operation, cursor or address.
    let right = |op| read_body(&key, &adm, &node, &device, op, &[(Some(blind), 0)]);
    refused(
        list(&read_body(
            &key,
            &adm,
            "127.0.0.1:1",
            &device,
            List,
            &[(Some(blind), 0)],
        )),
        "does not verify",
    );
    refused(ack(&right(List)), "does not verify");
    for (b, c) in [(blind, 5), ([8; 32], 0)] {
        let mut r = B0xRead::from_bytes(&right(List)).unwrap();
        r.scope.entries[0] = B0xCursor {
            blind: Some(Digest(b)),
            cursor: c,
        };
        refused(list(&r.to_bytes()), "does not verify");
    }
    // The same node under another name (localhost instead of 127.0.0.1) is another node id.
    refused(
        read_at(
            &format!("http://localhost:{}", s.addr.port()),
            List,
            &right(List),
        ),
        "does not verify",
    );
    // Nothing was listed or deleted; the right signatures work.
    assert_eq!(listed(&list(&right(List))).1.len(), 1);
    let r = ack(&read_body(
        &key,
        &adm,
        &node,
        &device,
        Acknowledge,
        &[(Some(blind), 1)],
    ));
    assert!(r.text().contains("\"removed\":1"), "{}", r.text());
    // Posting stays open to anyone who knows the address.
    assert_eq!(
        call(
            "POST",
            &post_url(&s, &device, Some(blind)),
            Some(b"another")
        )
        .status,
        201
    );
}

/// Anyone may publish evidence (it proves itself), so the node keeps every distinct proof
/// per device: junk put first under a device id (by the cheater itself, before it cheats)
/// does not block the real proof.
#[test]
fn evidence_is_kept_once_per_proof_and_listed() {
    let s = server(Quotas::default());
    let base = format!("http://{}", s.addr);
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/evidence/{}", hex(&[3; 32])),
            Some(b"proof one")
        )
        .status,
        201
    );
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/evidence/{}", hex(&[3; 32])),
            Some(b"proof two")
        )
        .status,
        201,
        "a second proof for the device is kept too"
    );
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/evidence/{}", hex(&[3; 32])),
            Some(b"proof two")
        )
        .status,
        200,
        "the same bytes again"
    );
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/evidence/{}", hex(&[4; 32])),
            Some(b"proof three")
        )
        .status,
        201
    );
    let all = call("GET", &format!("{base}/v1/evidence"), None).body;
    assert_eq!(all.len(), 3 * (8 + 32 + 4) + 9 + 9 + 11);
    let later = call("GET", &format!("{base}/v1/evidence?after=2"), None).body;
    assert_eq!(&later[8..40], &[4; 32]);
}

#[test]
fn genesis_entropy_commits_then_reveals_one_secret() {
    use dsm_core::hash::Digest;
    use dsm_core::identity::EntropyReveal;
    let s = server(Quotas::default());
    let base = format!("http://{}", s.addr);
    let (ceremony, contributor) = (hex(&[5; 32]), [6u8; 32]);
    let reveal_url = format!("{base}/v1/entropy/{ceremony}");
    let commit_url = format!("{reveal_url}/{}", hex(&contributor));
    let r = call("GET", &reveal_url, None);
    assert_eq!(r.status, 404, "nothing to reveal before the commit");
    assert!(r.text().contains("commit first"), "{}", r.text());
    let first = call("POST", &commit_url, None);
    assert_eq!((first.status, first.body.len()), (200, 32));
    let again = call("POST", &commit_url, None);
    assert_eq!(
        again.body, first.body,
        "one secret per ceremony, not a fresh draw"
    );
    let secret = call("GET", &reveal_url, None);
    assert_eq!((secret.status, secret.body.len()), (200, 32));
    let reveal = EntropyReveal {
        contributor: Digest(contributor),
        secret: secret.body.try_into().unwrap(),
    };
    assert_eq!(
        reveal.commitment().as_bytes().as_slice(),
        first.body.as_slice(),
        "the reveal opens the commitment"
    );
    // Another ceremony gets another secret.
    let other = call(
        "POST",
        &format!("{base}/v1/entropy/{}/{}", hex(&[7; 32]), hex(&contributor)),
        None,
    );
    assert_ne!(other.body, first.body);
    // Malformed ids.
    assert_eq!(
        call(
            "POST",
            &format!("{base}/v1/entropy/xyz/{}", hex(&contributor)),
            None
        )
        .status,
        400
    );
    assert_eq!(
        call(
            "POST",
            &format!("{reveal_url}/{}", &hex(&contributor)[..10]),
            None
        )
        .status,
        400
    );
    assert_eq!(
        call("GET", &format!("{base}/v1/entropy/12"), None).status,
        400
    );
}

/// A client that sends half a request head, or a body far slower than promised, is cut
/// off; the node keeps answering everyone else.
#[test]
fn slow_clients_are_cut_off_and_the_node_stays_up() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let t = dsm_node::Timeouts {
        header: Duration::from_millis(300),
        request: Duration::from_millis(600),
    };
    let s = server_with(Quotas::default(), t);
    // Half a request head, then silence.
    let mut slow = std::net::TcpStream::connect(s.addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the half-open request was dropped"
    );
    // A body that never finishes: 408.
    let mut trickle = std::net::TcpStream::connect(s.addr).unwrap();
    let addr = hex(&object_address(b"x"));
    trickle
        .write_all(
            format!(
                "PUT /v1/objects/{addr} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"
            )
            .as_bytes(),
        )
        .unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = trickle.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("{\"error\":\"the request was not received and answered in time"),
        "every error is JSON: {answer}"
    );
    // Everyone else is still served.
    assert_eq!(
        call("GET", &format!("http://{}/health", s.addr), None).status,
        200
    );
}

/// The OpenAPI file is a valid OpenAPI 3 document by a standard validator
/// (`openapi-spec-validator`, Python). Skipped where it is not installed, unless
/// `DSM_REQUIRE_OPENAPI_VALIDATOR` is set (`.ci/run` installs it and sets it, so there it
/// cannot be skipped).
#[test]
fn openapi_is_valid_by_a_standard_validator() {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", spec])
        .output();
    let required = std::env::var_os("DSM_REQUIRE_OPENAPI_VALIDATOR").is_some();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") && !required => {
            eprintln!(
                "OpenAPI validation skipped: `pip install openapi-spec-validator` (`.ci/run` does)"
            );
            return;
        }
        Err(e) if !required => {
            eprintln!("OpenAPI validation skipped: no python3 ({e})");
            return;
        }
        other => panic!("openapi.yaml does not validate: {other:?}"),
    };
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("OK"), "{said}");
}

/// The OpenAPI file documents every route the router serves, and no other.
#[test]
fn openapi_lists_every_route() {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api.rs")).unwrap();
    // Every path literal in the router (whatever the line layout).
    let router = &src[src.find("pub fn router").unwrap()..];
    let routes: Vec<&str> = router
        .split(".route(")
        .skip(1)
        .map(|r| r.split('"').nth(1).unwrap())
        .collect();
    assert!(routes.len() >= 7, "{routes:?}");
    for r in &routes {
        assert!(
            spec.contains(&format!("  {r}:")),
            "{r} is not in openapi.yaml"
        );
    }
    let documented = spec.lines().filter(|l| l.starts_with("  /")).count();
    assert_eq!(
        documented,
        routes.len(),
        "openapi.yaml documents a route the node does not serve"
    );
}

/// The store's budget (PROTOCOL.md §15, "Rationing"): keyless writes stop at the budget
/// minus the owned headroom (507), while an owned-slot write still lands in the headroom.
#[test]
fn a_full_store_refuses_keyless_writes_and_keeps_headroom_for_owned_writes() {
    use dsm_core::codec::Canonical;
    use dsm_node::ration::{RationLimits, StoreBudget};
    // Room for one 40 KiB keyless write; 60 KiB more for owned writes only. (Bodies stay
    // small enough to be written whole before the node answers: a refusal comes from the
    // request's head, and a client still writing a large body may see the connection end
    // instead of the status.)
    let s = server_of(
        |store, path| {
            let size = std::fs::metadata(path).unwrap().len();
            let budget = StoreBudget {
                max_bytes: size + 100 * 1024,
                owned_headroom: 60 * 1024,
                owner_headroom: 0,
            };
            Node::with_limits(store, Quotas::default(), RationLimits::unlimited(), budget)
        },
        dsm_node::Timeouts::default(),
    );
    let addr = s.addr;
    let object = |i: u8| {
        let mut body = vec![i; 40 * 1024];
        body[0] = i;
        let url = format!("http://{addr}/v1/objects/{}", hex(&object_address(&body)));
        call("PUT", &url, Some(&body))
    };
    assert_eq!(object(1).status, 201);
    let r = object(2);
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(
        r.text().contains("storage budget is used up"),
        "{}",
        r.text()
    );
    // b0x posts and candidate-list entries are keyless too.
    for url in [
        format!("http://{addr}/v1/b0x/{}", hex(&[9; 32])),
        format!("http://{addr}/v1/lists/{}/{}", hex(&[9; 32]), hex(&[9; 32])),
    ] {
        let r = call("POST", &url, Some(&vec![7u8; 30 * 1024]));
        assert_eq!(r.status, 507, "{url}: {}", r.text());
    }
    // An owned write lands in the headroom.
    let (owner, slot, put) = device_write(&vec![1u8; 20 * 1024], 1);
    let url = format!(
        "http://{addr}/v1/owned/{}/{}",
        hex(owner.as_bytes()),
        hex(slot.as_bytes())
    );
    let r = call("PUT", &url, Some(&put.to_bytes()));
    assert_eq!(r.status, 201, "{}", r.text());
    let m = call("GET", &format!("http://{addr}/metrics"), None).text();
    assert!(
        m.contains("dsm_node_refused_writes_total{reason=\"storage_budget\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("dsm_node_accepted_bytes_total{kind=\"owned_slot\"} "),
        "{m}"
    );
}

/// Keys are free, so the headroom of the storage budget is only for slot owners the node
/// already holds a slot of, each up to its share (PROTOCOL.md §15): a key made for the flood
/// is refused there, a known owner writes until its share is used.
#[test]
fn the_headroom_is_for_known_slot_owners_each_up_to_a_share() {
    use dsm_core::codec::Canonical;
    use dsm_node::ration::{RationLimits, StoreBudget};
    let s = server_of(
        |store, path| {
            let size = std::fs::metadata(path).unwrap().len();
            let budget = StoreBudget {
                max_bytes: size + 140 * 1024,
                owned_headroom: 90 * 1024,
                owner_headroom: 40 * 1024,
            };
            Node::with_limits(store, Quotas::default(), RationLimits::unlimited(), budget)
        },
        dsm_node::Timeouts::default(),
    );
    let addr = s.addr;
    let put = |seed: u8, slot: u8, len: usize| {
        let (owner, key, put) = device_write_at(seed, slot, &vec![slot; len], 1);
        let url = format!(
            "http://{addr}/v1/owned/{}/{}",
            hex(owner.as_bytes()),
            hex(key.as_bytes())
        );
        call("PUT", &url, Some(&put.to_bytes()))
    };
    // Owner 3 writes a slot while there is room: the node now holds a slot of it.
    assert_eq!(put(3, 1, 1024).status, 201);
    // Keyless writes fill the shared part.
    let body = vec![9u8; 40 * 1024];
    let url = format!("http://{addr}/v1/objects/{}", hex(&object_address(&body)));
    assert_eq!(call("PUT", &url, Some(&body)).status, 201);
    let mut more = body.clone();
    more[0] = 8;
    let url = format!("http://{addr}/v1/objects/{}", hex(&object_address(&more)));
    assert_eq!(call("PUT", &url, Some(&more)).status, 507);
    // A fresh key (owner 8) is refused in the headroom, with why.
    let r = put(8, 1, 10 * 1024);
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(
        r.text()
            .contains("kept for slot owners it already holds a slot of"),
        "{}",
        r.text()
    );
    // Owner 3 writes there, up to its share (each write is about 15.5 KiB with its
    // signature and key).
    assert_eq!(put(3, 2, 10 * 1024).status, 201);
    assert_eq!(put(3, 3, 10 * 1024).status, 201);
    let r = put(3, 4, 10 * 1024);
    assert_eq!(r.status, 507, "its share is used: {}", r.text());
    assert!(
        r.text().contains("this owner has none left"),
        "{}",
        r.text()
    );
}

/// One slot owner's owned writes are rationed across all clients (PROTOCOL.md §15.2,
/// "Rationing"): past its bytes a minute, 429 from the request's head; another owner is
/// untouched.
#[test]
fn one_slot_owner_is_rationed_from_the_request_head() {
    use dsm_core::codec::Canonical;
    use dsm_node::ration::{RationLimits, StoreBudget};
    let s = server_of(
        |store, _| {
            Node::with_limits(
                store,
                Quotas::default(),
                RationLimits {
                    owner_write_bytes_per_minute: 40 * 1024,
                    ..RationLimits::unlimited()
                },
                StoreBudget::unlimited(),
            )
        },
        dsm_node::Timeouts::default(),
    );
    let addr = s.addr;
    let (owner, slot, put) = device_write(&vec![1u8; 20 * 1024], 1);
    let url = format!(
        "http://{addr}/v1/owned/{}/{}",
        hex(owner.as_bytes()),
        hex(slot.as_bytes())
    );
    let body = put.to_bytes();
    assert!(body.len() > 20 * 1024);
    let r = call("PUT", &url, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call("PUT", &url, Some(&body));
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("slot owner"), "{}", r.text());
    // Another owner's bucket is its own: refused for its (bad) signature, not rationed.
    let other = format!("http://{addr}/v1/owned/{}/{}", hex(&[8; 32]), hex(&[9; 32]));
    let r = call("PUT", &other, Some(&body));
    assert_ne!(r.status, 429, "{}", r.text());
    let m = call("GET", &format!("http://{addr}/metrics"), None).text();
    assert!(
        m.contains("dsm_node_rationed_total{reason=\"bytes\"} 1"),
        "the owner's refusal is counted: {m}"
    );
}
