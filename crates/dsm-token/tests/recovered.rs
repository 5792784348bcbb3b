//! Recovered parcels (PROTOCOL.md §20.3, "Recovered parcels"): a successor takes over a
//! lost device's parcel with a statement it signs under the recovery authority's
//! succession; `verify_lineage` (with `TokenRules` as the `RootVerifier`) accepts the root
//! only through that succession and the parcel's own lineage. One test per row of the
//! rejection table.

mod common;
use common::*;
use dsm_core::chain::{Amount, DeviceHead};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::identity::{EntropyReveal, GenesisRecord};
use dsm_core::parcel::*;
use dsm_recovery::succession::{
    sign_succession, sign_tombstone, Succession, SuccessionError, SuccessionRecord, Tombstone,
};
use dsm_token::policy::BurnRule;
use dsm_token::source::{
    Consumption, RecoveredParcel, Source, SourceProof, TokenError, TokenRules,
};

/// A lost device of a recoverable identity that minted 1,000 GOLD (one root parcel `held`),
/// its successor, and the recovery authority's tombstone and succession.
struct World {
    rules: TokenRules,
    lost: Device,
    successor: Device,
    minted: SourceProof,
    held: Parcel,
    record: SuccessionRecord,
    c: u64,
}

fn authority(n: u8) -> SigningKey {
    SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([n; 32]))
}

/// A genesis record naming `authority`, and device `n` of it.
fn device_of(n: u32, authority: &SigningKey) -> (Device, GenesisRecord) {
    let mut d = Device::new(n);
    let g = GenesisRecord {
        founding_key: d.key.public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: digest("founder"),
            secret: [n as u8; 32],
        }],
        recovery_authority: Some(authority.public_key().clone()),
    };
    d.identity.genesis = g.digest();
    d.initial = DeviceHead::initial(d.identity.device_id(), &d.identity.genesis);
    d.head = d.initial.clone();
    (d, g)
}

/// The succession of `lost` (at its current head) by `successor`, signed by `authority`.
fn succession(
    genesis: &GenesisRecord,
    lost: &Device,
    successor: &Device,
    authority: &SigningKey,
) -> SuccessionRecord {
    let tombstone = sign_tombstone(
        authority,
        Tombstone {
            lost: lost.identity.clone(),
            recovered_head: lost.head.clone(),
        },
    );
    let succession = sign_succession(
        authority,
        Succession {
            tombstone: tombstone.record.digest(),
            successor: successor.identity.clone(),
        },
    );
    SuccessionRecord {
        genesis: genesis.clone(),
        tombstone,
        succession,
    }
}

fn world() -> World {
    let mut c = 0;
    let key = authority(9);
    let (mut lost, genesis) = device_of(1, &key);
    let (mut successor, _) = device_of(SUCCESSOR, &key);
    successor.identity.genesis = lost.identity.genesis;
    let p = fungible("GOLD", &[&lost], 1, 1_000_000, BurnRule::Holder);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let minted = mint(&p, 0, 0, 1_000, &lost, &[(0, &lost)], &mut c);
    lost.apply(&mut rules, minted.clone()).unwrap();
    let held = lost.parcels[0];
    let record = succession(&genesis, &lost, &successor, &key);
    World {
        rules,
        lost,
        successor,
        minted,
        held,
        record,
        c,
    }
}

impl World {
    /// The statement by which fixture device `signer` (its key depends on the number
    /// alone) takes over `held`: holder `holder`, outputs `outputs`, rest `rest`.
    fn statement(
        &mut self,
        signer: u32,
        holder: DeviceId,
        outputs: Vec<ParcelOutput>,
        rest: Digest,
    ) -> Hop {
        Hop::sign(
            &Device::new(signer).key,
            ParcelStatement {
                holder,
                inputs: vec![self.held.id],
                outputs,
            },
            rest,
            &rnd(&mut self.c),
        )
        .unwrap()
    }

    /// The honest statement: the lost device's parcel, whole, to the sink, under the
    /// succession, signed by the successor.
    fn honest(&mut self) -> Hop {
        let out = self.whole_to_sink();
        let rest = self.record.succession.record.digest();
        let lost = self.lost.id();
        self.statement(SUCCESSOR, lost, out, rest)
    }

