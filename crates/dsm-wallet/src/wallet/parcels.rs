//! The parcels a wallet holds and the lineages that prove them (PROTOCOL.md §5.6).
//!
//! Every unit of a balance is a held parcel with a stored lineage manifest whose objects
//! (the root's source, every hop, every signer's identity) are in the `Objects` table, so
//! what is held can always be proven onward. Every head change that moves value changes
//! the held set in the same atomic batch; on open the per-token sums must equal the head's
//! balances (a wallet that does not add up refuses to open).

use super::{corrupt, Wallet, WalletError};
use crate::store::{Batch, Store, Table};
use dsm_core::chain::{Amount, DevGrant, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::identity::DeviceIdentity;
use dsm_core::parcel::{
    cached_prefix, output_id, root_id, verify_lineage, AddressedObjects, Hop, KnownParcel, Lineage,
    LineageError, LineageManifest, ManifestError, ManifestStart, Parcel, ParcelCache, ParcelFork,
    ParcelId, ParcelKnowledge, ParcelStatement, RootFacts, VerifiedLineage,
};
use dsm_core::receipt::{Offer, SignedProposal, MAX_OFFER_LEN};
use dsm_core::slot::{Admission, SlotEntry, SlotWrite};
use dsm_core::tripwire::{Equivocation, EquivocationProof};
use dsm_token::source::{ConsumedParcels, Consumption, MAX_CONSUMED_MANIFESTS_LEN};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A parcel this device holds, with the manifest of its lineage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    pub token: TokenId,
    pub amount: Amount,
    pub manifest: LineageManifest,
}

impl Held {
    fn to_bytes(&self) -> Vec<u8> {
        [
            self.token.as_bytes().as_slice(),
            &self.amount.0.to_be_bytes(),
            &self.manifest.to_bytes(),
        ]
        .concat()
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Option<Held> {
        let token = TokenId(Digest(b.get(..32)?.try_into().ok()?));
        let amount = Amount(u128::from_be_bytes(b.get(32..48)?.try_into().ok()?));
        let manifest = LineageManifest::from_bytes(b.get(48..)?).ok()?;
        Some(Held {
            token,
            amount,
            manifest,
        })
    }
}

/// The held set, the verified-parcel cache and the known parcel conflicts, mirrored in
/// memory.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParcelBook {
    pub held: BTreeMap<ParcelId, Held>,
    pub cache: ParcelKnowledge,
    /// Held parcels whose lineage passes through a parcel in conflict: receivers that hold
    /// the proof refuse them, so payments never choose them (derived, never stored).
    pub tainted: BTreeSet<ParcelId>,
    /// Hops this device saw settled, transitively (table `SettledHops`).
    pub settled_hops: HashSet<Digest>,
}

impl ParcelBook {
    /// Loads the held set and cache.
    pub fn load(store: &dyn Store) -> Result<ParcelBook, WalletError> {
        let mut book = ParcelBook::default();
        for (k, v) in store.scan(Table::Parcels)? {
            let id = ParcelId(Digest(
                k.as_slice().try_into().map_err(|_| bad("parcel key"))?,
            ));
            let held = Held::from_bytes(&v).ok_or_else(|| bad("held parcel"))?;
            if held.manifest.parcel != id {
                return Err(bad("held parcel"));
            }
            book.held.insert(id, held);
        }
        for (k, v) in store.scan(Table::VerifiedParcels)? {
            let id = ParcelId(Digest(
                k.as_slice().try_into().map_err(|_| bad("cache key"))?,
            ));
            let p = decode_cached(id, &v).ok_or_else(|| bad("verified parcel"))?;
            book.cache.insert(p);
        }
        for (k, _) in store.scan(Table::ParcelConflicts)? {
            let (parcel, holder) = pair_key(&k).ok_or_else(|| bad("parcel conflict key"))?;
            // The descendants were forgotten in the batch that stored the conflict.
            book.cache.add_conflict(parcel, holder);
        }
        for (k, v) in store.scan(Table::SettledHops)? {
            let commit = Digest(k.as_slice().try_into().map_err(|_| bad("settled hop"))?);
            if v.len() % 32 != 0 {
                return Err(bad("settled hop"));
            }
            for c in v.chunks_exact(32) {
                let input = ParcelId(Digest(c.try_into().map_err(|_| bad("settled hop"))?));
                book.cache.settle(input, commit);
            }
            book.settled_hops.insert(commit);
        }
        book.tainted = book.find_tainted(store)?;
        Ok(book)
    }

