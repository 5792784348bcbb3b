//! Byte pipes for DSM sessions.
//!
//! Every link carries *frames*: `version (1 byte, = 1) ‖ length (u32 big-endian) ‖ payload`,
//! with the payload at most [`MAX_FRAME_LEN`] bytes (checked before anything is allocated).
//! A link moves payloads; it never looks inside them (PROTOCOL.md §13).
//!
//! * [`StreamLink`] frames any `Read + Write` byte stream: TCP ([`tcp_dial`], [`TcpListener`]),
//!   stdin/stdout, a serial line. [`server::TcpServer`] serves many TCP connections side by
//!   side, each read on its own thread under a whole-session deadline, so no peer can hold
//!   a listener.
//! * [`DirLink`] is a shared-directory mailbox: each frame is one file, written atomically,
//!   so two devices can run a session through a USB stick, a synced folder or a network
//!   share (the "cable" case).
//! * [`memory_pair`] connects two links in one process; [`FaultyLink`] injects drops,
//!   duplicates, reorders, truncations and corruptions for tests.
//! * [`chunked::ChunkedLink`] makes a reliable link out of an unreliable small-packet
//!   carrier ([`packet::PacketLink`]): a BLE-style link (MTU 185 by default) over
//!   [`packet::memory_packets`] or [`packet::TcpPackets`], an NFC-style link over APDU
//!   command/response turns ([`apdu`]), and a serial cable ([`serial`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apdu;
pub mod chunked;
pub mod packet;
pub mod serial;
pub mod server;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The frame format version this crate writes and accepts.
pub const FRAME_VERSION: u8 = 1;
/// The largest frame payload accepted: 512 KiB (the largest session message is smaller).
pub const MAX_FRAME_LEN: usize = 512 * 1024;
/// How long a link waits for the peer's next frame unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a link failed.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The peer sent a frame of another format version.
    #[error("the peer uses frame version {0}; this build speaks version {FRAME_VERSION}")]
    Version(u8),
    /// The peer announced a frame over the cap.
    #[error("the peer sent a {0}-byte frame, over the {MAX_FRAME_LEN}-byte cap")]
    TooLarge(usize),
    /// The peer closed the link.
    #[error("the peer closed the connection")]
    Closed,
    /// Nothing arrived in time.
    #[error("the peer sent nothing for {0:?}; is it still running?")]
    Timeout(Duration),
    /// An I/O error.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A bidirectional, ordered pipe of frame payloads.
pub trait Link {
    /// Sends one payload as one frame.
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError>;
    /// Receives the next payload, waiting at most the link's timeout.
    fn recv(&mut self) -> Result<Vec<u8>, TransportError>;
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        (**self).send(payload)
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).recv()
    }
}

/// Encodes one frame.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, TransportError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(TransportError::TooLarge(payload.len()));
    }
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(FRAME_VERSION);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decodes exactly one whole frame (as stored in a file). Trailing bytes are refused.
pub fn decode_frame(bytes: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut r = bytes;
    let payload = read_frame(&mut r)?;
    if !r.is_empty() {
        return Err(TransportError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "trailing bytes after the frame",
        )));
    }
    Ok(payload)
}

/// Reads one frame from a stream: header, cap check, then payload.
pub fn read_frame(r: &mut dyn Read) -> Result<Vec<u8>, TransportError> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(TransportError::Closed),
        Err(e) => return Err(e.into()),
    }
    if header[0] != FRAME_VERSION {
        return Err(TransportError::Version(header[0]));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME_LEN {
        return Err(TransportError::TooLarge(len));
    }
    let mut payload = vec![0u8; len];
    match r.read_exact(&mut payload) {
        Ok(()) => Ok(payload),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(TransportError::Closed),
        Err(e) => Err(e.into()),
    }
}

fn map_timeout(e: TransportError, timeout: Duration) -> TransportError {
    match e {
        TransportError::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            TransportError::Timeout(timeout)
        }
        other => other,
    }
}

/// Frames over any byte stream (a TCP socket, stdin/stdout, a serial port).
pub struct StreamLink<R: Read, W: Write> {
    reader: R,
    writer: W,
    timeout: Duration,
}

impl<R: Read, W: Write> StreamLink<R, W> {
    /// A link reading frames from `reader` and writing them to `writer`. `timeout` is only
    /// reported in errors; enforcing it is the stream's job (see [`tcp_dial`]).
    pub fn new(reader: R, writer: W, timeout: Duration) -> Self {
        StreamLink {
            reader,
            writer,
            timeout,
        }
    }
}

impl<R: Read, W: Write> Link for StreamLink<R, W> {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.writer.write_all(&encode_frame(payload)?)?;
        self.writer.flush()?;
        Ok(())
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        read_frame(&mut self.reader).map_err(|e| map_timeout(e, self.timeout))
    }
}

