//! The bilateral session between two wallets, end to end in memory.

mod common;
use common::*;
use dsm_protocol::session::SessionError;
use dsm_wallet::driver::RunError;
use dsm_wallet::EntryKind;

#[test]
fn one_transfer_then_back() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    let (ra, rb) = session(&mut a, &mut b, &[250]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert!(rb.error.is_none(), "{:?}", rb.error);
    assert_eq!((dev(&a), dev(&b)), (750, 250));
    assert_eq!(ra.completed.len(), 1);
    assert!(ra.completed[0].outgoing && !rb.completed[0].outgoing);
    assert_eq!(ra.completed[0].receipt, rb.completed[0].receipt);
    let (ra, _) = session(&mut b, &mut a, &[50, 25]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_eq!((dev(&a), dev(&b)), (825, 175));
    assert_settled(&a, &b, 1000);
    let kinds: Vec<EntryKind> = a.history().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EntryKind::DevFaucet, EntryKind::Sent, EntryKind::Received, EntryKind::Received]);
}

#[test]
fn insufficient_funds_is_refused_before_signing() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let (ra, _) = session(&mut a, &mut b, &[11]);
    assert!(matches!(ra.error, Some(RunError::Session(SessionError::Build(_)))), "{:?}", ra.error);
    assert_eq!(ra.remaining, 1);
    assert!(a.pending().unwrap().is_empty());
    assert_settled(&a, &b, 10);
}

#[test]
fn wrong_peer_is_refused() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let (c, _) = memory_wallet(0);
    // a dials expecting c, but b answers.
    let (ta, tb) = dsm_transport::memory_pair(std::time::Duration::from_secs(5));
    let (mut ta, mut tb) = (ta, tb);
    std::thread::scope(|s| {
        let h = s.spawn(|| dsm_wallet::driver::run(&mut dsm_protocol::session::Session::listener(), &mut b, &mut tb));
        let mut d = dsm_protocol::session::Session::dialer(c.device_id(), vec![(dsm_wallet::token("DEV"), dsm_core::chain::Amount(1))]);
        let r = dsm_wallet::driver::run(&mut d, &mut a, &mut ta);
        assert!(r.error.is_some());
        let rb = h.join().unwrap();
        assert!(rb.completed.is_empty());
    });
    assert_eq!(dev(&a), 10);
}
