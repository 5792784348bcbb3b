//! Reject vectors (PROTOCOL.md §10): `tests/vectors/reject-v1.txt` holds inputs that every
//! implementation must refuse, each with the name of the error it must give — one row per
//! rule of §3's canonical encoding and per error of §7.3's predicate that bytes can reach.
//! The rows are derived from the conformance vectors by the mutation their name says;
//! this test regenerates them (`DSM_WRITE_VECTORS=1` writes the file) and checks that the
//! Rust decoder and verifier give exactly the named error. The JavaScript verifier checks
//! the same file (`web/verify/test/reject.test.mjs`), so the two agree on the error's
//! name, not only on refusal.
//!
//! Format: `name <TAB> proto message type <TAB> hex <TAB> error`, where `error` is the
//! error's name as PROTOCOL.md writes it (§3: `TooLarge`, `Truncated`, `NonMinimalVarint`,
//! `WireType`, `UnexpectedField`, `DefaultPresent`, `Missing`, `Length`, `TooMany`,
//! `Invalid`; §7.3: `ZeroAmount`, …, `Signature`).

use dsm_core::chain::{Amount, DeviceHead};
use dsm_core::codec::{Canonical, DecodeError};
use dsm_core::identity::DeviceIdentity;
use dsm_core::parcel::{LineageManifest, ParcelFork, ParcelStatement};
use dsm_core::receipt::{
    verify_receipt_bytes, EmptyView, Receipt, ReceiptError, SignedProposal, SignedRefusal,
};
use dsm_core::slot::{Admission, OwnedPut};
use dsm_core::smt::{SmtProof, SparseMerkleTree};
use dsm_core::tripwire::{EquivocationProof, Statement, TripwireError};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/dsm-v1.txt");
const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/reject-v1.txt");

fn vector(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(VECTORS).unwrap();
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .unwrap_or_else(|| panic!("no vector {name}"));
    hex::decode(line.split('\t').nth(2).unwrap()).unwrap()
}

mod wire;

/// The top-level fields of a message: (field number, wire type, whole field bytes, value).
fn fields(bytes: &[u8]) -> Vec<(u32, u8, Vec<u8>, Vec<u8>)> {
    wire::parse(bytes)
        .into_iter()
        .map(|f| {
            (
                f.field(),
                f.wire_type(),
                wire::ser(std::slice::from_ref(&f)),
                f.body,
            )
        })
        .collect()
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The error's name as PROTOCOL.md writes it.
fn decode_name(e: &DecodeError) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap()
        .to_string()
}

/// The first word of an error's `Debug` form: its variant's name.
fn first_word(e: &dyn std::fmt::Debug) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap()
        .to_string()
}

/// A §7.3 error's name; a balance error also names its kind (`Balance.Insufficient`).
fn receipt_name(e: &ReceiptError) -> String {
    match e {
        ReceiptError::Decode(d) => decode_name(d),
        ReceiptError::Balance { error, .. } => format!("Balance.{}", first_word(error)),
        other => first_word(other),
    }
}

fn decoded<T: Canonical>(bytes: &[u8]) -> String {
    match T::from_bytes(bytes) {
        Ok(_) => "accepted".into(),
        Err(e) => decode_name(&e),
    }
}

/// A length-delimited field.
fn ld(field: u32, value: &[u8]) -> Vec<u8> {
    wire::ser(&[wire::F::bytes(field, value)])
}

/// A varint field.
fn vint(field: u32, v: u64) -> Vec<u8> {
    wire::ser(&[wire::F::uint(field, v)])
}

/// What the Rust implementation says of one row.
fn rust_error(ty: &str, bytes: &[u8]) -> String {
    match ty {
        "dsm.v1.DeviceHead" => match DeviceHead::from_bytes(bytes) {
            Ok(_) => "accepted".into(),
            Err(e) => decode_name(&e),
        },
        "dsm.v1.Receipt" => match verify_receipt_bytes(bytes, &EmptyView) {
            Ok(_) => "accepted".into(),
            Err(e) => receipt_name(&e),
        },
        "dsm.v1.EquivocationProof" => match EquivocationProof::verify_bytes(bytes) {
            Ok(_) => "accepted".into(),
            Err(TripwireError::Decode(d)) => decode_name(&d),
            Err(e) => first_word(&e),
        },
        "dsm.v1.DeviceIdentity" => decoded::<DeviceIdentity>(bytes),
        "dsm.v1.SmtProof" => decoded::<SmtProof>(bytes),
        "dsm.v1.ParcelStatement" => decoded::<ParcelStatement>(bytes),
        "dsm.v1.ParcelFork" => decoded::<ParcelFork>(bytes),
        "dsm.v1.LineageManifest" => decoded::<LineageManifest>(bytes),
        "dsm.v1.SignedRefusal" => decoded::<SignedRefusal>(bytes),
        "dsm.v1.Admission" => decoded::<Admission>(bytes),
        "dsm.v1.OwnedPut" => decoded::<OwnedPut>(bytes),
        _ => unreachable!("{ty}"),
    }
}

