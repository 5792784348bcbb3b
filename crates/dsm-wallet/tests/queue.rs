//! A sender's queue of online transfers to one receiver (PROTOCOL.md §7.7, §16.2), through
//! real wallets, nodes and sessions: up to `MAX_QUEUE` transfers wait for one receiver, each
//! built on the one before; the receiver takes them all in one sync; a refusal releases the
//! refused transfer and every one queued after it, whatever the receiver did meanwhile; an
//! offline session resolves the whole queue; and crossings clear with queues on both sides.
//! Nothing stays pending, value is conserved and both relationship tips agree.

mod common;

use common::cluster::Cluster;
use common::{assert_settled, dev, memory_wallet, session, tip};
use dsm_core::chain::Amount;
use dsm_core::receipt::MAX_QUEUE;
use dsm_protocol::mailbox::{take_answer, Taken};
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::{Ledger, RefusalReason, SessionError};
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync, OnlineError};
use dsm_wallet::wallet::ReceivePolicy;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};

/// `from` pays `to` `amount` online; the signed proposal.
fn pay(
    from: &mut Wallet,
    nodes: &NodeSet,
    to: &Wallet,
    amount: u128,
) -> dsm_core::receipt::SignedProposal {
    common::pay_online(from, nodes, to, amount)
        .unwrap()
        .proposal
}

fn limit(w: &mut Wallet, per_transfer: u128) {
    w.set_receive_policy(ReceivePolicy {
        max_per_transfer: Some(Amount(per_transfer)),
        max_unsettled_per_counterparty: None,
        max_unsettled_total: None,
    })
    .unwrap();
}

#[test]
fn a_queue_of_max_queue_transfers_is_taken_in_one_sync() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let mut queue = Vec::new();
    for amount in 1..=MAX_QUEUE as u128 {
        queue.push(pay(&mut a, &nodes, &b, amount));
    }
    for pair in queue.windows(2) {
        assert_eq!(
            pair[1].proposal.step.parent_tip,
            pair[0].proposal.step.child_tip(),
            "each is built on the one before"
        );
    }
    // One more to the same receiver is refused, changing nothing.
    common::introduce(&mut a, &b);
    let err = send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(1),
    )
    .unwrap_err();
    assert!(
        matches!(err, OnlineError::Session(SessionError::QueueFull(d, n)) if d == b.device_id() && n == MAX_QUEUE),
        "{err}"
    );
    assert_eq!(dev(&a), 90);
    assert_eq!(a.pending().unwrap(), queue, "the queue, oldest first");
    // The receiver takes all of them in one sync, the sender stitches all of them in one.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), MAX_QUEUE, "{rb:?}");
    assert!(rb.waiting.is_empty() && rb.dropped.is_empty(), "{rb:?}");
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), MAX_QUEUE, "{ra:?}");
    assert_settled(&a, &b, 100);
    assert_eq!(dev(&b), 10);
    // The queue is free again.
    pay(&mut a, &nodes, &b, 5);
    sync(&mut b, &nodes).unwrap();
    sync(&mut a, &nodes).unwrap();
    assert_settled(&a, &b, 100);
}

