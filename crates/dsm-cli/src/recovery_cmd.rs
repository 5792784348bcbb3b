//! `dsm recover` (also `dsm init --restore`) and `dsm backup status`: restoring an identity
//! from its recovery phrase, and where this device's backup stands (PROTOCOL.md §20).

use crate::online_cmd::{check_url, node_set, NODE_TIMEOUT};
use crate::wallet_cmd::{exit, short, CliError, Ctx, Res};
use dsm_core::crypto::SuiteId;
use dsm_recovery::{KdfCost, RecoveryError, RecoveryKeys, RecoveryMnemonic};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::nodes::{NodeSet, Replication};
use dsm_wallet::store::RedbStore;
use dsm_wallet::wallet::recovery::{recover_from, BackupSource, RecoverOptions, RecoveryPreview};
use dsm_wallet::WalletError;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;

/// A fresh phrase (256 bits from the OS) and the keys it controls.
pub fn new_phrase() -> Res<(RecoveryMnemonic, RecoveryKeys)> {
    let mut entropy = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(entropy.as_mut_slice()).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            format!("the OS random generator failed: {e}"),
        )
    })?;
    let m = RecoveryMnemonic::from_entropy(&entropy);
    tracing::info!("deriving the recovery keys from the phrase (Argon2id, 64 MiB)…");
    let keys = RecoveryKeys::derive(&m, KdfCost::default()).map_err(phrase_error)?;
    Ok((m, keys))
}

fn phrase_error(e: RecoveryError) -> CliError {
    CliError::new(exit::INPUT, format!("recovery phrase: {e}"))
}

/// Reads the phrase: `file` (first line), else DSM_RECOVERY_PHRASE, else a hidden prompt.
fn read_phrase(file: Option<&PathBuf>) -> Res<RecoveryMnemonic> {
    let text = if let Some(f) = file {
        std::fs::read_to_string(f).map_err(|e| {
            CliError::new(
                exit::INPUT,
                format!("cannot read the phrase file {}: {e}", f.display()),
            )
        })?
    } else if let Ok(p) = std::env::var("DSM_RECOVERY_PHRASE") {
        p
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("recovery phrase (24 words): ")?
    } else {
        return Err(CliError::new(
            exit::INPUT,
            "no recovery phrase: pass --phrase-file FILE, set DSM_RECOVERY_PHRASE, or run in a terminal to be asked",
        ));
    };
    RecoveryMnemonic::parse(text.lines().next().unwrap_or("")).map_err(phrase_error)
}

/// The replication to use at nodes named on the command line: what the user passed
/// (`--n/--k/--f`, the lost wallet's `dsm nodes list`), else what the backup file or the
/// wallet records, else the defaults — never a guess from how many nodes were named, since
/// keys were placed (and the tombstone must settle) by the N and W the wallet used. Fewer
/// named nodes than N cannot hold what N placed.
fn replication_for(
    count: usize,
    given: Option<Replication>,
    recorded: Option<Replication>,
) -> Res<Replication> {
    let r = given.or(recorded).unwrap_or_default();
    r.validate().map_err(|e| CliError::new(exit::INPUT, e))?;
    if count < r.n {
        return Err(CliError::new(
            exit::INPUT,
            format!(
                "{count} storage node(s) named, but keys are placed on N = {} of the wallet's registry: name every node it used (`dsm nodes list` showed them), or pass the replication it used (--n N --k K --f F)",
                r.n
            ),
        ));
    }
    Ok(r)
}

/// How `recover` is confirmed.
pub struct Confirm {
    /// Confirmed on the command line (`--yes`).
    pub yes: bool,
    /// Show what would be restored; create and publish nothing (`--dry-run`).
    pub dry_run: bool,
}

