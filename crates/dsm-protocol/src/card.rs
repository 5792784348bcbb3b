//! Contact cards (PROTOCOL.md §12.6): the text a device hands to the devices it will trade
//! with, by message, paper or QR code, carrying its name and device id.
//!
//! `dsm-card:v1:NAME:DEVICE:CHECK`, where DEVICE is the 64-hex-digit device id and CHECK
//! is the first 4 bytes (8 hex digits) of `H(ContactCard, NAME, device id)`. The check
//! catches a mistyped or damaged card; it is no authentication: whoever writes a card can
//! compute its check, so a card is only as good as the channel it came through. The old
//! form `dsm-contact:DEVICE:NAME` (no check) is still read.

use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;
use thiserror::Error;

/// The prefix of a checksummed card.
pub const CARD_PREFIX: &str = "dsm-card:v1:";
/// The prefix of the old card form (no checksum), still read.
pub const LEGACY_CARD_PREFIX: &str = "dsm-contact:";

/// A contact card: a device's name and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactCard {
    /// The name its device gave itself (checked by [`check_name`]).
    pub name: String,
    /// The device id.
    pub device: DeviceId,
}

/// Why a text is not a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardError {
    /// Neither card form.
    #[error("not a contact card: a card looks like dsm-card:v1:NAME:<64 hex digits>:<8 hex digits> (`dsm card` on the other device prints it)")]
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
    /// The check: the first 4 bytes of `H(ContactCard, name, device id)`, as hex.
    fn check(&self) -> String {
        let d = tagged_hash(
            Tag::ContactCard,
            &[self.name.as_bytes(), self.device.as_bytes()],
        );
        d.to_hex()[..8].to_string()
    }

    /// The card's text (lowercase hex).
    pub fn to_text(&self) -> String {
        format!(
            "{CARD_PREFIX}{}:{}:{}",
            self.name,
            self.device.digest().to_hex(),
            self.check()
        )
    }

    /// Reads a card in either form (surrounding whitespace ignored; hex in either case).
    /// Returns the card and whether it was the old form, which has no check digits.
    pub fn parse(text: &str) -> Result<(ContactCard, bool), CardError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix(CARD_PREFIX) {
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
            };
            if check.len() != 8 || !check.eq_ignore_ascii_case(&card.check()) {
                return Err(CardError::Checksum);
            }
            return Ok((card, false));
        }
        if let Some(rest) = text.strip_prefix(LEGACY_CARD_PREFIX) {
            let (device, name) = rest.split_once(':').ok_or(CardError::NotACard)?;
            check_name(name)?;
            return Ok((
                ContactCard {
                    name: name.to_string(),
                    device: device_id(device)?,
                },
                true,
            ));
        }
        Err(CardError::NotACard)
    }
}

fn device_id(hex: &str) -> Result<DeviceId, CardError> {
    if hex.len() != 64 {
        return Err(CardError::Device);
    }
    Digest::from_hex(&hex.to_ascii_lowercase())
        .map(DeviceId)
        .ok_or(CardError::Device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> ContactCard {
        ContactCard {
            name: "bob".into(),
            device: DeviceId(Digest([7; 32])),
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
        let prefix = CARD_PREFIX.len();
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
}
