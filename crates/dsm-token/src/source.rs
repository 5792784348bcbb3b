//! Source proofs of ALLOCATION and BURN heads, and [`TokenRules`]: the one place that
//! decides whether a token transition is allowed (PROTOCOL.md §17.3).
//!
//! A head of kind ALLOCATION or BURN has `cause = H(SourceProof, enc(proof))`. The proof is
//! one of: a claim of the policy's initial allocation, an issuer-signed mint, a DJTE
//! emission won by the device, or a burn statement. `TokenRules` holds the policies (and
//! allowlists and verified emission states) a device knows and checks each kind; it
//! implements core's `SourceVerifier`, so `verify_chain_segment_with_sources` checks
//! balance provenance through it.

use crate::authority::{
    mints_contradict, verify_burn, verify_mint, verify_mint_conflict, AuthorityError, MintConflict,
    SignedBurn, SignedMint,
};
use crate::dbtc::{
    verify_decline, verify_withdrawal_payment, BtcMint, WithdrawalDecline, WithdrawalPayment,
    WithdrawalRequest,
};
use crate::djte::{verify_step, DjteError, EmissionState, EmissionStep};
use crate::policy::{TokenKind, TokenPolicy, TransferRule};
use crate::vault::{
    check_condition, verify_lock, VaultConflict, VaultError, VaultPolicy, VaultResolution,
};
use dsm_core::chain::{Amount, DeviceHead, RelationshipStep, TokenId, TransitionKind};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::parcel::{BurnCheck, Hop, RootBurn, RootFacts, RootVerifier};
use dsm_core::receipt::SourceVerifier;
use dsm_core::smt::{SmtProof, SparseMerkleTree};
use dsm_core::tags::Tag;
use std::collections::{BTreeMap, HashMap, HashSet};
use thiserror::Error;

/// A claim of line `index` of a policy's initial allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitialClaim {
    /// The token.
    pub token: TokenId,
    /// The line.
    pub index: u32,
}

impl Canonical for InitialClaim {
    const MAX_ENCODED_LEN: usize = 48;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.uint(2, u64::from(self.index));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(InitialClaim {
            token: TokenId(Digest(r.fixed(1)?)),
            index: r.uint_max(2, u64::from(u32::MAX))? as u32,
        })
    }
}

/// An emission the device won: the vault state before the step, and the step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmissionCredit {
    /// `D_e`.
    pub state: EmissionState,
    /// The step from `D_e`.
    pub step: EmissionStep,
}

impl Canonical for EmissionCredit {
    const MAX_ENCODED_LEN: usize = EmissionStep::MAX_ENCODED_LEN + 400;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.state);
        w.message(2, &self.step);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(EmissionCredit {
            state: r.message(1)?,
            step: r.message(2)?,
        })
    }
}

/// Where value came from, or went.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The policy's initial allocation.
    Initial(InitialClaim),
    /// An issuer-signed mint.
    Mint(SignedMint),
    /// A won emission.
    Emission(Box<EmissionCredit>),
    /// A burn (a source of a BURN head).
    Burn(SignedBurn),
    /// A vault lock: the amount leaves the creator's head into the vault (a BURN head).
    VaultLock(Box<VaultPolicy>),
    /// A vault resolved: the branch's party is credited (an ALLOCATION head).
    VaultResolve(Box<VaultResolution>),
    /// A Bitcoin deposit minting dBTC (an ALLOCATION head).
    BtcDeposit(Box<BtcMint>),
    /// A dBTC withdrawal request: the amount leaves the holder's head, in flight (a BURN
    /// head).
    WithdrawRequest(Box<WithdrawalRequest>),
    /// A declined withdrawal taken back (an ALLOCATION head).
    WithdrawRefund(Box<WithdrawalDecline>),
    /// Parcels burned whole and re-issued by the refreshers as one root (a lineage root
    /// only; it changes no balance and makes no head).
    Reissue(Box<crate::reissue::Reissue>),
    /// A parcel of a lost device taken over by its successor (a lineage root only: the
    /// SUCCEED head carries the balances, PROTOCOL.md §20.3).
    Recovered(Box<RecoveredParcel>),
}

/// A lost device's parcel that its successor consumed (PROTOCOL.md §20.3): the recovery
/// authority's succession naming the successor, and the token. The statement that consumed
/// the parcel is the proof's `consumption`: signed by the successor, holder the lost device,
/// one input, one output to the token's sink, `rest` the succession's digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecoveredParcel {
    /// The token.
    pub token: TokenId,
    /// The genesis, the signed tombstone and the signed succession.
    pub record: dsm_recovery::succession::SuccessionRecord,
}

impl Canonical for RecoveredParcel {
    const MAX_ENCODED_LEN: usize = dsm_recovery::succession::SuccessionRecord::MAX_ENCODED_LEN + 48;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.message(2, &self.record);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(RecoveredParcel {
            token: TokenId(Digest(r.fixed(1)?)),
            record: r.message(2)?,
        })
    }
}

/// The proof a source head's `cause` names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceProof {
    /// The source.
    pub source: Source,
    /// The device's allowlist inclusion proof, for tokens with an allowlist.
    pub allowlist: Option<SmtProof>,
    /// For a vault resolution or a withdrawal refund: the statement by which the lock or
    /// the request consumed its parcels, which the root continues (PROTOCOL.md §5.6,
    /// "Continued roots"). `None` for every other source.
    pub consumption: Option<Consumption>,
}

/// The signed statement by which a vault lock or a withdrawal request consumed its
/// holder's parcels (to the token's sink, with change back), and its signer. Its `rest`
/// is the cause of the lock's or the request's source proof (without allowlist), which is
/// what ties it to that lock or request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Consumption {
    /// The statement.
    pub hop: Hop,
    /// Its holder's identity.
    pub signer: DeviceIdentity,
}

/// A consumption with the lineages of the parcels it consumed (their manifests, in its
/// input order): what a continued root's verifier needs besides the lineage objects. A
/// wallet keeps one per debit it signs; a vault's creator hands it to the beneficiary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedParcels {
    /// The statement and its signer.
    pub consumption: Consumption,
    /// One manifest per consumed parcel, in input order.
    pub manifests: Vec<dsm_core::parcel::LineageManifest>,
}

/// The most bytes the consumed parcels' manifests of one continued root take in all: half
/// an offer (`dsm_core::receipt::MAX_OFFER_LEN`), so the value it creates can always be paid
/// on with room for its own hops, and a verifier's cost stays an offer's.
pub const MAX_CONSUMED_MANIFESTS_LEN: usize = dsm_core::receipt::MAX_OFFER_LEN / 2;

