//! CPTA token policies: the immutable rules of a token.
//!
//! A policy is a canonical message; its tagged hash `H(TokenPolicy, enc(policy))` is the
//! token's id (`policy_commit`), so every transition that names the token names the exact
//! policy bytes, and changing a rule makes a different token. A device refuses any
//! transition of a token whose policy bytes it does not hold (PROTOCOL.md §17.1).

use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::PublicKey;
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::smt::{SmtProof, SparseMerkleTree};
use dsm_core::tags::Tag;
use thiserror::Error;

/// The most issuer keys a policy may name.
pub const MAX_ISSUERS: usize = 16;
/// The most initial allocations a policy may list.
pub const MAX_INITIAL: usize = 64;
/// The most storage operators a join gate may list.
pub const MAX_OPERATORS: usize = 64;
/// The largest `shard_bits` of a DJTE policy (2^20 shards).
pub const MAX_SHARD_BITS: u32 = 20;
/// The largest canonical policy.
pub const MAX_POLICY_LEN: usize = 64 * 1024;

/// What kind of token a policy defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Divisible, transferable value.
    Fungible = 0,
    /// One unique item: decimals 0, cap 1.
    Nft = 1,
    /// Bound to its holder: decimals 0, never transferable (mint and burn only).
    Soulbound = 2,
}

/// Who may burn (destroy) units of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BurnRule {
    /// Nobody: supply never shrinks.
    Nobody = 0,
    /// Any holder, its own units, by its own head transition.
    Holder = 1,
    /// A holder, with a burn statement co-signed by `threshold` issuers (a redemption).
    Issuers = 2,
}

/// Who may receive the token by transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferRule {
    /// Anyone.
    Free = 0,
    /// Only devices on the allowlist (the policy's `allowlist` root); also binds mints.
    AllowlistOnly = 1,
}

/// The mint authority: `threshold` distinct signatures of these keys; threshold 0 means
/// nobody can ever mint (the supply is whatever the policy allocates or emits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Issuers {
    /// Signatures needed, 0 ≤ threshold ≤ keys.len().
    pub threshold: u32,
    /// Issuer public keys, distinct, at most [`MAX_ISSUERS`].
    pub keys: Vec<PublicKey>,
}

impl Canonical for Issuers {
    const MAX_ENCODED_LEN: usize = MAX_POLICY_LEN;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, u64::from(self.threshold));
        w.repeated_message(2, &self.keys);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Issuers {
            threshold: r.uint_max(1, MAX_ISSUERS as u64)? as u32,
            keys: r.repeated_message(2, MAX_ISSUERS)?,
        })
    }
}

/// One line of a policy's initial allocation: the device may claim `amount` once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitialAllocation {
    /// The device.
    pub device: DeviceId,
    /// The amount, > 0.
    pub amount: Amount,
}

impl Canonical for InitialAllocation {
    const MAX_ENCODED_LEN: usize = 60;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.device.as_bytes());
        w.bytes(2, &self.amount.0.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(InitialAllocation {
            device: DeviceId(Digest(r.fixed(1)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(2)?)),
        })
    }
}

/// The DJTE join gate: a device joins by proving it paid `fee` of `fee_token` to `k`
/// distinct storage operators of this list (one complete receipt per operator).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JoinGate {
    /// Operator device ids, strictly ascending, at most [`MAX_OPERATORS`].
    pub operators: Vec<DeviceId>,
    /// Distinct operators to pay, 1 ≤ k ≤ operators.len().
    pub k: u32,
    /// The token the subscription is paid in.
    pub fee_token: TokenId,
    /// The least amount each payment must carry, > 0.
    pub fee: Amount,
}

