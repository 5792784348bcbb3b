//! DSM's Bitcoin boundary (PROTOCOL.md §19): the dBTC deposit HTLC and SPV verification
//! of a funding transaction, built on rust-bitcoin. Everything is a pure function of the
//! bytes it is given — the header chain's depth and work are computed from the supplied
//! headers, never asserted by the caller.
//!
//! - [`Htlc`]: the two-branch hash-locked P2WSH script (no timelock);
//! - [`verify_header_chain`]: linkage from a checkpoint, proof of work for every header,
//!   the network's difficulty rules (exact retargets at every boundary on mainnet);
//! - [`verify_deposit`]: a funding transaction paying the HTLC, its merkle inclusion in a
//!   block of the chain, at least `d_min` deep, carrying the recipient's commitment.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod regtest;

use bitcoin::block::Header;
use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::merkle_tree::PartialMerkleTree;
use bitcoin::opcodes::all::{
    OP_CHECKSIG, OP_ELSE, OP_ENDIF, OP_EQUALVERIFY, OP_IF, OP_RETURN, OP_SHA256,
};
use bitcoin::params::Params;
use bitcoin::script::{Builder, PushBytesBuf, ScriptBuf};
use bitcoin::{CompactTarget, Network, OutPoint, Transaction, Txid};
use thiserror::Error;

/// The most headers one proof may carry (about 70 days of mainnet blocks).
pub const MAX_HEADERS: usize = 10_000;

/// Which Bitcoin network a dBTC policy is bound to; part of the policy, so a deposit on one
/// network never mints on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtcNetwork {
    /// Bitcoin mainnet.
    Mainnet = 1,
    /// Testnet 3.
    Testnet = 2,
    /// Signet.
    Signet = 3,
    /// Regtest (tests and demos: trivial work, no retargeting).
    Regtest = 4,
}

impl BtcNetwork {
    /// From its wire value.
    pub fn from_u64(v: u64) -> Option<BtcNetwork> {
        Some(match v {
            1 => BtcNetwork::Mainnet,
            2 => BtcNetwork::Testnet,
            3 => BtcNetwork::Signet,
            4 => BtcNetwork::Regtest,
            _ => return None,
        })
    }

    /// rust-bitcoin's network.
    pub fn network(self) -> Network {
        match self {
            BtcNetwork::Mainnet => Network::Bitcoin,
            BtcNetwork::Testnet => Network::Testnet,
            BtcNetwork::Signet => Network::Signet,
            BtcNetwork::Regtest => Network::Regtest,
        }
    }

    /// The network's consensus parameters.
    pub fn params(self) -> Params {
        Params::new(self.network())
    }
}

/// Why Bitcoin-side evidence was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpvError {
    /// Bytes that are not a Bitcoin header, transaction or merkle proof.
    #[error("malformed Bitcoin data: {0}")]
    Malformed(&'static str),
    /// A header does not build on the previous one (or on the checkpoint).
    #[error("header {0} does not link to the previous header")]
    BrokenLink(usize),
    /// A header's target is above the network's limit.
    #[error("header {0} claims a target above the network's proof-of-work limit")]
    TargetAboveLimit(usize),
    /// A header's hash does not meet its target.
    #[error("header {0} does not carry the proof of work its target demands")]
    BadProofOfWork(usize),
    /// A header's difficulty is not the one the network's rules require.
    #[error("header {0} has a difficulty the network's retarget rules do not allow")]
    BadDifficulty(usize),
    /// Too many headers.
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// The checkpoint of a retargeting network is not at a retarget boundary.
    #[error("the checkpoint must sit at a difficulty retarget boundary on this network")]
    CheckpointNotAtBoundary,
    /// The transaction is not in the named block.
    #[error("the merkle proof does not show the transaction in the block")]
    NotIncluded,
    /// Fewer confirmations than required.
    #[error("the deposit is {have} blocks deep; {need} are required")]
    TooShallow {
        /// Depth from the supplied chain.
        have: u32,
        /// Required.
        need: u32,
    },
    /// The output is not the expected HTLC.
    #[error("output {0} does not pay the deposit HTLC")]
    WrongOutput(u32),
    /// No output carries the recipient's commitment.
    #[error("the funding transaction does not commit to this recipient")]
    NoCommitment,
    /// Bitcoin Core's script interpreter refuses the spend.
    #[error("the script interpreter refuses input {0}'s witness")]
    ScriptRefused(usize),
    /// The payment does not pay the recipient enough.
    #[error("the transaction pays the recipient's script less than required")]
    Underpaid,
}

