//! Continued roots through the real `Wallet`, `Session` and storage nodes (PROTOCOL.md
//! §5.6, "Continued roots"; §18.2): a vault's value is only as good as the parcels its lock
//! consumed. A vault lock of made-up value is refused by its beneficiary; a resolution
//! built on one anyway is refused by whoever it is paid to; a parcel locked and also spent
//! elsewhere is refused wherever the other spend holds its slot; real locked value passes on
//! to a receiver that never saw its lineage, and settles through the lock.

mod common;

use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, Digest};
use dsm_core::parcel::{root_id, LineageManifest, ManifestStart, Parcel, RootFacts};
use dsm_core::receipt::{propose, ChainView, LocalDevice, Offer};
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::{Ledger, RefusalReason};
use dsm_token::policy::TokenKind;
use dsm_token::source::{Source, SourceProof};
use dsm_token::vault::{
    sign_lock, Branch, Condition, VaultDocument, VaultPolicy, VaultResolution, Witness,
};
use dsm_wallet::online::vaults::resolve;
use dsm_wallet::online::{sync, Settlement};
use dsm_wallet::{Wallet, WitnessMaterial};
use sha2::Digest as _;

const SECRET: &[u8] = b"open sesame";

fn release() -> Condition {
    Condition::Sha256(sha2::Sha256::digest(SECRET).into())
}

fn material() -> WitnessMaterial {
    WitnessMaterial {
        preimages: vec![SECRET.to_vec()],
        max_work: 0,
        bitcoin: Vec::new(),
    }
}

/// An issuer, its GOLD token, and `n` more wallets holding the policy.
fn setup(n: usize) -> (Wallet, TokenId, Vec<Wallet>) {
    let (mut issuer, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let ws = (0..n)
        .map(|_| {
            let (mut w, _) = memory_wallet(0);
            w.import_policy(p.clone(), None).unwrap();
            w
        })
        .collect();
    (issuer, t, ws)
}

/// A vault document mallory makes up: a lock of `amount` of `t` for `beneficiary`, whose
/// statement (really signed by mallory) consumes a parcel she never received (a dev grant
/// of a policy token).
fn made_up_vault(m: &Wallet, beneficiary: &Wallet, t: TokenId, amount: u128) -> VaultDocument {
    let slots = dsm_core::slot::device_slots_owner(beneficiary.identity());
    made_up_vault_naming(m, beneficiary, slots, t, amount)
}

/// [`made_up_vault`] naming `slots` as the beneficiary's slot owner.
fn made_up_vault_naming(
    m: &Wallet,
    beneficiary: &Wallet,
    slots: Digest,
    t: TokenId,
    amount: u128,
) -> VaultDocument {
    // A head of her own making that holds the amount, and the lock's BURN head on it.
    let fake_head = Ledger::head(m)
        .allocation_child(&t, Amount(amount), Digest([7; 32]))
        .unwrap();
    let policy = VaultPolicy {
        creator: m.identity().clone(),
        creator_parent_head: fake_head.digest(),
        token: t,
        amount: Amount(amount),
        beneficiary: beneficiary.device_id(),
        beneficiary_slots: slots,
        release: release(),
        refund: Condition::Iterations(10),
        salt: Digest([1; 32]),
    };
    let cause = dsm_token::source::lock_cause(&policy);
    let lock_head = fake_head.burn_child(&t, Amount(amount), cause).unwrap();
    let lock = sign_lock(policy, lock_head, m.signing_key(), &[2; 32]).unwrap();
    let (backing, objects) = made_up_consumption(m, t, amount, cause);
    VaultDocument {
        lock,
        backing,
        objects,
        slot_write: None,
    }
}

/// A lock that names its beneficiary under another slot owner (PROTOCOL.md §18.1) would
/// leave it no claim at the nodes: its beneficiary refuses it on import, before anything
/// else.
#[test]
fn a_lock_naming_another_slot_owner_for_its_beneficiary_is_refused() {
    let (_issuer, t, ws) = setup(2);
    let [mallory, mut bob] = <[Wallet; 2]>::try_from(ws).ok().unwrap();
    let doc = made_up_vault_naming(&mallory, &bob, Digest([9; 32]), t, 500);
    let id = doc.lock.policy.vault_id();
    let e = bob.import_vault(doc).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "vault {} names this device as its beneficiary under another slot owner, so \
             the storage nodes would refuse its claim: ask its creator for a new lock",
            &id.to_hex()[..16]
        )
    );
    assert!(bob.vaults().unwrap().is_empty(), "nothing was imported");
}

