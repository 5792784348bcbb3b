//! The same wallet code over every transport: 50 transfers per transport with faults
//! injected at 10–30 % of frames or packets; after every session the state is defined
//! (value conserved with what is in flight, at most one pending transfer — the modal
//! lock), and clean sessions afterwards settle everything. An SLH-DSA receipt (the largest
//! messages) crosses every transport.

mod common;

use common::{assert_settled, dev, fast_kdf, session_over, wallet_on, PASS};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_transport::apdu::{ApduCard, ApduReader, APDU_MTU};
use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
use dsm_transport::packet::{
    memory_packets, FaultTally, FaultyPackets, PacketFaults, StreamPackets, TcpPackets,
};
use dsm_transport::{tcp_dial, DirLink, Link, RandomFaults, TcpListener};
use dsm_wallet::store::MemoryStore;
use dsm_wallet::Wallet;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Pair = (Box<dyn Link + Send>, Box<dyn Link + Send>);

/// How to make a (dialer, listener) pair for one session, given a fault rate (‰), a seed,
/// and the tally every injected fault is counted in.
type Maker = dyn Fn(u16, u64, &FaultTally) -> Pair;

fn chunk_opts() -> ChunkOptions {
    ChunkOptions {
        rto: Duration::from_millis(15),
        window: 8,
        timeout: Duration::from_secs(3),
        linger: Duration::from_secs(1),
    }
}

fn faults(rate: u16) -> PacketFaults {
    PacketFaults::spread(rate)
}

/// How long a stream link waits for a frame: short under faults (a dropped frame must end
/// the session quickly), generous on a clean link, where a timeout can only mean a busy
/// machine (an SLH-DSA receipt is tens of frames on QR).
fn wait(rate: u16, faulty: Duration) -> Duration {
    if rate == 0 {
        Duration::from_secs(30)
    } else {
        faulty
    }
}

fn tcp(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    let t = wait(rate, Duration::from_millis(400));
    let l = TcpListener::bind("127.0.0.1:0", t).unwrap();
    let d = tcp_dial(l.local_addr().unwrap(), t).unwrap();
    let (a, _) = l.accept().unwrap();
    (
        Box::new(RandomFaults::new(d, faults(rate), seed).with_tally(tally.clone())),
        Box::new(RandomFaults::new(a, faults(rate), seed + 1).with_tally(tally.clone())),
    )
}

fn file(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    let dir = tempfile::tempdir().unwrap().keep();
    let t = wait(rate, Duration::from_millis(400));
    let d = DirLink::dial(&dir, t).unwrap();
    let l = DirLink::accept(&dir, t).unwrap();
    (
        Box::new(RandomFaults::new(d, faults(rate), seed).with_tally(tally.clone())),
        Box::new(RandomFaults::new(l, faults(rate), seed + 1).with_tally(tally.clone())),
    )
}

fn ble(mtu: usize) -> impl Fn(u16, u64, &FaultTally) -> Pair {
    move |rate, seed, tally| {
        let (x, y) = memory_packets(mtu);
        (
            Box::new(
                ChunkedLink::dial(
                    FaultyPackets::new(x, faults(rate), seed).with_tally(tally.clone()),
                    chunk_opts(),
                )
                .unwrap(),
            ),
            Box::new(
                ChunkedLink::accept(
                    FaultyPackets::new(y, faults(rate), seed + 1).with_tally(tally.clone()),
                    chunk_opts(),
                )
                .unwrap(),
            ),
        )
    }
}

fn ble_tcp(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (
        Box::new(
            ChunkedLink::dial(
                FaultyPackets::new(TcpPackets::dial(addr, 185), faults(rate), seed)
                    .with_tally(tally.clone()),
                chunk_opts(),
            )
            .unwrap(),
        ),
        Box::new(
            ChunkedLink::accept(
                FaultyPackets::new(TcpPackets::accept(l, 185).unwrap(), faults(rate), seed + 1)
                    .with_tally(tally.clone()),
                chunk_opts(),
            )
            .unwrap(),
        ),
    )
}

