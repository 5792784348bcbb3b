//! Online operation over storage nodes (PROTOCOL.md §16): anchoring head transitions and
//! reporting settlement, exchanging equivocation evidence, and unilateral delivery through
//! b0x inboxes. The protocol decisions are dsm-protocol's ([`mailbox`]) and dsm-core's
//! ([`EquivocationProof`]); this module only moves bytes between them and the nodes.

pub mod emissions;
pub mod vaults;

use crate::nodes::{Anchor, Judged, NodeFault, NodeSet, ReplicationError};
use crate::wallet::parcels::SettleItem;
use crate::wallet::{LineSettlement, Wallet, WalletError};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::identity::{DeviceId, DeviceIdentity};
use dsm_core::parcel::{judge_slot, parcel_slot, SlotContent};
use dsm_core::receipt::{verify_proposal, ChainView, EmptyView, Offer, SignedProposal};
use dsm_core::slot::{
    anchor_slot, hop_entries, open_anchor_body, seal_statement, statement_entries, OwnedPut,
};
use dsm_core::slot::{B0xCursor, B0xOp};
use dsm_core::tripwire::{Equivocation, EquivocationProof, Statement};
use dsm_protocol::mailbox::{self, Taken};
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::{Completed, LedgerError, Refused, SessionError};
use dsm_token::authority::{
    check_published_successor, judge_mint_slot, mint_slot, MintConflict, MintSlotContent,
    SignedMint,
};
use dsm_token::TokenPolicy;
use std::collections::{BTreeMap, HashMap, HashSet};
use thiserror::Error;

