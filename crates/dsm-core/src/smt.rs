//! The per-device sparse Merkle tree over relationship tips.
//!
//! Keys are 256-bit, walked most-significant bit first. The tree has a canonical
//! compressed shape, so its size and proofs are O(log n) and it stores only what exists:
//!
//! * an empty subtree hashes to `EMPTY = H(SmtEmpty)`;
//! * a subtree holding exactly one leaf `(k, v)` hashes to `H(SmtLeaf, k, v)` at whatever
//!   depth it sits — single leaves are never pushed down;
//! * a subtree holding two or more leaves hashes to `H(SmtNode, left, right)`.
//!
//! The root of the empty tree is `EMPTY`. A proof for key `k` lists the sibling hashes
//! from the root down to where `k`'s path ends, plus the terminal leaf found there (or
//! none, for an empty subtree). The same proof shows inclusion (terminal key = `k`),
//! non-inclusion (another key sharing the path, or empty) and, because the verifier can
//! recompute the canonical subtree with `k` set to a new value, a *replace*: old root →
//! new root. Under a collision-resistant hash the path for `k` under a given root is unique,
//! so no root has two proofs that disagree about `k`.

use crate::codec::{Canonical, DecodeError, Reader, Writer};
use crate::hash::{tagged_hash, tagged_hash_pair, Digest};
use crate::tags::Tag;
use std::sync::OnceLock;
use thiserror::Error;

/// The most siblings a proof can have: one per key bit.
pub const MAX_PROOF_DEPTH: usize = 256;

/// The hash of the empty subtree, which is also the root of an empty tree.
pub fn empty_root() -> Digest {
    static EMPTY: OnceLock<Digest> = OnceLock::new();
    *EMPTY.get_or_init(|| tagged_hash(Tag::SmtEmpty, &[]))
}

/// `H(SmtLeaf, key, value)`.
pub fn leaf_hash(key: &[u8; 32], value: &Digest) -> Digest {
    tagged_hash_pair(Tag::SmtLeaf, key, &value.0)
}

/// `H(SmtNode, left, right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    tagged_hash_pair(Tag::SmtNode, &left.0, &right.0)
}

/// Bit `i` of `key`, most significant bit of byte 0 first.
#[inline]
pub fn key_bit(key: &[u8; 32], i: usize) -> bool {
    (key[i / 8] >> (7 - (i % 8))) & 1 == 1
}

fn common_prefix_len(a: &[u8; 32], b: &[u8; 32]) -> usize {
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let d = x ^ y;
        if d != 0 {
            return i * 8 + d.leading_zeros() as usize;
        }
    }
    256
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum SmtError {
    /// The proof does not hash to the advertised root.
    #[error("proof does not recompute the advertised root")]
    RootMismatch,
    /// The terminal leaf does not lie on the queried key's path.
    #[error("terminal leaf is not on the key's path")]
    TerminalOffPath,
    /// The proof is deeper than any key allows.
    #[error("proof deeper than 256 levels")]
    TooDeep,
}

/// A leaf `(key, value)` met at the end of a proof path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmtLeaf {
    /// The leaf's key.
    pub key: [u8; 32],
    /// The leaf's value.
    pub value: Digest,
}

impl Canonical for SmtLeaf {
    const MAX_ENCODED_LEN: usize = 80;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, &self.key);
        w.bytes(2, &self.value.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SmtLeaf {
            key: r.fixed(1)?,
            value: Digest(r.fixed(2)?),
        })
    }
}

/// A proof about one key: siblings root→leaf and the terminal found at the path's end.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmtProof {
    /// Sibling hashes from just below the root down to the terminal's level.
    pub siblings: Vec<Digest>,
    /// The leaf at the end of the path, or `None` for an empty subtree.
    pub terminal: Option<SmtLeaf>,
}

