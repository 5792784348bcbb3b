//! Model checking of the real DSM protocol code with [`stateright`].
//!
//! Every actor is a device running the production code: the sans-IO [`Session`] of
//! `dsm-protocol`, the acceptance predicate and chains of `dsm-core`, and the `dsm-wallet`
//! [`Wallet`] committing to its (in-memory) store. Nothing of the protocol is re-modelled
//! here; this crate only decides *which* event happens next:
//!
//! * the network holds every message in flight as bytes and may deliver any of them (full
//!   reordering), drop one, duplicate one, or replay any message ever sent into another live
//!   connection that has its original recipient at one end;
//! * an honest device may crash and restart: its sessions and in-memory state are lost,
//!   its store is kept, and it reopens through [`Wallet::open`] like the `dsm` binary does;
//! * the malicious device `M` runs the same code, but may also restore an old copy of its
//!   wallet (as a cloned device would) and then sign a second successor of a head it already
//!   left, i.e. equivocate;
//! * `M` may also *forge* ([`Forgery`]): offer a payment of value it made up (a root of
//!   its own behind a head it wrote itself), or a parcel it already spent, again from its
//!   current head (in its first encoding or in another valid one). Every wallet is funded
//!   through a policy token's initial lines, never a dev faucet, so the only sources are
//!   those lines;
//! * when forgeries are allowed, a second malicious device `C` (the accomplice, device 3)
//!   runs beside `M` with its own wallet and sessions: it opens and takes sessions like any
//!   device (M may pay it real value, which it may pass on), and it offers honest devices
//!   what M fabricated and paid it — a made-up root, or M's parcel spent a second time —
//!   from heads C wrote itself (laundering through a second device);
//! * a device may also pay online (PROTOCOL.md §16), while it runs no session (a wallet is
//!   locked by whichever command uses it): [`Action::Offer`] runs
//!   `dsm_protocol::mailbox::offer` and puts the item in the receiver's b0x;
//!   [`Action::Take`] lets a b0x's owner take one item as its sync does —
//!   `mailbox::answer` for a proposal (an answer that must wait, such as the winner of a
//!   crossing, keeps the item), `mailbox::take_answer` for an answer — and puts its answer in
//!   the sender's b0x; [`Action::Post`] is a sync's step 3, posting the item of every
//!   pending proposal (an offline one too) again. A b0x is a set: identical bytes are kept
//!   once, as the nodes do. The storage nodes themselves (anchoring, settlement) are not
//!   modelled: the b0x is a reliable, unordered mailbox;
//! * a session whose connection lost something (a dropped message, a crashed or restored
//!   peer, an adversary's write) may time out, as every transport does. A transport is
//!   assumed to give no end-of-file signal when the peer's session ends (as with the file,
//!   QR and b0x links), so a session the peer left without `Close` is a deadlock.
//!
//! Not modelled: a crash *inside* one step that commits twice (e.g. credit then debit;
//! `crates/dsm-wallet/tests/crash.rs` crashes inside every write instead), and the loss
//! of deferred (not fsynced) writes that redb allows; the memory store makes every commit
//! durable.
//!
//! Signatures use the forgeable `InsecureTest` suite (a tagged hash) so that a state costs
//! microseconds rather than the ~0.7 ms of an ML-DSA signature; it only exists with
//! dsm-core's `insecure-test-suite` feature, which only this separate workspace enables.
//! Everything the suite replaces is the signature primitive itself, which has its own
//! known-answer tests; every check *around* it (who signed, over what, in which order) is
//! the production code.

#![forbid(unsafe_code)]

use dsm_core::chain::{Amount, HeadDigest, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::hash::Digest;
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{Receipt, SignedRefusal};
use dsm_core::tripwire::{EquivocationProof, Statement};
use dsm_protocol::message::{Close, SessionMessage};
use dsm_protocol::session::{Session, SessionError};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::{MemoryStore, Table};
use dsm_wallet::Wallet;
use stateright::{Model, Property};
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How the malicious device makes value up or spends what it spent (PROTOCOL.md §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forgery {
    /// A root M made up (a dev grant of the policy token) behind a head it wrote itself.
    FabricatedParent,
    /// A made-up root M paid to the accomplice C, offered on by C (laundering through a
    /// second device).
    Laundered,
    /// M's initial parcel spent again from M's current head, whatever M did with it since.
    Respend,
    /// The same, with M's initial claim in another valid encoding (an ignored allowlist
    /// proof): the same parcel.
    DuplicateRoot,
    /// A payment M refused (its signed refusal gave the output back to the sender, who
    /// released the amount) spent anyway: the output, with its real lineage, from a head
    /// M wrote itself.
    RefuseThenSpend,
    /// M's initial parcel spent a second time, to the accomplice C, and offered on by C: a
    /// re-spend one hop up, laundered through a second device.
    LaunderedRespend,
}

impl Forgery {
    /// Every kind.
    pub const ALL: [Forgery; 6] = [
        Forgery::FabricatedParent,
        Forgery::Laundered,
        Forgery::Respend,
        Forgery::DuplicateRoot,
        Forgery::RefuseThenSpend,
        Forgery::LaunderedRespend,
    ];

    /// The device that offers it: the accomplice for the laundered kinds, else M.
    pub fn by(self) -> u8 {
        match self {
            Forgery::Laundered | Forgery::LaunderedRespend => ACCOMPLICE,
            _ => MALICIOUS,
        }
    }

    /// Whether the value offered never came from a source (so no honest device may ever
    /// credit it); a re-spend offers real value a second time instead (bounded, and caught
    /// where the two spends meet).
    pub fn makes_value(self) -> bool {
        matches!(self, Forgery::FabricatedParent | Forgery::Laundered)
    }
}

/// The passphrase of every model wallet.
const PASSPHRASE: &[u8] = b"model";
/// Index of the malicious device, when there is one.
pub const MALICIOUS: u8 = 2;
/// Index of the accomplice, the second malicious device (present when forgeries are
/// allowed).
pub const ACCOMPLICE: u8 = 3;
/// Device names in traces.
const NAMES: [&str; 4] = ["A", "B", "M", "C"];

/// How much of each kind of event one run may contain. Everything else (the order of
/// deliveries, which message is dropped, who crashes when) is explored exhaustively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// Sessions that may be opened in total (each pays `amounts` or only resolves what
    /// is pending when the amount is 0).
    pub sessions: u8,
    /// The amounts a session may pay (0 = a sync-only session).
    pub amounts: Vec<u128>,
    /// Messages the network may drop.
    pub drops: u8,
    /// Messages the network may duplicate.
    pub duplicates: u8,
    /// Old messages the adversary may replay into another live connection.
    pub replays: u8,
    /// Crash-restarts of honest devices.
    pub crashes: u8,
    /// Times the malicious device may restore its old wallet copy (0 without `malicious`).
    pub restores: u8,
    /// Forgeries the malicious device may offer (0 without `malicious`).
    pub forgeries: u8,
    /// Include the malicious device `M` (device 2).
    pub malicious: bool,
    /// Funds each device starts with (A, B, M).
    pub funds: [u128; 3],
    /// At most this many live sessions per device.
    pub sessions_per_device: usize,
    /// Online payments (through the b0x) that may be offered in total.
    pub offers: u8,
}

impl Bounds {
    /// The bounded configurations CI runs (about 70 s together on 2 cores): network faults
    /// and crashes with the equivocator and concurrent sessions; the replaying adversary;
    /// three sessions one at a time per device (as the wallet runs them), enough for the
    /// equivocator's victims to meet and exchange gossip; forgeries; crossings offline;
    /// payments online, alone and with a session.
    pub fn ci() -> Vec<Bounds> {
        vec![
            Bounds {
                sessions: 2,
                drops: 1,
                duplicates: 1,
                crashes: 1,
                ..Bounds::base()
            },
            Bounds {
                sessions: 2,
                replays: 1,
                ..Bounds::base()
            },
            Bounds {
                sessions: 3,
                sessions_per_device: 1,
                ..Bounds::base()
            },
            // The counterfeiter and its accomplice: one honest-looking session (so a
            // re-spend has a first spend to contradict, or the accomplice passes on the unit
            // M paid it before the run) and one forgery of each kind, in every order.
            Bounds {
                sessions: 1,
                amounts: vec![1],
                forgeries: 1,
                restores: 0,
                sessions_per_device: 1,
                funds: [1, 1, 2],
                ..Bounds::base()
            },
            // Crossing (PROTOCOL.md §7.6): two concurrent sessions in opposite directions
            // cross their proposals, and a third session lets the winner through.
            Bounds {
                sessions: 3,
                amounts: vec![1],
                restores: 0,
                malicious: false,
                ..Bounds::base()
            },
            // Online (§7.6, §16.3): four payments through the b0xes, in any direction and
            // order — crossings, re-posts at each sync, payments after a crossing — and every
            // order in which the items are taken. It found the deadlock §7.6 now rules out
            // (`WinnerFirst`).
            Bounds {
                sessions: 0,
                offers: 4,
                amounts: vec![1],
                restores: 0,
                malicious: false,
                sessions_per_device: 1,
                ..Bounds::base()
            },
            // Online and offline together: three online payments and one session.
            Bounds {
                sessions: 1,
                offers: 3,
                amounts: vec![1],
                restores: 0,
                malicious: false,
                sessions_per_device: 1,
                ..Bounds::base()
            },
            // Queues (§7.7): two devices with two units each, so that each may queue two
            // payments to the other before either syncs — crossing queues on both sides,
            // the loser refused CROSSED and the step after it BEHIND, taken in every order.
            Bounds {
                sessions: 0,
                offers: 4,
                amounts: vec![1],
                restores: 0,
                malicious: false,
                sessions_per_device: 1,
                funds: [2, 2, 1],
                ..Bounds::base()
            },
            // Queues meeting a session: three online payments (two devices may queue two)
            // and one session, which offers a whole queue after its hello.
            Bounds {
                sessions: 1,
                offers: 3,
                amounts: vec![1],
                restores: 0,
                malicious: false,
                sessions_per_device: 1,
                funds: [2, 2, 1],
                ..Bounds::base()
            },
        ]
    }

    /// The large configuration: every kind of fault at once, two duplicates (documented
    /// command; the figures are in README.md).
    pub fn large() -> Vec<Bounds> {
        vec![Bounds {
            sessions: 2,
            drops: 1,
            duplicates: 2,
            replays: 1,
            crashes: 1,
            ..Bounds::base()
        }]
    }

    /// Three honest-or-malicious devices with one unit each, the equivocator allowed one
    /// restore, and no session or fault budget.
    pub fn base() -> Bounds {
        Bounds {
            sessions: 0,
            amounts: vec![0, 1],
            drops: 0,
            duplicates: 0,
            replays: 0,
            crashes: 0,
            restores: 1,
            forgeries: 0,
            malicious: true,
            funds: [1, 1, 1],
            sessions_per_device: 2,
            offers: 0,
        }
    }
}

/// The model: fixed devices, bounds, and what the properties need to know about the start.
pub struct DsmModel {
    bounds: Bounds,
    token: TokenId,
    ids: Vec<DeviceId>,
    start: Vec<DeviceState>,
    /// Total supply at the start.
    supply: u128,
    /// The policy token's policy (the only source: its initial lines).
    policy: dsm_token::TokenPolicy,
    /// The output of a payment of one unit from A that M refused before the run (A
    /// released it), with its lineage: what `RefuseThenSpend` spends anyway.
    refused: Option<RefusedOutput>,
}

/// A refused payment's output to M, with the lineage that proves it (A's input's lineage,
/// then A's proposal).
#[derive(Clone, Debug)]
struct RefusedOutput {
    parcel: dsm_core::parcel::Parcel,
    manifest: dsm_core::parcel::LineageManifest,
    objects: Vec<Vec<u8>>,
}

/// Runs one in-memory session in which `payer` offers `payee` `amount` of `token`, to the
/// end; returns the payer's signed proposal and whether the payee refused it (`None` if the
/// session broke off).
fn payment(
    payer: &mut Wallet,
    payee: &mut Wallet,
    token: TokenId,
    amount: u128,
) -> Option<(dsm_core::receipt::SignedProposal, bool)> {
    let mut dialer = Session::dialer(payee.device_id(), vec![(token, Amount(amount))]);
    let mut listener = Session::listener();
    let mut to_payee = dialer.start(payer).ok()?;
    let mut proposal = None;
    let mut refused = false;
    for _ in 0..32 {
        let mut to_payer = Vec::new();
        for m in to_payee.drain(..) {
            if let SessionMessage::Proposal(o) = &m {
                proposal = Some(o.signed.clone());
            }
            to_payer.extend(listener.handle(m, payee).ok()?);
        }
        refused |= to_payer
            .iter()
            .any(|m| matches!(m, SessionMessage::SignedRefusal(_)));
        for m in to_payer {
            to_payee.extend(dialer.handle(m, payer).ok()?);
        }
        if to_payee.is_empty() {
            return proposal.map(|p| (p, refused));
        }
    }
    None
}

/// One message on the wire, as bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Packet {
    /// The connection (one session per side).
    pub conn: u8,
    /// Sending device.
    pub from: u8,
    /// Receiving device.
    pub to: u8,
    /// The canonical bytes of a [`SessionMessage`].
    pub bytes: Arc<[u8]>,
}

