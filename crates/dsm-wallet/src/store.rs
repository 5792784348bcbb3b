//! Persistence behind one small trait: named tables of byte keys and values, read by key
//! or in key order, written only in atomic batches ([`Store::commit`]). The wallet turns
//! every state change into exactly one batch, so a crash leaves either the whole change or
//! none of it.
//!
//! [`RedbStore`] is the default: redb is a pure-Rust, single-file, copy-on-write B-tree with
//! ACID transactions and fsync on commit, so the wallet needs no C library and no server,
//! and one file is one wallet (easy to back up — and, note, easy to clone: see
//! PROTOCOL.md §1 on cloning). [`MemoryStore`] keeps the same tables in memory for tests
//! and benchmarks; [`CrashingStore`] wraps any store to simulate a crash at a chosen write.

use redb::{ReadableDatabase, ReadableTable};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// The wallet's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Identity, sealed key, current head, format version.
    Meta,
    /// Relationship key → current tip (the device tree's leaves).
    Tips,
    /// Peer device id → our signed proposal waiting for its acceptance.
    Pending,
    /// Proposal commit → complete receipt, for every transfer we are part of.
    Receipts,
    /// Head height (8 bytes, big-endian) → history entry (JSON).
    History,
    /// Device id ‖ parent head digest → the first signed statement seen for that head:
    /// `child head digest (32) ‖ where (1) ‖ …` — where 0: the canonical statement follows;
    /// 1 / 2: it is the proposal / acceptance of the receipt whose proposal commit follows.
    Witness,
    /// Sequence number (8 bytes, big-endian) → witness key, in the order seen (for gossip).
    WitnessOrder,
    /// Device id → equivocation proof.
    Evidence,
    /// Contact name → contact (JSON).
    Contacts,
    /// Proposal commit → signed refusal (ours, or the one that refused our proposal).
    Refusals,
    /// Token id → canonical token policy (CPTA) this device holds.
    Policies,
    /// Head cause → canonical source proof of an ALLOCATION or BURN head of this device, or
    /// the canonical signed refusal behind a RECLAIM head (PROTOCOL.md §20.5).
    Sources,
    /// Token id ‖ u64be(e) → canonical DJTE emission step `e` of the token's vault chain,
    /// as verified by this device.
    Emissions,
    /// Vault id → the creator's canonical signed lock, for vaults this device created or
    /// imported.
    Vaults,
    /// Vault id → the first canonical resolution this device saw for it.
    VaultResolutions,
    /// u64be(index) → canonical recovery capsule this device sealed and has not uploaded
    /// yet, and the newest uploaded one (PROTOCOL.md §20).
    Capsules,
    /// Lost device id → the digest of the succession this device verified (the lost device
    /// is refused from then on) ‖ this device's canonical signed answer to it, if any.
    Successions,
    /// On a recovered device: counterparty device id → where its acknowledgement stands
    /// (JSON).
    Recovery,
    /// Parcel id → a parcel this device holds: token (32) ‖ u128be(amount) ‖ its canonical
    /// lineage manifest (PROTOCOL.md §5.6).
    Parcels,
    /// Object address → the lineage object (source proof, hop, identity) it addresses.
    Objects,
    /// Parcel id → token (32) ‖ u128be(amount) ‖ holder (32) [‖ parent parcel id (32)]:
    /// parcels whose lineage this device verified (the lineage cache; validity only, never
    /// spent-ness), with the parcel each descends from (none for a root).
    VerifiedParcels,
    /// Proposal commit → the canonical offer (without objects) of our proposal still
    /// pending: the manifests of the inputs it consumed, for re-offering and release.
    Offers,
    /// Parcel id ‖ holder device id → the first statement seen in which that holder consumed
    /// that parcel: its commit (32) ‖ the address of its hop in `Objects` (32). A second
    /// statement with another commit is a parcel fork (PROTOCOL.md §5.6).
    ParcelSpends,
    /// Parcel id ‖ holder device id → the canonical equivocation proof that the holder
    /// consumed that parcel twice: the parcel and its descendants are refused.
    ParcelConflicts,
    /// Proposal commit of a transfer this device received → the hops of its inputs'
    /// lineages still to settle, oldest first: `hop object address (32) ‖ signer identity
    /// object address (32)` each (PROTOCOL.md §5.6, "Settlement").
    Settling,
    /// Hop commit → the parcels it consumed (32 each): hops this device saw hold every
    /// input's slot at W of N, after every hop before them on the line did.
    SettledHops,
    /// Token id ‖ u64be(seq) → the canonical mint this device read (or wrote) in the mint's
    /// slot at W of N, checked against the one before it, from mint 0 (PROTOCOL.md §17.2).
    PublishedMints,
    /// u64be(capsule index) ‖ u64be(part) → a sealed object pack of that capsule not
    /// uploaded yet (PROTOCOL.md §20.2).
    CapsulePacks,
    /// Object address → empty: lineage objects a pack of this device's stream already
    /// carries (each is packed once per stream).
    PackedObjects,
    /// `H(ObjectAddress, item)` → a b0x item read from the nodes and not finished yet
    /// (PROTOCOL.md §16.3, "Custody"): kept here so the nodes can delete everything read.
    Custody,
    /// Peer device id → where this device and the peer read each other's b0x items
    /// (PROTOCOL.md §16.1): `told (1 byte: 1 once this device sent the peer its reply-to)
    /// ‖ the blind the peer reads this device's items under (32), once it sent one`.
    Correspondents,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 31] = [
        Table::Meta,
        Table::Tips,
        Table::Pending,
        Table::Receipts,
        Table::History,
        Table::Witness,
        Table::WitnessOrder,
        Table::Evidence,
        Table::Contacts,
        Table::Refusals,
        Table::Policies,
        Table::Sources,
        Table::Emissions,
        Table::Vaults,
        Table::VaultResolutions,
        Table::Capsules,
        Table::Successions,
        Table::Recovery,
        Table::Parcels,
        Table::Objects,
        Table::VerifiedParcels,
        Table::Offers,
        Table::ParcelSpends,
        Table::ParcelConflicts,
        Table::Settling,
        Table::SettledHops,
        Table::PublishedMints,
        Table::CapsulePacks,
        Table::PackedObjects,
        Table::Custody,
        Table::Correspondents,
    ];

    /// The table's one-byte id, the key prefix in [`RedbStore`]'s single tree. Frozen.
    pub fn id(self) -> u8 {
        match self {
            Table::Meta => 1,
            Table::Tips => 2,
            Table::Pending => 3,
            Table::Receipts => 4,
            Table::History => 5,
            Table::Witness => 6,
            Table::WitnessOrder => 7,
            Table::Evidence => 8,
            Table::Contacts => 9,
            Table::Refusals => 10,
            Table::Policies => 11,
            Table::Sources => 12,
            Table::Emissions => 13,
            Table::Vaults => 14,
            Table::VaultResolutions => 15,
            Table::Capsules => 16,
            Table::Successions => 17,
            Table::Recovery => 18,
            Table::Parcels => 19,
            Table::Objects => 20,
            Table::VerifiedParcels => 21,
            Table::Offers => 22,
            Table::ParcelSpends => 23,
            Table::ParcelConflicts => 24,
            Table::Settling => 25,
            Table::SettledHops => 26,
            Table::PublishedMints => 27,
            Table::CapsulePacks => 28,
            Table::PackedObjects => 29,
            Table::Custody => 30,
            Table::Correspondents => 31,
        }
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What [`crate::Wallet::visit_store`] calls for every entry: table, key, value.
pub type EntryVisitor<'a> = dyn FnMut(Table, &[u8], &[u8]) + 'a;

/// One operation of a batch: put (`Some`) or delete (`None`) a key in a table.
pub type Op = (Table, Vec<u8>, Option<Vec<u8>>);

/// One atomic write: puts (`Some`) and deletes (`None`), applied all or nothing.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    ops: Vec<Op>,
    deferred: bool,
}

