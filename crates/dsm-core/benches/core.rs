//! `cargo bench -p dsm-core --bench core`: signatures per suite, the sparse Merkle tree at
//! 10^3 and 10^6 leaves, receipt verification and a full two-party transfer. After the
//! criterion groups it prints a summary that measures, in the same run, the
//! signature-bound limits and the ratio the design targets (DESIGN.md §5). Every measured
//! operation is checked: a failing step aborts the bench instead of timing nothing.

#[path = "../tests/common/mod.rs"]
mod common;
use criterion::Criterion;
use dsm_core::chain::{Amount, DeviceHead, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceIdentity;
use dsm_core::receipt::*;
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Dev {
    key: SigningKey,
    identity: DeviceIdentity,
    head: DeviceHead,
    tree: SparseMerkleTree,
}

impl Dev {
    fn new(suite: SuiteId, n: u8) -> Dev {
        let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([n; 32]));
        let genesis = dsm_core::identity::GenesisDigest(tagged_hash(Tag::Genesis, &[&[n]]));
        let identity = DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        };
        let head = DeviceHead::initial(identity.device_id(), &genesis);
        Dev {
            key,
            identity,
            head,
            tree: SparseMerkleTree::new(),
        }
    }
    fn local(&self) -> LocalDevice<'_> {
        LocalDevice {
            identity: &self.identity,
            key: &self.key,
            head: &self.head,
            tree: &self.tree,
        }
    }
    fn fund(&mut self, amount: u128) {
        self.head = self
            .head
            .allocation_child(&token(), Amount(amount), Digest([7; 32]))
            .unwrap();
    }
}

fn token() -> TokenId {
    TokenId::from_label("BENCH")
}

fn key(i: u64) -> [u8; 32] {
    *tagged_hash(Tag::SigningRandomness, &[&i.to_be_bytes()]).as_bytes()
}

/// Both parties' work for one transfer: build+sign, verify, accept+sign, verify, apply.
fn transfer(a: &mut Dev, b: &mut Dev, amount: u128, rnd: &[u8; 32]) {
    let built = propose(
        &a.local(),
        &b.identity.device_id(),
        token(),
        Amount(amount),
        &common::inputs_of(&a.local(), token(), Amount(amount)),
        rnd,
    )
    .expect("propose");
    let bytes = built.signed.to_bytes();
    let vp = verify_proposal_bytes(&bytes, &EmptyView).expect("receiver verifies");
    let acc = accept(&b.local(), &vp, &common::trusted_lineages(&vp), rnd).expect("accept");
    let rel = *built.signed.proposal.step.relationship.as_bytes();
    b.head = acc.child_head;
    b.tree.insert(rel, acc.child_tip.0);
    let back = acc.receipt.acceptance.to_bytes();
    let sa = SignedAcceptance::from_bytes(&back).expect("decode acceptance");
    verify_acceptance(&own_proposal(&built), &sa, &EmptyView).expect("sender verifies");
    a.head = built.child_head;
    a.tree.insert(rel, built.child_tip.0);
}

fn receipt_for(suite: SuiteId) -> Vec<u8> {
    let mut a = Dev::new(suite, 1);
    let mut b = Dev::new(suite, 2);
    a.fund(1_000_000);
    for i in 0..20u8 {
        // Give both trees other relationships so proofs are realistic.
        let mut c = Dev::new(suite, 10 + i);
        transfer(&mut a, &mut c, 1, &[i; 32]);
    }
    let built = propose(
        &a.local(),
        &b.identity.device_id(),
        token(),
        Amount(5),
        &common::inputs_of(&a.local(), token(), Amount(5)),
        &[1; 32],
    )
    .unwrap();
    let vp = verify_proposal(&built.signed, &EmptyView).unwrap();
    let acc = accept(&b.local(), &vp, &common::trusted_lineages(&vp), &[2; 32]).unwrap();
    b.head = acc.child_head.clone();
    acc.receipt.to_bytes()
}

fn tree_of(n: u64) -> SparseMerkleTree {
    let mut t = SparseMerkleTree::new();
    for i in 0..n {
        t.insert(key(i), Digest(key(i + 1)));
    }
    t
}

