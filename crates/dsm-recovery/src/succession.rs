//! Tombstone, succession, and a counterparty's answer (PROTOCOL.md §20.3–§20.5).
//!
//! A lost device is replaced in two signed steps by the identity's recovery authority (the
//! key whose public half is in the genesis record): a [`Tombstone`] names the lost device and
//! the head the identity resumes from, and a [`Succession`] names the new device and cites
//! the tombstone by digest. A counterparty that verifies both refuses the lost device from
//! then on, and answers with a signed [`SuccessionAnswer`]: it acknowledges the successor
//! only when the tip it holds for its relationship with the lost device is the one the
//! recovered head proves. Spending to a counterparty resumes only after its acknowledgement.
//!
//! All three are pure data with one verifier each; the wallet does the I/O.

use dsm_core::chain::{DeviceHead, RelationshipKey, TipDigest};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{PublicKey, Signature, SigningKey};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisRecord};
use dsm_core::receipt::SignedProposal;
use dsm_core::smt::SmtProof;
use dsm_core::tags::Tag;
use dsm_core::tripwire::Statement;
use thiserror::Error;

/// The recovery authority's statement that a device of its identity is lost: it is refused
/// from now on, and the identity resumes from `recovered_head` (its last backed-up head).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The lost device.
    pub lost: DeviceIdentity,
    /// The lost device's head the successor resumes from.
    pub recovered_head: DeviceHead,
}

impl Canonical for Tombstone {
    const MAX_ENCODED_LEN: usize = 4200 + DeviceHead::MAX_ENCODED_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.lost);
        w.message(2, &self.recovered_head);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Tombstone {
            lost: r.message(1)?,
            recovered_head: r.message(2)?,
        })
    }
}

impl Tombstone {
    /// `H(RecoveryTombstone, enc(tombstone))`: what the authority signs and the succession cites.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::RecoveryTombstone, &[&self.to_bytes()])
    }
}

/// The owned slot of `lost`'s tombstone at the storage nodes (PROTOCOL.md §15.2, §20.3):
/// `(recovery_owner(genesis, authority), H(TombstoneSlot, "slot", lost device id))`. Only
/// the genesis's recovery authority may write it, so neither a stranger nor a thief holding
/// the lost device's key can take or block it.
pub fn tombstone_slot(lost: &DeviceIdentity, authority: &PublicKey) -> (Digest, Digest) {
    (
        dsm_core::slot::recovery_owner(&lost.genesis, authority),
        tagged_hash(Tag::TombstoneSlot, &[b"slot", lost.device_id().as_bytes()]),
    )
}

/// The owned slot of the succession that follows tombstone `t`:
/// `(recovery_owner(genesis, authority), H(TombstoneSlot, "succession", t.digest()))`,
/// written by the recovery authority only. One successor per tombstone: the first written
/// wins.
pub fn succession_slot(t: &Tombstone, authority: &PublicKey) -> (Digest, Digest) {
    (
        dsm_core::slot::recovery_owner(&t.lost.genesis, authority),
        tagged_hash(Tag::TombstoneSlot, &[b"succession", t.digest().as_bytes()]),
    )
}

/// What a tombstone slot holds: the signed tombstone sealed under the lost device's id
/// (`seal(RecoverySeal, lost device id, enc(signed tombstone))`, PROTOCOL.md §2 "Sealed at
/// the nodes"), so only a reader that knows the lost device opens it.
pub fn seal_tombstone(t: &SignedTombstone) -> Vec<u8> {
    let lost = t.record.lost.device_id();
    dsm_core::seal::seal(Tag::RecoverySeal, lost.as_bytes(), &t.to_bytes())
}

/// The signed tombstone of `lost` sealed in `bytes` by [`seal_tombstone`]; `None` for
/// anything else (in clear, of another device, or damaged).
pub fn open_tombstone(lost: &DeviceIdentity, bytes: &[u8]) -> Option<SignedTombstone> {
    let plain = dsm_core::seal::open(Tag::RecoverySeal, lost.device_id().as_bytes(), bytes)?;
    SignedTombstone::from_bytes(&plain)
        .ok()
        .filter(|t| t.record.lost == *lost)
}

