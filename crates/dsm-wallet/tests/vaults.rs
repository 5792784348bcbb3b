//! Vaults in real wallets (PROTOCOL.md §18): lock, import, claim and refund through three
//! loopback storage nodes; a claim and a refund racing for one vault — exactly one wins;
//! state survives restarts; offline double resolution is detected as a conflict.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_token::policy::TokenKind;
use dsm_token::vault::{Branch, Condition};
use dsm_wallet::nodes::{NodeSet, Replication};
use dsm_wallet::online::vaults::{resolve, sync_vault};
use dsm_wallet::{VaultStatus, WitnessMaterial};
use sha2::Digest as _;
use std::time::Duration;

fn material(pre: &[u8], work: u64) -> WitnessMaterial {
    WitnessMaterial {
        preimages: vec![pre.to_vec()],
        max_work: work,
        bitcoin: Vec::new(),
    }
}

#[test]
fn claim_and_refund_race_at_the_nodes_and_exactly_one_wins() {
    let cluster = three_nodes();
    let nodes = NodeSet::new(
        cluster.urls.clone(),
        Replication { n: 3, k: 2, f: 0 },
        Duration::from_secs(5),
    );
    for round in 0..4 {
        let (mut alice, alice_store) = memory_wallet(0);
        let (mut bob, _) = memory_wallet(0);
        let p = gold(&alice, TokenKind::Fungible);
        let (t, _) = alice.import_policy(p.clone(), None).unwrap();
        bob.import_policy(p, None).unwrap();
        alice.mint(&t, Amount(500)).unwrap();
        let secret = format!("secret {round}");
        let lock = alice
            .create_vault(
                t,
                Amount(200),
                bob.identity(),
                Condition::Sha256(sha2::Sha256::digest(secret.as_bytes()).into()),
                Condition::Iterations(10),
            )
            .unwrap();
        assert_eq!(alice.balance(&t), Amount(300));
        let id = bob.import_vault(lock).unwrap();
        let hex = id.to_hex();
        // Alice, the issuer, publishes her mint (only an issuer may write its slot).
        dsm_wallet::online::sync(&mut alice, &nodes).unwrap();
        // Both at once: bob claims, alice refunds.
        let (rb, ra) = std::thread::scope(|s| {
            let hb = s.spawn(|| {
                resolve(
                    &mut bob,
                    Some(&nodes),
                    &hex,
                    Branch::Release,
                    &material(secret.as_bytes(), 0),
                )
            });
            let ha = s.spawn(|| {
                resolve(
                    &mut alice,
                    Some(&nodes),
                    &hex,
                    Branch::Refund,
                    &material(b"", 100),
                )
            });
            (hb.join().unwrap(), ha.join().unwrap())
        });
        assert!(
            rb.is_ok() != ra.is_ok(),
            "round {round}: exactly one resolution wins: {rb:?} {ra:?}"
        );
        let loser_msg = rb.as_ref().err().or(ra.as_ref().err()).unwrap().to_string();
        assert!(
            loser_msg.contains("already resolved at the storage nodes"),
            "{loser_msg}"
        );
        let total = alice.balance(&t).0 + bob.balance(&t).0;
        assert_eq!(total, 500, "value is conserved");
        // Both now know the same resolution.
        let sa = sync_vault(&mut alice, &nodes, &id).unwrap();
        let sb = sync_vault(&mut bob, &nodes, &id).unwrap();
        assert_eq!(sa, sb);
        assert!(matches!(sa, VaultStatus::Resolved(_)));
        // After a restart the vault stays resolved and cannot be taken again.
        let mut alice = reopen(&alice_store);
        assert!(resolve(
            &mut alice,
            Some(&nodes),
            &hex,
            Branch::Refund,
            &material(b"", 100)
        )
        .is_err_and(|e| e.to_string().contains("is already resolved by its")));
    }
}

