//! The session wire format: one [`SessionMessage`] per transport frame (PROTOCOL.md §12).
//!
//! Every message is a canonical `dsm.v1.SessionMessage` (strict decoding, size cap first),
//! so a replayed, truncated or corrupted frame is refused before any signature work.

use dsm_core::chain::TipDigest;
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::parcel::ParcelFork;
use dsm_core::receipt::{Offer, SignedAcceptance, SignedProposal, SignedRefusal, MAX_RECEIPT_LEN};

/// The session protocol version this crate speaks. A peer announcing another version is
/// refused with [`crate::session::SessionError::Version`].
pub const PROTOCOL_VERSION: u64 = 1;

/// At most this many third-party proposals are gossiped in one [`Hello`].
pub const MAX_WITNESSED: usize = 8;

/// At most this many parcel forks of hops alone are gossiped in one [`Hello`] (each about
/// 9 KiB with ML-DSA-65, 37 KiB with SLH-DSA; two signature checks each for the receiver).
pub const MAX_GOSSIPED_FORKS: usize = 2;

/// The largest encoded session message: a hello with a pending proposal and
/// [`MAX_WITNESSED`] gossiped ones, all SLH-DSA (about 20 KiB each), fits with room.
pub const MAX_MESSAGE_LEN: usize = 12 * MAX_RECEIPT_LEN / 4;

/// The first message of each side: who I am, who I think you are, where our relationship
/// stands in my tree, and what is still open between us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u64,
    /// The sender of this hello.
    pub identity: DeviceIdentity,
    /// The device this hello is meant for (the dialer names its contact; the listener
    /// echoes the dialer's id). A hello for another device is refused.
    pub peer: DeviceId,
    /// The sender's current tip of the relationship between the two devices.
    pub tip: TipDigest,
    /// The sender's own proposal to `peer` that is still waiting for its acceptance (the
    /// relationship is locked until it arrives). The peer answers it before anything else.
    pub pending: Option<Offer>,
    /// Recent proposals by third devices this sender has accepted or seen, so that two
    /// receivers of a double spend detect it when they meet (Tripwire gossip).
    pub witnessed: Vec<SignedProposal>,
    /// Parcel forks of hops alone this sender holds (evidence whose proposals it never
    /// saw, so the witnessed proposals cannot carry it), so that they spread by gossip.
    pub forks: Vec<ParcelFork>,
}

impl Canonical for Hello {
    const MAX_ENCODED_LEN: usize = MAX_MESSAGE_LEN;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.version);
        w.message(2, &self.identity);
        w.bytes(3, self.peer.as_bytes());
        w.bytes(4, self.tip.as_bytes());
        w.optional_message(5, self.pending.as_ref());
        w.repeated_message(6, &self.witnessed);
        w.repeated_message(7, &self.forks);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Hello {
            version: r.uint(1)?,
            identity: r.message(2)?,
            peer: DeviceId(Digest(r.fixed(3)?)),
            tip: TipDigest(Digest(r.fixed(4)?)),
            pending: r.optional_message(5)?,
            witnessed: r.repeated_message(6, MAX_WITNESSED)?,
            forks: r.repeated_message(7, MAX_GOSSIPED_FORKS)?,
        })
    }
}

/// Why a receiver did not accept a proposal *now*. These refusals are unsigned and
/// informational: the proposal stays pending (the relationship stays locked) and may be
/// offered again. A final "no" is a [`SessionMessage::SignedRefusal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    /// The proposal failed the acceptance predicate.
    Invalid = 1,
    /// The sender is a known equivocator.
    Equivocator = 2,
    /// The receiver's state does not allow it now (its tip or head moved); retry.
    Busy = 3,
    /// The receiver could not store the acceptance.
    StoreFailed = 4,
}

impl RefusalCode {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            1 => RefusalCode::Invalid,
            2 => RefusalCode::Equivocator,
            3 => RefusalCode::Busy,
            4 => RefusalCode::StoreFailed,
            _ => return None,
        })
    }
}

/// "I did not accept the proposal with this commit digest."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// [`dsm_core::receipt::Proposal::commit`] of the refused proposal.
    pub proposal_commit: Digest,
    /// Why.
    pub code: RefusalCode,
}

impl Canonical for Refusal {
    const MAX_ENCODED_LEN: usize = 64;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.proposal_commit.as_bytes());
        w.uint(2, self.code as u64);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let proposal_commit = Digest(r.fixed(1)?);
        let code = RefusalCode::from_u64(r.uint(2)?)
            .ok_or(DecodeError::Invalid("unknown refusal code"))?;
        Ok(Refusal {
            proposal_commit,
            code,
        })
    }
}

/// "I have nothing more to send; this session is over."
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Close;

impl Canonical for Close {
    const MAX_ENCODED_LEN: usize = 0;
    fn encode(&self, _: &mut Writer) {}
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Close)
    }
}

/// The most object addresses one [`Want`] asks for.
pub const MAX_WANTED: usize = 8_192;

/// The receiver of an offer asks for the lineage objects it lacks (PROTOCOL.md §12).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Want {
    /// The offered proposal's commit.
    pub proposal_commit: Digest,
    /// The missing objects' addresses, strictly ascending.
    pub addresses: Vec<Digest>,
}

