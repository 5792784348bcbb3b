//! DJTE: deterministic join-triggered emissions (PROTOCOL.md §17.4).
//!
//! A token with DJTE parameters keeps its emission supply in a source vault whose state is
//! an [`EmissionState`]. Each [`EmissionStep`] is triggered by one device joining (it
//! proves it passed the policy's join gate) and does three things, all checked by
//! [`verify_step`] from the previous state alone:
//!
//! 1. consumes the joiner's activation in the spent set (a device joins once);
//! 2. if devices were already active (`N > 0`) and the schedule still pays, picks a winner
//!    uniformly among them — a seed from committed data, an exactly-uniform index by
//!    rejection sampling, then rank descent through the shard count tree to `(shard, i)`
//!    and an accumulator inclusion proof of the winner at `L_shard[i]` — and pays it
//!    `min(schedule(e), remaining)`;
//! 3. appends the joiner to its shard's accumulator, updating the count tree.
//!
//! The active set is committed by one root: a complete binary *count tree* over the
//! `2^b` shards (by the first `b` bits of `H(DjteShard, device)`), whose nodes carry
//! subtree counts, and whose leaves carry each shard's append-only accumulator (a Merkle
//! mountain range) root. The winner is credited through a normal ALLOCATION head whose
//! source proof is the step ([`crate::source`]).

use crate::policy::{DjteParams, JoinGate, TokenPolicy};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{verify_receipt, EmptyView, Receipt};
use dsm_core::smt::{empty_root, SmtProof, SparseMerkleTree};
use dsm_core::tags::Tag;
use thiserror::Error;

/// The most accumulator levels a proof may carry (shards hold < 2^40 devices).
pub const MAX_MMR_DEPTH: usize = 40;

// ---------------------------------------------------------------------------------------
// Small pure functions

/// The candidate list of the step after vault state `state` (PROTOCOL.md §17.4.4):
/// `(H(EmissionList), H(EmissionList, state digest))`. The state commits to its token, so a
/// node sees neither the token nor where in its chain a list is.
pub fn emission_list(state: &EmissionState) -> (Digest, Digest) {
    (
        tagged_hash(Tag::EmissionList, &[]),
        tagged_hash(Tag::EmissionList, &[state.digest().as_bytes()]),
    )
}

/// What an emission step's list entry holds: the canonical step sealed under the state it
/// follows (`seal(EmissionSeal, state digest, enc(step))`, PROTOCOL.md §2 "Sealed at the
/// nodes"), so only a reader that rebuilt that state — from the token's policy and the
/// steps before — opens it.
pub fn seal_step(state: &EmissionState, step: &EmissionStep) -> Vec<u8> {
    dsm_core::seal::seal(
        Tag::EmissionSeal,
        state.digest().as_bytes(),
        &step.to_bytes(),
    )
}

/// The step after `state` sealed in `bytes` by [`seal_step`]; `None` for anything else (a
/// step in clear, or sealed after another state, included). Whether the step verifies is
/// [`verify_step`]'s question.
pub fn open_step(state: &EmissionState, bytes: &[u8]) -> Option<EmissionStep> {
    let plain = dsm_core::seal::open(Tag::EmissionSeal, state.digest().as_bytes(), bytes)?;
    EmissionStep::from_bytes(&plain).ok()
}

/// The spent-set key of `device`'s activation for `token`: `H(DjteJoin, token, device)`.
pub fn join_key(token: &TokenId, device: &DeviceId) -> [u8; 32] {
    tagged_hash(Tag::DjteJoin, &[token.as_bytes(), device.as_bytes()]).0
}

/// The shard of `device` among `2^bits`: the first `bits` bits of `H(DjteShard, device)`.
pub fn shard_of(device: &DeviceId, bits: u32) -> u32 {
    let h = tagged_hash(Tag::DjteShard, &[device.as_bytes()]).0;
    let top = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if bits == 0 {
        0
    } else {
        top >> (32 - bits)
    }
}

/// An accumulator leaf: `H(DjteActive, device)`.
pub fn active_leaf(device: &DeviceId) -> Digest {
    tagged_hash(Tag::DjteActive, &[device.as_bytes()])
}

/// The amount the schedule pays at emission `e` before the clamp: epoch `i` holds
/// `2^i · M_0` emissions of `⌊r_0 / 2^i⌋` each (0 once the halvings reach zero).
pub fn schedule_amount(p: &DjteParams, e: u64) -> Amount {
    let m0 = u128::from(p.epoch0_emissions);
    let e = u128::from(e);
    // Epochs 0..i together hold M_0 · (2^(i+1) − 1) emissions.
    let mut i = 0u32;
    loop {
        if i >= 128 {
            return Amount::ZERO;
        }
        let end = m0.checked_mul((1u128 << (i + 1).min(127)) - 1);
        match end {
            Some(end) if e >= end => i += 1,
            _ => break,
        }
    }
    Amount(p.epoch0_amount.0.checked_shr(i).unwrap_or(0))
}