impl Batch {
    /// An empty batch, durable when [`Store::commit`] returns.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty batch that is still atomic, but whose durability may wait for the next
    /// durable commit. Only for state a peer can deliver again (a stitched receipt, gossip):
    /// a crash may lose it, never half of it, and the next session restores it.
    pub fn deferred() -> Self {
        Batch {
            ops: Vec::new(),
            deferred: true,
        }
    }
    /// True for [`Batch::deferred`] batches.
    pub fn is_deferred(&self) -> bool {
        self.deferred
    }
    /// Sets `key` to `value` in `table`.
    pub fn put(
        &mut self,
        table: Table,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push((table, key.into(), Some(value.into())));
        self
    }
    /// Removes `key` from `table`.
    pub fn delete(&mut self, table: Table, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push((table, key.into(), None));
        self
    }
    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// Another process has the wallet open.
    #[error("the wallet is in use by another dsm process (a running `dsm receive` or `dsm ui`?); stop it or use another --home")]
    InUse,
    /// A simulated crash ([`CrashingStore`]).
    #[error("simulated crash")]
    Crashed,
    /// The wallet file is damaged: the database found it corrupted, or failed (panicked)
    /// reading it. Nothing was written.
    #[error("the wallet file is damaged ({0}); nothing was changed. Restore the file from a backup, or recover this identity with its phrase (`dsm init --restore`)")]
    Damaged(String),
    /// The file was not closed cleanly (a process holding it was killed) and needs the
    /// database's repair, which a read-only open never makes.
    #[error("the wallet file was not closed cleanly and needs a repair, which a read-only open never makes")]
    NeedsRepair,
    /// The file predates record checks and must be upgraded by a writing open (which
    /// rewrites every record with its check, in one transaction) before a read-only open.
    #[error(
        "the wallet file predates record checks and must be upgraded once by a command that writes"
    )]
    NeedsUpgrade,
    /// Anything else the database reported.
    #[error("{0}")]
    Backend(String),
}

