//! Packet links: unreliable carriers of small packets (a BLE GATT characteristic, an NFC
//! APDU exchange, a serial cable), the layer under [`crate::chunked::ChunkedLink`].
//!
//! A packet link may lose, duplicate, reorder or corrupt packets and may disconnect and
//! come back; it only promises that one packet is at most [`PacketLink::mtu`] bytes. All
//! reliability lives in the chunked layer above it.

use crate::TransportError;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An unreliable carrier of packets of at most [`PacketLink::mtu`] bytes.
pub trait PacketLink: Send {
    /// The largest packet this link carries.
    fn mtu(&self) -> usize;
    /// Sends one packet, best effort. An error means the carrier is down right now (the
    /// caller retries later; a reconnecting link comes back by itself).
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError>;
    /// The next packet, waiting at most `wait`; `Ok(None)` if none arrived in time.
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError>;
}

impl<P: PacketLink + ?Sized> PacketLink for Box<P> {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        (**self).send_packet(packet)
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        (**self).recv_packet(wait)
    }
}

fn too_big(len: usize, mtu: usize) -> TransportError {
    TransportError::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("a {len}-byte packet does not fit the {mtu}-byte MTU"),
    ))
}

/// One end of an in-process packet pair (see [`memory_packets`]).
pub struct MemoryPackets {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    mtu: usize,
}

/// Two connected in-process packet links with the given MTU.
pub fn memory_packets(mtu: usize) -> (MemoryPackets, MemoryPackets) {
    let (atx, brx) = mpsc::channel();
    let (btx, arx) = mpsc::channel();
    (
        MemoryPackets {
            tx: atx,
            rx: arx,
            mtu,
        },
        MemoryPackets {
            tx: btx,
            rx: brx,
            mtu,
        },
    )
}

impl PacketLink for MemoryPackets {
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() > self.mtu {
            return Err(too_big(packet.len(), self.mtu));
        }
        // A peer that has gone away loses the packet, like the air would.
        let _ = self.tx.send(packet.to_vec());
        Ok(())
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        match self.rx.recv_timeout(wait) {
            Ok(p) => Ok(Some(p)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(TransportError::Closed),
        }
    }
}

/// Fault rates for [`FaultyPackets`], each a probability in per mille per sent packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketFaults {
    /// The packet is lost.
    pub drop: u16,
    /// The packet arrives twice.
    pub duplicate: u16,
    /// The packet is held back and arrives after the next one.
    pub reorder: u16,
    /// One byte of the packet is flipped.
    pub corrupt: u16,
    /// The carrier goes down: this and the next few packets (both ways) fail with
    /// [`TransportError::Closed`], as after a BLE disconnect, then it comes back.
    pub disconnect: u16,
}

impl PacketFaults {
    /// Every kind of fault at `per_mille` / 5 each, so about `per_mille` ‰ of packets are hit.
    pub fn spread(per_mille: u16) -> PacketFaults {
        let each = per_mille / 5;
        PacketFaults {
            drop: each,
            duplicate: each,
            reorder: each,
            corrupt: each,
            disconnect: each,
        }
    }
}

/// A shared count of injected faults (see `with_tally` on the fault injectors).
pub type FaultTally = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// One seeded draw: true with probability `per_mille` / 1000 (xorshift64*: deterministic,
/// good enough to spread faults).
pub(crate) fn roll(state: &mut u64, per_mille: u16) -> bool {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % 1000 < u64::from(per_mille)
}

/// Injects [`PacketFaults`] into the packets a link sends, from a seeded generator (tests
/// and simulations; the same seed gives the same faults).
pub struct FaultyPackets<P: PacketLink> {
    inner: P,
    faults: PacketFaults,
    state: u64,
    held: Option<Vec<u8>>,
    down_for: u32,
    /// How many faults were injected, by kind: drop, duplicate, reorder, corrupt, disconnect.
    pub injected: [u64; 5],
    tally: Option<FaultTally>,
}

impl<P: PacketLink> FaultyPackets<P> {
    /// Wraps `inner`; `seed` fixes the fault pattern.
    pub fn new(inner: P, faults: PacketFaults, seed: u64) -> Self {
        FaultyPackets {
            inner,
            faults,
            state: seed | 1,
            held: None,
            down_for: 0,
            injected: [0; 5],
            tally: None,
        }
    }

    /// Also counts every injected fault into `tally` (so a test whose link is wrapped in
    /// further layers can still assert its faults really fired).
    pub fn with_tally(mut self, tally: FaultTally) -> Self {
        self.tally = Some(tally);
        self
    }

