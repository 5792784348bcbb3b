//! A device: identity, sealed key, committed head and tree, and everything it remembers,
//! over a [`Store`]. Implements the session's [`Ledger`] (one atomic batch per state change)
//! and the acceptance predicate's [`ChainView`].

use crate::keystore::{self, KdfParams, KeystoreError};
use crate::store::{Batch, Store, StoreError, Table};
use dsm_core::chain::{
    dev_allocation_cause, Amount, DeviceHead, HeadDigest, RelationshipKey, RelationshipStep,
    TipDigest, TokenId,
};
use dsm_core::codec::Canonical;
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{object_address, tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, EntropyReveal, GenesisCeremony};
use dsm_core::parcel::{Parcel, VerifiedLineage};
use dsm_core::receipt::{
    verify_proposal, BuiltAcceptance, BuiltProposal, BuiltRefusal, BuiltRelease, ChainView,
    EmptyView, Offer, Receipt, SignedAcceptance, SignedProposal, SignedRefusal, VerifiedProposal,
    VerifiedRefusal, ViewError,
};
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use dsm_core::tripwire::{Equivocation, EquivocationProof, Statement};
use dsm_protocol::card::ContactCard;
use dsm_protocol::session::{Ledger, LedgerError, LineageRefusal};
use dsm_protocol::tripwire::{Observation, Refused};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use thiserror::Error;

pub use dsm_protocol::session::RefusalReason;

pub use dsm_protocol::exposure::ReceivePolicy;
use dsm_protocol::exposure::{Exposure, UnsettledCredit};

mod caches;
mod correspondents;
pub mod parcels;
mod tokens;
pub use tokens::{EmissionSync, MintOutcome, TokenInfo, TokenView};
pub mod backup;
pub mod recovery;
pub mod refresh;
mod vaults;
pub use vaults::{VaultInfo, VaultSeen, VaultStatus, WitnessMaterial};

/// The token a fresh wallet knows by name: the dev-faucet token.
pub const DEFAULT_TOKEN: &str = "DEV";

/// The most b0x items a wallet keeps in custody (PROTOCOL.md §16.3): past it, the nodes
/// keep what it could not take until it finishes some.
pub const MAX_CUSTODY: usize = 256;

const FORMAT_VERSION: &[u8] = b"dsm-wallet/1";
/// Meta key of the device's admission of its recovery authority (PROTOCOL.md §15.2).
pub(crate) const AUTHORITY_ADMISSION: &[u8] = b"authority_admission";

/// Records `key`'s admission of `record`'s recovery authority to `identity`'s slots, when
/// the record names one: signed once, at the device's creation, so a backup file carries it.
pub(crate) fn put_authority_admission(
    b: &mut Batch,
    key: &SigningKey,
    identity: &DeviceIdentity,
    record: &dsm_core::identity::GenesisRecord,
) -> Result<(), WalletError> {
    if let Some(a) = &record.recovery_authority {
        let sig = dsm_core::slot::admit_authority(key, identity, a).map_err(|e| {
            WalletError::Recovery(format!("cannot admit the recovery authority: {e}"))
        })?;
        b.put(Table::Meta, AUTHORITY_ADMISSION.to_vec(), sig.to_bytes());
    }
    Ok(())
}

/// Why a wallet operation failed.
#[derive(Debug, Error)]
pub enum WalletError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The key could not be opened.
    #[error("{0}")]
    Keystore(#[from] KeystoreError),
    /// Stored bytes do not decode: the wallet file is damaged.
    #[error("the wallet data is damaged ({what}: {error}); restore it from a backup")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decode error.
        error: String,
    },
    /// A recovery step failed (the message says what to do).
    #[error("recovery: {0}")]
    Recovery(String),
    /// The user did not confirm (or asked for a dry run): nothing was done.
    #[error("not confirmed: nothing was done")]
    Declined,
    /// `create` on a store that already holds a wallet.
    #[error("a wallet already exists here; use another --home to create a second one")]
    AlreadyExists,
    /// `open` on an empty store.
    #[error("no wallet here yet; create one with `dsm init`")]
    NotFound,
    /// A balance change is impossible.
    #[error("{0}")]
    Balance(#[from] dsm_core::chain::BalanceError),
    /// Randomness from the operating system is unavailable.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// A contact name or card is unusable.
    #[error("{0}")]
    Contact(String),
    /// A state change could not be committed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The genesis ceremony failed.
    #[error("genesis failed: {0}")]
    Genesis(String),
    /// A token operation is refused by its policy or cannot be done here.
    #[error("{0}")]
    Token(String),
    /// The parcels this device holds cannot make the payment (PROTOCOL.md §5.6).
    #[error("{0}")]
    Parcels(String),
    /// A backup file was refused (PROTOCOL.md §20.9).
    #[error("{0}")]
    Backup(dsm_recovery::backup::BackupFileError),
    /// The wallet was restored from a backup as the same device and signs nothing until
    /// the storage nodes show nothing newer (`dsm backup unfreeze`, PROTOCOL.md §20.9).
    #[error("this wallet was restored from a backup as the same device and is frozen: {0}")]
    Frozen(String),
}

impl From<dsm_token::authority::AuthorityError> for WalletError {
    fn from(e: dsm_token::authority::AuthorityError) -> Self {
        WalletError::Token(e.to_string())
    }
}

impl From<dsm_token::djte::DjteError> for WalletError {
    fn from(e: dsm_token::djte::DjteError) -> Self {
        WalletError::Token(e.to_string())
    }
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Store(e.to_string())
    }
}

impl From<WalletError> for LedgerError {
    fn from(e: WalletError) -> Self {
        LedgerError::Store(e.to_string())
    }
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> WalletError {
    move |e| WalletError::Corrupt {
        what,
        error: e.to_string(),
    }
}

/// Every JSON record of `table`, in key order; one that does not parse is a damaged `what`.
fn scan_json<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    table: Table,
    what: &'static str,
) -> Result<Vec<T>, WalletError> {
    store
        .scan(table)?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(corrupt(what)))
        .collect()
}

/// What a history line records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// We paid `peer`.
    Sent,
    /// `peer` paid us.
    Received,
    /// Non-production dev-faucet allocation.
    DevFaucet,
    /// A policy's initial allocation claimed by this device.
    Allocated,
    /// An issuer-signed mint to this device.
    Minted,
    /// A DJTE emission this device won.
    Emission,
    /// Units this device burned.
    Burned,
    /// Units this device locked into a vault.
    VaultLocked,
    /// A vault's release branch credited this device.
    VaultClaimed,
    /// A vault's refund branch credited this device.
    VaultRefunded,
    /// dBTC this device asked to withdraw to Bitcoin (in flight until paid or declined).
    WithdrawalRequested,
    /// A declined dBTC withdrawal taken back.
    WithdrawalRefunded,
    /// We refused `peer`'s transfer with a signed refusal (no balance change).
    Refused,
    /// `peer` refused our transfer; the amount came back to us.
    Released,
    /// This device succeeded a lost device of its identity (`peer`): the recovered
    /// balances (PROTOCOL.md §20).
    Succession,
    /// A transfer the lost device had proposed to `peer`, refused after the recovery: the
    /// amount came back to this (successor) device.
    Reclaimed,
}

/// Where a history line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineStatus {
    /// A sent transfer whose receipt is not complete yet (in flight).
    Pending,
    /// Complete: both signatures exist, or the transition needed only ours.
    Final,
    /// A sent transfer that was refused and taken back.
    Released,
    /// A transfer we refused with a signed refusal.
    Refused,
}

impl dsm_core::word::Word for LineStatus {
    const WHAT: &'static str = "line status";
    const ALL: &'static [LineStatus] = &[
        LineStatus::Pending,
        LineStatus::Final,
        LineStatus::Released,
        LineStatus::Refused,
    ];

    fn word(self) -> &'static str {
        match self {
            LineStatus::Pending => "pending",
            LineStatus::Final => "final",
            LineStatus::Released => "released",
            LineStatus::Refused => "refused",
        }
    }
}

impl std::fmt::Display for LineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(dsm_core::word::Word::word(*self))
    }
}

/// What the storage nodes say about a history line's signed statements (PROTOCOL.md
/// §16.4): dsm-protocol's one-word settlement, stored as its word.
pub use dsm_protocol::placement::SettlementKind as LineSettlement;

/// How typed history fields are stored: the same JSON text as when they were strings (hex
/// ids, decimal amounts), so lines written before the types read unchanged, and a value
/// that does not parse is a damaged line, never a silent default.
pub(crate) mod stored {
    use dsm_core::chain::{Amount, TokenId};
    use dsm_core::hash::Digest;
    use dsm_core::identity::DeviceId;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub mod device_opt {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<DeviceId>, s: S) -> Result<S::Ok, S::Error> {
            v.map(|d| d.digest().to_hex()).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DeviceId>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    Digest::from_hex(&s)
                        .map(DeviceId)
                        .ok_or_else(|| D::Error::custom(format!("{s:?} is not 64 hex digits")))
                })
                .transpose()
        }
    }

    pub mod device {
        use super::*;
        pub fn serialize<S: Serializer>(v: &DeviceId, s: S) -> Result<S::Ok, S::Error> {
            v.digest().to_hex().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceId, D::Error> {
            super::digest::deserialize(d).map(DeviceId)
        }
    }

    pub mod digest {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Digest, s: S) -> Result<S::Ok, S::Error> {
            v.to_hex().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
            let s = String::deserialize(d)?;
            Digest::from_hex(&s)
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not 64 hex digits")))
        }
    }

    pub mod digest_opt {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
            v.map(|d| d.to_hex()).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Digest>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    Digest::from_hex(&s)
                        .ok_or_else(|| D::Error::custom(format!("{s:?} is not 64 hex digits")))
                })
                .transpose()
        }
    }

    /// A [`Word`](dsm_core::word::Word) enum, stored as its word.
    pub mod word {
        use super::*;
        use dsm_core::word::Word;
        pub fn serialize<W: Word, S: Serializer>(v: &W, s: S) -> Result<S::Ok, S::Error> {
            v.word().serialize(s)
        }
        pub fn deserialize<'de, W: Word, D: Deserializer<'de>>(d: D) -> Result<W, D::Error> {
            let s = String::deserialize(d)?;
            W::from_word(&s).ok_or_else(|| D::Error::custom(format!("{s:?} is not a {}", W::WHAT)))
        }
    }

    /// A [`Word`](dsm_core::word::Word) enum, or none, stored as its word or `null`.
    pub mod word_opt {
        use super::*;
        use dsm_core::word::Word;
        pub fn serialize<W: Word, S: Serializer>(v: &Option<W>, s: S) -> Result<S::Ok, S::Error> {
            v.map(|w| w.word()).serialize(s)
        }
        pub fn deserialize<'de, W: Word, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<W>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    W::from_word(&s)
                        .ok_or_else(|| D::Error::custom(format!("{s:?} is not a {}", W::WHAT)))
                })
                .transpose()
        }
    }

    /// A token, or none (a line over several tokens), stored as hex or `""`.
    pub mod token_or_empty {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<TokenId>, s: S) -> Result<S::Ok, S::Error> {
            v.map_or(String::new(), |t| t.digest().to_hex())
                .serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TokenId>, D::Error> {
            let s = String::deserialize(d)?;
            if s.is_empty() {
                return Ok(None);
            }
            Digest::from_hex(&s)
                .map(|d| Some(TokenId(d)))
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not 64 hex digits")))
        }
    }

    /// An amount, stored as a decimal string (digits only).
    pub mod amount {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Amount, s: S) -> Result<S::Ok, S::Error> {
            v.0.to_string().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
            let s = String::deserialize(d)?;
            super::amount_or_empty::parse::<D>(&s)?
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not an amount")))
        }
    }

    /// An amount, or none, stored as a decimal string or `""`.
    pub mod amount_or_empty {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<Amount>, s: S) -> Result<S::Ok, S::Error> {
            v.map_or(String::new(), |a| a.0.to_string()).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Amount>, D::Error> {
            parse::<D>(&String::deserialize(d)?)
        }
        /// `""` is none; otherwise digits only (`u128::from_str` would also take a `+`).
        pub fn parse<'de, D: Deserializer<'de>>(s: &str) -> Result<Option<Amount>, D::Error> {
            if s.is_empty() {
                return Ok(None);
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(D::Error::custom(format!("{s:?} is not an amount")));
            }
            s.parse::<u128>()
                .map(|a| Some(Amount(a)))
                .map_err(|_| D::Error::custom(format!("{s:?} is not an amount")))
        }
    }
}

