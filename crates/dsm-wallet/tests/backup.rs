//! Backup files (PROTOCOL.md §20.9) against a real cluster of 6 storage nodes: a wallet
//! exported and restored as a successor takes over the old device's value and tombstones
//! it; an old copy restored as the same device stays frozen — it signs nothing and no
//! evidence appears anywhere — while a copy with nothing newer at the nodes is unfrozen and
//! pays on; and every damaged, foreign or truncated file is refused with its reason.

mod common;

use common::cluster::Cluster;
use common::{dev, memory_wallet, session, PASS};
use dsm_core::chain::Amount;
use dsm_recovery::backup::BackupFileError;
use dsm_recovery::RecoveryKeys;
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync};
use dsm_wallet::store::{CrashPoint, CrashingStore, MemoryStore, Store};
use dsm_wallet::wallet::backup::{open_backup, restore_same_device, unfreeze};
use dsm_wallet::wallet::recovery::{recover_from, BackupSource, RecoverOptions, RecoveryReport};
use dsm_wallet::{token, Wallet, WalletError, DEFAULT_TOKEN};

/// The error of a call that must fail (a `Wallet` has no `Debug`, so no `unwrap_err`).
fn err<T>(r: Result<T, WalletError>) -> WalletError {
    match r {
        Ok(_) => panic!("succeeded, but must be refused"),
        Err(e) => e,
    }
}

const OPTS: RecoverOptions<'static> = common::RECOVER_OPTS;

fn keys(seed: u8) -> RecoveryKeys {
    common::recovery_keys(seed)
}

/// A wallet with a recovery phrase, `funds` DEV, and `nodes` recorded.
fn recoverable(keys: &RecoveryKeys, funds: u128, nodes: &NodeSet) -> Wallet {
    let mut w = common::recoverable(keys, funds);
    w.set_nodes(nodes.nodes()).unwrap();
    w.set_replication(nodes.params()).unwrap();
    w
}

fn restore_from_file(
    file: &[u8],
    keys: &RecoveryKeys,
    nodes: &NodeSet,
) -> Result<(Wallet, RecoveryReport), WalletError> {
    let backup = open_backup(file, keys)?;
    recover_from(
        Box::new(MemoryStore::new()),
        keys,
        nodes,
        &OPTS,
        BackupSource::File(&backup),
        &mut |_| {},
        &mut |_| true,
    )
}

/// No evidence anywhere: in either wallet, or at any node.
fn assert_no_evidence(ws: &[&Wallet], nodes: &NodeSet) {
    for w in ws {
        assert!(w.evidence().unwrap().is_empty(), "a wallet holds evidence");
    }
    for n in nodes.nodes() {
        let listed = nodes.fetch_evidence(n, 0).expect("the node answers");
        assert!(listed.is_empty(), "node {n} holds evidence");
    }
}

#[test]
fn an_exported_wallet_restores_as_a_successor_that_replaces_the_old_device() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(31);
    let mut a = recoverable(&k, 1_000, &nodes);
    let (mut b, _) = memory_wallet(0);
    session(&mut a, &mut b, &[100]);
    b.set_nodes(nodes.nodes()).unwrap();
    let file = a.export_backup().unwrap();
    let old = a.device_id();
    // The device never synced: the nodes hold none of its capsules, only the file does.
    drop(a);
    let (mut a2, report) = restore_from_file(&file, &k, &nodes).unwrap();
    assert_eq!(report.lost, old);
    assert_ne!(a2.device_id(), old);
    assert_eq!(dev(&a2), 900);
    assert!(
        report.blocked.is_none() && report.left_out.is_empty(),
        "{report:?}"
    );
    // The counterparty learns of the succession at its next sync and refuses the old
    // device from then on; the successor's value pays on once bob acknowledged.
    sync(&mut b, &nodes).unwrap();
    // The notice carried the successor's identity document: bob keeps its signed KEM key.
    assert_eq!(
        b.contact_kem_key(&a2.device_id()).unwrap(),
        Some(a2.kem_keys().0)
    );
    // ... and sealed its answer to it (PROTOCOL.md §16.1).
    let items = common::own_b0x(&mut a2, &nodes);
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| {
        <dsm_protocol::mailbox::SealedItem as dsm_core::codec::Canonical>::from_bytes(&i.bytes)
            .is_ok()
    }));
    sync(&mut a2, &nodes).unwrap();
    let (rs, _) = session(&mut a2, &mut b, &[5]);
    assert_eq!(rs.completed.len(), 1, "{rs:?}");
    assert_eq!((dev(&a2), dev(&b)), (895, 105));
    // Importing the same file again: the identity was already restored from it.
    let again = err(restore_from_file(&file, &k, &nodes));
    assert!(
        again
            .to_string()
            .contains("already restored onto another device"),
        "{again}"
    );
    assert_no_evidence(&[&a2, &b], &nodes);
}

