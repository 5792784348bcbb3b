//! Proposals, acceptances, receipts and the acceptance predicate.
//!
//! A transfer needs exactly two signatures. The sender signs a [`Proposal`] that covers the
//! relationship step *and* its own debiting head transition; the receiver verifies it and
//! signs an [`Acceptance`] that covers the proposal's commit digest and its own crediting
//! head transition. Proposal + acceptance is the [`Receipt`]. [`verify_receipt`] is the one
//! verifier every party, tool and test uses; its checks and their order are normative
//! (PROTOCOL.md §6).

use crate::chain::{
    Amount, BalanceError, DeviceHead, HeadDigest, RelationshipKey, RelationshipStep, TipDigest,
    TokenId, TransitionKind,
};
use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::{CryptoError, Signature, SigningKey};
use crate::hash::{tagged_hash, Digest};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::parcel::{
    transfer_commit, Hop, LineageManifest, Parcel, ParcelId, ParcelStatement, VerifiedLineage,
};
use crate::smt::{SmtError, SmtProof, SparseMerkleTree};
use crate::tags::Tag;
use thiserror::Error;

/// The largest receipt accepted, in bytes, checked before any parsing, proof or signature
/// work. Two SLH-DSA-SHA2-128f signatures (2 × 17,088 B) and two 256-deep proofs fit.
pub const MAX_RECEIPT_LEN: usize = 128 * 1024;

/// The sender's signed statement: the step and its own head transition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The relationship step (parent tip → child tip).
    pub step: RelationshipStep,
    /// The sender's identity (genesis + public key), from which its device id is derived.
    pub sender: DeviceIdentity,
    /// The sender head the step is debited from.
    pub sender_parent_head: DeviceHead,
    /// The sender head after the debit.
    pub sender_child_head: DeviceHead,
    /// Proof for the relationship key under `sender_parent_head.smt_root`.
    pub sender_proof: SmtProof,
    /// The parcels the transfer consumes and where each goes (PROTOCOL.md §5.6): held by
    /// the sender, every output to the sender (change) or the receiver, the receiver's
    /// outputs summing to the step's amount.
    pub parcels: ParcelStatement,
}

impl Proposal {
    /// The digest of everything but the parcel statement:
    /// `H(ProposalCommit, fields 1–5 of the canonical proposal)`. It is a hop's `rest`, so a
    /// lineage never carries heads or balances.
    ///
    /// Memoized per thread for the last few proposals (compared field by field, whole): one
    /// transfer asks for it about ten times — to sign, to check, as a hop, for slots — and
    /// each answer encodes and hashes the sender's identity and both heads.
    pub fn rest_digest(&self) -> Digest {
        type Rest = (
            RelationshipStep,
            DeviceIdentity,
            DeviceHead,
            DeviceHead,
            SmtProof,
        );
        thread_local! {
            static MEMO: std::cell::RefCell<crate::memo::Recent<Rest, Digest>> =
                const { std::cell::RefCell::new(crate::memo::Recent::new()) };
        }
        MEMO.with(|m| {
            m.borrow_mut().get(
                |(step, sender, parent, child, proof)| {
                    child == &self.sender_child_head
                        && step == &self.step
                        && parent == &self.sender_parent_head
                        && proof == &self.sender_proof
                        && sender == &self.sender
                },
                || {
                    (
                        self.step.clone(),
                        self.sender.clone(),
                        self.sender_parent_head.clone(),
                        self.sender_child_head.clone(),
                        self.sender_proof.clone(),
                    )
                },
                || {
                    let mut w = Writer::new();
                    self.encode_rest(&mut w);
                    tagged_hash(Tag::ProposalCommit, &[&w.into_bytes()])
                },
            )
        })
    }

    /// The digest the sender signs: `transfer_commit(H(ParcelStatement, parcels),
    /// rest_digest)` — one signature over the statement and the rest.
    pub fn commit(&self) -> Digest {
        transfer_commit(&self.parcels.digest(), &self.rest_digest())
    }

    fn encode_rest(&self, w: &mut Writer) {
        w.message(1, &self.step);
        w.message(2, &self.sender);
        w.message(3, &self.sender_parent_head);
        w.message(4, &self.sender_child_head);
        w.message(5, &self.sender_proof);
    }
}

impl Canonical for Proposal {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        self.encode_rest(w);
        w.message(6, &self.parcels);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Proposal {
            step: r.message(1)?,
            sender: r.message(2)?,
            sender_parent_head: r.message(3)?,
            sender_child_head: r.message(4)?,
            sender_proof: r.message(5)?,
            parcels: r.message(6)?,
        })
    }
}

impl SignedProposal {
    /// The proposal as a lineage hop: its parcel statement, the rest digest and the
    /// sender's signature (which covers exactly their `transfer_commit`).
    pub fn hop(&self) -> Hop {
        Hop {
            statement: self.proposal.parcels.clone(),
            rest: self.proposal.rest_digest(),
            signature: self.signature.clone(),
        }
    }
}

/// The most bytes an [`Offer`] may take: it must fit a hello beside eight gossiped
/// proposals, a b0x item and a session frame. A lineage larger than this must be re-issued
/// before it can be paid (PROTOCOL.md §5.6).
pub const MAX_OFFER_LEN: usize = 224 * 1024;

/// A proposal as it travels to its receiver: the signed proposal, one lineage manifest per
/// input (in input order) and the objects those manifests list that the sender ships
/// (PROTOCOL.md §5.6). Every carrier of a proposal (the session, a hello's pending
/// proposal, a b0x item, a succession notice) carries an offer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Offer {
    /// The proposal.
    pub signed: SignedProposal,
    /// One manifest per input, in the order of `signed.proposal.parcels.inputs`.
    pub manifests: Vec<LineageManifest>,
    /// Lineage objects (canonical source proofs, hops, identities), each listed by a
    /// manifest; the receiver addresses them by `H(ObjectAddress, bytes)`.
    pub objects: Vec<Vec<u8>>,
    /// The sender's authorization to put the proposal in its owned slots — its anchor slot
    /// and its inputs' parcel slots (PROTOCOL.md §15.2) — so that the receiver can settle it
    /// without the sender. Optional: without it, only the sender can.
    pub slot_write: Option<crate::slot::SlotWrite>,
    /// For each address [`Offer::listed`] returns, in that order, the content address of
    /// that object's sealed form ([`crate::seal::sealed_address`]), where the sender stored
    /// it at the nodes — or none. A b0x item carries them, so its receiver reads each
    /// object it lacks from a content-addressed object no one else can write (PROTOCOL.md
    /// §2, "Sealed objects"; §16.3).
    pub sealed: Vec<Digest>,
}

impl Offer {
    /// Every object address the manifests list (root sources, hops, signers), ascending,
    /// each once.
    pub fn listed(&self) -> Vec<Digest> {
        let mut v: Vec<Digest> = self.manifests.iter().flat_map(|m| m.addresses()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// True when every listed object is shipped with the offer (what a b0x item needs:
    /// its receiver cannot ask).
    pub fn is_complete(&self) -> bool {
        let shipped: std::collections::HashSet<Digest> = self
            .objects
            .iter()
            .map(|o| crate::hash::object_address(o))
            .collect();
        self.listed().iter().all(|a| shipped.contains(a))
    }
}

impl Canonical for Offer {
    const MAX_ENCODED_LEN: usize = MAX_OFFER_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.signed);
        w.repeated_message(2, &self.manifests);
        w.repeated_bytes(3, &self.objects);
        w.optional_message(4, self.slot_write.as_ref());
        for s in &self.sealed {
            w.bytes(5, s.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let signed: SignedProposal = r.message(1)?;
        let manifests: Vec<LineageManifest> = r.repeated_message(2, crate::parcel::MAX_INPUTS)?;
        if manifests.len() != signed.proposal.parcels.inputs.len()
            || manifests
                .iter()
                .zip(&signed.proposal.parcels.inputs)
                .any(|(m, i)| m.parcel != *i)
        {
            return Err(DecodeError::Invalid(
                "an offer lists one manifest per input, in input order",
            ));
        }
        let objects = r.ascending_objects(
            3,
            1 << 16,
            MAX_OFFER_LEN,
            "an offer's objects are strictly ascending (bytewise), each once",
        )?;
        let slot_write = r.optional_message(4)?;
        let mut offer = Offer {
            signed,
            manifests,
            objects,
            slot_write,
            sealed: Vec::new(),
        };
        let sealed: Vec<Digest> = r
            .repeated_fixed::<32>(5, 1 << 16)?
            .into_iter()
            .map(Digest)
            .collect();
        if !sealed.is_empty() && sealed.len() != offer.listed().len() {
            return Err(DecodeError::Invalid(
                "an offer names the sealed address of every object it lists, or of none",
            ));
        }
        offer.sealed = sealed;
        Ok(offer)
    }
}

/// A proposal with the sender's signature over [`Proposal::commit`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedProposal {
    /// The proposal.
    pub proposal: Proposal,
    /// The sender's signature.
    pub signature: Signature,
}

impl Canonical for SignedProposal {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.proposal);
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedProposal {
            proposal: r.message(1)?,
            signature: r.message(2)?,
        })
    }
}

