#!/usr/bin/env node
/**
 * cli.mjs FILE — verify a DSM receipt file (the raw canonical bytes of a `Receipt`, as
 * `dsm receipt ID --out FILE` exports it) with PROTOCOL.md §7.3 checks 1–8, print each
 * check and the verified facts. `--hex` reads the file as hex text instead (the form of the
 * vector file; see GAPS.md: the README does not define a hex receipt file).
 * Exit status: 0 valid, 1 invalid, 2 usage error or unreadable file.
 */
import { readFileSync } from 'node:fs';
import { verifyReceipt } from './src/receipt.mjs';
import { hexToBytes } from './src/bytes.mjs';

const args = process.argv.slice(2);
const hex = args.includes('--hex');
const json = args.includes('--json');
const files = args.filter((a) => !a.startsWith('--'));
if (files.length !== 1 || args.some((a) => a.startsWith('--') && a !== '--hex' && a !== '--json')) {
  process.stderr.write('usage: node cli.mjs [--hex] [--json] FILE\n');
  process.exit(2);
}
let bytes;
try {
  const raw = readFileSync(files[0]);
  bytes = hex ? hexToBytes(raw.toString('utf8')) : new Uint8Array(raw);
} catch (e) {
  process.stderr.write(`cannot read ${files[0]}: ${e.message}\n`);
  process.exit(2);
}
const r = verifyReceipt(bytes);
if (json) {
  process.stdout.write(JSON.stringify({ valid: r.valid, error: r.error, checks: r.checks, facts: r.facts }) + '\n');
} else {
  for (const c of r.checks) {
    const who = c.party ? ` (${c.party})` : '';
    const mark = c.status === 'pass' ? 'ok  ' : c.status === 'fail' ? 'FAIL' : 'skip';
    process.stdout.write(`${mark} ${c.id.padEnd(3)}${who} ${c.name}${c.error ? ` — ${c.error.message}` : ''}\n`);
  }
  if (r.valid) {
    const f = r.facts;
    process.stdout.write(`VALID receipt ${f.receipt_digest}\n  sender   ${f.sender} (${f.sender_suite})\n  receiver ${f.receiver} (${f.receiver_suite})\n`
      + `  token    ${f.token}\n  amount   ${f.amount}\n`
      + `  sender heads   ${f.sender_heads.parent.digest} (height ${f.sender_heads.parent.height}) → ${f.sender_heads.child.digest} (height ${f.sender_heads.child.height})\n`
      + `  receiver heads ${f.receiver_heads.parent.digest} (height ${f.receiver_heads.parent.height}) → ${f.receiver_heads.child.digest} (height ${f.receiver_heads.child.height})\n`
      + '  (stateless checks 1–8 only: check 9 needs the verifier\'s view, PROTOCOL.md §7.4)\n');
  } else {
    process.stdout.write(`INVALID: check ${r.error.check}${r.error.party ? ` (${r.error.party})` : ''}: ${r.error.message}\n`);
  }
}
process.exit(r.valid ? 0 : 1);
