//! Re-issue: the refreshers of a token replace parcels a holder burns whole by one fresh
//! root for their sum, so lineages stay short (PROTOCOL.md §17.6).
//!
//! The order makes declining free. The holder sends an *unsigned* request: the burn
//! statement (every input whole to the token's sink) and the inputs' lineages. Refreshers
//! check the lineages and the parcel slots and sign a [`ReissueStatement`] naming the burn's
//! commit, which the statement alone fixes. Only then does the holder sign the burn; the
//! [`Reissue`] (refreshers' signatures, the signed burn, the holder's identity) is the root
//! of the new parcel. A refresher that declines holds nothing the holder signed, so the
//! holder keeps its parcels. A holder that signs the burn and also spends a burned parcel
//! has consumed it twice: a parcel fork, and only the statement that holds the parcel's slot
//! counts (the re-issued root settles only when its burn holds every burned parcel's slot).

use crate::authority::{check_authority, Authorised, AuthorityError};
use crate::policy::TokenPolicy;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::parcel::{sink, transfer_commit, Hop, Parcel, ParcelStatement};
use dsm_core::tags::Tag;
use thiserror::Error;

/// What refreshers sign: `amount` of `token`, re-issued to `holder`, for the burn signed as
/// `burn`. Every field follows from the burn statement, so two re-issues of one burn are
/// the same root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReissueStatement {
    /// The token.
    pub token: TokenId,
    /// The device whose parcels are burned and who holds the new root.
    pub holder: DeviceId,
    /// The sum burned, > 0.
    pub amount: Amount,
    /// The burn's commit: `transfer_commit(H(ParcelStatement, burn), burn_rest(token,
    /// holder))`.
    pub burn: Digest,
}

impl ReissueStatement {
    /// The digest refreshers sign: `H(ReissueStatement, enc(statement))`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::ReissueStatement, &[&self.to_bytes()])
    }
}

impl Canonical for ReissueStatement {
    const MAX_ENCODED_LEN: usize = 160;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.bytes(2, self.holder.as_bytes());
        w.bytes(3, &self.amount.0.to_be_bytes());
        w.bytes(4, self.burn.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReissueStatement {
            token: TokenId(Digest(r.fixed(1)?)),
            holder: DeviceId(Digest(r.fixed(2)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(3)?)),
            burn: Digest(r.fixed(4)?),
        })
    }
}

/// A re-issue statement with the refreshers' signatures (indices into the policy's refresh
/// authority, [`TokenPolicy::refresh_authority`]).
pub type SignedReissue = Authorised<ReissueStatement>;

/// A re-issued root: the refreshers' statement, the holder's signed burn, and the holder's
/// identity (to check the burn's signature without anything else).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reissue {
    /// The statement and the refreshers' signatures.
    pub signed: SignedReissue,
    /// The burn, signed by the holder.
    pub burn: Hop,
    /// The holder's identity.
    pub holder: DeviceIdentity,
}

impl Canonical for Reissue {
    const MAX_ENCODED_LEN: usize =
        SignedReissue::MAX_ENCODED_LEN + Hop::MAX_ENCODED_LEN + DeviceIdentity::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.signed);
        w.message(2, &self.burn);
        w.message(3, &self.holder);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Reissue {
            signed: r.message(1)?,
            burn: r.message(2)?,
            holder: r.message(3)?,
        })
    }
}

/// Why a re-issue is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReissueError {
    /// The policy names no refreshers and has no issuers.
    #[error("this token has no refreshers: its parcels cannot be re-issued")]
    NoRefreshers,
    /// The statement is for another token than the policy's.
    #[error("the re-issue is for another token")]
    WrongToken,
    /// The burn pays something other than the token's sink.
    #[error("the burn pays a device, not the token's sink: it is no re-issue burn")]
    NotABurn,
    /// The statement does not say what the burn implies (holder, amount or commit).
    #[error("the re-issue statement does not match its burn (holder, amount or commit)")]
    Mismatch,
    /// The refreshers' signatures do not reach the threshold.
    #[error("refreshers: {0}")]
    Authority(#[from] AuthorityError),
    /// The holder's signature over the burn does not verify.
    #[error("the holder's signature over the burn does not verify")]
    BurnSignature,
    /// A burned parcel is of another token than the re-issue's.
    #[error("parcel {0} is of another token")]
    OtherToken(dsm_core::parcel::ParcelId),
    /// The burn does not take a burned parcel's whole amount.
    #[error("parcel {0}: the burn does not take its whole amount")]
    NotWhole(dsm_core::parcel::ParcelId),
}

/// The `rest` a re-issue burn's hop commits to: `H(ReissueBurn, token, holder)`. Fixed, so
/// the burn's commit follows from its statement and refreshers can sign before the holder.
pub fn burn_rest(token: &TokenId, holder: &DeviceId) -> Digest {
    tagged_hash(Tag::ReissueBurn, &[token.as_bytes(), holder.as_bytes()])
}

