//! The canonical encoding: round trips, strictness on arbitrary and mutated bytes, and the
//! specific rejection of every kind of non-canonical input, top-level and nested.

use dsm_core::chain::{
    Amount, Balance, Balances, DeviceHead, HeadDigest, RelationshipKey, RelationshipStep,
    TipDigest, TokenId, TransitionKind, MAX_TOKENS,
};
use dsm_core::codec::{Canonical, DecodeError};
use dsm_core::crypto::{PublicKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, EntropyReveal, GenesisRecord, MAX_CONTRIBUTORS};
use dsm_core::smt::{SmtLeaf, SmtProof, MAX_PROOF_DEPTH};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::fmt::Debug;

mod wire;
use wire::{non_minimal, parse, ser, varint, F};

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Schemas (as far as the mutation battery needs them)
// ---------------------------------------------------------------------------------------

/// What the battery needs to know about a message type.
#[derive(Clone, Copy)]
struct Spec {
    /// Fields that must have exactly this many bytes: (field, length).
    fixed: &'static [(u32, usize)],
    /// Repeated fields (duplicating or swapping their elements is type-specific).
    repeated: &'static [u32],
    /// Sub-message fields and their specs.
    messages: &'static [(u32, &'static Spec)],
    /// A misplaced field can make the decoder skip an optional field and then refuse the
    /// value for its content (an empty contribution list, a missing suite, an absent key).
    loose: bool,
}

const BALANCE: Spec = Spec {
    fixed: &[(1, 32), (2, 16)],
    repeated: &[],
    messages: &[],
    loose: false,
};
const DEVICE_HEAD: Spec = Spec {
    fixed: &[(1, 32), (3, 32), (4, 32), (7, 32)],
    repeated: &[5],
    messages: &[(5, &BALANCE)],
    loose: false,
};
const STEP: Spec = Spec {
    fixed: &[
        (1, 32),
        (2, 32),
        (3, 32),
        (4, 32),
        (5, 32),
        (6, 16),
        (7, 32),
    ],
    repeated: &[],
    messages: &[],
    loose: false,
};
const SMT_LEAF: Spec = Spec {
    fixed: &[(1, 32), (2, 32)],
    repeated: &[],
    messages: &[],
    loose: false,
};
const SMT_PROOF: Spec = Spec {
    fixed: &[(1, 32)],
    repeated: &[1],
    messages: &[(2, &SMT_LEAF)],
    loose: false,
};
const REVEAL: Spec = Spec {
    fixed: &[(1, 32), (2, 32)],
    repeated: &[],
    messages: &[],
    loose: false,
};
// The key length depends on the suite; the battery learns it from the body.
const PUBLIC_KEY: Spec = Spec {
    fixed: &[],
    repeated: &[],
    messages: &[],
    loose: true,
};
const GENESIS: Spec = Spec {
    fixed: &[],
    repeated: &[2],
    messages: &[(1, &PUBLIC_KEY), (2, &REVEAL)],
    loose: true,
};

#[derive(Debug, Clone)]
enum Expect {
    Exact(DecodeError),
    /// Duplicated or reordered field: reported as unexpected or as a missing successor.
    Misplaced,
    /// As `Misplaced`, or refused for content after an optional field was skipped.
    MisplacedLoose,
}

impl Expect {
    fn check(&self, got: &DecodeError) -> bool {
        match self {
            Expect::Exact(e) => got == e,
            Expect::Misplaced => matches!(
                got,
                DecodeError::UnexpectedField { .. } | DecodeError::Missing { .. }
            ),
            Expect::MisplacedLoose => matches!(
                got,
                DecodeError::UnexpectedField { .. }
                    | DecodeError::Missing { .. }
                    | DecodeError::Invalid(_)
                    | DecodeError::Length { len: 0, .. }
            ),
        }
    }
}