/// A vault's resolution slot is owned by its two parties (PROTOCOL.md §15.2): a stranger's
/// junk, a write the stranger signs presenting any admission it can make up, and junk in
/// a candidate list at the address vaults used before, are all refused or ignored, and the
/// beneficiary's claim settles at the nodes.
#[test]
fn no_stranger_can_take_or_block_a_vaults_resolution_slot() {
    use dsm_core::slot::Admission;
    let cluster = three_nodes();
    let nodes = NodeSet::new(
        cluster.urls.clone(),
        Replication { n: 3, k: 2, f: 0 },
        Duration::from_secs(5),
    );
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let p = gold(&alice, TokenKind::Fungible);
    let (t, _) = alice.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p, None).unwrap();
    alice.mint(&t, Amount(500)).unwrap();
    let lock = alice
        .create_vault(
            t,
            Amount(200),
            bob.identity(),
            Condition::Sha256(sha2::Sha256::digest(b"open sesame").into()),
            Condition::Iterations(10),
        )
        .unwrap();
    let slot = lock.lock.policy.resolution_slot();
    let id = bob.import_vault(lock.clone()).unwrap();
    dsm_wallet::online::sync(&mut alice, &nodes).unwrap();
    let stranger = stranger_key(0x77);
    let stranger_genesis = dsm_core::identity::GenesisDigest(dsm_core::hash::Digest([0x77; 32]));
    let stranger_slots = dsm_core::slot::device_slots_owner(&dsm_core::identity::DeviceIdentity {
        genesis: stranger_genesis,
        public_key: stranger.public_key().clone(),
    });
    let blind = dsm_core::slot::genesis_blind(&stranger_genesis);
    let parties = lock.lock.policy.slot_parties();
    let mut refused = 0;
    for admission in [
        self_admission(&stranger),
        // The vault's real parties, but the signer is neither.
        Admission::Parties {
            genesis_blind: blind,
            parties: parties.clone(),
        },
        // The stranger listing itself: another owner.
        Admission::Parties {
            genesis_blind: blind,
            parties: vec![stranger_slots],
        },
    ] {
        let forged = forged_put(&stranger, admission, slot, b"junk");
        refused += refused_everywhere(&cluster.urls, slot, &[b"junk".to_vec(), forged]);
    }
    assert_eq!(
        refused,
        3 * 2 * cluster.urls.len(),
        "every attempt reached every node"
    );
    junk_in_lists(&cluster.urls, id.as_bytes(), id.as_bytes(), b"junk");
    // Bob's claim goes through and settles; alice's refund then loses to it.
    let r = resolve(
        &mut bob,
        Some(&nodes),
        &id.to_hex(),
        Branch::Release,
        &material(b"open sesame", 0),
    )
    .unwrap();
    assert!(r.settled && r.acks == Some(3), "{r:?}");
    assert_eq!(bob.balance(&t), Amount(200));
    let lost = resolve(
        &mut alice,
        Some(&nodes),
        &id.to_hex(),
        Branch::Refund,
        &material(b"", 100),
    )
    .unwrap_err()
    .to_string();
    assert!(
        lost.contains("already resolved at the storage nodes"),
        "{lost}"
    );
    assert_eq!(alice.balance(&t), Amount(300));
}

#[test]
fn witnesses_are_built_from_what_the_wallet_holds() {
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let p = gold(&alice, TokenKind::Fungible);
    let (t, _) = alice.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p, None).unwrap();
    alice.mint(&t, Amount(100)).unwrap();
    let release = Condition::All(vec![
        Condition::Signatures {
            threshold: 1,
            keys: vec![bob.identity().public_key.clone()],
        },
        Condition::Any(vec![
            Condition::Blake3(*blake3::hash(b"x").as_bytes()),
            Condition::Iterations(50),
        ]),
    ]);
    let lock = alice
        .create_vault(
            t,
            Amount(60),
            bob.identity(),
            release,
            Condition::Iterations(1_000_000),
        )
        .unwrap();
    let id = bob.import_vault(lock).unwrap().to_hex();
    // Alice cannot take the release branch; she cannot refund without allowing the work.
    assert!(
        resolve(&mut alice, None, &id, Branch::Release, &material(b"x", 0)).is_err_and(|e| e
            .to_string()
            .contains("the release branch credits another device, not this one"))
    );
    let e = resolve(&mut alice, None, &id, Branch::Refund, &material(b"", 10)).unwrap_err();
    assert!(e.to_string().contains("--work"), "{e}");
    // Bob: no preimage and no work allowed → the any-condition fails; with work it holds.
    assert!(
        resolve(&mut bob, None, &id, Branch::Release, &material(b"y", 0)).is_err_and(|e| e
            .to_string()
            .contains("this branch needs 50 iterations of work; allow them with --work"))
    );
    let r = resolve(&mut bob, None, &id, Branch::Release, &material(b"y", 50)).unwrap();
    assert_eq!(r.amount, Amount(60));
    assert_eq!(bob.balance(&t), Amount(60));
    assert!(matches!(
        bob.vaults().unwrap()[0].status,
        VaultStatus::Resolved(Branch::Release)
    ));
}