/// One live session of a device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// Connection id.
    pub id: u8,
    /// The other device.
    pub peer: u8,
    /// The real session state machine.
    pub session: Session,
}

/// What the properties need from a device's durable state, derived once per change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Balance of the model token at the committed head.
    pub balance: u128,
    /// Our proposals waiting for an answer: (proposal commit, receiver, amount).
    pub pending: Vec<(Digest, DeviceId, u128)>,
    /// Every receipt stored (credited or stitched): (proposal commit, sender, receiver,
    /// amount).
    pub receipts: Vec<(Digest, DeviceId, DeviceId, u128)>,
    /// Head transitions of other devices in receipts and refusals we hold (we committed
    /// to them): (device, parent, child).
    pub committed: Vec<(DeviceId, HeadDigest, HeadDigest)>,
    /// Head transitions of other devices we witnessed first (witness table).
    pub witnessed: Vec<(DeviceId, HeadDigest, HeadDigest)>,
    /// Devices we hold a *verified* equivocation proof against.
    pub convicted: Vec<DeviceId>,
    /// Devices we hold a verified *parcel-fork* proof against (a parcel consumed twice).
    pub parcel_forks: Vec<DeviceId>,
    /// Proposals refused (signed refusals we made or took), by commit.
    pub refused: Vec<Digest>,
    /// Signed refusals we hold of a proposal that lost a crossing (PROTOCOL.md §7.6).
    pub crossed_refusals: usize,
    /// Signed refusals we hold of a proposal queued behind a refused one (PROTOCOL.md §7.7).
    pub behind_refusals: usize,
    /// Receipts whose acceptance names a crossing: the winner, accepted after the loser
    /// was released.
    pub crossed_receipts: usize,
    /// Evidence entries that fail verification (must stay empty).
    pub bad_evidence: usize,
    /// Pending, receipt or refusal entries that do not decode (must stay empty: the
    /// accounting would silently miss them).
    pub bad_entries: usize,
}

/// A device: its wallet (store and in-memory state) and its live sessions.
#[derive(Clone)]
pub struct DeviceState {
    /// The wallet; copied on write.
    pub wallet: Arc<Wallet>,
    /// Fingerprint of the wallet's durable store (what identifies the state). The wallet's
    /// in-memory state is rebuilt from the store on open, except the signing-randomness
    /// counter, which the test suite ignores (its signatures take no randomness).
    pub durable: u64,
    /// Derived from the durable store.
    pub facts: Arc<Facts>,
    /// Live sessions (removed when over).
    pub conns: Vec<Conn>,
    /// Connection ids this device has taken part in (a late packet of a closed or
    /// forgotten connection is discarded, as a closed transport would).
    pub known_conns: u64,
}

impl fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("height", &self.wallet.head().height)
            .field("balance", &self.facts.balance)
            .field("pending", &self.facts.pending.len())
            .field("receipts", &self.facts.receipts.len())
            .field("convicted", &self.facts.convicted.len())
            .field("conns", &self.conns)
            .finish()
    }
}

impl Hash for DeviceState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.durable.hash(h);
        self.conns.hash(h);
        self.known_conns.hash(h);
    }
}

impl PartialEq for DeviceState {
    fn eq(&self, o: &Self) -> bool {
        self.durable == o.durable && self.conns == o.conns && self.known_conns == o.known_conns
    }
}

/// Remaining budget of each bounded event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Sessions left to open.
    pub sessions: u8,
    /// Drops left.
    pub drops: u8,
    /// Duplicates left.
    pub duplicates: u8,
    /// Replays left.
    pub replays: u8,
    /// Crashes left.
    pub crashes: u8,
    /// Restores left (malicious device).
    pub restores: u8,
    /// Forgeries left (malicious device).
    pub forgeries: u8,
    /// Online payments left.
    pub offers: u8,
}

