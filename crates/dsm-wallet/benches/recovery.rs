//! What recovery costs (PROTOCOL.md §20). Run: `cargo bench -p dsm-wallet --bench recovery`
//! (add `-- quick` for a short run; it stops the replay rows at 10,000 relationships).
//!
//! 1. Capsule write cost per transfer: the same offline transfer between two memory-store
//!    wallets with and without capsules (both sides seal one per state change), and the
//!    seal alone.
//! 2. Replay: opening, decoding and checking a stream whose every capsule adds one
//!    relationship, rebuilding the tree (the CPU part of a recovery), for 10, 1,000 and
//!    100,000 relationships.
//! 3. End to end against 6 embedded storage nodes on loopback (N = 6, K = 3): fetch every
//!    capsule from the nodes, replay, tombstone, succession, a notice to every counterparty,
//!    for 10 and 1,000 relationships.

use dsm_core::chain::{Amount, DeviceHead, RelationshipKey, TipDigest, TransitionKind};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity, EntropyReveal, GenesisRecord};
use dsm_core::smt::SparseMerkleTree;
use dsm_recovery::body::{replay, CapsuleBody, TipEntry};
use dsm_recovery::{Capsule, KdfCost, RecoveryKeys, RecoveryMnemonic};
use dsm_wallet::store::MemoryStore;
use dsm_wallet::wallet::recovery::{recover, RecoverOptions};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
#[allow(dead_code)]
#[path = "../tests/common/cluster.rs"]
mod cluster;
mod common;
use common::{per_op, transfer, KDF};
use std::time::{Duration, Instant};

fn keys(seed: u8) -> RecoveryKeys {
    RecoveryKeys::derive(
        &RecoveryMnemonic::from_entropy(&[seed; 32]),
        KdfCost {
            m_cost_kib: 64,
            t_cost: 1,
        },
    )
    .expect("cheap cost")
}

