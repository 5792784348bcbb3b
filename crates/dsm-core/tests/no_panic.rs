//! Every public function that takes untrusted bytes returns an error for bad input and
//! never panics: arbitrary bytes, and valid messages with random damage.

mod common;

use common::*;
use dsm_core::codec::Canonical;
use dsm_core::crypto::{KemPublicKey, KemSecretKey, PublicKey, Signature, SuiteId};
use dsm_core::hash::Digest;
use dsm_core::receipt::*;
use dsm_core::tripwire::{EquivocationProof, Statement};
use proptest::prelude::*;
use std::sync::OnceLock;

/// A valid receipt and equivocation proof to damage.
fn samples() -> &'static (Vec<u8>, Vec<u8>) {
    static S: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    S.get_or_init(|| {
        let mut ctr = 0;
        let mut a = Device::new(SuiteId::MlDsa65, 1);
        let mut b = Device::new(SuiteId::MlDsa65, 2);
        let c = Device::new(SuiteId::MlDsa65, 3);
        a.fund(token(), 100);
        let x = propose(
            &a.local(),
            &c.id(),
            token(),
            dsm_core::chain::Amount(3),
            &inputs_of(&a.local(), token(), dsm_core::chain::Amount(3)),
            &rnd(&mut ctr),
        )
        .unwrap();
        let r = transfer(&mut a, &mut b, token(), 5, &mut ctr);
        let (proof, _) = EquivocationProof::new(
            Statement::Proposal(r.proposal.clone()),
            Statement::Proposal(x.signed),
        )
        .unwrap();
        (r.to_bytes(), proof.to_bytes())
    })
}

fn feed_all(bytes: &[u8]) {
    let _ = verify_receipt_bytes(bytes, &EmptyView);
    let _ = verify_proposal_bytes(bytes, &EmptyView);
    let _ = SignedAcceptance::from_bytes(bytes);
    let _ = EquivocationProof::verify_bytes(bytes);
    let _ = Statement::from_bytes(bytes);
    let _ = PublicKey::from_bytes(bytes);
    let _ = Signature::from_bytes(bytes);
    let _ = KemPublicKey::from_bytes(bytes);
    let _ = KemSecretKey::from_bytes(bytes);
    for suite in SuiteId::ALL {
        if let Ok(pk) = PublicKey::from_parts(suite, bytes.to_vec()) {
            let _ = Signature::from_parts(suite, bytes.to_vec()).map(|s| pk.verify(b"m", &s));
        }
    }
    let _ = Digest::from_hex(&String::from_utf8_lossy(bytes));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        feed_all(&bytes);
    }

    #[test]
    fn damaged_receipts_and_proofs_are_refused_without_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let (r, p) = samples();
        let mut bytes = if which == 0 { r.clone() } else { p.clone() };
        for (idx, val, op) in edits {
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] ^= val | 1,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, val),
                _ => { bytes.remove(i); }
            }
            if bytes.is_empty() { break; }
        }
        feed_all(&bytes);
        if which == 0 {
            // Damaged bytes never verify as a receipt (the edits always change something).
            prop_assume!(bytes != *r);
            prop_assert!(verify_receipt_bytes(&bytes, &EmptyView).is_err());
        } else {
            prop_assume!(bytes != *p);
            prop_assert!(EquivocationProof::verify_bytes(&bytes).is_err());
        }
    }
}

#[test]
fn kem_decapsulation_of_garbage_is_an_error_or_implicit_rejection() {
    let (_, dk) = KemSecretKey::from_seeds(&[1; 32], &[2; 32]);
    assert_eq!(
        format!("{:?}", dk.decapsulate(&[0u8; 10]).unwrap_err()),
        "MalformedKem"
    );
    // A well-sized but random ciphertext decapsulates to an unrelated secret (FIPS 203
    // implicit rejection), never an error or a panic.
    let ok = dk.decapsulate(&[0x42u8; 1088]).unwrap();
    let (ek, _) = KemSecretKey::from_seeds(&[1; 32], &[2; 32]);
    let (ss, ct) = ek.encapsulate(&[3; 32]).unwrap();
    assert_eq!(dk.decapsulate(&ct).unwrap(), ss);
    assert_ne!(ok, ss);
}
