//! Deterministic limbo vaults (DLV, PROTOCOL.md §18): an amount of a token locked under an
//! immutable policy with two mutually exclusive branches — *release* to the beneficiary
//! and *refund* to the creator — each a condition over public, verifiable facts. No clock
//! anywhere: "later" is expressed by work (an iteration budget), a signature, a preimage
//! or a receipt.
//!
//! Lifecycle, all as head transitions checked by [`crate::source::TokenRules`]:
//! 1. the creator's BURN head whose source is [`VaultPolicy`] takes the amount out of its
//!    balance, and the creator signs that head ([`SignedVaultLock`]);
//! 2. exactly one [`VaultResolution`] (the lock, a branch and a [`Witness`]) credits the
//!    branch's party through an ALLOCATION head.
//!
//! Online, the resolution is written to the storage nodes' first-writer-wins slot owned by
//! the vault's two parties ([`VaultPolicy::resolution_slot`]), so two resolutions never both
//! settle; offline, two different
//! valid resolutions of one vault are a [`VaultConflict`] any verifier checks, after which
//! the token rules refuse the vault's value.

use crate::authority::Cosignature;
use dsm_core::chain::{Amount, DeviceHead, HeadDigest, TokenId, TransitionKind};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{PublicKey, Signature, SigningKey};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::receipt::{verify_receipt, EmptyView, Receipt, SignedProposal};
use dsm_core::tags::Tag;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// Deepest nesting of `all`/`any`.
pub const MAX_DEPTH: usize = 4;
/// Most children of one `all`/`any`, and most keys of one signature condition.
pub const MAX_CHILDREN: usize = 16;
/// Longest hash preimage.
pub const MAX_PREIMAGE: usize = 256;
/// Largest iteration budget (a verifier recomputes every iteration: ~0.3 µs each).
pub const MAX_ITERATIONS: u64 = 1 << 32;
/// Largest canonical vault policy, resolution or witness.
pub const MAX_VAULT_LEN: usize = 512 * 1024;

/// Which branch resolves a vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Branch {
    /// To the beneficiary.
    Release = 1,
    /// Back to the creator.
    Refund = 2,
}

impl Branch {
    fn from_u64(v: u64) -> Option<Branch> {
        match v {
            1 => Some(Branch::Release),
            2 => Some(Branch::Refund),
            _ => None,
        }
    }
}

/// A vault condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `threshold` distinct signatures of these keys over `H(DlvAuthorize, vault, branch)`.
    Signatures {
        /// Signatures needed (1 ≤ threshold ≤ keys).
        threshold: u32,
        /// Distinct keys, at most [`MAX_CHILDREN`].
        keys: Vec<PublicKey>,
    },
    /// A preimage whose SHA-256 is this.
    Sha256([u8; 32]),
    /// A preimage whose BLAKE3-256 is this.
    Blake3([u8; 32]),
    /// A complete, valid DSM receipt of the transfer whose proposal commit is this.
    Receipt(Digest),
    /// This many sequential BLAKE3 iterations from `H(DlvWorkSeed, vault, branch)`: proof
    /// that work was spent (by anyone), never a measure of time.
    Iterations(u64),
    /// A Bitcoin payment: a transaction buried at least `d_min` deep in a chain from the
    /// checkpoint pays at least `min_sats` to `to_script` and carries, in an `OP_RETURN`,
    /// `H(DlvAuthorize, vault, branch)`.
    Bitcoin(Box<BitcoinPayment>),
    /// Every child holds.
    All(Vec<Condition>),
    /// At least one child holds.
    Any(Vec<Condition>),
}

/// The evidence that a condition holds, mirroring its shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Witness {
    /// Signatures for [`Condition::Signatures`] (ascending by key index).
    Signatures(Vec<Cosignature>),
    /// A preimage for [`Condition::Sha256`] or [`Condition::Blake3`].
    Preimage(Vec<u8>),
    /// The receipt for [`Condition::Receipt`].
    Receipt(Box<Receipt>),
    /// The final value of the iterations for [`Condition::Iterations`].
    Work(Digest),
    /// The payment's inclusion evidence for [`Condition::Bitcoin`].
    Bitcoin(Box<dsm_btc::InclusionEvidence>),
    /// One witness per child of [`Condition::All`].
    All(Vec<Witness>),
    /// The child of [`Condition::Any`] that holds, and its witness.
    Any(u32, Box<Witness>),
}