/// What a succession slot holds: the signed succession sealed under the tombstone's digest
/// (`seal(RecoverySeal, tombstone digest, enc(signed succession))`), which the slot's key
/// hides.
pub fn seal_succession(s: &SignedSuccession) -> Vec<u8> {
    dsm_core::seal::seal(
        Tag::RecoverySeal,
        s.record.tombstone.as_bytes(),
        &s.to_bytes(),
    )
}

/// The signed succession after tombstone `t` sealed in `bytes` by [`seal_succession`];
/// `None` for anything else.
pub fn open_succession(t: &Tombstone, bytes: &[u8]) -> Option<SignedSuccession> {
    let digest = t.digest();
    let plain = dsm_core::seal::open(Tag::RecoverySeal, digest.as_bytes(), bytes)?;
    SignedSuccession::from_bytes(&plain)
        .ok()
        .filter(|s| s.record.tombstone == digest)
}

/// The recovery authority's statement that `successor` now speaks for the identity in place
/// of the device the tombstone names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Succession {
    /// The digest of the tombstone this succession follows.
    pub tombstone: Digest,
    /// The new device.
    pub successor: DeviceIdentity,
}

impl Canonical for Succession {
    const MAX_ENCODED_LEN: usize = 4300;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.tombstone.as_bytes());
        w.message(2, &self.successor);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Succession {
            tombstone: Digest(r.fixed(1)?),
            successor: r.message(2)?,
        })
    }
}

impl Succession {
    /// `H(RecoverySuccession, enc(succession))`: what the authority signs, and the `cause`
    /// of the successor's SUCCEED head.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::RecoverySuccession, &[&self.to_bytes()])
    }
}

/// A record with the recovery authority's signature over its digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signed<T> {
    /// The record.
    pub record: T,
    /// The authority's signature over the record's digest.
    pub signature: Signature,
}

/// A signed tombstone.
pub type SignedTombstone = Signed<Tombstone>;
/// A signed succession.
pub type SignedSuccession = Signed<Succession>;

impl<T: Canonical> Canonical for Signed<T> {
    const MAX_ENCODED_LEN: usize = T::MAX_ENCODED_LEN + 20_000;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.record);
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signed {
            record: r.message(1)?,
            signature: r.message(2)?,
        })
    }
}

/// Signs as the recovery authority. Deterministic (all-zero `rnd`, FIPS 204's
/// deterministic variant), so re-signing one record after a crash yields the same bytes.
fn authority_sign(key: &SigningKey, digest: &Digest) -> Signature {
    key.sign(digest.as_bytes(), &[0u8; 32])
        .expect("ML-DSA signing of a 32-byte digest does not fail")
}

/// Signs a tombstone with the recovery authority's key.
pub fn sign_tombstone(authority: &SigningKey, t: Tombstone) -> SignedTombstone {
    let signature = authority_sign(authority, &t.digest());
    Signed {
        record: t,
        signature,
    }
}

/// Signs a succession with the recovery authority's key.
pub fn sign_succession(authority: &SigningKey, s: Succession) -> SignedSuccession {
    let signature = authority_sign(authority, &s.digest());
    Signed {
        record: s,
        signature,
    }
}

/// Why a tombstone, a succession or an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SuccessionError {
    /// The genesis record is not the lost device's genesis.
    #[error("the genesis record is not the lost device's genesis")]
    WrongGenesis,
    /// The genesis names no recovery authority: this identity cannot be recovered.
    #[error("this identity's genesis names no recovery authority, so it cannot be recovered")]
    NoAuthority,
    /// The recovered head is not a head of the lost device.
    #[error("the recovered head is not a head of the lost device")]
    HeadNotOfLostDevice,
    /// The authority's signature does not verify.
    #[error("the recovery authority's signature on the {0} does not verify")]
    Signature(&'static str),
    /// The succession cites another tombstone.
    #[error("the succession does not cite this tombstone")]
    WrongTombstone,
    /// The successor is not a device of the same genesis, or is the lost device itself.
    #[error("the successor must be a new device of the same identity")]
    BadSuccessor,
    /// The proof of the counterparty's tip under the recovered head does not verify.
    #[error("the proof of the relationship tip under the recovered head does not verify")]
    Proof,
    /// The statement does not succeed the recovered head of the tombstoned device.
    #[error("the statement is not the lost device's successor of the recovered head")]
    NotAConflict,
    /// The answer's signature does not verify or it answers another succession.
    #[error("the answer is not a valid signed answer to this succession")]
    Answer,
}

