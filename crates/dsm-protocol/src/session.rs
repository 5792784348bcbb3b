//! The bilateral transfer session, as a sans-IO state machine (PROTOCOL.md §12).
//!
//! ```text
//!  dialer (pays)                                   listener (is paid)
//!  Hello{tip, pending?, witnessed}  ─────────────▶
//!                                  ◀─────────────  Hello{tip, pending?, witnessed}
//!                                  ◀─────────────  answer to the dialer's pending, if any
//!  (take that answer first, then)
//!  answer to the listener's pending ─────────────▶
//!    if any
//!  [commit debit] Proposal          ─────────────▶  verify, [commit credit]
//!                                  ◀─────────────  Acceptance
//!  verify, [commit stitch]  … next Proposal …
//!                      (or, when the listener's policy says no: [commit refuse]
//!                                  ◀─────────────  SignedRefusal
//!  verify, [commit release]: the amount is back, the relationship unlocked)
//!  Close                            ─────────────▶
//! ```
//!
//! Rules the code enforces:
//! * **Commit before send.** A message that reveals a signature is returned only after the
//!   [`Ledger`] durably committed the state change it belongs to, so a crash can never
//!   lead the device to sign a second, different successor of the same head.
//! * **The party that signs last commits first.** The receiver commits its credit before
//!   its acceptance leaves; the sender's debit is already committed when the proposal leaves.
//! * **Modal lock.** Between its proposal and the acceptance, the sender holds a *pending*
//!   proposal on that one relationship; its chain goes on for every other relationship.
//!   The pending proposal is offered again in the next hello with that peer (by any
//!   transport) and the peer answers it idempotently (the stored acceptance, or a new one).
//! * **Idempotence.** A repeated proposal gets the stored acceptance (or signed refusal)
//!   again; a repeated acceptance or refusal of something already settled is ignored. Anything else out of order ends
//!   the session in [`Phase::Failed`], having changed nothing that was not committed.

use crate::message::{
    Close, Hello, Refusal, RefusalCode, SessionMessage, MAX_GOSSIPED_FORKS, MAX_WITNESSED,
    PROTOCOL_VERSION,
};
use dsm_core::chain::{Amount, DeviceHead, RelationshipKey, RelationshipStep, TipDigest, TokenId};
use dsm_core::crypto::SigningKey;
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::parcel::{Parcel, VerifiedLineage};
use dsm_core::receipt::Offer;
use dsm_core::receipt::{
    accept_crossed, crossed, own_proposal, propose, refuse_crossed, refuse_queued, release,
    release_queued, release_tip, verify_acceptance, verify_proposal, verify_refusal, wins_crossing,
    BuildError, BuiltAcceptance, BuiltProposal, BuiltRefusal, BuiltRelease, ChainView, LocalDevice,
    Receipt, ReceiptError, SignedAcceptance, SignedProposal, SignedRefusal, VerifiedProposal,
    VerifiedRefusal,
};
use dsm_core::smt::SparseMerkleTree;
use thiserror::Error;

/// Why the ledger could not commit a state change. The session aborts without sending.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum LedgerError {
    /// The head the change was built on is no longer the device's head.
    #[error("the device head moved while the session was running; run the transfer again")]
    HeadMoved,
    /// The store failed (disk full, I/O error…). Nothing was committed.
    #[error("the wallet store failed: {0}")]
    Store(String),
    /// The wallet's rules forbid this change (e.g. sending to a counterparty that has not
    /// acknowledged this device's succession yet). Nothing was committed.
    #[error("{0}")]
    NotAllowed(String),
}

impl From<dsm_core::receipt::ViewError> for SessionError {
    /// The device's view could not be read: the session stops (fails closed) as on any
    /// store failure.
    fn from(e: dsm_core::receipt::ViewError) -> Self {
        SessionError::Ledger(LedgerError::Store(e.0))
    }
}