/// Why an online operation stopped. Everything committed before the error stays committed;
/// running `sync` again goes on from there.
#[derive(Debug, Error)]
pub enum OnlineError {
    /// The wallet failed.
    #[error("{0}")]
    Wallet(#[from] WalletError),
    /// The transfer could not be made or answered.
    #[error("{0}")]
    Session(#[from] SessionError),
    /// Too few nodes answered.
    #[error("storage nodes: {0}")]
    Replication(#[from] ReplicationError),
}

impl From<LedgerError> for OnlineError {
    fn from(e: LedgerError) -> Self {
        OnlineError::Session(SessionError::Ledger(e))
    }
}

impl From<dsm_core::receipt::ViewError> for OnlineError {
    fn from(e: dsm_core::receipt::ViewError) -> Self {
        OnlineError::Session(e.into())
    }
}

pub use dsm_protocol::placement::{Disposition, Settlement};

/// What a history line records of a settlement.
fn line_of(s: &Settlement) -> LineSettlement {
    s.kind()
}

/// The proof that `other` (bytes a node holds) and `ours` are two successors signed by one
/// device, if they are.
fn rival_proof(ours: &Statement, other: &[u8]) -> Option<(EquivocationProof, Equivocation)> {
    let (_, parent, _) = ours.head_transition();
    let other = Statement::from_bytes(&open_anchor_body(&parent, other)?).ok()?;
    EquivocationProof::new(ours.clone(), other).ok()
}

/// Anchors `statement`, sealed, in its signer's owned slot (signer's slot owner,
/// H(AnchorSlot, parent head)), PROTOCOL.md §15.2, §16.2:
/// with our own write, the write its sender's offer carried (so a receiver anchors its
/// sender's proposal itself), or a copy of a write some node already holds. A rival
/// successor found at any node becomes stored, published evidence.
pub fn anchor_statement(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    statement: &Statement,
    faults: &mut Vec<NodeFault>,
) -> Result<Settlement, OnlineError> {
    let (device, parent, _) = statement.head_transition();
    let claimed = |b: &[u8]| {
        let plain = open_anchor_body(&parent, b)?;
        dsm_recovery::succession::SuccessionRecord::claiming(&plain, &device, parent.digest())
    };
    let body = seal_statement(statement);
    let judge = |b: &[u8]| {
        if b == body.as_slice() {
            Judged::Same
        } else if rival_proof(statement, b).is_some() || claimed(b).is_some() {
            Judged::Rival
        } else {
            Judged::Noise
        }
    };
    let (owner, key) = anchor_slot(statement.signer(), &parent);
    let commit = statement.hop().map(|h| h.commit());
    let write = wallet.slot_write_for(commit.as_ref(), &device, &statement_entries(statement))?;
    let put = write.map(|write| OwnedPut {
        write,
        body: body.clone(),
    });
    let report = nodes.settle_owned(&owner, &key, put.as_ref(), &judge)?;
    faults.extend(report.faults);
    Ok(match report.outcome {
        Anchor::Settled { acks } => Settlement::Settled { acks },
        Anchor::Unsettled { acks } => Settlement::Unsettled { acks },
        Anchor::Conflict { existing, acks } => match rival_proof(statement, &existing) {
            Some((proof, what)) => {
                let bytes = proof.to_bytes();
                wallet.import_evidence(&bytes)?;
                nodes.publish_evidence(what.device().as_bytes(), &bytes);
                Settlement::Conflict(what)
            }
            None => match claimed(&existing) {
                Some(v) => {
                    wallet.learn_tombstone(&v)?;
                    Settlement::Tombstoned(device)
                }
                // Unreachable in practice (the node set only reports rivals), but never panic.
                None => Settlement::Unsettled { acks },
            },
        },
    })
}

/// Settles `hops` in order, oldest first (PROTOCOL.md §5.6, "Settlement"): each must hold
/// the owned slot of every parcel it consumes at W of N nodes — written there with the
/// hop's write (ours, or one carried to us), or a copy of one some node holds (PROTOCOL.md
/// §15.2) — compared by commit, never by bytes. A hop this
/// wallet already saw settled is skipped (every hop before it was settled first). The first
/// slot that holds another statement of the same holder is a parcel fork: stored, and the
/// line is in conflict. Stops at the first hop that does not settle.
pub(crate) fn settle_items(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    items: &[SettleItem],
    faults: &mut Vec<NodeFault>,
) -> Result<Settlement, OnlineError> {
    let mut fewest: Option<usize> = None;
    for item in items {
        let (hop, signer, holder) = match item {
            SettleItem::Mint(m) => match settle_mint(wallet, nodes, m, faults)? {
                Settlement::Settled { .. } => continue,
                other => return Ok(other),
            },
            SettleItem::Resolution(r) => match settle_resolution(wallet, nodes, r, faults)? {
                Settlement::Settled { .. } => continue,
                other => return Ok(other),
            },
            SettleItem::Hop {
                hop,
                signer,
                holder,
            } => (hop, signer, holder),
        };
        if wallet.hop_settled(&hop.commit()) {
            continue;
        }
        let commit = hop.commit();
        let write = wallet.slot_write_for(
            Some(&commit),
            &hop.statement.holder,
            &hop_entries(hop, holder),
        )?;
        for input in &hop.statement.inputs {
            // Each parcel's slot holds the hop sealed for that parcel (PROTOCOL.md §5.6).
            let put = write.clone().map(|write| OwnedPut {
                write,
                body: dsm_core::parcel::seal_hop(input, hop),
            });
            let (owner, key) = parcel_slot(input, holder);
            let judge = |other: &[u8]| match judge_slot(other, input, hop, signer) {
                SlotContent::Same => Judged::Same,
                SlotContent::Conflict(_) => Judged::Rival,
                SlotContent::Noise => Judged::Noise,
            };
            let report = nodes.settle_owned(&owner, &key, put.as_ref(), &judge)?;
            faults.extend(report.faults);
            match report.outcome {
                Anchor::Settled { acks } => fewest = Some(fewest.map_or(acks, |f| f.min(acks))),
                Anchor::Unsettled { acks } => return Ok(Settlement::Unsettled { acks }),
                Anchor::Conflict { existing, acks } => {
                    return Ok(match judge_slot(&existing, input, hop, signer) {
                        SlotContent::Conflict(fork) => {
                            let (proof, what) =
                                EquivocationProof::parcel_fork(*fork).map_err(|e| {
                                    OnlineError::Wallet(WalletError::Parcels(e.to_string()))
                                })?;
                            wallet.record_evidence(&proof, &what)?;
                            Settlement::Conflict(what)
                        }
                        _ => Settlement::Unsettled { acks },
                    });
                }
            }
        }
        wallet.mark_hop_settled(hop)?;
    }
    Ok(Settlement::Settled {
        acks: fewest.unwrap_or(nodes.params().w()),
    })
}

/// How a vault's resolution slot is read against resolution `r` (PROTOCOL.md §18.3): the
/// same resolution sealed under the vault id, a rival (another valid resolution of the
/// vault), or noise (anything else, in clear or of another vault included).
pub(crate) fn resolution_judge(
    r: &dsm_token::vault::VaultResolution,
) -> impl Fn(&[u8]) -> Judged + Sync {
    let id = r.lock.policy.vault_id();
    let ours = r.digest();
    move |other: &[u8]| match dsm_token::vault::VaultResolution::open(&id, other) {
        Some(o) if o.digest() == ours => Judged::Same,
        Some(o) if dsm_token::source::TokenRules::check_resolution(&o).ok() == Some(id) => {
            Judged::Rival
        }
        _ => Judged::Noise,
    }
}

/// Resolution `r` (verified in a lineage) holds its vault's owned slot at W of N — written
/// there by this device if it is one of the vault's two parties, else copied from a node
/// that holds the party's write — so no other resolution of the vault can (PROTOCOL.md
/// §18.3). A different valid resolution holding the slot is a vault
/// conflict: stored, and the vault's value refused from then on.
fn settle_resolution(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    r: &dsm_token::vault::VaultResolution,
    faults: &mut Vec<NodeFault>,
) -> Result<Settlement, OnlineError> {
    let id = r.lock.policy.vault_id();
    let judge = resolution_judge(r);
    let (owner, key) = r.lock.policy.resolution_slot();
    let put = wallet.sign_vault_write(&r.lock.policy, r.sealed())?;
    let report = nodes.settle_owned(&owner, &key, put.as_ref(), &judge)?;
    faults.extend(report.faults);
    // Either party may resolve a vault: ours at W has won (a raced slot).
    Ok(match report.outcome.raced(&nodes.params()) {
        Anchor::Settled { acks } => Settlement::Settled { acks },
        Anchor::Unsettled { acks } => Settlement::Unsettled { acks },
        Anchor::Conflict { existing, acks } => {
            match dsm_token::vault::VaultResolution::open(&id, &existing) {
                Some(other) => {
                    wallet.observe_vault_resolution(&other)?;
                    Settlement::VaultConflict(id)
                }
                None => Settlement::Unsettled { acks },
            }
        }
    })
}

/// Mint `m` (verified in a lineage) holds its slot `(token, seq)` at W of N, and every mint
/// before it is published there and agrees with the one before it, from mint 0 (PROTOCOL.md
/// §17.2). Read once: what was checked is kept (`PublishedMints`). A rival mint with the same
/// number, or a `minted_before` that contradicts the published sequence, is a mint conflict:
/// stored, and the token's mints from there on are refused. A slot still empty (the issuers
/// have not published) leaves the line unsettled.
fn settle_mint(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    m: &SignedMint,
    faults: &mut Vec<NodeFault>,
) -> Result<Settlement, OnlineError> {
    let (token, seq) = (m.statement.token, m.statement.seq);
    if wallet.published_mint(&token, seq)?.as_ref() == Some(m) {
        return Ok(Settlement::Settled {
            acks: nodes.params().w(),
        });
    }
    let Some(policy) = wallet.token_rules().policy(&token).cloned() else {
        return Ok(Settlement::Unsettled { acks: 0 });
    };
    // Its own slot: written if this device is an issuer, else copied from a node that holds
    // it; compared by statement. An empty slot (the issuers have not published it) does not
    // stop the walk below: a `minted_before` that contradicts the published sequence is
    // evidence whether or not the lying mint was published.
    let own = claim_mint_slot(wallet, nodes, &policy, m, faults)?;
    if let Err(stop @ Settlement::MintConflict { .. }) = own {
        return Ok(stop);
    }
    // The sequence before it, from the newest mint already checked.
    let mut start = seq;
    let mut prev = None;
    while start > 0 {
        if let Some(p) = wallet.published_mint(&token, start - 1)? {
            prev = Some(p);
            break;
        }
        start -= 1;
    }
    for s in start..seq {
        let (owner, key) = mint_slot(&policy.issuers, &token, s);
        let (read, f) = nodes.read_owned(&owner, &key)?;
        faults.extend(f);
        let Some(cur) = read
            .and_then(|p| dsm_token::authority::open_mint(&token, &p.body))
            .filter(|c| {
                c.statement.token == token
                    && c.statement.seq == s
                    && dsm_token::authority::verify_mint(&policy, c).is_ok()
            })
        else {
            return Ok(Settlement::Unsettled { acks: 0 });
        };
        // Read at K nodes, it must also hold its slot at W, and a rival of the same number
        // at any node is the issuers' equivocation.
        if let Err(stop) = claim_mint_slot(wallet, nodes, &policy, &cur, faults)? {
            return Ok(stop);
        }
        if let Some(c) = prev
            .as_ref()
            .and_then(|p| check_published_successor(p, &cur))
        {
            return mint_conflict(wallet, &c);
        }
        wallet.note_published_mint(&cur)?;
        prev = Some(cur);
    }
    if let Some(c) = prev.as_ref().and_then(|p| check_published_successor(p, m)) {
        return mint_conflict(wallet, &c);
    }
    match own {
        Ok(acks) => {
            wallet.note_published_mint(m)?;
            Ok(Settlement::Settled { acks })
        }
        Err(stop) => Ok(stop),
    }
}

/// Puts mint `m` in its owned slot (as an issuer, or by copying an issuer's write a node
/// holds), and reads what the nodes
/// hold there (compared by statement): `Ok(acks)` when W hold it, else the settlement to
/// stop at — unsettled, or a mint conflict with an authorised rival found there.
fn claim_mint_slot(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    policy: &TokenPolicy,
    m: &SignedMint,
    faults: &mut Vec<NodeFault>,
) -> Result<Result<usize, Settlement>, OnlineError> {
    let (owner, key) = mint_slot(&policy.issuers, &m.statement.token, m.statement.seq);
    let judge = |other: &[u8]| match judge_mint_slot(other, policy, m) {
        MintSlotContent::Same => Judged::Same,
        MintSlotContent::Conflict(_) => Judged::Rival,
        MintSlotContent::Noise => Judged::Noise,
    };
    // Only an issuer writes a mint's slot (PROTOCOL.md §15.2); anyone else copies the write
    // an issuer put at some node. The slot holds the mint sealed under its token (§17.2).
    let body = dsm_token::authority::seal_mint(m);
    let put = wallet
        .sign_authority_write(&policy.issuers, vec![(owner, key, &body[..])])?
        .map(|write| OwnedPut { write, body });
    let report = nodes.settle_owned(&owner, &key, put.as_ref(), &judge)?;
    faults.extend(report.faults);
    Ok(match report.outcome {
        Anchor::Settled { acks } => Ok(acks),
        Anchor::Unsettled { acks } => Err(Settlement::Unsettled { acks }),
        Anchor::Conflict { existing, acks } => match judge_mint_slot(&existing, policy, m) {
            MintSlotContent::Conflict(c) => Err(mint_conflict(wallet, &c)?),
            _ => Err(Settlement::Unsettled { acks }),
        },
    })
}

/// Stores the issuers' conflict; the line descending from it is in conflict.
fn mint_conflict(wallet: &mut Wallet, c: &MintConflict) -> Result<Settlement, OnlineError> {
    wallet.hold_mint_conflict(c)?;
    Ok(Settlement::MintConflict {
        token: c.token(),
        from: c.first_seq(),
    })
}

/// Publishes every mint this wallet applied in its slot (first writer wins), so that the
/// holders of minted value can check the sequence. A rival there is a mint conflict.
fn publish_mints(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    report: &mut SyncReport,
) -> Result<(), OnlineError> {
    for m in wallet.applied_mints()? {
        let (token, seq) = (m.statement.token, m.statement.seq);
        if wallet.published_mint(&token, seq)?.is_some() {
            continue;
        }
        if let Settlement::MintConflict { .. } = settle_mint(wallet, nodes, &m, &mut report.faults)?
        {
            report.dropped.push(format!(
                "mint #{seq} of token {token}: the published sequence contradicts it (the \
                 issuers' conflict is stored)"
            ));
        }
    }
    Ok(())
}

/// Claims, in the slots of the parcels they consumed, the consuming statements this wallet
/// keeps (its burns, vault locks and withdrawal requests; the locks of vaults it imported),
/// after their consumed lineages (PROTOCOL.md §5.6): from then on a second spend of one of
/// those parcels is refused at settlement. A statement that finds another spend holding a
/// slot is a parcel fork: the evidence is stored and reported.
fn claim_consumptions(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    report: &mut SyncReport,
) -> Result<(), OnlineError> {
    for rec in wallet.unclaimed_consumptions()? {
        let items = wallet.consumption_items(&rec)?;
        match settle_items(wallet, nodes, &items, &mut report.faults)? {
            Settlement::Settled { .. } | Settlement::Unsettled { .. } => {}
            other => {
                // Final: reported once, never walked again.
                let commit = rec.consumption.hop.commit();
                wallet.mark_consumption_lost(&commit)?;
                report.dropped.push(format!(
                    "the statement {} by which device {} consumed parcels to the sink ({}): {}",
                    commit,
                    rec.consumption.hop.statement.holder,
                    other.word(),
                    match other {
                        Settlement::Conflict(_) =>
                            "a parcel it consumed was spent elsewhere first (evidence stored)",
                        _ => "a parcel it consumed descends from value refused at the nodes",
                    }
                ));
            }
        }
    }
    Ok(())
}

/// The result of [`send_online`].
#[derive(Debug)]
pub struct OnlineSent {
    /// The committed proposal (our pending transfer to the peer until it is answered).
    pub proposal: SignedProposal,
    /// What the anchor slots said.
    pub settlement: Settlement,
    /// How many nodes hold the proposal in the peer's b0x (an error: it stays pending and
    /// the next `sync` posts it again).
    pub posted: Result<usize, ReplicationError>,
    /// Node misbehaviour seen.
    pub faults: Vec<NodeFault>,
}

fn posted_mark(proposal: &SignedProposal) -> String {
    format!("b0x-posted:{}", proposal.proposal.commit().to_hex())
}

/// Pays `peer` without it being present: commits the debit (the modal lock now holds the
/// relationship), anchors the proposal at a quorum of its slot's nodes, and posts it to the
/// peer's b0x. The peer credits it when it next syncs, and its acceptance comes back
/// through our b0x. Refused, before anything is committed, for a peer whose identity this
/// wallet does not know (its b0x addresses derive from it, [`Wallet::peer_identity`]).
pub fn send_online(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    peer: &DeviceId,
    token: TokenId,
    amount: Amount,
) -> Result<OnlineSent, OnlineError> {
    let identity = identity_to_post_to(wallet, nodes, peer)?;
    let offer = mailbox::offer(wallet, peer, token, amount)?;
    let proposal = offer.signed.clone();
    let mut faults = Vec::new();
    let settlement = post_proposal(wallet, nodes, &offer, &mut faults)?;
    let posted = match settlement {
        // Our own device signed another successor of this head (it was cloned): posting
        // would only hand the receiver a refusal.
        Settlement::Conflict(_) | Settlement::Tombstoned(_) => Ok(0),
        _ => {
            let posted = post_offer(wallet, nodes, &identity, offer, &mut faults);
            if posted.is_ok() {
                wallet.set_counter(&posted_mark(&proposal), 1)?;
            }
            posted
        }
    };
    // The debit sealed a recovery capsule: take it to the nodes while we are online. A
    // failure here changes nothing committed; `sync` retries and reports it.
    if let Ok(push) = wallet.push_capsules(nodes) {
        faults.extend(push.faults);
    }
    Ok(OnlineSent {
        proposal,
        settlement,
        posted,
        faults,
    })
}

/// The identity of `peer`, to post to it (its b0x addresses derive from its slot owner,
/// PROTOCOL.md §16.1): one this wallet knows, else the identity document the peer's card
/// named, fetched from the nodes and checked now. Refused with what to do when neither is
/// at hand: a device known only by its id (an older card), or one that has not published
/// its document yet.
pub fn identity_to_post_to(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    peer: &DeviceId,
) -> Result<DeviceIdentity, OnlineError> {
    if let Some(identity) = wallet.peer_identity(peer)? {
        return Ok(identity);
    }
    if let Some(address) = wallet.contact_document_address(peer)? {
        let Ok((sealed, _)) = nodes.get_object(&address) else {
            return Err(WalletError::Contact(format!(
                "cannot post to {}: its identity document is not at the nodes yet (a device \
                 publishes it once it knows enough nodes, or at its next `dsm sync`); try \
                 again once it has, or pay it offline",
                &peer.digest().to_hex()[..16]
            ))
            .into());
        };
        let card = dsm_protocol::card::ContactCard {
            name: String::new(),
            device: *peer,
            document: Some(address),
        };
        wallet.accept_contact_document(&card, &sealed)?;
    }
    Ok(wallet.identity_to_post_to(peer)?)
}

/// Posts `offer` to `peer`'s b0x as PROTOCOL.md §16.3 says: its lineage objects first, each
/// as a content-addressed object at K of its N nodes, then the offer without them (a b0x
/// item carries manifests, never the objects). Returns how many nodes took the item.
fn post_offer(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    peer: &DeviceIdentity,
    offer: Offer,
    faults: &mut Vec<NodeFault>,
) -> Result<usize, ReplicationError> {
    // Objects this wallet stored before (an earlier payment of the same lineage) are not
    // stored again; a store failure here only costs requests. The marks name how objects
    // are stored, so those a wallet stored in clear, or sealed at their locators, before
    // sealed content addresses (PROTOCOL.md §2) count as not stored: they are stored
    // again where the item tells readers to look.
    let registry = format!(
        "sealed-content {:?} {}",
        nodes.params(),
        nodes.nodes().join(" ")
    );
    let addresses: Vec<Digest> = offer
        .objects
        .iter()
        .map(|o| dsm_core::hash::object_address(o))
        .collect();
    let stored = wallet
        .objects_at_nodes(&registry, &addresses)
        .unwrap_or_else(|_| vec![false; addresses.len()]);
    let new: Vec<Vec<u8>> = offer
        .objects
        .iter()
        .zip(&stored)
        .filter(|(_, at)| !**at)
        .map(|(o, _)| o.clone())
        .collect();
    faults.extend(put_sealed_objects(nodes, &new)?);
    let _ = wallet.note_objects_at_nodes(&registry, &addresses);
    post_item(wallet, nodes, peer, offer)
}

/// Posts `offer` as a b0x item, without its objects, sealed to `peer` where this wallet
/// holds its KEM key.
fn post_item(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    peer: &DeviceIdentity,
    offer: Offer,
) -> Result<usize, ReplicationError> {
    // Where each listed object's sealed form is stored (`put_sealed_objects`), so the
    // receiver reads it from an address no one else can write; all of them or none (a
    // store missing one is damage, and the receiver then reads the objects' locators).
    let held = wallet.listed_objects(&offer.manifests).unwrap_or_default();
    let by_address: HashMap<Digest, &Vec<u8>> = held
        .iter()
        .map(|o| (dsm_core::hash::object_address(o), o))
        .collect();
    let sealed: Option<Vec<Digest>> = offer
        .listed()
        .iter()
        .map(|a| by_address.get(a).map(|o| dsm_core::seal::sealed_address(o)))
        .collect();
    let item = Offer {
        objects: Vec::new(),
        sealed: sealed.unwrap_or_default(),
        ..offer
    };
    post_to_peer(
        wallet,
        nodes,
        peer,
        SessionMessage::Proposal(Box::new(item)).to_bytes(),
    )
}

/// Posts `item` to `peer` (PROTOCOL.md §16.1): sealed, with this device's reply-to, where
/// this wallet holds the peer's KEM key; at the relationship address the peer told this
/// device, else at its introduction address.
pub(crate) fn post_to_peer(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    peer: &DeviceIdentity,
    item: Vec<u8>,
) -> Result<usize, ReplicationError> {
    let item = sealed_for(wallet, &peer.device_id(), item);
    nodes.b0x_post(&wallet.b0x_address_of(peer), &item)
}

/// `item` sealed to `peer` in an envelope with this device's reply-to when this wallet
/// holds the peer's verified KEM key (from its identity document or an earlier reply-to,
/// PROTOCOL.md §12.6, §16.1), else as it is (a peer known only by an older card). The
/// reply-to goes only once this wallet has noted that it lists that address.
pub(crate) fn sealed_for(wallet: &mut Wallet, peer: &DeviceId, item: Vec<u8>) -> Vec<u8> {
    let Ok(Some(key)) = wallet.contact_kem_key(peer) else {
        return item;
    };
    let reply_to = match wallet.needs_reply_to(peer) {
        Ok(false) => None,
        _ => match wallet.reply_to(peer) {
            Ok(r) if wallet.note_told(peer).is_ok() => Some(r),
            _ => None,
        },
    };
    let envelope = mailbox::Envelope {
        item: item.clone(),
        reply_to,
    };
    // The same item seals to the same bytes: posting it again is idempotent at the nodes.
    let (m, nonce) = wallet.seal_randomness(&envelope.to_bytes());
    mailbox::seal_envelope(&key, peer, &envelope, &m, nonce).unwrap_or(item)
}

/// Stores every lineage object, sealed, at the content address of its sealed form
/// (PROTOCOL.md §2, "Sealed objects"; §5.6), at K of its N nodes, a few at a time; the
/// first failure is the error (nothing is posted that a receiver could not complete).
pub(crate) fn put_sealed_objects(
    nodes: &NodeSet,
    objects: &[Vec<u8>],
) -> Result<Vec<NodeFault>, ReplicationError> {
    let mut faults = Vec::new();
    for r in crate::nodes::in_parallel(objects, |o| nodes.put_sealed_content(o)) {
        faults.extend(r.unwrap_or(Err(stopped()))?.2);
    }
    Ok(faults)
}

/// What a request whose thread stopped counts as: no node took it.
fn stopped() -> ReplicationError {
    ReplicationError::NotEnoughReplicas { got: 0, want: 1 }
}

/// The most lineage objects one b0x item makes its receiver read from the nodes: a payment
/// at the economy's p99 lists well under a hundred, and a stranger's item must not turn
/// into tens of thousands of requests (PROTOCOL.md §16.3).
pub const MAX_FETCHED_OBJECTS: usize = 1024;

/// `offer` (from our b0x, whose item carries no objects) with the objects it lists that
/// this wallet does not hold, read from the nodes (any placed node holding its sealed form
/// at the content address the offer names, or else at its locator, opening to bytes that
/// hash to the address), in chunks, stopping at the first chunk with an object no node has and at
/// [`MAX_FETCHED_OBJECTS`]. What is still missing makes the answer a LINEAGE refusal.
fn with_objects(
    wallet: &Wallet,
    nodes: &NodeSet,
    offer: &Offer,
    faults: &mut Vec<NodeFault>,
) -> Result<Offer, OnlineError> {
    let shipped: HashSet<Digest> = offer
        .objects
        .iter()
        .map(|o| dsm_core::hash::object_address(o))
        .collect();
    let mut wanted = Vec::new();
    for a in offer.listed() {
        if !shipped.contains(&a) && !wallet.holds_object(&a)? {
            wanted.push(a);
        }
    }
    wanted.truncate(MAX_FETCHED_OBJECTS);
    // The sealed forms' content addresses the item names; an item without them (from a
    // wallet before 2026-12-06) is read at the objects' locators.
    let sealed: HashMap<Digest, Digest> = offer
        .listed()
        .into_iter()
        .zip(offer.sealed.iter().copied())
        .collect();
    let mut objects = offer.objects.clone();
    'chunks: for chunk in wanted.chunks(64) {
        for r in crate::nodes::in_parallel(chunk, |a| match sealed.get(a) {
            Some(s) => nodes.get_sealed_content(a, s),
            None => nodes.find_sealed_object(a),
        }) {
            let (found, f) = r.unwrap_or(Err(stopped()))?;
            faults.extend(f);
            match found {
                Some(o) => objects.push(o),
                None => break 'chunks,
            }
        }
    }
    objects.sort();
    objects.dedup();
    Ok(Offer {
        objects,
        ..offer.clone()
    })
}

/// Anchors our proposal (its `offer`, with every lineage object) and records the settlement
/// on its history line.
fn post_proposal(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    offer: &Offer,
    faults: &mut Vec<NodeFault>,
) -> Result<Settlement, OnlineError> {
    let proposal = &offer.signed;
    let head = anchor_statement(
        wallet,
        nodes,
        &Statement::Proposal(proposal.clone()),
        faults,
    )?;
    // And claim the slots of the parcels it consumes (first writer wins), after every hop
    // of their lineages not yet settled: this wallet may hold the writes of hops (its own,
    // or those its senders' offers carried) that only it can put at the nodes.
    let mut items = wallet.offer_settle_items(offer)?;
    items.push(SettleItem::hop(
        proposal.hop(),
        proposal.proposal.sender.clone(),
    ));
    let settlement = Settlement::weaker(Some(head), settle_items(wallet, nodes, &items, faults)?);
    wallet.set_settlement(
        proposal.proposal.sender_child_head.height,
        line_of(&settlement),
    )?;
    Ok(settlement)
}

/// One history line's settlement after a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettledLine {
    /// The history height.
    pub height: u64,
    /// The receipt id (proposal commit).
    pub receipt: Digest,
    /// What the slots said (the weakest of the line's statements).
    pub settlement: Settlement,
}

/// What [`sync`] did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Devices this wallet learned to be equivocators from the nodes' evidence.
    pub learned: Vec<DeviceId>,
    /// Equivocation proofs published (proof × node).
    pub published: usize,
    /// Transfers credited from our b0x.
    pub received: Vec<Completed>,
    /// Transfers from our b0x we refused with a signed refusal.
    pub refused: Vec<Refused>,
    /// Our pending transfers whose acceptance came through our b0x.
    pub stitched: Vec<Completed>,
    /// Our pending transfers whose signed refusal came through our b0x (amount back).
    pub released: Vec<Refused>,
    /// Pending transfers of ours (re)posted to their receiver's b0x.
    pub posted: usize,
    /// History lines whose settlement changed or was checked.
    pub settled: Vec<SettledLine>,
    /// b0x items left for a later sync, and why.
    pub waiting: Vec<String>,
    /// b0x items dropped (not for us, malformed, invalid, from an equivocator), and
    /// published evidence that does not verify, and why.
    pub dropped: Vec<String>,
    /// Node misbehaviour seen.
    pub faults: Vec<NodeFault>,
    /// Successions of other devices this wallet answered: (lost device, verdict).
    pub successions: Vec<(DeviceId, dsm_recovery::succession::Verdict)>,
    /// Counterparties that answered this (recovered) device's succession.
    pub recovery_answers: Vec<crate::wallet::recovery::CounterpartyRecovery>,
    /// Recovery capsules uploaded now, and anything wrong with the backup.
    pub backup: crate::wallet::recovery::BackupPush,
}

