//! What a capsule holds (PROTOCOL.md §20.2) and how a stream of them is replayed into the
//! state a successor resumes from.
//!
//! A capsule is a *delta*: the head after one state change, the relationship leaves it
//! changed, the full set of pending proposals, contacts and token policies added since the
//! previous capsule. The first capsule of a device also carries its identity (and the very
//! first one the genesis record). Writing a delta keeps the cost per transfer constant
//! however many relationships a device has; recovery replays the whole stream.

use dsm_core::chain::{Amount, DeviceHead, RelationshipKey, TipDigest, TokenId, TransitionKind};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{PublicKey, Signature};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisRecord};
use dsm_core::parcel::ParcelId;
use dsm_core::receipt::SignedProposal;
use dsm_core::smt::SparseMerkleTree;
use std::collections::BTreeMap;
use thiserror::Error;

use crate::{Capsule, CapsuleKey, MAX_CAPSULE_LEN};

/// One relationship leaf set by a state change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TipEntry {
    /// The relationship.
    pub relationship: RelationshipKey,
    /// The other device of the relationship (so a successor knows whom to notify).
    pub counterparty: DeviceId,
    /// The leaf's new tip.
    pub tip: TipDigest,
    /// The counterparty's slot owner, when the device knew its identity: a successor posts
    /// its notice to the introduction address that derives from it (PROTOCOL.md §16.1).
    pub owner: Option<Digest>,
    /// The address of the counterparty's sealed identity document, when the device held
    /// it: a successor fetches it to seal its notice (PROTOCOL.md §12.6, §20.4).
    pub document: Option<Digest>,
}

impl Canonical for TipEntry {
    const MAX_ENCODED_LEN: usize = 178;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.relationship.as_bytes());
        w.bytes(2, self.counterparty.as_bytes());
        w.bytes(3, self.tip.as_bytes());
        if let Some(o) = &self.owner {
            w.bytes(4, o.as_bytes());
        }
        if let Some(d) = &self.document {
            w.bytes(5, d.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TipEntry {
            relationship: RelationshipKey(Digest(r.fixed(1)?)),
            counterparty: DeviceId(Digest(r.fixed(2)?)),
            tip: TipDigest(Digest(r.fixed(3)?)),
            owner: r.optional_fixed::<32>(4)?.map(Digest),
            document: r.optional_fixed::<32>(5)?.map(Digest),
        })
    }
}

/// The device id of a [`ContactEntry`] that removes its name (PROTOCOL.md §20.2): all
/// zero bytes, which no device id (a BLAKE3 output) is.
pub const REMOVED_CONTACT: DeviceId = DeviceId(Digest([0; 32]));

/// A named contact.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContactEntry {
    /// The name the user gave it.
    pub name: String,
    /// Its device.
    pub device: DeviceId,
    /// The address of its sealed identity document, when its card named one (PROTOCOL.md
    /// §12.6): a successor fetches it again, so what it posts there is sealed.
    pub document: Option<Digest>,
}

impl Canonical for ContactEntry {
    const MAX_ENCODED_LEN: usize = 146;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.name.as_bytes());
        w.bytes(2, self.device.as_bytes());
        if let Some(d) = &self.document {
            w.bytes(3, d.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = std::str::from_utf8(r.bytes(1, 64)?)
            .map_err(|_| DecodeError::Invalid("a contact name is UTF-8"))?
            .to_string();
        let device = DeviceId(Digest(r.fixed(2)?));
        let document = r.optional_fixed::<32>(3)?.map(Digest);
        Ok(ContactEntry {
            name,
            device,
            document,
        })
    }
}

/// A parcel the device holds after the change (PROTOCOL.md §5.6): what a successor takes
/// over. Its lineage is the manifest object at `manifest`, which a pack of this capsule or
/// of an earlier one carries with every object it lists.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeldEntry {
    /// The parcel.
    pub id: ParcelId,
    /// Its token.
    pub token: TokenId,
    /// Its amount.
    pub amount: Amount,
    /// The object address of its canonical lineage manifest.
    pub manifest: Digest,
}

