//! Reliable messages over an unreliable [`PacketLink`]: chunking with sequence numbers and
//! a CRC-32, cumulative acknowledgements, a sliding window with go-back-N retransmission,
//! and resumption after the carrier disconnects (PROTOCOL.md §13.2).
//!
//! Packet layout (integers big-endian):
//!
//! ```text
//! DATA: 0x01 ‖ link id (4) ‖ message seq (4) ‖ chunk index (2) ‖ chunk count (2) ‖ delivered (4) ‖ bytes ‖ crc32 (4)
//! ACK:  0x02 ‖ link id (4) ‖ message seq (4) ‖ next missing chunk index (2)                  ‖ crc32 (4)
//! ```
//!
//! The CRC covers every byte before it. Every chunk but the last is exactly
//! `mtu − 21` bytes. `delivered` is the sequence number of the last message the sender
//! of the DATA packet has received whole: it acknowledges our messages up to it, so a
//! lost final ACK is repaired by the peer's next message. The dialer draws the link id; the listener adopts the id of the first
//! valid packet and ignores every other id from then on.

use crate::packet::PacketLink;
use crate::{Link, TransportError, MAX_FRAME_LEN};
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

const DATA: u8 = 1;
const ACK: u8 = 2;
/// Bytes of a DATA packet that are not payload.
pub const DATA_OVERHEAD: usize = 21;
const ACK_LEN: usize = 15;
/// The smallest MTU the chunked layer works over.
pub const MIN_MTU: usize = 32;

/// Timing and window of a [`ChunkedLink`].
#[derive(Clone, Copy, Debug)]
pub struct ChunkOptions {
    /// Retransmission timeout: chunks not acknowledged this long after sending are sent
    /// again.
    pub rto: Duration,
    /// Chunks in flight before waiting for an acknowledgement.
    pub window: u16,
    /// Give up when nothing progresses for this long.
    pub timeout: Duration,
    /// When the link is dropped, keep acknowledging the peer's retransmissions (it may not
    /// have seen our final ACK) until it is quiet for 6 × `rto`, at most this long.
    pub linger: Duration,
}

impl ChunkOptions {
    /// Defaults for a radio link (BLE, NFC): 250 ms retransmission, a window of 8.
    pub fn radio(timeout: Duration) -> ChunkOptions {
        ChunkOptions {
            rto: Duration::from_millis(250),
            window: 8,
            timeout,
            linger: Duration::from_secs(2),
        }
    }
}

/// Counters of what crossed the carrier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to the carrier (including retransmissions and ACKs).
    pub packets_sent: u64,
    /// Bytes in those packets.
    pub bytes_sent: u64,
    /// Data packets sent again after a retransmission timeout.
    pub retransmits: u64,
    /// Packets received that were dropped: bad CRC, malformed, another link's id.
    pub rejected: u64,
    /// Messages sent whole.
    pub messages_sent: u64,
}

struct Reassembly {
    seq: u32,
    count: u16,
    chunks: Vec<Option<Vec<u8>>>,
    next: u16,
}

/// A [`Link`] over a [`PacketLink`]: each message is split into chunks that are
/// acknowledged and retransmitted until they arrive, in order, exactly once.
pub struct ChunkedLink<P: PacketLink> {
    inner: P,
    opts: ChunkOptions,
    link_id: Option<[u8; 4]>,
    sent_seq: u32,
    delivered_seq: u32,
    rx: Option<Reassembly>,
    inbox: VecDeque<Vec<u8>>,
    acked: Option<(u32, u16)>,
    peer_delivered: u32,
    last_was_recv: bool,
    stats: LinkStats,
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    crc32fast::hash(bytes).to_be_bytes()
}

