//! Recovery end to end against a real cluster of 6 storage nodes (PROTOCOL.md §20): a
//! device that writes capsules is lost, its identity is restored from the phrase onto a new
//! device, the lost device is tombstoned, counterparties acknowledge the successor one by
//! one, and a stolen device that keeps trying gets nothing any counterparty also gave the
//! successor. Also: wrong phrase, lying, stale and missing replicas, a crash at every write
//! of a recovery.

mod common;

use dsm_wallet::wallet::recovery::NoticeStatus;

use common::cluster::Cluster;
use common::{dev, fast_kdf, memory_wallet, pay_online, session, PASS};
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::ChainView;
use dsm_protocol::session::{LedgerError, SessionError};
use dsm_recovery::succession::Verdict;
use dsm_recovery::RecoveryKeys;
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync, OnlineError};
use dsm_wallet::store::{CrashPoint, CrashingStore, MemoryStore, Store};
use dsm_wallet::wallet::recovery::{recover, RecoverOptions, RecoveryReport};
use dsm_wallet::{token, Contact, Wallet, WalletError, DEFAULT_TOKEN};

const OPTS: RecoverOptions<'static> = common::RECOVER_OPTS;

fn keys(seed: u8) -> RecoveryKeys {
    common::recovery_keys(seed)
}

fn recoverable(keys: &RecoveryKeys, funds: u128) -> Wallet {
    common::recoverable(keys, funds)
}

fn befriend(w: &mut Wallet, name: &str, other: &Wallet) {
    w.add_contact(
        &Contact {
            name: name.into(),
            device: other.device_id().digest().to_hex(),
        },
        false,
    )
    .unwrap();
}

/// A GOLD token whose issuer is `ws[0]` (it may mint), its policy imported by every wallet
/// of `ws`.
fn gold_among(ws: &mut [&mut Wallet]) -> (dsm_core::chain::TokenId, dsm_token::TokenPolicy) {
    let p = common::gold(ws[0], dsm_token::policy::TokenKind::Fungible);
    for w in ws.iter_mut() {
        w.import_policy(p.clone(), None).unwrap();
    }
    (p.token_id(), p)
}

/// The sync checked at least one history line, and every one it checked is settled.
fn assert_all_settled(r: &dsm_wallet::online::SyncReport) {
    assert!(!r.settled.is_empty(), "{r:?}");
    assert!(
        r.settled
            .iter()
            .all(|s| matches!(s.settlement, dsm_wallet::online::Settlement::Settled { .. })),
        "{r:?}"
    );
}

/// A recovery into `home` with the test options.
fn recover_into(
    home: impl Store + 'static,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
) -> Result<(Wallet, RecoveryReport), WalletError> {
    recover(Box::new(home), keys, nodes, &OPTS, &mut |_| {})
}

/// A recovery into a fresh home that must succeed.
fn restore(keys: &RecoveryKeys, nodes: &NodeSet) -> (Wallet, RecoveryReport) {
    let (w, r) = recover_into(MemoryStore::new(), keys, nodes).unwrap();
    assert!(r.left_out.is_empty(), "{:?}", r.left_out);
    (w, r)
}

fn status_of(w: &Wallet, peer: &Wallet) -> Option<NoticeStatus> {
    let id = peer.device_id();
    w.recovery_counterparties()
        .unwrap()
        .into_iter()
        .find(|c| c.device == id)
        .map(|c| c.status)
}

/// A successor's recovered value pays on (PROTOCOL.md §20.3): a session paying 1 from it
/// completes, the receiver checking the recovered parcel's lineage through the succession.
fn assert_recovered_value_pays(successor: &mut Wallet, to: &mut Wallet) {
    let (before, theirs) = (dev(successor), dev(to));
    let (rs, rt) = session(successor, to, &[1]);
    assert!(rs.refused.is_empty() && rt.refused.is_empty(), "{rs:?}");
    assert_eq!((rs.completed.len(), rt.completed.len()), (1, 1), "{rs:?}");
    assert_eq!((dev(successor), dev(to)), (before - 1, theirs + 1));
}

/// Recovered value can be locked in a vault: the lock's statement consumes the recovered
/// root, whose lineage the beneficiary checks through the succession (PROTOCOL.md §20.3).
#[test]
fn recovered_value_can_be_locked_in_a_vault() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(7);
    let mut a = recoverable(&k, 0);
    let p = common::gold(&a, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = a.import_policy(p.clone(), None).unwrap();
    a.mint(&t, Amount(500)).unwrap();
    sync(&mut a, &nodes).unwrap();
    drop(a);
    let (mut a2, _) = restore(&k, &nodes);
    assert_eq!(a2.balance(&t), Amount(500));
    let (mut b, _) = memory_wallet(0);
    b.import_policy(p, None).unwrap();
    let doc = a2
        .create_vault(
            t,
            Amount(100),
            b.identity(),
            dsm_token::vault::Condition::Iterations(1),
            dsm_token::vault::Condition::Iterations(2),
        )
        .unwrap();
    assert_eq!(a2.balance(&t), Amount(400));
    assert_eq!(a2.vaults().unwrap().len(), 1);
    // The beneficiary, who never saw any of it, checks the lock's backing cold.
    b.import_vault(doc).unwrap();
}

/// `from` may not pay `to` yet: `to` has not acknowledged the succession.
fn assert_gated(from: &mut Wallet, nodes: &NodeSet, to: &Wallet) {
    let e = pay_online(from, nodes, to, 1).unwrap_err();
    assert!(
        matches!(
            e,
            OnlineError::Session(SessionError::Ledger(LedgerError::NotAllowed(_)))
        ),
        "{e}"
    );
}

