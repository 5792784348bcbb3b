//! Device chains and relationship chains: amounts, balances, device heads and
//! relationship steps.
//!
//! Balances live at the device head. Every device transition produces a new head that
//! names its parent head, replaces exactly one leaf of the device's sparse Merkle tree
//! (or none, for an allocation) and states its cause, so a device-chain segment can be
//! re-checked step by step.

use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::hash::{digest_newtype, tagged_hash, Digest};
use crate::identity::{DeviceId, GenesisDigest};
use crate::smt::empty_root;
use crate::tags::Tag;
use thiserror::Error;

digest_newtype!(
    /// Names a token (currency). `H(Token, label)` for a token label.
    TokenId
);
digest_newtype!(
    /// The digest of a device head: `H(DeviceHead, canonical DeviceHead)`.
    HeadDigest
);
digest_newtype!(
    /// A relationship tip: the implicit genesis tip `H(RelationshipGenesis, key)` or
    /// `H(RelationshipTip, canonical RelationshipStep)`.
    TipDigest
);
digest_newtype!(
    /// The key of the relationship between two devices, order-independent:
    /// `H(RelationshipKey, min(a, b), max(a, b))`. Also its key in both devices' trees.
    RelationshipKey
);

impl TokenId {
    /// The token named by `label` (e.g. `"ERA"`, or `"DEV"` for the non-production test token).
    pub fn from_label(label: &str) -> TokenId {
        TokenId(tagged_hash(Tag::Token, &[label.as_bytes()]))
    }
}

impl RelationshipKey {
    /// The key of the relationship between `a` and `b`; symmetric in its arguments.
    pub fn between(a: &DeviceId, b: &DeviceId) -> RelationshipKey {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        RelationshipKey(tagged_hash(
            Tag::RelationshipKey,
            &[lo.as_bytes(), hi.as_bytes()],
        ))
    }

    /// The relationship's implicit first tip, held by both devices before any transfer
    /// (their trees have no leaf for the key yet).
    pub fn genesis_tip(&self) -> TipDigest {
        TipDigest(tagged_hash(Tag::RelationshipGenesis, &[self.as_bytes()]))
    }
}

/// The most distinct tokens one head may hold.
pub const MAX_TOKENS: usize = 64;

/// An amount of a token in its smallest unit. Integer only; arithmetic is checked.
/// Encoded as 16 bytes big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);
    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
    /// `self - other`, or `None` if it would be negative.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl core::fmt::Display for Amount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One token's balance. Canonical heads never hold a zero balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Balance {
    /// The token.
    pub token: TokenId,
    /// The amount, > 0.
    pub amount: Amount,
}

impl Canonical for Balance {
    const MAX_ENCODED_LEN: usize = 60;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.bytes(2, &self.amount.0.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let token = TokenId(Digest(r.fixed(1)?));
        let amount = Amount(u128::from_be_bytes(r.fixed(2)?));
        if amount.0 == 0 {
            return Err(DecodeError::Invalid("zero balances are omitted"));
        }
        Ok(Balance { token, amount })
    }
}

/// Why a balance change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Hash)]
pub enum BalanceError {
    /// The debit exceeds the balance.
    #[error("insufficient balance: have {have}, need {need}")]
    Insufficient {
        /// Current balance.
        have: Amount,
        /// Amount requested.
        need: Amount,
    },
    /// The credit would overflow 128 bits.
    #[error("balance would overflow")]
    Overflow,
    /// The head would hold more than [`MAX_TOKENS`] tokens.
    #[error("too many distinct tokens")]
    TooManyTokens,
    /// Zero-value changes are not transitions.
    #[error("amount must be greater than zero")]
    ZeroAmount,
}

/// A device's balances: sorted by token, no zeros, at most [`MAX_TOKENS`].
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct Balances(Vec<Balance>);

impl Balances {
    /// No balances.
    pub fn new() -> Self {
        Balances(Vec::new())
    }

    /// The entries, sorted by token.
    pub fn entries(&self) -> &[Balance] {
        &self.0
    }

    /// The balance of `token` (zero if absent).
    pub fn get(&self, token: &TokenId) -> Amount {
        match self.0.binary_search_by(|b| b.token.cmp(token)) {
            Ok(i) => self.0[i].amount,
            Err(_) => Amount::ZERO,
        }
    }

