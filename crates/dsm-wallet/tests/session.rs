//! The bilateral session between two wallets, end to end in memory.

mod common;
use common::*;
use dsm_protocol::session::SessionError;
use dsm_wallet::driver::RunError;
use dsm_wallet::EntryKind;

#[test]
fn one_transfer_then_back() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    let (ra, rb) = session(&mut a, &mut b, &[250]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert!(rb.error.is_none(), "{:?}", rb.error);
    assert_eq!((dev(&a), dev(&b)), (750, 250));
    assert_eq!(ra.completed.len(), 1);
    assert!(ra.completed[0].outgoing && !rb.completed[0].outgoing);
    assert_eq!(ra.completed[0].receipt, rb.completed[0].receipt);
    let (ra, _) = session(&mut b, &mut a, &[50, 25]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_eq!((dev(&a), dev(&b)), (825, 175));
    assert_settled(&a, &b, 1000);
    let kinds: Vec<EntryKind> = a.history().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EntryKind::DevFaucet,
            EntryKind::Sent,
            EntryKind::Received,
            EntryKind::Received
        ]
    );
}

#[test]
fn insufficient_funds_is_refused_before_signing() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let (ra, _) = session(&mut a, &mut b, &[11]);
    assert!(
        matches!(ra.error, Some(RunError::Session(SessionError::Build(_)))),
        "{:?}",
        ra.error
    );
    assert_eq!(ra.remaining, 1);
    assert!(a.pending().unwrap().is_empty());
    assert_settled(&a, &b, 10);
}

#[test]
fn wrong_peer_is_refused() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let (c, _) = memory_wallet(0);
    // a dials expecting c, but b answers.
    let (ta, tb) = dsm_transport::memory_pair(std::time::Duration::from_secs(5));
    let (mut ta, mut tb) = (ta, tb);
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            dsm_wallet::driver::run(
                &mut dsm_protocol::session::Session::listener(),
                &mut b,
                &mut tb,
            )
        });
        let mut d = dsm_protocol::session::Session::dialer(
            c.device_id(),
            vec![(dsm_wallet::token("DEV"), dsm_core::chain::Amount(1))],
        );
        let r = dsm_wallet::driver::run(&mut d, &mut a, &mut ta);
        assert!(r.error.is_some());
        let rb = h.join().unwrap();
        assert!(rb.completed.is_empty());
    });
    assert_eq!(dev(&a), 10);
}

fn drop_frame(
    at: usize,
) -> impl FnOnce(Box<dyn dsm_transport::Link + Send>) -> Box<dyn dsm_transport::Link + Send> {
    move |l| {
        Box::new(dsm_transport::FaultyLink::new(
            l,
            dsm_transport::Fault::Drop,
            at,
        ))
    }
}

#[test]
fn lost_acceptance_locks_only_that_relationship() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    let (mut c, _) = memory_wallet(0);
    let t = std::time::Duration::from_millis(300);
    // b's acceptance (its second frame) is lost: b is credited, a is not yet stitched.
    let (ra, rb) = session_with(&mut a, &mut b, &[100], t, |l| l, drop_frame(1));
    assert!(
        matches!(ra.error, Some(RunError::Transport(_))),
        "{:?}",
        ra.error
    );
    assert!(ra.completed.is_empty());
    assert_eq!(rb.completed.len(), 1, "the receiver committed first");
    assert_eq!(
        (dev(&a), dev(&b)),
        (900, 100),
        "debit and credit are both committed"
    );
    assert_eq!(a.pending().unwrap().len(), 1, "a→b is locked");
    // a's device chain is not blocked: it pays c meanwhile.
    let (ra, _) = session(&mut a, &mut c, &[30]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_eq!(dev(&c), 30);
    // The next session with b delivers the acceptance again (idempotently) and unlocks.
    let (ra, rb) = session(&mut a, &mut b, &[5]);
    assert!(
        ra.error.is_none() && rb.error.is_none(),
        "{:?} {:?}",
        ra.error,
        rb.error
    );
    assert_eq!(ra.completed.len(), 2);
    assert!(ra.completed[0].resumed && !ra.completed[1].resumed);
    assert_eq!(
        rb.completed.len(),
        1,
        "the replayed proposal was answered from storage, not credited twice"
    );
    assert_eq!((dev(&a), dev(&b)), (865, 105));
    assert_settled(&a, &b, 1000 - 30);
}

