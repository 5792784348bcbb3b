//! Deterministic limbo vaults (PROTOCOL.md §18): every condition kind satisfied and
//! violated, exactly one resolution, conflicts detected and proven, forged locks refused,
//! strict decoding with bounded nesting, and whole chains re-verified.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::receipt::{propose, verify_chain_segment_with_sources, EmptyView, LocalDevice};
use dsm_token::authority::cosign;
use dsm_token::policy::{BurnRule, TokenKind};
use dsm_token::source::{SourceProof, TokenError, TokenRules};
use dsm_token::vault::*;
use sha2::Digest as _;

fn setup() -> (TokenRules, Device, Device, dsm_token::TokenPolicy, u64) {
    let mut c = 0;
    let mut creator = Device::new(1);
    let bob = Device::new(2);
    let p = fungible("GOLD", &[&creator], 1, 1_000_000, BurnRule::Holder);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let m = mint(&p, 0, 0, 1_000, &creator, &[(0, &creator)], &mut c);
    creator.apply(&mut rules, m).unwrap();
    (rules, creator, bob, p, c)
}

fn sha(x: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(x).into()
}

#[test]
fn a_preimage_releases_to_the_beneficiary_and_chains_verify() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let t = p.token_id();
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        300,
        Condition::Sha256(sha(b"open sesame")),
        Condition::Iterations(1000),
        &mut c,
    )
    .unwrap();
    assert_eq!(creator.balance(&t), 700);
    // Wrong preimage, then the right one.
    let bad = resolution(
        &lock,
        Branch::Release,
        Witness::Preimage(b"open sesam".to_vec()),
    );
    assert_eq!(
        bob.apply(&mut rules, bad).unwrap_err(),
        TokenError::Vault(VaultError::WrongPreimage)
    );
    let good = resolution(
        &lock,
        Branch::Release,
        Witness::Preimage(b"open sesame".to_vec()),
    );
    // The creator cannot take the release branch.
    assert_eq!(
        creator.apply(&mut rules, good.clone()).unwrap_err(),
        TokenError::WrongTarget
    );
    bob.apply(&mut rules, good.clone()).unwrap();
    assert_eq!(bob.balance(&t), 300);
    // Applied twice: refused — also in another valid encoding (an allowlist proof the
    // rule ignores for this token changes the head's cause, not the source).
    assert_eq!(
        bob.apply(&mut rules, good.clone()).unwrap_err(),
        TokenError::AlreadyUsed
    );
    let padded = SourceProof {
        allowlist: Some(dsm_core::smt::SparseMerkleTree::new().prove(bob.id().as_bytes())),
        ..good
    };
    assert_eq!(
        bob.apply(&mut rules, padded).unwrap_err(),
        TokenError::AlreadyUsed
    );
    assert_eq!(bob.balance(&t), 300);
    // The refund branch is now a conflict.
    let id = lock.policy.vault_id();
    let refund = resolution(
        &lock,
        Branch::Refund,
        Witness::Work(iterate(&id, Branch::Refund, 1000)),
    );
    assert_eq!(
        creator.apply(&mut rules, refund).unwrap_err(),
        TokenError::VaultConflict(id)
    );
    assert!(rules.is_conflicted(&id));
    // Third parties re-verify both chains from their first heads.
    for d in [&creator, &bob] {
        let mut v = TokenRules::new();
        v.add_policy(p.clone()).unwrap();
        d.assert_chain_verifies(&mut v);
    }
}

