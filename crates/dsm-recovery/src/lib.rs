//! Recovery (PROTOCOL.md §20): the BIP-39 mnemonic of an identity's recovery authority, the
//! keys derived from it, encrypted hash-chained recovery capsules, and the tombstone,
//! succession and answer records that replace a lost device. Pure functions and data; the
//! wallet (`dsm-wallet::recovery`) does the I/O. A capsule is never a balance oracle: a
//! successor spends to a counterparty only after that counterparty acknowledged it.
//!
//! - [`RecoveryMnemonic`]: 24 English BIP-39 words over 256 bits of entropy; parsing names
//!   the word that is wrong.
//! - [`RecoveryKeys`]: `S = Argon2id(entropy, salt = H(RecoveryRing))`, then the recovery
//!   authority's signing seed and, per device generation, a capsule key and a stream
//!   address, each a tagged hash of `S`.
//! - [`Capsule`]: `(stream, index, prev, nonce, ciphertext)` with XChaCha20-Poly1305; the
//!   nonce is synthetic (`H(RecoveryNonce, stream, index, BLAKE3(plaintext))`), so one key
//!   never encrypts two plaintexts under one nonce, and the associated data binds the
//!   stream, the index and the previous capsule, so a capsule moved elsewhere fails.
//! - [`body`]: what a capsule holds and [`body::replay`] of a stream.
//! - [`backup`]: the encrypted backup file of a whole wallet (`dsm backup export`).
//! - [`succession`]: tombstone, succession, notice and answer, each with one verifier.
//! - [`process`]: the successor's step order and spending gate, as rules without I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backup;
pub mod body;
pub mod process;
pub mod succession;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::tags::Tag;
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a recovery operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecoveryError {
    /// A word is not in the BIP-39 English list.
    #[error("word {position} ({word:?}) is not a BIP-39 word; check its spelling")]
    UnknownWord {
        /// 1-based position.
        position: usize,
        /// The word as typed.
        word: String,
    },
    /// Not 24 words.
    #[error("a recovery phrase has 24 words; this one has {0}")]
    WordCount(usize),
    /// The checksum (in the last word) does not match.
    #[error("the words are all valid but the checksum fails: a word is wrong or two are swapped")]
    Checksum,
    /// Argon2id failed (parameters).
    #[error("key derivation failed: {0}")]
    Kdf(String),
    /// The capsule does not decrypt under this key and position (wrong mnemonic, corrupted,
    /// or moved to another stream or index).
    #[error("the capsule does not open: wrong recovery phrase, corrupted, or not from this position of this stream")]
    Open,
    /// The capsule's nonce is not the one its content and position imply.
    #[error("the capsule's nonce does not match its content and position")]
    Nonce,
}

/// The mnemonic of a recovery authority: 24 BIP-39 English words.
pub struct RecoveryMnemonic(bip39::Mnemonic);

impl RecoveryMnemonic {
    /// The mnemonic of 32 bytes of entropy (from the operating system, at `dsm init`).
    pub fn from_entropy(entropy: &[u8; 32]) -> RecoveryMnemonic {
        RecoveryMnemonic(
            bip39::Mnemonic::from_entropy(entropy).expect("32 bytes is valid BIP-39 entropy"),
        )
    }

    /// Parses typed words (any case and spacing); errors name the wrong word.
    pub fn parse(text: &str) -> Result<RecoveryMnemonic, RecoveryError> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if words.len() != 24 {
            return Err(RecoveryError::WordCount(words.len()));
        }
        match bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words.join(" ")) {
            Ok(m) => Ok(RecoveryMnemonic(m)),
            Err(bip39::Error::UnknownWord(i)) => Err(RecoveryError::UnknownWord {
                position: i + 1,
                word: words[i].clone(),
            }),
            Err(bip39::Error::BadWordCount(n)) => Err(RecoveryError::WordCount(n)),
            Err(_) => Err(RecoveryError::Checksum),
        }
    }

    /// The words, in order.
    pub fn words(&self) -> Vec<&'static str> {
        self.0.words().collect()
    }

    /// The 32 bytes of entropy.
    pub fn entropy(&self) -> Zeroizing<[u8; 32]> {
        let (e, n) = self.0.to_entropy_array();
        debug_assert_eq!(n, 32);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&e[..32]);
        out
    }
}

