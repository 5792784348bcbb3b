//! dBTC (PROTOCOL.md §19): a token whose policy says "1 unit = 1 satoshi locked in a
//! Bitcoin HTLC". It is minted only by a deposit proof — the funding transaction, its
//! inclusion in a block, and a header chain from the policy's checkpoint at least `d_min`
//! deep, checked by `dsm-btc` — and at most once per funding outpoint.

use crate::policy::{BurnRule, Issuers, TokenKind, TokenPolicy, TransferRule};
use dsm_btc::{BtcNetwork, Checkpoint, DepositEvidence, Htlc};
use dsm_core::chain::HeadDigest;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Reader, Writer};
use dsm_core::crypto::{PublicKey, Signature, SigningKey};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::DeviceId;
use dsm_core::tags::Tag;

/// 21,000,000 BTC in satoshis: dBTC's cap.
pub const DBTC_CAP: u128 = 21_000_000 * 100_000_000;
/// The confirmation depth mainnet deposits need.
pub const MAINNET_D_MIN: u32 = 100;

/// Which Bitcoin chain evidence must come from, and how deep: the network, a trusted
/// checkpoint and the confirmations needed. One rule for the dBTC bridge and for vault
/// Bitcoin conditions; it is encoded as fields 1–4 of the message that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitcoinChain {
    /// The network.
    pub network: BtcNetwork,
    /// The trusted checkpoint's height.
    pub checkpoint_height: u32,
    /// The trusted checkpoint header (80 bytes).
    pub checkpoint_header: [u8; 80],
    /// Confirmations needed.
    pub d_min: u32,
}

impl BitcoinChain {
    /// The checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint, dsm_btc::SpvError> {
        Checkpoint::parse(self.checkpoint_height, &self.checkpoint_header)
    }

    /// A deposit carrying `commitment`, at least `d_min` deep on this chain.
    pub fn verify_deposit(
        &self,
        commitment: &[u8; 32],
        e: &DepositEvidence,
    ) -> Result<dsm_btc::Deposit, dsm_btc::SpvError> {
        dsm_btc::verify_deposit(self.network, &self.checkpoint()?, self.d_min, commitment, e)
    }

    /// A payment of at least `min_sats` to `to` carrying `commitment`, at least `d_min` deep
    /// on this chain.
    pub fn verify_payment(
        &self,
        to: &[u8],
        min_sats: u64,
        commitment: &[u8; 32],
        e: &dsm_btc::InclusionEvidence,
    ) -> Result<bitcoin::Txid, dsm_btc::SpvError> {
        dsm_btc::verify_payment(
            self.network,
            &self.checkpoint()?,
            self.d_min,
            &bitcoin::ScriptBuf::from_bytes(to.to_vec()),
            min_sats,
            commitment,
            e,
        )
    }

    /// Writes fields 1–4 (network, checkpoint height, checkpoint header, d_min).
    pub(crate) fn encode_fields(&self, w: &mut Writer) {
        w.uint(1, self.network as u64);
        w.uint(2, u64::from(self.checkpoint_height));
        w.bytes(3, &self.checkpoint_header);
        w.uint(4, u64::from(self.d_min));
    }

    /// Reads fields 1–4.
    pub(crate) fn decode_fields(r: &mut Reader<'_>) -> Result<BitcoinChain, DecodeError> {
        Ok(BitcoinChain {
            network: BtcNetwork::from_u64(r.uint(1)?)
                .ok_or(DecodeError::Invalid("unknown Bitcoin network"))?,
            checkpoint_height: r.uint_max(2, u64::from(u32::MAX))? as u32,
            checkpoint_header: r.fixed(3)?,
            d_min: r.uint_max(4, u64::from(u32::MAX))? as u32,
        })
    }
}

/// The Bitcoin side of a dBTC policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitcoinBridge {
    /// The chain deposits must be on (`d_min` ≥ 100 on mainnet).
    pub chain: BitcoinChain,
    /// The keeper's Bitcoin key every deposit HTLC must name as claimer (33 bytes): the
    /// party that pays out withdrawals on Bitcoin (§19.4 says what that trusts).
    pub keeper: [u8; 33],
    /// The keeper's DSM key, which signs withdrawal declines.
    pub keeper_dsm: PublicKey,
}

