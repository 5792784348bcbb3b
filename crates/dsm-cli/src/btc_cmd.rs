//! `dsm btc …`: dBTC deposits and withdrawals (PROTOCOL.md §19). Bitcoin evidence moves as
//! JSON files of hex fields (from a Bitcoin node or wallet; no Bitcoin network access here).

use crate::token_cmd::write_file;
use crate::wallet_cmd::{input, parse_amount, short, Ctx, Res};
use dsm_core::codec::Canonical;
use dsm_token::dbtc::{
    WithdrawalDecline, WithdrawalDocument, WithdrawalPayment, WithdrawalRequest,
};
use dsm_wallet::online::Settlement;
use dsm_wallet::Wallet;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const EVIDENCE_HELP: &str = "\
Evidence files are JSON objects of hex strings:
  deposit:  {\"tx\", \"vout\" (number), \"h_claim\", \"h_refund\", \"claimer\", \"refunder\",
             \"headers\" (list of 80-byte headers after the policy's checkpoint), \"block_index\"
             (number), \"merkle_proof\" (a serialized partial merkle tree, as in `gettxoutproof`)}
  payment:  {\"request\" (the file `dsm btc withdraw` wrote: its \"request\" field), \"tx\",
             \"headers\", \"block_index\", \"merkle_proof\"}";

fn read_json(f: &Path) -> Res<Value> {
    let b = std::fs::read(f).map_err(|e| input(format!("cannot read {}: {e}", f.display())))?;
    serde_json::from_slice(&b).map_err(|e| input(format!("{}: not JSON: {e}", f.display())))
}

fn hex_field(v: &Value, k: &str) -> Res<Vec<u8>> {
    let s = v[k]
        .as_str()
        .ok_or_else(|| input(format!("missing hex field {k:?}")))?;
    hex::decode(s).map_err(|_| input(format!("field {k:?} is not hex")))
}

fn fixed<const N: usize>(v: &Value, k: &str) -> Res<[u8; N]> {
    hex_field(v, k)?
        .try_into()
        .map_err(|_| input(format!("field {k:?} must be {N} bytes")))
}

fn num(v: &Value, k: &str) -> Res<u32> {
    v[k].as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| input(format!("missing number {k:?}")))
}

fn headers(v: &Value) -> Res<Vec<[u8; 80]>> {
    v["headers"]
        .as_array()
        .ok_or_else(|| input("missing list \"headers\""))?
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap_or(""))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| input("every header is 80 bytes of hex"))
        })
        .collect()
}

fn dbtc_token(w: &Wallet, name: &str) -> Res<dsm_core::chain::TokenId> {
    let id = w.resolve_token(name)?;
    match w.token_rules().policy(&id) {
        Some(p) if p.bitcoin.is_some() => Ok(id),
        Some(p) => Err(input(format!(
            "{} is not a Bitcoin-bridged token",
            p.ticker
        ))),
        None => Err(input(format!(
            "this wallet holds no policy for {name:?}; import the dBTC policy first"
        ))),
    }
}

/// `dsm btc deposit-info`: the HTLC to pay and the commitment to include.
pub fn deposit_info(ctx: &Ctx, token: &str, h_claim: &str, h_refund: &str, refunder: &str) -> Res {
    let w = ctx.open()?;
    let t = dbtc_token(&w, token)?;
    let bridge = w
        .token_rules()
        .policy(&t)
        .and_then(|p| p.bitcoin.clone())
        .expect("checked");
    let h = |s: &str, what: &str| -> Res<[u8; 32]> {
        hex::decode(s)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| input(format!("{what}: 32 bytes of hex")))
    };
    let htlc = dsm_btc::Htlc {
        h_claim: h(h_claim, "--h-claim")?,
        h_refund: h(h_refund, "--h-refund")?,
        claimer: bridge.keeper,
        refunder: hex::decode(refunder)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| input("--refunder: a 33-byte compressed public key in hex"))?,
    };
    let commitment = dsm_token::dbtc::recipient_commitment(&t, &w.device_id());
    let address = htlc.address(bridge.chain.network).to_string();
    ctx.print(
        |o| {
            writeln!(o, "pay the deposit to {address}")?;
            writeln!(o, "and include an output OP_RETURN {} (it names this device: only it can mint from the deposit)", hex::encode(commitment))?;
            writeln!(o, "witness script: {}", hex::encode(htlc.script().as_bytes()))?;
            writeln!(o, "after {} confirmations, build the evidence file and run `dsm btc mint FILE`", bridge.chain.d_min)
        },
        json!({"address": address, "op_return": hex::encode(commitment), "script": hex::encode(htlc.script().as_bytes()), "d_min": bridge.chain.d_min}),
    )
}

