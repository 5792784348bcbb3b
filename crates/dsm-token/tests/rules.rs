//! Every CPTA rule, fed a violating transition (PROTOCOL.md §17.3): each is refused with
//! its typed error, and a valid history verifies end to end as balance provenance.

mod common;
use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::receipt::{verify_chain_segment_with_sources, EmptyView, SegmentStep};
use dsm_token::authority::{
    mints_contradict, verify_mint_conflict, AuthorityError, MintConflict, SignedMint,
};
use dsm_token::policy::{
    allowlist_tree, BurnRule, InitialAllocation, PolicyError, TokenKind, TransferRule,
};
use dsm_token::source::{InitialClaim, Source, SourceProof, TokenError, TokenRules};

fn rules_with(p: &dsm_token::TokenPolicy) -> TokenRules {
    let mut r = TokenRules::new();
    r.add_policy(p.clone()).unwrap();
    r
}

#[test]
fn mint_transfer_burn_verify_as_provenance() {
    let mut c = 0;
    let (mut issuer, mut alice, mut bob) = (Device::new(1), Device::new(2), Device::new(3));
    let p = fungible("GOLD", &[&issuer], 1, 1_000, BurnRule::Holder);
    let t = p.token_id();
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 600, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m).unwrap();
    transfer(&mut issuer, &mut alice, t, 250, &mut c);
    transfer(&mut alice, &mut bob, t, 100, &mut c);
    let b = burn(&p, 40, &bob);
    bob.apply(&mut rules, b).unwrap();
    assert_eq!(
        (issuer.balance(&t), alice.balance(&t), bob.balance(&t)),
        (350, 150, 60)
    );
    // A third party re-verifies every chain from its first head with fresh rules.
    for d in [&issuer, &alice, &bob] {
        d.assert_chain_verifies(&mut rules_with(&p));
    }
    // Without the policy the issuer's mint is refused; with no source verifier too.
    let mut empty = TokenRules::new();
    let err =
        verify_chain_segment_with_sources(&issuer.initial, &issuer.segment, &EmptyView, &mut empty)
            .unwrap_err();
    assert!(err.to_string().contains("unknown token"), "{err}");
    let receipts_only: Vec<_> = issuer
        .segment
        .iter()
        .filter_map(|s| match s {
            SegmentStep::Receipt(r) => Some((**r).clone()),
            _ => None,
        })
        .collect();
    assert!(
        dsm_core::receipt::verify_chain_segment(&issuer.initial, &receipts_only, &EmptyView)
            .is_err_and(|e| matches!(e, dsm_core::receipt::SegmentError::Gap { index: 0 }))
    );
}

#[test]
fn mint_without_authority_is_refused() {
    let mut c = 0;
    let (mut issuer, other) = (Device::new(1), Device::new(9));
    let none = fungible("FIXED", &[], 0, 1_000, BurnRule::Nobody);
    let mut rules = rules_with(&none);
    let m = mint(&none, 0, 0, 5, &issuer, &[], &mut c);
    assert_eq!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::NoMintAuthority)
    );

    let p = fungible("GOLD", &[&issuer], 1, 1_000, BurnRule::Nobody);
    let mut rules = rules_with(&p);
    // Signed by a device that is not an issuer (claiming index 0): bad signature.
    let m = mint(&p, 0, 0, 5, &issuer, &[(0, &other)], &mut c);
    assert_eq!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::BadSignature(0))
    );
    // No signature at all.
    let m = mint(&p, 0, 0, 5, &issuer, &[], &mut c);
    assert_eq!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::Threshold { have: 0, need: 1 })
    );
    // Index naming no issuer.
    let m = mint(&p, 0, 0, 5, &issuer, &[(3, &issuer)], &mut c);
    assert_eq!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::SignatureOrder)
    );
}

#[test]
fn two_of_three_issuers() {
    let mut c = 0;
    let (i0, i1, i2, mut to) = (
        Device::new(1),
        Device::new(2),
        Device::new(3),
        Device::new(4),
    );
    let p = fungible("TRIO", &[&i0, &i1, &i2], 2, 1_000, BurnRule::Nobody);
    let mut rules = rules_with(&p);
    let one = mint(&p, 0, 0, 7, &to, &[(1, &i1)], &mut c);
    assert_eq!(
        to.apply(&mut rules, one).unwrap_err(),
        TokenError::Authority(AuthorityError::Threshold { have: 1, need: 2 })
    );
    let dup = mint(&p, 0, 0, 7, &to, &[(1, &i1), (1, &i1)], &mut c);
    assert_eq!(
        to.apply(&mut rules, dup).unwrap_err(),
        TokenError::Authority(AuthorityError::SignatureOrder)
    );
    let two = mint(&p, 0, 0, 7, &to, &[(0, &i0), (2, &i2)], &mut c);
    to.apply(&mut rules, two).unwrap();
    assert_eq!(to.balance(&p.token_id()), 7);
}