#[test]
fn value_fabricated_into_a_vault_lock_is_refused_by_its_beneficiary() {
    let (_issuer, t, ws) = setup(2);
    let [mallory, mut bob] = <[Wallet; 2]>::try_from(ws).ok().unwrap();
    let doc = made_up_vault(&mallory, &bob, t, 500);
    let id = doc.lock.policy.vault_id();
    let e = bob.import_vault(doc.clone()).unwrap_err().to_string();
    assert!(
        e.contains(&format!("vault {} is refused", &id.to_hex()[..16]))
            && e.contains("the root's consumed parcel 0")
            && e.contains("the lineage's root is not a valid source"),
        "{e}"
    );
    assert!(bob.vaults().unwrap().is_empty(), "nothing was imported");
    // With nothing imported there is nothing to resolve from.
    let e = format!("{:?}", bob.find_vault(&id.to_hex()).unwrap_err());
    assert!(
        e.starts_with("Token(\"no vault ")
            && e.ends_with(
                "here (give 8+ hex digits of its id; `dsm vault list`, or import it first)\")"
            ),
        "{e}"
    );
}

#[test]
fn a_resolution_of_made_up_value_paid_on_by_a_colluding_beneficiary_is_refused() {
    let (_issuer, t, ws) = setup(3);
    let [mallory, mut accomplice, mut victim] = <[Wallet; 3]>::try_from(ws).ok().unwrap();
    // The accomplice's modified wallet resolves the made-up vault without checking it and
    // pays the resolved value on: a root resting on mallory's lock statement.
    let doc = made_up_vault(&mallory, &accomplice, t, 500);
    let proof = SourceProof {
        source: Source::VaultResolve(Box::new(VaultResolution {
            lock: doc.lock.clone(),
            branch: Branch::Release,
            witness: Witness::Preimage(SECRET.to_vec()),
        })),
        allowlist: None,
        consumption: Some(doc.backing.consumption.clone()),
    };
    let source = proof.to_bytes();
    let resolved = Parcel {
        id: root_id(&RootFacts {
            once_key: proof.once_key().unwrap(),
            token: t,
            amount: Amount(500),
            holder: accomplice.device_id(),
            burned: None,
        }),
        token: t,
        amount: Amount(500),
        holder: accomplice.device_id(),
    };
    let fake_head = Ledger::head(&accomplice)
        .allocation_child(&t, Amount(500), proof.cause())
        .unwrap();
    let l = LocalDevice {
        identity: accomplice.identity(),
        key: accomplice.signing_key(),
        head: &fake_head,
        tree: accomplice.tree(),
    };
    let signed = propose(
        &l,
        &victim.device_id(),
        t,
        Amount(300),
        &[resolved],
        &[4; 32],
    )
    .unwrap()
    .signed;
    let mut objects = doc.objects.clone();
    objects.push(source.clone());
    objects.sort();
    let offer = Offer {
        signed,
        manifests: vec![LineageManifest {
            parcel: resolved.id,
            start: ManifestStart::Root(object_address(&source)),
            hops: vec![],
            signers: vec![],
            consumed: doc.backing.manifests.clone(),
        }],
        objects,
        slot_write: None,
        sealed: Vec::new(),
    };
    match deliver(&mut accomplice, &mut victim, offer) {
        SessionMessage::SignedRefusal(r) => {
            assert_eq!(r.refusal.reason, RefusalReason::Lineage.code());
            assert_eq!(r.refusal.refused_input, Some(resolved.id));
        }
        other => panic!("expected a signed LINEAGE refusal, got {}", other.name()),
    }
    assert_eq!(victim.balance(&t), Amount::ZERO);
}

#[test]
fn locked_value_passes_on_to_a_cold_receiver_and_settles_through_the_lock() {
    let (mut alice, t, ws) = setup(2);
    let [mut bob, mut carol] = <[Wallet; 2]>::try_from(ws).ok().unwrap();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    alice.mint(&t, Amount(500)).unwrap();
    let doc = alice
        .create_vault(
            t,
            Amount(200),
            bob.identity(),
            release(),
            Condition::Iterations(10),
        )
        .unwrap();
    // The document carries the lock's statement and the minted parcel's lineage, and
    // survives its canonical bytes.
    assert_eq!(VaultDocument::from_bytes(&doc.to_bytes()).unwrap(), doc);
    assert_eq!(doc.backing.consumption.hop.statement.inputs.len(), 1);
    let id = bob.import_vault(doc).unwrap();
    // Alice's sync publishes her mint and claims the lock's parcel slot.
    sync(&mut alice, &nodes).unwrap();
    let r = resolve(
        &mut bob,
        Some(&nodes),
        &id.to_hex(),
        Branch::Release,
        &material(),
    )
    .unwrap();
    assert!(r.settled);
    assert_eq!(bob.balance(&t), Amount(200));
    // Carol never saw alice's mint or lock: she checks them through bob's parcel.
    let (_, rc) = session_token(&mut bob, &mut carol, t, &[150]);
    assert_eq!(rc.completed.len(), 1, "{rc:?}");
    assert_eq!(carol.balance(&t), Amount(150));
    // And her line settles: the mint, the lock's statement, the resolution in the vault's
    // slot, bob's hop.
    let rs = sync(&mut carol, &nodes).unwrap();
    assert!(
        rs.settled
            .iter()
            .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rs:?}"
    );
    assert_eq!(rs.settled.len(), 1, "{rs:?}");
}

