//! Client-side replication over storage nodes (PROTOCOL.md §15.1). Nodes are dumb and may
//! be down, corrupt or lying; the client decides. Each key is placed on N nodes of the
//! registry by a keyed ranking; an object read is accepted only when K nodes return
//! identical bytes that re-derive its address; an anchor counts as settled only with W
//! acknowledgements where 2W − N > f. Misbehaviour seen on the way is reported.

use dsm_core::hash::{object_address, tagged_hash, Digest};
use dsm_core::tags::Tag;
use std::time::Duration;
use thiserror::Error;

/// Replication parameters.
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
    /// The anchor quorum: the smallest W with 2W − N > f, so two writers can never both
    /// reach W on N nodes with at most f of them lying.
    pub fn w(&self) -> usize {
        (self.n + self.f) / 2 + 1
    }
}

/// A node did something a correct node never does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFault {
    /// The node's base URL.
    pub node: String,
    /// What it did.
    pub what: String,
}

/// Why a replicated operation did not succeed.
#[derive(Debug, Error)]
pub enum ReplicationError {
    /// Fewer than K nodes returned matching, valid bytes.
    #[error("only {got} of the {want} matching replicas needed were found")]
    NotEnoughReplicas {
        /// Matching replicas found.
        got: usize,
        /// Replicas needed.
        want: usize,
    },
    /// The registry has fewer nodes than N.
    #[error("the registry has {have} nodes; replication needs {need}")]
    RegistryTooSmall {
        /// Nodes in the registry.
        have: usize,
        /// N.
        need: usize,
    },
}

/// The result of anchoring a head transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// At least W nodes hold exactly our bytes: no competing successor can reach W.
    Settled {
        /// Nodes that hold our bytes.
        acks: usize,
    },
    /// Another successor was found at some node: with ours, an equivocation proof.
    Conflict {
        /// The other bytes.
        existing: Vec<u8>,
        /// Nodes that hold our bytes.
        acks: usize,
    },
    /// Fewer than W acknowledgements and no conflict seen (nodes down): final, not settled.
    Unsettled {
        /// Nodes that hold our bytes.
        acks: usize,
    },
}

/// What an anchor write or check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorReport {
    /// The verdict.
    pub outcome: Anchor,
    /// The nodes that hold our bytes.
    pub acked: Vec<String>,
    /// Misbehaviour seen.
    pub faults: Vec<NodeFault>,
}