/// Argon2id cost of the recovery secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfCost {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
}

impl Default for KdfCost {
    /// 64 MiB, 3 passes.
    fn default() -> Self {
        KdfCost {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
        }
    }
}

/// The keys a mnemonic controls.
///
/// Capsules go to one stream per *device generation*: the identity's first device writes
/// generation 0, the successor a recovery creates writes generation 1, and so on. Each
/// generation has its own stream address and key, both derived from the recovery secret,
/// so a lost or stolen device (which holds only its own generation's key) can neither read
/// nor block its successor's backup.
pub struct RecoveryKeys {
    /// Generation 0's capsule key and stream (the identity's first device).
    pub capsules: CapsuleKey,
    secret: Zeroizing<[u8; 32]>,
    authority_seed: Zeroizing<[u8; 32]>,
}

/// The capsule encryption key and the stream's address: what a device needs to write
/// capsules, and nothing that lets it sign for the recovery authority.
#[derive(Clone)]
pub struct CapsuleKey {
    key: Zeroizing<[u8; 32]>,
    /// The capsule stream's address at the storage nodes.
    pub stream: Digest,
}

impl core::fmt::Debug for CapsuleKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CapsuleKey {{ stream: {}, key: <secret> }}", self.stream)
    }
}

impl RecoveryKeys {
    /// Derives the keys: `S = Argon2id(entropy, salt = H(RecoveryRing))`, then tagged hashes
    /// of `S`.
    pub fn derive(m: &RecoveryMnemonic, cost: KdfCost) -> Result<RecoveryKeys, RecoveryError> {
        let params = Params::new(cost.m_cost_kib, cost.t_cost, 1, Some(32))
            .map_err(|e| RecoveryError::Kdf(e.to_string()))?;
        let salt = tagged_hash(Tag::RecoveryRing, &[]);
        let mut s = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(m.entropy().as_slice(), salt.as_bytes(), s.as_mut_slice())
            .map_err(|e| RecoveryError::Kdf(e.to_string()))?;
        Ok(RecoveryKeys {
            capsules: generation_key(&s, 0),
            authority_seed: Zeroizing::new(tagged_hash(Tag::RecoveryAuthority, &[s.as_slice()]).0),
            secret: s,
        })
    }

    /// The capsule key and stream of device generation `g`:
    /// `H(RecoveryCapsuleKey, S, u64be(g))` and `H(RecoveryStream, S, u64be(g))`.
    pub fn generation(&self, g: u64) -> CapsuleKey {
        generation_key(&self.secret, g)
    }

    /// The recovery authority's signing key (ML-DSA-65): it signs tombstones and
    /// successions, and its public key is in the identity's genesis record.
    pub fn authority_key(&self) -> dsm_core::crypto::SigningKey {
        dsm_core::crypto::SigningKey::from_seed(
            dsm_core::crypto::SuiteId::MlDsa65,
            &dsm_core::crypto::SecretSeed::from_bytes(*self.authority_seed),
        )
    }

    /// Generation 0's stream address.
    pub fn stream(&self) -> Digest {
        self.capsules.stream
    }

    /// [`CapsuleKey::seal`].
    pub fn seal(&self, index: u64, prev: Digest, plaintext: &[u8]) -> Capsule {
        self.capsules.seal(index, prev, plaintext)
    }

    /// [`CapsuleKey::open`].
    pub fn open(&self, c: &Capsule) -> Result<Zeroizing<Vec<u8>>, RecoveryError> {
        self.capsules.open(c)
    }
}

fn generation_key(secret: &[u8; 32], g: u64) -> CapsuleKey {
    let g = g.to_be_bytes();
    CapsuleKey {
        key: Zeroizing::new(tagged_hash(Tag::RecoveryCapsuleKey, &[secret, &g]).0),
        stream: tagged_hash(Tag::RecoveryStream, &[secret, &g]),
    }
}