    /// The held parcel, whole, to its token's sink: the one output a take-over has.
    fn whole_to_sink(&self) -> Vec<ParcelOutput> {
        vec![ParcelOutput {
            input: 0,
            to: sink(&self.held.token),
            amount: self.held.amount,
        }]
    }

    fn proof(
        &self,
        hop: Option<&Hop>,
        signer: &DeviceIdentity,
        record: &SuccessionRecord,
    ) -> SourceProof {
        SourceProof {
            source: Source::Recovered(Box::new(RecoveredParcel {
                token: self.held.token,
                record: record.clone(),
            })),
            allowlist: None,
            consumption: hop.map(|h| Consumption {
                hop: h.clone(),
                signer: signer.clone(),
            }),
        }
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

    /// Checks the recovered root `source` (of `amount`) for the successor.
    fn check(
        &mut self,
        source: &SourceProof,
        amount: u128,
        consumed: Vec<(ParcelId, Lineage)>,
    ) -> Result<VerifiedLineage, LineageError> {
        let target = root_id(&RootFacts {
            once_key: source.once_key().unwrap_or(Digest::ZERO),
            token: self.held.token,
            amount: Amount(amount),
            holder: self.successor.id(),
            burned: None,
        });
        let l = Lineage {
            start: LineageStart::Root(source.to_bytes()),
            hops: vec![],
            signers: vec![],
            consumed,
        };
        verify_lineage(
            &l,
            &target,
            Some(&self.successor.id()),
            &mut self.rules,
            &ParcelKnowledge::new(),
        )
    }
}

/// The fixture numbers of the successor and of mallory.
const SUCCESSOR: u32 = 2;
const MALLORY: u32 = 3;

fn refused(e: TokenError) -> LineageError {
    LineageError::Root(e.to_string())
}

#[test]
fn a_recovered_parcel_verifies_through_the_succession_and_the_lost_parcels_lineage() {
    let mut w = world();
    let hop = w.honest();
    let s = w.successor.identity.clone();
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
    let v = w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap();
    assert_eq!(
        (v.parcel().holder, v.parcel().amount),
        (w.successor.id(), Amount(1_000))
    );
    assert!(v.from_continued_root());
    assert_eq!(v.consumed()[0].parcel(), &w.held);
    // The once-key is the parcel taken over: another statement for the same parcel (here
    // re-signed, other bytes) makes the same root, so spending both is a parcel fork.
    let again = w.honest();
    assert_ne!(again.signature, hop.signature);
    let other = w.proof(Some(&again), &s, &w.record.clone());
    assert_eq!(other.once_key().unwrap(), proof.once_key().unwrap());
    assert_ne!(other.to_bytes(), proof.to_bytes());
}

#[test]
fn a_succession_signed_by_another_identitys_authority_is_refused() {
    // R1: mallory's own recovery authority "recovers" the victim's device.
    let mut w = world();
    let mallory_key = authority(66);
    let (mallory, mallory_genesis) = device_of(MALLORY, &mallory_key);
    let forged = succession(&mallory_genesis, &w.lost, &mallory, &mallory_key);
    let hop = {
        let out = w.whole_to_sink();
        let lost = w.lost.id();
        w.statement(MALLORY, lost, out, forged.succession.record.digest())
    };
    let proof = w.proof(Some(&hop), &mallory.identity, &forged);
    assert_eq!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Succession(
            SuccessionError::WrongGenesis.to_string()
        ))
    );
    // With the victim's genesis record instead, the authority's signatures do not verify.
    let mut forged = forged;
    forged.genesis = w.record.genesis.clone();
    let proof = w.proof(Some(&hop), &mallory.identity, &forged);
    assert!(matches!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        LineageError::Root(e) if e.contains("the succession behind this recovered parcel is refused")
    ));
}

#[test]
fn a_statement_not_signed_by_the_named_successor_is_refused() {
    // R2.
    let mut w = world();
    let other = Device::new(7);
    let out = w.whole_to_sink();
    let rest = w.record.succession.record.digest();
    let lost = w.lost.id();
    let hop = w.statement(7, lost, out, rest);
    let proof = w.proof(Some(&hop), &other.identity, &w.record.clone());
    assert_eq!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Consumption(
            "its statement is not signed by the successor the succession names"
        ))
    );
}

