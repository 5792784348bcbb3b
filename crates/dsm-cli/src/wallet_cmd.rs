//! The wallet subcommands. Every protocol rule lives in the library crates; this module
//! parses input, opens the wallet, runs sessions over the chosen transport and reports.

use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::identity::DeviceId;
use dsm_core::receipt::{verify_receipt_bytes, EmptyView, Receipt, MAX_RECEIPT_LEN};
use dsm_core::tripwire::Equivocation;
use dsm_protocol::session::{Completed, RefusalReason, Refused, Session};
use dsm_transport::apdu::{ApduCard, ApduReader};
use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
use dsm_transport::packet::TcpPackets;
use dsm_transport::{tcp_dial, DirLink, Link};
use dsm_wallet::driver::{run, Report, RunError};
use dsm_wallet::keystore::{KdfParams, KeystoreError};
use dsm_wallet::store::{RedbStore, StoreError};
use dsm_wallet::summary::WalletSummary;
use dsm_wallet::wallet::{ReceivePolicy, TokenView};
use dsm_wallet::{Contact, EntryKind, Wallet, WalletError};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit codes (documented in `dsm --help` and the README).
pub mod exit {
    /// Anything not covered below.
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap).
    pub const USAGE: u8 = 2;
    /// No wallet, wallet already exists, wrong passphrase, wallet in use, damaged wallet.
    pub const WALLET: u8 = 3;
    /// Refused input: bad amount, unknown contact, bad card, insufficient balance.
    pub const INPUT: u8 = 4;
    /// The transfer did not complete (peer unreachable, refused, cut off). Anything
    /// already committed is kept; a pending transfer completes at the next session.
    pub const INCOMPLETE: u8 = 5;
    /// A receipt or evidence file failed verification.
    pub const INVALID: u8 = 6;
    /// Not an exit code: the reader of stdout went away (`dsm history | head`), so the
    /// command ends quietly with 0.
    pub const QUIET: u8 = 0;
}

/// An error with its exit code and a message that says what to do.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code.
    pub code: u8,
    /// The message.
    pub msg: String,
}

impl CliError {
    pub(crate) fn new(code: u8, msg: impl Into<String>) -> Self {
        CliError {
            code,
            msg: msg.into(),
        }
    }
}

/// Refused input (exit 4), with what to fix.
pub(crate) fn input(msg: impl Into<String>) -> CliError {
    CliError::new(exit::INPUT, msg)
}

impl From<WalletError> for CliError {
    fn from(e: WalletError) -> Self {
        let code = match &e {
            WalletError::Store(StoreError::InUse)
            | WalletError::Store(StoreError::Damaged(_))
            | WalletError::NotFound
            | WalletError::AlreadyExists
            | WalletError::Corrupt { .. }
            | WalletError::Frozen(_) => exit::WALLET,
            WalletError::Backup(_) => exit::INPUT,
            WalletError::Keystore(_) => exit::WALLET,
            WalletError::Contact(_) | WalletError::Balance(_) | WalletError::Token(_) => {
                exit::INPUT
            }
            _ => exit::FAILURE,
        };
        let msg = match &e {
            WalletError::Keystore(KeystoreError::WrongPassphrase) => "wrong passphrase for this wallet (check DSM_PASSPHRASE / --passphrase-file, or --home if you have several wallets)".to_string(),
            _ => e.to_string(),
        };
        CliError::new(code, msg)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::new(exit::QUIET, "");
        }
        CliError::new(exit::FAILURE, e.to_string())
    }
}

pub type Res<T = ()> = Result<T, CliError>;

/// Options every wallet command shares.
#[derive(Clone)]
pub struct Ctx {
    /// The wallet directory.
    pub home: PathBuf,
    /// Machine-readable output.
    pub json: bool,
    /// A file holding the passphrase (first line).
    pub passphrase_file: Option<PathBuf>,
    /// Reports go to stderr because stdout carries the session (`--stdio`).
    pub report_to_stderr: bool,
    /// The command may overwrite a file it writes (`--force`).
    pub force: bool,
}

impl Ctx {
    pub(crate) fn db(&self) -> PathBuf {
        self.home.join("wallet.redb")
    }

    pub(crate) fn passphrase(&self, confirm: bool) -> Res<Vec<u8>> {
        if let Some(f) = &self.passphrase_file {
            let s = std::fs::read_to_string(f).map_err(|e| {
                CliError::new(
                    exit::WALLET,
                    format!("cannot read the passphrase file {}: {e}", f.display()),
                )
            })?;
            return Ok(s.lines().next().unwrap_or("").as_bytes().to_vec());
        }
        if let Ok(p) = std::env::var("DSM_PASSPHRASE") {
            return Ok(p.into_bytes());
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(exit::WALLET, "no passphrase: set DSM_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal to be asked"));
        }
        let p = rpassword::prompt_password("wallet passphrase: ")?;
        if confirm && rpassword::prompt_password("again: ")? != p {
            return Err(CliError::new(
                exit::WALLET,
                "the two passphrases differ; nothing was created",
            ));
        }
        Ok(p.into_bytes())
    }

    /// Opens the wallet for a command that may change it; its summary (what the read-only
    /// commands show without the passphrase) is rewritten when the command is done.
    pub(crate) fn open(&self) -> Res<OpenWallet> {
        Ok(OpenWallet {
            wallet: self.open_as(false)?,
            home: self.home.clone(),
        })
    }

    /// The summary file beside the wallet ([`dsm_wallet::summary`]).
    pub(crate) fn summary_path(&self) -> PathBuf {
        self.home.join(SUMMARY_FILE)
    }

    /// What the read-only commands show. With a passphrase at hand (DSM_PASSPHRASE,
    /// --passphrase-file), read from the wallet file itself. Without one, or while another
    /// dsm process holds the file, from the summary the last writing command left — after
    /// checking, when the file can be opened (read-only, no passphrase needed: every
    /// record's check and the store root), that it is the summary of the file's head.
    pub(crate) fn view(&self) -> Res<WalletSummary> {
        if !self.db().exists() {
            return self.open_read_only().and_then(|w| Ok(w.summary()?));
        }
        let at_hand =
            self.passphrase_file.is_some() || std::env::var_os("DSM_PASSPHRASE").is_some();
        let opened = RedbStore::open_read_only(&self.db());
        if matches!(opened, Err(StoreError::InUse)) {
            // Another dsm process holds the file: its summary is all there is to read.
            let summary = self
                .read_summary()
                .ok_or_else(|| CliError::from(WalletError::from(StoreError::InUse)))??;
            tracing::info!(
                "the wallet is in use by another dsm process: shown as of its last change (height {})",
                summary.height
            );
            if summary.replaced_by_recovery {
                warn_tombstoned();
            }
            return Ok(summary);
        }
        let store = self.read_only_store(opened)?;
        if !at_hand {
            if let Some(Ok(summary)) = self.read_summary() {
                if summary.is_current(&store)? {
                    if summary.replaced_by_recovery {
                        warn_tombstoned();
                    }
                    return Ok(summary);
                }
                tracing::info!("the summary is older than the wallet file; reading the file");
            }
        }
        Ok(self.unlock(store)?.summary()?)
    }

    /// The summary file's contents, if there is one.
    fn read_summary(&self) -> Option<Res<WalletSummary>> {
        std::fs::read(self.summary_path())
            .ok()
            .map(|b| WalletSummary::from_bytes(&b).map_err(CliError::from))
    }

    /// Rewrites the summary file (atomically: a new file renamed over the old, 0600). A
    /// failure is only a warning: the summary is a convenience, the wallet file the truth.
    pub(crate) fn save_summary(&self, w: &Wallet) {
        save_summary(&self.home, w)
    }

    /// [`Ctx::open`] for commands that only read: the file is opened read-only, so neither
    /// the command nor a failure (a wrong passphrase, a damaged file) changes a byte of it.
    pub(crate) fn open_read_only(&self) -> Res<Wallet> {
        self.open_as(true)
    }

    fn open_as(&self, read_only: bool) -> Res<Wallet> {
        if !self.db().exists() {
            return Err(CliError::new(exit::WALLET, format!("no wallet in {}; create one with `dsm init` (or point --home / DSM_HOME at an existing one)", self.home.display())));
        }
        let store = if read_only {
            self.read_only_store(RedbStore::open_read_only(&self.db()))?
        } else {
            RedbStore::open(&self.db()).map_err(WalletError::from)?
        };
        self.unlock(store)
    }

    /// What a read-only open of the file gave, or what to do instead: a file that needs
    /// the database's repair is refused (a reading command never writes); one from before
    /// record checks is upgraded once, by a writing open.
    fn read_only_store(&self, opened: Result<RedbStore, StoreError>) -> Res<RedbStore> {
        match opened {
            Ok(s) => Ok(s),
            // After an unclean shutdown the database must repair the file, which only a
            // writing open does; a reading command never writes, so it says how.
            // A file a killed process left open needs the database's repair, which
            // only a writing open makes: made here, said on stderr (refusing instead was
            // tried: a CI run then caught a file needing it after an ordinary `send`
            // ended by a refusal, cause not yet found, so a reader would strand the user).
            Err(StoreError::NeedsRepair) => {
                tracing::warn!("the wallet file was not closed cleanly (a dsm process was killed while it had it open, or the file is damaged); repairing it");
                drop(RedbStore::open(&self.db()).map_err(WalletError::from)?);
                Ok(RedbStore::open_read_only(&self.db()).map_err(WalletError::from)?)
            }
            Err(StoreError::NeedsUpgrade) => {
                tracing::warn!("upgrading the wallet file: adding a check to every record (once)");
                drop(RedbStore::open(&self.db()).map_err(WalletError::from)?);
                Ok(RedbStore::open_read_only(&self.db()).map_err(WalletError::from)?)
            }
            Err(e) => Err(WalletError::from(e).into()),
        }
    }

    /// The wallet on an opened store, unsealed with the passphrase.
    fn unlock(&self, store: RedbStore) -> Res<Wallet> {
        let pass = self.passphrase(false)?;
        let w = Wallet::open(Box::new(store), &pass)?;
        if w.is_replaced_by_recovery() {
            warn_tombstoned();
        }
        Ok(w)
    }

    pub(crate) fn print(
        &self,
        human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
        machine: serde_json::Value,
    ) -> Res {
        let mut out: Box<dyn Write> = if self.report_to_stderr {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        let out = &mut *out;
        if self.json {
            writeln!(out, "{machine}")?;
        } else {
            human(out)?;
        }
        out.flush()?;
        Ok(())
    }
}