/// An item in a device's b0x (PROTOCOL.md §16.1): a session message's canonical bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Item {
    /// The b0x's owner.
    pub to: u8,
    /// The item.
    pub bytes: Arc<[u8]>,
}

/// A global state: every device, the network, the remaining budget.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct State {
    /// A, B (honest) and M (malicious, if present).
    pub devices: Vec<DeviceState>,
    /// Messages in flight, sorted (a multiset).
    pub net: Vec<Packet>,
    /// Items waiting in the devices' b0xes, sorted, each once.
    pub b0x: Vec<Item>,
    /// Every message sent so far, sorted and deduplicated, while replays are left.
    pub history: Vec<Packet>,
    /// What may still happen.
    pub budget: Budget,
    /// The next connection id.
    pub next_conn: u8,
    /// Connections that lost something (a dropped message, a crashed or restored end, a
    /// message the adversary wrote into): their transports may time out. One bit per id.
    pub impaired: u64,
    /// M restored an old copy of itself (it may now equivocate).
    pub restored: bool,
    /// An honest device took a hello whose gossip, with what it already knew, proved a
    /// fork, and did not convict the forker.
    pub missed_conviction: bool,
    /// Such a hello was delivered at least once (so the check above is exercised).
    pub fork_gossiped: bool,
    /// A session completed two or more transfers its dialer had queued online before it
    /// (PROTOCOL.md §7.7: the hello's oldest, then the rest offered after it).
    pub queue_in_session: bool,
    /// A crashed honest wallet failed to reopen from its store.
    pub reopen_failed: bool,
    /// The forgeries offered: (proposal commit, kind), sorted.
    pub forged: Vec<(Digest, Forgery)>,
    /// How often M could put real value in two places: restores plus re-spends offered.
    pub doublings: u8,
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `from` opens a session to `to` paying `amount` (0: only resolve what is pending).
    Open {
        /// Dialer.
        from: u8,
        /// Listener.
        to: u8,
        /// Amount.
        amount: u128,
    },
    /// Deliver the packet at this index of `net`.
    Deliver(usize),
    /// Drop it.
    Drop(usize),
    /// Duplicate it.
    Duplicate(usize),
    /// Replay `history[packet]` into connection `conn`, towards device `to`.
    Replay {
        /// Index into `history`.
        packet: usize,
        /// Target connection.
        conn: u8,
        /// Target device (an endpoint of `conn`).
        to: u8,
    },
    /// An honest device crashes and restarts. With `unsent`, the messages it had produced
    /// but not yet delivered are lost with it (committed, never sent).
    Crash {
        /// The device.
        device: u8,
        /// Its messages still in flight vanish too.
        unsent: bool,
    },
    /// The transport of an impaired, stalled connection times out at `device`.
    Timeout {
        /// The device whose session gives up.
        device: u8,
        /// The connection.
        conn: u8,
    },
    /// M restores its old wallet copy (its sessions vanish).
    Restore,
    /// `from` pays `to` online: the offer goes to `to`'s b0x (refused while a transfer to
    /// `to` is pending: the modal lock).
    Offer {
        /// Payer.
        from: u8,
        /// Payee.
        to: u8,
        /// Amount.
        amount: u128,
    },
    /// The owner of the b0x item at this index takes it, as its sync does.
    Take(usize),
    /// The device's sync posts the item of each of its pending proposals that is not in
    /// its receiver's b0x (§16.3 step 3).
    Post(u8),
    /// M (or, for the laundered kinds, the accomplice) opens a session to `to` and writes a
    /// forged offer into it after its hello.
    Forge {
        /// The honest device.
        to: u8,
        /// What is forged (and so who offers it: [`Forgery::by`]).
        kind: Forgery,
    },
}

fn fingerprint_store(wallet: &Wallet) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    wallet
        .visit_store(&mut |table, k, v| {
            // The verified-parcel cache stays out: it must never change an answer (a warm
            // check answers as a cold one), so two states that differ only in it are one.
            if table == Table::VerifiedParcels {
                return;
            }
            // History lines are display only (derived from the rest) and carry the device's
            // wall-clock time: two states that differ only there are one.
            if table == Table::History {
                return;
            }
            table.id().hash(&mut h);
            k.hash(&mut h);
            v.hash(&mut h);
        })
        .expect("memory store");
    h.finish()
}

fn facts_of(wallet: &Wallet, token: &TokenId) -> Facts {
    let me = wallet.device_id();
    let mut f = Facts {
        balance: wallet.balance(token).0,
        ..Facts::default()
    };
    let mut visit = |table: Table, k: &[u8], v: &[u8]| match table {
        Table::Pending => {
            let Ok(p) = dsm_core::receipt::SignedProposal::from_bytes(v) else {
                f.bad_entries += 1;
                return;
            };
            let s = &p.proposal.step;
            f.pending
                .push((p.proposal.commit(), s.receiver, s.amount.0));
        }
        Table::Receipts => {
            let Ok(r) = Receipt::from_bytes(v) else {
                f.bad_entries += 1;
                return;
            };
            {
                if r.acceptance.acceptance.crossing.is_some() {
                    f.crossed_receipts += 1;
                }
                let st = &r.proposal.proposal.step;
                f.receipts.push((
                    r.proposal.proposal.commit(),
                    st.sender,
                    st.receiver,
                    st.amount.0,
                ));
                for st in [
                    Statement::Proposal(r.proposal),
                    Statement::Acceptance(r.acceptance),
                ] {
                    let t = st.head_transition();
                    if t.0 != me {
                        f.committed.push(t);
                    }
                }
            }
        }
        Table::Refusals => {
            let Ok(x) = SignedRefusal::from_bytes(v) else {
                f.bad_entries += 1;
                return;
            };
            f.refused.push(x.refusal.proposal_commit);
            if x.refusal.crossing.is_some() {
                f.crossed_refusals += 1;
            }
            if !x.refusal.behind.is_empty() {
                f.behind_refusals += 1;
            }
            {
                let t = Statement::Refusal(x).head_transition();
                if t.0 != me {
                    f.committed.push(t);
                }
            }
        }
        Table::Witness if k.len() == 64 && v.len() >= 32 => {
            let d = |b: &[u8]| Digest(b.try_into().expect("32 bytes"));
            f.witnessed.push((
                DeviceId(d(&k[..32])),
                HeadDigest(d(&k[32..])),
                HeadDigest(d(&v[..32])),
            ));
        }
        Table::Evidence | Table::ParcelConflicts => match EquivocationProof::verify_bytes(v) {
            Ok((_, what)) => {
                if let dsm_core::tripwire::Equivocation::ParcelFork { device, .. } = what {
                    f.parcel_forks.push(device);
                }
                if table == Table::Evidence {
                    f.convicted.push(what.device());
                }
            }
            Err(_) => f.bad_evidence += 1,
        },
        _ => {}
    };
    wallet.visit_store(&mut visit).expect("memory store");
    f
}

impl DeviceState {
    fn new(wallet: Wallet, token: &TokenId) -> DeviceState {
        DeviceState {
            durable: fingerprint_store(&wallet),
            facts: Arc::new(facts_of(&wallet, token)),
            wallet: Arc::new(wallet),
            conns: Vec::new(),
            known_conns: 0,
        }
    }

    /// Recomputes the fingerprint and, if the store changed, the facts.
    fn refresh(&mut self, token: &TokenId) {
        let fp = fingerprint_store(&self.wallet);
        // The balance is in the head, which is in the store: the fingerprint covers it.
        if fp != self.durable {
            self.durable = fp;
            self.facts = Arc::new(facts_of(&self.wallet, token));
        }
    }
}