    /// A copy with `amount` of `token` added.
    pub fn credited(&self, token: &TokenId, amount: Amount) -> Result<Balances, BalanceError> {
        if amount.0 == 0 {
            return Err(BalanceError::ZeroAmount);
        }
        let mut v = self.0.clone();
        match v.binary_search_by(|b| b.token.cmp(token)) {
            Ok(i) => {
                v[i].amount = v[i]
                    .amount
                    .checked_add(amount)
                    .ok_or(BalanceError::Overflow)?
            }
            Err(i) => {
                if v.len() == MAX_TOKENS {
                    return Err(BalanceError::TooManyTokens);
                }
                v.insert(
                    i,
                    Balance {
                        token: *token,
                        amount,
                    },
                );
            }
        }
        Ok(Balances(v))
    }

    /// A copy with `amount` of `token` removed; never negative.
    pub fn debited(&self, token: &TokenId, amount: Amount) -> Result<Balances, BalanceError> {
        if amount.0 == 0 {
            return Err(BalanceError::ZeroAmount);
        }
        let mut v = self.0.clone();
        let have = self.get(token);
        let rest = have
            .checked_sub(amount)
            .ok_or(BalanceError::Insufficient { have, need: amount })?;
        let i = v
            .binary_search_by(|b| b.token.cmp(token))
            .map_err(|_| BalanceError::Insufficient { have, need: amount })?;
        if rest.0 == 0 {
            v.remove(i);
        } else {
            v[i].amount = rest;
        }
        Ok(Balances(v))
    }
}

/// What caused a device transition. The wire value is the `kind` field of `DeviceHead`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    /// The device's first head (height 0); `cause` is the genesis digest.
    Create = 0,
    /// A debit: the device sent value; `cause` is the child tip of the relationship step.
    Debit = 1,
    /// A credit: the device accepted value; `cause` is the child tip of the step.
    Credit = 2,
    /// An allocation from an explicit, proof-carrying source; `cause` names the proof.
    Allocation = 3,
    /// The receiver signed a refusal of a step: its relationship leaf becomes the release
    /// tip, balances unchanged; `cause` is the release tip.
    Refuse = 4,
    /// The sender took back a refused step's amount: leaf → release tip, balance + amount;
    /// `cause` is the release tip.
    Release = 5,
    /// A burn: value leaves circulation; balances decrease, tree unchanged; `cause` is the
    /// digest of the burn statement the token layer checks.
    Burn = 6,
    /// A succession: the first head after CREATE of a device that succeeds a tombstoned
    /// device of the same genesis (PROTOCOL.md §20); balances are the recovered head's,
    /// tree unchanged (empty); `cause` is the succession's digest.
    Succeed = 7,
    /// A reclaim: a successor takes back the amount of a transfer the lost device had
    /// proposed and whose receiver then refused it (PROTOCOL.md §20.5); balance + amount,
    /// tree unchanged; `cause` is the refusal's commit digest.
    Reclaim = 8,
}

impl TransitionKind {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            0 => TransitionKind::Create,
            1 => TransitionKind::Debit,
            2 => TransitionKind::Credit,
            3 => TransitionKind::Allocation,
            4 => TransitionKind::Refuse,
            5 => TransitionKind::Release,
            6 => TransitionKind::Burn,
            7 => TransitionKind::Succeed,
            8 => TransitionKind::Reclaim,
            _ => return None,
        })
    }
}

/// A device head: the state a device commits to after each transition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceHead {
    /// The device.
    pub device: DeviceId,
    /// 0 for the first head, parent height + 1 after.
    pub height: u64,
    /// Digest of the previous head; [`Digest::ZERO`] at height 0.
    pub parent: HeadDigest,
    /// Root of the device's sparse Merkle tree of relationship tips.
    pub smt_root: Digest,
    /// Balances per token.
    pub balances: Balances,
    /// What caused this head.
    pub kind: TransitionKind,
    /// The cause's digest (see [`TransitionKind`]).
    pub cause: Digest,
}

impl DeviceHead {
    /// The deterministic first head of a device: empty tree, no balances.
    pub fn initial(device: DeviceId, genesis: &GenesisDigest) -> DeviceHead {
        DeviceHead {
            device,
            height: 0,
            parent: HeadDigest(Digest::ZERO),
            smt_root: empty_root(),
            balances: Balances::new(),
            kind: TransitionKind::Create,
            cause: *genesis.digest(),
        }
    }

