/**
 * Sparse Merkle tree proofs, PROTOCOL.md §6: the compressed canonical tree over 256-bit
 * keys (bit 0 = most significant bit of byte 0), EMPTY = H(SmtEmpty), a one-leaf subtree
 * = H(SmtLeaf, k, v) at any depth, an inner node = H(SmtNode, left, right).
 *
 *   verifySmt(proof, key, root)          → { present: true, value } | { present: false }
 *   rootAfterSet(proof, key, value)      → the root after setting key to value (§6 Replace)
 *
 * Errors are thrown as SmtError with code 'Depth' | 'TerminalOffPath' | 'RootMismatch'.
 */
import { H } from './hash.mjs';
import { equal } from './bytes.mjs';

export class SmtError extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.name = 'SmtError'; this.code = code; }
}

export const EMPTY = H('SmtEmpty');

/** Bit i of a 32-byte key, §1. */
export const bit = (k, i) => (k[i >> 3] >> (7 - (i & 7))) & 1;

function fold(proof, key, h) {
  for (let i = proof.siblings.length - 1; i >= 0; i--) {
    const s = proof.siblings[i];
    h = bit(key, i) === 1 ? H('SmtNode', s, h) : H('SmtNode', h, s);
  }
  return h;
}

function checkShape(proof, key) {
  const d = proof.siblings.length;
  if (d > 256) throw new SmtError('Depth', `proof depth ${d} > 256`);
  const t = proof.terminal;
  if (t && !equal(t.key, key)) {
    for (let i = 0; i < d; i++) if (bit(t.key, i) !== bit(key, i)) throw new SmtError('TerminalOffPath', `terminal key leaves the path at bit ${i}`);
  }
}

/** §6 Lookup. */
export function verifySmt(proof, key, root) {
  checkShape(proof, key);
  const t = proof.terminal;
  const h0 = t ? H('SmtLeaf', t.key, t.value) : EMPTY;
  if (!equal(fold(proof, key, h0), root)) throw new SmtError('RootMismatch', 'the proof does not lead to the root');
  if (t && equal(t.key, key)) return { present: true, value: t.value };
  return { present: false };
}

/** §6 Replace: the root after setting `key` to `value`, given a proof for `key`. */
export function rootAfterSet(proof, key, value) {
  checkShape(proof, key);
  const d = proof.siblings.length;
  const t = proof.terminal;
  const L = H('SmtLeaf', key, value);
  let h;
  if (!t || equal(t.key, key)) {
    h = L;
  } else {
    const L2 = H('SmtLeaf', t.key, t.value);
    let j = d;
    while (bit(key, j) === bit(t.key, j)) j++;
    h = bit(key, j) === 1 ? H('SmtNode', L2, L) : H('SmtNode', L, L2);
    for (let i = j - 1; i >= d; i--) h = bit(key, i) === 1 ? H('SmtNode', EMPTY, h) : H('SmtNode', h, EMPTY);
  }
  return fold(proof, key, h);
}
