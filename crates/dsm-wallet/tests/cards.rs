//! Identity documents behind v2 contact cards (PROTOCOL.md §12.6), against a real cluster
//! of 6 storage nodes: a device publishes its sealed document at a sync; a contact that
//! added its card fetches it, checks it against the card's device id and keeps the signed
//! ML-KEM key; a card naming another device's document, or a document signed by another
//! key, is refused; the nodes store only sealed bytes.

mod common;

use common::cluster::Cluster;
use common::memory_wallet;
use dsm_core::hash::object_address;
use dsm_protocol::card::{ContactCard, ContactDocument};
use dsm_wallet::online::sync_documents;
use dsm_wallet::{Contact, Wallet};

fn add(w: &mut Wallet, card: &ContactCard) {
    let (c, _) = Contact::from_card(&card.to_text()).unwrap();
    w.add_contact(&c, true).unwrap();
    w.expect_contact_document(card).unwrap();
}

#[test]
fn a_contact_fetches_checks_and_keeps_the_signed_kem_key_its_card_names() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let card = ContactCard::parse(&alice.card("alice").unwrap()).unwrap().0;
    assert_eq!(
        card.document,
        Some(object_address(alice.sealed_document().unwrap()))
    );
    add(&mut bob, &card);
    // Not published yet: bob's sync finds nothing and keeps asking.
    let d = sync_documents(&mut bob, &nodes).unwrap();
    assert!(d.fetched.is_empty() && d.refused.is_empty(), "{d:?}");
    assert_eq!(bob.contact_documents_missing().unwrap().len(), 1);
    // alice publishes once.
    assert!(sync_documents(&mut alice, &nodes).unwrap().published);
    assert!(!sync_documents(&mut alice, &nodes).unwrap().published);
    let d = sync_documents(&mut bob, &nodes).unwrap();
    assert_eq!(d.fetched, vec!["alice".to_string()]);
    assert_eq!(
        bob.contact_kem_key(&alice.device_id()).unwrap(),
        Some(alice.kem_keys().0)
    );
    assert!(bob.contact_documents_missing().unwrap().is_empty());
    // The nodes hold the document sealed: neither the device id nor the KEM key appears.
    let sealed = alice.sealed_document().unwrap();
    assert!(!contains(sealed, alice.device_id().as_bytes()));
    assert!(!contains(sealed, alice.kem_keys().0.as_bytes()));
}

