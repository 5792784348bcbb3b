//! Owned slots at the storage nodes (PROTOCOL.md §15.2): a write-once slot whose address
//! names who may write it, so that a stranger without the key cannot take, poison or block
//! it. The node checks only this: that the write's signer is admitted to the slot's owner
//! (self-certifying: the owner is a hash of what admits the key) and that the signature
//! covers the slot's address and the body's digest. It never decodes the body.
//!
//! One signature may cover several slots (a statement that claims several parcels), and it
//! travels with the body: whoever holds an [`OwnedPut`] (a counterparty, or a reader that
//! found it at one node) can put the same bytes at the slot's other nodes.

use crate::chain::HeadDigest;
use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::{PublicKey, Signature, SigningKey};
use crate::hash::{tagged_hash, Digest};
use crate::identity::{DeviceIdentity, GenesisDigest};
use crate::parcel::{parcel_slot, Hop};
use crate::tags::Tag;
use crate::tripwire::Statement;
use thiserror::Error;

/// The most keys an owner of kind [`Admission::Keys`] admits.
pub const MAX_ADMITTED: usize = 16;
/// The most slots one signature covers.
pub const MAX_ENTRIES: usize = 64;

/// `H(SlotKey, canonical public key)`: how an owner of kind [`Admission::Keys`] lists a key.
pub fn key_digest(key: &PublicKey) -> Digest {
    tagged_hash(Tag::SlotKey, &[&key.to_bytes()])
}

/// The owner that admits exactly the keys whose digests are `admitted` (sorted, distinct):
/// `H(SlotOwner, d_1, …, d_n)`.
pub fn keys_owner(admitted: &[Digest]) -> Digest {
    let fields: Vec<&[u8]> = admitted.iter().map(|d| d.as_bytes().as_slice()).collect();
    tagged_hash(Tag::SlotOwner, &fields)
}

/// The owner that admits any device whose slot owner ([`device_slots_owner`]) is in
/// `parties` (sorted, distinct): `H(SlotParties, owner_1, …, owner_n)` — a vault's creator
/// and beneficiary, for example.
pub fn parties_owner(parties: &[Digest]) -> Digest {
    let fields: Vec<&[u8]> = parties.iter().map(|d| d.as_bytes().as_slice()).collect();
    tagged_hash(Tag::SlotParties, &fields)
}

/// The owner of slots only a genesis's recovery authority may write (a tombstone, a
/// succession): `H(RecoveryOwner, H(GenesisBlind, genesis), H(SlotKey, authority))`. The
/// devices of that genesis are not admitted, so a thief holding a device key cannot claim
/// them; the node sees the genesis blind and the authority's key, never the genesis.
pub fn recovery_owner(genesis: &GenesisDigest, authority: &PublicKey) -> Digest {
    authority_owner(&genesis_blind(genesis), authority)
}

fn authority_owner(blind: &Digest, authority: &PublicKey) -> Digest {
    tagged_hash(
        Tag::RecoveryOwner,
        &[blind.as_bytes(), key_digest(authority).as_bytes()],
    )
}

/// What a device signs to admit its genesis's recovery authority to its slots (PROTOCOL.md
/// §15.2, §20.2): `H(SlotAuthority, device slots owner, H(SlotKey, authority))`. Signed once,
/// deterministically, and carried in the device's first backup capsule, so a recoverer
/// proves to a node that the authority may write the lost device's slots without showing
/// the genesis record.
pub fn authority_admission_message(slots_owner: &Digest, authority: &PublicKey) -> Digest {
    tagged_hash(
        Tag::SlotAuthority,
        &[slots_owner.as_bytes(), key_digest(authority).as_bytes()],
    )
}

/// The device's signature admitting `authority` to its slots: over
/// [`authority_admission_message`], with zero signing randomness (the same bytes every time).
pub fn admit_authority(
    device: &SigningKey,
    identity: &DeviceIdentity,
    authority: &PublicKey,
) -> Result<Signature, crate::crypto::CryptoError> {
    let msg = authority_admission_message(&device_slots_owner(identity), authority);
    device.sign(msg.as_bytes(), &[0u8; 32])
}

