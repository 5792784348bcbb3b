//! The real `dsm` binary, run as a user would: every subcommand, and bad input for each.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

mod common;
use common::*;

fn balance(home: &Path) -> u128 {
    let v = json(dsm(home).arg("balance"));
    v["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["token"] == "DEV")
        .map(|b| b["amount"].as_str().unwrap().parse().unwrap())
        .unwrap_or(0)
}

fn in_flight(home: &Path) -> usize {
    json(dsm(home).arg("balance"))["in_flight"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn init_send_receive_balance_history_receipt_verify() {
    let p = pair("1000");
    let (mut rx, addr) = receiver(&p.bob, true);
    dsm(&p.alice)
        .args(["send", "bob", "250", "--tcp", &addr])
        .assert()
        .success()
        .stdout(predicate::str::contains("sent 250 DEV to bob — final"));
    assert!(rx.wait().unwrap().success());
    assert_eq!(balance(&p.alice), 750);
    assert_eq!(balance(&p.bob), 250);
    let h = stdout(dsm(&p.alice).arg("history"));
    assert!(
        h.contains("dev-faucet")
            && h.contains("sent")
            && h.contains("bob")
            && h.contains("-250")
            && h.contains("final"),
        "{h}"
    );
    let hist = json(dsm(&p.bob).arg("history"));
    let id = hist[0]["receipt"].as_str().unwrap().to_string();
    let file = p.bob.join("r.receipt");
    dsm(&p.bob)
        .args(["receipt", &id[..12], "--out"])
        .arg(&file)
        .assert()
        .success();
    dsm(&p.bob)
        .arg("verify")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("VALID receipt"));
    // verify needs no wallet at all
    Command::new(bin())
        .env("DSM_HOME", "/nonexistent")
        .arg("verify")
        .arg(&file)
        .assert()
        .success();
    // Corrupted receipt: every kind of damage is refused with exit 6.
    let bytes = std::fs::read(&file).unwrap();
    for (i, damaged) in [
        bytes[..bytes.len() / 2].to_vec(),
        {
            let mut b = bytes.clone();
            b[bytes.len() - 100] ^= 1;
            b
        },
        {
            let mut b = bytes.clone();
            b.push(0);
            b
        },
        vec![0u8; 200_000],
    ]
    .into_iter()
    .enumerate()
    {
        let f = p.bob.join(format!("bad{i}.receipt"));
        std::fs::write(&f, damaged).unwrap();
        dsm(&p.bob)
            .arg("verify")
            .arg(&f)
            .assert()
            .code(6)
            .stderr(predicate::str::contains("REFUSED"));
    }
    dsm(&p.bob)
        .arg("verify")
        .arg(p.bob.join("missing"))
        .assert()
        .code(4);
}

#[test]
fn transfers_through_a_shared_directory() {
    let p = pair("300");
    let mailbox = p.alice.parent().unwrap().join("usb");
    let mut rx = std::process::Command::new(bin())
        .env("DSM_HOME", &p.bob)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["receive", "--once", "--timeout", "60", "--file"])
        .arg(&mailbox)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    dsm(&p.alice)
        .args(["send", "bob", "120", "--file"])
        .arg(&mailbox)
        .assert()
        .success()
        .stdout(predicate::str::contains("sent 120 DEV to bob"));
    assert!(rx.wait().unwrap().success());
    assert_eq!((balance(&p.alice), balance(&p.bob)), (180, 120));
}

/// A receiver with a per-transfer limit answers with a signed refusal: the sender's
/// command says so and exits 5, its balance is whole again, the history shows it.
#[test]
fn receiver_limit_refuses_with_a_signed_refusal() {
    let p = pair("100");
    let mut rx = std::process::Command::new(bin())
        .env("DSM_HOME", &p.bob)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args([
            "--json",
            "receive",
            "--tcp",
            "127.0.0.1:0",
            "--once",
            "--max-amount",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(rx.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let addr = serde_json::from_str::<serde_json::Value>(&line).unwrap()["listening"]
        .as_str()
        .unwrap()
        .to_string();
    dsm(&p.alice)
        .args(["send", "bob", "40", "--tcp", &addr])
        .assert()
        .code(5)
        .stdout(predicate::str::contains(
            "bob refused your transfer of 40 DEV",
        ))
        .stderr(predicate::str::contains("refused the transfer"));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("\"direction\":\"refused\""), "{rest}");
    assert!(rx.wait().unwrap().success());
    assert_eq!((balance(&p.alice), balance(&p.bob)), (100, 0));
    let h = stdout(dsm(&p.alice).arg("history"));
    assert!(h.contains("released") && h.contains("+40"), "{h}");
    dsm(&p.bob)
        .args(["receive", "--tcp", "127.0.0.1:0", "--max-amount", "0"])
        .assert()
        .code(4);
}

/// The offline risk limit: what a receiver holds unsettled from one sender is capped
/// (`--max-unsettled`); over it, a signed refusal the sender's command explains; `none`
/// lifts it; a bad value is a usage error. The defaults are shown in `--help`.
#[test]
fn receiver_exposure_limit_refuses_unsettled_value_over_it() {
    let p = pair("100");
    let receive_once = |limit: &str| receiver_with(&p.bob, &["--once", "--max-unsettled", limit]);
    let (mut rx, addr) = receive_once("30");
    stdout(dsm(&p.alice).args(["send", "bob", "20", "--tcp", &addr]));
    assert!(rx.wait().unwrap().success());
    // 20 + 20 unsettled from alice is over 30: refused, alice keeps her 20.
    let (mut rx, addr) = receive_once("30");
    dsm(&p.alice)
        .args(["send", "bob", "20", "--tcp", &addr])
        .assert()
        .code(5)
        .stdout(predicate::str::contains(
            "bob refused your transfer of 20 DEV (the receiver holds too much unsettled value",
        ));
    assert!(rx.wait().unwrap().success());
    assert_eq!((balance(&p.alice), balance(&p.bob)), (80, 20));
    let (mut rx, addr) = receive_once("none");
    stdout(dsm(&p.alice).args(["send", "bob", "20", "--tcp", &addr]));
    assert!(rx.wait().unwrap().success());
    assert_eq!((balance(&p.alice), balance(&p.bob)), (60, 40));
    dsm(&p.bob)
        .args(["receive", "--tcp", "127.0.0.1:0", "--max-unsettled", "lots"])
        .assert()
        .code(4);
    dsm(&p.bob)
        .args(["receive", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[default: 1000000]"))
        .stdout(predicate::str::contains("[default: 10000000]"));
}

/// Two processes whose stdin/stdout are cross-connected (as `socat` or `ssh` would): the
/// session runs over the pipes, the reports go to stderr.
#[test]
fn transfers_over_stdin_stdout() {
    let p = pair("50");
    let spawn = |home: &Path, args: &[&str]| {
        std::process::Command::new(bin())
            .env("DSM_HOME", home)
            .env("DSM_PASSPHRASE", "test passphrase")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut rx = spawn(&p.bob, &["receive", "--stdio"]);
    let mut tx = spawn(&p.alice, &["send", "bob", "20", "--stdio"]);
    let pump = |mut from: std::process::ChildStdout, mut to: std::process::ChildStdin| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
        })
    };
    let a = pump(tx.stdout.take().unwrap(), rx.stdin.take().unwrap());
    let b = pump(rx.stdout.take().unwrap(), tx.stdin.take().unwrap());
    let txo = tx.wait_with_output().unwrap();
    let rxo = rx.wait_with_output().unwrap();
    a.join().unwrap();
    b.join().unwrap();
    assert!(
        txo.status.success(),
        "{}",
        String::from_utf8_lossy(&txo.stderr)
    );
    assert!(
        rxo.status.success(),
        "{}",
        String::from_utf8_lossy(&rxo.stderr)
    );
    assert!(String::from_utf8_lossy(&txo.stderr).contains("sent 20 DEV to bob"));
    assert_eq!((balance(&p.alice), balance(&p.bob)), (30, 20));
}

#[test]
fn bad_amounts_contacts_and_balances_are_refused_before_connecting() {
    let p = pair("100");
    // Nothing listens on this address: each refusal must come before any connection.
    let addr = "127.0.0.1:9";
    for (amount, why) in [
        ("0", "more than zero"),
        ("-5", "amounts are positive"),
        // DEV has no policy, so no decimal places: refused, never rounded.
        ("1.5", "0 decimal places; more are not rounded but refused"),
        ("abc", "write digits"),
        ("340282366920938463463374607431768211456", "too large"),
    ] {
        dsm(&p.alice)
            .args(["send", "bob", amount, "--tcp", addr])
            .assert()
            .code(4)
            .stderr(predicate::str::contains(why));
    }
    dsm(&p.alice)
        .args(["send", "bob", "101", "--tcp", addr])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "insufficient balance: you have 100 DEV",
        ));
    dsm(&p.alice)
        .args(["send", "carol", "1", "--tcp", addr])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unknown contact \"carol\""));
    dsm(&p.alice)
        .args(["send", "bob", "1", "--token", "OTHER", "--tcp", addr])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "unknown token \"OTHER\": this wallet knows DEV",
        ));
    dsm(&p.alice)
        .args(["send", "bbo", "1", "--tcp", addr])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("did you mean bob?"));
    // The peer is not there: exit 5, nothing debited.
    dsm(&p.alice)
        .args(["send", "bob", "1", "--tcp", addr, "--timeout", "2"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("cannot reach"));
    assert_eq!(balance(&p.alice), 100);
    dsm(&p.alice)
        .args(["send", "bob", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tcp"));
    dsm(&p.alice)
        .args(["send", "bob", "1", "--tcp", addr, "--stdio"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    dsm(&p.alice)
        .args(["contact", "add", "not-a-card"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not a contact card"));
    dsm(&p.alice)
        .args(["init"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("already exists"));
    dsm(&p.alice)
        .args(["init", "--dev-faucet", "0"])
        .assert()
        .code(4);
}

#[test]
fn wallet_access_errors() {
    let p = pair("5");
    dsm(&p.alice)
        .env("DSM_PASSPHRASE", "wrong")
        .arg("balance")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("wrong passphrase"));
    let f = p.alice.join("pass.txt");
    std::fs::write(&f, "test passphrase\n").unwrap();
    Command::new(bin())
        .env("DSM_HOME", &p.alice)
        .arg("--passphrase-file")
        .arg(&f)
        .arg("balance")
        .assert()
        .success()
        .stdout(predicate::str::contains("5 DEV"));
    // A command that needs the key (or the file itself) says where a passphrase comes
    // from; `balance` and the other summary readers need none (conventions.rs).
    Command::new(bin())
        .env("DSM_HOME", &p.alice)
        .env_remove("DSM_PASSPHRASE")
        .args(["token", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("DSM_PASSPHRASE"));
    dsm(&p.alice.join("nope"))
        .arg("balance")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("dsm init"));
    // A wallet in use by a running receiver is reported, not corrupted.
    let (rx, _) = receiver(&p.bob, false);
    dsm(&p.bob)
        .args(["token", "list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("in use by another dsm process"));
    // SIGTERM (as Ctrl-C) stops the receiver cleanly: no repair needed afterwards.
    stop_cleanly(rx);
    dsm(&p.bob).args(["token", "list"]).assert().success();
}

/// `dsm init` is all or nothing, keeps the wallet private, and says when a passphrase is
/// weak.
#[test]
fn init_is_all_or_nothing_private_and_warns_of_a_weak_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("w");
    // A refused name: nothing is created (before, the wallet was created and then the
    // name refused, leaving a wallet whose recovery phrase was never shown).
    dsm(&home)
        .args(["init", "--name", "x y"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("is not a usable name"));
    assert!(!home.join("wallet.redb").exists(), "nothing was created");
    // A strong passphrase: no warning; the home is 0700 and the wallet file 0600.
    dsm(&home)
        .env("DSM_PASSPHRASE", "correct-Horse-battery-9")
        .args(["init", "--name", "w"])
        .assert()
        .success()
        .stderr(predicate::str::contains("weak").not());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join("wallet.redb")), 0o600);
    }
    // A weak one is accepted with a warning.
    dsm(&dir.path().join("weak"))
        .env("DSM_PASSPHRASE", "short")
        .arg("init")
        .assert()
        .success()
        .stderr(predicate::str::contains("this passphrase is weak"));
}

/// A damaged wallet file never crashes `dsm`: 300 copies of a wallet, each with one byte
/// flipped (the positions drawn deterministically), opened with `dsm balance`. A panic
/// inside the database library is caught at the store boundary and reported as a damaged
/// file (exit 3); nothing exits 101. (That every damage is *detected* — some flips land
/// in bytes nothing reads — needs the record checksums of the wallet issue, not built.)
#[test]
fn a_damaged_wallet_file_never_crashes_dsm() {
    let p = pair("5");
    let original = std::fs::read(p.alice.join("wallet.redb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut outcomes = std::collections::BTreeMap::<i32, u32>::new();
    let mut damaged = 0;
    for i in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let home = dir.path().join(format!("w{i}"));
        std::fs::create_dir_all(&home).unwrap();
        let mut bytes = original.clone();
        let at = (x as usize) % bytes.len();
        bytes[at] ^= 1 << ((x >> 32) % 8);
        std::fs::write(home.join("wallet.redb"), &bytes).unwrap();
        let out = dsm(&home).arg("balance").output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            code != 101 && !stderr.contains("panicked"),
            "flip at {at}: exit {code}: {stderr}"
        );
        damaged += u32::from(stderr.contains("the wallet file is damaged"));
        *outcomes.entry(code).or_default() += 1;
        let _ = std::fs::remove_dir_all(&home);
    }
    eprintln!("exit codes of 300 damaged wallets: {outcomes:?}; {damaged} reported damaged");
    assert!(
        damaged > 0,
        "some damage was reported as such: {outcomes:?}"
    );
    // A truncated file (an empty one is what an interrupted `init` leaves) is damaged:
    // exit 3 and what to do, never a raw storage error.
    for len in [0usize, 100, 4096, original.len() / 2] {
        let home = dir.path().join(format!("t{len}"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("wallet.redb"), &original[..len]).unwrap();
        // (Some truncations look to the database like a file left open by a killed
        // process: those say so, name the damage as the other cause, and `check --repair`.)
        dsm(&home).arg("balance").assert().code(3).stderr(
            predicate::str::contains("the wallet file is damaged")
                .or(predicate::str::contains("or the file is damaged")),
        );
    }
}

/// Commands that only read open the wallet file read-only: `balance`, `history`, `check`,
/// and a failed open (a wrong passphrase) leave it byte for byte as it was.
#[test]
fn reading_commands_never_change_the_wallet_file() {
    let p = pair("5");
    let file = p.alice.join("wallet.redb");
    let before = std::fs::read(&file).unwrap();
    dsm(&p.alice).arg("balance").assert().success();
    dsm(&p.alice).arg("history").assert().success();
    dsm(&p.alice)
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("the wallet file is sound"));
    dsm(&p.alice)
        .env("DSM_PASSPHRASE", "wrong")
        .arg("balance")
        .assert()
        .code(3);
    assert!(
        std::fs::read(&file).unwrap() == before,
        "the file is unchanged"
    );
    // A writing command does write (so the comparison above can fail).
    dsm(&p.alice)
        .args(["nodes", "add", "http://127.0.0.1:9"])
        .assert()
        .success();
    assert!(std::fs::read(&file).unwrap() != before);
}

#[test]
fn contacts_cards_evidence_and_help() {
    let p = pair("5");
    let list = stdout(dsm(&p.alice).args(["contact", "list"]));
    assert!(list.contains("bob"), "{list}");
    dsm(&p.alice)
        .arg("card")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("dsm-card:v2:alice:"));
    dsm(&p.alice)
        .arg("evidence")
        .assert()
        .success()
        .stdout(predicate::str::contains("no equivocation evidence"));
    let junk = p.alice.join("junk.evidence");
    std::fs::write(&junk, b"\x0a\x03abc").unwrap();
    dsm(&p.alice)
        .args(["evidence", "--import"])
        .arg(&junk)
        .assert()
        .code(6)
        .stderr(predicate::str::contains("REFUSED"));
    Command::new(bin())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"))
        .stdout(predicate::str::contains("receive"));
    Command::new(bin())
        .args(["send", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--file"));
    Command::new(bin()).arg("nonsense").assert().code(2);
    Command::new(bin())
        .args(["init", "--suite", "rsa"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ml-dsa-65, slh-dsa-sha2-128f"));
}

/// Where a [`frame_relay`] stops a session.
#[derive(Clone, Copy)]
enum Stop {
    /// After the dialer's `n`-th frame was forwarded (the dialer committed what it sent).
    AfterDialerFrame(usize),
    /// When the listener's `n`-th frame arrives: held, never forwarded (the listener
    /// committed what it sent; the dialer never learns it).
    HoldingListenerFrame(usize),
}

/// A TCP relay between a sender and a receiver that forwards whole frames (`version ‖
/// u32be length ‖ payload`) and stops at `stop`, signalling the test — so a kill lands at
/// an exact point of the session, every time.
fn frame_relay(upstream: String, stop: Stop) -> (String, std::sync::mpsc::Receiver<()>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((down, _)) = l.accept() else { return };
        let Ok(up) = std::net::TcpStream::connect(&upstream) else {
            return;
        };
        let pump = move |mut from: std::net::TcpStream,
                         mut to: std::net::TcpStream,
                         dialer: bool,
                         tx: std::sync::mpsc::Sender<()>| {
            let mut n = 0;
            loop {
                let mut head = [0u8; 5];
                if from.read_exact(&mut head).is_err() {
                    return;
                }
                let len = u32::from_be_bytes(head[1..].try_into().unwrap()) as usize;
                let mut body = vec![0u8; len];
                if from.read_exact(&mut body).is_err() {
                    return;
                }
                n += 1;
                if let (false, Stop::HoldingListenerFrame(k)) = (dialer, stop) {
                    if n == k {
                        // Hold this frame and everything after it.
                        let _ = tx.send(());
                        return;
                    }
                }
                if to.write_all(&head).is_err() || to.write_all(&body).is_err() {
                    return;
                }
                if let (true, Stop::AfterDialerFrame(k)) = (dialer, stop) {
                    if n == k {
                        let _ = tx.send(());
                        return;
                    }
                }
            }
        };
        let (d2, u2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
        let tx2 = tx.clone();
        let a = std::thread::spawn(move || pump(down, up, true, tx));
        let b = std::thread::spawn(move || pump(u2, d2, false, tx2));
        let _ = (a.join(), b.join());
    });
    (addr, rx)
}

/// Really SIGKILLs the sending and the receiving process mid-transfer, at exact points
/// chosen through a frame relay, restarts them, and checks that nothing was lost or
/// counted twice: the sender killed right after its proposal went out (its debit is
/// committed, the receiver may or may not have credited), and the receiver killed right
/// after it sent its acceptance, which never arrives (it credited; the sender is left in
/// flight). Every kill is asserted to have landed mid-session. (dsm-wallet's crash tests
/// cover every store write exhaustively.)
#[test]
fn sigkill_mid_transfer_loses_nothing() {
    let p = pair("1000");
    let mut mid_session = 0;
    let mut kills = 0;
    for round in 0..6 {
        let before = (balance(&p.alice), balance(&p.bob));
        let (mut rx, upstream) = receiver(&p.bob, false);
        let kill_sender = round % 2 == 0;
        // Dialer frames: hello, proposal. Listener frames: hello, acceptance.
        let (addr, stopped) = frame_relay(
            upstream,
            if kill_sender {
                Stop::AfterDialerFrame(2)
            } else {
                Stop::HoldingListenerFrame(2)
            },
        );
        let mut tx = std::process::Command::new(bin())
            .env("DSM_HOME", &p.alice)
            .env("DSM_PASSPHRASE", "test passphrase")
            .args(["send", "bob", "7", "--timeout", "20", "--tcp", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        stopped
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the session reached the kill point");
        if kill_sender {
            tx.kill().unwrap();
        } else {
            // The receiver committed its credit before it wrote the acceptance the relay
            // holds: kill it, and the sender waiting for that acceptance.
            rx.kill().unwrap();
            tx.kill().unwrap();
        }
        kills += 1;
        let _ = tx.wait();
        let _ = rx.kill();
        let _ = rx.wait();
        // A killed process leaves its wallet file needing the database's repair, which
        // reading commands never make: the user runs `dsm check --repair` (PROTOCOL §14).
        for home in [&p.alice, &p.bob] {
            dsm(home).args(["check", "--repair"]).assert().success();
        }
        if in_flight(&p.alice) > 0 {
            mid_session += 1;
        }
        // What each kill left on disk: the sender's debit; and with the receiver killed,
        // its credit too.
        assert_eq!(
            balance(&p.alice),
            before.0 - 7,
            "round {round}: debit committed"
        );
        if !kill_sender {
            assert_eq!(
                balance(&p.bob),
                before.1 + 7,
                "round {round}: credit committed"
            );
        }
        // Restart the receiver; sync completes anything left pending.
        let (mut rx, addr) = receiver(&p.bob, true);
        dsm(&p.alice)
            .args(["sync", "bob", "--tcp", &addr])
            .assert()
            .success();
        rx.wait().unwrap();
        assert_eq!(
            in_flight(&p.alice),
            0,
            "round {round}: nothing left in flight"
        );
        assert_eq!(
            balance(&p.alice) + balance(&p.bob),
            1000,
            "round {round}: value conserved"
        );
    }
    // Every kill landed after the sender's debit and before its stitch.
    assert_eq!((kills, mid_session), (6, 6));
    let sent = 1000 - balance(&p.alice);
    assert_eq!(sent % 7, 0, "only whole transfers happened");
    assert_eq!(balance(&p.bob), sent);
    assert_eq!(
        sent,
        6 * 7,
        "every interrupted transfer completed after the restart"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The cloning attack through the real binary: a copied wallet directory pays a second
/// payee from the same head; when the payees meet, both hold the proof, and what each holds
/// descends from the parcel spent twice, so neither wallet pays it on; they export the
/// proof, a third wallet imports it, and the cheater is refused.
#[test]
fn cloned_wallet_double_spend_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let [mallory, clone, bob, carol, dave] =
        ["mallory", "clone", "bob", "carol", "dave"].map(|n| dir.path().join(n));
    dsm(&mallory)
        .args(["init", "--name", "mallory", "--dev-faucet", "101"])
        .assert()
        .success();
    for (h, n) in [(&bob, "bob"), (&carol, "carol"), (&dave, "dave")] {
        dsm(h).args(["init", "--name", n]).assert().success();
    }
    for c in [card_of(&bob), card_of(&carol)] {
        dsm(&mallory)
            .args(["contact", "add", &c])
            .assert()
            .success();
    }
    dsm(&bob)
        .args(["contact", "add", &card_of(&carol)])
        .assert()
        .success();
    copy_dir(&mallory, &clone);
    let pay = |payer: &Path, payee: &Path, to: &str, amount: &str| {
        let (mut rx, addr) = receiver(payee, true);
        let out = dsm(payer)
            .args(["send", to, amount, "--tcp", &addr])
            .output()
            .unwrap();
        if !out.status.success() {
            // The sender may have stopped before connecting; do not wait for it forever.
            let _ = rx.kill();
        }
        rx.wait().unwrap();
        out
    };
    assert!(pay(&mallory, &bob, "bob", "100").status.success());
    assert!(pay(&clone, &carol, "carol", "100").status.success());
    // Bob's only CASH is mallory's: when he meets carol their hellos reveal the fork, and
    // carol refuses what descends from the parcel spent twice (a signed LINEAGE refusal).
    let meet = pay(&bob, &carol, "carol", "1");
    assert_eq!(
        meet.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&meet.stderr)
    );
    assert!(
        String::from_utf8_lossy(&meet.stderr).contains("spent twice"),
        "{}",
        String::from_utf8_lossy(&meet.stderr)
    );
    for w in [&bob, &carol] {
        let b = json(dsm(w).arg("balance"));
        assert_eq!(b["balances"][0]["in_conflict"], "100", "{b}");
    }
    let ev = dir.path().join("evidence");
    let listed = stdout(dsm(&bob).args(["evidence", "--export"]).arg(&ev));
    assert!(
        listed.contains("signed two successors of one head"),
        "{listed}"
    );
    assert!(stdout(dsm(&carol).arg("evidence")).contains("signed two successors of one head"));
    let file = std::fs::read_dir(&ev)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    dsm(&dave)
        .args(["evidence", "--import"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("equivocated"));
    let refused = pay(&mallory, &bob, "bob", "1");
    assert_eq!(
        refused.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        balance(&bob) + balance(&carol),
        200,
        "both payees were paid: the double spend is detected, not prevented, offline"
    );
}

#[test]
fn node_serve_answers_health_and_stores_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (node, url) = start_node(&dir.path().join("data"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = agent.get(format!("{url}/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let bytes = b"hello node";
    let addr: String = dsm_node::api::object_address(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        agent
            .put(format!("{url}/v1/objects/{addr}"))
            .send(&bytes[..])
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        agent
            .get(format!("{url}/v1/objects/{addr}"))
            .call()
            .unwrap()
            .into_body()
            .read_to_vec()
            .unwrap(),
        bytes
    );
    drop(node);
}

/// Crossing online transfers through the CLI (PROTOCOL.md §7.6): alice pays bob and bob
/// pays alice, both `--online` before either syncs. Syncing in turn clears both: one is
/// refused with CROSSED and comes back ("send it again"), the other is credited, nothing
/// stays in flight, and both can pay again at once.
#[test]
fn online_transfers_over_https_nodes_with_pinned_keys() {
    let p = pair("100");
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("node.crt"), dir.path().join("node.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let tls = [
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ];
    let nodes: Vec<(NodeProc, String)> = (0..3)
        .map(|i| start_node_with(&dir.path().join(format!("n{i}")), &tls))
        .collect();
    for (_, url) in &nodes {
        assert!(
            url.starts_with("https://127.0.0.1:") && url.contains("#spki-sha256="),
            "the node prints its URL with its key pin: {url}"
        );
    }
    use_nodes(&[&p.alice, &p.bob], &nodes);
    stdout(dsm(&p.alice).args(["send", "bob", "30", "--online"]));
    stdout(dsm(&p.bob).arg("sync"));
    stdout(dsm(&p.alice).arg("sync"));
    assert_eq!((balance(&p.alice), balance(&p.bob)), (70, 30));
    let listed = json(dsm(&p.bob).args(["nodes", "list"]));
    assert_eq!(listed["nodes"].as_array().unwrap().len(), 3);

    // The same node added under plain HTTP, then under HTTPS: one registry line, replaced.
    let (_, first) = &nodes[0];
    let plain = first
        .split('#')
        .next()
        .unwrap()
        .replace("https://", "http://");
    dsm(&p.bob)
        .args(["nodes", "remove", &plain])
        .assert()
        .success();
    dsm(&p.bob)
        .args(["nodes", "add", &plain])
        .assert()
        .success();
    dsm(&p.bob).args(["nodes", "add", first]).assert().success();
    let listed = json(dsm(&p.bob).args(["nodes", "list"]));
    let lines: Vec<&str> = listed["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.contains(&first.as_str()), "{lines:?}");
    stdout(dsm(&p.alice).args(["send", "bob", "5", "--online"]));
    stdout(dsm(&p.bob).arg("sync"));
    assert_eq!(balance(&p.bob), 35);

    // A pin on plain HTTP, and a pin that is not hex, are refused with what to write.
    dsm(&p.bob)
        .args([
            "nodes",
            "add",
            &format!("{plain}#spki-sha256={}", "ab".repeat(32)),
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "a key pin needs https:// (plain HTTP has no key to pin)",
        ));
    dsm(&p.bob)
        .args([
            "nodes",
            "add",
            &format!("{}#spki-sha256=xyz", first.split('#').next().unwrap()),
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("a key pin is 64 hex digits"));
}

#[test]
fn a_self_signed_node_keeps_its_pin_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let flag = ["--tls-self-signed".as_ref()];
    let (first, url) = start_node_with(&data, &flag);
    assert!(
        url.starts_with("https://127.0.0.1:") && url.contains("#spki-sha256="),
        "{url}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's alone");
    }
    // A wallet adds the line and finds the node healthy over pinned TLS.
    let p = pair("1");
    let added = json(dsm(&p.alice).args(["nodes", "add", &url]));
    assert_eq!(added["healthy"], true, "{added}");
    drop(first);
    let (_second, again) = start_node_with(&data, &flag);
    let pin = |u: &str| u.split('#').nth(1).unwrap().to_string();
    assert_eq!(pin(&url), pin(&again), "the same key after a restart");
    // Half a pair (a crash between the two files, or a hand deleting one) is refused with
    // what to do, never replaced silently under wallets that pin the old key.
    let half = dir.path().join("half");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("tls-key.pem"), "x").unwrap();
    assert_cmd::Command::new(bin())
        .args([
            "node",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--data",
        ])
        .arg(&half)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "holds only one of tls-cert.pem and tls-key.pem",
        ));
}

#[test]
fn node_serve_refuses_tls_files_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let serve = |c: &Path, k: &Path| {
        let mut cmd = assert_cmd::Command::new(bin());
        cmd.args(["node", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(c)
            .arg("--tls-key")
            .arg(k);
        cmd
    };
    serve(&junk, &key)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("holds no PEM certificate"));
    serve(&cert, &junk)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("cannot read a private key from"));
    serve(&cert, &key)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "the certificate and the key do not go together",
        ));
    assert_cmd::Command::new(bin())
        .args(["node", "serve", "--tls-cert"])
        .arg(&cert)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tls-key"));
}

#[test]
fn crossing_online_transfers_clear_through_the_cli() {
    let p = pair("100");
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    use_nodes(&[&p.alice, &p.bob], &nodes);
    // Bob gets something to pay with first.
    stdout(dsm(&p.alice).args(["send", "bob", "30", "--online"]));
    stdout(dsm(&p.bob).arg("sync"));
    stdout(dsm(&p.alice).arg("sync"));
    assert_eq!((balance(&p.alice), balance(&p.bob)), (70, 30));
    // Both pay each other before either syncs.
    stdout(dsm(&p.alice).args(["send", "bob", "10", "--online"]));
    stdout(dsm(&p.bob).args(["send", "alice", "4", "--online"]));
    let mut said = String::new();
    for _ in 0..2 {
        said += &stdout(dsm(&p.alice).arg("sync"));
        said += &stdout(dsm(&p.bob).arg("sync"));
    }
    assert!(said.contains("send it again"), "{said}");
    assert_eq!((in_flight(&p.alice), in_flight(&p.bob)), (0, 0), "{said}");
    let held = (balance(&p.alice), balance(&p.bob));
    assert!(
        held == (60, 40) || held == (74, 26),
        "exactly one of the two went through: {held:?}\n{said}"
    );
    // Unlocked both ways.
    stdout(dsm(&p.alice).args(["send", "bob", "1", "--online"]));
    stdout(dsm(&p.bob).arg("sync"));
    stdout(dsm(&p.bob).args(["send", "alice", "1", "--online"]));
    stdout(dsm(&p.alice).arg("sync"));
    stdout(dsm(&p.bob).arg("sync"));
    assert_eq!((balance(&p.alice), balance(&p.bob)), held);
    assert_eq!((in_flight(&p.alice), in_flight(&p.bob)), (0, 0));
}

/// Online through real node processes: registry and replication commands, `send --online`
/// (settled, posted), the modal lock, `sync` on both sides, settlement after an offline
/// session, history's settlement column, and the usage errors around them.
#[test]
fn online_transfers_through_node_processes() {
    let p = pair("100");
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    // Before any node is known.
    dsm(&p.alice)
        .arg("sync")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("dsm nodes add"));
    dsm(&p.alice)
        .args(["nodes", "add", "ftp://example"])
        .assert()
        .code(4);
    dsm(&p.alice)
        .args(["send", "bob", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--online"));
    dsm(&p.bob)
        .args(["receive", "--online"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dsm sync"));
    for home in [&p.alice, &p.bob] {
        let mut add = dsm(home);
        add.args(["nodes", "add"]);
        for (_, url) in &nodes {
            add.arg(url);
        }
        add.assert().success();
    }
    // Three nodes cannot carry the default N = 6.
    dsm(&p.alice)
        .args(["send", "bob", "25", "--online"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("dsm nodes replication"));
    dsm(&p.alice)
        .args(["nodes", "replication", "--n", "3", "--k", "1", "--f", "3"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("exceeds N"));
    for home in [&p.alice, &p.bob] {
        let v = json(dsm(home).args(["nodes", "replication", "--n", "3", "--k", "2", "--f", "0"]));
        assert_eq!((v["n"].as_u64(), v["w"].as_u64()), (Some(3), Some(2)));
    }
    let v = json(dsm(&p.alice).args(["send", "bob", "25", "--online"]));
    assert_eq!(v["settlement"], "settled");
    assert_eq!(v["posted"], 3);
    assert_eq!(balance(&p.alice), 75);
    // More transfers to bob before he answers queue behind the first (PROTOCOL.md §7.7),
    // up to four; a fifth is refused, changing nothing.
    for _ in 0..3 {
        stdout(dsm(&p.alice).args(["send", "bob", "1", "--online"]));
    }
    assert_eq!(in_flight(&p.alice), 4);
    dsm(&p.alice)
        .args(["send", "bob", "1", "--online"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("as many as may queue"));
    assert_eq!(balance(&p.alice), 72);
    let out = stdout(dsm(&p.bob).arg("sync"));
    assert!(out.contains("received 25 DEV from alice"), "{out}");
    assert_eq!(out.matches("received 1 DEV from alice").count(), 3, "{out}");
    assert_eq!(balance(&p.bob), 28);
    let out = stdout(dsm(&p.alice).arg("sync"));
    assert!(out.contains("sent 25 DEV to bob"), "{out}");
    assert_eq!(in_flight(&p.alice), 0);
    let out = stdout(dsm(&p.bob).arg("sync"));
    assert!(out.contains("nothing new"), "{out}");
    let hist = json(dsm(&p.bob).arg("history"));
    assert_eq!(
        hist.as_array().unwrap().last().unwrap()["settlement"],
        "settled"
    );

    // Genesis entropy from the nodes: every node must answer, or nothing is created.
    let carol = dir.path().join("carol");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    dsm(&carol)
        .args([
            "init",
            "--name",
            "carol",
            "--node",
            &nodes[0].1,
            "--node",
            &dead,
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing was created"))
        .stderr(predicate::str::contains(dead.as_str()));
    assert!(
        !carol.join("wallet.redb").exists(),
        "no half-made wallet is left"
    );
    let mut init = dsm(&carol);
    init.args(["init", "--name", "carol"]);
    for (_, url) in &nodes {
        init.args(["--node", url]);
    }
    let v = json(&mut init);
    assert_eq!(v["genesis_nodes"].as_array().unwrap().len(), 3);
    let listed = stdout(dsm(&carol).args(["nodes", "list"]));
    for (_, url) in &nodes {
        assert!(listed.contains(url.as_str()), "{listed}");
    }

    // An offline session: the receiver reports settlement right after it.
    let (rx, addr) = receiver(&p.bob, true);
    stdout(dsm(&p.alice).args(["send", "bob", "5", "--tcp", &addr]));
    let out = rx.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""settlement":"settled""#), "{text}");
    // With every node down, a transfer is final but not settled.
    drop(nodes);
    let (rx, addr) = receiver(&p.bob, true);
    stdout(dsm(&p.alice).args(["send", "bob", "5", "--tcp", &addr]));
    let out = rx.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unsettled"), "{text}");
    assert_eq!(balance(&p.bob), 38);
    assert_eq!(balance(&p.alice), 62);
}

/// Two pty pairs joined master to master: a null-modem cable between two serial devices.
fn null_modem() -> (PathBuf, PathBuf, Vec<std::thread::JoinHandle<()>>) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let mut ends = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..2 {
        let m = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&m).unwrap();
        unlockpt(&m).unwrap();
        paths.push(PathBuf::from(
            ptsname(&m, Vec::new()).unwrap().to_str().unwrap(),
        ));
        ends.push(std::fs::File::from(m));
    }
    let relay = |from: &std::fs::File, to: &std::fs::File| {
        let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })
    };
    let threads = vec![relay(&ends[0], &ends[1]), relay(&ends[1], &ends[0])];
    (paths.remove(0), paths.remove(0), threads)
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The same `dsm send` / `dsm receive` over every `--via` kind, between two processes.
#[test]
fn transfers_over_every_via_kind() {
    let p = pair("100");
    let dir = tempfile::tempdir().unwrap();
    let (serial_a, serial_b, _relay) = null_modem();
    let kinds: Vec<(&str, String, String)> = vec![
        ("tcp", free_port(), String::new()),
        (
            "file",
            dir.path().join("f").display().to_string(),
            String::new(),
        ),
        (
            "qr",
            dir.path().join("qr").display().to_string(),
            String::new(),
        ),
        ("ble-sim", free_port(), String::new()),
        ("nfc-sim", free_port(), String::new()),
        (
            "serial",
            serial_b.display().to_string(),
            serial_a.display().to_string(),
        ),
    ];
    let mut expected = 0;
    for (i, (kind, at, at_sender)) in kinds.iter().enumerate() {
        let (mut rx, _) = spawn_receiver(
            &p.bob,
            &["--via", kind, "--at", at, "--once", "--timeout", "20"],
        );
        let amount = (i + 1).to_string();
        let to = if at_sender.is_empty() { at } else { at_sender };
        let out = dsm(&p.alice)
            .args([
                "send",
                "bob",
                &amount,
                "--via",
                kind,
                "--at",
                to,
                "--timeout",
                "20",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = rx.wait().unwrap();
        assert!(status.success(), "{kind} receiver failed");
        expected += i + 1;
        assert_eq!(balance(&p.bob), expected as u128, "{kind}");
    }
    // --qr-dir is the short form of --via qr --at.
    let qr_dir = dir.path().join("qr2").display().to_string();
    let (mut rx, _) = spawn_receiver(&p.bob, &["--qr-dir", &qr_dir, "--once", "--timeout", "20"]);
    stdout(dsm(&p.alice).args(["send", "bob", "10", "--qr-dir", &qr_dir]));
    assert!(rx.wait().unwrap().success());
    expected += 10;
    assert!(std::fs::read_dir(&qr_dir)
        .unwrap()
        .flatten()
        .any(|session| std::fs::read_dir(session.path())
            .unwrap()
            .flatten()
            .any(|f| f.path().extension().is_some_and(|e| e == "png"))));
    assert_eq!(balance(&p.alice), 100 - expected as u128);
    // Usage errors: a kind without --at, an MTU out of range.
    dsm(&p.alice)
        .args(["send", "bob", "1", "--via", "ble-sim"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--at"));
    dsm(&p.alice)
        .args([
            "send",
            "bob",
            "1",
            "--via",
            "ble-sim",
            "--at",
            "127.0.0.1:1",
            "--mtu",
            "9",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--mtu"));
}

/// `dsm bench --quick` runs every part of the suite to the end (figures come from release
/// runs; this only keeps the command from rotting). Every node request succeeds.
#[test]
fn bench_quick_runs_every_part() {
    let out = Command::new(bin())
        .args(["bench", "--quick"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "## Signatures, receipts, transfers",
        "| ml-dsa-65 |",
        "| slh-dsa-sha2-128f |",
        "## Sparse Merkle tree",
        "## Scaling",
        "| 100000 |",
        "independent pairs",
        "## Storage node",
        "## Tokens: DJTE emission proofs",
        "dBTC deposit proof, 100 headers",
        "vault lock verification",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    for op in [
        "GET small object",
        "PUT new object (fsync)",
        "candidate-list append (fsync)",
    ] {
        let line = text.lines().find(|l| l.contains(op)).unwrap();
        assert!(line.ends_with("| 0 |"), "{line}");
    }
}

fn token_balance(home: &Path, ticker: &str) -> u128 {
    json(dsm(home).args(["token", "list"]))["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["ticker"] == ticker)
        .map(|t| t["balance"].as_str().unwrap().parse().unwrap())
        .unwrap_or(0)
}

/// Sends `amount` of `token` from `from` to contact `to_name` (whose wallet is `to`) over TCP.
fn send_token(from: &Path, to: &Path, to_name: &str, amount: &str, token: &str) {
    let (mut child, addr) = receiver(to, true);
    dsm(from)
        .args(["send", to_name, amount, "--token", token, "--tcp", &addr])
        .assert()
        .success();
    assert!(child.wait().unwrap().success());
}

#[test]
fn tokens_and_emissions_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob, carol) = (
        dir.path().join("alice"),
        dir.path().join("bob"),
        dir.path().join("carol"),
    );
    for (h, n) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        init_named(h, n);
    }
    introduce(&alice, &bob);
    introduce(&alice, &carol);
    introduce(&carol, &bob);
    let policy = dir.path().join("gold.toml");
    std::fs::write(
        &policy,
        "ticker = \"GOLD\"\ncap = 1000\nissuers = [\"self\"]\nburn = \"holder\"\n[[initial]]\nto = \"bob\"\namount = 50\n",
    )
    .unwrap();
    let doc = dir.path().join("gold.dsmpolicy");
    let v = json(
        dsm(&alice)
            .args(["token", "create", "--policy"])
            .arg(&policy)
            .arg("--out")
            .arg(&doc),
    );
    assert_eq!(v["ticker"], "GOLD");
    // Bad policy files are refused with what to fix.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "ticker = \"gold\"\ncap = 10\n").unwrap();
    dsm(&alice)
        .args(["token", "create", "--policy"])
        .arg(&bad)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("ticker"));
    std::fs::write(&bad, "ticker = \"GOLD\"\ncap = 10\ncolour = \"red\"\n").unwrap();
    dsm(&alice)
        .args(["token", "create", "--policy"])
        .arg(&bad)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("colour"));
    // Bob imports the document and claims his initial allocation.
    let v = json(dsm(&bob).args(["token", "import"]).arg(&doc));
    assert_eq!(v["claimed"][0], "50");
    dsm(&alice)
        .args(["token", "mint", "GOLD", "300"])
        .assert()
        .success();
    dsm(&alice)
        .args(["token", "mint", "GOLD", "700"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("cap"));
    dsm(&bob)
        .args(["token", "mint", "GOLD", "1"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not one of GOLD's issuers"));
    // Carol holds no GOLD policy: her wallet refuses the transfer and alice keeps it.
    let (mut child, addr) = receiver(&carol, true);
    dsm(&alice)
        .args(["send", "carol", "5", "--token", "GOLD", "--tcp", &addr])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("refused"));
    let _ = child.wait();
    assert_eq!(token_balance(&alice, "GOLD"), 300);
    dsm(&carol)
        .args(["token", "import"])
        .arg(&doc)
        .assert()
        .success();
    send_token(&alice, &bob, "bob", "100", "GOLD");
    send_token(&alice, &carol, "carol", "20", "GOLD");
    assert_eq!(
        (token_balance(&alice, "GOLD"), token_balance(&bob, "GOLD")),
        (180, 150)
    );
    dsm(&bob)
        .args(["token", "burn", "GOLD", "30"])
        .assert()
        .success();
    dsm(&bob)
        .args(["token", "burn", "GOLD", "1000"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("insufficient"));
    assert_eq!(token_balance(&bob, "GOLD"), 120);
    let hist = stdout(dsm(&bob).arg("history"));
    assert!(
        hist.contains("allocated") && hist.contains("burned"),
        "{hist}"
    );

    // ERA for this network: bob is the storage operator, a join costs 1 GOLD paid to him.
    let nodes = three_nodes(dir.path());
    let era = dir.path().join("era.toml");
    std::fs::write(
        &era,
        "preset = \"era\"\n[gate]\noperators = [\"bob\"]\nk = 1\nfee_token = \"GOLD\"\nfee = 1\n",
    )
    .unwrap();
    let era_doc = dir.path().join("era.dsmpolicy");
    use_nodes(&[&alice, &bob, &carol], &nodes);
    // Everyone syncs: a hop's slots are written by its holder or its receiver (PROTOCOL.md
    // §15.2), and a refresher re-issues settled value only.
    for w in [&alice, &carol, &bob] {
        dsm(w).arg("sync").assert().success();
    }
    // Bob re-issues his GOLD parcels (an initial line, a payment, a burn's change) as one:
    // alice, GOLD's issuer and so its one refresher, checks and signs first.
    dsm(&bob)
        .args(["token", "refresh", "GOLD"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("is not one of them"));
    let req = dir.path().join("bob.dsmrefresh");
    let v = json(
        dsm(&bob)
            .args(["token", "refresh", "GOLD", "--request"])
            .arg(&req),
    );
    assert_eq!(v["amount"], "120");
    assert!(v["parcels"].as_u64().unwrap() >= 2, "{v}");
    let sig = dir.path().join("alice.dsmsig");
    dsm(&carol)
        .args(["token", "refresh-sign"])
        .arg(&req)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "not one of the token's refreshers",
        ));
    let v = json(
        dsm(&alice)
            .args(["token", "refresh-sign"])
            .arg(&req)
            .arg("--out")
            .arg(&sig),
    );
    assert_eq!(v["refresher"], 0);
    dsm(&bob)
        .args(["token", "refresh", "GOLD", "--complete"])
        .arg(&req)
        .arg("--signature")
        .arg(&req)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not a refresher signature"));
    let v = json(
        dsm(&bob)
            .args(["token", "refresh", "GOLD", "--complete"])
            .arg(&req)
            .arg("--signature")
            .arg(&sig),
    );
    assert_eq!(
        (v["amount"].as_str(), v["settlement"].as_str()),
        (Some("120"), Some("settled")),
        "{v}"
    );
    assert_eq!(token_balance(&bob, "GOLD"), 120);
    dsm(&bob)
        .args(["token", "refresh", "GOLD", "--force", "--request"])
        .arg(&req)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("nothing to refresh"));
    // Alice publishes the ERA policy document at the nodes; bob takes the file, carol the nodes' copy.
    let v = json(
        dsm(&alice)
            .args(["token", "create", "--publish", "--policy"])
            .arg(&era)
            .arg("--out")
            .arg(&era_doc),
    );
    let addr = v["published"].as_str().unwrap().to_string();
    dsm(&bob)
        .args(["token", "import"])
        .arg(&era_doc)
        .assert()
        .success();
    dsm(&carol)
        .args(["token", "import", "--from-nodes", &addr])
        .assert()
        .success();
    dsm(&carol)
        .args(["token", "import", "--from-nodes", &"0".repeat(64)])
        .assert()
        .code(4);
    assert_eq!(
        json(dsm(&carol).args(["token", "list"]))["tokens"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Alice paid bob (an operator): she may join; nobody was active, so nothing is emitted.
    let v = json(dsm(&alice).args(["token", "join", "ERA"]));
    assert_eq!(
        (v["index"].as_u64(), v["winner"].is_null()),
        (Some(0), true)
    );
    dsm(&alice)
        .args(["token", "join", "ERA"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already joined"));
    // Carol has not paid an operator yet.
    dsm(&carol)
        .args(["token", "join", "ERA"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("join gate"));
    send_token(&carol, &bob, "bob", "1", "GOLD");
    let v = json(dsm(&carol).args(["token", "join", "ERA"]));
    assert_eq!(v["index"].as_u64(), Some(1));
    assert_eq!(v["winner"]["amount"], "1000000");
    // Alice learns of her win from the nodes and is credited once.
    let v = json(dsm(&alice).arg("emissions"));
    assert_eq!(
        (v["joins"].as_u64(), v["emitted"].as_str()),
        (Some(2), Some("1000000"))
    );
    assert_eq!(
        v["steps"][1]["proof_bytes"].as_u64().map(|b| b < 4096),
        Some(true)
    );
    assert_eq!(token_balance(&alice, "ERA"), 1_000_000);
    json(dsm(&alice).arg("emissions"));
    assert_eq!(token_balance(&alice, "ERA"), 1_000_000);
    let out = stdout(dsm(&alice).args(["emissions", "ERA", "--show", "1"]));
    assert!(out.contains("step #1 proof"), "{out}");
    // ERA moves like any token, to a receiver that verified the emission chain its root
    // is on (a lineage is checked back to its source).
    json(dsm(&carol).arg("emissions"));
    send_token(&alice, &carol, "carol", "250000", "ERA");
    assert_eq!(token_balance(&carol, "ERA"), 250_000);
}

#[test]
fn vaults_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    init_named(&alice, "alice");
    init_named(&bob, "bob");
    introduce(&alice, &bob);
    let policy = dir.path().join("gold.toml");
    std::fs::write(
        &policy,
        "ticker = \"GOLD\"\ncap = 1000\nissuers = [\"self\"]\n",
    )
    .unwrap();
    let doc = dir.path().join("gold.dsmpolicy");
    dsm(&alice)
        .args(["token", "create", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&doc)
        .assert()
        .success();
    dsm(&bob)
        .args(["token", "import"])
        .arg(&doc)
        .assert()
        .success();
    dsm(&alice)
        .args(["token", "mint", "GOLD", "500"])
        .assert()
        .success();
    let nodes = three_nodes(dir.path());
    use_nodes(&[&alice], &nodes);
    let vault = dir.path().join("v.toml");
    std::fs::write(&vault, "token = \"GOLD\"\namount = 120\nbeneficiary = \"bob\"\n[release]\nsha256_of = \"open sesame\"\n[refund]\niterations = 2000\n").unwrap();
    // The lock names bob's slot owner (PROTOCOL.md §18.1), from his identity document:
    // until bob's wallet knows nodes, no node holds it, and nothing is locked.
    dsm(&alice)
        .args(["vault", "create", "--policy"])
        .arg(&vault)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "holds no identity document of that device, which the lock needs",
        ));
    assert_eq!(token_balance(&alice, "GOLD"), 500);
    // Bob's wallet publishes it once it knows nodes; alice's `vault create` fetches it.
    use_nodes(&[&bob], &nodes);
    // Bad vault files are refused with what to fix.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "token = \"GOLD\"\namount = 120\nbeneficiary = \"bob\"\n[release]\nsha256 = \"zz\"\n[refund]\niterations = 1\n").unwrap();
    dsm(&alice)
        .args(["vault", "create", "--policy"])
        .arg(&bad)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("release.sha256"));
    std::fs::write(&bad, "token = \"GOLD\"\namount = 9999\nbeneficiary = \"bob\"\n[release]\niterations = 1\n[refund]\niterations = 1\n").unwrap();
    dsm(&alice)
        .args(["vault", "create", "--policy"])
        .arg(&bad)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("insufficient"));
    let vdoc = dir.path().join("v.dsmvault");
    let v = json(
        dsm(&alice)
            .args(["vault", "create", "--publish", "--policy"])
            .arg(&vault)
            .arg("--out")
            .arg(&vdoc),
    );
    let id = v["vault"].as_str().unwrap().to_string();
    let addr = v["published"].as_str().unwrap().to_string();
    assert_eq!(token_balance(&alice, "GOLD"), 380);
    // Alice's sync publishes her mint in its owned slot (only an issuer may write it,
    // PROTOCOL.md §15.2) and claims the lock's parcel slots.
    dsm(&alice).arg("sync").assert().success();
    dsm(&bob)
        .args(["vault", "import", "--from-nodes", &addr])
        .assert()
        .success();
    // Wrong preimage; the refund branch is not bob's.
    dsm(&bob)
        .args(["vault", "claim", &id[..12], "--preimage", "open says me"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("preimage"));
    dsm(&bob)
        .args(["vault", "refund", &id[..12], "--work", "5000"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("another device"));
    // Alice's refund needs the work allowed.
    dsm(&alice)
        .args(["vault", "refund", &id[..12]])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--work"));
    let v = json(dsm(&bob).args(["vault", "claim", &id[..12], "--preimage", "open sesame"]));
    assert_eq!(
        (v["amount"].as_str(), v["settled"].as_bool()),
        (Some("120"), Some(true))
    );
    assert_eq!(token_balance(&bob, "GOLD"), 120);
    // The vault is taken: alice's refund is refused at the nodes, and her list shows why.
    dsm(&alice)
        .args(["vault", "refund", &id[..12], "--work", "2000"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already resolved"));
    assert_eq!(token_balance(&alice, "GOLD"), 380);
    let l = json(dsm(&alice).args(["vault", "list"]));
    assert_eq!(l["vaults"][0]["status"], "released");
    let s = json(dsm(&bob).args(["vault", "show", &id[..12]]));
    assert_eq!(
        (s["status"].as_str(), s["amount"].as_str()),
        (Some("released"), Some("120"))
    );
    assert!(s["refund"].as_str().unwrap().contains("2000 iterations"));
    dsm(&bob)
        .args(["vault", "show", "0000000000"])
        .assert()
        .code(4);
    let hist = stdout(dsm(&bob).arg("history"));
    assert!(hist.contains("vault-claim"), "{hist}");
}

#[test]
fn dbtc_through_the_cli() {
    use dsm_btc::regtest::{funding, test_key, Chain};
    let dir = tempfile::tempdir().unwrap();
    let (alice, kim) = (dir.path().join("alice"), dir.path().join("kim"));
    init_named(&alice, "alice");
    init_named(&kim, "kim");
    let mut chain = Chain::new();
    let policy = dir.path().join("dbtc.toml");
    std::fs::write(
        &policy,
        format!(
            "preset = \"dbtc\"\n[bitcoin]\nnetwork = \"regtest\"\ncheckpoint_height = 0\ncheckpoint_header = \"{}\"\nd_min = 2\nkeeper = \"{}\"\nkeeper_dsm = \"self\"\n",
            hex::encode(dsm_btc::header_bytes(&chain.checkpoint.header)),
            hex::encode(test_key(3))
        ),
    )
    .unwrap();
    let doc = dir.path().join("dbtc.dsmpolicy");
    dsm(&kim)
        .args(["token", "create", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&doc)
        .assert()
        .success();
    dsm(&alice)
        .args(["token", "import"])
        .arg(&doc)
        .assert()
        .success();
    // Where to pay, and the commitment naming alice.
    let info = json(dsm(&alice).args([
        "btc",
        "deposit-info",
        "--h-claim",
        &"11".repeat(32),
        "--h-refund",
        &"22".repeat(32),
        "--refunder",
        &hex::encode(test_key(4)),
    ]));
    assert!(info["address"].as_str().unwrap().starts_with("bcrt1q"));
    let commitment: [u8; 32] = hex::decode(info["op_return"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let htlc = dsm_btc::Htlc {
        h_claim: [0x11; 32],
        h_refund: [0x22; 32],
        claimer: test_key(3),
        refunder: test_key(4),
    };
    let tx = funding(&htlc, 700_000, &commitment, 1);
    let b = chain.add(vec![tx.clone()]);
    chain.bury(1);
    let ev = chain.evidence(&tx, 0, &htlc, b);
    let ev_file = dir.path().join("deposit.json");
    let ev_json = serde_json::json!({
        "tx": hex::encode(&ev.tx), "vout": 0, "h_claim": hex::encode(htlc.h_claim), "h_refund": hex::encode(htlc.h_refund),
        "claimer": hex::encode(htlc.claimer), "refunder": hex::encode(htlc.refunder),
        "headers": ev.headers.iter().map(hex::encode).collect::<Vec<_>>(), "block_index": b, "merkle_proof": hex::encode(&ev.merkle_proof),
    });
    std::fs::write(&ev_file, ev_json.to_string()).unwrap();
    let v = json(dsm(&alice).args(["btc", "mint"]).arg(&ev_file));
    assert_eq!(v["minted"], "700000");
    dsm(&alice)
        .args(["btc", "mint"])
        .arg(&ev_file)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("already minted"));
    // kim cannot mint alice's deposit.
    dsm(&kim)
        .args(["btc", "mint"])
        .arg(&ev_file)
        .assert()
        .code(4);
    // Withdraw 300,000; kim declines; alice takes it back.
    let req1 = dir.path().join("w1.json");
    dsm(&alice)
        .args(["btc", "withdraw", "300000", "--to-script", "51", "--out"])
        .arg(&req1)
        .assert()
        .success();
    assert_eq!(token_balance(&alice, "DBTC"), 400_000);
    let dec1 = dir.path().join("d1.json");
    dsm(&alice)
        .args(["btc", "decline"])
        .arg(&req1)
        .arg("--out")
        .arg(dir.path().join("x.json"))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not the bridge's keeper"));
    dsm(&kim)
        .args(["btc", "decline"])
        .arg(&req1)
        .arg("--out")
        .arg(&dec1)
        .assert()
        .success();
    dsm(&alice)
        .args(["btc", "refund"])
        .arg(&dec1)
        .assert()
        .success();
    assert_eq!(token_balance(&alice, "DBTC"), 700_000);
    dsm(&alice)
        .args(["btc", "refund"])
        .arg(&dec1)
        .assert()
        .code(4);
    // Withdraw again; kim pays on Bitcoin; the payment makes it final; a late decline cannot refund.
    let req2 = dir.path().join("w2.json");
    let w2 = json(
        dsm(&alice)
            .args(["btc", "withdraw", "250000", "--to-script", "51", "--out"])
            .arg(&req2),
    );
    let id: [u8; 32] = hex::decode(w2["id"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    // Before paying, kim checks the request: it needs the storage nodes (the request's
    // statement must hold its parcels' slots), then it is safe to pay.
    dsm(&kim)
        .args(["btc", "check"])
        .arg(&req2)
        .assert()
        .failure()
        .stderr(predicate::str::contains("dsm nodes add"));
    let nodes = three_nodes(dir.path());
    use_nodes(&[&alice, &kim], &nodes);
    // Alice's sync writes her statements into their owned slots (only she may; the
    // document carries her write for the request's own, PROTOCOL.md §15.2).
    dsm(&alice).arg("sync").assert().success();
    let checked = json(dsm(&kim).args(["btc", "check"]).arg(&req2));
    assert_eq!(checked["safe_to_pay"], true);
    let mut pay = funding(&htlc, 1, &[0; 32], 9);
    pay.output = vec![
        bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(250_000),
            script_pubkey: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
        },
        bitcoin::TxOut {
            value: bitcoin::Amount::ZERO,
            script_pubkey: dsm_btc::commitment_script(&id),
        },
    ];
    let pb = chain.add(vec![pay.clone()]);
    chain.bury(1);
    let pe = chain.evidence(&pay, 0, &htlc, pb);
    let req_doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&req2).unwrap()).unwrap();
    let pay_file = dir.path().join("paid.json");
    std::fs::write(&pay_file, serde_json::json!({
        "request": req_doc["request"], "tx": hex::encode(&pe.tx), "headers": pe.headers.iter().map(hex::encode).collect::<Vec<_>>(),
        "block_index": pb, "merkle_proof": hex::encode(&pe.merkle_proof),
    }).to_string()).unwrap();
    dsm(&alice)
        .args(["btc", "paid"])
        .arg(&pay_file)
        .assert()
        .success();
    let dec2 = dir.path().join("d2.json");
    dsm(&kim)
        .args(["btc", "decline"])
        .arg(&req2)
        .arg("--out")
        .arg(&dec2)
        .assert()
        .success();
    dsm(&alice)
        .args(["btc", "refund"])
        .arg(&dec2)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("paid on Bitcoin"));
    let l = json(dsm(&alice).args(["btc", "withdrawals"]));
    let statuses: Vec<&str> = l["withdrawals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"paid") && statuses.contains(&"refunded"),
        "{statuses:?}"
    );
    assert_eq!(token_balance(&alice, "DBTC"), 450_000);
}

/// `dsm init` shows the phrase once; `dsm recover` restores from it through node processes;
/// typos name the word; the new device waits for the counterparty; `dsm backup status`
/// reports; rerunning a finished recovery changes nothing and a second home is refused.
#[test]
fn recovery_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    let (alice, bob, phone) = (
        dir.path().join("alice"),
        dir.path().join("bob"),
        dir.path().join("new-phone"),
    );
    let created = json(dsm(&alice).args(["init", "--name", "alice", "--dev-faucet", "100"]));
    let phrase = created["recovery_phrase"].as_str().unwrap().to_string();
    assert_eq!(phrase.split(' ').count(), 24);
    init_named(&bob, "bob");
    introduce(&alice, &bob);
    use_nodes(&[&alice, &bob], &nodes);
    // alice issues a token: recovery cannot move that role (the policy names her key).
    token_create(
        &alice,
        "ticker = \"ISS\"\ncap = 10\nissuers = [\"self\"]\n",
        &dir.path().join("iss.dsmpolicy"),
    )
    .assert()
    .success();
    dsm(&alice)
        .args(["send", "bob", "30", "--online"])
        .assert()
        .success();
    stdout(dsm(&bob).arg("sync"));
    stdout(dsm(&alice).arg("sync"));
    let st = json(dsm(&alice).args(["backup", "status"]));
    assert_eq!(st["sealed"], st["uploaded"]);
    assert!(st["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "holds it"));

    // A typo names the word; an unknown phrase finds no backup; nothing is left behind.
    let mut words: Vec<&str> = phrase.split(' ').collect();
    words[6] = "zebraa";
    let recover = |home: &Path, phrase: &str| {
        let mut c = dsm(home);
        c.env("DSM_RECOVERY_PHRASE", phrase).arg("recover");
        for (_, url) in &nodes {
            c.args(["--node", url]);
        }
        // The replication the lost wallet used (`use_nodes`).
        c.args(["--n", "3", "--k", "2", "--f", "0"]);
        c
    };
    recover(&phone, &words.join(" "))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("word 7 (\"zebraa\")"));
    // Without the replication the wallet used, three nodes cannot be its default N = 6:
    // refused with what to pass, never guessed.
    let mut guess = dsm(&phone);
    guess.env("DSM_RECOVERY_PHRASE", &phrase).arg("recover");
    for (_, url) in &nodes {
        guess.args(["--node", url]);
    }
    guess.assert().code(4).stderr(predicate::str::contains(
        "3 storage node(s) named, but keys are placed on N = 6 of the wallet's registry",
    ));
    let mut nonsense = dsm(&phone);
    nonsense
        .env("DSM_RECOVERY_PHRASE", &phrase)
        .args(["recover", "--n", "3", "--k", "5", "--f", "0"]);
    for (_, url) in &nodes {
        nonsense.args(["--node", url]);
    }
    nonsense.assert().code(4).stderr(predicate::str::contains(
        "need 1 ≤ K ≤ N (got N = 3, K = 5)",
    ));
    assert!(!phone.join("wallet.redb").exists());
    recover(&phone, &format!("{}art", "abandon ".repeat(23)))
        .assert()
        .code(5)
        .stderr(predicate::str::contains("no backup was found"));
    assert!(
        !phone.join("wallet.redb").exists(),
        "a failed recovery leaves nothing"
    );

    // It disables the old device for good: a dry run shows what it would do, and without a
    // terminal it needs --yes; neither leaves anything behind.
    let dry = stdout(recover(&phone, &phrase).arg("--dry-run"));
    assert!(dry.contains("backup found: device"), "{dry}");
    assert!(
        dry.contains("dry run: nothing was created or published"),
        "{dry}"
    );
    recover(&phone, &phrase)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("add --yes"));
    assert!(!phone.join("wallet.redb").exists(), "nothing was created");
    let done = recover(&phone, &phrase)
        .args(["--name", "alice-new", "--yes"])
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        String::from_utf8_lossy(&done.stderr).contains("the lost device was an issuer of ISS"),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let out = String::from_utf8(done.stdout).unwrap();
    assert!(out.contains("bob                  waiting"), "{out}");
    assert!(stdout(dsm(&phone).arg("card")).starts_with("dsm-card:v2:alice-new:"));
    dsm(&phone)
        .args(["send", "bob", "1", "--online"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("has not acknowledged"));
    assert!(stdout(dsm(&bob).arg("sync")).contains("acknowledged its successor"));
    assert!(stdout(dsm(&phone).arg("sync")).contains("bob answered: acknowledged"));
    assert_eq!(balance(&phone), 70);
    dsm(&phone)
        .args(["send", "bob", "1", "--online"])
        .assert()
        .success();
    // The recovered value pays on: bob checks its lineage through the succession
    // (PROTOCOL.md §20.3).
    stdout(dsm(&bob).arg("sync"));
    assert_eq!(balance(&bob), 31);
    stdout(dsm(&phone).arg("sync"));
    assert_eq!(balance(&phone), 69);
    assert!(stdout(dsm(&phone).args(["backup", "status"]))
        .contains("bob                  acknowledged"));
    // The lost wallet (found again, or stolen) meets its tombstone at the nodes.
    dsm(&alice)
        .args(["send", "bob", "1", "--online"])
        .assert()
        .code(6)
        .stdout(predicate::str::contains("REFUSED"))
        .stderr(predicate::str::contains("this device was tombstoned"));
    stdout(dsm(&bob).arg("sync"));
    assert_eq!(balance(&bob), 31, "nothing from the tombstoned device");
    // From now on every command on the old device says so.
    dsm(&alice)
        .arg("balance")
        .assert()
        .success()
        .stderr(predicate::str::contains("this device was tombstoned"));
    // Rerunning changes nothing; a second home cannot fork the identity.
    recover(&phone, &phrase).assert().success();
    let mut third = dsm(&dir.path().join("third"));
    third.env("DSM_RECOVERY_PHRASE", &phrase).args([
        "init",
        "--restore",
        "--n",
        "3",
        "--k",
        "2",
        "--f",
        "0",
    ]);
    for (_, url) in &nodes {
        third.args(["--node", url]);
    }
    third
        .assert()
        .failure()
        .stderr(predicate::str::contains("was itself restored"));
    assert!(!dir.path().join("third").join("wallet.redb").exists());
}

/// `dsm backup export|import|unfreeze` (PROTOCOL.md §20.9): the file is private and never
/// silently replaced; an old copy imported as the same device stays frozen (it signs
/// nothing) once the nodes hold something newer; a current copy restores as a successor;
/// another phrase does not open it.
#[test]
fn backup_export_and_import_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    let (alice, bob, copy, phone) = (
        dir.path().join("alice"),
        dir.path().join("bob"),
        dir.path().join("copy"),
        dir.path().join("phone"),
    );
    let created = json(dsm(&alice).args(["init", "--name", "alice", "--dev-faucet", "100"]));
    let phrase = created["recovery_phrase"].as_str().unwrap().to_string();
    init_named(&bob, "bob");
    introduce(&alice, &bob);
    use_nodes(&[&alice, &bob], &nodes);
    let (old, new) = (dir.path().join("old.bak"), dir.path().join("new.bak"));
    let exported = json(dsm(&alice).args(["backup", "export"]).arg(&old));
    assert!(exported["bytes"].as_u64().unwrap() > 1000, "{exported}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&old).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup is private");
    }
    dsm(&alice)
        .args(["backup", "export"])
        .arg(&old)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--force"));
    // After the export alice pays online and syncs: the nodes now hold newer state.
    dsm(&alice)
        .args(["send", "bob", "30", "--online", "--token", "DEV"])
        .assert()
        .success();
    stdout(dsm(&bob).arg("sync"));
    stdout(dsm(&alice).arg("sync"));

    // The old copy as the same device: restored, but frozen for good.
    let restored = json(
        dsm(&copy)
            .env("DSM_RECOVERY_PHRASE", &phrase)
            .args(["backup", "import", "--same-device"])
            .arg(&old),
    );
    assert_eq!(restored["frozen"], true, "{restored}");
    assert!(
        restored["why"]
            .as_str()
            .unwrap()
            .contains("must never sign again"),
        "{restored}"
    );
    for args in [
        vec!["send", "bob", "1", "--token", "DEV", "--yes", "--online"],
        vec!["backup", "unfreeze"],
    ] {
        dsm(&copy)
            .args(&args)
            .assert()
            .code(3)
            .stderr(predicate::str::contains("frozen"));
    }
    // The same old file as a successor is refused: the nodes hold a newer backup.
    dsm(&phone)
        .env("DSM_RECOVERY_PHRASE", &phrase)
        .args(["backup", "import", "--yes"])
        .arg(&old)
        .assert()
        .failure()
        .stderr(predicate::str::contains("newer backup"));
    assert!(!phone.join("wallet.redb").exists(), "nothing was created");

    // Another phrase does not open the file.
    dsm(&phone)
        .env(
            "DSM_RECOVERY_PHRASE",
            format!("{}art", "abandon ".repeat(23)),
        )
        .args(["backup", "import", "--yes"])
        .arg(&old)
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "does not open with this recovery phrase",
        ));

    // A current export restores as a successor that replaces alice's device.
    json(dsm(&alice).args(["backup", "export"]).arg(&new));
    let dry = stdout(
        dsm(&phone)
            .env("DSM_RECOVERY_PHRASE", &phrase)
            .args(["backup", "import", "--dry-run"])
            .arg(&new),
    );
    assert!(dry.contains("backup found: device"), "{dry}");
    assert!(
        !phone.join("wallet.redb").exists(),
        "a dry run creates nothing"
    );
    let done = stdout(
        dsm(&phone)
            .env("DSM_RECOVERY_PHRASE", &phrase)
            .args(["backup", "import", "--yes", "--name", "alice-new"])
            .arg(&new),
    );
    assert!(
        done.contains("recovered identity onto this device"),
        "{done}"
    );
    let bal = json(dsm(&phone).arg("balance"));
    assert_eq!(bal["balances"][0]["amount"], "70", "{bal}");
}

/// v2 cards (PROTOCOL.md §12.6): a card commits to the device's identity document; with
/// storage nodes, `contact add` fetches and checks it at once when it is published, else
/// the next `sync` does.
#[test]
fn a_v2_cards_identity_document_is_fetched_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| {
        let h = dir.path().join(n);
        init_named(&h, n);
        h
    });
    use_nodes(&[&bob, &carol], &nodes);
    let card = card_of(&alice);
    assert!(card.starts_with("dsm-card:v2:alice:"), "{card}");
    // Not published yet (alice has no nodes): added, checked at the next sync.
    let added = json(dsm(&bob).args(["contact", "add", &card]));
    assert_eq!(added["document"], "fetched at the next sync", "{added}");
    // Alice's wallet publishes it as soon as its registry can carry it.
    let mut add = dsm(&alice);
    add.args(["nodes", "add"]);
    for (_, url) in &nodes {
        add.arg(url);
    }
    add.assert().success();
    dsm(&alice)
        .args(["nodes", "replication", "--n", "3", "--k", "2", "--f", "0"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "published this device's identity document",
        ));
    dsm(&bob)
        .arg("sync")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "checked and stored alice's identity document",
        ));
    // Published: checked at once.
    let added = json(dsm(&carol).args(["contact", "add", &card]));
    assert_eq!(added["document"], "checked", "{added}");
}
