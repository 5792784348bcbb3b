//! A receiver's exposure limits (PROTOCOL.md §8.4): the rule alone. The wallet tests
//! (`dsm-wallet/tests/exposure.rs`) run it through real sessions.

use dsm_core::chain::{Amount, HeadDigest, RelationshipKey, RelationshipStep, TipDigest, TokenId};
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_protocol::exposure::{Exposure, ReceivePolicy, UnsettledCredit};
use dsm_protocol::session::RefusalReason;

fn id(n: u8) -> DeviceId {
    DeviceId(Digest([n; 32]))
}

fn step(from: u8, token: u8, amount: u128) -> RelationshipStep {
    RelationshipStep {
        relationship: RelationshipKey::between(&id(from), &id(0)),
        parent_tip: TipDigest(Digest([0; 32])),
        sender: id(from),
        receiver: id(0),
        token: TokenId(Digest([token; 32])),
        amount: Amount(amount),
        sender_parent_head: HeadDigest(Digest([from; 32])),
    }
}

fn credit(s: &RelationshipStep) -> UnsettledCredit {
    UnsettledCredit {
        token: s.token,
        sender: s.sender,
        amount: s.amount,
    }
}

fn limits(per_sender: u128, total: u128) -> ReceivePolicy {
    ReceivePolicy {
        max_per_transfer: None,
        max_unsettled_per_counterparty: Some(Amount(per_sender)),
        max_unsettled_total: Some(Amount(total)),
    }
}

#[test]
fn unsettled_value_counts_per_sender_and_in_total_until_it_settles() {
    let mut e = Exposure::new(limits(10, 15), Vec::new);
    let c = |n: u8| Digest([n; 32]);
    assert_eq!(e.judge(&step(1, 7, 10), &c(1)), None);
    e.received(c(1), credit(&step(1, 7, 10)));
    assert_eq!(
        e.judge(&step(1, 7, 1), &c(2)),
        Some(RefusalReason::OverExposure),
        "per sender"
    );
    assert_eq!(e.judge(&step(2, 7, 5), &c(3)), None);
    e.received(c(3), credit(&step(2, 7, 5)));
    assert_eq!(
        e.judge(&step(3, 7, 1), &c(4)),
        Some(RefusalReason::OverExposure),
        "in total"
    );
    // Another token has limits of its own.
    assert_eq!(e.judge(&step(3, 8, 10), &c(5)), None);
    assert_eq!(
        e.unsettled(&step(1, 7, 1).token, &id(1)),
        (Amount(10), Amount(15))
    );
    // Settled value frees the limits.
    e.settled(&c(1));
    assert_eq!(e.judge(&step(1, 7, 10), &c(6)), None);
    assert_eq!(
        e.unsettled(&step(1, 7, 1).token, &id(1)),
        (Amount(0), Amount(5))
    );
}

#[test]
fn a_proposal_settled_before_its_answer_never_counts() {
    let mut e = Exposure::new(limits(10, 10), Vec::new);
    let commit = Digest([9; 32]);
    e.settled_before_answer(commit);
    assert_eq!(e.judge(&step(1, 7, 10), &commit), None);
    assert_eq!(e.judge(&step(1, 7, 11), &commit), None, "no offline risk");
    e.received(commit, credit(&step(1, 7, 11)));
    assert_eq!(
        e.unsettled(&step(1, 7, 1).token, &id(1)),
        (Amount(0), Amount(0))
    );
}

#[test]
fn an_amount_that_would_overflow_the_held_sum_is_over() {
    let held = (Digest([1; 32]), credit(&step(1, 7, u128::MAX)));
    let e = Exposure::new(limits(u128::MAX, u128::MAX), || [held]);
    assert_eq!(
        e.judge(&step(1, 7, 1), &Digest([2; 32])),
        Some(RefusalReason::OverExposure)
    );
}

#[test]
fn the_per_transfer_limit_needs_no_tracking() {
    let mut e = Exposure::new(
        ReceivePolicy::default(),
        || -> Vec<(Digest, UnsettledCredit)> { panic!("an untracked policy reads no history") },
    );
    e.set_max_per_transfer(Some(Amount(5)));
    assert_eq!(e.judge(&step(1, 7, 5), &Digest([1; 32])), None);
    assert_eq!(
        e.judge(&step(1, 7, 6), &Digest([1; 32])),
        Some(RefusalReason::OverLimit)
    );
    e.received(Digest([1; 32]), credit(&step(1, 7, 5)));
    assert_eq!(
        e.unsettled(&step(1, 7, 1).token, &id(1)),
        (Amount(0), Amount(0))
    );
}