impl Canonical for JoinGate {
    const MAX_ENCODED_LEN: usize = 40 * MAX_OPERATORS + 100;
    fn encode(&self, w: &mut Writer) {
        let ops: Vec<[u8; 32]> = self.operators.iter().map(|d| *d.as_bytes()).collect();
        w.repeated_bytes(1, &ops);
        w.uint(2, u64::from(self.k));
        w.bytes(3, self.fee_token.as_bytes());
        w.bytes(4, &self.fee.0.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(JoinGate {
            operators: r
                .repeated_fixed::<32>(1, MAX_OPERATORS)?
                .into_iter()
                .map(|b| DeviceId(Digest(b)))
                .collect(),
            k: r.uint_max(2, MAX_OPERATORS as u64)? as u32,
            fee_token: TokenId(Digest(r.fixed(3)?)),
            fee: Amount(u128::from_be_bytes(r.fixed(4)?)),
        })
    }
}

/// DJTE parameters: the whole emission supply (`cap` minus the initial allocation) sits
/// in the token's source vault; emission `e` pays `min(schedule(e), remaining)` (PROTOCOL.md
/// §17.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DjteParams {
    /// 2^shard_bits activation shards, 1 ≤ shard_bits ≤ [`MAX_SHARD_BITS`].
    pub shard_bits: u32,
    /// Emissions in epoch 0 (`M_0`, ≥ 1); epoch i holds `2^i · M_0` emissions.
    pub epoch0_emissions: u64,
    /// The amount of each epoch-0 emission (`r_0`, > 0); epoch i pays `⌊r_0 / 2^i⌋`.
    pub epoch0_amount: Amount,
    /// Who may join.
    pub gate: JoinGate,
}

impl Canonical for DjteParams {
    const MAX_ENCODED_LEN: usize = JoinGate::MAX_ENCODED_LEN + 64;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, u64::from(self.shard_bits));
        w.uint(2, self.epoch0_emissions);
        w.bytes(3, &self.epoch0_amount.0.to_be_bytes());
        w.message(4, &self.gate);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DjteParams {
            shard_bits: r.uint_max(1, u64::from(MAX_SHARD_BITS))? as u32,
            epoch0_emissions: r.uint(2)?,
            epoch0_amount: Amount(u128::from_be_bytes(r.fixed(3)?)),
            gate: r.message(4)?,
        })
    }
}

/// A token's immutable policy (CPTA).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenPolicy {
    /// 2–8 ASCII capital letters.
    pub ticker: String,
    /// Decimal places for display, ≤ 18; 0 for NFT and soulbound tokens.
    pub decimals: u32,
    /// Fungible, NFT or soulbound.
    pub kind: TokenKind,
    /// Hard cap on everything ever created (initial + minted + emitted), > 0.
    pub cap: Amount,
    /// The issuer's free choice, so two tokens with equal rules have different ids.
    pub salt: Digest,
    /// Mint authority.
    pub issuers: Issuers,
    /// Burn authority.
    pub burn: BurnRule,
    /// Transfer restriction.
    pub transfers: TransferRule,
    /// Root of the allowlist tree (device id → `H(AllowlistMember, salt, device)`), if any.
    pub allowlist: Option<Digest>,
    /// Claimable once by each listed device; devices strictly ascending.
    pub initial: Vec<InitialAllocation>,
    /// Join-triggered emissions, if the token has them.
    pub djte: Option<DjteParams>,
    /// For dBTC: the Bitcoin bridge whose deposits alone mint it (§19).
    pub bitcoin: Option<crate::dbtc::BitcoinBridge>,
    /// Who may re-issue burned parcels as one fresh root (PROTOCOL.md §17.6); `None` means
    /// the issuers, when there are any ([`TokenPolicy::refresh_authority`]).
    pub refreshers: Option<Issuers>,
}

/// Why a policy is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The ticker is not 2–8 capital letters.
    #[error("ticker must be 2 to 8 capital letters A-Z, got {0:?}")]
    Ticker(String),
    /// Decimals out of range or not 0 for NFT/soulbound.
    #[error("decimals must be at most 18, and 0 for NFT and soulbound tokens")]
    Decimals,
    /// The cap is 0, or not 1 for an NFT.
    #[error("the cap must be greater than 0 (exactly 1 for an NFT)")]
    Cap,
    /// Issuer threshold or keys are inconsistent.
    #[error("issuers: threshold must be between 1 and the number of distinct keys (or 0 with no keys, for no mint authority)")]
    Issuers,
    /// Issuer burns need an issuer threshold.
    #[error("burn = issuers needs a mint authority (threshold ≥ 1)")]
    BurnAuthority,
    /// An allowlist-only token without an allowlist.
    #[error("transfers = allowlist needs an allowlist")]
    Allowlist,
    /// Initial allocations are unsorted, zero, or exceed the cap.
    #[error("initial allocations must be non-zero, one per device in ascending order, and sum to at most the cap")]
    Initial,
    /// DJTE parameters are inconsistent.
    #[error("djte: {0}")]
    Djte(&'static str),
    /// The Bitcoin bridge is inconsistent.
    #[error("bitcoin: {0}")]
    Bitcoin(&'static str),
    /// The refreshers are named but inconsistent.
    #[error(
        "refreshers: threshold must be between 1 and the number of distinct keys (at most 16)"
    )]
    Refreshers,
}

