//! dBTC in a real wallet (PROTOCOL.md §19): a regtest deposit mints once; after a restart
//! (also after a crash right after the mint, since the head and its source are one batch)
//! neither the same nor a longer proof of the same outpoint mints again; dBTC then moves
//! through an ordinary session.

mod common;
use common::*;
use dsm_btc::regtest::{funding, test_key, Chain};
use dsm_btc::{header_bytes, BtcNetwork, Htlc};
use dsm_core::chain::Amount;
use dsm_token::dbtc::{dbtc_policy, recipient_commitment, BitcoinBridge};

#[test]
fn a_deposit_mints_once_across_restarts_and_moves_like_any_token() {
    let bridge = BitcoinBridge {
        network: BtcNetwork::Regtest,
        checkpoint_height: 0,
        checkpoint_header: header_bytes(&Chain::new().checkpoint.header),
        d_min: 3,
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
    assert!(bob.mint_deposit(&t, ev.clone()).is_err());
    let (amount, _) = alice.mint_deposit(&t, ev.clone()).unwrap();
    assert_eq!(amount, Amount(5_000_000));
    assert!(alice.mint_deposit(&t, ev.clone()).is_err());
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