/// The slot key of capsule `index` of a stream: the capsule lives in the owned slot
/// (stream address, this key) (PROTOCOL.md §20.2).
pub fn capsule_slot(index: u64) -> Digest {
    tagged_hash(Tag::RecoverySlot, &[&index.to_be_bytes()])
}

impl CapsuleKey {
    /// Rebuilds a capsule key from its parts as stored by a device.
    pub fn from_parts(key: [u8; 32], stream: Digest) -> CapsuleKey {
        CapsuleKey {
            key: Zeroizing::new(key),
            stream,
        }
    }

    /// The secret key bytes (for sealing at rest; never print them).
    pub fn secret_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key that writes this stream's owned slots at the storage nodes (ML-DSA-65, seed
    /// `H(RecoveryStreamSigner, capsule key)`): whoever holds the capsule key — the device,
    /// or a successor with the phrase — and nobody else (PROTOCOL.md §20.2, §15.2).
    pub fn slot_signer(&self) -> dsm_core::crypto::SigningKey {
        dsm_core::crypto::SigningKey::from_seed(
            dsm_core::crypto::SuiteId::MlDsa65,
            &dsm_core::crypto::SecretSeed::from_bytes(
                tagged_hash(Tag::RecoveryStreamSigner, &[self.key.as_slice()]).0,
            ),
        )
    }

    /// The admission of this stream's owned slots: a key list naming [`Self::slot_signer`].
    pub fn slot_admission(&self) -> dsm_core::slot::Admission {
        dsm_core::slot::Admission::Keys {
            admitted: vec![dsm_core::slot::key_digest(self.slot_signer().public_key())],
        }
    }

    /// The owner of this stream's capsule and pack slots: `H(SlotOwner, H(SlotKey,
    /// slot signer))`. Unlinkable to the device, like the stream.
    pub fn slot_owner(&self) -> Digest {
        dsm_core::slot::keys_owner(&[dsm_core::slot::key_digest(self.slot_signer().public_key())])
    }