/// `dsm recover` / `dsm init --restore`.
#[allow(clippy::too_many_arguments)]
pub fn recover(
    ctx: &Ctx,
    suite: SuiteId,
    nodes: &[String],
    phrase_file: Option<&PathBuf>,
    replace_restored: bool,
    name: Option<String>,
    confirm: Confirm,
    file: Option<&std::path::Path>,
    replication: Option<Replication>,
) -> Res {
    let phrase = read_phrase(phrase_file)?;
    let resuming = ctx.db().exists();
    // A backup file replaces the capsule download (PROTOCOL.md §20.9); it is opened with
    // the phrase's keys before anything is created.
    let mut keys = None;
    let backup = match file {
        // Opened when resuming too: it names the nodes to publish at.
        Some(f) => {
            let bytes = read_backup_file(f)?;
            tracing::info!("deriving the recovery keys from the phrase (Argon2id, 64 MiB)…");
            let k = RecoveryKeys::derive(&phrase, KdfCost::default()).map_err(phrase_error)?;
            let b = dsm_wallet::wallet::backup::open_backup(&bytes, &k).map_err(backup_error)?;
            keys = Some(k);
            Some(b)
        }
        None => None,
    };
    let set = if let (Some(b), true) = (&backup, nodes.is_empty()) {
        let (urls, r) = b.nodes()?;
        if urls.is_empty() {
            return Err(CliError::new(
                exit::INPUT,
                "the backup names no storage nodes, and restoring it publishes the old device's tombstone at some: --node URL (repeat for each)",
            ));
        }
        NodeSet::new(urls, r, NODE_TIMEOUT)
    } else if resuming && nodes.is_empty() {
        node_set(&*ctx.open()?)?
    } else {
        if nodes.is_empty() {
            return Err(CliError::new(
                exit::INPUT,
                "name the storage nodes that hold the backup: --node URL (repeat for each)",
            ));
        }
        let urls = nodes
            .iter()
            .map(|u| check_url(u))
            .collect::<Res<Vec<String>>>()?;
        let recorded = match &backup {
            Some(b) => Some(b.nodes()?.1),
            None => None,
        };
        let r = replication_for(urls.len(), replication, recorded)?;
        NodeSet::new(urls, r, NODE_TIMEOUT)
    };
    crate::wallet_cmd::private_home(ctx)?;
    let pass = ctx.passphrase(!resuming)?;
    if !resuming && !pass.is_empty() {
        crate::wallet_cmd::warn_if_weak(&pass);
    }
    if pass.is_empty() {
        return Err(CliError::new(
            exit::WALLET,
            "the passphrase is empty; choose one (it encrypts the new device's key at rest)",
        ));
    }
    let keys = match keys {
        Some(k) => k,
        None => {
            tracing::info!("deriving the recovery keys from the phrase (Argon2id, 64 MiB)…");
            RecoveryKeys::derive(&phrase, KdfCost::default()).map_err(phrase_error)?
        }
    };
    let store = if resuming {
        RedbStore::open(&ctx.db()).map_err(WalletError::from)?
    } else {
        crate::wallet_cmd::private_store(ctx)?
    };
    let options = RecoverOptions {
        suite,
        passphrase: &pass,
        kdf: KdfParams::default(),
        replace_successor: replace_restored,
    };
    let interactive = std::io::stdin().is_terminal();
    let mut shown = None;
    let result = recover_from(
        Box::new(store),
        &keys,
        &set,
        &options,
        match &backup {
            Some(b) => BackupSource::File(b),
            None => BackupSource::Nodes,
        },
        &mut |m| tracing::info!("{m}"),
        &mut |p| {
            let text = preview_text(p);
            let go = if confirm.dry_run {
                false
            } else if confirm.yes {
                true
            } else if interactive {
                eprintln!("{text}");
                crate::wallet_cmd::ask_yes(
                    "This permanently disables that device: every counterparty refuses it from now on. Go on?",
                )
                .unwrap_or(false)
            } else {
                false
            };
            shown = Some((text, p.clone()));
            go
        },
    );
    let (mut w, report) = match result {
        Ok(x) => x,
        Err(e) => {
            // Nothing was created if the failure came before the new device existed.
            if !resuming {
                if let Ok(s) = RedbStore::open(&ctx.db()) {
                    let empty = holds_no_wallet(&s);
                    drop(s);
                    if empty {
                        let _ = std::fs::remove_file(ctx.db());
                    }
                }
            }
            if let (WalletError::Declined, Some((text, p))) = (&e, &shown) {
                if confirm.dry_run {
                    return ctx.print(
                        |o| writeln!(o, "{text}\ndry run: nothing was created or published"),
                        json!({"dry_run": true, "lost": p.lost.digest().to_hex(), "height": p.height, "capsules": p.capsules, "counterparties": p.counterparties, "contacts": p.contacts, "balances": p.balances.iter().map(|b| json!({"token_id": b.token.digest().to_hex(), "token": b.policy.as_ref().map(|(t, _)| t), "amount": b.amount.0.to_string(), "amount_decimal": b.policy.as_ref().map(|(_, d)| dsm_token::units::format_units(b.amount, *d))})).collect::<Vec<_>>()}),
                    );
                }
                return Err(CliError::new(
                    exit::INPUT,
                    if interactive {
                        "not confirmed: nothing was created or published".to_string()
                    } else {
                        "recovery permanently disables the old device, so it asks first: run it in a terminal, or add --yes (see what it would do with --dry-run)".to_string()
                    },
                ));
            }
            let incomplete = matches!(e, WalletError::Recovery(_));
            let mut err = CliError::from(e);
            if incomplete {
                err.code = exit::INCOMPLETE;
            }
            err.msg.push_str(
                "\n(rerunning the same command goes on from where this stopped; a recovery never publishes twice)",
            );
            return Err(err);
        }
    };
    w.set_nodes(set.nodes())?;
    w.set_replication(set.params())?;
    match name {
        Some(n) => w.set_name(&n)?,
        None if w.name()?.is_none() => {
            w.set_name(&format!("dsm-{}", &w.device_id().digest().to_hex()[..8]))?
        }
        None => {}
    }
    ctx.save_summary(&w);
    // A policy is immutable and names device keys: the lost device's issuer or refresher
    // role does not pass to this one.
    if let Ok(lost) = w.recovered_lost() {
        for t in w.tokens() {
            let roles: Vec<&str> = [
                ("issuer", t.policy.issuers.keys.contains(&lost.public_key)),
                (
                    "refresher",
                    t.policy
                        .refreshers
                        .as_ref()
                        .is_some_and(|r| r.keys.contains(&lost.public_key)),
                ),
            ]
            .iter()
            .filter(|(_, held)| *held)
            .map(|(role, _)| *role)
            .collect();
            if !roles.is_empty() {
                tracing::warn!(
                    "the lost device was an {} of {}; this device is not (a policy is immutable and names device keys). Its other issuers can still act; see README, \"Issuer keys and recovery\"",
                    roles.join(" and "),
                    t.policy.ticker
                );
            }
        }
    }
    let balances: Vec<(dsm_wallet::wallet::TokenView, dsm_core::chain::Amount)> = w
        .head()
        .balances
        .entries()
        .iter()
        .map(|b| (crate::wallet_cmd::token_view(&w, &b.token), b.amount))
        .collect();
    let lost = report.lost.digest().to_hex();
    let new = report.successor.digest().to_hex();
    ctx.print(
        |o| {
            writeln!(o, "recovered identity onto this device")?;
            writeln!(o, "  lost device  {} (tombstoned: every counterparty that sees it refuses it)", short(&lost))?;
            writeln!(o, "  this device  {} (successor)", short(&new))?;
            writeln!(o, "  backup       {} capsules, resumed at head {}", report.capsules, report.height)?;
            for (t, a) in &balances {
                writeln!(o, "  balance      {}", t.describe(*a))?;
            }
            for f in &report.faults {
                writeln!(o, "  node fault   {} {}", f.node, f.what)?;
            }
            if let Some(b) = &report.blocked {
                writeln!(o, "  BLOCKED      {b}")?;
            }
            for l in &report.left_out {
                writeln!(o, "  left out     {l}")?;
            }
            writeln!(o, "relationships (spending to each resumes once it acknowledges; `dsm sync` collects answers):")?;
            for c in &report.counterparties {
                let who = c.name.clone().unwrap_or_else(|| short(&c.device.digest().to_hex()).to_string());
                writeln!(o, "  {who:<20} {}{}", c.status, c.pending.as_deref().map(|p| format!(" — {p}")).unwrap_or_default())?;
            }
            Ok(())
        },
        json!({
            "lost": lost, "device": new, "capsules": report.capsules, "height": report.height,
            "balances": balances.iter().map(|(t, a)| crate::wallet_cmd::money(t, *a)).collect::<Vec<_>>(), "blocked": report.blocked, "left_out": report.left_out,
            "faults": report.faults.iter().map(|f| json!({"node": f.node, "what": f.what})).collect::<Vec<_>>(),
            "counterparties": report.counterparties,
        }),
    )
}

