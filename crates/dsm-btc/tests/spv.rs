//! SPV verification (PROTOCOL.md §19.2): real mainnet headers (blocks 1–3 after genesis)
//! verify under mainnet rules; regtest chains mined in-process carry deposits; every
//! rejection — broken link, missing work, a target above the limit, a difficulty change,
//! the wrong network, a shallow deposit, a proof for another transaction, the wrong output,
//! no recipient commitment, a checkpoint off a retarget boundary — is refused.

use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, CompactTarget, Network, OutPoint};
use dsm_btc::*;

fn hex_hash(s: &str) -> BlockHash {
    s.parse().unwrap()
}

#[test]
fn real_mainnet_headers_verify_under_mainnet_rules() {
    let genesis = bitcoin::constants::genesis_block(Network::Bitcoin).header;
    let mk = |prev: BlockHash, merkle: &str, time: u32, nonce: u32| Header {
        version: BlockVersion::ONE,
        prev_blockhash: prev,
        merkle_root: merkle.parse().unwrap(),
        time,
        bits: CompactTarget::from_consensus(0x1d00ffff),
        nonce,
    };
    let b1 = mk(
        genesis.block_hash(),
        "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098",
        1231469665,
        2573394689,
    );
    let b2 = mk(
        b1.block_hash(),
        "9b0fc92260312ce44e74ef369f5c66bbb85848f2eddd5a7a1cde251e54ccfdd5",
        1231469744,
        1639830024,
    );
    let b3 = mk(
        b2.block_hash(),
        "999e1c837c76a1b7fbb7e57baf87b309960f5ffefbf2a9b95dd890602272f644",
        1231470173,
        1844305925,
    );
    assert_eq!(
        b1.block_hash(),
        hex_hash("00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048")
    );
    assert_eq!(
        b2.block_hash(),
        hex_hash("000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd")
    );
    assert_eq!(
        b3.block_hash(),
        hex_hash("0000000082b5015589a3fdf2d4baff403e6f0be035a5d9742c1cae6295464449")
    );
    let cp = Checkpoint {
        height: 0,
        header: genesis,
    };
    // Round-trip through the 80-byte form the proofs carry.
    let headers: Vec<Header> = [b1, b2, b3]
        .iter()
        .map(|h| parse_header(&header_bytes(h)).unwrap())
        .collect();
    assert_eq!(
        verify_header_chain(BtcNetwork::Mainnet, &cp, &headers).unwrap(),
        3
    );
    // One changed nonce: no work.
    let mut bad = headers.clone();
    bad[1].nonce ^= 1;
    assert!(matches!(
        verify_header_chain(BtcNetwork::Mainnet, &cp, &bad),
        Err(SpvError::BadProofOfWork(1)) | Err(SpvError::BrokenLink(2))
    ));
    // Out of order.
    assert_eq!(
        verify_header_chain(BtcNetwork::Mainnet, &cp, &[b2, b1]),
        Err(SpvError::BrokenLink(0))
    );
    // Mainnet checkpoints must sit on a retarget boundary.
    let cp1 = Checkpoint {
        height: 1,
        header: b1,
    };
    assert_eq!(
        verify_header_chain(BtcNetwork::Mainnet, &cp1, &[b2]),
        Err(SpvError::CheckpointNotAtBoundary)
    );
    // Wrong lengths are refused.
    assert_eq!(
        format!("{:?}", parse_header(&[0u8; 79]).unwrap_err()),
        "Malformed(\"a header is 80 bytes\")"
    );
}

use dsm_btc::regtest::{mine, Chain};

fn htlc() -> Htlc {
    Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: dsm_btc::regtest::test_key(3),
        refunder: dsm_btc::regtest::test_key(4),
    }
}

fn funding(h: &Htlc, sats: u64, commitment: &[u8; 32]) -> bitcoin::Transaction {
    dsm_btc::regtest::funding(h, sats, commitment, sats as u32)
}

