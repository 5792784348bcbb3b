//! `dsm demo`: real wallets (redb files, sealed keys) in a temporary directory, real TCP
//! sockets and a real shared-directory mailbox, narrated.

use bitcoin::hashes::Hash as _;
use dsm_core::chain::Amount;
use dsm_core::chain::TokenId;
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::{verify_receipt_bytes, EmptyView};
use dsm_core::tripwire::EquivocationProof;
use dsm_protocol::session::Session;
use dsm_token::djte::verify_step;
use dsm_token::policy::{
    BurnRule, InitialAllocation, Issuers, JoinGate, TokenKind, TokenPolicy, TransferRule,
};
use dsm_token::vault::Branch;
use dsm_transport::{tcp_dial, DirLink, Fault, FaultyLink, Link, TcpListener};
use dsm_wallet::driver::{self, Report};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::nodes::{NodeSet, Replication};
use dsm_wallet::online::{self, Settlement};
use dsm_wallet::online::{emissions, vaults};
use dsm_wallet::store::RedbStore;
use dsm_wallet::wallet::EntropyContributor;
use dsm_wallet::WitnessMaterial;
use dsm_wallet::{Contact, Wallet};
use sha2::Digest as _;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

type Error = Box<dyn std::error::Error>;
const PASS: &[u8] = b"demo passphrase";
const T: Duration = Duration::from_secs(20);

fn open(dir: &Path, name: &str) -> Result<Wallet, Error> {
    Ok(Wallet::open(
        Box::new(RedbStore::open(&dir.join(format!("{name}.redb")))?),
        PASS,
    )?)
}

fn create(dir: &Path, name: &str, suite: SuiteId) -> Result<Wallet, Error> {
    create_with(dir, name, suite, &[])
}

fn create_with(
    dir: &Path,
    name: &str,
    suite: SuiteId,
    contributors: &[&dyn EntropyContributor],
) -> Result<Wallet, Error> {
    let mut w = Wallet::create_with_contributors(
        Box::new(RedbStore::open(&dir.join(format!("{name}.redb")))?),
        suite,
        PASS,
        KdfParams::default(),
        contributors,
    )?;
    w.set_name(name)?;
    Ok(w)
}

fn short(d: &dsm_core::identity::DeviceId) -> String {
    d.digest().to_hex()[..12].to_string()
}

/// Each wallet adds the others' cards and takes their identity documents, checked against
/// the cards — as `dsm contact add` does when the nodes serve them — so each can pay the
/// others online, sealed (PROTOCOL.md §12.6, §16.1).
fn introduce(ws: &mut [&mut Wallet]) -> Result<(), Error> {
    let cards: Vec<(Contact, dsm_protocol::card::ContactCard, Vec<u8>)> = ws
        .iter()
        .map(|w| -> Result<_, Error> {
            let text = w.card(&w.name().ok().flatten().unwrap_or_default())?;
            let (contact, _) = Contact::from_card(&text)?;
            let (card, _) = dsm_protocol::card::ContactCard::parse(&text)?;
            Ok((contact, card, w.sealed_document()?.to_vec()))
        })
        .collect::<Result<_, _>>()?;
    for w in ws.iter_mut() {
        for (c, card, sealed) in &cards {
            if c.device != w.device_id().digest().to_hex() {
                w.add_contact(c, false)?;
                w.accept_contact_document(card, sealed)?;
            }
        }
    }
    Ok(())
}

/// The demo's currency: a CPTA token alice issues (set in `run`).
static CASH: std::sync::OnceLock<TokenId> = std::sync::OnceLock::new();

fn cash() -> TokenId {
    *CASH.get().expect("the CASH token is created first")
}

fn dev(w: &Wallet) -> u128 {
    w.balance(&cash()).0
}

/// One session paying `amounts` of CASH over real TCP on loopback.
fn over_tcp(
    payer: &mut Wallet,
    payee: &mut Wallet,
    amounts: &[u128],
    fault: Option<(Fault, usize)>,
    timeout: Duration,
) -> Result<(Report, Report, String), Error> {
    let transfers = amounts.iter().map(|a| (cash(), Amount(*a))).collect();
    over_tcp_transfers(payer, payee, transfers, fault, timeout)
}

/// One session carrying `transfers` over real TCP on loopback; the payee's outgoing frames
/// can be faulted.
fn over_tcp_transfers(
    payer: &mut Wallet,
    payee: &mut Wallet,
    transfers: Vec<(TokenId, Amount)>,
    fault: Option<(Fault, usize)>,
    timeout: Duration,
) -> Result<(Report, Report, String), Error> {
    let listener = TcpListener::bind("127.0.0.1:0", timeout)?;
    let addr = listener.local_addr()?.to_string();
    let peer = payee.device_id();
    std::thread::scope(|s| {
        let h = s.spawn(move || -> Result<Report, dsm_transport::TransportError> {
            let (link, _) = listener.accept()?;
            let mut link: Box<dyn Link> = match fault {
                Some((f, at)) => Box::new(FaultyLink::new(link, f, at)),
                None => Box::new(link),
            };
            Ok(driver::run(&mut Session::listener(), payee, link.as_mut()))
        });
        let mut link = tcp_dial(addr.as_str(), timeout)?;
        let rd = driver::run(&mut Session::dialer(peer, transfers), payer, &mut link);
        drop(link);
        let rl = h.join().map_err(|_| "listener thread panicked")??;
        Ok((rd, rl, addr))
    })
}

fn over_dir(
    payer: &mut Wallet,
    payee: &mut Wallet,
    amount: u128,
    dir: &Path,
) -> Result<(Report, Report), Error> {
    let peer = payee.device_id();
    std::thread::scope(|s| {
        let h = s.spawn(move || -> Result<Report, dsm_transport::TransportError> {
            let mut link = DirLink::accept(dir, T)?;
            Ok(driver::run(&mut Session::listener(), payee, &mut link))
        });
        let mut link = DirLink::dial(dir, T)?;
        let rd = driver::run(
            &mut Session::dialer(peer, vec![(cash(), Amount(amount))]),
            payer,
            &mut link,
        );
        let rl = h.join().map_err(|_| "listener thread panicked")??;
        Ok((rd, rl))
    })
}

/// Starts `n` storage nodes (embedded stores under `dir`) on loopback; they run until the
/// returned runtime is dropped.
fn start_nodes(dir: &Path, n: usize) -> Result<(tokio::runtime::Runtime, Vec<String>), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // HTTPS, as a node on the internet should speak: one self-signed certificate (what
    // `dsm node serve --tls-self-signed` makes), its key pinned in every registry line.
    let (cert, key) = dsm_node::tls::self_signed(&dir.join("node-tls"), &["127.0.0.1".into()])?;
    let config = dsm_node::tls::server_config(&cert, &key)?;
    let pin = dsm_wallet::tls::SpkiPin::of_certificate(&dsm_node::tls::leaf_certificate(&cert)?)
        .ok_or("the demo's node certificate does not parse")?;
    let mut lines = Vec::new();
    for i in 0..n {
        let store = dsm_node::store::EmbeddedStore::open(&dir.join(format!("node{i}.redb")))?;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        lines.push(format!(
            "https://{}#spki-sha256={}",
            listener.local_addr()?,
            pin.to_hex()
        ));
        drop(rt.spawn(dsm_node::serve_tls(
            listener,
            dsm_node::api::Node::new(store, dsm_node::store::Quotas::default()),
            dsm_node::Timeouts::default(),
            config.clone(),
        )));
    }
    Ok((rt, lines))
}

