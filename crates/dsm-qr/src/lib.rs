//! A DSM session link over animated QR codes.
//!
//! A screen and a camera make a one-way, lossy channel: the camera misses frames, sees
//! them out of order, or sees the same frame many times. So each message is cut into
//! RaptorQ fountain-code packets ([`encode_packets`]) and each packet becomes one QR code;
//! the receiver feeds whatever codes it reads into a [`MessageDecoder`] and gets the message
//! back as soon as *any* large enough subset has arrived, in any order. Duplicates cost
//! nothing, and no acknowledgement per frame is needed.
//!
//! * Packets: [`encode_packets`], [`PacketHeader`], [`MessageDecoder`].
//! * Images: [`render_png`] / [`decode_png`] (real QR encoding and detection, so the bytes
//!   survive the round trip through pixels), [`render_terminal`] for showing frames on a
//!   terminal.
//! * [`QrDirLink`]: a [`dsm_transport::Link`] whose frames are QR PNG files in a shared
//!   directory — the stand-in for a screen (the sender writes images) and a camera (the
//!   receiver decodes images, with a hook to simulate missed frames).
//!
//! # Packet layout
//!
//! All integers are big-endian.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | magic `"DQ"` |
//! | 2 | 1 | version, = [`PACKET_VERSION`] |
//! | 3 | 8 | session id |
//! | 11 | 1 | direction: 0 = dialer→listener, 1 = listener→dialer |
//! | 12 | 4 | message sequence number, from 1 |
//! | 16 | 4 | message length, at most [`MAX_FRAME_LEN`] |
//! | 20 | 2 | symbol size `T`, 1..=[`MAX_SYMBOL_SIZE`] |
//! | 22 | 4 | RaptorQ payload id: source block number (always 0), encoding symbol id (24 bits) |
//! | 26 | `T` | RaptorQ encoding symbol |
//!
//! The RaptorQ object transmission information is not sent: it is derived from the
//! header (one source block, one sub-block, alignment 1, transfer length
//! `max(message length, 1)`), so a receiver never has to trust a peer-supplied OTI.
//!
//! Integrity is not this crate's job: QR codes carry Reed–Solomon error correction,
//! and the DSM protocol authenticates every message it receives.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use dsm_transport::{Link, TransportError, MAX_FRAME_LEN};
use qrcode::bits::Bits;
use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, EcLevel, QrCode, Version};
use raptorq::{Encoder, EncodingPacket, ObjectTransmissionInformation, SourceBlockDecoder};
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The two bytes every packet starts with.
pub const MAGIC: [u8; 2] = *b"DQ";
/// The packet format version this crate writes and accepts.
pub const PACKET_VERSION: u8 = 1;
/// Bytes before the RaptorQ payload id: magic, version, session, direction, seq, length,
/// symbol size.
pub const HEADER_LEN: usize = 22;
/// Bytes of the RaptorQ payload id (source block number and 24-bit encoding symbol id).
pub const PAYLOAD_ID_LEN: usize = 4;
/// The largest symbol size accepted. A packet then has 2074 bytes, which still fits a
/// version-40 QR code at ECC level M (2331 bytes).
pub const MAX_SYMBOL_SIZE: u16 = 2048;
/// The largest number of source symbols per message accepted (so a message of
/// [`MAX_FRAME_LEN`] bytes needs symbols of at least 64 bytes). RaptorQ allows 56403, but
/// decoding cost grows faster than linearly with it and a peer's header alone must not be
/// able to make the receiver reserve or compute much.
pub const MAX_SOURCE_SYMBOLS: u32 = 8192;
/// The largest repair overhead [`encode_packets`] accepts, in percent of the source count.
pub const MAX_REPAIR_PERCENT: u16 = 1000;
/// Default RaptorQ symbol size: 400 bytes, so a packet is 426 bytes and fits a version-16
/// QR code (81×81 modules) at ECC level M (capacity 450 bytes).
///
/// Why: phone cameras read codes of roughly version 10–20 off a screen at several frames
/// per second; denser codes need a steadier hand and a sharper image. Level M (15 %
/// recoverable) rather than L tolerates glare and moiré on a screen, and lost frames are
/// the fountain code's job, not the QR code's. 81 modules plus the quiet zone are 89
/// terminal columns in [`render_terminal`]. A 36 KB SLH-DSA receipt is then 93 source
/// frames (+50 % repair by default).
pub const DEFAULT_SYMBOL_SIZE: u16 = 400;
/// Default repair overhead: 50 % more packets than source packets, so a receiver that
/// misses up to about a third of the frames still decodes.
pub const DEFAULT_REPAIR_PERCENT: u16 = 50;
/// Default pixels per QR module in [`render_png`] (a 356×356 image at the default size).
pub const DEFAULT_SCALE: u32 = 4;
/// Width of the light border around a code, in modules (the QR specification's minimum).
pub const QUIET_ZONE: usize = 4;
/// The largest image [`decode_png`] looks at, and [`render_png`] produces, per side.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// ECC level of every code this crate renders (see [`DEFAULT_SYMBOL_SIZE`]).
pub const ECC_LEVEL: EcLevel = EcLevel::M;