/// Synchronises with the storage nodes, in this order: learn published evidence (so known
/// cheaters are refused below), take what waits in our b0x, post pending transfers not yet
/// posted, anchor every history line not yet settled, publish the evidence we hold.
pub fn sync(wallet: &mut Wallet, nodes: &NodeSet) -> Result<SyncReport, OnlineError> {
    let mut report = SyncReport::default();
    pull_evidence(wallet, nodes, &mut report)?;
    publish_mints(wallet, nodes, &mut report)?;
    claim_consumptions(wallet, nodes, &mut report)?;
    take_b0x(wallet, nodes, &mut report)?;
    for proposal in wallet.pending()? {
        if wallet.counter(&posted_mark(&proposal))? != 0 {
            // Posted before and still unanswered: post the same bytes again. A node that
            // still holds them keeps one copy; one that lost them (evicted from a full b0x,
            // §15, or a node that lost its data) has them back; a receiver that took them
            // answers again from what it stored.
            let peer = proposal.proposal.step.receiver;
            if let Some(peer) = wallet.peer_identity(&peer)? {
                let offer = wallet.offer_for(&proposal)?;
                let _ = post_item(wallet, nodes, &peer, offer);
            }
            continue;
        }
        {
            let receiver = proposal.proposal.step.receiver;
            let Some(peer) = wallet.peer_identity(&receiver)? else {
                // Pending since a session broke off, to a device known only by its id: its
                // b0x addresses derive from its identity (PROTOCOL.md §16.1).
                report.waiting.push(format!(
                    "transfer {}: cannot be posted to {}, whose identity this wallet does not \
                     know; add its current card, or finish it in a session",
                    proposal.proposal.commit().to_hex(),
                    &receiver.digest().to_hex()[..16]
                ));
                continue;
            };
            let offer = wallet.offer_for(&proposal)?;
            if let Settlement::Conflict(_) =
                post_proposal(wallet, nodes, &offer, &mut report.faults)?
            {
                continue;
            }
            if post_offer(wallet, nodes, &peer, offer, &mut report.faults).is_ok() {
                wallet.set_counter(&posted_mark(&proposal), 1)?;
                report.posted += 1;
            }
        }
    }
    for (entry, statements) in wallet.unsettled()? {
        let mut worst: Option<Settlement> = None;
        for st in &statements {
            let s = anchor_statement(wallet, nodes, st, &mut report.faults)?;
            worst = Some(Settlement::weaker(worst, s));
        }
        // Transitive: every hop of the inputs' lineages (a received transfer's), then each
        // statement's own parcel hop, holds its parcel slots.
        let commit = entry.receipt;
        let mut items = match &commit {
            Some(c) => wallet.settling_items(c)?,
            None => Vec::new(),
        };
        items.extend(
            statements
                .iter()
                .filter_map(|st| st.hop().map(|h| SettleItem::hop(h, st.signer().clone()))),
        );
        if !items.is_empty() {
            let s = settle_items(wallet, nodes, &items, &mut report.faults)?;
            worst = Some(Settlement::weaker(worst, s));
        }
        if let (
            Some(
                Settlement::Settled { .. }
                | Settlement::Conflict(_)
                | Settlement::MintConflict { .. }
                | Settlement::VaultConflict(_),
            ),
            Some(c),
        ) = (&worst, &commit)
        {
            wallet.settled_line(c)?;
        }
        if let (Some(settlement), Some(receipt)) = (worst, entry.receipt) {
            if entry.settlement != Some(line_of(&settlement)) {
                wallet.set_settlement(entry.height, line_of(&settlement))?;
            }
            report.settled.push(SettledLine {
                height: entry.height,
                receipt,
                settlement,
            });
        }
    }
    report.backup = wallet.push_capsules(nodes)?;
    report
        .faults
        .extend(std::mem::take(&mut report.backup.faults));
    for proof in wallet.evidence()? {
        if let Ok(what) = proof.verify() {
            // A parcel fork goes under the parcel's id, so each parcel in conflict gets its
            // own entry, found by who holds that parcel.
            let key = match what {
                Equivocation::ParcelFork { parcel, .. } => *parcel.as_bytes(),
                _ => *what.device().as_bytes(),
            };
            let mark = format!(
                "evidence-published:{}",
                dsm_core::hash::Digest(key).to_hex()
            );
            if (wallet.counter(&mark)? as usize) < nodes.nodes().len() {
                let n = nodes.publish_evidence(&key, &proof.to_bytes());
                report.published += n;
                wallet.set_counter(&mark, n as u64)?;
            }
        }
    }
    Ok(report)
}