/// The receiver's signed statement: which proposal it accepts and its own head transition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acceptance {
    /// [`Proposal::commit`] of the accepted proposal.
    pub proposal_commit: Digest,
    /// The receiver's identity.
    pub receiver: DeviceIdentity,
    /// The receiver head the credit is applied to.
    pub receiver_parent_head: DeviceHead,
    /// The receiver head after the credit.
    pub receiver_child_head: DeviceHead,
    /// Proof for the relationship key under `receiver_parent_head.smt_root`.
    pub receiver_proof: SmtProof,
    /// When the receiver's own proposal to the sender crossed this one and lost, was
    /// refused and released (PROTOCOL.md §7.6): that step, whose release tip is the
    /// receiver's current leaf. Absent otherwise.
    pub crossing: Option<RelationshipStep>,
}

impl Acceptance {
    /// The digest the receiver signs: `H(AcceptanceCommit, canonical acceptance)`.
    pub fn commit(&self) -> Digest {
        tagged_hash(Tag::AcceptanceCommit, &[&self.to_bytes()])
    }
}

impl Canonical for Acceptance {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.proposal_commit.as_bytes());
        w.message(2, &self.receiver);
        w.message(3, &self.receiver_parent_head);
        w.message(4, &self.receiver_child_head);
        w.message(5, &self.receiver_proof);
        w.optional_message(6, self.crossing.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Acceptance {
            proposal_commit: Digest(r.fixed(1)?),
            receiver: r.message(2)?,
            receiver_parent_head: r.message(3)?,
            receiver_child_head: r.message(4)?,
            receiver_proof: r.message(5)?,
            crossing: r.optional_message(6)?,
        })
    }
}

/// An acceptance with the receiver's signature over [`Acceptance::commit`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedAcceptance {
    /// The acceptance.
    pub acceptance: Acceptance,
    /// The receiver's signature.
    pub signature: Signature,
}

impl Canonical for SignedAcceptance {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.acceptance);
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedAcceptance {
            acceptance: r.message(1)?,
            signature: r.message(2)?,
        })
    }
}

/// A complete transfer: the signed proposal and the signed acceptance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The sender's half.
    pub proposal: SignedProposal,
    /// The receiver's half.
    pub acceptance: SignedAcceptance,
}

impl Receipt {
    /// `H(Receipt, canonical receipt)`: names this receipt (e.g. as a file or storage key).
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::Receipt, &[&self.to_bytes()])
    }
}

impl Canonical for Receipt {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.proposal);
        w.message(2, &self.acceptance);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Receipt {
            proposal: r.message(1)?,
            acceptance: r.message(2)?,
        })
    }
}

/// Which side of a transfer a check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    /// The paying device.
    Sender,
    /// The paid device.
    Receiver,
}

/// Why a proposal or receipt was refused. One variant per check of the predicate.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum ReceiptError {
    /// Step 1: the bytes are over [`MAX_RECEIPT_LEN`]; nothing was parsed.
    #[error("receipt is {len} bytes, over the {max}-byte cap")]
    TooLarge {
        /// Length seen.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Step 2: the bytes are not a canonical encoding.
    #[error("not canonical: {0}")]
    Decode(#[from] DecodeError),
    /// Step 3: the amount is zero.
    #[error("zero-value transfers are not transitions")]
    ZeroAmount,
    /// Step 3: sender and receiver are the same device.
    #[error("a device cannot pay itself")]
    SelfTransfer,
    /// Step 3: the step's relationship key is not the key of its sender and receiver.
    #[error("relationship key does not match the two devices")]
    RelationshipMismatch,
    /// Step 3: the transfer's parcel statement does not fit its step: not held by the
    /// sender, an output to a third device, or the receiver's outputs do not sum to the
    /// amount (PROTOCOL.md §5.6).
    #[error("the transfer's parcel statement {0}")]
    Parcels(&'static str),
    /// The lineages given to [`accept`] do not match the proposal's inputs (the receiver's
    /// own check before it signs; PROTOCOL.md §5.6).
    #[error("input {input}: its lineage {reason}")]
    InputLineage {
        /// Index into the statement's inputs.
        input: usize,
        /// What does not match.
        reason: &'static str,
    },
    /// Step 4: the identity does not derive the device id named in the step, or a head
    /// belongs to another device.
    #[error("{0:?}: identity or head does not belong to the device named in the step")]
    DeviceBinding(Party),
    /// Step 5: a head does not extend its parent by exactly one step of the right kind and
    /// cause, or the acceptance names another proposal.
    #[error("{party:?}: not adjacent: {reason}")]
    NotAdjacent {
        /// Whose transition.
        party: Party,
        /// Which link is broken.
        reason: &'static str,
    },
    /// Step 6: the tree proof does not verify against the parent head's root.
    #[error("{party:?}: tree proof refused: {error}")]
    Proof {
        /// Whose proof.
        party: Party,
        /// What failed.
        error: SmtError,
    },
    /// Step 6: the parent tip is not the current leaf for the relationship in that
    /// party's tree.
    #[error("{0:?}: the step's parent tip is not the relationship's current tip")]
    TipNotCurrent(Party),
    /// Step 6: replacing the tip does not give the child head's root.
    #[error("{0:?}: child head root is not the parent root with the tip replaced")]
    RootMismatch(Party),
    /// Step 7: the balance change is impossible (insufficient funds, overflow).
    #[error("{party:?}: {error}")]
    Balance {
        /// Whose balance.
        party: Party,
        /// What failed.
        error: BalanceError,
    },
    /// Step 7: the child balances are not exactly parent ∓ amount in that token.
    #[error("{0:?}: child balances are not the parent balances with the transfer applied")]
    BalanceMismatch(Party),
    /// Step 8: a signature does not verify.
    #[error("{party:?}: signature refused: {error}")]
    Signature {
        /// Whose signature.
        party: Party,
        /// What failed.
        error: CryptoError,
    },
    /// Step 9: the verifier holds equivocation evidence against this device.
    #[error("device {0} is a known equivocator and is refused forever")]
    Equivocator(DeviceId),
    /// Step 9: the verifier holds a tombstone for this device: it was lost and replaced by
    /// recovery (PROTOCOL.md §20), and its successor speaks for the identity now.
    #[error("device {0} was tombstoned by its identity's recovery and is refused; deal with its successor")]
    Tombstoned(DeviceId),
    /// Step 9: the verifier's memory could not be read (e.g. a store failure). Nothing is
    /// accepted on a view that cannot answer: a failure refuses, never accepts.
    #[error("the verifier's memory could not be read ({0}); nothing was accepted — retry when the store works")]
    View(ViewError),
    /// Step 9: the verifier already saw a different successor of this party's parent head:
    /// together with the stored statement this is equivocation evidence.
    #[error("{party:?}: parent head already has another successor ({existing})")]
    HeadConsumed {
        /// Whose head.
        party: Party,
        /// The successor the verifier saw first.
        existing: HeadDigest,
    },
    /// Step 9: the verifier already saw a different child of this relationship tip.
    #[error("relationship tip already consumed by another step ({existing})")]
    TipConsumed {
        /// The child tip the verifier saw first.
        existing: TipDigest,
    },
    /// The crossing step an answer names (PROTOCOL.md §7.6) does not justify it.
    #[error("the answer's crossing step {0}")]
    Crossing(&'static str),
    /// The refused steps a refusal says the proposal is queued behind (PROTOCOL.md §7.7)
    /// do not justify it.
    #[error("the refusal's queue {0}")]
    Queue(&'static str),
}

/// What a verifier already knows: the state the "not already consumed" check and the
/// Tripwire ban read. Implemented by wallets over their stores; [`EmptyView`] knows nothing.
pub trait ChainView {
    /// True if the verifier holds an equivocation proof against `device`.
    fn is_equivocator(&self, device: &DeviceId) -> Result<bool, ViewError>;
    /// True if the verifier holds a verified tombstone for `device` (PROTOCOL.md §20): the
    /// device was replaced by recovery and nothing it signs is taken any more.
    fn is_tombstoned(&self, device: &DeviceId) -> Result<bool, ViewError>;
    /// The successor of `parent` in `device`'s chain, if the verifier saw one.
    fn head_successor(
        &self,
        device: &DeviceId,
        parent: &HeadDigest,
    ) -> Result<Option<HeadDigest>, ViewError>;
    /// The child of `parent` on `relationship`, if the verifier saw one.
    fn tip_successor(
        &self,
        relationship: &RelationshipKey,
        parent: &TipDigest,
    ) -> Result<Option<TipDigest>, ViewError>;
}

/// A [`ChainView`] that could not answer. Every check that meets one refuses
/// ([`ReceiptError::View`]): the methods have no defaults and no "unknown" answer, so a
/// view that forgets a question or fails to read its store never accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error)]
#[error("{0}")]
pub struct ViewError(pub String);

/// A view that has seen nothing: only the stateless checks apply.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyView;

impl ChainView for EmptyView {
    fn is_equivocator(&self, _: &DeviceId) -> Result<bool, ViewError> {
        Ok(false)
    }
    fn is_tombstoned(&self, _: &DeviceId) -> Result<bool, ViewError> {
        Ok(false)
    }
    fn head_successor(
        &self,
        _: &DeviceId,
        _: &HeadDigest,
    ) -> Result<Option<HeadDigest>, ViewError> {
        Ok(None)
    }
    fn tip_successor(
        &self,
        _: &RelationshipKey,
        _: &TipDigest,
    ) -> Result<Option<TipDigest>, ViewError> {
        Ok(None)
    }
}

/// A proposal that passed [`verify_proposal`]. Only this type can be accepted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerifiedProposal {
    signed: SignedProposal,
    commit: Digest,
    child_tip: TipDigest,
    already_known: bool,
}

impl VerifiedProposal {
    /// The signed proposal.
    pub fn signed(&self) -> &SignedProposal {
        &self.signed
    }
    /// The proposal's commit digest.
    pub fn commit(&self) -> &Digest {
        &self.commit
    }
    /// The relationship tip after the step.
    pub fn child_tip(&self) -> &TipDigest {
        &self.child_tip
    }
    /// True if the view had already seen exactly this transition (an idempotent replay).
    pub fn already_known(&self) -> bool {
        self.already_known
    }
}

/// A receipt that passed [`verify_receipt`].
#[derive(Clone, Debug)]
pub struct VerifiedReceipt {
    receipt: Receipt,
    child_tip: TipDigest,
    already_known: bool,
}

impl VerifiedReceipt {
    /// The receipt.
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }
    /// The relationship tip after the step.
    pub fn child_tip(&self) -> &TipDigest {
        &self.child_tip
    }
    /// True if the view had already seen both head transitions (an idempotent replay).
    pub fn already_known(&self) -> bool {
        self.already_known
    }
}

/// The checks shared by both halves: binding, adjacency, tree replace, balances.
struct HalfTransition<'a> {
    party: Party,
    device: &'a DeviceId,
    identity: &'a DeviceIdentity,
    parent: &'a DeviceHead,
    child: &'a DeviceHead,
    proof: &'a SmtProof,
    kind: TransitionKind,
}

/// How one party's transition moves its relationship leaf, with `cause` as its head's
/// cause. For a proposal, and for an answer without a crossing, the leaf moves from the
/// step's parent tip to the step's child tip (debit, credit) or its release tip (refusal),
/// which is also the cause.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TipMove {
    leaf: LeafMove,
    cause: TipDigest,
}

