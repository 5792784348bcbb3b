//! The chunked links (BLE-style, NFC-style, serial) under faults: every message arrives
//! whole, once, in order; foreign, corrupt and oversize packets are dropped; a flood of
//! garbage costs bounded memory; a cut connection resumes.

use dsm_transport::apdu::{ApduCard, ApduReader, APDU_MTU};
use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
use dsm_transport::packet::{
    memory_packets, FaultyPackets, MemoryPackets, PacketFaults, PacketLink, StreamPackets,
    TcpPackets,
};
use dsm_transport::serial::{open_raw, serial_over};
use dsm_transport::{Link, TransportError};
use std::time::Duration;

fn opts() -> ChunkOptions {
    ChunkOptions {
        rto: Duration::from_millis(15),
        window: 8,
        timeout: Duration::from_secs(20),
        linger: Duration::from_millis(500),
    }
}

fn message(len: usize, tag: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31) ^ tag).collect()
}

/// Ping-pong of messages of every interesting size, each echoed back transformed.
fn exchange(mut a: impl Link + Send + 'static, mut b: impl Link) {
    let sizes = [0usize, 1, 163, 164, 165, 1000, 12_000, 36_000];
    let t = std::thread::spawn(move || {
        for (i, &n) in sizes.iter().enumerate() {
            let m = a.recv().unwrap();
            assert_eq!(m, message(n, i as u8), "message {i} of {n} bytes");
            a.send(&message(n / 2, !(i as u8))).unwrap();
        }
    });
    for (i, &n) in sizes.iter().enumerate() {
        b.send(&message(n, i as u8)).unwrap();
        assert_eq!(b.recv().unwrap(), message(n / 2, !(i as u8)));
    }
    drop(b);
    t.join().unwrap();
}

fn faulty(p: MemoryPackets, per_mille: u16, seed: u64) -> FaultyPackets<MemoryPackets> {
    FaultyPackets::new(p, PacketFaults::spread(per_mille), seed)
}

#[test]
fn ble_link_delivers_exactly_once_in_order_under_faults() {
    for (mtu, rate, seed) in [(185, 0, 1), (185, 100, 2), (185, 300, 3), (512, 300, 4)] {
        let (x, y) = memory_packets(mtu);
        let a = ChunkedLink::accept(faulty(x, rate, seed), opts()).unwrap();
        let b = ChunkedLink::dial(faulty(y, rate, seed + 100), opts()).unwrap();
        exchange(a, b);
    }
}

#[test]
fn nfc_link_delivers_in_command_response_turns_under_faults() {
    for (rate, seed) in [(0, 5), (200, 6)] {
        let (x, y) = memory_packets(APDU_MTU + 6);
        let card = ChunkedLink::accept(ApduCard::new(faulty(x, rate, seed)), opts()).unwrap();
        let reader = ChunkedLink::dial(ApduReader::new(faulty(y, rate, seed + 1)), opts()).unwrap();
        exchange(card, reader);
    }
}

/// A carrier that records every packet the card sends, to check the turn discipline.
struct Spy(MemoryPackets, std::sync::Arc<std::sync::Mutex<Vec<usize>>>);
impl PacketLink for Spy {
    fn mtu(&self) -> usize {
        self.0.mtu()
    }
    fn send_packet(&mut self, p: &[u8]) -> Result<(), TransportError> {
        self.1.lock().unwrap().push(p.len());
        self.0.send_packet(p)
    }
    fn recv_packet(&mut self, w: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        self.0.recv_packet(w)
    }
}

#[test]
fn the_card_only_ever_answers_and_every_apdu_fits() {
    let (x, y) = memory_packets(APDU_MTU + 6);
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let card = ChunkedLink::accept(ApduCard::new(Spy(x, sent.clone())), opts()).unwrap();
    let reader = ChunkedLink::dial(ApduReader::new(y), opts()).unwrap();
    exchange(card, reader);
    let lens = sent.lock().unwrap();
    assert!(!lens.is_empty());
    // Every response is data (≤ 255) plus the status word.
    assert!(lens.iter().all(|&n| (2..=APDU_MTU + 2).contains(&n)));
}

#[test]
fn a_cut_tcp_connection_resumes_mid_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let a = ChunkedLink::accept(TcpPackets::accept(listener, 185).unwrap(), opts()).unwrap();
    let mut b = ChunkedLink::dial(TcpPackets::dial(addr, 185), opts()).unwrap();
    let t = std::thread::spawn(move || {
        let mut a = a;
        let m = a.recv().unwrap();
        a.send(&m).unwrap();
        let m = a.recv().unwrap();
        a.send(&m).unwrap();
    });
    let big = message(36_000, 7);
    b.send(&big).unwrap();
    // Cut while the peer is sending the echo back.
    std::thread::sleep(Duration::from_millis(5));
    b.inner_mut().sever();
    assert_eq!(b.recv().unwrap(), big);
    b.inner_mut().sever();
    b.send(b"after two cuts").unwrap();
    assert_eq!(b.recv().unwrap(), b"after two cuts");
    drop(b);
    t.join().unwrap();
}