/// One line of a wallet's history: one head transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The head height this transition produced.
    pub height: u64,
    /// What happened.
    pub kind: EntryKind,
    /// The counterparty's device, for transfers (stored as hex).
    #[serde(with = "stored::device_opt")]
    pub peer: Option<DeviceId>,
    /// The token; none for a line over several (a succession; stored as hex, or `""`).
    #[serde(with = "stored::token_or_empty")]
    pub token: Option<TokenId>,
    /// The amount; none for a line over several tokens (stored as a decimal string, since
    /// u128 does not fit JSON numbers, or `""`).
    #[serde(with = "stored::amount_or_empty")]
    pub amount: Option<Amount>,
    /// Where the line stands.
    #[serde(with = "stored::word")]
    pub status: LineStatus,
    /// The proposal commit: names the receipt (`dsm receipt <id>`; stored as hex).
    #[serde(with = "stored::digest_opt")]
    pub receipt: Option<Digest>,
    /// What the storage nodes' anchor slots say about this transition's signed statements
    /// (PROTOCOL.md §16.2). Absent until the wallet synced with nodes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "stored::word_opt"
    )]
    pub settlement: Option<LineSettlement>,
    /// When this device recorded the line, in seconds since the Unix epoch by its own
    /// clock: shown to the user only, never read by the protocol. Absent in lines older
    /// than the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
}

/// The storage nodes recorded in `store` (base URLs), in the order added.
pub(crate) fn stored_nodes(store: &dyn Store) -> Result<Vec<String>, WalletError> {
    match store.get(Table::Meta, b"nodes")? {
        Some(v) => serde_json::from_slice(&v).map_err(corrupt("node registry")),
        None => Ok(Vec::new()),
    }
}

/// The replication parameters recorded in `store` (default N=6, K=3, f=1).
pub(crate) fn stored_replication(
    store: &dyn Store,
) -> Result<crate::nodes::Replication, WalletError> {
    let Some(v) = store.get(Table::Meta, b"replication")? else {
        return Ok(crate::nodes::Replication::default());
    };
    let field = |i: usize| {
        v.get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from_be_bytes(b) as usize)
            .ok_or_else(|| WalletError::Corrupt {
                what: "replication parameters",
                error: "not three 8-byte numbers".into(),
            })
    };
    Ok(crate::nodes::Replication {
        n: field(0)?,
        k: field(1)?,
        f: field(2)?,
    })
}

/// A device key and, for an identity with a recovery phrase, its capsule key.
type UnsealedKeys = (SigningKey, Option<zeroize::Zeroizing<[u8; 32]>>);

/// The device key (and capsule key, if any) sealed in `store`, opened with `passphrase`.
pub(crate) fn unseal(store: &dyn Store, passphrase: &[u8]) -> Result<UnsealedKeys, WalletError> {
    let sealed = store
        .get(Table::Meta, b"sealed_key")?
        .ok_or(WalletError::Corrupt {
            what: "sealed key",
            error: "missing".into(),
        })?;
    Ok(keystore::open_keys(&sealed, passphrase)?)
}

/// The local wall clock for [`HistoryEntry::time`] (`None` if it reads before 1970).
pub(crate) fn wall_clock() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl HistoryEntry {
    /// The line for a head at `height` caused by `step`, with `peer` the other device.
    fn for_step(
        height: u64,
        kind: EntryKind,
        peer: &DeviceId,
        step: &RelationshipStep,
        status: LineStatus,
        commit: &Digest,
    ) -> HistoryEntry {
        HistoryEntry {
            height,
            kind,
            peer: Some(*peer),
            token: Some(step.token),
            amount: Some(step.amount),
            status,
            receipt: Some(*commit),
            settlement: None,
            time: wall_clock(),
        }
    }
}

/// A named counterparty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The local name.
    pub name: String,
    /// Its device id (hex).
    pub device: String,
}

impl Contact {
    /// The device id.
    pub fn device_id(&self) -> Result<DeviceId, WalletError> {
        Digest::from_hex(&self.device).map(DeviceId).ok_or_else(|| {
            WalletError::Contact(format!("contact {} has a malformed device id", self.name))
        })
    }

    /// The shareable, checksummed card ([`ContactCard`], PROTOCOL.md §12.6).
    pub fn card(&self) -> Result<String, WalletError> {
        Ok(ContactCard {
            name: self.name.clone(),
            device: self.device_id()?,
            document: None,
        }
        .to_text())
    }

    /// Reads a card ([`ContactCard::parse`]: the checksummed form, or the old form without
    /// a checksum, which the second value reports).
    pub fn from_card(card: &str) -> Result<(Contact, bool), WalletError> {
        let (c, legacy) =
            ContactCard::parse(card).map_err(|e| WalletError::Contact(e.to_string()))?;
        Ok((
            Contact {
                name: c.name,
                device: c.device.digest().to_hex(),
            },
            legacy,
        ))
    }
}

/// What [`Wallet::add_contact`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactChange {
    /// A new contact.
    Added,
    /// The same name and device were already there: nothing changed.
    Unchanged,
    /// With `replace`: the name now points at another device, and/or the device now goes
    /// by another name; what was there before.
    Replaced {
        /// The device the name pointed at before, if another.
        old_device: Option<String>,
        /// The name the device went by before, if another.
        old_name: Option<String>,
    },
}

/// What [`Wallet::check`] checked and what failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCheck {
    /// Lineage objects checked.
    pub objects: usize,
    /// Receipts checked.
    pub receipts: usize,
    /// Evidence entries checked.
    pub evidence: usize,
    /// One line per failure (empty: the store is sound).
    pub problems: Vec<String>,
}

/// Checks that `name` is usable as a wallet's or a contact's name: 1–64 letters, digits,
/// '-', '_' or '.' (the card's rule, [`dsm_protocol::card::check_name`]).
pub fn validate_name(name: &str) -> Result<(), WalletError> {
    dsm_protocol::card::check_name(name).map_err(|e| WalletError::Contact(e.to_string()))
}

/// A token id from a label, as the CLI and SDK name tokens.
pub fn token(label: &str) -> TokenId {
    TokenId::from_label(label)
}

/// A device wallet.
pub struct Wallet {
    store: Box<dyn Store>,
    identity: DeviceIdentity,
    /// `identity.device_id()`, computed once: it hashes the whole public key, and the hot
    /// paths ask for it many times per transfer.
    id: DeviceId,
    key: SigningKey,
    head: DeviceHead,
    tree: SparseMerkleTree,
    /// The devices refused from now on: equivocators and tombstoned devices (Tripwire).
    refused: Refused,
    /// Our proposals waiting for acceptance, by peer (mirrors the Pending table).
    /// Our proposals waiting for their answers, per receiver, oldest first (the queue,
    /// PROTOCOL.md §7.7).
    pending: BTreeMap<DeviceId, Vec<SignedProposal>>,
    /// What this device refuses to receive (signed refusals) and the value it holds
    /// final but not settled (PROTOCOL.md §8.4).
    exposure: Exposure,
    /// Decode caches (memory only).
    caches: caches::Caches,
    /// A head-changing write failed: the disk may or may not hold it, so the in-memory
    /// head can no longer be trusted and nothing more is signed until the wallet is
    /// reopened (which reloads the head from the store).
    poisoned: bool,
    witness_seq: u64,
    rng_override: Option<(u64, u64)>,
    /// The token policies this device holds (PROTOCOL.md §17): what it may receive.
    rules: dsm_token::source::TokenRules,
    /// The recovery-capsule key, for an identity with a recovery phrase (PROTOCOL.md §20).
    capsule_key: Option<dsm_recovery::CapsuleKey>,
    /// The parcels held and the lineage cache (PROTOCOL.md §5.6).
    book: parcels::ParcelBook,
    /// This device's sealed identity document, built once (it signs).
    sealed_document: std::sync::OnceLock<(dsm_protocol::card::ContactDocument, Vec<u8>)>,
    /// Identities peers' hellos named in this process ([`Ledger::note_peer`]): filed with
    /// the next head change on a relationship with that peer, in its batch.
    met: HashMap<DeviceId, DeviceIdentity>,
}

/// Meta key prefix, followed by a device id: that contact's verified identity document
/// (canonical), with its signed ML-KEM-768 key (PROTOCOL.md §12.6).
const CONTACT_DOCUMENT: &[u8] = b"contact_document/";
/// Meta key prefix, followed by a device id: the document address that contact's card
/// named (to fetch and check at a sync).
pub(crate) const CONTACT_DOCUMENT_ADDRESS: &[u8] = b"contact_document_address/";
/// Meta key prefix, followed by a device id: that device's identity (canonical), from a
/// statement it signed that this wallet stored or from its hello ([`parcels::put_identity`]).
pub(crate) const IDENTITY_OF: &[u8] = b"identity_of/";
/// Meta key: the address of this device's sealed identity document once a quorum of nodes
/// stored it.
const DOCUMENT_PUBLISHED: &[u8] = b"document_published";

pub(crate) fn os_random() -> Result<[u8; 32], WalletError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| WalletError::Random(e.to_string()))?;
    Ok(b)
}

/// Meta key of a proposal this wallet refused (kept so that its line settles the
/// proposal's hop before the refusal's).
fn refused_key(commit: &Digest) -> Vec<u8> {
    [b"refused_proposal/".as_slice(), commit.as_bytes()].concat()
}

/// Meta keys of [`Wallet::objects_at_nodes`]: the registry the marks are for, and one mark
/// per object address.
const AT_NODES_REGISTRY: &[u8] = b"at_nodes_registry";
const AT_NODES_PREFIX: &[u8] = b"at_nodes/";

fn at_nodes_key(address: &Digest) -> Vec<u8> {
    [AT_NODES_PREFIX, address.as_bytes().as_slice()].concat()
}

/// Meta key of the step of our own proposal on a relationship released last (PROTOCOL.md
/// §7.6: a proposal that won a crossing against it is answered naming it).
/// Key of a pending proposal in the pending table: its receiver, then the height of the
/// head it made (so a receiver's queue reads oldest first).
pub(crate) fn pending_key(p: &SignedProposal) -> Vec<u8> {
    [
        p.proposal.step.receiver.as_bytes().as_slice(),
        &p.proposal.sender_child_head.height.to_be_bytes(),
    ]
    .concat()
}

/// Wallet meta key: the proposal commit of the step we refused whose child tip is `tip`,
/// for refusing what its sender queued after it (`Ledger::refused_behind`).
fn refused_child_key(relationship: &RelationshipKey, tip: &TipDigest) -> Vec<u8> {
    [
        b"refused_child/".as_slice(),
        relationship.as_bytes(),
        tip.as_bytes(),
    ]
    .concat()
}

fn released_key(relationship: &RelationshipKey) -> Vec<u8> {
    [b"released_step/".as_slice(), relationship.as_bytes()].concat()
}

/// Wallet meta key: the peer's step that won a crossing against the step released last on
/// `relationship` (absent when that release was not a crossing's).
fn crossing_winner_key(relationship: &RelationshipKey) -> Vec<u8> {
    [b"crossing_winner/".as_slice(), relationship.as_bytes()].concat()
}

/// The capsule entry that removes the contact `name` (PROTOCOL.md §20.2: a contact entry
/// with the all-zero device id; no device has that id).
fn removed_contact(name: &str) -> dsm_recovery::body::ContactEntry {
    dsm_recovery::body::ContactEntry {
        name: name.to_string(),
        device: dsm_recovery::body::REMOVED_CONTACT,
        document: None,
    }
}

fn history_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

fn witness_key(device: &DeviceId, parent: &HeadDigest) -> Vec<u8> {
    let mut k = device.as_bytes().to_vec();
    k.extend_from_slice(parent.as_bytes());
    k
}

/// A genesis entropy contributor besides the device itself, reached over some I/O (a
/// storage node: [`crate::nodes::NodeSet::genesis_contributors`]).
pub trait EntropyContributor {
    /// Its contributor id, unique within one genesis.
    fn contributor(&self) -> Digest;
    /// Where it is, for error messages.
    fn describe(&self) -> String;
    /// Commit phase: its commitment `H(EntropyCommitment, contributor, secret)` for
    /// `ceremony`.
    fn commit(&self, ceremony: &Digest) -> Result<Digest, String>;
    /// Reveal phase: its secret for `ceremony`.
    fn reveal(&self, ceremony: &Digest) -> Result<[u8; 32], String>;
}