/// A tombstone and succession that passed [`verify_succession`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSuccession {
    /// The tombstone.
    pub tombstone: SignedTombstone,
    /// The succession.
    pub succession: SignedSuccession,
}

impl VerifiedSuccession {
    /// The lost device.
    pub fn lost(&self) -> DeviceId {
        self.tombstone.record.lost.device_id()
    }
    /// The new device.
    pub fn successor(&self) -> DeviceId {
        self.succession.record.successor.device_id()
    }
    /// The succession's digest.
    pub fn digest(&self) -> Digest {
        self.succession.record.digest()
    }
}

/// The one verifier of a tombstone and its succession: the genesis record is the lost
/// device's genesis and names a recovery authority; the authority signed both; the
/// recovered head is the lost device's; the succession cites the tombstone; the successor
/// is another device of the same genesis.
pub fn verify_succession(
    genesis: &GenesisRecord,
    tombstone: &SignedTombstone,
    succession: &SignedSuccession,
) -> Result<VerifiedSuccession, SuccessionError> {
    let authority = verify_tombstone(genesis, tombstone)?;
    let t = &tombstone.record;
    let s = &succession.record;
    let lost = t.lost.device_id();
    if s.tombstone != t.digest() {
        return Err(SuccessionError::WrongTombstone);
    }
    if s.successor.genesis != t.lost.genesis || s.successor.device_id() == lost {
        return Err(SuccessionError::BadSuccessor);
    }
    authority
        .verify(s.digest().as_bytes(), &succession.signature)
        .map_err(|_| SuccessionError::Signature("succession"))?;
    Ok(VerifiedSuccession {
        tombstone: tombstone.clone(),
        succession: succession.clone(),
    })
}

/// Verifies a tombstone alone: the genesis record is the lost device's and names a
/// recovery authority, the recovered head is the lost device's, and the authority signed
/// it. Returns the authority's key.
pub fn verify_tombstone<'g>(
    genesis: &'g GenesisRecord,
    tombstone: &SignedTombstone,
) -> Result<&'g PublicKey, SuccessionError> {
    let t = &tombstone.record;
    if genesis.digest() != t.lost.genesis {
        return Err(SuccessionError::WrongGenesis);
    }
    let authority: &PublicKey = genesis
        .recovery_authority
        .as_ref()
        .ok_or(SuccessionError::NoAuthority)?;
    let lost = t.lost.device_id();
    if t.recovered_head.device != lost {
        return Err(SuccessionError::HeadNotOfLostDevice);
    }
    authority
        .verify(t.digest().as_bytes(), &tombstone.signature)
        .map_err(|_| SuccessionError::Signature("tombstone"))?;
    Ok(authority)
}

/// Evidence that a lost device signed after the head its identity's recovery resumed
/// from: the tombstone (with the genesis that makes it checkable) and a statement signed by
/// the lost device whose parent head is the tombstone's recovered head. Where the stolen
/// device and its successor collide, this is what the counterparty holds and sends back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessionConflict {
    /// The identity's genesis record.
    pub genesis: GenesisRecord,
    /// The signed tombstone.
    pub tombstone: SignedTombstone,
    /// The lost device's statement that succeeds the recovered head.
    pub statement: Statement,
}

impl Canonical for SuccessionConflict {
    const MAX_ENCODED_LEN: usize = 200 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.genesis);
        w.message(2, &self.tombstone);
        w.message(3, &self.statement);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SuccessionConflict {
            genesis: r.message(1)?,
            tombstone: r.message(2)?,
            statement: r.message(3)?,
        })
    }
}

impl SuccessionConflict {
    /// Checks the evidence: a valid tombstone, and a statement signed by the lost device
    /// whose parent head is the recovered head. Returns the lost device.
    pub fn verify(&self) -> Result<DeviceId, SuccessionError> {
        verify_tombstone(&self.genesis, &self.tombstone)?;
        let t = &self.tombstone.record;
        let lost = t.lost.device_id();
        let (device, parent, _) = self.statement.head_transition();
        if device != lost
            || self.statement.signer().device_id() != lost
            || parent != t.recovered_head.digest()
        {
            return Err(SuccessionError::NotAConflict);
        }
        self.statement
            .verify_signature()
            .map_err(|_| SuccessionError::Signature("statement"))?;
        Ok(lost)
    }
}

