//! The `dsm` command.
#![forbid(unsafe_code)]

mod bench;
mod btc_cmd;
mod demo;
mod economy;
mod online_cmd;
mod recovery_cmd;
mod token_cmd;
mod ui;
mod vault_cmd;
mod wallet_cmd;
mod web_bench;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dsm_core::crypto::SuiteId;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

// The forgeable model-checking signature suite must never ship in the binary, whatever
// Cargo's feature unification does (it is enabled only in the separate `model/` workspace).
const _: () = assert!(
    !dsm_core::crypto::INSECURE_TEST_SUITE_ENABLED,
    "dsm-core's insecure-test-suite feature is on: the dsm binary must not be built with it"
);
use wallet_cmd::{exit, Ctx, Via};

const AFTER_HELP: &str = "\
Wallets: each wallet is a directory (--home DIR or DSM_HOME; default ~/.dsm) holding one
database file. The signing key is sealed with a passphrase, read from DSM_PASSPHRASE,
--passphrase-file, or asked for on the terminal. Several wallets can run on one machine.

Try it on one machine (value enters through a token policy: alice issues GOLD):
  export DSM_PASSPHRASE=demo
  dsm --home /tmp/alice init --name alice
  printf 'ticker = \"GOLD\"\\ncap = 1000000\\nissuers = [\"self\"]\\n' > gold.toml
  dsm --home /tmp/alice token create --policy gold.toml --out gold.dsmpolicy
  dsm --home /tmp/alice token mint GOLD 1000
  dsm --home /tmp/bob   init --name bob
  dsm --home /tmp/bob   token import gold.dsmpolicy
  dsm --home /tmp/alice contact add \"$(dsm --home /tmp/bob card)\"
  dsm --home /tmp/bob receive --tcp 127.0.0.1:7400 &
  dsm --home /tmp/alice send bob 250 --token GOLD --tcp 127.0.0.1:7400
(`init --dev-faucet N` instead gives NON-PRODUCTION DEV units, for quick experiments.)

Exit codes: 0 ok · 1 other failure · 2 bad command line · 3 wallet problem (none, exists,
wrong passphrase, in use, damaged) · 4 refused input (amount, contact, card, insufficient
balance) · 5 transfer incomplete (peer unreachable, refused or cut off; anything committed
is kept and a pending transfer completes at the next session) · 6 receipt or evidence
failed verification.";

/// DSM — post-quantum, offline-capable transfers of value between devices, without
/// global consensus.
#[derive(Parser)]
#[command(name = "dsm", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    /// The wallet directory.
    #[arg(long, global = true, env = "DSM_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print machine-readable JSON (one object per line) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Read the wallet passphrase from the first line of this file (else DSM_PASSPHRASE,
    /// else a terminal prompt).
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Overwrite a file the command writes (`--out`, `--request`) if it exists; without
    /// it, an existing file is refused before anything is done.
    #[arg(long, global = true)]
    force: bool,
    /// Fewer progress notes on stderr: -q keeps warnings and errors, -qq errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
    /// More detail on stderr: -v debug, -vv trace. RUST_LOG (e.g. `dsm_wallet=debug`)
    /// overrides both.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Subcommands that never open a wallet: their help leaves out the wallet flags.
const WALLETLESS: &[&[&str]] = &[
    &["node"],
    &["node", "serve"],
    &["verify"],
    &["bench"],
    &["bench", "economy"],
    &["demo"],
    &["completions"],
    &["man"],
];

/// The command line definition, with the wallet flags hidden where no wallet is opened.
fn cli_command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Global flags are copied into each subcommand when the command is built; hide them
    // there afterwards.
    cmd.build();
    for path in WALLETLESS {
        cmd = hide_wallet_flags(cmd, path);
    }
    cmd
}

fn hide_wallet_flags(cmd: clap::Command, path: &[&str]) -> clap::Command {
    match path.split_first() {
        // `mut_args` keeps the arguments in place: the built command indexes them by
        // position (`mut_arg` would move one to the end and break that index).
        None => cmd.mut_args(|a| {
            let wallet_flag = ["home", "passphrase_file", "force"].contains(&a.get_id().as_str());
            a.hide(wallet_flag)
        }),
        Some((first, rest)) => cmd.mut_subcommand(*first, |c| hide_wallet_flags(c, rest)),
    }
}

#[derive(Args)]
#[group(required = false, multiple = false)]
struct Transport {
    /// TCP: the address to dial (send) or listen on (receive), e.g. 127.0.0.1:7400. Port 0
    /// picks a free port (printed).
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// A shared directory (USB stick, synced folder): each message is a file. Both sides
    /// must run at the same time against the same directory.
    #[arg(long, value_name = "DIR")]
    file: Option<PathBuf>,
    /// Frames on stdin/stdout, for piping through ssh, socat or a serial line (reports go
    /// to stderr). `receive --stdio` handles one session.
    #[arg(long)]
    stdio: bool,
    /// Animated QR codes as PNG frames in this directory (the same as --via qr --at DIR):
    /// `send` writes its frames there and decodes the receiver's; `receive` decodes the
    /// sender's images (e.g. from a phone camera) and writes its own.
    #[arg(long, value_name = "DIR")]
    qr_dir: Option<PathBuf>,
    /// Through storage nodes (`dsm nodes add`): `send` anchors the transfer and posts it to
    /// the receiver's b0x, which the receiver collects with `dsm sync`.
    #[arg(long)]
    online: bool,
    /// Choose the link by kind, with --at saying where: tcp (ADDR), file (DIR), stdio,
    /// qr (DIR of PNG frames), ble-sim (ADDR: BLE-style small packets over TCP between two
    /// processes), nfc-sim (ADDR: ISO 7816 APDU command/response turns over TCP), serial
    /// (DEVICE, e.g. /dev/ttyUSB0; raw mode). The wallet code is the same for every link.
    #[arg(long, value_enum, value_name = "KIND")]
    via: Option<ViaKind>,
}

/// Link kinds for `--via`.
#[derive(Clone, Copy, ValueEnum)]
enum ViaKind {
    /// Framed TCP.
    Tcp,
    /// A shared directory, one file per message.
    File,
    /// Frames on stdin/stdout.
    Stdio,
    /// Animated QR codes: PNG frames in a directory (fountain-coded, any frame order).
    Qr,
    /// BLE-style: chunks of --mtu bytes with CRC, ACKs and retransmission, over TCP.
    BleSim,
    /// NFC-style: 255-byte APDUs in command/response turns, over TCP.
    NfcSim,
    /// A serial cable (raw tty), COBS packets with CRC, ACKs and retransmission.
    Serial,
}

/// Where and how a --via link runs.
#[derive(Args)]
struct LinkOpts {
    /// Where the --via link goes: an address (tcp, ble-sim, nfc-sim), a directory (file,
    /// qr) or a device (serial).
    #[arg(long, value_name = "WHERE")]
    at: Option<String>,
    /// Packet size for --via ble-sim (BLE ATT MTU; 32–517, default 185).
    #[arg(long, default_value_t = 185)]
    mtu: usize,
    /// Line speed for --via serial (default: leave the device's speed as it is).
    #[arg(long)]
    baud: Option<u32>,
    /// With --via qr / --qr-dir: also draw every frame in this terminal (Unicode blocks),
    /// for a camera pointed at the screen.
    #[arg(long, alias = "qr")]
    qr_terminal: bool,
}

