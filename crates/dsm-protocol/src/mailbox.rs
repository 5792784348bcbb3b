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
//! An offered proposal is *pending* until it is answered — through the b0x, or offline when
//! the two devices next meet (the oldest pending proposal rides in the hello, the dialer
//! offers the rest after it, and the receiver answers idempotently from storage). Online, a
//! sender may queue up to `MAX_QUEUE` proposals to one receiver, each built on the one
//! before (PROTOCOL.md §7.7, [`SessionError::QueueFull`] past that); a session pays only
//! when nothing is pending to the peer ([`SessionError::Locked`]).

use crate::message::{RefusalCode, SessionMessage};
use crate::session::{Completed, Ledger, Refused, Role, Session, SessionError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{verify_proposal, EmptyView, Offer};

/// Builds, commits and returns a proposal paying `peer` (as an offer, with its inputs'
/// lineages), to be posted to the peer's b0x, at the end of this device's queue to `peer`
/// (PROTOCOL.md §7.7). Refused while `MAX_QUEUE` transfers to `peer` are pending.
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
    let queued = ledger.pending_to(peer)?.len();
    if queued >= dsm_core::receipt::MAX_QUEUE {
        return Err(SessionError::QueueFull(*peer, queued));
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

/// True when `proposal` crossed this device's own pending proposal to its sender and won
/// (PROTOCOL.md §7.6): [`answer`] keeps it waiting (BUSY) until the sender refuses ours.
pub fn waits_for_crossing(
    ledger: &dyn Ledger,
    proposal: &dsm_core::receipt::SignedProposal,
) -> Result<bool, SessionError> {
    Ok(matches!(
        crate::session::crossing_for(&proposal.proposal.step, ledger)?,
        crate::session::CrossingState::Wait
    ))
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
    /// A refusal behind a step of ours that is still pending (PROTOCOL.md §7.7): it can be
    /// taken only after that step's own refusal, which may come later; keep it.
    Waits,
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
    let queue = ledger.pending_to(&peer)?;
    let Some(pending) = queue
        .iter()
        .find(|p| p.proposal.commit() == commit)
        .cloned()
    else {
        return Ok(Taken::NotPending);
    };
    // Our own stored proposal: the stateless checks guard against a damaged store.
    let vp = verify_proposal(&pending, &EmptyView)?;
    if let SessionMessage::SignedRefusal(r) = reply {
        let first = r.refusal.behind.first();
        if first.is_some_and(|k| queue.iter().any(|p| p.proposal.step == *k)) {
            // Kept only if its receiver really signed it: a stranger's copy is dropped
            // here, so it cannot fill the custody table.
            dsm_core::receipt::verify_refusal(&vp, r, ledger.view())?;
            return Ok(Taken::Waits);
        }
    }
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

/// A b0x item sealed to its recipient (PROTOCOL.md §16.3): the node stores this instead of
/// the item, so it reads no statement, amount or device id in it. `key = H(B0xItem, ML-KEM
/// shared secret, KEM ciphertext)`; the item is XChaCha20-Poly1305 under that key with the
/// recipient's device id as associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedItem {
    /// The ML-KEM-768 ciphertext (1088 bytes) encapsulated to the recipient's key.
    pub kem_ciphertext: Vec<u8>,
    /// The AEAD nonce.
    pub nonce: [u8; 24],
    /// The item, encrypted (tag included).
    pub ciphertext: Vec<u8>,
}

/// The ML-KEM-768 ciphertext length.
const KEM_CIPHERTEXT_LEN: usize = 1088;
/// The largest item a sealed item carries (the node's item cap less the sealing).
pub const MAX_SEALED_PLAINTEXT: usize = 300 * 1024;

impl dsm_core::codec::Canonical for SealedItem {
    const MAX_ENCODED_LEN: usize = MAX_SEALED_PLAINTEXT + 2 * 1024;

    fn encode(&self, w: &mut dsm_core::codec::Writer) {
        w.bytes(1, &self.kem_ciphertext);
        w.bytes(2, &self.nonce);
        w.bytes(3, &self.ciphertext);
    }

    fn decode(r: &mut dsm_core::codec::Reader<'_>) -> Result<Self, dsm_core::codec::DecodeError> {
        let kem_ciphertext = r.fixed::<KEM_CIPHERTEXT_LEN>(1)?.to_vec();
        let nonce = r.fixed::<24>(2)?;
        let ciphertext = r.bytes(3, MAX_SEALED_PLAINTEXT + 16)?.to_vec();
        if ciphertext.len() < 16 {
            return Err(dsm_core::codec::DecodeError::Invalid(
                "a sealed item shorter than its tag",
            ));
        }
        Ok(SealedItem {
            kem_ciphertext,
            nonce,
            ciphertext,
        })
    }
}

/// Why a sealed item did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The item is larger than a sealed item carries.
    #[error("the item is too large to seal")]
    TooLarge,
    /// The recipient's KEM key is not a valid ML-KEM-768 key.
    #[error("the recipient's KEM key is malformed")]
    Key,
    /// Sealed to another key or recipient, or damaged.
    #[error("sealed to another key or recipient, or damaged")]
    Open,
    /// It opened, but its plaintext is not a canonical envelope.
    #[error("its plaintext is not an envelope")]
    NotAnEnvelope,
}

fn item_cipher(
    ss: &dsm_core::crypto::SharedSecret,
    ct: &[u8],
) -> chacha20poly1305::XChaCha20Poly1305 {
    use chacha20poly1305::KeyInit;
    let k = dsm_core::hash::tagged_hash(dsm_core::tags::Tag::B0xItem, &[&ss.0, ct]);
    chacha20poly1305::XChaCha20Poly1305::new(&chacha20poly1305::Key::from(k.0))
}

/// Seals `item` to `recipient`, whose verified ML-KEM-768 key is `key` (from its identity
/// document, §12.6); `m` and `nonce` are fresh randomness.
pub fn seal_item(
    key: &dsm_core::crypto::KemPublicKey,
    recipient: &DeviceId,
    item: &[u8],
    m: &[u8; 32],
    nonce: [u8; 24],
) -> Result<Vec<u8>, SealError> {
    use chacha20poly1305::aead::{Aead, Payload};
    use dsm_core::codec::Canonical;
    if item.len() > MAX_SEALED_PLAINTEXT {
        return Err(SealError::TooLarge);
    }
    let (ss, kem_ciphertext) = key.encapsulate(m).map_err(|_| SealError::Key)?;
    let ciphertext = item_cipher(&ss, &kem_ciphertext)
        .encrypt(
            &chacha20poly1305::XNonce::from(nonce),
            Payload {
                msg: item,
                aad: recipient.as_bytes(),
            },
        )
        .expect("XChaCha20-Poly1305 encryption does not fail for in-memory data");
    Ok(SealedItem {
        kem_ciphertext,
        nonce,
        ciphertext,
    }
    .to_bytes())
}

/// Opens a sealed item addressed to `recipient` with its KEM secret key: the item's bytes.
pub fn open_item(
    secret: &dsm_core::crypto::KemSecretKey,
    recipient: &DeviceId,
    sealed: &SealedItem,
) -> Result<Vec<u8>, SealError> {
    use chacha20poly1305::aead::{Aead, Payload};
    let ss = secret
        .decapsulate(&sealed.kem_ciphertext)
        .map_err(|_| SealError::Open)?;
    item_cipher(&ss, &sealed.kem_ciphertext)
        .decrypt(
            &chacha20poly1305::XNonce::from(sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: recipient.as_bytes(),
            },
        )
        .map_err(|_| SealError::Open)
}

/// Where a device reads one counterparty's items (PROTOCOL.md §16.1): its identity document
/// (so the counterparty can seal to it), the blind of its relationship address for that
/// counterparty, and its signature over [`ReplyTo::signed_digest`]. Only the device can
/// name where it reads, so a stranger who holds one of its signed messages cannot send its
/// counterparty's items where it never looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// The poster's identity document: its identity (so its device id) and its KEM key.
    pub document: crate::card::ContactDocument,
    /// The blind of the poster's relationship address for the recipient
    /// ([`dsm_core::slot::b0x_address`]).
    pub blind: dsm_core::hash::Digest,
    /// The document's key's signature over [`ReplyTo::signed_digest`].
    pub signature: dsm_core::crypto::Signature,
}

