//! The real `dsm` binary, run as a user would.

use assert_cmd::Command;
use predicates::prelude::*;

fn dsm() -> Command {
    Command::cargo_bin("dsm").unwrap()
}

#[test]
fn demo_runs_and_tells_the_whole_story() {
    dsm()
        .arg("demo")
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ both signatures verified"))
        .stdout(predicate::str::contains("refused before signing: Sender: insufficient balance"))
        .stdout(predicate::str::contains("bob's verifier refuses it: Sender: parent head already has another successor"))
        .stdout(predicate::str::contains("is a known equivocator and is refused forever"))
        .stdout(predicate::str::contains("total      1250 DEMO"));
}

#[test]
fn demo_is_reproducible_and_seed_dependent() {
    let run = |seed: &str| String::from_utf8(dsm().args(["demo", "--seed", seed]).output().unwrap().stdout).unwrap();
    assert_eq!(run("7"), run("7"));
    assert_ne!(run("7"), run("8"));
}

#[test]
fn demo_runs_with_the_hash_based_suite() {
    dsm().args(["demo", "--suite", "slh-dsa-sha2-128f"]).assert().success().stdout(predicate::str::contains("suite slh-dsa-sha2-128f"));
}

#[test]
fn bad_arguments_are_explained_not_panicked() {
    dsm().args(["demo", "--suite", "rsa"]).assert().code(2).stderr(predicate::str::contains("possible values: ml-dsa-65, slh-dsa-sha2-128f"));
    dsm().args(["demo", "--seed", "many"]).assert().code(2).stderr(predicate::str::contains("invalid value 'many' for '--seed <SEED>'"));
    dsm().arg("nonsense").assert().code(2).stderr(predicate::str::contains("unrecognized subcommand"));
    dsm().arg("--help").assert().success().stdout(predicate::str::contains("demo"));
}