impl TokenPolicy {
    /// The token id: `H(TokenPolicy, enc(policy))` — the policy commitment.
    pub fn token_id(&self) -> TokenId {
        TokenId(tagged_hash(Tag::TokenPolicy, &[&self.to_bytes()]))
    }

    /// The t-of-n authority that may re-issue this token's parcels (PROTOCOL.md §17.6): the
    /// refreshers the policy names, else its issuers, else nobody (`None`: lineages of
    /// this token are never shortened).
    pub fn refresh_authority(&self) -> Option<&Issuers> {
        match &self.refreshers {
            Some(r) => Some(r),
            None if self.issuers.threshold > 0 => Some(&self.issuers),
            None => None,
        }
    }

    /// Sum of the initial allocation (checked by [`TokenPolicy::validate`] to fit the cap).
    pub fn initial_total(&self) -> Amount {
        Amount(
            self.initial
                .iter()
                .map(|a| a.amount.0)
                .fold(0u128, u128::saturating_add),
        )
    }

    /// What the DJTE source vault starts with: `cap − initial` (0 without DJTE).
    pub fn emission_supply(&self) -> Amount {
        match self.djte {
            Some(_) => Amount(self.cap.0.saturating_sub(self.initial_total().0)),
            None => Amount::ZERO,
        }
    }

    /// Checks every structural rule (the decoder applies it too).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let t = self.ticker.as_bytes();
        if !(2..=8).contains(&t.len()) || !t.iter().all(u8::is_ascii_uppercase) {
            return Err(PolicyError::Ticker(self.ticker.clone()));
        }
        if self.decimals > crate::units::MAX_DECIMALS
            || (self.kind != TokenKind::Fungible && self.decimals != 0)
        {
            return Err(PolicyError::Decimals);
        }
        if self.cap.0 == 0 || (self.kind == TokenKind::Nft && self.cap.0 != 1) {
            return Err(PolicyError::Cap);
        }
        let keys = &self.issuers.keys;
        let distinct = keys
            .iter()
            .enumerate()
            .all(|(i, k)| keys[..i].iter().all(|o| o != k));
        let th = self.issuers.threshold as usize;
        if keys.len() > MAX_ISSUERS || !distinct || th > keys.len() || (th == 0 && !keys.is_empty())
        {
            return Err(PolicyError::Issuers);
        }
        if let Some(r) = &self.refreshers {
            let k = &r.keys;
            let distinct = k
                .iter()
                .enumerate()
                .all(|(i, x)| k[..i].iter().all(|o| o != x));
            if k.len() > MAX_ISSUERS
                || !distinct
                || r.threshold == 0
                || r.threshold as usize > k.len()
            {
                return Err(PolicyError::Refreshers);
            }
        }
        if self.burn == BurnRule::Issuers && th == 0 {
            return Err(PolicyError::BurnAuthority);
        }
        if self.transfers == TransferRule::AllowlistOnly && self.allowlist.is_none() {
            return Err(PolicyError::Allowlist);
        }
        let sorted = self.initial.windows(2).all(|w| w[0].device < w[1].device);
        let total = self
            .initial
            .iter()
            .try_fold(0u128, |s, a| s.checked_add(a.amount.0));
        if self.initial.len() > MAX_INITIAL
            || !sorted
            || self.initial.iter().any(|a| a.amount.0 == 0)
            || total.is_none_or(|t| t > self.cap.0)
        {
            return Err(PolicyError::Initial);
        }
        if let Some(b) = &self.bitcoin {
            b.validate().map_err(PolicyError::Bitcoin)?;
            if self.kind != TokenKind::Fungible
                || self.decimals != 8
                || th != 0
                || !self.initial.is_empty()
                || self.djte.is_some()
                || self.cap.0 > crate::dbtc::DBTC_CAP
            {
                return Err(PolicyError::Bitcoin(
                    "a bridged token is fungible, has 8 decimals, no issuers, no initial allocation, no emissions, and a cap of at most 21·10^14",
                ));
            }
        }
        if let Some(d) = &self.djte {
            if self.kind != TokenKind::Fungible {
                return Err(PolicyError::Djte("only fungible tokens can have emissions"));
            }
            if th != 0 {
                return Err(PolicyError::Djte(
                    "a token with emissions has a fixed supply: no mint authority",
                ));
            }
            if self.emission_supply().0 == 0 {
                return Err(PolicyError::Djte(
                    "nothing left to emit after the initial allocation",
                ));
            }
            if d.shard_bits == 0 || d.shard_bits > MAX_SHARD_BITS {
                return Err(PolicyError::Djte("shard_bits must be 1 to 20"));
            }
            if d.epoch0_emissions == 0 || d.epoch0_amount.0 == 0 {
                return Err(PolicyError::Djte(
                    "epoch-0 emissions and amount must be > 0",
                ));
            }
            let g = &d.gate;
            if g.k == 0
                || g.k as usize > g.operators.len()
                || !g.operators.windows(2).all(|w| w[0] < w[1])
                || g.fee.0 == 0
            {
                return Err(PolicyError::Djte(
                    "gate: operators strictly ascending, 1 ≤ k ≤ operators, fee > 0",
                ));
            }
        }
        Ok(())
    }

    /// The allowlist leaf value of `device` for this policy.
    pub fn allowlist_value(&self, device: &DeviceId) -> Digest {
        allowlist_value(&self.salt, device)
    }

    /// True when `proof` shows `device` on this policy's allowlist (false without one).
    pub fn allowlist_contains(&self, device: &DeviceId, proof: &SmtProof) -> bool {
        match &self.allowlist {
            None => false,
            Some(root) => {
                proof.lookup(device.as_bytes(), root) == Ok(Some(self.allowlist_value(device)))
            }
        }
    }
}

