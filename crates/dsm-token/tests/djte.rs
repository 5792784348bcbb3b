//! DJTE (PROTOCOL.md §17.4): exact uniformity, rank descent, spent set, N = 0, the cap,
//! independent verifiers, tampered proofs, the join gate with real receipts, and winners
//! credited through TokenRules.

mod common;
use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_core::receipt::Receipt;
use dsm_token::djte::*;
use dsm_token::policy::{BurnRule, DjteParams, JoinGate, TokenPolicy};
use dsm_token::source::{EmissionCredit, Source, SourceProof, TokenError, TokenRules};

fn dev(n: u32) -> DeviceId {
    DeviceId(digest(&format!("device-{n}")))
}

fn djte_policy(bits: u32, cap: u128, m0: u64, r0: u128, gate: JoinGate) -> TokenPolicy {
    let mut p = fungible("EMIT", &[], 0, cap, BurnRule::Holder);
    p.djte = Some(DjteParams {
        shard_bits: bits,
        epoch0_emissions: m0,
        epoch0_amount: Amount(r0),
        gate,
    });
    p.validate().unwrap();
    p
}

fn dummy_gate() -> JoinGate {
    JoinGate {
        operators: vec![dev(1_000_000)],
        k: 1,
        fee_token: TokenId::from_label("FEE"),
        fee: Amount(1),
    }
}

/// Joins `n` synthetic devices through prepare/apply (gates not checked: math tests).
fn joined(policy: &TokenPolicy, n: u32) -> EmissionLedger {
    let mut l = EmissionLedger::new(policy).unwrap();
    for i in 0..n {
        let step = l.prepare(dev(i), Vec::new()).unwrap();
        l.apply(&step, false).unwrap();
    }
    l
}

#[test]
fn accepted_draws_are_exactly_uniform_at_a_reduced_width() {
    for n in (1u64..=600).chain([1021, 4096, 65_535, 65_536]) {
        let mut counts = vec![0u64; n as usize];
        let mut rejected = 0u64;
        for r in 0u32..65_536 {
            match accept_draw(&(r as u16).to_be_bytes(), n) {
                Some(k) => {
                    assert!(k < n);
                    assert_eq!(k, u64::from(r) % n);
                    counts[k as usize] += 1;
                }
                None => rejected += 1,
            }
        }
        assert!(counts.iter().all(|&c| c == 65_536 / n), "n = {n}");
        assert_eq!(rejected, 65_536 % n, "n = {n}");
    }
}

#[test]
fn full_width_draws_reject_exactly_the_tail() {
    // 2^256 mod 3 = 1: only 2^256 − 1 is rejected; 2^256 − 2 ≡ 2 (mod 3).
    assert_eq!(accept_draw(&[0xff; 32], 3), None);
    let mut r = [0xff; 32];
    r[31] = 0xfe;
    assert_eq!(accept_draw(&r, 3), Some(2));
    // Powers of two divide 2^256: nothing is rejected.
    assert_eq!(accept_draw(&[0xff; 32], 1 << 40), Some((1 << 40) - 1));
    // 2^256 mod 10 = 6: the top six values are rejected, the seventh is not.
    for d in 0..6u8 {
        let mut r = [0xff; 32];
        r[31] = 0xff - d;
        assert_eq!(accept_draw(&r, 10), None);
    }
    let mut r = [0xff; 32];
    r[31] = 0xf9;
    assert!(accept_draw(&r, 10).is_some());
    for n in [1u64, 2, 7, 1_000_003, u64::MAX] {
        for e in 0..50 {
            assert!(winner_rank(&digest("s"), e, &[e as u8; 32], n) < n);
        }
    }
}

