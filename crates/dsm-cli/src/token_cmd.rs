//! `dsm token …` and `dsm emissions`: CPTA policies from TOML files, mint, burn, DJTE joins
//! and the emission history with its proofs.

use crate::online_cmd::{node_set, online_error, replication_hint};
use crate::wallet_cmd::{exit, input, parse_amount, peer_name, short, CliError, Ctx, Res};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{PublicKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_token::authority::Cosignature;
use dsm_token::era::era_policy;
use dsm_token::policy::{
    allowlist_tree, BurnRule, DjteParams, InitialAllocation, Issuers, JoinGate, TokenKind,
    TokenPolicy, TransferRule,
};
use dsm_token::reissue::{ReissueRequest, MAX_REQUEST_LEN};
use dsm_wallet::online::{complete_refresh, sign_refresh, OnlineError, Settlement};
use dsm_wallet::Wallet;
use serde::Deserialize;
use serde_json::json;
use std::path::{Path, PathBuf};

/// A whole number written as a TOML integer or, above 2^63, a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Str(String),
}

impl Num {
    fn amount(&self, what: &str) -> Res<Amount> {
        match self {
            Num::Int(i) if *i > 0 => Ok(Amount(*i as u128)),
            Num::Int(_) => Err(input(format!("{what} must be greater than zero"))),
            Num::Str(s) => parse_amount(s).map_err(|e| input(format!("{what}: {}", e.msg))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateFile {
    operators: Vec<String>,
    k: u32,
    fee_token: String,
    fee: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DjteFile {
    shard_bits: u32,
    epoch0_emissions: u64,
    epoch0_amount: Num,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitialFile {
    to: String,
    amount: Num,
}

/// The TOML policy file (see `dsm token create --help`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    preset: Option<String>,
    ticker: Option<String>,
    decimals: Option<u32>,
    kind: Option<String>,
    cap: Option<Num>,
    burn: Option<String>,
    transfers: Option<String>,
    #[serde(default)]
    issuers: Vec<String>,
    threshold: Option<u32>,
    refreshers: Option<Vec<String>>,
    refresh_threshold: Option<u32>,
    allowlist: Option<Vec<String>>,
    #[serde(default)]
    initial: Vec<InitialFile>,
    djte: Option<DjteFile>,
    gate: Option<GateFile>,
    bitcoin: Option<BitcoinFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BitcoinFile {
    network: String,
    checkpoint_height: u32,
    checkpoint_header: String,
    d_min: u32,
    keeper: String,
    keeper_dsm: String,
}

/// What `dsm token create` writes and `dsm token import` reads: the canonical policy and
/// the allowlist members (if any), as JSON.
#[derive(serde::Serialize, Deserialize)]
struct PolicyDocument {
    token: String,
    ticker: String,
    policy: String,
    #[serde(default)]
    allowlist: Vec<String>,
}

fn device_ref(w: &Wallet, s: &str) -> Res<DeviceId> {
    if s == "self" {
        return Ok(w.device_id());
    }
    if let Some(c) = w.find_contact(s)? {
        return Ok(c.device_id()?);
    }
    Digest::from_hex(s).map(DeviceId).ok_or_else(|| {
        input(format!(
            "{s:?} is neither \"self\", a contact name, nor a 64-hex-digit device id"
        ))
    })
}

fn issuer_key(w: &Wallet, s: &str) -> Res<PublicKey> {
    if s == "self" {
        return Ok(w.identity().public_key.clone());
    }
    let bad = || {
        input(format!("issuer {s:?}: write \"self\" or SUITE:HEX (ml-dsa-65:… or slh-dsa-sha2-128f:…, the issuer's public key, printed by `dsm token issuer-key` on its device)"))
    };
    let (suite, hexkey) = s.split_once(':').ok_or_else(bad)?;
    let suite = match suite {
        "ml-dsa-65" => SuiteId::MlDsa65,
        "slh-dsa-sha2-128f" => SuiteId::SlhDsaSha2_128f,
        _ => return Err(bad()),
    };
    let bytes = hex::decode(hexkey).map_err(|_| bad())?;
    PublicKey::from_parts(suite, bytes).map_err(|_| bad())
}

/// A fresh salt from the operating system, so two policies with equal rules are two tokens.
fn random_salt() -> Res<Digest> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            format!("the operating system's random number generator failed: {e}"),
        )
    })?;
    Ok(Digest(b))
}

fn build_policy(w: &Wallet, f: PolicyFile) -> Res<(TokenPolicy, Vec<DeviceId>)> {
    let gate = match &f.gate {
        None => None,
        Some(g) => {
            let mut operators = g
                .operators
                .iter()
                .map(|o| device_ref(w, o))
                .collect::<Res<Vec<_>>>()?;
            operators.sort();
            operators.dedup();
            Some(JoinGate {
                operators,
                k: g.k,
                fee_token: w.resolve_token(&g.fee_token)?,
                fee: g.fee.amount("gate.fee")?,
            })
        }
    };
    let refreshers = match &f.refreshers {
        None if f.refresh_threshold.is_some() => {
            return Err(input("refresh_threshold needs a refreshers list"))
        }
        None => None,
        Some(r) => {
            let keys = r
                .iter()
                .map(|s| issuer_key(w, s))
                .collect::<Res<Vec<_>>>()?;
            Some(Issuers {
                threshold: f.refresh_threshold.unwrap_or(1),
                keys,
            })
        }
    };
    if f.preset.as_deref() == Some("era") {
        let gate = gate.ok_or_else(|| {
            input("preset = \"era\" needs a [gate] table: operators, k, fee_token, fee")
        })?;
        if f.ticker.is_some()
            || f.cap.is_some()
            || f.djte.is_some()
            || !f.initial.is_empty()
            || !f.issuers.is_empty()
        {
            return Err(input(
                "preset = \"era\" fixes every rule but the [gate] and the refreshers; remove the other settings",
            ));
        }
        // The network's refreshers, if it names any (PROTOCOL.md §17.5): an authority
        // that could inflate ERA, named in its policy for everyone to see.
        let mut p = era_policy(gate);
        p.refreshers = refreshers;
        p.validate().map_err(|e| input(e.to_string()))?;
        return Ok((p, Vec::new()));
    }
    if f.preset.as_deref() == Some("dbtc") {
        let b = f.bitcoin.ok_or_else(|| input("preset = \"dbtc\" needs a [bitcoin] table: network, checkpoint_height, checkpoint_header, d_min, keeper, keeper_dsm"))?;
        let network = match b.network.as_str() {
            "mainnet" => dsm_btc::BtcNetwork::Mainnet,
            "testnet" => dsm_btc::BtcNetwork::Testnet,
            "signet" => dsm_btc::BtcNetwork::Signet,
            "regtest" => dsm_btc::BtcNetwork::Regtest,
            n => {
                return Err(input(format!(
                    "bitcoin.network {n:?}: mainnet, testnet, signet or regtest"
                )))
            }
        };
        let bridge = dsm_token::dbtc::BitcoinBridge {
            chain: dsm_token::dbtc::BitcoinChain {
                network,
                checkpoint_height: b.checkpoint_height,
                checkpoint_header: hex::decode(&b.checkpoint_header)
                    .ok()
                    .and_then(|x| x.try_into().ok())
                    .ok_or_else(|| input("bitcoin.checkpoint_header: 80 bytes of hex"))?,
                d_min: b.d_min,
            },
            keeper: hex::decode(&b.keeper)
                .ok()
                .and_then(|x| x.try_into().ok())
                .ok_or_else(|| input("bitcoin.keeper: a 33-byte compressed public key in hex"))?,
            keeper_dsm: issuer_key(w, &b.keeper_dsm)?,
        };
        let p = dsm_token::dbtc::dbtc_policy(bridge);
        p.validate()
            .map_err(|e| input(format!("the policy is not valid: {e}")))?;
        return Ok((p, Vec::new()));
    }
    if let Some(p) = &f.preset {
        return Err(input(format!(
            "unknown preset {p:?}; the presets are \"era\" and \"dbtc\""
        )));
    }
    if let Some(t) = f.ticker.as_deref().filter(|t| RESERVED_TICKERS.contains(t)) {
        return Err(input(format!(
            "the ticker {t} is reserved for its preset (preset = \"{}\"); choose another ticker",
            t.to_ascii_lowercase()
        )));
    }
    let kind = match f.kind.as_deref().unwrap_or("fungible") {
        "fungible" => TokenKind::Fungible,
        "nft" => TokenKind::Nft,
        "soulbound" => TokenKind::Soulbound,
        k => return Err(input(format!("kind {k:?}: use fungible, nft or soulbound"))),
    };
    let burn = match f.burn.as_deref().unwrap_or("holder") {
        "nobody" => BurnRule::Nobody,
        "holder" => BurnRule::Holder,
        "issuers" => BurnRule::Issuers,
        b => return Err(input(format!("burn {b:?}: use nobody, holder or issuers"))),
    };
    let transfers = match f.transfers.as_deref().unwrap_or("free") {
        "free" => TransferRule::Free,
        "allowlist" => TransferRule::AllowlistOnly,
        t => return Err(input(format!("transfers {t:?}: use free or allowlist"))),
    };
    let keys = f
        .issuers
        .iter()
        .map(|s| issuer_key(w, s))
        .collect::<Res<Vec<_>>>()?;
    let threshold = f.threshold.unwrap_or(if keys.is_empty() { 0 } else { 1 });
    let mut initial = f
        .initial
        .iter()
        .map(|l| {
            Ok(InitialAllocation {
                device: device_ref(w, &l.to)?,
                amount: l.amount.amount("initial.amount")?,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    initial.sort_by_key(|l| l.device);
    let salt = random_salt()?;
    let members = match &f.allowlist {
        None => Vec::new(),
        Some(m) => m
            .iter()
            .map(|s| device_ref(w, s))
            .collect::<Res<Vec<_>>>()?,
    };
    let djte = match (f.djte, gate) {
        (None, None) => None,
        (Some(d), Some(gate)) => Some(DjteParams {
            shard_bits: d.shard_bits,
            epoch0_emissions: d.epoch0_emissions,
            epoch0_amount: d.epoch0_amount.amount("djte.epoch0_amount")?,
            gate,
        }),
        _ => return Err(input("emissions need both a [djte] and a [gate] table")),
    };
    let p = TokenPolicy {
        ticker: f
            .ticker
            .ok_or_else(|| input("the policy needs a ticker (2-8 capital letters)"))?,
        decimals: f.decimals.unwrap_or(0),
        kind,
        cap: f
            .cap
            .ok_or_else(|| input("the policy needs a cap"))?
            .amount("cap")?,
        salt,
        issuers: Issuers { threshold, keys },
        burn,
        transfers,
        allowlist: f
            .allowlist
            .as_ref()
            .map(|_| allowlist_tree(&salt, &members).root()),
        initial,
        djte,
        bitcoin: None,
        refreshers,
    };
    p.validate()
        .map_err(|e| input(format!("the policy is not valid: {e}")))?;
    Ok((p, members))
}

fn document(p: &TokenPolicy, members: &[DeviceId]) -> PolicyDocument {
    PolicyDocument {
        token: p.token_id().digest().to_hex(),
        ticker: p.ticker.clone(),
        policy: hex::encode(p.to_bytes()),
        allowlist: members.iter().map(|m| m.digest().to_hex()).collect(),
    }
}

pub(crate) fn parse_document(bytes: &[u8]) -> Res<(TokenPolicy, Vec<DeviceId>)> {
    let doc: PolicyDocument = serde_json::from_slice(bytes).map_err(|e| {
        input(format!(
            "not a token policy document (made by `dsm token create`): {e}"
        ))
    })?;
    let raw = hex::decode(&doc.policy).map_err(|_| input("the document's policy is not hex"))?;
    let p = TokenPolicy::from_bytes(&raw)
        .map_err(|e| input(format!("the policy bytes are refused: {e}")))?;
    if p.token_id().digest().to_hex() != doc.token {
        return Err(input(
            "the document's token id does not match its policy bytes",
        ));
    }
    let members = doc
        .allowlist
        .iter()
        .map(|h| {
            Digest::from_hex(h)
                .map(DeviceId)
                .ok_or_else(|| input("an allowlist member is not a device id"))
        })
        .collect::<Res<Vec<_>>>()?;
    Ok((p, members))
}

pub(crate) fn describe(p: &TokenPolicy) -> String {
    let kind = match p.kind {
        TokenKind::Fungible => "fungible",
        TokenKind::Nft => "nft",
        TokenKind::Soulbound => "soulbound",
    };
    if let Some(b) = &p.bitcoin {
        return format!(
            "{kind}, 1 unit = 1 satoshi in a Bitcoin HTLC ({:?}, {} confirmations), minted only by deposit proofs",
            b.chain.network, b.chain.d_min
        );
    }
    let mint = match p.issuers.threshold {
        0 => "no minting".to_string(),
        t => format!("mint by {t} of {} issuers", p.issuers.keys.len()),
    };
    let burn = match p.burn {
        BurnRule::Nobody => "no burning",
        BurnRule::Holder => "holders burn",
        BurnRule::Issuers => "burns need issuers",
    };
    let djte = match &p.djte {
        Some(d) => format!(
            ", DJTE emissions ({} shards, epoch 0: {} × {}; join: pay {} of {} operators ≥ {})",
            1u64 << d.shard_bits,
            d.epoch0_emissions,
            d.epoch0_amount,
            d.gate.k,
            d.gate.operators.len(),
            d.gate.fee
        ),
        None => String::new(),
    };
    format!(
        "{kind}, cap {}, {mint}, {burn}{}{djte}",
        p.cap,
        if p.allowlist.is_some() {
            ", allowlist"
        } else {
            ""
        }
    )
}

/// `dsm token create --policy FILE`.
pub fn create(ctx: &Ctx, policy_file: &Path, out: Option<PathBuf>, publish: bool) -> Res {
    let mut w = ctx.open()?;
    let text = std::fs::read_to_string(policy_file)
        .map_err(|e| input(format!("cannot read {}: {e}", policy_file.display())))?;
    let f: PolicyFile =
        toml::from_str(&text).map_err(|e| input(format!("{}: {e}", policy_file.display())))?;
    let (p, members) = build_policy(&w, f)?;
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.dsmpolicy",
            p.ticker,
            short(&p.token_id().digest().to_hex())
        ))
    });
    // Before the token exists: a document that cannot be written must not leave a token
    // nobody else can import.
    writable(ctx, &out)?;
    warn_if_ticker_taken(&w, &p);
    let allow = p.allowlist.is_some().then_some(members.as_slice());
    let (id, claimed) = w.import_policy(p.clone(), allow)?;
    let doc = serde_json::to_vec_pretty(&document(&p, &members)).expect("plain data");
    write_file(ctx, &out, &doc)?;
    let published = if publish {
        Some(publish_document(&w, &doc)?)
    } else {
        None
    };
    ctx.print(
        |o| {
            writeln!(o, "created token {} — id {}", p.ticker, id.digest().to_hex())?;
            writeln!(o, "  {}", describe(&p))?;
            writeln!(o, "  policy document: {} (give it to holders: `dsm token import {}`)", out.display(), out.display())?;
            if let Some(addr) = &published {
                writeln!(o, "  published to the storage nodes: `dsm token import --from-nodes {addr}`")?;
            }
            for a in &claimed {
                writeln!(o, "  claimed this device's initial allocation: {a} {}", p.ticker)?;
            }
            Ok(())
        },
        json!({"token": id.digest().to_hex(), "ticker": p.ticker, "file": out.display().to_string(), "published": published, "claimed": claimed.iter().map(|a| a.0.to_string()).collect::<Vec<_>>()}),
    )
}

/// Writes a document or evidence file the command produced.
/// Tickers only the network's presets may use.
const RESERVED_TICKERS: [&str; 2] = ["ERA", "DBTC"];

/// Warns when another token this wallet holds already shows as `p`'s ticker (both are then
/// shown with their ids), or when `p` takes a reserved ticker without being its preset.
fn warn_if_ticker_taken(w: &Wallet, p: &TokenPolicy) {
    let id = p.token_id();
    if let Some(other) = w
        .tokens()
        .iter()
        .find(|t| t.policy.ticker == p.ticker && t.id != id)
    {
        tracing::warn!(
            "this wallet already holds another token with the ticker {} (id {}); both are shown as TICKER#ID from now on, and commands need the id to tell them apart",
            p.ticker,
            short(&other.id.digest().to_hex())
        );
    }
    let preset = match p.ticker.as_str() {
        "ERA" => p.djte.is_some() && p.issuers.threshold == 0,
        "DBTC" => p.bitcoin.is_some(),
        _ => true,
    };
    if !preset {
        tracing::warn!(
            "this policy calls itself {} but is not built from that preset: it is not the network's {}",
            p.ticker,
            p.ticker
        );
    }
}

/// Refuses (exit 4) an output file that exists, unless the command was given `--force`:
/// checked before the command changes anything.
pub(crate) fn writable(ctx: &Ctx, out: &Path) -> Res {
    if !ctx.force && out.exists() {
        return Err(input(format!(
            "{} already exists; write to another file, or add --force to overwrite it",
            out.display()
        )));
    }
    Ok(())
}

/// Writes a file the command produces; an existing file is refused (exit 4) unless the
/// command was given `--force`.
pub(crate) fn write_file(ctx: &Ctx, out: &Path, bytes: &[u8]) -> Res {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if ctx.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            input(format!(
                "{} already exists; write to another file, or add --force to overwrite it",
                out.display()
            ))
        } else {
            CliError::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", out.display()),
            )
        }
    })?;
    file.write_all(bytes).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            format!("cannot write {}: {e}", out.display()),
        )
    })
}