/// A device's committed state, as the session needs it. The wallet implements it over its
/// store; every `commit_*` is one atomic, durable write that either fully happens or not at
/// all, and must refuse (with [`LedgerError::HeadMoved`]) a change built on a head that is
/// no longer current.
pub trait Ledger {
    /// This device's identity.
    fn identity(&self) -> &DeviceIdentity;
    /// This device's signing key.
    fn signing_key(&self) -> &SigningKey;
    /// Records the identity a peer's hello names: its slot owner is where this device's
    /// successor would post a succession notice to it (PROTOCOL.md §16.1, §20.2). An
    /// identity certifies itself (the device id is its hash), so recording one trusts
    /// nothing.
    fn note_peer(&mut self, peer: &DeviceIdentity) -> Result<(), LedgerError>;
    /// The current committed head.
    fn head(&self) -> &DeviceHead;
    /// The current tree (its root equals `head().smt_root`).
    fn tree(&self) -> &SparseMerkleTree;
    /// What this device knows of other chains (consumed heads, equivocators).
    fn view(&self) -> &dyn ChainView;
    /// 32 fresh random bytes for hedged signing.
    fn random(&mut self) -> [u8; 32];
    /// This device's proposals to `peer` still waiting for their answers, oldest first: its
    /// queue (PROTOCOL.md §7.7), at most `MAX_QUEUE` long.
    fn pending_to(&self, peer: &DeviceId) -> Result<Vec<SignedProposal>, LedgerError>;
    /// When `parent_tip` is the child tip of a step on `relationship` that this device
    /// refused (plainly, as a crossing's loser, or behind another), the steps a refusal of a
    /// proposal from that tip is queued behind (PROTOCOL.md §7.7), in order: the refused
    /// step's own `behind`, then the refused step.
    fn refused_behind(
        &self,
        relationship: &RelationshipKey,
        parent_tip: &TipDigest,
    ) -> Result<Option<Vec<RelationshipStep>>, LedgerError>;
    /// The step of this device's own proposal on `relationship` that was refused and
    /// released last, when its release tip is still the current leaf there (PROTOCOL.md
    /// §7.6: a proposal that won a crossing against it is answered from that leaf).
    fn released_on(
        &self,
        relationship: &RelationshipKey,
    ) -> Result<Option<RelationshipStep>, LedgerError>;
    /// The peer's step that won a crossing against this device's step released last on
    /// `relationship` (the refusal named it), while that release tip is still the current
    /// leaf: this device must answer it before it proposes there again (PROTOCOL.md §7.6).
    fn winner_to_answer(
        &self,
        relationship: &RelationshipKey,
    ) -> Result<Option<RelationshipStep>, LedgerError>;
    /// The acceptance this device already signed for the proposal with this commit.
    fn acceptance_for(
        &self,
        proposal_commit: &Digest,
    ) -> Result<Option<SignedAcceptance>, LedgerError>;
    /// True if this device already stitched the receipt of its proposal with this commit.
    fn is_stitched(&self, proposal_commit: &Digest) -> Result<bool, LedgerError>;
    /// Atomically: new head (debited), tree leaf set to the child tip, proposal pending (at
    /// the end of the peer's queue). `offer` is the offer [`Ledger::offer`] built for it
    /// (its slot write is kept with it).
    fn commit_debit(&mut self, built: &BuiltProposal, offer: &Offer) -> Result<(), LedgerError>;
    /// The held parcels of `token` a payment of `amount` consumes (PROTOCOL.md §5.6).
    fn select_inputs(&self, token: &TokenId, amount: Amount) -> Result<Vec<Parcel>, LedgerError>;
    /// The offer of our proposal `signed` (its inputs' manifests), before or after the
    /// debit is committed, with every object the manifests list when they take at most
    /// `object_budget` bytes (else none: the receiver asks for what it lacks). Fails,
    /// changing nothing, when even the manifests cannot be shipped.
    fn offer(&self, signed: &SignedProposal, object_budget: usize) -> Result<Offer, LedgerError>;
    /// Objects among `addresses` that the lineages of our proposal `proposal_commit` list,
    /// ascending, at most `budget` bytes in all (the receiver asks again for the rest).
    fn lineage_objects(
        &self,
        proposal_commit: &Digest,
        addresses: &[Digest],
        budget: usize,
    ) -> Result<Vec<Vec<u8>>, LedgerError>;
    /// Checks the lineage of every input of an offer addressed to us: `Ok(Err(_))` when
    /// objects are missing or a lineage does not verify, `Err` when the ledger could not
    /// be read.
    fn check_offer(
        &mut self,
        offer: &Offer,
    ) -> Result<Result<Vec<VerifiedLineage>, LineageRefusal>, LedgerError>;
    /// Atomically: new head (credited), tree leaf set, acceptance and receipt stored, the
    /// parcels received held with their lineages.
    fn commit_credit(
        &mut self,
        built: &BuiltAcceptance,
        offer: &Offer,
        lineages: &[VerifiedLineage],
    ) -> Result<(), LedgerError>;
    /// Atomically: the proposal leaves the pending queue and the receipt is stored.
    fn commit_stitch(&mut self, receipt: &Receipt) -> Result<(), LedgerError>;
    /// This device's policy: `Some(reason)` to refuse (with a signed refusal) a valid
    /// proposal addressed to it, e.g. one over its per-transfer limit.
    fn refusal_reason(&self, proposal: &VerifiedProposal) -> Option<RefusalReason>;
    /// The signed refusal stored for the proposal with this commit (ours or the peer's).
    fn refusal_for(&self, proposal_commit: &Digest) -> Result<Option<SignedRefusal>, LedgerError>;
    /// Atomically: new head (kind REFUSE), tree leaf set to the release tip, refusal stored
    /// (with the offer's slot write, so that the refused proposal can be settled).
    fn commit_refusal(&mut self, offer: &Offer, built: &BuiltRefusal) -> Result<(), LedgerError>;
    /// Atomically: new head (kind RELEASE, amount back), tree leaf set to the release's
    /// leaf, the proposal out of the pending queue, the refusal stored.
    fn commit_release(
        &mut self,
        refused: &VerifiedRefusal,
        built: &BuiltRelease,
    ) -> Result<(), LedgerError>;
    /// Records a third device's proposal seen in gossip (Tripwire: the ledger turns a
    /// conflict with what it saw before into stored evidence).
    fn witness(&mut self, proposal: &SignedProposal) -> Result<(), LedgerError>;
    /// Up to `max` recent third-party proposals to gossip, leaving out `exclude`.
    fn gossip(&self, exclude: &[DeviceId], max: usize) -> Result<Vec<SignedProposal>, LedgerError>;
    /// Up to `max` parcel forks of hops alone to gossip, leaving out those of `exclude`.
    fn gossip_forks(
        &self,
        exclude: &[DeviceId],
        max: usize,
    ) -> Result<Vec<dsm_core::parcel::ParcelFork>, LedgerError>;
    /// A parcel fork gossiped by a peer: untrusted until verified (it must verify from its
    /// own bytes, or it is ignored), then kept as evidence.
    fn learn_fork(&mut self, fork: &dsm_core::parcel::ParcelFork) -> Result<(), LedgerError>;
}

/// Why the lineages of an offer cannot be accepted (yet).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineageRefusal {
    /// These objects are neither in the offer nor held here: ask the sender for them.
    Missing(Vec<Digest>),
    /// A lineage does not verify: the input whose lineage failed (when one input is to
    /// blame), and why, for people.
    Invalid {
        /// The input named in the signed refusal.
        parcel: Option<dsm_core::parcel::ParcelId>,
        /// Why.
        why: String,
    },
}

/// Objects up to this many bytes ride inside a session offer; larger lineages are asked
/// for ([`crate::message::Want`]), so a receiver that holds them is not sent them again.
pub const INLINE_OBJECTS: usize = 8 * 1024;

/// The most object bytes one [`crate::message::Objects`] message carries.
pub const OBJECTS_PER_MESSAGE: usize = crate::message::MAX_MESSAGE_LEN - 16 * 1024;

/// An offer waiting for the objects its receiver asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Parked {
    offer: Offer,
    resumed: bool,
    wanted: Vec<Digest>,
}

/// Why a session ended without finishing. Every variant leaves the ledger in a committed,
/// consistent state; a pending proposal (if any) is resolved by the next session.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum SessionError {
    /// The peer speaks another protocol version.
    #[error("the peer speaks session protocol version {0}, this device speaks {PROTOCOL_VERSION}")]
    Version(u64),
    /// The peer is not the device this session was opened for.
    #[error("the peer is device {found}, not the expected {expected}")]
    WrongPeer {
        /// Who we expected.
        expected: DeviceId,
        /// Who answered.
        found: DeviceId,
    },
    /// The peer's hello was meant for another device.
    #[error("the peer's hello is addressed to another device")]
    NotForMe,
    /// The peer is a known equivocator.
    #[error("device {0} is a known equivocator; this device refuses it forever")]
    Equivocator(DeviceId),
    /// A message arrived that the current phase does not expect.
    #[error("unexpected {got} while {phase}")]
    Unexpected {
        /// The message's name.
        got: &'static str,
        /// What the session was doing.
        phase: &'static str,
    },
    /// The two devices disagree on their relationship tip and no pending proposal explains
    /// it (one of them lost state, or equivocated).
    #[error("the peer's relationship tip {theirs} differs from ours {ours}; the relationship needs recovery")]
    TipMismatch {
        /// Our tip.
        ours: TipDigest,
        /// Theirs.
        theirs: TipDigest,
    },
    /// A proposal or acceptance from the peer failed the acceptance predicate.
    #[error("the peer's message was refused: {0}")]
    Invalid(#[from] ReceiptError),
    /// The peer refused our proposal; the amount stays pending on this relationship and
    /// is offered again at the next session with this peer.
    #[error(
        "the peer refused the transfer ({0:?}); it stays pending and is offered again next time"
    )]
    Refused(RefusalCode),
    /// This device could not build its own message (e.g. insufficient funds).
    #[error("{0}")]
    Build(#[from] BuildError),
    /// The ledger could not commit; nothing was sent.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The peer's pending proposal to us cannot be accepted (its tip is not ours: the two
    /// devices crossed proposals or one lost state); the relationship needs recovery.
    #[error(
        "the peer's pending transfer to us cannot be accepted; the relationship needs recovery"
    )]
    PendingNotAcceptable,
    /// The peer closed the session before it was complete (it refused this device, or it
    /// failed on its side).
    #[error(
        "the peer ended the session while {phase} (it refused this device or failed on its side)"
    )]
    PeerEnded {
        /// What this side was doing.
        phase: &'static str,
    },
    /// The session already ended.
    #[error("the session is over")]
    Over,
    /// A transfer to this peer is still pending (modal lock): it must be accepted or
    /// refused before another one to the same peer can be made.
    #[error("a transfer to device {0} is still pending; it must be answered first (run `dsm sync`, or meet the peer offline)")]
    Locked(DeviceId),
    /// As many online transfers to this peer as may queue (`MAX_QUEUE`, PROTOCOL.md §7.7)
    /// are waiting for their answers already.
    #[error("{1} transfers to device {0} are already waiting for their answers, as many as may queue; run `dsm sync` after the peer answered")]
    QueueFull(DeviceId, usize),
    /// Our transfer to this peer lost a crossing and was released: the peer's winning
    /// transfer must be answered before another one to it is made (PROTOCOL.md §7.6).
    #[error("device {0}'s transfer to this device crossed ours and won; it must be answered first (run `dsm sync`, or meet the peer offline)")]
    WinnerFirst(DeviceId),
}