#[test]
fn a_buried_deposit_verifies_and_every_flaw_is_refused() {
    let h = htlc();
    let commitment = [9u8; 32];
    let tx = funding(&h, 123_456, &commitment);
    let mut chain = Chain::new();
    chain.add(Vec::new());
    let block = chain.add(vec![tx.clone()]);
    for _ in 0..5 {
        chain.add(Vec::new());
    }
    let e = chain.evidence(&tx, 0, &h, block);
    let d = verify_deposit(BtcNetwork::Regtest, &chain.checkpoint, 6, &commitment, &e).unwrap();
    assert_eq!((d.sats, d.depth, d.outpoint.vout), (123_456, 6, 0));
    assert_eq!(d.outpoint.txid, tx.compute_txid());
    // Depth is computed from the supplied headers, never asserted.
    assert_eq!(
        verify_deposit(BtcNetwork::Regtest, &chain.checkpoint, 7, &commitment, &e),
        Err(SpvError::TooShallow { have: 6, need: 7 })
    );
    let mut short = e.clone();
    short.headers.truncate(4);
    assert!(matches!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            6,
            &commitment,
            &short
        ),
        Err(SpvError::TooShallow { .. })
    ));
    // Another network's checkpoint: regtest headers do not link to mainnet's genesis; and
    // from the regtest checkpoint under mainnet's rules, regtest work is far above
    // mainnet's limit.
    assert_eq!(
        verify_deposit(
            BtcNetwork::Mainnet,
            &Checkpoint {
                height: 0,
                header: bitcoin::constants::genesis_block(Network::Bitcoin).header
            },
            6,
            &commitment,
            &e
        ),
        Err(SpvError::BrokenLink(0))
    );
    assert!(matches!(
        verify_deposit(BtcNetwork::Mainnet, &chain.checkpoint, 6, &commitment, &e),
        Err(SpvError::TargetAboveLimit(0))
    ));
    // Another recipient.
    assert_eq!(
        verify_deposit(BtcNetwork::Regtest, &chain.checkpoint, 6, &[8; 32], &e),
        Err(SpvError::NoCommitment)
    );
    // The commitment output is not the HTLC.
    let mut wrong_out = e.clone();
    wrong_out.vout = 1;
    assert_eq!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            6,
            &commitment,
            &wrong_out
        ),
        Err(SpvError::WrongOutput(1))
    );
    // Another HTLC than the one paid.
    let mut other_htlc = e.clone();
    other_htlc.htlc.h_refund = [7; 32];
    assert_eq!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            6,
            &commitment,
            &other_htlc
        ),
        Err(SpvError::WrongOutput(0))
    );
    // A merkle proof for another transaction, or the right proof against another block.
    let other = funding(&h, 1, &commitment);
    let b2 = chain.add(vec![other.clone()]);
    let mut swapped = chain.evidence(&tx, 0, &h, block);
    swapped.merkle_proof = chain.merkle_proof(b2, &other);
    assert_eq!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            1,
            &commitment,
            &swapped
        ),
        Err(SpvError::NotIncluded)
    );
    let mut wrong_block = chain.evidence(&tx, 0, &h, block);
    wrong_block.block_index = b2;
    assert_eq!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            1,
            &commitment,
            &wrong_block
        ),
        Err(SpvError::NotIncluded)
    );
    // A broken link, missing work, a changed difficulty.
    let hs: Vec<Header> = chain.headers.clone();
    let mut gap = hs.clone();
    gap.remove(3);
    assert_eq!(
        verify_header_chain(BtcNetwork::Regtest, &chain.checkpoint, &gap),
        Err(SpvError::BrokenLink(3))
    );
    let mut lazy = hs.clone();
    lazy[2].nonce = lazy[2].nonce.wrapping_add(1);
    while lazy[2].validate_pow(lazy[2].target()).is_ok() {
        lazy[2].nonce = lazy[2].nonce.wrapping_add(1);
    }
    assert_eq!(
        verify_header_chain(BtcNetwork::Regtest, &chain.checkpoint, &lazy[..3]),
        Err(SpvError::BadProofOfWork(2))
    );
    let easier = mine(
        &hs[1],
        hs[2].merkle_root,
        hs[2].time,
        CompactTarget::from_consensus(0x2000ffff),
    );
    assert_eq!(
        verify_header_chain(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            &[hs[0], hs[1], easier]
        ),
        Err(SpvError::BadDifficulty(2))
    );
    // Malformed bytes.
    let mut junk = e.clone();
    junk.tx = vec![1, 2, 3];
    assert!(matches!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            6,
            &commitment,
            &junk
        ),
        Err(SpvError::Malformed(_))
    ));
    let mut junk = e;
    junk.merkle_proof = vec![0xff; 10];
    assert_eq!(
        verify_deposit(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            6,
            &commitment,
            &junk
        ),
        Err(SpvError::Malformed("merkle proof"))
    );
}

