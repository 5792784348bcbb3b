//! The successor's side of a recovery as rules, without I/O (PROTOCOL.md §20.3–§20.5): the
//! order of its crash-resumable steps, what a counterparty's answer to a succession notice
//! means, and when the successor may spend to that counterparty. A wallet persists the
//! step and the answers and does the network work of each step; it asks this module what
//! comes next and whether a payment may go.
//!
//! Each enum is a [`Word`]: one word per variant, so a store can keep it as text and read
//! it back strictly.

use crate::succession::Verdict;
pub use dsm_core::word::Word;

/// The steps of a recovery, in the order they run. Each is recorded when done, and a
/// recovery that stopped (crash, error, node down) goes on after the last one recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecoveryStep {
    /// The new device exists, with the recovered state (not yet spendable).
    Created,
    /// The tombstone is at a quorum of nodes.
    Tombstoned,
    /// The succession is at a quorum of nodes.
    Published,
    /// Every recovered parcel that can be taken over has its consuming statement signed,
    /// kept and written to its slot (the rest are left out, with why).
    Claimed,
    /// The SUCCEED head is committed, holding a root per claimed parcel.
    Succeeded,
    /// Every counterparty was sent a notice.
    Notified,
}

impl Word for RecoveryStep {
    const WHAT: &'static str = "recovery step";
    const ALL: &'static [RecoveryStep] = &[
        RecoveryStep::Created,
        RecoveryStep::Tombstoned,
        RecoveryStep::Published,
        RecoveryStep::Claimed,
        RecoveryStep::Succeeded,
        RecoveryStep::Notified,
    ];

    /// The variant's name.
    fn word(self) -> &'static str {
        match self {
            RecoveryStep::Created => "Created",
            RecoveryStep::Tombstoned => "Tombstoned",
            RecoveryStep::Published => "Published",
            RecoveryStep::Claimed => "Claimed",
            RecoveryStep::Succeeded => "Succeeded",
            RecoveryStep::Notified => "Notified",
        }
    }
}

impl RecoveryStep {
    /// The steps still to run once `done` is recorded (`None`: nothing yet, so all of them),
    /// in order (PROTOCOL.md §20.3): the tombstone's write-once slot decides which backup
    /// point stands, and the succession names that tombstone; the succession closes the
    /// lost device's anchor slot before parcels are claimed; the SUCCEED head holds a root
    /// per claimed parcel; the notices come last, as they name the successor's head.
    pub fn after(done: Option<RecoveryStep>) -> impl Iterator<Item = RecoveryStep> {
        Self::ALL.iter().copied().filter(move |s| Some(*s) > done)
    }
}

/// A counterparty's answer to a succession notice, as the successor records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeStatus {
    /// No answer yet: spending to it waits (PROTOCOL.md §20.4).
    Waiting,
    /// It holds the tip the recovered head holds: spending to it may resume.
    Acknowledged,
    /// It holds a newer tip than the backup (the lost device went on after it).
    Stale,
    /// It holds evidence that the lost device signed after the backup point.
    Conflict,
}

impl Word for NoticeStatus {
    const WHAT: &'static str = "notice status";
    const ALL: &'static [NoticeStatus] = &[
        NoticeStatus::Waiting,
        NoticeStatus::Acknowledged,
        NoticeStatus::Stale,
        NoticeStatus::Conflict,
    ];

    fn word(self) -> &'static str {
        match self {
            NoticeStatus::Waiting => "waiting",
            NoticeStatus::Acknowledged => "acknowledged",
            NoticeStatus::Stale => "stale",
            NoticeStatus::Conflict => "conflict",
        }
    }
}

impl NoticeStatus {
    /// The status a verified answer's verdict gives.
    pub fn of(verdict: Verdict) -> NoticeStatus {
        match verdict {
            Verdict::Acknowledged => NoticeStatus::Acknowledged,
            Verdict::Stale => NoticeStatus::Stale,
            Verdict::Conflict => NoticeStatus::Conflict,
        }
    }
}

impl std::fmt::Display for NoticeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// Whether a successor may spend to a counterparty (PROTOCOL.md §20.4, §20.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpendingGate {
    /// It may.
    Open,
    /// Spending is blocked for good: the lost device signed after the backup point and it
    /// reached the nodes, so the recovered balance may be too high. Carries why.
    Blocked(String),
    /// This counterparty of the lost device has not acknowledged the successor yet (or
    /// answered stale or conflict): paying it could spend value it no longer credits.
    NotAcknowledged(NoticeStatus),
}

impl SpendingGate {
    /// The gate for one counterparty: `blocked` is the recovery's recorded block, if any;
    /// `notice` is the counterparty's answer, `None` when it was never a counterparty of
    /// the lost device (then the gate is open: the successor owes it nothing).
    pub fn judge(blocked: Option<String>, notice: Option<NoticeStatus>) -> SpendingGate {
        if let Some(why) = blocked {
            return SpendingGate::Blocked(why);
        }
        match notice {
            None | Some(NoticeStatus::Acknowledged) => SpendingGate::Open,
            Some(status) => SpendingGate::NotAcknowledged(status),
        }
    }
}