impl DsmModel {
    /// Creates the devices (real wallets in memory stores) for `bounds`, funded through a
    /// policy token's initial lines — the model's only sources of value.
    pub fn new(bounds: Bounds) -> DsmModel {
        // A, B; M when malicious; the accomplice C when M may forge.
        let n = match (bounds.malicious, bounds.forgeries > 0) {
            (false, _) => 2,
            (true, false) => 3,
            (true, true) => 4,
        };
        // Reproducible devices: the same ids every run, so the state space (which parcel a
        // payment picks, in which order outputs sort) never depends on the process.
        let create = |i: u64| {
            let mut entropy = [0u8; 32];
            entropy[..8].copy_from_slice(&i.to_be_bytes());
            let mut w = Wallet::create_reproducible(
                Box::new(MemoryStore::new()),
                SuiteId::InsecureTest,
                PASSPHRASE,
                KdfParams {
                    m_cost_kib: 8,
                    t_cost: 1,
                    p_cost: 1,
                },
                entropy,
            )
            .expect("create a model wallet");
            w.set_deterministic_randomness(i);
            w
        };
        // The accomplice keeps the seed the colluding key had (50), so ids stay put.
        let mut wallets: Vec<Wallet> = (0..n)
            .map(|i| {
                create(if i == ACCOMPLICE as usize {
                    50
                } else {
                    i as u64
                })
            })
            .collect();
        // The accomplice starts with nothing: whatever it offers came from M.
        let funds = |i: usize| bounds.funds.get(i).copied().unwrap_or(0);
        let mut initial: Vec<dsm_token::policy::InitialAllocation> = (0..n)
            .filter(|i| funds(*i) > 0)
            .map(|i| dsm_token::policy::InitialAllocation {
                device: wallets[i].device_id(),
                amount: Amount(funds(i)),
            })
            .collect();
        initial.sort_by_key(|l| l.device);
        let supply: u128 = (0..n).map(funds).sum();
        let policy = dsm_token::TokenPolicy {
            ticker: "MODEL".into(),
            decimals: 0,
            kind: dsm_token::policy::TokenKind::Fungible,
            cap: Amount(supply.max(1)),
            salt: Digest([7; 32]),
            issuers: Default::default(),
            burn: dsm_token::policy::BurnRule::Holder,
            transfers: dsm_token::policy::TransferRule::Free,
            allowlist: None,
            initial,
            djte: None,
            bitcoin: None,
            refreshers: None,
        };
        let token = policy.token_id();
        let mut start = Vec::new();
        let mut ids = Vec::new();
        for w in &mut wallets {
            w.import_policy(policy.clone(), None)
                .expect("fund a model wallet");
        }
        // Before the run, M refuses a payment of one unit from A (a signed refusal, and A
        // releases the amount), keeping the output's lineage to spend it anyway later.
        let refused = if bounds.malicious && bounds.forgeries > 0 && bounds.funds[0] > 0 {
            let (a, rest) = wallets.split_at_mut(1);
            let (a, m) = (&mut a[0], &mut rest[MALICIOUS as usize - 1]);
            let before = a.fork().expect("memory store");
            m.set_max_incoming(Some(Amount::ZERO));
            let (p, refused) = payment(a, m, token, 1).expect("A pays M");
            assert!(refused, "M refuses A's payment");
            m.set_max_incoming(None);
            let hop = p.hop();
            let i = hop
                .statement
                .outputs
                .iter()
                .position(|o| o.to == m.device_id())
                .expect("an output to M");
            let offer = before.offer_for(&p).expect("A's lineage");
            let (hop_bytes, a_bytes) = (hop.to_bytes(), a.identity().to_bytes());
            let mut manifest = offer.manifests[0].clone();
            manifest.parcel = hop.output_ids()[i];
            manifest
                .hops
                .push(dsm_core::hash::object_address(&hop_bytes));
            manifest
                .signers
                .push(dsm_core::hash::object_address(&a_bytes));
            manifest.signers.sort();
            manifest.signers.dedup();
            let mut objects = offer.objects.clone();
            objects.extend([hop_bytes, a_bytes]);
            objects.sort();
            objects.dedup();
            Some(RefusedOutput {
                parcel: dsm_core::parcel::Parcel {
                    id: manifest.parcel,
                    token,
                    amount: hop.statement.outputs[i].amount,
                    holder: m.device_id(),
                },
                manifest,
                objects,
            })
        } else {
            None
        };
        // Before the run, M pays the accomplice one unit of real value (when it has more than
        // one), which C may pass on in sessions of its own.
        if n > ACCOMPLICE as usize && funds(MALICIOUS as usize) > 1 {
            let (m, c) = wallets[MALICIOUS as usize..].split_at_mut(1);
            let (_, refused) = payment(&mut m[0], &mut c[0], token, 1).expect("M pays C");
            assert!(!refused, "C takes M's payment");
        }
        for w in wallets {
            ids.push(w.device_id());
            start.push(DeviceState::new(w, &token));
        }
        DsmModel {
            bounds,
            token,
            ids,
            start,
            supply,
            policy,
            refused,
        }
    }

    /// Whether an honest device refused a forgery of `kind` (with a parcel-fork proof
    /// against M for a re-spend).
    fn forgery_refused(&self, s: &State, kind: Forgery) -> bool {
        let mal = self.ids[MALICIOUS as usize];
        self.honest().any(|d| {
            let f = &s.devices[d].facts;
            s.forged
                .iter()
                .any(|(c, k)| *k == kind && f.refused.contains(c))
                && (kind.makes_value() || f.parcel_forks.contains(&mal))
        })
    }

    /// The offer forged for `to` (made by M, or for the laundered kinds by M and the
    /// accomplice; offered by `kind.by()`), or `None` when none can be made here.
    fn forge(&self, s: &State, to: u8, kind: Forgery) -> Option<dsm_core::receipt::Offer> {
        use dsm_core::hash::object_address;
        use dsm_core::parcel::{root_id, LineageManifest, ManifestStart, Parcel, RootFacts};
        use dsm_core::receipt::{propose, LocalDevice, Offer, SignedProposal};
        use dsm_protocol::session::Ledger;
        let m = &s.devices[MALICIOUS as usize].wallet;
        let token = self.token;
        // A payment of `input` by `w` to `to_id` from a head `w` wrote itself (its current
        // head plus the amount).
        let fabricated = |w: &Wallet, to_id: DeviceId, input: Parcel| -> Option<SignedProposal> {
            let fake = Ledger::head(w)
                .allocation_child(&token, input.amount, Digest([7; 32]))
                .ok()?;
            let l = LocalDevice {
                identity: w.identity(),
                key: Ledger::signing_key(w),
                head: &fake,
                tree: Ledger::tree(w),
            };
            Some(
                propose(&l, &to_id, token, input.amount, &[input], &[3; 32])
                    .ok()?
                    .signed,
            )
        };
        // A root `device` made up: a dev grant of the policy token (only label tokens have
        // them, so no verifier accepts it).
        let made_up = |device: DeviceId| {
            let g = dsm_core::chain::DevGrant {
                device,
                token,
                amount: Amount(1_000),
                height: 1,
            };
            let parcel = Parcel {
                id: root_id(&RootFacts {
                    once_key: g.once_key(),
                    token,
                    amount: g.amount,
                    holder: device,
                    burned: None,
                }),
                token,
                amount: g.amount,
                holder: device,
            };
            (parcel, g.to_bytes())
        };
        let c = &s.devices.get(ACCOMPLICE as usize)?.wallet;
        // M's hop paying `input` (with its lineage `manifest` and `objects`) to C from a
        // head M wrote itself: the parcel C then holds, with its lineage.
        let via_accomplice = |input: Parcel,
                              mut manifest: LineageManifest,
                              mut objects: Vec<Vec<u8>>|
         -> Option<(Parcel, LineageManifest, Vec<Vec<u8>>)> {
            let hop = fabricated(m, c.device_id(), input)?.hop();
            let i = hop
                .statement
                .outputs
                .iter()
                .position(|o| o.to == c.device_id())?;
            let (hop_bytes, m_bytes) = (hop.to_bytes(), m.identity().to_bytes());
            manifest.parcel = hop.output_ids()[i];
            manifest.hops.push(object_address(&hop_bytes));
            manifest.signers.push(object_address(&m_bytes));
            manifest.signers.sort();
            manifest.signers.dedup();
            objects.extend([hop_bytes, m_bytes]);
            objects.sort();
            objects.dedup();
            let parcel = Parcel {
                id: manifest.parcel,
                token,
                amount: hop.statement.outputs[i].amount,
                holder: c.device_id(),
            };
            Some((parcel, manifest, objects))
        };
        let to_id = self.ids[to as usize];
        Some(match kind {
            Forgery::FabricatedParent => {
                let (input, root) = made_up(m.device_id());
                Offer {
                    manifests: vec![LineageManifest {
                        parcel: input.id,
                        start: ManifestStart::Root(object_address(&root)),
                        hops: vec![],
                        signers: vec![],
                        consumed: Vec::new(),
                    }],
                    objects: vec![root],
                    signed: fabricated(m, to_id, input)?,
                    slot_write: None,
                    sealed: Vec::new(),
                }
            }
            Forgery::Laundered => {
                // M pays its made-up root to C; C offers it on.
                let (input, root) = made_up(m.device_id());
                let start = LineageManifest {
                    parcel: input.id,
                    start: ManifestStart::Root(object_address(&root)),
                    hops: vec![],
                    signers: vec![],
                    consumed: Vec::new(),
                };
                let (parcel, manifest, objects) = via_accomplice(input, start, vec![root])?;
                Offer {
                    manifests: vec![manifest],
                    objects,
                    signed: fabricated(c, to_id, parcel)?,
                    slot_write: None,
                    sealed: Vec::new(),
                }
            }
            Forgery::LaunderedRespend => {
                // M spends its initial parcel (again, whatever it did with it) to C, with its
                // real lineage; C offers it on.
                let start = &self.start[MALICIOUS as usize].wallet;
                let (id, amount, _) = *start.parcels(&token).first()?;
                let input = Parcel {
                    id,
                    token,
                    amount,
                    holder: m.device_id(),
                };
                let first = start
                    .offer_for(&fabricated(m, c.device_id(), input)?)
                    .ok()?;
                let (parcel, manifest, objects) =
                    via_accomplice(input, first.manifests[0].clone(), first.objects)?;
                Offer {
                    manifests: vec![manifest],
                    objects,
                    signed: fabricated(c, to_id, parcel)?,
                    slot_write: None,
                    sealed: Vec::new(),
                }
            }
            Forgery::Respend | Forgery::DuplicateRoot => {
                let start = &self.start[MALICIOUS as usize].wallet;
                let (id, amount, _) = *start.parcels(&token).first()?;
                let input = Parcel {
                    id,
                    token,
                    amount,
                    holder: m.device_id(),
                };
                let mut offer = start.offer_for(&fabricated(m, to_id, input)?).ok()?;
                if kind == Forgery::DuplicateRoot {
                    // M's initial claim with an allowlist proof the rules ignore: other
                    // bytes, one source, one parcel.
                    let line = self
                        .policy
                        .initial
                        .iter()
                        .position(|l| l.device == m.device_id())?;
                    let alt = dsm_token::source::SourceProof {
                        source: dsm_token::source::Source::Initial(
                            dsm_token::source::InitialClaim {
                                token,
                                index: line as u32,
                            },
                        ),
                        allowlist: Some(dsm_core::smt::SmtProof {
                            siblings: vec![Digest([1; 32])],
                            terminal: None,
                        }),
                        consumption: None,
                    }
                    .to_bytes();
                    let ManifestStart::Root(old) = offer.manifests[0].start else {
                        return None;
                    };
                    offer.manifests[0].start = ManifestStart::Root(object_address(&alt));
                    offer.objects.retain(|o| object_address(o) != old);
                    offer.objects.push(alt);
                    offer.objects.sort();
                }
                offer
            }
            Forgery::RefuseThenSpend => {
                let r = self.refused.as_ref()?;
                Offer {
                    signed: fabricated(m, to_id, r.parcel)?,
                    manifests: vec![r.manifest.clone()],
                    objects: r.objects.clone(),
                    slot_write: None,
                    sealed: Vec::new(),
                }
            }
        })
    }

