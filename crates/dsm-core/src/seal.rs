//! Deterministic sealing (PROTOCOL.md §2, "Sealed at the nodes"): what a storage node keeps
//! for a reader who knows a secret context the node does not — a device id for an identity
//! document, a parent head for an anchored statement, a parcel id for the hop that spends
//! it, an object's own address for a sealed object (a lineage object, a published
//! document).
//!
//! `seal(tag, context, plain) = nonce ‖ XChaCha20-Poly1305(H(tag, context), nonce, plain,
//! associated data = context)` with the synthetic nonce `H(tag, context, plain)[..24]`. The
//! same plaintext under the same context always seals to the same bytes, so a writer and a
//! reader who both hold the plaintext compute the same body (a node compares bodies byte for
//! byte), and two different plaintexts under one context never share a nonce. [`open`]
//! accepts only that canonical form: sealed bytes with any other nonce are refused, so a
//! plaintext has exactly one sealed encoding.

use crate::hash::{tagged_hash, Digest};
use crate::tags::Tag;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// Bytes a sealed body adds to its plaintext: the 24-byte nonce and the 16-byte tag.
pub const OVERHEAD: usize = 24 + 16;

fn cipher(tag: Tag, context: &[u8]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(tagged_hash(tag, &[context]).0))
}

fn nonce(tag: Tag, context: &[u8], plain: &[u8]) -> [u8; 24] {
    let n = tagged_hash(tag, &[context, plain]);
    n.0[..24].try_into().expect("24 bytes")
}

/// Seals `plain` for readers who know `context`, under the key `H(tag, context)`.
pub fn seal(tag: Tag, context: &[u8], plain: &[u8]) -> Vec<u8> {
    let n = nonce(tag, context, plain);
    let ct = cipher(tag, context)
        .encrypt(
            &XNonce::from(n),
            Payload {
                msg: plain,
                aad: context,
            },
        )
        .expect("XChaCha20-Poly1305 encryption does not fail for in-memory data");
    let mut out = Vec::with_capacity(OVERHEAD + plain.len());
    out.extend_from_slice(&n);
    out.extend_from_slice(&ct);
    out
}

/// Opens what [`seal`] made with the same `tag` and `context`; `None` for anything else —
/// bytes too short, a failed authentication, or a nonce other than the synthetic one.
pub fn open(tag: Tag, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD {
        return None;
    }
    let (n, ct) = sealed.split_at(24);
    let n: [u8; 24] = n.try_into().expect("24 bytes");
    let plain = cipher(tag, context)
        .decrypt(
            &XNonce::from(n),
            Payload {
                msg: ct,
                aad: context,
            },
        )
        .ok()?;
    (nonce(tag, context, &plain) == n).then_some(plain)
}

/// Where the sealed object whose address is `address` (its [`object_address`]: what a
/// manifest lists, what `--publish` prints) waits at the storage nodes (PROTOCOL.md §2,
/// "Sealed objects"): the candidate list `(H(SealedObjectLocator), H(SealedObjectLocator,
/// address))`. A node cannot tell from it which object it is.
///
/// [`object_address`]: crate::hash::object_address
pub fn object_locator(address: &Digest) -> (Digest, Digest) {
    (
        tagged_hash(Tag::SealedObjectLocator, &[]),
        tagged_hash(Tag::SealedObjectLocator, &[address.as_bytes()]),
    )
}

/// An object as the storage nodes keep it: sealed under its own address
/// (`seal(SealedObject, address, object)`), so only a reader that was given the address
/// opens it.
pub fn seal_object(object: &[u8]) -> Vec<u8> {
    let address = crate::hash::object_address(object);
    seal(Tag::SealedObject, address.as_bytes(), object)
}

/// The content address of `object`'s sealed form, `H(ObjectAddress, seal_object(object))`:
/// where a holder stores it as a plain object, which a node checks is the hash of its body,
/// so nobody can put anything else there (PROTOCOL.md §2, "Sealed objects"). It shows
/// nothing of the object's own address.
pub fn sealed_address(object: &[u8]) -> Digest {
    crate::hash::object_address(&seal_object(object))
}

/// The object at `address` sealed in `bytes`, if `bytes` opens under it and the object
/// hashes to it; `None` for anything else.
pub fn open_object(address: &Digest, bytes: &[u8]) -> Option<Vec<u8>> {
    let object = open(Tag::SealedObject, address.as_bytes(), bytes)?;
    (crate::hash::object_address(&object) == *address).then_some(object)
}