/// Imports every new, valid proof the nodes publish; a node publishing an invalid one is
/// reported.
fn pull_evidence(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    report: &mut SyncReport,
) -> Result<(), OnlineError> {
    for node in nodes.nodes().to_vec() {
        let cursor_name = format!("evidence-cursor:{node}");
        let mut cursor = wallet.counter(&cursor_name)?;
        while let Some(list) = nodes.fetch_evidence(&node, cursor) {
            let Some(last) = list.last().map(|(seq, _, _)| *seq) else {
                break;
            };
            for (_, _, bytes) in list {
                match EquivocationProof::verify_bytes(&bytes) {
                    Ok((proof, what)) => {
                        // New when it convicts a device or puts a parcel in conflict.
                        if wallet.record_evidence(&proof, &what)? {
                            report.learned.push(what.device());
                        }
                    }
                    // Anyone may publish evidence, so a proof that does not verify is
                    // junk of whoever put it there, never the node's fault.
                    Err(e) => report
                        .dropped
                        .push(format!("published evidence at {node} does not verify: {e}")),
                }
            }
            if last <= cursor {
                break; // a node must list strictly after the cursor
            }
            cursor = last;
            wallet.set_counter(&cursor_name, cursor)?;
        }
    }
    Ok(())
}

/// Takes the items kept in custody by earlier syncs, then every item in our b0x once
/// (copies sit on several nodes); takes custody of those that must wait, in one batch, and
/// then lets each node delete everything up to its first item that is neither finished nor
/// in custody (PROTOCOL.md §16.3, "Custody"). So an item that waits never keeps a later
/// one, or junk, at the nodes.
fn take_b0x(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    report: &mut SyncReport,
) -> Result<(), OnlineError> {
    let mut done: HashMap<Vec<u8>, bool> = HashMap::new();
    // How much this sync has answered and taken so far (to see whether a pass moved on).
    let progress =
        |r: &SyncReport| r.received.len() + r.refused.len() + r.released.len() + r.stitched.len();
    let mut before = 0;
    // What each unfinished item said in report.waiting.
    let mut said: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    for item in wallet.custody()? {
        let w = report.waiting.len();
        let finished = take_item(wallet, nodes, &item, report)?;
        if finished {
            wallet.release_custody(&item)?;
        }
        said.insert(item.clone(), report.waiting[w..].to_vec());
        done.insert(item, finished);
    }
    // The introduction address and every relationship address this device told a peer.
    let owner = wallet.slot_owner();
    let told: HashMap<Digest, DeviceId> = wallet.b0x_blinds()?.into_iter().collect();
    let mut blinds = vec![None];
    blinds.extend(told.keys().copied().map(Some));
    let (mut items, faults) = nodes.b0x_fetch(
        &blinds,
        &mut |node, op, entries| wallet.b0x_read(node, op, entries),
        &owner,
    )?;
    report.faults.extend(faults);
    items.sort_by(|a, b| (&a.node, a.blind, a.seq).cmp(&(&b.node, b.blind, b.seq)));
    // A sealed item at the address this device named for a peer: the peer knows it, so
    // this device's items to it need not carry the reply-to any more (PROTOCOL.md §16.1).
    // (A node that copies an item there before the peer learned the address only keeps the
    // peer posting to the introduction address, which this device lists anyway.)
    let heard: HashSet<DeviceId> = items
        .iter()
        .filter(|i| mailbox::SealedItem::from_bytes(&i.bytes).is_ok())
        .filter_map(|i| told.get(&i.blind?).copied())
        .collect();
    for peer in heard {
        wallet.note_heard(&peer)?;
    }
    for item in &items {
        if !done.contains_key(&item.bytes) {
            let w = report.waiting.len();
            let d = take_item(wallet, nodes, &item.bytes, report)?;
            said.insert(item.bytes.clone(), report.waiting[w..].to_vec());
            done.insert(item.bytes.clone(), d);
        }
    }
    // What one item did can unblock another read before it: a proposal that won a crossing
    // waits for the refusal of ours (PROTOCOL.md §7.6); a queued proposal waits for the one
    // before it, and a refusal behind a refused step for that step's refusal (§7.7) — each
    // may come later in the same b0x. So the waiting items are taken again while a pass
    // moves something on: a queue is at most `MAX_QUEUE` long, so that many passes and one
    // more finish whatever can be finished now, and a sync's reads stay bounded.
    let mut passes = dsm_core::receipt::MAX_QUEUE + 1;
    while progress(report) > before && passes > 0 {
        passes -= 1;
        before = progress(report);
        let mut waiting: Vec<Vec<u8>> = done
            .iter()
            .filter(|(_, finished)| !**finished)
            .map(|(b, _)| b.clone())
            .collect();
        waiting.sort(); // (a deterministic order; any order finishes in as many passes)
        for item in waiting {
            let w = report.waiting.len();
            if take_item(wallet, nodes, &item, report)? {
                wallet.release_custody(&item)?; // (held or not)
                                                // It no longer waits: drop what the first pass said about it.
                let stale = said.remove(&item).unwrap_or_default();
                report.waiting.retain(|m| !stale.contains(m));
                done.insert(item, true);
            } else {
                report.waiting.truncate(w); // said once already
            }
        }
    }
    let waiting: Vec<Vec<u8>> = done
        .iter()
        .filter(|(_, finished)| !**finished)
        .map(|(b, _)| b.clone())
        .collect();
    let kept: std::collections::HashSet<Vec<u8>> =
        wallet.take_custody(&waiting)?.into_iter().collect();
    // Per node and address: the highest seq up to which every item is finished or in
    // custody, and whether it stopped.
    let mut ack: BTreeMap<(String, Option<Digest>), (u64, bool)> = BTreeMap::new();
    for item in items {
        let gone = done.get(&item.bytes) == Some(&true) || kept.contains(&item.bytes);
        let entry = ack
            .entry((item.node.clone(), item.blind))
            .or_insert((0, false));
        if !entry.1 {
            if gone {
                entry.0 = item.seq;
            } else {
                entry.1 = true;
            }
        }
    }
    // One acknowledgement per node, naming every address with something to delete.
    let mut per_node: BTreeMap<String, Vec<B0xCursor>> = BTreeMap::new();
    for ((node, blind), (upto, _)) in ack {
        if upto > 0 {
            per_node.entry(node).or_default().push(B0xCursor {
                blind,
                cursor: upto,
            });
        }
    }
    for (node, entries) in per_node {
        for chunk in entries.chunks(dsm_core::slot::MAX_READ_ENTRIES) {
            let authority = crate::nodes::node_authority(&node);
            if let Some(read) = wallet.b0x_read(authority, B0xOp::Acknowledge, chunk.to_vec()) {
                nodes.b0x_ack(&node, &read);
            }
        }
    }
    Ok(())
}

