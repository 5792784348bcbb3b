//! Vault (DLV) throughput: create (BURN head + the creator's lock signature) and claim
//! (the full check of the claim's source proof: lock signature, condition, amounts), one
//! thread. Run: `cargo bench -p dsm-token --bench vault`. Fails loudly if a claim does not
//! verify.

use criterion::{criterion_group, criterion_main, Criterion};
use dsm_core::chain::{Amount, DeviceHead};
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisDigest};
use dsm_core::tags::Tag;
use dsm_token::policy::{BurnRule, Issuers, TokenKind, TokenPolicy, TransferRule};
use dsm_token::source::{Source, SourceProof, TokenRules};
use dsm_token::vault::{sign_lock, Branch, Condition, VaultPolicy, VaultResolution, Witness};
use sha2::Digest as _;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([7; 32]));
    let genesis = GenesisDigest(tagged_hash(Tag::Fixture, &[b"bench genesis"]));
    let creator = DeviceIdentity {
        genesis,
        public_key: key.public_key().clone(),
    };
    let policy = TokenPolicy {
        ticker: "BENCH".into(),
        decimals: 0,
        kind: TokenKind::Fungible,
        cap: Amount(1 << 100),
        salt: Digest([1; 32]),
        issuers: Issuers {
            threshold: 0,
            keys: Vec::new(),
        },
        burn: BurnRule::Holder,
        transfers: TransferRule::Free,
        allowlist: None,
        initial: vec![dsm_token::policy::InitialAllocation {
            device: creator.device_id(),
            amount: Amount(1 << 90),
        }],
        djte: None,
        bitcoin: None,
        refreshers: None,
    };
    let t = policy.token_id();
    let mut rules = TokenRules::new();
    rules.add_policy(policy).unwrap();
    // A funded head to lock from (its provenance is not what is measured here).
    let head = DeviceHead::initial(creator.device_id(), &genesis)
        .allocation_child(&t, Amount(1 << 90), Digest([2; 32]))
        .unwrap();
    let beneficiary = DeviceId(Digest([3; 32]));
    let secret = b"bench secret";
    let mut n = 0u64;
    let mut create = || {
        n += 1;
        let vp = VaultPolicy {
            creator: creator.clone(),
            creator_parent_head: head.digest(),
            token: t,
            amount: Amount(10),
            beneficiary,
            beneficiary_slots: tagged_hash(Tag::Fixture, &[b"beneficiary slots"]),
            release: Condition::Sha256(sha2::Sha256::digest(secret).into()),
            refund: Condition::Iterations(1000),
            salt: tagged_hash(Tag::Fixture, &[&n.to_be_bytes()]),
        };
        let cause = SourceProof {
            source: Source::VaultLock(Box::new(vp.clone())),
            allowlist: None,
            consumption: None,
        }
        .cause();
        let lock_head = head.burn_child(&t, Amount(10), cause).unwrap();
        sign_lock(vp, lock_head, &key, &[n as u8; 32]).unwrap()
    };
    let lock = create();
    let claimant_head = DeviceHead::initial(beneficiary, &genesis);
    let claim = SourceProof {
        source: Source::VaultResolve(Box::new(VaultResolution {
            lock: lock.clone(),
            branch: Branch::Release,
            witness: Witness::Preimage(secret.to_vec()),
        })),
        allowlist: None,
        consumption: None,
    };
    let child = claimant_head
        .allocation_child(&t, Amount(10), claim.cause())
        .unwrap();
    rules
        .check_source(&claimant_head, &child, &claim)
        .expect("the bench claim must verify");
    let mut g = c.benchmark_group("vault");
    g.bench_function("create (head + lock signature)", |b| {
        b.iter(|| black_box(create()))
    });
    g.bench_function("claim check (lock signature, condition, amounts)", |b| {
        b.iter(|| {
            rules
                .check_source(&claimant_head, black_box(&child), black_box(&claim))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