/// `(name, type, bytes, error)` rows.
fn rows() -> Vec<(String, &'static str, Vec<u8>, &'static str)> {
    let mut v = Vec::new();
    let head = vector("ml-dsa-65.a.funded_head");
    let hf = fields(&head);
    let field = |n: u32| hf.iter().find(|f| f.0 == n).unwrap().2.clone();
    let without = |n: u32| {
        hf.iter()
            .filter(|f| f.0 != n)
            .flat_map(|f| f.2.clone())
            .collect::<Vec<u8>>()
    };
    let h = "dsm.v1.DeviceHead";
    let mut put = |name: &str, ty: &'static str, b: Vec<u8>, e: &'static str| {
        v.push((name.to_string(), ty, b, e))
    };
    // §3, the size cap first.
    put("head.over_cap", h, vec![0u8; 4_041], "TooLarge");
    // Rule 1: field number 0; wire types other than 0 and 2; a wire type the schema does
    // not have there.
    put("head.field_0", h, join(&[&[0x02, 0x00], &head]), "WireType");
    put(
        "head.wire_type_1",
        h,
        join(&[&[0x09], &[0u8; 8], &head[..]]),
        "WireType",
    );
    put(
        "head.wire_type_5",
        h,
        join(&[&[0x0d], &[0u8; 4], &head[..]]),
        "WireType",
    );
    put(
        "head.height_as_bytes",
        h,
        join(&[
            &field(1),
            &[0x12, 0x01, 0x01],
            &without(1)[field(2).len()..],
        ]),
        "WireType",
    );
    // Rule 2: order, a repeated non-repeated field, an unknown field.
    // Height (2, optional) after parent (3): out of order.
    let rest = &without(1)[field(2).len()..];
    let parent = field(3);
    put(
        "head.out_of_order",
        h,
        join(&[&field(1), &parent, &field(2), &rest[parent.len()..]]),
        "UnexpectedField",
    );
    // A required field passed over is Missing as soon as a later field appears.
    put(
        "head.required_field_after_a_later_one",
        h,
        join(&[&field(2), &field(1), rest]),
        "Missing",
    );
    put(
        "head.field_twice",
        h,
        join(&[&field(1), &field(1), &without(1)]),
        "UnexpectedField",
    );
    put(
        "head.unknown_field_8",
        h,
        join(&[&head[..], &[0x42, 0x01, 0x00]]),
        "UnexpectedField",
    );
    // A trailing zero byte reads as the key of field 0.
    put(
        "head.trailing_zero_byte",
        h,
        join(&[&head[..], &[0x00]]),
        "WireType",
    );
    // Rule 3: a default value written.
    put(
        "head.height_0_written",
        h,
        join(&[&field(1), &[0x10, 0x00], &without(1)[field(2).len()..]]),
        "DefaultPresent",
    );
    // Rule 4: varints — one byte longer than needed, 11 bytes, over 64 bits.
    let height_field = |raw: &[u8]| join(&[&field(1), &[0x10], raw, &without(1)[field(2).len()..]]);
    put(
        "head.height_non_minimal",
        h,
        height_field(&[0x81, 0x00]),
        "NonMinimalVarint",
    );
    put(
        "head.height_11_bytes",
        h,
        height_field(&[
            0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ]),
        "NonMinimalVarint",
    );
    put(
        "head.height_over_u64",
        h,
        height_field(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        "NonMinimalVarint",
    );
    // Rule 5: a bytes32 of 31 bytes; a required field left out.
    let short_device = join(&[&[0x0a, 31], &field(1)[3..]]);
    put(
        "head.device_31_bytes",
        h,
        join(&[&short_device, &without(1)]),
        "Length",
    );
    put("head.device_missing", h, without(1), "Missing");
    // Truncated input: the last byte cut; a length past the end.
    put(
        "head.truncated",
        h,
        head[..head.len() - 1].to_vec(),
        "Truncated",
    );
    let mut long = head.clone();
    long[1] = 33; // the device field's length, one past its 32 bytes
    put("head.length_past_end", h, long[..34].to_vec(), "Truncated");
    // Rule 8: an unknown enum value.
    let mut with_kind = Vec::new();
    for f in &hf {
        if f.0 == 6 {
            with_kind.extend_from_slice(&[0x30, 99]);
        } else {
            with_kind.extend_from_slice(&f.2);
        }
    }
    put("head.unknown_kind", h, with_kind, "Invalid");
    // u64 max height decodes (the value is in range): the predicate refuses it (below).

    // §7.3 on the conformance receipt, each row one mutation; the first check it breaks
    // gives the error (signatures are checked last, so none needs re-signing).
    let r = Receipt::from_bytes(&vector("ml-dsa-65.ab.receipt")).unwrap();
    let rt = "dsm.v1.Receipt";
    let mut mutate = |name: &str, e: &'static str, f: &dyn Fn(&mut Receipt)| {
        let mut m = r.clone();
        f(&mut m);
        put(name, rt, m.to_bytes(), e);
    };
    mutate("receipt.self_transfer", "SelfTransfer", &|m| {
        m.proposal.proposal.step.receiver = m.proposal.proposal.step.sender
    });
    mutate(
        "receipt.relationship_mismatch",
        "RelationshipMismatch",
        &|m| {
            m.proposal.proposal.step.relationship =
                dsm_core::chain::RelationshipKey(dsm_core::hash::Digest([7; 32]))
        },
    );
    mutate("receipt.parcels_short", "Parcels", &|m| {
        let o = &mut m.proposal.proposal.parcels.outputs[0];
        o.amount = Amount(o.amount.0 - 1);
    });
    mutate("receipt.parent_height_u64_max", "NotAdjacent", &|m| {
        m.proposal.proposal.sender_parent_head.height = u64::MAX
    });
    mutate("receipt.child_not_after_parent", "NotAdjacent", &|m| {
        m.proposal.proposal.sender_child_head.parent =
            dsm_core::chain::HeadDigest(dsm_core::hash::Digest([7; 32]))
    });
    mutate("receipt.child_root_altered", "RootMismatch", &|m| {
        m.proposal.proposal.sender_child_head.smt_root = dsm_core::hash::Digest([7; 32])
    });
    mutate(
        "receipt.acceptance_of_another_proposal",
        "NotAdjacent",
        &|m| m.acceptance.acceptance.proposal_commit = dsm_core::hash::Digest([7; 32]),
    );
    mutate(
        "receipt.sender_identity_of_another_genesis",
        "DeviceBinding",
        &|m| {
            m.proposal.proposal.sender.genesis =
                dsm_core::identity::GenesisDigest(dsm_core::hash::Digest([7; 32]))
        },
    );
    mutate("receipt.step_from_another_tip", "NotAdjacent", &|m| {
        m.proposal.proposal.step.parent_tip =
            dsm_core::chain::TipDigest(dsm_core::hash::Digest([7; 32]))
    });
    mutate("receipt.proof_with_an_extra_sibling", "Proof", &|m| {
        m.proposal
            .proposal
            .sender_proof
            .siblings
            .push(dsm_core::hash::Digest([7; 32]))
    });
    mutate(
        "receipt.receiver_child_root_altered",
        "RootMismatch",
        &|m| m.acceptance.acceptance.receiver_child_head.smt_root = dsm_core::hash::Digest([7; 32]),
    );
    put(
        "receipt.signature_flipped",
        rt,
        {
            let mut b = r.to_bytes();
            let n = b.len();
            b[n - 100] ^= 1;
            b
        },
        "Signature",
    );

    // §7.3 check 7, each balance error (heads re-derived so that checks 3–6 pass).
    let rel = r.proposal.proposal.step.relationship;
    let with_sender_parent = |m: &mut Receipt, balances: dsm_core::chain::Balances| {
        let p = &mut m.proposal.proposal;
        p.sender_parent_head.balances = balances;
        p.step.sender_parent_head = p.sender_parent_head.digest();
        p.sender_child_head.parent = p.step.sender_parent_head;
        let tip = p.step.child_tip();
        p.sender_child_head.cause = tip.0;
        let mut tree = SparseMerkleTree::new();
        tree.insert(*rel.as_bytes(), tip.0);
        p.sender_child_head.smt_root = tree.root();
    };
    let with_receiver_parent = |m: &mut Receipt, balances: dsm_core::chain::Balances| {
        let a = &mut m.acceptance.acceptance;
        a.receiver_parent_head.balances = balances;
        a.receiver_child_head.parent = a.receiver_parent_head.digest();
    };
    let token = r.proposal.proposal.step.token;
    let none = dsm_core::chain::Balances::new();
    let mut mutate = |name: &str, e: &'static str, f: &dyn Fn(&mut Receipt)| {
        let mut m = r.clone();
        f(&mut m);
        put(name, rt, m.to_bytes(), e);
    };
    mutate(
        "receipt.sender_balance_insufficient",
        "Balance.Insufficient",
        &|m| with_sender_parent(m, none.credited(&token, Amount(249)).unwrap()),
    );
    mutate(
        "receipt.receiver_balance_overflow",
        "Balance.Overflow",
        &|m| with_receiver_parent(m, none.credited(&token, Amount(u128::MAX - 249)).unwrap()),
    );
    mutate(
        "receipt.receiver_65th_token",
        "Balance.TooManyTokens",
        &|m| {
            let mut b = none.clone();
            for i in 0..64u8 {
                let t = dsm_core::chain::TokenId::from_label(&format!("OTHER{i}"));
                b = b.credited(&t, Amount(1)).unwrap();
            }
            with_receiver_parent(m, b)
        },
    );
    mutate(
        "receipt.sender_child_balance_mismatch",
        "BalanceMismatch",
        &|m| {
            let c = &mut m.proposal.proposal.sender_child_head;
            let t = dsm_core::chain::TokenId::from_label("OTHER");
            c.balances = c.balances.credited(&t, Amount(1)).unwrap();
        },
    );
    // §7.6: a crossing answer with its crossing removed, or naming a step that does not
    // cross the proposal.
    let cr = Receipt::from_bytes(&vector("ml-dsa-65.cross.receipt")).unwrap();
    let mut mutate_cross = |name: &str, e: &'static str, f: &dyn Fn(&mut Receipt)| {
        let mut m = cr.clone();
        f(&mut m);
        put(name, rt, m.to_bytes(), e);
    };
    mutate_cross("receipt.crossing_removed", "TipNotCurrent", &|m| {
        m.acceptance.acceptance.crossing = None
    });
    mutate_cross("receipt.crossing_of_another_tip", "Crossing", &|m| {
        let c = m.acceptance.acceptance.crossing.as_mut().unwrap();
        c.parent_tip = dsm_core::chain::TipDigest(dsm_core::hash::Digest([7; 32]));
    });

    // §3 rule 8 and the repeated-field counts, on other messages.
    let identity = vector("ml-dsa-65.a.identity");
    let idf = fields(&identity);
    let key = fields(&idf[1].3);
    let pk = |parts: &[&[u8]]| join(&[&idf[0].2, &ld(2, &join(parts))]);
    let di = "dsm.v1.DeviceIdentity";
    put("identity.suite_absent", di, pk(&[&key[1].2]), "Invalid");
    put(
        "identity.suite_3",
        di,
        pk(&[&vint(1, 3), &key[1].2]),
        "Invalid",
    );
    put(
        "identity.key_1951_bytes",
        di,
        pk(&[&key[0].2, &ld(2, &key[1].3[..1951])]),
        "Length",
    );
    put(
        "identity.field_after_the_last",
        di,
        join(&[&identity, &idf[0].2]),
        "UnexpectedField",
    );
    let statement = vector("ml-dsa-65.parcel.statement");
    let stf = fields(&statement);
    let ps = "dsm.v1.ParcelStatement";
    let outputs_with_input = |input: u64| {
        let out = fields(&stf[2].3);
        let first = join(&[&vint(1, input), &out[0].2, &out[1].2]);
        let rest: Vec<u8> = stf[3..].iter().flat_map(|f| f.2.clone()).collect();
        join(&[&stf[0].2, &stf[1].2, &ld(3, &first), &rest])
    };
    put(
        "statement.output_input_2^32",
        ps,
        outputs_with_input(1 << 32),
        "Invalid",
    );
    put(
        "statement.output_input_64",
        ps,
        outputs_with_input(64),
        "Invalid",
    );
    let inputs: Vec<u8> = (0..65u8).flat_map(|i| ld(2, &[i; 32])).collect();
    put(
        "statement.65_inputs",
        ps,
        join(&[&stf[0].2, &inputs]),
        "TooMany",
    );
    let proof = SmtProof {
        siblings: vec![dsm_core::hash::Digest([7; 32]); 257],
        terminal: None,
    };
    put(
        "smt_proof.257_siblings",
        "dsm.v1.SmtProof",
        proof.to_bytes(),
        "TooMany",
    );
    let mut refusal = SignedRefusal::from_bytes(&vector("ml-dsa-65.queue.second_refusal")).unwrap();
    let b0 = refusal.refusal.behind[0].clone();
    refusal.refusal.behind = vec![b0; 4];
    put(
        "refusal.4_behind",
        "dsm.v1.SignedRefusal",
        refusal.to_bytes(),
        "TooMany",
    );
    let head65: Vec<u8> = {
        let hf = fields(&vector("ml-dsa-65.a.funded_head"));
        let balances: Vec<u8> = (0..65u8)
            .flat_map(|i| ld(5, &join(&[&ld(1, &[i; 32]), &ld(2, &[1; 16])])))
            .collect();
        let before: Vec<u8> = hf
            .iter()
            .filter(|f| f.0 < 5)
            .flat_map(|f| f.2.clone())
            .collect();
        let after: Vec<u8> = hf
            .iter()
            .filter(|f| f.0 > 5)
            .flat_map(|f| f.2.clone())
            .collect();
        join(&[&before, &balances, &after])
    };
    put("head.65_balances", h, head65, "TooMany");

    // §8.2 and §5.6: the order of a proof's two statements and of a fork's two hops.
    let ep = "dsm.v1.EquivocationProof";
    let proof = EquivocationProof::from_bytes(&vector("ml-dsa-65.a.equivocation_proof")).unwrap();
    let (s1, s2) = proof.statements().unwrap();
    let pair = |a: &Statement, b: &Statement| join(&[&ld(1, &a.to_bytes()), &ld(2, &b.to_bytes())]);
    put("proof.statements_swapped", ep, pair(s2, s1), "Invalid");
    put("proof.statements_equal", ep, pair(s1, s1), "Invalid");
    let fork = ParcelFork::from_bytes(&vector("ml-dsa-65.parcel.fork")).unwrap();
    let forked = |a: &dsm_core::parcel::Hop, b: &dsm_core::parcel::Hop| {
        join(&[
            &ld(1, &fork.signer.to_bytes()),
            &ld(2, &a.to_bytes()),
            &ld(3, &b.to_bytes()),
        ])
    };
    let pf = "dsm.v1.ParcelFork";
    put(
        "fork.hops_swapped",
        pf,
        forked(&fork.second, &fork.first),
        "Invalid",
    );
    put(
        "fork.hops_equal",
        pf,
        forked(&fork.first, &fork.first),
        "Invalid",
    );
    // §8.2's checks after decoding.
    let receipt = Receipt::from_bytes(&vector("ml-dsa-65.ab.receipt")).unwrap();
    let ordered = |a: Statement, b: Statement| {
        if a.digest() < b.digest() {
            pair(&a, &b)
        } else {
            pair(&b, &a)
        }
    };
    let again = {
        // The same proposal signed again with other (hedged) randomness.
        let key = dsm_core::crypto::SigningKey::from_seed(
            dsm_core::crypto::SuiteId::MlDsa65,
            &dsm_core::crypto::SecretSeed::from_bytes([1; 32]),
        );
        SignedProposal {
            proposal: receipt.proposal.proposal.clone(),
            signature: key
                .sign(receipt.proposal.proposal.commit().as_bytes(), &[1; 32])
                .unwrap(),
        }
    };
    put(
        "proof.one_proposal_signed_twice",
        ep,
        ordered(
            Statement::Proposal(receipt.proposal.clone()),
            Statement::Proposal(again),
        ),
        "Identical",
    );
    put(
        "proof.two_signers",
        ep,
        ordered(
            Statement::Proposal(receipt.proposal.clone()),
            Statement::Acceptance(receipt.acceptance.clone()),
        ),
        "DifferentSigners",
    );
    let queued = |n: &str| {
        SignedProposal::from_bytes(&vector(&format!("ml-dsa-65.queue.{n}_proposal"))).unwrap()
    };
    put(
        "proof.two_honest_proposals",
        ep,
        ordered(
            Statement::Proposal(queued("first")),
            Statement::Proposal(queued("second")),
        ),
        "NotConflicting",
    );
    put(
        "proof.signature_flipped",
        ep,
        {
            let mut b = vector("ml-dsa-65.a.equivocation_proof");
            let n = b.len();
            b[n - 100] ^= 1;
            b
        },
        "Signature",
    );

    // §5.6 LineageManifest: its start once, nesting.
    let manifest = vector("ml-dsa-65.parcel.manifest");
    let mf = fields(&manifest);
    let lm = "dsm.v1.LineageManifest";
    put(
        "manifest.root_twice",
        lm,
        join(&[
            &mf[0].2,
            &mf[1].2,
            &mf[1].2,
            &join(&mf[2..].iter().map(|f| f.2.as_slice()).collect::<Vec<_>>()),
        ]),
        "UnexpectedField",
    );
    let m = LineageManifest::from_bytes(&manifest).unwrap();
    let mut deep = m.clone();
    for _ in 0..5 {
        let mut outer = m.clone();
        outer.consumed = vec![deep];
        deep = outer;
    }
    put("manifest.consumed_5_deep", lm, deep.to_bytes(), "Invalid");
    let verified = join(&[
        &mf[0].2,
        &ld(3, &[1; 32]),
        &join(&mf[2..].iter().map(|f| f.2.as_slice()).collect::<Vec<_>>()),
        &ld(6, &manifest),
    ]);
    put("manifest.consumed_after_verified", lm, verified, "Invalid");

    // §15.2 Admission: the kind selects the fields.
    let ad = "dsm.v1.Admission";
    put(
        "admission.kind_1_with_parties",
        ad,
        join(&[&vint(1, 1), &ld(2, &[1; 32]), &ld(7, &[2; 32])]),
        "UnexpectedField",
    );
    put(
        "admission.kind_1_without_genesis",
        ad,
        vint(1, 1),
        "Missing",
    );
    put("admission.kind_3_empty", ad, vint(1, 3), "Invalid");
    put(
        "admission.kind_3_17_keys",
        ad,
        join(&[
            &vint(1, 3),
            &(0..17u8).flat_map(|i| ld(5, &[i; 32])).collect::<Vec<u8>>(),
        ]),
        "TooMany",
    );
    put(
        "admission.kind_7",
        ad,
        join(&[&vint(1, 7), &ld(2, &[1; 32])]),
        "Invalid",
    );
    put(
        "admission.kind_6_with_the_genesis",
        ad,
        join(&[&vint(1, 6), &ld(2, &[1; 32])]),
        "UnexpectedField",
    );
    put("admission.kind_6_without_blind", ad, vint(1, 6), "Missing");
    // Kinds 2 and 4 no longer show the genesis record (field 3, until 2026-12-06).
    put(
        "admission.kind_2_with_a_record",
        ad,
        join(&[&vint(1, 2), &ld(3, &[]), &ld(8, &[1; 32])]),
        "UnexpectedField",
    );
    // A device key without the device's admission of the authority.
    put(
        "admission.kind_2_device_without_its_admission",
        ad,
        join(&[
            &vint(1, 2),
            &ld(
                4,
                &dsm_core::crypto::SigningKey::from_seed(
                    dsm_core::crypto::SuiteId::MlDsa65,
                    &dsm_core::crypto::SecretSeed::from_bytes([1; 32]),
                )
                .public_key()
                .to_bytes(),
            ),
            &ld(8, &[1; 32]),
        ]),
        "Invalid",
    );
    v
}

#[test]
fn reject_vectors_are_refused_with_their_named_error() {
    let rows = rows();
    let mut text = String::from(
        "# DSM v1 reject vectors. Format: name <TAB> proto message type <TAB> hex <TAB> error\n\
         # Generated by crates/dsm-core/tests/reject.rs; see PROTOCOL.md §10.\n",
    );
    let mut wrong = Vec::new();
    for (name, ty, bytes, e) in &rows {
        let got = rust_error(ty, bytes);
        if got != *e {
            wrong.push(format!("{name}: {got}, not {e}"));
        }
        text.push_str(&format!("{name}\t{ty}\t{}\t{e}\n", hex::encode(bytes)));
    }
    assert!(
        wrong.is_empty(),
        "the Rust implementation gives other errors: {wrong:#?}"
    );
    if std::env::var_os("DSM_WRITE_VECTORS").is_some() {
        std::fs::write(PATH, &text).unwrap();
    }
    let stored =
        std::fs::read_to_string(PATH).expect("reject-v1.txt (DSM_WRITE_VECTORS=1 writes it)");
    assert!(
        stored == text,
        "reject-v1.txt differs from what this test derives (DSM_WRITE_VECTORS=1 writes it)"
    );
}
