//! Crossing transfers (PROTOCOL.md §7.6): each of two devices pays the other from the same
//! relationship tip before it sees the other's proposal. Through the b0x and in an offline
//! session, in every order, the two clear by themselves: the proposal with the larger child
//! tip is refused by its receiver (whose own goes first), its amount comes back to its
//! sender, and the other is accepted. No lock stays, no value is lost or doubled, and the
//! relationship goes on.

mod common;

use common::cluster::Cluster;
use common::{dev, memory_wallet, session};
use dsm_core::chain::Amount;
use dsm_core::receipt::{wins_crossing, SignedProposal};
use dsm_protocol::session::{Ledger, RefusalReason};
use dsm_wallet::online::{send_online, sync, SyncReport};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};

/// a pays b 10 and b pays a 3, both online, before either syncs. Returns the two wallets
/// and the proposals, the winner's first.
fn crossed(nodes: &dsm_wallet::nodes::NodeSet) -> (Wallet, Wallet, SignedProposal, SignedProposal) {
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(100);
    let t = token(DEFAULT_TOKEN);
    common::introduce(&mut a, &b);
    let pa = send_online(&mut a, nodes, &b.device_id(), t, Amount(10))
        .unwrap()
        .proposal;
    common::introduce(&mut b, &a);
    let pb = send_online(&mut b, nodes, &a.device_id(), t, Amount(3))
        .unwrap()
        .proposal;
    assert_eq!(
        pa.proposal.step.parent_tip, pb.proposal.step.parent_tip,
        "the two proposals crossed"
    );
    if wins_crossing(&pa.proposal.step, &pb.proposal.step) {
        (a, b, pa, pb)
    } else {
        (b, a, pb, pa)
    }
}

/// What the winner's sender `w` and the loser's sender `l` hold once resolved: `l` got the
/// winner's amount and kept its own.
fn assert_resolved(w: &Wallet, l: &Wallet, win: &SignedProposal, lose: &SignedProposal) {
    let (win_amount, lose_amount) = (win.proposal.step.amount.0, lose.proposal.step.amount.0);
    assert_eq!(dev(w), 100 - win_amount);
    assert_eq!(
        dev(l),
        100 + win_amount,
        "the loser's {lose_amount} came back"
    );
    assert!(w.pending().unwrap().is_empty() && l.pending().unwrap().is_empty());
    let line = l
        .history()
        .unwrap()
        .into_iter()
        .find(|e| e.receipt == Some(lose.proposal.commit()))
        .expect("the loser's line");
    assert_eq!(line.status, dsm_wallet::LineStatus::Released);
    let refusal = w
        .refusal_for(&lose.proposal.commit())
        .unwrap()
        .expect("the winner's sender signed the refusal");
    assert_eq!(refusal.refusal.reason, RefusalReason::Crossed.code());
    assert_eq!(
        refusal.refusal.crossing.as_ref(),
        Some(&win.proposal.step),
        "the refusal names the winner"
    );
    common::assert_settled(w, l, 200);
}

fn quiet(r: &SyncReport) {
    assert!(r.dropped.is_empty() && r.faults.is_empty(), "{r:?}");
}

#[test]
fn crossing_online_transfers_clear_whoever_syncs_first() {
    for winner_first in [true, false] {
        let c = Cluster::new();
        let nodes = c.nodes();
        let (mut w, mut l, win, lose) = crossed(&nodes);
        if !winner_first {
            // The loser's sender must wait for the refusal of its own proposal first.
            let r = sync(&mut l, &nodes).unwrap();
            quiet(&r);
            assert!(r.received.is_empty() && r.waiting.len() == 1, "{r:?}");
            assert!(
                r.waiting[0].contains("crossed this wallet's own pending transfer"),
                "{r:?}"
            );
        }
        // The winner's sender refuses the loser; the loser's sender then releases and
        // accepts in one sync (nothing left waiting); the winner's sender stitches.
        let r = sync(&mut w, &nodes).unwrap();
        quiet(&r);
        assert_eq!(r.refused.len(), 1, "{r:?}");
        let r = sync(&mut l, &nodes).unwrap();
        quiet(&r);
        assert_eq!((r.released.len(), r.received.len()), (1, 1), "{r:?}");
        assert!(r.waiting.is_empty(), "{r:?}");
        let r = sync(&mut w, &nodes).unwrap();
        assert_eq!(r.stitched.len(), 1, "{r:?}");
        assert_resolved(&w, &l, &win, &lose);
        // Unlocked both ways: the loser sends again, and it goes through.
        let t = token(DEFAULT_TOKEN);
        common::introduce(&mut l, &w);
        send_online(&mut l, &nodes, &w.device_id(), t, lose.proposal.step.amount).unwrap();
        sync(&mut w, &nodes).unwrap();
        sync(&mut l, &nodes).unwrap();
        let (wa, la) = (win.proposal.step.amount.0, lose.proposal.step.amount.0);
        assert_eq!((dev(&w), dev(&l)), (100 - wa + la, 100 + wa - la));
        common::assert_settled(&w, &l, 200);
    }
}