    /// The held parcels whose lineage has a hop consuming a parcel in conflict for its
    /// signer (read from the stored hops; nothing to read while no conflict is known).
    pub fn find_tainted(&self, store: &dyn Store) -> Result<BTreeSet<ParcelId>, WalletError> {
        let mut out = BTreeSet::new();
        if self.cache.conflicts().next().is_none() {
            return Ok(out);
        }
        for (id, h) in &self.held {
            if self.is_tainted(store, h)? {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// Whether a held parcel's lineage has a hop consuming a parcel in conflict.
    fn is_tainted(&self, store: &dyn Store, h: &Held) -> Result<bool, WalletError> {
        if self.cache.conflicts().next().is_none() {
            return Ok(false);
        }
        for a in &h.manifest.hops {
            let Some(bytes) = store.get(Table::Objects, a.as_bytes())? else {
                continue;
            };
            let hop = Hop::from_bytes(&bytes).map_err(|_| bad("lineage hop"))?;
            let s = &hop.statement;
            let commit = hop.commit();
            if s.inputs
                .iter()
                .any(|i| self.cache.in_conflict(i, &s.holder, Some(&commit)))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The per-token sums of the held set.
    pub fn sums(&self) -> BTreeMap<TokenId, Amount> {
        let mut s: BTreeMap<TokenId, Amount> = BTreeMap::new();
        for h in self.held.values() {
            let e = s.entry(h.token).or_insert(Amount::ZERO);
            *e = e.checked_add(h.amount).unwrap_or(Amount(u128::MAX));
        }
        s
    }

    /// Parcels of `token` (held by `holder`, this device) to pay `amount`: largest first, so
    /// every one chosen is needed (each is at least as large as the last, which was needed).
    pub fn select(
        &self,
        holder: DeviceId,
        token: &TokenId,
        amount: Amount,
    ) -> Result<Vec<Parcel>, WalletError> {
        if amount == Amount::ZERO {
            return Err(WalletError::Parcels(
                "zero-value transfers are not transitions".into(),
            ));
        }
        let mut mine: Vec<(&ParcelId, &Held)> = self
            .held
            .iter()
            .filter(|(id, h)| h.token == *token && !self.tainted.contains(id))
            .collect();
        // Shortest lineage first, so what a payment ships stays short (PROTOCOL.md §5.6,
        // "Choosing inputs"): the fewest-hop parcels that cover the amount are the
        // candidates; among them the largest go first, so every input chosen pays something
        // (no subset of the others covers the amount). When the 64 shortest do not cover
        // it, the largest parcels are chosen instead.
        mine.sort_by_cached_key(|(id, h)| {
            let hops: usize = h.manifest.flatten().iter().map(|m| m.hops.len()).sum();
            (hops, **id)
        });
        let mut covered = Amount::ZERO;
        let mut cut = mine.len();
        for (n, (_, h)) in mine.iter().enumerate() {
            covered = covered.checked_add(h.amount).unwrap_or(Amount(u128::MAX));
            if covered >= amount {
                cut = n + 1;
                break;
            }
        }
        if cut <= dsm_core::parcel::MAX_INPUTS {
            mine.truncate(cut);
        }
        mine.sort_by(|a, b| b.1.amount.cmp(&a.1.amount).then(a.0.cmp(b.0)));
        let mut chosen = Vec::new();
        let mut sum = Amount::ZERO;
        for (id, h) in mine {
            if sum >= amount {
                break;
            }
            sum = sum
                .checked_add(h.amount)
                .ok_or(WalletError::Parcels("the parcels held overflow".into()))?;
            chosen.push(Parcel {
                id: *id,
                token: h.token,
                amount: h.amount,
                holder,
            });
        }
        if sum < amount {
            let tainted = self
                .held
                .iter()
                .filter(|(id, h)| h.token == *token && self.tainted.contains(id))
                .fold(Amount::ZERO, |a, (_, h)| {
                    a.checked_add(h.amount).unwrap_or(a)
                });
            if tainted > Amount::ZERO {
                return Err(WalletError::Parcels(format!(
                    "only {sum} can be paid: {tainted} more descends from a parcel its holder \
                     spent twice, which every wallet holding the proof refuses (`dsm evidence`)"
                )));
            }
            return Err(WalletError::Parcels(format!(
                "the parcels held add up to {sum}, less than {amount}"
            )));
        }
        if chosen.len() > dsm_core::parcel::MAX_INPUTS {
            return Err(WalletError::Parcels(
                "the amount needs more than 64 parcels: pay it in parts".into(),
            ));
        }
        Ok(chosen)
    }
}

fn bad(what: &'static str) -> WalletError {
    WalletError::Corrupt {
        what,
        error: "does not decode".into(),
    }
}

fn decode_cached(id: ParcelId, v: &[u8]) -> Option<KnownParcel> {
    let parent = match v.len() {
        80 => None,
        112 => Some(ParcelId(Digest(v.get(80..112)?.try_into().ok()?))),
        _ => return None,
    };
    Some(KnownParcel {
        parcel: Parcel {
            id,
            token: TokenId(Digest(v.get(..32)?.try_into().ok()?)),
            amount: Amount(u128::from_be_bytes(v.get(32..48)?.try_into().ok()?)),
            holder: DeviceId(Digest(v.get(48..80)?.try_into().ok()?)),
        },
        parent,
    })
}

fn encode_cached(k: &KnownParcel) -> Vec<u8> {
    let p = &k.parcel;
    let mut v = [
        p.token.as_bytes().as_slice(),
        &p.amount.0.to_be_bytes(),
        p.holder.as_bytes(),
    ]
    .concat();
    if let Some(parent) = k.parent {
        v.extend_from_slice(parent.as_bytes());
    }
    v
}

/// `parcel ‖ holder`: the key of `ParcelSpends` and `ParcelConflicts`.
fn pair(parcel: &ParcelId, holder: &DeviceId) -> Vec<u8> {
    [parcel.as_bytes().as_slice(), holder.as_bytes()].concat()
}

fn pair_key(k: &[u8]) -> Option<(ParcelId, DeviceId)> {
    Some((
        ParcelId(Digest(k.get(..32)?.try_into().ok()?)),
        DeviceId(Digest(k.get(32..64)?.try_into().ok()?)),
    ))
    .filter(|_| k.len() == 64)
}

/// A change to the held set and the cache, written into a batch first and applied to
/// memory only once the batch committed.
#[derive(Default)]
pub(crate) struct BookChange {
    add: Vec<(ParcelId, Held)>,
    remove: Vec<ParcelId>,
    cache: Vec<KnownParcel>,
}

impl BookChange {
    /// Adds `other`, written into the same batch.
    pub(crate) fn merge(&mut self, other: BookChange) {
        self.add.extend(other.add);
        self.remove.extend(other.remove);
        self.cache.extend(other.cache);
    }

    fn hold(&mut self, b: &mut Batch, id: ParcelId, held: Held) {
        b.put(Table::Parcels, id.as_bytes().to_vec(), held.to_bytes());
        self.add.push((id, held));
    }

    fn cache(&mut self, b: &mut Batch, k: KnownParcel) {
        b.put(
            Table::VerifiedParcels,
            k.parcel.id.as_bytes().to_vec(),
            encode_cached(&k),
        );
        self.cache.push(k);
    }
}

/// Where a debit's consuming statement is kept: `consumed:` ‖ the cause it names.
fn lost_key(commit: &Digest) -> Vec<u8> {
    [b"consumed-lost:".as_slice(), commit.as_bytes()].concat()
}

pub(crate) fn consumed_key(cause: &Digest) -> Vec<u8> {
    [b"consumed:".as_slice(), cause.as_bytes()].concat()
}

/// Puts an object and returns its address.
pub(crate) fn put_object(b: &mut Batch, bytes: Vec<u8>) -> Digest {
    let a = object_address(&bytes);
    b.put(Table::Objects, a.as_bytes().to_vec(), bytes);
    a
}

/// [`put_object`] for a device identity, whose address is memoized (every transfer stores
/// both parties' identities as lineage objects). It is also filed by device id
/// ([`Wallet::known_identity`]), so a capsule names the counterparty's slot owner.
pub(crate) fn put_identity(b: &mut Batch, identity: &DeviceIdentity) -> Digest {
    let a = identity.object_address();
    let bytes = identity.to_bytes();
    b.put(
        Table::Meta,
        [super::IDENTITY_OF, identity.device_id().as_bytes()].concat(),
        bytes.clone(),
    );
    b.put(Table::Objects, a.as_bytes().to_vec(), bytes);
    a
}

/// `manifest` extended by `hops` and `signers`, as the lineage of `parcel`.
pub(crate) fn extend(
    manifest: &LineageManifest,
    parcel: ParcelId,
    hops: &[Digest],
    signers: &[Digest],
) -> LineageManifest {
    let mut m = manifest.clone();
    m.parcel = parcel;
    m.hops.extend_from_slice(hops);
    m.signers.extend_from_slice(signers);
    m.signers.sort();
    m.signers.dedup();
    m
}

/// Why a wallet will not sign for an offer's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineageProblem {
    /// These objects are neither shipped nor held (the sender must ship them).
    Missing(Vec<Digest>),
    /// An object does not decode as what its manifest lists it as.
    Unreadable(ParcelId, ManifestError),
    /// The lineage of an input is invalid.
    Invalid(ParcelId, LineageError),
}

impl std::fmt::Display for LineageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineageProblem::Missing(v) => write!(f, "{} lineage objects are missing", v.len()),
            LineageProblem::Unreadable(p, e) => write!(f, "parcel {p}: {e}"),
            LineageProblem::Invalid(p, e) => write!(f, "parcel {p}: {e}"),
        }
    }
}

impl Wallet {
    /// The held parcels of `token`, largest first: (id, amount, hops in its lineage).
    pub fn parcels(&self, token: &TokenId) -> Vec<(ParcelId, Amount, usize)> {
        let mut v: Vec<_> = self
            .book
            .held
            .iter()
            .filter(|(_, h)| h.token == *token)
            .map(|(id, h)| (*id, h.amount, h.manifest.hops.len()))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Applies a committed change to memory.
    pub(crate) fn apply_book(&mut self, c: BookChange) {
        for id in &c.remove {
            self.book.held.remove(id);
        }
        for id in &c.remove {
            self.book.tainted.remove(id);
        }
        for (id, h) in c.add {
            // A parcel released from a proposal made before a conflict was learned may
            // descend from it; a store failure here counts as tainted (never chosen).
            if self
                .book
                .is_tainted(self.store.as_ref(), &h)
                .unwrap_or(true)
            {
                self.book.tainted.insert(id);
            }
            self.book.held.insert(id, h);
        }
        for k in c.cache {
            self.book.cache.insert(k);
        }
    }

    /// Writes into `b` the root parcel a source creates for this device (`source` is the
    /// canonical source proof or dev grant).
    pub(crate) fn root_parcel(
        &self,
        b: &mut Batch,
        source: Vec<u8>,
        once_key: &Digest,
        token: TokenId,
        amount: Amount,
    ) -> BookChange {
        self.root_parcel_cached(b, source, once_key, token, amount, true)
    }

    /// [`Wallet::root_parcel`], caching the root as verified only when `cache` (never for a
    /// re-issued root: `ParcelKnowledge::new_on`).
    pub(crate) fn root_parcel_cached(
        &self,
        b: &mut Batch,
        source: Vec<u8>,
        once_key: &Digest,
        token: TokenId,
        amount: Amount,
        cache: bool,
    ) -> BookChange {
        let mut c = BookChange::default();
        let id = root_id(&RootFacts {
            once_key: *once_key,
            token,
            amount,
            holder: self.device_id(),
            burned: None,
        });
        let addr = put_object(b, source);
        let manifest = LineageManifest {
            parcel: id,
            start: ManifestStart::Root(addr),
            hops: Vec::new(),
            signers: Vec::new(),
            consumed: Vec::new(),
        };
        if cache {
            c.cache(
                b,
                KnownParcel {
                    parcel: Parcel {
                        id,
                        token,
                        amount,
                        holder: self.device_id(),
                    },
                    parent: None,
                },
            );
        }
        c.hold(
            b,
            id,
            Held {
                token,
                amount,
                manifest,
            },
        );
        c
    }

    /// Keeps in `b` the statement `hop` by which this device consumes `inputs` to the
    /// sink (a burn, a vault lock, a withdrawal request), with their manifests, under the
    /// cause it names (`hop.rest`): the root that may continue them needs both, and `sync`
    /// claims the statement's slots. When the manifests are too long for a continued root
    /// to carry ([`MAX_CONSUMED_MANIFESTS_LEN`]): refused if `continued` (a vault lock or a
    /// withdrawal request, whose value may come back), else not kept (a burn's value never
    /// comes back; only its slot claim is lost).
    pub(crate) fn keep_consumption(
        &mut self,
        b: &mut Batch,
        hop: &Hop,
        inputs: &[Parcel],
        continued: bool,
    ) -> Result<(), WalletError> {
        let manifests = inputs
            .iter()
            .map(|p| {
                self.book
                    .held
                    .get(&p.id)
                    .map(|h| h.manifest.clone())
                    .ok_or_else(|| {
                        WalletError::Parcels(format!("parcel {} is not held by this device", p.id))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rec = ConsumedParcels {
            consumption: Consumption {
                hop: hop.clone(),
                signer: self.identity.clone(),
            },
            manifests,
        };
        let len = rec.manifests_len();
        if len > MAX_CONSUMED_MANIFESTS_LEN {
            if continued {
                return Err(WalletError::Parcels(format!(
                    "the parcels this would consume have lineages of {len} bytes, more than a vault or a withdrawal can carry ({MAX_CONSUMED_MANIFESTS_LEN}): refresh them first (`dsm token refresh`), or use a smaller amount"
                )));
            }
            return Ok(());
        }
        if continued {
            // What comes back must be provable to others: locking or withdrawing value this
            // wallet could never pay on (a successor's recovered value, today) is refused
            // before anything is signed away.
            let burn = dsm_core::parcel::RootBurn {
                hop: hop.clone(),
                signer: self.identity.clone(),
                check: dsm_core::parcel::BurnCheck::Lineages,
                succeeded: None,
            };
            let sunk: Amount = hop
                .statement
                .outputs
                .iter()
                .filter(|o| o.to != hop.statement.holder)
                .try_fold(Amount::ZERO, |a, o| a.checked_add(o.amount))
                .ok_or_else(|| WalletError::Parcels("the amount overflows".into()))?;
            let token = inputs
                .first()
                .map(|p| p.token)
                .ok_or_else(|| WalletError::Parcels("nothing to consume".into()))?;
            self.check_continued(&burn, &rec, &token, sunk, &HashMap::new())
                .map_err(|e| {
                    WalletError::Parcels(format!(
                        "the parcels this would consume cannot be proven to others, so what it locks could never be paid on ({e}); nothing was signed"
                    ))
                })?;
        }
        b.put(Table::Meta, consumed_key(&hop.rest), rec.to_bytes());
        Ok(())
    }

    /// The statement, with its consumed parcels' manifests, that the lock or request with
    /// source-proof cause `cause` consumed parcels by (kept by its creator, or imported
    /// with a vault document); `None` when this wallet holds none.
    pub fn consumed_parcels(&self, cause: &Digest) -> Result<Option<ConsumedParcels>, WalletError> {
        self.store
            .get(Table::Meta, &consumed_key(cause))?
            .map(|v| ConsumedParcels::from_bytes(&v).map_err(corrupt("consumed parcels")))
            .transpose()
    }

    /// What settling a kept consuming statement walks (PROTOCOL.md §5.6): the lineages of
    /// the parcels it consumed, oldest first, then the statement itself in their slots.
    pub(crate) fn consumption_items(
        &self,
        rec: &ConsumedParcels,
    ) -> Result<Vec<SettleItem>, WalletError> {
        let mut objects = HashMap::new();
        for a in rec.manifests.iter().flat_map(|m| m.addresses()) {
            if let Some(o) = self.store.get(Table::Objects, a.as_bytes())? {
                objects.insert(a, o);
            }
        }
        let mut items = walk_items(settle_walk(&rec.manifests, &objects));
        let holder = self.hop_holder(&rec.consumption.hop, &rec.consumption.signer)?;
        items.push(SettleItem::Hop {
            hop: rec.consumption.hop.clone(),
            signer: rec.consumption.signer.clone(),
            holder,
        });
        Ok(items)
    }

    /// Every consuming statement this wallet keeps (its own burns, vault locks and
    /// withdrawal requests, and the locks of vaults it imported) whose slots it has not
    /// yet seen held: what `sync` claims at the nodes.
    pub(crate) fn unclaimed_consumptions(&self) -> Result<Vec<ConsumedParcels>, WalletError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Meta)? {
            if !k.starts_with(b"consumed:") {
                continue;
            }
            let rec = ConsumedParcels::from_bytes(&v).map_err(corrupt("consumed parcels"))?;
            let commit = rec.consumption.hop.commit();
            if !self.hop_settled(&commit)
                && !self.store.contains(Table::Meta, &lost_key(&commit))?
            {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Records that the consuming statement `commit` lost a slot for good (another spend
    /// holds it, or a parcel it consumed descends from refused value): `sync` stops
    /// claiming it, and reports it once.
    pub(crate) fn mark_consumption_lost(&mut self, commit: &Digest) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.put(Table::Meta, lost_key(commit), Vec::new());
        self.store.commit(&b)?;
        Ok(())
    }

    /// Writes into `b` another device's consuming statement `rec` (checked by the caller)
    /// under the cause it names, with the objects its manifests list (from `extra` or
    /// already held): a vault's lock on import, a withdrawal request at the keeper.
    pub(crate) fn keep_consumed(
        &self,
        b: &mut Batch,
        rec: &ConsumedParcels,
        cause: &Digest,
        extra: &HashMap<Digest, Vec<u8>>,
    ) -> Result<(), WalletError> {
        for (a, o) in self.consumed_objects(rec, extra)?.iter() {
            b.put(Table::Objects, a.as_bytes().to_vec(), o.clone());
        }
        b.put(Table::Meta, consumed_key(cause), rec.to_bytes());
        Ok(())
    }

    /// Every object `rec`'s manifests list, from `extra` (keyed by the hash of each object:
    /// the caller hashed them) or this wallet's store (by the address each was hashed to
    /// when written); one missing is an error naming it.
    fn consumed_objects(
        &self,
        rec: &ConsumedParcels,
        extra: &HashMap<Digest, Vec<u8>>,
    ) -> Result<AddressedObjects, WalletError> {
        let mut objects = AddressedObjects::new();
        for a in rec.manifests.iter().flat_map(|m| m.addresses()) {
            if objects.contains_key(&a) {
                continue;
            }
            let o = match extra.get(&a) {
                Some(o) => o.clone(),
                None => self
                    .store
                    .get(Table::Objects, a.as_bytes())?
                    .ok_or_else(|| {
                        WalletError::Parcels(format!("lineage object {a} is missing"))
                    })?,
            };
            objects.insert_stored(a, o);
        }
        Ok(objects)
    }

    /// Checks the statement `c` behind a continued root of `amount` of `token` against the
    /// lineages of what it consumed (`rec`'s manifests, objects from `extra` — keyed by
    /// their hash — or this wallet's store), and that none of those parcels is known spent elsewhere. Records
    /// any parcel fork found. Errors name what is wrong.
    pub(crate) fn check_continued(
        &mut self,
        burn: &dsm_core::parcel::RootBurn,
        rec: &ConsumedParcels,
        token: &TokenId,
        amount: Amount,
        extra: &HashMap<Digest, Vec<u8>>,
    ) -> Result<(), WalletError> {
        let objects = self.consumed_objects(rec, extra)?;
        let mut consumed = Vec::with_capacity(rec.manifests.len());
        for m in &rec.manifests {
            let l = Lineage::from_objects(m, &objects)
                .map_err(|e| WalletError::Parcels(format!("parcel {}: {e}", m.parcel)))?;
            consumed.push((m.parcel, l));
        }
        // The statement and every shipped hop against the statements seen before.
        let mut hops = vec![(burn.hop.clone(), burn.signer.clone())];
        hops.extend(root_statements(&rec.manifests, &objects));
        hops.extend(nested_hops(&rec.manifests, &objects));
        for (_, l) in &consumed {
            for h in &l.hops {
                if let Some(i) = l
                    .signers
                    .iter()
                    .find(|i| i.device_id() == h.statement.holder)
                {
                    hops.push((h.clone(), i.clone()));
                }
            }
        }
        let refs: Vec<(&Hop, &DeviceIdentity)> = hops.iter().map(|(h, i)| (h, i)).collect();
        self.detect_parcel_forks(&refs)?;
        dsm_core::parcel::verify_continued(
            burn,
            token,
            amount,
            &consumed,
            &mut self.rules,
            &self.book.cache,
        )
        .map_err(|e| WalletError::Parcels(format!("what it continues is refused: {e}")))?;
        Ok(())
    }

    /// Writes into `b` the root a continued source (a vault resolution, a withdrawal
    /// refund) creates for this device, after checking it as any verifier will: the
    /// statement `c` its lock or request consumed parcels by, with those parcels'
    /// lineages. Its manifest nests theirs, so it can be proven onward; it is never cached
    /// as verified (`ParcelKnowledge::new_on`).
    pub(crate) fn continued_root_parcel(
        &mut self,
        b: &mut Batch,
        source: Vec<u8>,
        c: &Consumption,
        once_key: &Digest,
        token: TokenId,
        amount: Amount,
    ) -> Result<BookChange, WalletError> {
        let rec = self.consumed_parcels(&c.hop.rest)?.ok_or_else(|| {
            WalletError::Parcels(
                "this wallet does not hold the lineages of the parcels this source continues \
                 (for a vault: import its vault document)"
                    .into(),
            )
        })?;
        if rec.consumption != *c {
            return Err(WalletError::Parcels(
                "the source names another consuming statement than the one this wallet holds"
                    .into(),
            ));
        }
        self.continued_root_with(b, source, &rec, once_key, token, amount)
    }

    /// [`Wallet::continued_root_parcel`] given the consuming statement with its consumed
    /// parcels' manifests (a succession's consumption of one recovered parcel, §20.3).
    pub(crate) fn continued_root_with(
        &mut self,
        b: &mut Batch,
        source: Vec<u8>,
        rec: &ConsumedParcels,
        once_key: &Digest,
        token: TokenId,
        amount: Amount,
    ) -> Result<BookChange, WalletError> {
        let id = root_id(&RootFacts {
            once_key: *once_key,
            token,
            amount,
            holder: self.device_id(),
            burned: None,
        });
        let manifest = LineageManifest {
            parcel: id,
            start: ManifestStart::Root(object_address(&source)),
            hops: Vec::new(),
            signers: Vec::new(),
            consumed: rec.manifests.clone(),
        };
        // Checked cold, exactly as a receiver of this parcel will check it.
        let mut objects: HashMap<Digest, Vec<u8>> = HashMap::new();
        objects.insert(object_address(&source), source.clone());
        for a in manifest.addresses() {
            if let std::collections::hash_map::Entry::Vacant(e) = objects.entry(a) {
                e.insert(
                    self.store
                        .get(Table::Objects, a.as_bytes())?
                        .ok_or_else(|| bad("lineage object"))?,
                );
            }
        }
        let lineage = Lineage::from_objects(&manifest, &objects)
            .map_err(|e| WalletError::Parcels(e.to_string()))?;
        let me = self.device_id();
        verify_lineage(&lineage, &id, Some(&me), &mut self.rules, &self.book.cache)
            .map_err(|e| WalletError::Parcels(format!("this source's value is refused: {e}")))?;
        put_object(b, source);
        let mut ch = BookChange::default();
        ch.hold(
            b,
            id,
            Held {
                token,
                amount,
                manifest,
            },
        );
        Ok(ch)
    }

    /// The dev-faucet root for `amount` of `token` at `height`.
    pub(crate) fn dev_root(
        &self,
        b: &mut Batch,
        token: TokenId,
        amount: Amount,
        height: u64,
    ) -> BookChange {
        let g = DevGrant {
            device: self.device_id(),
            token,
            amount,
            height,
        };
        self.root_parcel(b, g.to_bytes(), &g.once_key(), token, amount)
    }

    /// Writes into `b` what spending our held inputs by `hop` (signed by this device)
    /// does: the inputs leave the held set, our outputs (change) join it.
    pub(crate) fn spend_parcels(
        &self,
        b: &mut Batch,
        hop: &Hop,
    ) -> Result<BookChange, WalletError> {
        let mut c = BookChange::default();
        let me = self.device_id();
        let hop_addr = put_object(b, hop.to_bytes());
        self.index_spends(b, hop, &hop_addr)?;
        let me_addr = put_identity(b, &self.identity);
        let ids = hop.output_ids();
        for (j, input) in hop.statement.inputs.iter().enumerate() {
            let held = self.book.held.get(input).ok_or_else(|| {
                WalletError::Parcels(format!("parcel {input} is not held by this device"))
            })?;
            b.delete(Table::Parcels, input.as_bytes().to_vec());
            c.remove.push(*input);
            // Our own hop from a cached input: its outputs are as valid as the input (we
            // signed a conserving statement), so a counterparty paying us back from one of
            // them costs us no lineage hop. Not from an uncached input (a root or a
            // continued root's line), which a cold check would start from anyway.
            let cached = self.book.cache.contains(input);
            for (i, o) in hop.statement.outputs_of(j) {
                if cached && !self.book.cache.contains(&ids[i]) {
                    c.cache(
                        b,
                        KnownParcel {
                            parcel: Parcel {
                                id: ids[i],
                                token: held.token,
                                amount: o.amount,
                                holder: o.to,
                            },
                            parent: Some(*input),
                        },
                    );
                }
                if o.to == me {
                    let id = ids[i];
                    let manifest = extend(&held.manifest, id, &[hop_addr], &[me_addr]);
                    c.hold(
                        b,
                        id,
                        Held {
                            token: held.token,
                            amount: o.amount,
                            manifest,
                        },
                    );
                }
            }
        }
        Ok(c)
    }

    /// The manifests of the inputs of our proposal `signed`, in input order, while this
    /// device still holds them.
    fn held_manifests(&self, signed: &SignedProposal) -> Result<Vec<LineageManifest>, WalletError> {
        signed
            .proposal
            .parcels
            .inputs
            .iter()
            .map(|i| {
                self.book
                    .held
                    .get(i)
                    .map(|h| h.manifest.clone())
                    .ok_or_else(|| {
                        WalletError::Parcels(format!("parcel {i} is not held by this device"))
                    })
            })
            .collect()
    }

    /// Writes into `b` the offer record of our proposal (its inputs' manifests), kept
    /// while it is pending.
    pub(crate) fn record_offer(
        &self,
        b: &mut Batch,
        signed: &SignedProposal,
        sent: Option<&SlotWrite>,
    ) -> Result<(), WalletError> {
        // One signature authorizes the proposal in its anchor slot and its inputs' parcel
        // slots; it travels in the offer, so the receiver can settle without us. The one
        // the sent offer carried is kept: `offer_within` signed it over exactly these
        // slots (hashing the statement again here would only repeat that).
        let write = match sent {
            Some(w) => w.clone(),
            None => self.sign_slot_write(dsm_core::slot::statement_entries(
                &dsm_core::tripwire::Statement::Proposal(signed.clone()),
            ))?,
        };
        let commit = signed.proposal.commit();
        b.put(Table::Meta, slot_write_key(&commit), write.to_bytes());
        let offer = Offer {
            signed: signed.clone(),
            manifests: self.held_manifests(signed)?,
            objects: Vec::new(),
            slot_write: Some(write),
            sealed: Vec::new(),
        };
        b.put(Table::Offers, commit.as_bytes().to_vec(), offer.to_bytes());
        Ok(())
    }

    /// The stored offer record of our proposal `commit` (manifests, no objects).
    fn offer_record(&self, commit: &Digest) -> Result<Offer, WalletError> {
        let bytes = self
            .store
            .get(Table::Offers, commit.as_bytes())?
            .ok_or_else(|| WalletError::Corrupt {
                what: "offer",
                error: format!("no record of our proposal {commit}"),
            })?;
        Offer::from_bytes(&bytes).map_err(corrupt("offer"))
    }

    /// The offer of our proposal `signed`, with every object its manifests list. Fails
    /// when the offer would be over [`MAX_OFFER_LEN`] (the lineages are too long to ship
    /// in one offer: re-issue is what shortens them).
    pub fn offer_for(&self, signed: &SignedProposal) -> Result<Offer, WalletError> {
        self.offer_within(signed, MAX_OFFER_LEN)
    }

    /// [`Wallet::offer_for`] with the objects only when the whole offer fits in
    /// `object_budget` bytes (else the manifests alone, whose receiver asks for what it
    /// lacks).
    pub fn offer_within(
        &self,
        signed: &SignedProposal,
        object_budget: usize,
    ) -> Result<Offer, WalletError> {
        let commit = signed.proposal.commit();
        let mut offer = if let Some(bytes) = self.store.get(Table::Offers, commit.as_bytes())? {
            Offer::from_bytes(&bytes).map_err(corrupt("offer"))?
        } else {
            // Not committed yet: the inputs are still held. Its slot write is signed here
            // and kept when the debit commits.
            Offer {
                signed: signed.clone(),
                manifests: self.held_manifests(signed)?,
                objects: Vec::new(),
                slot_write: Some(self.sign_slot_write(dsm_core::slot::statement_entries(
                    &dsm_core::tripwire::Statement::Proposal(signed.clone()),
                ))?),
                sealed: Vec::new(),
            }
        };
        let whole = offer.to_bytes().len();
        if whole > MAX_OFFER_LEN {
            return Err(WalletError::Parcels(format!(
                "the lineage manifests of this payment take {whole} bytes, over the {MAX_OFFER_LEN}-byte offer cap; pay a smaller amount or from other parcels"
            )));
        }
        // The budget is for lineage objects: the slot write (a fixed few KiB) is not
        // counted against it, but the whole offer stays within the cap.
        let write_len = offer
            .slot_write
            .as_ref()
            .map_or(0, |w| w.to_bytes().len() + 8);
        let bare = whole - write_len;
        // Inline only if every listed object fits the budget; stop reading at the first
        // that does not (a long lineage is then asked for, never read here in full).
        let budget = object_budget
            .min(MAX_OFFER_LEN - write_len)
            .saturating_sub(bare);
        if let Some(objects) = self.read_listed(&offer.manifests, budget)? {
            offer.objects = objects;
        }
        Ok(offer)
    }

    /// Every object `manifests` list, from this wallet's store (strictly ascending bytewise,
    /// as offers, documents and re-issue requests carry them). A missing one is damage: the
    /// wallet stores every object of what it holds.
    pub(crate) fn listed_objects(
        &self,
        manifests: &[LineageManifest],
    ) -> Result<Vec<Vec<u8>>, WalletError> {
        Ok(self.read_listed(manifests, usize::MAX)?.unwrap_or_default())
    }

    /// [`Wallet::listed_objects`] while they take at most `budget` bytes (4 more each, for
    /// their framing); `None`, with no more read, at the first that does not fit.
    fn read_listed(
        &self,
        manifests: &[LineageManifest],
        budget: usize,
    ) -> Result<Option<Vec<Vec<u8>>>, WalletError> {
        let mut want: Vec<Digest> = manifests.iter().flat_map(|m| m.addresses()).collect();
        want.sort();
        want.dedup();
        let mut objects = Vec::with_capacity(want.len());
        let mut size = 0usize;
        for a in want {
            let o = self
                .store
                .get(Table::Objects, a.as_bytes())?
                .ok_or_else(|| WalletError::Corrupt {
                    what: "lineage object",
                    error: format!("object {a} is missing"),
                })?;
            size = size.saturating_add(o.len() + 4);
            if size > budget {
                return Ok(None);
            }
            objects.push(o);
        }
        objects.sort();
        objects.dedup();
        Ok(Some(objects))
    }

    /// The objects an offer's manifests need, from the offer and from this wallet.
    fn offer_objects(&self, offer: &Offer) -> Result<AddressedObjects, WalletError> {
        // Shipped bytes are hashed once here; stored ones were hashed when written.
        let shipped: HashMap<Digest, &Vec<u8>> = offer
            .objects
            .iter()
            .map(|o| (object_address(o), o))
            .collect();
        let mut objects = AddressedObjects::new();
        for a in offer.manifests.iter().flat_map(|m| m.addresses()) {
            if objects.contains_key(&a) {
                continue;
            }
            if let Some(o) = shipped.get(&a) {
                objects.insert_stored(a, (*o).clone());
            } else if let Some(o) = self.store.get(Table::Objects, a.as_bytes())? {
                objects.insert_stored(a, o);
            }
        }
        Ok(objects)
    }

    /// The lineage of `m` from the newest ancestor this wallet's cache holds, decoding
    /// only the hops after it (scanned from the end: each hop's output that leads on is
    /// looked up in the cache), with every signer; `None` when no ancestor is cached (or an
    /// object does not decode: the full rebuild reports it).
    fn warm_lineage(
        &self,
        m: &LineageManifest,
        shipped: &HashMap<Digest, &Vec<u8>>,
    ) -> Result<Option<Lineage>, WalletError> {
        let get = |a: &Digest| -> Result<Option<Vec<u8>>, WalletError> {
            Ok(match shipped.get(a) {
                Some(o) => Some((*o).clone()),
                None => self.store.get(Table::Objects, a.as_bytes())?,
            })
        };
        let mut suffix: Vec<Hop> = Vec::new();
        // Walked back from the parcel, as `dsm_core::parcel::cached_prefix` does: the line's
        // parcel after each hop is the output the line's input of the next hop is.
        let mut on = m.parcel;
        for a in m.hops.iter().rev() {
            let Some(h) = get(a)?.and_then(|o| Hop::from_bytes(&o).ok()) else {
                return Ok(None);
            };
            let commit = h.commit();
            let Some(i) = (0..h.statement.outputs.len()).find(|i| output_id(&commit, *i) == on)
            else {
                return Ok(None);
            };
            if self.book.cache.verified(&on).is_some() {
                let id = on;
                suffix.reverse();
                let mut signers = Vec::with_capacity(m.signers.len());
                for a in &m.signers {
                    match get(a)?.and_then(|o| DeviceIdentity::from_bytes(&o).ok()) {
                        Some(i) => signers.push(i),
                        None => return Ok(None),
                    }
                }
                return Ok(Some(Lineage {
                    start: dsm_core::parcel::LineageStart::Verified(id),
                    hops: suffix,
                    signers,
                    consumed: Vec::new(),
                }));
            }
            let Some(input) = h
                .statement
                .inputs
                .get(h.statement.outputs[i].input as usize)
            else {
                return Ok(None);
            };
            on = *input;
            suffix.push(h);
        }
        Ok(None)
    }

    /// Checks the lineage of every input of an offer (PROTOCOL.md §5.6), from the newest
    /// ancestor this wallet's cache holds.
    pub(crate) fn verify_offer_lineages(
        &mut self,
        offer: &Offer,
    ) -> Result<Result<Vec<VerifiedLineage>, LineageProblem>, WalletError> {
        self.check_offer_lineages(offer, true)
    }

    /// Whether every input's lineage is well formed and signed by the holders it names —
    /// the lineage check without the known conflicts (which settlement may resolve). What a
    /// wallet checks before it writes the lineage's hops into parcel slots (PROTOCOL.md
    /// §5.6): never a stranger's junk.
    pub(crate) fn lineages_well_formed(&mut self, offer: &Offer) -> Result<bool, WalletError> {
        Ok(self.check_offer_lineages(offer, false)?.is_ok())
    }

    fn check_offer_lineages(
        &mut self,
        offer: &Offer,
        with_conflicts: bool,
    ) -> Result<Result<Vec<VerifiedLineage>, LineageProblem>, WalletError> {
        let shipped: HashMap<Digest, &Vec<u8>> = offer
            .objects
            .iter()
            .map(|o| (object_address(o), o))
            .collect();
        let mut missing = Vec::new();
        for a in offer.listed() {
            if !shipped.contains_key(&a) && !self.store.contains(Table::Objects, a.as_bytes())? {
                missing.push(a);
            }
        }
        if !missing.is_empty() {
            return Ok(Err(LineageProblem::Missing(missing)));
        }
        // What the checks read: for an input whose line this wallet cached, only the hops
        // after the newest cached ancestor (found from the end, one hop at a time); for the
        // others, every object.
        let mut objects = AddressedObjects::new();
        let mut lineages = Vec::with_capacity(offer.manifests.len());
        for m in &offer.manifests {
            if let Some(l) = self.warm_lineage(m, &shipped)? {
                lineages.push(l);
                continue;
            }
            for a in m.addresses() {
                if objects.contains_key(&a) {
                    continue;
                }
                match shipped.get(&a) {
                    Some(o) => objects.insert_stored(a, (*o).clone()),
                    None => {
                        if let Some(o) = self.store.get(Table::Objects, a.as_bytes())? {
                            objects.insert_stored(a, o);
                        }
                    }
                }
            }
            match Lineage::from_objects(m, &objects) {
                Ok(l) => lineages.push(l),
                Err(e) => return Ok(Err(LineageProblem::Unreadable(m.parcel, e))),
            }
        }
        // Every hop shipped, and the offer's own, against the statements seen before: a
        // parcel its holder consumed in another statement is evidence, recorded now, and
        // the lineage check below then refuses it and what descends from it.
        let own = offer.signed.hop();
        let mut burns = root_statements(&offer.manifests, &objects);
        burns.extend(nested_hops(&offer.manifests, &objects));
        let mut hops: Vec<(&Hop, &DeviceIdentity)> = vec![(&own, &offer.signed.proposal.sender)];
        hops.extend(burns.iter().map(|(h, i)| (h, i)));
        for (m, l) in offer.manifests.iter().zip(&lineages) {
            // Hops up to the newest cached ancestor were looked up (and indexed) when that
            // ancestor was credited: any fork among them is known already.
            let skip = cached_prefix(l, &m.parcel, &self.book.cache).map_or(0, |(n, _)| n);
            for h in &l.hops[skip..] {
                if let Some(id) = l
                    .signers
                    .iter()
                    .find(|i| i.device_id() == h.statement.holder)
                {
                    hops.push((h, id));
                }
            }
        }
        self.detect_parcel_forks(&hops)?;
        let mut out = Vec::with_capacity(offer.manifests.len());
        for (m, lineage) in offer.manifests.iter().zip(&lineages) {
            let sender = offer.signed.proposal.step.sender;
            let cache: &dyn ParcelCache = if with_conflicts {
                &self.book.cache
            } else {
                &IgnoringConflicts(&self.book.cache)
            };
            match verify_lineage(lineage, &m.parcel, Some(&sender), &mut self.rules, cache) {
                Ok(v) => out.push(v),
                Err(e) => {
                    // A root that contradicts a known mint left the issuers' conflict in
                    // `TokenRules`: keep it across restarts.
                    self.keep_held_mint_conflict(&offer.signed.proposal.step.token)?;
                    return Ok(Err(LineageProblem::Invalid(m.parcel, e)));
                }
            }
        }
        Ok(Ok(out))
    }

    /// Writes into `b` what accepting `offer` gives this device: its outputs join the held
    /// set with their lineages (every object needed to prove them onward), and every
    /// parcel of the verified lines joins the cache.
    pub(crate) fn receive_parcels(
        &self,
        b: &mut Batch,
        offer: &Offer,
        lineages: &[VerifiedLineage],
    ) -> Result<BookChange, WalletError> {
        let mut c = BookChange::default();
        let me = self.device_id();
        // Shipped objects, and of the stored ones only roots and signers: hops are read
        // one by one when needed (a long lineage's old hops are not read at all).
        let mut objects = AddressedObjects::new();
        let mut shipped = HashSet::new();
        for o in &offer.objects {
            shipped.insert(objects.insert(o.clone()));
        }
        for m in offer.manifests.iter().flat_map(|m| m.flatten()) {
            let root = match m.start {
                ManifestStart::Root(a) => Some(a),
                ManifestStart::Verified(_) => None,
            };
            for a in root.iter().chain(&m.signers) {
                if !objects.contains_key(a) {
                    if let Some(o) = self.store.get(Table::Objects, a.as_bytes())? {
                        objects.insert_stored(*a, o);
                    }
                }
            }
        }
        let p = &offer.signed.proposal;
        let hop = offer.signed.hop();
        // The sender's authorization for its slots, so that we can settle without it.
        if let Some(w) = &offer.slot_write {
            b.put(Table::Meta, slot_write_key(&hop.commit()), w.to_bytes());
        }
        let ids = hop.output_ids();
        let hop_addr = put_object(b, hop.to_bytes());
        self.index_spends(b, &hop, &hop_addr)?;
        let sender_addr = put_identity(b, &p.sender);
        let mut settling = Vec::new();
        // In walk order (§5.6): a root's place (its mint's in the published sequence, a
        // continued root's statement in its parcels' slots) marked by an all-zero signer
        // address, or a hop and its signer.
        for (hop, _) in root_statements(&offer.manifests, &objects) {
            let addr = put_object(b, hop.to_bytes());
            self.index_spends(b, &hop, &addr)?;
        }
        // Hops up to each input's newest cached ancestor were indexed when that ancestor was
        // credited; only the others are indexed now.
        let mut fresh = HashSet::new();
        let mut known = HashSet::new();
        for (m, l) in offer.manifests.iter().zip(lineages) {
            // The line checked is the cached ancestor (or root) and one parcel per hop
            // checked: the hops before were checked when that ancestor was.
            let checked = l.line().len().saturating_sub(1);
            let (before, after) = m.hops.split_at(m.hops.len().saturating_sub(checked));
            known.extend(before.iter().copied());
            fresh.extend(after.iter().copied());
        }
        let mut signers: HashMap<DeviceId, Digest> = HashMap::new();
        for a in offer
            .manifests
            .iter()
            .flat_map(|m| m.flatten())
            .flat_map(|m| &m.signers)
        {
            if let Some(i) = objects
                .get(a)
                .and_then(|o| DeviceIdentity::from_bytes(o).ok())
            {
                signers.insert(i.device_id(), *a);
            }
        }
        for step in self.walk_addresses(&offer.manifests, &objects)? {
            match step {
                AddressStep::Root(addr) => {
                    settling.extend_from_slice(addr.as_bytes());
                    settling.extend_from_slice(&[0; 32]);
                }
                AddressStep::Hop {
                    addr,
                    commit,
                    holder,
                } => {
                    let Some(signer_addr) = signers.get(&holder) else {
                        continue;
                    };
                    if fresh.contains(&addr) || !known.contains(&addr) {
                        let bytes = match objects.get(&addr) {
                            Some(o) => Some(o.clone()),
                            None => self.store.get(Table::Objects, addr.as_bytes())?,
                        };
                        if let Some(hop) = bytes.and_then(|o| Hop::from_bytes(&o).ok()) {
                            self.index_spends(b, &hop, &addr)?;
                        }
                    }
                    if !self.book.settled_hops.contains(&commit) {
                        settling.extend_from_slice(addr.as_bytes());
                        settling.extend_from_slice(signer_addr.as_bytes());
                    }
                }
            }
        }
        b.put(Table::Settling, p.commit().as_bytes().to_vec(), settling);
        for (j, (m, l)) in offer.manifests.iter().zip(lineages).enumerate() {
            let mut mine = p
                .parcels
                .outputs_of(j)
                .filter(|(_, o)| o.to == me)
                .peekable();
            if mine.peek().is_none() {
                continue;
            }
            // Only what was shipped is new here: the rest is in this store (checked before
            // the offer was accepted).
            for a in m.addresses() {
                if let (true, Some(o)) = (shipped.contains(&a), objects.get(&a)) {
                    b.put(Table::Objects, a.as_bytes().to_vec(), o.clone());
                }
            }
            for (i, o) in mine {
                let id = ids[i];
                c.hold(
                    b,
                    id,
                    Held {
                        token: l.parcel().token,
                        amount: o.amount,
                        manifest: extend(m, id, &[hop_addr], &[sender_addr]),
                    },
                );
            }
            for k in self.book.cache.new_on(l) {
                c.cache(b, k);
            }
        }
        // Every output of the accepted proposal is as valid as the input it splits (its line
        // checked, the proposal's signature checked, its outputs of that input conserved), so
        // each joins the cache under that input — the sender's change too, so that the
        // sender's next payment from it costs this wallet no lineage hop. Not under an input
        // from a continued root, which is never cached (`ParcelKnowledge::new_on`): a
        // conflict on what such a root consumed could not reach its descendants.
        for (j, l) in lineages.iter().enumerate() {
            if l.from_continued_root() {
                continue;
            }
            for (i, o) in p.parcels.outputs_of(j) {
                let id = ids[i];
                if !self.book.cache.contains(&id) && !c.cache.iter().any(|k| k.parcel.id == id) {
                    c.cache(
                        b,
                        KnownParcel {
                            parcel: Parcel {
                                id,
                                token: l.parcel().token,
                                amount: o.amount,
                                holder: o.to,
                            },
                            parent: Some(l.parcel().id),
                        },
                    );
                }
            }
        }
        Ok(c)
    }

    /// Writes into `b` what the release of our refused proposal gives back: the refusal's
    /// outputs (the receiver's outputs, returned whole), each with the lineage of the
    /// input it came from, the proposal's hop and the refusal's hop.
    pub(crate) fn release_parcels(
        &self,
        b: &mut Batch,
        proposal: &SignedProposal,
        refusal: &dsm_core::receipt::SignedRefusal,
    ) -> Result<BookChange, WalletError> {
        let mut c = BookChange::default();
        let me = self.device_id();
        let record = self.offer_record(&proposal.proposal.commit())?;
        let phop = proposal.hop();
        let pids = phop.output_ids();
        let rhop = refusal.hop();
        let rids = rhop.output_ids();
        let phop_addr = put_object(b, phop.to_bytes());
        let rhop_addr = put_object(b, rhop.to_bytes());
        self.index_spends(b, &rhop, &rhop_addr)?;
        let me_addr = put_identity(b, &self.identity);
        let them_addr = put_identity(b, &refusal.refusal.receiver);
        let stmt: &ParcelStatement = &proposal.proposal.parcels;
        for (k, input) in rhop.statement.inputs.iter().enumerate() {
            // Which output of the proposal (and so which of its inputs) this was.
            let Some(i) = pids.iter().position(|x| x == input) else {
                return Err(WalletError::Parcels(
                    "the refusal consumes no output of ours".into(),
                ));
            };
            let j = stmt.outputs[i].input as usize;
            let m = &record.manifests[j];
            for (r, o) in rhop.statement.outputs_of(k) {
                if o.to != me {
                    continue;
                }
                let id = rids[r];
                c.hold(
                    b,
                    id,
                    Held {
                        token: proposal.proposal.step.token,
                        amount: o.amount,
                        manifest: extend(m, id, &[phop_addr, rhop_addr], &[me_addr, them_addr]),
                    },
                );
            }
        }
        b.delete(
            Table::Offers,
            proposal.proposal.commit().as_bytes().to_vec(),
        );
        Ok(c)
    }
}

impl Wallet {
    /// True if this wallet's store holds the lineage object at `address`.
    pub(crate) fn holds_object(&self, address: &Digest) -> Result<bool, WalletError> {
        Ok(self.store.contains(Table::Objects, address.as_bytes())?)
    }

    /// Objects among `addresses` that the lineages of our proposal `commit` list, at most
    /// `budget` bytes in all (ascending by address).
    pub(crate) fn objects_for(
        &self,
        commit: &Digest,
        addresses: &[Digest],
        budget: usize,
    ) -> Result<Vec<Vec<u8>>, WalletError> {
        let Some(bytes) = self.store.get(Table::Offers, commit.as_bytes())? else {
            return Ok(Vec::new());
        };
        let record = Offer::from_bytes(&bytes).map_err(corrupt("offer"))?;
        let listed = record.listed();
        let mut out = Vec::new();
        let mut used = 0usize;
        for a in addresses {
            if listed.binary_search(a).is_err() {
                continue;
            }
            if let Some(o) = self.store.get(Table::Objects, a.as_bytes())? {
                if used + o.len() + 8 > budget {
                    break;
                }
                used += o.len() + 8;
                out.push(o);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl Wallet {
    /// Writes into `b` that `hop` (whose object is at `addr`) consumed each of its inputs,
    /// for every (input, holder) not indexed yet: the first statement seen is kept, and a
    /// later one with another commit is a parcel fork ([`Wallet::detect_parcel_forks`]).
    /// Keyed by the holder too, so statements by a device that never held a parcel cannot
    /// take its entry.
    pub(crate) fn index_spends(
        &self,
        b: &mut Batch,
        hop: &Hop,
        addr: &Digest,
    ) -> Result<(), WalletError> {
        let v = [hop.commit().as_bytes().as_slice(), addr.as_bytes()].concat();
        for i in &hop.statement.inputs {
            let k = pair(i, &hop.statement.holder);
            if self.store.get(Table::ParcelSpends, &k)?.is_none() {
                b.put(Table::ParcelSpends, k, v.clone());
            }
        }
        Ok(())
    }

    /// Looks every hop up in the spend index: one that consumes a parcel its signer
    /// consumed in another indexed statement is a parcel fork, verified (both signatures)
    /// and recorded as evidence. At most one extra signature check per hop shipped, and
    /// only for hops that match an entry. Returns how many forks were new.
    pub(crate) fn detect_parcel_forks(
        &mut self,
        hops: &[(&Hop, &DeviceIdentity)],
    ) -> Result<usize, WalletError> {
        let mut found = 0;
        for (hop, identity) in hops {
            let s = &hop.statement;
            let commit = hop.commit();
            for i in &s.inputs {
                let Some(v) = self.store.get(Table::ParcelSpends, &pair(i, &s.holder))? else {
                    continue;
                };
                if v.get(..32) == Some(commit.as_bytes().as_slice())
                    || self.book.cache.knows_conflict(i, &s.holder)
                {
                    continue;
                }
                let Some(earlier) = v
                    .get(32..64)
                    .map(|a| a.to_vec())
                    .and_then(|a| self.store.get(Table::Objects, &a).transpose())
                    .transpose()?
                    .and_then(|o| Hop::from_bytes(&o).ok())
                else {
                    continue;
                };
                let Some(fork) = ParcelFork::new((*identity).clone(), earlier, (*hop).clone())
                else {
                    continue;
                };
                if let Ok((proof, what)) = EquivocationProof::parcel_fork(fork) {
                    if self.record_evidence(&proof, &what)? {
                        found += 1;
                    }
                }
            }
        }
        Ok(found)
    }

    /// Stores verified evidence: the device is refused from now on (the first proof
    /// against it is kept), and every parcel the proof shows it consumed twice is in
    /// conflict — refused with everything descending from it, and forgotten by the cache
    /// (PROTOCOL.md §5.6, "Parcel forks"). Returns whether anything was new. Memory is
    /// updated before the batch commits, so a failed commit refuses more, never less.
    pub(crate) fn record_evidence(
        &mut self,
        proof: &EquivocationProof,
        what: &Equivocation,
    ) -> Result<bool, WalletError> {
        let device = what.device();
        let bytes = proof.to_bytes();
        let mut b = Batch::new();
        let mut new = false;
        if !self.refused.is_equivocator(&device) {
            b.put(Table::Evidence, device.as_bytes().to_vec(), bytes.clone());
            new = true;
        }
        for parcel in proof.conflicted_parcels() {
            if self.book.cache.knows_conflict(&parcel, &device) {
                continue;
            }
            b.put(
                Table::ParcelConflicts,
                pair(&parcel, &device),
                bytes.clone(),
            );
            for gone in self.book.cache.add_conflict(parcel, device) {
                b.delete(Table::VerifiedParcels, gone.as_bytes().to_vec());
            }
            new = true;
        }
        self.refused.equivocated(what);
        if new {
            self.store.commit(&b)?;
            self.book.tainted = self.book.find_tainted(self.store.as_ref())?;
        }
        Ok(new)
    }

    /// How much of `token` this wallet holds in parcels that descend from a parcel in
    /// conflict (refused by every wallet holding the proof, so never chosen to pay).
    pub fn in_conflict(&self, token: &TokenId) -> Amount {
        self.book
            .held
            .iter()
            .filter(|(id, h)| h.token == *token && self.book.tainted.contains(id))
            .fold(Amount::ZERO, |a, (_, h)| {
                a.checked_add(h.amount).unwrap_or(a)
            })
    }

    /// The parcel conflicts this wallet knows: (parcel, holder).
    pub fn parcel_conflicts(&self) -> Vec<(ParcelId, DeviceId)> {
        let mut v: Vec<_> = self.book.cache.conflicts().copied().collect();
        v.sort();
        v
    }
}

/// One step of settling a set of lineages (PROTOCOL.md §5.6, "Settlement").
#[derive(Clone, Debug)]
pub(crate) enum WalkStep {
    /// A root with what settling it walks (non-empty).
    Root(Vec<SettleItem>),
    /// A hop and its signer.
    Hop(Hop, DeviceIdentity),
}

/// What settling these lineages walks, in order, once each: every manifest after the
/// manifests of the parcels its root consumed (so each statement comes after every
/// statement before it on its line), and within one manifest its root, then its hops,
/// oldest first. Hops whose object or signer is not among `objects` are left out (the
/// lineage check refuses them anyway).
pub(crate) fn settle_walk(
    manifests: &[LineageManifest],
    objects: &HashMap<Digest, Vec<u8>>,
) -> Vec<WalkStep> {
    let mut ids: HashMap<DeviceId, DeviceIdentity> = HashMap::new();
    for a in manifests
        .iter()
        .flat_map(|m| m.flatten())
        .flat_map(|m| &m.signers)
    {
        if let Some(i) = objects
            .get(a)
            .and_then(|o| DeviceIdentity::from_bytes(o).ok())
        {
            ids.insert(i.device_id(), i);
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    fn visit(
        m: &LineageManifest,
        objects: &HashMap<Digest, Vec<u8>>,
        ids: &HashMap<DeviceId, DeviceIdentity>,
        seen: &mut HashSet<Digest>,
        out: &mut Vec<WalkStep>,
    ) {
        for c in &m.consumed {
            visit(c, objects, ids, seen, out);
        }
        if let ManifestStart::Root(a) = m.start {
            if seen.insert(a) {
                let items = objects
                    .get(&a)
                    .map(|o| root_settle_items(o))
                    .unwrap_or_default();
                if !items.is_empty() {
                    out.push(WalkStep::Root(items));
                }
            }
        }
        for a in &m.hops {
            if !seen.insert(*a) {
                continue;
            }
            let Some(h) = objects.get(a).and_then(|o| Hop::from_bytes(o).ok()) else {
                continue;
            };
            if let Some(i) = ids.get(&h.statement.holder) {
                out.push(WalkStep::Hop(h, i.clone()));
            }
        }
    }
    for m in manifests {
        visit(m, objects, &ids, &mut seen, &mut out);
    }
    out
}

/// A step of [`Wallet::walk_addresses`]: a root to settle, or a hop by address with what
/// its bytes say.
pub(crate) enum AddressStep {
    /// A root whose settlement walks something (its source's address).
    Root(Digest),
    /// A hop: its address, commit and holder.
    Hop {
        /// Object address.
        addr: Digest,
        /// The statement's commit.
        commit: Digest,
        /// Its holder (the signer).
        holder: DeviceId,
    },
}

impl Wallet {
    /// [`settle_walk`]'s order and steps, by address, decoding each hop object only the
    /// first time this wallet meets it (a long lineage re-walked at every payment costs
    /// look-ups, not decodes).
    pub(crate) fn walk_addresses(
        &self,
        manifests: &[LineageManifest],
        objects: &HashMap<Digest, Vec<u8>>,
    ) -> Result<Vec<AddressStep>, WalletError> {
        let mut memo = self.caches.hops();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut order: Vec<&LineageManifest> = Vec::new();
        fn post<'a>(m: &'a LineageManifest, order: &mut Vec<&'a LineageManifest>) {
            for c in &m.consumed {
                post(c, order);
            }
            order.push(m);
        }
        for m in manifests {
            post(m, &mut order);
        }
        for m in order {
            if let ManifestStart::Root(a) = m.start {
                if seen.insert(a)
                    && objects
                        .get(&a)
                        .is_some_and(|o| !root_settle_items(o).is_empty())
                {
                    out.push(AddressStep::Root(a));
                }
            }
            for a in &m.hops {
                if !seen.insert(*a) {
                    continue;
                }
                let facts = match memo.get(a) {
                    Some(f) => Some(*f),
                    None => {
                        // A store failure refuses: a hop left out would let a line settle
                        // without it.
                        let bytes = match objects.get(a) {
                            Some(o) => Some(o.clone()),
                            None => self.store.get(Table::Objects, a.as_bytes())?,
                        };
                        bytes
                            .and_then(|o| Hop::from_bytes(&o).ok())
                            .map(|h| (h.commit(), h.statement.holder))
                    }
                };
                if let Some((commit, holder)) = facts {
                    memo.insert(*a, (commit, holder));
                    out.push(AddressStep::Hop {
                        addr: *a,
                        commit,
                        holder,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The items of a walk, in order.
pub(crate) fn walk_items(walk: Vec<WalkStep>) -> Vec<SettleItem> {
    walk.into_iter()
        .flat_map(|s| match s {
            WalkStep::Root(items) => items,
            WalkStep::Hop(h, i) => vec![SettleItem::hop(h, i)],
        })
        .collect()
}

/// What settling a root walks: a mint's place in its published sequence (§17.2); for a
/// continued root, the statement it rests on (a re-issue's burn, §17.6; a vault lock's or
/// a withdrawal request's consumption, §5.6) in the slot of every parcel it consumed;
/// nothing for the others.
pub(crate) fn root_settle_items(source: &[u8]) -> Vec<SettleItem> {
    let mut out = Vec::new();
    if let Some((hop, signer)) = root_statement(source) {
        // A recovered root rests on the successor's claim of a parcel the lost device held:
        // its slot is the lost device's (§20.3).
        let holder = match dsm_token::source::SourceProof::from_bytes(source).map(|p| p.source) {
            Ok(dsm_token::source::Source::Recovered(r)) => r.record.tombstone.record.lost,
            _ => signer.clone(),
        };
        out.push(SettleItem::Hop {
            hop,
            signer,
            holder,
        });
    }
    match dsm_token::source::SourceProof::from_bytes(source).map(|p| p.source) {
        Ok(dsm_token::source::Source::Mint(m)) => out.push(SettleItem::Mint(m)),
        // A resolution counts only as the vault's one resolution at the nodes (§18.3).
        Ok(dsm_token::source::Source::VaultResolve(r)) => out.push(SettleItem::Resolution(r)),
        _ => {}
    }
    out
}

/// The statement a continued root rests on, with its signer: a re-issue's burn, a vault
/// lock's or a withdrawal request's consumption; `None` for every other source.
pub(crate) fn root_statement(source: &[u8]) -> Option<(Hop, DeviceIdentity)> {
    let p = dsm_token::source::SourceProof::from_bytes(source).ok()?;
    match p.source {
        dsm_token::source::Source::Reissue(r) => Some((r.burn, r.holder)),
        _ => p.consumption.map(|c| (c.hop, c.signer)),
    }
}

/// The statements continued roots among these lineages (nested ones too) rest on, with
/// their signers: statements of their holders like any hop, looked up and indexed for
/// parcel forks.
pub(crate) fn root_statements(
    manifests: &[LineageManifest],
    objects: &HashMap<Digest, Vec<u8>>,
) -> Vec<(Hop, DeviceIdentity)> {
    let mut seen = HashSet::new();
    manifests
        .iter()
        .flat_map(|m| m.flatten())
        .filter_map(|m| match m.start {
            ManifestStart::Root(a) if seen.insert(a) => objects.get(&a),
            _ => None,
        })
        .filter_map(|o| root_statement(o))
        .collect()
}

/// Every hop of the lineages nested in these manifests (those of consumed parcels), with
/// its signer, when shipped: looked up for parcel forks in full (no cached prefix skips
/// them).
pub(crate) fn nested_hops(
    manifests: &[LineageManifest],
    objects: &HashMap<Digest, Vec<u8>>,
) -> Vec<(Hop, DeviceIdentity)> {
    let nested: Vec<LineageManifest> = manifests
        .iter()
        .flat_map(|m| m.consumed.iter().cloned())
        .collect();
    settle_walk(&nested, objects)
        .into_iter()
        .filter_map(|s| match s {
            WalkStep::Hop(h, i) => Some((h, i)),
            WalkStep::Root(..) => None,
        })
        .collect()
}

/// What settling a transfer walks, in order (PROTOCOL.md §5.6, "Settlement").
#[derive(Clone, Debug)]
pub(crate) enum SettleItem {
    /// A minted root: its place in the token's published mint sequence.
    Mint(dsm_token::authority::SignedMint),
    /// A hop, its signer and the holder whose parcel slots it takes (the signer, except for a
    /// successor's claim of a lost device's parcel, §20.3): every parcel it consumes, in its
    /// slot.
    Hop {
        /// The hop.
        hop: Hop,
        /// Who signed it.
        signer: DeviceIdentity,
        /// The holder named by `hop.statement.holder`, whose slot owner owns the slots.
        holder: DeviceIdentity,
    },
    /// A vault-resolved root: the resolution, in its vault's slot (§18.3).
    Resolution(Box<dsm_token::vault::VaultResolution>),
}

impl SettleItem {
    /// A hop its holder signed.
    pub(crate) fn hop(hop: Hop, signer: DeviceIdentity) -> SettleItem {
        SettleItem::Hop {
            hop,
            holder: signer.clone(),
            signer,
        }
    }
}

impl Wallet {
    /// The identity of the holder `hop` names, signed by `signer`: the signer itself, or on
    /// a recovered device, for a claim of the lost device's parcel, the lost device.
    pub(crate) fn hop_holder(
        &self,
        hop: &Hop,
        signer: &DeviceIdentity,
    ) -> Result<DeviceIdentity, WalletError> {
        if signer.device_id() == hop.statement.holder {
            return Ok(signer.clone());
        }
        match self.recovered_lost() {
            Ok(lost) if lost.device_id() == hop.statement.holder => Ok(lost),
            Ok(_) | Err(WalletError::NotFound) => Err(WalletError::Parcels(format!(
                "a statement of holder {} signed by device {}: not a claim this wallet made",
                hop.statement.holder,
                signer.device_id()
            ))),
            Err(e) => Err(e),
        }
    }

    /// What is left to settle of our received transfer `commit`: its lineages' minted roots,
    /// then their hops, oldest first, with their signers (PROTOCOL.md §5.6, "Settlement").
    pub(crate) fn settling_items(&self, commit: &Digest) -> Result<Vec<SettleItem>, WalletError> {
        let Some(v) = self.store.get(Table::Settling, commit.as_bytes())? else {
            return Ok(Vec::new());
        };
        if v.len() % 64 != 0 {
            return Err(bad("settling hops"));
        }
        let get = |a: &[u8]| -> Result<Vec<u8>, WalletError> {
            self.store
                .get(Table::Objects, a)?
                .ok_or_else(|| bad("lineage object"))
        };
        let mut out = Vec::new();
        for pair in v.chunks_exact(64) {
            if pair[32..] == [0; 32] {
                out.extend(root_settle_items(&get(&pair[..32])?));
                continue;
            }
            let hop = Hop::from_bytes(&get(&pair[..32])?).map_err(|_| bad("lineage hop"))?;
            let id = DeviceIdentity::from_bytes(&get(&pair[32..])?)
                .map_err(|_| bad("lineage identity"))?;
            out.push(SettleItem::hop(hop, id));
        }
        Ok(out)
    }

    /// What settling an offer's lineages walks (not the offer's own hop): minted roots,
    /// then hops with their signers.
    pub(crate) fn offer_settle_items(&self, offer: &Offer) -> Result<Vec<SettleItem>, WalletError> {
        let objects = self.offer_objects(offer)?;
        Ok(walk_items(settle_walk(&offer.manifests, &objects)))
    }

    /// The write authorizing `entries` for the statement whose hop commit is `commit`
    /// (PROTOCOL.md §15.2): a kept one that covers them all — ours, signed with the offer,
    /// or the sender's, carried by its offer (checked here, since a sender could carry
    /// junk) — else, when `holder` is this device, one signed now and kept. `None` when no
    /// write can be had: the caller copies one from the nodes, if any holds it.
    pub(crate) fn slot_write_for(
        &mut self,
        commit: Option<&Digest>,
        holder: &DeviceId,
        entries: &[SlotEntry],
    ) -> Result<Option<SlotWrite>, WalletError> {
        let mine = *holder == self.device_id();
        if let Some(c) = commit {
            if let Some(bytes) = self.store.get(Table::Meta, &slot_write_key(c))? {
                if let Ok(w) = SlotWrite::from_bytes(&bytes) {
                    let covers = entries.iter().all(|e| w.entries.binary_search(e).is_ok());
                    let valid = mine || w.check_all(entries).is_ok();
                    if covers && valid {
                        return Ok(Some(w));
                    }
                }
            }
        }
        let w = if mine {
            self.sign_slot_write(entries.to_vec())?
        } else if let Some(admission) = self.successor_admission(holder)? {
            // A parcel of the device this one succeeded (a claim or a reclaim).
            SlotWrite::sign(
                admission,
                &self.key,
                entries.to_vec(),
                &crate::wallet::os_random()?,
            )
            .map_err(|e| WalletError::Parcels(format!("cannot sign the slot write: {e}")))?
        } else {
            return Ok(None);
        };
        if let Some(c) = commit {
            self.keep_slot_write(c, &w)?;
        }
        Ok(Some(w))
    }

    /// Signs a write of `entries` with this device's key (a device-slots admission, which
    /// shows the nodes its genesis blind and key, not its device id).
    pub(crate) fn sign_slot_write(
        &self,
        entries: Vec<SlotEntry>,
    ) -> Result<SlotWrite, WalletError> {
        SlotWrite::sign(
            Admission::DeviceSlots {
                genesis_blind: dsm_core::slot::genesis_blind(&self.identity.genesis),
            },
            &self.key,
            entries,
            &crate::wallet::os_random()?,
        )
        .map_err(|e| WalletError::Parcels(format!("cannot sign the slot write: {e}")))
    }

    /// The write to hand out with a document carrying `backing` (a vault or withdrawal
    /// document): for our own consuming statement, one signed now; for another holder's, the
    /// one it carried to us, if kept.
    pub(crate) fn consumption_write(
        &self,
        backing: &ConsumedParcels,
    ) -> Result<Option<SlotWrite>, WalletError> {
        let hop = &backing.consumption.hop;
        if hop.statement.holder == self.device_id() {
            return Ok(Some(self.sign_slot_write(dsm_core::slot::hop_entries(
                hop,
                &self.identity,
            ))?));
        }
        Ok(self
            .store
            .get(Table::Meta, &slot_write_key(&hop.commit()))?
            .and_then(|b| SlotWrite::from_bytes(&b).ok()))
    }

    /// Writes into `b` the write a document carried for its consuming statement, to be
    /// used (once checked) when settling it.
    pub(crate) fn keep_carried_write(
        &self,
        b: &mut Batch,
        backing: &ConsumedParcels,
        w: Option<&SlotWrite>,
    ) {
        if let Some(w) = w {
            b.put(
                Table::Meta,
                slot_write_key(&backing.consumption.hop.commit()),
                w.to_bytes(),
            );
        }
    }

    /// A write of `slots` (owner, key, body) by this device's key as one of `authority`'s
    /// keys (a token's issuers or refreshers, PROTOCOL.md §15.2); `None` when this device
    /// holds none of them.
    pub(crate) fn sign_authority_write(
        &self,
        authority: &dsm_token::policy::Issuers,
        slots: Vec<(Digest, Digest, &[u8])>,
    ) -> Result<Option<SlotWrite>, WalletError> {
        if !authority.keys.contains(self.key.public_key()) {
            return Ok(None);
        }
        let entries = slots
            .into_iter()
            .map(|(owner, key, body)| SlotEntry {
                owner,
                key,
                body: dsm_core::slot::body_digest(body),
            })
            .collect();
        SlotWrite::sign(
            dsm_token::authority::keys_admission(authority),
            &self.key,
            entries,
            &crate::wallet::os_random()?,
        )
        .map(Some)
        .map_err(|e| WalletError::Token(format!("cannot sign the slot write: {e}")))
    }

    /// A vault's resolution `body` in its owned slot, signed by this device as one of the
    /// vault's parties (PROTOCOL.md §15.2, §18.3); `None` when this device is neither.
    pub(crate) fn sign_vault_write(
        &self,
        policy: &dsm_token::vault::VaultPolicy,
        body: Vec<u8>,
    ) -> Result<Option<dsm_core::slot::OwnedPut>, WalletError> {
        let parties = policy.slot_parties();
        let me = dsm_core::slot::device_slots_owner(&self.identity);
        if parties.binary_search(&me).is_err() {
            return Ok(None);
        }
        let (owner, key) = policy.resolution_slot();
        let write = SlotWrite::sign(
            Admission::Parties {
                genesis_blind: dsm_core::slot::genesis_blind(&self.identity.genesis),
                parties,
            },
            &self.key,
            vec![SlotEntry {
                owner,
                key,
                body: dsm_core::slot::body_digest(&body),
            }],
            &crate::wallet::os_random()?,
        )
        .map_err(|e| WalletError::Token(format!("cannot sign the slot write: {e}")))?;
        Ok(Some(dsm_core::slot::OwnedPut { write, body }))
    }

    /// Keeps `w` as the write for the statement whose hop commit is `commit`.
    pub(crate) fn keep_slot_write(
        &mut self,
        commit: &Digest,
        w: &SlotWrite,
    ) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.put(Table::Meta, slot_write_key(commit), w.to_bytes());
        self.store.commit(&b)?;
        Ok(())
    }

    /// Whether this device saw `commit` settled, with every hop before it on its line.
    pub(crate) fn hop_settled(&self, commit: &Digest) -> bool {
        self.book.settled_hops.contains(commit)
    }

    /// Records that `hop` holds every input's slot at W of N (after every hop before it on
    /// the line did): it is those parcels' one spend, accepted even where the parcel is in
    /// conflict.
    pub(crate) fn mark_hop_settled(&mut self, hop: &Hop) -> Result<(), WalletError> {
        let commit = hop.commit();
        let inputs: Vec<u8> = hop
            .statement
            .inputs
            .iter()
            .flat_map(|i| *i.as_bytes())
            .collect();
        let mut b = Batch::new();
        b.put(Table::SettledHops, commit.as_bytes().to_vec(), inputs)
            .delete(Table::Meta, slot_write_key(&commit));
        self.store.commit(&b)?;
        for i in &hop.statement.inputs {
            self.book.cache.settle(*i, commit);
        }
        self.book.settled_hops.insert(commit);
        // Only a settled spend of a parcel in conflict can clear held value of taint.
        let holder = &hop.statement.holder;
        if hop
            .statement
            .inputs
            .iter()
            .any(|i| self.book.cache.knows_conflict(i, holder))
        {
            self.book.tainted = self.book.find_tainted(self.store.as_ref())?;
        }
        Ok(())
    }

    /// Forgets what is left to settle of our received transfer `commit` (it settled, or
    /// is in conflict for good).
    pub(crate) fn settled_line(&mut self, commit: &Digest) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.delete(Table::Settling, commit.as_bytes().to_vec());
        self.store.commit(&b)?;
        Ok(())
    }
}

/// The cache with no conflicts known (for [`Wallet::lineages_well_formed`] only).
struct IgnoringConflicts<'a>(&'a ParcelKnowledge);

impl ParcelCache for IgnoringConflicts<'_> {
    fn verified(&self, id: &ParcelId) -> Option<Parcel> {
        self.0.verified(id)
    }
    fn in_conflict(&self, _: &ParcelId, _: &DeviceId, _: Option<&Digest>) -> bool {
        false
    }
}

/// Meta key of the write kept for the statement whose hop commit is `commit` (PROTOCOL.md
/// §15.2): ours, or the sender's carried by its offer; deleted once the hop is settled.
pub(crate) fn slot_write_key(commit: &Digest) -> Vec<u8> {
    [b"slot_write/".as_slice(), commit.as_bytes()].concat()
}
