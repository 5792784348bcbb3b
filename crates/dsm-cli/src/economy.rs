//! `dsm bench economy`: what value provenance costs in a circulating economy (PROTOCOL.md
//! §5.6, DESIGN §3.9). D devices pay each other T times (power-law payers and receivers);
//! each payment consumes parcels chosen by the wallet's rule (shortest lineage first) and
//! splits at most the last one (no merging); the receiver checks every input's lineage back
//! to the newest ancestor it already verified. With refresh on, a wallet re-issues its
//! holdings as one fresh root when the wallet's advice says so (more than 16 parcels of the
//! token, or a parcel more than 16 hops from its root; `--refresh-parcels`,
//! `--refresh-hops`), checked by a refresher with its own cache. In the same run it measures the
//! naive alternative, checking the payer's whole causal past.
//!
//! Hop sizes come from real encodings of `dsm_core::parcel::Hop` and real signature
//! lengths; check times from real `verify_lineage` runs over real ML-DSA-65 and
//! SLH-DSA-SHA2-128f lineages. The economy itself is a model: it moves parcel records, not
//! signed statements, so that 10^5–10^6 payments run in seconds.

use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisDigest};
use dsm_core::parcel::{
    root_id, verify_lineage, Hop, Lineage, LineageStart, Parcel, ParcelId, ParcelOutput,
    ParcelStatement, RootFacts, RootVerifier,
};
use dsm_core::tags::Tag;
use std::collections::HashSet;
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

/// When a wallet re-issues its holdings (refresh on): the wallet's advice thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshRule {
    /// Held parcels of one token above which it re-issues.
    pub parcels: usize,
    /// Lineage length (hops from a root) above which it re-issues.
    pub hops: u32,
}

impl Default for RefreshRule {
    /// The wallet's own advice ([`dsm_wallet::wallet::refresh::ADVISE_PARCELS`], [`dsm_wallet::wallet::refresh::ADVISE_HOPS`]).
    fn default() -> Self {
        RefreshRule {
            parcels: dsm_wallet::wallet::refresh::ADVISE_PARCELS,
            hops: dsm_wallet::wallet::refresh::ADVISE_HOPS as u32,
        }
    }
}
/// The most inputs one payment consumes (PROTOCOL.md §5.6); a wallet that would need more
/// re-issues first (refresh on) or pays what 64 parcels cover.
const MAX_INPUTS: usize = dsm_core::parcel::MAX_INPUTS;

/// One economy run's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Devices.
    pub devices: usize,
    /// Payments.
    pub transfers: usize,
    /// Re-issue when a wallet's holdings fragment or its lineages grow.
    pub refresh: bool,
    /// When to re-issue (with `refresh`).
    pub rule: RefreshRule,
    /// Seed of the deterministic run.
    pub seed: u64,
    /// Also compute the naive causal-past sizes (memory: devices × transfers bits).
    pub naive: bool,
}

/// Costs measured from real objects, per suite.
#[derive(Clone, Copy, Debug)]
pub struct HopCosts {
    /// Bytes of a hop with one input and two outputs.
    pub hop_1x2: usize,
    /// Extra bytes per further input (its id and up to two outputs).
    pub per_input: usize,
    /// Bytes of a signer identity, shipped once per lineage.
    pub identity: usize,
    /// Bytes of a root source (a one-issuer mint proof).
    pub root: usize,
    /// Seconds to check one hop (`verify_lineage`, amortised over a long lineage).
    pub check_hop: f64,
    /// Bytes of a re-issued root's source burning one parcel, one refresher signing
    /// (PROTOCOL.md §17.6: the statement, the holder's burn hop and identity).
    pub reissue_root: usize,
    /// Extra bytes of a re-issued root per further parcel burned.
    pub reissue_per_burned: usize,
    /// Seconds to check a re-issued root (`verify_reissue`: the refresher's and the burn's
    /// signatures).
    pub check_reissue: f64,
}

#[derive(Clone, Copy)]
struct Node {
    /// The parcel this one came from (`u32::MAX` for a root).
    parent: u32,
    /// Hops since its root (or its last re-issue).
    hops: u32,
    /// Inputs of the statement that made it (hop size).
    inputs: u8,
    /// The device that signed the statement that made it.
    signer: u32,
    amount: u64,
    /// For a re-issued root, the parcels its burn consumed (0 for every other parcel).
    burned: u8,
}

const ROOT: u32 = u32::MAX;

