//! Mint and burn statements, and the t-of-n issuer signatures that authorise them.
//!
//! A mint is bound to one position of the recipient's chain (`recipient_parent_head`), so
//! it can be applied once only. Issuers keep their mints in one sequence (`seq`,
//! `minted_before`); the cap is checked against `minted_before + amount`. Two different
//! statements with one `(token, seq)`, or two mints whose `minted_before` values contradict
//! each other, are issuer equivocation ([`MintConflict`], [`verify_mint_conflict`]):
//! transferable evidence like Tripwire's (PROTOCOL.md §17.2).

use crate::policy::{Issuers, TokenPolicy};
use dsm_core::chain::{Amount, HeadDigest, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{Signature, SigningKey};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;
use thiserror::Error;

use crate::policy::MAX_ISSUERS;

/// What `threshold` issuers sign to create `amount` new units for `recipient`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MintStatement {
    /// The token (policy commitment).
    pub token: TokenId,
    /// The issuers' mint sequence number (0, 1, 2, …).
    pub seq: u64,
    /// Everything created before this mint: the initial allocation plus earlier mints.
    pub minted_before: Amount,
    /// The amount, > 0.
    pub amount: Amount,
    /// Who receives it.
    pub recipient: DeviceId,
    /// The recipient head the ALLOCATION extends: the mint applies there and nowhere else.
    pub recipient_parent_head: HeadDigest,
}

impl MintStatement {
    /// The digest issuers sign: `H(MintStatement, enc(statement))`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::MintStatement, &[&self.to_bytes()])
    }
}

impl Canonical for MintStatement {
    const MAX_ENCODED_LEN: usize = 200;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.uint(2, self.seq);
        w.bytes(3, &self.minted_before.0.to_be_bytes());
        w.bytes(4, &self.amount.0.to_be_bytes());
        w.bytes(5, self.recipient.as_bytes());
        w.bytes(6, self.recipient_parent_head.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MintStatement {
            token: TokenId(Digest(r.fixed(1)?)),
            seq: r.uint(2)?,
            minted_before: Amount(u128::from_be_bytes(r.fixed(3)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(4)?)),
            recipient: DeviceId(Digest(r.fixed(5)?)),
            recipient_parent_head: HeadDigest(Digest(r.fixed(6)?)),
        })
    }
}

/// What a holder's BURN head names: `amount` of `token` destroyed at one chain position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BurnStatement {
    /// The token.
    pub token: TokenId,
    /// The burning device.
    pub device: DeviceId,
    /// The head the BURN extends.
    pub parent_head: HeadDigest,
    /// The amount, > 0.
    pub amount: Amount,
}

impl BurnStatement {
    /// The digest issuers sign when the policy requires them: `H(BurnStatement, enc)`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::BurnStatement, &[&self.to_bytes()])
    }
}

impl Canonical for BurnStatement {
    const MAX_ENCODED_LEN: usize = 160;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.bytes(2, self.device.as_bytes());
        w.bytes(3, self.parent_head.as_bytes());
        w.bytes(4, &self.amount.0.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BurnStatement {
            token: TokenId(Digest(r.fixed(1)?)),
            device: DeviceId(Digest(r.fixed(2)?)),
            parent_head: HeadDigest(Digest(r.fixed(3)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(4)?)),
        })
    }
}

/// One issuer's signature; `issuer` indexes the policy's issuer keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cosignature {
    /// Index into `policy.issuers.keys`.
    pub issuer: u32,
    /// Signature over the statement digest.
    pub signature: Signature,
}

impl Canonical for Cosignature {
    const MAX_ENCODED_LEN: usize = 40_000;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, u64::from(self.issuer));
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Cosignature {
            issuer: r.uint_max(1, MAX_ISSUERS as u64 - 1)? as u32,
            signature: r.message(2)?,
        })
    }
}

/// A statement digest with its cosignatures (ascending by issuer index, no repeats).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authorised<S> {
    /// The statement.
    pub statement: S,
    /// The issuers' signatures over its digest.
    pub signatures: Vec<Cosignature>,
}

/// A mint statement with its issuer signatures.
pub type SignedMint = Authorised<MintStatement>;
/// A burn statement with issuer signatures (empty when the policy lets holders burn alone).
pub type SignedBurn = Authorised<BurnStatement>;

