//! A backup file (PROTOCOL.md §20.9): an encrypted copy of a whole wallet, sealed under a key
//! derived from the device's capsule key, so only the recovery phrase (or the wallet that
//! wrote it) opens it.
//!
//! ```text
//! file      = magic (12) ‖ u64be(generation) ‖ nonce (24) ‖ ciphertext
//! magic     = "DSM-backup" ‖ 0x00 ‖ 0x01
//! key       = H(BackupFile, capsule key of that generation)
//! ciphertext = XChaCha20-Poly1305(key, nonce, plaintext = canonical WalletSnapshot,
//!                                  associated data = the 44 header bytes)
//! ```
//!
//! The generation is in clear because the phrase derives one capsule key per device
//! generation and the reader must know which to try; nothing else is.

use crate::{CapsuleKey, RecoveryError};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::tags::Tag;
use thiserror::Error;

/// The first 12 bytes of every backup file: `"DSM-backup"`, a zero byte, format 1.
pub const MAGIC: &[u8; 12] = b"DSM-backup\x00\x01";
/// Magic, generation and nonce: the associated data of the ciphertext.
pub const HEADER_LEN: usize = 12 + 8 + 24;
/// The largest backup file read (1 GiB): a longer file is refused before it is decrypted.
pub const MAX_FILE_LEN: usize = 1 << 30;
/// The longest record key.
pub const MAX_KEY_LEN: usize = 1 << 16;
/// The longest record value (a wallet's largest records, equivocation proofs, are 256 KiB).
pub const MAX_VALUE_LEN: usize = 16 << 20;
/// The most records one snapshot holds.
pub const MAX_RECORDS: usize = 1 << 24;

/// Why a backup file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackupFileError {
    /// The file does not start with [`MAGIC`] (or with another format's).
    #[error("not a DSM backup file (it does not start with the backup file's magic bytes)")]
    NotABackup,
    /// A DSM backup of a format this software does not read.
    #[error("a DSM backup of format {0}, which this version does not read; use a newer dsm")]
    Format(u8),
    /// Shorter than its header and tag.
    #[error("the backup file is truncated")]
    Truncated,
    /// Longer than [`MAX_FILE_LEN`].
    #[error("the backup file is larger than {MAX_FILE_LEN} bytes")]
    TooLarge,
    /// The ciphertext does not open: another phrase, or damaged bytes.
    #[error("the backup does not open with this recovery phrase: a wrong phrase, or the file is damaged")]
    Open,
    /// It opened but its content is not a canonical snapshot.
    #[error("the backup's content is malformed: {0}")]
    Malformed(DecodeError),
}

/// One wallet record: `(table id, key, value)` as the wallet's store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The table's frozen one-byte id (never 0).
    pub table: u8,
    /// The record's key (never empty).
    pub key: Vec<u8>,
    /// Its value (may be empty).
    pub value: Vec<u8>,
}

impl Canonical for Record {
    const MAX_ENCODED_LEN: usize = 16 + MAX_KEY_LEN + MAX_VALUE_LEN;

    fn encode(&self, w: &mut Writer) {
        w.uint(1, u64::from(self.table));
        w.bytes(2, &self.key);
        w.bytes(3, &self.value);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table = r.uint_max(1, 255)? as u8;
        if table == 0 {
            return Err(DecodeError::Invalid("a backup record names table 0"));
        }
        let key = r.bytes(2, MAX_KEY_LEN)?.to_vec();
        if key.is_empty() {
            return Err(DecodeError::Invalid("a backup record has an empty key"));
        }
        let value = r.bytes(3, MAX_VALUE_LEN)?.to_vec();
        Ok(Record { table, key, value })
    }
}

/// Every record of a wallet at one head, ascending by `(table, key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletSnapshot {
    /// The device whose wallet this is.
    pub device: Digest,
    /// The digest of its head when the snapshot was taken.
    pub head: Digest,
    /// The records, strictly ascending by `(table, key)`: one encoding per wallet state.
    pub records: Vec<Record>,
}

impl Canonical for WalletSnapshot {
    const MAX_ENCODED_LEN: usize = MAX_FILE_LEN;

    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.device.as_bytes());
        w.bytes(2, self.head.as_bytes());
        w.repeated_message(3, &self.records);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device = Digest(r.fixed(1)?);
        let head = Digest(r.fixed(2)?);
        let records: Vec<Record> = r.repeated_message(3, MAX_RECORDS)?;
        if !records
            .windows(2)
            .all(|w| (w[0].table, &w[0].key) < (w[1].table, &w[1].key))
        {
            return Err(DecodeError::Invalid(
                "backup records are not strictly ascending by table and key",
            ));
        }
        Ok(WalletSnapshot {
            device,
            head,
            records,
        })
    }
}

/// The key a backup file of the device holding `capsules` is sealed under:
/// `H(BackupFile, capsule key)`.
fn file_key(capsules: &CapsuleKey) -> CapsuleKey {
    CapsuleKey::from_parts(
        tagged_hash(Tag::BackupFile, &[capsules.secret_bytes()]).0,
        capsules.stream,
    )
}

/// Seals `snapshot` as a backup file of device generation `generation`, whose capsule key is
/// `capsules`, under the random `nonce`.
pub fn seal(
    capsules: &CapsuleKey,
    generation: u64,
    snapshot: &WalletSnapshot,
    nonce: [u8; 24],
) -> Vec<u8> {
    let mut file = Vec::with_capacity(HEADER_LEN);
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&generation.to_be_bytes());
    file.extend_from_slice(&nonce);
    let ct = file_key(capsules).encrypt(&nonce, &snapshot.to_bytes(), &file);
    file.extend_from_slice(&ct);
    file
}

/// The device generation a backup file names in clear (which capsule key opens it).
pub fn generation(file: &[u8]) -> Result<u64, BackupFileError> {
    if file.len() > MAX_FILE_LEN {
        return Err(BackupFileError::TooLarge);
    }
    let magic = file.get(..12).ok_or(BackupFileError::Truncated)?;
    if magic[..11] != MAGIC[..11] {
        return Err(BackupFileError::NotABackup);
    }
    if magic[11] != MAGIC[11] {
        return Err(BackupFileError::Format(magic[11]));
    }
    if file.len() < HEADER_LEN + 16 {
        return Err(BackupFileError::Truncated);
    }
    Ok(u64::from_be_bytes(
        file[12..20].try_into().expect("8 bytes"),
    ))
}

/// Opens a backup file with the capsule key of the generation it names
/// ([`generation`]): the snapshot, or why not.
pub fn open(capsules: &CapsuleKey, file: &[u8]) -> Result<WalletSnapshot, BackupFileError> {
    generation(file)?;
    let nonce: [u8; 24] = file[20..HEADER_LEN].try_into().expect("24 bytes");
    let pt = file_key(capsules)
        .decrypt(&nonce, &file[HEADER_LEN..], &file[..HEADER_LEN])
        .map_err(|_: RecoveryError| BackupFileError::Open)?;
    WalletSnapshot::from_bytes(&pt).map_err(BackupFileError::Malformed)
}
