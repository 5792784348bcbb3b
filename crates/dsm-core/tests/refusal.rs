//! Signed refusal and release: the receiver's refusal moves both trees to the release tip,
//! the sender takes the amount back, every corruption of a refusal is refused, and a
//! receiver that both accepts and refuses one proposal is caught by Tripwire.

mod common;

use common::*;
use dsm_core::chain::{Amount, TransitionKind};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::*;
use dsm_core::tripwire::*;

#[test]
fn refusal_then_release_restores_the_sender_and_realigns_the_trees() {
    for suite in SuiteId::ALL {
        let mut ctr = 0;
        let mut a = Device::new(suite, 1);
        let mut b = Device::new(suite, 2);
        a.fund(token(), 50);
        let p = propose(
            &a.local(),
            &b.id(),
            token(),
            Amount(20),
            &common::inputs_of(&a.local(), token(), Amount(20)),
            &rnd(&mut ctr),
        )
        .unwrap();
        let rel = p.signed.proposal.step.relationship;
        a.head = p.child_head.clone();
        a.tree.insert(*rel.as_bytes(), p.child_tip.0);
        let vp = verify_proposal(&p.signed, &EmptyView).unwrap();
        let r = refuse(&b.local(), &vp, 7, &rnd(&mut ctr)).unwrap();
        assert_eq!(r.child_head.kind, TransitionKind::Refuse);
        assert_eq!(
            r.child_head.balances, b.head.balances,
            "a refusal changes no balance"
        );
        assert_eq!(r.leaf, release_tip(&p.child_tip));
        // The refusal travels as bytes.
        let wire = SignedRefusal::from_bytes(&r.signed.to_bytes()).unwrap();
        let own = own_proposal(&p);
        let vr = verify_refusal(&own, &wire, &EmptyView).unwrap();
        let rel_out = release(&a.local(), &vr).unwrap();
        assert_eq!(rel_out.child_head.kind, TransitionKind::Release);
        assert_eq!(
            rel_out.child_head.balances.get(&token()),
            Amount(50),
            "the amount is back"
        );
        b.head = r.child_head.clone();
        b.tree.insert(*rel.as_bytes(), r.leaf.0);
        a.head = rel_out.child_head.clone();
        a.tree.insert(*rel.as_bytes(), rel_out.release_tip.0);
        assert_eq!(
            a.tree.get(rel.as_bytes()),
            b.tree.get(rel.as_bytes()),
            "both trees agree on the relationship"
        );
        // The relationship goes on from the release tip, in either direction.
        let receipt = transfer(&mut a, &mut b, token(), 5, &mut ctr);
        assert_eq!(receipt.proposal.proposal.step.parent_tip, r.leaf);
        // A refusal is only possible before accepting, and a release only with the step current.
        assert!(matches!(
            refuse(&b.local(), &vp, 1, &rnd(&mut ctr)),
            Err(BuildError::Refused(ReceiptError::TipNotCurrent(
                Party::Receiver
            )))
        ));
        assert!(matches!(
            release(&a.local(), &vr),
            Err(BuildError::Refused(ReceiptError::TipNotCurrent(
                Party::Sender
            )))
        ));
    }
}

