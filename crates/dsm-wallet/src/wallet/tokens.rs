//! The wallet's token layer (PROTOCOL.md §17): the policies it holds, mint, burn, initial
//! allocations and DJTE emission credits, each one atomic head transition whose source
//! proof is checked by `dsm_token::source::TokenRules` before it is committed.

use super::{
    corrupt, history_key, json, token, EntryKind, HistoryEntry, LineStatus, Wallet, WalletError,
    DEFAULT_TOKEN,
};
use crate::store::{Batch, Store, Table};
use dsm_core::chain::{Amount, DeviceHead, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_core::parcel::{Hop, Parcel, ParcelStatement};
use dsm_core::receipt::Receipt;
use dsm_token::authority::{
    cosign, Authorised, BurnStatement, MintConflict, MintStatement, SignedMint,
};
use dsm_token::djte::{Emission, EmissionLedger, EmissionState, EmissionStep};
use dsm_token::policy::{BurnRule, JoinGate, TokenPolicy};
use dsm_token::source::{
    EmissionCredit, InitialClaim, Source, SourceProof, TokenError, TokenRules,
};
use std::collections::BTreeMap;

/// A token this wallet holds the policy of.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// Its id (the policy commitment).
    pub id: TokenId,
    /// The policy.
    pub policy: TokenPolicy,
    /// This device's balance.
    pub balance: Amount,
}

/// How a token is shown to people: its label and, when its policy is held, its decimal
/// places (amounts of a token without a known policy are shown in base units).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenView {
    /// The token id.
    pub id: TokenId,
    /// The ticker of its policy (`TICKER#HEX8` when two held policies share a ticker), a
    /// label this wallet gave it (such as `DEV`), or `token:HEX16`.
    pub label: String,
    /// The policy's decimal places; `None` when no policy is held.
    pub decimals: Option<u32>,
}

impl TokenView {
    /// The view of a token this wallet knows nothing of: `token:HEX16`, base units.
    pub fn unknown(id: TokenId) -> TokenView {
        TokenView {
            id,
            label: format!("token:{}", &id.digest().to_hex()[..16]),
            decimals: None,
        }
    }

    /// Whether this wallet knows neither the token's policy nor a label for it.
    pub fn is_unknown(&self) -> bool {
        self.decimals.is_none() && self.label.starts_with("token:")
    }

    /// `amount` as decimal text with the token's places (base units without a policy).
    pub fn amount_text(&self, amount: Amount) -> String {
        dsm_token::units::format_units(amount, self.decimals.unwrap_or(0))
    }

    /// Parses an amount a user typed, with the token's decimal places (base units when no
    /// policy is held): refused, never rounded, when it has more places.
    pub fn parse_amount(&self, text: &str) -> Result<Amount, dsm_token::units::UnitsError> {
        dsm_token::units::parse_units(text, self.decimals.unwrap_or(0))
    }

    /// "1.50 GOLD"; for a token whose policy is unknown, "150 base units of token:…".
    pub fn describe(&self, amount: Amount) -> String {
        if self.is_unknown() {
            format!("{} base units of {} (policy unknown)", amount, self.label)
        } else {
            format!("{} {}", self.amount_text(amount), self.label)
        }
    }
}

/// What a mint did.
#[derive(Clone, Debug)]
pub struct MintOutcome {
    /// The issuers' sequence number used.
    pub seq: u64,
    /// Everything created after this mint (initial allocation + mints).
    pub minted_total: Amount,
}

/// What syncing a token's emission vault found.
#[derive(Clone, Debug)]
pub struct EmissionSync {
    /// Steps newly verified and stored.
    pub new_steps: usize,
    /// The vault state after the last known step.
    pub state: EmissionState,
    /// Emissions this device won that were credited now: `(index, amount)`.
    pub credited: Vec<(u64, Amount)>,
}

