//! What one transfer costs on each transport: session messages, turns (direction changes),
//! frames or packets and bytes on the wire, for both signature suites; then transfers per
//! second over the in-memory BLE-style link at MTU 185 and 512.
//! Run: `cargo bench -p dsm-wallet --bench transports`.

use dsm_core::chain::Amount;
use dsm_core::crypto::SuiteId;
use dsm_protocol::session::Session;
use dsm_transport::apdu::{ApduCard, ApduReader, APDU_MTU};
use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
use dsm_transport::packet::{memory_packets, PacketLink, StreamPackets};
use dsm_transport::{memory_pair, Link, TransportError};
use dsm_wallet::driver::run;
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::MemoryStore;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every session message sent, in order: (sent by the dialer?, payload length).
type Log = Arc<Mutex<Vec<(bool, usize)>>>;

struct Counting<L: Link> {
    inner: L,
    dialer: bool,
    log: Log,
}

impl<L: Link> Link for Counting<L> {
    fn send(&mut self, p: &[u8]) -> Result<(), TransportError> {
        self.log.lock().unwrap().push((self.dialer, p.len()));
        self.inner.send(p)
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.recv()
    }
}

/// Packets and bytes a carrier sent.
#[derive(Default)]
struct Wire {
    packets: u64,
    bytes: u64,
}

struct CountingPackets<P: PacketLink> {
    inner: P,
    wire: Arc<Mutex<Wire>>,
}

impl<P: PacketLink> PacketLink for CountingPackets<P> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn send_packet(&mut self, p: &[u8]) -> Result<(), TransportError> {
        let mut w = self.wire.lock().unwrap();
        w.packets += 1;
        w.bytes += p.len() as u64;
        drop(w);
        self.inner.send_packet(p)
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        self.inner.recv_packet(wait)
    }
}

fn wallet(suite: SuiteId, funds: u128) -> Wallet {
    let kdf = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let mut w = Wallet::create(Box::new(MemoryStore::new()), suite, b"bench", kdf).unwrap();
    if funds > 0 {
        w.dev_faucet(DEFAULT_TOKEN, Amount(funds)).unwrap();
    }
    w
}

type Pair = (Box<dyn Link + Send>, Box<dyn Link + Send>);

fn opts() -> ChunkOptions {
    ChunkOptions {
        rto: Duration::from_millis(200),
        window: 8,
        timeout: Duration::from_secs(30),
        // The NFC card can only deliver its last ACK in answer to a later command.
        linger: Duration::from_secs(2),
    }
}

/// Runs one session; returns the transfers completed and the dialer's elapsed time.
fn session(a: &mut Wallet, b: &mut Wallet, n: usize, (la, lb): Pair) -> (usize, Duration) {
    let peer = b.device_id();
    let transfers = (0..n).map(|_| (token(DEFAULT_TOKEN), Amount(1))).collect();
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut lb = lb;
            run(&mut Session::listener(), b, lb.as_mut())
        });
        let mut la = la;
        let start = Instant::now();
        let r = run(&mut Session::dialer(peer, transfers), a, la.as_mut());
        let elapsed = start.elapsed();
        drop(la);
        let rl = h.join().unwrap();
        assert!(r.error.is_none() && rl.error.is_none(), "{r:?} {rl:?}");
        (r.completed.len(), elapsed)
    })
}

fn counted(pair: Pair, log: &Log) -> Pair {
    (
        Box::new(Counting {
            inner: pair.0,
            dialer: true,
            log: log.clone(),
        }),
        Box::new(Counting {
            inner: pair.1,
            dialer: false,
            log: log.clone(),
        }),
    )
}

fn chunked_pair<P: PacketLink + 'static, Q: PacketLink + 'static>(
    x: P,
    y: Q,
    wire: &Arc<Mutex<Wire>>,
) -> Pair {
    (
        Box::new(
            ChunkedLink::dial(
                CountingPackets {
                    inner: x,
                    wire: wire.clone(),
                },
                opts(),
            )
            .unwrap(),
        ),
        Box::new(
            ChunkedLink::accept(
                CountingPackets {
                    inner: y,
                    wire: wire.clone(),
                },
                opts(),
            )
            .unwrap(),
        ),
    )
}

fn turns(log: &[(bool, usize)]) -> usize {
    let mut t = 0;
    let mut last = None;
    for (d, _) in log {
        if last != Some(*d) {
            t += 1;
            last = Some(*d);
        }
    }
    t
}

