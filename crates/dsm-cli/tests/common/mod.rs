//! Helpers the CLI test files share: the binary, run against a wallet home as a user would.
#![allow(dead_code)] // each test file uses its own subset

use assert_cmd::Command;
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("dsm")
}

/// `dsm` against the wallet in `home`, with the tests' passphrase.
pub fn dsm(home: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("DSM_HOME", home)
        .env("DSM_PASSPHRASE", "test passphrase")
        .env_remove("DSM_PASSPHRASE_FILE");
    c
}

/// Runs `c`, which must succeed, and returns its stdout.
pub fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `c --json`, which must succeed, and returns its last line as JSON.
pub fn json(c: &mut Command) -> serde_json::Value {
    serde_json::from_str(stdout(c.arg("--json")).lines().last().unwrap()).unwrap()
}

/// The contact card of the wallet in `home`.
pub fn card_of(home: &Path) -> String {
    json(dsm(home).arg("card"))["card"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `dsm token create` of a policy given as TOML text (written beside `out`, as
/// `OUT.toml`), its document to `out`: the command, for the caller to assert on.
pub fn token_create(home: &Path, toml: &str, out: &Path) -> Command {
    let policy = out.with_extension("toml");
    std::fs::write(&policy, toml).unwrap();
    let mut c = dsm(home);
    c.args(["token", "create", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(out);
    c
}

/// Creates a wallet named `name` in `home`.
pub fn init_named(home: &Path, name: &str) {
    dsm(home).args(["init", "--name", name]).assert().success();
}

/// Makes the wallets in `a` and `b` contacts of each other.
pub fn introduce(a: &Path, b: &Path) {
    let ca = card_of(a);
    let cb = card_of(b);
    dsm(a).args(["contact", "add", &cb]).assert().success();
    dsm(b).args(["contact", "add", &ca]).assert().success();
}

/// Starts `dsm --json receive ARGS` for `home` and waits for its first line (printed once
/// it is ready); returns the process and that line.
pub fn spawn_receiver(home: &Path, args: &[&str]) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(bin())
        .env("DSM_HOME", home)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["--json", "receive"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line)
}

/// `dsm receive --tcp` on a free loopback port, with `--once` or not.
pub fn receiver(home: &Path, once: bool) -> (std::process::Child, String) {
    receiver_with(home, if once { &["--once"] } else { &[] })
}

/// `dsm receive --tcp` on a free loopback port with `extra` arguments: the process and the
/// address it listens on.
pub fn receiver_with(home: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["--tcp", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (child, line) = spawn_receiver(home, &args);
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("no listening line: {line:?}"));
    (child, v["listening"].as_str().unwrap().to_string())
}

/// Stops a running `dsm receive` as Ctrl-C would (SIGTERM) and checks it ended cleanly.
pub fn stop_cleanly(mut rx: std::process::Child) {
    std::process::Command::new("kill")
        .args(["-TERM", &rx.id().to_string()])
        .status()
        .unwrap();
    assert!(rx.wait().unwrap().success(), "a clean stop");
}

/// A node process, killed when dropped (also when a test fails).
pub struct NodeProc(pub std::process::Child);

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dsm node serve` on a free port with its data in `data`; returns it and its URL.
/// Three node processes with their data under `dir` (`n0`, `n1`, `n2`).
pub fn three_nodes(dir: &Path) -> Vec<(NodeProc, String)> {
    (0..3)
        .map(|i| start_node(&dir.join(format!("n{i}"))))
        .collect()
}

pub fn start_node(data: &Path) -> (NodeProc, String) {
    start_node_with(data, &[])
}

/// As [`start_node`], with more `dsm node serve` arguments (e.g. TLS files).
pub fn start_node_with(data: &Path, extra: &[&std::ffi::OsStr]) -> (NodeProc, String) {
    let mut node = std::process::Command::new(bin())
        .args(["node", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(node.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no address line: {line:?}"))
        .to_string();
    (NodeProc(node), url)
}

/// Adds the three nodes to each wallet with replication N = 3, K = 2, f = 0.
pub fn use_nodes(homes: &[&PathBuf], nodes: &[(NodeProc, String)]) {
    for h in homes {
        let mut add = dsm(h);
        add.args(["nodes", "add"]);
        for (_, url) in nodes {
            add.arg(url);
        }
        add.assert().success();
        dsm(h)
            .args(["nodes", "replication", "--n", "3", "--k", "2", "--f", "0"])
            .assert()
            .success();
    }
}

/// A running `dsm ui` on a free loopback port, killed when dropped: its one-time URL, port
/// and login token as it printed them.
pub struct UiProc {
    pub child: std::process::Child,
    pub url: String,
    pub port: u16,
    pub login: String,
}

impl Drop for UiProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `dsm ui` for the wallet in `home` and reads the URL it prints.
pub fn start_ui(home: &Path) -> UiProc {
    let mut child = std::process::Command::new(bin())
        .env("DSM_HOME", home)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["ui", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL line: {line:?}"))
        .to_string();
    let hostport = url.trim_start_matches("http://").split('/').next().unwrap();
    let port = hostport.rsplit(':').next().unwrap().parse().unwrap();
    let login = url.split("/login?token=").nth(1).unwrap().to_string();
    UiProc {
        child,
        url,
        port,
        login,
    }
}

/// Two wallets in a temporary directory, contacts of each other; alice starts with a
/// dev-faucet allocation.
pub struct Pair {
    pub _dir: tempfile::TempDir,
    pub alice: PathBuf,
    pub bob: PathBuf,
}

/// [`pair_with`] in the default suite.
pub fn pair(faucet: &str) -> Pair {
    pair_with(faucet, "ml-dsa-65")
}

/// alice (with `faucet` DEV) and bob in `suite`, each the other's contact.
pub fn pair_with(faucet: &str, suite: &str) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    dsm(&alice)
        .args([
            "init",
            "--name",
            "alice",
            "--suite",
            suite,
            "--dev-faucet",
            faucet,
        ])
        .assert()
        .success();
    dsm(&bob)
        .args(["init", "--name", "bob", "--suite", suite])
        .assert()
        .success();
    let card = json(dsm(&bob).arg("card"))["card"]
        .as_str()
        .unwrap()
        .to_string();
    dsm(&alice)
        .args(["contact", "add", &card])
        .assert()
        .success()
        .stdout(predicates::str::contains("added contact bob"));
    let card = json(dsm(&alice).arg("card"))["card"]
        .as_str()
        .unwrap()
        .to_string();
    dsm(&bob).args(["contact", "add", &card]).assert().success();
    Pair {
        _dir: dir,
        alice,
        bob,
    }
}