/// Sub-messages of recursive types are read by hand so the nesting depth is bounded before
/// anything is allocated for it.
fn sub_messages<'a>(r: &mut Reader<'a>, field: u32) -> Result<Vec<&'a [u8]>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let b = r.bytes(field, MAX_VAULT_LEN)?;
        if b.is_empty() {
            return Ok(out);
        }
        if out.len() == MAX_CHILDREN {
            return Err(DecodeError::TooMany {
                field,
                max: MAX_CHILDREN,
            });
        }
        out.push(b);
    }
}

impl Condition {
    fn encode_into(&self, w: &mut Writer) {
        match self {
            Condition::Signatures { threshold, keys } => {
                let mut inner = Writer::new();
                inner.uint(1, u64::from(*threshold));
                inner.repeated_message(2, keys);
                w.bytes(1, &inner.into_bytes());
            }
            Condition::Sha256(h) => w.bytes(2, h),
            Condition::Blake3(h) => w.bytes(3, h),
            Condition::Receipt(d) => w.bytes(4, d.as_bytes()),
            Condition::Iterations(n) => w.uint(5, *n),
            Condition::Bitcoin(b) => w.bytes(8, &b.to_bytes()),
            Condition::All(cs) | Condition::Any(cs) => {
                let field = if matches!(self, Condition::All(_)) {
                    6
                } else {
                    7
                };
                let mut list = Writer::new();
                for c in cs {
                    list.bytes(1, &c.to_bytes());
                }
                w.bytes(field, &list.into_bytes());
            }
        }
    }

