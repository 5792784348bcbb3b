//! The post-quantum crypto suite: ML-DSA-65 (FIPS 204, the default), SLH-DSA-SHA2-128f
//! (FIPS 205, the conservative hash-based choice) and ML-KEM-768 (FIPS 203).
//!
//! Every public key and signature carries its [`SuiteId`], so one verifier accepts both
//! signature suites and a signature can never be checked under the wrong algorithm.
//! Randomness is always an argument: this module never touches an RNG of its own.
//! Secret material is zeroized on drop and never printed by `Debug`.

use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::hash::tagged_hash;
use crate::tags::{Tag, SIGNATURE_CONTEXT};
use core::fmt;
use fips203::traits::{Decaps, Encaps, KeyGen as KemKeyGen, SerDes as KemSerDes};
use fips204::traits::{
    KeyGen as DsaKeyGen, SerDes as DsaSerDes, Signer as DsaSigner, Verifier as DsaVerifier,
};
use fips205::traits::{
    KeyGen as SlhKeyGen, SerDes as SlhSerDes, Signer as SlhSigner, Verifier as SlhVerifier,
};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A signature suite. The numeric value is the `suite` field of `PublicKey` and
/// `Signature` in the canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuiteId {
    /// ML-DSA-65 (FIPS 204, security category 3). Fast; the default.
    MlDsa65 = 1,
    /// SLH-DSA-SHA2-128f (FIPS 205). Hash-based, conservative, ~20x slower to sign.
    SlhDsaSha2_128f = 2,
    /// **Insecure, forgeable** test suite for the model checker only: the "signature" is a
    /// tagged hash of the public key and the message, so anyone can make one. It exists
    /// only with the `insecure-test-suite` feature, which only the model checker (its own
    /// workspace, `model/`) enables; the `dsm` binary (the wallet and the storage node)
    /// refuses to compile with it (see [`INSECURE_TEST_SUITE_ENABLED`]). A library build
    /// with the feature on decodes and verifies suite 0x7f: never enable it elsewhere.
    #[cfg(feature = "insecure-test-suite")]
    InsecureTest = 0x7f,
}

/// True when this build contains [`SuiteId`]`::InsecureTest`. Production binaries assert
/// at compile time that it is false, so Cargo feature unification can never ship it.
pub const INSECURE_TEST_SUITE_ENABLED: bool = cfg!(feature = "insecure-test-suite");

impl SuiteId {
    /// Every production suite (a build with the `insecure-test-suite` feature also accepts
    /// the test suite, which is not listed here).
    pub const ALL: [SuiteId; 2] = [SuiteId::MlDsa65, SuiteId::SlhDsaSha2_128f];

    /// Parses the wire value.
    pub fn from_u64(v: u64) -> Option<SuiteId> {
        match v {
            1 => Some(SuiteId::MlDsa65),
            2 => Some(SuiteId::SlhDsaSha2_128f),
            #[cfg(feature = "insecure-test-suite")]
            0x7f => Some(SuiteId::InsecureTest),
            _ => None,
        }
    }

    /// Public-key length in bytes.
    pub const fn public_key_len(self) -> usize {
        match self {
            SuiteId::MlDsa65 => fips204::ml_dsa_65::PK_LEN,
            SuiteId::SlhDsaSha2_128f => fips205::slh_dsa_sha2_128f::PK_LEN,
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => 32,
        }
    }

    /// Signature length in bytes.
    pub const fn signature_len(self) -> usize {
        match self {
            SuiteId::MlDsa65 => fips204::ml_dsa_65::SIG_LEN,
            SuiteId::SlhDsaSha2_128f => fips205::slh_dsa_sha2_128f::SIG_LEN,
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => 32,
        }
    }

    /// The name used on the command line and in documents.
    pub const fn name(self) -> &'static str {
        match self {
            SuiteId::MlDsa65 => "ml-dsa-65",
            SuiteId::SlhDsaSha2_128f => "slh-dsa-sha2-128f",
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => "insecure-test",
        }
    }
}

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum CryptoError {
    /// The suite of the signature differs from the suite of the key.
    #[error("signature suite {sig:?} does not match key suite {key:?}")]
    SuiteMismatch {
        /// Key suite.
        key: SuiteId,
        /// Signature suite.
        sig: SuiteId,
    },
    /// The bytes do not form a valid key of the stated suite.
    #[error("malformed public key")]
    MalformedKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The underlying implementation refused to sign (never expected).
    #[error("signing failed: {0}")]
    SigningFailed(&'static str),
    /// A KEM ciphertext or key had the wrong length or failed validation.
    #[error("malformed KEM input")]
    MalformedKem,
}

/// A 32-byte secret seed from which a signing key is derived deterministically.
/// Zeroized on drop; `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretSeed([u8; 32]);

impl SecretSeed {
    /// Wraps caller-provided random bytes (from the OS RNG, a mnemonic, a test).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretSeed(bytes)
    }

    /// The seed bytes. Handle with care: this is the whole key.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSeed(<redacted>)")
    }
}