/// Mallory holds one real parcel of 900 (from the issuer), keeps a copy of her wallet, and
/// locks 400 of it into a vault for bob; the copy then pays carol from the same parcel.
fn locked_and_spent_again() -> (Wallet, TokenId, Wallet, Wallet, Wallet, Digest) {
    let (mut issuer, t, ws) = setup(3);
    let [mut mallory, mut bob, mut carol] = <[Wallet; 3]>::try_from(ws).ok().unwrap();
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut mallory, t, &[900]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let before = mallory.fork().unwrap();
    let doc = mallory
        .create_vault(
            t,
            Amount(400),
            bob.identity(),
            release(),
            Condition::Iterations(10),
        )
        .unwrap();
    let id = bob.import_vault(doc).unwrap();
    let (offer, _) = respend(&mallory, &before, &carol, t, 300);
    assert!(matches!(
        deliver(&mut mallory, &mut carol, offer),
        SessionMessage::Acceptance(_)
    ));
    (issuer, t, mallory, bob, carol, id)
}

#[test]
fn a_locked_parcel_spent_again_first_makes_the_vault_unresolvable_online() {
    let (mut issuer, t, mallory, mut bob, mut carol, id) = locked_and_spent_again();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut issuer, &nodes).unwrap();
    // Carol settles first: mallory's payment to her takes the parcel's slot.
    let rc = sync(&mut carol, &nodes).unwrap();
    assert!(
        rc.settled
            .iter()
            .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rc:?}"
    );
    // Bob's resolution is refused before it is written anywhere: the lock lost the slot.
    let e = resolve(
        &mut bob,
        Some(&nodes),
        &id.to_hex(),
        Branch::Release,
        &material(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("locked value that is refused at the storage nodes (conflict)"),
        "{e}"
    );
    assert_eq!(bob.balance(&t), Amount::ZERO);
    assert_eq!(bob.parcel_conflicts().len(), 1);
    assert_eq!(bob.parcel_conflicts()[0].1, mallory.device_id());
    assert!(bob.is_equivocator(&mallory.device_id()).unwrap());
    // Mallory's own wallet, claiming its lock's slots, is told once, then stops trying.
    let lost = |r: &dsm_wallet::online::SyncReport| {
        r.dropped
            .iter()
            .filter(|d| d.contains("consumed parcels to the sink (conflict)"))
            .count()
    };
    let mut mallory = mallory;
    assert_eq!(lost(&sync(&mut mallory, &nodes).unwrap()), 1);
    assert_eq!(lost(&sync(&mut mallory, &nodes).unwrap()), 0);
}

#[test]
fn a_lock_claimed_first_makes_the_second_spend_a_conflict_at_settlement() {
    let (mut issuer, t, mut mallory, mut bob, mut carol, id) = locked_and_spent_again();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    sync(&mut issuer, &nodes).unwrap();
    // Mallory's own sync claims the lock's slots (an honest wallet always does).
    let rm = sync(&mut mallory, &nodes).unwrap();
    assert!(rm.dropped.is_empty(), "{rm:?}");
    // Carol's line from the second spend is a conflict, never settled.
    let rc = sync(&mut carol, &nodes).unwrap();
    let line = rc.settled.last().unwrap();
    assert!(
        matches!(&line.settlement, Settlement::Conflict(e) if e.device() == mallory.device_id()),
        "{rc:?}"
    );
    assert_eq!(carol.in_conflict(&t), Amount(300));
    // Bob's vault resolves: the lock is the parcel's one spend.
    let r = resolve(
        &mut bob,
        Some(&nodes),
        &id.to_hex(),
        Branch::Release,
        &material(),
    )
    .unwrap();
    assert!(r.settled);
    assert_eq!(bob.balance(&t), Amount(400));
}
