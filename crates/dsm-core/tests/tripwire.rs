//! Tripwire: a double spend from one head yields a self-contained proof any verifier
//! accepts; everything that is not a conflict is refused.

mod common;

use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::crypto::{Signature, SuiteId};
use dsm_core::receipt::*;
use dsm_core::tripwire::*;

#[test]
fn double_spend_from_one_head_is_caught_when_the_receivers_meet() {
    for suite in SuiteId::ALL {
        let mut ctr = 0;
        let mut a = Device::new(suite, 1);
        let mut b = Device::new(suite, 2);
        let mut c = Device::new(suite, 3);
        a.fund(token(), 10);
        // A signs two successors of the same head: 10 to B and 10 to C.
        let to_b = propose(
            &a.local(),
            &b.id(),
            token(),
            Amount(10),
            &common::inputs_of(&a.local(), token(), Amount(10)),
            &rnd(&mut ctr),
        )
        .unwrap();
        let to_c = propose(
            &a.local(),
            &c.id(),
            token(),
            Amount(10),
            &common::inputs_of(&a.local(), token(), Amount(10)),
            &rnd(&mut ctr),
        )
        .unwrap();
        // B and C, not in contact, each see a valid proposal and accept it.
        let mut view_b = MemoryView::default();
        let mut view_c = MemoryView::default();
        let vb = verify_proposal(&to_b.signed, &view_b).unwrap();
        let vc = verify_proposal(&to_c.signed, &view_c).unwrap();
        let rb = accept(
            &b.local(),
            &vb,
            &common::trusted_lineages(&vb),
            &rnd(&mut ctr),
        )
        .unwrap();
        let rc = accept(
            &c.local(),
            &vc,
            &common::trusted_lineages(&vc),
            &rnd(&mut ctr),
        )
        .unwrap();
        view_b.record(&rb.receipt);
        view_c.record(&rc.receipt);
        b.head = rb.child_head;
        c.head = rc.child_head;

        // They meet: C shows B its receipt. B's view already holds another successor of
        // A's parent head, so the receipt is refused and the pair of statements is evidence.
        let err = verify_receipt(&rc.receipt, &view_b).unwrap_err();
        assert!(
            matches!(
                err,
                ReceiptError::HeadConsumed {
                    party: Party::Sender,
                    ..
                }
            ),
            "{err:?}"
        );
        let (proof, what) = EquivocationProof::new(
            Statement::Proposal(rb.receipt.proposal.clone()),
            Statement::Proposal(rc.receipt.proposal.clone()),
        )
        .unwrap();
        assert_eq!(
            what,
            Equivocation::HeadFork {
                device: a.id(),
                parent: a.head.digest()
            }
        );
        assert_eq!(what.device(), a.id());

        // The proof travels as bytes and convinces a third party that saw nothing else.
        let bytes = proof.to_bytes();
        let (decoded, what2) = EquivocationProof::verify_bytes(&bytes).unwrap();
        assert_eq!(decoded, proof);
        assert_eq!(what2, what);
        // Argument order does not matter: one conflict, one encoding.
        let (proof2, _) = EquivocationProof::new(
            Statement::Proposal(rc.receipt.proposal.clone()),
            Statement::Proposal(rb.receipt.proposal.clone()),
        )
        .unwrap();
        assert_eq!(proof2.to_bytes(), bytes);

        // A verifier that holds the proof refuses A forever, even for valid receipts.
        let mut d_view = MemoryView::default();
        d_view.banned.insert(what.device());
        assert_eq!(
            verify_receipt(&rb.receipt, &d_view).unwrap_err(),
            ReceiptError::Equivocator(a.id())
        );
    }
}