/// A TCP link: a [`StreamLink`] over a socket with read and write timeouts.
pub type TcpLink = StreamLink<TcpStream, TcpStream>;

fn tcp_link(stream: TcpStream, timeout: Duration) -> Result<TcpLink, TransportError> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let writer = stream.try_clone()?;
    Ok(StreamLink::new(stream, writer, timeout))
}

/// Connects to a listening peer.
pub fn tcp_dial(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TcpLink, TransportError> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return tcp_link(s, timeout),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )
        })
        .into())
}

/// A TCP listener handing out one [`TcpLink`] per incoming connection.
pub struct TcpListener {
    inner: std::net::TcpListener,
    timeout: Duration,
}

impl TcpListener {
    /// Binds `addr` (use port 0 for a free port; see [`TcpListener::local_addr`]).
    pub fn bind(addr: impl ToSocketAddrs, timeout: Duration) -> Result<Self, TransportError> {
        Ok(TcpListener {
            inner: std::net::TcpListener::bind(addr)?,
            timeout,
        })
    }
    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.inner.local_addr()?)
    }
    /// Waits for the next connection.
    pub fn accept(&self) -> Result<(TcpLink, SocketAddr), TransportError> {
        let (s, peer) = self.inner.accept()?;
        Ok((tcp_link(s, self.timeout)?, peer))
    }
}

/// Creates a fresh session directory `root/session-<16 hex digits>` (and `root` if missing)
/// for a dialer; returns the 8-byte session id and the directory. Every directory-based
/// link ([`DirLink`], the QR link) opens its sessions this way.
pub fn create_session_dir(root: &Path) -> Result<([u8; 8], PathBuf), TransportError> {
    std::fs::create_dir_all(root)?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
    let name: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let dir = root.join(format!("session-{name}"));
    // create_dir (not _all): an id collision fails instead of sharing a session.
    std::fs::create_dir(&dir)?;
    Ok((id, dir))
}

/// Waits (at most `timeout`) for an unclaimed session directory under `root` and claims it
/// by creating `claimed` in it (create-new, so exactly one listener wins); returns its id
/// and path. Entries not named `session-` and 16 hex digits are skipped.
pub fn claim_session_dir(
    root: &Path,
    timeout: Duration,
) -> Result<([u8; 8], PathBuf), TransportError> {
    fn id_of(name: &str) -> Option<[u8; 8]> {
        let hex = name.strip_prefix("session-")?;
        if hex.len() != 16 || !hex.is_ascii() {
            return None;
        }
        let mut id = [0u8; 8];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(id)
    }
    std::fs::create_dir_all(root)?;
    let start = Instant::now();
    loop {
        let mut candidates: Vec<([u8; 8], PathBuf)> = std::fs::read_dir(root)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let id = id_of(e.file_name().to_str()?)?;
                let path = e.path();
                path.is_dir().then_some((id, path))
            })
            .collect();
        candidates.sort_by(|a, b| a.1.cmp(&b.1));
        for (id, dir) in candidates {
            let claimed = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dir.join("claimed"));
            if claimed.is_ok() {
                return Ok((id, dir));
            }
        }
        if start.elapsed() >= timeout {
            return Err(TransportError::Timeout(timeout));
        }
        std::thread::sleep(POLL);
    }
}

/// A session mailbox in a shared directory: `DIR/<session>/<n>.d` are the dialer's frames,
/// `DIR/<session>/<n>.l` the listener's, each written to a temporary name and renamed, so a
/// reader never sees half a frame. The listener claims a session by creating `claimed`.
pub struct DirLink {
    dir: PathBuf,
    mine: &'static str,
    theirs: &'static str,
    sent: u64,
    received: u64,
    timeout: Duration,
    poll: Duration,
}

const POLL: Duration = Duration::from_millis(10);

impl DirLink {
    /// Opens a new session mailbox under `root` (created if missing) as the dialer.
    pub fn dial(root: &Path, timeout: Duration) -> Result<DirLink, TransportError> {
        let (_, dir) = create_session_dir(root)?;
        Ok(DirLink {
            dir,
            mine: "d",
            theirs: "l",
            sent: 0,
            received: 0,
            timeout,
            poll: POLL,
        })
    }

    /// Waits (at most `timeout`) for a dialer's unclaimed session under `root` and claims it.
    pub fn accept(root: &Path, timeout: Duration) -> Result<DirLink, TransportError> {
        let (_, dir) = claim_session_dir(root, timeout)?;
        Ok(DirLink {
            dir,
            mine: "l",
            theirs: "d",
            sent: 0,
            received: 0,
            timeout,
            poll: POLL,
        })
    }

