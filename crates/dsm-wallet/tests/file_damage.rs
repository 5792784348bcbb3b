//! A damaged wallet file never lies and never panics (PROTOCOL.md §14): a real redb wallet
//! file holding transfers, a token, a vault and recovery capsules is damaged byte by byte
//! (a seeded sample of positions, plus every 64th byte of the header region) and truncated
//! at many lengths. Each copy is opened as `dsm` opens it (read-only, then a writing open
//! when the database asks for a repair or an upgrade) and read in full. Every outcome is
//! either a refusal, or exactly the original contents: never changed data, never a panic.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::crypto::SuiteId;
use dsm_recovery::{KdfCost, RecoveryKeys, RecoveryMnemonic};
use dsm_token::policy::TokenKind;
use dsm_token::vault::Condition;
use dsm_wallet::store::{RedbStore, Store, StoreError, Table};
use dsm_wallet::Wallet;
use redb::ReadableDatabase;
use std::path::Path;

type Dump = Vec<(Table, Vec<(Vec<u8>, Vec<u8>)>)>;

fn dump(s: &RedbStore) -> Result<Dump, StoreError> {
    Table::ALL.iter().map(|t| Ok((*t, s.scan(*t)?))).collect()
}

/// Opens a copy as the CLI does and reads everything: `Ok(contents)` or the refusal.
fn open_like_dsm(path: &Path) -> Result<Dump, StoreError> {
    let store = match RedbStore::open_read_only(path) {
        Err(StoreError::NeedsRepair | StoreError::NeedsUpgrade) => RedbStore::open(path)?,
        other => other?,
    };
    let d = dump(&store)?;
    // The wallet's own open checks what the tables mean (head, tips, held parcels).
    Wallet::open(Box::new(store), PASS).map_err(|e| StoreError::Damaged(e.to_string()))?;
    Ok(d)
}

/// A wallet file with transfers both ways, a token with a mint, a vault and recovery
/// capsules, closed cleanly.
fn real_wallet_file(path: &Path) {
    let keys = RecoveryKeys::derive(
        &RecoveryMnemonic::from_entropy(&[9; 32]),
        KdfCost {
            m_cost_kib: 64,
            t_cost: 1,
        },
    )
    .unwrap();
    let mut a = Wallet::create_with_recovery(
        Box::new(RedbStore::open(path).unwrap()),
        SuiteId::MlDsa65,
        PASS,
        fast_kdf(),
        &[],
        &keys,
    )
    .unwrap();
    a.dev_faucet(dsm_wallet::DEFAULT_TOKEN, Amount(1_000))
        .unwrap();
    let (mut b, _) = memory_wallet(500);
    session(&mut a, &mut b, &[100, 20]);
    session(&mut b, &mut a, &[7]);
    let p = gold(&a, TokenKind::Fungible);
    let (t, _) = a.import_policy(p.clone(), None).unwrap();
    b.import_policy(p, None).unwrap();
    a.mint(&t, Amount(300)).unwrap();
    a.create_vault(
        t,
        Amount(50),
        b.identity(),
        Condition::Iterations(10),
        Condition::Iterations(20),
    )
    .unwrap();
}

#[test]
fn a_damaged_wallet_file_is_refused_or_read_exactly_never_changed() {
    // redb panics on some damaged files; the store catches those (counted below as
    // refusals), so only other panics are worth printing.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !dsm_wallet::store::inside_guarded_call() {
            default_hook(info);
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.redb");
    real_wallet_file(&path);
    let original = std::fs::read(&path).unwrap();
    let truth = open_like_dsm(&path).expect("the undamaged file opens");
    assert!(truth
        .iter()
        .any(|(t, r)| *t == Table::Vaults && !r.is_empty()));
    assert!(truth
        .iter()
        .any(|(t, r)| *t == Table::Capsules && !r.is_empty()));
    assert!(truth
        .iter()
        .any(|(t, r)| *t == Table::Policies && !r.is_empty()));

    // Positions: every 64th byte of the first 8 KiB (redb's header and first pages), then a
    // seeded sample of the rest.
    let mut positions: Vec<usize> = (0..8192.min(original.len())).step_by(64).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while positions.len() < 700 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        positions.push((x % original.len() as u64) as usize);
    }
    let copy = dir.path().join("copy.redb");
    let (mut same, mut refused, mut changed, mut panicked) = (0, 0, Vec::new(), 0);
    let mut judge = |bytes: &[u8], what: String| {
        std::fs::write(&copy, bytes).unwrap();
        match std::panic::catch_unwind(|| open_like_dsm(&copy)) {
            Err(_) => panicked += 1,
            Ok(Err(_)) => refused += 1,
            Ok(Ok(d)) if d == truth => same += 1,
            Ok(Ok(_)) => changed.push(what),
        }
    };
    for &i in &positions {
        let mut b = original.clone();
        b[i] ^= 0x5a;
        judge(&b, format!("byte {i} flipped"));
    }
    let len = original.len();
    for cut in [0, 1, 100, 511, 4096, len / 4, len / 2, len - 4096, len - 1] {
        judge(
            &original[..cut.min(len)],
            format!("truncated to {cut} bytes"),
        );
    }
    eprintln!(
        "{} damaged copies: {same} read exactly (damage in unused space), {refused} refused, {} changed, {panicked} panicked",
        positions.len() + 9,
        changed.len()
    );
    assert_eq!(panicked, 0, "a damaged file made the open panic");
    assert!(changed.is_empty(), "opened with changed data: {changed:?}");
    // The damage really landed: most flips hit live data and were refused.
    assert!(refused > 100, "only {refused} refusals");
}