/// An 8-byte session id, chosen at random by the dialer. It appears in every packet and
/// (hex-encoded) in the session directory's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 8]);

impl SessionId {
    /// The id as 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Which way a packet travels. Part of every packet, so a device never mistakes the
/// echo of its own screen for the peer's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the dialer to the listener (wire value 0).
    DialerToListener,
    /// From the listener to the dialer (wire value 1).
    ListenerToDialer,
}

impl Direction {
    /// The byte written in the packet.
    pub fn to_byte(self) -> u8 {
        match self {
            Direction::DialerToListener => 0,
            Direction::ListenerToDialer => 1,
        }
    }

    /// The direction for a wire byte; `None` for anything but 0 and 1.
    pub fn from_byte(b: u8) -> Option<Direction> {
        match b {
            0 => Some(Direction::DialerToListener),
            1 => Some(Direction::ListenerToDialer),
            _ => None,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::DialerToListener => Direction::ListenerToDialer,
            Direction::ListenerToDialer => Direction::DialerToListener,
        }
    }
}

/// Why a packet was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Fewer bytes than a header and a payload id.
    TooShort(usize),
    /// The first two bytes are not [`MAGIC`].
    BadMagic,
    /// Another packet format version.
    Version(u8),
    /// The direction byte is neither 0 nor 1.
    BadDirection(u8),
    /// A packet of another session.
    WrongSession(SessionId),
    /// A packet travelling the other way.
    WrongDirection(Direction),
    /// A packet of another message.
    WrongSeq {
        /// The sequence number the decoder waits for.
        expected: u32,
        /// The sequence number in the packet.
        got: u32,
    },
    /// The announced message length is over [`MAX_FRAME_LEN`].
    TooLarge(usize),
    /// The symbol size is 0 or over [`MAX_SYMBOL_SIZE`].
    BadSymbolSize(u16),
    /// Length and symbol size need more than [`MAX_SOURCE_SYMBOLS`] source symbols.
    TooManySymbols(u64),
    /// More distinct packets for one message than any sender writes (the limit given):
    /// refused so a flood cannot grow the decoder's memory.
    Flood(u64),
    /// The message length or symbol size differs from the first accepted packet's.
    Mismatch,
    /// The symbol is not exactly as long as the header's symbol size says.
    BadSymbolLength {
        /// The header's symbol size.
        expected: usize,
        /// The bytes actually present.
        got: usize,
    },
    /// The source block number is not 0 (messages are always one source block).
    BadSourceBlock(u8),
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::TooShort(n) => write!(f, "a {n}-byte packet is shorter than a header"),
            PacketError::BadMagic => f.write_str("not a DSM QR packet (bad magic)"),
            PacketError::Version(v) => write!(
                f,
                "packet format version {v}; this build speaks version {PACKET_VERSION}"
            ),
            PacketError::BadDirection(d) => write!(f, "invalid direction byte {d}"),
            PacketError::WrongSession(s) => write!(f, "a packet of another session ({s})"),
            PacketError::WrongDirection(d) => write!(f, "a packet travelling {d:?}"),
            PacketError::WrongSeq { expected, got } => {
                write!(
                    f,
                    "a packet of message {got}, waiting for message {expected}"
                )
            }
            PacketError::TooLarge(n) => {
                write!(f, "a {n}-byte message, over the {MAX_FRAME_LEN}-byte cap")
            }
            PacketError::BadSymbolSize(t) => {
                write!(f, "symbol size {t} is not in 1..={MAX_SYMBOL_SIZE}")
            }
            PacketError::Flood(limit) => write!(
                f,
                "more than {limit} distinct packets for one message; the rest are ignored"
            ),
            PacketError::TooManySymbols(k) => write!(
                f,
                "{k} source symbols, over the {MAX_SOURCE_SYMBOLS}-symbol cap"
            ),
            PacketError::Mismatch => {
                f.write_str("length or symbol size differs from the message's first packet")
            }
            PacketError::BadSymbolLength { expected, got } => {
                write!(
                    f,
                    "a {got}-byte symbol where {expected} bytes were announced"
                )
            }
            PacketError::BadSourceBlock(b) => write!(f, "source block {b}; only block 0 exists"),
        }
    }
}

