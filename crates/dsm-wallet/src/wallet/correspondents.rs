//! Where this device and each counterparty read each other's b0x items (PROTOCOL.md §16.1).
//!
//! A device reads one counterparty's items at a relationship address only the two of them
//! know, `H(B0xRelationship, blind, slot owner)`, with the blind derived from the device's
//! secret and the counterparty's id. It tells the counterparty the blind in a signed
//! reply-to inside every sealed item it posts; until a counterparty has told it one, it
//! posts to the counterparty's introduction address `H(B0xAddress, slot owner)`.

use super::{Wallet, WalletError};
use crate::store::{Batch, Table};
use dsm_core::chain::RelationshipKey;
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::tags::Tag;
use dsm_protocol::mailbox::ReplyTo;
use dsm_protocol::session::Ledger;

/// `flags (1: bit 0 told, bit 1 heard) ‖ [the peer's blind (32)]`, decoded.
#[derive(Clone, Copy, Default)]
struct Correspondent {
    /// This device sent the peer its reply-to, so a sync lists that address.
    told: bool,
    /// The peer posted to that address, so it knows it: this device's items to it carry no
    /// reply-to any more.
    heard: bool,
    /// The blind the peer reads this device's items under.
    blind: Option<Digest>,
}

impl Correspondent {
    fn to_bytes(self) -> Vec<u8> {
        let mut v = vec![u8::from(self.told) | u8::from(self.heard) << 1];
        if let Some(b) = self.blind {
            v.extend_from_slice(b.as_bytes());
        }
        v
    }

    fn from_bytes(v: &[u8]) -> Result<Correspondent, WalletError> {
        let corrupt = |error: &str| WalletError::Corrupt {
            what: "correspondents",
            error: error.into(),
        };
        let (told, heard) = match v.first() {
            Some(f) if *f < 4 => (f & 1 == 1, f & 2 == 2),
            _ => return Err(corrupt("bad flags")),
        };
        let blind = match &v[1..] {
            [] => None,
            b => Some(Digest(b.try_into().map_err(|_| corrupt("bad blind"))?)),
        };
        Ok(Correspondent { told, heard, blind })
    }
}

impl Wallet {
    fn correspondent(&self, peer: &DeviceId) -> Result<Correspondent, WalletError> {
        match self.store.get(Table::Correspondents, peer.as_bytes())? {
            None => Ok(Correspondent::default()),
            Some(v) => Correspondent::from_bytes(&v),
        }
    }

