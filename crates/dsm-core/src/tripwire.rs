//! Tripwire: self-contained, transferable proofs of equivocation.
//!
//! A device equivocates when it signs two different successors of one of its heads, or
//! consumes one relationship tip into two different children. Either pair of signed
//! statements is an [`EquivocationProof`] that anyone can check from its bytes alone;
//! a verifier holding one refuses the device forever ([`crate::receipt::ChainView::is_equivocator`]).

use crate::chain::{HeadDigest, RelationshipKey, TipDigest};
use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::CryptoError;
use crate::hash::{tagged_hash, Digest};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::receipt::{SignedAcceptance, SignedProposal, SignedRefusal, MAX_RECEIPT_LEN};
use crate::tags::Tag;
use thiserror::Error;

/// One signed statement by a device: its half of a transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// A sender's signed proposal.
    Proposal(SignedProposal),
    /// A receiver's signed acceptance (which carries the step only by commit digest, so
    /// only head forks are provable from acceptances).
    Acceptance(SignedAcceptance),
    /// A receiver's signed refusal.
    Refusal(SignedRefusal),
}

impl Canonical for Statement {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        match self {
            Statement::Proposal(p) => w.message(1, p),
            Statement::Acceptance(a) => w.message(2, a),
            Statement::Refusal(x) => w.message(3, x),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let p: Option<SignedProposal> = r.optional_message(1)?;
        let a: Option<SignedAcceptance> = r.optional_message(2)?;
        let x: Option<SignedRefusal> = r.optional_message(3)?;
        match (p, a, x) {
            (Some(p), None, None) => Ok(Statement::Proposal(p)),
            (None, Some(a), None) => Ok(Statement::Acceptance(a)),
            (None, None, Some(x)) => Ok(Statement::Refusal(x)),
            _ => Err(DecodeError::Invalid(
                "a statement is exactly one of proposal, acceptance or refusal",
            )),
        }
    }
}

impl Statement {
    /// `H(Statement, canonical bytes)`: orders the two statements of a proof.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::Statement, &[&self.to_bytes()])
    }

    /// The signer's identity.
    pub fn signer(&self) -> &DeviceIdentity {
        match self {
            Statement::Proposal(p) => &p.proposal.sender,
            Statement::Acceptance(a) => &a.acceptance.receiver,
            Statement::Refusal(x) => &x.refusal.receiver,
        }
    }

    /// The signer's head transition: (parent head digest as named by the child, child head digest).
    pub fn head_transition(&self) -> (DeviceId, HeadDigest, HeadDigest) {
        let child = match self {
            Statement::Proposal(p) => &p.proposal.sender_child_head,
            Statement::Acceptance(a) => &a.acceptance.receiver_child_head,
            Statement::Refusal(x) => &x.refusal.receiver_child_head,
        };
        (child.device, child.parent, child.digest())
    }

    /// The relationship tip this statement consumes and the child it produces, when the
    /// statement carries the step (proposals).
    pub fn tip_transition(&self) -> Option<(RelationshipKey, TipDigest, TipDigest)> {
        match self {
            Statement::Proposal(p) => {
                let s = &p.proposal.step;
                Some((s.relationship, s.parent_tip, s.child_tip()))
            }
            Statement::Acceptance(_) | Statement::Refusal(_) => None,
        }
    }

    /// The proposal a receiver's statement answers (acceptances and refusals).
    pub fn answered_proposal(&self) -> Option<Digest> {
        match self {
            Statement::Proposal(_) => None,
            Statement::Acceptance(a) => Some(a.acceptance.proposal_commit),
            Statement::Refusal(x) => Some(x.refusal.proposal_commit),
        }
    }

    /// Verifies the signer's signature over the statement's commit.
    pub fn verify_signature(&self) -> Result<(), CryptoError> {
        match self {
            Statement::Proposal(p) => p
                .proposal
                .sender
                .public_key
                .verify(p.proposal.commit().as_bytes(), &p.signature),
            Statement::Acceptance(a) => a
                .acceptance
                .receiver
                .public_key
                .verify(a.acceptance.commit().as_bytes(), &a.signature),
            Statement::Refusal(x) => x
                .refusal
                .receiver
                .public_key
                .verify(x.refusal.commit().as_bytes(), &x.signature),
        }
    }
}

/// Two conflicting statements signed by one device. Canonical form orders them by
/// [`Statement::digest`], so one conflict has one encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EquivocationProof {
    first: Statement,
    second: Statement,
}

