//! Packets, QR images and the directory link, including lost frames and hostile input.

use dsm_qr::*;
use dsm_transport::{Link, TransportError, MAX_FRAME_LEN};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Deterministic pseudo-randomness (xorshift64), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

const SESSION: SessionId = SessionId([1, 2, 3, 4, 5, 6, 7, 8]);
const RECEIPT: usize = 36 * 1024;

/// Feeds packets until the message comes out; checks it comes out exactly once.
fn decode_all(decoder: &mut MessageDecoder, packets: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut out = None;
    for p in packets {
        if let Some(m) = decoder.push(p).expect("a valid packet is accepted") {
            assert!(out.is_none(), "the message is returned once");
            out = Some(m);
        }
    }
    out
}

#[test]
fn fountain_round_trip_survives_shuffle_duplicates_and_20_percent_loss() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for size in [0, 1, 1024, RECEIPT] {
        let message = rng.bytes(size);
        let mut packets = encode_packets(
            SESSION,
            Direction::DialerToListener,
            1,
            &message,
            DEFAULT_SYMBOL_SIZE,
            DEFAULT_REPAIR_PERCENT,
        )
        .unwrap();
        let k = size.max(1).div_ceil(DEFAULT_SYMBOL_SIZE as usize);
        let repair = (k * DEFAULT_REPAIR_PERCENT as usize).div_ceil(100).max(1);
        assert_eq!(packets.len(), k + repair, "size {size}");
        rng.shuffle(&mut packets);
        let dropped = packets.len() / 5;
        packets.drain(..dropped);
        // A camera sees some frames several times.
        let again: Vec<Vec<u8>> = packets.iter().step_by(3).cloned().collect();
        packets.extend(again);
        rng.shuffle(&mut packets);
        let mut d = MessageDecoder::new(SESSION, Direction::DialerToListener, 1);
        assert_eq!(
            decode_all(&mut d, &packets).as_deref(),
            Some(&message[..]),
            "size {size}"
        );
        assert!(d.is_complete());
    }
}

#[test]
fn any_single_packet_carries_a_one_byte_message() {
    let packets = encode_packets(SESSION, Direction::ListenerToDialer, 7, b"x", 400, 50).unwrap();
    assert_eq!(packets.len(), 2, "one source and one repair packet");
    for p in &packets {
        let mut d = MessageDecoder::new(SESSION, Direction::ListenerToDialer, 7);
        assert_eq!(d.push(p).unwrap().as_deref(), Some(&b"x"[..]));
    }
}

#[test]
fn packet_layout_is_as_documented() {
    let packets = encode_packets(
        SESSION,
        Direction::ListenerToDialer,
        0x0102_0304,
        b"hello",
        8,
        50,
    )
    .unwrap();
    let p = &packets[0];
    assert_eq!(p.len(), HEADER_LEN + PAYLOAD_ID_LEN + 8);
    assert_eq!(&p[0..2], b"DQ");
    assert_eq!(p[2], 1);
    assert_eq!(&p[3..11], &SESSION.0);
    assert_eq!(p[11], 1);
    assert_eq!(&p[12..16], &[1, 2, 3, 4]);
    assert_eq!(&p[16..20], &[0, 0, 0, 5]);
    assert_eq!(&p[20..22], &[0, 8]);
    assert_eq!(&p[22..26], &[0, 0, 0, 0], "block 0, symbol 0");
    assert_eq!(
        &p[26..31],
        b"hello",
        "source symbols are the message itself"
    );
    assert_eq!(
        &packets[1][22..26],
        &[0, 0, 0, 1],
        "the repair symbol follows"
    );
    let h = PacketHeader::parse(p).unwrap();
    assert_eq!(
        h,
        PacketHeader {
            session: SESSION,
            direction: Direction::ListenerToDialer,
            seq: 0x0102_0304,
            message_len: 5,
            symbol_size: 8,
        }
    );
}

#[test]
fn encode_packets_refuses_bad_arguments() {
    let big = vec![0u8; MAX_FRAME_LEN + 1];
    let d = Direction::DialerToListener;
    assert!(matches!(
        encode_packets(SESSION, d, 1, &big, 400, 50),
        Err(TransportError::TooLarge(n)) if n == MAX_FRAME_LEN + 1
    ));
    // The largest message is fine. (Largest symbols keep K small: raptorq's debug-build
    // self-checks make big K very slow in test builds, not in release.)
    let max = vec![7u8; MAX_FRAME_LEN];
    assert_eq!(
        encode_packets(SESSION, d, 1, &max, MAX_SYMBOL_SIZE, 0)
            .unwrap()
            .len(),
        256 + 1
    );
    for (seq, symbol, repair, size) in [
        (0, 400, 50, 1),
        (1, 0, 50, 1),
        (1, MAX_SYMBOL_SIZE + 1, 50, 1),
        (1, 400, MAX_REPAIR_PERCENT + 1, 1),
        (1, 1, 50, MAX_SOURCE_SYMBOLS as usize + 1),
    ] {
        assert!(
            matches!(
                encode_packets(SESSION, d, seq, &vec![0; size], symbol, repair),
                Err(TransportError::Io(_))
            ),
            "seq {seq} symbol {symbol} repair {repair} size {size}"
        );
    }
}