impl Canonical for HeldEntry {
    const MAX_ENCODED_LEN: usize = 130;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.id.as_bytes());
        w.bytes(2, self.token.as_bytes());
        w.bytes(3, &self.amount.0.to_be_bytes());
        w.bytes(4, self.manifest.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HeldEntry {
            id: ParcelId(Digest(r.fixed(1)?)),
            token: TokenId(Digest(r.fixed(2)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(3)?)),
            manifest: Digest(r.fixed(4)?),
        })
    }
}

/// A pack's plaintext: lineage objects (manifests, source proofs, hops, identities), each
/// addressed by its hash, that no earlier pack of the stream carried; strictly ascending
/// bytewise, so a pack has one encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPack {
    /// The objects.
    pub objects: Vec<Vec<u8>>,
}

/// The most bytes one pack's objects take: a pack, sealed, stays under a storage node's
/// item limit (256 KiB).
pub const MAX_PACK_LEN: usize = 224 * 1024;
/// The most packs one capsule has (a recovery's SUCCEED change packs one source proof of
/// about 12 KiB per parcel taken over).
pub const MAX_PACKS_PER_CAPSULE: u64 = 4096;
/// The most parcels one capsule adds to, or removes from, the held set.
pub const MAX_HELD_PER_CAPSULE: usize = 1024;
/// The most capsules one change takes (so one change moves at most 1,048,576 parcels).
pub const MAX_PARTS: u64 = 1024;

impl Canonical for ObjectPack {
    const MAX_ENCODED_LEN: usize = MAX_PACK_LEN + 64 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.repeated_bytes(1, &self.objects);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let objects = r.ascending_objects(
            1,
            MAX_PACK_LEN,
            MAX_PACK_LEN,
            "a pack's objects are strictly ascending",
        )?;
        Ok(ObjectPack { objects })
    }
}

/// Most relationship leaves, pending proposals, contacts and policies one capsule carries.
pub const MAX_TIPS_PER_CAPSULE: usize = 1024;
/// See [`MAX_TIPS_PER_CAPSULE`].
pub const MAX_PENDING_PER_CAPSULE: usize = 16;
/// See [`MAX_TIPS_PER_CAPSULE`].
pub const MAX_CONTACTS_PER_CAPSULE: usize = 32;
/// See [`MAX_TIPS_PER_CAPSULE`].
pub const MAX_POLICIES_PER_CAPSULE: usize = 16;

/// A capsule's plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapsuleBody {
    /// The device's head after the change.
    pub head: DeviceHead,
    /// The relationship leaves the change set.
    pub tips: Vec<TipEntry>,
    /// Every proposal of this device still waiting for an answer after the change.
    pub pending: Vec<SignedProposal>,
    /// Contacts added since the previous capsule.
    pub contacts: Vec<ContactEntry>,
    /// The genesis record: in the stream's first capsule only.
    pub genesis: Option<GenesisRecord>,
    /// The device's identity: in the first capsule each device writes.
    pub identity: Option<DeviceIdentity>,
    /// The device's admission of the recovery authority to its slots
    /// ([`dsm_core::slot::admit_authority`]): with the identity, when the genesis names an
    /// authority. A successor shows it to the nodes to write the lost device's slots.
    pub authority_admission: Option<Signature>,
    /// Canonical token policies learned since the previous capsule.
    pub policies: Vec<Vec<u8>>,
    /// Parcels the change added to the held set.
    pub held: Vec<HeldEntry>,
    /// Parcels the change took out of the held set.
    pub spent: Vec<ParcelId>,
    /// How many object packs go with this capsule (slots `pack_position(index, 0..packs)`).
    pub packs: u64,
    /// The object addresses of the offers (without objects: the signed proposal and its
    /// inputs' manifests) of proposals the change signed, carried in a pack: what a
    /// successor needs to take back a pending transfer refused after the recovery.
    pub offers: Vec<Digest>,
    /// How many capsules this change takes (0 or 1: this one): a change that moves more
    /// parcels than one capsule records continues in the next `parts - 1` capsules, which
    /// carry the same head and pending set and the rest of `held` and `spent`.
    pub parts: u64,
}