#[test]
fn receiver_side_head_fork_is_provable_from_acceptances() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut c = Device::new(SuiteId::MlDsa65, 3);
    let b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 10);
    c.fund(token(), 10);
    // B accepts two payments from the same head of its own.
    let pa = verify_proposal(
        &propose(
            &a.local(),
            &b.id(),
            token(),
            Amount(1),
            &common::inputs_of(&a.local(), token(), Amount(1)),
            &rnd(&mut ctr),
        )
        .unwrap()
        .signed,
        &EmptyView,
    )
    .unwrap();
    let pc = verify_proposal(
        &propose(
            &c.local(),
            &b.id(),
            token(),
            Amount(1),
            &common::inputs_of(&c.local(), token(), Amount(1)),
            &rnd(&mut ctr),
        )
        .unwrap()
        .signed,
        &EmptyView,
    )
    .unwrap();
    let ra = accept(
        &b.local(),
        &pa,
        &common::trusted_lineages(&pa),
        &rnd(&mut ctr),
    )
    .unwrap();
    let rc = accept(
        &b.local(),
        &pc,
        &common::trusted_lineages(&pc),
        &rnd(&mut ctr),
    )
    .unwrap();
    let (_, what) = EquivocationProof::new(
        Statement::Acceptance(ra.receipt.acceptance.clone()),
        Statement::Acceptance(rc.receipt.acceptance.clone()),
    )
    .unwrap();
    assert_eq!(
        what,
        Equivocation::HeadFork {
            device: b.id(),
            parent: b.head.digest()
        }
    );
}