/// What a transition does to the party's relationship leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LeafMove {
    /// From exactly `current` to `to`.
    From { current: TipDigest, to: TipDigest },
    /// The leaf stays what it is, which must be none of `barred`: the tips from which the
    /// answered step could still be accepted (PROTOCOL.md §7.6, §7.7).
    Stays { barred: Vec<TipDigest> },
}

impl TipMove {
    fn plain(step: &RelationshipStep, leaf: TipDigest) -> TipMove {
        TipMove {
            leaf: LeafMove::From {
                current: step.parent_tip,
                to: leaf,
            },
            cause: leaf,
        }
    }

    /// The party's new leaf, given the leaf it holds now (the genesis tip when it holds
    /// none), or `TipNotCurrent` when the move cannot start from there.
    fn leaf_after(&self, held: TipDigest, party: Party) -> Result<TipDigest, ReceiptError> {
        match &self.leaf {
            LeafMove::From { current, to } if *current == held => Ok(*to),
            LeafMove::Stays { barred } if !barred.contains(&held) => Ok(held),
            _ => Err(ReceiptError::TipNotCurrent(party)),
        }
    }
}

/// True when `own`, a step the answering device signed, crossed `answered`, the step it
/// answers: the same relationship and parent tip, in the other direction (PROTOCOL.md §7.6).
pub fn crossed(answered: &RelationshipStep, own: &RelationshipStep) -> bool {
    own.relationship == answered.relationship
        && own.parent_tip == answered.parent_tip
        && own.sender == answered.receiver
        && own.receiver == answered.sender
}

/// Of two crossed steps, true when `step` wins: its child tip is the smaller (bytewise). The
/// winner is accepted or refused as usual; the loser is refused by its receiver, whose own
/// winning step stays pending (PROTOCOL.md §7.6).
pub fn wins_crossing(step: &RelationshipStep, other: &RelationshipStep) -> bool {
    step.child_tip().as_bytes() < other.child_tip().as_bytes()
}

/// The receiver's leaf move when it answers the step with child tip `child` by `kind`
/// (CREDIT or REFUSE), given the step of its own that crossed it, if any, and the refused
/// steps of the sender's queue the step is behind, if any.
fn answer_move(
    step: &RelationshipStep,
    child: &TipDigest,
    kind: TransitionKind,
    crossing: Option<&RelationshipStep>,
    behind: &[RelationshipStep],
) -> Result<TipMove, ReceiptError> {
    let leaf = match kind {
        TransitionKind::Refuse => release_tip(child),
        _ => *child,
    };
    if !behind.is_empty() {
        return queue_move(step, kind, crossing, behind, leaf);
    }
    let Some(own) = crossing else {
        return Ok(TipMove::plain(step, leaf));
    };
    if !crossed(step, own) {
        return Err(ReceiptError::Crossing("does not cross the proposal"));
    }
    check_step(own).map_err(|_| ReceiptError::Crossing("is not a valid step"))?;
    let own_tip = own.child_tip();
    if child.as_bytes() < own_tip.as_bytes() {
        // The answered step won: the answerer's own step was refused and released first.
        Ok(TipMove {
            leaf: LeafMove::From {
                current: release_tip(&own_tip),
                to: leaf,
            },
            cause: leaf,
        })
    } else if kind == TransitionKind::Refuse {
        // The answered step lost: refused while the answerer's own step (and any it queued
        // after it) stays pending, so its leaf does not move; it has left the common
        // parent tip, the only tip the answered step could be accepted from.
        Ok(TipMove {
            leaf: LeafMove::Stays {
                barred: vec![step.parent_tip],
            },
            cause: leaf,
        })
    } else {
        Err(ReceiptError::Crossing(
            "won against the proposal, which can then only be refused",
        ))
    }
}

/// A refusal of a step queued behind a step the receiver refused (PROTOCOL.md §7.7):
/// `behind` runs from that refused step to the answered step's parent, each step the same
/// sender's to the same receiver; the receiver's leaf stays the first one's release tip.
fn queue_move(
    step: &RelationshipStep,
    kind: TransitionKind,
    crossing: Option<&RelationshipStep>,
    behind: &[RelationshipStep],
    release: TipDigest,
) -> Result<TipMove, ReceiptError> {
    if kind != TransitionKind::Refuse {
        return Err(ReceiptError::Queue(
            "is named by an answer that is not a refusal",
        ));
    }
    if crossing.is_some() {
        return Err(ReceiptError::Queue("is named together with a crossing"));
    }
    if behind.len() >= MAX_QUEUE {
        return Err(ReceiptError::Queue("is longer than a queue can be"));
    }
    let mut next = step.parent_tip;
    for s in behind.iter().rev() {
        if s.relationship != step.relationship
            || s.sender != step.sender
            || s.receiver != step.receiver
            || check_step(s).is_err()
        {
            return Err(ReceiptError::Queue(
                "holds a step that is not a valid one of the same sender to the same receiver",
            ));
        }
        if s.child_tip() != next {
            return Err(ReceiptError::Queue("does not lead to the proposal"));
        }
        next = s.parent_tip;
    }
    Ok(TipMove {
        leaf: LeafMove::Stays {
            barred: queue_path(behind, step),
        },
        cause: release,
    })
}

