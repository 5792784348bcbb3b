//! A serial cable (or any terminal device): opened raw, so no byte is translated, echoed or
//! swallowed, then carried as COBS packets under the chunked layer, which detects corrupted
//! bytes (CRC-32) and retransmits (PROTOCOL.md §13.4).

use crate::chunked::{ChunkOptions, ChunkedLink};
use crate::packet::StreamPackets;
use crate::TransportError;
use std::fs::File;
use std::io;
use std::path::Path;

/// The packet size used on a serial line.
pub const SERIAL_MTU: usize = 512;

/// A link over a serial line.
pub type SerialLink = ChunkedLink<StreamPackets>;

/// Opens the terminal device at `path` in raw mode (8 data bits, no parity, no flow
/// control, no echo), at `baud` if given (else the device's current speed).
pub fn open_raw(path: &Path, baud: Option<u32>) -> Result<File, TransportError> {
    use rustix::fs::{Mode, OFlags};
    use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io::Error::other(format!("cannot open {}: {e}", path.display())))?;
    let mut t = tcgetattr(&fd).map_err(|e| {
        io::Error::other(format!(
            "{} is not a serial or terminal device ({e})",
            path.display()
        ))
    })?;
    t.make_raw();
    if let Some(b) = baud {
        t.set_speed(b)
            .map_err(|e| io::Error::other(format!("the device refuses {b} baud: {e}")))?;
    }
    tcsetattr(&fd, OptionalActions::Now, &t).map_err(io::Error::from)?;
    Ok(File::from(fd))
}

fn link(file: File, dial: bool, opts: ChunkOptions) -> Result<SerialLink, TransportError> {
    let reader = file.try_clone()?;
    let packets = StreamPackets::new(reader, file, SERIAL_MTU);
    if dial {
        ChunkedLink::dial(packets, opts)
    } else {
        ChunkedLink::accept(packets, opts)
    }
}

/// The paying side (dialer) over the serial device at `path`.
pub fn serial_dial(
    path: &Path,
    baud: Option<u32>,
    opts: ChunkOptions,
) -> Result<SerialLink, TransportError> {
    link(open_raw(path, baud)?, true, opts)
}

/// The paid side (listener) over the serial device at `path`.
pub fn serial_accept(
    path: &Path,
    baud: Option<u32>,
    opts: ChunkOptions,
) -> Result<SerialLink, TransportError> {
    link(open_raw(path, baud)?, false, opts)
}

/// A link over an already-open raw stream (tests: one end of a pty pair).
pub fn serial_over(
    file: File,
    dial: bool,
    opts: ChunkOptions,
) -> Result<SerialLink, TransportError> {
    link(file, dial, opts)
}
