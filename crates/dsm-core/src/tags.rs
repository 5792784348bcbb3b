//! The one frozen table of domain-separation tags.
//!
//! Every hash in DSM is `BLAKE3-256(lp(tag) ‖ lp(field_1) ‖ … ‖ lp(field_n))` where
//! `lp(x) = u32be(len(x)) ‖ x` (see [`crate::hash::tagged_hash`]). No two purposes share a
//! tag, and no tag is a prefix-free rewrite of another, so no hash of one purpose can be
//! replayed as a hash of another. This table is normative (PROTOCOL.md §2) and frozen:
//! changing a label changes every digest and breaks every stored chain. Add, never edit.

/// A domain-separation tag. The discriminants are not part of any encoding; only
/// [`Tag::label`] is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tag {
    /// Commitment to one contributor's genesis entropy: `(contributor, secret)`.
    EntropyCommitment,
    /// Genesis digest over the canonical `GenesisRecord`.
    Genesis,
    /// Device id: `(genesis, canonical public key)`.
    DeviceId,
    /// Relationship key: `(min(devid_a, devid_b), max(devid_a, devid_b))`.
    RelationshipKey,
    /// The implicit first tip of every relationship: `(relationship key)`.
    RelationshipGenesis,
    /// A relationship tip: `(canonical RelationshipStep)`.
    RelationshipTip,
    /// A device head digest: `(canonical DeviceHead)`.
    DeviceHead,
    /// The hash of an empty sparse-Merkle subtree (no fields).
    SmtEmpty,
    /// A sparse-Merkle leaf: `(key, value)`.
    SmtLeaf,
    /// A sparse-Merkle interior node: `(left, right)`.
    SmtNode,
    /// The sender's commit digest: `(canonical Proposal)`; this is what the sender signs.
    ProposalCommit,
    /// The receiver's commit digest: `(canonical Acceptance)`; this is what the receiver signs.
    AcceptanceCommit,
    /// Digest naming a whole receipt: `(canonical Receipt)`.
    Receipt,
    /// Digest naming a signed statement inside an equivocation proof.
    Statement,
    /// Digest naming a token: `(issuer-chosen token label)`.
    Token,
    /// Expansion of a 32-byte seed into SLH-DSA key-generation inputs.
    SlhDsaKeySeed,
    /// Cause of a non-production dev-faucet allocation: `(device id, token, amount as 16-byte
    /// big-endian)`. Never a valid source of value outside test networks.
    DevAllocation,
    /// The receiver's refusal commit digest: `(canonical Refusal)`; what a refusing
    /// receiver signs.
    RefusalCommit,
    /// The relationship tip after a refused step: `(child tip of the refused step)`.
    ReleaseTip,
    /// The address of a content-addressed object at a storage node: `(object bytes)`.
    ObjectAddress,
    /// Deterministic placement of a key on storage nodes: `(key, node url)`; nodes are
    /// ranked by this digest.
    Placement,
    /// The storage index of a device's b0x (inbox for unilateral delivery): `(device id)`.
    B0xAddress,
    /// Who contributes genesis entropy: `(role, name)`, e.g. `("device", "")` or
    /// `("storage-node", base URL)`.
    EntropyContributor,
    /// A genesis ceremony's id at the storage nodes: `(enc(founding key), the device's own
    /// entropy commitment)`. Binding the device's commitment stops it from re-choosing its
    /// secret after seeing the nodes'.
    EntropyCeremony,
    /// The insecure, forgeable test signature of [`crate::crypto::SuiteId::InsecureTest`]
    /// (model checking only): `(public key, context, message)`. No production build can
    /// produce or accept it.
    InsecureTestSignature,
    /// A token's policy commitment, which is also its id: `(canonical TokenPolicy)`.
    TokenPolicy,
    /// What a token's issuers sign to mint: `(canonical MintStatement)`.
    MintStatement,
    /// A burn's digest (the BURN head's cause, and what issuers sign when the policy requires them): `(canonical BurnStatement)`.
    BurnStatement,
    /// The cause of an ALLOCATION or BURN head: `(canonical SourceProof)`.
    SourceProof,
    /// The value of a device's leaf in a token allowlist tree: `(token policy salt, device id)`.
    AllowlistMember,
    /// A device's join activation (its spent-set key): `(token, device id)`.
    DjteJoin,
    /// Which activation shard a device falls in (the first `shard_bits` bits): `(device id)`.
    DjteShard,
    /// An activation-accumulator leaf: `(device id)`.
    DjteActive,
    /// The first winner-selection draw: `(previous emission state digest, u64be(index), join key)`.
    DjteSeed,
    /// A redraw when a draw falls in the rejected tail: `(previous draw)`.
    DjteReseed,
    /// An interior node of a shard's activation accumulator: `(left, right)`.
    DjteMmrNode,
    /// A shard accumulator's root: `(u64be(size), peak_1, …, peak_n)`.
    DjteMmrRoot,
    /// A count-tree leaf (one shard): `(u64be(count), accumulator root)`.
    DjteCountLeaf,
    /// A count-tree node: `(u64be(count), left, right)`.
    DjteCountNode,
    /// An emission (source-vault) state digest: `(canonical EmissionState)`.
    DjteState,
    /// The spent-set value of a consumed join: `(u64be(emission index))`.
    DjteSpent,
    /// An emission's receipt: `(token, u64be(index), winner device id, u128be(amount), join key)`.
    DjteReceipt,
    /// A vault's id: `(canonical VaultPolicy)`.
    DlvVaultId,
    /// What a vault's signature conditions sign: `(vault id, u64be(branch))`.
    DlvAuthorize,
    /// What a vault's creator signs when it locks: `(vault id, lock head digest)`.
    DlvLock,
    /// The first value of a vault's iteration budget: `(vault id, u64be(branch))`.
    DlvWorkSeed,
    /// One sequential iteration of a vault's iteration budget: `(previous value)`.
    DlvWorkStep,
    /// A vault resolution's digest (its anchor-slot content and conflict key): `(canonical VaultResolution)`.
    DlvResolution,
    /// The recipient commitment a dBTC funding transaction carries in an OP_RETURN output: `(token, device id)`.
    DbtcDeposit,
    /// The anchor-slot key of a dBTC deposit's funding outpoint: `(txid ‖ u32le(vout))`.
    DbtcOutpoint,
    /// A dBTC withdrawal request's id (also the commitment its Bitcoin payment carries): `(canonical WithdrawalRequest)`.
    DbtcWithdrawal,
    /// What the keeper signs to decline a withdrawal (letting the holder take it back): `(withdrawal id)`.
    DbtcDecline,
    /// The Argon2id salt label of the recovery secret (the mnemonic's entropy is the password).
    RecoveryRing,
    /// A device generation's capsule encryption key: `(recovery secret, u64be(generation))`.
    RecoveryCapsuleKey,
    /// The recovery authority's signing-key seed: `(recovery secret)`.
    RecoveryAuthority,
    /// A device generation's capsule stream address at the storage nodes: `(recovery secret, u64be(generation))`.
    RecoveryStream,
    /// A capsule's synthetic nonce (first 24 bytes): `(stream, u64be(index), BLAKE3 of the plaintext)`.
    RecoveryNonce,
    /// A capsule's digest (the next capsule's `prev`) and its AEAD associated data: `(canonical Capsule without ciphertext)`.
    RecoveryCapsule,
    /// The slot key of capsule `index` in a stream at the storage nodes: `(u64be(index))`.
    RecoverySlot,
    /// A signed tombstone's digest (what the recovery authority signs): `(canonical Tombstone)`.
    RecoveryTombstone,
    /// A signed succession's digest (what the recovery authority signs): `(canonical Succession)`.
    RecoverySuccession,
    /// A counterparty's answer to a succession (what it signs): `(canonical SuccessionAnswer)`.
    RecoveryAnswer,
}