pub(super) fn load_rules(store: &dyn Store) -> Result<TokenRules, WalletError> {
    let mut rules = TokenRules::new();
    // The non-production DEV token (dev faucet) may move between wallets; it is shown as
    // such and its allocations are never a verifiable source.
    rules.allow_label_token(token(DEFAULT_TOKEN));
    for (_, v) in store.scan(Table::Policies)? {
        let p = TokenPolicy::from_bytes(&v).map_err(|e| WalletError::Corrupt {
            what: "token policy",
            error: e.to_string(),
        })?;
        let id = rules.add_policy(p).map_err(|e| WalletError::Corrupt {
            what: "token policy",
            error: e.to_string(),
        })?;
        let key = [b"allowlist:".as_slice(), id.digest().to_hex().as_bytes()].concat();
        if let Some(members) = store.get(Table::Meta, &key)? {
            let members: Vec<DeviceId> = members
                .chunks_exact(32)
                .map(|c| DeviceId(Digest(c.try_into().expect("32-byte chunk"))))
                .collect();
            rules
                .add_allowlist(&id, &members)
                .map_err(|e| WalletError::Corrupt {
                    what: "allowlist",
                    error: e.to_string(),
                })?;
        }
    }
    // Everything below was stored only after it was checked: a record that no longer
    // decodes or verifies is damage, and the wallet refuses to open rather than forget it
    // (forgetting a conflict or a payment would accept value it must refuse).
    for (_, v) in store.scan(Table::VaultResolutions)? {
        let r = dsm_token::vault::VaultResolution::from_bytes(&v)
            .map_err(corrupt("vault resolution"))?;
        match rules.observe_resolution(&r) {
            // A conflict found now is recorded in `rules`: that is the point.
            Ok(_) | Err(TokenError::VaultConflict(_)) => {}
            Err(e) => return Err(corrupt("vault resolution")(e)),
        }
    }
    let mut payments = Vec::new();
    for (k, v) in store.scan(Table::Meta)? {
        if let Some(hex) = k.strip_prefix(b"btc-outpoint:") {
            if let Some(d) = std::str::from_utf8(hex).ok().and_then(Digest::from_hex) {
                rules.mark_outpoint_used(d);
            }
            continue;
        }
        if k.starts_with(b"withdrawal-paid:") {
            payments.push(
                dsm_token::dbtc::WithdrawalPayment::from_bytes(&v)
                    .map_err(corrupt("withdrawal payment"))?,
            );
            continue;
        }
        if k.starts_with(MINT_CONFLICT_PREFIX) {
            let c = MintConflict::from_bytes(&v).map_err(corrupt("mint conflict"))?;
            rules
                .import_mint_conflict(&c)
                .map_err(corrupt("mint conflict"))?;
            continue;
        }
        if k.starts_with(b"vault-conflict:") {
            let c = dsm_token::vault::VaultConflict::from_bytes(&v)
                .map_err(corrupt("vault conflict"))?;
            rules
                .import_vault_conflict(&c)
                .map_err(corrupt("vault conflict"))?;
        }
    }
    for (_, v) in store.scan(Table::Sources)? {
        // Every applied source's once-key (and a mint's place in its sequence, a deposit's
        // outpoint, a refund's withdrawal) is used again after a restart; the head and its
        // source were one batch, so this survives any crash.
        let proof = SourceProof::from_bytes(&v).map_err(corrupt("source proof"))?;
        rules.record_source(&proof);
    }
    // Payments after the refunds they may contradict (a contradiction is the keeper's).
    for p in &payments {
        match rules.observe_payment(p) {
            // The keeper's equivocation is recorded; the payment stands.
            Ok(_) | Err(TokenError::KeeperEquivocation) => {}
            Err(e) => return Err(corrupt("withdrawal payment")(e)),
        }
    }
    Ok(rules)
}

/// Meta key of an issuer's next mint: `u64be(seq) ‖ u128be(minted total)`.
fn mint_seq_key(token: &TokenId) -> Vec<u8> {
    [b"mint-seq:".as_slice(), token.digest().to_hex().as_bytes()].concat()
}

/// Meta key prefix of held mint-conflict evidence (one per token: the earliest).
const MINT_CONFLICT_PREFIX: &[u8] = b"mint-conflict:";

fn emission_key(token: &TokenId, e: u64) -> Vec<u8> {
    let mut k = token.as_bytes().to_vec();
    k.extend_from_slice(&e.to_be_bytes());
    k
}

fn usage(msg: impl Into<String>) -> WalletError {
    WalletError::Token(msg.into())
}

impl From<TokenError> for WalletError {
    fn from(e: TokenError) -> Self {
        WalletError::Token(e.to_string())
    }
}

impl Wallet {
    /// The token rules this device applies (its policies).
    pub fn token_rules(&self) -> &TokenRules {
        &self.rules
    }

    /// Stores `policy` (and its allowlist members, if it has an allowlist) and claims every
    /// initial-allocation line naming this device. Importing a policy twice is harmless.
    /// Returns the token id and the amounts claimed now.
    pub fn import_policy(
        &mut self,
        policy: TokenPolicy,
        allowlist: Option<&[DeviceId]>,
    ) -> Result<(TokenId, Vec<Amount>), WalletError> {
        let mut rules = self.rules.clone();
        let id = rules
            .add_policy(policy.clone())
            .map_err(|e| usage(format!("the token policy is not valid: {e}")))?;
        if let Some(members) = allowlist {
            rules.add_allowlist(&id, members)?;
        }
        let mut b = Batch::new();
        b.put(Table::Policies, id.as_bytes().to_vec(), policy.to_bytes());
        if let Some(members) = allowlist {
            let key = [b"allowlist:".as_slice(), id.digest().to_hex().as_bytes()].concat();
            b.put(
                Table::Meta,
                key,
                members
                    .iter()
                    .flat_map(|m| *m.as_bytes())
                    .collect::<Vec<u8>>(),
            );
        }
        self.store.commit(&b)?;
        self.rules = rules;
        let me = self.device_id();
        let mut claimed = Vec::new();
        for (i, line) in policy.initial.iter().enumerate() {
            if line.device != me {
                continue;
            }
            let proof = SourceProof {
                source: Source::Initial(InitialClaim {
                    token: id,
                    index: i as u32,
                }),
                allowlist: self.rules.allowlist_proof(&id, &me),
                consumption: None,
            };
            if self.rules.source_used(&proof) {
                continue;
            }
            self.apply_source(proof, line.amount, EntryKind::Allocated)?;
            claimed.push(line.amount);
        }
        Ok((id, claimed))
    }