/// Puts a document on the wallet's storage nodes, sealed under its address (PROTOCOL.md
/// §2, "Sealed objects": a node cannot read it, only whoever is given the address);
/// returns the address (hex).
pub(crate) fn publish_document(w: &Wallet, doc: &[u8]) -> Res<String> {
    let nodes = node_set(w)?;
    let (addr, _, _) = nodes
        .put_sealed_object(doc)
        .map_err(|e| input(replication_hint(&e)))?;
    Ok(addr.to_hex())
}

/// The bytes of a document given as a file, or fetched from the storage nodes by the
/// address `dsm <what> --publish` printed (accepted only if they hash to it).
pub(crate) fn read_document(
    w: &Wallet,
    file: Option<PathBuf>,
    from_nodes: Option<String>,
    what: &str,
) -> Res<Vec<u8>> {
    match (file, from_nodes) {
        (Some(f), None) => {
            std::fs::read(&f).map_err(|e| input(format!("cannot read {}: {e}", f.display())))
        }
        (None, Some(a)) => {
            let addr = Digest::from_hex(&a).ok_or_else(|| {
                input(format!(
                    "--from-nodes takes the 64-hex-digit address `dsm {what} --publish` printed"
                ))
            })?;
            let nodes = node_set(w)?;
            let (found, _) = nodes
                .find_sealed_object(&addr)
                .map_err(|e| input(replication_hint(&e)))?;
            // `find_sealed_object` returns only bytes that hash to the address.
            found.ok_or_else(|| {
                input(format!(
                    "no storage node holds a document at {a}: check the address, or ask its \
                     publisher to publish it again"
                ))
            })
        }
        _ => Err(input("give a document file, or --from-nodes ADDR")),
    }
}