    /// XChaCha20-Poly1305 under this key: the one AEAD of capsules and packs.
    fn encrypt(&self, nonce: &[u8; 24], plaintext: &[u8], ad: &[u8]) -> Vec<u8> {
        XChaCha20Poly1305::new(&Key::from(*self.key))
            .encrypt(
                &XNonce::from(*nonce),
                Payload {
                    msg: plaintext,
                    aad: ad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory data")
    }

    /// The inverse of [`CapsuleKey::encrypt`]; `Open` for a wrong key, nonce, data or tag.
    fn decrypt(
        &self,
        nonce: &[u8; 24],
        ciphertext: &[u8],
        ad: &[u8],
    ) -> Result<Vec<u8>, RecoveryError> {
        XChaCha20Poly1305::new(&Key::from(*self.key))
            .decrypt(
                &XNonce::from(*nonce),
                Payload {
                    msg: ciphertext,
                    aad: ad,
                },
            )
            .map_err(|_| RecoveryError::Open)
    }

    /// Seals `plaintext` as capsule `index` of the stream, after the capsule with digest
    /// `prev` (zero for index 0).
    pub fn seal(&self, index: u64, prev: Digest, plaintext: &[u8]) -> Capsule {
        let nonce = capsule_nonce(&self.stream, index, plaintext);
        let mut c = Capsule {
            stream: self.stream,
            index,
            prev,
            nonce,
            ciphertext: Vec::new(),
        };
        c.ciphertext = self.encrypt(&nonce, plaintext, &c.associated_data_without_ciphertext());
        c
    }

    /// Opens a capsule of this stream: the plaintext, or an error if the key, the position
    /// or the bytes are wrong.
    pub fn open(&self, c: &Capsule) -> Result<Zeroizing<Vec<u8>>, RecoveryError> {
        if c.stream != self.stream {
            return Err(RecoveryError::Open);
        }
        let pt = self.decrypt(
            &c.nonce,
            &c.ciphertext,
            &c.associated_data_without_ciphertext(),
        )?;
        if capsule_nonce(&c.stream, c.index, &pt) != c.nonce {
            return Err(RecoveryError::Nonce);
        }
        Ok(Zeroizing::new(pt))
    }
}

impl CapsuleKey {
    /// Seals `plaintext` (a canonical [`body::ObjectPack`]) as pack `part` of capsule
    /// `index` of this stream (PROTOCOL.md §20.2).
    pub fn seal_pack(&self, index: u64, part: u64, plaintext: &[u8]) -> SealedPack {
        let position = pack_position(index, part);
        let nonce = pack_nonce(&self.stream, &position, plaintext);
        let mut p = SealedPack {
            stream: self.stream,
            index,
            part,
            nonce,
            ciphertext: Vec::new(),
        };
        p.ciphertext = self.encrypt(&nonce, plaintext, &p.associated_data());
        p
    }

    /// Opens pack `part` of capsule `index` of this stream: the plaintext, or an error if
    /// the key, the position or the bytes are wrong.
    pub fn open_pack(
        &self,
        p: &SealedPack,
        index: u64,
        part: u64,
    ) -> Result<Zeroizing<Vec<u8>>, RecoveryError> {
        if p.stream != self.stream || p.index != index || p.part != part {
            return Err(RecoveryError::Open);
        }
        let pt = self.decrypt(&p.nonce, &p.ciphertext, &p.associated_data())?;
        if pack_nonce(&p.stream, &pack_position(index, part), &pt) != p.nonce {
            return Err(RecoveryError::Nonce);
        }
        Ok(Zeroizing::new(pt))
    }
}

/// One encrypted object pack of a capsule (PROTOCOL.md §20.2): stored at slot
/// `(stream, pack_position(index, part))`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SealedPack {
    /// The stream.
    pub stream: Digest,
    /// The capsule it goes with.
    pub index: u64,
    /// Its position among that capsule's packs (0, 1, …).
    pub part: u64,
    /// The synthetic nonce ([`pack_nonce`]).
    pub nonce: [u8; 24],
    /// XChaCha20-Poly1305 ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl SealedPack {
    /// `label(RecoveryPack) ‖ stream ‖ u64be(index) ‖ u64be(part)`.
    fn associated_data(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(96);
        ad.extend_from_slice(Tag::RecoveryPack.label().as_bytes());
        ad.extend_from_slice(self.stream.as_bytes());
        ad.extend_from_slice(&self.index.to_be_bytes());
        ad.extend_from_slice(&self.part.to_be_bytes());
        ad
    }
}

impl Canonical for SealedPack {
    const MAX_ENCODED_LEN: usize = body::MAX_PACK_LEN + 64 * 1024;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.stream.as_bytes());
        w.uint(2, self.index);
        w.uint(3, self.part);
        w.bytes(4, &self.nonce);
        w.bytes(5, &self.ciphertext);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let stream = Digest(r.fixed(1)?);
        let index = r.uint(2)?;
        let part = r.uint(3)?;
        let nonce = r.fixed(4)?;
        let ciphertext = r.bytes(5, body::MAX_PACK_LEN + 32 * 1024)?.to_vec();
        if ciphertext.len() < 16 {
            return Err(DecodeError::Invalid(
                "a pack carries at least its authentication tag",
            ));
        }
        Ok(SealedPack {
            stream,
            index,
            part,
            nonce,
            ciphertext,
        })
    }
}

/// Pack `part` of capsule `index`: `H(RecoveryPack, u64be(index), u64be(part))`, the pack's
/// slot key in its stream and its `prev` field (PROTOCOL.md §20.2).
pub fn pack_position(index: u64, part: u64) -> Digest {
    tagged_hash(
        Tag::RecoveryPack,
        &[&index.to_be_bytes(), &part.to_be_bytes()],
    )
}

/// A pack's synthetic nonce: the first 24 bytes of `H(RecoveryNonce, stream, position,
/// BLAKE3(plaintext))` (a capsule's hashes an 8-byte index where this hashes a 32-byte
/// position, so the two never meet).
pub fn pack_nonce(stream: &Digest, position: &Digest, plaintext: &[u8]) -> [u8; 24] {
    let h = tagged_hash(
        Tag::RecoveryNonce,
        &[
            stream.as_bytes(),
            position.as_bytes(),
            blake3::hash(plaintext).as_bytes(),
        ],
    );
    let mut n = [0u8; 24];
    n.copy_from_slice(&h.0[..24]);
    n
}