    /// The session's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Link for DirLink {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let frame = encode_frame(payload)?;
        self.sent += 1;
        let name = format!("{:06}.{}", self.sent, self.mine);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &frame)?;
        std::fs::rename(&tmp, self.dir.join(name))?;
        Ok(())
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        let path = self
            .dir
            .join(format!("{:06}.{}", self.received + 1, self.theirs));
        let start = Instant::now();
        loop {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    self.received += 1;
                    return decode_frame(&bytes);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            if start.elapsed() >= self.timeout {
                return Err(TransportError::Timeout(self.timeout));
            }
            std::thread::sleep(self.poll);
        }
    }
}

/// One end of an in-process link (see [`memory_pair`]).
pub struct MemoryLink {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
}

/// Two connected in-memory links. Frames are encoded and decoded as on a wire, so caps
/// and versions are exercised.
pub fn memory_pair(timeout: Duration) -> (MemoryLink, MemoryLink) {
    let (atx, brx) = mpsc::channel();
    let (btx, arx) = mpsc::channel();
    (
        MemoryLink {
            tx: atx,
            rx: arx,
            timeout,
        },
        MemoryLink {
            tx: btx,
            rx: brx,
            timeout,
        },
    )
}

impl Link for MemoryLink {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.tx
            .send(encode_frame(payload)?)
            .map_err(|_| TransportError::Closed)
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(frame) => decode_frame(&frame),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(TransportError::Timeout(self.timeout)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(TransportError::Closed),
        }
    }
}

/// A fault to inject into the `n`th frame a [`FaultyLink`] sends (counting from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The frame is never delivered.
    Drop,
    /// The frame is delivered twice.
    Duplicate,
    /// The frame is held back and delivered after the next one.
    Reorder,
    /// Only the first half of the payload is delivered.
    Truncate,
    /// One payload byte (at `index % len`) is flipped.
    Corrupt(usize),
}

/// Wraps a link and applies one [`Fault`] to one outgoing frame.
pub struct FaultyLink<L: Link> {
    inner: L,
    fault: Fault,
    at: usize,
    sent: usize,
    held: VecDeque<Vec<u8>>,
}

impl<L: Link> FaultyLink<L> {
    /// Applies `fault` to the `at`th frame sent through `inner`.
    pub fn new(inner: L, fault: Fault, at: usize) -> Self {
        FaultyLink {
            inner,
            fault,
            at,
            sent: 0,
            held: VecDeque::new(),
        }
    }
}

impl<L: Link> Link for FaultyLink<L> {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let n = self.sent;
        self.sent += 1;
        if n != self.at {
            self.inner.send(payload)?;
            while let Some(h) = self.held.pop_front() {
                self.inner.send(&h)?;
            }
            return Ok(());
        }
        match self.fault {
            Fault::Drop => Ok(()),
            Fault::Duplicate => {
                self.inner.send(payload)?;
                self.inner.send(payload)
            }
            Fault::Reorder => {
                self.held.push_back(payload.to_vec());
                Ok(())
            }
            Fault::Truncate => self.inner.send(&payload[..payload.len() / 2]),
            Fault::Corrupt(i) => {
                let mut p = payload.to_vec();
                if !p.is_empty() {
                    let k = i % p.len();
                    p[k] ^= 0x01;
                }
                self.inner.send(&p)
            }
        }
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.recv()
    }
}

/// Wraps a link and injects random faults into the frames it sends at the rates of a
/// [`packet::PacketFaults`] (per mille, seeded): drop, duplicate, reorder, corrupt one
/// byte, and `disconnect` — the link fails with [`TransportError::Closed`] from then on.
/// For reliable streams (TCP, files, stdio) these faults end sessions, which the session
/// protocol must survive; chunked links absorb them below the frame layer instead.
pub struct RandomFaults<L: Link> {
    inner: L,
    rates: packet::PacketFaults,
    state: u64,
    held: Option<Vec<u8>>,
    dead: bool,
    tally: Option<packet::FaultTally>,
}

impl<L: Link> RandomFaults<L> {
    /// Wraps `inner`; `seed` fixes the pattern.
    pub fn new(inner: L, rates: packet::PacketFaults, seed: u64) -> Self {
        RandomFaults {
            inner,
            rates,
            state: seed | 1,
            held: None,
            dead: false,
            tally: None,
        }
    }

    /// Also counts every injected fault into `tally` (so a test can assert its faults
    /// really fired).
    pub fn with_tally(mut self, tally: packet::FaultTally) -> Self {
        self.tally = Some(tally);
        self
    }