#[test]
fn a_lost_device_is_restored_and_resumes_after_each_counterparty_acknowledges() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(1);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(500);
    let (mut cc, _) = memory_wallet(500);
    befriend(&mut a, "bob", &b);
    befriend(&mut a, "carol", &cc);
    // Contact removals and renames reach the backup too (PROTOCOL.md §20.2).
    let (d, _) = memory_wallet(0);
    let (e, _) = memory_wallet(0);
    befriend(&mut a, "dave", &d);
    befriend(&mut a, "erin", &e);
    a.remove_contact("dave").unwrap();
    a.rename_contact("erin", "erin2").unwrap();
    session(&mut a, &mut b, &[100]);
    session(&mut cc, &mut a, &[50]);
    // A transfer still pending when the phone is lost: carol has not synced yet.
    pay_online(&mut a, &nodes, &cc, 30).unwrap();
    sync(&mut a, &nodes).unwrap();
    let st = a.backup_status(Some(&nodes)).unwrap();
    assert!(st.enabled);
    assert_eq!(st.sealed, st.uploaded, "every capsule is at the nodes");
    assert!(st.replicas.iter().all(|(_, s)| s == "holds it"), "{st:?}");
    // Uploaded capsules are not kept locally, except the newest.
    let mut kept = 0;
    a.visit_store(&mut |t, _, _| kept += usize::from(t == dsm_wallet::store::Table::Capsules))
        .unwrap();
    assert_eq!(kept, 1);
    let balance = dev(&a);
    assert_eq!(balance, 1_000 - 100 + 50 - 30);
    let lost = a.device_id();
    drop(a); // the phone is gone

    let (mut a2, report) = restore(&k, &nodes);
    assert_eq!(report.lost, lost);
    assert_ne!(a2.device_id(), lost);
    assert_eq!(dev(&a2), balance, "same balance");
    assert_eq!(report.counterparties.len(), 2);
    assert!(report
        .counterparties
        .iter()
        .all(|c| c.status == NoticeStatus::Waiting && c.notified));
    assert!(report.faults.is_empty(), "{:?}", report.faults);
    let names: Vec<String> = a2.contacts().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["bob", "carol", "erin2"],
        "dave removed, erin renamed"
    );
    // Not a balance oracle: nothing can be spent to a counterparty that has not acknowledged.
    assert_gated(&mut a2, &nodes, &b);

    // Bob acknowledges; carol first takes the pending transfer, then acknowledges.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.successions, vec![(lost, Verdict::Acknowledged)]);
    assert!(b.is_tombstoned(&lost).unwrap());
    let rc = sync(&mut cc, &nodes).unwrap();
    assert_eq!(rc.received.len(), 1, "the pending transfer completes");
    assert_eq!(rc.successions, vec![(lost, Verdict::Acknowledged)]);
    assert_eq!(dev(&cc), 500 - 50 + 30);
    let r2 = sync(&mut a2, &nodes).unwrap();
    assert_eq!(r2.recovery_answers.len(), 2);
    assert_eq!(status_of(&a2, &b), Some(NoticeStatus::Acknowledged));
    assert_eq!(status_of(&a2, &cc), Some(NoticeStatus::Acknowledged));
    let pending_note = a2
        .recovery_counterparties()
        .unwrap()
        .into_iter()
        .find_map(|c| c.pending)
        .unwrap();
    assert!(pending_note.contains("accepted"), "{pending_note}");

    // Relationships resume, online to carol and offline to bob, paying recovered value
    // whose lineage each checks through the succession (PROTOCOL.md §20.3).
    pay_online(&mut a2, &nodes, &cc, 20).unwrap();
    let rc = sync(&mut cc, &nodes).unwrap();
    assert_eq!(rc.received.len(), 1, "{rc:?}");
    assert_all_settled(&rc);
    assert_eq!(dev(&cc), 500 - 50 + 30 + 20);
    assert_recovered_value_pays(&mut a2, &mut b);
    assert_eq!(dev(&b), 601);
    assert_eq!(dev(&a2), balance - 21);
    let bob_sees = b.find_contact(&a2.device_id().digest().to_hex()).unwrap();
    assert!(bob_sees.is_none() || bob_sees.unwrap().device_id().unwrap() == a2.device_id());
    // The successor keeps writing the same stream; a second recovery replays all of it.
    sync(&mut a2, &nodes).unwrap();
    let st = a2.backup_status(Some(&nodes)).unwrap();
    assert_eq!(st.sealed, st.uploaded);
}

#[test]
fn many_relationships_and_pending_transfers_all_resume() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(11);
    let mut a = recoverable(&k, 10_000);
    let mut peers: Vec<Wallet> = (0..12).map(|_| memory_wallet(100).0).collect();
    for (i, p) in peers.iter_mut().enumerate() {
        befriend(&mut a, &format!("peer{i}"), p);
        session(&mut a, p, &[10 + i as u128]);
        if i % 3 == 0 {
            session(p, &mut a, &[1]);
        }
    }
    // Three transfers still pending when the device is lost.
    for p in &peers[..3] {
        pay_online(&mut a, &nodes, p, 7).unwrap();
    }
    sync(&mut a, &nodes).unwrap();
    let balance = dev(&a);
    let lost = a.device_id();
    drop(a);
    let (mut a2, report) = restore(&k, &nodes);
    assert_eq!(dev(&a2), balance);
    assert_eq!(report.counterparties.len(), 12);
    assert_eq!(
        report
            .counterparties
            .iter()
            .filter(|c| c.pending.is_some())
            .count(),
        3
    );
    assert_eq!(a2.contacts().unwrap().len(), 12);
    for p in peers.iter_mut() {
        let r = sync(p, &nodes).unwrap();
        assert_eq!(r.successions, vec![(lost, Verdict::Acknowledged)]);
    }
    let r = sync(&mut a2, &nodes).unwrap();
    assert_eq!(r.recovery_answers.len(), 12);
    assert!(a2
        .recovery_counterparties()
        .unwrap()
        .iter()
        .all(|c| c.status == NoticeStatus::Acknowledged));
    for (i, p) in peers.iter().enumerate() {
        let expected = 100 + 10 + i as u128 - u128::from(i % 3 == 0) + if i < 3 { 7 } else { 0 };
        assert_eq!(dev(p), expected, "peer{i}");
    }
    // Every relationship resumes, paying recovered value.
    for p in peers.iter_mut() {
        assert_recovered_value_pays(&mut a2, p);
    }
    assert_eq!(dev(&a2), balance - 12);
}

