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
use dsm_core::receipt::{verify_receipt_bytes, EmptyView, Receipt, ReceiptError};

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

/// The top-level fields of a message: (field number, wire type, whole field bytes, value).
fn fields(bytes: &[u8]) -> Vec<(u32, u8, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    let read = |i: &mut usize| {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = bytes[*i];
            *i += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    };
    while i < bytes.len() {
        let start = i;
        let key = read(&mut i);
        let (field, wt) = ((key >> 3) as u32, (key & 7) as u8);
        let value = if wt == 2 {
            let len = read(&mut i) as usize;
            i += len;
            bytes[i - len..i].to_vec()
        } else {
            let vs = i;
            read(&mut i);
            bytes[vs..i].to_vec()
        };
        out.push((field, wt, bytes[start..i].to_vec(), value));
    }
    out
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

fn receipt_name(e: &ReceiptError) -> String {
    match e {
        ReceiptError::Decode(d) => decode_name(d),
        other => {
            let dbg = format!("{other:?}");
            dbg.split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap()
                .to_string()
        }
    }
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
    assert_eq!(
        stored, text,
        "reject-v1.txt differs from what this test derives"
    );
}
