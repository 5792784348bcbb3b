//! A sender's queue to one receiver (PROTOCOL.md §7.7): each proposal builds on the child
//! tip of the one before; the receiver answers in order, and once it refused one it
//! refuses every later one "behind" it, its leaf staying wherever it is (never on the
//! queue's path). The sender takes each refusal back, and both trees end on the same leaf;
//! with queues on both sides of a crossing too (§7.6).

mod common;

use common::*;
use dsm_core::chain::{Amount, RelationshipStep, TransitionKind};
use dsm_core::codec::{Canonical, DecodeError};
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::*;

/// Device 1 queues three proposals (10, 20, 30) to device 2. Returns both devices (the
/// sender at its head after the three debits) and the proposals.
fn queued() -> (Device, Device, Vec<BuiltProposal>, u64) {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 100);
    let out = queue_of(&mut a, &b, &[10, 20, 30], &mut ctr);
    // Each builds on the child tip of the one before.
    assert_eq!(
        out[1].signed.proposal.step.parent_tip, out[0].child_tip,
        "queued on the first"
    );
    assert_eq!(out[2].signed.proposal.step.parent_tip, out[1].child_tip);
    (a, b, out, ctr)
}

/// The receiver refuses the queue's first proposal and moves to its release tip.
fn refuse_first(b: &mut Device, ps: &[BuiltProposal], ctr: &mut u64) -> BuiltRefusal {
    let rel = ps[0].signed.proposal.step.relationship;
    let v0 = verify_proposal(&ps[0].signed, &EmptyView).unwrap();
    let r0 = refuse(&b.local(), &v0, 5, &rnd(ctr)).unwrap();
    b.head = r0.child_head.clone();
    b.tree.insert(*rel.as_bytes(), r0.leaf.0);
    r0
}

fn steps(ps: &[BuiltProposal]) -> Vec<RelationshipStep> {
    ps.iter().map(|p| p.signed.proposal.step.clone()).collect()
}

#[test]
fn a_refusal_releases_the_queue_behind_it_and_both_trees_agree() {
    let (mut a, mut b, ps, mut ctr) = queued();
    let rel = ps[0].signed.proposal.step.relationship;
    // The receiver accepts the first.
    let v0 = verify_proposal(&ps[0].signed, &EmptyView).unwrap();
    let acc = accept(&b.local(), &v0, &trusted_lineages(&v0), &rnd(&mut ctr)).unwrap();
    verify_receipt(&acc.receipt, &EmptyView).unwrap();
    b.head = acc.child_head.clone();
    b.tree.insert(*rel.as_bytes(), acc.child_tip.0);
    // It refuses the second: its leaf moves to the second's release tip.
    let v1 = verify_proposal(&ps[1].signed, &EmptyView).unwrap();
    let r1 = refuse(&b.local(), &v1, 5, &rnd(&mut ctr)).unwrap();
    assert_eq!(r1.leaf, release_tip(&ps[1].child_tip));
    b.head = r1.child_head.clone();
    b.tree.insert(*rel.as_bytes(), r1.leaf.0);
    // The third cannot be accepted any more; it is refused behind the second.
    let v2 = verify_proposal(&ps[2].signed, &EmptyView).unwrap();
    assert!(matches!(
        accept(&b.local(), &v2, &trusted_lineages(&v2), &rnd(&mut ctr)),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    let r2 = refuse_queued(&b.local(), &v2, 5, &steps(&ps[1..2]), &rnd(&mut ctr)).unwrap();
    assert_eq!(r2.child_head.kind, TransitionKind::Refuse);
    assert_eq!(r2.leaf, r1.leaf, "the receiver's leaf stays");
    assert_eq!(r2.child_head.cause, release_tip(&ps[2].child_tip).0);
    b.head = r2.child_head.clone();
    // Both refusals travel as bytes and verify against the sender's own proposals.
    let w1 = SignedRefusal::from_bytes(&r1.signed.to_bytes()).unwrap();
    let w2 = SignedRefusal::from_bytes(&r2.signed.to_bytes()).unwrap();
    let vr1 = verify_refusal(&own_proposal(&ps[1]), &w1, &EmptyView).unwrap();
    let vr2 = verify_refusal(&own_proposal(&ps[2]), &w2, &EmptyView).unwrap();
    assert_eq!(vr2.release_tip(), vr1.release_tip());
    // The sender: the first refusal moves its leaf from the queue's tail at once...
    assert!(matches!(
        release(&a.local(), &vr1),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Sender
        )))
    ));
    assert!(matches!(
        release(&a.local(), &vr2),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Sender
        ))),
    ));
    let out1 = release_queued(&a.local(), &vr1, &steps(&ps[2..])).unwrap();
    assert_eq!(out1.release_tip, r1.leaf);
    assert_eq!(
        out1.child_head.balances.get(&token()),
        Amount(100 - 60 + 20)
    );
    a.head = out1.child_head.clone();
    a.tree.insert(*rel.as_bytes(), out1.release_tip.0);
    // ...and the one behind it gives its amount back without moving the leaf.
    let out2 = release(&a.local(), &vr2).unwrap();
    assert_eq!(out2.release_tip, r1.leaf);
    assert_eq!(out2.child_head.balances.get(&token()), Amount(90));
    assert_eq!(out2.child_head.smt_root, out1.child_head.smt_root);
    a.head = out2.child_head.clone();
    assert_eq!(a.tree.get(rel.as_bytes()), b.tree.get(rel.as_bytes()));
    assert_eq!(b.head.balances.get(&token()), Amount(10));
    // The relationship goes on from there.
    let next = transfer(&mut a, &mut b, token(), 5, &mut ctr);
    assert_eq!(next.proposal.proposal.step.parent_tip, r1.leaf);
}