/// The deposit HTLC: two hash-locked branches and no timelock (REFERENCE §13).
///
/// ```text
/// OP_IF OP_SHA256 <h_f> OP_EQUALVERIFY <claimer> OP_CHECKSIG
/// OP_ELSE OP_SHA256 <h_r> OP_EQUALVERIFY <refund> OP_CHECKSIG OP_ENDIF
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Htlc {
    /// SHA-256 of the claim preimage.
    pub h_claim: [u8; 32],
    /// SHA-256 of the refund preimage.
    pub h_refund: [u8; 32],
    /// The claimer's compressed secp256k1 key (33 bytes).
    pub claimer: [u8; 33],
    /// The refunder's compressed secp256k1 key (33 bytes).
    pub refunder: [u8; 33],
}

impl Htlc {
    /// The witness script.
    pub fn script(&self) -> ScriptBuf {
        Builder::new()
            .push_opcode(OP_IF)
            .push_opcode(OP_SHA256)
            .push_slice(self.h_claim)
            .push_opcode(OP_EQUALVERIFY)
            .push_slice(self.claimer)
            .push_opcode(OP_CHECKSIG)
            .push_opcode(OP_ELSE)
            .push_opcode(OP_SHA256)
            .push_slice(self.h_refund)
            .push_opcode(OP_EQUALVERIFY)
            .push_slice(self.refunder)
            .push_opcode(OP_CHECKSIG)
            .push_opcode(OP_ENDIF)
            .into_script()
    }

    /// The P2WSH output script paying it.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wsh(&self.script().wscript_hash())
    }

    /// Its address on `network`.
    pub fn address(&self, network: BtcNetwork) -> bitcoin::Address {
        bitcoin::Address::p2wsh(&self.script(), network.network())
    }
}

/// The `OP_RETURN <32 bytes>` output script carrying a recipient commitment.
pub fn commitment_script(commitment: &[u8; 32]) -> ScriptBuf {
    let push = PushBytesBuf::try_from(commitment.to_vec()).expect("32 bytes fit a push");
    Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(push)
        .into_script()
}

/// A trusted starting point: a header and its height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its height.
    pub height: u32,
    /// The header (80 bytes).
    pub header: Header,
}

impl Checkpoint {
    /// The checkpoint at `height` with the 80-byte `header`.
    pub fn parse(height: u32, header: &[u8; 80]) -> Result<Checkpoint, SpvError> {
        Ok(Checkpoint {
            height,
            header: parse_header(header)?,
        })
    }
}

/// Parses an 80-byte header.
pub fn parse_header(b: &[u8]) -> Result<Header, SpvError> {
    if b.len() != 80 {
        return Err(SpvError::Malformed("a header is 80 bytes"));
    }
    deserialize(b).map_err(|_| SpvError::Malformed("header"))
}

/// The 80 bytes of a header.
pub fn header_bytes(h: &Header) -> [u8; 80] {
    serialize(h).try_into().expect("a header is 80 bytes")
}

/// Verifies `headers` as the chain following `checkpoint` on `network`: each links to the
/// previous one, meets its own target, stays within the network's limit, and carries the
/// difficulty the rules require — on retargeting networks with exact retargets (the
/// checkpoint must sit at a boundary so every period start is known); on regtest, no
/// change at all; on networks that allow minimum-difficulty blocks (testnet, signet) only
/// the limit and the work are checked. Returns the height of the last header.
pub fn verify_header_chain(
    network: BtcNetwork,
    checkpoint: &Checkpoint,
    headers: &[Header],
) -> Result<u32, SpvError> {
    if headers.len() > MAX_HEADERS {
        return Err(SpvError::TooManyHeaders);
    }
    let params = network.params();
    let interval = params.difficulty_adjustment_interval() as u32;
    let strict = !params.no_pow_retargeting && !params.allow_min_difficulty_blocks;
    if strict && !checkpoint.height.is_multiple_of(interval) {
        return Err(SpvError::CheckpointNotAtBoundary);
    }
    let mut prev = checkpoint.header;
    let mut height = checkpoint.height;
    // The header that opened the current retarget period (for the timespan).
    let mut period_start = checkpoint.header;
    for (i, h) in headers.iter().enumerate() {
        height = height
            .checked_add(1)
            .ok_or(SpvError::Malformed("height overflows"))?;
        if h.prev_blockhash != prev.block_hash() {
            return Err(SpvError::BrokenLink(i));
        }
        let target = h.target();
        if target > params.max_attainable_target {
            return Err(SpvError::TargetAboveLimit(i));
        }
        if h.validate_pow(target).is_err() {
            return Err(SpvError::BadProofOfWork(i));
        }
        if params.no_pow_retargeting {
            if h.bits != prev.bits {
                return Err(SpvError::BadDifficulty(i));
            }
        } else if strict {
            let expected: CompactTarget = if height.is_multiple_of(interval) {
                let timespan = u64::from(prev.time.saturating_sub(period_start.time));
                CompactTarget::from_next_work_required(prev.bits, timespan, &params)
            } else {
                prev.bits
            };
            if h.bits != expected {
                return Err(SpvError::BadDifficulty(i));
            }
        }
        if height.is_multiple_of(interval) {
            period_start = *h;
        }
        prev = *h;
    }
    Ok(height)
}

