//! Lineages rooted in real token sources (PROTOCOL.md §5.6, §17.3): `TokenRules` is the
//! `RootVerifier` of `dsm_core::parcel::verify_lineage`. A lineage from a real mint through
//! real ML-DSA hops verifies; a fabricated root (a mint no issuer signed, over the cap, for
//! another device) and a source that only moves value are refused; two encodings of one
//! source are one root parcel.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::parcel::*;
use dsm_token::authority::AuthorityError;
use dsm_token::policy::{BurnRule, InitialAllocation};
use dsm_token::source::{InitialClaim, Source, SourceProof, TokenError, TokenRules};

/// `from` consumes `input` into `outputs` (device, amount), signed.
fn hop(from: &Device, input: ParcelId, outputs: &[(&Device, u128)], rest: u8) -> Hop {
    let mut outputs: Vec<ParcelOutput> = outputs
        .iter()
        .map(|(d, a)| ParcelOutput {
            input: 0,
            to: d.id(),
            amount: Amount(*a),
        })
        .collect();
    outputs.sort_by_key(|o| o.to);
    let statement = ParcelStatement {
        holder: from.id(),
        inputs: vec![input],
        outputs,
    };
    Hop::sign(&from.key, statement, Digest([rest; 32]), &[rest; 32]).unwrap()
}

fn output_to(h: &Hop, d: &Device) -> ParcelId {
    let i = h
        .statement
        .outputs
        .iter()
        .position(|o| o.to == d.id())
        .unwrap();
    h.output_ids()[i]
}

/// The root parcel `proof` creates, as `rules` judge it.
fn root_of(proof: &SourceProof, rules: &TokenRules) -> ParcelId {
    root_id(&rules.root_facts(proof, None).unwrap())
}

#[test]
fn a_lineage_from_a_real_mint_verifies_and_fabricated_roots_do_not() {
    let mut c = 0;
    let (i0, i1, i2) = (Device::new(1), Device::new(2), Device::new(3));
    let (alice, bob, carol) = (Device::new(4), Device::new(5), Device::new(6));
    let p = fungible("GOLD", &[&i0, &i1, &i2], 2, 10_000, BurnRule::Holder);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let minted = mint(&p, 0, 0, 1_000, &alice, &[(0, &i0), (1, &i1)], &mut c);
    let root = root_of(&minted, &rules);
    let h1 = hop(&alice, root, &[(&bob, 600), (&alice, 400)], 1);
    let h2 = hop(&bob, output_to(&h1, &bob), &[(&carol, 600)], 2);
    let target = output_to(&h2, &carol);
    let lineage = |source: &SourceProof| Lineage {
        start: LineageStart::Root(source.to_bytes()),
        hops: vec![h1.clone(), h2.clone()],
        signers: vec![alice.identity.clone(), bob.identity.clone()],
        consumed: Vec::new(),
    };
    let v = verify_lineage(
        &lineage(&minted),
        &target,
        None,
        &mut rules,
        &dsm_core::parcel::ParcelKnowledge::new(),
    )
    .unwrap();
    assert_eq!(
        (v.parcel().holder, v.parcel().amount, v.parcel().token),
        (carol.id(), Amount(600), p.token_id())
    );
    assert_eq!(v.root_once_key(), Some(&minted.once_key().unwrap()));

    let refused = |source: SourceProof, rules: &mut TokenRules| {
        verify_lineage(
            &lineage(&source),
            &target,
            None,
            rules,
            &dsm_core::parcel::ParcelKnowledge::new(),
        )
        .unwrap_err()
    };
    // A mint no issuer signed (alice signs as issuer 0).
    let forged = mint(&p, 0, 0, 1_000, &alice, &[(0, &alice), (1, &i1)], &mut c);
    assert_eq!(
        refused(forged, &mut rules),
        LineageError::Root(TokenError::Authority(AuthorityError::BadSignature(0)).to_string())
    );
    // Over the cap.
    let over = mint(&p, 0, 0, 10_001, &alice, &[(0, &i0), (1, &i1)], &mut c);
    assert!(matches!(
        refused(over, &mut rules),
        LineageError::Root(e) if e.contains("exceeds the cap")
    ));
    // A real mint, but for bob: the lineage says alice received it.
    let for_bob = mint(&p, 0, 0, 1_000, &bob, &[(0, &i0), (1, &i1)], &mut c);
    let mut fresh = TokenRules::new();
    fresh.add_policy(p.clone()).unwrap();
    assert_eq!(
        refused(for_bob.clone(), &mut fresh),
        LineageError::Root(TokenError::WrongTarget.to_string())
    );
    // To the verifier that met alice's mint 0 in a lineage, another mint 0 is issuer
    // equivocation: refused, and the evidence is held.
    assert!(matches!(
        refused(for_bob, &mut rules),
        LineageError::Root(e) if e.contains("issuer equivocation")
    ));
    assert!(rules.mint_conflict(&p.token_id()).is_some());
    // A burn moves value; it is no root.
    assert_eq!(
        refused(burn(&p, 5, &alice), &mut rules),
        LineageError::Root(TokenError::NotARoot.to_string())
    );
    // A verifier without the policy cannot judge the root.
    assert_eq!(
        refused(minted.clone(), &mut TokenRules::new()),
        LineageError::Root(TokenError::UnknownPolicy(p.token_id()).to_string())
    );
    // Bytes that are no source proof.
    let junk = Lineage {
        start: LineageStart::Root(vec![0xff, 0x01]),
        ..lineage(&minted)
    };
    assert!(matches!(
        verify_lineage(&junk, &target, None, &mut rules, &dsm_core::parcel::ParcelKnowledge::new()).unwrap_err(),
        LineageError::Root(e) if e.contains("does not decode")
    ));
    // Another valid encoding of the same mint (issuers {1, 2}, other bytes): the same
    // once-key and so the same root parcel — the hops above consume it as they consume the
    // first encoding, so spending both encodings is spending one parcel twice.
    let again = mint(&p, 0, 0, 1_000, &alice, &[(1, &i1), (2, &i2)], &mut c);
    assert_ne!(again.to_bytes(), minted.to_bytes());
    assert_eq!(again.once_key(), minted.once_key());
    let mut fresh = TokenRules::new();
    fresh.add_policy(p.clone()).unwrap();
    assert_eq!(root_of(&again, &fresh), root);
    let v = verify_lineage(
        &lineage(&again),
        &target,
        None,
        &mut fresh,
        &dsm_core::parcel::ParcelKnowledge::new(),
    )
    .unwrap();
    assert_eq!(v.parcel().id, target);
}

