/**
 * Test-only builder: the suite-independent lines of the vector file, in file order
 * (PROTOCOL.md §10): the hash of every tag (§2), contact cards and documents (§12.6), the
 * concatenation-ambiguity hashes (§2), the sparse Merkle tree (§6), the TEST token (§5.1),
 * slot owners and an admission (§15.2), and the entropy contributors (§4.2).
 */
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { H, hashLabel, TAG_TABLE } from '../../src/hash.mjs';
import { EMPTY } from '../../src/smt.mjs';
import { utf8, concat } from '../../src/bytes.mjs';
import { SmtTree } from './smt-tree.mjs';
import { msg, raw } from './lines.mjs';
import { seal } from './slot.mjs';

const fill = (b, n = 32) => new Uint8Array(n).fill(b);

/** §10 `smt.five_leaves.*`: key H(Token, "key", [i]) → H(Token, "value", [i]), i = 0 … 4. */
function fiveLeaves() {
  let t = new SmtTree();
  for (let i = 0; i < 5; i++) t = t.with(H('Token', utf8('key'), Uint8Array.of(i)), H('Token', utf8('value'), Uint8Array.of(i)));
  return t;
}

/** Every suite-independent line, in file order. */
export function commonLines() {
  const kem = ml_kem768.keygen(concat(fill(9), fill(10))).publicKey; // §10: FIPS 203 KeyGen(d = 09×32, z = 0a×32)
  const tree = fiveLeaves();
  return [
    ...TAG_TABLE.map(([, l]) => raw(`tag.${l}`, hashLabel(l))), // §10: in §2's table order
    raw('card.check(bob,07..)', H('ContactCard', utf8('bob'), fill(7))),
    raw('card.check_v2(bob,07..,08..)', H('ContactCard', utf8('bob'), fill(7), fill(8))),
    raw('kem.public(09..,0a..)', kem),
    raw('card.document.signed(07..,kem.public)', H('ContactDocument', fill(7), kem)),
    raw('card.document.key(07..)', H('ContactDocumentKey', fill(7))),
    raw('b0x.address(07..,09..)', H('B0xRelationship', fill(9), fill(7))),
    raw('b0x.reply_to(07..,09..)', H('B0xReplyTo', fill(7), fill(9))),
    raw('hash.token(ab,c)', H('Token', utf8('ab'), utf8('c'))),
    raw('hash.token(a,bc)', H('Token', utf8('a'), utf8('bc'))),
    raw('smt.empty_root', EMPTY),
    raw('smt.five_leaves.root', tree.root()),
    msg('smt.five_leaves.proof(key 3)', 'SmtProof', tree.proof(H('Token', utf8('key'), Uint8Array.of(3)))),
    msg('smt.five_leaves.proof(absent)', 'SmtProof', tree.proof(H('Token', utf8('absent')))),
    raw('token.TEST', H('Token', utf8('TEST'))),
    raw('slot.keys_owner(01..,02..)', H('SlotOwner', fill(1), fill(2))),
    raw('slot.parties_owner(01..,02..)', H('SlotParties', fill(1), fill(2))),
    msg('slot.admission(parties 01..,02.. of genesis blind 01..)', 'Admission', { kind: 5, admitted: [], parties: [fill(1), fill(2)], genesis_blind: fill(1) }),
    raw('slot.genesis_blind(genesis 01..)', H('GenesisBlind', fill(1))),
    msg('slot.admission(device slots of genesis blind 01..)', 'Admission', { kind: 6, admitted: [], parties: [], genesis_blind: fill(1) }),
    raw('seal.anchor(parent 01..,"plain")', seal('AnchorSeal', fill(1), utf8('plain'))),
    raw('slot.body_digest("body")', H('SlotBody', utf8('body'))),
    raw('entropy.device_contributor', H('EntropyContributor', utf8('device'), utf8(''))),
    raw('entropy.node_contributor(http://127.0.0.1:7800)', H('EntropyContributor', utf8('storage-node'), utf8('http://127.0.0.1:7800'))),
  ];
}
