//! `dsm bench`: the whole benchmark suite in one command, one table. Every measured
//! operation is checked (a failing step aborts instead of timing nothing). Run it from a
//! release build: `cargo run --release -p dsm-cli -- bench` (`--quick` for shorter runs).

use dsm_core::chain::{Amount, DeviceHead, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisDigest};
use dsm_core::parcel::{
    verify_lineage, KnownParcel, Lineage, LineageStart, Parcel, ParcelId, ParcelKnowledge,
    RootFacts, RootVerifier,
};
use dsm_core::receipt::{
    accept, own_proposal, propose, verify_acceptance, verify_proposal, verify_receipt_bytes,
    EmptyView, LocalDevice,
};
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use dsm_protocol::session::Session;
use dsm_transport::memory_pair;
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::{MemoryStore, RedbStore, Store};
use dsm_wallet::Wallet;
use std::hint::black_box;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

fn per_op(budget: Duration, mut f: impl FnMut() -> Result<(), Error>) -> Result<Duration, Error> {
    f()?;
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        f()?;
        n += 1;
    }
    Ok(start.elapsed() / n.max(1))
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn rnd(i: u64) -> [u8; 32] {
    *tagged_hash(Tag::SigningRandomness, &[b"bench", &i.to_be_bytes()]).as_bytes()
}

/// A device of the scaling run: its tree already holds `relationships` other tips.
struct Device {
    key: SigningKey,
    identity: DeviceIdentity,
    head: DeviceHead,
    tree: SparseMerkleTree,
    /// The parcel it pays from (its whole balance).
    parcel: Parcel,
    /// Parcels whose lineage it verified.
    cache: ParcelKnowledge,
}

impl Device {
    fn new(suite: SuiteId, n: u8, relationships: u64) -> Result<Device, Error> {
        let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([n; 32]));
        let genesis = GenesisDigest(tagged_hash(Tag::Genesis, &[b"bench", &[n]]));
        let identity = DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        };
        let mut tree = SparseMerkleTree::new();
        for i in 0..relationships {
            tree.insert(rnd(i ^ (u64::from(n) << 56)), Digest(rnd(i + 1)));
        }
        let mut head = DeviceHead::initial(identity.device_id(), &genesis).allocation_child(
            &TokenId::from_label("BENCH"),
            Amount(u128::MAX / 4),
            Digest([7; 32]),
        )?;
        // Stand-in for the history that built those relationships: the head commits to
        // the pre-filled tree, as it would after that many transfers.
        head.smt_root = tree.root();
        let parcel = Parcel {
            id: ParcelId(tagged_hash(Tag::ParcelRoot, &[b"bench", &[n]])),
            token: TokenId::from_label("BENCH"),
            amount: Amount(u128::MAX / 4),
            holder: identity.device_id(),
        };
        Ok(Device {
            key,
            identity,
            head,
            tree,
            parcel,
            cache: knowing(parcel),
        })
    }
    fn local(&self) -> LocalDevice<'_> {
        LocalDevice {
            identity: &self.identity,
            key: &self.key,
            head: &self.head,
            tree: &self.tree,
        }
    }
}

/// Both parties' whole work for one transfer, checked: the sender pays 1 from its parcel
/// (the change is its next one), the receiver checks that parcel's lineage from its cache
/// (it verified the hop that made it when it accepted it) before it signs.
fn core_transfer(a: &mut Device, b: &mut Device, i: u64) -> Result<(), Error> {
    let built = propose(
        &a.local(),
        &b.identity.device_id(),
        TokenId::from_label("BENCH"),
        Amount(1),
        &[a.parcel],
        &rnd(i),
    )?;
    let vp = verify_proposal(&built.signed, &EmptyView)?;
    let lineage = Lineage {
        start: LineageStart::Verified(a.parcel.id),
        hops: Vec::new(),
        signers: Vec::new(),
        consumed: Vec::new(),
    };
    let verified = verify_lineage(&lineage, &a.parcel.id, None, &mut NoRoots, &b.cache)?;
    let acc = accept(&b.local(), &vp, &[verified], &rnd(i + 1))?;
    verify_acceptance(&own_proposal(&built), &acc.receipt.acceptance, &EmptyView)?;
    let rel = *built.signed.proposal.step.relationship.as_bytes();
    b.head = acc.child_head;
    b.tree.insert(rel, acc.child_tip.0);
    a.head = built.child_head;
    a.tree.insert(rel, built.child_tip.0);
    let hop = built.signed.hop();
    for (k, id) in hop.output_ids().into_iter().enumerate() {
        let o = hop.statement.outputs[k];
        let p = Parcel {
            id,
            token: a.parcel.token,
            amount: o.amount,
            holder: o.to,
        };
        b.cache.insert(KnownParcel {
            parcel: p,
            parent: None,
        });
        a.cache.insert(KnownParcel {
            parcel: p,
            parent: None,
        });
        if o.to == a.identity.device_id() {
            a.parcel = p;
        }
    }
    Ok(())
}

