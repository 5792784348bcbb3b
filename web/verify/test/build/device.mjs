/**
 * Test-only builder: a device of the vector fixture (PROTOCOL.md §10 "The fixture") — its
 * key (§4.1), genesis ceremony result (§4.2), identity and id (§4.3), initial head (§5.3),
 * tree (§6) and funding (§10 "Funding", an ALLOCATION head, §5.3).
 */
import { H } from '../../src/hash.mjs';
import { encode } from '../../src/codec.mjs';
import { compare, utf8, zeros } from '../../src/bytes.mjs';
import { EMPTY } from '../../src/smt.mjs';
import { genesisDigest, deviceId, headDigest } from '../../src/objects.mjs';
import { deriveKey, publicKeyOf } from './keys.mjs';
import { SmtTree } from './smt-tree.mjs';
import { addBalance } from './balances.mjs';

export const KIND = { CREATE: 0, DEBIT: 1, CREDIT: 2, ALLOCATION: 3, REFUSE: 4, RELEASE: 5 };
export const TEST_TOKEN = H('Token', utf8('TEST'));

/** §10: contribution i of device n: contributor H(Token, "test-contributor", [i]), secret [n XOR (i + 1)]×32. */
function contribution(n, i) {
  return { contributor: H('Token', utf8('test-contributor'), Uint8Array.of(i)), secret: new Uint8Array(32).fill(n ^ (i + 1)) };
}

/** §4.2: GenesisRecord of device n: its founding key, three contributions ascending by contributor, no recovery authority. */
function genesisRecord(n, publicKey) {
  const contributions = [0, 1, 2].map((i) => contribution(n, i)).sort((x, y) => compare(x.contributor, y.contributor));
  return { founding_key: publicKey, contributions, recovery_authority: undefined };
}

/** §5.3: the initial head {device, 0, 0^32, EMPTY, [], CREATE, genesis}. */
const initialHead = (device, genesis) =>
  ({ device, height: 0n, parent: zeros(32), smt_root: EMPTY, balances: [], kind: KIND.CREATE, cause: genesis });

/** §5.3: the head after `head` of `kind` with `cause`, tree root and balances (height + 1, parent its digest). */
export const nextHead = (head, kind, cause, smtRoot, balances) =>
  ({ device: head.device, height: head.height + 1n, parent: headDigest(head), smt_root: smtRoot, balances, kind, cause });

/**
 * §10 "Device n": key seed [n]×32, its genesis, identity and id; state = the current head
 * and tree (an empty tree at the initial head).
 */
export function makeDevice(suite, n) {
  const key = deriveKey(suite, new Uint8Array(32).fill(n));
  const publicKey = publicKeyOf(key);
  const record = genesisRecord(n, publicKey);
  const genesis = genesisDigest(record);
  const identity = { genesis, public_key: publicKey };
  const id = deviceId(identity);
  return { n, key, record, genesis, identity, id, head: initialHead(id, genesis), tree: new SmtTree() };
}

/** §10 "Funding": one ALLOCATION head, tree root unchanged, `amount` more TEST, cause H(Token, "test allocation"). */
export function fund(device, amount) {
  const h = device.head;
  device.head = nextHead(h, KIND.ALLOCATION, H('Token', utf8('test allocation')), h.smt_root, addBalance(h.balances, TEST_TOKEN, amount));
}

/** §4.2 ceremony id: H(EntropyCeremony, enc(founding key), the commitment H(EntropyCommitment, c, x) of a contribution). */
export function ceremonyId(record, contribution) {
  return H('EntropyCeremony', encode('PublicKey', record.founding_key), H('EntropyCommitment', contribution.contributor, contribution.secret));
}