fn with(packet: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    p[at..at + bytes.len()].copy_from_slice(bytes);
    p
}

#[test]
fn decoder_refuses_bad_packets_with_typed_errors() {
    let dir = Direction::DialerToListener;
    let packets = encode_packets(SESSION, dir, 3, &[5u8; 1000], 100, 50).unwrap();
    let p = &packets[0];
    let mut d = MessageDecoder::new(SESSION, dir, 3);
    let cases: Vec<(Vec<u8>, PacketError)> = vec![
        (p[..25].to_vec(), PacketError::TooShort(25)),
        (with(p, 0, b"QD"), PacketError::BadMagic),
        (with(p, 2, &[2]), PacketError::Version(2)),
        (
            with(p, 3, &[9; 8]),
            PacketError::WrongSession(SessionId([9; 8])),
        ),
        (
            with(p, 11, &[1]),
            PacketError::WrongDirection(Direction::ListenerToDialer),
        ),
        (with(p, 11, &[7]), PacketError::BadDirection(7)),
        (
            with(p, 12, &4u32.to_be_bytes()),
            PacketError::WrongSeq {
                expected: 3,
                got: 4,
            },
        ),
        (
            with(p, 16, &u32::MAX.to_be_bytes()),
            PacketError::TooLarge(u32::MAX as usize),
        ),
        (
            with(p, 16, &((MAX_FRAME_LEN + 1) as u32).to_be_bytes()),
            PacketError::TooLarge(MAX_FRAME_LEN + 1),
        ),
        (with(p, 20, &[0, 0]), PacketError::BadSymbolSize(0)),
        (
            with(p, 20, &2049u16.to_be_bytes()),
            PacketError::BadSymbolSize(2049),
        ),
        (
            with(
                &with(p, 16, &(MAX_FRAME_LEN as u32).to_be_bytes()),
                20,
                &50u16.to_be_bytes(),
            ),
            PacketError::TooManySymbols(10486),
        ),
        (
            p[..p.len() - 1].to_vec(),
            PacketError::BadSymbolLength {
                expected: 100,
                got: 99,
            },
        ),
        (
            [p.as_slice(), &[0]].concat(),
            PacketError::BadSymbolLength {
                expected: 100,
                got: 101,
            },
        ),
        (with(p, 22, &[1]), PacketError::BadSourceBlock(1)),
    ];
    for (bad, err) in &cases {
        assert_eq!(d.push(bad).unwrap_err(), *err);
    }
    assert_eq!(d.packets_accepted(), 0, "refused packets leave no trace");

    // Once the first packet fixed length and symbol size, others must agree.
    assert_eq!(d.push(p).unwrap(), None);
    assert_eq!(d.push(p).unwrap(), None, "a duplicate is ignored");
    assert_eq!(d.packets_accepted(), 1);
    let other_len = with(&packets[1], 16, &999u32.to_be_bytes());
    assert_eq!(d.push(&other_len).unwrap_err(), PacketError::Mismatch);
    let other_symbol = encode_packets(SESSION, dir, 3, &[5u8; 1000], 50, 50).unwrap();
    assert_eq!(d.push(&other_symbol[1]).unwrap_err(), PacketError::Mismatch);
    assert_eq!(d.packets_accepted(), 1);

    // The rest still decode, and later packets are then just ignored.
    assert_eq!(
        decode_all(&mut d, &packets[1..]).as_deref(),
        Some(&[5u8; 1000][..])
    );
    assert_eq!(d.push(&packets[2]).unwrap(), None);

    let t: TransportError = PacketError::TooLarge(9).into();
    assert!(matches!(t, TransportError::TooLarge(9)));
}