#[test]
fn the_refund_branch_needs_the_work_and_conflicts_are_proven() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let t = p.token_id();
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        100,
        Condition::Blake3(*blake3::hash(b"k").as_bytes()),
        Condition::Iterations(5000),
        &mut c,
    )
    .unwrap();
    let id = lock.policy.vault_id();
    let wrong = resolution(
        &lock,
        Branch::Refund,
        Witness::Work(iterate(&id, Branch::Refund, 4999)),
    );
    assert_eq!(
        creator.apply(&mut rules, wrong).unwrap_err(),
        TokenError::Vault(VaultError::WrongWork)
    );
    let other_branch = resolution(
        &lock,
        Branch::Refund,
        Witness::Work(iterate(&id, Branch::Release, 5000)),
    );
    assert!(creator
        .apply(&mut rules, other_branch)
        .is_err_and(|e| matches!(e, TokenError::Vault(VaultError::WrongWork))));
    let refund = resolution(
        &lock,
        Branch::Refund,
        Witness::Work(iterate(&id, Branch::Refund, 5000)),
    );
    creator.apply(&mut rules, refund.clone()).unwrap();
    assert_eq!(creator.balance(&t), 1_000);
    // Offline, bob claims the release too (a verifier that never saw the refund accepts it);
    // the two resolutions are evidence any verifier checks.
    let claim = resolution(&lock, Branch::Release, Witness::Preimage(b"k".to_vec()));
    let mut blind = TokenRules::new();
    blind.add_policy(p.clone()).unwrap();
    bob.apply(&mut blind, claim.clone()).unwrap();
    let (dsm_token::source::Source::VaultResolve(a), dsm_token::source::Source::VaultResolve(b)) =
        (&refund.source, &claim.source)
    else {
        unreachable!()
    };
    let proof = VaultConflict {
        a: (**a).clone(),
        b: (**b).clone(),
    };
    let proof = VaultConflict::from_bytes(&proof.to_bytes()).unwrap();
    let mut v = TokenRules::new();
    v.add_policy(p.clone()).unwrap();
    assert_eq!(v.import_vault_conflict(&proof).unwrap(), id);
    let err = verify_chain_segment_with_sources(&bob.initial, &bob.segment, &EmptyView, &mut v)
        .unwrap_err();
    assert!(
        err.to_string().contains("two different resolutions"),
        "{err}"
    );
    // The same resolution twice is no conflict.
    assert!(v
        .import_vault_conflict(&VaultConflict {
            a: (**a).clone(),
            b: (**a).clone()
        })
        .is_err_and(|e| matches!(
            e,
            TokenError::Vault(VaultError::Malformed(
                "a conflict needs two different resolutions of one vault"
            ))
        )));
    // observe_resolution detects the second one.
    let mut o = TokenRules::new();
    o.observe_resolution(a).unwrap();
    assert_eq!(
        o.observe_resolution(b).unwrap_err(),
        TokenError::VaultConflict(id)
    );
}

#[test]
fn signature_conditions_count_distinct_valid_signatures() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let (k1, k2, k3) = (Device::new(11), Device::new(12), Device::new(13));
    let keys = vec![
        k1.key.public_key().clone(),
        k2.key.public_key().clone(),
        k3.key.public_key().clone(),
    ];
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        p.token_id(),
        50,
        Condition::Signatures { threshold: 2, keys },
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap();
    let id = lock.policy.vault_id();
    let msg = authorization(&id, Branch::Release);
    let sig = |d: &Device, i: u32, c: &mut u64| cosign(&d.key, i, &msg, &rnd(c)).unwrap();
    let one = Witness::Signatures(vec![sig(&k1, 0, &mut c)]);
    assert_eq!(
        bob.apply(&mut rules, resolution(&lock, Branch::Release, one))
            .unwrap_err(),
        TokenError::Vault(VaultError::Signatures { have: 1, need: 2 })
    );
    let misattributed = Witness::Signatures(vec![sig(&k1, 0, &mut c), sig(&k2, 2, &mut c)]);
    assert!(bob
        .apply(
            &mut rules,
            resolution(&lock, Branch::Release, misattributed)
        )
        .is_err_and(|e| matches!(
            e,
            TokenError::Vault(VaultError::Signatures { have: 1, need: 2 })
        )));
    let dup = Witness::Signatures(vec![sig(&k1, 0, &mut c), sig(&k1, 0, &mut c)]);
    assert_eq!(
        bob.apply(&mut rules, resolution(&lock, Branch::Release, dup))
            .unwrap_err(),
        TokenError::Vault(VaultError::Shape)
    );
    // Signed for the other branch.
    let other = authorization(&id, Branch::Refund);
    let wrong_branch = Witness::Signatures(vec![
        cosign(&k1.key, 0, &other, &rnd(&mut c)).unwrap(),
        cosign(&k3.key, 2, &other, &rnd(&mut c)).unwrap(),
    ]);
    assert!(bob
        .apply(&mut rules, resolution(&lock, Branch::Release, wrong_branch))
        .is_err_and(|e| matches!(
            e,
            TokenError::Vault(VaultError::Signatures { have: 0, need: 2 })
        )));
    let two = Witness::Signatures(vec![sig(&k1, 0, &mut c), sig(&k3, 2, &mut c)]);
    bob.apply(&mut rules, resolution(&lock, Branch::Release, two))
        .unwrap();
    assert_eq!(bob.balance(&p.token_id()), 50);
}