impl<P: PacketLink> ChunkedLink<P> {
    /// The dialing end: draws a fresh link id.
    pub fn dial(inner: P, opts: ChunkOptions) -> Result<Self, TransportError> {
        let mut id = [0u8; 4];
        getrandom::fill(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
        Self::with_id(inner, opts, Some(id))
    }

    /// The listening end: adopts the dialer's link id from its first valid packet.
    pub fn accept(inner: P, opts: ChunkOptions) -> Result<Self, TransportError> {
        Self::with_id(inner, opts, None)
    }

    fn with_id(
        inner: P,
        opts: ChunkOptions,
        link_id: Option<[u8; 4]>,
    ) -> Result<Self, TransportError> {
        if inner.mtu() < MIN_MTU {
            return Err(TransportError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "an MTU of {} bytes is below the {MIN_MTU}-byte minimum",
                    inner.mtu()
                ),
            )));
        }
        Ok(ChunkedLink {
            inner,
            opts,
            link_id,
            sent_seq: 0,
            delivered_seq: 0,
            rx: None,
            inbox: VecDeque::new(),
            acked: None,
            peer_delivered: 0,
            last_was_recv: false,
            stats: LinkStats::default(),
        })
    }

    /// What crossed the carrier so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Processes one packet as if it had just arrived (it may answer with an ACK): the
    /// receive path without waiting, for fuzzing and tests.
    pub fn feed(&mut self, packet: &[u8]) {
        self.handle(packet);
    }

    /// The next message delivered whole, if any, without waiting.
    pub fn take_delivered(&mut self) -> Option<Vec<u8>> {
        self.inbox.pop_front()
    }

    /// The carrier (tests: to cut a connection mid-phase).
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    fn chunk_len(&self) -> usize {
        self.inner.mtu() - DATA_OVERHEAD
    }

    fn max_chunks(&self) -> usize {
        MAX_FRAME_LEN.div_ceil(self.chunk_len()).max(1)
    }

    fn emit(&mut self, mut packet: Vec<u8>) {
        let c = crc(&packet);
        packet.extend_from_slice(&c);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += packet.len() as u64;
        if self.inner.send_packet(&packet).is_err() {
            // The carrier is down: the packet is lost; retransmission covers it.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn send_ack(&mut self, seq: u32, next: u16) {
        let Some(id) = self.link_id else { return };
        let mut p = Vec::with_capacity(ACK_LEN);
        p.push(ACK);
        p.extend_from_slice(&id);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&next.to_be_bytes());
        self.emit(p);
    }

    fn send_chunk(&mut self, seq: u32, index: u16, count: u16, bytes: &[u8]) {
        let Some(id) = self.link_id else { return };
        let mut p = Vec::with_capacity(DATA_OVERHEAD + bytes.len());
        p.push(DATA);
        p.extend_from_slice(&id);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&index.to_be_bytes());
        p.extend_from_slice(&count.to_be_bytes());
        p.extend_from_slice(&self.delivered_seq.to_be_bytes());
        p.extend_from_slice(bytes);
        self.emit(p);
    }

    /// Takes one packet from the carrier; anything malformed or foreign is counted and
    /// dropped.
    fn handle(&mut self, p: &[u8]) {
        if !self.accept_packet(p) {
            self.stats.rejected += 1;
        }
    }

    fn accept_packet(&mut self, p: &[u8]) -> bool {
        if p.len() < ACK_LEN || p.len() > self.inner.mtu() {
            return false;
        }
        let (body, sum) = p.split_at(p.len() - 4);
        if crc(body) != sum {
            return false;
        }
        let id: [u8; 4] = body[1..5].try_into().unwrap_or_default();
        match self.link_id {
            Some(mine) if mine != id => return false,
            Some(_) => {}
            None => self.link_id = Some(id),
        }
        let seq = u32::from_be_bytes(body[5..9].try_into().unwrap_or_default());
        match (body[0], body.len()) {
            (ACK, 11) => {
                let next = u16::from_be_bytes([body[9], body[10]]);
                if seq == self.sent_seq.wrapping_add(1) {
                    let best = self.acked.filter(|(s, _)| *s == seq).map_or(0, |(_, n)| n);
                    self.acked = Some((seq, best.max(next)));
                }
                true
            }
            (DATA, n) if n >= 17 => {
                let index = u16::from_be_bytes([body[9], body[10]]);
                let count = u16::from_be_bytes([body[11], body[12]]);
                let delivered = u32::from_be_bytes(body[13..17].try_into().unwrap_or_default());
                self.peer_delivered = self.peer_delivered.max(delivered);
                self.take_chunk(seq, index, count, &body[17..])
            }
            _ => false,
        }
    }

    fn take_chunk(&mut self, seq: u32, index: u16, count: u16, bytes: &[u8]) -> bool {
        let chunk = self.chunk_len();
        if count == 0 || index >= count || usize::from(count) > self.max_chunks() {
            return false;
        }
        let last = index + 1 == count;
        if (!last && bytes.len() != chunk) || bytes.len() > chunk {
            return false;
        }
        if seq <= self.delivered_seq {
            // Already delivered: the peer missed our final ACK.
            self.send_ack(seq, count);
            return true;
        }
        if seq != self.delivered_seq.wrapping_add(1) {
            return false;
        }
        let r = self.rx.get_or_insert_with(|| Reassembly {
            seq,
            count,
            chunks: vec![None; usize::from(count)],
            next: 0,
        });
        if r.seq != seq || r.count != count {
            return false;
        }
        let slot = &mut r.chunks[usize::from(index)];
        if slot.is_none() {
            *slot = Some(bytes.to_vec());
        }
        while usize::from(r.next) < r.chunks.len() && r.chunks[usize::from(r.next)].is_some() {
            r.next += 1;
        }
        let next = r.next;
        if next == count {
            let r = self.rx.take().expect("present");
            let total: usize = r.chunks.iter().flatten().map(Vec::len).sum();
            if total > MAX_FRAME_LEN {
                return false;
            }
            let mut msg = Vec::with_capacity(total);
            for c in r.chunks.into_iter().flatten() {
                msg.extend_from_slice(&c);
            }
            self.delivered_seq = seq;
            self.inbox.push_back(msg);
        }
        self.send_ack(seq, next);
        true
    }

    fn poll(&mut self, wait: Duration) {
        match self.inner.recv_packet(wait) {
            Ok(Some(p)) => self.handle(&p),
            Ok(None) => {}
            // The carrier is down for now: wait a little instead of spinning.
            Err(_) => std::thread::sleep(wait.min(Duration::from_millis(5))),
        }
    }
}

