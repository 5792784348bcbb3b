//! Client-side replication over storage nodes (PROTOCOL.md §15.1). Nodes are dumb and may
//! be down, corrupt or lying; the client decides. Each key is placed on N nodes of the
//! registry by a keyed ranking; an object read is accepted only when K nodes return
//! identical bytes that re-derive its address; an anchor counts as settled only with W
//! acknowledgements where 2W − N > f. Misbehaviour seen on the way is reported.

use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, tagged_hash, Digest};
use dsm_core::slot::OwnedPut;
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

/// What one placed node answered for a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotReplica {
    /// These bytes.
    Holds(Vec<u8>),
    /// Nothing is in the slot.
    Empty,
    /// No usable answer (down, timeout, server error).
    Unreachable,
}

/// A set of storage nodes and how keys are replicated on them.
pub struct NodeSet {
    nodes: Vec<String>,
    params: Replication,
    agent: ureq::Agent,
}

/// Sorts what a node claims a slot holds into a rival successor or a fault.
/// What other bytes found in a slot are, judged by the caller (who can verify them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judged {
    /// Another encoding of what we wrote (the same statement): counts as holding ours.
    Same,
    /// A verified competing statement.
    Rival,
    /// Bytes that prove nothing.
    Noise,
}

fn classify(
    node: &str,
    other: Vec<u8>,
    judge: &dyn Fn(&[u8]) -> Judged,
    acked: &mut Vec<String>,
    existing: &mut Option<Vec<u8>>,
    faults: &mut Vec<NodeFault>,
) {
    match judge(&other) {
        Judged::Same => acked.push(node.to_string()),
        Judged::Rival => {
            existing.get_or_insert(other);
        }
        Judged::Noise => faults.push(NodeFault {
            node: node.into(),
            what: "claims a slot holds bytes that are not a competing statement".into(),
        }),
    }
}

fn owned_url(node: &str, owner: &Digest, key: &Digest) -> String {
    format!(
        "{node}/v1/owned/{}/{}",
        hex(owner.as_bytes()),
        hex(key.as_bytes())
    )
}

/// `bytes` as a write valid for owned slot `(owner, key)`: what an honest node stores.
fn checked(bytes: &[u8], owner: &Digest, key: &Digest) -> Option<OwnedPut> {
    let p = OwnedPut::from_bytes(bytes).ok()?;
    p.check(owner, key).ok()?;
    Some(p)
}

/// The body of `bytes` read from owned slot `(owner, key)` when they are a write valid for
/// that slot; `None` for anything else (an honest node stores nothing else).
pub fn owned_body(bytes: &[u8], owner: &Digest, key: &Digest) -> Option<Vec<u8>> {
    checked(bytes, owner, key).map(|p| p.body)
}