/// Every single-point non-canonical mutation of a message's fields, each with the error
/// the decoder must report. Applies recursively to sub-messages (rebuilding the lengths of
/// the enclosing fields), so the same rules are checked at every depth.
fn battery(fs: &[F], spec: &Spec) -> Vec<(String, Vec<F>, Expect)> {
    let mut out: Vec<(String, Vec<F>, Expect)> = Vec::new();
    let mut push = |what: String, m: Vec<F>, e: Expect| out.push((what, m, e));
    let n = fs.len();
    let misplaced = if spec.loose {
        Expect::MisplacedLoose
    } else {
        Expect::Misplaced
    };
    for i in 0..n {
        let f = &fs[i];
        let num = f.field();
        let wt = f.wire_type();
        let with = |g: F| {
            let mut m = fs.to_vec();
            m[i] = g;
            m
        };
        // Non-minimal varints: the key, the length, the scalar value.
        push(
            format!("field {num}: non-minimal key"),
            with(F {
                key: non_minimal(&f.key),
                ..f.clone()
            }),
            Expect::Exact(DecodeError::NonMinimalVarint),
        );
        if let Some(l) = &f.len {
            push(
                format!("field {num}: non-minimal length"),
                with(F {
                    len: Some(non_minimal(l)),
                    ..f.clone()
                }),
                Expect::Exact(DecodeError::NonMinimalVarint),
            );
        } else {
            push(
                format!("field {num}: non-minimal value"),
                with(F {
                    body: non_minimal(&f.body),
                    ..f.clone()
                }),
                Expect::Exact(DecodeError::NonMinimalVarint),
            );
        }
        // Every other wire type, with the payload left in place.
        for w in 0..8u8 {
            if w != wt {
                push(
                    format!("field {num}: wire type {wt} -> {w}"),
                    with(f.with_key(u64::from(num), w)),
                    Expect::Exact(DecodeError::WireType {
                        field: num,
                        wire_type: w,
                    }),
                );
            }
        }
        // Field number 0.
        push(
            format!("field {num}: renumbered 0"),
            with(f.with_key(0, wt)),
            Expect::Exact(DecodeError::WireType {
                field: 0,
                wire_type: wt,
            }),
        );
        // Fixed-length fields one byte short, one byte long, empty.
        if let Some(&(_, len)) = spec.fixed.iter().find(|(x, _)| *x == num) {
            let mut bodies = vec![
                f.body[..len - 1].to_vec(),
                [&f.body[..], &[0xab]].concat(),
                Vec::new(),
            ];
            bodies.push(f.body[..len / 2].to_vec());
            for b in bodies {
                let l = b.len();
                let mut g = f.clone();
                g.set_body(b);
                push(
                    format!("field {num}: length {l}"),
                    with(g),
                    Expect::Exact(DecodeError::Length {
                        field: num,
                        len: l,
                        expected: len,
                    }),
                );
            }
        }
        // Duplicated in place (repeated fields are checked per type).
        if !spec.repeated.contains(&num) {
            let mut m = fs.to_vec();
            m.insert(i + 1, f.clone());
            let e = if i == n - 1 {
                Expect::Exact(DecodeError::UnexpectedField { field: num })
            } else {
                misplaced.clone()
            };
            push(format!("field {num}: duplicated"), m, e);
        }
        // Swapped with the next field of another number.
        if i + 1 < n && fs[i + 1].field() != num {
            let mut m = fs.to_vec();
            m.swap(i, i + 1);
            push(
                format!("fields {num} and {}: swapped", fs[i + 1].field()),
                m,
                misplaced.clone(),
            );
        }
        // Recurse into sub-messages.
        if let Some((_, sub)) = spec.messages.iter().find(|(x, _)| *x == num) {
            for (what, inner, e) in battery(&parse(&f.body), sub) {
                let mut g = f.clone();
                g.set_body(ser(&inner));
                push(format!("field {num} > {what}"), with(g), e);
            }
            // Unknown field inside the sub-message.
            let mut inner = parse(&f.body);
            inner.push(F::uint(15, 1));
            let mut g = f.clone();
            g.set_body(ser(&inner));
            push(
                format!("field {num} > unknown field 15"),
                with(g),
                Expect::Exact(DecodeError::UnexpectedField { field: 15 }),
            );
        }
    }
    // Unknown fields appended: a varint, a bytes field, the first unused number, a big one.
    for (what, g, field) in [
        ("unknown varint field 15", F::uint(15, 1), 15),
        ("unknown bytes field 15", F::bytes(15, &[1, 2, 3]), 15),
        ("unknown field 8", F::uint(8, 7), 8),
        (
            "unknown field 2^29-1",
            F::uint((1 << 29) - 1, 1),
            (1 << 29) - 1,
        ),
    ] {
        let mut m = fs.to_vec();
        m.push(g);
        push(
            what.to_string(),
            m,
            Expect::Exact(DecodeError::UnexpectedField { field }),
        );
    }
    out
}

/// Runs the battery on a valid encoding, plus the top-level-only rules: trailing bytes,
/// every truncation, and the size cap.
fn check_rejections<T: Canonical + Debug + PartialEq>(
    bytes: &[u8],
    spec: &Spec,
) -> Result<(), TestCaseError> {
    let fs = parse(bytes);
    prop_assert_eq!(ser(&fs), bytes, "test tokenizer does not round trip");
    for (what, m, e) in battery(&fs, spec) {
        let mutated = ser(&m);
        prop_assert_ne!(&mutated, bytes, "{}: mutation is a no-op", what);
        // Small types (a Balance, a reveal) sit close to their cap: a duplicated field can
        // push them over it, and then the cap is what refuses them. (The same mutations
        // are checked against the decoder itself where these types are nested.)
        let e = if mutated.len() > T::MAX_ENCODED_LEN {
            Expect::Exact(DecodeError::TooLarge {
                len: mutated.len(),
                max: T::MAX_ENCODED_LEN,
            })
        } else {
            e
        };
        match T::from_bytes(&mutated) {
            Ok(v) => prop_assert!(false, "{}: accepted as {:?}", what, v),
            Err(got) => prop_assert!(e.check(&got), "{}: expected {:?}, got {:?}", what, e, got),
        }
    }
    // Trailing garbage: every single byte, and a few longer tails.
    for b in 0..=255u8 {
        let r = T::from_bytes(&[bytes, &[b]].concat());
        prop_assert!(r.is_err(), "trailing byte {:#04x} accepted", b);
    }
    for tail in [
        &[0x00, 0x00][..],
        &[0xff; 8],
        &[0x78, 0x01],
        &[0x0a, 0x00],
        &[0x80],
    ] {
        prop_assert!(
            T::from_bytes(&[bytes, tail].concat()).is_err(),
            "trailing {:?} accepted",
            tail
        );
    }
    // Truncation at every length: inside a field → Truncated; at a field boundary the
    // prefix either fails or is itself a canonical message (optional trailing fields).
    let mut boundaries = vec![0usize];
    for f in &fs {
        boundaries.push(boundaries.last().unwrap() + ser(std::slice::from_ref(f)).len());
    }
    for cut in 0..bytes.len() {
        let prefix = &bytes[..cut];
        match T::from_bytes(prefix) {
            Ok(v) => {
                prop_assert!(
                    boundaries.contains(&cut),
                    "prefix of {} bytes accepted mid-field",
                    cut
                );
                prop_assert_eq!(v.to_bytes(), prefix);
            }
            Err(e) => {
                if !boundaries.contains(&cut) {
                    prop_assert_eq!(e, DecodeError::Truncated, "cut at {}", cut);
                }
            }
        }
    }
    // The size cap comes first: a valid encoding padded past the cap is TooLarge, not an
    // unexpected field.
    let max = T::MAX_ENCODED_LEN;
    let mut padded = bytes.to_vec();
    padded.resize(max + 1, 0x00);
    prop_assert_eq!(
        T::from_bytes(&padded),
        Err(DecodeError::TooLarge { len: max + 1, max })
    );
    Ok(())
}

