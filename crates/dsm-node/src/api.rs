//! The HTTP API (PROTOCOL.md §15). Handlers check addressing, sizes and quotas, then call
//! the store on a blocking thread (writes fsync). Errors are JSON `{"error": "..."}` with a
//! precise status code.

use crate::store::{Id, NodeStore, PutObject, PutSlot, Quotas, StoreError};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_core::slot::{B0xOp, B0xRead, OwnedPut, MAX_READ_ENTRIES};
use serde::Deserialize;
use std::sync::Arc;

/// The largest object, slot value, b0x item or evidence accepted, in bytes: room for the
/// largest encoding the protocol lets a client put here — an equivocation proof (two
/// statements of up to 128 KiB each) and an owned-slot write (a 232 KiB body with its
/// authorization); the build fails if either stops fitting.
pub const MAX_ITEM_LEN: usize = 320 * 1024;
const _: () =
    assert!(<dsm_core::tripwire::EquivocationProof as Canonical>::MAX_ENCODED_LEN <= MAX_ITEM_LEN);
const _: () = assert!(<OwnedPut as Canonical>::MAX_ENCODED_LEN <= MAX_ITEM_LEN);
const _: () = assert!(<B0xRead as Canonical>::MAX_ENCODED_LEN <= MAX_ITEM_LEN);
/// The most items one list request returns.
pub const MAX_LIST: usize = 256;
/// A b0x or candidate-list listing returns no entry past the one that brings its answer
/// over this many bytes (PROTOCOL.md §15), so one answer stays small however large the
/// entries: a stranger who fills a b0x with 256 items of the body cap cannot make one
/// listing 78 MB.
pub const MAX_LIST_READ_BYTES: usize = 1024 * 1024;

/// A running node's shared state.
pub struct Node<S: NodeStore> {
    store: S,
    quotas: Quotas,
    metrics: crate::metrics::Metrics,
    rationing: crate::ration::Rationing,
    budget: crate::ration::StoreBudget,
    /// The store's size as last read, grown by every write since, and when it was read.
    stored: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
    /// Bytes each slot owner wrote into the budget's headroom since the process started
    /// (an owner past its share there is refused). An entry appears only with a write that
    /// landed in the headroom, so the map is bounded by the headroom's size over the
    /// smallest owned write (a signed write is several KiB).
    headroom_used: std::sync::Mutex<std::collections::HashMap<Id, u64>>,
}

impl<S: NodeStore> Node<S> {
    /// A node over `store` that rations no one (tests and benchmarks that drive it hard
    /// from one address; `dsm node serve` uses [`Node::with_limits`]).
    pub fn new(store: S, quotas: Quotas) -> Arc<Self> {
        Node::with_limits(
            store,
            quotas,
            crate::ration::RationLimits::unlimited(),
            crate::ration::StoreBudget::unlimited(),
        )
    }

    /// A node over `store` rationing each client by `limits` and the store by `budget`
    /// (PROTOCOL.md §15).
    pub fn with_limits(
        store: S,
        quotas: Quotas,
        limits: crate::ration::RationLimits,
        budget: crate::ration::StoreBudget,
    ) -> Arc<Self> {
        Arc::new(Node {
            store,
            quotas,
            metrics: Default::default(),
            rationing: crate::ration::Rationing::new(limits),
            budget,
            stored: std::sync::Mutex::new((0, None)),
            headroom_used: Default::default(),
        })
    }

    /// The per-client rationing.
    pub fn rationing(&self) -> &crate::ration::Rationing {
        &self.rationing
    }
}

/// The answer to a request that rationing refused: 429, JSON, retry in a second.
pub fn rationed_response(why: crate::ration::Rationed) -> Response {
    let mut r = ApiError(StatusCode::TOO_MANY_REQUESTS, why.message().into()).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

/// Every error answer as JSON `{"error": …}` (a 409 keeps its body: the stored bytes): the
/// router's own answers (a body cut off at the size cap, a method a route does not take, a
/// request that timed out) come as plain text from the HTTP libraries; they are rewritten
/// here with what to do.
pub fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    // JSON already, or the stored bytes a 409 returns on purpose.
    let ours = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes() == b"application/octet-stream"
    });
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return resp;
    }
    let what = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the body is over the {MAX_ITEM_LEN}-byte cap")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method; see PROTOCOL.md §15 for the API".into()
        }
        StatusCode::REQUEST_TIMEOUT => {
            "the request was not received and answered in time; send it again".into()
        }
        s => s
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string(),
    };
    let mut out = ApiError(status, what).into_response();
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = resp.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The address of an object: `H(ObjectAddress, bytes)` (see [`dsm_core::hash::object_address`]).
pub fn object_address(bytes: &[u8]) -> Id {
    *dsm_core::hash::object_address(bytes).as_bytes()
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": self.1 }).to_string(),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Quota(_) => ApiError(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            StoreError::Backend(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            StoreError::Refused(why) => ApiError(
                StatusCode::FORBIDDEN,
                format!("{why}; an owned slot takes writes signed by a key its owner admits (PROTOCOL.md §15.2)"),
            ),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn id(what: &str, hex: &str) -> Result<Id, ApiError> {
    dsm_core::hash::Digest::from_hex(hex)
        .map(|d| *d.as_bytes())
        .ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("{what} must be 64 hex digits, got {hex:?}"),
            )
        })
}