    fn put_correspondent(&mut self, peer: &DeviceId, c: Correspondent) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.put(
            Table::Correspondents,
            peer.as_bytes().to_vec(),
            c.to_bytes(),
        );
        self.store.commit(&b)?;
        Ok(())
    }

    /// The blind this device reads `peer`'s items under: `H(B0xBlind, secret, peer id)`
    /// with the device's secret ([`Wallet::device_secret`]), so nobody else can derive it
    /// and the recovery phrase re-derives it.
    pub fn b0x_blind(&self, peer: &DeviceId) -> Digest {
        tagged_hash(Tag::B0xBlind, &[&self.device_secret(), peer.as_bytes()])
    }

    /// This device's signed reply-to for `peer`: its identity document and the blind it
    /// reads `peer`'s items under.
    pub fn reply_to(&self, peer: &DeviceId) -> Result<ReplyTo, WalletError> {
        ReplyTo::sign(
            self.contact_document()?.clone(),
            &self.key,
            peer,
            self.b0x_blind(peer),
        )
        .map_err(|e| WalletError::Contact(format!("cannot sign a reply-to: {e}")))
    }

    /// Where to post an item to `peer`: the relationship address it told this device, else
    /// its introduction address, both derived from its slot owner. Refused for a device whose
    /// identity this wallet does not know ([`Wallet::peer_identity`]).
    pub fn peer_b0x_address(&self, peer: &DeviceId) -> Result<Digest, WalletError> {
        Ok(self.b0x_address_of(&self.identity_to_post_to(peer)?))
    }

    /// [`Wallet::peer_identity`], refused with what to do for a device this wallet knows
    /// only by its id.
    pub fn identity_to_post_to(&self, peer: &DeviceId) -> Result<DeviceIdentity, WalletError> {
        self.peer_identity(peer)?.ok_or_else(|| {
            WalletError::Contact(format!(
                "cannot post to {}: this wallet does not know that device's identity, only \
                 its id (an older card); add its current card (`dsm card` on that device \
                 prints it) so its identity document can be fetched, or pay it offline",
                &peer.digest().to_hex()[..16]
            ))
        })
    }

    /// [`Wallet::peer_b0x_address`] for a peer whose identity is at hand (a proposal's
    /// sender, a successor): a damaged correspondents row reads as no address told, so the
    /// introduction address, which the peer always lists.
    pub fn b0x_address_of(&self, peer: &DeviceIdentity) -> Digest {
        let blind = self
            .correspondent(&peer.device_id())
            .ok()
            .and_then(|c| c.blind);
        dsm_core::slot::b0x_address(&dsm_core::slot::device_slots_owner(peer), blind.as_ref())
    }

    /// Records that this device told `peer` its reply-to, so its syncs list that address.
    pub(crate) fn note_told(&mut self, peer: &DeviceId) -> Result<(), WalletError> {
        let c = self.correspondent(peer)?;
        if !c.told {
            self.put_correspondent(peer, Correspondent { told: true, ..c })?;
        }
        Ok(())
    }

    /// The relationship addresses this device reads, by blind: one for every peer it told
    /// its reply-to, with that peer, ascending by blind.
    pub fn b0x_blinds(&self) -> Result<Vec<(Digest, DeviceId)>, WalletError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Correspondents)? {
            if Correspondent::from_bytes(&v)?.told {
                let peer: [u8; 32] = k.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                    what: "correspondents",
                    error: "bad key".into(),
                })?;
                let peer = DeviceId(Digest(peer));
                out.push((self.b0x_blind(&peer), peer));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether this device's items to `peer` still carry its reply-to: until the peer posted
    /// to the relationship address it names.
    pub(crate) fn needs_reply_to(&self, peer: &DeviceId) -> Result<bool, WalletError> {
        Ok(!self.correspondent(peer)?.heard)
    }

    /// Records that `peer` posted to the relationship address this device named for it (an
    /// item that opened was found there), so it knows the address.
    pub(crate) fn note_heard(&mut self, peer: &DeviceId) -> Result<(), WalletError> {
        let c = self.correspondent(peer)?;
        if !c.heard {
            self.put_correspondent(peer, Correspondent { heard: true, ..c })?;
        }
        Ok(())
    }

    /// Whether this device already deals with `peer`: a contact, a relationship with a
    /// tip, or a transfer pending to it.
    pub fn knows_peer(&self, peer: &DeviceId) -> Result<bool, WalletError> {
        let key = RelationshipKey::between(&self.device_id(), peer);
        if self.store.contains(Table::Tips, key.as_bytes())? {
            return Ok(true);
        }
        if !self.pending_to(peer)?.is_empty() {
            return Ok(true);
        }
        let hex = peer.digest().to_hex();
        Ok(self.contacts()?.iter().any(|c| c.device == hex))
    }

    /// Keeps `peer`'s reply-to, verified by the caller ([`ReplyTo::verify`]): its identity
    /// document, so this device seals to it, and its blind, so this device posts to its
    /// relationship address from now on.
    pub fn learn_reply_to(&mut self, peer: &DeviceId, reply: &ReplyTo) -> Result<(), WalletError> {
        let c = self.correspondent(peer)?;
        if c.blind == Some(reply.blind) && self.contact_kem_key(peer)?.is_some() {
            return Ok(());
        }
        let mut b = Batch::new();
        self.put_contact_document(&mut b, peer, &reply.document);
        b.put(
            Table::Correspondents,
            peer.as_bytes().to_vec(),
            Correspondent {
                blind: Some(reply.blind),
                ..c
            }
            .to_bytes(),
        );
        self.store.commit(&b)?;
        Ok(())
    }
}
