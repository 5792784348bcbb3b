//! The two implementations of the acceptance predicate agree (issue 20, item 3): receipts
//! made by the real CLI, in both suites, and bit flips of them are fed to one long-running
//! `node web/verify/compare.mjs` (the shipped JavaScript bundle) and to the Rust verifier;
//! any disagreement fails. Flipped: one bit of every byte outside the two signatures (the
//! bit index rotating with the position; every bit with `DSM_VERIFY_JS_EVERY_BIT=1`, about
//! 2.5 minutes, README "Heavier checks"), and one bit of 48 evenly spread bytes inside each
//! signature (a fixed sample).
//!
//! Needs `node` ≥ 20.19 on PATH; without it the test says so and passes, unless
//! `DSM_REQUIRE_NODE=1` (as in `.ci/run`), where it fails.

mod common;
use common::*;

use dsm_core::codec::Canonical;
use dsm_core::receipt::{verify_receipt_bytes, EmptyView, Receipt};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn node_ok() -> Result<(), String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node is not on PATH ({e})"))?;
    let v = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<u32> = v
        .trim()
        .trim_start_matches('v')
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    match parts.as_slice() {
        [major, minor, ..] if (*major, *minor) >= (20, 19) => Ok(()),
        _ => Err(format!("node {v:?} is older than 20.19")),
    }
}

fn web_verify() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/verify")
}

/// A receipt of `suite` made by the CLI: alice pays bob over TCP, then exports it.
fn cli_receipt(dir: &Path, suite: &str) -> Vec<u8> {
    let p = pair_with("500", suite);
    let (alice, bob) = (&p.alice, &p.bob);
    let (mut rx, addr) = receiver(bob, true);
    dsm(alice)
        .args(["send", "bob", "123", "--tcp", &addr, "--yes"])
        .assert()
        .success();
    rx.wait().unwrap();
    let v = json(dsm(alice).arg("history"));
    let id = v
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["receipt"].as_str().filter(|r| r.len() >= 16))
        .expect("a receipt id")
        .to_string();
    let file = dir.join(format!("{suite}.receipt"));
    dsm(alice)
        .args(["receipt", &id, "--out"])
        .arg(&file)
        .assert()
        .success();
    std::fs::read(&file).unwrap()
}

/// Byte ranges of the two signatures inside the receipt's encoding.
fn signature_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let r = Receipt::from_bytes(bytes).unwrap();
    [
        r.proposal.signature.sig_bytes().to_vec(),
        r.acceptance.signature.sig_bytes().to_vec(),
    ]
    .iter()
    .map(|sig| {
        let at = bytes
            .windows(sig.len())
            .position(|w| w == sig.as_slice())
            .expect("the signature's bytes are in the encoding");
        at..at + sig.len()
    })
    .collect()
}

fn flips(bytes: &[u8]) -> Vec<Vec<u8>> {
    let sigs = signature_ranges(bytes);
    let mut out = Vec::new();
    let mut flip = |pos: usize, bit: u8| {
        let mut t = bytes.to_vec();
        t[pos] ^= 1 << bit;
        out.push(t);
    };
    // Every bit with DSM_VERIFY_JS_EVERY_BIT=1 (about 2.5 minutes: README, "Heavier
    // checks"); in CI one bit of every byte, the bit index rotating with the position.
    let every_bit = std::env::var_os("DSM_VERIFY_JS_EVERY_BIT").is_some();
    for pos in 0..bytes.len() {
        if !sigs.iter().any(|r| r.contains(&pos)) {
            if every_bit {
                for bit in 0..8 {
                    flip(pos, bit);
                }
            } else {
                flip(pos, (pos % 8) as u8);
            }
        }
    }
    // Inside the signatures, a fixed sample: 48 evenly spread bytes, the bit rotating.
    for r in &sigs {
        for k in 0..48 {
            let pos = r.start + k * (r.len() - 1) / 47;
            flip(pos, (pos % 8) as u8);
        }
    }
    out
}

#[test]
fn rust_and_javascript_agree_on_cli_receipts_and_every_flip() {
    if let Err(why) = node_ok() {
        assert!(
            std::env::var_os("DSM_REQUIRE_NODE").is_none(),
            "DSM_REQUIRE_NODE is set but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut js = Command::new("node")
        .arg(web_verify().join("compare.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_js = js.stdin.take().unwrap();
    let mut from_js = BufReader::new(js.stdout.take().unwrap());
    let mut ask = |bytes: &[u8]| -> serde_json::Value {
        writeln!(to_js, "{}", hex::encode(bytes)).unwrap();
        let mut line = String::new();
        from_js.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
    };
    let mut compared = 0usize;
    let mut disagreements = Vec::new();
    for suite in ["ml-dsa-65", "slh-dsa-sha2-128f"] {
        let receipt = cli_receipt(dir.path(), suite);
        let js_says = ask(&receipt);
        assert_eq!(js_says["valid"], true, "{suite}: {js_says}");
        assert!(verify_receipt_bytes(&receipt, &EmptyView).is_ok());
        let started = std::time::Instant::now();
        let all = flips(&receipt);
        let n = all.len();
        for t in all {
            let rust = verify_receipt_bytes(&t, &EmptyView);
            let js_says = ask(&t);
            compared += 1;
            if js_says["valid"].as_bool() != Some(rust.is_ok()) {
                disagreements.push(format!(
                    "{suite}: rust {:?}, javascript {js_says}",
                    rust.err()
                ));
            }
        }
        eprintln!(
            "{suite}: {n} flips compared in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    drop(to_js);
    let _ = js.wait();
    let floor = if std::env::var_os("DSM_VERIFY_JS_EVERY_BIT").is_some() {
        40_000
    } else {
        5_000
    };
    assert!(compared > floor, "only {compared} inputs compared");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} disagree, e.g. {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );
}