/// Bitcoin-side evidence of a deposit: the funding transaction, the HTLC it pays, its
/// inclusion in a block of a header chain from the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DepositEvidence {
    /// The funding transaction (consensus bytes).
    pub tx: Vec<u8>,
    /// The output paying the HTLC.
    pub vout: u32,
    /// The HTLC.
    pub htlc: Htlc,
    /// The headers after the checkpoint, up to the tip the prover saw (80 bytes each).
    pub headers: Vec<[u8; 80]>,
    /// Which of `headers` contains the transaction.
    pub block_index: u32,
    /// A partial merkle tree (consensus bytes) matching the transaction in that block.
    pub merkle_proof: Vec<u8>,
}

/// What a verified deposit proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// The funding outpoint.
    pub outpoint: OutPoint,
    /// The amount locked, in satoshis.
    pub sats: u64,
    /// Its depth in the supplied chain (1 = in the tip block).
    pub depth: u32,
}

/// Verifies `e` on `network` from `checkpoint`: the chain, the transaction's inclusion in
/// block `block_index`, output `vout` paying exactly the HTLC's P2WSH, an `OP_RETURN`
/// output carrying `commitment`, and a depth of at least `d_min` blocks counted from the
/// supplied headers.
pub fn verify_deposit(
    network: BtcNetwork,
    checkpoint: &Checkpoint,
    d_min: u32,
    commitment: &[u8; 32],
    e: &DepositEvidence,
) -> Result<Deposit, SpvError> {
    let inclusion = InclusionEvidence {
        tx: e.tx.clone(),
        headers: e.headers.clone(),
        block_index: e.block_index,
        merkle_proof: e.merkle_proof.clone(),
    };
    let (tx, depth) = verify_inclusion(network, checkpoint, d_min, &inclusion)?;
    let txid = tx.compute_txid();
    let out = tx
        .output
        .get(e.vout as usize)
        .ok_or(SpvError::WrongOutput(e.vout))?;
    if out.script_pubkey != e.htlc.script_pubkey() {
        return Err(SpvError::WrongOutput(e.vout));
    }
    let commit = commitment_script(commitment);
    if !tx.output.iter().any(|o| o.script_pubkey == commit) {
        return Err(SpvError::NoCommitment);
    }
    Ok(Deposit {
        outpoint: OutPoint { txid, vout: e.vout },
        sats: out.value.to_sat(),
        depth,
    })
}

/// The 36 bytes naming an outpoint: txid (internal byte order) ‖ u32le(vout).
pub fn outpoint_bytes(o: &OutPoint) -> [u8; 36] {
    let mut b = [0u8; 36];
    b[..32].copy_from_slice(o.txid.as_byte_array());
    b[32..].copy_from_slice(&o.vout.to_le_bytes());
    b
}