/// Rewrites the summary file in `home` ([`Ctx::save_summary`]).
fn save_summary(home: &Path, w: &Wallet) {
    let result = w.summary().map_err(|e| e.to_string()).and_then(|s| {
        let tmp = home.join(".summary.json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(|e| e.to_string())?;
        f.write_all(&s.to_bytes()).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, home.join(SUMMARY_FILE)).map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::warn!("could not update the wallet's summary ({e}); read-only commands will ask for the passphrase");
    }
}

/// The summary file's name in the wallet home.
const SUMMARY_FILE: &str = "summary.json";

/// Said on every command of a device whose identity was restored elsewhere.
fn warn_tombstoned() {
    tracing::warn!("this device was tombstoned: its identity was restored from the recovery phrase onto another device, and nothing this one signs is taken any more (use the new device)");
}

/// A wallet opened for a command that may change it: when the command is done (or fails),
/// the summary file is rewritten from it.
pub(crate) struct OpenWallet {
    wallet: Wallet,
    home: PathBuf,
}

impl std::ops::Deref for OpenWallet {
    type Target = Wallet;
    fn deref(&self) -> &Wallet {
        &self.wallet
    }
}

impl std::ops::DerefMut for OpenWallet {
    fn deref_mut(&mut self) -> &mut Wallet {
        &mut self.wallet
    }
}

impl Drop for OpenWallet {
    fn drop(&mut self) {
        save_summary(&self.home, &self.wallet);
    }
}

/// Parses an amount: a positive whole number that fits 128 bits.
pub fn parse_amount(s: &str) -> Res<Amount> {
    let bad = |why: &str| CliError::new(exit::INPUT, format!("{s:?} is not a valid amount: {why}"));
    let t = s.trim().replace('_', "");
    if t.starts_with('-') {
        return Err(bad("amounts are positive whole numbers"));
    }
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("use a positive whole number of base units, like 250"));
    }
    let v: u128 = t
        .parse()
        .map_err(|_| bad("too large (the maximum is 340282366920938463463374607431768211455)"))?;
    if v == 0 {
        return Err(bad("it must be more than zero"));
    }
    Ok(Amount(v))
}

pub(crate) fn short(hex: &str) -> &str {
    &hex[..hex.len().min(16)]
}

/// How `t` is shown in this wallet (label and decimal places; see [`TokenView`]).
pub(crate) fn token_view(w: &Wallet, t: &TokenId) -> TokenView {
    w.token_view(t).unwrap_or_else(|_| TokenView::unknown(*t))
}

/// The JSON fields of an amount (README, "JSON output"): the exact base units, the
/// decimal form with the token's places, the token's label and its id.
pub(crate) fn money(v: &TokenView, a: Amount) -> serde_json::Value {
    json!({
        "amount": a.0.to_string(),
        "amount_decimal": v.amount_text(a),
        "token": v.label,
        "token_id": v.id.digest().to_hex(),
    })
}

/// The JSON fields of a counterparty: its name here (or a short id) and its device id.
pub(crate) fn party(w: &Wallet, d: &DeviceId) -> serde_json::Value {
    json!({"peer": peer_name(w, d), "peer_id": d.digest().to_hex()})
}

/// `base` with the fields of each object in `more` added.
pub(crate) fn with(mut base: serde_json::Value, more: &[serde_json::Value]) -> serde_json::Value {
    if let Some(b) = base.as_object_mut() {
        for m in more {
            if let Some(m) = m.as_object() {
                b.extend(m.clone());
            }
        }
    }
    base
}

/// An amount the user typed, read with the token's decimal places (refused, never
/// rounded, when it has more).
pub(crate) fn parse_token_amount(v: &TokenView, text: &str) -> Res<Amount> {
    v.parse_amount(text).map_err(|e| {
        let places = match v.decimals {
            Some(d) => format!("{d} decimal places"),
            None => "no policy here, so base units".to_string(),
        };
        input(format!(
            "{text:?} is not a valid amount of {} ({places}): {e}",
            v.label
        ))
    })
}

