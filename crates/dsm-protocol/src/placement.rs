//! Where keys live on storage nodes, when a write there counts (PROTOCOL.md §15.1), and
//! what a receiver does with an online proposal given what the nodes say (§16.3): rules
//! every wallet must apply alike, so they live here and not with the HTTP client
//! (`dsm-wallet::nodes`, which only moves bytes and reports what each node answered).

use dsm_core::chain::TokenId;
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;
use dsm_core::tripwire::Equivocation;
use dsm_core::word::Word;

/// Replication parameters: each key on N nodes, reads need K identical answers, and the
/// anchor rule tolerates f lying nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replication {
    /// Replicas per key.
    pub n: usize,
    /// Identical, address-checked answers needed to accept an object read.
    pub k: usize,
    /// Faulty nodes tolerated by the anchor rule.
    pub f: usize,
}

impl Default for Replication {
    /// N = 6, K = 3, f = 1 (so W = 4).
    fn default() -> Self {
        Replication { n: 6, k: 3, f: 1 }
    }
}

impl Replication {
    /// Checks the parameters make sense: 1 ≤ K ≤ N and the anchor quorum W fits in N.
    pub fn validate(&self) -> Result<(), String> {
        if self.n == 0 || self.k == 0 || self.k > self.n {
            return Err(format!(
                "need 1 ≤ K ≤ N (got N = {}, K = {})",
                self.n, self.k
            ));
        }
        if self.w() > self.n {
            return Err(format!(
                "with N = {} and f = {} the anchor quorum W = {} exceeds N: nothing could ever settle",
                self.n,
                self.f,
                self.w()
            ));
        }
        Ok(())
    }

    /// The anchor quorum: the smallest W with 2W − N > f, so two writers can never both
    /// reach W on N nodes with at most f of them lying.
    pub fn w(&self) -> usize {
        (self.n + self.f) / 2 + 1
    }

    /// The N nodes that hold `key`, as indices into `node_ids` in rank order: the registry
    /// ranked by `H(Placement, key, node id)`. `None` when the registry has fewer than N
    /// nodes — never a silent downgrade. Node ids are [`dsm_core::slot::node_id`]s, so a
    /// node that changes scheme or letter case holds the same keys.
    pub fn placement(&self, key: &[u8; 32], node_ids: &[String]) -> Option<Vec<usize>> {
        if node_ids.len() < self.n {
            return None;
        }
        let mut ranked: Vec<(Digest, usize)> = node_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (tagged_hash(Tag::Placement, &[key, id.as_bytes()]), i))
            .collect();
        ranked.sort();
        Some(ranked.into_iter().take(self.n).map(|(_, i)| i).collect())
    }
}

/// The placement key of owned slot or candidate list `(owner, key)`:
/// `H(Placement, owner, key)` (an object's placement key is its address).
pub fn slot_key(owner: &[u8; 32], key: &[u8; 32]) -> Digest {
    tagged_hash(Tag::Placement, &[owner, key])
}

/// What the placed nodes of a write-once slot say about our write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// At least W nodes hold exactly our bytes, and none another's: no competing write can
    /// reach W.
    Settled {
        /// Nodes that hold our bytes.
        acks: usize,
    },
    /// Some node holds another write the caller judged a rival (for a device's statement,
    /// with ours an equivocation proof).
    Conflict {
        /// The other bytes.
        existing: Vec<u8>,
        /// Nodes that hold our bytes.
        acks: usize,
    },
    /// Fewer than W acknowledgements and no rival seen (nodes down): final, not settled.
    Unsettled {
        /// Nodes that hold our bytes.
        acks: usize,
    },
}

impl Anchor {
    /// The verdict from what the nodes answered: a rival seen anywhere is a conflict;
    /// otherwise settled at W acknowledgements.
    pub fn judge(params: &Replication, rival: Option<Vec<u8>>, acks: usize) -> Anchor {
        match rival {
            Some(existing) => Anchor::Conflict { existing, acks },
            None if acks >= params.w() => Anchor::Settled { acks },
            None => Anchor::Unsettled { acks },
        }
    }

