//! Online operation against a real cluster of 6 storage nodes on loopback (PROTOCOL.md §16):
//! unilateral transfers through b0x inboxes, settlement by anchoring, the modal lock between
//! an online pending transfer and offline sessions, refusals coming back through the b0x,
//! double spends by a cloned wallet prevented online and detected offline, evidence
//! propagation to wallets that never met the cheater, and junk in a b0x.

mod common;

use common::cluster::Cluster;
use common::{dev, memory_wallet, session, PASS};
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::receipt::ChainView;
use dsm_protocol::mailbox;
use dsm_protocol::message::SessionMessage;
use dsm_wallet::online::{send_online, sync, Settlement};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};

fn amount(n: u128) -> Amount {
    Amount(n)
}

fn settlement_of(w: &Wallet, height: u64) -> Option<dsm_wallet::LineSettlement> {
    w.history()
        .unwrap()
        .into_iter()
        .find(|e| e.height == height)
        .and_then(|e| e.settlement)
}

#[test]
fn an_online_transfer_goes_through_the_b0x_settles_and_stitches() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let dev_token = token(DEFAULT_TOKEN);

    common::introduce(&mut a, &b);
    let sent = send_online(&mut a, &nodes, &b.device_id(), dev_token, amount(30)).unwrap();
    assert_eq!(sent.settlement, Settlement::Settled { acks: 6 });
    assert_eq!(sent.posted.unwrap(), 6);
    assert!(sent.faults.is_empty());
    assert_eq!(dev(&a), 70, "debited at once");
    let height = sent.proposal.proposal.sender_child_head.height;
    assert_eq!(
        settlement_of(&a, height),
        Some(dsm_wallet::LineSettlement::Settled)
    );

    // A second transfer to b before it answered queues behind the first (PROTOCOL.md
    // §7.7): built on its child tip.
    common::introduce(&mut a, &b);
    let second = send_online(&mut a, &nodes, &b.device_id(), dev_token, amount(1)).unwrap();
    assert_eq!(
        second.proposal.proposal.step.parent_tip,
        sent.proposal.proposal.step.child_tip()
    );
    assert_eq!(dev(&a), 69);
    // …while other relationships go on.
    let (mut x, _) = memory_wallet(0);
    common::introduce(&mut a, &x);
    send_online(&mut a, &nodes, &x.device_id(), dev_token, amount(5)).unwrap();

    // b was offline; it syncs and is credited, settled.
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 2, "both, in one sync: {rb:?}");
    assert!(rb.waiting.is_empty() && rb.dropped.is_empty(), "{rb:?}");
    assert_eq!(dev(&b), 31);
    let credit = b.history().unwrap().pop().unwrap();
    assert_eq!(credit.settlement, Some(dsm_wallet::LineSettlement::Settled));

    // a syncs: the acceptance came back through its b0x; nothing is pending to b.
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 2, "{ra:?}");
    assert!(a
        .pending()
        .unwrap()
        .iter()
        .all(|p| p.proposal.step.receiver != b.device_id()));
    assert_eq!(
        a.receipt(&sent.proposal.proposal.commit().to_hex())
            .unwrap()
            .unwrap(),
        b.receipt(&sent.proposal.proposal.commit().to_hex())
            .unwrap()
            .unwrap(),
        "both hold the same complete receipt"
    );
    // The relationship is unlocked, and b's b0x was acknowledged: a second sync is empty.
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), dev_token, amount(2)).unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "only the new transfer: {rb:?}");
    assert_eq!(dev(&b), 33);
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty() && rb.dropped.is_empty() && rb.waiting.is_empty());
    sync(&mut x, &nodes).unwrap();
    sync(&mut a, &nodes).unwrap();
    assert_eq!(dev(&a) + dev(&b) + dev(&x), 100, "value conserved");
    assert!(a.pending().unwrap().is_empty());
}

/// The modal lock between an online pending transfer and an offline session: the offline
/// session first resolves the pending one (it rides in the hello), and the b0x copy found
/// later is answered idempotently — no value is duplicated.
#[test]
fn an_offline_session_resolves_an_online_pending_transfer_first() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    common::introduce(&mut a, &b);
    send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        amount(10),
    )
    .unwrap();
    // The two meet offline before b ever syncs; a pays 5 more.
    let (ra, rb) = session(&mut a, &mut b, &[5]);
    assert!(ra.error.is_none() && rb.error.is_none(), "{ra:?} {rb:?}");
    assert_eq!((dev(&a), dev(&b)), (85, 15), "the pending 10 first, then 5");
    assert!(a.pending().unwrap().is_empty());
    // Now b syncs: the b0x still holds the proposal it already accepted.
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(
        rb.received.is_empty(),
        "answered before: no new credit {rb:?}"
    );
    assert_eq!(dev(&b), 15);
    let ra = sync(&mut a, &nodes).unwrap();
    assert!(ra.stitched.is_empty(), "already stitched offline: {ra:?}");
    assert_eq!(dev(&a) + dev(&b), 100);
    common::assert_settled(&a, &b, 100);
}