#[test]
fn an_old_copy_restored_as_the_same_device_signs_nothing_and_makes_no_evidence() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(32);
    let mut a = recoverable(&k, 1_000, &nodes);
    let (mut b, _) = memory_wallet(0);
    b.set_nodes(nodes.nodes()).unwrap();
    sync(&mut a, &nodes).unwrap();
    let file = a.export_backup().unwrap();
    // After the export the device pays online (its head's anchor slot is written) and
    // backs the change up.
    common::introduce(&mut a, &b);
    send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(10),
    )
    .unwrap();
    sync(&mut a, &nodes).unwrap();
    sync(&mut b, &nodes).unwrap();
    let backup = open_backup(&file, &k).unwrap();
    let home = MemoryStore::new();
    restore_same_device(Box::new(home.clone()), &backup, &k, PASS).unwrap();
    // Frozen: no `Wallet` exists for it, so nothing can sign.
    let e = err(Wallet::open(Box::new(home.clone()), PASS));
    assert!(matches!(e, WalletError::Frozen(_)), "{e}");
    let e = err(unfreeze(Box::new(home.clone()), PASS, &nodes));
    match &e {
        WalletError::Frozen(why) => assert!(
            why.contains("a statement this device signed after the backup"),
            "{why}"
        ),
        other => panic!("{other}"),
    }
    let e = err(Wallet::open(Box::new(home.clone()), PASS));
    assert!(matches!(e, WalletError::Frozen(_)), "still frozen: {e}");
    // The same file as a successor is refused too: the nodes hold a newer backup.
    let e = err(restore_from_file(&file, &k, &nodes));
    assert!(e.to_string().contains("newer backup"), "{e}");
    // Nothing was signed from the old head: no evidence at the nodes or in any wallet,
    // and the device and its counterparty go on.
    assert_no_evidence(&[&a, &b], &nodes);
    let (rs, _) = session(&mut a, &mut b, &[1]);
    assert!(rs.refused.is_empty() && rs.error.is_none(), "{rs:?}");
    assert_eq!((dev(&a), dev(&b)), (989, 11));
}

#[test]
fn a_copy_with_nothing_newer_at_the_nodes_is_unfrozen_and_pays_on() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(33);
    let mut a = recoverable(&k, 500, &nodes);
    let (mut b, _) = memory_wallet(0);
    b.set_nodes(nodes.nodes()).unwrap();
    sync(&mut a, &nodes).unwrap();
    let file = a.export_backup().unwrap();
    let id = a.device_id();
    drop(a); // the laptop is gone
    let backup = open_backup(&file, &k).unwrap();
    let home = MemoryStore::new();
    // The wallet's own passphrase is checked before anything is written.
    let wrong = restore_same_device(Box::new(home.clone()), &backup, &k, b"not it").unwrap_err();
    assert!(matches!(wrong, WalletError::Keystore(_)), "{wrong}");
    assert!(home
        .get(dsm_wallet::store::Table::Meta, b"identity")
        .unwrap()
        .is_none());
    restore_same_device(Box::new(home.clone()), &backup, &k, PASS).unwrap();
    // A second restore into the same home is refused.
    let e = restore_same_device(Box::new(home.clone()), &backup, &k, PASS).unwrap_err();
    assert!(matches!(e, WalletError::AlreadyExists), "{e}");
    // With fewer than W nodes answering, it stays frozen.
    c.only_up(3);
    let e = err(unfreeze(Box::new(home.clone()), PASS, &nodes));
    assert!(e.to_string().contains("are needed"), "{e}");
    c.only_up(6);
    let mut a = unfreeze(Box::new(home.clone()), PASS, &nodes).unwrap();
    assert_eq!(a.device_id(), id);
    assert_eq!(dev(&a), 500);
    common::introduce(&mut a, &b);
    send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(20),
    )
    .unwrap();
    sync(&mut b, &nodes).unwrap();
    assert_eq!((dev(&a), dev(&b)), (480, 20));
    assert_no_evidence(&[&a, &b], &nodes);
    // Opened again later, it is an ordinary wallet.
    drop(a);
    assert!(Wallet::open(Box::new(home), PASS).is_ok());
}