/// Builds the keeper's claim of a deposit: spends `deposit` (holding `deposit_sats` in the
/// HTLC) through the claim branch — witness `<signature> <preimage> 1 <script>` — to
/// `outputs`, signed with `keeper` (whose public key is the HTLC's claimer).
pub fn build_claim(
    htlc: &Htlc,
    deposit: OutPoint,
    deposit_sats: u64,
    preimage: &[u8],
    keeper: &bitcoin::secp256k1::SecretKey,
    outputs: Vec<bitcoin::TxOut>,
) -> Transaction {
    use bitcoin::sighash::{EcdsaSighashType, SighashCache};
    let script = htlc.script();
    let mut tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: deposit,
            script_sig: ScriptBuf::new(),
            sequence: bitcoin::Sequence::MAX,
            witness: bitcoin::Witness::new(),
        }],
        output: outputs,
    };
    let sighash = SighashCache::new(&tx)
        .p2wsh_signature_hash(
            0,
            &script,
            bitcoin::Amount::from_sat(deposit_sats),
            EcdsaSighashType::All,
        )
        .expect("input 0 exists");
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let msg = bitcoin::secp256k1::Message::from_digest(sighash.to_byte_array());
    let sig = bitcoin::ecdsa::Signature {
        signature: secp.sign_ecdsa(&msg, keeper),
        sighash_type: EcdsaSighashType::All,
    };
    let mut w = bitcoin::Witness::new();
    w.push(sig.to_vec());
    w.push(preimage);
    w.push([1u8]);
    w.push(script.as_bytes());
    tx.input[0].witness = w;
    tx
}

/// Checks input `index` of `tx` against the output it spends (`script_pubkey` holding
/// `sats`) with Bitcoin Core's consensus script interpreter.
pub fn verify_spend(
    tx: &Transaction,
    index: usize,
    script_pubkey: &ScriptBuf,
    sats: u64,
) -> Result<(), SpvError> {
    script_pubkey
        .verify(index, bitcoin::Amount::from_sat(sats), &serialize(tx))
        .map_err(|_| SpvError::ScriptRefused(index))
}

/// Bitcoin-side evidence that a transaction is buried in a chain from the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InclusionEvidence {
    /// The transaction (consensus bytes).
    pub tx: Vec<u8>,
    /// The headers after the checkpoint (80 bytes each).
    pub headers: Vec<[u8; 80]>,
    /// Which header's block holds the transaction.
    pub block_index: u32,
    /// A partial merkle tree matching the transaction in that block.
    pub merkle_proof: Vec<u8>,
}

/// Verifies that `e.tx` is in block `block_index` of a valid chain from `checkpoint`, at
/// least `d_min` deep; returns the transaction and its depth.
pub fn verify_inclusion(
    network: BtcNetwork,
    checkpoint: &Checkpoint,
    d_min: u32,
    e: &InclusionEvidence,
) -> Result<(Transaction, u32), SpvError> {
    let headers = e
        .headers
        .iter()
        .map(|b| parse_header(b))
        .collect::<Result<Vec<_>, _>>()?;
    verify_header_chain(network, checkpoint, &headers)?;
    let block = headers
        .get(e.block_index as usize)
        .ok_or(SpvError::Malformed("block index outside the header chain"))?;
    let tx: Transaction = deserialize(&e.tx).map_err(|_| SpvError::Malformed("transaction"))?;
    let pmt: PartialMerkleTree =
        deserialize(&e.merkle_proof).map_err(|_| SpvError::Malformed("merkle proof"))?;
    let mut matches: Vec<Txid> = Vec::new();
    let mut indexes: Vec<u32> = Vec::new();
    let root = pmt
        .extract_matches(&mut matches, &mut indexes)
        .map_err(|_| SpvError::NotIncluded)?;
    if root != block.merkle_root || !matches.contains(&tx.compute_txid()) {
        return Err(SpvError::NotIncluded);
    }
    let depth = (headers.len() as u32) - e.block_index;
    if depth < d_min {
        return Err(SpvError::TooShallow {
            have: depth,
            need: d_min,
        });
    }
    Ok((tx, depth))
}

/// Verifies a withdrawal payment: a buried transaction that pays at least `min_sats` to
/// `to` and carries `commitment` (the withdrawal request it settles) in an `OP_RETURN`.
pub fn verify_payment(
    network: BtcNetwork,
    checkpoint: &Checkpoint,
    d_min: u32,
    to: &ScriptBuf,
    min_sats: u64,
    commitment: &[u8; 32],
    e: &InclusionEvidence,
) -> Result<Txid, SpvError> {
    let (tx, _) = verify_inclusion(network, checkpoint, d_min, e)?;
    let paid: u64 = tx
        .output
        .iter()
        .filter(|o| o.script_pubkey == *to)
        .map(|o| o.value.to_sat())
        .fold(0, u64::saturating_add);
    if paid < min_sats {
        return Err(SpvError::Underpaid);
    }
    let commit = commitment_script(commitment);
    if !tx.output.iter().any(|o| o.script_pubkey == commit) {
        return Err(SpvError::NoCommitment);
    }
    Ok(tx.compute_txid())
}