#[test]
fn decoder_never_panics_on_arbitrary_bytes() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let dir = Direction::DialerToListener;
    let mut d = MessageDecoder::new(SESSION, dir, 1);
    for _ in 0..2000 {
        let len = rng.below(2000);
        let junk = rng.bytes(len);
        let _ = d.push(&junk);
        let _ = PacketHeader::parse(&junk);
    }
    // Every truncation of valid packets, small and large symbols.
    // (At most ~100 source symbols each: large K is slow under raptorq's debug checks.)
    for (len, symbol) in [(100, 1u16), (3000, 400), (3000, MAX_SYMBOL_SIZE)] {
        let packets = encode_packets(SESSION, dir, 1, &rng.bytes(len), symbol, 10).unwrap();
        for p in packets.iter().take(3) {
            let mut d = MessageDecoder::new(SESSION, dir, 1);
            for n in 0..p.len() {
                let e = format!("{:?}", d.push(&p[..n]).unwrap_err());
                assert!(
                    e.starts_with("TooShort(") || e.starts_with("BadSymbolLength {"),
                    "{e}"
                );
            }
        }
    }
    // Valid headers with random symbol ids and random symbols reach raptorq itself; it
    // must neither panic nor hang, whatever it makes of them.
    for (len, symbol) in [(1u32, 1u16), (100, 7), (3000, 64), (20_000, 2048), (300, 1)] {
        let mut d = MessageDecoder::new(SESSION, dir, 1);
        let k = (len as usize).div_ceil(symbol as usize);
        for _ in 0..k + 20 {
            let mut p = Vec::new();
            p.extend_from_slice(b"DQ\x01");
            p.extend_from_slice(&SESSION.0);
            p.push(0);
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&symbol.to_be_bytes());
            let esi = (rng.next() as u32) & 0x00ff_ffff;
            let esi = if rng.below(2) == 0 {
                esi % (k as u32 * 2)
            } else {
                esi
            };
            p.push(0);
            p.extend_from_slice(&esi.to_be_bytes()[1..]);
            p.extend_from_slice(&rng.bytes(symbol as usize));
            let _ = d.push(&p).expect("a well-formed packet is accepted");
            if d.is_complete() {
                break;
            }
        }
    }
}

#[test]
fn png_round_trip_keeps_every_byte() {
    let mut rng = Rng(42);
    let real = encode_packets(
        SESSION,
        Direction::DialerToListener,
        1,
        &rng.bytes(5000),
        400,
        50,
    )
    .unwrap();
    let every_byte: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let largest = rng.bytes(HEADER_LEN + PAYLOAD_ID_LEN + MAX_SYMBOL_SIZE as usize);
    let inputs: Vec<(Vec<u8>, u32)> = vec![
        (real[0].clone(), DEFAULT_SCALE),
        (real[real.len() - 1].clone(), 2),
        (every_byte, 3),
        (vec![0x00; 300], 2),
        (vec![0xff; 300], 2),
        (b"DQ".to_vec(), 1),
        (largest, 3),
    ];
    for (packet, scale) in inputs {
        let png = render_png(&packet, scale).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            decode_png(&png),
            vec![packet.clone()],
            "{} bytes at scale {scale}",
            packet.len()
        );
    }
    assert_eq!(
        format!("{:?}", render_png(b"x", 0).unwrap_err()),
        "Io(Custom { kind: InvalidInput, error: \"scale must be at least 1\" })"
    );
    assert!(
        render_png(&vec![0; 3000], 2)
            .unwrap_err()
            .to_string()
            .contains("3000 bytes do not fit one QR code at ECC level M"),
        "over any QR capacity"
    );
    assert!(
        render_png(&vec![0; 2000], 30)
            .unwrap_err()
            .to_string()
            .contains("a 5310-pixel image is over the 4096-pixel cap; lower the scale"),
        "over the image cap"
    );
}

/// A real PNG of the given grayscale pixels.
fn gray_png(w: u32, h: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(pixels).unwrap();
    wr.finish().unwrap();
    out
}