fn benches(c: &mut Criterion) {
    for suite in SuiteId::ALL {
        let sk = SigningKey::from_seed(suite, &SecretSeed::from_bytes([3; 32]));
        let msg = [0x5a; 32];
        let sig = sk.sign(&msg, &[9; 32]).unwrap();
        let mut g = c.benchmark_group(format!("sig/{}", suite.name()));
        if suite == SuiteId::SlhDsaSha2_128f {
            g.sample_size(10);
        }
        let mut r = 0u64;
        g.bench_function("sign (fresh randomness)", |bch| {
            bch.iter(|| {
                r += 1;
                sk.sign(
                    black_box(&msg),
                    tagged_hash(Tag::SigningRandomness, &[&r.to_be_bytes()]).as_bytes(),
                )
                .unwrap()
            })
        });
        g.bench_function("verify", |bch| {
            bch.iter(|| sk.public_key().verify(black_box(&msg), &sig).unwrap())
        });
        g.finish();

        let receipt = receipt_for(suite);
        let mut g = c.benchmark_group(format!("receipt/{}", suite.name()));
        g.bench_function("verify_receipt_bytes", |bch| {
            bch.iter(|| verify_receipt_bytes(black_box(&receipt), &EmptyView).unwrap())
        });
        g.finish();
    }
    for n in [1_000u64, 1_000_000] {
        let mut tree = tree_of(n);
        let mut g = c.benchmark_group(format!("smt/{n}"));
        let mut i = 0u64;
        g.bench_function("proof", |bch| {
            bch.iter(|| {
                i = (i + 7919) % n;
                black_box(tree.prove(&key(i)))
            })
        });
        let mut v = 0u64;
        g.bench_function("replace+proof", |bch| {
            bch.iter(|| {
                i = (i + 7919) % n;
                v += 1;
                let k = key(i);
                let p = tree.prove(&k);
                tree.insert(k, Digest(key(v + 3 * n)));
                black_box(p)
            })
        });
        let mut fresh = n;
        g.bench_function("insert (new key)", |bch| {
            bch.iter(|| {
                fresh += 1;
                tree.insert(key(fresh), Digest([1; 32]))
            })
        });
        g.finish();
    }
}

fn per_op(mut f: impl FnMut(), budget: Duration) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed() / n.max(1)
}

fn summary() {
    println!("\n== summary (one thread, same run) ==");
    for suite in SuiteId::ALL {
        let budget = if suite == SuiteId::MlDsa65 {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(4)
        };
        let sk = SigningKey::from_seed(suite, &SecretSeed::from_bytes([3; 32]));
        let msg = [0x5a; 32];
        let sig = sk.sign(&msg, &[9; 32]).unwrap();
        // ML-DSA signing time depends on message and randomness (rejection sampling), so
        // average over fresh randomness, as real transfers do.
        let mut r = 0u64;
        let t_sign = per_op(
            || {
                r += 1;
                let rnd = *tagged_hash(Tag::SigningRandomness, &[&r.to_be_bytes()]).as_bytes();
                drop(black_box(sk.sign(&msg, &rnd).unwrap()))
            },
            budget,
        );
        let t_verify = per_op(
            || sk.public_key().verify(black_box(&msg), &sig).unwrap(),
            budget,
        );
        let receipt = receipt_for(suite);
        let t_receipt = per_op(
            || {
                drop(black_box(
                    verify_receipt_bytes(&receipt, &EmptyView).unwrap(),
                ))
            },
            budget,
        );
        let limit_receipt = 2.0 * t_verify.as_secs_f64();
        println!(
            "{:18} sign {:>8.1} µs  verify {:>7.1} µs  receipt {} B  verify_receipt {:>8.1} µs  = {:.0}% of the 2-verify limit",
            suite.name(),
            t_sign.as_secs_f64() * 1e6,
            t_verify.as_secs_f64() * 1e6,
            receipt.len(),
            t_receipt.as_secs_f64() * 1e6,
            100.0 * limit_receipt / t_receipt.as_secs_f64()
        );
        let mut a = Dev::new(suite, 1);
        let mut b = Dev::new(suite, 2);
        a.fund(u128::MAX / 2);
        b.fund(u128::MAX / 2);
        let mut ctr = 0u8;
        let t_transfer = per_op(
            || {
                ctr = ctr.wrapping_add(1);
                let rnd = *tagged_hash(Tag::SigningRandomness, &[b"transfer", &[ctr]]).as_bytes();
                if ctr.is_multiple_of(2) {
                    transfer(&mut a, &mut b, 3, &rnd)
                } else {
                    transfer(&mut b, &mut a, 2, &rnd)
                }
            },
            budget,
        );
        let limit = 2.0 * t_sign.as_secs_f64() + 2.0 * t_verify.as_secs_f64();
        println!(
            "{:18} full transfer (2 signs + 2 verifies, both parties, in memory): {:>8.1} µs = {:.0}/s; limit {:.0}/s; ratio {:.0}%",
            suite.name(),
            t_transfer.as_secs_f64() * 1e6,
            1.0 / t_transfer.as_secs_f64(),
            1.0 / limit,
            100.0 * limit / t_transfer.as_secs_f64()
        );
    }
    for n in [1_000u64, 1_000_000] {
        let mut tree = tree_of(n);
        let mut i = 0u64;
        let t = per_op(
            || {
                i = (i + 7919) % n;
                let k = key(i);
                let p = tree.prove(&k);
                let v = Digest(key(i + 2 * n));
                let new_root = p.root_after_set(&k, &v).unwrap();
                tree.insert(k, v);
                assert_eq!(tree.root(), new_root);
            },
            Duration::from_secs(1),
        );
        println!(
            "smt n={n:>9}: replace + proof {:>6.2} µs (proof {} siblings)",
            t.as_secs_f64() * 1e6,
            tree.prove(&key(1)).siblings.len()
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    summary();
}