#[test]
fn lost_proposal_stays_pending_and_is_offered_again() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    let t = std::time::Duration::from_millis(300);
    let (ra, rb) = session_with(&mut a, &mut b, &[100], t, drop_frame(1), |l| l);
    assert!(ra.error.is_some() && rb.error.is_some());
    assert_eq!(
        (dev(&a), dev(&b)),
        (900, 0),
        "in flight: debited, not yet credited"
    );
    // The payee dials the payer this time: the payer's pending proposal travels in its
    // hello and is accepted first; then the payee's own transfer goes through.
    let (rb, ra) = session(&mut b, &mut a, &[40]);
    assert!(
        rb.error.is_none() && ra.error.is_none(),
        "{:?} {:?}",
        rb.error,
        ra.error
    );
    assert_eq!((dev(&a), dev(&b)), (940, 60));
    assert_settled(&a, &b, 1000);
}

#[test]
fn a_relationship_survives_restarts_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| -> Box<dyn dsm_wallet::store::Store> {
        Box::new(dsm_wallet::store::RedbStore::open(&dir.path().join(name)).unwrap())
    };
    let mut a = wallet_on(open("a.redb"), 500);
    let mut b = wallet_on(open("b.redb"), 0);
    session(&mut a, &mut b, &[10, 20]);
    drop((a, b));
    let mut a = dsm_wallet::Wallet::open(open("a.redb"), PASS).unwrap();
    let mut b = dsm_wallet::Wallet::open(open("b.redb"), PASS).unwrap();
    assert_eq!((dev(&a), dev(&b)), (470, 30));
    session(&mut b, &mut a, &[5]);
    assert_settled(&a, &b, 500);
    assert!(matches!(
        dsm_wallet::Wallet::open(open("c.redb"), PASS),
        Err(dsm_wallet::WalletError::NotFound)
    ));
}

/// Software keys cannot stop cloning: a copied wallet pays b while the original pays c
/// from the same head. Both payees accept (offline, each sees a valid transfer); when b and
/// c next meet, gossip carries each one's statement to the other, the Tripwire fires, both
/// store a verifiable proof and refuse the cheater from then on.
#[test]
fn cloned_wallet_double_spend_is_caught_when_the_payees_meet() {
    let (mut m, sm) = memory_wallet(100);
    let mut clone = dsm_wallet::Wallet::open(Box::new(sm.fork()), PASS).unwrap();
    let (mut b, _) = memory_wallet(0);
    let (mut c, _) = memory_wallet(10);
    let (r, _) = session(&mut m, &mut b, &[100]);
    assert!(r.error.is_none());
    let (r, _) = session(&mut clone, &mut c, &[100]);
    assert!(r.error.is_none());
    assert_eq!(
        (dev(&b), dev(&c)),
        (100, 110),
        "offline, each payee was paid"
    );
    assert!(b.evidence().unwrap().is_empty() && c.evidence().unwrap().is_empty());
    // c pays b: the hellos gossip the two conflicting proposals.
    let (rc, rb) = session(&mut c, &mut b, &[1]);
    assert!(
        rc.error.is_none() && rb.error.is_none(),
        "{:?} {:?}",
        rc.error,
        rb.error
    );
    for w in [&b, &c] {
        let ev = w.evidence().unwrap();
        assert_eq!(ev.len(), 1, "each payee holds the proof");
        assert_eq!(ev[0].verify().unwrap().device(), m.device_id());
        assert!(dsm_core::receipt::ChainView::is_equivocator(w, &m.device_id()).unwrap());
    }
    // The cheater is refused from now on, even for a fresh transfer.
    let (rm, _) = session(&mut m, &mut b, &[1]);
    assert!(
        matches!(rm.error, Some(RunError::Session(_))),
        "{:?}",
        rm.error
    );
    // Evidence is self-contained: a third wallet imports it from bytes alone.
    let (mut d, _) = memory_wallet(0);
    let bytes = dsm_core::codec::Canonical::to_bytes(&b.evidence().unwrap()[0]);
    assert_eq!(d.import_evidence(&bytes).unwrap().device(), m.device_id());
}

/// A receiver over its limit answers with a signed refusal: the sender takes the amount
/// back at once, both trees move to the release tip, and the relationship goes on.
#[test]
fn signed_refusal_releases_the_amount_and_the_relationship_goes_on() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    b.set_max_incoming(Some(dsm_core::chain::Amount(50)));
    let (ra, rb) = session(&mut a, &mut b, &[100, 30]);
    assert!(
        ra.error.is_none() && rb.error.is_none(),
        "{:?} {:?}",
        ra.error,
        rb.error
    );
    assert_eq!(ra.refused.len(), 1);
    assert!(ra.refused[0].outgoing && !rb.refused[0].outgoing);
    assert_eq!(ra.completed.len(), 1);
    assert_eq!((dev(&a), dev(&b)), (970, 30));
    assert_settled(&a, &b, 1000);
    let kinds: Vec<EntryKind> = a.history().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EntryKind::DevFaucet,
            EntryKind::Sent,
            EntryKind::Released,
            EntryKind::Sent
        ]
    );
    // The other direction still works on the same relationship.
    let (rb, _) = session(&mut b, &mut a, &[10]);
    assert!(rb.error.is_none());
    assert_settled(&a, &b, 1000);
}

