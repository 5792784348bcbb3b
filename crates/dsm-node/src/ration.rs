//! Rationing strangers (PROTOCOL.md §15, "Rationing"): every client gets a token bucket of
//! requests and one of write bytes, checked when a request's head has arrived — before its
//! body is read and before any signature is verified — so a flood from one client costs
//! the node a map lookup per request, and its honest clients keep their own budgets.
//!
//! A client is an IPv4 address or an IPv6 /64 (one host usually holds a whole /64). Behind
//! a reverse proxy, the client is the last address the proxy appended to
//! `X-Forwarded-For`, and only when the connection comes from a `--trusted-proxy`: anyone
//! else could write any address there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What each client may do.
#[derive(Clone, Debug, PartialEq)]
pub struct RationLimits {
    /// Requests per second, sustained (0: no limit).
    pub requests_per_second: u32,
    /// Requests a client may make at once above the sustained rate.
    pub burst: u32,
    /// Request body bytes per minute, sustained (0: no limit); also the largest burst.
    pub write_bytes_per_minute: u64,
    /// Owned-slot write bytes per minute for one slot owner, from all clients together
    /// (0: no limit); also the largest burst. An owner is a key (or key list) anyone can
    /// mint, so this bounds what one key-holder writes however many addresses it uses;
    /// the per-client limits bound how many owners one address can feed.
    pub owner_write_bytes_per_minute: u64,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl RationLimits {
    /// No limits (tests and benchmarks that drive a node hard from one address).
    pub fn unlimited() -> RationLimits {
        RationLimits {
            requests_per_second: 0,
            burst: 0,
            write_bytes_per_minute: 0,
            owner_write_bytes_per_minute: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What `dsm node serve` ships with (its option defaults are these, so the two cannot
/// drift): enough for a busy wallet (a shop syncing hundreds of payments) from one
/// address, a bound on what any one address can make the node store, and on what one slot
/// owner can, per minute; a store of 16 GiB, 1 GiB of it for owned writes, 4 MiB of that
/// per slot owner.
pub mod shipped {
    /// Requests per second per client.
    pub const RATE: u32 = 200;
    /// Requests at once above the rate.
    pub const BURST: u32 = 400;
    /// Request body MiB per client per minute.
    pub const WRITE_MIB_PER_MINUTE: u64 = 64;
    /// Owned-slot MiB per slot owner per minute.
    pub const OWNER_WRITE_MIB_PER_MINUTE: u64 = 16;
    /// The store's size at most, MiB.
    pub const MAX_STORE_MIB: u64 = 16 * 1024;
    /// Its part for owned writes, MiB.
    pub const OWNED_HEADROOM_MIB: u64 = 1024;
    /// One owner's share of that part, MiB.
    pub const OWNER_HEADROOM_MIB: u64 = 4;
}

const MIB: u64 = 1024 * 1024;

impl Default for RationLimits {
    /// The shipped limits ([`shipped`]).
    fn default() -> Self {
        RationLimits {
            requests_per_second: shipped::RATE,
            burst: shipped::BURST,
            write_bytes_per_minute: shipped::WRITE_MIB_PER_MINUTE * MIB,
            owner_write_bytes_per_minute: shipped::OWNER_WRITE_MIB_PER_MINUTE * MIB,
            trusted_proxies: Vec::new(),
        }
    }
}

impl std::fmt::Display for RationLimits {
    /// The limits for people, e.g. in a load test's or a benchmark's output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = |n: u64, unit: &str| {
            if n == 0 {
                "no limit".to_string()
            } else {
                format!("{} MiB/{unit}", n / MIB)
            }
        };
        if self.requests_per_second == 0 {
            write!(f, "requests: no limit")?;
        } else {
            write!(
                f,
                "{} requests/s per client (burst {})",
                self.requests_per_second, self.burst
            )?;
        }
        write!(
            f,
            ", writes {} per client, owned writes {} per slot owner",
            per(self.write_bytes_per_minute, "min"),
            per(self.owner_write_bytes_per_minute, "min")
        )
    }
}

/// How much disk the node's store may take, and how much of it only owned (authenticated)
/// writes may use: a flood of keyless writes from many addresses fills the store up to
/// `max_bytes − owned_headroom` and stops there, so the writes honest devices sign for
/// their owned slots (anchors, parcels, resolutions…) still land. Keys are free, so the
/// headroom itself is only for slot owners the node already holds a slot of, each up to
/// `owner_headroom` bytes of it: a flood of fresh keys cannot take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreBudget {
    /// The store's size at most, in bytes (0: no budget).
    pub max_bytes: u64,
    /// The part of it kept for owned-slot writes.
    pub owned_headroom: u64,
    /// How much of the headroom one slot owner may take (0: no limit per owner, and any
    /// owner may write in the headroom).
    pub owner_headroom: u64,
}

/// Where a write falls in a [`StoreBudget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// Below the headroom: admitted.
    Free,
    /// An owned write inside the headroom: admitted for an owner the node holds a slot of,
    /// within its share ([`StoreBudget::owner_headroom`]).
    Headroom,
    /// Over the budget: refused.
    Full,
}

/// What a write puts in the store, for [`StoreBudget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// An object, a candidate-list entry, a b0x item, evidence: anyone may write it.
    Keyless,
    /// An owned slot: only a key its owner admits may write it.
    Owned,
}