impl Canonical for SmtProof {
    const MAX_ENCODED_LEN: usize = MAX_PROOF_DEPTH * 35 + 100;
    fn encode(&self, w: &mut Writer) {
        w.repeated_bytes(1, &self.siblings.iter().map(|d| d.0).collect::<Vec<_>>());
        w.optional_message(2, self.terminal.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let siblings = r
            .repeated_fixed::<32>(1, MAX_PROOF_DEPTH)?
            .into_iter()
            .map(Digest)
            .collect();
        let terminal = r.optional_message(2)?;
        Ok(SmtProof { siblings, terminal })
    }
}

impl SmtProof {
    fn fold(&self, key: &[u8; 32], mut h: Digest) -> Digest {
        for (i, sib) in self.siblings.iter().enumerate().rev() {
            h = if key_bit(key, i) {
                node_hash(sib, &h)
            } else {
                node_hash(&h, sib)
            };
        }
        h
    }

    fn check_shape(&self, key: &[u8; 32]) -> Result<(), SmtError> {
        if self.siblings.len() > MAX_PROOF_DEPTH {
            return Err(SmtError::TooDeep);
        }
        if let Some(t) = &self.terminal {
            if t.key != *key && common_prefix_len(&t.key, key) < self.siblings.len() {
                return Err(SmtError::TerminalOffPath);
            }
        }
        Ok(())
    }

    /// Verifies the proof against `root` and returns the value stored under `key`
    /// (`None`: the key is absent).
    pub fn lookup(&self, key: &[u8; 32], root: &Digest) -> Result<Option<Digest>, SmtError> {
        self.check_shape(key)?;
        let start = match &self.terminal {
            None => empty_root(),
            Some(t) => leaf_hash(&t.key, &t.value),
        };
        if self.fold(key, start) != *root {
            return Err(SmtError::RootMismatch);
        }
        Ok(match &self.terminal {
            Some(t) if t.key == *key => Some(t.value),
            _ => None,
        })
    }