#[test]
fn a_foreign_damaged_or_truncated_backup_file_is_refused_with_its_reason() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(34);
    let a = recoverable(&k, 50, &nodes);
    let file = a.export_backup().unwrap();
    let refused = |bytes: &[u8], keys: &RecoveryKeys| match open_backup(bytes, keys) {
        Err(WalletError::Backup(e)) => e,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    };
    // Another phrase.
    assert_eq!(refused(&file, &keys(35)), BackupFileError::Open);
    // Every byte of the header, and a sample of the ciphertext, flipped.
    let mut flipped = 0;
    for i in (0..dsm_recovery::backup::HEADER_LEN)
        .chain((dsm_recovery::backup::HEADER_LEN..file.len()).step_by(997))
    {
        let mut bad = file.clone();
        bad[i] ^= 0x01;
        let e = refused(&bad, &k);
        let expected = match i {
            0..=10 => BackupFileError::NotABackup,
            11 => BackupFileError::Format(0),
            _ => BackupFileError::Open,
        };
        assert_eq!(e, expected, "byte {i}");
        flipped += 1;
    }
    assert!(flipped > dsm_recovery::backup::HEADER_LEN + 5, "{flipped}");
    // Truncated anywhere.
    for len in [0, 11, 12, 43, 44, 59, file.len() / 2, file.len() - 1] {
        let e = refused(&file[..len], &k);
        let expected = if len < dsm_recovery::backup::HEADER_LEN + 16 {
            BackupFileError::Truncated
        } else {
            BackupFileError::Open
        };
        assert_eq!(e, expected, "length {len}");
    }
    // Not a backup at all.
    assert_eq!(
        refused(b"SQLite format 3\0 and more bytes than a header", &k),
        BackupFileError::NotABackup
    );
    // The generation in clear names which key opens it: another generation's key fails.
    let mut other_gen = file.clone();
    other_gen[19] ^= 1;
    assert_eq!(refused(&other_gen, &k), BackupFileError::Open);
    // An identity without a phrase writes no backup.
    let (plain, _) = memory_wallet(1);
    let e = plain.export_backup().unwrap_err();
    assert!(e.to_string().contains("no recovery phrase"), "{e}");
}

fn restore_from_file_into(
    home: impl Store + 'static,
    file: &[u8],
    keys: &RecoveryKeys,
    nodes: &NodeSet,
) -> Result<(Wallet, RecoveryReport), WalletError> {
    let backup = open_backup(file, keys)?;
    recover_from(
        Box::new(home),
        keys,
        nodes,
        &OPTS,
        BackupSource::File(&backup),
        &mut |_| {},
        &mut |_| true,
    )
}

#[test]
fn a_crash_at_any_write_of_an_import_is_finished_by_running_it_again() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut seed = 60u8;
    let mut crashes = 0;
    for at in 0.. {
        let mut finished_without_crash = false;
        for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
            seed += 1;
            let k = keys(seed);
            let mut a = recoverable(&k, 1_000, &nodes);
            let (mut b, _) = memory_wallet(0);
            session(&mut a, &mut b, &[10]);
            let file = a.export_backup().unwrap();
            let lost = a.device_id();
            drop(a);
            // As a successor.
            let home = MemoryStore::new();
            let first = restore_from_file_into(
                CrashingStore::new(home.clone(), at, point),
                &file,
                &k,
                &nodes,
            );
            let created = match first {
                Ok(_) => {
                    finished_without_crash = true;
                    continue;
                }
                Err(e) if e.to_string().contains("crash") => {
                    Wallet::open(Box::new(home.clone()), PASS)
                        .ok()
                        .map(|w| w.device_id())
                }
                Err(e) => panic!("write {at} {point:?}: {e}"),
            };
            let (w, report) = restore_from_file_into(home.clone(), &file, &k, &nodes)
                .unwrap_or_else(|e| panic!("rerun after a crash at write {at} {point:?}: {e}"));
            if let Some(id) = created {
                assert_eq!(
                    w.device_id(),
                    id,
                    "write {at} {point:?}: the identity forked"
                );
            }
            assert_eq!(report.lost, lost);
            assert_eq!(dev(&w), 990);
            crashes += 1;
        }
        if finished_without_crash {
            break;
        }
        assert!(at < 64, "an import never finished");
    }
    assert!(crashes >= 10, "only {crashes} crashes landed");

    // As the same device: one commit, so a crash leaves nothing or all of it (frozen).
    let k = keys(59);
    let a = recoverable(&k, 7, &nodes);
    let file = a.export_backup().unwrap();
    drop(a);
    let backup = open_backup(&file, &k).unwrap();
    for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
        let home = MemoryStore::new();
        let e = restore_same_device(
            Box::new(CrashingStore::new(home.clone(), 0, point)),
            &backup,
            &k,
            PASS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("crash"), "{e}");
        match point {
            CrashPoint::BeforeWrite => {
                restore_same_device(Box::new(home.clone()), &backup, &k, PASS).unwrap()
            }
            CrashPoint::AfterWrite => {
                let again = restore_same_device(Box::new(home.clone()), &backup, &k, PASS);
                assert!(matches!(again, Err(WalletError::AlreadyExists)));
            }
        }
        assert!(matches!(
            Wallet::open(Box::new(home.clone()), PASS),
            Err(WalletError::Frozen(_))
        ));
        assert_eq!(dev(&unfreeze(Box::new(home), PASS, &nodes).unwrap()), 7);
    }
}