#[test]
fn a_refusal_comes_back_through_the_b0x_and_releases_the_amount() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    b.set_max_incoming(Some(amount(5)));
    let dev_token = token(DEFAULT_TOKEN);
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), dev_token, amount(10)).unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert_eq!(dev(&b), 0);
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.released.len(), 1, "{ra:?}");
    assert_eq!(dev(&a), 100, "the amount is back");
    // Unlocked: a smaller transfer goes through.
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), dev_token, amount(4)).unwrap();
    sync(&mut b, &nodes).unwrap();
    sync(&mut a, &nodes).unwrap();
    assert_eq!((dev(&a), dev(&b)), (96, 4));
    common::assert_settled(&a, &b, 100);
}

/// A cloned wallet spends one head twice. Online, the second spend cannot settle: the
/// clone's own anchor fails, and a receiver handed the proposal directly refuses it because
/// the slot holds the first. Offline, the receiver is paid (final) but its sync reports the
/// conflict and publishes the proof; a wallet that never met the cheater learns it from the
/// nodes and refuses it.
#[test]
fn a_cloned_wallet_cannot_settle_a_double_spend_and_every_syncing_wallet_refuses_it() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut m, store) = memory_wallet(100);
    let mut clone = Wallet::open(Box::new(store.fork()), PASS).unwrap();
    let mut clone2 = Wallet::open(Box::new(store.fork()), PASS).unwrap();
    let (mut b, _) = memory_wallet(0);
    let (mut cw, _) = memory_wallet(0);
    let dev_token = token(DEFAULT_TOKEN);

    common::introduce(&mut m, &b);
    let first = send_online(&mut m, &nodes, &b.device_id(), dev_token, amount(100)).unwrap();
    assert!(matches!(first.settlement, Settlement::Settled { .. }));
    // b syncs and is paid by the settled transfer.
    sync(&mut b, &nodes).unwrap();
    assert_eq!(dev(&b), 100);
    // The clone tries the same head online: its anchor finds m's proposal.
    common::introduce(&mut clone, &cw);
    let second = send_online(&mut clone, &nodes, &cw.device_id(), dev_token, amount(100)).unwrap();
    assert!(
        matches!(&second.settlement, Settlement::Conflict(e) if e.device() == m.device_id()),
        "{:?}",
        second.settlement
    );
    assert_eq!(
        second.posted.unwrap(),
        0,
        "a conflicting proposal is not posted"
    );
    // Even handed to cw's b0x directly, it is not credited.
    let cw_offer = clone.offer_for(&second.proposal).unwrap();
    nodes
        .b0x_post(
            &cw.introduction_address(),
            &SessionMessage::Proposal(Box::new(cw_offer.clone())).to_bytes(),
        )
        .unwrap();
    let rc = sync(&mut cw, &nodes).unwrap();
    assert!(rc.received.is_empty(), "{rc:?}");
    assert_eq!(dev(&cw), 0, "online, the double spend is prevented");
    assert!(
        cw.is_equivocator(&m.device_id()).unwrap(),
        "the proof reached cw"
    );

    // Offline: a second clone pays d in a session — final for d, but d's sync finds the
    // conflict at the slot and reports it.
    let (mut d, _) = memory_wallet(0);
    let (rc2, rd) = session(&mut clone2, &mut d, &[100]);
    assert!(rc2.error.is_none() && rd.error.is_none());
    assert_eq!(
        dev(&d),
        100,
        "offline, the receiver is paid before any node is reachable"
    );
    let rd = sync(&mut d, &nodes).unwrap();
    let line = rd.settled.last().unwrap();
    assert!(
        matches!(&line.settlement, Settlement::Conflict(e) if e.device() == m.device_id()),
        "{rd:?}"
    );
    assert_eq!(
        d.history().unwrap().pop().unwrap().settlement,
        Some(dsm_wallet::LineSettlement::Conflict)
    );

    // A wallet that never met m learns the evidence from the nodes and refuses m.
    let (mut e, _) = memory_wallet(0);
    let re = sync(&mut e, &nodes).unwrap();
    assert_eq!(re.learned, vec![m.device_id()]);
    let (rm, _) = session(&mut m, &mut e, &[1]);
    assert!(rm.error.is_some(), "the cheater is refused");
    assert_eq!(dev(&e), 0);
}

