//! Parcels: value that carries its own lineage (PROTOCOL.md §5.6).
//!
//! A device's holdings are parcels `{id, token, amount}`. A lineage starts at a *root*, a
//! source that creates value and may be used once (the token layer verifies it through
//! [`RootVerifier`]); every later hop is a [`ParcelStatement`] signed by the parcel's
//! holder that consumes it into at most two outputs (one to the receiver, one back as
//! change). There is no merging, so a lineage is a line, and an output id hashes the
//! statement that made it, so a parcel id commits to its whole lineage.
//!
//! [`verify_lineage`] is the one check of a lineage; only it makes a [`VerifiedLineage`].
//! [`ParcelFork`] is the Tripwire evidence for one device consuming one parcel twice.
//!
//! Every transfer's proposal carries its [`ParcelStatement`] (`receipt::Proposal::parcels`)
//! and its receiver signs only with a [`VerifiedLineage`] per input; PROTOCOL.md §5.6 says
//! what remains to be built.

use crate::chain::{Amount, TokenId};
use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::crypto::{CryptoError, Signature};
use crate::hash::{digest_newtype, tagged_hash, Digest};
use crate::identity::{DeviceId, DeviceIdentity};
use crate::tags::Tag;
use std::collections::{HashMap, HashSet};
use thiserror::Error;

digest_newtype!(
    /// A parcel's id: `H(ParcelRoot, once-key, token, amount, holder)` for a root,
    /// `H(ParcelOutput, transfer commit, u32be(index))` for an output. Always recomputed,
    /// never read from the wire.
    ParcelId
);

/// The most parcels one statement consumes.
pub const MAX_INPUTS: usize = 64;

/// A parcel as a verifier knows it after checking its lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Parcel {
    /// Its id.
    pub id: ParcelId,
    /// Its token.
    pub token: TokenId,
    /// Its amount (> 0).
    pub amount: Amount,
    /// The device that may consume it.
    pub holder: DeviceId,
}

/// What the token layer establishes about a source of value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootFacts {
    /// What the source may be used for once (never derived from bytes that can vary).
    pub once_key: Digest,
    /// The token created.
    pub token: TokenId,
    /// The amount created.
    pub amount: Amount,
    /// The device it is created for.
    pub holder: DeviceId,
    /// For a re-issue: the burn that consumed the parcels it replaces (`None` for every
    /// other root).
    pub burned: Option<RootBurn>,
}

/// The statement behind a root that continues value rather than creating it: the holder's
/// signed statement consuming `hop.statement.inputs` (their sink outputs are the root's
/// amount). A re-issue's burn, a vault lock, a withdrawal request. The root is only as good
/// as that statement: it is refused where one of those parcels is in conflict and this
/// statement is not the spend seen settled (PROTOCOL.md §5.6, "Continued roots").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootBurn {
    /// The consuming statement, signed by its holder.
    pub hop: Hop,
    /// The holder's identity (the signer of `hop`).
    pub signer: DeviceIdentity,
    /// Who vouches for the consumed parcels' lineages.
    pub check: BurnCheck,
    /// For a recovered parcel (PROTOCOL.md §20.3): the lost device whose parcels `signer`,
    /// its successor, consumed — the statement's holder. The token layer checked the
    /// recovery authority's succession naming `signer` before it set this. `None` for every
    /// other root: the signer is the holder.
    pub succeeded: Option<DeviceId>,
}

impl RootBurn {
    /// The consuming statement's commit.
    pub fn commit(&self) -> Digest {
        self.hop.commit()
    }

    /// The parcels it consumed.
    pub fn parcels(&self) -> &[ParcelId] {
        &self.hop.statement.inputs
    }
}

/// Who vouches for the lineages of the parcels a continued root consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurnCheck {
    /// The token's refresh authority checked them before signing (a re-issue, §17.6): the
    /// verifier checks only that none is in conflict.
    Refreshers,
    /// Nobody did (a vault resolution, a withdrawal refund): the lineage carries one lineage
    /// per consumed parcel ([`Lineage::consumed`]) and the verifier checks each, the
    /// statement's signature, and that it conserves value with exactly the root's amount to
    /// the sink.
    Lineages,
}

/// Judges the root of a lineage: a source proof's bytes, checked by the layer that
/// understands them (`dsm_token::source::TokenRules`). No default: a verifier that cannot
/// judge a root must refuse it.
pub trait RootVerifier {
    /// Verifies `source` (authority, proofs, conditions) and says what it created.
    /// `holder` is the device the lineage says received it (the first hop's signer), when
    /// there is a hop: a source that only commits to its recipient (a Bitcoin deposit) is
    /// checked against it, and every source must name that device. Whether the once-key was
    /// used before is the caller's question (settlement, §5.6).
    fn verify_root(
        &mut self,
        source: &[u8],
        holder: Option<&DeviceId>,
    ) -> Result<RootFacts, String>;
}

/// The id of the root parcel a source creates:
/// `H(ParcelRoot, once_key, token, u128be(amount), holder)`. It commits to what the source
/// may be used for once and to what it created, never to the proof's bytes: every valid
/// encoding of one source (another allowlist proof, another cosigner subset, a longer header
/// chain) is the *same* parcel, so spending two encodings is a parcel fork, and its slot is
/// the once-key's (PROTOCOL.md §5.6, "Parcels").
pub fn root_id(facts: &RootFacts) -> ParcelId {
    ParcelId(tagged_hash(
        Tag::ParcelRoot,
        &[
            facts.once_key.as_bytes(),
            facts.token.as_bytes(),
            &facts.amount.0.to_be_bytes(),
            facts.holder.as_bytes(),
        ],
    ))
}

/// The device id no key controls that value leaving circulation is paid to:
/// `H(ParcelSink, token)`. A statement paying it is how a burn, a vault lock or a withdrawal
/// request consumes parcels (PROTOCOL.md §5.6).
pub fn sink(token: &TokenId) -> DeviceId {
    DeviceId(tagged_hash(Tag::ParcelSink, &[token.as_bytes()]))
}

/// One output of a consumed parcel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParcelOutput {
    /// Index into the statement's inputs.
    pub input: u32,
    /// The new holder.
    pub to: DeviceId,
    /// The amount (> 0).
    pub amount: Amount,
}

impl Canonical for ParcelOutput {
    const MAX_ENCODED_LEN: usize = 60;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, u64::from(self.input));
        w.bytes(2, self.to.as_bytes());
        w.bytes(3, &self.amount.0.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let input = r.uint_max(1, MAX_INPUTS as u64 - 1)? as u32;
        let to = DeviceId(Digest(r.fixed(2)?));
        let amount = Amount(u128::from_be_bytes(r.fixed(3)?));
        if amount.0 == 0 {
            return Err(DecodeError::Invalid(
                "a parcel output has a non-zero amount",
            ));
        }
        Ok(ParcelOutput { input, to, amount })
    }
}