/// What emission `e` pays with `remaining` left in the vault and `active` devices: 0 when
/// nobody is active, else `min(schedule(e), remaining)` — total, never a rejection.
pub fn emission_amount(p: &DjteParams, e: u64, remaining: Amount, active: u64) -> Amount {
    if active == 0 {
        return Amount::ZERO;
    }
    schedule_amount(p, e).min(remaining)
}

/// The accepted part of a draw: `Some(r mod n)` when the big-endian integer `r` lies below
/// `⌊2^w / n⌋ · n` (`w = 8 · r.len()`), `None` in the rejected tail. Exactly uniform on
/// accepted draws: every residue has `⌊2^w / n⌋` preimages. `n` must be > 0.
pub fn accept_draw(r: &[u8], n: u64) -> Option<u64> {
    debug_assert!(n > 0);
    let n128 = u128::from(n);
    // r mod n, big-endian, byte by byte.
    let mut rem: u128 = 0;
    for &b in r {
        rem = ((rem << 8) | u128::from(b)) % n128;
    }
    // 2^w mod n, from (2^w − 1) mod n: all-ones bytes.
    let mut ones: u128 = 0;
    for _ in r {
        ones = ((ones << 8) | 0xff) % n128;
    }
    let tail = (ones + 1) % n128; // = 2^w mod n: the rejected values are the top `tail`.
                                  // r ≥ 2^w − tail  ⟺  (2^w − 1 − r) < tail, and 2^w − 1 − r is the complement of r.
    let tail_len = r.len();
    let mut compl_small = true;
    let mut compl: u128 = 0;
    for (i, &b) in r.iter().enumerate() {
        let c = !b;
        if tail_len - i > 16 {
            if c != 0 {
                compl_small = false;
            }
        } else {
            compl = (compl << 8) | u128::from(c);
        }
    }
    if compl_small && compl < tail {
        None
    } else {
        Some(rem as u64)
    }
}

/// The winner's rank among `n > 0` active devices: draw `R_0 = H(DjteSeed, state, u64be(e),
/// join key)`, redraw `R ← H(DjteReseed, R)` while `R` is in the rejected tail, `k = R mod n`.
pub fn winner_rank(prev_state: &Digest, e: u64, join: &[u8; 32], n: u64) -> u64 {
    let mut r = tagged_hash(
        Tag::DjteSeed,
        &[prev_state.as_bytes(), &e.to_be_bytes(), join],
    );
    loop {
        if let Some(k) = accept_draw(&r.0, n) {
            return k;
        }
        r = tagged_hash(Tag::DjteReseed, &[r.as_bytes()]);
    }
}

/// The emission receipt: `H(DjteReceipt, token, u64be(e), winner, u128be(amount), join)`
/// (the winner is 32 zero bytes when nobody won).
pub fn emission_receipt(
    token: &TokenId,
    e: u64,
    winner: Option<&DeviceId>,
    amount: Amount,
    join: &[u8; 32],
) -> Digest {
    let w = winner.map(|d| *d.as_bytes()).unwrap_or([0; 32]);
    tagged_hash(
        Tag::DjteReceipt,
        &[
            token.as_bytes(),
            &e.to_be_bytes(),
            &w,
            &amount.0.to_be_bytes(),
            join,
        ],
    )
}

// ---------------------------------------------------------------------------------------
// Shard accumulator: a Merkle mountain range

fn mmr_node(l: &Digest, r: &Digest) -> Digest {
    tagged_hash(Tag::DjteMmrNode, &[l.as_bytes(), r.as_bytes()])
}

/// A shard accumulator's root: `H(DjteMmrRoot, u64be(size), peaks…)`, peaks from the
/// largest perfect subtree to the smallest (one per set bit of `size`).
pub fn mmr_root(size: u64, peaks: &[Digest]) -> Digest {
    let size_bytes = size.to_be_bytes();
    let mut fields: Vec<&[u8]> = vec![&size_bytes];
    fields.extend(peaks.iter().map(|p| p.as_bytes().as_slice()));
    tagged_hash(Tag::DjteMmrRoot, &fields)
}

/// The peaks after appending `leaf` to an accumulator of `size` leaves with `peaks`.
pub fn mmr_append(size: u64, peaks: &[Digest], leaf: Digest) -> Vec<Digest> {
    let mut out = peaks.to_vec();
    out.push(leaf);
    let mut s = size;
    while s & 1 == 1 && out.len() >= 2 {
        let r = out.pop().expect("two peaks");
        let l = out.pop().expect("two peaks");
        out.push(mmr_node(&l, &r));
        s >>= 1;
    }
    out
}

/// Root of the perfect subtree over `leaves` (a power of two in length).
fn perfect_root(leaves: &[Digest]) -> Digest {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let (l, r) = leaves.split_at(leaves.len() / 2);
    mmr_node(&perfect_root(l), &perfect_root(r))
}