/// The tips from which a step of a queue could still be accepted: the first step's parent
/// tip and every step's child tip, up to the answered one's. A refusal or release behind a
/// refused step leaves the party's leaf where it is, and it must be none of these.
fn queue_path(behind: &[RelationshipStep], step: &RelationshipStep) -> Vec<TipDigest> {
    let mut path = Vec::with_capacity(behind.len() + 2);
    if let Some(first) = behind.first() {
        path.push(first.parent_tip);
    }
    path.extend(behind.iter().map(RelationshipStep::child_tip));
    path.push(step.parent_tip);
    path.push(step.child_tip());
    path
}

/// `mv` is how the transition moves this party's relationship leaf (see [`TipMove`]).
fn check_half(
    h: &HalfTransition<'_>,
    step: &RelationshipStep,
    mv: &TipMove,
) -> Result<HeadDigest, ReceiptError> {
    let party = h.party;
    // Step 4: device binding.
    if h.identity.device_id() != *h.device
        || h.parent.device != *h.device
        || h.child.device != *h.device
    {
        return Err(ReceiptError::DeviceBinding(party));
    }
    // Step 5: adjacency.
    let parent_digest = h.parent.digest();
    if h.child.parent != parent_digest {
        return Err(ReceiptError::NotAdjacent {
            party,
            reason: "child head does not name the parent head",
        });
    }
    if Some(h.child.height) != h.parent.height.checked_add(1) {
        return Err(ReceiptError::NotAdjacent {
            party,
            reason: "child height is not parent height + 1",
        });
    }
    if h.child.kind != h.kind {
        return Err(ReceiptError::NotAdjacent {
            party,
            reason: "wrong transition kind",
        });
    }
    if h.child.cause != mv.cause.0 {
        return Err(ReceiptError::NotAdjacent {
            party,
            reason: "child head does not name the step's child tip",
        });
    }
    // Step 6: the tree replace.
    let rel = step.relationship.as_bytes();
    let current = h
        .proof
        .lookup(rel, &h.parent.smt_root)
        .map_err(|error| ReceiptError::Proof { party, error })?;
    let held = current
        .map(TipDigest)
        .unwrap_or_else(|| step.relationship.genesis_tip());
    let leaf = mv.leaf_after(held, party)?;
    let new_root = h
        .proof
        .root_after_set(rel, &leaf.0)
        .map_err(|error| ReceiptError::Proof { party, error })?;
    if new_root != h.child.smt_root {
        return Err(ReceiptError::RootMismatch(party));
    }
    // Step 7: balances. Exactly one token changes, by exactly the amount.
    let expected = match h.kind {
        TransitionKind::Debit => h.parent.balances.debited(&step.token, step.amount),
        TransitionKind::Refuse => Ok(h.parent.balances.clone()),
        _ => h.parent.balances.credited(&step.token, step.amount),
    }
    .map_err(|error| ReceiptError::Balance { party, error })?;
    if expected != h.child.balances {
        return Err(ReceiptError::BalanceMismatch(party));
    }
    Ok(parent_digest)
}

fn check_view(
    view: &dyn ChainView,
    party: Party,
    device: &DeviceId,
    parent: &HeadDigest,
    child: &DeviceHead,
) -> Result<bool, ReceiptError> {
    if view.is_equivocator(device).map_err(ReceiptError::View)? {
        return Err(ReceiptError::Equivocator(*device));
    }
    if view.is_tombstoned(device).map_err(ReceiptError::View)? {
        return Err(ReceiptError::Tombstoned(*device));
    }
    match view
        .head_successor(device, parent)
        .map_err(ReceiptError::View)?
    {
        None => Ok(false),
        Some(existing) if existing == child.digest() => Ok(true),
        Some(existing) => Err(ReceiptError::HeadConsumed { party, existing }),
    }
}

fn check_step(step: &RelationshipStep) -> Result<(), ReceiptError> {
    if step.amount == Amount::ZERO {
        return Err(ReceiptError::ZeroAmount);
    }
    if step.sender == step.receiver {
        return Err(ReceiptError::SelfTransfer);
    }
    if step.relationship != RelationshipKey::between(&step.sender, &step.receiver) {
        return Err(ReceiptError::RelationshipMismatch);
    }
    Ok(())
}

/// Step 3, parcels: the statement is the sender's, pays only the sender (change) and the
/// receiver, and pays the receiver exactly the step's amount. (What each input holds is
/// only known from its lineage: [`accept`] checks that.)
fn check_parcels(step: &RelationshipStep, parcels: &ParcelStatement) -> Result<(), ReceiptError> {
    if parcels.holder != step.sender {
        return Err(ReceiptError::Parcels("is not held by the sender"));
    }
    let mut to_receiver = Amount::ZERO;
    for o in &parcels.outputs {
        if o.to == step.receiver {
            to_receiver = to_receiver
                .checked_add(o.amount)
                .ok_or(ReceiptError::Parcels("overflows"))?;
        } else if o.to != step.sender {
            return Err(ReceiptError::Parcels(
                "pays a device other than the sender or the receiver",
            ));
        }
    }
    if to_receiver != step.amount {
        return Err(ReceiptError::Parcels(
            "does not pay the receiver exactly the step's amount",
        ));
    }
    Ok(())
}

/// The receiver's check of the inputs' lineages against a verified proposal, before it
/// signs: one lineage per input, in order, each ending at that input, held by the sender,
/// of the step's token, and the input's outputs adding up to exactly its amount.
fn check_inputs(
    proposal: &VerifiedProposal,
    lineages: &[VerifiedLineage],
) -> Result<(), ReceiptError> {
    let p = &proposal.signed.proposal;
    let s = &p.parcels;
    if lineages.len() != s.inputs.len() {
        return Err(ReceiptError::InputLineage {
            input: lineages.len().min(s.inputs.len()),
            reason: "is missing (one lineage per input)",
        });
    }
    for (j, (id, l)) in s.inputs.iter().zip(lineages).enumerate() {
        let parcel: &Parcel = l.parcel();
        let bad = |reason| ReceiptError::InputLineage { input: j, reason };
        if parcel.id != *id {
            return Err(bad("ends at another parcel"));
        }
        if parcel.holder != p.step.sender {
            return Err(bad("ends at a parcel the sender does not hold"));
        }
        if parcel.token != p.step.token {
            return Err(bad("is of another token than the step's"));
        }
        let mut total = Amount::ZERO;
        for (_, o) in s.outputs_of(j) {
            total = total.checked_add(o.amount).ok_or(bad("overflows"))?;
        }
        if total != parcel.amount {
            return Err(bad("holds another amount than its outputs add up to"));
        }
    }
    Ok(())
}

fn check_tip_view(
    view: &dyn ChainView,
    step: &RelationshipStep,
    child_tip: &TipDigest,
) -> Result<(), ReceiptError> {
    match view
        .tip_successor(&step.relationship, &step.parent_tip)
        .map_err(ReceiptError::View)?
    {
        Some(existing) if existing != *child_tip => Err(ReceiptError::TipConsumed { existing }),
        _ => Ok(()),
    }
}

/// Checks a signed proposal (steps 3–9 for the sender's half). A receiver runs this
/// before accepting; [`accept`] takes only its output.
pub fn verify_proposal(
    signed: &SignedProposal,
    view: &dyn ChainView,
) -> Result<VerifiedProposal, ReceiptError> {
    let p = &signed.proposal;
    check_step(&p.step)?;
    check_parcels(&p.step, &p.parcels)?;
    if p.step.sender_parent_head != p.sender_parent_head.digest() {
        return Err(ReceiptError::NotAdjacent {
            party: Party::Sender,
            reason: "step names another sender head",
        });
    }
    let child_tip = p.step.child_tip();
    let half = HalfTransition {
        party: Party::Sender,
        device: &p.step.sender,
        identity: &p.sender,
        parent: &p.sender_parent_head,
        child: &p.sender_child_head,
        proof: &p.sender_proof,
        kind: TransitionKind::Debit,
    };
    let parent_digest = check_half(&half, &p.step, &TipMove::plain(&p.step, child_tip))?;
    let commit = p.commit();
    p.sender
        .public_key
        .verify(commit.as_bytes(), &signed.signature)
        .map_err(|error| ReceiptError::Signature {
            party: Party::Sender,
            error,
        })?;
    let already_known = check_view(
        view,
        Party::Sender,
        &p.step.sender,
        &parent_digest,
        &p.sender_child_head,
    )?;
    check_tip_view(view, &p.step, &child_tip)?;
    Ok(VerifiedProposal {
        signed: signed.clone(),
        commit,
        child_tip,
        already_known,
    })
}

