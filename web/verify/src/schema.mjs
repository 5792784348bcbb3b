/**
 * The subset of proto/dsm.proto that the v1 vectors name, as data for the strict codec:
 * per message, its fields in ascending field-number order with their kind
 * ('bytes32' | 'u128be' | 'bytes' | 'uint64' | 'uint32' | 'enum' | 'msg'), whether they are
 * repeated, and presence: `req` (a required fixed-length field or sub-message, §3 rule 5)
 * or `opt` (may be absent). Scalars (uint, enum, variable bytes) have implicit presence.
 * Domain rules (§3 rule 8) live in domain.mjs.
 */

const f = (num, name, kind, opts = {}) => ({ num, name, kind, ...opts });
const req = { req: true };
const rep = { repeated: true };

export const ENUMS = {
  SuiteId: { ML_DSA_65: 1, SLH_DSA_SHA2_128F: 2 },
  // proto/dsm.proto lists 0..6; PROTOCOL.md §5.3 adds SUCCEED 7 and RECLAIM 8 (GAPS.md).
  TransitionKind: { CREATE: 0, DEBIT: 1, CREDIT: 2, ALLOCATION: 3, REFUSE: 4, RELEASE: 5, BURN: 6, SUCCEED: 7, RECLAIM: 8 },
};

