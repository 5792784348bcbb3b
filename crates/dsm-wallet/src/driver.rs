//! Runs a [`Session`] over a [`Link`]: decode each frame strictly, feed it to the session,
//! send what it returns. The session decides everything; this loop only moves bytes.

use dsm_core::codec::Canonical;
use dsm_protocol::message::{Close, SessionMessage};
use dsm_protocol::session::{Completed, Ledger, Refused, Session, SessionError};
use dsm_transport::{Link, TransportError};
use thiserror::Error;

/// Why a session run ended early.
#[derive(Debug, Error)]
pub enum RunError {
    /// The protocol refused something (see the session error).
    #[error("{0}")]
    Session(#[from] SessionError),
    /// The link failed.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The peer sent bytes that are not a canonical session message.
    #[error("the peer sent a malformed message: {0}")]
    Malformed(dsm_core::codec::DecodeError),
}

/// What a session run did.
#[derive(Debug)]
pub struct Report {
    /// Transfers committed in this run, in order.
    pub completed: Vec<Completed>,
    /// Transfers that ended in a signed refusal (released back to the sender).
    pub refused: Vec<Refused>,
    /// Why it ended early, if it did. Everything in `completed` is committed regardless.
    pub error: Option<RunError>,
    /// Transfers the dialer did not get to propose.
    pub remaining: usize,
}

/// Runs `session` to its end over `link`. Never panics on peer input; every outcome is a
/// [`Report`]. On a local failure the peer is told `Close` (best effort) so it stops waiting.
pub fn run(session: &mut Session, ledger: &mut dyn Ledger, link: &mut dyn Link) -> Report {
    let error = drive(session, ledger, link).err();
    finish(session, error, |b| {
        let _ = link.send(b);
    })
}

/// Ends `session` after `error` (if any) and reports it: on an error that is not the
/// link's, `close` is given the `Close` message's bytes to send (best effort) so the peer
/// stops waiting.
fn finish(session: &mut Session, error: Option<RunError>, close: impl FnOnce(&[u8])) -> Report {
    if let Some(e) = &error {
        if !matches!(e, RunError::Transport(_)) {
            close(&SessionMessage::Close(Close).to_bytes());
        }
        session.abort(SessionError::Over);
    }
    let error = error.or_else(|| session.error().cloned().map(RunError::Session));
    Report {
        completed: session.completed().to_vec(),
        refused: session.refused().to_vec(),
        error,
        remaining: session.remaining(),
    }
}

/// Feeds one received frame to `session`: decoded strictly, handled; returns the replies.
fn feed(
    session: &mut Session,
    ledger: &mut dyn Ledger,
    bytes: &[u8],
) -> Result<Vec<SessionMessage>, RunError> {
    let msg = SessionMessage::from_bytes(bytes).map_err(RunError::Malformed)?;
    Ok(session.handle(msg, ledger)?)
}

/// Serves listener sessions on every connection of `server` side by side, one
/// [`Session`] per connection, all on this thread and this `ledger` (the wallet stays
/// single-threaded; a slow or silent peer holds only its own connection, which its
/// deadline ends). Calls `done` with each finished session's report and peer; stops when
/// `done` returns `true`.
pub fn serve<L: Ledger>(
    server: &mut dsm_transport::server::TcpServer,
    ledger: &mut L,
    done: &mut dyn FnMut(&mut L, Report, std::net::SocketAddr) -> bool,
) {
    serve_until(
        server,
        ledger,
        done,
        &std::sync::atomic::AtomicBool::new(false),
    )
}

/// [`serve`], also returning within half a second of `stop` turning true (a signal asking
/// the process to end): sessions still open are cut there — each commit is already
/// durable, so a cut session resumes at its next connection, as after a lost link — and
/// the caller closes the wallet cleanly.
pub fn serve_until<L: Ledger>(
    server: &mut dsm_transport::server::TcpServer,
    ledger: &mut L,
    done: &mut dyn FnMut(&mut L, Report, std::net::SocketAddr) -> bool,
    stop: &std::sync::atomic::AtomicBool,
) {
    use dsm_transport::server::ServerEvent;
    use std::collections::HashMap;
    let mut live: HashMap<u64, (Session, std::net::SocketAddr)> = HashMap::new();
    loop {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Some(event) = server.next_event(std::time::Duration::from_millis(500)) else {
            continue;
        };
        let (id, ended) = match event {
            ServerEvent::Opened { id, peer } => {
                live.insert(id, (Session::listener(), peer));
                continue;
            }
            ServerEvent::Frame { id, payload } => {
                let Some((session, _)) = live.get_mut(&id) else {
                    continue;
                };
                match feed(session, ledger, &payload) {
                    Ok(out) => {
                        let sent = out.iter().try_for_each(|m| server.send(id, &m.to_bytes()));
                        match sent {
                            Err(e) => (id, Some(RunError::Transport(e))),
                            Ok(()) if session.is_over() => (id, None),
                            Ok(()) => continue,
                        }
                    }
                    Err(e) => (id, Some(e)),
                }
            }
            ServerEvent::Closed { id, error } => (id, Some(RunError::Transport(error))),
        };
        let Some((mut session, peer)) = live.remove(&id) else {
            continue;
        };
        let report = finish(&mut session, ended, |b| {
            let _ = server.send(id, b);
        });
        server.close(id);
        if done(ledger, report, peer) {
            return;
        }
    }
}

fn send_all(link: &mut dyn Link, out: Vec<SessionMessage>) -> Result<(), RunError> {
    for m in out {
        link.send(&m.to_bytes())?;
    }
    Ok(())
}

fn drive(
    session: &mut Session,
    ledger: &mut dyn Ledger,
    link: &mut dyn Link,
) -> Result<(), RunError> {
    if session.role() == dsm_protocol::session::Role::Dialer {
        let out = session.start(ledger)?;
        send_all(link, out)?;
    }
    while !session.is_over() {
        let bytes = link.recv()?;
        let out = feed(session, ledger, &bytes)?;
        send_all(link, out)?;
    }
    Ok(())
}
