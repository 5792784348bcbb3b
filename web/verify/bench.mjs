#!/usr/bin/env node
/**
 * bench.mjs — the JavaScript verifier's speed, per suite: verifyReceipt (PROTOCOL.md §7.3
 * checks 1–8) on the vector receipt, and the limit its signature library sets, the two
 * signature verifications it contains alone; the ratio is the share of that limit reached.
 * `--json` prints one JSON object (what `dsm bench web` reads to compare with the Rust
 * verifier in the same run). A benchmark, never a test: nothing here asserts a time.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

await import('./dist/verify.js');
const { verifyReceipt, decode, hexToBytes, verifySignature, objects } = globalThis.DsmVerify;

const file = new URL('../../crates/dsm-core/tests/vectors/dsm-v1.txt', import.meta.url);
const vectors = Object.fromEntries(readFileSync(file, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => { const [n, , h] = l.split('\t'); return [n, hexToBytes(h)]; }));

function time(fn, minMs) {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) { fn(); n++; }
  return (performance.now() - start) / n;
}

const out = {};
for (const suite of ['ml-dsa-65', 'slh-dsa-sha2-128f']) {
  const bytes = vectors[`${suite}.ab.receipt`];
  const r = decode('Receipt', bytes);
  const pc = objects.proposalCommit(r.proposal.proposal);
  const ac = objects.acceptanceCommit(r.acceptance.acceptance);
  const pk = r.proposal.proposal.sender.public_key;
  const rk = r.acceptance.acceptance.receiver.public_key;
  if (!verifyReceipt(bytes).valid) throw new Error(`${suite}: the vector receipt does not verify`);
  const ms = suite === 'ml-dsa-65' ? 2000 : 4000;
  const receipt = time(() => verifyReceipt(bytes), ms);
  const sigs = time(() => {
    verifySignature(pk, r.proposal.signature, pc);
    verifySignature(rk, r.acceptance.signature, ac);
  }, ms);
  out[suite] = { receipt_ms: receipt, signatures_ms: sigs, ratio: sigs / receipt };
}
if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify(out) + '\n');
} else {
  for (const [s, v] of Object.entries(out)) {
    process.stdout.write(`${s}: verifyReceipt ${v.receipt_ms.toFixed(2)} ms, its two signatures alone ${v.signatures_ms.toFixed(2)} ms: ${(100 * v.ratio).toFixed(0)} % of the signature library's limit\n`);
  }
}
