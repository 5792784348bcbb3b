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
        assert_eq!(r.release_tip, release_tip(&p.child_tip));
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
        b.tree.insert(*rel.as_bytes(), r.release_tip.0);
        a.head = rel_out.child_head.clone();
        a.tree.insert(*rel.as_bytes(), rel_out.release_tip.0);
        assert_eq!(
            a.tree.get(rel.as_bytes()),
            b.tree.get(rel.as_bytes()),
            "both trees agree on the relationship"
        );
        // The relationship goes on from the release tip, in either direction.
        let receipt = transfer(&mut a, &mut b, token(), 5, &mut ctr);
        assert_eq!(receipt.proposal.proposal.step.parent_tip, r.release_tip);
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
