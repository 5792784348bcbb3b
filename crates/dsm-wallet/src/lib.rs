//! The DSM wallet SDK.
//!
//! A [`Wallet`] is one device: its sealed key ([`keystore`]), committed head and tree,
//! contacts, history, pending transfers, witnessed statements and equivocation evidence,
//! all in a [`store::Store`] written with one atomic batch per state change. It implements
//! the session's [`dsm_protocol::session::Ledger`], and [`driver`] runs sessions over any
//! [`dsm_transport::Link`]. [`nodes`] replicates over storage nodes and [`online`] uses
//! them: anchoring and settlement, evidence exchange, unilateral delivery through b0x.
//! [`wallet::recovery`] writes recovery capsules and restores a lost device from its phrase.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
pub mod keystore;
pub mod nodes;
pub mod online;
pub mod store;
pub mod summary;
pub mod tls;
pub mod wallet;

pub use wallet::{
    token, validate_name, Contact, ContactChange, EntryKind, HistoryEntry, LineSettlement,
    LineStatus, StoreCheck, VaultInfo, VaultStatus, Wallet, WalletError, WitnessMaterial,
    DEFAULT_TOKEN,
};
