//! Fixtures over dsm-core's deterministic test devices (real keys, real builders and
//! verifier).
#![allow(dead_code)]

#[path = "../../../dsm-core/tests/common/mod.rs"]
mod core;

pub use self::core::*;
use dsm_core::chain::Amount;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::{propose, SignedProposal};

/// Device `n`'s two proposals from one head, to two other devices: a head fork. Returns
/// the device and the two proposals.
pub fn fork(n: u8) -> (Device, SignedProposal, SignedProposal) {
    let mut ctr = 0;
    let mut a = Device::new(SuiteId::MlDsa65, n);
    a.fund(token(), 10);
    let mut to = |peer: u8| {
        let peer = Device::new(SuiteId::MlDsa65, peer).id();
        let inputs = inputs_of(&a.local(), token(), Amount(4));
        propose(
            &a.local(),
            &peer,
            token(),
            Amount(4),
            &inputs,
            &rnd(&mut ctr),
        )
        .unwrap()
        .signed
    };
    let (x, y) = (to(n.wrapping_add(100)), to(n.wrapping_add(101)));
    (a, x, y)
}
