// Single-bit flips of the vector ml-dsa-65.cross.receipt: every bit outside the signatures and a
// deterministic sample inside them is refused (see _flip.mjs for why not every bit).
import { test } from 'node:test';
import { flipAll } from '../testlib/flip.mjs';

test('every single-bit flip of ml-dsa-65.cross.receipt is refused', () => {
  const t0 = Date.now();
  const { flipped, outside } = flipAll('ml-dsa-65.cross.receipt');
  console.log(`# ml-dsa-65.cross.receipt: ${flipped} flips (${outside} outside the signatures) refused in ${Date.now() - t0} ms`);
});
