//! Tagged hashing: domain separation, injectivity of the field framing, the SMT hot-path
//! hashes, relationship keys and the hex form of digests.

use dsm_core::chain::{RelationshipKey, TokenId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::smt::{empty_root, leaf_hash, node_hash};
use dsm_core::tags::Tag;
use proptest::prelude::*;
use std::collections::HashSet;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>().prop_map(Digest)
}

fn device_id() -> impl Strategy<Value = DeviceId> {
    digest().prop_map(DeviceId)
}

// ---------------------------------------------------------------------------------------
// The tag table
// ---------------------------------------------------------------------------------------

#[test]
fn tag_labels_are_distinct() {
    let labels: HashSet<&str> = Tag::ALL.iter().map(|t| t.label()).collect();
    assert_eq!(labels.len(), Tag::ALL.len(), "two tags share a label");
    let tags: HashSet<Tag> = Tag::ALL.iter().copied().collect();
    assert_eq!(tags.len(), Tag::ALL.len(), "Tag::ALL lists a tag twice");
}

#[test]
fn no_tag_label_is_a_prefix_of_another() {
    for a in Tag::ALL {
        for b in Tag::ALL {
            if a != b {
                assert!(
                    !b.label().starts_with(a.label()),
                    "{:?} label {:?} is a prefix of {:?} label {:?}",
                    a,
                    a.label(),
                    b,
                    b.label()
                );
            }
        }
    }
}

#[test]
fn tag_labels_are_versioned_ascii_and_fit_the_pair_buffer() {
    for t in Tag::ALL {
        let l = t.label();
        assert!(l.starts_with("DSM/v1/"), "{t:?}: {l}");
        assert!(l.is_ascii(), "{t:?}: {l}");
        // `tagged_hash_pair` frames the label in a 64-byte slot.
        assert!(l.len() <= 64, "{t:?}: label is {} bytes", l.len());
        assert!(l.len() > "DSM/v1/".len(), "{t:?}: empty purpose");
    }
}