#[test]
fn every_corruption_of_a_refusal_is_refused() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let b = Device::new(SuiteId::MlDsa65, 2);
    let c = Device::new(SuiteId::MlDsa65, 3);
    a.fund(token(), 50);
    let p = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(20),
        &common::inputs_of(&a.local(), token(), Amount(20)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let vp = own_proposal(&p);
    let good = refuse(&b.local(), &vp, 1, &rnd(&mut ctr)).unwrap().signed;
    verify_refusal(&vp, &good, &EmptyView).unwrap();
    let check = |f: &dyn Fn(&mut SignedRefusal), want: &dyn Fn(&ReceiptError) -> bool| {
        let mut bad = good.clone();
        f(&mut bad);
        let e = verify_refusal(&vp, &bad, &EmptyView).unwrap_err();
        assert!(want(&e), "{e:?}");
    };
    check(&|r| r.refusal.proposal_commit.0[0] ^= 1, &|e| {
        matches!(e, ReceiptError::NotAdjacent { .. })
    });
    check(&|r| r.refusal.receiver = c.identity.clone(), &|e| {
        matches!(e, ReceiptError::DeviceBinding(Party::Receiver))
    });
    check(
        &|r| r.refusal.receiver_child_head.kind = TransitionKind::Credit,
        &|e| matches!(e, ReceiptError::NotAdjacent { .. }),
    );
    check(
        &|r| r.refusal.receiver_child_head.cause = r.refusal.receiver_child_head.smt_root,
        &|e| matches!(e, ReceiptError::NotAdjacent { .. }),
    );
    check(
        &|r| r.refusal.receiver_child_head.smt_root.0[3] ^= 1,
        &|e| matches!(e, ReceiptError::RootMismatch(_)),
    );
    check(
        &|r| {
            r.refusal.receiver_child_head.balances = r
                .refusal
                .receiver_child_head
                .balances
                .credited(&token(), Amount(1))
                .unwrap()
        },
        &|e| matches!(e, ReceiptError::BalanceMismatch(_)),
    );
    check(&|r| r.refusal.reason += 1, &|e| {
        matches!(e, ReceiptError::Signature { .. })
    });
    // The input a lineage refusal names is signed, and must be one of the proposal's.
    let input = p.signed.proposal.parcels.inputs[0];
    let naming = refuse_naming(&b.local(), &vp, 6, Some(input), &rnd(&mut ctr))
        .unwrap()
        .signed;
    assert_eq!(naming.refusal.refused_input, Some(input));
    verify_refusal(&vp, &naming, &EmptyView).unwrap();
    let back = SignedRefusal::from_bytes(&naming.to_bytes()).unwrap();
    assert_eq!(back, naming);
    let stranger = dsm_core::parcel::ParcelId(dsm_core::hash::Digest([9; 32]));
    assert!(matches!(
        refuse_naming(&b.local(), &vp, 6, Some(stranger), &rnd(&mut ctr)),
        Err(BuildError::Parcels(_))
    ));
    check(&|r| r.refusal.refused_input = Some(input), &|e| {
        matches!(e, ReceiptError::Signature { .. })
    });
    let mut renamed = naming.clone();
    renamed.refusal.refused_input = Some(stranger);
    assert_eq!(
        verify_refusal(&vp, &renamed, &EmptyView).unwrap_err(),
        ReceiptError::Parcels("named by the refusal is not an input of the proposal")
    );
    // Every byte flip of the encoding is refused (decode error or a check).
    let bytes = good.to_bytes();
    let (mut flips, mut undecodable, mut unverifiable) = (0, 0, 0);
    for i in (0..bytes.len()).step_by(7) {
        let mut b2 = bytes.clone();
        b2[i] ^= 0x10;
        flips += 1;
        match SignedRefusal::from_bytes(&b2) {
            Err(_) => undecodable += 1,
            Ok(r) => {
                assert!(
                    verify_refusal(&vp, &r, &EmptyView).is_err(),
                    "flip at {i} accepted"
                );
                unverifiable += 1;
            }
        }
    }
    // Every flip was refused, one way or the other, and both ways were exercised.
    assert_eq!(undecodable + unverifiable, flips);
    assert!(
        flips > 100 && undecodable > 0 && unverifiable > 0,
        "{flips} {undecodable} {unverifiable}"
    );
}