/// The peaks of an accumulator over `leaves`.
pub fn mmr_peaks(leaves: &[Digest]) -> Vec<Digest> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for h in (0..64).rev() {
        let w = 1usize.checked_shl(h).unwrap_or(0);
        if w != 0 && leaves.len() - start >= w && (leaves.len() >> h) & 1 == 1 {
            out.push(perfect_root(&leaves[start..start + w]));
            start += w;
        }
    }
    out
}

/// Inclusion proof of one accumulator leaf: the sibling path inside its perfect subtree
/// (bottom-up) and all peaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct MmrProof {
    /// Siblings from the leaf up to its peak.
    pub siblings: Vec<Digest>,
    /// Every peak of the accumulator.
    pub peaks: Vec<Digest>,
}

impl Canonical for MmrProof {
    const MAX_ENCODED_LEN: usize = 2 * MAX_MMR_DEPTH * 35 + 16;
    fn encode(&self, w: &mut Writer) {
        w.repeated_bytes(1, &self.siblings.iter().map(|d| d.0).collect::<Vec<_>>());
        w.repeated_bytes(2, &self.peaks.iter().map(|d| d.0).collect::<Vec<_>>());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MmrProof {
            siblings: r
                .repeated_fixed::<32>(1, MAX_MMR_DEPTH)?
                .into_iter()
                .map(Digest)
                .collect(),
            peaks: r
                .repeated_fixed::<32>(2, MAX_MMR_DEPTH)?
                .into_iter()
                .map(Digest)
                .collect(),
        })
    }
}

/// Proves `leaves[index]` in the accumulator over `leaves`.
pub fn mmr_prove(leaves: &[Digest], index: usize) -> MmrProof {
    let peaks = mmr_peaks(leaves);
    let mut start = 0usize;
    let mut siblings = Vec::new();
    for h in (0..64).rev() {
        let w = 1usize.checked_shl(h).unwrap_or(0);
        if w == 0 || (leaves.len() >> h) & 1 == 0 {
            continue;
        }
        if index < start + w {
            // Walk down the perfect subtree [start, start + w), collecting siblings.
            let (mut lo, mut width) = (start, w);
            let mut top_down = Vec::new();
            while width > 1 {
                let half = width / 2;
                if index < lo + half {
                    top_down.push(perfect_root(&leaves[lo + half..lo + width]));
                } else {
                    top_down.push(perfect_root(&leaves[lo..lo + half]));
                    lo += half;
                }
                width = half;
            }
            top_down.reverse();
            siblings = top_down;
            break;
        }
        start += w;
    }
    MmrProof { siblings, peaks }
}

/// True when `proof` shows `leaf` at `index` of an accumulator of `size` leaves with root
/// `root`.
pub fn mmr_verify(root: &Digest, size: u64, index: u64, leaf: &Digest, proof: &MmrProof) -> bool {
    if index >= size || proof.peaks.len() != size.count_ones() as usize {
        return false;
    }
    if mmr_root(size, &proof.peaks) != *root {
        return false;
    }
    let mut start = 0u64;
    let mut peak_i = 0usize;
    for h in (0..64u32).rev() {
        if (size >> h) & 1 == 0 {
            continue;
        }
        let w = 1u64 << h;
        if index < start + w {
            if proof.siblings.len() != h as usize {
                return false;
            }
            let local = index - start;
            let mut acc = *leaf;
            for (level, sib) in proof.siblings.iter().enumerate() {
                acc = if (local >> level) & 1 == 1 {
                    mmr_node(sib, &acc)
                } else {
                    mmr_node(&acc, sib)
                };
            }
            return acc == proof.peaks[peak_i];
        }
        start += w;
        peak_i += 1;
    }
    false
}

// ---------------------------------------------------------------------------------------
// Count tree

fn count_leaf(count: u64, acc_root: &Digest) -> Digest {
    tagged_hash(
        Tag::DjteCountLeaf,
        &[&count.to_be_bytes(), acc_root.as_bytes()],
    )
}

fn count_node(count: u64, l: &Digest, r: &Digest) -> Digest {
    tagged_hash(
        Tag::DjteCountNode,
        &[&count.to_be_bytes(), l.as_bytes(), r.as_bytes()],
    )
}

/// `(count, hash)` of one count-tree node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountNode {
    /// Devices under the node.
    pub count: u64,
    /// The node's hash.
    pub hash: Digest,
}

impl Canonical for CountNode {
    const MAX_ENCODED_LEN: usize = 48;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.count);
        w.bytes(2, self.hash.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CountNode {
            count: r.uint(1)?,
            hash: Digest(r.fixed(2)?),
        })
    }
}

