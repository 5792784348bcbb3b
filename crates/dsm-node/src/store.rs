//! What a node keeps, behind one trait so the embedded store and PostgreSQL answer alike.
//! A node stores bytes and enforces addressing, sizes and quotas; it never parses or
//! judges what the bytes mean (PROTOCOL.md §15).

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::path::Path;
use thiserror::Error;

/// 32 bytes naming something: an object address, a device id, a head digest.
pub type Id = [u8; 32];

/// The result of writing an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutObject {
    /// Stored now.
    Created,
    /// Already stored (objects are immutable: same address, same bytes).
    Exists,
}

/// The result of writing an anchor slot (first writer wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutSlot {
    /// The slot was empty; these bytes are its value now.
    Created,
    /// The slot already holds exactly these bytes.
    Same,
    /// The slot holds other bytes (returned): together with the rejected ones, a client can
    /// build an equivocation proof.
    Conflict(Vec<u8>),
}

/// The result of appending to a candidate list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The entry's sequence number in the list (from 1).
    pub seq: u64,
    /// Stored now (`false`: the list already held these bytes, under `seq`).
    pub created: bool,
}

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// A per-key quota is exhausted.
    #[error("quota exceeded: {0}")]
    Quota(&'static str),
    /// The backend failed.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The request is not authorized (an owned-slot write whose check failed); never
    /// returned by a store.
    #[error("refused: {0}")]
    Refused(String),
}

/// Per-key quotas.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// Items waiting in one recipient's b0x.
    pub b0x_items: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { b0x_items: 1024 }
    }
}

