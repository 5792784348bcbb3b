//! ERA, the native token: a fixed policy whose entire supply sits in the DJTE source vault
//! (PROTOCOL.md §17.5). The only network-specific part is the join gate — which storage
//! operators a joining device pays, in which token and how much — so each network's ERA
//! has its own id; every other rule is fixed here.

use crate::policy::{
    BurnRule, DjteParams, Issuers, JoinGate, TokenKind, TokenPolicy, TransferRule,
};
use dsm_core::chain::{Amount, TokenId};

/// The ticker.
pub const TICKER: &str = "ERA";
/// Total supply, all of it emitted by DJTE: 80,000,000,000 units.
pub const SUPPLY: u128 = 80_000_000_000;
/// Shard bits: 2^16 activation shards.
pub const SHARD_BITS: u32 = 16;
/// Emissions in epoch 0; epoch i holds `2^i ·` this many.
pub const EPOCH0_EMISSIONS: u64 = 4096;
/// Units paid by each epoch-0 emission; halves every epoch. The schedule's floor-sum
/// exceeds the supply, so the last emission is clamped to what remains, then every
/// emission pays 0 (never a rejection).
pub const EPOCH0_AMOUNT: u128 = 1_000_000;

/// ERA's policy for a network whose join gate is `gate`.
pub fn era_policy(gate: JoinGate) -> TokenPolicy {
    TokenPolicy {
        ticker: TICKER.into(),
        decimals: 0,
        kind: TokenKind::Fungible,
        cap: Amount(SUPPLY),
        salt: TokenId::from_label("ERA/v1").0,
        issuers: Issuers::default(),
        burn: BurnRule::Holder,
        transfers: TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: Some(DjteParams {
            shard_bits: SHARD_BITS,
            epoch0_emissions: EPOCH0_EMISSIONS,
            epoch0_amount: Amount(EPOCH0_AMOUNT),
            gate,
        }),
        bitcoin: None,
        refreshers: None,
    }
}
