//! Relationship b0x addresses (PROTOCOL.md §16.1), against a real cluster of 6 storage
//! nodes: a first item goes to the recipient's introduction address and carries its
//! poster's signed reply-to; from then on each side posts to the relationship address the
//! other named, which nobody else can derive; a reply-to that its device did not sign, or
//! signed for another recipient, teaches nothing; and a sync lists every address in one
//! request per node, however many relationships.

mod common;

use common::cluster::Cluster;
use common::memory_wallet;
use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::slot::b0x_address;
use dsm_protocol::card::ContactCard;
use dsm_protocol::mailbox::{open_envelope, seal_envelope, Envelope, SealedItem};
use dsm_wallet::nodes::NodeSet;
use dsm_wallet::online::{send_online, sync, sync_documents};
use dsm_wallet::{Contact, Wallet};

/// `w` adds `of`'s v2 card as `name` and fetches its identity document.
fn add_card(w: &mut Wallet, of: &Wallet, name: &str, nodes: &NodeSet) {
    let card = ContactCard::parse(&of.card(name).unwrap()).unwrap().0;
    let (c, _) = Contact::from_card(&card.to_text()).unwrap();
    w.add_contact(&c, true).unwrap();
    w.expect_contact_document(&card).unwrap();
    sync_documents(w, nodes).unwrap();
    assert!(w.contact_kem_key(&of.device_id()).unwrap().is_some());
}

/// Wallets with nodes set and their documents published.
fn wallets(nodes: &NodeSet, funds: &[u128]) -> Vec<Wallet> {
    funds
        .iter()
        .map(|f| {
            let (mut w, _) = memory_wallet(*f);
            w.set_nodes(nodes.nodes()).unwrap();
            sync_documents(&mut w, nodes).unwrap();
            w
        })
        .collect()
}

/// The items waiting at `w`'s b0x address of `blind` (`None`: its introduction address).
fn at(w: &mut Wallet, nodes: &NodeSet, blind: Option<Digest>) -> Vec<Vec<u8>> {
    let owner = w.slot_owner();
    let mut items: Vec<Vec<u8>> = nodes
        .b0x_fetch(
            &[blind],
            &mut |node, op, entries| w.b0x_read(node, op, entries),
            &owner,
        )
        .unwrap()
        .0
        .into_iter()
        .map(|i| i.bytes)
        .collect();
    items.sort();
    items.dedup();
    items
}

/// The envelope of `item`, a sealed item posted to `w`.
fn envelope(w: &Wallet, item: &[u8]) -> Envelope {
    let sealed = SealedItem::from_bytes(item).expect("a sealed item");
    open_envelope(&w.kem_keys().1, &w.device_id(), &sealed).unwrap()
}