/// The benchmark's devices start from parcels both already verified, so no root is judged.
struct NoRoots;

impl RootVerifier for NoRoots {
    fn verify_root(&mut self, _: &[u8], _: Option<&DeviceId>) -> Result<RootFacts, String> {
        Err("the benchmark judges no roots".into())
    }
}

/// Time per transfer between two devices holding `relationships` each, paying each other
/// in turn.
fn back_and_forth(suite: SuiteId, relationships: u64, budget: Duration) -> Result<Duration, Error> {
    let mut a = Device::new(suite, 1, relationships)?;
    let mut b = Device::new(suite, 2, relationships)?;
    a.cache.insert(KnownParcel {
        parcel: b.parcel,
        parent: None,
    });
    b.cache.insert(KnownParcel {
        parcel: a.parcel,
        parent: None,
    });
    let mut k = 0u64;
    per_op(budget, || {
        k += 2;
        if k.is_multiple_of(4) {
            core_transfer(&mut a, &mut b, k)
        } else {
            core_transfer(&mut b, &mut a, k)
        }
    })
}

fn kdf() -> KdfParams {
    KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    }
}

/// Full wallet sessions (hello, propose, accept, stitch, commits) over an in-memory link,
/// `n` transfers in one session; returns time per transfer and one receipt.
fn wallet_transfers(
    stores: (Box<dyn Store>, Box<dyn Store>),
    suite: SuiteId,
    n: usize,
) -> Result<(Duration, Vec<u8>), Error> {
    let mut a = Wallet::create(stores.0, suite, b"bench", kdf())?;
    let mut b = Wallet::create(stores.1, suite, b"bench", kdf())?;
    // Funded the way real value enters: a token policy with `a` as its issuer, and a mint.
    let policy = dsm_token::TokenPolicy {
        ticker: "BENCH".into(),
        decimals: 0,
        kind: dsm_token::policy::TokenKind::Fungible,
        cap: Amount(1_000_000),
        salt: dsm_core::hash::tagged_hash(dsm_core::tags::Tag::Fixture, &[b"dsm bench"]),
        issuers: dsm_token::policy::Issuers {
            threshold: 1,
            keys: vec![a.identity().public_key.clone()],
        },
        burn: dsm_token::policy::BurnRule::Nobody,
        transfers: dsm_token::policy::TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: None,
        bitcoin: None,
        refreshers: None,
    };
    let (t, _) = a.import_policy(policy.clone(), None)?;
    b.import_policy(policy, None)?;
    a.mint(&t, Amount(1_000_000))?;
    let peer = b.device_id();
    let (x, y) = memory_pair(Duration::from_secs(60));
    let transfers = (0..n).map(|_| (t, Amount(1))).collect();
    let start = Instant::now();
    let report = std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut y = y;
            dsm_wallet::driver::run(&mut Session::listener(), &mut b, &mut y)
        });
        let mut x = x;
        let r = dsm_wallet::driver::run(&mut Session::dialer(peer, transfers), &mut a, &mut x);
        drop(x);
        let _ = h.join();
        r
    });
    let elapsed = start.elapsed();
    if let Some(e) = report.error {
        return Err(format!("a benchmark session failed: {e}").into());
    }
    if report.completed.len() != n {
        return Err("a benchmark session completed too few transfers".into());
    }
    Ok((elapsed / n as u32, report.completed[0].receipt.to_bytes()))
}