/// `H(GenesisBlind, genesis)`: what a device's slot writes show of its genesis, so a node
/// checks them without learning the genesis (from which, with the device's key, it would
/// compute the device id and the device's first head).
pub fn genesis_blind(genesis: &GenesisDigest) -> Digest {
    tagged_hash(Tag::GenesisBlind, &[genesis.as_bytes()])
}

/// The owner of a device's own slots — its anchors and the slots of the parcels it holds
/// (PROTOCOL.md §15.2): `H(DeviceSlots, H(GenesisBlind, genesis), H(SlotKey, key))`. Every
/// verifier that knows the device's identity computes it; a node sees only this hash, the
/// genesis blind and the key, never the device id.
pub fn device_slots_owner(device: &DeviceIdentity) -> Digest {
    slots_owner(&genesis_blind(&device.genesis), &device.public_key)
}

fn slots_owner(blind: &Digest, key: &PublicKey) -> Digest {
    tagged_hash(
        Tag::DeviceSlots,
        &[blind.as_bytes(), key_digest(key).as_bytes()],
    )
}

/// `H(SlotBody, body)`: the digest a write signs for the bytes it puts in a slot.
pub fn body_digest(body: &[u8]) -> Digest {
    tagged_hash(Tag::SlotBody, &[body])
}

/// The owned anchor slot of a device's head successor (PROTOCOL.md §16.2): `(the device's
/// slot owner, H(AnchorSlot, parent head digest))`. It holds the first statement signed
/// from that head, sealed by [`seal_statement`].
pub fn anchor_slot(device: &DeviceIdentity, parent: &HeadDigest) -> (Digest, Digest) {
    (
        device_slots_owner(device),
        tagged_hash(Tag::AnchorSlot, &[parent.as_bytes()]),
    )
}

/// What an anchor slot holds for `st`: the canonical statement sealed under its parent head
/// ([`seal_anchor_body`]), so only a reader who knows that head opens it.
pub fn seal_statement(st: &Statement) -> Vec<u8> {
    let (_, parent, _) = st.head_transition();
    seal_anchor_body(&parent, &st.to_bytes())
}

/// Seals `plain` — a statement from `parent`, or the succession record a recovery puts in
/// the lost device's anchor (§20.3) — for the anchor slot of `parent`: [`crate::seal`] with
/// `AnchorSeal` and the parent head as context.
pub fn seal_anchor_body(parent: &HeadDigest, plain: &[u8]) -> Vec<u8> {
    crate::seal::seal(Tag::AnchorSeal, parent.as_bytes(), plain)
}

/// What [`seal_anchor_body`] sealed in `body` for the anchor slot of `parent`; `None` for
/// anything else (noise: a reader learns nothing from it).
pub fn open_anchor_body(parent: &HeadDigest, body: &[u8]) -> Option<Vec<u8>> {
    crate::seal::open(Tag::AnchorSeal, parent.as_bytes(), body)
}

/// The slots a statement claims, each with its body: its anchor slot (the sealed
/// statement) and, for a statement that consumes parcels, each consumed parcel's slot (the
/// sealed hop). What its signer covers with one [`SlotWrite`].
pub fn statement_entries(st: &Statement) -> Vec<SlotEntry> {
    let (_, parent, _) = st.head_transition();
    let (owner, key) = anchor_slot(st.signer(), &parent);
    let mut v = vec![SlotEntry {
        owner,
        key,
        body: body_digest(&seal_statement(st)),
    }];
    if let Some(h) = st.hop() {
        v.extend(hop_entries(&h, st.signer()));
    }
    v
}

/// The slots of the parcels `hop` consumes (its signer `holder`), each with the hop sealed
/// for that parcel ([`crate::parcel::seal_hop`]) as its body.
pub fn hop_entries(hop: &Hop, holder: &DeviceIdentity) -> Vec<SlotEntry> {
    hop.statement
        .inputs
        .iter()
        .map(|p| {
            let (owner, key) = parcel_slot(p, holder);
            SlotEntry {
                owner,
                key,
                body: body_digest(&crate::parcel::seal_hop(p, hop)),
            }
        })
        .collect()
}