/// The burn statement of a re-issue of `inputs` (all of `token`, held by `holder`): each
/// input whole to the token's sink.
pub fn burn_statement(
    holder: DeviceId,
    token: &TokenId,
    inputs: &[Parcel],
) -> Result<ParcelStatement, &'static str> {
    if inputs.iter().any(|p| p.token != *token) {
        return Err("every parcel re-issued together is of one token");
    }
    let sum = inputs
        .iter()
        .try_fold(Amount::ZERO, |s, p| s.checked_add(p.amount))
        .ok_or("the parcels' sum overflows")?;
    ParcelStatement::to_sink(holder, token, inputs, sum)
}

/// The statement refreshers sign for the burn `burn` of `token`: its holder, the sum it
/// burns, its commit. Refused when any output pays another holder than the sink.
pub fn statement_for(
    token: &TokenId,
    burn: &ParcelStatement,
) -> Result<ReissueStatement, ReissueError> {
    let to = sink(token);
    let mut amount = Amount::ZERO;
    for o in &burn.outputs {
        if o.to != to {
            return Err(ReissueError::NotABurn);
        }
        amount = amount.checked_add(o.amount).ok_or(ReissueError::Mismatch)?;
    }
    Ok(ReissueStatement {
        token: *token,
        holder: burn.holder,
        amount,
        burn: transfer_commit(&burn.digest(), &burn_rest(token, &burn.holder)),
    })
}

/// A refresher's check of one burned parcel against the request (PROTOCOL.md §17.6, step
/// 2): `parcel` (whose lineage the refresher verified) is input `j` of `burn`, of `token`,
/// and the burn takes its whole amount — so the re-issued sum is exactly what was held.
pub fn check_burned(
    token: &TokenId,
    burn: &ParcelStatement,
    j: usize,
    parcel: &Parcel,
) -> Result<(), ReissueError> {
    if parcel.token != *token {
        return Err(ReissueError::OtherToken(parcel.id));
    }
    let burned = burn
        .outputs_of(j)
        .try_fold(Amount::ZERO, |s, (_, o)| s.checked_add(o.amount));
    if burn.inputs.get(j) != Some(&parcel.id) || burned != Some(parcel.amount) {
        return Err(ReissueError::NotWhole(parcel.id));
    }
    Ok(())
}

/// Checks a re-issue against its policy: the token has refreshers, the burn pays only the
/// sink with the fixed `rest`, the statement is exactly what the burn implies, the
/// refreshers' threshold signs it, and the holder signed the burn. Stateless; whether the
/// burned parcels were the holder's to burn is what the refreshers checked, and whether the
/// burn holds their slots is settlement's question (PROTOCOL.md §17.6).
pub fn verify_reissue(policy: &TokenPolicy, r: &Reissue) -> Result<(), ReissueError> {
    let authority = policy
        .refresh_authority()
        .ok_or(ReissueError::NoRefreshers)?;
    let s = &r.signed.statement;
    if s.token != policy.token_id() {
        return Err(ReissueError::WrongToken);
    }
    let expected = statement_for(&s.token, &r.burn.statement)?;
    if expected != *s
        || r.holder.device_id() != s.holder
        || r.burn.rest != burn_rest(&s.token, &s.holder)
        || r.burn.commit() != s.burn
    {
        return Err(ReissueError::Mismatch);
    }
    check_authority(authority, &s.digest(), &r.signed.signatures)?;
    r.holder
        .public_key
        .verify(s.burn.as_bytes(), &r.burn.signature)
        .map_err(|_| ReissueError::BurnSignature)
}

/// The largest encoded [`ReissueRequest`] (it travels as a file or over a link's chunked
/// transfer, never in one frame).
pub const MAX_REQUEST_LEN: usize = 16 * 1024 * 1024;

/// What a holder sends its refreshers, unsigned: the burn statement it will sign once they
/// have, its identity, and the lineages of the burned parcels as content-addressed objects
/// (one manifest per input, in input order; objects strictly ascending bytewise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReissueRequest {
    /// The token.
    pub token: TokenId,
    /// The holder.
    pub holder: DeviceIdentity,
    /// The burn statement (every input whole to the token's sink).
    pub burn: ParcelStatement,
    /// One manifest per input, in input order.
    pub manifests: Vec<dsm_core::parcel::LineageManifest>,
    /// Every object the manifests list.
    pub objects: Vec<Vec<u8>>,
}

