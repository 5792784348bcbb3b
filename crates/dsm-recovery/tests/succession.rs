//! Tombstone, succession, answers and conflict evidence (PROTOCOL.md §20.3–§20.5): every
//! refusal the protocol names is fed its bad input here; and capsule bodies replay only
//! when consistent.

use dsm_core::chain::{Amount, Balances, DeviceHead, RelationshipKey, TipDigest, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceIdentity, EntropyReveal, GenesisDigest, GenesisRecord};
use dsm_recovery::body::{replay, CapsuleBody, ContactEntry, ReplayError, TipEntry};
use dsm_recovery::succession::*;
use dsm_recovery::{KdfCost, RecoveryKeys, RecoveryMnemonic};

const CHEAP: KdfCost = KdfCost {
    m_cost_kib: 64,
    t_cost: 1,
};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([seed; 32]))
}

struct World {
    keys: RecoveryKeys,
    genesis: GenesisRecord,
    lost: DeviceIdentity,
    head: DeviceHead,
    successor: DeviceIdentity,
}

fn world() -> World {
    let keys = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[9; 32]), CHEAP).unwrap();
    let genesis = GenesisRecord {
        founding_key: key(1).public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: Some(keys.authority_key().public_key().clone()),
    };
    let lost = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: key(1).public_key().clone(),
    };
    let head = DeviceHead::initial(lost.device_id(), &lost.genesis)
        .allocation_child(&TokenId::from_label("DEV"), Amount(50), Digest([3; 32]))
        .unwrap();
    let successor = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: key(2).public_key().clone(),
    };
    World {
        keys,
        genesis,
        lost,
        head,
        successor,
    }
}

fn records(w: &World) -> (SignedTombstone, SignedSuccession) {
    let a = w.keys.authority_key();
    let t = sign_tombstone(
        &a,
        Tombstone {
            lost: w.lost.clone(),
            recovered_head: w.head.clone(),
        },
    );
    let s = sign_succession(
        &a,
        Succession {
            tombstone: t.record.digest(),
            successor: w.successor.clone(),
        },
    );
    (t, s)
}

#[test]
fn a_valid_succession_verifies_and_signing_is_deterministic() {
    let w = world();
    let (t, s) = records(&w);
    let v = verify_succession(&w.genesis, &t, &s).unwrap();
    assert_eq!(v.lost(), w.lost.device_id());
    assert_eq!(v.successor(), w.successor.device_id());
    // Re-signing after a crash yields the same bytes: the write-once slot sees one record.
    let (t2, s2) = records(&w);
    assert_eq!(t.to_bytes(), t2.to_bytes());
    assert_eq!(s.to_bytes(), s2.to_bytes());
    assert_eq!(SignedTombstone::from_bytes(&t.to_bytes()).unwrap(), t);
    assert_eq!(SignedSuccession::from_bytes(&s.to_bytes()).unwrap(), s);
}

/// What the recovery slots hold (PROTOCOL.md §20.3): each record sealed under what its
/// readers know and the node does not — the lost device's id for a tombstone, the
/// tombstone's digest (which the succession slot's key hides) for a succession.
#[test]
fn tombstones_and_successions_are_sealed_under_what_their_readers_know() {
    use dsm_recovery::succession::{
        open_succession, open_tombstone, seal_succession, seal_tombstone, succession_slot,
        tombstone_slot,
    };
    let w = world();
    let (t, s) = records(&w);
    let authority = w.keys.authority_key().public_key().clone();
    let sealed_t = seal_tombstone(&t);
    assert_eq!(
        seal_tombstone(&t),
        sealed_t,
        "deterministic: a rerun writes the same bytes"
    );
    assert_eq!(open_tombstone(&w.lost, &sealed_t), Some(t.clone()));
    assert_eq!(open_tombstone(&w.successor, &sealed_t), None);
    assert_eq!(open_tombstone(&w.lost, &t.to_bytes()), None, "in clear");
    let sealed_s = seal_succession(&s);
    assert_eq!(open_succession(&t.record, &sealed_s), Some(s.clone()));
    assert_eq!(open_succession(&t.record, &s.to_bytes()), None, "in clear");
    assert_eq!(open_succession(&t.record, &sealed_t), None);
    let mut other = t.record.clone();
    other.recovered_head.height += 1;
    assert_eq!(open_succession(&other, &sealed_s), None);
    // Nothing the node holds names the lost device, its genesis or the tombstone.
    let (owner, key_t) = tombstone_slot(&w.lost, &authority);
    let (owner_s, key_s) = succession_slot(&t.record, &authority);
    assert_eq!(owner, owner_s);
    let held = [owner.0, key_t.0, key_s.0].concat();
    let held = [held.as_slice(), &sealed_t, &sealed_s].concat();
    for secret in [
        w.lost.device_id().0 .0,
        w.lost.genesis.0 .0,
        t.record.digest().0,
        w.successor.device_id().0 .0,
    ] {
        assert!(!held.windows(32).any(|x| x == secret));
    }
    // Another authority key names other slots.
    let (elsewhere, _) = tombstone_slot(&w.lost, key(7).public_key());
    assert_ne!(elsewhere, owner);
}

