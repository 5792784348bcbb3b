//! Full bilateral transfers per second on one thread: both devices' work (hello exchange,
//! build, sign, verify, tree updates, commits, stitch), messages encoded and decoded as on
//! a wire, with persistence off (memory store; "backup": the same with wallets that have a
//! recovery phrase, so every change also seals a capsule and its object packs) and on (redb,
//! fsync per commit). Beside each
//! figure: the signature-bound limit 1 / (3·t_sign + 3·t_verify) measured in the same run
//! (three signatures made — the proposal, the sender's write for its owned slots, which
//! travels in the offer, and the acceptance — two checked, and the one lineage hop the
//! receiver has not cached), and the ratio. The two wallets pay each other back and forth and never re-issue, so
//! every payment's lineage is one hop longer than the last (up to 400): a warm receiver
//! still checks one hop. Run: `cargo bench -p dsm-wallet --bench transfer` (add `-- quick` for a
//! short run).

use dsm_core::chain::Amount;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::{MemoryStore, RedbStore, Store};
use dsm_wallet::{Wallet, DEFAULT_TOKEN};
mod common;
use common::{per_op, transfer};

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
        let mut i = 0u8;
        let t_sign = per_op(n, || {
            i = i.wrapping_add(1);
            std::hint::black_box(key.sign(&msg, &[i; 32]).expect("sign"));
        });
        let sig = key.sign(&msg, &[1; 32]).expect("sign");
        let t_verify = per_op(n, || {
            key.public_key()
                .verify(std::hint::black_box(&msg), &sig)
                .expect("verify")
        });
        // Per transfer: the proposal and the acceptance are signed, and checked, and the
        // receiver checks the one lineage hop it has not cached (the payer's previous
        // payment made the parcel it spends now).
        let limit = 1.0 / (3.0 * t_sign.as_secs_f64() + 3.0 * t_verify.as_secs_f64());
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
            let mut a = wallet("a", 1);
            let mut b = wallet("b", 2);
            a.dev_faucet(DEFAULT_TOKEN, Amount(1 << 60))
                .expect("faucet");
            b.dev_faucet(DEFAULT_TOKEN, Amount(1 << 60))
                .expect("faucet");
            transfer(&mut a, &mut b, 1); // warm up
            let mut k = 0;
            let t = per_op(n, || {
                k += 1;
                if k % 2 == 0 {
                    transfer(&mut a, &mut b, 3)
                } else {
                    transfer(&mut b, &mut a, 2)
                }
            });
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
        println!(
            "{:<18} (t_sign {:.0} µs, t_verify {:.0} µs, 3 signs + 3 verifies per transfer)",
            "",
            t_sign.as_secs_f64() * 1e6,
            t_verify.as_secs_f64() * 1e6
        );
    }
}