#[test]
fn over_cap_is_refused_and_cap_is_reachable() {
    let mut c = 0;
    let mut issuer = Device::new(1);
    let p = fungible("CAPD", &[&issuer], 1, 100, BurnRule::Nobody);
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 101, &issuer, &[(0, &issuer)], &mut c);
    assert!(matches!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::OverCap { .. })
    ));
    let m = mint(&p, 0, 0, 100, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m).unwrap();
    let m = mint(&p, 1, 100, 1, &issuer, &[(0, &issuer)], &mut c);
    assert!(matches!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::OverCap { .. })
    ));
    // u128 overflow of minted_before + amount is over the cap, never a wrap.
    let m = mint(&p, 1, u128::MAX, 1, &issuer, &[(0, &issuer)], &mut c);
    assert!(matches!(
        issuer.apply(&mut rules, m).unwrap_err(),
        TokenError::Authority(AuthorityError::OverCap { .. })
    ));
}

#[test]
fn a_mint_applies_once_and_only_where_it_was_signed() {
    let mut c = 0;
    let (mut issuer, mut other) = (Device::new(1), Device::new(2));
    let p = fungible("ONCE", &[&issuer], 1, 1_000, BurnRule::Nobody);
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 10, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m.clone()).unwrap();
    // Replayed at the next head: the mint's sequence number is used.
    assert_eq!(
        issuer.apply(&mut rules, m.clone()).unwrap_err(),
        TokenError::AlreadyUsed
    );
    // Applied by another device (a verifier that has not seen it): the statement names
    // another device and head.
    assert_eq!(
        other.apply(&mut rules_with(&p), m.clone()).unwrap_err(),
        TokenError::WrongTarget
    );
    // Two different statements with one sequence number are issuer equivocation.
    let m2 = mint(&p, 0, 0, 11, &other, &[(0, &issuer)], &mut c);
    let (a, b) = (signed(&m), signed(&m2));
    let conflict = MintConflict::new(a.clone(), b).unwrap();
    assert_eq!(verify_mint_conflict(&p, &conflict), Ok(0));
    assert!(MintConflict::new(a.clone(), a).is_none());
}

fn signed(p: &SourceProof) -> SignedMint {
    match &p.source {
        Source::Mint(m) => m.clone(),
        _ => unreachable!("a mint proof"),
    }
}

/// A source is used once whatever valid encoding presents it: another allowlist field (the
/// rule ignores it for a token without an allowlist, but it changes the head's cause) or
/// another subset of cosigners. Both are refused as already used before any signature work.
#[test]
fn every_valid_encoding_of_one_source_is_used_once() {
    let mut c = 0;
    let (i0, i1, i2) = (Device::new(1), Device::new(2), Device::new(3));
    let mut alice = Device::new(4);
    let mut p = fungible("MULTI", &[&i0, &i1, &i2], 2, 10_000, BurnRule::Holder);
    p.initial = vec![InitialAllocation {
        device: alice.id(),
        amount: Amount(500),
    }];
    let t = p.token_id();
    let mut rules = rules_with(&p);
    // Initial line 0, plain and with an (ignored) allowlist proof.
    let plain = SourceProof {
        source: Source::Initial(InitialClaim { token: t, index: 0 }),
        allowlist: None,
        consumption: None,
    };
    let padded = SourceProof {
        allowlist: Some(allowlist_tree(&p.salt, &[alice.id()]).prove(alice.id().as_bytes())),
        ..plain.clone()
    };
    assert_ne!(plain.cause(), padded.cause());
    assert_eq!(plain.once_key(), padded.once_key());
    alice.apply(&mut rules, padded).unwrap();
    assert_eq!(
        alice.apply(&mut rules, plain).unwrap_err(),
        TokenError::AlreadyUsed
    );
    // Mint 0 cosigned by issuers {0, 1}, then the same statement cosigned by {1, 2}.
    let by01 = mint(&p, 0, 500, 1_000, &alice, &[(0, &i0), (1, &i1)], &mut c);
    let by12 = mint(&p, 0, 500, 1_000, &alice, &[(1, &i1), (2, &i2)], &mut c);
    assert_eq!(signed(&by01).statement, signed(&by12).statement);
    assert_ne!(by01.cause(), by12.cause());
    alice.apply(&mut rules, by01).unwrap();
    assert_eq!(
        alice.apply(&mut rules, by12).unwrap_err(),
        TokenError::AlreadyUsed
    );
    assert_eq!(alice.balance(&t), 1_500);
    // A third party re-checking alice's chain agrees.
    alice.assert_chain_verifies(&mut rules_with(&p));
}