#[test]
fn after_a_first_item_each_side_posts_to_the_relationship_address_the_other_named() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut w = wallets(&nodes, &[100, 0, 50]);
    let (mut carol, mut bob, mut alice) = (w.pop().unwrap(), w.pop().unwrap(), w.pop().unwrap());
    // alice and carol hold bob's card; bob holds nobody's.
    add_card(&mut alice, &bob, "bob", &nodes);
    add_card(&mut carol, &bob, "bob", &nodes);
    let t = dsm_wallet::token(dsm_wallet::DEFAULT_TOKEN);
    let (a, b) = (alice.device_id(), bob.device_id());
    // A first payment: to bob's introduction address, sealed.
    send_online(&mut alice, &nodes, &b, t, Amount(10)).unwrap();
    let intro = at(&mut bob, &nodes, None);
    assert_eq!(intro.len(), 1);
    assert!(
        envelope(&bob, &intro[0]).reply_to.is_some(),
        "a first item names where its poster reads"
    );
    assert_eq!(
        alice.peer_b0x_address(&b).unwrap(),
        bob.introduction_address()
    );
    let rb = sync(&mut bob, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    // bob learned where alice reads him, and her KEM key: his acceptance waits at her
    // relationship address for him, sealed; nothing at her introduction address.
    let alice_reads_bob = alice.b0x_blind(&b);
    assert_eq!(
        bob.peer_b0x_address(&a).unwrap(),
        b0x_address(&alice.slot_owner(), Some(&alice_reads_bob))
    );
    assert_ne!(
        bob.peer_b0x_address(&a).unwrap(),
        alice.introduction_address()
    );
    assert_eq!(bob.contact_kem_key(&a).unwrap(), Some(alice.kem_keys().0));
    assert!(at(&mut alice, &nodes, None).is_empty());
    let answer = at(&mut alice, &nodes, Some(alice_reads_bob));
    assert_eq!(answer.len(), 1);
    assert!(
        envelope(&alice, &answer[0]).reply_to.is_some(),
        "sealed, with bob's reply-to"
    );
    let ra = sync(&mut alice, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    // A second payment goes to bob's relationship address for alice, not his
    // introduction address.
    let bob_reads_alice = bob.b0x_blind(&a);
    assert_eq!(
        alice.peer_b0x_address(&b).unwrap(),
        b0x_address(&bob.slot_owner(), Some(&bob_reads_alice))
    );
    send_online(&mut alice, &nodes, &b, t, Amount(5)).unwrap();
    assert!(at(&mut bob, &nodes, None).is_empty());
    let second = at(&mut bob, &nodes, Some(bob_reads_alice));
    assert_eq!(second.len(), 1);
    // bob's answer reached alice at her address for him, so he knows it: her items to him
    // carry no reply-to any more (about 10 KB less each).
    assert!(envelope(&bob, &second[0]).reply_to.is_none());
    // carol's first payment goes to the introduction address; bob reads carol under
    // another blind than alice, so his two relationship addresses are not linkable.
    send_online(&mut carol, &nodes, &b, t, Amount(7)).unwrap();
    assert_eq!(at(&mut bob, &nodes, None).len(), 1);
    let bob_reads_carol = bob.b0x_blind(&carol.device_id());
    assert_ne!(bob_reads_carol, bob_reads_alice);
    assert_eq!(bob.b0x_blinds().unwrap().len(), 1, "bob told alice only");
    let rb = sync(&mut bob, &nodes).unwrap();
    assert_eq!(rb.received.len(), 2, "{rb:?}");
    assert_eq!(common::dev(&bob), 22);
    let mut told = vec![(bob_reads_alice, a), (bob_reads_carol, carol.device_id())];
    told.sort();
    assert_eq!(bob.b0x_blinds().unwrap(), told);
    for w in [&mut alice, &mut carol] {
        assert_eq!(sync(w, &nodes).unwrap().stitched.len(), 1);
    }
    assert_eq!(common::dev(&alice), 85);
    assert_eq!(common::dev(&carol), 43);
    // Every address is empty again: each item was read and acknowledged where it waited.
    for blind in [None, Some(bob_reads_alice), Some(bob_reads_carol)] {
        assert!(at(&mut bob, &nodes, blind).is_empty());
    }
}

/// A reply-to is believed only when its device signed it for this recipient: a stranger
/// who posts alice's reply-to for carol to bob, or one with alice's document that it
/// signed itself, changes nowhere bob posts to alice; each is reported with its reason.
#[test]
fn a_reply_to_its_device_did_not_sign_for_this_recipient_teaches_nothing() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let mut w = wallets(&nodes, &[0, 0, 0, 0]);
    let (mut mallory, carol, mut bob, alice) = (
        w.pop().unwrap(),
        w.pop().unwrap(),
        w.pop().unwrap(),
        w.pop().unwrap(),
    );
    let (a, b) = (alice.device_id(), bob.device_id());
    add_card(&mut bob, &alice, "alice", &nodes); // bob deals with alice
    add_card(&mut mallory, &bob, "bob", &nodes); // mallory can seal to bob
    let for_carol = alice.reply_to(&carol.device_id()).unwrap();
    let mut forged = alice.reply_to(&b).unwrap();
    forged.signature = mallory.reply_to(&b).unwrap().signature.clone();
    let bob_key = mallory.contact_kem_key(&b).unwrap().unwrap();
    for reply in [for_carol, forged] {
        let envelope = Envelope {
            item: b"junk".to_vec(),
            reply_to: Some(reply),
        };
        let sealed = seal_envelope(&bob_key, &b, &envelope, &[3; 32], [4; 24]).unwrap();
        nodes
            .b0x_post(&bob.introduction_address(), &sealed)
            .unwrap();
    }
    let rb = sync(&mut bob, &nodes).unwrap();
    let refused: Vec<&String> = rb
        .dropped
        .iter()
        .filter(|d| d.contains("a reply-to that was refused"))
        .collect();
    assert_eq!(refused.len(), 2, "{rb:?}");
    assert!(refused
        .iter()
        .all(|d| d.contains("its signature does not verify for this recipient and blind")));
    assert_eq!(
        bob.peer_b0x_address(&a).unwrap(),
        alice.introduction_address()
    );
    // mallory's own reply-to verifies, but mallory deals with bob in nothing and its item
    // proposes nothing: bob keeps nothing of it.
    let envelope = Envelope {
        item: b"more junk".to_vec(),
        reply_to: Some(mallory.reply_to(&b).unwrap()),
    };
    let sealed = seal_envelope(&bob_key, &b, &envelope, &[5; 32], [6; 24]).unwrap();
    nodes
        .b0x_post(&bob.introduction_address(), &sealed)
        .unwrap();
    sync(&mut bob, &nodes).unwrap();
    let m = mallory.device_id();
    assert_eq!(bob.peer_identity(&m).unwrap(), None);
    assert!(bob.peer_b0x_address(&m).is_err());
    assert_eq!(bob.contact_kem_key(&m).unwrap(), None);
}