impl Wallet {
    /// Creates a new device in an empty store: fresh key (sealed under `passphrase`),
    /// genesis by commit–reveal with the device as the only entropy contributor, the
    /// initial head. [`Wallet::create_with_contributors`] adds storage nodes.
    pub fn create(
        store: Box<dyn Store>,
        suite: SuiteId,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<Wallet, WalletError> {
        Wallet::create_with_contributors(store, suite, passphrase, params, &[])
    }

    /// Creates a new device whose genesis also takes entropy from `contributors` (PROTOCOL.md
    /// §4.2): the device commits to its own secret first, and the ceremony id the
    /// contributors see binds that commitment; every contributor commits; only then are the
    /// secrets revealed and checked. Any contributor that fails or reveals a secret that
    /// does not open its commitment fails the whole creation, and nothing is stored.
    pub fn create_with_contributors(
        store: Box<dyn Store>,
        suite: SuiteId,
        passphrase: &[u8],
        params: KdfParams,
        contributors: &[&dyn EntropyContributor],
    ) -> Result<Wallet, WalletError> {
        Wallet::create_inner(store, suite, passphrase, params, contributors, None, None)
    }

    /// [`Wallet::create`] with every secret derived from `entropy` instead of the operating
    /// system (the key seed, the keystore's salt and nonce, the genesis secret), so the same
    /// `entropy` makes the same device: for the model checker, whose state space must not
    /// depend on the process. Refused for every real signature suite (`Genesis` error):
    /// whoever knows `entropy` holds the key.
    pub fn create_reproducible(
        store: Box<dyn Store>,
        suite: SuiteId,
        passphrase: &[u8],
        params: KdfParams,
        entropy: [u8; 32],
    ) -> Result<Wallet, WalletError> {
        if SuiteId::ALL.contains(&suite) {
            return Err(WalletError::Genesis(
                "reproducible wallets exist only for the insecure test suite".into(),
            ));
        }
        Wallet::create_inner(store, suite, passphrase, params, &[], None, Some(entropy))
    }

    /// [`Wallet::create_with_contributors`] for an identity with a recovery phrase
    /// (PROTOCOL.md §20): the genesis names the phrase's recovery authority, the device
    /// keeps the capsule key (sealed with its signing key) and writes capsule 0 at once.
    /// Show the phrase to the user once; the wallet never stores it.
    pub fn create_with_recovery(
        store: Box<dyn Store>,
        suite: SuiteId,
        passphrase: &[u8],
        params: KdfParams,
        contributors: &[&dyn EntropyContributor],
        recovery: &dsm_recovery::RecoveryKeys,
    ) -> Result<Wallet, WalletError> {
        Wallet::create_inner(
            store,
            suite,
            passphrase,
            params,
            contributors,
            Some(recovery),
            None,
        )
    }

    fn create_inner(
        mut store: Box<dyn Store>,
        suite: SuiteId,
        passphrase: &[u8],
        params: KdfParams,
        contributors: &[&dyn EntropyContributor],
        recovery: Option<&dsm_recovery::RecoveryKeys>,
        entropy: Option<[u8; 32]>,
    ) -> Result<Wallet, WalletError> {
        // Fresh OS randomness, or (reproducible wallets only) a hash of `entropy` per use.
        let draw = |label: &[u8]| -> Result<[u8; 32], WalletError> {
            match &entropy {
                Some(e) => Ok(*tagged_hash(
                    Tag::ReproducibleEntropy,
                    &[b"dsm reproducible wallet", e, label],
                )
                .as_bytes()),
                None => os_random(),
            }
        };
        if store.get(Table::Meta, b"identity")?.is_some() {
            return Err(WalletError::AlreadyExists);
        }
        if contributors.len() + 1 > dsm_core::identity::MAX_CONTRIBUTORS {
            return Err(WalletError::Genesis(format!(
                "{} contributors besides the device; at most {} may take part",
                contributors.len(),
                dsm_core::identity::MAX_CONTRIBUTORS - 1
            )));
        }
        let seed = SecretSeed::from_bytes(draw(b"key")?);
        let key = SigningKey::from_seed(suite, &seed);
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        salt.copy_from_slice(&draw(b"salt")?[..16]);
        nonce.copy_from_slice(&draw(b"nonce")?[..24]);
        let sealed = keystore::seal_keys(
            &seed,
            recovery.map(|r| r.capsules.secret_bytes()),
            suite,
            passphrase,
            params,
            salt,
            nonce,
        )?;

        let mut ceremony = GenesisCeremony::new(key.public_key().clone());
        if let Some(r) = recovery {
            ceremony.set_recovery_authority(r.authority_key().public_key().clone());
        }
        let own = EntropyReveal {
            contributor: dsm_core::identity::device_contributor(),
            secret: draw(b"genesis")?,
        };
        let g = |who: &str| {
            let who = who.to_string();
            move |e: dsm_core::identity::CeremonyError| WalletError::Genesis(format!("{who}: {e}"))
        };
        ceremony
            .commit(own.contributor, own.commitment())
            .map_err(g("the device"))?;
        let id = dsm_core::identity::ceremony_id(key.public_key(), &own.commitment());
        for c in contributors {
            let commitment = c.commit(&id).map_err(|e| {
                WalletError::Genesis(format!("{} did not commit: {e}", c.describe()))
            })?;
            ceremony
                .commit(c.contributor(), commitment)
                .map_err(g(&c.describe()))?;
        }
        ceremony.close_commitments();
        ceremony.reveal(own).map_err(g("the device"))?;
        for c in contributors {
            let secret = c.reveal(&id).map_err(|e| {
                WalletError::Genesis(format!("{} did not reveal: {e}", c.describe()))
            })?;
            ceremony
                .reveal(EntropyReveal {
                    contributor: c.contributor(),
                    secret,
                })
                .map_err(g(&c.describe()))?;
        }
        let record = ceremony.finish().map_err(g("the ceremony"))?;
        let identity = DeviceIdentity {
            genesis: record.digest(),
            public_key: key.public_key().clone(),
        };
        let head = DeviceHead::initial(identity.device_id(), &identity.genesis);

        let mut batch = Batch::new();
        batch
            .put(Table::Meta, b"format".to_vec(), FORMAT_VERSION.to_vec())
            .put(Table::Meta, b"identity".to_vec(), identity.to_bytes())
            .put(Table::Meta, b"genesis_record".to_vec(), record.to_bytes())
            .put(Table::Meta, b"sealed_key".to_vec(), sealed)
            .put(Table::Meta, b"head".to_vec(), head.to_bytes());
        put_authority_admission(&mut batch, &key, &identity, &record)?;
        if let Some(r) = recovery {
            batch.put(
                Table::Meta,
                b"capsule_stream".to_vec(),
                r.stream().as_bytes().to_vec(),
            );
        }
        store.commit(&batch)?;
        let rules = tokens::load_rules(store.as_ref())?;
        let mut wallet = Wallet {
            store,
            id: identity.device_id(),
            identity,
            key,
            head,
            tree: SparseMerkleTree::new(),
            refused: Refused::new(),
            pending: BTreeMap::new(),
            exposure: Exposure::default(),
            sealed_document: Default::default(),
            met: HashMap::new(),
            caches: Default::default(),
            poisoned: false,
            witness_seq: 0,
            rng_override: None,
            rules,
            capsule_key: recovery.map(|r| r.capsules.clone()),
            book: parcels::ParcelBook::default(),
        };
        if wallet.capsule_key.is_some() {
            // Capsule 0: genesis, identity, the CREATE head.
            let mut b = Batch::new();
            wallet.add_capsule(&mut b, None, Vec::new())?;
            wallet.store.commit(&b)?;
        }
        Ok(wallet)
    }

    /// Opens the wallet in `store`, unsealing the key with `passphrase`.
    pub fn open(store: Box<dyn Store>, passphrase: &[u8]) -> Result<Wallet, WalletError> {
        let identity_bytes = store
            .get(Table::Meta, b"identity")?
            .ok_or(WalletError::NotFound)?;
        let identity = DeviceIdentity::from_bytes(&identity_bytes).map_err(corrupt("identity"))?;
        let (key, capsule_key) = unseal(store.as_ref(), passphrase)?;
        if key.public_key() != &identity.public_key {
            return Err(WalletError::Corrupt {
                what: "sealed key",
                error: "does not match the identity".into(),
            });
        }
        let capsule_key = match capsule_key {
            Some(k) => {
                let stream = store
                    .get(Table::Meta, b"capsule_stream")?
                    .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
                    .ok_or(WalletError::Corrupt {
                        what: "capsule stream",
                        error: "missing".into(),
                    })?;
                Some(dsm_recovery::CapsuleKey::from_parts(*k, Digest(stream)))
            }
            None => None,
        };
        // A same-device restore signs nothing until `backup::unfreeze` lifts this: no
        // `Wallet` exists for it, so no path can sign.
        if store.get(Table::Meta, backup::FROZEN)?.is_some() {
            return Err(WalletError::Frozen(
                "it signs nothing until the storage nodes show nothing newer than the backup; \
                 run `dsm backup unfreeze`"
                    .into(),
            ));
        }
        Self::load(store, identity, key, capsule_key)
    }

    fn load(
        store: Box<dyn Store>,
        identity: DeviceIdentity,
        key: SigningKey,
        capsule_key: Option<dsm_recovery::CapsuleKey>,
    ) -> Result<Wallet, WalletError> {
        let head_bytes = store
            .get(Table::Meta, b"head")?
            .ok_or(WalletError::Corrupt {
                what: "head",
                error: "missing".into(),
            })?;
        let head = DeviceHead::from_bytes(&head_bytes).map_err(corrupt("head"))?;
        // The head is this identity's, and the identity this genesis's: a file whose parts
        // were swapped between wallets is refused, whatever its record checks say.
        if head.device != identity.device_id() {
            return Err(WalletError::Corrupt {
                what: "head",
                error: "it is not this device's".into(),
            });
        }
        if let Some(g) = store.get(Table::Meta, b"genesis_record")? {
            let g = dsm_core::identity::GenesisRecord::from_bytes(&g)
                .map_err(corrupt("genesis record"))?;
            if g.digest() != identity.genesis {
                return Err(WalletError::Corrupt {
                    what: "genesis record",
                    error: "the device's identity is not of this genesis".into(),
                });
            }
        }
        let mut tree = SparseMerkleTree::new();
        for (k, v) in store.scan(Table::Tips)? {
            let k: [u8; 32] = k.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                what: "tips",
                error: "bad key".into(),
            })?;
            let v: [u8; 32] = v.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                what: "tips",
                error: "bad value".into(),
            })?;
            tree.insert(k, Digest(v));
        }
        if tree.root() != head.smt_root {
            return Err(WalletError::Corrupt {
                what: "tree",
                error: "the relationship tips do not match the head's root".into(),
            });
        }
        // Stored evidence and tombstones were verified when stored; a damaged key is a
        // damaged store, never a device let back in.
        let mut refused = Refused::new();
        for (k, _) in store.scan(Table::Evidence)? {
            let k: [u8; 32] = k.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                what: "evidence",
                error: "bad key".into(),
            })?;
            refused.restore_equivocator(DeviceId(Digest(k)));
        }
        for (k, _) in store.scan(Table::Successions)? {
            let k: [u8; 32] = k.as_slice().try_into().map_err(|_| WalletError::Corrupt {
                what: "successions",
                error: "bad key".into(),
            })?;
            refused.tombstoned(DeviceId(Digest(k)));
        }
        let mut pending: BTreeMap<DeviceId, Vec<SignedProposal>> = BTreeMap::new();
        for (k, v) in store.scan(Table::Pending)? {
            let p = SignedProposal::from_bytes(&v).map_err(corrupt("pending"))?;
            // Keyed by receiver and head height; a wallet written before queues keyed its
            // one pending proposal per receiver by the receiver alone.
            if k != pending_key(&p) && k.as_slice() != p.proposal.step.receiver.as_bytes() {
                return Err(WalletError::Corrupt {
                    what: "pending",
                    error: "key does not match the proposal".into(),
                });
            }
            pending.entry(p.proposal.step.receiver).or_default().push(p);
        }
        for queue in pending.values_mut() {
            queue.sort_by_key(|p| p.proposal.sender_child_head.height);
        }
        let witness_seq = match store.last(Table::WitnessOrder, 1)?.first() {
            Some((k, _)) => u64::from_be_bytes(k.as_slice().try_into().unwrap_or([0; 8])) + 1,
            None => 0,
        };
        let rules = tokens::load_rules(store.as_ref())?;
        let book = parcels::ParcelBook::load(store.as_ref())?;
        let sums = book.sums();
        let adds_up = head
            .balances
            .entries()
            .iter()
            .all(|b| sums.get(&b.token) == Some(&b.amount))
            && sums.iter().all(|(t, a)| head.balances.get(t) == *a);
        if !adds_up {
            return Err(WalletError::Corrupt {
                what: "parcels",
                error: "the parcels held do not add up to the head's balances".into(),
            });
        }
        let mut wallet = Wallet {
            store,
            id: identity.device_id(),
            identity,
            key,
            head,
            tree,
            refused,
            pending,
            exposure: Exposure::default(),
            sealed_document: Default::default(),
            met: HashMap::new(),
            caches: Default::default(),
            poisoned: false,
            witness_seq,
            rng_override: None,
            rules,
            capsule_key,
            book,
        };
        wallet.relearn_emission_states()?;
        Ok(wallet)
    }

    /// An independent copy of this wallet, in-memory state and store alike, or `None` if
    /// the store cannot be copied in memory ([`Store::fork`]). The model checker (`model/`)
    /// explores interleavings by copying devices; a real wallet file is never copied this way.
    pub fn fork(&self) -> Option<Wallet> {
        let store = self.store.fork()?;
        let key =
            SigningKey::from_private_key_bytes(self.key.suite(), &self.key.private_key_bytes())
                .ok()?;
        Some(Wallet {
            store,
            identity: self.identity.clone(),
            id: self.id,
            key,
            head: self.head.clone(),
            tree: self.tree.clone(),
            refused: self.refused.clone(),
            pending: self.pending.clone(),
            exposure: self.exposure.clone(),
            sealed_document: Default::default(),
            met: HashMap::new(),
            caches: Default::default(),
            poisoned: self.poisoned,
            witness_seq: self.witness_seq,
            rng_override: self.rng_override,
            rules: self.rules.clone(),
            capsule_key: self.capsule_key.clone(),
            book: self.book.clone(),
        })
    }

    /// A copy of this wallet's store alone (every committed batch, none of the in-memory
    /// state), or `None` if the store cannot be copied in memory. [`Wallet::open`] on it is
    /// a restart after a crash that lost no committed batch. (With [`crate::store::RedbStore`]
    /// a crash may also lose deferred batches; a memory store has no such distinction.)
    pub fn durable_copy(&self) -> Option<Box<dyn Store>> {
        self.store.fork()
    }

    /// Calls `f` on every durable entry of this wallet's store, table by table in key order
    /// (the model checker fingerprints it to recognise states it has seen).
    pub fn visit_store(&self, f: &mut crate::store::EntryVisitor<'_>) -> Result<(), WalletError> {
        for t in Table::ALL {
            self.store.visit(t, &mut |k, v| f(t, k, v))?;
        }
        Ok(())
    }

    /// Checks what the store holds beyond what opening it checks (the head, the tips, the
    /// held parcels adding up to the balances): every lineage object hashes to its
    /// address, every receipt verifies from its bytes alone, every piece of evidence
    /// verifies. Reads only; returns what it checked and what failed (`dsm check`).
    pub fn check(&self) -> Result<StoreCheck, WalletError> {
        let mut c = StoreCheck::default();
        let hex = |k: &[u8]| {
            k.iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        self.store.visit(Table::Objects, &mut |k, v| {
            c.objects += 1;
            if dsm_core::hash::object_address(v).as_bytes().as_slice() != k {
                c.problems.push(format!(
                    "object {}…: its bytes do not hash to its address",
                    hex(k)
                ));
            }
        })?;
        self.store.visit(Table::Receipts, &mut |k, v| {
            c.receipts += 1;
            if let Err(e) = dsm_core::receipt::verify_receipt_bytes(v, &EmptyView) {
                c.problems
                    .push(format!("receipt {}…: does not verify: {e}", hex(k)));
            }
        })?;
        for t in [Table::Evidence, Table::ParcelConflicts] {
            self.store.visit(t, &mut |k, v| {
                c.evidence += 1;
                if let Err(e) = EquivocationProof::verify_bytes(v) {
                    c.problems
                        .push(format!("evidence {}…: does not verify: {e}", hex(k)));
                }
            })?;
        }
        Ok(c)
    }

    /// Makes signing randomness deterministic (benchmarks and reproducible demos only;
    /// hedged signing stays secure with any `rnd`, fresh randomness only adds margin).
    pub fn set_deterministic_randomness(&mut self, seed: u64) {
        self.rng_override = Some((seed, 0));
    }

    /// Sets this device's receiving policy: proposals it breaks are answered with a signed
    /// refusal, which returns the amount to the sender at once. With exposure limits, the
    /// value received and not yet settled is read from the history now and kept up to date.
    pub fn set_receive_policy(&mut self, policy: ReceivePolicy) -> Result<(), WalletError> {
        let mut lines = Vec::new();
        if policy.limits_exposure() {
            for e in self.history()? {
                if e.kind != EntryKind::Received || e.settlement == Some(LineSettlement::Settled) {
                    continue;
                }
                let bad = |what: &str| WalletError::Corrupt {
                    what: "history",
                    error: format!("a received line has no valid {what}"),
                };
                let commit = e.receipt.ok_or_else(|| bad("receipt id"))?;
                let credit = UnsettledCredit {
                    token: e.token.ok_or_else(|| bad("token"))?,
                    sender: e.peer.ok_or_else(|| bad("peer"))?,
                    amount: e.amount.ok_or_else(|| bad("amount"))?,
                };
                lines.push((commit, credit));
            }
        }
        self.exposure = Exposure::new(policy, || lines);
        Ok(())
    }

    /// Sets only the per-transfer limit of the receive policy (see
    /// [`Wallet::set_receive_policy`]).
    pub fn set_max_incoming(&mut self, limit: Option<Amount>) {
        self.exposure.set_max_per_transfer(limit);
    }

    /// Value received and not yet settled, in `token`: `(from peer, in total)`. Zero when
    /// the receive policy does not track it.
    pub fn unsettled_incoming(&self, token: &TokenId, peer: &DeviceId) -> (Amount, Amount) {
        self.exposure.unsettled(token, peer)
    }

    /// Notes that the proposal with this commit is settled at the storage nodes (checked
    /// by the caller before answering it): it never counts against the exposure limits.
    pub fn note_settled_incoming(&mut self, commit: Digest) {
        self.exposure.settled_before_answer(commit);
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.id
    }
    /// The store's root ([`Store::root`]): changes with every commit.
    pub fn store_root(&self) -> Result<Option<[u8; 16]>, WalletError> {
        Ok(self.store.root()?)
    }
    /// Whether this device learned its own tombstone: its identity was restored from the
    /// recovery phrase onto another device, and nothing this one signs is taken any more.
    pub fn is_replaced_by_recovery(&self) -> bool {
        self.refused.is_tombstoned(&self.id)
    }
    /// This device's identity.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }
    /// This device's admission of its genesis's recovery authority to its slots
    /// (PROTOCOL.md §15.2), made at its creation; `None` when the genesis names no
    /// authority.
    pub fn authority_admission(&self) -> Result<Option<dsm_core::crypto::Signature>, WalletError> {
        self.store
            .get(Table::Meta, AUTHORITY_ADMISSION)?
            .map(|b| {
                dsm_core::crypto::Signature::from_bytes(&b).map_err(corrupt("authority admission"))
            })
            .transpose()
    }

    /// The record this device's genesis digest commits to: the founding key and every
    /// entropy contribution (the device's own and any storage nodes').
    pub fn genesis_record(&self) -> Result<dsm_core::identity::GenesisRecord, WalletError> {
        let bytes =
            self.store
                .get(Table::Meta, b"genesis_record")?
                .ok_or(WalletError::Corrupt {
                    what: "genesis record",
                    error: "missing".into(),
                })?;
        dsm_core::identity::GenesisRecord::from_bytes(&bytes).map_err(corrupt("genesis record"))
    }
    /// The current head.
    pub fn head(&self) -> &DeviceHead {
        &self.head
    }
    /// The signature suite of this device's key.
    pub fn suite(&self) -> SuiteId {
        self.key.suite()
    }
    /// Balance of `token`.
    pub fn balance(&self, token: &TokenId) -> Amount {
        self.head.balances.get(token)
    }
    /// Number of relationships in the tree.
    pub fn relationship_count(&self) -> usize {
        self.tree.len()
    }

    /// The name this device gives itself on its contact card.
    pub fn name(&self) -> Result<Option<String>, WalletError> {
        Ok(self
            .store
            .get(Table::Meta, b"name")?
            .and_then(|v| String::from_utf8(v).ok()))
    }

    /// Sets the name for this device's contact card.
    pub fn set_name(&mut self, name: &str) -> Result<(), WalletError> {
        validate_name(name)?;
        let mut b = Batch::new();
        b.put(Table::Meta, b"name".to_vec(), name.as_bytes().to_vec());
        self.store.commit(&b)?;
        Ok(())
    }

    /// Labels this wallet knows for token ids (the default token and any it named).
    pub fn token_labels(&self) -> Result<BTreeMap<TokenId, String>, WalletError> {
        let mut out = BTreeMap::new();
        out.insert(token(DEFAULT_TOKEN), DEFAULT_TOKEN.to_string());
        for (k, v) in self.store.scan(Table::Meta)? {
            if let Some(hex) = k.strip_prefix(b"token:") {
                if let (Some(d), Ok(label)) = (
                    std::str::from_utf8(hex).ok().and_then(Digest::from_hex),
                    String::from_utf8(v),
                ) {
                    out.insert(TokenId(d), label);
                }
            }
        }
        for (id, p) in self.rules.policies() {
            out.insert(*id, p.ticker.clone());
        }
        Ok(out)
    }

    /// Remembers `label` as the name of its token id (display only).
    pub fn remember_token(&mut self, label: &str) -> Result<TokenId, WalletError> {
        let id = token(label);
        let key = [b"token:".as_slice(), id.digest().to_hex().as_bytes()].concat();
        if self.store.get(Table::Meta, &key)?.is_none() {
            let mut b = Batch::new();
            b.put(Table::Meta, key, label.as_bytes().to_vec());
            self.store.commit(&b)?;
        }
        Ok(id)
    }

    /// NON-PRODUCTION: credits `amount` of `label` to this device as a distinct
    /// `Allocation` transition whose cause is `H(DevAllocation, devid, token, amount)`.
    /// No other device accepts this as a source of value on a real network; it exists so
    /// wallets can be tried out before token issuance lands.
    pub fn dev_faucet(&mut self, label: &str, amount: Amount) -> Result<&DeviceHead, WalletError> {
        let token = self.remember_token(label)?;
        let head = self.head.allocation_child(
            &token,
            amount,
            dev_allocation_cause(&self.device_id(), &token, amount),
        )?;
        let entry = HistoryEntry {
            height: head.height,
            kind: EntryKind::DevFaucet,
            peer: None,
            token: Some(token),
            amount: Some(amount),
            status: LineStatus::Final,
            receipt: None,
            settlement: None,
            time: wall_clock(),
        };
        let mut b = Batch::new();
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes()).put(
            Table::History,
            history_key(head.height),
            json(&entry),
        );
        let change = self.dev_root(&mut b, token, amount, head.height);
        self.commit_head_change(&mut b, None)?;
        self.apply_book(change);
        self.head = head;
        Ok(&self.head)
    }

    /// Every history line, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, WalletError> {
        scan_json(self.store.as_ref(), Table::History, "history")
    }

    /// The storage nodes this wallet uses (base URLs), in the order added.
    pub fn nodes(&self) -> Result<Vec<String>, WalletError> {
        stored_nodes(self.store.as_ref())
    }

    /// Replaces the storage node registry.
    pub fn set_nodes(&mut self, nodes: &[String]) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.put(Table::Meta, b"nodes".to_vec(), json(&nodes));
        self.store.commit(&b)?;
        Ok(())
    }

    /// The replication parameters this wallet uses with its nodes (default N=6, K=3, f=1).
    pub fn replication(&self) -> Result<crate::nodes::Replication, WalletError> {
        stored_replication(self.store.as_ref())
    }

    /// Sets the replication parameters (the caller validated them).
    pub fn set_replication(&mut self, r: crate::nodes::Replication) -> Result<(), WalletError> {
        let mut v = Vec::with_capacity(24);
        for x in [r.n, r.k, r.f] {
            v.extend_from_slice(&(x as u64).to_be_bytes());
        }
        let mut b = Batch::new();
        b.put(Table::Meta, b"replication".to_vec(), v);
        self.store.commit(&b)?;
        Ok(())
    }

    /// A small counter kept in the wallet's metadata (e.g. a per-node listing cursor).
    pub fn counter(&self, name: &str) -> Result<u64, WalletError> {
        let key = [b"counter:".as_slice(), name.as_bytes()].concat();
        Ok(self
            .store
            .get(Table::Meta, &key)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// For each of `addresses`, whether this wallet already stored that object at K of its
    /// nodes under `registry` (the node list and replication it used, as text), so a send
    /// does not store its lineage's old objects again (PROTOCOL.md §16.2).
    pub fn objects_at_nodes(
        &self,
        registry: &str,
        addresses: &[Digest],
    ) -> Result<Vec<bool>, WalletError> {
        if self.store.get(Table::Meta, AT_NODES_REGISTRY)?.as_deref() != Some(registry.as_bytes()) {
            return Ok(vec![false; addresses.len()]);
        }
        addresses
            .iter()
            .map(|a| Ok(self.store.get(Table::Meta, &at_nodes_key(a))?.is_some()))
            .collect()
    }

    /// Records that `addresses` are stored at K nodes of `registry` (see
    /// [`Wallet::objects_at_nodes`]); a new registry forgets what the old one held.
    pub fn note_objects_at_nodes(
        &mut self,
        registry: &str,
        addresses: &[Digest],
    ) -> Result<(), WalletError> {
        let mut b = Batch::new();
        if self.store.get(Table::Meta, AT_NODES_REGISTRY)?.as_deref() != Some(registry.as_bytes()) {
            for (k, _) in self.store.scan(Table::Meta)? {
                if k.starts_with(AT_NODES_PREFIX) {
                    b.delete(Table::Meta, k);
                }
            }
            b.put(
                Table::Meta,
                AT_NODES_REGISTRY.to_vec(),
                registry.as_bytes().to_vec(),
            );
        }
        for a in addresses {
            b.put(Table::Meta, at_nodes_key(a), Vec::new());
        }
        self.store.commit(&b)?;
        Ok(())
    }

    /// Sets a counter (see [`Wallet::counter`]).
    pub fn set_counter(&mut self, name: &str, value: u64) -> Result<(), WalletError> {
        let key = [b"counter:".as_slice(), name.as_bytes()].concat();
        let mut b = Batch::new();
        b.put(Table::Meta, key, value.to_be_bytes().to_vec());
        self.store.commit(&b)?;
        Ok(())
    }

    /// b0x items this wallet took custody of and has not finished (PROTOCOL.md §16.3,
    /// "Custody"), oldest key first.
    pub fn custody(&self) -> Result<Vec<Vec<u8>>, WalletError> {
        Ok(self
            .store
            .scan(Table::Custody)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Takes custody of `items` (b0x items read and not finished) in one batch, up to
    /// [`MAX_CUSTODY`] held in all; returns those held now (already held or taken), so
    /// the caller lets the nodes delete exactly those.
    pub fn take_custody(&mut self, items: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, WalletError> {
        let mut held = self.store.scan(Table::Custody)?.len();
        let mut b = Batch::new();
        let mut kept = Vec::new();
        for item in items {
            let key = object_address(item).as_bytes().to_vec();
            if self.store.contains(Table::Custody, &key)? {
                kept.push(item.clone());
            } else if held < MAX_CUSTODY {
                b.put(Table::Custody, key, item.clone());
                held += 1;
                kept.push(item.clone());
            }
        }
        self.store.commit(&b)?;
        Ok(kept)
    }

    /// Gives up custody of a finished item.
    pub fn release_custody(&mut self, item: &[u8]) -> Result<(), WalletError> {
        let mut b = Batch::new();
        b.delete(Table::Custody, object_address(item).as_bytes().to_vec());
        self.store.commit(&b)?;
        Ok(())
    }

    /// The signed statements behind each history line whose settlement is not final yet
    /// (not `settled`, not `conflict`): for a sent transfer our proposal; for a received one
    /// the sender's proposal and our acceptance; for a refusal ours. Transitions without a
    /// signed statement (dev allocations, releases) have nothing to anchor.
    pub fn unsettled(&self) -> Result<Vec<(HistoryEntry, Vec<Statement>)>, WalletError> {
        let mut out = Vec::new();
        for entry in self.history()? {
            if matches!(
                entry.settlement,
                Some(LineSettlement::Settled | LineSettlement::Conflict)
            ) {
                continue;
            }
            let Some(commit) = entry.receipt else {
                continue;
            };
            let receipt = match self.store.get(Table::Receipts, commit.as_bytes())? {
                Some(b) => Some(Receipt::from_bytes(&b).map_err(corrupt("receipt"))?),
                None => None,
            };
            let statements = match (&entry.kind, receipt) {
                (EntryKind::Sent, Some(r)) => vec![Statement::Proposal(r.proposal)],
                (EntryKind::Sent, None) => self
                    .pending
                    .values()
                    .flatten()
                    .filter(|p| p.proposal.commit() == commit)
                    .map(|p| Statement::Proposal(p.clone()))
                    .collect(),
                (EntryKind::Received, Some(r)) => vec![
                    Statement::Proposal(r.proposal),
                    Statement::Acceptance(r.acceptance),
                ],
                // The refused proposal first (its hop is the refusal's input's lineage, and
                // this wallet may hold the write it carried), then the refusal.
                (EntryKind::Refused, _) => match self.refusal_for(&commit)? {
                    Some(r) => {
                        let mut v = Vec::new();
                        if let Some(b) = self.store.get(Table::Meta, &refused_key(&commit))? {
                            v.push(Statement::Proposal(
                                SignedProposal::from_bytes(&b)
                                    .map_err(corrupt("refused proposal"))?,
                            ));
                        }
                        v.push(Statement::Refusal(r));
                        v
                    }
                    None => vec![],
                },
                _ => vec![],
            };
            if !statements.is_empty() {
                out.push((entry, statements));
            }
        }
        Ok(out)
    }

    /// Records what the anchor slots said about the history line at `height`.
    pub fn set_settlement(
        &mut self,
        height: u64,
        settlement: LineSettlement,
    ) -> Result<(), WalletError> {
        let key = history_key(height);
        if let Some(bytes) = self.store.get(Table::History, &key)? {
            let mut entry: HistoryEntry =
                serde_json::from_slice(&bytes).map_err(|e| WalletError::Corrupt {
                    what: "history",
                    error: e.to_string(),
                })?;
            entry.settlement = Some(settlement);
            let mut b = Batch::new();
            b.put(Table::History, key.to_vec(), json(&entry));
            self.store.commit(&b)?;
            // Settled value frees the exposure limit (a conflict never does).
            if settlement == LineSettlement::Settled {
                if let Some(c) = entry.receipt {
                    self.exposure.settled(&c);
                }
            }
        }
        Ok(())
    }

    /// Adds a contact. A name that already points at another device, or a device already
    /// known under another name, is refused unless `replace` is set: otherwise a card
    /// could silently take over a name, and the next payment to it would go elsewhere.
    pub fn add_contact(
        &mut self,
        contact: &Contact,
        replace: bool,
    ) -> Result<ContactChange, WalletError> {
        validate_name(&contact.name)?;
        let id = contact.device_id()?;
        let device = id.digest().to_hex();
        if id == self.device_id() {
            return Err(WalletError::Contact(
                "that card is this wallet's own".into(),
            ));
        }
        let all = self.contacts()?;
        let by_name = all.iter().find(|c| c.name == contact.name);
        let by_device = all.iter().find(|c| c.device == device);
        if by_name.is_some_and(|c| c.device == device) {
            return Ok(ContactChange::Unchanged);
        }
        let old_device = by_name.map(|c| c.device.clone());
        let old_name = by_device.map(|c| c.name.clone());
        if !replace {
            let mut why = Vec::new();
            if let Some(d) = &old_device {
                why.push(format!(
                    "the name {} is your contact for device {}, and this card is device {}",
                    contact.name, d, device
                ));
            }
            if let Some(n) = &old_name {
                why.push(format!(
                    "device {} is already your contact {n}, and this card calls it {}",
                    device, contact.name
                ));
            }
            if !why.is_empty() {
                return Err(WalletError::Contact(format!(
                    "not changed: {}. If that is what you want, add --replace (or `dsm contact rename`); otherwise add the card under another name with --name",
                    why.join("; ")
                )));
            }
        }
        let mut b = Batch::new();
        let mut entries = Vec::new();
        if let Some(n) = &old_name {
            b.delete(Table::Contacts, n.clone().into_bytes());
            entries.push(removed_contact(n));
        }
        b.put(
            Table::Contacts,
            contact.name.clone().into_bytes(),
            json(&Contact {
                name: contact.name.clone(),
                device,
            }),
        );
        entries.push(dsm_recovery::body::ContactEntry {
            name: contact.name.clone(),
            device: id,
            document: None,
        });
        self.add_capsule(&mut b, None, entries)?;
        self.store.commit(&b)?;
        Ok(if old_device.is_none() && old_name.is_none() {
            ContactChange::Added
        } else {
            ContactChange::Replaced {
                old_device,
                old_name,
            }
        })
    }

    /// Removes the contact named `name` (its relationship and receipts stay; only the name
    /// goes). Returns it.
    pub fn remove_contact(&mut self, name: &str) -> Result<Contact, WalletError> {
        let c = self.contact_named(name)?;
        let mut b = Batch::new();
        b.delete(Table::Contacts, name.as_bytes().to_vec());
        self.add_capsule(&mut b, None, vec![removed_contact(name)])?;
        self.store.commit(&b)?;
        Ok(c)
    }

    /// Renames the contact `old` to `new` (a name no other contact has).
    pub fn rename_contact(&mut self, old: &str, new: &str) -> Result<(), WalletError> {
        validate_name(new)?;
        let c = self.contact_named(old)?;
        if old == new {
            return Ok(());
        }
        if self.contacts()?.iter().any(|o| o.name == new) {
            return Err(WalletError::Contact(format!(
                "you already have a contact named {new}; remove or rename it first"
            )));
        }
        let mut b = Batch::new();
        b.delete(Table::Contacts, old.as_bytes().to_vec());
        b.put(
            Table::Contacts,
            new.as_bytes().to_vec(),
            json(&Contact {
                name: new.to_string(),
                device: c.device.clone(),
            }),
        );
        self.add_capsule(
            &mut b,
            None,
            vec![
                removed_contact(old),
                dsm_recovery::body::ContactEntry {
                    name: new.to_string(),
                    device: c.device_id()?,
                    document: self.contact_document_address(&c.device_id()?)?,
                },
            ],
        )?;
        self.store.commit(&b)?;
        Ok(())
    }

    fn contact_named(&self, name: &str) -> Result<Contact, WalletError> {
        self.contacts()?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| WalletError::Contact(format!("no contact named {name:?}")))
    }

    /// Every contact, by name.
    pub fn contacts(&self) -> Result<Vec<Contact>, WalletError> {
        scan_json(self.store.as_ref(), Table::Contacts, "contacts")
    }

    /// Finds a contact by name, or by device id (full hex or a unique prefix of ≥ 8 digits).
    pub fn find_contact(&self, query: &str) -> Result<Option<Contact>, WalletError> {
        let all = self.contacts()?;
        if let Some(c) = all.iter().find(|c| c.name == query) {
            return Ok(Some(c.clone()));
        }
        let q = query.to_ascii_lowercase();
        if q.len() >= 8 {
            let hits: Vec<&Contact> = all.iter().filter(|c| c.device.starts_with(&q)).collect();
            if hits.len() == 1 {
                return Ok(Some(hits[0].clone()));
            }
        }
        Ok(None)
    }

    /// The name of the contact with this device id, if any.
    pub fn contact_name(&self, device: &DeviceId) -> Option<String> {
        let hex = device.digest().to_hex();
        self.contacts()
            .ok()?
            .into_iter()
            .find(|c| c.device == hex)
            .map(|c| c.name)
    }

    /// This device's contact card under `name` ([`ContactCard`], v2: it commits to the
    /// sealed identity document by its address).
    pub fn card(&self, name: &str) -> Result<String, WalletError> {
        Ok(ContactCard {
            name: name.to_string(),
            device: self.device_id(),
            document: Some(dsm_core::hash::object_address(self.sealed_document()?)),
        }
        .to_text())
    }

    /// This device's signed read of `entries` of its b0x addresses for `op` at `node` (a
    /// URL authority; PROTOCOL.md §16.1). `None` only if this device's key cannot sign or
    /// the entries are not 1 to 4,096 distinct addresses in ascending order of blind.
    pub fn b0x_read(
        &mut self,
        node: &str,
        op: dsm_core::slot::B0xOp,
        entries: Vec<dsm_core::slot::B0xCursor>,
    ) -> Option<dsm_core::slot::B0xRead> {
        let rnd = Ledger::random(self);
        // The slot admission (kind 6), as for its slot writes: the node sees the genesis
        // blind, the key and the slot owner, never the genesis or the device id.
        dsm_core::slot::B0xRead::sign(
            dsm_core::slot::Admission::DeviceSlots {
                genesis_blind: dsm_core::slot::genesis_blind(&self.identity.genesis),
            },
            &self.key,
            node,
            op,
            dsm_core::slot::B0xScope {
                owner: self.slot_owner(),
                entries,
            },
            &rnd,
        )
        .ok()
    }

    /// The secret this device derives what nobody else may predict from (its KEM keys,
    /// sealing randomness, b0x blinds): its generation's capsule key when the identity has
    /// a recovery phrase — so the phrase re-derives them after a loss — else its canonical
    /// private signing key.
    pub(crate) fn device_secret(&self) -> zeroize::Zeroizing<Vec<u8>> {
        match &self.capsule_key {
            Some(k) => zeroize::Zeroizing::new(k.secret_bytes().to_vec()),
            None => self.key.private_key_bytes(),
        }
    }

    /// The encapsulation randomness and nonce to seal `item` with: derived from this
    /// device's secret and the item, so sealing the same item again gives the same bytes
    /// (a re-post is idempotent at the nodes), and nobody without the secret can predict
    /// them (PROTOCOL.md §16.1).
    pub(crate) fn seal_randomness(&self, item: &[u8]) -> ([u8; 32], [u8; 24]) {
        let secret = self.device_secret();
        let m = tagged_hash(Tag::SealRandomness, &[b"m", &secret, item]);
        let n = tagged_hash(Tag::SealRandomness, &[b"n", &secret, item]);
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&n.0[..24]);
        (m.0, nonce)
    }

    /// This device's ML-KEM-768 keys: `keygen(d = H(DeviceKemSeed, "d", s), z =
    /// H(DeviceKemSeed, "z", s))` with `s` the device generation's capsule key when the
    /// identity has a recovery phrase (so the phrase recovers what was encrypted to a lost
    /// device), else its canonical private signing key. A successor is a new generation,
    /// so it has new KEM keys (PROTOCOL.md §12.6).
    pub fn kem_keys(
        &self,
    ) -> (
        dsm_core::crypto::KemPublicKey,
        dsm_core::crypto::KemSecretKey,
    ) {
        dsm_protocol::card::device_kem_keys(&self.device_secret())
    }

    /// This device's identity document ([`dsm_protocol::card::ContactDocument`]), sealed
    /// as the nodes store it; built (and signed) once per open wallet.
    pub fn sealed_document(&self) -> Result<&[u8], WalletError> {
        Ok(&self.documents()?.1)
    }

    /// This device's identity document ([`dsm_protocol::card::ContactDocument`]).
    pub fn contact_document(&self) -> Result<&dsm_protocol::card::ContactDocument, WalletError> {
        Ok(&self.documents()?.0)
    }

    fn documents(&self) -> Result<&(dsm_protocol::card::ContactDocument, Vec<u8>), WalletError> {
        if let Some(d) = self.sealed_document.get() {
            return Ok(d);
        }
        let doc =
            dsm_protocol::card::ContactDocument::sign(&self.identity, &self.key, self.kem_keys().0)
                .map_err(|e| {
                    WalletError::Contact(format!("cannot sign the identity document: {e}"))
                })?;
        Ok(self.sealed_document.get_or_init(|| {
            let sealed = doc.seal();
            (doc, sealed)
        }))
    }

    /// Puts `device`'s verified identity document into `b`, with the address of its sealed
    /// form (the one a card names; a device has one document, which seals to the same
    /// bytes wherever it is sealed, §12.6), so each capsule names it without sealing it
    /// again ([`Wallet::peer_document_address`]).
    pub(crate) fn put_contact_document(
        &self,
        b: &mut Batch,
        device: &DeviceId,
        doc: &dsm_protocol::card::ContactDocument,
    ) {
        b.put(
            Table::Meta,
            [CONTACT_DOCUMENT, device.as_bytes()].concat(),
            doc.to_bytes(),
        );
        b.put(
            Table::Meta,
            [CONTACT_DOCUMENT_ADDRESS, device.as_bytes()].concat(),
            dsm_core::hash::object_address(&doc.seal())
                .as_bytes()
                .to_vec(),
        );
    }

    /// Records the identity document of the contact whose v2 card is `card`, after
    /// checking `sealed` is the one the card names, opens under its device id and is signed
    /// by that device ([`dsm_protocol::card::ContactDocument::open`]).
    pub fn accept_contact_document(
        &mut self,
        card: &ContactCard,
        sealed: &[u8],
    ) -> Result<dsm_protocol::card::ContactDocument, WalletError> {
        let doc = dsm_protocol::card::ContactDocument::open(card, sealed)
            .map_err(|e| WalletError::Contact(e.to_string()))?;
        let mut b = Batch::new();
        self.put_contact_document(&mut b, &card.device, &doc);
        self.store.commit(&b)?;
        Ok(doc)
    }

    /// Remembers the document address a contact's v2 card names, so that a sync fetches
    /// and checks its identity document ([`Wallet::contact_documents_missing`]).
    pub fn expect_contact_document(&mut self, card: &ContactCard) -> Result<(), WalletError> {
        let Some(address) = card.document else {
            return Ok(());
        };
        if self.contact_document_address(&card.device)? == Some(address) {
            return Ok(());
        }
        let mut b = Batch::new();
        b.put(
            Table::Meta,
            [CONTACT_DOCUMENT_ADDRESS, card.device.as_bytes()].concat(),
            address.as_bytes().to_vec(),
        );
        // The backup carries the address with the contact, so a successor can fetch the
        // document again (PROTOCOL.md §20.2).
        let hex = card.device.digest().to_hex();
        if let Some(c) = self.contacts()?.into_iter().find(|c| c.device == hex) {
            self.add_capsule(
                &mut b,
                None,
                vec![dsm_recovery::body::ContactEntry {
                    name: c.name,
                    device: card.device,
                    document: Some(address),
                }],
            )?;
        }
        self.store.commit(&b)?;
        Ok(())
    }

    /// The document address `device`'s card named, if any.
    pub fn contact_document_address(
        &self,
        device: &DeviceId,
    ) -> Result<Option<Digest>, WalletError> {
        Ok(self
            .store
            .get(
                Table::Meta,
                &[CONTACT_DOCUMENT_ADDRESS, device.as_bytes()].concat(),
            )?
            .and_then(|a| <[u8; 32]>::try_from(a.as_slice()).ok())
            .map(Digest))
    }

    /// The cards (name, device, document address) of contacts whose identity document a
    /// card named but this wallet has not accepted yet.
    pub fn contact_documents_missing(&self) -> Result<Vec<ContactCard>, WalletError> {
        let mut out = Vec::new();
        for c in self.contacts()? {
            let device = c.device_id()?;
            let Some(a) = self.store.get(
                Table::Meta,
                &[CONTACT_DOCUMENT_ADDRESS, device.as_bytes()].concat(),
            )?
            else {
                continue;
            };
            if self.contact_kem_key(&device)?.is_some() {
                continue;
            }
            let address = <[u8; 32]>::try_from(a.as_slice()).map_err(|_| WalletError::Corrupt {
                what: "contact document address",
                error: "not 32 bytes".into(),
            })?;
            out.push(ContactCard {
                name: c.name,
                device,
                document: Some(Digest(address)),
            });
        }
        Ok(out)
    }

    /// True if this device's sealed identity document was published at a quorum of nodes.
    pub fn document_published(&self) -> Result<bool, WalletError> {
        let address = dsm_core::hash::object_address(self.sealed_document()?);
        Ok(self.store.get(Table::Meta, DOCUMENT_PUBLISHED)?.as_deref() == Some(address.as_bytes()))
    }

    /// Records that this device's sealed identity document is at a quorum of nodes.
    pub fn set_document_published(&mut self) -> Result<(), WalletError> {
        let address = dsm_core::hash::object_address(self.sealed_document()?);
        let mut b = Batch::new();
        b.put(
            Table::Meta,
            DOCUMENT_PUBLISHED.to_vec(),
            address.as_bytes().to_vec(),
        );
        self.store.commit(&b)?;
        Ok(())
    }

    /// The verified ML-KEM-768 key of `device`, if its identity document was accepted.
    pub fn contact_kem_key(
        &self,
        device: &DeviceId,
    ) -> Result<Option<dsm_core::crypto::KemPublicKey>, WalletError> {
        Ok(self.accepted_document(device)?.map(|d| d.kem_key))
    }

    /// The verified identity of `device` (its genesis and key), if its identity document
    /// was accepted (§12.6).
    pub fn contact_identity(
        &self,
        device: &DeviceId,
    ) -> Result<Option<DeviceIdentity>, WalletError> {
        Ok(self.accepted_document(device)?.map(|d| d.device))
    }

    /// The identity of `device` as its verified identity document gives it (§12.6), or
    /// this device's own; `None` for a device whose document this wallet lacks, to which it
    /// posts nothing first: a b0x address derives from the identity, and an item is sealed
    /// to the document's KEM key (PROTOCOL.md §16.1).
    pub fn peer_identity(&self, device: &DeviceId) -> Result<Option<DeviceIdentity>, WalletError> {
        if *device == self.id {
            return Ok(Some(self.identity.clone()));
        }
        Ok(self.accepted_document(device)?.map(|d| d.device))
    }

    /// The identity of `device` as this wallet knows it, document or not: a verified
    /// document's, one from a statement it signed or from its hello, or this device's own.
    /// Only a succession notice is posted on it alone (PROTOCOL.md §20.2).
    pub fn known_identity(&self, device: &DeviceId) -> Result<Option<DeviceIdentity>, WalletError> {
        if let Some(i) = self.peer_identity(device)? {
            return Ok(Some(i));
        }
        let Some(v) = self
            .store
            .get(Table::Meta, &[IDENTITY_OF, device.as_bytes()].concat())?
        else {
            return Ok(None);
        };
        let identity = DeviceIdentity::from_bytes(&v).map_err(corrupt("identity index"))?;
        if identity.device_id() != *device {
            return Err(WalletError::Corrupt {
                what: "identity index",
                error: "an identity filed under another device id".into(),
            });
        }
        Ok(Some(identity))
    }

    /// The address of `device`'s sealed identity document: the one its card named or this
    /// wallet filed when it accepted the document; else (a document accepted before
    /// 2026-12-06 from a reply-to) that of the accepted document, sealed again here. A
    /// successor fetches it to post its notice.
    pub fn peer_document_address(&self, device: &DeviceId) -> Result<Option<Digest>, WalletError> {
        if let Some(a) = self.contact_document_address(device)? {
            return Ok(Some(a));
        }
        Ok(self
            .accepted_document(device)?
            .map(|d| dsm_core::hash::object_address(&d.seal())))
    }

    /// This device's slot owner ([`dsm_core::slot::device_slots_owner`]): it owns the
    /// device's anchors and parcel slots, and its b0x addresses derive from it (§15.2,
    /// §16.1).
    pub fn slot_owner(&self) -> Digest {
        dsm_core::slot::device_slots_owner(&self.identity)
    }

    /// This device's introduction address ([`dsm_core::slot::introduction_address`]):
    /// where a poster that knows its identity, and no address it named, posts to it.
    pub fn introduction_address(&self) -> Digest {
        dsm_core::slot::introduction_address(&self.identity)
    }

    fn accepted_document(
        &self,
        device: &DeviceId,
    ) -> Result<Option<dsm_protocol::card::ContactDocument>, WalletError> {
        self.store
            .get(Table::Meta, &[CONTACT_DOCUMENT, device.as_bytes()].concat())?
            .map(|v| {
                dsm_protocol::card::ContactDocument::from_bytes(&v)
                    .map_err(corrupt("contact document"))
            })
            .transpose()
    }

    /// The receipt of the transfer whose proposal commit starts with `id_prefix` (hex).
    pub fn receipt(&self, id_prefix: &str) -> Result<Option<Receipt>, WalletError> {
        let q = id_prefix.to_ascii_lowercase();
        if q.is_empty() {
            return Ok(None);
        }
        let mut hits = self
            .store
            .scan(Table::Receipts)?
            .into_iter()
            .filter(|(k, _)| {
                Digest(k.as_slice().try_into().unwrap_or([0; 32]))
                    .to_hex()
                    .starts_with(&q)
            });
        match (hits.next(), hits.next()) {
            (Some((_, v)), None) => Ok(Some(Receipt::from_bytes(&v).map_err(corrupt("receipt"))?)),
            _ => Ok(None),
        }
    }

    /// Proposals of ours still waiting for their answers, by peer, each peer's queue
    /// oldest first.
    pub fn pending(&self) -> Result<Vec<SignedProposal>, WalletError> {
        Ok(self.pending.values().flatten().cloned().collect())
    }

    /// Takes `p` out of the pending queue in `b` (under its key, and under the key a wallet
    /// written before queues used, when that holds it).
    fn unpend(&self, b: &mut Batch, p: &SignedProposal) -> Result<(), LedgerError> {
        b.delete(Table::Pending, pending_key(p));
        let legacy = p.proposal.step.receiver.as_bytes().to_vec();
        if self
            .store
            .get(Table::Pending, &legacy)?
            .is_some_and(|v| v == p.to_bytes())
        {
            b.delete(Table::Pending, legacy);
        }
        Ok(())
    }

    /// Removes the proposal with `commit` from the in-memory queue to `peer`.
    fn forget_pending(&mut self, peer: &DeviceId, commit: &Digest) {
        if let Some(q) = self.pending.get_mut(peer) {
            q.retain(|p| p.proposal.commit() != *commit);
            if q.is_empty() {
                self.pending.remove(peer);
            }
        }
    }

    /// Every equivocation proof this wallet holds: the first against each device, then
    /// each proof of a parcel in conflict (once each).
    pub fn evidence(&self) -> Result<Vec<EquivocationProof>, WalletError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (_, v) in self
            .store
            .scan(Table::Evidence)?
            .into_iter()
            .chain(self.store.scan(Table::ParcelConflicts)?)
        {
            if seen.insert(dsm_core::hash::object_address(&v)) {
                out.push(EquivocationProof::from_bytes(&v).map_err(corrupt("evidence"))?);
            }
        }
        Ok(out)
    }

    /// Verifies and stores an equivocation proof learned elsewhere; returns what it proves.
    pub fn import_evidence(&mut self, bytes: &[u8]) -> Result<Equivocation, WalletError> {
        let (proof, what) =
            EquivocationProof::verify_bytes(bytes).map_err(|e| WalletError::Corrupt {
                what: "evidence file",
                error: e.to_string(),
            })?;
        self.record_evidence(&proof, &what)?;
        Ok(what)
    }

    /// Adds the first statement seen for a head to `b` (nothing if one is known). `place` is
    /// where its bytes live: inline, or inside a receipt the batch also stores.
    fn add_witness(
        &self,
        b: &mut Batch,
        statement: &Statement,
        place: WitnessPlace<'_>,
        seq: &mut u64,
    ) -> Result<(), WalletError> {
        let (device, parent, child) = statement.head_transition();
        let key = witness_key(&device, &parent);
        if self.store.get(Table::Witness, &key)?.is_none() {
            let mut v = child.as_bytes().to_vec();
            match place {
                WitnessPlace::Inline => {
                    v.push(0);
                    v.extend_from_slice(&statement.to_bytes());
                }
                WitnessPlace::ProposalOf(commit) => {
                    v.push(1);
                    v.extend_from_slice(commit.as_bytes());
                }
                WitnessPlace::AcceptanceOf(commit) => {
                    v.push(2);
                    v.extend_from_slice(commit.as_bytes());
                }
            }
            b.put(Table::Witness, key.clone(), v);
            b.put(Table::WitnessOrder, seq.to_be_bytes().to_vec(), key);
            *seq += 1;
        }
        Ok(())
    }

    /// Sets the status of the history line at `height` if it is the one for `commit`.
    fn set_status(
        &self,
        b: &mut Batch,
        height: u64,
        commit: &Digest,
        status: LineStatus,
    ) -> Result<(), StoreError> {
        let key = history_key(height);
        if let Some(bytes) = self.store.get(Table::History, &key)? {
            if let Ok(mut entry) = serde_json::from_slice::<HistoryEntry>(&bytes) {
                if entry.receipt == Some(*commit) {
                    entry.status = status;
                    b.put(Table::History, key.to_vec(), json(&entry));
                }
            }
        }
        Ok(())
    }

    /// The proposal a witness-table value names, if any, decoded once per value.
    fn gossiped_proposal(&self, value: Vec<u8>) -> Result<Option<SignedProposal>, LedgerError> {
        let memo = || self.caches.witnessed();
        if let Some(p) = memo().get(&value) {
            return Ok(p.clone());
        }
        let p = match self.witnessed_statement(&value) {
            Ok(Some(Statement::Proposal(p))) => Some(p),
            Ok(_) | Err(WalletError::Corrupt { .. }) => None,
            Err(e) => return Err(LedgerError::Store(e.to_string())),
        };
        let mut m = memo();
        // Bounded: a hello reads at most 4 × MAX_WITNESSED entries, the newest.
        if m.len() >= 1024 {
            m.clear();
        }
        m.insert(value, p.clone());
        Ok(p)
    }

    fn witnessed_statement(&self, value: &[u8]) -> Result<Option<Statement>, WalletError> {
        let Some(&place) = value.get(32) else {
            return Ok(None);
        };
        let rest = &value[33..];
        Ok(match place {
            0 => Statement::from_bytes(rest).ok(),
            1 | 2 => {
                let Some(bytes) = self.store.get(Table::Receipts, rest)? else {
                    return Ok(None);
                };
                let r = Receipt::from_bytes(&bytes).map_err(corrupt("receipt"))?;
                Some(if place == 1 {
                    Statement::Proposal(r.proposal)
                } else {
                    Statement::Acceptance(r.acceptance)
                })
            }
            _ => None,
        })
    }

    /// True once a head-changing write failed; reopen the wallet to go on.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Commits a head-changing batch, with its recovery capsule sealed in (PROTOCOL.md
    /// §20.2; `counterparty` is the other device of the relationship leaves `b` sets); any
    /// failure poisons the wallet (see `poisoned`).
    fn commit_head_change(
        &mut self,
        b: &mut Batch,
        counterparty: Option<DeviceId>,
    ) -> Result<(), LedgerError> {
        if self.poisoned {
            return Err(LedgerError::Store(
                "an earlier write failed; reopen the wallet before signing anything else".into(),
            ));
        }
        // A peer met in this session and not filed yet: filed with this change, so its
        // capsule names the peer's slot owner (PROTOCOL.md §20.2).
        if let Some(peer) = counterparty.and_then(|c| self.met.get(&c)) {
            if self
                .known_identity(&peer.device_id())
                .map_err(|e| LedgerError::Store(e.to_string()))?
                .is_none()
            {
                parcels::put_identity(b, peer);
            }
        }
        self.add_capsule(b, counterparty, Vec::new())
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        self.store.commit(b).map_err(|e| {
            self.poisoned = true;
            LedgerError::Store(e.to_string())
        })
    }
}

/// Where a witnessed statement's bytes are kept.
#[derive(Clone, Copy)]
enum WitnessPlace<'a> {
    Inline,
    ProposalOf(&'a Digest),
    AcceptanceOf(&'a Digest),
}

/// The writes every transfer transition makes: the new head, the relationship's new leaf
/// and the history line (each caller adds its own record to the same batch).
fn put_transition(
    b: &mut Batch,
    head: &DeviceHead,
    relationship: &RelationshipKey,
    leaf: &TipDigest,
    entry: &HistoryEntry,
) {
    b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
        .put(
            Table::Tips,
            relationship.as_bytes().to_vec(),
            leaf.as_bytes().to_vec(),
        )
        .put(Table::History, history_key(entry.height), json(entry));
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("plain data serialises")
}

impl ChainView for Wallet {
    fn is_equivocator(&self, device: &DeviceId) -> Result<bool, ViewError> {
        Ok(self.refused.is_equivocator(device))
    }
    fn is_tombstoned(&self, device: &DeviceId) -> Result<bool, ViewError> {
        Ok(self.refused.is_tombstoned(device))
    }
    fn head_successor(
        &self,
        device: &DeviceId,
        parent: &HeadDigest,
    ) -> Result<Option<HeadDigest>, ViewError> {
        // A store failure refuses (never "no successor seen"): otherwise an unreadable
        // witness would let a double spend through.
        let bytes = self
            .store
            .get(Table::Witness, &witness_key(device, parent))
            .map_err(|e| ViewError(format!("the witness index could not be read: {e}")))?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let child: [u8; 32] = bytes
            .get(..32)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ViewError("a witness record is damaged".into()))?;
        Ok(Some(HeadDigest(Digest(child))))
    }
    fn tip_successor(
        &self,
        _: &RelationshipKey,
        _: &TipDigest,
    ) -> Result<Option<TipDigest>, ViewError> {
        // The wallet indexes heads, not tips: a tip fork is caught as a head fork (every
        // consumption of a tip is also a successor of the signer's head).
        Ok(None)
    }
}

impl Ledger for Wallet {
    fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }
    fn signing_key(&self) -> &SigningKey {
        &self.key
    }
    fn note_peer(&mut self, peer: &DeviceIdentity) -> Result<(), LedgerError> {
        // Kept in memory, filed by the next head change with this peer (one write, atomic
        // with it): a hello alone commits nothing.
        self.met.insert(peer.device_id(), peer.clone());
        Ok(())
    }
    fn head(&self) -> &DeviceHead {
        &self.head
    }
    fn tree(&self) -> &SparseMerkleTree {
        &self.tree
    }
    fn view(&self) -> &dyn ChainView {
        self
    }
    fn random(&mut self) -> [u8; 32] {
        match &mut self.rng_override {
            Some((seed, n)) => {
                *n += 1;
                *tagged_hash(
                    Tag::SigningRandomness,
                    &[
                        b"dsm deterministic signing randomness",
                        &seed.to_be_bytes(),
                        &n.to_be_bytes(),
                    ],
                )
                .as_bytes()
            }
            // If the OS generator fails, hedged signing with all-zero randomness is still
            // a valid (deterministic) FIPS 204/205 signature.
            None => os_random().unwrap_or([0; 32]),
        }
    }
    fn pending_to(&self, peer: &DeviceId) -> Result<Vec<SignedProposal>, LedgerError> {
        Ok(self.pending.get(peer).cloned().unwrap_or_default())
    }
    fn refused_behind(
        &self,
        relationship: &RelationshipKey,
        parent_tip: &TipDigest,
    ) -> Result<Option<Vec<RelationshipStep>>, LedgerError> {
        let Some(commit) = self
            .store
            .get(Table::Meta, &refused_child_key(relationship, parent_tip))?
        else {
            return Ok(None);
        };
        let bad = |what: &'static str| LedgerError::Store(format!("the {what} is damaged"));
        let commit = Digest(
            commit
                .as_slice()
                .try_into()
                .map_err(|_| bad("refused step index"))?,
        );
        let proposal = self
            .store
            .get(Table::Meta, &refused_key(&commit))?
            .ok_or_else(|| bad("refused proposal"))?;
        let proposal = SignedProposal::from_bytes(&proposal)
            .map_err(|e| LedgerError::from(corrupt("refused proposal")(e)))?;
        let refusal = self
            .refusal_for(&commit)?
            .ok_or_else(|| bad("refusal of a refused proposal"))?;
        let mut behind = refusal.refusal.behind;
        behind.push(proposal.proposal.step);
        Ok(Some(behind))
    }
    fn released_on(
        &self,
        relationship: &RelationshipKey,
    ) -> Result<Option<RelationshipStep>, LedgerError> {
        let Some(bytes) = self.store.get(Table::Meta, &released_key(relationship))? else {
            return Ok(None);
        };
        let step = RelationshipStep::from_bytes(&bytes)
            .map_err(|e| LedgerError::from(corrupt("released step")(e)))?;
        let leaf = self.tree.get(relationship.as_bytes()).map(TipDigest);
        Ok((leaf == Some(dsm_core::receipt::release_tip(&step.child_tip()))).then_some(step))
    }
    fn winner_to_answer(
        &self,
        relationship: &RelationshipKey,
    ) -> Result<Option<RelationshipStep>, LedgerError> {
        if self.released_on(relationship)?.is_none() {
            return Ok(None); // the leaf moved on: the winner was answered (or none was)
        }
        let Some(bytes) = self
            .store
            .get(Table::Meta, &crossing_winner_key(relationship))?
        else {
            return Ok(None);
        };
        RelationshipStep::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| LedgerError::from(corrupt("crossing winner")(e)))
    }
    fn acceptance_for(&self, commit: &Digest) -> Result<Option<SignedAcceptance>, LedgerError> {
        // Our acceptances live inside the receipts we stored when accepting.
        match self.store.get(Table::Receipts, commit.as_bytes())? {
            Some(b) => {
                let r = Receipt::from_bytes(&b)
                    .map_err(|e| LedgerError::from(corrupt("receipt")(e)))?;
                Ok((r.proposal.proposal.step.receiver == self.device_id()).then_some(r.acceptance))
            }
            None => Ok(None),
        }
    }
    fn is_stitched(&self, commit: &Digest) -> Result<bool, LedgerError> {
        Ok(self
            .store
            .get(Table::Receipts, commit.as_bytes())?
            .is_some())
    }

    fn commit_debit(&mut self, built: &BuiltProposal, offer: &Offer) -> Result<(), LedgerError> {
        let p = &built.signed.proposal;
        if p.sender_parent_head != self.head {
            return Err(LedgerError::HeadMoved);
        }
        if let Some(why) = self
            .succession_gate(&p.step.receiver)
            .map_err(|e| LedgerError::Store(e.to_string()))?
        {
            return Err(LedgerError::NotAllowed(why));
        }
        // Every pending proposal rides in each recovery capsule (PROTOCOL.md §20.2), which
        // holds a bounded number: never more pending than a capsule can carry.
        let cap = dsm_recovery::body::MAX_PENDING_PER_CAPSULE;
        if self.pending.values().map(Vec::len).sum::<usize>() >= cap {
            return Err(LedgerError::NotAllowed(format!(
                "{cap} transfers are already waiting for their answers, as many as a recovery \
                 capsule carries; run `dsm sync` (or meet those peers) to settle some first"
            )));
        }
        let entry = HistoryEntry::for_step(
            built.child_head.height,
            EntryKind::Sent,
            &p.step.receiver,
            &p.step,
            LineStatus::Pending,
            &p.commit(),
        );
        let mut b = Batch::new();
        put_transition(
            &mut b,
            &built.child_head,
            &p.step.relationship,
            &built.child_tip,
            &entry,
        );
        b.put(
            Table::Pending,
            pending_key(&built.signed),
            built.signed.to_bytes(),
        );
        // The write the offer of this very proposal carried (signed over its slots).
        let sent = offer
            .slot_write
            .as_ref()
            .filter(|_| offer.signed == built.signed);
        self.record_offer(&mut b, &built.signed, sent)
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        let change = self
            .spend_parcels(&mut b, &built.signed.hop())
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        self.commit_head_change(&mut b, Some(p.step.receiver))?;
        self.apply_book(change);
        self.head = built.child_head.clone();
        self.tree
            .insert(*p.step.relationship.as_bytes(), built.child_tip.0);
        self.pending
            .entry(p.step.receiver)
            .or_default()
            .push(built.signed.clone());
        Ok(())
    }

    fn select_inputs(&self, token: &TokenId, amount: Amount) -> Result<Vec<Parcel>, LedgerError> {
        self.book
            .select(self.device_id(), token, amount)
            .map_err(|e| LedgerError::NotAllowed(e.to_string()))
    }

    fn offer(&self, signed: &SignedProposal, object_budget: usize) -> Result<Offer, LedgerError> {
        self.offer_within(signed, object_budget)
            .map_err(|e| LedgerError::NotAllowed(e.to_string()))
    }

    fn lineage_objects(
        &self,
        commit: &Digest,
        addresses: &[Digest],
        budget: usize,
    ) -> Result<Vec<Vec<u8>>, LedgerError> {
        self.objects_for(commit, addresses, budget)
            .map_err(|e| LedgerError::Store(e.to_string()))
    }

    fn check_offer(
        &mut self,
        offer: &Offer,
    ) -> Result<Result<Vec<VerifiedLineage>, LineageRefusal>, LedgerError> {
        Ok(parcels_check(self, offer)?.map_err(|e| match e {
            parcels::LineageProblem::Missing(v) => LineageRefusal::Missing(v),
            parcels::LineageProblem::Unreadable(p, e) => LineageRefusal::Invalid {
                parcel: Some(p),
                why: e.to_string(),
            },
            parcels::LineageProblem::Invalid(p, e) => LineageRefusal::Invalid {
                parcel: Some(p),
                why: e.to_string(),
            },
        }))
    }

    fn commit_credit(
        &mut self,
        built: &BuiltAcceptance,
        offer: &Offer,
        lineages: &[VerifiedLineage],
    ) -> Result<(), LedgerError> {
        let a = &built.receipt.acceptance.acceptance;
        let p = &built.receipt.proposal.proposal;
        if a.receiver_parent_head != self.head {
            return Err(LedgerError::HeadMoved);
        }
        let commit = p.commit();
        let entry = HistoryEntry::for_step(
            built.child_head.height,
            EntryKind::Received,
            &p.step.sender,
            &p.step,
            LineStatus::Final,
            &commit,
        );
        let mut b = Batch::new();
        put_transition(
            &mut b,
            &built.child_head,
            &p.step.relationship,
            &built.child_tip,
            &entry,
        );
        b.put(
            Table::Receipts,
            commit.as_bytes().to_vec(),
            built.receipt.to_bytes(),
        );
        let mut seq = self.witness_seq;
        self.add_witness(
            &mut b,
            &Statement::Proposal(built.receipt.proposal.clone()),
            WitnessPlace::ProposalOf(&commit),
            &mut seq,
        )?;
        if offer.signed != built.receipt.proposal {
            return Err(LedgerError::NotAllowed(
                "the offer is not the accepted proposal's".into(),
            ));
        }
        let change = self
            .receive_parcels(&mut b, offer, lineages)
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        self.commit_head_change(&mut b, Some(p.step.sender))?;
        self.apply_book(change);
        self.witness_seq = seq;
        self.head = built.child_head.clone();
        self.tree
            .insert(*p.step.relationship.as_bytes(), built.child_tip.0);
        self.exposure.received(
            commit,
            UnsettledCredit {
                token: p.step.token,
                sender: p.step.sender,
                amount: p.step.amount,
            },
        );
        Ok(())
    }

    fn commit_stitch(&mut self, receipt: &Receipt) -> Result<(), LedgerError> {
        let p = &receipt.proposal.proposal;
        let commit = p.commit();
        // Deferred durability: if a crash loses this, the proposal is still pending and the
        // next session with the peer delivers the same acceptance again.
        let mut b = Batch::deferred();
        let releases = self
            .pending
            .get(&p.step.receiver)
            .and_then(|q| q.iter().find(|pending| pending.proposal == *p))
            .cloned();
        if let Some(pending) = &releases {
            self.unpend(&mut b, pending)?;
            b.delete(Table::Offers, commit.as_bytes().to_vec());
        }
        self.set_status(
            &mut b,
            p.sender_child_head.height,
            &commit,
            LineStatus::Final,
        )?;
        b.put(
            Table::Receipts,
            commit.as_bytes().to_vec(),
            receipt.to_bytes(),
        );
        // The pending set changed: the backup must not resurrect a finished transfer.
        self.add_capsule(&mut b, None, Vec::new())
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        let mut seq = self.witness_seq;
        self.add_witness(
            &mut b,
            &Statement::Acceptance(receipt.acceptance.clone()),
            WitnessPlace::AcceptanceOf(&commit),
            &mut seq,
        )?;
        self.store.commit(&b)?;
        self.witness_seq = seq;
        if releases.is_some() {
            self.forget_pending(&p.step.receiver, &commit);
        }
        Ok(())
    }

    fn refusal_reason(&self, proposal: &VerifiedProposal) -> Option<RefusalReason> {
        let step = &proposal.signed().proposal.step;
        match self.rules.check_transfer(step) {
            Ok(()) => {}
            Err(dsm_token::source::TokenError::UnknownPolicy(_)) => {
                return Some(RefusalReason::UnknownToken)
            }
            Err(_) => return Some(RefusalReason::TokenRules),
        }
        self.exposure
            .judge(step, &proposal.signed().proposal.commit())
    }

    fn refusal_for(&self, commit: &Digest) -> Result<Option<SignedRefusal>, LedgerError> {
        match self.store.get(Table::Refusals, commit.as_bytes())? {
            Some(b) => Ok(Some(
                SignedRefusal::from_bytes(&b)
                    .map_err(|e| LedgerError::from(corrupt("refusal")(e)))?,
            )),
            None => Ok(None),
        }
    }

    fn commit_refusal(&mut self, offer: &Offer, built: &BuiltRefusal) -> Result<(), LedgerError> {
        let proposal = &offer.signed;
        let r = &built.signed.refusal;
        if r.receiver_parent_head != self.head {
            return Err(LedgerError::HeadMoved);
        }
        let p = &proposal.proposal;
        let commit = p.commit();
        let entry = HistoryEntry::for_step(
            built.child_head.height,
            EntryKind::Refused,
            &p.step.sender,
            &p.step,
            LineStatus::Refused,
            &commit,
        );
        let mut b = Batch::new();
        put_transition(
            &mut b,
            &built.child_head,
            &p.step.relationship,
            &built.leaf,
            &entry,
        );
        b.put(
            Table::Refusals,
            commit.as_bytes().to_vec(),
            built.signed.to_bytes(),
        );
        // The sender's authorization for its slots: the refused proposal is a hop of the
        // release parcel's lineage, which we may have to settle without the sender.
        if let Some(w) = &offer.slot_write {
            b.put(Table::Meta, parcels::slot_write_key(&commit), w.to_bytes());
        }
        b.put(Table::Meta, refused_key(&commit), proposal.to_bytes());
        // What its sender queued after it is refused behind it (PROTOCOL.md §7.7).
        b.put(
            Table::Meta,
            refused_child_key(&p.step.relationship, &p.step.child_tip()),
            commit.as_bytes().to_vec(),
        );
        let mut seq = self.witness_seq;
        self.add_witness(
            &mut b,
            &Statement::Proposal(proposal.clone()),
            WitnessPlace::Inline,
            &mut seq,
        )?;
        self.commit_head_change(&mut b, Some(p.step.sender))?;
        self.witness_seq = seq;
        self.head = built.child_head.clone();
        self.tree
            .insert(*p.step.relationship.as_bytes(), built.leaf.0);
        Ok(())
    }

    fn commit_release(
        &mut self,
        refused: &VerifiedRefusal,
        built: &BuiltRelease,
    ) -> Result<(), LedgerError> {
        if built.child_head.parent != self.head.digest() {
            return Err(LedgerError::HeadMoved);
        }
        let p = &refused.proposal().proposal;
        let commit = p.commit();
        let mut b = Batch::new();
        let pending = self
            .pending
            .get(&p.step.receiver)
            .and_then(|q| q.iter().find(|pending| pending.proposal == *p))
            .cloned();
        if let Some(pending) = &pending {
            self.unpend(&mut b, pending)?;
        }
        self.set_status(
            &mut b,
            p.sender_child_head.height,
            &commit,
            LineStatus::Released,
        )?;
        let change = self
            .release_parcels(&mut b, refused.proposal(), refused.refusal())
            .map_err(|e| LedgerError::Store(e.to_string()))?;
        let entry = HistoryEntry::for_step(
            built.child_head.height,
            EntryKind::Released,
            &p.step.receiver,
            &p.step,
            LineStatus::Final,
            &commit,
        );
        put_transition(
            &mut b,
            &built.child_head,
            &p.step.relationship,
            &built.release_tip,
            &entry,
        );
        b.put(
            Table::Refusals,
            commit.as_bytes().to_vec(),
            refused.refusal().to_bytes(),
        );
        // A release behind a refused step leaves the leaf on that step's release tip, and
        // what this device remembers of that release stays (PROTOCOL.md §7.7).
        if refused.refusal().refusal.behind.is_empty() {
            b.put(
                Table::Meta,
                released_key(&p.step.relationship),
                p.step.to_bytes(),
            );
            // A crossing's refusal names the winner, which this device must answer from the
            // released leaf before it proposes there again (`winner_to_answer`).
            match &refused.refusal().refusal.crossing {
                Some(winner) => b.put(
                    Table::Meta,
                    crossing_winner_key(&p.step.relationship),
                    winner.to_bytes(),
                ),
                None => b.delete(Table::Meta, crossing_winner_key(&p.step.relationship)),
            };
        }
        let mut seq = self.witness_seq;
        self.add_witness(
            &mut b,
            &Statement::Refusal(refused.refusal().clone()),
            WitnessPlace::Inline,
            &mut seq,
        )?;
        self.commit_head_change(&mut b, Some(p.step.receiver))?;
        self.apply_book(change);
        self.witness_seq = seq;
        self.head = built.child_head.clone();
        self.tree
            .insert(*p.step.relationship.as_bytes(), built.release_tip.0);
        self.forget_pending(&p.step.receiver, &commit);
        Ok(())
    }

    fn witness(&mut self, proposal: &SignedProposal) -> Result<(), LedgerError> {
        let device = proposal.proposal.step.sender;
        // The head transition, read without copying the proposal (gossip repeats the same
        // proposals in every hello: a repeat costs a hash and a lookup, nothing more).
        let key = witness_key(&device, &proposal.proposal.sender_child_head.parent);
        let existing = self.store.get(Table::Witness, &key)?;
        let known = match existing.as_ref().map(|b| b.get(..32)) {
            None => None,
            Some(Some(child)) => Some(HeadDigest(Digest(
                child.try_into().expect("a 32-byte slice"),
            ))),
            Some(None) => {
                return Err(LedgerError::Store("a witness record is damaged".into()));
            }
        };
        let store_err = |e: WalletError| LedgerError::Store(e.to_string());
        let seen =
            dsm_protocol::tripwire::observe(&self.id, &self.refused, proposal, known, || {
                match &existing {
                    Some(bytes) => self.witnessed_statement(bytes),
                    None => Ok(None),
                }
            })
            .map_err(store_err)?;
        let Observation::Verified { first, fork } = seen else {
            return Ok(());
        };
        // A head fork first: its proof is two proposals, which hellos gossip onward (and it
        // puts the parcels both spend in conflict too).
        if let Some((proof, what)) = fork {
            self.record_evidence(&proof, &what).map_err(store_err)?;
        }
        // Its parcel hop against the statements seen before: a parcel spent again, even in
        // a later head, is a parcel fork. Looked up before it joins the index.
        let hop = proposal.hop();
        self.detect_parcel_forks(&[(&hop, &proposal.proposal.sender)])
            .map_err(store_err)?;
        if first && !self.refused.is_equivocator(&device) {
            let statement = Statement::Proposal(proposal.clone());
            let mut b = Batch::deferred();
            let mut seq = self.witness_seq;
            self.add_witness(&mut b, &statement, WitnessPlace::Inline, &mut seq)?;
            let addr = parcels::put_object(&mut b, hop.to_bytes());
            self.index_spends(&mut b, &hop, &addr).map_err(store_err)?;
            self.store.commit(&b)?;
            self.witness_seq = seq;
        }
        Ok(())
    }

    fn gossip_forks(
        &self,
        exclude: &[DeviceId],
        max: usize,
    ) -> Result<Vec<dsm_core::parcel::ParcelFork>, LedgerError> {
        // Only the hop form: statement-form proofs travel as their proposals (`gossip`).
        let mut out = Vec::new();
        for (_, v) in self.store.scan(Table::ParcelConflicts)? {
            if out.len() >= max {
                break;
            }
            if let Some(f) = EquivocationProof::from_bytes(&v)
                .ok()
                .and_then(|p| p.as_parcel_fork().cloned())
            {
                if !exclude.contains(&f.signer.device_id()) && !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    fn learn_fork(&mut self, fork: &dsm_core::parcel::ParcelFork) -> Result<(), LedgerError> {
        let (device, parcel) = match fork.verify() {
            Ok(x) => x,
            Err(_) => return Ok(()), // gossip proves nothing unless it verifies
        };
        if self.book.cache.knows_conflict(&parcel, &device) {
            return Ok(());
        }
        if let Ok((proof, what)) = EquivocationProof::parcel_fork(fork.clone()) {
            self.record_evidence(&proof, &what)
                .map_err(|e| LedgerError::Store(e.to_string()))?;
        }
        Ok(())
    }

    fn gossip(&self, exclude: &[DeviceId], max: usize) -> Result<Vec<SignedProposal>, LedgerError> {
        // The choice is dsm-protocol's (`GossipPicker`); this feeds it from the store.
        let mut pick = dsm_protocol::gossip::GossipPicker::new(max, exclude);
        for (_, v) in self.store.scan(Table::Evidence)? {
            if let Ok(proof) = EquivocationProof::from_bytes(&v) {
                if !pick.evidence(&proof) {
                    break;
                }
            }
        }
        // The peer: the party that is not this device.
        let me = self.device_id();
        let peer = exclude.iter().find(|d| **d != me).copied();
        let mut sent = self.caches.gossip_sent();
        if sent.len() >= 1024 {
            sent.clear();
        }
        let already = peer.map(|p| sent.entry(p).or_default());
        for (_, key) in self.store.last(Table::WitnessOrder, pick.scan_window())? {
            let was_sent = already.as_ref().is_some_and(|a| a.contains(&key));
            if !pick.wants(&key, was_sent) {
                continue;
            }
            if let Some(bytes) = self.store.get(Table::Witness, &key)? {
                if let Some(p) = self.gossiped_proposal(bytes)? {
                    pick.recent(&key, p);
                }
            }
        }
        Ok(pick.remember(already))
    }
}

/// The offer check, with the wallet's errors as ledger errors.
fn parcels_check(
    w: &mut Wallet,
    offer: &Offer,
) -> Result<Result<Vec<VerifiedLineage>, parcels::LineageProblem>, LedgerError> {
    w.verify_offer_lineages(offer)
        .map_err(|e| LedgerError::Store(e.to_string()))
}