/// What a holder signs when it consumes parcels: the inputs (strictly ascending ids) and,
/// per input, one or two outputs to different devices, listed by `(input, to)` ascending.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParcelStatement {
    /// The device that holds every input and signs.
    pub holder: DeviceId,
    /// The parcels consumed.
    pub inputs: Vec<ParcelId>,
    /// Where each input goes.
    pub outputs: Vec<ParcelOutput>,
}

impl ParcelStatement {
    /// `H(ParcelStatement, enc(statement))`.
    pub fn digest(&self) -> Digest {
        tagged_hash(Tag::ParcelStatement, &[&self.to_bytes()])
    }

    /// The statement of a payment of `amount` from `holder` to `receiver` consuming
    /// `inputs` (any order; all of one token, held by `holder`): inputs in ascending id
    /// order pay the receiver until `amount` is met, the rest of the last one goes back to
    /// `holder` as change. Refused (with why) when the inputs are empty, too many, of
    /// another holder, do not cover the amount, or include one that would pay nothing.
    pub fn payment(
        holder: DeviceId,
        receiver: DeviceId,
        inputs: &[Parcel],
        amount: Amount,
    ) -> Result<ParcelStatement, &'static str> {
        let mut inputs = inputs.to_vec();
        inputs.sort_by_key(|p| p.id);
        inputs.dedup_by_key(|p| p.id);
        if inputs.is_empty() || inputs.len() > MAX_INPUTS {
            return Err("a payment consumes between 1 and 64 parcels");
        }
        if holder == receiver {
            return Err("a device cannot pay itself");
        }
        let mut left = amount;
        let mut outputs = Vec::new();
        for (j, p) in inputs.iter().enumerate() {
            if p.holder != holder {
                return Err("an input is held by another device");
            }
            if left == Amount::ZERO {
                return Err("more inputs than the amount needs");
            }
            let pay = if p.amount < left { p.amount } else { left };
            left = Amount(left.0 - pay.0);
            outputs.push(ParcelOutput {
                input: j as u32,
                to: receiver,
                amount: pay,
            });
            if p.amount > pay {
                outputs.push(ParcelOutput {
                    input: j as u32,
                    to: holder,
                    amount: Amount(p.amount.0 - pay.0),
                });
            }
        }
        if left != Amount::ZERO {
            return Err("the inputs do not cover the amount");
        }
        outputs.sort_by_key(|o| (o.input, o.to));
        Ok(ParcelStatement {
            holder,
            inputs: inputs.iter().map(|p| p.id).collect(),
            outputs,
        })
    }

    /// The statement by which `receiver` refuses the transfer signed as `commit` with
    /// statement `paid`: it consumes every output `paid` gave `receiver` and gives each back,
    /// whole, to `paid.holder`. `None` when `paid` gave `receiver` nothing.
    pub fn refund(
        commit: &Digest,
        paid: &ParcelStatement,
        receiver: &DeviceId,
    ) -> Option<ParcelStatement> {
        let mut mine: Vec<(ParcelId, Amount)> = paid
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.to == *receiver)
            .map(|(i, o)| (output_id(commit, i), o.amount))
            .collect();
        if mine.is_empty() || mine.len() > MAX_INPUTS {
            return None;
        }
        mine.sort();
        Some(ParcelStatement {
            holder: *receiver,
            inputs: mine.iter().map(|(id, _)| *id).collect(),
            outputs: mine
                .iter()
                .enumerate()
                .map(|(j, (_, amount))| ParcelOutput {
                    input: j as u32,
                    to: paid.holder,
                    amount: *amount,
                })
                .collect(),
        })
    }

    /// The statement by which `holder` takes `amount` out of circulation from `inputs`
    /// (all of `token`): paid to [`sink`], the rest back to `holder` as change.
    pub fn to_sink(
        holder: DeviceId,
        token: &TokenId,
        inputs: &[Parcel],
        amount: Amount,
    ) -> Result<ParcelStatement, &'static str> {
        ParcelStatement::payment(holder, sink(token), inputs, amount)
    }

    /// The outputs of input `j`, with their indices in `outputs`.
    pub fn outputs_of(&self, j: usize) -> impl Iterator<Item = (usize, &ParcelOutput)> {
        self.outputs
            .iter()
            .enumerate()
            .filter(move |(_, o)| o.input as usize == j)
    }
}

impl Canonical for ParcelStatement {
    const MAX_ENCODED_LEN: usize = 40 + MAX_INPUTS * 34 + 2 * MAX_INPUTS * 62;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.holder.as_bytes());
        for i in &self.inputs {
            w.bytes(2, i.as_bytes());
        }
        w.repeated_message(3, &self.outputs);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let holder = DeviceId(Digest(r.fixed(1)?));
        let inputs: Vec<ParcelId> = r
            .repeated_fixed::<32>(2, MAX_INPUTS)?
            .into_iter()
            .map(|b| ParcelId(Digest(b)))
            .collect();
        let outputs: Vec<ParcelOutput> = r.repeated_message(3, 2 * MAX_INPUTS)?;
        if inputs.is_empty() {
            return Err(DecodeError::Invalid("a parcel statement consumes a parcel"));
        }
        if !inputs.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(
                "parcel inputs are strictly ascending (no repeats)",
            ));
        }
        if !outputs
            .windows(2)
            .all(|w| (w[0].input, w[0].to) < (w[1].input, w[1].to))
        {
            return Err(DecodeError::Invalid(
                "parcel outputs are strictly ascending by (input, to)",
            ));
        }
        // Every input has one or two outputs (ascending order makes them adjacent).
        let mut counts = vec![0usize; inputs.len()];
        for o in &outputs {
            let c = counts
                .get_mut(o.input as usize)
                .ok_or(DecodeError::Invalid("a parcel output names no input"))?;
            *c += 1;
        }
        if counts.iter().any(|c| *c == 0 || *c > 2) {
            return Err(DecodeError::Invalid(
                "each parcel input has one or two outputs (no merging)",
            ));
        }
        Ok(ParcelStatement {
            holder,
            inputs,
            outputs,
        })
    }
}

/// What the holder's one signature covers: `H(TransferCommit, statement digest, rest)`,
/// where `rest` is the digest of everything else the signer commits to (for a transfer,
/// its relationship step and head transition, which never leave the two parties).
pub fn transfer_commit(statement: &Digest, rest: &Digest) -> Digest {
    tagged_hash(
        Tag::TransferCommit,
        &[statement.as_bytes(), rest.as_bytes()],
    )
}

/// The id of output `index` of the statement signed as `commit`.
pub fn output_id(commit: &Digest, index: usize) -> ParcelId {
    ParcelId(tagged_hash(
        Tag::ParcelOutput,
        &[commit.as_bytes(), &(index as u32).to_be_bytes()],
    ))
}

/// One hop of a lineage: a parcel statement, the digest of the rest its signer committed
/// to, and the signature over [`transfer_commit`]. The signer's identity travels once per
/// lineage (or per session), not per hop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hop {
    /// The statement.
    pub statement: ParcelStatement,
    /// The digest of the rest of what was signed.
    pub rest: Digest,
    /// The holder's signature over `transfer_commit(statement.digest(), rest)`.
    pub signature: Signature,
}

