//! `dsm ui`: a web wallet for one wallet home, served on loopback from the same binary
//! (issue 20). Plain server-rendered HTML; the only script is the page's receipt verifier.
//!
//! ```text
//!  browser ──HTTP──▶ gate (Host, cookie, Origin, Sec-Fetch-Site) ──▶ page handler
//!                                                                     │ one job at a time
//!                                                         wallet task ◀┘ (owns the one Wallet)
//! ```
//!
//! - **One wallet, one writer.** The wallet is opened (and its file locked) before the URL
//!   is printed, by the one thread that owns it until `dsm ui` exits; every page and every
//!   change is a job that thread runs in order. So the CLI says "in use" meanwhile, and two
//!   requests can never sign two successors of one head.
//! - **Forms send once.** Every form carries a nonce (random, keyed by the server's secret)
//!   that a POST uses up: a resubmit, a Back or a double click is refused, never paid
//!   twice. Every POST answers with a redirect to a page (POST/redirect/GET), and GET never
//!   changes the wallet.
//! - **The server never judges a receipt for the page.** A receipt page carries the
//!   receipt's bytes; the page's script decodes and verifies them and shows only what it
//!   decoded (issue 20, review point 1).

mod gate;
mod pages;

use crate::wallet_cmd::{CliError, Ctx, OpenWallet, Res};
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gate::{Facts, Gate, Refusal};
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// The Content-Security-Policy of every answer: scripts, styles and workers only from this
/// server (no inline script or style, no eval), nothing framed, forms only to itself.
const CSP: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Used form nonces remembered (older ones are refused as unknown by then: their MAC still
/// verifies, so the oldest are kept longest a user could plausibly resubmit).
const NONCES_KEPT: usize = 4096;
/// The largest QR image upload (a photo of a card is far smaller; its pixels are bounded
/// again by `dsm_qr::decode_png`).
const QR_UPLOAD_MAX: usize = 8 * 1024 * 1024;
/// How long a receive started from the page waits for a sender.
const RECEIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(120);
/// Messages shown after a POST's redirect.
const FLASHES_KEPT: usize = 64;

type Job = Box<dyn FnOnce(&mut OpenWallet) + Send>;

/// The server's state, shared by every request.
pub(crate) struct Ui {
    gate: Gate,
    /// Keys the form nonces' MAC (never leaves the process).
    nonce_key: [u8; 32],
    used_nonces: Mutex<(HashSet<String>, VecDeque<String>)>,
    /// Nonces made so far (the first half of each).
    issued: AtomicU64,
    flashes: Mutex<VecDeque<(String, String)>>,
    jobs: mpsc::Sender<Job>,
    /// What a session started from the page (a receive, or a QR send) is doing, read
    /// without the wallet, so its progress page answers while the wallet task is busy.
    link_job: Arc<Mutex<LinkJob>>,
}

/// The progress of a session the page started; one at a time, as the wallet has one task.
#[derive(Default)]
pub(crate) struct LinkJob {
    /// A session is running.
    pub active: bool,
    /// `receive` or `send`: the page that shows it.
    pub kind: &'static str,
    /// What it did so far, for people, oldest first.
    pub log: Vec<String>,
    /// Where a QR send writes its frames, once it has started.
    pub frames: Option<std::path::PathBuf>,
}

impl LinkJob {
    /// Claims the link for a new session of `kind`; false while another runs.
    fn start(&mut self, kind: &'static str, first: String) -> bool {
        if self.active {
            return false;
        }
        *self = LinkJob {
            active: true,
            kind,
            log: vec![first],
            frames: None,
        };
        true
    }

    /// This page's log: the running or last session, if it is of `kind`.
    fn shown(&self, kind: &str) -> (bool, Vec<String>) {
        if self.kind == kind {
            (self.active, self.log.clone())
        } else {
            (false, Vec::new())
        }
    }
}

fn random_hex() -> Res<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| {
        CliError::new(
            crate::wallet_cmd::exit::FAILURE,
            format!("no randomness: {e}"),
        )
    })?;
    Ok(hex::encode(b))
}