/// Strictly decodes and verifies a signed proposal from bytes (size cap first).
pub fn verify_proposal_bytes(
    bytes: &[u8],
    view: &dyn ChainView,
) -> Result<VerifiedProposal, ReceiptError> {
    if bytes.len() > MAX_RECEIPT_LEN {
        return Err(ReceiptError::TooLarge {
            len: bytes.len(),
            max: MAX_RECEIPT_LEN,
        });
    }
    verify_proposal(&SignedProposal::from_bytes(bytes)?, view)
}

/// The acceptance predicate on a decoded receipt: every check of [`verify_receipt_bytes`]
/// after decoding.
pub fn verify_receipt(
    receipt: &Receipt,
    view: &dyn ChainView,
) -> Result<VerifiedReceipt, ReceiptError> {
    let vp = verify_proposal(&receipt.proposal, view)?;
    verify_acceptance(&vp, &receipt.acceptance, view)
}

/// Checks the receiver's half against a proposal already verified (steps 3–9 for the
/// receiver). This is what the sender runs when the acceptance of its own proposal comes
/// back: it does not re-verify its own signature.
pub fn verify_acceptance(
    vp: &VerifiedProposal,
    signed: &SignedAcceptance,
    view: &dyn ChainView,
) -> Result<VerifiedReceipt, ReceiptError> {
    let a = &signed.acceptance;
    let answer = ReceiverAnswer {
        proposal_commit: &a.proposal_commit,
        receiver: &a.receiver,
        parent: &a.receiver_parent_head,
        child: &a.receiver_child_head,
        proof: &a.receiver_proof,
        signed_commit: a.commit(),
        signature: &signed.signature,
        crossing: a.crossing.as_ref(),
        behind: &[],
    };
    let known = check_receiver_answer(
        vp,
        &answer,
        TransitionKind::Credit,
        "acceptance names another proposal",
        view,
    )?;
    Ok(VerifiedReceipt {
        receipt: Receipt {
            proposal: vp.signed.clone(),
            acceptance: signed.clone(),
        },
        child_tip: vp.child_tip,
        already_known: vp.already_known && known,
    })
}

/// The receiver's half of an answer to a proposal (an acceptance or a refusal).
struct ReceiverAnswer<'a> {
    proposal_commit: &'a Digest,
    receiver: &'a DeviceIdentity,
    parent: &'a DeviceHead,
    child: &'a DeviceHead,
    proof: &'a SmtProof,
    signed_commit: Digest,
    signature: &'a Signature,
    crossing: Option<&'a RelationshipStep>,
    behind: &'a [RelationshipStep],
}

/// Steps 3–9 for the receiver's answer: it names the proposal, its head transition of
/// `kind` moves the relationship leaf as [`answer_move`] says, its signature verifies, and
/// the view has not seen another successor. Returns true if the view already knew this
/// transition.
fn check_receiver_answer(
    vp: &VerifiedProposal,
    answer: &ReceiverAnswer<'_>,
    kind: TransitionKind,
    other_proposal: &'static str,
    view: &dyn ChainView,
) -> Result<bool, ReceiptError> {
    let step = &vp.signed.proposal.step;
    if *answer.proposal_commit != vp.commit {
        return Err(ReceiptError::NotAdjacent {
            party: Party::Receiver,
            reason: other_proposal,
        });
    }
    let half = HalfTransition {
        party: Party::Receiver,
        device: &step.receiver,
        identity: answer.receiver,
        parent: answer.parent,
        child: answer.child,
        proof: answer.proof,
        kind,
    };
    let mv = answer_move(step, &vp.child_tip, kind, answer.crossing, answer.behind)?;
    let parent_digest = check_half(&half, step, &mv)?;
    answer
        .receiver
        .public_key
        .verify(answer.signed_commit.as_bytes(), answer.signature)
        .map_err(|error| ReceiptError::Signature {
            party: Party::Receiver,
            error,
        })?;
    check_view(
        view,
        Party::Receiver,
        &step.receiver,
        &parent_digest,
        answer.child,
    )
}

/// The sender's own proposal as a [`VerifiedProposal`], without re-verifying its signature
/// (the sender built and signed it). Use only for proposals from [`propose`].
pub fn own_proposal(built: &BuiltProposal) -> VerifiedProposal {
    VerifiedProposal {
        signed: built.signed.clone(),
        commit: built.signed.proposal.commit(),
        child_tip: built.child_tip,
        already_known: false,
    }
}

/// The acceptance predicate (PROTOCOL.md §6), from bytes: (1) size cap, (2) canonical
/// decoding, (3) step sanity, (4) device binding, (5) adjacency, (6) tree proofs recompute
/// the advertised roots, (7) balance arithmetic and conservation, (8) both signatures,
/// (9) nothing consumed or banned in the verifier's view. The sender's half is checked
/// through step 9 before the receiver's half.
pub fn verify_receipt_bytes(
    bytes: &[u8],
    view: &dyn ChainView,
) -> Result<VerifiedReceipt, ReceiptError> {
    if bytes.len() > MAX_RECEIPT_LEN {
        return Err(ReceiptError::TooLarge {
            len: bytes.len(),
            max: MAX_RECEIPT_LEN,
        });
    }
    verify_receipt(&Receipt::from_bytes(bytes)?, view)
}

/// Why a proposal or acceptance could not be built. These are the local party's own
/// mistakes (bad amount, stale state), reported before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum BuildError {
    /// The tree given does not match the head's root.
    #[error("the tree does not match the head's root; reload the device state")]
    TreeOutOfSync,
    /// The signing key does not belong to the identity, or the head to the device.
    #[error("the key or head does not belong to this identity")]
    WrongIdentity,
    /// The transfer is impossible (zero amount, self-payment, insufficient funds…).
    #[error("{0}")]
    Refused(#[from] ReceiptError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Crypto(#[from] CryptoError),
    /// The parcels given cannot pay this transfer (see [`ParcelStatement::payment`]).
    #[error("cannot pay from the parcels chosen: {0}")]
    Parcels(&'static str),
}

/// What a party needs to sign a transition: its identity, key, current head and tree.
pub struct LocalDevice<'a> {
    /// The device's identity.
    pub identity: &'a DeviceIdentity,
    /// Its signing key.
    pub key: &'a SigningKey,
    /// Its current head.
    pub head: &'a DeviceHead,
    /// Its tree, whose root must equal `head.smt_root`.
    pub tree: &'a SparseMerkleTree,
}

impl LocalDevice<'_> {
    fn check(&self) -> Result<DeviceId, BuildError> {
        let id = self.identity.device_id();
        if self.key.public_key() != &self.identity.public_key || self.head.device != id {
            return Err(BuildError::WrongIdentity);
        }
        if self.tree.root() != self.head.smt_root {
            return Err(BuildError::TreeOutOfSync);
        }
        Ok(id)
    }

    /// The party's next head moving its leaf on `rel` to `leaf` (from [`TipMove::leaf_after`]).
    #[allow(clippy::too_many_arguments)]
    fn child_head(
        &self,
        rel: &RelationshipKey,
        leaf: &TipDigest,
        cause: &TipDigest,
        kind: TransitionKind,
        token: &TokenId,
        amount: Amount,
        party: Party,
    ) -> Result<(DeviceHead, SmtProof), BuildError> {
        let proof = self.tree.prove(rel.as_bytes());
        let smt_root = proof
            .root_after_set(rel.as_bytes(), &leaf.0)
            .map_err(|error| ReceiptError::Proof { party, error })?;
        let balances = match kind {
            TransitionKind::Debit => self.head.balances.debited(token, amount),
            TransitionKind::Refuse => Ok(self.head.balances.clone()),
            _ => self.head.balances.credited(token, amount),
        }
        .map_err(|error| ReceiptError::Balance { party, error })?;
        let height = self
            .head
            .height
            .checked_add(1)
            .ok_or(ReceiptError::NotAdjacent {
                party,
                reason: "height overflow",
            })?;
        let child = DeviceHead {
            device: self.head.device,
            height,
            parent: self.head.digest(),
            smt_root,
            balances,
            kind,
            cause: cause.0,
        };
        Ok((child, proof))
    }

    /// The receiver's head answering `proposal` (credit or refusal), moving the
    /// relationship leaf as [`answer_move`] says, and the new leaf. Only possible while the
    /// leaf it moves from is current (the step's parent tip, without a crossing).
    fn answer_head(
        &self,
        proposal: &VerifiedProposal,
        kind: TransitionKind,
        crossing: Option<&RelationshipStep>,
        behind: &[RelationshipStep],
    ) -> Result<(DeviceHead, SmtProof, TipDigest), BuildError> {
        let me = self.check()?;
        let step = &proposal.signed.proposal.step;
        if step.receiver != me {
            return Err(BuildError::WrongIdentity);
        }
        let mv = answer_move(step, &proposal.child_tip, kind, crossing, behind)?;
        let leaf = mv.leaf_after(self.current_tip(&step.relationship), Party::Receiver)?;
        let (head, proof) = self.child_head(
            &step.relationship,
            &leaf,
            &mv.cause,
            kind,
            &step.token,
            step.amount,
            Party::Receiver,
        )?;
        Ok((head, proof, leaf))
    }

    fn current_tip(&self, rel: &RelationshipKey) -> TipDigest {
        self.tree
            .get(rel.as_bytes())
            .map(TipDigest)
            .unwrap_or_else(|| rel.genesis_tip())
    }
}