impl Hop {
    /// Signs `statement` with `rest` as its holder (`rnd` hedges the signature).
    pub fn sign(
        key: &crate::crypto::SigningKey,
        statement: ParcelStatement,
        rest: Digest,
        rnd: &[u8; 32],
    ) -> Result<Hop, CryptoError> {
        let commit = transfer_commit(&statement.digest(), &rest);
        let signature = key.sign(commit.as_bytes(), rnd)?;
        Ok(Hop {
            statement,
            rest,
            signature,
        })
    }

    /// The digest the signature covers; output ids hash it.
    pub fn commit(&self) -> Digest {
        transfer_commit(&self.statement.digest(), &self.rest)
    }

    /// The ids of every output, in order.
    pub fn output_ids(&self) -> Vec<ParcelId> {
        let c = self.commit();
        (0..self.statement.outputs.len())
            .map(|i| output_id(&c, i))
            .collect()
    }
}

impl Canonical for Hop {
    const MAX_ENCODED_LEN: usize = ParcelStatement::MAX_ENCODED_LEN + 40 + 17_200;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.statement);
        w.bytes(2, self.rest.as_bytes());
        w.message(3, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Hop {
            statement: r.message(1)?,
            rest: Digest(r.fixed(2)?),
            signature: r.message(3)?,
        })
    }
}

/// Where a lineage starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineageStart {
    /// A source proof's canonical bytes, judged by the [`RootVerifier`].
    Root(Vec<u8>),
    /// A parcel the verifier already checked (its [`ParcelCache`] holds it).
    Verified(ParcelId),
}

/// The lineage of one parcel: where it starts, the hops since (oldest first), and the
/// identities of the holders that signed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineage {
    /// The root, or the newest ancestor the verifier already checked.
    pub start: LineageStart,
    /// Every hop since, oldest first.
    pub hops: Vec<Hop>,
    /// The signers' identities (any order; each at most once).
    pub signers: Vec<DeviceIdentity>,
    /// For a root that continues consumed parcels ([`BurnCheck::Lineages`]): each parcel
    /// its statement consumed with that parcel's lineage, in input order (a cached parcel
    /// may be given as a [`LineageStart::Verified`] start with no hops). Empty for every
    /// other lineage.
    pub consumed: Vec<(ParcelId, Lineage)>,
}

/// What a verifier knows about parcels: those whose lineage it already checked
/// (id → token, amount, holder), and the parcels proven consumed twice by their holder.
/// The verified part records lineage validity only (the stateless checks of
/// [`verify_lineage`]), never spent-ness, so a cached answer is the answer a cold check
/// would give. No defaults: an implementation must say what it knows about conflicts.
pub trait ParcelCache {
    /// The verified parcel with this id, if cached.
    fn verified(&self, id: &ParcelId) -> Option<Parcel>;
    /// Whether the statement `commit` (or, with `None`, a new spend) by `holder` consuming
    /// `parcel` is refused as a parcel in conflict: the holder is proven to have consumed it
    /// in two different statements (a [`ParcelFork`], PROTOCOL.md §5.6) and `commit` is not
    /// the one the verifier saw settled in the parcel's slot. Keyed by the holder too, so
    /// evidence about a device that never held the parcel cannot taint it.
    fn in_conflict(&self, parcel: &ParcelId, holder: &DeviceId, commit: Option<&Digest>) -> bool;
}

/// A verified parcel and the parcel it descends from (`None` for a root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownParcel {
    /// The parcel.
    pub parcel: Parcel,
    /// The parcel its hop consumed on the line, `None` for a root.
    pub parent: Option<ParcelId>,
}

/// The one [`ParcelCache`]: verified parcels with their parents, and known conflicts.
/// Learning a conflict forgets every cached descendant of the parcel in conflict, so that
/// a warm check never starts past it (PROTOCOL.md §5.6, "Parcel forks").
#[derive(Clone, Debug, Default)]
pub struct ParcelKnowledge {
    verified: HashMap<ParcelId, KnownParcel>,
    conflicts: HashSet<(ParcelId, DeviceId)>,
    settled: HashMap<ParcelId, Digest>,
}

impl ParcelKnowledge {
    /// An empty cache that knows no conflicts.
    pub fn new() -> ParcelKnowledge {
        ParcelKnowledge::default()
    }

    /// Adds a verified parcel (as loaded from storage).
    pub fn insert(&mut self, k: KnownParcel) {
        self.verified.insert(k.parcel.id, k);
    }

    /// Whether the parcel is cached.
    pub fn contains(&self, id: &ParcelId) -> bool {
        self.verified.contains_key(id)
    }

    /// The number of cached parcels.
    pub fn len(&self) -> usize {
        self.verified.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
    }

    /// The parcels of a verified line that are not cached yet, with their parents (what to
    /// add, and persist, once the lineage's credit commits). Nothing of a line from a
    /// continued root (a re-issue, a vault resolution, a withdrawal refund): a conflict
    /// proven later on one of the parcels its statement consumed must reach the root, which
    /// has no single parent to purge it through, so such lines are checked from their root
    /// every time. The lines of the consumed parcels themselves are ordinary and cached.
    pub fn new_on(&self, lineage: &VerifiedLineage) -> Vec<KnownParcel> {
        if lineage.continued {
            // The consumed parcels' own lines are ordinary lines: those may be cached.
            let mut out: Vec<KnownParcel> = Vec::new();
            for c in &lineage.consumed {
                for k in self.new_on(c) {
                    if !out.iter().any(|o| o.parcel.id == k.parcel.id) {
                        out.push(k);
                    }
                }
            }
            return out;
        }
        let line = lineage.line();
        line.iter()
            .enumerate()
            .filter(|(_, p)| !self.verified.contains_key(&p.id))
            .map(|(i, p)| KnownParcel {
                parcel: *p,
                parent: i.checked_sub(1).map(|j| line[j].id),
            })
            .collect()
    }

    /// Records that `holder` consumed `parcel` twice (after checking the evidence) and
    /// forgets every cached parcel descending from it, when the cache has it held by
    /// `holder`. Returns the forgotten ids (to delete from storage).
    pub fn add_conflict(&mut self, parcel: ParcelId, holder: DeviceId) -> Vec<ParcelId> {
        self.conflicts.insert((parcel, holder));
        match self.verified.get(&parcel) {
            Some(k) if k.parcel.holder == holder => {}
            _ => return Vec::new(),
        }
        let mut children: HashMap<ParcelId, Vec<ParcelId>> = HashMap::new();
        for k in self.verified.values() {
            if let Some(p) = k.parent {
                children.entry(p).or_default().push(k.parcel.id);
            }
        }
        // The parcel itself stays (its lineage is valid); what it was consumed into goes.
        let mut gone = Vec::new();
        let mut todo = children.remove(&parcel).unwrap_or_default();
        while let Some(id) = todo.pop() {
            if self.verified.remove(&id).is_some() {
                gone.push(id);
                todo.extend(children.remove(&id).unwrap_or_default());
            }
        }
        gone
    }

    /// Every known conflict: (parcel, holder).
    pub fn conflicts(&self) -> impl Iterator<Item = &(ParcelId, DeviceId)> {
        self.conflicts.iter()
    }