    /// Every token whose policy this wallet holds, with its balance, by ticker.
    pub fn tokens(&self) -> Vec<TokenInfo> {
        let mut v: Vec<TokenInfo> = self
            .rules
            .policies()
            .map(|(id, p)| TokenInfo {
                id: *id,
                policy: p.clone(),
                balance: self.head.balances.get(id),
            })
            .collect();
        v.sort_by(|a, b| (&a.policy.ticker, a.id).cmp(&(&b.policy.ticker, b.id)));
        v
    }

    /// How each token this wallet knows of is shown ([`TokenView`]): every held policy,
    /// every remembered label (such as `DEV`) and every token on the head.
    pub fn token_views(&self) -> Result<BTreeMap<TokenId, TokenView>, WalletError> {
        let tokens = self.tokens();
        let mut out = BTreeMap::new();
        for (id, label) in self.token_labels()? {
            out.insert(
                id,
                TokenView {
                    id,
                    label,
                    decimals: None,
                },
            );
        }
        for t in &tokens {
            let collides = tokens
                .iter()
                .any(|o| o.id != t.id && o.policy.ticker == t.policy.ticker);
            let label = if collides {
                format!("{}#{}", t.policy.ticker, &t.id.digest().to_hex()[..8])
            } else {
                t.policy.ticker.clone()
            };
            out.insert(
                t.id,
                TokenView {
                    id: t.id,
                    label,
                    decimals: Some(t.policy.decimals),
                },
            );
        }
        for b in self.head.balances.entries() {
            out.entry(b.token)
                .or_insert_with(|| TokenView::unknown(b.token));
        }
        Ok(out)
    }

    /// How `id` is shown ([`Wallet::token_views`]; an id it knows nothing of gets the
    /// `token:HEX` label and base units).
    pub fn token_view(&self, id: &TokenId) -> Result<TokenView, WalletError> {
        Ok(self
            .token_views()?
            .remove(id)
            .unwrap_or_else(|| TokenView::unknown(*id)))
    }

    /// The token a user names: a ticker of a held policy (unique), a hex token id (or a
    /// prefix of at least 8 digits) of a held policy or of a balance, `TICKER#HEX` as
    /// [`TokenView`] shows colliding tickers, or a label this wallet knows (such as `DEV`).
    /// Anything else is an unknown token, never a zero balance of a new one.
    pub fn resolve_token(&self, name: &str) -> Result<TokenId, WalletError> {
        let views = self.token_views()?;
        // A policy's ticker first, then a label this wallet gave.
        if let Some(v) = views
            .values()
            .filter(|v| v.label == name)
            .max_by_key(|v| v.decimals.is_some())
        {
            return Ok(v.id);
        }
        self.resolve_token_id(name, &views)
    }