    /// Rolls for a fault; a hit is counted.
    fn roll(&mut self, per_mille: u16) -> bool {
        let hit = packet::roll(&mut self.state, per_mille);
        if hit {
            if let Some(t) = &self.tally {
                t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        hit
    }
}

impl<L: Link> Link for RandomFaults<L> {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        if self.dead || self.roll(self.rates.disconnect) {
            self.dead = true;
            return Err(TransportError::Closed);
        }
        if self.roll(self.rates.drop) {
            return Ok(());
        }
        let mut p = payload.to_vec();
        if self.roll(self.rates.corrupt) && !p.is_empty() {
            let i = (self.state as usize) % p.len();
            p[i] ^= 0x01;
        }
        if self.held.is_none() && self.roll(self.rates.reorder) {
            self.held = Some(p);
            return Ok(());
        }
        self.inner.send(&p)?;
        if self.roll(self.rates.duplicate) {
            self.inner.send(&p)?;
        }
        if let Some(h) = self.held.take() {
            self.inner.send(&h)?;
        }
        Ok(())
    }
    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        if self.dead {
            return Err(TransportError::Closed);
        }
        self.inner.recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_a_frame_decodes_to_the_known_answer() {
        // A whole frame decodes to its payload; every strict prefix is refused.
        let whole = encode_frame(b"abc").unwrap();
        let mut cases = 0;
        for n in 0..whole.len() {
            assert!(decode_frame(&whole[..n]).is_err(), "prefix of {n} bytes");
            assert!(read_frame(&mut &whole[..n]).is_err(), "prefix of {n} bytes");
            cases += 1;
        }
        assert_eq!(decode_frame(&whole).unwrap(), b"abc");
        assert_eq!(read_frame(&mut &whole[..]).unwrap(), b"abc");
        assert_eq!(cases, 8);
        // A length over the cap, a wrong version, and bytes after a whole frame.
        assert!(matches!(
            read_frame(&mut &[FRAME_VERSION, 0xff, 0xff, 0xff, 0xff][..]),
            Err(TransportError::TooLarge(_))
        ));
        assert!(decode_frame(&[0; 9]).is_err());
        let mut trailing = whole.clone();
        trailing.push(0);
        assert!(decode_frame(&trailing).is_err());
        // Arbitrary bytes never panic (each prefix of 0..=255 is a wrong-version frame).
        let junk: Vec<u8> = (0..=255).collect();
        for n in 0..=junk.len() {
            assert!(decode_frame(&junk[..n]).is_err());
        }
    }

    #[test]
    fn dir_link_round_trip_and_claiming() {
        let root = tempfile::tempdir().unwrap();
        let mut d = DirLink::dial(root.path(), Duration::from_secs(5)).unwrap();
        let mut l = DirLink::accept(root.path(), Duration::from_secs(5)).unwrap();
        assert!(
            DirLink::accept(root.path(), Duration::from_millis(50)).is_err(),
            "a claimed session is not handed out twice"
        );
        d.send(b"one").unwrap();
        d.send(b"two").unwrap();
        assert_eq!(l.recv().unwrap(), b"one");
        assert_eq!(l.recv().unwrap(), b"two");
        l.send(b"back").unwrap();
        assert_eq!(d.recv().unwrap(), b"back");
        let mut quick = DirLink::dial(root.path(), Duration::from_millis(30)).unwrap();
        assert!(matches!(quick.recv(), Err(TransportError::Timeout(_))));
    }

    #[test]
    fn faulty_link_applies_each_fault() {
        let (a, mut b) = memory_pair(Duration::from_millis(50));
        let mut f = FaultyLink::new(a, Fault::Reorder, 0);
        f.send(b"1").unwrap();
        f.send(b"2").unwrap();
        assert_eq!(b.recv().unwrap(), b"2");
        assert_eq!(b.recv().unwrap(), b"1");
        let (a, mut b) = memory_pair(Duration::from_millis(50));
        let mut f = FaultyLink::new(a, Fault::Duplicate, 0);
        f.send(b"x").unwrap();
        assert_eq!(
            (b.recv().unwrap(), b.recv().unwrap()),
            (b"x".to_vec(), b"x".to_vec())
        );
        let (a, mut b) = memory_pair(Duration::from_millis(50));
        let mut f = FaultyLink::new(a, Fault::Drop, 0);
        f.send(b"x").unwrap();
        assert!(matches!(b.recv(), Err(TransportError::Timeout(_))));
        let (a, mut b) = memory_pair(Duration::from_millis(50));
        let mut f = FaultyLink::new(a, Fault::Corrupt(1), 0);
        f.send(b"xy").unwrap();
        assert_eq!(b.recv().unwrap(), b"xx");
        let (a, mut b) = memory_pair(Duration::from_millis(50));
        let mut f = FaultyLink::new(a, Fault::Truncate, 0);
        f.send(b"abcd").unwrap();
        assert_eq!(b.recv().unwrap(), b"ab");
    }
}