    /// The verdict for a slot whose writers may race honestly — a vault's resolution, which
    /// either party may write (PROTOCOL.md §18.3): ours at W nodes has won, whatever another
    /// node holds, since no rival can also reach W (2W − N > f). For a slot only one key
    /// writes (a device's successor, a parcel's spend), keep [`Anchor::judge`]'s verdict:
    /// any rival there is misconduct, settled or not.
    pub fn raced(self, params: &Replication) -> Anchor {
        match self {
            Anchor::Conflict { acks, .. } if acks >= params.w() => Anchor::Settled { acks },
            other => other,
        }
    }
}

/// What a candidate list settles on (PROTOCOL.md §15.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidacy {
    /// `winner` is the first valid entry at `firsts` ≥ W placed nodes. Lists are
    /// append-only, so no other entry can ever be first at W of them.
    Settled {
        /// The entry.
        winner: Vec<u8>,
        /// At how many placed nodes it is the first valid entry.
        firsts: usize,
    },
    /// No entry is first at W nodes yet: `leading` is the valid entry first at the most
    /// nodes (ties: the smaller bytes), with that count; `None` when no node holds one.
    Open {
        /// The leading entry and its count.
        leading: Option<(Vec<u8>, usize)>,
    },
}

impl Candidacy {
    /// The verdict on a candidate list from each placed node's first valid entry (nodes
    /// without one left out): settled when one entry is first at W nodes; otherwise the
    /// entry first at the most nodes leads (ties: the smaller bytes).
    pub fn judge<'a>(
        params: &Replication,
        firsts: impl IntoIterator<Item = &'a [u8]>,
    ) -> Candidacy {
        let mut counted: Vec<(Vec<u8>, usize)> = Vec::new();
        for b in firsts {
            match counted.iter_mut().find(|(x, _)| x == b) {
                Some((_, n)) => *n += 1,
                None => counted.push((b.to_vec(), 1)),
            }
        }
        counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        match counted.into_iter().next() {
            Some((winner, n)) if n >= params.w() => Candidacy::Settled { winner, firsts: n },
            leading => Candidacy::Open { leading },
        }
    }
}

/// A [`Settlement`] without its details: what a wallet's history line records, as one word
/// a store keeps and the CLI shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettlementKind {
    /// At least W nodes hold them, and no rival can ever reach W.
    Settled,
    /// Final, but fewer than W nodes reached yet.
    Unsettled,
    /// A competing statement exists (evidence was stored), or the value descends from a
    /// mint or vault resolution in conflict.
    Conflict,
    /// The signer was replaced by recovery at this head.
    Tombstoned,
}

impl Word for SettlementKind {
    const WHAT: &'static str = "settlement";
    const ALL: &'static [SettlementKind] = &[
        SettlementKind::Settled,
        SettlementKind::Unsettled,
        SettlementKind::Conflict,
        SettlementKind::Tombstoned,
    ];

    fn word(self) -> &'static str {
        match self {
            SettlementKind::Settled => "settled",
            SettlementKind::Unsettled => "unsettled",
            SettlementKind::Conflict => "conflict",
            SettlementKind::Tombstoned => "tombstoned",
        }
    }
}

impl std::fmt::Display for SettlementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// What the anchor slots say about one signed head transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// At least W nodes hold it: no competing successor can ever reach W.
    Settled {
        /// Nodes holding it.
        acks: usize,
    },
    /// Final (both signatures exist) but fewer than W nodes hold it yet (nodes down).
    Unsettled {
        /// Nodes holding it.
        acks: usize,
    },
    /// A node holds a competing successor signed by the same device: evidence was stored
    /// and published, and the device is refused from now on.
    Conflict(Equivocation),
    /// A mint the line descends from contradicts the token's published mint sequence (a
    /// reused number or a false `minted_before`): the issuers' conflict was stored, and mints
    /// of the token from that number on are refused (PROTOCOL.md §17.2).
    MintConflict {
        /// The token.
        token: TokenId,
        /// The first mint number no longer trusted.
        from: u64,
    },
    /// The line descends from a vault resolution that another resolution of the same vault
    /// beat at the nodes (PROTOCOL.md §18.3): the conflict is stored, and the vault's
    /// value is refused from now on.
    VaultConflict(Digest),
    /// The slot holds the device's verified tombstone and succession (PROTOCOL.md §20): the
    /// device was replaced by recovery at this head. The tombstone is recorded and the
    /// device is refused from now on.
    Tombstoned(DeviceId),
}