#[test]
fn an_initial_line_is_a_root_of_its_own_device() {
    let alice = Device::new(4);
    let bob = Device::new(5);
    let mut p = fungible("INIT", &[], 0, 1_000, BurnRule::Holder);
    p.initial = vec![InitialAllocation {
        device: alice.id(),
        amount: Amount(700),
    }];
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let claim = SourceProof {
        source: Source::Initial(InitialClaim {
            token: p.token_id(),
            index: 0,
        }),
        allowlist: None,
        consumption: None,
    };
    let root = root_of(&claim, &rules);
    // The root alone: held by the line's device.
    let bare = Lineage {
        start: LineageStart::Root(claim.to_bytes()),
        hops: vec![],
        signers: vec![],
        consumed: Vec::new(),
    };
    let v = verify_lineage(
        &bare,
        &root,
        None,
        &mut rules,
        &dsm_core::parcel::ParcelKnowledge::new(),
    )
    .unwrap();
    assert_eq!(
        (v.parcel().holder, v.parcel().amount),
        (alice.id(), Amount(700))
    );
    // Spent by bob, who never held it.
    let stolen = Lineage {
        start: LineageStart::Root(claim.to_bytes()),
        hops: vec![hop(&bob, root, &[(&alice, 700)], 3)],
        signers: vec![bob.identity.clone()],
        consumed: Vec::new(),
    };
    let target = output_to(&stolen.hops[0], &alice);
    assert_eq!(
        verify_lineage(
            &stolen,
            &target,
            None,
            &mut rules,
            &dsm_core::parcel::ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::Root(TokenError::WrongTarget.to_string())
    );
    // A line the policy does not have.
    let missing = SourceProof {
        source: Source::Initial(InitialClaim {
            token: p.token_id(),
            index: 1,
        }),
        allowlist: None,
        consumption: None,
    };
    assert_eq!(
        rules.root_facts(&missing, None).unwrap_err(),
        TokenError::NoSuchAllocation
    );
}

/// A hop that consumes two outputs of the hop before (one per input of that hop): a warm
/// check that holds the *other* output cached must follow the line, not the first output
/// the next hop consumes, and answer exactly as the cold check (PROTOCOL.md §5.6,
/// "Lineage check"). Before the fix, `cached_prefix` started from the cached sibling and
/// refused an honest line (`NoOutput`).
#[test]
fn a_warm_check_follows_the_line_through_a_hop_that_consumed_two_outputs_of_the_hop_before() {
    let mut c = 0;
    let i0 = Device::new(1);
    let (alice, bob, carol) = (Device::new(4), Device::new(5), Device::new(6));
    let p = fungible("GOLD", &[&i0], 1, 10_000, BurnRule::Holder);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let m0 = mint(&p, 0, 0, 300, &alice, &[(0, &i0)], &mut c);
    let m1 = mint(&p, 1, 300, 200, &alice, &[(0, &i0)], &mut c);
    let (r0, r1) = (root_of(&m0, &rules), root_of(&m1, &rules));
    // Alice pays bob both roots whole in one statement: two outputs to bob, one per input.
    let mut inputs = vec![(r0, 300u128), (r1, 200u128)];
    inputs.sort();
    let pay = |from: &Device, ins: &[(ParcelId, u128)], to: &Device, rest: u8| {
        let statement = ParcelStatement {
            holder: from.id(),
            inputs: ins.iter().map(|(id, _)| *id).collect(),
            outputs: ins
                .iter()
                .enumerate()
                .map(|(j, (_, a))| ParcelOutput {
                    input: j as u32,
                    to: to.id(),
                    amount: Amount(*a),
                })
                .collect(),
        };
        Hop::sign(&from.key, statement, Digest([rest; 32]), &[rest; 32]).unwrap()
    };
    let h1 = pay(&alice, &inputs, &bob, 1);
    let outs = h1.output_ids();
    // Bob pays carol both, whole, in one statement.
    let mut bobs: Vec<(ParcelId, u128)> = vec![(outs[0], inputs[0].1), (outs[1], inputs[1].1)];
    bobs.sort();
    let h2 = pay(&bob, &bobs, &carol, 2);
    let signers = vec![alice.identity.clone(), bob.identity.clone()];
    // For each of carol's two parcels: its line from its own root.
    for (root_src, root) in [(&m0, r0), (&m1, r1)] {
        // The bob parcel on this line, and carol's parcel after it.
        let on_line = output_of(&h1, &root);
        let other = if on_line == outs[0] { outs[1] } else { outs[0] };
        let target = output_of(&h2, &on_line);
        let lineage = Lineage {
            start: LineageStart::Root(root_src.to_bytes()),
            hops: vec![h1.clone(), h2.clone()],
            signers: signers.clone(),
            consumed: Vec::new(),
        };
        let cold = verify_lineage(
            &lineage,
            &target,
            Some(&carol.id()),
            &mut rules,
            &ParcelKnowledge::new(),
        )
        .unwrap();
        // A cache that holds the sibling bob parcel (not on this line), as carol's would
        // after checking her other parcel's line.
        let mut cache = ParcelKnowledge::new();
        cache.insert(KnownParcel {
            parcel: Parcel {
                id: other,
                token: p.token_id(),
                amount: h1.statement.outputs[outs.iter().position(|o| *o == other).unwrap()].amount,
                holder: bob.id(),
            },
            parent: None,
        });
        let warm = verify_lineage(&lineage, &target, Some(&carol.id()), &mut rules, &cache)
            .expect("the warm check answers as the cold one");
        assert_eq!((warm.parcel(), warm.line()), (cold.parcel(), cold.line()));
        assert_eq!(cached_prefix(&lineage, &target, &cache), None);
    }
}

/// The one output of `h` that input `input` makes.
fn output_of(h: &Hop, input: &ParcelId) -> ParcelId {
    let j = h.statement.inputs.binary_search(input).unwrap();
    let i = h
        .statement
        .outputs
        .iter()
        .position(|o| o.input as usize == j)
        .unwrap();
    h.output_ids()[i]
}