/// A DATA packet as PROTOCOL.md §13.2 lays it out.
fn data_packet(id: [u8; 4], seq: u32, index: u16, count: u16, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![1];
    p.extend_from_slice(&id);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&index.to_be_bytes());
    p.extend_from_slice(&count.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // delivered
    p.extend_from_slice(bytes);
    let crc = crc32fast::hash(&p).to_be_bytes();
    p.extend_from_slice(&crc);
    p
}

#[test]
fn foreign_corrupt_and_oversize_packets_are_dropped() {
    let (x, mut y) = memory_packets(185);
    let mut a = ChunkedLink::accept(x, opts()).unwrap();
    let id = [1, 2, 3, 4];
    // The first valid packet binds the listener to its link id.
    y.send_packet(&data_packet(id, 1, 0, 1, b"hello")).unwrap();
    assert_eq!(a.recv().unwrap(), b"hello");
    // Then: another session's packets, a bad CRC, chunks that lie about their size or
    // index, and garbage of every length.
    y.send_packet(&data_packet([9, 9, 9, 9], 2, 0, 1, b"stranger"))
        .unwrap();
    let mut bad_crc = data_packet(id, 2, 0, 1, b"flipped");
    *bad_crc.last_mut().unwrap() ^= 1;
    y.send_packet(&bad_crc).unwrap();
    y.send_packet(&data_packet(id, 2, 5, 2, b"index past count"))
        .unwrap();
    y.send_packet(&data_packet(id, 2, 0, 2, b"short non-final chunk"))
        .unwrap();
    y.send_packet(&data_packet(id, 2, 0, u16::MAX, b"too many chunks"))
        .unwrap();
    y.send_packet(&data_packet(id, 5, 0, 1, b"a message from the future"))
        .unwrap();
    // Valid CRC, but an unknown kind, and an ACK of the wrong length.
    let with_crc = |mut p: Vec<u8>| {
        let c = crc32fast::hash(&p).to_be_bytes();
        p.extend_from_slice(&c);
        p
    };
    y.send_packet(&with_crc(vec![3, 1, 2, 3, 4, 0, 0, 0, 2, 0, 0]))
        .unwrap();
    y.send_packet(&with_crc(vec![2, 1, 2, 3, 4, 0, 0, 0, 2, 0, 0, 9]))
        .unwrap();
    for k in 0..200u32 {
        let junk: Vec<u8> = (0..(k % 185)).map(|i| (i * k) as u8).collect();
        y.send_packet(&junk).unwrap();
    }
    y.send_packet(&data_packet(id, 2, 0, 1, b"still here"))
        .unwrap();
    assert_eq!(a.recv().unwrap(), b"still here");
    assert!(a.stats().rejected >= 208, "{:?}", a.stats());
    // A packet over the MTU never leaves the carrier.
    assert_eq!(format!("{:?}", y.send_packet(&[0; 186]).unwrap_err()), "Io(Custom { kind: InvalidInput, error: \"a 186-byte packet does not fit the 185-byte MTU\" })");
}

#[test]
fn oversize_messages_are_refused_before_sending() {
    let (x, _y) = memory_packets(185);
    let mut b = ChunkedLink::dial(x, opts()).unwrap();
    assert!(matches!(
        b.send(&vec![0; dsm_transport::MAX_FRAME_LEN + 1]),
        Err(TransportError::TooLarge(_))
    ));
    let (x, _y) = memory_packets(16);
    assert!(
        ChunkedLink::dial(x, opts())
            .err()
            .unwrap()
            .to_string()
            .contains("an MTU of 16 bytes is below the 32-byte minimum"),
        "an MTU under 32 is refused"
    );
}

fn pty_pair() -> (std::fs::File, std::path::PathBuf) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let path = std::path::PathBuf::from(name.to_str().unwrap());
    (std::fs::File::from(master), path)
}

#[test]
fn serial_link_over_a_pty_pair() {
    let (master, slave_path) = pty_pair();
    let slave = open_raw(&slave_path, Some(115_200)).unwrap();
    let a = serial_over(slave, false, opts()).unwrap();
    let b = serial_over(master, true, opts()).unwrap();
    exchange(a, b);
}

#[test]
fn serial_link_survives_line_noise_and_a_garbage_flood() {
    let (master, slave_path) = pty_pair();
    let slave = open_raw(&slave_path, None).unwrap();
    // Faults on the packets, and raw garbage bytes injected into the line.
    let noisy = {
        let mut w = master.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            for k in 0..50u32 {
                let junk: Vec<u8> = (0..997u32)
                    .map(|i| (i.wrapping_mul(k + 3) % 255 + 1) as u8)
                    .collect();
                let _ = w.write_all(&junk);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let a = ChunkedLink::accept(
        FaultyPackets::new(
            StreamPackets::new(slave.try_clone().unwrap(), slave, 512),
            PacketFaults::spread(200),
            9,
        ),
        opts(),
    )
    .unwrap();
    let b = ChunkedLink::dial(
        FaultyPackets::new(
            StreamPackets::new(master.try_clone().unwrap(), master, 512),
            PacketFaults::spread(200),
            10,
        ),
        opts(),
    )
    .unwrap();
    exchange(a, b);
    noisy.join().unwrap();
}