    fn decode_at(buf: &[u8], depth: usize) -> Result<Condition, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("vault condition nested too deeply"));
        }
        let mut r = Reader::new(buf);
        let sigs = r.bytes(1, MAX_VAULT_LEN)?;
        let sha = r.bytes(2, 32)?;
        let b3 = r.bytes(3, 32)?;
        let rc = r.bytes(4, 32)?;
        let it = r.uint(5)?;
        let all = r.bytes(6, MAX_VAULT_LEN)?;
        let any = r.bytes(7, MAX_VAULT_LEN)?;
        let btc = r.bytes(8, 4_096)?;
        r.finish()?;
        let set = [
            !btc.is_empty(),
            !sigs.is_empty(),
            !sha.is_empty(),
            !b3.is_empty(),
            !rc.is_empty(),
            it != 0,
            !all.is_empty(),
            !any.is_empty(),
        ];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(DecodeError::Invalid(
                "a vault condition has exactly one kind",
            ));
        }
        let fixed = |b: &[u8]| -> Result<[u8; 32], DecodeError> {
            b.try_into()
                .map_err(|_| DecodeError::Invalid("a hash in a condition is 32 bytes"))
        };
        let list = |b: &[u8]| -> Result<Vec<Condition>, DecodeError> {
            let mut lr = Reader::new(b);
            let items = sub_messages(&mut lr, 1)?;
            lr.finish()?;
            items
                .into_iter()
                .map(|i| Condition::decode_at(i, depth + 1))
                .collect()
        };
        if !btc.is_empty() {
            return Ok(Condition::Bitcoin(Box::new(BitcoinPayment::from_bytes(
                btc,
            )?)));
        }
        Ok(if !sigs.is_empty() {
            let mut sr = Reader::new(sigs);
            let threshold = sr.uint_max(1, MAX_CHILDREN as u64)? as u32;
            let keys = sr.repeated_message(2, MAX_CHILDREN)?;
            sr.finish()?;
            Condition::Signatures { threshold, keys }
        } else if !sha.is_empty() {
            Condition::Sha256(fixed(sha)?)
        } else if !b3.is_empty() {
            Condition::Blake3(fixed(b3)?)
        } else if !rc.is_empty() {
            Condition::Receipt(Digest(fixed(rc)?))
        } else if it != 0 {
            Condition::Iterations(it)
        } else if !all.is_empty() {
            Condition::All(list(all)?)
        } else {
            Condition::Any(list(any)?)
        })
    }

    /// Structural rules: thresholds, distinct keys, bounds, non-empty lists, depth.
    pub fn validate(&self) -> Result<(), VaultError> {
        self.validate_at(0)
    }

    fn validate_at(&self, depth: usize) -> Result<(), VaultError> {
        if depth > MAX_DEPTH {
            return Err(VaultError::Malformed("condition nested too deeply"));
        }
        match self {
            Condition::Signatures { threshold, keys } => {
                let distinct = keys
                    .iter()
                    .enumerate()
                    .all(|(i, k)| keys[..i].iter().all(|o| o != k));
                if *threshold == 0
                    || *threshold as usize > keys.len()
                    || keys.len() > MAX_CHILDREN
                    || !distinct
                {
                    return Err(VaultError::Malformed(
                        "signatures: 1 ≤ threshold ≤ distinct keys ≤ 16",
                    ));
                }
            }
            Condition::Iterations(n) if *n == 0 || *n > MAX_ITERATIONS => {
                return Err(VaultError::Malformed("iterations: 1 to 2^32"));
            }
            Condition::All(cs) | Condition::Any(cs) => {
                if cs.is_empty() || cs.len() > MAX_CHILDREN {
                    return Err(VaultError::Malformed("all/any: 1 to 16 conditions"));
                }
                for c in cs {
                    c.validate_at(depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The total iterations a verifier may have to recompute for this condition.
    pub fn work(&self) -> u64 {
        match self {
            Condition::Iterations(n) => *n,
            Condition::All(cs) | Condition::Any(cs) => {
                cs.iter().map(Condition::work).fold(0, u64::saturating_add)
            }
            _ => 0,
        }
    }
}

impl Canonical for Condition {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_LEN;
    fn encode(&self, w: &mut Writer) {
        self.encode_into(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // Take the rest of this message's bytes and parse them with a depth budget.
        let rest = r.remaining();
        Condition::decode_at(rest, 0)
    }
}

impl Witness {
    fn encode_into(&self, w: &mut Writer) {
        match self {
            Witness::Signatures(sigs) => {
                let mut inner = Writer::new();
                inner.repeated_message(1, sigs);
                w.bytes(1, &inner.into_bytes());
            }
            Witness::Preimage(p) => w.bytes(2, p),
            Witness::Receipt(rc) => w.message(3, rc.as_ref()),
            Witness::Work(d) => w.bytes(4, d.as_bytes()),
            Witness::Bitcoin(e) => {
                let mut inner = Writer::new();
                inner.bytes(1, &e.tx);
                inner.repeated_bytes(2, &e.headers);
                inner.uint(3, u64::from(e.block_index));
                inner.bytes(4, &e.merkle_proof);
                w.bytes(7, &inner.into_bytes());
            }
            Witness::All(ws) => {
                let mut list = Writer::new();
                for x in ws {
                    list.bytes(1, &x.to_bytes());
                }
                w.bytes(5, &list.into_bytes());
            }
            Witness::Any(i, x) => {
                let mut inner = Writer::new();
                inner.uint(1, u64::from(*i));
                inner.bytes(2, &x.to_bytes());
                w.bytes(6, &inner.into_bytes());
            }
        }
    }

    fn decode_at(buf: &[u8], depth: usize) -> Result<Witness, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("vault witness nested too deeply"));
        }
        let mut r = Reader::new(buf);
        let sigs = r.bytes(1, MAX_VAULT_LEN)?;
        let pre = r.bytes(2, MAX_PREIMAGE)?;
        let rc: Option<Receipt> = r.optional_message(3)?;
        let work = r.bytes(4, 32)?;
        let all = r.bytes(5, MAX_VAULT_LEN)?;
        let any = r.bytes(6, MAX_VAULT_LEN)?;
        let btc = r.bytes(7, 600_000)?;
        r.finish()?;
        let set = [
            !btc.is_empty(),
            !sigs.is_empty(),
            !pre.is_empty(),
            rc.is_some(),
            !work.is_empty(),
            !all.is_empty(),
            !any.is_empty(),
        ];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(DecodeError::Invalid("a vault witness has exactly one kind"));
        }
        if !btc.is_empty() {
            let mut br = Reader::new(btc);
            let e = dsm_btc::InclusionEvidence {
                tx: br.bytes(1, 100_000)?.to_vec(),
                headers: br.repeated_fixed::<80>(2, crate::dbtc::MAX_PROOF_HEADERS)?,
                block_index: br.uint_max(3, u64::from(u32::MAX))? as u32,
                merkle_proof: br.bytes(4, 100_000)?.to_vec(),
            };
            br.finish()?;
            return Ok(Witness::Bitcoin(Box::new(e)));
        }
        Ok(if !sigs.is_empty() {
            let mut sr = Reader::new(sigs);
            let v = sr.repeated_message(1, MAX_CHILDREN)?;
            sr.finish()?;
            Witness::Signatures(v)
        } else if !pre.is_empty() {
            Witness::Preimage(pre.to_vec())
        } else if let Some(rc) = rc {
            Witness::Receipt(Box::new(rc))
        } else if !work.is_empty() {
            Witness::Work(Digest(
                work.try_into()
                    .map_err(|_| DecodeError::Invalid("work is 32 bytes"))?,
            ))
        } else if !all.is_empty() {
            let mut lr = Reader::new(all);
            let items = sub_messages(&mut lr, 1)?;
            lr.finish()?;
            Witness::All(
                items
                    .into_iter()
                    .map(|i| Witness::decode_at(i, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            let mut ar = Reader::new(any);
            let i = ar.uint_max(1, MAX_CHILDREN as u64 - 1)? as u32;
            let inner = ar.bytes(2, MAX_VAULT_LEN)?;
            ar.finish()?;
            if inner.is_empty() {
                return Err(DecodeError::Invalid(
                    "an any-witness carries its child's witness",
                ));
            }
            Witness::Any(i, Box::new(Witness::decode_at(inner, depth + 1)?))
        })
    }
}

impl Canonical for Witness {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_LEN;
    fn encode(&self, w: &mut Writer) {
        self.encode_into(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Witness::decode_at(r.remaining(), 0)
    }
}

/// A vault's immutable policy; its tagged hash is the vault id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VaultPolicy {
    /// The creator (whose head the amount leaves, and who may refund).
    pub creator: DeviceIdentity,
    /// The creator head the lock extends.
    pub creator_parent_head: HeadDigest,
    /// The token.
    pub token: TokenId,
    /// The amount, > 0.
    pub amount: Amount,
    /// Who may claim the release branch.
    pub beneficiary: DeviceId,
    /// The beneficiary's slot owner ([`dsm_core::slot::device_slots_owner`]): what admits
    /// its key to the vault's resolution slot without showing a node its genesis or id.
    /// Its beneficiary checks it on import (a wrong one would leave it no online claim).
    pub beneficiary_slots: Digest,
    /// When the beneficiary may claim.
    pub release: Condition,
    /// When the creator may take it back.
    pub refund: Condition,
    /// The creator's free choice.
    pub salt: Digest,
}

impl VaultPolicy {
    /// `H(DlvVaultId, enc(policy))`.
    pub fn vault_id(&self) -> Digest {
        tagged_hash(Tag::DlvVaultId, &[&self.to_bytes()])
    }

    /// The condition of `branch`.
    pub fn condition(&self, branch: Branch) -> &Condition {
        match branch {
            Branch::Release => &self.release,
            Branch::Refund => &self.refund,
        }
    }

    /// Both parties, ascending and distinct: the creator (who may refund) and the
    /// beneficiary (who may claim).
    pub fn parties(&self) -> Vec<DeviceId> {
        let mut v = vec![self.creator.device_id(), self.beneficiary];
        v.sort();
        v.dedup();
        v
    }

    /// Both parties' slot owners, ascending and distinct: the creator's (computed from its
    /// identity) and [`Self::beneficiary_slots`].
    pub fn slot_parties(&self) -> Vec<Digest> {
        let mut v = vec![
            dsm_core::slot::device_slots_owner(&self.creator),
            self.beneficiary_slots,
        ];
        v.sort();
        v.dedup();
        v
    }

    /// The vault's owned resolution slot at the storage nodes (PROTOCOL.md §15.2, §18.3):
    /// `(H(SlotParties, slot owners…), H(DlvSlot, vault id))`. Only a key of one of its two
    /// parties may write it (first writer wins), so no stranger can take or block it; the
    /// key hides the vault id, under which the resolution is sealed.
    pub fn resolution_slot(&self) -> (Digest, Digest) {
        (
            dsm_core::slot::parties_owner(&self.slot_parties()),
            tagged_hash(Tag::DlvSlot, &[self.vault_id().as_bytes()]),
        )
    }

    /// The device a branch credits.
    pub fn party(&self, branch: Branch) -> DeviceId {
        match branch {
            Branch::Release => self.beneficiary,
            Branch::Refund => self.creator.device_id(),
        }
    }

    /// Structural rules.
    pub fn validate(&self) -> Result<(), VaultError> {
        if self.amount.0 == 0 {
            return Err(VaultError::Malformed(
                "the amount must be greater than zero",
            ));
        }
        self.release.validate()?;
        self.refund.validate()
    }
}

impl Canonical for VaultPolicy {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.creator);
        w.bytes(2, self.creator_parent_head.as_bytes());
        w.bytes(3, self.token.as_bytes());
        w.bytes(4, &self.amount.0.to_be_bytes());
        w.bytes(5, self.beneficiary.as_bytes());
        w.message(6, &self.release);
        w.message(7, &self.refund);
        w.bytes(8, self.salt.as_bytes());
        w.bytes(9, self.beneficiary_slots.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let creator = r.message(1)?;
        let creator_parent_head = HeadDigest(Digest(r.fixed(2)?));
        let token = TokenId(Digest(r.fixed(3)?));
        let amount = Amount(u128::from_be_bytes(r.fixed(4)?));
        let beneficiary = DeviceId(Digest(r.fixed(5)?));
        let release = Condition::decode_at(r.bytes(6, MAX_VAULT_LEN)?, 0)?;
        let refund = Condition::decode_at(r.bytes(7, MAX_VAULT_LEN)?, 0)?;
        let salt = Digest(r.fixed(8)?);
        let beneficiary_slots = Digest(r.fixed(9)?);
        let p = VaultPolicy {
            beneficiary_slots,
            creator,
            creator_parent_head,
            token,
            amount,
            beneficiary,
            release,
            refund,
            salt,
        };
        p.validate()
            .map_err(|_| DecodeError::Invalid("the vault policy breaks a vault rule"))?;
        Ok(p)
    }
}

/// The creator's signed lock: the BURN head that took the amount out of its balance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedVaultLock {
    /// The vault.
    pub policy: VaultPolicy,
    /// The creator's BURN head whose source is the policy.
    pub lock_head: DeviceHead,
    /// The creator's signature over `H(DlvLock, vault id, lock head digest)`.
    pub signature: Signature,
}

impl Canonical for SignedVaultLock {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.policy);
        w.message(2, &self.lock_head);
        w.message(3, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedVaultLock {
            policy: r.message(1)?,
            lock_head: r.message(2)?,
            signature: r.message(3)?,
        })
    }
}