fn sized(body: &Bytes) -> Result<(), ApiError> {
    if body.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the body is empty".into(),
        ));
    }
    if body.len() > MAX_ITEM_LEN {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is {} bytes, over the {MAX_ITEM_LEN}-byte cap",
                body.len()
            ),
        ));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
}

fn octets(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response()
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Healthy only when the store answers a real lookup within two seconds: a node whose
/// database is gone (a dead PostgreSQL connection, a failing disk) says so (503), rather
/// than answering 200 while every data request fails.
async fn health<S: NodeStore>(State(n): State<Arc<Node<S>>>) -> Response {
    let probe = blocking(move || n.store.get_object(&[0; 32]));
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node's store does not answer: {}", e.1),
        )
        .into_response(),
        Err(_) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node's store did not answer within 2 s".into(),
        )
        .into_response(),
    }
}

async fn metrics<S: NodeStore>(State(n): State<Arc<Node<S>>>) -> ApiResult {
    let n2 = n.clone();
    let (objects, slots, b0x, evidence) = blocking(move || n2.store.counts()).await?;
    let stored = stored_estimate(&n).await?;
    let mut text = n
        .metrics
        .render((objects, slots, b0x, evidence), n.rationing.refused());
    text.push_str(&crate::metrics::store_bytes(stored, n.budget.max_bytes));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn get_object<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path(addr): Path<String>,
) -> ApiResult {
    let addr = id("the object address", &addr)?;
    match blocking(move || n.store.get_object(&addr)).await? {
        Some(b) => Ok(octets(StatusCode::OK, b)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            "no object at this address".into(),
        )),
    }
}

async fn put_object<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path(addr): Path<String>,
    body: Bytes,
) -> ApiResult {
    let addr = id("the object address", &addr)?;
    sized(&body)?;
    if object_address(&body) != addr {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the bytes do not hash to this address (address = H(\"DSM/v1/object-address\", bytes))"
                .into(),
        ));
    }
    Ok(
        match blocking(move || n.store.put_object(&addr, &body)).await? {
            PutObject::Created => StatusCode::CREATED.into_response(),
            PutObject::Exists => StatusCode::OK.into_response(),
        },
    )
}

/// An append to candidate list (topic, key) (PROTOCOL.md §15.3): anyone may append; the
/// same bytes again are "already there" (200) with their sequence number.
async fn list_append<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path((topic, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let (topic, key) = (id("the list topic", &topic)?, id("the list key", &key)?);
    sized(&body)?;
    let a = blocking(move || n.store.list_append(&topic, &key, &body)).await?;
    let status = if a.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, serde_json::json!({ "seq": a.seq })))
}

/// A candidate list's entries after `after`, encoded as b0x listings are.
async fn list_read<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path((topic, key)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let (topic, key) = (id("the list topic", &topic)?, id("the list key", &key)?);
    let (after, limit) = (
        q.after.unwrap_or(0),
        q.limit.unwrap_or(MAX_LIST).min(MAX_LIST),
    );
    let entries = blocking(move || {
        n.store
            .list_read(&topic, &key, after, limit, MAX_LIST_READ_BYTES)
    })
    .await?;
    let mut out = Vec::new();
    for (seq, b) in entries {
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
    }
    Ok(octets(StatusCode::OK, out))
}

async fn get_owned<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path((owner, key)): Path<(String, String)>,
) -> ApiResult {
    let (owner, key) = (id("the slot owner", &owner)?, id("the slot key", &key)?);
    match blocking(move || n.store.get_slot(&owner, &key)).await? {
        Some(b) => Ok(octets(StatusCode::OK, b)),
        None => Err(ApiError(StatusCode::NOT_FOUND, "the slot is empty".into())),
    }
}