/// The signed refusal is lost: the proposal stays pending, and the next session gets the
/// stored refusal again (idempotently), so the sender releases exactly once.
#[test]
fn lost_signed_refusal_is_delivered_again() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(0);
    b.set_max_incoming(Some(dsm_core::chain::Amount(50)));
    let t = std::time::Duration::from_millis(300);
    let (ra, rb) = session_with(&mut a, &mut b, &[100], t, |l| l, drop_frame(1));
    assert!(ra.error.is_some());
    assert_eq!(rb.refused.len(), 1);
    assert_eq!(dev(&a), 900, "still in flight");
    b.set_max_incoming(None); // the policy changed meanwhile: the stored refusal still stands
    let (ra, _) = session(&mut a, &mut b, &[]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_eq!(ra.refused.len(), 1);
    assert_eq!((dev(&a), dev(&b)), (1000, 0));
    assert_settled(&a, &b, 1000);
}

/// Drives one session synchronously, delivering only the first `deliver_to_listener`
/// frames from the dialer (the rest are lost); everything the listener says is delivered.
fn session_losing_dialer_frames_after(
    payer: &mut dsm_wallet::Wallet,
    payee: &mut dsm_wallet::Wallet,
    amounts: &[u128],
    deliver_to_listener: usize,
) {
    use dsm_protocol::session::Session;
    let mut d = Session::dialer(
        payee.device_id(),
        amounts
            .iter()
            .map(|a| (dsm_wallet::token("DEV"), dsm_core::chain::Amount(*a)))
            .collect(),
    );
    let mut l = Session::listener();
    let mut to_l: Vec<_> = d.start(payer).unwrap();
    let mut delivered = 0;
    while !to_l.is_empty() {
        let mut to_d = Vec::new();
        for m in to_l.drain(..) {
            if delivered < deliver_to_listener {
                delivered += 1;
                to_d.extend(l.handle(wire(&m), payee).unwrap_or_default());
            }
        }
        for m in to_d {
            to_l.extend(d.handle(wire(&m), payer).unwrap_or_default());
        }
    }
}

/// Found in review: a dialer holding a pending proposal must take the answer to it before
/// answering the listener's pending proposal, which may be built on the tip that answer
/// produces. Setup: b's proposal to a was refused (signed) but the refusal was lost; a then
/// proposed on the release tip and that was lost too. Now b dials a.
#[test]
fn crossed_pending_after_a_lost_refusal_resolves_in_one_session() {
    let (mut a, _) = memory_wallet(1000);
    let (mut b, _) = memory_wallet(1000);
    a.set_max_incoming(Some(dsm_core::chain::Amount(50)));
    // b pays a 100; a refuses (signed) but b never hears it.
    let t = std::time::Duration::from_millis(300);
    let (rb, ra) = session_with(&mut b, &mut a, &[100], t, |l| l, drop_frame(1));
    assert!(rb.error.is_some() && ra.refused.len() == 1);
    // a dials b to pay 10: a answers b's pending with its stored refusal and proposes on the
    // release tip; nothing a sends after its hello arrives.
    session_losing_dialer_frames_after(&mut a, &mut b, &[10], 1);
    assert_eq!(a.pending().unwrap().len(), 1);
    assert_eq!(b.pending().unwrap().len(), 1);
    // b dials a: everything resolves.
    let (rb, ra) = session(&mut b, &mut a, &[]);
    assert!(
        rb.error.is_none() && ra.error.is_none(),
        "{:?} / {:?}",
        rb.error,
        ra.error
    );
    assert_eq!((dev(&a), dev(&b)), (990, 1010));
    assert_settled(&a, &b, 2000);
}