impl Settlement {
    /// The word the history shows: `settled`, `unsettled`, `conflict` or `tombstoned`.
    pub fn word(&self) -> &'static str {
        self.kind().word()
    }

    /// What a history line records of it.
    pub fn kind(&self) -> SettlementKind {
        match self {
            Settlement::Settled { .. } => SettlementKind::Settled,
            Settlement::Unsettled { .. } => SettlementKind::Unsettled,
            Settlement::Conflict(_)
            | Settlement::MintConflict { .. }
            | Settlement::VaultConflict(_) => SettlementKind::Conflict,
            Settlement::Tombstoned(_) => SettlementKind::Tombstoned,
        }
    }

    /// The weaker of two settlements (`a` absent: `b`): a conflict, then a mint conflict,
    /// then a vault conflict, then a tombstone, then unsettled, then settled (with the
    /// fewer acknowledgements). A line is only as settled as its weakest statement.
    pub fn weaker(a: Option<Settlement>, b: Settlement) -> Settlement {
        match (a, b) {
            (Some(Settlement::Conflict(w)), _) | (_, Settlement::Conflict(w)) => {
                Settlement::Conflict(w)
            }
            (Some(m @ Settlement::MintConflict { .. }), _)
            | (_, m @ Settlement::MintConflict { .. }) => m,
            (Some(v @ Settlement::VaultConflict(_)), _) | (_, v @ Settlement::VaultConflict(_)) => {
                v
            }
            (Some(Settlement::Tombstoned(d)), _) | (_, Settlement::Tombstoned(d)) => {
                Settlement::Tombstoned(d)
            }
            (Some(Settlement::Unsettled { acks }), _) | (_, Settlement::Unsettled { acks }) => {
                Settlement::Unsettled { acks }
            }
            (Some(Settlement::Settled { acks: x }), Settlement::Settled { acks: y }) => {
                Settlement::Settled { acks: x.min(y) }
            }
            (None, settled) => settled,
        }
    }

    /// The online accept rule for a b0x proposal's own anchor (PROTOCOL.md §16.3):
    /// settled goes on; not yet settled waits for a later sync; a rival successor, a
    /// conflict or the sender's tombstone drops it.
    pub fn of_anchor(&self) -> Disposition {
        match self {
            Settlement::Settled { .. } => Disposition::GoOn,
            Settlement::Unsettled { .. } => Disposition::Wait,
            Settlement::Conflict(_)
            | Settlement::MintConflict { .. }
            | Settlement::VaultConflict(_)
            | Settlement::Tombstoned(_) => Disposition::Drop,
        }
    }

    /// The online accept rule for the hops of a b0x proposal's lineage: settled goes on;
    /// a double spend, a mint conflict or a beaten vault resolution drops it; anything not
    /// yet settled (a hop's slot held by a tombstoned device's successor included, which
    /// its claims settle later) waits.
    pub fn of_lineage(&self) -> Disposition {
        match self {
            Settlement::Settled { .. } => Disposition::GoOn,
            Settlement::Conflict(_)
            | Settlement::MintConflict { .. }
            | Settlement::VaultConflict(_) => Disposition::Drop,
            Settlement::Tombstoned(_) | Settlement::Unsettled { .. } => Disposition::Wait,
        }
    }
}

