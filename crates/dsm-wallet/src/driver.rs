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
    if let Some(e) = &error {
        if !matches!(e, RunError::Transport(_)) {
            let _ = link.send(&SessionMessage::Close(Close).to_bytes());
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
        let msg = SessionMessage::from_bytes(&bytes).map_err(RunError::Malformed)?;
        let out = session.handle(msg, ledger)?;
        send_all(link, out)?;
    }
    Ok(())
}