/// The table is normative and frozen: changing a label silently changes every digest.
#[test]
fn tag_labels_are_frozen() {
    let expected = [
        (Tag::EntropyCommitment, "DSM/v1/entropy-commitment"),
        (Tag::Genesis, "DSM/v1/genesis"),
        (Tag::DeviceId, "DSM/v1/device-id"),
        (Tag::RelationshipKey, "DSM/v1/relationship-key"),
        (Tag::RelationshipGenesis, "DSM/v1/relationship-genesis"),
        (Tag::RelationshipTip, "DSM/v1/relationship-tip"),
        (Tag::DeviceHead, "DSM/v1/device-head"),
        (Tag::SmtEmpty, "DSM/v1/smt-empty"),
        (Tag::SmtLeaf, "DSM/v1/smt-leaf"),
        (Tag::SmtNode, "DSM/v1/smt-node"),
        (Tag::ProposalCommit, "DSM/v1/proposal-commit"),
        (Tag::AcceptanceCommit, "DSM/v1/acceptance-commit"),
        (Tag::Receipt, "DSM/v1/receipt"),
        (Tag::Statement, "DSM/v1/statement"),
        (Tag::Token, "DSM/v1/token"),
        (Tag::SlhDsaKeySeed, "DSM/v1/slh-dsa-key-seed"),
        (Tag::DevAllocation, "DSM/v1/dev-allocation"),
        (Tag::RefusalCommit, "DSM/v1/refusal-commit"),
        (Tag::ReleaseTip, "DSM/v1/release-tip"),
        (Tag::ObjectAddress, "DSM/v1/object-address"),
        (Tag::Placement, "DSM/v1/placement"),
        (Tag::B0xAddress, "DSM/v1/b0x-address"),
        (Tag::EntropyContributor, "DSM/v1/entropy-contributor"),
        (Tag::EntropyCeremony, "DSM/v1/entropy-ceremony"),
        (Tag::InsecureTestSignature, "DSM/v1/insecure-test-signature"),
        (Tag::TokenPolicy, "DSM/v1/cpta-policy"),
        (Tag::MintStatement, "DSM/v1/mint-statement"),
        (Tag::BurnStatement, "DSM/v1/burn-statement"),
        (Tag::SourceProof, "DSM/v1/source-proof"),
        (Tag::AllowlistMember, "DSM/v1/allowlist-member"),
        (Tag::DjteJoin, "DSM/v1/djte/join"),
        (Tag::DjteShard, "DSM/v1/djte/shard"),
        (Tag::DjteActive, "DSM/v1/djte/active"),
        (Tag::DjteSeed, "DSM/v1/djte/seed"),
        (Tag::DjteReseed, "DSM/v1/djte/reseed"),
        (Tag::DjteMmrNode, "DSM/v1/djte/mmr-node"),
        (Tag::DjteMmrRoot, "DSM/v1/djte/mmr-root"),
        (Tag::DjteCountLeaf, "DSM/v1/djte/count-leaf"),
        (Tag::DjteCountNode, "DSM/v1/djte/count-node"),
        (Tag::DjteState, "DSM/v1/djte/state"),
        (Tag::DjteSpent, "DSM/v1/djte/spent"),
        (Tag::DjteReceipt, "DSM/v1/djte/receipt"),
        (Tag::DlvVaultId, "DSM/v1/dlv/vault-id"),
        (Tag::DlvAuthorize, "DSM/v1/dlv/authorize"),
        (Tag::DlvLock, "DSM/v1/dlv/lock"),
        (Tag::DlvWorkSeed, "DSM/v1/dlv/work-seed"),
        (Tag::DlvWorkStep, "DSM/v1/dlv/work-step"),
        (Tag::DlvResolution, "DSM/v1/dlv/resolution"),
        (Tag::DbtcDeposit, "DSM/v1/dbtc/deposit"),
        (Tag::DbtcOutpoint, "DSM/v1/dbtc/outpoint"),
        (Tag::DbtcWithdrawal, "DSM/v1/dbtc/withdrawal"),
        (Tag::DbtcDecline, "DSM/v1/dbtc/decline"),
        (Tag::RecoveryRing, "DSM/v1/recovery/ring"),
        (Tag::RecoveryCapsuleKey, "DSM/v1/recovery/sealing-key"),
        (Tag::RecoveryAuthority, "DSM/v1/recovery/authority"),
        (Tag::RecoveryStream, "DSM/v1/recovery/stream"),
        (Tag::RecoveryNonce, "DSM/v1/recovery/nonce"),
        (Tag::RecoveryCapsule, "DSM/v1/recovery/capsule"),
        (Tag::RecoverySlot, "DSM/v1/recovery/slot"),
        (Tag::RecoveryPack, "DSM/v1/recovery/pack"),
        (Tag::RecoveryTombstone, "DSM/v1/recovery/tombstone"),
        (Tag::RecoverySuccession, "DSM/v1/recovery/succession"),
        (Tag::RecoveryAnswer, "DSM/v1/recovery/answer"),
        (Tag::SourceOnce, "DSM/v1/source-once"),
        (Tag::ParcelRoot, "DSM/v1/parcel/root"),
        (Tag::ParcelStatement, "DSM/v1/parcel/statement"),
        (Tag::TransferCommit, "DSM/v1/transfer-commit"),
        (Tag::ParcelOutput, "DSM/v1/parcel/output"),
        (Tag::ParcelSink, "DSM/v1/parcel/sink"),
        (Tag::ParcelSlot, "DSM/v1/parcel/slot"),
        (Tag::MintSlot, "DSM/v1/mint/slot"),
        (Tag::ReissueStatement, "DSM/v1/reissue/statement"),
        (Tag::ReissueBurn, "DSM/v1/reissue/burn"),
        (Tag::ReissueSlot, "DSM/v1/reissue/slot"),
        (Tag::SlotKey, "DSM/v1/slot/key"),
        (Tag::SlotOwner, "DSM/v1/slot/owner"),
        (Tag::RecoveryOwner, "DSM/v1/slot/recovery-owner"),
        (Tag::SlotBody, "DSM/v1/slot/body"),
        (Tag::SlotWrite, "DSM/v1/slot/write"),
        (Tag::SlotDelegation, "DSM/v1/slot/delegation"),
        (Tag::RecoveryStreamSigner, "DSM/v1/recovery/writer"),
        (Tag::SlotParties, "DSM/v1/slot/parties"),
        (Tag::ContactCard, "DSM/v1/card"),
        (Tag::WalletRecord, "DSM/v1/wallet/record"),
        (Tag::BackupFile, "DSM/v1/backup/file"),
        (Tag::ContactDocument, "DSM/v1/contact/signed"),
        (Tag::ContactDocumentKey, "DSM/v1/contact/sealing-key"),
        (Tag::DeviceKemSeed, "DSM/v1/kem/seed"),
        (Tag::B0xItem, "DSM/v1/b0x-item"),
        (Tag::B0xAccess, "DSM/v1/b0x-access"),
        (Tag::TombstoneSlot, "DSM/v1/recovery/grave-slot"),
        (Tag::SigningRandomness, "DSM/v1/test/signing-randomness"),
        (Tag::ReproducibleEntropy, "DSM/v1/test/entropy"),
        (Tag::Fixture, "DSM/v1/test/fixture"),
        (Tag::SealRandomness, "DSM/v1/b0x-seal-randomness"),
        (Tag::B0xRelationship, "DSM/v1/b0x-relationship"),
        (Tag::B0xReplyTo, "DSM/v1/b0x-reply-to"),
        (Tag::B0xBlind, "DSM/v1/b0x-blind"),
        (Tag::GenesisBlind, "DSM/v1/slot/genesis-blind"),
        (Tag::DeviceSlots, "DSM/v1/slot/device"),
        (Tag::AnchorSlot, "DSM/v1/anchor/slot"),
        (Tag::AnchorSeal, "DSM/v1/anchor/seal"),
        (Tag::ParcelSeal, "DSM/v1/parcel/seal"),
        (Tag::SealedObjectLocator, "DSM/v1/sealed-object/locator"),
        (Tag::SealedObject, "DSM/v1/sealed-object/seal"),
        (Tag::MintSeal, "DSM/v1/mint/seal"),
        (Tag::ReissueSeal, "DSM/v1/reissue/seal"),
        (Tag::EmissionList, "DSM/v1/djte/list"),
        (Tag::EmissionSeal, "DSM/v1/djte/seal"),
        (Tag::SlotAuthority, "DSM/v1/slot/authority"),
        (Tag::RecoverySeal, "DSM/v1/recovery/record-seal"),
        (Tag::DlvSlot, "DSM/v1/dlv/slot"),
        (Tag::DlvSeal, "DSM/v1/dlv/seal"),
    ];
    assert_eq!(Tag::ALL.len(), expected.len());
    for (i, (tag, label)) in expected.iter().enumerate() {
        assert_eq!(Tag::ALL[i], *tag, "table order changed at {i}");
        assert_eq!(tag.label(), *label);
    }
}