#[test]
fn accepting_and_refusing_one_proposal_is_equivocation() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 50);
    let p = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(20),
        &common::inputs_of(&a.local(), token(), Amount(20)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let vp = own_proposal(&p);
    let acc = accept(
        &b.local(),
        &vp,
        &common::trusted_lineages(&vp),
        &rnd(&mut ctr),
    )
    .unwrap();
    // A cheating receiver moves its head on (an allocation) and, from the old tree, also
    // signs a refusal of the proposal it accepted: different parent heads, same proposal.
    b.fund(token(), 1);
    let r = refuse(&b.local(), &vp, 1, &rnd(&mut ctr)).unwrap();
    let (proof, what) = EquivocationProof::new(
        Statement::Acceptance(acc.receipt.acceptance.clone()),
        Statement::Refusal(r.signed.clone()),
    )
    .unwrap();
    assert_eq!(
        what,
        Equivocation::AcceptedAndRefused {
            device: b.id(),
            proposal: p.signed.proposal.commit()
        }
    );
    let (_, again) = EquivocationProof::verify_bytes(&proof.to_bytes()).unwrap();
    assert_eq!(again, what);
    // From the same head, the pair is a head fork.
    let b0 = Device::new(SuiteId::MlDsa65, 2);
    let r0 = refuse(&b0.local(), &vp, 1, &rnd(&mut ctr)).unwrap();
    let (_, what0) = EquivocationProof::new(
        Statement::Acceptance(acc.receipt.acceptance),
        Statement::Refusal(r0.signed),
    )
    .unwrap();
    assert!(matches!(what0, Equivocation::HeadFork { .. }));
}

