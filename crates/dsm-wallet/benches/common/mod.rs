//! What the wallet benchmarks share: one whole transfer driven on this thread, and timing.

use dsm_core::chain::Amount;
use dsm_core::codec::Canonical;
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::Session;
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
use std::time::{Duration, Instant};

#[allow(dead_code)] // not every bench drives a session
fn wire(m: &SessionMessage) -> SessionMessage {
    SessionMessage::from_bytes(&m.to_bytes()).expect("canonical")
}

/// One complete session carrying one transfer, both sides driven on this thread, every
/// message encoded and decoded as on a wire.
#[allow(dead_code)] // not every bench drives a session
pub fn transfer(payer: &mut Wallet, payee: &mut Wallet, amount: u128) {
    let mut d = Session::dialer(
        payee.device_id(),
        vec![(token(DEFAULT_TOKEN), Amount(amount))],
    );
    let mut l = Session::listener();
    let mut to_l: Vec<SessionMessage> = d.start(payer).expect("start").iter().map(wire).collect();
    while !to_l.is_empty() {
        let mut to_d = Vec::new();
        for m in to_l.drain(..) {
            to_d.extend(l.handle(m, payee).expect("listener").iter().map(wire));
        }
        for m in to_d {
            to_l.extend(d.handle(m, payer).expect("dialer").iter().map(wire));
        }
    }
    assert_eq!(d.completed().len(), 1, "transfer completed");
}

/// The passphrase KDF of bench wallets: cheap, since unsealing is not what is measured.
#[allow(dead_code)] // not every bench makes wallets
pub const KDF: dsm_wallet::keystore::KdfParams = dsm_wallet::keystore::KdfParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

/// The mean time of `n` runs of `f`.
#[allow(dead_code)] // compiled into every bench; the transfer bench times its own loop
pub fn per_op(n: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n as u32
}