// ---------------------------------------------------------------------------------------
// tagged_hash
// ---------------------------------------------------------------------------------------

#[test]
fn distinct_tags_give_distinct_digests_for_the_same_fields() {
    let field_sets: [&[&[u8]]; 5] = [
        &[],
        &[b""],
        &[b"x"],
        &[b"a", b"b"],
        &[&[0u8; 32], &[0xffu8; 32]],
    ];
    for fields in field_sets {
        let digests: HashSet<Digest> = Tag::ALL.iter().map(|t| tagged_hash(*t, fields)).collect();
        assert_eq!(
            digests.len(),
            Tag::ALL.len(),
            "two tags collide on fields {fields:?}"
        );
    }
}

#[test]
fn field_boundaries_are_unambiguous() {
    for t in Tag::ALL {
        let h = |fields: &[&[u8]]| tagged_hash(*t, fields);
        assert_ne!(
            h(&[b"ab", b"c"]),
            h(&[b"a", b"bc"]),
            "{t:?}: (ab,c) = (a,bc)"
        );
        assert_ne!(h(&[b"abc"]), h(&[b"ab", b"c"]), "{t:?}: (abc) = (ab,c)");
        assert_ne!(h(&[b"a", b""]), h(&[b"a"]), "{t:?}: (a,'') = (a)");
        assert_ne!(h(&[b"", b"a"]), h(&[b"a"]), "{t:?}: ('',a) = (a)");
        assert_ne!(h(&[b""]), h(&[]), "{t:?}: ('') = ()");
        assert_ne!(h(&[b"", b""]), h(&[b""]), "{t:?}: ('','') = ('')");
        // A field that looks like a length prefix plus a field is still one field.
        let forged: Vec<u8> = [&1u32.to_be_bytes()[..], b"a"].concat();
        assert_ne!(h(&[&forged]), h(&[b"a"]), "{t:?}: framing leaks");
        assert_ne!(h(&[b"", b"a"]), h(&[&forged]), "{t:?}: framing leaks");
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Moving the split point between two fields always changes the digest.
    #[test]
    fn moving_a_field_boundary_changes_the_digest(
        data in proptest::collection::vec(any::<u8>(), 0..48),
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
    ) {
        let i = i.index(data.len() + 1);
        let j = j.index(data.len() + 1);
        prop_assume!(i != j);
        let a = tagged_hash(Tag::Statement, &[&data[..i], &data[i..]]);
        let b = tagged_hash(Tag::Statement, &[&data[..j], &data[j..]]);
        prop_assert_ne!(a, b);
        // And neither equals the unsplit field.
        prop_assert_ne!(a, tagged_hash(Tag::Statement, &[&data]));
    }

    /// The SMT's stack-buffer hashes equal the generic framing.
    #[test]
    fn smt_pair_hashes_equal_tagged_hash(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        prop_assert_eq!(leaf_hash(&a, &Digest(b)), tagged_hash(Tag::SmtLeaf, &[&a, &b]));
        prop_assert_eq!(node_hash(&Digest(a), &Digest(b)), tagged_hash(Tag::SmtNode, &[&a, &b]));
        // Leaves and interior nodes are domain separated from each other.
        prop_assert_ne!(leaf_hash(&a, &Digest(b)), node_hash(&Digest(a), &Digest(b)));
        // Order matters.
        if a != b {
            prop_assert_ne!(node_hash(&Digest(a), &Digest(b)), node_hash(&Digest(b), &Digest(a)));
        }
    }

    #[test]
    fn relationship_key_is_symmetric(a in device_id(), b in device_id()) {
        let k = RelationshipKey::between(&a, &b);
        prop_assert_eq!(k, RelationshipKey::between(&b, &a));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert_eq!(k.0, tagged_hash(Tag::RelationshipKey, &[lo.as_bytes(), hi.as_bytes()]));
        prop_assert_eq!(k.genesis_tip().0, tagged_hash(Tag::RelationshipGenesis, &[k.as_bytes()]));
        prop_assert_ne!(k.genesis_tip().0, k.0);
    }

    #[test]
    fn relationship_key_differs_for_different_pairs(
        a in device_id(), b in device_id(), c in device_id(), d in device_id(),
    ) {
        let same_pair = (a == c && b == d) || (a == d && b == c);
        prop_assume!(!same_pair);
        prop_assert_ne!(RelationshipKey::between(&a, &b), RelationshipKey::between(&c, &d));
        // Changing one end alone changes the key, too.
        if b != c {
            prop_assert_ne!(RelationshipKey::between(&a, &b), RelationshipKey::between(&a, &c));
        }
    }

    #[test]
    fn hex_round_trips(d in digest()) {
        let s = d.to_hex();
        prop_assert_eq!(s.len(), 64);
        prop_assert!(s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        prop_assert_eq!(s.clone(), hex::encode(d.0));
        prop_assert_eq!(Digest::from_hex(&s), Some(d));
        prop_assert_eq!(Digest::from_hex(&s.to_uppercase()), Some(d));
        prop_assert_eq!(format!("{d}"), s.clone());
        prop_assert_eq!(format!("{d:?}"), s[..16].to_string());
    }

    /// `from_hex` never panics, and accepts exactly 64 hex digits.
    #[test]
    fn from_hex_accepts_exactly_64_hex_digits(
        s in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F]{60,68}",
            "[0-9a-fA-FgGxX +-]{64}",
            "[0-9a-f\u{80}-\u{10ffff}]{20,64}",
        ],
    ) {
        let ok = s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit());
        let parsed = Digest::from_hex(&s);
        prop_assert_eq!(parsed.is_some(), ok, "input {:?}", s);
        if let Some(d) = parsed {
            prop_assert_eq!(d.to_hex(), s.to_ascii_lowercase());
        }
    }

    /// Near-misses of valid hex: one character replaced, one removed, one added.
    #[test]
    fn from_hex_rejects_near_misses(
        d in digest(),
        pos in 0usize..64,
        c in any::<char>().prop_filter("not a hex digit", |c| !c.is_ascii_hexdigit()),
    ) {
        let s = d.to_hex();
        let mut replaced: String = s.chars().collect::<Vec<_>>().iter().enumerate()
            .map(|(i, x)| if i == pos { c } else { *x }).collect();
        prop_assert_eq!(Digest::from_hex(&replaced), None, "replaced: {:?}", replaced);
        replaced = s.clone();
        replaced.remove(pos);
        prop_assert_eq!(Digest::from_hex(&replaced), None);
        let mut longer = s.clone();
        longer.insert(pos, 'a');
        prop_assert_eq!(Digest::from_hex(&longer), None);
        let mut longer = s.clone();
        longer.insert(pos, c);
        prop_assert_eq!(Digest::from_hex(&longer), None);
    }
}

