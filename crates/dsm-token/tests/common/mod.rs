//! Fixtures: deterministic devices with real ML-DSA keys that transfer, mint, burn and win
//! emissions through the real builders and verifiers.
#![allow(dead_code)]

use dsm_core::chain::{Amount, DeviceHead, TokenId};
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId as Did;
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisDigest};
use dsm_core::parcel::{
    output_id, root_id, transfer_commit, verify_lineage, Lineage, LineageStart, Parcel,
    ParcelStatement, RootFacts, RootVerifier,
};
use dsm_core::receipt::{accept, propose, verify_proposal, EmptyView, Receipt, SegmentStep};
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use dsm_token::authority::{cosign, Authorised, BurnStatement, MintStatement, SignedMint};
use dsm_token::policy::{BurnRule, Issuers, TokenKind, TokenPolicy, TransferRule};
use dsm_token::source::{Source, SourceProof, TokenRules};

/// A device's local state plus the segment of its chain since creation.
pub struct Device {
    pub key: SigningKey,
    pub identity: DeviceIdentity,
    pub initial: DeviceHead,
    pub head: DeviceHead,
    pub tree: SparseMerkleTree,
    pub segment: Vec<SegmentStep>,
    /// The parcels it holds (PROTOCOL.md §5.6); these fixtures test token rules, so a
    /// receiver takes the sender's parcels as verified (provenance has its own tests).
    pub parcels: Vec<Parcel>,
}

/// The fixtures judge no roots: a receiver starts from the sender's parcels.
pub struct NoRoots;

impl RootVerifier for NoRoots {
    fn verify_root(&mut self, _: &[u8], _: Option<&Did>) -> Result<RootFacts, String> {
        Err("no roots here".into())
    }
}

/// Deterministic hedging randomness.
pub fn rnd(counter: &mut u64) -> [u8; 32] {
    *counter += 1;
    tagged_hash(Tag::Token, &[b"token-test-rnd", &counter.to_be_bytes()]).0
}