thread_local! {
    static GUARDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a store call whose panics are caught and reported as a
/// damaged file (a binary's panic hook stays quiet for those).
pub fn inside_guarded_call() -> bool {
    GUARDING.with(std::cell::Cell::get)
}

/// Runs a call into the database library, turning a panic (which a damaged file can
/// cause inside it) into [`StoreError::Damaged`], so a damaged wallet never crashes the
/// process.
fn guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let was = GUARDING.with(|g| g.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDING.with(|g| g.set(was));
    match r {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the database library failed".into());
            Err(StoreError::Damaged(what))
        }
    }
}

/// A transactional key-value store with named tables.
pub trait Store: Send + Sync {
    /// The value of `key` in `table`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `table` holds `key` (without copying the value where the store can avoid it).
    fn contains(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(table, key)?.is_some())
    }
    /// Every entry of `table`, in key order.
    fn scan(&self, table: Table) -> Result<Vec<Entry>, StoreError>;
    /// The last `n` entries of `table` in key order, newest (largest key) first.
    fn last(&self, table: Table, n: usize) -> Result<Vec<Entry>, StoreError>;
    /// Applies the whole batch atomically and durably, or nothing.
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError>;
    /// An independent copy of the current data, if this store can make one cheaply (an
    /// in-memory store can; a database file cannot). The model checker copies whole
    /// devices this way to explore every interleaving.
    fn fork(&self) -> Option<Box<dyn Store>> {
        None
    }
    /// Calls `f` on every entry of `table` in key order, without copying where the store
    /// can avoid it (the model checker fingerprints whole stores millions of times). `f`
    /// must not use the store: an implementation may hold a lock while calling it.
    fn visit(&self, table: Table, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), StoreError> {
        for (k, v) in self.scan(table)? {
            f(&k, &v);
        }
        Ok(())
    }
    /// A check that changes with every commit, if the store keeps one ([`RedbStore`]'s
    /// store root): what tells a summary of this store current or stale.
    fn root(&self) -> Result<Option<[u8; 16]>, StoreError> {
        Ok(None)
    }
}

