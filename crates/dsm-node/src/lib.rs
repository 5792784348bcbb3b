//! The DSM storage node: stores and serves bytes over HTTP, enforces addressing, sizes and
//! quotas, and never signs or judges protocol validity (PROTOCOL.md §15).
//!
//! Work in progress (issue 4): the embedded store and the HTTP API for objects, anchor
//! slots, b0x inboxes and evidence are built; PostgreSQL, genesis entropy, client-side
//! replication, settlement and the `dsm node` commands are not yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod store;

use std::sync::Arc;

/// Serves `node` on `listener` until the future is dropped.
pub async fn serve<S: store::NodeStore>(listener: tokio::net::TcpListener, node: Arc<api::Node<S>>) -> std::io::Result<()> {
    axum::serve(listener, api::router(node)).await
}