/// Evidence is keyless (a proof proves itself), so a cheater can publish junk under its own
/// device id at every node before it cheats; the nodes keep every distinct proof, so the
/// real one still spreads, and a reader drops the junk.
#[test]
fn junk_evidence_put_first_blocks_no_real_proof() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut m, store) = memory_wallet(100);
    let mut clone = Wallet::open(Box::new(store.fork()), PASS).unwrap();
    let (b, _) = memory_wallet(0);
    let (cw, _) = memory_wallet(0);
    let dev_token = token(DEFAULT_TOKEN);
    assert_eq!(
        nodes.publish_evidence(m.device_id().as_bytes(), b"junk before the cheat"),
        6
    );
    common::introduce(&mut m, &b);
    send_online(&mut m, &nodes, &b.device_id(), dev_token, amount(100)).unwrap();
    common::introduce(&mut clone, &cw);
    let second = send_online(&mut clone, &nodes, &cw.device_id(), dev_token, amount(100)).unwrap();
    assert!(
        matches!(&second.settlement, Settlement::Conflict(e) if e.device() == m.device_id()),
        "{:?}",
        second.settlement
    );
    // The clone's wallet stored the proof; its sync publishes it under m's device id.
    let rs = sync(&mut clone, &nodes).unwrap();
    assert!(rs.published >= 6, "{rs:?}");
    let (mut e, _) = memory_wallet(0);
    let re = sync(&mut e, &nodes).unwrap();
    assert_eq!(re.learned, vec![m.device_id()], "{re:?}");
    assert!(
        re.dropped
            .iter()
            .any(|d| d.contains("published evidence") && d.contains("does not verify")),
        "{re:?}"
    );
    assert!(re.faults.is_empty(), "junk is no node's fault: {re:?}");
}

/// Settlement needs W = 4 of the slot's 6 nodes: with 3 up, an offline transfer is final
/// but unsettled and an online one waits; once the nodes are back, the next sync settles
/// both and the waiting transfer is credited.
#[test]
fn transfers_stay_unsettled_until_a_quorum_of_nodes_is_back() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let (ra, _) = session(&mut a, &mut b, &[10]);
    assert!(ra.error.is_none());
    c.only_up(3);
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(
        matches!(
            rb.settled.last().unwrap().settlement,
            Settlement::Unsettled { acks: 3 }
        ),
        "{rb:?}"
    );
    assert_eq!(
        b.history().unwrap().pop().unwrap().settlement,
        Some(dsm_wallet::LineSettlement::Unsettled)
    );
    common::introduce(&mut a, &b);
    let sent = send_online(
        &mut a,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        amount(7),
    )
    .unwrap();
    assert_eq!(sent.settlement, Settlement::Unsettled { acks: 3 });
    assert_eq!(sent.posted.unwrap(), 3, "K = 3 copies are enough to post");
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty() && rb.waiting.len() == 1, "{rb:?}");
    assert_eq!(dev(&b), 10, "not credited before it settles");

    c.only_up(6);
    sync(&mut a, &nodes).unwrap(); // a re-anchors its unsettled proposal
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(dev(&b), 17);
    assert!(b
        .history()
        .unwrap()
        .iter()
        .filter(|e| e.receipt.is_some())
        .all(|e| e.settlement == Some(dsm_wallet::LineSettlement::Settled)));
    sync(&mut a, &nodes).unwrap();
    common::assert_settled(&a, &b, 100);
}