impl Transport {
    /// What the flags chose.
    fn reach(self, link: LinkOpts) -> Result<Reach, wallet_cmd::CliError> {
        if let Some(kind) = self.via {
            let at = || {
                link.at.clone().ok_or_else(|| {
                    usage("--via needs --at: an address, a directory or a device (see --help)")
                })
            };
            let via = match kind {
                ViaKind::Tcp => Via::Tcp(at()?),
                ViaKind::File => Via::Dir(at()?.into()),
                ViaKind::Stdio => Via::Stdio,
                ViaKind::Qr => Via::Qr {
                    dir: at()?.into(),
                    terminal: link.qr_terminal,
                },
                ViaKind::BleSim => {
                    if !(dsm_transport::chunked::MIN_MTU..=517).contains(&link.mtu) {
                        return Err(usage(
                            "--mtu must be between 32 and 517 (a BLE ATT MTU that leaves room for the 21-byte chunk header)",
                        ));
                    }
                    Via::BleSim {
                        addr: at()?,
                        mtu: link.mtu,
                    }
                }
                ViaKind::NfcSim => Via::NfcSim { addr: at()? },
                ViaKind::Serial => Via::Serial {
                    device: at()?.into(),
                    baud: link.baud,
                },
            };
            return Ok(Reach::Session(via));
        }
        if let Some(dir) = self.qr_dir {
            return Ok(Reach::Session(Via::Qr {
                dir,
                terminal: link.qr_terminal,
            }));
        }
        Ok(match (self.tcp, self.file, self.stdio, self.online) {
            (Some(a), ..) => Reach::Session(Via::Tcp(a)),
            (None, Some(d), ..) => Reach::Session(Via::Dir(d)),
            (None, None, true, _) => Reach::Session(Via::Stdio),
            (None, None, false, true) => Reach::Online,
            _ => Reach::Unspecified,
        })
    }
}

/// How a command reaches the other device.
enum Reach {
    /// A bilateral session over this pipe.
    Session(Via),
    /// Through storage nodes.
    Online,
    /// No flag given.
    Unspecified,
}