/// A suite-tagged public key. Canonical form: `{1: suite, 2: key bytes}`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    suite: SuiteId,
    bytes: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = tagged_hash(Tag::Statement, &[&self.bytes]);
        write!(f, "PublicKey({}, {:?}…)", self.suite.name(), d)
    }
}

impl PublicKey {
    /// Builds a key from raw bytes, checking the length for the suite.
    pub fn from_parts(suite: SuiteId, bytes: Vec<u8>) -> Result<Self, CryptoError> {
        if bytes.len() != suite.public_key_len() {
            return Err(CryptoError::MalformedKey);
        }
        Ok(PublicKey { suite, bytes })
    }

    /// The suite.
    pub fn suite(&self) -> SuiteId {
        self.suite
    }

    /// The raw key bytes (without the suite id).
    pub fn key_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Verifies a DSM signature over `message` (DSM context string, pure mode).
    pub fn verify(&self, message: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        #[cfg(feature = "op-counts")]
        op_counts::VERIFIES.with(|n| n.set(n.get() + 1));
        self.verify_with_context(message, SIGNATURE_CONTEXT, sig)
    }

    /// Verifies a FIPS 204/205 "pure" signature with an arbitrary context string. DSM uses
    /// [`PublicKey::verify`]; this entry point exists for the official test vectors.
    pub fn verify_with_context(
        &self,
        message: &[u8],
        ctx: &[u8],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        if sig.suite != self.suite {
            return Err(CryptoError::SuiteMismatch {
                key: self.suite,
                sig: sig.suite,
            });
        }
        let ok = match self.suite {
            SuiteId::MlDsa65 => {
                use fips204::ml_dsa_65 as p;
                let pk = <[u8; p::PK_LEN]>::try_from(self.bytes.as_slice())
                    .map_err(|_| CryptoError::MalformedKey)?;
                let pk = p::PublicKey::try_from_bytes(pk).map_err(|_| CryptoError::MalformedKey)?;
                let s = <[u8; p::SIG_LEN]>::try_from(sig.bytes.as_slice())
                    .map_err(|_| CryptoError::BadSignature)?;
                pk.verify(message, &s, ctx)
            }
            SuiteId::SlhDsaSha2_128f => {
                use fips205::slh_dsa_sha2_128f as p;
                let pk = <[u8; p::PK_LEN]>::try_from(self.bytes.as_slice())
                    .map_err(|_| CryptoError::MalformedKey)?;
                let pk = p::PublicKey::try_from_bytes(pk).map_err(|_| CryptoError::MalformedKey)?;
                let s = <[u8; p::SIG_LEN]>::try_from(sig.bytes.as_slice())
                    .map_err(|_| CryptoError::BadSignature)?;
                pk.verify(message, &s, ctx)
            }
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => {
                sig.bytes.as_slice()
                    == insecure_test_signature(&self.bytes, ctx, message).as_bytes()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }
}

impl Canonical for PublicKey {
    const MAX_ENCODED_LEN: usize = 4096;

    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.suite as u64);
        w.bytes(2, &self.bytes);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let suite =
            SuiteId::from_u64(r.uint(1)?).ok_or(DecodeError::Invalid("unknown signature suite"))?;
        let bytes = r.bytes(2, suite.public_key_len())?;
        if bytes.len() != suite.public_key_len() {
            return Err(DecodeError::Length {
                field: 2,
                len: bytes.len(),
                expected: suite.public_key_len(),
            });
        }
        Ok(PublicKey {
            suite,
            bytes: bytes.to_vec(),
        })
    }
}

/// A suite-tagged signature. Canonical form: `{1: suite, 2: signature bytes}`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    suite: SuiteId,
    bytes: Vec<u8>,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({}, {} bytes)",
            self.suite.name(),
            self.bytes.len()
        )
    }
}

impl Signature {
    /// Builds a signature from raw bytes, checking the length for the suite.
    pub fn from_parts(suite: SuiteId, bytes: Vec<u8>) -> Result<Self, CryptoError> {
        if bytes.len() != suite.signature_len() {
            return Err(CryptoError::BadSignature);
        }
        Ok(Signature { suite, bytes })
    }

