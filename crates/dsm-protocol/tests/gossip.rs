//! What a hello gossips (PROTOCOL.md §12.5): evidence in at most half the places, then
//! recent witnessed proposals not sent to this peer before, never a party's own.

mod common;

use common::*;
use dsm_core::crypto::SuiteId;
use dsm_core::tripwire::{EquivocationProof, Statement};
use dsm_protocol::gossip::GossipPicker;

fn proof(n: u8) -> EquivocationProof {
    let (_, x, y) = fork(n);
    EquivocationProof::new(Statement::Proposal(x), Statement::Proposal(y))
        .unwrap()
        .0
}

/// The witness key of a proposal: device id ‖ parent head digest.
fn key_of(p: &dsm_core::receipt::SignedProposal) -> Vec<u8> {
    let mut k = p.proposal.step.sender.as_bytes().to_vec();
    k.extend_from_slice(p.proposal.sender_child_head.parent.as_bytes());
    k
}

#[test]
fn evidence_takes_at_most_half_the_places_and_recent_proposals_fill_the_rest() {
    let max = 8;
    let parties = [Device::new(SuiteId::MlDsa65, 200).id()];
    let mut pick = GossipPicker::new(max, &parties);
    // Ten cheap equivocators: the first two proofs fill the four evidence places.
    let mut offered = 0;
    for n in 1..=10 {
        offered += 1;
        if !pick.evidence(&proof(n)) {
            break;
        }
    }
    assert_eq!(
        offered, 2,
        "the picker stops asking once evidence has its share"
    );
    assert!(!pick.evidence(&proof(11)), "no room for more evidence");
    // Recent witnessed proposals take the other half.
    let mut taken = 0;
    for n in 20..30 {
        let (_, x, _) = fork(n);
        let key = key_of(&x);
        if pick.wants(&key, false) && pick.recent(&key, x) {
            taken += 1;
        }
    }
    assert_eq!(taken, max - max / 2);
    let out = pick.remember(None);
    assert_eq!(out.len(), max);
    let from_evidence = out
        .iter()
        .filter(|p| {
            p.proposal.step.sender == fork(1).0.id() || p.proposal.step.sender == fork(2).0.id()
        })
        .count();
    assert_eq!(from_evidence, max / 2);
}

#[test]
fn a_party_and_what_the_peer_was_sent_are_never_gossiped() {
    let (a, x, y) = fork(1);
    let parties = [a.id()];
    let mut pick = GossipPicker::new(8, &parties);
    // A proof against a party gives no place to its proposals.
    let p = EquivocationProof::new(Statement::Proposal(x.clone()), Statement::Proposal(y))
        .unwrap()
        .0;
    assert!(pick.evidence(&p));
    assert!(!pick.wants(&key_of(&x), false), "a party's own proposal");
    let (_, z, _) = fork(2);
    assert!(!pick.wants(&key_of(&z), true), "sent to this peer before");
    assert!(!pick.wants(&key_of(&z)[..63], false), "a damaged key");
    assert!(pick.wants(&key_of(&z), false));
    assert!(pick.recent(&key_of(&z), z.clone()));
    assert!(
        !pick.recent(&key_of(&z), z.clone()),
        "the same proposal twice"
    );
    let mut sent = Vec::new();
    assert_eq!(pick.remember(Some(&mut sent)), vec![z.clone()]);
    assert_eq!(sent, vec![key_of(&z)]);
}

#[test]
fn what_was_sent_is_remembered_within_four_hellos_worth() {
    let max = 2;
    let mut sent: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 64]).collect();
    let mut pick = GossipPicker::new(max, &[]);
    let (_, x, _) = fork(3);
    assert!(pick.recent(&key_of(&x), x));
    pick.remember(Some(&mut sent));
    assert_eq!(sent.len(), 4 * max);
    assert_eq!(sent.last(), Some(&key_of(&fork(3).1)), "the newest is kept");
}
