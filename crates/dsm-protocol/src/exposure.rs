//! A receiver's offline exposure limits (PROTOCOL.md §8.4), sans-IO: what it refuses to
//! receive, and how much value it holds that is final between the two parties but not yet
//! settled at the storage nodes. Past the limits a proposal gets a signed refusal; settled
//! value frees them again. The wallet tells an [`Exposure`] what it received and what
//! settled; the [`Exposure`] answers whether the next proposal may be accepted.

use std::collections::{BTreeMap, HashSet};

use dsm_core::chain::{Amount, RelationshipStep, TokenId};
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;

use crate::session::RefusalReason;

/// What this device refuses to receive, with a signed refusal. Amounts are in each token's
/// base units and apply to every token separately.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivePolicy {
    /// Refuse any single transfer above this ([`RefusalReason::OverLimit`]).
    pub max_per_transfer: Option<Amount>,
    /// Refuse a transfer that would make the value received from its sender and not yet
    /// settled exceed this ([`RefusalReason::OverExposure`]).
    pub max_unsettled_per_counterparty: Option<Amount>,
    /// Refuse a transfer that would make all value received and not yet settled exceed
    /// this ([`RefusalReason::OverExposure`]). Fresh identities are free, so this total,
    /// not the per-counterparty limit, is the real bound on what a receiver risks.
    pub max_unsettled_total: Option<Amount>,
}

impl ReceivePolicy {
    /// Whether the policy limits unsettled value (so it must be tracked).
    pub fn limits_exposure(&self) -> bool {
        self.max_unsettled_per_counterparty.is_some() || self.max_unsettled_total.is_some()
    }
}

/// One received transfer that is not settled yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsettledCredit {
    /// Its token.
    pub token: TokenId,
    /// Its sender.
    pub sender: DeviceId,
    /// Its amount.
    pub amount: Amount,
}

/// A receiver's policy and the value it holds unsettled, by proposal commit.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    policy: ReceivePolicy,
    /// Tracked only while the policy limits exposure.
    unsettled: Option<BTreeMap<Digest, UnsettledCredit>>,
    /// Incoming proposals seen settled at the storage nodes before they were answered:
    /// they carry no offline risk, so they never count.
    settled_first: HashSet<Digest>,
}

impl Exposure {
    /// An exposure under `policy`, starting from the received transfers not yet settled
    /// (by proposal commit). Those are read only when the policy limits exposure.
    pub fn new<I>(policy: ReceivePolicy, unsettled: impl FnOnce() -> I) -> Self
    where
        I: IntoIterator<Item = (Digest, UnsettledCredit)>,
    {
        Exposure {
            policy,
            unsettled: policy
                .limits_exposure()
                .then(|| unsettled().into_iter().collect()),
            settled_first: HashSet::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> ReceivePolicy {
        self.policy
    }

    /// Changes only the per-transfer limit (it needs no tracking).
    pub fn set_max_per_transfer(&mut self, limit: Option<Amount>) {
        self.policy.max_per_transfer = limit;
    }

    /// Why a proposal for `step` with this commit must be refused under the policy, if it
    /// must. Checked arithmetic: an amount that would overflow the held sum is over.
    pub fn judge(&self, step: &RelationshipStep, commit: &Digest) -> Option<RefusalReason> {
        if self
            .policy
            .max_per_transfer
            .is_some_and(|max| step.amount > max)
        {
            return Some(RefusalReason::OverLimit);
        }
        if self.unsettled.is_some() && !self.settled_first.contains(commit) {
            let (from_sender, total) = self.unsettled(&step.token, &step.sender);
            let over = |held: Amount, max: Option<Amount>| {
                max.is_some_and(|m| held.checked_add(step.amount).is_none_or(|x| x > m))
            };
            if over(from_sender, self.policy.max_unsettled_per_counterparty)
                || over(total, self.policy.max_unsettled_total)
            {
                return Some(RefusalReason::OverExposure);
            }
        }
        None
    }

    /// Value received and not yet settled in `token`: `(from sender, in total)`. Zero when
    /// the policy does not track it.
    pub fn unsettled(&self, token: &TokenId, sender: &DeviceId) -> (Amount, Amount) {
        let mut from_sender = 0u128;
        let mut total = 0u128;
        for c in self.unsettled.iter().flat_map(|m| m.values()) {
            if c.token == *token {
                total = total.saturating_add(c.amount.0);
                if c.sender == *sender {
                    from_sender = from_sender.saturating_add(c.amount.0);
                }
            }
        }
        (Amount(from_sender), Amount(total))
    }

    /// Notes that the proposal with this commit is settled at the storage nodes before it
    /// is answered (checked by the caller): it never counts.
    pub fn settled_before_answer(&mut self, commit: Digest) {
        self.settled_first.insert(commit);
    }

    /// Notes an accepted transfer: it counts until it settles, unless it was settled
    /// before it was answered.
    pub fn received(&mut self, commit: Digest, credit: UnsettledCredit) {
        if !self.settled_first.remove(&commit) {
            if let Some(m) = self.unsettled.as_mut() {
                m.insert(commit, credit);
            }
        }
    }

    /// Notes that a received transfer settled: its value frees the limits. (A conflict
    /// never frees them.)
    pub fn settled(&mut self, commit: &Digest) {
        if let Some(m) = self.unsettled.as_mut() {
            m.remove(commit);
        }
    }
}
