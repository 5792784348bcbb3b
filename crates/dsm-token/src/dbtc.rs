//! dBTC (PROTOCOL.md §19): a token whose policy says "1 unit = 1 satoshi locked in a
//! Bitcoin HTLC". It is minted only by a deposit proof — the funding transaction, its
//! inclusion in a block, and a header chain from the policy's checkpoint at least `d_min`
//! deep, checked by `dsm-btc` — and at most once per funding outpoint.

use crate::policy::{BurnRule, Issuers, TokenKind, TokenPolicy, TransferRule};
use dsm_btc::{BtcNetwork, Checkpoint, DepositEvidence, Htlc};
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;

/// 21,000,000 BTC in satoshis: dBTC's cap.
pub const DBTC_CAP: u128 = 21_000_000 * 100_000_000;
/// The confirmation depth mainnet deposits need.
pub const MAINNET_D_MIN: u32 = 100;

/// The Bitcoin side of a dBTC policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitcoinBridge {
    /// The network deposits must be on.
    pub network: BtcNetwork,
    /// The trusted checkpoint's height.
    pub checkpoint_height: u32,
    /// The trusted checkpoint header (80 bytes).
    pub checkpoint_header: [u8; 80],
    /// Confirmations a deposit needs (≥ 100 on mainnet).
    pub d_min: u32,
    /// The keeper's Bitcoin key every deposit HTLC must name as claimer (33 bytes): the
    /// party that pays out withdrawals on Bitcoin (§19.4 says what that trusts).
    pub keeper: [u8; 33],
}

impl BitcoinBridge {
    /// The checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint, dsm_btc::SpvError> {
        Ok(Checkpoint {
            height: self.checkpoint_height,
            header: dsm_btc::parse_header(&self.checkpoint_header)?,
        })
    }

    /// Structural rules.
    pub fn validate(&self) -> Result<(), &'static str> {
        self.checkpoint()
            .map_err(|_| "the checkpoint is not a Bitcoin header")?;
        if self.d_min == 0 || (self.network == BtcNetwork::Mainnet && self.d_min < MAINNET_D_MIN) {
            return Err("d_min must be at least 1 (100 on mainnet)");
        }
        if bitcoin::secp256k1::PublicKey::from_slice(&self.keeper).is_err() {
            return Err("the keeper key is not a compressed secp256k1 key");
        }
        Ok(())
    }
}

impl Canonical for BitcoinBridge {
    const MAX_ENCODED_LEN: usize = 160;
    fn encode(&self, w: &mut Writer) {
        w.uint(1, self.network as u64);
        w.uint(2, u64::from(self.checkpoint_height));
        w.bytes(3, &self.checkpoint_header);
        w.uint(4, u64::from(self.d_min));
        w.bytes(5, &self.keeper);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BitcoinBridge {
            network: BtcNetwork::from_u64(r.uint(1)?)
                .ok_or(DecodeError::Invalid("unknown Bitcoin network"))?,
            checkpoint_height: r.uint_max(2, u64::from(u32::MAX))? as u32,
            checkpoint_header: r.fixed(3)?,
            d_min: r.uint_max(4, u64::from(u32::MAX))? as u32,
            keeper: r.fixed(5)?,
        })
    }
}

/// The dBTC policy for a bridge: ticker DBTC, 8 decimals, cap 21·10^14 sats, no issuers
/// (only deposits mint), holders burn (a withdrawal request).
pub fn dbtc_policy(bridge: BitcoinBridge) -> TokenPolicy {
    TokenPolicy {
        ticker: "DBTC".into(),
        decimals: 8,
        kind: TokenKind::Fungible,
        cap: Amount(DBTC_CAP),
        salt: TokenId::from_label("DBTC/v1").0,
        issuers: Issuers::default(),
        burn: BurnRule::Holder,
        transfers: TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: None,
        bitcoin: Some(bridge),
    }
}

/// The commitment a funding transaction carries (in an `OP_RETURN` output) so that only
/// `device` can mint `token` from it: `H(DbtcDeposit, token, device)`.
pub fn recipient_commitment(token: &TokenId, device: &DeviceId) -> [u8; 32] {
    tagged_hash(Tag::DbtcDeposit, &[token.as_bytes(), device.as_bytes()]).0
}

/// The key of a funding outpoint (its anchor slot and used-set entry).
pub fn outpoint_key(outpoint: &bitcoin::OutPoint) -> Digest {
    tagged_hash(Tag::DbtcOutpoint, &[&dsm_btc::outpoint_bytes(outpoint)])
}

/// A deposit proof: the Bitcoin evidence for one HTLC output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositProof(pub DepositEvidence);

impl std::hash::Hash for DepositProof {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state)
    }
}

/// The most headers a deposit proof carries.
pub const MAX_PROOF_HEADERS: usize = 4_000;

impl Canonical for DepositProof {
    const MAX_ENCODED_LEN: usize = 80 * MAX_PROOF_HEADERS + 200_000;
    fn encode(&self, w: &mut Writer) {
        let e = &self.0;
        w.bytes(1, &e.tx);
        w.uint(2, u64::from(e.vout));
        w.bytes(3, &e.htlc.h_claim);
        w.bytes(4, &e.htlc.h_refund);
        w.bytes(5, &e.htlc.claimer);
        w.bytes(6, &e.htlc.refunder);
        w.repeated_bytes(7, &e.headers);
        w.uint(8, u64::from(e.block_index));
        w.bytes(9, &e.merkle_proof);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tx = r.bytes(1, 100_000)?.to_vec();
        let vout = r.uint_max(2, u64::from(u32::MAX))? as u32;
        let htlc = Htlc {
            h_claim: r.fixed(3)?,
            h_refund: r.fixed(4)?,
            claimer: r.fixed(5)?,
            refunder: r.fixed(6)?,
        };
        let headers = r.repeated_fixed::<80>(7, MAX_PROOF_HEADERS)?;
        let block_index = r.uint_max(8, u64::from(u32::MAX))? as u32;
        let merkle_proof = r.bytes(9, 100_000)?.to_vec();
        if tx.is_empty() || merkle_proof.is_empty() {
            return Err(DecodeError::Invalid(
                "a deposit proof has a transaction and a merkle proof",
            ));
        }
        Ok(DepositProof(DepositEvidence {
            tx,
            vout,
            htlc,
            headers,
            block_index,
            merkle_proof,
        }))
    }
}

/// A dBTC mint: the token and the deposit proof.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BtcMint {
    /// The dBTC token (its policy holds the bridge).
    pub token: TokenId,
    /// The Bitcoin evidence.
    pub proof: DepositProof,
}

impl BtcMint {
    /// The key of the funding outpoint this mint spends, from its transaction bytes alone
    /// (`None` if they do not parse).
    pub fn outpoint_key(&self) -> Option<Digest> {
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize(&self.proof.0.tx).ok()?;
        Some(outpoint_key(&bitcoin::OutPoint {
            txid: tx.compute_txid(),
            vout: self.proof.0.vout,
        }))
    }
}

impl Canonical for BtcMint {
    const MAX_ENCODED_LEN: usize = DepositProof::MAX_ENCODED_LEN + 64;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.message(2, &self.proof);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BtcMint {
            token: TokenId(Digest(r.fixed(1)?)),
            proof: r.message(2)?,
        })
    }
}