/// Encode → decode → encode.
fn check_round_trip<T: Canonical + Debug + PartialEq>(v: &T) -> Result<Vec<u8>, TestCaseError> {
    let bytes = v.to_bytes();
    // The counted length a parent writes before this message in place is its real length.
    prop_assert_eq!(dsm_core::codec::Writer::encoded_len(v), bytes.len());
    prop_assert!(
        bytes.len() <= T::MAX_ENCODED_LEN,
        "{} bytes over the cap {}",
        bytes.len(),
        T::MAX_ENCODED_LEN
    );
    let back = T::from_bytes(&bytes);
    prop_assert_eq!(back.as_ref(), Ok(v));
    prop_assert_eq!(back.unwrap().to_bytes(), bytes.clone());
    Ok(bytes)
}

/// Strictness: never panics; anything accepted re-encodes to exactly the input; the
/// "second line of defence" (`NotCanonical`) is never what catches an input.
fn check_strict<T: Canonical + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    match T::from_bytes(bytes) {
        Ok(v) => prop_assert_eq!(v.to_bytes(), bytes),
        Err(e) => prop_assert_ne!(
            e,
            DecodeError::NotCanonical,
            "decoder accepted non-canonical bytes; caught only by re-encoding"
        ),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn digest() -> impl Strategy<Value = Digest> {
    prop_oneof![
        1 => Just(Digest::ZERO),
        1 => Just(Digest([0xff; 32])),
        8 => any::<[u8; 32]>().prop_map(Digest),
    ]
}

fn u64_edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(127),
        Just(128),
        Just(16_383),
        Just(16_384),
        Just(u64::MAX),
        any::<u64>(),
        0u64..1000
    ]
}

fn nonzero_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        Just(1u128),
        Just(u128::MAX),
        1u128..1_000_000,
        1u128..=u128::MAX
    ]
    .prop_map(Amount)
}

fn balance() -> impl Strategy<Value = Balance> {
    (digest(), nonzero_amount()).prop_map(|(t, amount)| Balance {
        token: TokenId(t),
        amount,
    })
}

fn balances(max: usize) -> impl Strategy<Value = Balances> {
    vec(balance(), 0..=max).prop_map(|bs| {
        let mut out = Balances::new();
        for b in bs {
            if let Ok(next) = out.credited(&b.token, b.amount) {
                out = next;
            }
        }
        out
    })
}

fn kind() -> impl Strategy<Value = TransitionKind> {
    prop_oneof![
        Just(TransitionKind::Create),
        Just(TransitionKind::Debit),
        Just(TransitionKind::Credit),
        Just(TransitionKind::Allocation),
        Just(TransitionKind::Refuse),
        Just(TransitionKind::Release),
        Just(TransitionKind::Burn)
    ]
}

fn device_head() -> impl Strategy<Value = DeviceHead> {
    (
        digest(),
        u64_edge(),
        digest(),
        digest(),
        balances(6),
        kind(),
        digest(),
    )
        .prop_map(|(d, height, p, root, balances, kind, cause)| DeviceHead {
            device: DeviceId(d),
            height,
            parent: HeadDigest(p),
            smt_root: root,
            balances,
            kind,
            cause,
        })
}

fn step() -> impl Strategy<Value = RelationshipStep> {
    (
        digest(),
        digest(),
        digest(),
        digest(),
        digest(),
        prop_oneof![Just(0u128), any::<u128>()],
        digest(),
    )
        .prop_map(|(r, pt, s, rc, t, a, h)| RelationshipStep {
            relationship: RelationshipKey(r),
            parent_tip: TipDigest(pt),
            sender: DeviceId(s),
            receiver: DeviceId(rc),
            token: TokenId(t),
            amount: Amount(a),
            sender_parent_head: HeadDigest(h),
        })
}

fn smt_leaf() -> impl Strategy<Value = SmtLeaf> {
    (any::<[u8; 32]>(), digest()).prop_map(|(key, value)| SmtLeaf { key, value })
}

fn smt_proof(max: usize) -> impl Strategy<Value = SmtProof> {
    (vec(digest(), 0..=max), proptest::option::of(smt_leaf()))
        .prop_map(|(siblings, terminal)| SmtProof { siblings, terminal })
}

fn reveal() -> impl Strategy<Value = EntropyReveal> {
    (digest(), any::<[u8; 32]>()).prop_map(|(contributor, secret)| EntropyReveal {
        contributor,
        secret,
    })
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    prop_oneof![
        3 => vec(any::<u8>(), 32).prop_map(|b| PublicKey::from_parts(SuiteId::SlhDsaSha2_128f, b).unwrap()),
        1 => vec(any::<u8>(), 1952).prop_map(|b| PublicKey::from_parts(SuiteId::MlDsa65, b).unwrap()),
    ]
}

fn genesis_record(max: usize) -> impl Strategy<Value = GenesisRecord> {
    (public_key(), vec(reveal(), 1..=max)).prop_map(|(founding_key, mut contributions)| {
        contributions.sort_by_key(|r| r.contributor);
        contributions.dedup_by(|a, b| a.contributor == b.contributor);
        GenesisRecord {
            founding_key,
            contributions,
            recovery_authority: None,
        }
    })
}

/// A valid encoding with random point edits: flips, insertions, deletions, truncation.
fn mutate(bytes: &[u8], edits: &[(Index, u8, u8)]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for (at, op, x) in edits {
        match op % 4 {
            0 if !b.is_empty() => {
                let i = at.index(b.len());
                b[i] ^= x | 1;
            }
            1 => {
                let i = at.index(b.len() + 1);
                b.insert(i, *x);
            }
            2 if !b.is_empty() => {
                let i = at.index(b.len());
                b.remove(i);
            }
            _ => {
                let i = at.index(b.len() + 1);
                b.truncate(i.max(b.len().saturating_sub(3)));
            }
        }
    }
    b
}

fn edits() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    vec((any::<Index>(), any::<u8>(), any::<u8>()), 1..4)
}