impl<P: PacketLink> Link for ChunkedLink<P> {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        if payload.len() > MAX_FRAME_LEN {
            return Err(TransportError::TooLarge(payload.len()));
        }
        // A listener learns its link id from the dialer's first packet.
        let start = Instant::now();
        while self.link_id.is_none() {
            if start.elapsed() >= self.opts.timeout {
                return Err(TransportError::Timeout(self.opts.timeout));
            }
            self.poll(self.opts.rto);
        }
        let chunks: Vec<&[u8]> = if payload.is_empty() {
            vec![&[][..]]
        } else {
            payload.chunks(self.chunk_len()).collect()
        };
        let count = chunks.len() as u16;
        let seq = self.sent_seq.wrapping_add(1);
        let window = self.opts.window.max(1);
        let mut next_to_send = 0u16;
        let mut acked = 0u16;
        let mut progress = Instant::now();
        let mut sent_at = Instant::now();
        loop {
            while next_to_send < count && next_to_send < acked.saturating_add(window) {
                self.send_chunk(seq, next_to_send, count, chunks[usize::from(next_to_send)]);
                next_to_send += 1;
                sent_at = Instant::now();
            }
            let left = self.opts.rto.saturating_sub(sent_at.elapsed());
            self.poll(left.max(Duration::from_millis(1)));
            let mut now_acked = self.acked.filter(|(s, _)| *s == seq).map_or(0, |(_, n)| n);
            if self.peer_delivered >= seq {
                now_acked = count; // the peer's own DATA says it has the whole message
            }
            if now_acked > acked {
                acked = now_acked.min(count);
                progress = Instant::now();
                next_to_send = next_to_send.max(acked);
                if acked == count {
                    self.sent_seq = seq;
                    self.acked = None;
                    self.last_was_recv = false;
                    self.stats.messages_sent += 1;
                    return Ok(());
                }
            } else if sent_at.elapsed() >= self.opts.rto {
                // Go back N: everything unacknowledged goes again.
                self.stats.retransmits += u64::from(next_to_send - acked);
                next_to_send = acked;
            }
            if progress.elapsed() >= self.opts.timeout {
                return Err(TransportError::Timeout(self.opts.timeout));
            }
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        let start = Instant::now();
        loop {
            if let Some(m) = self.inbox.pop_front() {
                self.last_was_recv = true;
                return Ok(m);
            }
            let left = self.opts.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(TransportError::Timeout(self.opts.timeout));
            }
            self.poll(left.min(self.opts.rto));
        }
    }
}

impl<P: PacketLink> Drop for ChunkedLink<P> {
    fn drop(&mut self) {
        // If the last thing we did was take a message, the peer may still be retransmitting
        // it, waiting for an ACK that was lost (had we sent since, our DATA would carry the
        // acknowledgement).
        if !self.last_was_recv || self.opts.linger.is_zero() {
            return;
        }
        // Answer retransmissions of the last message until the peer falls quiet.
        let start = Instant::now();
        // Long enough to cover a few lost retransmissions and a short carrier outage.
        let quiet = (self.opts.rto * 6).max(Duration::from_millis(100));
        let mut last = Instant::now();
        while start.elapsed() < self.opts.linger && last.elapsed() < quiet {
            match self.inner.recv_packet(quiet) {
                Ok(Some(p)) => {
                    self.handle(&p);
                    last = Instant::now();
                }
                Ok(None) => {}
                // Down for now (or gone: then the peer stays quiet and we stop).
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}
