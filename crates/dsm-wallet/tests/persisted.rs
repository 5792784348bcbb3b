//! Typed persisted state (PROTOCOL.md §14): history lines and a successor's record of each
//! counterparty are enums and ids in memory, and the same JSON text on disk as when they
//! were strings — so lines written before the types read unchanged (no migration is
//! needed, and none runs), and a value that does not parse is a damaged record, refused,
//! never a default.

mod common;

use common::memory_wallet;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_wallet::store::{Batch, Store, Table};
use dsm_wallet::wallet::recovery::{CounterpartyRecovery, NoticeStatus};
use dsm_wallet::wallet::WalletError;
use dsm_wallet::{EntryKind, HistoryEntry, LineSettlement, LineStatus};

const PEER: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const TOKEN: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const RECEIPT: &str = "3333333333333333333333333333333333333333333333333333333333333333";

/// A received line as every wallet before the types wrote it.
fn old_line() -> String {
    format!(
        r#"{{"height":7,"kind":"received","peer":"{PEER}","token":"{TOKEN}","amount":"340282366920938463463374607431768211455","status":"final","receipt":"{RECEIPT}","settlement":"settled","time":1764800000}}"#
    )
}

#[test]
fn lines_written_as_strings_read_typed_and_write_back_byte_identical() {
    let line: HistoryEntry = serde_json::from_str(&old_line()).unwrap();
    assert_eq!(line.kind, EntryKind::Received);
    assert_eq!(line.peer, Some(DeviceId(Digest::from_hex(PEER).unwrap())));
    assert_eq!(line.token, Some(TokenId(Digest::from_hex(TOKEN).unwrap())));
    assert_eq!(line.amount, Some(Amount(u128::MAX)));
    assert_eq!(line.status, LineStatus::Final);
    assert_eq!(line.receipt, Digest::from_hex(RECEIPT));
    assert_eq!(line.settlement, Some(LineSettlement::Settled));
    assert_eq!(serde_json::to_string(&line).unwrap(), old_line());

    // A succession line names no single token or amount: stored as "" then and now.
    let succession = format!(
        r#"{{"height":3,"kind":"succession","peer":"{PEER}","token":"","amount":"","status":"final","receipt":null}}"#
    );
    let s: HistoryEntry = serde_json::from_str(&succession).unwrap();
    assert_eq!((s.token, s.amount, s.settlement), (None, None, None));
    assert_eq!(serde_json::to_string(&s).unwrap(), succession);

    let record = format!(
        r#"{{"device":"{PEER}","name":"bob","tip":"{RECEIPT}","status":"acknowledged","notified":true,"pending":null,"evidence":null}}"#
    );
    let c: CounterpartyRecovery = serde_json::from_str(&record).unwrap();
    assert_eq!(c.status, NoticeStatus::Acknowledged);
    assert_eq!(c.device, DeviceId(Digest::from_hex(PEER).unwrap()));
    assert_eq!(serde_json::to_string(&c).unwrap(), record);
    // Since 2026-12-06 a record may name the counterparty's slot owner (PROTOCOL.md §20.2).
    let with_owner = record.replace(
        "\"evidence\":null}",
        &format!("\"evidence\":null,\"owner\":\"{RECEIPT}\"}}"),
    );
    let c: CounterpartyRecovery = serde_json::from_str(&with_owner).unwrap();
    assert_eq!(c.owner, Some(Digest::from_hex(RECEIPT).unwrap()));
    assert_eq!(serde_json::to_string(&c).unwrap(), with_owner);
}

#[test]
fn a_damaged_value_is_refused_never_read_as_a_default() {
    let good = old_line();
    for (from, to, error) in [
        (
            "\"status\":\"final\"",
            "\"status\":\"fnal\"",
            "\"fnal\" is not a line status",
        ),
        (
            "\"settlement\":\"settled\"",
            "\"settlement\":\"setled\"",
            "\"setled\" is not a settlement",
        ),
        (
            "\"amount\":\"340282366920938463463374607431768211455\"",
            "\"amount\":\"+5\"",
            "\"+5\" is not an amount",
        ),
        (
            "\"amount\":\"340282366920938463463374607431768211455\"",
            "\"amount\":\"340282366920938463463374607431768211456\"",
            "is not an amount",
        ),
        (
            &format!("\"token\":\"{TOKEN}\""),
            "\"token\":\"22\"",
            "\"22\" is not 64 hex digits",
        ),
        (
            &format!("\"peer\":\"{PEER}\""),
            "\"peer\":\"xyz\"",
            "\"xyz\" is not 64 hex digits",
        ),
        (
            &format!("\"receipt\":\"{RECEIPT}\""),
            "\"receipt\":\"\"",
            "\"\" is not 64 hex digits",
        ),
    ] {
        assert_eq!(good.matches(from).count(), 1, "{from}");
        let bad = good.replace(from, to);
        let e = serde_json::from_str::<HistoryEntry>(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains(error), "{to}: {e}");
    }
    let record = format!(
        r#"{{"device":"{PEER}","name":null,"tip":"{RECEIPT}","status":"acknowledgd","notified":true,"pending":null}}"#
    );
    assert!(serde_json::from_str::<CounterpartyRecovery>(&record)
        .unwrap_err()
        .to_string()
        .contains("\"acknowledgd\" is not a notice status"));

    // Through a real wallet: a damaged line makes its history refuse to load.
    let (w, mut store) = memory_wallet(10);
    assert_eq!(w.history().unwrap().len(), 1);
    let mut b = Batch::new();
    b.put(
        Table::History,
        9u64.to_be_bytes().to_vec(),
        good.replace("\"status\":\"final\"", "\"status\":\"fnal\"")
            .into_bytes(),
    );
    store.commit(&b).unwrap();
    let w = common::reopen(&store);
    assert!(matches!(
        w.history(),
        Err(WalletError::Corrupt {
            what: "history",
            ..
        })
    ));
}

#[test]
fn a_summary_keeps_amounts_as_decimal_text_and_refuses_a_malformed_one() {
    use dsm_wallet::summary::WalletSummary;
    let (w, _) = memory_wallet(10);
    let s = w.summary().unwrap();
    assert_eq!(s.balances[0].amount, Amount(10));
    let bytes = s.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#""amount":"10""#), "{text}");
    assert_eq!(WalletSummary::from_bytes(&bytes).unwrap(), s);
    // A malformed amount under a matching check (a summary written by a buggy build) is a
    // damaged summary, never a balance of 0.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["summary"]["balances"][0]["amount"] = serde_json::json!("ten");
    let check = blake3::hash(v["summary"].to_string().as_bytes())
        .to_hex()
        .to_string();
    v["check"] = serde_json::json!(check);
    match WalletSummary::from_bytes(&serde_json::to_vec(&v).unwrap()) {
        Err(WalletError::Corrupt {
            what: "summary",
            error,
        }) => assert_eq!(error, "malformed"),
        other => panic!("{other:?}"),
    }
}