/// How a writer shows a node that its key is admitted to a slot's owner. Each kind proves a
/// set of owners from hashes alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Admission {
    /// The signer is a device key of `genesis`: it owns the owner
    /// `H(DeviceId, genesis, signer)`, its device id. What a b0x read shows (§16.1); a
    /// device's slot writes use [`Admission::DeviceSlots`], which does not show the genesis.
    Device {
        /// The device's genesis.
        genesis: GenesisDigest,
    },
    /// The signer is a device key of the genesis whose [`genesis_blind`] is `genesis_blind`:
    /// it owns `H(DeviceSlots, genesis_blind, H(SlotKey, signer))`, its
    /// [`device_slots_owner`].
    DeviceSlots {
        /// `H(GenesisBlind, genesis)`.
        genesis_blind: Digest,
    },
    /// The signer is a genesis's recovery authority: it owns [`recovery_owner`] of the
    /// genesis whose [`genesis_blind`] is `genesis_blind` and its own key and, when `device`
    /// is given with that device's admission of the signer ([`admit_authority`]), that
    /// device's slots owner too (the succession record in the lost device's anchor).
    Authority {
        /// `H(GenesisBlind, genesis)`.
        genesis_blind: Digest,
        /// A device key of that genesis whose slots the authority also writes, and the
        /// device's signature over [`authority_admission_message`] for the signer.
        device: Option<(PublicKey, Signature)>,
    },
    /// The signer is a key that a recovery authority delegated `device`'s slots to (a
    /// successor, PROTOCOL.md §20.3): `admission` is the device's signature admitting
    /// `authority` ([`admit_authority`]) and `delegation` the authority's signature over
    /// [`delegation_message`]. It owns that device's slots owner.
    Successor {
        /// `H(GenesisBlind, genesis)`.
        genesis_blind: Digest,
        /// The device key of that genesis whose slots are delegated.
        device: PublicKey,
        /// The device's signature over `authority_admission_message(device slots owner,
        /// authority)`.
        admission: Signature,
        /// The recovery authority's key.
        authority: PublicKey,
        /// The authority's signature over `delegation_message(device slots owner, signer)`.
        delegation: Signature,
    },
    /// The signer's [`key_digest`] is one of `admitted` (sorted, distinct), and the owner is
    /// [`keys_owner`] of the list: a token's issuers or refreshers, for example.
    Keys {
        /// The admitted keys' digests.
        admitted: Vec<Digest>,
    },
    /// The signer is a device key of the genesis whose [`genesis_blind`] is
    /// `genesis_blind`, its slot owner `H(DeviceSlots, genesis_blind, H(SlotKey, signer))` is
    /// one of `parties` (sorted, distinct), and the owner is [`parties_owner`] of the list: a
    /// vault's parties, each known by its slot owner — the node sees no genesis or device id.
    Parties {
        /// `H(GenesisBlind, genesis)` of the signer's genesis.
        genesis_blind: Digest,
        /// The admitted devices' slot owners.
        parties: Vec<Digest>,
    },
}

impl Admission {
    /// The owners this admission proves for `signer`, or why it proves none.
    pub fn owners(&self, signer: &PublicKey) -> Result<Vec<Digest>, SlotAuthError> {
        let owners = self.claimed_owners(signer)?;
        self.verify_delegation(signer)?;
        Ok(owners)
    }

    /// The owners this admission would prove for `signer`, from hashes alone: no signature
    /// is checked, so a node refuses a write for another owner before it verifies anything.
    fn claimed_owners(&self, signer: &PublicKey) -> Result<Vec<Digest>, SlotAuthError> {
        match self {
            Admission::Device { genesis } => Ok(vec![device_owner(genesis, signer)]),
            Admission::DeviceSlots { genesis_blind } => {
                Ok(vec![slots_owner(genesis_blind, signer)])
            }
            Admission::Authority {
                genesis_blind,
                device,
            } => {
                let mut owners = vec![authority_owner(genesis_blind, signer)];
                if let Some((d, _)) = device {
                    owners.push(slots_owner(genesis_blind, d));
                }
                Ok(owners)
            }
            Admission::Successor {
                genesis_blind,
                device,
                ..
            } => Ok(vec![slots_owner(genesis_blind, device)]),
            Admission::Keys { admitted } => {
                if admitted.binary_search(&key_digest(signer)).is_err() {
                    return Err(SlotAuthError::NotAdmitted);
                }
                Ok(vec![keys_owner(admitted)])
            }
            Admission::Parties {
                genesis_blind,
                parties,
            } => {
                if parties
                    .binary_search(&slots_owner(genesis_blind, signer))
                    .is_err()
                {
                    return Err(SlotAuthError::NotAdmitted);
                }
                Ok(vec![parties_owner(parties)])
            }
        }
    }