/// What a receiver does with a b0x proposal after asking the nodes (PROTOCOL.md §16.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Settled: go on (to the next check, then the answer).
    GoOn,
    /// Not settled yet: keep the item (custody) and ask again at a later sync.
    Wait,
    /// Never acceptable: drop it (evidence, if any, is stored).
    Drop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quorum_keeps_two_writers_from_both_settling() {
        for n in 1..=12 {
            for f in 0..n {
                let r = Replication { n, k: 1, f };
                let w = r.w();
                assert!(2 * w > n + f, "n={n} f={f} w={w}");
                assert!(w == 1 || 2 * (w - 1) <= n + f, "W is the smallest such");
            }
        }
        assert_eq!(Replication::default().w(), 4);
    }

    #[test]
    fn a_raced_slot_is_won_at_w_and_a_single_writer_slot_never_is() {
        let r = Replication::default();
        let rival = Some(b"other".to_vec());
        let c = Anchor::judge(&r, rival.clone(), 4);
        assert!(matches!(c, Anchor::Conflict { acks: 4, .. }));
        assert_eq!(c.raced(&r), Anchor::Settled { acks: 4 });
        let below = Anchor::judge(&r, rival, 3);
        assert!(matches!(below.raced(&r), Anchor::Conflict { acks: 3, .. }));
        assert_eq!(Anchor::judge(&r, None, 4), Anchor::Settled { acks: 4 });
        assert_eq!(Anchor::judge(&r, None, 3), Anchor::Unsettled { acks: 3 });
    }

    #[test]
    fn placement_is_by_node_id_and_refuses_a_small_registry() {
        let r = Replication { n: 2, k: 1, f: 0 };
        let ids: Vec<String> = ["a:1", "b:1", "c:1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = r.placement(&[7; 32], &ids).unwrap();
        assert_eq!(p.len(), 2);
        // The same ids in another order place on the same nodes.
        let rev: Vec<String> = ids.iter().rev().cloned().collect();
        let q: Vec<&String> = r
            .placement(&[7; 32], &rev)
            .unwrap()
            .iter()
            .map(|&i| &rev[i])
            .collect();
        let p: Vec<&String> = p.iter().map(|&i| &ids[i]).collect();
        assert_eq!(p, q);
        assert_eq!(
            Replication { n: 4, k: 1, f: 0 }.placement(&[7; 32], &ids),
            None
        );
    }

    #[test]
    fn a_line_is_as_settled_as_its_weakest_statement_and_the_accept_rule_follows() {
        let t = TokenId(Digest([1; 32]));
        let mint = Settlement::MintConflict { token: t, from: 3 };
        let vault = Settlement::VaultConflict(Digest([2; 32]));
        let tomb = Settlement::Tombstoned(DeviceId(Digest([3; 32])));
        let un = Settlement::Unsettled { acks: 2 };
        let ok = |acks| Settlement::Settled { acks };
        assert_eq!(Settlement::weaker(None, ok(5)), ok(5));
        assert_eq!(Settlement::weaker(Some(ok(5)), ok(4)), ok(4));
        assert_eq!(Settlement::weaker(Some(ok(5)), un.clone()), un);
        assert_eq!(Settlement::weaker(Some(un.clone()), tomb.clone()), tomb);
        assert_eq!(Settlement::weaker(Some(tomb.clone()), vault.clone()), vault);
        assert_eq!(Settlement::weaker(Some(vault.clone()), mint.clone()), mint);
        assert_eq!(Settlement::weaker(Some(mint.clone()), ok(6)), mint);
        // The proposal's own anchor: a tombstoned sender is refused; its lineage: a hop
        // held by a successor's claim waits.
        assert_eq!(ok(4).of_anchor(), Disposition::GoOn);
        assert_eq!(un.of_anchor(), Disposition::Wait);
        assert_eq!(tomb.of_anchor(), Disposition::Drop);
        assert_eq!(mint.of_anchor(), Disposition::Drop);
        assert_eq!(ok(4).of_lineage(), Disposition::GoOn);
        assert_eq!(un.of_lineage(), Disposition::Wait);
        assert_eq!(tomb.of_lineage(), Disposition::Wait);
        assert_eq!(vault.of_lineage(), Disposition::Drop);
        assert_eq!(mint.of_lineage(), Disposition::Drop);
    }

    #[test]
    fn a_candidate_settles_when_first_at_w_nodes() {
        let r = Replication::default();
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert_eq!(
            Candidacy::judge(&r, [a, a, b, a, a]),
            Candidacy::Settled {
                winner: a.to_vec(),
                firsts: 4
            }
        );
        assert_eq!(
            Candidacy::judge(&r, [b, b, a, a, a]),
            Candidacy::Open {
                leading: Some((a.to_vec(), 3))
            }
        );
        // A tie leads with the smaller bytes.
        assert_eq!(
            Candidacy::judge(&r, [b, b, a, a]),
            Candidacy::Open {
                leading: Some((a.to_vec(), 2))
            }
        );
        assert_eq!(Candidacy::judge(&r, []), Candidacy::Open { leading: None });
    }
}