    /// The suite.
    pub fn suite(&self) -> SuiteId {
        self.suite
    }

    /// The raw signature bytes.
    pub fn sig_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Canonical for Signature {
    const MAX_ENCODED_LEN: usize = 20_000;

    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.suite as u64);
        w.bytes(2, &self.bytes);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let suite =
            SuiteId::from_u64(r.uint(1)?).ok_or(DecodeError::Invalid("unknown signature suite"))?;
        let bytes = r.bytes(2, suite.signature_len())?;
        if bytes.len() != suite.signature_len() {
            return Err(DecodeError::Length {
                field: 2,
                len: bytes.len(),
                expected: suite.signature_len(),
            });
        }
        Ok(Signature {
            suite,
            bytes: bytes.to_vec(),
        })
    }
}

enum SecretKey {
    MlDsa65(Box<fips204::ml_dsa_65::PrivateKey>),
    SlhDsaSha2_128f(Box<fips205::slh_dsa_sha2_128f::PrivateKey>),
    #[cfg(feature = "insecure-test-suite")]
    InsecureTest(SecretSeed),
}

/// A signing key of either suite. The private key is zeroized on drop by the underlying
/// crates; `Debug` shows only the suite and public-key fingerprint.
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(<redacted>, {:?})", self.public)
    }
}

impl SigningKey {
    /// Derives a key deterministically from a seed. For ML-DSA-65 the seed is the FIPS 204
    /// key-generation seed ξ; for SLH-DSA the three FIPS 205 seeds are
    /// `SK.seed ‖ SK.prf ‖ PK.seed = BLAKE3-XOF(tagged_hash(SlhDsaKeySeed, seed))[0..48]`.
    pub fn from_seed(suite: SuiteId, seed: &SecretSeed) -> Self {
        match suite {
            SuiteId::MlDsa65 => {
                let (pk, sk) = fips204::ml_dsa_65::KG::keygen_from_seed(&seed.0);
                let public = PublicKey {
                    suite,
                    bytes: pk.into_bytes().to_vec(),
                };
                SigningKey {
                    secret: SecretKey::MlDsa65(Box::new(sk)),
                    public,
                }
            }
            SuiteId::SlhDsaSha2_128f => {
                let d = tagged_hash(Tag::SlhDsaKeySeed, &[&seed.0]);
                let mut xof = blake3::Hasher::new();
                xof.update(d.as_bytes());
                let mut material = [0u8; 48];
                xof.finalize_xof().fill(&mut material);
                let mut parts = [[0u8; 16]; 3];
                for (i, p) in parts.iter_mut().enumerate() {
                    p.copy_from_slice(&material[16 * i..16 * (i + 1)]);
                }
                material.zeroize();
                let key = Self::slh_dsa_from_fips205_seeds(&parts[0], &parts[1], &parts[2]);
                parts.zeroize();
                key
            }
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => {
                let public = PublicKey {
                    suite,
                    bytes: tagged_hash(Tag::InsecureTestSignature, &[b"public key", &seed.0])
                        .as_bytes()
                        .to_vec(),
                };
                SigningKey {
                    secret: SecretKey::InsecureTest(seed.clone()),
                    public,
                }
            }
        }
    }

    /// SLH-DSA-SHA2-128f key generation from the three FIPS 205 seeds (as in the ACVP
    /// key-generation vectors).
    pub fn slh_dsa_from_fips205_seeds(
        sk_seed: &[u8; 16],
        sk_prf: &[u8; 16],
        pk_seed: &[u8; 16],
    ) -> Self {
        let (pk, sk) = fips205::slh_dsa_sha2_128f::KG::keygen_from_seed(sk_seed, sk_prf, pk_seed);
        let public = PublicKey {
            suite: SuiteId::SlhDsaSha2_128f,
            bytes: pk.into_bytes().to_vec(),
        };
        SigningKey {
            secret: SecretKey::SlhDsaSha2_128f(Box::new(sk)),
            public,
        }
    }

