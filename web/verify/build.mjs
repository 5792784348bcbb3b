/**
 * Builds the one shipped bundle, dist/verify.js (`npm run build`). The options live here
 * once: test/bundle.test.mjs builds the same in memory and fails when the committed file
 * differs, so the bundle `dsm ui` embeds is always this source's.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const OPTIONS = {
  absWorkingDir: fileURLToPath(new URL('.', import.meta.url)),
  entryPoints: ['src/bundle.mjs'],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  legalComments: 'inline',
  outfile: 'dist/verify.js',
  logLevel: 'warning',
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(OPTIONS);
}
