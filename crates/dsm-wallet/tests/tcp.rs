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

/// Whether a read saw the connection end (end of file or a reset), not a timeout.
fn ended(read: std::io::Result<usize>) -> bool {
    match read {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A peer that trickles a frame one byte at a time (always just inside the idle timeout)
/// holds only its own connection: senders connecting after it are served side by side and
/// complete, and its session limit ends it (PROTOCOL.md §13; `dsm receive` over TCP).
#[test]
fn a_trickling_peer_holds_only_its_own_connection_until_its_session_limit() {
    use dsm_transport::server::{ServerLimits, TcpServer};
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = redb_wallet(dir.path(), "r.redb", 0);
    let mut senders = [
        redb_wallet(dir.path(), "s1.redb", 500),
        redb_wallet(dir.path(), "s2.redb", 500),
    ];
    let peer = receiver.device_id();
    let mut server = TcpServer::bind(
        "127.0.0.1:0",
        ServerLimits {
            idle: Duration::from_secs(2),
            session: Duration::from_secs(1),
            max_connections: 8,
            max_per_address: 8,
        },
    )
    .unwrap();
    let addr = server.local_addr();
    // The trickler: a frame header announcing 1,000 bytes, then one byte every 100 ms.
    let mut trickle = std::net::TcpStream::connect(addr).unwrap();
    trickle.write_all(&[1, 0, 0, 3, 0xe8]).unwrap();
    let trickler = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < 1_000 {
            std::thread::sleep(Duration::from_millis(100));
            if trickle.write_all(&[0]).is_err() {
                break;
            }
            sent += 1;
        }
        // Cut off: the server closed the connection (a read sees its end, not a timeout).
        trickle
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0u8; 1];
        (sent, ended(trickle.read(&mut b)))
    });
    std::thread::scope(|s| {
        let server = &mut server;
        let receiver = &mut receiver;
        let h = s.spawn(move || {
            let mut reports = Vec::new();
            dsm_wallet::driver::serve(server, receiver, &mut |_, r, _| {
                reports.push(r);
                // The two senders' sessions and the trickler's.
                reports.len() == 3
            });
            reports
        });
        std::thread::sleep(Duration::from_millis(200));
        for sender in senders.iter_mut() {
            let mut link = tcp_dial(addr, Duration::from_secs(20)).unwrap();
            let r = run(
                &mut Session::dialer(peer, vec![(token(DEFAULT_TOKEN), Amount(100))]),
                sender,
                &mut link,
            );
            assert!(r.error.is_none(), "{:?}", r.error);
            assert_eq!(r.completed.len(), 1);
        }
        let reports = h.join().unwrap();
        assert_eq!(
            reports.iter().filter(|r| r.completed.len() == 1).count(),
            2,
            "both senders were served while the trickler was connected"
        );
        assert!(
            reports.iter().any(|r| r.completed.is_empty()
                && matches!(
                    r.error,
                    Some(dsm_wallet::driver::RunError::Transport(
                        dsm_transport::TransportError::Timeout(_)
                    ))
                )),
            "the trickler's session ended at its limit: {reports:?}"
        );
    });
    let (sent, closed) = trickler.join().unwrap();
    assert!(
        closed && sent < 1_000,
        "the trickler was cut off ({sent} bytes sent)"
    );
    assert_eq!(dev(&receiver), 200);
}

/// One connection over the cap is closed at once, without a thread or a session.
#[test]
fn a_connection_over_the_cap_is_closed_at_once() {
    use dsm_transport::server::{ServerEvent, ServerLimits, TcpServer};
    use std::io::Read;
    let mut server = TcpServer::bind(
        "127.0.0.1:0",
        ServerLimits {
            idle: Duration::from_secs(20),
            session: Duration::from_secs(20),
            max_connections: 2,
            max_per_address: 2,
        },
    )
    .unwrap();
    let addr = server.local_addr();
    let _held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut opened = 0;
    while opened < 2 {
        if let Some(ServerEvent::Opened { .. }) = server.next_event(Duration::from_secs(5)) {
            opened += 1;
        }
    }
    let mut third = std::net::TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(ended(third.read(&mut b)), "the third connection is closed");
    assert_eq!(server.connections(), 2);
}

/// One client address cannot hold every connection: past `max_per_address`, its next
/// connection is closed at once, while another address is still served.
#[test]
fn one_address_cannot_hold_every_connection() {
    use dsm_transport::server::{ServerEvent, ServerLimits, TcpServer};
    use std::io::Read;
    let mut server = TcpServer::bind(
        "127.0.0.1:0",
        ServerLimits {
            idle: Duration::from_secs(20),
            session: Duration::from_secs(20),
            max_connections: 8,
            max_per_address: 2,
        },
    )
    .unwrap();
    let addr = server.local_addr();
    let _held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut opened = 0;
    while opened < 2 {
        if let Some(ServerEvent::Opened { .. }) = server.next_event(Duration::from_secs(5)) {
            opened += 1;
        }
    }
    let mut third = std::net::TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        ended(third.read(&mut b)),
        "a third connection from one address is closed"
    );
    // From 127.0.0.2 (Linux routes all of 127/8 to loopback): served.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _other = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap()
    });
    let peer = loop {
        match server.next_event(Duration::from_secs(5)) {
            Some(ServerEvent::Opened { peer, .. }) => break peer,
            Some(_) => continue,
            None => panic!("the other address was not served"),
        }
    };
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
    assert_eq!(server.connections(), 3);
}