/// A sync lists every address of the device in one request per node: 1 relationship or
/// 300, the same number of listings (PROTOCOL.md §16.1).
#[test]
fn a_listing_names_every_address_in_one_request_per_node() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut bob, _) = memory_wallet(0);
    let owner = bob.slot_owner();
    let listings = |c: &Cluster| -> u64 {
        c.requests_by_route()
            .get("POST /v1/b0x-list")
            .copied()
            .unwrap_or(0)
    };
    let mut counts = Vec::new();
    for n in [1usize, 300] {
        // An item at each address, so that every listing has something to return.
        let blinds: Vec<Option<Digest>> = (0..n)
            .map(|i| {
                Some(dsm_core::hash::tagged_hash(
                    dsm_core::tags::Tag::Fixture,
                    &[&i.to_be_bytes()],
                ))
            })
            .collect();
        for b in &blinds {
            nodes
                .b0x_post(&b0x_address(&owner, b.as_ref()), b"an item")
                .unwrap();
        }
        let before = listings(&c);
        let (items, faults) = nodes
            .b0x_fetch(
                &blinds,
                &mut |node, op, entries| bob.b0x_read(node, op, entries),
                &owner,
            )
            .unwrap();
        assert!(faults.is_empty(), "{faults:?}");
        // 6 copies of each item (one per node), 256 per listing: more listings only when
        // the items do not fit in one answer.
        assert_eq!(items.len(), 6 * n);
        counts.push(listings(&c) - before);
    }
    assert_eq!(counts[0], 6, "one listing per node");
    assert_eq!(
        counts[1], 12,
        "300 items need two listings of 256 per node, not 300"
    );
}

/// A damaged record of where this device reads its peers is refused, never read as "told
/// nobody": the sync stops before it reads or deletes anything, so an item waiting at a
/// relationship address is still there once the record is mended (PROTOCOL.md §14).
#[test]
fn a_damaged_correspondents_record_refuses_the_sync_and_loses_nothing() {
    use dsm_wallet::store::{Batch, Store, Table};
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut bob, mut store) = memory_wallet(0);
    bob.set_nodes(nodes.nodes()).unwrap();
    nodes
        .b0x_post(&bob.introduction_address(), b"waiting")
        .unwrap();
    let good = store.get(Table::Correspondents, &[5; 32]).unwrap();
    assert_eq!(good, None);
    let mut b = Batch::new();
    b.put(Table::Correspondents, vec![5; 32], vec![9]);
    store.commit(&b).unwrap();
    let mut bob = common::reopen(&store);
    let e = sync(&mut bob, &nodes).unwrap_err().to_string();
    assert!(e.contains("correspondents"), "{e}");
    assert_eq!(at(&mut bob, &nodes, None), vec![b"waiting".to_vec()]);
}