#[test]
fn rank_descent_is_a_bijection_onto_the_concatenated_shard_lists() {
    for (bits, n) in [(1u32, 5u32), (3, 40), (5, 20), (6, 300)] {
        let p = djte_policy(bits, 1 << 100, 1, 1, dummy_gate());
        let l = joined(&p, n);
        // The concatenation of the shard lists, shard 0 first.
        let mut concat = Vec::new();
        for s in 0..(1u32 << bits) {
            let mut i = 0;
            while let Some(d) = l.device_at(s, i) {
                concat.push((s, i, *d));
                i += 1;
            }
        }
        assert_eq!(concat.len() as u32, n);
        for (k, (s, i, _)) in concat.iter().enumerate() {
            assert_eq!(l.locate(k as u64), Some((*s, *i)));
            let path = l.shard_path(*s);
            assert_eq!(
                descend(&path, *s, bits, k as u64),
                Some(*i),
                "bits {bits} k {k}"
            );
            // Every other shard's path refuses this rank (empty shards included).
            for other in 0..(1u32 << bits) {
                if other != *s {
                    assert_eq!(descend(&l.shard_path(other), other, bits, k as u64), None);
                }
            }
        }
        assert_eq!(l.locate(u64::from(n)), None);
    }
}

#[test]
fn no_one_active_means_no_emission() {
    let p = djte_policy(4, 10_000, 4, 100, dummy_gate());
    let mut l = EmissionLedger::new(&p).unwrap();
    let first = l.prepare(dev(1), Vec::new()).unwrap();
    assert!(first.proof.winner.is_none());
    let e = l.apply(&first, false).unwrap();
    assert_eq!(e.winner, None);
    assert_eq!(l.state().remaining, Amount(10_000));
    assert_eq!(l.state().active, 1);
    // The second join pays the only active device.
    let second = l.prepare(dev(2), Vec::new()).unwrap();
    let e = l.apply(&second, false).unwrap();
    assert_eq!(e.winner, Some((dev(1), Amount(100))));
    // A step naming a winner when N = 0 is refused.
    let fresh = EmissionLedger::new(&p).unwrap();
    let mut forged = fresh.prepare(dev(1), Vec::new()).unwrap();
    forged.proof.winner = second.proof.winner.clone();
    assert!(matches!(
        verify_step(&p, fresh.state(), &forged, false),
        Err(DjteError::Winner(_))
    ));
}

#[test]
fn a_step_at_the_nodes_opens_only_sealed_after_its_state() {
    let p = djte_policy(4, 10_000, 4, 100, dummy_gate());
    let mut l = EmissionLedger::new(&p).unwrap();
    let d0 = l.state().clone();
    let first = l.prepare(dev(1), Vec::new()).unwrap();
    let sealed = seal_step(&d0, &first);
    assert_eq!(open_step(&d0, &sealed), Some(first.clone()));
    // Deterministic: a writer and a reader holding the step compute the same entry.
    assert_eq!(seal_step(&d0, &first), sealed);
    // The step shows nowhere in what the node keeps, nor does its token.
    let clear = first.to_bytes();
    let shows = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
    assert!(!shows(&clear[..32]) && !shows(p.token_id().as_bytes()));
    l.apply(&first, false).unwrap();
    let d1 = l.state().clone();
    // In clear, sealed after another state, or damaged: not a step.
    assert_eq!(open_step(&d0, &clear), None);
    assert_eq!(open_step(&d1, &sealed), None);
    let mut damaged = sealed.clone();
    *damaged.last_mut().unwrap() ^= 1;
    assert_eq!(open_step(&d0, &damaged), None);
    // Each state's list is its own, and names neither the token nor the state.
    let (t0, k0) = emission_list(&d0);
    let (t1, k1) = emission_list(&d1);
    assert_eq!(t0, t1);
    assert_ne!(k0, k1);
    assert_ne!(k0, d0.digest());
}

