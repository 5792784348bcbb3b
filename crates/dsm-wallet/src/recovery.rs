//! Recovery (PROTOCOL.md §20), the wallet's half: sealing a capsule into every state
//! change, pushing capsules to the storage nodes, restoring a lost device from its
//! mnemonic, and answering successions as a counterparty. The records and their verifiers
//! are `dsm-recovery`'s; this module does the I/O and keeps the progress crash-safe.
//!
//! A recovery is a sequence of steps, each recorded in the new wallet's store before the
//! next starts, and each node write is to a write-once slot, so rerunning `recover` after a
//! crash at any point finishes the job with the same device key, the same tombstone and the
//! same succession: it never tombstones twice and never forks the identity.

use super::*;
use crate::nodes::{Anchor, NodeFault, NodeSet, SlotReplica};
use dsm_recovery::body::{replay, CapsuleBody, ContactEntry, RecoveredState, TipEntry};
use dsm_recovery::succession::{
    sign_succession, sign_tombstone, verify_answer, verify_succession, RecoveryMessage,
    SignedAnswer, SignedSuccession, SignedTombstone, Succession, SuccessionAnswer,
    SuccessionConflict, SuccessionNotice, SuccessionRecord, Tombstone, Verdict,
};
use dsm_recovery::{Capsule, RecoveryKeys};

const CAPSULE_NEXT: &[u8] = b"capsule_next";
const CAPSULE_STREAM: &[u8] = b"capsule_stream";
const CAPSULE_UPLOADED: &[u8] = b"capsule_uploaded";
const CAPSULE_POLICIES: &[u8] = b"capsule_policies";
const RECOVERY_STEP: &[u8] = b"recovery_step";
const RECOVERED_LOST: &[u8] = b"recovered_lost";
const RECOVERED_HEAD: &[u8] = b"recovered_head";
/// Meta key of the lost device's proposal to `peer` pending at the recovered head.
fn pending_key(peer: &DeviceId) -> Vec<u8> {
    [b"recovered_pending:".as_slice(), peer.as_bytes()].concat()
}
const TOMBSTONE: &[u8] = b"tombstone";
const SUCCESSION: &[u8] = b"succession";
const RECOVERY_BLOCKED: &[u8] = b"recovery_blocked";
const CAPSULE_GENERATION: &[u8] = b"capsule_generation";
const RECOVERED_CAPSULES: &[u8] = b"recovered_capsules";

/// True if K placed nodes hold identical bytes as capsule 0 of `stream`.
fn stream_started(nodes: &NodeSet, stream: &Digest) -> Result<bool, WalletError> {
    let replicas = nodes
        .slot_replicas(stream.as_bytes(), capsule_slot(0).as_bytes())
        .map_err(|e| WalletError::Recovery(e.to_string()))?;
    let held: Vec<&Vec<u8>> = replicas
        .iter()
        .filter_map(|(_, r)| match r {
            SlotReplica::Holds(b) => Some(b),
            _ => None,
        })
        .collect();
    Ok(held
        .iter()
        .any(|b| held.iter().filter(|x| *x == b).count() >= nodes.params().k))
}

/// The slot key of a device's tombstone at the storage nodes: slot (lost device, this).
pub fn tombstone_slot() -> Digest {
    tagged_hash(Tag::RecoveryTombstone, &[b"slot"])
}

/// The slot key of capsule `index` of a stream: slot (stream, this).
pub fn capsule_slot(index: u64) -> Digest {
    tagged_hash(Tag::RecoverySlot, &[&index.to_be_bytes()])
}

/// The steps of a recovery, in order; each is recorded when done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecoveryStep {
    /// The new device exists, with the recovered state (not yet spendable).
    Created,
    /// The tombstone is at a quorum of nodes.
    Tombstoned,
    /// The succession is at a quorum of nodes and the SUCCEED head is committed.
    Succeeded,
    /// Every counterparty was sent a notice.
    Notified,
}

/// Where one counterparty of the lost device stands with the successor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterpartyRecovery {
    /// The counterparty's device id (hex).
    pub device: String,
    /// Its contact name, if it had one.
    pub name: Option<String>,
    /// The relationship tip the recovered head holds (hex).
    pub tip: String,
    /// `waiting`, `acknowledged`, `stale` or `conflict`.
    pub status: String,
    /// True once the notice reached a quorum of its b0x nodes.
    pub notified: bool,
    /// What happened to the lost device's transfer to it that was still pending, if any.
    pub pending: Option<String>,
    /// With status `conflict`: the verified evidence (hex of the canonical
    /// `SuccessionConflict`) that the lost device signed after the backup point.
    #[serde(default)]
    pub evidence: Option<String>,
}

/// How [`recover`] creates the new device.
#[derive(Clone, Copy, Debug)]
pub struct RecoverOptions<'a> {
    /// The new device's signature suite.
    pub suite: SuiteId,
    /// The new wallet's passphrase.
    pub passphrase: &'a [u8],
    /// The passphrase KDF's cost.
    pub kdf: KdfParams,
    /// Allow replacing a device that was itself restored by an earlier recovery (a
    /// successor lost in turn). Off by default, so running a recovery twice in two homes
    /// by mistake cannot tombstone the device the first one made.
    pub replace_successor: bool,
}

/// What [`recover`] did.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// The lost device.
    pub lost: DeviceId,
    /// The new device.
    pub successor: DeviceId,
    /// Capsules of the lost device's stream replayed.
    pub capsules: u64,
    /// The recovered head's height.
    pub height: u64,
    /// Every counterparty and where it stands.
    pub counterparties: Vec<CounterpartyRecovery>,
    /// Storage nodes that served old or wrong data (reported, outvoted).
    pub faults: Vec<NodeFault>,
    /// Set when spending stays blocked (why).
    pub blocked: Option<String>,
}

/// What the nodes hold of a capsule stream.
#[derive(Clone, Debug, Default)]
pub struct FetchedStream {
    /// The consistent chain, from index 0.
    pub chain: Vec<Capsule>,
    /// Nodes that lacked a capsule others held, or held other bytes.
    pub faults: Vec<NodeFault>,
    /// Set when the stream ended at an index held by some nodes, but fewer than K.
    pub short: Option<String>,
}

