//! The token layer in real wallets (PROTOCOL.md §17): policies imported and persisted,
//! mint, burn and initial allocations as verified head transitions, receivers refusing
//! (with a signed refusal) tokens they hold no policy for or whose policy forbids the
//! transfer, and DJTE joins and emission credits through real storage nodes.

mod common;
use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_protocol::session::Session;
use dsm_token::policy::{InitialAllocation, Issuers, JoinGate, TokenKind};
use dsm_transport::memory_pair;
use dsm_wallet::driver::{run, Report};
use dsm_wallet::nodes::{NodeSet, Replication};
use dsm_wallet::online::emissions::{join, sync_emissions};
use dsm_wallet::wallet::RefusalReason;
use dsm_wallet::{EntryKind, Wallet};
use std::time::Duration;

fn pay(payer: &mut Wallet, payee: &mut Wallet, t: TokenId, amount: u128) -> (Report, Report) {
    let (mut la, mut lb) = memory_pair(Duration::from_secs(20));
    let peer = payee.device_id();
    std::thread::scope(|s| {
        let h = s.spawn(move || run(&mut Session::listener(), payee, &mut lb));
        let rd = run(
            &mut Session::dialer(peer, vec![(t, Amount(amount))]),
            payer,
            &mut la,
        );
        drop(la);
        (rd, h.join().unwrap())
    })
}

#[test]
fn mint_transfer_burn_and_refusals_of_unknown_tokens() {
    let (mut issuer, issuer_store) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Fungible);
    let (t, claimed) = issuer.import_policy(p.clone(), None).unwrap();
    assert!(claimed.is_empty());
    assert_eq!(issuer.resolve_token("GOLD").unwrap(), t);
    issuer.mint(&t, Amount(500)).unwrap();
    assert_eq!(issuer.balance(&t), Amount(500));
    // Bob holds the policy: accepted.
    bob.import_policy(p.clone(), None).unwrap();
    let (rd, rl) = pay(&mut issuer, &mut bob, t, 200);
    assert!(rd.error.is_none() && rl.error.is_none(), "{rd:?} {rl:?}");
    assert_eq!(
        (issuer.balance(&t), bob.balance(&t)),
        (Amount(300), Amount(200))
    );
    // Carol does not: her wallet refuses with a signed refusal, the amount comes back.
    let (rd, _) = pay(&mut issuer, &mut carol, t, 50);
    assert_eq!(rd.refused.len(), 1);
    assert_eq!(
        rd.refused[0].refusal.refusal.reason,
        RefusalReason::UnknownToken.code()
    );
    assert_eq!(
        (issuer.balance(&t), carol.balance(&t)),
        (Amount(300), Amount::ZERO)
    );
    // The sender's own check says why before signing anything.
    assert!(carol
        .check_outgoing(&t, &issuer.device_id())
        .is_err_and(|e| e
            .to_string()
            .contains("this wallet holds no policy for token")));
    carol.import_policy(p.clone(), None).unwrap();
    let (rd, _) = pay(&mut issuer, &mut carol, t, 50);
    assert!(rd.error.is_none() && rd.refused.is_empty());
    assert_eq!(carol.balance(&t), Amount(50));
    // Burn.
    bob.burn(&t, Amount(20)).unwrap();
    assert_eq!(bob.balance(&t), Amount(180));
    assert!(bob.burn(&t, Amount(181)).is_err_and(|e| e
        .to_string()
        .contains("insufficient balance: have 180, need 181")));
    // Nobody else can mint.
    assert!(bob.mint(&t, Amount(1)).is_err_and(|e| e
        .to_string()
        .contains("this device is not one of GOLD's issuers")));
    // The policy and the mint sequence survive a restart; the cap holds.
    let mut issuer = reopen(&issuer_store);
    let out = issuer.mint(&t, Amount(9_500)).unwrap();
    assert_eq!((out.seq, out.minted_total), (1, Amount(10_000)));
    assert!(
        issuer.mint(&t, Amount(1)).is_err_and(|e| e
            .to_string()
            .contains("minting 1 after 10000 exceeds the cap of 10000")),
        "over the cap"
    );
    let kinds: Vec<EntryKind> = issuer
        .history()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == EntryKind::Minted).count(), 2);
    let total: u128 = [&issuer, &bob, &carol]
        .iter()
        .map(|w| w.balance(&t).0)
        .sum();
    assert_eq!(total, 10_000 - 20);
}