impl Canonical for CapsuleBody {
    const MAX_ENCODED_LEN: usize = MAX_CAPSULE_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.head);
        w.repeated_message(2, &self.tips);
        w.repeated_message(3, &self.pending);
        w.repeated_message(4, &self.contacts);
        w.optional_message(5, self.genesis.as_ref());
        w.optional_message(6, self.identity.as_ref());
        w.repeated_bytes(7, &self.policies);
        w.repeated_message(8, &self.held);
        let spent: Vec<&[u8]> = self.spent.iter().map(|p| p.as_bytes().as_slice()).collect();
        for p in spent {
            w.bytes(9, p);
        }
        w.uint(10, self.packs);
        for o in &self.offers {
            w.bytes(11, o.as_bytes());
        }
        w.uint(12, self.parts);
        w.optional_message(13, self.authority_admission.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let head = r.message(1)?;
        let tips = r.repeated_message(2, MAX_TIPS_PER_CAPSULE)?;
        let pending = r.repeated_message(3, MAX_PENDING_PER_CAPSULE)?;
        let contacts = r.repeated_message(4, MAX_CONTACTS_PER_CAPSULE)?;
        let genesis = r.optional_message(5)?;
        let identity = r.optional_message(6)?;
        let mut policies = Vec::new();
        loop {
            let b = r.bytes(7, 16 * 1024)?;
            if b.is_empty() {
                break;
            }
            if policies.len() == MAX_POLICIES_PER_CAPSULE {
                return Err(DecodeError::TooMany {
                    field: 7,
                    max: MAX_POLICIES_PER_CAPSULE,
                });
            }
            policies.push(b.to_vec());
        }
        let held = r.repeated_message(8, MAX_HELD_PER_CAPSULE)?;
        let spent = r
            .repeated_fixed::<32>(9, MAX_HELD_PER_CAPSULE)?
            .into_iter()
            .map(|b| ParcelId(Digest(b)))
            .collect();
        let packs = r.uint_max(10, MAX_PACKS_PER_CAPSULE)?;
        let offers = r
            .repeated_fixed::<32>(11, MAX_PENDING_PER_CAPSULE)?
            .into_iter()
            .map(Digest)
            .collect();
        let parts = r.uint_max(12, MAX_PARTS)?;
        let authority_admission = r.optional_message(13)?;
        Ok(CapsuleBody {
            head,
            tips,
            pending,
            contacts,
            genesis,
            identity,
            policies,
            held,
            spent,
            packs,
            offers,
            parts,
            authority_admission,
        })
    }
}

/// Why a stream could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// No capsule at all.
    #[error("no backup capsules were found for this recovery phrase")]
    Empty,
    /// A capsule does not open (wrong phrase or damaged).
    #[error("capsule {index} does not open: {why}")]
    Open {
        /// Its index.
        index: u64,
        /// Why.
        why: crate::RecoveryError,
    },
    /// A capsule's plaintext is not a canonical body, or breaks the stream's rules.
    #[error("capsule {index} is inconsistent: {why}")]
    Inconsistent {
        /// Its index.
        index: u64,
        /// What is wrong.
        why: String,
    },
}