    /// The admissions that need signatures checked: a device's admission of its recovery
    /// authority (kinds 2 with a device, and 4), and a successor's delegation by that
    /// authority (kind 4).
    fn verify_delegation(&self, signer: &PublicKey) -> Result<(), SlotAuthError> {
        let admitted = |blind: &Digest, device: &PublicKey, sig: &Signature, authority| {
            let owner = slots_owner(blind, device);
            device
                .verify(
                    authority_admission_message(&owner, authority).as_bytes(),
                    sig,
                )
                .map(|()| owner)
                .map_err(|_| SlotAuthError::NotTheAuthority)
        };
        match self {
            Admission::Authority {
                genesis_blind,
                device: Some((device, admission)),
            } => admitted(genesis_blind, device, admission, signer).map(|_| ()),
            Admission::Successor {
                genesis_blind,
                device,
                admission,
                authority,
                delegation,
            } => {
                let owner = admitted(genesis_blind, device, admission, authority)?;
                authority
                    .verify(delegation_message(&owner, signer).as_bytes(), delegation)
                    .map_err(|_| SlotAuthError::Delegation)
            }
            _ => Ok(()),
        }
    }
}

/// What a recovery authority signs to delegate a device's slots (`owner`, its
/// [`device_slots_owner`]) to `delegate`:
/// `H(SlotDelegation, owner, H(SlotKey, delegate))`.
pub fn delegation_message(owner: &Digest, delegate: &PublicKey) -> Digest {
    tagged_hash(
        Tag::SlotDelegation,
        &[owner.as_bytes(), key_digest(delegate).as_bytes()],
    )
}

/// A device's id, computed as [`crate::identity::DeviceIdentity::device_id`] does.
fn device_owner(genesis: &GenesisDigest, key: &PublicKey) -> Digest {
    *crate::identity::DeviceIdentity {
        genesis: *genesis,
        public_key: key.clone(),
    }
    .device_id()
    .digest()
}

impl Canonical for Admission {
    const MAX_ENCODED_LEN: usize =
        2 * PublicKey::MAX_ENCODED_LEN + 2 * Signature::MAX_ENCODED_LEN + 64;
    fn encode(&self, w: &mut Writer) {
        match self {
            Admission::Device { genesis } => {
                w.uint(1, 1);
                w.bytes(2, genesis.as_bytes());
            }
            Admission::Authority {
                genesis_blind,
                device,
            } => {
                w.uint(1, 2);
                w.optional_message(4, device.as_ref().map(|(k, _)| k));
                w.bytes(8, genesis_blind.as_bytes());
                w.optional_message(9, device.as_ref().map(|(_, s)| s));
            }
            Admission::Successor {
                genesis_blind,
                device,
                admission,
                authority,
                delegation,
            } => {
                w.uint(1, 4);
                w.message(4, device);
                w.message(6, delegation);
                w.bytes(8, genesis_blind.as_bytes());
                w.message(9, admission);
                w.message(10, authority);
            }
            Admission::Keys { admitted } => {
                w.uint(1, 3);
                let raw: Vec<&[u8; 32]> = admitted.iter().map(Digest::as_bytes).collect();
                w.repeated_bytes(5, &raw);
            }
            Admission::DeviceSlots { genesis_blind } => {
                w.uint(1, 6);
                w.bytes(8, genesis_blind.as_bytes());
            }
            Admission::Parties {
                genesis_blind,
                parties,
            } => {
                w.uint(1, 5);
                let raw: Vec<&[u8; 32]> = parties.iter().map(Digest::as_bytes).collect();
                w.repeated_bytes(7, &raw);
                w.bytes(8, genesis_blind.as_bytes());
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.uint(1)? {
            1 => Admission::Device {
                genesis: GenesisDigest(Digest(r.fixed(2)?)),
            },
            2 => {
                let device: Option<PublicKey> = r.optional_message(4)?;
                let genesis_blind = Digest(r.fixed(8)?);
                let admission: Option<Signature> = r.optional_message(9)?;
                let device = match (device, admission) {
                    (Some(k), Some(s)) => Some((k, s)),
                    (None, None) => None,
                    _ => {
                        return Err(DecodeError::Invalid(
                            "a device and its admission of the authority go together",
                        ))
                    }
                };
                Admission::Authority {
                    genesis_blind,
                    device,
                }
            }
            3 => Admission::Keys {
                admitted: ascending(
                    r,
                    5,
                    "admitted keys must be listed once each, in ascending order",
                )?,
            },
            4 => Admission::Successor {
                device: r.message(4)?,
                delegation: r.message(6)?,
                genesis_blind: Digest(r.fixed(8)?),
                admission: r.message(9)?,
                authority: r.message(10)?,
            },
            5 => Admission::Parties {
                parties: ascending(
                    r,
                    7,
                    "admitted devices must be listed once each, in ascending order",
                )?,
                genesis_blind: Digest(r.fixed(8)?),
            },
            6 => Admission::DeviceSlots {
                genesis_blind: Digest(r.fixed(8)?),
            },
            _ => return Err(DecodeError::Invalid("unknown admission kind")),
        })
    }
}

/// A list of 1 to [`MAX_ADMITTED`] digests in `field`, strictly ascending (else `why`).
fn ascending(
    r: &mut Reader<'_>,
    field: u32,
    why: &'static str,
) -> Result<Vec<Digest>, DecodeError> {
    let list: Vec<Digest> = r
        .repeated_fixed::<32>(field, MAX_ADMITTED)?
        .into_iter()
        .map(Digest)
        .collect();
    if list.is_empty() || !list.windows(2).all(|w| w[0] < w[1]) {
        return Err(DecodeError::Invalid(why));
    }
    Ok(list)
}

/// One slot a write covers: the owner and key of its address and the digest of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotEntry {
    /// The slot's owner (first path segment).
    pub owner: Digest,
    /// The slot's key under that owner (second path segment).
    pub key: Digest,
    /// [`body_digest`] of what the slot is to hold.
    pub body: Digest,
}