#[test]
fn decode_png_ignores_garbage() {
    let mut rng = Rng(7);
    assert!(decode_png(b"").is_empty());
    assert!(decode_png(b"not a png at all").is_empty());
    assert!(decode_png(&rng.bytes(10_000)).is_empty());
    let noise = gray_png(300, 200, &rng.bytes(300 * 200));
    assert!(decode_png(&noise).is_empty());
    let white = gray_png(64, 64, &[255; 64 * 64]);
    assert!(decode_png(&white).is_empty());
    // Every truncation of a real QR PNG fails softly: nothing, or (when only the trailing
    // chunks are cut and the image itself is whole) exactly the code.
    let png = render_png(b"truncate me", 2).unwrap();
    let mut whole = 0;
    for n in 0..png.len() {
        match decode_png(&png[..n]).as_slice() {
            [] => {}
            [one] if one == b"truncate me" => whole += 1,
            other => panic!("{n}-byte prefix decoded to {other:?}"),
        }
    }
    assert!(
        whole < 20,
        "only cuts into the trailing chunks still decode"
    );
    // A header claiming a huge image is refused before the pixels are allocated: only the
    // signature and IHDR are here, so a decoder that trusted it would fail differently.
    let mut huge = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut huge, 100_000, 100_000);
        enc.set_color(png::ColorType::Grayscale);
        let w = enc.write_header().unwrap();
        drop(w);
    }
    assert!(decode_png(&huge).is_empty());
    // Colour and alpha images are read too (transparent over white).
    let packet = b"\x00\xffcolour".to_vec();
    let gray = render_png(&packet, 2).unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(&gray));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let rgba: Vec<u8> = buf
        .iter()
        .flat_map(|&g| if g == 0 { [0, 0, 0, 255] } else { [0, 0, 0, 0] })
        .collect();
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, info.width, info.height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(&rgba).unwrap();
    wr.finish().unwrap();
    assert_eq!(decode_png(&out), vec![packet]);
}

#[test]
fn terminal_frames_are_half_block_qr_codes() {
    let packet = vec![0xabu8; HEADER_LEN + PAYLOAD_ID_LEN + DEFAULT_SYMBOL_SIZE as usize];
    let s = render_terminal(&packet);
    let lines: Vec<&str> = s.lines().collect();
    // Version 16: 81 modules plus a 4-module quiet zone each side, two rows per line.
    let side = 81 + 2 * QUIET_ZONE;
    assert_eq!(lines.len(), side.div_ceil(2));
    assert!(lines.iter().all(|l| l.chars().count() == side));
    assert!(s.chars().all(|c| " \u{2580}\u{2584}\u{2588}\n".contains(c)));
    assert!(render_terminal(&vec![0; 5000]).is_empty());
}