#[test]
fn capsules_stay_within_their_limit_with_many_large_pending_proposals() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(12);
    let mut a = Wallet::create_with_recovery(
        Box::new(MemoryStore::new()),
        SuiteId::SlhDsaSha2_128f,
        PASS,
        fast_kdf(),
        &[],
        &k,
    )
    .unwrap();
    a.dev_faucet(DEFAULT_TOKEN, Amount(1_000)).unwrap();
    // Twelve SLH-DSA proposals pending at once: more than one capsule can carry.
    let peers: Vec<Wallet> = (0..12).map(|_| memory_wallet(0).0).collect();
    for p in &peers {
        dsm_protocol::mailbox::offer(&mut a, &p.device_id(), token(DEFAULT_TOKEN), Amount(1))
            .unwrap();
    }
    let r = sync(&mut a, &nodes).unwrap();
    assert!(r.backup.short.is_none() && r.backup.conflict.is_none());
    drop(a);
    let (a2, report) = restore(&k, &nodes);
    assert_eq!(dev(&a2), 988);
    assert_eq!(report.counterparties.len(), 12);
    let carried = report
        .counterparties
        .iter()
        .filter(|c| c.pending.is_some())
        .count();
    assert!((1..12).contains(&carried), "{carried} pending carried");
}

/// A stranger with no keys, knowing the lost device's identity, tries to block its recovery
/// at every node (PROTOCOL.md §15.2, §20.3): junk at the old, open tombstone address, junk
/// and a write signed by its own key at the owned tombstone slot. Every owned write is
/// refused by every node, and the recovery goes through.
#[test]
fn no_stranger_can_take_or_block_the_tombstone_and_succession_slots() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(14);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    session(&mut a, &mut b, &[10]);
    sync(&mut a, &nodes).unwrap();
    let lost = a.identity().clone();
    let slot = dsm_recovery::succession::tombstone_slot(&lost, k.authority_key().public_key());
    let stranger = common::stranger_key(0x5a);
    // The stranger's best attempts: a device admission under the lost device's genesis (its
    // own key is not the device's), a key list naming itself, and an authority admission
    // under the genesis's blind (its key makes another recovery owner).
    let attempts = [
        b"junk".to_vec(),
        common::forged_put(
            &stranger,
            dsm_core::slot::Admission::Device {
                genesis: lost.genesis,
            },
            slot,
            b"junk",
        ),
        common::forged_put(&stranger, common::self_admission(&stranger), slot, b"junk"),
        common::forged_put(
            &stranger,
            dsm_core::slot::Admission::Authority {
                genesis_blind: dsm_core::slot::genesis_blind(&lost.genesis),
                device: None,
            },
            slot,
            b"junk",
        ),
    ];
    let refused = common::refused_everywhere(&c.urls, slot, &attempts);
    assert_eq!(
        refused,
        4 * c.urls.len(),
        "every attempt reached every node"
    );
    // Anyone may append to a candidate list, here at the address the tombstone used to
    // have: it never touches the owned slot.
    common::junk_in_lists(
        &c.urls,
        lost.device_id().as_bytes(),
        dsm_core::hash::tagged_hash(dsm_core::tags::Tag::TombstoneSlot, &[b"slot"]).as_bytes(),
        b"junk",
    );
    let (mut a2, _) = restore(&k, &nodes);
    sync(&mut b, &nodes).unwrap();
    sync(&mut a2, &nodes).unwrap();
    assert_recovered_value_pays(&mut a2, &mut b);
}

#[test]
fn a_stolen_device_paying_a_stranger_online_meets_its_tombstone_at_the_nodes() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(13);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    session(&mut a, &mut b, &[10]);
    sync(&mut a, &nodes).unwrap();
    let mut thief = a;
    let (_a2, _) = restore(&k, &nodes);
    // dave never dealt with the lost device, so no notice reaches him.
    let (mut dave, _) = memory_wallet(0);
    let sent = pay_online(&mut thief, &nodes, &dave, 500).unwrap();
    assert_eq!(
        sent.settlement,
        dsm_wallet::online::Settlement::Tombstoned(thief.device_id())
    );
    // Even if the thief's wallet posted it anyway, dave's sync reads the claimed slot,
    // verifies the tombstone, records it and refuses.
    let item = dsm_protocol::message::SessionMessage::Proposal(Box::new(
        thief.offer_for(&sent.proposal).unwrap(),
    ))
    .to_bytes();
    nodes.b0x_post(&dave.introduction_address(), &item).unwrap();
    let r = sync(&mut dave, &nodes).unwrap();
    assert!(r.received.is_empty());
    assert!(
        r.dropped
            .iter()
            .any(|d| d.contains("replaced that device by recovery")),
        "{r:?}"
    );
    assert!(dave.is_tombstoned(&thief.device_id()).unwrap());
    assert_eq!(dev(&dave), 0);
}