#[test]
fn receipt_and_composite_conditions() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let t = p.token_id();
    // A receipt condition: bob must first pay the creator 10 (a stated transfer).
    let m = mint(&p, 1, 1_000, 20, &bob, &[(0, &creator)], &mut c);
    bob.apply(&mut rules, m).unwrap();
    let built = propose(
        &LocalDevice {
            identity: &bob.identity,
            key: &bob.key,
            head: &bob.head,
            tree: &bob.tree,
        },
        &creator.id(),
        t,
        Amount(10),
        &bob.select(&t, Amount(10)),
        &rnd(&mut c),
    )
    .unwrap();
    let stated = built.signed.proposal.commit();
    let release = Condition::All(vec![
        Condition::Receipt(stated),
        Condition::Any(vec![
            Condition::Sha256(sha(b"a")),
            Condition::Blake3(*blake3::hash(b"b").as_bytes()),
        ]),
    ]);
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        40,
        release,
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap();
    // The payment happens; its proposal commit is a function of the content (the step,
    // both heads, the proof), not of signing randomness, so it is the stated one.
    drop(built);
    let receipt = transfer(&mut bob, &mut creator, t, 10, &mut c);
    assert_eq!(receipt.proposal.proposal.commit(), stated);
    let other = transfer(&mut bob, &mut creator, t, 1, &mut c);
    let w = |r: &dsm_core::receipt::Receipt, alt: u32, pre: &[u8]| {
        Witness::All(vec![
            Witness::Receipt(Box::new(r.clone())),
            Witness::Any(alt, Box::new(Witness::Preimage(pre.to_vec()))),
        ])
    };
    assert_eq!(
        bob.apply(
            &mut rules,
            resolution(&lock, Branch::Release, w(&other, 0, b"a"))
        )
        .unwrap_err(),
        TokenError::Vault(VaultError::WrongReceipt)
    );
    assert!(matches!(
        bob.apply(
            &mut rules,
            resolution(&lock, Branch::Release, w(&receipt, 0, b"b"))
        )
        .unwrap_err(),
        TokenError::Vault(VaultError::Alternative(_))
    ));
    assert_eq!(
        bob.apply(
            &mut rules,
            resolution(&lock, Branch::Release, w(&receipt, 7, b"a"))
        )
        .unwrap_err(),
        TokenError::Vault(VaultError::Shape)
    );
    assert_eq!(
        bob.apply(
            &mut rules,
            resolution(&lock, Branch::Release, Witness::Preimage(b"a".to_vec()))
        )
        .unwrap_err(),
        TokenError::Vault(VaultError::Shape)
    );
    let before = bob.balance(&t);
    bob.apply(
        &mut rules,
        resolution(&lock, Branch::Release, w(&receipt, 1, b"b")),
    )
    .unwrap();
    assert_eq!(bob.balance(&t), before + 40);
}

#[test]
fn forged_locks_and_forbidden_vaults_are_refused() {
    let (mut rules, mut creator, bob, p, mut c) = setup();
    let t = p.token_id();
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        10,
        Condition::Sha256(sha(b"x")),
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap();
    let claim =
        |l: &SignedVaultLock| resolution(l, Branch::Release, Witness::Preimage(b"x".to_vec()));
    // Signed by another key.
    let mut forged = lock.clone();
    forged.signature = sign_lock(
        lock.policy.clone(),
        lock.lock_head.clone(),
        &bob.key,
        &rnd(&mut c),
    )
    .unwrap()
    .signature;
    let mut b2 = Device::new(2);
    assert!(matches!(
        b2.apply(&mut rules, claim(&forged)).unwrap_err(),
        TokenError::Vault(VaultError::BadLock(_))
    ));
    // A lock head on another parent (a vault the creator never locked).
    let mut moved = lock.clone();
    moved.lock_head.parent = dsm_core::chain::HeadDigest(digest("elsewhere"));
    moved = sign_lock(
        moved.policy.clone(),
        moved.lock_head.clone(),
        &creator.key,
        &rnd(&mut c),
    )
    .unwrap();
    assert!(matches!(
        b2.apply(&mut rules, claim(&moved)).unwrap_err(),
        TokenError::Vault(VaultError::BadLock(_))
    ));
    // A lock head whose cause names another vault.
    let mut other = lock.clone();
    other.policy.amount = Amount(11);
    let other = sign_lock(
        other.policy.clone(),
        other.lock_head.clone(),
        &creator.key,
        &rnd(&mut c),
    )
    .unwrap();
    assert!(matches!(
        b2.apply(&mut rules, claim(&other)).unwrap_err(),
        TokenError::Vault(VaultError::BadLock(_)) | TokenError::AmountMismatch
    ));
    // Soulbound tokens cannot be vaulted.
    let mut sb = fungible("BADGE", &[&creator], 1, 10, BurnRule::Holder);
    sb.kind = TokenKind::Soulbound;
    sb.decimals = 0;
    rules.add_policy(sb.clone()).unwrap();
    let m = mint(&sb, 0, 0, 1, &creator, &[(0, &creator)], &mut c);
    creator.apply(&mut rules, m).unwrap();
    let e = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        sb.token_id(),
        1,
        Condition::Iterations(1),
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap_err();
    assert_eq!(e, TokenError::Soulbound("BADGE".into()));
    // More than the balance cannot be locked.
    assert!(creator
        .head
        .burn_child(&t, Amount(100_000), digest("x"))
        .is_err_and(|e| matches!(
            e,
            dsm_core::chain::BalanceError::Insufficient {
                have: Amount(990),
                need: Amount(100_000)
            }
        )));
}

