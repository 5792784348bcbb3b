//! `dsm ui`, the web wallet, through real HTTP against the real binary: who gets in (Host,
//! the one-time login, the session cookie, Origin and Sec-Fetch-Site on every change), one
//! wallet and one writer (the CLI says "in use"; a form sent twice pays once), and paying
//! online and offline from the page.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

/// One HTTP/1.1 exchange, headers exactly as given (no Host added: the tests forge it).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut h = headers.to_vec();
    if method == "POST" {
        h.push(("Content-Type", "application/x-www-form-urlencoded"));
    }
    http_bytes(port, method, path, &h, body.as_bytes())
}

fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A signed-in browser: the cookie the login gave, and the host it used.
struct Browser {
    port: u16,
    host: String,
    cookie: String,
}

impl Browser {
    fn login(ui: &UiProc) -> Browser {
        let host = format!("127.0.0.1:{}", ui.port);
        let a = http(
            ui.port,
            "GET",
            &format!("/login?token={}", ui.login),
            &[("Host", &host)],
            "",
        );
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.header("location"), Some("/"));
        let set = a.header("set-cookie").unwrap().to_string();
        assert!(
            set.starts_with(&format!("dsm_ui_{}=", ui.port))
                && set.contains("HttpOnly")
                && set.contains("SameSite=Strict"),
            "{set}"
        );
        Browser {
            port: ui.port,
            host,
            cookie: set.split(';').next().unwrap().to_string(),
        }
    }

    fn get(&self, path: &str) -> Answer {
        http(
            self.port,
            "GET",
            path,
            &[("Host", &self.host), ("Cookie", &self.cookie)],
            "",
        )
    }

    /// A POST as the page itself sends it.
    fn post(&self, path: &str, body: &str) -> Answer {
        self.post_as(path, "application/x-www-form-urlencoded", body.as_bytes())
    }

    /// A POST as the page sends it, with this content type.
    fn post_as(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let origin = format!("http://{}", self.host);
        http_bytes(
            self.port,
            "POST",
            path,
            &[
                ("Host", &self.host),
                ("Cookie", &self.cookie),
                ("Origin", &origin),
                ("Sec-Fetch-Site", "same-origin"),
                ("Content-Type", content_type),
            ],
            body,
        )
    }

    /// The nonce of the first form on `path`.
    fn nonce(&self, path: &str) -> String {
        let page = self.get(path);
        assert_eq!(page.status, 200, "{}", page.body);
        let at = page.body.find("name=\"nonce\" value=\"").unwrap() + 20;
        page.body[at..at + 64].to_string()
    }
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn wallet(dir: &Path, name: &str, faucet: Option<&str>) -> std::path::PathBuf {
    let home = dir.join(name);
    let mut c = dsm(&home);
    c.args(["init", "--name", name]);
    if let Some(f) = faucet {
        c.args(["--dev-faucet", f]);
    }
    c.assert().success();
    home
}

