/**
 * Test-only builder: the sparse Merkle tree of PROTOCOL.md §6 from its leaves — the root of
 * the compressed canonical shape and the proof of a key — for the vector regenerator.
 * Verification and `root_after_set` stay in src/smt.mjs.
 */
import { H } from '../../src/hash.mjs';
import { EMPTY, bit } from '../../src/smt.mjs';
import { bytesToHex } from '../../src/bytes.mjs';

/** §6 shape: the hash of the subtree at `depth` holding `leaves` ([{key, value}]). */
function subtree(leaves, depth) {
  if (leaves.length === 0) return EMPTY;
  if (leaves.length === 1) return H('SmtLeaf', leaves[0].key, leaves[0].value);
  const left = leaves.filter((l) => bit(l.key, depth) === 0);
  const right = leaves.filter((l) => bit(l.key, depth) === 1);
  return H('SmtNode', subtree(left, depth + 1), subtree(right, depth + 1));
}

/** A device's tree (§6): relationship keys → tips, with its root and proofs. */
export class SmtTree {
  constructor(leaves = new Map()) { this.leaves = new Map(leaves); }

  /** A copy with `key` set to `value` (the tree is never changed in place). */
  with(key, value) {
    const m = new Map(this.leaves);
    m.set(bytesToHex(key), { key, value });
    return new SmtTree(m);
  }

  /** The value at `key`, or undefined. */
  get(key) { return this.leaves.get(bytesToHex(key))?.value; }

  /** §6: the root of the canonical compressed tree (EMPTY for no leaf). */
  root() { return subtree([...this.leaves.values()], 0); }

  /**
   * §6: SmtProof {siblings, terminal} for `key`: siblings from just below the root down to
   * the depth where the key's path ends in a subtree of at most one leaf; that leaf, if any.
   */
  proof(key) {
    let here = [...this.leaves.values()];
    const siblings = [];
    for (let depth = 0; here.length > 1; depth++) {
      const b = bit(key, depth);
      siblings.push(subtree(here.filter((l) => bit(l.key, depth) !== b), depth + 1));
      here = here.filter((l) => bit(l.key, depth) === b);
    }
    return { siblings, terminal: here.length === 1 ? { key: here[0].key, value: here[0].value } : undefined };
  }
}