#[test]
fn every_bad_succession_is_refused() {
    let w = world();
    let (t, s) = records(&w);
    // Another genesis.
    let mut g = w.genesis.clone();
    g.contributions[0].secret = [7; 32];
    assert_eq!(
        verify_succession(&g, &t, &s).err(),
        Some(SuccessionError::WrongGenesis)
    );
    // A genesis without a recovery authority cannot be recovered (its digest differs, so
    // build the lost identity under it).
    let mut plain = w.genesis.clone();
    plain.recovery_authority = None;
    let mut tp = t.clone();
    tp.record.lost.genesis = plain.digest();
    assert_eq!(
        verify_succession(&plain, &tp, &s).err(),
        Some(SuccessionError::NoAuthority)
    );
    // The recovered head is another device's.
    let mut th = t.clone();
    th.record.recovered_head.device = w.successor.device_id();
    assert_eq!(
        verify_succession(&w.genesis, &th, &s).err(),
        Some(SuccessionError::HeadNotOfLostDevice)
    );
    // Signed by someone else (the lost device's own key is not the authority).
    let forged_t = sign_tombstone(&key(1), t.record.clone());
    assert_eq!(
        verify_succession(&w.genesis, &forged_t, &s).err(),
        Some(SuccessionError::Signature("tombstone"))
    );
    let forged_s = sign_succession(&key(2), s.record.clone());
    assert_eq!(
        verify_succession(&w.genesis, &t, &forged_s).err(),
        Some(SuccessionError::Signature("succession"))
    );
    // Every single bit of both signatures matters.
    for which in 0..2 {
        let sig = if which == 0 {
            t.signature.to_bytes()
        } else {
            s.signature.to_bytes()
        };
        for i in (0..sig.len() * 8).step_by(97) {
            let mut b = sig.clone();
            b[i / 8] ^= 1 << (i % 8);
            let Ok(bad) = dsm_core::crypto::Signature::from_bytes(&b) else {
                continue;
            };
            let (mut t2, mut s2) = (t.clone(), s.clone());
            if which == 0 {
                t2.signature = bad;
            } else {
                s2.signature = bad;
            }
            assert!(verify_succession(&w.genesis, &t2, &s2).is_err(), "bit {i}");
        }
    }
    // The succession cites another tombstone.
    let a = w.keys.authority_key();
    let other = sign_succession(
        &a,
        Succession {
            tombstone: Digest([5; 32]),
            successor: w.successor.clone(),
        },
    );
    assert_eq!(
        verify_succession(&w.genesis, &t, &other).err(),
        Some(SuccessionError::WrongTombstone)
    );
    // The successor is the lost device itself, or of another identity.
    for successor in [
        w.lost.clone(),
        DeviceIdentity {
            genesis: GenesisDigest(Digest([6; 32])),
            public_key: key(3).public_key().clone(),
        },
    ] {
        let bad = sign_succession(
            &a,
            Succession {
                tombstone: t.record.digest(),
                successor,
            },
        );
        assert_eq!(
            verify_succession(&w.genesis, &t, &bad).err(),
            Some(SuccessionError::BadSuccessor)
        );
    }
}