#[test]
fn junk_in_a_b0x_is_dropped_and_acknowledged() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let (mut x, _) = memory_wallet(0);
    let addr = b.introduction_address();
    nodes.b0x_post(&addr, b"not a message").unwrap();
    // A valid proposal addressed to someone else.
    let p = mailbox::offer(&mut a, &x.device_id(), token(DEFAULT_TOKEN), amount(1)).unwrap();
    nodes
        .b0x_post(
            &addr,
            &SessionMessage::Proposal(Box::new(p.clone())).to_bytes(),
        )
        .unwrap();
    // A proposal to b whose signature does not cover its amount.
    let mut bad = mailbox::offer(&mut a, &b.device_id(), token(DEFAULT_TOKEN), amount(2)).unwrap();
    bad.signed.proposal.step.amount = amount(3);
    nodes
        .b0x_post(&addr, &SessionMessage::Proposal(Box::new(bad)).to_bytes())
        .unwrap();
    // A message kind that has no place in a b0x.
    nodes
        .b0x_post(
            &addr,
            &SessionMessage::Close(dsm_protocol::message::Close {}).to_bytes(),
        )
        .unwrap();
    // "Evidence" that proves nothing, published on every node: dropped at each (anyone may
    // publish, so it is no node's fault).
    assert_eq!(nodes.publish_evidence(&[9; 32], b"no proof at all"), 6);
    let rb = sync(&mut b, &nodes).unwrap();
    let (evidence, items): (Vec<String>, Vec<String>) = rb
        .dropped
        .iter()
        .cloned()
        .partition(|d| d.starts_with("published evidence"));
    assert_eq!(evidence.len(), 6, "{rb:?}");
    assert!(rb.faults.is_empty(), "{rb:?}");
    assert!(rb.learned.is_empty());
    assert_eq!(items.len(), 4, "{rb:?}");
    let rb_dropped = items;
    for (i, why) in [
        "does not decode",
        "addressed to another device",
        "is invalid",
        "not a b0x item",
    ]
    .iter()
    .enumerate()
    {
        assert!(rb_dropped[i].contains(why), "{i}: {rb_dropped:?}");
    }
    assert!(rb.received.is_empty());
    assert_eq!(dev(&b), 0);
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.dropped.is_empty(), "acknowledged: {rb:?}");
    assert!(
        rb.faults.is_empty(),
        "the cursor moved past the junk: {rb:?}"
    );

    // An acceptance with a broken signature is refused; the genuine one is then taken.
    let answer = mailbox::answer(&mut x, &p).unwrap();
    let mut forged = answer.reply.to_bytes();
    *forged.last_mut().unwrap() ^= 1;
    let a_addr = a.introduction_address();
    nodes.b0x_post(&a_addr, &forged).unwrap();
    let ra = sync(&mut a, &nodes).unwrap();
    assert!(ra.stitched.is_empty(), "{ra:?}");
    assert!(
        ra.dropped
            .iter()
            .any(|d| d.contains("an answer that was refused")),
        "{ra:?}"
    );
    nodes.b0x_post(&a_addr, &answer.reply.to_bytes()).unwrap();
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
}

/// An issuer of a GOLD token that minted 500 and paid 300 of it to `a` offline (its mint not
/// published yet), and `b`, both holding the policy: (issuer, policy, token, a, b).
fn minted_to_a() -> (
    Wallet,
    dsm_token::policy::TokenPolicy,
    dsm_core::chain::TokenId,
    Wallet,
    Wallet,
) {
    let (mut issuer, _) = memory_wallet(0);
    let p = common::gold(&issuer, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut a, _) = memory_wallet(0);
    let (mut b, _) = memory_wallet(0);
    for w in [&mut a, &mut b] {
        w.import_policy(p.clone(), None).unwrap();
    }
    issuer.mint(&t, Amount(500)).unwrap();
    common::session_token(&mut issuer, &mut a, t, &[300]);
    (issuer, p, t, a, b)
}

/// An item that must wait (its lineage is not settled: the issuer has not published its
/// mint) and 300 junk items around it never hide a payment: the receiver takes custody of
/// the waiting item, the nodes delete everything read, and the item is credited from
/// custody once it settles (PROTOCOL.md §16.3, "Custody").
#[test]
fn a_waiting_item_and_a_flood_of_junk_never_hide_a_payment() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut issuer, _, t, mut a, mut b) = minted_to_a();
    let (mut d, _) = memory_wallet(100);
    // The issuer does not publish its mint yet: a's payment to b cannot settle.
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), t, amount(10)).unwrap();
    let addr = b.introduction_address();
    for i in 0..300u32 {
        nodes.b0x_post(&addr, &i.to_be_bytes()).unwrap();
    }
    common::introduce(&mut d, &b);
    send_online(
        &mut d,
        &nodes,
        &b.device_id(),
        token(DEFAULT_TOKEN),
        amount(5),
    )
    .unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(
        rb.received.len(),
        1,
        "d's payment, behind the flood: {rb:?}"
    );
    assert_eq!(dev(&b), 5);
    assert_eq!(rb.dropped.len(), 300);
    assert_eq!(rb.waiting.len(), 1, "{rb:?}");
    assert_eq!(
        b.custody().unwrap().len(),
        1,
        "the waiting item is in custody"
    );
    let left = common::own_b0x(&mut b, &nodes);
    assert!(
        left.is_empty(),
        "the nodes deleted everything read: {left:?}"
    );
    // Once the issuer publishes its mint, the item is credited from custody.
    sync(&mut issuer, &nodes).unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(b.balance(&t), Amount(10));
    assert!(b.custody().unwrap().is_empty());
}