/// Handles one b0x item; returns false if it must stay for a later sync. A sealed item
/// (PROTOCOL.md §16.3) is opened with this device's KEM key first.
fn take_item(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    bytes: &[u8],
    report: &mut SyncReport,
) -> Result<bool, OnlineError> {
    let Ok(sealed) = mailbox::SealedItem::from_bytes(bytes) else {
        return take_plain_item(wallet, nodes, bytes, report);
    };
    let me = wallet.device_id();
    let envelope = match mailbox::open_envelope(&wallet.kem_keys().1, &me, &sealed) {
        Ok(e) if mailbox::SealedItem::from_bytes(&e.item).is_err() => e,
        Ok(_) => {
            report.dropped.push("an item sealed twice".into());
            return Ok(true);
        }
        Err(e) => {
            report.dropped.push(format!("a sealed item: {e}"));
            return Ok(true);
        }
    };
    // Where its poster reads our items: kept for a device this wallet deals with, or that
    // proposes a transfer or announces a succession in this very item (so the answer goes
    // there, sealed); a stranger's other items teach nothing (PROTOCOL.md §16.1).
    if let Some(reply) = &envelope.reply_to {
        match reply.verify(&me) {
            Ok(peer) => {
                if wallet.knows_peer(&peer)? || item_author(&envelope.item) == Some(peer) {
                    wallet.learn_reply_to(&peer, reply)?;
                }
            }
            Err(e) => report
                .dropped
                .push(format!("a reply-to that was refused: {e}")),
        }
    }
    take_plain_item(wallet, nodes, &envelope.item, report)
}