fn outcome(out: &mut dyn Write, who: &Wallet, r: &Report) -> Result<(), Error> {
    for c in &r.completed {
        let p = &c.receipt.proposal.proposal;
        let (verb, peer) = if c.outgoing {
            ("sent", &p.step.receiver)
        } else {
            ("received", &p.step.sender)
        };
        let name = who.contact_name(peer).unwrap_or_else(|| short(peer));
        let resumed = if c.resumed {
            " (the earlier pending transfer)"
        } else {
            ""
        };
        writeln!(
            out,
            "     {:<8} {verb} {} CASH {} {name}, receipt {}{resumed}",
            who.name()?.unwrap_or_default(),
            p.step.amount,
            if c.outgoing { "to" } else { "from" },
            &p.commit().to_hex()[..12]
        )?;
    }
    if let Some(e) = &r.error {
        writeln!(
            out,
            "     {:<8} session ended early: {e}",
            who.name()?.unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Scene 7b: modified wallets pay value nobody created — alone, and laundered through an
/// accomplice — and the honest receiver refuses both with a signed LINEAGE refusal. The
/// forgers' side is built here from dsm-core calls, as a modified wallet would.
fn counterfeit_scene(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
    policy: &TokenPolicy,
    alice: &mut Wallet,
) -> Result<(), Error> {
    use dsm_core::chain::DevGrant;
    use dsm_core::hash::{object_address, Digest};
    use dsm_core::parcel::{root_id, LineageManifest, ManifestStart, Parcel, RootFacts};
    use dsm_core::receipt::{propose, LocalDevice, Offer, SignedProposal};
    use dsm_protocol::message::SessionMessage;
    use dsm_protocol::session::{Ledger, RefusalReason};

    let token = policy.token_id();
    writeln!(out, "7b. A counterfeit: oscar runs a modified wallet. It writes itself a head holding 1,000,000 CASH")?;
    writeln!(out, "    (alice's cap is 10,000) and pays alice 5,000 from it; then it pays the same kind of value to its")?;
    writeln!(
        out,
        "    accomplice olga, whose modified wallet takes it unchecked and pays alice in turn."
    )?;
    let mut oscar = create(dir, "oscar", suite)?;
    let mut olga = create(dir, "olga", suite)?;
    for w in [&mut oscar, &mut olga] {
        w.import_policy(policy.clone(), None)?;
    }
    // A proposal from a head `w` made up, consuming `input`.
    let forge =
        |w: &Wallet, to: &Wallet, input: Parcel, rnd: u8| -> Result<SignedProposal, Error> {
            let head =
                Ledger::head(w).allocation_child(&token, Amount(1_000_000), Digest([rnd; 32]))?;
            let l = LocalDevice {
                identity: w.identity(),
                key: Ledger::signing_key(w),
                head: &head,
                tree: Ledger::tree(w),
            };
            Ok(propose(
                &l,
                &to.device_id(),
                token,
                Amount(5_000),
                &[input],
                &[rnd; 32],
            )?
            .signed)
        };
    // The made-up source: a dev-faucet grant (only label tokens have them).
    let grant = DevGrant {
        device: oscar.device_id(),
        token,
        amount: Amount(5_000),
        height: 1,
    };
    let root = grant.to_bytes();
    let made_up = Parcel {
        id: root_id(&RootFacts {
            once_key: grant.once_key(),
            token,
            amount: Amount(5_000),
            holder: oscar.device_id(),
            burned: None,
        }),
        token,
        amount: Amount(5_000),
        holder: oscar.device_id(),
    };
    let manifest = |parcel, hops: Vec<Digest>, signers: Vec<Digest>| LineageManifest {
        parcel,
        start: ManifestStart::Root(object_address(&root)),
        hops,
        signers,
        consumed: Vec::new(),
    };
    // Delivered through a real listener session of alice's (her hello, then the offer).
    let deliver =
        |from: &mut Wallet, alice: &mut Wallet, offer: Offer| -> Result<SessionMessage, Error> {
            let hello = Session::dialer(alice.device_id(), vec![]).start(from)?;
            let mut l = Session::listener();
            let wire = |m: &SessionMessage| SessionMessage::from_bytes(&m.to_bytes());
            l.handle(wire(&hello[0])?, alice)?;
            let answer = l.handle(wire(&SessionMessage::Proposal(Box::new(offer)))?, alice)?;
            answer
                .into_iter()
                .next()
                .ok_or_else(|| "alice did not answer".into())
        };
    let before = dev_or(alice, &token);
    let direct = forge(&oscar, alice, made_up, 41)?;
    let offer = Offer {
        manifests: vec![manifest(made_up.id, vec![], vec![])],
        objects: vec![root.clone()],
        signed: direct,
        slot_write: None,
        sealed: Vec::new(),
    };
    let refused = |m: &SessionMessage| match m {
        SessionMessage::SignedRefusal(r) if r.refusal.reason == RefusalReason::Lineage.code() => {
            Ok(())
        }
        other => Err(format!(
            "expected a signed LINEAGE refusal, got {}",
            other.name()
        )),
    };
    let answer = deliver(&mut oscar, alice, offer)?;
    refused(&answer)?;
    writeln!(out, "     oscar → alice: signed refusal, reason LINEAGE (\"{}\"): the input's root is not a source of CASH", RefusalReason::Lineage.describe())?;
    // Oscar → olga (never delivered to an honest wallet), then olga → alice with the lineage.
    let hop = forge(&oscar, &olga, made_up, 42)?.hop();
    let laundered = Parcel {
        id: hop.output_ids()[0],
        token,
        amount: Amount(5_000),
        holder: olga.device_id(),
    };
    let second = forge(&olga, alice, laundered, 43)?;
    let (hop_bytes, oscar_bytes) = (hop.to_bytes(), oscar.identity().to_bytes());
    let mut objects = vec![root.clone(), hop_bytes.clone(), oscar_bytes.clone()];
    objects.sort();
    let offer = Offer {
        manifests: vec![manifest(
            laundered.id,
            vec![object_address(&hop_bytes)],
            vec![object_address(&oscar_bytes)],
        )],
        objects,
        signed: second,
        slot_write: None,
        sealed: Vec::new(),
    };
    let answer = deliver(&mut olga, alice, offer)?;
    refused(&answer)?;
    writeln!(out, "     olga → alice, shipping the whole lineage (oscar's hop and identity): signed refusal, reason LINEAGE —")?;
    writeln!(
        out,
        "     alice checks every hop back to a source, whoever signed the last one"
    )?;
    // Oscar locks the made-up parcel into a vault for alice: its lock statement is really
    // signed, but what it consumed traces back to no source.
    let fake_head =
        Ledger::head(&oscar).allocation_child(&token, Amount(5_000), Digest([44; 32]))?;
    let vault = dsm_token::vault::VaultPolicy {
        creator: oscar.identity().clone(),
        creator_parent_head: fake_head.digest(),
        token,
        amount: Amount(5_000),
        beneficiary: alice.device_id(),
        beneficiary_slots: dsm_core::slot::device_slots_owner(alice.identity()),
        release: dsm_token::vault::Condition::Iterations(1),
        refund: dsm_token::vault::Condition::Iterations(2),
        salt: Digest([45; 32]),
    };
    let cause = dsm_token::source::SourceProof {
        source: dsm_token::source::Source::VaultLock(Box::new(vault.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause();
    let lock_head = fake_head.burn_child(&token, Amount(5_000), cause)?;
    let lock =
        dsm_token::vault::sign_lock(vault, lock_head, Ledger::signing_key(&oscar), &[46; 32])?;
    let statement = dsm_core::parcel::ParcelStatement::to_sink(
        oscar.device_id(),
        &token,
        &[made_up],
        Amount(5_000),
    )?;
    let doc = dsm_token::vault::VaultDocument {
        lock,
        backing: dsm_token::source::ConsumedParcels {
            consumption: dsm_token::source::Consumption {
                hop: dsm_core::parcel::Hop::sign(
                    Ledger::signing_key(&oscar),
                    statement,
                    cause,
                    &[47; 32],
                )?,
                signer: oscar.identity().clone(),
            },
            manifests: vec![manifest(made_up.id, vec![], vec![])],
        },
        objects: vec![root.clone()],
        slot_write: None,
    };
    match alice.import_vault(doc) {
        Ok(_) => return Err("alice imported a vault of counterfeit value".into()),
        Err(e) if e.to_string().contains("the root's consumed parcel 0") => writeln!(
            out,
            "     oscar locks made-up CASH in a vault for alice: `dsm vault import` refuses it — the parcel its lock\n     consumed traces back to no source, so a resolution of it could never be paid on"
        )?,
        Err(e) => return Err(format!("the made-up vault was refused for another reason: {e}").into()),
    }
    if dev_or(alice, &token) != before {
        return Err("alice was credited counterfeit value".into());
    }
    writeln!(
        out,
        "     alice still holds {before} CASH: nothing was credited\n"
    )?;
    Ok(())
}

/// `w`'s balance of `token`.
/// Scene 9b: dave's parcel re-issued by CASH's refresher (alice, its issuer), so the
/// lineage his payments ship restarts at 0 hops.
fn refresh_scene(
    out: &mut dyn Write,
    alice: &mut Wallet,
    carol: &mut Wallet,
    dave: &mut Wallet,
    nodes: &NodeSet,
) -> Result<(), Error> {
    writeln!(out, "\n9b. A refresh (re-issue): every payment ships its parcels' lineages, back to the mint, so they grow.")?;
    let hops: Vec<usize> = dave.parcels(&cash()).iter().map(|p| p.2).collect();
    writeln!(
        out,
        "     dave holds {} CASH in {} parcel(s) whose lineages have {:?} hops.",
        dev(dave),
        hops.len(),
        hops
    )?;
    let req = dave.refresh_request(&cash())?;
    writeln!(out, "     dave asks CASH's refreshers (its issuer, alice) to re-issue them: an unsigned request with the lineages ({} bytes).", req.to_bytes().len())?;
    match online::sign_refresh(carol, nodes, &req) {
        Err(e) => writeln!(out, "     carol is asked instead: {e} — and dave has signed nothing, so he keeps his parcels")?,
        Ok(_) => return Err("a device that is no refresher signed a re-issue".into()),
    }
    let sig = online::sign_refresh(alice, nodes, &req)?;
    writeln!(out, "     alice checks every lineage, settled at the nodes, and that no parcel was spent; she signs the re-issue.")?;
    let (_, settled) = online::complete_refresh(dave, Some(nodes), &req, vec![sig])?;
    let after: Vec<usize> = dave.parcels(&cash()).iter().map(|p| p.2).collect();
    match settled {
        Some(Settlement::Settled { acks }) => writeln!(out, "     dave signs the burn only now: his parcels go to the sink, one fresh parcel of {} CASH ({:?} hops) is his; the burn holds the burned parcels' slots on {acks} nodes, so spending them again is a parcel fork", dev(dave), after)?,
        other => return Err(format!("the refresh did not settle: {other:?}").into()),
    }
    if after != vec![0] {
        return Err("the refresh did not restart the lineage".into());
    }
    Ok(())
}

fn dev_or(w: &Wallet, token: &TokenId) -> u128 {
    w.balance(token).0
}

fn ok(r: &Report) -> Result<(), Error> {
    match &r.error {
        None => Ok(()),
        Some(e) => Err(format!("unexpected failure: {e}").into()),
    }
}

/// The three wallets most scenes use.
struct Cast {
    alice: Wallet,
    bob: Wallet,
    carol: Wallet,
}

/// The storage nodes of scene 8 on, and the runtime serving them.
struct Net {
    _rt: tokio::runtime::Runtime,
    urls: Vec<String>,
    nodes: NodeSet,
}

/// Runs the demo, writing the narrative to `out`: one function per scene. Its wallets and
/// storage nodes live in a temporary directory removed at the end, or in `keep` (created,
/// and refused unless new or empty), left there to inspect.
pub fn run(suite: SuiteId, keep: Option<&Path>, out: &mut dyn Write) -> Result<(), Error> {
    let tmp;
    let dir = match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            if std::fs::read_dir(dir)?.next().is_some() {
                return Err(format!(
                    "{} is not empty: give --keep a new or empty directory",
                    dir.display()
                )
                .into());
            }
            dir
        }
        None => {
            tmp = tempfile::Builder::new().prefix("dsm-demo-").tempdir()?;
            tmp.path()
        }
    };
    let suite_name = match suite {
        SuiteId::MlDsa65 => "ml-dsa-65",
        SuiteId::SlhDsaSha2_128f => "slh-dsa-sha2-128f",
    };
    writeln!(
        out,
        "DSM demo — suite {suite_name}, wallets and storage nodes in {} ({})\n",
        dir.display(),
        if keep.is_some() {
            "kept"
        } else {
            "removed at the end"
        }
    )?;

    let (mut cast, mallory, policy, id) = scene_wallets(out, dir, suite)?;
    scene_tcp(out, dir, &mut cast)?;
    scene_directory(out, dir, &mut cast)?;
    scene_lost_message(out, &mut cast)?;
    scene_refusal(out, &mut cast)?;
    let (mut mallory, clone, head) = scene_double_spend(out, dir, &mut cast, mallory)?;
    scene_gossip(out, &mut cast, &mut mallory, id, &head)?;
    counterfeit_scene(out, dir, suite, &policy, &mut cast.alice)?;
    let (net, mut dave) = scene_nodes(out, dir, suite, &policy, &mut cast, &mut mallory)?;
    scene_online(out, &mut cast, &net, &mut dave)?;
    refresh_scene(out, &mut cast.alice, &mut cast.carol, &mut dave, &net.nodes)?;
    scene_evidence(out, &net, &mut mallory, &mut dave)?;
    scene_vault(out, &mut cast, &net, id, &mut dave)?;
    let (era_id, st, erin, frank) =
        scene_era(out, dir, suite, &policy, &mut cast, &net, &mut dave)?;
    let (dbtc_id, kim) = scene_dbtc(out, dir, suite, &mut cast, &net)?;
    let (gina, thief) = scene_recovery(out, dir, suite, &policy, &mut cast, &net)?;
    let Cast { alice, bob, carol } = &cast;
    let everyone = [
        alice, bob, carol, &dave, &erin, &frank, &gina, &kim, &mallory, &clone,
    ];
    scene_balances(out, &everyone, &clone, &thief, era_id, dbtc_id, &st)
}

/// Scene 1: four wallets, their contact cards, and the CASH token.
fn scene_wallets(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
) -> Result<(Cast, Wallet, TokenPolicy, TokenId), Error> {
    writeln!(out, "1. Four devices create wallets (redb file each; key sealed with Argon2id + XChaCha20-Poly1305).")?;
    let mut alice = create(dir, "alice", suite)?;
    let mut bob = create(dir, "bob", suite)?;
    let mut carol = create(dir, "carol", suite)?;
    let mut mallory = create(dir, "mallory", suite)?;
    for w in [&alice, &bob, &carol, &mallory] {
        writeln!(
            out,
            "     {:<8} device {}",
            w.name()?.unwrap_or_default(),
            short(&w.device_id())
        )?;
    }
    introduce(&mut [&mut alice, &mut bob, &mut carol, &mut mallory])?;
    writeln!(
        out,
        "     contact cards exchanged, e.g. {}…",
        &bob.card("bob")?[..40]
    )?;
    // Value enters only through a token policy: alice issues CASH.
    let policy = TokenPolicy {
        ticker: "CASH".into(),
        decimals: 0,
        kind: TokenKind::Fungible,
        cap: Amount(10_000),
        salt: dsm_core::hash::tagged_hash(dsm_core::tags::Tag::Fixture, &[b"dsm demo cash"]),
        issuers: Issuers {
            threshold: 1,
            keys: vec![alice.identity().public_key.clone()],
        },
        burn: BurnRule::Holder,
        transfers: TransferRule::Free,
        allowlist: None,
        initial: vec![InitialAllocation {
            device: mallory.device_id(),
            amount: Amount(100),
        }],
        djte: None,
        bitcoin: None,
        refreshers: None,
    };
    let id = policy.token_id();
    CASH.set(id).map_err(|_| "the demo runs once per process")?;
    for w in [&mut alice, &mut bob, &mut carol, &mut mallory] {
        w.import_policy(policy.clone(), None)?;
    }
    let m = alice.mint(&id, Amount(1000))?;
    writeln!(out, "     alice creates token CASH (CPTA policy: cap 10000, she is the only issuer, holders may burn; id {}…);", &id.digest().to_hex()[..12])?;
    writeln!(out, "     every wallet imports the policy (a wallet refuses tokens whose policy it does not hold).")?;
    writeln!(out, "     alice mints 1000 CASH to herself (mint #{}, signed, checked against the cap); mallory claims the policy's initial allocation of {} CASH\n", m.seq, dev(&mallory))?;
    Ok((Cast { alice, bob, carol }, mallory, policy, id))
}

/// Scene 2: a transfer over TCP, and its receipt verified from the file.
fn scene_tcp(out: &mut dyn Write, dir: &Path, cast: &mut Cast) -> Result<(), Error> {
    let Cast { alice, bob, .. } = cast;
    writeln!(out, "2. alice pays bob 250 over TCP.")?;
    let (ra, rb, addr) = over_tcp(&mut *alice, &mut *bob, &[250], None, T)?;
    writeln!(out, "     (bob listening on {addr})")?;
    outcome(out, alice, &ra)?;
    outcome(out, bob, &rb)?;
    ok(&ra)?;
    let receipt = &ra.completed[0].receipt;
    let file = dir.join("alice-to-bob.receipt");
    std::fs::write(&file, receipt.to_bytes())?;
    verify_receipt_bytes(&std::fs::read(&file)?, &EmptyView)?;
    writeln!(out, "     ✓ receipt file ({} bytes) verified from its bytes alone: 2 signatures, 2 tree proofs, arithmetic\n", receipt.to_bytes().len())?;
    Ok(())
}

/// Scene 3: a transfer through a shared directory.
fn scene_directory(out: &mut dyn Write, dir: &Path, cast: &mut Cast) -> Result<(), Error> {
    let Cast { bob, carol, .. } = cast;
    writeln!(out, "3. bob pays carol 100 through a shared directory (the cable / USB-stick case: one file per message).")?;
    let mailbox = dir.join("usb-stick");
    let (rb, rc) = over_dir(&mut *bob, &mut *carol, 100, &mailbox)?;
    outcome(out, bob, &rb)?;
    outcome(out, carol, &rc)?;
    ok(&rb)?;
    let files = std::fs::read_dir(&mailbox)?
        .filter_map(|e| e.ok())
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten())
        .count();
    writeln!(out, "     ({files} files in {})\n", mailbox.display())?;
    Ok(())
}

/// Scene 4: a lost acceptance, and the relationship it locks until the next meeting.
fn scene_lost_message(out: &mut dyn Write, cast: &mut Cast) -> Result<(), Error> {
    let Cast {
        alice, bob, carol, ..
    } = cast;
    writeln!(
        out,
        "4. A lost message: alice pays carol 50, and carol's acceptance never arrives."
    )?;
    let (ra, rc, _) = over_tcp(
        &mut *alice,
        &mut *carol,
        &[50],
        Some((Fault::Drop, 1)),
        Duration::from_millis(500),
    )?;
    outcome(out, alice, &ra)?;
    outcome(out, carol, &rc)?;
    writeln!(out, "     carol committed first (she signed last); alice is debited, 50 in flight: only alice↔carol is locked.")?;
    let (ra, _, _) = over_tcp(&mut *alice, &mut *bob, &[10], None, T)?;
    writeln!(out, "     alice's chain goes on meanwhile:")?;
    outcome(out, alice, &ra)?;
    ok(&ra)?;
    let (ra, rc, _) = over_tcp(&mut *alice, &mut *carol, &[], None, T)?;
    writeln!(out, "     alice and carol meet again; carol answers the replayed proposal from storage (no double credit):")?;
    outcome(out, alice, &ra)?;
    ok(&ra)?;
    ok(&rc)?;
    writeln!(out)?;
    Ok(())
}

/// Scene 5: signed refusals, for a transfer limit and for the exposure limit.
fn scene_refusal(out: &mut dyn Write, cast: &mut Cast) -> Result<(), Error> {
    let Cast { alice, carol, .. } = cast;
    writeln!(
        out,
        "5. A refusal: carol accepts at most 200 per transfer; alice tries to pay her 300."
    )?;
    carol.set_max_incoming(Some(Amount(200)));
    let (ra, rc, _) = over_tcp(&mut *alice, &mut *carol, &[300], None, T)?;
    ok(&ra)?;
    ok(&rc)?;
    for x in &ra.refused {
        writeln!(out, "     carol signed a refusal of {} CASH (her head records it); alice verified it and took the amount back: alice holds {} CASH", x.proposal.proposal.step.amount, dev(alice))?;
    }
    if ra.refused.len() != 1 {
        return Err("the refusal did not happen".into());
    }
    writeln!(out, "     carol also caps the value she holds unsettled from any one sender at 100 (what an offline double spend could cost her): she holds 50 from alice that no storage node has settled yet; alice tries 60 more.")?;
    carol.set_receive_policy(dsm_wallet::wallet::ReceivePolicy {
        max_per_transfer: Some(Amount(200)),
        max_unsettled_per_counterparty: Some(Amount(100)),
        max_unsettled_total: Some(Amount(1_000)),
    })?;
    let (ra, rc, _) = over_tcp(&mut *alice, &mut *carol, &[60], None, T)?;
    ok(&ra)?;
    ok(&rc)?;
    match ra.refused.as_slice() {
        [x] if x.refusal.refusal.reason
            == dsm_wallet::wallet::RefusalReason::OverExposure.code() =>
        {
            writeln!(
                out,
                "     carol signed a refusal (\"{}\"); alice took her 60 back: alice holds {} CASH",
                dsm_wallet::wallet::RefusalReason::OverExposure.describe(),
                dev(alice)
            )?
        }
        _ => return Err("the exposure refusal did not happen".into()),
    }
    carol.set_receive_policy(Default::default())?;
    writeln!(out)?;
    Ok(())
}

/// Scene 6: a cloned wallet pays two devices the same value; returns the original, the
/// clone and the head both spent from.
fn scene_double_spend(
    out: &mut dyn Write,
    dir: &Path,
    cast: &mut Cast,
    mallory: Wallet,
) -> Result<(Wallet, Wallet, String), Error> {
    let Cast { bob, carol, .. } = cast;
    writeln!(
        out,
        "6. A double spend: mallory copies its wallet file. Software keys cannot stop cloning."
    )?;
    drop(mallory);
    std::fs::copy(dir.join("mallory.redb"), dir.join("mallory-clone.redb"))?;
    let mut mallory = open(dir, "mallory")?;
    let mut clone = open(dir, "mallory-clone")?;
    let head = mallory.head().digest().to_string();
    writeln!(
        out,
        "     both copies sit on head {}, holding 100 CASH",
        &head[..12]
    )?;
    let (rm, rb, _) = over_tcp(&mut mallory, &mut *bob, &[100], None, T)?;
    outcome(out, &mallory, &rm)?;
    ok(&rb)?;
    let (rk, rc, _) = over_tcp(&mut clone, &mut *carol, &[100], None, T)?;
    outcome(out, &clone, &rk)?;
    ok(&rc)?;
    writeln!(out, "     each payee, offline from the other, saw a valid transfer: final between the two parties, not settled.\n")?;
    Ok((mallory, clone, head))
}

/// Scene 7: gossip in hellos turns the double spend into evidence that refuses the cheater.
fn scene_gossip(
    out: &mut dyn Write,
    cast: &mut Cast,
    mallory: &mut Wallet,
    id: TokenId,
    head: &str,
) -> Result<(), Error> {
    let Cast { bob, carol, .. } = cast;
    writeln!(out, "7. bob and carol meet (bob pays carol 1 over TCP); their hellos gossip what each has witnessed.")?;
    let (rb, rc, _) = over_tcp(&mut *bob, &mut *carol, &[1], None, T)?;
    outcome(out, bob, &rb)?;
    ok(&rb)?;
    ok(&rc)?;
    for w in [&bob, &carol] {
        for proof in w.evidence()? {
            let bytes = proof.to_bytes();
            let (_, what) = EquivocationProof::verify_bytes(&bytes)?;
            writeln!(out, "     TRIPWIRE {:<6} holds a {}-byte proof: device {} signed two successors of head {} — verified from the bytes alone", w.name()?.unwrap_or_default(), bytes.len(), short(&what.device()), &head[..12])?;
        }
    }
    for w in [&bob, &carol] {
        let c = w.in_conflict(&id);
        if c == Amount::ZERO {
            return Err("the value from the parcel spent twice is not marked in conflict".into());
        }
        writeln!(out, "     {:<6} holds {c} CASH descending from the parcel mallory spent twice: its wallet never pays it on, and every wallet holding the proof refuses it", w.name()?.unwrap_or_default())?;
    }
    let (rm, _, _) = over_tcp(&mut *mallory, &mut *bob, &[1], None, T)?;
    match &rm.error {
        Some(e) => writeln!(out, "     mallory tries to pay bob again: {e}\n")?,
        None => return Err("the equivocator was not refused".into()),
    }
    Ok(())
}

/// Scene 8: six storage nodes, genesis entropy from them, and every wallet anchoring at
/// them; returns the nodes and dave.
fn scene_nodes(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
    policy: &TokenPolicy,
    cast: &mut Cast,
    mallory: &mut Wallet,
) -> Result<(Net, Wallet), Error> {
    let Cast {
        alice, bob, carol, ..
    } = cast;
    writeln!(out, "8. Storage nodes: six embedded nodes start in this process (a redb file each, HTTPS on loopback with a")?;
    writeln!(
        out,
        "   self-signed key that every wallet's registry pins; X25519MLKEM768 key exchange)."
    )?;
    let (_rt, urls) = start_nodes(dir, 6)?;
    writeln!(
        out,
        "     {} … {} (N = 6 replicas, K = 3 identical reads, anchors settle at W = 4)",
        dsm_wallet::tls::base_url(&urls[0]),
        dsm_wallet::tls::base_url(&urls[5])
    )?;
    let nodes = NodeSet::new(urls.clone(), Replication::default(), T);
    let genesis_nodes = nodes.genesis_contributors();
    let genesis_nodes: Vec<&dyn EntropyContributor> = genesis_nodes
        .iter()
        .map(|c| c as &dyn EntropyContributor)
        .collect();
    let mut dave = create_with(dir, "dave", suite, &genesis_nodes)?;
    dave.import_policy(policy.clone(), None)?;
    writeln!(
        out,
        "     a new wallet, dave, takes genesis entropy from itself and the {} nodes by commit–reveal: {} contributions in its genesis record",
        genesis_nodes.len(),
        dave.genesis_record()?.contributions.len()
    )?;
    introduce(&mut [&mut *alice, &mut dave])?;
    for w in [
        &mut *alice,
        &mut *bob,
        &mut *carol,
        &mut dave,
        &mut *mallory,
    ] {
        w.set_nodes(&urls)?;
    }
    // A hop's slots are written by its holder or by its receiver with the write the offer
    // carried (PROTOCOL.md §15.2): everyone who paid or was paid syncs.
    for w in [&mut *bob, &mut *carol] {
        let r = online::sync(w, &nodes)?;
        let conflicts = r
            .settled
            .iter()
            .filter(|l| matches!(l.settlement, Settlement::Conflict(_)))
            .count();
        writeln!(out, "     {:<6} syncs: {} transitions anchored ({conflicts} in conflict: the slot already held mallory's other successor), evidence published to {} nodes", w.name()?.unwrap_or_default(), r.settled.len(), r.published)?;
    }
    let r = online::sync(&mut *alice, &nodes)?;
    let settled = r
        .settled
        .iter()
        .filter(|l| matches!(l.settlement, Settlement::Settled { .. }))
        .count();
    writeln!(out, "     alice  syncs: {} transitions anchored in their owned slots (device, parent head), each written with its signer's authorization — {settled} settled; a rival successor could never reach W now", r.settled.len())?;
    Ok((Net { _rt, urls, nodes }, dave))
}

/// Scene 9: an online transfer through the receiver's b0x.
fn scene_online(
    out: &mut dyn Write,
    cast: &mut Cast,
    net: &Net,
    dave: &mut Wallet,
) -> Result<(), Error> {
    let nodes = &net.nodes;
    let Cast { alice, .. } = cast;
    writeln!(
        out,
        "\n9. An online transfer: dave is offline; alice pays him 40 through his b0x."
    )?;
    let sent = online::send_online(&mut *alice, nodes, &dave.device_id(), cash(), Amount(40))?;
    writeln!(
        out,
        "     alice: debited, proposal {} anchored — {} — and posted to dave's b0x on {} nodes",
        &sent.proposal.proposal.commit().to_hex()[..12],
        match sent.settlement {
            Settlement::Settled { acks } => format!("settled, {acks} of 6 slot nodes hold it"),
            other => return Err(format!("not settled: {other:?}").into()),
        },
        sent.posted.as_ref().map_err(|e| e.to_string())?
    )?;
    let again = online::send_online(&mut *alice, nodes, &dave.device_id(), cash(), Amount(1))?;
    if again.proposal.proposal.step.parent_tip != sent.proposal.proposal.step.child_tip() {
        return Err("the second transfer did not queue behind the first".into());
    }
    writeln!(out, "     alice pays dave 1 more at once: queued behind the first, built on its child tip (up to 4 may queue for one receiver)")?;
    let r = online::sync(&mut *dave, nodes)?;
    if r.received.len() != 2 {
        return Err(format!("dave was not credited both: {r:?}").into());
    }
    let amounts: Vec<String> = r
        .received
        .iter()
        .map(|c| c.receipt.proposal.proposal.step.amount.to_string())
        .collect();
    writeln!(out, "     dave comes online and syncs once: checks each anchor is settled, then credits {} CASH, in queue order, and posts his acceptances to alice's b0x", amounts.join(" and "))?;
    let r = online::sync(&mut *alice, nodes)?;
    writeln!(
        out,
        "     alice syncs: {} acceptances taken, receipts complete; nothing pending to dave: {}",
        r.stitched.len(),
        alice
            .pending()?
            .iter()
            .all(|p| p.proposal.step.receiver != dave.device_id())
    )?;
    Ok(())
}

/// Scene 10: evidence reaches, through the nodes, a wallet that never met the cheater.
fn scene_evidence(
    out: &mut dyn Write,
    net: &Net,
    mallory: &mut Wallet,
    dave: &mut Wallet,
) -> Result<(), Error> {
    let nodes = &net.nodes;
    writeln!(
        out,
        "\n10. Evidence propagation: the proofs bob and carol published at their sync (scene 8) are at the nodes."
    )?;
    // Dave pulled the nodes' evidence at his first sync (scene 9), before anything else.
    online::sync(&mut *dave, nodes)?;
    let m = mallory.device_id();
    if !dsm_core::receipt::ChainView::is_equivocator(&*dave, &m)? {
        return Err("dave did not learn the evidence".into());
    }
    writeln!(out, "     dave, who never met mallory, syncs and learns from the nodes: device {} is an equivocator", short(&m))?;
    let (rm, _, _) = over_tcp(&mut *mallory, &mut *dave, &[], None, T)?;
    match &rm.error {
        Some(e) => writeln!(out, "     mallory tries to open a session with dave: {e}\n")?,
        None => return Err("dave did not refuse the equivocator".into()),
    }
    Ok(())
}

/// Scene 11: a vault, claimed with a preimage, and the refund that comes too late.
fn scene_vault(
    out: &mut dyn Write,
    cast: &mut Cast,
    net: &Net,
    id: TokenId,
    dave: &mut Wallet,
) -> Result<(), Error> {
    let nodes = &net.nodes;
    let Cast { carol, .. } = cast;
    writeln!(out, "11. A vault (DLV): carol locks 30 CASH for dave. Release: the SHA-256 preimage of a secret she")?;
    writeln!(out, "    tells him. Refund: 100,000 sequential hash iterations (work anyone can verify — not a clock).")?;
    let secret = b"the cake is in the cupboard";
    let release = dsm_token::vault::Condition::Sha256(sha2::Sha256::digest(secret).into());
    let refund = dsm_token::vault::Condition::Iterations(100_000);
    let lock = carol.create_vault(id, Amount(30), dave.identity(), release, refund)?;
    let vault_id = dave.import_vault(lock)?;
    let vhex = vault_id.to_hex();
    writeln!(out, "     carol: vault {} locked (her head takes the 30 out; she signs the lock); dave imports it", &vhex[..12])?;
    let wrong = WitnessMaterial {
        preimages: vec![b"the cake is a lie".to_vec()],
        max_work: 0,
        bitcoin: Vec::new(),
    };
    match vaults::resolve(&mut *dave, Some(nodes), &vhex, Branch::Release, &wrong) {
        Err(e) => writeln!(out, "     dave tries a wrong secret: {e}")?,
        Ok(_) => return Err("a wrong preimage opened the vault".into()),
    }
    let right = WitnessMaterial {
        preimages: vec![secret.to_vec()],
        max_work: 0,
        bitcoin: Vec::new(),
    };
    let r = vaults::resolve(&mut *dave, Some(nodes), &vhex, Branch::Release, &right)?;
    writeln!(out, "     dave claims with the right one: +{} CASH; the vault's slot at the nodes holds his resolution ({} nodes, settled: {})", r.amount, r.acks.unwrap_or(0), r.settled)?;
    let work = WitnessMaterial {
        preimages: Vec::new(),
        max_work: 100_000,
        bitcoin: Vec::new(),
    };
    match vaults::resolve(&mut *carol, Some(nodes), &vhex, Branch::Refund, &work) {
        Err(e) => writeln!(out, "     carol spends the work and tries to refund: {e}\n")?,
        Ok(_) => return Err("a vault resolved twice".into()),
    }
    Ok(())
}

/// Scene 12: ERA's emission vault: joins through the gate, emissions, and forged steps
/// refused; returns ERA's id, the vault's state, erin and frank.
fn scene_era(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
    policy: &TokenPolicy,
    cast: &mut Cast,
    net: &Net,
    dave: &mut Wallet,
) -> Result<(TokenId, dsm_token::djte::EmissionState, Wallet, Wallet), Error> {
    let id = policy.token_id();
    let nodes = &net.nodes;
    let urls = &net.urls;
    let Cast {
        alice, bob, carol, ..
    } = cast;
    writeln!(
        out,
        "12. ERA, the native token: its whole supply ({} units) sits in a DJTE emission vault.",
        dsm_token::era::SUPPLY
    )?;
    writeln!(out, "     This network's join gate: pay 1 CASH to 2 of its 3 storage operators (bob, carol, dave).")?;
    let mut operators = vec![bob.device_id(), carol.device_id(), dave.device_id()];
    operators.sort();
    let era = dsm_token::era::era_policy(JoinGate {
        operators,
        k: 2,
        fee_token: id,
        fee: Amount(1),
    });
    let era_id = era.token_id();
    let mut erin = create(dir, "erin", suite)?;
    let mut frank = create(dir, "frank", suite)?;
    for w in [&mut erin, &mut frank] {
        w.import_policy(policy.clone(), None)?;
        w.set_nodes(urls)?;
    }
    for w in [
        &mut *alice,
        &mut *bob,
        &mut *carol,
        &mut *dave,
        &mut erin,
        &mut frank,
    ] {
        w.import_policy(era.clone(), None)?;
    }
    for w in [&mut erin, &mut frank] {
        ok(&over_tcp(&mut *alice, w, &[5], None, T)?.0)?;
    }
    writeln!(out, "     alice gives erin and frank 5 CASH each; alice, erin, frank and carol each pay two operators 1 CASH, then join:")?;
    // Each joiner pays two distinct operators 1 CASH over TCP (the receipts are its gate proof).
    ok(&over_tcp(&mut *alice, &mut *bob, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut *alice, &mut *carol, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut erin, &mut *bob, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut erin, &mut *dave, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut frank, &mut *carol, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut frank, &mut *dave, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut *carol, &mut *bob, &[1], None, T)?.0)?;
    ok(&over_tcp(&mut *carol, &mut *dave, &[1], None, T)?.0)?;
    let names: Vec<(dsm_core::identity::DeviceId, String)> = [alice, &erin, &frank, carol]
        .iter()
        .map(|w| Ok((w.device_id(), w.name()?.unwrap_or_default())))
        .collect::<Result<_, Error>>()?;
    for w in [&mut *alice, &mut erin, &mut frank, &mut *carol] {
        let r = emissions::join(w, nodes, &era_id)?;
        let paid = match r.winner {
            None => "nobody was active yet: no emission".to_string(),
            Some((d, a)) => format!(
                "paid {a} ERA to {}",
                names
                    .iter()
                    .find(|(x, _)| *x == d)
                    .map(|(_, n)| n.as_str())
                    .unwrap_or("?")
            ),
        };
        writeln!(
            out,
            "     {:<6} joins as activation #{}: {paid} (step settled on {} nodes)",
            w.name()?.unwrap_or_default(),
            r.index,
            r.acks
        )?;
    }
    let mut credited = Vec::new();
    for w in [&mut *alice, &mut erin, &mut frank, &mut *carol] {
        let s = emissions::sync_emissions(w, nodes, &era_id)?;
        for (e, a) in s.credited {
            credited.push(format!("{} #{e} +{a}", w.name()?.unwrap_or_default()));
        }
    }
    match emissions::join(&mut *alice, nodes, &era_id) {
        Err(e) => writeln!(out, "     alice tries to join again: {e}")?,
        Ok(_) => return Err("a device joined twice".into()),
    }
    let ledger = alice.emission_ledger(&era_id)?;
    let st = ledger.state().clone();
    writeln!(out, "     every wallet syncs the vault chain from the nodes and re-verifies each step (gate receipts, spent set,")?;
    writeln!(out, "     exactly-uniform draw, rank descent through the shard count tree, accumulator proof); winners credit themselves: {}", credited.join(", "))?;
    let steps = alice.emission_steps(&era_id)?;
    if let Some(last) = steps.last() {
        writeln!(out, "     emission proof {} bytes (+ {} bytes of gate receipts); vault: {} emitted, {} left", last.proof.to_bytes().len(), last.to_bytes().len() - last.proof.to_bytes().len(), st.emitted, st.remaining)?;
        // A forged step naming another winner is refused by every verifier.
        let before = alice.emission_ledger(&era_id)?;
        let mut forged = before.prepare(bob.device_id(), Vec::new())?;
        // Name an active device other than the one the draw picks.
        let mut forged_name = "";
        if let Some(w) = forged.proof.winner.as_mut() {
            let (d, n) = [(erin.device_id(), "erin"), (frank.device_id(), "frank")]
                .into_iter()
                .find(|(d, _)| *d != w.device)
                .expect("two candidates, one differs");
            w.device = d;
            forged_name = n;
        }
        match verify_step(&era, before.state(), &forged, true) {
            Err(e) => writeln!(
                out,
                "     bob tries to join without paying the operators: {e}"
            )?,
            Ok(_) => return Err("a step without its gate verified".into()),
        }
        match verify_step(&era, before.state(), &forged, false) {
            Err(e) => writeln!(out, "     a forged step naming {forged_name} as the winner instead of the drawn one (even with the gate waived) is refused: {e}\n")?,
            Ok(_) => return Err("a forged emission step verified".into()),
        }
    }
    Ok((era_id, st, erin, frank))
}

/// Scene 13: a dBTC round trip on a regtest chain; returns dBTC's id and its keeper kim.
fn scene_dbtc(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
    cast: &mut Cast,
    net: &Net,
) -> Result<(TokenId, Wallet), Error> {
    let nodes = &net.nodes;
    let Cast { alice, bob, .. } = cast;
    writeln!(out, "13. dBTC round trip on a regtest chain mined in this process (no Bitcoin node runs here; the verifying")?;
    writeln!(out, "    code is the one that checks mainnet rules). kim is the bridge's keeper: the Bitcoin key every deposit")?;
    writeln!(
        out,
        "    HTLC names as claimer, and the DSM key that may decline withdrawals."
    )?;
    let mut kim = create(dir, "kim", suite)?;
    let keeper_btc = bitcoin::secp256k1::SecretKey::from_slice(&[0x4b; 32])?;
    let keeper_pub = bitcoin::secp256k1::PublicKey::from_secret_key(
        &bitcoin::secp256k1::Secp256k1::new(),
        &keeper_btc,
    )
    .serialize();
    let mut btc = dsm_btc::regtest::Chain::new();
    let bridge = dsm_token::dbtc::BitcoinBridge {
        chain: dsm_token::dbtc::BitcoinChain {
            network: dsm_btc::BtcNetwork::Regtest,
            checkpoint_height: 0,
            checkpoint_header: dsm_btc::header_bytes(&btc.checkpoint.header),
            d_min: 6,
        },
        keeper: keeper_pub,
        keeper_dsm: kim.identity().public_key.clone(),
    };
    let dbtc = dsm_token::dbtc::dbtc_policy(bridge);
    let dbtc_id = dbtc.token_id();
    for w in [&mut *alice, &mut *bob, &mut kim] {
        w.import_policy(dbtc.clone(), None)?;
    }
    let claim_secret = b"kim's claim preimage";
    let htlc = dsm_btc::Htlc {
        h_claim: sha2::Sha256::digest(claim_secret).into(),
        h_refund: sha2::Sha256::digest(b"kim's refund preimage").into(),
        claimer: keeper_pub,
        refunder: keeper_pub,
    };
    let commitment = dsm_token::dbtc::recipient_commitment(&dbtc_id, &alice.device_id());
    let funding_tx = dsm_btc::regtest::funding(&htlc, 1_000_000, &commitment, 1);
    let fb = btc.add(vec![funding_tx.clone()]);
    btc.bury(5);
    writeln!(out, "     alice pays 1,000,000 sats to the HTLC {} with an OP_RETURN naming her device; 6 blocks deep", htlc.address(dsm_btc::BtcNetwork::Regtest))?;
    let evidence = btc.evidence(&funding_tx, 0, &htlc, fb);
    let (minted, _) = alice.mint_deposit(&dbtc_id, evidence.clone())?;
    writeln!(out, "     alice mints {minted} dBTC from the SPV proof (6 headers of work, merkle inclusion, output = HTLC, depth ≥ d_min)")?;
    match alice.mint_deposit(&dbtc_id, evidence) {
        Err(e) => writeln!(out, "     the same deposit again: {e}")?,
        Ok(_) => return Err("a deposit minted twice".into()),
    }
    let (ra, _, _) = over_tcp_transfers(
        &mut *alice,
        &mut *bob,
        vec![(dbtc_id, Amount(400_000))],
        None,
        T,
    )?;
    ok(&ra)?;
    writeln!(
        out,
        "     alice pays bob 400,000 dBTC over TCP, offline from Bitcoin"
    )?;
    let bob_script =
        bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::hash(b"bob's bitcoin key"));
    let req = bob.request_withdrawal(&dbtc_id, Amount(400_000), bob_script.to_bytes())?;
    writeln!(out, "     bob asks to withdraw 400,000 sats to his Bitcoin address: the amount leaves his head (in flight)")?;
    // Bob's sync settles what he received (he holds alice's write for her hop) and claims
    // the request's slots: a keeper can settle only what a hop's holder or receiver wrote.
    online::sync(&mut *bob, nodes)?;
    match online::check_withdrawal(&mut kim, nodes, &bob.withdrawal_document(&req)?)? {
        Settlement::Settled { acks } => writeln!(out, "     kim checks bob's request before paying: its parcels trace back to alice's deposit and its statement\n     holds their slots on {acks} storage nodes (`dsm btc check`: safe to pay)")?,
        other => return Err(format!("the keeper's check of an honest withdrawal: {other:?}").into()),
    }
    let claim = dsm_btc::build_claim(
        &htlc,
        bitcoin::OutPoint {
            txid: funding_tx.compute_txid(),
            vout: 0,
        },
        1_000_000,
        claim_secret,
        &keeper_btc,
        vec![
            bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(400_000),
                script_pubkey: bob_script.clone(),
            },
            bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(600_000),
                script_pubkey: htlc.script_pubkey(),
            },
            bitcoin::TxOut {
                value: bitcoin::Amount::ZERO,
                script_pubkey: dsm_btc::commitment_script(&req.id().0),
            },
        ],
    );
    dsm_btc::verify_spend(&claim, 0, &htlc.script_pubkey(), 1_000_000)?;
    writeln!(out, "     kim claims the deposit through the HTLC's claim branch, paying bob and returning 600,000 sats to a fresh HTLC")?;
    writeln!(
        out,
        "     (regtest takes no fee; on mainnet the keeper adds its own input to pay it);"
    )?;
    writeln!(
        out,
        "     Bitcoin Core's own script interpreter (libbitcoinconsensus) accepts the witness"
    )?;
    let pb = btc.add(vec![claim.clone()]);
    btc.bury(5);
    let pe = btc.evidence(&claim, 0, &htlc, pb);
    let payment = dsm_token::dbtc::WithdrawalPayment {
        request: req.clone(),
        evidence: dsm_btc::InclusionEvidence {
            tx: pe.tx,
            headers: pe.headers,
            block_index: pb,
            merkle_proof: pe.merkle_proof,
        },
    };
    bob.observe_withdrawal_payment(&payment)?;
    writeln!(out, "     6 blocks later bob checks the payment's SPV proof: his withdrawal is final (the 400,000 dBTC are burned)")?;
    let late = kim.sign_decline(req)?;
    match bob.refund_withdrawal(late) {
        Err(e) => writeln!(
            out,
            "     a decline signed after the payment cannot bring the dBTC back: {e}\n"
        )?,
        Ok(_) => return Err("a paid withdrawal was refunded".into()),
    }
    Ok((dbtc_id, kim))
}

