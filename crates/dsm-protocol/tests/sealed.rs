//! Sealed b0x items (PROTOCOL.md §16.1): the vector, round trip, and refusal of an item
//! opened as another recipient, with another key, or damaged.

use dsm_core::codec::Canonical;
use dsm_core::crypto::KemSecretKey;
use dsm_core::hash::{object_address, Digest};
use dsm_core::identity::DeviceId;
use dsm_protocol::mailbox::{open_item, seal_item, SealError, SealedItem};

#[test]
fn a_sealed_item_opens_only_for_its_recipient_and_matches_its_vector() {
    let (pk, sk) = KemSecretKey::from_seeds(&[9; 32], &[9; 32]);
    let bob = DeviceId(Digest([7; 32]));
    let sealed = seal_item(&pk, &bob, b"hello", &[0x0a; 32], [0x0b; 24]).unwrap();
    // The vector (PROTOCOL.md §16.1): KEM seeds 09.., recipient 07.., item "hello",
    // encapsulation randomness 0a.., nonce 0b...
    assert_eq!(
        object_address(&sealed).to_hex(),
        "8233a01d4cbf5e3b1384f00a0adf7be7fdc63b16806900a421de7653920ec671",
        "sealed item vector"
    );
    let item = SealedItem::from_bytes(&sealed).unwrap();
    assert_eq!(open_item(&sk, &bob, &item).unwrap(), b"hello");
    // Another recipient id, another key, a flipped byte anywhere: refused.
    assert_eq!(
        open_item(&sk, &DeviceId(Digest([8; 32])), &item),
        Err(SealError::Open)
    );
    let (_, other) = KemSecretKey::from_seeds(&[1; 32], &[1; 32]);
    assert_eq!(open_item(&other, &bob, &item), Err(SealError::Open));
    let mut refused = 0;
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x20;
        match SealedItem::from_bytes(&bad) {
            Err(_) => refused += 1,
            Ok(b) => {
                assert_eq!(open_item(&sk, &bob, &b), Err(SealError::Open), "byte {i}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, sealed.len());
    // Too large to seal.
    assert_eq!(
        seal_item(
            &pk,
            &bob,
            &vec![0; dsm_protocol::mailbox::MAX_SEALED_PLAINTEXT + 1],
            &[0; 32],
            [0; 24]
        ),
        Err(SealError::TooLarge)
    );
}

/// An envelope (PROTOCOL.md §16.1) round trips through sealing; an item over the envelope's
/// cap is refused before it is sealed (its recipient could not decode it), and a sealed
/// plaintext that is not an envelope is refused on opening.
#[test]
fn an_envelope_seals_within_its_cap_and_opens_only_as_an_envelope() {
    use dsm_protocol::mailbox::{open_envelope, seal_envelope, Envelope, MAX_ENVELOPE_ITEM};
    let (pk, sk) = KemSecretKey::from_seeds(&[9; 32], &[9; 32]);
    let bob = DeviceId(Digest([7; 32]));
    let envelope = Envelope {
        item: vec![5; MAX_ENVELOPE_ITEM],
        reply_to: None,
    };
    let sealed = seal_envelope(&pk, &bob, &envelope, &[1; 32], [2; 24]).unwrap();
    let opened = open_envelope(&sk, &bob, &SealedItem::from_bytes(&sealed).unwrap()).unwrap();
    assert_eq!(opened, envelope);
    let over = Envelope {
        item: vec![5; MAX_ENVELOPE_ITEM + 1],
        reply_to: None,
    };
    assert_eq!(
        seal_envelope(&pk, &bob, &over, &[1; 32], [2; 24]),
        Err(SealError::TooLarge)
    );
    // Sealed by hand, such an envelope does not decode at its recipient.
    let by_hand = seal_item(&pk, &bob, &over.to_bytes(), &[1; 32], [2; 24]).unwrap();
    assert_eq!(
        open_envelope(&sk, &bob, &SealedItem::from_bytes(&by_hand).unwrap()),
        Err(SealError::NotAnEnvelope)
    );
    let plain = seal_item(&pk, &bob, b"hello", &[1; 32], [2; 24]).unwrap();
    assert_eq!(
        open_envelope(&sk, &bob, &SealedItem::from_bytes(&plain).unwrap()),
        Err(SealError::NotAnEnvelope)
    );
}
