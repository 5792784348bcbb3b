//! dBTC minting (PROTOCOL.md §19): a regtest deposit mints exactly its satoshis once per
//! outpoint, to the device its funding transaction commits to, only under the bridge's
//! network, keeper and depth; dBTC then moves and burns like any token, and whole chains
//! re-verify.

mod common;
use common::*;
use dsm_btc::regtest::{funding, test_key, Chain};
use dsm_btc::{header_bytes, BtcNetwork, Htlc};
use dsm_core::chain::Amount;
use dsm_core::receipt::{verify_chain_segment_with_sources, EmptyView};
use dsm_token::dbtc::*;
use dsm_token::source::{Source, SourceProof, TokenError, TokenRules};

fn bridge(network: BtcNetwork, d_min: u32) -> BitcoinBridge {
    let cp = match network {
        BtcNetwork::Mainnet => bitcoin::constants::genesis_block(bitcoin::Network::Bitcoin).header,
        _ => bitcoin::constants::genesis_block(bitcoin::Network::Regtest).header,
    };
    BitcoinBridge {
        chain: BitcoinChain {
            network,
            checkpoint_height: 0,
            checkpoint_header: header_bytes(&cp),
            d_min,
        },
        keeper: test_key(3),
        keeper_dsm: keeper_device().key.public_key().clone(),
    }
}

/// The keeper's DSM identity (it signs declines).
fn keeper_device() -> Device {
    Device::new(50)
}

fn htlc() -> Htlc {
    Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    }
}

fn deposit(token: dsm_core::chain::TokenId, ev: dsm_btc::DepositEvidence) -> SourceProof {
    SourceProof {
        source: Source::BtcDeposit(Box::new(BtcMint {
            token,
            proof: DepositProof(ev),
        })),
        allowlist: None,
        consumption: None,
    }
}

#[test]
fn a_deposit_mints_its_satoshis_once() {
    let p = dbtc_policy(bridge(BtcNetwork::Regtest, 6));
    p.validate().unwrap();
    let t = p.token_id();
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let (mut alice, mut bob) = (Device::new(1), Device::new(2));
    let tx = funding(&htlc(), 250_000, &recipient_commitment(&t, &alice.id()), 1);
    let mut chain = Chain::new();
    let block = chain.add(vec![tx.clone()]);
    chain.bury(4);
    // Five confirmations: too shallow for d_min = 6.
    let shallow = deposit(t, chain.evidence(&tx, 0, &htlc(), block));
    assert!(matches!(
        alice.apply(&mut rules, shallow).unwrap_err(),
        TokenError::Spv(dsm_btc::SpvError::TooShallow { have: 5, need: 6 })
    ));
    chain.bury(1);
    let proof = deposit(t, chain.evidence(&tx, 0, &htlc(), block));
    // Bob cannot mint from a transaction committing to alice.
    assert_eq!(
        bob.apply(&mut rules, proof.clone()).unwrap_err(),
        TokenError::Spv(dsm_btc::SpvError::NoCommitment)
    );
    alice.apply(&mut rules, proof.clone()).unwrap();
    assert_eq!(alice.balance(&t), 250_000);
    // The same deposit again — the same proof, or one with more headers (another cause).
    assert_eq!(
        alice.apply(&mut rules, proof.clone()).unwrap_err(),
        TokenError::AlreadyUsed
    );
    chain.bury(3);
    let longer = deposit(t, chain.evidence(&tx, 0, &htlc(), block));
    assert_ne!(longer.cause(), proof.cause());
    assert_eq!(
        alice.apply(&mut rules, longer.clone()).unwrap_err(),
        TokenError::AlreadyUsed
    );
    // A verifier that learned the outpoint from the nodes refuses it too.
    let mut other = TokenRules::new();
    other.add_policy(p.clone()).unwrap();
    let key = outpoint_key(&bitcoin::OutPoint {
        txid: tx.compute_txid(),
        vout: 0,
    });
    other.mark_outpoint_used(key);
    let mut alice2 = Device::new(1);
    assert_eq!(
        alice2.apply(&mut other, longer).unwrap_err(),
        TokenError::DoubleMint
    );
    // dBTC moves offline like any token, and burns.
    let mut c = 0;
    transfer(&mut alice, &mut bob, t, 100_000, &mut c);
    let b = burn(&p, 40_000, &bob);
    bob.apply(&mut rules, b).unwrap();
    assert_eq!((alice.balance(&t), bob.balance(&t)), (150_000, 60_000));
    for d in [&alice, &bob] {
        let mut v = TokenRules::new();
        v.add_policy(p.clone()).unwrap();
        d.assert_chain_verifies(&mut v);
    }
}