/// Found in review: a second successor of a head the receiver already saw, sent straight
/// to it (not through gossip), must become stored evidence, not just a refusal. An honest
/// client would not even send it (the tips differ); a modified one does.
#[test]
fn a_direct_double_spend_to_the_same_receiver_becomes_evidence() {
    use dsm_core::receipt::{propose, LocalDevice};
    use dsm_protocol::message::SessionMessage;
    use dsm_protocol::session::{Ledger, Session};
    let (mut m, sm) = memory_wallet(100);
    let mut clone = dsm_wallet::Wallet::open(Box::new(sm.fork()), PASS).unwrap();
    let (mut b, _) = memory_wallet(0);
    session(&mut m, &mut b, &[60]);
    let hello = Session::dialer(b.device_id(), vec![])
        .start(&mut clone)
        .unwrap();
    let second = {
        let l = LocalDevice {
            identity: clone.identity(),
            key: clone.signing_key(),
            head: Ledger::head(&clone),
            tree: clone.tree(),
        };
        propose(
            &l,
            &b.device_id(),
            dsm_wallet::token("DEV"),
            dsm_core::chain::Amount(70),
            &clone
                .select_inputs(&dsm_wallet::token("DEV"), dsm_core::chain::Amount(70))
                .unwrap(),
            &[9; 32],
        )
        .unwrap()
    };
    let offer = clone.offer_for(&second.signed).unwrap();
    let mut l = Session::listener();
    l.handle(wire(&hello[0]), &mut b).unwrap();
    let answer = l
        .handle(SessionMessage::Proposal(Box::new(offer)), &mut b)
        .unwrap();
    assert!(
        matches!(&answer[0], SessionMessage::Refusal(r) if r.code == dsm_protocol::message::RefusalCode::Equivocator),
        "{}",
        answer[0].name()
    );
    assert_eq!(dev(&b), 60);
    let ev = b.evidence().unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].verify().unwrap().device(), m.device_id());
}

/// Found in review: a receiver that cannot hold a new token (64 already) answers with a
/// signed refusal, so the sender gets its amount back instead of staying locked.
#[test]
fn a_receiver_that_cannot_hold_the_token_refuses_with_a_signature() {
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    for i in 0..dsm_core::chain::MAX_TOKENS {
        b.dev_faucet(&format!("T{i}"), dsm_core::chain::Amount(1))
            .unwrap();
    }
    let (ra, _) = session(&mut a, &mut b, &[5]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_eq!(ra.refused.len(), 1);
    assert_eq!(
        ra.refused[0].refusal.refusal.reason,
        dsm_protocol::session::RefusalReason::CannotHold.code()
    );
    assert_eq!(dev(&a), 100);
    assert!(a.pending().unwrap().is_empty());
}

/// Found in review: after a head-changing write fails (it may or may not be on disk), the
/// wallet signs nothing more until it is reopened from its store.
#[test]
fn a_failed_write_poisons_the_wallet_until_reopened() {
    use dsm_wallet::store::{CrashPoint, CrashingStore};
    let (mut a, _) = memory_wallet(100);
    let (b0, sb) = memory_wallet(0);
    drop(b0);
    let mut b = dsm_wallet::Wallet::open(
        Box::new(CrashingStore::new(sb.clone(), 0, CrashPoint::AfterWrite)),
        PASS,
    )
    .unwrap();
    let (_, rb) = session(&mut a, &mut b, &[5]);
    assert!(rb.error.is_some());
    assert!(b.is_poisoned());
    let (_, rb) = session(&mut a, &mut b, &[]);
    assert!(
        rb.completed.is_empty() && rb.refused.is_empty(),
        "a poisoned wallet signs nothing"
    );
    let mut b = reopen(&sb);
    let (ra, _) = session(&mut a, &mut b, &[]);
    assert!(ra.error.is_none(), "{:?}", ra.error);
    assert_settled(&a, &b, 100);
}

/// A hello does not repeat witnessed proposals to a peer it already sent them to (PROTOCOL.md
/// §12.5); every other peer still gets them, and new ones go to everyone.
#[test]
fn gossip_is_not_repeated_to_the_same_peer() {
    use dsm_protocol::session::Ledger;
    let (mut a, _) = memory_wallet(100);
    let (mut c, _) = memory_wallet(50);
    let (b, _) = memory_wallet(0);
    let (d, _) = memory_wallet(0);
    session(&mut c, &mut a, &[5]);
    let me = a.device_id();
    let first = a.gossip(&[me, b.device_id()], 8).unwrap();
    assert_eq!(first.len(), 1, "a witnessed c's proposal");
    assert!(
        a.gossip(&[me, b.device_id()], 8).unwrap().is_empty(),
        "not sent to b twice"
    );
    assert_eq!(a.gossip(&[me, d.device_id()], 8).unwrap(), first);
    session(&mut c, &mut a, &[6]);
    let next = a.gossip(&[me, b.device_id()], 8).unwrap();
    assert_eq!(next.len(), 1, "only the new one");
    assert_ne!(next, first);
}
