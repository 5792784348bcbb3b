//! `Wallet::check` (`dsm check`): a sound store checks clean, and an object whose bytes no
//! longer hash to its address, a receipt that no longer verifies and evidence that no
//! longer verifies are each reported.

mod common;
use common::*;
use dsm_wallet::store::{Batch, Store, Table};

#[test]
fn a_sound_store_checks_clean_and_each_kind_of_damage_is_reported() {
    let (mut a, store_a) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let (_, r) = session(&mut a, &mut b, &[30]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let c = reopen(&store_a).check().unwrap();
    assert!(c.problems.is_empty(), "{c:?}");
    assert!(c.objects > 0 && c.receipts == 1, "{c:?}");
    // Damage one object and one receipt in place (as a bad disk would).
    let mut store = store_a.clone();
    let mut batch = Batch::new();
    let (k, mut v) = store.scan(Table::Objects).unwrap().remove(0);
    v[0] ^= 1;
    batch.put(Table::Objects, k, v);
    let (k, mut v) = store.scan(Table::Receipts).unwrap().remove(0);
    let last = v.len() - 1;
    v[last] ^= 1;
    batch.put(Table::Receipts, k, v);
    batch.put(Table::Evidence, vec![7; 32], b"not a proof".to_vec());
    store.commit(&batch).unwrap();
    let c = reopen(&store_a).check().unwrap();
    assert_eq!(c.problems.len(), 3, "{c:?}");
    assert!(
        c.problems[0].contains("do not hash to its address"),
        "{c:?}"
    );
    assert!(
        c.problems[1].contains("receipt") && c.problems[1].contains("does not verify"),
        "{c:?}"
    );
    assert!(c.problems[2].contains("evidence"), "{c:?}");
}

/// Parts of another wallet's file are refused at open, whatever their record checks say:
/// another device's head, another identity's genesis record.
#[test]
fn a_head_or_genesis_from_another_wallet_is_refused_at_open() {
    let (_a, store_a) = memory_wallet(100);
    let (_b, store_b) = memory_wallet(100);
    for key in [&b"head"[..], b"genesis_record"] {
        let mut store = store_a.fork();
        let theirs = store_b.get(Table::Meta, key).unwrap().unwrap();
        let mut batch = Batch::new();
        batch.put(Table::Meta, key.to_vec(), theirs);
        store.commit(&batch).unwrap();
        let err = dsm_wallet::Wallet::open(Box::new(store), PASS)
            .err()
            .unwrap();
        assert!(
            matches!(err, dsm_wallet::WalletError::Corrupt { .. }),
            "{key:?}: {err}"
        );
    }
    assert!(dsm_wallet::Wallet::open(Box::new(store_a), PASS).is_ok());
}
