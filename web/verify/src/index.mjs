/**
 * DSM v1 receipt verifier (independent JavaScript implementation of PROTOCOL.md):
 * the public API bundled for the browser (`npm run build` → dist/verify.js) and used by
 * cli.mjs and the tests.
 */
export { decode, encode } from './codec.mjs';
export { DecodeError } from './errors.mjs';
export { H, hashLabel, TAGS, TAG_TABLE } from './hash.mjs';
export { verifySmt, rootAfterSet, EMPTY as SMT_EMPTY, SmtError } from './smt.mjs';
export { verifySignature, SIGNATURE_CONTEXT } from './sig.mjs';
export { verifyReceipt, verifySignedProposal, verifyRefusal } from './receipt.mjs';
export { verifyEquivocationProof } from './tripwire.mjs';
export {
  verifyHop, verifyParcelFork, resolveManifest, verifyOwnedPut, verifyB0xRead, b0xReadMessage, b0xAddress,
  deviceSlotsOwner, anchorSlot, openSealed,
  hopCommit, statementDigest, outputId, objectAddress, rootId, sink,
} from './parcel.mjs';
export * as objects from './objects.mjs';
export { hexToBytes, bytesToHex } from './bytes.mjs';