/// Deterministic splitmix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A power law over a random ordering of `n` devices: device at rank r has weight 1/r.
struct PowerLaw {
    cumulative: Vec<f64>,
    order: Vec<u32>,
}
impl PowerLaw {
    fn new(n: usize, rng: &mut Rng) -> PowerLaw {
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut acc = 0.0;
        let cumulative = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect();
        PowerLaw { cumulative, order }
    }
    fn draw(&self, rng: &mut Rng) -> u32 {
        let total = *self.cumulative.last().expect("devices");
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let i = self.cumulative.partition_point(|c| *c < x);
        self.order[i.min(self.order.len() - 1)]
    }
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Payments made.
    pub payments: usize,
    /// Per payment: hops a cold verifier checks (every input back to its root).
    pub hops_cold: Vec<u32>,
    /// Per payment: hops shipped and checked given the receiver's cache.
    pub hops_warm: Vec<u32>,
    /// Per payment: bytes shipped to a cold verifier.
    pub bytes_cold: Vec<u64>,
    /// Per payment: bytes shipped given the receiver's cache.
    pub bytes_warm: Vec<u64>,
    /// Per payment: microseconds of signature checks given the receiver's cache (hops, and
    /// re-issued roots at their measured cost).
    pub check_warm_us: Vec<u64>,
    /// Per payment: inputs consumed.
    pub inputs: Vec<u32>,
    /// Re-issues made.
    pub refreshes: usize,
    /// Hops the refresher checked over all re-issues.
    pub refresh_hops: u64,
    /// Parcels held at the end by the busiest holder.
    pub max_held: usize,
    /// Stored lineage bytes per held parcel (sampled wallets, shared prefixes counted once).
    pub wallet_bytes_per_parcel: f64,
    /// Per payment: transfers in the payer's causal past (the naive check), if measured.
    pub naive_past: Vec<u32>,
    /// Value conserved (a self-check of the model).
    pub conserved: bool,
}

impl Outcome {
    /// Keeps only the last `n` payments' figures (0: all), so that economies run for
    /// different numbers of payments are compared over samples of one size: the largest of
    /// a million draws of a heavy-tailed cost is larger than the largest of ten thousand.
    pub fn keep_last(&mut self, n: usize) {
        fn tail<T>(v: &mut Vec<T>, n: usize) {
            if n > 0 && v.len() > n {
                v.drain(..v.len() - n);
            }
        }
        tail(&mut self.hops_cold, n);
        tail(&mut self.hops_warm, n);
        tail(&mut self.bytes_cold, n);
        tail(&mut self.bytes_warm, n);
        tail(&mut self.check_warm_us, n);
        tail(&mut self.inputs, n);
        tail(&mut self.naive_past, n);
    }
}