/// The state a stream replays to: what a successor resumes from.
#[derive(Clone)]
pub struct RecoveredState {
    /// The identity's genesis record.
    pub genesis: GenesisRecord,
    /// The device's admission of the genesis's recovery authority to its slots (checked).
    pub authority_admission: Option<Signature>,
    /// The device the stream's last capsules belong to (the one to tombstone).
    pub identity: DeviceIdentity,
    /// Its last head.
    pub head: DeviceHead,
    /// Its relationship tree (root = `head.smt_root`).
    pub tree: SparseMerkleTree,
    /// Relationship → (counterparty, tip), for every leaf of the tree.
    pub relationships: BTreeMap<RelationshipKey, (DeviceId, TipDigest)>,
    /// Each counterparty's slot owner, as the last tip entry that named one gave it.
    pub owners: BTreeMap<DeviceId, Digest>,
    /// Proposals pending at the last head.
    pub pending: Vec<SignedProposal>,
    /// Contacts by name.
    pub contacts: BTreeMap<String, DeviceId>,
    /// The sealed identity-document address of each contact device whose card named one,
    /// and of each counterparty whose document the device held (tip entries).
    pub documents: BTreeMap<DeviceId, Digest>,
    /// Token policies, canonical bytes.
    pub policies: Vec<Vec<u8>>,
    /// The parcels held at the last head, by id (PROTOCOL.md §20.2).
    pub held: BTreeMap<ParcelId, HeldEntry>,
    /// `(capsule index, packs)` for every replayed capsule that has packs, in order.
    pub packs: Vec<(u64, u64)>,
    /// The object addresses of every offer the stream carried (§20.5).
    pub offers: Vec<Digest>,
    /// How many capsules were replayed.
    pub capsules: u64,
    /// The last capsule's digest (the next capsule's `prev`).
    pub last_digest: Digest,
}