/// An owned-slot write (PROTOCOL.md §15.2): stored only if its signer is admitted to the
/// slot's owner and its signature covers this slot and body. First writer wins; a second
/// write of the same body (under any valid signature) is "already there".
async fn put_owned<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path((owner, key)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let (owner, key) = (id("the slot owner", &owner)?, id("the slot key", &key)?);
    sized(&body)?;
    let put = OwnedPut::from_bytes(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("the body is not an owned-slot write (PROTOCOL.md §15.2): {e}"),
        )
    })?;
    // Signature checks run on the blocking pool, like the store.
    let put = blocking(move || {
        put.check(&Digest(owner), &Digest(key))
            .map(|()| put)
            .map_err(|e| StoreError::Refused(e.to_string()))
    })
    .await?;
    let outcome = blocking(move || n.store.put_slot(&owner, &key, &body)).await?;
    Ok(match outcome {
        PutSlot::Created => StatusCode::CREATED.into_response(),
        PutSlot::Same => StatusCode::OK.into_response(),
        PutSlot::Conflict(existing) => match OwnedPut::from_bytes(&existing) {
            Ok(e) if e.body == put.body => StatusCode::OK.into_response(),
            _ => octets(StatusCode::CONFLICT, existing),
        },
    })
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn b0x_append<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path(recipient): Path<String>,
    poster: Option<axum::Extension<crate::ration::ClientKey>>,
    body: Bytes,
) -> ApiResult {
    let recipient = id("the recipient", &recipient)?;
    sized(&body)?;
    let quotas = n.quotas;
    // The client as rationing keys it (set by `serve`); a request that did not come
    // through it (a router driven directly) shares one unknown poster.
    let poster = poster.map(|p| p.0.to_bytes()).unwrap_or_default();
    let seq = blocking(move || n.store.b0x_append(&recipient, &body, &poster, &quotas)).await?;
    Ok(json(StatusCode::CREATED, serde_json::json!({ "seq": seq })))
}

/// Decodes a b0x read and checks that it carries the recipient's signature for `op` on this
/// node (PROTOCOL.md §16.1): 400 when the body is not a canonical `B0xRead` or the request
/// names no host, 403 when the access does not admit this read.
async fn b0x_read(headers: &HeaderMap, body: &Bytes, op: B0xOp) -> Result<B0xRead, ApiError> {
    sized(body)?;
    let bad = |why: String| ApiError(StatusCode::BAD_REQUEST, why);
    let read = B0xRead::from_bytes(body).map_err(|e| {
        bad(format!(
            "the body is not a b0x read (PROTOCOL.md §16.1: a canonical B0xRead naming 1 to \
             {MAX_READ_ENTRIES} addresses in ascending order of blind): {e}"
        ))
    })?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| bad("the request names no Host".into()))?
        .to_string();
    // The signature check runs on the blocking pool, like the store.
    tokio::task::spawn_blocking(move || read.check(&host, op).map(|()| read))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| {
            ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "b0x read refused: {e}; only its recipient may list or acknowledge a b0x, \
                     with a signature for this node, operation, addresses and cursors \
                     (PROTOCOL.md §16.1)"
                ),
            )
        })
}

/// `POST /v1/b0x-list`: the items after each named address's cursor, in the order the
/// read names them, at most [`MAX_LIST`] items and none past the one that brings the
/// answer over [`MAX_LIST_READ_BYTES`]: `u32be(complete)`, then for each item
/// `u32be(entry) ‖ u64be(seq) ‖ u32be(len) ‖ bytes`. The first `complete` entries are
/// listed in full; the next one may have more items after its last listed one.
async fn b0x_list<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let read = b0x_read(&headers, &body, B0xOp::List).await?;
    let out = blocking(move || {
        let entries: Vec<(Id, u64)> = read
            .scope
            .addresses()
            .into_iter()
            .zip(&read.scope.entries)
            .map(|(a, e)| (a.0, e.cursor))
            .collect();
        // One more than fits: whether the entry it belongs to was cut.
        let got = n
            .store
            .b0x_list_many(&entries, MAX_LIST + 1, MAX_LIST_READ_BYTES)?;
        let size: usize = got.iter().map(|(_, _, b)| b.len()).sum();
        let complete = match (got.get(MAX_LIST), got.last()) {
            // Cut by the count: the entry of the first item left out may have more.
            (Some((i, _, _)), _) => *i,
            // Cut by the size: the last entry listed may have more (at worst the reader
            // lists it again and finds nothing).
            (None, Some((i, _, _))) if size >= MAX_LIST_READ_BYTES => *i,
            _ => entries.len(),
        };
        let mut out = (complete as u32).to_be_bytes().to_vec();
        for (i, seq, b) in got.into_iter().take(MAX_LIST) {
            out.extend_from_slice(&(i as u32).to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(&b);
        }
        Ok(out)
    })
    .await?;
    Ok(octets(StatusCode::OK, out))
}

