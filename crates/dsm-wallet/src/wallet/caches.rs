//! What a wallet keeps in memory only to avoid decoding the same stored bytes twice. Each
//! cache holds facts of immutable or content-addressed bytes (or, for gossip, what was
//! already sent), so losing it at a restart costs work, never correctness.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_core::receipt::SignedProposal;

/// The wallet's decode caches. Behind mutexes because they fill during `&self` reads; a
/// poisoned lock is taken over (a cache holds no invariant a panic could break).
#[derive(Default)]
pub(crate) struct Caches {
    /// Hop object address → (commit, holder), for hops decoded before, so re-walking a
    /// long lineage decodes nothing twice.
    hops: Mutex<HashMap<Digest, (Digest, DeviceId)>>,
    /// Witness-table value → the proposal it names (a witnessed statement, or the receipt
    /// it points at), so every hello's gossip does not decode the same receipts again.
    witnessed: Mutex<HashMap<Vec<u8>, Option<SignedProposal>>>,
    /// Peer → the witness keys of the recent proposals already gossiped to it (PROTOCOL.md
    /// §12.5): a hello does not repeat them to the same peer. Bounded by the caller.
    gossip_sent: Mutex<HashMap<DeviceId, Vec<Vec<u8>>>>,
}

fn take<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Caches {
    /// The hop facts.
    pub(crate) fn hops(&self) -> MutexGuard<'_, HashMap<Digest, (Digest, DeviceId)>> {
        take(&self.hops)
    }

    /// The proposals witness-table values name.
    pub(crate) fn witnessed(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Option<SignedProposal>>> {
        take(&self.witnessed)
    }

    /// What was gossiped to each peer.
    pub(crate) fn gossip_sent(&self) -> MutexGuard<'_, HashMap<DeviceId, Vec<Vec<u8>>>> {
        take(&self.gossip_sent)
    }
}