/// Which side of the session this device plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Opens the session and pays.
    Dialer,
    /// Answers the session and is paid.
    Listener,
}

/// Where a session stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Not started (dialer) / waiting for the dialer's hello (listener).
    Start,
    /// Dialer: waiting for the listener's hello.
    AwaitHello,
    /// Waiting for the acceptance of our pending proposal from an earlier session.
    AwaitPendingAcceptance,
    /// Dialer: waiting for the acceptance of the proposal just sent.
    AwaitAcceptance,
    /// Listener: waiting for proposals or close.
    AwaitProposal,
    /// Finished normally.
    Done,
    /// Ended with an error; see [`Session::error`].
    Failed,
}

impl Phase {
    fn describe(&self) -> &'static str {
        match self {
            Phase::Start => "starting",
            Phase::AwaitHello => "waiting for the peer's hello",
            Phase::AwaitPendingAcceptance => "waiting for the acceptance of the pending transfer",
            Phase::AwaitAcceptance => "waiting for an acceptance",
            Phase::AwaitProposal => "waiting for a proposal",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// A transfer this session completed or received, for the caller's report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Completed {
    /// The receipt (both signatures).
    pub receipt: Receipt,
    /// True if this device paid; false if it was paid.
    pub outgoing: bool,
    /// True if the transfer had been left pending by an earlier session.
    pub resumed: bool,
}

/// Why a receiver signed a refusal: the `reason` field of a `Refusal` (PROTOCOL.md §12.3).
/// One table for every wallet, so a code never means two things.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The transfer is over the receiver's per-transfer limit.
    OverLimit,
    /// The receiver does not hold the token's policy.
    UnknownToken,
    /// The token's policy forbids this transfer (soulbound, allowlist).
    TokenRules,
    /// The receiver cannot hold the credit (its balance would overflow, or it holds the
    /// maximum number of tokens). The session itself decides this one.
    CannotHold,
    /// Accepting would put the receiver over its limit of value received and not yet
    /// settled, from this counterparty or in total (PROTOCOL.md §8.4).
    OverExposure,
    /// The lineage of a parcel paid does not trace back to a source of value this
    /// receiver accepts (PROTOCOL.md §5.6): counterfeit, an unknown source, or not shipped.
    Lineage,
    /// The proposal crossed the receiver's own pending proposal to the sender and lost the
    /// tie-break (PROTOCOL.md §7.6): its amount goes back, and the receiver's proposal is
    /// answered next. Send it again afterwards.
    Crossed,
    /// The proposal is queued behind one the receiver refused (PROTOCOL.md §7.7): it can
    /// never be accepted, so its amount goes back. Send it again afterwards.
    Behind,
}

impl RefusalReason {
    /// Every reason, in code order.
    pub const ALL: [RefusalReason; 8] = [
        RefusalReason::OverLimit,
        RefusalReason::UnknownToken,
        RefusalReason::TokenRules,
        RefusalReason::CannotHold,
        RefusalReason::OverExposure,
        RefusalReason::Lineage,
        RefusalReason::Crossed,
        RefusalReason::Behind,
    ];

    /// The wire code.
    pub const fn code(self) -> u64 {
        match self {
            RefusalReason::OverLimit => 1,
            RefusalReason::UnknownToken => 2,
            RefusalReason::TokenRules => 3,
            RefusalReason::CannotHold => 4,
            RefusalReason::OverExposure => 5,
            RefusalReason::Lineage => 6,
            RefusalReason::Crossed => 7,
            RefusalReason::Behind => 8,
        }
    }

    /// The reason with this wire code (`None` for a code this version does not know; a
    /// refusal is valid whatever its reason).
    pub fn from_code(code: u64) -> Option<RefusalReason> {
        RefusalReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What it means, for people.
    pub const fn describe(self) -> &'static str {
        match self {
            RefusalReason::OverLimit => "over the receiver's per-transfer limit",
            RefusalReason::UnknownToken => "the receiver does not hold this token's policy",
            RefusalReason::TokenRules => "the token's policy forbids this transfer",
            RefusalReason::CannotHold => "the receiver cannot hold the credit",
            RefusalReason::OverExposure => {
                "the receiver holds too much unsettled value (from you, or in total); retry after it syncs"
            }
            RefusalReason::Lineage => {
                "the value paid does not trace back to a source the receiver accepts"
            }
            RefusalReason::Crossed => {
                "it crossed a transfer the other way, which goes first; send it again"
            }
            RefusalReason::Behind => {
                "it was queued behind a transfer the receiver refused; send it again"
            }
        }
    }
}

/// A transfer that ended in a signed refusal in this session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Refused {
    /// The refused proposal.
    pub proposal: SignedProposal,
    /// The receiver's signed refusal.
    pub refusal: SignedRefusal,
    /// True if it was our proposal (and we took the amount back); false if we refused.
    pub outgoing: bool,
}

/// One bilateral session. Feed it every decoded message from the peer with
/// [`Session::handle`] and send what it returns, in order.
///
/// A session is plain data: cloning it and hashing it is how the model checker (`model/`)
/// explores every interleaving with the real code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Session {
    role: Role,
    phase: Phase,
    /// The peer, known from the start for the dialer, from its hello for the listener.
    peer: Option<DeviceId>,
    /// Transfers still to propose (dialer).
    queue: std::collections::VecDeque<(TokenId, Amount)>,
    /// Our proposal waiting for its acceptance (pending from before, or just sent).
    in_flight: Option<VerifiedProposal>,
    /// Our pending proposal was offered in our hello.
    in_flight_resumed: bool,
    /// The tip the peer will hold once everything pending is resolved (dialer).
    peer_tip: Option<TipDigest>,
    /// The listener's pending proposal to us and the tip it announced, answered once our
    /// own pending proposal is resolved (dialer).
    peer_pending: Option<(Offer, TipDigest)>,
    /// Listener: an offer whose missing lineage objects we asked for.
    parked: Option<Parked>,
    /// Dialer: the queued proposals (PROTOCOL.md §7.7) offered in this session, so that
    /// each is offered once.
    offered: Vec<Digest>,
    completed: Vec<Completed>,
    refused: Vec<Refused>,
    error: Option<SessionError>,
}

