//! One conformance suite for every node backend: the embedded store always, PostgreSQL when
//! `DSM_TEST_POSTGRES` names a database (`.ci/run` starts one on loopback and also sets
//! `DSM_REQUIRE_POSTGRES=1`, so there the PostgreSQL run cannot be skipped).

use dsm_node::pg::PostgresStore;
use dsm_node::store::{Appended, EmbeddedStore, NodeStore, PutObject, PutSlot, Quotas, StoreError};
use std::sync::Arc;

fn conformance(s: &dyn NodeStore) {
    // Objects: immutable, idempotent.
    assert_eq!(s.get_object(&[1; 32]).unwrap(), None);
    assert_eq!(s.put_object(&[1; 32], b"one").unwrap(), PutObject::Created);
    assert_eq!(s.put_object(&[1; 32], b"one").unwrap(), PutObject::Exists);
    assert_eq!(
        s.get_object(&[1; 32]).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    // Owned slots: first writer wins; the loser sees the winner's bytes.
    assert_eq!(s.get_slot(&[2; 32], &[3; 32]).unwrap(), None);
    assert_eq!(
        s.put_slot(&[2; 32], &[3; 32], b"C").unwrap(),
        PutSlot::Created
    );
    assert_eq!(s.put_slot(&[2; 32], &[3; 32], b"C").unwrap(), PutSlot::Same);
    assert_eq!(
        s.put_slot(&[2; 32], &[3; 32], b"D").unwrap(),
        PutSlot::Conflict(b"C".to_vec())
    );
    assert_eq!(
        s.get_slot(&[2; 32], &[3; 32]).unwrap().as_deref(),
        Some(&b"C"[..])
    );
    // Candidate lists: append-only, in order, the same bytes once; another key is
    // another list.
    let (t, k) = ([4; 32], [5; 32]);
    assert!(s.list_read(&t, &k, 0, 10, 1 << 20).unwrap().is_empty());
    for (i, b) in [&b"junk"[..], b"step A", b"step B"].iter().enumerate() {
        assert_eq!(
            s.list_append(&t, &k, b).unwrap(),
            Appended {
                seq: i as u64 + 1,
                created: true
            }
        );
    }
    assert_eq!(
        s.list_append(&t, &k, b"step A").unwrap(),
        Appended {
            seq: 2,
            created: false
        },
        "a retried append makes no second entry"
    );
    assert_eq!(
        s.list_read(&t, &k, 0, 10, 1 << 20).unwrap(),
        vec![
            (1, b"junk".to_vec()),
            (2, b"step A".to_vec()),
            (3, b"step B".to_vec())
        ]
    );
    assert_eq!(
        s.list_read(&t, &k, 1, 1, 1 << 20).unwrap(),
        vec![(2, b"step A".to_vec())],
        "after a cursor, at most `limit`"
    );
    assert_eq!(
        s.list_read(&t, &k, 0, 10, 5).unwrap().len(),
        2,
        "no entry past the one that brings the answer over max_bytes"
    );
    assert_eq!(
        s.list_append(&t, &[6; 32], b"step A").unwrap(),
        Appended {
            seq: 1,
            created: true
        }
    );
    // Which slot owners it holds a slot of (for the budget's headroom).
    assert!(!s.owner_known(&[0xee; 32]).unwrap());
    assert!(s.owner_known(&[2; 32]).unwrap());
    assert!(
        !s.owner_known(&[3; 32]).unwrap(),
        "a slot key is not an owner"
    );
    // The store knows its size (for the node's storage budget).
    assert!(s.stored_bytes().unwrap() > 0);
    // b0x: sequence numbers per recipient from 1, list after a cursor, ack, quota.
    let q = Quotas { b0x_items: 3 };
    assert_eq!(s.b0x_append(&[5; 32], b"x1", b"", &q).unwrap(), 1);
    assert_eq!(s.b0x_append(&[5; 32], b"x2", b"", &q).unwrap(), 2);
    assert_eq!(
        s.b0x_append(&[5; 32], b"x2", b"", &q).unwrap(),
        2,
        "the same item again (a retried post) is not stored twice"
    );
    assert_eq!(
        s.b0x_append(&[6; 32], b"y1", b"", &q).unwrap(),
        1,
        "per recipient"
    );
    assert_eq!(s.b0x_append(&[5; 32], b"x3", b"", &q).unwrap(), 3);
    assert!(matches!(
        s.b0x_append(&[5; 32], b"x4", b"", &q),
        Err(StoreError::Quota(_))
    ));
    assert_eq!(
        s.b0x_list(&[5; 32], 1, 10, 1 << 20).unwrap(),
        vec![(2, b"x2".to_vec()), (3, b"x3".to_vec())]
    );
    assert_eq!(
        s.b0x_list(&[5; 32], 0, 1, 1 << 20).unwrap(),
        vec![(1, b"x1".to_vec())]
    );
    assert_eq!(
        s.b0x_list(&[5; 32], 0, 10, 3).unwrap(),
        vec![(1, b"x1".to_vec()), (2, b"x2".to_vec())],
        "no item past the one that brings the answer over max_bytes"
    );
    // Many addresses in one read (PROTOCOL.md §16.1): entry by entry, each after its own
    // cursor, the count and the size bounding the whole answer.
    s.b0x_append(&[6; 32], b"y1", b"", &q).unwrap();
    s.b0x_append(&[6; 32], b"y2", b"", &q).unwrap();
    let many = [([6; 32], 0), ([9; 32], 0), ([5; 32], 1)];
    assert_eq!(
        s.b0x_list_many(&many, 10, 1 << 20).unwrap(),
        vec![
            (0, 1, b"y1".to_vec()),
            (0, 2, b"y2".to_vec()),
            (2, 2, b"x2".to_vec()),
            (2, 3, b"x3".to_vec())
        ]
    );
    assert_eq!(
        s.b0x_list_many(&many, 3, 1 << 20).unwrap().len(),
        3,
        "at most the limit in all"
    );
    assert_eq!(
        s.b0x_list_many(&many, 10, 3).unwrap(),
        vec![(0, 1, b"y1".to_vec()), (0, 2, b"y2".to_vec())],
        "no item past the one that brings the answer over max_bytes"
    );
    assert_eq!(s.b0x_ack(&[5; 32], 2).unwrap(), 2);
    assert_eq!(
        s.b0x_list(&[5; 32], 0, 10, 1 << 20).unwrap(),
        vec![(3, b"x3".to_vec())]
    );
    assert_eq!(
        s.b0x_append(&[5; 32], b"x4", b"", &q).unwrap(),
        4,
        "numbers are never reused"
    );
    // Fair share at a full b0x: the poster holding the most gives up its newest item to a
    // poster that would hold fewer; nobody else is pushed out, and a retry still finds its
    // item.
    let q = Quotas { b0x_items: 4 };
    let r = [8; 32];
    for i in 0..4u8 {
        s.b0x_append(&r, &[b'f', i], b"flood", &q).unwrap();
    }
    assert!(matches!(
        s.b0x_append(&r, b"f9", b"flood", &q),
        Err(StoreError::Quota(_))
    ));
    assert_eq!(s.b0x_append(&r, b"pay", b"honest", &q).unwrap(), 5);
    let seqs = |s: &dyn NodeStore| -> Vec<u64> {
        s.b0x_list(&r, 0, 10, 1 << 20)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    assert_eq!(seqs(s), vec![1, 2, 3, 5], "the flood's newest made room");
    assert_eq!(s.b0x_append(&r, b"pay2", b"other", &q).unwrap(), 6);
    assert_eq!(seqs(s), vec![1, 2, 5, 6]);
    assert!(
        matches!(
            s.b0x_append(&r, b"pay3", b"honest", &q),
            Err(StoreError::Quota(_))
        ),
        "at an equal share nobody is pushed out"
    );
    assert_eq!(
        s.b0x_append(&r, b"pay", b"honest", &q).unwrap(),
        5,
        "a retry"
    );
    assert_eq!(s.b0x_ack(&r, 6).unwrap(), 4);
    assert_eq!(s.b0x_append(&r, b"f10", b"flood", &q).unwrap(), 7);
    // Evidence: every distinct proof per device kept once (junk first blocks nothing),
    // listed in order.
    assert!(s.put_evidence(&[7; 32], b"junk").unwrap());
    assert!(s.put_evidence(&[7; 32], b"p1").unwrap());
    assert!(
        !s.put_evidence(&[7; 32], b"p1").unwrap(),
        "the same bytes once"
    );
    assert!(s.put_evidence(&[8; 32], b"p1").unwrap(), "per device");
    let all = s.list_evidence(0, 10).unwrap();
    assert_eq!(
        all.iter()
            .map(|(_, d, b)| (*d, b.clone()))
            .collect::<Vec<_>>(),
        vec![
            ([7; 32], b"junk".to_vec()),
            ([7; 32], b"p1".to_vec()),
            ([8; 32], b"p1".to_vec())
        ]
    );
    assert_eq!(s.list_evidence(all[0].0, 10).unwrap().len(), 2);
    // Slots: one owned slot and four list entries; five b0x items wait.
    assert_eq!(s.counts().unwrap(), (1, 5, 5, 3));
    // Genesis entropy: one secret per ceremony, the first one drawn.
    assert_eq!(s.entropy_reveal(&[9; 32]).unwrap(), None);
    assert_eq!(s.entropy_secret(&[9; 32], &[1; 32]).unwrap(), [1; 32]);
    assert_eq!(
        s.entropy_secret(&[9; 32], &[2; 32]).unwrap(),
        [1; 32],
        "a second draw never replaces the committed secret"
    );
    assert_eq!(s.entropy_reveal(&[9; 32]).unwrap(), Some([1; 32]));
    assert_eq!(s.entropy_secret(&[10; 32], &[3; 32]).unwrap(), [3; 32]);
}

/// Concurrent commits to one ceremony all see the same secret.
fn entropy_race(s: Arc<dyn NodeStore>) {
    let secrets: Vec<[u8; 32]> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..12u8)
            .map(|i| {
                let s = s.clone();
                sc.spawn(move || s.entropy_secret(&[77; 32], &[i; 32]).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(secrets.iter().all(|x| *x == secrets[0]), "{secrets:?}");
    assert_eq!(s.entropy_reveal(&[77; 32]).unwrap(), Some(secrets[0]));
}

fn race(s: Arc<dyn NodeStore>) {
    for round in 0..5u8 {
        let outcomes: Vec<PutSlot> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..12u8)
                .map(|i| {
                    let s = s.clone();
                    sc.spawn(move || s.put_slot(&[round; 32], &[99; 32], &[i; 16]).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| **o == PutSlot::Created).count(),
            1,
            "round {round}: exactly one winner"
        );
        let value = s.get_slot(&[round; 32], &[99; 32]).unwrap().unwrap();
        for o in &outcomes {
            if let PutSlot::Conflict(v) = o {
                assert_eq!(v, &value);
            }
        }
        // Appends racing on one list get one sequence number each, 1 to 12, and the same
        // bytes appended by two writers at once are one entry.
        let appended: Vec<Appended> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..12u8)
                .map(|i| {
                    let s = s.clone();
                    sc.spawn(move || s.list_append(&[round; 32], &[98; 32], &[i % 6; 8]).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(appended.iter().filter(|a| a.created).count(), 6);
        let listed = s
            .list_read(&[round; 32], &[98; 32], 0, 100, 1 << 20)
            .unwrap();
        assert_eq!(
            listed.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
            (1..=6).collect::<Vec<u64>>()
        );
        for a in &appended {
            assert!(listed.iter().any(|(seq, _)| *seq == a.seq));
        }
    }
}

#[test]
fn embedded_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open(&dir.path().join("n.redb")).unwrap();
    conformance(&s);
    let racing = Arc::new(EmbeddedStore::open(&dir.path().join("race.redb")).unwrap());
    race(racing.clone());
    entropy_race(racing);
}

fn postgres_url() -> Option<String> {
    match std::env::var("DSM_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("DSM_REQUIRE_POSTGRES").is_none(),
                "DSM_REQUIRE_POSTGRES is set but DSM_TEST_POSTGRES is not"
            );
            eprintln!("PostgreSQL conformance skipped: set DSM_TEST_POSTGRES (`.ci/run` does)");
            None
        }
    }
}

#[test]
fn postgres_store_conforms() {
    let Some(url) = postgres_url() else { return };
    let s = PostgresStore::connect(&url, 4).unwrap();
    s.reset().unwrap();
    conformance(&s);
    s.reset().unwrap();
    let s = Arc::new(s);
    race(s.clone());
    entropy_race(s);
    // Reconnecting applies no migration twice.
    PostgresStore::connect(&url, 1).unwrap();
    two_stateless_nodes_share_one_database(&url);
}

/// Two node servers on one database (the operator's fleet): writers racing through both
/// to append to one candidate list get one sequence number each, and the list reads the
/// same through either server.
fn two_stateless_nodes_share_one_database(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addrs: Vec<std::net::SocketAddr> = (0..2)
        .map(|_| {
            let store = PostgresStore::connect(url, 2).unwrap();
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let addr = listener.local_addr().unwrap();
            rt.spawn(dsm_node::serve(
                listener,
                dsm_node::api::Node::new(store, Quotas::default()),
                dsm_node::Timeouts::default(),
            ));
            addr
        })
        .collect();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let path = format!("/v1/lists/{}/{}", hex(&[42; 32]), hex(&[43; 32]));
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..10u8)
            .map(|i| {
                let url = format!("http://{}{path}", addrs[i as usize % 2]);
                sc.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    agent
                        .post(&url)
                        .send(&[i; 20][..])
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses, vec![201; 10]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let listings: Vec<Vec<u8>> = addrs
        .iter()
        .map(|a| {
            agent
                .get(&format!("http://{a}{path}"))
                .call()
                .unwrap()
                .into_body()
                .read_to_vec()
                .unwrap()
        })
        .collect();
    assert_eq!(listings[0], listings[1]);
    // Ten entries of u64be(seq) ‖ u32be(20) ‖ 20 bytes, numbered 1 to 10.
    assert_eq!(listings[0].len(), 10 * 32);
    for (i, entry) in listings[0].chunks(32).enumerate() {
        assert_eq!(entry[..8], (i as u64 + 1).to_be_bytes());
    }
}
