//! A TCP listener that serves many connections at once without ever blocking on one of them:
//! each connection's frames are read whole on its own thread and handed over as events, so a
//! peer that trickles bytes, or connects and says nothing, holds only its own thread. Every
//! connection also has a whole-session deadline (not only an idle timeout, which a byte every
//! few seconds would keep resetting), and the number of live connections is capped, in all
//! and per client address.
//!
//! The owner of the [`TcpServer`] (one thread, e.g. the wallet's) takes events with
//! [`TcpServer::next_event`], answers with [`TcpServer::send`] and ends connections with
//! [`TcpServer::close`]: the protocol stays single-threaded and sans-IO.

use crate::{encode_frame, read_frame, TransportError};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What a [`TcpServer`] allows each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a connection may wait between two bytes of a frame (and a write may block).
    pub idle: Duration,
    /// How long a connection may live in all, from its accept: past it, the server closes
    /// it whatever it is doing.
    pub session: Duration,
    /// Live connections at most; one more is closed at once (its peer sees the connection
    /// end), so a flood of connections costs threads up to this bound only.
    pub max_connections: usize,
    /// Live connections from one address at most (an IPv4 address, or an IPv6 /64); one
    /// more from it is closed at once, so one client cannot hold every connection.
    pub max_per_address: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            idle: crate::DEFAULT_TIMEOUT,
            session: Duration::from_secs(120),
            max_connections: 32,
            max_per_address: 4,
        }
    }
}

/// What one client is counted as: its IPv4 address, or its IPv6 /64 (a host gets a /64).
fn client_of(peer: &SocketAddr) -> [u8; 16] {
    match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_ipv6_mapped().octets(),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                o
            }
        },
    }
}