fn nfc(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    let (x, y) = memory_packets(APDU_MTU + 6);
    (
        Box::new(
            ChunkedLink::dial(
                ApduReader::new(
                    FaultyPackets::new(x, faults(rate), seed).with_tally(tally.clone()),
                ),
                chunk_opts(),
            )
            .unwrap(),
        ),
        Box::new(
            ChunkedLink::accept(
                ApduCard::new(
                    FaultyPackets::new(y, faults(rate), seed + 1).with_tally(tally.clone()),
                ),
                chunk_opts(),
            )
            .unwrap(),
        ),
    )
}

fn serial(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = dsm_transport::serial::open_raw(std::path::Path::new(name.to_str().unwrap()), None)
        .unwrap();
    let master = std::fs::File::from(master);
    let mtu = dsm_transport::serial::SERIAL_MTU;
    (
        Box::new(
            ChunkedLink::dial(
                FaultyPackets::new(
                    StreamPackets::new(master.try_clone().unwrap(), master, mtu),
                    faults(rate),
                    seed,
                )
                .with_tally(tally.clone()),
                chunk_opts(),
            )
            .unwrap(),
        ),
        Box::new(
            ChunkedLink::accept(
                FaultyPackets::new(
                    StreamPackets::new(slave.try_clone().unwrap(), slave, mtu),
                    faults(rate),
                    seed + 1,
                )
                .with_tally(tally.clone()),
                chunk_opts(),
            )
            .unwrap(),
        ),
    )
}

/// QR frames through a directory; each side's camera misses `rate` ‰ of the frames.
fn qr(rate: u16, seed: u64, tally: &FaultTally) -> Pair {
    let dir = tempfile::tempdir().unwrap().keep();
    let miss = |seed: u64| -> dsm_qr::CameraMiss {
        let mut state = seed | 1;
        let tally = tally.clone();
        Box::new(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let missed = state % 1000 < u64::from(rate);
            if missed {
                tally.fetch_add(1, Ordering::Relaxed);
            }
            missed
        })
    };
    let o = |seed| dsm_qr::QrOptions {
        scale: 2,
        camera_miss: Some(miss(seed)),
        ..Default::default()
    };
    // Frames missed beyond the repair margin stall a message: the session times out and
    // the next one resumes, as with a camera that looked away.
    let t = wait(rate, Duration::from_secs(2));
    let d = dsm_qr::QrDirLink::dial(&dir, t, o(seed)).unwrap();
    let l = dsm_qr::QrDirLink::accept(&dir, t, o(seed + 1)).unwrap();
    (Box::new(d), Box::new(l))
}

fn pending_amount(w: &Wallet) -> u128 {
    w.pending()
        .unwrap()
        .iter()
        .map(|p| p.proposal.step.amount.0)
        .sum()
}

/// 10 sessions × 5 transfers under faults, invariants after each, then clean sessions. At
/// least `min_completed` transfers must complete inside the faulty sessions (so recovering
/// from faults is what is tested, not only surviving them), and faults must have fired.
fn fifty_transfers(name: &str, make: &Maker, min_completed: usize) {
    let tally = FaultTally::default();
    let supply = 10_000;
    let mut a = wallet_on(Box::new(MemoryStore::new()), supply);
    let mut b = wallet_on(Box::new(MemoryStore::new()), 0);
    let mut completed = 0;
    let mut failed = 0;
    for round in 0..10u64 {
        // Fault rates from 10 % to 30 %.
        let rate = 100 + (round as u16 % 3) * 100;
        let (la, lb) = make(rate, 1000 * round + 7, &tally);
        let amounts: Vec<u128> = (1..=5).map(|k| (round as u128) * 5 + k).collect();
        let (rd, rl) = session_over(&mut a, &mut b, &amounts, la, lb);
        completed += rd.completed.len();
        failed += usize::from(rd.error.is_some() || rl.error.is_some());
        if rd.error.is_some() || rl.error.is_some() {
            eprintln!(
                "{name} round {round}: dialer {:?} / listener {:?}",
                rd.error, rl.error
            );
        }
        // A defined state: nothing lost, nothing doubled, one relationship locked at most.
        // What left a and has not reached b is exactly the one pending transfer (not yet
        // credited) or nothing (credited; a stitches at the next session).
        let debited = supply - dev(&a);
        let in_flight = debited
            .checked_sub(dev(&b))
            .expect("b never has more than a paid");
        assert!(
            in_flight == 0 || in_flight == pending_amount(&a),
            "{name} round {round}: value conserved ({rd:?} / {rl:?})"
        );
        assert!(
            a.pending().unwrap().len() <= 1,
            "{name}: the modal lock holds"
        );
    }
    // Clean sessions resolve whatever is pending.
    for _ in 0..3 {
        if a.pending().unwrap().is_empty() {
            break;
        }
        let (la, lb) = make(0, 99, &FaultTally::default());
        let (rd, _) = session_over(&mut a, &mut b, &[], la, lb);
        assert!(rd.error.is_none(), "{name}: clean session: {rd:?}");
    }
    assert_settled(&a, &b, supply);
    let injected = tally.load(Ordering::Relaxed);
    eprintln!("{name}: {completed} of 50 transfers completed in faulty sessions ({failed} sessions ended early, {injected} faults injected)");
    assert!(injected >= 5, "{name}: only {injected} faults fired");
    assert!(
        completed >= min_completed,
        "{name}: {completed} of 50 transfers completed under faults, expected at least {min_completed}"
    );
}

