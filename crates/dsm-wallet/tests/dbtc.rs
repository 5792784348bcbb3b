//! dBTC in a real wallet (PROTOCOL.md §19): a regtest deposit mints once; after a restart
//! (also after a crash right after the mint, since the head and its source are one batch)
//! neither the same nor a longer proof of the same outpoint mints again; dBTC then moves
//! through an ordinary session; a crash at every write of a deposit, a withdrawal request
//! and its refund loses nothing and mints nothing twice.

mod common;
use common::*;
use dsm_btc::regtest::{funding, test_key, Chain};
use dsm_btc::{header_bytes, BtcNetwork, Htlc};
use dsm_core::chain::Amount;
use dsm_token::dbtc::{dbtc_policy, recipient_commitment, BitcoinBridge};

#[test]
fn a_deposit_mints_once_across_restarts_and_moves_like_any_token() {
    let bridge = BitcoinBridge {
        chain: dsm_token::dbtc::BitcoinChain {
            network: BtcNetwork::Regtest,
            checkpoint_height: 0,
            checkpoint_header: header_bytes(&Chain::new().checkpoint.header),
            d_min: 3,
        },
        keeper: test_key(3),
        keeper_dsm: dsm_core::crypto::SigningKey::from_seed(
            dsm_core::crypto::SuiteId::MlDsa65,
            &dsm_core::crypto::SecretSeed::from_bytes([9; 32]),
        )
        .public_key()
        .clone(),
    };
    let p = dbtc_policy(bridge);
    let (mut alice, store) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (t, _) = alice.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p, None).unwrap();
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(
        &htlc,
        5_000_000,
        &recipient_commitment(&t, &alice.device_id()),
        7,
    );
    let mut chain = Chain::new();
    let block = chain.add(vec![tx.clone()]);
    chain.bury(2);
    let ev = chain.evidence(&tx, 0, &htlc, block);
    // Bob cannot mint alice's deposit.
    assert!(bob.mint_deposit(&t, ev.clone()).is_err_and(|e| e
        .to_string()
        .contains("the funding transaction does not commit to this recipient")));
    let (amount, _) = alice.mint_deposit(&t, ev.clone()).unwrap();
    assert_eq!(amount, Amount(5_000_000));
    assert!(alice.mint_deposit(&t, ev.clone()).is_err_and(|e| e
        .to_string()
        .contains("this Bitcoin deposit (outpoint) already minted")));
    // Restart (the durable store alone), then try again with more confirmations.
    let mut alice = reopen(&store);
    chain.bury(5);
    let longer = chain.evidence(&tx, 0, &htlc, block);
    let e = alice.mint_deposit(&t, longer).unwrap_err();
    assert!(e.to_string().contains("already minted"), "{e}");
    assert_eq!(alice.balance(&t), Amount(5_000_000));
    // dBTC moves bilaterally like any token.
    let (rd, rl) = {
        let (mut la, mut lb) = dsm_transport::memory_pair(std::time::Duration::from_secs(20));
        let peer = bob.device_id();
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                dsm_wallet::driver::run(
                    &mut dsm_protocol::session::Session::listener(),
                    &mut bob,
                    &mut lb,
                )
            });
            let rd = dsm_wallet::driver::run(
                &mut dsm_protocol::session::Session::dialer(peer, vec![(t, Amount(1_250_000))]),
                &mut alice,
                &mut la,
            );
            drop(la);
            (rd, h.join().unwrap())
        })
    };
    assert!(rd.error.is_none() && rl.error.is_none());
    assert_eq!(
        (alice.balance(&t), bob.balance(&t)),
        (Amount(3_750_000), Amount(1_250_000))
    );
}

/// dBTC on a regtest bridge (keeper: test key 3, DSM key `keeper_key`).
fn regtest_dbtc(d_min: u32) -> dsm_token::TokenPolicy {
    dbtc_policy(BitcoinBridge {
        chain: dsm_token::dbtc::BitcoinChain {
            network: BtcNetwork::Regtest,
            checkpoint_height: 0,
            checkpoint_header: header_bytes(&Chain::new().checkpoint.header),
            d_min,
        },
        keeper: test_key(3),
        keeper_dsm: keeper_key().public_key().clone(),
    })
}