#[test]
fn notices_prove_the_tip_and_answers_bind_the_counterparty() {
    let w = world();
    let (t, s) = records(&w);
    let peer = key(4);
    let peer_id = DeviceIdentity {
        genesis: GenesisDigest(Digest([8; 32])),
        public_key: peer.public_key().clone(),
    };
    let rel = RelationshipKey::between(&w.lost.device_id(), &peer_id.device_id());
    let mut tree = dsm_core::smt::SparseMerkleTree::new();
    tree.insert(*rel.as_bytes(), Digest([0x44; 32]));
    let mut t_tree = t.clone();
    t_tree.record.recovered_head.smt_root = tree.root();
    let a = w.keys.authority_key();
    let t_tree = sign_tombstone(&a, t_tree.record);
    let s_tree = sign_succession(
        &a,
        Succession {
            tombstone: t_tree.record.digest(),
            successor: w.successor.clone(),
        },
    );
    let notice = SuccessionNotice {
        genesis: w.genesis.clone(),
        tombstone: t_tree.clone(),
        succession: s_tree.clone(),
        counterparty: peer_id.device_id(),
        proof: tree.prove(rel.as_bytes()),
        pending: vec![],
        pending_lineage: vec![],
        successor_document: Vec::new(),
        pending_sealed: Vec::new(),
    };
    let (_, r, tip) = notice.verify().unwrap();
    assert_eq!((r, tip), (rel, Some(TipDigest(Digest([0x44; 32])))));
    // The verdict rule: the tip held decides, a held conflict overrides.
    let recovered = Some(TipDigest(Digest([0x44; 32])));
    assert_eq!(
        notice.verdict(&rel, recovered, recovered, false),
        Verdict::Acknowledged
    );
    assert_eq!(
        notice.verdict(&rel, recovered, recovered, true),
        Verdict::Conflict
    );
    let other = Some(TipDigest(Digest([0x45; 32])));
    assert_eq!(
        notice.verdict(&rel, recovered, other, false),
        Verdict::Stale
    );
    assert_eq!(notice.verdict(&rel, recovered, None, false), Verdict::Stale);
    assert_eq!(
        notice.verdict(&rel, None, None, false),
        Verdict::Acknowledged
    );
    assert_eq!(
        notice.verdict(&rel, None, Some(rel.genesis_tip()), false),
        Verdict::Acknowledged
    );
    // A release tip is acknowledged only for the notice's own refused pending proposal.
    let release = Some(dsm_core::receipt::release_tip(&TipDigest(Digest(
        [0x44; 32],
    ))));
    assert_eq!(
        notice.verdict(&rel, recovered, release, false),
        Verdict::Stale
    );
    let msg = RecoveryMessage::Notice(Box::new(notice.clone()));
    assert_eq!(RecoveryMessage::from_bytes(&msg.to_bytes()).unwrap(), msg);
    // A proof for another root is refused.
    let mut bad = notice.clone();
    bad.proof = dsm_core::smt::SparseMerkleTree::new().prove(rel.as_bytes());
    assert_eq!(bad.verify().err(), Some(SuccessionError::Proof));
    let _ = s;

    // The answer binds the succession and the counterparty.
    let answer = SuccessionAnswer {
        succession: s_tree.record.digest(),
        counterparty: peer_id.clone(),
        held_tip: TipDigest(Digest([0x44; 32])),
        verdict: Verdict::Acknowledged,
    }
    .sign(&peer, &[0; 32]);
    assert!(verify_answer(&answer, &s_tree.record.digest(), &peer_id.device_id()).is_ok());
    assert_eq!(
        verify_answer(&answer, &Digest([1; 32]), &peer_id.device_id()),
        Err(SuccessionError::Answer)
    );
    assert_eq!(
        verify_answer(&answer, &s_tree.record.digest(), &w.lost.device_id()),
        Err(SuccessionError::Answer)
    );
    let mut flipped = answer.clone();
    flipped.record.verdict = Verdict::Conflict;
    assert_eq!(
        verify_answer(&flipped, &s_tree.record.digest(), &peer_id.device_id()),
        Err(SuccessionError::Answer)
    );
    let m = RecoveryMessage::Answer {
        answer: Box::new(answer),
        pending_answer: vec![vec![1, 2, 3], vec![4]],
        conflict: None,
    };
    assert_eq!(RecoveryMessage::from_bytes(&m.to_bytes()).unwrap(), m);
    // An unknown verdict does not decode.
    let mut enc = SuccessionAnswer {
        succession: Digest([1; 32]),
        counterparty: peer_id,
        held_tip: TipDigest(Digest([2; 32])),
        verdict: Verdict::Stale,
    }
    .to_bytes();
    let last = enc.len() - 1;
    enc[last] = 9;
    assert_eq!(
        format!("{:?}", SuccessionAnswer::from_bytes(&enc).unwrap_err()),
        "Invalid(\"unknown succession verdict\")"
    );
}

fn body(head: &DeviceHead) -> CapsuleBody {
    CapsuleBody {
        head: head.clone(),
        tips: vec![],
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
    }
}