    /// The root after setting `key` to `value`, computed from this proof alone. Call only
    /// after [`SmtProof::lookup`] accepted the proof against the old root.
    pub fn root_after_set(&self, key: &[u8; 32], value: &Digest) -> Result<Digest, SmtError> {
        self.check_shape(key)?;
        let depth = self.siblings.len();
        let new_leaf = leaf_hash(key, value);
        let sub = match &self.terminal {
            None => new_leaf,
            Some(t) if t.key == *key => new_leaf,
            Some(t) => {
                // Split: the two leaves first differ at bit d ≥ depth; above them, single
                // interior nodes whose other child is empty lead back up to `depth`.
                let d = common_prefix_len(key, &t.key);
                let other = leaf_hash(&t.key, &t.value);
                let mut h = if key_bit(key, d) {
                    node_hash(&other, &new_leaf)
                } else {
                    node_hash(&new_leaf, &other)
                };
                for j in (depth..d).rev() {
                    h = if key_bit(key, j) {
                        node_hash(&empty_root(), &h)
                    } else {
                        node_hash(&h, &empty_root())
                    };
                }
                h
            }
        };
        Ok(self.fold(key, sub))
    }
}

const NONE: u32 = u32::MAX;

#[derive(Clone)]
enum Node {
    Leaf {
        key: [u8; 32],
        value: Digest,
        hash: Digest,
    },
    Inner {
        left: u32,
        right: u32,
        hash: Digest,
    },
}

/// An in-memory sparse Merkle tree storing only existing leaves and the interior nodes
/// above them (about `2n` nodes for `n` leaves). Updates and proofs cost O(log n).
/// Leaves are never deleted: a relationship, once opened, stays in the tree.
#[derive(Clone)]
pub struct SparseMerkleTree {
    nodes: Vec<Node>,
    root: u32,
    len: usize,
}

impl Default for SparseMerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseMerkleTree {
    /// An empty tree (root = [`empty_root`]).
    pub fn new() -> Self {
        SparseMerkleTree {
            nodes: Vec::new(),
            root: NONE,
            len: 0,
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the tree holds no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash_of(&self, n: u32) -> Digest {
        if n == NONE {
            return empty_root();
        }
        match &self.nodes[n as usize] {
            Node::Leaf { hash, .. } | Node::Inner { hash, .. } => *hash,
        }
    }

    /// The root hash.
    pub fn root(&self) -> Digest {
        self.hash_of(self.root)
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &[u8; 32]) -> Option<Digest> {
        let mut cur = self.root;
        let mut depth = 0;
        while cur != NONE {
            match &self.nodes[cur as usize] {
                Node::Leaf { key: k, value, .. } => return (k == key).then_some(*value),
                Node::Inner { left, right, .. } => {
                    cur = if key_bit(key, depth) { *right } else { *left };
                    depth += 1;
                }
            }
        }
        None
    }

    fn push(&mut self, n: Node) -> u32 {
        self.nodes.push(n);
        u32::try_from(self.nodes.len() - 1).expect("tree exceeds 2^32 nodes")
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: [u8; 32], value: Digest) -> Option<Digest> {
        // Walk down, remembering (node, went_right) for every interior node passed.
        let mut path: Vec<(u32, bool)> = Vec::with_capacity(64);
        let mut cur = self.root;
        let mut depth = 0usize;
        let (sub, old) = loop {
            if cur == NONE {
                self.len += 1;
                break (
                    self.push(Node::Leaf {
                        key,
                        value,
                        hash: leaf_hash(&key, &value),
                    }),
                    None,
                );
            }
            match self.nodes[cur as usize].clone() {
                Node::Leaf {
                    key: k, value: v, ..
                } if k == key => {
                    self.nodes[cur as usize] = Node::Leaf {
                        key,
                        value,
                        hash: leaf_hash(&key, &value),
                    };
                    break (cur, Some(v));
                }
                Node::Leaf { key: k, .. } => {
                    self.len += 1;
                    let new_leaf = self.push(Node::Leaf {
                        key,
                        value,
                        hash: leaf_hash(&key, &value),
                    });
                    let d = common_prefix_len(&key, &k);
                    let (l, r) = if key_bit(&key, d) {
                        (cur, new_leaf)
                    } else {
                        (new_leaf, cur)
                    };
                    let h = node_hash(&self.hash_of(l), &self.hash_of(r));
                    let mut top = self.push(Node::Inner {
                        left: l,
                        right: r,
                        hash: h,
                    });
                    for j in (depth..d).rev() {
                        let (l, r) = if key_bit(&key, j) {
                            (NONE, top)
                        } else {
                            (top, NONE)
                        };
                        let h = node_hash(&self.hash_of(l), &self.hash_of(r));
                        top = self.push(Node::Inner {
                            left: l,
                            right: r,
                            hash: h,
                        });
                    }
                    break (top, None);
                }
                Node::Inner { left, right, .. } => {
                    let go_right = key_bit(&key, depth);
                    path.push((cur, go_right));
                    cur = if go_right { right } else { left };
                    depth += 1;
                }
            }
        };
        // Re-link and rehash bottom-up.
        let mut child = sub;
        for &(n, went_right) in path.iter().rev() {
            if let Node::Inner { left, right, .. } = self.nodes[n as usize] {
                let (l, r) = if went_right {
                    (left, child)
                } else {
                    (child, right)
                };
                let hash = node_hash(&self.hash_of(l), &self.hash_of(r));
                self.nodes[n as usize] = Node::Inner {
                    left: l,
                    right: r,
                    hash,
                };
            }
            child = n;
        }
        self.root = child;
        old
    }

    /// A proof about `key` under the current root.
    pub fn prove(&self, key: &[u8; 32]) -> SmtProof {
        let mut siblings = Vec::new();
        let mut cur = self.root;
        let mut depth = 0;
        loop {
            if cur == NONE {
                return SmtProof {
                    siblings,
                    terminal: None,
                };
            }
            match &self.nodes[cur as usize] {
                Node::Leaf { key: k, value, .. } => {
                    return SmtProof {
                        siblings,
                        terminal: Some(SmtLeaf {
                            key: *k,
                            value: *value,
                        }),
                    };
                }
                Node::Inner { left, right, .. } => {
                    if key_bit(key, depth) {
                        siblings.push(self.hash_of(*left));
                        cur = *right;
                    } else {
                        siblings.push(self.hash_of(*right));
                        cur = *left;
                    }
                    depth += 1;
                }
            }
        }
    }
}