export const SCHEMA = {
  PublicKey: [f(1, 'suite', 'enum', { enum: 'SuiteId' }), f(2, 'key', 'bytes')],
  Signature: [f(1, 'suite', 'enum', { enum: 'SuiteId' }), f(2, 'signature', 'bytes')],
  EntropyReveal: [f(1, 'contributor', 'bytes32', req), f(2, 'secret', 'bytes32', req)],
  GenesisRecord: [
    f(1, 'founding_key', 'msg', { type: 'PublicKey', ...req }),
    f(2, 'contributions', 'msg', { type: 'EntropyReveal', ...rep, max: 16 }),
    f(3, 'recovery_authority', 'msg', { type: 'PublicKey' }),
  ],
  DeviceIdentity: [f(1, 'genesis', 'bytes32', req), f(2, 'public_key', 'msg', { type: 'PublicKey', ...req })],
  Balance: [f(1, 'token', 'bytes32', req), f(2, 'amount', 'u128be', req)],
  DeviceHead: [
    f(1, 'device', 'bytes32', req),
    f(2, 'height', 'uint64'),
    f(3, 'parent', 'bytes32', req),
    f(4, 'smt_root', 'bytes32', req),
    f(5, 'balances', 'msg', { type: 'Balance', ...rep, max: 64 }),
    f(6, 'kind', 'enum', { enum: 'TransitionKind' }),
    f(7, 'cause', 'bytes32', req),
  ],
  RelationshipStep: [
    f(1, 'relationship', 'bytes32', req),
    f(2, 'parent_tip', 'bytes32', req),
    f(3, 'sender', 'bytes32', req),
    f(4, 'receiver', 'bytes32', req),
    f(5, 'token', 'bytes32', req),
    f(6, 'amount', 'u128be', req),
    f(7, 'sender_parent_head', 'bytes32', req),
  ],
  SmtLeaf: [f(1, 'key', 'bytes32', req), f(2, 'value', 'bytes32', req)],
  SmtProof: [f(1, 'siblings', 'bytes32', { ...rep, max: 256 }), f(2, 'terminal', 'msg', { type: 'SmtLeaf' })],
  Proposal: [
    f(1, 'step', 'msg', { type: 'RelationshipStep', ...req }),
    f(2, 'sender', 'msg', { type: 'DeviceIdentity', ...req }),
    f(3, 'sender_parent_head', 'msg', { type: 'DeviceHead', ...req }),
    f(4, 'sender_child_head', 'msg', { type: 'DeviceHead', ...req }),
    f(5, 'sender_proof', 'msg', { type: 'SmtProof', ...req }),
    f(6, 'parcels', 'msg', { type: 'ParcelStatement', ...req }),
  ],
  SignedProposal: [f(1, 'proposal', 'msg', { type: 'Proposal', ...req }), f(2, 'signature', 'msg', { type: 'Signature', ...req })],
  Acceptance: [
    f(1, 'proposal_commit', 'bytes32', req),
    f(2, 'receiver', 'msg', { type: 'DeviceIdentity', ...req }),
    f(3, 'receiver_parent_head', 'msg', { type: 'DeviceHead', ...req }),
    f(4, 'receiver_child_head', 'msg', { type: 'DeviceHead', ...req }),
    f(5, 'receiver_proof', 'msg', { type: 'SmtProof', ...req }),
    f(6, 'crossing', 'msg', { type: 'RelationshipStep' }),
  ],
  SignedAcceptance: [f(1, 'acceptance', 'msg', { type: 'Acceptance', ...req }), f(2, 'signature', 'msg', { type: 'Signature', ...req })],
  Receipt: [f(1, 'proposal', 'msg', { type: 'SignedProposal', ...req }), f(2, 'acceptance', 'msg', { type: 'SignedAcceptance', ...req })],
  Refusal: [
    f(1, 'proposal_commit', 'bytes32', req),
    f(2, 'receiver', 'msg', { type: 'DeviceIdentity', ...req }),
    f(3, 'receiver_parent_head', 'msg', { type: 'DeviceHead', ...req }),
    f(4, 'receiver_child_head', 'msg', { type: 'DeviceHead', ...req }),
    f(5, 'receiver_proof', 'msg', { type: 'SmtProof', ...req }),
    f(6, 'reason', 'uint64'),
    f(7, 'parcels', 'msg', { type: 'ParcelStatement', ...req }),
    f(8, 'refused_input', 'bytes32'),
    f(9, 'crossing', 'msg', { type: 'RelationshipStep' }),
    f(10, 'behind', 'msg', { type: 'RelationshipStep', ...rep, max: 3 }),
  ],
  SignedRefusal: [f(1, 'refusal', 'msg', { type: 'Refusal', ...req }), f(2, 'signature', 'msg', { type: 'Signature', ...req })],
  Statement: [
    f(1, 'proposal', 'msg', { type: 'SignedProposal' }),
    f(2, 'acceptance', 'msg', { type: 'SignedAcceptance' }),
    f(3, 'refusal', 'msg', { type: 'SignedRefusal' }),
  ],
  EquivocationProof: [
    f(1, 'first', 'msg', { type: 'Statement' }),
    f(2, 'second', 'msg', { type: 'Statement' }),
    f(3, 'parcel_fork', 'msg', { type: 'ParcelFork' }),
  ],
  ParcelOutput: [f(1, 'input', 'uint32'), f(2, 'to', 'bytes32', req), f(3, 'amount', 'u128be', req)],
  ParcelStatement: [
    f(1, 'holder', 'bytes32', req),
    f(2, 'inputs', 'bytes32', { ...rep, max: 64 }),
    f(3, 'outputs', 'msg', { type: 'ParcelOutput', ...rep, max: 128 }),
  ],
  Hop: [
    f(1, 'statement', 'msg', { type: 'ParcelStatement', ...req }),
    f(2, 'rest', 'bytes32', req),
    f(3, 'signature', 'msg', { type: 'Signature', ...req }),
  ],
  LineageManifest: [
    f(1, 'parcel', 'bytes32', req),
    f(2, 'root', 'bytes32'),
    f(3, 'verified', 'bytes32'),
    f(4, 'hops', 'bytes32', { ...rep, max: 3072 }),
    f(5, 'signers', 'bytes32', { ...rep, max: 3073 }),
    f(6, 'consumed', 'msg', { type: 'LineageManifest', ...rep, max: 64, nest: 4 }),
  ],
  ParcelFork: [
    f(1, 'signer', 'msg', { type: 'DeviceIdentity', ...req }),
    f(2, 'first', 'msg', { type: 'Hop', ...req }),
    f(3, 'second', 'msg', { type: 'Hop', ...req }),
  ],
  Admission: [
    f(1, 'kind', 'uint32'),
    f(2, 'genesis', 'bytes32'),
    f(4, 'device', 'msg', { type: 'PublicKey' }),
    f(5, 'admitted', 'bytes32', { ...rep, max: 16 }),
    f(6, 'delegation', 'msg', { type: 'Signature' }),
    f(7, 'parties', 'bytes32', { ...rep, max: 16 }),
    f(8, 'genesis_blind', 'bytes32'),
    f(9, 'device_admission', 'msg', { type: 'Signature' }),
    f(10, 'authority', 'msg', { type: 'PublicKey' }),
  ],
  SlotEntry: [f(1, 'owner', 'bytes32', req), f(2, 'key', 'bytes32', req), f(3, 'body', 'bytes32', req)],
  SlotWrite: [
    f(1, 'admission', 'msg', { type: 'Admission', ...req }),
    f(2, 'signer', 'msg', { type: 'PublicKey', ...req }),
    f(3, 'entries', 'msg', { type: 'SlotEntry', ...rep, max: 64 }),
    f(4, 'signature', 'msg', { type: 'Signature', ...req }),
  ],
  OwnedPut: [f(1, 'write', 'msg', { type: 'SlotWrite', ...req }), f(2, 'body', 'bytes', { maxLen: 237568 })],
  B0xAccess: [
    f(1, 'admission', 'msg', { type: 'Admission', ...req }),
    f(2, 'signer', 'msg', { type: 'PublicKey', ...req }),
    f(3, 'signature', 'msg', { type: 'Signature', ...req }),
  ],
  B0xCursor: [f(1, 'blind', 'bytes32'), f(2, 'cursor', 'uint64')],
  B0xScope: [f(1, 'owner', 'bytes32', req), f(2, 'entries', 'msg', { type: 'B0xCursor', ...rep, max: 4096 })],
  B0xRead: [
    f(1, 'owner', 'bytes32', req),
    f(2, 'entries', 'msg', { type: 'B0xCursor', ...rep, max: 4096 }),
    f(3, 'access', 'msg', { type: 'B0xAccess', ...req }),
  ],
};

/** Size caps of §3, checked on the raw length before parsing (`TooLarge`). */
export const SIZE_CAPS = {
  Receipt: 131072,
  SignedProposal: 131072,
  SignedAcceptance: 131072,
  Statement: 131072,
  EquivocationProof: 262160,
  DeviceHead: 4040,
  SmtProof: 9060,
  GenesisRecord: 8192,
};
