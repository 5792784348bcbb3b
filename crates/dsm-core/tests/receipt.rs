//! The acceptance predicate: valid receipts verify; every corrupted field is refused with
//! the error of the first check it breaks; views catch replays, stale heads and forks.

mod common;

use common::*;
use dsm_core::chain::{Amount, Balances, HeadDigest, RelationshipKey, TipDigest, TransitionKind};
use dsm_core::codec::{Canonical, DecodeError};
use dsm_core::crypto::{CryptoError, Signature, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::receipt::*;
use dsm_core::smt::SmtError;

fn setup(suite: SuiteId) -> (Device, Device, Receipt, u64) {
    let mut a = Device::new(suite, 1);
    let mut b = Device::new(suite, 2);
    a.fund(token(), 1_000);
    let mut ctr = 0;
    // One transfer each way so both trees hold the relationship and the proofs are real.
    transfer(&mut a, &mut b, token(), 300, &mut ctr);
    transfer(&mut b, &mut a, token(), 100, &mut ctr);
    // Other relationships, so both trees have interior nodes and proofs have siblings.
    for n in 3..6 {
        let mut c = Device::new(suite, n);
        transfer(&mut a, &mut c, token(), 1, &mut ctr);
        transfer(&mut b, &mut c, token(), 1, &mut ctr);
    }
    let r = transfer(&mut a, &mut b, token(), 250, &mut ctr);
    (a, b, r, ctr)
}

fn flip(d: &mut Digest) {
    d.0[7] ^= 0x10;
}

#[test]
fn valid_receipts_verify_and_both_sides_agree() {
    for suite in SuiteId::ALL {
        let (a, b, r, _) = setup(suite);
        let v = verify_receipt_bytes(&r.to_bytes(), &EmptyView).expect("valid receipt");
        assert!(!v.already_known());
        // Both parties hold the same tip for the relationship (cross-checked, not assumed).
        let rel = RelationshipKey::between(&a.id(), &b.id());
        assert_eq!(a.tree.get(rel.as_bytes()), b.tree.get(rel.as_bytes()));
        assert_eq!(a.tree.get(rel.as_bytes()), Some(v.child_tip().0));
        assert_eq!(a.balance(&token()), 1_000 - 300 + 100 - 3 - 250);
        assert_eq!(b.balance(&token()), 300 - 100 - 3 + 250);
        assert!(r.to_bytes().len() <= MAX_RECEIPT_LEN);
    }
}

/// Applies `mutate` to a decoded copy of the receipt, re-encodes canonically (so decoding
/// passes) and returns the verifier's error.
fn corrupt(r: &Receipt, mutate: impl FnOnce(&mut Receipt)) -> ReceiptError {
    let mut m = r.clone();
    mutate(&mut m);
    let bytes = m.to_bytes();
    verify_receipt_bytes(&bytes, &EmptyView).expect_err("corrupted receipt must be refused")
}

#[test]
fn every_field_corruption_is_refused_with_the_right_error() {
    use Party::*;
    let (_, _, r, _) = setup(SuiteId::MlDsa65);
    let na = |party, reason: &'static str| ReceiptError::NotAdjacent { party, reason };
    let cause = "child head does not name the step's child tip";

    // The step.
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.step.relationship.0)),
        ReceiptError::RelationshipMismatch
    );
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.step.sender.0)),
        ReceiptError::RelationshipMismatch
    );
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.step.receiver.0)),
        ReceiptError::RelationshipMismatch
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.step.receiver =
            m.proposal.proposal.step.sender),
        ReceiptError::SelfTransfer
    );
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.step.parent_tip.0)),
        na(Sender, cause)
    );
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.step.token.0)),
        na(Sender, cause)
    );
    // The parcel statement pays the receiver the signed amount (step 3, parcels).
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.step.amount.0 += 1),
        ReceiptError::Parcels("does not pay the receiver exactly the step's amount")
    );
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.parcels.holder.0)),
        ReceiptError::Parcels("is not held by the sender")
    );
    assert_eq!(
        corrupt(&r, |m| {
            // One input (the fixtures pay from one parcel): its only output, to a third device.
            let outputs = &mut m.proposal.proposal.parcels.outputs;
            outputs.truncate(1);
            outputs[0].to = dsm_core::identity::DeviceId(digest_of("a third device"));
        }),
        ReceiptError::Parcels("pays a device other than the sender or the receiver")
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.parcels.outputs[0].amount.0 += 1),
        ReceiptError::Parcels("does not pay the receiver exactly the step's amount")
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.step.amount = Amount::ZERO),
        ReceiptError::ZeroAmount
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.step.sender_parent_head.0
        )),
        na(Sender, "step names another sender head")
    );

    // The sender's identity and heads.
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.proposal.proposal.sender.genesis.0)),
        ReceiptError::DeviceBinding(Sender)
    );
    assert_eq!(
        corrupt(&r, |m| {
            let pk = &m.proposal.proposal.sender.public_key;
            let mut bytes = pk.key_bytes().to_vec();
            bytes[100] ^= 1;
            m.proposal.proposal.sender.public_key =
                dsm_core::crypto::PublicKey::from_parts(pk.suite(), bytes).unwrap();
        }),
        ReceiptError::DeviceBinding(Sender)
    );
    // Any change to the parent head changes its digest, which the step names.
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.sender_parent_head.height += 1),
        na(Sender, "step names another sender head")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_parent_head.smt_root
        )),
        na(Sender, "step names another sender head")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_child_head.device.0
        )),
        ReceiptError::DeviceBinding(Sender)
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.sender_child_head.height += 1),
        na(Sender, "child height is not parent height + 1")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_child_head.parent.0
        )),
        na(Sender, "child head does not name the parent head")
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.proposal.sender_child_head.kind =
            TransitionKind::Credit),
        na(Sender, "wrong transition kind")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_child_head.cause
        )),
        na(Sender, cause)
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_child_head.smt_root
        )),
        ReceiptError::RootMismatch(Sender)
    );
    assert_eq!(
        corrupt(&r, |m| {
            let h = &mut m.proposal.proposal.sender_child_head;
            h.balances = h.balances.credited(&token(), Amount(1)).unwrap();
        }),
        ReceiptError::BalanceMismatch(Sender)
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.proposal.proposal.sender_proof.siblings[0]
        )),
        ReceiptError::Proof {
            party: Sender,
            error: SmtError::RootMismatch
        }
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m
                .proposal
                .proposal
                .sender_proof
                .terminal
                .as_mut()
                .unwrap()
                .value
        )),
        ReceiptError::Proof {
            party: Sender,
            error: SmtError::RootMismatch
        }
    );
    assert_eq!(
        corrupt(&r, |m| m.proposal.signature =
            flip_sig(&m.proposal.signature, 10)),
        ReceiptError::Signature {
            party: Sender,
            error: CryptoError::BadSignature
        }
    );

    // The acceptance.
    assert_eq!(
        corrupt(&r, |m| flip(&mut m.acceptance.acceptance.proposal_commit)),
        na(Receiver, "acceptance names another proposal")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.acceptance.acceptance.receiver.genesis.0
        )),
        ReceiptError::DeviceBinding(Receiver)
    );
    assert_eq!(
        corrupt(&r, |m| m
            .acceptance
            .acceptance
            .receiver_parent_head
            .height += 1),
        na(Receiver, "child head does not name the parent head")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.acceptance.acceptance.receiver_child_head.device.0
        )),
        ReceiptError::DeviceBinding(Receiver)
    );
    assert_eq!(
        corrupt(&r, |m| m
            .acceptance
            .acceptance
            .receiver_child_head
            .height += 1),
        na(Receiver, "child height is not parent height + 1")
    );
    assert_eq!(
        corrupt(&r, |m| m.acceptance.acceptance.receiver_child_head.kind =
            TransitionKind::Debit),
        na(Receiver, "wrong transition kind")
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.acceptance.acceptance.receiver_child_head.cause
        )),
        na(Receiver, cause)
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.acceptance.acceptance.receiver_child_head.smt_root
        )),
        ReceiptError::RootMismatch(Receiver)
    );
    assert_eq!(
        corrupt(&r, |m| m
            .acceptance
            .acceptance
            .receiver_child_head
            .balances = Balances::new()),
        ReceiptError::BalanceMismatch(Receiver)
    );
    assert_eq!(
        corrupt(&r, |m| flip(
            &mut m.acceptance.acceptance.receiver_proof.siblings[0]
        )),
        ReceiptError::Proof {
            party: Receiver,
            error: SmtError::RootMismatch
        }
    );
    assert_eq!(
        corrupt(&r, |m| m.acceptance.signature =
            flip_sig(&m.acceptance.signature, 3000)),
        ReceiptError::Signature {
            party: Receiver,
            error: CryptoError::BadSignature
        }
    );
    // Swapping in the other party's valid signature is refused too.
    assert_eq!(
        corrupt(&r, |m| m.acceptance.signature =
            m.proposal.signature.clone()),
        ReceiptError::Signature {
            party: Receiver,
            error: CryptoError::BadSignature
        }
    );
}