/// One branch of a vault taken, with its witness.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VaultResolution {
    /// The creator's signed lock.
    pub lock: SignedVaultLock,
    /// The branch.
    pub branch: Branch,
    /// Evidence that the branch's condition holds.
    pub witness: Witness,
}

impl VaultResolution {
    /// `H(DlvResolution, enc(resolution))`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::DlvResolution, &[&self.to_bytes()])
    }

    /// What the vault's resolution slot holds: the resolution sealed under its vault id
    /// (`seal(DlvSeal, vault id, enc(resolution))`, PROTOCOL.md §2 "Sealed at the nodes"),
    /// so only a reader holding the vault's lock opens it.
    pub fn sealed(&self) -> Vec<u8> {
        let id = self.lock.policy.vault_id();
        dsm_core::seal::seal(Tag::DlvSeal, id.as_bytes(), &self.to_bytes())
    }

    /// The resolution of vault `id` sealed in `bytes` by [`Self::sealed`]; `None` for
    /// anything else (in clear, of another vault, or damaged). Whether it holds is
    /// [`crate::source::TokenRules::check_resolution`]'s question.
    pub fn open(id: &Digest, bytes: &[u8]) -> Option<VaultResolution> {
        let plain = dsm_core::seal::open(Tag::DlvSeal, id.as_bytes(), bytes)?;
        VaultResolution::from_bytes(&plain)
            .ok()
            .filter(|r| r.lock.policy.vault_id() == *id)
    }
}