impl Canonical for ReissueRequest {
    const MAX_ENCODED_LEN: usize = MAX_REQUEST_LEN;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.message(2, &self.holder);
        w.message(3, &self.burn);
        w.repeated_message(4, &self.manifests);
        w.repeated_bytes(5, &self.objects);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let token = TokenId(Digest(r.fixed(1)?));
        let holder: DeviceIdentity = r.message(2)?;
        let burn: ParcelStatement = r.message(3)?;
        let manifests: Vec<dsm_core::parcel::LineageManifest> =
            r.repeated_message(4, dsm_core::parcel::MAX_INPUTS)?;
        if manifests.len() != burn.inputs.len()
            || manifests
                .iter()
                .zip(&burn.inputs)
                .any(|(m, i)| m.parcel != *i)
        {
            return Err(DecodeError::Invalid(
                "a re-issue request lists one manifest per burned parcel, in input order",
            ));
        }
        let objects = r.ascending_objects(
            5,
            1 << 20,
            MAX_REQUEST_LEN,
            "a re-issue request's objects are strictly ascending (bytewise), each once",
        )?;
        if holder.device_id() != burn.holder {
            return Err(DecodeError::Invalid(
                "a re-issue request's identity is the burn's holder",
            ));
        }
        Ok(ReissueRequest {
            token,
            holder,
            burn,
            manifests,
            objects,
        })
    }
}

/// A refresher's record that it re-issues under one burn: the re-issue statement with its
/// cosignature(s), and the burn statement it names (so anyone can see which parcels it
/// burns). Written to the re-issue slot of every burned parcel before the cosignature is
/// handed out: refreshers that never talk to each other share, through the nodes, which
/// burn each parcel was re-issued under (PROTOCOL.md §17.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReissueRecord {
    /// The statement and the refreshers' cosignatures so far (at least one).
    pub signed: Authorised<ReissueStatement>,
    /// The burn statement `signed.statement.burn` commits to.
    pub burn: ParcelStatement,
}

impl Canonical for ReissueRecord {
    const MAX_ENCODED_LEN: usize = 64 * 1024 + ParcelStatement::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.signed);
        w.message(2, &self.burn);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReissueRecord {
            signed: r.message(1)?,
            burn: r.message(2)?,
        })
    }
}

/// The owned slot in which refreshers record the re-issue of burned parcel `p` (PROTOCOL.md
/// §15.2, §17.6): `(H(SlotOwner, refresher key digests…), H(ReissueSlot, p))` — only one of
/// the token's refreshers may write it. First writer wins.
pub fn reissue_slot(
    refreshers: &crate::policy::Issuers,
    p: &dsm_core::parcel::ParcelId,
) -> (Digest, Digest) {
    (
        crate::authority::authority_owner(refreshers),
        tagged_hash(Tag::ReissueSlot, &[p.as_bytes()]),
    )
}

/// What the re-issue slot of burned parcel `p` holds for `record`: the canonical record
/// sealed under the parcel id (`seal(ReissueSeal, p, enc(ReissueRecord))`, PROTOCOL.md §2
/// "Sealed at the nodes", §17.6), so a node that does not know the parcel reads nothing.
pub fn seal_reissue_record(p: &dsm_core::parcel::ParcelId, record: &ReissueRecord) -> Vec<u8> {
    dsm_core::seal::seal(Tag::ReissueSeal, p.as_bytes(), &record.to_bytes())
}

/// What a re-issue slot holds, judged against a refresher's own record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReissueSlotContent {
    /// A record of the same burn (other cosignatures, maybe).
    Same,
    /// A record of another burn of the parcel, cosigned by one of the token's refreshers:
    /// the parcel was re-issued under that burn; re-issuing it again would count it twice.
    Rival,
    /// Anything else — bytes that do not decode, another token, a burn that does not
    /// consume the parcel, a signature no refresher made. It proves nothing.
    Noise,
}

/// Judges the sealed `bytes` read from the re-issue slot of `parcel` against `ours` (a
/// record this refresher made under `policy`); a record in clear, or sealed for another
/// parcel, is noise.
pub fn judge_reissue_slot(
    bytes: &[u8],
    parcel: &dsm_core::parcel::ParcelId,
    policy: &TokenPolicy,
    ours: &ReissueRecord,
) -> ReissueSlotContent {
    let Some(other) = dsm_core::seal::open(Tag::ReissueSeal, parcel.as_bytes(), bytes)
        .and_then(|plain| ReissueRecord::from_bytes(&plain).ok())
    else {
        return ReissueSlotContent::Noise;
    };
    let (s, o) = (&ours.signed.statement, &other.signed.statement);
    if o.token != s.token || o.token != policy.token_id() {
        return ReissueSlotContent::Noise;
    }
    if o.burn == s.burn {
        return ReissueSlotContent::Same;
    }
    let commits = transfer_commit(&other.burn.digest(), &burn_rest(&o.token, &o.holder));
    if commits != o.burn
        || other.burn.inputs.binary_search(parcel).is_err()
        || other.signed.signatures.is_empty()
    {
        return ReissueSlotContent::Noise;
    }
    let Some(authority) = policy.refresh_authority() else {
        return ReissueSlotContent::Noise;
    };
    // One refresher's signature is enough to show a refresher re-issued it.
    let one = crate::policy::Issuers {
        threshold: 1,
        keys: authority.keys.clone(),
    };
    match check_authority(&one, &o.digest(), &other.signed.signatures) {
        Ok(()) => ReissueSlotContent::Rival,
        Err(_) => ReissueSlotContent::Noise,
    }
}