fn flip_sig(s: &Signature, pos: usize) -> Signature {
    let mut b = s.sig_bytes().to_vec();
    b[pos] ^= 0x01;
    Signature::from_parts(s.suite(), b).unwrap()
}

#[test]
fn a_bit_flip_at_every_byte_of_the_encoding_is_refused() {
    let (_, _, r, _) = setup(SuiteId::MlDsa65);
    let bytes = r.to_bytes();
    for i in 0..bytes.len() {
        let mut m = bytes.clone();
        m[i] ^= 1 << (i % 8);
        assert!(
            verify_receipt_bytes(&m, &EmptyView).is_err(),
            "flip at byte {i} of {} accepted",
            bytes.len()
        );
    }
}

#[test]
fn a_flip_of_every_bit_of_an_ml_dsa_signature_is_refused() {
    let (_, _, r, _) = setup(SuiteId::MlDsa65);
    let p = &r.proposal.proposal;
    let msg = p.commit();
    let sig = &r.proposal.signature;
    p.sender.public_key.verify(msg.as_bytes(), sig).unwrap();
    for bit in 0..sig.sig_bytes().len() * 8 {
        let mut b = sig.sig_bytes().to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        let s = Signature::from_parts(sig.suite(), b).unwrap();
        assert!(
            p.sender.public_key.verify(msg.as_bytes(), &s).is_err(),
            "bit {bit} flip verified"
        );
    }
}

