//! Which third-party proposals a hello gossips (PROTOCOL.md §12.5): the rule every wallet
//! applies alike, sans-IO. The wallet drives a [`GossipPicker`] with what its store holds —
//! its evidence, then its witnessed proposals newest first — and remembers per peer what it
//! sent ([`GossipPicker::remember`]).

use dsm_core::identity::DeviceId;
use dsm_core::receipt::SignedProposal;
use dsm_core::tripwire::{EquivocationProof, Statement};

/// Chooses a hello's gossip: the proposal halves of held equivocation proofs in at most half
/// the places (so cheaply made equivocators cannot crowd out the rest), then recent
/// witnessed proposals not sent to this peer before; never a proposal by either party.
#[derive(Debug)]
pub struct GossipPicker<'a> {
    max: usize,
    exclude: &'a [DeviceId],
    out: Vec<SignedProposal>,
    newly: Vec<Vec<u8>>,
}

impl<'a> GossipPicker<'a> {
    /// A picker for at most `max` proposals, none by a device in `exclude` (the two
    /// parties).
    pub fn new(max: usize, exclude: &'a [DeviceId]) -> Self {
        GossipPicker {
            max,
            exclude,
            out: Vec::new(),
            newly: Vec::new(),
        }
    }

    /// How many of the newest witnessed entries are worth scanning.
    pub fn scan_window(&self) -> usize {
        self.max * 4
    }

    /// Offers a held proof; returns false once evidence has its share (stop offering).
    pub fn evidence(&mut self, proof: &EquivocationProof) -> bool {
        let share = self.max / 2;
        if self.out.len() >= share {
            return false;
        }
        // A parcel fork of hops alone travels through the nodes and `forks` instead.
        if let Some((a, b)) = proof.statements() {
            for st in [a, b] {
                if let Statement::Proposal(p) = st {
                    if !self.exclude.contains(&p.proposal.step.sender) && self.out.len() < share {
                        self.out.push(p.clone());
                    }
                }
            }
        }
        self.out.len() < share
    }

    /// Whether the witnessed entry under `key` (device id ‖ head digest) is worth reading:
    /// there is room, it is not by a party, and it was not `already_sent` to this peer.
    /// Decided from the key alone, before anything is read.
    pub fn wants(&self, key: &[u8], already_sent: bool) -> bool {
        self.out.len() < self.max
            && key.len() == 64
            && !self.exclude.iter().any(|d| key[..32] == d.as_bytes()[..])
            && !already_sent
    }

    /// Offers the witnessed proposal under `key`; returns true if it was taken.
    pub fn recent(&mut self, key: &[u8], p: SignedProposal) -> bool {
        if self.out.len() >= self.max || self.out.contains(&p) {
            return false;
        }
        self.out.push(p);
        self.newly.push(key.to_vec());
        true
    }

    /// Adds what this hello sends to what the peer was sent before (`sent`), keeping the
    /// newest [`GossipPicker::scan_window`]: enough to cover every candidate of the next
    /// hello. Returns the proposals to send.
    pub fn remember(self, sent: Option<&mut Vec<Vec<u8>>>) -> Vec<SignedProposal> {
        if let Some(a) = sent {
            a.extend(self.newly);
            let excess = a.len().saturating_sub(4 * self.max);
            a.drain(..excess);
        }
        self.out
    }
}
