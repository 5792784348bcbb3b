//! Contact cards (PROTOCOL.md §12.6): the text a device hands to the devices it will trade
//! with, by message, paper or QR code, carrying its name, its device id and a commitment to
//! its signed identity document.
//!
//! `dsm-card:v2:NAME:DEVICE:DOCUMENT:CHECK`: DEVICE is the 64-hex-digit device id, DOCUMENT
//! the 64-hex-digit object address of the device's sealed [`ContactDocument`] (its
//! ML-KEM-768 key, signed by its device key), and CHECK the first 4 bytes (8 hex digits) of
//! `H(ContactCard, NAME, device id, document address)`. The check catches a mistyped or
//! damaged card; it is no authentication: whoever writes a card can compute its check, so
//! a card is only as good as the channel it came through. The document is checked against
//! the card's device id wherever it is read ([`ContactDocument::open`]), so the card's
//! short commitment carries the signed KEM key without carrying its 6 KiB. The earlier
//! forms `dsm-card:v1:NAME:DEVICE:CHECK` (no document) and `dsm-contact:DEVICE:NAME` (no
//! check) are still read.

use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{KemPublicKey, Signature, SigningKey};
use dsm_core::hash::{object_address, tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::tags::Tag;
use thiserror::Error;

/// The prefix of a card with a document commitment.
pub const CARD_PREFIX: &str = "dsm-card:v2:";
/// The prefix of a checksummed card without one, still read.
pub const V1_CARD_PREFIX: &str = "dsm-card:v1:";
/// The prefix of the old card form (no checksum), still read.
pub const LEGACY_CARD_PREFIX: &str = "dsm-contact:";

/// A contact card: a device's name and id, and (v2) the address of its sealed
/// [`ContactDocument`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactCard {
    /// The name its device gave itself (checked by [`check_name`]).
    pub name: String,
    /// The device id.
    pub device: DeviceId,
    /// The object address of the device's sealed [`ContactDocument`]; `None` in a card of
    /// an earlier form.
    pub document: Option<Digest>,
}

/// Why a text is not a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardError {
    /// No card form.
    #[error("not a contact card: a card looks like dsm-card:v2:NAME:<64 hex digits>:<64 hex digits>:<8 hex digits> (`dsm card` on the other device prints it)")]
    NotACard,
    /// The name breaks [`check_name`].
    #[error("{0:?} is not a usable name: use 1–64 letters, digits, '-', '_' or '.'")]
    Name(String),
    /// The device id is not 64 hex digits.
    #[error("the card's device id is not 64 hex digits")]
    Device,
    /// The check digits do not match: the card was mistyped or damaged.
    #[error("the card's check digits do not match its name and device id: it was mistyped or damaged; ask for the card again")]
    Checksum,
    /// The document's address is not 64 hex digits.
    #[error("the card's document address is not 64 hex digits")]
    DocumentAddress,
    /// The sealed document is not the one the card names, does not open under the card's
    /// device id, or is not a canonical document.
    #[error("the identity document is not the one this card names, or is damaged")]
    DocumentSeal,
    /// The document opened but is not the card's device's, or its signature fails.
    #[error("the identity document does not belong to the card's device (wrong device or bad signature): refuse this card")]
    DocumentForged,
}

/// Checks a device's or contact's name: 1–64 bytes of UTF-8, each character a letter, a
/// digit, '-', '_' or '.' (no ':', which separates a card's fields, and no spaces).
pub fn check_name(name: &str) -> Result<(), CardError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CardError::Name(name.to_string()))
    }
}

impl ContactCard {
    /// The check: the first 4 bytes of `H(ContactCard, name, device id)` (v1) or
    /// `H(ContactCard, name, device id, document address)` (v2), as hex.
    fn check(&self) -> String {
        let d = match &self.document {
            Some(doc) => tagged_hash(
                Tag::ContactCard,
                &[self.name.as_bytes(), self.device.as_bytes(), doc.as_bytes()],
            ),
            None => tagged_hash(
                Tag::ContactCard,
                &[self.name.as_bytes(), self.device.as_bytes()],
            ),
        };
        d.to_hex()[..8].to_string()
    }

    /// The card's text (lowercase hex): v2 with a document, else v1.
    pub fn to_text(&self) -> String {
        match &self.document {
            Some(doc) => format!(
                "{CARD_PREFIX}{}:{}:{}:{}",
                self.name,
                self.device.digest().to_hex(),
                doc.to_hex(),
                self.check()
            ),
            None => format!(
                "{V1_CARD_PREFIX}{}:{}:{}",
                self.name,
                self.device.digest().to_hex(),
                self.check()
            ),
        }
    }

