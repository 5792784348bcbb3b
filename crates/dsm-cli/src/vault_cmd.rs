//! `dsm vault …`: deterministic limbo vaults from TOML policy files — create, import, list,
//! show, claim and refund (PROTOCOL.md §18).

use crate::online_cmd::{node_set, online_error, replication_hint};
use crate::wallet_cmd::{
    input, money, parse_token_amount, party, peer_name, short, token_view, with, Ctx, Res,
};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{PublicKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_token::vault::{Branch, Condition, VaultDocument};
use dsm_wallet::online::vaults;
use dsm_wallet::online::OnlineError;
use dsm_wallet::{VaultStatus, Wallet, WitnessMaterial};
use serde_json::json;
use sha2::Digest as _;
use std::path::{Path, PathBuf};

pub const VAULT_HELP: &str = "\
The vault file is TOML: what is locked, for whom, and the two branches' conditions.

  token = \"GOLD\"                  # ticker or id of a token this wallet holds
  amount = 100                     # in the token's units: \"1.50\" for 2 decimals
  beneficiary = \"bob\"             # contact name or device id: who may claim the release
  [release]                        # one condition per table:
  sha256 = \"<64 hex>\"             #   sha256 / blake3 = hash of a preimage (hex), or
                                   #   sha256_of / blake3_of = \"text\" (hashed for you)
  [refund]                         # the creator takes it back when this holds:
  iterations = 1000000             #   sequential hash work anyone can verify (not time)

Other conditions: signatures = [\"self\", \"ml-dsa-65:<hex key>\"] with threshold = N
(keys from `dsm token issuer-key`), receipt = \"<proposal commit>\" (a DSM transfer that
must have happened), all = [{...}, {...}] and any = [{...}, {...}].

The lock names the beneficiary's slot owner, taken from its identity document (a v2 card,
fetched from the storage nodes once the beneficiary has synced): a contact known only by
an older card, or a bare device id, cannot be a beneficiary until then.";

fn hex32(s: &str, what: &str) -> Res<[u8; 32]> {
    let b = hex::decode(s).map_err(|_| input(format!("{what}: not hex")))?;
    b.try_into()
        .map_err(|_| input(format!("{what}: must be 32 bytes (64 hex digits)")))
}

fn key_ref(w: &Wallet, s: &str) -> Res<PublicKey> {
    if s == "self" {
        return Ok(w.identity().public_key.clone());
    }
    let bad = || {
        input(format!(
            "key {s:?}: write \"self\" or SUITE:HEX (from `dsm token issuer-key`)"
        ))
    };
    let (suite, hexkey) = s.split_once(':').ok_or_else(bad)?;
    let suite = match suite {
        "ml-dsa-65" => SuiteId::MlDsa65,
        "slh-dsa-sha2-128f" => SuiteId::SlhDsaSha2_128f,
        _ => return Err(bad()),
    };
    PublicKey::from_parts(suite, hex::decode(hexkey).map_err(|_| bad())?).map_err(|_| bad())
}