impl Canonical for Want {
    const MAX_ENCODED_LEN: usize = 40 + MAX_WANTED * 34;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.proposal_commit.as_bytes());
        for a in &self.addresses {
            w.bytes(2, a.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let proposal_commit = Digest(r.fixed(1)?);
        let addresses: Vec<Digest> = r
            .repeated_fixed::<32>(2, MAX_WANTED)?
            .into_iter()
            .map(Digest)
            .collect();
        if addresses.is_empty() || !addresses.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(
                "a want names at least one address, strictly ascending",
            ));
        }
        Ok(Want {
            proposal_commit,
            addresses,
        })
    }
}

/// The sender's answer to a [`Want`]: objects of the offer's lineages, as many as fit one
/// message (the receiver asks again for the rest). Empty when it holds none of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Objects {
    /// The offered proposal's commit.
    pub proposal_commit: Digest,
    /// Objects, strictly ascending (bytewise).
    pub objects: Vec<Vec<u8>>,
}

impl Canonical for Objects {
    const MAX_ENCODED_LEN: usize = MAX_MESSAGE_LEN - 64;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.proposal_commit.as_bytes());
        w.repeated_bytes(2, &self.objects);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let proposal_commit = Digest(r.fixed(1)?);
        let objects = r.ascending_objects(
            2,
            MAX_WANTED,
            Self::MAX_ENCODED_LEN,
            "objects are strictly ascending (bytewise), each once",
        )?;
        Ok(Objects {
            proposal_commit,
            objects,
        })
    }
}

/// One frame's payload: exactly one of the session messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionMessage {
    /// Field 1.
    Hello(Box<Hello>),
    /// Field 2: the sender's offer: its signed proposal with its inputs' lineages.
    Proposal(Box<Offer>),
    /// Field 3: the receiver's signed acceptance (with the proposal, the receipt).
    Acceptance(Box<SignedAcceptance>),
    /// Field 4.
    Refusal(Refusal),
    /// Field 5.
    Close(Close),
    /// Field 6: the receiver's signed refusal: final; the sender releases the amount.
    SignedRefusal(Box<SignedRefusal>),
    /// Field 7: the receiver of an offer asks for lineage objects it lacks.
    Want(Box<Want>),
    /// Field 8: the sender ships lineage objects asked for.
    Objects(Box<Objects>),
}

impl SessionMessage {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            SessionMessage::Hello(_) => "hello",
            SessionMessage::Proposal(_) => "proposal",
            SessionMessage::Acceptance(_) => "acceptance",
            SessionMessage::Refusal(_) => "refusal",
            SessionMessage::Close(_) => "close",
            SessionMessage::SignedRefusal(_) => "signed refusal",
            SessionMessage::Want(_) => "want",
            SessionMessage::Objects(_) => "objects",
        }
    }
}

impl Canonical for SessionMessage {
    const MAX_ENCODED_LEN: usize = MAX_MESSAGE_LEN;
    fn encode(&self, w: &mut Writer) {
        match self {
            SessionMessage::Hello(m) => w.message(1, m.as_ref()),
            SessionMessage::Proposal(m) => w.message(2, m.as_ref()),
            SessionMessage::Acceptance(m) => w.message(3, m.as_ref()),
            SessionMessage::Refusal(m) => w.message(4, m),
            SessionMessage::Close(m) => w.message(5, m),
            SessionMessage::SignedRefusal(m) => w.message(6, m.as_ref()),
            SessionMessage::Want(m) => w.message(7, m.as_ref()),
            SessionMessage::Objects(m) => w.message(8, m.as_ref()),
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let hello: Option<Hello> = r.optional_message(1)?;
        let proposal: Option<Offer> = r.optional_message(2)?;
        let acceptance: Option<SignedAcceptance> = r.optional_message(3)?;
        let refusal: Option<Refusal> = r.optional_message(4)?;
        let close: Option<Close> = r.optional_message(5)?;
        let signed_refusal: Option<SignedRefusal> = r.optional_message(6)?;
        let want: Option<Want> = r.optional_message(7)?;
        let objects: Option<Objects> = r.optional_message(8)?;
        let mut found = Vec::with_capacity(1);
        if let Some(m) = hello {
            found.push(SessionMessage::Hello(Box::new(m)));
        }
        if let Some(m) = proposal {
            found.push(SessionMessage::Proposal(Box::new(m)));
        }
        if let Some(m) = acceptance {
            found.push(SessionMessage::Acceptance(Box::new(m)));
        }
        if let Some(m) = refusal {
            found.push(SessionMessage::Refusal(m));
        }
        if let Some(m) = close {
            found.push(SessionMessage::Close(m));
        }
        if let Some(m) = signed_refusal {
            found.push(SessionMessage::SignedRefusal(Box::new(m)));
        }
        if let Some(m) = want {
            found.push(SessionMessage::Want(Box::new(m)));
        }
        if let Some(m) = objects {
            found.push(SessionMessage::Objects(Box::new(m)));
        }
        match (found.pop(), found.is_empty()) {
            (Some(m), true) => Ok(m),
            _ => Err(DecodeError::Invalid("a session message is exactly one of hello, proposal, acceptance, refusal, close, signed refusal, want, objects")),
        }
    }
}