    /// Reads a card in any form (surrounding whitespace ignored; hex in either case).
    /// Returns the card and whether it was the old form, which has no check digits.
    pub fn parse(text: &str) -> Result<(ContactCard, bool), CardError> {
        let text = text.trim();
        let checked = |card: ContactCard, check: &str| {
            if check.len() != 8 || !check.eq_ignore_ascii_case(&card.check()) {
                return Err(CardError::Checksum);
            }
            Ok((card, false))
        };
        if let Some(rest) = text.strip_prefix(CARD_PREFIX) {
            let mut fields = rest.split(':');
            let (Some(name), Some(device), Some(doc), Some(check), None) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                return Err(CardError::NotACard);
            };
            check_name(name)?;
            let card = ContactCard {
                name: name.to_string(),
                device: device_id(device)?,
                document: Some(hex32(doc).ok_or(CardError::DocumentAddress)?),
            };
            return checked(card, check);
        }
        if let Some(rest) = text.strip_prefix(V1_CARD_PREFIX) {
            let mut fields = rest.split(':');
            let (Some(name), Some(device), Some(check), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(CardError::NotACard);
            };
            check_name(name)?;
            let card = ContactCard {
                name: name.to_string(),
                device: device_id(device)?,
                document: None,
            };
            return checked(card, check);
        }
        if let Some(rest) = text.strip_prefix(LEGACY_CARD_PREFIX) {
            let (device, name) = rest.split_once(':').ok_or(CardError::NotACard)?;
            check_name(name)?;
            return Ok((
                ContactCard {
                    name: name.to_string(),
                    device: device_id(device)?,
                    document: None,
                },
                true,
            ));
        }
        Err(CardError::NotACard)
    }
}

/// A device's identity document (PROTOCOL.md §12.6): its identity and its ML-KEM-768 key,
/// signed by its device key over `H(ContactDocument, device id, KEM key)`. What a sender
/// needs, beyond the device id, to encrypt to the device. The card commits to it by the
/// address of its sealed form ([`ContactDocument::seal`]); it is stored at the storage
/// nodes sealed, so a node without the card reads nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactDocument {
    /// The device's identity (its id is derived from it).
    pub device: DeviceIdentity,
    /// Its ML-KEM-768 encapsulation key.
    pub kem_key: KemPublicKey,
    /// The device key's signature over [`ContactDocument::signed_digest`].
    pub signature: Signature,
}

/// The largest sealed document: nonce, tag and a document with an SLH-DSA signature.
pub const MAX_SEALED_DOCUMENT_LEN: usize = 24 + 16 + 4200 + 1300 + 20_000;

impl ContactDocument {
    /// `H(ContactDocument, device id, KEM key)`: what the device key signs.
    pub fn signed_digest(device: &DeviceId, kem_key: &KemPublicKey) -> Digest {
        tagged_hash(
            Tag::ContactDocument,
            &[device.as_bytes(), kem_key.as_bytes()],
        )
    }

    /// The document of `identity` (whose key is `key`) with `kem_key`. Signed with zero
    /// randomness (the deterministic variants of FIPS 204 and 205), so one device has one
    /// document and one card.
    pub fn sign(
        identity: &DeviceIdentity,
        key: &SigningKey,
        kem_key: KemPublicKey,
    ) -> Result<ContactDocument, dsm_core::crypto::CryptoError> {
        let signature = key.sign(
            Self::signed_digest(&identity.device_id(), &kem_key).as_bytes(),
            &[0; 32],
        )?;
        Ok(ContactDocument {
            device: identity.clone(),
            kem_key,
            signature,
        })
    }

    /// Checks the document is `device`'s: its identity derives `device`, and the signature
    /// verifies under that identity's key.
    pub fn verify(&self, device: &DeviceId) -> Result<(), CardError> {
        if self.device.device_id() != *device {
            return Err(CardError::DocumentForged);
        }
        self.device
            .public_key
            .verify(
                Self::signed_digest(device, &self.kem_key).as_bytes(),
                &self.signature,
            )
            .map_err(|_| CardError::DocumentForged)
    }

    /// The sealed form stored at the nodes: [`dsm_core::seal::seal`] under `ContactDocumentKey`
    /// with the device id as context — `nonce (24) ‖ XChaCha20-Poly1305(H(ContactDocumentKey,
    /// device id), nonce, canonical document, associated data = device id)`, with the
    /// synthetic nonce `H(ContactDocumentKey, device id, canonical document)[..24]`.
    pub fn seal(&self) -> Vec<u8> {
        let device = self.device.device_id();
        dsm_core::seal::seal(Tag::ContactDocumentKey, device.as_bytes(), &self.to_bytes())
    }