/// The tombstone and succession with the genesis record that makes them checkable: what a
/// recovery writes into the lost device's anchor slot `(lost, recovered head)`, so anyone
/// who tries to settle a statement the lost device signs from that head reads, verifies and
/// records the tombstone instead (PROTOCOL.md §20.3 step 4, §16.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SuccessionRecord {
    /// The identity's genesis record.
    pub genesis: GenesisRecord,
    /// The signed tombstone.
    pub tombstone: SignedTombstone,
    /// The signed succession.
    pub succession: SignedSuccession,
}

impl Canonical for SuccessionRecord {
    const MAX_ENCODED_LEN: usize = 64 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.genesis);
        w.message(2, &self.tombstone);
        w.message(3, &self.succession);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SuccessionRecord {
            genesis: r.message(1)?,
            tombstone: r.message(2)?,
            succession: r.message(3)?,
        })
    }
}

impl SuccessionRecord {
    /// [`verify_succession`] on the record's parts.
    pub fn verify(&self) -> Result<VerifiedSuccession, SuccessionError> {
        verify_succession(&self.genesis, &self.tombstone, &self.succession)
    }

    /// The verified succession if these bytes are a valid record that claims the slot
    /// `(device, parent)`: its lost device is `device` and its recovered head is `parent`.
    pub fn claiming(
        bytes: &[u8],
        device: &DeviceId,
        parent: &Digest,
    ) -> Option<VerifiedSuccession> {
        let r = SuccessionRecord::from_bytes(bytes).ok()?;
        let v = r.verify().ok()?;
        (v.lost() == *device && r.tombstone.record.recovered_head.digest().0 == *parent)
            .then_some(v)
    }
}

/// What a recovered device sends each counterparty of the lost device: the records, and a
/// proof of the relationship's tip under the recovered head, so the counterparty can
/// compare it with the tip it holds itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessionNotice {
    /// The identity's genesis record (names the recovery authority).
    pub genesis: GenesisRecord,
    /// The signed tombstone.
    pub tombstone: SignedTombstone,
    /// The signed succession.
    pub succession: SignedSuccession,
    /// The counterparty this notice is for.
    pub counterparty: DeviceId,
    /// Proof of `relationship_key(lost, counterparty)` under the recovered head's tree.
    pub proof: SmtProof,
    /// The lost device's proposals to this counterparty still waiting for their answers at
    /// the recovered head, oldest first (its queue, PROTOCOL.md §7.7; at most `MAX_QUEUE`):
    /// the counterparty answers them, in order, before it answers the notice.
    pub pending: Vec<SignedProposal>,
    /// The lineages of `pending`'s inputs (one manifest per input, in input order, for each
    /// proposal in turn; empty when the successor holds none): their objects are at the
    /// storage nodes, where the successor stored them before posting the notice (PROTOCOL.md
    /// §20.4).
    pub pending_lineage: Vec<dsm_core::parcel::LineageManifest>,
    /// The successor's identity document (canonical `ContactDocument`, PROTOCOL.md §12.6:
    /// its ML-KEM key signed by its device key), or empty. Self-authenticating: a
    /// counterparty keeps it only if it verifies for the successor's device id.
    pub successor_document: Vec<u8>,
    /// For each object address `pending_lineage` lists ([`SuccessionNotice::lineage_listed`]),
    /// in that order, the content address of its sealed form at the nodes, or none: the
    /// counterparty reads each from an address no one else can write (PROTOCOL.md §2,
    /// "Sealed objects").
    pub pending_sealed: Vec<Digest>,
}

/// The longest identity document a notice carries (an SLH-DSA signature included).
pub const MAX_NOTICE_DOCUMENT_LEN: usize = 25_540;