#[test]
fn a_refusal_releases_every_transfer_queued_after_it() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    limit(&mut b, 10);
    let q = [
        pay(&mut a, &nodes, &b, 2),
        pay(&mut a, &nodes, &b, 50),
        pay(&mut a, &nodes, &b, 3),
    ];
    assert_eq!(dev(&a), 45);
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(rb.refused.len(), 2, "{rb:?}");
    let over = b.refusal_for(&q[1].proposal.commit()).unwrap().unwrap();
    assert_eq!(over.refusal.reason, RefusalReason::OverLimit.code());
    assert!(over.refusal.behind.is_empty());
    let behind = b.refusal_for(&q[2].proposal.commit()).unwrap().unwrap();
    assert_eq!(behind.refusal.reason, RefusalReason::Behind.code());
    assert_eq!(behind.refusal.behind, vec![q[1].proposal.step.clone()]);
    // The sender takes the refusal behind only after the one it is behind: given first, it
    // waits (a sync keeps it in custody), and is taken after.
    let mut forged = behind.clone();
    forged.refusal.reason = RefusalReason::Crossed.code();
    let forged = SessionMessage::SignedRefusal(Box::new(forged));
    assert!(
        matches!(
            take_answer(&mut a, &forged),
            Err(SessionError::Invalid(
                dsm_core::receipt::ReceiptError::Signature { .. }
            ))
        ),
        "a refusal its receiver did not sign is dropped, never kept waiting"
    );
    let behind = SessionMessage::SignedRefusal(Box::new(behind));
    assert_eq!(take_answer(&mut a, &behind).unwrap(), Taken::Waits);
    assert_eq!(dev(&a), 45, "nothing taken yet");
    let over = SessionMessage::SignedRefusal(Box::new(over));
    assert!(matches!(
        take_answer(&mut a, &over).unwrap(),
        Taken::Released(_)
    ));
    assert!(matches!(
        take_answer(&mut a, &behind).unwrap(),
        Taken::Released(_)
    ));
    assert_eq!(dev(&a), 98, "both amounts are back");
    // The acceptance of the first comes through the b0x; the refusals there again are
    // already done.
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    assert!(ra.dropped.is_empty() && ra.waiting.is_empty(), "{ra:?}");
    assert_settled(&a, &b, 100);
    assert_eq!(dev(&b), 2);
    // The relationship goes on from the refused transfer's release tip.
    pay(&mut a, &nodes, &b, 4);
    assert_eq!(sync(&mut b, &nodes).unwrap().received.len(), 1);
    sync(&mut a, &nodes).unwrap();
    assert_settled(&a, &b, 100);
}

/// The receiver refuses a transfer and pays its sender back before the transfer the sender
/// queued after the refused one reaches it: its leaf has moved on, and it still refuses
/// that one behind the refused one (PROTOCOL.md §7.7), so nothing stays pending.
#[test]
fn the_receiver_may_move_on_before_the_rest_of_a_queue_reaches_it() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(100);
    limit(&mut b, 10);
    pay(&mut a, &nodes, &b, 50);
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    let paid_back = pay(&mut b, &nodes, &a, 7);
    // a has not seen the refusal: its next transfer queues behind the refused one.
    let late = pay(&mut a, &nodes, &b, 2);
    assert_ne!(late.proposal.step.parent_tip, tip(&b, &a));
    // a takes the refusal (releasing both) and accepts b's payment, whatever their order.
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.released.len(), 1, "{ra:?}");
    assert_eq!(ra.received.len(), 1, "{ra:?}");
    assert_eq!(ra.received[0].receipt.proposal, paid_back);
    // b's leaf is now its own payment's child tip; it refuses the late one behind.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.stitched.len(), 1, "{rb:?}");
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert_eq!(rb.refused[0].refusal.refusal.behind.len(), 1);
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.released.len(), 1, "{ra:?}");
    assert_settled(&a, &b, 200);
    assert_eq!(dev(&a), 107);
    // And both directions go on.
    pay(&mut a, &nodes, &b, 1);
    pay(&mut b, &nodes, &a, 1);
    for _ in 0..2 {
        sync(&mut a, &nodes).unwrap();
        sync(&mut b, &nodes).unwrap();
    }
    assert_settled(&a, &b, 200);
}