/// `dsm token import FILE | --from-nodes ADDR`.
pub fn import(ctx: &Ctx, file: Option<PathBuf>, from_nodes: Option<String>) -> Res {
    let mut w = ctx.open()?;
    let bytes = read_document(&w, file, from_nodes, "token create")?;
    let (p, members) = parse_document(&bytes)?;
    warn_if_ticker_taken(&w, &p);
    let allow = p.allowlist.is_some().then_some(members.as_slice());
    let (id, claimed) = w.import_policy(p.clone(), allow)?;
    let view = crate::wallet_cmd::token_view(&w, &id);
    ctx.print(
        |o| {
            writeln!(o, "imported token {} — id {}", p.ticker, id.digest().to_hex())?;
            writeln!(o, "  {}", describe(&p))?;
            for a in &claimed {
                writeln!(o, "  claimed this device's initial allocation: {}", view.describe(*a))?;
            }
            Ok(())
        },
        json!({"token": view.label, "token_id": id.digest().to_hex(), "ticker": p.ticker, "decimals": p.decimals, "claimed": claimed.iter().map(|a| a.0.to_string()).collect::<Vec<_>>()}),
    )
}

/// `dsm token list`.
pub fn list(ctx: &Ctx) -> Res {
    let w = ctx.open_read_only()?;
    let tokens = w.tokens();
    let views = w.token_views()?;
    let view = |t: &dsm_wallet::wallet::TokenInfo| {
        views
            .get(&t.id)
            .cloned()
            .unwrap_or_else(|| crate::wallet_cmd::token_view(&w, &t.id))
    };
    ctx.print(
        |o| {
            if tokens.is_empty() {
                return writeln!(o, "no token policies yet: `dsm token create --policy FILE.toml` or `dsm token import FILE`");
            }
            writeln!(o, "{:<8} {:<18} {:>20}  RULES", "TICKER", "ID", "BALANCE")?;
            for t in &tokens {
                writeln!(o, "{:<8} {:<18} {:>20}  {}", t.policy.ticker, short(&t.id.digest().to_hex()), view(t).amount_text(t.balance), describe(&t.policy))?;
            }
            Ok(())
        },
        json!({"tokens": tokens.iter().map(|t| { let v = view(t); json!({"ticker": t.policy.ticker, "token": v.label, "token_id": t.id.digest().to_hex(), "decimals": t.policy.decimals, "balance": t.balance.0.to_string(), "balance_decimal": v.amount_text(t.balance), "cap": t.policy.cap.0.to_string()}) }).collect::<Vec<_>>()}),
    )
}