#[test]
fn non_conflicts_and_forgeries_are_refused() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    let c = Device::new(SuiteId::MlDsa65, 3);
    a.fund(token(), 10);
    let p1 = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(1),
        &common::inputs_of(&a.local(), token(), Amount(1)),
        &rnd(&mut ctr),
    )
    .unwrap();
    // The same proposal signed twice (hedged signatures differ) is one statement.
    let again = SignedProposal {
        proposal: p1.signed.proposal.clone(),
        signature: a
            .key
            .sign(p1.signed.proposal.commit().as_bytes(), &rnd(&mut ctr))
            .unwrap(),
    };
    assert_ne!(again.signature, p1.signed.signature);
    assert_eq!(
        EquivocationProof::new(
            Statement::Proposal(p1.signed.clone()),
            Statement::Proposal(again)
        )
        .unwrap_err(),
        TripwireError::Identical
    );
    // A statement with itself.
    assert_eq!(
        EquivocationProof::new(
            Statement::Proposal(p1.signed.clone()),
            Statement::Proposal(p1.signed.clone())
        )
        .unwrap_err(),
        TripwireError::Identical
    );
    // Consecutive transitions of an honest chain do not conflict.
    let r1 = transfer(&mut a, &mut b, token(), 1, &mut ctr);
    let r2 = transfer(&mut a, &mut b, token(), 1, &mut ctr);
    assert_eq!(
        EquivocationProof::new(
            Statement::Proposal(r1.proposal.clone()),
            Statement::Proposal(r2.proposal.clone())
        )
        .unwrap_err(),
        TripwireError::NotConflicting
    );
    // Statements by two different devices never prove anything against either.
    let pc = propose(
        &b.local(),
        &c.id(),
        token(),
        Amount(1),
        &common::inputs_of(&b.local(), token(), Amount(1)),
        &rnd(&mut ctr),
    )
    .unwrap();
    assert_eq!(
        EquivocationProof::new(
            Statement::Proposal(r2.proposal.clone()),
            Statement::Proposal(pc.signed)
        )
        .unwrap_err(),
        TripwireError::DifferentSigners
    );
    // A conflict whose second signature is forged is refused: nobody can frame a device.
    let x = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(1),
        &common::inputs_of(&a.local(), token(), Amount(1)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let y = propose(
        &a.local(),
        &c.id(),
        token(),
        Amount(1),
        &common::inputs_of(&a.local(), token(), Amount(1)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let mut forged = y.signed.clone();
    let mut sb = forged.signature.sig_bytes().to_vec();
    sb[5] ^= 1;
    forged.signature = Signature::from_parts(forged.signature.suite(), sb).unwrap();
    assert!(matches!(
        EquivocationProof::new(
            Statement::Proposal(x.signed.clone()),
            Statement::Proposal(forged)
        )
        .unwrap_err(),
        TripwireError::Signature { .. }
    ));
    // Non-canonical order in the encoding is refused.
    let (proof, _) = EquivocationProof::new(
        Statement::Proposal(x.signed.clone()),
        Statement::Proposal(y.signed.clone()),
    )
    .unwrap();
    let (s1, s2) = proof.statements().unwrap();
    let mut w = dsm_core::codec::Writer::new();
    w.message(1, s2);
    w.message(2, s1);
    assert!(matches!(
        EquivocationProof::verify_bytes(&w.into_bytes()).unwrap_err(),
        TripwireError::Decode(_)
    ));
    // Every single-byte flip of an encoded proof is refused (or, never, accepted as a different proof).
    let bytes = proof.to_bytes();
    for i in (0..bytes.len()).step_by(7) {
        let mut m = bytes.clone();
        m[i] ^= 1 << (i % 8);
        assert!(
            EquivocationProof::verify_bytes(&m).is_err(),
            "flip at {i} accepted"
        );
    }
}

/// A parcel spent again in a later head (the heads never fork) is evidence in both forms:
/// as the two proposals, and as a parcel fork of their hops alone (which never shows heads
/// or balances). Both name the parcel that the verifier refuses from then on; a proof holds
/// exactly one form.
#[test]
fn a_parcel_spent_again_in_a_later_head_is_evidence_in_both_forms() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let b = Device::new(SuiteId::MlDsa65, 2);
    let c = Device::new(SuiteId::MlDsa65, 3);
    a.fund(token(), 10);
    let spent = common::inputs_of(&a.local(), token(), Amount(10));
    let first = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(10),
        &spent,
        &rnd(&mut ctr),
    )
    .unwrap();
    // A moves on (a later head with a balance again) and pays C from the same parcel.
    a.head = first.child_head.clone();
    let rel = first.signed.proposal.step.relationship;
    a.tree.insert(*rel.as_bytes(), first.child_tip.0);
    a.fund(token(), 10);
    let mut again = spent.clone();
    again[0].amount = Amount(10);
    let second = propose(
        &a.local(),
        &c.id(),
        token(),
        Amount(10),
        &again,
        &rnd(&mut ctr),
    )
    .unwrap();
    let (p1, p2) = (
        Statement::Proposal(first.signed.clone()),
        Statement::Proposal(second.signed.clone()),
    );
    let parcel = spent[0].id;
    let (proof, what) = EquivocationProof::new(p1.clone(), p2.clone()).unwrap();
    assert_eq!(
        what,
        Equivocation::ParcelFork {
            device: a.id(),
            parcel
        }
    );
    assert_eq!(proof.conflicted_parcels(), vec![parcel]);
    // The hops alone: the same conflict, without the heads.
    let fork = dsm_core::parcel::ParcelFork::new(
        a.identity.clone(),
        first.signed.hop(),
        second.signed.hop(),
    )
    .unwrap();
    let (fproof, fwhat) = EquivocationProof::parcel_fork(fork.clone()).unwrap();
    assert_eq!(fwhat, what);
    assert_eq!(fproof.conflicted_parcels(), vec![parcel]);
    assert_eq!(fproof.as_parcel_fork(), Some(&fork));
    let (back, _) = EquivocationProof::verify_bytes(&fproof.to_bytes()).unwrap();
    assert_eq!(back, fproof);
    // Both forms in one proof, or neither: refused.
    let mut w = dsm_core::codec::Writer::new();
    let (s1, s2) = proof.statements().unwrap();
    w.message(1, s1);
    w.message(2, s2);
    w.message(3, &fork);
    assert_eq!(
        format!(
            "{:?}",
            EquivocationProof::from_bytes(&w.into_bytes()).unwrap_err()
        ),
        "Invalid(\"a proof is two statements or one parcel fork\")"
    );
    assert_eq!(
        format!("{:?}", EquivocationProof::from_bytes(&[]).unwrap_err()),
        "Invalid(\"a proof is two statements or one parcel fork\")"
    );
    // The same proposal signed twice (two signatures over one commit) is one statement.
    let mut resigned = first.signed.clone();
    resigned.signature = a
        .key
        .sign(resigned.proposal.commit().as_bytes(), &[77; 32])
        .unwrap();
    assert_ne!(resigned, first.signed);
    assert_eq!(
        EquivocationProof::new(p1, Statement::Proposal(resigned)).unwrap_err(),
        TripwireError::Identical
    );
    // A forged second hop: refused with the fork's own error.
    let mut forged = fork;
    forged.second.signature = forged.first.signature.clone();
    assert!(matches!(
        EquivocationProof::parcel_fork(forged),
        Err(TripwireError::ParcelFork(_))
    ));
}