impl<S: Canonical> Canonical for Authorised<S> {
    const MAX_ENCODED_LEN: usize = 200 + MAX_ISSUERS * 40_000;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.statement);
        w.repeated_message(2, &self.signatures);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Authorised {
            statement: r.message(1)?,
            signatures: r.repeated_message(2, MAX_ISSUERS)?,
        })
    }
}

/// Why a mint or burn is not authorised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthorityError {
    /// The policy has no mint authority (threshold 0).
    #[error("this token's policy allows no minting")]
    NoMintAuthority,
    /// The policy does not allow burning.
    #[error("this token's policy allows no burning")]
    NoBurn,
    /// The statement names another token.
    #[error("the statement names another token")]
    WrongToken,
    /// Fewer than `threshold` distinct valid issuer signatures.
    #[error("{have} valid issuer signatures, the policy needs {need}")]
    Threshold {
        /// Valid distinct signatures found.
        have: usize,
        /// The policy's threshold.
        need: usize,
    },
    /// Signatures out of order, repeated, or naming no issuer.
    #[error("issuer signatures must name distinct issuers in ascending order")]
    SignatureOrder,
    /// A signature does not verify.
    #[error("issuer {0}'s signature does not verify")]
    BadSignature(u32),
    /// The mint would exceed the cap.
    #[error("minting {amount} after {before} exceeds the cap of {cap}")]
    OverCap {
        /// Already created.
        before: Amount,
        /// Requested.
        amount: Amount,
        /// The cap.
        cap: Amount,
    },
    /// Zero amount.
    #[error("amount must be greater than zero")]
    ZeroAmount,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The first mint (`seq` 0) must state exactly the initial allocation as created before.
    #[error("mint 0 must state minted_before = {initial} (the initial allocation), not {stated}")]
    FirstMint {
        /// What the statement says.
        stated: Amount,
        /// The policy's initial total.
        initial: Amount,
    },
    /// Two mints offered as a conflict do not contradict each other.
    #[error("the two mints do not contradict each other: no issuer equivocation")]
    NotAConflict,
}

/// Signs `digest` as issuer `index` (hedged with `rnd`).
pub fn cosign(
    key: &SigningKey,
    index: u32,
    digest: &Digest,
    rnd: &[u8; 32],
) -> Result<Cosignature, AuthorityError> {
    let signature = key
        .sign(digest.as_bytes(), rnd)
        .map_err(|e| AuthorityError::Sign(e.to_string()))?;
    Ok(Cosignature {
        issuer: index,
        signature,
    })
}

/// Checks that `sigs` holds at least the policy's threshold of distinct, valid issuer
/// signatures over `digest`.
pub fn check_threshold(
    policy: &TokenPolicy,
    digest: &Digest,
    sigs: &[Cosignature],
) -> Result<(), AuthorityError> {
    check_authority(&policy.issuers, digest, sigs)
}

/// Checks that `sigs` holds at least `authority`'s threshold of distinct, valid signatures
/// over `digest` (ascending by key index, no repeats).
pub fn check_authority(
    authority: &crate::policy::Issuers,
    digest: &Digest,
    sigs: &[Cosignature],
) -> Result<(), AuthorityError> {
    if !sigs.windows(2).all(|w| w[0].issuer < w[1].issuer) {
        return Err(AuthorityError::SignatureOrder);
    }
    for s in sigs {
        let key = authority
            .keys
            .get(s.issuer as usize)
            .ok_or(AuthorityError::SignatureOrder)?;
        key.verify(digest.as_bytes(), &s.signature)
            .map_err(|_| AuthorityError::BadSignature(s.issuer))?;
    }
    let need = authority.threshold as usize;
    if sigs.len() < need {
        return Err(AuthorityError::Threshold {
            have: sigs.len(),
            need,
        });
    }
    Ok(())
}

/// Checks a signed mint against its policy: token, mint authority, threshold, amount and
/// cap. (The recipient, head position and allowlist are checked where it is applied.)
pub fn verify_mint(policy: &TokenPolicy, m: &SignedMint) -> Result<(), AuthorityError> {
    let s = &m.statement;
    if s.token != policy.token_id() {
        return Err(AuthorityError::WrongToken);
    }
    if policy.issuers.threshold == 0 {
        return Err(AuthorityError::NoMintAuthority);
    }
    if s.amount.0 == 0 {
        return Err(AuthorityError::ZeroAmount);
    }
    let over = AuthorityError::OverCap {
        before: s.minted_before,
        amount: s.amount,
        cap: policy.cap,
    };
    if s.minted_before < policy.initial_total() {
        return Err(over);
    }
    if s.seq == 0 && s.minted_before != policy.initial_total() {
        return Err(AuthorityError::FirstMint {
            stated: s.minted_before,
            initial: policy.initial_total(),
        });
    }
    match s.minted_before.checked_add(s.amount) {
        Some(total) if total <= policy.cap => {}
        _ => return Err(over),
    }
    check_threshold(policy, &s.digest(), &m.signatures)
}

