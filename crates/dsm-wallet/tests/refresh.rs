//! Re-issue through the real `Wallet`, refresher and storage nodes (PROTOCOL.md §17.6): a
//! holder's parcels become one fresh root that pays on to a cold receiver and settles; a
//! refresher refuses what it cannot vouch for and signs nothing; a holder that spends a
//! burned parcel anyway is caught at settlement.

mod common;

use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::tripwire::Equivocation;
use dsm_protocol::message::SessionMessage;
use dsm_token::policy::TokenKind;
use dsm_wallet::online::{complete_refresh, sign_refresh, sync, Settlement};
use dsm_wallet::Wallet;

/// The issuer (GOLD's one refresher by default) mints 900 and pays alice 300, 200 and 100:
/// three parcels with lineages of one to three hops. Bob holds the policy.
fn alice_with_three_parcels() -> (Wallet, TokenId, Wallet, Wallet, dsm_token::TokenPolicy) {
    let (issuer, t, alice, _, bob, p) = alice_with_three_parcels_on();
    (issuer, t, alice, bob, p)
}

/// [`alice_with_three_parcels`], with alice's store.
fn alice_with_three_parcels_on() -> (
    Wallet,
    TokenId,
    Wallet,
    dsm_wallet::store::MemoryStore,
    Wallet,
    dsm_token::TokenPolicy,
) {
    let (mut issuer, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut alice, alice_store) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    for w in [&mut alice, &mut bob] {
        w.import_policy(p.clone(), None).unwrap();
    }
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut alice, t, &[300, 200, 100]);
    assert_eq!(r.completed.len(), 3, "{r:?}");
    assert_eq!(alice.parcels(&t).len(), 3);
    (issuer, t, alice, alice_store, bob, p)
}

#[test]
fn refreshed_parcels_become_one_root_that_pays_on_cold_and_settles() {
    let (mut issuer, t, mut alice, mut bob, _) = alice_with_three_parcels();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut alice, &nodes).unwrap();
    let hops_before: usize = alice.parcels(&t).iter().map(|p| p.2).sum();
    assert!(hops_before >= 6, "{:?}", alice.parcels(&t));

    let req = alice.refresh_request(&t).unwrap();
    assert_eq!(req.burn.inputs.len(), 3);
    // Nothing changed at alice's yet: the request is unsigned.
    assert_eq!(alice.parcels(&t).len(), 3);
    let sig = sign_refresh(&mut issuer, &nodes, &req).unwrap();
    let (root, settled) = complete_refresh(&mut alice, Some(&nodes), &req, vec![sig]).unwrap();
    assert!(
        matches!(settled, Some(Settlement::Settled { .. })),
        "{settled:?}"
    );
    assert_eq!(alice.parcels(&t), vec![(root, Amount(600), 0)]);
    assert_eq!(alice.balance(&t), Amount(600));
    assert!(
        alice
            .refresh_request(&t)
            .err()
            .unwrap()
            .to_string()
            .contains("nothing to refresh: this wallet's GOLD is one fresh parcel"),
        "one fresh root: nothing to refresh"
    );

    // Bob has never seen any of it: he checks the re-issue (refreshers' signature, the
    // burn) and the hop since, not the three lineages it replaced.
    let (_, r) = session_token(&mut alice, &mut bob, t, &[450]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    assert_eq!(bob.balance(&t), Amount(450));
    assert_eq!(bob.parcels(&t)[0].2, 1, "one hop since the re-issued root");
    // Online, his line settles: the burn holds the burned parcels' slots.
    let rb = sync(&mut bob, &nodes).unwrap();
    assert!(
        !rb.settled.is_empty()
            && rb
                .settled
                .iter()
                .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rb:?}"
    );
}

