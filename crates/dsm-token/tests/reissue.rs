//! Re-issue (PROTOCOL.md §17.6): refreshers replace parcels a holder burned whole by one
//! root for their sum. Every refusal of `verify_reissue` and of the re-issued root in a
//! lineage, and what a conflict on a burned parcel does to the root.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::parcel::*;
use dsm_token::authority::{cosign, Authorised, AuthorityError};
use dsm_token::policy::{BurnRule, InitialAllocation, Issuers};
use dsm_token::reissue::*;
use dsm_token::source::{InitialClaim, Source, SourceProof, TokenError, TokenRules};
use dsm_token::TokenPolicy;

/// Alice holds two initial lines of 300 and 200 (as root parcels); refreshers r0, r1, r2
/// (threshold 2).
struct World {
    alice: Device,
    bob: Device,
    refreshers: Vec<Device>,
    policy: TokenPolicy,
    rules: TokenRules,
    parcels: Vec<Parcel>,
}

fn world() -> World {
    let alice = Device::new(10);
    let bob = Device::new(11);
    let refreshers: Vec<Device> = (20..23).map(Device::new).collect();
    let mut policy = fungible("FRESH", &[], 0, 1_000, BurnRule::Holder);
    policy.initial = vec![InitialAllocation {
        device: alice.id(),
        amount: Amount(500),
    }];
    policy.refreshers = Some(Issuers {
        threshold: 2,
        keys: refreshers
            .iter()
            .map(|d| d.key.public_key().clone())
            .collect(),
    });
    let mut rules = TokenRules::new();
    rules.add_policy(policy.clone()).unwrap();
    // Alice's 500 split into 300 and 200 by a payment to herself is impossible (no
    // self-payment), so she pays bob 200 and bob pays back: two real parcels of hers.
    let claim = SourceProof {
        source: Source::Initial(InitialClaim {
            token: policy.token_id(),
            index: 0,
        }),
        allowlist: None,
        consumption: None,
    };
    let root = Parcel {
        id: root_id(&rules.root_facts(&claim, None).unwrap()),
        token: policy.token_id(),
        amount: Amount(500),
        holder: alice.id(),
    };
    let s = ParcelStatement::payment(alice.id(), bob.id(), &[root], Amount(200)).unwrap();
    let h1 = Hop::sign(&alice.key, s, Digest([1; 32]), &[1; 32]).unwrap();
    let ids = h1.output_ids();
    let to_bob = Parcel {
        id: ids[h1
            .statement
            .outputs
            .iter()
            .position(|o| o.to == bob.id())
            .unwrap()],
        token: policy.token_id(),
        amount: Amount(200),
        holder: bob.id(),
    };
    let change = Parcel {
        id: ids[h1
            .statement
            .outputs
            .iter()
            .position(|o| o.to == alice.id())
            .unwrap()],
        token: policy.token_id(),
        amount: Amount(300),
        holder: alice.id(),
    };
    let s = ParcelStatement::payment(bob.id(), alice.id(), &[to_bob], Amount(200)).unwrap();
    let h2 = Hop::sign(&bob.key, s, Digest([2; 32]), &[2; 32]).unwrap();
    let back = Parcel {
        id: h2.output_ids()[0],
        token: policy.token_id(),
        amount: Amount(200),
        holder: alice.id(),
    };
    World {
        alice,
        bob,
        refreshers,
        policy,
        rules,
        parcels: vec![change, back],
    }
}

/// The re-issue of `w.parcels`, signed by refreshers `signers` and then by alice.
fn reissue(w: &World, signers: &[usize]) -> Reissue {
    let t = w.policy.token_id();
    let burn = burn_statement(w.alice.id(), &t, &w.parcels).unwrap();
    let statement = statement_for(&t, &burn).unwrap();
    let signatures = signers
        .iter()
        .map(|i| {
            cosign(
                &w.refreshers[*i].key,
                *i as u32,
                &statement.digest(),
                &[*i as u8; 32],
            )
            .unwrap()
        })
        .collect();
    let hop = Hop::sign(&w.alice.key, burn, burn_rest(&t, &w.alice.id()), &[9; 32]).unwrap();
    Reissue {
        signed: Authorised {
            statement,
            signatures,
        },
        burn: hop,
        holder: w.alice.identity.clone(),
    }
}

