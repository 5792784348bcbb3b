// cli.mjs: exit 0 for a valid receipt file, 1 for an invalid one, 2 for usage errors and
// unreadable files; --hex reads the vector file's hex form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytes, V } from '../testlib/vectors.mjs';

const CLI = fileURLToPath(new URL('../cli.mjs', import.meta.url));
const run = (...args) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('cli exit codes and output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsm-verify-'));
  const good = join(dir, 'r.receipt');
  writeFileSync(good, bytes('ml-dsa-65.ab.receipt'));
  let r = run(good);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /VALID receipt b950cc15/);
  assert.match(r.stdout, /amount +250/);
  const bad = join(dir, 'bad.receipt');
  const b = bytes('ml-dsa-65.ab.receipt');
  b[100] ^= 1;
  writeFileSync(bad, b);
  r = run(bad);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /INVALID/);
  const hex = join(dir, 'r.hex');
  writeFileSync(hex, V['slh-dsa-sha2-128f.cross.receipt'].hex + '\n');
  assert.equal(run(hex).status, 1); // hex text is not a raw receipt
  assert.equal(run('--hex', hex).status, 0);
  r = run('--json', good);
  assert.equal(JSON.parse(r.stdout).facts.amount, '250');
  assert.equal(run(join(dir, 'missing')).status, 2);
  assert.equal(run().status, 2);
  assert.equal(run('--bogus', good).status, 2);
  writeFileSync(join(dir, 'nothex'), 'zz');
  assert.equal(run('--hex', join(dir, 'nothex')).status, 2);
});
