//! Shared fixtures: deterministic devices that transfer to each other through the real
//! builders and verifier.
#![allow(dead_code)]

use dsm_core::chain::{Amount, DeviceHead, HeadDigest, RelationshipKey, TipDigest, TokenId};
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, EntropyReveal, GenesisCeremony};
use dsm_core::receipt::{
    accept, propose, verify_proposal, verify_receipt, ChainView, LocalDevice, Receipt,
    SignedProposal, ViewError,
};
use dsm_core::smt::SparseMerkleTree;
use dsm_core::tags::Tag;
use std::collections::{HashMap, HashSet};

/// A device's full local state.
pub struct Device {
    pub key: SigningKey,
    pub identity: DeviceIdentity,
    pub head: DeviceHead,
    pub tree: SparseMerkleTree,
}

impl Device {
    /// A device derived from `n`: key seed, genesis contributions and all are fixed.
    pub fn new(suite: SuiteId, n: u8) -> Device {
        let key = SigningKey::from_seed(suite, &SecretSeed::from_bytes([n; 32]));
        let mut c = GenesisCeremony::new(key.public_key().clone());
        let reveals: Vec<EntropyReveal> = (0..3u8)
            .map(|i| EntropyReveal {
                contributor: tagged_hash(Tag::Token, &[b"test-contributor", &[i]]),
                secret: [n ^ (i + 1); 32],
            })
            .collect();
        for r in &reveals {
            c.commit(r.contributor, r.commitment()).unwrap();
        }
        c.close_commitments();
        for r in reveals {
            c.reveal(r).unwrap();
        }
        let genesis = c.finish().unwrap().digest();
        let identity = DeviceIdentity {
            genesis,
            public_key: key.public_key().clone(),
        };
        let head = DeviceHead::initial(identity.device_id(), &genesis);
        Device {
            key,
            identity,
            head,
            tree: SparseMerkleTree::new(),
        }
    }

    pub fn id(&self) -> DeviceId {
        self.identity.device_id()
    }

    pub fn local(&self) -> LocalDevice<'_> {
        LocalDevice {
            identity: &self.identity,
            key: &self.key,
            head: &self.head,
            tree: &self.tree,
        }
    }

    /// Test funding: an allocation head (kind Allocation, cause names a fixed test source).
    pub fn fund(&mut self, token: TokenId, amount: u128) {
        self.head = self
            .head
            .allocation_child(
                &token,
                Amount(amount),
                tagged_hash(Tag::Token, &[b"test allocation"]),
            )
            .unwrap();
    }

    pub fn balance(&self, token: &TokenId) -> u128 {
        self.head.balances.get(token).0
    }
}

pub fn token() -> TokenId {
    TokenId::from_label("TEST")
}

/// Deterministic per-call randomness for hedged signing.
pub fn rnd(counter: &mut u64) -> [u8; 32] {
    *counter += 1;
    *tagged_hash(Tag::Token, &[b"rnd", &counter.to_be_bytes()]).as_bytes()
}

/// A verifier's memory, as a wallet would keep it.
#[derive(Default)]
pub struct MemoryView {
    pub heads: HashMap<(DeviceId, HeadDigest), HeadDigest>,
    pub tips: HashMap<(RelationshipKey, TipDigest), TipDigest>,
    pub banned: HashSet<DeviceId>,
}

impl ChainView for MemoryView {
    fn is_equivocator(&self, d: &DeviceId) -> Result<bool, ViewError> {
        Ok(self.banned.contains(d))
    }
    fn is_tombstoned(&self, _: &DeviceId) -> Result<bool, ViewError> {
        Ok(false)
    }
    fn head_successor(
        &self,
        d: &DeviceId,
        p: &HeadDigest,
    ) -> Result<Option<HeadDigest>, ViewError> {
        Ok(self.heads.get(&(*d, *p)).copied())
    }
    fn tip_successor(
        &self,
        r: &RelationshipKey,
        p: &TipDigest,
    ) -> Result<Option<TipDigest>, ViewError> {
        Ok(self.tips.get(&(*r, *p)).copied())
    }
}