/// Runs one economy.
pub fn simulate(p: Params, c: &HopCosts) -> Outcome {
    let mut rng = Rng(p.seed);
    let payers = PowerLaw::new(p.devices, &mut rng);
    let payees = PowerLaw::new(p.devices, &mut rng);
    const START: u64 = 1_000_000;
    let mut nodes: Vec<Node> = Vec::with_capacity(p.transfers * 2 + p.devices);
    let mut held: Vec<Vec<u32>> = vec![Vec::new(); p.devices];
    let mut balance: Vec<u64> = vec![START; p.devices];
    for (d, h) in held.iter_mut().enumerate() {
        nodes.push(Node {
            parent: ROOT,
            hops: 0,
            inputs: 1,
            signer: d as u32,
            amount: START,
            burned: 0,
        });
        h.push(nodes.len() as u32 - 1);
    }
    // Verified parcels per device (and the refresher's, last).
    let mut cache: Vec<HashSet<u32>> = vec![HashSet::new(); p.devices + 1];
    let words = p.transfers.div_ceil(64);
    let mut past: Vec<Vec<u64>> = if p.naive {
        vec![vec![0u64; words]; p.devices]
    } else {
        Vec::new()
    };
    let mut out = Outcome::default();
    let hop_bytes = |n: &Node| (c.hop_1x2 + c.per_input * (n.inputs as usize - 1)) as u64;
    // What shipping a root costs: its source's bytes, and whether it is a re-issue (whose
    // check is two signatures, `check_reissue`).
    let root_bytes = |n: &Node| -> (u64, bool) {
        if n.burned == 0 {
            (c.root as u64, false)
        } else {
            (
                (c.reissue_root + c.reissue_per_burned * (n.burned as usize - 1)) as u64,
                true,
            )
        }
    };
    // Walks parcel `id`'s line back until `known` holds an ancestor (or to its root):
    // (hops, bytes with the root's, signers, a re-issued root shipped), and marks every
    // parcel walked as known.
    let ship = |nodes: &[Node], id: u32, known: &mut HashSet<u32>, signers: &mut HashSet<u32>| {
        let (mut hops, mut bytes, mut reissued) = (0u32, 0u64, false);
        let mut cur = id;
        loop {
            if !known.insert(cur) {
                break;
            }
            let n = &nodes[cur as usize];
            if n.parent == ROOT {
                let (b, r) = root_bytes(n);
                bytes += b;
                reissued = r;
                break;
            }
            hops += 1;
            bytes += hop_bytes(n);
            signers.insert(n.signer);
            cur = n.parent;
        }
        (hops, bytes, reissued)
    };
    for t in 0..p.transfers {
        let mut payer = payers.draw(&mut rng) as usize;
        let mut tries = 0;
        while balance[payer] == 0 && tries < 16 {
            payer = payers.draw(&mut rng) as usize;
            tries += 1;
        }
        let mut payee = payees.draw(&mut rng) as usize;
        if payee == payer {
            payee = (payee + 1) % p.devices;
        }
        if balance[payer] == 0 {
            continue;
        }
        let want = 1 + rng.below(balance[payer] / 4 + 1).min(balance[payer] - 1);
        // Coin selection: shortest lineage first, at most 64 inputs.
        let h = &mut held[payer];
        h.sort_by_key(|i| (nodes[*i as usize].hops, *i));
        let mut take = Vec::new();
        let mut sum = 0u64;
        for &i in h.iter() {
            if sum >= want || take.len() == MAX_INPUTS {
                break;
            }
            take.push(i);
            sum += nodes[i as usize].amount;
        }
        let amount = want.min(sum);
        h.retain(|i| !take.contains(i));
        // The receiver checks every input's line (cold: all of it; warm: since its cache).
        let (mut cold_h, mut cold_b, mut warm_h, mut warm_b) = (0u32, 0u64, 0u32, 0u64);
        let mut warm_reissues = 0u32;
        let mut cold_signers = HashSet::new();
        let mut warm_signers = HashSet::new();
        for &i in &take {
            let (hh, bb, _) = ship(&nodes, i, &mut HashSet::new(), &mut cold_signers);
            cold_h += hh;
            cold_b += bb;
            let (hh, bb, reissued) = ship(&nodes, i, &mut cache[payee], &mut warm_signers);
            warm_h += hh;
            warm_b += bb;
            warm_reissues += u32::from(reissued);
        }
        cold_b += c.identity as u64 * cold_signers.len() as u64;
        warm_b += c.identity as u64 * warm_signers.len() as u64;
        // Outputs: every input to the payee but the last, which splits.
        let k = take.len() as u8;
        let mut left = amount;
        for &i in &take {
            let n = nodes[i as usize];
            let to_payee = n.amount.min(left);
            left -= to_payee;
            for (to, a) in [(payee, to_payee), (payer, n.amount - to_payee)] {
                if a == 0 {
                    continue;
                }
                nodes.push(Node {
                    parent: i,
                    hops: n.hops + 1,
                    inputs: k,
                    signer: payer as u32,
                    amount: a,
                    burned: 0,
                });
                let id = nodes.len() as u32 - 1;
                held[to].push(id);
                if to == payee {
                    cache[payee].insert(id);
                }
            }
        }
        balance[payer] -= amount;
        balance[payee] += amount;
        out.payments += 1;
        out.hops_cold.push(cold_h);
        out.hops_warm.push(warm_h);
        out.bytes_cold.push(cold_b);
        out.bytes_warm.push(warm_b);
        out.check_warm_us.push(
            ((f64::from(warm_h) * c.check_hop + f64::from(warm_reissues) * c.check_reissue) * 1e6)
                as u64,
        );
        out.inputs.push(take.len() as u32);
        if p.naive {
            let (a, b) = (payer.min(payee), payer.max(payee));
            let (lo, hi) = past.split_at_mut(b);
            let (src, dst) = if payer < payee {
                (&lo[a], &mut hi[0])
            } else {
                (&hi[0], &mut lo[a])
            };
            out.naive_past
                .push(src.iter().map(|w| w.count_ones()).sum::<u32>());
            for (d, s) in dst.iter_mut().zip(src.iter()) {
                *d |= *s;
            }
            past[payer][t / 64] |= 1 << (t % 64);
            past[payee][t / 64] |= 1 << (t % 64);
        }
        if p.refresh {
            for d in [payee, payer] {
                let fragmented = held[d].len() > p.rule.parcels;
                let deep = held[d]
                    .iter()
                    .any(|i| nodes[*i as usize].hops > p.rule.hops);
                if !(fragmented || deep) || held[d].is_empty() {
                    continue;
                }
                let mut signers = HashSet::new();
                for &i in &held[d] {
                    out.refresh_hops +=
                        u64::from(ship(&nodes, i, &mut cache[p.devices], &mut signers).0);
                }
                let total: u64 = held[d].iter().map(|i| nodes[*i as usize].amount).sum();
                nodes.push(Node {
                    parent: ROOT,
                    hops: 0,
                    inputs: 1,
                    signer: d as u32,
                    amount: total,
                    burned: held[d].len().min(MAX_INPUTS) as u8,
                });
                held[d] = vec![nodes.len() as u32 - 1];
                out.refreshes += 1;
            }
        }
    }
    let held_total: u64 = held
        .iter()
        .flatten()
        .map(|i| nodes[*i as usize].amount)
        .sum();
    out.conserved = held_total == START * p.devices as u64
        && held
            .iter()
            .zip(&balance)
            .all(|(h, b)| h.iter().map(|i| nodes[*i as usize].amount).sum::<u64>() == *b);
    out.max_held = held.iter().map(Vec::len).max().unwrap_or(0);
    // Stored lineage per held parcel: a sample of wallets, shared prefixes once.
    let (mut bytes, mut parcels) = (0u64, 0usize);
    for d in (0..p.devices).step_by((p.devices / 100).max(1)) {
        let mut seen = HashSet::new();
        let mut signers = HashSet::new();
        for &i in &held[d] {
            let (_, b, _) = ship(&nodes, i, &mut seen, &mut signers);
            bytes += b;
        }
        bytes += c.identity as u64 * signers.len() as u64;
        parcels += held[d].len();
    }
    out.wallet_bytes_per_parcel = bytes as f64 / parcels.max(1) as f64;
    out
}

