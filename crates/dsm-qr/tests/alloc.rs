//! An oversized length claim is refused before anything is allocated.
//!
//! This binary has its own counting allocator and a single test, so nothing else
//! allocates while it measures.

use dsm_qr::*;
use dsm_transport::MAX_FRAME_LEN;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; it only adds up sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATED.load(Ordering::SeqCst);
    f();
    ALLOCATED.load(Ordering::SeqCst) - before
}

#[test]
fn an_oversized_length_claim_is_refused_without_allocating() {
    let session = SessionId([4; 8]);
    let dir = Direction::DialerToListener;
    let mut packet = encode_packets(session, dir, 1, b"small", 64, 50).unwrap()[0].clone();
    for claim in [MAX_FRAME_LEN as u32 + 1, u32::MAX] {
        packet[16..20].copy_from_slice(&claim.to_be_bytes());
        let mut decoder = MessageDecoder::new(session, dir, 1);
        let mut result = None;
        let bytes = allocated_by(|| result = Some(decoder.push(&packet)));
        assert_eq!(
            result.unwrap().unwrap_err(),
            PacketError::TooLarge(claim as usize)
        );
        assert_eq!(bytes, 0, "claim {claim}: nothing allocated");
        assert_eq!(
            allocated_by(|| {
                let _ = PacketHeader::parse(&packet);
            }),
            0
        );
    }
    // The counter works: accepting a valid packet does allocate (the RaptorQ decoder).
    let valid = encode_packets(session, dir, 1, &[1; 1000], 64, 50).unwrap();
    let mut decoder = MessageDecoder::new(session, dir, 1);
    assert!(allocated_by(|| assert_eq!(decoder.push(&valid[0]), Ok(None))) > 0);
}