/// Checks a signed burn against its policy (token, burn rule, issuer threshold if needed).
pub fn verify_burn(policy: &TokenPolicy, b: &SignedBurn) -> Result<(), AuthorityError> {
    use crate::policy::BurnRule;
    if b.statement.token != policy.token_id() {
        return Err(AuthorityError::WrongToken);
    }
    if b.statement.amount.0 == 0 {
        return Err(AuthorityError::ZeroAmount);
    }
    match policy.burn {
        BurnRule::Nobody => Err(AuthorityError::NoBurn),
        BurnRule::Holder => Ok(()),
        BurnRule::Issuers => check_threshold(policy, &b.statement.digest(), &b.signatures),
    }
}

/// True when two mint statements of one token cannot both belong to one honest mint
/// sequence: the same `seq` with different statements, or `minted_before` values that
/// contradict (`minted_before(t) ≥ minted_before(s) + amount(s)` for `s < t`, with equality
/// when `t = s + 1`). Signatures are not checked here; see [`verify_mint_conflict`].
pub fn mints_contradict(a: &MintStatement, b: &MintStatement) -> bool {
    if a.token != b.token {
        return false;
    }
    if a.seq == b.seq {
        return a != b;
    }
    let (lo, hi) = if a.seq < b.seq { (a, b) } else { (b, a) };
    match lo.minted_before.checked_add(lo.amount) {
        // Overflow: `lo` alone is over any cap; it cannot precede anything.
        None => true,
        Some(after) => {
            hi.minted_before < after || (hi.seq == lo.seq + 1 && hi.minted_before != after)
        }
    }
}

/// Evidence that a token's issuers signed two mints that no single honest mint sequence
/// contains (PROTOCOL.md §17.2). `a` sorts before `b` by `(seq, statement digest)`, so one
/// conflict has one encoding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MintConflict {
    /// The first mint.
    pub a: SignedMint,
    /// The second mint.
    pub b: SignedMint,
}

impl MintConflict {
    /// The conflict between two mints in canonical order (`None` if they are identical).
    pub fn new(x: SignedMint, y: SignedMint) -> Option<MintConflict> {
        let kx = (x.statement.seq, x.statement.digest());
        let ky = (y.statement.seq, y.statement.digest());
        match kx.cmp(&ky) {
            core::cmp::Ordering::Less => Some(MintConflict { a: x, b: y }),
            core::cmp::Ordering::Greater => Some(MintConflict { a: y, b: x }),
            core::cmp::Ordering::Equal => None,
        }
    }

    /// The token both mints name.
    pub fn token(&self) -> TokenId {
        self.a.statement.token
    }

    /// The lower sequence number of the two: from here on the token's mint sequence is
    /// known to be broken.
    pub fn first_seq(&self) -> u64 {
        self.a.statement.seq
    }
}

impl Canonical for MintConflict {
    const MAX_ENCODED_LEN: usize = 2 * <SignedMint as Canonical>::MAX_ENCODED_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.a);
        w.message(2, &self.b);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let a: SignedMint = r.message(1)?;
        let b: SignedMint = r.message(2)?;
        if (a.statement.seq, a.statement.digest()) >= (b.statement.seq, b.statement.digest()) {
            return Err(DecodeError::Invalid(
                "a mint conflict lists its mints by ascending (seq, digest)",
            ));
        }
        Ok(MintConflict { a, b })
    }
}

/// Checks mint-conflict evidence: both mints are authorised under `policy` and they
/// contradict ([`mints_contradict`]). Returns the lower sequence number.
pub fn verify_mint_conflict(policy: &TokenPolicy, c: &MintConflict) -> Result<u64, AuthorityError> {
    if !mints_contradict(&c.a.statement, &c.b.statement) {
        return Err(AuthorityError::NotAConflict);
    }
    verify_mint(policy, &c.a)?;
    verify_mint(policy, &c.b)?;
    Ok(c.first_seq())
}