fn proof(r: Reissue) -> SourceProof {
    SourceProof {
        source: Source::Reissue(Box::new(r)),
        allowlist: None,
        consumption: None,
    }
}

#[test]
fn a_reissue_is_one_root_for_the_burned_sum_whatever_the_cosigners() {
    let w = world();
    let r = reissue(&w, &[0, 1]);
    assert_eq!(r.signed.statement.amount, Amount(500));
    verify_reissue(&w.policy, &r).unwrap();
    let f = w.rules.root_facts(&proof(r.clone()), None).unwrap();
    assert_eq!((f.holder, f.amount), (w.alice.id(), Amount(500)));
    let mut burned: Vec<ParcelId> = w.parcels.iter().map(|p| p.id).collect();
    burned.sort();
    let b = f.burned.clone().expect("a re-issue rests on its burn");
    assert_eq!(
        (b.commit(), b.parcels()),
        (r.burn.commit(), burned.as_slice())
    );
    assert_eq!(
        b,
        RootBurn {
            hop: r.burn.clone(),
            signer: w.alice.identity.clone(),
            check: BurnCheck::Refreshers,
            succeeded: None,
        }
    );
    // Another subset of refreshers: other bytes, one once-key, one root parcel.
    let again = reissue(&w, &[1, 2]);
    assert_ne!(proof(again.clone()).to_bytes(), proof(r.clone()).to_bytes());
    let g = w.rules.root_facts(&proof(again), None).unwrap();
    assert_eq!(root_id(&g), root_id(&f));
    // The root pays on like any other: alice → bob, checked from the root.
    let root = root_id(&f);
    let s = ParcelStatement::payment(
        w.alice.id(),
        w.bob.id(),
        &[Parcel {
            id: root,
            token: w.policy.token_id(),
            amount: Amount(500),
            holder: w.alice.id(),
        }],
        Amount(500),
    )
    .unwrap();
    let pay = Hop::sign(&w.alice.key, s, Digest([3; 32]), &[3; 32]).unwrap();
    let lineage = Lineage {
        start: LineageStart::Root(proof(r.clone()).to_bytes()),
        hops: vec![pay.clone()],
        signers: vec![w.alice.identity.clone()],
        consumed: Vec::new(),
    };
    let mut rules = w.rules.clone();
    let known = ParcelKnowledge::new();
    let v = verify_lineage(&lineage, &pay.output_ids()[0], None, &mut rules, &known).unwrap();
    assert_eq!(v.parcel().amount, Amount(500));
    assert!(v.from_continued_root());
    // Never cached: a later conflict on a burned parcel must reach the root.
    assert!(known.new_on(&v).is_empty());
    // A re-issue is never a head's source.
    let child = w
        .alice
        .head
        .allocation_child(&w.policy.token_id(), Amount(500), proof(r.clone()).cause())
        .unwrap();
    assert_eq!(
        w.rules
            .check_source(&w.alice.head, &child, &proof(r))
            .unwrap_err(),
        TokenError::ReissueIsNoHead
    );
}

