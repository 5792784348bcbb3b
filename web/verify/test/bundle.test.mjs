/**
 * The shipped bundle (dist/verify.js — the file `dsm ui` embeds and verify.html loads) is
 * the verifier these tests test: it verifies every receipt vector and refuses a flipped one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VECTORS } from '../testlib/vectors.mjs';

await import('../dist/verify.js');
const api = globalThis.DsmVerify;

test('the bundle verifies every receipt vector and refuses a flipped one', () => {
  const receipts = VECTORS.filter((v) => v.type === 'Receipt');
  assert.ok(receipts.length >= 4, 'receipt vectors present');
  for (const v of receipts) {
    const r = api.verifyReceipt(v.bytes);
    assert.equal(r.valid, true, `${v.name}: ${JSON.stringify(r.error)}`);
    assert.equal(typeof r.facts.amount, 'string');
    const t = v.bytes.slice();
    t[Math.floor(t.length / 2)] ^= 1;
    assert.equal(api.verifyReceipt(t).valid, false, v.name);
  }
  assert.equal(typeof api.render, 'function');
});

test('the committed bundle is exactly what this source builds', async () => {
  const { build } = await import('esbuild');
  const { OPTIONS } = await import('../build.mjs');
  const { readFileSync } = await import('node:fs');
  const out = await build({ ...OPTIONS, write: false });
  const fresh = Buffer.from(out.outputFiles[0].contents);
  const committed = readFileSync(new URL('../dist/verify.js', import.meta.url));
  assert.ok(fresh.equals(committed), 'dist/verify.js is stale: run `npm run build` in web/verify and commit it');
});