fn keeper_key() -> dsm_core::crypto::SigningKey {
    dsm_core::crypto::SigningKey::from_seed(
        dsm_core::crypto::SuiteId::MlDsa65,
        &dsm_core::crypto::SecretSeed::from_bytes([9; 32]),
    )
}

#[test]
fn a_crash_at_every_write_of_deposit_and_withdrawal_loses_nothing() {
    use dsm_wallet::store::{CrashPoint, CrashingStore};
    let p = regtest_dbtc(1);
    let t = p.token_id();
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let to = vec![
        0x00, 0x14, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    ];
    let mut crashes = 0;
    for write in 0..4 {
        for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
            let (mut w, store) = memory_wallet(0);
            w.import_policy(p.clone(), None).unwrap();
            let tx = funding(
                &htlc,
                1_000_000,
                &recipient_commitment(&t, &w.device_id()),
                21,
            );
            let mut chain = Chain::new();
            let block = chain.add(vec![tx.clone()]);
            let ev = chain.evidence(&tx, 0, &htlc, block);
            drop(w);
            // The flow, with the store crashing at write `write`.
            let mut w = dsm_wallet::Wallet::open(
                Box::new(CrashingStore::new(store.clone(), write, point)),
                PASS,
            )
            .unwrap();
            let crashed = (|| -> Result<(), dsm_wallet::WalletError> {
                w.mint_deposit(&t, ev.clone())?;
                let req = w.request_withdrawal(&t, Amount(400_000), to.clone())?;
                let d = dsm_token::dbtc::decline(req, &keeper_key(), &[5; 32]).unwrap();
                w.refund_withdrawal(d)?;
                Ok(())
            })()
            .is_err();
            crashes += usize::from(crashed);
            drop(w);
            // Restart and finish the job.
            let mut w = reopen(&store);
            let minted = w
                .history()
                .unwrap()
                .iter()
                .any(|e| e.kind == dsm_wallet::EntryKind::Minted);
            if minted {
                assert!(
                    w.mint_deposit(&t, ev.clone()).is_err_and(|e| e
                        .to_string()
                        .contains("this Bitcoin deposit (outpoint) already minted")),
                    "write {write} {point:?}: minted twice"
                );
            } else {
                w.mint_deposit(&t, ev.clone()).unwrap();
            }
            let pending: Vec<_> = w
                .withdrawals()
                .unwrap()
                .into_iter()
                .filter(|(_, s)| *s == "in-flight")
                .collect();
            assert!(pending.len() <= 1);
            let req = match pending.into_iter().next() {
                Some((r, _)) => r,
                None if w.withdrawals().unwrap().is_empty() => w
                    .request_withdrawal(&t, Amount(400_000), to.clone())
                    .unwrap(),
                None => {
                    // Requested and refunded already.
                    assert_eq!(w.balance(&t), Amount(1_000_000));
                    continue;
                }
            };
            assert_eq!(
                w.balance(&t),
                Amount(600_000),
                "write {write} {point:?}: in flight"
            );
            let d = dsm_token::dbtc::decline(req, &keeper_key(), &[5; 32]).unwrap();
            w.refund_withdrawal(d.clone()).unwrap();
            assert!(
                w.refund_withdrawal(d).is_err_and(|e| e
                    .to_string()
                    .contains("this source was already applied once")),
                "refunded twice"
            );
            assert_eq!(
                w.balance(&t),
                Amount(1_000_000),
                "write {write} {point:?}: value lost or created"
            );
            let again = reopen(&store);
            assert_eq!(again.balance(&t), Amount(1_000_000));
        }
    }
    assert!(crashes >= 6, "the crashes hit the flow ({crashes})");
}

