//! Owned slots (PROTOCOL.md §15.2): each refusal a node makes, pinned to its error, for
//! every admission kind.

use dsm_core::codec::{Canonical, DecodeError};
use dsm_core::crypto::{SecretSeed, Signature, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceIdentity, EntropyReveal, GenesisRecord};
use dsm_core::slot::{
    admit_authority, body_digest, device_slots_owner, genesis_blind, key_digest, keys_owner,
    parties_owner, recovery_owner, Admission, OwnedPut, SlotAuthError, SlotEntry, SlotWrite,
};
use dsm_core::tags::Tag;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([n; 32]))
}

fn record(device: &SigningKey, authority: Option<&SigningKey>) -> GenesisRecord {
    GenesisRecord {
        founding_key: device.public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: Digest([1; 32]),
            secret: [2; 32],
        }],
        recovery_authority: authority.map(|a| a.public_key().clone()),
    }
}

fn put(
    admission: Admission,
    signer: &SigningKey,
    owner: Digest,
    k: Digest,
    body: &[u8],
) -> OwnedPut {
    let entry = SlotEntry {
        owner,
        key: k,
        body: body_digest(body),
    };
    OwnedPut {
        write: SlotWrite::sign(admission, signer, vec![entry], &[9; 32]).unwrap(),
        body: body.to_vec(),
    }
}

/// `p` with its signer replaced by `k`, signing the same entries (what a thief or a
/// stranger can make of a write it saw).
fn resigned_by(p: &OwnedPut, k: &SigningKey) -> OwnedPut {
    let mut forged = p.clone();
    forged.write.signer = k.public_key().clone();
    forged.write.signature = k
        .sign(
            SlotWrite::message(&forged.write.entries).as_bytes(),
            &[0; 32],
        )
        .unwrap();
    forged
}

/// A signature by `signer` under `admission` for one slot `(owner, k)` holding `body`.
fn sign_one(
    admission: Admission,
    signer: &SigningKey,
    owner: Digest,
    k: Digest,
    body: &[u8],
) -> Result<SlotWrite, SlotAuthError> {
    let entry = SlotEntry {
        owner,
        key: k,
        body: body_digest(body),
    };
    SlotWrite::sign(admission, signer, vec![entry], &[0; 32])
}

fn slot_key(label: &str) -> Digest {
    tagged_hash(Tag::ParcelSlot, &[label.as_bytes()])
}

#[test]
fn a_device_key_writes_its_own_slots_and_no_other() {
    let (d, other) = (key(1), key(2));
    let g = record(&d, None).digest();
    let me = *DeviceIdentity {
        genesis: g,
        public_key: d.public_key().clone(),
    }
    .device_id()
    .digest();
    let p = put(
        Admission::Device { genesis: g },
        &d,
        me,
        slot_key("a"),
        b"body",
    );
    assert_eq!(p.check(&me, &slot_key("a")), Ok(()));
    // Round trip through the node's decoder.
    assert_eq!(OwnedPut::from_bytes(&p.to_bytes()).unwrap(), p);
    // Another slot, another body, another owner: not covered.
    assert_eq!(p.check(&me, &slot_key("b")), Err(SlotAuthError::NotCovered));
    let mut q = p.clone();
    q.body = b"other".to_vec();
    assert_eq!(q.check(&me, &slot_key("a")), Err(SlotAuthError::NotCovered));
    // A stranger's key claiming the device's owner: its own id is another owner, so the
    // signer refuses to sign it, and a hand-made write is refused by the check.
    assert_eq!(
        sign_one(
            Admission::Device { genesis: g },
            &other,
            me,
            slot_key("a"),
            b"body"
        ),
        Err(SlotAuthError::NotAdmitted)
    );
    assert_eq!(
        resigned_by(&p, &other).check(&me, &slot_key("a")),
        Err(SlotAuthError::NotAdmitted)
    );
    // A flipped signature byte.
    let mut bad = p.to_bytes();
    let n = bad.len() - 10;
    bad[n] ^= 1;
    let bad = OwnedPut::from_bytes(&bad).unwrap();
    assert_eq!(
        bad.check(&me, &slot_key("a")),
        Err(SlotAuthError::Signature)
    );
}