/// Why a reply-to is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyToError {
    /// The document is not its device's (§12.6).
    #[error("its identity document is not its device's")]
    Document,
    /// The signature does not verify for this recipient and blind.
    #[error("its signature does not verify for this recipient and blind")]
    Signature,
}

impl ReplyTo {
    /// `H(B0xReplyTo, recipient device id, blind)`: what the poster signs.
    pub fn signed_digest(
        recipient: &DeviceId,
        blind: &dsm_core::hash::Digest,
    ) -> dsm_core::hash::Digest {
        dsm_core::hash::tagged_hash(
            dsm_core::tags::Tag::B0xReplyTo,
            &[recipient.as_bytes(), blind.as_bytes()],
        )
    }

    /// The reply-to of the device whose document is `document` and key `key`, telling
    /// `recipient` to post to it at `blind`. Signed with zero randomness, so the same
    /// reply-to is the same bytes (a re-posted item seals to the same bytes).
    pub fn sign(
        document: crate::card::ContactDocument,
        key: &dsm_core::crypto::SigningKey,
        recipient: &DeviceId,
        blind: dsm_core::hash::Digest,
    ) -> Result<ReplyTo, dsm_core::crypto::CryptoError> {
        let signature = key.sign(Self::signed_digest(recipient, &blind).as_bytes(), &[0; 32])?;
        Ok(ReplyTo {
            document,
            blind,
            signature,
        })
    }