/// The hashes of empty count-tree subtrees: `empty[d]` for a node at depth `d` of a tree
/// of `bits` levels (depth `bits` = a shard leaf).
fn empty_count_nodes(bits: u32) -> Vec<Digest> {
    let mut v = vec![Digest::ZERO; bits as usize + 1];
    v[bits as usize] = count_leaf(0, &mmr_root(0, &[]));
    for d in (0..bits as usize).rev() {
        v[d] = count_node(0, &v[d + 1], &v[d + 1]);
    }
    v
}

/// The count-tree root of no active devices with `bits` shard bits.
pub fn empty_active_root(bits: u32) -> Digest {
    empty_count_nodes(bits)[0]
}

/// A shard's place in the count tree: its accumulator and the siblings on the way up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShardPath {
    /// Devices in the shard.
    pub count: u64,
    /// The shard accumulator's root.
    pub acc_root: Digest,
    /// Sibling nodes from depth 1 (the root's children) down to the shard's level.
    pub siblings: Vec<CountNode>,
}

impl Canonical for ShardPath {
    const MAX_ENCODED_LEN: usize = 64 + 52 * crate::policy::MAX_SHARD_BITS as usize;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.count);
        w.bytes(2, self.acc_root.as_bytes());
        w.repeated_message(3, &self.siblings);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ShardPath {
            count: r.uint(1)?,
            acc_root: Digest(r.fixed(2)?),
            siblings: r.repeated_message(3, crate::policy::MAX_SHARD_BITS as usize)?,
        })
    }
}

impl ShardPath {
    /// Folds the path of `shard` up to the root: the on-path counts from depth 0 (the root)
    /// to depth `bits` (the shard), and the root hash. `None` on a wrong length or a
    /// count overflow.
    fn fold(&self, shard: u32, bits: u32) -> Option<(Vec<u64>, Digest)> {
        if self.siblings.len() != bits as usize {
            return None;
        }
        let mut counts = vec![0u64; bits as usize + 1];
        counts[bits as usize] = self.count;
        let mut h = count_leaf(self.count, &self.acc_root);
        let mut c = self.count;
        for d in (1..=bits as usize).rev() {
            let sib = &self.siblings[d - 1];
            c = c.checked_add(sib.count)?;
            let right = (shard >> (bits as usize - d)) & 1 == 1;
            h = if right {
                count_node(c, &sib.hash, &h)
            } else {
                count_node(c, &h, &sib.hash)
            };
            counts[d - 1] = c;
        }
        Some((counts, h))
    }
}

/// Rank descent: with the path of `shard` verified, checks that rank `k` lands in this
/// shard and returns the local index. At each level the rank goes left if it is below the
/// left child's count, else right with the left count subtracted.
pub fn descend(path: &ShardPath, shard: u32, bits: u32, mut k: u64) -> Option<u64> {
    let (counts, _) = path.fold(shard, bits)?;
    for (i, sib) in path.siblings.iter().enumerate() {
        let d = i + 1;
        let right = (shard >> (bits as usize - d)) & 1 == 1;
        let left_count = if right { sib.count } else { counts[d] };
        if right {
            if k < left_count {
                return None;
            }
            k -= left_count;
        } else if k >= left_count {
            return None;
        }
    }
    (k < path.count).then_some(k)
}

// ---------------------------------------------------------------------------------------
// State and steps

/// The source vault's state `D_e`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmissionState {
    /// The token.
    pub token: TokenId,
    /// `e`: steps applied so far.
    pub index: u64,
    /// Still in the vault.
    pub remaining: Amount,
    /// Paid out so far.
    pub emitted: Amount,
    /// `N`: active devices.
    pub active: u64,
    /// Count-tree root over the shard accumulators.
    pub active_root: Digest,
    /// Root of the spent set (join key → `H(DjteSpent, u64be(e))`).
    pub spent_root: Digest,
    /// Digest of `D_{e−1}` (zero at `e = 0`).
    pub prev: Digest,
}

impl EmissionState {
    /// `D_0` of a DJTE policy: the whole emission supply, nobody active, nothing spent.
    pub fn genesis(policy: &TokenPolicy) -> Option<EmissionState> {
        let d = policy.djte.as_ref()?;
        Some(EmissionState {
            token: policy.token_id(),
            index: 0,
            remaining: policy.emission_supply(),
            emitted: Amount::ZERO,
            active: 0,
            active_root: empty_active_root(d.shard_bits),
            spent_root: empty_root(),
            prev: Digest::ZERO,
        })
    }

    /// `H(DjteState, enc(state))`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::DjteState, &[&self.to_bytes()])
    }
}

impl Canonical for EmissionState {
    const MAX_ENCODED_LEN: usize = 260;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.uint(2, self.index);
        w.bytes(3, &self.remaining.0.to_be_bytes());
        w.bytes(4, &self.emitted.0.to_be_bytes());
        w.uint(5, self.active);
        w.bytes(6, self.active_root.as_bytes());
        w.bytes(7, self.spent_root.as_bytes());
        w.bytes(8, self.prev.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EmissionState {
            token: TokenId(Digest(r.fixed(1)?)),
            index: r.uint(2)?,
            remaining: Amount(u128::from_be_bytes(r.fixed(3)?)),
            emitted: Amount(u128::from_be_bytes(r.fixed(4)?)),
            active: r.uint(5)?,
            active_root: Digest(r.fixed(6)?),
            spent_root: Digest(r.fixed(7)?),
            prev: Digest(r.fixed(8)?),
        })
    }
}