/// A signed proposal plus the sender's new head. The caller persists both, then applies
/// `tree.insert(relationship, child_tip)`.
#[derive(Clone, Debug)]
pub struct BuiltProposal {
    /// The proposal to send.
    pub signed: SignedProposal,
    /// The sender's head after the debit.
    pub child_head: DeviceHead,
    /// The relationship tip after the step.
    pub child_tip: TipDigest,
}

/// Builds and signs a proposal paying `amount` of `token` to `receiver`, consuming the
/// sender's parcels `inputs` (see [`ParcelStatement::payment`]). `rnd` is fresh randomness
/// for hedged signing.
pub fn propose(
    sender: &LocalDevice<'_>,
    receiver: &DeviceId,
    token: TokenId,
    amount: Amount,
    inputs: &[Parcel],
    rnd: &[u8; 32],
) -> Result<BuiltProposal, BuildError> {
    let me = sender.check()?;
    let relationship = RelationshipKey::between(&me, receiver);
    let step = RelationshipStep {
        relationship,
        parent_tip: sender.current_tip(&relationship),
        sender: me,
        receiver: *receiver,
        token,
        amount,
        sender_parent_head: sender.head.digest(),
    };
    check_step(&step)?;
    let child_tip = step.child_tip();
    let (child_head, proof) = sender.child_head(
        &relationship,
        &child_tip,
        &child_tip,
        TransitionKind::Debit,
        &token,
        amount,
        Party::Sender,
    )?;
    if inputs.iter().any(|p| p.token != token) {
        return Err(BuildError::Parcels("an input is of another token"));
    }
    let parcels =
        ParcelStatement::payment(me, *receiver, inputs, amount).map_err(BuildError::Parcels)?;
    let proposal = Proposal {
        step,
        sender: sender.identity.clone(),
        sender_parent_head: sender.head.clone(),
        sender_child_head: child_head.clone(),
        sender_proof: proof,
        parcels,
    };
    let signature = sender.key.sign(proposal.commit().as_bytes(), rnd)?;
    Ok(BuiltProposal {
        signed: SignedProposal {
            proposal,
            signature,
        },
        child_head,
        child_tip,
    })
}

/// A receipt plus the receiver's new head. The caller persists both, then applies
/// `tree.insert(relationship, child_tip)`.
#[derive(Clone, Debug)]
pub struct BuiltAcceptance {
    /// The complete receipt (returned to the sender).
    pub receipt: Receipt,
    /// The receiver's head after the credit.
    pub child_head: DeviceHead,
    /// The relationship tip after the step.
    pub child_tip: TipDigest,
}

/// Accepts a verified proposal addressed to `receiver`, signing the crediting head
/// transition. `lineages` are the verified lineages of the proposal's inputs, in input
/// order: there is no way to sign an acceptance without them (PROTOCOL.md §5.6).
pub fn accept(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    lineages: &[VerifiedLineage],
    rnd: &[u8; 32],
) -> Result<BuiltAcceptance, BuildError> {
    accept_crossed(receiver, proposal, lineages, None, rnd)
}

/// [`accept`] a proposal that won a crossing against `crossing`, the receiver's own step
/// to the sender, which was refused and released (PROTOCOL.md §7.6); `None` is [`accept`].
pub fn accept_crossed(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    lineages: &[VerifiedLineage],
    crossing: Option<&RelationshipStep>,
    rnd: &[u8; 32],
) -> Result<BuiltAcceptance, BuildError> {
    check_inputs(proposal, lineages)?;
    let (child_head, proof, _) =
        receiver.answer_head(proposal, TransitionKind::Credit, crossing, &[])?;
    let acceptance = Acceptance {
        proposal_commit: proposal.commit,
        receiver: receiver.identity.clone(),
        receiver_parent_head: receiver.head.clone(),
        receiver_child_head: child_head.clone(),
        receiver_proof: proof,
        crossing: crossing.cloned(),
    };
    let signature = receiver.key.sign(acceptance.commit().as_bytes(), rnd)?;
    let receipt = Receipt {
        proposal: proposal.signed.clone(),
        acceptance: SignedAcceptance {
            acceptance,
            signature,
        },
    };
    Ok(BuiltAcceptance {
        receipt,
        child_head,
        child_tip: proposal.child_tip,
    })
}

/// Why a device-chain segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SegmentError {
    /// Step `index` does not continue the chain from the previous head.
    #[error("step {index}: does not extend the previous head")]
    Gap {
        /// Position in the segment.
        index: usize,
    },
    /// Step `index`'s receipt fails the acceptance predicate.
    #[error("step {index}: {error}")]
    Receipt {
        /// Position in the segment.
        index: usize,
        /// Why the receipt was refused.
        error: ReceiptError,
    },
    /// Step `index`'s receipt does not involve the segment's device.
    #[error("step {index}: the receipt does not involve this device")]
    NotInvolved {
        /// Position in the segment.
        index: usize,
    },
    /// Step `index`'s allocation or burn is not justified by its source proof.
    #[error("step {index}: {why}")]
    Source {
        /// Position in the segment.
        index: usize,
        /// The source verifier's reason.
        why: String,
    },
}

/// Checks a device-chain segment for balance provenance: starting from a head the verifier
/// already trusts (one it verified before, or a checkpoint), every following head must be
/// justified by a receipt in which the device is the sender (a debit) or the receiver (a
/// credit) and whose parent head is the previous head. Returns the last head.
///
/// A segment with ALLOCATION or BURN heads needs their source proofs: use
/// [`verify_chain_segment_with_sources`].
pub fn verify_chain_segment(
    trusted: &DeviceHead,
    receipts: &[Receipt],
    view: &dyn ChainView,
) -> Result<DeviceHead, SegmentError> {
    let steps: Vec<SegmentStep> = receipts
        .iter()
        .map(|r| SegmentStep::Receipt(Box::new(r.clone())))
        .collect();
    verify_chain_segment_with_sources(trusted, &steps, view, &mut NoSources)
}

/// One step of a device-chain segment.
#[derive(Clone, Debug)]
pub enum SegmentStep {
    /// A DEBIT or CREDIT, justified by its receipt.
    Receipt(Box<Receipt>),
    /// An ALLOCATION or BURN head with the source proof its `cause` names (the token layer
    /// defines and checks the proof bytes).
    Source {
        /// The head.
        head: DeviceHead,
        /// The canonical source-proof bytes.
        proof: Vec<u8>,
    },
}

/// Checks the source proof of an ALLOCATION or BURN head. Implemented by the composed
/// token layer (`dsm-token`), which knows the policies; core only checks the chain shape.
/// Stateful so that an implementation can refuse a source used twice.
pub trait SourceVerifier {
    /// `Ok` when `proof` justifies `child` (whose parent is `parent`), or a reason.
    fn verify_source(
        &mut self,
        parent: &DeviceHead,
        child: &DeviceHead,
        proof: &[u8],
    ) -> Result<(), String>;

    /// `Ok` when the token layer allows this transfer step (e.g. not a soulbound token);
    /// called for every receipt of the segment. No default: an implementation says what
    /// it allows.
    fn check_transfer(&mut self, step: &RelationshipStep) -> Result<(), String>;
}

/// Refuses every source: the verifier of a segment that must contain only transfers. It
/// judges no token rule, so every transfer passes its `check_transfer` (core's own checks
/// still apply); use the token layer's verifier for token rules.
pub struct NoSources;

impl SourceVerifier for NoSources {
    fn verify_source(&mut self, _: &DeviceHead, _: &DeviceHead, _: &[u8]) -> Result<(), String> {
        Err("allocation and burn heads need a token-layer source verifier".into())
    }
    fn check_transfer(&mut self, _: &RelationshipStep) -> Result<(), String> {
        Ok(())
    }
}