/// One flipped bit at every byte position of an SLH-DSA signature (the bit rotates with
/// the position). The every-bit variant is `slh_dsa_every_bit` (ignored; run it with
/// `cargo test --release -p dsm-core --test receipt -- --ignored`).
#[test]
fn a_flip_at_every_byte_of_an_slh_dsa_signature_is_refused() {
    slh_flips(|len| (0..len).map(|i| i * 8 + i % 8).collect());
}

#[test]
#[ignore = "heavy: 136,704 SLH-DSA verifications"]
fn slh_dsa_every_bit() {
    slh_flips(|len| (0..len * 8).collect());
}

fn slh_flips(bits: impl FnOnce(usize) -> Vec<usize>) {
    let (_, _, r, _) = setup(SuiteId::SlhDsaSha2_128f);
    let a = &r.acceptance.acceptance;
    let msg = a.commit();
    let sig = &r.acceptance.signature;
    a.receiver.public_key.verify(msg.as_bytes(), sig).unwrap();
    for bit in bits(sig.sig_bytes().len()) {
        let mut b = sig.sig_bytes().to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        let s = Signature::from_parts(sig.suite(), b).unwrap();
        assert!(
            a.receiver.public_key.verify(msg.as_bytes(), &s).is_err(),
            "bit {bit} flip verified"
        );
    }
}

#[test]
fn size_cap_is_checked_before_parsing() {
    // Garbage that would fail decoding on its first byte: the size error must win.
    let big = vec![0xffu8; MAX_RECEIPT_LEN + 1];
    assert_eq!(
        verify_receipt_bytes(&big, &EmptyView).unwrap_err(),
        ReceiptError::TooLarge {
            len: MAX_RECEIPT_LEN + 1,
            max: MAX_RECEIPT_LEN
        }
    );
    assert!(matches!(
        verify_receipt_bytes(&big[..100], &EmptyView).unwrap_err(),
        ReceiptError::Decode(_)
    ));
    // A valid receipt with trailing bytes is not canonical.
    let (_, _, r, _) = setup(SuiteId::MlDsa65);
    let mut b = r.to_bytes();
    b.push(0);
    assert!(matches!(
        verify_receipt_bytes(&b, &EmptyView).unwrap_err(),
        ReceiptError::Decode(DecodeError::WireType { .. } | DecodeError::UnexpectedField { .. })
    ));
}