fn node_load(secs: f64, op: &(dyn Fn(&ureq::Agent, u64) -> u16 + Sync)) -> (f64, u64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let done = AtomicU64::new(0);
    let bad = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..4u64 {
            let (done, bad) = (&done, &bad);
            s.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut i = c << 40;
                while start.elapsed().as_secs_f64() < secs {
                    if !(200..300).contains(&op(&agent, i)) {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
    });
    (
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
        bad.load(Ordering::Relaxed),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores available")
}

/// Runs everything and prints one Markdown table per part.
pub fn run(quick: bool) -> Result<(), Error> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are meaningless. Use `cargo run --release -p dsm-cli -- bench`.");
    }
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    println!("# dsm bench — {}\n", machine());

    println!("## Signatures, receipts, transfers\n");
    println!("Core transfer: both parties' work on one thread (build, sign, verify, accept, sign, verify, apply). Wallet transfer: full sessions between two wallets, one thread each, over an in-memory link; \"redb fsync\" commits every debit and credit durably.\n");
    println!("| suite | sign | verify | receipt verify (bytes) | core transfer, both parties | wallet transfer, memory | wallet transfer, redb fsync |");
    println!("|---|---|---|---|---|---|---|");
    for suite in SuiteId::ALL {
        let sk = SigningKey::from_seed(suite, &SecretSeed::from_bytes([3; 32]));
        let msg = [0x5a; 32];
        let sig = sk.sign(&msg, &[9; 32])?;
        let mut i = 0u64;
        let t_sign = per_op(budget, || {
            i += 1;
            black_box(sk.sign(&msg, &rnd(i))?);
            Ok(())
        })?;
        let t_verify = per_op(budget, || {
            Ok(sk.public_key().verify(black_box(&msg), &sig)?)
        })?;
        let n = if suite == SuiteId::MlDsa65 { 100 } else { 10 };
        let (t_mem, receipt) = wallet_transfers(
            (Box::new(MemoryStore::new()), Box::new(MemoryStore::new())),
            suite,
            n,
        )?;
        let dir = tempfile::tempdir()?;
        let (t_disk, _) = wallet_transfers(
            (
                Box::new(RedbStore::open(&dir.path().join("a.redb"))?),
                Box::new(RedbStore::open(&dir.path().join("b.redb"))?),
            ),
            suite,
            n,
        )?;
        let t_receipt = per_op(budget, || {
            black_box(verify_receipt_bytes(&receipt, &EmptyView)?);
            Ok(())
        })?;
        let t_core = back_and_forth(suite, 0, budget)?;
        println!(
            "| {} | {} | {} | {} ({} B) | {} = {:.0}/s | {} = {:.0}/s | {} = {:.0}/s |",
            suite.name(),
            us(t_sign),
            us(t_verify),
            us(t_receipt),
            receipt.len(),
            us(t_core),
            1.0 / t_core.as_secs_f64(),
            us(t_mem),
            1.0 / t_mem.as_secs_f64(),
            us(t_disk),
            1.0 / t_disk.as_secs_f64()
        );
    }

    println!("\n## Sparse Merkle tree\n");
    println!("| leaves | build | replace + proof + client-side root check | siblings |\n|---|---|---|---|");
    let sizes: &[u64] = if quick {
        &[1_000, 100_000]
    } else {
        &[1_000, 1_000_000]
    };
    for &n in sizes {
        let start = Instant::now();
        let mut tree = SparseMerkleTree::new();
        for i in 0..n {
            tree.insert(rnd(i), Digest(rnd(i + 1)));
        }
        let build = start.elapsed();
        let mut i = 0u64;
        let t = per_op(budget, || {
            i = (i + 7919) % n;
            let key = rnd(i);
            let proof = tree.prove(&key);
            let v = Digest(rnd(i + 3 * n));
            let new_root = proof.root_after_set(&key, &v)?;
            tree.insert(key, v);
            if tree.root() != new_root {
                return Err("the proof's root does not match the tree".into());
            }
            Ok(())
        })?;
        println!(
            "| {n} | {:.2} s | {} | {} |",
            build.as_secs_f64(),
            us(t),
            tree.prove(&rnd(1)).siblings.len()
        );
    }

    println!("\n## Scaling: per-transfer cost as devices hold more relationships (ML-DSA-65)\n");
    println!("A transfer touches only its two devices: their own trees (O(log R) proofs) and two signatures each way. Nothing global grows with the network.\n");
    println!("| relationships per device (R) | per transfer, both parties | transfers/s |\n|---|---|---|");
    let rs: &[u64] = if quick {
        &[10, 1_000, 100_000]
    } else {
        &[10, 1_000, 100_000, 1_000_000]
    };
    for &r in rs {
        let t = back_and_forth(SuiteId::MlDsa65, r, budget)?;
        println!("| {r} | {} | {:.0} |", us(t), 1.0 / t.as_secs_f64());
    }
    println!("\n| independent pairs in parallel (R = 1,000) | aggregate transfers/s |\n|---|---|");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for pairs in [1usize, 2, 4]
        .into_iter()
        .filter(|p| *p <= cores.max(2) * 2)
    {
        let total = std::sync::atomic::AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| -> Result<(), Error> {
            let mut hs = Vec::new();
            for p in 0..pairs {
                let total = &total;
                hs.push(s.spawn(move || -> Result<(), String> {
                    let e = |e: Error| e.to_string();
                    let mut a =
                        Device::new(SuiteId::MlDsa65, 20 + 2 * p as u8, 1_000).map_err(e)?;
                    let mut b =
                        Device::new(SuiteId::MlDsa65, 21 + 2 * p as u8, 1_000).map_err(e)?;
                    b.cache.insert(KnownParcel {
                        parcel: a.parcel,
                        parent: None,
                    });
                    let mut k = 0u64;
                    while start.elapsed() < budget {
                        k += 2;
                        core_transfer(&mut a, &mut b, k).map_err(e)?;
                        total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(())
                }));
            }
            for h in hs {
                h.join().map_err(|_| "a bench thread panicked")??;
            }
            Ok(())
        })?;
        println!(
            "| {pairs} | {:.0} |",
            total.load(std::sync::atomic::Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
        );
    }

    println!(
        "\n## Storage node, embedded store, loopback (4 keep-alive clients on the same cores)\n"
    );
    let dir = tempfile::tempdir()?;
    let store = dsm_node::store::EmbeddedStore::open(&dir.path().join("node.redb"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    rt.spawn(dsm_node::serve(
        listener,
        dsm_node::api::Node::new(store, dsm_node::store::Quotas::default()),
        dsm_node::Timeouts::default(),
    ));
    let object = vec![0x42u8; 256];
    let addr = hex(&dsm_node::api::object_address(&object));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .put(format!("{base}/v1/objects/{addr}"))
        .send(&object[..])?;
    let secs = if quick { 0.5 } else { 3.0 };
    println!("| operation | requests/s | non-2xx |\n|---|---|---|");
    let get_url = format!("{base}/v1/objects/{addr}");
    let (r, bad) = node_load(secs, &|a: &ureq::Agent, _| {
        a.get(&get_url).call().map_or(0, |r| r.status().as_u16())
    });
    println!("| GET small object | {r:.0} | {bad} |");
    let (r, bad) = node_load(secs, &|a: &ureq::Agent, i| {
        let body = i.to_be_bytes();
        let url = format!(
            "{base}/v1/objects/{}",
            hex(&dsm_node::api::object_address(&body))
        );
        a.put(&url)
            .send(&body[..])
            .map_or(0, |r| r.status().as_u16())
    });
    println!("| PUT new object (fsync) | {r:.0} | {bad} |");
    let (r, bad) = node_load(secs, &|a: &ureq::Agent, i| {
        let k = rnd(i);
        let url = format!("{base}/v1/lists/{}/{}", hex(&k), hex(&k));
        a.post(&url).send(&k[..]).map_or(0, |r| r.status().as_u16())
    });
    println!("| candidate-list append (fsync) | {r:.0} | {bad} |");
    drop(rt);
    composed(quick, budget)?;
    println!();
    // Provenance: hop sizes, lineage checks and a small economy (the full one:
    // `dsm bench economy`).
    if quick {
        crate::economy::run(&[100, 1000], 10_000, 1, 0, Default::default())
    } else {
        crate::economy::run(&[1000], 100_000, 1, 0, Default::default())
    }
}

/// DJTE emission proofs, vaults and dBTC deposit proofs (the detailed criterion benches are
/// in dsm-token and dsm-btc).
fn composed(quick: bool, budget: Duration) -> Result<(), Error> {
    use dsm_token::djte::{verify_step, EmissionLedger};
    println!("\n## Tokens: DJTE emission proofs, vaults, dBTC deposit proofs\n");
    let device = |i: u64| {
        dsm_core::identity::DeviceId(dsm_core::hash::tagged_hash(
            dsm_core::tags::Tag::Fixture,
            &[b"bench", &i.to_be_bytes()],
        ))
    };
    let policy = dsm_token::era::era_policy(dsm_token::policy::JoinGate {
        operators: vec![device(u64::MAX)],
        k: 1,
        fee_token: dsm_core::chain::TokenId::from_label("CRED"),
        fee: Amount(1),
    });
    println!("| active devices | prove | verify | proof bytes |\n|---|---|---|---|");
    let sizes: &[u64] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 100_000, 1_000_000]
    };
    for &n in sizes {
        let devices: Vec<_> = (0..n).map(device).collect();
        let ledger = EmissionLedger::with_active_set(&policy, &devices)?;
        let joiner = device(n + 1);
        let step = ledger.prepare(joiner, Vec::new())?;
        let em = verify_step(&policy, ledger.state(), &step, false)?;
        if em.winner.is_none() {
            return Err("the emission bench step paid nobody".into());
        }
        let t_prove = per_op(budget, || {
            black_box(ledger.prepare(joiner, Vec::new())?);
            Ok(())
        })?;
        let t_verify = per_op(budget, || {
            black_box(verify_step(&policy, ledger.state(), &step, false)?);
            Ok(())
        })?;
        println!(
            "| {n} | {} | {} | {} |",
            us(t_prove),
            us(t_verify),
            step.proof.to_bytes().len()
        );
    }
    // A deposit proof over 100 headers.
    let htlc = dsm_btc::Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: dsm_btc::regtest::test_key(3),
        refunder: dsm_btc::regtest::test_key(4),
    };
    let tx = dsm_btc::regtest::funding(&htlc, 100_000, &[9; 32], 1);
    let mut chain = dsm_btc::regtest::Chain::new();
    let block = chain.add(vec![tx.clone()]);
    chain.bury(99);
    let ev = chain.evidence(&tx, 0, &htlc, block);
    let t_dep = per_op(budget, || {
        black_box(dsm_btc::verify_deposit(
            dsm_btc::BtcNetwork::Regtest,
            &chain.checkpoint,
            100,
            &[9; 32],
            &ev,
        )?);
        Ok(())
    })?;
    println!("\n| operation | time |\n|---|---|");
    println!("| dBTC deposit proof, 100 headers | {} |", us(t_dep));
    // A vault: the lock signature and the claim check.
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([7; 32]));
    let genesis = dsm_core::identity::GenesisDigest(dsm_core::hash::Digest([5; 32]));
    let creator = dsm_core::identity::DeviceIdentity {
        genesis,
        public_key: key.public_key().clone(),
    };
    let t = dsm_core::chain::TokenId::from_label("VAULT-BENCH");
    let head = dsm_core::chain::DeviceHead::initial(creator.device_id(), &genesis)
        .allocation_child(&t, Amount(1 << 60), dsm_core::hash::Digest([6; 32]))?;
    let vp = dsm_token::vault::VaultPolicy {
        creator,
        creator_parent_head: head.digest(),
        token: t,
        amount: Amount(10),
        beneficiary: device(7),
        beneficiary_slots: Digest([7; 32]),
        release: dsm_token::vault::Condition::Sha256(dsm_core::hash::Digest([0; 32]).0),
        refund: dsm_token::vault::Condition::Iterations(1000),
        salt: dsm_core::hash::Digest([8; 32]),
    };
    let cause = dsm_token::source::SourceProof {
        source: dsm_token::source::Source::VaultLock(Box::new(vp.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause();
    let lock_head = head.burn_child(&t, Amount(10), cause)?;
    let mut i = 0u64;
    let t_lock = per_op(budget, || {
        i += 1;
        black_box(
            dsm_token::vault::sign_lock(vp.clone(), lock_head.clone(), &key, &rnd(i))
                .map_err(|e| e.to_string())?,
        );
        Ok(())
    })?;
    let lock = dsm_token::vault::sign_lock(vp.clone(), lock_head, &key, &rnd(0))
        .map_err(|e| e.to_string())?;
    let t_check = per_op(budget, || {
        black_box(dsm_token::vault::verify_lock(&lock, &cause).map_err(|e| e.to_string())?);
        Ok(())
    })?;
    println!("| vault lock signature | {} |", us(t_lock));
    println!("| vault lock verification | {} |", us(t_check));
    Ok(())
}

/// A cache that knows one verified parcel.
fn knowing(parcel: Parcel) -> ParcelKnowledge {
    let mut k = ParcelKnowledge::new();
    k.insert(KnownParcel {
        parcel,
        parent: None,
    });
    k
}