impl Canonical for VaultResolution {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.lock);
        w.uint(2, self.branch as u64);
        w.message(3, &self.witness);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let lock = r.message(1)?;
        let branch =
            Branch::from_u64(r.uint(2)?).ok_or(DecodeError::Invalid("unknown vault branch"))?;
        let witness = Witness::decode_at(r.bytes(3, MAX_VAULT_LEN)?, 0)?;
        Ok(VaultResolution {
            lock,
            branch,
            witness,
        })
    }
}

/// Why a vault operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VaultError {
    /// The policy or a condition breaks a structural rule.
    #[error("malformed vault: {0}")]
    Malformed(&'static str),
    /// The lock is not the creator's signed BURN head for this vault.
    #[error("the vault lock does not verify: {0}")]
    BadLock(&'static str),
    /// The witness does not have the condition's shape.
    #[error("the witness does not match the condition's shape")]
    Shape,
    /// A preimage does not hash to the condition's hash.
    #[error("wrong preimage")]
    WrongPreimage,
    /// Too few valid signatures.
    #[error("{have} valid signatures, the condition needs {need}")]
    Signatures {
        /// Valid distinct signatures.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The receipt is invalid or for another transfer.
    #[error("the receipt is not a valid receipt of the stated transfer")]
    WrongReceipt,
    /// The iteration result is wrong.
    #[error("the iteration budget's final value is wrong")]
    WrongWork,
    /// The Bitcoin payment evidence does not verify.
    #[error("the Bitcoin payment does not verify: {0}")]
    Bitcoin(dsm_btc::SpvError),
    /// No child of an `any` condition holds (the named one does not).
    #[error("the chosen alternative does not hold: {0}")]
    Alternative(Box<VaultError>),
}

/// The message signature conditions sign.
pub fn authorization(vault: &Digest, branch: Branch) -> Digest {
    tagged_hash(
        Tag::DlvAuthorize,
        &[vault.as_bytes(), &(branch as u64).to_be_bytes()],
    )
}

/// Runs the iteration budget: `n` sequential BLAKE3 steps from `H(DlvWorkSeed, vault,
/// branch)`.
pub fn iterate(vault: &Digest, branch: Branch, n: u64) -> Digest {
    let mut x = tagged_hash(
        Tag::DlvWorkSeed,
        &[vault.as_bytes(), &(branch as u64).to_be_bytes()],
    );
    for _ in 0..n {
        x = tagged_hash(Tag::DlvWorkStep, &[x.as_bytes()]);
    }
    x
}

/// Checks that `witness` shows `cond` holds for `branch` of vault `vault`.
pub fn check_condition(
    cond: &Condition,
    witness: &Witness,
    vault: &Digest,
    branch: Branch,
) -> Result<(), VaultError> {
    match (cond, witness) {
        (Condition::Signatures { threshold, keys }, Witness::Signatures(sigs)) => {
            if !sigs.windows(2).all(|w| w[0].issuer < w[1].issuer) {
                return Err(VaultError::Shape);
            }
            let msg = authorization(vault, branch);
            let valid = sigs
                .iter()
                .filter(|s| {
                    keys.get(s.issuer as usize)
                        .is_some_and(|k| k.verify(msg.as_bytes(), &s.signature).is_ok())
                })
                .count();
            if valid < *threshold as usize || valid != sigs.len() {
                return Err(VaultError::Signatures {
                    have: valid,
                    need: *threshold as usize,
                });
            }
            Ok(())
        }
        (Condition::Sha256(h), Witness::Preimage(p)) => {
            if Sha256::digest(p).as_slice() == h {
                Ok(())
            } else {
                Err(VaultError::WrongPreimage)
            }
        }
        (Condition::Blake3(h), Witness::Preimage(p)) => {
            if blake3_plain(p) == *h {
                Ok(())
            } else {
                Err(VaultError::WrongPreimage)
            }
        }
        (Condition::Receipt(commit), Witness::Receipt(r)) => {
            if r.proposal.proposal.commit() != *commit || verify_receipt(r, &EmptyView).is_err() {
                return Err(VaultError::WrongReceipt);
            }
            Ok(())
        }
        (Condition::Iterations(n), Witness::Work(d)) => {
            if iterate(vault, branch, *n) == *d {
                Ok(())
            } else {
                Err(VaultError::WrongWork)
            }
        }
        (Condition::Bitcoin(b), Witness::Bitcoin(e)) => {
            b.chain
                .verify_payment(&b.to_script, b.min_sats, &authorization(vault, branch).0, e)
                .map_err(VaultError::Bitcoin)?;
            Ok(())
        }
        (Condition::All(cs), Witness::All(ws)) => {
            if cs.len() != ws.len() {
                return Err(VaultError::Shape);
            }
            for (c, w) in cs.iter().zip(ws) {
                check_condition(c, w, vault, branch)?;
            }
            Ok(())
        }
        (Condition::Any(cs), Witness::Any(i, w)) => {
            let c = cs.get(*i as usize).ok_or(VaultError::Shape)?;
            check_condition(c, w, vault, branch).map_err(|e| VaultError::Alternative(Box::new(e)))
        }
        _ => Err(VaultError::Shape),
    }
}

/// Plain (untagged) BLAKE3-256, for hash-lock conditions shared with other systems.
pub fn blake3_plain(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// The creator's lock message: `H(DlvLock, vault id, lock head digest)`.
pub fn lock_message(vault: &Digest, lock_head: &HeadDigest) -> Digest {
    tagged_hash(Tag::DlvLock, &[vault.as_bytes(), lock_head.as_bytes()])
}

/// Signs the lock of `policy` at `lock_head` (the creator's BURN head).
pub fn sign_lock(
    policy: VaultPolicy,
    lock_head: DeviceHead,
    key: &SigningKey,
    rnd: &[u8; 32],
) -> Result<SignedVaultLock, VaultError> {
    let msg = lock_message(&policy.vault_id(), &lock_head.digest());
    let signature = key
        .sign(msg.as_bytes(), rnd)
        .map_err(|_| VaultError::BadLock("signing failed"))?;
    Ok(SignedVaultLock {
        policy,
        lock_head,
        signature,
    })
}

/// Checks a signed lock: valid policy, the lock head is the creator's BURN head on
/// `creator_parent_head` whose cause is `lock_cause` (the source proof naming the policy),
/// and the creator's signature verifies.
pub fn verify_lock(lock: &SignedVaultLock, lock_cause: &Digest) -> Result<Digest, VaultError> {
    let p = &lock.policy;
    p.validate()?;
    let h = &lock.lock_head;
    if h.device != p.creator.device_id()
        || h.parent != p.creator_parent_head
        || h.kind != TransitionKind::Burn
    {
        return Err(VaultError::BadLock(
            "the lock head is not the creator's BURN head on the stated parent",
        ));
    }
    if h.cause != *lock_cause {
        return Err(VaultError::BadLock(
            "the lock head's cause does not name this vault",
        ));
    }
    let id = p.vault_id();
    p.creator
        .public_key
        .verify(lock_message(&id, &h.digest()).as_bytes(), &lock.signature)
        .map_err(|_| VaultError::BadLock("the creator's signature does not verify"))?;
    Ok(id)
}

/// Two different valid resolutions of one vault: evidence that it was resolved twice
/// (offline), after which its value is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VaultConflict {
    /// One resolution.
    pub a: VaultResolution,
    /// Another.
    pub b: VaultResolution,
}

impl Canonical for VaultConflict {
    const MAX_ENCODED_LEN: usize = 2 * MAX_VAULT_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.a);
        w.message(2, &self.b);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(VaultConflict {
            a: r.message(1)?,
            b: r.message(2)?,
        })
    }
}