#[test]
fn a_refresher_signs_nothing_it_cannot_vouch_for() {
    let (mut issuer, t, mut alice, mut bob, _) = alice_with_three_parcels();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut alice, &nodes).unwrap();
    let req = alice.refresh_request(&t).unwrap();
    // A device that is no refresher.
    let e = sign_refresh(&mut bob, &nodes, &req).unwrap_err();
    assert!(
        e.to_string().contains("not one of the token's refreshers"),
        "{e}"
    );
    // A second request over some of the same parcels, under another burn: the refresher
    // signed for them once and refuses (asking twice is spending twice); the same request
    // again is signed.
    let first = sign_refresh(&mut issuer, &nodes, &req).unwrap();
    let mut overlapping = req.clone();
    let keep = overlapping.burn.inputs.len() - 1;
    overlapping.burn.inputs.truncate(keep);
    overlapping.manifests.truncate(keep);
    overlapping
        .burn
        .outputs
        .retain(|o| (o.input as usize) < keep);
    let e = sign_refresh(&mut issuer, &nodes, &overlapping).unwrap_err();
    assert!(e.to_string().contains("under another burn"), "{e}");
    let again = sign_refresh(&mut issuer, &nodes, &req).unwrap();
    assert_eq!(again.issuer, first.issuer);
    // A burn that does not take a parcel's whole amount.
    let mut short = req.clone();
    short.burn.outputs[0].amount = Amount(short.burn.outputs[0].amount.0 - 1);
    let e = sign_refresh(&mut issuer, &nodes, &short).unwrap_err();
    assert!(
        e.to_string().contains("does not take its whole amount"),
        "{e}"
    );
    // Parcels spent since the request: alice's copy from before pays bob online first.
    let before = alice.fork().unwrap();
    let stale = before.refresh_request(&t).unwrap();
    common::introduce(&mut alice, &bob);
    dsm_wallet::online::send_online(&mut alice, &nodes, &bob.device_id(), t, Amount(600)).unwrap();
    sync(&mut bob, &nodes).unwrap();
    let e = sign_refresh(&mut issuer, &nodes, &stale).unwrap_err();
    assert!(e.to_string().contains("already spent"), "{e}");
    // Completing without the refreshers' threshold signs nothing and changes nothing.
    let mut before = before;
    let held = before.parcels(&t);
    let e = complete_refresh(&mut before, None, &stale, vec![]).unwrap_err();
    assert!(e.to_string().contains("signature"), "{e}");
    assert_eq!(before.parcels(&t), held);
}

#[test]
fn a_burned_parcel_spent_anyway_is_caught_at_settlement() {
    let (mut issuer, t, mut alice, mut bob, policy) = alice_with_three_parcels();
    let (mut carol, _) = memory_wallet(0);
    carol.import_policy(policy, None).unwrap();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut alice, &nodes).unwrap();
    // Alice's copy from before the refresh still holds the burned parcels.
    let before = alice.fork().unwrap();
    let req = alice.refresh_request(&t).unwrap();
    let sig = sign_refresh(&mut issuer, &nodes, &req).unwrap();
    complete_refresh(&mut alice, Some(&nodes), &req, vec![sig]).unwrap();
    // Alice pays bob 200 from the re-issued root (a re-issue makes no head, so this is
    // her next head), then, modified, spends a burned parcel (300) again to carol from
    // the head after: no head fork, only the parcel consumed twice.
    let (_, r) = session_token(&mut alice, &mut bob, t, &[200]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (offer, burned) = respend(&alice, &before, &carol, t, 300);
    assert!(req.burn.inputs.contains(&burned));
    // Offline, carol cannot tell (she never saw the burn) and accepts.
    assert!(matches!(
        deliver(&mut alice, &mut carol, offer),
        SessionMessage::Acceptance(_)
    ));
    // Online, the burn holds that parcel's slot: carol's line is a parcel fork, never
    // settled; bob's value from the re-issued root settles.
    let rc = sync(&mut carol, &nodes).unwrap();
    assert!(
        rc.settled.iter().any(|l| matches!(
            &l.settlement,
            Settlement::Conflict(Equivocation::ParcelFork { device, parcel })
                if *device == alice.device_id() && *parcel == burned
        )),
        "{rc:?}"
    );
    assert_eq!(carol.in_conflict(&t), Amount(300));
    let rb = sync(&mut bob, &nodes).unwrap();
    assert!(
        !rb.settled.is_empty()
            && rb
                .settled
                .iter()
                .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rb:?}"
    );
    assert_eq!(bob.in_conflict(&t), Amount::ZERO);
    // Offline, a verifier holding the fork refuses the re-issued root unless it saw the
    // burn settled: bob's value, offered to erin who imported carol's evidence, is refused.
    let (mut erin, _) = memory_wallet(0);
    erin.import_policy(issuer_policy(&issuer), None).unwrap();
    for e in carol.evidence().unwrap() {
        erin.import_evidence(&e.to_bytes()).unwrap();
    }
    let (r, _) = session_token(&mut bob, &mut erin, t, &[100]);
    assert!(r.completed.is_empty(), "{r:?}");
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert_eq!(
        r.refused[0].refusal.refusal.reason,
        dsm_protocol::session::RefusalReason::Lineage.code()
    );
    assert_eq!(erin.balance(&t), Amount::ZERO);
    assert_eq!(bob.balance(&t), Amount(200), "the refused amount came back");
}

fn issuer_policy(issuer: &Wallet) -> dsm_token::TokenPolicy {
    gold(issuer, TokenKind::Fungible)
}

