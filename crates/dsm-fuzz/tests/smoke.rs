//! The CI-sized fuzz smoke: every target over its committed seed corpus
//! (`crates/dsm-fuzz/corpus/<target>/`) plus deterministic mutations of it (bit flips, byte
//! overwrites, truncations, insertions, splices). Long runs use libFuzzer: `fuzz/run.sh`.
//! `DSM_WRITE_SEEDS=1 cargo test -p dsm-fuzz` regenerates the corpus from real sessions.

use dsm_core::codec::Canonical;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("{target}: no seed corpus ({e}); run DSM_WRITE_SEEDS=1"))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !m.is_empty() => {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
            1 if !m.is_empty() => {
                let i = rng.below(m.len());
                m[i] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
            }
            2 => m.truncate(rng.below(m.len() + 1)),
            3 => {
                let i = rng.below(m.len() + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                m.splice(i..i, bytes);
            }
            4 if !other.is_empty() => {
                let cut = rng.below(m.len() + 1);
                let from = rng.below(other.len());
                m.truncate(cut);
                m.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = rng.below(64);
                m = (0..n).map(|_| rng.next() as u8).collect();
            }
        }
    }
    m
}

#[test]
fn every_target_survives_its_corpus_and_mutations() {
    if std::env::var_os("DSM_WRITE_SEEDS").is_some() {
        assert!(
            std::env::var_os("CI").is_none(),
            "DSM_WRITE_SEEDS is refused under CI: the corpus must be the committed one"
        );
        write_seeds();
    }
    let per_target: usize = std::env::var("DSM_FUZZ_SMOKE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    for (name, target) in dsm_fuzz::TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name}: empty corpus");
        for s in &seeds {
            target(s);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for i in 0..per_target {
            let seed = &seeds[i % seeds.len()];
            let other = &seeds[rng.below(seeds.len())];
            target(&mutate(&mut rng, seed, other));
        }
    }
}

#[test]
fn the_planted_bug_is_a_real_crash() {
    // The harness's planted bug fires on a framed Close, and not on the corpus the planted
    // libFuzzer run starts from (unframed session messages): the fuzzer has to build the
    // frame header itself.
    let close = dsm_protocol::message::SessionMessage::Close(dsm_protocol::message::Close);
    let frame = dsm_transport::encode_frame(&close.to_bytes()).unwrap();
    assert!(std::panic::catch_unwind(|| dsm_fuzz::planted(&frame)).is_err());
    for s in seeds("session_message") {
        dsm_fuzz::planted(&s);
    }
}

