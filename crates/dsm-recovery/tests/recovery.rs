//! Recovery building blocks (PROTOCOL.md §20): official BIP-39 vectors, typing errors that
//! name the wrong word, key derivation, capsules that open only with the right phrase at
//! their own position of their own stream, synthetic nonces that never repeat, and the
//! longest consistent chain from replicas that are stale or forked.

use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_recovery::*;

const CHEAP: KdfCost = KdfCost {
    m_cost_kib: 64,
    t_cost: 1,
};

#[test]
fn official_bip39_vectors() {
    let words = |e: [u8; 32]| RecoveryMnemonic::from_entropy(&e).words().join(" ");
    assert_eq!(words([0; 32]), format!("{}art", "abandon ".repeat(23)));
    assert_eq!(words([0xff; 32]), format!("{}vote", "zoo ".repeat(23)));
    assert_eq!(
        words([0x7f; 32]),
        "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title"
    );
    let m = RecoveryMnemonic::parse(&words([0x7f; 32]).to_uppercase()).unwrap();
    assert_eq!(*m.entropy(), [0x7f; 32]);
}

#[test]
fn typing_errors_name_the_word() {
    let phrase = RecoveryMnemonic::from_entropy(&[7; 32]).words().join("  ");
    let mut w: Vec<String> = phrase.split_whitespace().map(String::from).collect();
    w[4] = "abandonn".into();
    assert_eq!(
        RecoveryMnemonic::parse(&w.join(" ")).err(),
        Some(RecoveryError::UnknownWord {
            position: 5,
            word: "abandonn".into()
        })
    );
    assert_eq!(
        RecoveryMnemonic::parse("abandon abandon").err(),
        Some(RecoveryError::WordCount(2))
    );
    let mut swapped: Vec<&str> = phrase.split_whitespace().collect();
    swapped.swap(0, 1);
    if swapped[0] != swapped[1] {
        assert_eq!(
            RecoveryMnemonic::parse(&swapped.join(" ")).err(),
            Some(RecoveryError::Checksum)
        );
    }
}

#[test]
fn object_packs_open_only_with_the_right_key_at_their_position() {
    let k = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[1; 32]), CHEAP).unwrap();
    let g = k.generation(0);
    let pack = dsm_recovery::body::ObjectPack {
        objects: vec![b"a hop".to_vec(), b"an identity".to_vec()],
    }
    .to_bytes();
    let p = g.seal_pack(3, 1, &pack);
    assert_eq!(
        dsm_recovery::SealedPack::from_bytes(&p.to_bytes()).unwrap(),
        p
    );
    assert_eq!(&*g.open_pack(&p, 3, 1).unwrap(), pack.as_slice());
    // Sealing is deterministic (a rerun writes the same bytes to the write-once slot).
    assert_eq!(g.seal_pack(3, 1, &pack), p);
    // Another position, another generation's key, another stream.
    assert_eq!(g.open_pack(&p, 3, 0), Err(RecoveryError::Open));
    assert_eq!(g.open_pack(&p, 2, 1), Err(RecoveryError::Open));
    let mut moved = p.clone();
    moved.part = 0;
    assert_eq!(g.open_pack(&moved, 3, 0), Err(RecoveryError::Open));
    assert_eq!(
        k.generation(1).open_pack(&p, 3, 1),
        Err(RecoveryError::Open)
    );
    // A capsule's seal never opens as a pack, nor the reverse.
    let c = g.seal(3, Digest([1; 32]), &pack);
    assert!(
        Capsule::from_bytes(&p.to_bytes()).is_err()
            || g.open(&Capsule::from_bytes(&p.to_bytes()).unwrap())
                .is_err()
    );
    assert_ne!(c.nonce, p.nonce);
    // Every single-bit flip of the ciphertext is refused.
    for i in 0..p.ciphertext.len() * 8 {
        let mut x = p.clone();
        x.ciphertext[i / 8] ^= 1 << (i % 8);
        assert_eq!(g.open_pack(&x, 3, 1), Err(RecoveryError::Open));
    }
    // A pack whose objects are not strictly ascending does not decode.
    let mut w = dsm_core::codec::Writer::new();
    w.repeated_bytes(1, &[b"b".to_vec(), b"a".to_vec()]);
    assert_eq!(
        format!(
            "{:?}",
            dsm_recovery::body::ObjectPack::from_bytes(&w.into_bytes()).unwrap_err()
        ),
        "Invalid(\"a pack's objects are strictly ascending\")"
    );
}

