/**
 * Test-only builder: key derivation and signing of PROTOCOL.md §4.1 for both suites.
 *
 * ML-DSA-65 (suite 1): the 32-byte seed is FIPS 204's ξ. SLH-DSA-SHA2-128f (suite 2):
 * SK.seed ‖ SK.prf ‖ PK.seed are the first 48 bytes of the BLAKE3 XOF of H(SlhDsaKeySeed, s).
 * Signing is the pure interface with the context of §2; randomness 'zero' is FIPS 204
 * rnd = 0^32 / FIPS 205's deterministic variant (opt_rand = PK.seed), any other value is
 * FIPS 204 rnd (32 bytes) / FIPS 205 opt_rand (its first 16 bytes) — §10 "Signing".
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { slh_dsa_sha2_128f } from '@noble/post-quantum/slh-dsa.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { H } from '../../src/hash.mjs';
import { SIGNATURE_CONTEXT } from '../../src/sig.mjs';

export const ML_DSA_65 = 1;
export const SLH_DSA_SHA2_128F = 2;

/** §4.1: the signing key of suite `suite` from the 32-byte seed `s`: {suite, publicKey, secretKey}. */
export function deriveKey(suite, s) {
  if (suite === ML_DSA_65) return { suite, ...ml_dsa65.keygen(s) };
  if (suite === SLH_DSA_SHA2_128F) {
    const seed = blake3(H('SlhDsaKeySeed', s), { dkLen: 48 });
    return { suite, ...slh_dsa_sha2_128f.keygen(seed) };
  }
  throw new Error(`unknown suite ${suite}`);
}

/** §2/§4.1: the PublicKey message of a key. */
export const publicKeyOf = (key) => ({ suite: key.suite, key: key.publicKey });

/**
 * §4.1: Signature {suite, signature} over the 32-byte `digest`, pure interface, context of
 * §2; `rnd` is 'zero' (deterministic) or 32 bytes of hedged randomness.
 */
export function sign(key, digest, rnd = 'zero') {
  let extraEntropy = false;
  if (rnd !== 'zero') extraEntropy = key.suite === ML_DSA_65 ? rnd : rnd.subarray(0, 16);
  const alg = key.suite === ML_DSA_65 ? ml_dsa65 : slh_dsa_sha2_128f;
  return { suite: key.suite, signature: alg.sign(digest, key.secretKey, { context: SIGNATURE_CONTEXT, extraEntropy }) };
}