fn unauthorized(node: &str) -> NodeFault {
    NodeFault {
        node: node.into(),
        what: "holds an owned-slot write its owner did not authorize".into(),
    }
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
            ("POST", Some(b)) => self.agent.post(url).send(b),
            ("POST", None) => self.agent.post(url).send_empty(),
            ("DELETE", _) => self.agent.delete(url).call(),
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

    /// Reads an object from the first placed node that serves bytes hashing to `addr`: the
    /// address proves them, so no quorum is needed (a lineage object a b0x item lists).
    /// `None` when no placed node has it; a node serving other bytes is reported.
    pub fn find_object(
        &self,
        addr: &Digest,
    ) -> Result<(Option<Vec<u8>>, Vec<NodeFault>), ReplicationError> {
        let mut faults = Vec::new();
        for node in self.placement(addr.as_bytes())? {
            if let Some((200, body)) = self.request(
                "GET",
                &format!("{node}/v1/objects/{}", hex(addr.as_bytes())),
                None,
            ) {
                if object_address(&body) == *addr {
                    return Ok((Some(body), faults));
                }
                faults.push(NodeFault {
                    node: node.into(),
                    what: "served bytes that do not hash to the requested address".into(),
                });
            }
        }
        Ok((None, faults))
    }

    /// Anchors `bytes` (a signed head transition) in slot (device, parent) on the slot's N
    /// nodes: first writer wins at each node. Settled with W acknowledgements. Bytes a node
    /// claims the slot holds count as a conflict only when `is_rival` says they are a
    /// genuine competing successor (the caller checks signatures); otherwise the node is
    /// reported, so one lying node cannot fake a conflict.
    pub fn anchor(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
        bytes: &[u8],
        is_rival: &dyn Fn(&[u8]) -> bool,
    ) -> Result<AnchorReport, ReplicationError> {
        let judge = |b: &[u8]| {
            if is_rival(b) {
                Judged::Rival
            } else {
                Judged::Noise
            }
        };
        self.anchor_judged(device, parent, bytes, &judge)
    }

    /// [`NodeSet::anchor`] where the caller judges other bytes found in the slot: another
    /// encoding of the same statement counts as holding ours (a parcel slot compares
    /// commits, never bytes, PROTOCOL.md §5.6).
    pub fn anchor_judged(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
        bytes: &[u8],
        judge: &dyn Fn(&[u8]) -> Judged,
    ) -> Result<AnchorReport, ReplicationError> {
        let mut acked = Vec::new();
        let mut existing = None;
        let mut faults = Vec::new();
        for node in self.slot_placement(device, parent)? {
            match self.request(
                "PUT",
                &format!("{node}/v1/slots/{}/{}", hex(device), hex(parent)),
                Some(bytes),
            ) {
                Some((200 | 201, _)) => acked.push(node.to_string()),
                Some((409, other)) => {
                    classify(node, other, judge, &mut acked, &mut existing, &mut faults)
                }
                _ => {}
            }
        }
        Ok(self.verdict(existing, acked, faults))
    }

    /// Checks a slot after the fact: which of its nodes hold `bytes`, and whether any holds
    /// a rival (see [`NodeSet::anchor`]). A node that reports the slot empty after
    /// acknowledging our write (`acked_before`) is lying and is reported.
    pub fn check_anchor(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
        bytes: &[u8],
        acked_before: &[String],
        is_rival: &dyn Fn(&[u8]) -> bool,
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
                Some((200, b)) => classify(
                    node,
                    b,
                    &|x: &[u8]| {
                        if is_rival(x) {
                            Judged::Rival
                        } else {
                            Judged::Noise
                        }
                    },
                    &mut acked,
                    &mut existing,
                    &mut faults,
                ),
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

    /// Reads slot (device, parent): `Ok(None)` when no placed node holds anything, the
    /// bytes when K placed nodes return identical bytes. Different bytes on other nodes
    /// are returned as faults (the caller verifies what it reads; a slot is first writer
    /// wins, so honest nodes agree).
    pub fn read_slot(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
    ) -> Result<(Option<Vec<u8>>, Vec<NodeFault>), ReplicationError> {
        let mut seen: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut empty = 0usize;
        for node in self.slot_placement(device, parent)? {
            match self.request(
                "GET",
                &format!("{node}/v1/slots/{}/{}", hex(device), hex(parent)),
                None,
            ) {
                Some((200, b)) => match seen.iter_mut().find(|(x, _)| *x == b) {
                    Some((_, n)) => *n += 1,
                    None => seen.push((b, 1)),
                },
                Some((404, _)) => empty += 1,
                _ => {}
            }
        }
        seen.sort_by_key(|x| std::cmp::Reverse(x.1));
        let faults = seen
            .iter()
            .skip(1)
            .map(|_| NodeFault {
                node: "(slot replicas)".into(),
                what: "placed nodes hold different bytes in one slot".into(),
            })
            .collect();
        match seen.first() {
            Some((b, n)) if *n >= self.params.k => Ok((Some(b.clone()), faults)),
            None if empty >= self.params.k => Ok((None, faults)),
            other => Err(ReplicationError::NotEnoughReplicas {
                got: other.map(|(_, n)| *n).unwrap_or(empty),
                want: self.params.k,
            }),
        }
    }

    /// What each of slot (device, parent)'s placed nodes answers, without judging: the
    /// caller compares replicas (recovery reads capsules this way, to report stale nodes).
    pub fn slot_replicas(
        &self,
        device: &[u8; 32],
        parent: &[u8; 32],
    ) -> Result<Vec<(String, SlotReplica)>, ReplicationError> {
        let mut out = Vec::new();
        for node in self.slot_placement(device, parent)? {
            let r = match self.request(
                "GET",
                &format!("{node}/v1/slots/{}/{}", hex(device), hex(parent)),
                None,
            ) {
                Some((200, b)) => SlotReplica::Holds(b),
                Some((404, _)) => SlotReplica::Empty,
                _ => SlotReplica::Unreachable,
            };
            out.push((node.to_string(), r));
        }
        Ok(out)
    }

    /// Puts `put` in owned slot `(owner, key)` (PROTOCOL.md §15.2) on the slot's N nodes:
    /// first writer wins at each node, settled with W acknowledgements. A node's 409 carries
    /// the write it holds, whose body `judge` sorts; a held write that is not a valid
    /// authorization for the slot is reported, since an honest node never stores one.
    pub fn anchor_owned(
        &self,
        owner: &Digest,
        key: &Digest,
        put: &OwnedPut,
        judge: &dyn Fn(&[u8]) -> Judged,
    ) -> Result<AnchorReport, ReplicationError> {
        let bytes = put.to_bytes();
        let mut acked = Vec::new();
        let mut existing = None;
        let mut faults = Vec::new();
        for node in self.slot_placement(owner.as_bytes(), key.as_bytes())? {
            match self.request("PUT", &owned_url(node, owner, key), Some(&bytes)) {
                Some((200 | 201, _)) => acked.push(node.to_string()),
                Some((409, other)) => match checked(&other, owner, key) {
                    Some(held) => classify(
                        node,
                        held.body,
                        judge,
                        &mut acked,
                        &mut existing,
                        &mut faults,
                    ),
                    None => faults.push(unauthorized(node)),
                },
                _ => {}
            }
        }
        Ok(self.verdict(existing, acked, faults))
    }

    /// Settles `body`'s place in owned slot `(owner, key)`: with `put` (a write that
    /// authorizes it) as [`NodeSet::anchor_owned`]; without one, by copying a valid write of
    /// the same body (as `judge` says) that some placed node holds to the others — anyone
    /// may re-put a write it found, since the write carries its own authorization. No node
    /// holding one: unsettled with no acknowledgement, or a conflict when a node holds a
    /// rival.
    pub fn settle_owned(
        &self,
        owner: &Digest,
        key: &Digest,
        put: Option<&OwnedPut>,
        judge: &dyn Fn(&[u8]) -> Judged,
    ) -> Result<AnchorReport, ReplicationError> {
        if let Some(p) = put {
            return self.anchor_owned(owner, key, p, judge);
        }
        let mut found = None;
        let mut rival = None;
        let mut faults = Vec::new();
        for (node, replica) in self.owned_replicas(owner, key)? {
            let SlotReplica::Holds(b) = replica else {
                continue;
            };
            match checked(&b, owner, key) {
                Some(p) => match judge(&p.body) {
                    Judged::Same => {
                        found.get_or_insert(p);
                    }
                    Judged::Rival => {
                        rival.get_or_insert(p.body);
                    }
                    Judged::Noise => faults.push(NodeFault {
                        node,
                        what: "claims a slot holds bytes that are not a competing statement".into(),
                    }),
                },
                None => faults.push(unauthorized(&node)),
            }
        }
        match found {
            Some(p) => {
                let mut r = self.anchor_owned(owner, key, &p, judge)?;
                r.faults.extend(faults);
                Ok(r)
            }
            None => Ok(self.verdict(rival, Vec::new(), faults)),
        }
    }

    /// Reads owned slot `(owner, key)`: `Ok(None)` when K placed nodes say it is empty, the
    /// write K placed nodes hold with one body (compared by body: writes are signed, any
    /// valid signature will do), else not enough replicas. A node holding a write that is not
    /// valid for the slot is reported and not counted.
    pub fn read_owned(
        &self,
        owner: &Digest,
        key: &Digest,
    ) -> Result<(Option<OwnedPut>, Vec<NodeFault>), ReplicationError> {
        let mut seen: Vec<(OwnedPut, usize)> = Vec::new();
        let mut empty = 0usize;
        let mut faults = Vec::new();
        for (node, replica) in self.owned_replicas(owner, key)? {
            match replica {
                SlotReplica::Holds(b) => match checked(&b, owner, key) {
                    Some(p) => match seen.iter_mut().find(|(x, _)| x.body == p.body) {
                        Some((_, n)) => *n += 1,
                        None => seen.push((p, 1)),
                    },
                    None => faults.push(unauthorized(&node)),
                },
                SlotReplica::Empty => empty += 1,
                SlotReplica::Unreachable => {}
            }
        }
        seen.sort_by_key(|x| std::cmp::Reverse(x.1));
        match seen.first() {
            Some((p, n)) if *n >= self.params.k => Ok((Some(p.clone()), faults)),
            None if empty >= self.params.k => Ok((None, faults)),
            other => Err(ReplicationError::NotEnoughReplicas {
                got: other.map(|(_, n)| *n).unwrap_or(empty),
                want: self.params.k,
            }),
        }
    }

    /// What each of owned slot `(owner, key)`'s placed nodes answers, unjudged (the bytes
    /// are the stored [`OwnedPut`]).
    pub fn owned_replicas(
        &self,
        owner: &Digest,
        key: &Digest,
    ) -> Result<Vec<(String, SlotReplica)>, ReplicationError> {
        let nodes = self.slot_placement(owner.as_bytes(), key.as_bytes())?;
        Ok(in_parallel(&nodes, |node| {
            match self.request("GET", &owned_url(node, owner, key), None) {
                Some((200, b)) => SlotReplica::Holds(b),
                Some((404, _)) => SlotReplica::Empty,
                _ => SlotReplica::Unreachable,
            }
        })
        .into_iter()
        .zip(nodes)
        .map(|(r, n)| (n.to_string(), r.unwrap_or(SlotReplica::Unreachable)))
        .collect())
    }

    /// The registry, sorted.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The replication parameters.
    pub fn params(&self) -> Replication {
        self.params
    }

    /// Appends an item to the b0x at `address` on that address's N nodes. Succeeds when at
    /// least K nodes stored it (items are signed statements: the reader needs only one
    /// copy, K is for availability).
    pub fn b0x_post(&self, address: &Digest, bytes: &[u8]) -> Result<usize, ReplicationError> {
        let mut stored = 0;
        for node in self.placement(address.as_bytes())? {
            if let Some((201, _)) = self.request(
                "POST",
                &format!("{node}/v1/b0x/{}", hex(address.as_bytes())),
                Some(bytes),
            ) {
                stored += 1;
            }
        }
        if stored < self.params.k {
            return Err(ReplicationError::NotEnoughReplicas {
                got: stored,
                want: self.params.k,
            });
        }
        Ok(stored)
    }

    /// Every item waiting in the b0x at `address` on each of its N nodes (copies of one
    /// item arrive once per node; the caller's processing is idempotent). Nodes that do not
    /// answer are skipped; a node whose listing does not parse is reported.
    pub fn b0x_fetch(
        &self,
        address: &Digest,
    ) -> Result<(Vec<B0xItem>, Vec<NodeFault>), ReplicationError> {
        let mut items = Vec::new();
        let mut faults = Vec::new();
        for node in self.placement(address.as_bytes())? {
            let Some((200, body)) = self.request(
                "GET",
                &format!("{node}/v1/b0x/{}", hex(address.as_bytes())),
                None,
            ) else {
                continue;
            };
            match parse_list(&body, false) {
                Some(list) => items.extend(list.into_iter().map(|(seq, _, bytes)| B0xItem {
                    node: node.to_string(),
                    seq,
                    bytes,
                })),
                None => faults.push(NodeFault {
                    node: node.into(),
                    what: "sent a b0x listing that does not parse".into(),
                }),
            }
        }
        Ok((items, faults))
    }

    /// Removes items with sequence number ≤ `upto` from the b0x at `address` on `node`.
    pub fn b0x_ack(&self, node: &str, address: &Digest, upto: u64) -> bool {
        matches!(
            self.request(
                "DELETE",
                &format!("{node}/v1/b0x/{}?upto={upto}", hex(address.as_bytes())),
                None,
            ),
            Some((200, _))
        )
    }

    /// Publishes an equivocation proof against `device` to every node of the registry
    /// (evidence must reach everyone); returns how many nodes hold it.
    pub fn publish_evidence(&self, device: &[u8; 32], proof: &[u8]) -> usize {
        self.nodes
            .iter()
            .filter(|node| {
                matches!(
                    self.request(
                        "PUT",
                        &format!("{node}/v1/evidence/{}", hex(device)),
                        Some(proof),
                    ),
                    Some((200 | 201, _))
                )
            })
            .count()
    }

    /// Evidence `node` published after its sequence number `after`: (seq, device, proof).
    /// `None` when the node did not answer or sent a listing that does not parse.
    pub fn fetch_evidence(&self, node: &str, after: u64) -> Option<Vec<Listed>> {
        match self.request("GET", &format!("{node}/v1/evidence?after={after}"), None) {
            Some((200, body)) => parse_list(&body, true),
            _ => None,
        }
    }
}

impl NodeSet {
    /// Every registry node as a genesis entropy contributor (PROTOCOL.md §4.2, §15), for
    /// [`crate::Wallet::create_with_contributors`].
    pub fn genesis_contributors(&self) -> Vec<GenesisNode<'_>> {
        self.nodes
            .iter()
            .map(|url| GenesisNode { set: self, url })
            .collect()
    }
}

