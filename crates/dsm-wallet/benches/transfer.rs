//! Full bilateral transfers per second on one thread: both devices' work (hello exchange,
//! build, sign, verify, lineage checks, tree updates, commits, stitch), messages encoded and
//! decoded as on a wire, with persistence off (memory store; "backup": the same with wallets
//! that have a recovery phrase, so every change also seals a capsule and its object packs)
//! and on (redb, fsync per commit). Three wallets pay each other round a ring (A → B → C →
//! A …) and never re-issue, so a payment usually spends a parcel whose last hop the receiver
//! never saw: a warm receiver checks that hop's signature. Beside each figure: the
//! signature-bound limit: the time of exactly the signatures each transfer made and checked
//! (counted by dsm-core's `op-counts` feature: the proposal, the sender's write for its
//! owned slots, the acceptance; the proposal's and the acceptance's checks, and every
//! lineage hop checked), replayed on one key right after that transfer so that the
//! machine's load weighs on both alike; then the ratio. Run: `cargo bench -p dsm-wallet
//! --bench transfer` (add `-- quick` for a short run).

use dsm_core::chain::Amount;
use dsm_core::crypto::op_counts;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::{MemoryStore, RedbStore, Store};
use dsm_wallet::{Wallet, DEFAULT_TOKEN};
mod common;
use common::transfer;
use std::time::{Duration, Instant};

fn name(s: SuiteId) -> &'static str {
    match s {
        SuiteId::MlDsa65 => "ML-DSA-65",
        SuiteId::SlhDsaSha2_128f => "SLH-DSA-SHA2-128f",
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let quick = args.iter().any(|a| a == "quick");
    // Other words filter the rows: "ml-dsa", "slh-dsa", "memory", "backup", "redb".
    let filters: Vec<&String> = args.iter().filter(|a| *a != "quick").collect();
    let wanted = |row: &str| filters.iter().all(|f| row.contains(f.as_str()));
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    println!(
        "{:<18} {:<8} {:>12} {:>12} {:>14} {:>7}",
        "suite", "store", "transfer", "per second", "sig limit /s", "ratio"
    );
    for suite in [SuiteId::MlDsa65, SuiteId::SlhDsaSha2_128f] {
        // "backup": in memory, wallets with a recovery phrase, so every change also seals a
        // capsule with the held set's change and the object packs of its new lineages.
        let rows = ["memory", "backup", "redb"];
        if !rows
            .iter()
            .any(|r| wanted(&format!("{} {r}", name(suite).to_lowercase())))
        {
            continue;
        }
        let n = match (suite, quick) {
            (SuiteId::MlDsa65, false) => 400,
            (SuiteId::MlDsa65, true) => 40,
            (_, false) => 40,
            (_, true) => 6,
        };
        let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([7; 32]));
        let msg = [0x5a; 32];
        let sig = key.sign(&msg, &[1; 32]).expect("sign");
        // The signature work of one transfer, replayed right after it: as many signs and
        // verifies as it counted. Interleaved, so the machine's load weighs on the transfer
        // and on its limit alike.
        let mut r = 0u8;
        let mut replay = |signs: u64, verifies: u64| -> Duration {
            let start = Instant::now();
            for _ in 0..signs {
                r = r.wrapping_add(1);
                std::hint::black_box(key.sign(&msg, &[r; 32]).expect("sign"));
            }
            for _ in 0..verifies {
                key.public_key()
                    .verify(std::hint::black_box(&msg), &sig)
                    .expect("verify");
            }
            start.elapsed()
        };
        let mut ops = Vec::new();
        for row in rows {
            if !wanted(&format!("{} {row}", name(suite).to_lowercase())) {
                continue;
            }
            let durable = row == "redb";
            let tag = format!("{}-{row}", name(suite));
            let store = |who: &str| -> Box<dyn Store> {
                if durable {
                    Box::new(
                        RedbStore::open(&dir.path().join(format!("{tag}-{who}.redb")))
                            .expect("redb"),
                    )
                } else {
                    Box::new(MemoryStore::new())
                }
            };
            let wallet = |who: &str, seed: u8| -> Wallet {
                if row == "backup" {
                    let keys = dsm_recovery::RecoveryKeys::derive(
                        &dsm_recovery::RecoveryMnemonic::from_entropy(&[seed; 32]),
                        dsm_recovery::KdfCost {
                            m_cost_kib: 64,
                            t_cost: 1,
                        },
                    )
                    .expect("keys");
                    Wallet::create_with_recovery(
                        store(who),
                        suite,
                        b"bench",
                        KdfParams::default(),
                        &[],
                        &keys,
                    )
                    .expect("wallet")
                } else {
                    Wallet::create(store(who), suite, b"bench", KdfParams::default())
                        .expect("wallet")
                }
            };
            let mut w = [wallet("a", 1), wallet("b", 2), wallet("c", 3)];
            for x in &mut w {
                x.dev_faucet(DEFAULT_TOKEN, Amount(1 << 60))
                    .expect("faucet");
            }
            // Warm up: one round, so every wallet has paid and been paid.
            let mut k = 0usize;
            let mut pay = |w: &mut [Wallet; 3]| {
                let (from, to) = (k % 3, (k + 1) % 3);
                k += 1;
                let [a, b, c] = w;
                let (payer, payee) = match (from, to) {
                    (0, 1) => (a, b),
                    (1, 2) => (b, c),
                    _ => (c, a),
                };
                transfer(payer, payee, 2 + (k % 3) as u128);
            };
            for _ in 0..3 {
                pay(&mut w);
            }
            let (mut spent, mut limit_time, mut signs, mut verifies) =
                (Duration::ZERO, Duration::ZERO, 0, 0);
            for _ in 0..n {
                let (s0, v0) = (op_counts::signs(), op_counts::verifies());
                let start = Instant::now();
                pay(&mut w);
                spent += start.elapsed();
                let (ds, dv) = (op_counts::signs() - s0, op_counts::verifies() - v0);
                signs += ds;
                verifies += dv;
                limit_time += replay(ds, dv);
            }
            let t = spent / n as u32;
            let limit = n as f64 / limit_time.as_secs_f64();
            ops.push(format!(
                "{row}: {:.2} signs + {:.2} verifies",
                signs as f64 / n as f64,
                verifies as f64 / n as f64
            ));
            let rate = 1.0 / t.as_secs_f64();
            println!(
                "{:<18} {:<8} {:>9.2} ms {:>12.0} {:>14.0} {:>6.0}%",
                name(suite),
                row,
                t.as_secs_f64() * 1e3,
                rate,
                limit,
                100.0 * rate / limit
            );
        }
        println!("{:<18} (per transfer, counted: {})", "", ops.join("; "));
    }
}