#[test]
fn view_checks_replay_stale_heads_forks_and_bans() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    let mut c = Device::new(SuiteId::MlDsa65, 3);
    a.fund(token(), 100);
    let r1 = transfer(&mut a, &mut b, token(), 10, &mut ctr);

    // Replaying a receipt the verifier already applied is recognised, not double-counted.
    let mut view = MemoryView::default();
    assert!(!verify_receipt(&r1, &view).unwrap().already_known());
    view.record(&r1);
    assert!(verify_receipt(&r1, &view).unwrap().already_known());

    // A proposal prepared on a head that has since moved: the verifier that saw the newer
    // successor refuses it (stale head).
    let stale_head = a.head.clone();
    let stale_tree = a.tree.clone();
    let r2 = transfer(&mut a, &mut c, token(), 10, &mut ctr);
    view.record(&r2);
    let stale = propose(
        &LocalDevice {
            identity: &a.identity,
            key: &a.key,
            head: &stale_head,
            tree: &stale_tree,
        },
        &b.id(),
        token(),
        Amount(5),
        &inputs_of(
            &LocalDevice {
                identity: &a.identity,
                key: &a.key,
                head: &stale_head,
                tree: &stale_tree,
            },
            token(),
            Amount(5),
        ),
        &rnd(&mut ctr),
    )
    .unwrap();
    assert_eq!(
        verify_proposal(&stale.signed, &view).unwrap_err(),
        ReceiptError::HeadConsumed {
            party: Party::Sender,
            existing: r2.proposal.proposal.sender_child_head.digest()
        }
    );

    // The receiver's tip moved since the proposal was prepared: accept refuses, nothing signed.
    let p = propose(
        &b.local(),
        &a.id(),
        token(),
        Amount(1),
        &common::inputs_of(&b.local(), token(), Amount(1)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let vp = verify_proposal(&p.signed, &EmptyView).unwrap();
    let r3 = transfer(&mut a, &mut b, token(), 1, &mut ctr);
    assert!(matches!(
        accept(
            &a.local(),
            &vp,
            &common::trusted_lineages(&vp),
            &rnd(&mut ctr)
        )
        .unwrap_err(),
        BuildError::Refused(ReceiptError::TipNotCurrent(Party::Receiver))
    ));

    // A tip consumed by another child in the verifier's view.
    let mut tv = MemoryView::default();
    let step = &r3.proposal.proposal.step;
    tv.tips.insert(
        (step.relationship, step.parent_tip),
        TipDigest(Digest([9; 32])),
    );
    assert_eq!(
        verify_receipt(&r3, &tv).unwrap_err(),
        ReceiptError::TipConsumed {
            existing: TipDigest(Digest([9; 32]))
        }
    );

    // A banned device is refused forever, whatever it signs.
    let mut banned = MemoryView::default();
    banned.banned.insert(a.id());
    assert_eq!(
        verify_receipt(&r3, &banned).unwrap_err(),
        ReceiptError::Equivocator(a.id())
    );
    let _ = HeadDigest(Digest::ZERO);
}

#[test]
fn overdraft_and_bad_amounts_are_refused_before_signing() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 10);
    let err = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(11),
        &common::inputs_of(&a.local(), token(), Amount(11)),
        &rnd(&mut ctr),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Refused(ReceiptError::Balance {
                party: Party::Sender,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(matches!(
        propose(
            &a.local(),
            &b.id(),
            token(),
            Amount(0),
            &common::inputs_of(&a.local(), token(), Amount(0)),
            &rnd(&mut ctr)
        )
        .unwrap_err(),
        BuildError::Refused(ReceiptError::ZeroAmount)
    ));
    assert!(matches!(
        propose(
            &a.local(),
            &a.id(),
            token(),
            Amount(1),
            &common::inputs_of(&a.local(), token(), Amount(1)),
            &rnd(&mut ctr)
        )
        .unwrap_err(),
        BuildError::Refused(ReceiptError::SelfTransfer)
    ));
    assert!(matches!(
        propose(
            &a.local(),
            &b.id(),
            common::digest_of("other").into_token(),
            Amount(1),
            &common::inputs_of(
                &a.local(),
                common::digest_of("other").into_token(),
                Amount(1)
            ),
            &rnd(&mut ctr)
        )
        .unwrap_err(),
        BuildError::Refused(ReceiptError::Balance { .. })
    ));
}

trait IntoToken {
    fn into_token(self) -> dsm_core::chain::TokenId;
}
impl IntoToken for Digest {
    fn into_token(self) -> dsm_core::chain::TokenId {
        dsm_core::chain::TokenId(self)
    }
}

#[test]
fn a_forged_overdraft_signed_by_the_sender_is_refused() {
    // A malicious sender with 10 builds a proposal for 50 by hand, keeping its balance,
    // and signs it with its real key: the verifier refuses it on balance arithmetic.
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let b = Device::new(SuiteId::MlDsa65, 2);
    a.fund(token(), 100);
    let honest = propose(
        &a.local(),
        &b.id(),
        token(),
        Amount(50),
        &common::inputs_of(&a.local(), token(), Amount(50)),
        &rnd(&mut ctr),
    )
    .unwrap();
    let mut p = honest.signed.proposal.clone();
    // Pretend the parent only held 10.
    let mut poor = a.clone_head();
    poor.balances = Balances::new().credited(&token(), Amount(10)).unwrap();
    p.sender_parent_head = poor.clone();
    p.step.sender_parent_head = poor.digest();
    p.sender_child_head.parent = poor.digest();
    p.sender_child_head.cause = p.step.child_tip().0;
    p.sender_child_head.smt_root = p
        .sender_proof
        .root_after_set(p.step.relationship.as_bytes(), &p.step.child_tip().0)
        .unwrap();
    let sig = a.key.sign(p.commit().as_bytes(), &rnd(&mut ctr)).unwrap();
    let forged = SignedProposal {
        proposal: p,
        signature: sig,
    };
    let err = verify_proposal(&forged, &EmptyView).unwrap_err();
    assert!(
        matches!(
            err,
            ReceiptError::Balance {
                party: Party::Sender,
                ..
            }
        ),
        "{err:?}"
    );
}

trait CloneHead {
    fn clone_head(&self) -> dsm_core::chain::DeviceHead;
}
impl CloneHead for Device {
    fn clone_head(&self) -> dsm_core::chain::DeviceHead {
        self.head.clone()
    }
}

#[test]
fn a_chain_segment_proves_where_a_balance_came_from() {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, 1);
    let mut b = Device::new(SuiteId::MlDsa65, 2);
    let mut c = Device::new(SuiteId::MlDsa65, 3);
    a.fund(token(), 100);
    let checkpoint = b.head.clone();
    let r1 = transfer(&mut a, &mut b, token(), 40, &mut ctr);
    let r2 = transfer(&mut b, &mut c, token(), 15, &mut ctr);
    let r3 = transfer(&mut c, &mut b, token(), 5, &mut ctr);
    let segment = vec![r1.clone(), r2.clone(), r3.clone()];
    let last = verify_chain_segment(&checkpoint, &segment, &EmptyView).unwrap();
    assert_eq!(last, b.head);
    assert_eq!(last.balances.get(&token()), Amount(30));
    // A missing step is a gap; a foreign receipt is refused; a bad receipt names its index.
    assert_eq!(
        verify_chain_segment(&checkpoint, &[r1.clone(), r3.clone()], &EmptyView).unwrap_err(),
        SegmentError::Gap { index: 1 }
    );
    let mut d = Device::new(SuiteId::MlDsa65, 4);
    let foreign = transfer(&mut a, &mut d, token(), 1, &mut ctr);
    assert_eq!(
        verify_chain_segment(&checkpoint, &[foreign], &EmptyView).unwrap_err(),
        SegmentError::NotInvolved { index: 0 }
    );
    let mut bad = r2.clone();
    bad.acceptance.signature = flip_sig(&bad.acceptance.signature, 1);
    assert!(matches!(
        verify_chain_segment(&checkpoint, &[r1, bad], &EmptyView).unwrap_err(),
        SegmentError::Receipt { index: 1, .. }
    ));
}