pub(crate) fn known(w: &Wallet, name: &str) -> Res<(TokenId, TokenPolicy)> {
    let id = w.resolve_token(name)?;
    let p = w.token_rules().policy(&id).cloned().ok_or_else(|| {
        input(format!(
            "this wallet holds no policy for {name:?}; see `dsm token list`"
        ))
    })?;
    Ok((id, p))
}

/// `dsm token mint TOKEN AMOUNT`.
pub fn mint(ctx: &Ctx, token: &str, amount: &str) -> Res {
    let mut w = ctx.open()?;
    let (id, p) = known(&w, token)?;
    let v = crate::wallet_cmd::token_view(&w, &id);
    let amount = crate::wallet_cmd::parse_token_amount(&v, amount)?;
    let out = w.mint(&id, amount)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "minted {} to this device (mint #{}, {} of the cap of {} now created); balance {}",
                v.describe(amount),
                out.seq,
                v.amount_text(out.minted_total),
                v.amount_text(p.cap),
                v.describe(w.balance(&id))
            )
        },
        crate::wallet_cmd::with(
            json!({"seq": out.seq, "minted_total": out.minted_total.0.to_string()}),
            &[crate::wallet_cmd::money(&v, amount)],
        ),
    )
}

/// `dsm token burn TOKEN AMOUNT`.
pub fn burn(ctx: &Ctx, token: &str, amount: &str, yes: bool, dry_run: bool) -> Res {
    let mut w = ctx.open()?;
    let (id, _) = known(&w, token)?;
    let v = crate::wallet_cmd::token_view(&w, &id);
    let amount = crate::wallet_cmd::parse_token_amount(&v, amount)?;
    let have = w.balance(&id);
    if have < amount {
        return Err(input(format!(
            "insufficient balance: you have {}, the burn needs {}",
            v.describe(have),
            v.describe(amount)
        )));
    }
    w.check_burn(&id)?;
    if dry_run {
        return ctx.print(
            |o| {
                writeln!(
                    o,
                    "dry run: would burn {} (gone for good); balance after: {}",
                    v.describe(amount),
                    v.describe(Amount(have.0 - amount.0))
                )
            },
            crate::wallet_cmd::with(
                json!({"dry_run": true}),
                &[crate::wallet_cmd::money(&v, amount)],
            ),
        );
    }
    if !yes
        && std::io::IsTerminal::is_terminal(&std::io::stdin())
        && !crate::wallet_cmd::ask_yes(&format!(
            "burn {}? Burned value is gone for good.",
            v.describe(amount)
        ))?
    {
        return Err(input("not confirmed; nothing was burned"));
    }
    w.burn(&id, amount)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "burned {}; balance {}",
                v.describe(amount),
                v.describe(w.balance(&id))
            )
        },
        crate::wallet_cmd::with(
            json!({"burned": amount.0.to_string(), "balance": w.balance(&id).0.to_string()}),
            &[crate::wallet_cmd::money(&v, amount)],
        ),
    )
}