/// The device a b0x item introduces: a proposal's sender, or a succession notice's
/// successor.
fn item_author(item: &[u8]) -> Option<DeviceId> {
    if let Ok(SessionMessage::Proposal(p)) = SessionMessage::from_bytes(item) {
        return Some(p.signed.proposal.step.sender);
    }
    match dsm_recovery::succession::RecoveryMessage::from_bytes(item) {
        Ok(dsm_recovery::succession::RecoveryMessage::Notice(n)) => {
            Some(n.succession.record.successor.device_id())
        }
        _ => None,
    }
}

/// [`take_item`] for an item as it was posted (not sealed).
fn take_plain_item(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    bytes: &[u8],
    report: &mut SyncReport,
) -> Result<bool, OnlineError> {
    let msg = match SessionMessage::from_bytes(bytes) {
        Ok(m) => m,
        Err(_) if dsm_recovery::succession::RecoveryMessage::from_bytes(bytes).is_ok() => {
            return take_recovery_item(wallet, nodes, bytes, report);
        }
        Err(e) => {
            report
                .dropped
                .push(format!("an item that does not decode: {e}"));
            return Ok(true);
        }
    };
    match msg {
        SessionMessage::Proposal(p) => take_proposal(wallet, nodes, &p, report),
        reply @ (SessionMessage::Acceptance(_) | SessionMessage::SignedRefusal(_)) => {
            match mailbox::take_answer(wallet, &reply) {
                Ok(Taken::Stitched(c)) => report.stitched.push(c),
                Ok(Taken::Released(r)) => report.released.push(r),
                Ok(Taken::AlreadyDone | Taken::NotPending) => {}
                // A refusal behind a step of ours whose own refusal is not here yet.
                Ok(Taken::Waits) => {
                    report.waiting.push(
                        "a refusal of a queued transfer waits for the refusal of the one before it"
                            .into(),
                    );
                    return Ok(false);
                }
                Err(SessionError::Ledger(e)) => return Err(e.into()),
                Err(e) => report
                    .dropped
                    .push(format!("an answer that was refused: {e}")),
            }
            Ok(true)
        }
        other => {
            report
                .dropped
                .push(format!("a {} (not a b0x item)", other.name()));
            Ok(true)
        }
    }
}

