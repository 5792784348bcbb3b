//! End to end over real TCP sockets on loopback: two wallets with their own redb stores,
//! 100 random transfers in both directions, and a file-mailbox session.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_protocol::session::Session;
use dsm_transport::{tcp_dial, DirLink, TcpListener};
use dsm_wallet::driver::run;
use dsm_wallet::store::RedbStore;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
use std::time::Duration;

fn redb_wallet(dir: &std::path::Path, name: &str, funds: u128) -> Wallet {
    wallet_on(Box::new(RedbStore::open(&dir.join(name)).unwrap()), funds)
}

fn over_tcp(payer: &mut Wallet, payee: &mut Wallet, amount: u128) {
    let listener = TcpListener::bind("127.0.0.1:0", Duration::from_secs(20)).unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = payee.device_id();
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let (mut link, _) = listener.accept().unwrap();
            run(&mut Session::listener(), payee, &mut link)
        });
        let mut link = tcp_dial(addr, Duration::from_secs(20)).unwrap();
        let r = run(
            &mut Session::dialer(peer, vec![(token(DEFAULT_TOKEN), Amount(amount))]),
            payer,
            &mut link,
        );
        assert!(r.error.is_none(), "{:?}", r.error);
        let rl = h.join().unwrap();
        assert!(rl.error.is_none(), "{:?}", rl.error);
        assert_eq!(rl.completed.len(), 1, "{r:?} {rl:?}");
    });
}

#[test]
fn hundred_random_transfers_both_ways_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = redb_wallet(dir.path(), "a.redb", 10_000);
    let mut b = redb_wallet(dir.path(), "b.redb", 5_000);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..100 {
        let a_pays = next() % 2 == 0;
        let (payer, payee) = if a_pays {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let max = dev(payer);
        if max == 0 {
            continue;
        }
        let amount = 1 + (next() as u128) % max.min(700);
        over_tcp(payer, payee, amount);
        assert_eq!(dev(&a) + dev(&b), 15_000);
    }
    assert_settled(&a, &b, 15_000);
    assert!(a.history().unwrap().len() > 50);
}

#[test]
fn session_through_a_shared_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("usb-stick");
    let (mut a, _) = memory_wallet(300);
    let (mut b, _) = memory_wallet(0);
    let peer = b.device_id();
    let t = Duration::from_secs(20);
    std::thread::scope(|s| {
        let mb = mailbox.clone();
        let bref = &mut b;
        let h = s.spawn(move || {
            let mut link = DirLink::accept(&mb, t).unwrap();
            run(&mut Session::listener(), bref, &mut link)
        });
        let mut link = DirLink::dial(&mailbox, t).unwrap();
        let r = run(
            &mut Session::dialer(peer, vec![(token(DEFAULT_TOKEN), Amount(120))]),
            &mut a,
            &mut link,
        );
        assert!(r.error.is_none(), "{:?}", r.error);
        let rl = h.join().unwrap();
        assert!(rl.error.is_none(), "{:?}", rl.error);
    });
    assert_eq!(dev(&b), 120);
}