impl Canonical for SlotEntry {
    const MAX_ENCODED_LEN: usize = 3 * 34;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.owner.as_bytes());
        w.bytes(2, self.key.as_bytes());
        w.bytes(3, self.body.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SlotEntry {
            owner: Digest(r.fixed(1)?),
            key: Digest(r.fixed(2)?),
            body: Digest(r.fixed(3)?),
        })
    }
}

/// A signed authorization to write one or more owned slots.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotWrite {
    /// Why the signer may write.
    pub admission: Admission,
    /// The signer's public key.
    pub signer: PublicKey,
    /// The slots covered, sorted and distinct.
    pub entries: Vec<SlotEntry>,
    /// The signer's signature over [`SlotWrite::message`].
    pub signature: Signature,
}

impl SlotWrite {
    /// What is signed: `H(SlotWrite, owner_1, key_1, body_1, …)` over the sorted entries.
    pub fn message(entries: &[SlotEntry]) -> Digest {
        let fields: Vec<&[u8]> = entries
            .iter()
            .flat_map(|e| {
                [
                    e.owner.as_bytes().as_slice(),
                    e.key.as_bytes().as_slice(),
                    e.body.as_bytes().as_slice(),
                ]
            })
            .collect();
        tagged_hash(Tag::SlotWrite, &fields)
    }

