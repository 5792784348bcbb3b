//! Recovery conformance vectors (PROTOCOL.md §20.8): `tests/vectors/recovery-v1.txt` pins
//! the phrase, the keys derived from it with the default Argon2id cost, a sealed capsule
//! and its body, the slot keys, and signed tombstone, succession, answer and notice, all
//! from fixed inputs (the authority signs deterministically; the answer uses zero signing
//! randomness). An independent protobuf implementation (prost-reflect, driven only by
//! proto/dsm.proto) re-encodes every message vector to the same bytes. Regenerate with
//! DSM_WRITE_VECTORS=1 after a deliberate, versioned change.

use dsm_core::chain::{Amount, DeviceHead, RelationshipKey, TipDigest, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceIdentity, EntropyReveal, GenesisRecord};
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use dsm_recovery::body::{CapsuleBody, ContactEntry, TipEntry};
use dsm_recovery::succession::*;
use dsm_recovery::{KdfCost, RecoveryKeys, RecoveryMnemonic};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/recovery-v1.txt");

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([seed; 32]))
}

fn compute() -> Vec<dsm_conformance::Vector> {
    let mut v = Vec::new();
    let mut put = |name: &str, ty: &'static str, bytes: &[u8]| {
        v.push((name.to_string(), ty, hex::encode(bytes)))
    };
    let phrase = RecoveryMnemonic::from_entropy(&[0x5a; 32]);
    put("phrase.5a", "-", phrase.words().join(" ").as_bytes());
    let keys = RecoveryKeys::derive(&phrase, KdfCost::default()).unwrap();
    put("keys.stream.generation-0", "-", keys.stream().as_bytes());
    put(
        "keys.stream.generation-1",
        "-",
        keys.generation(1).stream.as_bytes(),
    );
    put(
        "keys.stream.generation-0.slot-owner",
        "-",
        keys.generation(0).slot_owner().as_bytes(),
    );
    let authority = keys.authority_key();
    put(
        "keys.authority",
        "dsm.v1.PublicKey",
        &authority.public_key().to_bytes(),
    );
    put(
        "slot.capsule.0",
        "-",
        tagged_hash(Tag::RecoverySlot, &[&0u64.to_be_bytes()]).as_bytes(),
    );
    put(
        "slot.capsule.1",
        "-",
        tagged_hash(Tag::RecoverySlot, &[&1u64.to_be_bytes()]).as_bytes(),
    );

    let genesis = GenesisRecord {
        founding_key: key(1).public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: Some(authority.public_key().clone()),
    };
    put(
        "genesis.recoverable",
        "dsm.v1.GenesisRecord",
        &genesis.to_bytes(),
    );
    put(
        "genesis.recoverable.digest",
        "-",
        genesis.digest().as_bytes(),
    );
    let lost = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: key(1).public_key().clone(),
    };
    let authority_key = genesis.recovery_authority.clone().unwrap();
    let (owner, slot) = dsm_recovery::succession::tombstone_slot(&lost, &authority_key);
    put("slot.tombstone.owner", "-", owner.as_bytes());
    put("slot.tombstone.key", "-", slot.as_bytes());
    put(
        "capsule.authority_admission(device 1)",
        "dsm.v1.Signature",
        &dsm_core::slot::admit_authority(&key(1), &lost, &authority_key)
            .unwrap()
            .to_bytes(),
    );
    let peer = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: key(3).public_key().clone(),
    };
    let rel = RelationshipKey::between(&lost.device_id(), &peer.device_id());
    let tip = TipDigest(Digest([0x44; 32]));
    let mut tree = SparseMerkleTree::new();
    tree.insert(*rel.as_bytes(), tip.0);
    let mut head = DeviceHead::initial(lost.device_id(), &lost.genesis)
        .allocation_child(&TokenId::from_label("DEV"), Amount(500), Digest([3; 32]))
        .unwrap();
    head = DeviceHead {
        height: head.height + 1,
        parent: head.digest(),
        smt_root: tree.root(),
        kind: dsm_core::chain::TransitionKind::Credit,
        cause: tip.0,
        ..head
    };
    let body = CapsuleBody {
        head: head.clone(),
        tips: vec![TipEntry {
            relationship: rel,
            counterparty: peer.device_id(),
            tip,
            owner: Some(Digest([0x66; 32])),
            document: Some(Digest([0x55; 32])),
        }],
        pending: vec![],
        contacts: vec![ContactEntry {
            name: "bob".into(),
            device: peer.device_id(),
            document: None,
        }],
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
    put("capsule.body", "dsm.v1.CapsuleBody", &body.to_bytes());
    let c = keys.seal(2, Digest([0x11; 32]), &body.to_bytes());
    put("capsule.sealed", "dsm.v1.Capsule", &c.to_bytes());
    put("capsule.sealed.digest", "-", c.digest().as_bytes());
    // The held set's change and an object pack (§20.2).
    let with_parcels = CapsuleBody {
        held: vec![dsm_recovery::body::HeldEntry {
            id: dsm_core::parcel::ParcelId(Digest([0x21; 32])),
            token: TokenId::from_label("DEV"),
            amount: Amount(500),
            manifest: Digest([0x22; 32]),
        }],
        spent: vec![dsm_core::parcel::ParcelId(Digest([0x23; 32]))],
        packs: 1,
        offers: vec![Digest([0x24; 32])],
        ..body.clone()
    };
    put(
        "capsule.body.parcels",
        "dsm.v1.CapsuleBody",
        &with_parcels.to_bytes(),
    );
    let pack = dsm_recovery::body::ObjectPack {
        objects: vec![vec![1, 2, 3], vec![4, 5]],
    };
    put("pack.plain", "dsm.v1.ObjectPack", &pack.to_bytes());
    put(
        "capsule.contact.with_document",
        "dsm.v1.ContactEntry",
        &ContactEntry {
            name: "bob".into(),
            device: dsm_core::identity::DeviceId(Digest([0x07; 32])),
            document: Some(Digest([0x08; 32])),
        }
        .to_bytes(),
    );
    put(
        "pack.position",
        "-",
        dsm_recovery::pack_position(2, 1).as_bytes(),
    );
    let sealed = keys.generation(0).seal_pack(2, 1, &pack.to_bytes());
    put("pack.sealed", "dsm.v1.SealedPack", &sealed.to_bytes());
    // A backup file (§20.9): a two-record snapshot sealed under generation 0's key.
    let snapshot = dsm_recovery::backup::WalletSnapshot {
        device: Digest([0x01; 32]),
        head: Digest([0x02; 32]),
        records: vec![
            dsm_recovery::backup::Record {
                table: 1,
                key: b"head".to_vec(),
                value: vec![3, 4],
            },
            dsm_recovery::backup::Record {
                table: 2,
                key: vec![5; 32],
                value: Vec::new(),
            },
        ],
    };
    put(
        "backup.snapshot",
        "dsm.v1.WalletSnapshot",
        &snapshot.to_bytes(),
    );
    put(
        "backup.file",
        "-",
        &dsm_recovery::backup::seal(&keys.generation(0), 0, &snapshot, [0x06; 24]),
    );

    let t = sign_tombstone(
        &authority,
        Tombstone {
            lost: lost.clone(),
            recovered_head: head,
        },
    );
    put("tombstone", "dsm.v1.Tombstone", &t.record.to_bytes());
    put("tombstone.digest", "-", t.record.digest().as_bytes());
    put("tombstone.signed", "dsm.v1.SignedTombstone", &t.to_bytes());
    put(
        "tombstone.sealed",
        "-",
        &dsm_recovery::succession::seal_tombstone(&t),
    );
    let successor = DeviceIdentity {
        genesis: genesis.digest(),
        public_key: key(2).public_key().clone(),
    };
    let s = sign_succession(
        &authority,
        Succession {
            tombstone: t.record.digest(),
            successor,
        },
    );
    put("succession", "dsm.v1.Succession", &s.record.to_bytes());
    put("succession.digest", "-", s.record.digest().as_bytes());
    put(
        "succession.signed",
        "dsm.v1.SignedSuccession",
        &s.to_bytes(),
    );
    let (owner, slot) = dsm_recovery::succession::succession_slot(&t.record, &authority_key);
    put("slot.succession.owner", "-", owner.as_bytes());
    put("slot.succession.key", "-", slot.as_bytes());
    put(
        "succession.sealed",
        "-",
        &dsm_recovery::succession::seal_succession(&s),
    );
    let record = SuccessionRecord {
        genesis: genesis.clone(),
        tombstone: t.clone(),
        succession: s.clone(),
    };
    put(
        "succession.record",
        "dsm.v1.SuccessionRecord",
        &record.to_bytes(),
    );
    let notice = RecoveryMessage::Notice(Box::new(SuccessionNotice {
        genesis: genesis.clone(),
        tombstone: t.clone(),
        succession: s.clone(),
        counterparty: peer.device_id(),
        proof: tree.prove(rel.as_bytes()),
        pending: vec![],
        pending_lineage: vec![],
        successor_document: Vec::new(),
        pending_sealed: Vec::new(),
    }));
    put(
        "message.notice",
        "dsm.v1.RecoveryMessage",
        &notice.to_bytes(),
    );
    let answer = SuccessionAnswer {
        succession: s.record.digest(),
        counterparty: peer.clone(),
        held_tip: tip,
        verdict: Verdict::Acknowledged,
    }
    .sign(&key(3), &[0; 32]);
    put("answer.signed", "dsm.v1.SignedAnswer", &answer.to_bytes());
    let reply = RecoveryMessage::Answer {
        answer: Box::new(answer),
        pending_answer: Vec::new(),
        conflict: None,
    };
    put(
        "message.answer",
        "dsm.v1.RecoveryMessage",
        &reply.to_bytes(),
    );
    v
}

#[test]
fn vectors_match_the_file() {
    let text = dsm_conformance::render(
        "DSM recovery v1 conformance vectors: name<TAB>proto message or -<TAB>hex (PROTOCOL.md §20.8)",
        &compute(),
    );
    dsm_conformance::check_file(PATH, &text);
}

#[test]
fn message_vectors_round_trip_through_the_published_schema() {
    let checked = dsm_conformance::round_trip_file(PATH);
    assert!(checked >= 10, "only {checked} message vectors");
}
