//! The command-line conventions a user expects of `dsm` (issue: the wallet as people use
//! it): JSON errors, quiet and verbose, completions and manual pages, `~` in DSM_HOME, a
//! reader that stops reading, help that lists only the flags a command uses.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Read;
use std::process::Stdio;

mod common;
use common::*;

#[test]
fn errors_under_json_are_one_json_object_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dsm(&dir.path().join("none"))
        .args(["--json", "balance"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["code"], 3);
    assert!(err["error"].as_str().unwrap().contains("no wallet in"));
    // Without --json the same error is a sentence.
    dsm(&dir.path().join("none"))
        .arg("balance")
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: no wallet in"));
}

#[test]
fn quiet_and_verbose_govern_the_notes_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    // A weak passphrase is warned about; -q keeps warnings, -qq drops them.
    let weak = |home: &str, flags: &[&str]| {
        let out = Command::new(bin())
            .env("DSM_HOME", dir.path().join(home))
            .env("DSM_PASSPHRASE", "short")
            .env_remove("RUST_LOG")
            .args(flags)
            .args(["init", "--name", home])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(weak("a", &[]).contains("warning: this passphrase is weak"));
    assert!(weak("b", &["-q"]).contains("warning: this passphrase is weak"));
    assert!(!weak("c", &["-qq"]).contains("weak"));
    // RUST_LOG decides when it is set.
    let out = Command::new(bin())
        .env("DSM_HOME", dir.path().join("d"))
        .env("DSM_PASSPHRASE", "short")
        .env("RUST_LOG", "error")
        .args(["init", "--name", "d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("weak"));
}

#[test]
fn completions_and_manual_pages_come_from_the_command_definition() {
    let script = stdout(Command::new(bin()).args(["completions", "bash"]));
    assert!(script.contains("_dsm()"));
    assert!(
        script.contains("--max-unsettled"),
        "every flag is completed"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(!stdout(Command::new(bin()).args(["completions", shell])).is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    stdout(Command::new(bin()).args(["man", "--out"]).arg(&out));
    let page = std::fs::read_to_string(out.join("dsm.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH dsm"),
        "{page:.200}"
    );
    let send = std::fs::read_to_string(out.join("dsm-send.1")).unwrap();
    assert!(send.contains("max\\-amount") || send.contains("timeout"));
    assert!(out.join("dsm-node-serve.1").exists());
    assert!(out.join("dsm-token-mint.1").exists());
}

#[test]
fn help_lists_only_the_flags_a_command_uses() {
    let help = stdout(Command::new(bin()).args(["node", "serve", "--help"]));
    assert!(help.contains("--listen"));
    assert!(!help.contains("--home"), "{help}");
    assert!(!help.contains("--passphrase-file"), "{help}");
    let help = stdout(Command::new(bin()).args(["verify", "--help"]));
    assert!(!help.contains("--home"), "{help}");
    let help = stdout(Command::new(bin()).args(["balance", "--help"]));
    assert!(help.contains("--home") && help.contains("--passphrase-file"));
    // The hidden flags still work where they are accepted (they are global).
    Command::new(bin())
        .args(["demo", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--home").not());
}

#[test]
fn a_tilde_in_dsm_home_is_the_home_directory() {
    let dir = tempfile::tempdir().unwrap();
    Command::new(bin())
        .env("HOME", dir.path())
        .env("DSM_HOME", "~/wallets/alice")
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["init", "--name", "alice"])
        .assert()
        .success();
    assert!(dir.path().join("wallets/alice/wallet.redb").exists());
    assert!(!std::path::Path::new("~").exists(), "no directory named ~");
    Command::new(bin())
        .env("HOME", dir.path())
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["--home", "~/wallets/alice", "card"])
        .assert()
        .success()
        .stdout(predicate::str::contains(":alice"));
}

/// `dsm … | head`: the reader goes away; dsm ends with 0 and says nothing.
#[test]
fn a_reader_that_stops_reading_ends_dsm_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("a");
    init_named(&home, "a");
    for args in [
        &["completions", "bash"][..],
        &["history"],
        &["card"],
        &["man", "--help"],
    ] {
        let mut child = std::process::Command::new(bin())
            .env("DSM_HOME", &home)
            .env("DSM_PASSPHRASE", "test passphrase")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before dsm writes a byte
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// Amounts are read and shown with the token's decimals, exactly; tickers that collide
/// are told apart; reserved tickers stay with their presets; files are not overwritten.
#[test]
fn amounts_use_the_tokens_decimals_and_tokens_are_named_unambiguously() {
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    init_named(&alice, "alice");
    let doc = dir.path().join("usd.dsmpolicy");
    token_create(
        &alice,
        "ticker = \"USD\"\ndecimals = 2\ncap = 100000000\nissuers = [\"self\"]\n",
        &doc,
    )
    .assert()
    .success();
    // `token create --out` never overwrites silently, and refuses before creating.
    let eur = "ticker = \"EUR\"\ndecimals = 2\ncap = 1000\nissuers = [\"self\"]\n";
    token_create(&alice, eur, &doc)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "already exists; write to another file, or add --force",
        ));
    assert!(!stdout(dsm(&alice).args(["token", "list"])).contains("EUR"));
    token_create(&alice, eur, &doc)
        .arg("--force")
        .assert()
        .success();
    assert!(std::fs::read_to_string(&doc).unwrap().contains("EUR"));

    dsm(&alice)
        .args(["token", "mint", "USD", "1.50"])
        .assert()
        .success()
        .stdout(predicate::str::contains("minted 1.50 USD"));
    for (bad, why) in [
        (
            "1.505",
            "2 decimal places; more are not rounded but refused",
        ),
        ("1,5", "write digits"),
        ("0.00", "more than zero"),
    ] {
        dsm(&alice)
            .args(["token", "mint", "USD", bad])
            .assert()
            .code(4)
            .stderr(predicate::str::contains(why));
    }
    assert!(stdout(dsm(&alice).arg("balance")).contains("1.50 USD"));
    let b = json(dsm(&alice).arg("balance"));
    let usd = b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["token"] == "USD")
        .unwrap()
        .clone();
    assert_eq!(usd["amount"], "150", "exact base units");
    assert_eq!(usd["amount_decimal"], "1.50");
    assert_eq!(usd["token_id"].as_str().unwrap().len(), 64);
    let h = json(dsm(&alice).arg("history"));
    let line = h.as_array().unwrap().last().unwrap();
    assert_eq!(line["amount_decimal"], "1.50");
    assert!(line["time"].as_u64().unwrap() > 0, "{line}");
    assert!(line["time_utc"].as_str().unwrap().ends_with('Z'));

    // Dry runs check everything and change nothing.
    let bob0 = dir.path().join("bob0");
    init_named(&bob0, "bob0");
    introduce(&alice, &bob0);
    dsm(&alice)
        .args(["send", "bob0", "1", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "dry run: would pay 1.00 USD to bob0",
        ))
        .stdout(predicate::str::contains("balance after: 0.50 USD"));
    dsm(&alice)
        .args(["send", "bob0", "2", "--dry-run"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "insufficient balance: you have 1.50 USD",
        ));
    dsm(&alice)
        .args(["token", "burn", "USD", "0.5", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry run: would burn 0.50 USD"));
    assert!(stdout(dsm(&alice).arg("balance")).contains("1.50 USD"));

    // Two tokens held: `send` needs --token, and an unknown one is unknown.
    dsm(&alice)
        .args(["token", "mint", "EUR", "2"])
        .assert()
        .success();
    let bob = dir.path().join("bob");
    init_named(&bob, "bob");
    introduce(&alice, &bob);
    dsm(&alice)
        .args(["send", "bob", "1", "--tcp", "127.0.0.1:9"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "name the token with --token: this wallet holds",
        ));
    dsm(&alice)
        .args(["send", "bob", "1", "--token", "GBP", "--tcp", "127.0.0.1:9"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unknown token \"GBP\""));
    dsm(&alice)
        .args([
            "send",
            "bob",
            "1.505",
            "--token",
            "USD",
            "--tcp",
            "127.0.0.1:9",
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("decimal places"));

    // A second USD: a warning, and from then on both show with their ids.
    token_create(
        &alice,
        "ticker = \"USD\"\ndecimals = 0\ncap = 5\nissuers = [\"self\"]\n",
        &dir.path().join("usd2.dsmpolicy"),
    )
    .assert()
    .success()
    .stderr(predicate::str::contains(
        "already holds another token with the ticker USD",
    ));
    let text = stdout(dsm(&alice).arg("balance"));
    assert!(text.contains("1.50 USD#"), "{text}");
    dsm(&alice)
        .args(["token", "mint", "USD", "1"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("2 tokens have the ticker USD"));

    // ERA and DBTC belong to their presets.
    for t in ["ERA", "DBTC"] {
        token_create(
            &alice,
            &format!("ticker = \"{t}\"\ncap = 5\nissuers = [\"self\"]\n"),
            &dir.path().join(format!("{t}.dsmpolicy")),
        )
        .assert()
        .code(4)
        .stderr(predicate::str::contains(format!(
            "the ticker {t} is reserved"
        )));
    }
}

/// Cards carry check digits; a card never silently takes over a name or renames a known
/// device; contacts can be removed and renamed; cards travel as QR codes.
#[test]
fn contacts_are_never_replaced_silently_and_cards_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| {
        let h = dir.path().join(n);
        init_named(&h, n);
        h
    });
    let bob_card = card_of(&bob);
    let carol_card = card_of(&carol);
    assert!(bob_card.starts_with("dsm-card:v2:bob:"), "{bob_card}");
    dsm(&alice)
        .args(["contact", "add", &bob_card])
        .assert()
        .success()
        .stdout(predicate::str::contains("added contact bob"));
    dsm(&alice)
        .args(["contact", "add", &bob_card])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing changed"));

    // A mistyped card: one hex digit of the device id changed.
    let mut typo = bob_card.clone().into_bytes();
    let i = "dsm-card:v2:bob:".len() + 10;
    typo[i] = if typo[i] == b'0' { b'1' } else { b'0' };
    dsm(&alice)
        .args(["contact", "add", std::str::from_utf8(&typo).unwrap()])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("check digits do not match"));

    // carol's card under the name bob: refused, with both devices shown.
    let carol_id = json(dsm(&carol).arg("card"))["device"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_id = json(dsm(&bob).arg("card"))["device"]
        .as_str()
        .unwrap()
        .to_string();
    dsm(&alice)
        .args(["contact", "add", &carol_card, "--name", "bob"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(format!(
            "the name bob is your contact for device {bob_id}, and this card is device {carol_id}"
        )))
        .stderr(predicate::str::contains("--replace"));
    // bob's card under another name: a silent rename is refused too.
    dsm(&alice)
        .args(["contact", "add", &bob_card, "--name", "robert"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(format!(
            "device {bob_id} is already your contact bob, and this card calls it robert"
        )));
    let list = json(dsm(&alice).args(["contact", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["device"], bob_id.as_str());

    // With --replace the card takes the name, and says what it replaced.
    dsm(&alice)
        .args(["contact", "add", &carol_card, "--name", "bob", "--replace"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "replaced contact bob (bob pointed at device",
        ));
    let list = json(dsm(&alice).args(["contact", "list"]));
    assert_eq!(list[0]["device"], carol_id.as_str());

    // Rename and remove, with suggestions for a near miss.
    dsm(&alice)
        .args(["contact", "rename", "bbo", "carol"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("did you mean bob?"));
    dsm(&alice)
        .args(["contact", "rename", "bob", "carol"])
        .assert()
        .success();
    dsm(&alice)
        .args(["contact", "add", &bob_card])
        .assert()
        .success();
    dsm(&alice)
        .args(["contact", "rename", "carol", "bob"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already have a contact named bob"));
    dsm(&alice)
        .args(["contact", "remove", "carol"])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed contact carol"));
    let names: Vec<String> = json(dsm(&alice).args(["contact", "list"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["bob"]);

    // The old card form is still read, with a warning.
    let old = format!("dsm-contact:{carol_id}:carol");
    dsm(&alice)
        .args(["contact", "add", &old])
        .assert()
        .success()
        .stderr(predicate::str::contains("old form, without check digits"));
    dsm(&alice)
        .args(["contact", "remove", "carol"])
        .assert()
        .success();

    // A card as a QR code: drawn in the terminal, written as PNG, read back from the image.
    let shown = stdout(dsm(&carol).args(["card", "--qr"]));
    assert!(shown.contains('█') || shown.contains('▀'), "{shown}");
    let png = dir.path().join("carol.png");
    dsm(&carol)
        .args(["card", "--png"])
        .arg(&png)
        .assert()
        .success();
    dsm(&carol)
        .args(["card", "--png"])
        .arg(&png)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already exists"));
    dsm(&alice)
        .args(["contact", "add", "--qr-image"])
        .arg(&png)
        .assert()
        .success()
        .stdout(predicate::str::contains("added contact carol"));
    dsm(&alice)
        .args(["contact", "add", "--qr-image"])
        .arg(dir.path().join("alice").join("wallet.redb"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no contact card found"));
    let huge = dir.path().join("huge.png");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(33 * 1024 * 1024)
        .unwrap();
    dsm(&alice)
        .args(["contact", "add", "--qr-image"])
        .arg(&huge)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("at most 32 MiB"));
}

/// The README's walk-through, run literally as a script (ports and `/tmp/` moved to free
/// ones), so the README cannot drift from the code.
#[test]
fn readme_walkthrough() {
    use std::os::unix::process::CommandExt;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let at = readme
        .find("<!-- walkthrough -->")
        .expect("README marks its walk-through");
    let rest = &readme[at..];
    let open = rest.find("```sh\n").expect("a sh block follows the marker") + 6;
    let close = rest[open..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut script =
        rest[open..open + close].replace("/tmp/", &format!("{}/", dir.path().display()));
    for port in ["7400", "7500", "7601", "7602", "7603"] {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        assert!(script.contains(&format!("127.0.0.1:{port}")));
        script = script.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{free}"));
    }
    let file = dir.path().join("walkthrough.sh");
    std::fs::write(&file, format!("set -euo pipefail\n{script}")).unwrap();
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new("bash")
        .arg(&file)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("DSM_HOME")
        .env_remove("DSM_PASSPHRASE")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    // Read both pipes on threads so a chatty script never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // Whatever happened, nothing the script started outlives the test.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let (out, err) = (t_out.join().unwrap(), t_err.join().unwrap());
    assert!(
        status.is_some_and(|s| s.success()),
        "the README walk-through failed ({status:?}):\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    assert!(out.contains("250.50 GOLD"), "{out}");
    let gold = |home: &str| {
        let v = json(
            dsm(&dir.path().join(home))
                .env("DSM_PASSPHRASE", "choose one")
                .arg("balance"),
        );
        v["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["token"] == "GOLD")
            .map(|b| b["amount_decimal"].as_str().unwrap().to_string())
    };
    assert_eq!(gold("bob").as_deref(), Some("280.50"));
    assert_eq!(gold("alice").as_deref(), Some("709.50"));
}

/// `balance`, `history`, `card` and `contact list` need no passphrase, and work while
/// `dsm receive` holds the wallet; a summary older than the wallet file is never shown.
#[test]
fn read_only_commands_work_without_the_passphrase_and_beside_a_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    dsm(&alice)
        .args(["init", "--name", "alice", "--dev-faucet", "100"])
        .assert()
        .success();
    init_named(&bob, "bob");
    introduce(&alice, &bob);
    let keyless = |home: &std::path::Path| {
        let mut c = Command::new(bin());
        c.env("DSM_HOME", home)
            .env_remove("DSM_PASSPHRASE")
            .env_remove("DSM_PASSPHRASE_FILE");
        c
    };
    // No passphrase anywhere, no terminal: read from the summary, checked against the file.
    assert!(stdout(keyless(&alice).arg("balance")).contains("100 DEV"));
    assert!(stdout(keyless(&alice).arg("card")).starts_with("dsm-card:v2:alice:"));
    assert!(stdout(keyless(&alice).args(["contact", "list"])).contains("bob"));
    assert!(stdout(keyless(&alice).arg("history")).contains("dev-faucet"));
    // A command that needs the key still asks for it.
    keyless(&alice)
        .args(["send", "bob", "1", "--tcp", "127.0.0.1:9"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no passphrase"));

    // bob receives in the background: his wallet file is held open the whole time.
    let (mut rx, addr) = receiver(&bob, false);
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(rx.stdout.take().unwrap()));
    dsm(&alice)
        .args(["send", "bob", "30", "--tcp", &addr])
        .assert()
        .success();
    // The receiver reports the transfer once it committed it and wrote the summary.
    let got: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (got["direction"].as_str(), got["amount"].as_str()),
        (Some("received"), Some("30")),
        "{got}"
    );
    for c in [keyless(&bob).arg("balance"), dsm(&bob).arg("balance")] {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("30 DEV"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another dsm process"));
    }
    assert!(stdout(dsm(&bob).arg("history")).contains("received"));
    assert!(stdout(dsm(&bob).args(["contact", "list"])).contains("alice"));
    // A writing command still gets "in use".
    dsm(&bob)
        .args(["contact", "rename", "alice", "al"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("in use"));
    // SIGTERM (as Ctrl-C) stops the receiver and closes the file cleanly.
    stop_cleanly(rx);
    dsm(&bob).args(["token", "list"]).assert().success();

    // A stale summary (from before the last change) is never shown as current: without the
    // passphrase the command cannot read the file and says so.
    let summary = alice.join("summary.json");
    let before = std::fs::read(&summary).unwrap();
    dsm(&alice)
        .args(["contact", "remove", "bob"])
        .assert()
        .success();
    dsm(&alice)
        .args(["contact", "add", &card_of(&bob)])
        .assert()
        .success();
    dsm(&alice)
        .args(["send", "bob", "1", "--dry-run"])
        .assert()
        .success();
    std::fs::write(&summary, &before).unwrap();
    keyless(&alice)
        .arg("balance")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no passphrase"));
    // A damaged summary is refused too (with the file in use, it is all there is to read).
    let mut bad = before.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&summary, &bad).unwrap();
    keyless(&alice).arg("balance").assert().code(3);
    // With the passphrase the file itself is read, and the summary rewritten by the next
    // writing command.
    assert!(stdout(dsm(&alice).arg("balance")).contains("70 DEV"));
}

/// A wallet a killed process left open needs the database's repair: a reading command makes
/// it and says so; `dsm check --repair` makes it explicitly.
#[test]
fn a_file_left_open_by_a_killed_process_is_repaired_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("w");
    dsm(&home)
        .args(["init", "--name", "w", "--dev-faucet", "9"])
        .assert()
        .success();
    let (mut rx, _) = receiver(&home, false);
    rx.kill().unwrap(); // SIGKILL: no clean close
    rx.wait().unwrap();
    dsm(&home)
        .args(["token", "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("not closed cleanly"));
    // Once repaired, nothing more to say.
    dsm(&home)
        .args(["token", "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("not closed cleanly").not());
    dsm(&home)
        .args(["check", "--repair"])
        .assert()
        .success()
        .stdout(predicate::str::contains("the wallet file is sound"));
    assert!(stdout(dsm(&home).arg("balance")).contains("9 DEV"));
}
