/**
 * The shared reject vectors (crates/dsm-core/tests/vectors/reject-v1.txt, PROTOCOL.md §10):
 * every row refused with exactly the error the file names — the Rust implementation checks
 * the same file (dsm-core/tests/reject.rs), so the two agree on the error's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decode } from '../src/codec.mjs';
import { SIZE_CAPS } from '../src/schema.mjs';
import { verifyReceipt } from '../src/receipt.mjs';
import { verifyEquivocationProof } from '../src/tripwire.mjs';
import { hexToBytes } from '../src/bytes.mjs';

const FILE = new URL('../../../crates/dsm-core/tests/vectors/reject-v1.txt', import.meta.url);
const rows = readFileSync(FILE, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [name, type, hex, error] = l.split('\t');
    return { name, type: type.replace(/^dsm\.v1\./, ''), bytes: hexToBytes(hex), error };
  });

/** The error's name as the file writes it; a balance error also names its kind. */
function nameOf(error) {
  if (error.code === 'Balance') return `Balance.${error.message.split(': ').pop()}`;
  return error.code;
}

function jsError(type, bytes) {
  if (type === 'Receipt') {
    const r = verifyReceipt(bytes);
    return r.valid ? 'accepted' : nameOf(r.error);
  }
  if (type === 'EquivocationProof') {
    const r = verifyEquivocationProof(bytes);
    return r.valid ? 'accepted' : r.error.code;
  }
  if (bytes.length > SIZE_CAPS[type]) return 'TooLarge';
  try {
    decode(type, bytes);
    return 'accepted';
  } catch (e) {
    return e.code || String(e);
  }
}

test('every reject vector is refused with the error it names', () => {
  assert.ok(rows.length >= 60, 'the reject vectors are present');
  const wrong = rows
    .map((r) => ({ name: r.name, want: r.error, got: jsError(r.type, r.bytes) }))
    .filter((r) => r.got !== r.want);
  assert.deepEqual(wrong, []);
});