#[test]
fn crossing_transfers_clear_in_one_offline_session_whoever_dials() {
    for winner_dials in [true, false] {
        let c = Cluster::new();
        let nodes = c.nodes();
        let (mut w, mut l, win, lose) = crossed(&nodes);
        let (rd, rl) = if winner_dials {
            session(&mut w, &mut l, &[])
        } else {
            session(&mut l, &mut w, &[])
        };
        assert!(rd.error.is_none() && rl.error.is_none(), "{rd:?} {rl:?}");
        assert_resolved(&w, &l, &win, &lose);
        // The b0x copies of both proposals are answered from storage: nothing changes.
        sync(&mut w, &nodes).unwrap();
        sync(&mut l, &nodes).unwrap();
        assert_resolved(&w, &l, &win, &lose);
        // And a session right after pays as usual.
        let (rd, rl) = session(&mut l, &mut w, &[5]);
        assert!(rd.error.is_none() && rl.error.is_none(), "{rd:?} {rl:?}");
        assert_eq!(dev(&w) + dev(&l), 200);
        common::assert_settled(&w, &l, 200);
    }
}

/// The order the model checker found (`model/`, the online configurations): the loser's
/// sender takes the CROSSED refusal and releases its transfer, but the winner has not
/// reached it yet. Were it to pay the winner's sender again now, its new proposal would
/// move the leaf the winner must be answered from, and the two would lock each other for
/// good (each one's proposal stale for the other). So it may not: `WinnerFirst`, until it
/// answered the winner; then the relationship goes on.
#[test]
fn after_losing_a_crossing_the_winner_is_answered_before_paying_again() {
    use dsm_protocol::mailbox::{answer, offer, take_answer, Taken};
    use dsm_protocol::message::SessionMessage;
    use dsm_protocol::session::SessionError;
    let t = token(DEFAULT_TOKEN);
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(100);
    let oa = offer(&mut a, &b.device_id(), t, Amount(10)).unwrap();
    let ob = offer(&mut b, &a.device_id(), t, Amount(3)).unwrap();
    let ((mut w, win), (mut l, lose)) =
        if wins_crossing(&oa.signed.proposal.step, &ob.signed.proposal.step) {
            ((a, oa), (b, ob))
        } else {
            ((b, ob), (a, oa))
        };
    // The winner's sender refuses the loser, naming its own step.
    let refusal = answer(&mut w, &lose).unwrap();
    let SessionMessage::SignedRefusal(r) = &refusal.reply else {
        panic!("{refusal:?}")
    };
    assert_eq!(r.refusal.crossing.as_ref(), Some(&win.signed.proposal.step));
    // The loser's sender takes the refusal: released, the amount back.
    assert!(matches!(
        take_answer(&mut l, &refusal.reply).unwrap(),
        Taken::Released(_)
    ));
    // Paying the winner's sender again now is refused, and changes nothing.
    let head = l.head().clone();
    assert_eq!(
        offer(&mut l, &w.device_id(), t, Amount(1)).unwrap_err(),
        SessionError::WinnerFirst(w.device_id())
    );
    assert_eq!(l.head(), &head);
    // (An offline session answers the winner first anyway: it rides in its sender's hello.)
    // Once the winner is answered (accepted, naming the released step), it may.
    let accepted = answer(&mut l, &win).unwrap();
    assert!(accepted.completed.is_some(), "{accepted:?}");
    assert!(matches!(
        take_answer(&mut w, &accepted.reply).unwrap(),
        Taken::Stitched(_)
    ));
    let again = offer(&mut l, &w.device_id(), t, Amount(1)).unwrap();
    let taken = answer(&mut w, &again).unwrap();
    assert!(
        taken.completed.is_some(),
        "the relationship goes on: {taken:?}"
    );
}