/// The token a command names (`--token`), or, when none is named, the one token this
/// wallet holds a balance of.
pub(crate) fn choose_token(w: &Wallet, name: Option<&str>) -> Res<TokenView> {
    if let Some(n) = name {
        let id = w.resolve_token(n)?;
        return Ok(token_view(w, &id));
    }
    let held: Vec<TokenView> = w
        .head()
        .balances
        .entries()
        .iter()
        .filter(|b| b.amount > Amount::ZERO)
        .map(|b| token_view(w, &b.token))
        .collect();
    match held.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(input(
            "this wallet holds no token yet; name one with --token",
        )),
        several => Err(input(format!(
            "name the token with --token: this wallet holds {}",
            several
                .iter()
                .map(|v| v.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub(crate) fn peer_name(w: &Wallet, d: &DeviceId) -> String {
    w.contact_name(d)
        .unwrap_or_else(|| format!("device {}", short(&d.digest().to_hex())))
}

fn suite_name(s: SuiteId) -> &'static str {
    match s {
        SuiteId::MlDsa65 => "ml-dsa-65",
        SuiteId::SlhDsaSha2_128f => "slh-dsa-sha2-128f",
    }
}

/// `dsm init`.
/// Creates the wallet home (if missing) readable by its owner only (0700 on Unix).
pub(crate) fn private_home(ctx: &Ctx) -> Res<()> {
    std::fs::create_dir_all(&ctx.home).map_err(|e| {
        CliError::new(
            exit::WALLET,
            format!("cannot create {}: {e}", ctx.home.display()),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ctx.home, std::fs::Permissions::from_mode(0o700)).map_err(
            |e| {
                CliError::new(
                    exit::WALLET,
                    format!("cannot make {} private: {e}", ctx.home.display()),
                )
            },
        )?;
    }
    Ok(())
}

/// Creates the wallet file readable and writable by its owner only (0600 on Unix, set
/// before anything is written to it) and opens it as the wallet's store.
pub(crate) fn private_store(ctx: &Ctx) -> Res<RedbStore> {
    let path = ctx.db();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path).map_err(|e| {
        CliError::new(
            exit::WALLET,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    Ok(RedbStore::open(&path).map_err(WalletError::from)?)
}

/// Warns (on stderr) about a passphrase an attacker holding the wallet file could guess:
/// it is all that protects the signing key at rest.
pub(crate) fn warn_if_weak(pass: &[u8]) {
    let classes = [
        pass.iter().any(u8::is_ascii_lowercase),
        pass.iter().any(u8::is_ascii_uppercase),
        pass.iter().any(u8::is_ascii_digit),
        pass.iter().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if pass.len() < 12 || (pass.len() < 20 && classes < 3) {
        tracing::warn!(
            "this passphrase is weak: whoever copies the wallet file can try guesses \
             offline. Prefer 12 or more characters mixing letters, digits and symbols, or \
             five random words."
        );
    }
}

pub fn init(
    ctx: &Ctx,
    suite: SuiteId,
    name: Option<String>,
    faucet: Option<String>,
    token_label: &str,
    nodes: &[String],
    with_phrase: bool,
) -> Res {
    // Everything that can be refused is checked before anything is created: `init` is all
    // or nothing.
    let faucet = faucet.map(|f| parse_amount(&f)).transpose()?;
    if let Some(n) = &name {
        dsm_wallet::validate_name(n)?;
    }
    let nodes = nodes
        .iter()
        .map(|u| crate::online_cmd::check_url(u))
        .collect::<Res<Vec<String>>>()?;
    let set = dsm_wallet::nodes::NodeSet::new(
        nodes.clone(),
        dsm_wallet::nodes::Replication::default(),
        crate::online_cmd::NODE_TIMEOUT,
    );
    let contributors = set.genesis_contributors();
    let contributors: Vec<&dyn dsm_wallet::wallet::EntropyContributor> = contributors
        .iter()
        .map(|c| c as &dyn dsm_wallet::wallet::EntropyContributor)
        .collect();
    // An empty file is what an interrupted `init` leaves (nothing was written to it yet).
    if std::fs::metadata(ctx.db()).is_ok_and(|m| m.len() == 0) {
        std::fs::remove_file(ctx.db())?;
    }
    if ctx.db().exists() {
        return Err(CliError::new(
            exit::WALLET,
            format!(
                "a wallet already exists in {}; use another --home to create a second one",
                ctx.home.display()
            ),
        ));
    }
    private_home(ctx)?;
    let pass = ctx.passphrase(true)?;
    if pass.is_empty() {
        return Err(CliError::new(
            exit::WALLET,
            "the passphrase is empty; choose one (it encrypts the signing key at rest)",
        ));
    }
    warn_if_weak(&pass);
    let phrase = if with_phrase {
        Some(crate::recovery_cmd::new_phrase()?)
    } else {
        None
    };
    let store = private_store(ctx)?;
    if !contributors.is_empty() {
        tracing::info!(
            "genesis: gathering entropy from {} storage node(s)…",
            contributors.len()
        );
    }
    let created = match &phrase {
        Some((_, keys)) => Wallet::create_with_recovery(
            Box::new(store),
            suite,
            &pass,
            KdfParams::default(),
            &contributors,
            keys,
        ),
        None => Wallet::create_with_contributors(
            Box::new(store),
            suite,
            &pass,
            KdfParams::default(),
            &contributors,
        ),
    };
    let mut w = match created {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(ctx.db());
            if let WalletError::Genesis(_) = e {
                return Err(CliError::new(
                    exit::FAILURE,
                    format!("{e}; nothing was created. Check the node answers (`curl URL/health`), or leave it out"),
                ));
            }
            return Err(e.into());
        }
    };
    let name = name.unwrap_or_else(|| format!("dsm-{}", &w.device_id().digest().to_hex()[..8]));
    let finish = |w: &mut Wallet| -> Result<(), WalletError> {
        w.set_name(&name)?;
        if !nodes.is_empty() {
            w.set_nodes(set.nodes())?;
        }
        if let Some(amount) = faucet {
            w.dev_faucet(token_label, amount)?;
        }
        Ok(())
    };
    if let Err(e) = finish(&mut w) {
        // The recovery phrase was not shown yet: a wallet left now could never be restored.
        drop(w);
        let _ = std::fs::remove_file(ctx.db());
        return Err(CliError::new(
            exit::WALLET,
            format!("{e}; nothing was created"),
        ));
    }
    ctx.save_summary(&w);
    let devid = w.device_id().digest().to_hex();
    let card = w.card(&name)?;
    let words: Option<Vec<&str>> = phrase.as_ref().map(|(m, _)| m.words());
    ctx.print(
        |o| {
            writeln!(o, "created wallet {name} in {}", ctx.home.display())?;
            writeln!(o, "  device  {devid}")?;
            writeln!(o, "  suite   {}", suite_name(suite))?;
            writeln!(o, "  key     sealed with your passphrase (Argon2id + XChaCha20-Poly1305)")?;
            if !nodes.is_empty() {
                writeln!(o, "  genesis entropy from this device and {} storage node(s), now in the node registry", nodes.len())?;
            }
            if let Some(a) = faucet {
                writeln!(o, "  balance {a} {token_label}  ← NON-PRODUCTION dev-faucet allocation, recorded on the chain as such")?;
            }
            match &words {
                Some(words) => {
                    writeln!(o, "RECOVERY PHRASE — write these 24 words down on paper now; they are shown only once:")?;
                    for (i, chunk) in words.chunks(6).enumerate() {
                        let line: Vec<String> = chunk.iter().enumerate().map(|(j, w)| format!("{:>2}. {w:<9}", i * 6 + j + 1)).collect();
                        writeln!(o, "  {}", line.join(" ").trim_end())?;
                    }
                    writeln!(o, "  whoever has them can restore this identity (`dsm recover`) and replace this device;")?;
                    writeln!(o, "  the device never stores them. Its backup capsules go to the storage nodes at each `dsm sync`.")?;
                }
                None => writeln!(o, "  no recovery phrase (--no-recovery-phrase): nothing is backed up")?,
            }
            writeln!(o, "share this contact card with the devices you will trade with:")?;
            writeln!(o, "  {card}")
        },
        json!({"name": name, "device": devid, "suite": suite_name(suite), "card": card, "dev_faucet": faucet.map(|a| a.0.to_string()), "genesis_nodes": nodes, "recovery_phrase": words.as_ref().map(|w| w.join(" "))}),
    )
}

/// `dsm card [--qr] [--png FILE]`.
pub fn card(ctx: &Ctx, qr: bool, png: Option<&Path>) -> Res {
    let v = ctx.view()?;
    let name = v.name.clone().unwrap_or_else(|| "me".into());
    let card = v.card.clone();
    if let Some(path) = png {
        crate::token_cmd::writable(ctx, path)?;
        let image = dsm_qr::render_png(card.as_bytes(), 8)
            .map_err(|e| CliError::new(exit::FAILURE, format!("cannot draw the QR code: {e}")))?;
        crate::token_cmd::write_file(ctx, path, &image)?;
    }
    ctx.print(
        |o| {
            writeln!(o, "{card}")?;
            if qr {
                write!(o, "{}", dsm_qr::render_terminal(card.as_bytes()))?;
            }
            if let Some(p) = png {
                writeln!(o, "QR code written to {}", p.display())?;
            }
            Ok(())
        },
        json!({"card": card, "name": name, "device": v.device, "png": png}),
    )
}

/// `dsm contact add CARD | --qr-image FILE [--name N] [--replace]`.
pub fn contact_add(
    ctx: &Ctx,
    card: Option<&str>,
    qr_image: Option<&Path>,
    name: Option<String>,
    replace: bool,
) -> Res {
    let text = match (card, qr_image) {
        (Some(c), _) => c.to_string(),
        (None, Some(path)) => {
            // A photo of a card is small; a huge file is refused before it is read.
            const MAX_IMAGE_FILE: u64 = 32 * 1024 * 1024;
            let len = std::fs::metadata(path)
                .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?
                .len();
            if len > MAX_IMAGE_FILE {
                return Err(input(format!(
                    "{} is {len} bytes; a card's QR image is at most 32 MiB",
                    path.display()
                )));
            }
            let image = std::fs::read(path)
                .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?;
            card_in_image(&image).ok_or_else(|| {
                input(format!(
                    "no contact card found in {}: it holds no readable QR code, or its code is not a card",
                    path.display()
                ))
            })?
        }
        (None, None) => return Err(input("give the card, or --qr-image FILE")),
    };
    let mut w = ctx.open()?;
    let added = add_card(&mut w, &text, name, replace)?;
    ctx.print(
        |o| writeln!(o, "{} (device {}; identity document: {})", added.what, short(&added.contact.device), added.document),
        json!({"name": added.contact.name, "device": added.contact.device, "change": added.what, "legacy_card": added.legacy, "document": added.document}),
    )
}

/// The first contact card among the QR codes of a PNG image (decoded within
/// `dsm_qr`'s pixel limits; a file too large is the caller's to refuse before reading).
pub(crate) fn card_in_image(png: &[u8]) -> Option<String> {
    dsm_qr::decode_png(png)
        .into_iter()
        .filter_map(|b| String::from_utf8(b).ok())
        .find(|t| Contact::from_card(t).is_ok())
}

/// What [`add_card`] did.
pub(crate) struct AddedCard {
    /// The contact as stored.
    pub contact: Contact,
    /// What changed, for people.
    pub what: String,
    /// The identity document: "checked", "fetched at the next sync" or "none".
    pub document: &'static str,
    /// The card is in the old form, without check digits.
    pub legacy: bool,
}

/// Adds the contact card `text` to an open wallet (named `name` if given): the card is
/// parsed and checked, and its identity document, when the nodes serve it, is checked
/// before the card is taken. Used by `dsm contact add` and `dsm ui`.
pub(crate) fn add_card(
    w: &mut Wallet,
    text: &str,
    name: Option<String>,
    replace: bool,
) -> Res<AddedCard> {
    let (mut contact, legacy) = Contact::from_card(text)?;
    let (card, _) =
        dsm_protocol::card::ContactCard::parse(text).map_err(|e| input(e.to_string()))?;
    if legacy {
        tracing::warn!(
            "this card is in the old form, without check digits: make sure it was copied exactly"
        );
    } else if card.document.is_none() {
        tracing::warn!(
            "this card is of form v1, without the device's identity document: ask for a new card (`dsm card` on that device) to pay it privately online later"
        );
    }
    if let Some(n) = name {
        contact.name = n;
    }
    // The identity document the card names, checked before the card is taken when the
    // nodes serve it: a card whose document is forged is refused.
    let mut document = None;
    if let (Some(address), false) = (card.document, w.nodes()?.is_empty()) {
        let nodes = crate::online_cmd::node_set(w)?;
        if let Ok((sealed, _)) = nodes.get_object(&address) {
            dsm_protocol::card::ContactDocument::open(&card, &sealed)
                .map_err(|e| input(format!("not added: {e}")))?;
            document = Some(sealed);
        }
    }
    let change = w.add_contact(&contact, replace)?;
    w.expect_contact_document(&card)?;
    let checked = match &document {
        Some(sealed) => {
            w.accept_contact_document(&card, sealed)?;
            "checked"
        }
        None if card.document.is_some() => "fetched at the next sync",
        None => "none",
    };
    let what = match &change {
        dsm_wallet::ContactChange::Added => format!("added contact {}", contact.name),
        dsm_wallet::ContactChange::Unchanged => {
            format!(
                "{} is already a contact with this device; nothing changed",
                contact.name
            )
        }
        dsm_wallet::ContactChange::Replaced {
            old_device,
            old_name,
        } => {
            let mut parts = Vec::new();
            if let Some(d) = old_device {
                parts.push(format!(
                    "{} pointed at device {} before",
                    contact.name,
                    short(d)
                ));
            }
            if let Some(n) = old_name {
                parts.push(format!("the device was called {n} before"));
            }
            format!("replaced contact {} ({})", contact.name, parts.join("; "))
        }
    };
    Ok(AddedCard {
        contact,
        what,
        document: checked,
        legacy,
    })
}

/// `dsm contact remove NAME`.
pub fn contact_remove(ctx: &Ctx, name: &str) -> Res {
    let mut w = ctx.open()?;
    let c = find_named(&w, name)?;
    w.remove_contact(&c.name)?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "removed contact {} (device {}); its receipts stay in `dsm history`",
                c.name,
                short(&c.device)
            )
        },
        json!({"removed": c.name, "device": c.device}),
    )
}

/// `dsm contact rename OLD NEW`.
pub fn contact_rename(ctx: &Ctx, old: &str, new: &str) -> Res {
    let mut w = ctx.open()?;
    let c = find_named(&w, old)?;
    w.rename_contact(&c.name, new)?;
    ctx.print(
        |o| writeln!(o, "renamed contact {} to {new}", c.name),
        json!({"old": c.name, "new": new, "device": c.device}),
    )
}

/// The contact with exactly this name, or an error suggesting the nearest names.
fn find_named(w: &Wallet, name: &str) -> Res<Contact> {
    let all = w.contacts()?;
    if let Some(c) = all.iter().find(|c| c.name == name) {
        return Ok(c.clone());
    }
    let near = nearest_names(name, all.iter().map(|c| c.name.as_str()));
    Err(input(if near.is_empty() {
        format!("no contact named {name:?} (`dsm contact list`)")
    } else {
        format!(
            "no contact named {name:?}; did you mean {}?",
            near.join(" or ")
        )
    }))
}

/// `dsm contact list`.
pub fn contact_list(ctx: &Ctx) -> Res {
    let all = ctx.view()?.contacts;
    ctx.print(
        |o| {
            if all.is_empty() {
                return writeln!(o, "no contacts yet; add one with `dsm contact add <card>`");
            }
            writeln!(o, "{:<20} DEVICE", "NAME")?;
            for c in &all {
                writeln!(o, "{:<20} {}", c.name, c.device)?;
            }
            Ok(())
        },
        json!(all
            .iter()
            .map(|c| json!({"name": c.name, "device": c.device}))
            .collect::<Vec<_>>()),
    )
}

/// `dsm balance`.
pub fn balance(ctx: &Ctx) -> Res {
    let v = ctx.view()?;
    let rows: Vec<(TokenView, Amount, Amount, Option<String>)> = v
        .balances
        .iter()
        .map(|b| {
            (
                v.token(&b.token),
                b.amount,
                b.in_conflict,
                b.refresh_advice.clone(),
            )
        })
        .collect();
    let in_flight: Vec<(&str, TokenView, Amount)> = v
        .in_flight
        .iter()
        .map(|p| (p.peer.as_str(), v.token(&p.token), p.amount))
        .collect();
    let party_of = |hex: &str| json!({"peer": v.peer_name(hex), "peer_id": hex});
    ctx.print(
        |o| {
            if rows.is_empty() {
                writeln!(o, "no balance yet")?;
            }
            for (t, a, c, advice) in &rows {
                let unknown = if t.is_unknown() {
                    " (base units: this wallet holds no policy for it)"
                } else {
                    ""
                };
                writeln!(o, "{:>24} {}{unknown}", t.amount_text(*a), t.label)?;
                if *c > Amount::ZERO {
                    writeln!(o, "{:>24} {} of it descends from a parcel spent twice: wallets holding the proof refuse it, so it is never used to pay (`dsm evidence`)", t.amount_text(*c), t.label)?;
                }
                if let Some(why) = advice {
                    writeln!(o, "{:>24} {why}", "")?;
                }
            }
            for (peer, t, a) in &in_flight {
                writeln!(o, "{:>24} {} in flight to {} (debited; completes at your next session with them)", t.amount_text(*a), t.label, v.peer_name(peer))?;
            }
            Ok(())
        },
        json!({
            "balances": rows.iter().map(|(t, a, c, advice)| with(money(t, *a), &[json!({"in_conflict": c.0.to_string(), "policy_known": t.decimals.is_some(), "refresh_advice": advice})])).collect::<Vec<_>>(),
            "in_flight": in_flight.iter().map(|(p, t, a)| with(money(t, *a), &[party_of(p)])).collect::<Vec<_>>(),
            "height": v.height,
        }),
    )
}

/// `dsm history`.
/// `dsm check`.
pub fn check(ctx: &Ctx, repair: bool) -> Res {
    let w = if repair {
        ctx.open_as(false)?
    } else {
        ctx.open_read_only()?
    };
    let c = w.check()?;
    ctx.print(
        |o| {
            writeln!(
                o,
                "checked: head, tips and held parcels; {} objects, {} receipts, {} evidence",
                c.objects, c.receipts, c.evidence
            )?;
            for p in &c.problems {
                writeln!(o, "  FAILED: {p}")?;
            }
            if c.problems.is_empty() {
                writeln!(o, "the wallet file is sound")?;
            }
            Ok(())
        },
        json!({
            "objects": c.objects,
            "receipts": c.receipts,
            "evidence": c.evidence,
            "problems": c.problems,
        }),
    )?;
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            exit::WALLET,
            format!(
                "{} problem(s) in the wallet file; restore it from a backup, or recover this identity with its phrase (`dsm init --restore`)",
                c.problems.len()
            ),
        ))
    }
}

/// A history line's kind as `dsm history` and `dsm ui` show it.
pub(crate) fn entry_word(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Sent => "sent",
        EntryKind::Received => "received",
        EntryKind::DevFaucet => "dev-faucet",
        EntryKind::Refused => "refused",
        EntryKind::Released => "released",
        EntryKind::Allocated => "allocated",
        EntryKind::Minted => "minted",
        EntryKind::Emission => "emission",
        EntryKind::Burned => "burned",
        EntryKind::VaultLocked => "vault-lock",
        EntryKind::VaultClaimed => "vault-claim",
        EntryKind::VaultRefunded => "vault-refund",
        EntryKind::WithdrawalRequested => "withdraw",
        EntryKind::WithdrawalRefunded => "withdraw-back",
        EntryKind::Succession => "succession",
        EntryKind::Reclaimed => "reclaimed",
    }
}