/// A set of storage nodes and how keys are replicated on them.
pub struct NodeSet {
    nodes: Vec<String>,
    params: Replication,
    agent: ureq::Agent,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl NodeSet {
    /// A registry of node base URLs (e.g. `http://127.0.0.1:7600`), deduplicated and sorted.
    pub fn new(mut nodes: Vec<String>, params: Replication, timeout: Duration) -> Self {
        for n in nodes.iter_mut() {
            while n.ends_with('/') {
                n.pop();
            }
        }
        nodes.sort();
        nodes.dedup();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        NodeSet {
            nodes,
            params,
            agent,
        }
    }

    /// The N nodes that hold `key`: the registry ranked by `H(Placement, key, url)`.
    pub fn placement(&self, key: &[u8; 32]) -> Result<Vec<&str>, ReplicationError> {
        if self.nodes.len() < self.params.n {
            return Err(ReplicationError::RegistryTooSmall {
                have: self.nodes.len(),
                need: self.params.n,
            });
        }
        let mut ranked: Vec<(Digest, &str)> = self
            .nodes
            .iter()
            .map(|u| {
                (
                    tagged_hash(Tag::Placement, &[key, u.as_bytes()]),
                    u.as_str(),
                )
            })
            .collect();
        ranked.sort();
        Ok(ranked
            .into_iter()
            .take(self.params.n)
            .map(|(_, u)| u)
            .collect())
    }

    fn request(&self, method: &str, url: &str, body: Option<&[u8]>) -> Option<(u16, Vec<u8>)> {
        let r = match (method, body) {
            ("GET", _) => self.agent.get(url).call(),
            ("PUT", Some(b)) => self.agent.put(url).send(b),
            _ => return None,
        };
        let r = r.ok()?;
        let status = r.status().as_u16();
        let body = r
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .ok()?;
        Some((status, body))
    }

    /// Stores an object on its N nodes; returns its address, how many nodes stored it, and
    /// any faults seen. Succeeds when at least K nodes hold it.
    pub fn put_object(
        &self,
        bytes: &[u8],
    ) -> Result<(Digest, usize, Vec<NodeFault>), ReplicationError> {
        let addr = object_address(bytes);
        let mut stored = 0;
        let mut faults = Vec::new();
        for node in self.placement(addr.as_bytes())? {
            match self.request(
                "PUT",
                &format!("{node}/v1/objects/{}", hex(addr.as_bytes())),
                Some(bytes),
            ) {
                Some((200 | 201, _)) => stored += 1,
                Some((status, _)) => faults.push(NodeFault {
                    node: node.into(),
                    what: format!("refused a valid object with status {status}"),
                }),
                None => {}
            }
        }
        if stored < self.params.k {
            return Err(ReplicationError::NotEnoughReplicas {
                got: stored,
                want: self.params.k,
            });
        }
        Ok((addr, stored, faults))
    }

    /// Reads an object: accepted when K of its N nodes return identical bytes that hash to
    /// `addr`. A node returning other bytes is reported.
    pub fn get_object(&self, addr: &Digest) -> Result<(Vec<u8>, Vec<NodeFault>), ReplicationError> {
        let mut faults = Vec::new();
        let mut good: Option<(Vec<u8>, usize)> = None;
        for node in self.placement(addr.as_bytes())? {
            if let Some((200, body)) = self.request(
                "GET",
                &format!("{node}/v1/objects/{}", hex(addr.as_bytes())),
                None,
            ) {
                if object_address(&body) != *addr {
                    faults.push(NodeFault {
                        node: node.into(),
                        what: "served bytes that do not hash to the requested address".into(),
                    });
                    continue;
                }
                match &mut good {
                    Some((b, n)) if *b == body => *n += 1,
                    Some(_) => faults.push(NodeFault {
                        node: node.into(),
                        what: "served different bytes for one address".into(),
                    }),
                    None => good = Some((body, 1)),
                }
            }
        }
        match good {
            Some((b, n)) if n >= self.params.k => Ok((b, faults)),
            other => Err(ReplicationError::NotEnoughReplicas {
                got: other.map(|(_, n)| n).unwrap_or(0),
                want: self.params.k,
            }),
        }
    }

    /// Anchors `bytes` (a signed head transition) in slot (device, parent) on the slot's N
    /// nodes: first writer wins at each node. Settled with W acknowledgements.
    pub fn anchor(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
        bytes: &[u8],
    ) -> Result<AnchorReport, ReplicationError> {
        let mut acked = Vec::new();
        let mut existing = None;
        for node in self.slot_placement(device, parent)? {
            match self.request(
                "PUT",
                &format!("{node}/v1/slots/{}/{}", hex(device), hex(parent)),
                Some(bytes),
            ) {
                Some((200 | 201, _)) => acked.push(node.to_string()),
                Some((409, other)) if !other.is_empty() => existing = Some(other),
                _ => {}
            }
        }
        Ok(self.verdict(existing, acked, Vec::new()))
    }

    /// Checks a slot after the fact: which of its nodes hold `bytes`, and whether any holds
    /// something else. A node that reports the slot empty after acknowledging our write
    /// (`acked_before`) is lying and is reported.
    pub fn check_anchor(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
        bytes: &[u8],
        acked_before: &[String],
    ) -> Result<AnchorReport, ReplicationError> {
        let mut acked = Vec::new();
        let mut existing = None;
        let mut faults = Vec::new();
        for node in self.slot_placement(device, parent)? {
            match self.request(
                "GET",
                &format!("{node}/v1/slots/{}/{}", hex(device), hex(parent)),
                None,
            ) {
                Some((200, b)) if b == bytes => acked.push(node.to_string()),
                Some((200, b)) => existing = Some(b),
                Some((404, _)) if acked_before.iter().any(|a| a == node) => {
                    faults.push(NodeFault {
                        node: node.into(),
                        what: "claims an anchor slot is empty after acknowledging a write to it"
                            .into(),
                    })
                }
                _ => {}
            }
        }
        Ok(self.verdict(existing, acked, faults))
    }

    fn verdict(
        &self,
        existing: Option<Vec<u8>>,
        acked: Vec<String>,
        faults: Vec<NodeFault>,
    ) -> AnchorReport {
        let acks = acked.len();
        let outcome = match existing {
            Some(existing) => Anchor::Conflict { existing, acks },
            None if acks >= self.params.w() => Anchor::Settled { acks },
            None => Anchor::Unsettled { acks },
        };
        AnchorReport {
            outcome,
            acked,
            faults,
        }
    }

    fn slot_placement(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
    ) -> Result<Vec<&str>, ReplicationError> {
        self.placement(tagged_hash(Tag::Placement, &[device, parent]).as_bytes())
    }

    /// The nodes that hold the anchor slot (device, parent): the placement of
    /// `H(Placement, device, parent)`.
    pub fn slot_nodes(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
    ) -> Result<Vec<String>, ReplicationError> {
        Ok(self
            .slot_placement(device, parent)?
            .into_iter()
            .map(String::from)
            .collect())
    }
}