/// The allowlist leaf value of `device` under a policy with `salt`.
pub fn allowlist_value(salt: &Digest, device: &DeviceId) -> Digest {
    tagged_hash(Tag::AllowlistMember, &[salt.as_bytes(), device.as_bytes()])
}

/// The allowlist tree of `members` under a policy with `salt` (its root goes in the policy;
/// members prove inclusion with `tree.prove(device)`).
pub fn allowlist_tree(salt: &Digest, members: &[DeviceId]) -> SparseMerkleTree {
    let mut t = SparseMerkleTree::new();
    for m in members {
        t.insert(*m.as_bytes(), allowlist_value(salt, m));
    }
    t
}

impl Canonical for TokenPolicy {
    const MAX_ENCODED_LEN: usize = MAX_POLICY_LEN;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.ticker.as_bytes());
        w.uint(2, u64::from(self.decimals));
        w.uint(3, self.kind as u64);
        w.bytes(4, &self.cap.0.to_be_bytes());
        w.bytes(5, self.salt.as_bytes());
        w.message(6, &self.issuers);
        w.uint(7, self.burn as u64);
        w.uint(8, self.transfers as u64);
        if let Some(root) = &self.allowlist {
            w.bytes(9, root.as_bytes());
        }
        w.repeated_message(10, &self.initial);
        w.optional_message(11, self.djte.as_ref());
        w.optional_message(12, self.bitcoin.as_ref());
        w.optional_message(13, self.refreshers.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ticker = String::from_utf8(r.bytes(1, 8)?.to_vec())
            .map_err(|_| DecodeError::Invalid("ticker is not UTF-8"))?;
        let decimals = r.uint_max(2, 18)? as u32;
        let kind = match r.uint(3)? {
            0 => TokenKind::Fungible,
            1 => TokenKind::Nft,
            2 => TokenKind::Soulbound,
            _ => return Err(DecodeError::Invalid("unknown token kind")),
        };
        let cap = Amount(u128::from_be_bytes(r.fixed(4)?));
        let salt = Digest(r.fixed(5)?);
        let issuers = r.message(6)?;
        let burn = match r.uint(7)? {
            0 => BurnRule::Nobody,
            1 => BurnRule::Holder,
            2 => BurnRule::Issuers,
            _ => return Err(DecodeError::Invalid("unknown burn rule")),
        };
        let transfers = match r.uint(8)? {
            0 => TransferRule::Free,
            1 => TransferRule::AllowlistOnly,
            _ => return Err(DecodeError::Invalid("unknown transfer rule")),
        };
        let allowlist = r.optional_fixed::<32>(9)?.map(Digest);
        let initial = r.repeated_message(10, MAX_INITIAL)?;
        let djte = r.optional_message(11)?;
        let bitcoin = r.optional_message(12)?;
        let refreshers = r.optional_message(13)?;
        let p = TokenPolicy {
            ticker,
            decimals,
            kind,
            cap,
            salt,
            issuers,
            burn,
            transfers,
            allowlist,
            initial,
            djte,
            bitcoin,
            refreshers,
        };
        p.validate()
            .map_err(|_| DecodeError::Invalid("the token policy breaks a policy rule"))?;
        Ok(p)
    }
}