#[test]
fn fifty_faulty_transfers_over_tcp() {
    fifty_transfers("tcp", &tcp, 15);
}

#[test]
fn fifty_faulty_transfers_over_a_shared_directory() {
    fifty_transfers("file", &file, 15);
}

#[test]
fn fifty_faulty_transfers_over_ble_mtu_185_and_512() {
    fifty_transfers("ble-185", &ble(185), 35);
    fifty_transfers("ble-512", &ble(512), 35);
}

#[test]
fn fifty_faulty_transfers_over_ble_between_processes_via_tcp_packets() {
    fifty_transfers("ble-tcp", &ble_tcp, 35);
}

#[test]
fn fifty_faulty_transfers_over_nfc() {
    fifty_transfers("nfc", &nfc, 35);
}

#[test]
fn fifty_faulty_transfers_over_a_serial_pty() {
    fifty_transfers("serial", &serial, 35);
}

#[test]
fn fifty_faulty_transfers_over_qr_codes_with_missed_frames() {
    fifty_transfers("qr", &qr, 25);
}

#[test]
fn an_slh_dsa_receipt_crosses_every_transport() {
    let makers: Vec<(&str, Box<Maker>)> = vec![
        ("tcp", Box::new(tcp)),
        ("file", Box::new(file)),
        ("ble-185", Box::new(ble(185))),
        ("ble-tcp", Box::new(ble_tcp)),
        ("nfc", Box::new(nfc)),
        ("serial", Box::new(serial)),
        ("qr", Box::new(qr)),
    ];
    for (name, make) in makers {
        let mut a = Wallet::create(
            Box::new(MemoryStore::new()),
            SuiteId::SlhDsaSha2_128f,
            PASS,
            fast_kdf(),
        )
        .unwrap();
        a.dev_faucet(dsm_wallet::DEFAULT_TOKEN, dsm_core::chain::Amount(100))
            .unwrap();
        let mut b = Wallet::create(
            Box::new(MemoryStore::new()),
            SuiteId::SlhDsaSha2_128f,
            PASS,
            fast_kdf(),
        )
        .unwrap();
        let (la, lb) = make(0, 1, &FaultTally::default());
        let (rd, rl) = session_over(&mut a, &mut b, &[40], la, lb);
        assert!(
            rd.error.is_none() && rl.error.is_none(),
            "{name}: {rd:?} {rl:?}"
        );
        assert_eq!(rd.completed.len(), 1, "{name}");
        let bytes = rd.completed[0].receipt.to_bytes();
        assert!(bytes.len() > 30_000, "{name}: an SLH-DSA receipt is big");
        assert_eq!((dev(&a), dev(&b)), (60, 40), "{name}");
        assert_settled(&a, &b, 100);
    }
}