/// True when `other` is a proposal by the vault's creator that spends from the same parent
/// head as the lock but is not the lock: the creator signed two successors of one head.
pub fn lock_conflict(lock: &SignedVaultLock, other: &SignedProposal) -> bool {
    let p = &other.proposal;
    p.step.sender == lock.policy.creator.device_id()
        && p.sender_parent_head.digest() == lock.policy.creator_parent_head
        && p.sender_child_head != lock.lock_head
        && p.sender
            .public_key
            .verify(p.commit().as_bytes(), &other.signature)
            .is_ok()
        && lock
            .policy
            .creator
            .public_key
            .verify(
                lock_message(&lock.policy.vault_id(), &lock.lock_head.digest()).as_bytes(),
                &lock.signature,
            )
            .is_ok()
}

/// The Bitcoin side of a [`Condition::Bitcoin`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitcoinPayment {
    /// The chain the payment must be on, and how deep.
    pub chain: crate::dbtc::BitcoinChain,
    /// The output script that must be paid (1..100 bytes).
    pub to_script: Vec<u8>,
    /// The least amount, in satoshis.
    pub min_sats: u64,
}

impl Canonical for BitcoinPayment {
    const MAX_ENCODED_LEN: usize = 4_096;
    fn encode(&self, w: &mut Writer) {
        self.chain.encode_fields(w);
        w.bytes(5, &self.to_script);
        w.uint(6, self.min_sats);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = BitcoinPayment {
            chain: crate::dbtc::BitcoinChain::decode_fields(r)?,
            to_script: r.bytes(5, 100)?.to_vec(),
            min_sats: r.uint(6)?,
        };
        if b.to_script.is_empty() || b.min_sats == 0 || b.chain.d_min == 0 {
            return Err(DecodeError::Invalid(
                "a Bitcoin condition names a script, an amount and a depth",
            ));
        }
        Ok(b)
    }
}

