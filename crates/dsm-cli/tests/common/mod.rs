//! Helpers the CLI test files share: the binary, run against a wallet home as a user would.
#![allow(dead_code)] // each test file uses its own subset

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("dsm")
}

/// `dsm` against the wallet in `home`, with the tests' passphrase.
pub fn dsm(home: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("DSM_HOME", home)
        .env("DSM_PASSPHRASE", "test passphrase")
        .env_remove("DSM_PASSPHRASE_FILE");
    c
}

/// Runs `c`, which must succeed, and returns its stdout.
pub fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `c --json`, which must succeed, and returns its last line as JSON.
pub fn json(c: &mut Command) -> serde_json::Value {
    serde_json::from_str(stdout(c.arg("--json")).lines().last().unwrap()).unwrap()
}

/// The contact card of the wallet in `home`.
pub fn card_of(home: &Path) -> String {
    json(dsm(home).arg("card"))["card"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `dsm token create` of a policy given as TOML text (written beside `out`, as
/// `OUT.toml`), its document to `out`: the command, for the caller to assert on.
pub fn token_create(home: &Path, toml: &str, out: &Path) -> Command {
    let policy = out.with_extension("toml");
    std::fs::write(&policy, toml).unwrap();
    let mut c = dsm(home);
    c.args(["token", "create", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(out);
    c
}

/// Creates a wallet named `name` in `home`.
pub fn init_named(home: &Path, name: &str) {
    dsm(home).args(["init", "--name", name]).assert().success();
}

/// Makes the wallets in `a` and `b` contacts of each other.
pub fn introduce(a: &Path, b: &Path) {
    let ca = card_of(a);
    let cb = card_of(b);
    dsm(a).args(["contact", "add", &cb]).assert().success();
    dsm(b).args(["contact", "add", &ca]).assert().success();
}