#[test]
fn a_card_naming_a_document_not_its_devices_is_refused() {
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut alice, _) = memory_wallet(0);
    let (mut mallory, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    sync_documents(&mut mallory, &nodes).unwrap();
    // A card with alice's device id and mallory's document.
    let card = ContactCard {
        name: "alice".into(),
        device: alice.device_id(),
        document: Some(object_address(mallory.sealed_document().unwrap())),
    };
    add(&mut bob, &card);
    let d = sync_documents(&mut bob, &nodes).unwrap();
    assert!(d.fetched.is_empty());
    assert_eq!(d.refused.len(), 1, "{d:?}");
    assert!(
        d.refused[0]
            .1
            .contains("not the one this card names, or is damaged"),
        "{d:?}"
    );
    // A document with alice's identity and a KEM key mallory signed, sealed and put at the
    // nodes (anyone may put an object): forged.
    let identity = ContactDocument::open(
        &ContactCard::parse(&alice.card("a").unwrap()).unwrap().0,
        alice.sealed_document().unwrap(),
    )
    .unwrap()
    .device;
    let kem = mallory.kem_keys().0;
    let mallory_doc = ContactDocument::open(
        &ContactCard::parse(&mallory.card("m").unwrap()).unwrap().0,
        mallory.sealed_document().unwrap(),
    )
    .unwrap();
    let forged = ContactDocument {
        device: identity.clone(),
        kem_key: kem,
        signature: mallory_doc.signature,
    }
    .seal();
    nodes.put_object(&forged).unwrap();
    let card = ContactCard {
        name: "alice".into(),
        device: alice.device_id(),
        document: Some(object_address(&forged)),
    };
    let (mut carol, _) = memory_wallet(0);
    add(&mut carol, &card);
    let d = sync_documents(&mut carol, &nodes).unwrap();
    assert_eq!(d.refused.len(), 1, "{d:?}");
    assert!(
        d.refused[0]
            .1
            .contains("does not belong to the card's device"),
        "{d:?}"
    );
    assert_eq!(carol.contact_kem_key(&alice.device_id()).unwrap(), None);
    // alice's real card still works for carol once alice published.
    sync_documents(&mut alice, &nodes).unwrap();
    add(
        &mut carol,
        &ContactCard::parse(&alice.card("alice").unwrap()).unwrap().0,
    );
    let d = sync_documents(&mut carol, &nodes).unwrap();
    assert_eq!(d.fetched, vec!["alice".to_string()]);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// With a recovery phrase, a device's KEM key is derived from its generation's capsule key:
/// the phrase alone re-derives it (what was encrypted to a lost device stays readable by
/// whoever holds the phrase); a successor, a new generation, has another.
#[test]
fn the_phrase_re_derives_a_devices_kem_key() {
    use dsm_core::hash::tagged_hash;
    use dsm_core::tags::Tag;
    let keys = common::recovery_keys(5);
    let w = common::recoverable(&keys, 0);
    let from_phrase = |g: u64| {
        let s = *keys.generation(g).secret_bytes();
        dsm_core::crypto::KemSecretKey::from_seeds(
            &tagged_hash(Tag::DeviceKemSeed, &[b"d", &s]).0,
            &tagged_hash(Tag::DeviceKemSeed, &[b"z", &s]).0,
        )
        .0
    };
    assert_eq!(w.kem_keys().0, from_phrase(0));
    assert_ne!(w.kem_keys().0, from_phrase(1));
    // Without a phrase, from the device key: two devices, two keys.
    let (a, _) = memory_wallet(0);
    let (b, _) = memory_wallet(0);
    assert_ne!(a.kem_keys().0, b.kem_keys().0);
}

/// Between devices that hold each other's identity documents, every b0x item is sealed
/// (PROTOCOL.md §16.3): the node stores neither device id, the token or the amount in
/// clear, and the transfer completes as before. An item sealed to another device is
/// dropped with its reason.
#[test]
fn b0x_items_between_devices_with_documents_are_sealed() {
    use dsm_core::chain::Amount;
    use dsm_core::codec::Canonical;
    use dsm_wallet::online::{send_online, sync};
    let c = Cluster::new();
    let nodes = c.nodes();
    let (mut alice, _) = memory_wallet(100);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, _) = memory_wallet(0);
    for w in [&mut alice, &mut bob, &mut carol] {
        w.set_nodes(nodes.nodes()).unwrap();
        sync_documents(w, &nodes).unwrap();
    }
    let alice_card = ContactCard::parse(&alice.card("alice").unwrap()).unwrap().0;
    let bob_card = ContactCard::parse(&bob.card("bob").unwrap()).unwrap().0;
    add(&mut alice, &bob_card);
    add(&mut bob, &alice_card);
    sync_documents(&mut alice, &nodes).unwrap();
    sync_documents(&mut bob, &nodes).unwrap();
    let token = dsm_wallet::token(dsm_wallet::DEFAULT_TOKEN);
    common::introduce(&mut alice, &bob);
    send_online(&mut alice, &nodes, &bob.device_id(), token, Amount(37)).unwrap();
    let items = common::own_b0x(&mut bob, &nodes);
    assert!(!items.is_empty());
    // Unanswered, it is posted again at alice's sync: sealed to the same bytes (its
    // randomness derives from alice's secret and the item), so the nodes keep one copy.
    sync(&mut alice, &nodes).unwrap();
    assert_eq!(
        common::own_b0x(&mut bob, &nodes),
        items,
        "a re-post of a sealed item is the same bytes"
    );
    for item in &items {
        assert!(
            dsm_protocol::mailbox::SealedItem::from_bytes(&item.bytes).is_ok(),
            "an item in clear"
        );
        assert!(!contains(&item.bytes, alice.device_id().as_bytes()));
        assert!(!contains(&item.bytes, bob.device_id().as_bytes()));
        assert!(!contains(&item.bytes, token.as_bytes()));
    }
    let rb = sync(&mut bob, &nodes).unwrap();
    assert_eq!(rb.received.len(), 1, "{rb:?}");
    assert_eq!(common::dev(&bob), 37);
    // bob's acceptance went to alice sealed too.
    let items = common::own_b0x(&mut alice, &nodes);
    assert!(items
        .iter()
        .all(|i| dsm_protocol::mailbox::SealedItem::from_bytes(&i.bytes).is_ok()));
    let ra = sync(&mut alice, &nodes).unwrap();
    assert_eq!(ra.stitched.len(), 1, "{ra:?}");
    // An item sealed to alice, posted to carol's b0x: carol cannot open it and drops it.
    let sealed_to_alice = items[0].bytes.clone();
    nodes
        .b0x_post(&carol.introduction_address(), &sealed_to_alice)
        .unwrap();
    let rc = sync(&mut carol, &nodes).unwrap();
    assert!(
        rc.dropped
            .iter()
            .any(|d| d.contains("sealed to another key or recipient")),
        "{rc:?}"
    );
}