impl Device {
    pub fn new(n: u32) -> Device {
        let seed = tagged_hash(Tag::Token, &[b"token-test-device", &n.to_be_bytes()]).0;
        let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes(seed));
        let genesis = GenesisDigest(tagged_hash(
            Tag::Token,
            &[b"token-test-genesis", &n.to_be_bytes()],
        ));
        let identity = DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        };
        let head = DeviceHead::initial(identity.device_id(), &genesis);
        Device {
            key,
            identity,
            initial: head.clone(),
            head,
            tree: SparseMerkleTree::new(),
            segment: Vec::new(),
            parcels: Vec::new(),
        }
    }

    /// Parcels of `token` covering `amount`, largest first.
    pub fn select(&self, token: &TokenId, amount: Amount) -> Vec<Parcel> {
        let mut mine: Vec<Parcel> = self
            .parcels
            .iter()
            .filter(|p| p.token == *token)
            .copied()
            .collect();
        mine.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.id.cmp(&b.id)));
        let mut out = Vec::new();
        let mut sum = 0u128;
        for p in mine {
            if sum >= amount.0 {
                break;
            }
            sum += p.amount.0;
            out.push(p);
        }
        out
    }

    /// Applies a statement of ours (or paying us) to the parcels held.
    pub fn take_statement(&mut self, commit: &Digest, s: &ParcelStatement, token: TokenId) {
        let me = self.id();
        if s.holder == me {
            self.parcels.retain(|p| !s.inputs.contains(&p.id));
        }
        for (i, o) in s.outputs.iter().enumerate() {
            if o.to == me {
                self.parcels.push(Parcel {
                    id: output_id(commit, i),
                    token,
                    amount: o.amount,
                    holder: me,
                });
            }
        }
    }

    pub fn id(&self) -> DeviceId {
        self.identity.device_id()
    }

    pub fn balance(&self, t: &TokenId) -> u128 {
        self.head.balances.get(t).0
    }

    /// A third party re-verifies this device's whole chain from its first head with
    /// `rules`; it must end at the device's head.
    pub fn assert_chain_verifies(&self, rules: &mut TokenRules) {
        let last = dsm_core::receipt::verify_chain_segment_with_sources(
            &self.initial,
            &self.segment,
            &EmptyView,
            rules,
        )
        .unwrap();
        assert_eq!(last, self.head);
    }

    /// Applies an ALLOCATION (or BURN) justified by `proof`, after `rules` accepted it.
    pub fn apply(
        &mut self,
        rules: &mut TokenRules,
        proof: SourceProof,
    ) -> Result<(), dsm_token::source::TokenError> {
        let token = proof.token();
        let cause = proof.cause();
        let child = match &proof.source {
            Source::Burn(b) => self.head.burn_child(&token, b.statement.amount, cause),
            Source::Initial(c) => {
                let p = rules.policy(&token).expect("policy");
                let amount = p
                    .initial
                    .get(c.index as usize)
                    .map_or(Amount(1), |l| l.amount);
                self.head.allocation_child(&token, amount, cause)
            }
            Source::Mint(m) => self
                .head
                .allocation_child(&token, m.statement.amount, cause),
            Source::Emission(e) => {
                let p = rules.policy(&token).expect("policy");
                let em = dsm_token::djte::verify_step(p, &e.state, &e.step, false)?;
                self.head
                    .allocation_child(&token, em.winner.expect("winner").1, cause)
            }
            Source::VaultLock(v) => self.head.burn_child(&token, v.amount, cause),
            Source::VaultResolve(r) => {
                self.head
                    .allocation_child(&token, r.lock.policy.amount, cause)
            }
            Source::WithdrawRequest(w) => self.head.burn_child(&token, w.amount, cause),
            // A recovered parcel makes no head; the rules refuse it as one.
            Source::Recovered(_) => self.head.allocation_child(&token, Amount(1), cause),
            // A re-issue makes no head; the rules refuse it as one.
            Source::Reissue(r) => {
                self.head
                    .allocation_child(&token, r.signed.statement.amount, cause)
            }
            Source::WithdrawRefund(d) => {
                self.head.allocation_child(&token, d.request.amount, cause)
            }
            // The claimed amount (or one unit if the bytes do not parse), so that the rules
            // report why a deposit is refused.
            Source::BtcDeposit(m) => {
                self.head
                    .allocation_child(&token, m.claimed().map_or(Amount(1), |(_, a)| a), cause)
            }
        }
        .map_err(|_| dsm_token::source::TokenError::AmountMismatch)?;
        let bytes = dsm_core::codec::Canonical::to_bytes(&proof);
        rules.apply_source(&self.head, &child, &bytes)?;
        if let Some((t, a, credited)) = self.head.balance_change(&child) {
            if credited {
                self.parcels.push(Parcel {
                    id: root_id(&dsm_core::parcel::RootFacts {
                        once_key: proof.once_key()?,
                        token: t,
                        amount: a,
                        holder: self.id(),
                        burned: None,
                    }),
                    token: t,
                    amount: a,
                    holder: self.id(),
                });
            } else {
                let inputs = self.select(&t, a);
                let st = ParcelStatement::to_sink(self.id(), &t, &inputs, a).expect("to sink");
                let commit = transfer_commit(&st.digest(), &cause);
                self.take_statement(&commit, &st, t);
            }
        }
        self.segment.push(SegmentStep::Source {
            head: child.clone(),
            proof: bytes,
        });
        self.head = child;
        Ok(())
    }
}

/// One full transfer through the real builders and verifier; both devices advance.
pub fn transfer(
    s: &mut Device,
    r: &mut Device,
    token: TokenId,
    amount: u128,
    c: &mut u64,
) -> Receipt {
    let built = propose(
        &dsm_core::receipt::LocalDevice {
            identity: &s.identity,
            key: &s.key,
            head: &s.head,
            tree: &s.tree,
        },
        &r.id(),
        token,
        Amount(amount),
        &s.select(&token, Amount(amount)),
        &rnd(c),
    )
    .expect("propose");
    let vp = verify_proposal(&built.signed, &EmptyView).expect("verify proposal");
    let mut cache = dsm_core::parcel::ParcelKnowledge::new();
    for p in &s.parcels {
        cache.insert(dsm_core::parcel::KnownParcel {
            parcel: *p,
            parent: None,
        });
    }
    let lineages: Vec<_> = built
        .signed
        .proposal
        .parcels
        .inputs
        .iter()
        .map(|id| {
            let l = Lineage {
                start: LineageStart::Verified(*id),
                hops: Vec::new(),
                signers: Vec::new(),
                consumed: Vec::new(),
            };
            verify_lineage(&l, id, None, &mut NoRoots, &cache).expect("lineage")
        })
        .collect();
    let acc = accept(
        &dsm_core::receipt::LocalDevice {
            identity: &r.identity,
            key: &r.key,
            head: &r.head,
            tree: &r.tree,
        },
        &vp,
        &lineages,
        &rnd(c),
    )
    .expect("accept");
    let commit = built.signed.proposal.commit();
    s.take_statement(&commit, &built.signed.proposal.parcels, token);
    r.take_statement(&commit, &built.signed.proposal.parcels, token);
    let rel = built.signed.proposal.step.relationship;
    s.head = built.child_head;
    s.tree.insert(*rel.as_bytes(), built.child_tip.0);
    r.head = acc.child_head;
    r.tree.insert(*rel.as_bytes(), acc.child_tip.0);
    s.segment
        .push(SegmentStep::Receipt(Box::new(acc.receipt.clone())));
    r.segment
        .push(SegmentStep::Receipt(Box::new(acc.receipt.clone())));
    acc.receipt
}