#[test]
fn soulbound_tokens_are_refused_by_sender_and_receiver() {
    let (mut issuer, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Soulbound);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p, None).unwrap();
    issuer.mint(&t, Amount(1)).unwrap();
    let err = issuer.check_outgoing(&t, &bob.device_id()).unwrap_err();
    assert!(err.to_string().contains("soulbound"), "{err}");
    // A sender that skips its own check meets the receiver's refusal.
    let (rd, _) = pay(&mut issuer, &mut bob, t, 1);
    assert_eq!(rd.refused.len(), 1);
    assert_eq!(
        rd.refused[0].refusal.refusal.reason,
        RefusalReason::TokenRules.code()
    );
    assert_eq!(issuer.balance(&t), Amount(1));
}

#[test]
fn initial_allocations_are_claimed_once() {
    let (mut alice, store) = memory_wallet(0);
    let mut p = gold(&alice, TokenKind::Fungible);
    p.issuers = Issuers::default();
    p.initial = vec![InitialAllocation {
        device: alice.device_id(),
        amount: Amount(700),
    }];
    let (t, claimed) = alice.import_policy(p.clone(), None).unwrap();
    assert_eq!(claimed, vec![Amount(700)]);
    let (_, again) = alice.import_policy(p.clone(), None).unwrap();
    assert!(again.is_empty());
    let mut alice = reopen(&store);
    let (_, again) = alice.import_policy(p, None).unwrap();
    assert!(again.is_empty());
    assert_eq!(alice.balance(&t), Amount(700));
    assert!(alice.mint(&t, Amount(1)).is_err_and(|e| e
        .to_string()
        .contains("GOLD's policy allows no minting: its supply is fixed")));
}

/// An issuer that lies about `minted_before` (to mint past the cap) is caught by a wallet
/// that saw an earlier mint: the lying mint is refused, the pair is kept as evidence across
/// a restart, and the token's later mints are refused too.
#[test]
fn a_wallet_refuses_a_mint_contradicting_one_it_holds_and_keeps_the_evidence() {
    let (mut bob, store) = memory_wallet(0);
    let (key, t) = gold_of_key(7, &mut [&mut bob]);
    bob.apply_signed_mint(signed_mint(&key, t, 0, 0, 9_000, &bob))
        .unwrap();
    // Mint 1 claims 0 created before it: with it the issuer could create 19,000 under a
    // cap of 10,000.
    let err = bob
        .apply_signed_mint(signed_mint(&key, t, 1, 0, 9_000, &bob))
        .unwrap_err();
    assert!(err.to_string().contains("issuer equivocation"), "{err}");
    assert_eq!(bob.balance(&t), Amount(9_000));
    assert_eq!(bob.mint_conflicts().len(), 1);
    let mut bob = reopen(&store);
    assert_eq!(bob.mint_conflicts().len(), 1);
    let err = bob
        .apply_signed_mint(signed_mint(&key, t, 1, 9_000, 1_000, &bob))
        .unwrap_err();
    assert!(err.to_string().contains("equivocated at mint 0"), "{err}");
    assert_eq!(bob.balance(&t), Amount(9_000));
}