impl ConsumedParcels {
    /// The bytes its manifests take (what [`MAX_CONSUMED_MANIFESTS_LEN`] bounds).
    pub fn manifests_len(&self) -> usize {
        self.manifests.iter().map(|m| m.to_bytes().len()).sum()
    }
}

impl Canonical for ConsumedParcels {
    const MAX_ENCODED_LEN: usize = Consumption::MAX_ENCODED_LEN
        + MAX_CONSUMED_MANIFESTS_LEN
        + dsm_core::parcel::MAX_INPUTS * 8;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.consumption);
        w.repeated_message(2, &self.manifests);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let consumption = r.message(1)?;
        let manifests = r.repeated_message(2, dsm_core::parcel::MAX_INPUTS)?;
        let c = ConsumedParcels {
            consumption,
            manifests,
        };
        if c.manifests_len() > MAX_CONSUMED_MANIFESTS_LEN {
            return Err(DecodeError::Invalid(
                "a continued root's consumed manifests take at most half an offer",
            ));
        }
        Ok(c)
    }
}

impl Canonical for Consumption {
    const MAX_ENCODED_LEN: usize = Hop::MAX_ENCODED_LEN + DeviceIdentity::MAX_ENCODED_LEN + 16;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.hop);
        w.message(2, &self.signer);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Consumption {
            hop: r.message(1)?,
            signer: r.message(2)?,
        })
    }
}

impl SourceProof {
    /// The head `cause` naming this proof: `H(SourceProof, enc(proof))`.
    pub fn cause(&self) -> Digest {
        tagged_hash(Tag::SourceProof, &[&self.to_bytes()])
    }

    /// The token the source concerns.
    pub fn token(&self) -> TokenId {
        match &self.source {
            Source::Initial(c) => c.token,
            Source::Mint(m) => m.statement.token,
            Source::Emission(e) => e.state.token,
            Source::Burn(b) => b.statement.token,
            Source::VaultLock(v) => v.token,
            Source::VaultResolve(r) => r.lock.policy.token,
            Source::BtcDeposit(m) => m.token,
            Source::WithdrawRequest(r) => r.token,
            Source::WithdrawRefund(d) => d.request.token,
            Source::Reissue(r) => r.signed.statement.token,
            Source::Recovered(r) => r.token,
        }
    }

    /// What this source may be used for once (PROTOCOL.md §17.3):
    /// `H(SourceOnce, kind, identifying fields)`. It is derived from what the source *is*
    /// (the initial line, the mint sequence number, the emission index, the funding
    /// outpoint, the vault, the withdrawal), never from the proof's bytes, so two valid
    /// encodings of one source (another allowlist proof, another cosigner subset, a longer
    /// header chain, another keeper signature) share one key.
    pub fn once_key(&self) -> Result<Digest, TokenError> {
        let once = |kind: &[u8], fields: &[&[u8]]| {
            let mut all: Vec<&[u8]> = vec![kind];
            all.extend_from_slice(fields);
            tagged_hash(Tag::SourceOnce, &all)
        };
        Ok(match &self.source {
            Source::Initial(c) => once(b"initial", &[c.token.as_bytes(), &c.index.to_be_bytes()]),
            Source::Mint(m) => once(
                b"mint",
                &[m.statement.token.as_bytes(), &m.statement.seq.to_be_bytes()],
            ),
            Source::Emission(e) => once(
                b"emission",
                &[e.state.token.as_bytes(), &e.state.index.to_be_bytes()],
            ),
            Source::Burn(b) => once(
                b"burn",
                &[
                    b.statement.token.as_bytes(),
                    b.statement.device.as_bytes(),
                    b.statement.parent_head.as_bytes(),
                ],
            ),
            Source::VaultLock(v) => once(b"vault-lock", &[v.vault_id().as_bytes()]),
            Source::VaultResolve(r) => {
                once(b"vault-resolve", &[r.lock.policy.vault_id().as_bytes()])
            }
            Source::BtcDeposit(m) => {
                let key = m
                    .outpoint_key()
                    .ok_or(TokenError::Malformed(DecodeError::Invalid(
                        "the deposit's funding transaction does not parse",
                    )))?;
                once(b"btc-deposit", &[key.as_bytes()])
            }
            Source::WithdrawRequest(w) => once(b"withdraw-request", &[w.id().as_bytes()]),
            Source::WithdrawRefund(d) => once(b"withdraw-refund", &[d.request.id().as_bytes()]),
            Source::Reissue(r) => once(
                b"reissue",
                &[
                    r.signed.statement.token.as_bytes(),
                    r.signed.statement.burn.as_bytes(),
                ],
            ),
            // The parcel it takes over: every statement the successor could sign for it
            // makes the same root, so two of them are one parcel spent twice.
            Source::Recovered(_) => {
                let c = self.consumption.as_ref().ok_or_else(missing_consumption)?;
                match c.hop.statement.inputs.as_slice() {
                    [p] => once(b"recovered", &[p.as_bytes()]),
                    _ => {
                        return Err(TokenError::Consumption(
                            "a recovered parcel's statement consumes exactly one parcel",
                        ))
                    }
                }
            }
        })
    }

    /// What two uses of one once-key must agree on to be the *same* source rather than a
    /// conflict: a vault's resolution and a mint's statement (two different ones are
    /// evidence, checked in full); for every other kind, the once-key itself.
    fn substance(&self, once: &Digest) -> Digest {
        match &self.source {
            Source::VaultResolve(r) => r.digest(),
            Source::Mint(m) => m.statement.digest(),
            _ => *once,
        }
    }

    /// True for sources that take value out of a head (BURN heads).
    pub fn debits(&self) -> bool {
        matches!(
            self.source,
            Source::Burn(_) | Source::VaultLock(_) | Source::WithdrawRequest(_)
        )
    }
}