/// The holder dies at every write of completing a refresh (before a write reaches the disk,
/// or after it is durable), and the refresher at every write of checking one. After a
/// restart the holding is either the old parcels or the one new root — never both, never
/// neither — and finishing the refresh then leaves one settled root of 600 that pays on.
#[test]
fn a_crash_at_every_write_of_a_refresh_loses_nothing_and_doubles_nothing() {
    use dsm_wallet::store::{CrashPoint, CrashingStore};
    let mut hits = 0;
    for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
        for write in 0.. {
            let (mut issuer, t, alice, store, mut bob, _) = alice_with_three_parcels_on();
            let c = common::cluster::Cluster::new();
            let nodes = c.nodes();
            let mut alice = alice;
            sync(&mut alice, &nodes).unwrap();
            let req = alice.refresh_request(&t).unwrap();
            let sig = sign_refresh(&mut issuer, &nodes, &req).unwrap();
            drop(alice);
            let crashing = CrashingStore::new(store.clone(), write, point);
            let fired = crashing.crash_signal();
            let mut alice = Wallet::open(Box::new(crashing), PASS).unwrap();
            let r = complete_refresh(&mut alice, Some(&nodes), &req, vec![sig.clone()]);
            drop(alice);
            let crashed = fired.load(std::sync::atomic::Ordering::SeqCst);
            if crashed {
                hits += 1;
                assert!(
                    r.is_err(),
                    "write {write} {point:?}: a crash nobody noticed"
                );
            }
            let mut alice = reopen(&store);
            assert_eq!(alice.balance(&t), Amount(600), "write {write} {point:?}");
            let held = alice.parcels(&t);
            match held.len() {
                // Not refreshed: finishing now works.
                3 => {
                    complete_refresh(&mut alice, Some(&nodes), &req, vec![sig]).unwrap();
                }
                // Refreshed: the same request cannot complete twice.
                1 => {
                    assert_eq!(held[0].2, 0);
                    let e = format!(
                        "{:?}",
                        complete_refresh(&mut alice, Some(&nodes), &req, vec![sig]).unwrap_err()
                    );
                    assert!(e.starts_with("Wallet(Token(\"parcel ") && e.ends_with("is no longer held (spent since the request): make a new request\"))"), "{e}");
                }
                n => panic!("write {write} {point:?}: {n} parcels"),
            }
            assert_eq!(alice.parcels(&t).len(), 1);
            // Her next sync claims the burn's slots if the crash stopped that (only she, its
            // holder, may write them).
            sync(&mut alice, &nodes).unwrap();
            let (_, r) = session_token(&mut alice, &mut bob, t, &[600]);
            assert_eq!(r.completed.len(), 1, "write {write} {point:?}: {r:?}");
            let rb = sync(&mut bob, &nodes).unwrap();
            assert!(
                rb.settled
                    .iter()
                    .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
                "write {write} {point:?}: {rb:?}"
            );
            if !crashed {
                break;
            }
        }
    }
    // The completion batch, and the burn's settlement record, at both points.
    assert!(hits >= 4, "only {hits} crashes landed");
}

#[test]
fn a_refresher_refuses_a_proven_equivocator() {
    let (mut issuer, t, mut alice, _, _) = alice_with_three_parcels();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut alice, &nodes).unwrap();
    // A holder proven to equivocate (alice's copy and alice each pay from one head) is
    // refused, as every session refuses it.
    let (mut carol, _) = memory_wallet(0);
    let (mut dave, _) = memory_wallet(0);
    for w in [&mut carol, &mut dave] {
        w.import_policy(gold(&issuer, TokenKind::Fungible), None)
            .unwrap();
    }
    let mut copy = alice.fork().unwrap();
    let (r1, _) = session_token(&mut alice, &mut carol, t, &[10]);
    let (r2, _) = session_token(&mut copy, &mut dave, t, &[20]);
    let proof = dsm_core::tripwire::EquivocationProof::new(
        dsm_core::tripwire::Statement::Proposal(r1.completed[0].receipt.proposal.clone()),
        dsm_core::tripwire::Statement::Proposal(r2.completed[0].receipt.proposal.clone()),
    )
    .unwrap();
    issuer.import_evidence(&proof.0.to_bytes()).unwrap();
    let e = sign_refresh(&mut issuer, &nodes, &alice.refresh_request(&t).unwrap()).unwrap_err();
    assert!(e.to_string().contains("proven equivocator"), "{e}");
}