#[test]
fn a_reissue_without_a_valid_burn_or_authority_is_refused() {
    let w = world();
    let t = w.policy.token_id();
    let good = reissue(&w, &[0, 1]);
    let refused = |r: Reissue| verify_reissue(&w.policy, &r).unwrap_err();
    // One refresher of the two needed.
    assert_eq!(
        refused(reissue(&w, &[0])),
        ReissueError::Authority(AuthorityError::Threshold { have: 1, need: 2 })
    );
    // A refresher signature by a key that is not one (alice signs as refresher 1).
    let mut forged = good.clone();
    forged.signed.signatures[1] =
        cosign(&w.alice.key, 1, &good.signed.statement.digest(), &[5; 32]).unwrap();
    assert_eq!(
        refused(forged),
        ReissueError::Authority(AuthorityError::BadSignature(1))
    );
    // More than was burned.
    let mut more = good.clone();
    more.signed.statement.amount = Amount(501);
    assert_eq!(refused(more), ReissueError::Mismatch);
    // For another holder.
    let mut other = good.clone();
    other.signed.statement.holder = w.bob.id();
    assert_eq!(refused(other), ReissueError::Mismatch);
    // The burn pays bob 200 instead of the sink: no burn at all.
    let mut paying = good.clone();
    let s = ParcelStatement::payment(w.alice.id(), w.bob.id(), &w.parcels, Amount(500)).unwrap();
    paying.burn = Hop::sign(&w.alice.key, s, burn_rest(&t, &w.alice.id()), &[6; 32]).unwrap();
    assert_eq!(refused(paying), ReissueError::NotABurn);
    // The burn signed with another rest (a transfer's): its commit is not the one signed.
    let mut rest = good.clone();
    rest.burn = Hop::sign(
        &w.alice.key,
        good.burn.statement.clone(),
        Digest([7; 32]),
        &[7; 32],
    )
    .unwrap();
    assert_eq!(refused(rest), ReissueError::Mismatch);
    // The burn signed by bob for alice's parcels.
    let mut stolen = good.clone();
    stolen.burn.signature = Hop::sign(
        &w.bob.key,
        good.burn.statement.clone(),
        burn_rest(&t, &w.alice.id()),
        &[8; 32],
    )
    .unwrap()
    .signature;
    assert_eq!(refused(stolen), ReissueError::BurnSignature);
    // A token with neither refreshers nor issuers cannot be re-issued.
    let mut none = w.policy.clone();
    none.refreshers = None;
    assert_eq!(
        verify_reissue(&none, &good).unwrap_err(),
        ReissueError::NoRefreshers
    );
    // The same, through the lineage check: a root error naming why.
    let mut rules = w.rules.clone();
    let bad = reissue(&w, &[2]);
    let lineage = Lineage {
        start: LineageStart::Root(proof(bad).to_bytes()),
        hops: vec![],
        signers: vec![],
        consumed: Vec::new(),
    };
    let e = verify_lineage(
        &lineage,
        &ParcelId(Digest([0; 32])),
        Some(&w.alice.id()),
        &mut rules,
        &ParcelKnowledge::new(),
    )
    .unwrap_err();
    assert!(matches!(e, LineageError::Root(m) if m.contains("refreshers")));
}

#[test]
fn a_reissued_root_whose_burned_parcel_is_in_conflict_is_refused_unless_the_burn_settled() {
    let w = world();
    let r = reissue(&w, &[0, 2]);
    let f = w.rules.root_facts(&proof(r.clone()), None).unwrap();
    let root = root_id(&f);
    let lineage = Lineage {
        start: LineageStart::Root(proof(r.clone()).to_bytes()),
        hops: vec![],
        signers: vec![],
        consumed: Vec::new(),
    };
    // Alice is proven to have spent a burned parcel in another statement too.
    let burned = w.parcels[0].id;
    let mut known = ParcelKnowledge::new();
    known.add_conflict(burned, w.alice.id());
    let mut rules = w.rules.clone();
    assert_eq!(
        verify_lineage(&lineage, &root, Some(&w.alice.id()), &mut rules, &known).unwrap_err(),
        LineageError::BurnInConflict(burned)
    );
    // Once the verifier saw the burn hold that parcel's slot, the root is the good side.
    known.settle(burned, r.burn.commit());
    verify_lineage(&lineage, &root, Some(&w.alice.id()), &mut rules, &known).unwrap();
    // A conflict of another device over the parcel taints nothing.
    let mut other = ParcelKnowledge::new();
    other.add_conflict(burned, w.bob.id());
    verify_lineage(&lineage, &root, Some(&w.alice.id()), &mut rules, &other).unwrap();
}

#[test]
fn a_refresher_takes_each_burned_parcel_whole_and_of_the_token() {
    let w = world();
    let t = w.policy.token_id();
    let burn = burn_statement(w.alice.id(), &t, &w.parcels).unwrap();
    for (j, id) in burn.inputs.iter().enumerate() {
        let p = *w.parcels.iter().find(|p| p.id == *id).unwrap();
        check_burned(&t, &burn, j, &p).unwrap();
        // Another token.
        let other = Parcel {
            token: dsm_core::chain::TokenId::from_label("DEV"),
            ..p
        };
        assert_eq!(
            check_burned(&t, &burn, j, &other).unwrap_err(),
            ReissueError::OtherToken(p.id)
        );
        // More than the burn takes, and checked against another input.
        let more = Parcel {
            amount: Amount(p.amount.0 + 1),
            ..p
        };
        assert_eq!(
            check_burned(&t, &burn, j, &more).unwrap_err(),
            ReissueError::NotWhole(p.id)
        );
        assert_eq!(
            check_burned(&t, &burn, 1 - j, &p).unwrap_err(),
            ReissueError::NotWhole(p.id)
        );
    }
}