#[test]
fn deposits_outside_the_bridge_are_refused() {
    let mut alice = Device::new(1);
    let regtest = dbtc_policy(bridge(BtcNetwork::Regtest, 1));
    let t = regtest.token_id();
    let mut chain = Chain::new();
    let tx = funding(&htlc(), 10_000, &recipient_commitment(&t, &alice.id()), 2);
    let block = chain.add(vec![tx.clone()]);
    let mut rules = TokenRules::new();
    rules.add_policy(regtest.clone()).unwrap();
    // An HTLC whose claimer is not the bridge's keeper.
    let mut rogue = htlc();
    rogue.claimer = test_key(9);
    let tx2 = funding(&rogue, 10_000, &recipient_commitment(&t, &alice.id()), 3);
    let b2 = chain.add(vec![tx2.clone()]);
    assert!(matches!(
        alice
            .apply(&mut rules, deposit(t, chain.evidence(&tx2, 0, &rogue, b2)))
            .unwrap_err(),
        TokenError::NotABridge(_)
    ));
    // A mainnet dBTC: regtest blocks carry no mainnet work, and the commitment differs.
    let mainnet = dbtc_policy(bridge(BtcNetwork::Mainnet, 100));
    mainnet.validate().unwrap();
    let tm = mainnet.token_id();
    assert_ne!(tm, t);
    rules.add_policy(mainnet.clone()).unwrap();
    let txm = funding(&htlc(), 10_000, &recipient_commitment(&tm, &alice.id()), 4);
    let bm = chain.add(vec![txm.clone()]);
    assert!(matches!(
        alice
            .apply(
                &mut rules,
                deposit(tm, chain.evidence(&txm, 0, &htlc(), bm))
            )
            .unwrap_err(),
        TokenError::Spv(_)
    ));
    // A proof naming the regtest token under another token's id.
    assert!(alice
        .apply(
            &mut rules,
            deposit(tm, chain.evidence(&tx, 0, &htlc(), block))
        )
        .is_err_and(|e| matches!(e, TokenError::Spv(dsm_btc::SpvError::BrokenLink(0)))));
    // A head crediting another amount than the deposit.
    let proof = deposit(t, chain.evidence(&tx, 0, &htlc(), block));
    let wrong = alice
        .head
        .allocation_child(&t, Amount(9_999), proof.cause())
        .unwrap();
    assert_eq!(
        rules
            .apply_source(
                &alice.head,
                &wrong,
                &dsm_core::codec::Canonical::to_bytes(&proof)
            )
            .unwrap_err(),
        TokenError::AmountMismatch
    );
    // Bridge policy rules.
    let mut bad = regtest.clone();
    bad.decimals = 2;
    assert!(bad.validate().is_err_and(|e| matches!(e, dsm_token::PolicyError::Bitcoin(m) if m.starts_with("a bridged token is fungible"))));
    let mut bad = dbtc_policy(bridge(BtcNetwork::Mainnet, 99));
    assert!(bad.validate().is_err_and(|e| matches!(
        e,
        dsm_token::PolicyError::Bitcoin("d_min must be at least 1 (100 on mainnet)")
    )));
    bad.bitcoin.as_mut().unwrap().chain.d_min = 100;
    bad.bitcoin.as_mut().unwrap().keeper[0] = 7;
    assert!(bad.validate().is_err_and(|e| matches!(
        e,
        dsm_token::PolicyError::Bitcoin("the keeper key is not a compressed secp256k1 key")
    )));
    // Policies round-trip with their bridge.
    let bytes = dsm_core::codec::Canonical::to_bytes(&regtest);
    assert_eq!(
        <dsm_token::TokenPolicy as dsm_core::codec::Canonical>::from_bytes(&bytes).unwrap(),
        regtest
    );
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use bitcoin::hashes::{sha256, Hash};
    sha256::Hash::hash(b).to_byte_array()
}

