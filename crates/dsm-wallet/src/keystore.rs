//! The signing key at rest: the 32-byte key seed sealed with XChaCha20-Poly1305 under a key
//! derived from the passphrase by Argon2id. Layout of a sealed key (all big-endian):
//!
//! ```text
//! magic "DSMK" ‖ version u8 ‖ suite u8 ‖ m_cost_kib u32 ‖ t_cost u32 ‖ p_cost u32
//!   ‖ salt [16] ‖ nonce [24] ‖ ciphertext
//! ```
//! Version 1 seals the 32-byte key seed (ciphertext 32 + 16 tag); version 2 seals the seed
//! followed by the 32-byte recovery-capsule key (64 + 16), for a device of an identity with
//! a recovery phrase (PROTOCOL.md §20): the device can write capsules but holds nothing that
//! signs for the recovery authority.
//! The header (everything before the ciphertext) is the AEAD's associated data, so editing
//! the parameters or the suite makes the passphrase check fail instead of deriving garbage.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

const MAGIC: &[u8; 4] = b"DSMK";
const HEADER_LEN: usize = 4 + 1 + 1 + 12 + 16 + 24;
const SEALED_LEN: usize = HEADER_LEN + 32 + 16;
const SEALED_LEN_V2: usize = HEADER_LEN + 64 + 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The most memory a sealed key may ask for: 1 GiB.
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// The most passes a sealed key may ask for.
    pub const MAX_T_COST: u32 = 64;
    /// The most lanes a sealed key may ask for.
    pub const MAX_P_COST: u32 = 16;

    /// Checks the parameters against this build's bounds. They are read from the wallet
    /// file before the passphrase can be checked, so a damaged or hostile file could
    /// otherwise make opening hang or allocate gigabytes.
    pub fn check(&self) -> Result<(), KeystoreError> {
        if self.m_cost_kib > Self::MAX_M_COST_KIB
            || self.t_cost == 0
            || self.t_cost > Self::MAX_T_COST
            || self.p_cost == 0
            || self.p_cost > Self::MAX_P_COST
        {
            return Err(KeystoreError::Params(format!(
                "the sealed key asks for {} KiB, {} passes and {} lanes; this build derives with at most {} KiB, {} passes and {} lanes (the wallet file is \
                 damaged or was not made by dsm)",
                self.m_cost_kib,
                self.t_cost,
                self.p_cost,
                Self::MAX_M_COST_KIB,
                Self::MAX_T_COST,
                Self::MAX_P_COST
            )));
        }
        Ok(())
    }
}

impl Default for KdfParams {
    /// OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane (tens of milliseconds here).
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Why a sealed key could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeystoreError {
    /// The passphrase is wrong (or the sealed key was altered).
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The sealed key is not in a format this build reads.
    #[error("the sealed key is damaged or in an unknown format")]
    Malformed,
    /// The KDF parameters are out of range.
    #[error("bad key-derivation parameters: {0}")]
    Params(String),
}

fn derive(
    passphrase: &[u8],
    salt: &[u8; 16],
    p: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    p.check()?;
    let params = Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| KeystoreError::Params(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, out.as_mut())
        .map_err(|e| KeystoreError::Params(e.to_string()))?;
    Ok(out)
}

/// Seals `seed` (for a key of `suite`) under `passphrase`. `salt` and `nonce` must be fresh
/// random bytes.
pub fn seal(
    seed: &SecretSeed,
    suite: SuiteId,
    passphrase: &[u8],
    params: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 24],
) -> Result<Vec<u8>, KeystoreError> {
    seal_keys(seed, None, suite, passphrase, params, salt, nonce)
}

/// Seals `seed` and, if given, the recovery-capsule key (version 2) under `passphrase`.
pub fn seal_keys(
    seed: &SecretSeed,
    capsule_key: Option<&[u8; 32]>,
    suite: SuiteId,
    passphrase: &[u8],
    params: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 24],
) -> Result<Vec<u8>, KeystoreError> {
    let mut out = Vec::with_capacity(SEALED_LEN_V2);
    out.extend_from_slice(MAGIC);
    out.push(if capsule_key.is_some() { 2 } else { 1 });
    out.push(suite as u8);
    out.extend_from_slice(&params.m_cost_kib.to_be_bytes());
    out.extend_from_slice(&params.t_cost.to_be_bytes());
    out.extend_from_slice(&params.p_cost.to_be_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let key = derive(passphrase, &salt, params)?;
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let mut msg = Zeroizing::new(seed.expose_secret().to_vec());
    if let Some(k) = capsule_key {
        msg.extend_from_slice(k);
    }
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &msg,
                aad: &out,
            },
        )
        .map_err(|_| KeystoreError::Malformed)?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a sealed key with `passphrase`, returning the signing key.
pub fn open(sealed: &[u8], passphrase: &[u8]) -> Result<SigningKey, KeystoreError> {
    Ok(open_keys(sealed, passphrase)?.0)
}

/// Opens a sealed key with `passphrase`: the signing key and, for version 2, the
/// recovery-capsule key.
#[allow(clippy::type_complexity)]
pub fn open_keys(
    sealed: &[u8],
    passphrase: &[u8],
) -> Result<(SigningKey, Option<Zeroizing<[u8; 32]>>), KeystoreError> {
    let v2 = match (sealed.len(), sealed.get(4)) {
        (SEALED_LEN, Some(1)) => false,
        (SEALED_LEN_V2, Some(2)) => true,
        _ => return Err(KeystoreError::Malformed),
    };
    if &sealed[..4] != MAGIC {
        return Err(KeystoreError::Malformed);
    }
    let suite = SuiteId::from_u64(u64::from(sealed[5])).ok_or(KeystoreError::Malformed)?;
    let u32_at =
        |i: usize| u32::from_be_bytes([sealed[i], sealed[i + 1], sealed[i + 2], sealed[i + 3]]);
    let params = KdfParams {
        m_cost_kib: u32_at(6),
        t_cost: u32_at(10),
        p_cost: u32_at(14),
    };
    let salt: [u8; 16] = sealed[18..34]
        .try_into()
        .map_err(|_| KeystoreError::Malformed)?;
    let nonce: [u8; 24] = sealed[34..58]
        .try_into()
        .map_err(|_| KeystoreError::Malformed)?;
    let key = derive(passphrase, &salt, params)?;
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let seed = Zeroizing::new(
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &sealed[..HEADER_LEN],
                },
            )
            .map_err(|_| KeystoreError::WrongPassphrase)?,
    );
    let mut bytes: [u8; 32] = seed[..32]
        .try_into()
        .map_err(|_| KeystoreError::Malformed)?;
    let capsule_key = if v2 {
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&seed[32..64]);
        Some(k)
    } else {
        None
    };
    let seed = SecretSeed::from_bytes(bytes);
    bytes.zeroize();
    Ok((SigningKey::from_seed(suite, &seed), capsule_key))
}