fn condition(w: &Wallet, v: &toml::Value, at: &str, depth: usize) -> Res<Condition> {
    let t = v.as_table().ok_or_else(|| {
        input(format!(
            "{at}: a condition is a table like {{ sha256 = \"…\" }}"
        ))
    })?;
    let kinds: Vec<&String> = t.keys().filter(|k| k.as_str() != "threshold").collect();
    if kinds.len() != 1 {
        return Err(input(format!("{at}: give exactly one of sha256, sha256_of, blake3, blake3_of, signatures, receipt, iterations, all, any")));
    }
    let k = kinds[0].as_str();
    let val = &t[k];
    let text = |v: &toml::Value| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| input(format!("{at}.{k}: a string")))
    };
    let list = |v: &toml::Value| -> Res<Vec<Condition>> {
        let items = v
            .as_array()
            .ok_or_else(|| input(format!("{at}.{k}: a list of conditions")))?;
        if depth >= dsm_token::vault::MAX_DEPTH {
            return Err(input(format!(
                "{at}: conditions nest at most {} levels",
                dsm_token::vault::MAX_DEPTH
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, c)| condition(w, c, &format!("{at}.{k}[{i}]"), depth + 1))
            .collect()
    };
    let c = match k {
        "sha256" => Condition::Sha256(hex32(&text(val)?, &format!("{at}.sha256"))?),
        "sha256_of" => Condition::Sha256(sha2::Sha256::digest(text(val)?.as_bytes()).into()),
        "blake3" => Condition::Blake3(hex32(&text(val)?, &format!("{at}.blake3"))?),
        "blake3_of" => Condition::Blake3(*blake3::hash(text(val)?.as_bytes()).as_bytes()),
        "receipt" => Condition::Receipt(Digest(hex32(&text(val)?, &format!("{at}.receipt"))?)),
        "iterations" => {
            let n = val
                .as_integer()
                .filter(|n| *n > 0)
                .ok_or_else(|| input(format!("{at}.iterations: a positive number")))?;
            Condition::Iterations(n as u64)
        }
        "signatures" => {
            let keys = val
                .as_array()
                .ok_or_else(|| input(format!("{at}.signatures: a list of keys")))?
                .iter()
                .map(|k| key_ref(w, k.as_str().unwrap_or("")))
                .collect::<Res<Vec<_>>>()?;
            let threshold = t
                .get("threshold")
                .and_then(toml::Value::as_integer)
                .unwrap_or(1);
            Condition::Signatures {
                threshold: u32::try_from(threshold)
                    .map_err(|_| input("threshold: a small positive number"))?,
                keys,
            }
        }
        "all" => Condition::All(list(val)?),
        "any" => Condition::Any(list(val)?),
        other => return Err(input(format!("{at}: unknown condition {other:?}"))),
    };
    c.validate().map_err(|e| input(format!("{at}: {e}")))?;
    Ok(c)
}

/// A condition in words.
pub fn describe(c: &Condition) -> String {
    match c {
        Condition::Signatures { threshold, keys } => {
            format!("{threshold} of {} signatures", keys.len())
        }
        Condition::Sha256(h) => format!("sha256 preimage of {}…", &hex::encode(h)[..12]),
        Condition::Blake3(h) => format!("blake3 preimage of {}…", &hex::encode(h)[..12]),
        Condition::Receipt(d) => format!("receipt of transfer {}…", &d.to_hex()[..12]),
        Condition::Iterations(n) => format!("{n} iterations of work"),
        Condition::Bitcoin(b) => format!(
            "a Bitcoin payment of ≥ {} sats, {} blocks deep",
            b.min_sats, b.chain.d_min
        ),
        Condition::All(cs) => format!(
            "({})",
            cs.iter().map(describe).collect::<Vec<_>>().join(" AND ")
        ),
        Condition::Any(cs) => format!(
            "({})",
            cs.iter().map(describe).collect::<Vec<_>>().join(" OR ")
        ),
    }
}

fn status_word(s: &VaultStatus) -> &'static str {
    match s {
        VaultStatus::Locked => "locked",
        VaultStatus::Resolved(Branch::Release) => "released",
        VaultStatus::Resolved(Branch::Refund) => "refunded",
        VaultStatus::Conflict => "CONFLICT",
    }
}

/// A `.dsmvault` file: the vault id (for people) and the canonical `VaultDocument` (the lock,
/// its consuming statement and the consumed parcels' lineages, PROTOCOL.md §18.2) in hex.
fn document(doc: &VaultDocument) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "vault": doc.lock.policy.vault_id().to_hex(),
        "document": hex::encode(doc.to_bytes()),
    }))
    .expect("plain data")
}

