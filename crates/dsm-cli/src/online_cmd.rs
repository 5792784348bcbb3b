//! The storage-node subcommands of a wallet: `dsm nodes …`, `dsm sync` (with nodes),
//! `dsm send … --online`, and the settlement check after an offline session. The rules
//! live in `dsm_wallet::online`; this module reports.

use crate::wallet_cmd::{exit, peer_name, report_transfers, short, CliError, Ctx, Res};
use dsm_wallet::nodes::{NodeSet, Replication, ReplicationError};
use dsm_wallet::online::{self, OnlineError, Settlement, SyncReport};
use dsm_wallet::Wallet;
use serde_json::json;
use std::time::Duration;

/// How long one node request may take before that node counts as down.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn online_error(e: OnlineError) -> CliError {
    let code = match &e {
        OnlineError::Session(
            dsm_protocol::session::SessionError::Locked(_)
            | dsm_protocol::session::SessionError::QueueFull(..)
            | dsm_protocol::session::SessionError::WinnerFirst(_),
        ) => exit::INPUT,
        OnlineError::Session(dsm_protocol::session::SessionError::Build(_)) => exit::INPUT,
        // A payee this wallet cannot post to (its identity unknown): the user adds its card.
        OnlineError::Wallet(dsm_wallet::WalletError::Contact(_)) => exit::INPUT,
        OnlineError::Wallet(_) => exit::WALLET,
        _ => exit::INCOMPLETE,
    };
    CliError::new(code, e.to_string())
}

pub(crate) fn replication_hint(e: &ReplicationError) -> String {
    match e {
        ReplicationError::RegistryTooSmall { have, .. } => format!(
            "{e}: add nodes with `dsm nodes add URL`, or, on a test network only, lower \
             replication with `dsm nodes replication --n {have} --k 1 --f 0`"
        ),
        _ => e.to_string(),
    }
}

/// The wallet's node set, or a clear error when it has none.
pub(crate) fn node_set(w: &Wallet) -> Res<NodeSet> {
    let urls = w.nodes()?;
    if urls.is_empty() {
        return Err(CliError::new(
            exit::INPUT,
            "this wallet knows no storage nodes; add some with `dsm nodes add URL` (start one with `dsm node serve`)",
        ));
    }
    Ok(NodeSet::new(urls, w.replication()?, NODE_TIMEOUT))
}

/// A node URL as the registry keeps it (`dsm_wallet::tls::NodeAddress`), or a clear error.
pub(crate) fn check_url(url: &str) -> Res<String> {
    dsm_wallet::tls::NodeAddress::parse(url)
        .map(|n| n.to_string())
        .map_err(|e| CliError::new(exit::INPUT, e))
}

/// The node id of a registry line: what placement hashes.
pub(crate) fn node_id_of(line: &str) -> String {
    dsm_core::slot::node_id(dsm_wallet::nodes::node_authority(
        &dsm_wallet::tls::base_url(line),
    ))
}

/// `dsm nodes add URL…`: adds nodes to the registry (each is asked for /health; one that
/// does not answer is still added, with a warning, since nodes come and go).
pub fn nodes_add(ctx: &Ctx, urls: &[String]) -> Res {
    let mut w = ctx.open()?;
    let mut registry = w.nodes()?;
    let checked = urls
        .iter()
        .map(|u| check_url(u))
        .collect::<Res<Vec<String>>>()?;
    let agent = dsm_wallet::tls::node_agent(&checked, NODE_TIMEOUT);
    for url in checked {
        if registry.contains(&url) {
            ctx.print(
                |o| writeln!(o, "{url} is already in the registry"),
                json!({"node": url, "added": false}),
            )?;
            continue;
        }
        if let Ok(a) = dsm_wallet::tls::NodeAddress::parse(&url) {
            let host = dsm_wallet::nodes::node_authority(&a.base_url()).to_string();
            // `[v6]:port`, `[v6]`, `host:port` or `host`.
            let host = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None => host.split(':').next().unwrap_or(""),
            };
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if a.scheme == dsm_wallet::tls::Scheme::Http && !loopback {
                tracing::warn!("{url} is spoken to in clear: anyone on the path sees every request; use its https:// URL with its key pin (`dsm node serve --tls-cert` prints it)");
            }
        }
        // The same node under another scheme or pins: the new line replaces the old one.
        // Placement hashes the node id alone, so nothing moves (PROTOCOL.md §15.4).
        let id = node_id_of(&url);
        if let Some(old) = registry.iter().position(|u| node_id_of(u) == id) {
            let was = registry.remove(old);
            tracing::info!("{was} is now {url} (same node id {id}: no data moves)");
        }
        let health = agent
            .get(format!("{}/health", dsm_wallet::tls::base_url(&url)))
            .call();
        let healthy = matches!(&health, Ok(r) if r.status() == 200);
        if !healthy {
            let why = match health {
                Ok(r) => format!("answers /health with {}", r.status()),
                Err(e) => format!("does not answer /health right now ({e})"),
            };
            tracing::warn!("{url} {why}; added anyway");
        }
        registry.push(url.clone());
        ctx.print(
            |o| writeln!(o, "added {url}"),
            json!({"node": url, "added": true, "healthy": healthy}),
        )?;
    }
    w.set_nodes(&registry)?;
    let r = w.replication()?;
    if registry.len() < r.n {
        tracing::warn!(
            "{} node(s) known; online operation needs N = {} (see `dsm nodes replication --help`)",
            registry.len(),
            r.n
        );
    }
    publish_document(&mut w);
    Ok(())
}