#[test]
fn djte_joins_and_emission_credits_through_storage_nodes_past_a_strangers_junk() {
    let cluster = three_nodes();
    let nodes = NodeSet::new(
        cluster.urls.clone(),
        Replication { n: 3, k: 2, f: 0 },
        Duration::from_secs(5),
    );
    let (mut issuer, _) = memory_wallet(0);
    let (mut operator, _) = memory_wallet(0);
    let fee = gold(&issuer, TokenKind::Fungible);
    let fee_id = fee.token_id();
    let era = dsm_token::era::era_policy(JoinGate {
        operators: vec![operator.device_id()],
        k: 1,
        fee_token: fee_id,
        fee: Amount(1),
    });
    let era_id = era.token_id();
    for w in [&mut issuer, &mut operator] {
        w.import_policy(fee.clone(), None).unwrap();
    }
    issuer.mint(&fee_id, Amount(100)).unwrap();
    let mut members: Vec<(Wallet, dsm_wallet::store::MemoryStore)> =
        (0..4).map(|_| memory_wallet(0)).collect();
    for (w, _) in members.iter_mut() {
        w.import_policy(fee.clone(), None).unwrap();
        w.import_policy(era.clone(), None).unwrap();
        // Without paying the operator, the gate is not met.
        let e = join(w, &nodes, &era_id).unwrap_err();
        assert!(e.to_string().contains("join gate"), "{e}");
        pay(&mut issuer, w, fee_id, 2);
        pay(w, &mut operator, fee_id, 1);
    }
    // A stranger fills the first state's candidate list ahead of everyone (PROTOCOL.md
    // §15.3, §17.4.4): bytes that are no step, a well-formed step that fails the join gate
    // (its joiner paid no operator), sealed as a step is, and the first joiner's very step
    // in clear (only a sealed step counts). None stalls the emissions: readers skip all.
    let ledger = members[0].0.emission_ledger(&era_id).unwrap();
    let (topic, list) = dsm_token::djte::emission_list(ledger.state());
    let (stranger, _) = memory_wallet(0);
    let gateless = ledger.prepare(stranger.device_id(), Vec::new()).unwrap();
    assert_eq!(
        format!(
            "{:?}",
            dsm_token::djte::verify_step(&era, ledger.state(), &gateless, true).unwrap_err()
        ),
        "Gate(\"the number of payments must equal the gate's k\")"
    );
    let first_in_clear = {
        let w = &members[0].0;
        let payments = w.gate_payments(&era.djte.as_ref().unwrap().gate).unwrap();
        ledger.prepare(w.device_id(), payments).unwrap().to_bytes()
    };
    let sealed_gateless = dsm_token::djte::seal_step(ledger.state(), &gateless);
    for junk in [&b"junk"[..], &sealed_gateless, &first_in_clear] {
        junk_in_lists(&cluster.urls, topic.as_bytes(), list.as_bytes(), junk);
    }
    let mut reports = Vec::new();
    for (w, _) in members.iter_mut() {
        reports.push(join(w, &nodes, &era_id).unwrap());
    }
    assert_eq!(
        reports[0].winner, None,
        "nobody was active before the first join"
    );
    assert_eq!(
        reports[1].winner.map(|x| x.0),
        Some(members[0].0.device_id())
    );
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.index, i as u64);
        assert!(r.settled);
    }
    // Joining twice is refused.
    assert!(join(&mut members[0].0, &nodes, &era_id).is_err_and(|e| e
        .to_string()
        .contains("this device has already joined ERA's emissions")));
    // Everyone syncs: each winner is credited exactly once, whatever order it learns in.
    for (w, _) in members.iter_mut() {
        sync_emissions(w, &nodes, &era_id).unwrap();
        let again = sync_emissions(w, &nodes, &era_id).unwrap();
        assert!(again.credited.is_empty() && again.new_steps == 0);
    }
    let state = sync_emissions(&mut members[3].0, &nodes, &era_id)
        .unwrap()
        .state;
    assert_eq!(state.index, 4);
    let total: u128 = members.iter().map(|(w, _)| w.balance(&era_id).0).sum();
    assert_eq!(total, state.emitted.0);
    assert_eq!(state.emitted.0, 3 * dsm_token::era::EPOCH0_AMOUNT);
    // A winner restarted from its store keeps the credit and does not take it again.
    let (w0, s0) = &members[0];
    let before = w0.balance(&era_id);
    let mut w0 = reopen(s0);
    assert!(sync_emissions(&mut w0, &nodes, &era_id)
        .unwrap()
        .credited
        .is_empty());
    assert_eq!(w0.balance(&era_id), before);
    // ERA can be spent like any token, and burned.
    let (w1, _) = members.split_at_mut(1);
    let w1 = &mut w1[0].0;
    if w1.balance(&era_id).0 > 0 {
        w1.burn(&era_id, Amount(1)).unwrap();
    }
}
