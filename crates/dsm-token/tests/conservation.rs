//! Conservation (PROTOCOL.md §17.7, §18): over random sequences of mints, burns, transfers,
//! emissions, vault locks and vault resolutions between real devices, for each token the
//! balances plus the amounts locked in unresolved vaults equal minted − burned + emitted,
//! never above the cap; each vault resolves once; every device's whole chain re-verifies
//! as balance provenance.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::receipt::{verify_chain_segment_with_sources, EmptyView};
use dsm_token::djte::EmissionLedger;
use dsm_token::policy::{BurnRule, DjteParams, JoinGate};
use dsm_token::source::{EmissionCredit, Source, SourceProof, TokenRules};
use proptest::prelude::*;

fn sha2_256(x: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(x).into()
}

#[derive(Clone, Debug)]
enum Op {
    Mint {
        to: usize,
        amount: u128,
    },
    Burn {
        from: usize,
        amount: u128,
    },
    Transfer {
        from: usize,
        to: usize,
        gold: bool,
        amount: u128,
    },
    Join {
        who: usize,
    },
    VaultCreate {
        from: usize,
        to: usize,
        gold: bool,
        amount: u128,
    },
    VaultResolve {
        which: usize,
        release: bool,
    },
    BtcDeposit {
        to: usize,
        sats: u64,
    },
    BtcWithdraw {
        from: usize,
        sats: u64,
    },
    BtcSettle {
        which: usize,
        pay: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 1..400u128).prop_map(|(to, amount)| Op::Mint { to, amount }),
        (0..4usize, 1..100u128).prop_map(|(from, amount)| Op::Burn { from, amount }),
        (0..4usize, 0..4usize, any::<bool>(), 1..200u128).prop_map(|(from, to, gold, amount)| {
            Op::Transfer {
                from,
                to,
                gold,
                amount,
            }
        }),
        (0..4usize).prop_map(|who| Op::Join { who }),
        (0..4usize, 0..4usize, any::<bool>(), 1..150u128).prop_map(|(from, to, gold, amount)| {
            Op::VaultCreate {
                from,
                to,
                gold,
                amount,
            }
        }),
        (0..8usize, any::<bool>()).prop_map(|(which, release)| Op::VaultResolve { which, release }),
        (0..4usize, 1..5_000u64).prop_map(|(to, sats)| Op::BtcDeposit { to, sats }),
        (0..4usize, 1..3_000u64).prop_map(|(from, sats)| Op::BtcWithdraw { from, sats }),
        (0..8usize, any::<bool>()).prop_map(|(which, pay)| Op::BtcSettle { which, pay }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn supply_is_conserved(ops in proptest::collection::vec(op(), 1..30)) {
        let mut c = 0u64;
        let issuer = Device::new(100);
        let mut operator = Device::new(101);
        let mut devs: Vec<Device> = (0..4).map(Device::new).collect();
        let gold = fungible("GOLD", &[&issuer], 1, 1_000, BurnRule::Holder);
        let era = {
            let mut p = fungible("ERAX", &[], 0, 5_000, BurnRule::Holder);
            p.djte = Some(DjteParams {
                shard_bits: 2,
                epoch0_emissions: 2,
                epoch0_amount: Amount(700),
                gate: JoinGate { operators: vec![operator.id()], k: 1, fee_token: gold.token_id(), fee: Amount(1) },
            });
            p
        };
        let keeper = Device::new(102);
        let dbtc = dsm_token::dbtc::dbtc_policy(dsm_token::dbtc::BitcoinBridge {
            chain: dsm_token::dbtc::BitcoinChain {
                network: dsm_btc::BtcNetwork::Regtest,
                checkpoint_height: 0,
                checkpoint_header: dsm_btc::header_bytes(&dsm_btc::regtest::Chain::new().checkpoint.header),
                d_min: 1,
            },
            keeper: dsm_btc::regtest::test_key(3),
            keeper_dsm: keeper.key.public_key().clone(),
        });
        let d = dbtc.token_id();
        let mut btc = dsm_btc::regtest::Chain::new();
        let htlc = dsm_btc::Htlc { h_claim: [1; 32], h_refund: [2; 32], claimer: dsm_btc::regtest::test_key(3), refunder: dsm_btc::regtest::test_key(4) };
        // (request, settled?)
        let mut withdrawals: Vec<(dsm_token::dbtc::WithdrawalRequest, bool)> = Vec::new();
        let (mut btc_minted, mut btc_paid) = (0u128, 0u128);
        let (g, e) = (gold.token_id(), era.token_id());
        let mut rules = TokenRules::new();
        rules.add_policy(gold.clone()).unwrap();
        rules.add_policy(era.clone()).unwrap();
        rules.add_policy(dbtc.clone()).unwrap();
        let mut vault = EmissionLedger::new(&era).unwrap();
        let (mut minted, mut burned, mut seq) = (0u128, [0u128; 2], 0u64);
        // Vaults: (lock, token index 0 = GOLD / 1 = ERA, resolved?).
        let mut vaults: Vec<(dsm_token::vault::SignedVaultLock, usize, bool)> = Vec::new();
        for o in ops {
            match o {
                Op::Mint { to, amount } => {
                    let m = mint(&gold, seq, minted, amount, &devs[to], &[(0, &issuer)], &mut c);
                    if minted + amount <= 1_000 {
                        devs[to].apply(&mut rules, m).unwrap();
                        minted += amount;
                        seq += 1;
                    } else {
                        prop_assert!(devs[to].apply(&mut rules, m).is_err());
                    }
                }
                Op::Burn { from, amount } => {
                    for (i, (p, t)) in [(&gold, g), (&era, e)].into_iter().enumerate() {
                        if devs[from].balance(&t) >= amount {
                            let b = burn(p, amount, &devs[from]);
                            devs[from].apply(&mut rules, b).unwrap();
                            burned[i] += amount;
                        }
                    }
                }
                Op::Transfer { from, to, gold: is_gold, amount } => {
                    let t = if is_gold { g } else { e };
                    if from != to && devs[from].balance(&t) >= amount {
                        let (a, b) = if from < to {
                            let (l, r) = devs.split_at_mut(to);
                            (&mut l[from], &mut r[0])
                        } else {
                            let (l, r) = devs.split_at_mut(from);
                            (&mut r[0], &mut l[to])
                        };
                        let before = a.balance(&t) + b.balance(&t);
                        transfer(a, b, t, amount, &mut c);
                        prop_assert_eq!(a.balance(&t) + b.balance(&t), before);
                    }
                }
                Op::VaultCreate { from, to, gold: is_gold, amount } => {
                    let (t, ti) = if is_gold { (g, 0) } else { (e, 1) };
                    if devs[from].balance(&t) >= amount {
                        let to_id = devs[to].id();
                        let lock = lock_vault(&mut rules, &mut devs[from], &to_id, t, amount,
                            dsm_token::vault::Condition::Sha256(sha2_256(b"k")),
                            dsm_token::vault::Condition::Iterations(3), &mut c).unwrap();
                        vaults.push((lock, ti, false));
                    }
                }
                Op::VaultResolve { which, release } => {
                    if vaults.is_empty() {
                        continue;
                    }
                    let i = which % vaults.len();
                    let (lock, _, resolved) = vaults[i].clone();
                    let id = lock.policy.vault_id();
                    let (branch, witness) = if release {
                        (dsm_token::vault::Branch::Release, dsm_token::vault::Witness::Preimage(b"k".to_vec()))
                    } else {
                        (dsm_token::vault::Branch::Refund, dsm_token::vault::Witness::Work(dsm_token::vault::iterate(&id, dsm_token::vault::Branch::Refund, 3)))
                    };
                    let party = lock.policy.party(branch);
                    let d = devs.iter_mut().find(|d| d.id() == party).unwrap();
                    let r = d.apply(&mut rules, resolution(&lock, branch, witness));
                    // Exactly one resolution per vault: a second is refused (same or other branch).
                    prop_assert_eq!(r.is_ok(), !resolved);
                    vaults[i].2 = true;
                }
                Op::BtcDeposit { to, sats } => {
                    let tx = dsm_btc::regtest::funding(&htlc, sats, &dsm_token::dbtc::recipient_commitment(&d, &devs[to].id()), btc.blocks.len() as u32 + 1_000);
                    let b = btc.add(vec![tx.clone()]);
                    let ev = btc.evidence(&tx, 0, &htlc, b);
                    let proof = SourceProof { source: Source::BtcDeposit(Box::new(dsm_token::dbtc::BtcMint { token: d, proof: dsm_token::dbtc::DepositProof(ev) })), allowlist: None, consumption: None };
                    devs[to].apply(&mut rules, proof.clone()).unwrap();
                    btc_minted += u128::from(sats);
                    // The same deposit never mints twice.
                    prop_assert!(devs[to].apply(&mut rules, proof).is_err());
                }
                Op::BtcWithdraw { from, sats } => {
                    if devs[from].balance(&d) >= u128::from(sats) {
                        let req = dsm_token::dbtc::WithdrawalRequest { token: d, holder: devs[from].id(), holder_parent_head: devs[from].head.digest(), amount: Amount(u128::from(sats)), to_script: vec![0x51] };
                        devs[from].apply(&mut rules, SourceProof { source: Source::WithdrawRequest(Box::new(req.clone())), allowlist: None, consumption: None }).unwrap();
                        withdrawals.push((req, false));
                    }
                }
                Op::BtcSettle { which, pay } => {
                    if withdrawals.is_empty() {
                        continue;
                    }
                    let i = which % withdrawals.len();
                    let (req, settled) = withdrawals[i].clone();
                    let decline = dsm_token::dbtc::decline(req.clone(), &keeper.key, &rnd(&mut c)).unwrap();
                    let refund = SourceProof { source: Source::WithdrawRefund(Box::new(decline)), allowlist: None, consumption: None };
                    let holder = devs.iter_mut().find(|x| x.id() == req.holder).unwrap();
                    if pay && !settled {
                        // The keeper pays (a buried transaction to the script, committing to the request).
                        let pay_tx = dsm_btc::regtest::funding(&htlc, 1, &[0; 32], 0);
                        let mut pay_tx = pay_tx;
                        pay_tx.output = vec![
                            bitcoin::TxOut { value: bitcoin::Amount::from_sat(req.amount.0 as u64), script_pubkey: bitcoin::ScriptBuf::from_bytes(req.to_script.clone()) },
                            bitcoin::TxOut { value: bitcoin::Amount::ZERO, script_pubkey: dsm_btc::commitment_script(&req.id().0) },
                        ];
                        let b = btc.add(vec![pay_tx.clone()]);
                        let ev = btc.evidence(&pay_tx, 0, &htlc, b);
                        let payment = dsm_token::dbtc::WithdrawalPayment { request: req.clone(), evidence: dsm_btc::InclusionEvidence { tx: ev.tx, headers: ev.headers, block_index: b, merkle_proof: ev.merkle_proof } };
                        rules.observe_payment(&payment).unwrap();
                        btc_paid += req.amount.0;
                        // Never a refund once a payment is known.
                        prop_assert!(holder.apply(&mut rules, refund).is_err());
                        withdrawals[i].1 = true;
                    } else if !settled {
                        holder.apply(&mut rules, refund.clone()).unwrap();
                        prop_assert!(holder.apply(&mut rules, refund).is_err());
                        withdrawals[i].1 = true;
                    }
                }
                Op::Join { who } => {
                    if vault.has_joined(&devs[who].id()) || devs[who].balance(&g) == 0 {
                        continue;
                    }
                    let receipt = transfer(&mut devs[who], &mut operator, g, 1, &mut c);
                    let before = vault.state().clone();
                    let step = vault.prepare(devs[who].id(), vec![receipt]).unwrap();
                    let em = vault.apply(&step, true).unwrap();
                    rules.know_emission_state(&e, &before.digest());
                    if let Some((w, _)) = em.winner {
                        let proof = SourceProof { source: Source::Emission(Box::new(EmissionCredit { state: before, step })), allowlist: None, consumption: None };
                        let d = devs.iter_mut().find(|d| d.id() == w).unwrap();
                        d.apply(&mut rules, proof).unwrap();
                    }
                }
            }
            let locked = |ti: usize| -> u128 { vaults.iter().filter(|v| v.1 == ti && !v.2).map(|v| v.0.policy.amount.0).sum() };
            let gold_sum: u128 = devs.iter().chain([&operator]).map(|d| d.balance(&g)).sum();
            prop_assert_eq!(gold_sum + locked(0), minted - burned[0]);
            prop_assert!(minted <= gold.cap.0);
            let era_sum: u128 = devs.iter().map(|d| d.balance(&e)).sum();
            prop_assert_eq!(era_sum + locked(1), vault.state().emitted.0 - burned[1]);
            prop_assert!(vault.state().emitted.0 <= era.cap.0);
            let dbtc_sum: u128 = devs.iter().map(|x| x.balance(&d)).sum();
            let in_flight: u128 = withdrawals.iter().filter(|w| !w.1).map(|w| w.0.amount.0).sum();
            prop_assert_eq!(dbtc_sum + in_flight, btc_minted - btc_paid);
        }
        // Every chain re-verifies from its first head with a verifier's own rules.
        let mut v = TokenRules::new();
        v.add_policy(gold.clone()).unwrap();
        v.add_policy(era.clone()).unwrap();
        v.add_policy(dbtc.clone()).unwrap();
        for em in vault.history() {
            v.know_emission_state(&e, &em.next.prev);
        }
        for d in devs.iter().chain([&operator]) {
            let last = verify_chain_segment_with_sources(&d.initial, &d.segment, &EmptyView, &mut v.clone()).unwrap();
            prop_assert_eq!(&last, &d.head);
        }
    }
}