/// Replays a consistent chain (from [`crate::consistent_chain`]): opens every capsule,
/// decodes its body, and checks that heads follow each other (height + 1 and parent
/// digest, or unchanged for a change that moved no head), that each head is the device's,
/// and that the rebuilt tree's root is the head's after every capsule. A stream holds one
/// device: each device generation writes its own (`RecoveryKeys::generation`).
pub fn replay(key: &CapsuleKey, chain: &[Capsule]) -> Result<RecoveredState, ReplayError> {
    let mut state: Option<RecoveredState> = None;
    let mut at = 0;
    while at < chain.len() {
        let c = &chain[at];
        let index = c.index;
        let bad = |why: &str| ReplayError::Inconsistent {
            index,
            why: why.to_string(),
        };
        let open = |c: &Capsule| -> Result<CapsuleBody, ReplayError> {
            let pt = key.open(c).map_err(|why| ReplayError::Open {
                index: c.index,
                why,
            })?;
            CapsuleBody::from_bytes(&pt).map_err(|e| ReplayError::Inconsistent {
                index: c.index,
                why: e.to_string(),
            })
        };
        let mut body = open(c)?;
        // A change in several capsules is applied whole, or (its last parts missing at the
        // nodes) not at all: the backup is then restored up to the change before.
        let parts = body.parts.max(1) as usize;
        if at + parts > chain.len() {
            break;
        }
        for more in &chain[at + 1..at + parts] {
            let part = open(more)?;
            if part.head != body.head
                || part.pending != body.pending
                || part.parts != 0
                || part.genesis.is_some()
                || part.identity.is_some()
                || part.authority_admission.is_some()
                || !part.tips.is_empty()
                || !part.contacts.is_empty()
                || !part.policies.is_empty()
                || part.packs != 0
                || !part.offers.is_empty()
            {
                return Err(ReplayError::Inconsistent {
                    index: more.index,
                    why: "a continuation capsule carries more than the rest of its change".into(),
                });
            }
            body.held.extend(part.held);
            body.spent.extend(part.spent);
        }
        let last = &chain[at + parts - 1];
        at += parts;
        let st = match state.as_mut() {
            None => {
                let genesis = body
                    .genesis
                    .clone()
                    .ok_or_else(|| bad("the first capsule carries no genesis record"))?;
                let identity = body
                    .identity
                    .clone()
                    .ok_or_else(|| bad("the first capsule carries no identity"))?;
                if identity.genesis != genesis.digest() {
                    return Err(bad("the identity is not of the genesis"));
                }
                let authority_admission = body.authority_admission.clone();
                let admits = |a: &PublicKey, s: &Signature| {
                    let owner = dsm_core::slot::device_slots_owner(&identity);
                    let msg = dsm_core::slot::authority_admission_message(&owner, a);
                    identity.public_key.verify(msg.as_bytes(), s).is_ok()
                };
                match (&genesis.recovery_authority, &authority_admission) {
                    (Some(a), Some(s)) if admits(a, s) => {}
                    (None, None) => {}
                    _ => {
                        return Err(bad(
                            "the first capsule does not carry the device's admission of the \
                             recovery authority",
                        ))
                    }
                }
                state.insert(RecoveredState {
                    authority_admission,
                    genesis,
                    head: DeviceHead::initial(identity.device_id(), &identity.genesis),
                    identity,
                    tree: SparseMerkleTree::new(),
                    relationships: BTreeMap::new(),
                    owners: BTreeMap::new(),
                    pending: Vec::new(),
                    contacts: BTreeMap::new(),
                    documents: BTreeMap::new(),
                    policies: Vec::new(),
                    held: BTreeMap::new(),
                    packs: Vec::new(),
                    offers: Vec::new(),
                    capsules: 0,
                    last_digest: Digest::ZERO,
                })
            }
            Some(st) => {
                if body.genesis.is_some() || body.authority_admission.is_some() {
                    return Err(bad(
                        "only the first capsule carries the genesis record and the authority's \
                         admission",
                    ));
                }
                if body.identity.as_ref().is_some_and(|id| *id != st.identity) {
                    return Err(bad(
                        "a second device in one stream (each device generation writes its own)",
                    ));
                }
                st
            }
        };
        let device = st.identity.device_id();
        let h = &body.head;
        if h.device != device {
            return Err(bad("the head is not the device's"));
        }
        let follows = (h.height == st.head.height && *h == st.head)
            || (Some(h.height) == st.head.height.checked_add(1) && h.parent == st.head.digest())
            || (h.height == 0 && h.kind == TransitionKind::Create && st.head == *h);
        if !follows {
            return Err(bad("the head does not follow the previous capsule's head"));
        }
        for t in &body.tips {
            if t.relationship != RelationshipKey::between(&device, &t.counterparty) {
                return Err(bad("a relationship leaf names the wrong counterparty"));
            }
            st.tree.insert(*t.relationship.as_bytes(), t.tip.0);
            st.relationships
                .insert(t.relationship, (t.counterparty, t.tip));
            if let Some(o) = t.owner {
                st.owners.insert(t.counterparty, o);
            }
            if let Some(d) = t.document {
                st.documents.insert(t.counterparty, d);
            }
        }
        if st.tree.root() != h.smt_root {
            return Err(bad("the rebuilt relationship tree does not match the head"));
        }
        st.head = h.clone();
        st.pending = body.pending;
        for ce in body.contacts {
            if ce.device == REMOVED_CONTACT {
                st.contacts.remove(&ce.name);
            } else {
                if let Some(d) = ce.document {
                    st.documents.insert(ce.device, d);
                }
                st.contacts.insert(ce.name, ce.device);
            }
        }
        st.policies.extend(body.policies);
        for p in &body.spent {
            if st.held.remove(p).is_none() {
                return Err(bad("a capsule spends a parcel the device did not hold"));
            }
        }
        for e in body.held {
            st.held.insert(e.id, e);
        }
        // The held set adds up to the head's balances after every change, as a wallet
        // checks when it opens (PROTOCOL.md §20.2).
        let mut sums: BTreeMap<TokenId, u128> = BTreeMap::new();
        for e in st.held.values() {
            let s = sums.entry(e.token).or_default();
            *s = s
                .checked_add(e.amount.0)
                .ok_or_else(|| bad("the held parcels overflow"))?;
        }
        let adds_up = h.balances.entries().len() == sums.len()
            && h.balances
                .entries()
                .iter()
                .all(|b| sums.get(&b.token) == Some(&b.amount.0));
        if !adds_up {
            return Err(bad("the parcels held do not add up to the head's balances"));
        }
        if body.packs > 0 {
            st.packs.push((index, body.packs));
        }
        st.offers.extend(body.offers);
        st.capsules = last.index + 1;
        st.last_digest = last.digest();
    }
    state.ok_or(ReplayError::Empty)
}