#[test]
fn an_activation_is_consumed_once() {
    let p = djte_policy(3, 10_000, 4, 100, dummy_gate());
    let mut l = joined(&p, 5);
    assert!(l.has_joined(&dev(3)));
    assert_eq!(
        l.prepare(dev(3), Vec::new()).unwrap_err(),
        DjteError::AlreadyJoined
    );
    // A step built before the device joined no longer verifies (its spent proof is stale),
    // and a fresh proof shows the key present.
    let before = joined(&p, 4);
    let stale = before.prepare(dev(4), Vec::new()).unwrap();
    assert!(l
        .apply(&stale, false)
        .is_err_and(|e| matches!(e, DjteError::BadProof("spent-set proof"))));
    let mut replay = l.prepare(dev(99), Vec::new()).unwrap();
    replay.proof.joiner = dev(4);
    assert!(verify_step(&p, l.state(), &replay, false)
        .is_err_and(|e| matches!(e, DjteError::BadProof("spent-set proof"))));
    // Exactly: a correct spent-set proof for a joined device says "already joined".
    let mut spent = dsm_core::smt::SparseMerkleTree::new();
    for i in 0..5 {
        spent.insert(
            join_key(&p.token_id(), &dev(i)),
            dsm_core::hash::tagged_hash(
                dsm_core::tags::Tag::DjteSpent,
                &[&(i as u64).to_be_bytes()],
            ),
        );
    }
    assert_eq!(spent.root(), l.state().spent_root);
    replay.proof.spent = spent.prove(&join_key(&p.token_id(), &dev(4)));
    assert_eq!(
        verify_step(&p, l.state(), &replay, false).unwrap_err(),
        DjteError::AlreadyJoined
    );
}

#[test]
fn emissions_follow_the_clamped_schedule_and_never_pass_the_cap() {
    // M_0 = 2, r_0 = 300: 300, 300, 150×4, 75×8, … — the floor-sum exceeds 1000.
    let p = djte_policy(2, 1_000, 2, 300, dummy_gate());
    let d = p.djte.clone().unwrap();
    assert_eq!(
        (0..8).map(|e| schedule_amount(&d, e).0).collect::<Vec<_>>(),
        vec![300, 300, 150, 150, 150, 150, 75, 75]
    );
    assert_eq!(schedule_amount(&d, u64::MAX), Amount(0));
    let mut l = EmissionLedger::new(&p).unwrap();
    let mut paid = Vec::new();
    for i in 0..40 {
        let before = l.state().clone();
        let step = l.prepare(dev(i), Vec::new()).unwrap();
        let e = l.apply(&step, false).unwrap();
        let amount = e.winner.map(|w| w.1 .0).unwrap_or(0);
        let due = if before.active == 0 {
            0
        } else {
            schedule_amount(&d, before.index).0.min(before.remaining.0)
        };
        assert_eq!(amount, due, "emission {i}");
        assert_eq!(l.state().remaining.0 + l.state().emitted.0, 1_000);
        paid.push(amount);
    }
    assert_eq!(paid.iter().sum::<u128>(), 1_000);
    assert_eq!(l.state().remaining, Amount(0));
    // After the vault is empty, joins still activate devices: zero is a valid emission.
    assert_eq!(*paid.last().unwrap(), 0);
    assert_eq!(l.state().active, 40);
}

#[test]
fn independent_verifiers_agree_on_every_winner() {
    let p = djte_policy(4, 1 << 80, 3, 1_000, dummy_gate());
    let mut a = EmissionLedger::new(&p).unwrap();
    let mut steps = Vec::new();
    for i in 0..60 {
        let s = a.prepare(dev(i), Vec::new()).unwrap();
        a.apply(&s, false).unwrap();
        steps.push(s);
    }
    // Verifier B replays the steps with its own ledger; verifier C keeps only the state
    // and checks each step with verify_step.
    let mut b = EmissionLedger::new(&p).unwrap();
    let mut c = EmissionState::genesis(&p).unwrap();
    for (i, s) in steps.iter().enumerate() {
        let eb = b.apply(s, false).unwrap();
        let ec = verify_step(&p, &c, s, false).unwrap();
        assert_eq!(eb, ec);
        assert_eq!(eb, a.history()[i]);
        c = ec.next;
    }
    assert_eq!(b.state(), a.state());
    assert_eq!(&c, a.state());
    // The step bytes are canonical and round-trip.
    for s in &steps {
        assert_eq!(&EmissionStep::from_bytes(&s.to_bytes()).unwrap(), s);
    }
}