/// The winner part of a step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WinnerProof {
    /// The winning device.
    pub device: DeviceId,
    /// Its index in its shard's accumulator.
    pub index: u64,
    /// Its shard's path in the pre-state count tree.
    pub path: ShardPath,
    /// Its accumulator inclusion proof.
    pub inclusion: MmrProof,
}

impl Canonical for WinnerProof {
    const MAX_ENCODED_LEN: usize = 64 + ShardPath::MAX_ENCODED_LEN + MmrProof::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.device.as_bytes());
        w.uint(2, self.index);
        w.message(3, &self.path);
        w.message(4, &self.inclusion);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(WinnerProof {
            device: DeviceId(Digest(r.fixed(1)?)),
            index: r.uint(2)?,
            path: r.message(3)?,
            inclusion: r.message(4)?,
        })
    }
}

/// The selection and update proof of one step (everything but the join gate).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmissionProof {
    /// The joining device.
    pub joiner: DeviceId,
    /// Non-inclusion of the joiner's key in the pre-state spent set.
    pub spent: SmtProof,
    /// The joiner's shard path in the pre-state count tree.
    pub joiner_path: ShardPath,
    /// The peaks of the joiner's shard accumulator before the append.
    pub joiner_peaks: Vec<Digest>,
    /// The winner, when the step pays one.
    pub winner: Option<WinnerProof>,
}

impl Canonical for EmissionProof {
    const MAX_ENCODED_LEN: usize = 16 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.joiner.as_bytes());
        w.message(2, &self.spent);
        w.message(3, &self.joiner_path);
        w.repeated_bytes(
            4,
            &self.joiner_peaks.iter().map(|d| d.0).collect::<Vec<_>>(),
        );
        w.optional_message(5, self.winner.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EmissionProof {
            joiner: DeviceId(Digest(r.fixed(1)?)),
            spent: r.message(2)?,
            joiner_path: r.message(3)?,
            joiner_peaks: r
                .repeated_fixed::<32>(4, MAX_MMR_DEPTH)?
                .into_iter()
                .map(Digest)
                .collect(),
            winner: r.optional_message(5)?,
        })
    }
}

/// One emission step: the joiner's gate receipts and the proof.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmissionStep {
    /// The joiner's subscription payments (one receipt per paid operator, ascending by
    /// operator), checked against the policy's join gate.
    pub gate: Vec<Receipt>,
    /// Selection and update proof.
    pub proof: EmissionProof,
}

/// The most gate receipts a step may carry.
pub const MAX_GATE_RECEIPTS: usize = crate::policy::MAX_OPERATORS;

impl Canonical for EmissionStep {
    const MAX_ENCODED_LEN: usize = 250 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.repeated_message(1, &self.gate);
        w.message(2, &self.proof);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EmissionStep {
            gate: r.repeated_message(1, MAX_GATE_RECEIPTS)?,
            proof: r.message(2)?,
        })
    }
}