impl Canonical for SuccessionNotice {
    const MAX_ENCODED_LEN: usize = 256 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.genesis);
        w.message(2, &self.tombstone);
        w.message(3, &self.succession);
        w.bytes(4, self.counterparty.as_bytes());
        w.message(5, &self.proof);
        w.repeated_message(6, &self.pending);
        w.repeated_message(7, &self.pending_lineage);
        w.bytes(8, &self.successor_document);
        for s in &self.pending_sealed {
            w.bytes(9, s.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = SuccessionNotice {
            genesis: r.message(1)?,
            tombstone: r.message(2)?,
            succession: r.message(3)?,
            counterparty: DeviceId(Digest(r.fixed(4)?)),
            proof: r.message(5)?,
            pending: r.repeated_message(6, dsm_core::receipt::MAX_QUEUE)?,
            pending_lineage: r.repeated_message(
                7,
                dsm_core::receipt::MAX_QUEUE * dsm_core::parcel::MAX_INPUTS,
            )?,
            successor_document: r.bytes(8, MAX_NOTICE_DOCUMENT_LEN)?.to_vec(),
            pending_sealed: r
                .repeated_fixed::<32>(9, 1 << 16)?
                .into_iter()
                .map(Digest)
                .collect(),
        };
        if n.pending.is_empty() && !n.pending_lineage.is_empty() {
            return Err(DecodeError::Invalid(
                "a notice carries lineages only with a pending proposal",
            ));
        }
        if !n.pending_sealed.is_empty() && n.pending_sealed.len() != n.lineage_listed().len() {
            return Err(DecodeError::Invalid(
                "a notice names the sealed address of every object its lineages list, or of none",
            ));
        }
        Ok(n)
    }
}

impl SuccessionNotice {
    /// Every object address the pending lineages list, ascending, each once (as
    /// [`dsm_core::receipt::Offer::listed`] for an offer).
    pub fn lineage_listed(&self) -> Vec<Digest> {
        let mut v: Vec<Digest> = self
            .pending_lineage
            .iter()
            .flat_map(|m| m.addresses())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Verifies the records and the proof; returns the verified succession, the
    /// relationship, and the tip the recovered head holds for it (`None`: no relationship).
    pub fn verify(
        &self,
    ) -> Result<(VerifiedSuccession, RelationshipKey, Option<TipDigest>), SuccessionError> {
        let v = verify_succession(&self.genesis, &self.tombstone, &self.succession)?;
        let rel = RelationshipKey::between(&v.lost(), &self.counterparty);
        let tip = self
            .proof
            .lookup(
                rel.as_bytes(),
                &self.tombstone.record.recovered_head.smt_root,
            )
            .map_err(|_| SuccessionError::Proof)?;
        Ok((v, rel, tip.map(TipDigest)))
    }
}

impl SuccessionNotice {
    /// The counterparty's verdict (PROTOCOL.md §20.4 step 4), from what it holds: `conflict`
    /// if it holds a statement of the lost device succeeding the recovered head; else
    /// acknowledged if its tip for `relationship` (`held`, absent = the genesis tip) is on
    /// the pending queue's accept or release path — the recovered one (`recovered`,
    /// likewise: every pending proposal accepted), or the release tip of a pending proposal
    /// of the chain that leads to it (that one refused, those after it refused behind it);
    /// else stale.
    pub fn verdict(
        &self,
        relationship: &RelationshipKey,
        recovered: Option<TipDigest>,
        held: Option<TipDigest>,
        conflict: bool,
    ) -> Verdict {
        let recovered = recovered.unwrap_or_else(|| relationship.genesis_tip());
        let held = held.unwrap_or_else(|| relationship.genesis_tip());
        // Walk the queue back from the recovered tip: each step whose child tip is the tip
        // reached so far was refused, or accepted and the walk goes on from its parent.
        let mut reached = recovered;
        let mut refused_pending = false;
        for _ in 0..self.pending.len() {
            let Some(p) = self
                .pending
                .iter()
                .find(|p| p.proposal.step.child_tip() == reached)
            else {
                break;
            };
            if held == dsm_core::receipt::release_tip(&reached) {
                refused_pending = true;
                break;
            }
            reached = p.proposal.step.parent_tip;
        }
        if conflict {
            Verdict::Conflict
        } else if held == recovered || refused_pending {
            Verdict::Acknowledged
        } else {
            Verdict::Stale
        }
    }
}

/// A counterparty's verdict on a succession.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The tip it holds is the recovered one: it takes the successor for the lost device.
    Acknowledged = 0,
    /// It holds another tip for the relationship (the lost device moved on after the
    /// recovered head, or the backup is stale): it does not take the successor.
    Stale = 1,
    /// It saw the lost device sign a successor of the recovered head: the lost device (or
    /// whoever holds it) spent after the backup point. It takes neither.
    Conflict = 2,
}

impl Verdict {
    fn from_u64(v: u64) -> Option<Verdict> {
        Some(match v {
            0 => Verdict::Acknowledged,
            1 => Verdict::Stale,
            2 => Verdict::Conflict,
            _ => return None,
        })
    }
}