#[test]
fn a_statement_consuming_another_devices_parcel_is_refused() {
    // R3: the successor's statement names itself as the holder.
    let mut w = world();
    let s = w.successor.identity.clone();
    let out = w.whole_to_sink();
    let rest = w.record.succession.record.digest();
    let me = w.successor.id();
    let hop = w.statement(SUCCESSOR, me, out, rest);
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
    assert_eq!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Consumption(
            "its statement does not consume the lost device's parcel"
        ))
    );
}

#[test]
fn a_statement_made_for_something_else_is_refused() {
    // R4: the rest is not the succession's digest.
    let mut w = world();
    let s = w.successor.identity.clone();
    let out = w.whole_to_sink();
    let lost = w.lost.id();
    let hop = w.statement(SUCCESSOR, lost, out, digest("something else"));
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
    assert_eq!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Consumption(
            "its statement is not the one made under this succession"
        ))
    );
}

#[test]
fn a_statement_that_does_not_take_the_parcel_whole_to_the_sink_is_refused() {
    // R5: 400 to the sink and 600 "back" to the lost device.
    let mut w = world();
    let s = w.successor.identity.clone();
    let (lost, t) = (w.lost.id(), w.held.token);
    let mut out = vec![
        ParcelOutput {
            input: 0,
            to: sink(&t),
            amount: Amount(400),
        },
        ParcelOutput {
            input: 0,
            to: lost,
            amount: Amount(600),
        },
    ];
    out.sort_by_key(|o| (o.input, o.to));
    let rest = w.record.succession.record.digest();
    let hop = w.statement(SUCCESSOR, lost, out, rest);
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
    assert_eq!(
        w.check(&proof, 400, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Consumption(
            "a recovered parcel's statement consumes exactly one parcel, whole, to the sink"
        ))
    );
}

#[test]
fn a_recovered_parcel_without_its_statement_is_refused() {
    // R6.
    let mut w = world();
    let s = w.successor.identity.clone();
    let proof = w.proof(None, &s, &w.record.clone());
    assert_eq!(
        w.check(&proof, 1_000, vec![w.held_lineage()]).unwrap_err(),
        refused(TokenError::Consumption(
            "it carries no consumed-parcel statement"
        ))
    );
}

#[test]
fn a_made_up_parcel_taken_over_is_refused_through_its_own_lineage() {
    // R7: the lost device's "parcel" is a mint no issuer signed.
    let mut w = world();
    let p = fungible("GOLD", &[&w.lost], 1, 1_000_000, BurnRule::Holder);
    let forged = mint(&p, 7, 1_000, 1_000, &w.lost, &[(0, &w.successor)], &mut w.c);
    let fake = Parcel {
        id: root_id(&RootFacts {
            once_key: forged.once_key().unwrap(),
            token: p.token_id(),
            amount: Amount(1_000),
            holder: w.lost.id(),
            burned: None,
        }),
        token: p.token_id(),
        amount: Amount(1_000),
        holder: w.lost.id(),
    };
    w.held = fake;
    let hop = w.honest();
    let s = w.successor.identity.clone();
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
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
        w.check(&proof, 1_000, consumed).unwrap_err(),
        LineageError::Consumed {
            input: 0,
            reason: Box::new(LineageError::Root(
                TokenError::Authority(dsm_token::authority::AuthorityError::BadSignature(0))
                    .to_string()
            )),
        }
    );
}

#[test]
fn a_recovered_parcel_is_no_head_source() {
    // R8: it changes no balance (the SUCCEED head does).
    let mut w = world();
    let hop = w.honest();
    let s = w.successor.identity.clone();
    let proof = w.proof(Some(&hop), &s, &w.record.clone());
    let parent = w.successor.head.clone();
    let child = parent
        .allocation_child(&w.held.token, Amount(1_000), proof.cause())
        .unwrap();
    assert_eq!(
        w.rules.check_source(&parent, &child, &proof),
        Err(TokenError::RecoveredIsNoHead)
    );
    // And its canonical bytes round-trip.
    assert_eq!(SourceProof::from_bytes(&proof.to_bytes()).unwrap(), proof);
}