impl Canonical for SourceProof {
    const MAX_ENCODED_LEN: usize =
        crate::vault::MAX_VAULT_LEN + 64 * 1024 + Consumption::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        match &self.source {
            Source::Initial(c) => w.message(1, c),
            Source::Mint(m) => w.message(2, m),
            Source::Emission(e) => w.message(3, e.as_ref()),
            Source::Burn(b) => w.message(4, b),
            Source::VaultLock(_)
            | Source::VaultResolve(_)
            | Source::BtcDeposit(_)
            | Source::WithdrawRequest(_)
            | Source::WithdrawRefund(_)
            | Source::Reissue(_)
            | Source::Recovered(_) => {}
        }
        w.optional_message(5, self.allowlist.as_ref());
        match &self.source {
            Source::VaultLock(v) => w.message(6, v.as_ref()),
            Source::VaultResolve(r) => w.message(7, r.as_ref()),
            Source::BtcDeposit(m) => w.message(8, m.as_ref()),
            Source::WithdrawRequest(r) => w.message(9, r.as_ref()),
            Source::WithdrawRefund(d) => w.message(10, d.as_ref()),
            Source::Reissue(r) => w.message(11, r.as_ref()),
            _ => {}
        }
        w.optional_message(12, self.consumption.as_ref());
        if let Source::Recovered(r) = &self.source {
            w.message(13, r.as_ref());
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let initial = r.optional_message(1)?;
        let mint = r.optional_message(2)?;
        let emission = r.optional_message(3)?;
        let burn = r.optional_message(4)?;
        let allowlist = r.optional_message(5)?;
        let lock: Option<VaultPolicy> = r.optional_message(6)?;
        let resolve: Option<VaultResolution> = r.optional_message(7)?;
        let deposit: Option<BtcMint> = r.optional_message(8)?;
        let withdraw: Option<WithdrawalRequest> = r.optional_message(9)?;
        let refund: Option<WithdrawalDecline> = r.optional_message(10)?;
        let reissue: Option<crate::reissue::Reissue> = r.optional_message(11)?;
        let consumption: Option<Consumption> = r.optional_message(12)?;
        let recovered: Option<RecoveredParcel> = r.optional_message(13)?;
        let n = [
            initial.is_some(),
            mint.is_some(),
            emission.is_some(),
            burn.is_some(),
            lock.is_some(),
            resolve.is_some(),
            deposit.is_some(),
            withdraw.is_some(),
            refund.is_some(),
            reissue.is_some(),
            recovered.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if n != 1 {
            return Err(DecodeError::Invalid(
                "a source proof has exactly one source",
            ));
        }
        let source = if let Some(c) = initial {
            Source::Initial(c)
        } else if let Some(m) = mint {
            Source::Mint(m)
        } else if let Some(e) = emission {
            Source::Emission(Box::new(e))
        } else if let Some(b) = burn {
            Source::Burn(b)
        } else if let Some(v) = lock {
            Source::VaultLock(Box::new(v))
        } else if let Some(v) = resolve {
            Source::VaultResolve(Box::new(v))
        } else if let Some(m) = deposit {
            Source::BtcDeposit(Box::new(m))
        } else if let Some(w) = withdraw {
            Source::WithdrawRequest(Box::new(w))
        } else if let Some(d) = refund {
            Source::WithdrawRefund(Box::new(d))
        } else if let Some(r) = reissue {
            Source::Reissue(Box::new(r))
        } else {
            Source::Recovered(Box::new(recovered.expect("counted one")))
        };
        if consumption.is_some()
            && !matches!(
                source,
                Source::VaultResolve(_) | Source::WithdrawRefund(_) | Source::Recovered(_)
            )
        {
            return Err(DecodeError::Invalid(
                "only a vault resolution, a withdrawal refund or a recovered parcel carries a consumption",
            ));
        }
        Ok(SourceProof {
            source,
            allowlist,
            consumption,
        })
    }
}

/// Why a token transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// The device does not hold the token's policy bytes.
    #[error("unknown token {0}: import its policy first (`dsm token import`)")]
    UnknownPolicy(TokenId),
    /// Soulbound tokens never move between devices.
    #[error("{0} is soulbound: it cannot be transferred")]
    Soulbound(String),
    /// The device is not on the token's allowlist (or no proof was given).
    #[error("device {device} is not on {ticker}'s allowlist")]
    NotOnAllowlist {
        /// The token's ticker.
        ticker: String,
        /// The device (hex).
        device: String,
    },
    /// The mint or burn lacks authority, or breaks the cap.
    #[error("{0}")]
    Authority(#[from] AuthorityError),
    /// The emission step does not verify.
    #[error("{0}")]
    Djte(#[from] DjteError),
    /// The emission state is not one this device verified on the vault's chain.
    #[error(
        "emission state {0} is not on the vault chain this device verified; sync emissions first"
    )]
    UnknownEmissionState(Digest),
    /// The head's cause does not name the proof.
    #[error("the head's cause does not name this source proof")]
    CauseMismatch,
    /// The head's balance change does not match the source.
    #[error("the head's balance change does not match its source")]
    AmountMismatch,
    /// The source is for another device or another chain position.
    #[error("the source is for another device or another head")]
    WrongTarget,
    /// The head kind does not fit the source.
    #[error("a {0:?} head cannot carry this source")]
    WrongKind(TransitionKind),
    /// The source was already used once on this chain.
    #[error("this source was already applied once")]
    AlreadyUsed,
    /// The initial-allocation line does not exist.
    #[error("the policy has no such initial allocation line")]
    NoSuchAllocation,
    /// The proof bytes do not decode.
    #[error("the source proof does not decode: {0}")]
    Malformed(DecodeError),
    /// The allowlist members given do not produce the policy's root.
    #[error("the allowlist members do not match the policy's allowlist root")]
    AllowlistMismatch,
    /// The vault lock or resolution does not verify.
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// The token is not bridged to Bitcoin, or the deposit names another keeper.
    #[error("not a valid dBTC deposit for this token: {0}")]
    NotABridge(&'static str),
    /// The Bitcoin evidence does not verify.
    #[error("the Bitcoin deposit proof does not verify: {0}")]
    Spv(#[from] dsm_btc::SpvError),
    /// This funding outpoint already minted.
    #[error("this Bitcoin deposit (outpoint) already minted")]
    DoubleMint,
    /// The keeper's decline does not verify.
    #[error("the withdrawal decline is not signed by the bridge's keeper")]
    BadDecline,
    /// The withdrawal was paid on Bitcoin: it can never be refunded.
    #[error(
        "this withdrawal was paid on Bitcoin (a payment proof is known); it cannot be refunded"
    )]
    WithdrawalPaid,
    /// The withdrawal was refunded, yet a payment proof exists: the keeper equivocated.
    #[error("the keeper both declined and paid this withdrawal: keeper equivocation")]
    KeeperEquivocation,
    /// The issuers signed a mint that contradicts one this verifier holds (same sequence
    /// number, or a `minted_before` lie): the pair is transferable evidence, and mints of
    /// the token from the lower sequence number on are refused.
    #[error("issuer equivocation: mint {} contradicts mint {} of the same token", .0.b.statement.seq, .0.a.statement.seq)]
    MintConflict(Box<MintConflict>),
    /// The token's mint sequence is known to be broken from `from` on (a mint conflict is
    /// held): later mints are refused.
    #[error(
        "the issuers of this token equivocated at mint {from}; mints from there on are refused"
    )]
    MintSequenceBroken {
        /// The lower sequence number of the held conflict.
        from: u64,
    },
    /// The source moves value that already exists (a burn, a vault lock or resolution, a
    /// withdrawal or its refund): it continues a lineage and cannot start one.
    #[error("this source moves existing value: it continues a lineage and cannot be its root")]
    NotARoot,
    /// The re-issue does not verify.
    #[error("{0}")]
    Reissue(#[from] crate::reissue::ReissueError),
    /// A re-issue changes no balance: it is a lineage root only, never a head's source.
    #[error("a re-issue changes no balance and makes no head: it is a lineage root only")]
    ReissueIsNoHead,
    /// A recovered parcel changes no balance (the SUCCEED head does): it is a lineage root
    /// only, never a head's source.
    #[error("a recovered parcel changes no balance and makes no head: it is a lineage root only")]
    RecoveredIsNoHead,
    /// The succession behind a recovered parcel does not verify (PROTOCOL.md §20.3).
    #[error("the succession behind this recovered parcel is refused: {0}")]
    Succession(String),
    /// A vault resolution or withdrawal refund used as a root does not carry the statement
    /// that consumed the locked or requested parcels, or carries another one.
    #[error("the source does not continue the parcels it claims: {0}")]
    Consumption(&'static str),
    /// This vault was resolved differently before (or a conflict proof is held): its value
    /// is refused.
    #[error("vault {0} has two different resolutions; its value is refused")]
    VaultConflict(Digest),
}

/// The token rules a device knows: policies, allowlists, verified emission states, and the
/// sources already applied on the chain being checked.
#[derive(Clone, Default)]
pub struct TokenRules {
    policies: HashMap<TokenId, TokenPolicy>,
    allowlists: HashMap<TokenId, SparseMerkleTree>,
    states: HashMap<TokenId, HashSet<Digest>>,
    /// Once-key → the substance of the source that used it (see `SourceProof::once_key`).
    used: HashMap<Digest, Digest>,
    /// The mints seen per token, by sequence number (for `minted_before` consistency).
    mints: HashMap<TokenId, BTreeMap<u64, SignedMint>>,
    /// Tokens whose mint sequence is known broken: the held evidence.
    mint_conflicts: HashMap<TokenId, MintConflict>,
    legacy: HashSet<TokenId>,
    /// Keys of Bitcoin funding outpoints that minted.
    btc_outpoints: HashSet<Digest>,
    /// Withdrawal ids with a proven Bitcoin payment (final).
    withdrawals_paid: HashSet<Digest>,
    /// Withdrawal ids taken back after a decline.
    withdrawals_refunded: HashSet<Digest>,
    /// Vault id → the digest of the resolution seen for it.
    resolutions: HashMap<Digest, Digest>,
    /// Vaults with two different resolutions.
    conflicted: HashSet<Digest>,
}

impl TokenRules {
    /// No policies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a policy (validated); returns its token id.
    pub fn add_policy(&mut self, policy: TokenPolicy) -> Result<TokenId, crate::PolicyError> {
        policy.validate()?;
        let id = policy.token_id();
        if let Some(s) = EmissionState::genesis(&policy) {
            self.states.entry(id).or_default().insert(s.digest());
        }
        self.policies.insert(id, policy);
        Ok(id)
    }

    /// Lets `token`, a label token with no policy (the non-production `DEV` token), move by
    /// transfer. Its allocations are never accepted.
    pub fn allow_label_token(&mut self, token: TokenId) {
        self.legacy.insert(token);
    }

    /// The policy of `token`.
    pub fn policy(&self, token: &TokenId) -> Option<&TokenPolicy> {
        self.policies.get(token)
    }

    /// Every known policy.
    pub fn policies(&self) -> impl Iterator<Item = (&TokenId, &TokenPolicy)> {
        self.policies.iter()
    }

    /// Records the allowlist members of `token` (checked against the policy's root).
    pub fn add_allowlist(
        &mut self,
        token: &TokenId,
        members: &[DeviceId],
    ) -> Result<(), TokenError> {
        let p = self
            .policies
            .get(token)
            .ok_or(TokenError::UnknownPolicy(*token))?;
        let tree = crate::policy::allowlist_tree(&p.salt, members);
        if Some(tree.root()) != p.allowlist {
            return Err(TokenError::AllowlistMismatch);
        }
        self.allowlists.insert(*token, tree);
        Ok(())
    }

    /// The allowlist proof of `device` for `token`, when the members are known.
    pub fn allowlist_proof(&self, token: &TokenId, device: &DeviceId) -> Option<SmtProof> {
        self.allowlists
            .get(token)
            .map(|t| t.prove(device.as_bytes()))
    }

    /// Marks `state` as verified on `token`'s vault chain (the caller verified the steps
    /// leading to it).
    pub fn know_emission_state(&mut self, token: &TokenId, state: &Digest) {
        self.states.entry(*token).or_default().insert(*state);
    }

    /// True when `proof`'s source (its once-key) was applied already, in any encoding.
    pub fn source_used(&self, proof: &SourceProof) -> bool {
        proof.once_key().is_ok_and(|k| self.used.contains_key(&k))
    }

    /// The mint-conflict evidence held for `token`, if its issuers equivocated.
    pub fn mint_conflict(&self, token: &TokenId) -> Option<&MintConflict> {
        self.mint_conflicts.get(token)
    }

    /// Accepts mint-conflict evidence (both mints verify under the token's policy and
    /// contradict): mints of the token from the lower sequence number on are refused from
    /// then on. Returns that sequence number.
    pub fn import_mint_conflict(&mut self, c: &MintConflict) -> Result<u64, TokenError> {
        let token = c.token();
        let p = self
            .policies
            .get(&token)
            .ok_or(TokenError::UnknownPolicy(token))?;
        let first = verify_mint_conflict(p, c)?;
        self.hold_mint_conflict(c.clone());
        Ok(first)
    }

    fn hold_mint_conflict(&mut self, c: MintConflict) {
        let token = c.token();
        // Keep the conflict that breaks the sequence earliest.
        if self
            .mint_conflicts
            .get(&token)
            .is_none_or(|held| c.first_seq() < held.first_seq())
        {
            self.mint_conflicts.insert(token, c);
        }
    }

    /// Checks a verified mint against the mints of its token this verifier holds and any
    /// held conflict.
    fn check_mint_sequence(&self, m: &SignedMint) -> Result<(), TokenError> {
        let s = &m.statement;
        if let Some(c) = self.mint_conflicts.get(&s.token) {
            if s.seq >= c.first_seq() {
                return Err(TokenError::MintSequenceBroken {
                    from: c.first_seq(),
                });
            }
        }
        let Some(known) = self.mints.get(&s.token) else {
            return Ok(());
        };
        // The same number, the nearest before and the nearest after decide consistency
        // with the whole known sequence (the known mints are consistent with each other).
        let same = known.get(&s.seq);
        let before = known.range(..s.seq).next_back().map(|(_, m)| m);
        let after = s
            .seq
            .checked_add(1)
            .and_then(|n| known.range(n..).next().map(|(_, m)| m));
        for k in [same, before, after].into_iter().flatten() {
            if mints_contradict(&k.statement, s) {
                let c = MintConflict::new(k.clone(), m.clone())
                    .expect("contradicting mints are different");
                return Err(TokenError::MintConflict(Box::new(c)));
            }
        }
        Ok(())
    }

    fn holder_allowed(
        &self,
        p: &TokenPolicy,
        device: &DeviceId,
        proof: Option<&SmtProof>,
    ) -> Result<(), TokenError> {
        if p.allowlist.is_none() {
            return Ok(());
        }
        let own;
        let proof = match proof {
            Some(pr) => pr,
            None => match self.allowlist_proof(&p.token_id(), device) {
                Some(pr) => {
                    own = pr;
                    &own
                }
                None => return Err(not_listed(p, device)),
            },
        };
        if p.allowlist_contains(device, proof) {
            Ok(())
        } else {
            Err(not_listed(p, device))
        }
    }

    /// May `step` move its token? Known policy (or an allowed label token), not
    /// soulbound, and the receiver on the allowlist of an allowlist-only token.
    pub fn check_transfer(&self, step: &RelationshipStep) -> Result<(), TokenError> {
        self.check_recipient(&step.token, &step.receiver)
    }

    /// May `token` move to `receiver` (by transfer, or by locking it in a vault for it)?
    pub fn check_recipient(&self, token: &TokenId, receiver: &DeviceId) -> Result<(), TokenError> {
        if self.legacy.contains(token) {
            return Ok(());
        }
        let p = self
            .policies
            .get(token)
            .ok_or(TokenError::UnknownPolicy(*token))?;
        if p.kind == TokenKind::Soulbound {
            return Err(TokenError::Soulbound(p.ticker.clone()));
        }
        if p.transfers == TransferRule::AllowlistOnly {
            self.holder_allowed(p, receiver, None)?;
        }
        Ok(())
    }

    /// Checks that `proof` justifies `child` after `parent`, without recording it.
    pub fn check_source(
        &self,
        parent: &DeviceHead,
        child: &DeviceHead,
        proof: &SourceProof,
    ) -> Result<(), TokenError> {
        if child.cause != proof.cause() {
            return Err(TokenError::CauseMismatch);
        }
        let token = proof.token();
        let p = self
            .policies
            .get(&token)
            .ok_or(TokenError::UnknownPolicy(token))?;
        // The same source again, in any encoding: refused before any signature work.
        let once = proof.once_key()?;
        if self.used.get(&once) == Some(&proof.substance(&once)) {
            return Err(TokenError::AlreadyUsed);
        }
        if let Source::Reissue(_) = proof.source {
            return Err(TokenError::ReissueIsNoHead);
        }
        if let Source::Recovered(_) = proof.source {
            return Err(TokenError::RecoveredIsNoHead);
        }
        let (changed, amount, credited) = parent
            .balance_change(child)
            .ok_or(TokenError::AmountMismatch)?;
        if changed != token {
            return Err(TokenError::AmountMismatch);
        }
        let want_kind = if proof.debits() {
            TransitionKind::Burn
        } else {
            TransitionKind::Allocation
        };
        if child.kind != want_kind || credited != (want_kind == TransitionKind::Allocation) {
            return Err(TokenError::WrongKind(child.kind));
        }
        if credited {
            self.holder_allowed(p, &child.device, proof.allowlist.as_ref())?;
        }
        match &proof.source {
            Source::Initial(c) => {
                let line = p
                    .initial
                    .get(c.index as usize)
                    .ok_or(TokenError::NoSuchAllocation)?;
                if line.device != child.device {
                    return Err(TokenError::WrongTarget);
                }
                if line.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
            }
            Source::Mint(m) => {
                verify_mint(p, m)?;
                let s = &m.statement;
                if s.recipient != child.device || s.recipient_parent_head != parent.digest() {
                    return Err(TokenError::WrongTarget);
                }
                if s.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
                self.check_mint_sequence(m)?;
            }
            Source::Emission(e) => {
                let digest = e.state.digest();
                if !self.states.get(&token).is_some_and(|s| s.contains(&digest)) {
                    return Err(TokenError::UnknownEmissionState(digest));
                }
                let em = verify_step(p, &e.state, &e.step, true)?;
                match em.winner {
                    Some((w, a)) if w == child.device => {
                        if a != amount {
                            return Err(TokenError::AmountMismatch);
                        }
                    }
                    _ => return Err(TokenError::WrongTarget),
                }
            }
            Source::Burn(b) => {
                verify_burn(p, b)?;
                let s = &b.statement;
                if s.device != child.device || s.parent_head != parent.digest() {
                    return Err(TokenError::WrongTarget);
                }
                if s.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
            }
            Source::VaultLock(v) => {
                v.validate()?;
                // Locking hands value to the beneficiary's branch: a transfer rule applies.
                self.check_recipient(&v.token, &v.beneficiary)?;
                if v.creator.device_id() != child.device || v.creator_parent_head != parent.digest()
                {
                    return Err(TokenError::WrongTarget);
                }
                if v.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
            }
            Source::BtcDeposit(m) => {
                let (key, sats) = self.check_deposit(p, &child.device, m)?;
                if sats != amount {
                    return Err(TokenError::AmountMismatch);
                }
                if self.btc_outpoints.contains(&key) {
                    return Err(TokenError::DoubleMint);
                }
            }
            Source::WithdrawRequest(w) => {
                if p.bitcoin.is_none() {
                    return Err(TokenError::NotABridge("the token has no Bitcoin bridge"));
                }
                if w.holder != child.device || w.holder_parent_head != parent.digest() {
                    return Err(TokenError::WrongTarget);
                }
                if w.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
            }
            Source::WithdrawRefund(d) => {
                let bridge = p
                    .bitcoin
                    .as_ref()
                    .ok_or(TokenError::NotABridge("the token has no Bitcoin bridge"))?;
                let id = verify_decline(bridge, d).ok_or(TokenError::BadDecline)?;
                if d.request.holder != child.device {
                    return Err(TokenError::WrongTarget);
                }
                if d.request.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
                if self.withdrawals_paid.contains(&id) {
                    return Err(TokenError::WithdrawalPaid);
                }
            }
            Source::Reissue(_) => return Err(TokenError::ReissueIsNoHead),
            Source::Recovered(_) => return Err(TokenError::RecoveredIsNoHead),
            Source::VaultResolve(r) => {
                let v = &r.lock.policy;
                if v.party(r.branch) != child.device {
                    return Err(TokenError::WrongTarget);
                }
                if v.amount != amount {
                    return Err(TokenError::AmountMismatch);
                }
                let id = TokenRules::check_resolution(r)?;
                if self.conflicted.contains(&id) {
                    return Err(TokenError::VaultConflict(id));
                }
                if self.resolutions.get(&id).is_some_and(|d| *d != r.digest()) {
                    return Err(TokenError::VaultConflict(id));
                }
            }
        }
        // Another source with this once-key (e.g. another emission step of one index).
        if self.used.contains_key(&once) {
            return Err(TokenError::AlreadyUsed);
        }
        Ok(())
    }

    /// [`TokenRules::check_source`] from bytes, recording the source as used (and a vault
    /// resolution as the one seen for its vault).
    pub fn apply_source(
        &mut self,
        parent: &DeviceHead,
        child: &DeviceHead,
        bytes: &[u8],
    ) -> Result<SourceProof, TokenError> {
        let proof = SourceProof::from_bytes(bytes).map_err(TokenError::Malformed)?;
        if let Err(e) = self.check_source(parent, child, &proof) {
            // Both sides of these conflicts were verified: hold the evidence.
            match (&e, &proof.source) {
                (TokenError::VaultConflict(id), Source::VaultResolve(_)) => {
                    self.conflicted.insert(*id);
                }
                (TokenError::MintConflict(c), _) => self.hold_mint_conflict((**c).clone()),
                _ => {}
            }
            return Err(e);
        }
        self.record_source(&proof);
        Ok(proof)
    }

    /// Records a source `check_source` accepted as applied: its once-key is used, and what
    /// it consumed (a deposit's outpoint, a declined withdrawal, a vault's resolution, a
    /// mint's place in its sequence) cannot be used again.
    pub fn record_source(&mut self, proof: &SourceProof) {
        if let Ok(once) = proof.once_key() {
            self.used.insert(once, proof.substance(&once));
        }
        match &proof.source {
            Source::Mint(m) => {
                self.mints
                    .entry(m.statement.token)
                    .or_default()
                    .insert(m.statement.seq, m.clone());
            }
            Source::WithdrawRefund(d) => {
                self.withdrawals_refunded.insert(d.request.id());
            }
            // Verified by `check_source`; the key needs only the transaction bytes.
            Source::BtcDeposit(m) => {
                if let Some(key) = m.outpoint_key() {
                    self.btc_outpoints.insert(key);
                }
            }
            Source::VaultResolve(r) => {
                self.resolutions
                    .insert(r.lock.policy.vault_id(), r.digest());
            }
            _ => {}
        }
    }

    /// Verifies a deposit for `device` under `p`'s bridge: `(outpoint key, amount)`.
    pub fn check_deposit(
        &self,
        p: &TokenPolicy,
        device: &DeviceId,
        m: &BtcMint,
    ) -> Result<(Digest, Amount), TokenError> {
        let bridge = p
            .bitcoin
            .as_ref()
            .ok_or(TokenError::NotABridge("the token has no Bitcoin bridge"))?;
        if m.token != p.token_id() {
            return Err(TokenError::NotABridge("the deposit names another token"));
        }
        if m.proof.0.htlc.claimer != bridge.keeper {
            return Err(TokenError::NotABridge(
                "the HTLC's claimer is not the bridge's keeper",
            ));
        }
        let commitment = crate::dbtc::recipient_commitment(&m.token, device);
        let d = bridge.chain.verify_deposit(&commitment, &m.proof.0)?;
        Ok((
            crate::dbtc::outpoint_key(&d.outpoint),
            Amount(u128::from(d.sats)),
        ))
    }

    /// Records a proven withdrawal payment (checked under its token's bridge): the request
    /// is final and never refundable. If the request was refunded before, the keeper
    /// equivocated: `KeeperEquivocation` (the payment is still recorded).
    pub fn observe_payment(&mut self, payment: &WithdrawalPayment) -> Result<Digest, TokenError> {
        let p = self
            .policies
            .get(&payment.request.token)
            .ok_or(TokenError::UnknownPolicy(payment.request.token))?;
        let bridge = p
            .bitcoin
            .as_ref()
            .ok_or(TokenError::NotABridge("the token has no Bitcoin bridge"))?;
        let id = verify_withdrawal_payment(bridge, payment)?;
        self.withdrawals_paid.insert(id);
        if self.withdrawals_refunded.contains(&id) {
            return Err(TokenError::KeeperEquivocation);
        }
        Ok(id)
    }

    /// Marks withdrawal `id` as taken back (e.g. from the chain a wallet reloads), so a
    /// payment met later is recognised as keeper equivocation.
    pub fn mark_refunded(&mut self, id: Digest) {
        self.withdrawals_refunded.insert(id);
    }

    /// True when a payment of withdrawal `id` is known.
    pub fn withdrawal_paid(&self, id: &Digest) -> bool {
        self.withdrawals_paid.contains(id)
    }

    /// Marks a funding outpoint as minted (e.g. learned from the storage nodes' slot).
    pub fn mark_outpoint_used(&mut self, key: Digest) {
        self.btc_outpoints.insert(key);
    }

    /// True when the funding outpoint with this key minted before.
    pub fn outpoint_used(&self, key: &Digest) -> bool {
        self.btc_outpoints.contains(key)
    }

    /// Checks a resolution on its own: the lock verifies and the witness satisfies the
    /// branch's condition. Returns the vault id.
    pub fn check_resolution(r: &VaultResolution) -> Result<Digest, TokenError> {
        let id = verify_lock(&r.lock, &lock_cause(&r.lock.policy))?;
        check_condition(r.lock.policy.condition(r.branch), &r.witness, &id, r.branch)?;
        Ok(id)
    }

    /// Records a vault resolution seen elsewhere (at the storage nodes, or in another
    /// device's chain) after checking it: a different resolution of the same vault, before
    /// or after, is a conflict and the vault's value is refused. Returns the vault id.
    pub fn observe_resolution(&mut self, r: &VaultResolution) -> Result<Digest, TokenError> {
        let id = TokenRules::check_resolution(r)?;
        match self.resolutions.get(&id) {
            Some(d) if *d != r.digest() => {
                self.conflicted.insert(id);
                Err(TokenError::VaultConflict(id))
            }
            _ => {
                self.resolutions.insert(id, r.digest());
                Ok(id)
            }
        }
    }

    /// Accepts a conflict proof (two different valid resolutions of one vault); the vault's
    /// value is refused from then on. Returns the vault id.
    pub fn import_vault_conflict(&mut self, c: &VaultConflict) -> Result<Digest, TokenError> {
        let a = TokenRules::check_resolution(&c.a)?;
        let b = TokenRules::check_resolution(&c.b)?;
        if a != b || c.a.digest() == c.b.digest() {
            return Err(TokenError::Vault(VaultError::Malformed(
                "a conflict needs two different resolutions of one vault",
            )));
        }
        self.conflicted.insert(a);
        Ok(a)
    }

    /// True when `vault` is known to be resolved twice.
    pub fn is_conflicted(&self, vault: &Digest) -> bool {
        self.conflicted.contains(vault)
    }
}

impl TokenRules {
    /// What a source creates, as the root of a lineage (PROTOCOL.md §5.6): its once-key,
    /// token, amount and holder. Only sources that create value are roots — an initial
    /// line, an issuer mint, a won emission, a Bitcoin deposit; everything else continues a
    /// lineage (`NotARoot`). `holder` is the device the lineage says received it: a deposit
    /// (which only commits to its recipient) is checked against it, and every root must
    /// name it (`WrongTarget`). Stateless apart from the policies and verified emission
    /// states held; whether the once-key was used is settlement's question.
    pub fn root_facts(
        &self,
        proof: &SourceProof,
        holder: Option<&DeviceId>,
    ) -> Result<RootFacts, TokenError> {
        let token = proof.token();
        let p = match (self.policies.get(&token), &proof.source) {
            (Some(p), _) => p,
            // A dev-faucet token (tests and `--dev-faucet` only) has no policy to check
            // the successor against; its parcels recover like any other.
            (None, Source::Recovered(r)) if self.legacy.contains(&token) => {
                let (to, amount, burn) = recovered_parts(proof, r)?;
                if holder.is_some_and(|h| *h != to) {
                    return Err(TokenError::WrongTarget);
                }
                return Ok(RootFacts {
                    once_key: proof.once_key()?,
                    token,
                    amount,
                    holder: to,
                    burned: Some(burn),
                });
            }
            (None, _) => return Err(TokenError::UnknownPolicy(token)),
        };
        let once_key = proof.once_key()?;
        let mut burned = None;
        let (to, amount) = match &proof.source {
            Source::Initial(c) => {
                let line = p
                    .initial
                    .get(c.index as usize)
                    .ok_or(TokenError::NoSuchAllocation)?;
                (line.device, line.amount)
            }
            Source::Mint(m) => {
                verify_mint(p, m)?;
                // Against the mints this verifier knows and any conflict it holds.
                self.check_mint_sequence(m)?;
                (m.statement.recipient, m.statement.amount)
            }
            Source::Emission(e) => {
                let digest = e.state.digest();
                if !self.states.get(&token).is_some_and(|s| s.contains(&digest)) {
                    return Err(TokenError::UnknownEmissionState(digest));
                }
                verify_step(p, &e.state, &e.step, true)?
                    .winner
                    .ok_or(TokenError::WrongTarget)?
            }
            Source::BtcDeposit(m) => {
                let h = holder.ok_or(TokenError::WrongTarget)?;
                let (_, sats) = self.check_deposit(p, h, m)?;
                (*h, sats)
            }
            // A continued root: only as good as the parcels its lock consumed (§5.6).
            Source::VaultResolve(r) => {
                let id = TokenRules::check_resolution(r)?;
                if self.conflicted.contains(&id)
                    || self.resolutions.get(&id).is_some_and(|d| *d != r.digest())
                {
                    return Err(TokenError::VaultConflict(id));
                }
                let c = proof.consumption.as_ref().ok_or_else(missing_consumption)?;
                burned = Some(lock_statement(&r.lock.policy, c)?);
                (r.lock.policy.party(r.branch), r.lock.policy.amount)
            }
            Source::WithdrawRefund(d) => {
                let bridge = p
                    .bitcoin
                    .as_ref()
                    .ok_or(TokenError::NotABridge("the token has no Bitcoin bridge"))?;
                let id = verify_decline(bridge, d).ok_or(TokenError::BadDecline)?;
                if self.withdrawals_paid.contains(&id) {
                    return Err(TokenError::WithdrawalPaid);
                }
                let c = proof.consumption.as_ref().ok_or_else(missing_consumption)?;
                burned = Some(request_statement(&d.request, c)?);
                (d.request.holder, d.request.amount)
            }
            Source::Reissue(r) => {
                crate::reissue::verify_reissue(p, r)?;
                burned = Some(RootBurn {
                    hop: r.burn.clone(),
                    signer: r.holder.clone(),
                    check: BurnCheck::Refreshers,
                    succeeded: None,
                });
                (r.signed.statement.holder, r.signed.statement.amount)
            }
            // A continued root: only as good as the lost device's parcel (§20.3).
            Source::Recovered(r) => {
                let (to, amount, burn) = recovered_parts(proof, r)?;
                burned = Some(burn);
                (to, amount)
            }
            Source::Burn(_) | Source::VaultLock(_) | Source::WithdrawRequest(_) => {
                return Err(TokenError::NotARoot)
            }
        };
        if holder.is_some_and(|h| *h != to) {
            return Err(TokenError::WrongTarget);
        }
        self.holder_allowed(p, &to, proof.allowlist.as_ref())?;
        Ok(RootFacts {
            once_key,
            token,
            amount,
            holder: to,
            burned,
        })
    }
}

impl RootVerifier for TokenRules {
    fn verify_root(
        &mut self,
        source: &[u8],
        holder: Option<&DeviceId>,
    ) -> Result<RootFacts, String> {
        // A dev grant never decodes as a source proof (it would name three sources).
        if let Ok(g) = dsm_core::chain::DevGrant::from_bytes(source) {
            if !self.legacy.contains(&g.token) {
                return Err(TokenError::UnknownPolicy(g.token).to_string());
            }
            if holder.is_some_and(|h| *h != g.device) {
                return Err(TokenError::WrongTarget.to_string());
            }
            return Ok(RootFacts {
                once_key: g.once_key(),
                token: g.token,
                amount: g.amount,
                holder: g.device,
                burned: None,
            });
        }
        let proof =
            SourceProof::from_bytes(source).map_err(|e| TokenError::Malformed(e).to_string())?;
        match self.root_facts(&proof, holder) {
            Ok(f) => {
                // A verified mint is a real statement of the issuers, whatever the rest of
                // the lineage: kept, so a contradicting mint seen later is caught offline.
                if let Source::Mint(m) = &proof.source {
                    self.mints
                        .entry(m.statement.token)
                        .or_default()
                        .entry(m.statement.seq)
                        .or_insert_with(|| m.clone());
                }
                Ok(f)
            }
            Err(TokenError::MintConflict(c)) => {
                let e = TokenError::MintConflict(c.clone());
                self.hold_mint_conflict(*c);
                Err(e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The statement a vault lock consumed its parcels by, checked against the lock: the
/// creator's, signed by the creator, with `rest` = the cause of the lock's source proof.
/// Whether it consumed real parcels is the lineage check's question
/// (`dsm_core::parcel::verify_continued`, [`BurnCheck::Lineages`]).
pub fn lock_statement(policy: &VaultPolicy, c: &Consumption) -> Result<RootBurn, TokenError> {
    statement_of(c, &lock_cause(policy), &policy.creator.device_id())
}

/// The cause of a vault's lock, `H(SourceProof, enc({vault_lock: policy}))`: what the lock
/// head names, and the `rest` of the statement by which the lock consumed its parcels.
pub fn lock_cause(policy: &VaultPolicy) -> Digest {
    SourceProof {
        source: Source::VaultLock(Box::new(policy.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause()
}

/// The cause of a withdrawal request, `H(SourceProof, enc({withdraw_request: request}))`:
/// what its BURN head names, and the `rest` of the statement that consumed its parcels.
pub fn request_cause(request: &WithdrawalRequest) -> Digest {
    SourceProof {
        source: Source::WithdrawRequest(Box::new(request.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause()
}

/// The statement a withdrawal request consumed its parcels by, checked against the
/// request, as [`lock_statement`] for a lock.
pub fn request_statement(
    request: &WithdrawalRequest,
    c: &Consumption,
) -> Result<RootBurn, TokenError> {
    statement_of(c, &request_cause(request), &request.holder)
}

fn statement_of(
    c: &Consumption,
    consuming_cause: &Digest,
    holder: &DeviceId,
) -> Result<RootBurn, TokenError> {
    if c.hop.statement.holder != *holder || c.signer.device_id() != *holder {
        return Err(TokenError::Consumption(
            "its statement is not the lock's or the request's holder's",
        ));
    }
    if c.hop.rest != *consuming_cause {
        return Err(TokenError::Consumption(
            "its statement is not the one that made this lock or request",
        ));
    }
    Ok(RootBurn {
        hop: c.hop.clone(),
        signer: c.signer.clone(),
        check: BurnCheck::Lineages,
        succeeded: None,
    })
}

/// The statement by which a successor consumed its lost device's parcel, checked against
/// the succession (PROTOCOL.md §20.3): the succession verifies under the genesis's recovery
/// authority; the statement is signed by the successor it names, holds the lost device's
/// parcel, consumes exactly one parcel whole to the token's sink, and its `rest` is the
/// succession's digest. Returns the continued root's statement and amount; whether the
/// parcel is real is the lineage check's question ([`BurnCheck::Lineages`]).
pub fn recovered_statement(
    r: &RecoveredParcel,
    c: &Consumption,
) -> Result<(RootBurn, Amount), TokenError> {
    let rec = &r.record;
    let v =
        dsm_recovery::succession::verify_succession(&rec.genesis, &rec.tombstone, &rec.succession)
            .map_err(|e| TokenError::Succession(e.to_string()))?;
    let lost = v.tombstone.record.lost.device_id();
    if c.signer != v.succession.record.successor {
        return Err(TokenError::Consumption(
            "its statement is not signed by the successor the succession names",
        ));
    }
    let s = &c.hop.statement;
    if s.holder != lost {
        return Err(TokenError::Consumption(
            "its statement does not consume the lost device's parcel",
        ));
    }
    if c.hop.rest != v.succession.record.digest() {
        return Err(TokenError::Consumption(
            "its statement is not the one made under this succession",
        ));
    }
    let amount =
        match (s.inputs.as_slice(), s.outputs.as_slice()) {
            ([_], [o]) if o.input == 0 && o.to == dsm_core::parcel::sink(&r.token) => o.amount,
            _ => return Err(TokenError::Consumption(
                "a recovered parcel's statement consumes exactly one parcel, whole, to the sink",
            )),
        };
    Ok((
        RootBurn {
            hop: c.hop.clone(),
            signer: c.signer.clone(),
            check: BurnCheck::Lineages,
            succeeded: Some(lost),
        },
        amount,
    ))
}

/// A recovered parcel's holder (the successor), amount and statement.
fn recovered_parts(
    proof: &SourceProof,
    r: &RecoveredParcel,
) -> Result<(DeviceId, Amount, RootBurn), TokenError> {
    let c = proof.consumption.as_ref().ok_or_else(missing_consumption)?;
    let (burn, amount) = recovered_statement(r, c)?;
    Ok((c.signer.device_id(), amount, burn))
}

fn missing_consumption() -> TokenError {
    TokenError::Consumption("it carries no consumed-parcel statement")
}

fn not_listed(p: &TokenPolicy, device: &DeviceId) -> TokenError {
    TokenError::NotOnAllowlist {
        ticker: p.ticker.clone(),
        device: device.to_string(),
    }
}

impl SourceVerifier for TokenRules {
    fn verify_source(
        &mut self,
        parent: &DeviceHead,
        child: &DeviceHead,
        proof: &[u8],
    ) -> Result<(), String> {
        self.apply_source(parent, child, proof)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn check_transfer(&mut self, step: &RelationshipStep) -> Result<(), String> {
        TokenRules::check_transfer(self, step).map_err(|e| e.to_string())
    }
}
