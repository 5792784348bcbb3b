//! The successor's rules (PROTOCOL.md §20.3–§20.4): step order, resumption, stored words
//! and the spending gate.

use dsm_recovery::process::{NoticeStatus, RecoveryStep, SpendingGate, Word};
use dsm_recovery::succession::Verdict;

#[test]
fn steps_run_in_protocol_order_and_resume_after_the_last_recorded() {
    use RecoveryStep::*;
    assert_eq!(
        RecoveryStep::after(None).collect::<Vec<_>>(),
        [Created, Tombstoned, Published, Claimed, Succeeded, Notified]
    );
    assert_eq!(
        RecoveryStep::after(Some(Created)).collect::<Vec<_>>(),
        [Tombstoned, Published, Claimed, Succeeded, Notified]
    );
    assert_eq!(
        RecoveryStep::after(Some(Claimed)).collect::<Vec<_>>(),
        [Succeeded, Notified]
    );
    assert_eq!(RecoveryStep::after(Some(Notified)).count(), 0);
}

#[test]
fn stored_words_read_back_and_nothing_else_does() {
    for &s in RecoveryStep::ALL {
        assert_eq!(RecoveryStep::from_word(s.word()), Some(s));
    }
    // The words are the ones wallets already stored (JSON strings of the variant names).
    assert_eq!(RecoveryStep::Tombstoned.word(), "Tombstoned");
    for &s in NoticeStatus::ALL {
        assert_eq!(NoticeStatus::from_word(s.word()), Some(s));
        assert_eq!(s.to_string(), s.word());
    }
    assert_eq!(NoticeStatus::Acknowledged.word(), "acknowledged");
    for junk in ["", "created", "Acknowledged", "waiting ", "Notified\0"] {
        assert_eq!(RecoveryStep::from_word(junk), None, "{junk:?}");
        assert_eq!(NoticeStatus::from_word(junk), None, "{junk:?}");
    }
}

#[test]
fn a_verdict_gives_its_notice_status() {
    assert_eq!(
        NoticeStatus::of(Verdict::Acknowledged),
        NoticeStatus::Acknowledged
    );
    assert_eq!(NoticeStatus::of(Verdict::Stale), NoticeStatus::Stale);
    assert_eq!(NoticeStatus::of(Verdict::Conflict), NoticeStatus::Conflict);
}

#[test]
fn the_spending_gate_opens_only_for_an_acknowledgement_or_a_stranger() {
    assert_eq!(SpendingGate::judge(None, None), SpendingGate::Open);
    assert_eq!(
        SpendingGate::judge(None, Some(NoticeStatus::Acknowledged)),
        SpendingGate::Open
    );
    for s in [
        NoticeStatus::Waiting,
        NoticeStatus::Stale,
        NoticeStatus::Conflict,
    ] {
        assert_eq!(
            SpendingGate::judge(None, Some(s)),
            SpendingGate::NotAcknowledged(s)
        );
    }
    // A recorded block closes it for everyone, an acknowledged counterparty included.
    for notice in [None, Some(NoticeStatus::Acknowledged)] {
        assert_eq!(
            SpendingGate::judge(Some("spent after the backup".into()), notice),
            SpendingGate::Blocked("spent after the backup".into())
        );
    }
}