#[test]
fn tampered_emission_proofs_are_refused() {
    let p = djte_policy(3, 1 << 80, 3, 1_000, dummy_gate());
    let l = joined(&p, 30);
    let good = l.prepare(dev(500), Vec::new()).unwrap();
    verify_step(&p, l.state(), &good, false).unwrap();
    let w = good.proof.winner.clone().unwrap();
    let check = |f: &dyn Fn(&mut EmissionStep)| {
        let mut s = good.clone();
        f(&mut s);
        verify_step(&p, l.state(), &s, false).unwrap_err()
    };
    // Another active device as the winner (with its own valid proofs).
    let other = (0..30).map(dev).find(|d| *d != w.device).unwrap();
    let (os, oi) = (0..8u32)
        .flat_map(|s| (0..40u64).map(move |i| (s, i)))
        .find(|(s, i)| l.device_at(*s, *i) == Some(&other))
        .unwrap();
    let forged = WinnerProof {
        device: other,
        index: oi,
        path: l.shard_path(os),
        inclusion: Default::default(),
    };
    assert!(matches!(
        check(&|s| s.proof.winner = Some(forged.clone())),
        DjteError::Winner(_) | DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.winner.as_mut().unwrap().index ^= 1),
        DjteError::Winner(_) | DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.winner = None),
        DjteError::Winner(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.winner.as_mut().unwrap().path.siblings[0].count += 1),
        DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.winner.as_mut().unwrap().path.count += 1),
        DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.joiner_path.siblings[1].hash.0[0] ^= 1),
        DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| {
            s.proof.joiner_peaks.push(Digest([7; 32]));
        }),
        DjteError::BadProof(_)
    ));
    assert!(matches!(
        check(&|s| s.proof.spent.siblings.push(Digest([1; 32]))),
        DjteError::BadProof(_)
    ));
    // Every single-bit flip of the encoded proof either fails to decode or is refused.
    let bytes = good.proof.to_bytes();
    for i in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[i / 8] ^= 1 << (i % 8);
        if let Ok(proof) = EmissionProof::from_bytes(&b) {
            let s = EmissionStep {
                gate: Vec::new(),
                proof,
            };
            assert!(
                verify_step(&p, l.state(), &s, false).is_err(),
                "bit {i} accepted"
            );
        }
    }
    // Another token's state.
    let other_policy = djte_policy(3, 1 << 81, 3, 1_000, dummy_gate());
    assert_eq!(
        verify_step(&other_policy, l.state(), &good, false).unwrap_err(),
        DjteError::WrongToken
    );
}

#[test]
fn accumulators_prove_every_leaf() {
    let leaves: Vec<Digest> = (0..70u32).map(|i| digest(&format!("leaf{i}"))).collect();
    let mut peaks = Vec::new();
    for n in 0..leaves.len() {
        assert_eq!(peaks, mmr_peaks(&leaves[..n]));
        let root = mmr_root(n as u64, &peaks);
        for i in 0..n {
            let proof = mmr_prove(&leaves[..n], i);
            assert!(
                mmr_verify(&root, n as u64, i as u64, &leaves[i], &proof),
                "n {n} i {i}"
            );
            assert!(!mmr_verify(
                &root,
                n as u64,
                i as u64,
                &digest("other"),
                &proof
            ));
            if n > 1 {
                assert!(
                    !mmr_verify(&root, n as u64, ((i + 1) % n) as u64, &leaves[i], &proof)
                        || leaves[i] == leaves[(i + 1) % n]
                );
            }
        }
        peaks = mmr_append(n as u64, &peaks, leaves[n]);
    }
}