/// `POST /v1/b0x-ack`: removes, at each named address, the items with seq ≤ its cursor.
async fn b0x_ack<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let read = b0x_read(&headers, &body, B0xOp::Acknowledge).await?;
    let removed = blocking(move || {
        let mut removed = 0;
        for (address, e) in read.scope.addresses().into_iter().zip(&read.scope.entries) {
            if e.cursor > 0 {
                removed += n.store.b0x_ack(address.as_bytes(), e.cursor)?;
            }
        }
        Ok(removed)
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "removed": removed }),
    ))
}

async fn put_evidence<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path(device): Path<String>,
    body: Bytes,
) -> ApiResult {
    let device = id("the device id", &device)?;
    sized(&body)?;
    Ok(
        if blocking(move || n.store.put_evidence(&device, &body)).await? {
            StatusCode::CREATED.into_response()
        } else {
            StatusCode::OK.into_response()
        },
    )
}

/// List encoding: for each proof `u64be(seq) ‖ device (32) ‖ u32be(len) ‖ bytes`.
async fn list_evidence<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let (after, limit) = (
        q.after.unwrap_or(0),
        q.limit.unwrap_or(MAX_LIST).min(MAX_LIST),
    );
    let items = blocking(move || n.store.list_evidence(after, limit)).await?;
    let mut out = Vec::new();
    for (seq, device, b) in items {
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&device);
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
    }
    Ok(octets(StatusCode::OK, out))
}

/// Genesis entropy, commit phase: the node draws a fresh secret for `ceremony` (or keeps the
/// one it drew before: one contribution per ceremony, never a choice among several) and
/// answers only its 32-byte commitment `H(EntropyCommitment, contributor, secret)`.
async fn entropy_commit<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path((ceremony, contributor)): Path<(String, String)>,
) -> ApiResult {
    let ceremony = id("the ceremony id", &ceremony)?;
    let contributor = id("the contributor id", &contributor)?;
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the node's random source failed: {e}"),
        )
    })?;
    let secret = blocking(move || n.store.entropy_secret(&ceremony, &fresh)).await?;
    let reveal = dsm_core::identity::EntropyReveal {
        contributor: dsm_core::hash::Digest(contributor),
        secret,
    };
    Ok(octets(
        StatusCode::OK,
        reveal.commitment().as_bytes().to_vec(),
    ))
}

/// Genesis entropy, reveal phase: the secret committed to for `ceremony`.
async fn entropy_reveal<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    Path(ceremony): Path<String>,
) -> ApiResult {
    let ceremony = id("the ceremony id", &ceremony)?;
    match blocking(move || n.store.entropy_reveal(&ceremony)).await? {
        Some(secret) => Ok(octets(StatusCode::OK, secret.to_vec())),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            "this node made no contribution to that ceremony; commit first".into(),
        )),
    }
}

async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such route; see PROTOCOL.md §15 for the API".into(),
    )
}

