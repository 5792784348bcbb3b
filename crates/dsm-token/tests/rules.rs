//! Every CPTA rule, fed a violating transition (PROTOCOL.md §17.3): each is refused with
//! its typed error, and a valid history verifies end to end as balance provenance.

mod common;
use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::receipt::{verify_chain_segment_with_sources, EmptyView, SegmentStep};
use dsm_token::authority::{mint_conflict, AuthorityError};
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
            .is_err()
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
    // Replayed at the next head: the statement names the old head.
    assert_eq!(
        issuer.apply(&mut rules, m.clone()).unwrap_err(),
        TokenError::WrongTarget
    );
    // Applied by another device.
    assert_eq!(
        other.apply(&mut rules, m.clone()).unwrap_err(),
        TokenError::WrongTarget
    );
    // Two different statements with one sequence number are issuer equivocation.
    let m2 = mint(&p, 0, 0, 11, &other, &[(0, &issuer)], &mut c);
    let (Source::Mint(a), Source::Mint(b)) = (&m.source, &m2.source) else {
        unreachable!()
    };
    assert!(mint_conflict(&p, a, b));
    assert!(!mint_conflict(&p, a, a));
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
    assert!(rules.check_transfer(&step).is_err());
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
        .is_err());
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
            dsm_token::TokenPolicy::from_bytes(&q.to_bytes()).is_err(),
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
