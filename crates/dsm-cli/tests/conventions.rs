//! The command-line conventions a user expects of `dsm` (issue: the wallet as people use
//! it): JSON errors, quiet and verbose, completions and manual pages, `~` in DSM_HOME, a
//! reader that stops reading, help that lists only the flags a command uses.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Read;
use std::process::Stdio;

mod common;
use common::*;

#[test]
fn errors_under_json_are_one_json_object_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dsm(&dir.path().join("none"))
        .args(["--json", "balance"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["code"], 3);
    assert!(err["error"].as_str().unwrap().contains("no wallet in"));
    // Without --json the same error is a sentence.
    dsm(&dir.path().join("none"))
        .arg("balance")
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: no wallet in"));
}

#[test]
fn quiet_and_verbose_govern_the_notes_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    // A weak passphrase is warned about; -q keeps warnings, -qq drops them.
    let weak = |home: &str, flags: &[&str]| {
        let out = Command::new(bin())
            .env("DSM_HOME", dir.path().join(home))
            .env("DSM_PASSPHRASE", "short")
            .env_remove("RUST_LOG")
            .args(flags)
            .args(["init", "--name", home])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(weak("a", &[]).contains("warning: this passphrase is weak"));
    assert!(weak("b", &["-q"]).contains("warning: this passphrase is weak"));
    assert!(!weak("c", &["-qq"]).contains("weak"));
    // RUST_LOG decides when it is set.
    let out = Command::new(bin())
        .env("DSM_HOME", dir.path().join("d"))
        .env("DSM_PASSPHRASE", "short")
        .env("RUST_LOG", "error")
        .args(["init", "--name", "d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("weak"));
}

#[test]
fn completions_and_manual_pages_come_from_the_command_definition() {
    let script = stdout(Command::new(bin()).args(["completions", "bash"]));
    assert!(script.contains("_dsm()"));
    assert!(
        script.contains("--max-unsettled"),
        "every flag is completed"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(!stdout(Command::new(bin()).args(["completions", shell])).is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    stdout(Command::new(bin()).args(["man", "--out"]).arg(&out));
    let page = std::fs::read_to_string(out.join("dsm.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH dsm"),
        "{page:.200}"
    );
    let send = std::fs::read_to_string(out.join("dsm-send.1")).unwrap();
    assert!(send.contains("max\\-amount") || send.contains("timeout"));
    assert!(out.join("dsm-node-serve.1").exists());
    assert!(out.join("dsm-token-mint.1").exists());
}

#[test]
fn help_lists_only_the_flags_a_command_uses() {
    let help = stdout(Command::new(bin()).args(["node", "serve", "--help"]));
    assert!(help.contains("--listen"));
    assert!(!help.contains("--home"), "{help}");
    assert!(!help.contains("--passphrase-file"), "{help}");
    let help = stdout(Command::new(bin()).args(["verify", "--help"]));
    assert!(!help.contains("--home"), "{help}");
    let help = stdout(Command::new(bin()).args(["balance", "--help"]));
    assert!(help.contains("--home") && help.contains("--passphrase-file"));
    // The hidden flags still work where they are accepted (they are global).
    Command::new(bin())
        .args(["demo", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--home").not());
}

#[test]
fn a_tilde_in_dsm_home_is_the_home_directory() {
    let dir = tempfile::tempdir().unwrap();
    Command::new(bin())
        .env("HOME", dir.path())
        .env("DSM_HOME", "~/wallets/alice")
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["init", "--name", "alice"])
        .assert()
        .success();
    assert!(dir.path().join("wallets/alice/wallet.redb").exists());
    assert!(!std::path::Path::new("~").exists(), "no directory named ~");
    Command::new(bin())
        .env("HOME", dir.path())
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["--home", "~/wallets/alice", "card"])
        .assert()
        .success()
        .stdout(predicate::str::contains(":alice"));
}

/// `dsm … | head`: the reader goes away; dsm ends with 0 and says nothing.
#[test]
fn a_reader_that_stops_reading_ends_dsm_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("a");
    init_named(&home, "a");
    for args in [
        &["completions", "bash"][..],
        &["history"],
        &["card"],
        &["man", "--help"],
    ] {
        let mut child = std::process::Command::new(bin())
            .env("DSM_HOME", &home)
            .env("DSM_PASSPHRASE", "test passphrase")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before dsm writes a byte
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}