    /// The bounds.
    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    fn honest(&self) -> std::ops::Range<usize> {
        0..2
    }

    fn index_of(&self, id: &DeviceId) -> Option<usize> {
        self.ids.iter().position(|d| d == id)
    }

    /// Runs `f` on a copy of device `d`'s wallet and stores the result.
    fn with_wallet<T>(
        &self,
        state: &mut State,
        d: usize,
        f: impl FnOnce(&mut Wallet, &mut Vec<Conn>) -> T,
    ) -> T {
        let dev = &mut state.devices[d];
        let mut w = dev.wallet.fork().expect("memory stores fork");
        let out = f(&mut w, &mut dev.conns);
        dev.wallet = Arc::new(w);
        dev.refresh(&self.token);
        out
    }

    fn send(state: &mut State, conn: u8, from: u8, to: u8, out: Vec<SessionMessage>) {
        for m in out {
            let p = Packet {
                conn,
                from,
                to,
                bytes: m.to_bytes().into(),
            };
            if state.budget.replays > 0 {
                if let Err(i) = state.history.binary_search(&p) {
                    state.history.insert(i, p.clone());
                }
            }
            let i = state.net.binary_search(&p).unwrap_or_else(|i| i);
            state.net.insert(i, p);
        }
    }

    /// Puts `msg` in device `to`'s b0x (once: a node keeps identical bytes once).
    fn post(state: &mut State, to: u8, msg: SessionMessage) {
        let item = Item {
            to,
            bytes: msg.to_bytes().into(),
        };
        if let Err(i) = state.b0x.binary_search(&item) {
            state.b0x.insert(i, item);
        }
    }

    /// Whether no action changes `s` any more.
    fn is_final(&self, s: &State) -> bool {
        let mut actions = Vec::new();
        self.actions(s, &mut actions);
        actions
            .into_iter()
            .all(|a| self.next_state(s, a).is_none_or(|n| n == *s))
    }

    /// Marks connection `conn` impaired (at both ends, now and later).
    fn impair(state: &mut State, conn: u8) {
        state.impaired |= 1u64 << conn;
    }

    /// Device `d` loses every session (crash or restore): its peers' ends are impaired.
    fn lose_sessions(state: &mut State, d: usize) {
        let ids: Vec<u8> = state.devices[d].conns.iter().map(|c| c.id).collect();
        state.devices[d].conns.clear();
        for id in ids {
            Self::impair(state, id);
        }
    }

    fn deliver(&self, state: &mut State, p: Packet) {
        let to = p.to as usize;
        let bit = 1u64 << p.conn;
        let expected = self.convictions_expected(state, &p);
        let dev = &mut state.devices[to];
        if !dev.conns.iter().any(|c| c.id == p.conn) {
            if dev.known_conns & bit != 0 {
                return; // the connection is closed at this end: the transport drops it
            }
            dev.known_conns |= bit;
            dev.conns.push(Conn {
                id: p.conn,
                peer: p.from,
                session: Session::listener(),
            });
        }
        let out = self.with_wallet(state, to, |w, conns| {
            let c = conns.iter_mut().find(|c| c.id == p.conn).expect("present");
            // Exactly what the driver (dsm_wallet::driver::run) does with a frame.
            let out = match SessionMessage::from_bytes(&p.bytes) {
                Ok(msg) => match c.session.handle(msg, w) {
                    Ok(out) => out,
                    Err(SessionError::Over) => Vec::new(),
                    Err(_) => vec![SessionMessage::Close(Close)],
                },
                Err(_) => {
                    c.session.abort(SessionError::Over);
                    vec![SessionMessage::Close(Close)]
                }
            };
            let resumed = c
                .session
                .completed()
                .iter()
                .filter(|t| t.outgoing && t.resumed)
                .count();
            (out, c.session.is_over(), resumed)
        });
        let (out, over, resumed) = (out.0, out.1, out.2);
        if resumed >= 2 {
            state.queue_in_session = true;
        }
        if let Some(expected) = expected {
            let convicted = &state.devices[to].facts.convicted;
            if !expected.iter().all(|d| convicted.contains(d)) {
                state.missed_conviction = true;
            }
            if !expected.is_empty() {
                state.fork_gossiped = true;
            }
        }
        if over {
            state.devices[to].conns.retain(|c| c.id != p.conn);
        }
        Self::send(state, p.conn, p.to, p.from, out);
    }

    /// For a hello between honest devices that the receiving session will take (it waits
    /// for one, and the hello is addressed to it by the expected peer): the devices whose
    /// forks the gossip in it proves, given what the receiver already knows. After taking
    /// the hello the receiver must hold verified evidence against each.
    fn convictions_expected(&self, state: &State, p: &Packet) -> Option<Vec<DeviceId>> {
        let (from, to) = (p.from as usize, p.to as usize);
        if !self.honest().contains(&to) {
            return None;
        }
        let Ok(SessionMessage::Hello(h)) = SessionMessage::from_bytes(&p.bytes) else {
            return None;
        };
        let dev = &state.devices[to];
        let takes = match dev.conns.iter().find(|c| c.id == p.conn) {
            Some(c) => {
                *c.session.phase() == dsm_protocol::session::Phase::AwaitHello
                    && c.peer as usize == from
            }
            None => dev.known_conns & (1u64 << p.conn) == 0,
        };
        if !takes || h.peer != self.ids[to] || h.identity.device_id() != self.ids[from] {
            return None;
        }
        let mut known = dev.facts.witnessed.clone();
        known.extend(dev.facts.committed.iter().cloned());
        for w in &h.witnessed {
            let t = Statement::Proposal(w.clone()).head_transition();
            if t.0 != self.ids[to] {
                known.push(t);
            }
        }
        Some(DsmModel::forks(&known))
    }