    fn resolve_token_id(
        &self,
        name: &str,
        views: &BTreeMap<TokenId, TokenView>,
    ) -> Result<TokenId, WalletError> {
        let tokens = self.tokens();
        let by_ticker: Vec<&TokenInfo> =
            tokens.iter().filter(|t| t.policy.ticker == name).collect();
        match by_ticker.len() {
            1 => return Ok(by_ticker[0].id),
            0 => {}
            _ => {
                return Err(usage(format!(
                    "{} tokens have the ticker {name}; name one by its id ({})",
                    by_ticker.len(),
                    by_ticker
                        .iter()
                        .map(|t| t.id.digest().to_hex()[..12].to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        let lower = name.to_ascii_lowercase();
        if lower.len() >= 8 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
            let hits: Vec<&TokenInfo> = tokens
                .iter()
                .filter(|t| t.id.digest().to_hex().starts_with(&lower))
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0].id);
            }
            let hits: Vec<&TokenId> = views
                .keys()
                .filter(|id| id.digest().to_hex().starts_with(&lower))
                .collect();
            if hits.len() == 1 {
                return Ok(*hits[0]);
            }
        }
        let label = token(name);
        if views.contains_key(&label) {
            return Ok(label);
        }
        let known: Vec<&str> = views.values().map(|v| v.label.as_str()).collect();
        Err(usage(format!(
            "unknown token {name:?}: this wallet knows {}; import a token's policy with `dsm token import`",
            if known.is_empty() {
                "no token yet".to_string()
            } else {
                known.join(", ")
            }
        )))
    }

    /// Refuses, before anything is signed, a transfer the token's policy forbids (unknown
    /// policy, soulbound, receiver not on the allowlist).
    pub fn check_outgoing(&self, token: &TokenId, receiver: &DeviceId) -> Result<(), WalletError> {
        self.rules.check_recipient(token, receiver).map_err(|e| match e {
            TokenError::UnknownPolicy(_) => usage(format!(
                "this wallet holds no policy for token {}; import it with `dsm token import` (or use --token DEV for the non-production dev token)",
                token.digest().to_hex()
            )),
            other => other.into(),
        })
    }

    /// Keeps mint-conflict evidence (verified by `TokenRules`): stored, so mints of that
    /// token from the conflict on stay refused after a restart.
    pub(crate) fn hold_mint_conflict(&mut self, c: &MintConflict) -> Result<(), WalletError> {
        let first = self.rules.import_mint_conflict(c)?;
        if self.rules.mint_conflict(&c.token()).map(|h| h.first_seq()) == Some(first) {
            let key = [MINT_CONFLICT_PREFIX, c.token().digest().to_hex().as_bytes()].concat();
            let mut b = Batch::new();
            b.put(Table::Meta, key, c.to_bytes());
            self.store.commit(&b)?;
        }
        Ok(())
    }

    /// Stores the mint conflict `TokenRules` holds for `token`, if it is not stored yet (one
    /// found while checking a lineage's root lives in memory until this is called).
    pub(crate) fn keep_held_mint_conflict(&mut self, token: &TokenId) -> Result<(), WalletError> {
        let Some(c) = self.rules.mint_conflict(token).cloned() else {
            return Ok(());
        };
        let key = [MINT_CONFLICT_PREFIX, c.token().digest().to_hex().as_bytes()].concat();
        if self.store.get(Table::Meta, &key)?.as_deref() == Some(c.to_bytes().as_slice()) {
            return Ok(());
        }
        self.hold_mint_conflict(&c)
    }

    /// Mint `seq` of `token` as this device saw it published at W of N nodes (checked
    /// against every mint before it), if it did.
    pub(crate) fn published_mint(
        &self,
        token: &TokenId,
        seq: u64,
    ) -> Result<Option<SignedMint>, WalletError> {
        let key = [token.as_bytes().as_slice(), &seq.to_be_bytes()].concat();
        match self.store.get(Table::PublishedMints, &key)? {
            Some(b) => Ok(Some(
                SignedMint::from_bytes(&b).map_err(corrupt("published mint"))?,
            )),
            None => Ok(None),
        }
    }

    /// Records mint `m` as published and checked (see [`Wallet::published_mint`]).
    pub(crate) fn note_published_mint(&mut self, m: &SignedMint) -> Result<(), WalletError> {
        let key = [
            m.statement.token.as_bytes().as_slice(),
            &m.statement.seq.to_be_bytes(),
        ]
        .concat();
        let mut b = Batch::new();
        b.put(Table::PublishedMints, key, m.to_bytes());
        self.store.commit(&b)?;
        Ok(())
    }

    /// Every mint this device applied (as issuer or recipient): what it publishes in the
    /// mints' slots at each sync.
    pub(crate) fn applied_mints(&self) -> Result<Vec<SignedMint>, WalletError> {
        let mut out = Vec::new();
        for (_, v) in self.store.scan(Table::Sources)? {
            if let Ok(p) = SourceProof::from_bytes(&v) {
                if let dsm_token::source::Source::Mint(m) = p.source {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// The mint-conflict evidence this wallet holds, one per token whose issuers
    /// equivocated.
    pub fn mint_conflicts(&self) -> Vec<MintConflict> {
        let mut v: Vec<MintConflict> = self
            .rules
            .policies()
            .filter_map(|(id, _)| self.rules.mint_conflict(id).cloned())
            .collect();
        // By token: never a hash map's order.
        v.sort_by_key(|c| c.a.statement.token);
        v
    }

    /// Builds, checks and commits the head for `proof` (credit `amount`, or debit for a
    /// burn): one atomic batch with the head, the history line and the proof.
    pub(super) fn apply_source(
        &mut self,
        proof: SourceProof,
        amount: Amount,
        kind: EntryKind,
    ) -> Result<&DeviceHead, WalletError> {
        self.apply_source_with(proof, amount, kind, Batch::new())
    }

    /// [`Wallet::apply_source`] with `extra` writes committed in the same batch (e.g. an
    /// issuer's next mint sequence number, so a crash can never reuse one).
    pub(super) fn apply_source_with(
        &mut self,
        proof: SourceProof,
        amount: Amount,
        kind: EntryKind,
        mut b: Batch,
    ) -> Result<&DeviceHead, WalletError> {
        let t = proof.token();
        let cause = proof.cause();
        let head = if proof.debits() {
            self.head.burn_child(&t, amount, cause)?
        } else {
            self.head.allocation_child(&t, amount, cause)?
        };
        if let Err(e) = self.rules.check_source(&self.head, &head, &proof) {
            if let TokenError::MintConflict(c) = &e {
                self.hold_mint_conflict(c)?;
            }
            return Err(e.into());
        }
        let bytes = proof.to_bytes();
        let change = if proof.debits() {
            // Value leaves circulation: our parcels go to the token's sink, signed by us.
            let inputs: Vec<Parcel> = self.book.select(self.device_id(), &t, amount)?;
            let statement = ParcelStatement::to_sink(self.device_id(), &t, &inputs, amount)
                .map_err(|e| WalletError::Parcels(e.into()))?;
            let rnd = dsm_protocol::session::Ledger::random(self);
            let hop = Hop::sign(&self.key, statement, cause, &rnd)
                .map_err(|e| WalletError::Parcels(e.to_string()))?;
            // Kept, with the consumed parcels' lineages, for the root that may continue
            // them (a vault's resolution, a declined withdrawal's refund; PROTOCOL.md §5.6).
            let continued = !matches!(proof.source, Source::Burn(_));
            self.keep_consumption(&mut b, &hop, &inputs, continued)?;
            self.spend_parcels(&mut b, &hop)?
        } else {
            let once = proof.once_key()?;
            match &proof.consumption {
                Some(c) => {
                    self.continued_root_parcel(&mut b, bytes.clone(), c, &once, t, amount)?
                }
                None => self.root_parcel(&mut b, bytes.clone(), &once, t, amount),
            }
        };
        let entry = HistoryEntry {
            height: head.height,
            kind,
            peer: None,
            token: Some(t),
            amount: Some(amount),
            status: LineStatus::Final,
            receipt: None,
            settlement: None,
            time: super::wall_clock(),
        };
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
            .put(Table::History, history_key(head.height), json(&entry))
            .put(Table::Sources, cause.as_bytes().to_vec(), bytes);
        self.commit_head_change(&mut b, None)?;
        self.apply_book(change);
        self.rules.record_source(&proof);
        self.head = head;
        Ok(&self.head)
    }

    /// Mints `amount` of `token` to this device, signed by this device's key as the only
    /// issuer needed (the policy's threshold is 1 and this key is one of its issuers). The
    /// issuer's mint sequence is kept in the wallet.
    pub fn mint(&mut self, token: &TokenId, amount: Amount) -> Result<MintOutcome, WalletError> {
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?
            .clone();
        if p.issuers.threshold == 0 {
            return Err(usage(format!(
                "{}'s policy allows no minting: its supply is fixed",
                p.ticker
            )));
        }
        let Some(index) = p
            .issuers
            .keys
            .iter()
            .position(|k| k == self.key.public_key())
        else {
            return Err(usage(format!(
                "this device is not one of {}'s issuers",
                p.ticker
            )));
        };
        if p.issuers.threshold > 1 {
            return Err(usage(format!(
                "{} needs {} issuer signatures; multi-issuer minting is available in the SDK (dsm_token::authority::cosign, Wallet::apply_signed_mint) but not yet in the CLI",
                p.ticker, p.issuers.threshold
            )));
        }
        let (seq, before) = self.mint_sequence(token, &p)?;
        let statement = MintStatement {
            token: *token,
            seq,
            minted_before: before,
            amount,
            recipient: self.device_id(),
            recipient_parent_head: self.head.digest(),
        };
        let rnd = self.random_bytes();
        let sig = cosign(&self.key, index as u32, &statement.digest(), &rnd)?;
        self.apply_signed_mint(SignedMint {
            statement,
            signatures: vec![sig],
        })
    }

    fn mint_sequence(
        &self,
        token: &TokenId,
        p: &TokenPolicy,
    ) -> Result<(u64, Amount), WalletError> {
        Ok(match self.store.get(Table::Meta, &mint_seq_key(token))? {
            Some(v) if v.len() == 24 => (
                u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
                Amount(u128::from_be_bytes(v[8..].try_into().expect("16 bytes"))),
            ),
            Some(_) => {
                return Err(WalletError::Corrupt {
                    what: "mint sequence",
                    error: "not 24 bytes".into(),
                })
            }
            None => (0, p.initial_total()),
        })
    }

    /// Applies a mint to this device signed by the policy's issuers (built elsewhere, e.g.
    /// cosigned by several issuer devices). When this device is an issuer, its mint
    /// sequence moves past the statement.
    pub fn apply_signed_mint(&mut self, m: SignedMint) -> Result<MintOutcome, WalletError> {
        let s = m.statement.clone();
        let p = self
            .rules
            .policy(&s.token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?
            .clone();
        let proof = SourceProof {
            source: Source::Mint(m),
            allowlist: self.rules.allowlist_proof(&s.token, &self.device_id()),
            consumption: None,
        };
        let total = s
            .minted_before
            .checked_add(s.amount)
            .ok_or_else(|| usage("mint total overflows"))?;
        // An issuer's next sequence number moves in the same batch as the mint, so a crash
        // can never make it sign a second mint with one number (issuer equivocation).
        let mut b = Batch::new();
        if p.issuers.keys.iter().any(|k| k == self.key.public_key()) {
            let (seq, _) = self.mint_sequence(&s.token, &p)?;
            if s.seq >= seq {
                let mut v = (s.seq + 1).to_be_bytes().to_vec();
                v.extend_from_slice(&total.0.to_be_bytes());
                b.put(Table::Meta, mint_seq_key(&s.token), v);
            }
        }
        self.apply_source_with(proof, s.amount, EntryKind::Minted, b)?;
        Ok(MintOutcome {
            seq: s.seq,
            minted_total: total,
        })
    }

    /// Refuses, before anything is signed, a burn of `token` that its policy does not let
    /// this device make (what [`Wallet::burn`] would refuse; a dry run asks this).
    pub fn check_burn(&self, token: &TokenId) -> Result<(), WalletError> {
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?;
        match p.burn {
            BurnRule::Nobody => Err(usage(format!("{}'s policy allows no burning", p.ticker))),
            BurnRule::Holder => Ok(()),
            BurnRule::Issuers => {
                let issuer = p
                    .issuers
                    .keys
                    .iter()
                    .any(|k| k == &self.identity.public_key);
                if issuer && p.issuers.threshold == 1 {
                    Ok(())
                } else {
                    Err(usage(format!(
                        "{}'s burns need {} issuer signatures; not yet available in the CLI",
                        p.ticker, p.issuers.threshold
                    )))
                }
            }
        }
    }

    /// Burns `amount` of `token` from this device (policies whose holders may burn, or
    /// whose single needed issuer is this device).
    pub fn burn(&mut self, token: &TokenId, amount: Amount) -> Result<&DeviceHead, WalletError> {
        self.check_burn(token)?;
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?
            .clone();
        let statement = BurnStatement {
            token: *token,
            device: self.device_id(),
            parent_head: self.head.digest(),
            amount,
        };
        let signatures = match p.burn {
            BurnRule::Nobody => {
                return Err(usage(format!("{}'s policy allows no burning", p.ticker)))
            }
            BurnRule::Holder => Vec::new(),
            BurnRule::Issuers => {
                let index = p
                    .issuers
                    .keys
                    .iter()
                    .position(|k| k == self.key.public_key());
                match index {
                    Some(i) if p.issuers.threshold == 1 => {
                        let rnd = self.random_bytes();
                        vec![cosign(&self.key, i as u32, &statement.digest(), &rnd)?]
                    }
                    _ => {
                        return Err(usage(format!(
                            "{}'s burns need {} issuer signatures; not yet available in the CLI",
                            p.ticker, p.issuers.threshold
                        )))
                    }
                }
            }
        };
        let proof = SourceProof {
            source: Source::Burn(Authorised {
                statement,
                signatures,
            }),
            allowlist: None,
            consumption: None,
        };
        self.apply_source(proof, amount, EntryKind::Burned)
    }

    /// Receipts from this wallet's history that meet `gate`: one payment to each of `k`
    /// distinct listed operators in the fee token, at least the fee each (the first such
    /// payment per operator), ascending by operator.
    pub fn gate_payments(&self, gate: &JoinGate) -> Result<Vec<Receipt>, WalletError> {
        let me = self.device_id();
        let mut best: std::collections::BTreeMap<DeviceId, Receipt> = Default::default();
        for (_, v) in self.store.scan(Table::Receipts)? {
            let r = Receipt::from_bytes(&v).map_err(super::corrupt("receipt"))?;
            let step = &r.proposal.proposal.step;
            if step.sender == me
                && step.token == gate.fee_token
                && step.amount >= gate.fee
                && gate.operators.binary_search(&step.receiver).is_ok()
            {
                best.entry(step.receiver).or_insert(r);
            }
        }
        if best.len() < gate.k as usize {
            return Err(usage(format!(
                "the join gate needs payments of at least {} to {} distinct storage operators; this wallet has paid {} of them",
                gate.fee, gate.k, best.len()
            )));
        }
        Ok(best.into_values().take(gate.k as usize).collect())
    }

    /// The emission steps of `token`'s vault this wallet verified, in order.
    pub fn emission_steps(&self, token: &TokenId) -> Result<Vec<EmissionStep>, WalletError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan(Table::Emissions)? {
            if k.starts_with(token.as_bytes()) {
                out.push(EmissionStep::from_bytes(&v).map_err(super::corrupt("emission step"))?);
            }
        }
        Ok(out)
    }

    /// Teaches the rules every emission state this wallet verified (after open), so an
    /// emission credit paid onward is a root it can check.
    pub(super) fn relearn_emission_states(&mut self) -> Result<(), WalletError> {
        let tokens: Vec<TokenId> = self.rules.policies().map(|(t, _)| *t).collect();
        for t in tokens {
            if self.emission_steps(&t)?.is_empty() {
                continue;
            }
            let p = self
                .rules
                .policy(&t)
                .cloned()
                .ok_or_else(|| usage("no policy"))?;
            let mut l = EmissionLedger::new(&p)?;
            for s in self.emission_steps(&t)? {
                let before = l.state().digest();
                l.apply(&s, false).map_err(|e| WalletError::Corrupt {
                    what: "emission step",
                    error: e.to_string(),
                })?;
                self.rules.know_emission_state(&t, &before);
            }
        }
        Ok(())
    }

    /// Rebuilds `token`'s vault from the stored steps (verified when stored; their gates
    /// are not re-checked).
    pub fn emission_ledger(&self, token: &TokenId) -> Result<EmissionLedger, WalletError> {
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?;
        let mut l = EmissionLedger::new(p)?;
        for s in self.emission_steps(token)? {
            l.apply(&s, false).map_err(|e| WalletError::Corrupt {
                what: "emission step",
                error: e.to_string(),
            })?;
        }
        Ok(l)
    }

    /// Verifies `step` (with its join gate) against `ledger`'s state, stores it, applies it
    /// to `ledger`, and credits this device if it won.
    pub fn record_emission(
        &mut self,
        ledger: &mut EmissionLedger,
        step: &EmissionStep,
    ) -> Result<Emission, WalletError> {
        let token = ledger.state().token;
        let before = ledger.state().clone();
        let em = ledger.apply(step, true)?;
        // Every verified state can root a lineage (an emission credit paid onward).
        self.rules.know_emission_state(&token, &before.digest());
        let mut b = Batch::new();
        b.put(
            Table::Emissions,
            emission_key(&token, em.index),
            step.to_bytes(),
        );
        self.store.commit(&b)?;
        if let Some((w, amount)) = em.winner {
            if w == self.device_id() {
                self.credit_emission(before, step.clone(), amount)?;
            }
        }
        Ok(em)
    }

    /// Credits a won emission unless one of its index was already (idempotent).
    fn credit_emission(
        &mut self,
        state: EmissionState,
        step: EmissionStep,
        amount: Amount,
    ) -> Result<bool, WalletError> {
        let token = state.token;
        self.rules.know_emission_state(&token, &state.digest());
        let proof = SourceProof {
            source: Source::Emission(Box::new(EmissionCredit { state, step })),
            allowlist: None,
            consumption: None,
        };
        // Keyed by the emission's index, not its bytes: another step of one index (a
        // fork of the vault chain) never credits twice.
        if self.rules.source_used(&proof) {
            return Ok(false);
        }
        self.apply_source(proof, amount, EntryKind::Emission)?;
        Ok(true)
    }

    /// Credits every stored emission this device won that is not credited yet (after a
    /// crash between storing a step and crediting it). Returns `(index, amount)` of each.
    pub fn credit_pending_emissions(
        &mut self,
        token: &TokenId,
    ) -> Result<Vec<(u64, Amount)>, WalletError> {
        let p = self
            .rules
            .policy(token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?
            .clone();
        let mut l = EmissionLedger::new(&p)?;
        let mut out = Vec::new();
        for s in self.emission_steps(token)? {
            let before = l.state().clone();
            let em = l.apply(&s, false).map_err(|e| WalletError::Corrupt {
                what: "emission step",
                error: e.to_string(),
            })?;
            if let Some((w, a)) = em.winner {
                if w == self.device_id() && self.credit_emission(before, s, a)? {
                    out.push((em.index, a));
                }
            }
        }
        Ok(out)
    }

    /// Mints dBTC from Bitcoin deposit evidence (checked by `TokenRules`: SPV, keeper,
    /// recipient commitment, depth, outpoint not minted before). Returns the amount and the
    /// outpoint key.
    pub fn mint_deposit(
        &mut self,
        token: &TokenId,
        evidence: dsm_btc::DepositEvidence,
    ) -> Result<(Amount, Digest), WalletError> {
        let m = dsm_token::dbtc::BtcMint {
            token: *token,
            proof: dsm_token::dbtc::DepositProof(evidence),
        };
        // The claimed outpoint and amount; `apply_source` verifies the deposit once (SPV,
        // keeper, commitment, depth) and refuses a head whose amount is not the verified one.
        let (key, amount) = m
            .claimed()
            .ok_or(TokenError::Spv(dsm_btc::SpvError::Malformed(
                "transaction or output",
            )))?;
        if self.rules.outpoint_used(&key) {
            return Err(TokenError::DoubleMint.into());
        }
        let proof = SourceProof {
            source: Source::BtcDeposit(Box::new(m)),
            allowlist: None,
            consumption: None,
        };
        // The head, its history line and the source proof (which names the outpoint) are one
        // batch: after any crash the outpoint is known as minted (see `load_rules`).
        self.apply_source(proof, amount, EntryKind::Minted)?;
        self.rules.mark_outpoint_used(key);
        Ok((amount, key))
    }

    /// Requests a dBTC withdrawal of `amount` satoshis to Bitcoin `to_script`: the amount
    /// leaves this device's head (in flight) in one batch. Hand the returned request to the
    /// keeper.
    pub fn request_withdrawal(
        &mut self,
        token: &TokenId,
        amount: Amount,
        to_script: Vec<u8>,
    ) -> Result<dsm_token::dbtc::WithdrawalRequest, WalletError> {
        let req = dsm_token::dbtc::WithdrawalRequest {
            token: *token,
            holder: self.device_id(),
            holder_parent_head: self.head.digest(),
            amount,
            to_script,
        };
        // Round-trip through the decoder: its rules (script length, amount) apply.
        let req = dsm_token::dbtc::WithdrawalRequest::from_bytes(&req.to_bytes())
            .map_err(|e| usage(format!("the withdrawal request is not valid: {e}")))?;
        let proof = SourceProof {
            source: Source::WithdrawRequest(Box::new(req.clone())),
            allowlist: None,
            consumption: None,
        };
        self.apply_source(proof, amount, EntryKind::WithdrawalRequested)?;
        Ok(req)
    }

    /// Records the keeper's proven payment of a withdrawal (final: never refundable). An
    /// error `KeeperEquivocation` means this device had taken the amount back after a
    /// decline: the pair is evidence against the keeper.
    pub fn observe_withdrawal_payment(
        &mut self,
        payment: &dsm_token::dbtc::WithdrawalPayment,
    ) -> Result<Digest, WalletError> {
        let id = payment.request.id();
        let result = self.rules.observe_payment(payment);
        if !matches!(result, Err(TokenError::KeeperEquivocation) | Ok(_)) {
            return Err(result.unwrap_err().into());
        }
        let mut b = Batch::new();
        b.put(
            Table::Meta,
            [b"withdrawal-paid:".as_slice(), id.to_hex().as_bytes()].concat(),
            payment.to_bytes(),
        );
        self.store.commit(&b)?;
        result?;
        Ok(id)
    }

    /// As the bridge's keeper: declines `request` (signed with this device's key, which must
    /// be the bridge's `keeper_dsm`). A keeper must never decline a request it paid.
    pub fn sign_decline(
        &mut self,
        request: dsm_token::dbtc::WithdrawalRequest,
    ) -> Result<dsm_token::dbtc::WithdrawalDecline, WalletError> {
        let p = self
            .rules
            .policy(&request.token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?;
        let bridge = p
            .bitcoin
            .as_ref()
            .ok_or_else(|| usage("that token has no Bitcoin bridge"))?;
        if bridge.keeper_dsm != *self.key.public_key() {
            return Err(usage("this device is not the bridge's keeper"));
        }
        let rnd = self.random_bytes();
        dsm_token::dbtc::decline(request, &self.key, &rnd).map_err(|e| usage(e.to_string()))
    }

    /// The document to hand the bridge's keeper with `request` (made by this wallet): the
    /// request, the statement that consumed this wallet's parcels for it, and their
    /// lineages (PROTOCOL.md §19.3).
    pub fn withdrawal_document(
        &self,
        request: &dsm_token::dbtc::WithdrawalRequest,
    ) -> Result<dsm_token::dbtc::WithdrawalDocument, WalletError> {
        let cause = dsm_token::source::request_cause(request);
        let backing = self
            .consumed_parcels(&cause)?
            .ok_or_else(|| usage("this wallet did not make that withdrawal request"))?;
        let objects = self.listed_objects(&backing.manifests)?;
        let slot_write = self.consumption_write(&backing)?;
        Ok(dsm_token::dbtc::WithdrawalDocument {
            request: request.clone(),
            backing,
            objects,
            slot_write,
        })
    }

    /// As the bridge's keeper, before paying on Bitcoin: checks a withdrawal document as
    /// every verifier of dBTC would — the request's statement is its holder's for this
    /// request, and the parcels it consumed trace back to deposits (or other sources),
    /// none known spent elsewhere (a parcel fork found is recorded). Keeps it, so `sync`
    /// claims its parcels' slots too. Whether the statement holds those slots is the online
    /// half (`online::check_withdrawal`): pay only when it does. Returns the request id.
    pub fn check_withdrawal(
        &mut self,
        doc: &dsm_token::dbtc::WithdrawalDocument,
    ) -> Result<Digest, WalletError> {
        let req = &doc.request;
        let id = req.id();
        let p = self
            .rules
            .policy(&req.token)
            .ok_or_else(|| usage("this wallet holds no policy for that token"))?;
        if p.bitcoin.is_none() {
            return Err(usage("that token has no Bitcoin bridge"));
        }
        let burn = dsm_token::source::request_statement(req, &doc.backing.consumption)
            .map_err(|e| usage(format!("withdrawal {} is refused: {e}", &id.to_hex()[..16])))?;
        let objects: std::collections::HashMap<Digest, Vec<u8>> = doc
            .objects
            .iter()
            .map(|o| (dsm_core::hash::object_address(o), o.clone()))
            .collect();
        self.check_continued(&burn, &doc.backing, &req.token, req.amount, &objects)
            .map_err(|e| usage(format!("withdrawal {} is refused: {e}", &id.to_hex()[..16])))?;
        let cause = dsm_token::source::request_cause(req);
        let mut b = Batch::new();
        self.keep_consumed(&mut b, &doc.backing, &cause, &objects)?;
        self.keep_carried_write(&mut b, &doc.backing, doc.slot_write.as_ref());
        self.store.commit(&b)?;
        Ok(id)
    }

    /// Takes a declined withdrawal back (refused once a payment is known).
    pub fn refund_withdrawal(
        &mut self,
        d: dsm_token::dbtc::WithdrawalDecline,
    ) -> Result<&DeviceHead, WalletError> {
        let amount = d.request.amount;
        // The refund continues the parcels the request consumed (PROTOCOL.md §5.6).
        let consumption = self
            .consumed_parcels(&dsm_token::source::request_cause(&d.request))?
            .ok_or_else(|| usage("this wallet did not make that withdrawal request"))?
            .consumption;
        let proof = SourceProof {
            source: Source::WithdrawRefund(Box::new(d)),
            allowlist: None,
            consumption: Some(consumption),
        };
        self.apply_source(proof, amount, EntryKind::WithdrawalRefunded)
    }

    /// This device's withdrawal requests: `(request, status)` with status `in-flight`,
    /// `paid` (final) or `refunded`.
    pub fn withdrawals(
        &self,
    ) -> Result<Vec<(dsm_token::dbtc::WithdrawalRequest, &'static str)>, WalletError> {
        let mut reqs = Vec::new();
        let mut refunded = std::collections::HashSet::new();
        for (_, v) in self.store.scan(Table::Sources)? {
            match SourceProof::from_bytes(&v).map(|p| p.source) {
                Ok(Source::WithdrawRequest(r)) => reqs.push(*r),
                Ok(Source::WithdrawRefund(d)) => {
                    refunded.insert(d.request.id());
                }
                _ => {}
            }
        }
        Ok(reqs
            .into_iter()
            .map(|r| {
                let id = r.id();
                let status = if self.rules.withdrawal_paid(&id) {
                    "paid"
                } else if refunded.contains(&id) {
                    "refunded"
                } else {
                    "in-flight"
                };
                (r, status)
            })
            .collect())
    }

    /// Records a funding outpoint as minted (learned at the storage nodes).
    pub fn mark_outpoint_used(&mut self, key: Digest) -> Result<(), WalletError> {
        self.rules.mark_outpoint_used(key);
        let mut b = Batch::new();
        b.put(
            Table::Meta,
            [b"btc-outpoint:".as_slice(), key.to_hex().as_bytes()].concat(),
            vec![1],
        );
        self.store.commit(&b)?;
        Ok(())
    }

    pub(super) fn random_bytes(&mut self) -> [u8; 32] {
        <Self as dsm_protocol::session::Ledger>::random(self)
    }
}
