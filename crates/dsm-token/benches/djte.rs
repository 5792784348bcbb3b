//! DJTE emission proofs at 10^3, 10^5 and 10^6 active devices (ERA's parameters: 2^16
//! shards): proof generation, verification, and proof size. Target (issue 6): verification
//! under 1 ms and proof under 4 KiB at 10^6. Run: `cargo bench -p dsm-token --bench djte`.
//! The active set is built in bulk (`EmissionLedger::with_active_set`); the bench fails
//! loudly if a step does not verify or pays nobody.

use criterion::{criterion_group, criterion_main, Criterion};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::tagged_hash;
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;
use dsm_token::djte::{verify_step, EmissionLedger};
use dsm_token::era::era_policy;
use dsm_token::policy::JoinGate;
use std::hint::black_box;

fn device(i: u64) -> DeviceId {
    DeviceId(tagged_hash(
        Tag::Fixture,
        &[b"bench-device", &i.to_be_bytes()],
    ))
}

fn bench(c: &mut Criterion) {
    let policy = era_policy(JoinGate {
        operators: vec![device(u64::MAX)],
        k: 1,
        fee_token: TokenId::from_label("CRED"),
        fee: Amount(1),
    });
    let sizes: Vec<u64> = match std::env::var("DJTE_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .map(|x| x.trim().parse().expect("DJTE_BENCH_SIZES: numbers"))
            .collect(),
        Err(_) => vec![1_000, 100_000, 1_000_000],
    };
    let mut g = c.benchmark_group("djte");
    g.sample_size(50);
    for n in sizes {
        let t = std::time::Instant::now();
        let devices: Vec<DeviceId> = (0..n).map(device).collect();
        let ledger = EmissionLedger::with_active_set(&policy, &devices).expect("ledger");
        eprintln!(
            "djte/{n}: active set built in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let joiner = device(n + 1);
        let step = ledger.prepare(joiner, Vec::new()).expect("prepare");
        let em = verify_step(&policy, ledger.state(), &step, false).expect("the step must verify");
        assert!(em.winner.is_some(), "the bench step must pay a winner");
        let proof_len = step.proof.to_bytes().len();
        eprintln!(
            "djte/{n}: proof {proof_len} bytes (spent-set siblings {}, winner accumulator siblings {})",
            step.proof.spent.siblings.len(),
            step.proof.winner.as_ref().map_or(0, |w| w.inclusion.siblings.len())
        );
        assert!(proof_len > 0);
        g.bench_function(format!("prove/{n}"), |b| {
            b.iter(|| black_box(ledger.prepare(black_box(joiner), Vec::new()).unwrap()))
        });
        g.bench_function(format!("verify/{n}"), |b| {
            b.iter(|| {
                black_box(verify_step(&policy, ledger.state(), black_box(&step), false).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