/// A refresher's record of `burn` of `w.parcels[..n]` (token `t`), cosigned by refresher `i`.
fn record(w: &World, n: usize, i: usize) -> ReissueRecord {
    let t = w.policy.token_id();
    let burn = burn_statement(w.alice.id(), &t, &w.parcels[..n]).unwrap();
    let statement = statement_for(&t, &burn).unwrap();
    let sig = cosign(
        &w.refreshers[i].key,
        i as u32,
        &statement.digest(),
        &[i as u8; 32],
    )
    .unwrap();
    ReissueRecord {
        signed: Authorised {
            statement,
            signatures: vec![sig],
        },
        burn,
    }
}

#[test]
fn a_reissue_slot_is_judged_by_burn_and_refresher_signature() {
    let w = world();
    let p = w.parcels[0].id;
    let ours = record(&w, 2, 0);
    // The slot holds the record sealed under the parcel id (PROTOCOL.md §17.6).
    let judge = |r: &ReissueRecord| {
        judge_reissue_slot(
            &dsm_token::reissue::seal_reissue_record(&p, r),
            &p,
            &w.policy,
            &ours,
        )
    };
    // The same burn, another refresher's cosignature: the same re-issue.
    assert_eq!(judge(&record(&w, 2, 1)), ReissueSlotContent::Same);
    // Another burn of the parcel, cosigned by a refresher: a rival.
    let other = record(&w, 1, 2);
    assert_eq!(judge(&other), ReissueSlotContent::Rival);
    // Noise: junk; no signature; a signature no refresher made; a burn that does not
    // consume this parcel; a burn the statement does not commit to; another token.
    assert_eq!(
        judge_reissue_slot(b"junk", &p, &w.policy, &ours),
        ReissueSlotContent::Noise
    );
    let mut unsigned = other.clone();
    unsigned.signed.signatures.clear();
    assert_eq!(judge(&unsigned), ReissueSlotContent::Noise);
    assert_eq!(
        judge_reissue_slot(&other.to_bytes(), &p, &w.policy, &ours),
        ReissueSlotContent::Noise,
        "a record in clear"
    );
    let mut forged = other.clone();
    forged.signed.signatures =
        vec![cosign(&w.bob.key, 0, &other.signed.statement.digest(), &[1; 32]).unwrap()];
    assert_eq!(judge(&forged), ReissueSlotContent::Noise);
    let elsewhere = record(&w, 1, 2);
    assert_eq!(
        judge_reissue_slot(
            &dsm_token::reissue::seal_reissue_record(&w.parcels[1].id, &elsewhere),
            &w.parcels[1].id,
            &w.policy,
            &ours
        ),
        ReissueSlotContent::Noise,
        "its burn does not consume that parcel"
    );
    let mut swapped = other.clone();
    swapped.burn = ours.burn.clone();
    assert_eq!(judge(&swapped), ReissueSlotContent::Noise);
    let mut alien = other;
    alien.signed.statement.token = dsm_core::chain::TokenId(Digest([5; 32]));
    assert_eq!(judge(&alien), ReissueSlotContent::Noise);
    // Its bytes round-trip, and the slot is owned by the refreshers, keyed by the parcel.
    assert_eq!(ReissueRecord::from_bytes(&ours.to_bytes()).unwrap(), ours);
    let refreshers = w.policy.refresh_authority().unwrap();
    let (owner, key) = reissue_slot(refreshers, &p);
    assert_eq!(owner, dsm_token::authority::authority_owner(refreshers));
    assert_eq!(
        key,
        dsm_core::hash::tagged_hash(dsm_core::tags::Tag::ReissueSlot, &[p.as_bytes()])
    );
}