#[test]
fn the_htlc_script_is_the_reference_template_opcode_for_opcode() {
    let h = htlc();
    let s = h.script();
    let asm = s.to_asm_string();
    assert_eq!(
        asm,
        format!(
            "OP_IF OP_SHA256 OP_PUSHBYTES_32 {} OP_EQUALVERIFY OP_PUSHBYTES_33 {} OP_CHECKSIG OP_ELSE OP_SHA256 OP_PUSHBYTES_32 {} OP_EQUALVERIFY OP_PUSHBYTES_33 {} OP_CHECKSIG OP_ENDIF",
            hex(&h.h_claim), hex(&h.claimer), hex(&h.h_refund), hex(&h.refunder)
        )
    );
    assert!(h.script_pubkey().is_p2wsh());
    assert!(h
        .address(BtcNetwork::Mainnet)
        .to_string()
        .starts_with("bc1q"));
    assert!(h
        .address(BtcNetwork::Regtest)
        .to_string()
        .starts_with("bcrt1q"));
    let o = OutPoint {
        txid: bitcoin::Txid::all_zeros(),
        vout: 7,
    };
    assert_eq!(&outpoint_bytes(&o)[32..], &7u32.to_le_bytes());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use bitcoin::hashes::sha256;
    sha256::Hash::hash(b).to_byte_array()
}

#[test]
fn the_keepers_claim_passes_bitcoin_cores_interpreter_and_pays_provably() {
    let secret = bitcoin::secp256k1::SecretKey::from_slice(&[3; 32]).unwrap();
    let h = Htlc {
        h_claim: sha256(b"claim secret"),
        h_refund: sha256(b"refund secret"),
        claimer: dsm_btc::regtest::test_key(3),
        refunder: dsm_btc::regtest::test_key(4),
    };
    let deposit_tx = funding(&h, 100_000, &[5; 32]);
    let deposit = OutPoint {
        txid: deposit_tx.compute_txid(),
        vout: 0,
    };
    let holder =
        bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::hash(&dsm_btc::regtest::test_key(8)));
    let request = [6u8; 32];
    let outputs = vec![
        bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(99_000),
            script_pubkey: holder.clone(),
        },
        bitcoin::TxOut {
            value: bitcoin::Amount::ZERO,
            script_pubkey: commitment_script(&request),
        },
    ];
    let claim = build_claim(
        &h,
        deposit,
        100_000,
        b"claim secret",
        &secret,
        outputs.clone(),
    );
    verify_spend(&claim, 0, &h.script_pubkey(), 100_000).unwrap();
    // A wrong preimage, a wrong key, a wrong amount: Bitcoin Core's interpreter refuses.
    let bad = build_claim(
        &h,
        deposit,
        100_000,
        b"claim secreT",
        &secret,
        outputs.clone(),
    );
    assert_eq!(
        verify_spend(&bad, 0, &h.script_pubkey(), 100_000),
        Err(SpvError::ScriptRefused(0))
    );
    let other = bitcoin::secp256k1::SecretKey::from_slice(&[4; 32]).unwrap();
    let bad = build_claim(
        &h,
        deposit,
        100_000,
        b"claim secret",
        &other,
        outputs.clone(),
    );
    assert_eq!(
        format!(
            "{:?}",
            verify_spend(&bad, 0, &h.script_pubkey(), 100_000).unwrap_err()
        ),
        "ScriptRefused(0)"
    );
    assert_eq!(
        format!(
            "{:?}",
            verify_spend(&claim, 0, &h.script_pubkey(), 100_001).unwrap_err()
        ),
        "ScriptRefused(0)"
    );
    // Mined and buried, the claim is a provable payment to the holder for the request.
    let mut chain = Chain::new();
    chain.add(vec![deposit_tx.clone()]);
    let pb = chain.add(vec![claim.clone()]);
    chain.bury(2);
    let ev = chain.evidence(&claim, 0, &h, pb);
    let inclusion = InclusionEvidence {
        tx: ev.tx.clone(),
        headers: ev.headers.clone(),
        block_index: pb,
        merkle_proof: ev.merkle_proof.clone(),
    };
    let txid = verify_payment(
        BtcNetwork::Regtest,
        &chain.checkpoint,
        3,
        &holder,
        99_000,
        &request,
        &inclusion,
    )
    .unwrap();
    assert_eq!(txid, claim.compute_txid());
    assert_eq!(
        verify_payment(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            3,
            &holder,
            99_001,
            &request,
            &inclusion
        ),
        Err(SpvError::Underpaid)
    );
    assert_eq!(
        verify_payment(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            3,
            &holder,
            1,
            &[7; 32],
            &inclusion
        ),
        Err(SpvError::NoCommitment)
    );
    assert!(matches!(
        verify_payment(
            BtcNetwork::Regtest,
            &chain.checkpoint,
            4,
            &holder,
            1,
            &request,
            &inclusion
        ),
        Err(SpvError::TooShallow { .. })
    ));
}