/// A proposal from our b0x: checked statelessly (spam costs no node traffic), required to
/// be settled at its sender's slot (online, double spends are prevented, not only detected),
/// then answered exactly as in a session and the answer posted to the sender's b0x.
fn take_proposal(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    offer: &Offer,
    report: &mut SyncReport,
) -> Result<bool, OnlineError> {
    let p = &offer.signed;
    let commit = p.proposal.commit();
    if p.proposal.step.receiver != wallet.device_id() {
        report
            .dropped
            .push(format!("transfer {commit} is addressed to another device"));
        return Ok(true);
    }
    if wallet.is_tombstoned(&p.proposal.step.sender)? {
        report.dropped.push(format!(
            "transfer {commit} comes from a device its identity tombstoned (lost or stolen); \
             refused"
        ));
        return Ok(true);
    }
    if let Err(e) = verify_proposal(p, &EmptyView) {
        report
            .dropped
            .push(format!("transfer {commit} is invalid: {e}"));
        return Ok(true);
    }
    // The sender's authorization for its slots (checked where it is used): with it this
    // wallet settles the proposal even where the sender's own writes did not land.
    if let Some(w) = &offer.slot_write {
        wallet.keep_slot_write(&commit, w)?;
    }
    // The online accept rule is dsm-protocol's (`Settlement::of_anchor`, `of_lineage`);
    // this only says why.
    let anchored = anchor_statement(
        wallet,
        nodes,
        &Statement::Proposal(p.clone()),
        &mut report.faults,
    )?;
    match anchored.of_anchor() {
        Disposition::GoOn => {}
        Disposition::Wait => {
            report.waiting.push(format!(
                "transfer {commit} is held by {} of the {} nodes needed to settle it",
                match anchored {
                    Settlement::Unsettled { acks } => acks,
                    _ => 0,
                },
                nodes.params().w()
            ));
            return Ok(false);
        }
        Disposition::Drop => {
            report.dropped.push(match anchored {
                Settlement::Tombstoned(_) => format!(
                    "transfer {commit}: its sender's identity replaced that device by recovery \
                     (its tombstone is at the nodes and is now recorded here); refused"
                ),
                // (An anchor slot never yields a mint or vault conflict.)
                _ => format!(
                    "transfer {commit}: its sender signed a competing successor (evidence stored)"
                ),
            });
            return Ok(true);
        }
    }
    // The lineage objects it lists and this wallet lacks come from the nodes, where its
    // sender stored them before posting; any still missing make it a LINEAGE refusal.
    let full = with_objects(wallet, nodes, offer, &mut report.faults)?;
    let offer = &full;
    // Every hop of its lineage, and its own, must hold its parcel slots too: online, a
    // parcel spent twice anywhere up the line is refused here, not only detected. Only a
    // lineage that verifies is written to the slots (a stranger's junk never is).
    if wallet.lineages_well_formed(offer)? {
        let mut items = wallet.offer_settle_items(offer)?;
        items.push(SettleItem::hop(p.hop(), p.proposal.sender.clone()));
        let settled = settle_items(wallet, nodes, &items, &mut report.faults)?;
        match settled.of_lineage() {
            Disposition::GoOn => {}
            Disposition::Wait => {
                report.waiting.push(format!(
                    "transfer {commit}: its lineage is not settled at the nodes yet"
                ));
                return Ok(false);
            }
            Disposition::Drop => {
                report.dropped.push(match settled {
                    Settlement::MintConflict { token, from } => format!(
                        "transfer {commit}: it descends from mint #{from} or later of token \
                         {token}, whose issuers' published mint sequence contradicts itself"
                    ),
                    Settlement::VaultConflict(v) => format!(
                        "transfer {commit}: it descends from a resolution of vault {v} that \
                         another resolution beat at the nodes (conflict stored)"
                    ),
                    _ => format!(
                        "transfer {commit}: a parcel it descends from was spent twice and the \
                         other spend holds its slot at the nodes (evidence stored)"
                    ),
                });
                return Ok(true);
            }
        }
    }
    // Settled at the nodes before we answer: no offline risk, so no exposure limit applies.
    wallet.note_settled_incoming(commit);
    let answer = mailbox::answer(wallet, offer)?;
    if answer.retry_later() {
        report
            .waiting
            .push(if mailbox::waits_for_crossing(wallet, p)? {
                format!(
                "transfer {commit}: it crossed this wallet's own pending transfer to its sender \
                 and goes first; it is accepted once the sender refuses that one (PROTOCOL.md \
                 §7.6), at a later sync"
            )
            } else {
                format!("transfer {commit}: this wallet was busy")
            });
        return Ok(false);
    }
    if !answer.is_final() {
        report.dropped.push(format!(
            "transfer {commit} was refused: {}",
            answer.reply.name()
        ));
        return Ok(true);
    }
    // Committed here already: report it now, whether or not the answer reaches the nodes.
    report.received.extend(answer.completed);
    report.refused.extend(answer.refused);
    match post_to_peer(wallet, nodes, &p.proposal.sender, answer.reply.to_bytes()) {
        Ok(_) => Ok(true),
        Err(e) => {
            // The item stays; the next sync answers it again (idempotently, from storage)
            // and posts the same answer.
            report
                .waiting
                .push(format!("transfer {commit}: answer not delivered yet ({e})"));
            Ok(false)
        }
    }
}