/// What a verified step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emission {
    /// `D_{e+1}`.
    pub next: EmissionState,
    /// The index `e` of this emission.
    pub index: u64,
    /// Who joined.
    pub joiner: DeviceId,
    /// Who won and how much (`None`: nobody was active, or the schedule is exhausted).
    pub winner: Option<(DeviceId, Amount)>,
    /// The emission receipt digest.
    pub receipt: Digest,
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DjteError {
    /// The token has no DJTE parameters.
    #[error("this token has no emissions")]
    NoEmissions,
    /// The step is for another token's vault.
    #[error("the emission state belongs to another token")]
    WrongToken,
    /// A gate receipt fails verification.
    #[error("join gate: payment {index} is not a valid receipt: {why}")]
    GateReceipt {
        /// Which receipt.
        index: usize,
        /// Why.
        why: String,
    },
    /// The gate is not met.
    #[error("join gate: {0}")]
    Gate(&'static str),
    /// The joiner already joined.
    #[error("this device has already joined (its activation is in the spent set)")]
    AlreadyJoined,
    /// A proof does not verify against the pre-state.
    #[error("the emission proof does not verify: {0}")]
    BadProof(&'static str),
    /// The step has a winner when none is due, or none when one is.
    #[error("the step's winner does not match the schedule: {0}")]
    Winner(&'static str),
    /// A count or amount would overflow.
    #[error("a count or amount overflowed")]
    Overflow,
}

/// Checks the join gate: exactly `k` receipts, each a valid receipt (both signatures)
/// whose sender is the joiner and whose receivers are distinct listed operators in
/// ascending order, paying at least `fee` of `fee_token`.
pub fn verify_gate(
    gate: &JoinGate,
    joiner: &DeviceId,
    receipts: &[Receipt],
) -> Result<(), DjteError> {
    if receipts.len() != gate.k as usize {
        return Err(DjteError::Gate(
            "the number of payments must equal the gate's k",
        ));
    }
    let mut last: Option<DeviceId> = None;
    for (index, r) in receipts.iter().enumerate() {
        verify_receipt(r, &EmptyView).map_err(|e| DjteError::GateReceipt {
            index,
            why: e.to_string(),
        })?;
        let step = &r.proposal.proposal.step;
        if step.sender != *joiner {
            return Err(DjteError::Gate(
                "a payment was not made by the joining device",
            ));
        }
        if gate.operators.binary_search(&step.receiver).is_err() {
            return Err(DjteError::Gate(
                "a payment went to a device that is not a listed operator",
            ));
        }
        if last.is_some_and(|l| l >= step.receiver) {
            return Err(DjteError::Gate(
                "payments must go to distinct operators, in ascending order",
            ));
        }
        last = Some(step.receiver);
        if step.token != gate.fee_token || step.amount < gate.fee {
            return Err(DjteError::Gate(
                "a payment is in the wrong token or below the fee",
            ));
        }
    }
    Ok(())
}

/// Checks a step against the pre-state `prev` (whose authenticity the caller knows) and
/// returns the post-state and the emission. `check_gate = false` skips only the gate's
/// receipt signatures (for re-verifying a chain whose gates were verified before).
pub fn verify_step(
    policy: &TokenPolicy,
    prev: &EmissionState,
    step: &EmissionStep,
    check_gate: bool,
) -> Result<Emission, DjteError> {
    let params = policy.djte.as_ref().ok_or(DjteError::NoEmissions)?;
    let token = policy.token_id();
    if prev.token != token {
        return Err(DjteError::WrongToken);
    }
    let bits = params.shard_bits;
    let p = &step.proof;
    if check_gate {
        verify_gate(&params.gate, &p.joiner, &step.gate)?;
    }
    // 1. The joiner's activation is not yet spent; consume it.
    let key = join_key(&token, &p.joiner);
    match p.spent.lookup(&key, &prev.spent_root) {
        Ok(None) => {}
        Ok(Some(_)) => return Err(DjteError::AlreadyJoined),
        Err(_) => return Err(DjteError::BadProof("spent-set proof")),
    }
    let spent_value = tagged_hash(Tag::DjteSpent, &[&prev.index.to_be_bytes()]);
    let spent_root = p
        .spent
        .root_after_set(&key, &spent_value)
        .map_err(|_| DjteError::BadProof("spent-set proof"))?;
    // 2. The winner among the devices active before this join.
    let prev_digest = prev.digest();
    let amount = emission_amount(params, prev.index, prev.remaining, prev.active);
    let winner = match (&p.winner, amount.0 > 0) {
        (None, false) => None,
        (Some(_), false) => return Err(DjteError::Winner("nothing is due, but a winner is named")),
        (None, true) => {
            return Err(DjteError::Winner(
                "an emission is due, but no winner is named",
            ))
        }
        (Some(w), true) => {
            let k = winner_rank(&prev_digest, prev.index, &key, prev.active);
            let shard = shard_of(&w.device, bits);
            let (_, root) = w
                .path
                .fold(shard, bits)
                .ok_or(DjteError::BadProof("winner shard path"))?;
            if root != prev.active_root {
                return Err(DjteError::BadProof("winner shard path"));
            }
            match descend(&w.path, shard, bits, k) {
                Some(i) if i == w.index => {}
                _ => return Err(DjteError::Winner("rank descent does not reach this device")),
            }
            if !mmr_verify(
                &w.path.acc_root,
                w.path.count,
                w.index,
                &active_leaf(&w.device),
                &w.inclusion,
            ) {
                return Err(DjteError::BadProof("winner accumulator inclusion"));
            }
            Some((w.device, amount))
        }
    };
    // 3. Append the joiner to its shard.
    let js = shard_of(&p.joiner, bits);
    let jp = &p.joiner_path;
    let (counts, root) = jp
        .fold(js, bits)
        .ok_or(DjteError::BadProof("joiner shard path"))?;
    if root != prev.active_root || counts[0] != prev.active {
        return Err(DjteError::BadProof("joiner shard path"));
    }
    if p.joiner_peaks.len() != jp.count.count_ones() as usize
        || mmr_root(jp.count, &p.joiner_peaks) != jp.acc_root
    {
        return Err(DjteError::BadProof("joiner accumulator peaks"));
    }
    let new_count = jp.count.checked_add(1).ok_or(DjteError::Overflow)?;
    let new_peaks = mmr_append(jp.count, &p.joiner_peaks, active_leaf(&p.joiner));
    let new_path = ShardPath {
        count: new_count,
        acc_root: mmr_root(new_count, &new_peaks),
        siblings: jp.siblings.clone(),
    };
    let (new_counts, active_root) = new_path.fold(js, bits).ok_or(DjteError::Overflow)?;
    let paid = winner.map(|(_, a)| a).unwrap_or(Amount::ZERO);
    let next = EmissionState {
        token,
        index: prev.index.checked_add(1).ok_or(DjteError::Overflow)?,
        remaining: prev
            .remaining
            .checked_sub(paid)
            .ok_or(DjteError::Overflow)?,
        emitted: prev.emitted.checked_add(paid).ok_or(DjteError::Overflow)?,
        active: new_counts[0],
        active_root,
        spent_root,
        prev: prev_digest,
    };
    Ok(Emission {
        receipt: emission_receipt(
            &token,
            prev.index,
            winner.as_ref().map(|w| &w.0),
            paid,
            &key,
        ),
        next,
        index: prev.index,
        joiner: p.joiner,
        winner,
    })
}

/// Fork choice between two states of one vault seen from different places: the higher
/// index wins, then the smaller digest. (Storage-node slots make the chain linear online;
/// this orders what offline devices saw.)
pub fn fork_choice<'a>(a: &'a EmissionState, b: &'a EmissionState) -> &'a EmissionState {
    match a.index.cmp(&b.index) {
        std::cmp::Ordering::Greater => a,
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Equal => {
            if a.digest() <= b.digest() {
                a
            } else {
                b
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The prover: the full active set

/// The full state of a source vault, able to build proofs: every shard's devices in
/// activation order, the count tree and the spent set. Any device can rebuild it by
/// replaying the vault's public steps ([`EmissionLedger::apply`]).
#[derive(Clone)]
pub struct EmissionLedger {
    policy: TokenPolicy,
    bits: u32,
    state: EmissionState,
    shards: Vec<Vec<DeviceId>>,
    shard_leaves: Vec<Vec<Digest>>,
    /// `levels[d][i]`: node `i` at depth `d` (depth `bits` = shards).
    levels: Vec<Vec<CountNode>>,
    spent: SparseMerkleTree,
    history: Vec<Emission>,
}

impl EmissionLedger {
    /// The vault of a DJTE policy at `D_0`.
    pub fn new(policy: &TokenPolicy) -> Result<EmissionLedger, DjteError> {
        let state = EmissionState::genesis(policy).ok_or(DjteError::NoEmissions)?;
        let bits = policy
            .djte
            .as_ref()
            .ok_or(DjteError::NoEmissions)?
            .shard_bits;
        let empty = empty_count_nodes(bits);
        let levels = (0..=bits)
            .map(|d| {
                vec![
                    CountNode {
                        count: 0,
                        hash: empty[d as usize]
                    };
                    1usize << d
                ]
            })
            .collect();
        Ok(EmissionLedger {
            policy: policy.clone(),
            bits,
            state,
            shards: vec![Vec::new(); 1usize << bits],
            shard_leaves: vec![Vec::new(); 1usize << bits],
            levels,
            spent: SparseMerkleTree::new(),
            history: Vec::new(),
        })
    }

    /// The current state `D_e`.
    pub fn state(&self) -> &EmissionState {
        &self.state
    }

    /// The policy.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// Every emission applied, in order.
    pub fn history(&self) -> &[Emission] {
        &self.history
    }

    /// True if `device` has joined.
    pub fn has_joined(&self, device: &DeviceId) -> bool {
        self.spent
            .get(&join_key(&self.state.token, device))
            .is_some()
    }

    /// The count-tree path of `shard` in the current state.
    pub fn shard_path(&self, shard: u32) -> ShardPath {
        let mut siblings = Vec::with_capacity(self.bits as usize);
        for d in 1..=self.bits {
            let idx = (shard >> (self.bits - d)) as usize;
            siblings.push(self.levels[d as usize][idx ^ 1]);
        }
        ShardPath {
            count: self.shards[shard as usize].len() as u64,
            acc_root: mmr_root(
                self.shards[shard as usize].len() as u64,
                &mmr_peaks(&self.shard_leaves[shard as usize]),
            ),
            siblings,
        }
    }

    /// The device at rank `k` of the concatenated shard lists (shard 0 first), by rank
    /// descent over the stored counts: `(shard, local index)`.
    pub fn locate(&self, mut k: u64) -> Option<(u32, u64)> {
        if k >= self.state.active {
            return None;
        }
        let mut idx = 0usize;
        for d in 1..=self.bits as usize {
            let left = self.levels[d][idx * 2].count;
            if k < left {
                idx *= 2;
            } else {
                k -= left;
                idx = idx * 2 + 1;
            }
        }
        Some((idx as u32, k))
    }

    /// The device at `(shard, index)`.
    pub fn device_at(&self, shard: u32, index: u64) -> Option<&DeviceId> {
        self.shards
            .get(shard as usize)?
            .get(usize::try_from(index).ok()?)
    }

    /// Builds the step for `joiner` with its gate receipts (not verified here; the step is
    /// checked by [`verify_step`] when applied).
    pub fn prepare(&self, joiner: DeviceId, gate: Vec<Receipt>) -> Result<EmissionStep, DjteError> {
        let params = self.policy.djte.as_ref().ok_or(DjteError::NoEmissions)?;
        let key = join_key(&self.state.token, &joiner);
        if self.spent.get(&key).is_some() {
            return Err(DjteError::AlreadyJoined);
        }
        let amount = emission_amount(
            params,
            self.state.index,
            self.state.remaining,
            self.state.active,
        );
        let winner = if amount.0 > 0 {
            let k = winner_rank(
                &self.state.digest(),
                self.state.index,
                &key,
                self.state.active,
            );
            let (shard, index) = self.locate(k).ok_or(DjteError::Overflow)?;
            let device = self.shards[shard as usize][index as usize];
            Some(WinnerProof {
                device,
                index,
                path: self.shard_path(shard),
                inclusion: mmr_prove(&self.shard_leaves[shard as usize], index as usize),
            })
        } else {
            None
        };
        let js = shard_of(&joiner, self.bits);
        Ok(EmissionStep {
            gate,
            proof: EmissionProof {
                joiner,
                spent: self.spent.prove(&key),
                joiner_path: self.shard_path(js),
                joiner_peaks: mmr_peaks(&self.shard_leaves[js as usize]),
                winner,
            },
        })
    }

    /// Verifies `step` against the current state and applies it.
    pub fn apply(&mut self, step: &EmissionStep, check_gate: bool) -> Result<Emission, DjteError> {
        let emission = verify_step(&self.policy, &self.state, step, check_gate)?;
        let joiner = step.proof.joiner;
        let key = join_key(&self.state.token, &joiner);
        self.spent.insert(
            key,
            tagged_hash(Tag::DjteSpent, &[&self.state.index.to_be_bytes()]),
        );
        self.push_active(joiner);
        self.state = emission.next.clone();
        debug_assert_eq!(self.levels[0][0].hash, self.state.active_root);
        self.history.push(emission.clone());
        Ok(emission)
    }

    fn push_active(&mut self, device: DeviceId) {
        let s = shard_of(&device, self.bits) as usize;
        self.shards[s].push(device);
        self.shard_leaves[s].push(active_leaf(&device));
        self.refresh_shard(s);
    }

    fn refresh_shard(&mut self, s: usize) {
        let bits = self.bits as usize;
        let n = self.shards[s].len() as u64;
        let acc = mmr_root(n, &mmr_peaks(&self.shard_leaves[s]));
        self.levels[bits][s] = CountNode {
            count: n,
            hash: count_leaf(n, &acc),
        };
        let mut idx = s;
        for d in (0..bits).rev() {
            idx /= 2;
            let (l, r) = (self.levels[d + 1][idx * 2], self.levels[d + 1][idx * 2 + 1]);
            let c = l.count + r.count;
            self.levels[d][idx] = CountNode {
                count: c,
                hash: count_node(c, &l.hash, &r.hash),
            };
        }
    }

    /// A ledger where `devices` joined in order, built in bulk without proofs, gates or
    /// payouts (the vault still holds its whole supply): for benchmarks and tests that need
    /// a large active set quickly. Its state is internally consistent; it is not the
    /// state any real vault reached.
    pub fn with_active_set(
        policy: &TokenPolicy,
        devices: &[DeviceId],
    ) -> Result<EmissionLedger, DjteError> {
        let mut l = EmissionLedger::new(policy)?;
        for d in devices {
            let s = shard_of(d, l.bits) as usize;
            l.shards[s].push(*d);
            l.shard_leaves[s].push(active_leaf(d));
            l.spent.insert(
                join_key(&l.state.token, d),
                tagged_hash(Tag::DjteSpent, &[&l.state.index.to_be_bytes()]),
            );
            l.state.index += 1;
        }
        let bits = l.bits as usize;
        for s in 0..l.shards.len() {
            let n = l.shards[s].len() as u64;
            let acc = mmr_root(n, &mmr_peaks(&l.shard_leaves[s]));
            l.levels[bits][s] = CountNode {
                count: n,
                hash: count_leaf(n, &acc),
            };
        }
        for d in (0..bits).rev() {
            for i in 0..(1usize << d) {
                let (a, b) = (l.levels[d + 1][i * 2], l.levels[d + 1][i * 2 + 1]);
                let c = a.count + b.count;
                l.levels[d][i] = CountNode {
                    count: c,
                    hash: count_node(c, &a.hash, &b.hash),
                };
            }
        }
        l.state.active = devices.len() as u64;
        l.state.active_root = l.levels[0][0].hash;
        l.state.spent_root = l.spent.root();
        Ok(l)
    }
}
