//! Vault resolution through storage nodes (PROTOCOL.md §18.3): a resolution is written to
//! the vault's owned, first-writer-wins slot (`VaultPolicy::resolution_slot`: only a key of
//! one of its two parties may write it) before it is applied, so online a vault resolves
//! exactly once; a slot already holding a valid, different resolution means the vault is
//! taken, and this device learns that resolution instead.

use crate::nodes::{Anchor, NodeSet};
use crate::online::{OnlineError, Settlement};
use crate::wallet::{VaultStatus, Wallet, WalletError, WitnessMaterial};
use dsm_core::chain::Amount;
use dsm_core::hash::Digest;
use dsm_token::source::TokenRules;
use dsm_token::vault::{Branch, VaultResolution};

/// What resolving a vault did.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The vault.
    pub id: Digest,
    /// The amount credited to this device.
    pub amount: Amount,
    /// Placed nodes holding the resolution (`None`: no nodes, resolved offline).
    pub acks: Option<usize>,
    /// Whether W nodes hold it.
    pub settled: bool,
}

fn refuse(msg: String) -> OnlineError {
    OnlineError::Wallet(WalletError::Token(msg))
}

fn is_resolution_of(id: &Digest) -> impl Fn(&[u8]) -> bool + '_ {
    move |b: &[u8]| {
        VaultResolution::open(id, b)
            .and_then(|r| TokenRules::check_resolution(&r).ok())
            .is_some_and(|x| x == *id)
    }
}

/// Resolves the vault `id_prefix` by `branch` with a witness built from this device's key,
/// receipts and `material`. With nodes, the resolution must win the vault's slot first.
pub fn resolve(
    w: &mut Wallet,
    nodes: Option<&NodeSet>,
    id_prefix: &str,
    branch: Branch,
    material: &WitnessMaterial,
) -> Result<Resolved, OnlineError> {
    let info = w.find_vault(id_prefix)?;
    match info.status {
        VaultStatus::Locked => {}
        VaultStatus::Resolved(b) => {
            return Err(refuse(format!(
                "vault {} is already resolved by its {} branch",
                &info.id.to_hex()[..16],
                name(b)
            )))
        }
        VaultStatus::Conflict => {
            return Err(refuse(format!(
                "vault {} was resolved twice; its value is refused",
                &info.id.to_hex()[..16]
            )))
        }
    }
    if info.lock.policy.party(branch) != w.device_id() {
        return Err(refuse(format!(
            "the {} branch credits another device, not this one",
            name(branch)
        )));
    }
    // A resolution built before whose anchor did not reach a quorum is sent again as is, so
    // the nodes that took it see the same bytes.
    let r = match w.pending_resolution(&info.id)? {
        Some(p) if p.branch == branch => p,
        _ => {
            let witness = w.build_witness(&info.lock, branch, material)?;
            let r = VaultResolution {
                lock: info.lock.clone(),
                branch,
                witness,
            };
            if nodes.is_some() {
                w.set_pending_resolution(&r)?;
            }
            r
        }
    };
    let (acks, settled) = match nodes {
        None => (None, false),
        Some(nodes) => {
            // What the lock consumed must hold its slots first: a creator that spent a
            // locked parcel elsewhere too, and lost its slot, locked nothing (§5.6).
            let backing = w.vault_backing(&info.lock)?;
            let items = w.consumption_items(&backing)?;
            let mut faults = Vec::new();
            match crate::online::settle_items(w, nodes, &items, &mut faults)? {
                Settlement::Settled { .. } => {}
                Settlement::Unsettled { acks } => {
                    return Err(refuse(format!(
                        "the parcels vault {}'s lock consumed are held at only {acks} of the {} storage nodes needed; nothing was applied — run the command again when more nodes answer",
                        &info.id.to_hex()[..16],
                        nodes.params().w()
                    )))
                }
                other => {
                    return Err(refuse(format!(
                        "vault {} locked value that is refused at the storage nodes ({}): a parcel its lock consumed was spent elsewhere first, or descends from refused value; evidence stored, nothing applied",
                        &info.id.to_hex()[..16],
                        other.word()
                    )))
                }
            }
            let (owner, key) = info.lock.policy.resolution_slot();
            let put = w
                .sign_vault_write(&info.lock.policy, r.sealed())?
                .ok_or_else(|| refuse("this device is not a party of the vault".into()))?;
            let id = info.id;
            let judge = crate::online::resolution_judge(&r);
            let report = nodes.anchor_owned(&owner, &key, &put, &judge)?;
            let quorum = nodes.params().w();
            // Either party may resolve a vault: ours at W has won (a raced slot).
            match report.outcome.raced(&nodes.params()) {
                Anchor::Settled { acks } => (Some(acks), true),
                Anchor::Conflict { existing, .. } => {
                    let other = VaultResolution::open(&id, &existing)
                        .ok_or_else(|| refuse("the vault's slot holds a resolution that does not open".into()))?;
                    // Recorded (a store failure stops here); conflicting or not, ours lost.
                    w.observe_vault_resolution(&other)?;
                    return Err(refuse(format!(
                        "vault {} is already resolved at the storage nodes by its {} branch",
                        &info.id.to_hex()[..16],
                        name(other.branch)
                    )));
                }
                Anchor::Unsettled { acks } => {
                    return Err(refuse(format!(
                        "only {acks} of the {quorum} storage nodes needed hold the resolution; nothing was applied — run the command again when more nodes answer"
                    )))
                }
            }
        }
    };
    let amount = w.resolve_vault(r)?;
    Ok(Resolved {
        id: info.id,
        amount,
        acks,
        settled,
    })
}

/// Reads the vault's slot at the nodes and records any resolution found (a different one
/// than this device saw makes the vault conflicted). Returns the status afterwards.
pub fn sync_vault(
    w: &mut Wallet,
    nodes: &NodeSet,
    id: &Digest,
) -> Result<VaultStatus, OnlineError> {
    let Some(info) = w.vaults()?.into_iter().find(|v| v.id == *id) else {
        return Ok(VaultStatus::Locked);
    };
    let (owner, key) = info.lock.policy.resolution_slot();
    let (put, _) = nodes.read_owned(&owner, &key)?;
    if let Some(p) = put {
        if is_resolution_of(id)(&p.body) {
            let r = VaultResolution::open(id, &p.body).ok_or_else(|| {
                refuse("the vault's slot holds a resolution that does not open".into())
            })?;
            w.observe_vault_resolution(&r)?;
        }
    }
    let info = w.vaults()?.into_iter().find(|v| v.id == *id);
    Ok(info.map(|v| v.status).unwrap_or(VaultStatus::Locked))
}

/// "release" or "refund".
pub fn name(b: Branch) -> &'static str {
    match b {
        Branch::Release => "release",
        Branch::Refund => "refund",
    }
}