    /// Opens the sealed document a card names: `sealed` must be at `card.document`'s
    /// address, open under the card's device id, decode canonically and [`verify`] for
    /// that device.
    ///
    /// [`verify`]: ContactDocument::verify
    pub fn open(card: &ContactCard, sealed: &[u8]) -> Result<ContactDocument, CardError> {
        let address = card.document.ok_or(CardError::DocumentAddress)?;
        if sealed.len() > MAX_SEALED_DOCUMENT_LEN || object_address(sealed) != address {
            return Err(CardError::DocumentSeal);
        }
        let plain = dsm_core::seal::open(Tag::ContactDocumentKey, card.device.as_bytes(), sealed)
            .ok_or(CardError::DocumentSeal)?;
        let doc = ContactDocument::from_bytes(&plain).map_err(|_| CardError::DocumentSeal)?;
        doc.verify(&card.device)?;
        Ok(doc)
    }
}

impl Canonical for ContactDocument {
    const MAX_ENCODED_LEN: usize = MAX_SEALED_DOCUMENT_LEN;

    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.device);
        w.bytes(2, self.kem_key.as_bytes());
        w.message(3, &self.signature);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device = r.message(1)?;
        let kem = r.bytes(2, 1184)?;
        let kem_key = KemPublicKey::from_bytes(kem)
            .map_err(|_| DecodeError::Invalid("bad ML-KEM-768 key"))?;
        Ok(ContactDocument {
            device,
            kem_key,
            signature: r.message(3)?,
        })
    }
}

fn hex32(hex: &str) -> Option<Digest> {
    Digest::from_hex(&hex.to_ascii_lowercase())
}

fn device_id(hex: &str) -> Result<DeviceId, CardError> {
    if hex.len() != 64 {
        return Err(CardError::Device);
    }
    Digest::from_hex(&hex.to_ascii_lowercase())
        .map(DeviceId)
        .ok_or(CardError::Device)
}

