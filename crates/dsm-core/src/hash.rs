//! Tagged BLAKE3-256 hashing and the 32-byte digest newtypes built on it.

use crate::tags::Tag;
use core::fmt;

/// A BLAKE3-256 output. Every protocol digest is one of these, wrapped in a newtype that
/// says what it names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// All zero bytes: the `parent` of a device's first head, never the output of a hash.
    pub const ZERO: Digest = Digest([0u8; 32]);

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, for display and test vectors.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Digest> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Digest(out))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `BLAKE3-256(lp(tag) ‖ lp(f_1) ‖ … ‖ lp(f_n))` with `lp(x) = u32be(len(x)) ‖ x`.
///
/// Length-prefixing every item makes the byte string an injective function of
/// `(tag, fields)`: `("ab", "c")` and `("a", "bc")` hash differently, and so do field lists
/// of different lengths. Fields longer than `u32::MAX` bytes cannot occur: every input is
/// size-capped long before hashing.
pub fn tagged_hash(tag: Tag, fields: &[&[u8]]) -> Digest {
    let mut h = blake3::Hasher::new();
    absorb(&mut h, tag.label().as_bytes());
    for f in fields {
        absorb(&mut h, f);
    }
    Digest(*h.finalize().as_bytes())
}

fn absorb(h: &mut blake3::Hasher, item: &[u8]) {
    // Inputs are capped far below 4 GiB (the largest is a 128 KiB receipt).
    let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
    h.update(&len.to_be_bytes());
    h.update(item);
}

/// Hash of two 32-byte fields, the hot path of the sparse Merkle tree. Equal to
/// `tagged_hash(tag, &[a, b])`, computed from one stack buffer.
pub(crate) fn tagged_hash_pair(tag: Tag, a: &[u8; 32], b: &[u8; 32]) -> Digest {
    let label = tag.label().as_bytes();
    let mut buf = [0u8; 4 + 64 + 72];
    let n = label.len();
    debug_assert!(n <= 64);
    buf[..4].copy_from_slice(&(n as u32).to_be_bytes());
    buf[4..4 + n].copy_from_slice(label);
    let mut p = 4 + n;
    for x in [a, b] {
        buf[p..p + 4].copy_from_slice(&32u32.to_be_bytes());
        buf[p + 4..p + 36].copy_from_slice(x);
        p += 36;
    }
    Digest(*blake3::hash(&buf[..p]).as_bytes())
}

/// Declares a newtype over [`Digest`] that names one kind of protocol object.
macro_rules! digest_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(pub $crate::hash::Digest);

        impl $name {
            /// The underlying digest.
            pub const fn digest(&self) -> &$crate::hash::Digest {
                &self.0
            }
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0 .0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}
pub(crate) use digest_newtype;

/// The address of a content-addressed object at a storage node: `H(ObjectAddress, bytes)`.
pub fn object_address(bytes: &[u8]) -> Digest {
    tagged_hash(crate::tags::Tag::ObjectAddress, &[bytes])
}
