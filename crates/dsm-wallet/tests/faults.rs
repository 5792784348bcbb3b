//! Fault injection on the message stream: every frame either side sends is dropped,
//! duplicated, reordered, truncated or corrupted in turn. Whatever happens, nothing panics,
//! both sessions end, and after one clean follow-up session (which resolves whatever was
//! left pending) value is conserved, the tips agree and every receipt verifies.

mod common;
use common::*;
use dsm_transport::{Fault, FaultyLink, Link};
use std::time::Duration;

const SUPPLY: u128 = 1000;
// Dialer frames: hello, proposal 1, proposal 2, close. Listener: hello, acceptance 1, 2.
const FRAMES: usize = 4;

fn faults() -> Vec<Fault> {
    let mut v = vec![
        Fault::Drop,
        Fault::Duplicate,
        Fault::Reorder,
        Fault::Truncate,
    ];
    for i in [0usize, 5, 97, 1601, 4999, 9001] {
        v.push(Fault::Corrupt(i));
    }
    v
}

fn check(fault: Fault, at: usize, on_dialer: bool, limit: Option<u128>) {
    let (mut a, _) = memory_wallet(SUPPLY);
    let (mut b, _) = memory_wallet(0);
    b.set_max_incoming(limit.map(dsm_core::chain::Amount));
    let wrap = move |l: Box<dyn Link + Send>| -> Box<dyn Link + Send> {
        Box::new(FaultyLink::new(l, fault, at))
    };
    let t = Duration::from_millis(250);
    let (ra, rb) = if on_dialer {
        session_with(&mut a, &mut b, &[100, 50], t, wrap, |l| l)
    } else {
        session_with(&mut a, &mut b, &[100, 50], t, |l| l, wrap)
    };
    // Both ends report; nothing committed is lost.
    let sent: usize = ra.completed.iter().filter(|c| c.outgoing).count();
    let received: usize = rb.completed.iter().filter(|c| !c.outgoing).count();
    assert!(sent <= received, "{fault:?}@{at} dialer={on_dialer}: the sender never stitches what the receiver did not accept");
    // Resolve whatever is pending with one clean session.
    let (r1, r2) = session(&mut a, &mut b, &[]);
    assert!(
        r1.error.is_none() && r2.error.is_none(),
        "{fault:?}@{at} dialer={on_dialer}: recovery failed: {:?} / {:?}",
        r1.error,
        r2.error
    );
    assert_settled(&a, &b, SUPPLY);
    let a_sent: u128 = a
        .history()
        .unwrap()
        .iter()
        .filter(|e| {
            e.kind == dsm_wallet::EntryKind::Sent && e.status == dsm_wallet::LineStatus::Final
        })
        .map(|e| e.amount.unwrap().0)
        .sum();
    assert_eq!(a_sent, SUPPLY - dev(&a));
    assert_eq!(
        dev(&b),
        a_sent,
        "{fault:?}@{at}: exactly what was debited was credited"
    );
}

#[test]
fn every_fault_on_every_dialer_frame() {
    for fault in faults() {
        for at in 0..FRAMES {
            check(fault, at, true, None);
        }
    }
}

#[test]
fn every_fault_on_every_listener_frame() {
    for fault in faults() {
        for at in 0..FRAMES {
            check(fault, at, false, None);
        }
    }
}

/// The same, with a payee that refuses the first transfer (100 > its limit of 75) with a
/// signed refusal and accepts the second.
#[test]
fn every_fault_on_every_frame_with_a_signed_refusal() {
    for fault in faults() {
        for at in 0..FRAMES {
            check(fault, at, true, Some(75));
            check(fault, at, false, Some(75));
        }
    }
}