pub fn history(ctx: &Ctx) -> Res {
    let v = ctx.view()?;
    let entries = &v.history;
    let view = |t: &Option<TokenId>| t.map(|t| v.token(&t.digest().to_hex()));
    // The amount as the token's decimals show it (the stored line keeps base units).
    let amount = |e: &dsm_wallet::HistoryEntry| match (view(&e.token), e.amount) {
        (Some(t), Some(a)) => t.amount_text(a),
        (None, Some(a)) => a.0.to_string(),
        (_, None) => String::new(),
    };
    let tname = |t: &Option<TokenId>| view(t).map(|t| t.label).unwrap_or_else(|| "-".into());
    let pname = |d: &Option<DeviceId>| match d {
        Some(d) => v.peer_name(&d.digest().to_hex()),
        None => "-".into(),
    };
    ctx.print(
        |o| {
            if entries.is_empty() {
                return writeln!(o, "no history yet");
            }
            writeln!(
                o,
                "{:>6}  {:<17} {:<10} {:<22} {:>14} {:<8} {:<8} RECEIPT",
                "HEIGHT", "TIME (UTC)", "WHAT", "WITH", "AMOUNT", "TOKEN", "STATUS"
            )?;
            for e in entries {
                let what = entry_word(&e.kind);
                let sign = match e.kind {
                    EntryKind::Sent
                    | EntryKind::Burned
                    | EntryKind::VaultLocked
                    | EntryKind::WithdrawalRequested => "-",
                    EntryKind::Refused => "±0 of ",
                    EntryKind::Succession => "",
                    _ => "+",
                };
                writeln!(
                    o,
                    "{:>6}  {:<17} {:<10} {:<22} {:>14} {:<8} {:<8} {}",
                    e.height,
                    e.time
                        .map(|t| utc_text(t)[..16].replace('T', " "))
                        .unwrap_or_else(|| "-".into()),
                    what,
                    pname(&e.peer),
                    format!("{sign}{}", amount(e)),
                    tname(&e.token),
                    e.status,
                    e.receipt
                        .map(|r| short(&r.to_hex()).to_string())
                        .unwrap_or_else(|| "-".into())
                )?;
            }
            Ok(())
        },
        json!(entries
            .iter()
            .map(|e| {
                let mut line = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = line.as_object_mut() {
                    o.insert(
                        "token_id".into(),
                        json!(e.token.map(|t| t.digest().to_hex()).unwrap_or_default()),
                    );
                    o.insert("token".into(), json!(tname(&e.token)));
                    o.insert("amount_decimal".into(), json!(amount(e)));
                    o.insert("peer_id".into(), json!(e.peer.map(|d| d.digest().to_hex())));
                    o.insert(
                        "peer".into(),
                        json!(e.peer.as_ref().map(|_| pname(&e.peer))),
                    );
                    o.insert("time_utc".into(), json!(e.time.map(utc_text)));
                }
                line
            })
            .collect::<Vec<_>>()),
    )
}