/// [`verify_chain_segment`] with ALLOCATION and BURN steps: each must extend the previous
/// head by one (same device, height + 1, parent digest, tree root unchanged) and pass
/// `sources`.
pub fn verify_chain_segment_with_sources(
    trusted: &DeviceHead,
    steps: &[SegmentStep],
    view: &dyn ChainView,
    sources: &mut dyn SourceVerifier,
) -> Result<DeviceHead, SegmentError> {
    let mut head = trusted.clone();
    for (index, step) in steps.iter().enumerate() {
        let receipt = match step {
            SegmentStep::Receipt(r) => r,
            SegmentStep::Source { head: child, proof } => {
                let shape_ok = matches!(
                    child.kind,
                    TransitionKind::Allocation | TransitionKind::Burn
                ) && child.device == head.device
                    && Some(child.height) == head.height.checked_add(1)
                    && child.parent == head.digest()
                    && child.smt_root == head.smt_root;
                if !shape_ok {
                    return Err(SegmentError::Gap { index });
                }
                sources
                    .verify_source(&head, child, proof)
                    .map_err(|why| SegmentError::Source { index, why })?;
                head = child.clone();
                continue;
            }
        };
        let verified = verify_receipt(receipt, view)
            .map_err(|error| SegmentError::Receipt { index, error })?;
        let p = &verified.receipt.proposal.proposal;
        let a = &verified.receipt.acceptance.acceptance;
        let (parent, child) = if p.step.sender == head.device {
            (&p.sender_parent_head, &p.sender_child_head)
        } else if p.step.receiver == head.device {
            (&a.receiver_parent_head, &a.receiver_child_head)
        } else {
            return Err(SegmentError::NotInvolved { index });
        };
        if *parent != head {
            return Err(SegmentError::Gap { index });
        }
        sources
            .check_transfer(&p.step)
            .map_err(|why| SegmentError::Source { index, why })?;
        head = child.clone();
    }
    Ok(head)
}

// ---------------------------------------------------------------------------------------
// Refusal and release

/// The tip a refused step leaves on its relationship in both trees:
/// `H(ReleaseTip, child tip of the refused step)`.
pub fn release_tip(refused_child_tip: &TipDigest) -> TipDigest {
    TipDigest(tagged_hash(
        Tag::ReleaseTip,
        &[refused_child_tip.as_bytes()],
    ))
}

/// The receiver's signed statement that it will never accept a proposal. It is a head
/// transition of the receiver (kind REFUSE: its relationship leaf moves to the release tip,
/// balances unchanged) so that both trees agree on the relationship again, and it lets the
/// sender take the amount back (kind RELEASE). Signing both an acceptance and a refusal of
/// one proposal is equivocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// [`Proposal::commit`] of the refused proposal.
    pub proposal_commit: Digest,
    /// The receiver's identity.
    pub receiver: DeviceIdentity,
    /// The receiver head the refusal is recorded on.
    pub receiver_parent_head: DeviceHead,
    /// The receiver head after it.
    pub receiver_child_head: DeviceHead,
    /// Proof for the relationship key under `receiver_parent_head.smt_root`.
    pub receiver_proof: SmtProof,
    /// Why (wallet-defined, informational; e.g. 1 = over the receiver's limit).
    pub reason: u64,
    /// The receiver consumes its outputs of the refused proposal back to the sender
    /// ([`ParcelStatement::refund`]), so the released value descends from the refusal and
    /// "refuse, then spend the output anyway" is a parcel fork (PROTOCOL.md §5.6).
    pub parcels: ParcelStatement,
    /// For a refusal of the lineage kind: the input of the proposal whose lineage failed,
    /// so its sender knows which parcel it cannot pay with. One of the proposal's inputs.
    pub refused_input: Option<ParcelId>,
    /// When the receiver's own proposal to the sender crossed this one (PROTOCOL.md §7.6):
    /// that step — pending and the winner (the refused proposal lost), or refused and
    /// released (it lost). Absent otherwise.
    pub crossing: Option<RelationshipStep>,
    /// When the refused proposal is queued behind a proposal this receiver refused
    /// (PROTOCOL.md §7.7): the sender's steps from that refused one up to the refused
    /// proposal's parent, in order (at most [`MAX_QUEUE`] − 1). Empty otherwise.
    pub behind: Vec<RelationshipStep>,
}

/// The most proposals a sender keeps pending to one receiver at once: its queue
/// (PROTOCOL.md §7.7, §16.7).
pub const MAX_QUEUE: usize = 4;

impl Refusal {
    /// The digest of everything but the parcel statement: `H(RefusalCommit, fields 1–6,
    /// 8, 9 and 10)`.
    pub fn rest_digest(&self) -> Digest {
        let mut w = Writer::new();
        self.encode_rest(&mut w);
        self.encode_input(&mut w);
        tagged_hash(Tag::RefusalCommit, &[&w.into_bytes()])
    }

    /// Fields 8, 9 and 10, each only when present.
    fn encode_input(&self, w: &mut Writer) {
        if let Some(p) = &self.refused_input {
            w.bytes(8, p.as_bytes());
        }
        w.optional_message(9, self.crossing.as_ref());
        w.repeated_message(10, &self.behind);
    }

    /// The digest the receiver signs: `transfer_commit(H(ParcelStatement, parcels),
    /// rest_digest)`.
    pub fn commit(&self) -> Digest {
        transfer_commit(&self.parcels.digest(), &self.rest_digest())
    }

    fn encode_rest(&self, w: &mut Writer) {
        w.bytes(1, self.proposal_commit.as_bytes());
        w.message(2, &self.receiver);
        w.message(3, &self.receiver_parent_head);
        w.message(4, &self.receiver_child_head);
        w.message(5, &self.receiver_proof);
        w.uint(6, self.reason);
    }
}

impl SignedRefusal {
    /// The refusal as a lineage hop (the receiver's outputs going back to the sender).
    pub fn hop(&self) -> Hop {
        Hop {
            statement: self.refusal.parcels.clone(),
            rest: self.refusal.rest_digest(),
            signature: self.signature.clone(),
        }
    }
}

impl Canonical for Refusal {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        self.encode_rest(w);
        w.message(7, &self.parcels);
        self.encode_input(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Refusal {
            proposal_commit: Digest(r.fixed(1)?),
            receiver: r.message(2)?,
            receiver_parent_head: r.message(3)?,
            receiver_child_head: r.message(4)?,
            receiver_proof: r.message(5)?,
            reason: r.uint(6)?,
            parcels: r.message(7)?,
            refused_input: r.optional_fixed::<32>(8)?.map(|b| ParcelId(Digest(b))),
            crossing: r.optional_message(9)?,
            behind: r.repeated_message(10, MAX_QUEUE - 1)?,
        })
    }
}

/// A refusal with the receiver's signature over [`Refusal::commit`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedRefusal {
    /// The refusal.
    pub refusal: Refusal,
    /// The receiver's signature.
    pub signature: Signature,
}

impl Canonical for SignedRefusal {
    const MAX_ENCODED_LEN: usize = MAX_RECEIPT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.refusal);
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedRefusal {
            refusal: r.message(1)?,
            signature: r.message(2)?,
        })
    }
}

/// A refusal that passed [`verify_refusal`] against its proposal.
#[derive(Clone, Debug)]
pub struct VerifiedRefusal {
    proposal: SignedProposal,
    refusal: SignedRefusal,
    release_tip: TipDigest,
}

impl VerifiedRefusal {
    /// The refused proposal.
    pub fn proposal(&self) -> &SignedProposal {
        &self.proposal
    }
    /// The signed refusal.
    pub fn refusal(&self) -> &SignedRefusal {
        &self.refusal
    }
    /// The release tip of the refused step this refusal rests on: the answered step's own,
    /// or, for a refusal behind a refused step (PROTOCOL.md §7.7), that step's. A plain
    /// release moves the sender's leaf there; a release behind leaves the leaf where it is.
    pub fn release_tip(&self) -> &TipDigest {
        &self.release_tip
    }
}