#[test]
fn only_the_signed_in_page_gets_in_and_changes_need_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let alice = wallet(dir.path(), "alice", Some("100"));
    let ui = start_ui(&alice);
    let port = ui.port;
    let host = format!("127.0.0.1:{port}");

    // Before the login: no session.
    let a = http(port, "GET", "/", &[("Host", &host)], "");
    assert_eq!(a.status, 401);
    assert!(
        a.body.contains("open the URL that `dsm ui` printed"),
        "{}",
        a.body
    );
    // A wrong token, and a right token under a rebinding Host, are refused and do not use
    // the token up.
    let a = http(port, "GET", "/login?token=00", &[("Host", &host)], "");
    assert_eq!(a.status, 401);
    let evil = format!("evil.example:{port}");
    let a = http(
        port,
        "GET",
        &format!("/login?token={}", ui.login),
        &[("Host", &evil)],
        "",
    );
    assert_eq!(a.status, 421);
    let b = Browser::login(&ui);
    // The token works once.
    let a = http(
        port,
        "GET",
        &format!("/login?token={}", ui.login),
        &[("Host", &host)],
        "",
    );
    assert_eq!(a.status, 401);
    assert!(a.body.contains("already used"), "{}", a.body);

    // Signed in: every page, with the security headers on each.
    for path in [
        "/",
        "/history",
        "/contacts",
        "/send",
        "/receive",
        "/tokens",
        "/status",
    ] {
        let a = b.get(path);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        let csp = a.header("content-security-policy").unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(a.header("referrer-policy"), Some("same-origin"));
        assert_eq!(a.header("cache-control"), Some("no-store"));
    }
    assert!(b.get("/").body.contains("100"), "the balance shows");
    // The same cookie under another Host (DNS rebinding), or another port's cookie name.
    let a = http(
        port,
        "GET",
        "/",
        &[("Host", &evil), ("Cookie", &b.cookie)],
        "",
    );
    assert_eq!(a.status, 421);
    let other = b.cookie.replace(&format!("dsm_ui_{port}"), "dsm_ui_1");
    let a = http(port, "GET", "/", &[("Host", &host), ("Cookie", &other)], "");
    assert_eq!(a.status, 401);

    // A change (a sync) needs the exact Origin and same-origin fetch metadata.
    let nonce = b.nonce("/");
    let body = form(&[("nonce", &nonce)]);
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut h = vec![("Host", host.as_str()), ("Cookie", b.cookie.as_str())];
        if let Some(o) = origin {
            h.push(("Origin", o));
        }
        if let Some(s) = site {
            h.push(("Sec-Fetch-Site", s));
        }
        http(port, "POST", "/sync", &h, &body)
    };
    let own = format!("http://{host}");
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    for (origin, site, status) in [
        (None, Some("same-origin"), 403),
        (Some("null"), Some("same-origin"), 403),
        (Some("http://evil.example"), Some("same-origin"), 403),
        (Some(other_port.as_str()), Some("same-origin"), 403),
        (Some(own.as_str()), None, 403),
        (Some(own.as_str()), Some("cross-site"), 403),
        (Some(own.as_str()), Some("same-site"), 403),
    ] {
        let a = post(origin, site);
        assert_eq!(a.status, status, "{origin:?} {site:?}: {}", a.body);
    }
    // The refused posts did not use the nonce up: the page's own post goes through once.
    let a = b.post("/sync", &body);
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(a.header("location").unwrap().starts_with("/?done="));
    let again = b.post("/sync", &body);
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already sent"), "{}", again.body);
    // A forged nonce.
    let forged = form(&[("nonce", &"0".repeat(64))]);
    assert_eq!(b.post("/sync", &forged).status, 409);
    // 64 bytes of multi-byte characters (a slice at byte 32 would split one).
    let forged = form(&[("nonce", &"é".repeat(32))]);
    assert_eq!(b.post("/sync", &forged).status, 409);
    let forged = form(&[("nonce", &format!("a{}b", "é".repeat(31)))]);
    assert_eq!(b.post("/sync", &forged).status, 409);
    // GET never changes state: a GET to a POST route is not a way in.
    assert_eq!(b.get("/sync").status, 405);
}

#[test]
fn the_wallet_is_locked_while_the_web_wallet_runs() {
    let dir = tempfile::tempdir().unwrap();
    let alice = wallet(dir.path(), "alice", Some("100"));
    let bob = wallet(dir.path(), "bob", None);
    introduce(&alice, &bob);
    {
        let _ui = start_ui(&alice);
        dsm(&alice)
            .args(["send", "bob", "1", "--online", "--yes"])
            .assert()
            .code(3)
            .stderr(predicates::str::contains("in use"));
    }
    // And the reverse: `dsm ui` does not start while `dsm receive` holds the wallet.
    let (rx, _) = receiver(&alice, false);
    dsm(&alice)
        .args(["ui", "--listen", "127.0.0.1:0"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("in use"));
    stop_cleanly(rx);
    // Loopback only.
    dsm(&alice)
        .args(["ui", "--listen", "0.0.0.0:0"])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("loopback only"));
}

