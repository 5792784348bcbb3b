//! Crash at every step: a device dies (its in-memory state is dropped, only what its store
//! committed survives) at every point of a two-transfer session — before or after handling
//! each message, and inside every store write (before it reaches the disk, or after it is
//! durable but before the process learns so). After a restart and one clean session, value
//! is conserved, nothing is lost or counted twice, and every receipt verifies.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::Session;
use dsm_wallet::store::{CrashPoint, CrashingStore, MemoryStore};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};

const SUPPLY: u128 = 1000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Payer,
    Payee,
}

#[derive(Clone, Copy, Debug)]
enum When {
    /// The side dies before handling the `n`th message addressed to it.
    BeforeHandling(usize),
    /// The side handles the `n`th message, commits, and dies before sending its answer.
    AfterHandling(usize),
}

/// Drives both sessions message by message; returns false once no crash point was reached
/// (the whole session ran clean).
fn run_crashing(side: Side, when: When, limit: Option<u128>) -> bool {
    let (mut a, sa) = memory_wallet(SUPPLY);
    let (mut b, sb) = memory_wallet(0);
    b.set_max_incoming(limit.map(Amount));
    let mut d = Session::dialer(
        b.device_id(),
        vec![
            (token(DEFAULT_TOKEN), Amount(100)),
            (token(DEFAULT_TOKEN), Amount(50)),
        ],
    );
    let mut l = Session::listener();
    let mut to_l: Vec<SessionMessage> = d.start(&mut a).unwrap().iter().map(wire).collect();
    let mut to_d: Vec<SessionMessage> = Vec::new();
    let (mut n_a, mut n_b) = (0usize, 0usize);
    let mut crashed = false;
    'outer: while !(to_l.is_empty() && to_d.is_empty()) {
        for m in std::mem::take(&mut to_l) {
            if side == Side::Payee && matches!(when, When::BeforeHandling(k) if k == n_b) {
                crashed = true;
                break 'outer;
            }
            let out = l.handle(m, &mut b).unwrap_or_default();
            if side == Side::Payee && matches!(when, When::AfterHandling(k) if k == n_b) {
                crashed = true;
                break 'outer;
            }
            n_b += 1;
            to_d.extend(out.iter().map(wire));
        }
        for m in std::mem::take(&mut to_d) {
            if side == Side::Payer && matches!(when, When::BeforeHandling(k) if k == n_a) {
                crashed = true;
                break 'outer;
            }
            let out = d.handle(m, &mut a).unwrap_or_default();
            if side == Side::Payer && matches!(when, When::AfterHandling(k) if k == n_a) {
                crashed = true;
                break 'outer;
            }
            n_a += 1;
            to_l.extend(out.iter().map(wire));
        }
    }
    // Restart both from their stores (the survivor's session is gone too: its peer vanished).
    drop((a, b, d, l));
    let (mut a, mut b) = (reopen(&sa), reopen(&sb));
    let (r1, r2) = session(&mut a, &mut b, &[]);
    assert!(
        r1.error.is_none() && r2.error.is_none(),
        "{side:?} {when:?}: recovery failed: {:?} / {:?}",
        r1.error,
        r2.error
    );
    assert_settled(&a, &b, SUPPLY);
    let debited = SUPPLY - dev(&a);
    assert!(
        [0, 50, 100, 150].contains(&debited),
        "{side:?} {when:?}: debited {debited}"
    );
    crashed
}

#[test]
fn crash_before_and_after_every_message() {
    // Without and with a payee that refuses the first transfer (signed refusal, release).
    for limit in [None, Some(75)] {
        for side in [Side::Payer, Side::Payee] {
            for n in 0.. {
                let before = run_crashing(side, When::BeforeHandling(n), limit);
                let after = run_crashing(side, When::AfterHandling(n), limit);
                if !before && !after {
                    assert!(
                        n >= 2,
                        "{side:?}: the session has at least two messages per side"
                    );
                    break;
                }
            }
        }
    }
}

fn crash_in_write(side: Side, write: usize, point: CrashPoint) -> bool {
    let (a, sa) = memory_wallet(SUPPLY);
    let (b, sb) = memory_wallet(0);
    drop((a, b));
    let fired = std::cell::RefCell::new(None);
    let crashing = |s: &MemoryStore, me: Side| -> Wallet {
        if me == side {
            let store = CrashingStore::new(s.clone(), write, point);
            *fired.borrow_mut() = Some(store.crash_signal());
            Wallet::open(Box::new(store), PASS).unwrap()
        } else {
            reopen(s)
        }
    };
    let (mut a, mut b) = (crashing(&sa, Side::Payer), crashing(&sb, Side::Payee));
    let (ra, rb) = session_with(
        &mut a,
        &mut b,
        &[100, 50],
        std::time::Duration::from_millis(300),
        |l| l,
        |l| l,
    );
    // Whether the crash really landed (not any session error, not a timeout).
    let hit = fired
        .borrow()
        .as_ref()
        .expect("one side crashes")
        .load(std::sync::atomic::Ordering::SeqCst);
    if hit {
        assert!(
            ra.error.is_some() || rb.error.is_some(),
            "{side:?} write {write} {point:?}: a crash that no session noticed"
        );
    }
    drop((a, b));
    let (mut a, mut b) = (reopen(&sa), reopen(&sb));
    let (r1, r2) = session(&mut a, &mut b, &[]);
    assert!(
        r1.error.is_none() && r2.error.is_none(),
        "{side:?} write {write} {point:?}: recovery failed: {:?} / {:?}",
        r1.error,
        r2.error
    );
    assert_settled(&a, &b, SUPPLY);
    hit
}

#[test]
fn crash_inside_every_store_write() {
    for side in [Side::Payer, Side::Payee] {
        for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
            // Crash at write 0, 1, 2, … until a session makes fewer writes than that: every
            // write the session makes is a crash point, however many there are.
            let mut hits = 0;
            for write in 0.. {
                if !crash_in_write(side, write, point) {
                    break;
                }
                hits += 1;
            }
            // Payer: 2 debits + 2 stitches; payee: 2 credits.
            let least = if side == Side::Payer { 4 } else { 2 };
            assert!(
                hits >= least,
                "{side:?} {point:?}: only {hits} writes crashed"
            );
        }
    }
}

/// A restart must never re-sign: after a crash right after the debit, the proposal the
/// payer offers again is byte-identical to the one it committed.
#[test]
fn restart_reoffers_the_identical_proposal() {
    let (mut a, sa) = memory_wallet(SUPPLY);
    let (b, _) = memory_wallet(0);
    let mut d = Session::dialer(b.device_id(), vec![(token(DEFAULT_TOKEN), Amount(7))]);
    let _hello = d.start(&mut a).unwrap();
    let committed = a.pending().unwrap();
    assert!(committed.is_empty());
    // Let the payer get as far as committing its proposal, via a listener hello.
    let mut l = Session::listener();
    let mut b = b;
    let out = l.handle(wire(&_hello[0]), &mut b).unwrap();
    let sent = d.handle(wire(&out[0]), &mut a).unwrap();
    let SessionMessage::Proposal(p) = &sent[0] else {
        panic!("expected a proposal, got {}", sent[0].name())
    };
    drop((a, d));
    let mut a = reopen(&sa);
    assert_eq!(a.pending().unwrap(), vec![p.signed.clone()]);
    let mut d2 = Session::dialer(b.device_id(), vec![]);
    let hello = d2.start(&mut a).unwrap();
    let SessionMessage::Hello(h) = &hello[0] else {
        panic!()
    };
    assert_eq!(h.pending.as_ref(), Some(&**p));
}