impl MemoryView {
    pub fn record(&mut self, receipt: &Receipt) {
        let p = &receipt.proposal.proposal;
        let a = &receipt.acceptance.acceptance;
        self.heads.insert(
            (p.step.sender, p.sender_parent_head.digest()),
            p.sender_child_head.digest(),
        );
        self.heads.insert(
            (p.step.receiver, a.receiver_parent_head.digest()),
            a.receiver_child_head.digest(),
        );
        self.tips
            .insert((p.step.relationship, p.step.parent_tip), p.step.child_tip());
    }
    pub fn record_proposal(&mut self, sp: &SignedProposal) {
        let p = &sp.proposal;
        self.heads.insert(
            (p.step.sender, p.sender_parent_head.digest()),
            p.sender_child_head.digest(),
        );
        self.tips
            .insert((p.step.relationship, p.step.parent_tip), p.step.child_tip());
    }
}

/// One full transfer through the real builders and verifier; both devices advance.
pub fn transfer(
    sender: &mut Device,
    receiver: &mut Device,
    token: TokenId,
    amount: u128,
    counter: &mut u64,
) -> Receipt {
    let built = propose(
        &sender.local(),
        &receiver.id(),
        token,
        Amount(amount),
        &inputs_of(&sender.local(), token, Amount(amount)),
        &rnd(counter),
    )
    .expect("propose");
    let verified =
        verify_proposal(&built.signed, &dsm_core::receipt::EmptyView).expect("verify proposal");
    let acc = accept(
        &receiver.local(),
        &verified,
        &trusted_lineages(&verified),
        &rnd(counter),
    )
    .expect("accept");
    verify_receipt(&acc.receipt, &dsm_core::receipt::EmptyView).expect("verify receipt");
    let rel = built.signed.proposal.step.relationship;
    sender.head = built.child_head;
    sender.tree.insert(*rel.as_bytes(), built.child_tip.0);
    receiver.head = acc.child_head;
    receiver.tree.insert(*rel.as_bytes(), acc.child_tip.0);
    assert_eq!(sender.tree.root(), sender.head.smt_root);
    assert_eq!(receiver.tree.root(), receiver.head.smt_root);
    acc.receipt
}

pub fn digest_of(label: &str) -> Digest {
    tagged_hash(Tag::Token, &[label.as_bytes()])
}

/// The parcel a test device pays `token` from: its whole balance as one parcel whose id is
/// derived from its head. These fixtures test the receipt predicate; lineages have their
/// own tests (`parcel.rs`), so a receiver here takes the sender's inputs as verified
/// ([`trusted_lineages`]).
pub fn inputs_of(
    l: &LocalDevice<'_>,
    token: TokenId,
    amount: Amount,
) -> Vec<dsm_core::parcel::Parcel> {
    let _ = amount;
    vec![dsm_core::parcel::Parcel {
        id: dsm_core::parcel::ParcelId(tagged_hash(
            Tag::Token,
            &[b"test-parcel", l.head.digest().as_bytes(), token.as_bytes()],
        )),
        token,
        amount: l.head.balances.get(&token),
        holder: l.identity.device_id(),
    }]
}

/// The inputs of `vp`, taken as verified (each holds what its outputs add up to).
pub fn trusted_lineages(
    vp: &dsm_core::receipt::VerifiedProposal,
) -> Vec<dsm_core::parcel::VerifiedLineage> {
    struct NoRoots;
    impl dsm_core::parcel::RootVerifier for NoRoots {
        fn verify_root(
            &mut self,
            _: &[u8],
            _: Option<&DeviceId>,
        ) -> Result<dsm_core::parcel::RootFacts, String> {
            Err("no roots in these fixtures".into())
        }
    }
    let p = &vp.signed().proposal;
    let mut cache = dsm_core::parcel::ParcelKnowledge::new();
    for (j, id) in p.parcels.inputs.iter().enumerate() {
        let amount = p
            .parcels
            .outputs_of(j)
            .fold(0u128, |a, (_, o)| a.saturating_add(o.amount.0));
        cache.insert(dsm_core::parcel::KnownParcel {
            parcel: dsm_core::parcel::Parcel {
                id: *id,
                token: p.step.token,
                amount: Amount(amount),
                holder: p.step.sender,
            },
            parent: None,
        });
    }
    p.parcels
        .inputs
        .iter()
        .map(|id| {
            let l = dsm_core::parcel::Lineage {
                start: dsm_core::parcel::LineageStart::Verified(*id),
                hops: Vec::new(),
                signers: Vec::new(),
                consumed: Vec::new(),
            };
            dsm_core::parcel::verify_lineage(&l, id, None, &mut NoRoots, &cache).expect("lineage")
        })
        .collect()
}
