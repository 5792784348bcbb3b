//! An NFC-style packet link: ISO 7816-4 short APDUs in command/response turns (PROTOCOL.md
//! §13.3). The *reader* (the dialer) speaks only in commands; the *card* (the listener)
//! speaks only in a response to a command, exactly one per command. Data the card wants to
//! send waits for the next command; a reader with nothing to send polls with an empty
//! command so the card can answer.
//!
//! ```text
//! command:  CLA 0x80 ‖ INS 0xD0 ‖ P1 0x00 ‖ P2 0x00 ‖ [Lc ‖ data (1..=255)] ‖ Le 0x00
//! response: data (0..=255) ‖ SW1 SW2 (0x90 0x00 = OK; 0x67 0x00 = wrong length)
//! ```
//!
//! Each data field carries one packet of the chunked layer, so the MTU is 255.

use crate::packet::PacketLink;
use crate::TransportError;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The largest data field of a short APDU, and so the MTU of the chunked layer over NFC.
pub const APDU_MTU: usize = 255;
const CLA: u8 = 0x80;
const INS: u8 = 0xD0;
const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
/// Responses the card holds back at most; beyond that the oldest are dropped (the chunked
/// layer retransmits), so a silent reader cannot make the card buffer without bound.
const CARD_QUEUE: usize = 16;

/// Builds a command APDU carrying `data` (empty: a poll).
pub fn command(data: &[u8]) -> Vec<u8> {
    let mut c = vec![CLA, INS, 0, 0];
    if !data.is_empty() {
        c.push(data.len() as u8);
        c.extend_from_slice(data);
    }
    c.push(0);
    c
}

/// The data field of a command APDU; `None` if it is not a well-formed DSM command.
pub fn parse_command(c: &[u8]) -> Option<&[u8]> {
    if c.len() < 5 || c[0] != CLA || c[1] != INS || c[2] != 0 || c[3] != 0 {
        return None;
    }
    if c.len() == 5 {
        return (c[4] == 0).then_some(&[][..]);
    }
    let lc = usize::from(c[4]);
    (lc > 0 && c.len() == 5 + lc + 1 && c[5 + lc] == 0).then(|| &c[5..5 + lc])
}

/// The data field of a response APDU; `None` unless it ends in 90 00.
pub fn parse_response(r: &[u8]) -> Option<&[u8]> {
    if r.len() < 2 || r.len() > APDU_MTU + 2 || r[r.len() - 2..] != SW_OK {
        return None;
    }
    Some(&r[..r.len() - 2])
}

/// The reader's side: every packet leaves as a command; responses carry the card's packets.
pub struct ApduReader<P: PacketLink> {
    inner: P,
    inbox: VecDeque<Vec<u8>>,
    /// Command–response exchanges started.
    pub exchanges: u64,
}

impl<P: PacketLink> ApduReader<P> {
    /// A reader over `inner`, which carries whole APDUs (MTU ≥ 261).
    pub fn new(inner: P) -> Self {
        ApduReader {
            inner,
            inbox: VecDeque::new(),
            exchanges: 0,
        }
    }

    /// One exchange: send `data` as a command, wait (at most `wait`) for the response.
    fn exchange(&mut self, data: &[u8], wait: Duration) -> Result<(), TransportError> {
        self.exchanges += 1;
        self.inner.send_packet(&command(data))?;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inner.recv_packet(left)? {
                Some(r) => {
                    if let Some(d) = parse_response(&r) {
                        if !d.is_empty() {
                            self.inbox.push_back(d.to_vec());
                        }
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
            if left.is_zero() {
                return Ok(());
            }
        }
    }
}

impl<P: PacketLink> PacketLink for ApduReader<P> {
    fn mtu(&self) -> usize {
        APDU_MTU
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.is_empty() || packet.len() > APDU_MTU {
            return Err(TransportError::TooLarge(packet.len()));
        }
        // A response lost here is a lost packet; the chunked layer recovers it.
        self.exchange(packet, Duration::from_millis(50))
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(p) = self.inbox.pop_front() {
                return Ok(Some(p));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // Poll: the card can only speak when asked.
            self.exchange(&[], left.min(Duration::from_millis(50)))?;
            if self.inbox.is_empty() {
                std::thread::sleep(Duration::from_millis(1).min(left));
            }
        }
    }
}

/// The card's side: packets wait for the reader's next command and leave in its response.
pub struct ApduCard<P: PacketLink> {
    inner: P,
    outbox: VecDeque<Vec<u8>>,
    inbox: VecDeque<Vec<u8>>,
}

impl<P: PacketLink> ApduCard<P> {
    /// A card over `inner`, which carries whole APDUs.
    pub fn new(inner: P) -> Self {
        ApduCard {
            inner,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
        }
    }

    /// Answers one command: its data (if any) is kept, and the response carries the next
    /// queued packet.
    fn answer(&mut self, c: &[u8]) -> Result<(), TransportError> {
        match parse_command(c) {
            Some(data) => {
                if !data.is_empty() {
                    self.inbox.push_back(data.to_vec());
                }
                let mut r = self.outbox.pop_front().unwrap_or_default();
                r.extend_from_slice(&SW_OK);
                self.inner.send_packet(&r)
            }
            None => self.inner.send_packet(&SW_WRONG_LENGTH),
        }
    }
}

impl<P: PacketLink> PacketLink for ApduCard<P> {
    fn mtu(&self) -> usize {
        APDU_MTU
    }
    fn send_packet(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        if packet.len() > APDU_MTU {
            return Err(TransportError::TooLarge(packet.len()));
        }
        if self.outbox.len() == CARD_QUEUE {
            self.outbox.pop_front();
        }
        self.outbox.push_back(packet.to_vec());
        Ok(())
    }
    fn recv_packet(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, TransportError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(p) = self.inbox.pop_front() {
                return Ok(Some(p));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inner.recv_packet(left)? {
                Some(c) => self.answer(&c)?,
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apdus_parse_strictly() {
        assert_eq!(parse_command(&command(b"abc")), Some(&b"abc"[..]));
        assert_eq!(parse_command(&command(b"")), Some(&b""[..]));
        assert_eq!(parse_command(&command(&[7; 255])).unwrap().len(), 255);
        for bad in [
            &[][..],
            &[0x80, 0xD0, 0, 0][..],
            &[0x00, 0xD0, 0, 0, 0][..],
            &[0x80, 0xD0, 0, 0, 3, 1, 2, 0][..],
            &[0x80, 0xD0, 0, 0, 1, 1, 0, 0][..],
            // P1/P2 other than 0 (found by the fuzz smoke: it would not re-encode).
            &[0x80, 0xD0, 0, 0x40, 1, 7, 0][..],
            &[0x80, 0xD0, 1, 0, 0][..],
        ] {
            assert_eq!(parse_command(bad), None, "{bad:?}");
        }
        assert_eq!(parse_response(&[1, 2, 0x90, 0x00]), Some(&[1u8, 2][..]));
        assert_eq!(parse_response(&[0x67, 0x00]), None);
        assert_eq!(parse_response(&[0x90]), None);
    }
}
