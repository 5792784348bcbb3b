//! Randomised simulation of three devices trading through an adversarial network: every
//! message may be dropped, duplicated, reordered or corrupted, any device may crash between
//! any two messages (restarting from its store), and receivers randomly refuse transfers
//! over a limit. After every session, value is conserved (balances plus amounts in flight);
//! at the end, after clean sync sessions, every pair agrees on its tip, nothing is pending
//! and every refused amount was released. Seeds are fixed; `DSM_SIM_SEEDS=N` runs more.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_protocol::message::{Close, SessionMessage};
use dsm_protocol::session::{Ledger, Session};
use dsm_wallet::store::MemoryStore;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
use std::collections::VecDeque;

struct Rng(u64, u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Node {
    wallet: Wallet,
    store: MemoryStore,
    limit: Option<u128>,
}

impl Node {
    fn restart(&mut self) {
        let mut w = Wallet::open(Box::new(self.store.clone()), PASS).unwrap();
        w.set_max_incoming(self.limit.map(Amount));
        self.wallet = w;
    }
}

const SUPPLY: u128 = 1500;

/// Balances plus what is debited but not yet credited anywhere.
fn total(nodes: &[Node]) -> u128 {
    let mut sum: u128 = nodes.iter().map(|n| dev(&n.wallet)).sum();
    for n in nodes {
        for p in n.wallet.pending().unwrap() {
            let commit = p.proposal.commit();
            let receiver = nodes
                .iter()
                .find(|m| m.wallet.device_id() == p.proposal.step.receiver)
                .unwrap();
            if receiver.wallet.acceptance_for(&commit).unwrap().is_none() {
                sum += p.proposal.step.amount.0;
            }
        }
    }
    sum
}

/// One session between nodes `i` (pays) and `j`, through the faulty network. A crash drops
/// the crashed side's in-memory state; it restarts from its store.
fn session_between(
    nodes: &mut [Node],
    i: usize,
    j: usize,
    amounts: Vec<u128>,
    rng: &mut Rng,
    faults: bool,
) {
    let peer = nodes[j].wallet.device_id();
    let mut d = Session::dialer(
        peer,
        amounts
            .into_iter()
            .map(|a| (token(DEFAULT_TOKEN), Amount(a)))
            .collect(),
    );
    let mut l = Session::listener();
    let mut to: [VecDeque<Vec<u8>>; 2] = [VecDeque::new(), VecDeque::new()]; // [to dialer, to listener]
    match d.start(&mut nodes[i].wallet) {
        Ok(out) => to[1].extend(out.iter().map(|m| m.to_bytes())),
        Err(_) => return,
    }
    for _ in 0..60 {
        let side = if !to[1].is_empty() && (to[0].is_empty() || rng.chance(50)) {
            1
        } else if !to[0].is_empty() {
            0
        } else {
            break;
        };
        let mut bytes = to[side].pop_front().unwrap();
        if faults {
            if rng.chance(8) {
                continue; // dropped
            }
            if rng.chance(5) {
                to[side].push_front(bytes.clone()); // duplicated
            }
            if rng.chance(5) && !to[side].is_empty() {
                let next = to[side].pop_front().unwrap();
                to[side].push_front(bytes);
                bytes = next; // reordered
            }
            if rng.chance(4) {
                let k = rng.below(bytes.len() as u64) as usize;
                bytes[k] ^= 1 << rng.below(8); // corrupted
            }
            if rng.chance(4) {
                // The receiving device crashes before handling this message.
                let who = if side == 1 { j } else { i };
                nodes[who].restart();
                rng.1 += 1;
                return;
            }
        }
        let (session, who) = if side == 1 { (&mut l, j) } else { (&mut d, i) };
        let reply = match SessionMessage::from_bytes(&bytes) {
            Ok(m) => match session.handle(m, &mut nodes[who].wallet) {
                Ok(out) => out,
                Err(_) => vec![SessionMessage::Close(Close)],
            },
            Err(_) => {
                session.abort(dsm_protocol::session::SessionError::Over);
                vec![SessionMessage::Close(Close)]
            }
        };
        to[1 - side].extend(reply.iter().map(|m| m.to_bytes()));
    }
}

/// Returns (transfers received, transfers refused, crashes) for the coverage check.
fn simulate(seed: u64) -> (usize, usize, u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1, 0);
    let mut nodes: Vec<Node> = [1000u128, 500, 0]
        .into_iter()
        .map(|funds| {
            let (wallet, store) = memory_wallet(funds);
            Node {
                wallet,
                store,
                limit: None,
            }
        })
        .collect();
    for n in nodes.iter_mut() {
        n.limit = if rng.chance(50) {
            Some(50 + rng.below(150) as u128)
        } else {
            None
        };
        n.wallet.set_max_incoming(n.limit.map(Amount));
    }
    for step in 0..25 {
        let i = rng.below(3) as usize;
        let j = (i + 1 + rng.below(2) as usize) % 3;
        let count = rng.below(3) as usize;
        let amounts = (0..count).map(|_| 1 + rng.below(120) as u128).collect();
        session_between(&mut nodes, i, j, amounts, &mut rng, true);
        assert_eq!(
            total(&nodes),
            SUPPLY,
            "seed {seed} step {step}: value conserved"
        );
    }
    // Calm network: every pair syncs in both directions until nothing is pending.
    for _round in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    session_between(&mut nodes, i, j, vec![], &mut rng, false);
                }
            }
        }
    }
    for i in 0..3 {
        for j in (i + 1)..3 {
            let (a, b) = (&nodes[i].wallet, &nodes[j].wallet);
            assert_eq!(
                tip(a, b),
                tip(b, a),
                "seed {seed}: tips of {i} and {j} agree"
            );
        }
        assert!(
            nodes[i].wallet.pending().unwrap().is_empty(),
            "seed {seed}: node {i} has nothing pending"
        );
    }
    assert_eq!(
        nodes.iter().map(|n| dev(&n.wallet)).sum::<u128>(),
        SUPPLY,
        "seed {seed}: supply intact"
    );
    let sum = |kind: dsm_wallet::EntryKind| -> u128 {
        nodes
            .iter()
            .flat_map(|n| n.wallet.history().unwrap())
            .filter(|e| e.kind == kind)
            .map(|e| e.amount.unwrap().0)
            .sum()
    };
    assert_eq!(
        sum(dsm_wallet::EntryKind::Refused),
        sum(dsm_wallet::EntryKind::Released),
        "seed {seed}: refused = released"
    );
    let sent_final: u128 = nodes
        .iter()
        .flat_map(|n| n.wallet.history().unwrap())
        .filter(|e| {
            e.kind == dsm_wallet::EntryKind::Sent && e.status == dsm_wallet::LineStatus::Final
        })
        .map(|e| e.amount.unwrap().0)
        .sum();
    assert_eq!(
        sent_final,
        sum(dsm_wallet::EntryKind::Received),
        "seed {seed}: every final send was received exactly once"
    );
    let count = |kind: dsm_wallet::EntryKind| {
        nodes
            .iter()
            .flat_map(|n| n.wallet.history().unwrap())
            .filter(|e| e.kind == kind)
            .count()
    };
    (
        count(dsm_wallet::EntryKind::Received),
        count(dsm_wallet::EntryKind::Refused),
        rng.1,
    )
}

#[test]
fn random_sessions_through_an_adversarial_network() {
    let seeds: u64 = std::env::var("DSM_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let (mut received, mut refused, mut crashes) = (0, 0, 0);
    for seed in 0..seeds {
        let (r, x, c) = simulate(seed);
        received += r;
        refused += x;
        crashes += c;
    }
    // The run is not vacuous: transfers, refusals and crashes all happened.
    assert!(
        received > 10 && refused > 0 && crashes > 0,
        "received {received}, refused {refused}, crashes {crashes}"
    );
}
