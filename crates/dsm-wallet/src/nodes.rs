//! Client-side replication over storage nodes (PROTOCOL.md §15.1). Nodes are dumb and may
//! be down, corrupt or lying; the client decides. Each key is placed on N nodes of the
//! registry by a keyed ranking; an object read is accepted only when K nodes return
//! identical bytes that re-derive its address; an anchor counts as settled only with W
//! acknowledgements where 2W − N > f. Misbehaviour seen on the way is reported.

use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, Digest};
use dsm_core::seal::{object_locator, open_object, seal_object};
use dsm_core::slot::{B0xCursor, B0xOp, B0xRead, OwnedPut, MAX_READ_ENTRIES};
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

pub use dsm_protocol::placement::{Anchor, Candidacy, Replication};

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

/// How many listings (of up to 256 items each) a sync reads from one node's b0x: what it
/// does not reach now, it reaches at the next sync, since everything read is deleted.
pub const MAX_B0X_PAGES: usize = 4;

/// The most bytes of junk a reader skips in one node's candidate list before it counts
/// that node as not answering (PROTOCOL.md §15.3).
pub const MAX_LIST_SCAN: usize = 32 * 1024 * 1024;
/// The most junk entries a reader skips in one node's candidate list (64 listings), however
/// small they are, before it counts that node as not answering.
pub const MAX_LIST_SCAN_ENTRIES: usize = 64 * 256;

/// How one placed node's candidate list starts, as its reader judges the entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListHead {
    /// The first entry the reader's check accepts.
    First(Vec<u8>),
    /// The node answered and holds no entry the check accepts (empty, or junk only).
    NoneValid,
    /// No usable answer: down, a listing that does not parse, or more than
    /// [`MAX_LIST_SCAN`] bytes of junk.
    Unreachable,
}

/// What a candidate-list proposal or read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateReport {
    /// The verdict.
    pub outcome: Candidacy,
    /// How each placed node's list starts.
    pub heads: Vec<(String, ListHead)>,
    /// Misbehaviour seen.
    pub faults: Vec<NodeFault>,
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

fn list_url(node: &str, topic: &[u8; 32], key: &[u8; 32]) -> String {
    format!("{node}/v1/lists/{}/{}", hex(topic), hex(key))
}