/// `dsm vault create --policy FILE`.
pub fn create(ctx: &Ctx, policy: &Path, out: Option<PathBuf>, publish: bool) -> Res {
    if let Some(o) = &out {
        crate::token_cmd::writable(ctx, o)?;
    }
    let mut w = ctx.open()?;
    let text = std::fs::read_to_string(policy)
        .map_err(|e| input(format!("cannot read {}: {e}", policy.display())))?;
    let v: toml::Table =
        toml::from_str(&text).map_err(|e| input(format!("{}: {e}", policy.display())))?;
    for k in v.keys() {
        if !["token", "amount", "beneficiary", "release", "refund"].contains(&k.as_str()) {
            return Err(input(format!(
                "{}: unknown key {k:?} (see `dsm vault create --help`)",
                policy.display()
            )));
        }
    }
    let get = |k: &str| {
        v.get(k)
            .ok_or_else(|| input(format!("{}: missing {k}", policy.display())))
    };
    let token = w.resolve_token(
        get("token")?
            .as_str()
            .ok_or_else(|| input("token: a ticker or id"))?,
    )?;
    let view = token_view(&w, &token);
    let amount = match get("amount")? {
        toml::Value::Integer(i) => parse_token_amount(&view, &i.to_string())?,
        toml::Value::String(s) => parse_token_amount(&view, s)?,
        _ => return Err(input("amount: a number of the token, like 100 or \"1.50\"")),
    };
    let ben = get("beneficiary")?
        .as_str()
        .ok_or_else(|| input("beneficiary: a contact name or device id"))?;
    let beneficiary = match w.find_contact(ben)? {
        Some(c) => c.device_id()?,
        None => Digest::from_hex(ben)
            .map(DeviceId)
            .ok_or_else(|| input(format!("beneficiary {ben:?}: not a contact or device id")))?,
    };
    let release = condition(&w, get("release")?, "release", 0)?;
    let refund = condition(&w, get("refund")?, "refund", 0)?;
    let have = w.balance(&token);
    if have < amount {
        return Err(input(format!(
            "insufficient balance: you have {}, the vault needs {}",
            view.describe(have),
            view.describe(amount)
        )));
    }
    w.check_outgoing(&token, &beneficiary)?;
    let beneficiary_identity = beneficiary_identity(&mut w, &beneficiary, ben)?;
    let vault = w.create_vault(token, amount, &beneficiary_identity, release, refund)?;
    let lock = &vault.lock;
    let id = lock.policy.vault_id();
    let doc = document(&vault);
    let out =
        out.unwrap_or_else(|| PathBuf::from(format!("vault-{}.dsmvault", short(&id.to_hex()))));
    crate::token_cmd::write_file(ctx, &out, &doc)?;
    let published = if publish {
        if doc.len() > dsm_node::api::MAX_ITEM_LEN {
            return Err(input(format!(
                "the vault is locked and its document written to {}, but at {} bytes (the lock's parcels' lineages) it is larger than a storage-node object ({} bytes): hand the file to the beneficiary instead (refreshing before a lock keeps lineages short)",
                out.display(),
                doc.len(),
                dsm_node::api::MAX_ITEM_LEN
            )));
        }
        Some(crate::token_cmd::publish_document(&w, &doc)?)
    } else {
        None
    };
    ctx.print(
        |o| {
            writeln!(o, "locked {} in vault {} for {}", view.describe(amount), id.to_hex(), peer_name(&w, &beneficiary))?;
            writeln!(o, "  release: {}", describe(&lock.policy.release))?;
            writeln!(o, "  refund:  {}", describe(&lock.policy.refund))?;
            writeln!(o, "  vault document: {} (give it to the beneficiary: `dsm vault import {}`)", out.display(), out.display())?;
            if let Some(a) = &published {
                writeln!(o, "  published to the storage nodes: `dsm vault import --from-nodes {a}`")?;
            }
            Ok(())
        },
        with(
            json!({"vault": id.to_hex(), "file": out.display().to_string(), "published": published}),
            &[money(&view, amount), party(&w, &beneficiary)],
        ),
    )
}

/// `dsm vault import FILE | --from-nodes ADDR`.
pub fn import(ctx: &Ctx, file: Option<PathBuf>, from_nodes: Option<String>) -> Res {
    let mut w = ctx.open()?;
    let bytes = crate::token_cmd::read_document(&w, file, from_nodes, "vault create")?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        input(format!(
            "not a vault document (made by `dsm vault create`): {e}"
        ))
    })?;
    let doc_hex = doc["document"]
        .as_str()
        .ok_or_else(|| input("the file has no vault document (made by `dsm vault create`)"))?;
    let vault = VaultDocument::from_bytes(
        &hex::decode(doc_hex).map_err(|_| input("the vault document is not hex"))?,
    )
    .map_err(|e| input(format!("the vault document is refused: {e}")))?;
    let lock = vault.lock.clone();
    let id = w.import_vault(vault)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "imported vault {} — {} from {}",
                id.to_hex(),
                token_view(&w, &lock.policy.token).describe(lock.policy.amount),
                peer_name(&w, &lock.policy.creator.device_id())
            )?;
            writeln!(
                o,
                "  release (to {}): {}",
                peer_name(&w, &lock.policy.beneficiary),
                describe(&lock.policy.release)
            )?;
            writeln!(o, "  refund: {}", describe(&lock.policy.refund))
        },
        json!({"vault": id.to_hex()}),
    )
}

/// `dsm vault list`.
pub fn list(ctx: &Ctx) -> Res {
    let mut w = ctx.open()?;
    let mut vaults = w.vaults()?;
    if let Ok(nodes) = node_set(&w) {
        for v in &mut vaults {
            if let Ok(s) = vaults::sync_vault(&mut w, &nodes, &v.id) {
                v.status = s;
            }
        }
    }
    ctx.print(
        |o| {
            if vaults.is_empty() {
                return writeln!(o, "no vaults: `dsm vault create --policy FILE.toml` or `dsm vault import FILE`");
            }
            writeln!(o, "{:<18} {:>10} {:<8} {:<16} {:<16} {:<9} RELEASE / REFUND", "VAULT", "AMOUNT", "TOKEN", "CREATOR", "BENEFICIARY", "STATUS")?;
            for v in &vaults {
                let p = &v.lock.policy;
                let t = token_view(&w, &p.token);
                writeln!(o, "{:<18} {:>10} {:<8} {:<16} {:<16} {:<9} {} / {}", short(&v.id.to_hex()), t.amount_text(p.amount), t.label, peer_name(&w, &p.creator.device_id()), peer_name(&w, &p.beneficiary), status_word(&v.status), describe(&p.release), describe(&p.refund))?;
            }
            Ok(())
        },
        json!({"vaults": vaults.iter().map(|v| with(json!({"vault": v.id.to_hex(), "status": status_word(&v.status)}), &[money(&token_view(&w, &v.lock.policy.token), v.lock.policy.amount)])).collect::<Vec<_>>()}),
    )
}