#[test]
fn spending_the_locked_head_elsewhere_is_evidence() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let t = p.token_id();
    let parent = creator.head.clone();
    let parent_parcels = creator.parcels.clone();
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        10,
        Condition::Iterations(1),
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap();
    // A clone of the creator on the pre-lock head pays bob instead.
    let mut clone = Device::new(1);
    clone.head = parent;
    clone.parcels = parent_parcels;
    let r = transfer(&mut clone, &mut bob, t, 5, &mut c);
    assert!(lock_conflict(&lock, &r.proposal));
    // An honest later proposal (from the lock head) is not evidence.
    let mut carol = Device::new(3);
    let r2 = transfer(&mut creator, &mut carol, t, 5, &mut c);
    assert!(!lock_conflict(&lock, &r2.proposal));
}

#[test]
fn vault_encodings_are_strict_and_nesting_is_bounded() {
    let (mut rules, mut creator, bob, p, mut c) = setup();
    let deep = |n: usize| {
        let mut x = Condition::Iterations(1);
        for _ in 0..n {
            x = Condition::All(vec![x]);
        }
        x
    };
    assert!(deep(MAX_DEPTH).validate().is_ok());
    assert!(deep(MAX_DEPTH + 1)
        .validate()
        .is_err_and(|e| matches!(e, VaultError::Malformed("condition nested too deeply"))));
    assert!(
        Condition::from_bytes(&deep(MAX_DEPTH + 1).to_bytes()).is_err_and(|e| matches!(
            e,
            dsm_core::codec::DecodeError::Invalid("vault condition nested too deeply")
        ))
    );
    assert_eq!(
        Condition::from_bytes(&deep(MAX_DEPTH).to_bytes()).unwrap(),
        deep(MAX_DEPTH)
    );
    // A hostile nesting far deeper than the limit is refused without recursion blow-up.
    let mut bytes = Condition::Iterations(1).to_bytes();
    for _ in 0..10_000 {
        let mut list = dsm_core::codec::Writer::new();
        list.bytes(1, &bytes);
        let mut w = dsm_core::codec::Writer::new();
        w.bytes(6, &list.into_bytes());
        bytes = w.into_bytes();
    }
    assert!(Condition::from_bytes(&bytes).is_err_and(|e| matches!(
        e,
        dsm_core::codec::DecodeError::Invalid("vault condition nested too deeply")
    )));
    assert!(Witness::from_bytes(&bytes).is_err_and(|e| matches!(
        e,
        dsm_core::codec::DecodeError::WireType {
            field: 1,
            wire_type: 2
        }
    )));
    // Malformed conditions.
    assert!(Condition::Iterations(MAX_ITERATIONS + 1)
        .validate()
        .is_err_and(|e| matches!(e, VaultError::Malformed("iterations: 1 to 2^32"))));
    assert!(Condition::Any(vec![])
        .validate()
        .is_err_and(|e| matches!(e, VaultError::Malformed("all/any: 1 to 16 conditions"))));
    assert!(Condition::Signatures {
        threshold: 2,
        keys: vec![creator.key.public_key().clone()]
    }
    .validate()
    .is_err_and(|e| matches!(
        e,
        VaultError::Malformed("signatures: 1 ≤ threshold ≤ distinct keys ≤ 16")
    )));
    // Round trips and truncations of a real resolution.
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        p.token_id(),
        10,
        Condition::Any(vec![Condition::Sha256([1; 32]), Condition::Iterations(3)]),
        Condition::Iterations(2),
        &mut c,
    )
    .unwrap();
    let r = VaultResolution {
        lock,
        branch: Branch::Refund,
        witness: Witness::Work(digest("w")),
    };
    let b = r.to_bytes();
    assert_eq!(VaultResolution::from_bytes(&b).unwrap(), r);
    for n in 0..b.len() {
        if let Ok(x) = VaultResolution::from_bytes(&b[..n]) {
            assert_ne!(x, r);
        }
    }
    // At the nodes (PROTOCOL.md §18.3): sealed under the vault id, which the slot's key
    // hides; in clear, under another vault's id, or damaged, it is not a resolution.
    let id = r.lock.policy.vault_id();
    let sealed = r.sealed();
    assert_eq!(r.sealed(), sealed, "deterministic");
    assert_eq!(VaultResolution::open(&id, &sealed), Some(r.clone()));
    assert_eq!(VaultResolution::open(&id, &b), None);
    assert_eq!(
        VaultResolution::open(&digest("another vault"), &sealed),
        None
    );
    let mut damaged = sealed.clone();
    damaged[30] ^= 1;
    assert_eq!(VaultResolution::open(&id, &damaged), None);
    let (_, key) = r.lock.policy.resolution_slot();
    assert_ne!(key, id);
    for secret in [id.as_bytes(), p.token_id().as_bytes(), bob.id().as_bytes()] {
        assert!(!sealed.windows(32).any(|w| w == secret));
    }
}