/// A counterparty's signed answer to a succession notice.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SuccessionAnswer {
    /// The succession answered.
    pub succession: Digest,
    /// Who answers.
    pub counterparty: DeviceIdentity,
    /// The tip the counterparty holds for its relationship with the lost device
    /// (`genesis_tip` if none).
    pub held_tip: TipDigest,
    /// The verdict.
    pub verdict: Verdict,
}

impl Canonical for SuccessionAnswer {
    const MAX_ENCODED_LEN: usize = 4400;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.succession.as_bytes());
        w.message(2, &self.counterparty);
        w.bytes(3, self.held_tip.as_bytes());
        w.uint(4, self.verdict as u64);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SuccessionAnswer {
            succession: Digest(r.fixed(1)?),
            counterparty: r.message(2)?,
            held_tip: TipDigest(Digest(r.fixed(3)?)),
            verdict: Verdict::from_u64(r.uint(4)?)
                .ok_or(DecodeError::Invalid("unknown succession verdict"))?,
        })
    }
}

impl SuccessionAnswer {
    /// `H(RecoveryAnswer, enc(answer))`: what the counterparty signs.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::RecoveryAnswer, &[&self.to_bytes()])
    }

    /// Signs the answer with the counterparty's device key (`rnd`: signing randomness).
    pub fn sign(self, key: &SigningKey, rnd: &[u8; 32]) -> Signed<SuccessionAnswer> {
        let signature = key
            .sign(self.digest().as_bytes(), rnd)
            .expect("signing a 32-byte digest does not fail");
        Signed {
            record: self,
            signature,
        }
    }
}

/// A signed answer.
pub type SignedAnswer = Signed<SuccessionAnswer>;

/// Checks a signed answer to `succession` from the device `from`.
pub fn verify_answer(
    answer: &SignedAnswer,
    succession: &Digest,
    from: &DeviceId,
) -> Result<(), SuccessionError> {
    let a = &answer.record;
    if a.succession != *succession || a.counterparty.device_id() != *from {
        return Err(SuccessionError::Answer);
    }
    a.counterparty
        .public_key
        .verify(a.digest().as_bytes(), &answer.signature)
        .map_err(|_| SuccessionError::Answer)
}

/// A recovery item in a b0x: a notice to a counterparty, or its answer (with the
/// counterparty's answer to the notice's pending proposal, as canonical session-message
/// bytes, when there was one). Encoded with field numbers (20, 21) that no session message
/// uses, so the two kinds of b0x item never decode as each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryMessage {
    /// To a counterparty of the lost device.
    Notice(Box<SuccessionNotice>),
    /// Back to the successor.
    Answer {
        /// The signed answer.
        answer: Box<SignedAnswer>,
        /// The counterparty's answers to the notice's pending proposals, in their order (those
        /// it answered with a signed acceptance or refusal).
        pending_answer: Vec<Vec<u8>>,
        /// With a [`Verdict::Conflict`]: the evidence.
        conflict: Option<Box<SuccessionConflict>>,
    },
}

impl Canonical for RecoveryMessage {
    const MAX_ENCODED_LEN: usize = 256 * 1024;
    fn encode(&self, w: &mut Writer) {
        match self {
            RecoveryMessage::Notice(n) => w.message(20, n.as_ref()),
            RecoveryMessage::Answer {
                answer,
                pending_answer,
                conflict,
            } => {
                w.message(21, answer.as_ref());
                w.repeated_bytes(22, pending_answer);
                w.optional_message(23, conflict.as_deref());
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let notice: Option<SuccessionNotice> = r.optional_message(20)?;
        let answer: Option<SignedAnswer> = r.optional_message(21)?;
        let pending_answer: Vec<Vec<u8>> = r
            .repeated_bytes(22, dsm_core::receipt::MAX_QUEUE, 200 * 1024)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let conflict: Option<SuccessionConflict> = r.optional_message(23)?;
        match (notice, answer) {
            (Some(n), None) if pending_answer.is_empty() && conflict.is_none() => {
                Ok(RecoveryMessage::Notice(Box::new(n)))
            }
            (None, Some(a)) => Ok(RecoveryMessage::Answer {
                answer: Box::new(a),
                pending_answer,
                conflict: conflict.map(Box::new),
            }),
            _ => Err(DecodeError::Invalid(
                "a recovery message is exactly one notice or one answer",
            )),
        }
    }
}
