#!/usr/bin/env node
/**
 * compare.mjs — one long-running verifier process for cross-implementation tests: reads
 * one hex-encoded receipt per line on stdin and answers one JSON line per receipt on
 * stdout, `{"valid":bool,"check":"…","code":"…"}` (the first failing check of PROTOCOL.md
 * §7.3 and its error code), through the shipped bundle dist/verify.js — the same file
 * `dsm ui` embeds. The Rust side (dsm-cli/tests/verify_js.rs) feeds it receipts and their
 * bit flips and fails on any disagreement.
 */
import { createInterface } from 'node:readline';

await import('./dist/verify.js');
const { verifyReceipt, hexToBytes } = globalThis.DsmVerify;

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  let out;
  try {
    const r = verifyReceipt(hexToBytes(line.trim()));
    out = { valid: r.valid, check: r.error ? r.error.check : null, code: r.error ? r.error.code : null };
  } catch (e) {
    out = { valid: false, check: 'input', code: String(e && e.message) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
