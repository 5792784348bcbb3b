//! Recovery (PROTOCOL.md §20), the wallet's half: sealing a capsule into every state
//! change, pushing capsules to the storage nodes, restoring a lost device from its
//! mnemonic, and answering successions as a counterparty. The records and their verifiers
//! are `dsm-recovery`'s; this module does the I/O and keeps the progress crash-safe.
//!
//! A recovery is a sequence of steps, each recorded in the new wallet's store before the
//! next starts, and each node write is to a write-once slot, so rerunning `recover` after a
//! crash at any point finishes the job with the same device key, the same tombstone and the
//! same succession: it never tombstones twice and never forks the identity.

use super::parcels::Held;
use super::parcels::{consumed_key, SettleItem};
use super::*;
use crate::nodes::{Anchor, Judged, NodeFault, NodeSet, SlotReplica};
use crate::online::Settlement;
use dsm_core::hash::object_address;
use dsm_core::parcel::{Hop, Lineage, LineageManifest, ParcelId};
use dsm_core::slot::{body_digest, Admission, OwnedPut, SlotEntry, SlotWrite};
use dsm_recovery::body::{
    replay, CapsuleBody, ContactEntry, HeldEntry, ObjectPack, RecoveredState, TipEntry,
    MAX_HELD_PER_CAPSULE, MAX_PACK_LEN,
};
use dsm_recovery::succession::{
    open_succession, open_tombstone, seal_succession, seal_tombstone, sign_succession,
    sign_tombstone, succession_slot, tombstone_slot, verify_answer, verify_succession,
    RecoveryMessage, SignedAnswer, SignedSuccession, SignedTombstone, Succession, SuccessionAnswer,
    SuccessionConflict, SuccessionNotice, SuccessionRecord, Tombstone, Verdict,
};
use dsm_recovery::{Capsule, RecoveryKeys};
use dsm_token::source::{
    recovered_statement, ConsumedParcels, Consumption, RecoveredParcel, Source, SourceProof,
    MAX_CONSUMED_MANIFESTS_LEN,
};
use std::collections::{BTreeSet, HashMap};

pub(crate) const CAPSULE_NEXT: &[u8] = b"capsule_next";
const CAPSULE_STREAM: &[u8] = b"capsule_stream";
pub(crate) const CAPSULE_UPLOADED: &[u8] = b"capsule_uploaded";
const CAPSULE_POLICIES: &[u8] = b"capsule_policies";
const RECOVERY_STEP: &[u8] = b"recovery_step";
const RECOVERED_LOST: &[u8] = b"recovered_lost";
/// The lost device's admission of the recovery authority (from its first capsule).
const LOST_AUTHORITY_ADMISSION: &[u8] = b"lost_authority_admission";
const RECOVERED_HEAD: &[u8] = b"recovered_head";
/// Meta key of the lost device's proposals to `peer` pending at the recovered head (its
/// queue, oldest first: each as a 4-byte big-endian length and the proposal's bytes).
fn pending_key(peer: &DeviceId) -> Vec<u8> {
    [b"recovered_pending:".as_slice(), peer.as_bytes()].concat()
}

fn encode_queue(queue: &[&SignedProposal]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in queue {
        let b = p.to_bytes();
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
    }
    out
}

fn decode_queue(mut v: &[u8]) -> Result<Vec<SignedProposal>, WalletError> {
    let bad = || WalletError::Corrupt {
        what: "recovered pending",
        error: "malformed list".into(),
    };
    let mut out = Vec::new();
    while !v.is_empty() {
        let (len, rest) = v.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = u32::from_be_bytes(*len) as usize;
        let (p, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
        out.push(SignedProposal::from_bytes(p).map_err(corrupt("recovered pending"))?);
        v = rest;
    }
    Ok(out)
}

/// The `CapsulePacks` key of pack `part` of capsule `index`.
fn pack_key(index: u64, part: u64) -> Vec<u8> {
    [index.to_be_bytes(), part.to_be_bytes()].concat()
}
const TOMBSTONE: &[u8] = b"tombstone";
/// Meta key of the recovery authority's delegation of the lost device's slots to this
/// device's key (PROTOCOL.md §15.2).
const SLOT_DELEGATION: &[u8] = b"slot_delegation";
const SUCCESSION: &[u8] = b"succession";
const RECOVERY_BLOCKED: &[u8] = b"recovery_blocked";
pub(crate) const CAPSULE_GENERATION: &[u8] = b"capsule_generation";
const RECOVERED_CAPSULES: &[u8] = b"recovered_capsules";
/// Meta key prefixes, each followed by a recovered parcel's id: the lost device's held
/// entry (from the capsules), this device's claim on it (the consuming statement's
/// commit), and why it was left out.
const RECOVERED_HELD: &[u8] = b"recovered_held/";
const RECOVERED_CLAIM: &[u8] = b"recovered_claim/";
const RECOVERED_LEFT: &[u8] = b"recovered_left/";
/// Meta key prefix, followed by a proposal commit: the lost device's offer (without
/// objects) of a proposal pending at the recovered head.
const RECOVERED_OFFER: &[u8] = b"recovered_offer/";

/// True if K placed nodes hold identical bytes as capsule 0 of the stream whose slots
/// `owner` owns.
fn stream_started(nodes: &NodeSet, owner: &Digest) -> Result<bool, WalletError> {
    capsule_at_quorum(nodes, owner, 0)
}

/// What `state` restores, for the user to confirm.
pub(crate) fn preview_of(state: &RecoveredState) -> RecoveryPreview {
    RecoveryPreview {
        lost: state.identity.device_id(),
        height: state.head.height,
        capsules: state.capsules,
        balances: state
            .head
            .balances
            .entries()
            .iter()
            .map(|b| {
                let policy = state.policies.iter().find_map(|p| {
                    dsm_token::policy::TokenPolicy::from_bytes(p)
                        .ok()
                        .filter(|p| p.token_id() == b.token)
                        .map(|p| (p.ticker, p.decimals))
                });
                PreviewBalance {
                    token: b.token,
                    amount: b.amount,
                    policy,
                }
            })
            .collect(),
        counterparties: state.relationships.len(),
        contacts: state.contacts.len(),
    }
}

/// True if K placed nodes hold identical bytes in capsule slot `index` of the stream whose
/// slots `owner` owns.
fn capsule_at_quorum(nodes: &NodeSet, owner: &Digest, index: u64) -> Result<bool, WalletError> {
    let replicas = read_replicas(nodes, owner, &[index], |i| capsule_slot(*i), "capsule")?
        .pop()
        .unwrap_or_default();
    let held: Vec<&Vec<u8>> = replicas
        .iter()
        .filter_map(|(_, r)| match r {
            SlotReplica::Holds(b) => Some(b),
            _ => None,
        })
        .collect();
    Ok(held
        .iter()
        .any(|b| held.iter().filter(|x| *x == b).count() >= nodes.params().k))
}

/// An owned-slot write of `body` into `(owner, key)` by the recovery authority that
/// `genesis` names (PROTOCOL.md §15.2).
fn authority_put(
    authority: &SigningKey,
    genesis: &dsm_core::identity::GenesisRecord,
    owner: Digest,
    key: Digest,
    body: Vec<u8>,
) -> Result<OwnedPut, WalletError> {
    let entry = SlotEntry {
        owner,
        key,
        body: body_digest(&body),
    };
    let write = SlotWrite::sign(
        Admission::Authority {
            genesis_blind: dsm_core::slot::genesis_blind(&genesis.digest()),
            device: None,
        },
        authority,
        vec![entry],
        &os_random()?,
    )
    .map_err(|e| WalletError::Recovery(format!("cannot sign the slot write: {e}")))?;
    Ok(OwnedPut { write, body })
}

use dsm_recovery::capsule_slot;

pub use dsm_recovery::process::{NoticeStatus, RecoveryStep};
use dsm_recovery::process::{SpendingGate, Word};

/// Where one counterparty of the lost device stands with the successor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterpartyRecovery {
    /// The counterparty's device (stored as hex).
    #[serde(with = "super::stored::device")]
    pub device: DeviceId,
    /// Its contact name, if it had one.
    pub name: Option<String>,
    /// The relationship tip the recovered head holds (stored as hex).
    #[serde(with = "super::stored::digest")]
    pub tip: Digest,
    /// Its answer to the succession notice.
    #[serde(with = "super::stored::word")]
    pub status: NoticeStatus,
    /// True once the notice reached a quorum of its b0x nodes.
    pub notified: bool,
    /// What happened to the lost device's transfer to it that was still pending, if any.
    pub pending: Option<String>,
    /// With status `conflict`: the verified evidence (hex of the canonical
    /// `SuccessionConflict`) that the lost device signed after the backup point.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Its slot owner, when the lost device knew its identity (the capsules' tip entries):
    /// without its document, the notice goes in clear to the introduction address that
    /// derives from it (PROTOCOL.md §20.2). Stored as hex.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::stored::digest_opt"
    )]
    pub owner: Option<Digest>,
}

/// How [`recover`] creates the new device.
#[derive(Clone, Copy, Debug)]
pub struct RecoverOptions<'a> {
    /// The new device's signature suite.
    pub suite: SuiteId,
    /// The new wallet's passphrase.
    pub passphrase: &'a [u8],
    /// The passphrase KDF's cost.
    pub kdf: KdfParams,
    /// Allow replacing a device that was itself restored by an earlier recovery (a
    /// successor lost in turn). Off by default, so running a recovery twice in two homes
    /// by mistake cannot tombstone the device the first one made.
    pub replace_successor: bool,
}

/// What [`recover`] did.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// The lost device.
    pub lost: DeviceId,
    /// The new device.
    pub successor: DeviceId,
    /// Capsules of the lost device's stream replayed.
    pub capsules: u64,
    /// The recovered head's height.
    pub height: u64,
    /// Every counterparty and where it stands.
    pub counterparties: Vec<CounterpartyRecovery>,
    /// Storage nodes that served old or wrong data (reported, outvoted).
    pub faults: Vec<NodeFault>,
    /// Set when spending stays blocked (why).
    pub blocked: Option<String>,
    /// Parcels of the lost device that were not taken over, each with why (PROTOCOL.md
    /// §20.3): spent by the lost device after the backup point, or not provable onward.
    pub left_out: Vec<String>,
}

/// What the nodes hold of a capsule stream.
#[derive(Clone, Debug, Default)]
pub struct FetchedStream {
    /// The consistent chain, from index 0.
    pub chain: Vec<Capsule>,
    /// Nodes that lacked a capsule others held, or held other bytes.
    pub faults: Vec<NodeFault>,
    /// Set when the stream ended at an index held by some nodes, but fewer than K.
    pub short: Option<String>,
}

