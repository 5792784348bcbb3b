/**
 * Test helper (not a test): single-bit flips of a receipt vector.
 *
 * Flipping every bit of one ML-DSA-65 receipt (94,496 bits) took 225 s on the 2-core
 * development machine (167 s with the signature memo), far over the ~60 s budget; all
 * 94,496 flips were refused. So the tests flip every bit outside the two signature byte
 * strings, plus a deterministic sample of SIG_SAMPLE bits evenly spread inside each
 * signature (always including its first and last bit).
 */
import assert from 'node:assert/strict';
import { verifyReceipt } from '../src/receipt.mjs';
import { decode } from '../src/codec.mjs';
import { enableSignatureMemo } from '../src/sig.mjs';
import { bytes } from '../testlib/vectors.mjs';

export const SIG_SAMPLE = 48;

function indexOf(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The bit positions to flip: every bit outside the signatures, a sample inside. */
export function flipPlan(r) {
  const rc = decode('Receipt', r);
  const sigs = [rc.proposal.signature.signature, rc.acceptance.signature.signature].map((s) => {
    const at = indexOf(r, s);
    assert.ok(at >= 0);
    return [at, at + s.length];
  });
  const inSig = (byte) => sigs.some(([a, b]) => byte >= a && byte < b);
  const bits = [];
  for (let i = 0; i < r.length * 8; i++) if (!inSig(i >> 3)) bits.push(i);
  const outside = bits.length;
  for (const [a, b] of sigs) {
    const n = (b - a) * 8;
    for (let k = 0; k < SIG_SAMPLE; k++) bits.push(a * 8 + Math.floor((k * (n - 1)) / (SIG_SAMPLE - 1)));
  }
  return { bits, outside };
}

export function flipAll(name) {
  enableSignatureMemo(true);
  const r = bytes(name);
  assert.equal(verifyReceipt(r).valid, true, `${name} verifies unflipped`);
  const { bits, outside } = flipPlan(r);
  const accepted = [];
  for (const bit of bits) {
    const m = r.slice();
    m[bit >> 3] ^= 1 << (bit & 7);
    const v = verifyReceipt(m);
    if (v.valid || v.facts !== null) accepted.push(bit);
  }
  enableSignatureMemo(false);
  assert.deepEqual(accepted, [], `flips accepted in ${name}`);
  return { flipped: bits.length, outside };
}