// ---------------------------------------------------------------------------------------
// Round trips, strictness, and the mutation battery, per type
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn device_head_round_trips_and_rejects_mutations(h in device_head(), e in edits()) {
        let bytes = check_round_trip(&h)?;
        check_rejections::<DeviceHead>(&bytes, &DEVICE_HEAD)?;
        check_strict::<DeviceHead>(&mutate(&bytes, &e))?;
    }

    #[test]
    fn relationship_step_round_trips_and_rejects_mutations(s in step(), e in edits()) {
        let bytes = check_round_trip(&s)?;
        prop_assert_eq!(bytes.len(), 7 * 34 - 16);
        check_rejections::<RelationshipStep>(&bytes, &STEP)?;
        check_strict::<RelationshipStep>(&mutate(&bytes, &e))?;
    }

    #[test]
    fn smt_proof_round_trips_and_rejects_mutations(p in smt_proof(8), e in edits()) {
        let bytes = check_round_trip(&p)?;
        check_rejections::<SmtProof>(&bytes, &SMT_PROOF)?;
        check_strict::<SmtProof>(&mutate(&bytes, &e))?;
    }

    #[test]
    fn balance_round_trips_and_rejects_mutations(b in balance(), e in edits()) {
        let bytes = check_round_trip(&b)?;
        prop_assert_eq!(bytes.len(), 52);
        check_rejections::<Balance>(&bytes, &BALANCE)?;
        check_strict::<Balance>(&mutate(&bytes, &e))?;
    }

    #[test]
    fn entropy_reveal_round_trips_and_rejects_mutations(r in reveal(), e in edits()) {
        let bytes = check_round_trip(&r)?;
        prop_assert_eq!(bytes.len(), 68);
        check_rejections::<EntropyReveal>(&bytes, &REVEAL)?;
        check_strict::<EntropyReveal>(&mutate(&bytes, &e))?;
    }
}

proptest! {
    // GenesisRecords carry up to a 1952-byte key: fewer cases keep this quick.
    #![proptest_config(cfg(96))]

    #[test]
    fn genesis_record_round_trips_and_rejects_mutations(g in genesis_record(4), e in edits()) {
        let bytes = check_round_trip(&g)?;
        check_rejections::<GenesisRecord>(&bytes, &GENESIS)?;
        check_strict::<GenesisRecord>(&mutate(&bytes, &e))?;
        // The key field's exact length is enforced for its suite.
        let mut fs = parse(&bytes);
        let mut pk = parse(&fs[0].body);
        let len = pk[1].body.len();
        for bad in [len - 1, len + 1, 1] {
            let mut pk2 = pk.clone();
            pk2[1].set_body(vec![0x42; bad]);
            let mut fs2 = fs.clone();
            fs2[0].set_body(ser(&pk2));
            let expected = DecodeError::Length { field: 2, len: bad, expected: len };
            prop_assert_eq!(GenesisRecord::from_bytes(&ser(&fs2)), Err(expected));
        }
        // An empty key present → DefaultPresent; an explicit suite 0 → DefaultPresent.
        pk[1].set_body(Vec::new());
        fs[0].set_body(ser(&pk));
        prop_assert_eq!(GenesisRecord::from_bytes(&ser(&fs)), Err(DecodeError::DefaultPresent { field: 2 }));
    }
}

proptest! {
    #![proptest_config(cfg(256))]

    /// Arbitrary bytes, for every type: no panic, and acceptance implies exact re-encoding.
    #[test]
    fn arbitrary_bytes_are_decoded_strictly(bytes in vec(any::<u8>(), 0..300)) {
        check_strict::<DeviceHead>(&bytes)?;
        check_strict::<RelationshipStep>(&bytes)?;
        check_strict::<SmtProof>(&bytes)?;
        check_strict::<SmtLeaf>(&bytes)?;
        check_strict::<Balance>(&bytes)?;
        check_strict::<EntropyReveal>(&bytes)?;
        check_strict::<GenesisRecord>(&bytes)?;
        check_strict::<PublicKey>(&bytes)?;
    }

    /// Arbitrary sequences of well-formed fields (right key syntax, random numbers, wire
    /// types, lengths and values) get much further into the decoders than random bytes.
    #[test]
    fn arbitrary_field_sequences_are_decoded_strictly(
        fields in vec((1u32..9, prop_oneof![Just(0u8), Just(2u8)], prop_oneof![Just(0usize), Just(16), Just(32), 0usize..40], u64_edge()), 0..10),
    ) {
        let fs: Vec<F> = fields.iter().map(|(n, wt, len, v)| if *wt == 0 { F::uint(*n, *v) } else { F::bytes(*n, &vec![(*v as u8) | 1; *len]) }).collect();
        let bytes = ser(&fs);
        check_strict::<DeviceHead>(&bytes)?;
        check_strict::<RelationshipStep>(&bytes)?;
        check_strict::<SmtProof>(&bytes)?;
        check_strict::<Balance>(&bytes)?;
        check_strict::<EntropyReveal>(&bytes)?;
        check_strict::<GenesisRecord>(&bytes)?;
    }
}

// ---------------------------------------------------------------------------------------
// Type-specific rules
// ---------------------------------------------------------------------------------------

fn sample_head(n_balances: u8, height: u64, kind: TransitionKind) -> DeviceHead {
    let mut balances = Balances::new();
    for i in 0..n_balances {
        balances = balances
            .credited(&TokenId(Digest([i + 1; 32])), Amount(u128::from(i) + 5))
            .unwrap();
    }
    DeviceHead {
        device: DeviceId(Digest([0xd1; 32])),
        height,
        parent: HeadDigest(Digest([0xa1; 32])),
        smt_root: Digest([0x5e; 32]),
        balances,
        kind,
        cause: Digest([0xca; 32]),
    }
}

fn field_pos(fs: &[F], num: u32) -> usize {
    fs.iter().position(|f| f.field() == num).unwrap()
}