/// Reads a capsule stream from the nodes: capsule `i` is taken when K placed nodes return
/// identical bytes that decode as capsule `i` of the stream following capsule `i - 1`; a
/// placed node that is empty or different then is reported (a stale or lying node is
/// outvoted, never trusted). The stream ends at the first index no quorum holds.
pub fn fetch_stream(
    nodes: &NodeSet,
    key: &dsm_recovery::CapsuleKey,
    progress: &mut dyn FnMut(u64),
) -> Result<FetchedStream, WalletError> {
    let stream = &key.stream;
    let owner = key.slot_owner();
    let k = nodes.params().k;
    let mut out = FetchedStream::default();
    let mut prev = Digest::ZERO;
    let mut ahead = std::collections::VecDeque::new();
    for index in 0u64.. {
        if ahead.is_empty() {
            ahead = read_ahead(nodes, &owner, index)?;
        }
        let replicas = ahead.pop_front().unwrap_or_default();
        let mut groups: Vec<(Vec<u8>, Vec<String>)> = Vec::new();
        for (node, r) in &replicas {
            if let SlotReplica::Holds(b) = r {
                match groups.iter_mut().find(|(x, _)| x == b) {
                    Some((_, ns)) => ns.push(node.clone()),
                    None => groups.push((b.clone(), vec![node.clone()])),
                }
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
        let Some((bytes, holders)) = groups.first().cloned() else {
            break;
        };
        let capsule = Capsule::from_bytes(&bytes)
            .ok()
            .filter(|c| c.stream == *stream && c.index == index && c.prev == prev);
        let Some(capsule) = capsule.filter(|_| holders.len() >= k) else {
            out.short = Some(format!(
                "capsule {index} is held by {} node(s), fewer than the {k} needed; the backup \
                 is restored up to capsule {}",
                holders.len(),
                index.saturating_sub(1)
            ));
            break;
        };
        for (node, r) in &replicas {
            let what = match r {
                SlotReplica::Empty => format!(
                    "lacks capsule {index}, which {} nodes hold (stale or rolled back)",
                    holders.len()
                ),
                SlotReplica::Holds(b) if *b != bytes => {
                    format!("serves other bytes for capsule {index}")
                }
                _ => continue,
            };
            out.faults.push(NodeFault {
                node: node.clone(),
                what,
            });
        }
        prev = capsule.digest();
        out.chain.push(capsule);
        progress(index + 1);
    }
    Ok(out)
}

/// Posts each `(b0x address, item)`, a few at a time; one result per item.
fn post_all(nodes: &NodeSet, items: &[(Digest, Vec<u8>)]) -> Vec<Result<(), String>> {
    crate::nodes::in_parallel(items, |(address, item)| {
        nodes
            .b0x_post(address, item)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .into_iter()
    .map(|r| r.unwrap_or_else(|| Err("a posting thread stopped".into())))
    .collect()
}

/// What every placed node holds for the next window of capsules from `from`, in order,
/// read a few at a time: the reads are independent, only their checks are sequential. The
/// window grows with the stream (8, then 64 capsules), so a short stream costs few reads
/// past its end.
fn read_ahead(
    nodes: &NodeSet,
    owner: &Digest,
    from: u64,
) -> Result<std::collections::VecDeque<Vec<(String, SlotReplica)>>, WalletError> {
    let window: Vec<u64> = (from..from + if from < 64 { 8 } else { 64 }).collect();
    read_replicas(nodes, owner, &window, |i| capsule_slot(*i), "capsule")
        .map(std::collections::VecDeque::from)
}

/// What every placed node of owned slot `(owner, key(item))` holds, for each item, in
/// order: the body of the write it stores. The write's signature is not checked here: a
/// capsule or pack authenticates itself (AEAD under the capsule key), and a node that
/// serves anything else is outvoted or reported by the caller.
fn read_replicas<T: Sync>(
    nodes: &NodeSet,
    owner: &Digest,
    items: &[T],
    key: impl Fn(&T) -> Digest + Sync,
    what: &str,
) -> Result<Vec<Vec<(String, SlotReplica)>>, WalletError> {
    crate::nodes::in_parallel(items, |x| nodes.owned_replicas(owner, &key(x)))
        .into_iter()
        .map(|r| match r {
            Some(r) => r
                .map(|rs| {
                    rs.into_iter()
                        .map(|(n, r)| match r {
                            SlotReplica::Holds(b) => (
                                n,
                                SlotReplica::Holds(
                                    OwnedPut::from_bytes(&b).map(|p| p.body).unwrap_or(b),
                                ),
                            ),
                            other => (n, other),
                        })
                        .collect()
                })
                .map_err(|e| WalletError::Recovery(e.to_string())),
            None => Err(WalletError::Recovery(format!(
                "a {what} read thread stopped"
            ))),
        })
        .collect()
}

impl Wallet {
    /// The slot owner of `device`, from its identity as `b` files it or as this wallet
    /// knows it ([`Wallet::known_identity`]); `None` for a device known only by its id.
    fn owner_in(&self, b: &Batch, device: &DeviceId) -> Result<Option<Digest>, WalletError> {
        let key = [super::IDENTITY_OF, device.as_bytes()].concat();
        let filed = b.ops().iter().find_map(|(table, k, v)| match (table, v) {
            (Table::Meta, Some(v)) if *k == key => DeviceIdentity::from_bytes(v).ok(),
            _ => None,
        });
        let identity = match filed {
            Some(i) => Some(i),
            None => self.known_identity(device)?,
        };
        Ok(identity.map(|i| dsm_core::slot::device_slots_owner(&i)))
    }

    /// Seals the capsule of the change in `b` (PROTOCOL.md §20.2) into `b`, if this device
    /// writes capsules: the head `b` commits (or the current one), the relationship leaves
    /// `b` sets (with `counterparty`), the pending set after `b`, `contacts`, and the
    /// policies not carried yet.
    pub(crate) fn add_capsule(
        &self,
        b: &mut Batch,
        counterparty: Option<DeviceId>,
        contacts: Vec<ContactEntry>,
    ) -> Result<(), WalletError> {
        let Some(key) = &self.capsule_key else {
            return Ok(());
        };
        let bad = |what: &'static str| WalletError::Corrupt {
            what,
            error: "malformed".into(),
        };
        let mut head = self.head.clone();
        let mut tips = Vec::new();
        // The pending set by its table key (receiver, head height), so that the batch's
        // writes and deletes apply as they will in the store.
        let mut pending: BTreeMap<Vec<u8>, SignedProposal> = self
            .pending
            .values()
            .flatten()
            .map(|p| (super::pending_key(p), p.clone()))
            .collect();
        // The held set's change: parcels added (with their manifests) and taken out.
        let mut added: BTreeMap<ParcelId, (Held, Vec<u8>)> = BTreeMap::new();
        let mut spent: BTreeSet<ParcelId> = BTreeSet::new();
        // Offers of proposals signed in this change (for a reclaim after a recovery).
        let mut offers: Vec<(Vec<u8>, Vec<Digest>)> = Vec::new();
        for (table, k, v) in b.ops() {
            match (table, k.as_slice(), v) {
                (Table::Offers, _, Some(v)) => {
                    let o = Offer::from_bytes(v).map_err(corrupt("offer"))?;
                    offers.push((v.clone(), o.listed()));
                }
                (Table::Parcels, k, v) => {
                    let id = ParcelId(Digest(k.try_into().map_err(|_| bad("parcels"))?));
                    match v {
                        Some(v) => {
                            let h = Held::from_bytes(v).ok_or(bad("held parcel"))?;
                            // The stored record ends with the canonical manifest.
                            let m = v.get(48..).ok_or(bad("held parcel"))?.to_vec();
                            added.insert(id, (h, m));
                        }
                        None => {
                            if added.remove(&id).is_none() && self.book.held.contains_key(&id) {
                                spent.insert(id);
                            }
                        }
                    }
                }
                (Table::Meta, b"head", Some(v)) => {
                    head = DeviceHead::from_bytes(v).map_err(corrupt("head"))?
                }
                (Table::Tips, k, Some(v)) => {
                    let counterparty = counterparty.ok_or(bad("capsule counterparty"))?;
                    tips.push(TipEntry {
                        relationship: RelationshipKey(Digest(
                            k.try_into().map_err(|_| bad("tips"))?,
                        )),
                        counterparty,
                        tip: TipDigest(Digest(v.as_slice().try_into().map_err(|_| bad("tips"))?)),
                        owner: self.owner_in(b, &counterparty)?,
                        document: self.peer_document_address(&counterparty)?,
                    });
                }
                (Table::Pending, k, v) => match v {
                    Some(v) => {
                        pending.insert(
                            k.to_vec(),
                            SignedProposal::from_bytes(v).map_err(corrupt("pending"))?,
                        );
                    }
                    None => {
                        pending.remove(k);
                    }
                },
                _ => {}
            }
        }
        let (index, prev) = self.capsule_next()?;
        // Each device generation writes its own stream, so a stream's first capsule is its
        // device's first: it carries the genesis and the identity.
        let first = index == 0;
        let mut carried = self
            .store
            .get(Table::Meta, CAPSULE_POLICIES)?
            .unwrap_or_default();
        // By token id: which policies a capsule carries never depends on a hash map's order.
        let mut held: Vec<(&TokenId, &dsm_token::TokenPolicy)> = self.rules.policies().collect();
        held.sort_by_key(|(id, _)| **id);
        let (mut ids, policies): (Vec<TokenId>, Vec<Vec<u8>>) = held
            .into_iter()
            .filter(|(id, _)| !carried.chunks(32).any(|c| c == id.as_bytes()))
            .take(dsm_recovery::body::MAX_POLICIES_PER_CAPSULE)
            .map(|(id, p)| (*id, p.to_bytes()))
            .unzip();
        let held: Vec<HeldEntry> = added
            .iter()
            .map(|(id, (h, m))| HeldEntry {
                id: *id,
                token: h.token,
                amount: h.amount,
                manifest: object_address(m),
            })
            .collect();
        // A change moving more parcels than one capsule records continues in the next
        // capsules of the same transaction (PROTOCOL.md §20.2, `parts`).
        let spent: Vec<ParcelId> = spent.into_iter().collect();
        let parts = held
            .len()
            .div_ceil(MAX_HELD_PER_CAPSULE)
            .max(spent.len().div_ceil(MAX_HELD_PER_CAPSULE))
            .max(1);
        if parts as u64 > dsm_recovery::body::MAX_PARTS {
            return Err(WalletError::Recovery(
                "one change moves more parcels than a backup records; nothing was changed".into(),
            ));
        }
        let chunk = |v: &[HeldEntry], p: usize| -> Vec<HeldEntry> {
            v.iter()
                .skip(p * MAX_HELD_PER_CAPSULE)
                .take(MAX_HELD_PER_CAPSULE)
                .cloned()
                .collect()
        };
        let spent_chunk = |p: usize| -> Vec<ParcelId> {
            spent
                .iter()
                .skip(p * MAX_HELD_PER_CAPSULE)
                .take(MAX_HELD_PER_CAPSULE)
                .copied()
                .collect()
        };
        let offer_addresses: Vec<Digest> = offers.iter().map(|(o, _)| object_address(o)).collect();
        let mut wanted: Vec<(Vec<u8>, Vec<Digest>)> = added
            .into_values()
            .map(|(h, m)| (m, h.manifest.addresses()))
            .collect();
        wanted.extend(offers);
        // Everything the spent parcels' lineages list was packed when they were added: a
        // change parcel then costs a look-up for its new hop only.
        let mut known: HashSet<Digest> = HashSet::new();
        for id in &spent {
            if let Some(h) = self.book.held.get(id) {
                known.extend(h.manifest.addresses());
            }
        }
        let packs = self.seal_packs(b, key, index, wanted, &known)?;
        let mut body = CapsuleBody {
            head,
            tips,
            pending: pending
                .into_values()
                .take(dsm_recovery::body::MAX_PENDING_PER_CAPSULE)
                .collect(),
            contacts,
            genesis: if first {
                Some(self.genesis_record()?)
            } else {
                None
            },
            identity: first.then(|| self.identity.clone()),
            authority_admission: if first {
                self.authority_admission()?
            } else {
                None
            },
            policies,
            held: chunk(&held, 0),
            spent: spent_chunk(0),
            packs,
            offers: offer_addresses,
            parts: if parts > 1 { parts as u64 } else { 0 },
        };
        // Keep the capsule within its limit. Pending proposals go first (large SLH-DSA
        // proposals: the counterparty still answers them, the notice just cannot carry
        // them); policies that still do not fit wait for a later capsule.
        let mut plaintext = body.to_bytes();
        while plaintext.len() > dsm_recovery::MAX_CAPSULE_LEN
            && (body.pending.pop().is_some() || body.policies.pop().is_some())
        {
            plaintext = body.to_bytes();
        }
        ids.truncate(body.policies.len());
        for id in &ids {
            carried.extend_from_slice(id.as_bytes());
        }
        let mut capsule = key.seal(index, prev, &plaintext);
        b.put(
            Table::Capsules,
            index.to_be_bytes().to_vec(),
            capsule.to_bytes(),
        );
        for p in 1..parts {
            let part = CapsuleBody {
                head: body.head.clone(),
                tips: Vec::new(),
                pending: body.pending.clone(),
                contacts: Vec::new(),
                genesis: None,
                identity: None,
                authority_admission: None,
                policies: Vec::new(),
                held: chunk(&held, p),
                spent: spent_chunk(p),
                packs: 0,
                offers: Vec::new(),
                parts: 0,
            };
            let at = index + p as u64;
            capsule = key.seal(at, capsule.digest(), &part.to_bytes());
            b.put(
                Table::Capsules,
                at.to_be_bytes().to_vec(),
                capsule.to_bytes(),
            );
        }
        let mut next = (capsule.index + 1).to_be_bytes().to_vec();
        next.extend_from_slice(capsule.digest().as_bytes());
        b.put(Table::Meta, CAPSULE_NEXT.to_vec(), next).put(
            Table::Meta,
            CAPSULE_POLICIES.to_vec(),
            carried,
        );
        Ok(())
    }

    /// Seals into `b` the object packs of capsule `index`: each object of `wanted` (a
    /// held parcel's canonical manifest, or an offer) and every object it lists, that no
    /// earlier pack of this stream carried, strictly ascending and cut into packs of at
    /// most [`MAX_PACK_LEN`] bytes (PROTOCOL.md §20.2). Returns how many.
    fn seal_packs(
        &self,
        b: &mut Batch,
        key: &dsm_recovery::CapsuleKey,
        index: u64,
        wanted: Vec<(Vec<u8>, Vec<Digest>)>,
        known: &HashSet<Digest>,
    ) -> Result<u64, WalletError> {
        let in_batch: HashMap<Digest, &Vec<u8>> = b
            .ops()
            .iter()
            .filter_map(|(t, k, v)| match (t, v) {
                (Table::Objects, Some(v)) => Some((Digest(k.as_slice().try_into().ok()?), v)),
                _ => None,
            })
            .collect();
        let mut objects: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
        for (top, listed) in wanted {
            let mut wanted: Vec<(Digest, Option<Vec<u8>>)> =
                vec![(object_address(&top), Some(top.clone()))];
            wanted.extend(listed.into_iter().map(|a| (a, None)));
            for (a, bytes) in wanted {
                if objects.contains_key(&a)
                    || known.contains(&a)
                    || self.store.contains(Table::PackedObjects, a.as_bytes())?
                {
                    continue;
                }
                let bytes = match bytes.or_else(|| in_batch.get(&a).map(|v| (*v).clone())) {
                    Some(o) => o,
                    None => self
                        .store
                        .get(Table::Objects, a.as_bytes())?
                        .ok_or_else(|| WalletError::Corrupt {
                            what: "lineage object",
                            error: format!("object {a} of a held parcel's lineage is missing"),
                        })?,
                };
                objects.insert(a, bytes);
            }
        }
        if objects.is_empty() {
            return Ok(0);
        }
        let mut sorted: Vec<(Digest, Vec<u8>)> = objects.into_iter().collect();
        sorted.sort_by(|x, y| x.1.cmp(&y.1));
        let mut packs: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        let mut size = 0usize;
        for (a, o) in sorted {
            if o.len() > MAX_PACK_LEN {
                return Err(WalletError::Corrupt {
                    what: "lineage object",
                    error: format!("object {a} is larger than a backup pack"),
                });
            }
            if size + o.len() > MAX_PACK_LEN {
                packs.push(Vec::new());
                size = 0;
            }
            size += o.len();
            b.put(Table::PackedObjects, a.as_bytes().to_vec(), Vec::new());
            packs.last_mut().expect("one pack at least").push(o);
        }
        let n = packs.len() as u64;
        if n > dsm_recovery::body::MAX_PACKS_PER_CAPSULE {
            return Err(WalletError::Recovery(
                "one change brings more lineage objects than a backup capsule can carry; \
                 nothing was changed"
                    .into(),
            ));
        }
        for (part, objects) in packs.into_iter().enumerate() {
            let pack = ObjectPack { objects }.to_bytes();
            let sealed = key.seal_pack(index, part as u64, &pack);
            b.put(
                Table::CapsulePacks,
                pack_key(index, part as u64),
                sealed.to_bytes(),
            );
        }
        Ok(n)
    }

    /// The next capsule's index and predecessor digest.
    fn capsule_next(&self) -> Result<(u64, Digest), WalletError> {
        match self.store.get(Table::Meta, CAPSULE_NEXT)? {
            None => Ok((0, Digest::ZERO)),
            Some(v) if v.len() == 40 => Ok((
                u64::from_be_bytes(v[..8].try_into().unwrap_or_default()),
                Digest(v[8..].try_into().unwrap_or_default()),
            )),
            Some(_) => Err(WalletError::Corrupt {
                what: "capsule position",
                error: "malformed".into(),
            }),
        }
    }

    /// True if this wallet writes recovery capsules (its identity has a recovery phrase).
    pub fn writes_capsules(&self) -> bool {
        self.capsule_key.is_some()
    }

    /// Uploads every sealed capsule not yet held by K nodes, in order, to slot (stream,
    /// `capsule_slot(index)`) on its N placed nodes. Stops at the first capsule fewer than K
    /// nodes took; a node holding other bytes at an index is reported (another device is
    /// writing this stream — the lost device after a recovery, or a clone).
    pub fn push_capsules(&mut self, nodes: &NodeSet) -> Result<BackupPush, WalletError> {
        let mut push = BackupPush::default();
        let Some(key) = &self.capsule_key else {
            return Ok(push);
        };
        let k = nodes.params().k;
        let mut uploaded = self.capsules_uploaded()?;
        let packs = self.store.scan(Table::CapsulePacks)?;
        // The stream's owned slots take only writes by its signer (PROTOCOL.md §15.2); it
        // is derived once per upload.
        let mut writer: Option<(SigningKey, Admission, Digest)> = None;
        'capsules: for (ik, bytes) in self.store.scan(Table::Capsules)? {
            let index = u64::from_be_bytes(ik.as_slice().try_into().unwrap_or_default());
            if index < uploaded {
                continue;
            }
            // Its object packs first: a capsule counts as uploaded only when what its
            // parcels' lineages need is at K nodes too.
            let mine: Vec<&(Vec<u8>, Vec<u8>)> = packs
                .iter()
                .filter(|(pk, _)| pk.get(..8) == Some(ik.as_slice()))
                .collect();
            let (signer, admission, owner) = writer
                .get_or_insert_with(|| (key.slot_signer(), key.slot_admission(), key.slot_owner()));
            let part_of = |pk: &[u8]| {
                u64::from_be_bytes(
                    pk.get(8..16)
                        .and_then(|p| p.try_into().ok())
                        .unwrap_or_default(),
                )
            };
            // One write covers the capsule and up to 63 of its packs; more packs take more
            // writes (a write covers at most 64 slots).
            let mut slots: Vec<(Digest, &[u8])> = vec![(capsule_slot(index), &bytes[..])];
            for (pk, sealed) in &mine {
                slots.push((dsm_recovery::pack_position(index, part_of(pk)), &sealed[..]));
            }
            let mut writes: HashMap<Digest, SlotWrite> = HashMap::new();
            for chunk in slots.chunks(dsm_core::slot::MAX_ENTRIES) {
                let entries = chunk
                    .iter()
                    .map(|(key, body)| SlotEntry {
                        owner: *owner,
                        key: *key,
                        body: body_digest(body),
                    })
                    .collect();
                let w = SlotWrite::sign(admission.clone(), signer, entries, &os_random()?)
                    .map_err(|e| {
                        WalletError::Recovery(format!("cannot sign the slot write: {e}"))
                    })?;
                for (key, _) in chunk {
                    writes.insert(*key, w.clone());
                }
            }
            let put = |key: &Digest, body: &[u8]| OwnedPut {
                write: writes[key].clone(),
                body: body.to_vec(),
            };
            for (pk, sealed) in &mine {
                let at = dsm_recovery::pack_position(index, part_of(pk));
                let report = nodes
                    .anchor_owned(owner, &at, &put(&at, sealed), &|_| Judged::Rival)
                    .map_err(|e| WalletError::Recovery(e.to_string()))?;
                push.faults.extend(report.faults);
                if let Anchor::Conflict { .. } = report.outcome {
                    push.conflict = Some(format!(
                        "capsule {index}: a node already holds another object pack at this \
                         position — another device writes this identity's backup (the lost \
                         device, or a copy of this wallet)"
                    ));
                    break 'capsules;
                }
                if report.acked.len() < k {
                    push.short = Some(format!(
                        "an object pack of capsule {index} reached {} node(s), {k} needed; the \
                         next sync retries",
                        report.acked.len()
                    ));
                    break 'capsules;
                }
            }
            let report = nodes
                .anchor_owned(
                    owner,
                    &capsule_slot(index),
                    &put(&capsule_slot(index), &bytes),
                    &|_| Judged::Rival,
                )
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            push.faults.extend(report.faults);
            if let Anchor::Conflict { .. } = report.outcome {
                push.conflict = Some(format!(
                    "capsule {index}: a node already holds another capsule at this position — \
                     another device writes this identity's backup (the lost device, or a copy of \
                     this wallet)"
                ));
                break;
            }
            if report.acked.len() < k {
                push.short = Some(format!(
                    "capsule {index} reached {} node(s), {k} needed; the next sync retries",
                    report.acked.len()
                ));
                break;
            }
            uploaded = index + 1;
            push.uploaded += 1;
            let mut b = Batch::new();
            b.put(
                Table::Meta,
                CAPSULE_UPLOADED.to_vec(),
                uploaded.to_be_bytes().to_vec(),
            );
            // The nodes hold it now: keep only the newest uploaded capsule locally (for
            // `backup_status`), so the table does not grow with the device's history.
            if let Some(older) = index.checked_sub(1) {
                b.delete(Table::Capsules, older.to_be_bytes().to_vec());
            }
            for (pk, _) in mine {
                b.delete(Table::CapsulePacks, pk.clone());
            }
            self.store.commit(&b)?;
        }
        Ok(push)
    }

    fn capsules_uploaded(&self) -> Result<u64, WalletError> {
        Ok(self
            .store
            .get(Table::Meta, CAPSULE_UPLOADED)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Where this device's backup stands; with `nodes`, also how many of the last
    /// capsule's placed nodes hold it.
    pub fn backup_status(&self, nodes: Option<&NodeSet>) -> Result<BackupStatus, WalletError> {
        let Some(key) = &self.capsule_key else {
            return Ok(BackupStatus::default());
        };
        let (sealed, _) = self.capsule_next()?;
        let mut st = BackupStatus {
            enabled: true,
            generation: self
                .store
                .get(Table::Meta, CAPSULE_GENERATION)?
                .and_then(|v| v.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
            stream: key.stream.to_hex(),
            sealed,
            uploaded: self.capsules_uploaded()?,
            ..BackupStatus::default()
        };
        if let (Some(nodes), Some(last)) = (nodes, sealed.checked_sub(1)) {
            let ours = self.store.get(Table::Capsules, &last.to_be_bytes())?;
            let replicas = read_replicas(
                nodes,
                &key.slot_owner(),
                &[last],
                |i| capsule_slot(*i),
                "capsule",
            )?
            .pop()
            .unwrap_or_default();
            for (node, r) in replicas {
                let state = match r {
                    SlotReplica::Holds(b) if Some(&b) == ours.as_ref() => "holds it",
                    SlotReplica::Holds(_) => "holds OTHER bytes",
                    SlotReplica::Empty => "missing",
                    SlotReplica::Unreachable => "unreachable",
                };
                st.replicas.push((node, state.to_string()));
            }
        }
        Ok(st)
    }

    /// The recovery state of this device, if it is a successor: each counterparty of the
    /// lost device and where it stands.
    pub fn recovery_counterparties(&self) -> Result<Vec<CounterpartyRecovery>, WalletError> {
        super::scan_json(self.store.as_ref(), Table::Recovery, "recovery")
    }

    /// Why sending to `peer` is not allowed yet on a recovered device, if it is not.
    pub(crate) fn succession_gate(&self, peer: &DeviceId) -> Result<Option<String>, WalletError> {
        let blocked = self
            .store
            .get(Table::Meta, RECOVERY_BLOCKED)?
            .map(|why| String::from_utf8_lossy(&why).into_owned());
        let counterparty = match self.store.get(Table::Recovery, peer.as_bytes())? {
            Some(v) => Some(
                serde_json::from_slice::<CounterpartyRecovery>(&v).map_err(corrupt("recovery"))?,
            ),
            None => None,
        };
        let notice = counterparty.as_ref().map(|c| c.status);
        Ok(match SpendingGate::judge(blocked, notice) {
            SpendingGate::Open => None,
            SpendingGate::Blocked(why) => Some(why),
            SpendingGate::NotAcknowledged(status) => {
                let name = counterparty
                    .and_then(|c| c.name)
                    .unwrap_or_else(|| peer.digest().to_hex());
                Some(format!(
                    "{name} has not acknowledged this device as the successor of the lost one \
                     (status: {status}); spending to it resumes after it does — run `dsm sync` \
                     later"
                ))
            }
        })
    }

    /// Records a verified succession: its lost device is refused from now on. The value is
    /// the succession's digest, then this device's signed answer to it, if it gave one.
    fn record_succession(
        &mut self,
        b: &mut Batch,
        v: &dsm_recovery::succession::VerifiedSuccession,
        answer: Option<&SignedAnswer>,
    ) {
        let mut value = v.digest().as_bytes().to_vec();
        if let Some(a) = answer {
            value.extend_from_slice(&a.to_bytes());
        }
        b.put(Table::Successions, v.lost().as_bytes().to_vec(), value);
    }

    /// The lost device's proposals to `peer` that were pending at the recovered head,
    /// oldest first.
    fn recovered_pending(&self, peer: &DeviceId) -> Result<Vec<SignedProposal>, WalletError> {
        match self.store.get(Table::Meta, &pending_key(peer))? {
            Some(v) => decode_queue(&v),
            None => Ok(Vec::new()),
        }
    }

    /// Records a tombstone learned from a verified succession record (read from the lost
    /// device's claimed anchor slot): the lost device is refused from now on. Keeps an
    /// earlier record (and answer) of the same device.
    pub fn learn_tombstone(
        &mut self,
        v: &dsm_recovery::succession::VerifiedSuccession,
    ) -> Result<(), WalletError> {
        let lost = v.lost();
        if self
            .store
            .get(Table::Successions, lost.as_bytes())?
            .is_none()
        {
            let mut b = Batch::new();
            self.record_succession(&mut b, v, None);
            self.store.commit(&b)?;
        }
        self.refused.tombstoned(lost);
        Ok(())
    }

    /// The answer this device already gave to the succession of `lost`, if any.
    fn stored_answer(&self, lost: &DeviceId) -> Result<Option<SignedAnswer>, WalletError> {
        let Some(v) = self.store.get(Table::Successions, lost.as_bytes())? else {
            return Ok(None);
        };
        match v.get(32..) {
            Some(rest) if !rest.is_empty() => Ok(Some(
                SignedAnswer::from_bytes(rest).map_err(corrupt("successions"))?,
            )),
            _ => Ok(None),
        }
    }

    /// Answers a succession notice addressed to this device (PROTOCOL.md §20.4): verifies
    /// it; answers the lost device's pending proposals first, in order (`pending_offers`:
    /// those whose lineages were read, from the notice's manifests);
    /// compares the tip this device holds with the recovered one; records the tombstone
    /// (the lost device is refused from now on whatever the verdict); on acknowledgement
    /// also points the contact at the successor. Returns the message to post to the
    /// successor's b0x and the verdict. Idempotent: a notice answered before gets the same
    /// answer again.
    pub fn answer_notice(
        &mut self,
        notice: &SuccessionNotice,
        pending_offers: &[Offer],
    ) -> Result<(RecoveryMessage, Verdict, DeviceId), WalletError> {
        if notice.counterparty != self.device_id() {
            return Err(WalletError::Recovery(
                "a succession notice for another device".into(),
            ));
        }
        let (v, rel, recovered_tip) = notice
            .verify()
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let lost = v.lost();
        if let Some(a) = self.stored_answer(&lost)? {
            if a.record.succession == v.digest() {
                let verdict = a.record.verdict;
                let conflict = self.conflict_evidence(notice, &lost)?;
                return Ok((
                    RecoveryMessage::Answer {
                        answer: Box::new(a),
                        pending_answer: Vec::new(),
                        conflict,
                    },
                    verdict,
                    lost,
                ));
            }
            return Err(WalletError::Recovery(format!(
                "device {lost} already has another succession here; this one is ignored"
            )));
        }
        // The lost device's last transfers to us, still pending at the recovered head: answer
        // them first, in order (they predate the tombstone), so our tip can match the
        // recovered one.
        let mut pending_answer = Vec::new();
        for p in &notice.pending {
            if p.proposal.step.sender == lost && p.proposal.step.receiver == self.device_id() {
                // With its lineage (`pending_offer`: the notice's manifests, the objects
                // read from the nodes) it is judged like any offer; without, each input
                // starts at itself: this device accepts it only from parcels it verified
                // before, otherwise it refuses with a signed refusal and the successor
                // reclaims the amount, lineage and all (PROTOCOL.md §20.4, §20.5).
                let offer = match pending_offers.iter().find(|o| o.signed == *p) {
                    Some(o) => o.clone(),
                    None => dsm_core::receipt::Offer {
                        signed: p.clone(),
                        manifests: p
                            .proposal
                            .parcels
                            .inputs
                            .iter()
                            .map(|i| dsm_core::parcel::LineageManifest {
                                parcel: *i,
                                start: dsm_core::parcel::ManifestStart::Verified(*i),
                                hops: Vec::new(),
                                signers: Vec::new(),
                                consumed: Vec::new(),
                            })
                            .collect(),
                        objects: Vec::new(),
                        slot_write: None,
                        sealed: Vec::new(),
                    },
                };
                let a = dsm_protocol::mailbox::answer(self, &offer)
                    .map_err(|e| WalletError::Recovery(e.to_string()))?;
                if a.is_final() {
                    pending_answer.push(a.reply.to_bytes());
                }
            }
        }
        let held = self.tree.get(rel.as_bytes()).map(TipDigest);
        let conflict = self.conflict_evidence(notice, &lost)?;
        let verdict = notice.verdict(&rel, recovered_tip, held, conflict.is_some());
        let rnd = self.random();
        let answer = SuccessionAnswer {
            succession: v.digest(),
            counterparty: self.identity.clone(),
            held_tip: held.unwrap_or_else(|| rel.genesis_tip()),
            verdict,
        }
        .sign(&self.key, &rnd);
        let mut b = Batch::new();
        self.record_succession(&mut b, &v, Some(&answer));
        if verdict == Verdict::Acknowledged {
            let successor = v.successor();
            // The successor's identity document, when it verifies for the successor: the
            // KEM key items to it are sealed with (PROTOCOL.md §20.4).
            if let Ok(doc) =
                dsm_protocol::card::ContactDocument::from_bytes(&notice.successor_document)
            {
                if doc.verify(&successor).is_ok() {
                    self.put_contact_document(&mut b, &successor, &doc);
                }
            }
            for c in self.contacts()? {
                if c.device_id()? == lost {
                    let moved = Contact {
                        name: c.name.clone(),
                        device: successor.digest().to_hex(),
                    };
                    b.put(Table::Contacts, c.name.into_bytes(), json(&moved));
                }
            }
        }
        self.store.commit(&b)?;
        self.refused.tombstoned(lost);
        Ok((
            RecoveryMessage::Answer {
                answer: Box::new(answer),
                pending_answer,
                conflict,
            },
            verdict,
            lost,
        ))
    }

    /// The evidence, if this device holds a statement of `lost` that succeeds the
    /// notice's recovered head.
    fn conflict_evidence(
        &self,
        notice: &SuccessionNotice,
        lost: &DeviceId,
    ) -> Result<Option<Box<SuccessionConflict>>, WalletError> {
        let recovered = notice.tombstone.record.recovered_head.digest();
        let Some(value) = self
            .store
            .get(Table::Witness, &witness_key(lost, &recovered))?
        else {
            return Ok(None);
        };
        let Some(statement) = self.witnessed_statement(&value)? else {
            return Ok(None);
        };
        let evidence = SuccessionConflict {
            genesis: notice.genesis.clone(),
            tombstone: notice.tombstone.clone(),
            statement,
        };
        Ok(evidence.verify().is_ok().then(|| Box::new(evidence)))
    }

    /// Takes a counterparty's answer to this device's succession: verified against the
    /// succession and the counterparty it was sent to, then recorded. Returns the
    /// counterparty's new state, or `None` for an answer this device has nothing to do with.
    pub fn take_succession_answer(
        &mut self,
        answer: &SignedAnswer,
        pending_answer: &[Vec<u8>],
        conflict: Option<&SuccessionConflict>,
    ) -> Result<Option<CounterpartyRecovery>, WalletError> {
        let Some(succ) = self.store.get(Table::Meta, SUCCESSION)? else {
            return Ok(None);
        };
        let succ = SignedSuccession::from_bytes(&succ).map_err(corrupt("succession"))?;
        let from = answer.record.counterparty.device_id();
        let Some(v) = self.store.get(Table::Recovery, from.as_bytes())? else {
            return Ok(None);
        };
        verify_answer(answer, &succ.record.digest(), &from)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let mut c: CounterpartyRecovery =
            serde_json::from_slice(&v).map_err(corrupt("recovery"))?;
        c.status = NoticeStatus::of(answer.record.verdict);
        if let Some(e) = conflict {
            let lost = self.recovered_lost()?;
            if e.verify().ok() == Some(lost.device_id()) {
                c.evidence = Some(e.to_bytes().iter().map(|b| format!("{b:02x}")).collect());
            }
        }
        let mut said = Vec::new();
        for bytes in pending_answer.iter().take(dsm_core::receipt::MAX_QUEUE) {
            use dsm_protocol::message::SessionMessage;
            said.push(match SessionMessage::from_bytes(bytes) {
                Ok(SessionMessage::Acceptance(_)) => "accepted by the counterparty".to_string(),
                Ok(SessionMessage::SignedRefusal(r)) => match self.reclaim(&from, &r)? {
                    Some(a) => format!("refused by the counterparty; {a} came back to this device"),
                    None => "refused, but the refusal does not match a pending transfer".into(),
                },
                _ => "answered with something unreadable".into(),
            });
        }
        if !said.is_empty() {
            c.pending = Some(said.join("; "));
        }
        let mut b = Batch::new();
        b.put(Table::Recovery, from.as_bytes().to_vec(), json(&c));
        self.store.commit(&b)?;
        Ok(Some(c))
    }

    /// Takes back the amount of the lost device's pending transfer to `from` that `from`
    /// refused (a RECLAIM head, PROTOCOL.md §20.5): the refusal must verify against a
    /// proposal in the recovered pending set. Idempotent (the refusal is stored under the
    /// head's cause). Returns the amount, or `None` if the refusal matches nothing.
    fn reclaim(
        &mut self,
        from: &DeviceId,
        refusal: &SignedRefusal,
    ) -> Result<Option<Amount>, WalletError> {
        let Some(p) = self
            .recovered_pending(from)?
            .into_iter()
            .find(|p| p.proposal.commit() == refusal.refusal.proposal_commit)
        else {
            return Ok(None);
        };
        let Ok(vp) = verify_proposal(&p, &EmptyView) else {
            return Ok(None);
        };
        if dsm_core::receipt::verify_refusal(&vp, refusal, &EmptyView).is_err() {
            return Ok(None);
        }
        let cause = refusal.refusal.commit();
        let step = &p.proposal.step;
        if self.store.get(Table::Sources, cause.as_bytes())?.is_some() {
            return Ok(Some(step.amount));
        }
        let head = self.head.reclaim_child(&step.token, step.amount, cause)?;
        let mut b = Batch::new();
        let change = self.reclaim_parcels(&mut b, &p, refusal)?;
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
            .put(
                Table::Sources,
                cause.as_bytes().to_vec(),
                refusal.to_bytes(),
            )
            .put(
                Table::History,
                history_key(head.height),
                json(&HistoryEntry {
                    height: head.height,
                    kind: EntryKind::Reclaimed,
                    peer: Some(*from),
                    token: Some(step.token),
                    amount: Some(step.amount),
                    status: LineStatus::Final,
                    receipt: None,
                    settlement: None,
                    time: wall_clock(),
                }),
            );
        self.commit_head_change(&mut b, None)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        self.apply_book(change);
        self.head = head;
        Ok(Some(step.amount))
    }
}

impl Wallet {
    /// The statement by which this device takes over the lost device's parcel `id`
    /// (`amount` of `token`, lineage `manifest`) under `succession` — one input, whole, to
    /// the sink — with that lineage (PROTOCOL.md §20.3).
    fn take_over(
        &mut self,
        lost: &DeviceId,
        succession: &SignedSuccession,
        id: ParcelId,
        token: &TokenId,
        amount: Amount,
        manifest: LineageManifest,
    ) -> Result<ConsumedParcels, WalletError> {
        let statement = dsm_core::parcel::ParcelStatement {
            holder: *lost,
            inputs: vec![id],
            outputs: vec![dsm_core::parcel::ParcelOutput {
                input: 0,
                to: dsm_core::parcel::sink(token),
                amount,
            }],
        };
        let rnd = dsm_protocol::session::Ledger::random(self);
        let hop = Hop::sign(&self.key, statement, succession.record.digest(), &rnd)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        Ok(ConsumedParcels {
            consumption: Consumption {
                hop,
                signer: self.identity.clone(),
            },
            manifests: vec![manifest],
        })
    }

    /// Writes into `b` the recovered root resting on `rec` (a statement of this device
    /// taking over one of the lost device's parcels of `token`), checked cold as any
    /// receiver will; returns the change and its amount, or why it cannot be proven.
    fn recovered_root(
        &mut self,
        b: &mut Batch,
        record: &SuccessionRecord,
        rec: &ConsumedParcels,
        token: TokenId,
    ) -> Result<(super::parcels::BookChange, Amount), String> {
        let recovered = RecoveredParcel {
            token,
            record: record.clone(),
        };
        let (_, amount) =
            recovered_statement(&recovered, &rec.consumption).map_err(|e| e.to_string())?;
        let proof = SourceProof {
            source: Source::Recovered(Box::new(recovered)),
            allowlist: None,
            consumption: Some(rec.consumption.clone()),
        };
        let once = proof.once_key().map_err(|e| e.to_string())?;
        let c = self
            .continued_root_with(b, proof.to_bytes(), rec, &once, token, amount)
            .map_err(|e| e.to_string())?;
        Ok((c, amount))
    }

    /// The identity of the lost device this device succeeded.
    /// The admission by which this device, a successor, writes the lost device's slots:
    /// `None` unless this device was recovered and `holder` is the device it replaced.
    pub(crate) fn successor_admission(
        &self,
        holder: &DeviceId,
    ) -> Result<Option<Admission>, WalletError> {
        let Some(d) = self.store.get(Table::Meta, SLOT_DELEGATION)? else {
            return Ok(None);
        };
        let lost = self.recovered_lost()?;
        if lost.device_id() != *holder {
            return Ok(None);
        }
        let record = self.genesis_record()?;
        let authority = record.recovery_authority.clone().ok_or_else(|| {
            WalletError::Recovery("the genesis names no recovery authority".into())
        })?;
        Ok(Some(Admission::Successor {
            genesis_blind: dsm_core::slot::genesis_blind(&record.digest()),
            device: lost.public_key,
            admission: self.lost_authority_admission()?,
            authority,
            delegation: dsm_core::crypto::Signature::from_bytes(&d)
                .map_err(corrupt("slot delegation"))?,
        }))
    }

    /// On a recovered device: the lost device's admission of the recovery authority to its
    /// slots, from its first backup capsule (PROTOCOL.md §15.2).
    fn lost_authority_admission(&self) -> Result<dsm_core::crypto::Signature, WalletError> {
        let bytes = self
            .store
            .get(Table::Meta, LOST_AUTHORITY_ADMISSION)?
            .ok_or_else(|| {
                WalletError::Recovery(
                    "the backup carries no admission of the recovery authority by the lost \
                     device, so the storage nodes cannot be shown that this device may write \
                     its slots"
                        .into(),
                )
            })?;
        dsm_core::crypto::Signature::from_bytes(&bytes).map_err(corrupt("lost device's admission"))
    }

    /// On a recovered device: the identity of the device it replaced.
    pub fn recovered_lost(&self) -> Result<DeviceIdentity, WalletError> {
        let bytes = self
            .store
            .get(Table::Meta, RECOVERED_LOST)?
            .ok_or(WalletError::NotFound)?;
        DeviceIdentity::from_bytes(&bytes).map_err(corrupt("recovered identity"))
    }

    /// The succession record this device was recovered under.
    fn own_succession_record(&self) -> Result<SuccessionRecord, WalletError> {
        let get = |k: &[u8]| self.store.get(Table::Meta, k)?.ok_or(WalletError::NotFound);
        Ok(SuccessionRecord {
            genesis: self.genesis_record()?,
            tombstone: SignedTombstone::from_bytes(&get(TOMBSTONE)?)
                .map_err(corrupt("tombstone"))?,
            succession: SignedSuccession::from_bytes(&get(SUCCESSION)?)
                .map_err(corrupt("succession"))?,
        })
    }

    /// Writes into `b` what a reclaim takes back (PROTOCOL.md §20.5): the refusal gives
    /// the lost device's pending transfer back to the lost device as release parcels
    /// (descending from the refusal, their lineage the recovered offer's plus the
    /// proposal's and the refusal's hops); this device takes each over as in a recovery —
    /// a statement consuming it, kept so `sync` claims its slot, and a recovered root.
    fn reclaim_parcels(
        &mut self,
        b: &mut Batch,
        proposal: &SignedProposal,
        refusal: &SignedRefusal,
    ) -> Result<super::parcels::BookChange, WalletError> {
        let commit = proposal.proposal.commit();
        let offer = self
            .store
            .get(Table::Meta, &offer_key(&commit))?
            .ok_or_else(|| {
                WalletError::Recovery(
                    "the backup holds no lineage for this pending transfer, so what comes \
                     back could not be proven to anyone"
                        .into(),
                )
            })?;
        let offer = Offer::from_bytes(&offer).map_err(corrupt("recovered offer"))?;
        let lost = self.recovered_lost()?;
        let lost_id = lost.device_id();
        let record = self.own_succession_record()?;
        let (phop, rhop) = (proposal.hop(), refusal.hop());
        let (pids, rids) = (phop.output_ids(), rhop.output_ids());
        // The new objects first, in their own batch: the roots below are checked cold
        // against the store.
        let mut objects = Batch::new();
        let phop_addr = super::parcels::put_object(&mut objects, phop.to_bytes());
        let rhop_addr = super::parcels::put_object(&mut objects, rhop.to_bytes());
        let lost_addr = super::parcels::put_object(&mut objects, lost.to_bytes());
        let them_addr =
            super::parcels::put_object(&mut objects, refusal.refusal.receiver.to_bytes());
        self.store.commit(&objects)?;
        let token = proposal.proposal.step.token;
        let mut change = super::parcels::BookChange::default();
        for (k, input) in rhop.statement.inputs.iter().enumerate() {
            let i = pids.iter().position(|x| x == input).ok_or_else(|| {
                WalletError::Recovery("the refusal consumes no output of the transfer".into())
            })?;
            let j = proposal.proposal.parcels.outputs[i].input as usize;
            let m = offer.manifests.get(j).ok_or_else(|| {
                WalletError::Recovery("the recovered offer lacks an input's lineage".into())
            })?;
            for (r, o) in rhop.statement.outputs_of(k) {
                if o.to != lost_id {
                    continue;
                }
                let id = rids[r];
                let manifest =
                    super::parcels::extend(m, id, &[phop_addr, rhop_addr], &[lost_addr, them_addr]);
                let rec =
                    self.take_over(&lost_id, &record.succession, id, &token, o.amount, manifest)?;
                b.put(
                    Table::Meta,
                    consumed_key(&rec.consumption.hop.commit()),
                    rec.to_bytes(),
                );
                let (c, _) = self.recovered_root(b, &record, &rec, token).map_err(|e| {
                    WalletError::Recovery(format!(
                        "what the refusal gives back cannot be proven onward: {e}"
                    ))
                })?;
                change.merge(c);
            }
        }
        Ok(change)
    }

    /// The lineages of the lost device's pending proposals `pending` for their notice (the
    /// recovered offers' manifests, each proposal's in turn), after storing every object
    /// they list at the nodes; empty when this device lacks an offer for any of them or the
    /// objects could not be stored (the counterparty then answers from what it verified
    /// before, PROTOCOL.md §20.4).
    fn pending_lineage(
        &self,
        nodes: &NodeSet,
        pending: &[SignedProposal],
    ) -> (Vec<LineageManifest>, Vec<Digest>) {
        let mut manifests = Vec::new();
        let mut objects = Vec::new();
        for p in pending {
            let offer = match self
                .store
                .get(Table::Meta, &offer_key(&p.proposal.commit()))
            {
                Ok(Some(o)) => match Offer::from_bytes(&o) {
                    Ok(o) => o,
                    Err(_) => return (Vec::new(), Vec::new()),
                },
                _ => return (Vec::new(), Vec::new()),
            };
            for a in offer.listed() {
                match self.store.get(Table::Objects, a.as_bytes()) {
                    Ok(Some(o)) => objects.push((a, o)),
                    _ => return (Vec::new(), Vec::new()),
                }
            }
            manifests.extend(offer.manifests);
        }
        // By address, ascending, each once: the order the notice lists them in.
        objects.sort();
        objects.dedup();
        let sealed = objects
            .iter()
            .map(|(_, o)| dsm_core::seal::sealed_address(o))
            .collect();
        let objects: Vec<Vec<u8>> = objects.into_iter().map(|(_, o)| o).collect();
        match crate::online::put_sealed_objects(nodes, &objects) {
            Ok(_) => (manifests, sealed),
            Err(_) => (Vec::new(), Vec::new()),
        }
    }

    /// Signs, keeps and writes to its slot a statement consuming each parcel the lost
    /// device held at the recovered head (PROTOCOL.md §20.3): one input, whole, to the
    /// token's sink, `rest` the succession's digest. A parcel whose lineage does not verify
    /// to the lost device, or whose slot already holds the lost device's own spend (it spent
    /// after the backup point), is left out, with why. The statements are committed before
    /// any is written to a slot, so a rerun writes the same ones.
    fn claim_recovered(
        &mut self,
        nodes: &NodeSet,
        lost: &DeviceIdentity,
        succession: &SignedSuccession,
        authority: &SigningKey,
        faults: &mut Vec<NodeFault>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), WalletError> {
        // The lost device's slots are delegated to this device's key by the recovery
        // authority (PROTOCOL.md §15.2), so that this device — now and at every later sync,
        // without the phrase — may write its claims there.
        if self.store.get(Table::Meta, SLOT_DELEGATION)?.is_none() {
            let owner = dsm_core::slot::device_slots_owner(lost);
            let d = authority
                .sign(
                    dsm_core::slot::delegation_message(&owner, self.key.public_key()).as_bytes(),
                    &os_random()?,
                )
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            let mut b = Batch::new();
            b.put(Table::Meta, SLOT_DELEGATION.to_vec(), d.to_bytes());
            self.store.commit(&b)?;
        }
        let entries = self.recovered_entries()?;
        progress(&format!(
            "checking the {} parcel(s) the lost device held",
            entries.len()
        ));
        let mut b = Batch::new();
        let lost_id = lost.device_id();
        let mut todo = Vec::with_capacity(entries.len());
        for e in entries {
            if !self
                .store
                .contains(Table::Meta, &prefixed(RECOVERED_CLAIM, &e.id))?
                && !self
                    .store
                    .contains(Table::Meta, &prefixed(RECOVERED_LEFT, &e.id))?
            {
                todo.push(e);
            }
        }
        // Any one node holding the lost device's own signed spend of a parcel proves it
        // spent it (no node can forge that signature); junk proves nothing. The slots are
        // read a few at a time.
        let spent_after = crate::nodes::in_parallel(&todo, |e| {
            let (owner, key) = dsm_core::parcel::parcel_slot(&e.id, lost);
            nodes.owned_replicas(&owner, &key).map(|replicas| {
                replicas.iter().any(|(_, r)| {
                    matches!(r, SlotReplica::Holds(h)
                        if crate::nodes::owned_body(h, &owner, &key).is_some_and(|b|
                            dsm_core::parcel::spend_in_slot(&b, &e.id, lost).is_some()))
                })
            })
        });
        for (e, spent) in todo.iter().zip(spent_after) {
            let spent = spent
                .ok_or_else(|| WalletError::Recovery("a slot read thread stopped".into()))?
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            let manifest = match self.recovered_lineage(e, &lost_id) {
                Ok(m) => m,
                Err(why) => {
                    self.leave_out(&mut b, &e.id, &why);
                    continue;
                }
            };
            if spent {
                self.leave_out(
                    &mut b,
                    &e.id,
                    "the lost device spent it after the last backup (its slot at the storage \
                     nodes holds that spend)",
                );
                continue;
            }
            let rec = self.take_over(&lost_id, succession, e.id, &e.token, e.amount, manifest)?;
            if rec.manifests_len() > MAX_CONSUMED_MANIFESTS_LEN {
                self.leave_out(
                    &mut b,
                    &e.id,
                    "its lineage is longer than a recovered parcel can carry",
                );
                continue;
            }
            let commit = rec.consumption.hop.commit();
            b.put(Table::Meta, consumed_key(&commit), rec.to_bytes())
                .put(
                    Table::Meta,
                    prefixed(RECOVERED_CLAIM, &e.id),
                    commit.as_bytes().to_vec(),
                );
        }
        self.store.commit(&b)?;
        let claims = self.recovered_claims()?;
        progress(&format!("claiming {} parcel slot(s)", claims.len()));
        let mut b = Batch::new();
        for (id, commit) in claims {
            let rec = self
                .consumed_parcels(&commit)?
                .ok_or_else(|| WalletError::Corrupt {
                    what: "recovery",
                    error: format!("the claim on recovered parcel {id} is missing"),
                })?;
            let item = SettleItem::Hop {
                hop: rec.consumption.hop.clone(),
                signer: rec.consumption.signer.clone(),
                holder: lost.clone(),
            };
            let settled = crate::online::settle_items(self, nodes, &[item], faults)
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            if let Settlement::Conflict(_) = settled {
                self.leave_out(
                    &mut b,
                    &id,
                    "another statement holds its slot at the storage nodes",
                );
                b.delete(Table::Meta, prefixed(RECOVERED_CLAIM, &id));
            }
        }
        b.put(
            Table::Meta,
            RECOVERY_STEP.to_vec(),
            step_word(RecoveryStep::Claimed),
        );
        self.store.commit(&b)?;
        Ok(())
    }

    /// The manifest of recovered parcel `e`, after checking its lineage cold, as any
    /// receiver will: it ends at `e`, held by the lost device, of `e`'s token and amount.
    /// Errors say why it cannot be taken over.
    fn recovered_lineage(
        &mut self,
        e: &HeldEntry,
        lost: &DeviceId,
    ) -> Result<LineageManifest, String> {
        let bytes = self
            .store
            .get(Table::Objects, e.manifest.as_bytes())
            .map_err(|e| e.to_string())?
            .ok_or("its lineage was not in the backup")?;
        let manifest = LineageManifest::from_bytes(&bytes)
            .map_err(|e| format!("its lineage manifest does not decode: {e}"))?;
        if manifest.parcel != e.id {
            return Err("its lineage manifest is another parcel's".into());
        }
        let mut objects = dsm_core::parcel::AddressedObjects::new();
        for a in manifest.addresses() {
            if objects.contains_key(&a) {
                continue;
            }
            let o = self
                .store
                .get(Table::Objects, a.as_bytes())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("lineage object {a} was not in the backup"))?;
            objects.insert_stored(a, o);
        }
        let lineage = Lineage::from_objects(&manifest, &objects).map_err(|e| e.to_string())?;
        let v = dsm_core::parcel::verify_lineage(
            &lineage,
            &e.id,
            Some(lost),
            &mut self.rules,
            &self.book.cache,
        )
        .map_err(|e| format!("its lineage is refused: {e}"))?;
        if v.parcel().token != e.token || v.parcel().amount != e.amount {
            return Err("its lineage proves another token or amount than the backup says".into());
        }
        Ok(manifest)
    }

    /// Records in `b` why recovered parcel `id` was left out.
    fn leave_out(&self, b: &mut Batch, id: &ParcelId, why: &str) {
        b.put(
            Table::Meta,
            prefixed(RECOVERED_LEFT, id),
            why.as_bytes().to_vec(),
        );
    }

    /// The lost device's held entries, by id.
    fn recovered_entries(&self) -> Result<Vec<HeldEntry>, WalletError> {
        self.store
            .scan(Table::Meta)?
            .into_iter()
            .filter(|(k, _)| k.starts_with(RECOVERED_HELD))
            .map(|(_, v)| HeldEntry::from_bytes(&v).map_err(corrupt("recovered parcel")))
            .collect()
    }

    /// The held entry of recovered parcel `id`.
    fn recovered_entry(&self, id: &ParcelId) -> Result<HeldEntry, WalletError> {
        let v = self
            .store
            .get(Table::Meta, &prefixed(RECOVERED_HELD, id))?
            .ok_or(WalletError::NotFound)?;
        HeldEntry::from_bytes(&v).map_err(corrupt("recovered parcel"))
    }

    /// Every recovered parcel this device claimed, with its consuming statement's commit.
    fn recovered_claims(&self) -> Result<Vec<(ParcelId, Digest)>, WalletError> {
        let bad = || WalletError::Corrupt {
            what: "recovery",
            error: "a malformed claim record".into(),
        };
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Meta)? {
            if let Some(id) = k.strip_prefix(RECOVERED_CLAIM) {
                let id = ParcelId(Digest(id.try_into().map_err(|_| bad())?));
                if self
                    .store
                    .contains(Table::Meta, &prefixed(RECOVERED_LEFT, &id))?
                {
                    continue;
                }
                out.push((id, Digest(v.as_slice().try_into().map_err(|_| bad())?)));
            }
        }
        Ok(out)
    }

    /// The recovered parcels left out, each as "id (amount of token): why".
    pub fn recovered_left_out(&self) -> Result<Vec<String>, WalletError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Meta)? {
            if let Some(id) = k.strip_prefix(RECOVERED_LEFT) {
                let id = ParcelId(Digest(id.try_into().map_err(|_| WalletError::Corrupt {
                    what: "recovery",
                    error: "a malformed left-out record".into(),
                })?));
                let what = match self.recovered_entry(&id) {
                    Ok(e) => format!(
                        "parcel {id} ({} of token {})",
                        e.amount,
                        e.token.digest().to_hex()
                    ),
                    Err(_) => format!("parcel {id}"),
                };
                out.push(format!("{what}: {}", String::from_utf8_lossy(&v)));
            }
        }
        Ok(out)
    }
}

/// The Meta key of the recovered offer of the lost device's proposal `commit`.
fn offer_key(commit: &Digest) -> Vec<u8> {
    [RECOVERED_OFFER, commit.as_bytes().as_slice()].concat()
}

/// `prefix ‖ id`.
fn prefixed(prefix: &[u8], id: &ParcelId) -> Vec<u8> {
    [prefix, id.as_bytes().as_slice()].concat()
}

/// What [`fetch_packs`] read: the objects by address, nodes that served bytes that do not
/// open, and the packs no node served.
struct FetchedPacks {
    objects: HashMap<Digest, Vec<u8>>,
    faults: Vec<NodeFault>,
    missing: Vec<String>,
}

/// Reads the object packs `packs` (capsule index, count) of `key`'s stream: a pack is taken
/// from the first placed node whose bytes open under the key at its position — the AEAD
/// authenticates it, so one honest node suffices, and a node serving other bytes is
/// reported.
fn fetch_packs(
    nodes: &NodeSet,
    key: &dsm_recovery::CapsuleKey,
    packs: &[(u64, u64)],
) -> Result<FetchedPacks, WalletError> {
    let positions: Vec<(u64, u64)> = packs
        .iter()
        .flat_map(|(i, n)| (0..*n).map(move |j| (*i, j)))
        .collect();
    let replicas = read_replicas(
        nodes,
        &key.slot_owner(),
        &positions,
        |(i, j)| dsm_recovery::pack_position(*i, *j),
        "pack",
    )?;
    let mut objects = HashMap::new();
    let (mut faults, mut missing) = (Vec::new(), Vec::new());
    for ((i, j), rs) in positions.iter().zip(replicas) {
        let mut opened = false;
        for (node, r) in rs {
            let SlotReplica::Holds(bytes) = r else {
                continue;
            };
            if opened {
                continue;
            }
            let pack = dsm_recovery::SealedPack::from_bytes(&bytes)
                .ok()
                .and_then(|c| key.open_pack(&c, *i, *j).ok())
                .and_then(|pt| ObjectPack::from_bytes(&pt).ok());
            match pack {
                Some(p) => {
                    for o in p.objects {
                        objects.insert(object_address(&o), o);
                    }
                    opened = true;
                }
                None => faults.push(NodeFault {
                    node,
                    what: format!(
                        "serves bytes for object pack {j} of capsule {i} that do not open"
                    ),
                }),
            }
        }
        if !opened {
            missing.push(format!("object pack {j} of capsule {i}"));
        }
    }
    Ok(FetchedPacks {
        objects,
        faults,
        missing,
    })
}

/// Result of [`Wallet::push_capsules`].
#[derive(Clone, Debug, Default)]
pub struct BackupPush {
    /// Capsules that reached K nodes now.
    pub uploaded: u64,
    /// Set when a capsule reached fewer than K nodes (retried at the next sync).
    pub short: Option<String>,
    /// Set when a node holds another capsule at one of our positions.
    pub conflict: Option<String>,
    /// Misbehaving nodes.
    pub faults: Vec<NodeFault>,
}

/// Result of [`Wallet::backup_status`].
#[derive(Clone, Debug, Default)]
pub struct BackupStatus {
    /// False for an identity without a recovery phrase.
    pub enabled: bool,
    /// This device's generation: 0 for an identity's first device, n for the n-th
    /// successor (each generation writes its own stream).
    pub generation: u64,
    /// The stream's address (hex).
    pub stream: String,
    /// Capsules sealed (the last index is `sealed - 1`).
    pub sealed: u64,
    /// Capsules known to be at K nodes.
    pub uploaded: u64,
    /// For the last capsule: each placed node and what it holds.
    pub replicas: Vec<(String, String)>,
}

/// A step as the store keeps it: its word as a JSON string.
fn step_word(step: RecoveryStep) -> Vec<u8> {
    json(&step.word())
}

fn step_of(store: &dyn Store) -> Result<Option<RecoveryStep>, WalletError> {
    match store.get(Table::Meta, RECOVERY_STEP)? {
        None => Ok(None),
        // Stored as a JSON string of the step's word.
        Some(v) => serde_json::from_slice::<String>(&v)
            .ok()
            .and_then(|w| RecoveryStep::from_word(&w))
            .map(Some)
            .ok_or_else(|| WalletError::Corrupt {
                what: "recovery step",
                error: format!("{:?} is not a recovery step", String::from_utf8_lossy(&v)),
            }),
    }
}

/// Restores an identity from its recovery phrase onto a new device in `store`
/// (PROTOCOL.md §20.3): fetch and replay the capsule stream; create the new device (fresh
/// key) holding the recovered state; publish the tombstone of the lost device, then the
/// succession naming this one, each in a write-once slot; commit the SUCCEED head; send
/// every counterparty of the lost device a notice. Spending to a counterparty resumes when
/// its acknowledgement arrives (`sync`).
///
/// Rerunning after a crash or an error continues where the store says it stopped: the same
/// new key, the same tombstone and succession (authority signatures are deterministic and
/// the slots are write-once), so it never tombstones twice or forks the identity.
pub fn recover(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<(Wallet, RecoveryReport), WalletError> {
    recover_confirmed(store, keys, nodes, options, progress, &mut |_| true)
}

/// A balance in a [`RecoveryPreview`].
#[derive(Clone, Debug)]
pub struct PreviewBalance {
    /// The token.
    pub token: TokenId,
    /// The amount.
    pub amount: Amount,
    /// The ticker and decimal places of its policy, when the backup carries it.
    pub policy: Option<(String, u32)>,
}

/// What a recovery found in the backup and is about to do: shown before anything is
/// created or published, since it permanently disables the lost device.
#[derive(Clone, Debug)]
pub struct RecoveryPreview {
    /// The device to tombstone.
    pub lost: DeviceId,
    /// Its last backed-up head height.
    pub height: u64,
    /// Capsules replayed.
    pub capsules: u64,
    /// Its balances at that head.
    pub balances: Vec<PreviewBalance>,
    /// Relationships to tell of the successor.
    pub counterparties: usize,
    /// Contacts carried.
    pub contacts: usize,
}

/// [`recover`], asking `confirm` once the backup is fetched and replayed, before anything
/// is created or published. `false` ends it with [`WalletError::Declined`], leaving the
/// store as it was. A recovery that resumes (its store already holds the successor) was
/// confirmed before and does not ask again.
pub fn recover_confirmed(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    progress: &mut dyn FnMut(&str),
    confirm: &mut dyn FnMut(&RecoveryPreview) -> bool,
) -> Result<(Wallet, RecoveryReport), WalletError> {
    recover_from(
        store,
        keys,
        nodes,
        options,
        BackupSource::Nodes,
        progress,
        confirm,
    )
}

/// Where a recovery reads the lost device's state.
pub enum BackupSource<'a> {
    /// Its capsule stream at the storage nodes (`dsm recover`).
    Nodes,
    /// A backup file it exported (`dsm backup import`): the file replaces the capsule
    /// download; the tombstone, succession and claims still go to the nodes.
    File(&'a crate::wallet::backup::OpenedBackup),
}

/// [`recover_confirmed`] from `source`.
pub fn recover_from(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    source: BackupSource<'_>,
    progress: &mut dyn FnMut(&str),
    confirm: &mut dyn FnMut(&RecoveryPreview) -> bool,
) -> Result<(Wallet, RecoveryReport), WalletError> {
    let mut faults = Vec::new();
    let mut wallet = successor_wallet(
        store,
        keys,
        nodes,
        options,
        source,
        progress,
        confirm,
        &mut faults,
    )?;
    // Each step is done once: a crash or an error leaves the step record where it was,
    // and running the recovery again goes on from there (PROTOCOL.md §20.3).
    // The order is dsm-recovery's (`RecoveryStep::after`); each step records itself.
    let r = Restoring::new(&wallet, keys, nodes)?;
    let done = step_of(wallet.store.as_ref())?;
    // Signed deterministically: the same record at every run, whichever step it resumes.
    let succession = r.succession(&wallet)?;
    for step in RecoveryStep::after(done) {
        match step {
            // Recorded by `successor_wallet` when it made the new device.
            RecoveryStep::Created => {}
            RecoveryStep::Tombstoned => r.publish_tombstone(&mut wallet, &mut faults, progress)?,
            RecoveryStep::Published => {
                r.publish_succession(&mut wallet, &succession, &mut faults, progress)?
            }
            RecoveryStep::Claimed => wallet.claim_recovered(
                nodes,
                &r.lost_identity,
                &succession.signed,
                &r.authority,
                &mut faults,
                progress,
            )?,
            RecoveryStep::Succeeded => r.succeed(&mut wallet, &succession)?,
            RecoveryStep::Notified => {
                r.notify_counterparties(&mut wallet, &succession, progress)?
            }
        }
    }
    r.finish(wallet, faults)
}

/// The successor's wallet: the one this home started recovering (resumed), or a new one
/// from the backup file or from the capsules at the nodes, once the user confirmed.
#[allow(clippy::too_many_arguments)]
fn successor_wallet(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    source: BackupSource<'_>,
    progress: &mut dyn FnMut(&str),
    confirm: &mut dyn FnMut(&RecoveryPreview) -> bool,
    faults: &mut Vec<NodeFault>,
) -> Result<Wallet, WalletError> {
    if store.get(Table::Meta, b"identity")?.is_some() {
        resumed_successor(store, keys, options, progress)
    } else if let BackupSource::File(backup) = source {
        successor_from_file(store, keys, nodes, options, backup, confirm)
    } else {
        successor_from_nodes(store, keys, nodes, options, progress, confirm, faults)
    }
}

/// The successor this home started to recover: it must be a recovery of this phrase's
/// identity that has not finished.
fn resumed_successor(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    options: &RecoverOptions<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Wallet, WalletError> {
    if step_of(store.as_ref())?.is_none() {
        return Err(WalletError::AlreadyExists);
    }
    progress("resuming the recovery this home started");
    let w = Wallet::open(store, options.passphrase)?;
    if w.genesis_record()?.recovery_authority.as_ref() != Some(keys.authority_key().public_key()) {
        return Err(WalletError::Recovery(
            "this home is recovering another identity; use another --home".into(),
        ));
    }
    Ok(w)
}

/// A new successor from a backup file, while the nodes hold nothing newer.
fn successor_from_file(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    backup: &crate::wallet::backup::OpenedBackup,
    confirm: &mut dyn FnMut(&RecoveryPreview) -> bool,
) -> Result<Wallet, WalletError> {
    let (state, objects) = backup.recovered_state()?;
    let generation = backup.generation;
    // The file replaces the download only while the nodes hold nothing newer: restoring an
    // old file over a newer stream would tombstone the device at an old head.
    if stream_started(nodes, &keys.generation(generation + 1).slot_owner())? {
        return Err(WalletError::Recovery(
            "this identity was already restored onto another device after this backup was \
             written; use that device"
                .into(),
        ));
    }
    let gen_key = keys.generation(generation);
    if capsule_at_quorum(nodes, &gen_key.slot_owner(), backup.capsule_next)? {
        return Err(WalletError::Recovery(format!(
            "the storage nodes hold a newer backup of device {} than this file (capsule {} \
             and on): restore from them with `dsm recover`",
            state.identity.device_id(),
            backup.capsule_next
        )));
    }
    if !confirm(&preview_of(&state)) {
        return Err(WalletError::Declined);
    }
    create_successor(store, keys, &state, generation + 1, options, &objects)
}

/// A new successor from the capsules of the newest device generation at the nodes.
fn successor_from_nodes(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    progress: &mut dyn FnMut(&str),
    confirm: &mut dyn FnMut(&RecoveryPreview) -> bool,
    faults: &mut Vec<NodeFault>,
) -> Result<Wallet, WalletError> {
    progress("fetching backup capsules from the storage nodes");
    // The newest device generation with a capsule 0 at a quorum is the one to replace.
    let mut generation = 0u64;
    while stream_started(nodes, &keys.generation(generation + 1).slot_owner())? {
        generation += 1;
    }
    let gen_key = keys.generation(generation);
    let fetched = fetch_stream(nodes, &gen_key, &mut |n| {
        if n % 1000 == 0 {
            progress(&format!("  {n} capsules"));
        }
    })?;
    faults.extend(fetched.faults);
    if let Some(short) = &fetched.short {
        progress(short);
    }
    if fetched.chain.is_empty() {
        return Err(WalletError::Recovery(
            "no backup was found for this recovery phrase at these storage nodes: check the \
             phrase (it is a valid phrase, but no node holds a backup for it) and the node list"
                .into(),
        ));
    }
    progress(&format!("replaying {} capsules", fetched.chain.len()));
    let state =
        replay(&gen_key, &fetched.chain).map_err(|e| WalletError::Recovery(e.to_string()))?;
    if state.genesis.recovery_authority.as_ref() != Some(keys.authority_key().public_key()) {
        return Err(WalletError::Recovery(
            "the backup's identity is not controlled by this recovery phrase".into(),
        ));
    }
    if generation > 0 && !options.replace_successor {
        return Err(WalletError::Recovery(format!(
            "the newest device of this identity, {}, was itself restored from the phrase \
             (device generation {generation}); if that device is lost too, run the recovery \
             again allowing it to be replaced (`dsm recover --replace-restored`)",
            state.identity.device_id(),
        )));
    }
    if !confirm(&preview_of(&state)) {
        return Err(WalletError::Declined);
    }
    let FetchedPacks {
        objects,
        faults: pack_faults,
        missing,
    } = fetch_packs(nodes, &gen_key, &state.packs)?;
    faults.extend(pack_faults);
    for m in &missing {
        progress(&format!(
            "{m} is held by no storage node: parcels whose lineage needs it are left out"
        ));
    }
    create_successor(store, keys, &state, generation + 1, options, &objects)
}

/// What every step after the successor exists works from.
struct Restoring<'a> {
    nodes: &'a NodeSet,
    lost_identity: DeviceIdentity,
    lost: DeviceId,
    recovered_head: DeviceHead,
    genesis: dsm_core::identity::GenesisRecord,
    authority: SigningKey,
    tombstone: SignedTombstone,
}

/// The succession the authority signs for this successor, and what it proves.
struct SignedSuccessionRecord {
    signed: SignedSuccession,
    verified: dsm_recovery::succession::VerifiedSuccession,
    record: SuccessionRecord,
}

impl<'a> Restoring<'a> {
    fn new(wallet: &Wallet, keys: &RecoveryKeys, nodes: &'a NodeSet) -> Result<Self, WalletError> {
        let lost_identity = wallet.recovered_lost()?;
        let recovered_head = DeviceHead::from_bytes(
            &wallet
                .store
                .get(Table::Meta, RECOVERED_HEAD)?
                .ok_or(WalletError::NotFound)?,
        )
        .map_err(corrupt("recovered head"))?;
        let authority = keys.authority_key();
        let tombstone = sign_tombstone(
            &authority,
            Tombstone {
                lost: lost_identity.clone(),
                recovered_head: recovered_head.clone(),
            },
        );
        Ok(Restoring {
            nodes,
            lost: lost_identity.device_id(),
            lost_identity,
            recovered_head,
            genesis: wallet.genesis_record()?,
            authority,
            tombstone,
        })
    }

    /// Fails unless a publication reached K nodes.
    fn quorum(&self, acks: usize, what: &str) -> Result<(), WalletError> {
        let k = self.nodes.params().k;
        if acks < k {
            return Err(WalletError::Recovery(format!(
                "the {what} reached {acks} storage node(s), {k} needed; run the recovery again \
                 when more nodes are up (it goes on from here)"
            )));
        }
        Ok(())
    }

    /// Step 1: the lost device's tombstone, in the slot only the authority may write.
    fn publish_tombstone(
        &self,
        wallet: &mut Wallet,
        faults: &mut Vec<NodeFault>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), WalletError> {
        let (nodes, authority, genesis, tombstone) =
            (self.nodes, &self.authority, &self.genesis, &self.tombstone);
        let (lost, lost_identity) = (self.lost, &self.lost_identity);
        progress(&format!("publishing the tombstone of device {lost}"));
        let (owner, key) = tombstone_slot(lost_identity, authority.public_key());
        let put = authority_put(authority, genesis, owner, key, seal_tombstone(tombstone))?;
        // Only the authority writes here (the node checks): whatever another write holds is
        // a tombstone this phrase signed from another backup point.
        let r = nodes
            .anchor_owned(&owner, &key, &put, &|_| Judged::Rival)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        faults.extend(r.faults);
        if let Anchor::Conflict { existing, .. } = r.outcome {
            let why = match open_tombstone(lost_identity, &existing) {
                Some(t) => format!(
                    "device {lost} was already tombstoned from another backup point (head \
                 height {}); that recovery stands",
                    t.record.recovered_head.height
                ),
                None => "the recovery authority of this phrase wrote other bytes into the \
                       tombstone slot; recover with the software that did"
                    .into(),
            };
            return Err(WalletError::Recovery(why));
        }
        self.quorum(r.acked.len(), "tombstone")?;
        let mut b = Batch::new();
        b.put(Table::Meta, TOMBSTONE.to_vec(), tombstone.to_bytes())
            .put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                step_word(RecoveryStep::Tombstoned),
            );
        wallet.store.commit(&b)?;
        Ok(())
    }

    /// The succession naming this device, signed by the authority.
    fn succession(&self, wallet: &Wallet) -> Result<SignedSuccessionRecord, WalletError> {
        let signed = sign_succession(
            &self.authority,
            Succession {
                tombstone: self.tombstone.record.digest(),
                successor: wallet.identity.clone(),
            },
        );
        let verified = verify_succession(&self.genesis, &self.tombstone, &signed)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let record = SuccessionRecord {
            genesis: self.genesis.clone(),
            tombstone: self.tombstone.clone(),
            succession: signed.clone(),
        };
        Ok(SignedSuccessionRecord {
            signed,
            verified,
            record,
        })
    }

    /// Step 2: the succession, and the lost device's next slot claimed with it.
    fn publish_succession(
        &self,
        wallet: &mut Wallet,
        s: &SignedSuccessionRecord,
        faults: &mut Vec<NodeFault>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), WalletError> {
        let (nodes, authority, genesis, tombstone) =
            (self.nodes, &self.authority, &self.genesis, &self.tombstone);
        let (lost, lost_identity, recovered_head) =
            (self.lost, &self.lost_identity, &self.recovered_head);
        let (succession, verified, record) = (&s.signed, &s.verified, &s.record);
        progress(&format!(
            "publishing the succession: device {} replaces {lost}",
            wallet.device_id()
        ));
        let (owner, key) = succession_slot(&tombstone.record, authority.public_key());
        let put = authority_put(authority, genesis, owner, key, seal_succession(succession))?;
        let r = nodes
            .anchor_owned(&owner, &key, &put, &|_| Judged::Rival)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        faults.extend(r.faults);
        if let Anchor::Conflict { existing, .. } = r.outcome {
            let other = open_succession(&tombstone.record, &existing)
                .map(|s| s.record.successor.device_id().to_string())
                .unwrap_or_else(|| "(unreadable)".into());
            return Err(WalletError::Recovery(format!(
                "this identity was already recovered to device {other}; use that device (a \
             second successor would fork the identity)"
            )));
        }
        self.quorum(r.acked.len(), "succession")?;
        // Claim the lost device's next slot, so nothing it signs from the recovered head
        // on can ever settle; if it already has a settled successor there, it spent after
        // the backup point and spending stays blocked.
        // Sealed under the recovered head, as a statement from it would be (§16.2).
        let record = dsm_core::slot::seal_anchor_body(&recovered_head.digest(), &record.to_bytes());
        let (owner, key) = dsm_core::slot::anchor_slot(lost_identity, &recovered_head.digest());
        let entry = SlotEntry {
            owner,
            key,
            body: body_digest(&record),
        };
        let put = OwnedPut {
            write: SlotWrite::sign(
                Admission::Authority {
                    genesis_blind: dsm_core::slot::genesis_blind(&genesis.digest()),
                    device: Some((
                        lost_identity.public_key.clone(),
                        wallet.lost_authority_admission()?,
                    )),
                },
                authority,
                vec![entry],
                &os_random()?,
            )
            .map_err(|e| WalletError::Recovery(format!("cannot sign the slot write: {e}")))?,
            body: record.clone(),
        };
        let claim = nodes
            .anchor_owned(&owner, &key, &put, &|other: &[u8]| {
                if other == record.as_slice() {
                    Judged::Same
                } else {
                    Judged::Rival
                }
            })
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let mut b = Batch::new();
        if let Anchor::Conflict { .. } = claim.outcome {
            b.put(
                Table::Meta,
                RECOVERY_BLOCKED.to_vec(),
                b"the lost device signed a transfer after the last backup and it reached the \
              storage nodes: the recovered balance may be too high, so spending stays \
              blocked"
                    .to_vec(),
            );
        }
        b.put(Table::Meta, SUCCESSION.to_vec(), succession.to_bytes())
            .put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                step_word(RecoveryStep::Published),
            );
        wallet.record_succession(&mut b, verified, None);
        wallet.store.commit(&b)?;
        wallet.refused.tombstoned(lost);
        Ok(())
    }

    /// Step 4: the SUCCEED head, holding a continued root per claimed parcel.
    fn succeed(&self, wallet: &mut Wallet, s: &SignedSuccessionRecord) -> Result<(), WalletError> {
        let (lost, record, verified) = (self.lost, &s.record, &s.verified);
        let mut b = Batch::new();
        let mut change = super::parcels::BookChange::default();
        let mut balances = dsm_core::chain::Balances::new();
        for (id, commit) in wallet.recovered_claims()? {
            let rec = wallet
                .consumed_parcels(&commit)?
                .ok_or_else(|| WalletError::Corrupt {
                    what: "recovery",
                    error: format!("the claim on recovered parcel {id} is missing"),
                })?;
            let token = wallet.recovered_entry(&id)?.token;
            let mut attempt = Batch::new();
            match wallet.recovered_root(&mut attempt, record, &rec, token) {
                Ok((c, amount)) => {
                    for (t, k, v) in attempt.ops() {
                        match v {
                            Some(v) => b.put(*t, k.clone(), v.clone()),
                            None => b.delete(*t, k.clone()),
                        };
                    }
                    balances = balances
                        .credited(&token, amount)
                        .map_err(|e| WalletError::Recovery(e.to_string()))?;
                    change.merge(c);
                }
                Err(e) => {
                    wallet.leave_out(&mut b, &id, &format!("it could not be proven onward: {e}"))
                }
            }
        }
        let head = wallet
            .head
            .succession_child(balances, verified.digest())
            .ok_or_else(|| WalletError::Recovery("the new device already moved on".into()))?;
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
            .put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                step_word(RecoveryStep::Succeeded),
            )
            .put(
                Table::History,
                history_key(head.height),
                json(&HistoryEntry {
                    height: head.height,
                    kind: EntryKind::Succession,
                    peer: Some(lost),
                    token: None,
                    amount: None,
                    status: LineStatus::Final,
                    receipt: None,
                    settlement: None,
                    time: wall_clock(),
                }),
            );
        wallet
            .commit_head_change(&mut b, None)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        wallet.apply_book(change);
        wallet.head = head;
        wallet.refused.tombstoned(lost);
        Ok(())
    }

    /// Step 5: a notice to every counterparty, where it already polls.
    fn notify_counterparties(
        &self,
        wallet: &mut Wallet,
        s: &SignedSuccessionRecord,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), WalletError> {
        let (nodes, genesis, tombstone) = (self.nodes, &self.genesis, &self.tombstone);
        let (lost, recovered_head) = (self.lost, &self.recovered_head);
        let succession = &s.signed;
        let counterparties = wallet.recovery_counterparties()?;
        let mut tree = SparseMerkleTree::new();
        for c in &counterparties {
            tree.insert(
                *RelationshipKey::between(&lost, &c.device).as_bytes(),
                c.tip,
            );
        }
        if tree.root() != recovered_head.smt_root {
            return Err(WalletError::Corrupt {
                what: "recovery",
                error: "the recovered relationships do not match the recovered head".into(),
            });
        }
        let todo: Vec<(CounterpartyRecovery, DeviceId)> = counterparties
            .into_iter()
            .filter(|c| !c.notified)
            .map(|c| {
                let d = c.device;
                (c, d)
            })
            .collect();
        // Their identity documents, where the backup named them (contacts' cards, tip
        // entries): a notice goes sealed to the address the document's identity derives
        // (PROTOCOL.md §16.1). Without one, it goes in clear to the introduction address of
        // the slot owner the tip entries named; with neither, the counterparty is reported
        // as not notified.
        for (_, device) in &todo {
            if wallet.contact_kem_key(device)?.is_some() {
                continue;
            }
            let Some(address) = wallet.contact_document_address(device)? else {
                continue;
            };
            if let Ok((sealed, _)) = nodes.get_object(&address) {
                let card = ContactCard {
                    name: String::new(),
                    device: *device,
                    document: Some(address),
                };
                let _ = wallet.accept_contact_document(&card, &sealed);
            }
        }
        let mut all = true;
        // Chunks: notices are built here, posted by a few threads at once (each post waits
        // for K nodes to store it durably), and their marks committed in one batch; a crash
        // repeats at most one chunk's posts, which counterparties answer idempotently.
        for chunk in todo.chunks(64) {
            // A counterparty whose identity the backup did not carry (no document, no
            // statement of its kept) cannot be posted to: its b0x addresses derive from its
            // identity (PROTOCOL.md §16.1). It learns of the succession at its next session
            // with the successor, or from the tombstone.
            let items: Vec<Result<(Digest, Vec<u8>), String>> = chunk
                .iter()
                .map(|(c, device)| {
                    let address = match (wallet.peer_b0x_address(device), c.owner) {
                        (Ok(a), _) => a,
                        (Err(_), Some(owner)) => dsm_core::slot::b0x_address(&owner, None),
                        (Err(e), None) => return Ok(Err(e.to_string())),
                    };
                    let notice = SuccessionNotice {
                        genesis: genesis.clone(),
                        tombstone: tombstone.clone(),
                        succession: succession.clone(),
                        counterparty: *device,
                        proof: tree.prove(RelationshipKey::between(&lost, device).as_bytes()),
                        pending: wallet.recovered_pending(device)?,
                        pending_lineage: Vec::new(),
                        pending_sealed: Vec::new(),
                        successor_document: wallet.contact_document()?.to_bytes(),
                    };
                    let mut notice = notice;
                    (notice.pending_lineage, notice.pending_sealed) =
                        wallet.pending_lineage(nodes, &notice.pending);
                    let item = crate::online::sealed_for(
                        wallet,
                        device,
                        RecoveryMessage::Notice(Box::new(notice)).to_bytes(),
                    );
                    Ok(Ok((address, item)))
                })
                .collect::<Result<_, WalletError>>()?;
            let postable: Vec<(Digest, Vec<u8>)> = items
                .iter()
                .filter_map(|i| i.as_ref().ok().cloned())
                .collect();
            let mut results = post_all(nodes, &postable).into_iter();
            let posted = items.iter().map(|i| match i {
                Ok(_) => results
                    .next()
                    .unwrap_or_else(|| Err("a posting thread stopped".into())),
                Err(e) => Err(e.clone()),
            });
            let mut b = Batch::new();
            for ((c, device), result) in chunk.iter().zip(posted) {
                let who = c
                    .name
                    .clone()
                    .unwrap_or_else(|| c.device.digest().to_hex()[..16].to_string());
                match result {
                    Ok(()) => {
                        let mut c = c.clone();
                        c.notified = true;
                        b.put(Table::Recovery, device.as_bytes().to_vec(), json(&c));
                        progress(&format!("  notified {who}"));
                    }
                    Err(e) => {
                        all = false;
                        progress(&format!("  could not notify {who}: {e}"));
                    }
                }
            }
            wallet.store.commit(&b)?;
        }
        if all {
            let mut b = Batch::new();
            b.put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                step_word(RecoveryStep::Notified),
            );
            wallet.store.commit(&b)?;
        }
        Ok(())
    }

    /// The capsules of the new device pushed, and what the recovery did.
    fn finish(
        &self,
        mut wallet: Wallet,
        mut faults: Vec<NodeFault>,
    ) -> Result<(Wallet, RecoveryReport), WalletError> {
        let (nodes, lost, recovered_head) = (self.nodes, self.lost, &self.recovered_head);
        let push = wallet.push_capsules(nodes)?;
        faults.extend(push.faults);
        let blocked = wallet
            .store
            .get(Table::Meta, RECOVERY_BLOCKED)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let report = RecoveryReport {
            lost,
            successor: wallet.device_id(),
            capsules: wallet
                .store
                .get(Table::Meta, RECOVERED_CAPSULES)?
                .and_then(|v| v.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
            height: recovered_head.height,
            counterparties: wallet.recovery_counterparties()?,
            faults,
            blocked,
            left_out: wallet.recovered_left_out()?,
        };
        Ok((wallet, report))
    }
}