async fn count<S: NodeStore>(
    State(n): State<Arc<Node<S>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let start = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let body_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    // The store's budget, for writes, before the body is read.
    let write = match (method.as_str(), route.as_deref()) {
        ("PUT", Some("/v1/owned/{owner}/{key}")) => Some(crate::ration::WriteKind::Owned),
        (
            "PUT" | "POST",
            Some(
                "/v1/objects/{addr}"
                | "/v1/lists/{topic}/{key}"
                | "/v1/b0x/{recipient}"
                | "/v1/evidence/{device}",
            ),
        ) => Some(crate::ration::WriteKind::Keyless),
        _ => None,
    };
    // The owner an owned write names in its path (checked in full by its handler).
    let owner = (write == Some(crate::ration::WriteKind::Owned))
        .then(|| req.uri().path().strip_prefix("/v1/owned/"))
        .flatten()
        .and_then(|rest| rest.split('/').next())
        .and_then(|h| id("the owner", h).ok());
    let mut in_headroom = None;
    if let (Some(kind), false) = (write, n.budget.max_bytes == 0) {
        let body = body_len.unwrap_or(MAX_ITEM_LEN as u64);
        let room = match stored_estimate(&n).await {
            Ok(stored) => n.budget.room(stored, body, kind),
            Err(e) => return e.into_response(),
        };
        let refusal = match (room, owner) {
            (crate::ration::Room::Free, _) => None,
            (crate::ration::Room::Headroom, Some(owner)) if n.budget.owner_headroom > 0 => {
                match headroom_share(&n, owner, body).await {
                    Ok(true) => {
                        in_headroom = Some((owner, body));
                        None
                    }
                    Ok(false) => Some(
                        "this node's storage is nearly full: its last part is kept for slot \
                         owners it already holds a slot of, each up to a share, and this \
                         owner has none left; try the other nodes",
                    ),
                    Err(e) => return e.into_response(),
                }
            }
            (crate::ration::Room::Headroom, _) => None,
            (crate::ration::Room::Full, _) => {
                Some("this node's storage budget is used up; try the other nodes")
            }
        };
        if let Some(why) = refusal {
            let resp = ApiError(StatusCode::INSUFFICIENT_STORAGE, why.into()).into_response();
            n.metrics
                .observe(route.as_deref(), &method, 507, start.elapsed(), body_len);
            return resp;
        }
    }
    let resp = next.run(req).await;
    if write.is_some() && resp.status() == StatusCode::CREATED {
        let mut s = n.stored.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = s.0.saturating_add(body_len.unwrap_or(0));
        if let Some((owner, body)) = in_headroom {
            let mut used = n.headroom_used.lock().unwrap_or_else(|e| e.into_inner());
            let u = used.entry(owner).or_default();
            *u = u.saturating_add(body);
        }
    }
    n.metrics.observe(
        route.as_deref(),
        &method,
        resp.status().as_u16(),
        start.elapsed(),
        body_len,
    );
    resp
}

/// The store's size: read again at most once a second (a PostgreSQL query, a file's
/// metadata), grown by every stored write in between.
/// Whether `owner` may write `body` more bytes into the budget's headroom: the store holds
/// a slot of it already (a key made for the flood holds none), and its share is not used
/// up (PROTOCOL.md §15).
async fn headroom_share<S: NodeStore>(
    n: &Arc<Node<S>>,
    owner: Id,
    body: u64,
) -> Result<bool, ApiError> {
    let used = n
        .headroom_used
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&owner)
        .copied()
        .unwrap_or(0);
    if used.saturating_add(body) > n.budget.owner_headroom {
        return Ok(false);
    }
    let n2 = n.clone();
    blocking(move || n2.store.owner_known(&owner)).await
}

async fn stored_estimate<S: NodeStore>(n: &Arc<Node<S>>) -> Result<u64, ApiError> {
    {
        let s = n.stored.lock().unwrap_or_else(|e| e.into_inner());
        if s.1
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return Ok(s.0);
        }
    }
    let n2 = n.clone();
    let size = blocking(move || n2.store.stored_bytes()).await?;
    *n.stored.lock().unwrap_or_else(|e| e.into_inner()) = (size, Some(std::time::Instant::now()));
    Ok(size)
}

/// The node's routes.
pub fn router<S: NodeStore>(node: Arc<Node<S>>) -> Router {
    Router::new()
        .route("/health", get(health::<S>))
        .route("/metrics", get(metrics::<S>))
        .route(
            "/v1/objects/{addr}",
            get(get_object::<S>).put(put_object::<S>),
        )
        .route(
            "/v1/lists/{topic}/{key}",
            get(list_read::<S>).post(list_append::<S>),
        )
        .route(
            "/v1/owned/{owner}/{key}",
            get(get_owned::<S>).put(put_owned::<S>),
        )
        .route("/v1/b0x/{recipient}", post(b0x_append::<S>))
        .route("/v1/b0x-list", post(b0x_list::<S>))
        .route("/v1/b0x-ack", post(b0x_ack::<S>))
        .route("/v1/evidence", get(list_evidence::<S>))
        .route(
            "/v1/evidence/{device}",
            axum::routing::put(put_evidence::<S>),
        )
        .route("/v1/entropy/{ceremony}", get(entropy_reveal::<S>))
        .route(
            "/v1/entropy/{ceremony}/{contributor}",
            axum::routing::post(entropy_commit::<S>),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            count::<S>,
        ))
        // Over-cap bodies are cut off while streaming, before they are buffered whole.
        .layer(DefaultBodyLimit::max(MAX_ITEM_LEN + 1))
        .with_state(node)
}