#[test]
fn a_stream_replays_only_when_every_capsule_is_consistent() {
    let w = world();
    let k = &w.keys;
    let create = DeviceHead::initial(w.lost.device_id(), &w.lost.genesis);
    let mut b0 = body(&create);
    b0.genesis = Some(w.genesis.clone());
    b0.identity = Some(w.lost.clone());
    let authority = w.keys.authority_key().public_key().clone();
    let admitted = dsm_core::slot::admit_authority(&key(1), &w.lost, &authority).unwrap();
    b0.authority_admission = Some(admitted.clone());
    let c0 = k.seal(0, Digest::ZERO, &b0.to_bytes());
    // Parcels of 25 DEV: the held set adds up to the head's balances after every capsule.
    let entry = |b: u8| dsm_recovery::body::HeldEntry {
        id: dsm_core::parcel::ParcelId(Digest([b; 32])),
        token: TokenId::from_label("DEV"),
        amount: Amount(25),
        manifest: Digest([b ^ 0xff; 32]),
    };
    let mut b1 = body(&w.head);
    b1.held = vec![entry(1), entry(2)];
    b1.contacts = vec![ContactEntry {
        name: "bob".into(),
        device: w.successor.device_id(),
        document: None,
    }];
    b1.policies = vec![vec![1, 2, 3]];
    let c1 = k.seal(1, c0.digest(), &b1.to_bytes());
    assert_eq!(CapsuleBody::from_bytes(&b1.to_bytes()).unwrap(), b1);
    let st = replay(&k.capsules, &[c0.clone(), c1.clone()]).unwrap();
    assert_eq!(st.head, w.head);
    assert_eq!(st.capsules, 2);
    assert_eq!(st.last_digest, c1.digest());
    assert_eq!(st.contacts["bob"], w.successor.device_id());
    assert_eq!(
        st.head.balances.get(&TokenId::from_label("DEV")),
        Amount(50)
    );

    let inconsistent = |chain: &[dsm_recovery::Capsule]| match replay(&k.capsules, chain) {
        Err(ReplayError::Inconsistent { .. }) => {}
        other => panic!("{:?}", other.map(|s| s.capsules)),
    };
    // No genesis in the first capsule.
    inconsistent(&[k.seal(0, Digest::ZERO, &body(&create).to_bytes())]);
    // The device's admission of the authority (§15.2): missing, signed by another key, or
    // again in a later capsule.
    let mut unadmitted = b0.clone();
    unadmitted.authority_admission = None;
    inconsistent(&[k.seal(0, Digest::ZERO, &unadmitted.to_bytes())]);
    unadmitted.authority_admission =
        Some(dsm_core::slot::admit_authority(&key(2), &w.lost, &authority).unwrap());
    inconsistent(&[k.seal(0, Digest::ZERO, &unadmitted.to_bytes())]);
    let mut twice = body(&w.head);
    twice.authority_admission = Some(admitted.clone());
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &twice.to_bytes())]);
    assert_eq!(
        replay(&k.capsules, std::slice::from_ref(&c0))
            .unwrap()
            .authority_admission,
        Some(admitted)
    );
    // A head that does not follow.
    let mut jump = w.head.clone();
    jump.height = 5;
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &body(&jump).to_bytes())]);
    // A tip that is not in the head's tree.
    let mut b_tip = body(&w.head);
    b_tip.tips = vec![TipEntry {
        relationship: RelationshipKey::between(&w.lost.device_id(), &w.successor.device_id()),
        counterparty: w.successor.device_id(),
        tip: TipDigest(Digest([1; 32])),
        owner: None,
        document: None,
    }];
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &b_tip.to_bytes())]);
    // A tip filed under the wrong counterparty.
    let mut wrong = b_tip.clone();
    wrong.tips[0].counterparty = w.lost.device_id();
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &wrong.to_bytes())]);
    // A second genesis, or a device of another identity.
    let mut again = body(&w.head);
    again.genesis = Some(w.genesis.clone());
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &again.to_bytes())]);
    let mut alien = body(&w.head);
    alien.identity = Some(DeviceIdentity {
        genesis: GenesisDigest(Digest([6; 32])),
        public_key: key(3).public_key().clone(),
    });
    inconsistent(&[c0.clone(), k.seal(1, c0.digest(), &alien.to_bytes())]);
    // The held set: a capsule adds parcels and the next replaces one of them (a re-issue:
    // the head does not change); spending a parcel the device does not hold, or a held set
    // that does not add up to the head's balances, is inconsistent.
    let mut adds = body(&w.head);
    adds.held = vec![entry(1), entry(2)];
    adds.packs = 2;
    let a1 = k.seal(1, c0.digest(), &adds.to_bytes());
    let mut swaps = body(&w.head);
    swaps.spent = vec![entry(1).id];
    swaps.held = vec![entry(3)];
    let a2 = k.seal(2, a1.digest(), &swaps.to_bytes());
    let st = replay(&k.capsules, &[c0.clone(), a1.clone(), a2.clone()]).unwrap();
    assert_eq!(
        st.held.keys().copied().collect::<Vec<_>>(),
        vec![entry(2).id, entry(3).id]
    );
    assert_eq!(st.packs, vec![(1, 2)]);
    let mut unheld = body(&w.head);
    unheld.spent = vec![entry(4).id];
    unheld.held = vec![entry(5)];
    inconsistent(&[
        c0.clone(),
        a1.clone(),
        k.seal(2, a1.digest(), &unheld.to_bytes()),
    ]);
    let mut short = body(&w.head);
    short.spent = vec![entry(1).id];
    inconsistent(&[
        c0.clone(),
        a1.clone(),
        k.seal(2, a1.digest(), &short.to_bytes()),
    ]);
    inconsistent(&[
        c0.clone(),
        k.seal(1, c0.digest(), &body(&w.head).to_bytes()),
    ]);
    // A change in two capsules (`parts`): applied whole; its second part missing at the
    // nodes, the backup is restored up to the change before; a continuation that carries
    // more than the rest of its change is inconsistent.
    let mut big = body(&w.head);
    big.spent = vec![entry(1).id];
    big.held = vec![entry(3)];
    big.parts = 2;
    let p1 = k.seal(2, a1.digest(), &big.to_bytes());
    let mut rest = body(&w.head);
    rest.spent = vec![entry(2).id];
    rest.held = vec![entry(4)];
    let p2 = k.seal(3, p1.digest(), &rest.to_bytes());
    let st = replay(
        &k.capsules,
        &[c0.clone(), a1.clone(), p1.clone(), p2.clone()],
    )
    .unwrap();
    assert_eq!(
        st.held.keys().copied().collect::<Vec<_>>(),
        vec![entry(3).id, entry(4).id]
    );
    assert_eq!(st.capsules, 4);
    let st = replay(&k.capsules, &[c0.clone(), a1.clone(), p1.clone()]).unwrap();
    assert_eq!(
        st.held.keys().copied().collect::<Vec<_>>(),
        vec![entry(1).id, entry(2).id],
        "the incomplete change is not applied"
    );
    assert_eq!(st.capsules, 2);
    let mut extra = rest.clone();
    extra.contacts = vec![ContactEntry {
        name: "eve".into(),
        device: w.successor.device_id(),
        document: None,
    }];
    inconsistent(&[
        c0.clone(),
        a1.clone(),
        p1.clone(),
        k.seal(3, p1.digest(), &extra.to_bytes()),
    ]);
    // Plaintext that is not a body.
    inconsistent(&[k.seal(0, Digest::ZERO, b"not a capsule body")]);
    // The wrong phrase opens nothing.
    let other = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[10; 32]), CHEAP).unwrap();
    assert!(matches!(
        replay(&other.capsules, std::slice::from_ref(&c0)),
        Err(ReplayError::Open { index: 0, .. })
    ));
    assert!(matches!(replay(&k.capsules, &[]), Err(ReplayError::Empty)));
    // A second device in one stream is refused; a successor writes its own generation's
    // stream, whose capsule 0 carries the genesis and its identity.
    let succ_create = DeviceHead::initial(w.successor.device_id(), &w.successor.genesis);
    let succ_head = succ_create
        .succession_child(w.head.balances.clone(), Digest([7; 32]))
        .unwrap();
    let mut b2 = body(&succ_head);
    b2.identity = Some(w.successor.clone());
    b2.held = vec![entry(7), entry(8)];
    inconsistent(&[
        c0.clone(),
        c1.clone(),
        k.seal(2, c1.digest(), &b2.to_bytes()),
    ]);
    let g1 = k.generation(1);
    assert_ne!(g1.stream, k.stream());
    b2.genesis = Some(w.genesis.clone());
    b2.authority_admission =
        Some(dsm_core::slot::admit_authority(&key(2), &w.successor, &authority).unwrap());
    let s0 = g1.seal(0, Digest::ZERO, &b2.to_bytes());
    assert!(
        k.open(&s0).is_err(),
        "generation 0's key cannot read generation 1"
    );
    let st = replay(&g1, &[s0]).unwrap();
    assert_eq!(st.identity, w.successor);
    assert_eq!(st.head.balances, w.head.balances);
    let _: Balances = st.head.balances;
}
