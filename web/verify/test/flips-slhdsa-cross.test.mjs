// Single-bit flips of the vector slh-dsa-sha2-128f.cross.receipt: every bit outside the signatures and a
// deterministic sample inside them is refused (see _flip.mjs for why not every bit).
import { test } from 'node:test';
import { flipAll } from '../testlib/flip.mjs';

test('every single-bit flip of slh-dsa-sha2-128f.cross.receipt is refused', () => {
  const t0 = Date.now();
  const { flipped, outside } = flipAll('slh-dsa-sha2-128f.cross.receipt');
  console.log(`# slh-dsa-sha2-128f.cross.receipt: ${flipped} flips (${outside} outside the signatures) refused in ${Date.now() - t0} ms`);
});