    /// Checks the reply-to was made by its document's device for `recipient`; returns that
    /// device's id.
    pub fn verify(&self, recipient: &DeviceId) -> Result<DeviceId, ReplyToError> {
        let device = self.document.device.device_id();
        self.document
            .verify(&device)
            .map_err(|_| ReplyToError::Document)?;
        self.document
            .device
            .public_key
            .verify(
                Self::signed_digest(recipient, &self.blind).as_bytes(),
                &self.signature,
            )
            .map_err(|_| ReplyToError::Signature)?;
        Ok(device)
    }
}

impl dsm_core::codec::Canonical for ReplyTo {
    const MAX_ENCODED_LEN: usize = crate::card::ContactDocument::MAX_ENCODED_LEN
        + 34
        + <dsm_core::crypto::Signature as dsm_core::codec::Canonical>::MAX_ENCODED_LEN
        + 16;

    fn encode(&self, w: &mut dsm_core::codec::Writer) {
        w.message(1, &self.document);
        w.bytes(2, self.blind.as_bytes());
        w.message(3, &self.signature);
    }

    fn decode(r: &mut dsm_core::codec::Reader<'_>) -> Result<Self, dsm_core::codec::DecodeError> {
        Ok(ReplyTo {
            document: r.message(1)?,
            blind: dsm_core::hash::Digest(r.fixed(2)?),
            signature: r.message(3)?,
        })
    }
}

/// What a sealed item carries (PROTOCOL.md §16.1): the item, and where its poster reads the
/// recipient's items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The b0x item (a canonical session or recovery message).
    pub item: Vec<u8>,
    /// Where the poster reads the recipient's items, if it says.
    pub reply_to: Option<ReplyTo>,
}

/// The largest item an envelope carries: a sealed item's plaintext less a reply-to.
pub const MAX_ENVELOPE_ITEM: usize = MAX_SEALED_PLAINTEXT - 64 * 1024;

/// Seals `envelope` to `recipient` ([`seal_item`] of its canonical bytes). Refuses
/// ([`SealError::TooLarge`]) an item over [`MAX_ENVELOPE_ITEM`], which its recipient could
/// not decode: such an item travels unsealed.
pub fn seal_envelope(
    key: &dsm_core::crypto::KemPublicKey,
    recipient: &DeviceId,
    envelope: &Envelope,
    m: &[u8; 32],
    nonce: [u8; 24],
) -> Result<Vec<u8>, SealError> {
    use dsm_core::codec::Canonical;
    if envelope.item.len() > MAX_ENVELOPE_ITEM {
        return Err(SealError::TooLarge);
    }
    seal_item(key, recipient, &envelope.to_bytes(), m, nonce)
}

/// Opens a sealed item addressed to `recipient` ([`open_item`]) and decodes its envelope.
pub fn open_envelope(
    secret: &dsm_core::crypto::KemSecretKey,
    recipient: &DeviceId,
    sealed: &SealedItem,
) -> Result<Envelope, SealError> {
    use dsm_core::codec::Canonical;
    Envelope::from_bytes(&open_item(secret, recipient, sealed)?)
        .map_err(|_| SealError::NotAnEnvelope)
}

impl dsm_core::codec::Canonical for Envelope {
    const MAX_ENCODED_LEN: usize = MAX_SEALED_PLAINTEXT;

    fn encode(&self, w: &mut dsm_core::codec::Writer) {
        w.bytes(1, &self.item);
        w.optional_message(2, self.reply_to.as_ref());
    }

    fn decode(r: &mut dsm_core::codec::Reader<'_>) -> Result<Self, dsm_core::codec::DecodeError> {
        Ok(Envelope {
            item: r.bytes(1, MAX_ENVELOPE_ITEM)?.to_vec(),
            reply_to: r.optional_message(2)?,
        })
    }
}

const _: () = assert!(
    MAX_ENVELOPE_ITEM + <ReplyTo as dsm_core::codec::Canonical>::MAX_ENCODED_LEN + 16
        <= MAX_SEALED_PLAINTEXT
);