impl std::error::Error for PacketError {}

impl From<PacketError> for TransportError {
    fn from(e: PacketError) -> TransportError {
        match e {
            PacketError::TooLarge(n) => TransportError::TooLarge(n),
            other => TransportError::Io(io::Error::new(io::ErrorKind::InvalidData, other)),
        }
    }
}

/// The fixed-size header of a packet, as parsed by [`PacketHeader::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketHeader {
    /// The session the packet belongs to.
    pub session: SessionId,
    /// Which way it travels.
    pub direction: Direction,
    /// The message's sequence number.
    pub seq: u32,
    /// The message's length in bytes.
    pub message_len: u32,
    /// The RaptorQ symbol size.
    pub symbol_size: u16,
}

impl PacketHeader {
    /// Parses and checks the header of `packet`: its length (header, payload id and a
    /// symbol of exactly the announced size), magic, version, direction byte, message
    /// length cap, symbol size range and source-symbol cap. Allocates nothing.
    pub fn parse(packet: &[u8]) -> Result<PacketHeader, PacketError> {
        if packet.len() < HEADER_LEN + PAYLOAD_ID_LEN {
            return Err(PacketError::TooShort(packet.len()));
        }
        if packet[0..2] != MAGIC {
            return Err(PacketError::BadMagic);
        }
        if packet[2] != PACKET_VERSION {
            return Err(PacketError::Version(packet[2]));
        }
        let mut session = [0u8; 8];
        session.copy_from_slice(&packet[3..11]);
        let direction =
            Direction::from_byte(packet[11]).ok_or(PacketError::BadDirection(packet[11]))?;
        let seq = u32::from_be_bytes([packet[12], packet[13], packet[14], packet[15]]);
        let message_len = u32::from_be_bytes([packet[16], packet[17], packet[18], packet[19]]);
        let symbol_size = u16::from_be_bytes([packet[20], packet[21]]);
        // The cap is checked before anything is sized from the length.
        if message_len as usize > MAX_FRAME_LEN {
            return Err(PacketError::TooLarge(message_len as usize));
        }
        check_symbol_params(message_len as usize, symbol_size)?;
        let got = packet.len() - HEADER_LEN - PAYLOAD_ID_LEN;
        if got != symbol_size as usize {
            return Err(PacketError::BadSymbolLength {
                expected: symbol_size as usize,
                got,
            });
        }
        Ok(PacketHeader {
            session: SessionId(session),
            direction,
            seq,
            message_len,
            symbol_size,
        })
    }
}

/// RaptorQ cannot encode an empty object, so an empty message travels as one zero byte
/// (the header's length, 0, says how much of it is the message).
fn object_len(message_len: usize) -> usize {
    message_len.max(1)
}

fn source_symbols(message_len: usize, symbol_size: u16) -> u64 {
    (object_len(message_len) as u64).div_ceil(u64::from(symbol_size))
}

fn check_symbol_params(message_len: usize, symbol_size: u16) -> Result<u32, PacketError> {
    if symbol_size == 0 || symbol_size > MAX_SYMBOL_SIZE {
        return Err(PacketError::BadSymbolSize(symbol_size));
    }
    let k = source_symbols(message_len, symbol_size);
    if k > u64::from(MAX_SOURCE_SYMBOLS) {
        return Err(PacketError::TooManySymbols(k));
    }
    Ok(k as u32)
}