/// Why an equivocation proof was refused, or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TripwireError {
    /// Not canonical.
    #[error("not canonical: {0}")]
    Decode(#[from] DecodeError),
    /// The two statements are the same statement.
    #[error("the two statements are identical")]
    Identical,
    /// The statements are signed by different devices, or a statement's head belongs to
    /// a device other than its signer.
    #[error("the statements are not signed by one device")]
    DifferentSigners,
    /// A signature does not verify.
    #[error("statement {index} signature refused: {error}")]
    Signature {
        /// 0 or 1.
        index: usize,
        /// What failed.
        error: CryptoError,
    },
    /// The statements are both valid but do not conflict.
    #[error("the statements do not conflict")]
    NotConflicting,
}

/// What an equivocation proof proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Equivocation {
    /// Two different successors of the same head.
    HeadFork {
        /// The equivocating device.
        device: DeviceId,
        /// The head with two successors.
        parent: HeadDigest,
    },
    /// One proposal both accepted and refused.
    AcceptedAndRefused {
        /// The equivocating device (the receiver).
        device: DeviceId,
        /// The proposal's commit digest.
        proposal: Digest,
    },
    /// One relationship tip consumed into two different children.
    TipFork {
        /// The equivocating device.
        device: DeviceId,
        /// The relationship.
        relationship: RelationshipKey,
        /// The tip consumed twice.
        parent: TipDigest,
    },
}

impl Equivocation {
    /// The device proven to equivocate.
    pub fn device(&self) -> DeviceId {
        match self {
            Equivocation::HeadFork { device, .. }
            | Equivocation::TipFork { device, .. }
            | Equivocation::AcceptedAndRefused { device, .. } => *device,
        }
    }
}

impl EquivocationProof {
    /// Builds a proof from two statements (in any order) and verifies it.
    pub fn new(
        a: Statement,
        b: Statement,
    ) -> Result<(EquivocationProof, Equivocation), TripwireError> {
        let (first, second) = if a.digest() <= b.digest() {
            (a, b)
        } else {
            (b, a)
        };
        let proof = EquivocationProof { first, second };
        let what = proof.verify()?;
        Ok((proof, what))
    }

    /// The two statements, in canonical order.
    pub fn statements(&self) -> (&Statement, &Statement) {
        (&self.first, &self.second)
    }

    /// Checks the proof from its contents alone: one signer (device id derived from each
    /// statement's identity and matching its head), two valid signatures, and a conflict.
    pub fn verify(&self) -> Result<Equivocation, TripwireError> {
        let (d1, d2) = (self.first.digest(), self.second.digest());
        if d1 == d2 {
            return Err(TripwireError::Identical);
        }
        let device = self.first.signer().device_id();
        for s in [&self.first, &self.second] {
            let (head_device, _, _) = s.head_transition();
            if s.signer().device_id() != device || head_device != device {
                return Err(TripwireError::DifferentSigners);
            }
        }
        for (index, s) in [&self.first, &self.second].into_iter().enumerate() {
            s.verify_signature()
                .map_err(|error| TripwireError::Signature { index, error })?;
        }
        let (_, p1, c1) = self.first.head_transition();
        let (_, p2, c2) = self.second.head_transition();
        if p1 == p2 && c1 != c2 {
            return Ok(Equivocation::HeadFork { device, parent: p1 });
        }
        if let (Statement::Acceptance(_), Statement::Refusal(_))
        | (Statement::Refusal(_), Statement::Acceptance(_)) = (&self.first, &self.second)
        {
            if let (Some(a), Some(b)) = (
                self.first.answered_proposal(),
                self.second.answered_proposal(),
            ) {
                if a == b {
                    return Ok(Equivocation::AcceptedAndRefused {
                        device,
                        proposal: a,
                    });
                }
            }
        }
        if let (Some((r1, t1, k1)), Some((r2, t2, k2))) =
            (self.first.tip_transition(), self.second.tip_transition())
        {
            if r1 == r2 && t1 == t2 && k1 != k2 {
                return Ok(Equivocation::TipFork {
                    device,
                    relationship: r1,
                    parent: t1,
                });
            }
        }
        Err(TripwireError::NotConflicting)
    }

    /// Strictly decodes and verifies a proof from bytes.
    pub fn verify_bytes(bytes: &[u8]) -> Result<(EquivocationProof, Equivocation), TripwireError> {
        let proof = EquivocationProof::from_bytes(bytes)?;
        let what = proof.verify()?;
        Ok((proof, what))
    }
}

impl Canonical for EquivocationProof {
    const MAX_ENCODED_LEN: usize = 2 * MAX_RECEIPT_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.first);
        w.message(2, &self.second);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let first: Statement = r.message(1)?;
        let second: Statement = r.message(2)?;
        if first.digest() >= second.digest() {
            return Err(DecodeError::Invalid(
                "statements must be in ascending digest order",
            ));
        }
        Ok(EquivocationProof { first, second })
    }
}