type Tables = BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>;

/// An in-memory store. Clones share the same tables, so a test can "crash" a wallet (drop
/// it) and reopen another on the same data, as after a restart.
#[derive(Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// An independent copy of the current data (what copying a wallet file does).
    pub fn fork(&self) -> MemoryStore {
        MemoryStore {
            tables: Arc::new(Mutex::new(self.lock().clone())),
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic elsewhere cannot leave a half-applied batch (batches apply under one
        // lock, after validation), so a poisoned lock still holds consistent data.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(&table).and_then(|t| t.get(key)).cloned())
    }
    fn contains(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.lock().get(&table).is_some_and(|t| t.contains_key(key)))
    }
    fn scan(&self, table: Table) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .lock()
            .get(&table)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
    fn last(&self, table: Table, n: usize) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .lock()
            .get(&table)
            .map(|t| {
                t.iter()
                    .rev()
                    .take(n)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
    fn fork(&self) -> Option<Box<dyn Store>> {
        Some(Box::new(MemoryStore::fork(self)))
    }
    fn visit(&self, table: Table, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), StoreError> {
        if let Some(t) = self.lock().get(&table) {
            for (k, v) in t {
                f(k, v);
            }
        }
        Ok(())
    }
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut tables = self.lock();
        for (table, key, value) in &batch.ops {
            let t = tables.entry(*table).or_default();
            match value {
                Some(v) => {
                    t.insert(key.clone(), v.clone());
                }
                None => {
                    t.remove(key);
                }
            }
        }
        Ok(())
    }
}

/// The default store: one redb database file, fsynced on every (non-deferred) commit.
///
/// All logical tables share one B-tree, keyed `table id (1 byte) ‖ key`, so a commit
/// rewrites the pages of one tree rather than of one tree per table it touches.
///
/// Integrity without a key (PROTOCOL.md §14): every value is stored followed by its check,
/// the first 16 bytes of `H(WalletRecord, table id, key, value)`, and the XOR of every
/// record's check (the store root) is kept under the key `00`, updated in each commit
/// (from the checks of the records it replaces, which the database hands back, so a commit
/// reads nothing extra). Every open, read-only or not, verifies every record's check and
/// the root over the whole file; after that a read only strips the check: the process
/// holds the file (the database's lock), so it reads back only records the open verified
/// or that it wrote itself. (Verifying again on every read cost a tenth of a transfer.) A damaged
/// value or key fails its record's check; a record the database lost or gained (a damaged
/// page) fails the root. Either is [`StoreError::Damaged`], never data that silently
/// changed. The checks catch damage, not an attacker who can write the file (anyone can
/// recompute them): that local attacker is out of scope.
pub struct RedbStore {
    db: Db,
}

/// The key of the store record: the magic, the format and the store root.
const STORE_KEY: [u8; 1] = [0];
/// `STORE_MAGIC ‖ root (16)`.
const STORE_MAGIC: &[u8; 6] = b"DSMW\x00\x02";
/// Bytes of each record's check, and of the store root.
const CHECK_LEN: usize = 16;
/// A record's check, or the store root (the XOR of every check).
type Check = [u8; CHECK_LEN];

/// A record's check: the first [`CHECK_LEN`] bytes of its digest.
fn record_check(prefixed_key: &[u8], value: &[u8]) -> Check {
    use dsm_core::hash::tagged_hash;
    use dsm_core::tags::Tag;
    let d = tagged_hash(
        Tag::WalletRecord,
        &[&prefixed_key[..1], &prefixed_key[1..], value],
    );
    let mut c = [0u8; CHECK_LEN];
    c.copy_from_slice(&d.as_bytes()[..CHECK_LEN]);
    c
}

/// The value with its check appended.
fn sealed_record(prefixed_key: &[u8], value: &[u8]) -> (Vec<u8>, Check) {
    let c = record_check(prefixed_key, value);
    let mut v = Vec::with_capacity(value.len() + CHECK_LEN);
    v.extend_from_slice(value);
    v.extend_from_slice(&c);
    (v, c)
}

/// A stored record's value without its check (verified when the store was opened).
fn stripped(stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    stored
        .len()
        .checked_sub(CHECK_LEN)
        .map(|n| stored[..n].to_vec())
        .ok_or_else(|| StoreError::Damaged("a record is shorter than its check".into()))
}

/// The check a stored record carries (its last bytes), unverified: what leaves the root
/// when the record is replaced. A damaged check leaves the root wrong, which the next
/// open reports.
fn stored_check(stored: &[u8]) -> Check {
    let mut c = [0u8; CHECK_LEN];
    if let Some(tail) = stored.len().checked_sub(CHECK_LEN).map(|i| &stored[i..]) {
        c.copy_from_slice(tail);
    }
    c
}

/// The value of a stored record after verifying its check, and the check.
fn opened_record(prefixed_key: &[u8], stored: &[u8]) -> Result<(Vec<u8>, Check), StoreError> {
    let damaged = || {
        StoreError::Damaged(format!(
            "a record of table {} fails its check",
            prefixed_key.first().copied().unwrap_or(0)
        ))
    };
    let split = stored.len().checked_sub(CHECK_LEN).ok_or_else(damaged)?;
    let (value, check) = stored.split_at(split);
    let c = record_check(prefixed_key, value);
    if c != *check {
        return Err(damaged());
    }
    Ok((value.to_vec(), c))
}

fn xor_into(root: &mut Check, c: &Check) {
    for (r, x) in root.iter_mut().zip(c) {
        *r ^= x;
    }
}

/// The store root a store record holds, or why it is not one.
fn parse_store_record(v: &[u8]) -> Result<Check, StoreError> {
    match v.strip_prefix(STORE_MAGIC.as_slice()) {
        Some(root) => root
            .try_into()
            .map_err(|_| StoreError::Damaged("the store record is malformed".into())),
        None => Err(StoreError::Damaged(
            "the store record is damaged or of an unknown format".into(),
        )),
    }
}

fn store_record(root: &Check) -> Vec<u8> {
    [STORE_MAGIC.as_slice(), root.as_slice()].concat()
}

/// The database, opened for writing or only for reading.
enum Db {
    Write(redb::Database),
    Read(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Db::Write(d) => d.begin_read(),
            Db::Read(d) => d.begin_read(),
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    // redb reports a file it cannot make sense of as corrupted; a file too short to hold
    // its own header ends reads early.
    let lower = text.to_ascii_lowercase();
    if lower.contains("corrupt") || lower.contains("failed to fill whole buffer") {
        StoreError::Damaged(text)
    } else {
        StoreError::Backend(text)
    }
}

const TREE: redb::TableDefinition<'static, &'static [u8], &'static [u8]> =
    redb::TableDefinition::new("wallet");

fn prefixed(t: Table, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(t.id());
    k.extend_from_slice(key);
    k
}

impl RedbStore {
    /// Opens (creating if missing) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        guarded(|| Self::open_unguarded(path))
    }

    /// Opens an existing wallet file for reading only: nothing is ever written to it (a
    /// commit fails), so a read-only command, or one that fails, leaves the file byte for
    /// byte as it was.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(StoreError::Damaged(
                "the file is empty: a `dsm init` was interrupted before it wrote anything; \
                 run `dsm init` again"
                    .into(),
            ));
        }
        guarded(|| {
            let store = match redb::ReadOnlyDatabase::open(path) {
                Ok(db) => RedbStore { db: Db::Read(db) },
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::InUse),
                Err(redb::DatabaseError::RepairAborted) => return Err(StoreError::NeedsRepair),
                Err(e) => return Err(backend(e)),
            };
            match store.verify_root()? {
                true => Ok(store),
                false => Err(StoreError::NeedsUpgrade),
            }
        })
    }

    /// Recomputes the store root over every record (checking each) and compares it with
    /// the stored one. `Ok(false)`: the file predates record checks.
    fn verify_root(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = match txn.open_table(TREE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::Damaged("the file holds no wallet table".into()))
            }
            Err(e) => return Err(backend(e)),
        };
        let Some(stored) = t.get(STORE_KEY.as_slice()).map_err(backend)? else {
            return Ok(false);
        };
        let stored = parse_store_record(stored.value())?;
        let mut root = [0u8; CHECK_LEN];
        for item in t.range::<&[u8]>([1u8].as_slice()..).map_err(backend)? {
            let (k, v) = item.map_err(backend)?;
            let (_, d) = opened_record(k.value(), v.value())?;
            xor_into(&mut root, &d);
        }
        if root != stored {
            return Err(StoreError::Damaged(
                "the store root does not match its records: a record was lost or added".into(),
            ));
        }
        Ok(true)
    }

    fn open_unguarded(path: &Path) -> Result<Self, StoreError> {
        let db = match redb::Database::create(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::InUse),
            Err(e) => return Err(backend(e)),
        };
        // Only a new file gets its table: opening an existing wallet writes nothing (a read
        // or a failed open must never change the file).
        let exists = {
            let txn = db.begin_read().map_err(backend)?;
            match txn.open_table(TREE) {
                Ok(_) => true,
                Err(redb::TableError::TableDoesNotExist(_)) => false,
                Err(e) => return Err(backend(e)),
            }
        };
        if !exists {
            let txn = db.begin_write().map_err(backend)?;
            txn.open_table(TREE)
                .map_err(backend)?
                .insert(
                    STORE_KEY.as_slice(),
                    store_record(&[0; CHECK_LEN]).as_slice(),
                )
                .map_err(backend)?;
            txn.commit().map_err(backend)?;
        }
        let store = RedbStore { db: Db::Write(db) };
        if !store.verify_root()? {
            store.upgrade()?;
        }
        Ok(store)
    }

    /// Rewrites every record of a file that predates record checks with its check, and
    /// adds the store root: one transaction, so a crash leaves the old file.
    fn upgrade(&self) -> Result<(), StoreError> {
        let Db::Write(db) = &self.db else {
            return Err(StoreError::NeedsUpgrade);
        };
        let txn = db.begin_write().map_err(backend)?;
        {
            let mut t = txn.open_table(TREE).map_err(backend)?;
            let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for item in t.range::<&[u8]>([1u8].as_slice()..).map_err(backend)? {
                let (k, v) = item.map_err(backend)?;
                records.push((k.value().to_vec(), v.value().to_vec()));
            }
            let mut root = [0u8; CHECK_LEN];
            for (k, v) in records {
                let (sealed, d) = sealed_record(&k, &v);
                xor_into(&mut root, &d);
                t.insert(k.as_slice(), sealed.as_slice()).map_err(backend)?;
            }
            t.insert(STORE_KEY.as_slice(), store_record(&root).as_slice())
                .map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }

    fn range(&self, table: Table, newest_first: bool, n: usize) -> Result<Vec<Entry>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = txn.open_table(TREE).map_err(backend)?;
        let (lo, hi) = ([table.id()], [table.id() + 1]);
        let range = t
            .range::<&[u8]>(lo.as_slice()..hi.as_slice())
            .map_err(backend)?;
        let items: Box<dyn Iterator<Item = _>> = if newest_first {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        for item in items.take(n) {
            let (k, v) = item.map_err(backend)?;
            out.push((k.value()[1..].to_vec(), stripped(v.value())?));
        }
        Ok(out)
    }
}