/// The synthetic nonce: the first 24 bytes of `H(RecoveryNonce, stream, u64be(index),
/// BLAKE3(plaintext))`.
pub fn capsule_nonce(stream: &Digest, index: u64, plaintext: &[u8]) -> [u8; 24] {
    let h = tagged_hash(
        Tag::RecoveryNonce,
        &[
            stream.as_bytes(),
            &index.to_be_bytes(),
            blake3::hash(plaintext).as_bytes(),
        ],
    );
    let mut n = [0u8; 24];
    n.copy_from_slice(&h.0[..24]);
    n
}

/// One encrypted capsule of a stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Capsule {
    /// The stream.
    pub stream: Digest,
    /// Position in the stream (0, 1, 2, …).
    pub index: u64,
    /// Digest of the previous capsule (zero at index 0): the stream is a hash chain.
    pub prev: Digest,
    /// The synthetic nonce.
    pub nonce: [u8; 24],
    /// XChaCha20-Poly1305 ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl Capsule {
    fn associated_data_without_ciphertext(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(96);
        ad.extend_from_slice(Tag::RecoveryCapsule.label().as_bytes());
        ad.extend_from_slice(self.stream.as_bytes());
        ad.extend_from_slice(&self.index.to_be_bytes());
        ad.extend_from_slice(self.prev.as_bytes());
        ad
    }

    /// `H(RecoveryCapsule, stream, u64be(index), prev, nonce, BLAKE3(ciphertext))`: the next
    /// capsule's `prev`.
    pub fn digest(&self) -> Digest {
        tagged_hash(
            Tag::RecoveryCapsule,
            &[
                self.stream.as_bytes(),
                &self.index.to_be_bytes(),
                self.prev.as_bytes(),
                &self.nonce,
                blake3::hash(&self.ciphertext).as_bytes(),
            ],
        )
    }
}

/// The most plaintext a capsule carries.
pub const MAX_CAPSULE_LEN: usize = 200 * 1024;

impl Canonical for Capsule {
    const MAX_ENCODED_LEN: usize = MAX_CAPSULE_LEN + 200;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.stream.as_bytes());
        w.uint(2, self.index);
        w.bytes(3, self.prev.as_bytes());
        w.bytes(4, &self.nonce);
        w.bytes(5, &self.ciphertext);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let stream = Digest(r.fixed(1)?);
        let index = r.uint(2)?;
        let prev = Digest(r.fixed(3)?);
        let nonce = r.fixed(4)?;
        let ciphertext = r.bytes(5, MAX_CAPSULE_LEN + 16)?.to_vec();
        if ciphertext.len() < 16 {
            return Err(DecodeError::Invalid(
                "a capsule carries at least its authentication tag",
            ));
        }
        if (index == 0) != (prev == Digest::ZERO) {
            return Err(DecodeError::Invalid(
                "only the first capsule has no predecessor",
            ));
        }
        Ok(Capsule {
            stream,
            index,
            prev,
            nonce,
            ciphertext,
        })
    }
}

/// The longest consistent prefix of a stream's capsules as served (any order, duplicates
/// and strays allowed): capsule 0, then each capsule whose `prev` is the digest of the one
/// before. Returns the chain; a stale replica simply yields a shorter chain, and two
/// different capsules at one index on the chain are reported as a fork (`Err(index)`).
pub fn consistent_chain(stream: &Digest, served: &[Capsule]) -> Result<Vec<Capsule>, u64> {
    let mut chain: Vec<Capsule> = Vec::new();
    let mut prev = Digest::ZERO;
    for index in 0u64.. {
        let mut at: Vec<&Capsule> = served
            .iter()
            .filter(|c| c.stream == *stream && c.index == index && c.prev == prev)
            .collect();
        at.sort_by_key(|c| c.digest());
        at.dedup_by_key(|c| c.digest());
        match at.len() {
            0 => break,
            1 => {
                prev = at[0].digest();
                chain.push(at[0].clone());
            }
            _ => return Err(index),
        }
    }
    Ok(chain)
}