/// Once the registry can carry N replicas: publishes this device's identity document (so
/// payers holding its card can reach it online, PROTOCOL.md §12.6, §16.1) and fetches the
/// documents its contacts' cards named. Best effort: `dsm sync` does it again.
fn publish_document(w: &mut Wallet) {
    let Ok(nodes) = node_set(w) else {
        return;
    };
    if nodes.placement(w.slot_owner().as_bytes()).is_err() {
        return;
    }
    match dsm_wallet::online::sync_documents(w, &nodes) {
        Ok(d) if d.published => tracing::info!(
            "published this device's identity document at the nodes: holders of its card can pay it online"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not publish this device's identity document yet ({e}); `dsm sync` tries again"),
    }
}

/// `dsm nodes remove URL`.
pub fn nodes_remove(ctx: &Ctx, url: &str) -> Res {
    let mut w = ctx.open()?;
    let url = check_url(url)?;
    let mut registry = w.nodes()?;
    let before = registry.len();
    let id = node_id_of(&url);
    registry.retain(|u| node_id_of(u) != id);
    if registry.len() == before {
        return Err(CliError::new(
            exit::INPUT,
            format!("{url} is not in the registry (see `dsm nodes list`)"),
        ));
    }
    w.set_nodes(&registry)?;
    ctx.print(
        |o| writeln!(o, "removed {url}"),
        json!({"node": url, "removed": true}),
    )
}

/// `dsm nodes list`.
pub fn nodes_list(ctx: &Ctx) -> Res {
    let w = ctx.open()?;
    let registry = w.nodes()?;
    let r = w.replication()?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "replication: N = {} replicas, K = {} matching reads, f = {} faulty tolerated, anchors settle at W = {}",
                r.n,
                r.k,
                r.f,
                r.w()
            )?;
            if registry.is_empty() {
                writeln!(o, "no nodes yet; add one with `dsm nodes add URL`")?;
            }
            for u in &registry {
                writeln!(o, "{u}")?;
            }
            Ok(())
        },
        json!({"nodes": registry, "n": r.n, "k": r.k, "f": r.f, "w": r.w()}),
    )
}

/// `dsm nodes replication`.
pub fn nodes_replication(ctx: &Ctx, n: usize, k: usize, f: usize) -> Res {
    let mut w = ctx.open()?;
    let r = Replication { n, k, f };
    r.validate()
        .map_err(|e| CliError::new(exit::INPUT, format!("replication refused: {e}")))?;
    w.set_replication(r)?;
    publish_document(&mut w);
    drop(w); // the listing opens the wallet again
    nodes_list(ctx)
}

pub(crate) fn settlement_text(s: &Settlement) -> String {
    match s {
        Settlement::Settled { acks } => format!("settled ({acks} nodes hold it)"),
        Settlement::Unsettled { acks } => format!(
            "final, not settled yet (only {acks} nodes reached; `dsm sync` later settles it)"
        ),
        Settlement::Conflict(e) => format!(
            "CONFLICT: device {} signed a competing successor; the proof is stored and published and the device is refused from now on",
            short(&e.device().digest().to_hex())
        ),
        Settlement::Tombstoned(d) => format!(
            "REFUSED: device {} was replaced by its identity's recovery at this head (tombstone verified at the nodes)",
            short(&d.digest().to_hex())
        ),
        Settlement::VaultConflict(v) => format!(
            "CONFLICT: it descends from a resolution of vault {} that another resolution of the same vault beat at the storage nodes; the conflict is stored and the vault's value is refused from now on",
            short(&v.to_hex())
        ),
        Settlement::MintConflict { token, from } => format!(
            "CONFLICT: it descends from mint #{from} or later of token {}, whose issuers published a contradicting mint sequence; the conflict is stored and those mints are refused from now on",
            short(&token.digest().to_hex())
        ),
    }
}