impl Store for RedbStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        guarded(|| {
            let txn = self.db.begin_read().map_err(backend)?;
            let t = txn.open_table(TREE).map_err(backend)?;
            let k = prefixed(table, key);
            match t.get(k.as_slice()).map_err(backend)? {
                Some(v) => Ok(Some(stripped(v.value())?)),
                None => Ok(None),
            }
        })
    }
    fn scan(&self, table: Table) -> Result<Vec<Entry>, StoreError> {
        guarded(|| self.range(table, false, usize::MAX))
    }
    fn last(&self, table: Table, n: usize) -> Result<Vec<Entry>, StoreError> {
        guarded(|| self.range(table, true, n))
    }
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        guarded(|| self.commit_unguarded(batch))
    }
    fn root(&self) -> Result<Option<[u8; 16]>, StoreError> {
        guarded(|| {
            let txn = self.db.begin_read().map_err(backend)?;
            let t = txn.open_table(TREE).map_err(backend)?;
            match t.get(STORE_KEY.as_slice()).map_err(backend)? {
                Some(v) => Ok(Some(parse_store_record(v.value())?)),
                None => Ok(None),
            }
        })
    }
}

impl RedbStore {
    fn commit_unguarded(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let Db::Write(db) = &self.db else {
            return Err(StoreError::Backend(
                "the wallet was opened for reading only; this command must not write".into(),
            ));
        };
        let mut txn = db.begin_write().map_err(backend)?;
        if batch.deferred {
            txn.set_durability(redb::Durability::None)
                .map_err(backend)?;
        }
        {
            let mut t = txn.open_table(TREE).map_err(backend)?;
            let mut root = match t.get(STORE_KEY.as_slice()).map_err(backend)? {
                Some(v) => parse_store_record(v.value())?,
                None => return Err(StoreError::NeedsUpgrade),
            };
            for (table, key, value) in &batch.ops {
                let k = prefixed(*table, key);
                // The replaced record's check leaves the root; the database hands the old
                // value back, so this costs no extra read.
                let old = match value {
                    Some(v) => {
                        let (sealed, c) = sealed_record(&k, v);
                        xor_into(&mut root, &c);
                        t.insert(k.as_slice(), sealed.as_slice())
                            .map_err(backend)?
                            .map(|old| stored_check(old.value()))
                    }
                    None => t
                        .remove(k.as_slice())
                        .map_err(backend)?
                        .map(|old| stored_check(old.value())),
                };
                if let Some(c) = old {
                    xor_into(&mut root, &c);
                }
            }
            t.insert(STORE_KEY.as_slice(), store_record(&root).as_slice())
                .map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }
}

/// When a [`CrashingStore`] crashes, relative to the chosen write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The write never reaches the disk.
    BeforeWrite,
    /// The write is durable, but the process dies before it learns so.
    AfterWrite,
}