fn token_online_error(e: OnlineError) -> CliError {
    match e {
        OnlineError::Wallet(dsm_wallet::WalletError::Token(m)) => input(m),
        OnlineError::Replication(r) => input(replication_hint(&r)),
        e => online_error(e),
    }
}

/// `dsm token join TOKEN`.
pub fn join(ctx: &Ctx, token: &str) -> Res {
    let mut w = ctx.open()?;
    let (id, p) = known(&w, token)?;
    let nodes = node_set(&w)?;
    if !ctx.json {
        tracing::info!(
            "joining {}'s emissions through {} storage nodes…",
            p.ticker,
            nodes.nodes().len()
        );
    }
    let r = dsm_wallet::online::emissions::join(&mut w, &nodes, &id).map_err(token_online_error)?;
    let paid = match &r.winner {
        None => "nobody was active before, so nothing was emitted".to_string(),
        Some((d, a)) => format!("it paid {a} {} to {}", p.ticker, peer_name(&w, d)),
    };
    ctx.print(
        |o| writeln!(o, "joined as activation #{}: {paid}; the step is on {} nodes ({})", r.index, r.acks, if r.settled { "settled" } else { "not yet settled: run `dsm emissions` later" }),
        json!({"token": id.digest().to_hex(), "index": r.index, "winner": r.winner.map(|(d, a)| json!({"device": d.digest().to_hex(), "amount": a.0.to_string()})), "settled": r.settled}),
    )
}