/// A script that reads the URL and closes stdout (or a terminal that went away) does not
/// stop the server: its lines are written with errors ignored, never by a `println!`
/// that panics on the broken pipe.
#[test]
fn the_web_wallet_keeps_serving_when_its_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let alice = wallet(dir.path(), "alice", None);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(bin())
        .env("DSM_HOME", &alice)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["ui", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Closed before the wallet is even open, so every line it writes meets a broken pipe.
    drop(child.stdout.take());
    let host = format!("127.0.0.1:{port}");
    let mut answer = None;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            answer = Some(http(port, "GET", "/", &[("Host", &host)], ""));
            break;
        }
    }
    let still = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(still, None, "the server ended when its stdout closed");
    assert_eq!(answer.expect("the server listens").status, 401);
}

#[test]
fn the_web_wallet_adds_a_contact_and_pays_online_once_per_form() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path());
    let alice = wallet(dir.path(), "alice", Some("1000"));
    let bob = wallet(dir.path(), "bob", None);
    use_nodes(&[&alice, &bob], &nodes);
    dsm(&bob)
        .args(["contact", "add", &card_of(&alice)])
        .assert()
        .success();
    let bob_card = card_of(&bob);
    let ui = start_ui(&alice);
    let b = Browser::login(&ui);

    // Add bob by pasting his card.
    let a = b.post(
        "/contacts",
        &form(&[
            ("nonce", &b.nonce("/contacts")),
            ("card", &bob_card),
            ("name", ""),
        ]),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(a.header("location").unwrap());
    assert!(page.body.contains("added contact bob"), "{}", page.body);

    // One send form posted twice at once: exactly one payment.
    let nonce = b.nonce("/send");
    let body = form(&[
        ("nonce", &nonce),
        ("to", "bob"),
        ("token", "DEV"),
        ("amount", "250"),
        ("how", "online"),
        ("dir", ""),
    ]);
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let h: Vec<_> = (0..2).map(|_| s.spawn(|| b.post("/send", &body))).collect();
        h.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, vec![303, 409]);
    let done = answers.iter().find(|a| a.status == 303).unwrap();
    let page = b.get(done.header("location").unwrap());
    assert!(
        page.body.contains("Sent 250 DEV to bob online"),
        "{}",
        page.body
    );
    let home = b.get("/");
    assert!(home.body.contains("750"), "{}", home.body);
    assert!(
        home.body.contains("waiting for its receiver"),
        "{}",
        home.body
    );

    // Bob collects it; alice's sync (from the page) completes and settles it.
    dsm(&bob).arg("sync").assert().success();
    let a = b.post("/sync", &form(&[("nonce", &b.nonce("/"))]));
    assert_eq!(a.status, 303);
    let page = b.get(a.header("location").unwrap());
    assert!(page.body.contains("Synced:"), "{}", page.body);
    assert!(page.body.contains("Nothing in flight"), "{}", page.body);
    let history = b.get("/history");
    assert!(history.body.contains("settled"), "{}", history.body);

    // The receipt page carries the receipt's exact bytes for the page's verifier, and no
    // verdict from the server.
    let at = history.body.find("href=\"/receipt/").unwrap() + 15;
    let id: String = history.body[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    let page = b.get(&format!("/receipt/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    drop(ui);
    let file = dir.path().join("r.dsmr");
    dsm(&alice)
        .args(["receipt", &id[..16], "--out"])
        .arg(&file)
        .assert()
        .success();
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        page.body
            .contains(&format!("data-receipt=\"{}\"", hex::encode(&bytes))),
        "the page carries the stored receipt's bytes"
    );
    assert!(page.body.contains("data-state=\"checking\""));
    assert!(!page.body.to_lowercase().contains(">valid<"));
}

/// A multipart/form-data body of text fields and one PNG file field `image`.
fn multipart(fields: &[(&str, &str)], image: &[u8]) -> (String, Vec<u8>) {
    let boundary = "dsmtestboundary7x";
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"card.png\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(image);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

#[test]
fn the_web_wallet_adds_a_card_from_its_qr_image_and_receives_offline() {
    let dir = tempfile::tempdir().unwrap();
    let alice = wallet(dir.path(), "alice", None);
    let bob = wallet(dir.path(), "bob", Some("100"));
    dsm(&bob)
        .args(["contact", "add", &card_of(&alice)])
        .assert()
        .success();
    let png = dir.path().join("bob.png");
    dsm(&bob)
        .args(["card", "--png"])
        .arg(&png)
        .assert()
        .success();
    let ui = start_ui(&alice);
    let b = Browser::login(&ui);

    // The wallet's own card as a QR image, and bob's card added from his.
    let own = b.get("/card.png");
    assert_eq!(own.status, 200);
    assert_eq!(own.header("content-type"), Some("image/png"));
    let not_png = multipart(
        &[("nonce", &b.nonce("/contacts")), ("name", "")],
        b"not a png",
    );
    let a = b.post_as("/contacts/qr", &not_png.0, &not_png.1);
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(a.header("location").unwrap());
    assert!(
        page.body.contains("holds no readable QR code"),
        "{}",
        page.body
    );
    let (ct, body) = multipart(
        &[("nonce", &b.nonce("/contacts")), ("name", "bobby")],
        &std::fs::read(&png).unwrap(),
    );
    let a = b.post_as("/contacts/qr", &ct, &body);
    assert_eq!(a.status, 303, "{}", a.body);
    let page = b.get(a.header("location").unwrap());
    assert!(page.body.contains("added contact bobby"), "{}", page.body);

    // Receive one session through a shared directory while bob sends from the CLI.
    let link = dir.path().join("link");
    std::fs::create_dir(&link).unwrap();
    let a = b.post(
        "/receive",
        &form(&[
            ("nonce", &b.nonce("/receive")),
            ("dir", link.to_str().unwrap()),
        ]),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let waiting = b.get("/receive");
    assert!(
        waiting.body.contains("Waiting up to 120 s"),
        "{}",
        waiting.body
    );
    assert!(waiting.body.contains("http-equiv=\"refresh\""));
    dsm(&bob)
        .args(["send", "alice", "30", "--file"])
        .arg(&link)
        .arg("--yes")
        .assert()
        .success();
    let mut page = b.get("/receive");
    for _ in 0..100 {
        if !page.body.contains("http-equiv=\"refresh\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        page = b.get("/receive");
    }
    assert!(
        page.body.contains("received 30 DEV from bobby"),
        "{}",
        page.body
    );
    assert!(b.get("/").body.contains("30"));

    // And back as QR frames: the page shows the frames while bob's `dsm receive --via qr`
    // reads them from the shared directory.
    let qr = dir.path().join("qr");
    std::fs::create_dir(&qr).unwrap();
    let mut rx = std::process::Command::new(bin())
        .env("DSM_HOME", &bob)
        .env("DSM_PASSPHRASE", "test passphrase")
        .args(["receive", "--via", "qr", "--at"])
        .arg(&qr)
        .arg("--once")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let a = b.post(
        "/send",
        &form(&[
            ("nonce", &b.nonce("/send")),
            ("to", "bobby"),
            ("amount", "10"),
            ("how", "qr"),
            ("dir", qr.to_str().unwrap()),
        ]),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), Some("/send/qr"));
    let (mut page, mut frames) = (b.get("/send/qr"), 0);
    for i in 0..300 {
        let f = b.get(&format!("/send/frame.png?i={i}"));
        if f.status == 200 {
            assert_eq!(f.header("content-type"), Some("image/png"));
            assert!(f.body.contains("IHDR"), "a PNG");
            frames += 1;
        }
        page = b.get("/send/qr");
        if !page.body.contains("http-equiv=\"refresh\"") {
            break;
        }
        if frames == 0 {
            assert!(page.body.contains("data-frames"), "{}", page.body);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(rx.wait().unwrap().success(), "bob received");
    assert!(
        frames > 0,
        "the page showed the frames while the session ran"
    );
    assert!(
        page.body.contains("Sent 10 DEV to bobby offline: final"),
        "{}",
        page.body
    );
    assert_eq!(
        b.get("/send/frame.png?i=0").status,
        404,
        "no frame once it ended"
    );
    // A second session's form while none runs is the ordinary form again.
    assert!(b.get("/send").body.contains("how-qr"));
}
