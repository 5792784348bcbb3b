//! Sans-IO protocol state machines for DSM.
//!
//! [`session`] is the bilateral transfer session: it consumes decoded messages and a
//! [`session::Ledger`] (the device's committed state, implemented by the wallet over its
//! store) and returns the messages to send. It never touches sockets, files, threads or
//! clocks, which is what makes fault injection, crash tests and model checking cheap.
//! [`message`] is its wire format (PROTOCOL.md §12). [`mailbox`] is unilateral delivery
//! through a storage node's b0x with the same ledger and checks (PROTOCOL.md §16).
//! [`card`] is the contact card devices exchange before they trade (PROTOCOL.md §12.6).
//! [`gossip`] chooses what a hello gossips (PROTOCOL.md §12.5).
//! [`exposure`] is a receiver's limits on value final but not yet settled (PROTOCOL.md §8.4).
//! [`tripwire`] is which devices a wallet refuses and what gossip proves (PROTOCOL.md §8).
//! [`placement`] is where keys live on storage nodes and when a write there counts
//! (PROTOCOL.md §15.1).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod card;
pub mod exposure;
pub mod gossip;
pub mod mailbox;
pub mod message;
pub mod placement;
pub mod session;
pub mod tripwire;