#[test]
fn fork_choice_prefers_the_higher_index_then_the_smaller_digest() {
    let p = djte_policy(2, 1 << 80, 3, 10, dummy_gate());
    let a = joined(&p, 3);
    let b = joined(&p, 4);
    assert_eq!(fork_choice(a.state(), b.state()), b.state());
    assert_eq!(fork_choice(b.state(), a.state()), b.state());
    let mut c = EmissionLedger::new(&p).unwrap();
    for i in [0, 1, 7] {
        let s = c.prepare(dev(i), Vec::new()).unwrap();
        c.apply(&s, false).unwrap();
    }
    let pick = fork_choice(a.state(), c.state());
    assert_eq!(pick.digest(), a.state().digest().min(c.state().digest()));
}

/// Real gates: the joiner pays `k` operators in a fee token minted by its issuer.
struct Network {
    fee_policy: TokenPolicy,
    fee_issuer: Device,
    operators: Vec<Device>,
    minted: u128,
    c: u64,
}

impl Network {
    fn new(ops: u32) -> Network {
        let fee_issuer = Device::new(900);
        let fee_policy = fungible("CRED", &[&fee_issuer], 1, 1 << 100, BurnRule::Nobody);
        let mut operators: Vec<Device> = (0..ops).map(|i| Device::new(800 + i)).collect();
        operators.sort_by_key(|d| d.id());
        Network {
            fee_policy,
            fee_issuer,
            operators,
            minted: 0,
            c: 0,
        }
    }
    fn gate(&self, k: u32, fee: u128) -> JoinGate {
        JoinGate {
            operators: self.operators.iter().map(|d| d.id()).collect(),
            k,
            fee_token: self.fee_policy.token_id(),
            fee: Amount(fee),
        }
    }
    /// Funds `d` with fee tokens and pays operators `which` `fee` each.
    fn pay(&mut self, d: &mut Device, which: &[usize], fee: u128) -> Vec<Receipt> {
        let mut rules = TokenRules::new();
        rules.add_policy(self.fee_policy.clone()).unwrap();
        let amount = fee * which.len() as u128 + 1;
        let m = mint(
            &self.fee_policy,
            self.minted as u64,
            self.minted,
            amount,
            d,
            &[(0, &self.fee_issuer)],
            &mut self.c,
        );
        self.minted += amount;
        d.apply(&mut rules, m).unwrap();
        let t = self.fee_policy.token_id();
        which
            .iter()
            .map(|&i| transfer(d, &mut self.operators[i], t, fee, &mut self.c))
            .collect()
    }
}

#[test]
fn the_join_gate_needs_k_real_payments_to_distinct_operators() {
    let mut net = Network::new(3);
    let gate = net.gate(2, 5);
    let mut joiner = Device::new(1);
    let id = joiner.id();
    let good = net.pay(&mut joiner, &[0, 2], 5);
    verify_gate(&gate, &id, &good).unwrap();
    // Too few, reversed order, the same operator twice.
    assert!(verify_gate(&gate, &id, &good[..1]).is_err_and(|e| matches!(
        e,
        DjteError::Gate("the number of payments must equal the gate's k")
    )));
    assert!(
        verify_gate(&gate, &id, &[good[1].clone(), good[0].clone()]).is_err_and(|e| matches!(
            e,
            DjteError::Gate("payments must go to distinct operators, in ascending order")
        ))
    );
    let mut twice = Device::new(2);
    let t = net.pay(&mut twice, &[1, 1], 5);
    assert!(verify_gate(&gate, &twice.id(), &t).is_err_and(|e| matches!(
        e,
        DjteError::Gate("payments must go to distinct operators, in ascending order")
    )));
    // Somebody else's payments.
    assert!(
        verify_gate(&gate, &twice.id(), &good).is_err_and(|e| matches!(
            e,
            DjteError::Gate("a payment was not made by the joining device")
        ))
    );
    // Below the fee.
    let mut cheap = Device::new(3);
    let low = net.pay(&mut cheap, &[0, 1], 4);
    assert!(
        verify_gate(&gate, &cheap.id(), &low).is_err_and(|e| matches!(
            e,
            DjteError::Gate("a payment is in the wrong token or below the fee")
        ))
    );
    // Paid to a device that is not an operator.
    let mut stranger = Device::new(4);
    let mut cheat = Device::new(5);
    let mut rules = TokenRules::new();
    rules.add_policy(net.fee_policy.clone()).unwrap();
    let m = mint(
        &net.fee_policy,
        99,
        net.minted,
        20,
        &cheat,
        &[(0, &net.fee_issuer)],
        &mut net.c,
    );
    cheat.apply(&mut rules, m).unwrap();
    let r = transfer(
        &mut cheat,
        &mut stranger,
        net.fee_policy.token_id(),
        5,
        &mut net.c,
    );
    let mut mixed = net.pay(&mut cheat, &[0], 5);
    mixed.push(r);
    assert!(
        verify_gate(&gate, &cheat.id(), &mixed).is_err_and(|e| matches!(
            e,
            DjteError::Gate("a payment went to a device that is not a listed operator")
        ))
    );
    // A tampered receipt.
    let mut bad = good.clone();
    bad[0].acceptance.signature = bad[1].acceptance.signature.clone();
    assert!(matches!(
        verify_gate(&gate, &id, &bad),
        Err(DjteError::GateReceipt { .. })
    ));
}

