//! DJTE through storage nodes (PROTOCOL.md §17.4.4): the step after vault state `D_e` is the
//! entry of candidate list [`emission_list`]`(D_e)` (§15.3), sealed under `D_e`, that is the
//! first valid one at W of the list's N nodes. Anyone who passes the join gate may append a step, and so may
//! a stranger append junk, which every reader skips. Any wallet replays the chain from
//! `D_0`, verifying every step with its join gate, and credits the emissions it won.

use crate::nodes::{Candidacy, NodeSet};
use crate::online::OnlineError;
use crate::wallet::{EmissionSync, Wallet, WalletError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::identity::DeviceId;
use dsm_token::djte::{
    emission_list, open_step, seal_step, verify_step, EmissionLedger, EmissionState,
};
use dsm_token::policy::TokenPolicy;

/// What a join did.
#[derive(Clone, Debug)]
pub struct JoinReport {
    /// The emission index of this device's join.
    pub index: u64,
    /// Who the join paid, and how much (`None`: nobody was active, or the vault is empty).
    pub winner: Option<(DeviceId, Amount)>,
    /// At how many placed nodes the step is the first valid entry (settled at W).
    pub acks: usize,
    /// Whether it is first at W nodes. When not, it is not recorded yet: the next
    /// [`sync_emissions`] completes it (or learns the step that won instead).
    pub settled: bool,
    /// Steps by other devices learned (and verified) before this one landed.
    pub synced: usize,
}

fn wallet_err(msg: String) -> OnlineError {
    OnlineError::Wallet(WalletError::Token(msg))
}

/// Reads `token`'s vault chain from the nodes past what this wallet verified, verifies and
/// stores each step, and credits every emission this device won.
pub fn sync_emissions(
    w: &mut Wallet,
    nodes: &NodeSet,
    token: &TokenId,
) -> Result<EmissionSync, OnlineError> {
    Ok(sync_ledger(w, nodes, token)?.0)
}

/// Whether `bytes` are a step that verifies from `state` under `policy`, join gate
/// included: the one check by which a reader tells a step from junk in a candidate list.
fn is_step(policy: &TokenPolicy, state: &EmissionState, bytes: &[u8]) -> bool {
    open_step(state, bytes).is_some_and(|s| verify_step(policy, state, &s, true).is_ok())
}

fn policy_of(w: &Wallet, token: &TokenId) -> Result<TokenPolicy, OnlineError> {
    w.token_rules().policy(token).cloned().ok_or_else(|| {
        wallet_err("this wallet holds no policy for that token; import it first".into())
    })
}

/// [`sync_emissions`], also returning the vault as rebuilt and extended. Stops at the first
/// state whose next step is not settled yet (after copying the leading step to the nodes
/// that lack it, [`NodeSet::settle_candidates`]).
fn sync_ledger(
    w: &mut Wallet,
    nodes: &NodeSet,
    token: &TokenId,
) -> Result<(EmissionSync, EmissionLedger), OnlineError> {
    let policy = policy_of(w, token)?;
    let mut ledger = w.emission_ledger(token)?;
    let mut new_steps = 0;
    let mut credited = Vec::new();
    loop {
        let state = ledger.state().clone();
        let valid = |b: &[u8]| is_step(&policy, &state, b);
        let (topic, key) = emission_list(&state);
        let report = nodes.settle_candidates(topic.as_bytes(), key.as_bytes(), &valid)?;
        let Candidacy::Settled { winner, .. } = report.outcome else {
            break;
        };
        let step = open_step(&state, &winner).ok_or_else(|| {
            wallet_err(format!(
                "the emission step after state {} does not open",
                state.digest()
            ))
        })?;
        let em = w.record_emission(&mut ledger, &step).map_err(|e| {
            wallet_err(format!(
                "the emission step after state {} does not verify: {e}",
                state.digest()
            ))
        })?;
        if let Some((winner, a)) = em.winner {
            if winner == w.device_id() {
                credited.push((em.index, a));
            }
        }
        new_steps += 1;
    }
    credited.extend(w.credit_pending_emissions(token)?);
    let sync = EmissionSync {
        new_steps,
        state: ledger.state().clone(),
        credited,
    };
    Ok((sync, ledger))
}

/// Joins `token`'s emissions: proves the join gate with this wallet's payments to the
/// storage operators, builds the step on the latest vault state and proposes it in that
/// state's candidate list. When another device's step came first, learns it and tries
/// again on the new state (up to 8 times).
pub fn join(w: &mut Wallet, nodes: &NodeSet, token: &TokenId) -> Result<JoinReport, OnlineError> {
    let policy = policy_of(w, token)?;
    let gate = policy
        .djte
        .as_ref()
        .ok_or_else(|| wallet_err(format!("{} has no emissions to join", policy.ticker)))?
        .gate
        .clone();
    let payments = w.gate_payments(&gate)?;
    let mut synced = 0;
    for _ in 0..8 {
        let (sync, mut ledger) = sync_ledger(w, nodes, token)?;
        synced += sync.new_steps;
        if ledger.has_joined(&w.device_id()) {
            return Err(wallet_err(format!(
                "this device has already joined {}'s emissions",
                policy.ticker
            )));
        }
        let step = ledger
            .prepare(w.device_id(), payments.clone())
            .map_err(WalletError::from)?;
        // Check it ourselves first: a gate the policy refuses must not reach the nodes.
        verify_step(&policy, ledger.state(), &step, true).map_err(WalletError::from)?;
        let state = ledger.state().clone();
        let bytes = seal_step(&state, &step);
        let valid = |b: &[u8]| is_step(&policy, &state, b);
        let (topic, key) = emission_list(&state);
        let report = nodes.propose_candidate(topic.as_bytes(), key.as_bytes(), &bytes, &valid)?;
        match report.outcome {
            Candidacy::Settled { winner, firsts } if winner == bytes => {
                let em = w.record_emission(&mut ledger, &step)?;
                return Ok(JoinReport {
                    index: em.index,
                    winner: em.winner,
                    acks: firsts,
                    settled: true,
                    synced,
                });
            }
            Candidacy::Open {
                leading: Some((lead, firsts)),
            } if lead == bytes => {
                // Ours leads but is not first at W nodes (some are down): recorded only once
                // it settles, by a later sync.
                let em = ledger
                    .clone()
                    .apply(&step, true)
                    .map_err(WalletError::from)?;
                return Ok(JoinReport {
                    index: em.index,
                    winner: em.winner,
                    acks: firsts,
                    settled: false,
                    synced,
                });
            }
            Candidacy::Open { leading: None } => {
                return Err(wallet_err(
                    "no storage node took the emission step; check `dsm node list` and try again"
                        .into(),
                ))
            }
            // Another join came first: learn it (the next sync settles it) and go again.
            _ => continue,
        }
    }
    Err(wallet_err(
        "eight other joins won the race in a row; run `dsm token join` again".into(),
    ))
}
