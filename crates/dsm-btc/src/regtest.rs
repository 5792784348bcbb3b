//! A regtest chain built in-process, for tests and the demo: no Bitcoin node runs here, so
//! blocks are assembled and mined at regtest difficulty (a couple of hashes each). The
//! verifying code is the same for every network.

use crate::{commitment_script, header_bytes, Checkpoint, DepositEvidence, Htlc};
use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::encode::serialize;
use bitcoin::merkle_tree::PartialMerkleTree;
use bitcoin::transaction::Version;
/// Re-exported so tests and the demo can build outputs without naming rust-bitcoin.
pub use bitcoin::{Amount, ScriptBuf, Transaction, TxOut};
use bitcoin::{Block, CompactTarget, Network, OutPoint, Sequence, TxIn, TxMerkleNode, Witness};

/// Mines a header on `prev` at `bits` (regtest difficulty: a few nonces).
pub fn mine(prev: &Header, merkle_root: TxMerkleNode, time: u32, bits: CompactTarget) -> Header {
    let mut h = Header {
        version: BlockVersion::TWO,
        prev_blockhash: prev.block_hash(),
        merkle_root,
        time,
        bits,
        nonce: 0,
    };
    while h.validate_pow(h.target()).is_err() {
        h.nonce = h.nonce.wrapping_add(1);
    }
    h
}

/// A coinbase-like transaction making block `height` unique.
pub fn coinbase(height: u32) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(height.to_le_bytes().to_vec()),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(50 * 100_000_000),
            script_pubkey: ScriptBuf::new(),
        }],
    }
}

/// A funding transaction paying `sats` to `htlc` with the recipient `commitment`.
pub fn funding(htlc: &Htlc, sats: u64, commitment: &[u8; 32], salt: u32) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: coinbase(salt).compute_txid(),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(sats),
                script_pubkey: htlc.script_pubkey(),
            },
            TxOut {
                value: Amount::ZERO,
                script_pubkey: commitment_script(commitment),
            },
        ],
    }
}

/// A regtest chain from the regtest genesis block.
pub struct Chain {
    /// The genesis block as the checkpoint (height 0).
    pub checkpoint: Checkpoint,
    /// Mined headers after it.
    pub headers: Vec<Header>,
    /// Each mined block's transactions.
    pub blocks: Vec<Vec<Transaction>>,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    /// A chain holding only the regtest genesis block.
    pub fn new() -> Chain {
        let g = bitcoin::constants::genesis_block(Network::Regtest).header;
        Chain {
            checkpoint: Checkpoint {
                height: 0,
                header: g,
            },
            headers: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// The regtest difficulty.
    pub fn bits() -> CompactTarget {
        bitcoin::constants::genesis_block(Network::Regtest)
            .header
            .bits
    }

    fn tip(&self) -> Header {
        *self.headers.last().unwrap_or(&self.checkpoint.header)
    }

    /// Mines a block holding a coinbase and `txs`; returns its index in `headers`.
    pub fn add(&mut self, txs: Vec<Transaction>) -> u32 {
        let mut all = vec![coinbase(self.headers.len() as u32 + 1)];
        all.extend(txs);
        let tip = self.tip();
        let block = Block {
            header: tip,
            txdata: all.clone(),
        };
        let root = block.compute_merkle_root().expect("a block has a coinbase");
        self.headers
            .push(mine(&tip, root, tip.time + 600, Chain::bits()));
        self.blocks.push(all);
        self.headers.len() as u32 - 1
    }

    /// Mines `n` empty blocks.
    pub fn bury(&mut self, n: u32) {
        for _ in 0..n {
            self.add(Vec::new());
        }
    }

    /// The partial merkle tree proving `tx` in block `block`.
    pub fn merkle_proof(&self, block: u32, tx: &Transaction) -> Vec<u8> {
        let txids: Vec<_> = self.blocks[block as usize]
            .iter()
            .map(|t| t.compute_txid())
            .collect();
        let matches: Vec<bool> = txids.iter().map(|t| *t == tx.compute_txid()).collect();
        serialize(&PartialMerkleTree::from_txids(&txids, &matches))
    }

    /// Deposit evidence for output `vout` of `tx`, mined in `block`, with every header.
    pub fn evidence(
        &self,
        tx: &Transaction,
        vout: u32,
        htlc: &Htlc,
        block: u32,
    ) -> DepositEvidence {
        DepositEvidence {
            tx: serialize(tx),
            vout,
            htlc: htlc.clone(),
            headers: self.headers.iter().map(header_bytes).collect(),
            block_index: block,
            merkle_proof: self.merkle_proof(block, tx),
        }
    }
}

/// A deterministic compressed secp256k1 public key from a seed byte (test keys only).
pub fn test_key(n: u8) -> [u8; 33] {
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[n.max(1); 32]).expect("non-zero scalar");
    bitcoin::secp256k1::PublicKey::from_secret_key(&bitcoin::secp256k1::Secp256k1::new(), &sk)
        .serialize()
}