#[test]
fn a_payment_after_a_refund_is_keeper_equivocation_even_after_a_restart() {
    let p = regtest_dbtc(1);
    let t = p.token_id();
    let (mut w, store) = memory_wallet(0);
    w.import_policy(p, None).unwrap();
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(&htlc, 10_000, &recipient_commitment(&t, &w.device_id()), 31);
    let mut chain = Chain::new();
    let b = chain.add(vec![tx.clone()]);
    w.mint_deposit(&t, chain.evidence(&tx, 0, &htlc, b))
        .unwrap();
    let req = w.request_withdrawal(&t, Amount(4_000), vec![0x51]).unwrap();
    w.refund_withdrawal(dsm_token::dbtc::decline(req.clone(), &keeper_key(), &[1; 32]).unwrap())
        .unwrap();
    let mut w = reopen(&store);
    // The keeper pays anyway: the wallet records it and reports the keeper's equivocation.
    let mut pay = funding(&htlc, 1, &[0; 32], 32);
    pay.output = vec![
        dsm_btc::regtest::TxOut {
            value: dsm_btc::regtest::Amount::from_sat(4_000),
            script_pubkey: dsm_btc::regtest::ScriptBuf::from_bytes(vec![0x51]),
        },
        dsm_btc::regtest::TxOut {
            value: dsm_btc::regtest::Amount::ZERO,
            script_pubkey: dsm_btc::commitment_script(&req.id().0),
        },
    ];
    let pb = chain.add(vec![pay.clone()]);
    let e = chain.evidence(&pay, 0, &htlc, pb);
    let payment = dsm_token::dbtc::WithdrawalPayment {
        request: req,
        evidence: dsm_btc::InclusionEvidence {
            tx: e.tx,
            headers: e.headers,
            block_index: pb,
            merkle_proof: e.merkle_proof,
        },
    };
    let err = w.observe_withdrawal_payment(&payment).unwrap_err();
    assert!(
        err.to_string().contains("keeper both declined and paid"),
        "{err}"
    );
}

/// A refund continues the parcels its request consumed (PROTOCOL.md §5.6, "Continued
/// roots"): the refunded value pays on to a receiver that never saw the deposit, which
/// checks it through the request's statement down to the deposit's SPV proof.
#[test]
fn refunded_value_pays_on_to_a_cold_receiver_through_its_requests_statement() {
    let p = regtest_dbtc(1);
    let t = p.token_id();
    let (mut w, _) = memory_wallet(0);
    let (mut r, _) = memory_wallet(0);
    w.import_policy(p.clone(), None).unwrap();
    r.import_policy(p, None).unwrap();
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(&htlc, 10_000, &recipient_commitment(&t, &w.device_id()), 41);
    let mut chain = Chain::new();
    let b = chain.add(vec![tx.clone()]);
    w.mint_deposit(&t, chain.evidence(&tx, 0, &htlc, b))
        .unwrap();
    let req = w.request_withdrawal(&t, Amount(4_000), vec![0x51]).unwrap();
    w.refund_withdrawal(dsm_token::dbtc::decline(req, &keeper_key(), &[1; 32]).unwrap())
        .unwrap();
    // Both parcels pay: the request's change (6,000) and the refund (4,000).
    let (_, rr) = session_token(&mut w, &mut r, t, &[9_500]);
    assert_eq!(rr.completed.len(), 1, "{rr:?}");
    assert_eq!(r.balance(&t), Amount(9_500));
}

/// A wallet holding one deposit of `sats` of dBTC, with the keeper's wallet (which
/// holds the policy) beside it.
fn holder_and_keeper(
    sats: u64,
    salt: u32,
) -> (
    dsm_wallet::Wallet,
    dsm_wallet::Wallet,
    dsm_core::chain::TokenId,
) {
    let p = regtest_dbtc(1);
    let t = p.token_id();
    let (mut w, _) = memory_wallet(0);
    let (mut keeper, _) = memory_wallet(0);
    w.import_policy(p.clone(), None).unwrap();
    keeper.import_policy(p, None).unwrap();
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(&htlc, sats, &recipient_commitment(&t, &w.device_id()), salt);
    let mut chain = Chain::new();
    let b = chain.add(vec![tx.clone()]);
    w.mint_deposit(&t, chain.evidence(&tx, 0, &htlc, b))
        .unwrap();
    (w, keeper, t)
}