impl Ui {
    /// A fresh form nonce: a counter and 8 random bytes, with their MAC under the
    /// server's key. The counter alone keeps nonces distinct (all a nonce must be, besides
    /// made here), so a failing random source costs nothing but unpredictability.
    fn nonce(&self) -> String {
        let mut r = [0u8; 16];
        r[..8].copy_from_slice(&self.issued.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let _ = getrandom::fill(&mut r[8..]);
        let mac = blake3::keyed_hash(&self.nonce_key, &r);
        format!("{}{}", hex::encode(r), &mac.to_hex()[..32])
    }

    /// Uses up a nonce: true once for each nonce this server made, false for a forged,
    /// damaged or already used one.
    fn use_nonce(&self, nonce: &str) -> bool {
        // ASCII first: slicing a string of multi-byte characters at 32 would panic.
        if nonce.len() != 64 || !nonce.is_ascii() {
            return false;
        }
        let Ok(r) = hex::decode(&nonce[..32]) else {
            return false;
        };
        let mac = blake3::keyed_hash(&self.nonce_key, &r);
        if !gate::eq_ct(mac.to_hex()[..32].as_bytes(), &nonce.as_bytes()[32..]) {
            return false;
        }
        let mut used = self.used_nonces.lock().unwrap_or_else(|e| e.into_inner());
        if !used.0.insert(nonce.to_string()) {
            return false;
        }
        used.1.push_back(nonce.to_string());
        if used.1.len() > NONCES_KEPT {
            if let Some(old) = used.1.pop_front() {
                used.0.remove(&old);
            }
        }
        true
    }

    /// Keeps a message for the page a POST redirects to; returns its id.
    fn flash(&self, msg: String) -> String {
        let id = self.nonce()[..16].to_string();
        let mut f = self.flashes.lock().unwrap_or_else(|e| e.into_inner());
        f.push_back((id.clone(), msg));
        if f.len() > FLASHES_KEPT {
            f.pop_front();
        }
        id
    }

    fn flash_text(&self, id: Option<&str>) -> Option<String> {
        let id = id?;
        let f = self.flashes.lock().unwrap_or_else(|e| e.into_inner());
        f.iter().find(|(i, _)| i == id).map(|(_, m)| m.clone())
    }

    /// Runs `f` on the wallet task, after every job before it.
    async fn wallet<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut OpenWallet) -> R + Send + 'static,
    ) -> Result<R, Response> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |w| {
                let _ = tx.send(f(w));
            }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

impl Ui {
    /// A change, POST/redirect/GET: uses up the form's nonce (a used or forged one does
    /// nothing and answers 409), runs `f` on the wallet task, and redirects to `back` with
    /// what `f` says happened.
    async fn change(
        &self,
        nonce: &str,
        back: &str,
        f: impl FnOnce(&mut OpenWallet) -> String + Send + 'static,
    ) -> Response {
        if !self.use_nonce(nonce) {
            return already_sent(back);
        }
        match self.wallet(f).await {
            Ok(msg) => see_other(&format!("{back}?done={}", self.flash(msg))),
            Err(r) => r,
        }
    }
}

fn stopped() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        pages::problem("The wallet task stopped (see the terminal running `dsm ui`)."),
    )
        .into_response()
}

/// The address `dsm ui` listens on, checked: loopback only.
pub(crate) fn check_listen(addr: &str) -> Res<SocketAddr> {
    let a: SocketAddr = addr.parse().map_err(|_| {
        crate::wallet_cmd::input(format!(
            "--listen {addr}: give an address and port, e.g. 127.0.0.1:8765 (port 0: any free port)"
        ))
    })?;
    if !a.ip().is_loopback() {
        return Err(crate::wallet_cmd::input(format!(
            "--listen {addr}: the web wallet serves loopback only (127.0.0.1 or [::1]); anyone who can reach it could use the wallet"
        )));
    }
    Ok(a)
}