/// A b0x item carries the offer's manifests, never its lineage objects (PROTOCOL.md §16.3):
/// the sender stores them at the nodes first and the receiver, cold, reads those it lacks
/// from there. An item whose objects are at no node waits and credits nothing.
#[test]
fn a_b0x_item_references_its_lineage_objects_at_the_nodes() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut issuer, p, t, mut a, mut b) = minted_to_a();
    // The issuer publishes its mint (only an issuer may write a mint's slot).
    sync(&mut issuer, &nodes).unwrap();
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), t, amount(120)).unwrap();
    let items = common::own_b0x(&mut b, &nodes);
    assert!(!items.is_empty());
    for item in &items {
        // Sealed to bob, whose identity document a holds (PROTOCOL.md §16.1).
        let sealed = mailbox::SealedItem::from_bytes(&item.bytes).expect("a sealed item");
        let envelope = mailbox::open_envelope(&b.kem_keys().1, &b.device_id(), &sealed).unwrap();
        let SessionMessage::Proposal(offer) = SessionMessage::from_bytes(&envelope.item).unwrap()
        else {
            panic!("a proposal")
        };
        assert!(offer.objects.is_empty(), "no objects inside the item");
        assert!(!offer.listed().is_empty());
        // The item names where each listed object's sealed form is (PROTOCOL.md §2).
        assert_eq!(offer.sealed.len(), offer.listed().len());
        // All of them or none: a list of another length does not decode.
        let mut short = (*offer).clone();
        short.sealed.pop();
        assert!(matches!(
            dsm_core::receipt::Offer::from_bytes(&short.to_bytes()),
            Err(dsm_core::codec::DecodeError::Invalid(m))
                if m.contains("the sealed address of every object it lists, or of none")
        ));
        for (a, s) in offer.listed().iter().zip(&offer.sealed) {
            let (found, faults) = nodes.get_sealed_content(a, s).unwrap();
            assert!(faults.is_empty(), "{faults:?}");
            let found = found.expect("every listed object is at the nodes");
            assert_eq!(dsm_core::hash::object_address(&found), *a);
            assert_eq!(dsm_core::seal::sealed_address(&found), *s);
            // Sealed (PROTOCOL.md §5.6), never in clear at its address, and not at its
            // locator, where whoever learned the address could append junk.
            assert!(nodes.get_object(a).is_err(), "not a plain object");
            assert_eq!(nodes.find_sealed_object(a).unwrap().0, None);
        }
    }
    // Bob never saw any of this lineage: he reads it from the nodes — content-addressed
    // objects only, never a candidate list a former holder could fill with junk — and is
    // credited.
    let lists = |c: &Cluster| -> u64 {
        c.requests_by_route()
            .iter()
            .filter(|(route, _)| route.starts_with("GET /v1/lists/"))
            .map(|(_, n)| n)
            .sum()
    };
    let before = lists(&c);
    assert!(before > 0, "the locator reads above are counted");
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(b.balance(&t), Amount(120));
    assert_eq!(
        lists(&c),
        before,
        "bob read no candidate list for the lineage"
    );

    // A modified sender posts an item whose objects it never stored: it gets a signed
    // LINEAGE refusal (a final answer, so the item never blocks the b0x), and nothing is
    // credited.
    let (mut m, _) = memory_wallet(0);
    m.import_policy(p.clone(), None).unwrap();
    common::session_token(&mut issuer, &mut m, t, &[50]);
    let offer = mailbox::offer(&mut m, &b.device_id(), t, amount(10)).unwrap();
    assert!(!offer.objects.is_empty());
    let bare = dsm_core::receipt::Offer {
        objects: Vec::new(),
        ..offer
    };
    nodes
        .b0x_post(
            &b.introduction_address(),
            &SessionMessage::Proposal(Box::new(bare)).to_bytes(),
        )
        .unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty() && rb.waiting.is_empty(), "{rb:?}");
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert_eq!(
        rb.refused[0].refusal.refusal.reason,
        dsm_protocol::session::RefusalReason::Lineage.code()
    );
    assert_eq!(b.balance(&t), Amount(120));
}