/// A node's storage. Every method is one atomic operation.
pub trait NodeStore: Send + Sync + 'static {
    /// The object at `addr`.
    fn get_object(&self, addr: &Id) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores an object whose address the caller already re-derived.
    fn put_object(&self, addr: &Id, bytes: &[u8]) -> Result<PutObject, StoreError>;
    /// The value of owned slot (owner, key). The API writes a slot only after checking the
    /// writer's authorization (PROTOCOL.md §15.2).
    fn get_slot(&self, owner: &Id, key: &Id) -> Result<Option<Vec<u8>>, StoreError>;
    /// Put-if-absent on owned slot (owner, key).
    fn put_slot(&self, owner: &Id, key: &Id, bytes: &[u8]) -> Result<PutSlot, StoreError>;
    /// Appends `bytes` to candidate list (topic, key) (PROTOCOL.md §15.3) unless the list
    /// already holds the same bytes, so a retried append makes no second entry. Entries keep
    /// their order for good: a list is never rewritten or shortened.
    fn list_append(&self, topic: &Id, key: &Id, bytes: &[u8]) -> Result<Appended, StoreError>;
    /// Entries of list (topic, key) with sequence number > `after`, in order: at most
    /// `limit`, and none past the one that brings their total size over `max_bytes`.
    fn list_read(
        &self,
        topic: &Id,
        key: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Appends an item posted by client `poster` (an address or /64, as rationing keys it;
    /// PROTOCOL.md §15) to `recipient`'s b0x; returns its sequence number (from 1). The same
    /// bytes already waiting there are not stored again: their number is returned, so a
    /// client retrying a post whose answer it lost makes no duplicate. A full b0x makes room
    /// by fair share: the newest item of the poster holding the most waiting items goes,
    /// when that poster holds more than this one would after posting; otherwise the post is
    /// refused ([`StoreError::Quota`]). So no one client can fill a b0x against others.
    fn b0x_append(
        &self,
        recipient: &Id,
        bytes: &[u8],
        poster: &[u8],
        quotas: &Quotas,
    ) -> Result<u64, StoreError>;
    /// Items of `recipient`'s b0x with sequence number > `after`, in order: at most
    /// `limit`, and none past the one that brings their total size over `max_bytes`.
    fn b0x_list(
        &self,
        recipient: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// The items after each `(recipient, after)` of `entries`, entry by entry and by seq
    /// within each, with the entry's index: at most `limit` in all, none past the one that
    /// brings their size over `max_bytes` (one b0x read naming many addresses, PROTOCOL.md
    /// §16.1). The default asks [`NodeStore::b0x_list`] once per entry; a store whose every
    /// query is a round trip answers in one.
    fn b0x_list_many(
        &self,
        entries: &[(Id, u64)],
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(usize, u64, Vec<u8>)>, StoreError> {
        let (mut out, mut size) = (Vec::new(), 0usize);
        for (i, (recipient, after)) in entries.iter().enumerate() {
            if out.len() >= limit || size >= max_bytes {
                break;
            }
            for (seq, b) in self.b0x_list(recipient, *after, limit - out.len(), max_bytes - size)? {
                size += b.len();
                out.push((i, seq, b));
            }
        }
        Ok(out)
    }
    /// Removes items with sequence number ≤ `upto`; returns how many were removed.
    fn b0x_ack(&self, recipient: &Id, upto: u64) -> Result<u64, StoreError>;
    /// Stores evidence against `device`: every distinct proof is kept, once (anyone may
    /// publish, so a first writer must not block the rest: readers verify each and skip
    /// junk); returns true if these bytes are new for `device`.
    fn put_evidence(&self, device: &Id, bytes: &[u8]) -> Result<bool, StoreError>;
    /// Evidence with sequence number > `after`, at most `limit`: (seq, device, bytes).
    fn list_evidence(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Id, Vec<u8>)>, StoreError>;
    /// Genesis entropy: the node's secret contribution to `ceremony`. The first call stores
    /// `fresh` (drawn by the caller from the OS); every later call returns that stored secret,
    /// so a ceremony sees one contribution per node, never a choice among several.
    fn entropy_secret(&self, ceremony: &Id, fresh: &[u8; 32]) -> Result<[u8; 32], StoreError>;
    /// The stored secret for `ceremony`, if a contribution was made.
    fn entropy_reveal(&self, ceremony: &Id) -> Result<Option<[u8; 32]>, StoreError>;
    /// Whether the store holds any owned slot of `owner` (for the headroom of the storage
    /// budget: only owners known here may write in it).
    fn owner_known(&self, owner: &Id) -> Result<bool, StoreError>;
    /// Counts for the metrics endpoint: (objects, owned slots and list entries, b0x items,
    /// evidence).
    fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError>;
    /// The bytes the store takes on disk (for the node's storage budget). No default: a
    /// store that cannot tell must say so with an error, and then every write is refused.
    fn stored_bytes(&self) -> Result<u64, StoreError>;
}

type Def = redb::TableDefinition<'static, &'static [u8], &'static [u8]>;
const OBJECTS: Def = redb::TableDefinition::new("objects");
const OWNED: Def = redb::TableDefinition::new("owned_slots"); // owner ‖ key → put bytes
const LISTS: Def = redb::TableDefinition::new("lists"); // topic ‖ key ‖ seq (8, BE) → bytes
const LIST_INDEX: Def = redb::TableDefinition::new("list_index"); // topic ‖ key ‖ H(bytes) → seq
const B0X: Def = redb::TableDefinition::new("b0x"); // recipient ‖ seq (8, BE) → bytes
const B0X_NEXT: Def = redb::TableDefinition::new("b0x_next"); // recipient → next seq (8, BE)
const B0X_POSTER: Def = redb::TableDefinition::new("b0x_poster"); // recipient ‖ seq → poster
/// seq (8, BE) → device ‖ bytes.
const EVIDENCE: Def = redb::TableDefinition::new("evidence");
/// device ‖ H(ObjectAddress, bytes) → seq: every distinct proof per device, each once. (Until
/// 2026-12-05 "evidence_by_device" kept the first proof per device only, so junk put first
/// under a device blocked the real proof; that table is no longer read.)
const EVIDENCE_BY_PROOF: Def = redb::TableDefinition::new("evidence_by_proof");
const ENTROPY: Def = redb::TableDefinition::new("entropy"); // ceremony → secret (32)

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The embedded store: one redb file, fsynced on every write.
pub struct EmbeddedStore {
    db: redb::Database,
    path: std::path::PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating if missing) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = redb::Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        for t in [
            OBJECTS,
            OWNED,
            LISTS,
            LIST_INDEX,
            B0X,
            B0X_NEXT,
            B0X_POSTER,
            EVIDENCE,
            EVIDENCE_BY_PROOF,
            ENTROPY,
        ] {
            txn.open_table(t).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(EmbeddedStore {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The entries of `t` under `prefix ‖ u64be(seq)` with seq > `after`, in order: at most
    /// `limit`, none past the one that brings their size over `max_bytes`.
    fn read_after(
        &self,
        t: Def,
        prefix: &[u8],
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(t).map_err(backend)?;
        let lo = [prefix, &be(after.saturating_add(1))].concat();
        let hi = [prefix, &be(u64::MAX)].concat();
        let (mut out, mut size) = (Vec::new(), 0usize);
        for entry in table
            .range(lo.as_slice()..=hi.as_slice())
            .map_err(backend)?
            .take(limit)
        {
            if size >= max_bytes {
                break;
            }
            let (k, v) = entry.map_err(backend)?;
            size += v.value().len();
            out.push((read_u64(&k.value()[prefix.len()..]), v.value().to_vec()));
        }
        Ok(out)
    }

    fn get(&self, t: Def, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(t).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

impl NodeStore for EmbeddedStore {
    fn get_object(&self, addr: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(OBJECTS, addr)
    }

    fn put_object(&self, addr: &Id, bytes: &[u8]) -> Result<PutObject, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let created = {
            let mut t = txn.open_table(OBJECTS).map_err(backend)?;
            let exists = t.get(addr.as_slice()).map_err(backend)?.is_some();
            if !exists {
                t.insert(addr.as_slice(), bytes).map_err(backend)?;
            }
            !exists
        };
        txn.commit().map_err(backend)?;
        Ok(if created {
            PutObject::Created
        } else {
            PutObject::Exists
        })
    }

    fn get_slot(&self, owner: &Id, key: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(OWNED, &[owner.as_slice(), key.as_slice()].concat())
    }

    fn put_slot(&self, owner: &Id, key: &Id, bytes: &[u8]) -> Result<PutSlot, StoreError> {
        let key = [owner.as_slice(), key.as_slice()].concat();
        // redb serialises write transactions: the check and the insert are one atomic step.
        let txn = self.db.begin_write().map_err(backend)?;
        let outcome = {
            let mut t = txn.open_table(OWNED).map_err(backend)?;
            let existing = t
                .get(key.as_slice())
                .map_err(backend)?
                .map(|v| v.value().to_vec());
            match existing {
                Some(v) if v == bytes => PutSlot::Same,
                Some(v) => PutSlot::Conflict(v),
                None => {
                    t.insert(key.as_slice(), bytes).map_err(backend)?;
                    PutSlot::Created
                }
            }
        };
        if outcome == PutSlot::Created {
            txn.commit().map_err(backend)?;
        } else {
            txn.abort().map_err(backend)?;
        }
        Ok(outcome)
    }

    fn list_append(&self, topic: &Id, key: &Id, bytes: &[u8]) -> Result<Appended, StoreError> {
        let list = [topic.as_slice(), key.as_slice()].concat();
        let indexed = [
            list.as_slice(),
            dsm_core::hash::object_address(bytes).as_bytes(),
        ]
        .concat();
        let txn = self.db.begin_write().map_err(backend)?;
        let existing = {
            let index = txn.open_table(LIST_INDEX).map_err(backend)?;
            let seq = index.get(indexed.as_slice()).map_err(backend)?;
            seq.map(|v| read_u64(v.value()))
        };
        if let Some(seq) = existing {
            txn.abort().map_err(backend)?;
            return Ok(Appended {
                seq,
                created: false,
            });
        }
        let seq = {
            let mut index = txn.open_table(LIST_INDEX).map_err(backend)?;
            let mut entries = txn.open_table(LISTS).map_err(backend)?;
            let lo = [list.as_slice(), &be(0)].concat();
            let hi = [list.as_slice(), &be(u64::MAX)].concat();
            let seq = match entries
                .range(lo.as_slice()..=hi.as_slice())
                .map_err(backend)?
                .next_back()
            {
                Some(last) => read_u64(&last.map_err(backend)?.0.value()[64..]) + 1,
                None => 1,
            };
            entries
                .insert([list.as_slice(), &be(seq)].concat().as_slice(), bytes)
                .map_err(backend)?;
            index
                .insert(indexed.as_slice(), be(seq).as_slice())
                .map_err(backend)?;
            seq
        };
        txn.commit().map_err(backend)?;
        Ok(Appended { seq, created: true })
    }

    fn list_read(
        &self,
        topic: &Id,
        key: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let list = [topic.as_slice(), key.as_slice()].concat();
        self.read_after(LISTS, &list, after, limit, max_bytes)
    }

    fn b0x_append(
        &self,
        recipient: &Id,
        bytes: &[u8],
        poster: &[u8],
        quotas: &Quotas,
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let seq = {
            let mut posters = txn.open_table(B0X_POSTER).map_err(backend)?;
            let mut next = txn.open_table(B0X_NEXT).map_err(backend)?;
            let seq = next
                .get(recipient.as_slice())
                .map_err(backend)?
                .map(|v| read_u64(v.value()))
                .unwrap_or(1);
            let mut items = txn.open_table(B0X).map_err(backend)?;
            let lo = [recipient.as_slice(), &be(0)].concat();
            let hi = [recipient.as_slice(), &be(u64::MAX)].concat();
            let mut waiting = 0u64;
            for item in items
                .range(lo.as_slice()..=hi.as_slice())
                .map_err(backend)?
            {
                let (k, v) = item.map_err(backend)?;
                // The same item again (a retry after a lost answer): its number, nothing
                // stored.
                if v.value() == bytes {
                    let k = k.value();
                    return Ok(read_u64(&k[k.len() - 8..]));
                }
                waiting += 1;
            }
            if waiting >= quotas.b0x_items {
                // Fair share: count the waiting items per poster (items from before posters
                // were recorded count as one unknown poster).
                let mut held: std::collections::BTreeMap<Vec<u8>, (u64, Vec<u8>)> =
                    Default::default();
                for item in items
                    .range(lo.as_slice()..=hi.as_slice())
                    .map_err(backend)?
                {
                    let (k, _) = item.map_err(backend)?;
                    let k = k.value().to_vec();
                    let who = posters
                        .get(k.as_slice())
                        .map_err(backend)?
                        .map(|v| v.value().to_vec())
                        .unwrap_or_default();
                    let e = held.entry(who).or_default();
                    e.0 += 1;
                    e.1 = k; // keys ascend: the last is the newest
                }
                let mine = held.get(poster).map_or(0, |e| e.0);
                let top = held
                    .iter()
                    .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| a.0.cmp(b.0)));
                match top {
                    Some((_, (n, newest))) if *n > mine + 1 => {
                        let newest = newest.clone();
                        items.remove(newest.as_slice()).map_err(backend)?;
                        posters.remove(newest.as_slice()).map_err(backend)?;
                    }
                    _ => return Err(StoreError::Quota("this b0x holds the maximum number of items and this client holds its fair share; the recipient must acknowledge some first")),
                }
            }
            let key = [recipient.as_slice(), &be(seq)].concat();
            items.insert(key.as_slice(), bytes).map_err(backend)?;
            posters.insert(key.as_slice(), poster).map_err(backend)?;
            next.insert(recipient.as_slice(), be(seq + 1).as_slice())
                .map_err(backend)?;
            seq
        };
        txn.commit().map_err(backend)?;
        Ok(seq)
    }

    fn b0x_list(
        &self,
        recipient: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.read_after(B0X, recipient, after, limit, max_bytes)
    }

    fn b0x_ack(&self, recipient: &Id, upto: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let removed = {
            let mut items = txn.open_table(B0X).map_err(backend)?;
            let mut posters = txn.open_table(B0X_POSTER).map_err(backend)?;
            let lo = [recipient.as_slice(), &be(0)].concat();
            let hi = [recipient.as_slice(), &be(upto)].concat();
            let keys: Vec<Vec<u8>> = items
                .range(lo.as_slice()..=hi.as_slice())
                .map_err(backend)?
                .map(|i| i.map(|(k, _)| k.value().to_vec()))
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            for k in &keys {
                items.remove(k.as_slice()).map_err(backend)?;
                posters.remove(k.as_slice()).map_err(backend)?;
            }
            keys.len() as u64
        };
        txn.commit().map_err(backend)?;
        Ok(removed)
    }

    fn put_evidence(&self, device: &Id, bytes: &[u8]) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let new = {
            let mut by_proof = txn.open_table(EVIDENCE_BY_PROOF).map_err(backend)?;
            let index = [
                device.as_slice(),
                dsm_core::hash::object_address(bytes).as_bytes(),
            ]
            .concat();
            if by_proof.get(index.as_slice()).map_err(backend)?.is_some() {
                false
            } else {
                let mut ev = txn.open_table(EVIDENCE).map_err(backend)?;
                let seq = ev
                    .last()
                    .map_err(backend)?
                    .map(|(k, _)| read_u64(k.value()) + 1)
                    .unwrap_or(1);
                ev.insert(
                    be(seq).as_slice(),
                    [device.as_slice(), bytes].concat().as_slice(),
                )
                .map_err(backend)?;
                by_proof
                    .insert(index.as_slice(), be(seq).as_slice())
                    .map_err(backend)?;
                true
            }
        };
        txn.commit().map_err(backend)?;
        Ok(new)
    }

    fn list_evidence(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Id, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let ev = txn.open_table(EVIDENCE).map_err(backend)?;
        let lo = be(after.saturating_add(1));
        let mut out = Vec::new();
        for item in ev.range(lo.as_slice()..).map_err(backend)?.take(limit) {
            let (k, v) = item.map_err(backend)?;
            let v = v.value();
            let mut device = [0u8; 32];
            device.copy_from_slice(&v[..32]);
            out.push((read_u64(k.value()), device, v[32..].to_vec()));
        }
        Ok(out)
    }

    fn entropy_secret(&self, ceremony: &Id, fresh: &[u8; 32]) -> Result<[u8; 32], StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let (secret, created) = {
            let mut t = txn.open_table(ENTROPY).map_err(backend)?;
            let existing = t
                .get(ceremony.as_slice())
                .map_err(backend)?
                .and_then(|v| <[u8; 32]>::try_from(v.value()).ok());
            match existing {
                Some(s) => (s, false),
                None => {
                    t.insert(ceremony.as_slice(), fresh.as_slice())
                        .map_err(backend)?;
                    (*fresh, true)
                }
            }
        };
        if created {
            txn.commit().map_err(backend)?;
        } else {
            txn.abort().map_err(backend)?;
        }
        Ok(secret)
    }

    fn entropy_reveal(&self, ceremony: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self
            .get(ENTROPY, ceremony)?
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()))
    }

    fn owner_known(&self, owner: &Id) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = txn.open_table(OWNED).map_err(backend)?;
        let lo = [owner.as_slice(), &[0u8; 32]].concat();
        let hi = [owner.as_slice(), &[0xffu8; 32]].concat();
        let mut range = t.range(lo.as_slice()..=hi.as_slice()).map_err(backend)?;
        Ok(range.next().transpose().map_err(backend)?.is_some())
    }

    fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let n = |t: Def| -> Result<u64, StoreError> {
            txn.open_table(t).map_err(backend)?.len().map_err(backend)
        };
        Ok((n(OBJECTS)?, n(OWNED)? + n(LISTS)?, n(B0X)?, n(EVIDENCE)?))
    }

    fn stored_bytes(&self) -> Result<u64, StoreError> {
        Ok(std::fs::metadata(&self.path).map_err(backend)?.len())
    }
}