/// Wraps a store and simulates a crash at write number `at` (counting from 0): that commit
/// and every later one fail with [`StoreError::Crashed`]. Reopen a wallet on the inner
/// store to model the restart.
pub struct CrashingStore<S: Store> {
    inner: S,
    at: usize,
    point: CrashPoint,
    writes: usize,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S: Store> CrashingStore<S> {
    /// Crashes at write `at`, at `point`.
    pub fn new(inner: S, at: usize, point: CrashPoint) -> Self {
        CrashingStore {
            inner,
            at,
            point,
            writes: 0,
            fired: Default::default(),
        }
    }
    /// True once the crash happened.
    pub fn crashed(&self) -> bool {
        self.writes > self.at
    }
    /// A flag that turns true when the crash happens, readable after the store was moved
    /// into a wallet (so a test knows its crash really landed, and where the writes end).
    pub fn crash_signal(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.fired.clone()
    }
}

impl<S: Store> Store for CrashingStore<S> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if self.crashed() {
            return Err(StoreError::Crashed);
        }
        self.inner.get(table, key)
    }
    fn scan(&self, table: Table) -> Result<Vec<Entry>, StoreError> {
        if self.crashed() {
            return Err(StoreError::Crashed);
        }
        self.inner.scan(table)
    }
    fn last(&self, table: Table, n: usize) -> Result<Vec<Entry>, StoreError> {
        if self.crashed() {
            return Err(StoreError::Crashed);
        }
        self.inner.last(table, n)
    }
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let n = self.writes;
        self.writes += 1;
        if n < self.at {
            return self.inner.commit(batch);
        }
        if n == self.at && self.point == CrashPoint::AfterWrite {
            self.inner.commit(batch)?;
        }
        self.fired.store(true, std::sync::atomic::Ordering::SeqCst);
        Err(StoreError::Crashed)
    }
}
