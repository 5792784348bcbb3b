//! The published schema `proto/dsm.proto` matches the canonical encoding byte for byte:
//! an independent protobuf implementation (prost-reflect, driven only by the .proto file)
//! decodes every message vector and re-encodes it to the identical bytes, and sees the
//! field values the Rust types hold.

use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};

fn pool() -> DescriptorPool {
    dsm_conformance::schema()
}

#[test]
fn every_message_vector_round_trips_through_the_schema() {
    let checked = dsm_conformance::round_trip_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dsm-v1.txt"
    ));
    assert!(checked >= 12, "only {checked} message vectors");
}

#[test]
fn schema_field_values_match_the_rust_types() {
    use dsm_core::codec::Canonical;
    let pool = pool();
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dsm-v1.txt"
    ))
    .unwrap();
    let line = file
        .lines()
        .find(|l| l.starts_with("ml-dsa-65.ab.receipt\t"))
        .unwrap();
    let bytes = hex::decode(line.split('\t').nth(2).unwrap()).unwrap();
    let receipt = dsm_core::receipt::Receipt::from_bytes(&bytes).unwrap();
    let msg = DynamicMessage::decode(
        pool.get_message_by_name("dsm.v1.Receipt").unwrap(),
        bytes.as_slice(),
    )
    .unwrap();
    let get = |m: &DynamicMessage, path: &[&str]| -> Value {
        let mut cur = m.clone();
        for (i, p) in path.iter().enumerate() {
            let v = cur
                .get_field_by_name(p)
                .unwrap_or_else(|| panic!("no field {p}"))
                .into_owned();
            if i + 1 == path.len() {
                return v;
            }
            cur = v.as_message().unwrap().clone();
        }
        unreachable!()
    };
    let step = &receipt.proposal.proposal.step;
    assert_eq!(
        get(&msg, &["proposal", "proposal", "step", "amount"])
            .as_bytes()
            .unwrap()
            .as_ref(),
        &step.amount.0.to_be_bytes()
    );
    assert_eq!(
        get(&msg, &["proposal", "proposal", "step", "sender"])
            .as_bytes()
            .unwrap()
            .as_ref(),
        step.sender.as_bytes()
    );
    assert_eq!(
        get(&msg, &["proposal", "signature", "suite"]).as_enum_number(),
        Some(1)
    );
    let h = &receipt.acceptance.acceptance.receiver_child_head;
    assert_eq!(
        get(
            &msg,
            &["acceptance", "acceptance", "receiver_child_head", "height"]
        )
        .as_u64(),
        Some(h.height)
    );
    assert_eq!(
        get(
            &msg,
            &["acceptance", "acceptance", "receiver_child_head", "kind"]
        )
        .as_enum_number(),
        Some(2)
    );
    assert_eq!(msg.descriptor().full_name(), "dsm.v1.Receipt");
}