/// The issuers' mint sequence: mint 0 states the initial total; a mint that contradicts a
/// known one (same number, or a `minted_before` lie) is refused as evidence, and the token's
/// mints from the lower number on are refused from then on.
#[test]
fn minted_before_lies_and_reused_sequence_numbers_become_evidence() {
    let mut c = 0;
    let (issuer, mut alice, mut bob, mut carol) = (
        Device::new(1),
        Device::new(2),
        Device::new(3),
        Device::new(4),
    );
    let p = fungible("SEQ", &[&issuer], 1, 1_000, BurnRule::Holder);
    let t = p.token_id();
    // Mint 0 must state the initial total (0 here).
    let m = mint(&p, 0, 5, 10, &alice, &[(0, &issuer)], &mut c);
    assert_eq!(
        alice.apply(&mut rules_with(&p), m).unwrap_err(),
        TokenError::Authority(AuthorityError::FirstMint {
            stated: Amount(5),
            initial: Amount(0)
        })
    );
    let mut rules = rules_with(&p);
    let m0 = mint(&p, 0, 0, 100, &alice, &[(0, &issuer)], &mut c);
    alice.apply(&mut rules, m0.clone()).unwrap();
    // Mint 1 claiming only 50 before it (the truth is 100): the cap check alone would let
    // the issuer mint 50 more than the cap over the sequence.
    let lie = mint(&p, 1, 50, 900, &bob, &[(0, &issuer)], &mut c);
    let TokenError::MintConflict(evidence) = bob.apply(&mut rules, lie.clone()).unwrap_err() else {
        panic!("a minted_before lie must be a mint conflict")
    };
    assert_eq!(
        *evidence,
        MintConflict::new(signed(&m0), signed(&lie)).unwrap()
    );
    assert_eq!(verify_mint_conflict(&p, &evidence), Ok(0));
    assert_eq!(bob.balance(&t), 0);
    // The verifier holds the evidence: even an honest-looking later mint is refused.
    assert_eq!(rules.mint_conflict(&t), Some(&*evidence));
    let later = mint(&p, 2, 100, 10, &carol, &[(0, &issuer)], &mut c);
    assert_eq!(
        carol.apply(&mut rules, later.clone()).unwrap_err(),
        TokenError::MintSequenceBroken { from: 0 }
    );
    // Evidence travels: its bytes decode strictly (one order only) and convince a verifier
    // that never saw either mint.
    let bytes = evidence.to_bytes();
    assert_eq!(MintConflict::from_bytes(&bytes).unwrap(), *evidence);
    let mut swapped = dsm_core::codec::Writer::new();
    swapped.message(1, &evidence.b);
    swapped.message(2, &evidence.a);
    assert!(
        MintConflict::from_bytes(&swapped.into_bytes()).is_err_and(|e| matches!(
            e,
            dsm_core::codec::DecodeError::Invalid(
                "a mint conflict lists its mints by ascending (seq, digest)"
            )
        ))
    );
    let mut fresh = rules_with(&p);
    assert_eq!(fresh.import_mint_conflict(&evidence), Ok(0));
    assert_eq!(
        carol.apply(&mut fresh, later).unwrap_err(),
        TokenError::MintSequenceBroken { from: 0 }
    );
    // The same number reused for another statement is a conflict too.
    let mut rules = rules_with(&p);
    let mut dave = Device::new(5);
    alice = Device::new(2);
    let m0 = mint(&p, 0, 0, 100, &alice, &[(0, &issuer)], &mut c);
    alice.apply(&mut rules, m0.clone()).unwrap();
    let again = mint(&p, 0, 0, 100, &dave, &[(0, &issuer)], &mut c);
    assert!(matches!(
        dave.apply(&mut rules, again).unwrap_err(),
        TokenError::MintConflict(_)
    ));
    // A consistent pair is no evidence.
    let m1 = mint(&p, 1, 100, 10, &dave, &[(0, &issuer)], &mut c);
    assert_eq!(
        verify_mint_conflict(&p, &MintConflict::new(signed(&m0), signed(&m1)).unwrap()),
        Err(AuthorityError::NotAConflict)
    );
}

