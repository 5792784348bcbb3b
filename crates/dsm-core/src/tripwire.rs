//! Tripwire: self-contained, transferable proofs of equivocation.
//!
//! A device equivocates when it signs two different successors of one of its heads,
//! consumes one relationship tip into two different children, or consumes one parcel in two
//! different statements (even in a linear chain). Any such pair of signed statements is an
//! [`EquivocationProof`] that anyone can check from its bytes alone; a verifier holding one
//! refuses the device forever ([`crate::receipt::ChainView::is_equivocator`]) and refuses
//! the parcels it proves consumed twice, with everything descending from them
//! ([`EquivocationProof::conflicted_parcels`], PROTOCOL.md §5.6 and §9).

use crate::chain::{HeadDigest, RelationshipKey, TipDigest};
use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::CryptoError;
use crate::hash::{tagged_hash, Digest};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::parcel::{Hop, ParcelFork, ParcelForkError, ParcelId};
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

    /// What the signature covers: the statement's kind and its commit digest. Two
    /// statements with the same one are one statement signed twice (hedged signatures
    /// differ), never a conflict.
    pub fn signed_commit(&self) -> (u8, Digest) {
        match self {
            Statement::Proposal(p) => (1, p.proposal.commit()),
            Statement::Acceptance(a) => (2, a.acceptance.commit()),
            Statement::Refusal(x) => (3, x.refusal.commit()),
        }
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

    /// The parcel hop the statement signs (proposals and refusals; an acceptance consumes
    /// no parcel).
    pub fn hop(&self) -> Option<Hop> {
        match self {
            Statement::Proposal(p) => Some(p.hop()),
            Statement::Refusal(x) => Some(x.hop()),
            Statement::Acceptance(_) => None,
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

/// Two conflicting statements signed by one device: two transfer statements (canonical
/// form orders them by [`Statement::digest`]), or a [`ParcelFork`] of two parcel hops. One
/// conflict has one encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EquivocationProof {
    kind: ProofKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ProofKind {
    Statements(Box<(Statement, Statement)>),
    Parcel(Box<ParcelFork>),
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
    /// A parcel fork does not verify.
    #[error("parcel fork refused: {0}")]
    ParcelFork(ParcelForkError),
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
    /// One parcel consumed in two different statements (by its holder, when the parcel's
    /// lineage names it holder).
    ParcelFork {
        /// The equivocating device.
        device: DeviceId,
        /// The (smallest) parcel consumed twice.
        parcel: ParcelId,
    },
}

impl Equivocation {
    /// The device proven to equivocate.
    pub fn device(&self) -> DeviceId {
        match self {
            Equivocation::HeadFork { device, .. }
            | Equivocation::TipFork { device, .. }
            | Equivocation::AcceptedAndRefused { device, .. }
            | Equivocation::ParcelFork { device, .. } => *device,
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
        let proof = EquivocationProof {
            kind: ProofKind::Statements(Box::new((first, second))),
        };
        let what = proof.verify()?;
        Ok((proof, what))
    }

    /// Wraps parcel-fork evidence and verifies it.
    pub fn parcel_fork(
        fork: ParcelFork,
    ) -> Result<(EquivocationProof, Equivocation), TripwireError> {
        let proof = EquivocationProof {
            kind: ProofKind::Parcel(Box::new(fork)),
        };
        let what = proof.verify()?;
        Ok((proof, what))
    }

    /// The two transfer statements, in canonical order (`None` for a parcel fork).
    pub fn statements(&self) -> Option<(&Statement, &Statement)> {
        match &self.kind {
            ProofKind::Statements(b) => Some((&b.0, &b.1)),
            ProofKind::Parcel(_) => None,
        }
    }

    /// The parcel fork (`None` for a proof of two transfer statements).
    pub fn as_parcel_fork(&self) -> Option<&ParcelFork> {
        match &self.kind {
            ProofKind::Parcel(f) => Some(f),
            ProofKind::Statements(_) => None,
        }
    }

    /// The parcels the proof shows its device consumed in both statements, ascending: what
    /// a verifier refuses from now on, with every parcel descending from them, when the
    /// device held them (PROTOCOL.md §5.6, "Parcel forks"). Call on a verified proof.
    pub fn conflicted_parcels(&self) -> Vec<ParcelId> {
        let (a, b) = match &self.kind {
            ProofKind::Parcel(f) => (f.first.statement.clone(), f.second.statement.clone()),
            ProofKind::Statements(s) => match (s.0.hop(), s.1.hop()) {
                (Some(a), Some(b)) if a.commit() != b.commit() => (a.statement, b.statement),
                _ => return Vec::new(),
            },
        };
        a.inputs
            .iter()
            .filter(|i| b.inputs.binary_search(i).is_ok())
            .copied()
            .collect()
    }

    /// Checks the proof from its contents alone: one signer (device id derived from each
    /// statement's identity and matching its head), two valid signatures, and a conflict.
    pub fn verify(&self) -> Result<Equivocation, TripwireError> {
        match &self.kind {
            ProofKind::Statements(s) => verify_statements(&s.0, &s.1),
            ProofKind::Parcel(f) => {
                let (device, parcel) = f.verify().map_err(TripwireError::ParcelFork)?;
                Ok(Equivocation::ParcelFork { device, parcel })
            }
        }
    }

    /// Strictly decodes and verifies a proof from bytes.
    pub fn verify_bytes(bytes: &[u8]) -> Result<(EquivocationProof, Equivocation), TripwireError> {
        let proof = EquivocationProof::from_bytes(bytes)?;
        let what = proof.verify()?;
        Ok((proof, what))
    }
}

/// Two transfer statements by one device that conflict.
fn verify_statements(first: &Statement, second: &Statement) -> Result<Equivocation, TripwireError> {
    if first.signed_commit() == second.signed_commit() {
        return Err(TripwireError::Identical);
    }
    let device = first.signer().device_id();
    for s in [&first, &second] {
        let (head_device, _, _) = s.head_transition();
        if s.signer().device_id() != device || head_device != device {
            return Err(TripwireError::DifferentSigners);
        }
    }
    for (index, s) in [&first, &second].into_iter().enumerate() {
        s.verify_signature()
            .map_err(|error| TripwireError::Signature { index, error })?;
    }
    let (_, p1, c1) = first.head_transition();
    let (_, p2, c2) = second.head_transition();
    if p1 == p2 && c1 != c2 {
        return Ok(Equivocation::HeadFork { device, parent: p1 });
    }
    if let (Statement::Acceptance(_), Statement::Refusal(_))
    | (Statement::Refusal(_), Statement::Acceptance(_)) = (&first, &second)
    {
        if let (Some(a), Some(b)) = (first.answered_proposal(), second.answered_proposal()) {
            if a == b {
                return Ok(Equivocation::AcceptedAndRefused {
                    device,
                    proposal: a,
                });
            }
        }
    }
    if let (Some((r1, t1, k1)), Some((r2, t2, k2))) =
        (first.tip_transition(), second.tip_transition())
    {
        if r1 == r2 && t1 == t2 && k1 != k2 {
            return Ok(Equivocation::TipFork {
                device,
                relationship: r1,
                parent: t1,
            });
        }
    }
    // Two statements consuming one parcel, e.g. a parcel spent again in a later head.
    if let (Some(a), Some(b)) = (first.hop(), second.hop()) {
        if a.commit() != b.commit() {
            let b_in = &b.statement.inputs;
            if let Some(parcel) = a
                .statement
                .inputs
                .iter()
                .find(|i| b_in.binary_search(i).is_ok())
            {
                return Ok(Equivocation::ParcelFork {
                    device,
                    parcel: *parcel,
                });
            }
        }
    }
    Err(TripwireError::NotConflicting)
}

impl Canonical for EquivocationProof {
    const MAX_ENCODED_LEN: usize = 2 * MAX_RECEIPT_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        match &self.kind {
            ProofKind::Statements(s) => {
                w.message(1, &s.0);
                w.message(2, &s.1);
            }
            ProofKind::Parcel(f) => w.message(3, f.as_ref()),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let first: Option<Statement> = r.optional_message(1)?;
        let second: Option<Statement> = r.optional_message(2)?;
        let fork: Option<ParcelFork> = r.optional_message(3)?;
        let kind = match (first, second, fork) {
            (Some(first), Some(second), None) => {
                if first.digest() >= second.digest() {
                    return Err(DecodeError::Invalid(
                        "statements must be in ascending digest order",
                    ));
                }
                ProofKind::Statements(Box::new((first, second)))
            }
            (None, None, Some(f)) => ProofKind::Parcel(Box::new(f)),
            _ => {
                return Err(DecodeError::Invalid(
                    "a proof is two statements or one parcel fork",
                ))
            }
        };
        Ok(EquivocationProof { kind })
    }
}