/// A stranger's b0x item that lists thousands of lineage objects (here 1,100 junk objects
/// it really stored at the nodes) costs its receiver at most `MAX_FETCHED_OBJECTS` object
/// reads, and is refused with a signed LINEAGE refusal; one listing objects no node has
/// stops at the first chunk of 64 (PROTOCOL.md §16.3).
#[test]
fn a_b0x_item_listing_thousands_of_objects_costs_a_bounded_number_of_reads() {
    use std::sync::atomic::Ordering;
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut issuer, _) = memory_wallet(0);
    let p = common::gold(&issuer, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut m, _) = memory_wallet(0);
    let (mut b, _) = memory_wallet(0);
    for w in [&mut m, &mut b] {
        w.import_policy(p.clone(), None).unwrap();
    }
    issuer.mint(&t, Amount(100)).unwrap();
    common::session_token(&mut issuer, &mut m, t, &[50]);
    let junk: Vec<Vec<u8>> = (0..1_100u32)
        .map(|i| [b"junk".as_slice(), &i.to_be_bytes()].concat())
        .collect();
    for j in &junk {
        nodes.put_sealed_object(j).unwrap();
    }
    let (to, to_address) = (b.device_id(), b.introduction_address());
    let post = |m: &mut dsm_wallet::Wallet, hops: Vec<dsm_core::hash::Digest>| {
        let offer = mailbox::offer(m, &to, t, amount(5)).unwrap();
        for o in &offer.objects {
            nodes.put_sealed_object(o).unwrap();
        }
        let mut manifests = offer.manifests.clone();
        manifests[0].hops.extend(hops);
        let item = dsm_core::receipt::Offer {
            manifests,
            objects: Vec::new(),
            ..offer
        };
        nodes
            .b0x_post(
                &to_address,
                &SessionMessage::Proposal(Box::new(item)).to_bytes(),
            )
            .unwrap();
    };
    // Objects that exist: at most MAX_FETCHED_OBJECTS are read (one node each).
    post(
        &mut m,
        junk.iter()
            .map(|j| dsm_core::hash::object_address(j))
            .collect(),
    );
    let before = c.object_reads.load(Ordering::SeqCst);
    let rb = sync(&mut b, &nodes).unwrap();
    let reads = c.object_reads.load(Ordering::SeqCst) - before;
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert!(rb.received.is_empty() && rb.waiting.is_empty(), "{rb:?}");
    assert!(
        reads <= dsm_wallet::online::MAX_FETCHED_OBJECTS as u64 + 16,
        "{reads} object reads"
    );
    assert!(reads >= 1_000, "the objects were read ({reads})");
    // Objects that exist nowhere: the first chunk of 64 that misses one ends the reads.
    let ra = sync(&mut m, &nodes).unwrap();
    assert_eq!(ra.released.len(), 1, "{ra:?}");
    post(
        &mut m,
        (0..2_000u32)
            .map(|i| dsm_core::hash::object_address(&i.to_be_bytes()))
            .collect(),
    );
    let before = c.object_reads.load(Ordering::SeqCst);
    let rb = sync(&mut b, &nodes).unwrap();
    let reads = c.object_reads.load(Ordering::SeqCst) - before;
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert!(reads <= 64 * 6 + 16, "{reads} object reads");
    assert_eq!(b.balance(&t), Amount::ZERO);
}

