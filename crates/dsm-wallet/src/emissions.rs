//! DJTE through storage nodes (PROTOCOL.md §17.4.4): a token's emission vault chain lives
//! in write-once slots — step `e` in slot `(token id, digest of D_e)` — so the first
//! successor of each state wins, as for device anchors. Any wallet replays the chain from
//! `D_0`, verifying every step with its join gate, and credits the emissions it won.

use crate::nodes::{Anchor, NodeSet};
use crate::online::OnlineError;
use crate::wallet::{EmissionSync, Wallet, WalletError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::identity::DeviceId;
use dsm_token::djte::{verify_step, EmissionLedger, EmissionStep};

/// What a join did.
#[derive(Clone, Debug)]
pub struct JoinReport {
    /// The emission index of this device's join.
    pub index: u64,
    /// Who the join paid, and how much (`None`: nobody was active, or the vault is empty).
    pub winner: Option<(DeviceId, Amount)>,
    /// How many placed nodes hold the step (settled at W).
    pub acks: usize,
    /// Whether W nodes hold it.
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

/// [`sync_emissions`], also returning the vault as rebuilt and extended.
fn sync_ledger(
    w: &mut Wallet,
    nodes: &NodeSet,
    token: &TokenId,
) -> Result<(EmissionSync, EmissionLedger), OnlineError> {
    let mut ledger = w.emission_ledger(token)?;
    let mut new_steps = 0;
    let mut credited = Vec::new();
    loop {
        let state = ledger.state().digest();
        let (bytes, _faults) = nodes.read_slot(token.as_bytes(), state.as_bytes())?;
        let Some(bytes) = bytes else { break };
        let step = EmissionStep::from_bytes(&bytes).map_err(|e| {
            wallet_err(format!(
                "the nodes hold an undecodable emission step after state {}: {e}",
                state
            ))
        })?;
        let em = w.record_emission(&mut ledger, &step).map_err(|e| {
            wallet_err(format!(
                "the emission step after state {state} does not verify: {e}"
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
/// storage operators, builds the step on the latest vault state and writes it to that
/// state's slot. When another device's step took the slot first, learns it and tries
/// again on the new state (up to 8 times).
pub fn join(w: &mut Wallet, nodes: &NodeSet, token: &TokenId) -> Result<JoinReport, OnlineError> {
    let policy = w.token_rules().policy(token).cloned().ok_or_else(|| {
        wallet_err("this wallet holds no policy for that token; import it first".into())
    })?;
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
        let bytes = step.to_bytes();
        let is_rival = |b: &[u8]| {
            EmissionStep::from_bytes(b)
                .is_ok_and(|s| verify_step(&policy, &state, &s, true).is_ok())
        };
        let report = nodes.anchor(
            token.as_bytes(),
            state.digest().as_bytes(),
            &bytes,
            &is_rival,
        )?;
        match report.outcome {
            Anchor::Settled { acks } | Anchor::Unsettled { acks } => {
                let em = w.record_emission(&mut ledger, &step)?;
                return Ok(JoinReport {
                    index: em.index,
                    winner: em.winner,
                    acks,
                    settled: acks >= nodes.params().w(),
                    synced,
                });
            }
            // Someone else's join took this state's slot: learn it and go again.
            Anchor::Conflict { .. } => continue,
        }
    }
    Err(wallet_err(
        "eight other joins won the race in a row; run `dsm token join` again".into(),
    ))
}
