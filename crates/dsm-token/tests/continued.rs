//! Continued roots (PROTOCOL.md §5.6, "Continued roots"; §18.2; §19.3): a vault resolution
//! and a withdrawal refund create no value, they continue the parcels the lock or the
//! request consumed. `verify_lineage` (with `TokenRules` as the `RootVerifier`) accepts
//! one only with the consuming statement (`SourceProof.consumption`) and a valid lineage
//! for every parcel it consumed. One test per row of the rejection table.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::parcel::*;
use dsm_token::authority::AuthorityError;
use dsm_token::policy::BurnRule;
use dsm_token::source::{
    lock_statement, request_statement, Consumption, Source, SourceProof, TokenError, TokenRules,
};
use dsm_token::vault::{Branch, Condition, SignedVaultLock, Witness};
use sha2::Digest as _;

/// A creator that minted 1,000 GOLD (one root parcel `held`) and locked 400 of it into a
/// vault for bob: the lock, and the statement that consumed `held` (400 to the sink, 600
/// back), signed by the creator.
struct World {
    rules: TokenRules,
    creator: Device,
    bob: Device,
    minted: SourceProof,
    held: Parcel,
    lock: SignedVaultLock,
    consumed_by: Hop,
    c: u64,
}

fn lock_cause(lock: &SignedVaultLock) -> Digest {
    SourceProof {
        source: Source::VaultLock(Box::new(lock.policy.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause()
}

fn world() -> World {
    let mut c = 0;
    let mut creator = Device::new(1);
    let bob = Device::new(2);
    let p = fungible("GOLD", &[&creator], 1, 1_000_000, BurnRule::Holder);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let minted = mint(&p, 0, 0, 1_000, &creator, &[(0, &creator)], &mut c);
    creator.apply(&mut rules, minted.clone()).unwrap();
    let held = creator.parcels[0];
    let lock = lock_vault(
        &mut rules,
        &mut creator,
        &bob.id(),
        p.token_id(),
        400,
        Condition::Sha256(sha2::Sha256::digest(b"open").into()),
        Condition::Iterations(5),
        &mut c,
    )
    .unwrap();
    let st = ParcelStatement::to_sink(creator.id(), &p.token_id(), &[held], Amount(400)).unwrap();
    let consumed_by = Hop::sign(&creator.key, st, lock_cause(&lock), &rnd(&mut c)).unwrap();
    World {
        rules,
        creator,
        bob,
        minted,
        held,
        lock,
        consumed_by,
        c,
    }
}

impl World {
    /// Bob's release of the vault, resting on `hop` signed by `signer` (`None`: no
    /// consumption at all).
    fn release(&self, with: Option<(&Hop, &Device)>) -> SourceProof {
        let mut r = resolution(
            &self.lock,
            Branch::Release,
            Witness::Preimage(b"open".to_vec()),
        );
        r.consumption = with.map(|(hop, d)| Consumption {
            hop: hop.clone(),
            signer: d.identity.clone(),
        });
        r
    }

    /// The lineage of the held parcel: its mint, no hops.
    fn held_lineage(&self) -> (ParcelId, Lineage) {
        (
            self.held.id,
            Lineage {
                start: LineageStart::Root(self.minted.to_bytes()),
                hops: vec![],
                signers: vec![],
                consumed: vec![],
            },
        )
    }

    /// Checks the resolved root `source` with `consumed` for bob.
    fn check(
        &mut self,
        source: &SourceProof,
        consumed: Vec<(ParcelId, Lineage)>,
        cache: &ParcelKnowledge,
    ) -> Result<VerifiedLineage, LineageError> {
        let target = root_id(&RootFacts {
            once_key: source.once_key().unwrap(),
            token: self.lock.policy.token,
            amount: self.lock.policy.amount,
            holder: self.bob.id(),
            burned: None,
        });
        let l = Lineage {
            start: LineageStart::Root(source.to_bytes()),
            hops: vec![],
            signers: vec![],
            consumed,
        };
        verify_lineage(&l, &target, Some(&self.bob.id()), &mut self.rules, cache)
    }
}

#[test]
fn a_resolution_verifies_through_what_its_lock_consumed_and_only_the_consumed_lines_are_cached() {
    let mut w = world();
    let release = w.release(Some((&w.consumed_by.clone(), &w.creator)));
    let consumed = vec![w.held_lineage()];
    let v = w
        .check(&release, consumed.clone(), &ParcelKnowledge::new())
        .unwrap();
    assert_eq!(
        (v.parcel().holder, v.parcel().amount),
        (w.bob.id(), Amount(400))
    );
    assert!(v.from_continued_root());
    assert_eq!(v.consumed().len(), 1);
    assert_eq!(v.consumed()[0].parcel(), &w.held);
    // What a verifier caches: the consumed parcel's line, never the continued root (a
    // conflict found later on the consumed parcel must reach it).
    let mut cache = ParcelKnowledge::new();
    let new: Vec<ParcelId> = cache.new_on(&v).iter().map(|k| k.parcel.id).collect();
    assert_eq!(new, vec![w.held.id]);
    for k in cache.new_on(&v) {
        cache.insert(k);
    }
    // Warm: the consumed parcel may be named as verified.
    let warm = vec![(
        w.held.id,
        Lineage {
            start: LineageStart::Verified(w.held.id),
            hops: vec![],
            signers: vec![],
            consumed: vec![],
        },
    )];
    let again = w.check(&release, warm, &cache).unwrap();
    assert_eq!((again.parcel(), again.line()), (v.parcel(), v.line()));
    // The lock's beneficiary checks the same before any resolution exists.
    let burn = lock_statement(
        &w.lock.policy,
        &Consumption {
            hop: w.consumed_by.clone(),
            signer: w.creator.identity.clone(),
        },
    )
    .unwrap();
    let t = w.lock.policy.token;
    verify_continued(
        &burn,
        &t,
        Amount(400),
        &consumed,
        &mut w.rules,
        &ParcelKnowledge::new(),
    )
    .unwrap();
}

#[test]
fn a_resolution_without_its_locks_statement_is_refused() {
    let mut w = world();
    let bare = w.release(None);
    assert_eq!(
        w.check(&bare, vec![], &ParcelKnowledge::new()).unwrap_err(),
        LineageError::Root(
            TokenError::Consumption("it carries no consumed-parcel statement").to_string()
        )
    );
}

#[test]
fn a_statement_by_another_device_or_for_another_lock_is_refused() {
    let mut w = world();
    // Bob's own statement, consuming the same parcel id, cannot stand for the creator's.
    let st = w.consumed_by.statement.clone();
    let by_bob = Hop::sign(
        &w.bob.key,
        ParcelStatement {
            holder: w.bob.id(),
            ..st.clone()
        },
        lock_cause(&w.lock),
        &rnd(&mut w.c),
    )
    .unwrap();
    let bob = Device::new(2);
    assert_eq!(
        w.check(
            &w.release(Some((&by_bob, &bob))),
            vec![w.held_lineage()],
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::Root(
            TokenError::Consumption("its statement is not the lock's or the request's holder's")
                .to_string()
        )
    );
    // The creator's statement for something else (another cause).
    let other = Hop::sign(&w.creator.key, st, Digest([9; 32]), &rnd(&mut w.c)).unwrap();
    let creator = Device::new(1);
    assert_eq!(
        w.check(
            &w.release(Some((&other, &creator))),
            vec![w.held_lineage()],
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::Root(
            TokenError::Consumption("its statement is not the one that made this lock or request")
                .to_string()
        )
    );
}

#[test]
fn value_fabricated_into_a_lock_is_refused_through_the_resolution() {
    let mut w = world();
    // The creator locks a parcel it made up: a mint no issuer signed (it signs as issuer
    // 0 with bob's key), consumed by a statement it really signed.
    let p = fungible("GOLD", &[&w.creator], 1, 1_000_000, BurnRule::Holder);
    let forged = mint(&p, 7, 1_000, 400, &w.creator, &[(0, &w.bob)], &mut w.c);
    let fake = Parcel {
        id: root_id(&RootFacts {
            once_key: forged.once_key().unwrap(),
            token: p.token_id(),
            amount: Amount(400),
            holder: w.creator.id(),
            burned: None,
        }),
        token: p.token_id(),
        amount: Amount(400),
        holder: w.creator.id(),
    };
    let st = ParcelStatement::to_sink(w.creator.id(), &p.token_id(), &[fake], Amount(400)).unwrap();
    let hop = Hop::sign(&w.creator.key, st, lock_cause(&w.lock), &rnd(&mut w.c)).unwrap();
    let creator = Device::new(1);
    let release = w.release(Some((&hop, &creator)));
    let consumed = vec![(
        fake.id,
        Lineage {
            start: LineageStart::Root(forged.to_bytes()),
            hops: vec![],
            signers: vec![],
            consumed: vec![],
        },
    )];
    assert_eq!(
        w.check(&release, consumed, &ParcelKnowledge::new())
            .unwrap_err(),
        LineageError::Consumed {
            input: 0,
            reason: Box::new(LineageError::Root(
                TokenError::Authority(AuthorityError::BadSignature(0)).to_string()
            )),
        }
    );
}

#[test]
fn a_statement_that_does_not_back_the_root_is_refused() {
    let mut w = world();
    let t = w.lock.policy.token;
    let creator = Device::new(1);
    let cause = lock_cause(&w.lock);
    let consumed = vec![w.held_lineage()];
    let held = w.held;
    let signed = |w: &mut World, st: ParcelStatement| {
        Hop::sign(&w.creator.key, st, cause, &rnd(&mut w.c)).unwrap()
    };
    // No lineage for the consumed parcel.
    let release = w.release(Some((&w.consumed_by.clone(), &creator)));
    assert_eq!(
        w.check(&release, vec![], &ParcelKnowledge::new())
            .unwrap_err(),
        LineageError::BadBurn("not one lineage per consumed parcel, in input order")
    );
    // 300 to the sink for a vault of 400.
    let short = signed(
        &mut w,
        ParcelStatement::to_sink(creator.id(), &t, &[held], Amount(300)).unwrap(),
    );
    assert_eq!(
        w.check(
            &w.release(Some((&short, &creator))),
            consumed.clone(),
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::BadBurn("the sink's outputs are not the root's amount")
    );
    // 400 to the sink and the rest to bob rather than back.
    let mut outputs = vec![
        ParcelOutput {
            input: 0,
            to: sink(&t),
            amount: Amount(400),
        },
        ParcelOutput {
            input: 0,
            to: w.bob.id(),
            amount: Amount(600),
        },
    ];
    outputs.sort_by_key(|o| (o.input, o.to));
    let leak = signed(
        &mut w,
        ParcelStatement {
            holder: creator.id(),
            inputs: vec![held.id],
            outputs,
        },
    );
    assert_eq!(
        w.check(
            &w.release(Some((&leak, &creator))),
            consumed.clone(),
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::BadBurn("an output goes neither to the sink nor back to its holder")
    );
    // 400 to the sink of a parcel of 1,000, nothing back: not conserved.
    let lossy = signed(
        &mut w,
        ParcelStatement {
            holder: creator.id(),
            inputs: vec![held.id],
            outputs: vec![ParcelOutput {
                input: 0,
                to: sink(&t),
                amount: Amount(400),
            }],
        },
    );
    assert_eq!(
        w.check(
            &w.release(Some((&lossy, &creator))),
            consumed.clone(),
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::BadBurn("the outputs of a consumed parcel do not add up to it")
    );
    // The creator's statement with a signature that is not the creator's.
    let mut forged = w.consumed_by.clone();
    forged.signature = Hop::sign(&w.bob.key, forged.statement.clone(), cause, &rnd(&mut w.c))
        .unwrap()
        .signature;
    assert_eq!(
        w.check(
            &w.release(Some((&forged, &creator))),
            consumed,
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::BadBurn("the holder's signature does not verify")
    );
}

#[test]
fn consumed_lineages_belong_to_continued_roots_only_and_nest_boundedly() {
    let mut w = world();
    // Given for a mint root, which consumed nothing.
    let l = Lineage {
        start: LineageStart::Root(w.minted.to_bytes()),
        hops: vec![],
        signers: vec![],
        consumed: vec![w.held_lineage()],
    };
    assert_eq!(
        verify_lineage(
            &l,
            &w.held.id,
            Some(&w.creator.id()),
            &mut w.rules,
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::Nesting
    );
    // A manifest nesting consumed manifests deeper than MAX_CONSUMED_DEPTH is refused by
    // the decoder before anything is checked.
    let mut m = LineageManifest {
        parcel: w.held.id,
        start: ManifestStart::Root(Digest([1; 32])),
        hops: vec![],
        signers: vec![],
        consumed: vec![],
    };
    for _ in 0..MAX_CONSUMED_DEPTH {
        m = LineageManifest {
            consumed: vec![m.clone()],
            ..m
        };
        assert_eq!(LineageManifest::from_bytes(&m.to_bytes()).unwrap(), m);
    }
    let deeper = LineageManifest {
        consumed: vec![m.clone()],
        ..m
    };
    assert_eq!(
        LineageManifest::from_bytes(&deeper.to_bytes()).unwrap_err(),
        dsm_core::codec::DecodeError::Invalid(
            "consumed manifests follow a root only, at most 4 deep"
        )
    );
}

#[test]
fn a_resolution_whose_lock_consumed_a_parcel_spent_twice_is_refused() {
    let mut w = world();
    let release = w.release(Some((&w.consumed_by.clone(), &w.creator)));
    let mut cache = ParcelKnowledge::new();
    cache.add_conflict(w.held.id, w.creator.id());
    assert_eq!(
        w.check(&release, vec![w.held_lineage()], &cache)
            .unwrap_err(),
        LineageError::BurnInConflict(w.held.id)
    );
    // Unless the lock is the spend seen settled in the parcel's slot.
    cache.settle(w.held.id, w.consumed_by.commit());
    w.check(&release, vec![w.held_lineage()], &cache).unwrap();
}

#[test]
fn a_refund_rests_on_its_requests_statement() {
    let w = world();
    let request = dsm_token::dbtc::WithdrawalRequest {
        token: w.lock.policy.token,
        holder: w.creator.id(),
        holder_parent_head: w.creator.head.digest(),
        amount: Amount(400),
        to_script: vec![0x51],
    };
    let cause = SourceProof {
        source: Source::WithdrawRequest(Box::new(request.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause();
    let mut c = 99;
    let hop = Hop::sign(
        &w.creator.key,
        w.consumed_by.statement.clone(),
        cause,
        &rnd(&mut c),
    )
    .unwrap();
    let by = |h: &Hop, d: &Device| Consumption {
        hop: h.clone(),
        signer: d.identity.clone(),
    };
    let b = request_statement(&request, &by(&hop, &w.creator)).unwrap();
    assert_eq!((b.commit(), b.check), (hop.commit(), BurnCheck::Lineages));
    // The lock's statement is not the request's.
    assert_eq!(
        request_statement(&request, &by(&w.consumed_by, &w.creator)).unwrap_err(),
        TokenError::Consumption("its statement is not the one that made this lock or request")
    );
    assert_eq!(
        request_statement(&request, &by(&hop, &w.bob)).unwrap_err(),
        TokenError::Consumption("its statement is not the lock's or the request's holder's")
    );
}

#[test]
fn a_consumption_rides_only_on_a_resolution_or_a_refund() {
    let w = world();
    let mut p = w.minted.clone();
    p.consumption = Some(Consumption {
        hop: w.consumed_by.clone(),
        signer: w.creator.identity.clone(),
    });
    assert_eq!(
        SourceProof::from_bytes(&p.to_bytes()).unwrap_err(),
        dsm_core::codec::DecodeError::Invalid(
            "only a vault resolution, a withdrawal refund or a recovered parcel carries a consumption"
        )
    );
    let r = w.release(Some((&w.consumed_by, &w.creator)));
    assert_eq!(SourceProof::from_bytes(&r.to_bytes()).unwrap(), r);
}

#[test]
fn consumed_manifests_longer_than_half_an_offer_are_refused() {
    let w = world();
    let long = |n: u8| LineageManifest {
        parcel: ParcelId(Digest([n; 32])),
        start: ManifestStart::Verified(ParcelId(Digest([n; 32]))),
        hops: vec![Digest([n; 32]); 2_000],
        signers: vec![],
        consumed: vec![],
    };
    let fits = dsm_token::source::ConsumedParcels {
        consumption: Consumption {
            hop: w.consumed_by.clone(),
            signer: w.creator.identity.clone(),
        },
        manifests: vec![long(1)],
    };
    assert!(fits.manifests_len() <= dsm_token::source::MAX_CONSUMED_MANIFESTS_LEN);
    assert_eq!(
        dsm_token::source::ConsumedParcels::from_bytes(&fits.to_bytes()).unwrap(),
        fits
    );
    let over = dsm_token::source::ConsumedParcels {
        manifests: vec![long(1), long(2)],
        ..fits
    };
    assert!(over.manifests_len() > dsm_token::source::MAX_CONSUMED_MANIFESTS_LEN);
    assert_eq!(
        dsm_token::source::ConsumedParcels::from_bytes(&over.to_bytes()).unwrap_err(),
        dsm_core::codec::DecodeError::Invalid(
            "a continued root's consumed manifests take at most half an offer"
        )
    );
}