#[test]
fn a_pending_transfer_its_receiver_refuses_after_the_recovery_comes_back_to_the_successor() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(9);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    b.set_max_incoming(Some(Amount(10)));
    session(&mut a, &mut b, &[5]);
    pay_online(&mut a, &nodes, &b, 300).unwrap();
    sync(&mut a, &nodes).unwrap();
    assert_eq!(dev(&a), 695);
    drop(a);
    let (mut a2, _) = restore(&k, &nodes);
    assert_eq!(
        dev(&a2),
        695,
        "the pending 300 is debited at the recovered head"
    );
    // Bob refuses the 300 (over his limit) — first from his b0x, then again, from storage,
    // for the notice — and acknowledges the successor.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.successions.len(), 1);
    assert_eq!(dev(&b), 5);
    let r2 = sync(&mut a2, &nodes).unwrap();
    let note = r2.recovery_answers[0].pending.clone().unwrap();
    assert!(note.contains("came back"), "{note}");
    assert_eq!(dev(&a2), 995, "the refused amount is reclaimed");
    let reclaimed = a2
        .history()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == dsm_wallet::EntryKind::Reclaimed)
        .count();
    assert_eq!(reclaimed, 1);
    // Taking the same answer again reclaims nothing more.
    sync(&mut a2, &nodes).unwrap();
    assert_eq!(dev(&a2), 995);
    assert_eq!(status_of(&a2, &b), Some(NoticeStatus::Acknowledged));
    // What came back is provable onward (PROTOCOL.md §20.5): its lineage runs through the
    // proposal and bob's refusal to the lost device, then the successor's statement taking
    // it over, whose slot the sync claimed. All of it, paid to a receiver that saw none of
    // it, settles.
    let (mut zed, _) = memory_wallet(0);
    let (ra, rz) = session(&mut a2, &mut zed, &[995]);
    assert!(ra.refused.is_empty() && rz.refused.is_empty(), "{ra:?}");
    assert_eq!(dev(&zed), 995);
    assert_all_settled(&sync(&mut zed, &nodes).unwrap());
}

/// A queue (PROTOCOL.md §7.7) pending at the recovered head: the notice carries every
/// proposal of it, the counterparty answers them in order (the first accepted, the second
/// over its limit refused, the third refused behind it) and acknowledges, its tip being on
/// the queue's release path; the successor reclaims both refused amounts. Afterwards the
/// counterparty pays the successor online, sealed to it, and the successor receives it.
#[test]
fn a_queue_pending_at_the_recovered_head_is_answered_in_order_and_the_refused_reclaimed() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(25);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(100);
    b.set_max_incoming(Some(Amount(100)));
    session(&mut a, &mut b, &[5]);
    for amount in [20, 300, 7] {
        pay_online(&mut a, &nodes, &b, amount).unwrap();
    }
    sync(&mut a, &nodes).unwrap();
    assert_eq!(dev(&a), 1_000 - 5 - 327);
    assert_eq!(a.pending().unwrap().len(), 3);
    let lost = a.device_id();
    drop(a);
    let (mut a2, report) = restore(&k, &nodes);
    let c = report
        .counterparties
        .iter()
        .find(|c| c.device == b.device_id())
        .unwrap();
    assert!(
        c.pending.as_deref().unwrap().starts_with("20 token ")
            && c.pending
                .as_deref()
                .unwrap()
                .ends_with("sent to it were waiting for their answer"),
        "{c:?}"
    );
    // Bob answers the queue (from his b0x or from the notice, whichever comes first: the
    // answers are the same) and acknowledges.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(
        rb.successions,
        vec![(lost, Verdict::Acknowledged)],
        "{rb:?}"
    );
    assert_eq!(dev(&b), 125, "only the 20 is credited");
    let r2 = sync(&mut a2, &nodes).unwrap();
    let note = r2.recovery_answers[0].pending.clone().unwrap();
    assert_eq!(note.matches("came back").count(), 2, "{note}");
    assert!(note.starts_with("accepted by the counterparty"), "{note}");
    assert_eq!(dev(&a2), 1_000 - 5 - 20, "300 and 7 are reclaimed");
    assert_eq!(status_of(&a2, &b), Some(NoticeStatus::Acknowledged));
    sync(&mut a2, &nodes).unwrap();
    assert_eq!(dev(&a2), 975, "reclaimed once");
    // Receiving online after the recovery: bob pays the successor through its b0x.
    common::introduce(&mut b, &a2);
    let paid = send_online(
        &mut b,
        &nodes,
        &a2.device_id(),
        token(DEFAULT_TOKEN),
        Amount(9),
    )
    .unwrap();
    assert_eq!(paid.proposal.proposal.step.receiver, a2.device_id());
    let r2 = sync(&mut a2, &nodes).unwrap();
    assert_eq!(r2.received.len(), 1, "{r2:?}");
    assert_eq!(dev(&a2), 984);
    sync(&mut b, &nodes).unwrap();
    assert!(b.pending().unwrap().is_empty());
}