    /// Rebuilds a key from its encoded FIPS 204/205 private key (`sk` bytes), e.g. from the
    /// official test vectors. Prefer [`SigningKey::from_seed`] for storage: a seed is smaller.
    pub fn from_private_key_bytes(suite: SuiteId, bytes: &[u8]) -> Result<Self, CryptoError> {
        match suite {
            SuiteId::MlDsa65 => {
                use fips204::ml_dsa_65 as p;
                let arr = zeroize::Zeroizing::new(
                    <[u8; p::SK_LEN]>::try_from(bytes).map_err(|_| CryptoError::MalformedKey)?,
                );
                let sk =
                    p::PrivateKey::try_from_bytes(*arr).map_err(|_| CryptoError::MalformedKey)?;
                let public = PublicKey {
                    suite,
                    bytes: sk.get_public_key().into_bytes().to_vec(),
                };
                Ok(SigningKey {
                    secret: SecretKey::MlDsa65(Box::new(sk)),
                    public,
                })
            }
            SuiteId::SlhDsaSha2_128f => {
                use fips205::slh_dsa_sha2_128f as p;
                let arr = zeroize::Zeroizing::new(
                    <[u8; p::SK_LEN]>::try_from(bytes).map_err(|_| CryptoError::MalformedKey)?,
                );
                let sk =
                    p::PrivateKey::try_from_bytes(*arr).map_err(|_| CryptoError::MalformedKey)?;
                let public = PublicKey {
                    suite,
                    bytes: sk.get_public_key().into_bytes().to_vec(),
                };
                Ok(SigningKey {
                    secret: SecretKey::SlhDsaSha2_128f(Box::new(sk)),
                    public,
                })
            }
            #[cfg(feature = "insecure-test-suite")]
            SuiteId::InsecureTest => {
                let seed = <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::MalformedKey)?;
                Ok(SigningKey::from_seed(suite, &SecretSeed(seed)))
            }
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The suite.
    pub fn suite(&self) -> SuiteId {
        self.public.suite
    }

    /// The encoded private key (FIPS 204/205 `sk` bytes), for KAT comparison and sealed
    /// storage. Wrapped so it is zeroized when dropped.
    pub fn private_key_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(match &self.secret {
            SecretKey::MlDsa65(sk) => sk.clone().into_bytes().to_vec(),
            SecretKey::SlhDsaSha2_128f(sk) => sk.clone().into_bytes().to_vec(),
            #[cfg(feature = "insecure-test-suite")]
            SecretKey::InsecureTest(seed) => seed.0.to_vec(),
        })
    }

    /// Signs `message` under the DSM context string. `rnd` is the caller's fresh randomness
    /// (hedged signing); all zeros gives the deterministic variant of FIPS 204/205.
    pub fn sign(&self, message: &[u8], rnd: &[u8; 32]) -> Result<Signature, CryptoError> {
        #[cfg(feature = "op-counts")]
        op_counts::SIGNS.with(|n| n.set(n.get() + 1));
        self.sign_with_context(message, SIGNATURE_CONTEXT, rnd)
    }

    /// Signs in FIPS 204/205 "pure" mode with an arbitrary context (for test vectors).
    /// For SLH-DSA the first 16 bytes of `rnd` are `opt_rand`; all-zero `rnd` selects the
    /// deterministic variant (`opt_rand = PK.seed`).
    pub fn sign_with_context(
        &self,
        message: &[u8],
        ctx: &[u8],
        rnd: &[u8; 32],
    ) -> Result<Signature, CryptoError> {
        let bytes = match &self.secret {
            SecretKey::MlDsa65(sk) => sk
                .try_sign_with_seed(rnd, message, ctx)
                .map_err(CryptoError::SigningFailed)?
                .to_vec(),
            SecretKey::SlhDsaSha2_128f(sk) => {
                let hedged = rnd.iter().any(|&b| b != 0);
                let mut rng = FixedRng {
                    bytes: *rnd,
                    used: 0,
                };
                let s = sk
                    .try_sign_with_rng(&mut rng, message, ctx, hedged)
                    .map_err(CryptoError::SigningFailed)?;
                rng.bytes.zeroize();
                s.to_vec()
            }
            #[cfg(feature = "insecure-test-suite")]
            SecretKey::InsecureTest(_) => insecure_test_signature(&self.public.bytes, ctx, message)
                .as_bytes()
                .to_vec(),
        };
        Ok(Signature {
            suite: self.public.suite,
            bytes,
        })
    }
}

/// The forgeable "signature" of [`SuiteId`]`::InsecureTest`: a tagged hash anyone can
/// compute from the public key. Model checking only.
#[cfg(feature = "insecure-test-suite")]
fn insecure_test_signature(public_key: &[u8], ctx: &[u8], message: &[u8]) -> crate::hash::Digest {
    tagged_hash(Tag::InsecureTestSignature, &[public_key, ctx, message])
}

/// Hands out the caller's randomness to the FIPS 205 signer, which asks for `n` bytes.
struct FixedRng {
    bytes: [u8; 32],
    used: usize,
}

impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest.iter_mut() {
            *d = self.bytes[self.used % 32];
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for FixedRng {}

/// An ML-KEM-768 encapsulation (public) key.
#[derive(Clone, PartialEq, Eq)]
pub struct KemPublicKey(Vec<u8>);

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = tagged_hash(Tag::Statement, &[&self.0]);
        write!(f, "KemPublicKey({d:?}…)")
    }
}

/// An ML-KEM-768 decapsulation (private) key; zeroized on drop.
pub struct KemSecretKey(Box<fips203::ml_kem_768::DecapsKey>);

impl fmt::Debug for KemSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KemSecretKey(<redacted>)")
    }
}

/// A 32-byte ML-KEM shared secret; zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SharedSecret(pub [u8; 32]);

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl KemPublicKey {
    /// Parses an encapsulation key, running the FIPS 203 input check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr = <[u8; fips203::ml_kem_768::EK_LEN]>::try_from(bytes)
            .map_err(|_| CryptoError::MalformedKem)?;
        fips203::ml_kem_768::EncapsKey::try_from_bytes(arr)
            .map_err(|_| CryptoError::MalformedKem)?;
        Ok(KemPublicKey(bytes.to_vec()))
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Encapsulates with caller-supplied randomness `m`; returns (shared secret, ciphertext).
    pub fn encapsulate(&self, m: &[u8; 32]) -> Result<(SharedSecret, Vec<u8>), CryptoError> {
        let arr = <[u8; fips203::ml_kem_768::EK_LEN]>::try_from(self.0.as_slice())
            .map_err(|_| CryptoError::MalformedKem)?;
        let ek = fips203::ml_kem_768::EncapsKey::try_from_bytes(arr)
            .map_err(|_| CryptoError::MalformedKem)?;
        let (ss, ct) = ek.encaps_from_seed(m);
        Ok((SharedSecret(ss.into_bytes()), ct.into_bytes().to_vec()))
    }
}

impl KemSecretKey {
    /// FIPS 203 key generation from the seeds `d` and `z`.
    pub fn from_seeds(d: &[u8; 32], z: &[u8; 32]) -> (KemPublicKey, KemSecretKey) {
        let (ek, dk) = fips203::ml_kem_768::KG::keygen_from_seed(*d, *z);
        (
            KemPublicKey(ek.into_bytes().to_vec()),
            KemSecretKey(Box::new(dk)),
        )
    }

    /// Parses an encoded decapsulation key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr = <[u8; fips203::ml_kem_768::DK_LEN]>::try_from(bytes)
            .map_err(|_| CryptoError::MalformedKem)?;
        Ok(KemSecretKey(Box::new(
            fips203::ml_kem_768::DecapsKey::try_from_bytes(arr)
                .map_err(|_| CryptoError::MalformedKem)?,
        )))
    }

    /// The encoded decapsulation key, zeroized when dropped.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(self.0.clone().into_bytes().to_vec())
    }

    /// Decapsulates a ciphertext (implicit rejection: a bad ciphertext yields an unrelated
    /// secret, as FIPS 203 requires).
    pub fn decapsulate(&self, ct: &[u8]) -> Result<SharedSecret, CryptoError> {
        let arr = <[u8; fips203::ml_kem_768::CT_LEN]>::try_from(ct)
            .map_err(|_| CryptoError::MalformedKem)?;
        let ct = fips203::ml_kem_768::CipherText::try_from_bytes(arr)
            .map_err(|_| CryptoError::MalformedKem)?;
        let ss = self
            .0
            .try_decaps(&ct)
            .map_err(|_| CryptoError::MalformedKem)?;
        Ok(SharedSecret(ss.into_bytes()))
    }
}

/// How many DSM signatures this thread made ([`SigningKey::sign`]) and checked
/// ([`PublicKey::verify`]) so far: what a benchmark divides its time by, rather than an
/// assumed count, and what a test of a cache counts. Per thread, so tests running side by
/// side do not count each other's work. Only with the `op-counts` feature (benchmarks and
/// tests).
#[cfg(feature = "op-counts")]
pub mod op_counts {
    use std::cell::Cell;

    thread_local! {
        pub(super) static SIGNS: Cell<u64> = const { Cell::new(0) };
        pub(super) static VERIFIES: Cell<u64> = const { Cell::new(0) };
    }

    /// Signatures made on this thread so far.
    pub fn signs() -> u64 {
        SIGNS.with(Cell::get)
    }

    /// Signatures checked on this thread so far.
    pub fn verifies() -> u64 {
        VERIFIES.with(Cell::get)
    }
}