impl BitcoinBridge {
    /// Structural rules.
    pub fn validate(&self) -> Result<(), &'static str> {
        let c = &self.chain;
        c.checkpoint()
            .map_err(|_| "the checkpoint is not a Bitcoin header")?;
        if c.d_min == 0 || (c.network == BtcNetwork::Mainnet && c.d_min < MAINNET_D_MIN) {
            return Err("d_min must be at least 1 (100 on mainnet)");
        }
        if bitcoin::secp256k1::PublicKey::from_slice(&self.keeper).is_err() {
            return Err("the keeper key is not a compressed secp256k1 key");
        }
        Ok(())
    }
}

impl Canonical for BitcoinBridge {
    const MAX_ENCODED_LEN: usize = 4_096;
    fn encode(&self, w: &mut Writer) {
        self.chain.encode_fields(w);
        w.bytes(5, &self.keeper);
        w.message(6, &self.keeper_dsm);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BitcoinBridge {
            chain: BitcoinChain::decode_fields(r)?,
            keeper: r.fixed(5)?,
            keeper_dsm: r.message(6)?,
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
        refreshers: None,
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DepositProof(pub DepositEvidence);

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
        self.claimed().map(|(key, _)| key)
    }

    /// What the mint claims, from its transaction bytes alone (nothing verified): the
    /// outpoint key and the output's value. `None` if the bytes do not parse or the output
    /// does not exist. The verified values come from [`crate::source::TokenRules`].
    pub fn claimed(&self) -> Option<(Digest, Amount)> {
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize(&self.proof.0.tx).ok()?;
        let out = tx.output.get(self.proof.0.vout as usize)?;
        let key = outpoint_key(&bitcoin::OutPoint {
            txid: tx.compute_txid(),
            vout: self.proof.0.vout,
        });
        Some((key, Amount(u128::from(out.value.to_sat()))))
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

/// A holder's request to turn dBTC back into bitcoin: the amount leaves its head (a BURN
/// head; "in flight") until the keeper's payment is proven (final) or the keeper declines
/// (the holder takes it back).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WithdrawalRequest {
    /// The dBTC token.
    pub token: TokenId,
    /// The holder.
    pub holder: DeviceId,
    /// The head the request's BURN extends.
    pub holder_parent_head: HeadDigest,
    /// Satoshis to pay.
    pub amount: Amount,
    /// The Bitcoin output script to pay (at most 100 bytes).
    pub to_script: Vec<u8>,
}

impl WithdrawalRequest {
    /// `H(DbtcWithdrawal, enc(request))`: the id, and the commitment the payment carries.
    pub fn id(&self) -> Digest {
        tagged_hash(Tag::DbtcWithdrawal, &[&self.to_bytes()])
    }
}

impl Canonical for WithdrawalRequest {
    const MAX_ENCODED_LEN: usize = 300;
    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.token.as_bytes());
        w.bytes(2, self.holder.as_bytes());
        w.bytes(3, self.holder_parent_head.as_bytes());
        w.bytes(4, &self.amount.0.to_be_bytes());
        w.bytes(5, &self.to_script);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let req = WithdrawalRequest {
            token: TokenId(Digest(r.fixed(1)?)),
            holder: DeviceId(Digest(r.fixed(2)?)),
            holder_parent_head: HeadDigest(Digest(r.fixed(3)?)),
            amount: Amount(u128::from_be_bytes(r.fixed(4)?)),
            to_script: r.bytes(5, 100)?.to_vec(),
        };
        if req.to_script.is_empty() || req.amount.0 == 0 || req.amount.0 > u128::from(u64::MAX) {
            return Err(DecodeError::Invalid(
                "a withdrawal pays a non-empty script a non-zero amount of satoshis",
            ));
        }
        Ok(req)
    }
}

/// The keeper's proven payment of a withdrawal: a buried Bitcoin transaction paying the
/// request's script at least its amount and committing to its id. It makes the request's
/// burn final; no refund is accepted after it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WithdrawalPayment {
    /// The request.
    pub request: WithdrawalRequest,
    /// The Bitcoin evidence.
    pub evidence: dsm_btc::InclusionEvidence,
}

impl Canonical for WithdrawalPayment {
    const MAX_ENCODED_LEN: usize = DepositProof::MAX_ENCODED_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.request);
        w.bytes(2, &self.evidence.tx);
        w.repeated_bytes(3, &self.evidence.headers);
        w.uint(4, u64::from(self.evidence.block_index));
        w.bytes(5, &self.evidence.merkle_proof);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(WithdrawalPayment {
            request: r.message(1)?,
            evidence: dsm_btc::InclusionEvidence {
                tx: r.bytes(2, 100_000)?.to_vec(),
                headers: r.repeated_fixed::<80>(3, MAX_PROOF_HEADERS)?,
                block_index: r.uint_max(4, u64::from(u32::MAX))? as u32,
                merkle_proof: r.bytes(5, 100_000)?.to_vec(),
            },
        })
    }
}

