//! The token layer of DSM, composed on top of the primitive (`dsm-core`) without changing
//! what it accepts:
//!
//! - [`policy`]: CPTA token policies — the immutable, canonical rules of a token, whose
//!   tagged hash is the token's id (`policy_commit`);
//! - [`authority`]: mint and burn statements with t-of-n issuer signatures;
//! - [`source`]: the proofs behind ALLOCATION and BURN heads, and [`source::TokenRules`],
//!   the one verifier of them (it implements core's `SourceVerifier`), plus the transfer
//!   rules (soulbound, allowlist);
//! - [`djte`]: join-triggered emissions — sharded activation accumulators, a count tree,
//!   exactly-uniform winner selection, rank descent, a spent set and a clamped halving
//!   schedule, with proofs any device can verify;
//! - [`era`]: the native token's fixed policy;
//! - [`reissue`]: refreshers replacing burned parcels by one fresh root, so lineages stay
//!   short;
//! - [`dbtc`]: dBTC, minted only by Bitcoin deposit proofs (via `dsm-btc`);
//! - [`units`]: amounts as decimal text with a token's decimal places, exactly;
//! - [`vault`]: deterministic limbo vaults (DLV) — value locked under release and refund
//!   conditions (signatures, preimages, receipts, iteration budgets, all/any).
//!
//! Everything here is a pure function of its inputs (PROTOCOL.md §17).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authority;
pub mod dbtc;
pub mod djte;
pub mod era;
pub mod policy;
pub mod reissue;
pub mod source;
pub mod units;
pub mod vault;

pub use policy::{PolicyError, TokenPolicy};