fn frame_number(path: &Path) -> usize {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.trim_end_matches(".png")
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Misses every 5th frame (by frame number, so the choice does not depend on timing).
fn every_fifth(missed: Arc<AtomicUsize>) -> QrOptions {
    QrOptions {
        scale: 2,
        camera_miss: Some(Box::new(move |p: &Path| {
            let miss = frame_number(p) % 5 == 4;
            if miss {
                missed.fetch_add(1, Ordering::SeqCst);
            }
            miss
        })),
        ..QrOptions::default()
    }
}

#[test]
fn qr_dir_link_round_trips_with_a_fifth_of_frames_missed() {
    let root = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(30);
    let missed_by_listener = Arc::new(AtomicUsize::new(0));
    let missed_by_dialer = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng(99);
    let requests: Vec<Vec<u8>> = [1, 1024, RECEIPT].iter().map(|&n| rng.bytes(n)).collect();
    let replies: Vec<Vec<u8>> = [RECEIPT, 17, 5000].iter().map(|&n| rng.bytes(n)).collect();

    let started = Instant::now();
    let listener = {
        let root = root.path().to_path_buf();
        let (requests, replies) = (requests.clone(), replies.clone());
        let opts = every_fifth(missed_by_listener.clone());
        std::thread::spawn(move || {
            let mut l = QrDirLink::accept(&root, timeout, opts).unwrap();
            for (req, reply) in requests.iter().zip(&replies) {
                assert_eq!(&l.recv().unwrap(), req);
                l.send(reply).unwrap();
            }
            l.session()
        })
    };
    let mut d =
        QrDirLink::dial(root.path(), timeout, every_fifth(missed_by_dialer.clone())).unwrap();
    for (req, reply) in requests.iter().zip(&replies) {
        d.send(req).unwrap();
        assert_eq!(&d.recv().unwrap(), reply);
    }
    assert_eq!(listener.join().unwrap(), d.session());
    eprintln!("3 QR round trips took {:?}", started.elapsed());
    assert!(missed_by_listener.load(Ordering::SeqCst) >= 20);
    assert!(missed_by_dialer.load(Ordering::SeqCst) >= 20);
    assert!(d
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .ends_with(&d.session().to_hex()));
    assert!(
        matches!(
            QrDirLink::accept(root.path(), Duration::from_millis(50), QrOptions::default()),
            Err(TransportError::Timeout(_))
        ),
        "a claimed session is not handed out twice"
    );
}

#[test]
fn stray_files_and_foreign_sessions_are_ignored() {
    let root = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(10);
    let seen: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let record = |seen: Arc<Mutex<Vec<PathBuf>>>| QrOptions {
        scale: 2,
        camera_miss: Some(Box::new(move |p: &Path| {
            seen.lock().unwrap().push(p.to_path_buf());
            false
        })),
        ..QrOptions::default()
    };
    let mut d = QrDirLink::dial(root.path(), timeout, QrOptions::default()).unwrap();
    let mut l = QrDirLink::accept(root.path(), timeout, record(seen.clone())).unwrap();
    // Another, unclaimed session next door with a complete message of its own.
    let mut other = QrDirLink::dial(root.path(), timeout, QrOptions::default()).unwrap();
    other.send(b"from the session next door").unwrap();

    // Strays in our own directory, named so the listener reads them before real frames.
    let mut rng = Rng(5);
    let dir = d.path().to_path_buf();
    std::fs::write(dir.join("d-000001-0-text.png"), b"not a png").unwrap();
    std::fs::write(
        dir.join("d-000001-0-noise.png"),
        gray_png(120, 120, &rng.bytes(14_400)),
    )
    .unwrap();
    let foreign = encode_packets(
        SessionId([0xee; 8]),
        Direction::DialerToListener,
        1,
        b"forged",
        400,
        50,
    )
    .unwrap();
    std::fs::write(
        dir.join("d-000001-0-foreign.png"),
        render_png(&foreign[0], 2).unwrap(),
    )
    .unwrap();
    // Our session, but the listener's own direction: an echo of its screen.
    let echo = encode_packets(
        d.session(),
        Direction::ListenerToDialer,
        1,
        b"echo",
        400,
        50,
    )
    .unwrap();
    std::fs::write(
        dir.join("d-000001-0-echo.png"),
        render_png(&echo[0], 2).unwrap(),
    )
    .unwrap();
    std::fs::create_dir(dir.join("d-000001-0-dir.png")).unwrap();

    d.send(b"the real message").unwrap();
    assert_eq!(l.recv().unwrap(), b"the real message");
    let seen = seen.lock().unwrap().clone();
    for stray in ["text", "noise", "foreign", "echo", "dir"] {
        assert!(
            seen.contains(&dir.join(format!("d-000001-0-{stray}.png"))),
            "{stray} was looked at (and ignored)"
        );
    }
    assert!(seen.iter().all(|p| p.parent() == Some(dir.as_path())));

    l.send(b"reply").unwrap();
    assert_eq!(d.recv().unwrap(), b"reply");
    // The session next door is still there for its own listener.
    let mut quick = QrDirLink::accept(root.path(), timeout, QrOptions::default()).unwrap();
    assert_eq!(quick.session(), other.session());
    assert_eq!(quick.recv().unwrap(), b"from the session next door");
    // Nothing arrives in a fresh session: recv times out.
    let mut impatient =
        QrDirLink::dial(root.path(), Duration::from_millis(50), QrOptions::default()).unwrap();
    assert!(matches!(impatient.recv(), Err(TransportError::Timeout(_))));
}

#[test]
fn bad_options_fail_at_setup() {
    let root = tempfile::tempdir().unwrap();
    let t = Duration::from_millis(10);
    for opts in [
        QrOptions {
            symbol_size: 0,
            ..QrOptions::default()
        },
        QrOptions {
            symbol_size: MAX_SYMBOL_SIZE + 1,
            ..QrOptions::default()
        },
        QrOptions {
            repair_percent: MAX_REPAIR_PERCENT + 1,
            ..QrOptions::default()
        },
        QrOptions {
            scale: 0,
            ..QrOptions::default()
        },
        QrOptions {
            scale: 100,
            ..QrOptions::default()
        },
    ] {
        assert!(matches!(
            QrDirLink::dial(root.path(), t, opts),
            Err(TransportError::Io(_))
        ),);
    }
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    assert!(format!("{:?}", QrOptions::default()).contains("symbol_size: 400"));
}

/// However many distinct forged packets arrive for one message, the decoder keeps a
/// bounded number: it either completes (and drops its state) or refuses the excess.
#[test]
fn distinct_packets_per_message_are_bounded() {
    let session = SessionId([7; 8]);
    let message = vec![1u8; 4000]; // K = 10 at symbol size 400
    let real = encode_packets(session, Direction::DialerToListener, 1, &message, 400, 0).unwrap();
    let mut d = MessageDecoder::new(session, Direction::DialerToListener, 1);
    let mut x: u32 = 0x1234_5678;
    for esi in 10_000..11_000u32 {
        let mut p = real[0].clone();
        p[23..26].copy_from_slice(&esi.to_be_bytes()[1..]);
        for b in p[26..].iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let r = d.push(&p);
        assert!(d.packets_accepted() <= 10 * 11 + 16, "{r:?}");
        if d.is_complete() {
            break;
        }
    }
    assert!(d.is_complete() || d.packets_accepted() <= 10 * 11 + 16);
}