/// A b0x address derives from the recipient's identity (PROTOCOL.md §16.1): to a device
/// known only by its id, or whose card's document is not at the nodes yet, nothing is
/// posted, and nothing is committed; once the document is published, `send_online` fetches
/// it itself and the item goes sealed to the introduction address of bob's slot owner.
#[test]
fn a_device_known_only_by_its_id_is_refused_before_anything_is_committed() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut alice, _) = memory_wallet(100);
    alice.set_nodes(nodes.nodes()).unwrap();
    let (mut bob, _) = memory_wallet(0);
    bob.set_nodes(nodes.nodes()).unwrap();
    let t = dsm_wallet::token(dsm_wallet::DEFAULT_TOKEN);
    let b = bob.device_id();
    let unchanged = |alice: &Wallet| {
        assert_eq!(alice.balance(&t), Amount(100));
        assert!(alice.pending().unwrap().is_empty());
    };
    // Known by its id alone (an older card, or a bare id).
    let (v1, _) = Contact::from_card(&format!(
        "dsm-card:v1:bob:{}:{}",
        b.digest().to_hex(),
        &dsm_core::hash::tagged_hash(dsm_core::tags::Tag::ContactCard, &[b"bob", b.as_bytes()])
            .to_hex()[..8]
    ))
    .unwrap();
    alice.add_contact(&v1, false).unwrap();
    let err = send_online(&mut alice, &nodes, &b, t, Amount(10)).unwrap_err();
    assert!(
        err.to_string()
            .contains("this wallet does not know that device's identity, only its id"),
        "{err}"
    );
    unchanged(&alice);
    // bob's v2 card, before bob published the document it names.
    let card = ContactCard::parse(&bob.card("bob").unwrap()).unwrap().0;
    let (v2, _) = Contact::from_card(&card.to_text()).unwrap();
    alice.add_contact(&v2, true).unwrap();
    alice.expect_contact_document(&card).unwrap();
    let err = send_online(&mut alice, &nodes, &b, t, Amount(10)).unwrap_err();
    assert!(
        err.to_string()
            .contains("its identity document is not at the nodes yet"),
        "{err}"
    );
    unchanged(&alice);
    assert!(
        common::own_b0x(&mut bob, &nodes).is_empty(),
        "nothing posted"
    );
    // Published: the send fetches and checks it, and posts sealed.
    sync_documents(&mut bob, &nodes).unwrap();
    send_online(&mut alice, &nodes, &b, t, Amount(10)).unwrap();
    assert_eq!(alice.contact_kem_key(&b).unwrap(), Some(bob.kem_keys().0));
    let intro = at(&mut bob, &nodes, None);
    assert_eq!(intro.len(), 1);
    envelope(&bob, &intro[0]);
    let rb = sync(&mut bob, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
}

/// A b0x read names the reader's slot owner under its slot admission: the bytes a node
/// receives hold neither the device id nor the genesis (from which the node could compute
/// the device's first head and open its anchors, PROTOCOL.md §16.6).
#[test]
fn a_b0x_read_shows_the_node_neither_the_device_id_nor_the_genesis() {
    let (mut bob, _) = memory_wallet(0);
    let entries = vec![
        dsm_core::slot::B0xCursor {
            blind: None,
            cursor: 0,
        },
        dsm_core::slot::B0xCursor {
            blind: Some(Digest([9; 32])),
            cursor: 3,
        },
    ];
    for op in [
        dsm_core::slot::B0xOp::List,
        dsm_core::slot::B0xOp::Acknowledge,
    ] {
        let read = bob.b0x_read("127.0.0.1:7800", op, entries.clone()).unwrap();
        read.check("127.0.0.1:7800", op).unwrap();
        assert_eq!(read.scope.owner, bob.slot_owner());
        let bytes = read.to_bytes();
        for (what, secret) in [
            ("device id", bob.device_id().as_bytes().to_vec()),
            ("genesis", bob.identity().genesis.as_bytes().to_vec()),
        ] {
            assert!(
                !bytes.windows(32).any(|w| w == secret.as_slice()),
                "a read shows the {what}"
            );
        }
    }
}