/// A device writes its own slots (anchors, parcel slots) under a device-slots admission
/// (kind 6): the node checks it from the genesis blind and the key, and nothing the write
/// carries shows the genesis or the device id (PROTOCOL.md §15.2, §16.6).
#[test]
fn a_device_writes_its_slots_without_showing_its_genesis_or_id() {
    let (d, other) = (key(21), key(22));
    let r = record(&d, None);
    let identity = DeviceIdentity {
        genesis: r.digest(),
        public_key: d.public_key().clone(),
    };
    let owner = device_slots_owner(&identity);
    let blind = genesis_blind(&identity.genesis);
    let admission = Admission::DeviceSlots {
        genesis_blind: blind,
    };
    let p = put(admission.clone(), &d, owner, slot_key("a"), b"sealed");
    assert_eq!(p.check(&owner, &slot_key("a")), Ok(()));
    assert_eq!(OwnedPut::from_bytes(&p.to_bytes()).unwrap(), p);
    let bytes = p.to_bytes();
    for secret in [identity.genesis.as_bytes(), identity.device_id().as_bytes()] {
        assert!(
            !bytes.windows(32).any(|w| w == secret.as_slice()),
            "the write shows the genesis or the device id"
        );
    }
    // Another key under the device's blind is another owner: refused from hashes alone.
    assert_eq!(
        sign_one(admission.clone(), &other, owner, slot_key("a"), b"sealed"),
        Err(SlotAuthError::NotAdmitted)
    );
    assert_eq!(
        resigned_by(&p, &other).check(&owner, &slot_key("a")),
        Err(SlotAuthError::NotAdmitted)
    );
    // The device's key under another genesis's blind is another owner too.
    let elsewhere = Admission::DeviceSlots {
        genesis_blind: genesis_blind(&record(&other, None).digest()),
    };
    assert_ne!(elsewhere.owners(d.public_key()).unwrap(), vec![owner]);
    // A device admission (kind 1) proves the device id, not the slot owner.
    assert_eq!(
        sign_one(
            Admission::Device {
                genesis: identity.genesis
            },
            &d,
            owner,
            slot_key("a"),
            b"sealed"
        ),
        Err(SlotAuthError::NotAdmitted)
    );
}

#[test]
fn only_the_recovery_authority_writes_recovery_slots_and_it_may_write_its_devices_slots() {
    let (d, auth, thief_other) = (key(3), key(4), key(5));
    let r = record(&d, Some(&auth));
    let g = r.digest();
    let identity = DeviceIdentity {
        genesis: g,
        public_key: d.public_key().clone(),
    };
    // The device's own slots are owned by its slot owner (§15.2), never its device id.
    let device = device_slots_owner(&identity);
    let tomb = recovery_owner(&g, auth.public_key());
    // The device admitted its authority at its creation (deterministically).
    let admitted = admit_authority(&d, &identity, auth.public_key()).unwrap();
    assert_eq!(
        admit_authority(&d, &identity, auth.public_key()).unwrap(),
        admitted
    );
    // Kind 2 naming device d, with `signer`'s admission of `authority` to d's slots.
    let naming_d = |signer: &SigningKey, authority: &SigningKey| Admission::Authority {
        genesis_blind: genesis_blind(&g),
        device: Some((
            d.public_key().clone(),
            admit_authority(signer, &identity, authority.public_key()).unwrap(),
        )),
    };
    // The authority writes the recovery owner's slots, and the device's when it shows the
    // device's admission — from the genesis blind, never the genesis or its record.
    let admission = naming_d(&d, &auth);
    assert_eq!(
        Admission::from_bytes(&admission.to_bytes()).unwrap(),
        admission
    );
    let shows = |needle: &[u8]| {
        let b = admission.to_bytes();
        b.windows(needle.len()).any(|w| w == needle)
    };
    assert!(!shows(g.as_bytes()) && !shows(&r.to_bytes()[..40]));
    let p = put(admission.clone(), &auth, tomb, slot_key("t"), b"tombstone");
    assert_eq!(p.check(&tomb, &slot_key("t")), Ok(()));
    let q = put(admission.clone(), &auth, device, slot_key("p"), b"claim");
    assert_eq!(q.check(&device, &slot_key("p")), Ok(()));
    // Without a device, only the recovery owner.
    let bare = Admission::Authority {
        genesis_blind: genesis_blind(&g),
        device: None,
    };
    assert_eq!(bare.owners(auth.public_key()).unwrap(), vec![tomb]);
    // The device key (a thief holding it) cannot write the recovery owner's slot.
    let entry = SlotEntry {
        owner: tomb,
        key: slot_key("t"),
        body: body_digest(b"junk"),
    };
    assert_eq!(
        SlotWrite::sign(
            Admission::DeviceSlots {
                genesis_blind: genesis_blind(&g)
            },
            &d,
            vec![entry],
            &[0; 32]
        ),
        Err(SlotAuthError::NotAdmitted)
    );
    let mut stolen = p.clone();
    stolen.write.admission = Admission::Device { genesis: g };
    stolen.write.signer = d.public_key().clone();
    stolen.write.signature = d
        .sign(
            SlotWrite::message(&stolen.write.entries).as_bytes(),
            &[0; 32],
        )
        .unwrap();
    assert_eq!(
        stolen.check(&tomb, &slot_key("t")),
        Err(SlotAuthError::NotAdmitted)
    );
    // Nor can it by signing as an "authority" of its own: that key's recovery owner is
    // another slot, which no reader computes.
    let own = naming_d(&d, &thief_other);
    assert_eq!(
        sign_one(own.clone(), &thief_other, tomb, slot_key("t"), b"junk"),
        Err(SlotAuthError::NotAdmitted)
    );
    assert_eq!(
        own.owners(thief_other.public_key()).unwrap(),
        vec![recovery_owner(&g, thief_other.public_key()), device]
    );
    // Another key presenting the device's admission of the real authority.
    assert_eq!(
        admission.owners(thief_other.public_key()),
        Err(SlotAuthError::NotTheAuthority)
    );
    // An admission the device did not sign.
    let forged = naming_d(&thief_other, &auth);
    assert_eq!(
        forged.owners(auth.public_key()),
        Err(SlotAuthError::NotTheAuthority)
    );
}

