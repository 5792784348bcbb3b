//! The DSM storage node: stores and serves bytes over HTTP, enforces addressing, sizes,
//! quotas and slot ownership, and never signs or judges protocol validity (PROTOCOL.md §15):
//! objects, open and owned slots, b0x inboxes, evidence and genesis entropy, over the
//! embedded store ([`store::EmbeddedStore`]) or PostgreSQL ([`pg::PostgresStore`]), with
//! Prometheus metrics ([`metrics`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod metrics;
pub mod pg;
pub mod store;

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

/// Serves `node` on `listener` until the future is dropped: one task per connection,
/// HTTP/1.1 with keep-alive, header and request timeouts.
pub async fn serve<S: store::NodeStore>(
    listener: tokio::net::TcpListener,
    node: Arc<api::Node<S>>,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    #[allow(deprecated)]
    // TimeoutLayer::new: the replacement needs a status argument only newer versions take.
    let app = api::router(node).layer(tower_http::timeout::TimeoutLayer::new(timeouts.request));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            // Out of file descriptors or a reset before accept: keep serving.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(timeouts.header);
            let _ = builder.serve_connection(io, service).await;
        });
    }
}