/// One thing that happened on a [`TcpServer`].
#[derive(Debug)]
pub enum ServerEvent {
    /// A connection was accepted.
    Opened {
        /// Its id (never reused by this server).
        id: u64,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// A whole frame arrived on a connection.
    Frame {
        /// The connection.
        id: u64,
        /// The frame's payload.
        payload: Vec<u8>,
    },
    /// A connection ended: the peer closed it, it failed, it went idle, or its session
    /// deadline passed ([`TransportError::Timeout`]). Nothing more comes from it.
    Closed {
        /// The connection.
        id: u64,
        /// Why.
        error: TransportError,
    },
}

enum Inner {
    Opened(u64, SocketAddr, TcpStream),
    Frame(u64, Vec<u8>),
    Closed(u64, TransportError),
}

struct Live {
    writer: TcpStream,
    deadline: Instant,
}

/// A TCP listener serving its connections side by side (see the module docs).
pub struct TcpServer {
    local: SocketAddr,
    limits: ServerLimits,
    events: mpsc::Receiver<Inner>,
    live: HashMap<u64, Live>,
    /// Connections whose end was already reported (by a deadline or [`TcpServer::close`]):
    /// their reader thread's own `Closed` is dropped.
    ended: std::collections::HashSet<u64>,
}

impl TcpServer {
    /// Binds `addr` (port 0 for a free port) and starts accepting in the background.
    pub fn bind(addr: impl ToSocketAddrs, limits: ServerLimits) -> Result<Self, TransportError> {
        let listener = std::net::TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let (tx, events) = mpsc::channel();
        let count = Arc::new(AtomicUsize::new(0));
        let per_client: PerClient = Arc::default();
        std::thread::spawn(move || {
            let mut next = 0u64;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Ok(peer) = stream.peer_addr() else {
                    continue;
                };
                let client = client_of(&peer);
                let held = per_client
                    .lock()
                    .map(|m| m.get(&client).copied().unwrap_or(0))
                    .unwrap_or(usize::MAX);
                if count.load(Ordering::SeqCst) >= limits.max_connections
                    || held >= limits.max_per_address
                {
                    let _ = stream.shutdown(Shutdown::Both);
                    continue;
                }
                let id = next;
                next += 1;
                if serve_connection(id, stream, limits, &tx, &count, (&per_client, client)).is_err()
                {
                    return; // the server is gone
                }
            }
        });
        Ok(TcpServer {
            local,
            limits,
            events,
            live: HashMap::new(),
            ended: Default::default(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Live connections (accepted, not yet ended).
    pub fn connections(&self) -> usize {
        self.live.len()
    }

    /// The next event, waiting at most `wait` (`None`: nothing happened). A connection past
    /// its session deadline is closed here and reported as `Closed` with
    /// [`TransportError::Timeout`].
    pub fn next_event(&mut self, wait: Duration) -> Option<ServerEvent> {
        let now = Instant::now();
        if let Some((&id, _)) = self.live.iter().find(|(_, l)| l.deadline <= now) {
            self.end(id);
            return Some(ServerEvent::Closed {
                id,
                error: TransportError::Timeout(self.limits.session),
            });
        }
        // Wake for the nearest deadline at the latest.
        let nearest = self
            .live
            .values()
            .map(|l| l.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(wait);
        let event = match self.events.recv_timeout(wait.min(nearest)) {
            Ok(e) => e,
            Err(_) => return None,
        };
        match event {
            Inner::Opened(id, peer, writer) => {
                let deadline = Instant::now() + self.limits.session;
                self.live.insert(id, Live { writer, deadline });
                Some(ServerEvent::Opened { id, peer })
            }
            Inner::Frame(id, payload) if self.live.contains_key(&id) => {
                Some(ServerEvent::Frame { id, payload })
            }
            Inner::Frame(..) => None,
            Inner::Closed(id, error) => {
                if self.ended.remove(&id) {
                    return None;
                }
                self.live.remove(&id);
                Some(ServerEvent::Closed { id, error })
            }
        }
    }

    /// Sends one frame on connection `id` (the write may block up to the idle limit). An
    /// error means the connection is unusable: close it.
    pub fn send(&mut self, id: u64, payload: &[u8]) -> Result<(), TransportError> {
        let live = self.live.get_mut(&id).ok_or(TransportError::Closed)?;
        live.writer.write_all(&encode_frame(payload)?)?;
        live.writer.flush()?;
        Ok(())
    }

    /// Ends connection `id` (both directions); its reader stops, and no `Closed` event
    /// follows for it.
    pub fn close(&mut self, id: u64) {
        if self.live.contains_key(&id) {
            self.end(id);
        }
    }

    fn end(&mut self, id: u64) {
        if let Some(l) = self.live.remove(&id) {
            let _ = l.writer.shutdown(Shutdown::Both);
            self.ended.insert(id);
        }
    }
}

/// Registers an accepted connection and starts its reader thread. `Err` when the server
/// side is gone.
fn serve_connection(
    id: u64,
    stream: TcpStream,
    limits: ServerLimits,
    tx: &mpsc::Sender<Inner>,
    count: &Arc<AtomicUsize>,
    (per_client, client): (&PerClient, [u8; 16]),
) -> Result<(), ()> {
    let setup = || -> std::io::Result<(SocketAddr, TcpStream)> {
        stream.set_read_timeout(Some(limits.idle))?;
        stream.set_write_timeout(Some(limits.idle))?;
        stream.set_nodelay(true)?;
        Ok((stream.peer_addr()?, stream.try_clone()?))
    };
    let Ok((peer, writer)) = setup() else {
        return Ok(()); // a connection that failed at once is simply dropped
    };
    tx.send(Inner::Opened(id, peer, writer)).map_err(drop)?;
    count.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut m) = per_client.lock() {
        *m.entry(client).or_insert(0) += 1;
    }
    let (tx, count, per_client) = (tx.clone(), Arc::clone(count), Arc::clone(per_client));
    std::thread::spawn(move || {
        let mut stream = stream;
        loop {
            match read_frame(&mut stream) {
                Ok(payload) => {
                    if tx.send(Inner::Frame(id, payload)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let e = crate::map_timeout(e, limits.idle);
                    let _ = tx.send(Inner::Closed(id, e));
                    break;
                }
            }
        }
        count.fetch_sub(1, Ordering::SeqCst);
        if let Ok(mut m) = per_client.lock() {
            if let Some(n) = m.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&client);
                }
            }
        }
    });
    Ok(())
}

/// Live connections per client ([`client_of`]).
type PerClient = Arc<std::sync::Mutex<HashMap<[u8; 16], usize>>>;