/// `dsm emissions [TOKEN] [--show N]`.
pub fn emissions(ctx: &Ctx, token: Option<&str>, show: Option<u64>) -> Res {
    let mut w = ctx.open()?;
    let candidates: Vec<(TokenId, TokenPolicy)> = match token {
        Some(t) => vec![known(&w, t)?],
        None => w
            .tokens()
            .into_iter()
            .filter(|t| t.policy.djte.is_some())
            .map(|t| (t.id, t.policy))
            .collect(),
    };
    if candidates.is_empty() {
        return Err(input("this wallet holds no token with emissions; import one (e.g. the network's ERA policy) with `dsm token import`"));
    }
    for (id, p) in candidates {
        if p.djte.is_none() {
            return Err(input(format!("{} has no emissions", p.ticker)));
        }
        let synced = match node_set(&w) {
            Ok(nodes) => Some(
                dsm_wallet::online::emissions::sync_emissions(&mut w, &nodes, &id)
                    .map_err(token_online_error)?,
            ),
            Err(_) => None,
        };
        let steps = w.emission_steps(&id)?;
        // The wallet's ledger verified every stored step (in order) as it rebuilt itself;
        // its history is what they emitted.
        let ledger = w.emission_ledger(&id)?;
        let rows: Vec<_> = ledger
            .history()
            .iter()
            .zip(&steps)
            .map(|(em, s)| (em.clone(), s.proof.to_bytes().len(), s.to_bytes().len()))
            .collect();
        let st = ledger.state();
        ctx.print(
            |o| {
                writeln!(o, "{} emissions — {} joins, {} active, {} emitted, {} left in the vault", p.ticker, st.index, st.active, st.emitted, st.remaining)?;
                if let Some(s) = &synced {
                    writeln!(o, "  synced {} new steps from the storage nodes; credited to this device now: {}", s.new_steps, if s.credited.is_empty() { "nothing".to_string() } else { s.credited.iter().map(|(e, a)| format!("#{e}: {a}")).collect::<Vec<_>>().join(", ") })?;
                } else {
                    writeln!(o, "  (no storage nodes configured: showing the steps this wallet verified before)")?;
                }
                writeln!(o, "  {:>5}  {:<22} {:<22} {:>12}  {:>6}  RECEIPT", "#", "JOINED", "WINNER", "AMOUNT", "PROOF")?;
                for (em, proof_len, _) in &rows {
                    let (winner, amount) = match &em.winner {
                        Some((d, a)) => (peer_name(&w, d), a.0.to_string()),
                        None => ("—".into(), "0".into()),
                    };
                    writeln!(o, "  {:>5}  {:<22} {:<22} {:>12}  {:>5}B  {}", em.index, peer_name(&w, &em.joiner), winner, amount, proof_len, short(&em.receipt.to_hex()))?;
                }
                if let Some(n) = show {
                    match steps.get(n as usize) {
                        Some(s) => writeln!(o, "  step #{n} proof (canonical bytes, hex):\n{}", hex::encode(s.proof.to_bytes()))?,
                        None => writeln!(o, "  there is no step #{n}")?,
                    }
                }
                Ok(())
            },
            json!({"token": id.digest().to_hex(), "ticker": p.ticker, "joins": st.index, "active": st.active, "emitted": st.emitted.0.to_string(), "remaining": st.remaining.0.to_string(),
                   "steps": rows.iter().map(|(em, pl, sl)| json!({"index": em.index, "joiner": em.joiner.digest().to_hex(), "winner": em.winner.map(|(d, _)| d.digest().to_hex()), "amount": em.winner.map(|(_, a)| a.0.to_string()).unwrap_or("0".into()), "receipt": em.receipt.to_hex(), "proof_bytes": pl, "step_bytes": sl})).collect::<Vec<_>>(),
                   "proof": show.and_then(|n| steps.get(n as usize)).map(|s| hex::encode(s.proof.to_bytes()))}),
        )?;
    }
    Ok(())
}

