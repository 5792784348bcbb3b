//! Backup files (PROTOCOL.md §20.9): `dsm backup export` writes every record of the wallet,
//! sealed under a key only the recovery phrase derives ([`dsm_recovery::backup`]). Importing
//! never makes a clone that signs again from an old head:
//!
//! - by default the file restores the identity **as a successor**
//!   ([`crate::wallet::recovery::recover_from`] with [`crate::wallet::recovery::BackupSource::File`]): it
//!   only replaces the capsule download of a recovery, which still tombstones the old
//!   device and publishes the succession at the storage nodes;
//! - [`restore_same_device`] restores the same device **frozen**: [`Wallet::open`] refuses
//!   it until [`unfreeze`] has seen, at W of the placed nodes, that the head's anchor slot,
//!   the capsule stream past the export and the device's tombstone slot are all empty.

use super::recovery::{CAPSULE_GENERATION, CAPSULE_NEXT};
use super::*;
use crate::nodes::{NodeSet, SlotReplica};
use crate::store::MemoryStore;
use dsm_core::hash::object_address;
use dsm_core::parcel::ParcelId;
use dsm_recovery::backup::{self as file, BackupFileError, Record, WalletSnapshot};
use dsm_recovery::body::{HeldEntry, RecoveredState};
use dsm_recovery::capsule_slot;
use dsm_recovery::RecoveryKeys;
use std::collections::{BTreeSet, HashMap};

/// Meta key of a wallet restored with `--same-device` and not yet unfrozen: a JSON
/// [`Frozen`]. While it exists, [`Wallet::open`] refuses the wallet.
pub(crate) const FROZEN: &[u8] = b"frozen";

/// What a frozen wallet waits for the nodes to show empty.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Frozen {
    /// The head digest (hex) of the backup: its anchor slot must be empty.
    head: String,
    /// The capsule stream's slot owner (hex).
    capsule_owner: String,
    /// The first capsule index not sealed at export: its slot must be empty.
    capsule_next: u64,
}

impl Wallet {
    /// The backup file of this whole wallet: every record of every table, sealed under
    /// `H(BackupFile, capsule key)` (PROTOCOL.md §20.9). An identity without a recovery
    /// phrase has no capsule key, so it cannot write one.
    pub fn export_backup(&self) -> Result<Vec<u8>, WalletError> {
        let Some(key) = &self.capsule_key else {
            return Err(WalletError::Recovery(
                "this identity has no recovery phrase, and a backup file is sealed under it \
                 (identities created by `dsm init` have one)"
                    .into(),
            ));
        };
        let generation = meta_u64(self.store.as_ref(), CAPSULE_GENERATION)?;
        let mut tables = Table::ALL.to_vec();
        tables.sort_by_key(|t| t.id());
        let mut records = Vec::new();
        for t in tables {
            let mut rows = self.store.scan(t)?;
            rows.sort();
            records.extend(rows.into_iter().map(|(key, value)| Record {
                table: t.id(),
                key,
                value,
            }));
        }
        let snapshot = WalletSnapshot {
            device: *self.device_id().digest(),
            head: *self.head.digest().digest(),
            records,
        };
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&os_random()?[..24]);
        Ok(file::seal(key, generation, &snapshot, nonce))
    }
}

/// A backup file opened with the recovery phrase and checked: its records describe the
/// device it names, at the head it names, of an identity the phrase controls.
pub struct OpenedBackup {
    /// The device generation whose capsule key sealed it.
    pub generation: u64,
    /// The first capsule index the device had not sealed at export.
    pub capsule_next: u64,
    /// The device.
    pub device: DeviceId,
    /// Its head at export.
    pub head: DeviceHead,
    /// The file's records, checked.
    store: MemoryStore,
}

impl From<BackupFileError> for WalletError {
    fn from(e: BackupFileError) -> Self {
        WalletError::Backup(e)
    }
}

