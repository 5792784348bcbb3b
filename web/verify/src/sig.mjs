/**
 * Signature verification for both suites, PROTOCOL.md §4.1: ML-DSA-65 (FIPS 204, suite 1)
 * and SLH-DSA-SHA2-128f (FIPS 205, suite 2), the "pure" (non-prehash) interface with the
 * context string `DSM/v1/signature` (§2) over the 32-byte commit digest. A signature whose
 * suite differs from the key's is refused; the insecure test suite 0x7f is never accepted
 * (the decoder already refuses it as an unknown suite).
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { slh_dsa_sha2_128f } from '@noble/post-quantum/slh-dsa.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { utf8, concat, bytesToHex } from './bytes.mjs';

export const SIGNATURE_CONTEXT = utf8('DSM/v1/signature');

const ALGS = { 1: ml_dsa65, 2: slh_dsa_sha2_128f };

// Opt-in memo of verification results, keyed by the exact (suite, key, signature, digest)
// bytes. Off by default; the bit-flip tests turn it on so that a flip after a signature
// that was already checked does not pay for that same check again. Verification is
// deterministic, so the memo never changes an answer.
let memo = null;
export function enableSignatureMemo(on = true) { memo = on ? new Map() : null; }

/**
 * Verify `signature` (decoded Signature) by `publicKey` (decoded PublicKey) over `digest`.
 * Returns { ok: true } or { ok: false, reason }.
 */
export function verifySignature(publicKey, signature, digest) {
  if (publicKey.suite !== signature.suite) return { ok: false, reason: `signature suite ${signature.suite} differs from the key's suite ${publicKey.suite}` };
  const alg = ALGS[publicKey.suite];
  if (!alg) return { ok: false, reason: `unknown suite ${publicKey.suite}` };
  let mk;
  if (memo) {
    mk = `${publicKey.suite}:${bytesToHex(blake3(concat(publicKey.key, signature.signature, digest)))}`;
    const hit = memo.get(mk);
    if (hit) return hit;
  }
  let r;
  try {
    r = alg.verify(signature.signature, digest, publicKey.key, { context: SIGNATURE_CONTEXT })
      ? { ok: true } : { ok: false, reason: 'does not verify' };
  } catch (e) {
    r = { ok: false, reason: `verifier error: ${e.message}` };
  }
  if (memo) { if (memo.size > 256) memo.clear(); memo.set(mk, r); }
  return r;
}