/// Scene 14: a lost phone recovered from its phrase; the thief is refused. Returns the new
/// phone and the stolen one.
fn scene_recovery(
    out: &mut dyn Write,
    dir: &Path,
    suite: SuiteId,
    policy: &TokenPolicy,
    cast: &mut Cast,
    net: &Net,
) -> Result<(Wallet, Wallet), Error> {
    let nodes = &net.nodes;
    let urls = &net.urls;
    let Cast { alice, bob, .. } = cast;
    writeln!(out, "14. A lost phone. gina's identity has a 24-word recovery phrase; every state change seals an encrypted")?;
    writeln!(out, "    capsule (XChaCha20-Poly1305, key from the phrase by Argon2id) that her syncs put on the nodes.")?;
    let mut entropy = [0u8; 32];
    getrandom::fill(&mut entropy).map_err(|e| e.to_string())?;
    let phrase = dsm_recovery::RecoveryMnemonic::from_entropy(&entropy);
    let keys = dsm_recovery::RecoveryKeys::derive(&phrase, dsm_recovery::KdfCost::default())?;
    let mut gina = Wallet::create_with_recovery(
        Box::new(RedbStore::open(&dir.join("gina.redb"))?),
        suite,
        PASS,
        KdfParams::default(),
        &[],
        &keys,
    )?;
    gina.set_name("gina")?;
    gina.set_nodes(urls)?;
    gina.import_policy(policy.clone(), None)?;
    writeln!(
        out,
        "     gina writes down: {} … ({} words; the device never stores them)",
        phrase.words()[..3].join(" "),
        phrase.words().len()
    )?;
    introduce(&mut [&mut *alice, &mut gina, &mut *bob])?;
    ok(&over_tcp(&mut *alice, &mut gina, &[30], None, T)?.0)?;
    ok(&over_tcp(&mut gina, &mut *bob, &[10], None, T)?.0)?;
    online::sync(&mut gina, nodes)?;
    let backup = gina.backup_status(Some(nodes))?;
    writeln!(
        out,
        "     alice pays gina 30 and gina pays bob 10; gina syncs: {} capsules sealed, {} at a quorum; the last one is on {} of its 6 nodes",
        backup.sealed,
        backup.uploaded,
        backup.replicas.iter().filter(|(_, s)| s == "holds it").count()
    )?;
    let lost_id = gina.device_id();
    let mut thief = gina; // the phone is stolen: the thief keeps the unlocked wallet
    let (mut gina, report) = dsm_wallet::wallet::recovery::recover(
        Box::new(RedbStore::open(&dir.join("gina-new.redb"))?),
        &keys,
        nodes,
        &dsm_wallet::wallet::recovery::RecoverOptions {
            suite,
            passphrase: PASS,
            kdf: KdfParams::default(),
            replace_successor: false,
        },
        &mut |_| {},
    )?;
    gina.set_name("gina")?;
    gina.set_nodes(urls)?;
    writeln!(out, "     the phone is stolen; on a new phone gina types her phrase (`dsm recover`): her {} capsules are fetched and replayed,", backup.sealed)?;
    writeln!(out, "     device {} tombstoned and device {} named its successor (both signed by the phrase's recovery", short(&lost_id), short(&gina.device_id()))?;
    writeln!(
        out,
        "     authority, each in a write-once slot); balance {} CASH in {} parcel(s) taken over ({} left out); her {} counterparties (alice, bob) are notified",
        dev(&gina),
        gina.parcels(&cash()).len(),
        report.left_out.len(),
        report.counterparties.len()
    )?;
    match online::send_online(&mut gina, nodes, &bob.device_id(), cash(), Amount(1)) {
        Err(e) => writeln!(
            out,
            "     not a balance oracle: gina tries to pay bob before he answers — {e}"
        )?,
        Ok(_) => return Err("a successor spent before the counterparty acknowledged".into()),
    }
    for w in [&mut *bob, &mut *alice] {
        let r = online::sync(w, nodes)?;
        for (_, v) in &r.successions {
            writeln!(out, "     {} syncs: checks the records and that the tip it holds is the restored one: {v:?}", w.name()?.unwrap_or_default())?;
        }
    }
    let r = online::sync(&mut gina, nodes)?;
    writeln!(
        out,
        "     gina syncs: {} acknowledgements; spending to them resumes",
        r.recovery_answers
            .iter()
            .filter(|c| c.status == dsm_wallet::wallet::recovery::NoticeStatus::Acknowledged)
            .count()
    )?;
    let (rt, _, _) = over_tcp(&mut thief, &mut *bob, &[5], None, T)?;
    match (&rt.error, rt.completed.is_empty()) {
        (Some(e), true) => writeln!(
            out,
            "     the thief tries to pay bob with the stolen phone: {e}"
        )?,
        _ => return Err("a tombstoned device was paid".into()),
    }
    let (rg, _, _) = over_tcp(&mut gina, &mut *bob, &[5], None, T)?;
    ok(&rg)?;
    if rg.completed.len() != 1 || !rg.refused.is_empty() {
        return Err("the successor's recovered value was not accepted".into());
    }
    writeln!(out, "     gina pays bob 5 from her new phone: final — bob checked the recovered parcel's lineage through the")?;
    writeln!(out, "     succession: the new phone took over each of the lost phone's parcels by a statement under it, claimed at the nodes\n")?;
    Ok((gina, thief))
}