fn wallet(recovery: Option<&RecoveryKeys>, funds: u128) -> Wallet {
    let store = Box::new(MemoryStore::new());
    let mut w = match recovery {
        Some(k) => Wallet::create_with_recovery(store, SuiteId::MlDsa65, b"p", KDF, &[], k),
        None => Wallet::create(store, SuiteId::MlDsa65, b"p", KDF),
    }
    .expect("wallet");
    if funds > 0 {
        w.dev_faucet(DEFAULT_TOKEN, Amount(funds)).expect("faucet");
    }
    w.set_deterministic_randomness(7);
    w
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// A stream of `n` capsules after capsule 0, each adding one relationship.
fn stream(k: &RecoveryKeys, n: usize) -> Vec<Capsule> {
    let founding = dsm_core::crypto::SigningKey::from_seed(
        SuiteId::MlDsa65,
        &dsm_core::crypto::SecretSeed::from_bytes([1; 32]),
    );
    let genesis = GenesisRecord {
        founding_key: founding.public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: Some(k.authority_key().public_key().clone()),
    };
    let identity = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: founding.public_key().clone(),
    };
    let device = identity.device_id();
    let mut head = DeviceHead::initial(device, &identity.genesis);
    let mut out = Vec::with_capacity(n + 1);
    let first = CapsuleBody {
        head: head.clone(),
        tips: vec![],
        pending: vec![],
        contacts: vec![],
        genesis: Some(genesis),
        authority_admission: Some(
            dsm_core::slot::admit_authority(&founding, &identity, k.authority_key().public_key())
                .expect("admit"),
        ),
        identity: Some(identity),
        policies: vec![],
        held: vec![],
        spent: vec![],
        packs: 0,
        offers: vec![],
        parts: 0,
    };
    out.push(k.seal(0, Digest::ZERO, &first.to_bytes()));
    let mut tree = SparseMerkleTree::new();
    for i in 0..n {
        let mut peer = [0u8; 32];
        peer[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let peer = DeviceId(Digest(peer));
        let rel = RelationshipKey::between(&device, &peer);
        let tip = TipDigest(dsm_core::hash::tagged_hash(
            dsm_core::tags::Tag::RelationshipTip,
            &[rel.as_bytes()],
        ));
        tree.insert(*rel.as_bytes(), tip.0);
        head = DeviceHead {
            device,
            height: head.height + 1,
            parent: head.digest(),
            smt_root: tree.root(),
            balances: head.balances.clone(),
            kind: TransitionKind::Credit,
            cause: tip.0,
        };
        let body = CapsuleBody {
            head: head.clone(),
            tips: vec![TipEntry {
                relationship: rel,
                counterparty: peer,
                tip,
                owner: None,
                document: None,
            }],
            pending: vec![],
            contacts: vec![],
            genesis: None,
            identity: None,
            authority_admission: None,
            policies: vec![],
            held: vec![],
            spent: vec![],
            packs: 0,
            offers: vec![],
            parts: 0,
        };
        let prev = out.last().map(Capsule::digest).unwrap_or(Digest::ZERO);
        out.push(k.seal(i as u64 + 1, prev, &body.to_bytes()));
    }
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");

    // 1. Capsule write cost per transfer.
    let n = if quick { 20 } else { 100 };
    let (mut a, mut b) = (wallet(None, 1_000_000), wallet(None, 0));
    let (ka, kb) = (keys(1), keys(2));
    let (mut ra, mut rb) = (wallet(Some(&ka), 1_000_000), wallet(Some(&kb), 0));
    // Interleaved rounds, so drift in the machine hits both rows alike.
    let (mut plain, mut with) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        plain += per_op(n, || transfer(&mut a, &mut b, 1));
        with += per_op(n, || transfer(&mut ra, &mut rb, 1));
    }
    let (plain, with) = (plain / 5, with / 5);
    // The largest capsule of a transfer: the sender's debit, carrying its pending proposal.
    let pending =
        dsm_protocol::mailbox::offer(&mut ra, &rb.device_id(), token(DEFAULT_TOKEN), Amount(1))
            .expect("offer");
    let sample = CapsuleBody {
        head: pending.signed.proposal.sender_child_head.clone(),
        tips: vec![TipEntry {
            relationship: pending.signed.proposal.step.relationship,
            counterparty: rb.device_id(),
            tip: pending.signed.proposal.step.child_tip(),
            owner: Some(rb.slot_owner()),
            document: None,
        }],
        pending: vec![pending.signed],
        contacts: vec![],
        genesis: None,
        identity: None,
        authority_admission: None,
        policies: vec![],
        held: vec![],
        spent: vec![],
        packs: 0,
        offers: vec![],
        parts: 0,
    }
    .to_bytes();
    let seal = per_op(2_000, || {
        std::hint::black_box(ka.seal(5, Digest([1; 32]), &sample));
    });
    println!("capsule write cost per transfer (ML-DSA-65, memory store, one thread)");
    println!("  transfer without capsules   {}", us(plain));
    println!(
        "  transfer with capsules      {} (both sides seal one per state change)",
        us(with)
    );
    println!(
        "  overhead                    {:+.1} % of a transfer",
        (with.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "  seal alone, a debit's capsule ({} B) {}",
        sample.len(),
        us(seal)
    );

    // 2. Replay.
    println!("replay (open + decode + check + rebuild the tree), one thread");
    let sizes: &[usize] = if quick {
        &[10, 1_000, 10_000]
    } else {
        &[10, 1_000, 100_000]
    };
    for &n in sizes {
        let chain = stream(&ka, n);
        let start = Instant::now();
        let st = replay(&ka.capsules, &chain).expect("replays");
        let t = start.elapsed();
        assert_eq!(st.relationships.len(), n);
        println!(
            "  {n:>7} relationships   {:>10.3} s   ({} per capsule)",
            t.as_secs_f64(),
            us(t / (n as u32 + 1))
        );
    }

    // 3. End to end.
    println!("end to end: fetch from 6 loopback nodes (N = 6, K = 3) + replay + tombstone + succession + notices");
    let sizes: &[usize] = if quick { &[10, 100] } else { &[10, 1_000] };
    for (i, &n) in sizes.iter().enumerate() {
        let c = cluster::Cluster::new();
        let nodes = c.nodes();
        let k = keys(10 + i as u8);
        let mut lost = wallet(Some(&k), 1_000_000);
        for _ in 0..n {
            let mut peer = wallet(None, 0);
            transfer(&mut lost, &mut peer, 1);
        }
        let push = lost.push_capsules(&nodes).expect("push");
        assert!(push.short.is_none() && push.conflict.is_none());
        let start = Instant::now();
        let (_, report) = recover(
            Box::new(MemoryStore::new()),
            &k,
            &nodes,
            &RecoverOptions {
                suite: SuiteId::MlDsa65,
                passphrase: b"p",
                kdf: KDF,
                replace_successor: false,
            },
            &mut |_| {},
        )
        .expect("recovers");
        let t = start.elapsed();
        assert_eq!(report.counterparties.len(), n);
        println!(
            "  {n:>7} relationships   {:>10.3} s   ({} capsules)",
            t.as_secs_f64(),
            report.capsules
        );
    }
}