/// `dsm vault claim|refund ID`.
pub fn resolve(
    ctx: &Ctx,
    id: &str,
    branch: Branch,
    preimages: &[String],
    preimages_hex: &[String],
    work: Option<u64>,
) -> Res {
    let mut w = ctx.open()?;
    let mut material = WitnessMaterial {
        preimages: preimages.iter().map(|p| p.as_bytes().to_vec()).collect(),
        max_work: work.unwrap_or(0),
        bitcoin: Vec::new(),
    };
    for h in preimages_hex {
        material
            .preimages
            .push(hex::decode(h).map_err(|_| input(format!("--preimage-hex {h:?}: not hex")))?);
    }
    let nodes = match w.nodes()?.is_empty() {
        true => None,
        false => Some(node_set(&w)?),
    };
    if let Some(n) = work.filter(|n| *n > 10_000_000) {
        if !ctx.json {
            tracing::info!("spending up to {n} iterations of work…");
        }
    }
    let r =
        vaults::resolve(&mut w, nodes.as_ref(), id, branch, &material).map_err(|e| match e {
            OnlineError::Wallet(dsm_wallet::WalletError::Token(m)) => input(m),
            OnlineError::Replication(r) => input(replication_hint(&r)),
            e => online_error(e),
        })?;
    let how = match r.acks {
        None => "offline (no storage nodes: final here; a competing resolution elsewhere would be a conflict)".to_string(),
        Some(a) => format!("the nodes' vault slot holds it ({a} nodes{})", if r.settled { ", settled" } else { "" }),
    };
    ctx.print(
        |o| writeln!(o, "{} vault {}: +{} — {how}", if branch == Branch::Release { "claimed" } else { "refunded" }, short(&r.id.to_hex()), r.amount),
        json!({"vault": r.id.to_hex(), "branch": vaults::name(branch), "amount": r.amount.0.to_string(), "acks": r.acks, "settled": r.settled}),
    )
}

/// `dsm vault show ID`.
pub fn show(ctx: &Ctx, id: &str) -> Res {
    let mut w = ctx.open()?;
    let mut v = w.find_vault(id)?;
    if let Ok(nodes) = node_set(&w) {
        if let Ok(s) = vaults::sync_vault(&mut w, &nodes, &v.id) {
            v.status = s;
        }
    }
    let p = &v.lock.policy;
    let t = token_view(&w, &p.token);
    ctx.print(
        |o| {
            writeln!(o, "vault {}", v.id.to_hex())?;
            writeln!(o, "  {} locked by {} (lock head {})", t.describe(p.amount), peer_name(&w, &p.creator.device_id()), short(&v.lock.lock_head.digest().digest().to_hex()))?;
            writeln!(o, "  release to {}: {}", peer_name(&w, &p.beneficiary), describe(&p.release))?;
            writeln!(o, "  refund to {}: {}", peer_name(&w, &p.creator.device_id()), describe(&p.refund))?;
            writeln!(o, "  status: {}", status_word(&v.status))
        },
        with(json!({"vault": v.id.to_hex(), "creator": p.creator.device_id().digest().to_hex(), "beneficiary": p.beneficiary.digest().to_hex(), "release": describe(&p.release), "refund": describe(&p.refund), "status": status_word(&v.status)}), &[money(&t, p.amount)]),
    )
}

/// The identity of a vault's beneficiary (PROTOCOL.md §18.1: the lock names its slot
/// owner): this device's own, or the one in the contact's identity document — fetched from
/// the storage nodes first when the wallet uses some and has not fetched it yet.
fn beneficiary_identity(w: &mut Wallet, device: &DeviceId, named: &str) -> Res<DeviceIdentity> {
    if *device == w.device_id() {
        return Ok(w.identity().clone());
    }
    if w.contact_identity(device)?.is_none() && !w.nodes()?.is_empty() {
        let nodes = node_set(w)?;
        // A node that is down only leaves the document missing, reported below.
        let _ = dsm_wallet::online::sync_documents(w, &nodes);
    }
    w.contact_identity(device)?.ok_or_else(|| {
        input(format!(
            "beneficiary {named:?}: this wallet holds no identity document of that device, which \
             the lock needs (it names the beneficiary's slot owner); add its v2 card \
             (`dsm contact add CARD`) and run `dsm sync` to fetch it"
        ))
    })
}