/// `dsm ui [--listen ADDR]`: opens the wallet, then serves the web wallet until Ctrl-C.
pub fn serve(ctx: Ctx, listen: &str) -> Res {
    let addr = check_listen(listen)?;
    // The wallet task opens (and locks) the wallet first: a wrong passphrase or a wallet in
    // use ends here, before anything listens.
    let (jobs, job_rx) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Res<()>>(1);
    let task = std::thread::spawn(move || {
        let mut w = match ctx.open() {
            Ok(w) => {
                let _ = ready_tx.send(Ok(()));
                w
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        for job in job_rx {
            job(&mut w);
        }
    });
    ready_rx.recv().map_err(|_| {
        CliError::new(
            crate::wallet_cmd::exit::FAILURE,
            "the wallet task ended before opening the wallet",
        )
    })??;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| crate::wallet_cmd::input(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let mut nonce_key = [0u8; 32];
    getrandom::fill(&mut nonce_key).map_err(|e| {
        CliError::new(
            crate::wallet_cmd::exit::FAILURE,
            format!("no randomness: {e}"),
        )
    })?;
    let login = random_hex()?;
    let ui = Arc::new(Ui {
        gate: Gate::new(bound.port(), login.clone(), random_hex()?),
        nonce_key,
        used_nonces: Mutex::new((HashSet::new(), VecDeque::new())),
        issued: AtomicU64::new(0),
        flashes: Mutex::new(VecDeque::new()),
        jobs,
        link_job: Arc::new(Mutex::new(LinkJob::default())),
    });
    let host = match bound {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    // The one place the login token is ever shown. It works once. Written with its errors
    // ignored: a reader that closes stdout after the first line (a script taking the URL)
    // must not end the server, as `println!` would by panicking on the broken pipe.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "dsm ui: open http://{host}/login?token={login}\n(the link works once; stop with Ctrl-C)\n"
        );
        let _ = out.flush();
    }
    let app = router(ui);
    rt.block_on(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    drop(rt);
    let _ = task.join();
    Ok(())
}

fn router(ui: Arc<Ui>) -> Router {
    Router::new()
        .route("/login", get(login))
        .route("/", get(home))
        .route("/history", get(history))
        .route("/receipt/{id}", get(receipt))
        .route("/contacts", get(contacts).post(add_contact))
        .route("/send", get(send_form).post(send))
        .route("/send/qr", get(send_qr_page))
        .route("/send/frame.png", get(send_frame))
        .route("/sync", post(sync))
        .route("/card.png", get(card_png))
        .route(
            "/contacts/qr",
            post(add_contact_qr).layer(axum::extract::DefaultBodyLimit::max(QR_UPLOAD_MAX)),
        )
        .route("/tokens", get(tokens))
        .route("/tokens/import", post(import_token))
        .route("/tokens/change", post(change_token))
        .route("/status", get(status))
        .route("/nodes", post(add_node))
        .route("/receive", get(receive_page).post(receive))
        .route("/assets/ui.css", get(css))
        .route("/assets/ui.js", get(js))
        .route("/assets/verify.js", get(verifier))
        .route("/verify", get(verify_page))
        .layer(middleware::from_fn_with_state(ui.clone(), guard))
        .with_state(ui)
}

fn facts<'a>(method: &Method, h: &'a HeaderMap) -> Facts<'a> {
    let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    Facts {
        safe_method: method == Method::GET || method == Method::HEAD,
        host: text(header::HOST),
        origin: text(header::ORIGIN),
        fetch_site: h.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        cookies: text(header::COOKIE),
    }
}

/// Every request passes here: the gate's checks (the login handler checks its own token),
/// then the same security headers on every answer, refusals included.
async fn guard(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let judged = if req.uri().path() == "/login" {
        // Host only; the token is the login handler's to check.
        let f = facts(req.method(), req.headers());
        ui.gate.check_host(&f)
    } else {
        ui.gate.check(&facts(req.method(), req.headers()))
    };
    let mut res = match judged {
        Ok(()) => next.run(req).await,
        Err(r) => refused(r),
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Not `no-referrer`: under it a browser sends `Origin: null` with every form POST
    // (Fetch, "append a request Origin header"), so the page's own forms would fail the
    // Origin check. `same-origin` sends nothing to other sites either, and no URL here
    // holds a secret (the login token is redirected away at once).
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

fn refused(r: Refusal) -> Response {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN);
    (status, pages::problem(r.message())).into_response()
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

async fn login(
    State(ui): State<Arc<Ui>>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    match ui.gate.login(&facts(&method, &headers), q.token.as_deref()) {
        Ok(()) => {
            let mut res = see_other("/");
            if let Ok(v) = HeaderValue::from_str(&ui.gate.set_cookie()) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(r) => refused(r),
    }
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[derive(serde::Deserialize)]
struct FlashQuery {
    done: Option<String>,
}

async fn home(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let nonce = ui.nonce();
    ui.wallet(move |w| pages::home(w, &nonce, flash.as_deref()))
        .await
        .unwrap_or_else(|r| r)
}

async fn history(State(ui): State<Arc<Ui>>) -> Response {
    ui.wallet(pages::history).await.unwrap_or_else(|r| r)
}

async fn receipt(State(ui): State<Arc<Ui>>, Path(id): Path<String>) -> Response {
    ui.wallet(move |w| pages::receipt(w, &id))
        .await
        .unwrap_or_else(|r| r)
}

async fn contacts(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let nonce = ui.nonce();
    ui.wallet(move |w| pages::contacts(w, &nonce, flash.as_deref()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(serde::Deserialize)]
struct AddContact {
    nonce: String,
    card: String,
    name: Option<String>,
}

/// The answer to a form whose nonce was used already (or forged): nothing was done.
fn already_sent(back: &str) -> Response {
    (
        StatusCode::CONFLICT,
        pages::problem_with_link(
            "This form was already sent (or is not from this page); nothing was done again.",
            back,
        ),
    )
        .into_response()
}

/// Adds a card to the wallet; what happened, for people.
fn add_card(w: &mut OpenWallet, card: &str, name: Option<String>) -> String {
    crate::wallet_cmd::add_card(w, card, name, false)
        .map(|a| format!("{} (identity document: {})", a.what, a.document))
        .unwrap_or_else(|e| format!("Not added: {}", e.msg))
}

async fn add_contact(State(ui): State<Arc<Ui>>, Form(f): Form<AddContact>) -> Response {
    let name = f
        .name
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.trim().to_string());
    let card = f.card.trim().to_string();
    ui.change(&f.nonce, "/contacts", move |w| add_card(w, &card, name))
        .await
}

async fn send_form(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let nonce = ui.nonce();
    ui.wallet(move |w| pages::send_form(w, &nonce, flash.as_deref()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(serde::Deserialize)]
struct SendForm {
    nonce: String,
    to: String,
    token: Option<String>,
    amount: String,
    how: String,
    dir: Option<String>,
}

async fn send(State(ui): State<Arc<Ui>>, Form(f): Form<SendForm>) -> Response {
    if f.how == "qr" {
        return send_qr(ui, f).await;
    }
    let nonce = f.nonce.clone();
    ui.change(&nonce, "/send", move |w| {
        pages::send(
            w,
            &f.to,
            f.token.as_deref(),
            &f.amount,
            &f.how,
            f.dir.as_deref(),
            &|_| {},
        )
    })
    .await
}

/// Starts a send as QR frames on the wallet task and answers at once: the QR page shows
/// the frames while the session runs.
async fn send_qr(ui: Arc<Ui>, f: SendForm) -> Response {
    if !ui.use_nonce(&f.nonce) {
        return already_sent("/send");
    }
    if !ui
        .link_job
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .start("send", "Preparing the frames…".into())
    {
        return see_other(&format!(
            "/send?done={}",
            ui.flash("Another session is running; wait for it to end.".into())
        ));
    }
    let progress = ui.link_job.clone();
    let job: Job = Box::new(move |w| {
        let frames = |dir: &std::path::Path| {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            p.frames = Some(dir.to_path_buf());
            p.log
                .push("Showing the frames; waiting for the receiver…".into());
        };
        let said = pages::send(
            w,
            &f.to,
            f.token.as_deref(),
            &f.amount,
            "qr",
            f.dir.as_deref(),
            &frames,
        );
        let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
        p.log.push(said);
        p.active = false;
        p.frames = None;
    });
    if ui.jobs.send(job).is_err() {
        return stopped();
    }
    see_other("/send/qr")
}

async fn send_qr_page(State(ui): State<Arc<Ui>>) -> Response {
    let (active, log) = ui
        .link_job
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .shown("send");
    pages::send_qr(active, &log)
}

#[derive(serde::Deserialize)]
struct FrameQuery {
    i: Option<u64>,
}

/// Frame `i` (cycling) of the message a QR send is showing now: the PNGs its link wrote
/// for its latest message (`d-<seq>-<n>.png`, §13.5). 404 while there is none.
async fn send_frame(State(ui): State<Arc<Ui>>, Query(q): Query<FrameQuery>) -> Response {
    let dir = ui
        .link_job
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .frames
        .clone();
    let frame = dir.and_then(|dir| {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("d-") && n.ends_with(".png"))
            .collect();
        names.sort();
        let seq = names.last()?.get(..8)?.to_string();
        names.retain(|n| n.starts_with(&seq));
        let i = usize::try_from(q.i.unwrap_or(0)).unwrap_or(0) % names.len();
        std::fs::read(dir.join(&names[i])).ok()
    });
    match frame {
        Some(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        None => (StatusCode::NOT_FOUND, "no frame is being shown").into_response(),
    }
}

#[derive(serde::Deserialize)]
struct NonceOnly {
    nonce: String,
}

async fn sync(State(ui): State<Arc<Ui>>, Form(f): Form<NonceOnly>) -> Response {
    ui.change(&f.nonce, "/", pages::sync).await
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/ui.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/ui.js"),
    )
        .into_response()
}

async fn card_png(State(ui): State<Arc<Ui>>) -> Response {
    let png = ui
        .wallet(|w| {
            let card = w.summary().map_err(|e| e.to_string())?.card;
            dsm_qr::render_png(card.as_bytes(), 6).map_err(|e| e.to_string())
        })
        .await;
    match png {
        Ok(Ok(b)) => ([(header::CONTENT_TYPE, "image/png")], b).into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::problem(&format!("cannot draw the card's QR code: {e}")),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// A contact added from a QR image: multipart fields `nonce`, `image` (PNG) and `name`.
async fn add_contact_qr(State(ui): State<Arc<Ui>>, mut form: axum::extract::Multipart) -> Response {
    let (mut nonce, mut image, mut name) = (String::new(), Vec::new(), None);
    loop {
        match form.next_field().await {
            Ok(Some(f)) => {
                let field = f.name().unwrap_or_default().to_string();
                let Ok(bytes) = f.bytes().await else {
                    return already_sent("/contacts");
                };
                match field.as_str() {
                    "nonce" => nonce = String::from_utf8_lossy(&bytes).into_owned(),
                    "image" => image = bytes.to_vec(),
                    "name" => name = Some(String::from_utf8_lossy(&bytes).trim().to_string()),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    pages::problem_with_link(&format!("unreadable upload: {e}"), "/contacts"),
                )
                    .into_response()
            }
        }
    }
    let name = name.filter(|n| !n.is_empty());
    ui.change(&nonce, "/contacts", move |w| match crate::wallet_cmd::card_in_image(&image) {
        Some(card) => add_card(w, &card, name),
        None => "Not added: the image holds no readable QR code of a contact card (a PNG, at most 8 MiB)".into(),
    })
    .await
}

async fn tokens(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let nonce = ui.nonce();
    ui.wallet(move |w| pages::tokens(w, &nonce, flash.as_deref()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(serde::Deserialize)]
struct ImportForm {
    nonce: String,
    address: String,
}

async fn import_token(State(ui): State<Arc<Ui>>, Form(f): Form<ImportForm>) -> Response {
    let nonce = f.nonce.clone();
    ui.change(&nonce, "/tokens", move |w| {
        pages::import_token(w, &f.address)
    })
    .await
}

#[derive(serde::Deserialize)]
struct ChangeForm {
    nonce: String,
    what: String,
    token: String,
    amount: String,
}

async fn change_token(State(ui): State<Arc<Ui>>, Form(f): Form<ChangeForm>) -> Response {
    let nonce = f.nonce.clone();
    ui.change(&nonce, "/tokens", move |w| {
        pages::change_token(w, &f.what, &f.token, &f.amount)
    })
    .await
}

async fn status(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let nonce = ui.nonce();
    ui.wallet(move |w| pages::status(w, &nonce, flash.as_deref()))
        .await
        .unwrap_or_else(|r| r)
}

#[derive(serde::Deserialize)]
struct NodeForm {
    nonce: String,
    url: String,
}

async fn add_node(State(ui): State<Arc<Ui>>, Form(f): Form<NodeForm>) -> Response {
    let nonce = f.nonce.clone();
    ui.change(&nonce, "/status", move |w| pages::add_node(w, &f.url))
        .await
}

/// The receive page: its progress, read without the wallet (which is busy while it
/// receives), refreshed every two seconds while a receive runs.
async fn receive_page(State(ui): State<Arc<Ui>>, Query(q): Query<FlashQuery>) -> Response {
    let flash = ui.flash_text(q.done.as_deref());
    let (active, log) = ui
        .link_job
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .shown("receive");
    pages::receive(&ui.nonce(), active, &log, flash.as_deref())
}

#[derive(serde::Deserialize)]
struct ReceiveForm {
    nonce: String,
    dir: String,
}

/// Starts one receive through a shared directory on the wallet task and answers at once;
/// the receive page shows its progress.
async fn receive(State(ui): State<Arc<Ui>>, Form(f): Form<ReceiveForm>) -> Response {
    if !ui.use_nonce(&f.nonce) {
        return already_sent("/receive");
    }
    let dir = f.dir.trim().to_string();
    if dir.is_empty() {
        return see_other(&format!(
            "/receive?done={}",
            ui.flash("Give the shared directory the sender writes to.".into())
        ));
    }
    let first = format!(
        "Waiting up to {} s for a sender in {dir}…",
        RECEIVE_WAIT.as_secs()
    );
    if !ui
        .link_job
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .start("receive", first)
    {
        return see_other(&format!(
            "/receive?done={}",
            ui.flash("Another session is running; wait for it to end.".into())
        ));
    }
    let progress = ui.link_job.clone();
    let job: Job = Box::new(move |w| {
        let note = |m: String| {
            progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .log
                .push(m)
        };
        match dsm_transport::DirLink::accept(std::path::Path::new(&dir), RECEIVE_WAIT) {
            Ok(mut link) => {
                note("A sender arrived; checking its transfers…".into());
                let r = dsm_wallet::driver::run(
                    &mut dsm_protocol::session::Session::listener(),
                    &mut **w,
                    &mut link,
                );
                for c in &r.completed {
                    note(crate::wallet_cmd::describe(w, c).0);
                }
                for x in &r.refused {
                    note(format!(
                        "refused a transfer ({:?})",
                        x.refusal.refusal.reason
                    ));
                }
                if let Some(e) = &r.error {
                    note(format!("the session ended early: {e}"));
                }
                if r.completed.is_empty() && r.refused.is_empty() && r.error.is_none() {
                    note("The sender had nothing to send.".into());
                }
            }
            Err(e) => note(format!("No sender came: {e}")),
        }
        progress.lock().unwrap_or_else(|e| e.into_inner()).active = false;
    });
    if ui.jobs.send(job).is_err() {
        return stopped();
    }
    see_other("/receive")
}

/// The receipt verifier: web/verify's committed bundle, byte for byte (`.ci/run` rebuilds it
/// and fails if it differs), so `cargo build` never runs npm.
async fn verifier() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../../web/verify/dist/verify.js"),
    )
        .into_response()
}

async fn verify_page() -> Response {
    pages::verify_file()
}
