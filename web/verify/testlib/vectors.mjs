/**
 * Test helper (not a test): reads crates/dsm-core/tests/vectors/dsm-v1.txt
 * (`name<TAB>type or '-'<TAB>hex`, PROTOCOL.md §10) into an ordered list and a name map.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hexToBytes } from '../src/bytes.mjs';

export const VECTOR_FILE = fileURLToPath(new URL('../../../crates/dsm-core/tests/vectors/dsm-v1.txt', import.meta.url));

export const VECTORS = readFileSync(VECTOR_FILE, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [name, type, hex] = l.split('\t');
    return { name, type: type === '-' ? null : type.replace(/^dsm\.v1\./, ''), hex, bytes: hexToBytes(hex) };
  });

export const V = Object.fromEntries(VECTORS.map((v) => [v.name, v]));
export const bytes = (name) => {
  if (!V[name]) throw new Error(`no vector ${name}`);
  return V[name].bytes.slice();
};
export const SUITES = ['ml-dsa-65', 'slh-dsa-sha2-128f'];