/// Opens and checks a backup file with the keys of its recovery phrase.
pub fn open_backup(bytes: &[u8], keys: &RecoveryKeys) -> Result<OpenedBackup, WalletError> {
    let generation = file::generation(bytes)?;
    let snapshot = file::open(&keys.generation(generation), bytes)?;
    let bad = |why: &str| WalletError::Corrupt {
        what: "backup file",
        error: why.to_string(),
    };
    let mut b = Batch::new();
    for r in snapshot.records {
        let table = Table::ALL
            .into_iter()
            .find(|t| t.id() == r.table)
            .ok_or_else(|| bad(&format!("a record of unknown table {}", r.table)))?;
        b.put(table, r.key, r.value);
    }
    let mut store = MemoryStore::new();
    store.commit(&b)?;
    let meta = |k: &[u8], what: &'static str| -> Result<Vec<u8>, WalletError> {
        store
            .get(Table::Meta, k)?
            .ok_or_else(|| bad(&format!("it holds no {what}")))
    };
    let identity =
        DeviceIdentity::from_bytes(&meta(b"identity", "identity")?).map_err(corrupt("identity"))?;
    let genesis =
        dsm_core::identity::GenesisRecord::from_bytes(&meta(b"genesis_record", "genesis record")?)
            .map_err(corrupt("genesis record"))?;
    let head = DeviceHead::from_bytes(&meta(b"head", "head")?).map_err(corrupt("head"))?;
    let device = identity.device_id();
    if *device.digest() != snapshot.device
        || head.device != device
        || *head.digest().digest() != snapshot.head
        || identity.genesis != genesis.digest()
    {
        return Err(bad(
            "its records are not those of the device and head it names",
        ));
    }
    if genesis.recovery_authority.as_ref() != Some(keys.authority_key().public_key()) {
        return Err(bad(
            "its identity is not controlled by this recovery phrase",
        ));
    }
    let capsule_next = match store.get(Table::Meta, CAPSULE_NEXT)? {
        None => 0,
        Some(v) => u64::from_be_bytes(
            v.get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("malformed capsule position"))?,
        ),
    };
    Ok(OpenedBackup {
        generation,
        capsule_next,
        device,
        head,
        store,
    })
}