/// What a recovery found and is about to do, for the user to confirm.
fn preview_text(p: &RecoveryPreview) -> String {
    let balances: Vec<String> = p
        .balances
        .iter()
        .map(|b| match &b.policy {
            Some((ticker, decimals)) => {
                format!(
                    "{} {ticker}",
                    dsm_token::units::format_units(b.amount, *decimals)
                )
            }
            None => format!(
                "{} base units of token {}",
                b.amount,
                short(&b.token.digest().to_hex())
            ),
        })
        .collect();
    format!(
        "backup found: device {} at height {} ({} capsules), {} counterparties, {} contacts; balances: {}",
        short(&p.lost.digest().to_hex()),
        p.height,
        p.capsules,
        p.counterparties,
        p.contacts,
        if balances.is_empty() {
            "none".to_string()
        } else {
            balances.join(", ")
        }
    )
}

fn holds_no_wallet(s: &RedbStore) -> bool {
    use dsm_wallet::store::{Store, Table};
    matches!(s.get(Table::Meta, b"identity"), Ok(None))
}

/// `dsm backup status`.
pub fn backup_status(ctx: &Ctx) -> Res {
    let w = ctx.open()?;
    let nodes = if w.nodes()?.is_empty() {
        None
    } else {
        Some(node_set(&w)?)
    };
    let st = w.backup_status(nodes.as_ref())?;
    let recovery = w.recovery_counterparties()?;
    ctx.print(
        |o| {
            if !st.enabled {
                return writeln!(o, "this identity has no recovery phrase, so it writes no backup (create identities with `dsm init` to get one)");
            }
            writeln!(o, "backup stream {}", short(&st.stream))?;
            match st.sealed.checked_sub(1) {
                Some(last) => writeln!(o, "  last capsule  {last} ({} sealed, {} at a quorum of nodes)", st.sealed, st.uploaded)?,
                None => writeln!(o, "  no capsule yet")?,
            }
            if st.uploaded < st.sealed {
                writeln!(o, "  {} capsule(s) not at the nodes yet: `dsm sync` uploads them", st.sealed - st.uploaded)?;
            }
            if nodes.is_none() {
                writeln!(o, "  no storage nodes configured: the backup stays on this device until you `dsm nodes add` some and `dsm sync`")?;
            }
            for (node, s) in &st.replicas {
                writeln!(o, "  {node:<32} {s}")?;
            }
            if !recovery.is_empty() {
                writeln!(o, "recovered device: counterparties of the lost device")?;
                for c in &recovery {
                    let who = c.name.clone().unwrap_or_else(|| short(&c.device.digest().to_hex()).to_string());
                    writeln!(o, "  {who:<20} {}", c.status)?;
                }
            }
            Ok(())
        },
        json!({
            "enabled": st.enabled, "stream": st.stream, "sealed": st.sealed, "uploaded": st.uploaded,
            "replicas": st.replicas.iter().map(|(n, s)| json!({"node": n, "state": s})).collect::<Vec<_>>(),
            "recovery": recovery,
        }),
    )
}