impl Default for StoreBudget {
    /// The shipped budget ([`shipped`]).
    fn default() -> Self {
        StoreBudget {
            max_bytes: shipped::MAX_STORE_MIB * MIB,
            owned_headroom: shipped::OWNED_HEADROOM_MIB * MIB,
            owner_headroom: shipped::OWNER_HEADROOM_MIB * MIB,
        }
    }
}

impl StoreBudget {
    /// No budget.
    pub fn unlimited() -> StoreBudget {
        StoreBudget {
            max_bytes: 0,
            owned_headroom: 0,
            owner_headroom: 0,
        }
    }

    /// Whether a write of `body` bytes of `kind` would take a store of `stored` bytes over
    /// its budget.
    pub fn refuses(&self, stored: u64, body: u64, kind: WriteKind) -> bool {
        self.room(stored, body, kind) == Room::Full
    }

    /// Where a write of `body` bytes of `kind` into a store of `stored` bytes falls.
    pub fn room(&self, stored: u64, body: u64, kind: WriteKind) -> Room {
        if self.max_bytes == 0 {
            return Room::Free;
        }
        let after = stored.saturating_add(body);
        let shared = self.max_bytes.saturating_sub(self.owned_headroom);
        match kind {
            _ if after <= shared => Room::Free,
            WriteKind::Owned if after <= self.max_bytes => Room::Headroom,
            _ => Room::Full,
        }
    }
}

/// Why a request was refused (the node answers 429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rationed {
    /// Too many requests from this client.
    Rate,
    /// Too many body bytes from this client.
    Bytes,
    /// Too many owned-slot bytes for this slot owner.
    OwnerBytes,
}

impl Rationed {
    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Rationed::Rate => "too many requests from this address; slow down and retry",
            Rationed::Bytes => "this address wrote too many bytes in the last minute; retry later",
            Rationed::OwnerBytes => {
                "this slot owner was written too many bytes in the last minute; retry later"
            }
        }
    }
}

/// A client: an IPv4 address or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 address.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6([u8; 8]),
}

impl ClientKey {
    /// The client as a b0x poster is stored: the 4 address bytes, or the 8 bytes of the /64.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            ClientKey::V4(a) => a.to_vec(),
            ClientKey::V6(p) => p.to_vec(),
        }
    }

    /// The client an address belongs to (an IPv4-mapped IPv6 address is its IPv4).
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(a) => ClientKey::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.octets()),
                None => {
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&a.octets()[..8]);
                    ClientKey::V6(p)
                }
            },
        }
    }
}

struct Bucket {
    requests: f64,
    bytes: f64,
    last: Instant,
}

#[derive(Default)]
struct Buckets {
    map: HashMap<ClientKey, Bucket>,
    /// Owned-slot write bytes by slot owner: (bytes left, when last refilled).
    owners: HashMap<[u8; 32], (f64, Instant)>,
    /// When idle clients were last dropped (at most once a second, so a full table costs
    /// no more than a lookup per request).
    pruned: Option<Instant>,
}

/// The per-client buckets and what they refused.
pub struct Rationing {
    limits: RationLimits,
    buckets: Mutex<Buckets>,
    refused_rate: AtomicU64,
    refused_bytes: AtomicU64,
}

/// Clients tracked at most; past it, those idle long enough to be full again are dropped
/// (a full bucket is the same as no entry).
const MAX_TRACKED: usize = 100_000;