#[test]
fn mint_sequence_contradictions_are_exactly_the_impossible_pairs() {
    let at = |seq, before, amount| dsm_token::authority::MintStatement {
        token: TokenId::from_label("X"),
        seq,
        minted_before: Amount(before),
        amount: Amount(amount),
        recipient: Device::new(1).id(),
        recipient_parent_head: dsm_core::chain::HeadDigest(dsm_core::hash::Digest::ZERO),
    };
    let m0 = at(0, 0, 100);
    // Consecutive: exactly minted_before + amount.
    assert!(!mints_contradict(&m0, &at(1, 100, 5)));
    assert!(mints_contradict(&m0, &at(1, 99, 5)));
    assert!(mints_contradict(&m0, &at(1, 101, 5)));
    // With a gap: at least minted_before + amount (the mints between are unknown).
    assert!(!mints_contradict(&m0, &at(3, 100, 5)));
    assert!(!mints_contradict(&at(3, 150, 5), &m0));
    assert!(mints_contradict(&at(3, 99, 5), &m0));
    // Same number: any difference.
    assert!(mints_contradict(&m0, &at(0, 0, 101)));
    assert!(!mints_contradict(&m0, &m0.clone()));
    // An overflowing earlier mint precedes nothing.
    assert!(mints_contradict(&at(0, u128::MAX, 1), &at(5, u128::MAX, 1)));
    // Different tokens never contradict.
    let mut other = at(0, 0, 7);
    other.token = TokenId::from_label("Y");
    assert!(!mints_contradict(&m0, &other));
}

#[test]
fn soulbound_tokens_do_not_transfer() {
    let mut c = 0;
    let (mut issuer, mut alice) = (Device::new(1), Device::new(2));
    let mut p = fungible("BADGE", &[&issuer], 1, 10, BurnRule::Holder);
    p.kind = TokenKind::Soulbound;
    p.decimals = 0;
    let t = p.token_id();
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 1, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m).unwrap();
    let r = transfer(&mut issuer, &mut alice, t, 1, &mut c);
    let step = &r.proposal.proposal.step;
    assert_eq!(
        rules.check_transfer(step).unwrap_err(),
        TokenError::Soulbound("BADGE".into())
    );
    let mut fresh = rules_with(&p);
    let err =
        verify_chain_segment_with_sources(&issuer.initial, &issuer.segment, &EmptyView, &mut fresh)
            .unwrap_err();
    assert!(err.to_string().contains("soulbound"), "{err}");
    // Burning it is allowed.
    let mut holder = Device::new(5);
    let m = mint(&p, 1, 1, 1, &holder, &[(0, &issuer)], &mut c);
    holder.apply(&mut rules, m).unwrap();
    let b = burn(&p, 1, &holder);
    holder.apply(&mut rules, b).unwrap();
    assert_eq!(holder.balance(&t), 0);
}

#[test]
fn allowlist_misses_are_refused() {
    let mut c = 0;
    let (mut issuer, mut listed, mut outsider) = (Device::new(1), Device::new(2), Device::new(3));
    let mut p = fungible("CLUB", &[&issuer], 1, 1_000, BurnRule::Nobody);
    let members = [issuer.id(), listed.id()];
    p.allowlist = Some(allowlist_tree(&p.salt, &members).root());
    p.transfers = TransferRule::AllowlistOnly;
    let t = p.token_id();
    let mut rules = rules_with(&p);
    // Wrong member list for the root.
    assert_eq!(
        rules.add_allowlist(&t, &[issuer.id()]).unwrap_err(),
        TokenError::AllowlistMismatch
    );
    // Without the members the verifier cannot tell: refused.
    let m = mint(&p, 0, 0, 50, &issuer, &[(0, &issuer)], &mut c);
    assert!(matches!(
        issuer.apply(&mut rules, m.clone()).unwrap_err(),
        TokenError::NotOnAllowlist { .. }
    ));
    rules.add_allowlist(&t, &members).unwrap();
    issuer.apply(&mut rules, m).unwrap();
    // Mint to an outsider: refused.
    let m = mint(&p, 1, 50, 5, &outsider, &[(0, &issuer)], &mut c);
    assert!(matches!(
        outsider.apply(&mut rules, m).unwrap_err(),
        TokenError::NotOnAllowlist { .. }
    ));
    // Transfer to a member passes, to an outsider is refused.
    let ok = transfer(&mut issuer, &mut listed, t, 5, &mut c);
    rules.check_transfer(&ok.proposal.proposal.step).unwrap();
    let bad = transfer(&mut issuer, &mut outsider, t, 5, &mut c);
    assert!(matches!(
        rules
            .check_transfer(&bad.proposal.proposal.step)
            .unwrap_err(),
        TokenError::NotOnAllowlist { .. }
    ));
}