/// The keeper checks a request before it pays on Bitcoin (PROTOCOL.md §19.3): a request
/// whose statement consumed dBTC nobody deposited is refused offline.
#[test]
fn the_keeper_refuses_a_withdrawal_of_made_up_dbtc() {
    use dsm_core::codec::Canonical;
    use dsm_protocol::session::Ledger;
    let (m, mut keeper, t) = holder_and_keeper(1_000, 51);
    // Mallory's modified wallet: a dev grant of dBTC (no deposit behind it), consumed by a
    // withdrawal request's statement she really signs.
    let request = dsm_token::dbtc::WithdrawalRequest {
        token: t,
        holder: m.device_id(),
        holder_parent_head: Ledger::head(&m).digest(),
        amount: Amount(50_000),
        to_script: vec![0x51],
    };
    let cause = dsm_token::source::request_cause(&request);
    let (backing, objects) = made_up_consumption(&m, t, 50_000, cause);
    let doc = dsm_token::dbtc::WithdrawalDocument {
        request: request.clone(),
        backing,
        objects,
        slot_write: None,
    };
    assert_eq!(
        dsm_token::dbtc::WithdrawalDocument::from_bytes(&doc.to_bytes()).unwrap(),
        doc
    );
    let e = keeper.check_withdrawal(&doc).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "withdrawal {} is refused",
            &request.id().to_hex()[..16]
        )) && e.contains("the root's consumed parcel 0"),
        "{e}"
    );
    // A statement for another request (the same hop under another request) is refused too.
    let mut other = doc.clone();
    other.request.amount = Amount(49_999);
    let e = keeper.check_withdrawal(&other).unwrap_err().to_string();
    assert!(
        e.contains("its statement is not the one that made this lock or request"),
        "{e}"
    );
}

/// Online, the keeper pays only when the request's statement holds its parcels' slots: a
/// holder that paid the same parcel to someone else first gets a conflict, never "safe to
/// pay"; an honest request settles.
#[test]
fn the_keeper_pays_only_a_request_whose_statement_holds_its_slots() {
    use dsm_wallet::online::{check_withdrawal, sync, Settlement};
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    // Honest: the request settles at the nodes.
    let (mut w, mut keeper, t) = holder_and_keeper(10_000, 52);
    let req = w.request_withdrawal(&t, Amount(4_000), vec![0x51]).unwrap();
    let doc = w.withdrawal_document(&req).unwrap();
    assert!(matches!(
        check_withdrawal(&mut keeper, &nodes, &doc).unwrap(),
        Settlement::Settled { .. }
    ));
    // A modified holder: it requests 4,000 and, from a copy taken before, pays the same
    // parcel to r, whose line settles first.
    let (mut m, mut keeper, t) = holder_and_keeper(10_000, 53);
    let (mut r, _) = memory_wallet(0);
    r.import_policy(regtest_dbtc(1), None).unwrap();
    let before = m.fork().unwrap();
    let req = m.request_withdrawal(&t, Amount(4_000), vec![0x51]).unwrap();
    let doc = m.withdrawal_document(&req).unwrap();
    let (offer, spent) = respend(&m, &before, &r, t, 5_000);
    assert!(matches!(
        deliver(&mut m, &mut r, offer),
        dsm_protocol::message::SessionMessage::Acceptance(_)
    ));
    let rr = sync(&mut r, &nodes).unwrap();
    assert!(
        rr.settled
            .iter()
            .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rr:?}"
    );
    let s = check_withdrawal(&mut keeper, &nodes, &doc).unwrap();
    assert!(
        matches!(&s, Settlement::Conflict(e) if e.device() == m.device_id()),
        "{s:?}"
    );
    assert_eq!(keeper.parcel_conflicts(), vec![(spent, m.device_id())]);
}