/// `dsm token issuer-key`: this device's public key as a policy file names an issuer.
pub fn issuer_key_cmd(ctx: &Ctx) -> Res {
    let w = ctx.open()?;
    let k = &w.identity().public_key;
    let suite = match k.suite() {
        SuiteId::MlDsa65 => "ml-dsa-65",
        SuiteId::SlhDsaSha2_128f => "slh-dsa-sha2-128f",
    };
    let line = format!("{suite}:{}", hex::encode(k.key_bytes()));
    ctx.print(|o| writeln!(o, "{line}"), json!({"issuer": line}))
}

/// Reads a file the refresh commands exchange, refusing one over `max` bytes.
fn read_exchange(path: &Path, max: usize, what: &str) -> Res<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| input(format!("cannot read {what} {}: {e}", path.display())))?
        .len();
    if len > max as u64 {
        return Err(input(format!(
            "{} is {len} bytes, over the {max}-byte limit of a {what}",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| input(format!("cannot read {what} {}: {e}", path.display())))
}

fn read_request(path: &Path) -> Res<ReissueRequest> {
    let b = read_exchange(path, MAX_REQUEST_LEN, "refresh request")?;
    ReissueRequest::from_bytes(&b).map_err(|e| {
        input(format!(
            "{} is not a refresh request ({e}); it is written by `dsm token refresh TOKEN --request FILE`",
            path.display()
        ))
    })
}

fn burned_sum(req: &ReissueRequest) -> Amount {
    req.burn
        .outputs
        .iter()
        .fold(Amount::ZERO, |s, o| s.checked_add(o.amount).unwrap_or(s))
}

/// `dsm token refresh TOKEN [--request FILE | --complete FILE --signature FILE…]`.
pub fn refresh(
    ctx: &Ctx,
    token: &str,
    request: Option<PathBuf>,
    complete: Option<PathBuf>,
    signatures: Vec<PathBuf>,
) -> Res {
    let mut w = ctx.open()?;
    let (id, p) = known(&w, token)?;
    if let Some(out) = request {
        writable(ctx, &out)?;
        let req = w.refresh_request(&id)?;
        write_file(ctx, &out, &req.to_bytes())?;
        let sum = burned_sum(&req);
        return ctx.print(
            |o| writeln!(o, "wrote a refresh request for {} parcels ({sum} {}) to {}; nothing is signed or spent yet. Send it to {}'s refreshers (`dsm token refresh-sign {}`), then run `dsm token refresh {} --complete {} --signature SIG…`", req.burn.inputs.len(), p.ticker, out.display(), p.ticker, out.display(), p.ticker, out.display()),
            json!({"token": id.digest().to_hex(), "request": out.display().to_string(), "parcels": req.burn.inputs.len(), "amount": sum.0.to_string()}),
        );
    }
    let (req, sigs, nodes) = match complete {
        Some(path) => {
            let req = read_request(&path)?;
            if req.token != id {
                return Err(input(format!(
                    "{} is a request for another token",
                    path.display()
                )));
            }
            let mut sigs = Vec::new();
            for s in &signatures {
                let b = read_exchange(s, Cosignature::MAX_ENCODED_LEN, "refresher signature")?;
                sigs.push(Cosignature::from_bytes(&b).map_err(|e| {
                    input(format!(
                        "{} is not a refresher signature ({e}); it is written by `dsm token refresh-sign`",
                        s.display()
                    ))
                })?);
            }
            // Without nodes, the burn's slots are claimed at this wallet's next sync (only
            // the holder may write them, PROTOCOL.md §15.2: the burn is kept until then).
            (req, sigs, node_set(&w).ok())
        }
        None => {
            // This device refreshes its own parcels: it must be enough refreshers alone.
            let authority = p.refresh_authority().ok_or_else(|| {
                input(format!(
                    "{} has no refreshers: its parcels cannot be re-issued",
                    p.ticker
                ))
            })?;
            let mine = authority.keys.iter().any(|k| *k == w.identity().public_key);
            if !mine || authority.threshold != 1 {
                return Err(input(format!(
                    "{} needs {} of its refreshers' signatures and this device {}: write a request with `dsm token refresh {} --request FILE` and send it to them",
                    p.ticker,
                    authority.threshold,
                    if mine { "is only one" } else { "is not one of them" },
                    p.ticker
                )));
            }
            let nodes = node_set(&w)?;
            let req = w.refresh_request(&id)?;
            if !ctx.json {
                tracing::info!(
                    "checking the lineages of {} parcels at {} storage nodes…",
                    req.burn.inputs.len(),
                    nodes.nodes().len()
                );
            }
            let sig = sign_refresh(&mut w, &nodes, &req).map_err(token_online_error)?;
            (req, vec![sig], Some(nodes))
        }
    };
    let (root, settled) =
        complete_refresh(&mut w, nodes.as_ref(), &req, sigs).map_err(token_online_error)?;
    let sum = burned_sum(&req);
    let state = match &settled {
        Some(Settlement::Settled { acks }) => format!("settled: the burn holds every slot on {acks} nodes"),
        Some(s) => format!("{}: run `dsm sync` to finish claiming the burned parcels' slots", s.word()),
        None => "not yet settled: this wallet has no storage nodes, so the first receiver to settle a payment from it claims the burned parcels' slots".to_string(),
    };
    ctx.print(
        |o| writeln!(o, "re-issued {} parcels as one parcel of {sum} {} (lineage restarts at 0 hops); {state}", req.burn.inputs.len(), p.ticker),
        json!({"token": id.digest().to_hex(), "parcel": root.to_string(), "parcels_burned": req.burn.inputs.len(), "amount": sum.0.to_string(), "settlement": settled.map(|s| s.word())}),
    )
}

/// `dsm token refresh-sign REQUEST [--out FILE]`: as a refresher.
pub fn refresh_sign(ctx: &Ctx, request: &Path, out: Option<PathBuf>) -> Res {
    let mut w = ctx.open()?;
    let req = read_request(request)?;
    let (_, p) = known(&w, &req.token.digest().to_hex())?;
    let nodes = node_set(&w)?;
    if !ctx.json {
        tracing::info!(
            "checking {} lineages at {} storage nodes…",
            req.burn.inputs.len(),
            nodes.nodes().len()
        );
    }
    let sig = sign_refresh(&mut w, &nodes, &req).map_err(token_online_error)?;
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "refresh-{}-{}.dsmsig",
            short(&req.holder.device_id().digest().to_hex()),
            sig.issuer
        ))
    });
    write_file(ctx, &out, &sig.to_bytes())?;
    let sum = burned_sum(&req);
    ctx.print(
        |o| writeln!(o, "checked {} lineages ({sum} {}): signed as refresher #{}; give {} to the holder", req.burn.inputs.len(), p.ticker, sig.issuer, out.display()),
        json!({"token": req.token.digest().to_hex(), "signature": out.display().to_string(), "refresher": sig.issuer, "amount": sum.0.to_string()}),
    )
}