    /// Whether `holder` is known to have consumed `parcel` twice (settled or not).
    pub fn knows_conflict(&self, parcel: &ParcelId, holder: &DeviceId) -> bool {
        self.conflicts.contains(&(*parcel, *holder))
    }

    /// Records that the verifier saw the statement `commit` hold `parcel`'s slot at W of N
    /// storage nodes: it is the parcel's one spend, accepted even if the parcel is in
    /// conflict (its rival, which lost the slot, stays refused).
    pub fn settle(&mut self, parcel: ParcelId, commit: Digest) {
        self.settled.insert(parcel, commit);
    }
}

impl ParcelCache for ParcelKnowledge {
    fn verified(&self, id: &ParcelId) -> Option<Parcel> {
        self.verified.get(id).map(|k| k.parcel)
    }
    fn in_conflict(&self, parcel: &ParcelId, holder: &DeviceId, commit: Option<&Digest>) -> bool {
        self.conflicts.contains(&(*parcel, *holder))
            && (commit.is_none() || self.settled.get(parcel) != commit)
    }
}

/// A lineage that [`verify_lineage`] accepted. Only that function makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedLineage {
    parcel: Parcel,
    line: Vec<Parcel>,
    root_once: Option<Digest>,
    continued: bool,
    consumed: Vec<VerifiedLineage>,
}

impl VerifiedLineage {
    /// The parcel whose lineage was checked.
    pub fn parcel(&self) -> &Parcel {
        &self.parcel
    }

    /// Every parcel on the line, oldest first, ending with [`VerifiedLineage::parcel`]
    /// (what a verifier may add to its cache).
    pub fn line(&self) -> &[Parcel] {
        &self.line
    }

    /// The root's once-key, when the lineage started at a root (for settlement).
    pub fn root_once_key(&self) -> Option<&Digest> {
        self.root_once.as_ref()
    }

    /// Whether the line starts at a continued root — a re-issue, a vault resolution, a
    /// withdrawal refund (never cached: see [`ParcelKnowledge::new_on`]).
    pub fn from_continued_root(&self) -> bool {
        self.continued
    }

    /// For a root checked through its consumed parcels ([`BurnCheck::Lineages`]): their
    /// verified lineages, in input order.
    pub fn consumed(&self) -> &[VerifiedLineage] {
        &self.consumed
    }
}

/// Why a lineage is refused. `hop` counts from 0, the oldest hop shipped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineageError {
    /// The root source does not verify.
    #[error("the lineage's root is not a valid source: {0}")]
    Root(String),
    /// The lineage starts at a parcel the verifier has not checked.
    #[error("the lineage starts at parcel {0}, which this verifier has not checked")]
    UnknownAncestor(ParcelId),
    /// No identity for the hop's signer was shipped.
    #[error("hop {hop}: the signer's identity is missing")]
    UnknownSigner {
        /// The hop.
        hop: usize,
    },
    /// The hop's signer does not hold the parcel it consumes.
    #[error("hop {hop}: signed by a device that does not hold the parcel")]
    WrongHolder {
        /// The hop.
        hop: usize,
    },
    /// The hop does not consume the parcel the line arrived at.
    #[error("hop {hop}: does not consume the parcel of the hop before")]
    NotAnInput {
        /// The hop.
        hop: usize,
    },
    /// The hop's outputs of the parcel do not add up to its amount.
    #[error("hop {hop}: the outputs do not add up to the parcel consumed")]
    NotConserved {
        /// The hop.
        hop: usize,
    },
    /// The hop's signature does not verify.
    #[error("hop {hop}: signature refused: {error}")]
    Signature {
        /// The hop.
        hop: usize,
        /// Why.
        error: CryptoError,
    },
    /// No output of the hop leads to the next holder (or to the parcel asked about).
    #[error("hop {hop}: no output leads on")]
    NoOutput {
        /// The hop.
        hop: usize,
    },
    /// The line ends at another parcel than the one asked about.
    #[error("the lineage ends at another parcel")]
    NotTarget,
    /// The parcel is not held by the device that spends it.
    #[error("the parcel is held by another device than the one spending it")]
    NotHeldBy,
    /// The root continues a statement (a re-issue's burn, a vault lock, a withdrawal
    /// request) that consumed a parcel its holder is proven to have consumed in another
    /// statement too, and that statement is not the spend seen settled.
    #[error("the root continues parcel {0}, which its holder spent twice")]
    BurnInConflict(ParcelId),
    /// The lineage of a parcel the root's statement consumed is refused.
    #[error("the root's consumed parcel {input}: {reason}")]
    Consumed {
        /// The input of the consuming statement.
        input: usize,
        /// Why its lineage is refused.
        reason: Box<LineageError>,
    },
    /// The root's consuming statement does not back it: wrong signer, no lineage per
    /// consumed parcel, value not conserved, not the root's amount to the sink, another
    /// token, or a bad signature.
    #[error("the statement behind the root does not back it: {0}")]
    BadBurn(&'static str),
    /// Consumed lineages nest deeper than [`MAX_CONSUMED_DEPTH`], or are given for a root
    /// that consumed nothing.
    #[error("consumed lineages nest too deep, or are given where the root consumed nothing")]
    Nesting,
    /// The hop consumes a parcel its signer is proven to have consumed in another
    /// statement too (a parcel fork): its outputs and everything after are refused.
    #[error("hop {hop}: consumes parcel {parcel}, which its holder spent twice")]
    InConflict {
        /// The hop.
        hop: usize,
        /// The parcel consumed twice.
        parcel: ParcelId,
    },
}

/// Checks the lineage of parcel `target`: the start (a root the [`RootVerifier`] accepts,
/// or a parcel `cache` holds), then every hop in order — the signer's identity is shipped,
/// it is the holder of the parcel the line arrived at, the statement consumes that parcel,
/// its outputs of it add up to its amount, the signature verifies — following the output
/// to the next hop's signer, and ending at `target` — held by `holder` when one is given
/// (the device spending it; a root without hops is judged for that device).
/// Cheap checks precede each signature.
///
/// Before any of that, every hop shipped is looked up in `cache`'s known conflicts: a
/// hop that consumes a parcel its signer is proven to have consumed twice is refused
/// ([`LineageError::InConflict`]) unless the verifier saw that very hop settled in the
/// parcel's slot, so a parcel in conflict and everything descending from it fail. Not
/// checked here: whether a parcel on the line was consumed twice without the verifier
/// knowing (settlement, PROTOCOL.md §5.6) and the token's transfer rules (the token
/// layer's).
pub fn verify_lineage(
    lineage: &Lineage,
    target: &ParcelId,
    holder: Option<&DeviceId>,
    roots: &mut dyn RootVerifier,
    cache: &dyn ParcelCache,
) -> Result<VerifiedLineage, LineageError> {
    verify_at(lineage, target, holder, roots, cache, 0, None)
}