#[test]
fn a_queue_that_does_not_lead_to_the_proposal_is_refused() {
    let (a, mut b, ps, mut ctr) = queued();
    // The receiver refuses the first, so the second and third are behind it.
    let r0 = refuse_first(&mut b, &ps, &mut ctr);
    let v2 = verify_proposal(&ps[2].signed, &EmptyView).unwrap();
    let queue_err = |e: Result<BuiltRefusal, BuildError>| match e {
        Err(BuildError::Refused(ReceiptError::Queue(why))) => why,
        other => panic!("{other:?}"),
    };
    // A step missing, or out of order.
    assert_eq!(
        queue_err(refuse_queued(
            &b.local(),
            &v2,
            5,
            &steps(&ps[..1]),
            &rnd(&mut ctr)
        )),
        "does not lead to the proposal"
    );
    let mut swapped = steps(&ps[..2]);
    swapped.swap(0, 1);
    assert_eq!(
        queue_err(refuse_queued(&b.local(), &v2, 5, &swapped, &rnd(&mut ctr))),
        "does not lead to the proposal"
    );
    // A step of another sender.
    let mut other = steps(&ps[..2]);
    other[0].sender = b.id();
    assert_eq!(
        queue_err(refuse_queued(&b.local(), &v2, 5, &other, &rnd(&mut ctr))),
        "holds a step that is not a valid one of the same sender to the same receiver"
    );
    // Empty, or named together with a crossing.
    assert_eq!(
        queue_err(refuse_queued(&b.local(), &v2, 5, &[], &rnd(&mut ctr))),
        "is empty"
    );
    // The right queue, from a receiver whose leaf is on the queue's path, so that the
    // proposal could still be accepted from there: the first step's parent (a receiver
    // that never answered the queue), or a step's child tip (one that accepted it).
    let fresh = Device::new(SuiteId::MlDsa65, 2);
    assert!(matches!(
        refuse_queued(&fresh.local(), &v2, 5, &steps(&ps[..2]), &rnd(&mut ctr)),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    let mut accepting = Device::new(SuiteId::MlDsa65, 2);
    let v0 = verify_proposal(&ps[0].signed, &EmptyView).unwrap();
    let acc = accept(
        &accepting.local(),
        &v0,
        &trusted_lineages(&v0),
        &rnd(&mut ctr),
    )
    .unwrap();
    accepting.head = acc.child_head.clone();
    accepting.tree.insert(
        *ps[0].signed.proposal.step.relationship.as_bytes(),
        acc.child_tip.0,
    );
    assert!(matches!(
        refuse_queued(&accepting.local(), &v2, 5, &steps(&ps[..2]), &rnd(&mut ctr)),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    // The right one verifies; then each corruption of its queue is refused by the
    // verifier, signature or not.
    let good = refuse_queued(&b.local(), &v2, 5, &steps(&ps[..2]), &rnd(&mut ctr)).unwrap();
    let own2 = own_proposal(&ps[2]);
    verify_refusal(&own2, &good.signed, &EmptyView).unwrap();
    let mut forged = good.signed.clone();
    forged.refusal.behind.pop();
    assert_eq!(
        verify_refusal(&own2, &forged, &EmptyView).unwrap_err(),
        ReceiptError::Queue("does not lead to the proposal")
    );
    // A queue that leads to the proposal from a later step: the leaf rule holds (the
    // receiver's leaf is off that path too), so only the signature tells it was altered.
    let mut forged = good.signed.clone();
    forged.refusal.behind.remove(0);
    assert!(matches!(
        verify_refusal(&own2, &forged, &EmptyView).unwrap_err(),
        ReceiptError::Signature {
            party: Party::Receiver,
            ..
        }
    ));
    let mut forged = good.signed.clone();
    forged.refusal.crossing = Some(ps[0].signed.proposal.step.clone());
    assert_eq!(
        verify_refusal(&own2, &forged, &EmptyView).unwrap_err(),
        ReceiptError::Queue("is named together with a crossing")
    );
    // Without its queue it is a plain refusal of the third, from a leaf it never had.
    let mut forged = good.signed.clone();
    forged.refusal.behind.clear();
    assert_eq!(
        verify_refusal(&own2, &forged, &EmptyView).unwrap_err(),
        ReceiptError::TipNotCurrent(Party::Receiver)
    );
    // The sender cannot release the queue behind a refused step before that step's own
    // release moved its leaf, nor from a queue that does not follow it.
    let vr = verify_refusal(&own2, &good.signed, &EmptyView).unwrap();
    assert!(matches!(
        release(&a.local(), &vr),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Sender
        )))
    ));
    let vr0 = verify_refusal(&own_proposal(&ps[0]), &r0.signed, &EmptyView).unwrap();
    assert!(matches!(
        release_queued(&a.local(), &vr0, &steps(&ps[2..])),
        Err(BuildError::Refused(ReceiptError::Queue(
            "does not follow the refused step"
        )))
    ));
    release_queued(&a.local(), &vr0, &steps(&ps[1..])).unwrap();
}

#[test]
fn a_queue_is_at_most_max_queue_long_on_the_wire() {
    let (_, mut b, ps, mut ctr) = queued();
    refuse_first(&mut b, &ps, &mut ctr);
    let v2 = verify_proposal(&ps[2].signed, &EmptyView).unwrap();
    let good = refuse_queued(&b.local(), &v2, 5, &steps(&ps[..2]), &rnd(&mut ctr)).unwrap();
    let mut long = good.signed.clone();
    long.refusal.behind = vec![ps[0].signed.proposal.step.clone(); MAX_QUEUE];
    assert_eq!(
        verify_refusal(&own_proposal(&ps[2]), &long, &EmptyView).unwrap_err(),
        ReceiptError::Queue("is longer than a queue can be")
    );
    assert!(matches!(
        SignedRefusal::from_bytes(&long.to_bytes()),
        Err(DecodeError::TooMany { field: 10, .. })
    ));
}

/// `d` proposes `amounts` to `to` in turn, each from its head after the one before (a
/// queue, PROTOCOL.md §7.7), and commits each debit to its own head and tree.
fn queue_of(d: &mut Device, to: &Device, amounts: &[u128], ctr: &mut u64) -> Vec<BuiltProposal> {
    let mut out = Vec::new();
    for &amount in amounts {
        let p = propose(
            &d.local(),
            &to.id(),
            token(),
            Amount(amount),
            &inputs_of(&d.local(), token(), Amount(amount)),
            &rnd(ctr),
        )
        .unwrap();
        d.head = p.child_head.clone();
        d.tree.insert(
            *p.signed.proposal.step.relationship.as_bytes(),
            p.child_tip.0,
        );
        out.push(p);
    }
    out
}

/// Two devices each queue two proposals to the other from the tip they share; the first
/// two cross (PROTOCOL.md §7.6). The winner's sender refuses the loser naming its winner
/// and the loser's queue behind it, its leaf staying on its own queue's tail; the loser's
/// sender takes both back and accepts the winner's queue. Both trees end on the winner's
/// queue's tail. A receiver still at the shared tip cannot refuse the loser, and the loser's
/// sender cannot release the step behind before the loser itself.
#[test]
fn a_crossing_clears_with_queues_on_both_sides() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 100);
    b.fund(token(), 100);
    let qa = queue_of(&mut a, &b, &[10, 20], &mut ctr);
    let qb = queue_of(&mut b, &a, &[3, 4], &mut ctr);
    let rel = qa[0].signed.proposal.step.relationship;
    assert!(crossed(
        &qa[0].signed.proposal.step,
        &qb[0].signed.proposal.step
    ));
    let a_wins = wins_crossing(&qa[0].signed.proposal.step, &qb[0].signed.proposal.step);
    let (mut w, mut l, qw, ql) = if a_wins {
        (a, b, qa, qb)
    } else {
        (b, a, qb, qa)
    };
    let (w_start, l_start) = (w.balance(&token()), l.balance(&token()));
    let sum =
        |q: &[BuiltProposal]| -> u128 { q.iter().map(|p| p.signed.proposal.step.amount.0).sum() };
    let (w_paid, l_paid) = (sum(&qw), sum(&ql));
    let vl: Vec<_> = ql
        .iter()
        .map(|p| verify_proposal(&p.signed, &EmptyView).unwrap())
        .collect();
    let vw: Vec<_> = qw
        .iter()
        .map(|p| verify_proposal(&p.signed, &EmptyView).unwrap())
        .collect();
    let win0 = qw[0].signed.proposal.step.clone();
    // A receiver still at the shared tip could yet accept the loser: it cannot refuse it
    // as a crossing's loser.
    let mut at_start = Device::new(SuiteId::MlDsa65, if a_wins { 1 } else { 2 });
    at_start.fund(token(), 100);
    assert!(matches!(
        refuse_crossed(
            &at_start.local(),
            &vl[0],
            7,
            None,
            Some(&win0),
            &rnd(&mut ctr)
        ),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Receiver
        )))
    ));
    // 1. The winner's sender refuses the loser, then the loser's queue behind it; its leaf
    //    stays on its own queue's tail throughout.
    let r0 = refuse_crossed(&w.local(), &vl[0], 7, None, Some(&win0), &rnd(&mut ctr)).unwrap();
    assert_eq!(r0.leaf, qw[1].child_tip);
    assert_eq!(r0.child_head.smt_root, w.head.smt_root);
    w.head = r0.child_head.clone();
    let r1 = refuse_queued(&w.local(), &vl[1], 7, &steps(&ql[..1]), &rnd(&mut ctr)).unwrap();
    assert_eq!(r1.leaf, qw[1].child_tip);
    w.head = r1.child_head.clone();
    let vr0 = verify_refusal(&own_proposal(&ql[0]), &r0.signed, &EmptyView).unwrap();
    let vr1 = verify_refusal(&own_proposal(&ql[1]), &r1.signed, &EmptyView).unwrap();
    // 2. The loser's sender cannot release the step behind first (its leaf is still the
    //    queue's tail, from which that step could be accepted); it releases the loser with
    //    its queue, then the step behind.
    assert!(matches!(
        release(&l.local(), &vr1),
        Err(BuildError::Refused(ReceiptError::TipNotCurrent(
            Party::Sender
        )))
    ));
    let out0 = release_queued(&l.local(), &vr0, &steps(&ql[1..])).unwrap();
    assert_eq!(out0.release_tip, release_tip(&ql[0].child_tip));
    l.head = out0.child_head.clone();
    l.tree.insert(*rel.as_bytes(), out0.release_tip.0);
    let out1 = release(&l.local(), &vr1).unwrap();
    assert_eq!(out1.release_tip, out0.release_tip, "the leaf stays");
    l.head = out1.child_head.clone();
    assert_eq!(
        l.balance(&token()),
        l_start + l_paid,
        "both amounts are back"
    );
    // 3. It accepts the winner naming its released loser, then the winner's queue.
    let acc0 = accept_crossed(
        &l.local(),
        &vw[0],
        &trusted_lineages(&vw[0]),
        Some(&ql[0].signed.proposal.step),
        &rnd(&mut ctr),
    )
    .unwrap();
    verify_receipt(&acc0.receipt, &EmptyView).unwrap();
    l.head = acc0.child_head.clone();
    l.tree.insert(*rel.as_bytes(), acc0.child_tip.0);
    let acc1 = accept(
        &l.local(),
        &vw[1],
        &trusted_lineages(&vw[1]),
        &rnd(&mut ctr),
    )
    .unwrap();
    verify_receipt(&acc1.receipt, &EmptyView).unwrap();
    l.head = acc1.child_head.clone();
    l.tree.insert(*rel.as_bytes(), acc1.child_tip.0);
    assert_eq!(
        l.tree.get(rel.as_bytes()),
        w.tree.get(rel.as_bytes()),
        "both trees end on the winner's queue's tail"
    );
    assert_eq!(w.balance(&token()), w_start, "refusing moves no value");
    assert_eq!(l.balance(&token()), l_start + l_paid + w_paid);
    // The relationship goes on, either way.
    transfer(&mut l, &mut w, token(), 1, &mut ctr);
    transfer(&mut w, &mut l, token(), 1, &mut ctr);
}
