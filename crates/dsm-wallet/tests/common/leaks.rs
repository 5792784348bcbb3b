//! The search for business in clear at storage nodes (PROTOCOL.md §16.6): what a wallet
//! knows that must never be found in a node's store file. Shared by `privacy.rs` here and
//! `dsm-cli/tests/demo.rs` (included there by path).

use dsm_core::codec::Canonical;
use dsm_core::hash::object_address;
use dsm_wallet::Wallet;

/// What must never be found at a node, each with what it is (the first name given to the
/// same bytes is kept).
#[derive(Default)]
pub struct Secrets(pub Vec<(String, Vec<u8>)>);

impl Secrets {
    pub fn add(&mut self, what: impl Into<String>, bytes: &[u8]) {
        if !self.0.iter().any(|(_, b)| b == bytes) {
            self.0.push((what.into(), bytes.to_vec()));
        }
    }

    /// A wallet's device id, genesis and current head.
    pub fn wallet(&mut self, name: &str, w: &Wallet) {
        self.add(format!("{name}'s device id"), w.device_id().as_bytes());
        self.add(format!("{name}'s genesis"), w.identity().genesis.as_bytes());
        self.add(
            format!("{name}'s head at height {}", w.head().height),
            w.head().digest().as_bytes(),
        );
    }

    /// [`Self::wallet`], every token it holds a policy of, and [`Self::proposal`] of each of
    /// its receipts.
    pub fn everything_of(&mut self, name: &str, w: &Wallet) {
        self.wallet(name, w);
        for t in w.tokens() {
            self.add(format!("token {}", t.policy.ticker), t.id.as_bytes());
        }
        for e in w.history().unwrap() {
            let Some(id) = e.receipt else { continue };
            if let Some(r) = w.receipt(&id.to_hex()).unwrap() {
                self.proposal(
                    &format!("{name}'s receipt at height {}", e.height),
                    &r.proposal,
                );
            }
        }
    }

    /// Everything a signed proposal says that identifies the business.
    pub fn proposal(&mut self, what: &str, p: &dsm_core::receipt::SignedProposal) {
        let q = &p.proposal;
        self.add(
            format!("{what}: parent head"),
            q.sender_parent_head.digest().as_bytes(),
        );
        self.add(
            format!("{what}: child head"),
            q.sender_child_head.digest().as_bytes(),
        );
        self.add(
            format!("{what}: relationship"),
            q.step.relationship.as_bytes(),
        );
        let hop = p.hop();
        // A distinctive run of the canonical hop and of the canonical proposal.
        self.add(format!("{what}: the hop in clear"), &hop.to_bytes()[..64]);
        self.add(
            format!("{what}: the proposal in clear"),
            &p.to_bytes()[..64],
        );
        self.add(
            format!("{what}: the hop's object address"),
            object_address(&hop.to_bytes()).as_bytes(),
        );
        for i in &hop.statement.inputs {
            self.add(format!("{what}: consumed parcel"), i.as_bytes());
        }
        for o in hop.output_ids() {
            self.add(format!("{what}: output parcel"), o.as_bytes());
        }
    }

    /// Fails naming every secret found on any node's disk, and where.
    pub fn assert_on_no_disk(&self, disks: &[Vec<u8>]) {
        let mut leaks = Vec::new();
        for (i, disk) in disks.iter().enumerate() {
            for (what, bytes) in &self.0 {
                if found(disk, bytes) {
                    leaks.push(format!("node {i}: {what}"));
                }
            }
        }
        assert!(leaks.is_empty(), "found at the nodes: {leaks:#?}");
    }
}

pub fn found(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