#[test]
fn explicit_zero_scalars_are_default_present() {
    // height 0 and kind Create are omitted; writing them is refused.
    let h = sample_head(1, 0, TransitionKind::Create);
    let bytes = h.to_bytes();
    let fs = parse(&bytes);
    assert!(fs.iter().all(|f| f.field() != 2 && f.field() != 6));
    let mut m = fs.clone();
    m.insert(1, F::uint(2, 0));
    let raw = ser(&m);
    assert_eq!(&raw[34..36], &[0x10, 0x00], "key 0x10 then 0x00");
    assert_eq!(
        DeviceHead::from_bytes(&raw),
        Err(DecodeError::DefaultPresent { field: 2 })
    );
    let mut m = fs.clone();
    m.insert(field_pos(&fs, 7), F::uint(6, 0));
    assert_eq!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::DefaultPresent { field: 6 })
    );
    // A present height set to 0 in place.
    let h = sample_head(0, 9, TransitionKind::Debit);
    let mut fs = parse(&h.to_bytes());
    let i = field_pos(&fs, 2);
    fs[i] = F::uint(2, 0);
    assert_eq!(
        DeviceHead::from_bytes(&ser(&fs)),
        Err(DecodeError::DefaultPresent { field: 2 })
    );
    // Explicit suite 0 in a public key (nested in a genesis record).
    let g = GenesisRecord {
        founding_key: PublicKey::from_parts(SuiteId::SlhDsaSha2_128f, vec![7; 32]).unwrap(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: None,
    };
    let mut fs = parse(&g.to_bytes());
    let mut pk = parse(&fs[0].body);
    pk[0] = F::uint(1, 0);
    fs[0].set_body(ser(&pk));
    assert_eq!(
        GenesisRecord::from_bytes(&ser(&fs)),
        Err(DecodeError::DefaultPresent { field: 1 })
    );
    // Suite omitted (= 0): unknown suite.
    pk.remove(0);
    fs[0].set_body(ser(&pk));
    assert!(matches!(
        GenesisRecord::from_bytes(&ser(&fs)),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn empty_fixed_fields_are_refused() {
    // A required 32-byte field written empty: wrong length (the field is required, so an
    // empty value is never the omitted default).
    let h = sample_head(1, 3, TransitionKind::Credit);
    for num in [1u32, 3, 4, 7] {
        let mut fs = parse(&h.to_bytes());
        let i = field_pos(&fs, num);
        fs[i].set_body(Vec::new());
        assert_eq!(
            DeviceHead::from_bytes(&ser(&fs)),
            Err(DecodeError::Length {
                field: num,
                len: 0,
                expected: 32
            }),
            "field {num}"
        );
        // Omitting it instead: Missing.
        fs.remove(i);
        assert_eq!(
            DeviceHead::from_bytes(&ser(&fs)),
            Err(DecodeError::Missing { field: num }),
            "field {num}"
        );
    }
}

#[test]
fn pinned_duplicate_and_swap_errors() {
    // Exact reports for a head with every field present (height, balances, kind set).
    let h = sample_head(2, 5, TransitionKind::Debit);
    let fs = parse(&h.to_bytes());
    assert_eq!(
        fs.iter().map(F::field).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 5, 6, 7]
    );
    let dup = |i: usize| {
        let mut m = fs.clone();
        m.insert(i + 1, fs[i].clone());
        DeviceHead::from_bytes(&ser(&m)).unwrap_err()
    };
    let swap = |i: usize| {
        let mut m = fs.clone();
        m.swap(i, i + 1);
        DeviceHead::from_bytes(&ser(&m)).unwrap_err()
    };
    use DecodeError::{Missing, UnexpectedField};
    assert_eq!(dup(7), UnexpectedField { field: 7 });
    assert_eq!(dup(0), UnexpectedField { field: 1 });
    assert_eq!(dup(1), UnexpectedField { field: 2 });
    assert_eq!(dup(6), UnexpectedField { field: 6 });
    assert_eq!(swap(0), Missing { field: 1 });
    assert_eq!(swap(1), UnexpectedField { field: 2 });
    assert_eq!(swap(6), UnexpectedField { field: 6 });
    // A duplicate of any RelationshipStep field is reported as that field.
    let s = RelationshipStep {
        relationship: RelationshipKey(Digest([1; 32])),
        parent_tip: TipDigest(Digest([2; 32])),
        sender: DeviceId(Digest([3; 32])),
        receiver: DeviceId(Digest([4; 32])),
        token: TokenId(Digest([5; 32])),
        amount: Amount(6),
        sender_parent_head: HeadDigest(Digest([7; 32])),
    };
    let fs = parse(&s.to_bytes());
    for i in 0..7 {
        let mut m = fs.clone();
        m.insert(i + 1, fs[i].clone());
        let want = UnexpectedField {
            field: i as u32 + 1,
        };
        assert_eq!(
            RelationshipStep::from_bytes(&ser(&m)),
            Err(want),
            "duplicate of field {}",
            i + 1
        );
    }
}

#[test]
fn balances_must_be_sorted_unique_and_non_zero() {
    let h = sample_head(3, 1, TransitionKind::Credit);
    let fs = parse(&h.to_bytes());
    let first = field_pos(&fs, 5);
    // Unsorted.
    let mut m = fs.clone();
    m.swap(first, first + 1);
    assert!(matches!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    let mut m = fs.clone();
    m[first..first + 3].reverse();
    assert!(matches!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    // Duplicated entry, and the same token twice with different amounts.
    for i in 0..3 {
        let mut m = fs.clone();
        m.insert(first + i + 1, fs[first + i].clone());
        assert!(
            matches!(
                DeviceHead::from_bytes(&ser(&m)),
                Err(DecodeError::Invalid(_))
            ),
            "duplicate balance {i}"
        );
    }
    let mut m = fs.clone();
    let mut other = Balance::from_bytes(&fs[first].body).unwrap();
    other.amount = Amount(999);
    m.insert(first + 1, F::bytes(5, &other.to_bytes()));
    assert!(matches!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    // A zero amount, inside a head and on its own.
    let zero = [&[0x0a, 0x20][..], &[9u8; 32], &[0x12, 0x10], &[0u8; 16]].concat();
    assert!(matches!(
        Balance::from_bytes(&zero),
        Err(DecodeError::Invalid(_))
    ));
    let mut m = fs.clone();
    m[first].set_body(zero);
    assert!(matches!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    // Unknown transition kind.
    for k in [9u64, 10, 1 << 40, u64::MAX] {
        let mut m = fs.clone();
        let i = field_pos(&fs, 6);
        m[i] = F::uint(6, k);
        assert!(
            matches!(
                DeviceHead::from_bytes(&ser(&m)),
                Err(DecodeError::Invalid(_))
            ),
            "kind {k}"
        );
    }
}

#[test]
fn size_limits_hold_at_the_boundary() {
    // The largest head: 64 tokens, height u64::MAX. Fits the cap and round trips.
    let mut h = sample_head(0, u64::MAX, TransitionKind::Allocation);
    for i in 0..MAX_TOKENS {
        h.balances = h
            .balances
            .credited(&TokenId(Digest([i as u8; 32])), Amount(u128::MAX))
            .unwrap();
    }
    let bytes = h.to_bytes();
    assert!(bytes.len() <= DeviceHead::MAX_ENCODED_LEN);
    assert_eq!(DeviceHead::from_bytes(&bytes), Ok(h.clone()));
    // A 65th balance: TooMany.
    let mut fs = parse(&bytes);
    let last = fs.iter().rposition(|f| f.field() == 5).unwrap();
    let extra = Balance {
        token: TokenId(Digest([0xff; 32])),
        amount: Amount(1),
    };
    fs.insert(last + 1, F::bytes(5, &extra.to_bytes()));
    let too_many = ser(&fs);
    assert!(too_many.len() <= DeviceHead::MAX_ENCODED_LEN);
    assert_eq!(
        DeviceHead::from_bytes(&too_many),
        Err(DecodeError::TooMany {
            field: 5,
            max: MAX_TOKENS
        })
    );

    // The deepest proof with a terminal.
    let p = SmtProof {
        siblings: (0..MAX_PROOF_DEPTH)
            .map(|i| Digest([i as u8; 32]))
            .collect(),
        terminal: Some(SmtLeaf {
            key: [1; 32],
            value: Digest([2; 32]),
        }),
    };
    let bytes = p.to_bytes();
    assert!(bytes.len() <= SmtProof::MAX_ENCODED_LEN);
    assert_eq!(SmtProof::from_bytes(&bytes), Ok(p.clone()));
    let mut fs = parse(&bytes);
    fs.insert(0, F::bytes(1, &[3; 32]));
    let bytes = ser(&fs);
    assert!(bytes.len() <= SmtProof::MAX_ENCODED_LEN);
    assert_eq!(
        SmtProof::from_bytes(&bytes),
        Err(DecodeError::TooMany {
            field: 1,
            max: MAX_PROOF_DEPTH
        })
    );

    // The largest genesis: ML-DSA key and 16 contributions.
    let g = GenesisRecord {
        founding_key: PublicKey::from_parts(SuiteId::MlDsa65, vec![0x33; 1952]).unwrap(),
        contributions: (0..MAX_CONTRIBUTORS)
            .map(|i| EntropyReveal {
                contributor: Digest([i as u8; 32]),
                secret: [0xee; 32],
            })
            .collect(),
        recovery_authority: None,
    };
    let bytes = g.to_bytes();
    assert!(bytes.len() <= GenesisRecord::MAX_ENCODED_LEN);
    assert_eq!(GenesisRecord::from_bytes(&bytes), Ok(g.clone()));
    let mut fs = parse(&bytes);
    fs.push(F::bytes(
        2,
        &EntropyReveal {
            contributor: Digest([0xff; 32]),
            secret: [1; 32],
        }
        .to_bytes(),
    ));
    assert_eq!(
        GenesisRecord::from_bytes(&ser(&fs)),
        Err(DecodeError::TooMany {
            field: 2,
            max: MAX_CONTRIBUTORS
        })
    );

    // Over the cap: refused by size before any parsing, whatever the bytes.
    fn too_large<T: Canonical + Debug + PartialEq>() {
        let max = T::MAX_ENCODED_LEN;
        for fill in [0x00u8, 0x0a, 0xff] {
            assert_eq!(
                T::from_bytes(&vec![fill; max + 1]),
                Err(DecodeError::TooLarge { len: max + 1, max })
            );
            // At exactly the cap, the same bytes are parsed (and refused for content).
            assert!(!matches!(
                T::from_bytes(&vec![fill; max]),
                Err(DecodeError::TooLarge { .. }) | Ok(_)
            ));
        }
        assert_eq!(
            T::from_bytes(&vec![0u8; 1 << 20]),
            Err(DecodeError::TooLarge { len: 1 << 20, max })
        );
    }
    too_large::<DeviceHead>();
    too_large::<RelationshipStep>();
    too_large::<SmtProof>();
    too_large::<Balance>();
    too_large::<EntropyReveal>();
    too_large::<GenesisRecord>();
}

#[test]
fn genesis_contributions_must_be_sorted_unique_and_present() {
    let g = GenesisRecord {
        founding_key: PublicKey::from_parts(SuiteId::SlhDsaSha2_128f, vec![7; 32]).unwrap(),
        contributions: (1..=4u8)
            .map(|i| EntropyReveal {
                contributor: Digest([i; 32]),
                secret: [i; 32],
            })
            .collect(),
        recovery_authority: None,
    };
    let bytes = g.to_bytes();
    assert_eq!(GenesisRecord::from_bytes(&bytes), Ok(g.clone()));
    let fs = parse(&bytes);
    assert_eq!(
        fs.iter().map(F::field).collect::<Vec<_>>(),
        vec![1, 2, 2, 2, 2]
    );
    for i in 1..4 {
        let mut m = fs.clone();
        m.swap(i, i + 1);
        assert!(
            matches!(
                GenesisRecord::from_bytes(&ser(&m)),
                Err(DecodeError::Invalid(_))
            ),
            "swap {i}"
        );
        let mut m = fs.clone();
        m.insert(i + 1, fs[i].clone());
        assert!(
            matches!(
                GenesisRecord::from_bytes(&ser(&m)),
                Err(DecodeError::Invalid(_))
            ),
            "duplicate {i}"
        );
    }
    // Same contributor, different secret.
    let mut m = fs.clone();
    m.insert(
        2,
        F::bytes(
            2,
            &EntropyReveal {
                contributor: Digest([1; 32]),
                secret: [9; 32],
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(
        GenesisRecord::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    // No contributions at all.
    assert!(matches!(
        GenesisRecord::from_bytes(&ser(&fs[..1])),
        Err(DecodeError::Invalid(_))
    ));
    // Unknown suite, and a key of the other suite's length.
    let mut m = fs.clone();
    let mut pk = parse(&m[0].body);
    pk[0] = F::uint(1, 3);
    m[0].set_body(ser(&pk));
    assert!(matches!(
        GenesisRecord::from_bytes(&ser(&m)),
        Err(DecodeError::Invalid(_))
    ));
    let mut m = fs.clone();
    let mut pk = parse(&m[0].body);
    pk[0] = F::uint(1, SuiteId::MlDsa65 as u64);
    m[0].set_body(ser(&pk));
    assert_eq!(
        GenesisRecord::from_bytes(&ser(&m)),
        Err(DecodeError::Length {
            field: 2,
            len: 32,
            expected: 1952
        })
    );
}

#[test]
fn varint_edge_cases() {
    let h = sample_head(0, 1, TransitionKind::Debit);
    let fs = parse(&h.to_bytes());
    let i = field_pos(&fs, 2);
    let with_height = |body: Vec<u8>| {
        let mut m = fs.clone();
        m[i].body = body;
        DeviceHead::from_bytes(&ser(&m))
    };
    // u64::MAX: ten bytes, the last one 0x01.
    let max = [&[0xff; 9][..], &[0x01]].concat();
    assert_eq!(with_height(max.clone()).map(|h| h.height), Ok(u64::MAX));
    // Overflow in the tenth byte, an eleventh byte, padding of every shape.
    assert_eq!(
        with_height([&[0xff; 9][..], &[0x02]].concat()),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height([&[0xff; 9][..], &[0x7f]].concat()),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height([&[0xff; 10][..], &[0x01]].concat()),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height(vec![0x81, 0x00]),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height(vec![0x81, 0x80, 0x00]),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height(vec![0x80, 0x00]),
        Err(DecodeError::NonMinimalVarint)
    );
    assert_eq!(
        with_height([&[0x80; 9][..], &[0x01]].concat()).map(|h| h.height),
        Ok(1 << 63)
    );
    // Unterminated at the end of the input.
    let mut m = fs[..=i].to_vec();
    m[i].body = vec![0x81];
    assert_eq!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::Truncated)
    );
    // Unterminated before the next key: the continuation swallows the key byte, and the
    // decoder must still refuse.
    assert_eq!(
        format!("{:?}", with_height(vec![0x81]).unwrap_err()),
        "Missing { field: 3 }"
    );
    // A key whose field number does not fit 32 bits.
    let mut m = fs.clone();
    m.push(F {
        key: varint(1 << 40),
        len: None,
        body: vec![1],
    });
    assert_eq!(
        DeviceHead::from_bytes(&ser(&m)),
        Err(DecodeError::UnexpectedField { field: u32::MAX })
    );
    // A length that overflows when added to the position.
    let mut raw = ser(&fs);
    raw.extend_from_slice(&[0x7a]); // field 15, wire type 2
    raw.extend_from_slice(&[0xff; 9]);
    raw.push(0x01);
    assert_eq!(
        format!("{:?}", DeviceHead::from_bytes(&raw).unwrap_err()),
        "UnexpectedField { field: 15 }"
    );
    // Non-minimal two-byte length (the 1952-byte ML-DSA key).
    let g = GenesisRecord {
        founding_key: PublicKey::from_parts(SuiteId::MlDsa65, vec![0x44; 1952]).unwrap(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: None,
    };
    let mut fs = parse(&g.to_bytes());
    let mut pk = parse(&fs[0].body);
    assert_eq!(pk[1].len, Some(vec![0xa0, 0x0f]));
    pk[1].len = Some(vec![0xa0, 0x8f, 0x00]);
    fs[0].set_body(ser(&pk));
    assert_eq!(
        GenesisRecord::from_bytes(&ser(&fs)),
        Err(DecodeError::NonMinimalVarint)
    );
}

#[test]
fn amounts_are_16_bytes_big_endian_and_steps_may_carry_zero() {
    // The codec carries any 128-bit amount in a step (zero is refused by the predicate).
    for a in [
        0u128,
        1,
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        u128::MAX,
    ] {
        let s = RelationshipStep {
            relationship: RelationshipKey(Digest([1; 32])),
            parent_tip: TipDigest(Digest([2; 32])),
            sender: DeviceId(Digest([3; 32])),
            receiver: DeviceId(Digest([4; 32])),
            token: TokenId(Digest([5; 32])),
            amount: Amount(a),
            sender_parent_head: HeadDigest(Digest([7; 32])),
        };
        let bytes = s.to_bytes();
        let fs = parse(&bytes);
        assert_eq!(fs[5].key, vec![0x32]);
        assert_eq!(fs[5].body, a.to_be_bytes().to_vec());
        assert_eq!(RelationshipStep::from_bytes(&bytes), Ok(s));
    }
}

// ---------------------------------------------------------------------------------------
// Byte-exact pins of the wire format
// ---------------------------------------------------------------------------------------

#[test]
fn balance_wire_format_is_pinned() {
    let token: [u8; 32] = core::array::from_fn(|i| i as u8);
    let b = Balance {
        token: TokenId(Digest(token)),
        amount: Amount(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
    };
    let mut expected = vec![0x0a, 0x20];
    expected.extend_from_slice(&[
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f, //
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f,
    ]);
    expected.extend_from_slice(&[0x12, 0x10]);
    expected.extend_from_slice(&[
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x10,
    ]);
    assert_eq!(expected.len(), 52);
    assert_eq!(b.to_bytes(), expected);
    assert_eq!(Balance::from_bytes(&expected), Ok(b));
    // Amount 1 is still 16 bytes.
    let one = Balance {
        token: TokenId(Digest(token)),
        amount: Amount(1),
    };
    assert_eq!(
        &one.to_bytes()[34..],
        &[0x12, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]
    );
}

#[test]
fn device_head_wire_format_is_pinned() {
    let h = DeviceHead {
        device: DeviceId(Digest([0x11; 32])),
        height: 300,
        parent: HeadDigest(Digest([0x22; 32])),
        smt_root: Digest([0x33; 32]),
        balances: Balances::new()
            .credited(&TokenId(Digest([0x44; 32])), Amount(0x55))
            .unwrap(),
        kind: TransitionKind::Debit,
        cause: Digest([0x66; 32]),
    };
    let mut e = Vec::new();
    e.extend_from_slice(&[0x0a, 0x20]);
    e.extend_from_slice(&[0x11; 32]);
    e.extend_from_slice(&[0x10, 0xac, 0x02]); // height 300
    e.extend_from_slice(&[0x1a, 0x20]);
    e.extend_from_slice(&[0x22; 32]);
    e.extend_from_slice(&[0x22, 0x20]);
    e.extend_from_slice(&[0x33; 32]);
    e.extend_from_slice(&[0x2a, 0x34, 0x0a, 0x20]); // balance: 52-byte sub-message
    e.extend_from_slice(&[0x44; 32]);
    e.extend_from_slice(&[0x12, 0x10]);
    e.extend_from_slice(&[0; 15]);
    e.push(0x55);
    e.extend_from_slice(&[0x30, 0x01]); // kind Debit
    e.extend_from_slice(&[0x3a, 0x20]);
    e.extend_from_slice(&[0x66; 32]);
    assert_eq!(h.to_bytes(), e);
    assert_eq!(DeviceHead::from_bytes(&e), Ok(h));
}

#[test]
fn smt_proof_and_genesis_wire_formats_are_pinned() {
    assert_eq!(
        SmtProof {
            siblings: vec![],
            terminal: None
        }
        .to_bytes(),
        Vec::<u8>::new()
    );
    let p = SmtProof {
        siblings: vec![Digest([0xab; 32])],
        terminal: Some(SmtLeaf {
            key: [0x01; 32],
            value: Digest([0x02; 32]),
        }),
    };
    let mut e = vec![0x0a, 0x20];
    e.extend_from_slice(&[0xab; 32]);
    e.extend_from_slice(&[0x12, 0x44, 0x0a, 0x20]);
    e.extend_from_slice(&[0x01; 32]);
    e.extend_from_slice(&[0x12, 0x20]);
    e.extend_from_slice(&[0x02; 32]);
    assert_eq!(p.to_bytes(), e);
    assert_eq!(SmtProof::from_bytes(&e), Ok(p));

    let g = GenesisRecord {
        founding_key: PublicKey::from_parts(SuiteId::SlhDsaSha2_128f, vec![0x77; 32]).unwrap(),
        contributions: vec![EntropyReveal {
            contributor: Digest([0x88; 32]),
            secret: [0x99; 32],
        }],
        recovery_authority: None,
    };
    let mut e = vec![0x0a, 0x24, 0x08, 0x02, 0x12, 0x20];
    e.extend_from_slice(&[0x77; 32]);
    e.extend_from_slice(&[0x12, 0x44, 0x0a, 0x20]);
    e.extend_from_slice(&[0x88; 32]);
    e.extend_from_slice(&[0x12, 0x20]);
    e.extend_from_slice(&[0x99; 32]);
    assert_eq!(g.to_bytes(), e);
    assert_eq!(GenesisRecord::from_bytes(&e), Ok(g));
}

/// `DecodeError::UnexpectedField` is documented as the report for a field that is
/// "unknown, duplicated, or out of ascending order". A duplicate of any field but the last
/// is instead reported as `Missing` for the *next* field, which is present. The input is
/// still refused, so this is a diagnostic defect, not a canonicality hole.
#[test]
fn duplicated_field_is_reported_as_unexpected_field() {
    // Minimal case: a height-0 head (fields 1, 3, 4, 7) with its device field written twice.
    let h = sample_head(0, 0, TransitionKind::Create);
    let fs = parse(&h.to_bytes());
    assert_eq!(
        fs.iter().map(F::field).collect::<Vec<_>>(),
        vec![1, 3, 4, 7]
    );
    let dup = ser(&[
        fs[0].clone(),
        fs[0].clone(),
        fs[1].clone(),
        fs[2].clone(),
        fs[3].clone(),
    ]);
    // Today: Err(Missing { field: 3 }) although field 3 is present.
    assert_eq!(
        DeviceHead::from_bytes(&dup),
        Err(DecodeError::UnexpectedField { field: 1 })
    );
}

/// The model checker's forgeable suite (id 0x7f) exists only behind the
/// `insecure-test-suite` feature; a normal build refuses keys and signatures naming it.
#[cfg(not(feature = "insecure-test-suite"))]
#[test]
fn the_model_checkers_test_suite_is_unknown_to_normal_builds() {
    assert!(SuiteId::from_u64(0x7f).is_none());
    const { assert!(!dsm_core::crypto::INSECURE_TEST_SUITE_ENABLED) };
    // {1: 0x7f, 2: 32 bytes} — a well-formed key of the test suite.
    let mut bytes = vec![0x08, 0x7f, 0x12, 32];
    bytes.extend_from_slice(&[7u8; 32]);
    assert_eq!(
        format!("{:?}", PublicKey::from_bytes(&bytes).unwrap_err()),
        "Invalid(\"unknown signature suite\")"
    );
    let mut sig = vec![0x08, 0x7f, 0x12, 32];
    sig.extend_from_slice(&[9u8; 32]);
    assert_eq!(
        format!(
            "{:?}",
            dsm_core::crypto::Signature::from_bytes(&sig).unwrap_err()
        ),
        "Invalid(\"unknown signature suite\")"
    );
}