#[test]
fn a_key_list_admits_exactly_its_keys() {
    let (a, b, c) = (key(6), key(7), key(8));
    let mut admitted = vec![key_digest(a.public_key()), key_digest(b.public_key())];
    admitted.sort();
    let owner = keys_owner(&admitted);
    let admission = Admission::Keys {
        admitted: admitted.clone(),
    };
    for signer in [&a, &b] {
        let p = put(admission.clone(), signer, owner, slot_key("m"), b"mint");
        assert_eq!(p.check(&owner, &slot_key("m")), Ok(()));
    }
    assert_eq!(
        admission.owners(c.public_key()),
        Err(SlotAuthError::NotAdmitted)
    );
    // Another list is another owner.
    let p = put(admission, &a, owner, slot_key("m"), b"mint");
    assert_ne!(keys_owner(&admitted[..1]), owner);
    assert_eq!(
        p.check(&keys_owner(&admitted[..1]), &slot_key("m")),
        Err(SlotAuthError::NotCovered)
    );
}

#[test]
fn a_parties_owner_admits_a_key_of_each_listed_device_and_nothing_else() {
    // A vault's two parties, each known by its slot owner: a write shows the node its
    // genesis blind and key, never its genesis or device id (PROTOCOL.md §15.2 kind 5).
    let (a, b, c) = (key(11), key(12), key(13));
    let ga = record(&a, None).digest();
    let gb = record(&b, None).digest();
    let slots = |g, k: &SigningKey| {
        device_slots_owner(&DeviceIdentity {
            genesis: g,
            public_key: k.public_key().clone(),
        })
    };
    let mut parties = vec![slots(ga, &a), slots(gb, &b)];
    parties.sort();
    let owner = parties_owner(&parties);
    let of = |g| Admission::Parties {
        genesis_blind: genesis_blind(&g),
        parties: parties.clone(),
    };
    for (g, signer) in [(ga, &a), (gb, &b)] {
        let p = put(of(g), signer, owner, slot_key("v"), b"resolution");
        assert_eq!(p.check(&owner, &slot_key("v")), Ok(()));
        let shows = |needle: &[u8]| {
            let bytes = p.to_bytes();
            bytes.windows(needle.len()).any(|w| w == needle)
        };
        assert!(!shows(g.as_bytes()));
        for k in [&a, &b] {
            for g in [ga, gb] {
                let id = DeviceIdentity {
                    genesis: g,
                    public_key: k.public_key().clone(),
                }
                .device_id();
                assert!(!shows(id.as_bytes()));
            }
        }
    }
    // A third key, under either genesis's blind or its own, is no party.
    for g in [ga, gb, record(&c, None).digest()] {
        assert_eq!(
            of(g).owners(c.public_key()),
            Err(SlotAuthError::NotAdmitted)
        );
    }
    // A party's key under another genesis's blind is another device.
    assert_eq!(
        of(gb).owners(a.public_key()),
        Err(SlotAuthError::NotAdmitted)
    );
    // A device id where a slot owner belongs admits nobody.
    let by_id = Admission::Parties {
        genesis_blind: genesis_blind(&ga),
        parties: vec![
            DeviceIdentity {
                genesis: ga,
                public_key: a.public_key().clone(),
            }
            .device_id()
            .0,
        ],
    };
    assert_eq!(
        by_id.owners(a.public_key()),
        Err(SlotAuthError::NotAdmitted)
    );
    // Listing itself makes another owner, which does not cover the vault's slot.
    let gc = record(&c, None).digest();
    let alone = vec![slots(gc, &c)];
    let p = put(
        Admission::Parties {
            genesis_blind: genesis_blind(&gc),
            parties: alone.clone(),
        },
        &c,
        parties_owner(&alone),
        slot_key("v"),
        b"resolution",
    );
    assert_eq!(
        p.check(&owner, &slot_key("v")),
        Err(SlotAuthError::NotCovered)
    );
    // The list is strict: ascending, each once.
    let mut reversed = parties.clone();
    reversed.reverse();
    assert!(matches!(
        Admission::from_bytes(
            &Admission::Parties {
                genesis_blind: genesis_blind(&ga),
                parties: reversed,
            }
            .to_bytes()
        ),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn one_signature_covers_several_slots_and_the_encoding_is_strict() {
    let d = key(9);
    let g = record(&d, None).digest();
    let me = *DeviceIdentity {
        genesis: g,
        public_key: d.public_key().clone(),
    }
    .device_id()
    .digest();
    let entries: Vec<SlotEntry> = ["a", "b", "c"]
        .iter()
        .map(|k| SlotEntry {
            owner: me,
            key: slot_key(k),
            body: body_digest(b"statement"),
        })
        .collect();
    let w = SlotWrite::sign(Admission::Device { genesis: g }, &d, entries, &[1; 32]).unwrap();
    for k in ["a", "b", "c"] {
        assert_eq!(w.check(&me, &slot_key(k), b"statement"), Ok(()));
    }
    assert_eq!(
        SlotWrite::sign(Admission::Device { genesis: g }, &d, vec![], &[1; 32]),
        Err(SlotAuthError::Entries)
    );
    // Entries out of order are not canonical.
    let mut swapped = w.clone();
    swapped.entries.swap(0, 1);
    assert!(matches!(
        SlotWrite::from_bytes(&swapped.to_bytes()),
        Err(DecodeError::Invalid(_))
    ));
    // Unknown admission kinds and unsorted key lists are refused.
    let mut keys = vec![key_digest(d.public_key()), Digest([0; 32])];
    keys.sort();
    keys.reverse();
    assert!(matches!(
        Admission::from_bytes(&Admission::Keys { admitted: keys }.to_bytes()),
        Err(DecodeError::Invalid(_))
    ));
    let mut bytes = Admission::Device { genesis: g }.to_bytes();
    bytes[1] = 9;
    assert_eq!(
        format!("{:?}", Admission::from_bytes(&bytes).unwrap_err()),
        "Invalid(\"unknown admission kind\")"
    );
}

#[test]
fn a_successor_writes_the_lost_devices_slots_only_with_the_authoritys_delegation() {
    use dsm_core::slot::delegation_message;
    let (lost, auth, successor, other) = (key(10), key(11), key(12), key(13));
    let r = record(&lost, Some(&auth));
    let identity = DeviceIdentity {
        genesis: r.digest(),
        public_key: lost.public_key().clone(),
    };
    let device = device_slots_owner(&identity);
    // `k`'s delegation of the lost device's slots to the successor.
    let delegated_by = |k: &SigningKey| {
        k.sign(
            delegation_message(&device, successor.public_key()).as_bytes(),
            &[0; 32],
        )
        .unwrap()
    };
    let delegation = delegated_by(&auth);
    let admitted = admit_authority(&lost, &identity, auth.public_key()).unwrap();
    let successor_of = |admission: Signature, authority: &SigningKey, delegation: Signature| {
        Admission::Successor {
            genesis_blind: genesis_blind(&r.digest()),
            device: lost.public_key().clone(),
            admission,
            authority: authority.public_key().clone(),
            delegation,
        }
    };
    let admission = successor_of(admitted.clone(), &auth, delegation.clone());
    assert_eq!(
        Admission::from_bytes(&admission.to_bytes()).unwrap(),
        admission
    );
    let p = put(
        admission.clone(),
        &successor,
        device,
        slot_key("p"),
        b"claim",
    );
    assert_eq!(p.check(&device, &slot_key("p")), Ok(()));
    // Another key presenting the successor's delegation.
    assert_eq!(
        admission.owners(other.public_key()),
        Err(SlotAuthError::Delegation)
    );
    // A delegation signed by someone other than the authority.
    let forged = successor_of(admitted.clone(), &auth, delegated_by(&other));
    assert_eq!(
        forged.owners(successor.public_key()),
        Err(SlotAuthError::Delegation)
    );
    // An "authority" the lost device never admitted, delegating to the successor.
    let self_made = successor_of(admitted.clone(), &other, delegated_by(&other));
    assert_eq!(
        self_made.owners(successor.public_key()),
        Err(SlotAuthError::NotTheAuthority)
    );
    // It proves only the lost device's slots owner, never the recovery owner — and a write
    // for another owner is refused from hashes alone, before any signature is checked (a
    // junk delegation reports NotAdmitted there, not Delegation).
    assert_eq!(
        admission.owners(successor.public_key()).unwrap(),
        vec![device]
    );
    let mut junk = put(
        admission.clone(),
        &successor,
        device,
        slot_key("p"),
        b"claim",
    );
    if let Admission::Successor { delegation, .. } = &mut junk.write.admission {
        *delegation = other.sign(b"junk", &[0; 32]).unwrap();
    }
    let tomb = recovery_owner(&r.digest(), auth.public_key());
    junk.write.entries[0].owner = tomb;
    assert_eq!(
        junk.write.check(&tomb, &slot_key("p"), b"claim"),
        Err(SlotAuthError::NotAdmitted)
    );
}

/// What an anchor slot holds (PROTOCOL.md §2 "Sealed at the nodes", §16.2): the plaintext
/// sealed under the parent head, opened only under that head and only in its one canonical
/// form — the same plaintext sealed with any other nonce is refused, so a sealed body has
/// exactly one encoding.
#[test]
fn an_anchor_body_opens_only_under_its_parent_and_in_its_canonical_form() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
    use dsm_core::chain::HeadDigest;
    use dsm_core::slot::{open_anchor_body, seal_anchor_body};
    let parent = HeadDigest(Digest([1; 32]));
    let sealed = seal_anchor_body(&parent, b"statement");
    assert_eq!(
        seal_anchor_body(&parent, b"statement"),
        sealed,
        "deterministic"
    );
    assert_eq!(sealed.len(), b"statement".len() + dsm_core::seal::OVERHEAD);
    assert_eq!(
        open_anchor_body(&parent, &sealed).as_deref(),
        Some(&b"statement"[..])
    );
    assert_eq!(
        open_anchor_body(&HeadDigest(Digest([2; 32])), &sealed),
        None
    );
    assert_eq!(open_anchor_body(&parent, b"statement"), None);
    assert_eq!(open_anchor_body(&parent, &sealed[..39]), None);
    let mut flipped = sealed.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(open_anchor_body(&parent, &flipped), None);
    // The same plaintext under the right key but another nonce: authentic, not canonical.
    let key = tagged_hash(Tag::AnchorSeal, &[parent.as_bytes()]);
    let nonce = [7u8; 24];
    let ct = XChaCha20Poly1305::new(&Key::from(key.0))
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: b"statement",
                aad: parent.as_bytes(),
            },
        )
        .unwrap();
    let other = [&nonce[..], &ct].concat();
    assert_eq!(open_anchor_body(&parent, &other), None);
}