/// The keeper declining a withdrawal: the holder may take the amount back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WithdrawalDecline {
    /// The request.
    pub request: WithdrawalRequest,
    /// The keeper's DSM signature over `H(DbtcDecline, request id)`.
    pub signature: Signature,
}

/// What the keeper signs to decline.
pub fn decline_message(request: &Digest) -> Digest {
    tagged_hash(Tag::DbtcDecline, &[request.as_bytes()])
}

/// The keeper declines `request` with its DSM key.
pub fn decline(
    request: WithdrawalRequest,
    keeper: &SigningKey,
    rnd: &[u8; 32],
) -> Result<WithdrawalDecline, dsm_core::crypto::CryptoError> {
    let signature = keeper.sign(decline_message(&request.id()).as_bytes(), rnd)?;
    Ok(WithdrawalDecline { request, signature })
}

impl Canonical for WithdrawalDecline {
    const MAX_ENCODED_LEN: usize = 40_000;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.request);
        w.message(2, &self.signature);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(WithdrawalDecline {
            request: r.message(1)?,
            signature: r.message(2)?,
        })
    }
}

/// Verifies a payment under `bridge`: returns the request id.
pub fn verify_withdrawal_payment(
    bridge: &BitcoinBridge,
    p: &WithdrawalPayment,
) -> Result<Digest, dsm_btc::SpvError> {
    let id = p.request.id();
    let sats = u64::try_from(p.request.amount.0).map_err(|_| dsm_btc::SpvError::Underpaid)?;
    bridge
        .chain
        .verify_payment(&p.request.to_script, sats, &id.0, &p.evidence)?;
    Ok(id)
}

/// Verifies a decline under `bridge`: returns the request id.
pub fn verify_decline(bridge: &BitcoinBridge, d: &WithdrawalDecline) -> Option<Digest> {
    let id = d.request.id();
    bridge
        .keeper_dsm
        .verify(decline_message(&id).as_bytes(), &d.signature)
        .ok()
        .map(|_| id)
}

/// True when the keeper both paid and declined one request: transferable evidence that the
/// keeper is dishonest (a refund after a payment would create unbacked dBTC).
pub fn keeper_equivocation(
    bridge: &BitcoinBridge,
    payment: &WithdrawalPayment,
    decline: &WithdrawalDecline,
) -> bool {
    payment.request == decline.request
        && verify_withdrawal_payment(bridge, payment).is_ok()
        && verify_decline(bridge, decline).is_some()
}

/// The most bytes a [`WithdrawalDocument`] may take.
pub const MAX_WITHDRAWAL_DOCUMENT_LEN: usize = 16 << 20;

/// What a holder hands the bridge's keeper with a withdrawal request (PROTOCOL.md §19.3):
/// the request, the statement by which it consumed the holder's parcels with their
/// manifests, and the lineage objects they list (strictly ascending bytewise). The keeper
/// pays on Bitcoin only after checking the lineages and that the statement holds its
/// parcels' slots: otherwise it would pay bitcoin for dBTC nobody deposited, or spent
/// elsewhere too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalDocument {
    /// The request.
    pub request: WithdrawalRequest,
    /// The parcels it consumed.
    pub backing: crate::source::ConsumedParcels,
    /// The lineage objects the manifests list.
    pub objects: Vec<Vec<u8>>,
    /// The holder's authorization to put its consuming statement in the consumed parcels'
    /// owned slots (PROTOCOL.md §15.2), so that the document's receiver can settle it
    /// without the holder. Optional.
    pub slot_write: Option<dsm_core::slot::SlotWrite>,
}

impl Canonical for WithdrawalDocument {
    const MAX_ENCODED_LEN: usize = MAX_WITHDRAWAL_DOCUMENT_LEN;
    fn encode(&self, w: &mut Writer) {
        w.message(1, &self.request);
        w.message(2, &self.backing);
        w.repeated_bytes(3, &self.objects);
        w.optional_message(4, self.slot_write.as_ref());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let request = r.message(1)?;
        let backing = r.message(2)?;
        let objects = r.ascending_objects(
            3,
            1 << 20,
            MAX_WITHDRAWAL_DOCUMENT_LEN,
            "a withdrawal document's objects are strictly ascending (bytewise), each once",
        )?;
        Ok(WithdrawalDocument {
            request,
            backing,
            objects,
            slot_write: r.optional_message(4)?,
        })
    }
}