/// The sequence number in a node's answer to an append: `{"seq":N}`.
fn appended_seq(answer: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(answer)
        .ok()?
        .get("seq")?
        .as_u64()
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

/// The authority (`host[:port]`) of a node's base URL: what a b0x access signature names,
/// after [`dsm_core::slot::node_id`].
pub fn node_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl NodeSet {
    /// A registry of node lines (e.g. `http://127.0.0.1:7600`, or
    /// `https://node.example:7600#spki-sha256=HEX` with a pinned key; [`crate::tls`]),
    /// sorted, with one node per node id (the first in sort order when two name the same
    /// node). Requests go to each line's base URL; its pins guard its TLS.
    pub fn new(lines: Vec<String>, params: Replication, timeout: Duration) -> Self {
        let agent = crate::tls::node_agent(&lines, timeout);
        let mut nodes: Vec<String> = lines.iter().map(|l| crate::tls::base_url(l)).collect();
        nodes.sort();
        let mut seen = std::collections::HashSet::new();
        nodes.retain(|n| seen.insert(dsm_core::slot::node_id(node_authority(n))));
        NodeSet {
            nodes,
            params,
            agent,
        }
    }

    /// The N nodes that hold `key`: the registry ranked by `H(Placement, key, node id)`,
    /// the node id being the URL's authority in lower case without a default port
    /// ([`dsm_core::slot::node_id`]) — so a node that moves to another scheme, or is written
    /// in other case, holds the same keys (PROTOCOL.md §15.1).
    pub fn placement(&self, key: &[u8; 32]) -> Result<Vec<&str>, ReplicationError> {
        let ids: Vec<String> = self
            .nodes
            .iter()
            .map(|u| dsm_core::slot::node_id(node_authority(u)))
            .collect();
        let placed =
            self.params
                .placement(key, &ids)
                .ok_or(ReplicationError::RegistryTooSmall {
                    have: self.nodes.len(),
                    need: self.params.n,
                })?;
        Ok(placed.into_iter().map(|i| self.nodes[i].as_str()).collect())
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
        // A listing stops after the entry that brings it over 1 MiB: room for that entry.
        let body = r
            .into_body()
            .with_config()
            .limit(2 << 20)
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
        let placed = self.placement(addr.as_bytes())?;
        let url = |node: &str| format!("{node}/v1/objects/{}", hex(addr.as_bytes()));
        let (stored, faults) = self.store_at_k(&placed, "PUT", &url, bytes, "a valid object")?;
        Ok((addr, stored, faults))
    }

    /// Sends `body` to every node of `placed` at once (`method` to `url(node)`) and judges
    /// the answers in placement order: how many stored it (200 or 201) and the faults of
    /// those that refused `what`; fewer than K storing it is the error.
    fn store_at_k(
        &self,
        placed: &[&str],
        method: &str,
        url: &(dyn Fn(&str) -> String + Sync),
        body: &[u8],
        what: &str,
    ) -> Result<(usize, Vec<NodeFault>), ReplicationError> {
        let answers = in_parallel(placed, |node| self.request(method, &url(node), Some(body)));
        let (mut stored, mut faults) = (0, Vec::new());
        for (&node, answer) in placed.iter().zip(answers) {
            match answer.flatten() {
                Some((200 | 201, _)) => stored += 1,
                Some((status, _)) => faults.push(NodeFault {
                    node: node.into(),
                    what: format!("refused {what} with status {status}"),
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
        Ok((stored, faults))
    }

    /// Reads an object: accepted when K of its N nodes return identical bytes that hash to
    /// `addr`. A node returning other bytes is reported.
    pub fn get_object(&self, addr: &Digest) -> Result<(Vec<u8>, Vec<NodeFault>), ReplicationError> {
        let mut faults = Vec::new();
        let mut good: Option<(Vec<u8>, usize)> = None;
        let placed = self.placement(addr.as_bytes())?;
        let answers = in_parallel(&placed, |node| {
            self.request(
                "GET",
                &format!("{node}/v1/objects/{}", hex(addr.as_bytes())),
                None,
            )
        });
        for (&node, answer) in placed.iter().zip(answers) {
            if let Some((200, body)) = answer.flatten() {
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

    /// Stores `object` — a lineage object — sealed, as a plain object at the content address
    /// of its sealed form ([`dsm_core::seal::sealed_address`]) on K of its N nodes: the node
    /// checks that address against the body, so nobody can put anything else there, and it
    /// shows nothing of the object's own address (PROTOCOL.md §2, "Sealed objects"). Returns
    /// the sealed form's address, which a b0x item names beside the object's.
    pub fn put_sealed_content(
        &self,
        object: &[u8],
    ) -> Result<(Digest, usize, Vec<NodeFault>), ReplicationError> {
        self.put_object(&seal_object(object))
    }

    /// The object `addr` from its sealed form stored at `sealed` ([`Self::put_sealed_content`]):
    /// the first placed node serving bytes that hash to `sealed` and open under `addr` to
    /// bytes hashing to it (the two addresses prove them, so no quorum is needed; a node
    /// serving other bytes is a fault). `None` when no placed node has it.
    pub fn get_sealed_content(
        &self,
        addr: &Digest,
        sealed: &Digest,
    ) -> Result<(Option<Vec<u8>>, Vec<NodeFault>), ReplicationError> {
        let placed = self.placement(sealed.as_bytes())?;
        let url = |node: &str| format!("{node}/v1/objects/{}", hex(sealed.as_bytes()));
        let answers = in_parallel(&placed, |node| self.request("GET", &url(node), None));
        let mut faults = Vec::new();
        for (&node, answer) in placed.iter().zip(answers) {
            if let Some((200, body)) = answer.flatten() {
                match (object_address(&body) == *sealed)
                    .then(|| open_object(addr, &body))
                    .flatten()
                {
                    Some(object) => return Ok((Some(object), faults)),
                    None => faults.push(NodeFault {
                        node: node.into(),
                        what: "served bytes that are not the sealed object asked for".into(),
                    }),
                }
            }
        }
        Ok((None, faults))
    }

    /// Stores `object` — a published document — sealed at its locator on
    /// its N nodes (PROTOCOL.md §2, "Sealed objects"): an append to the candidate list
    /// [`object_locator`] of its address, at every placed node at once. Succeeds when K
    /// nodes hold it; a node already holding these bytes answers 200 and holds them once.
    pub fn put_sealed_object(
        &self,
        object: &[u8],
    ) -> Result<(Digest, usize, Vec<NodeFault>), ReplicationError> {
        let addr = object_address(object);
        let (topic, key) = object_locator(&addr);
        let sealed = seal_object(object);
        let placed = self.list_placement(topic.as_bytes(), key.as_bytes())?;
        let url = |node: &str| list_url(node, topic.as_bytes(), key.as_bytes());
        let (stored, faults) =
            self.store_at_k(&placed, "POST", &url, &sealed, "a sealed object")?;
        Ok((addr, stored, faults))
    }

    /// Reads the sealed object `addr` from the first placed node whose list at its locator
    /// holds an entry that opens under `addr` to bytes hashing to it: the address proves
    /// them, so no quorum is needed, and junk appended there by whoever learned the address
    /// is skipped. `None` when no placed node has it.
    pub fn find_sealed_object(
        &self,
        addr: &Digest,
    ) -> Result<(Option<Vec<u8>>, Vec<NodeFault>), ReplicationError> {
        let (topic, key) = object_locator(addr);
        let valid = |b: &[u8]| open_object(addr, b).is_some();
        let mut faults = Vec::new();
        for node in self.list_placement(topic.as_bytes(), key.as_bytes())? {
            let (head, fault) =
                self.list_head(node, topic.as_bytes(), key.as_bytes(), None, &valid);
            faults.extend(fault);
            if let ListHead::First(b) = head {
                return Ok((open_object(addr, &b), faults));
            }
        }
        Ok((None, faults))
    }

    fn verdict(
        &self,
        existing: Option<Vec<u8>>,
        acked: Vec<String>,
        faults: Vec<NodeFault>,
    ) -> AnchorReport {
        let outcome = Anchor::judge(&self.params, existing, acked.len());
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
        self.placement(dsm_protocol::placement::slot_key(device, parent).as_bytes())
    }

    /// The nodes of candidate list `(topic, key)` (PROTOCOL.md §15.3): the placement of
    /// `H(Placement, topic, key)`, in the order every writer visits them.
    fn list_placement(
        &self,
        topic: &[u8; 32],
        key: &[u8; 32],
    ) -> Result<Vec<&str>, ReplicationError> {
        self.slot_placement(topic, key)
    }

    /// What `node`'s candidate list `(topic, key)` starts with: its first entry `valid`
    /// accepts, looking only at entries numbered up to `upto` when given. Junk is skipped,
    /// up to [`MAX_LIST_SCAN`] bytes or [`MAX_LIST_SCAN_ENTRIES`] entries of it.
    fn list_head(
        &self,
        node: &str,
        topic: &[u8; 32],
        key: &[u8; 32],
        upto: Option<u64>,
        valid: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> (ListHead, Option<NodeFault>) {
        let (mut after, mut scanned, mut entries_seen) = (0u64, 0usize, 0usize);
        loop {
            let url = format!("{}?after={after}", list_url(node, topic, key));
            let Some((200, body)) = self.request("GET", &url, None) else {
                return (ListHead::Unreachable, None);
            };
            let Some(entries) = parse_list(&body, false) else {
                return (
                    ListHead::Unreachable,
                    Some(NodeFault {
                        node: node.into(),
                        what: "sent a candidate listing that does not parse".into(),
                    }),
                );
            };
            if entries.is_empty() {
                return (ListHead::NoneValid, None);
            }
            for (seq, _, bytes) in entries {
                if seq <= after {
                    return (
                        ListHead::Unreachable,
                        Some(NodeFault {
                            node: node.into(),
                            what: "listed candidate entries out of order".into(),
                        }),
                    );
                }
                if upto.is_some_and(|u| seq > u) {
                    return (ListHead::NoneValid, None);
                }
                after = seq;
                if valid(&bytes) {
                    return (ListHead::First(bytes), None);
                }
                scanned += bytes.len();
                entries_seen += 1;
            }
            if scanned > MAX_LIST_SCAN || entries_seen >= MAX_LIST_SCAN_ENTRIES {
                return (ListHead::Unreachable, None);
            }
        }
    }

    /// Reads candidate list `(topic, key)` at its N nodes (PROTOCOL.md §15.3): each node's
    /// first entry that `valid` accepts, and the verdict — settled when one entry is first
    /// at W nodes. Junk before, between or after the entries changes nothing.
    pub fn read_candidates(
        &self,
        topic: &[u8; 32],
        key: &[u8; 32],
        valid: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> Result<CandidateReport, ReplicationError> {
        let nodes = self.list_placement(topic, key)?;
        let answers = in_parallel(&nodes, |node| self.list_head(node, topic, key, None, valid));
        let mut heads = Vec::new();
        let mut faults = Vec::new();
        for (node, answer) in nodes.iter().zip(answers) {
            let (head, fault) = answer.unwrap_or((ListHead::Unreachable, None));
            heads.push((node.to_string(), head));
            faults.extend(fault);
        }
        let outcome = Candidacy::judge(
            &self.params,
            heads.iter().filter_map(|(_, h)| match h {
                ListHead::First(b) => Some(b.as_slice()),
                _ => None,
            }),
        );
        Ok(CandidateReport {
            outcome,
            heads,
            faults,
        })
    }

    /// Proposes `bytes` (an entry `valid` accepts) in candidate list `(topic, key)`: appends
    /// it at the list's nodes in placement order, and stops at the first node whose list
    /// already starts with another valid entry — that writer came first, and writing on
    /// could only split the nodes between two entries. Then reads the list.
    pub fn propose_candidate(
        &self,
        topic: &[u8; 32],
        key: &[u8; 32],
        bytes: &[u8],
        valid: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> Result<CandidateReport, ReplicationError> {
        let mut faults = Vec::new();
        for node in self.list_placement(topic, key)? {
            let Some((200 | 201, answer)) =
                self.request("POST", &list_url(node, topic, key), Some(bytes))
            else {
                continue;
            };
            let Some(seq) = appended_seq(&answer) else {
                faults.push(NodeFault {
                    node: node.into(),
                    what: "answered an append without its sequence number".into(),
                });
                continue;
            };
            if seq > 1 {
                let (head, fault) = self.list_head(node, topic, key, Some(seq - 1), valid);
                faults.extend(fault);
                if matches!(head, ListHead::First(ref other) if other != bytes) {
                    break;
                }
            }
        }
        let mut report = self.read_candidates(topic, key, valid)?;
        report.faults.extend(faults);
        Ok(report)
    }

    /// Reads candidate list `(topic, key)` and, while no entry is first at W nodes, copies
    /// the leading entry to every placed node whose list holds no valid entry — anyone may,
    /// since an entry is checked by what it says, not by who appended it — then reads again.
    /// So a writer that stopped halfway (a crash, nodes down) is completed by its readers.
    pub fn settle_candidates(
        &self,
        topic: &[u8; 32],
        key: &[u8; 32],
        valid: &(dyn Fn(&[u8]) -> bool + Sync),
    ) -> Result<CandidateReport, ReplicationError> {
        let report = self.read_candidates(topic, key, valid)?;
        let Candidacy::Open {
            leading: Some((lead, _)),
        } = &report.outcome
        else {
            return Ok(report);
        };
        let mut copied = false;
        for (node, head) in &report.heads {
            if *head == ListHead::NoneValid
                && matches!(
                    self.request("POST", &list_url(node, topic, key), Some(lead)),
                    Some((200 | 201, _))
                )
            {
                copied = true;
            }
        }
        if !copied {
            return Ok(report);
        }
        let mut again = self.read_candidates(topic, key, valid)?;
        again.faults.extend(report.faults);
        Ok(again)
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
        // First writer wins at each node on its own: write to all at once, judge the answers
        // in placement order.
        let placed = self.slot_placement(owner.as_bytes(), key.as_bytes())?;
        let answers = in_parallel(&placed, |node| {
            self.request("PUT", &owned_url(node, owner, key), Some(&bytes))
        });
        for (&node, answer) in placed.iter().zip(answers) {
            match answer.flatten() {
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
        let placed = self.placement(address.as_bytes())?;
        let stored = in_parallel(&placed, |node| {
            self.request(
                "POST",
                &format!("{node}/v1/b0x/{}", hex(address.as_bytes())),
                Some(bytes),
            )
        })
        .into_iter()
        .filter(|a| matches!(a, Some(Some((201, _)))))
        .count();
        if stored < self.params.k {
            return Err(ReplicationError::NotEnoughReplicas {
                got: stored,
                want: self.params.k,
            });
        }
        Ok(stored)
    }

    /// The items waiting at the b0x addresses of `blinds` of the device whose slot owner is
    /// `owner` (`None`: its introduction
    /// address; PROTOCOL.md §16.1), at every node where one of them is placed: one listing
    /// per node names every address placed there (so a sync's requests do not grow with its
    /// relationships, up to 4,096 addresses per listing), up to [`MAX_B0X_PAGES`] listings
    /// per node (copies of one item arrive once per node; the caller's processing is
    /// idempotent). Nodes that do not answer are skipped; a node whose listing does not
    /// parse, lists out of order or names an address it was not asked for is reported.
    ///
    /// Only the recipient may list: `sign` signs each listing for its node (a URL
    /// authority) and entries (PROTOCOL.md §16.1; `None` skips that node).
    pub fn b0x_fetch(
        &self,
        blinds: &[Option<Digest>],
        sign: &mut B0xSigner<'_>,
        owner: &Digest,
    ) -> Result<(Vec<B0xItem>, Vec<NodeFault>), ReplicationError> {
        let mut items = Vec::new();
        let mut faults = Vec::new();
        for (node, mut blinds) in self.b0x_nodes(owner, blinds)? {
            blinds.sort();
            blinds.dedup();
            for chunk in blinds.chunks(MAX_READ_ENTRIES) {
                let mut entries: Vec<B0xCursor> = chunk
                    .iter()
                    .map(|b| B0xCursor {
                        blind: *b,
                        cursor: 0,
                    })
                    .collect();
                for _ in 0..MAX_B0X_PAGES {
                    let Some(read) = sign(node_authority(&node), B0xOp::List, entries.clone())
                    else {
                        break;
                    };
                    let Some((200, body)) = self.request(
                        "POST",
                        &format!("{node}/v1/b0x-list"),
                        Some(&read.to_bytes()),
                    ) else {
                        break;
                    };
                    let fault = |what: &str| NodeFault {
                        node: node.clone(),
                        what: what.into(),
                    };
                    let Some((complete, list)) = parse_b0x_listing(&body, &entries) else {
                        faults.push(fault(
                            "sent a b0x listing that does not parse, lists out of order or \
                             names an address it was not asked for",
                        ));
                        break;
                    };
                    if list.is_empty() && complete == 0 {
                        faults.push(fault("sent a b0x listing that makes no progress"));
                        break;
                    }
                    for (i, seq, bytes) in list {
                        entries[i].cursor = seq;
                        items.push(B0xItem {
                            node: node.clone(),
                            blind: entries[i].blind,
                            seq,
                            bytes,
                        });
                    }
                    if complete >= entries.len() {
                        break;
                    }
                    // The rest from where this listing stopped (one more listing per cut).
                    entries.drain(..complete);
                }
            }
        }
        Ok((items, faults))
    }

    /// The registry's nodes where one of `owner`'s addresses of `blinds` is placed, each
    /// with the blinds placed there, in registry order.
    fn b0x_nodes(
        &self,
        owner: &Digest,
        blinds: &[Option<Digest>],
    ) -> Result<Vec<(String, Blinds)>, ReplicationError> {
        let mut at: BTreeMap<&str, Blinds> = BTreeMap::new();
        for b in blinds {
            let address = dsm_core::slot::b0x_address(owner, b.as_ref());
            for node in self.placement(address.as_bytes())? {
                at.entry(node).or_default().push(*b);
            }
        }
        Ok(at.into_iter().map(|(n, b)| (n.to_string(), b)).collect())
    }

    /// Removes, at `node`, the items of each of `entries`' addresses up to its cursor, with
    /// the recipient's signed read `read` for that node (PROTOCOL.md §16.1).
    pub fn b0x_ack(&self, node: &str, read: &B0xRead) -> bool {
        matches!(
            self.request(
                "POST",
                &format!("{node}/v1/b0x-ack"),
                Some(&read.to_bytes())
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
    /// The address it was read at: `None` for the introduction address, else the
    /// relationship's blind.
    pub blind: Option<Digest>,
    /// Its sequence number on that node.
    pub seq: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What signs a b0x read for a node (a URL authority), operation and entries (PROTOCOL.md
/// §16.1): the recipient wallet.
pub type B0xSigner<'a> = dyn FnMut(&str, B0xOp, Vec<B0xCursor>) -> Option<B0xRead> + 'a;

/// A device's b0x addresses by blind (`None`: its introduction address).
type Blinds = Vec<Option<Digest>>;

/// One item of a b0x listing: (entry index, sequence number, bytes).
pub type ListedItem = (usize, u64, Vec<u8>);

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

/// A `POST /v1/b0x-list` answer to a listing of `entries`: `complete` and the items as
/// `(entry index, seq, bytes)`; `None` unless every item names an entry of the listing, the
/// entries come in order and each entry's seqs ascend from its cursor.
pub fn parse_b0x_listing(b: &[u8], entries: &[B0xCursor]) -> Option<(usize, Vec<ListedItem>)> {
    let complete = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let mut rest = &b[4..];
    let mut out: Vec<ListedItem> = Vec::new();
    while !rest.is_empty() {
        let i = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let seq = u64::from_be_bytes(rest.get(4..12)?.try_into().ok()?);
        let len = u32::from_be_bytes(rest.get(12..16)?.try_into().ok()?) as usize;
        let bytes = rest.get(16..16 + len)?.to_vec();
        rest = &rest[16 + len..];
        let after = match out.last() {
            Some((j, s, _)) if *j == i => *s,
            Some((j, _, _)) if *j > i => return None,
            _ => entries.get(i)?.cursor,
        };
        if seq <= after {
            return None;
        }
        out.push((i, seq, bytes));
    }
    if complete > entries.len() || out.iter().any(|(i, _, _)| *i > complete) {
        return None;
    }
    Some((complete, out))
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