/// Checks a signed refusal of a verified proposal: it names the proposal, binds to the
/// step's receiver, its head moves the relationship leaf from the step's parent tip to the
/// release tip with balances unchanged (kind REFUSE, cause = release tip), and the
/// receiver's signature verifies. `view` applies the consumed-head and ban checks.
pub fn verify_refusal(
    vp: &VerifiedProposal,
    signed: &SignedRefusal,
    view: &dyn ChainView,
) -> Result<VerifiedRefusal, ReceiptError> {
    let r = &signed.refusal;
    if Some(&r.parcels)
        != ParcelStatement::refund(
            &vp.commit,
            &vp.signed.proposal.parcels,
            &vp.signed.proposal.step.receiver,
        )
        .as_ref()
    {
        return Err(ReceiptError::Parcels(
            "of the refusal does not give the receiver's outputs back to the sender",
        ));
    }
    if r.refused_input
        .is_some_and(|i| vp.signed.proposal.parcels.inputs.binary_search(&i).is_err())
    {
        return Err(ReceiptError::Parcels(
            "named by the refusal is not an input of the proposal",
        ));
    }
    // The release tip of the refused step: the answered one's, or, queued behind a refused
    // step, that one's (PROTOCOL.md §7.7).
    let release = match r.behind.first() {
        Some(first) => release_tip(&first.child_tip()),
        None => release_tip(&vp.child_tip),
    };
    let answer = ReceiverAnswer {
        proposal_commit: &r.proposal_commit,
        receiver: &r.receiver,
        parent: &r.receiver_parent_head,
        child: &r.receiver_child_head,
        proof: &r.receiver_proof,
        signed_commit: r.commit(),
        signature: &signed.signature,
        crossing: r.crossing.as_ref(),
        behind: &r.behind,
    };
    check_receiver_answer(
        vp,
        &answer,
        TransitionKind::Refuse,
        "refusal names another proposal",
        view,
    )?;
    Ok(VerifiedRefusal {
        proposal: vp.signed.clone(),
        refusal: signed.clone(),
        release_tip: release,
    })
}

/// A signed refusal plus the receiver's new head. The caller persists both, then applies
/// `tree.insert(relationship, release_tip)`.
#[derive(Clone, Debug)]
pub struct BuiltRefusal {
    /// The refusal to send.
    pub signed: SignedRefusal,
    /// The receiver's head after the refusal.
    pub child_head: DeviceHead,
    /// The receiver's relationship leaf after the refusal: the release tip, or, refusing a
    /// proposal that lost a crossing, the child tip of its own pending step (unchanged).
    pub leaf: TipDigest,
}

/// Refuses a verified proposal addressed to `receiver`, for `reason`. Only possible while
/// the step's parent tip is still the receiver's current tip (so never after accepting).
pub fn refuse(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    reason: u64,
    rnd: &[u8; 32],
) -> Result<BuiltRefusal, BuildError> {
    refuse_naming(receiver, proposal, reason, None, rnd)
}

/// [`refuse`], naming the input whose lineage failed (`refused_input`, for a lineage
/// refusal). It must be one of the proposal's inputs.
pub fn refuse_naming(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    reason: u64,
    refused_input: Option<ParcelId>,
    rnd: &[u8; 32],
) -> Result<BuiltRefusal, BuildError> {
    refuse_crossed(receiver, proposal, reason, refused_input, None, rnd)
}

/// [`refuse_naming`] when `crossing`, the receiver's own step to the sender, crossed the
/// proposal (PROTOCOL.md §7.6): it won and is still pending (the receiver's leaf stays its
/// child tip), or it lost and was released (the leaf moves from its release tip). `None`
/// is [`refuse_naming`].
pub fn refuse_crossed(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    reason: u64,
    refused_input: Option<ParcelId>,
    crossing: Option<&RelationshipStep>,
    rnd: &[u8; 32],
) -> Result<BuiltRefusal, BuildError> {
    refuse_with(
        receiver,
        proposal,
        reason,
        refused_input,
        crossing,
        &[],
        rnd,
    )
}

/// Refuses a proposal queued behind one this receiver refused (PROTOCOL.md §7.7): `behind`
/// is the sender's steps from that refused one to the proposal's parent, in order. The
/// receiver's leaf stays the refused one's release tip.
pub fn refuse_queued(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    reason: u64,
    behind: &[RelationshipStep],
    rnd: &[u8; 32],
) -> Result<BuiltRefusal, BuildError> {
    if behind.is_empty() {
        return Err(ReceiptError::Queue("is empty").into());
    }
    refuse_with(receiver, proposal, reason, None, None, behind, rnd)
}

fn refuse_with(
    receiver: &LocalDevice<'_>,
    proposal: &VerifiedProposal,
    reason: u64,
    refused_input: Option<ParcelId>,
    crossing: Option<&RelationshipStep>,
    behind: &[RelationshipStep],
    rnd: &[u8; 32],
) -> Result<BuiltRefusal, BuildError> {
    let p = &proposal.signed.proposal;
    if refused_input.is_some_and(|i| p.parcels.inputs.binary_search(&i).is_err()) {
        return Err(BuildError::Parcels(
            "the parcel named is not an input of the proposal",
        ));
    }
    let (child_head, proof, leaf) =
        receiver.answer_head(proposal, TransitionKind::Refuse, crossing, behind)?;
    let parcels = ParcelStatement::refund(&proposal.commit, &p.parcels, &p.step.receiver)
        .ok_or(BuildError::Parcels("the proposal pays this device nothing"))?;
    let refusal = Refusal {
        proposal_commit: proposal.commit,
        receiver: receiver.identity.clone(),
        receiver_parent_head: receiver.head.clone(),
        receiver_child_head: child_head.clone(),
        receiver_proof: proof,
        reason,
        parcels,
        refused_input,
        crossing: crossing.cloned(),
        behind: behind.to_vec(),
    };
    let signature = receiver.key.sign(refusal.commit().as_bytes(), rnd)?;
    Ok(BuiltRefusal {
        signed: SignedRefusal { refusal, signature },
        child_head,
        leaf,
    })
}

/// The sender's head after taking a refused amount back: kind RELEASE, the relationship
/// leaf moves from the refused step's child tip to the release tip, the amount is credited
/// back. Deterministic from the current head and the verified refusal; it is signed
/// implicitly by the sender's next proposal, whose parent head it is.
#[derive(Clone, Debug)]
pub struct BuiltRelease {
    /// The sender's head after the release.
    pub child_head: DeviceHead,
    /// The relationship tip after the release.
    pub release_tip: TipDigest,
}

/// Builds the sender's release of a refused proposal. The refused step's child tip must
/// still be the sender's current tip on that relationship (the modal lock guarantees it),
/// or, for a refusal of a step queued behind a refused one, that one's release tip.
pub fn release(
    sender: &LocalDevice<'_>,
    refused: &VerifiedRefusal,
) -> Result<BuiltRelease, BuildError> {
    release_queued(sender, refused, &[])
}

/// [`release`] when the sender queued more steps to the same receiver after the refused
/// one (PROTOCOL.md §7.7): `queued_after` are those steps, in order, and the sender's
/// current tip is the last one's child tip. The leaf moves to the refused step's release
/// tip at once; each later step is released when its own refusal comes.
pub fn release_queued(
    sender: &LocalDevice<'_>,
    refused: &VerifiedRefusal,
    queued_after: &[RelationshipStep],
) -> Result<BuiltRelease, BuildError> {
    let me = sender.check()?;
    let step = &refused.proposal.proposal.step;
    if step.sender != me {
        return Err(BuildError::WrongIdentity);
    }
    let behind = &refused.refusal.refusal.behind;
    let mv = if !behind.is_empty() {
        // Queued behind a refused step: that one's release already moved the leaf off the
        // queue, and it stays wherever it is now (PROTOCOL.md §7.7).
        if !queued_after.is_empty() {
            return Err(ReceiptError::Queue("is released from the refused step's release").into());
        }
        TipMove {
            leaf: LeafMove::Stays {
                barred: queue_path(behind, step),
            },
            cause: release_tip(&step.child_tip()),
        }
    } else {
        let mut tail = step.child_tip();
        for s in queued_after {
            if s.relationship != step.relationship
                || s.sender != step.sender
                || s.receiver != step.receiver
                || s.parent_tip != tail
            {
                return Err(ReceiptError::Queue("does not follow the refused step").into());
            }
            tail = s.child_tip();
        }
        if queued_after.len() >= MAX_QUEUE {
            return Err(ReceiptError::Queue("is longer than a queue can be").into());
        }
        TipMove {
            leaf: LeafMove::From {
                current: tail,
                to: refused.release_tip,
            },
            cause: refused.release_tip,
        }
    };
    let leaf = mv.leaf_after(sender.current_tip(&step.relationship), Party::Sender)?;
    let (child_head, _) = sender.child_head(
        &step.relationship,
        &leaf,
        &mv.cause,
        TransitionKind::Release,
        &step.token,
        step.amount,
        Party::Sender,
    )?;
    Ok(BuiltRelease {
        child_head,
        release_tip: leaf,
    })
}