/// The backup carries a contact's document address (PROTOCOL.md §20.2): a successor fetches
/// that contact's identity document again and seals its succession notice to it; the
/// contact acknowledges, keeps the successor's document and seals its answer.
#[test]
fn a_successor_seals_its_notices_to_contacts_whose_cards_named_a_document() {
    use dsm_core::codec::Canonical;
    use dsm_wallet::online::sync;
    let c = Cluster::new();
    let nodes = c.nodes();
    let keys = common::recovery_keys(44);
    let mut a = common::recoverable(&keys, 100);
    let (mut b, _) = memory_wallet(0);
    for w in [&mut a, &mut b] {
        w.set_nodes(nodes.nodes()).unwrap();
        w.set_replication(nodes.params()).unwrap();
    }
    sync_documents(&mut b, &nodes).unwrap();
    add(
        &mut a,
        &ContactCard::parse(&b.card("bob").unwrap()).unwrap().0,
    );
    common::session(&mut a, &mut b, &[10]);
    sync(&mut a, &nodes).unwrap();
    drop(a);
    let (mut a2, _) = dsm_wallet::wallet::recovery::recover(
        Box::new(dsm_wallet::store::MemoryStore::new()),
        &keys,
        &nodes,
        &common::RECOVER_OPTS,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        a2.contact_kem_key(&b.device_id()).unwrap(),
        Some(b.kem_keys().0)
    );
    let items = common::own_b0x(&mut b, &nodes);
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|i| dsm_protocol::mailbox::SealedItem::from_bytes(&i.bytes).is_ok()),
        "every notice to bob is sealed"
    );
    let rb = sync(&mut b, &nodes).unwrap();
    assert_eq!(rb.successions.len(), 1, "{rb:?}");
    assert_eq!(
        b.contact_kem_key(&a2.device_id()).unwrap(),
        Some(a2.kem_keys().0)
    );
    let items = common::own_b0x(&mut a2, &nodes);
    assert!(items
        .iter()
        .all(|i| dsm_protocol::mailbox::SealedItem::from_bytes(&i.bytes).is_ok()));
    sync(&mut a2, &nodes).unwrap();
    let (rs, _) = common::session(&mut a2, &mut b, &[5]);
    assert_eq!(rs.completed.len(), 1, "{rs:?}");
}