/// `dsm send CONTACT AMOUNT --online`.
pub fn send_online(ctx: &Ctx, to: &str, amount: &str, token_name: Option<&str>) -> Res {
    let mut w = ctx.open()?;
    let contact = crate::wallet_cmd::find_contact(&w, to)?;
    let peer = contact.device_id()?;
    let (view, amount) = crate::wallet_cmd::outgoing(&w, &peer, amount, token_name)?;
    let tok = view.id;
    let nodes = node_set(&w)?;
    nodes
        .placement(w.slot_owner().as_bytes())
        .map_err(|e| CliError::new(exit::INPUT, replication_hint(&e)))?;
    let sent = online::send_online(&mut w, &nodes, &peer, tok, amount).map_err(online_error)?;
    let id = sent.proposal.proposal.commit().to_hex();
    for f in &sent.faults {
        tracing::warn!("node fault: {} {}", f.node, f.what);
    }
    let settled = settlement_text(&sent.settlement);
    let refused = matches!(
        sent.settlement,
        Settlement::Conflict(_) | Settlement::Tombstoned(_)
    );
    let posted = match &sent.posted {
        _ if refused => "not posted: nobody would take it".to_string(),
        Ok(n) => format!(
            "posted to {}'s b0x on {n} nodes; it completes when {} syncs",
            contact.name, contact.name
        ),
        Err(e) => format!("NOT posted yet ({e}); `dsm sync` posts it again"),
    };
    ctx.print(
        |o| {
            writeln!(
                o,
                "sent {} to {} online — debited, {settled}; {posted} (receipt {})",
                view.describe(amount),
                contact.name,
                short(&id)
            )
        },
        crate::wallet_cmd::with(
            json!({"direction": "sent", "online": true, "receipt": id, "settlement": sent.settlement.word(), "posted": sent.posted.as_ref().ok()}),
            &[crate::wallet_cmd::money(&view, amount), crate::wallet_cmd::party(&w, &peer)],
        ),
    )?;
    match sent.settlement {
        Settlement::Conflict(_) => Err(CliError::new(
            exit::INVALID,
            "this wallet's device already signed another successor of its head (was the wallet copied?)",
        )),
        Settlement::Tombstoned(_) => Err(CliError::new(
            exit::INVALID,
            "this device was tombstoned: its identity was restored from the recovery phrase onto another device, and nothing this one signs is taken any more",
        )),
        _ => Ok(()),
    }
}

/// `dsm sync` with no contact: everything with the storage nodes.
pub fn sync_nodes(ctx: &Ctx) -> Res {
    let mut w = ctx.open()?;
    let nodes = node_set(&w)?;
    if !ctx.json && !ctx.report_to_stderr {
        tracing::info!("syncing with {} storage nodes…", nodes.nodes().len());
    }
    let r = online::sync(&mut w, &nodes).map_err(|e| match e {
        OnlineError::Replication(e) => CliError::new(exit::INPUT, replication_hint(&e)),
        e => online_error(e),
    })?;
    report_documents(&mut w, &nodes);
    print_sync(ctx, &w, &r)
}

/// Publishes this device's identity document and fetches contacts' (PROTOCOL.md §12.6);
/// says what happened on stderr, never fails the sync.
pub(crate) fn report_documents(w: &mut Wallet, nodes: &NodeSet) {
    match online::sync_documents(w, nodes) {
        Ok(d) => {
            if d.published {
                tracing::info!("published this device's identity document (its signed ML-KEM key) at the storage nodes");
            }
            for name in &d.fetched {
                tracing::info!(
                    "checked and stored {name}'s identity document (its signed ML-KEM key)"
                );
            }
            for (name, why) in &d.refused {
                tracing::warn!(
                    "{name}'s card names an identity document the nodes serve wrong: {why}"
                );
            }
        }
        Err(e) => tracing::warn!("identity documents were not exchanged: {e}"),
    }
}