/// `dsm btc mint FILE`.
pub fn mint(ctx: &Ctx, token: &str, file: &Path) -> Res {
    let mut w = ctx.open()?;
    let t = dbtc_token(&w, token)?;
    let v = read_json(file)?;
    let ev = dsm_btc::DepositEvidence {
        tx: hex_field(&v, "tx")?,
        vout: num(&v, "vout")?,
        htlc: dsm_btc::Htlc {
            h_claim: fixed(&v, "h_claim")?,
            h_refund: fixed(&v, "h_refund")?,
            claimer: fixed(&v, "claimer")?,
            refunder: fixed(&v, "refunder")?,
        },
        headers: headers(&v)?,
        block_index: num(&v, "block_index")?,
        merkle_proof: hex_field(&v, "merkle_proof")?,
    };
    let (amount, key) = w.mint_deposit(&t, ev)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "minted {amount} dBTC (satoshis) from deposit {}; balance {}",
                short(&key.to_hex()),
                w.balance(&t)
            )
        },
        json!({"minted": amount.0.to_string(), "outpoint_key": key.to_hex()}),
    )
}

/// `dsm btc withdraw AMOUNT --to-script HEX`.
pub fn withdraw(
    ctx: &Ctx,
    token: &str,
    amount: &str,
    to_script: &str,
    out: Option<PathBuf>,
) -> Res {
    if let Some(o) = &out {
        crate::token_cmd::writable(ctx, o)?;
    }
    let amount = parse_amount(amount)?;
    let mut w = ctx.open()?;
    let t = dbtc_token(&w, token)?;
    let have = w.balance(&t);
    if have < amount {
        return Err(input(format!(
            "insufficient balance: you have {have} dBTC, the withdrawal needs {amount}"
        )));
    }
    let script = hex::decode(to_script)
        .map_err(|_| input("--to-script: the Bitcoin output script in hex"))?;
    let req = w.request_withdrawal(&t, amount, script)?;
    let id = req.id().to_hex();
    let out = out.unwrap_or_else(|| PathBuf::from(format!("withdrawal-{}.json", short(&id))));
    let document = w.withdrawal_document(&req)?;
    let doc = json!({
        "id": id,
        "request": hex::encode(req.to_bytes()),
        "document": hex::encode(document.to_bytes()),
    });
    write_file(
        ctx,
        &out,
        &serde_json::to_vec_pretty(&doc).expect("plain data"),
    )?;
    ctx.print(
        |o| writeln!(o, "withdrawal {} requested: {amount} dBTC in flight; give {} to the keeper (its payment must commit OP_RETURN {id})", short(&id), out.display()),
        json!({"id": id, "file": out.display().to_string()}),
    )
}

fn request_of(v: &Value) -> Res<WithdrawalRequest> {
    WithdrawalRequest::from_bytes(&hex_field(v, "request")?)
        .map_err(|e| input(format!("the withdrawal request is refused: {e}")))
}