#[test]
fn a_stolen_device_and_its_successor_are_never_both_accepted_by_one_counterparty() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(2);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    let (mut cc, _) = memory_wallet(0);
    session(&mut a, &mut b, &[10]);
    session(&mut a, &mut cc, &[10]);
    sync(&mut a, &nodes).unwrap();
    // The thief pays carol offline, after the last backup reached the nodes.
    let mut thief = a;
    session(&mut thief, &mut cc, &[300]);
    assert_eq!(dev(&cc), 310);

    let (mut a2, _) = restore(&k, &nodes);
    let lost = thief.device_id();
    assert_eq!(dev(&a2), 980, "the backup predates the thief's transfer");
    // Carol saw the lost device sign after the backup point: conflict, she takes neither
    // the successor nor (being tombstoned) anything more from the thief.
    let rc = sync(&mut cc, &nodes).unwrap();
    assert_eq!(rc.successions, vec![(lost, Verdict::Conflict)]);
    // Bob acknowledges the successor and refuses the thief from then on.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.successions, vec![(lost, Verdict::Acknowledged)]);
    sync(&mut a2, &nodes).unwrap();
    assert_eq!(status_of(&a2, &cc), Some(NoticeStatus::Conflict));
    assert_eq!(status_of(&a2, &b), Some(NoticeStatus::Acknowledged));
    // Where they collide there is evidence: carol's answer carries the thief's statement
    // succeeding the recovered head, with the tombstone; anyone can check it.
    let evidence = a2
        .recovery_counterparties()
        .unwrap()
        .into_iter()
        .find_map(|c| c.evidence)
        .expect("carol's conflict comes with evidence");
    let bytes: Vec<u8> = (0..evidence.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&evidence[i..i + 2], 16).unwrap())
        .collect();
    let proof = dsm_recovery::succession::SuccessionConflict::from_bytes(&bytes).unwrap();
    assert_eq!(proof.verify(), Ok(lost));
    // A statement from before the backup point proves nothing.
    let early = thief
        .history()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == dsm_wallet::EntryKind::Sent)
        .and_then(|e| e.receipt)
        .unwrap();
    let early = thief.receipt(&early.to_hex()).unwrap().unwrap();
    let mut not_proof = proof.clone();
    not_proof.statement = dsm_core::tripwire::Statement::Proposal(early.proposal);
    assert_eq!(
        not_proof.verify(),
        Err(dsm_recovery::succession::SuccessionError::NotAConflict)
    );

    // The thief keeps trying: offline with bob, online with bob and carol.
    let (rt, rb) = session(&mut thief, &mut b, &[100]);
    assert!(rt.completed.is_empty() && rb.completed.is_empty());
    assert_eq!(dev(&b), 10);
    let (_, rc2) = session(&mut thief, &mut cc, &[100]);
    assert!(rc2.completed.is_empty());
    assert_eq!(dev(&cc), 310);
    if pay_online(&mut thief, &nodes, &b, 50).is_ok() {
        let rb = sync(&mut b, &nodes).unwrap();
        assert!(rb.received.is_empty());
    }
    assert_eq!(dev(&b), 10);
    // The successor deals with bob, never with carol.
    assert_recovered_value_pays(&mut a2, &mut b);
    assert_eq!(dev(&b), 11);
    assert_gated(&mut a2, &nodes, &cc);
    // The thief keeps writing its own backup stream; the successor's is another stream,
    // under another key, so the thief can neither block nor read it.
    let rt = sync(&mut thief, &nodes).unwrap();
    assert!(rt.backup.conflict.is_none());
    let r2 = sync(&mut a2, &nodes).unwrap();
    assert!(r2.backup.conflict.is_none() && r2.backup.short.is_none());
    assert_eq!(a2.backup_status(None).unwrap().generation, 1);
    // If the successor is lost too, a recovery restores it (not the thief's copy), and only
    // when told to replace a device that was itself restored.
    let again = recover_into(MemoryStore::new(), &k, &nodes).err().unwrap();
    assert!(again.to_string().contains("was itself restored"), "{again}");
    let (a3, report) = recover(
        Box::new(MemoryStore::new()),
        &k,
        &nodes,
        &RecoverOptions {
            replace_successor: true,
            ..OPTS
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.lost, a2.device_id());
    assert!(report.left_out.is_empty(), "{:?}", report.left_out);
    assert_eq!(dev(&a3), dev(&a2));
    assert_eq!(a3.backup_status(None).unwrap().generation, 2);
    // No counterparty accepted both.
    for (w, name) in [(&b, "bob"), (&cc, "carol")] {
        let from_thief = w
            .history()
            .unwrap()
            .iter()
            .filter(|e| e.peer == Some(lost) && e.status == dsm_wallet::LineStatus::Final)
            .count()
            > 0;
        let from_successor = w
            .history()
            .unwrap()
            .iter()
            .any(|e| e.peer == Some(a2.device_id()));
        assert!(!(from_successor && from_thief && name == "carol"), "{name}");
        if name == "bob" {
            assert!(from_successor);
        }
    }
}

#[test]
fn the_wrong_phrase_finds_no_backup_and_says_so() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(3);
    let mut a = recoverable(&k, 10);
    sync(&mut a, &nodes).unwrap();
    let err = recover_into(MemoryStore::new(), &keys(4), &nodes)
        .err()
        .unwrap();
    assert!(err.to_string().contains("no backup was found"), "{err}");
    // A wallet without a phrase writes no capsules.
    let (plain, _) = memory_wallet(1);
    assert!(!plain.backup_status(None).unwrap().enabled);
}

#[test]
fn a_lying_replica_is_outvoted_and_reported_and_a_lying_quorum_fails_closed() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(5);
    let mut a = recoverable(&k, 100);
    sync(&mut a, &nodes).unwrap();
    c.liars[0].store(true, std::sync::atomic::Ordering::SeqCst);
    let (a2, report) = restore(&k, &nodes);
    assert_eq!(dev(&a2), 100);
    assert!(report
        .faults
        .iter()
        .any(|f| f.node == c.urls[0] && f.what.contains("other bytes")));
    // Four of six nodes serve the same corrupted capsules: they form a quorum, and the
    // capsules fail authentication, so nothing is restored.
    for l in &c.liars[..4] {
        l.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let k6 = keys(6);
    let mut b = recoverable(&k6, 100);
    c.liars
        .iter()
        .for_each(|l| l.store(false, std::sync::atomic::Ordering::SeqCst));
    sync(&mut b, &nodes).unwrap();
    for l in &c.liars[..4] {
        l.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let err = recover_into(MemoryStore::new(), &k6, &nodes).err().unwrap();
    assert!(err.to_string().contains("does not open"), "{err}");
}

#[test]
fn a_stale_node_is_reported_and_a_capsule_below_quorum_ends_the_backup_there() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(7);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    session(&mut a, &mut b, &[10]);
    sync(&mut a, &nodes).unwrap();
    // Node 5 is down while the next transfer's capsule is uploaded: it stays behind.
    c.switches[5].store(false, std::sync::atomic::Ordering::SeqCst);
    session(&mut a, &mut b, &[20]);
    sync(&mut a, &nodes).unwrap();
    c.switches[5].store(true, std::sync::atomic::Ordering::SeqCst);
    // Only two nodes are up for the last transfer's capsule: fewer than K = 3.
    c.only_up(2);
    session(&mut a, &mut b, &[40]);
    let r = sync(&mut a, &nodes);
    let short = r
        .unwrap()
        .backup
        .short
        .expect("the capsule is short of K nodes");
    assert!(short.contains("reached 2 node(s), 3 needed"), "{short}");
    let st = a.backup_status(None).unwrap();
    assert!(st.uploaded < st.sealed, "{st:?}");
    c.only_up(6);

    // The node that missed capsules is reported; recovery stops at the last capsule a
    // quorum holds (before the 40), and bob, who saw the lost device sign after it, answers
    // conflict. The parcel the 40 was paid from is left out: the two nodes that were up
    // hold the lost device's signed spend of it in its slot (PROTOCOL.md §20.3).
    let (mut a2, report) = recover_into(MemoryStore::new(), &k, &nodes).unwrap();
    assert!(report
        .faults
        .iter()
        .any(|f| f.node == c.urls[5] && f.what.contains("stale")));
    assert_eq!(report.left_out.len(), 1, "{:?}", report.left_out);
    assert!(
        report.left_out[0].contains("(970 of token")
            && report.left_out[0].contains("the lost device spent it after the last backup"),
        "{:?}",
        report.left_out
    );
    assert_eq!(dev(&a2), 0);
    assert!(report.blocked.is_some());
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.successions, vec![(a.device_id(), Verdict::Conflict)]);
    sync(&mut a2, &nodes).unwrap();
    assert_eq!(status_of(&a2, &b), Some(NoticeStatus::Conflict));
    // Funded anew, it still may not pay bob.
    a2.dev_faucet(DEFAULT_TOKEN, Amount(5)).unwrap();
    assert_gated(&mut a2, &nodes, &b);
}

