//! What a storage node keeps of online business (PROTOCOL.md §16.6), against a real cluster
//! of 6 embedded nodes: after online payments along a line (alice → bob → carol, with a
//! queue and the answers), every byte of every node's store file is searched for what
//! would tell an operator who paid whom, what and when. None of it may appear; the
//! pseudonymous slot keys and the sealed bodies, which a node must see, do — so the dump
//! is known to hold what was written.

mod common;

use common::cluster::Cluster;
use common::leaks::{found, Secrets};
use common::memory_wallet;
use dsm_core::chain::Amount;
use dsm_protocol::card::ContactCard;
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync, sync_documents};
use dsm_wallet::{Contact, Wallet};

/// `w` adds `of`'s v2 card and fetches its identity document.
fn add_card(w: &mut Wallet, of: &Wallet, nodes: &NodeSet) {
    let card = ContactCard::parse(&of.card("peer").unwrap()).unwrap().0;
    let (c, _) = Contact::from_card(&card.to_text()).unwrap();
    w.add_contact(&c, true).unwrap();
    w.expect_contact_document(&card).unwrap();
    sync_documents(w, nodes).unwrap();
}

#[test]
fn a_nodes_disk_after_online_payments_shows_no_device_amount_token_or_statement() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut ws: Vec<Wallet> = [100u128, 0, 0]
        .iter()
        .map(|f| {
            let (mut w, _) = memory_wallet(*f);
            w.set_nodes(nodes.nodes()).unwrap();
            sync_documents(&mut w, &nodes).unwrap();
            w
        })
        .collect();
    let (mut carol, mut bob, mut alice) = (ws.pop().unwrap(), ws.pop().unwrap(), ws.pop().unwrap());
    add_card(&mut alice, &bob, &nodes);
    add_card(&mut bob, &carol, &nodes);
    let t = dsm_wallet::token(dsm_wallet::DEFAULT_TOKEN);
    let mut secrets = Secrets::default();
    secrets.add("the token id", t.as_bytes());
    for (name, w) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        secrets.wallet(name, w);
    }
    // alice pays bob twice while bob is away (a queue), bob collects both and pays carol
    // on, carol collects, and everyone syncs the answers.
    common::introduce(&mut alice, &bob);
    let p1 = send_online(&mut alice, &nodes, &bob.device_id(), t, Amount(10)).unwrap();
    common::introduce(&mut alice, &bob);
    let p2 = send_online(&mut alice, &nodes, &bob.device_id(), t, Amount(7)).unwrap();
    assert_eq!(sync(&mut bob, &nodes).unwrap().received.len(), 2);
    secrets.wallet("bob", &bob);
    common::introduce(&mut bob, &carol);
    let p3 = send_online(&mut bob, &nodes, &carol.device_id(), t, Amount(15)).unwrap();
    assert_eq!(sync(&mut carol, &nodes).unwrap().received.len(), 1);
    sync(&mut alice, &nodes).unwrap();
    sync(&mut bob, &nodes).unwrap();
    for (name, w) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        secrets.wallet(name, w);
    }
    for (what, p) in [
        ("alice→bob 10", &p1),
        ("alice→bob 7", &p2),
        ("bob→carol 15", &p3),
    ] {
        assert!(
            matches!(p.settlement, dsm_wallet::online::Settlement::Settled { .. }),
            "{what}: {:?}",
            p.settlement
        );
        secrets.proposal(what, &p.proposal);
    }
    assert_eq!(carol.balance(&t), Amount(15));

    let disks = c.store_files();
    // The dump holds what was written: every payment's sealed anchor and the writers'
    // pseudonymous slot owners are there — so finding nothing else is not an empty dump.
    let all: Vec<u8> = disks.concat();
    for (what, p) in [("alice→bob 10", &p1), ("bob→carol 15", &p3)] {
        let st = dsm_core::tripwire::Statement::Proposal(p.proposal.clone());
        assert!(
            found(&all, &dsm_core::slot::seal_statement(&st)[..64]),
            "{what}: its sealed anchor is at the nodes"
        );
        assert!(
            found(
                &all,
                dsm_core::slot::device_slots_owner(&p.proposal.proposal.sender).as_bytes()
            ),
            "{what}: its sender's slot owner is at the nodes"
        );
    }
    secrets.assert_on_no_disk(&disks);
}

/// The same search after an issuer mints a token to alice, alice pays part of it to bob
/// online and the issuer publishes the mint at its sync (PROTOCOL.md §17.2): the mint's slot
/// holds it sealed under the token, so neither the token nor the recipient shows — to a node
/// that does not know the token (§16.6).
#[test]
fn a_nodes_disk_after_a_mint_paid_on_online_shows_no_token_or_recipient() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut ws: Vec<Wallet> = (0..3)
        .map(|_| {
            let (mut w, _) = memory_wallet(0);
            w.set_nodes(nodes.nodes()).unwrap();
            sync_documents(&mut w, &nodes).unwrap();
            w
        })
        .collect();
    let (mut bob, mut alice, mut issuer) =
        (ws.pop().unwrap(), ws.pop().unwrap(), ws.pop().unwrap());
    let p = common::gold(&issuer, dsm_token::policy::TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    for w in [&mut alice, &mut bob] {
        w.import_policy(p.clone(), None).unwrap();
    }
    add_card(&mut alice, &bob, &nodes);
    issuer.mint(&t, Amount(100)).unwrap();
    common::session_token(&mut issuer, &mut alice, t, &[60]);
    sync(&mut issuer, &nodes).unwrap();
    common::introduce(&mut alice, &bob);
    let paid = send_online(&mut alice, &nodes, &bob.device_id(), t, Amount(25)).unwrap();
    assert_eq!(sync(&mut bob, &nodes).unwrap().received.len(), 1);
    sync(&mut alice, &nodes).unwrap();
    assert_eq!(bob.balance(&t), Amount(25));
    let mut secrets = Secrets::default();
    secrets.add("the token id", t.as_bytes());
    for (name, w) in [("issuer", &issuer), ("alice", &alice), ("bob", &bob)] {
        secrets.wallet(name, w);
    }
    secrets.proposal("alice→bob 25", &paid.proposal);
    let disks = c.store_files();
    let all: Vec<u8> = disks.concat();
    // The mint's slot (owned by the issuers' keys) was written: its owner is on disk.
    let (owner, key) = dsm_token::authority::mint_slot(&p.issuers, &t, 0);
    assert!(
        found(&all, owner.as_bytes()) && found(&all, key.as_bytes()),
        "the mint was published"
    );
    secrets.assert_on_no_disk(&disks);
}