#[test]
fn unknown_policy_is_refused() {
    let mut c = 0;
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let p = fungible("GOLD", &[&a], 1, 1_000, BurnRule::Nobody);
    let mut known = rules_with(&p);
    let m = mint(&p, 0, 0, 10, &a, &[(0, &a)], &mut c);
    a.apply(&mut known, m).unwrap();
    let r = transfer(&mut a, &mut b, p.token_id(), 1, &mut c);
    let rules = TokenRules::new();
    assert_eq!(
        rules.check_transfer(&r.proposal.proposal.step).unwrap_err(),
        TokenError::UnknownPolicy(p.token_id())
    );
    // A label token (DEV) is refused too unless explicitly allowed, and it never has sources.
    let mut step = r.proposal.proposal.step.clone();
    step.token = TokenId::from_label("DEV");
    assert!(rules
        .check_transfer(&step)
        .is_err_and(|e| matches!(e, TokenError::UnknownPolicy(_))));
    let mut dev_ok = TokenRules::new();
    dev_ok.allow_label_token(step.token);
    dev_ok.check_transfer(&step).unwrap();
}

#[test]
fn burns_follow_the_burn_rule() {
    let mut c = 0;
    let mut issuer = Device::new(1);
    let p = fungible("KEEP", &[&issuer], 1, 1_000, BurnRule::Nobody);
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 10, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m).unwrap();
    let b = burn(&p, 3, &issuer);
    assert_eq!(
        issuer.apply(&mut rules, b).unwrap_err(),
        TokenError::Authority(AuthorityError::NoBurn)
    );
    // Issuer-authorised burns need the issuers' signatures.
    let p2 = fungible("REDEEM", &[&issuer], 1, 1_000, BurnRule::Issuers);
    let mut rules2 = rules_with(&p2);
    let m = mint(&p2, 0, 0, 10, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules2, m).unwrap();
    let unsigned = burn(&p2, 3, &issuer);
    assert!(matches!(
        issuer.apply(&mut rules2, unsigned.clone()).unwrap_err(),
        TokenError::Authority(AuthorityError::Threshold { .. })
    ));
    let mut signed = unsigned;
    if let Source::Burn(b) = &mut signed.source {
        let d = b.statement.digest();
        b.signatures
            .push(dsm_token::authority::cosign(&issuer.key, 0, &d, &rnd(&mut c)).unwrap());
    }
    issuer.apply(&mut rules2, signed).unwrap();
    assert_eq!(issuer.balance(&p2.token_id()), 7);
    // More than the balance cannot be burned (the head itself cannot be built).
    let too_much = burn(&p2, 8, &issuer);
    assert!(issuer
        .head
        .burn_child(&p2.token_id(), Amount(8), too_much.cause())
        .is_err_and(|e| matches!(
            e,
            dsm_core::chain::BalanceError::Insufficient {
                have: Amount(7),
                need: Amount(8)
            }
        )));
}