/// Reads a capsule stream from the nodes: capsule `i` is taken when K placed nodes return
/// identical bytes that decode as capsule `i` of the stream following capsule `i - 1`; a
/// placed node that is empty or different then is reported (a stale or lying node is
/// outvoted, never trusted). The stream ends at the first index no quorum holds.
pub fn fetch_stream(
    nodes: &NodeSet,
    stream: &Digest,
    progress: &mut dyn FnMut(u64),
) -> Result<FetchedStream, WalletError> {
    let k = nodes.params().k;
    let mut out = FetchedStream::default();
    let mut prev = Digest::ZERO;
    let mut ahead = std::collections::VecDeque::new();
    for index in 0u64.. {
        if ahead.is_empty() {
            ahead = read_ahead(nodes, stream, index)?;
        }
        let replicas = ahead.pop_front().unwrap_or_default();
        let mut groups: Vec<(Vec<u8>, Vec<String>)> = Vec::new();
        for (node, r) in &replicas {
            if let SlotReplica::Holds(b) = r {
                match groups.iter_mut().find(|(x, _)| x == b) {
                    Some((_, ns)) => ns.push(node.clone()),
                    None => groups.push((b.clone(), vec![node.clone()])),
                }
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
        let Some((bytes, holders)) = groups.first().cloned() else {
            break;
        };
        let capsule = Capsule::from_bytes(&bytes)
            .ok()
            .filter(|c| c.stream == *stream && c.index == index && c.prev == prev);
        let Some(capsule) = capsule.filter(|_| holders.len() >= k) else {
            out.short = Some(format!(
                "capsule {index} is held by {} node(s), fewer than the {k} needed; the backup \
                 is restored up to capsule {}",
                holders.len(),
                index.saturating_sub(1)
            ));
            break;
        };
        for (node, r) in &replicas {
            let what = match r {
                SlotReplica::Empty => format!(
                    "lacks capsule {index}, which {} nodes hold (stale or rolled back)",
                    holders.len()
                ),
                SlotReplica::Holds(b) if *b != bytes => {
                    format!("serves other bytes for capsule {index}")
                }
                _ => continue,
            };
            out.faults.push(NodeFault {
                node: node.clone(),
                what,
            });
        }
        prev = capsule.digest();
        out.chain.push(capsule);
        progress(index + 1);
    }
    Ok(out)
}

/// Posts each `(device, item)` to the device's b0x, a few at a time; one result per item.
fn post_all(nodes: &NodeSet, items: &[(DeviceId, Vec<u8>)]) -> Vec<Result<(), String>> {
    let threads = 8usize;
    let mut results: Vec<Option<Result<(), String>>> = vec![None; items.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, (device, item))| {
                            let r = nodes
                                .b0x_post(&device.b0x_address(), item)
                                .map(|_| ())
                                .map_err(|e| e.to_string());
                            (i, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A thread that panicked leaves its items `None`: reported as not posted.
            if let Ok(done) = h.join() {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a posting thread stopped".into())))
        .collect()
}

/// Threads reading capsules ahead: the reads are independent, only their checks are
/// sequential. The window grows with the stream (8, then 64 capsules), so a short stream
/// costs few reads past its end.
const READ_THREADS: u64 = 8;

/// What every placed node holds for the next window of capsules from `from`, in order,
/// read by a few threads at once.
fn read_ahead(
    nodes: &NodeSet,
    stream: &Digest,
    from: u64,
) -> Result<std::collections::VecDeque<Vec<(String, SlotReplica)>>, WalletError> {
    let per = if from < 64 { 1 } else { 8 };
    let parts: Vec<Result<Vec<_>, WalletError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..READ_THREADS)
            .map(|t| {
                s.spawn(move || {
                    (from + t * per..from + (t + 1) * per)
                        .map(|i| {
                            nodes
                                .slot_replicas(stream.as_bytes(), capsule_slot(i).as_bytes())
                                .map_err(|e| WalletError::Recovery(e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(WalletError::Recovery(
                        "a capsule read thread stopped".into(),
                    ))
                })
            })
            .collect()
    });
    let mut out = std::collections::VecDeque::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

impl Wallet {
    /// Seals the capsule of the change in `b` (PROTOCOL.md §20.2) into `b`, if this device
    /// writes capsules: the head `b` commits (or the current one), the relationship leaves
    /// `b` sets (with `counterparty`), the pending set after `b`, `contacts`, and the
    /// policies not carried yet.
    pub(crate) fn add_capsule(
        &self,
        b: &mut Batch,
        counterparty: Option<DeviceId>,
        contacts: Vec<ContactEntry>,
    ) -> Result<(), WalletError> {
        let Some(key) = &self.capsule_key else {
            return Ok(());
        };
        let bad = |what: &'static str| WalletError::Corrupt {
            what,
            error: "malformed".into(),
        };
        let mut head = self.head.clone();
        let mut tips = Vec::new();
        let mut pending = self.pending.clone();
        for (table, k, v) in b.ops() {
            match (table, k.as_slice(), v) {
                (Table::Meta, b"head", Some(v)) => {
                    head = DeviceHead::from_bytes(v).map_err(corrupt("head"))?
                }
                (Table::Tips, k, Some(v)) => {
                    let counterparty = counterparty.ok_or(bad("capsule counterparty"))?;
                    tips.push(TipEntry {
                        relationship: RelationshipKey(Digest(
                            k.try_into().map_err(|_| bad("tips"))?,
                        )),
                        counterparty,
                        tip: TipDigest(Digest(v.as_slice().try_into().map_err(|_| bad("tips"))?)),
                    });
                }
                (Table::Pending, k, v) => {
                    let peer = DeviceId(Digest(k.try_into().map_err(|_| bad("pending"))?));
                    match v {
                        Some(v) => {
                            pending.insert(
                                peer,
                                SignedProposal::from_bytes(v).map_err(corrupt("pending"))?,
                            );
                        }
                        None => {
                            pending.remove(&peer);
                        }
                    }
                }
                _ => {}
            }
        }
        let (index, prev) = self.capsule_next()?;
        // Each device generation writes its own stream, so a stream's first capsule is its
        // device's first: it carries the genesis and the identity.
        let first = index == 0;
        let mut carried = self
            .store
            .get(Table::Meta, CAPSULE_POLICIES)?
            .unwrap_or_default();
        // By token id: which policies a capsule carries never depends on a hash map's order.
        let mut held: Vec<(&TokenId, &dsm_token::TokenPolicy)> = self.rules.policies().collect();
        held.sort_by_key(|(id, _)| **id);
        let (mut ids, policies): (Vec<TokenId>, Vec<Vec<u8>>) = held
            .into_iter()
            .filter(|(id, _)| !carried.chunks(32).any(|c| c == id.as_bytes()))
            .take(dsm_recovery::body::MAX_POLICIES_PER_CAPSULE)
            .map(|(id, p)| (*id, p.to_bytes()))
            .unzip();
        let mut body = CapsuleBody {
            head,
            tips,
            pending: pending
                .into_values()
                .take(dsm_recovery::body::MAX_PENDING_PER_CAPSULE)
                .collect(),
            contacts,
            genesis: if first {
                Some(self.genesis_record()?)
            } else {
                None
            },
            identity: first.then(|| self.identity.clone()),
            policies,
        };
        // Keep the capsule within its limit. Pending proposals go first (large SLH-DSA
        // proposals: the counterparty still answers them, the notice just cannot carry
        // them); policies that still do not fit wait for a later capsule.
        let mut plaintext = body.to_bytes();
        while plaintext.len() > dsm_recovery::MAX_CAPSULE_LEN
            && (body.pending.pop().is_some() || body.policies.pop().is_some())
        {
            plaintext = body.to_bytes();
        }
        ids.truncate(body.policies.len());
        for id in &ids {
            carried.extend_from_slice(id.as_bytes());
        }
        let capsule = key.seal(index, prev, &plaintext);
        let mut next = (index + 1).to_be_bytes().to_vec();
        next.extend_from_slice(capsule.digest().as_bytes());
        b.put(
            Table::Capsules,
            index.to_be_bytes().to_vec(),
            capsule.to_bytes(),
        )
        .put(Table::Meta, CAPSULE_NEXT.to_vec(), next)
        .put(Table::Meta, CAPSULE_POLICIES.to_vec(), carried);
        Ok(())
    }

    /// The next capsule's index and predecessor digest.
    fn capsule_next(&self) -> Result<(u64, Digest), WalletError> {
        match self.store.get(Table::Meta, CAPSULE_NEXT)? {
            None => Ok((0, Digest::ZERO)),
            Some(v) if v.len() == 40 => Ok((
                u64::from_be_bytes(v[..8].try_into().unwrap_or_default()),
                Digest(v[8..].try_into().unwrap_or_default()),
            )),
            Some(_) => Err(WalletError::Corrupt {
                what: "capsule position",
                error: "malformed".into(),
            }),
        }
    }

    /// True if this wallet writes recovery capsules (its identity has a recovery phrase).
    pub fn writes_capsules(&self) -> bool {
        self.capsule_key.is_some()
    }

    /// Uploads every sealed capsule not yet held by K nodes, in order, to slot (stream,
    /// `capsule_slot(index)`) on its N placed nodes. Stops at the first capsule fewer than K
    /// nodes took; a node holding other bytes at an index is reported (another device is
    /// writing this stream — the lost device after a recovery, or a clone).
    pub fn push_capsules(&mut self, nodes: &NodeSet) -> Result<BackupPush, WalletError> {
        let mut push = BackupPush::default();
        let Some(key) = &self.capsule_key else {
            return Ok(push);
        };
        let stream = key.stream;
        let k = nodes.params().k;
        let mut uploaded = self.capsules_uploaded()?;
        for (ik, bytes) in self.store.scan(Table::Capsules)? {
            let index = u64::from_be_bytes(ik.as_slice().try_into().unwrap_or_default());
            if index < uploaded {
                continue;
            }
            let report = nodes
                .anchor(
                    stream.as_bytes(),
                    capsule_slot(index).as_bytes(),
                    &bytes,
                    &|other: &[u8]| other != bytes.as_slice(),
                )
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            push.faults.extend(report.faults);
            if let Anchor::Conflict { .. } = report.outcome {
                push.conflict = Some(format!(
                    "capsule {index}: a node already holds another capsule at this position — \
                     another device writes this identity's backup (the lost device, or a copy of \
                     this wallet)"
                ));
                break;
            }
            if report.acked.len() < k {
                push.short = Some(format!(
                    "capsule {index} reached {} node(s), {k} needed; the next sync retries",
                    report.acked.len()
                ));
                break;
            }
            uploaded = index + 1;
            push.uploaded += 1;
            let mut b = Batch::new();
            b.put(
                Table::Meta,
                CAPSULE_UPLOADED.to_vec(),
                uploaded.to_be_bytes().to_vec(),
            );
            // The nodes hold it now: keep only the newest uploaded capsule locally (for
            // `backup_status`), so the table does not grow with the device's history.
            if let Some(older) = index.checked_sub(1) {
                b.delete(Table::Capsules, older.to_be_bytes().to_vec());
            }
            self.store.commit(&b)?;
        }
        Ok(push)
    }

    fn capsules_uploaded(&self) -> Result<u64, WalletError> {
        Ok(self
            .store
            .get(Table::Meta, CAPSULE_UPLOADED)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Where this device's backup stands; with `nodes`, also how many of the last
    /// capsule's placed nodes hold it.
    pub fn backup_status(&self, nodes: Option<&NodeSet>) -> Result<BackupStatus, WalletError> {
        let Some(key) = &self.capsule_key else {
            return Ok(BackupStatus::default());
        };
        let (sealed, _) = self.capsule_next()?;
        let mut st = BackupStatus {
            enabled: true,
            generation: self
                .store
                .get(Table::Meta, CAPSULE_GENERATION)?
                .and_then(|v| v.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
            stream: key.stream.to_hex(),
            sealed,
            uploaded: self.capsules_uploaded()?,
            ..BackupStatus::default()
        };
        if let (Some(nodes), Some(last)) = (nodes, sealed.checked_sub(1)) {
            let ours = self.store.get(Table::Capsules, &last.to_be_bytes())?;
            let replicas = nodes
                .slot_replicas(key.stream.as_bytes(), capsule_slot(last).as_bytes())
                .map_err(|e| WalletError::Recovery(e.to_string()))?;
            for (node, r) in replicas {
                let state = match r {
                    SlotReplica::Holds(b) if Some(&b) == ours.as_ref() => "holds it",
                    SlotReplica::Holds(_) => "holds OTHER bytes",
                    SlotReplica::Empty => "missing",
                    SlotReplica::Unreachable => "unreachable",
                };
                st.replicas.push((node, state.to_string()));
            }
        }
        Ok(st)
    }

    /// The recovery state of this device, if it is a successor: each counterparty of the
    /// lost device and where it stands.
    pub fn recovery_counterparties(&self) -> Result<Vec<CounterpartyRecovery>, WalletError> {
        self.store
            .scan(Table::Recovery)?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|e| WalletError::Corrupt {
                    what: "recovery",
                    error: e.to_string(),
                })
            })
            .collect()
    }

    /// Why sending to `peer` is not allowed yet on a recovered device, if it is not.
    pub(crate) fn succession_gate(&self, peer: &DeviceId) -> Result<Option<String>, WalletError> {
        if let Some(why) = self.store.get(Table::Meta, RECOVERY_BLOCKED)? {
            return Ok(Some(String::from_utf8_lossy(&why).into_owned()));
        }
        let Some(v) = self.store.get(Table::Recovery, peer.as_bytes())? else {
            return Ok(None);
        };
        let c: CounterpartyRecovery =
            serde_json::from_slice(&v).map_err(|e| WalletError::Corrupt {
                what: "recovery",
                error: e.to_string(),
            })?;
        Ok((c.status != "acknowledged").then(|| {
            format!(
                "{} has not acknowledged this device as the successor of the lost one (status: \
                 {}); spending to it resumes after it does — run `dsm sync` later",
                c.name.unwrap_or(c.device),
                c.status
            )
        }))
    }

    /// Records a verified succession: its lost device is refused from now on. The value is
    /// the succession's digest, then this device's signed answer to it, if it gave one.
    fn record_succession(
        &mut self,
        b: &mut Batch,
        v: &dsm_recovery::succession::VerifiedSuccession,
        answer: Option<&SignedAnswer>,
    ) {
        let mut value = v.digest().as_bytes().to_vec();
        if let Some(a) = answer {
            value.extend_from_slice(&a.to_bytes());
        }
        b.put(Table::Successions, v.lost().as_bytes().to_vec(), value);
    }

    /// The lost device's proposal to `peer` that was pending at the recovered head.
    fn recovered_pending(&self, peer: &DeviceId) -> Result<Option<SignedProposal>, WalletError> {
        self.store
            .get(Table::Meta, &pending_key(peer))?
            .map(|v| SignedProposal::from_bytes(&v).map_err(corrupt("recovered pending")))
            .transpose()
    }

    /// Records a tombstone learned from a verified succession record (read from the lost
    /// device's claimed anchor slot): the lost device is refused from now on. Keeps an
    /// earlier record (and answer) of the same device.
    pub fn learn_tombstone(
        &mut self,
        v: &dsm_recovery::succession::VerifiedSuccession,
    ) -> Result<(), WalletError> {
        let lost = v.lost();
        if self
            .store
            .get(Table::Successions, lost.as_bytes())?
            .is_none()
        {
            let mut b = Batch::new();
            self.record_succession(&mut b, v, None);
            self.store.commit(&b)?;
        }
        self.tombstoned.insert(lost);
        Ok(())
    }

    /// The answer this device already gave to the succession of `lost`, if any.
    fn stored_answer(&self, lost: &DeviceId) -> Result<Option<SignedAnswer>, WalletError> {
        let Some(v) = self.store.get(Table::Successions, lost.as_bytes())? else {
            return Ok(None);
        };
        match v.get(32..) {
            Some(rest) if !rest.is_empty() => Ok(Some(
                SignedAnswer::from_bytes(rest).map_err(corrupt("successions"))?,
            )),
            _ => Ok(None),
        }
    }

    /// Answers a succession notice addressed to this device (PROTOCOL.md §20.4): verifies
    /// it; answers the lost device's pending proposal first, if the notice carries one;
    /// compares the tip this device holds with the recovered one; records the tombstone
    /// (the lost device is refused from now on whatever the verdict); on acknowledgement
    /// also points the contact at the successor. Returns the message to post to the
    /// successor's b0x and the verdict. Idempotent: a notice answered before gets the same
    /// answer again.
    pub fn answer_notice(
        &mut self,
        notice: &SuccessionNotice,
    ) -> Result<(RecoveryMessage, Verdict, DeviceId), WalletError> {
        if notice.counterparty != self.device_id() {
            return Err(WalletError::Recovery(
                "a succession notice for another device".into(),
            ));
        }
        let (v, rel, recovered_tip) = notice
            .verify()
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let lost = v.lost();
        if let Some(a) = self.stored_answer(&lost)? {
            if a.record.succession == v.digest() {
                let verdict = a.record.verdict;
                let conflict = self.conflict_evidence(notice, &lost)?;
                return Ok((
                    RecoveryMessage::Answer {
                        answer: Box::new(a),
                        pending_answer: None,
                        conflict,
                    },
                    verdict,
                    lost,
                ));
            }
            return Err(WalletError::Recovery(format!(
                "device {lost} already has another succession here; this one is ignored"
            )));
        }
        // The lost device's last transfer to us, still pending at the recovered head: answer
        // it first (it predates the tombstone), so our tip can match the recovered one.
        let mut pending_answer = None;
        if let Some(p) = &notice.pending {
            if p.proposal.step.sender == lost && p.proposal.step.receiver == self.device_id() {
                // Interim (PROTOCOL.md §5.6): a capsule does not carry lineages yet, so the
                // pending proposal is offered with each input starting at itself; unless this
                // device verified those parcels before, it refuses with a signed refusal and
                // the successor reclaims the amount.
                let offer = dsm_core::receipt::Offer {
                    signed: p.clone(),
                    manifests: p
                        .proposal
                        .parcels
                        .inputs
                        .iter()
                        .map(|i| dsm_core::parcel::LineageManifest {
                            parcel: *i,
                            start: dsm_core::parcel::ManifestStart::Verified(*i),
                            hops: Vec::new(),
                            signers: Vec::new(),
                            consumed: Vec::new(),
                        })
                        .collect(),
                    objects: Vec::new(),
                };
                let a = dsm_protocol::mailbox::answer(self, &offer)
                    .map_err(|e| WalletError::Recovery(e.to_string()))?;
                if a.is_final() {
                    pending_answer = Some(a.reply.to_bytes());
                }
            }
        }
        let held = self.tree.get(rel.as_bytes()).map(TipDigest);
        let conflict = self.conflict_evidence(notice, &lost)?;
        let verdict = notice.verdict(&rel, recovered_tip, held, conflict.is_some());
        let rnd = self.random();
        let answer = SuccessionAnswer {
            succession: v.digest(),
            counterparty: self.identity.clone(),
            held_tip: held.unwrap_or_else(|| rel.genesis_tip()),
            verdict,
        }
        .sign(&self.key, &rnd);
        let mut b = Batch::new();
        self.record_succession(&mut b, &v, Some(&answer));
        if verdict == Verdict::Acknowledged {
            let successor = v.successor();
            for c in self.contacts()? {
                if c.device_id()? == lost {
                    let moved = Contact {
                        name: c.name.clone(),
                        device: successor.digest().to_hex(),
                    };
                    b.put(Table::Contacts, c.name.into_bytes(), json(&moved));
                }
            }
        }
        self.store.commit(&b)?;
        self.tombstoned.insert(lost);
        Ok((
            RecoveryMessage::Answer {
                answer: Box::new(answer),
                pending_answer,
                conflict,
            },
            verdict,
            lost,
        ))
    }

    /// The evidence, if this device holds a statement of `lost` that succeeds the
    /// notice's recovered head.
    fn conflict_evidence(
        &self,
        notice: &SuccessionNotice,
        lost: &DeviceId,
    ) -> Result<Option<Box<SuccessionConflict>>, WalletError> {
        let recovered = notice.tombstone.record.recovered_head.digest();
        let Some(value) = self
            .store
            .get(Table::Witness, &witness_key(lost, &recovered))?
        else {
            return Ok(None);
        };
        let Some(statement) = self.witnessed_statement(&value)? else {
            return Ok(None);
        };
        let evidence = SuccessionConflict {
            genesis: notice.genesis.clone(),
            tombstone: notice.tombstone.clone(),
            statement,
        };
        Ok(evidence.verify().is_ok().then(|| Box::new(evidence)))
    }

    /// Takes a counterparty's answer to this device's succession: verified against the
    /// succession and the counterparty it was sent to, then recorded. Returns the
    /// counterparty's new state, or `None` for an answer this device has nothing to do with.
    pub fn take_succession_answer(
        &mut self,
        answer: &SignedAnswer,
        pending_answer: Option<&[u8]>,
        conflict: Option<&SuccessionConflict>,
    ) -> Result<Option<CounterpartyRecovery>, WalletError> {
        let Some(succ) = self.store.get(Table::Meta, SUCCESSION)? else {
            return Ok(None);
        };
        let succ = SignedSuccession::from_bytes(&succ).map_err(corrupt("succession"))?;
        let from = answer.record.counterparty.device_id();
        let Some(v) = self.store.get(Table::Recovery, from.as_bytes())? else {
            return Ok(None);
        };
        verify_answer(answer, &succ.record.digest(), &from)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let mut c: CounterpartyRecovery =
            serde_json::from_slice(&v).map_err(|e| WalletError::Corrupt {
                what: "recovery",
                error: e.to_string(),
            })?;
        c.status = match answer.record.verdict {
            Verdict::Acknowledged => "acknowledged",
            Verdict::Stale => "stale",
            Verdict::Conflict => "conflict",
        }
        .into();
        if let Some(e) = conflict {
            let lost = DeviceIdentity::from_bytes(
                &self
                    .store
                    .get(Table::Meta, RECOVERED_LOST)?
                    .ok_or(WalletError::NotFound)?,
            )
            .map_err(corrupt("recovered identity"))?;
            if e.verify().ok() == Some(lost.device_id()) {
                c.evidence = Some(e.to_bytes().iter().map(|b| format!("{b:02x}")).collect());
            }
        }
        if let Some(bytes) = pending_answer {
            use dsm_protocol::message::SessionMessage;
            c.pending = Some(match SessionMessage::from_bytes(bytes) {
                Ok(SessionMessage::Acceptance(_)) => "accepted by the counterparty".into(),
                Ok(SessionMessage::SignedRefusal(r)) => match self.reclaim(&from, &r)? {
                    Some(a) => format!("refused by the counterparty; {a} came back to this device"),
                    None => "refused, but the refusal does not match a pending transfer".into(),
                },
                _ => "answered with something unreadable".into(),
            });
        }
        let mut b = Batch::new();
        b.put(Table::Recovery, from.as_bytes().to_vec(), json(&c));
        self.store.commit(&b)?;
        Ok(Some(c))
    }

    /// Takes back the amount of the lost device's pending transfer to `from` that `from`
    /// refused (a RECLAIM head, PROTOCOL.md §20.5): the refusal must verify against a
    /// proposal in the recovered pending set. Idempotent (the refusal is stored under the
    /// head's cause). Returns the amount, or `None` if the refusal matches nothing.
    fn reclaim(
        &mut self,
        from: &DeviceId,
        refusal: &SignedRefusal,
    ) -> Result<Option<Amount>, WalletError> {
        let Some(p) = self
            .recovered_pending(from)?
            .filter(|p| p.proposal.commit() == refusal.refusal.proposal_commit)
        else {
            return Ok(None);
        };
        let Ok(vp) = verify_proposal(&p, &EmptyView) else {
            return Ok(None);
        };
        if dsm_core::receipt::verify_refusal(&vp, refusal, &EmptyView).is_err() {
            return Ok(None);
        }
        let cause = refusal.refusal.commit();
        let step = &p.proposal.step;
        if self.store.get(Table::Sources, cause.as_bytes())?.is_some() {
            return Ok(Some(step.amount));
        }
        let head = self.head.reclaim_child(&step.token, step.amount, cause)?;
        let mut b = Batch::new();
        let change = self.unprovable_parcel(&mut b, b"reclaim", &cause, step.token, step.amount);
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
            .put(
                Table::Sources,
                cause.as_bytes().to_vec(),
                refusal.to_bytes(),
            )
            .put(
                Table::History,
                history_key(head.height),
                json(&HistoryEntry {
                    height: head.height,
                    kind: EntryKind::Reclaimed,
                    peer: Some(from.digest().to_hex()),
                    token: step.token.digest().to_hex(),
                    amount: step.amount.0.to_string(),
                    status: "final".into(),
                    receipt: None,
                    settlement: None,
                }),
            );
        self.commit_head_change(&mut b, None)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        self.apply_book(change);
        self.head = head;
        Ok(Some(step.amount))
    }
}

/// Result of [`Wallet::push_capsules`].
#[derive(Clone, Debug, Default)]
pub struct BackupPush {
    /// Capsules that reached K nodes now.
    pub uploaded: u64,
    /// Set when a capsule reached fewer than K nodes (retried at the next sync).
    pub short: Option<String>,
    /// Set when a node holds another capsule at one of our positions.
    pub conflict: Option<String>,
    /// Misbehaving nodes.
    pub faults: Vec<NodeFault>,
}

/// Result of [`Wallet::backup_status`].
#[derive(Clone, Debug, Default)]
pub struct BackupStatus {
    /// False for an identity without a recovery phrase.
    pub enabled: bool,
    /// This device's generation: 0 for an identity's first device, n for the n-th
    /// successor (each generation writes its own stream).
    pub generation: u64,
    /// The stream's address (hex).
    pub stream: String,
    /// Capsules sealed (the last index is `sealed - 1`).
    pub sealed: u64,
    /// Capsules known to be at K nodes.
    pub uploaded: u64,
    /// For the last capsule: each placed node and what it holds.
    pub replicas: Vec<(String, String)>,
}

fn step_of(store: &dyn Store) -> Result<Option<RecoveryStep>, WalletError> {
    match store.get(Table::Meta, RECOVERY_STEP)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| WalletError::Corrupt {
                what: "recovery step",
                error: e.to_string(),
            }),
    }
}

/// Restores an identity from its recovery phrase onto a new device in `store`
/// (PROTOCOL.md §20.3): fetch and replay the capsule stream; create the new device (fresh
/// key) holding the recovered state; publish the tombstone of the lost device, then the
/// succession naming this one, each in a write-once slot; commit the SUCCEED head; send
/// every counterparty of the lost device a notice. Spending to a counterparty resumes when
/// its acknowledgement arrives (`sync`).
///
/// Rerunning after a crash or an error continues where the store says it stopped: the same
/// new key, the same tombstone and succession (authority signatures are deterministic and
/// the slots are write-once), so it never tombstones twice or forks the identity.
pub fn recover(
    store: Box<dyn Store>,
    keys: &RecoveryKeys,
    nodes: &NodeSet,
    options: &RecoverOptions<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<(Wallet, RecoveryReport), WalletError> {
    let passphrase = options.passphrase;
    let mut faults = Vec::new();
    let mut wallet = if store.get(Table::Meta, b"identity")?.is_some() {
        if step_of(store.as_ref())?.is_none() {
            return Err(WalletError::AlreadyExists);
        }
        progress("resuming the recovery this home started");
        let w = Wallet::open(store, passphrase)?;
        if w.genesis_record()?.recovery_authority.as_ref()
            != Some(keys.authority_key().public_key())
        {
            return Err(WalletError::Recovery(
                "this home is recovering another identity; use another --home".into(),
            ));
        }
        w
    } else {
        progress("fetching backup capsules from the storage nodes");
        // The newest device generation with a capsule 0 at a quorum is the one to replace.
        let mut generation = 0u64;
        while stream_started(nodes, &keys.generation(generation + 1).stream)? {
            generation += 1;
        }
        let gen_key = keys.generation(generation);
        let fetched = fetch_stream(nodes, &gen_key.stream, &mut |n| {
            if n % 1000 == 0 {
                progress(&format!("  {n} capsules"));
            }
        })?;
        faults.extend(fetched.faults);
        if let Some(short) = &fetched.short {
            progress(short);
        }
        if fetched.chain.is_empty() {
            return Err(WalletError::Recovery(
                "no backup was found for this recovery phrase at these storage nodes: check \
                 the phrase (it is a valid phrase, but no node holds a backup for it) and the \
                 node list"
                    .into(),
            ));
        }
        progress(&format!("replaying {} capsules", fetched.chain.len()));
        let state =
            replay(&gen_key, &fetched.chain).map_err(|e| WalletError::Recovery(e.to_string()))?;
        if state.genesis.recovery_authority.as_ref() != Some(keys.authority_key().public_key()) {
            return Err(WalletError::Recovery(
                "the backup's identity is not controlled by this recovery phrase".into(),
            ));
        }
        if generation > 0 && !options.replace_successor {
            return Err(WalletError::Recovery(format!(
                "the newest device of this identity, {}, was itself restored from the phrase \
                 (device generation {generation}); if that device is lost too, run the recovery \
                 again allowing it to be replaced (`dsm recover --replace-restored`)",
                state.identity.device_id(),
            )));
        }
        create_successor(store, keys, &state, generation + 1, options)?
    };
    let lost_identity = DeviceIdentity::from_bytes(
        &wallet
            .store
            .get(Table::Meta, RECOVERED_LOST)?
            .ok_or(WalletError::NotFound)?,
    )
    .map_err(corrupt("recovered identity"))?;
    let lost = lost_identity.device_id();
    let recovered_head = DeviceHead::from_bytes(
        &wallet
            .store
            .get(Table::Meta, RECOVERED_HEAD)?
            .ok_or(WalletError::NotFound)?,
    )
    .map_err(corrupt("recovered head"))?;
    let genesis = wallet.genesis_record()?;
    let authority = keys.authority_key();
    let k = nodes.params().k;
    let quorum = |acks: usize, what: &str| -> Result<(), WalletError> {
        if acks < k {
            return Err(WalletError::Recovery(format!(
                "the {what} reached {acks} storage node(s), {k} needed; run the recovery again \
                 when more nodes are up (it goes on from here)"
            )));
        }
        Ok(())
    };

    // Tombstone.
    let tombstone = sign_tombstone(
        &authority,
        Tombstone {
            lost: lost_identity.clone(),
            recovered_head: recovered_head.clone(),
        },
    );
    if step_of(wallet.store.as_ref())? < Some(RecoveryStep::Tombstoned) {
        progress(&format!("publishing the tombstone of device {lost}"));
        let r = nodes
            .anchor(
                lost.as_bytes(),
                tombstone_slot().as_bytes(),
                &tombstone.to_bytes(),
                &|other: &[u8]| other != tombstone.to_bytes().as_slice(),
            )
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        faults.extend(r.faults);
        if let Anchor::Conflict { existing, .. } = r.outcome {
            let why = match SignedTombstone::from_bytes(&existing) {
                Ok(t) => format!(
                    "device {lost} was already tombstoned from another backup point (head \
                     height {}); that recovery stands",
                    t.record.recovered_head.height
                ),
                Err(_) => "a node holds unreadable bytes in the tombstone slot".into(),
            };
            return Err(WalletError::Recovery(why));
        }
        quorum(r.acked.len(), "tombstone")?;
        let mut b = Batch::new();
        b.put(Table::Meta, TOMBSTONE.to_vec(), tombstone.to_bytes())
            .put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                json(&RecoveryStep::Tombstoned),
            );
        wallet.store.commit(&b)?;
    }

    // Succession and the SUCCEED head.
    let succession = sign_succession(
        &authority,
        Succession {
            tombstone: tombstone.record.digest(),
            successor: wallet.identity.clone(),
        },
    );
    let verified = verify_succession(&genesis, &tombstone, &succession)
        .map_err(|e| WalletError::Recovery(e.to_string()))?;
    if step_of(wallet.store.as_ref())? < Some(RecoveryStep::Succeeded) {
        progress(&format!(
            "publishing the succession: device {} replaces {lost}",
            wallet.device_id()
        ));
        let r = nodes
            .anchor(
                lost.as_bytes(),
                tombstone.record.digest().as_bytes(),
                &succession.to_bytes(),
                &|other: &[u8]| other != succession.to_bytes().as_slice(),
            )
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        faults.extend(r.faults);
        if let Anchor::Conflict { existing, .. } = r.outcome {
            let other = SignedSuccession::from_bytes(&existing)
                .map(|s| s.record.successor.device_id().to_string())
                .unwrap_or_else(|_| "(unreadable)".into());
            return Err(WalletError::Recovery(format!(
                "this identity was already recovered to device {other}; use that device (a \
                 second successor would fork the identity)"
            )));
        }
        quorum(r.acked.len(), "succession")?;
        // Claim the lost device's next slot, so nothing it signs from the recovered head
        // on can ever settle; if it already has a settled successor there, it spent after
        // the backup point and spending stays blocked.
        let record = SuccessionRecord {
            genesis: genesis.clone(),
            tombstone: tombstone.clone(),
            succession: succession.clone(),
        }
        .to_bytes();
        let claim = nodes
            .anchor(
                lost.as_bytes(),
                recovered_head.digest().as_bytes(),
                &record,
                &|other: &[u8]| other != record.as_slice(),
            )
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        let mut b = Batch::new();
        if let Anchor::Conflict { .. } = claim.outcome {
            b.put(
                Table::Meta,
                RECOVERY_BLOCKED.to_vec(),
                b"the lost device signed a transfer after the last backup and it reached the \
                  storage nodes: the recovered balance may be too high, so spending stays \
                  blocked"
                    .to_vec(),
            );
        }
        let balances = recovered_head.balances.clone();
        let head = wallet
            .head
            .succession_child(balances, verified.digest())
            .ok_or_else(|| WalletError::Recovery("the new device already moved on".into()))?;
        b.put(Table::Meta, b"head".to_vec(), head.to_bytes())
            .put(Table::Meta, SUCCESSION.to_vec(), succession.to_bytes())
            .put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                json(&RecoveryStep::Succeeded),
            )
            .put(
                Table::History,
                history_key(head.height),
                json(&HistoryEntry {
                    height: head.height,
                    kind: EntryKind::Succession,
                    peer: Some(lost.digest().to_hex()),
                    token: String::new(),
                    amount: String::new(),
                    status: "final".into(),
                    receipt: None,
                    settlement: None,
                }),
            );
        wallet.record_succession(&mut b, &verified, None);
        let mut change = super::parcels::BookChange::default();
        for bal in head.balances.entries() {
            let c = wallet.unprovable_parcel(
                &mut b,
                b"succession",
                &verified.digest(),
                bal.token,
                bal.amount,
            );
            change.merge(c);
        }
        wallet
            .commit_head_change(&mut b, None)
            .map_err(|e| WalletError::Recovery(e.to_string()))?;
        wallet.apply_book(change);
        wallet.head = head;
        wallet.tombstoned.insert(lost);
    }

    // Notices.
    if step_of(wallet.store.as_ref())? < Some(RecoveryStep::Notified) {
        let counterparties = wallet.recovery_counterparties()?;
        let mut tree = SparseMerkleTree::new();
        for c in &counterparties {
            if let (Some(d), Some(t)) = (Digest::from_hex(&c.device), Digest::from_hex(&c.tip)) {
                tree.insert(*RelationshipKey::between(&lost, &DeviceId(d)).as_bytes(), t);
            }
        }
        if tree.root() != recovered_head.smt_root {
            return Err(WalletError::Corrupt {
                what: "recovery",
                error: "the recovered relationships do not match the recovered head".into(),
            });
        }
        let todo: Vec<(CounterpartyRecovery, DeviceId)> = counterparties
            .into_iter()
            .filter(|c| !c.notified)
            .filter_map(|c| Digest::from_hex(&c.device).map(|d| (c, DeviceId(d))))
            .collect();
        let mut all = true;
        // Chunks: notices are built here, posted by a few threads at once (each post waits
        // for K nodes to store it durably), and their marks committed in one batch; a crash
        // repeats at most one chunk's posts, which counterparties answer idempotently.
        for chunk in todo.chunks(64) {
            let items: Vec<(DeviceId, Vec<u8>)> = chunk
                .iter()
                .map(|(_, device)| {
                    let notice = SuccessionNotice {
                        genesis: genesis.clone(),
                        tombstone: tombstone.clone(),
                        succession: succession.clone(),
                        counterparty: *device,
                        proof: tree.prove(RelationshipKey::between(&lost, device).as_bytes()),
                        pending: wallet.recovered_pending(device)?,
                    };
                    Ok((
                        *device,
                        RecoveryMessage::Notice(Box::new(notice)).to_bytes(),
                    ))
                })
                .collect::<Result<_, WalletError>>()?;
            let posted = post_all(nodes, &items);
            let mut b = Batch::new();
            for ((c, device), result) in chunk.iter().zip(posted) {
                let who = c.name.clone().unwrap_or_else(|| c.device[..16].to_string());
                match result {
                    Ok(()) => {
                        let mut c = c.clone();
                        c.notified = true;
                        b.put(Table::Recovery, device.as_bytes().to_vec(), json(&c));
                        progress(&format!("  notified {who}"));
                    }
                    Err(e) => {
                        all = false;
                        progress(&format!("  could not notify {who}: {e}"));
                    }
                }
            }
            wallet.store.commit(&b)?;
        }
        if all {
            let mut b = Batch::new();
            b.put(
                Table::Meta,
                RECOVERY_STEP.to_vec(),
                json(&RecoveryStep::Notified),
            );
            wallet.store.commit(&b)?;
        }
    }
    let push = wallet.push_capsules(nodes)?;
    faults.extend(push.faults);
    let blocked = wallet
        .store
        .get(Table::Meta, RECOVERY_BLOCKED)?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let report = RecoveryReport {
        lost,
        successor: wallet.device_id(),
        capsules: wallet
            .store
            .get(Table::Meta, RECOVERED_CAPSULES)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0),
        height: recovered_head.height,
        counterparties: wallet.recovery_counterparties()?,
        faults,
        blocked,
    };
    Ok((wallet, report))
}

/// Creates the new device holding the recovered state: fresh key, the identity's genesis,
/// the CREATE head, contacts, policies, the recovered head and relationships (for the
/// notices), and the capsule stream's position, in one batch.
fn create_successor(
    mut store: Box<dyn Store>,
    keys: &RecoveryKeys,
    state: &RecoveredState,
    generation: u64,
    options: &RecoverOptions<'_>,
) -> Result<Wallet, WalletError> {
    let (suite, passphrase, params) = (options.suite, options.passphrase, options.kdf);
    let capsules = keys.generation(generation);
    let seed = SecretSeed::from_bytes(os_random()?);
    let key = SigningKey::from_seed(suite, &seed);
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    salt.copy_from_slice(&os_random()?[..16]);
    nonce.copy_from_slice(&os_random()?[..24]);
    let sealed = keystore::seal_keys(
        &seed,
        Some(capsules.secret_bytes()),
        suite,
        passphrase,
        params,
        salt,
        nonce,
    )?;
    let identity = DeviceIdentity {
        genesis: state.genesis.digest(),
        public_key: key.public_key().clone(),
    };
    let head = DeviceHead::initial(identity.device_id(), &identity.genesis);
    let mut b = Batch::new();
    b.put(Table::Meta, b"format".to_vec(), FORMAT_VERSION.to_vec())
        .put(Table::Meta, b"identity".to_vec(), identity.to_bytes())
        .put(
            Table::Meta,
            b"genesis_record".to_vec(),
            state.genesis.to_bytes(),
        )
        .put(Table::Meta, b"sealed_key".to_vec(), sealed)
        .put(Table::Meta, b"head".to_vec(), head.to_bytes())
        .put(
            Table::Meta,
            CAPSULE_STREAM.to_vec(),
            capsules.stream.as_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            CAPSULE_GENERATION.to_vec(),
            generation.to_be_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            RECOVERED_CAPSULES.to_vec(),
            state.capsules.to_be_bytes().to_vec(),
        )
        .put(
            Table::Meta,
            RECOVERED_LOST.to_vec(),
            state.identity.to_bytes(),
        )
        .put(Table::Meta, RECOVERED_HEAD.to_vec(), state.head.to_bytes())
        .put(
            Table::Meta,
            RECOVERY_STEP.to_vec(),
            json(&RecoveryStep::Created),
        );
    let names: BTreeMap<DeviceId, String> = state
        .contacts
        .iter()
        .map(|(n, d)| (*d, n.clone()))
        .collect();
    for (name, device) in &state.contacts {
        b.put(
            Table::Contacts,
            name.clone().into_bytes(),
            json(&Contact {
                name: name.clone(),
                device: device.digest().to_hex(),
            }),
        );
    }
    let mut carried = Vec::new();
    let mut tickers = BTreeMap::new();
    for p in &state.policies {
        if let Ok(policy) = dsm_token::policy::TokenPolicy::from_bytes(p) {
            let id = policy.token_id();
            carried.extend_from_slice(id.as_bytes());
            b.put(Table::Policies, id.as_bytes().to_vec(), p.clone());
            tickers.insert(id, policy.ticker.clone());
        }
    }
    b.put(Table::Meta, CAPSULE_POLICIES.to_vec(), carried);
    for p in &state.pending {
        b.put(
            Table::Meta,
            pending_key(&p.proposal.step.receiver),
            p.to_bytes(),
        );
    }
    for (device, tip) in state.relationships.values() {
        let pending = state
            .pending
            .iter()
            .find(|p| p.proposal.step.receiver == *device)
            .map(|p| {
                let t = &p.proposal.step.token;
                let name = tickers
                    .get(t)
                    .cloned()
                    .unwrap_or_else(|| format!("token {}", &t.digest().to_hex()[..16]));
                format!(
                    "{} {name} sent to it was waiting for its answer",
                    p.proposal.step.amount
                )
            });
        b.put(
            Table::Recovery,
            device.as_bytes().to_vec(),
            json(&CounterpartyRecovery {
                device: device.digest().to_hex(),
                name: names.get(device).cloned(),
                tip: tip.digest().to_hex(),
                status: "waiting".into(),
                notified: false,
                pending,
                evidence: None,
            }),
        );
    }
    store.commit(&b)?;
    Wallet::open(store, passphrase)
}
