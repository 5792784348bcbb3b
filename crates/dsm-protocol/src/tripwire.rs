//! Tripwire as a wallet applies it (PROTOCOL.md §8, §12.5, §20.6), sans-IO: which devices
//! are refused and why ([`Refused`]), and what a proposal seen in gossip proves
//! ([`observe`]). The wallet persists the evidence and the witness index; these rules
//! decide what goes into them.

use std::collections::HashSet;

use dsm_core::chain::HeadDigest;
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{verify_proposal, EmptyView, SignedProposal};
use dsm_core::tripwire::{Equivocation, EquivocationProof, Statement};

/// The devices a wallet refuses from now on: each one either signed two successors of one
/// head or spent one parcel twice (it holds a verified [`EquivocationProof`] against it), or
/// was replaced by recovery (it holds a verified tombstone). Both are permanent: a device
/// is never let back in.
#[derive(Clone, Debug, Default)]
pub struct Refused {
    equivocators: HashSet<DeviceId>,
    tombstoned: HashSet<DeviceId>,
}

impl Refused {
    /// Refuses nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses the device a verified proof names (`what`, as [`EquivocationProof::new`] or
    /// [`EquivocationProof::verify`] returned it). Returns whether it was new.
    pub fn equivocated(&mut self, what: &Equivocation) -> bool {
        self.equivocators.insert(what.device())
    }

    /// Refuses a device whose evidence was verified when it was stored (a store re-read
    /// at open). Returns whether it was new.
    pub fn restore_equivocator(&mut self, device: DeviceId) -> bool {
        self.equivocators.insert(device)
    }

    /// Refuses a device a verified succession tombstoned. Returns whether it was new.
    pub fn tombstoned(&mut self, device: DeviceId) -> bool {
        self.tombstoned.insert(device)
    }

    /// Whether evidence against `device` is held.
    pub fn is_equivocator(&self, device: &DeviceId) -> bool {
        self.equivocators.contains(device)
    }

    /// Whether `device` was replaced by recovery.
    pub fn is_tombstoned(&self, device: &DeviceId) -> bool {
        self.tombstoned.contains(device)
    }

    /// Whether `device` is refused for either reason.
    pub fn refuses(&self, device: &DeviceId) -> bool {
        self.is_equivocator(device) || self.is_tombstoned(device)
    }
}

/// What a proposal seen in gossip (or in a hello's `pending`) proves, by [`observe`].
#[derive(Debug)]
pub enum Observation {
    /// Nothing to do: the proposal is the observer's own, its signer is already refused
    /// as an equivocator, or the same head transition is already known.
    Nothing,
    /// It does not verify on its own (signature, encoding, tree proof): gossip proves
    /// nothing unless it verifies, and a forged proposal remembered would block the
    /// genuine successor.
    Unverified,
    /// It verifies. The observer checks its parcel hop against the spends it has seen
    /// (a parcel spent twice is a fork even in a linear chain, PROTOCOL.md §5.6).
    Verified {
        /// No successor of that head is known: remember this one (unless the parcel
        /// check refused its signer).
        first: bool,
        /// A different successor of that head is known and the two form a proof: store
        /// and spread it; the signer is refused from now on.
        fork: Option<(EquivocationProof, Equivocation)>,
    },
}

/// Judges a gossiped proposal. `known` is the child head the observer's witness index
/// holds for the proposal's (sender, parent head), if any, and `first` loads the statement
/// it was recorded from (called only when the two differ; `Ok(None)` if it is gone).
/// Store failures come back as `Err`, never as "nothing known".
pub fn observe<E>(
    own: &DeviceId,
    refused: &Refused,
    proposal: &SignedProposal,
    known: Option<HeadDigest>,
    first: impl FnOnce() -> Result<Option<Statement>, E>,
) -> Result<Observation, E> {
    let device = proposal.proposal.step.sender;
    if device == *own || refused.is_equivocator(&device) {
        return Ok(Observation::Nothing);
    }
    if known == Some(proposal.proposal.sender_child_head.digest()) {
        // Gossip repeats the same proposals in every hello: a repeat costs a lookup.
        return Ok(Observation::Nothing);
    }
    if verify_proposal(proposal, &EmptyView).is_err() {
        return Ok(Observation::Unverified);
    }
    let fork = match known {
        None => None,
        // A recorded statement that forms no proof with this one (one of another kind
        // for the same head, such as an acceptance) proves nothing.
        Some(_) => first()?.and_then(|first| {
            EquivocationProof::new(first, Statement::Proposal(proposal.clone())).ok()
        }),
    };
    Ok(Observation::Verified {
        first: known.is_none(),
        fork,
    })
}
