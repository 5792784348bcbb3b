/**
 * NIST's ACVP sigVer vectors (the files dsm-core's known-answer tests use,
 * crates/dsm-core/tests/vectors/acvp/) against the signature library this verifier rests on:
 * ML-DSA-65 and SLH-DSA-SHA2-128f, external/pure interface with a context string, each
 * test's expected verdict (passed or failed) reproduced exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { slh_dsa_sha2_128f } from '@noble/post-quantum/slh-dsa.js';
import { hexToBytes } from '../src/bytes.mjs';

const ACVP = new URL('../../../crates/dsm-core/tests/vectors/acvp/', import.meta.url);

for (const [file, alg] of [
  ['ml-dsa-65-sigVer.json', ml_dsa65],
  ['slh-dsa-sha2-128f-sigVer.json', slh_dsa_sha2_128f],
]) {
  test(`ACVP ${file}: every test's verdict`, () => {
    const d = JSON.parse(readFileSync(new URL(file, ACVP), 'utf8'));
    assert.ok(d.tests.length > 0);
    for (const t of d.tests) {
      let ok;
      try {
        ok = alg.verify(hexToBytes(t.signature), hexToBytes(t.message), hexToBytes(t.pk), {
          context: hexToBytes(t.context ?? ''),
        });
      } catch {
        ok = false;
      }
      assert.equal(ok, t.testPassed, `tcId ${t.tcId}`);
    }
  });
}