#[test]
fn a_crash_at_any_write_of_a_recovery_is_finished_by_running_it_again() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut seed = 100u8;
    let mut crashes = 0;
    // Crash at write `at` of a recovery (both crash points), each time for a fresh identity,
    // until a recovery runs without reaching the crash.
    for at in 0.. {
        let mut finished_without_crash = false;
        for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
            seed += 1;
            let k = keys(seed);
            let mut a = recoverable(&k, 1_000);
            let (mut b, _) = memory_wallet(0);
            session(&mut a, &mut b, &[10]);
            sync(&mut a, &nodes).unwrap();
            let lost = a.device_id();
            let home = MemoryStore::new();
            let first = recover_into(CrashingStore::new(home.clone(), at, point), &k, &nodes);
            let published = match first {
                Ok(_) => {
                    finished_without_crash = true;
                    continue;
                }
                Err(e) if e.to_string().contains("crash") => {
                    // What the crash left: the device key, if the home was created.
                    Wallet::open(Box::new(home.clone()), PASS)
                        .ok()
                        .map(|w| w.device_id())
                }
                Err(e) => panic!("write {at} {point:?}: {e}"),
            };
            let (w, report) = recover_into(home.clone(), &k, &nodes)
                .unwrap_or_else(|e| panic!("rerun after a crash at write {at} {point:?}: {e}"));
            if let Some(id) = published {
                assert_eq!(
                    w.device_id(),
                    id,
                    "write {at} {point:?}: the identity forked"
                );
            }
            assert_eq!(report.lost, lost);
            assert_eq!(dev(&w), 990);
            // A third run changes nothing and a fresh home cannot fork the identity.
            let (w3, _) = recover_into(home.clone(), &k, &nodes).unwrap();
            assert_eq!(w3.device_id(), w.device_id());
            let fork = recover_into(MemoryStore::new(), &k, &nodes).err().unwrap();
            assert!(fork.to_string().contains("was itself restored"), "{fork}");
            assert!(report.left_out.is_empty(), "{:?}", report.left_out);
            // The counterparty sees one succession and acknowledges it.
            let rb = sync(&mut b, &nodes).unwrap();
            assert_eq!(rb.successions, vec![(lost, Verdict::Acknowledged)]);
            // Whatever write the crash hit, the recovered value pays a cold receiver.
            let mut w3 = w3;
            let (mut zed, _) = memory_wallet(0);
            let (rw, _) = session(&mut w3, &mut zed, &[990]);
            assert!(rw.refused.is_empty(), "write {at} {point:?}: {rw:?}");
            assert_eq!(dev(&zed), 990, "write {at} {point:?}");
            crashes += 1;
        }
        if finished_without_crash {
            break;
        }
        assert!(at < 64, "recovery never finished");
    }
    // The crashes landed, at every write of every step (claims and packs included).
    assert!(crashes >= 20, "only {crashes} crashes landed");
}