/// The owned slot of mint `seq` of `token` (PROTOCOL.md §15.2, §17.2):
/// `(H(SlotOwner, issuer key digests…), H(MintSlot, token, u64be(seq)))` — only one of the
/// token's issuers may write it. It holds the first mint published with that number (first
/// writer wins).
pub fn mint_slot(issuers: &Issuers, token: &TokenId, seq: u64) -> (Digest, Digest) {
    (
        authority_owner(issuers),
        tagged_hash(Tag::MintSlot, &[token.as_bytes(), &seq.to_be_bytes()]),
    )
}

/// What a mint's slot holds: the canonical mint sealed under its token
/// (`seal(MintSeal, token, enc(SignedMint))`, PROTOCOL.md §2 "Sealed at the nodes", §17.2),
/// so a node that does not know the token reads neither the recipient nor the amount.
pub fn seal_mint(m: &SignedMint) -> Vec<u8> {
    dsm_core::seal::seal(Tag::MintSeal, m.statement.token.as_bytes(), &m.to_bytes())
}

/// The mint of `token` sealed in `bytes` by [`seal_mint`]; `None` for anything else (a mint
/// in clear, or of another token, included).
pub fn open_mint(token: &TokenId, bytes: &[u8]) -> Option<SignedMint> {
    let plain = dsm_core::seal::open(Tag::MintSeal, token.as_bytes(), bytes)?;
    SignedMint::from_bytes(&plain)
        .ok()
        .filter(|m| m.statement.token == *token)
}

/// The owner of the slots `authority`'s keys (issuers or refreshers) own:
/// [`dsm_core::slot::keys_owner`] of their key digests.
pub fn authority_owner(authority: &Issuers) -> Digest {
    dsm_core::slot::keys_owner(&key_list(authority))
}

/// The admission of an owned slot that `authority`'s keys (issuers or refreshers) own:
/// [`dsm_core::slot::Admission::Keys`] over their key digests.
pub fn keys_admission(authority: &Issuers) -> dsm_core::slot::Admission {
    dsm_core::slot::Admission::Keys {
        admitted: key_list(authority),
    }
}

/// The sorted, distinct [`dsm_core::slot::key_digest`]s of `authority`'s keys.
fn key_list(authority: &Issuers) -> Vec<Digest> {
    let mut v: Vec<Digest> = authority
        .keys
        .iter()
        .map(dsm_core::slot::key_digest)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What a mint slot holds, judged against mint `m` of the same number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MintSlotContent {
    /// The same statement (its cosignature bytes may differ).
    Same,
    /// Another mint of the same number that the policy's issuers authorised: evidence.
    Conflict(Box<MintConflict>),
    /// Anything else: proves nothing, settles nothing.
    Noise,
}

/// Judges the sealed `bytes` read from the slot of `m`'s `(token, seq)`: the same mint statement, an
/// authorised rival (a [`MintConflict`]), or noise. `m` was verified under `policy`.
pub fn judge_mint_slot(bytes: &[u8], policy: &TokenPolicy, m: &SignedMint) -> MintSlotContent {
    let Some(other) = open_mint(&m.statement.token, bytes) else {
        return MintSlotContent::Noise;
    };
    let (a, b) = (&m.statement, &other.statement);
    if a.token != b.token || a.seq != b.seq {
        return MintSlotContent::Noise;
    }
    if a.digest() == b.digest() {
        return MintSlotContent::Same;
    }
    if verify_mint(policy, &other).is_err() {
        return MintSlotContent::Noise;
    }
    match MintConflict::new(m.clone(), other) {
        Some(c) => MintSlotContent::Conflict(Box::new(c)),
        None => MintSlotContent::Noise,
    }
}

/// Checks mint `next` against `prev`, the mint published one number before it: `next`
/// must state `minted_before = prev.minted_before + prev.amount`. Walked from mint 0 (whose
/// `minted_before` [`verify_mint`] checks against the initial allocation), this makes every
/// `minted_before` the true total minted before it. A contradiction is evidence.
pub fn check_published_successor(prev: &SignedMint, next: &SignedMint) -> Option<MintConflict> {
    if next.statement.seq != prev.statement.seq.checked_add(1)? {
        return None;
    }
    if mints_contradict(&prev.statement, &next.statement) {
        MintConflict::new(prev.clone(), next.clone())
    } else {
        None
    }
}