/// A storage node taking part in a genesis ceremony.
pub struct GenesisNode<'a> {
    set: &'a NodeSet,
    url: &'a str,
}

impl GenesisNode<'_> {
    fn fetch(&self, method: &str, path: &str) -> Result<[u8; 32], String> {
        match self
            .set
            .request(method, &format!("{}{path}", self.url), None)
        {
            Some((200, body)) => <[u8; 32]>::try_from(body.as_slice())
                .map_err(|_| format!("answered {} bytes, not 32", body.len())),
            Some((status, body)) => Err(format!(
                "answered HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
            None => Err("did not answer".into()),
        }
    }
}

impl crate::wallet::EntropyContributor for GenesisNode<'_> {
    fn contributor(&self) -> Digest {
        dsm_core::identity::node_contributor(self.url)
    }
    fn describe(&self) -> String {
        format!("storage node {}", self.url)
    }
    fn commit(&self, ceremony: &Digest) -> Result<Digest, String> {
        let path = format!(
            "/v1/entropy/{}/{}",
            ceremony.to_hex(),
            self.contributor().to_hex()
        );
        self.fetch("POST", &path).map(Digest)
    }
    fn reveal(&self, ceremony: &Digest) -> Result<[u8; 32], String> {
        self.fetch("GET", &format!("/v1/entropy/{}", ceremony.to_hex()))
    }
}