/// Answers a succession notice (with its pending proposal's lineage, when read) and posts
/// the answer to the successor's b0x; false when it must wait for a later sync.
fn take_notice(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    n: &dsm_recovery::succession::SuccessionNotice,
    pending_offers: &[Offer],
    report: &mut SyncReport,
) -> Result<bool, OnlineError> {
    match wallet.answer_notice(n, pending_offers) {
        Ok((reply, verdict, lost)) => {
            report.successions.push((lost, verdict));
            let successor = &n.succession.record.successor;
            match post_to_peer(wallet, nodes, successor, reply.to_bytes()) {
                Ok(_) => Ok(true),
                Err(e) => {
                    report.waiting.push(format!(
                        "succession of {lost}: answer not delivered yet ({e})"
                    ));
                    Ok(false)
                }
            }
        }
        Err(WalletError::Recovery(why)) => {
            report
                .dropped
                .push(format!("a succession notice that was refused: {why}"));
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

/// A recovery item from our b0x (PROTOCOL.md §20.4): a succession notice to answer (the
/// answer is posted to the successor's b0x), or an answer to our own succession.
fn take_recovery_item(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    bytes: &[u8],
    report: &mut SyncReport,
) -> Result<bool, OnlineError> {
    use dsm_recovery::succession::RecoveryMessage;
    match RecoveryMessage::from_bytes(bytes) {
        Ok(RecoveryMessage::Notice(n)) => {
            // The pending proposals' lineage objects, from the nodes — read only for a
            // notice addressed to us whose records verify, so a stranger's notice costs no
            // reads. The manifests are each proposal's, one per input, in turn.
            let genuine = n.counterparty == wallet.device_id() && n.verify().is_ok();
            let inputs: usize = n
                .pending
                .iter()
                .map(|p| p.proposal.parcels.inputs.len())
                .sum();
            let mut offers = Vec::new();
            if genuine && !n.pending_lineage.is_empty() && inputs == n.pending_lineage.len() {
                let mut manifests = n.pending_lineage.iter();
                // Where the successor stored each listed object's sealed form, if it said.
                let sealed: HashMap<Digest, Digest> = n
                    .lineage_listed()
                    .into_iter()
                    .zip(n.pending_sealed.iter().copied())
                    .collect();
                for p in &n.pending {
                    let mut offer = Offer {
                        signed: p.clone(),
                        manifests: manifests
                            .by_ref()
                            .take(p.proposal.parcels.inputs.len())
                            .cloned()
                            .collect(),
                        objects: Vec::new(),
                        slot_write: None,
                        sealed: Vec::new(),
                    };
                    offer.sealed = offer
                        .listed()
                        .iter()
                        .map(|a| sealed.get(a).copied())
                        .collect::<Option<_>>()
                        .unwrap_or_default();
                    offers.push(with_objects(wallet, nodes, &offer, &mut report.faults)?);
                }
            }
            take_notice(wallet, nodes, &n, &offers, report)
        }
        Ok(RecoveryMessage::Answer {
            answer,
            pending_answer,
            conflict,
        }) => {
            match wallet.take_succession_answer(&answer, &pending_answer, conflict.as_deref()) {
                Ok(Some(c)) => report.recovery_answers.push(c),
                Ok(None) => report
                    .dropped
                    .push("a succession answer for nothing this device asked".into()),
                Err(WalletError::Recovery(why)) => report
                    .dropped
                    .push(format!("a succession answer that was refused: {why}")),
                Err(e) => return Err(e.into()),
            }
            Ok(true)
        }
        Err(e) => {
            report
                .dropped
                .push(format!("an item that does not decode: {e}"));
            Ok(true)
        }
    }
}

/// A refresher's answer to a re-issue request (PROTOCOL.md §17.6): every check of
/// [`Wallet`]'s offline part, then, at the nodes, every hop and mint of every lineage
/// settled (the transitive walk of §5.6) and no burned parcel's slot holding another
/// statement of the holder. Only then signs. A refusal names why and signs nothing.
pub fn sign_refresh(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    req: &dsm_token::reissue::ReissueRequest,
) -> Result<dsm_token::authority::Cosignature, OnlineError> {
    let (statement, items) = wallet.check_refresh_request(req)?;
    let mut faults = Vec::new();
    match settle_items(wallet, nodes, &items, &mut faults)? {
        Settlement::Settled { .. } => {}
        other => {
            return Err(WalletError::Token(format!(
                "not re-issued: the burned parcels' lineages are {} at the storage nodes (a refresher re-issues settled value only)",
                other.word()
            ))
            .into())
        }
    }
    let holder = &req.holder;
    for input in &req.burn.inputs {
        let (owner, key) = parcel_slot(input, holder);
        for (_, replica) in nodes.owned_replicas(&owner, &key)? {
            let Some(bytes) = (match replica {
                crate::nodes::SlotReplica::Holds(b) => crate::nodes::owned_body(&b, &owner, &key),
                _ => None,
            }) else {
                continue;
            };
            // Noise is ignored; a statement of the holder consuming the parcel is a spend.
            let spent = dsm_core::parcel::spend_in_slot(&bytes, input, holder)
                .is_some_and(|h| h.commit() != statement.burn);
            if spent {
                return Err(WalletError::Token(format!(
                    "not re-issued: parcel {input} was already spent (a node holds another statement of its holder consuming it)"
                ))
                .into());
            }
        }
    }
    // The record goes to every burned parcel's re-issue slot before the cosignature leaves:
    // a refresher of another subset that never met this one finds it there and refuses
    // another burn of the same parcel (PROTOCOL.md §17.6). Read first, so a refusal here
    // leaves no local record behind.
    use dsm_token::reissue::{judge_reissue_slot, reissue_slot, ReissueSlotContent};
    let policy = wallet
        .policy_of(&req.token)
        .cloned()
        .ok_or_else(|| WalletError::Token("this device does not hold the token's policy".into()))?;
    let mut record = dsm_token::reissue::ReissueRecord {
        signed: dsm_token::authority::Authorised {
            statement,
            signatures: Vec::new(),
        },
        burn: req.burn.clone(),
    };
    let another = |input: &dsm_core::parcel::ParcelId| {
        WalletError::Token(format!(
            "not re-issued: parcel {input} was re-issued under another burn (its re-issue slot at the storage nodes holds another refresher's record; asking again is spending it twice)"
        ))
    };
    let refreshers = policy
        .refresh_authority()
        .cloned()
        .ok_or_else(|| WalletError::Token("the token names no refreshers".into()))?;
    for input in &req.burn.inputs {
        let (owner, key) = reissue_slot(&refreshers, input);
        for (_, replica) in nodes.owned_replicas(&owner, &key)? {
            if let crate::nodes::SlotReplica::Holds(bytes) = replica {
                let Some(body) = crate::nodes::owned_body(&bytes, &owner, &key) else {
                    continue;
                };
                if judge_reissue_slot(&body, input, &policy, &record) == ReissueSlotContent::Rival {
                    return Err(another(input).into());
                }
            }
        }
    }
    let cosignature = wallet.cosign_refresh(&record.signed.statement, &req.burn.inputs)?;
    record.signed.signatures.push(cosignature.clone());
    // One write by this refresher covers every burned parcel's re-issue slot, each holding
    // the record sealed under its parcel (PROTOCOL.md §17.6).
    let slots: Vec<_> = req
        .burn
        .inputs
        .iter()
        .map(|i| {
            let (owner, key) = reissue_slot(&refreshers, i);
            (
                owner,
                key,
                dsm_token::reissue::seal_reissue_record(i, &record),
            )
        })
        .collect();
    let write = wallet
        .sign_authority_write(
            &refreshers,
            slots.iter().map(|(o, k, b)| (*o, *k, &b[..])).collect(),
        )?
        .ok_or_else(|| {
            WalletError::Token("this device is not one of the token's refreshers".into())
        })?;
    for (input, (owner, key, body)) in req.burn.inputs.iter().zip(&slots) {
        let put = OwnedPut {
            write: write.clone(),
            body: body.clone(),
        };
        let judge = |other: &[u8]| match judge_reissue_slot(other, input, &policy, &record) {
            ReissueSlotContent::Same => Judged::Same,
            ReissueSlotContent::Rival => Judged::Rival,
            ReissueSlotContent::Noise => Judged::Noise,
        };
        let report = nodes.anchor_owned(owner, key, &put, &judge)?;
        faults.extend(report.faults);
        match report.outcome {
            Anchor::Settled { .. } => {}
            Anchor::Conflict { .. } => return Err(another(input).into()),
            Anchor::Unsettled { acks } => {
                return Err(WalletError::Token(format!(
                    "not re-issued: the re-issue record of parcel {input} reached {acks} storage node(s), {} needed; ask again when more nodes are up",
                    nodes.params().w()
                ))
                .into())
            }
        }
    }
    Ok(cosignature)
}

/// Completes our re-issue with the refreshers' signatures ([`Wallet::complete_refresh`])
/// and claims every burned parcel's slot with the burn. Returns the new root and how the
/// burn settled: until it holds every slot at W of N, the root's receivers see it as
/// unsettled.
pub fn complete_refresh(
    wallet: &mut Wallet,
    nodes: Option<&NodeSet>,
    req: &dsm_token::reissue::ReissueRequest,
    signatures: Vec<dsm_token::authority::Cosignature>,
) -> Result<(dsm_core::parcel::ParcelId, Option<Settlement>), OnlineError> {
    let (id, reissue) = wallet.complete_refresh(req, signatures)?;
    let Some(nodes) = nodes else {
        return Ok((id, None));
    };
    let mut faults = Vec::new();
    let s = settle_items(
        wallet,
        nodes,
        &[SettleItem::hop(reissue.burn, reissue.holder)],
        &mut faults,
    )?;
    Ok((id, Some(s)))
}

/// As the bridge's keeper, before paying a withdrawal on Bitcoin (PROTOCOL.md §19.3): the
/// offline check of [`Wallet::check_withdrawal`], then the request's consumed lineages and
/// its statement settled in their parcels' slots at W of N — with the write its document
/// carried. Pay
/// only on `Settled`: then no other spend of those parcels can ever settle. A conflict
/// means the holder spent a parcel elsewhere first (evidence stored).
pub fn check_withdrawal(
    wallet: &mut Wallet,
    nodes: &NodeSet,
    doc: &dsm_token::dbtc::WithdrawalDocument,
) -> Result<Settlement, OnlineError> {
    wallet.check_withdrawal(doc)?;
    let items = wallet.consumption_items(&doc.backing)?;
    let mut faults = Vec::new();
    settle_items(wallet, nodes, &items, &mut faults)
}

/// What [`sync_documents`] did.
#[derive(Clone, Debug, Default)]
pub struct DocumentSync {
    /// This device's identity document reached a quorum of nodes in this call.
    pub published: bool,
    /// Contacts whose identity document was fetched, checked and accepted.
    pub fetched: Vec<String>,
    /// Contacts whose card names a document the nodes serve forged or damaged: their card
    /// should be asked for again.
    pub refused: Vec<(String, String)>,
}

/// Publishes this device's sealed identity document (PROTOCOL.md §12.6) at its K nodes if
/// it is not there yet, and fetches, checks and accepts the documents that contacts' cards
/// named and this wallet lacks. Nodes store only sealed bytes; a node that serves other
/// bytes is refused by the object address.
pub fn sync_documents(w: &mut Wallet, nodes: &NodeSet) -> Result<DocumentSync, WalletError> {
    let mut out = DocumentSync::default();
    if !w.document_published()? {
        let sealed = w.sealed_document()?.to_vec();
        if let Ok((_, stored, _)) = nodes.put_object(&sealed) {
            if stored >= nodes.params().k {
                w.set_document_published()?;
                out.published = true;
            }
        }
    }
    for card in w.contact_documents_missing()? {
        let Some(address) = card.document else {
            continue;
        };
        let Ok((sealed, _)) = nodes.get_object(&address) else {
            continue;
        };
        match w.accept_contact_document(&card, &sealed) {
            Ok(_) => out.fetched.push(card.name.clone()),
            Err(e) => out.refused.push((card.name.clone(), e.to_string())),
        }
    }
    Ok(out)
}