/// Scene 15: the final balances, checked against what the sources created.
fn scene_balances(
    out: &mut dyn Write,
    everyone: &[&Wallet],
    clone: &Wallet,
    thief: &Wallet,
    era_id: TokenId,
    dbtc_id: TokenId,
    st: &dsm_token::djte::EmissionState,
) -> Result<(), Error> {
    writeln!(out, "15. Final balances")?;
    let mut total = 0u128;
    let mut era_total = 0u128;
    writeln!(
        out,
        "     {:<16} {:>6} {:>10} {:>10}",
        "", "CASH", "ERA", "DBTC"
    )?;
    let mut dbtc_total = 0u128;
    for &w in everyone {
        let e = w.balance(&era_id).0;
        let b = w.balance(&dbtc_id).0;
        dbtc_total += b;
        writeln!(
            out,
            "     {:<16} {:>6} {:>10} {:>10}",
            w.name()?.unwrap_or_default()
                + if std::ptr::eq(w, clone) {
                    " (clone)"
                } else {
                    ""
                },
            dev(w),
            e,
            b
        )?;
        total += dev(w);
        era_total += e;
    }
    writeln!(
        out,
        "     {:<16} {:>6} {:>10} {:>10}",
        "total", total, era_total, dbtc_total
    )?;
    writeln!(out, "     DBTC: 1,000,000 minted by alice's deposit − 400,000 paid out to bob on Bitcoin; a 600,000-sat HTLC backs the rest")?;
    if dbtc_total != 600_000 {
        return Err(format!("dBTC does not add up: {dbtc_total}").into());
    }
    writeln!(out, "     CASH: 1000 minted + 100 initial allocation + 100 double-spent by mallory (both victims hold the proof);")?;
    writeln!(out, "           gina's stolen phone still shows {} CASH, refused by everyone who saw the tombstone (not counted)", dev(thief))?;
    writeln!(
        out,
        "     ERA:  exactly what the vault emitted ({}); the other {} are still in the vault",
        st.emitted, st.remaining
    )?;
    if total != 1200 {
        return Err(format!("CASH balances do not add up: {total}").into());
    }
    if era_total != st.emitted.0 {
        return Err(format!(
            "ERA balances ({era_total}) differ from the emitted total ({})",
            st.emitted
        )
        .into());
    }
    Ok(())
}