    /// Rolls for a fault; a hit is counted.
    fn roll(&mut self, per_mille: u16) -> bool {
        let hit = roll(&mut self.state, per_mille);
        if hit {
            if let Some(t) = &self.tally {
                t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        hit
    }
}

impl<P: PacketLink> PacketLink for FaultyPackets<P> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if self.down_for > 0 {
            self.down_for -= 1;
            return Err(TransportError::Closed);
        }
        if self.roll(self.faults.disconnect) {
            self.injected[4] += 1;
            self.down_for = 3;
            return Err(TransportError::Closed);
        }
        if self.roll(self.faults.drop) {
            self.injected[0] += 1;
            return Ok(());
        }
        let mut p = packet.to_vec();
        if self.roll(self.faults.corrupt) && !p.is_empty() {
            self.injected[3] += 1;
            let i = (self.state as usize) % p.len();
            p[i] ^= 0x20;
        }
        if self.roll(self.faults.reorder) && self.held.is_none() {
            self.injected[2] += 1;
            self.held = Some(p);
            return Ok(());
        }
        self.inner.send_packet(&p)?;
        if self.roll(self.faults.duplicate) {
            self.injected[1] += 1;
            self.inner.send_packet(&p)?;
        }
        if let Some(h) = self.held.take() {
            self.inner.send_packet(&h)?;
        }
        Ok(())
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        if self.down_for > 0 {
            self.down_for -= 1;
            std::thread::sleep(wait.min(Duration::from_millis(2)));
            return Err(TransportError::Closed);
        }
        self.inner.recv_packet(wait)
    }
}

// ---------------------------------------------------------------------------------------
// Packets over a byte stream: COBS, so a corrupted or cut packet costs only itself.

/// Encodes `packet` with COBS and appends it and the 0x00 delimiter to `out`.
pub fn cobs_encode(packet: &[u8], out: &mut Vec<u8>) {
    let mut code_at = out.len();
    out.push(0);
    let mut code = 1u8;
    for &b in packet {
        if b == 0 {
            out[code_at] = code;
            code_at = out.len();
            out.push(0);
            code = 1;
        } else {
            out.push(b);
            code += 1;
            if code == 0xFF {
                out[code_at] = code;
                code_at = out.len();
                out.push(0);
                code = 1;
            }
        }
    }
    out[code_at] = code;
    out.push(0);
}

/// Decodes one COBS block (without its delimiter); `None` if it is not valid COBS.
pub fn cobs_decode(block: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(block.len());
    let mut i = 0;
    while i < block.len() {
        let code = block[i] as usize;
        if code == 0 || i + code > block.len() {
            return None;
        }
        out.extend_from_slice(&block[i + 1..i + code]);
        i += code;
        if code < 0xFF && i < block.len() {
            out.push(0);
        }
    }
    Some(out)
}

/// Splits a byte stream into COBS packets, holding at most `cap` bytes of an unfinished
/// one: a flood of bytes without delimiters is discarded, never buffered without bound.
struct Deframer {
    buf: Vec<u8>,
    cap: usize,
    overflow: bool,
}

impl Deframer {
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Vec<u8>>) {
        for &b in bytes {
            if b == 0 {
                if !self.overflow && !self.buf.is_empty() {
                    if let Some(p) = cobs_decode(&self.buf) {
                        out.push_back(p);
                    }
                }
                self.buf.clear();
                self.overflow = false;
            } else if self.buf.len() < self.cap {
                self.buf.push(b);
            } else {
                self.overflow = true;
            }
        }
    }
}

/// Packets over any byte stream (a serial line, a pty, a socket): COBS-encoded, delimited
/// by 0x00. A reader thread feeds a channel so receiving honours timeouts on streams that
/// have none (a tty, stdin). The thread ends when the stream ends.
pub struct StreamPackets {
    writer: Box<dyn Write + Send>,
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    ready: VecDeque<Vec<u8>>,
    deframer: Deframer,
    mtu: usize,
    closed: bool,
}

impl StreamPackets {
    /// Packets of at most `mtu` bytes over `reader` / `writer`.
    pub fn new(
        reader: impl Read + Send + 'static,
        writer: impl Write + Send + 'static,
        mtu: usize,
    ) -> StreamPackets {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buf = vec![0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(Err(io::ErrorKind::UnexpectedEof.into()));
                        return;
                    }
                    Ok(n) => {
                        if tx.send(Ok(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        // A socket read timeout: keep reading unless the link is gone.
                        if tx.send(Ok(Vec::new())).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        StreamPackets {
            writer: Box::new(writer),
            rx,
            ready: VecDeque::new(),
            // COBS adds one byte per 254 plus the code byte.
            deframer: Deframer {
                buf: Vec::new(),
                cap: mtu + mtu / 254 + 2,
                overflow: false,
            },
            mtu,
            closed: false,
        }
    }
}

impl PacketLink for StreamPackets {
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() > self.mtu {
            return Err(too_big(packet.len(), self.mtu));
        }
        if self.closed {
            return Err(TransportError::Closed);
        }
        let mut out = Vec::with_capacity(packet.len() + packet.len() / 254 + 2);
        cobs_encode(packet, &mut out);
        self.writer.write_all(&out)?;
        self.writer.flush()?;
        Ok(())
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(Some(p));
            }
            if self.closed {
                return Err(TransportError::Closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Ok(bytes)) => self.deframer.push(&bytes, &mut self.ready),
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => self.closed = true,
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
            }
        }
    }
}