#[test]
fn initial_allocations_are_claimed_once_by_their_device() {
    let (mut alice, mut bob) = (Device::new(1), Device::new(2));
    let mut p = fungible("INIT", &[], 0, 1_000, BurnRule::Nobody);
    let mut lines = vec![
        InitialAllocation {
            device: alice.id(),
            amount: Amount(300),
        },
        InitialAllocation {
            device: bob.id(),
            amount: Amount(200),
        },
    ];
    lines.sort_by_key(|l| l.device);
    p.initial = lines;
    let t = p.token_id();
    let alice_line = p
        .initial
        .iter()
        .position(|l| l.device == alice.id())
        .unwrap() as u32;
    let mut rules = rules_with(&p);
    let claim = |index| SourceProof {
        source: Source::Initial(InitialClaim { token: t, index }),
        allowlist: None,
        consumption: None,
    };
    // Bob claiming Alice's line.
    assert_eq!(
        bob.apply(&mut rules, claim(alice_line)).unwrap_err(),
        TokenError::WrongTarget
    );
    alice.apply(&mut rules, claim(alice_line)).unwrap();
    assert_eq!(alice.balance(&t), 300);
    assert_eq!(
        alice.apply(&mut rules, claim(alice_line)).unwrap_err(),
        TokenError::AlreadyUsed
    );
    assert_eq!(
        bob.apply(&mut rules, claim(7)).unwrap_err(),
        TokenError::NoSuchAllocation
    );
}

#[test]
fn a_head_must_match_its_source() {
    let mut c = 0;
    let mut issuer = Device::new(1);
    let p = fungible("GOLD", &[&issuer], 1, 1_000, BurnRule::Holder);
    let t = p.token_id();
    let mut rules = rules_with(&p);
    let m = mint(&p, 0, 0, 10, &issuer, &[(0, &issuer)], &mut c);
    let bytes = m.to_bytes();
    // Head credits 11 for a mint of 10.
    let wrong = issuer
        .head
        .allocation_child(&t, Amount(11), m.cause())
        .unwrap();
    assert_eq!(
        rules
            .apply_source(&issuer.head, &wrong, &bytes)
            .unwrap_err(),
        TokenError::AmountMismatch
    );
    // Head's cause names another proof.
    let other = issuer
        .head
        .allocation_child(&t, Amount(10), common::digest("x"))
        .unwrap();
    assert_eq!(
        rules
            .apply_source(&issuer.head, &other, &bytes)
            .unwrap_err(),
        TokenError::CauseMismatch
    );
    // Undecodable proof bytes.
    assert!(matches!(
        rules
            .apply_source(&issuer.head, &other, &[0xff, 0x01])
            .unwrap_err(),
        TokenError::Malformed(_)
    ));
    // A mint cannot justify a BURN head.
    issuer.apply(&mut rules, m).unwrap();
    let m2 = mint(&p, 1, 10, 2, &issuer, &[(0, &issuer)], &mut c);
    let as_burn = issuer.head.burn_child(&t, Amount(2), m2.cause()).unwrap();
    assert!(matches!(
        rules
            .apply_source(&issuer.head, &as_burn, &m2.to_bytes())
            .unwrap_err(),
        TokenError::WrongKind(_)
    ));
}

#[test]
fn policy_rules_and_encoding() {
    let issuer = Device::new(1);
    let p = fungible("GOLD", &[&issuer], 1, 1_000, BurnRule::Holder);
    let bytes = p.to_bytes();
    assert_eq!(dsm_token::TokenPolicy::from_bytes(&bytes).unwrap(), p);
    // Every field is in the id.
    let mut q = p.clone();
    q.cap = Amount(1_001);
    assert_ne!(q.token_id(), p.token_id());
    let bad = |f: &dyn Fn(&mut dsm_token::TokenPolicy)| {
        let mut q = p.clone();
        f(&mut q);
        let e = q.validate().unwrap_err();
        // The decoder refuses the same policy's bytes.
        assert!(
            dsm_token::TokenPolicy::from_bytes(&q.to_bytes())
                .is_err_and(|e| matches!(e, dsm_core::codec::DecodeError::Invalid(_))),
            "{e}"
        );
        e
    };
    assert!(matches!(
        bad(&|q| q.ticker = "gold".into()),
        PolicyError::Ticker(_)
    ));
    assert!(matches!(
        bad(&|q| q.ticker = "G".into()),
        PolicyError::Ticker(_)
    ));
    assert_eq!(bad(&|q| q.decimals = 19), PolicyError::Decimals);
    assert_eq!(bad(&|q| q.cap = Amount(0)), PolicyError::Cap);
    assert_eq!(
        bad(&|q| {
            q.kind = TokenKind::Nft;
            q.decimals = 0;
        }),
        PolicyError::Cap
    );
    assert_eq!(bad(&|q| q.issuers.threshold = 2), PolicyError::Issuers);
    assert_eq!(
        bad(&|q| {
            q.issuers.threshold = 0;
            q.burn = BurnRule::Issuers;
        }),
        PolicyError::Issuers
    );
    assert_eq!(
        bad(&|q| q.transfers = TransferRule::AllowlistOnly),
        PolicyError::Allowlist
    );
    assert_eq!(
        bad(&|q| q.initial = vec![InitialAllocation {
            device: issuer.id(),
            amount: Amount(1_001)
        }]),
        PolicyError::Initial
    );
    // No truncation of valid bytes panics, and none decodes to the same policy (a prefix
    // ending at a field boundary may be another valid policy, with another id).
    for n in 0..bytes.len() {
        if let Ok(q) = dsm_token::TokenPolicy::from_bytes(&bytes[..n]) {
            assert_ne!(q.token_id(), p.token_id());
        }
    }
}