#[test]
fn an_offline_double_resolution_is_detected() {
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, bob_store) = memory_wallet(0);
    let p = gold(&alice, TokenKind::Fungible);
    let (t, _) = alice.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p, None).unwrap();
    alice.mint(&t, Amount(100)).unwrap();
    let lock = alice
        .create_vault(
            t,
            Amount(40),
            bob.identity(),
            Condition::Sha256(sha2::Sha256::digest(b"s").into()),
            Condition::Iterations(5),
        )
        .unwrap();
    let id = bob.import_vault(lock).unwrap();
    // No nodes: each side resolves its branch (a policy whose two branches can both hold
    // offline is the creator's risk).
    resolve(
        &mut bob,
        None,
        &id.to_hex(),
        Branch::Release,
        &material(b"s", 0),
    )
    .unwrap();
    resolve(
        &mut alice,
        None,
        &id.to_hex(),
        Branch::Refund,
        &material(b"", 5),
    )
    .unwrap();
    // When bob learns alice's resolution, the vault is conflicted for him from then on.
    let alices = alice.vaults().unwrap()[0].clone();
    assert!(matches!(
        alices.status,
        VaultStatus::Resolved(Branch::Refund)
    ));
    let theirs = {
        // Alice's stored resolution, as a node or gossip would deliver it.
        let store = alice.durable_copy().unwrap();
        let bytes = store
            .get(dsm_wallet::store::Table::VaultResolutions, id.as_bytes())
            .unwrap()
            .unwrap();
        <dsm_token::vault::VaultResolution as dsm_core::codec::Canonical>::from_bytes(&bytes)
            .unwrap()
    };
    assert_eq!(
        bob.observe_vault_resolution(&theirs).unwrap(),
        dsm_wallet::wallet::VaultSeen::Conflict(id)
    );
    assert!(matches!(
        bob.vaults().unwrap()[0].status,
        VaultStatus::Conflict
    ));
    let bob = reopen(&bob_store);
    assert!(matches!(
        bob.vaults().unwrap()[0].status,
        VaultStatus::Conflict
    ));
}

/// Either party may write a vault's resolution slot, so a race can leave the loser's write
/// at a node the winner did not reach first. The winner's resolution at W of N has won all
/// the same (PROTOCOL.md §18.3): its value settles onward at a cold receiver. (A loser's
/// write is placed here deterministically, through a registry of that one node.)
#[test]
fn a_resolution_at_w_nodes_wins_though_a_rival_holds_another_node() {
    let cluster = three_nodes();
    let nodes = NodeSet::new(
        cluster.urls.clone(),
        Replication { n: 3, k: 2, f: 0 },
        Duration::from_secs(5),
    );
    let first_node_only = NodeSet::new(
        vec![cluster.urls[0].clone()],
        Replication { n: 1, k: 1, f: 0 },
        Duration::from_secs(5),
    );
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, _) = memory_wallet(0);
    let p = gold(&alice, TokenKind::Fungible);
    let (t, _) = alice.import_policy(p.clone(), None).unwrap();
    bob.import_policy(p.clone(), None).unwrap();
    carol.import_policy(p, None).unwrap();
    alice.mint(&t, Amount(500)).unwrap();
    let lock = alice
        .create_vault(
            t,
            Amount(200),
            bob.identity(),
            Condition::Sha256(sha2::Sha256::digest(b"race").into()),
            Condition::Iterations(10),
        )
        .unwrap();
    let id = bob.import_vault(lock).unwrap();
    dsm_wallet::online::sync(&mut alice, &nodes).unwrap();
    // Alice's refund reaches only the first node…
    resolve(
        &mut alice,
        Some(&first_node_only),
        &id.to_hex(),
        Branch::Refund,
        &material(b"", 100),
    )
    .unwrap();
    // …bob's claim the other two: W = 2 of 3, with a rival seen at the third.
    let won = resolve(
        &mut bob,
        Some(&nodes),
        &id.to_hex(),
        Branch::Release,
        &material(b"race", 0),
    )
    .unwrap();
    assert_eq!(won.acks, Some(2));
    assert_eq!(bob.balance(&t), Amount(200));
    // Carol, who never saw the vault, is paid from the claim and settles its lineage.
    common::introduce(&mut bob, &carol);
    dsm_wallet::online::send_online(&mut bob, &nodes, &carol.device_id(), t, Amount(150)).unwrap();
    let rc = dsm_wallet::online::sync(&mut carol, &nodes).unwrap();
    assert_eq!(rc.received.len(), 1, "{rc:?}");
    assert_eq!(carol.balance(&t), Amount(150));
    let line = carol.history().unwrap().pop().unwrap();
    assert_eq!(line.settlement, Some(dsm_wallet::LineSettlement::Settled));
}
