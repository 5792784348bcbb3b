//! Unilateral delivery through a b0x (PROTOCOL.md §16), as sans-IO functions over the same
//! [`Ledger`] and the same checks as the bilateral [`Session`].
//!
//! ```text
//!  sender (online)                b0x of the receiver          receiver (later)
//!  offer: [commit debit] ──────▶  Proposal  ─────────────────▶ answer: verify,
//!                                                               [commit credit | refusal]
//!  take_answer: verify,   ◀──────  Acceptance | SignedRefusal ◀─ (posted to the sender's b0x)
//!  [commit stitch | release]
//! ```
//!
//! The modal lock is the session's: an offered proposal is the sender's *pending* proposal
//! to that peer, so no other transfer to the peer can be made ([`SessionError::Locked`])
//! until it is answered — through the b0x, or offline when the two devices next meet (the
//! pending proposal rides in the hello, and the receiver answers idempotently from storage).

use crate::message::{RefusalCode, SessionMessage};
use crate::session::{Completed, Ledger, Refused, Role, Session, SessionError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{verify_proposal, EmptyView, Offer};

/// Builds, commits and returns a proposal paying `peer` (as an offer, with its inputs'
/// lineages), to be posted to the peer's b0x. Refused while another transfer to `peer` is
/// pending (the modal lock).
pub fn offer(
    ledger: &mut dyn Ledger,
    peer: &DeviceId,
    token: TokenId,
    amount: Amount,
) -> Result<Offer, SessionError> {
    if *peer == ledger.identity().device_id() {
        return Err(SessionError::NotForMe);
    }
    if ledger.view().is_equivocator(peer)? {
        return Err(SessionError::Equivocator(*peer));
    }
    if ledger.pending_to(peer)?.is_some() {
        return Err(SessionError::Locked(*peer));
    }
    // A b0x item is answered without a conversation: it carries every object.
    let (built, offer) = crate::session::propose_with(
        ledger,
        peer,
        token,
        amount,
        dsm_core::receipt::MAX_OFFER_LEN,
    )?;
    if !offer.is_complete() {
        return Err(crate::session::LedgerError::NotAllowed(
            "the lineages of this payment are too large for a b0x item; pay it offline (a session ships them in parts) or from other parcels".into(),
        )
        .into());
    }
    ledger.commit_debit(&built, &offer)?;
    Ok(offer)
}

/// What the receiver did with a delivered proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The reply to post to the sender's b0x: an acceptance or a signed refusal (both
    /// final), or an unsigned refusal (nothing changed here; see [`Answer::retry_later`]).
    pub reply: SessionMessage,
    /// The transfer this call credited (`None` when it was answered before, or refused).
    pub completed: Option<Completed>,
    /// The transfer this call refused with a signed refusal.
    pub refused: Option<Refused>,
}

impl Answer {
    /// True when the proposal could not be answered now but may be later (this device's
    /// head moved under it): keep the item.
    pub fn retry_later(&self) -> bool {
        matches!(&self.reply, SessionMessage::Refusal(r) if r.code == RefusalCode::Busy)
    }

    /// True when the reply is final and signed (worth posting to the sender).
    pub fn is_final(&self) -> bool {
        matches!(
            self.reply,
            SessionMessage::Acceptance(_) | SessionMessage::SignedRefusal(_)
        )
    }
}

/// Answers a proposal found in this device's b0x exactly as a session would answer it: the
/// stored acceptance or refusal if it was answered before (idempotent), else verified and
/// accepted (committed before the reply is returned), or refused with a signed refusal when
/// the ledger's policy says so. Invalid proposals and known equivocators get an unsigned
/// refusal and change nothing.
pub fn answer(ledger: &mut dyn Ledger, proposal: &Offer) -> Result<Answer, SessionError> {
    let sender = proposal.signed.proposal.step.sender;
    let mut s = Session::new(Role::Listener, Some(sender), Vec::new());
    let reply = s.answer_proposal(proposal, false, false, ledger)?;
    Ok(Answer {
        reply,
        completed: s.completed().first().cloned(),
        refused: s.refused().first().cloned(),
    })
}

/// What a reply found in this device's b0x did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The acceptance of our pending proposal: the receipt is complete and stored.
    Stitched(Completed),
    /// The signed refusal of our pending proposal: the amount is back.
    Released(Refused),
    /// It answers something already settled (e.g. answered offline meanwhile): ignored.
    AlreadyDone,
    /// It answers no proposal of ours that is pending: ignored.
    NotPending,
}

/// Takes an acceptance or signed refusal of our pending proposal found in our b0x, with the
/// session's checks: stitched or released, or ignored when already settled.
pub fn take_answer(ledger: &mut dyn Ledger, reply: &SessionMessage) -> Result<Taken, SessionError> {
    let (commit, peer) = match reply {
        SessionMessage::Acceptance(a) => {
            if ledger.is_stitched(&a.acceptance.proposal_commit)? {
                return Ok(Taken::AlreadyDone);
            }
            (
                a.acceptance.proposal_commit,
                a.acceptance.receiver.device_id(),
            )
        }
        SessionMessage::SignedRefusal(r) => {
            if ledger.refusal_for(&r.refusal.proposal_commit)?.is_some() {
                return Ok(Taken::AlreadyDone);
            }
            (r.refusal.proposal_commit, r.refusal.receiver.device_id())
        }
        other => {
            return Err(SessionError::Unexpected {
                got: other.name(),
                phase: "reading answers from the b0x",
            })
        }
    };
    let Some(pending) = ledger.pending_to(&peer)? else {
        return Ok(Taken::NotPending);
    };
    if pending.proposal.commit() != commit {
        return Ok(Taken::NotPending);
    }
    // Our own stored proposal: the stateless checks guard against a damaged store.
    let vp = verify_proposal(&pending, &EmptyView)?;
    let mut s = Session::awaiting(peer, vp);
    if let SessionMessage::Acceptance(a) = reply {
        s.take_acceptance(a, ledger)?;
    } else if let SessionMessage::SignedRefusal(r) = reply {
        s.take_refusal(r, ledger)?;
    }
    Ok(match (s.completed().first(), s.refused().first()) {
        (Some(c), _) => Taken::Stitched(c.clone()),
        (None, Some(r)) => Taken::Released(r.clone()),
        (None, None) => Taken::NotPending,
    })
}