impl Session {
    /// A session that pays `peer` the given transfers, in order (may be empty: then it only
    /// resolves what is pending between the two devices).
    pub fn dialer(peer: DeviceId, transfers: Vec<(TokenId, Amount)>) -> Session {
        Session::new(Role::Dialer, Some(peer), transfers)
    }

    /// A session that answers whoever dials.
    pub fn listener() -> Session {
        Session::new(Role::Listener, None, Vec::new())
    }

    pub(crate) fn new(
        role: Role,
        peer: Option<DeviceId>,
        transfers: Vec<(TokenId, Amount)>,
    ) -> Session {
        Session {
            role,
            phase: Phase::Start,
            peer,
            queue: transfers.into(),
            in_flight: None,
            in_flight_resumed: false,
            peer_tip: None,
            peer_pending: None,
            parked: None,
            offered: Vec::new(),
            completed: Vec::new(),
            refused: Vec::new(),
            error: None,
        }
    }

    /// A session that only waits for the answer to `pending`, our proposal to `peer`
    /// (used by unilateral delivery, which has no hello).
    pub(crate) fn awaiting(peer: DeviceId, pending: VerifiedProposal) -> Session {
        let mut s = Session::new(Role::Dialer, Some(peer), Vec::new());
        s.in_flight = Some(pending);
        s.phase = Phase::AwaitPendingAcceptance;
        s
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Where the session stands.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }
    /// The peer, once known.
    pub fn peer(&self) -> Option<&DeviceId> {
        self.peer.as_ref()
    }
    /// True once the session is [`Phase::Done`] or [`Phase::Failed`].
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed)
    }
    /// The error that ended the session, if it failed.
    pub fn error(&self) -> Option<&SessionError> {
        self.error.as_ref()
    }
    /// Transfers committed by this device in this session, in order.
    pub fn completed(&self) -> &[Completed] {
        &self.completed
    }
    /// Transfers that ended in a signed refusal, in order.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }
    /// Transfers not yet proposed (dialer), e.g. after a failure.
    pub fn remaining(&self) -> usize {
        self.queue.len()
    }

    /// Dialer: the opening hello. (The listener does not call this.)
    pub fn start(&mut self, ledger: &mut dyn Ledger) -> Result<Vec<SessionMessage>, SessionError> {
        if self.role != Role::Dialer || self.phase != Phase::Start {
            return self.fail(SessionError::Unexpected {
                got: "start",
                phase: self.phase.describe(),
            });
        }
        let Some(peer) = self.peer else {
            return self.fail(SessionError::NotForMe);
        };
        let result = self.hello(ledger, &peer).map(|(hello, pending)| {
            self.offered.extend(pending.as_ref().map(|vp| *vp.commit()));
            self.in_flight = pending;
            self.in_flight_resumed = self.in_flight.is_some();
            vec![SessionMessage::Hello(Box::new(hello))]
        });
        match result {
            Ok(out) => {
                self.phase = Phase::AwaitHello;
                Ok(out)
            }
            Err(e) => self.fail(e),
        }
    }

    /// Handles one message from the peer; returns the messages to send, in order. After an
    /// error the session is [`Phase::Failed`] and every later call returns [`SessionError::Over`].
    pub fn handle(
        &mut self,
        msg: SessionMessage,
        ledger: &mut dyn Ledger,
    ) -> Result<Vec<SessionMessage>, SessionError> {
        if self.is_over() {
            return Err(SessionError::Over);
        }
        match self.step(msg, ledger) {
            Ok(out) => Ok(out),
            Err(e) => self.fail(e),
        }
    }

    /// Ends the session from outside (the transport closed or timed out). Committed state
    /// is untouched; anything pending is resolved by the next session.
    pub fn abort(&mut self, why: SessionError) {
        if !self.is_over() {
            self.phase = Phase::Failed;
            self.error = Some(why);
        }
    }

    fn fail<T>(&mut self, e: SessionError) -> Result<T, SessionError> {
        self.phase = Phase::Failed;
        self.error = Some(e.clone());
        Err(e)
    }

    fn hello(
        &self,
        ledger: &dyn Ledger,
        peer: &DeviceId,
    ) -> Result<(Hello, Option<VerifiedProposal>), SessionError> {
        let me = ledger.identity().device_id();
        let rel = RelationshipKey::between(&me, peer);
        let tip = ledger
            .tree()
            .get(rel.as_bytes())
            .map(TipDigest)
            .unwrap_or_else(|| rel.genesis_tip());
        // The oldest of our queue to the peer; a dialer offers the rest once it is answered.
        let pending = match ledger.pending_to(peer)?.into_iter().next() {
            // The listener may ask the dialer for missing objects; the dialer answers the
            // listener's pending without a conversation, so that one carries every object.
            Some(p) => {
                let budget = match self.role {
                    Role::Dialer => INLINE_OBJECTS,
                    Role::Listener => dsm_core::receipt::MAX_OFFER_LEN,
                };
                Some(ledger.offer(&p, budget)?)
            }
            None => None,
        };
        // Our own signature needs no re-check, but the proposal is re-derived from stored
        // bytes: run the stateless checks so a damaged store cannot make us send garbage.
        let verified = match &pending {
            Some(o) => Some(verify_proposal(&o.signed, &dsm_core::receipt::EmptyView)?),
            None => None,
        };
        let witnessed = ledger.gossip(&[me, *peer], MAX_WITNESSED)?;
        let forks = ledger.gossip_forks(&[me, *peer], MAX_GOSSIPED_FORKS)?;
        let hello = Hello {
            version: PROTOCOL_VERSION,
            identity: ledger.identity().clone(),
            peer: *peer,
            tip,
            pending,
            witnessed,
            forks,
        };
        Ok((hello, verified))
    }

    pub(crate) fn check_hello(
        &self,
        hello: &Hello,
        ledger: &mut dyn Ledger,
    ) -> Result<DeviceId, SessionError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(SessionError::Version(hello.version));
        }
        let me = ledger.identity().device_id();
        if hello.peer != me {
            return Err(SessionError::NotForMe);
        }
        let them = hello.identity.device_id();
        if let Some(expected) = self.peer {
            if expected != them {
                return Err(SessionError::WrongPeer {
                    expected,
                    found: them,
                });
            }
        }
        if them == me {
            return Err(SessionError::NotForMe);
        }
        for w in &hello.witnessed {
            ledger.witness(w)?;
        }
        for f in &hello.forks {
            ledger.learn_fork(f)?;
        }
        if ledger.view().is_equivocator(&them)? {
            return Err(SessionError::Equivocator(them));
        }
        ledger.note_peer(&hello.identity)?;
        Ok(them)
    }

    /// Verifies a proposal addressed to us and returns our acceptance: the stored one if we
    /// accepted it before (idempotent), else a new one, committed before it is returned.
    /// `may_ask`: missing lineage objects are asked for (the offer is parked until they
    /// come) rather than refused.
    pub(crate) fn answer_proposal(
        &mut self,
        offer: &Offer,
        resumed: bool,
        may_ask: bool,
        ledger: &mut dyn Ledger,
    ) -> Result<SessionMessage, SessionError> {
        let p = &offer.signed;
        let me = ledger.identity().device_id();
        let commit = p.proposal.commit();
        if p.proposal.step.receiver != me || Some(p.proposal.step.sender) != self.peer {
            return Err(SessionError::NotForMe);
        }
        if let Some(stored) = ledger.acceptance_for(&commit)? {
            return Ok(SessionMessage::Acceptance(Box::new(stored)));
        }
        if let Some(stored) = ledger.refusal_for(&commit)? {
            return Ok(SessionMessage::SignedRefusal(Box::new(stored)));
        }
        let verified = match verify_proposal(p, ledger.view()) {
            Ok(v) => v,
            Err(ReceiptError::Equivocator(_)) => {
                return Ok(refuse_now(commit, RefusalCode::Equivocator))
            }
            Err(ReceiptError::HeadConsumed { .. } | ReceiptError::TipConsumed { .. }) => {
                // A second successor of a head we saw: with the first, Tripwire evidence.
                ledger.witness(p)?;
                return Ok(refuse_now(commit, RefusalCode::Equivocator));
            }
            Err(_) => return Ok(refuse_now(commit, RefusalCode::Invalid)),
        };
        // Queued behind a step we refused (PROTOCOL.md §7.7): it can never be accepted.
        let step = &p.proposal.step;
        if let Some(behind) = ledger.refused_behind(&step.relationship, &step.parent_tip)? {
            return self.refuse_behind(offer, &verified, &behind, ledger);
        }
        // A crossing (PROTOCOL.md §7.6): our own proposal to the sender left the same tip.
        let crossing = match crossing_for(&p.proposal.step, ledger)? {
            CrossingState::None => None,
            CrossingState::Lost(own) => {
                return self.refuse_proposal(
                    offer,
                    &verified,
                    RefusalReason::Crossed,
                    None,
                    Some(&own),
                    ledger,
                )
            }
            // Ours lost: it is released first (the sender refuses it), then this is answered.
            CrossingState::Wait => return Ok(refuse_now(commit, RefusalCode::Busy)),
            CrossingState::Won(own) => Some(own),
        };
        let crossing = crossing.as_ref();
        if let Some(reason) = ledger.refusal_reason(&verified) {
            return self.refuse_proposal(offer, &verified, reason, None, crossing, ledger);
        }
        // Provenance: every input's lineage back to a source, before anything is signed.
        let lineages = match ledger.check_offer(offer)? {
            Ok(l) => l,
            Err(LineageRefusal::Missing(wanted)) if may_ask => {
                let wanted: Vec<Digest> = wanted
                    .into_iter()
                    .take(crate::message::MAX_WANTED)
                    .collect();
                self.parked = Some(Parked {
                    offer: offer.clone(),
                    resumed,
                    wanted: wanted.clone(),
                });
                return Ok(SessionMessage::Want(Box::new(crate::message::Want {
                    proposal_commit: commit,
                    addresses: wanted,
                })));
            }
            Err(LineageRefusal::Invalid { parcel, .. }) => {
                return self.refuse_proposal(
                    offer,
                    &verified,
                    RefusalReason::Lineage,
                    parcel,
                    crossing,
                    ledger,
                )
            }
            // Missing objects the sender cannot be asked for (a b0x item, a pending offer
            // that must carry everything): no input is to blame in particular.
            Err(LineageRefusal::Missing(_)) => {
                return self.refuse_proposal(
                    offer,
                    &verified,
                    RefusalReason::Lineage,
                    None,
                    crossing,
                    ledger,
                )
            }
        };
        let rnd = ledger.random();
        let built = match accept_crossed(&local(ledger), &verified, &lineages, crossing, &rnd) {
            Ok(b) => b,
            // A credit this device can never take (its token list is full, the balance would
            // overflow) gets a signed refusal, so the sender is not locked forever.
            Err(BuildError::Refused(ReceiptError::Balance { .. })) => {
                return self.refuse_proposal(
                    offer,
                    &verified,
                    RefusalReason::CannotHold,
                    None,
                    crossing,
                    ledger,
                )
            }
            Err(BuildError::Refused(_)) => return Ok(refuse_now(commit, RefusalCode::Busy)),
            Err(e) => return Err(e.into()),
        };
        match ledger.commit_credit(&built, offer, &lineages) {
            Ok(()) => {}
            Err(LedgerError::HeadMoved) => return Ok(refuse_now(commit, RefusalCode::Busy)),
            Err(e) => return Err(e.into()),
        }
        self.completed.push(Completed {
            receipt: built.receipt.clone(),
            outgoing: false,
            resumed,
        });
        Ok(SessionMessage::Acceptance(Box::new(
            built.receipt.acceptance,
        )))
    }

    /// Signs, commits and returns a refusal of a verified proposal addressed to us (naming
    /// `input`, the input whose lineage failed, for a lineage refusal, and `crossing`, our
    /// own step that crossed it).
    fn refuse_proposal(
        &mut self,
        offer: &Offer,
        verified: &VerifiedProposal,
        reason: RefusalReason,
        input: Option<dsm_core::parcel::ParcelId>,
        crossing: Option<&RelationshipStep>,
        ledger: &mut dyn Ledger,
    ) -> Result<SessionMessage, SessionError> {
        let rnd = ledger.random();
        let built = refuse_crossed(
            &local(ledger),
            verified,
            reason.code(),
            input,
            crossing,
            &rnd,
        );
        self.commit_refusal(offer, verified, built, ledger)
    }

    /// Signs, commits and returns a refusal of a verified proposal queued behind `behind`,
    /// steps of its sender this device refused (PROTOCOL.md §7.7).
    fn refuse_behind(
        &mut self,
        offer: &Offer,
        verified: &VerifiedProposal,
        behind: &[RelationshipStep],
        ledger: &mut dyn Ledger,
    ) -> Result<SessionMessage, SessionError> {
        let rnd = ledger.random();
        let built = refuse_queued(
            &local(ledger),
            verified,
            RefusalReason::Behind.code(),
            behind,
            &rnd,
        );
        // Longer than a queue can be: no refusal will ever hold.
        if let Err(BuildError::Refused(ReceiptError::Queue(_))) = built {
            return Ok(refuse_now(*verified.commit(), RefusalCode::Invalid));
        }
        self.commit_refusal(offer, verified, built, ledger)
    }

    /// Commits a refusal just built and returns it: BUSY (nothing changed) when it could
    /// not be built from the current leaf or the head moved meanwhile.
    fn commit_refusal(
        &mut self,
        offer: &Offer,
        verified: &VerifiedProposal,
        built: Result<BuiltRefusal, BuildError>,
        ledger: &mut dyn Ledger,
    ) -> Result<SessionMessage, SessionError> {
        let busy = || Ok(refuse_now(*verified.commit(), RefusalCode::Busy));
        let built = match built {
            Ok(b) => b,
            Err(BuildError::Refused(_)) => return busy(),
            Err(e) => return Err(e.into()),
        };
        match ledger.commit_refusal(offer, &built) {
            Ok(()) => {}
            Err(LedgerError::HeadMoved) => return busy(),
            Err(e) => return Err(e.into()),
        }
        self.refused.push(Refused {
            proposal: offer.signed.clone(),
            refusal: built.signed.clone(),
            outgoing: false,
        });
        Ok(SessionMessage::SignedRefusal(Box::new(built.signed)))
    }

    /// Checks the acceptance of our in-flight proposal and stitches it.
    pub(crate) fn take_acceptance(
        &mut self,
        a: &SignedAcceptance,
        ledger: &mut dyn Ledger,
    ) -> Result<(), SessionError> {
        let vp = self.in_flight.take().ok_or(SessionError::Unexpected {
            got: "acceptance",
            phase: "with no proposal in flight",
        })?;
        if a.acceptance.proposal_commit != *vp.commit() {
            self.in_flight = Some(vp);
            return Err(SessionError::Invalid(ReceiptError::NotAdjacent {
                party: dsm_core::receipt::Party::Receiver,
                reason: "acceptance names another proposal",
            }));
        }
        let verified = match verify_acceptance(&vp, a, ledger.view()) {
            Ok(v) => v,
            Err(e) => {
                self.in_flight = Some(vp);
                return Err(e.into());
            }
        };
        if let Err(e) = ledger.commit_stitch(verified.receipt()) {
            self.in_flight = Some(vp);
            return Err(e.into());
        }
        self.completed.push(Completed {
            receipt: verified.receipt().clone(),
            outgoing: true,
            resumed: self.in_flight_resumed,
        });
        self.in_flight_resumed = false;
        Ok(())
    }

    /// Checks a signed refusal of our in-flight proposal and takes the amount back.
    pub(crate) fn take_refusal(
        &mut self,
        r: &SignedRefusal,
        ledger: &mut dyn Ledger,
    ) -> Result<(), SessionError> {
        let vp = self.in_flight.take().ok_or(SessionError::Unexpected {
            got: "signed refusal",
            phase: "with no proposal in flight",
        })?;
        let result = (|| {
            let verified = verify_refusal(&vp, r, ledger.view())?;
            let built = if r.refusal.behind.is_empty() {
                // The steps we queued after it are released with it (PROTOCOL.md §7.7).
                let after = queued_after(ledger, vp.signed())?;
                release_queued(&local(ledger), &verified, &after)?
            } else {
                release(&local(ledger), &verified)?
            };
            ledger.commit_release(&verified, &built)?;
            Ok::<_, SessionError>(())
        })();
        if let Err(e) = result {
            self.in_flight = Some(vp);
            return Err(e);
        }
        self.refused.push(Refused {
            proposal: vp.signed().clone(),
            refusal: r.clone(),
            outgoing: true,
        });
        self.in_flight_resumed = false;
        Ok(())
    }

    fn answers_in_flight(&self, commit: &Digest) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|vp| vp.commit() == commit)
    }

    /// Dialer whose pending proposal the listener could not answer (`Busy`): when the
    /// listener's own pending proposal crossed ours and lost (PROTOCOL.md §7.6), the
    /// listener waits for us. We refuse its proposal, then offer ours again, which it can
    /// now accept. `None` when that is not the case.
    fn resolve_crossing(
        &mut self,
        code: RefusalCode,
        ledger: &mut dyn Ledger,
    ) -> Result<Option<Vec<SessionMessage>>, SessionError> {
        let (Some(vp), Some((theirs, _))) = (&self.in_flight, &self.peer_pending) else {
            return Ok(None);
        };
        let ours = &vp.signed().proposal.step;
        let step = &theirs.signed.proposal.step;
        if code != RefusalCode::Busy
            || self.phase != Phase::AwaitPendingAcceptance
            || !crossed(step, ours)
            || wins_crossing(step, ours)
        {
            return Ok(None);
        }
        let theirs = theirs.clone();
        let signed = vp.signed().clone();
        self.peer_pending = None;
        let answer = self.answer_proposal(&theirs, true, false, ledger)?;
        if !matches!(answer, SessionMessage::SignedRefusal(_)) {
            return Ok(None);
        }
        let offer = ledger.offer(&signed, INLINE_OBJECTS)?;
        self.phase = Phase::AwaitAcceptance;
        Ok(Some(vec![
            answer,
            SessionMessage::Proposal(Box::new(offer)),
        ]))
    }

    /// Dialer, its pending proposal answered: offer the next of our queue to the peer not
    /// offered in this session yet (PROTOCOL.md §7.7), else go on to the listener's pending
    /// proposal and our new transfers.
    fn offer_queued_then_go_on(
        &mut self,
        ledger: &mut dyn Ledger,
    ) -> Result<Vec<SessionMessage>, SessionError> {
        let peer = self.peer.ok_or(SessionError::Unexpected {
            got: "answer",
            phase: "without a peer",
        })?;
        let next = ledger
            .pending_to(&peer)?
            .into_iter()
            .find(|p| !self.offered.contains(&p.proposal.commit()));
        let Some(next) = next else {
            return self.answer_peer_pending_then_propose(ledger);
        };
        let offer = ledger.offer(&next, INLINE_OBJECTS)?;
        // Re-derived from stored bytes: the stateless checks guard against a damaged store.
        let vp = verify_proposal(&offer.signed, &dsm_core::receipt::EmptyView)?;
        self.offered.push(*vp.commit());
        self.in_flight = Some(vp);
        self.in_flight_resumed = true;
        self.phase = Phase::AwaitPendingAcceptance;
        Ok(vec![SessionMessage::Proposal(Box::new(offer))])
    }

    /// Dialer: answer the listener's pending proposal (if it had one), then propose.
    fn answer_peer_pending_then_propose(
        &mut self,
        ledger: &mut dyn Ledger,
    ) -> Result<Vec<SessionMessage>, SessionError> {
        let mut out = Vec::new();
        if let Some((p, announced)) = self.peer_pending.take() {
            // The listener is locked on a proposal to us: answering it is what lets both
            // relationship tips meet again (its tree already holds that child tip; after
            // our signed refusal it moves to the release tip).
            let answer = self.answer_proposal(&p, true, false, ledger)?;
            match &answer {
                SessionMessage::Refusal(_) => {
                    // Close too: the listener takes the refusal and would otherwise wait
                    // for a proposal that never comes (found by the model checker).
                    out.push(answer);
                    out.push(SessionMessage::Close(Close));
                    self.phase = Phase::Failed;
                    self.error = Some(SessionError::PendingNotAcceptable);
                    return Ok(out);
                }
                // Our refusal: the listener releases its step, its leaf going to the
                // step's release tip — unless we refused it behind a refused step, which
                // leaves the leaf where it announced it (PROTOCOL.md §7.7), as does our
                // acceptance.
                SessionMessage::SignedRefusal(r) if r.refusal.behind.is_empty() => {
                    self.peer_tip = Some(release_tip(&p.signed.proposal.step.child_tip()))
                }
                _ => self.peer_tip = Some(announced),
            }
            out.push(answer);
        }
        match self.propose_next(ledger) {
            Ok(more) => {
                out.extend(more);
                Ok(out)
            }
            // The answer above is committed: it must still reach the peer (else its
            // pending proposal waits for the next session), so send it, then end.
            Err(e) if !out.is_empty() => {
                out.push(SessionMessage::Close(Close));
                self.phase = Phase::Failed;
                self.error = Some(e);
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    /// Dialer, once everything pending is resolved: check tips agree, then propose the next
    /// transfer or close.
    fn propose_next(
        &mut self,
        ledger: &mut dyn Ledger,
    ) -> Result<Vec<SessionMessage>, SessionError> {
        let peer = self.peer.ok_or(SessionError::Unexpected {
            got: "proposal turn",
            phase: "without a peer",
        })?;
        let me = ledger.identity().device_id();
        let rel = RelationshipKey::between(&me, &peer);
        let ours = ledger
            .tree()
            .get(rel.as_bytes())
            .map(TipDigest)
            .unwrap_or_else(|| rel.genesis_tip());
        if let Some(theirs) = self.peer_tip.take() {
            if theirs != ours {
                return Err(SessionError::TipMismatch { ours, theirs });
            }
        }
        let Some((token, amount)) = self.queue.pop_front() else {
            self.phase = Phase::Done;
            return Ok(vec![SessionMessage::Close(Close)]);
        };
        // Modal lock, checked again at the moment of the debit: another session with the
        // same peer (e.g. a concurrent one on another transport) may have left a proposal
        // pending since our hello. A second debit would chain on that unanswered tip and
        // replace its pending record, so the first amount could no longer be resolved.
        if !ledger.pending_to(&peer)?.is_empty() {
            self.queue.push_front((token, amount));
            return Err(SessionError::Locked(peer));
        }
        let built = propose_with(ledger, &peer, token, amount, INLINE_OBJECTS);
        let (built, offer) = match built {
            Ok(b) => b,
            Err(e) => {
                self.queue.push_front((token, amount));
                return Err(e);
            }
        };
        if let Err(e) = ledger.commit_debit(&built, &offer) {
            // Never revealed: discarding this signature cannot equivocate.
            self.queue.push_front((token, amount));
            return Err(e.into());
        }
        // From here on the peer's tip must be the child tip after each acceptance; the
        // verify of the acceptance checks exactly that.
        self.in_flight = Some(own_proposal(&built));
        self.phase = Phase::AwaitAcceptance;
        Ok(vec![SessionMessage::Proposal(Box::new(offer))])
    }

    fn step(
        &mut self,
        msg: SessionMessage,
        ledger: &mut dyn Ledger,
    ) -> Result<Vec<SessionMessage>, SessionError> {
        // A repeated answer to something already settled is ignored, whatever the phase.
        match &msg {
            SessionMessage::Acceptance(a)
                if !self.answers_in_flight(&a.acceptance.proposal_commit)
                    && ledger.is_stitched(&a.acceptance.proposal_commit)? =>
            {
                return Ok(vec![])
            }
            SessionMessage::SignedRefusal(r)
                if !self.answers_in_flight(&r.refusal.proposal_commit)
                    && ledger.refusal_for(&r.refusal.proposal_commit)?.is_some() =>
            {
                return Ok(vec![])
            }
            _ => {}
        }
        let phase = self.phase.describe();
        let unexpected = |m: &SessionMessage| SessionError::Unexpected {
            got: m.name(),
            phase,
        };
        match (self.role, &self.phase, msg) {
            // ---- listener
            (Role::Listener, Phase::Start, SessionMessage::Hello(h)) => {
                let them = self.check_hello(&h, ledger)?;
                self.peer = Some(them);
                let (mine, my_pending) = self.hello(ledger, &them)?;
                let mut out = vec![SessionMessage::Hello(Box::new(mine))];
                if let Some(p) = &h.pending {
                    out.push(self.answer_proposal(p, true, true, ledger)?);
                }
                self.in_flight_resumed = my_pending.is_some();
                self.phase = if my_pending.is_some() {
                    Phase::AwaitPendingAcceptance
                } else {
                    Phase::AwaitProposal
                };
                self.in_flight = my_pending;
                Ok(out)
            }
            (Role::Listener, Phase::AwaitPendingAcceptance, SessionMessage::Acceptance(a))
                if self.answers_in_flight(&a.acceptance.proposal_commit) =>
            {
                self.take_acceptance(&a, ledger)?;
                self.phase = Phase::AwaitProposal;
                Ok(vec![])
            }
            (Role::Listener, Phase::AwaitPendingAcceptance, SessionMessage::Refusal(r))
                if self.answers_in_flight(&r.proposal_commit) =>
            {
                // The dialer cannot take our pending proposal now; it stays pending.
                self.in_flight = None;
                self.phase = Phase::AwaitProposal;
                Ok(vec![])
            }
            (Role::Listener, Phase::AwaitPendingAcceptance, SessionMessage::SignedRefusal(r))
                if self.answers_in_flight(&r.refusal.proposal_commit) =>
            {
                self.take_refusal(&r, ledger)?;
                self.phase = Phase::AwaitProposal;
                Ok(vec![])
            }
            // The dialer offers the rest of its queue before it answers our pending proposal.
            (
                Role::Listener,
                Phase::AwaitProposal | Phase::AwaitPendingAcceptance,
                SessionMessage::Proposal(p),
            ) if self.parked.is_none() => Ok(vec![self.answer_proposal(&p, false, true, ledger)?]),
            (
                Role::Listener,
                Phase::AwaitProposal | Phase::AwaitPendingAcceptance,
                SessionMessage::Objects(o),
            ) if self
                .parked
                .as_ref()
                .is_some_and(|k| k.offer.signed.proposal.commit() == o.proposal_commit) =>
            {
                let Some(mut parked) = self.parked.take() else {
                    return Err(unexpected(&SessionMessage::Objects(o)));
                };
                // Keep only what was asked for; ask again only while objects keep coming.
                let mut new = 0usize;
                for obj in o.objects {
                    let a = dsm_core::hash::object_address(&obj);
                    if parked.wanted.binary_search(&a).is_ok()
                        && !parked.offer.objects.contains(&obj)
                    {
                        parked.offer.objects.push(obj);
                        new += 1;
                    }
                }
                parked.offer.objects.sort();
                let answer =
                    self.answer_proposal(&parked.offer, parked.resumed, new > 0, ledger)?;
                Ok(vec![answer])
            }
            (Role::Listener, Phase::AwaitProposal, SessionMessage::Close(_)) => {
                self.phase = Phase::Done;
                Ok(vec![])
            }
            // ---- dialer
            (Role::Dialer, Phase::AwaitHello, SessionMessage::Hello(h)) => {
                self.check_hello(&h, ledger)?;
                if self.in_flight.is_some() {
                    // Our own pending proposal is answered first (the listener's answer follows
                    // its hello); only then can we answer the listener's pending, which may be
                    // built on the tip that answer produces.
                    self.peer_pending = h.pending.clone().map(|p| (p, h.tip));
                    self.peer_tip = None;
                    self.phase = Phase::AwaitPendingAcceptance;
                    return Ok(vec![]);
                }
                self.peer_pending = h.pending.clone().map(|p| (p, h.tip));
                self.peer_tip = Some(h.tip);
                self.answer_peer_pending_then_propose(ledger)
            }
            (Role::Dialer, Phase::AwaitPendingAcceptance, SessionMessage::Acceptance(a))
                if self.answers_in_flight(&a.acceptance.proposal_commit) =>
            {
                self.take_acceptance(&a, ledger)?;
                self.offer_queued_then_go_on(ledger)
            }
            (Role::Dialer, Phase::AwaitPendingAcceptance, SessionMessage::SignedRefusal(r))
                if self.answers_in_flight(&r.refusal.proposal_commit) =>
            {
                self.take_refusal(&r, ledger)?;
                self.offer_queued_then_go_on(ledger)
            }
            (Role::Dialer, Phase::AwaitAcceptance, SessionMessage::Acceptance(a))
                if self.answers_in_flight(&a.acceptance.proposal_commit) =>
            {
                self.take_acceptance(&a, ledger)?;
                self.propose_next(ledger)
            }
            (Role::Dialer, Phase::AwaitAcceptance, SessionMessage::SignedRefusal(r))
                if self.answers_in_flight(&r.refusal.proposal_commit) =>
            {
                self.take_refusal(&r, ledger)?;
                self.propose_next(ledger)
            }
            (
                Role::Dialer,
                Phase::AwaitAcceptance | Phase::AwaitPendingAcceptance,
                SessionMessage::Refusal(r),
            ) => {
                let ours = self.in_flight.as_ref().map(|vp| *vp.commit());
                if Some(r.proposal_commit) != ours {
                    return Err(SessionError::Unexpected {
                        got: "refusal of another proposal",
                        phase,
                    });
                }
                if let Some(out) = self.resolve_crossing(r.code, ledger)? {
                    return Ok(out);
                }
                self.in_flight = None;
                self.phase = Phase::Failed;
                self.error = Some(SessionError::Refused(r.code));
                Ok(vec![SessionMessage::Close(Close)])
            }
            (
                Role::Dialer,
                Phase::AwaitAcceptance | Phase::AwaitPendingAcceptance,
                SessionMessage::Want(w),
            ) if self.answers_in_flight(&w.proposal_commit) => {
                let objects = ledger.lineage_objects(
                    &w.proposal_commit,
                    &w.addresses,
                    OBJECTS_PER_MESSAGE,
                )?;
                Ok(vec![SessionMessage::Objects(Box::new(
                    crate::message::Objects {
                        proposal_commit: w.proposal_commit,
                        objects,
                    },
                ))])
            }
            (_, _, SessionMessage::Close(_)) => Err(SessionError::PeerEnded { phase }),
            (_, _, m) => Err(unexpected(&m)),
        }
    }
}

/// Chooses the inputs, builds and signs a proposal, and builds its offer — all before
/// anything is committed, so a failure changes nothing (the signature is never revealed).
pub(crate) fn propose_with(
    ledger: &mut dyn Ledger,
    peer: &DeviceId,
    token: TokenId,
    amount: Amount,
    object_budget: usize,
) -> Result<(BuiltProposal, Offer), SessionError> {
    if amount == Amount::ZERO {
        return Err(BuildError::Refused(ReceiptError::ZeroAmount).into());
    }
    // After a crossing, the loser's sender answers the winner from the released leaf; a
    // proposal of its own would move that leaf, and then neither side could answer the
    // other (found by the model checker, `model/`: PROTOCOL.md §7.6).
    let relationship =
        dsm_core::chain::RelationshipKey::between(&ledger.identity().device_id(), peer);
    if ledger.winner_to_answer(&relationship)?.is_some() {
        return Err(SessionError::WinnerFirst(*peer));
    }
    let inputs = match ledger.select_inputs(&token, amount) {
        Ok(i) => i,
        // Short of funds: let the builder report it as it always has.
        Err(_) if ledger.head().balances.get(&token) < amount => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let rnd = ledger.random();
    let built = propose(&local(ledger), peer, token, amount, &inputs, &rnd)?;
    let offer = ledger.offer(&built.signed, object_budget)?;
    Ok((built, offer))
}

/// The device's committed state as the core builders take it.
pub(crate) fn local(ledger: &dyn Ledger) -> LocalDevice<'_> {
    LocalDevice {
        identity: ledger.identity(),
        key: ledger.signing_key(),
        head: ledger.head(),
        tree: ledger.tree(),
    }
}

/// Where a proposal addressed to us stands against our own proposals to its sender
/// (PROTOCOL.md §7.6).
pub(crate) enum CrossingState {
    /// No crossing: answered as usual.
    None,
    /// It crossed our pending proposal and lost: refused, naming ours.
    Lost(RelationshipStep),
    /// It crossed our pending proposal and won: answered once ours is refused and released.
    Wait,
    /// It crossed our proposal, which lost and was released: answered naming ours.
    Won(RelationshipStep),
}

pub(crate) fn crossing_for(
    step: &RelationshipStep,
    ledger: &dyn Ledger,
) -> Result<CrossingState, SessionError> {
    // Only one step of our queue can have left the tip `step` left (PROTOCOL.md §7.6).
    let queue = ledger.pending_to(&step.sender)?;
    if let Some(own) = queue
        .into_iter()
        .map(|p| p.proposal.step)
        .find(|own| crossed(step, own))
    {
        return Ok(if wins_crossing(step, &own) {
            CrossingState::Wait
        } else {
            CrossingState::Lost(own)
        });
    }
    match ledger.released_on(&step.relationship)? {
        Some(own) if crossed(step, &own) && wins_crossing(step, &own) => {
            Ok(CrossingState::Won(own))
        }
        _ => Ok(CrossingState::None),
    }
}

/// The steps of our queue to `pending`'s receiver queued after it and built on it, in order:
/// what a plain refusal of `pending` releases with it (PROTOCOL.md §7.7).
pub(crate) fn queued_after(
    ledger: &dyn Ledger,
    pending: &SignedProposal,
) -> Result<Vec<RelationshipStep>, SessionError> {
    let step = &pending.proposal.step;
    let mut tail = step.child_tip();
    let mut after = Vec::new();
    let queue = ledger.pending_to(&step.receiver)?;
    let mut later = queue
        .iter()
        .map(|p| &p.proposal.step)
        .skip_while(|s| *s != step);
    later.next();
    for s in later {
        if s.parent_tip == tail {
            tail = s.child_tip();
            after.push(s.clone());
        }
    }
    Ok(after)
}

fn refuse_now(proposal_commit: Digest, code: RefusalCode) -> SessionMessage {
    SessionMessage::Refusal(Refusal {
        proposal_commit,
        code,
    })
}