/// `secs` since the Unix epoch as an ISO 8601 UTC time ("2026-12-03T12:30:05Z"): display
/// only, from the device's own clock.
pub(crate) fn utc_text(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `dsm receipt`: export one receipt to a file.
pub fn receipt(ctx: &Ctx, id: &str, out: Option<PathBuf>) -> Res {
    let w = ctx.open()?;
    let r = w.receipt(id)?.ok_or_else(|| {
        CliError::new(
            exit::INPUT,
            format!("no single receipt matches {id:?}; `dsm history` lists receipt ids"),
        )
    })?;
    let path = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.receipt",
            short(&r.proposal.proposal.commit().to_hex())
        ))
    });
    crate::token_cmd::write_file(ctx, &path, &r.to_bytes())?;
    ctx.print(
        |o| writeln!(o, "wrote {}", path.display()),
        json!({"path": path}),
    )
}

/// `dsm verify`: the acceptance predicate on a receipt file, from its bytes alone.
pub fn verify(ctx: &Ctx, file: &Path) -> Res {
    let meta = std::fs::metadata(file)
        .map_err(|e| CliError::new(exit::INPUT, format!("cannot read {}: {e}", file.display())))?;
    if meta.len() > MAX_RECEIPT_LEN as u64 {
        return Err(CliError::new(
            exit::INVALID,
            format!(
                "REFUSED: {} is {} bytes, over the {MAX_RECEIPT_LEN}-byte receipt cap",
                file.display(),
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(file)?;
    let v = verify_receipt_bytes(&bytes, &EmptyView).map_err(|e| {
        CliError::new(
            exit::INVALID,
            format!("REFUSED: {} is not a valid receipt: {e}", file.display()),
        )
    })?;
    let r: &Receipt = v.receipt();
    let p = &r.proposal.proposal;
    let a = &r.acceptance.acceptance;
    ctx.print(
        |o| {
            writeln!(o, "VALID receipt {}", short(&p.commit().to_hex()))?;
            writeln!(o, "  {} of token {} from device {} (height {} → {})", p.step.amount, short(&p.step.token.digest().to_hex()), short(&p.step.sender.digest().to_hex()), p.sender_parent_head.height, p.sender_child_head.height)?;
            writeln!(o, "  to device {} (height {} → {})", short(&p.step.receiver.digest().to_hex()), a.receiver_parent_head.height, a.receiver_child_head.height)?;
            writeln!(o, "  both signatures, both tree proofs and the balance arithmetic check out")?;
            writeln!(o, "  (final between the two parties; settlement against double spends needs anchoring or the sender's chain)")
        },
        json!({"valid": true, "id": p.commit().to_hex(), "sender": p.step.sender.digest().to_hex(), "receiver": p.step.receiver.digest().to_hex(), "token": p.step.token.digest().to_hex(), "amount": p.step.amount.0.to_string()}),
    )
}

/// `dsm evidence`: list, export or import equivocation proofs.
pub fn evidence(ctx: &Ctx, export: Option<PathBuf>, import: Option<PathBuf>) -> Res {
    let mut w = ctx.open()?;
    if let Some(f) = import {
        let bytes = std::fs::read(&f)
            .map_err(|e| CliError::new(exit::INPUT, format!("cannot read {}: {e}", f.display())))?;
        let what = w.import_evidence(&bytes).map_err(|e| {
            CliError::new(
                exit::INVALID,
                format!("REFUSED: {} is not valid evidence: {e}", f.display()),
            )
        })?;
        let d = what.device().digest().to_hex();
        return ctx.print(
            |o| {
                writeln!(
                    o,
                    "imported: device {} equivocated; it is refused from now on",
                    short(&d)
                )
            },
            json!({"imported": d}),
        );
    }
    let proofs = w.evidence()?;
    let mut rows = Vec::new();
    for p in &proofs {
        let what = p.verify().map_err(|e| {
            CliError::new(
                exit::WALLET,
                format!("stored evidence no longer verifies: {e}"),
            )
        })?;
        let kind = match what {
            Equivocation::HeadFork { .. } => "signed two successors of one head",
            Equivocation::TipFork { .. } => "consumed one relationship tip twice",
            Equivocation::AcceptedAndRefused { .. } => "both accepted and refused one transfer",
            Equivocation::ParcelFork { .. } => "spent one parcel twice",
        };
        let d = what.device().digest().to_hex();
        let mut path = None;
        if let Some(dir) = &export {
            std::fs::create_dir_all(dir)?;
            // One file per proof: a device may have spent several parcels twice.
            let name = match what {
                Equivocation::ParcelFork { parcel, .. } => {
                    format!("{}-{}", short(&d), short(&parcel.0.to_hex()))
                }
                _ => short(&d).to_string(),
            };
            let f = dir.join(format!("{name}.evidence"));
            std::fs::write(&f, p.to_bytes())?;
            path = Some(f);
        }
        rows.push((d, kind, path));
    }
    ctx.print(
        |o| {
            if rows.is_empty() {
                return writeln!(o, "no equivocation evidence held");
            }
            for (d, kind, path) in &rows {
                write!(
                    o,
                    "device {} ({}) {kind}",
                    short(d),
                    peer_name(
                        &w,
                        &DeviceId(
                            dsm_core::hash::Digest::from_hex(d)
                                .unwrap_or(dsm_core::hash::Digest::ZERO)
                        )
                    )
                )?;
                match path {
                    Some(p) => writeln!(o, " → {}", p.display())?,
                    None => writeln!(o)?,
                }
            }
            Ok(())
        },
        json!(rows
            .iter()
            .map(|(d, k, p)| json!({"device": d, "what": k, "file": p}))
            .collect::<Vec<_>>()),
    )
}

/// Where a session runs.
pub enum Via {
    /// TCP to / on this address.
    Tcp(String),
    /// A shared directory.
    Dir(PathBuf),
    /// Frames on stdin / stdout (pipe through ssh, socat, a serial line…).
    Stdio,
    /// Animated QR codes: PNG frames in a directory.
    Qr {
        /// The shared directory of frames.
        dir: PathBuf,
        /// Also draw the frames in the terminal.
        terminal: bool,
    },
    /// BLE-style chunked link over TCP packets.
    BleSim {
        /// Address to dial or listen on.
        addr: String,
        /// Packet size.
        mtu: usize,
    },
    /// NFC-style APDU turns over TCP packets.
    NfcSim {
        /// Address to dial or listen on.
        addr: String,
    },
    /// A serial device in raw mode.
    Serial {
        /// The device path.
        device: PathBuf,
        /// Line speed to set, if any.
        baud: Option<u32>,
    },
}

/// The packet size NFC-style APDU links need on their TCP carrier: a whole command APDU.
const APDU_CARRIER_MTU: usize = dsm_transport::apdu::APDU_MTU + 6;

fn resolve(addr: &str) -> Res<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            CliError::new(
                exit::INPUT,
                format!("{addr:?} is not an address (HOST:PORT)"),
            )
        })
}

fn link_error(what: String) -> impl Fn(dsm_transport::TransportError) -> CliError {
    move |e| CliError::new(exit::INCOMPLETE, format!("{what}: {e}"))
}

fn qr_options(terminal: bool) -> dsm_qr::QrOptions {
    dsm_qr::QrOptions {
        terminal,
        ..Default::default()
    }
}

fn stdio_link(timeout: Duration) -> Box<dyn Link> {
    Box::new(dsm_transport::StreamLink::new(
        std::io::stdin(),
        std::io::stdout(),
        timeout,
    ))
}

pub(crate) fn describe(w: &Wallet, c: &Completed) -> (String, serde_json::Value) {
    let p = &c.receipt.proposal.proposal;
    let id = p.commit().to_hex();
    let t = token_view(w, &p.step.token);
    let (verb, peer) = if c.outgoing {
        ("sent", &p.step.receiver)
    } else {
        ("received", &p.step.sender)
    };
    let prep = if c.outgoing { "to" } else { "from" };
    let resumed = if c.resumed {
        " (completing an earlier pending transfer)"
    } else {
        ""
    };
    let human = format!(
        "{verb} {} {prep} {} — final, receipt {}{resumed}",
        t.describe(p.step.amount),
        peer_name(w, peer),
        short(&id)
    );
    (
        human,
        with(
            json!({"direction": verb, "receipt": id, "resumed": c.resumed}),
            &[money(&t, p.step.amount), party(w, peer)],
        ),
    )
}

pub(crate) fn report(ctx: &Ctx, w: &Wallet, r: &Report) -> Res {
    report_transfers(ctx, w, &r.completed, &r.refused)
}

/// One line per completed or refused transfer.
pub(crate) fn report_transfers(
    ctx: &Ctx,
    w: &Wallet,
    completed: &[Completed],
    refused: &[Refused],
) -> Res {
    for c in completed {
        let (h, j) = describe(w, c);
        ctx.print(|o| writeln!(o, "{h}"), j)?;
    }
    for x in refused {
        let p = &x.proposal.proposal;
        let t = token_view(w, &p.step.token);
        let id = p.commit().to_hex();
        let (human, dir, peer) = if x.outgoing {
            (format!("{} refused your transfer of {} ({}; signed refusal); the amount is back in your balance", peer_name(w, &p.step.receiver), t.describe(p.step.amount), reason_text(x.refusal.refusal.reason)), "released", &p.step.receiver)
        } else {
            (
                format!(
                    "refused {} from {} ({}); signed refusal sent, nothing credited",
                    t.describe(p.step.amount),
                    peer_name(w, &p.step.sender),
                    reason_text(x.refusal.refusal.reason)
                ),
                "refused",
                &p.step.sender,
            )
        };
        let fields = with(
            json!({"direction": dir, "receipt": id, "reason": x.refusal.refusal.reason, "reason_text": reason_text(x.refusal.refusal.reason)}),
            &[money(&t, p.step.amount), party(w, peer)],
        );
        ctx.print(|o| writeln!(o, "{human}"), fields)?;
    }
    Ok(())
}

/// A signed refusal's reason, for people (an unknown code is shown as a number).
fn reason_text(code: u64) -> String {
    match RefusalReason::from_code(code) {
        Some(r) => r.describe().to_string(),
        None => format!("reason {code}"),
    }
}

pub(crate) fn incomplete(w: &Wallet, peer: &DeviceId, e: &RunError) -> CliError {
    let pending = w
        .pending()
        .unwrap_or_default()
        .iter()
        .any(|p| p.proposal.step.receiver == *peer);
    let tail = if pending {
        format!("\nyour transfer to {} is debited and in flight; it completes the next time the two devices connect (`dsm sync` or any `dsm send` to them)", peer_name(w, peer))
    } else {
        String::new()
    };
    CliError::new(
        exit::INCOMPLETE,
        format!("the session ended early: {e}{tail}"),
    )
}

pub(crate) fn dial(via: &Via, timeout: Duration) -> Res<Box<dyn Link>> {
    match via {
        Via::Tcp(addr) => {
            // A receiver started a moment ago may not listen yet: a refused connection is
            // tried again until the timeout (never a probe connection, which a `receive
            // --once` would take for its one session).
            let deadline = std::time::Instant::now() + timeout;
            let mut told = false;
            loop {
                match tcp_dial(addr.as_str(), timeout) {
                    Ok(link) => return Ok(Box::new(link)),
                    Err(dsm_transport::TransportError::Io(e))
                        if e.kind() == std::io::ErrorKind::ConnectionRefused
                            && std::time::Instant::now() + Duration::from_millis(200) < deadline =>
                    {
                        if !told {
                            tracing::info!("waiting for a receiver to listen at {addr}…");
                            told = true;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => {
                        return Err(CliError::new(
                            exit::INCOMPLETE,
                            format!("cannot reach {addr}: {e} (is `dsm receive --tcp {addr}` running there?)"),
                        ))
                    }
                }
            }
        }
        Via::Dir(d) => Ok(Box::new(DirLink::dial(d, timeout).map_err(|e| {
            CliError::new(exit::INCOMPLETE, format!("cannot use {}: {e}", d.display()))
        })?)),
        Via::Stdio => Ok(stdio_link(timeout)),
        Via::Qr { dir, terminal } => Ok(Box::new(
            dsm_qr::QrDirLink::dial(dir, timeout, qr_options(*terminal))
                .map_err(link_error(format!("cannot use {}", dir.display())))?,
        )),
        Via::BleSim { addr, mtu } => Ok(Box::new(
            ChunkedLink::dial(
                TcpPackets::dial(resolve(addr)?, *mtu),
                ChunkOptions::radio(timeout),
            )
            .map_err(link_error(format!("cannot reach {addr}")))?,
        )),
        Via::NfcSim { addr } => Ok(Box::new(
            ChunkedLink::dial(
                ApduReader::new(TcpPackets::dial(resolve(addr)?, APDU_CARRIER_MTU)),
                ChunkOptions::radio(timeout),
            )
            .map_err(link_error(format!("cannot reach {addr}")))?,
        )),
        Via::Serial { device, baud } => Ok(Box::new(
            dsm_transport::serial::serial_dial(device, *baud, ChunkOptions::radio(timeout))
                .map_err(link_error(format!("cannot use {}", device.display())))?,
        )),
    }
}

/// Accepts the next session on a link that is not TCP, a directory or stdio.
fn accept_other(
    via: &Via,
    timeout: Duration,
    listener: Option<&std::net::TcpListener>,
) -> Res<Box<dyn Link>> {
    let tcp = || -> Res<std::net::TcpListener> {
        listener
            .ok_or_else(|| CliError::new(exit::FAILURE, "no listener"))?
            .try_clone()
            .map_err(|e| CliError::new(exit::FAILURE, e.to_string()))
    };
    Ok(match via {
        Via::Qr { dir, terminal } => Box::new(
            dsm_qr::QrDirLink::accept(dir, timeout, qr_options(*terminal)).map_err(link_error(
                format!("no session arrived in {}", dir.display()),
            ))?,
        ),
        Via::BleSim { mtu, .. } => Box::new(
            ChunkedLink::accept(
                TcpPackets::accept(tcp()?, *mtu).map_err(link_error("listen".into()))?,
                ChunkOptions::radio(timeout),
            )
            .map_err(link_error("listen".into()))?,
        ),
        Via::NfcSim { .. } => Box::new(
            ChunkedLink::accept(
                ApduCard::new(
                    TcpPackets::accept(tcp()?, APDU_CARRIER_MTU)
                        .map_err(link_error("listen".into()))?,
                ),
                ChunkOptions::radio(timeout),
            )
            .map_err(link_error("listen".into()))?,
        ),
        Via::Serial { device, baud } => Box::new(
            dsm_transport::serial::serial_accept(device, *baud, ChunkOptions::radio(timeout))
                .map_err(link_error(format!("cannot use {}", device.display())))?,
        ),
        Via::Tcp(_) | Via::Dir(_) | Via::Stdio => {
            return Err(CliError::new(exit::FAILURE, "internal: not another link"))
        }
    })
}

/// The contact a command names (its name, or 8+ hex digits of its device id), or an
/// error that suggests the nearest names.
pub(crate) fn find_contact(w: &Wallet, to: &str) -> Res<Contact> {
    if let Some(c) = w.find_contact(to)? {
        return Ok(c);
    }
    let near = nearest_names(to, w.contacts()?.iter().map(|c| c.name.as_str()));
    let hint = if near.is_empty() {
        "add it with `dsm contact add <card>` (see `dsm contact list`)".to_string()
    } else {
        format!("did you mean {}?", near.join(" or "))
    };
    Err(input(format!("unknown contact {to:?}; {hint}")))
}

/// Names within a small edit distance of `query` (case ignored), nearest first.
pub(crate) fn nearest_names<'a>(query: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let q = query.to_lowercase();
    let mut scored: Vec<(usize, String)> = names
        .map(|n| (edit_distance(&q, &n.to_lowercase()), n.to_string()))
        .filter(|(d, n)| *d <= 2.max(n.chars().count() / 3))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// What a payment to `peer` of `text` units of the named token (or the one held) needs
/// before anything is signed: the amount read with the token's decimals, enough balance,
/// and a token whose policy allows this receiver.
pub(crate) fn outgoing(
    w: &Wallet,
    peer: &DeviceId,
    text: &str,
    token_name: Option<&str>,
) -> Res<(TokenView, Amount)> {
    let tok = choose_token(w, token_name)?;
    let a = parse_token_amount(&tok, text)?;
    let have = w.balance(&tok.id);
    if have < a {
        return Err(input(format!(
            "insufficient balance: you have {}, the transfer needs {}",
            tok.describe(have),
            tok.describe(a)
        )));
    }
    w.check_outgoing(&tok.id, peer)?;
    Ok((tok, a))
}

/// Asks on the terminal (stderr) whether to go on; `true` for a "y" or "yes".
pub(crate) fn ask_yes(question: &str) -> Res<bool> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Before a payment: every check `send` makes before it connects, then the payment shown.
/// With `dry_run` nothing more happens (`false`); otherwise the user confirms on the
/// terminal (`true` to go on).
pub fn confirm_payment(
    ctx: &Ctx,
    to: &str,
    amount: &str,
    token_name: Option<&str>,
    dry_run: bool,
) -> Res<bool> {
    let w = ctx.open_read_only()?;
    let contact = find_contact(&w, to)?;
    let peer = contact.device_id()?;
    let (view, a) = outgoing(&w, &peer, amount, token_name)?;
    let what = format!(
        "pay {} to {} (device {})",
        view.describe(a),
        contact.name,
        short(&contact.device)
    );
    if dry_run {
        ctx.print(
            |o| {
                writeln!(
                    o,
                    "dry run: would {what}; balance after: {}",
                    view.describe(Amount(w.balance(&view.id).0 - a.0))
                )
            },
            with(
                json!({"dry_run": true}),
                &[money(&view, a), party(&w, &peer)],
            ),
        )?;
        return Ok(false);
    }
    drop(w);
    if ask_yes(&format!("{what}?"))? {
        Ok(true)
    } else {
        Err(input("not confirmed; nothing was paid"))
    }
}

/// `dsm send` (and `dsm sync` with no amount).
pub fn send(
    ctx: &Ctx,
    to: &str,
    amount: Option<&str>,
    token_name: Option<&str>,
    via: &Via,
    timeout: Duration,
) -> Res {
    let mut w = ctx.open()?;
    let contact = find_contact(&w, to)?;
    let peer = contact.device_id()?;
    let mut transfers = Vec::new();
    let amount = match amount {
        Some(text) => {
            let (tok, a) = outgoing(&w, &peer, text, token_name)?;
            transfers.push((tok.id, a));
            Some(a)
        }
        None => None,
    };
    if !ctx.json && !ctx.report_to_stderr {
        tracing::info!("connecting to {}…", contact.name);
    }
    let mut link = dial(via, timeout)?;
    let mut session = Session::dialer(peer, transfers);
    let r = run(&mut session, &mut *w, link.as_mut());
    report(ctx, &w, &r)?;
    if !r.completed.is_empty() || !r.refused.is_empty() {
        crate::online_cmd::settle_after_session(ctx, &mut w)?;
    }
    // A session that ended cleanly without completing the new transfer ended it with the
    // peer's signed refusal.
    if amount.is_some()
        && r.error.is_none()
        && !r.completed.iter().any(|c| c.outgoing && !c.resumed)
    {
        return Err(CliError::new(
            exit::INCOMPLETE,
            format!("{} refused the transfer; nothing was paid", contact.name),
        ));
    }
    match &r.error {
        None => {
            if r.completed.is_empty() && r.refused.is_empty() {
                ctx.print(
                    |o| writeln!(o, "in sync with {}: nothing pending", contact.name),
                    json!({"in_sync": true}),
                )?;
            }
            Ok(())
        }
        Some(e) => Err(incomplete(&w, &peer, e)),
    }
}

/// After one received session: report it and its settlement, then decide whether
/// `receive` stops. `Ok(true)`: stop (one session was asked for); `Ok(false)`: wait for the
/// next; `Err`: stop with this error (the session ended early under `--once`, or a write
/// failed and the wallet signs nothing more).
fn after_received(ctx: &Ctx, w: &mut Wallet, r: Report, once: bool, from: &str) -> Res<bool> {
    report(ctx, w, &r)?;
    if !r.completed.is_empty() || !r.refused.is_empty() {
        crate::online_cmd::settle_after_session(ctx, w)?;
        // A long-running receiver holds the file: readers see this summary meanwhile.
        ctx.save_summary(w);
    }
    if w.is_poisoned() {
        return Err(CliError::new(exit::WALLET, "a write to the wallet failed; nothing more was signed. Check the disk and start `dsm receive` again"));
    }
    match (r.error, once) {
        (Some(e), true) => Err(CliError::new(
            exit::INCOMPLETE,
            format!("the session ended early: {e}"),
        )),
        (Some(e), false) => {
            tracing::warn!("session{from} ended early: {e}");
            Ok(false)
        }
        (None, once) => Ok(once),
    }
}

/// `dsm receive`'s limits, as typed.
pub struct ReceiveLimits<'a> {
    /// `--max-amount`: refuse (signed) any single transfer above it.
    pub max_amount: Option<&'a str>,
    /// `--max-unsettled`: per sender, or `none`.
    pub max_unsettled: &'a str,
    /// `--max-unsettled-total`: over all senders, or `none`.
    pub max_unsettled_total: &'a str,
}

impl ReceiveLimits<'_> {
    fn policy(&self) -> Res<ReceivePolicy> {
        let limit = |s: &str| -> Res<Option<Amount>> {
            if s.trim().eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                parse_amount(s).map(Some)
            }
        };
        Ok(ReceivePolicy {
            max_per_transfer: self.max_amount.map(parse_amount).transpose()?,
            max_unsettled_per_counterparty: limit(self.max_unsettled)?,
            max_unsettled_total: limit(self.max_unsettled_total)?,
        })
    }
}