/// Every parcel the lost device held is taken over and paid, in one payment, to a receiver
/// that never saw any of them; that receiver pays it on to another cold one, and online the
/// whole line settles — the successor's statements hold the recovered parcels' slots
/// (PROTOCOL.md §20.3).
#[test]
fn every_recovered_parcel_pays_a_receiver_with_a_cold_cache() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(21);
    let mut a = recoverable(&k, 0);
    let (mut b, _) = memory_wallet(0);
    let (mut cc, _) = memory_wallet(0);
    let (t, p) = gold_among(&mut [&mut a, &mut b, &mut cc]);
    // Parcels of several lineages: the mint's change, and value that went out and came
    // back through bob and carol.
    a.mint(&t, Amount(900)).unwrap();
    common::session_token(&mut a, &mut b, t, &[300]);
    common::session_token(&mut b, &mut a, t, &[100, 50]);
    common::session_token(&mut a, &mut cc, t, &[200]);
    common::session_token(&mut cc, &mut a, t, &[70]);
    sync(&mut a, &nodes).unwrap();
    let held: Vec<_> = a
        .parcels(&t)
        .into_iter()
        .map(|(id, amt, _)| (id, amt))
        .collect();
    assert!(held.len() >= 4, "{held:?}");
    let total = a.balance(&t);
    assert_eq!(total, Amount(900 - 300 + 150 - 200 + 70));
    drop(a);

    let (mut a2, report) = restore(&k, &nodes);
    assert_eq!(a2.balance(&t), total);
    assert_eq!(
        a2.parcels(&t).len(),
        held.len(),
        "one root per recovered parcel"
    );
    assert!(report.blocked.is_none());
    // Zed and yan have never seen any of this value, nor this identity.
    let (mut zed, _) = memory_wallet(0);
    let (mut yan, _) = memory_wallet(0);
    for w in [&mut zed, &mut yan] {
        w.import_policy(p.clone(), None).unwrap();
    }
    let (ra, rz) = common::session_token(&mut a2, &mut zed, t, &[total.0]);
    assert!(ra.refused.is_empty() && rz.refused.is_empty(), "{ra:?}");
    assert_eq!(zed.balance(&t), total);
    assert_eq!(a2.balance(&t), Amount::ZERO);
    assert!(
        a2.parcels(&t).is_empty(),
        "every recovered parcel was spent"
    );
    let (rz, ry) = common::session_token(&mut zed, &mut yan, t, &[total.0]);
    assert!(rz.refused.is_empty() && ry.refused.is_empty(), "{rz:?}");
    assert_eq!(yan.balance(&t), total);
    // Online, every hop back to the roots holds its slot: the recovered parcels' slots
    // hold the successor's statements, claimed during the recovery (by the recovery
    // authority: no other key may write the lost device's slots). A hop is written by its
    // holder or its receiver (PROTOCOL.md §15.2), so the successor and zed sync first.
    sync(&mut a2, &nodes).unwrap();
    sync(&mut zed, &nodes).unwrap();
    assert_all_settled(&sync(&mut yan, &nodes).unwrap());
}

/// The lost device spent one of its parcels after the last backup and the spend reached
/// the nodes: the recovery leaves that parcel out and says why, takes over the rest, and
/// the stolen device's later offline spend of a taken-over parcel never settles.
#[test]
fn a_parcel_the_lost_device_spent_after_the_backup_is_left_out() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(22);
    let mut a = recoverable(&k, 0);
    let (mut b, _) = memory_wallet(0);
    let (mut cc, _) = memory_wallet(0);
    let (t, _) = gold_among(&mut [&mut a, &mut b, &mut cc]);
    a.mint(&t, Amount(500)).unwrap();
    common::session_token(&mut a, &mut b, t, &[100]);
    common::session_token(&mut b, &mut a, t, &[40]);
    sync(&mut a, &nodes).unwrap();
    // Two parcels now: the mint's change (400) and bob's 40. The thief pays bob 40 from
    // one of them and bob settles it online before the recovery.
    let before: Vec<_> = a
        .parcels(&t)
        .into_iter()
        .map(|(id, amt, _)| (id, amt))
        .collect();
    assert_eq!(before.len(), 2);
    let mut thief = a;
    common::session_token(&mut thief, &mut b, t, &[40]);
    let after: Vec<_> = thief.parcels(&t).into_iter().map(|(id, _, _)| id).collect();
    let spent: Vec<_> = before
        .iter()
        .filter(|(id, _)| !after.contains(id))
        .collect();
    assert_eq!(spent.len(), 1);
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(!rb.settled.is_empty(), "{rb:?}");
    let (a2, report) = recover_into(MemoryStore::new(), &k, &nodes).unwrap();
    assert_eq!(report.left_out.len(), 1, "{:?}", report.left_out);
    assert!(
        report.left_out[0].contains(&spent[0].0.to_string())
            && report.left_out[0].contains("the lost device spent it after the last backup"),
        "{:?}",
        report.left_out
    );
    assert_eq!(a2.balance(&t), Amount(440 - spent[0].1 .0));
    // The thief spends everything it still has offline to carol, the parcel the successor
    // took over included: her line never settles, because that parcel's slot holds the
    // successor's statement.
    let all = thief.balance(&t).0;
    let (_, rc) = common::session_token(&mut thief, &mut cc, t, &[all]);
    assert_eq!(rc.completed.len(), 1, "{rc:?}");
    let r = sync(&mut cc, &nodes).unwrap();
    assert!(!r.settled.is_empty(), "{r:?}");
    assert!(
        r.settled
            .iter()
            .all(|s| !matches!(s.settlement, dsm_wallet::online::Settlement::Settled { .. })),
        "{r:?}"
    );
}

/// A re-issue changes the held set without a head change; the backup records it too, so a
/// wallet lost after a refresh recovers its fresh root, which pays a cold receiver.
#[test]
fn a_refreshed_root_is_recovered_and_pays_on() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(23);
    let (mut issuer, _) = memory_wallet(0);
    let p = common::gold(&issuer, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let mut a = recoverable(&k, 0);
    a.import_policy(p.clone(), None).unwrap();
    issuer.mint(&t, Amount(900)).unwrap();
    common::session_token(&mut issuer, &mut a, t, &[300, 200]);
    sync(&mut a, &nodes).unwrap();
    let req = a.refresh_request(&t).unwrap();
    let sig = dsm_wallet::online::sign_refresh(&mut issuer, &nodes, &req).unwrap();
    let (root, _) =
        dsm_wallet::online::complete_refresh(&mut a, Some(&nodes), &req, vec![sig]).unwrap();
    sync(&mut a, &nodes).unwrap();
    assert_eq!(a.parcels(&t), vec![(root, Amount(500), 0)]);
    drop(a);
    let (mut a2, _) = restore(&k, &nodes);
    assert_eq!(a2.balance(&t), Amount(500));
    assert_eq!(a2.parcels(&t).len(), 1);
    let (mut zed, _) = memory_wallet(0);
    zed.import_policy(p, None).unwrap();
    let (_, rz) = common::session_token(&mut a2, &mut zed, t, &[500]);
    assert_eq!(rz.completed.len(), 1, "{rz:?}");
    assert_eq!(zed.balance(&t), Amount(500));
}