/// A queue left by online transfers is resolved by the next offline session: the oldest
/// rides in the hello, the dialer offers the rest after it, then pays what it came to pay.
/// The b0x copies found later are answered from storage: nothing is credited twice.
#[test]
fn an_offline_session_resolves_a_whole_queue_first() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    for amount in [3, 4, 5] {
        pay(&mut a, &nodes, &b, amount);
    }
    let (rd, rl) = session(&mut a, &mut b, &[6]);
    assert!(rd.error.is_none() && rl.error.is_none(), "{rd:?} {rl:?}");
    assert_eq!(rd.completed.len(), 4, "{rd:?}");
    assert_eq!(rd.completed.iter().filter(|c| c.resumed).count(), 3);
    assert_eq!(dev(&b), 18);
    assert_settled(&a, &b, 100);
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty(), "answered from storage: {rb:?}");
    sync(&mut a, &nodes).unwrap();
    assert_eq!(dev(&b), 18, "nothing twice");
    assert_settled(&a, &b, 100);
}

/// Both devices queue two transfers to each other before either syncs; the first two
/// cross (PROTOCOL.md §7.6). Whoever syncs first, the winner's queue is accepted and the
/// loser's refused (the loser by CROSSED, the one after it behind it), each amount back.
#[test]
fn crossing_queues_clear_whoever_syncs_first() {
    for a_first in [true, false] {
        let c = Cluster::new();
        let nodes = c.nodes();
        let (mut a, _) = memory_wallet(100);
        let (mut b, _) = memory_wallet(100);
        let qa = [pay(&mut a, &nodes, &b, 10), pay(&mut a, &nodes, &b, 20)];
        let qb = [pay(&mut b, &nodes, &a, 3), pay(&mut b, &nodes, &a, 4)];
        assert_eq!(
            qa[0].proposal.step.parent_tip,
            qb[0].proposal.step.parent_tip
        );
        let a_wins = dsm_core::receipt::wins_crossing(&qa[0].proposal.step, &qb[0].proposal.step);
        for _ in 0..3 {
            if a_first {
                sync(&mut a, &nodes).unwrap();
                sync(&mut b, &nodes).unwrap();
            } else {
                sync(&mut b, &nodes).unwrap();
                sync(&mut a, &nodes).unwrap();
            }
        }
        assert_settled(&a, &b, 200);
        let (w, l) = if a_wins { (&a, &b) } else { (&b, &a) };
        assert_eq!(
            dev(w),
            100 - if a_wins { 30 } else { 7 },
            "a_first {a_first}"
        );
        assert_eq!(dev(l), 100 + if a_wins { 30 } else { 7 });
        let (ql, lw) = if a_wins { (&qb, w) } else { (&qa, w) };
        let crossed = lw.refusal_for(&ql[0].proposal.commit()).unwrap().unwrap();
        assert_eq!(crossed.refusal.reason, RefusalReason::Crossed.code());
        let behind = lw.refusal_for(&ql[1].proposal.commit()).unwrap().unwrap();
        assert_eq!(behind.refusal.reason, RefusalReason::Behind.code());
    }
}

/// Every pending transfer rides in each recovery capsule, which carries at most
/// `MAX_PENDING_PER_CAPSULE`: a wallet never has more pending than that.
#[test]
fn no_more_transfers_wait_than_a_capsule_carries() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let cap = dsm_recovery::body::MAX_PENDING_PER_CAPSULE;
    let peers: Vec<Wallet> = (0..cap / MAX_QUEUE + 1)
        .map(|_| memory_wallet(0).0)
        .collect();
    for p in &peers[..cap / MAX_QUEUE] {
        for _ in 0..MAX_QUEUE {
            pay(&mut a, &nodes, p, 1);
        }
    }
    assert_eq!(a.pending().unwrap().len(), cap);
    common::introduce(&mut a, &peers[cap / MAX_QUEUE]);
    let err = send_online(
        &mut a,
        &nodes,
        &peers[cap / MAX_QUEUE].device_id(),
        token(DEFAULT_TOKEN),
        Amount(1),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("transfers are already waiting for their answers, as many as a recovery capsule carries"),
        "{err}"
    );
    assert_eq!(
        dev(&a),
        100 - cap as u128,
        "the refused one changed nothing"
    );
}