/// [`verify_lineage`] at nesting `depth` (the number of continued roots above), for a
/// target that the statement `spent_by` consumes (`None`: a new spend).
fn verify_at(
    lineage: &Lineage,
    target: &ParcelId,
    holder: Option<&DeviceId>,
    roots: &mut dyn RootVerifier,
    cache: &dyn ParcelCache,
    depth: usize,
    spent_by: Option<&Digest>,
) -> Result<VerifiedLineage, LineageError> {
    let v = verify_line(lineage, target, holder, roots, cache, depth)?;
    if let Some(h) = holder {
        if *h != v.parcel.holder {
            return Err(LineageError::NotHeldBy);
        }
        // The spender is spending it again after being proven to have spent it twice.
        if cache.in_conflict(target, h, spent_by) {
            return Err(LineageError::InConflict {
                hop: lineage.hops.len(),
                parcel: *target,
            });
        }
    }
    Ok(v)
}

fn verify_line(
    lineage: &Lineage,
    target: &ParcelId,
    holder: Option<&DeviceId>,
    roots: &mut dyn RootVerifier,
    cache: &dyn ParcelCache,
    depth: usize,
) -> Result<VerifiedLineage, LineageError> {
    let hops = &lineage.hops;
    // The newest ancestor the cache holds (found by hashing alone). Hops before it need no
    // conflict look-up: learning a conflict forgets every cached descendant of the parcel
    // in conflict, so a cached ancestor has none above it (bar the spend seen settled,
    // which the look-up passes anyway).
    let prefix = cached_prefix(lineage, target, cache);
    for (hop, h) in hops.iter().enumerate().skip(prefix.map_or(0, |(n, _)| n)) {
        let s = &h.statement;
        let commit = h.commit();
        if let Some(parcel) = s
            .inputs
            .iter()
            .find(|i| cache.in_conflict(i, &s.holder, Some(&commit)))
        {
            return Err(LineageError::InConflict {
                hop,
                parcel: *parcel,
            });
        }
    }
    // Check only from the newest ancestor the cache holds: the cache holds verified parcels
    // and nothing else, and never a descendant of a known conflict, so the answer is a
    // cold check's.
    if let Some((n, p)) = prefix {
        return walk(p, None, &hops[n..], n, &lineage.signers, target);
    }
    let mut consumed = Vec::new();
    let (start, root_once) = match &lineage.start {
        LineageStart::Root(source) => {
            // The root's holder: the first hop's signer, or (no hop) the target's holder.
            let first = hops.first().map(|h| h.statement.holder);
            let f = roots
                .verify_root(source, first.as_ref().or(holder))
                .map_err(LineageError::Root)?;
            // A continued root rests on a statement consuming parcels of its holder: one of
            // those in conflict, with this statement not the spend seen settled, makes the
            // root a rival spend's output.
            match &f.burned {
                Some(b) => {
                    burn_in_conflict(b, cache)?;
                    if b.check == BurnCheck::Lineages {
                        consumed = verify_consumed(
                            b,
                            &f.token,
                            f.amount,
                            &lineage.consumed,
                            roots,
                            cache,
                            depth,
                        )?;
                    } else if !lineage.consumed.is_empty() {
                        return Err(LineageError::Nesting);
                    }
                }
                None if !lineage.consumed.is_empty() => return Err(LineageError::Nesting),
                None => {}
            }
            let parcel = Parcel {
                id: root_id(&f),
                token: f.token,
                amount: f.amount,
                holder: f.holder,
            };
            (parcel, Some((f.once_key, f.burned.is_some())))
        }
        LineageStart::Verified(id) => {
            if !lineage.consumed.is_empty() {
                return Err(LineageError::Nesting);
            }
            (
                cache
                    .verified(id)
                    .ok_or(LineageError::UnknownAncestor(*id))?,
                None,
            )
        }
    };
    let mut v = walk(start, root_once, hops, 0, &lineage.signers, target)?;
    v.consumed = consumed;
    Ok(v)
}

/// The most continued roots one lineage nests (a vault resolved from value that was itself
/// resolved from a vault, …): bounds a verifier's recursion and a manifest's nesting.
pub const MAX_CONSUMED_DEPTH: usize = 4;

/// Checks the statement `b` behind a continued root of `amount` of `token` that is
/// checked through its consumed parcels ([`BurnCheck::Lineages`]), given `consumed` (each
/// consumed parcel with its lineage): one lineage per consumed parcel, in input order, each
/// ending held by the statement's holder, of `token`; every input's outputs add up to it;
/// the outputs go to the sink or back to the holder, the sink's adding up to `amount`; the
/// holder's signature. Whether any consumed parcel is in conflict is checked too. A vault's
/// beneficiary runs this on the lock before any resolution exists (PROTOCOL.md §18.2).
pub fn verify_continued(
    b: &RootBurn,
    token: &TokenId,
    amount: Amount,
    consumed: &[(ParcelId, Lineage)],
    roots: &mut dyn RootVerifier,
    cache: &dyn ParcelCache,
) -> Result<Vec<VerifiedLineage>, LineageError> {
    burn_in_conflict(b, cache)?;
    verify_consumed(b, token, amount, consumed, roots, cache, 0)
}

/// Refuses the statement behind a continued root when one of the parcels it consumed is in
/// conflict for its holder and this statement is not the spend seen settled.
fn burn_in_conflict(b: &RootBurn, cache: &dyn ParcelCache) -> Result<(), LineageError> {
    let (by, commit) = (&b.hop.statement.holder, b.commit());
    match b
        .parcels()
        .iter()
        .find(|p| cache.in_conflict(p, by, Some(&commit)))
    {
        Some(p) => Err(LineageError::BurnInConflict(*p)),
        None => Ok(()),
    }
}

/// [`verify_continued`] at nesting `depth`, without the conflict check.
fn verify_consumed(
    b: &RootBurn,
    token: &TokenId,
    amount: Amount,
    consumed: &[(ParcelId, Lineage)],
    roots: &mut dyn RootVerifier,
    cache: &dyn ParcelCache,
    depth: usize,
) -> Result<Vec<VerifiedLineage>, LineageError> {
    if depth >= MAX_CONSUMED_DEPTH {
        return Err(LineageError::Nesting);
    }
    let s = &b.hop.statement;
    let holder = b.succeeded.unwrap_or_else(|| b.signer.device_id());
    if holder != s.holder {
        return Err(LineageError::BadBurn(
            "signed by another device than its holder",
        ));
    }
    if consumed.len() != s.inputs.len() {
        return Err(LineageError::BadBurn(
            "not one lineage per consumed parcel, in input order",
        ));
    }
    let to_sink = sink(token);
    if s.outputs
        .iter()
        .any(|o| o.to != to_sink && o.to != s.holder)
    {
        return Err(LineageError::BadBurn(
            "an output goes neither to the sink nor back to its holder",
        ));
    }
    let mut sunk = Amount::ZERO;
    for o in s.outputs.iter().filter(|o| o.to == to_sink) {
        sunk = sunk
            .checked_add(o.amount)
            .ok_or(LineageError::BadBurn("the sink's outputs overflow"))?;
    }
    if sunk != amount {
        return Err(LineageError::BadBurn(
            "the sink's outputs are not the root's amount",
        ));
    }
    let commit = b.commit();
    let mut out = Vec::with_capacity(s.inputs.len());
    for (j, (input, (label, l))) in s.inputs.iter().zip(consumed).enumerate() {
        if label != input {
            return Err(LineageError::BadBurn(
                "not one lineage per consumed parcel, in input order",
            ));
        }
        let wrap = |reason| LineageError::Consumed {
            input: j,
            reason: Box::new(reason),
        };
        // Consumed by this very statement: in conflict only if it is not the spend seen
        // settled in the parcel's slot.
        let v = verify_at(
            l,
            input,
            Some(&s.holder),
            roots,
            cache,
            depth + 1,
            Some(&commit),
        )
        .map_err(wrap)?;
        if v.parcel.token != *token {
            return Err(LineageError::BadBurn(
                "a consumed parcel is of another token",
            ));
        }
        let mut total = Amount::ZERO;
        for (_, o) in s.outputs_of(j) {
            total = total
                .checked_add(o.amount)
                .ok_or(LineageError::BadBurn("not conserved"))?;
        }
        if total != v.parcel.amount {
            return Err(LineageError::BadBurn(
                "the outputs of a consumed parcel do not add up to it",
            ));
        }
        out.push(v);
    }
    b.signer
        .public_key
        .verify(commit.as_bytes(), &b.hop.signature)
        .map_err(|_| LineageError::BadBurn("the holder's signature does not verify"))?;
    Ok(out)
}

