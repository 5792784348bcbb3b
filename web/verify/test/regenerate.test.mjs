// Rebuilds every line of crates/dsm-core/tests/vectors/dsm-v1.txt from the inputs PROTOCOL.md
// §10 states ("The fixture"), with the builders of test/build/ (keys, genesis, heads, tree,
// transfers, refusals, parcels, slot writes, b0x access, Tripwire proofs), and compares
// the whole file line by line: name, type and hex. The file is only compared against,
// never read as an input of a build step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VECTOR_FILE } from '../testlib/vectors.mjs';
import { commonLines, linesOfSuite, SUITE_IDS } from './build/vectors.mjs';

// 113 tags + 23 other suite-independent lines + 2 × 44 per suite. A change of the file's
// size must come with a change here, so coverage cannot silently vanish.
const VECTOR_LINES = 224;
const COMMENT_LINES = 2;

const fileLines = readFileSync(VECTOR_FILE, 'utf8').split('\n').filter((l) => l !== '');

/** Where two hex strings first differ, as a byte offset and lengths. */
function where(got, want) {
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `first differing byte ${i >> 1}; ${got.length / 2} bytes built, ${want.length / 2} in the file`;
}

test('JavaScript regenerates dsm-v1.txt byte for byte from PROTOCOL.md alone', () => {
  const comments = fileLines.filter((l) => l.startsWith('#'));
  const want = fileLines.filter((l) => !l.startsWith('#')).map((l) => {
    const [name, type, hex, ...extra] = l.split('\t');
    assert.equal(extra.length, 0, `${name}: three tab-separated fields`);
    return { name, type, hex };
  });
  assert.equal(comments.length, COMMENT_LINES, 'comment lines in the file');
  assert.equal(want.length, VECTOR_LINES, 'vector lines in the file');

  const got = [...commonLines(), ...Object.keys(SUITE_IDS).flatMap(linesOfSuite)];
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i], w = want[i];
    const at = `vector ${i + 1} of ${want.length}`;
    assert.equal(g.name, w.name, `${at}: built ${g.name}, the file has ${w.name}`);
    assert.equal(g.type, w.type, `${at} (${w.name}): type ${g.type} built, ${w.type} in the file`);
    if (g.hex !== w.hex) assert.fail(`${at} (${w.name}) differs: ${where(g.hex, w.hex)}`);
  }
  assert.equal(got.length, want.length, `${got.length} vectors built, ${want.length} in the file`);
});