    /// The ALLOCATION head that follows this one: `amount` of `token` credited, tree
    /// unchanged, `cause` naming the allocation's source (PROTOCOL.md §5.5). Fails when the
    /// credit is impossible (an exhausted height also reports `Overflow`).
    pub fn allocation_child(
        &self,
        token: &TokenId,
        amount: Amount,
        cause: Digest,
    ) -> Result<DeviceHead, BalanceError> {
        self.credit_child(TransitionKind::Allocation, token, amount, cause)
    }

    /// The BURN head that follows this one: `amount` of `token` removed, tree unchanged,
    /// `cause` naming the burn's source proof. Fails when the balance is short.
    pub fn burn_child(
        &self,
        token: &TokenId,
        amount: Amount,
        cause: Digest,
    ) -> Result<DeviceHead, BalanceError> {
        self.source_child(
            self.balances.debited(token, amount)?,
            TransitionKind::Burn,
            cause,
        )
    }

    /// The SUCCEED head that follows this CREATE head: the recovered `balances`, tree
    /// unchanged, `cause` the succession's digest (PROTOCOL.md §20). `None` unless `self`
    /// is a CREATE head.
    pub fn succession_child(&self, balances: Balances, cause: Digest) -> Option<DeviceHead> {
        if self.kind != TransitionKind::Create || self.height != 0 {
            return None;
        }
        self.source_child(balances, TransitionKind::Succeed, cause)
            .ok()
    }

    /// The RECLAIM head that follows this one: `amount` of `token` credited back, tree
    /// unchanged, `cause` the refusal's commit (PROTOCOL.md §20.5).
    pub fn reclaim_child(
        &self,
        token: &TokenId,
        amount: Amount,
        cause: Digest,
    ) -> Result<DeviceHead, BalanceError> {
        self.credit_child(TransitionKind::Reclaim, token, amount, cause)
    }

    fn credit_child(
        &self,
        kind: TransitionKind,
        token: &TokenId,
        amount: Amount,
        cause: Digest,
    ) -> Result<DeviceHead, BalanceError> {
        self.source_child(self.balances.credited(token, amount)?, kind, cause)
    }

    fn source_child(
        &self,
        balances: Balances,
        kind: TransitionKind,
        cause: Digest,
    ) -> Result<DeviceHead, BalanceError> {
        Ok(DeviceHead {
            device: self.device,
            height: self.height.checked_add(1).ok_or(BalanceError::Overflow)?,
            parent: self.digest(),
            smt_root: self.smt_root,
            balances,
            kind,
            cause,
        })
    }

    /// The single balance change from `self` to `child` — `(token, amount, credited?)` —
    /// or `None` when the balances differ in anything but one token's amount (or not at
    /// all). Used to check ALLOCATION and BURN heads against their source proofs.
    pub fn balance_change(&self, child: &DeviceHead) -> Option<(TokenId, Amount, bool)> {
        let mut change = None;
        let (a, b) = (self.balances.entries(), child.balances.entries());
        let mut tokens: Vec<TokenId> = a.iter().chain(b).map(|x| x.token).collect();
        tokens.sort();
        tokens.dedup();
        for t in tokens {
            let (before, after) = (self.balances.get(&t), child.balances.get(&t));
            if before == after {
                continue;
            }
            if change.is_some() {
                return None;
            }
            change = Some(if after > before {
                (t, Amount(after.0 - before.0), true)
            } else {
                (t, Amount(before.0 - after.0), false)
            });
        }
        change
    }

    /// `H(DeviceHead, canonical bytes)`.
    pub fn digest(&self) -> HeadDigest {
        HeadDigest(tagged_hash(Tag::DeviceHead, &[&self.to_bytes()]))
    }
}

impl Canonical for DeviceHead {
    const MAX_ENCODED_LEN: usize = 200 + MAX_TOKENS * 60;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.device.as_bytes());
        w.uint(2, self.height);
        w.bytes(3, self.parent.as_bytes());
        w.bytes(4, self.smt_root.as_bytes());
        w.repeated_message(5, &self.balances.0);
        w.uint(6, self.kind as u64);
        w.bytes(7, self.cause.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device = DeviceId(Digest(r.fixed(1)?));
        let height = r.uint(2)?;
        let parent = HeadDigest(Digest(r.fixed(3)?));
        let smt_root = Digest(r.fixed(4)?);
        let balances: Vec<Balance> = r.repeated_message(5, MAX_TOKENS)?;
        if !balances.windows(2).all(|w| w[0].token < w[1].token) {
            return Err(DecodeError::Invalid(
                "balances must be sorted by token, without duplicates",
            ));
        }
        let kind = TransitionKind::from_u64(r.uint(6)?)
            .ok_or(DecodeError::Invalid("unknown transition kind"))?;
        let cause = Digest(r.fixed(7)?);
        Ok(DeviceHead {
            device,
            height,
            parent,
            smt_root,
            balances: Balances(balances),
            kind,
            cause,
        })
    }
}

