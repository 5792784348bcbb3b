//! The DSM storage node: stores and serves bytes over HTTP, enforces addressing, sizes,
//! quotas and slot ownership, and never signs or judges protocol validity (PROTOCOL.md §15):
//! objects, owned slots, candidate lists, b0x inboxes, evidence and genesis entropy, over the
//! embedded store ([`store::EmbeddedStore`]) or PostgreSQL ([`pg::PostgresStore`]), with
//! Prometheus metrics ([`metrics`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod metrics;
pub mod pg;
pub mod ration;
pub mod store;
pub mod tls;

use std::sync::Arc;

use std::time::Duration;

/// Connection limits that keep one slow or stuck client from holding a node's resources.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A client must send its whole request head within this time (slowloris defence).
    pub header: Duration,
    /// A whole request — body included — must be read and answered within this time;
    /// otherwise the node answers 408.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// The rationing verdict on a request from `peer`, from its head alone: `None` admits it.
/// `/health` is never rationed (load balancers poll it).
fn ration<S: store::NodeStore, B>(
    node: &api::Node<S>,
    peer: std::net::IpAddr,
    req: &hyper::Request<B>,
) -> Option<ration::Rationed> {
    if req.uri().path() == "/health" {
        return None;
    }
    let headers = req.headers();
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let body_len = match (declared, req.method()) {
        (Some(n), _) => n,
        (None, &hyper::Method::PUT | &hyper::Method::POST) => api::MAX_ITEM_LEN as u64,
        (None, _) => 0,
    };
    let r = node.rationing();
    let now = std::time::Instant::now();
    if let Err(why) = r.admit(r.client(peer, forwarded), body_len, now) {
        return Some(why);
    }
    // An owned-slot write is also counted against its slot owner (from the path, before
    // the body is read or any signature verified).
    if req.method() == hyper::Method::PUT {
        if let Some(owner) = req
            .uri()
            .path()
            .strip_prefix("/v1/owned/")
            .and_then(|rest| rest.split('/').next())
            .and_then(dsm_core::hash::Digest::from_hex)
        {
            return r.admit_owner(owner.0, body_len, now).err();
        }
    }
    None
}

/// Serves `node` on `listener` over plain HTTP until the future is dropped: one task per
/// connection, HTTP/1.1 with keep-alive, header and request timeouts, and each client
/// rationed ([`ration`]) before its request's body is read.
pub async fn serve<S: store::NodeStore>(
    listener: tokio::net::TcpListener,
    node: Arc<api::Node<S>>,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    serve_with(listener, node, timeouts, None).await
}

/// As [`serve`], over TLS with `config` ([`tls::server_config`]). The handshake must end
/// within the header timeout, so a client that trickles it holds nothing for longer.
pub async fn serve_tls<S: store::NodeStore>(
    listener: tokio::net::TcpListener,
    node: Arc<api::Node<S>>,
    timeouts: Timeouts,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        node,
        timeouts,
        Some(tokio_rustls::TlsAcceptor::from(config)),
    )
    .await
}

async fn serve_with<S: store::NodeStore>(
    listener: tokio::net::TcpListener,
    node: Arc<api::Node<S>>,
    timeouts: Timeouts,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    #[allow(deprecated)]
    // TimeoutLayer::new: the replacement needs a status argument only newer versions take.
    let app =
        api::router(node.clone()).layer(tower_http::timeout::TimeoutLayer::new(timeouts.request));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            // Out of file descriptors or a reset before accept: keep serving.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let node = node.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, app, node, peer.ip(), timeouts).await,
                Some(acceptor) => {
                    // A handshake costs the node a signature and a key exchange, so it is
                    // a request of its client's bucket, taken before the handshake starts
                    // (PROTOCOL.md §15.4). A trusted proxy's connections carry many
                    // clients: rationed per request only.
                    let r = node.rationing();
                    if !r.limits().trusted_proxies.contains(&peer.ip())
                        && r.admit(
                            ration::ClientKey::of(peer.ip()),
                            0,
                            std::time::Instant::now(),
                        )
                        .is_err()
                    {
                        return; // the connection closes before any handshake byte
                    }
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(timeouts.header, acceptor.accept(stream)).await
                    {
                        serve_connection(stream, app, node, peer.ip(), timeouts).await
                    }
                }
            }
        });
    }
}

/// One connection's requests, rationing first: a refused request is answered from its head
/// alone.
async fn serve_connection<S, I>(
    io: I,
    app: axum::Router,
    node: Arc<api::Node<S>>,
    peer: std::net::IpAddr,
    timeouts: Timeouts,
) where
    S: store::NodeStore,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(io);
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let (app, node) = (app.clone(), node.clone());
            async move {
                if let Some(why) = ration(&node, peer, &req) {
                    return Ok::<_, std::convert::Infallible>(api::rationed_response(why));
                }
                // Who posted, for a b0x's fair share (the same client rationing counts).
                let forwarded = req
                    .headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok());
                let client = node.rationing().client(peer, forwarded);
                req.extensions_mut().insert(client);
                tower::ServiceExt::oneshot(app, req)
                    .await
                    .map(api::json_errors)
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeouts.header);
    let _ = builder.serve_connection(io, service).await;
}