/// `dsm btc check REQUEST_FILE` (the keeper, before paying).
pub fn check(ctx: &Ctx, file: &Path) -> Res {
    let mut w = ctx.open()?;
    let v = read_json(file)?;
    let doc = WithdrawalDocument::from_bytes(&hex_field(&v, "document")?)
        .map_err(|e| input(format!("the withdrawal document is refused: {e}")))?;
    let id = doc.request.id().to_hex();
    let nodes = crate::online_cmd::node_set(&w)?;
    match dsm_wallet::online::check_withdrawal(&mut w, &nodes, &doc)
        .map_err(crate::online_cmd::online_error)?
    {
        Settlement::Settled { acks } => ctx.print(
            |o| writeln!(o, "withdrawal {}: safe to pay {} sats — its parcels trace back to their sources and its statement holds their slots at {acks} storage nodes (pay with OP_RETURN {id})", short(&id), doc.request.amount),
            json!({"id": id, "safe_to_pay": true, "acks": acks}),
        ),
        Settlement::Unsettled { acks } => Err(input(format!(
            "withdrawal {}: do NOT pay yet — its statement holds its parcels' slots at only {acks} of the {} storage nodes needed; run `dsm btc check` again when more nodes answer",
            short(&id),
            nodes.params().w()
        ))),
        other => Err(input(format!(
            "withdrawal {}: do NOT pay — a parcel it consumed was spent elsewhere first, or descends from value refused at the storage nodes ({}; evidence stored); decline it (`dsm btc decline`)",
            short(&id),
            other.word()
        ))),
    }
}

/// `dsm btc decline REQUEST_FILE` (the keeper).
pub fn decline(ctx: &Ctx, file: &Path, out: Option<PathBuf>) -> Res {
    let mut w = ctx.open()?;
    let req = request_of(&read_json(file)?)?;
    let id = req.id().to_hex();
    let d = w.sign_decline(req)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("decline-{}.json", short(&id))));
    write_file(
        ctx,
        &out,
        &serde_json::to_vec_pretty(&json!({"id": id, "decline": hex::encode(d.to_bytes())}))
            .expect("plain data"),
    )?;
    ctx.print(
        |o| writeln!(o, "declined withdrawal {}: {}", short(&id), out.display()),
        json!({"id": id, "file": out.display().to_string()}),
    )
}

/// `dsm btc refund DECLINE_FILE`.
pub fn refund(ctx: &Ctx, token: &str, file: &Path) -> Res {
    let mut w = ctx.open()?;
    let t = dbtc_token(&w, token)?;
    let v = read_json(file)?;
    let d = WithdrawalDecline::from_bytes(&hex_field(&v, "decline")?)
        .map_err(|e| input(format!("the decline is refused: {e}")))?;
    let amount = d.request.amount;
    w.refund_withdrawal(d)?;
    ctx.print(
        |o| writeln!(o, "took back {amount} dBTC; balance {}", w.balance(&t)),
        json!({"refunded": amount.0.to_string()}),
    )
}

/// `dsm btc paid FILE`.
pub fn paid(ctx: &Ctx, file: &Path) -> Res {
    let mut w = ctx.open()?;
    let v = read_json(file)?;
    let p = WithdrawalPayment {
        request: request_of(&v)?,
        evidence: dsm_btc::InclusionEvidence {
            tx: hex_field(&v, "tx")?,
            headers: headers(&v)?,
            block_index: num(&v, "block_index")?,
            merkle_proof: hex_field(&v, "merkle_proof")?,
        },
    };
    let id = w.observe_withdrawal_payment(&p)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "withdrawal {} is paid on Bitcoin: final",
                short(&id.to_hex())
            )
        },
        json!({"id": id.to_hex(), "status": "paid"}),
    )
}

/// `dsm btc withdrawals`.
pub fn withdrawals(ctx: &Ctx) -> Res {
    let w = ctx.open()?;
    let list = w.withdrawals()?;
    ctx.print(
        |o| {
            if list.is_empty() {
                return writeln!(o, "no withdrawals");
            }
            for (r, s) in &list {
                writeln!(o, "{}  {:>14} sats  {s}", short(&r.id().to_hex()), r.amount.0)?;
            }
            Ok(())
        },
        json!({"withdrawals": list.iter().map(|(r, s)| json!({"id": r.id().to_hex(), "amount": r.amount.0.to_string(), "status": s})).collect::<Vec<_>>()}),
    )
}