/// `dsm receive`.
pub fn receive(
    ctx: &Ctx,
    via: &Via,
    once: bool,
    limits_tcp: dsm_transport::server::ServerLimits,
    limits: ReceiveLimits,
) -> Res {
    let timeout = limits_tcp.idle;
    let policy = limits.policy()?;
    let mut w = ctx.open()?;
    w.set_receive_policy(policy)?;
    match via {
        Via::Tcp(addr) => {
            // Connections are served side by side, each read on its own thread and ended at
            // its session limit, so no peer can hold the receiver; the listener waits on.
            let mut server = dsm_transport::server::TcpServer::bind(addr.as_str(), limits_tcp)
                .map_err(|e| {
                    CliError::new(exit::FAILURE, format!("cannot listen on {addr}: {e}"))
                })?;
            let local = server.local_addr();
            ctx.print(
                |o| {
                    writeln!(
                        o,
                        "listening on {local} as {}",
                        w.name().ok().flatten().unwrap_or_default()
                    )
                },
                json!({"listening": local.to_string()}),
            )?;
            // Ctrl-C or SIGTERM ends the loop and closes the wallet file cleanly (a killed
            // process leaves it needing the database's repair); a second one ends at once.
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone());
                let _ = signal_hook::flag::register(signal, stop.clone());
            }
            let mut outcome: Res<()> = Ok(());
            dsm_wallet::driver::serve_until(
                &mut server,
                &mut *w,
                &mut |w, r, from| match after_received(ctx, w, r, once, &format!(" from {from}")) {
                    Ok(stop) => stop,
                    Err(e) => {
                        outcome = Err(e);
                        true
                    }
                },
                &stop,
            );
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                tracing::info!("stopped; the wallet file is closed cleanly");
            }
            outcome
        }
        Via::Stdio => {
            let mut link = stdio_link(timeout);
            let r = run(&mut Session::listener(), &mut *w, link.as_mut());
            after_received(ctx, &mut w, r, true, "").map(drop)
        }
        Via::Qr { .. } | Via::BleSim { .. } | Via::NfcSim { .. } | Via::Serial { .. } => {
            // Radio-style links: the TCP carrier (ble-sim, nfc-sim) is bound once.
            let listener = match via {
                Via::BleSim { addr, .. } | Via::NfcSim { addr } => {
                    let l = std::net::TcpListener::bind(addr.as_str()).map_err(|e| {
                        CliError::new(exit::FAILURE, format!("cannot listen on {addr}: {e}"))
                    })?;
                    let local = l
                        .local_addr()
                        .map_err(|e| CliError::new(exit::FAILURE, e.to_string()))?;
                    ctx.print(
                        |o| writeln!(o, "listening on {local}"),
                        json!({"listening": local.to_string()}),
                    )?;
                    Some(l)
                }
                _ => {
                    ctx.print(
                        |o| writeln!(o, "waiting for a session"),
                        json!({"waiting": true}),
                    )?;
                    None
                }
            };
            loop {
                // A session that never starts is given up after `timeout`; the loop waits on.
                let mut link = match accept_other(via, timeout, listener.as_ref()) {
                    Ok(l) => l,
                    Err(e) if once => return Err(e),
                    Err(_) => continue,
                };
                let r = run(&mut Session::listener(), &mut *w, link.as_mut());
                drop(link);
                if r.completed.is_empty()
                    && r.refused.is_empty()
                    && !once
                    && matches!(
                        r.error,
                        Some(RunError::Transport(dsm_transport::TransportError::Timeout(
                            _
                        )))
                    )
                {
                    continue; // nobody came
                }
                if after_received(ctx, &mut w, r, once, "")? {
                    return Ok(());
                }
            }
        }
        Via::Dir(dir) => {
            ctx.print(
                |o| writeln!(o, "waiting for a session in {}", dir.display()),
                json!({"waiting": dir}),
            )?;
            loop {
                let mut link = DirLink::accept(
                    dir,
                    if once {
                        timeout
                    } else {
                        Duration::from_secs(u64::MAX / 4)
                    },
                )
                .map_err(|e| {
                    CliError::new(
                        exit::INCOMPLETE,
                        format!("no session arrived in {}: {e}", dir.display()),
                    )
                })?;
                let r = run(&mut Session::listener(), &mut *w, &mut link);
                if after_received(ctx, &mut w, r, once, "")? {
                    return Ok(());
                }
            }
        }
    }
}

/// `~` or `~/…` at the start of a path, as a shell would expand it: a quoted
/// `DSM_HOME='~/wallets/a'` reaches the program unexpanded.
pub fn expand_tilde(path: &Path) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    match path.strip_prefix("~") {
        Ok(rest) => match home() {
            Some(h) => h.join(rest),
            None => path.to_path_buf(),
        },
        Err(_) => path.to_path_buf(),
    }
}

/// The default wallet directory: `$DSM_HOME`, else `~/.dsm`.
pub fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".dsm")
}