/// One item found in a b0x.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct B0xItem {
    /// The node it was read from.
    pub node: String,
    /// Its sequence number on that node.
    pub seq: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One entry of a node listing: (sequence number, device — zero in b0x listings, bytes).
pub type Listed = (u64, [u8; 32], Vec<u8>);

/// Runs `f` over `items`, a few at a time (each call waits on storage nodes), and returns
/// the results in `items`' order; `None` for an item whose thread panicked.
pub(crate) fn in_parallel<T, R, F>(items: &[T], f: F) -> Vec<Option<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    const THREADS: usize = 8;
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..THREADS.min(items.len()))
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(THREADS)
                        .map(|(i, x)| (i, f(x)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (i, r) in done {
                    out[i] = Some(r);
                }
            }
        }
    });
    out
}

/// Parses a node listing: `u64be(seq) ‖ [device (32)] ‖ u32be(len) ‖ bytes`, repeated
/// (`None` if it does not parse whole). Public for fuzzing.
pub fn parse_listing(b: &[u8], with_device: bool) -> Option<Vec<Listed>> {
    parse_list(b, with_device)
}

fn parse_list(mut b: &[u8], with_device: bool) -> Option<Vec<Listed>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let seq = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        b = &b[8..];
        let mut device = [0u8; 32];
        if with_device {
            device = b.get(..32)?.try_into().ok()?;
            b = &b[32..];
        }
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        b = &b[4..];
        out.push((seq, device, b.get(..len)?.to_vec()));
        b = &b[len..];
    }
    Some(out)
}