/// The newest parcel on `lineage`'s line to `target` that `cache` already verified, and how
/// many of the lineage's hops lead up to it (those a warm check skips), found by hashing
/// alone; `None` when the cache holds no parcel of the line past its start.
pub fn cached_prefix(
    lineage: &Lineage,
    target: &ParcelId,
    cache: &dyn ParcelCache,
) -> Option<(usize, Parcel)> {
    // Walked back from the target: the line's parcel after hop k is the output of hop k
    // that the line's input of hop k + 1 is — never just any output hop k + 1 consumes (a
    // hop may consume several outputs of the hop before, one per input of that hop).
    let hops = &lineage.hops;
    let mut on = *target;
    for k in (0..hops.len()).rev() {
        let s = &hops[k].statement;
        let commit = hops[k].commit();
        let i = (0..s.outputs.len()).find(|i| output_id(&commit, *i) == on)?;
        if let Some(p) = cache.verified(&on) {
            return Some((k + 1, p));
        }
        on = *s.inputs.get(s.outputs[i].input as usize)?;
    }
    None
}

/// The hop-by-hop part of [`verify_lineage`] from `start`; `first` is the index of
/// `hops[0]` in the shipped lineage (for error reports).
fn walk(
    start: Parcel,
    root_once: Option<(Digest, bool)>,
    hops: &[Hop],
    first: usize,
    signers: &[DeviceIdentity],
    target: &ParcelId,
) -> Result<VerifiedLineage, LineageError> {
    let mut cur = start;
    let signers: HashMap<DeviceId, &DeviceIdentity> =
        signers.iter().map(|i| (i.device_id(), i)).collect();
    let mut line = Vec::with_capacity(hops.len() + 1);
    line.push(cur);
    for (n, hop) in hops.iter().enumerate() {
        let k = first + n;
        let s = &hop.statement;
        let identity = signers
            .get(&s.holder)
            .ok_or(LineageError::UnknownSigner { hop: k })?;
        if s.holder != cur.holder {
            return Err(LineageError::WrongHolder { hop: k });
        }
        let j = s
            .inputs
            .binary_search(&cur.id)
            .map_err(|_| LineageError::NotAnInput { hop: k })?;
        let mut total = Amount::ZERO;
        for (_, o) in s.outputs_of(j) {
            total = total
                .checked_add(o.amount)
                .ok_or(LineageError::NotConserved { hop: k })?;
        }
        if total != cur.amount {
            return Err(LineageError::NotConserved { hop: k });
        }
        let commit = hop.commit();
        identity
            .public_key
            .verify(commit.as_bytes(), &hop.signature)
            .map_err(|error| LineageError::Signature { hop: k, error })?;
        let next_holder = hops.get(n + 1).map(|h| h.statement.holder);
        let (index, out) = s
            .outputs_of(j)
            .find(|(i, o)| match next_holder {
                Some(h) => o.to == h,
                None => output_id(&commit, *i) == *target,
            })
            .ok_or(LineageError::NoOutput { hop: k })?;
        cur = Parcel {
            id: output_id(&commit, index),
            token: cur.token,
            amount: out.amount,
            holder: out.to,
        };
        line.push(cur);
    }
    if cur.id != *target {
        return Err(LineageError::NotTarget);
    }
    Ok(VerifiedLineage {
        parcel: cur,
        line,
        root_once: root_once.map(|(k, _)| k),
        continued: root_once.is_some_and(|(_, r)| r),
        consumed: Vec::new(),
    })
}

/// The owned slot of parcel `id` held by `holder` at the storage nodes (PROTOCOL.md §5.6,
/// §15.2): `(holder's slot owner, H(ParcelSlot, id))`. It holds the first statement that
/// consumed the parcel, sealed by [`seal_hop`] (first writer wins at each node; settled at
/// W of N), and only the holder's key — or, for the successor's claim, its genesis's
/// recovery authority and the successor it delegated to — may write it.
pub fn parcel_slot(id: &ParcelId, holder: &DeviceIdentity) -> (Digest, Digest) {
    (
        crate::slot::device_slots_owner(holder),
        tagged_hash(Tag::ParcelSlot, &[id.as_bytes()]),
    )
}

/// What the slot of parcel `id` holds for `hop`, which spends it: the canonical hop sealed
/// under the parcel id ([`crate::seal`] with `ParcelSeal`), so only a reader who knows the
/// parcel opens it.
pub fn seal_hop(id: &ParcelId, hop: &Hop) -> Vec<u8> {
    crate::seal::seal(Tag::ParcelSeal, id.as_bytes(), &hop.to_bytes())
}

/// The hop sealed in `bytes` for parcel `id` by [`seal_hop`]; `None` for anything else.
pub fn open_hop(id: &ParcelId, bytes: &[u8]) -> Option<Hop> {
    let plain = crate::seal::open(Tag::ParcelSeal, id.as_bytes(), bytes)?;
    Hop::from_bytes(&plain).ok()
}

/// What a parcel slot holds, judged against the hop that consumes the parcel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotContent {
    /// The same statement (same commit; its signature bytes may differ).
    Same,
    /// Another statement of the same holder consuming the parcel: verified evidence.
    Conflict(Box<ParcelFork>),
    /// Anything else — bytes that do not decode, another holder's statement, a forged
    /// signature. It proves nothing and settles nothing.
    Noise,
}