/// A stranger's succession notice whose records do not verify costs its receiver no object
/// reads, however many lineage objects its pending proposal lists; it is dropped.
#[test]
fn a_stranger_s_notice_costs_no_object_reads() {
    use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
    use dsm_recovery::succession::*;
    use std::sync::atomic::Ordering;
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut m, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let offer = mailbox::offer(&mut m, &b.device_id(), token(DEFAULT_TOKEN), amount(5)).unwrap();
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([9; 32]));
    let genesis = dsm_core::identity::GenesisRecord {
        founding_key: key.public_key().clone(),
        contributions: vec![dsm_core::identity::EntropyReveal {
            contributor: dsm_core::hash::Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: Some(key.public_key().clone()),
    };
    let tombstone = sign_tombstone(
        &key,
        Tombstone {
            lost: m.identity().clone(),
            recovered_head: m.head().clone(),
        },
    );
    let succession = sign_succession(
        &key,
        Succession {
            tombstone: tombstone.record.digest(),
            successor: m.identity().clone(),
        },
    );
    let mut manifests = offer.manifests.clone();
    manifests[0]
        .hops
        .extend((0..500u32).map(|i| dsm_core::hash::object_address(&i.to_be_bytes())));
    let notice = SuccessionNotice {
        genesis,
        tombstone,
        succession,
        counterparty: b.device_id(),
        proof: dsm_core::smt::SparseMerkleTree::new().prove(&[0; 32]),
        pending: vec![offer.signed.clone()],
        pending_lineage: manifests,
        successor_document: Vec::new(),
        pending_sealed: Vec::new(),
    };
    nodes
        .b0x_post(
            &b.introduction_address(),
            &RecoveryMessage::Notice(Box::new(notice)).to_bytes(),
        )
        .unwrap();
    let before = c.object_reads.load(Ordering::SeqCst);
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(c.object_reads.load(Ordering::SeqCst), before, "{rb:?}");
    assert!(
        rb.dropped
            .iter()
            .any(|d| d.contains("succession notice that was refused")),
        "{rb:?}"
    );
    assert!(rb.successions.is_empty() && rb.waiting.is_empty(), "{rb:?}");
}

/// A stranger who knows a transfer (its sender, parent head and inputs — the worst case: it
/// intercepted the offer) tries to take or block its owned slots before anyone anchors it
/// (PROTOCOL.md §15.2): junk, a write signed by its own key claiming the sender's owner, and
/// one under a made-up genesis record naming itself the sender's recovery authority. Every
/// node refuses each of them; junk written to the open namespace at the same addresses
/// changes nothing; and the receiver, whose offer carried the sender's write, settles the
/// transfer without the sender ever syncing.
#[test]
fn no_stranger_can_take_or_block_a_transfers_anchor_or_parcel_slots() {
    use dsm_core::slot::Admission;
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(1_000);
    let (mut b, _) = memory_wallet(0);
    let (_, rb) = session(&mut a, &mut b, &[10]);
    let proposal = rb.completed[0].receipt.proposal.clone();
    let anchor =
        dsm_core::slot::anchor_slot(a.identity(), &proposal.proposal.sender_parent_head.digest());
    let parcel = dsm_core::parcel::parcel_slot(&proposal.proposal.parcels.inputs[0], a.identity());
    let stranger = common::stranger_key(0x77);
    // The stranger claims to be a's recovery authority, with an admission it signed itself
    // (only a's key can sign a real one).
    let fake_admission =
        dsm_core::slot::admit_authority(&stranger, a.identity(), stranger.public_key()).unwrap();
    let mut refused = 0;
    for slot in [anchor, parcel] {
        assert_eq!(
            slot.0,
            dsm_core::slot::device_slots_owner(a.identity()),
            "the sender owns both slots"
        );
        let attempts = [
            b"junk".to_vec(),
            common::forged_put(
                &stranger,
                Admission::DeviceSlots {
                    genesis_blind: dsm_core::slot::genesis_blind(&a.identity().genesis),
                },
                slot,
                b"junk",
            ),
            common::forged_put(
                &stranger,
                Admission::Authority {
                    genesis_blind: dsm_core::slot::genesis_blind(&a.identity().genesis),
                    device: Some((a.identity().public_key.clone(), fake_admission.clone())),
                },
                slot,
                b"junk",
            ),
        ];
        refused += common::refused_everywhere(&c.urls, slot, &attempts);
        common::junk_in_lists(&c.urls, slot.0.as_bytes(), slot.1.as_bytes(), b"junk");
    }
    assert_eq!(
        refused,
        2 * 3 * c.urls.len(),
        "every attempt reached every node"
    );
    // The sender never syncs; the receiver settles with the write the offer carried.
    let r = sync(&mut b, &nodes).unwrap();
    assert_eq!(r.settled.len(), 1, "{r:?}");
    assert!(
        matches!(r.settled[0].settlement, Settlement::Settled { .. }),
        "{r:?}"
    );
}

/// A stranger tries to take a token's next mint slot and a parcel's re-issue slot before
/// the issuer (also the token's refresher) writes them (PROTOCOL.md §15.2): junk, and a
/// write signed by its own key under a key-list admission naming itself. Every node refuses
/// both; the issuer's publication lands and the holder's line settles.
#[test]
fn no_stranger_can_take_a_mint_or_reissue_slot() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut issuer, _) = memory_wallet(0);
    let p = common::gold(&issuer, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut a, _) = memory_wallet(0);
    a.import_policy(p.clone(), None).unwrap();
    issuer.mint(&t, Amount(500)).unwrap();
    let (_, ra) = common::session_token(&mut issuer, &mut a, t, &[300]);
    let held = ra.completed[0].receipt.proposal.hop().output_ids()[0];
    let stranger = common::stranger_key(0x66);
    let mut refused = 0;
    for slot in [
        dsm_token::authority::mint_slot(&p.issuers, &t, 0),
        dsm_token::reissue::reissue_slot(p.refresh_authority().unwrap(), &held),
    ] {
        let forged =
            common::forged_put(&stranger, common::self_admission(&stranger), slot, b"junk");
        refused += common::refused_everywhere(&c.urls, slot, &[b"junk".to_vec(), forged]);
    }
    assert_eq!(
        refused,
        2 * 2 * c.urls.len(),
        "every attempt reached every node"
    );
    // The issuer publishes; the holder's line settles.
    sync(&mut issuer, &nodes).unwrap();
    let r = sync(&mut a, &nodes).unwrap();
    assert!(
        !r.settled.is_empty()
            && r.settled
                .iter()
                .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{r:?}"
    );
}

