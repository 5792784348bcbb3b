/**
 * Test-only builder: every line of crates/dsm-core/tests/vectors/dsm-v1.txt rebuilt from
 * PROTOCOL.md §10's inputs, in file order — the suite-independent lines, then each suite's
 * (§4.1 suite ids 1 and 2). Never imported by src/ or the browser bundle.
 */
import { commonLines } from './common.mjs';
import { suiteLines } from './suite.mjs';
import { ML_DSA_65, SLH_DSA_SHA2_128F } from './keys.mjs';

/** The suites of §4.1 with the names the vector file gives them. */
export const SUITE_IDS = { 'ml-dsa-65': ML_DSA_65, 'slh-dsa-sha2-128f': SLH_DSA_SHA2_128F };

export { commonLines };

/** The lines of the suite named `name` ('ml-dsa-65' or 'slh-dsa-sha2-128f'). */
export const linesOfSuite = (name) => suiteLines(name, SUITE_IDS[name]);