/// Reads a backup file, refusing one over the format's limit before reading it.
fn read_backup_file(f: &std::path::Path) -> Res<Vec<u8>> {
    let cannot = |e: std::io::Error| {
        CliError::new(
            exit::INPUT,
            format!("cannot read the backup file {}: {e}", f.display()),
        )
    };
    let len = std::fs::metadata(f).map_err(cannot)?.len();
    if len > dsm_recovery::backup::MAX_FILE_LEN as u64 {
        return Err(CliError::new(
            exit::INPUT,
            format!(
                "{} is {len} bytes, larger than any backup file ({} at most)",
                f.display(),
                dsm_recovery::backup::MAX_FILE_LEN
            ),
        ));
    }
    std::fs::read(f).map_err(cannot)
}

/// A refused backup file: a wrong phrase or another file is the user's input (exit 4); a
/// file that opens but is inconsistent is damaged (exit 3).
fn backup_error(e: WalletError) -> CliError {
    use dsm_recovery::backup::BackupFileError as B;
    match &e {
        WalletError::Backup(B::NotABackup | B::Format(_) | B::TooLarge | B::Open) => {
            CliError::new(exit::INPUT, e.to_string())
        }
        WalletError::Backup(_) | WalletError::Corrupt { .. } => CliError::new(
            exit::WALLET,
            format!("{e} (the backup file is damaged; use another copy)"),
        ),
        _ => CliError::from(e),
    }
}

/// `dsm backup export FILE`: the whole wallet, sealed under the recovery phrase, written
/// 0600 (replacing FILE only with --force).
pub fn backup_export(ctx: &Ctx, out: &std::path::Path) -> Res {
    crate::token_cmd::writable(ctx, out)?;
    let w = ctx.open()?;
    let bytes = w.export_backup()?;
    let height = w.head().height;
    let device = w.device_id().digest().to_hex();
    drop(w);
    write_private_atomically(out, &bytes)?;
    ctx.print(
        |o| {
            writeln!(o, "wrote {} ({} bytes): this wallet at head {height}, sealed under its recovery phrase", out.display(), bytes.len())?;
            writeln!(o, "restore it with `dsm backup import {}` (as a new device: the old one is disabled)", out.display())
        },
        json!({"file": out.display().to_string(), "bytes": bytes.len(), "height": height, "device": device}),
    )
}

