//! # dsm-core
//!
//! The DSM primitive. See `PROTOCOL.md` at the repository root for the normative text.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod chain;
pub mod codec;
pub mod crypto;
pub mod hash;
pub mod identity;
mod memo;
pub mod parcel;
pub mod receipt;
pub mod seal;
pub mod slot;
pub mod smt;
pub mod tags;
pub mod tripwire;
pub mod word;