fn main() {
    println!("One transfer per session (hello, proposal, acceptance, close), no faults:\n");
    println!(
        "| transport | suite | messages | turns | frames / packets | bytes on the wire |\n|---|---|---|---|---|---|"
    );
    let dir = tempfile::tempdir().unwrap();
    for suite in SuiteId::ALL {
        let sname = match suite {
            SuiteId::MlDsa65 => "ML-DSA-65",
            SuiteId::SlhDsaSha2_128f => "SLH-DSA-128f",
        };
        let kinds = [
            "tcp / stdio / file",
            "qr",
            "ble-185",
            "ble-512",
            "nfc",
            "serial",
        ];
        for kind in kinds {
            let mut a = wallet(suite, 100);
            let mut b = wallet(suite, 0);
            let log: Log = Arc::default();
            let wire: Arc<Mutex<Wire>> = Arc::default();
            let pair: Pair = match kind {
                "tcp / stdio / file" => {
                    let (x, y) = memory_pair(Duration::from_secs(30));
                    (Box::new(x), Box::new(y))
                }
                "qr" => {
                    let root = dir.path().join(format!("qr-{sname}"));
                    let d =
                        dsm_qr::QrDirLink::dial(&root, Duration::from_secs(60), Default::default())
                            .unwrap();
                    let l = dsm_qr::QrDirLink::accept(
                        &root,
                        Duration::from_secs(60),
                        Default::default(),
                    )
                    .unwrap();
                    (Box::new(d), Box::new(l))
                }
                "ble-185" | "ble-512" => {
                    let (x, y) = memory_packets(if kind == "ble-185" { 185 } else { 512 });
                    chunked_pair(x, y, &wire)
                }
                "nfc" => {
                    // Count the APDUs themselves (commands, polls and responses).
                    let (x, y) = memory_packets(APDU_MTU + 6);
                    let (x, y) = (
                        CountingPackets {
                            inner: x,
                            wire: wire.clone(),
                        },
                        CountingPackets {
                            inner: y,
                            wire: wire.clone(),
                        },
                    );
                    (
                        Box::new(ChunkedLink::dial(ApduReader::new(x), opts()).unwrap()),
                        Box::new(ChunkedLink::accept(ApduCard::new(y), opts()).unwrap()),
                    )
                }
                _ => {
                    // A serial line: COBS packets over an in-process byte pipe.
                    let (r1, w1) = std::io::pipe().unwrap();
                    let (r2, w2) = std::io::pipe().unwrap();
                    chunked_pair(
                        StreamPackets::new(r1, w2, dsm_transport::serial::SERIAL_MTU),
                        StreamPackets::new(r2, w1, dsm_transport::serial::SERIAL_MTU),
                        &wire,
                    )
                }
            };
            assert_eq!(session(&mut a, &mut b, 1, counted(pair, &log)).0, 1);
            let log = log.lock().unwrap().clone();
            let payload: usize = log.iter().map(|(_, n)| n).sum();
            let (frames, bytes) = match kind {
                "tcp / stdio / file" => (log.len() as u64, (payload + 5 * log.len()) as u64),
                "qr" => {
                    let mut f = 0u64;
                    let mut by = 0u64;
                    for (i, (_, n)) in log.iter().enumerate() {
                        let packets = dsm_qr::encode_packets(
                            dsm_qr::SessionId([0; 8]),
                            dsm_qr::Direction::DialerToListener,
                            i as u32 + 1,
                            &vec![0u8; *n],
                            dsm_qr::DEFAULT_SYMBOL_SIZE,
                            dsm_qr::DEFAULT_REPAIR_PERCENT,
                        )
                        .unwrap();
                        f += packets.len() as u64;
                        by += packets.iter().map(|p| p.len() as u64).sum::<u64>();
                    }
                    (f, by)
                }
                _ => {
                    let w = wire.lock().unwrap();
                    (w.packets, w.bytes)
                }
            };
            let unit = match kind {
                "tcp / stdio / file" => "frames",
                "qr" => "QR codes",
                "nfc" => "APDUs",
                _ => "packets",
            };
            println!(
                "| {kind} | {sname} | {} | {} | {frames} {unit} | {bytes} |",
                log.len(),
                turns(&log)
            );
        }
    }

    println!("\nTransfers per second over the in-memory BLE-style link (ML-DSA-65, 200 transfers in one session, both parties on this machine's 2 cores):\n");
    println!("| MTU | transfers/s | packets per transfer |\n|---|---|---|");
    for mtu in [185usize, 512] {
        let mut a = wallet(SuiteId::MlDsa65, 1_000);
        let mut b = wallet(SuiteId::MlDsa65, 0);
        let wire: Arc<Mutex<Wire>> = Arc::default();
        let (x, y) = memory_packets(mtu);
        let n = 200;
        let (done, elapsed) = session(&mut a, &mut b, n, chunked_pair(x, y, &wire));
        assert_eq!(done, n);
        let secs = elapsed.as_secs_f64();
        let packets = wire.lock().unwrap().packets;
        println!(
            "| {mtu} | {:.0} | {:.1} |",
            n as f64 / secs,
            packets as f64 / n as f64
        );
    }
}