#[test]
fn winners_are_credited_through_token_rules() {
    let mut net = Network::new(2);
    let p = djte_policy(2, 1_000_000, 2, 1_000, net.gate(1, 1));
    let t = p.token_id();
    let mut ledger = EmissionLedger::new(&p).unwrap();
    let mut devices: Vec<Device> = (0..6).map(|i| Device::new(10 + i)).collect();
    let mut credits = Vec::new();
    for d in devices.iter_mut() {
        let gate = net.pay(d, &[0], 1);
        let before = ledger.state().clone();
        let step = ledger.prepare(d.id(), gate).unwrap();
        let e = ledger.apply(&step, true).unwrap();
        if let Some((w, a)) = e.winner {
            credits.push((
                w,
                a,
                EmissionCredit {
                    state: before,
                    step,
                },
            ));
        }
    }
    assert_eq!(credits.len(), 5);
    let mut rules = TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    for (w, a, credit) in credits {
        let proof = SourceProof {
            source: Source::Emission(Box::new(credit.clone())),
            allowlist: None,
            consumption: None,
        };
        let winner = devices.iter_mut().find(|d| d.id() == w).unwrap();
        let state = credit.state.digest();
        // A state the verifier did not see on the vault chain is refused (genesis is known).
        if credit.state.index > 0 {
            let mut blind = TokenRules::new();
            blind.add_policy(p.clone()).unwrap();
            let child = winner.head.allocation_child(&t, a, proof.cause()).unwrap();
            assert_eq!(
                blind
                    .apply_source(&winner.head, &child, &proof.to_bytes())
                    .unwrap_err(),
                TokenError::UnknownEmissionState(state)
            );
        }
        rules.know_emission_state(&t, &state);
        winner.apply(&mut rules, proof.clone()).unwrap();
        // Applied twice: refused — also in another valid encoding (an ignored allowlist
        // proof changes the cause, not the emission's index).
        assert_eq!(
            winner.apply(&mut rules, proof.clone()).unwrap_err(),
            TokenError::AlreadyUsed
        );
        let padded = SourceProof {
            allowlist: Some(dsm_core::smt::SparseMerkleTree::new().prove(w.as_bytes())),
            ..proof
        };
        assert_eq!(
            winner.apply(&mut rules, padded).unwrap_err(),
            TokenError::AlreadyUsed
        );
    }
    let total: u128 = devices.iter().map(|d| d.balance(&t)).sum();
    assert_eq!(total, ledger.state().emitted.0);
    // A third party checks each chain with the vault states it verified.
    for d in &devices {
        let mut v = TokenRules::new();
        v.add_policy(p.clone()).unwrap();
        v.add_policy(net.fee_policy.clone()).unwrap();
        for e in ledger.history() {
            v.know_emission_state(&t, &e.next.prev);
        }
        d.assert_chain_verifies(&mut v);
    }
}