/// The most bytes a [`VaultDocument`] may take.
pub const MAX_VAULT_DOCUMENT_LEN: usize = 16 << 20;

/// What a vault's creator hands the beneficiary (PROTOCOL.md §18.2): the signed lock, the
/// statement by which the lock consumed the creator's parcels with their manifests, and
/// the lineage objects they list (strictly ascending bytewise). The beneficiary checks the
/// lineages before it takes the vault: a resolution is only as good as what the lock
/// consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultDocument {
    /// The lock.
    pub lock: SignedVaultLock,
    /// The lock's consumed parcels.
    pub backing: crate::source::ConsumedParcels,
    /// The lineage objects the manifests list.
    pub objects: Vec<Vec<u8>>,
    /// The holder's authorization to put its consuming statement in the consumed parcels'
    /// owned slots (PROTOCOL.md §15.2), so that the document's receiver can settle it
    /// without the holder. Optional.
    pub slot_write: Option<dsm_core::slot::SlotWrite>,
}

impl Canonical for VaultDocument {
    const MAX_ENCODED_LEN: usize = MAX_VAULT_DOCUMENT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.lock);
        w.message(2, &self.backing);
        w.repeated_bytes(3, &self.objects);
        w.optional_message(4, self.slot_write.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let lock = r.message(1)?;
        let backing = r.message(2)?;
        let objects = r.ascending_objects(
            3,
            1 << 20,
            MAX_VAULT_DOCUMENT_LEN,
            "a vault document's objects are strictly ascending (bytewise), each once",
        )?;
        Ok(VaultDocument {
            lock,
            backing,
            objects,
            slot_write: r.optional_message(4)?,
        })
    }
}