/// Judges the sealed `bytes` read from the slot of `parcel` against `hop` (which consumes it, signed by
/// `signer`): the same statement, a verified parcel fork, or noise.
pub fn judge_slot(
    bytes: &[u8],
    parcel: &ParcelId,
    hop: &Hop,
    signer: &DeviceIdentity,
) -> SlotContent {
    let Some(other) = open_hop(parcel, bytes) else {
        return SlotContent::Noise;
    };
    if other.statement.holder != hop.statement.holder
        || other.statement.inputs.binary_search(parcel).is_err()
    {
        return SlotContent::Noise;
    }
    if other.commit() == hop.commit() {
        return SlotContent::Same;
    }
    match ParcelFork::new(signer.clone(), hop.clone(), other) {
        Some(f) if f.verify().is_ok() => SlotContent::Conflict(Box::new(f)),
        _ => SlotContent::Noise,
    }
}

/// The statement in `bytes` (read from the slot of `parcel`) when it is a spend of `parcel`
/// signed by `holder`; `None` for anything else (noise a stranger could have written). What a
/// refresher asks of a burned parcel's slot before it signs (PROTOCOL.md §17.6).
pub fn spend_in_slot(bytes: &[u8], parcel: &ParcelId, holder: &DeviceIdentity) -> Option<Hop> {
    let h = open_hop(parcel, bytes)?;
    if h.statement.holder != holder.device_id() || h.statement.inputs.binary_search(parcel).is_err()
    {
        return None;
    }
    holder
        .public_key
        .verify(h.commit().as_bytes(), &h.signature)
        .ok()?;
    Some(h)
}

/// Tripwire evidence that one device consumed one parcel in two different signed
/// statements — a fork even when its heads never fork (e.g. a parcel spent again in a
/// later head). `first` sorts before `second` by commit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParcelFork {
    /// The signer.
    pub signer: DeviceIdentity,
    /// The first statement.
    pub first: Hop,
    /// The second statement.
    pub second: Hop,
}

/// Why parcel-fork evidence is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParcelForkError {
    /// The two statements are one.
    #[error("the two statements are the same")]
    Identical,
    /// A statement is not the signer's.
    #[error("a statement is not signed by the named device")]
    DifferentSigners,
    /// The statements share no consumed parcel.
    #[error("the statements consume no common parcel")]
    NotConflicting,
    /// A signature does not verify.
    #[error("signature refused: {0}")]
    Signature(CryptoError),
}

impl ParcelFork {
    /// The evidence for two statements in canonical order (`None` if they are one).
    pub fn new(signer: DeviceIdentity, a: Hop, b: Hop) -> Option<ParcelFork> {
        match a.commit().cmp(&b.commit()) {
            core::cmp::Ordering::Less => Some(ParcelFork {
                signer,
                first: a,
                second: b,
            }),
            core::cmp::Ordering::Greater => Some(ParcelFork {
                signer,
                first: b,
                second: a,
            }),
            core::cmp::Ordering::Equal => None,
        }
    }

    /// Checks the evidence on its own bytes: two different statements, both by the named
    /// device and signed by it, consuming a common parcel. Returns the device and the
    /// (smallest) parcel consumed twice.
    pub fn verify(&self) -> Result<(DeviceId, ParcelId), ParcelForkError> {
        let (a, b) = (self.first.commit(), self.second.commit());
        if a == b {
            return Err(ParcelForkError::Identical);
        }
        let device = self.signer.device_id();
        if self.first.statement.holder != device || self.second.statement.holder != device {
            return Err(ParcelForkError::DifferentSigners);
        }
        let common = self
            .first
            .statement
            .inputs
            .iter()
            .find(|i| self.second.statement.inputs.binary_search(i).is_ok())
            .copied()
            .ok_or(ParcelForkError::NotConflicting)?;
        for (hop, commit) in [(&self.first, a), (&self.second, b)] {
            self.signer
                .public_key
                .verify(commit.as_bytes(), &hop.signature)
                .map_err(ParcelForkError::Signature)?;
        }
        Ok((device, common))
    }
}

impl Canonical for ParcelFork {
    const MAX_ENCODED_LEN: usize = 2 * Hop::MAX_ENCODED_LEN + 8_300;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.signer);
        w.message(2, &self.first);
        w.message(3, &self.second);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let signer = r.message(1)?;
        let first: Hop = r.message(2)?;
        let second: Hop = r.message(3)?;
        if first.commit() >= second.commit() {
            return Err(DecodeError::Invalid(
                "a parcel fork lists its statements by ascending commit",
            ));
        }
        Ok(ParcelFork {
            signer,
            first,
            second,
        })
    }
}

/// The largest lineage a manifest lists, in hops, so that a manifest (34 bytes per hop and
/// per signer) fits one storage-node object (256 KiB) and one frame. At the economy
/// benchmark's p99 with re-issue a payment ships under a hundred hops per input; without
/// re-issue lineages grow without bound, and a longer one must be re-issued before it can
/// be paid (PROTOCOL.md §5.6).
pub const MAX_MANIFEST_HOPS: usize = 3_072;

/// How a lineage travels: as content-addressed objects (each hop, the root source and each
/// signer identity, addressed `H(ObjectAddress, bytes)` like storage-node objects) listed in
/// one manifest. Objects are shipped in batches that fit any link's frame, fetched by
/// address from storage nodes, and deduplicated across lineages (a receiver already holding
/// an object never needs it again).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LineageManifest {
    /// The parcel whose lineage this is.
    pub parcel: ParcelId,
    /// The root source's object address, or the verified ancestor the lineage starts at.
    pub start: ManifestStart,
    /// The hops' object addresses, oldest first.
    pub hops: Vec<Digest>,
    /// The signer identities' object addresses (each once, ascending).
    pub signers: Vec<Digest>,
    /// For a root that continues consumed parcels: their manifests, in the consuming
    /// statement's input order (nested at most [`MAX_CONSUMED_DEPTH`] deep). Empty
    /// otherwise.
    pub consumed: Vec<LineageManifest>,
}

/// Where a manifest's lineage starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManifestStart {
    /// The object address of the root's canonical source proof.
    Root(Digest),
    /// A parcel the receiver already verified.
    Verified(ParcelId),
}

impl LineageManifest {
    /// Every object address it lists: the root source (if it starts at one), the hops,
    /// the signers, then those of its consumed manifests.
    pub fn addresses(&self) -> Vec<Digest> {
        let mut out = Vec::new();
        for m in self.flatten() {
            if let ManifestStart::Root(a) = m.start {
                out.push(a);
            }
            out.extend(m.hops.iter().copied());
            out.extend(m.signers.iter().copied());
        }
        out
    }