/// Writes `bytes` to `out` through a 0600 temporary file beside it, synced, then renamed
/// over `out`: a crash leaves the old file or the new one, never half of one.
fn write_private_atomically(out: &std::path::Path, bytes: &[u8]) -> Res {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        CliError::new(
            exit::FAILURE,
            format!("cannot write {}: {e}", out.display()),
        )
    };
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(fail)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(fail)?;
    drop(f);
    std::fs::rename(&tmp, out).map_err(fail)
}

/// `dsm backup import FILE --same-device`: the same device, restored frozen; then one try
/// to lift the freeze at the nodes the backup names.
pub fn backup_import_same_device(
    ctx: &Ctx,
    file: &std::path::Path,
    phrase_file: Option<&PathBuf>,
    nodes: &[String],
) -> Res {
    if ctx.db().exists() {
        return Err(WalletError::AlreadyExists.into());
    }
    let bytes = read_backup_file(file)?;
    let phrase = read_phrase(phrase_file)?;
    tracing::info!("deriving the recovery keys from the phrase (Argon2id, 64 MiB)…");
    let keys = RecoveryKeys::derive(&phrase, KdfCost::default()).map_err(phrase_error)?;
    let backup = dsm_wallet::wallet::backup::open_backup(&bytes, &keys).map_err(backup_error)?;
    let pass = ctx.passphrase(false)?;
    crate::wallet_cmd::private_home(ctx)?;
    let store = crate::wallet_cmd::private_store(ctx)?;
    if let Err(e) =
        dsm_wallet::wallet::backup::restore_same_device(Box::new(store), &backup, &keys, &pass)
    {
        let _ = std::fs::remove_file(ctx.db());
        return Err(e.into());
    }
    let device = backup.device.digest().to_hex();
    let height = backup.head.height;
    tracing::warn!(
        "this copy must be the only one that signs: if the device you exported from made transfers after the export that never reached the storage nodes, signing here makes them equivocation and every counterparty bans the device for good"
    );
    let lifted = unfreeze_at(ctx, nodes, &pass);
    let (frozen, why) = match &lifted {
        Ok(()) => (false, None),
        Err(e) => (true, Some(e.msg.clone())),
    };
    ctx.print(
        |o| {
            writeln!(o, "restored device {} at head {height} from {}", short(&device), file.display())?;
            match &why {
                None => writeln!(o, "unfrozen: W storage nodes show nothing newer than the backup; this device signs again"),
                Some(w) => writeln!(o, "FROZEN: it signs nothing yet. {w}"),
            }
        },
        json!({"device": device, "height": height, "frozen": frozen, "why": why}),
    )
}

/// `dsm backup unfreeze`.
pub fn backup_unfreeze(ctx: &Ctx, nodes: &[String]) -> Res {
    let pass = ctx.passphrase(false)?;
    unfreeze_at(ctx, nodes, &pass)?;
    ctx.print(
        |o| writeln!(o, "unfrozen: W storage nodes show nothing newer than the backup; this device signs again"),
        json!({"frozen": false}),
    )
}

/// Lifts the freeze at `nodes`, or at the nodes the wallet records.
fn unfreeze_at(ctx: &Ctx, nodes: &[String], pass: &[u8]) -> Res {
    let store = RedbStore::open(&ctx.db()).map_err(WalletError::from)?;
    let set = if nodes.is_empty() {
        let (urls, r) = dsm_wallet::wallet::backup::stored_nodes(&store)?;
        if urls.is_empty() {
            return Err(CliError::new(
                exit::WALLET,
                "the wallet names no storage nodes to ask: pass --node URL (repeat for each), or restore the backup as a successor instead",
            ));
        }
        NodeSet::new(urls, r, NODE_TIMEOUT)
    } else {
        let urls = nodes
            .iter()
            .map(|u| check_url(u))
            .collect::<Res<Vec<String>>>()?;
        let recorded = dsm_wallet::wallet::backup::stored_nodes(&store)?.1;
        NodeSet::new(
            urls.clone(),
            replication_for(urls.len(), None, Some(recorded))?,
            NODE_TIMEOUT,
        )
    };
    let w = dsm_wallet::wallet::backup::unfreeze(Box::new(store), pass, &set)?;
    ctx.save_summary(&w);
    Ok(())
}