    /// Every session over or stalled only on a connection that lost something.
    fn no_deadlock(state: &State) -> bool {
        if !state.net.is_empty() {
            return true;
        }
        state
            .devices
            .iter()
            .all(|d| d.conns.iter().all(|c| state.impaired & (1u64 << c.id) != 0))
    }

    /// True if `receiver` holds the receipt of the proposal with this commit.
    fn credited(&self, state: &State, receiver: &DeviceId, commit: &Digest) -> bool {
        self.index_of(receiver).is_some_and(|r| {
            state.devices[r]
                .facts
                .receipts
                .iter()
                .any(|x| x.0 == *commit)
        })
    }

    /// Value on every device's head plus value debited but neither credited nor refused.
    pub fn total(&self, state: &State) -> u128 {
        let mut total: u128 = 0;
        for d in &state.devices {
            total = total.saturating_add(d.facts.balance);
            for (commit, receiver, amount) in &d.facts.pending {
                if !self.credited(state, receiver, commit) {
                    total = total.saturating_add(*amount);
                }
            }
        }
        total
    }

    /// Edge conservation seen from the honest devices alone: their value (balances plus
    /// amounts in flight between them) changes only by transfers with M, as recorded in
    /// their own receipts and pending proposals. Returns (what they hold, what they should).
    pub fn honest_sheet(&self, s: &State) -> (i128, i128) {
        let honest: Vec<DeviceId> = self.honest().map(|d| self.ids[d]).collect();
        let mut have: i128 = 0;
        let mut should: i128 = self.honest().map(|d| self.bounds.funds[d] as i128).sum();
        for d in self.honest() {
            let f = &s.devices[d].facts;
            let me = self.ids[d];
            have += f.balance as i128;
            for (commit, receiver, amount) in &f.pending {
                if honest.contains(receiver) {
                    if !self.credited(s, receiver, commit) {
                        have += *amount as i128;
                    }
                } else {
                    should -= *amount as i128;
                }
            }
            for (_, sender, receiver, amount) in &f.receipts {
                if *receiver == me && !honest.contains(sender) {
                    should += *amount as i128;
                }
                if *sender == me && !honest.contains(receiver) {
                    should -= *amount as i128;
                }
            }
        }
        (have, should)
    }

    fn forks(list: &[(DeviceId, HeadDigest, HeadDigest)]) -> Vec<DeviceId> {
        let mut seen: BTreeMap<(DeviceId, HeadDigest), HeadDigest> = BTreeMap::new();
        let mut out = Vec::new();
        for (d, parent, child) in list {
            match seen.get(&(*d, *parent)) {
                Some(c) if c != child => out.push(*d),
                Some(_) => {}
                None => {
                    seen.insert((*d, *parent), *child);
                }
            }
        }
        out
    }
}

impl DsmModel {
    /// A one-screen summary of a state, for counterexample traces.
    pub fn describe(&self, s: &State) -> String {
        let mut out = String::new();
        for (i, d) in s.devices.iter().enumerate() {
            out += &format!(
                "  {}: height {} balance {} pending {} receipts {} convicted {}\n",
                NAMES[i],
                d.wallet.head().height,
                d.facts.balance,
                d.facts.pending.len(),
                d.facts.receipts.len(),
                d.facts.convicted.len()
            );
            for c in &d.conns {
                out += &format!(
                    "     conn {} with {}: {:?} {:?} {}\n",
                    c.id,
                    NAMES[c.peer as usize],
                    c.session.role(),
                    c.session.phase(),
                    c.session.error().map(|e| e.to_string()).unwrap_or_default()
                );
            }
        }
        for item in &s.b0x {
            let what = SessionMessage::from_bytes(&item.bytes)
                .map(|m| m.name().to_string())
                .unwrap_or_else(|e| format!("undecodable: {e}"));
            out += &format!("  b0x of {}: {what}\n", NAMES[item.to as usize]);
        }
        for p in &s.net {
            let what = SessionMessage::from_bytes(&p.bytes)
                .map(|m| m.name().to_string())
                .unwrap_or_else(|e| format!("undecodable: {e}"));
            out += &format!(
                "  net: conn {} {}→{} {what}\n",
                p.conn, NAMES[p.from as usize], NAMES[p.to as usize]
            );
        }
        out
    }
}

