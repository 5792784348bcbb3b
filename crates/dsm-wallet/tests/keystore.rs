//! The sealed key: round trip with the default Argon2id parameters, and every way opening
//! can fail.

use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_wallet::keystore::{open, seal, KdfParams, KeystoreError};

#[test]
fn seal_open_round_trip_and_failures() {
    for suite in [SuiteId::MlDsa65, SuiteId::SlhDsaSha2_128f] {
        let seed = SecretSeed::from_bytes([3; 32]);
        let sealed = seal(
            &seed,
            suite,
            b"pass",
            KdfParams::default(),
            [1; 16],
            [2; 24],
        )
        .unwrap();
        let key = open(&sealed, b"pass").unwrap();
        assert_eq!(
            key.public_key(),
            SigningKey::from_seed(suite, &seed).public_key()
        );
        assert_eq!(
            open(&sealed, b"Pass").err(),
            Some(KeystoreError::WrongPassphrase)
        );
        // Editing the header (suite, KDF cost, salt) fails authentication, never yields a key.
        for i in [5usize, 9, 20, 40, 70] {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(open(&t, b"pass").is_err(), "byte {i}");
        }
        assert_eq!(
            open(&sealed[..sealed.len() - 1], b"pass").err(),
            Some(KeystoreError::Malformed)
        );
        assert_eq!(open(b"DSMK", b"pass").err(), Some(KeystoreError::Malformed));
        // The secret never appears in the sealed bytes.
        assert!(!sealed.windows(32).any(|w| w == [3; 32]));
    }
    let weird = KdfParams {
        m_cost_kib: 1,
        t_cost: 0,
        p_cost: 0,
    };
    assert!(matches!(
        seal(
            &SecretSeed::from_bytes([0; 32]),
            SuiteId::MlDsa65,
            b"p",
            weird,
            [0; 16],
            [0; 24]
        ),
        Err(KeystoreError::Params(_))
    ));
}

/// A reproducible wallet (every secret from given entropy: the model checker's devices)
/// exists only for the insecure test suite; for a real suite it is refused and nothing is
/// stored.
#[test]
fn reproducible_wallets_are_refused_for_real_suites() {
    for suite in dsm_core::crypto::SuiteId::ALL {
        let store = dsm_wallet::store::MemoryStore::new();
        let e = dsm_wallet::Wallet::create_reproducible(
            Box::new(store.clone()),
            suite,
            b"pass",
            dsm_wallet::keystore::KdfParams {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 1,
            },
            [1; 32],
        )
        .err()
        .expect("refused");
        assert!(
            e.to_string()
                .contains("reproducible wallets exist only for the insecure test suite"),
            "{e}"
        );
        let mut stored = 0;
        dsm_wallet::store::Store::visit(&store, dsm_wallet::store::Table::Meta, &mut |_, _| {
            stored += 1
        })
        .unwrap();
        assert_eq!(stored, 0, "nothing is stored");
    }
}

/// The cost parameters are read from the file before the passphrase can be checked, so they
/// are bounded: a sealed key asking for 4 GiB or 2^32 − 1 passes (a damaged or hostile
/// wallet file) is refused at once, with what to do, instead of hanging or allocating.
#[test]
fn a_sealed_key_asking_for_unbounded_cost_is_refused_at_once() {
    let sealed = seal(
        &SecretSeed::from_bytes([3; 32]),
        SuiteId::MlDsa65,
        b"p",
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        [1; 16],
        [2; 24],
    )
    .unwrap();
    for (at, value) in [
        (6usize, 4u32 * 1024 * 1024),
        (10, u32::MAX),
        (14, 255),
        (10, 0),
    ] {
        let mut bad = sealed.clone();
        bad[at..at + 4].copy_from_slice(&value.to_be_bytes());
        match dsm_wallet::keystore::open(&bad, b"p") {
            Err(KeystoreError::Params(msg)) => {
                assert!(msg.contains("damaged or was not made by dsm"), "{msg}")
            }
            other => panic!("expected a refusal of the parameters, got {other:?}"),
        }
    }
    // The bounds themselves are accepted (checked without deriving).
    assert!(KdfParams {
        m_cost_kib: KdfParams::MAX_M_COST_KIB,
        t_cost: KdfParams::MAX_T_COST,
        p_cost: KdfParams::MAX_P_COST,
    }
    .check()
    .is_ok());
    assert!(dsm_wallet::keystore::open(&sealed, b"p").is_ok());
}