/// Creates the new device holding the recovered state: fresh key, the identity's genesis,
/// the CREATE head, contacts, policies, the recovered head and relationships (for the
/// notices), and the capsule stream's position, in one batch.
fn create_successor(
    mut store: Box<dyn Store>,
    keys: &RecoveryKeys,
    state: &RecoveredState,
    generation: u64,
    options: &RecoverOptions<'_>,
    objects: &HashMap<Digest, Vec<u8>>,
) -> Result<Wallet, WalletError> {
    let (suite, passphrase, params) = (options.suite, options.passphrase, options.kdf);
    let capsules = keys.generation(generation);
    let seed = SecretSeed::from_bytes(os_random()?);
    let key = SigningKey::from_seed(suite, &seed);
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    salt.copy_from_slice(&os_random()?[..16]);
    nonce.copy_from_slice(&os_random()?[..24]);
    let sealed = keystore::seal_keys(
        &seed,
        Some(capsules.secret_bytes()),
        suite,
        passphrase,
        params,
        salt,
        nonce,
    )?;
    let identity = DeviceIdentity {
        genesis: state.genesis.digest(),
        public_key: key.public_key().clone(),
    };
    let head = DeviceHead::initial(identity.device_id(), &identity.genesis);
    let mut b = Batch::new();
    b.put(Table::Meta, b"format".to_vec(), FORMAT_VERSION.to_vec())
        .put(Table::Meta, b"identity".to_vec(), identity.to_bytes())
        .put(
            Table::Meta,
            b"genesis_record".to_vec(),
            state.genesis.to_bytes(),
        )
        .put(Table::Meta, b"sealed_key".to_vec(), sealed)
        .put(Table::Meta, b"head".to_vec(), head.to_bytes())
        .put(
            Table::Meta,
            CAPSULE_STREAM.to_vec(),
            capsules.stream.as_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            CAPSULE_GENERATION.to_vec(),
            generation.to_be_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            RECOVERED_CAPSULES.to_vec(),
            state.capsules.to_be_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            RECOVERED_LOST.to_vec(),
            state.identity.to_bytes(),
        )
        .put(Table::Meta, RECOVERED_HEAD.to_vec(), state.head.to_bytes())
        .put(
            Table::Meta,
            RECOVERY_STEP.to_vec(),
            step_word(RecoveryStep::Created),
        );
    super::put_authority_admission(&mut b, &key, &identity, &state.genesis)?;
    if let Some(a) = &state.authority_admission {
        b.put(Table::Meta, LOST_AUTHORITY_ADMISSION.to_vec(), a.to_bytes());
    }
    let names: BTreeMap<DeviceId, String> = state
        .contacts
        .iter()
        .map(|(n, d)| (*d, n.clone()))
        .collect();
    for (name, device) in &state.contacts {
        b.put(
            Table::Contacts,
            name.clone().into_bytes(),
            json(&Contact {
                name: name.clone(),
                device: device.digest().to_hex(),
            }),
        );
    }
    for (device, address) in &state.documents {
        b.put(
            Table::Meta,
            [super::CONTACT_DOCUMENT_ADDRESS, device.as_bytes()].concat(),
            address.as_bytes().to_vec(),
        );
    }
    let mut carried = Vec::new();
    let mut tickers = BTreeMap::new();
    for p in &state.policies {
        if let Ok(policy) = dsm_token::policy::TokenPolicy::from_bytes(p) {
            let id = policy.token_id();
            carried.extend_from_slice(id.as_bytes());
            b.put(Table::Policies, id.as_bytes().to_vec(), p.clone());
            tickers.insert(id, policy.ticker.clone());
        }
    }
    b.put(Table::Meta, CAPSULE_POLICIES.to_vec(), carried);
    // The parcels the lost device held, with every lineage object the packs carried for
    // them: what the claim step takes over (or leaves out, with why).
    let mut stored = HashSet::new();
    for e in state.held.values() {
        b.put(Table::Meta, prefixed(RECOVERED_HELD, &e.id), e.to_bytes());
        let Some(m) = objects.get(&e.manifest) else {
            continue;
        };
        let mut wanted = vec![e.manifest];
        if let Ok(manifest) = LineageManifest::from_bytes(m) {
            wanted.extend(manifest.addresses());
        }
        for a in wanted {
            if let Some(o) = objects.get(&a).filter(|_| stored.insert(a)) {
                b.put(Table::Objects, a.as_bytes().to_vec(), o.clone());
            }
        }
    }
    // The offers of the pending proposals (their inputs' lineages): what a reclaim needs.
    for a in &state.offers {
        let Some(o) = objects.get(a) else {
            continue;
        };
        let Ok(offer) = Offer::from_bytes(o) else {
            continue;
        };
        let commit = offer.signed.proposal.commit();
        if !state.pending.iter().any(|p| p.proposal.commit() == commit) {
            continue;
        }
        b.put(Table::Meta, offer_key(&commit), o.clone());
        for a in offer.listed() {
            if let Some(o) = objects.get(&a).filter(|_| stored.insert(a)) {
                b.put(Table::Objects, a.as_bytes().to_vec(), o.clone());
            }
        }
    }
    let mut queues: BTreeMap<DeviceId, Vec<&SignedProposal>> = BTreeMap::new();
    for p in &state.pending {
        queues.entry(p.proposal.step.receiver).or_default().push(p);
    }
    for (peer, queue) in &mut queues {
        queue.sort_by_key(|p| p.proposal.sender_child_head.height);
        b.put(Table::Meta, pending_key(peer), encode_queue(queue));
    }
    for (device, tip) in state.relationships.values() {
        let waiting: Vec<String> = queues
            .get(device)
            .into_iter()
            .flatten()
            .map(|p| {
                let t = &p.proposal.step.token;
                let name = tickers
                    .get(t)
                    .cloned()
                    .unwrap_or_else(|| format!("token {}", &t.digest().to_hex()[..16]));
                format!("{} {name}", p.proposal.step.amount)
            })
            .collect();
        let pending = (!waiting.is_empty()).then(|| {
            format!(
                "{} sent to it {} waiting for {} answer",
                waiting.join(", "),
                if waiting.len() == 1 { "was" } else { "were" },
                if waiting.len() == 1 { "its" } else { "their" }
            )
        });
        b.put(
            Table::Recovery,
            device.as_bytes().to_vec(),
            json(&CounterpartyRecovery {
                device: *device,
                name: names.get(device).cloned(),
                tip: *tip.digest(),
                status: NoticeStatus::Waiting,
                notified: false,
                pending,
                evidence: None,
                owner: state.owners.get(device).copied(),
            }),
        );
    }
    store.commit(&b)?;
    Wallet::open(store, passphrase)
}
