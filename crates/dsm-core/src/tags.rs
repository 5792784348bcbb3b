//! The one frozen table of domain-separation tags.
//!
//! Every hash in DSM is `BLAKE3-256(lp(tag) ‖ lp(field_1) ‖ … ‖ lp(field_n))` where
//! `lp(x) = u32be(len(x)) ‖ x` (see [`crate::hash::tagged_hash`]). No two purposes share a
//! tag, and no tag is a prefix-free rewrite of another, so no hash of one purpose can be
//! replayed as a hash of another. This table is normative (PROTOCOL.md §2) and frozen:
//! changing a label changes every digest and breaks every stored chain. Add, never edit.

/// Declares [`Tag`], [`Tag::ALL`] and [`Tag::label`] from one list, so a tag can never be
/// missing from `ALL` (and so skip the distinctness tests) or lack a label.
macro_rules! tag_table {
    ($($(#[$doc:meta])* $name:ident => $label:literal,)*) => {
        /// A domain-separation tag. The discriminants are not part of any encoding; only
        /// [`Tag::label`] is hashed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Tag {
            $($(#[$doc])* $name,)*
        }

        impl Tag {
            /// Every tag, in table order. Used by tests to prove the labels are distinct.
            pub const ALL: &'static [Tag] = &[$(Tag::$name,)*];

            /// The ASCII label that is hashed for this tag.
            pub const fn label(self) -> &'static str {
                match self {
                    $(Tag::$name => $label,)*
                }
            }
        }
    };
}

tag_table! {
    /// Commitment to one contributor's genesis entropy: `(contributor, secret)`.
    EntropyCommitment => "DSM/v1/entropy-commitment",
    /// Genesis digest over the canonical `GenesisRecord`.
    Genesis => "DSM/v1/genesis",
    /// Device id: `(genesis, canonical public key)`.
    DeviceId => "DSM/v1/device-id",
    /// Relationship key: `(min(devid_a, devid_b), max(devid_a, devid_b))`.
    RelationshipKey => "DSM/v1/relationship-key",
    /// The implicit first tip of every relationship: `(relationship key)`.
    RelationshipGenesis => "DSM/v1/relationship-genesis",
    /// A relationship tip: `(canonical RelationshipStep)`.
    RelationshipTip => "DSM/v1/relationship-tip",
    /// A device head digest: `(canonical DeviceHead)`.
    DeviceHead => "DSM/v1/device-head",
    /// The hash of an empty sparse-Merkle subtree (no fields).
    SmtEmpty => "DSM/v1/smt-empty",
    /// A sparse-Merkle leaf: `(key, value)`.
    SmtLeaf => "DSM/v1/smt-leaf",
    /// A sparse-Merkle interior node: `(left, right)`.
    SmtNode => "DSM/v1/smt-node",
    /// The sender's commit digest: `(canonical Proposal)`; this is what the sender signs.
    ProposalCommit => "DSM/v1/proposal-commit",
    /// The receiver's commit digest: `(canonical Acceptance)`; this is what the receiver signs.
    AcceptanceCommit => "DSM/v1/acceptance-commit",
    /// Digest naming a whole receipt: `(canonical Receipt)`.
    Receipt => "DSM/v1/receipt",
    /// Digest naming a signed statement inside an equivocation proof.
    Statement => "DSM/v1/statement",
    /// Digest naming a token: `(issuer-chosen token label)`.
    Token => "DSM/v1/token",
    /// Expansion of a 32-byte seed into SLH-DSA key-generation inputs.
    SlhDsaKeySeed => "DSM/v1/slh-dsa-key-seed",
    /// Cause of a non-production dev-faucet allocation: `(device id, token, amount as 16-byte
    /// big-endian)`. Never a valid source of value outside test networks.
    DevAllocation => "DSM/v1/dev-allocation",
    /// The receiver's refusal commit digest: `(canonical Refusal)`; what a refusing
    /// receiver signs.
    RefusalCommit => "DSM/v1/refusal-commit",
    /// The relationship tip after a refused step: `(child tip of the refused step)`.
    ReleaseTip => "DSM/v1/release-tip",
    /// The address of a content-addressed object at a storage node: `(object bytes)`.
    ObjectAddress => "DSM/v1/object-address",
    /// Deterministic placement of a key on storage nodes: `(key, node url)`; nodes are
    /// ranked by this digest.
    Placement => "DSM/v1/placement",
    /// The storage index of a device's b0x (inbox for unilateral delivery): `(device id)`.
    B0xAddress => "DSM/v1/b0x-address",
    /// Who contributes genesis entropy: `(role, name)`, e.g. `("device", "")` or
    /// `("storage-node", base URL)`.
    EntropyContributor => "DSM/v1/entropy-contributor",
    /// A genesis ceremony's id at the storage nodes: `(enc(founding key), the device's own
    /// entropy commitment)`. Binding the device's commitment stops it from re-choosing its
    /// secret after seeing the nodes'.
    EntropyCeremony => "DSM/v1/entropy-ceremony",
    /// The insecure, forgeable test signature of [`crate::crypto::SuiteId::InsecureTest`]
    /// (model checking only): `(public key, context, message)`. No production build can
    /// produce or accept it.
    InsecureTestSignature => "DSM/v1/insecure-test-signature",
    /// A token's policy commitment, which is also its id: `(canonical TokenPolicy)`.
    TokenPolicy => "DSM/v1/cpta-policy",
    /// What a token's issuers sign to mint: `(canonical MintStatement)`.
    MintStatement => "DSM/v1/mint-statement",
    /// A burn's digest (the BURN head's cause, and what issuers sign when the policy requires them): `(canonical BurnStatement)`.
    BurnStatement => "DSM/v1/burn-statement",
    /// The cause of an ALLOCATION or BURN head: `(canonical SourceProof)`.
    SourceProof => "DSM/v1/source-proof",
    /// The value of a device's leaf in a token allowlist tree: `(token policy salt, device id)`.
    AllowlistMember => "DSM/v1/allowlist-member",
    /// A device's join activation (its spent-set key): `(token, device id)`.
    DjteJoin => "DSM/v1/djte/join",
    /// Which activation shard a device falls in (the first `shard_bits` bits): `(device id)`.
    DjteShard => "DSM/v1/djte/shard",
    /// An activation-accumulator leaf: `(device id)`.
    DjteActive => "DSM/v1/djte/active",
    /// The first winner-selection draw: `(previous emission state digest, u64be(index), join key)`.
    DjteSeed => "DSM/v1/djte/seed",
    /// A redraw when a draw falls in the rejected tail: `(previous draw)`.
    DjteReseed => "DSM/v1/djte/reseed",
    /// An interior node of a shard's activation accumulator: `(left, right)`.
    DjteMmrNode => "DSM/v1/djte/mmr-node",
    /// A shard accumulator's root: `(u64be(size), peak_1, …, peak_n)`.
    DjteMmrRoot => "DSM/v1/djte/mmr-root",
    /// A count-tree leaf (one shard): `(u64be(count), accumulator root)`.
    DjteCountLeaf => "DSM/v1/djte/count-leaf",
    /// A count-tree node: `(u64be(count), left, right)`.
    DjteCountNode => "DSM/v1/djte/count-node",
    /// An emission (source-vault) state digest: `(canonical EmissionState)`.
    DjteState => "DSM/v1/djte/state",
    /// The spent-set value of a consumed join: `(u64be(emission index))`.
    DjteSpent => "DSM/v1/djte/spent",
    /// An emission's receipt: `(token, u64be(index), winner device id, u128be(amount), join key)`.
    DjteReceipt => "DSM/v1/djte/receipt",
    /// A vault's id: `(canonical VaultPolicy)`.
    DlvVaultId => "DSM/v1/dlv/vault-id",
    /// What a vault's signature conditions sign: `(vault id, u64be(branch))`.
    DlvAuthorize => "DSM/v1/dlv/authorize",
    /// What a vault's creator signs when it locks: `(vault id, lock head digest)`.
    DlvLock => "DSM/v1/dlv/lock",
    /// The first value of a vault's iteration budget: `(vault id, u64be(branch))`.
    DlvWorkSeed => "DSM/v1/dlv/work-seed",
    /// One sequential iteration of a vault's iteration budget: `(previous value)`.
    DlvWorkStep => "DSM/v1/dlv/work-step",
    /// A vault resolution's digest (its anchor-slot content and conflict key): `(canonical VaultResolution)`.
    DlvResolution => "DSM/v1/dlv/resolution",
    /// The recipient commitment a dBTC funding transaction carries in an OP_RETURN output: `(token, device id)`.
    DbtcDeposit => "DSM/v1/dbtc/deposit",
    /// The anchor-slot key of a dBTC deposit's funding outpoint: `(txid ‖ u32le(vout))`.
    DbtcOutpoint => "DSM/v1/dbtc/outpoint",
    /// A dBTC withdrawal request's id (also the commitment its Bitcoin payment carries): `(canonical WithdrawalRequest)`.
    DbtcWithdrawal => "DSM/v1/dbtc/withdrawal",
    /// What the keeper signs to decline a withdrawal (letting the holder take it back): `(withdrawal id)`.
    DbtcDecline => "DSM/v1/dbtc/decline",
    /// The Argon2id salt label of the recovery secret (the mnemonic's entropy is the password).
    RecoveryRing => "DSM/v1/recovery/ring",
    /// A device generation's capsule encryption key: `(recovery secret, u64be(generation))`.
    RecoveryCapsuleKey => "DSM/v1/recovery/sealing-key",
    /// The recovery authority's signing-key seed: `(recovery secret)`.
    RecoveryAuthority => "DSM/v1/recovery/authority",
    /// A device generation's capsule stream address at the storage nodes: `(recovery secret, u64be(generation))`.
    RecoveryStream => "DSM/v1/recovery/stream",
    /// A capsule's synthetic nonce (first 24 bytes): `(stream, u64be(index), BLAKE3 of the plaintext)`.
    RecoveryNonce => "DSM/v1/recovery/nonce",
    /// A capsule's digest (the next capsule's `prev`) and its AEAD associated data: `(canonical Capsule without ciphertext)`.
    RecoveryCapsule => "DSM/v1/recovery/capsule",
    /// The slot key of capsule `index` in a stream at the storage nodes: `(u64be(index))`.
    RecoverySlot => "DSM/v1/recovery/slot",
    /// Where pack `part` of capsule `index` sits (its slot key in the stream, and its
    /// `prev` field): `(u64be(index), u64be(part))` (§20.2).
    RecoveryPack => "DSM/v1/recovery/pack",
    /// A signed tombstone's digest (what the recovery authority signs): `(canonical Tombstone)`.
    RecoveryTombstone => "DSM/v1/recovery/tombstone",
    /// A signed succession's digest (what the recovery authority signs): `(canonical Succession)`.
    RecoverySuccession => "DSM/v1/recovery/succession",
    /// A counterparty's answer to a succession (what it signs): `(canonical SuccessionAnswer)`.
    RecoveryAnswer => "DSM/v1/recovery/answer",
    /// What a source of value may be used for once (PROTOCOL.md §17.3): `(kind label, the
    /// fields that identify the source)` — never the proof's bytes, which can vary.
    SourceOnce => "DSM/v1/source-once",
    /// A root parcel's id: `(once-key, canonical source proof)` (§5.6).
    ParcelRoot => "DSM/v1/parcel/root",
    /// A parcel statement's digest: `(canonical ParcelStatement)` (§5.6).
    ParcelStatement => "DSM/v1/parcel/statement",
    /// What a holder signs when it consumes parcels: `(parcel statement digest, rest digest)`.
    TransferCommit => "DSM/v1/transfer-commit",
    /// An output parcel's id: `(transfer commit, u32be(index))` (§5.6).
    ParcelOutput => "DSM/v1/parcel/output",
    /// The holder no key controls that value leaving circulation goes to (a burn, a vault
    /// lock, a withdrawal request): `(token)` (§5.6).
    ParcelSink => "DSM/v1/parcel/sink",
    /// The second half of a parcel's slot address at the storage nodes, whose first half is
    /// the parcel id: `()` (§5.6).
    ParcelSlot => "DSM/v1/parcel/slot",
    /// The second half of a mint's slot address at the storage nodes, whose first half is
    /// the token id: `(u64be(seq))` (§17.2).
    MintSlot => "DSM/v1/mint/slot",
    /// What refreshers sign to re-issue burned parcels as one root: `(enc(ReissueStatement))`
    /// (§17.6).
    ReissueStatement => "DSM/v1/reissue/statement",
    /// The `rest` of a re-issue burn's hop: `(token, holder)` (§17.6).
    ReissueBurn => "DSM/v1/reissue/burn",
    /// The second half of a burned parcel's re-issue slot at the storage nodes, whose first
    /// half is the parcel id: `()` (§17.6).
    ReissueSlot => "DSM/v1/reissue/slot",
    /// How an owned slot's owner lists an admitted key: `(canonical public key)` (§15.2).
    SlotKey => "DSM/v1/slot/key",
    /// An owned slot's owner admitting a list of keys: `(key digest, …)` (§15.2).
    SlotOwner => "DSM/v1/slot/owner",
    /// The owner of slots only a genesis's recovery authority writes: `(genesis blind, key
    /// digest of the authority)` (§15.2).
    RecoveryOwner => "DSM/v1/slot/recovery-owner",
    /// The digest a slot write signs for a body: `(body)` (§15.2).
    SlotBody => "DSM/v1/slot/body",
    /// What a slot write signs: `(owner, key, body digest, …)` per covered slot (§15.2).
    SlotWrite => "DSM/v1/slot/write",
    /// What a recovery authority signs to delegate a device's slots to a successor's key:
    /// `(device slot owner, key digest)` (§15.2).
    SlotDelegation => "DSM/v1/slot/delegation",
    /// The seed of the key that writes a capsule stream's owned slots: `(capsule key)`
    /// (§20.2, §15.2).
    RecoveryStreamSigner => "DSM/v1/recovery/writer",
    /// An owned slot's owner admitting any device of a list: `(slot owner, …)` (§15.2).
    SlotParties => "DSM/v1/slot/parties",
    /// A contact card's check digits: `(name, device id)` (§12.6).
    ContactCard => "DSM/v1/card",
    /// A wallet file record's check: `(table id (1), key, value)` (§14).
    WalletRecord => "DSM/v1/wallet/record",
    /// The key a backup file is sealed under: `(capsule key)` (§20.9).
    BackupFile => "DSM/v1/backup/file",
    /// What a device key signs in its identity document: `(device id, ML-KEM-768 key)`
    /// (§12.6).
    ContactDocument => "DSM/v1/contact/signed",
    /// The key and synthetic nonce of a sealed identity document: `(device id)` and
    /// `(device id, canonical document)` (§12.6).
    ContactDocumentKey => "DSM/v1/contact/sealing-key",
    /// A device's ML-KEM-768 key-generation seeds: `("d" | "z", capsule key or signing key)`
    /// (§12.6).
    DeviceKemSeed => "DSM/v1/kem/seed",
    /// The key of a b0x item sealed to its recipient: `(ML-KEM shared secret, KEM
    /// ciphertext)` (§16.3).
    B0xItem => "DSM/v1/b0x-item",
    /// What a b0x's recipient signs to list or acknowledge its addresses at one node:
    /// `(node id, u8 operation, enc(B0xScope))` (§16.1). (Until 2026-12-05: `(node id,
    /// address, u8 operation, u64be cursor)`, one address per request.)
    B0xAccess => "DSM/v1/b0x-access",
    /// The key of a lost device's tombstone slot under its recovery owner: `("slot", lost
    /// device id)` (§20.3). (Until 2026-12-04 this was `RecoveryTombstone`, the tag of the
    /// tombstone's own digest.)
    TombstoneSlot => "DSM/v1/recovery/grave-slot",
    /// Deterministic signing randomness where a run must repeat itself — wallets set to
    /// deterministic randomness (tests, the model checker, benchmarks): `(label, seed,
    /// counter)`. Never used by a wallet a person runs, which draws from the OS.
    SigningRandomness => "DSM/v1/test/signing-randomness",
    /// The entropy of a reproducible wallet (`Wallet::create_reproducible`, only with the
    /// insecure test suite): `(label, entropy, use)`.
    ReproducibleEntropy => "DSM/v1/test/entropy",
    /// Named stand-in values in the demo, benchmarks and simulations — token-policy salts,
    /// synthetic device ids and digests: `(name, …)`. Never a value a protocol check
    /// compares against.
    Fixture => "DSM/v1/test/fixture",
    /// The randomness a sender seals a b0x item with: `("m" | "n", capsule key or signing
    /// key, item)` — the same item seals to the same bytes, so posting it again is
    /// idempotent at the nodes (§16.1).
    SealRandomness => "DSM/v1/b0x-seal-randomness",
    /// A relationship's b0x address: `(blind, recipient device id)` (§16.1).
    B0xRelationship => "DSM/v1/b0x-relationship",
    /// What a poster signs to name where it reads a counterparty's items: `(counterparty
    /// device id, blind)` (§16.1).
    B0xReplyTo => "DSM/v1/b0x-reply-to",
    /// The blind a device reads one counterparty's items under: `(capsule key or signing
    /// key, counterparty device id)` (§16.1).
    B0xBlind => "DSM/v1/b0x-blind",
    /// What a device's slot owner shows of its genesis: `(genesis)` (§15.2) — a node checks
    /// a device's slot writes without learning the genesis, so it cannot compute the device
    /// id or its first head.
    GenesisBlind => "DSM/v1/slot/genesis-blind",
    /// The owner of a device's own slots (anchors, parcel slots): `(genesis blind, key
    /// digest)` (§15.2).
    DeviceSlots => "DSM/v1/slot/device",
    /// The key of a device's anchor slot under its owner: `(parent head)` (§16.2).
    AnchorSlot => "DSM/v1/anchor/slot",
    /// The sealing of a statement in its anchor slot: `(parent head)` and `(parent head,
    /// canonical statement)` (§16.2, [`crate::seal`]).
    AnchorSeal => "DSM/v1/anchor/seal",
    /// The sealing of a hop in a parcel's slot: `(parcel id)` and `(parcel id, canonical
    /// hop)` (§5.6, [`crate::seal`]).
    ParcelSeal => "DSM/v1/parcel/seal",
    /// Where a sealed object waits at the storage nodes: `()` — the candidate-list topic
    /// of every sealed object — and `(object address)` — its key (§2, "Sealed objects").
    SealedObjectLocator => "DSM/v1/sealed-object/locator",
    /// The sealing of an object under its own address: `(object address)` and `(object
    /// address, the object)` (§2, [`crate::seal`]).
    SealedObject => "DSM/v1/sealed-object/seal",
    /// The sealing of a mint in its slot: `(token)` and `(token, canonical SignedMint)`
    /// (§17.2, [`crate::seal`]).
    MintSeal => "DSM/v1/mint/seal",
    /// The sealing of a re-issue record in a burned parcel's re-issue slot: `(parcel id)`
    /// and `(parcel id, canonical ReissueRecord)` (§17.6, [`crate::seal`]).
    ReissueSeal => "DSM/v1/reissue/seal",
    /// Where a token's emission steps wait at the storage nodes: `()` — the candidate-list
    /// topic of every emission — and `(state digest)` — the list of the step after that
    /// vault state (§17.4.4).
    EmissionList => "DSM/v1/djte/list",
    /// The sealing of an emission step in its list: `(state digest)` and `(state digest,
    /// canonical EmissionStep)` (§17.4.4, [`crate::seal`]).
    EmissionSeal => "DSM/v1/djte/seal",
    /// What a device signs to admit its recovery authority to its slots: `(device slots
    /// owner, key digest of the authority)` (§15.2).
    SlotAuthority => "DSM/v1/slot/authority",
    /// The sealing of a recovery record in its slot: `(lost device id)` for a tombstone,
    /// `(tombstone digest)` for a succession, and `(context, canonical record)` (§20.3,
    /// [`crate::seal`]).
    RecoverySeal => "DSM/v1/recovery/record-seal",
    /// The key of a vault's resolution slot under its parties' owner: `(vault id)` (§18.3).
    DlvSlot => "DSM/v1/dlv/slot",
    /// The sealing of a vault's resolution in its slot: `(vault id)` and `(vault id,
    /// canonical VaultResolution)` (§18.3, [`crate::seal`]).
    DlvSeal => "DSM/v1/dlv/seal",
}

/// The context string passed to ML-DSA and SLH-DSA for every DSM signature (FIPS 204/205
/// `ctx`). Signatures made for other protocols with the same key never verify here.
pub const SIGNATURE_CONTEXT: &[u8] = b"DSM/v1/signature";
