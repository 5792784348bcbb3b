//! Acceptance is context-free: no clock, no environment, no randomness of its own.
//!
//! Two complementary checks: (1) the protocol crates' source never names a clock, an OS
//! random source, the filesystem, the network or the environment, so no verdict can depend
//! on them; (2) the pinned receipts in the vector file — generated at another time, on
//! another machine — get the same verdicts now (valid stays valid, a flipped byte stays
//! refused).

use dsm_core::receipt::{verify_receipt_bytes, EmptyView};

const FORBIDDEN: &[&str] = &[
    "std::time",
    "SystemTime",
    "Instant",
    "chrono",
    "std::env",
    "std::fs",
    "std::net",
    "getrandom",
    "thread_rng",
    "OsRng",
    "std::process",
];

/// Every protocol crate: the primitive, the session, the token layer (CPTA, DJTE, DLV,
/// dBTC) and recovery. Their verdicts take time, randomness and I/O only as arguments.
const PROTOCOL_CRATES: &[&str] = &["dsm-core", "dsm-protocol", "dsm-token", "dsm-recovery"];

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_protocol_crates_name_no_clock_or_io() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut per_crate = Vec::new();
    for name in PROTOCOL_CRATES {
        let mut files = Vec::new();
        rust_files(&crates.join(name).join("src"), &mut files);
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            for word in FORBIDDEN {
                assert!(!text.contains(word), "{} mentions {word}", path.display());
            }
        }
        per_crate.push((*name, files.len()));
    }
    // Each crate was really read (a moved directory must not make this pass vacuously).
    for (name, n) in &per_crate {
        assert!(*n >= 3, "{name}: only {n} source files read");
    }
    assert!(
        per_crate.iter().map(|(_, n)| n).sum::<usize>() >= 25,
        "{per_crate:?}"
    );
}

fn verdicts() -> Vec<String> {
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dsm-v1.txt"
    ))
    .unwrap();
    file.lines()
        .filter(|l| l.contains("\tdsm.v1.Receipt\t"))
        .map(|l| {
            let bytes = hex::decode(l.split('\t').nth(2).unwrap()).unwrap();
            let mut flipped = bytes.clone();
            flipped[bytes.len() / 2] ^= 4;
            format!(
                "{:?} / {:?}",
                verify_receipt_bytes(&bytes, &EmptyView).map(|v| *v.child_tip()),
                verify_receipt_bytes(&flipped, &EmptyView).map(|v| *v.child_tip())
            )
        })
        .collect()
}

#[test]
fn pinned_receipts_made_elsewhere_keep_their_verdicts() {
    let before = verdicts();
    assert_eq!(
        before.len(),
        4,
        "two suites × (a plain receipt, a crossing one)"
    );
    assert!(
        before
            .iter()
            .all(|v| v.starts_with("Ok(") && v.contains(" / Err(")),
        "{before:?}"
    );
    // (Changing the process environment here would race the other tests' threads; the
    // source check above is what rules out a clock or environment in any verdict.)
}
