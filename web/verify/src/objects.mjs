/**
 * Derived identifiers and commit digests of PROTOCOL.md §4–§8, each recomputed from
 * decoded objects through their canonical encoding:
 * genesis, device id, relationship key, genesis tip, child tip, release tip, head digest,
 * proposal / acceptance / refusal commits, receipt and statement digests.
 */
import { H } from './hash.mjs';
import { encode } from './codec.mjs';
import { compare, concat } from './bytes.mjs';

export const genesisDigest = (record) => H('Genesis', encode('GenesisRecord', record));
export const deviceId = (identity) => H('DeviceId', identity.genesis, encode('PublicKey', identity.public_key));
export function relationshipKey(a, b) {
  return compare(a, b) <= 0 ? H('RelationshipKey', a, b) : H('RelationshipKey', b, a);
}
export const genesisTip = (k) => H('RelationshipGenesis', k);
export const childTip = (step) => H('RelationshipTip', encode('RelationshipStep', step));
export const releaseTip = (tip) => H('ReleaseTip', tip);
export const headDigest = (head) => H('DeviceHead', encode('DeviceHead', head));

/** §5.6 statement digest and transfer commit. */
export const statementDigest = (st) => H('ParcelStatement', encode('ParcelStatement', st));
export const transferCommit = (stDigest, rest) => H('TransferCommit', stDigest, rest);

/**
 * Proposal commit as the vectors have it (§5.6 "Transfers"):
 *   transfer_commit(H(ParcelStatement, enc(parcels)), H(ProposalCommit, enc(proposal without field 6)))
 * (§7.1's `H(ProposalCommit, enc(Proposal))` does not match the vectors; GAPS.md).
 */
export function proposalRest(proposal) {
  return H('ProposalCommit', encode('Proposal', { ...proposal, parcels: undefined }));
}
export const proposalCommit = (proposal) => transferCommit(statementDigest(proposal.parcels), proposalRest(proposal));

/** §7.1 acceptance commit = H(AcceptanceCommit, enc(Acceptance)). */
export const acceptanceCommit = (acc) => H('AcceptanceCommit', encode('Acceptance', acc));

/**
 * §7.5 refusal commit = transfer_commit(H(ParcelStatement, parcels),
 *   H(RefusalCommit, enc(fields 1–6) ‖ enc(fields 8, 9, 10)))
 * — one hashed field, the canonical encoding of the refusal without field 7.
 */
export function refusalRest(refusal) {
  return H('RefusalCommit', encode('Refusal', { ...refusal, parcels: undefined }));
}
export const refusalCommit = (refusal) => transferCommit(statementDigest(refusal.parcels), refusalRest(refusal));

export const receiptDigest = (receiptBytes) => H('Receipt', receiptBytes);
export const statementHash = (statement) => H('Statement', encode('Statement', statement));

/** §5.6 output id: H(ParcelOutput, commit, u32be(i)). */
export function outputId(commit, i) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i, false);
  return H('ParcelOutput', commit, b);
}

/** §15: object address. */
export const objectAddress = (bytes) => H('ObjectAddress', bytes);

export { concat };