/// `/health` reports the store's real state: a node whose store fails (as a node whose
/// PostgreSQL connection died does) answers 503 with a JSON error saying so, and 200 again
/// once the store is back.
#[test]
fn health_reports_the_stores_real_state() {
    let c = Cluster::new();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = |url: &str| {
        let mut r = agent.get(format!("{url}/health")).call().unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(health(&c.urls[0]), (200, "ok\n".to_string()));
    c.only_up(0);
    let (status, body) = health(&c.urls[0]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the node's store does not answer"), "{body}");
    c.only_up(6);
    assert_eq!(health(&c.urls[0]).0, 200);
}

/// A sender stores each lineage object at its nodes once (PROTOCOL.md §16.2): the marks
/// hold for one registry, and a new registry forgets them, so every object is stored
/// again where a receiver of the new registry will look. And a second payment from the
/// same lineage posts only its new objects, yet its receiver, cold, finds them all.
#[test]
fn lineage_objects_are_stored_once_per_registry() {
    let (mut w, _) = memory_wallet(0);
    let (x, y) = (
        dsm_core::hash::Digest([1; 32]),
        dsm_core::hash::Digest([2; 32]),
    );
    w.note_objects_at_nodes("registry A", &[x]).unwrap();
    assert_eq!(
        w.objects_at_nodes("registry A", &[x, y]).unwrap(),
        [true, false]
    );
    assert_eq!(w.objects_at_nodes("registry B", &[x]).unwrap(), [false]);
    w.note_objects_at_nodes("registry B", &[y]).unwrap();
    assert_eq!(
        w.objects_at_nodes("registry B", &[x, y]).unwrap(),
        [false, true]
    );
    assert_eq!(
        w.objects_at_nodes("registry A", &[x]).unwrap(),
        [false],
        "a new registry forgets the old marks"
    );

    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let t = token(DEFAULT_TOKEN);
    for _ in 0..3 {
        // A new cold receiver each time: it reads every object it lacks from the nodes.
        let (mut r, _) = memory_wallet(0);
        common::introduce(&mut a, &r);
        send_online(&mut a, &nodes, &r.device_id(), t, amount(1)).unwrap();
        let rr = sync(&mut r, &nodes).unwrap();
        assert_eq!(rr.received.len(), 1, "{rr:?}");
        assert_eq!(dev(&r), 1);
    }
}

/// A b0x item can vanish from the nodes (evicted from a full b0x by fair share, PROTOCOL.md
/// §15; or a node that lost its data). The sender posts the same bytes again at each sync
/// while the transfer is unanswered — the same item seals to the same bytes, so a node that
/// still holds it keeps one copy — and the transfer goes through.
#[test]
fn a_b0x_item_lost_at_the_nodes_is_posted_again_and_never_doubled() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut a, _) = memory_wallet(100);
    let (mut b, _) = memory_wallet(0);
    let t = token(DEFAULT_TOKEN);
    common::introduce(&mut a, &b);
    send_online(&mut a, &nodes, &b.device_id(), t, amount(30)).unwrap();
    // The sender syncs twice before the receiver does: still one item at each node.
    sync(&mut a, &nodes).unwrap();
    sync(&mut a, &nodes).unwrap();
    // Every node loses the item before the receiver reads it.
    for node in nodes.nodes().to_vec() {
        let authority = dsm_wallet::nodes::node_authority(&node).to_string();
        let read = b
            .b0x_read(
                &authority,
                dsm_core::slot::B0xOp::Acknowledge,
                vec![dsm_core::slot::B0xCursor {
                    blind: None,
                    cursor: u64::MAX,
                }],
            )
            .unwrap();
        assert!(nodes.b0x_ack(&node, &read));
    }
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty(), "nothing left to read: {rb:?}");
    assert_eq!(dev(&b), 0);
    // The sender's next sync posts it again; the receiver is credited once.
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.posted, 0, "a re-post is not a new post: {ra:?}");
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(dev(&b), 30);
    let ra = sync(&mut a, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    // Answered: nothing is posted again, and a later sync of the receiver credits nothing.
    sync(&mut a, &nodes).unwrap();
    let rb = sync(&mut b, &nodes).unwrap();
    assert!(rb.received.is_empty(), "{rb:?}");
    assert_eq!((dev(&a), dev(&b)), (70, 30));
}