#[test]
fn a_bitcoin_payment_releases_a_vault() {
    let (mut rules, mut creator, mut bob, p, mut c) = setup();
    let t = p.token_id();
    let mut chain = dsm_btc::regtest::Chain::new();
    let pay_to = vec![
        0x00, 0x14, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    ];
    let cond = Condition::Bitcoin(Box::new(BitcoinPayment {
        chain: dsm_token::dbtc::BitcoinChain {
            network: dsm_btc::BtcNetwork::Regtest,
            checkpoint_height: 0,
            checkpoint_header: dsm_btc::header_bytes(&chain.checkpoint.header),
            d_min: 2,
        },
        to_script: pay_to.clone(),
        min_sats: 50_000,
    }));
    // Bob is paid in DSM once he proves he paid the creator's Bitcoin script (an atomic-ish swap
    // whose Bitcoin leg is proven by SPV).
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        t,
        70,
        cond,
        Condition::Iterations(1),
        &mut c,
    )
    .unwrap();
    let id = lock.policy.vault_id();
    let pay = |amount: u64, commit: [u8; 32], salt: u32| {
        let mut tx = dsm_btc::regtest::funding(
            &dsm_btc::Htlc {
                h_claim: [0; 32],
                h_refund: [0; 32],
                claimer: dsm_btc::regtest::test_key(1),
                refunder: dsm_btc::regtest::test_key(1),
            },
            1,
            &[0; 32],
            salt,
        );
        tx.output = vec![
            bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(amount),
                script_pubkey: bitcoin::ScriptBuf::from_bytes(pay_to.clone()),
            },
            bitcoin::TxOut {
                value: bitcoin::Amount::ZERO,
                script_pubkey: dsm_btc::commitment_script(&commit),
            },
        ];
        tx
    };
    let good = pay(50_000, authorization(&id, Branch::Release).0, 1);
    let short = pay(49_999, authorization(&id, Branch::Release).0, 2);
    let other = pay(50_000, [3; 32], 3);
    let b = chain.add(vec![good.clone(), short.clone(), other.clone()]);
    chain.bury(1);
    let ev = |tx: &bitcoin::Transaction| {
        let e = chain.evidence(
            tx,
            0,
            &dsm_btc::Htlc {
                h_claim: [0; 32],
                h_refund: [0; 32],
                claimer: dsm_btc::regtest::test_key(1),
                refunder: dsm_btc::regtest::test_key(1),
            },
            b,
        );
        Witness::Bitcoin(Box::new(dsm_btc::InclusionEvidence {
            tx: e.tx,
            headers: e.headers,
            block_index: b,
            merkle_proof: e.merkle_proof,
        }))
    };
    assert!(matches!(
        bob.apply(&mut rules, resolution(&lock, Branch::Release, ev(&short)))
            .unwrap_err(),
        TokenError::Vault(VaultError::Bitcoin(dsm_btc::SpvError::Underpaid))
    ));
    assert!(matches!(
        bob.apply(&mut rules, resolution(&lock, Branch::Release, ev(&other)))
            .unwrap_err(),
        TokenError::Vault(VaultError::Bitcoin(dsm_btc::SpvError::NoCommitment))
    ));
    bob.apply(&mut rules, resolution(&lock, Branch::Release, ev(&good)))
        .unwrap();
    assert_eq!(bob.balance(&t), 70);
    // The condition and witness round-trip through the canonical encoding.
    let r = VaultResolution {
        lock: lock.clone(),
        branch: Branch::Release,
        witness: ev(&good),
    };
    assert_eq!(VaultResolution::from_bytes(&r.to_bytes()).unwrap(), r);
}
