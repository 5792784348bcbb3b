//! Deposit-proof verification for a 100-header chain (the mainnet d_min): header linkage,
//! proof of work and difficulty for every header, merkle inclusion, output and commitment
//! checks. Run: `cargo bench -p dsm-btc --bench deposit`. The bench fails loudly if the
//! proof does not verify.

use criterion::{criterion_group, criterion_main, Criterion};
use dsm_btc::regtest::{funding, test_key, Chain};
use dsm_btc::{verify_deposit, BtcNetwork, Htlc};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let htlc = Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let commitment = [9u8; 32];
    let tx = funding(&htlc, 100_000, &commitment, 1);
    let mut chain = Chain::new();
    // A block with 500 other transactions, so the merkle proof has realistic depth.
    let mut txs: Vec<_> = (0..500)
        .map(|i| funding(&htlc, 1 + i, &[0; 32], 10 + i as u32))
        .collect();
    txs.insert(250, tx.clone());
    let block = chain.add(txs);
    chain.bury(99);
    let ev = chain.evidence(&tx, 0, &htlc, block);
    let d = verify_deposit(
        BtcNetwork::Regtest,
        &chain.checkpoint,
        100,
        &commitment,
        &ev,
    )
    .expect("the bench deposit must verify");
    assert_eq!(d.depth, 100);
    eprintln!(
        "deposit proof: {} headers, merkle proof {} bytes, transaction {} bytes",
        ev.headers.len(),
        ev.merkle_proof.len(),
        ev.tx.len()
    );
    c.bench_function("deposit proof, 100 headers", |b| {
        b.iter(|| {
            verify_deposit(
                BtcNetwork::Regtest,
                &chain.checkpoint,
                100,
                &commitment,
                black_box(&ev),
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