/// The lost device's pending transfer that its receiver never saw (signed, then the phone
/// was lost before it was delivered): the notice carries its lineage, whose objects the
/// successor stored at the nodes, and the receiver — who never verified the parcels it
/// spends — accepts it (PROTOCOL.md §20.4).
#[test]
fn a_pending_transfer_the_receiver_never_saw_is_answered_from_the_notice_with_its_lineage() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(24);
    let mut a = recoverable(&k, 0);
    let (mut cc, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut issuer, _) = memory_wallet(0);
    let (t, _) = gold_among(&mut [&mut issuer, &mut a, &mut cc, &mut bob]);
    issuer.mint(&t, Amount(1_000)).unwrap();
    common::session_token(&mut issuer, &mut a, t, &[50]);
    common::session_token(&mut issuer, &mut bob, t, &[300]);
    common::session_token(&mut bob, &mut a, t, &[200]);
    // A relationship with carol, then a payment from bob's 200, whose lineage carol never
    // saw, signed and not delivered.
    common::session_token(&mut a, &mut cc, t, &[10]);
    let offer = dsm_protocol::mailbox::offer(&mut a, &cc.device_id(), t, Amount(150)).unwrap();
    assert!(offer.manifests.iter().all(|m| !m.hops.is_empty()));
    // Only the backup reaches the nodes (a `sync` would post the proposal to carol's b0x).
    let push = a.push_capsules(&nodes).unwrap();
    assert!(push.short.is_none() && push.conflict.is_none());
    let lost = a.device_id();
    drop(a);
    let (mut a2, report) = restore(&k, &nodes);
    assert!(report
        .counterparties
        .iter()
        .any(|c| c.pending.is_some() && c.notified));
    let rc = sync(&mut cc, &nodes).unwrap();
    assert_eq!(
        rc.successions,
        vec![(lost, Verdict::Acknowledged)],
        "{rc:?}"
    );
    assert_eq!(cc.balance(&t), Amount(160), "the pending 150 is accepted");
    sync(&mut a2, &nodes).unwrap();
    let note = a2
        .recovery_counterparties()
        .unwrap()
        .into_iter()
        .find_map(|c| c.pending)
        .unwrap();
    assert!(note.contains("accepted"), "{note}");
    assert_eq!(a2.balance(&t), Amount(250 - 10 - 150));
}

/// A wallet holding more parcels than one capsule records (1,024): the SUCCEED change
/// continues in the next capsules of its transaction, and a second recovery (of the
/// successor) restores every one of them (PROTOCOL.md §20.2, `parts`).
#[test]
#[ignore = "heavy (about 7 minutes: 1,044 transfers and two recoveries of 1,044 parcels); run with `cargo test -p dsm-wallet --test recovery -- --ignored`"]
fn a_change_moving_more_parcels_than_a_capsule_records_spans_several_capsules() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(25);
    let mut a = recoverable(&k, 0);
    let (mut b, _) = memory_wallet(2_000);
    let n = dsm_recovery::body::MAX_HELD_PER_CAPSULE + 20;
    session(&mut b, &mut a, &vec![1; n]);
    assert_eq!(dev(&a), n as u128);
    sync(&mut a, &nodes).unwrap();
    drop(a);
    let (a2, _) = restore(&k, &nodes);
    assert_eq!(dev(&a2), n as u128);
    assert_eq!(a2.parcels(&token(DEFAULT_TOKEN)).len(), n);
    let st = a2.backup_status(None).unwrap();
    assert!(st.sealed >= 2, "{st:?}");
    sync(&mut { a2 }, &nodes).unwrap();
    let (a3, report) = recover(
        Box::new(MemoryStore::new()),
        &k,
        &nodes,
        &RecoverOptions {
            replace_successor: true,
            ..OPTS
        },
        &mut |_| {},
    )
    .unwrap();
    assert!(report.left_out.is_empty(), "{:?}", report.left_out);
    assert_eq!(a3.parcels(&token(DEFAULT_TOKEN)).len(), n);
    assert_eq!(dev(&a3), n as u128);
}

/// A stranger who learned a device's capsule stream (a node operator sees its slots) tries
/// to pre-empt the stream's next capsule and pack positions (PROTOCOL.md §15.2, §20.2): junk,
/// and a write signed by its own key. Every node refuses them; the device's next capsules
/// upload and a recovery reads them all.
#[test]
fn no_stranger_can_write_a_capsule_stream() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let k = keys(23);
    let mut a = recoverable(&k, 1_000);
    let (mut b, _) = memory_wallet(0);
    sync(&mut a, &nodes).unwrap();
    let owner = k.generation(0).slot_owner();
    let next = a.backup_status(None).unwrap().sealed;
    let stranger = common::stranger_key(0x55);
    let mut refused = 0;
    for i in next..next + 4 {
        for key in [
            dsm_recovery::capsule_slot(i),
            dsm_recovery::pack_position(i, 0),
        ] {
            let forged = common::forged_put(
                &stranger,
                common::self_admission(&stranger),
                (owner, key),
                b"junk",
            );
            refused +=
                common::refused_everywhere(&c.urls, (owner, key), &[b"junk".to_vec(), forged]);
        }
    }
    assert_eq!(
        refused,
        4 * 2 * 2 * c.urls.len(),
        "every attempt reached every node"
    );
    // The device goes on: new capsules (with packs) upload, and a recovery reads them all.
    session(&mut a, &mut b, &[10, 20]);
    let r = sync(&mut a, &nodes).unwrap();
    assert!(
        r.backup.conflict.is_none() && r.backup.short.is_none(),
        "{r:?}"
    );
    assert!(r.backup.uploaded >= 2, "{r:?}");
    let (a2, _) = restore(&k, &nodes);
    assert_eq!(dev(&a2), 970);
}