    /// Signs a write of `entries` with `key`, admitted by `admission`. Fails if the entries
    /// are empty or too many, or if `admission` does not prove every entry's owner for the
    /// key (a write the nodes would refuse is never made).
    pub fn sign(
        admission: Admission,
        key: &SigningKey,
        mut entries: Vec<SlotEntry>,
        rnd: &[u8; 32],
    ) -> Result<SlotWrite, SlotAuthError> {
        entries.sort();
        entries.dedup();
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            return Err(SlotAuthError::Entries);
        }
        let signer = key.public_key().clone();
        let owners = admission.owners(&signer)?;
        if entries.iter().any(|e| !owners.contains(&e.owner)) {
            return Err(SlotAuthError::NotAdmitted);
        }
        let signature = key
            .sign(Self::message(&entries).as_bytes(), rnd)
            .map_err(|_| SlotAuthError::Signature)?;
        Ok(SlotWrite {
            admission,
            signer,
            entries,
            signature,
        })
    }

    /// Checks that this write admits putting `body` in slot `(owner, key)`: the slot and the
    /// body's digest are covered, the admission proves `owner` for the signer, and the
    /// signature verifies. What a node runs before it stores anything.
    pub fn check(&self, owner: &Digest, key: &Digest, body: &[u8]) -> Result<(), SlotAuthError> {
        self.check_all(&[SlotEntry {
            owner: *owner,
            key: *key,
            body: body_digest(body),
        }])
    }

    /// [`SlotWrite::check`] for several slots at once, verifying the signature once.
    pub fn check_all(&self, slots: &[SlotEntry]) -> Result<(), SlotAuthError> {
        if slots.iter().any(|e| self.entries.binary_search(e).is_err()) {
            return Err(SlotAuthError::NotCovered);
        }
        // Cheapest first: coverage, then ownership from hashes, then the signatures.
        let owners = self.admission.claimed_owners(&self.signer)?;
        if slots.iter().any(|e| !owners.contains(&e.owner)) {
            return Err(SlotAuthError::NotAdmitted);
        }
        self.admission.verify_delegation(&self.signer)?;
        self.signer
            .verify(Self::message(&self.entries).as_bytes(), &self.signature)
            .map_err(|_| SlotAuthError::Signature)
    }
}

impl Canonical for SlotWrite {
    const MAX_ENCODED_LEN: usize =
        Admission::MAX_ENCODED_LEN + 4300 + MAX_ENTRIES * 110 + Signature::MAX_ENCODED_LEN + 32;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.admission);
        w.message(2, &self.signer);
        w.repeated_message(3, &self.entries);
        w.message(4, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let admission = r.message(1)?;
        let signer = r.message(2)?;
        let entries: Vec<SlotEntry> = r.repeated_message(3, MAX_ENTRIES)?;
        if entries.is_empty() || !entries.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(
                "a slot write lists its slots once each, in ascending order",
            ));
        }
        Ok(SlotWrite {
            admission,
            signer,
            entries,
            signature: r.message(4)?,
        })
    }
}

/// What a client puts in an owned slot and what the node keeps and serves: the write's
/// authorization and the body. Anyone holding these bytes can put them at the slot's other
/// nodes; readers judge `body` and may ignore `write`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedPut {
    /// The authorization.
    pub write: SlotWrite,
    /// The slot's content.
    pub body: Vec<u8>,
}

/// The largest body an owned slot holds.
pub const MAX_BODY_LEN: usize = 232 * 1024;

impl Canonical for OwnedPut {
    const MAX_ENCODED_LEN: usize = SlotWrite::MAX_ENCODED_LEN + MAX_BODY_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.write);
        w.bytes(2, &self.body);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OwnedPut {
            write: r.message(1)?,
            body: r.bytes(2, MAX_BODY_LEN)?.to_vec(),
        })
    }
}

impl OwnedPut {
    /// [`SlotWrite::check`] for this body.
    pub fn check(&self, owner: &Digest, key: &Digest) -> Result<(), SlotAuthError> {
        self.write.check(owner, key, &self.body)
    }
}

/// Why an owned-slot write is refused (the node answers 403 with this text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SlotAuthError {
    /// The write does not list this slot with this body's digest.
    #[error("the write's signature does not cover this slot with this body")]
    NotCovered,
    /// The signer's key is not admitted to the slot's owner.
    #[error("the signer's key is not admitted to this slot's owner")]
    NotAdmitted,
    /// An authority or successor admission whose device did not admit that authority.
    #[error("the device did not admit this recovery authority to its slots")]
    NotTheAuthority,
    /// A successor admission whose delegation the authority did not sign.
    #[error("the recovery authority did not delegate this device's slots to the signer")]
    Delegation,
    /// The signature does not verify (or could not be made).
    #[error("the write's signature does not verify")]
    Signature,
    /// No slots, or more than [`MAX_ENTRIES`].
    #[error("a write covers between 1 and {MAX_ENTRIES} slots")]
    Entries,
}

/// A node's id as b0x access signatures name it (PROTOCOL.md §16.1): the authority of its
/// URL — `host` or `host:port`, no scheme, no path — in lower case, without a default port
/// (`:80`, `:443`), which HTTP clients leave out of the `Host` header.
pub fn node_id(authority: &str) -> String {
    let a = authority.to_ascii_lowercase();
    for default in [":80", ":443"] {
        if let Some(stripped) = a.strip_suffix(default) {
            return stripped.to_string();
        }
    }
    a
}