fn usage(msg: &str) -> wallet_cmd::CliError {
    wallet_cmd::CliError {
        code: exit::USAGE,
        msg: msg.into(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a wallet: a fresh post-quantum key (sealed with your passphrase), a genesis,
    /// and the device's contact card.
    Init {
        /// Signature suite.
        #[arg(long, value_enum, default_value_t = Suite::MlDsa65)]
        suite: Suite,
        /// The name on this device's contact card.
        #[arg(long)]
        name: Option<String>,
        /// NON-PRODUCTION: start with this many units of --token from a dev faucet. The
        /// allocation is recorded on the device chain as a distinct dev-allocation
        /// transition; no real network accepts it as a source of value.
        #[arg(long, value_name = "AMOUNT")]
        dev_faucet: Option<String>,
        /// The token the dev faucet allocates.
        #[arg(long, default_value = "DEV")]
        token: String,
        /// A storage node that contributes genesis entropy by commit–reveal (repeat for
        /// several, at most 15) and joins this wallet's node registry. Without any, the
        /// device's own entropy alone makes the genesis. Every node must answer, or nothing
        /// is created.
        #[arg(long = "node", value_name = "URL")]
        nodes: Vec<String>,
        /// Create an identity without a recovery phrase: nothing is backed up, and a lost
        /// device means lost value. For throwaway test wallets.
        #[arg(long, conflicts_with = "restore")]
        no_recovery_phrase: bool,
        /// Restore an identity from its recovery phrase instead of creating one: the same
        /// as `dsm recover` (the --node URLs are where the backup is).
        #[arg(long)]
        restore: bool,
        /// With --restore: read the phrase from the first line of this file (else
        /// DSM_RECOVERY_PHRASE, else a hidden prompt).
        #[arg(long, value_name = "FILE", requires = "restore")]
        phrase_file: Option<PathBuf>,
        /// With --restore: allow replacing a device that was itself restored before.
        #[arg(long, requires = "restore")]
        replace_restored: bool,
        /// With --restore: do not ask for confirmation (needed when not run in a terminal).
        #[arg(long, requires = "restore")]
        yes: bool,
        /// With --restore: fetch and check the backup and show what would be restored;
        /// create and publish nothing.
        #[arg(long, requires = "restore")]
        dry_run: bool,
        #[command(flatten)]
        replication: ReplicationArgs,
    },
    /// Restore an identity from its 24-word recovery phrase onto this (new) device, after
    /// the old one was lost or stolen.
    ///
    /// Fetches the encrypted backup capsules from the storage nodes (a quorum must agree on
    /// each; stale or lying nodes are reported), creates this device with a fresh key and
    /// the recovered balances, publishes a tombstone for the lost device and a succession
    /// naming this one (both signed by the phrase's recovery authority), and tells every
    /// counterparty. Spending to a counterparty resumes once it acknowledges (`dsm sync`
    /// collects the answers; `dsm backup status` shows them). If anything stops it, run the
    /// same command again: it goes on and never publishes twice.
    Recover {
        /// A storage node holding the backup (repeat for each): every node of the lost
        /// wallet's registry, or at least N of them.
        #[arg(long = "node", value_name = "URL")]
        nodes: Vec<String>,
        #[command(flatten)]
        replication: ReplicationArgs,
        /// Read the phrase from the first line of this file (else DSM_RECOVERY_PHRASE, else
        /// a hidden prompt).
        #[arg(long, value_name = "FILE")]
        phrase_file: Option<PathBuf>,
        /// Signature suite of the new device.
        #[arg(long, value_enum, default_value_t = Suite::MlDsa65)]
        suite: Suite,
        /// Allow replacing a device that was itself restored by an earlier recovery (it was
        /// lost too). Without it, a second recovery refuses, so recovering twice by mistake
        /// cannot tombstone your new device.
        #[arg(long)]
        replace_restored: bool,
        /// The name on the new device's contact card (counterparties keep their own names
        /// for it).
        #[arg(long)]
        name: Option<String>,
        /// Do not ask for confirmation. Recovery permanently disables the old device, so
        /// it asks on a terminal, and needs --yes when not run in one.
        #[arg(long)]
        yes: bool,
        /// Fetch and check the backup and show what would be restored (the device to
        /// disable, balances, counterparties); create and publish nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// This device's recovery backup.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Print this device's contact card (give it to the devices you trade with).
    Card {
        /// Also draw the card as a QR code in the terminal, for a phone to scan.
        #[arg(long)]
        qr: bool,
        /// Also write the card as a QR code image (PNG) to FILE.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
    },
    /// Manage contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Pay a contact: propose, have it accepted, keep the receipt.
    Send {
        /// The contact's name (or device id prefix).
        contact: String,
        /// The amount, with the token's decimal places (e.g. 1.50 for a token with 2);
        /// more places than the token has are refused, never rounded.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The token: the ticker of a policy this wallet holds (`dsm token list`), a token
        /// id (or 8+ hex digits of one), or DEV, the non-production dev-faucet token.
        /// Needed unless this wallet holds exactly one token.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        transport: Transport,
        #[command(flatten)]
        link: LinkOpts,
        /// Give up when the peer is silent (or not listening yet) this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Do not ask for confirmation on a terminal.
        #[arg(long)]
        yes: bool,
        /// Check everything (contact, token, amount, balance, the token's rules) and show
        /// the payment; connect to nothing and sign nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Without a contact: sync with the storage nodes — learn published evidence, collect
    /// transfers and answers from this wallet's b0x, post pending transfers, anchor every
    /// transition and report it settled or not. With a contact and a transport: complete
    /// whatever is pending with that contact (a lost acceptance, a proposal it never got)
    /// without sending anything new.
    Sync {
        /// The contact's name (or device id prefix); omit to sync with the storage nodes.
        contact: Option<String>,
        #[command(flatten)]
        transport: Transport,
        #[command(flatten)]
        link: LinkOpts,
        /// Give up when the peer is silent this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Wait for devices to connect and accept their transfers.
    Receive {
        #[command(flatten)]
        transport: Transport,
        #[command(flatten)]
        link: LinkOpts,
        /// Handle one session and exit.
        #[arg(long)]
        once: bool,
        /// Drop a connected peer that is silent this many seconds (with --once and --file:
        /// also how long to wait for a session to appear).
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Over TCP: end any session still running this many seconds after its connection
        /// was accepted. Sessions run side by side, each connection read on its own, so a
        /// peer that trickles bytes holds only its own connection, and only this long.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        session_limit: u64,
        /// Over TCP: serve at most this many connections at once (one more is closed at
        /// once).
        #[arg(long, value_name = "N", default_value_t = 32)]
        max_connections: usize,
        /// Over TCP: serve at most this many connections at once from one address (an IPv4
        /// address or an IPv6 /64), so one client cannot hold them all.
        #[arg(long, value_name = "N", default_value_t = 4)]
        max_per_address: usize,
        /// Refuse any single transfer above this amount with a signed refusal (the sender
        /// gets the amount back at once).
        #[arg(long, value_name = "AMOUNT")]
        max_amount: Option<String>,
        /// Offline risk limit per sender: refuse (signed) a transfer that would make the
        /// value received from that device and not yet settled at the storage nodes exceed
        /// AMOUNT base units of its token. `dsm sync` settles received value and frees the
        /// limit. `none` disables it.
        #[arg(long, value_name = "AMOUNT|none", default_value = "1000000")]
        max_unsettled: String,
        /// Offline risk limit over all senders (per token): what this wallet can lose to
        /// double spends before it syncs. New identities are free, so this total, not the
        /// per-sender limit, is the real bound. `none` disables it.
        #[arg(long, value_name = "AMOUNT|none", default_value = "10000000")]
        max_unsettled_total: String,
    },
    /// Show balances (and amounts in flight).
    Balance,
    /// Check the whole wallet file, reading only: every record's check and the store root,
    /// the head, tips and held parcels (as every open does), every lineage object against
    /// its address, every receipt from its bytes alone, every piece of evidence. Exit 3 if
    /// anything fails, with what.
    Check {
        /// A file a killed dsm process left open needs the database's repair, which no
        /// reading command makes: make it (the one time `check` writes), then check.
        #[arg(long)]
        repair: bool,
    },
    /// Show every transition of this device, as a table.
    History,
    /// Export the receipt of a transfer to a file (ids are in `dsm history`).
    Receipt {
        /// Receipt id or a unique prefix of it.
        id: String,
        /// Output file (default: ID.receipt in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a receipt file from its bytes alone: canonical form, both signatures, tree
    /// proofs, balance arithmetic. Needs no wallet.
    Verify {
        /// The receipt file.
        file: PathBuf,
    },
    /// Serve a web wallet for this wallet home on loopback (balances, history with receipts
    /// verified in the page, contacts, send). The wallet is opened (passphrase asked here,
    /// in the terminal) and locked before the URL is printed, and stays locked until Ctrl-C:
    /// other dsm commands on this home say it is in use meanwhile. The printed link works
    /// once; it signs the browser in with a cookie for this port only.
    Ui {
        /// Loopback address and port to serve on (port 0: any free port; non-loopback
        /// addresses are refused).
        #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
        listen: String,
    },
    /// List equivocation proofs this wallet holds; export them or import one.
    Evidence {
        /// Write each proof to DIR/DEVICE.evidence.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// Verify a proof file and refuse its device from now on.
        #[arg(long, value_name = "FILE", conflicts_with = "export")]
        import: Option<PathBuf>,
    },
    /// Tokens: create one from a policy file, import, list, mint, burn, join emissions.
    #[command(subcommand)]
    Token(TokenCmd),
    /// DJTE emissions: sync each emission token's vault chain from the storage nodes,
    /// verify every step (join gate, winner selection, spent set, amounts), credit the
    /// emissions this device won, and print the history with proof sizes.
    Emissions {
        /// One token (ticker or id); default: every token with emissions.
        token: Option<String>,
        /// Also print step N's proof (canonical bytes, hex).
        #[arg(long, value_name = "N")]
        show: Option<u64>,
    },
    /// Vaults (DLV): lock value under release and refund conditions, claim or refund it.
    #[command(subcommand)]
    Vault(VaultCmd),
    /// dBTC: deposit bitcoin into an HTLC and mint, withdraw back to Bitcoin.
    #[command(subcommand)]
    Btc(BtcCmd),
    /// Storage node commands.
    #[command(subcommand)]
    Node(NodeCmd),
    /// The storage nodes this wallet uses (for `send --online`, `sync`, settlement).
    #[command(subcommand)]
    Nodes(NodesCmd),
    /// Run the benchmark suite and print one table per part: signatures, receipt
    /// verification, full transfers (core, wallet in memory, wallet with fsync), the sparse
    /// Merkle tree up to 10^6 leaves, per-transfer cost as devices hold 10 to 10^6
    /// relationships, parallel independent pairs, storage-node throughput, and DJTE emission
    /// proofs, vault locks and dBTC deposit proofs. Use a
    /// release build: `cargo run --release -p dsm-cli -- bench` (about 2 minutes).
    Bench {
        /// Shorter runs and smaller sizes (about 20 s; for a smoke check, not for figures).
        #[arg(long)]
        quick: bool,
        /// A single part instead of the whole suite.
        #[command(subcommand)]
        part: Option<BenchPart>,
    },
    /// Run a narrated end-to-end demo in a temporary directory: a token issued under a
    /// policy, wallets, transfers over TCP and through a shared directory, a lost message
    /// recovered, a cloned wallet's double spend caught by Tripwire, storage nodes, a vault
    /// claimed, ERA emissions, and a final balance table.
    Demo {
        /// Signature suite for every device.
        #[arg(long, value_enum, default_value_t = Suite::MlDsa65)]
        suite: Suite,
        /// Keep the wallets (NAME.redb, passphrase "demo passphrase") and the storage
        /// nodes' stores (nodeN.redb) in DIR, a new or empty directory, to inspect them
        /// afterwards.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g. `dsm completions bash >
    /// ~/.local/share/bash-completion/completions/dsm`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (dsm.1 and one per subcommand, e.g. dsm-send.1) into DIR.
    Man {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum NodeCmd {
    /// Run a storage node: an HTTP server that stores and serves bytes (objects, anchor
    /// slots, b0x inboxes, evidence) in an embedded database. It never signs anything and
    /// never judges protocol validity. Prints the address once it is ready.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:7600")]
        listen: String,
        /// Directory for the node's embedded database (created if missing).
        #[arg(long, default_value = "dsm-node-data", conflicts_with = "postgres")]
        data: PathBuf,
        /// Use this PostgreSQL database instead of the embedded store (for operators running
        /// several stateless node processes on one database), e.g.
        /// "host=127.0.0.1 user=dsm dbname=dsm". Tables are created on first start.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// Requests per second each client may make, sustained (a client is an IPv4
        /// address or an IPv6 /64). Over it, requests get 429 before their body is read.
        /// 0 disables the limit.
        #[arg(long, value_name = "N", default_value_t = dsm_node::ration::shipped::RATE)]
        rate: u32,
        /// Requests a client may make at once above --rate.
        #[arg(long, value_name = "N", default_value_t = dsm_node::ration::shipped::BURST)]
        burst: u32,
        /// Request body MiB each client may send per minute (what it can make the node
        /// store). 0 disables the limit.
        #[arg(long, value_name = "MIB", default_value_t = dsm_node::ration::shipped::WRITE_MIB_PER_MINUTE)]
        write_mib_per_minute: u64,
        /// Owned-slot MiB one slot owner (a device, a recovery authority, a token's issuers…)
        /// may be written per minute, from all clients together. 0 disables the limit.
        #[arg(long, value_name = "MIB", default_value_t = dsm_node::ration::shipped::OWNER_WRITE_MIB_PER_MINUTE)]
        owner_write_mib_per_minute: u64,
        /// A reverse proxy whose X-Forwarded-For names the client (its last entry).
        /// Repeat for several. Without it the header is ignored: anyone could write it.
        #[arg(long, value_name = "IP")]
        trusted_proxy: Vec<std::net::IpAddr>,
        /// The most disk the node's store may take, in MiB: past it, writes get 507 (507
        /// for keyless writes already at --max-store-mib minus --owned-headroom-mib). 0
        /// disables the budget.
        #[arg(long, value_name = "MIB", default_value_t = dsm_node::ration::shipped::MAX_STORE_MIB)]
        max_store_mib: u64,
        /// The part of --max-store-mib only owned-slot writes (signed by a key the slot's
        /// owner admits: anchors, parcels, resolutions…) may use, so a flood of keyless
        /// writes cannot stop honest settlement.
        #[arg(long, value_name = "MIB", default_value_t = dsm_node::ration::shipped::OWNED_HEADROOM_MIB)]
        owned_headroom_mib: u64,
        /// How much of --owned-headroom-mib one slot owner may take, in MiB; only owners
        /// the node already holds a slot of write there at all, so a flood of freshly made
        /// keys cannot take the headroom. 0: any owner, without limit.
        #[arg(long, value_name = "MIB", default_value_t = dsm_node::ration::shipped::OWNER_HEADROOM_MIB)]
        owner_headroom_mib: u64,
        /// Serve HTTPS with this PEM certificate chain (leaf first). The node then prints
        /// its URL with the key pin wallets check, https://ADDR#spki-sha256=HEX (SHA-256
        /// of the certificate's public key: renewing the certificate with the same key
        /// keeps the pin). A self-signed certificate is fine for pinned wallets.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS with a self-signed certificate made on first start and kept in
        /// --data (tls-cert.pem, and tls-key.pem readable by its owner only), so the key
        /// pin printed with the URL stays the same across restarts. Nothing to set up.
        #[arg(long, conflicts_with_all = ["tls_cert", "postgres"])]
        tls_self_signed: bool,
    },
}

#[derive(Subcommand)]
enum BackupCmd {
    /// The last capsule written, how many are at a quorum of storage nodes, which placed
    /// nodes hold the last one, and (on a recovered device) which counterparties have
    /// acknowledged it.
    Status,
    /// Write the whole wallet to FILE, encrypted under its recovery phrase (0600; an
    /// existing FILE is replaced only with --force). Keep it offline; any copy restores
    /// this identity with the phrase.
    Export {
        /// Where to write the backup.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Restore a backup file into an empty --home. By default as a NEW device that
    /// replaces the old one (like `dsm recover`, reading the file instead of the nodes'
    /// capsules): the old device is tombstoned at the storage nodes, so it cannot sign
    /// again. Asks for the recovery phrase, and a passphrase for the new device.
    Import {
        /// The backup file (`dsm backup export`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Restore the SAME device instead. It opens frozen: it signs nothing until W
        /// storage nodes show that nothing newer than the backup exists (no statement from
        /// its head, no later capsule, no tombstone). Unsynced offline transfers the old
        /// copy made after the export would become equivocation: use it only when that
        /// copy is gone. Asks for the phrase and the wallet's own passphrase.
        #[arg(long)]
        same_device: bool,
        /// Storage nodes to publish at or ask (repeat for each); default: the nodes the
        /// backup names.
        #[arg(long = "node", value_name = "URL")]
        nodes: Vec<String>,
        /// Read the phrase from the first line of this file (else DSM_RECOVERY_PHRASE, else
        /// a hidden prompt).
        #[arg(long, value_name = "FILE")]
        phrase_file: Option<PathBuf>,
        /// Signature suite of the new device.
        #[arg(long, value_enum, default_value_t = Suite::MlDsa65)]
        suite: Suite,
        /// The name on the new device's contact card.
        #[arg(long)]
        name: Option<String>,
        /// Do not ask for confirmation (a new device permanently disables the old one).
        #[arg(long)]
        yes: bool,
        /// Open and check the backup and show what would be restored; create and publish
        /// nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Let a wallet restored with `import --same-device` sign again, once W storage nodes
    /// show nothing newer than its backup.
    Unfreeze {
        /// Storage nodes to ask (repeat for each); default: the nodes the wallet names.
        #[arg(long = "node", value_name = "URL")]
        nodes: Vec<String>,
    },
}

/// The replication a lost wallet used at the nodes named with --node.
#[derive(clap::Args, Debug, Clone, Copy)]
struct ReplicationArgs {
    /// With --node: replicas per key the lost wallet used (`dsm nodes list` on it showed
    /// N, K and f). Default: what a backup file records, else 6.
    #[arg(long = "n", value_name = "N", requires = "k", requires = "f")]
    n: Option<usize>,
    /// With --node: identical answers needed to accept a read (default 3).
    #[arg(long = "k", value_name = "K", requires = "n")]
    k: Option<usize>,
    /// With --node: faulty nodes the anchor rule tolerates (default 1).
    #[arg(long = "f", value_name = "F", requires = "n")]
    f: Option<usize>,
}

impl ReplicationArgs {
    fn given(self) -> Option<dsm_wallet::nodes::Replication> {
        Some(dsm_wallet::nodes::Replication {
            n: self.n?,
            k: self.k?,
            f: self.f?,
        })
    }
}

#[derive(Subcommand)]
enum NodesCmd {
    /// Add storage nodes (base URLs as printed by `dsm node serve`, e.g.
    /// http://127.0.0.1:7600).
    Add {
        /// One or more node URLs.
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Remove a node from the registry.
    Remove {
        /// The node URL.
        url: String,
    },
    /// List the registry and the replication parameters.
    List,
    /// Set replication: each key lives on N nodes, reads need K identical answers, and an
    /// anchor settles at W = floor((N + f) / 2) + 1 so two writers can never both settle
    /// with f lying nodes. Defaults N = 6, K = 3, f = 1 (W = 4). Lower values are for test
    /// networks with few nodes.
    Replication {
        /// Replicas per key.
        #[arg(long, default_value_t = 6)]
        n: usize,
        /// Identical answers needed to accept a read.
        #[arg(long, default_value_t = 3)]
        k: usize,
        /// Faulty nodes the anchor rule tolerates.
        #[arg(long, default_value_t = 1)]
        f: usize,
    },
}

const POLICY_HELP: &str = "\
The policy file is TOML. A fungible token with this device as its only issuer:

  ticker = \"GOLD\"            # 2-8 capital letters
  decimals = 2
  kind = \"fungible\"          # fungible | nft (cap 1) | soulbound (never transferable)
  cap = 1000000               # hard cap on everything ever created
  issuers = [\"self\"]         # \"self\" or SUITE:HEX keys (`dsm token issuer-key`)
  threshold = 1               # signatures needed to mint (0 = nobody can mint)
  # refreshers = [\"self\"]     # who may re-issue parcels (`dsm token refresh`); default:
  # refresh_threshold = 1     #   the issuers. An authority that could inflate the token.
  burn = \"holder\"            # nobody | holder | issuers
  transfers = \"free\"         # free | allowlist
  # allowlist = [\"self\", \"bob\"]   # contacts or device ids; binds mints and receivers
  [[initial]]                 # claimed once by each listed device when it imports
  to = \"bob\"
  amount = 500

A token with join-triggered emissions adds [djte] (shard_bits, epoch0_emissions,
epoch0_amount) and [gate] (operators, k, fee_token, fee), and has no issuers. The
network's native token: `preset = \"era\"` plus a [gate] table and, optionally, the
network's refreshers (every other rule is fixed).
dBTC: `preset = \"dbtc\"` plus a [bitcoin] table (network, checkpoint_height,
checkpoint_header, d_min, keeper, keeper_dsm).";

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token from a TOML policy file: the policy (its hash is the token id) is
    /// stored in this wallet and written to a .dsmpolicy document for holders to import.
    #[command(after_help = POLICY_HELP)]
    Create {
        /// The TOML policy file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Where to write the policy document (default TICKER-ID.dsmpolicy here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also publish the document to this wallet's storage nodes, sealed under its address
        /// (printed): whoever is given the address imports it with --from-nodes; the nodes
        /// cannot read it.
        #[arg(long)]
        publish: bool,
    },
    /// Import a token policy (a .dsmpolicy document, or its address at the storage nodes);
    /// claims any initial allocation for this device. A wallet accepts only tokens whose
    /// policy it holds.
    Import {
        /// The policy document.
        file: Option<PathBuf>,
        /// Fetch the document from the storage nodes by its address.
        #[arg(long, value_name = "ADDR", conflicts_with = "file")]
        from_nodes: Option<String>,
    },
    /// List the tokens this wallet holds policies for, with balances and rules.
    List,
    /// Mint units of a token to this device (this device must be its issuer, threshold 1).
    Mint {
        /// Ticker or token id.
        token: String,
        /// The amount, with the token's decimal places (e.g. 1.50 with 2).
        amount: String,
    },
    /// Burn units of a token from this device (when its policy allows). Burned value is
    /// gone for good: on a terminal it asks first.
    Burn {
        /// Ticker or token id.
        token: String,
        /// The amount, with the token's decimal places.
        amount: String,
        /// Do not ask for confirmation on a terminal.
        #[arg(long)]
        yes: bool,
        /// Check and show the burn; sign nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Join a token's emissions (DJTE) through the storage nodes: proves the join gate with
    /// this wallet's payments to the storage operators, and pays one active device chosen
    /// uniformly at random from committed data. The step is proposed in the vault state's
    /// candidate list at the nodes; it counts once it is the first valid entry at W of them.
    Join {
        /// Ticker or token id (e.g. ERA).
        token: String,
    },
    /// Print this device's public key as a policy file's `issuers` entry.
    IssuerKey,
    /// Re-issue this wallet's parcels of a token as one fresh parcel, so the lineages its
    /// payments ship restart at 0 hops (PROTOCOL.md §17.6). The token's refreshers (by
    /// default its issuers) check the lineages and the parcel slots at the storage nodes
    /// and sign first; only then does this wallet sign the burn, so a refresher that
    /// declines costs nothing. Alone when this device is the one refresher needed;
    /// otherwise `--request FILE`, then `dsm token refresh-sign` at each refresher, then
    /// `--complete FILE --signature SIG…`.
    Refresh {
        /// Ticker or token id.
        token: String,
        /// Write the unsigned request for the refreshers to FILE (nothing is signed).
        #[arg(long, value_name = "FILE", conflicts_with = "complete")]
        request: Option<PathBuf>,
        /// Complete the request in FILE with the refreshers' signatures.
        #[arg(long, value_name = "FILE", requires = "signature")]
        complete: Option<PathBuf>,
        /// A refresher's signature file (repeat for each).
        #[arg(long, value_name = "SIG")]
        signature: Vec<PathBuf>,
    },
    /// As one of a token's refreshers: check a refresh request (every lineage, settled at
    /// the storage nodes, no burned parcel spent) and write this device's signature.
    RefreshSign {
        /// The request file (`dsm token refresh TOKEN --request FILE`).
        request: PathBuf,
        /// Where to write the signature (default refresh-HOLDER-N.dsmsig here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Lock value into a vault from a TOML vault file; writes a .dsmvault document for the
    /// beneficiary.
    #[command(after_help = vault_cmd::VAULT_HELP)]
    Create {
        /// The TOML vault file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Where to write the vault document (default vault-ID.dsmvault here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also publish the document to this wallet's storage nodes, sealed under its address
        /// (printed): whoever is given the address imports it with --from-nodes; the nodes
        /// cannot read it.
        #[arg(long)]
        publish: bool,
    },
    /// Import a vault (its .dsmvault document, or its address at the storage nodes).
    Import {
        /// The vault document.
        file: Option<PathBuf>,
        /// Fetch the document from the storage nodes by its address.
        #[arg(long, value_name = "ADDR", conflicts_with = "file")]
        from_nodes: Option<String>,
    },
    /// List this wallet's vaults and their status (checked at the storage nodes if any).
    List,
    /// Show one vault: amounts, parties, both conditions in full, status.
    Show {
        /// The vault id (8+ hex digits).
        id: String,
    },
    /// Claim a vault's release branch (as its beneficiary).
    Claim(ResolveArgs),
    /// Take a vault back through its refund branch (as its creator).
    Refund(ResolveArgs),
}

#[derive(Subcommand)]
enum BtcCmd {
    /// Print the HTLC address to pay and the OP_RETURN commitment naming this device.
    DepositInfo {
        /// The dBTC token (ticker or id).
        #[arg(long, default_value = "DBTC")]
        token: String,
        /// SHA-256 of the claim preimage (32 bytes hex; the keeper's).
        #[arg(long)]
        h_claim: String,
        /// SHA-256 of the refund preimage (32 bytes hex; withheld by the keeper).
        #[arg(long)]
        h_refund: String,
        /// The refund branch's compressed public key (33 bytes hex).
        #[arg(long)]
        refunder: String,
    },
    /// Mint dBTC from a deposit evidence file (see --help).
    #[command(after_help = btc_cmd::EVIDENCE_HELP)]
    Mint {
        /// The evidence file.
        file: PathBuf,
        /// The dBTC token.
        #[arg(long, default_value = "DBTC")]
        token: String,
    },
    /// Request a withdrawal: the amount goes in flight; writes the request for the keeper.
    Withdraw {
        /// Satoshis.
        amount: String,
        /// The Bitcoin output script to pay (hex).
        #[arg(long)]
        to_script: String,
        /// The dBTC token.
        #[arg(long, default_value = "DBTC")]
        token: String,
        /// Where to write the request (default withdrawal-ID.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Record the keeper's proven payment of a withdrawal (final; see --help for the file).
    #[command(after_help = btc_cmd::EVIDENCE_HELP)]
    Paid {
        /// The payment evidence file.
        file: PathBuf,
    },
    /// As the keeper, before paying on Bitcoin: check a withdrawal request file — its
    /// parcels trace back to deposits and its statement holds their slots at the storage
    /// nodes. Exits 0 ("safe to pay") only then; never pay a request this refuses.
    Check {
        /// The request file (`dsm btc withdraw` wrote it).
        file: PathBuf,
    },
    /// As the keeper: decline a withdrawal request file (never one you paid).
    Decline {
        /// The request file.
        file: PathBuf,
        /// Where to write the decline (default decline-ID.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Take a declined withdrawal back.
    Refund {
        /// The decline file.
        file: PathBuf,
        /// The dBTC token.
        #[arg(long, default_value = "DBTC")]
        token: String,
    },
    /// List this wallet's withdrawals.
    Withdrawals,
}

#[derive(Args)]
struct ResolveArgs {
    /// The vault id (8+ hex digits).
    id: String,
    /// A candidate hash preimage, as text (repeat for several).
    #[arg(long, value_name = "TEXT")]
    preimage: Vec<String>,
    /// A candidate hash preimage, as hex (repeat for several).
    #[arg(long, value_name = "HEX")]
    preimage_hex: Vec<String>,
    /// Allow computing iteration-budget conditions of up to N iterations.
    #[arg(long, value_name = "N")]
    work: Option<u64>,
}

#[derive(Subcommand)]
enum ContactCmd {
    /// Add a contact from its card (`dsm card` on the other device). A name that is
    /// already another device's, or a device already known by another name, is refused
    /// (with the difference shown) unless --replace is given.
    Add {
        /// The card: dsm-card:v2:NAME:DEVICE-ID:DOCUMENT:CHECK (the older
        /// dsm-card:v1:NAME:DEVICE-ID:CHECK and dsm-contact:DEVICE-ID:NAME are read too).
        /// With storage nodes, the device's identity document the card names is fetched and
        /// checked now (a forged one refuses the card), else at the next sync. Omit it with
        /// --qr-image.
        #[arg(required_unless_present = "qr_image")]
        card: Option<String>,
        /// Read the card from a QR code image (PNG), e.g. a photo of `dsm card --qr`.
        #[arg(long, value_name = "FILE", conflicts_with = "card")]
        qr_image: Option<PathBuf>,
        /// Store it under this name instead of the card's.
        #[arg(long)]
        name: Option<String>,
        /// Let the card take over a name that is another device's, or rename a known device.
        #[arg(long)]
        replace: bool,
    },
    /// List contacts.
    List,
    /// Remove a contact's name (receipts and the relationship stay).
    Remove {
        /// The contact's name.
        name: String,
    },
    /// Rename a contact.
    Rename {
        /// The contact's current name.
        old: String,
        /// The new name (1–64 letters, digits, '-', '_' or '.').
        new: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Suite {
    /// ML-DSA-65 (FIPS 204): fast, the default.
    #[value(name = "ml-dsa-65")]
    MlDsa65,
    /// SLH-DSA-SHA2-128f (FIPS 205): hash-based, conservative, slower.
    #[value(name = "slh-dsa-sha2-128f")]
    SlhDsa,
}

impl From<Suite> for SuiteId {
    fn from(s: Suite) -> SuiteId {
        match s {
            Suite::MlDsa65 => SuiteId::MlDsa65,
            Suite::SlhDsa => SuiteId::SlhDsaSha2_128f,
        }
    }
}

/// How `dsm node serve` speaks.
enum Tls {
    /// Plain HTTP.
    Off,
    /// HTTPS with this certificate chain and key (PEM files).
    Files(PathBuf, PathBuf),
    /// HTTPS with the node's own self-signed certificate, kept in its data directory.
    SelfSigned,
}

fn node_serve(
    listen: &str,
    data: &std::path::Path,
    postgres: Option<&str>,
    tls: Tls,
    limits: dsm_node::ration::RationLimits,
    budget: dsm_node::ration::StoreBudget,
) -> Result<(), wallet_cmd::CliError> {
    let fail = |msg: String| wallet_cmd::CliError {
        code: exit::FAILURE,
        msg,
    };
    // Bad certificate files are the operator's input: refused before anything starts.
    let files = match tls {
        Tls::Off => None,
        Tls::Files(cert, key) => Some((cert, key)),
        Tls::SelfSigned => {
            let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let names = vec!["localhost".to_string(), host.to_string()];
            Some(dsm_node::tls::self_signed(data, &names).map_err(fail)?)
        }
    };
    let tls = match &files {
        None => None,
        Some((cert, key)) => {
            let input = |msg: String| wallet_cmd::CliError {
                code: exit::INPUT,
                msg,
            };
            let config = dsm_node::tls::server_config(cert, key).map_err(input)?;
            let leaf = dsm_node::tls::leaf_certificate(cert).map_err(input)?;
            let pin = dsm_wallet::tls::SpkiPin::of_certificate(&leaf).ok_or_else(|| {
                input(format!(
                    "{}: the first certificate does not parse",
                    cert.display()
                ))
            })?;
            Some((config, pin))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| fail(format!("cannot listen on {listen}: {e}")))?;
    match postgres {
        Some(url) => {
            let store =
                dsm_node::pg::PostgresStore::connect(url, 4).map_err(|e| fail(e.to_string()))?;
            serve_node(
                &rt,
                listener,
                store,
                "PostgreSQL store",
                tls,
                limits,
                budget,
            )
        }
        None => {
            std::fs::create_dir_all(data)
                .map_err(|e| fail(format!("cannot create {}: {e}", data.display())))?;
            let store =
                dsm_node::store::EmbeddedStore::open(&data.join("node.redb")).map_err(|e| {
                    fail(format!(
                        "cannot open the node store in {}: {e} (is another node using it?)",
                        data.display()
                    ))
                })?;
            serve_node(
                &rt,
                listener,
                store,
                &format!("embedded store in {}", data.display()),
                tls,
                limits,
                budget,
            )
        }
    }
}

/// Announces the address (tests and scripts read this line) and serves until killed.
fn serve_node<S: dsm_node::store::NodeStore>(
    rt: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    store: S,
    what: &str,
    tls: Option<(dsm_node::tls::ServerConfig, dsm_wallet::tls::SpkiPin)>,
    limits: dsm_node::ration::RationLimits,
    budget: dsm_node::ration::StoreBudget,
) -> Result<(), wallet_cmd::CliError> {
    let fail = |msg: String| wallet_cmd::CliError {
        code: exit::FAILURE,
        msg,
    };
    let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
    match &tls {
        None => println!("dsm node listening on http://{addr} ({what})"),
        Some((_, pin)) => println!(
            "dsm node listening on https://{addr}#spki-sha256={} ({what}; give wallets this URL, with its key pin, or the host name the certificate names)",
            pin.to_hex()
        ),
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let node =
        dsm_node::api::Node::with_limits(store, dsm_node::store::Quotas::default(), limits, budget);
    let timeouts = dsm_node::Timeouts::default();
    match tls {
        None => rt.block_on(dsm_node::serve(listener, node, timeouts)),
        Some((config, _)) => rt.block_on(dsm_node::serve_tls(listener, node, timeouts, config)),
    }
    .map_err(|e| fail(e.to_string()))
}

/// Parts of `dsm bench` that run on their own.
#[derive(Subcommand, Debug)]
enum BenchPart {
    /// The cost of value provenance in a circulating economy (PROTOCOL.md §5.6): hop sizes
    /// and lineage-check times from real objects, then power-law payments between DEVICES
    /// devices with re-issue off and on — hops and bytes per payment with a cold and a warm
    /// cache, re-issue rate, parcels held, stored bytes per parcel — and, in the same run,
    /// the naive alternative (the payer's whole causal past). 10^5 payments over 10^2, 10^3
    /// and 10^4 devices take about a minute.
    Economy {
        /// Device counts to run, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
        devices: Vec<usize>,
        /// Payments per run.
        #[arg(long, default_value_t = 100_000)]
        transfers: usize,
        /// Seed of the deterministic run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Report per-payment figures over the last N payments only (0: all). Economies
        /// run for different numbers of payments are comparable only over samples of one
        /// size (a maximum grows with the number of draws).
        #[arg(long, default_value_t = 0)]
        window: usize,
        /// Re-issue a wallet's holdings when it holds more than N parcels of the token
        /// (default: the wallet's own advice).
        #[arg(long, value_name = "N", default_value_t = dsm_wallet::wallet::refresh::ADVISE_PARCELS)]
        refresh_parcels: usize,
        /// Re-issue when a held parcel is more than N hops from its root (default: the
        /// wallet's own advice).
        #[arg(long, value_name = "N", default_value_t = dsm_wallet::wallet::refresh::ADVISE_HOPS as u32)]
        refresh_hops: u32,
    },
    /// The web wallet's JavaScript receipt verifier (web/verify) against the Rust one, in
    /// the same run on the same vector receipts: time per receipt, time of its two
    /// signatures alone, and the share of that limit each reaches. Needs Node.js and the
    /// repository (run from its root, or --repo DIR).
    Web {
        /// The repository's root.
        #[arg(long, default_value = ".", value_name = "DIR")]
        repo: PathBuf,
    },
}

fn main() -> ExitCode {
    // A damaged wallet file can make the database library panic; the store catches that and
    // reports the file as damaged (exit 3), so its panic message would only be noise.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // `print!` panics when stdout's reader went away (`dsm bench | head`): end quietly,
        // as a reader that stopped reading is not an error.
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if payload.starts_with("failed printing to stdout") && payload.contains("Broken pipe") {
            std::process::exit(0);
        }
        if !dsm_wallet::store::inside_guarded_call() {
            default_hook(info);
        }
    }));
    let cli = match cli_command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    init_logging(cli.quiet, cli.verbose);
    let stdio = match &cli.command {
        Command::Send { transport, .. }
        | Command::Sync { transport, .. }
        | Command::Receive { transport, .. } => {
            transport.stdio || matches!(transport.via, Some(ViaKind::Stdio))
        }
        _ => false,
    };
    let ctx = Ctx {
        home: cli
            .home
            .map(|h| wallet_cmd::expand_tilde(&h))
            .unwrap_or_else(wallet_cmd::default_home),
        json: cli.json,
        passphrase_file: cli.passphrase_file,
        report_to_stderr: stdio,
        force: cli.force,
    };
    let secs = Duration::from_secs;
    let result = match cli.command {
        Command::Init {
            suite,
            restore: true,
            nodes,
            phrase_file,
            replace_restored,
            name,
            yes,
            dry_run,
            replication,
            ..
        } => recovery_cmd::recover(&ctx, suite.into(), &nodes, phrase_file.as_ref(), replace_restored, name, recovery_cmd::Confirm { yes, dry_run }, None, replication.given()),
        Command::Init {
            suite,
            name,
            dev_faucet,
            token,
            nodes,
            no_recovery_phrase,
            ..
        } => wallet_cmd::init(&ctx, suite.into(), name, dev_faucet, &token, &nodes, !no_recovery_phrase),
        Command::Recover {
            nodes,
            phrase_file,
            suite,
            replace_restored,
            name,
            yes,
            dry_run,
            replication,
        } => recovery_cmd::recover(&ctx, suite.into(), &nodes, phrase_file.as_ref(), replace_restored, name, recovery_cmd::Confirm { yes, dry_run }, None, replication.given()),
        Command::Backup(BackupCmd::Status) => recovery_cmd::backup_status(&ctx),
        Command::Backup(BackupCmd::Export { file }) => recovery_cmd::backup_export(&ctx, &file),
        Command::Backup(BackupCmd::Import { file, same_device: true, nodes, phrase_file, dry_run: false, .. }) => recovery_cmd::backup_import_same_device(&ctx, &file, phrase_file.as_ref(), &nodes),
        Command::Backup(BackupCmd::Import { same_device: true, .. }) => Err(wallet_cmd::CliError::new(wallet_cmd::exit::USAGE, "--dry-run shows what a restore as a new device would take over; it does not combine with --same-device")),
        Command::Backup(BackupCmd::Import { file, nodes, phrase_file, suite, name, yes, dry_run, .. }) => recovery_cmd::recover(&ctx, suite.into(), &nodes, phrase_file.as_ref(), false, name, recovery_cmd::Confirm { yes, dry_run }, Some(&file), None),
        Command::Backup(BackupCmd::Unfreeze { nodes }) => recovery_cmd::backup_unfreeze(&ctx, &nodes),
        Command::Card { qr, png } => wallet_cmd::card(&ctx, qr, png.as_deref()),
        Command::Contact(ContactCmd::Add {
            card,
            qr_image,
            name,
            replace,
        }) => wallet_cmd::contact_add(&ctx, card.as_deref(), qr_image.as_deref(), name, replace),
        Command::Contact(ContactCmd::List) => wallet_cmd::contact_list(&ctx),
        Command::Contact(ContactCmd::Remove { name }) => wallet_cmd::contact_remove(&ctx, &name),
        Command::Contact(ContactCmd::Rename { old, new }) => {
            wallet_cmd::contact_rename(&ctx, &old, &new)
        }
        Command::Send {
            contact,
            amount,
            token,
            transport,
            link,
            timeout,
            yes,
            dry_run,
        } => transport.reach(link).and_then(|reach| {
            // A payment cannot be taken back: on a terminal it is shown and confirmed first.
            let ask = !yes && std::io::IsTerminal::is_terminal(&std::io::stdin());
            if (dry_run || ask)
                && !wallet_cmd::confirm_payment(&ctx, &contact, &amount, token.as_deref(), dry_run)?
            {
                return Ok(None);
            }
            Ok(Some(reach))
        }).and_then(|reach| match reach {
            None => Ok(()),
            Some(Reach::Online) => online_cmd::send_online(&ctx, &contact, &amount, token.as_deref()),
            Some(Reach::Session(via)) => wallet_cmd::send(&ctx, &contact, Some(&amount), token.as_deref(), &via, secs(timeout)),
            Some(Reach::Unspecified) => Err(usage("choose how to reach the contact: --tcp ADDR, --file DIR, --stdio, --via KIND --at WHERE, or --online")),
        }),
        Command::Sync {
            contact,
            transport,
            link,
            timeout,
        } => transport.reach(link).and_then(|reach| match (contact, reach) {
            (None, Reach::Unspecified | Reach::Online) => online_cmd::sync_nodes(&ctx),
            (None, Reach::Session(_)) => Err(usage("name the contact to sync with over --tcp/--file/--stdio (or omit the transport to sync with the storage nodes)")),
            (Some(_), Reach::Unspecified | Reach::Online) => Err(usage("to sync with a contact, choose --tcp ADDR, --file DIR or --stdio; `dsm sync` alone syncs with the storage nodes")),
            (Some(contact), Reach::Session(via)) => wallet_cmd::send(
                &ctx,
                &contact,
                None,
                None,
                &via,
                secs(timeout),
            ),
        }),
        Command::Receive {
            transport,
            link,
            once,
            timeout,
            session_limit,
            max_connections,
            max_per_address,
            max_amount,
            max_unsettled,
            max_unsettled_total,
        } => transport.reach(link).and_then(|reach| match reach {
            Reach::Online => Err(usage("online transfers wait in this wallet's b0x: collect them with `dsm sync`")),
            Reach::Unspecified => Err(usage("choose where to receive: --tcp ADDR, --file DIR, --stdio, or --via KIND --at WHERE")),
            Reach::Session(via) => wallet_cmd::receive(
                &ctx,
                &via,
                once,
                dsm_transport::server::ServerLimits {
                    idle: secs(timeout),
                    session: secs(session_limit.max(1)),
                    max_connections: max_connections.max(1),
                    max_per_address: max_per_address.max(1),
                },
                wallet_cmd::ReceiveLimits {
                    max_amount: max_amount.as_deref(),
                    max_unsettled: &max_unsettled,
                    max_unsettled_total: &max_unsettled_total,
                },
            ),
        }),
        Command::Balance => wallet_cmd::balance(&ctx),
        Command::Check { repair } => wallet_cmd::check(&ctx, repair),
        Command::History => wallet_cmd::history(&ctx),
        Command::Receipt { id, out } => wallet_cmd::receipt(&ctx, &id, out),
        Command::Verify { file } => wallet_cmd::verify(&ctx, &file),
        Command::Evidence { export, import } => wallet_cmd::evidence(&ctx, export, import),
        Command::Ui { listen } => ui::serve(ctx.clone(), &listen),
        Command::Token(TokenCmd::Create { policy, out, publish }) => token_cmd::create(&ctx, &policy, out, publish),
        Command::Token(TokenCmd::Import { file, from_nodes }) => token_cmd::import(&ctx, file, from_nodes),
        Command::Token(TokenCmd::List) => token_cmd::list(&ctx),
        Command::Token(TokenCmd::Mint { token, amount }) => token_cmd::mint(&ctx, &token, &amount),
        Command::Token(TokenCmd::Burn { token, amount, yes, dry_run }) => token_cmd::burn(&ctx, &token, &amount, yes, dry_run),
        Command::Token(TokenCmd::Join { token }) => token_cmd::join(&ctx, &token),
        Command::Token(TokenCmd::IssuerKey) => token_cmd::issuer_key_cmd(&ctx),
        Command::Token(TokenCmd::Refresh { token, request, complete, signature }) => token_cmd::refresh(&ctx, &token, request, complete, signature),
        Command::Token(TokenCmd::RefreshSign { request, out }) => token_cmd::refresh_sign(&ctx, &request, out),
        Command::Emissions { token, show } => token_cmd::emissions(&ctx, token.as_deref(), show),
        Command::Vault(VaultCmd::Create { policy, out, publish }) => vault_cmd::create(&ctx, &policy, out, publish),
        Command::Vault(VaultCmd::Import { file, from_nodes }) => vault_cmd::import(&ctx, file, from_nodes),
        Command::Vault(VaultCmd::List) => vault_cmd::list(&ctx),
        Command::Vault(VaultCmd::Show { id }) => vault_cmd::show(&ctx, &id),
        Command::Btc(BtcCmd::DepositInfo { token, h_claim, h_refund, refunder }) => btc_cmd::deposit_info(&ctx, &token, &h_claim, &h_refund, &refunder),
        Command::Btc(BtcCmd::Mint { file, token }) => btc_cmd::mint(&ctx, &token, &file),
        Command::Btc(BtcCmd::Withdraw { amount, to_script, token, out }) => btc_cmd::withdraw(&ctx, &token, &amount, &to_script, out),
        Command::Btc(BtcCmd::Paid { file }) => btc_cmd::paid(&ctx, &file),
        Command::Btc(BtcCmd::Check { file }) => btc_cmd::check(&ctx, &file),
        Command::Btc(BtcCmd::Decline { file, out }) => btc_cmd::decline(&ctx, &file, out),
        Command::Btc(BtcCmd::Refund { file, token }) => btc_cmd::refund(&ctx, &token, &file),
        Command::Btc(BtcCmd::Withdrawals) => btc_cmd::withdrawals(&ctx),
        Command::Vault(VaultCmd::Claim(a)) => vault_cmd::resolve(&ctx, &a.id, dsm_token::vault::Branch::Release, &a.preimage, &a.preimage_hex, a.work),
        Command::Vault(VaultCmd::Refund(a)) => vault_cmd::resolve(&ctx, &a.id, dsm_token::vault::Branch::Refund, &a.preimage, &a.preimage_hex, a.work),
        Command::Nodes(NodesCmd::Add { urls }) => online_cmd::nodes_add(&ctx, &urls),
        Command::Nodes(NodesCmd::Remove { url }) => online_cmd::nodes_remove(&ctx, &url),
        Command::Nodes(NodesCmd::List) => online_cmd::nodes_list(&ctx),
        Command::Nodes(NodesCmd::Replication { n, k, f }) => {
            online_cmd::nodes_replication(&ctx, n, k, f)
        }
        Command::Node(NodeCmd::Serve {
            listen,
            data,
            postgres,
            rate,
            burst,
            write_mib_per_minute,
            owner_write_mib_per_minute,
            trusted_proxy,
            max_store_mib,
            owned_headroom_mib,
            owner_headroom_mib,
            tls_cert,
            tls_key,
            tls_self_signed,
        }) => node_serve(
            &listen,
            &data,
            postgres.as_deref(),
            match (tls_self_signed, tls_cert, tls_key) {
                (true, _, _) => Tls::SelfSigned,
                (false, Some(c), Some(k)) => Tls::Files(c, k),
                _ => Tls::Off,
            },
            dsm_node::ration::RationLimits {
                requests_per_second: rate,
                burst,
                write_bytes_per_minute: write_mib_per_minute.saturating_mul(1024 * 1024),
                owner_write_bytes_per_minute: owner_write_mib_per_minute
                    .saturating_mul(1024 * 1024),
                trusted_proxies: trusted_proxy,
            },
            dsm_node::ration::StoreBudget {
                max_bytes: max_store_mib.saturating_mul(1024 * 1024),
                owned_headroom: owned_headroom_mib.saturating_mul(1024 * 1024),
                owner_headroom: owner_headroom_mib.saturating_mul(1024 * 1024),
            },
        ),
        Command::Bench { quick, part } => match part {
            None => bench::run(quick),
            Some(BenchPart::Economy {
                devices,
                transfers,
                seed,
                window,
                refresh_parcels,
                refresh_hops,
            }) => economy::run(
                &devices,
                transfers,
                seed,
                window,
                economy::RefreshRule {
                    parcels: refresh_parcels,
                    hops: refresh_hops,
                },
            ),
            Some(BenchPart::Web { repo }) => web_bench::run(&repo),
        }
        .map_err(|e| wallet_cmd::CliError {
            code: exit::FAILURE,
            msg: format!("benchmark failed: {e}"),
        }),
        Command::Demo { suite, keep } => {
            demo::run(suite.into(), keep.as_deref(), &mut std::io::stdout()).map_err(|e| wallet_cmd::CliError {
                code: exit::FAILURE,
                msg: e.to_string(),
            })
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli_command(), "dsm", &mut script);
            use std::io::Write;
            std::io::stdout()
                .write_all(&script)
                .map_err(wallet_cmd::CliError::from)
        }
        Command::Man { out } => write_man_pages(&ctx, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`dsm history | head`) is not an error.
        Err(e) if e.code == exit::QUIET => ExitCode::SUCCESS,
        Err(e) => {
            if ctx.json {
                eprintln!("{}", serde_json::json!({"error": e.msg, "code": e.code}));
            } else {
                eprintln!("error: {}", e.msg);
            }
            ExitCode::from(e.code)
        }
    }
}

/// Progress notes and warnings go to stderr through `tracing`: info by default, fewer with
/// -q, more with -v; RUST_LOG, when set, decides instead.
fn init_logging(quiet: u8, verbose: u8) {
    let level = match (quiet, verbose) {
        (0, 0) => "info",
        (1, _) => "warn",
        (q, _) if q > 1 => "error",
        (_, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Plain lines, as the notes were before: a level prefix only for warnings and worse.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Note)
        .try_init();
}

/// Formats an event as its message alone ("warning: …" for warnings), like the notes a
/// command-line tool prints, rather than a timestamped log line.
struct Note;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Note
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        match *meta.level() {
            tracing::Level::ERROR => write!(writer, "error: ")?,
            tracing::Level::WARN => write!(writer, "warning: ")?,
            tracing::Level::INFO => {}
            _ => write!(writer, "{} {}: ", meta.level(), meta.target())?,
        }
        use tracing_subscriber::fmt::FormatFields;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `dsm man`: one roff page per command, generated from the same definition as `--help`.
fn write_man_pages(ctx: &Ctx, out: &std::path::Path) -> Result<(), wallet_cmd::CliError> {
    std::fs::create_dir_all(out).map_err(|e| {
        wallet_cmd::CliError::new(
            exit::FAILURE,
            format!("cannot create {}: {e}", out.display()),
        )
    })?;
    let mut written = Vec::new();
    let mut stack = vec![(String::from("dsm"), cli_command())];
    while let Some((name, cmd)) = stack.pop() {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone().display_name(name.clone()))
            .render(&mut page)
            .map_err(wallet_cmd::CliError::from)?;
        let path = out.join(format!("{name}.1"));
        std::fs::write(&path, page).map_err(|e| {
            wallet_cmd::CliError::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
        written.push(path);
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                stack.push((format!("{name}-{}", sub.get_name()), sub.clone()));
            }
        }
    }
    written.sort();
    ctx.print(
        |o| {
            writeln!(
                o,
                "wrote {} manual pages into {} (read one with `man {}/dsm.1`)",
                written.len(),
                out.display(),
                out.display()
            )
        },
        serde_json::json!({"pages": written}),
    )
}