#[test]
fn capsules_open_only_with_the_right_phrase_at_their_position() {
    let m = RecoveryMnemonic::from_entropy(&[1; 32]);
    let k = RecoveryKeys::derive(&m, CHEAP).unwrap();
    let again = RecoveryKeys::derive(
        &RecoveryMnemonic::parse(&m.words().join(" ")).unwrap(),
        CHEAP,
    )
    .unwrap();
    assert_eq!(k.stream(), again.stream());
    assert_eq!(
        k.authority_key().public_key(),
        again.authority_key().public_key()
    );
    let other = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[2; 32]), CHEAP).unwrap();
    assert_ne!(k.stream(), other.stream());
    let c0 = k.seal(0, Digest::ZERO, b"tips and balances at state 0");
    let c1 = k.seal(1, c0.digest(), b"tips and balances at state 1");
    assert_eq!(&*again.open(&c1).unwrap(), b"tips and balances at state 1");
    assert_eq!(Capsule::from_bytes(&c1.to_bytes()).unwrap(), c1);
    // The wrong phrase (its own stream, or this stream with its key).
    assert_eq!(other.open(&c1), Err(RecoveryError::Open));
    let mut foreign = c1.clone();
    foreign.stream = other.stream();
    assert_eq!(other.open(&foreign), Err(RecoveryError::Open));
    // Moved to another index or after another predecessor.
    let mut moved = c1.clone();
    moved.index = 2;
    assert_eq!(k.open(&moved), Err(RecoveryError::Open));
    let mut relinked = c1.clone();
    relinked.prev = Digest([9; 32]);
    assert_eq!(k.open(&relinked), Err(RecoveryError::Open));
    // Every single-bit flip of the ciphertext or the nonce is refused.
    for i in 0..c1.ciphertext.len() * 8 {
        let mut x = c1.clone();
        x.ciphertext[i / 8] ^= 1 << (i % 8);
        assert_eq!(format!("{:?}", k.open(&x).unwrap_err()), "Open");
    }
    for i in 0..24 * 8 {
        let mut x = c1.clone();
        x.nonce[i / 8] ^= 1 << (i % 8);
        assert_eq!(format!("{:?}", k.open(&x).unwrap_err()), "Open");
    }
    // Synthetic nonces: distinct across positions and across contents at one position.
    assert_ne!(c0.nonce, c1.nonce);
    assert_ne!(k.seal(1, c0.digest(), b"other content").nonce, c1.nonce);
    assert_eq!(
        k.seal(1, c0.digest(), b"tips and balances at state 1"),
        c1,
        "sealing is deterministic"
    );
    // Decoding rules.
    let mut bad = c0.clone();
    bad.prev = Digest([1; 32]);
    assert_eq!(
        format!("{:?}", Capsule::from_bytes(&bad.to_bytes()).unwrap_err()),
        "Invalid(\"only the first capsule has no predecessor\")"
    );
    let b = c1.to_bytes();
    for n in 0..b.len() {
        assert!(Capsule::from_bytes(&b[..n])
            .map(|x| x != c1)
            .unwrap_or(true));
    }
}

#[test]
fn the_longest_consistent_chain_survives_stale_and_stray_replicas() {
    let k = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[3; 32]), CHEAP).unwrap();
    let mut chain = Vec::new();
    let mut prev = Digest::ZERO;
    for i in 0..5u64 {
        let c = k.seal(i, prev, format!("state {i}").as_bytes());
        prev = c.digest();
        chain.push(c);
    }
    // A stale replica serves only the first three, with duplicates; a stray capsule from
    // another stream and one that does not link are ignored.
    let other = RecoveryKeys::derive(&RecoveryMnemonic::from_entropy(&[4; 32]), CHEAP).unwrap();
    let mut served: Vec<Capsule> = chain.clone();
    served.extend(chain[..3].iter().cloned());
    served.push(other.seal(5, Digest([1; 32]), b"stray"));
    served.push(k.seal(5, Digest([2; 32]), b"does not link"));
    assert_eq!(consistent_chain(&k.stream(), &served).unwrap(), chain);
    assert_eq!(consistent_chain(&k.stream(), &chain[..3]).unwrap().len(), 3);
    // Two different capsules at one position of the chain: a fork, reported.
    let mut forked = chain.clone();
    forked.push(k.seal(2, chain[1].digest(), b"a rival state 2"));
    assert_eq!(consistent_chain(&k.stream(), &forked), Err(2));
}