/// The message vectors of a conformance file (relative to this crate): `(name, type, bytes)`.
fn vector_messages(path: &str) -> Vec<(String, String, Vec<u8>)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 3 || f[1] == "-" {
                return None;
            }
            let bytes = (0..f[2].len() / 2)
                .map(|i| u8::from_str_radix(&f[2][2 * i..2 * i + 2], 16).unwrap())
                .collect();
            Some((f[0].to_string(), f[1].to_string(), bytes))
        })
        .collect()
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Captures every message of real sessions (ML-DSA and SLH-DSA, a transfer and a signed
/// refusal) and derives each target's seeds from them.
fn write_seeds() {
    use dsm_core::chain::Amount;
    use dsm_core::crypto::SuiteId;
    use dsm_protocol::message::SessionMessage;
    use dsm_protocol::session::Session;
    use dsm_transport::{memory_pair, Link, TransportError};
    use dsm_wallet::keystore::KdfParams;
    use dsm_wallet::store::MemoryStore;
    use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    struct Tap<L: Link>(L, Arc<Mutex<Vec<Vec<u8>>>>);
    impl<L: Link> Link for Tap<L> {
        fn send(&mut self, p: &[u8]) -> Result<(), TransportError> {
            self.1.lock().unwrap().push(p.to_vec());
            self.0.send(p)
        }
        fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
            self.0.recv()
        }
    }
    for (target, _) in dsm_fuzz::TARGETS {
        let _ = std::fs::remove_dir_all(corpus_dir(target));
    }
    let kdf = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for suite in SuiteId::ALL {
        let mut a = Wallet::create(Box::new(MemoryStore::new()), suite, b"p", kdf).unwrap();
        a.dev_faucet(DEFAULT_TOKEN, Amount(100)).unwrap();
        let mut b = Wallet::create(Box::new(MemoryStore::new()), suite, b"p", kdf).unwrap();
        b.set_max_incoming(Some(Amount(10)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (x, y) = memory_pair(Duration::from_secs(20));
        let peer = b.device_id();
        std::thread::scope(|s| {
            let log2 = log.clone();
            s.spawn(move || {
                let mut y = Tap(y, log2);
                dsm_wallet::driver::run(&mut Session::listener(), &mut b, &mut y)
            });
            let mut x = Tap(x, log.clone());
            let t = vec![
                (token(DEFAULT_TOKEN), Amount(5)),
                (token(DEFAULT_TOKEN), Amount(50)),
            ];
            dsm_wallet::driver::run(&mut Session::dialer(peer, t), &mut a, &mut x);
        });
        messages.extend(log.lock().unwrap().iter().cloned());
    }
    let mut receipts = Vec::new();
    let mut proposals = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        put("session_message", &format!("m{i:02}"), m);
        put(
            "frame",
            &format!("m{i:02}"),
            &dsm_transport::encode_frame(m).unwrap(),
        );
        match SessionMessage::from_bytes(m).unwrap() {
            SessionMessage::Proposal(p) => {
                proposals.push(p.clone());
                put("proposal", &format!("p{i:02}"), &p.to_bytes());
            }
            SessionMessage::Acceptance(acc) => {
                if let Some(p) = proposals
                    .iter()
                    .find(|p| p.signed.proposal.commit() == acc.acceptance.proposal_commit)
                {
                    let r = dsm_core::receipt::Receipt {
                        proposal: p.signed.clone(),
                        acceptance: *acc,
                    };
                    receipts.push(r.clone());
                    put("receipt", &format!("r{i:02}"), &r.to_bytes());
                }
            }
            _ => {}
        }
    }
    // Core objects and proofs from the conformance vectors; token-layer objects from the
    // token vectors.
    for (name, ty, bytes) in vector_messages("../dsm-core/tests/vectors/dsm-v1.txt") {
        let target = match ty.as_str() {
            "dsm.v1.EquivocationProof" => "equivocation_proof",
            "dsm.v1.Receipt" => "receipt",
            "dsm.v1.OwnedPut" => "owned_slot",
            _ => "core_objects",
        };
        put(target, &name.replace('/', "_"), &bytes);
    }
    for (name, ty, bytes) in vector_messages("../dsm-token/tests/vectors/token-v1.txt") {
        let target = match ty.as_str() {
            "dsm.v1.TokenPolicy" => "token_policy",
            "dsm.v1.EmissionStep" | "dsm.v1.EmissionState" => "emission_step",
            "dsm.v1.WithdrawalRequest" | "dsm.v1.WithdrawalDecline" => "dbtc",
            "dsm.v1.VaultPolicy"
            | "dsm.v1.SignedVaultLock"
            | "dsm.v1.Witness"
            | "dsm.v1.VaultResolution"
            | "dsm.v1.VaultConflict" => "vault",
            _ => "source_proof",
        };
        put(target, &name, &bytes);
    }
    // Recovery: typed phrases and sealed capsules.
    put(
        "recovery",
        "phrase-zero",
        format!("{}art", "abandon ".repeat(23)).as_bytes(),
    );
    put(
        "recovery",
        "phrase-typo",
        format!("{}abandonn art", "abandon ".repeat(22)).as_bytes(),
    );
    {
        use dsm_recovery::{KdfCost, RecoveryKeys, RecoveryMnemonic};
        let k = RecoveryKeys::derive(
            &RecoveryMnemonic::from_entropy(&[5; 32]),
            KdfCost {
                m_cost_kib: 64,
                t_cost: 1,
            },
        )
        .unwrap();
        let c0 = k.seal(0, dsm_core::hash::Digest::ZERO, b"seed capsule");
        let c1 = k.seal(1, c0.digest(), b"seed capsule 1");
        put("recovery", "capsule0", &c0.to_bytes());
        put("recovery", "capsule1", &c1.to_bytes());
        // A capsule body and a succession notice, as a recovered device sends them.
        use dsm_core::chain::DeviceHead;
        use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
        use dsm_core::identity::{DeviceIdentity, EntropyReveal, GenesisRecord};
        use dsm_recovery::succession::*;
        let dev = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([1; 32]));
        let genesis = GenesisRecord {
            founding_key: dev.public_key().clone(),
            contributions: vec![EntropyReveal {
                contributor: dsm_core::hash::Digest([1; 32]),
                secret: [2; 32],
            }],
            recovery_authority: Some(k.authority_key().public_key().clone()),
        };
        let lost = DeviceIdentity {
            genesis: genesis.digest(),
            public_key: dev.public_key().clone(),
        };
        let head = DeviceHead::initial(lost.device_id(), &lost.genesis);
        let body = dsm_recovery::body::CapsuleBody {
            head: head.clone(),
            tips: vec![],
            pending: vec![],
            contacts: vec![],
            genesis: Some(genesis.clone()),
            identity: Some(lost.clone()),
            authority_admission: Some(
                dsm_core::slot::admit_authority(&dev, &lost, k.authority_key().public_key())
                    .unwrap(),
            ),
            policies: vec![],
            held: vec![],
            spent: vec![],
            packs: 0,
            offers: vec![],
            parts: 0,
        };
        put("recovery", "body0", &body.to_bytes());
        let t = sign_tombstone(
            &k.authority_key(),
            Tombstone {
                lost: lost.clone(),
                recovered_head: head,
            },
        );
        let succ = sign_succession(
            &k.authority_key(),
            Succession {
                tombstone: t.record.digest(),
                successor: DeviceIdentity {
                    genesis: genesis.digest(),
                    public_key: k.authority_key().public_key().clone(),
                },
            },
        );
        let notice = RecoveryMessage::Notice(Box::new(SuccessionNotice {
            genesis,
            tombstone: t,
            succession: succ,
            counterparty: dsm_core::identity::DeviceId(dsm_core::hash::Digest([3; 32])),
            proof: dsm_core::smt::SparseMerkleTree::new().prove(&[4; 32]),
            pending: vec![],
            pending_lineage: vec![],
            successor_document: Vec::new(),
            pending_sealed: Vec::new(),
        }));
        put("recovery", "notice", &notice.to_bytes());
    }
    // Chunk packets: a real chunked exchange, recorded as `u8 len ‖ bytes` sequences.
    {
        use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
        use dsm_transport::packet::{memory_packets, PacketLink};
        struct Rec<P: PacketLink>(P, Arc<Mutex<Vec<Vec<u8>>>>);
        impl<P: PacketLink> PacketLink for Rec<P> {
            fn mtu(&self) -> usize {
                self.0.mtu()
            }
            fn send_packet(&mut self, p: &[u8]) -> Result<(), TransportError> {
                self.1.lock().unwrap().push(p.to_vec());
                self.0.send_packet(p)
            }
            fn recv_packet(&mut self, w: Duration) -> Result<Option<Vec<u8>>, TransportError> {
                self.0.recv_packet(w)
            }
        }
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (x, y) = memory_packets(128);
        let o = ChunkOptions {
            rto: Duration::from_millis(20),
            window: 8,
            timeout: Duration::from_secs(5),
            linger: Duration::from_millis(50),
        };
        let mut d = ChunkedLink::dial(Rec(x, sent.clone()), o).unwrap();
        let mut l = ChunkedLink::accept(y, o).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let m = l.recv().unwrap();
                l.send(&m[..m.len() / 2]).unwrap();
            });
            d.send(&messages[0]).unwrap();
            d.recv().unwrap();
        });
        let packets = sent.lock().unwrap().clone();
        for (i, window) in packets.chunks(4).enumerate() {
            let mut seq = Vec::new();
            for p in window {
                seq.push(p.len() as u8);
                seq.extend_from_slice(p);
            }
            put("chunk_packets", &format!("c{i:02}"), &seq);
        }
    }
    for (i, m) in messages.iter().take(3).enumerate() {
        let mut c = Vec::new();
        dsm_transport::packet::cobs_encode(&m[..m.len().min(300)], &mut c);
        c.pop();
        put("cobs_and_apdu", &format!("cobs{i}"), &c);
        put(
            "cobs_and_apdu",
            &format!("apdu{i}"),
            &dsm_transport::apdu::command(&m[..m.len().min(255)]),
        );
    }
    put("cobs_and_apdu", "response", &[1, 2, 3, 0x90, 0x00]);
    let packets = dsm_qr::encode_packets(
        dsm_qr::SessionId([3; 8]),
        dsm_qr::Direction::DialerToListener,
        1,
        &messages[0],
        400,
        50,
    )
    .unwrap();
    for (i, p) in packets.iter().take(6).enumerate() {
        put("qr", &format!("q{i}"), p);
    }
    put("qr", "png", &dsm_qr::render_png(&packets[0], 1).unwrap());
    let mut listing = Vec::new();
    for (i, m) in messages.iter().take(3).enumerate() {
        listing.extend_from_slice(&(i as u64 + 1).to_be_bytes());
        listing.extend_from_slice(&(m.len() as u32).to_be_bytes());
        listing.extend_from_slice(m);
    }
    put("node_listing", "b0x", &listing);
    let mut ev = Vec::new();
    ev.extend_from_slice(&7u64.to_be_bytes());
    ev.extend_from_slice(&[9; 32]);
    ev.extend_from_slice(&4u32.to_be_bytes());
    ev.extend_from_slice(b"abcd");
    put("node_listing", "evidence", &ev);
    // Text the wallet reads: cards (both forms), amounts, a summary file.
    let card = dsm_protocol::card::ContactCard {
        name: "bob".into(),
        device: dsm_core::identity::DeviceId(dsm_core::hash::Digest([7; 32])),
        document: None,
    };
    put("wallet_text", "card", card.to_text().as_bytes());
    let card_v2 = dsm_protocol::card::ContactCard {
        document: Some(dsm_core::hash::Digest([8; 32])),
        ..card.clone()
    };
    put("wallet_text", "card_v2", card_v2.to_text().as_bytes());
    put(
        "wallet_text",
        "card_old",
        format!("dsm-contact:{}:bob", "07".repeat(32)).as_bytes(),
    );
    for (i, a) in ["250", "1.50", "0.000000000000000001", "1_000.5"]
        .iter()
        .enumerate()
    {
        put("wallet_text", &format!("amount{i}"), a.as_bytes());
    }
    let mut w = Wallet::create(Box::new(MemoryStore::new()), SuiteId::MlDsa65, b"p", kdf).unwrap();
    w.dev_faucet(DEFAULT_TOKEN, Amount(3)).unwrap();
    put("wallet_text", "summary", &w.summary().unwrap().to_bytes());
    let sealed = w.sealed_document().unwrap().to_vec();
    put("wallet_text", "document_sealed", &sealed);
    let doc = dsm_protocol::card::ContactDocument::open(
        &dsm_protocol::card::ContactCard::parse(&w.card("w").unwrap())
            .unwrap()
            .0,
        &sealed,
    )
    .unwrap();
    put("wallet_text", "document", &doc.to_bytes());
    // A real wallet's backup (transfers, a token), re-sealed under the fuzz key.
    let keys = dsm_recovery::RecoveryKeys::derive(
        &dsm_recovery::RecoveryMnemonic::from_entropy(&[3; 32]),
        dsm_recovery::KdfCost {
            m_cost_kib: 64,
            t_cost: 1,
        },
    )
    .unwrap();
    let mut a = Wallet::create_with_recovery(
        Box::new(MemoryStore::new()),
        SuiteId::MlDsa65,
        b"p",
        kdf,
        &[],
        &keys,
    )
    .unwrap();
    a.dev_faucet(DEFAULT_TOKEN, Amount(9)).unwrap();
    let snapshot =
        dsm_recovery::backup::open(&keys.generation(0), &a.export_backup().unwrap()).unwrap();
    put(
        "backup_file",
        "file",
        &dsm_recovery::backup::seal(&dsm_fuzz::fuzz_backup_key(), 0, &snapshot, [5; 24]),
    );
    put("backup_file", "snapshot", &snapshot.to_bytes());
}