/// The cause of a NON-PRODUCTION dev-faucet allocation:
/// `H(DevAllocation, device, token, u128be(amount))` (PROTOCOL.md §5.5).
pub fn dev_allocation_cause(device: &DeviceId, token: &TokenId, amount: Amount) -> Digest {
    tagged_hash(
        Tag::DevAllocation,
        &[device.as_bytes(), token.as_bytes(), &amount.0.to_be_bytes()],
    )
}

/// One transfer on a relationship: the sender moves `amount` of `token` to the receiver.
/// Its digest is the relationship's next tip.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelationshipStep {
    /// The relationship (must equal `RelationshipKey::between(sender, receiver)`).
    pub relationship: RelationshipKey,
    /// The tip this step consumes.
    pub parent_tip: TipDigest,
    /// The paying device.
    pub sender: DeviceId,
    /// The paid device.
    pub receiver: DeviceId,
    /// The token.
    pub token: TokenId,
    /// The amount, > 0.
    pub amount: Amount,
    /// The sender head the amount is debited from: binds the step to one position of the
    /// sender's chain, so a step prepared on a head that moved cannot be applied.
    pub sender_parent_head: HeadDigest,
}

impl RelationshipStep {
    /// The tip after this step: `H(RelationshipTip, canonical bytes)`.
    pub fn child_tip(&self) -> TipDigest {
        TipDigest(tagged_hash(Tag::RelationshipTip, &[&self.to_bytes()]))
    }
}

impl Canonical for RelationshipStep {
    const MAX_ENCODED_LEN: usize = 256;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.relationship.as_bytes());
        w.bytes(2, self.parent_tip.as_bytes());
        w.bytes(3, self.sender.as_bytes());
        w.bytes(4, self.receiver.as_bytes());
        w.bytes(5, self.token.as_bytes());
        w.bytes(6, &self.amount.0.to_be_bytes());
        w.bytes(7, self.sender_parent_head.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(RelationshipStep {
            relationship: RelationshipKey(Digest(r.fixed(1)?)),
            parent_tip: TipDigest(Digest(r.fixed(2)?)),
            sender: DeviceId(Digest(r.fixed(3)?)),
            receiver: DeviceId(Digest(r.fixed(4)?)),
            token: TokenId(Digest(r.fixed(5)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(6)?)),
            sender_parent_head: HeadDigest(Digest(r.fixed(7)?)),
        })
    }
}

/// The root of a NON-PRODUCTION dev-faucet parcel (PROTOCOL.md §5.5): `amount` of a label
/// token granted to `device` by its own ALLOCATION head at `height`. Anyone can make one,
/// so only a verifier that lets the label token move (the `DEV` test token) accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevGrant {
    /// The device credited.
    pub device: DeviceId,
    /// The label token.
    pub token: TokenId,
    /// The amount (> 0).
    pub amount: Amount,
    /// The height of the ALLOCATION head (what makes each grant once).
    pub height: u64,
}

impl DevGrant {
    /// What the grant may be used for once: `H(SourceOnce, "dev", device, token,
    /// u64be(height))`.
    pub fn once_key(&self) -> Digest {
        tagged_hash(
            Tag::SourceOnce,
            &[
                b"dev",
                self.device.as_bytes(),
                self.token.as_bytes(),
                &self.height.to_be_bytes(),
            ],
        )
    }
}

impl Canonical for DevGrant {
    const MAX_ENCODED_LEN: usize = 120;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.device.as_bytes());
        w.bytes(2, self.token.as_bytes());
        w.bytes(3, &self.amount.0.to_be_bytes());
        w.uint(4, self.height);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device = DeviceId(Digest(r.fixed(1)?));
        let token = TokenId(Digest(r.fixed(2)?));
        let amount = Amount(u128::from_be_bytes(r.fixed(3)?));
        let height = r.uint(4)?;
        if amount == Amount::ZERO {
            return Err(DecodeError::Invalid("a dev grant has a non-zero amount"));
        }
        Ok(DevGrant {
            device,
            token,
            amount,
            height,
        })
    }
}
