//! Every session message a real session produces (hello with pending and gossip, proposal,
//! acceptance, signed refusal, transient refusal, close) decodes with the published `proto/dsm.proto` through an
//! independent protobuf implementation and re-encodes to identical bytes; and the strict
//! decoder refuses every truncation and non-canonical rewrite of them.

mod common;
use common::*;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_protocol::message::{Close, Refusal, RefusalCode, SessionMessage};
use dsm_protocol::session::Session;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

fn pool() -> DescriptorPool {
    dsm_conformance::schema()
}

/// Real messages: a session in which the payer has a pending proposal and gossip to share.
fn messages() -> Vec<SessionMessage> {
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let (mut c, _) = memory_wallet(50);
    session(&mut c, &mut a, &[5]); // a witnesses c's proposal: gossip for a's next hellos
    let t = std::time::Duration::from_millis(200);
    // b → a with a lost acceptance so that a holds a pending proposal to b.
    session_with(
        &mut a,
        &mut b,
        &[7],
        t,
        |l| l,
        |l| {
            Box::new(dsm_transport::FaultyLink::new(
                l,
                dsm_transport::Fault::Drop,
                1,
            ))
        },
    );
    // A hello does not repeat gossip to the same peer (PROTOCOL.md §12.5): c pays a again,
    // so a has a proposal b has not been sent yet.
    session(&mut c, &mut a, &[6]);
    let mut out = Vec::new();
    b.set_max_incoming(Some(dsm_core::chain::Amount(2))); // the new transfer of 3 gets a signed refusal
    let mut d = Session::dialer(
        b.device_id(),
        vec![(dsm_wallet::token("DEV"), dsm_core::chain::Amount(3))],
    );
    let mut l = Session::listener();
    let mut to_l = d.start(&mut a).unwrap();
    while !to_l.is_empty() {
        out.extend(to_l.iter().cloned());
        let mut to_d = Vec::new();
        for m in to_l.drain(..) {
            to_d.extend(l.handle(wire(&m), &mut b).unwrap());
        }
        out.extend(to_d.iter().cloned());
        for m in to_d {
            to_l.extend(d.handle(wire(&m), &mut a).unwrap());
        }
    }
    out.push(SessionMessage::Refusal(Refusal {
        proposal_commit: Digest([9; 32]),
        code: RefusalCode::Busy,
    }));
    out.push(SessionMessage::Close(Close));
    out
}

#[test]
fn every_session_message_round_trips_through_the_schema() {
    let pool = pool();
    let desc = pool.get_message_by_name("dsm.v1.SessionMessage").unwrap();
    let msgs = messages();
    let kinds: std::collections::BTreeSet<&str> = msgs.iter().map(|m| m.name()).collect();
    assert_eq!(kinds.len(), 6, "all six kinds: {kinds:?}");
    let hello_with_everything = msgs.iter().any(
        |m| matches!(m, SessionMessage::Hello(h) if h.pending.is_some() && !h.witnessed.is_empty()),
    );
    assert!(
        hello_with_everything,
        "a hello carrying a pending proposal and gossip"
    );
    for m in &msgs {
        let bytes = m.to_bytes();
        let dm = DynamicMessage::decode(desc.clone(), bytes.as_slice())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        assert!(
            dm.unknown_fields().next().is_none(),
            "{}: schema lacks a field",
            m.name()
        );
        assert_eq!(
            dm.encode_to_vec(),
            bytes,
            "{}: schema re-encoding differs",
            m.name()
        );
        assert_eq!(&SessionMessage::from_bytes(&bytes).unwrap(), m);
    }
}

#[test]
fn strict_decoding_refuses_truncations_and_non_canonical_rewrites() {
    for m in messages() {
        let bytes = m.to_bytes();
        for cut in [0, 1, bytes.len() / 3, bytes.len() - 1] {
            if cut < bytes.len() {
                assert!(
                    SessionMessage::from_bytes(&bytes[..cut]).is_err()
                        || cut == 0 && bytes.is_empty(),
                    "{} cut at {cut}",
                    m.name()
                );
            }
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(
            SessionMessage::from_bytes(&trailing).is_err(),
            "{}: trailing byte",
            m.name()
        );
        // Two bodies at once.
        let mut two = bytes.clone();
        two.extend_from_slice(&SessionMessage::Close(Close).to_bytes());
        assert!(
            SessionMessage::from_bytes(&two).is_err(),
            "{}: two bodies",
            m.name()
        );
    }
    assert!(
        SessionMessage::from_bytes(&[]).is_err(),
        "an empty message has no body"
    );
}