/// A device's ML-KEM-768 keys from its secret `s`: `keygen(d = H(DeviceKemSeed, "d", s),
/// z = H(DeviceKemSeed, "z", s))` (PROTOCOL.md §12.6). A wallet passes its generation's
/// capsule key when the identity has a recovery phrase (so the phrase recovers what was
/// encrypted to a lost device), else its canonical private signing key.
pub fn device_kem_keys(secret: &[u8]) -> (KemPublicKey, dsm_core::crypto::KemSecretKey) {
    let d = tagged_hash(Tag::DeviceKemSeed, &[b"d", secret]);
    let z = tagged_hash(Tag::DeviceKemSeed, &[b"z", secret]);
    dsm_core::crypto::KemSecretKey::from_seeds(&d.0, &z.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> ContactCard {
        ContactCard {
            name: "bob".into(),
            device: DeviceId(Digest([7; 32])),
            document: None,
        }
    }

    #[test]
    fn a_card_reads_back_and_any_changed_character_is_refused() {
        let text = card().to_text();
        // The vector PROTOCOL.md §12.6 gives (its check: `card.check(bob,07..)` in
        // dsm-core's vector file).
        assert_eq!(
            text,
            format!("dsm-card:v1:bob:{}:c8186779", "07".repeat(32))
        );
        assert_eq!(ContactCard::parse(&text), Ok((card(), false)));
        assert_eq!(
            ContactCard::parse(&format!(
                "  {}\n",
                text.to_uppercase()
                    .replace("DSM-CARD:V1:BOB", "dsm-card:v1:bob")
            )),
            Ok((card(), false)),
            "hex in either case"
        );
        let prefix = V1_CARD_PREFIX.len();
        for i in prefix..text.len() {
            let mut b = text.clone().into_bytes();
            for replacement in [b'0', b'f', b'x', b'a'] {
                if b[i] == replacement || b[i] == b':' {
                    continue;
                }
                b[i] = replacement;
                let changed = String::from_utf8(b.clone()).unwrap();
                assert!(
                    ContactCard::parse(&changed).is_err(),
                    "a change at {i} was accepted: {changed}"
                );
            }
        }
    }

    #[test]
    fn the_old_form_is_still_read_and_bad_cards_say_why() {
        let old = format!("dsm-contact:{}:bob", "07".repeat(32));
        assert_eq!(ContactCard::parse(&old), Ok((card(), true)));
        let t = card().to_text();
        assert_eq!(ContactCard::parse("hello"), Err(CardError::NotACard));
        assert_eq!(
            ContactCard::parse(&t.replace(":bob:", ":b b:")),
            Err(CardError::Name("b b".into()))
        );
        assert_eq!(
            ContactCard::parse(&t.replace(&"07".repeat(32), &"07".repeat(31))),
            Err(CardError::Device)
        );
        assert_eq!(
            ContactCard::parse(&format!("{t}:extra")),
            Err(CardError::NotACard)
        );
        assert_eq!(
            ContactCard::parse(&t.replace(":bob:", ":bab:")),
            Err(CardError::Checksum)
        );
    }

    fn device(seed: u8) -> (DeviceIdentity, SigningKey) {
        let key = SigningKey::from_seed(
            dsm_core::crypto::SuiteId::MlDsa65,
            &dsm_core::crypto::SecretSeed::from_bytes([seed; 32]),
        );
        let identity = DeviceIdentity {
            genesis: dsm_core::identity::GenesisDigest(Digest([seed; 32])),
            public_key: key.public_key().clone(),
        };
        (identity, key)
    }

    fn kem(seed: u8) -> KemPublicKey {
        dsm_core::crypto::KemSecretKey::from_seeds(&[seed; 32], &[seed; 32]).0
    }

    /// A v2 card and its sealed document, for device `seed`.
    fn v2(seed: u8) -> (ContactCard, Vec<u8>) {
        let (identity, key) = device(seed);
        let sealed = ContactDocument::sign(&identity, &key, kem(seed))
            .unwrap()
            .seal();
        (
            ContactCard {
                name: "bob".into(),
                device: identity.device_id(),
                document: Some(object_address(&sealed)),
            },
            sealed,
        )
    }

    #[test]
    fn a_v2_card_reads_back_any_changed_character_is_refused_and_v1_is_still_read() {
        let (card, _) = v2(1);
        let text = card.to_text();
        assert!(text.starts_with("dsm-card:v2:bob:"), "{text}");
        assert_eq!(ContactCard::parse(&text), Ok((card.clone(), false)));
        for i in CARD_PREFIX.len()..text.len() {
            for replacement in [b'0', b'f', b'x', b'a'] {
                let mut b = text.clone().into_bytes();
                if b[i] == replacement || b[i] == b':' {
                    continue;
                }
                b[i] = replacement;
                let changed = String::from_utf8(b).unwrap();
                assert!(
                    ContactCard::parse(&changed).is_err(),
                    "a change at {i} was accepted: {changed}"
                );
            }
        }
        // The v1 form of the same device still reads, without a document.
        let v1 = ContactCard {
            document: None,
            ..card.clone()
        };
        assert!(v1.to_text().starts_with(V1_CARD_PREFIX));
        assert_eq!(ContactCard::parse(&v1.to_text()), Ok((v1, false)));
        assert_eq!(
            ContactCard::parse(&text.replacen(":bob:", ":bob:zz", 1)),
            Err(CardError::Device)
        );
    }

    #[test]
    fn a_document_opens_only_for_its_card_and_its_device() {
        let (card, sealed) = v2(1);
        let doc = ContactDocument::open(&card, &sealed).unwrap();
        assert_eq!(doc.kem_key, kem(1));
        assert_eq!(doc.device.device_id(), card.device);
        // Deterministic: one device, one document, one card. The vector PROTOCOL.md §12.6
        // gives (ML-DSA-65 key and genesis from seed 01.., KEM seeds 01.., 01..).
        assert_eq!(v2(1).1, sealed);
        assert_eq!(
            object_address(&sealed).to_hex(),
            "22a7216e195ab8802befb42ccfc6d05d766e33ef6f8a32e5f92e629b5da35a26"
        );
        // Another device's document under this card: its address is not the card's.
        let (_, other) = v2(2);
        assert_eq!(
            ContactDocument::open(&card, &other),
            Err(CardError::DocumentSeal)
        );
        // ... nor when the card is made to name it: it does not open under this device id.
        let naming_other = ContactCard {
            document: Some(object_address(&other)),
            ..card.clone()
        };
        assert_eq!(
            ContactDocument::open(&naming_other, &other),
            Err(CardError::DocumentSeal)
        );
        // Any flipped byte of the sealed document.
        for i in (0..sealed.len()).step_by(61) {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            let card = ContactCard {
                document: Some(object_address(&bad)),
                ..card.clone()
            };
            assert_eq!(
                ContactDocument::open(&card, &bad),
                Err(CardError::DocumentSeal),
                "byte {i}"
            );
        }
        // A KEM key signed by another key, sealed under this device's id: forged.
        let (identity, _) = device(1);
        let (_, mallory) = device(3);
        let forged = ContactDocument {
            device: identity.clone(),
            kem_key: kem(3),
            signature: mallory
                .sign(
                    ContactDocument::signed_digest(&identity.device_id(), &kem(3)).as_bytes(),
                    &[0; 32],
                )
                .unwrap(),
        }
        .seal();
        let card = ContactCard {
            document: Some(object_address(&forged)),
            ..card
        };
        assert_eq!(
            ContactDocument::open(&card, &forged),
            Err(CardError::DocumentForged)
        );
        // A v1 card names no document.
        let v1 = ContactCard {
            document: None,
            ..card
        };
        assert_eq!(
            ContactDocument::open(&v1, &sealed),
            Err(CardError::DocumentAddress)
        );
    }
}