/// A device's b0x address (PROTOCOL.md §16.1), from its slot owner `owner`
/// ([`device_slots_owner`]): with no `blind`, its **introduction address**
/// `H(B0xAddress, slot owner)`, where anyone who knows the device's identity may post a
/// first item; with one, the **relationship address** `H(B0xRelationship, blind, slot
/// owner)` the device named for one counterparty ([`crate::tags::Tag::B0xReplyTo`]).
/// Without the blind, nobody can tell a relationship address from any other hash, nor link
/// two of them. Keyed by the slot owner, not the device id, so the device reads them under
/// its slot admission, which shows a node neither its genesis nor its id.
pub fn b0x_address(owner: &Digest, blind: Option<&Digest>) -> Digest {
    match blind {
        None => tagged_hash(Tag::B0xAddress, &[owner.as_bytes()]),
        Some(b) => tagged_hash(Tag::B0xRelationship, &[b.as_bytes(), owner.as_bytes()]),
    }
}

/// The introduction address of `device` ([`b0x_address`] of its slot owner, no blind):
/// where a poster who knows the device's identity, and no address it named, posts.
pub fn introduction_address(device: &DeviceIdentity) -> Digest {
    b0x_address(&device_slots_owner(device), None)
}

/// What a b0x read allows at one node (PROTOCOL.md §16.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum B0xOp {
    /// List the items after each cursor (`POST /v1/b0x-list`).
    List = 1,
    /// Delete the items up to each cursor (`POST /v1/b0x-ack`).
    Acknowledge = 2,
}

/// One of a device's b0x addresses in a read, with its cursor: list after it, or delete
/// up to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct B0xCursor {
    /// `None` for the introduction address, else the relationship's blind
    /// ([`b0x_address`]).
    pub blind: Option<Digest>,
    /// Items after it (a listing) or up to it (an acknowledgement).
    pub cursor: u64,
}

impl Canonical for B0xCursor {
    const MAX_ENCODED_LEN: usize = 34 + 11;
    fn encode(&self, w: &mut Writer) {
        if let Some(b) = &self.blind {
            w.bytes(1, b.as_bytes());
        }
        w.uint(2, self.cursor);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(B0xCursor {
            blind: r.optional_fixed::<32>(1)?.map(Digest),
            cursor: r.uint(2)?,
        })
    }
}

/// The most addresses one b0x read names: a device lists its introduction address and
/// every relationship's in one request per node, up to this many.
pub const MAX_READ_ENTRIES: usize = 4096;

/// What a b0x read names, and what its access signs: the device's slot owner and its
/// addresses with their cursors, strictly ascending by blind (the introduction address
/// first), so no address is named twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct B0xScope {
    /// The slot owner of the device whose b0x addresses these are ([`device_slots_owner`]).
    pub owner: Digest,
    /// 1 to [`MAX_READ_ENTRIES`] addresses with their cursors.
    pub entries: Vec<B0xCursor>,
}

impl B0xScope {
    /// The addresses, in order.
    pub fn addresses(&self) -> Vec<Digest> {
        self.entries
            .iter()
            .map(|e| b0x_address(&self.owner, e.blind.as_ref()))
            .collect()
    }
}

fn check_entries(entries: &[B0xCursor]) -> Result<(), DecodeError> {
    if entries.is_empty() || entries.len() > MAX_READ_ENTRIES {
        return Err(DecodeError::Invalid(
            "a b0x read names between 1 and 4096 addresses",
        ));
    }
    if !entries.windows(2).all(|w| w[0].blind < w[1].blind) {
        return Err(DecodeError::Invalid(
            "a b0x read names each address once, in ascending order of blind",
        ));
    }
    Ok(())
}

impl Canonical for B0xScope {
    const MAX_ENCODED_LEN: usize = 34 + MAX_READ_ENTRIES * (B0xCursor::MAX_ENCODED_LEN + 3);
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.owner.as_bytes());
        w.repeated_message(2, &self.entries);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let owner = Digest(r.fixed(1)?);
        let entries: Vec<B0xCursor> = r.repeated_message(2, MAX_READ_ENTRIES)?;
        check_entries(&entries)?;
        Ok(B0xScope { owner, entries })
    }
}