    /// This manifest and every consumed manifest nested in it, depth first.
    pub fn flatten(&self) -> Vec<&LineageManifest> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            let m = out[i];
            out.extend(m.consumed.iter());
            i += 1;
        }
        out
    }

    fn decode_at(r: &mut Reader<'_>, depth: usize) -> Result<Self, DecodeError> {
        let parcel = ParcelId(Digest(r.fixed(1)?));
        // Two optional bytes32 fields (a second one of either is an unexpected field).
        let root = r.optional_fixed::<32>(2)?;
        let verified = r.optional_fixed::<32>(3)?;
        let start = match (root, verified) {
            (Some(a), None) => ManifestStart::Root(Digest(a)),
            (None, Some(p)) => ManifestStart::Verified(ParcelId(Digest(p))),
            _ => {
                return Err(DecodeError::Invalid(
                    "a manifest starts at a root or at a verified parcel, exactly one",
                ))
            }
        };
        let hops: Vec<Digest> = r
            .repeated_fixed::<32>(4, MAX_MANIFEST_HOPS)?
            .into_iter()
            .map(Digest)
            .collect();
        let signers: Vec<Digest> = r
            .repeated_fixed::<32>(5, MAX_MANIFEST_HOPS + 1)?
            .into_iter()
            .map(Digest)
            .collect();
        if !signers.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(
                "a manifest lists its signers once each, by ascending address",
            ));
        }
        let mut consumed = Vec::new();
        for b in r.repeated_bytes(6, MAX_INPUTS, Self::MAX_ENCODED_LEN)? {
            if depth >= MAX_CONSUMED_DEPTH || matches!(start, ManifestStart::Verified(_)) {
                return Err(DecodeError::Invalid(
                    "consumed manifests follow a root only, at most 4 deep",
                ));
            }
            let mut inner = Reader::new(b);
            consumed.push(LineageManifest::decode_at(&mut inner, depth + 1)?);
            inner.finish()?;
        }
        Ok(LineageManifest {
            parcel,
            start,
            hops,
            signers,
            consumed,
        })
    }
}

impl Canonical for LineageManifest {
    // The whole nested tree shares one manifest's budget: consumed lineages are part of
    // the lineage a receiver checks.
    const MAX_ENCODED_LEN: usize = 80 + (2 * MAX_MANIFEST_HOPS + 1) * 34;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.parcel.as_bytes());
        match &self.start {
            ManifestStart::Root(a) => w.bytes(2, a.as_bytes()),
            ManifestStart::Verified(p) => w.bytes(3, p.as_bytes()),
        }
        for h in &self.hops {
            w.bytes(4, h.as_bytes());
        }
        for s in &self.signers {
            w.bytes(5, s.as_bytes());
        }
        w.repeated_message(6, &self.consumed);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        LineageManifest::decode_at(r, 0)
    }
}

/// Why a lineage cannot be rebuilt from a manifest and objects.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ManifestError {
    /// An object the manifest lists was not supplied (ask the sender or the nodes for it).
    #[error("object {0} of the lineage is missing")]
    Missing(Digest),
    /// An object does not decode as what the manifest lists it as.
    #[error("object {address} of the lineage does not decode: {error}")]
    Decode {
        /// The object.
        address: Digest,
        /// Why.
        error: DecodeError,
    },
}

/// The objects of a lineage by address; the bytes must hash to their address.
pub trait ObjectSource {
    /// The bytes stored under `address`, if any (and only if they hash to it).
    fn object(&self, address: &Digest) -> Option<&[u8]>;
}

/// Lineage objects keyed by address, each hashed when it was inserted — or read back from
/// the verifier's own store under the address it was hashed to when written — so a lookup
/// never hashes again. (A plain `HashMap` re-hashes on every lookup, since its keys may
/// have come from anywhere.) Damaged stored bytes cannot make a lineage pass: every hop's
/// signature, every identity's key and every root's facts are checked from the bytes.
#[derive(Clone, Debug, Default)]
pub struct AddressedObjects(HashMap<Digest, Vec<u8>>);

impl AddressedObjects {
    /// No objects.
    pub fn new() -> AddressedObjects {
        AddressedObjects::default()
    }

    /// Adds bytes received from anyone, under the address they hash to (returned).
    pub fn insert(&mut self, bytes: Vec<u8>) -> Digest {
        let a = crate::hash::object_address(&bytes);
        self.0.insert(a, bytes);
        a
    }

    /// Adds bytes this verifier stored itself under `address` after hashing them.
    pub fn insert_stored(&mut self, address: Digest, bytes: Vec<u8>) {
        self.0.insert(address, bytes);
    }
}

impl std::ops::Deref for AddressedObjects {
    type Target = HashMap<Digest, Vec<u8>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl ObjectSource for AddressedObjects {
    fn object(&self, address: &Digest) -> Option<&[u8]> {
        self.0.get(address).map(Vec::as_slice)
    }
}

impl ObjectSource for HashMap<Digest, Vec<u8>> {
    fn object(&self, address: &Digest) -> Option<&[u8]> {
        self.get(address)
            .map(Vec::as_slice)
            .filter(|b| crate::hash::object_address(b) == *address)
    }
}

impl Lineage {
    /// Splits this lineage of `parcel` into a manifest and its objects (address → bytes).
    pub fn to_objects(&self, parcel: &ParcelId) -> (LineageManifest, Vec<(Digest, Vec<u8>)>) {
        let mut objects = Vec::new();
        let mut consumed = Vec::new();
        for (p, l) in &self.consumed {
            let (m, o) = l.to_objects(p);
            consumed.push(m);
            objects.extend(o);
        }
        let mut put = |bytes: Vec<u8>| {
            let a = crate::hash::object_address(&bytes);
            objects.push((a, bytes));
            a
        };
        let start = match &self.start {
            LineageStart::Root(source) => ManifestStart::Root(put(source.clone())),
            LineageStart::Verified(id) => ManifestStart::Verified(*id),
        };
        let hops = self.hops.iter().map(|h| put(h.to_bytes())).collect();
        let mut signers: Vec<Digest> = self.signers.iter().map(|s| put(s.to_bytes())).collect();
        signers.sort();
        signers.dedup();
        objects.sort();
        objects.dedup();
        (
            LineageManifest {
                parcel: *parcel,
                start,
                hops,
                signers,
                consumed,
            },
            objects,
        )
    }

    /// Rebuilds a lineage from its manifest and objects: every object present, hashing to
    /// its address, and decoding strictly as what the manifest lists it as. (Whether the
    /// lineage is valid is [`verify_lineage`]'s question.)
    pub fn from_objects(
        manifest: &LineageManifest,
        objects: &dyn ObjectSource,
    ) -> Result<Lineage, ManifestError> {
        let get = |a: &Digest| objects.object(a).ok_or(ManifestError::Missing(*a));
        let start = match &manifest.start {
            ManifestStart::Root(a) => LineageStart::Root(get(a)?.to_vec()),
            ManifestStart::Verified(p) => LineageStart::Verified(*p),
        };
        let decode = |a: &Digest, error| ManifestError::Decode { address: *a, error };
        let hops = manifest
            .hops
            .iter()
            .map(|a| Hop::from_bytes(get(a)?).map_err(|e| decode(a, e)))
            .collect::<Result<_, _>>()?;
        let signers = manifest
            .signers
            .iter()
            .map(|a| DeviceIdentity::from_bytes(get(a)?).map_err(|e| decode(a, e)))
            .collect::<Result<_, _>>()?;
        let consumed = manifest
            .consumed
            .iter()
            .map(|m| Ok((m.parcel, Lineage::from_objects(m, objects)?)))
            .collect::<Result<_, _>>()?;
        Ok(Lineage {
            start,
            hops,
            signers,
            consumed,
        })
    }
}