impl Tag {
    /// Every tag, in table order. Used by tests to prove the labels are distinct.
    pub const ALL: &'static [Tag] = &[
        Tag::EntropyCommitment,
        Tag::Genesis,
        Tag::DeviceId,
        Tag::RelationshipKey,
        Tag::RelationshipGenesis,
        Tag::RelationshipTip,
        Tag::DeviceHead,
        Tag::SmtEmpty,
        Tag::SmtLeaf,
        Tag::SmtNode,
        Tag::ProposalCommit,
        Tag::AcceptanceCommit,
        Tag::Receipt,
        Tag::Statement,
        Tag::Token,
        Tag::SlhDsaKeySeed,
        Tag::DevAllocation,
        Tag::RefusalCommit,
        Tag::ReleaseTip,
        Tag::ObjectAddress,
        Tag::Placement,
        Tag::B0xAddress,
        Tag::EntropyContributor,
        Tag::EntropyCeremony,
        Tag::InsecureTestSignature,
        Tag::TokenPolicy,
        Tag::MintStatement,
        Tag::BurnStatement,
        Tag::SourceProof,
        Tag::AllowlistMember,
        Tag::DjteJoin,
        Tag::DjteShard,
        Tag::DjteActive,
        Tag::DjteSeed,
        Tag::DjteReseed,
        Tag::DjteMmrNode,
        Tag::DjteMmrRoot,
        Tag::DjteCountLeaf,
        Tag::DjteCountNode,
        Tag::DjteState,
        Tag::DjteSpent,
        Tag::DjteReceipt,
        Tag::DlvVaultId,
        Tag::DlvAuthorize,
        Tag::DlvLock,
        Tag::DlvWorkSeed,
        Tag::DlvWorkStep,
        Tag::DlvResolution,
        Tag::DbtcDeposit,
        Tag::DbtcOutpoint,
        Tag::DbtcWithdrawal,
        Tag::DbtcDecline,
        Tag::RecoveryRing,
        Tag::RecoveryCapsuleKey,
        Tag::RecoveryAuthority,
        Tag::RecoveryStream,
        Tag::RecoveryNonce,
        Tag::RecoveryCapsule,
        Tag::RecoverySlot,
        Tag::RecoveryTombstone,
        Tag::RecoverySuccession,
        Tag::RecoveryAnswer,
    ];

    /// The ASCII label that is hashed for this tag.
    pub const fn label(self) -> &'static str {
        match self {
            Tag::EntropyCommitment => "DSM/v1/entropy-commitment",
            Tag::Genesis => "DSM/v1/genesis",
            Tag::DeviceId => "DSM/v1/device-id",
            Tag::RelationshipKey => "DSM/v1/relationship-key",
            Tag::RelationshipGenesis => "DSM/v1/relationship-genesis",
            Tag::RelationshipTip => "DSM/v1/relationship-tip",
            Tag::DeviceHead => "DSM/v1/device-head",
            Tag::SmtEmpty => "DSM/v1/smt-empty",
            Tag::SmtLeaf => "DSM/v1/smt-leaf",
            Tag::SmtNode => "DSM/v1/smt-node",
            Tag::ProposalCommit => "DSM/v1/proposal-commit",
            Tag::AcceptanceCommit => "DSM/v1/acceptance-commit",
            Tag::Receipt => "DSM/v1/receipt",
            Tag::Statement => "DSM/v1/statement",
            Tag::Token => "DSM/v1/token",
            Tag::SlhDsaKeySeed => "DSM/v1/slh-dsa-key-seed",
            Tag::DevAllocation => "DSM/v1/dev-allocation",
            Tag::RefusalCommit => "DSM/v1/refusal-commit",
            Tag::ReleaseTip => "DSM/v1/release-tip",
            Tag::ObjectAddress => "DSM/v1/object-address",
            Tag::Placement => "DSM/v1/placement",
            Tag::B0xAddress => "DSM/v1/b0x-address",
            Tag::EntropyContributor => "DSM/v1/entropy-contributor",
            Tag::EntropyCeremony => "DSM/v1/entropy-ceremony",
            Tag::InsecureTestSignature => "DSM/v1/insecure-test-signature",
            Tag::TokenPolicy => "DSM/v1/cpta-policy",
            Tag::MintStatement => "DSM/v1/mint-statement",
            Tag::BurnStatement => "DSM/v1/burn-statement",
            Tag::SourceProof => "DSM/v1/source-proof",
            Tag::AllowlistMember => "DSM/v1/allowlist-member",
            Tag::DjteJoin => "DSM/v1/djte/join",
            Tag::DjteShard => "DSM/v1/djte/shard",
            Tag::DjteActive => "DSM/v1/djte/active",
            Tag::DjteSeed => "DSM/v1/djte/seed",
            Tag::DjteReseed => "DSM/v1/djte/reseed",
            Tag::DjteMmrNode => "DSM/v1/djte/mmr-node",
            Tag::DjteMmrRoot => "DSM/v1/djte/mmr-root",
            Tag::DjteCountLeaf => "DSM/v1/djte/count-leaf",
            Tag::DjteCountNode => "DSM/v1/djte/count-node",
            Tag::DjteState => "DSM/v1/djte/state",
            Tag::DjteSpent => "DSM/v1/djte/spent",
            Tag::DjteReceipt => "DSM/v1/djte/receipt",
            Tag::DlvVaultId => "DSM/v1/dlv/vault-id",
            Tag::DlvAuthorize => "DSM/v1/dlv/authorize",
            Tag::DlvLock => "DSM/v1/dlv/lock",
            Tag::DlvWorkSeed => "DSM/v1/dlv/work-seed",
            Tag::DlvWorkStep => "DSM/v1/dlv/work-step",
            Tag::DlvResolution => "DSM/v1/dlv/resolution",
            Tag::DbtcDeposit => "DSM/v1/dbtc/deposit",
            Tag::DbtcOutpoint => "DSM/v1/dbtc/outpoint",
            Tag::DbtcWithdrawal => "DSM/v1/dbtc/withdrawal",
            Tag::DbtcDecline => "DSM/v1/dbtc/decline",
            Tag::RecoveryRing => "DSM/v1/recovery/ring",
            Tag::RecoveryCapsuleKey => "DSM/v1/recovery/sealing-key",
            Tag::RecoveryAuthority => "DSM/v1/recovery/authority",
            Tag::RecoveryStream => "DSM/v1/recovery/stream",
            Tag::RecoveryNonce => "DSM/v1/recovery/nonce",
            Tag::RecoveryCapsule => "DSM/v1/recovery/capsule",
            Tag::RecoverySlot => "DSM/v1/recovery/slot",
            Tag::RecoveryTombstone => "DSM/v1/recovery/tombstone",
            Tag::RecoverySuccession => "DSM/v1/recovery/succession",
            Tag::RecoveryAnswer => "DSM/v1/recovery/answer",
        }
    }
}

/// The context string passed to ML-DSA and SLH-DSA for every DSM signature (FIPS 204/205
/// `ctx`). Signatures made for other protocols with the same key never verify here.
pub const SIGNATURE_CONTEXT: &[u8] = b"DSM/v1/signature";