/// Two refreshers of a 1-of-2 authority that never talk to each other: the first records
/// its re-issue in every burned parcel's re-issue slot before it hands out its signature,
/// so the second refuses another burn of the same parcels (it would count them twice), and
/// still signs the same burn (PROTOCOL.md §17.6).
#[test]
fn disjoint_refresher_subsets_share_what_they_reissued_through_the_nodes() {
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    let (mut r0, _) = memory_wallet(0);
    let (mut r1, _) = memory_wallet(0);
    let (mut alice, _) = memory_wallet(0);
    let mut p = gold(&r0, TokenKind::Fungible);
    p.issuers.keys.push(r1.identity().public_key.clone());
    let (t, _) = r0.import_policy(p.clone(), None).unwrap();
    for w in [&mut r1, &mut alice] {
        w.import_policy(p.clone(), None).unwrap();
    }
    r0.mint(&t, Amount(900)).unwrap();
    session_token(&mut r0, &mut alice, t, &[300, 200]);
    sync(&mut alice, &nodes).unwrap();
    let first = alice.refresh_request(&t).unwrap();
    assert_eq!(first.burn.inputs.len(), 2);
    sign_refresh(&mut r0, &nodes, &first).unwrap();
    // The holder asks the other refresher for another burn of the same parcels.
    session_token(&mut r0, &mut alice, t, &[100]);
    sync(&mut alice, &nodes).unwrap();
    let second = alice.refresh_request(&t).unwrap();
    assert_eq!(second.burn.inputs.len(), 3);
    let e = sign_refresh(&mut r1, &nodes, &second)
        .unwrap_err()
        .to_string();
    assert!(e.contains("re-issued under another burn"), "{e}");
    // The same burn is another cosignature of one re-issue: signed.
    let sig = sign_refresh(&mut r1, &nodes, &first).unwrap();
    let (root, _) = complete_refresh(&mut alice, Some(&nodes), &first, vec![sig]).unwrap();
    assert!(alice.parcels(&t).iter().any(|p| p.0 == root));
    assert_eq!(alice.balance(&t), Amount(600));
}

/// The wallet says a refresh would help exactly above its thresholds (PROTOCOL.md §5.6:
/// 16 parcels of one token, or a parcel more than 16 hops from its root), the rule under
/// which `dsm bench economy` finds a payment's cost independent of the economy's size.
#[test]
fn the_wallet_advises_a_refresh_exactly_above_its_thresholds() {
    use dsm_wallet::wallet::refresh::{ADVISE_HOPS, ADVISE_PARCELS};
    assert_eq!((ADVISE_PARCELS, ADVISE_HOPS), (16, 16));
    let (mut issuer, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    for w in [&mut alice, &mut bob] {
        w.import_policy(p.clone(), None).unwrap();
    }
    issuer.mint(&t, Amount(1_000)).unwrap();

    // Parcels: the issuer pays alice one unit at a time; each payment is one more parcel
    // (its lineage one hop longer than the last, never above the parcel count).
    let ones = vec![1; ADVISE_PARCELS];
    let (_, r) = session_token(&mut issuer, &mut alice, t, &ones);
    assert_eq!(r.completed.len(), ADVISE_PARCELS, "{r:?}");
    assert_eq!(alice.parcels(&t).len(), ADVISE_PARCELS);
    assert_eq!(alice.refresh_advice(&t), None);
    session_token(&mut issuer, &mut alice, t, &[1]);
    assert_eq!(
        alice.refresh_advice(&t).as_deref(),
        Some("17 parcels held: `dsm token refresh` would make them one")
    );

    // Hops: one parcel passed whole between bob and carol gains a hop per payment.
    let (mut carol, _) = memory_wallet(0);
    carol.import_policy(p, None).unwrap();
    // A fresh mint, so that bob's parcel starts one hop from its root (the wallet pays
    // from the shortest lineage first).
    issuer.mint(&t, Amount(5)).unwrap();
    session_token(&mut issuer, &mut bob, t, &[5]);
    let mut hops = bob.parcels(&t)[0].2;
    assert_eq!(hops, 1);
    let (mut holder, mut other) = (&mut bob, &mut carol);
    while hops < ADVISE_HOPS {
        assert_eq!(holder.refresh_advice(&t), None, "{hops} hops");
        let (_, r) = session_token(holder, other, t, &[5]);
        assert_eq!(r.completed.len(), 1, "{r:?}");
        std::mem::swap(&mut holder, &mut other);
        let held = holder.parcels(&t);
        assert_eq!(held.len(), 1, "paid whole: no change");
        assert_eq!(held[0].2, hops + 1);
        hops += 1;
    }
    assert_eq!(
        holder.refresh_advice(&t),
        None,
        "{hops} hops: at, not above"
    );
    session_token(holder, other, t, &[5]);
    assert_eq!(
        other.refresh_advice(&t).as_deref(),
        Some("a lineage of 17 hops: `dsm token refresh` would restart it at 0")
    );
}