/// Each part of the integrity check, on its own: a flipped value, a record the database
/// lost, and a file written before record checks (upgraded once by a writing open).
#[test]
fn each_record_and_the_store_root_are_checked() {
    use dsm_wallet::store::Batch;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.redb");
    let mut s = RedbStore::open(&path).unwrap();
    let mut b = Batch::new();
    b.put(Table::Contacts, b"bob".to_vec(), b"one".to_vec())
        .put(Table::Contacts, b"carol".to_vec(), b"two".to_vec());
    s.commit(&b).unwrap();
    let mut b = Batch::new();
    b.delete(Table::Contacts, b"carol".to_vec()).put(
        Table::Contacts,
        b"bob".to_vec(),
        b"three".to_vec(),
    );
    s.commit(&b).unwrap();
    drop(s);
    let s = RedbStore::open_read_only(&path).unwrap();
    assert_eq!(
        s.scan(Table::Contacts).unwrap(),
        vec![(b"bob".to_vec(), b"three".to_vec())]
    );
    drop(s);

    // Rewrite the file's records underneath the store (as damage would), with redb itself.
    type RawTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;
    let raw = |f: &dyn Fn(&mut RawTable)| {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn
                .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("wallet"))
                .unwrap();
            f(&mut t);
        }
        txn.commit().unwrap();
    };
    let key = [&[Table::Contacts.id()][..], b"bob"].concat();
    let stored: Vec<u8> = {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn
            .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("wallet"))
            .unwrap();
        let v = t.get(key.as_slice()).unwrap().unwrap().value().to_vec();
        v
    };
    let mut flipped = stored.clone();
    flipped[0] ^= 1;
    raw(&|t| {
        t.insert(key.as_slice(), flipped.as_slice()).unwrap();
    });
    assert!(matches!(
        RedbStore::open_read_only(&path).err(),
        Some(StoreError::Damaged(m)) if m.contains("fails its check")
    ));
    // The record is gone: the root no longer matches.
    raw(&|t| {
        t.remove(key.as_slice()).unwrap();
    });
    assert!(matches!(
        RedbStore::open(&path).err(),
        Some(StoreError::Damaged(m)) if m.contains("store root does not match")
    ));
    // A file from before record checks: values without checks and no store record.
    raw(&|t| {
        t.remove([0u8].as_slice()).unwrap();
        t.insert(key.as_slice(), b"legacy".as_slice()).unwrap();
    });
    assert!(matches!(
        RedbStore::open_read_only(&path).err(),
        Some(StoreError::NeedsUpgrade)
    ));
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(
        s.get(Table::Contacts, b"bob").unwrap(),
        Some(b"legacy".to_vec())
    );
    drop(s);
    assert!(RedbStore::open_read_only(&path).is_ok(), "upgraded once");
}

/// A store whose last commit was deferred (not yet durable) makes it durable as it closes:
/// otherwise the file would need the database's repair, which read-only opens refuse.
#[test]
fn a_store_closed_after_a_deferred_commit_needs_no_repair() {
    use dsm_wallet::store::Batch;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.redb");
    let mut s = RedbStore::open(&path).unwrap();
    let mut b = Batch::new();
    b.put(Table::Contacts, b"bob".to_vec(), b"durable".to_vec());
    s.commit(&b).unwrap();
    let mut b = Batch::deferred();
    b.put(Table::Contacts, b"carol".to_vec(), b"deferred".to_vec());
    s.commit(&b).unwrap();
    drop(s);
    let s = RedbStore::open_read_only(&path).expect("a clean file");
    assert_eq!(
        s.get(Table::Contacts, b"carol").unwrap(),
        Some(b"deferred".to_vec())
    );
}