/// The RaptorQ parameters both sides derive from the header. One source block and one
/// sub-block keep the packet's payload id meaningful on its own; alignment 1 allows any
/// symbol size. Only called after [`check_symbol_params`], so raptorq's own assertions
/// (symbols per block, alignment) cannot fire.
fn oti(message_len: usize, symbol_size: u16) -> ObjectTransmissionInformation {
    ObjectTransmissionInformation::new(object_len(message_len) as u64, symbol_size, 1, 1, 1)
}

fn invalid_input(msg: String) -> TransportError {
    TransportError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// Cuts `message` into packets: all source packets (encoding symbol ids `0..K`, where
/// `K = ⌈max(len, 1) / symbol_size⌉`) followed by `max(1, ⌈K · repair_percent / 100⌉)`
/// repair packets. Any `K` or a few more of them, in any order, rebuild the message.
///
/// Errors: [`TransportError::TooLarge`] for a message over [`MAX_FRAME_LEN`]; an
/// `InvalidInput` I/O error for `seq` 0, a symbol size outside `1..=MAX_SYMBOL_SIZE`,
/// more than [`MAX_SOURCE_SYMBOLS`] source symbols, or `repair_percent` over
/// [`MAX_REPAIR_PERCENT`].
pub fn encode_packets(
    session: SessionId,
    direction: Direction,
    seq: u32,
    message: &[u8],
    symbol_size: u16,
    repair_percent: u16,
) -> Result<Vec<Vec<u8>>, TransportError> {
    if message.len() > MAX_FRAME_LEN {
        return Err(TransportError::TooLarge(message.len()));
    }
    if seq == 0 {
        return Err(invalid_input("message sequence numbers start at 1".into()));
    }
    if repair_percent > MAX_REPAIR_PERCENT {
        return Err(invalid_input(format!(
            "repair overhead {repair_percent}% is over {MAX_REPAIR_PERCENT}%"
        )));
    }
    let k = check_symbol_params(message.len(), symbol_size)
        .map_err(|e| invalid_input(e.to_string()))?;
    let repair = (u64::from(k) * u64::from(repair_percent))
        .div_ceil(100)
        .max(1) as u32;

    let padded;
    let object: &[u8] = if message.is_empty() {
        padded = [0u8];
        &padded
    } else {
        message
    };
    let encoder = Encoder::new(object, oti(message.len(), symbol_size));
    let mut header = [0u8; HEADER_LEN];
    header[0..2].copy_from_slice(&MAGIC);
    header[2] = PACKET_VERSION;
    header[3..11].copy_from_slice(&session.0);
    header[11] = direction.to_byte();
    header[12..16].copy_from_slice(&seq.to_be_bytes());
    header[16..20].copy_from_slice(&(message.len() as u32).to_be_bytes());
    header[20..22].copy_from_slice(&symbol_size.to_be_bytes());
    Ok(encoder
        .get_encoded_packets(repair)
        .into_iter()
        .map(|p| {
            let body = p.serialize();
            let mut packet = Vec::with_capacity(HEADER_LEN + body.len());
            packet.extend_from_slice(&header);
            packet.extend_from_slice(&body);
            packet
        })
        .collect())
}

/// Rebuilds one message from its packets.
///
/// Packets may come in any order and any number of times. [`MessageDecoder::push`]
/// refuses, with a typed [`PacketError`] and without changing any state, every packet of
/// another session, direction or sequence number, with bad magic or version, with a length
/// over [`MAX_FRAME_LEN`] (checked before anything is allocated), a symbol size outside
/// `1..=MAX_SYMBOL_SIZE`, a symbol of the wrong length, a source block other than 0, or a
/// length or symbol size that differs from the first accepted packet. Callers reading a
/// camera should simply skip refused packets. No input makes it panic: everything raptorq
/// would assert on is checked first.
///
/// The decoder does not authenticate packets: a forged packet with the right header can
/// corrupt the message, which the DSM protocol's signatures then reject.
pub struct MessageDecoder {
    session: SessionId,
    direction: Direction,
    seq: u32,
    /// `(message length, symbol size)` fixed by the first accepted packet.
    params: Option<(u32, u16)>,
    inner: Option<SourceBlockDecoder>,
    seen: HashSet<u32>,
    done: bool,
}

impl MessageDecoder {
    /// A decoder for message `seq` of `session` travelling in `direction`.
    pub fn new(session: SessionId, direction: Direction, seq: u32) -> MessageDecoder {
        MessageDecoder {
            session,
            direction,
            seq,
            params: None,
            inner: None,
            seen: HashSet::new(),
            done: false,
        }
    }

    /// Feeds one packet. Returns `Ok(Some(message))` exactly once, when the packets so far
    /// suffice; `Ok(None)` when more are needed, for a duplicate, and for every packet after
    /// the message was returned; `Err` for a refused packet (see the type's docs).
    pub fn push(&mut self, packet: &[u8]) -> Result<Option<Vec<u8>>, PacketError> {
        let h = PacketHeader::parse(packet)?;
        if h.session != self.session {
            return Err(PacketError::WrongSession(h.session));
        }
        if h.direction != self.direction {
            return Err(PacketError::WrongDirection(h.direction));
        }
        if h.seq != self.seq {
            return Err(PacketError::WrongSeq {
                expected: self.seq,
                got: h.seq,
            });
        }
        if let Some(p) = self.params {
            if p != (h.message_len, h.symbol_size) {
                return Err(PacketError::Mismatch);
            }
        }
        let body = &packet[HEADER_LEN..];
        if body[0] != 0 {
            return Err(PacketError::BadSourceBlock(body[0]));
        }
        if self.done {
            return Ok(None);
        }
        let esi = u32::from_be_bytes([0, body[1], body[2], body[3]]);
        if self.seen.contains(&esi) {
            return Ok(None);
        }
        // A sender writes at most K source plus MAX_REPAIR_PERCENT % repair packets; more
        // distinct ones are a flood, refused so memory stays bounded by the message size.
        let k = (h.message_len.max(1) as u64).div_ceil(u64::from(h.symbol_size.max(1)));
        let limit = k * (1 + u64::from(MAX_REPAIR_PERCENT) / 100) + 16;
        if self.seen.len() as u64 >= limit {
            return Err(PacketError::Flood(limit));
        }
        self.seen.insert(esi);
        self.params = Some((h.message_len, h.symbol_size));
        let len = h.message_len as usize;
        let inner = self.inner.get_or_insert_with(|| {
            let config = oti(len, h.symbol_size);
            SourceBlockDecoder::new(0, &config, config.transfer_length())
        });
        match inner.decode(std::iter::once(EncodingPacket::deserialize(body))) {
            Some(mut object) => {
                self.done = true;
                // The decoder's memory is no longer needed.
                self.inner = None;
                self.seen = HashSet::new();
                object.truncate(len);
                Ok(Some(object))
            }
            None => Ok(None),
        }
    }

    /// Whether the message has been returned.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// How many distinct packets have been accepted (0 once complete).
    pub fn packets_accepted(&self) -> usize {
        self.seen.len()
    }
}

/// The smallest QR code holding `data` in byte mode at [`ECC_LEVEL`].
///
/// Byte mode is forced (rather than qrcode's optimal segmentation) so that every byte
/// value, 0x00 and 0xFF included, goes through one well-trodden path in both the encoder
/// and the decoder.
fn qr_for(data: &[u8]) -> Result<QrCode, TransportError> {
    for v in 1..=40i16 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_byte_data(data).is_err() || bits.push_terminator(ECC_LEVEL).is_err() {
            continue;
        }
        if let Ok(code) = QrCode::with_bits(bits, ECC_LEVEL) {
            return Ok(code);
        }
    }
    Err(invalid_input(format!(
        "{} bytes do not fit one QR code at ECC level {ECC_LEVEL:?}",
        data.len()
    )))
}