/// Two proposals that crossed (each device paid the other from the same relationship tip)
/// resolve without anyone's help (PROTOCOL.md §7.6): the loser's receiver refuses it while
/// its own winner stays pending, the loser's sender releases and then accepts the winner.
/// Both trees end on the winner's child tip, the loser's amount is back, and every crossing
/// claim that does not hold is refused with its exact error.
#[test]
fn crossed_proposals_resolve_by_the_smaller_child_tip() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 50);
    b.fund(token(), 50);
    let pa = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(20),
        &common::inputs_of(&a.local(), token(), Amount(20)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let pb = propose(
        &b.local(),
        &a.id(),
        token(),
        Amount(7),
        &common::inputs_of(&b.local(), token(), Amount(7)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let rel = pa.signed.proposal.step.relationship;
    assert!(crossed(&pa.signed.proposal.step, &pb.signed.proposal.step));
    a.head = pa.child_head.clone();
    a.tree.insert(*rel.as_bytes(), pa.child_tip.0);
    b.head = pb.child_head.clone();
    b.tree.insert(*rel.as_bytes(), pb.child_tip.0);
    // Name the two sides by the outcome: `w` sent the winner, `l` the loser.
    let a_wins = wins_crossing(&pa.signed.proposal.step, &pb.signed.proposal.step);
    assert_ne!(
        a_wins,
        wins_crossing(&pb.signed.proposal.step, &pa.signed.proposal.step),
        "exactly one of two crossed steps wins"
    );
    let (mut w, mut l, win, lose) = if a_wins {
        (a, b, pa, pb)
    } else {
        (b, a, pb, pa)
    };
    let win_step = win.signed.proposal.step.clone();
    let lose_step = lose.signed.proposal.step.clone();
    let vlose = verify_proposal(&lose.signed, &EmptyView).unwrap();
    let vwin = verify_proposal(&win.signed, &EmptyView).unwrap();
    // Without naming the crossing, neither side can answer: each leaf is its own pending tip.
    assert!(matches!(
        refuse(&w.local(), &vlose, 7, &rnd(&mut ctr)),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    // The winner's receiver cannot accept it yet (its own loser is still pending), and the
    // loser can never be accepted by naming the winner.
    assert!(matches!(
        accept_crossed(
            &l.local(),
            &vwin,
            &trusted_lineages(&vwin),
            Some(&lose_step),
            &rnd(&mut ctr)
        ),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    assert_eq!(
        accept_crossed(
            &w.local(),
            &vlose,
            &trusted_lineages(&vlose),
            Some(&win_step),
            &rnd(&mut ctr)
        )
        .unwrap_err(),
        BuildError::Refused(ReceiptError::Crossing(
            "won against the proposal, which can then only be refused"
        ))
    );
    // 1. The winner's sender refuses the loser; its own leaf stays on its pending winner.
    let refusal =
        refuse_crossed(&w.local(), &vlose, 7, None, Some(&win_step), &rnd(&mut ctr)).unwrap();
    assert_eq!(refusal.leaf, win.child_tip);
    assert_eq!(refusal.child_head.smt_root, w.head.smt_root);
    assert_eq!(refusal.child_head.cause, release_tip(&lose.child_tip).0);
    let wire = SignedRefusal::from_bytes(&refusal.signed.to_bytes()).unwrap();
    assert_eq!(wire.refusal.crossing.as_ref(), Some(&win_step));
    let vr = verify_refusal(&vlose, &wire, &EmptyView).unwrap();
    // A crossing claim that does not hold, or is altered, is refused.
    let mut other = win_step.clone();
    other.parent_tip = lose.child_tip;
    let mut bad = wire.clone();
    bad.refusal.crossing = Some(other);
    assert_eq!(
        verify_refusal(&vlose, &bad, &EmptyView).unwrap_err(),
        ReceiptError::Crossing("does not cross the proposal")
    );
    let mut zero = win_step.clone();
    zero.amount = Amount(0);
    let mut bad = wire.clone();
    bad.refusal.crossing = Some(zero);
    assert_eq!(
        verify_refusal(&vlose, &bad, &EmptyView).unwrap_err(),
        ReceiptError::Crossing("is not a valid step")
    );
    // The leaf of a refusal of the loser must not move (here: a root whose leaf is the
    // loser's child tip, as in its sender's tree).
    let mut moved = wire.clone();
    moved.refusal.receiver_child_head.smt_root = lose.child_head.smt_root;
    assert_eq!(
        verify_refusal(&vlose, &moved, &EmptyView).unwrap_err(),
        ReceiptError::RootMismatch(Party::Receiver)
    );
    let mut bad = wire.clone();
    bad.refusal.crossing = None;
    assert_eq!(
        verify_refusal(&vlose, &bad, &EmptyView).unwrap_err(),
        ReceiptError::TipNotCurrent(Party::Receiver)
    );
    w.head = refusal.child_head.clone();
    w.tree.insert(*rel.as_bytes(), refusal.leaf.0);
    // 2. The loser's sender takes its amount back.
    let released = release(&l.local(), &vr).unwrap();
    assert_eq!(
        released.child_head.balances.get(&token()).0,
        l.balance(&token()) + lose_step.amount.0,
        "the loser's amount is back"
    );
    l.head = released.child_head.clone();
    l.tree.insert(*rel.as_bytes(), released.release_tip.0);
    // 3. It accepts the winner, naming its released step.
    let acc = accept_crossed(
        &l.local(),
        &vwin,
        &trusted_lineages(&vwin),
        Some(&lose_step),
        &rnd(&mut ctr),
    )
    .unwrap();
    let receipt = Receipt::from_bytes(&acc.receipt.to_bytes()).unwrap();
    verify_receipt(&receipt, &EmptyView).unwrap();
    let mut bad = receipt.clone();
    bad.acceptance.acceptance.crossing = None;
    assert_eq!(
        verify_receipt(&bad, &EmptyView).unwrap_err(),
        ReceiptError::TipNotCurrent(Party::Receiver)
    );
    l.head = acc.child_head.clone();
    l.tree.insert(*rel.as_bytes(), acc.child_tip.0);
    assert_eq!(
        l.tree.get(rel.as_bytes()),
        w.tree.get(rel.as_bytes()),
        "both trees end on the winner's child tip"
    );
    // The relationship goes on from there, in either direction.
    let next = transfer(&mut l, &mut w, token(), 1, &mut ctr);
    assert_eq!(next.proposal.proposal.step.parent_tip, win.child_tip);
    transfer(&mut w, &mut l, token(), 1, &mut ctr);
}
