//! The PostgreSQL backend, for operators who run a fleet of stateless node processes on one
//! PostgreSQL-compatible database. Same semantics as [`crate::store::EmbeddedStore`]; the
//! conformance tests run against both.

use crate::store::{Appended, Id, NodeStore, PutObject, PutSlot, Quotas, StoreError};
use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

/// Schema migrations, applied in order, each once (recorded in `dsm_schema_version`).
const MIGRATIONS: &[&str] = &["
    CREATE TABLE dsm_objects (addr BYTEA PRIMARY KEY, bytes BYTEA NOT NULL);
    CREATE TABLE dsm_slots (device BYTEA NOT NULL, parent BYTEA NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (device, parent));
    CREATE TABLE dsm_b0x (recipient BYTEA NOT NULL, seq BIGINT NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (recipient, seq));
    CREATE TABLE dsm_b0x_next (recipient BYTEA PRIMARY KEY, next BIGINT NOT NULL);
    CREATE TABLE dsm_evidence (seq BIGSERIAL PRIMARY KEY, device BYTEA NOT NULL UNIQUE, bytes BYTEA NOT NULL);
", "
    CREATE TABLE dsm_entropy (ceremony BYTEA PRIMARY KEY, secret BYTEA NOT NULL);
", "
    CREATE TABLE dsm_owned_slots (device BYTEA NOT NULL, parent BYTEA NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (device, parent));
", "
    DROP TABLE dsm_slots;
    CREATE TABLE dsm_lists (topic BYTEA NOT NULL, key BYTEA NOT NULL, seq BIGINT NOT NULL, digest BYTEA NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (topic, key, seq), UNIQUE (topic, key, digest));
    CREATE TABLE dsm_list_next (topic BYTEA NOT NULL, key BYTEA NOT NULL, next BIGINT NOT NULL, PRIMARY KEY (topic, key));
", "
    ALTER TABLE dsm_b0x ADD COLUMN poster BYTEA NOT NULL DEFAULT ''::bytea;
", "
    ALTER TABLE dsm_evidence DROP CONSTRAINT dsm_evidence_device_key;
    ALTER TABLE dsm_evidence ADD COLUMN digest BYTEA;
    UPDATE dsm_evidence SET digest = sha256(bytes);
    ALTER TABLE dsm_evidence ALTER COLUMN digest SET NOT NULL;
    ALTER TABLE dsm_evidence ADD CONSTRAINT dsm_evidence_device_digest UNIQUE (device, digest);
"];

/// Rows `(seq, bytes)` of `table` where `filter` holds and seq > `$after`, in order: at
/// most `$limit`, none past the one that brings their size over `$max`. The cap is applied
/// by the database, so a listing of large items is never read whole.
fn read_after_sql(table: &str, filter: &str, after: &str, limit: &str, max: &str) -> String {
    format!(
        "SELECT seq, bytes FROM (SELECT seq, bytes, sum(length(bytes)) OVER (ORDER BY seq) - length(bytes) AS before FROM (SELECT seq, bytes FROM {table} WHERE {filter} AND seq > {after} ORDER BY seq LIMIT {limit}) page) t WHERE before < {max} ORDER BY seq"
    )
}

fn rows_after(rows: &[postgres::Row]) -> Vec<(u64, Vec<u8>)> {
    rows.iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
        .collect()
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A request for one connection thread: the connection, or why there is none now.
type Job = Box<dyn FnOnce(Result<&mut Client, StoreError>) + Send>;

/// A small pool of connections to one PostgreSQL database. Each connection lives on its own
/// plain OS thread: the `postgres` client drives its own runtime, which must not run inside
/// the node's tokio threads. A connection that died (the database restarted, the network
/// dropped it) is opened again before the next request, so the node recovers by itself; the
/// request that met the dead connection fails (503), and so does any request while the
/// database stays unreachable.
pub struct PostgresStore {
    pool: Vec<Mutex<mpsc::Sender<Job>>>,
    next: AtomicUsize,
}

impl PostgresStore {
    /// Connects `connections` times to `url` (e.g. `host=127.0.0.1 port=5432 user=dsm
    /// dbname=dsm` or `postgres://…`) and applies pending migrations.
    pub fn connect(url: &str, connections: usize) -> Result<Self, StoreError> {
        let mut pool = Vec::new();
        for i in 0..connections.max(1) {
            let (ready_tx, ready_rx) = mpsc::channel::<Result<(), StoreError>>();
            let (job_tx, job_rx) = mpsc::channel::<Job>();
            let url = url.to_string();
            std::thread::Builder::new()
                .name(format!("dsm-pg-{i}"))
                .spawn(move || {
                    let connect = || {
                        Client::connect(&url, NoTls).map_err(|e| {
                            StoreError::Backend(format!(
                                "cannot connect to PostgreSQL at {url:?}: {e}"
                            ))
                        })
                    };
                    let mut client = match connect() {
                        Ok(c) => {
                            let _ = ready_tx.send(Ok(()));
                            Some(c)
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    // Ends when the store (every sender) is dropped.
                    while let Ok(job) = job_rx.recv() {
                        if client.as_ref().is_none_or(Client::is_closed) {
                            client = None;
                            match connect() {
                                Ok(c) => client = Some(c),
                                Err(e) => {
                                    job(Err(e));
                                    continue;
                                }
                            }
                        }
                        match client.as_mut() {
                            Some(c) => job(Ok(c)),
                            None => job(Err(StoreError::Backend("no connection".into()))),
                        }
                    }
                })
                .map_err(backend)?;
            ready_rx.recv().map_err(backend)??;
            pool.push(Mutex::new(job_tx));
        }
        let store = PostgresStore {
            pool,
            next: AtomicUsize::new(0),
        };
        store.migrate()?;
        Ok(store)
    }

    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |c: Result<&mut Client, StoreError>| {
            let _ = tx.send(c.and_then(f));
        });
        self.pool[i]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| StoreError::Backend("the PostgreSQL connection thread stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Backend("the PostgreSQL connection thread stopped".into()))?
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            // One migrator at a time, even with many node processes starting together.
            tx.batch_execute("SELECT pg_advisory_xact_lock(7061012); CREATE TABLE IF NOT EXISTS dsm_schema_version (version INT NOT NULL)").map_err(backend)?;
            let done: i64 = tx.query_one("SELECT count(*) FROM dsm_schema_version", &[]).map_err(backend)?.get(0);
            for (i, m) in MIGRATIONS.iter().enumerate().skip(done as usize) {
                tx.batch_execute(m).map_err(backend)?;
                tx.execute("INSERT INTO dsm_schema_version VALUES ($1)", &[&(i as i32 + 1)]).map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
    }

    /// Drops every DSM table (tests only: gives each test run a clean database).
    pub fn reset(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.batch_execute("DROP TABLE IF EXISTS dsm_objects, dsm_slots, dsm_lists, dsm_list_next, dsm_b0x, dsm_b0x_next, dsm_evidence, dsm_entropy, dsm_owned_slots, dsm_schema_version").map_err(backend)
        })?;
        self.migrate()
    }
}

impl NodeStore for PostgresStore {
    fn get_object(&self, addr: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        let addr = *addr;
        self.with(move |c| {
            Ok(c.query_opt(
                "SELECT bytes FROM dsm_objects WHERE addr = $1",
                &[&addr.as_slice()],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
        })
    }

    fn put_object(&self, addr: &Id, bytes: &[u8]) -> Result<PutObject, StoreError> {
        let addr = *addr;
        let bytes = bytes.to_vec();
        self.with(move |c| {
            let n = c
                .execute(
                    "INSERT INTO dsm_objects VALUES ($1, $2) ON CONFLICT (addr) DO NOTHING",
                    &[&addr.as_slice(), &bytes],
                )
                .map_err(backend)?;
            Ok(if n == 1 {
                PutObject::Created
            } else {
                PutObject::Exists
            })
        })
    }

    fn entropy_secret(&self, ceremony: &Id, fresh: &[u8; 32]) -> Result<[u8; 32], StoreError> {
        let ceremony = *ceremony;
        let fresh = *fresh;
        self.with(move |c| {
            // Insert-if-absent, then read: every node process on this database returns the
            // one secret that won.
            c.execute(
                "INSERT INTO dsm_entropy VALUES ($1, $2) ON CONFLICT (ceremony) DO NOTHING",
                &[&ceremony.as_slice(), &fresh.as_slice()],
            )
            .map_err(backend)?;
            let v: Vec<u8> = c
                .query_one(
                    "SELECT secret FROM dsm_entropy WHERE ceremony = $1",
                    &[&ceremony.as_slice()],
                )
                .map_err(backend)?
                .get(0);
            v.try_into()
                .map_err(|_| StoreError::Backend("a stored entropy secret is not 32 bytes".into()))
        })
    }

    fn entropy_reveal(&self, ceremony: &Id) -> Result<Option<[u8; 32]>, StoreError> {
        let ceremony = *ceremony;
        self.with(move |c| {
            Ok(c.query_opt(
                "SELECT secret FROM dsm_entropy WHERE ceremony = $1",
                &[&ceremony.as_slice()],
            )
            .map_err(backend)?
            .and_then(|r| <[u8; 32]>::try_from(r.get::<_, Vec<u8>>(0)).ok()))
        })
    }

    fn get_slot(&self, owner: &Id, key: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        let (owner, key) = (*owner, *key);
        self.with(move |c| {
            Ok(c.query_opt(
                "SELECT bytes FROM dsm_owned_slots WHERE device = $1 AND parent = $2",
                &[&owner.as_slice(), &key.as_slice()],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
        })
    }

    fn put_slot(&self, owner: &Id, key: &Id, bytes: &[u8]) -> Result<PutSlot, StoreError> {
        let (owner, key) = (*owner, *key);
        let bytes = bytes.to_vec();
        self.with(move |c| {
            // The primary key makes the insert the single point of decision: exactly one
            // writer inserts, across every node process on this database.
            let n = c.execute("INSERT INTO dsm_owned_slots VALUES ($1, $2, $3) ON CONFLICT (device, parent) DO NOTHING", &[&owner.as_slice(), &key.as_slice(), &bytes]).map_err(backend)?;
            if n == 1 {
                return Ok(PutSlot::Created);
            }
            let existing: Vec<u8> = c.query_one("SELECT bytes FROM dsm_owned_slots WHERE device = $1 AND parent = $2", &[&owner.as_slice(), &key.as_slice()]).map_err(backend)?.get(0);
            Ok(if existing == bytes { PutSlot::Same } else { PutSlot::Conflict(existing) })
        })
    }

    fn list_append(&self, topic: &Id, key: &Id, bytes: &[u8]) -> Result<Appended, StoreError> {
        let (topic, key) = (*topic, *key);
        let digest = crate::api::object_address(bytes);
        let bytes = bytes.to_vec();
        self.with(move |c| {
            let mut tx = c.transaction().map_err(backend)?;
            // The upsert locks the list's counter row: appends to one list serialise across
            // every node process on this database.
            let seq: i64 = tx
                .query_one("INSERT INTO dsm_list_next VALUES ($1, $2, 2) ON CONFLICT (topic, key) DO UPDATE SET next = dsm_list_next.next + 1 RETURNING next - 1", &[&topic.as_slice(), &key.as_slice()])
                .map_err(backend)?
                .get(0);
            if let Some(row) = tx
                .query_opt("SELECT seq FROM dsm_lists WHERE topic = $1 AND key = $2 AND digest = $3", &[&topic.as_slice(), &key.as_slice(), &digest.as_slice()])
                .map_err(backend)?
            {
                tx.rollback().map_err(backend)?;
                return Ok(Appended { seq: row.get::<_, i64>(0) as u64, created: false });
            }
            tx.execute("INSERT INTO dsm_lists VALUES ($1, $2, $3, $4, $5)", &[&topic.as_slice(), &key.as_slice(), &seq, &digest.as_slice(), &bytes]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(Appended { seq: seq as u64, created: true })
        })
    }

    fn list_read(
        &self,
        topic: &Id,
        key: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let (topic, key) = (*topic, *key);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        self.with(move |c| {
            let sql = read_after_sql("dsm_lists", "topic = $1 AND key = $2", "$3", "$4", "$5");
            let rows = c
                .query(
                    &sql,
                    &[
                        &topic.as_slice(),
                        &key.as_slice(),
                        &after,
                        &(limit as i64),
                        &max,
                    ],
                )
                .map_err(backend)?;
            Ok(rows_after(&rows))
        })
    }

    fn b0x_append(
        &self,
        recipient: &Id,
        bytes: &[u8],
        poster: &[u8],
        quotas: &Quotas,
    ) -> Result<u64, StoreError> {
        let recipient = *recipient;
        let bytes = bytes.to_vec();
        let poster = poster.to_vec();
        let quotas = *quotas;
        self.with(move |c| {
            let mut tx = c.transaction().map_err(backend)?;
            // The upsert locks the recipient's counter row: appends to one b0x serialise.
            let seq: i64 = tx
                .query_one("INSERT INTO dsm_b0x_next VALUES ($1, 2) ON CONFLICT (recipient) DO UPDATE SET next = dsm_b0x_next.next + 1 RETURNING next - 1", &[&recipient.as_slice()])
                .map_err(backend)?
                .get(0);
            // The same item again (a retry after a lost answer): its number, nothing stored.
            if let Some(row) = tx
                .query_opt("SELECT seq FROM dsm_b0x WHERE recipient = $1 AND bytes = $2 ORDER BY seq LIMIT 1", &[&recipient.as_slice(), &bytes])
                .map_err(backend)?
            {
                tx.rollback().map_err(backend)?;
                return Ok(row.get::<_, i64>(0) as u64);
            }
            let waiting: i64 = tx.query_one("SELECT count(*) FROM dsm_b0x WHERE recipient = $1", &[&recipient.as_slice()]).map_err(backend)?.get(0);
            if waiting as u64 >= quotas.b0x_items {
                // Fair share (as the embedded store): the poster holding the most waiting
                // items (ties: the larger poster bytes) gives up its newest, if it holds more
                // than this one would after posting.
                let mine: i64 = tx.query_one("SELECT count(*) FROM dsm_b0x WHERE recipient = $1 AND poster = $2", &[&recipient.as_slice(), &poster]).map_err(backend)?.get(0);
                let top = tx
                    .query_opt("SELECT count(*) AS n, max(seq) FROM dsm_b0x WHERE recipient = $1 GROUP BY poster ORDER BY n DESC, poster DESC LIMIT 1", &[&recipient.as_slice()])
                    .map_err(backend)?;
                match top {
                    Some(row) if row.get::<_, i64>(0) > mine + 1 => {
                        let newest: i64 = row.get(1);
                        tx.execute("DELETE FROM dsm_b0x WHERE recipient = $1 AND seq = $2", &[&recipient.as_slice(), &newest]).map_err(backend)?;
                    }
                    _ => {
                        tx.rollback().map_err(backend)?;
                        return Err(StoreError::Quota("this b0x holds the maximum number of items and this client holds its fair share; the recipient must acknowledge some first"));
                    }
                }
            }
            tx.execute("INSERT INTO dsm_b0x (recipient, seq, bytes, poster) VALUES ($1, $2, $3, $4)", &[&recipient.as_slice(), &seq, &bytes, &poster]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(seq as u64)
        })
    }

    fn b0x_list(
        &self,
        recipient: &Id,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let recipient = *recipient;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        self.with(move |c| {
            let sql = read_after_sql("dsm_b0x", "recipient = $1", "$2", "$3", "$4");
            let rows = c
                .query(
                    &sql,
                    &[&recipient.as_slice(), &after, &(limit as i64), &max],
                )
                .map_err(backend)?;
            Ok(rows_after(&rows))
        })
    }

    fn b0x_list_many(
        &self,
        entries: &[(Id, u64)],
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(usize, u64, Vec<u8>)>, StoreError> {
        // One query for every address of the read (ordinality numbers the entries from 1).
        let recipients: Vec<Vec<u8>> = entries.iter().map(|(r, _)| r.to_vec()).collect();
        let afters: Vec<i64> = entries
            .iter()
            .map(|(_, a)| i64::try_from(*a).unwrap_or(i64::MAX))
            .collect();
        let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        self.with(move |c| {
            let rows = c
                .query(
                    "SELECT i, seq, bytes FROM (SELECT i, seq, bytes, sum(length(bytes)) OVER \
                     (ORDER BY i, seq) - length(bytes) AS before FROM (SELECT e.i, b.seq, \
                     b.bytes FROM unnest($1::bytea[], $2::int8[]) WITH ORDINALITY AS \
                     e(r, after, i) JOIN dsm_b0x b ON b.recipient = e.r AND b.seq > e.after \
                     ORDER BY e.i, b.seq LIMIT $3) page) t WHERE before < $4 ORDER BY i, seq",
                    &[&recipients, &afters, &(limit as i64), &max],
                )
                .map_err(backend)?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        (r.get::<_, i64>(0) - 1) as usize,
                        r.get::<_, i64>(1) as u64,
                        r.get(2),
                    )
                })
                .collect())
        })
    }

    fn b0x_ack(&self, recipient: &Id, upto: u64) -> Result<u64, StoreError> {
        let recipient = *recipient;
        let upto = i64::try_from(upto).unwrap_or(i64::MAX);
        self.with(move |c| {
            c.execute(
                "DELETE FROM dsm_b0x WHERE recipient = $1 AND seq <= $2",
                &[&recipient.as_slice(), &upto],
            )
            .map_err(backend)
        })
    }

    fn put_evidence(&self, device: &Id, bytes: &[u8]) -> Result<bool, StoreError> {
        let device = *device;
        let bytes = bytes.to_vec();
        self.with(move |c| Ok(c.execute("INSERT INTO dsm_evidence (device, bytes, digest) VALUES ($1, $2, sha256($2)) ON CONFLICT (device, digest) DO NOTHING", &[&device.as_slice(), &bytes]).map_err(backend)? == 1))
    }

    fn list_evidence(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Id, Vec<u8>)>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.with(move |c| {
            let rows = c.query("SELECT seq, device, bytes FROM dsm_evidence WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &(limit as i64)]).map_err(backend)?;
            rows.iter()
                .map(|r| {
                    let d: Vec<u8> = r.get(1);
                    let device: Id = d.as_slice().try_into().map_err(|_| StoreError::Backend("a stored device id is not 32 bytes".into()))?;
                    Ok((r.get::<_, i64>(0) as u64, device, r.get(2)))
                })
                .collect()
        })
    }

    fn owner_known(&self, owner: &Id) -> Result<bool, StoreError> {
        let owner = *owner;
        self.with(move |c| {
            Ok(c.query_opt(
                "SELECT 1 FROM dsm_owned_slots WHERE device = $1 LIMIT 1",
                &[&owner.as_slice()],
            )
            .map_err(backend)?
            .is_some())
        })
    }

    fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        self.with(move |c| {
            let r = c
                .query_one("SELECT (SELECT count(*) FROM dsm_objects), (SELECT count(*) FROM dsm_owned_slots) + (SELECT count(*) FROM dsm_lists), (SELECT count(*) FROM dsm_b0x), (SELECT count(*) FROM dsm_evidence)", &[])
                .map_err(backend)?;
            Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64, r.get::<_, i64>(2) as u64, r.get::<_, i64>(3) as u64))
        })
    }

    fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.with(move |c| {
            let n: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])
                .map_err(backend)?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }
}