/// A view that cannot answer one question (as a wallet whose store fails a read).
struct FailingView {
    fails: &'static str,
}

impl ChainView for FailingView {
    fn is_equivocator(&self, _: &dsm_core::identity::DeviceId) -> Result<bool, ViewError> {
        self.answer("equivocator", false)
    }
    fn is_tombstoned(&self, _: &dsm_core::identity::DeviceId) -> Result<bool, ViewError> {
        self.answer("tombstoned", false)
    }
    fn head_successor(
        &self,
        _: &dsm_core::identity::DeviceId,
        _: &HeadDigest,
    ) -> Result<Option<HeadDigest>, ViewError> {
        self.answer("head", None)
    }
    fn tip_successor(
        &self,
        _: &RelationshipKey,
        _: &TipDigest,
    ) -> Result<Option<TipDigest>, ViewError> {
        self.answer("tip", None)
    }
}

impl FailingView {
    fn answer<T>(&self, q: &str, ok: T) -> Result<T, ViewError> {
        if q == self.fails {
            Err(ViewError(format!("{q}: disk error")))
        } else {
            Ok(ok)
        }
    }
}

/// A verifier whose memory fails to answer any one of the four questions refuses (fail
/// closed): a store failure never reads as "nothing seen".
#[test]
fn a_view_that_cannot_answer_refuses() {
    let (_, _, r, _) = setup(SuiteId::MlDsa65);
    for q in ["equivocator", "tombstoned", "head", "tip"] {
        let err = verify_receipt(&r, &FailingView { fails: q }).unwrap_err();
        assert_eq!(
            err,
            ReceiptError::View(ViewError(format!("{q}: disk error"))),
            "{q}"
        );
        assert_eq!(
            verify_proposal(&r.proposal, &FailingView { fails: q }).unwrap_err(),
            err,
            "{q}"
        );
    }
    // The same receipt verifies when the view answers.
    verify_receipt(&r, &FailingView { fails: "none" }).unwrap();
}