#[test]
fn from_hex_rejects_fixed_bad_inputs() {
    let good = "00".repeat(32);
    assert_eq!(Digest::from_hex(&good), Some(Digest::ZERO));
    let bad = [
        String::new(),
        "0".repeat(63),
        "0".repeat(65),
        "0".repeat(128),
        format!("0x{}", "0".repeat(62)),
        format!("{}g", "0".repeat(63)),
        format!("{} ", "0".repeat(63)),
        format!("+{}", "0".repeat(63)),
        format!("-{}", "0".repeat(63)),
        // 64 bytes but fewer characters: multi-byte UTF-8 must not be read as hex.
        format!("é{}", "0".repeat(62)),
        format!("{}ü", "0".repeat(62)),
        "\u{ff10}".repeat(21) + "0", // full-width digits (3 bytes each) + 1 = 64 bytes
    ];
    for s in &bad {
        assert_eq!(Digest::from_hex(s), None, "accepted {s:?}");
    }
}

#[test]
fn empty_root_and_token_ids_are_tagged_hashes() {
    assert_eq!(empty_root(), tagged_hash(Tag::SmtEmpty, &[]));
    assert_ne!(empty_root(), Digest::ZERO);
    assert_eq!(
        TokenId::from_label("ERA").0,
        tagged_hash(Tag::Token, &[b"ERA"])
    );
    assert_ne!(TokenId::from_label("ERA"), TokenId::from_label("DEV"));
    assert_ne!(TokenId::from_label(""), TokenId::from_label("ERA"));
}