/// A fungible policy with `issuers` (threshold `t`), cap, burn rule.
pub fn fungible(
    ticker: &str,
    issuers: &[&Device],
    t: u32,
    cap: u128,
    burn: BurnRule,
) -> TokenPolicy {
    TokenPolicy {
        ticker: ticker.into(),
        decimals: 2,
        kind: TokenKind::Fungible,
        cap: Amount(cap),
        salt: tagged_hash(Tag::Token, &[ticker.as_bytes()]),
        issuers: Issuers {
            threshold: t,
            keys: issuers.iter().map(|d| d.key.public_key().clone()).collect(),
        },
        burn,
        transfers: TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: None,
        bitcoin: None,
        refreshers: None,
    }
}

/// A mint of `amount` to `to` at its current head, signed by `signers` (index, device).
pub fn mint(
    policy: &TokenPolicy,
    seq: u64,
    minted_before: u128,
    amount: u128,
    to: &Device,
    signers: &[(u32, &Device)],
    c: &mut u64,
) -> SourceProof {
    let statement = MintStatement {
        token: policy.token_id(),
        seq,
        minted_before: Amount(minted_before),
        amount: Amount(amount),
        recipient: to.id(),
        recipient_parent_head: to.head.digest(),
    };
    let d = statement.digest();
    let signatures = signers
        .iter()
        .map(|(i, dev)| cosign(&dev.key, *i, &d, &rnd(c)).unwrap())
        .collect();
    SourceProof {
        source: Source::Mint(SignedMint {
            statement,
            signatures,
        }),
        allowlist: None,
        consumption: None,
    }
}

/// A holder burn of `amount` at `from`'s current head (no issuer signatures).
pub fn burn(policy: &TokenPolicy, amount: u128, from: &Device) -> SourceProof {
    SourceProof {
        source: Source::Burn(Authorised {
            statement: BurnStatement {
                token: policy.token_id(),
                device: from.id(),
                parent_head: from.head.digest(),
                amount: Amount(amount),
            },
            signatures: Vec::new(),
        }),
        allowlist: None,
        consumption: None,
    }
}

pub fn digest(label: &str) -> Digest {
    tagged_hash(Tag::Token, &[label.as_bytes()])
}

/// Locks `amount` of `policy`'s token from `creator` into a vault for `beneficiary` with
/// the given branches; returns the signed lock.
#[allow(clippy::too_many_arguments)]
pub fn lock_vault(
    rules: &mut TokenRules,
    creator: &mut Device,
    beneficiary: &Did,
    token: TokenId,
    amount: u128,
    release: dsm_token::vault::Condition,
    refund: dsm_token::vault::Condition,
    c: &mut u64,
) -> Result<dsm_token::vault::SignedVaultLock, dsm_token::source::TokenError> {
    let policy = dsm_token::vault::VaultPolicy {
        creator: creator.identity.clone(),
        creator_parent_head: creator.head.digest(),
        token,
        amount: Amount(amount),
        beneficiary: *beneficiary,
        // These fixtures test token rules, not the nodes' admission of the parties.
        beneficiary_slots: digest("the beneficiary's slot owner"),
        release,
        refund,
        salt: digest(&format!("salt{c}")),
    };
    let proof = SourceProof {
        source: Source::VaultLock(Box::new(policy.clone())),
        allowlist: None,
        consumption: None,
    };
    creator.apply(rules, proof)?;
    Ok(dsm_token::vault::sign_lock(policy, creator.head.clone(), &creator.key, &rnd(c)).unwrap())
}

/// The source proof resolving `lock` by `branch` with `witness`.
pub fn resolution(
    lock: &dsm_token::vault::SignedVaultLock,
    branch: dsm_token::vault::Branch,
    witness: dsm_token::vault::Witness,
) -> SourceProof {
    SourceProof {
        source: Source::VaultResolve(Box::new(dsm_token::vault::VaultResolution {
            lock: lock.clone(),
            branch,
            witness,
        })),
        allowlist: None,
        consumption: None,
    }
}
