//! Offline exposure limits (PROTOCOL.md §8.4), through real wallets and sessions: a
//! receiver refuses, with a signed refusal, a transfer that would put the value it received
//! and has not yet seen settled over its per-sender or its total limit; settling at the
//! storage nodes frees the limit; value already settled at the nodes (online delivery)
//! never counts; the limit survives a restart.

mod common;

use common::cluster::Cluster;
use common::{dev, memory_wallet, reopen, session};
use dsm_core::chain::Amount;
use dsm_wallet::online::{send_online, sync};
use dsm_wallet::wallet::{ReceivePolicy, RefusalReason};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};

fn limits(per_sender: u128, total: u128) -> ReceivePolicy {
    ReceivePolicy {
        max_per_transfer: None,
        max_unsettled_per_counterparty: Some(Amount(per_sender)),
        max_unsettled_total: Some(Amount(total)),
    }
}

/// Pays `amount` offline and returns the refusal reason, if the receiver refused.
fn pay(from: &mut Wallet, to: &mut Wallet, amount: u128) -> Option<u64> {
    let (rd, rl) = session(from, to, &[amount]);
    assert!(rd.error.is_none() && rl.error.is_none(), "{rd:?} {rl:?}");
    match rd.refused.as_slice() {
        [] => {
            assert_eq!(rd.completed.len(), 1, "{rd:?}");
            None
        }
        [r] => Some(r.refusal.refusal.reason),
        many => panic!("{} refusals", many.len()),
    }
}

fn unsettled(w: &Wallet, from: &Wallet) -> (u128, u128) {
    let (p, t) = w.unsettled_incoming(&token(DEFAULT_TOKEN), &from.device_id());
    (p.0, t.0)
}

#[test]
fn offline_receipts_stop_at_the_limits_and_settling_frees_them() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(1_000);
    let (mut x, _) = memory_wallet(1_000);
    let (mut b, b_store) = memory_wallet(0);
    b.set_receive_policy(limits(100, 150)).unwrap();
    let over = Some(RefusalReason::OverExposure.code());

    assert_eq!(pay(&mut a, &mut b, 60), None);
    // 60 + 50 from one sender is over the per-sender limit of 100: a signed refusal, and
    // a has its 50 back at once.
    assert_eq!(pay(&mut a, &mut b, 50), over);
    assert_eq!((dev(&a), dev(&b)), (940, 60));
    assert_eq!(unsettled(&b, &a), (60, 60));
    // Another sender: 80 is under 100 for it, and 140 under the total of 150.
    assert_eq!(pay(&mut x, &mut b, 80), None);
    // 20 more from x: under x's 100, but 160 in total.
    assert_eq!(pay(&mut x, &mut b, 20), over);
    assert_eq!(unsettled(&b, &x), (80, 140));
    // Exactly at the limit is allowed.
    assert_eq!(pay(&mut a, &mut b, 10), None);
    assert_eq!(unsettled(&b, &a), (70, 150));

    // The limits hold across a restart (read back from the history).
    let mut b = reopen(&b_store);
    b.set_receive_policy(limits(100, 150)).unwrap();
    assert_eq!(unsettled(&b, &a), (70, 150));
    assert_eq!(pay(&mut a, &mut b, 1), over);

    // b syncs: every line it received is anchored at the nodes, settled, and frees the
    // limit.
    sync(&mut b, &nodes).unwrap();
    assert_eq!(unsettled(&b, &a), (0, 0));
    assert_eq!(pay(&mut a, &mut b, 100), None);
    assert_eq!(pay(&mut x, &mut b, 50), None);
    assert_eq!(pay(&mut x, &mut b, 1), over);
    assert_eq!(dev(&b), 150 + 150);
    // Without limits nothing is tracked and nothing is refused.
    b.set_receive_policy(ReceivePolicy::default()).unwrap();
    assert_eq!(unsettled(&b, &a), (0, 0));
    assert_eq!(pay(&mut x, &mut b, 500), None);
}

#[test]
fn value_settled_at_the_nodes_before_it_is_answered_never_counts() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(1_000);
    let (mut b, _) = memory_wallet(0);
    b.set_receive_policy(limits(10, 10)).unwrap();
    // Online: b answers only what is settled at its sender's slot, so 300 is accepted
    // under a limit of 10 and adds nothing to what b risks.
    common::introduce(&mut a, &b);
    send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        Amount(300),
    )
    .unwrap();
    let r = sync(&mut b, &nodes).unwrap();
    assert_eq!(r.received.len(), 1, "{r:?}");
    assert_eq!(dev(&b), 300);
    assert_eq!(unsettled(&b, &a), (0, 0));
    // Offline, the limit applies as before.
    sync(&mut a, &nodes).unwrap();
    assert_eq!(pay(&mut a, &mut b, 10), None);
    assert_eq!(
        pay(&mut a, &mut b, 1),
        Some(RefusalReason::OverExposure.code())
    );
}

#[test]
fn refusal_reasons_have_one_code_each() {
    let codes: std::collections::HashSet<u64> =
        RefusalReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), RefusalReason::ALL.len());
    for r in RefusalReason::ALL {
        assert_eq!(RefusalReason::from_code(r.code()), Some(r));
    }
    assert_eq!(RefusalReason::from_code(0), None);
    assert_eq!(RefusalReason::from_code(99), None);
}