impl Model for DsmModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let b = &self.bounds;
        vec![State {
            devices: self.start.clone(),
            net: Vec::new(),
            b0x: Vec::new(),
            history: Vec::new(),
            budget: Budget {
                sessions: b.sessions,
                drops: b.drops,
                duplicates: b.duplicates,
                replays: b.replays,
                crashes: b.crashes,
                restores: if b.malicious { b.restores } else { 0 },
                forgeries: if b.malicious { b.forgeries } else { 0 },
                offers: b.offers,
            },
            next_conn: 0,
            impaired: 0,
            restored: false,
            missed_conviction: false,
            fork_gossiped: false,
            queue_in_session: false,
            reopen_failed: false,
            forged: Vec::new(),
            doublings: 0,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let n = s.devices.len() as u8;
        if s.budget.sessions > 0 && s.next_conn < 64 {
            for from in 0..n {
                for to in 0..n {
                    let room =
                        |d: u8| s.devices[d as usize].conns.len() < self.bounds.sessions_per_device;
                    if from != to && room(from) && room(to) {
                        for &amount in &self.bounds.amounts {
                            actions.push(Action::Open { from, to, amount });
                        }
                    }
                }
            }
        }
        for (i, p) in s.net.iter().enumerate() {
            if i > 0 && s.net[i - 1] == *p {
                continue; // identical copies lead to identical states
            }
            actions.push(Action::Deliver(i));
            if s.budget.drops > 0 {
                actions.push(Action::Drop(i));
            }
            if s.budget.duplicates > 0 {
                actions.push(Action::Duplicate(i));
            }
        }
        if s.budget.replays > 0 {
            for (i, p) in s.history.iter().enumerate() {
                for (d, dev) in s.devices.iter().enumerate() {
                    for c in &dev.conns {
                        if c.id != p.conn && (d as u8 == p.to || c.peer == p.to) {
                            actions.push(Action::Replay {
                                packet: i,
                                conn: c.id,
                                to: d as u8,
                            });
                        }
                    }
                }
            }
        }
        if s.budget.crashes > 0 {
            for d in self.honest() {
                actions.push(Action::Crash {
                    device: d as u8,
                    unsent: false,
                });
                if s.net.iter().any(|p| p.from as usize == d) {
                    actions.push(Action::Crash {
                        device: d as u8,
                        unsent: true,
                    });
                }
            }
        }
        if s.budget.restores > 0
            && s.devices[MALICIOUS as usize].wallet.head()
                != self.start[MALICIOUS as usize].wallet.head()
        {
            actions.push(Action::Restore);
        }
        if s.budget.forgeries > 0 && s.next_conn < 64 {
            for to in self.honest() {
                if s.devices[to].conns.len() < self.bounds.sessions_per_device {
                    for kind in Forgery::ALL {
                        let by = &s.devices[kind.by() as usize];
                        if by.conns.len() < self.bounds.sessions_per_device {
                            actions.push(Action::Forge { to: to as u8, kind });
                        }
                    }
                }
            }
        }
        // Online actions are a device's own commands: not while it runs a session.
        let idle = |d: usize| s.devices[d].conns.is_empty();
        if s.budget.offers > 0 {
            for from in self.honest().filter(|d| idle(*d)) {
                for to in self.honest() {
                    if from != to {
                        for &amount in self.bounds.amounts.iter().filter(|a| **a > 0) {
                            actions.push(Action::Offer {
                                from: from as u8,
                                to: to as u8,
                                amount,
                            });
                        }
                    }
                }
            }
        }
        for (i, item) in s.b0x.iter().enumerate() {
            if idle(item.to as usize) {
                actions.push(Action::Take(i));
            }
        }
        if self.bounds.offers > 0 {
            for d in self.honest().filter(|d| idle(*d)) {
                if !s.devices[d].facts.pending.is_empty() {
                    actions.push(Action::Post(d as u8));
                }
            }
        }
        for (d, dev) in s.devices.iter().enumerate() {
            for c in &dev.conns {
                let waiting = s.net.iter().any(|p| p.conn == c.id && p.to as usize == d);
                if s.impaired & (1u64 << c.id) != 0 && !waiting {
                    actions.push(Action::Timeout {
                        device: d as u8,
                        conn: c.id,
                    });
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Open { from, to, amount } => {
                s.budget.sessions -= 1;
                let conn = s.next_conn;
                s.next_conn += 1;
                let transfers = if amount > 0 {
                    vec![(self.token, Amount(amount))]
                } else {
                    Vec::new()
                };
                let mut session = Session::dialer(self.ids[to as usize], transfers);
                let out = self.with_wallet(&mut s, from as usize, |w, _| session.start(w));
                let dev = &mut s.devices[from as usize];
                dev.known_conns |= 1u64 << conn;
                if let Ok(out) = out {
                    if !session.is_over() {
                        dev.conns.push(Conn {
                            id: conn,
                            peer: to,
                            session,
                        });
                    }
                    Self::send(&mut s, conn, from, to, out);
                }
            }
            Action::Deliver(i) => {
                let p = s.net.remove(i);
                self.deliver(&mut s, p);
            }
            Action::Drop(i) => {
                s.budget.drops -= 1;
                let p = s.net.remove(i);
                Self::impair(&mut s, p.conn);
            }
            Action::Duplicate(i) => {
                s.budget.duplicates -= 1;
                let p = s.net[i].clone();
                s.net.insert(i, p);
            }
            Action::Replay { packet, conn, to } => {
                s.budget.replays -= 1;
                let old = s.history[packet].clone();
                let dev = &s.devices[to as usize];
                let peer = dev.conns.iter().find(|c| c.id == conn)?.peer;
                let p = Packet {
                    conn,
                    from: peer,
                    to,
                    bytes: old.bytes,
                };
                let i = s.net.binary_search(&p).unwrap_or_else(|i| i);
                s.net.insert(i, p);
                // An injected message can end a session (an old `Close` is as good as a new
                // one: session messages are not authenticated per connection), so liveness is
                // only claimed for connections the adversary did not write into; safety is
                // checked regardless.
                Self::impair(&mut s, conn);
            }
            Action::Crash { device, unsent } => {
                s.budget.crashes -= 1;
                let d = device as usize;
                Self::lose_sessions(&mut s, d);
                if unsent {
                    let lost: Vec<u8> = s
                        .net
                        .iter()
                        .filter(|p| p.from == device)
                        .map(|p| p.conn)
                        .collect();
                    s.net.retain(|p| p.from != device);
                    for c in lost {
                        Self::impair(&mut s, c);
                    }
                }
                let dev = &mut s.devices[d];
                let store = dev.wallet.durable_copy().expect("memory store");
                match Wallet::open(store, PASSPHRASE) {
                    Ok(mut w) => {
                        w.set_deterministic_randomness(u64::from(device) + 100);
                        dev.wallet = Arc::new(w);
                        dev.refresh(&self.token);
                    }
                    // A finding, not a crash of the checker: the property reports the path.
                    Err(_) => s.reopen_failed = true,
                }
            }
            Action::Timeout { device, conn } => {
                s.devices[device as usize].conns.retain(|c| c.id != conn);
            }
            Action::Forge { to, kind } => {
                s.budget.forgeries -= 1;
                let offer = self.forge(&s, to, kind)?;
                let commit = offer.signed.proposal.commit();
                let conn = s.next_conn;
                s.next_conn += 1;
                let by = kind.by();
                let mut session = Session::dialer(self.ids[to as usize], Vec::new());
                let out = self.with_wallet(&mut s, by as usize, |w, _| session.start(w));
                let dev = &mut s.devices[by as usize];
                dev.known_conns |= 1u64 << conn;
                let Ok(mut out) = out else { return None };
                if !session.is_over() {
                    dev.conns.push(Conn {
                        id: conn,
                        peer: to,
                        session,
                    });
                }
                out.push(SessionMessage::Proposal(Box::new(offer)));
                Self::send(&mut s, conn, by, to, out);
                // The adversary wrote into the connection: liveness is not claimed for it.
                Self::impair(&mut s, conn);
                if !kind.makes_value() {
                    s.doublings += 1;
                }
                let i = s
                    .forged
                    .binary_search(&(commit, kind))
                    .unwrap_or_else(|i| i);
                s.forged.insert(i, (commit, kind));
            }
            Action::Offer { from, to, amount } => {
                s.budget.offers -= 1;
                let to_id = self.ids[to as usize];
                let offer = self.with_wallet(&mut s, from as usize, |w, _| {
                    dsm_protocol::mailbox::offer(w, &to_id, self.token, Amount(amount))
                });
                // Refused (a full queue, the winner first, or too little value): nothing
                // happens.
                let offer = offer.ok()?;
                Self::post(&mut s, to, SessionMessage::Proposal(Box::new(offer)));
            }
            Action::Post(d) => {
                let w = &s.devices[d as usize].wallet;
                let mut posts = Vec::new();
                for p in w.pending().ok()? {
                    let to = self.index_of(&p.proposal.step.receiver)?;
                    let offer = w.offer_for(&p).ok()?;
                    posts.push((to as u8, SessionMessage::Proposal(Box::new(offer))));
                }
                let before = s.b0x.len();
                for (to, m) in posts {
                    Self::post(&mut s, to, m);
                }
                if s.b0x.len() == before {
                    return None; // every item is there already: nothing changes
                }
            }
            Action::Take(i) => {
                let item = s.b0x.remove(i);
                let d = item.to as usize;
                let Ok(msg) = SessionMessage::from_bytes(&item.bytes) else {
                    return Some(s); // junk is dropped (none is posted here)
                };
                match msg {
                    SessionMessage::Proposal(offer) => {
                        let sender = self.index_of(&offer.signed.proposal.step.sender)?;
                        let answer = self.with_wallet(&mut s, d, |w, _| {
                            dsm_protocol::mailbox::answer(w, &offer)
                        });
                        match answer {
                            // It must wait (the winner of a crossing before the loser's
                            // release): the item stays, and taking it changed nothing.
                            Ok(a) if a.retry_later() => return None,
                            Ok(a) if a.is_final() => Self::post(&mut s, sender as u8, a.reply),
                            // Invalid, or refused without a signature: dropped.
                            _ => {}
                        }
                    }
                    reply @ (SessionMessage::Acceptance(_) | SessionMessage::SignedRefusal(_)) => {
                        let taken = self.with_wallet(&mut s, d, |w, _| {
                            dsm_protocol::mailbox::take_answer(w, &reply)
                        });
                        // A refusal behind a step whose own refusal is not taken yet
                        // (PROTOCOL.md §7.7): the item stays, and nothing changed.
                        if matches!(taken, Ok(dsm_protocol::mailbox::Taken::Waits)) {
                            return None;
                        }
                    }
                    _ => {}
                }
            }
            Action::Restore => {
                s.budget.restores -= 1;
                s.restored = true;
                s.doublings += 1;
                let m = MALICIOUS as usize;
                Self::lose_sessions(&mut s, m);
                let old = &self.start[m];
                let dev = &mut s.devices[m];
                dev.wallet = Arc::new(old.wallet.fork().expect("memory store"));
                dev.refresh(&self.token);
            }
        }
        if s.budget.replays == 0 {
            s.history.clear();
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties =
            vec![
                // Tripwire, prevention side: an honest device never commits to two different
                // successors of one head of another device.
                Property::always(
                    "no honest device accepts two successors of one head",
                    |m: &DsmModel, s: &State| {
                        m.honest()
                            .all(|d| DsmModel::forks(&s.devices[d].facts.committed).is_empty())
                    },
                ),
                // Tripwire, detection side: any fork an honest device has seen (committed or
                // witnessed in gossip) is backed by a verified equivocation proof.
                Property::always(
                    "every fork an honest device saw is proven",
                    |m: &DsmModel, s: &State| {
                        m.honest().all(|d| {
                            let f = &s.devices[d].facts;
                            let mut all = f.witnessed.clone();
                            all.extend(f.committed.iter().cloned());
                            f.bad_evidence == 0
                                && f.bad_entries == 0
                                && DsmModel::forks(&all)
                                    .iter()
                                    .all(|x| f.convicted.contains(x))
                        })
                    },
                ),
                // No honest device is ever convicted, and no one ever holds two successors of
                // one honest head (crashes, replays and restarts included).
                Property::always(
                    "honest devices never equivocate",
                    |m: &DsmModel, s: &State| {
                        let honest = [m.ids[0], m.ids[1]];
                        let mut all = Vec::new();
                        for d in &s.devices {
                            if d.facts.convicted.iter().any(|x| honest.contains(x)) {
                                return false;
                            }
                            all.extend(d.facts.committed.iter().cloned());
                            all.extend(d.facts.witnessed.iter().cloned());
                        }
                        all.retain(|t| honest.contains(&t.0));
                        DsmModel::forks(&all).is_empty()
                    },
                ),
                Property::always(
                    "a crashed wallet always reopens",
                    |_: &DsmModel, s: &State| !s.reopen_failed,
                ),
                // Tripwire, exchange: an honest device that takes a hello (from anyone) whose
                // gossip, with what it already knew, proves a fork convicts the forker at once.
                Property::always(
                    "gossip proving a fork always convicts",
                    |_: &DsmModel, s: &State| !s.missed_conviction,
                ),
                // Conservation, crashes included: the honest devices' value changes exactly by
                // their receipted transfers with M; and until M restores an old copy of itself
                // (after which its own head is fiction), the total supply is exact.
                Property::always(
                    "conservation of the total supply",
                    |m: &DsmModel, s: &State| {
                        let (have, should) = m.honest_sheet(s);
                        have == should && (s.doublings > 0 || m.total(s) == m.supply)
                    },
                ),
                Property::always(
                    "no balance exceeds what exists (no negative wrap)",
                    |m: &DsmModel, s: &State| {
                        // At most the supply plus what M can re-spend after each restore.
                        let m_funds = if m.bounds.malicious {
                            m.bounds.funds[2]
                        } else {
                            0
                        };
                        let cap = m.supply
                            + m_funds
                                * (u128::from(m.bounds.restores) + u128::from(m.bounds.forgeries));
                        s.devices.iter().all(|d| d.facts.balance <= cap)
                    },
                ),
                // Liveness under fair delivery: once nothing is in flight, every session still
                // open is one whose connection lost something (and its transport times out).
                Property::always(
                    "no session waits forever on a healthy connection",
                    |_: &DsmModel, s: &State| DsmModel::no_deadlock(s),
                ),
                // Provenance: value that never came from a source is never credited by an
                // honest device, whatever head or lineage the forger shows.
                Property::always(
                    "no honest device credits value a forger made up",
                    |m: &DsmModel, s: &State| {
                        m.honest().all(|d| {
                            s.devices[d].facts.receipts.iter().all(|r| {
                                !s.forged.iter().any(|(c, k)| *c == r.0 && k.makes_value())
                            })
                        })
                    },
                ),
                // Per token, what honest devices hold is at most what the sources created, plus
                // what M could put in two places (each restore or re-spend, at most M's
                // funds, caught where the two spends meet).
                Property::always(
                    "honest value never exceeds the sources plus the doublings",
                    |m: &DsmModel, s: &State| {
                        let honest: u128 = m.honest().map(|d| s.devices[d].facts.balance).sum();
                        let m_funds = if m.bounds.malicious {
                            m.bounds.funds[2]
                        } else {
                            0
                        };
                        honest <= m.supply + m_funds * u128::from(s.doublings)
                    },
                ),
                Property::sometimes("a transfer completes", |m: &DsmModel, s: &State| {
                    m.honest().any(|d| !s.devices[d].facts.receipts.is_empty())
                }),
            ];
        // (Without the malicious device there is nobody to convict.)
        if self.bounds.malicious {
            properties.push(Property::sometimes(
                "an honest device convicts the equivocator",
                |m: &DsmModel, s: &State| {
                    m.honest().any(|d| !s.devices[d].facts.convicted.is_empty())
                },
            ));
        }
        if self.bounds.restores > 0 && self.bounds.malicious {
            properties.push(Property::sometimes(
                "the equivocator double-spends offline",
                |m: &DsmModel, s: &State| {
                    let mut both = s.devices[0].facts.committed.clone();
                    both.extend(s.devices[1].facts.committed.iter().cloned());
                    DsmModel::forks(&both).contains(&m.ids[MALICIOUS as usize])
                },
            ));
        }
        if self.bounds.forgeries > 0 && self.bounds.malicious {
            properties.extend([
                Property::sometimes(
                    "a made-up root behind a fabricated head is refused",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::FabricatedParent),
                ),
                Property::sometimes(
                    "a made-up root laundered through a second malicious device is refused",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::Laundered),
                ),
                Property::sometimes(
                    "a re-spend laundered through a second malicious device is refused as a parcel fork",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::LaunderedRespend),
                ),
                Property::sometimes(
                    "the accomplice passes real value M paid it on to an honest device",
                    |m: &DsmModel, s: &State| {
                        let c = m.ids.get(ACCOMPLICE as usize);
                        m.honest().any(|d| {
                            s.devices[d]
                                .facts
                                .receipts
                                .iter()
                                .any(|r| Some(&r.1) == c && !s.forged.iter().any(|f| f.0 == r.0))
                        })
                    },
                ),
                Property::sometimes(
                    "a parcel re-spent from a later head is refused as a parcel fork",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::Respend),
                ),
                Property::sometimes(
                    "a root re-spent in another encoding is refused as a parcel fork",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::DuplicateRoot),
                ),
                Property::sometimes(
                    "a refused output spent anyway is refused as a parcel fork",
                    |m: &DsmModel, s: &State| m.forgery_refused(s, Forgery::RefuseThenSpend),
                ),
            ]);
        }
        // Two concurrent sessions in opposite directions cross their proposals; the loser
        // is refused at once, and a third session lets the winner through (§7.6).
        if self.bounds.sessions >= 2 && self.bounds.sessions_per_device >= 2 {
            properties.push(Property::sometimes(
                "crossed proposals: the loser is refused (CROSSED)",
                |m: &DsmModel, s: &State| {
                    m.honest().any(|d| s.devices[d].facts.crossed_refusals > 0)
                },
            ));
        }
        if self.bounds.sessions >= 3 && self.bounds.sessions_per_device >= 2 {
            properties.push(Property::sometimes(
                "crossed proposals: the winner is accepted after the loser's release",
                |m: &DsmModel, s: &State| {
                    m.honest().any(|d| s.devices[d].facts.crossed_receipts > 0)
                },
            ));
        }
        // Online (§16.3): when nothing can happen any more, no honest device is left with
        // a pending transfer and no item waits in a b0x — the modal lock always clears,
        // crossings and offline sessions meeting online transfers included. (Claimed where
        // nothing is lost: without drops, crashes, replays or a malicious device.)
        let b = &self.bounds;
        if b.offers > 0 && b.drops == 0 && b.crashes == 0 && b.replays == 0 && !b.malicious {
            properties.push(Property::always(
                "the modal lock always clears: at the end nothing is pending and no item waits",
                |m: &DsmModel, s: &State| {
                    let clear = s.b0x.is_empty()
                        && m.honest().all(|d| s.devices[d].facts.pending.is_empty());
                    clear || !m.is_final(s)
                },
            ));
        }
        if self.bounds.offers >= 2 && self.bounds.sessions == 0 {
            properties.push(Property::sometimes(
                "online crossed transfers clear: the loser refused, the winner accepted",
                |m: &DsmModel, s: &State| {
                    s.b0x.is_empty()
                        && m.honest().any(|d| s.devices[d].facts.crossed_refusals > 0)
                        && m.honest().any(|d| s.devices[d].facts.crossed_receipts > 0)
                },
            ));
        }
        // Queues (§7.7): a crossing's loser with a step queued after it, refused BEHIND it,
        // and everything cleared.
        if self.bounds.offers >= 4 && self.bounds.funds.iter().filter(|f| **f >= 2).count() >= 2 {
            properties.push(Property::sometimes(
                "queues clear: a step queued after a refused one is refused behind it",
                |m: &DsmModel, s: &State| {
                    s.b0x.is_empty()
                        && m.honest().any(|d| s.devices[d].facts.behind_refusals > 0)
                        && m.honest().all(|d| s.devices[d].facts.pending.is_empty())
                },
            ));
        }
        if self.bounds.sessions > 0
            && self.bounds.offers >= 2
            && self.bounds.funds.iter().filter(|f| **f >= 2).count() >= 1
        {
            properties.push(Property::sometimes(
                "a session resolves a queue: two transfers queued online completed in it",
                |_: &DsmModel, s: &State| s.queue_in_session,
            ));
        }
        // Two sessions pay the two victims; a third lets them meet.
        if self.bounds.sessions >= 3 && self.bounds.malicious {
            properties.push(Property::sometimes(
                "a hello whose gossip proves a fork is taken",
                |_: &DsmModel, s: &State| s.fork_gossiped,
            ));
        }
        properties
    }
}