#[test]
fn withdrawals_finalise_on_a_proven_payment_and_refund_only_when_declined() {
    let p = dbtc_policy(bridge(BtcNetwork::Regtest, 2));
    let t = p.token_id();
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let mut holder = Device::new(1);
    let keeper = keeper_device();
    let h = Htlc {
        h_claim: sha256(b"f"),
        h_refund: sha256(b"r"),
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(&h, 1_000_000, &recipient_commitment(&t, &holder.id()), 11);
    let mut chain = Chain::new();
    let block = chain.add(vec![tx.clone()]);
    chain.bury(1);
    holder
        .apply(&mut rules, deposit(t, chain.evidence(&tx, 0, &h, block)))
        .unwrap();
    let holder_btc = bitcoin::ScriptBuf::new_p2wpkh(&{
        use bitcoin::hashes::Hash;
        bitcoin::WPubkeyHash::hash(&[8; 33])
    });
    // Request 400,000 sats: the amount leaves the holder's head (in flight).
    let req = WithdrawalRequest {
        token: t,
        holder: holder.id(),
        holder_parent_head: holder.head.digest(),
        amount: Amount(400_000),
        to_script: holder_btc.to_bytes(),
    };
    holder
        .apply(
            &mut rules,
            SourceProof {
                source: Source::WithdrawRequest(Box::new(req.clone())),
                allowlist: None,
                consumption: None,
            },
        )
        .unwrap();
    assert_eq!(holder.balance(&t), 600_000);
    // The keeper claims the deposit through the HTLC, paying the holder and committing to
    // the request; Bitcoin Core's interpreter accepts the witness; the rest goes back into
    // a fresh HTLC that keeps backing the remaining dBTC.
    let keeper_btc = bitcoin::secp256k1::SecretKey::from_slice(&[3; 32]).unwrap();
    let outputs = vec![
        bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(400_000),
            script_pubkey: holder_btc.clone(),
        },
        bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(599_000),
            script_pubkey: h.script_pubkey(),
        },
        bitcoin::TxOut {
            value: bitcoin::Amount::ZERO,
            script_pubkey: dsm_btc::commitment_script(&req.id().0),
        },
    ];
    let claim = dsm_btc::build_claim(
        &h,
        bitcoin::OutPoint {
            txid: tx.compute_txid(),
            vout: 0,
        },
        1_000_000,
        b"f",
        &keeper_btc,
        outputs,
    );
    dsm_btc::verify_spend(&claim, 0, &h.script_pubkey(), 1_000_000).unwrap();
    let pb = chain.add(vec![claim.clone()]);
    chain.bury(1);
    let ev = chain.evidence(&claim, 0, &h, pb);
    let payment = WithdrawalPayment {
        request: req.clone(),
        evidence: dsm_btc::InclusionEvidence {
            tx: ev.tx,
            headers: ev.headers,
            block_index: pb,
            merkle_proof: ev.merkle_proof,
        },
    };
    let payment = <WithdrawalPayment as dsm_core::codec::Canonical>::from_bytes(
        &dsm_core::codec::Canonical::to_bytes(&payment),
    )
    .unwrap();
    assert_eq!(rules.observe_payment(&payment).unwrap(), req.id());
    // After a proven payment, no refund — even with a (dishonest) keeper decline; and that
    // decline with the payment is evidence against the keeper.
    let mut c = 0;
    let late = decline(req.clone(), &keeper.key, &rnd(&mut c)).unwrap();
    let refund = |d: &WithdrawalDecline| SourceProof {
        source: Source::WithdrawRefund(Box::new(d.clone())),
        allowlist: None,
        consumption: None,
    };
    assert_eq!(
        holder.apply(&mut rules, refund(&late)).unwrap_err(),
        TokenError::WithdrawalPaid
    );
    assert!(keeper_equivocation(
        p.bitcoin.as_ref().unwrap(),
        &payment,
        &late
    ));
    // A second request, declined: the holder takes it back; a decline by another key is not one.
    let req2 = WithdrawalRequest {
        token: t,
        holder: holder.id(),
        holder_parent_head: holder.head.digest(),
        amount: Amount(100_000),
        to_script: holder_btc.to_bytes(),
    };
    holder
        .apply(
            &mut rules,
            SourceProof {
                source: Source::WithdrawRequest(Box::new(req2.clone())),
                allowlist: None,
                consumption: None,
            },
        )
        .unwrap();
    assert_eq!(holder.balance(&t), 500_000);
    let forged = decline(req2.clone(), &Device::new(51).key, &rnd(&mut c)).unwrap();
    assert_eq!(
        holder.apply(&mut rules, refund(&forged)).unwrap_err(),
        TokenError::BadDecline
    );
    let ok = decline(req2.clone(), &keeper.key, &rnd(&mut c)).unwrap();
    holder.apply(&mut rules, refund(&ok)).unwrap();
    assert_eq!(holder.balance(&t), 600_000);
    assert_eq!(
        holder.apply(&mut rules, refund(&ok)).unwrap_err(),
        TokenError::AlreadyUsed,
        "a decline refunds once"
    );
    // Another valid decline of the same request (the keeper's signature is hedged, so its
    // bytes differ) is the same source: refused as already used, never a second refund.
    let again = decline(req2.clone(), &keeper.key, &rnd(&mut c)).unwrap();
    assert_ne!(refund(&again).cause(), refund(&ok).cause());
    assert_eq!(
        holder.apply(&mut rules, refund(&again)).unwrap_err(),
        TokenError::AlreadyUsed
    );
    assert_eq!(holder.balance(&t), 600_000);
    // A payment surfacing after that refund is keeper equivocation.
    let claim2 = dsm_btc::build_claim(
        &h,
        bitcoin::OutPoint {
            txid: claim.compute_txid(),
            vout: 1,
        },
        599_000,
        b"f",
        &keeper_btc,
        vec![
            bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(100_000),
                script_pubkey: holder_btc.clone(),
            },
            bitcoin::TxOut {
                value: bitcoin::Amount::ZERO,
                script_pubkey: dsm_btc::commitment_script(&req2.id().0),
            },
        ],
    );
    let b2 = chain.add(vec![claim2.clone()]);
    chain.bury(1);
    let ev2 = chain.evidence(&claim2, 0, &h, b2);
    let payment2 = WithdrawalPayment {
        request: req2,
        evidence: dsm_btc::InclusionEvidence {
            tx: ev2.tx,
            headers: ev2.headers,
            block_index: b2,
            merkle_proof: ev2.merkle_proof,
        },
    };
    assert_eq!(
        rules.observe_payment(&payment2).unwrap_err(),
        TokenError::KeeperEquivocation
    );
    // The holder's chain re-verifies: deposit, request, request, refund.
    let mut v = TokenRules::new();
    v.add_policy(p.clone()).unwrap();
    assert_eq!(
        verify_chain_segment_with_sources(&holder.initial, &holder.segment, &EmptyView, &mut v)
            .unwrap(),
        holder.head
    );
    // Supply: balances + in flight = minted − paid out.
    assert_eq!(holder.balance(&t), 1_000_000 - 400_000);
}
