//! `dsm demo` as a user runs it: the story it tells adds up, and afterwards every byte its
//! storage nodes stored shows no device, token, amount or statement in clear, except in
//! evidence published on purpose (PROTOCOL.md §16.6).

#[allow(dead_code)]
#[path = "../../dsm-wallet/tests/common/leaks.rs"]
mod leaks;

use assert_cmd::Command;
use dsm_core::codec::Canonical;
use dsm_wallet::store::RedbStore;
use dsm_wallet::Wallet;
use predicates::prelude::*;
use std::collections::BTreeMap;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("dsm")
}

/// The story the demo tells: every scene's outcome, and the final balances adding up.
fn assert_the_story(out: assert_cmd::assert::Assert) {
    out.success()
        .stdout(predicate::str::contains("alice creates token CASH"))
        .stdout(predicate::str::contains("alice    sent 250 CASH to bob"))
        .stdout(predicate::str::contains("verified from its bytes alone"))
        .stdout(predicate::str::contains("(the earlier pending transfer)"))
        .stdout(predicate::str::contains(
            "carol signed a refusal of 300 CASH",
        ))
        .stdout(predicate::str::contains(
            "carol signed a refusal (\"the receiver holds too much unsettled value",
        ))
        .stdout(predicate::str::contains("TRIPWIRE bob"))
        .stdout(predicate::str::contains("TRIPWIRE carol"))
        .stdout(predicate::str::contains(
            "bob    holds 100 CASH descending from the parcel mallory spent twice",
        ))
        .stdout(predicate::str::contains(
            "oscar → alice: signed refusal, reason LINEAGE",
        ))
        .stdout(predicate::str::contains(
            "olga → alice, shipping the whole lineage (oscar's hop and identity): signed refusal, reason LINEAGE",
        ))
        .stdout(predicate::str::contains(
            "nothing was credited",
        ))
        .stdout(
            predicate::str::contains("known equivocator")
                .or(predicate::str::contains("refused this device")),
        )
        .stdout(predicate::str::contains(
            "settled, 6 of 6 slot nodes hold it",
        ))
        .stdout(predicate::str::contains("queued behind the first"))
        .stdout(predicate::str::contains(
            "7 contributions in its genesis record",
        ))
        .stdout(predicate::str::contains("credits 40 and 1 CASH, in queue order"))
        .stdout(predicate::str::contains("9b. A refresh"))
        .stdout(predicate::str::contains("one fresh parcel of 41 CASH ([0] hops) is his"))
        .stdout(predicate::str::contains("1 in conflict"))
        .stdout(predicate::str::contains("learns from the nodes"))
        .stdout(predicate::str::contains(
            "dave claims with the right one: +30 CASH",
        ))
        .stdout(predicate::str::contains(
            "already resolved at the storage nodes by its release branch",
        ))
        .stdout(predicate::str::contains(
            "joins as activation #0: nobody was active yet",
        ))
        .stdout(predicate::str::contains(
            "joins as activation #3: paid 1000000 ERA",
        ))
        .stdout(predicate::str::contains("already joined"))
        .stdout(predicate::str::contains(
            "as the winner instead of the drawn one",
        ))
        .stdout(predicate::str::contains("alice mints 1000000 dBTC"))
        .stdout(predicate::str::contains(
            "the same deposit again: this Bitcoin deposit (outpoint) already minted",
        ))
        .stdout(predicate::str::contains(
            "libbitcoinconsensus) accepts the witness",
        ))
        .stdout(predicate::str::contains("cannot bring the dBTC back"))
        .stdout(predicate::str::contains("not a balance oracle: gina tries to pay bob before he answers"))
        .stdout(predicate::str::contains("bob syncs: checks the records and that the tip it holds is the restored one: Acknowledged"))
        .stdout(predicate::str::contains("the thief tries to pay bob with the stolen phone"))
        .stdout(predicate::str::contains("gina pays bob 5 from her new phone: final"))
        .stdout(predicate::str::is_match(r"total\s+1200\s+3000000\s+600000").unwrap());
}

/// Overwrites every occurrence of `needle` in `disk`; how many there were.
fn blank(disk: &mut [u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= disk.len() {
        if &disk[i..i + needle.len()] == needle {
            disk[i..i + needle.len()].fill(0);
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The demo, run as a user runs it with `--keep`, tells its whole story; then every byte of
/// every storage node's store file (free pages included) is searched for what would tell
/// an operator who paid whom, what and when: every wallet's device id, genesis and head,
/// every token id, and each receipt's heads, relationship, parcels, hop and proposal. What
/// the nodes hold on purpose is taken out first, and asserted to be there: the equivocation
/// evidence (§8.2, published so that everyone refuses the cheater — its statements and the
/// cheater's id). Nothing else may be found.
#[test]
fn the_demos_story_adds_up_and_its_nodes_store_no_business_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    assert_the_story(
        Command::new(bin())
            .args(["demo", "--keep"])
            .arg(&keep)
            .assert(),
    );
    let mut wallets = BTreeMap::new();
    let mut disks = Vec::new();
    for entry in std::fs::read_dir(&keep).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "redb") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name.starts_with("node") {
            disks.push(std::fs::read(&path).unwrap());
        } else {
            let store = RedbStore::open(&path).unwrap();
            let w = Wallet::open(Box::new(store), b"demo passphrase")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            wallets.insert(name, w);
        }
    }
    assert_eq!(disks.len(), 6, "the demo's six storage nodes");
    assert!(wallets.len() >= 10, "{:?}", wallets.keys());
    let mut secrets = leaks::Secrets::default();
    for (name, w) in &wallets {
        secrets.everything_of(name, w);
    }
    // Published on purpose: the evidence, and the cheater it names.
    let mut proofs = std::collections::BTreeSet::new();
    let mut cheaters = Vec::new();
    for w in wallets.values() {
        for proof in w.evidence().unwrap() {
            cheaters.push(proof.verify().unwrap().device());
            proofs.insert(proof.to_bytes());
        }
    }
    assert!(
        !cheaters.is_empty(),
        "the demo's double spend left evidence"
    );
    let mut found_proofs = 0;
    for disk in &mut disks {
        for bytes in &proofs {
            found_proofs += blank(disk, bytes);
        }
        for c in &cheaters {
            blank(disk, c.as_bytes());
        }
    }
    assert!(found_proofs > 0, "the evidence is at the nodes");
    secrets.assert_on_no_disk(&disks);
}