/// After an offline session: if the wallet knows nodes, anchor and report settlement.
/// Never fails the command: the transfer is final either way.
pub fn settle_after_session(ctx: &Ctx, w: &mut Wallet) -> Res {
    if w.nodes()?.is_empty() {
        return Ok(());
    }
    let nodes = NodeSet::new(w.nodes()?, w.replication()?, NODE_TIMEOUT);
    match online::sync(w, &nodes) {
        Ok(r) => print_sync(ctx, w, &r),
        Err(e) => ctx.print(
            |o| writeln!(o, "final, not settled: the storage nodes could not be used ({e}); `dsm sync` later settles it"),
            json!({"settlement": "unsettled", "error": e.to_string()}),
        ),
    }
}

fn print_sync(ctx: &Ctx, w: &Wallet, r: &SyncReport) -> Res {
    let quiet = r.learned.is_empty()
        && r.received.is_empty()
        && r.refused.is_empty()
        && r.stitched.is_empty()
        && r.released.is_empty()
        && r.settled.is_empty()
        && r.posted == 0
        && r.waiting.is_empty()
        && r.dropped.is_empty()
        && r.faults.is_empty()
        && r.published == 0
        && r.successions.is_empty()
        && r.recovery_answers.is_empty()
        && r.backup.short.is_none()
        && r.backup.conflict.is_none();
    if quiet {
        return ctx.print(
            |o| writeln!(o, "in sync with the storage nodes: nothing new"),
            json!({"in_sync": true}),
        );
    }
    for d in &r.learned {
        ctx.print(
            |o| writeln!(o, "learned: {} is an equivocator (proof verified and stored); it is refused from now on", peer_name(w, d)),
            json!({"learned_equivocator": d.digest().to_hex()}),
        )?;
    }
    for (lost, verdict) in &r.successions {
        use dsm_recovery::succession::Verdict;
        let what = match verdict {
            Verdict::Acknowledged => "acknowledged its successor (the same identity, restored from its phrase); the lost device is refused from now on",
            Verdict::Stale => "NOT acknowledged: the tip this wallet holds is newer than the restored one; the lost device is refused from now on",
            Verdict::Conflict => "NOT acknowledged: the lost device signed after its last backup (conflict); it is refused from now on",
        };
        ctx.print(
            |o| writeln!(o, "succession: {} {what}", peer_name(w, lost)),
            json!({"succession_of": lost.digest().to_hex(), "verdict": format!("{verdict:?}").to_lowercase()}),
        )?;
    }
    for c in &r.recovery_answers {
        let who = c
            .name
            .clone()
            .unwrap_or_else(|| short(&c.device.digest().to_hex()).to_string());
        ctx.print(
            |o| {
                writeln!(o, "recovery: {who} answered: {}", c.status)?;
                if let Some(p) = &c.pending {
                    writeln!(o, "  its pending transfer: {p}")?;
                }
                Ok(())
            },
            json!({"recovery_answer": c}),
        )?;
    }
    if let Some(x) = r.backup.short.as_ref().or(r.backup.conflict.as_ref()) {
        ctx.print(|o| writeln!(o, "backup: {x}"), json!({"backup": x}))?;
    }
    report_transfers(ctx, w, &r.received, &r.refused)?;
    report_transfers(ctx, w, &r.stitched, &r.released)?;
    for line in &r.settled {
        ctx.print(
            |o| writeln!(o, "height {} (receipt {}): {}", line.height, short(&line.receipt.to_hex()), settlement_text(&line.settlement)),
            json!({"height": line.height, "receipt": line.receipt.to_hex(), "settlement": line.settlement.word()}),
        )?;
    }
    if r.posted > 0 {
        ctx.print(
            |o| {
                writeln!(
                    o,
                    "posted {} pending transfer(s) to their receivers' b0x",
                    r.posted
                )
            },
            json!({"posted": r.posted}),
        )?;
    }
    for x in &r.waiting {
        ctx.print(|o| writeln!(o, "waiting: {x}"), json!({"waiting": x}))?;
    }
    for x in &r.dropped {
        ctx.print(
            |o| writeln!(o, "dropped from the b0x: {x}"),
            json!({"dropped": x}),
        )?;
    }
    for f in &r.faults {
        ctx.print(
            |o| writeln!(o, "node fault: {} {}", f.node, f.what),
            json!({"node_fault": f.node, "what": f.what}),
        )?;
    }
    if r.published > 0 {
        ctx.print(
            |o| writeln!(o, "published evidence to {} node(s)", r.published),
            json!({"published": r.published}),
        )?;
    }
    Ok(())
}