impl Rationing {
    /// Buckets for `limits`.
    pub fn new(limits: RationLimits) -> Rationing {
        Rationing {
            limits,
            buckets: Mutex::new(Buckets::default()),
            refused_rate: AtomicU64::new(0),
            refused_bytes: AtomicU64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &RationLimits {
        &self.limits
    }

    /// The client of a request that came from `peer` with this `X-Forwarded-For` value.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> ClientKey {
        if self.limits.trusted_proxies.contains(&peer) {
            // The proxy appends the address it saw last; anything before it the client
            // could have written.
            if let Some(ip) = forwarded_for
                .and_then(|v| v.rsplit(',').next())
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
            {
                return ClientKey::of(ip);
            }
        }
        ClientKey::of(peer)
    }

    /// Admits a request of `client` carrying `body_len` bytes (the node's body cap when the
    /// length is not declared) at `now`, or says why not. Nothing is taken from a bucket
    /// when the request is refused.
    pub fn admit(&self, client: ClientKey, body_len: u64, now: Instant) -> Result<(), Rationed> {
        let l = &self.limits;
        if l.requests_per_second == 0 && l.write_bytes_per_minute == 0 {
            return Ok(());
        }
        let burst = f64::from(l.burst.max(l.requests_per_second).max(1));
        let byte_cap = l.write_bytes_per_minute as f64;
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let buckets = &mut *guard;
        if buckets.map.len() >= MAX_TRACKED && !buckets.map.contains_key(&client) {
            if buckets
                .pruned
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
            {
                let full = Duration::from_secs(60);
                buckets
                    .map
                    .retain(|_, b| now.saturating_duration_since(b.last) < full);
                buckets.pruned = Some(now);
            }
            // Still full of active clients: a new one waits (fail closed) rather than
            // going unrationed.
            if buckets.map.len() >= MAX_TRACKED {
                self.refused_rate.fetch_add(1, Ordering::Relaxed);
                return Err(Rationed::Rate);
            }
        }
        let b = buckets.map.entry(client).or_insert(Bucket {
            requests: burst,
            bytes: byte_cap,
            last: now,
        });
        let dt = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
        b.requests = (b.requests + dt * f64::from(l.requests_per_second)).min(burst);
        b.bytes = (b.bytes + dt * byte_cap / 60.0).min(byte_cap);
        if l.requests_per_second > 0 && b.requests < 1.0 {
            self.refused_rate.fetch_add(1, Ordering::Relaxed);
            return Err(Rationed::Rate);
        }
        if l.write_bytes_per_minute > 0 && b.bytes < body_len as f64 {
            self.refused_bytes.fetch_add(1, Ordering::Relaxed);
            return Err(Rationed::Bytes);
        }
        if l.requests_per_second > 0 {
            b.requests -= 1.0;
        }
        if l.write_bytes_per_minute > 0 {
            b.bytes -= body_len as f64;
        }
        Ok(())
    }

    /// Admits an owned-slot write of `body_len` bytes for slot `owner` at `now` (after the
    /// client's own [`Rationing::admit`]), or refuses it with [`Rationed::OwnerBytes`].
    /// Nothing is taken when it is refused.
    pub fn admit_owner(
        &self,
        owner: [u8; 32],
        body_len: u64,
        now: Instant,
    ) -> Result<(), Rationed> {
        let cap = self.limits.owner_write_bytes_per_minute as f64;
        if cap == 0.0 {
            return Ok(());
        }
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let owners = &mut guard.owners;
        if owners.len() >= MAX_TRACKED && !owners.contains_key(&owner) {
            // A bucket idle a minute is full again: the same as no entry.
            let full = Duration::from_secs(60);
            owners.retain(|_, (_, last)| now.saturating_duration_since(*last) < full);
            if owners.len() >= MAX_TRACKED {
                self.refused_bytes.fetch_add(1, Ordering::Relaxed);
                return Err(Rationed::OwnerBytes);
            }
        }
        let (left, last) = owners.entry(owner).or_insert((cap, now));
        let dt = now.saturating_duration_since(*last).as_secs_f64();
        *last = now;
        *left = (*left + dt * cap / 60.0).min(cap);
        if *left < body_len as f64 {
            self.refused_bytes.fetch_add(1, Ordering::Relaxed);
            return Err(Rationed::OwnerBytes);
        }
        *left -= body_len as f64;
        Ok(())
    }

    /// Requests refused so far: (over the request rate, over a byte budget).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_rate.load(Ordering::Relaxed),
            self.refused_bytes.load(Ordering::Relaxed),
        )
    }
}