/// A mint slot is judged by statement, never by bytes: the same mint (another cosignature)
/// is the same; another authorised mint of the number is evidence; anything else is noise.
/// Published mints are checked one after the other from mint 0.
#[test]
fn a_mint_slot_is_judged_by_statement_and_the_published_sequence_checked_pairwise() {
    use dsm_token::authority::{
        check_published_successor, judge_mint_slot, mint_slot, MintSlotContent,
    };
    let mut c = 0;
    let (issuer, alice, bob) = (Device::new(1), Device::new(2), Device::new(3));
    let stranger = Device::new(9);
    let p = fungible("SLOT", &[&issuer], 1, 1_000, BurnRule::Holder);
    let t = p.token_id();
    let m0 = signed(&mint(&p, 0, 0, 100, &alice, &[(0, &issuer)], &mut c));
    let (a, b) = mint_slot(&p.issuers, &t, 0);
    assert_eq!(
        a,
        dsm_token::authority::authority_owner(&p.issuers),
        "the issuers own it"
    );
    assert_ne!(mint_slot(&p.issuers, &t, 1).1, b, "one slot per number");
    // The slot holds the mint sealed under its token (PROTOCOL.md §17.2).
    let sealed = dsm_token::authority::seal_mint;
    assert_eq!(
        judge_mint_slot(&sealed(&m0), &p, &m0),
        MintSlotContent::Same
    );
    let again = signed(&mint(&p, 0, 0, 100, &alice, &[(0, &issuer)], &mut c));
    assert_ne!(again.to_bytes(), m0.to_bytes(), "another cosignature");
    assert_eq!(
        judge_mint_slot(&sealed(&again), &p, &m0),
        MintSlotContent::Same
    );
    let rival = signed(&mint(&p, 0, 0, 100, &bob, &[(0, &issuer)], &mut c));
    assert!(matches!(
        judge_mint_slot(&sealed(&rival), &p, &m0),
        MintSlotContent::Conflict(x) if verify_mint_conflict(&p, &x) == Ok(0)
    ));
    // Noise: junk, another number, a mint no issuer signed, a mint in clear, a mint sealed
    // under another token.
    assert_eq!(judge_mint_slot(b"junk", &p, &m0), MintSlotContent::Noise);
    let m1 = signed(&mint(&p, 1, 100, 5, &bob, &[(0, &issuer)], &mut c));
    assert_eq!(
        judge_mint_slot(&sealed(&m1), &p, &m0),
        MintSlotContent::Noise
    );
    let forged = signed(&mint(&p, 0, 0, 100, &bob, &[(0, &stranger)], &mut c));
    assert_eq!(
        judge_mint_slot(&sealed(&forged), &p, &m0),
        MintSlotContent::Noise
    );
    assert_eq!(
        judge_mint_slot(&rival.to_bytes(), &p, &m0),
        MintSlotContent::Noise
    );
    assert_eq!(
        dsm_token::authority::open_mint(&TokenId(dsm_core::hash::Digest([7; 32])), &sealed(&m0)),
        None
    );
    // Pairwise: the successor states exactly what was minted before it.
    assert_eq!(check_published_successor(&m0, &m1), None);
    let lie = signed(&mint(&p, 1, 0, 900, &bob, &[(0, &issuer)], &mut c));
    assert_eq!(
        check_published_successor(&m0, &lie),
        MintConflict::new(m0.clone(), lie.clone())
    );
    // Not a successor: no judgement.
    let m2 = signed(&mint(&p, 2, 0, 1, &bob, &[(0, &issuer)], &mut c));
    assert_eq!(check_published_successor(&m0, &m2), None);
}