/// How a [`TcpPackets`] link (re)connects.
enum Side {
    Dial(SocketAddr),
    Accept(std::net::TcpListener),
}

/// Packets over TCP between two processes, standing in for a radio link: when the
/// connection drops, the dialer redials and the listener accepts again, and the chunked
/// layer above resumes where it was (its packets name their link, so a stranger's
/// connection is ignored).
pub struct TcpPackets {
    side: Side,
    conn: Option<StreamPackets>,
    stream: Option<TcpStream>,
    mtu: usize,
}

impl TcpPackets {
    /// The dialing end, connecting to `addr`.
    pub fn dial(addr: SocketAddr, mtu: usize) -> TcpPackets {
        TcpPackets {
            side: Side::Dial(addr),
            conn: None,
            stream: None,
            mtu,
        }
    }

    /// The listening end, accepting on `listener`.
    pub fn accept(
        listener: std::net::TcpListener,
        mtu: usize,
    ) -> Result<TcpPackets, TransportError> {
        listener.set_nonblocking(true)?;
        Ok(TcpPackets {
            side: Side::Accept(listener),
            conn: None,
            stream: None,
            mtu,
        })
    }

    /// Cuts the current connection (tests: a disconnect mid-phase). The next call
    /// reconnects.
    pub fn sever(&mut self) {
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.conn = None;
    }

    fn connect(&mut self, wait: Duration) -> Result<bool, TransportError> {
        if self.conn.is_some() {
            return Ok(true);
        }
        let stream = match &self.side {
            Side::Dial(addr) => {
                match TcpStream::connect_timeout(addr, wait.max(Duration::from_millis(10))) {
                    Ok(s) => s,
                    Err(_) => {
                        std::thread::sleep(wait.min(Duration::from_millis(20)));
                        return Ok(false);
                    }
                }
            }
            Side::Accept(l) => {
                let deadline = Instant::now() + wait;
                loop {
                    match l.accept() {
                        Ok((s, _)) => break s,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if Instant::now() >= deadline {
                                return Ok(false);
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let writer = stream.try_clone()?;
        self.conn = Some(StreamPackets::new(reader, writer, self.mtu));
        self.stream = Some(stream);
        Ok(true)
    }
}

impl PacketLink for TcpPackets {
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if !self.connect(Duration::from_millis(50))? {
            return Err(TransportError::Closed);
        }
        let r = self.conn.as_mut().map(|c| c.send_packet(packet));
        match r {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => {
                self.sever();
                Err(e)
            }
            None => Err(TransportError::Closed),
        }
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        let start = Instant::now();
        if !self.connect(wait)? {
            return Ok(None);
        }
        let left = wait.saturating_sub(start.elapsed());
        let r = self.conn.as_mut().map(|c| c.recv_packet(left));
        match r {
            Some(Ok(p)) => Ok(p),
            Some(Err(_)) => {
                // The connection ended: drop it; the next call reconnects.
                self.sever();
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cobs_round_trips_and_rejects_nonsense() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![1, 2, 3],
            (0..=255).collect(),
            vec![7; 600],
            (0..700).map(|i| (i % 3) as u8).collect(),
        ];
        for c in cases {
            let mut out = Vec::new();
            cobs_encode(&c, &mut out);
            assert_eq!(*out.last().unwrap(), 0);
            assert!(!out[..out.len() - 1].contains(&0));
            assert_eq!(cobs_decode(&out[..out.len() - 1]).unwrap(), c, "{c:?}");
        }
        for n in 0..300usize {
            let junk: Vec<u8> = (0..n).map(|i| ((i * 37 + n) % 251 + 1) as u8).collect();
            let _ = cobs_decode(&junk);
        }
    }

    #[test]
    fn a_flood_without_delimiters_is_bounded() {
        let mut d = Deframer {
            buf: Vec::new(),
            cap: 64,
            overflow: false,
        };
        let mut out = VecDeque::new();
        d.push(&vec![5u8; 100_000], &mut out);
        assert!(d.buf.len() <= 64 && out.is_empty());
        d.push(&[0], &mut out);
        assert!(out.is_empty(), "an overflowed packet is discarded whole");
        let mut ok = Vec::new();
        cobs_encode(b"hi", &mut ok);
        d.push(&ok, &mut out);
        assert_eq!(out.pop_front().unwrap(), b"hi");
    }
}
