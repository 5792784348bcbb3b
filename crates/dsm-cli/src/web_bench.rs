//! `dsm bench web`: the web wallet's receipt verifier (web/verify, JavaScript) against the
//! Rust verifier, in the same run, on the same vector receipts: per suite, the time of a
//! receipt's stateless checks (PROTOCOL.md §7.3 checks 1–8) and of its two signature
//! verifications alone, and the share of that signature-bound limit each reaches.

use dsm_core::codec::Canonical;
use dsm_core::receipt::{verify_receipt_bytes, EmptyView, Receipt};
use std::path::Path;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

fn per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    let (start, mut n) = (Instant::now(), 0u32);
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() * 1e3 / f64::from(n.max(1))
}

/// Runs the comparison from the repository at `repo` (where `web/verify` and the vector
/// file are); needs `node` on PATH.
pub fn run(repo: &Path) -> Result<(), Error> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; timings are meaningless. Use `cargo run --release -p dsm-cli -- bench web`.");
    }
    let vectors = repo.join("crates/dsm-core/tests/vectors/dsm-v1.txt");
    let text = std::fs::read_to_string(&vectors).map_err(|e| {
        format!(
            "cannot read {} ({e}): run from the repository root or pass --repo DIR",
            vectors.display()
        )
    })?;
    let vector = |name: &str| -> Result<Vec<u8>, Error> {
        let line = text
            .lines()
            .find(|l| l.split('\t').next() == Some(name))
            .ok_or_else(|| format!("no vector {name}"))?;
        Ok(hex::decode(line.split('\t').nth(2).unwrap_or_default())?)
    };
    println!(
        "## Receipt verification: Rust and the web wallet's JavaScript (same run, same receipts)\n"
    );
    let node = std::process::Command::new("node")
        .arg(repo.join("web/verify/bench.mjs"))
        .arg("--json")
        .output()
        .map_err(|e| format!("cannot run node ({e}); the JavaScript half needs Node.js ≥ 20.19"))?;
    if !node.status.success() {
        return Err(format!(
            "web/verify/bench.mjs failed: {}",
            String::from_utf8_lossy(&node.stderr)
        )
        .into());
    }
    let js: serde_json::Value = serde_json::from_slice(&node.stdout)?;
    let mut receipts = Vec::new();
    println!("| suite | Rust: receipt | Rust: its 2 signatures | Rust share | JavaScript: receipt | JavaScript: its 2 signatures | JavaScript share | JavaScript / Rust |");
    println!("|---|---|---|---|---|---|---|---|");
    for suite in ["ml-dsa-65", "slh-dsa-sha2-128f"] {
        let bytes = vector(&format!("{suite}.ab.receipt"))?;
        receipts.push((suite, hex::encode(&bytes)));
        let r = Receipt::from_bytes(&bytes)?;
        verify_receipt_bytes(&bytes, &EmptyView)?;
        let budget = Duration::from_secs(2);
        let receipt = per_call(budget, || {
            std::hint::black_box(verify_receipt_bytes(&bytes, &EmptyView).is_ok());
        });
        let (pc, ac) = (
            r.proposal.proposal.commit(),
            r.acceptance.acceptance.commit(),
        );
        let (pk, rk) = (
            &r.proposal.proposal.sender.public_key,
            &r.acceptance.acceptance.receiver.public_key,
        );
        let sigs = per_call(budget, || {
            std::hint::black_box(pk.verify(pc.as_bytes(), &r.proposal.signature).is_ok());
            std::hint::black_box(rk.verify(ac.as_bytes(), &r.acceptance.signature).is_ok());
        });
        let j = &js[suite];
        let (jr, js_sigs) = (
            j["receipt_ms"].as_f64().unwrap_or(f64::NAN),
            j["signatures_ms"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "| {suite} | {receipt:.3} ms | {sigs:.3} ms | {:.0} % | {jr:.2} ms | {js_sigs:.2} ms | {:.0} % | {:.1}× |",
            100.0 * sigs / receipt,
            100.0 * js_sigs / jr,
            jr / receipt
        );
    }
    in_chromium(repo, &receipts)?;
    page_load()
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The same receipts verified by the same bundle in a page of headless Chromium (driven
/// through WebDriver): a page that loads `dist/verify.js` from disk and times
/// `DsmVerify.verifyReceipt` on each for two seconds.
fn in_chromium(repo: &Path, receipts: &[(&str, String)]) -> Result<(), Error> {
    println!(
        "\n## The same receipts in a page of headless Chromium (the bundle `dsm ui` serves)\n"
    );
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!("Not measured: {CHROMIUM} and {CHROMEDRIVER} are needed (Debian: `apt-get install chromium chromium-driver`).");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    std::fs::copy(
        repo.join("web/verify/dist/verify.js"),
        dir.path().join("verify.js"),
    )?;
    let table: serde_json::Map<String, serde_json::Value> = receipts
        .iter()
        .map(|(s, h)| (s.to_string(), serde_json::Value::String(h.clone())))
        .collect();
    std::fs::write(
        dir.path().join("bench.js"),
        format!(
            "const R = {};\n\
             const out = {{}};\n\
             for (const [suite, hex] of Object.entries(R)) {{\n\
               const b = DsmVerify.hexToBytes(hex);\n\
               if (!DsmVerify.verifyReceipt(b).valid) {{ out[suite] = null; continue; }}\n\
               let n = 0; const t0 = performance.now();\n\
               while (performance.now() - t0 < 2000) {{ DsmVerify.verifyReceipt(b); n++; }}\n\
               out[suite] = (performance.now() - t0) / n;\n\
             }}\n\
             document.title = JSON.stringify(out);\n",
            serde_json::Value::Object(table)
        ),
    )?;
    std::fs::write(
        dir.path().join("bench.html"),
        "<!doctype html><meta charset=\"utf-8\"><title>running</title>\
         <script src=\"verify.js\"></script><script src=\"bench.js\"></script>",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut driver = std::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let result = drive(port, dir.path());
    let _ = driver.kill();
    let _ = driver.wait();
    let times = result?;
    println!("| suite | receipt in the page |");
    println!("|---|---|");
    for (suite, _) in receipts {
        match times[*suite].as_f64() {
            Some(ms) => println!("| {suite} | {ms:.2} ms |"),
            None => println!("| {suite} | refused (the bundle is out of date?) |"),
        }
    }
    Ok(())
}

/// One WebDriver session on `port`: opens `dir/bench.html` and waits for its result.
fn drive(port: u16, dir: &Path) -> Result<serde_json::Value, Error> {
    use serde_json::{json, Value};
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let call = |method: &str, path: &str, body: Option<Value>| -> Result<Value, Error> {
        let url = format!("{base}{path}");
        let mut res = match method {
            "GET" => agent.get(&url).call(),
            "DELETE" => agent.delete(&url).call(),
            _ => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        }?;
        let v: Value = serde_json::from_str(&res.body_mut().read_to_string()?)?;
        match v["value"].get("error") {
            Some(e) => Err(format!("WebDriver {path}: {e} {}", v["value"]["message"]).into()),
            None => Ok(v["value"].clone()),
        }
    };
    let start = Instant::now();
    while call("GET", "/status", None).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err("chromedriver did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = dir.join("profile");
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", format!("--user-data-dir={}", profile.display())]
        }
    }}});
    let session = call("POST", "/session", Some(caps))?["sessionId"]
        .as_str()
        .ok_or("no WebDriver session")?
        .to_string();
    let s = format!("/session/{session}");
    let page = format!("file://{}", dir.join("bench.html").display());
    let mut result = Err::<Value, Error>("the page gave no result in 60 s".into());
    if call("POST", &format!("{s}/url"), Some(json!({ "url": page }))).is_ok() {
        while start.elapsed() < Duration::from_secs(60) {
            let title = call("GET", &format!("{s}/title"), None)?;
            if let Some(t) = title.as_str().filter(|t| t.starts_with('{')) {
                result = Ok(serde_json::from_str(t)?);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let _ = call("DELETE", &s, None);
    result
}

/// One HTTP/1.1 GET on loopback with `headers`; returns the status and the body's length.
fn get(port: u16, path: &str, headers: &str) -> Result<(u16, usize), Error> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    Ok((status, body))
}

/// Page load on loopback: a throwaway wallet's `dsm ui`, its balances page and the
/// verifier bundle, each fetched on a fresh connection, as a browser without a cache does.
fn page_load() -> Result<(), Error> {
    use std::io::BufRead;
    let exe = std::env::current_exe()?;
    let home = tempfile::tempdir()?;
    let dsm = || {
        let mut c = std::process::Command::new(&exe);
        c.env("DSM_HOME", home.path())
            .env("DSM_PASSPHRASE", "bench passphrase")
            .stderr(std::process::Stdio::null());
        c
    };
    let ok = dsm()
        .args(["init", "--name", "bench", "--dev-faucet", "1000"])
        .stdout(std::process::Stdio::null())
        .status()?;
    if !ok.success() {
        return Err("cannot create the bench wallet".into());
    }
    let mut ui = dsm()
        .args(["ui", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    // Kept open while the server runs (it may still be writing its second line).
    let mut out = std::io::BufReader::new(ui.stdout.take().ok_or("no stdout")?);
    out.read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or("dsm ui printed no URL")?
        .to_string();
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("no port in the URL")?;
    let path = url
        .split(&format!(":{port}"))
        .nth(1)
        .unwrap_or("/")
        .to_string();
    // The login's Set-Cookie, read from a raw exchange.
    let cookie = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)
            .map_err(|e| format!("login: {e}"))?;
        raw.lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .ok_or("no cookie from the login")?
            .to_string()
    };
    let header = format!("Cookie: {cookie}\r\n");
    println!("\n## Page load, loopback (a fresh connection per request, no cache)\n");
    println!("| request | bytes | time |");
    println!("|---|---|---|");
    for path in ["/", "/history", "/assets/verify.js"] {
        let (status, len) = get(port, path, &header).map_err(|e| format!("GET {path}: {e}"))?;
        if status != 200 {
            let _ = ui.kill();
            return Err(format!("{path} answered {status}").into());
        }
        let t = per_call(Duration::from_secs(1), || {
            let _ = get(port, path, &header);
        });
        println!("| GET {path} | {len} | {t:.2} ms |");
    }
    let _ = ui.kill();
    let _ = ui.wait();
    Ok(())
}