/// Median, p99 and max of `v` (sorted in place).
pub fn quantiles<T: Copy + Ord + Default>(v: &mut [T]) -> (T, T, T) {
    if v.is_empty() {
        return (T::default(), T::default(), T::default());
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

struct Roots;
impl RootVerifier for Roots {
    fn verify_root(&mut self, s: &[u8], _: Option<&DeviceId>) -> Result<RootFacts, String> {
        // The benchmark's roots: 32-byte once-key ‖ 32-byte holder ‖ u64be(amount).
        if s.len() != 72 {
            return Err("not a benchmark root".into());
        }
        Ok(RootFacts {
            once_key: Digest(s[..32].try_into().expect("32")),
            holder: DeviceId(Digest(s[32..64].try_into().expect("32"))),
            amount: Amount(u128::from(u64::from_be_bytes(
                s[64..].try_into().expect("8"),
            ))),
            token: TokenId::from_label("ECON"),
            burned: None,
        })
    }
}

/// Measures hop sizes and the per-hop check time for `suite` from real objects: a lineage
/// of `len` hops between two real devices, checked by `verify_lineage`.
pub fn hop_costs(suite: SuiteId, len: usize) -> Result<HopCosts, Error> {
    let devs: Vec<(SigningKey, DeviceIdentity)> = (0..2u8)
        .map(|n| {
            let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([40 + n; 32]));
            let identity = DeviceIdentity {
                genesis: GenesisDigest(tagged_hash(Tag::Genesis, &[b"economy", &[n]])),
                public_key: key.public_key().clone(),
            };
            (key, identity)
        })
        .collect();
    let ids: Vec<DeviceId> = devs.iter().map(|d| d.1.device_id()).collect();
    let mut root = [7u8; 32].to_vec();
    root.extend_from_slice(ids[0].as_bytes());
    root.extend_from_slice(&1_000_000u64.to_be_bytes());
    let mut cur = Parcel {
        id: root_id(&RootFacts {
            once_key: Digest([7; 32]),
            token: TokenId::from_label("ECON"),
            amount: Amount(1_000_000),
            holder: ids[0],
            burned: None,
        }),
        token: TokenId::from_label("ECON"),
        amount: Amount(1_000_000),
        holder: ids[0],
    };
    let mut hops = Vec::with_capacity(len);
    for k in 0..len {
        let from = k % 2;
        let to = 1 - from;
        let mut outputs = vec![
            ParcelOutput {
                input: 0,
                to: ids[to],
                amount: Amount(cur.amount.0 - 1),
            },
            ParcelOutput {
                input: 0,
                to: ids[from],
                amount: Amount(1),
            },
        ];
        outputs.sort_by_key(|o| o.to);
        let statement = ParcelStatement {
            holder: ids[from],
            inputs: vec![cur.id],
            outputs,
        };
        let rest = Digest(
            *tagged_hash(Tag::Fixture, &[b"economy-rest", &(k as u64).to_be_bytes()]).as_bytes(),
        );
        let hop = Hop::sign(&devs[from].0, statement, rest, &[k as u8; 32])?;
        let ids_out = hop.output_ids();
        let i = hop
            .statement
            .outputs
            .iter()
            .position(|o| o.to == ids[to])
            .expect("an output to the next holder");
        cur = Parcel {
            id: ids_out[i],
            token: cur.token,
            amount: hop.statement.outputs[i].amount,
            holder: ids[to],
        };
        hops.push(hop);
    }
    let lineage = Lineage {
        start: LineageStart::Root(root),
        hops,
        signers: devs.iter().map(|d| d.1.clone()).collect(),
        consumed: Vec::new(),
    };
    let cache = dsm_core::parcel::ParcelKnowledge::new();
    let start = Instant::now();
    let v = verify_lineage(&lineage, &cur.id, None, &mut Roots, &cache)?;
    let check = start.elapsed().as_secs_f64() / len as f64;
    assert_eq!(v.line().len(), len + 1);
    let one = lineage.hops[0].to_bytes().len();
    let mut wide = lineage.hops[0].statement.clone();
    for j in 1..4u8 {
        wide.inputs.push(ParcelId(Digest([0xf0 + j; 32])));
        wide.outputs.push(ParcelOutput {
            input: u32::from(j),
            to: ids[1],
            amount: Amount(1),
        });
        wide.outputs.push(ParcelOutput {
            input: u32::from(j),
            to: ids[0],
            amount: Amount(1),
        });
    }
    wide.inputs.sort();
    wide.outputs.sort_by_key(|o| (o.input, o.to));
    let four = wide.to_bytes().len() + (one - lineage.hops[0].statement.to_bytes().len());
    // A real one-issuer mint proof (statement and one cosignature by this suite's key), as
    // a lineage's root source travels.
    let statement = dsm_token::authority::MintStatement {
        token: TokenId::from_label("ECON"),
        seq: 7,
        minted_before: Amount(1_000_000),
        amount: Amount(1_000_000),
        recipient: ids[0],
        recipient_parent_head: dsm_core::chain::HeadDigest(Digest([5; 32])),
    };
    let cosignature = dsm_token::authority::cosign(&devs[1].0, 0, &statement.digest(), &[3; 32])
        .map_err(|e| e.to_string())?;
    let root_bytes = dsm_token::source::SourceProof {
        source: dsm_token::source::Source::Mint(dsm_token::authority::SignedMint {
            statement,
            signatures: vec![cosignature],
        }),
        allowlist: None,
        consumption: None,
    }
    .to_bytes()
    .len();
    // Real re-issued roots (§17.6): device 0's parcels burned, device 1 the one refresher.
    let policy = dsm_token::TokenPolicy {
        ticker: "ECON".into(),
        decimals: 0,
        kind: dsm_token::policy::TokenKind::Fungible,
        cap: Amount(u128::MAX),
        salt: Digest([9; 32]),
        issuers: Default::default(),
        burn: dsm_token::policy::BurnRule::Holder,
        transfers: dsm_token::policy::TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: None,
        bitcoin: None,
        refreshers: Some(dsm_token::policy::Issuers {
            threshold: 1,
            keys: vec![devs[1].0.public_key().clone()],
        }),
    };
    let reissue = |k: u8| -> Result<dsm_token::reissue::Reissue, Error> {
        let token = policy.token_id();
        let parcels: Vec<Parcel> = (0..k)
            .map(|j| Parcel {
                id: ParcelId(Digest([j; 32])),
                token,
                amount: Amount(1_000),
                holder: ids[0],
            })
            .collect();
        let burn = dsm_token::reissue::burn_statement(ids[0], &token, &parcels)?;
        let statement = dsm_token::reissue::statement_for(&token, &burn)?;
        let sig = dsm_token::authority::cosign(&devs[1].0, 0, &statement.digest(), &[4; 32])
            .map_err(|e| e.to_string())?;
        let hop = Hop::sign(
            &devs[0].0,
            burn,
            dsm_token::reissue::burn_rest(&token, &ids[0]),
            &[5; 32],
        )?;
        Ok(dsm_token::reissue::Reissue {
            signed: dsm_token::authority::Authorised {
                statement,
                signatures: vec![sig],
            },
            burn: hop,
            holder: devs[0].1.clone(),
        })
    };
    let size = |r: &dsm_token::reissue::Reissue| {
        dsm_token::source::SourceProof {
            source: dsm_token::source::Source::Reissue(Box::new(r.clone())),
            allowlist: None,
            consumption: None,
        }
        .to_bytes()
        .len()
    };
    let (r1, r33) = (reissue(1)?, reissue(33)?);
    let runs = if suite == SuiteId::MlDsa65 { 50 } else { 5 };
    let start = Instant::now();
    for _ in 0..runs {
        dsm_token::reissue::verify_reissue(&policy, &r1)?;
    }
    let check_reissue = start.elapsed().as_secs_f64() / f64::from(runs);
    Ok(HopCosts {
        hop_1x2: one,
        per_input: (four - one) / 3,
        identity: devs[0].1.to_bytes().len(),
        root: root_bytes,
        check_hop: check,
        reissue_root: size(&r1),
        reissue_per_burned: (size(&r33) - size(&r1)) / 32,
        check_reissue,
    })
}

/// `dsm bench economy`: prints the tables.
pub fn run(
    devices: &[usize],
    transfers: usize,
    seed: u64,
    window: usize,
    rule: RefreshRule,
) -> Result<(), Error> {
    if rule.parcels < 2 || rule.hops < 1 {
        return Err(format!(
            "--refresh-parcels {} --refresh-hops {}: a wallet re-issues above at least 2 parcels and 1 hop",
            rule.parcels, rule.hops
        )
        .into());
    }
    if let Some(d) = devices.iter().find(|d| !(2..=1_000_000).contains(*d)) {
        return Err(format!("--devices {d}: each economy needs 2 to 1,000,000 devices").into());
    }
    if !(1..=10_000_000).contains(&transfers) {
        return Err(format!(
            "--transfers {transfers}: from 1 to 10,000,000 payments (the model keeps every parcel in memory)"
        )
        .into());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; timings are meaningless. Use `cargo run --release -p dsm-cli -- bench economy`.");
    }
    println!("## Provenance: hop sizes and lineage checks (real objects)\n");
    println!("| suite | hop, 1 input → 2 outputs | + per extra input | identity (once per signer) | root source | check per hop (`verify_lineage`) | re-issued root, 1 parcel burned | + per parcel burned | check a re-issued root |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut costs = Vec::new();
    for (suite, len) in [(SuiteId::MlDsa65, 200), (SuiteId::SlhDsaSha2_128f, 20)] {
        let c = hop_costs(suite, len)?;
        println!(
            "| {} | {} B | {} B | {} B | {} B | {:.1} µs | {} B | {} B | {:.1} µs |",
            suite.name(),
            c.hop_1x2,
            c.per_input,
            c.identity,
            c.root,
            c.check_hop * 1e6,
            c.reissue_root,
            c.reissue_per_burned,
            c.check_reissue * 1e6
        );
        costs.push((suite, c));
    }
    let c = costs[0].1;
    let sample = if window > 0 && window < transfers {
        format!(", figures over the last {window}")
    } else {
        String::new()
    };
    println!(
        "\n## Economy: {transfers} power-law payments{sample}, ML-DSA-65 (seed {seed}), re-issue above {} parcels or {} hops\n",
        rule.parcels, rule.hops
    );
    println!("Per payment: hops checked and bytes shipped with a cold cache and with the receiver's cache (median / p99 / max), re-issued roots at their measured size; check time = hops × the measured per-hop time + re-issued roots × their measured check. Refresher hops = hops the refreshers checked (with their own cache), per payment. Naive = transfers in the payer's whole causal past.\n");
    println!("| devices | refresh | hops cold | hops warm | KiB warm | KiB cold | check warm (ms, p99) | cache hit | inputs (p99) | re-issues | refresher hops / payment | max parcels held | stored B / parcel | naive past (median / p99) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &d in devices {
        for refresh in [false, true] {
            let started = Instant::now();
            let naive = transfers as u64 * d as u64 <= 4_000_000_000;
            let mut o = simulate(
                Params {
                    devices: d,
                    transfers,
                    refresh,
                    rule,
                    seed,
                    naive,
                },
                &c,
            );
            if !o.conserved {
                return Err("the economy model lost or created value".into());
            }
            o.keep_last(window);
            let (sum_cold, sum_warm): (u64, u64) = (
                o.hops_cold.iter().map(|x| u64::from(*x)).sum(),
                o.hops_warm.iter().map(|x| u64::from(*x)).sum(),
            );
            let hit = 1.0 - sum_warm as f64 / sum_cold.max(1) as f64;
            let (hc5, hc99, hcm) = quantiles(&mut o.hops_cold);
            let (hw5, hw99, hwm) = quantiles(&mut o.hops_warm);
            let (bw5, bw99, bwm) = quantiles(&mut o.bytes_warm);
            let (bc5, bc99, bcm) = quantiles(&mut o.bytes_cold);
            let (_, in99, _) = quantiles(&mut o.inputs);
            let (_, cw99, _) = quantiles(&mut o.check_warm_us);
            let naive_txt = if naive {
                let (n5, n99, _) = quantiles(&mut o.naive_past);
                format!("{n5} / {n99}")
            } else {
                "not run (memory)".into()
            };
            let kib = |b: u64| b as f64 / 1024.0;
            println!(
                "| {d} | {} | {hc5} / {hc99} / {hcm} | {hw5} / {hw99} / {hwm} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.2} | {:.0} % | {in99} | {} ({:.1} %) | {:.2} | {} | {:.0} | {naive_txt} |",
                if refresh { "on" } else { "off" },
                kib(bw5), kib(bw99), kib(bwm),
                kib(bc5), kib(bc99), kib(bcm),
                cw99 as f64 / 1e3,
                hit * 100.0,
                o.refreshes,
                o.refreshes as f64 * 100.0 / o.payments.max(1) as f64,
                o.refresh_hops as f64 / o.payments.max(1) as f64,
                o.max_held,
                o.wallet_bytes_per_parcel,
            );
            eprintln!(
                "  economy {d} devices, refresh {}: {:.1} s",
                if refresh { "on" } else { "off" },
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs() -> HopCosts {
        HopCosts {
            hop_1x2: 3_500,
            per_input: 100,
            identity: 2_000,
            root: 3_500,
            check_hop: 0.0001,
            reissue_root: 10_000,
            reissue_per_burned: 100,
            check_reissue: 0.0002,
        }
    }

    #[test]
    fn the_model_conserves_value_and_refresh_bounds_lineages() {
        let p = Params {
            devices: 50,
            transfers: 3_000,
            refresh: false,
            rule: RefreshRule::default(),
            seed: 1,
            naive: true,
        };
        let off = simulate(p, &costs());
        assert!(off.conserved);
        assert_eq!(off.payments, off.hops_cold.len());
        let on = simulate(Params { refresh: true, ..p }, &costs());
        assert!(on.conserved);
        assert!(on.refreshes > 0, "refresh must trigger in a busy economy");
        // Warm never ships more than cold; with refresh no lineage passes the bound.
        for (w, c) in on.hops_warm.iter().zip(&on.hops_cold) {
            assert!(w <= c);
        }
        assert!(on.max_held <= p.rule.parcels + MAX_INPUTS * 2);
        let max_on = on.hops_cold.iter().max().copied().unwrap_or(0);
        let max_off = off.hops_cold.iter().max().copied().unwrap_or(0);
        assert!(max_on <= max_off, "{max_on} > {max_off}");
        // The naive causal past only grows.
        assert!(off.naive_past.iter().any(|n| *n > 0));
    }

    #[test]
    fn hop_costs_come_from_a_lineage_that_verifies() {
        let c = hop_costs(SuiteId::MlDsa65, 3).unwrap();
        assert!(
            c.hop_1x2 > 3_309,
            "an ML-DSA-65 signature alone is 3,309 bytes"
        );
        assert!(c.per_input > 32);
        assert!(c.check_hop > 0.0);
    }
}