/// Renders `packet` as one QR code (byte mode, ECC level [`ECC_LEVEL`], the smallest
/// version that fits) in an 8-bit grayscale PNG: black modules on white, `scale` pixels
/// per module, with a [`QUIET_ZONE`]-module white border.
///
/// Errors (`InvalidInput`): `scale` 0, data too long for any QR code, or an image wider
/// than [`MAX_IMAGE_SIDE`] (which [`decode_png`] would refuse).
pub fn render_png(packet: &[u8], scale: u32) -> Result<Vec<u8>, TransportError> {
    if scale == 0 {
        return Err(invalid_input("scale must be at least 1".into()));
    }
    let code = qr_for(packet)?;
    let modules = code.width();
    let side_modules = modules + 2 * QUIET_ZONE;
    let side = (side_modules as u64) * u64::from(scale);
    if side > u64::from(MAX_IMAGE_SIDE) {
        return Err(invalid_input(format!(
            "a {side}-pixel image is over the {MAX_IMAGE_SIDE}-pixel cap; lower the scale"
        )));
    }
    let side = side as usize;
    let scale = scale as usize;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for my in 0..modules {
        for mx in 0..modules {
            if colors[my * modules + mx] != Color::Dark {
                continue;
            }
            let y0 = (my + QUIET_ZONE) * scale;
            let x0 = (mx + QUIET_ZONE) * scale;
            for y in y0..y0 + scale {
                pixels[y * side + x0..y * side + x0 + scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(io::Error::other)?;
    w.write_image_data(&pixels).map_err(io::Error::other)?;
    w.finish().map_err(io::Error::other)?;
    Ok(out)
}

/// Decodes a PNG to 8-bit luminance, refusing images over [`MAX_IMAGE_SIDE`] per side
/// before the pixel buffer is allocated. Transparent pixels are composited over white,
/// as a screen would show them.
fn png_to_luma(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    // 4096 × 4096 RGBA is 64 MiB; the limit covers png's own intermediate buffers.
    let limits = png::Limits {
        bytes: 80 * 1024 * 1024,
    };
    let mut dec = png::Decoder::new_with_limits(io::Cursor::new(bytes), limits);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let info = dec.read_header_info().ok()?;
    let (w, h) = (info.width, info.height);
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return None;
    }
    let mut reader = dec.read_info().ok()?;
    let mut buf = vec![0u8; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let channels = frame.color_type.samples();
    if frame.bit_depth != png::BitDepth::Eight || frame.line_size < w * channels {
        return None;
    }
    let over_white = |v: u32, a: u32| ((v * a + 255 * (255 - a)) / 255) as u8;
    let mut luma = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = buf.get(y * frame.line_size..y * frame.line_size + w * channels)?;
        for px in row.chunks_exact(channels) {
            let rgb = |r: u8, g: u8, b: u8| {
                (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000
            };
            luma.push(match px {
                [g] => *g,
                [g, a] => over_white(u32::from(*g), u32::from(*a)),
                [r, g, b] => rgb(*r, *g, *b) as u8,
                [r, g, b, a] => over_white(rgb(*r, *g, *b), u32::from(*a)),
                _ => return None,
            });
        }
    }
    Some((w, h, luma))
}

/// Finds every QR code in a PNG image and returns each one's raw bytes (byte-mode data
/// exactly as encoded; never reinterpreted as text). Anything that is not a decodable PNG
/// of at most [`MAX_IMAGE_SIDE`]² pixels, or holds no readable code, gives an empty list.
///
/// Never panics: the image is size-checked before allocation, and the detector (which
/// reads attacker-controlled pixels) runs under `catch_unwind`, so a bug there costs one
/// frame, not the session.
pub fn decode_png(png_bytes: &[u8]) -> Vec<Vec<u8>> {
    let Some((w, h, luma)) = png_to_luma(png_bytes) else {
        return Vec::new();
    };
    std::panic::catch_unwind(move || {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
        img.detect_grids()
            .into_iter()
            .filter_map(|grid| {
                let mut out = Vec::new();
                grid.decode_to(&mut out).ok().map(|_| out)
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Renders `packet` as a QR code of Unicode half blocks (two modules per character
/// cell, `\n` between lines), with a quiet zone, for showing on a terminal. The colours
/// are swapped for the usual light-on-dark terminal, so the code reads dark-on-light on
/// screen. Data too long for a QR code gives an empty string.
pub fn render_terminal(packet: &[u8]) -> String {
    match qr_for(packet) {
        Ok(code) => code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// A hook deciding, for each frame file a [`QrDirLink`] is about to read, whether the
/// "camera" missed it (`true` = skip the file for good).
pub type CameraMiss = Box<dyn FnMut(&Path) -> bool + Send>;

/// Settings of a [`QrDirLink`].
pub struct QrOptions {
    /// RaptorQ symbol size per packet (1..=[`MAX_SYMBOL_SIZE`]); default
    /// [`DEFAULT_SYMBOL_SIZE`].
    pub symbol_size: u16,
    /// Repair packets in percent of source packets (at most [`MAX_REPAIR_PERCENT`]);
    /// default [`DEFAULT_REPAIR_PERCENT`].
    pub repair_percent: u16,
    /// Pixels per QR module in the PNG files (≥ 1); default [`DEFAULT_SCALE`].
    pub scale: u32,
    /// Also show each sent frame on stderr with [`render_terminal`], redrawing in place.
    pub terminal: bool,
    /// How long each frame stays on the terminal when `terminal` is on (a camera needs
    /// time to focus and read); default 100 ms. Ignored otherwise.
    pub frame_interval: Duration,
    /// Test and simulation hook, not for production: called with each peer frame's path
    /// before it is read; returning `true` means the camera missed that frame, which is
    /// then never read. `None` reads every frame.
    pub camera_miss: Option<CameraMiss>,
}

impl Default for QrOptions {
    fn default() -> QrOptions {
        QrOptions {
            symbol_size: DEFAULT_SYMBOL_SIZE,
            repair_percent: DEFAULT_REPAIR_PERCENT,
            scale: DEFAULT_SCALE,
            terminal: false,
            frame_interval: Duration::from_millis(100),
            camera_miss: None,
        }
    }
}

impl fmt::Debug for QrOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrOptions")
            .field("symbol_size", &self.symbol_size)
            .field("repair_percent", &self.repair_percent)
            .field("scale", &self.scale)
            .field("terminal", &self.terminal)
            .field("frame_interval", &self.frame_interval)
            .field("camera_miss", &self.camera_miss.as_ref().map(|_| "<hook>"))
            .finish()
    }
}

impl QrOptions {
    /// Refuses settings `send` would fail on, so a link fails at setup, not mid-session.
    fn check(&self) -> Result<(), TransportError> {
        check_symbol_params(0, self.symbol_size).map_err(|e| invalid_input(e.to_string()))?;
        if self.repair_percent > MAX_REPAIR_PERCENT {
            return Err(invalid_input(format!(
                "repair overhead {}% is over {MAX_REPAIR_PERCENT}%",
                self.repair_percent
            )));
        }
        // The largest packet must render within the image cap at this scale.
        let largest = vec![0u8; HEADER_LEN + PAYLOAD_ID_LEN + self.symbol_size as usize];
        let side = (qr_for(&largest)?.width() + 2 * QUIET_ZONE) as u64 * u64::from(self.scale);
        if self.scale == 0 || side > u64::from(MAX_IMAGE_SIDE) {
            return Err(invalid_input(format!(
                "scale {} gives {side}-pixel frames; allowed is 1..={MAX_IMAGE_SIDE} pixels",
                self.scale
            )));
        }
        Ok(())
    }
}

/// How often `recv` and `accept` look at the directory.
const POLL: Duration = Duration::from_millis(10);
/// Frame files larger than this are skipped unread: a 4096² 8-bit PNG compresses far
/// below it, and a camera frame never is this big.
const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;

/// A session link whose frames are QR-code PNG files in a shared directory: the
/// stand-in for a screen (each sent packet is one image) and a camera (the receiver
/// decodes whatever images it gets to see, in any order).
///
/// Layout, mirroring [`dsm_transport::DirLink`]: the dialer creates
/// `ROOT/session-<16 hex digits of the session id>/`; the listener claims it by creating
/// `claimed` in it (create-new, so exactly one listener wins). Frames are
/// `<d|l>-<seq:06>-<n:05>.png` (`d` written by the dialer, `l` by the listener), each
/// written to a dot-prefixed temporary name and renamed, so a reader never sees half an
/// image. A root shared with a `DirLink` would have its sessions claimed by the wrong
/// kind of listener: use separate roots.
///
/// A receiver only lists its own session directory and only reads files named
/// `<peer>-<next seq>-*.png`; the QR contents are still checked (session, direction,
/// sequence number), so a stray or forged image is ignored. The sender writes a fixed
/// set of frames (source + repair); if the camera misses more than the repair covers,
/// `recv` times out.
pub struct QrDirLink {
    dir: PathBuf,
    session: SessionId,
    mine: Direction,
    sent: u32,
    received: u32,
    timeout: Duration,
    opts: QrOptions,
}

fn prefix(d: Direction) -> &'static str {
    match d {
        Direction::DialerToListener => "d",
        Direction::ListenerToDialer => "l",
    }
}

impl QrDirLink {
    /// Opens a new session directory under `root` (created if missing) as the dialer.
    pub fn dial(
        root: &Path,
        timeout: Duration,
        opts: QrOptions,
    ) -> Result<QrDirLink, TransportError> {
        opts.check()?;
        let (id, dir) = dsm_transport::create_session_dir(root)?;
        Ok(QrDirLink::new(
            dir,
            SessionId(id),
            Direction::DialerToListener,
            timeout,
            opts,
        ))
    }

    /// Waits (at most `timeout`) for an unclaimed session directory under `root` and
    /// claims it as the listener. Directories whose name is not `session-` followed by
    /// 16 hex digits are skipped.
    pub fn accept(
        root: &Path,
        timeout: Duration,
        opts: QrOptions,
    ) -> Result<QrDirLink, TransportError> {
        opts.check()?;
        let (id, dir) = dsm_transport::claim_session_dir(root, timeout)?;
        Ok(QrDirLink::new(
            dir,
            SessionId(id),
            Direction::ListenerToDialer,
            timeout,
            opts,
        ))
    }

    fn new(
        dir: PathBuf,
        session: SessionId,
        mine: Direction,
        timeout: Duration,
        opts: QrOptions,
    ) -> QrDirLink {
        QrDirLink {
            dir,
            session,
            mine,
            sent: 0,
            received: 0,
            timeout,
            opts,
        }
    }

    /// The session's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The session id carried in every packet.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Draws one frame on stderr, moving the cursor back over the previous one first so
    /// the frames replace each other like an animation.
    fn show(&self, frame: &str, previous_lines: usize) -> usize {
        let mut err = io::stderr().lock();
        if previous_lines > 0 {
            let _ = write!(err, "\x1b[{previous_lines}A\r");
        }
        let _ = writeln!(err, "{frame}");
        let _ = err.flush();
        drop(err);
        std::thread::sleep(self.opts.frame_interval);
        frame.lines().count()
    }
}

impl Link for QrDirLink {
    fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let seq = self.sent + 1;
        let packets = encode_packets(
            self.session,
            self.mine,
            seq,
            payload,
            self.opts.symbol_size,
            self.opts.repair_percent,
        )?;
        let mut shown = 0;
        for (n, packet) in packets.iter().enumerate() {
            let png = render_png(packet, self.opts.scale)?;
            let name = format!("{}-{seq:06}-{n:05}.png", prefix(self.mine));
            let tmp = self.dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, &png)?;
            std::fs::rename(&tmp, self.dir.join(&name))?;
            if self.opts.terminal {
                shown = self.show(&render_terminal(packet), shown);
            }
        }
        self.sent = seq;
        Ok(())
    }

    fn recv(&mut self) -> Result<Vec<u8>, TransportError> {
        let seq = self.received + 1;
        let theirs = self.mine.reverse();
        let wanted = format!("{}-{seq:06}-", prefix(theirs));
        let mut decoder = MessageDecoder::new(self.session, theirs, seq);
        // Each frame file is looked at (and offered to the camera hook) once.
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let start = Instant::now();
        loop {
            let mut fresh: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&wanted) && n.ends_with(".png"))
                })
                .map(|e| e.path())
                .filter(|p| !seen.contains(p))
                .collect();
            fresh.sort();
            for path in fresh {
                seen.insert(path.clone());
                if let Some(miss) = self.opts.camera_miss.as_mut() {
                    if miss(&path) {
                        continue;
                    }
                }
                let Some(bytes) = read_capped(&path) else {
                    continue;
                };
                for packet in decode_png(&bytes) {
                    // A refused packet is what a camera pointed at the wrong screen sees:
                    // skip it and keep looking.
                    if let Ok(Some(message)) = decoder.push(&packet) {
                        self.received = seq;
                        return Ok(message);
                    }
                }
            }
            if start.elapsed() >= self.timeout {
                return Err(TransportError::Timeout(self.timeout));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Reads a frame file, or `None` if it is over [`MAX_FILE_LEN`], not a regular file,
/// vanished, or unreadable: to a camera an image it cannot read is a missed frame, and a
/// stray file must not end the session. (Listing the directory can still fail `recv`.)
fn read_capped(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_LEN {
        return None;
    }
    let mut bytes = Vec::new();
    // `take` guards against a file that grew after the size check.
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_FILE_LEN).then_some(bytes)
}