/// The recipient's authorization of one b0x read at one node: a signature by a key its
/// admission proves to own the scope's slot owner, over
/// `H(B0xAccess, node id, u8 op, enc(scope))`. Bound to the node, the operation, every
/// address and every cursor, so a node cannot replay it to another node, a listing cannot
/// be turned into a deletion, and a stranger who sees it can repeat only that very request
/// (TLS hides it from the network, §15.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct B0xAccess {
    /// Why the signer may read: it owns the scope's slot owner.
    pub admission: Admission,
    /// The signer's public key.
    pub signer: PublicKey,
    /// The signature over [`B0xRead::message`].
    pub signature: Signature,
}

impl Canonical for B0xAccess {
    const MAX_ENCODED_LEN: usize = Admission::MAX_ENCODED_LEN + 4300 + Signature::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.admission);
        w.message(2, &self.signer);
        w.message(3, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(B0xAccess {
            admission: r.message(1)?,
            signer: r.message(2)?,
            signature: r.message(3)?,
        })
    }
}

/// The body of a b0x read (`POST /v1/b0x-list`, `POST /v1/b0x-ack`; PROTOCOL.md §16.1):
/// `{1: owner, 2: entries, 3: access}` — the scope's fields, then the access.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct B0xRead {
    /// The slot owner and the addresses read, with their cursors.
    pub scope: B0xScope,
    /// The device's signature over the scope for this node and operation.
    pub access: B0xAccess,
}

impl B0xRead {
    /// What is signed: `H(B0xAccess, node id, u8 op, enc(scope))`.
    pub fn message(node: &str, op: B0xOp, scope: &B0xScope) -> Digest {
        tagged_hash(
            Tag::B0xAccess,
            &[node_id(node).as_bytes(), &[op as u8], &scope.to_bytes()],
        )
    }

    /// Signs a read of `scope` at `node`. Fails if `admission` does not prove, for the key,
    /// the scope's slot owner, or the entries are not 1 to [`MAX_READ_ENTRIES`] distinct
    /// addresses in ascending order of blind (a read the node would refuse is never made).
    pub fn sign(
        admission: Admission,
        key: &SigningKey,
        node: &str,
        op: B0xOp,
        scope: B0xScope,
        rnd: &[u8; 32],
    ) -> Result<B0xRead, SlotAuthError> {
        let signer = key.public_key().clone();
        if matches!(admission, Admission::Device { .. })
            || !admission.owners(&signer)?.contains(&scope.owner)
        {
            return Err(SlotAuthError::NotAdmitted);
        }
        check_entries(&scope.entries).map_err(|_| SlotAuthError::Entries)?;
        let signature = key
            .sign(Self::message(node, op, &scope).as_bytes(), rnd)
            .map_err(|_| SlotAuthError::Signature)?;
        Ok(B0xRead {
            scope,
            access: B0xAccess {
                admission,
                signer,
                signature,
            },
        })
    }

    /// What a node checks before it lists or deletes: the admission proves, from hashes
    /// alone, the scope's slot owner (else [`SlotAuthError::NotAdmitted`], with no signature
    /// checked); then a successor's delegation and the signature over this node, operation
    /// and scope. A device admission (kind 1) is refused whatever the scope: it proves a
    /// device id, and since 2026-12-06 no b0x address derives from one.
    pub fn check(&self, node: &str, op: B0xOp) -> Result<(), SlotAuthError> {
        let a = &self.access;
        if matches!(a.admission, Admission::Device { .. })
            || !a
                .admission
                .claimed_owners(&a.signer)?
                .contains(&self.scope.owner)
        {
            return Err(SlotAuthError::NotAdmitted);
        }
        a.admission.verify_delegation(&a.signer)?;
        a.signer
            .verify(
                Self::message(node, op, &self.scope).as_bytes(),
                &a.signature,
            )
            .map_err(|_| SlotAuthError::Signature)
    }
}

impl Canonical for B0xRead {
    const MAX_ENCODED_LEN: usize = B0xScope::MAX_ENCODED_LEN + B0xAccess::MAX_ENCODED_LEN + 8;
    fn encode(&self, w: &mut Writer) {
        self.scope.encode(w);
        w.message(3, &self.access);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(B0xRead {
            scope: B0xScope::decode(r)?,
            access: r.message(3)?,
        })
    }
}