impl OpenedBackup {
    /// What a successor restored from this file takes over: the lost device's state as a
    /// capsule replay would rebuild it (the same checks: the relationship tree matches the
    /// head, the held parcels add up to its balances), and every lineage object the file
    /// holds.
    pub(crate) fn recovered_state(
        &self,
    ) -> Result<(RecoveredState, HashMap<Digest, Vec<u8>>), WalletError> {
        let s = &self.store;
        let bad = |why: &str| WalletError::Corrupt {
            what: "backup file",
            error: why.to_string(),
        };
        let get = |k: &[u8]| s.get(Table::Meta, k).map(|v| v.unwrap_or_default());
        let identity =
            DeviceIdentity::from_bytes(&get(b"identity")?).map_err(corrupt("identity"))?;
        let genesis = dsm_core::identity::GenesisRecord::from_bytes(&get(b"genesis_record")?)
            .map_err(corrupt("genesis record"))?;
        let me = identity.device_id();
        // Every device this wallet knows of, so each relationship leaf gets its
        // counterparty back (a leaf is keyed by H(both device ids) only).
        let mut known: BTreeSet<DeviceId> = BTreeSet::new();
        for (_, v) in s.scan(Table::History)? {
            if let Some(d) = serde_json::from_slice::<HistoryEntry>(&v)
                .ok()
                .and_then(|e| e.peer)
            {
                known.insert(d);
            }
        }
        for (_, v) in s.scan(Table::Receipts)? {
            if let Ok(r) = Receipt::from_bytes(&v) {
                known.insert(r.proposal.proposal.step.sender);
                known.insert(r.proposal.proposal.step.receiver);
            }
        }
        for (_, v) in s.scan(Table::Refusals)? {
            if let Ok(r) = SignedRefusal::from_bytes(&v) {
                known.insert(r.refusal.receiver.device_id());
            }
        }
        for (k, _) in s.scan(Table::Pending)? {
            if let Ok(d) = <[u8; 32]>::try_from(k.as_slice()) {
                known.insert(DeviceId(Digest(d)));
            }
        }
        for (_, v) in s.scan(Table::Contacts)? {
            if let Ok(d) = serde_json::from_slice::<Contact>(&v)
                .map_err(|_| ())
                .and_then(|c| c.device_id().map_err(|_| ()))
            {
                known.insert(d);
            }
        }
        let by_leaf: HashMap<RelationshipKey, DeviceId> = known
            .into_iter()
            .map(|d| (RelationshipKey::between(&me, &d), d))
            .collect();
        let mut tree = SparseMerkleTree::new();
        let mut relationships = BTreeMap::new();
        for (k, v) in s.scan(Table::Tips)? {
            let leaf = RelationshipKey(Digest(
                k.as_slice().try_into().map_err(|_| bad("malformed tip"))?,
            ));
            let tip = TipDigest(Digest(
                v.as_slice().try_into().map_err(|_| bad("malformed tip"))?,
            ));
            let counterparty = *by_leaf
                .get(&leaf)
                .ok_or_else(|| bad("a relationship whose counterparty the wallet names nowhere"))?;
            tree.insert(*leaf.as_bytes(), tip.0);
            relationships.insert(leaf, (counterparty, tip));
        }
        if tree.root() != self.head.smt_root {
            return Err(bad("its relationship tree does not match its head"));
        }
        let pending = s
            .scan(Table::Pending)?
            .into_iter()
            .map(|(_, v)| SignedProposal::from_bytes(&v).map_err(corrupt("pending")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut contacts = BTreeMap::new();
        for (_, v) in s.scan(Table::Contacts)? {
            let c: Contact = serde_json::from_slice(&v).map_err(corrupt("contact"))?;
            contacts.insert(c.name.clone(), c.device_id()?);
        }
        let policies = s
            .scan(Table::Policies)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let mut objects: HashMap<Digest, Vec<u8>> = s
            .scan(Table::Objects)?
            .into_iter()
            .filter_map(|(k, v)| Some((Digest(k.as_slice().try_into().ok()?), v)))
            .collect();
        let mut held = BTreeMap::new();
        let mut sums: BTreeMap<TokenId, u128> = BTreeMap::new();
        for (k, v) in s.scan(Table::Parcels)? {
            let id = ParcelId(Digest(
                k.as_slice()
                    .try_into()
                    .map_err(|_| bad("malformed parcel"))?,
            ));
            let h = super::parcels::Held::from_bytes(&v).ok_or_else(|| bad("malformed parcel"))?;
            let manifest = v.get(48..).ok_or_else(|| bad("malformed parcel"))?.to_vec();
            let address = object_address(&manifest);
            objects.insert(address, manifest);
            let sum = sums.entry(h.token).or_default();
            *sum = sum
                .checked_add(h.amount.0)
                .ok_or_else(|| bad("its held parcels overflow"))?;
            held.insert(
                id,
                HeldEntry {
                    id,
                    token: h.token,
                    amount: h.amount,
                    manifest: address,
                },
            );
        }
        let balances = self.head.balances.entries();
        if balances.len() != sums.len()
            || !balances
                .iter()
                .all(|b| sums.get(&b.token) == Some(&b.amount.0))
        {
            return Err(bad("its held parcels do not add up to its head's balances"));
        }
        let mut documents = BTreeMap::new();
        // The slot owners of the devices whose identities it filed: a successor posts its
        // notices to their introduction addresses.
        let mut owners = BTreeMap::new();
        for (k, v) in s.scan(Table::Meta)? {
            if let Some(Ok(i)) = k
                .strip_prefix(super::IDENTITY_OF)
                .map(|_| DeviceIdentity::from_bytes(&v))
            {
                owners.insert(i.device_id(), dsm_core::slot::device_slots_owner(&i));
            }
            // A counterparty's document accepted from a reply-to, whose card it never had:
            // its address is that of its sealed form (§12.6), so a successor fetches it too.
            if let Some(Ok(doc)) = k
                .strip_prefix(super::CONTACT_DOCUMENT)
                .map(|_| dsm_protocol::card::ContactDocument::from_bytes(&v))
            {
                documents
                    .entry(doc.device.device_id())
                    .or_insert_with(|| object_address(&doc.seal()));
            }
            if let (Some(d), Ok(a)) = (
                k.strip_prefix(super::CONTACT_DOCUMENT_ADDRESS)
                    .and_then(|d| <[u8; 32]>::try_from(d).ok()),
                <[u8; 32]>::try_from(v.as_slice()),
            ) {
                documents.insert(DeviceId(Digest(d)), Digest(a));
            }
        }
        let mut offers = Vec::new();
        for (_, v) in s.scan(Table::Offers)? {
            let a = object_address(&v);
            offers.push(a);
            objects.insert(a, v);
        }
        Ok((
            RecoveredState {
                authority_admission: s
                    .get(Table::Meta, super::AUTHORITY_ADMISSION)?
                    .map(|b| {
                        dsm_core::crypto::Signature::from_bytes(&b)
                            .map_err(corrupt("authority admission"))
                    })
                    .transpose()?,
                genesis,
                identity,
                head: self.head.clone(),
                tree,
                relationships,
                owners,
                pending,
                contacts,
                documents,
                policies,
                held,
                packs: Vec::new(),
                offers,
                capsules: self.capsule_next,
                last_digest: Digest::ZERO,
            },
            objects,
        ))
    }

    /// The storage nodes and replication the wallet used when it was exported.
    pub fn nodes(&self) -> Result<(Vec<String>, crate::nodes::Replication), WalletError> {
        Ok((
            super::stored_nodes(&self.store)?,
            super::stored_replication(&self.store)?,
        ))
    }

    /// What restoring this file as a successor would take over (shown before anything is
    /// created or published).
    pub fn preview(&self) -> Result<crate::wallet::recovery::RecoveryPreview, WalletError> {
        Ok(crate::wallet::recovery::preview_of(
            &self.recovered_state()?.0,
        ))
    }
}

/// Restores `backup` into the empty `store` as the same device, frozen: [`Wallet::open`]
/// refuses it until [`unfreeze`] succeeds. `passphrase` must open the device key the file
/// holds (checked before anything is written).
pub fn restore_same_device(
    mut store: Box<dyn Store>,
    backup: &OpenedBackup,
    keys: &RecoveryKeys,
    passphrase: &[u8],
) -> Result<(), WalletError> {
    if store.get(Table::Meta, b"identity")?.is_some() {
        return Err(WalletError::AlreadyExists);
    }
    super::unseal(&backup.store, passphrase)?;
    let mut b = Batch::new();
    for t in Table::ALL {
        for (k, v) in backup.store.scan(t)? {
            b.put(t, k, v);
        }
    }
    let frozen = Frozen {
        head: backup.head.digest().digest().to_hex(),
        capsule_owner: keys.generation(backup.generation).slot_owner().to_hex(),
        capsule_next: backup.capsule_next,
    };
    b.put(Table::Meta, FROZEN.to_vec(), json(&frozen));
    store.commit(&b)?;
    Ok(())
}

/// What one slot's placed nodes showed.
struct Seen {
    empty: usize,
    holders: Vec<String>,
}

fn seen(nodes: &NodeSet, owner: &Digest, key: &Digest) -> Result<Seen, WalletError> {
    let replicas = nodes
        .owned_replicas(owner, key)
        .map_err(|e| WalletError::Frozen(e.to_string()))?;
    let mut s = Seen {
        empty: 0,
        holders: Vec::new(),
    };
    for (node, r) in replicas {
        match r {
            SlotReplica::Empty => s.empty += 1,
            SlotReplica::Holds(_) => s.holders.push(node),
            SlotReplica::Unreachable => {}
        }
    }
    Ok(s)
}

/// Lifts the freeze of a wallet restored with [`restore_same_device`], if W of the placed
/// nodes of each slot show it empty and no node holds anything there: the anchor slot of
/// the backup's head (nothing it signed after the export reached the nodes), the capsule
/// slot after the export (no change after it was backed up), and the device's tombstone
/// slot (it was not recovered onto another device). Any node holding something keeps it
/// frozen for good: that copy must never sign again (restore it as a successor instead).
/// Then opens it. A wallet that is not frozen just opens.
pub fn unfreeze(
    mut store: Box<dyn Store>,
    passphrase: &[u8],
    nodes: &NodeSet,
) -> Result<Wallet, WalletError> {
    let Some(v) = store.get(Table::Meta, FROZEN)? else {
        return Wallet::open(store, passphrase);
    };
    let frozen: Frozen = serde_json::from_slice(&v).map_err(corrupt("frozen record"))?;
    super::unseal(store.as_ref(), passphrase)?;
    let identity = DeviceIdentity::from_bytes(
        &store
            .get(Table::Meta, b"identity")?
            .ok_or(WalletError::NotFound)?,
    )
    .map_err(corrupt("identity"))?;
    let hex = |h: &str, what: &'static str| {
        Digest::from_hex(h).ok_or(WalletError::Corrupt {
            what,
            error: "malformed".into(),
        })
    };
    let head = hex(&frozen.head, "frozen record")?;
    let owner = hex(&frozen.capsule_owner, "frozen record")?;
    let genesis = dsm_core::identity::GenesisRecord::from_bytes(
        &store
            .get(Table::Meta, b"genesis_record")?
            .ok_or(WalletError::NotFound)?,
    )
    .map_err(corrupt("genesis record"))?;
    let w = nodes.params().w();
    let (anchor_owner, anchor_key) =
        dsm_core::slot::anchor_slot(&identity, &dsm_core::chain::HeadDigest(head));
    let mut checks = vec![
        (
            "a statement this device signed after the backup (the anchor slot of the backup's head)",
            anchor_owner,
            anchor_key,
        ),
        (
            "a newer backup capsule of this device",
            owner,
            capsule_slot(frozen.capsule_next),
        ),
    ];
    // Only a genesis with a recovery authority can tombstone its devices.
    if let Some(a) = &genesis.recovery_authority {
        let (tomb_owner, tomb_key) = dsm_recovery::succession::tombstone_slot(&identity, a);
        checks.push(("a tombstone of this device", tomb_owner, tomb_key));
    }
    for (what, owner, key) in checks {
        let s = seen(nodes, &owner, &key)?;
        if !s.holders.is_empty() {
            return Err(WalletError::Frozen(format!(
                "{} hold(s) {what}: this copy is older than the device and must never sign \
                 again (it would be equivocation, and every counterparty would ban the device). \
                 Restore the backup as a successor instead: `dsm backup import FILE` without \
                 --same-device",
                s.holders.join(", ")
            )));
        }
        if s.empty < w {
            return Err(WalletError::Frozen(format!(
                "only {} storage node(s) answered that they hold no {what}; {w} are needed. \
                 Try again when more nodes are up",
                s.empty
            )));
        }
    }
    let mut b = Batch::new();
    b.delete(Table::Meta, FROZEN.to_vec());
    store.commit(&b)?;
    Wallet::open(store, passphrase)
}

/// The storage nodes and replication recorded in a wallet's `store`, readable without its
/// passphrase (what [`unfreeze`] asks).
pub fn stored_nodes(
    store: &dyn Store,
) -> Result<(Vec<String>, crate::nodes::Replication), WalletError> {
    Ok((
        super::stored_nodes(store)?,
        super::stored_replication(store)?,
    ))
}

/// True if `store` holds a wallet restored with [`restore_same_device`] and still frozen.
pub fn is_frozen(store: &dyn Store) -> Result<bool, WalletError> {
    Ok(store.get(Table::Meta, FROZEN)?.is_some())
}

/// A big-endian u64 in the Meta table (0 when absent).
fn meta_u64(store: &dyn Store, key: &[u8]) -> Result<u64, WalletError> {
    Ok(store
        .get(Table::Meta, key)?
        .and_then(|v| v.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}
