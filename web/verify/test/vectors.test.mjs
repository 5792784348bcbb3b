// Every line of crates/dsm-core/tests/vectors/dsm-v1.txt (PROTOCOL.md §10): tag hashes
// recomputed; every message vector decodes strictly and re-encodes byte for byte; every
// digest / commit / id vector recomputed from its inputs; every receipt, signed proposal,
// refusal and proof verifies. A vector line that no test below covers fails the last test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { VECTORS, V, bytes, SUITES } from '../testlib/vectors.mjs';
import { decode, encode } from '../src/codec.mjs';
import { H, hashLabel, TAG_TABLE } from '../src/hash.mjs';
import { bytesToHex as hx, utf8, concat, equal } from '../src/bytes.mjs';
import { verifySmt, rootAfterSet, EMPTY } from '../src/smt.mjs';
import { verifyReceipt, verifySignedProposal, verifyRefusal } from '../src/receipt.mjs';
import { verifyEquivocationProof } from '../src/tripwire.mjs';
import * as O from '../src/objects.mjs';
import * as P from '../src/parcel.mjs';

const covered = new Set();
const expect = (name, value) => {
  assert.ok(V[name], `vector ${name} exists`);
  assert.equal(hx(value), V[name].hex, name);
  covered.add(name);
};
const fill = (b, n = 32) => new Uint8Array(n).fill(b);

test('tag table: every tag vector is H(tag) of a label in the table, and every label has one', () => {
  const labels = new Set(TAG_TABLE.map(([, l]) => l));
  const tagVectors = VECTORS.filter((v) => v.name.startsWith('tag.'));
  for (const v of tagVectors) {
    const label = v.name.slice(4);
    assert.ok(labels.has(label), `${label} in the table`);
    expect(v.name, hashLabel(label));
  }
  assert.equal(tagVectors.length, TAG_TABLE.length);
});

test('message vectors decode strictly and re-encode byte for byte', () => {
  const msgs = VECTORS.filter((v) => v.type);
  assert.ok(msgs.length >= 40);
  for (const v of msgs) {
    const obj = decode(v.type, v.bytes);
    assert.equal(hx(encode(v.type, obj)), v.hex, v.name);
    covered.add(v.name);
  }
});

test('hashing: concatenation ambiguity, token id, contributors, cards, slots', () => {
  expect('hash.token(ab,c)', H('Token', utf8('ab'), utf8('c')));
  expect('hash.token(a,bc)', H('Token', utf8('a'), utf8('bc')));
  assert.notEqual(V['hash.token(ab,c)'].hex, V['hash.token(a,bc)'].hex);
  expect('token.TEST', H('Token', utf8('TEST')));
  expect('entropy.device_contributor', H('EntropyContributor', utf8('device'), utf8('')));
  expect('entropy.node_contributor(http://127.0.0.1:7800)', H('EntropyContributor', utf8('storage-node'), utf8('http://127.0.0.1:7800')));
  expect('card.check(bob,07..)', H('ContactCard', utf8('bob'), fill(7)));
  assert.equal(V['card.check(bob,07..)'].hex.slice(0, 8), 'c8186779'); // §12.6 text vector
  expect('card.check_v2(bob,07..,08..)', H('ContactCard', utf8('bob'), fill(7), fill(8)));
  const kem = ml_kem768.keygen(concat(fill(9), fill(10))).publicKey; // FIPS 203 KeyGen(d, z)
  expect('kem.public(09..,0a..)', kem);
  expect('card.document.signed(07..,kem.public)', H('ContactDocument', fill(7), kem));
  expect('card.document.key(07..)', H('ContactDocumentKey', fill(7)));
  expect('b0x.address(07..,09..)', P.b0xAddress(fill(7), fill(9)));
  expect('b0x.reply_to(07..,09..)', H('B0xReplyTo', fill(7), fill(9)));
  assert.notEqual(hx(P.b0xAddress(fill(7), fill(9))), hx(P.b0xAddress(fill(7))), 'a relationship address is not the introduction address');
  expect('slot.keys_owner(01..,02..)', H('SlotOwner', fill(1), fill(2)));
  expect('slot.parties_owner(01..,02..)', H('SlotParties', fill(1), fill(2)));
  expect('slot.genesis_blind(genesis 01..)', H('GenesisBlind', fill(1)));
  const blinded = decode('Admission', bytes('slot.admission(device slots of genesis blind 01..)'));
  assert.equal(blinded.kind, 6);
  assert.ok(equal(blinded.genesis_blind, fill(1)));
  // §2 "Sealed at the nodes": opens under its context only, and only in its canonical form.
  const sealed = bytes('seal.anchor(parent 01..,"plain")');
  assert.equal(new TextDecoder().decode(P.openSealed('AnchorSeal', fill(1), sealed)), 'plain');
  covered.add('seal.anchor(parent 01..,"plain")');
  assert.equal(P.openSealed('AnchorSeal', fill(2), sealed), undefined, 'another parent');
  assert.equal(P.openSealed('ParcelSeal', fill(1), sealed), undefined, 'another tag');
  const renonced = Uint8Array.from(sealed);
  renonced[0] ^= 1;
  assert.equal(P.openSealed('AnchorSeal', fill(1), renonced), undefined, 'another nonce');
  expect('slot.body_digest("body")', H('SlotBody', utf8('body')));
  const adm = decode('Admission', bytes('slot.admission(parties 01..,02.. of genesis blind 01..)'));
  assert.equal(adm.kind, 5);
  assert.ok(equal(adm.genesis_blind, fill(1)));
  assert.deepEqual(adm.parties.map(hx), [hx(fill(1)), hx(fill(2))]);
});

test('sparse Merkle tree: empty root, five-leaf root, inclusion and non-inclusion proofs', () => {
  expect('smt.empty_root', EMPTY);
  const root = bytes('smt.five_leaves.root');
  covered.add('smt.five_leaves.root');
  const inc = decode('SmtProof', bytes('smt.five_leaves.proof(key 3)'));
  const k = inc.terminal.key;
  const got = verifySmt(inc, k, root);
  assert.equal(got.present, true);
  assert.ok(equal(got.value, inc.terminal.value));
  // Setting the value it already has leaves the root unchanged.
  assert.ok(equal(rootAfterSet(inc, k, inc.terminal.value), root));
  // The leaves' inputs (PROTOCOL.md §10): key 3 is H(Token, "key", [3]) → H(Token, "value", [3]).
  assert.ok(equal(k, H('Token', utf8('key'), new Uint8Array([3]))));
  assert.ok(equal(got.value, H('Token', utf8('value'), new Uint8Array([3]))));
  const abs = decode('SmtProof', bytes('smt.five_leaves.proof(absent)'));
  assert.deepEqual(verifySmt(abs, H('Token', utf8('absent')), root), { present: false });
  // Any key agreeing with the terminal on the path's bits but not equal to it is absent
  // under this proof too.
  const k2 = abs.terminal.key.slice();
  k2[31] ^= 1;
  assert.deepEqual(verifySmt(abs, k2, root), { present: false });
  assert.equal(verifySmt(abs, abs.terminal.key, root).present, true);
  // A wrong root or a terminal off the path is refused.
  assert.throws(() => verifySmt(inc, k, EMPTY), /RootMismatch/);
  const off = k.slice();
  off[0] ^= 0x80;
  assert.throws(() => verifySmt(inc, off, root), /TerminalOffPath/);
});

for (const s of SUITES) {
  test(`${s}: identity, heads, step, commits, receipt digest`, () => {
    const recBytes = bytes(`${s}.a.genesis_record`);
    const rec = decode('GenesisRecord', recBytes);
    expect(`${s}.a.genesis`, O.genesisDigest(rec));
    const c0 = rec.contributions[0];
    expect(`${s}.a.ceremony_id(commitment of contribution 0)`,
      H('EntropyCeremony', encode('PublicKey', rec.founding_key), H('EntropyCommitment', c0.contributor, c0.secret)));
    const id = decode('DeviceIdentity', bytes(`${s}.a.identity`));
    assert.ok(equal(id.genesis, O.genesisDigest(rec)));
    assert.equal(hx(encode('PublicKey', id.public_key)), hx(encode('PublicKey', rec.founding_key)));
    const a = O.deviceId(id);
    expect(`${s}.a.device_id`, a);
    // The initial head is derived: {device, 0, 0^32, empty root, [], CREATE, genesis} (§5.3).
    const init = { device: a, height: 0n, parent: fill(0), smt_root: EMPTY, balances: [], kind: 0, cause: O.genesisDigest(rec) };
    expect(`${s}.a.initial_head`, encode('DeviceHead', init));
    expect(`${s}.a.initial_head.digest`, O.headDigest(init));
    const r = decode('Receipt', bytes(`${s}.ab.receipt`));
    const p = r.proposal.proposal;
    expect(`${s}.a.funded_head`, encode('DeviceHead', p.sender_parent_head));
    expect(`${s}.b.device_id`, O.deviceId(r.acceptance.acceptance.receiver));
    const k = O.relationshipKey(a, O.deviceId(r.acceptance.acceptance.receiver));
    expect(`${s}.ab.relationship_key`, k);
    expect(`${s}.ab.genesis_tip`, O.genesisTip(k));
    expect(`${s}.ab.step`, encode('RelationshipStep', p.step));
    expect(`${s}.ab.child_tip`, O.childTip(p.step));
    expect(`${s}.ab.proposal_commit`, O.proposalCommit(p));
    expect(`${s}.ab.acceptance_commit`, O.acceptanceCommit(r.acceptance.acceptance));
    expect(`${s}.ab.receipt.digest`, O.receiptDigest(bytes(`${s}.ab.receipt`)));
  });

  test(`${s}: receipts, proposals and refusals verify`, () => {
    for (const n of ['ab.receipt', 'cross.receipt']) {
      const r = verifyReceipt(bytes(`${s}.${n}`));
      assert.equal(r.valid, true, `${n}: ${JSON.stringify(r.error)}`);
      assert.equal(r.checks.length, 17);
      assert.ok(r.checks.every((c) => c.status === 'pass'));
      covered.add(`${s}.${n}`);
    }
    const f = verifyReceipt(bytes(`${s}.ab.receipt`)).facts;
    assert.equal(f.amount, '250');
    assert.equal(f.sender, V[`${s}.a.device_id`].hex);
    assert.equal(f.receiver, V[`${s}.b.device_id`].hex);
    assert.equal(f.token, V['token.TEST'].hex);
    assert.notEqual(verifyReceipt(bytes(`${s}.cross.receipt`)).facts.crossing, null);
    for (const n of ['cross.loser_proposal', 'queue.first_proposal', 'queue.second_proposal']) {
      const r = verifySignedProposal(bytes(`${s}.${n}`));
      assert.equal(r.valid, true, `${n}: ${JSON.stringify(r.error)}`);
    }
    for (const [pn, rn, crossing, behind] of [['cross.loser_proposal', 'cross.refusal', true, 0], ['queue.first_proposal', 'queue.first_refusal', false, 0], ['queue.second_proposal', 'queue.second_refusal', false, 1]]) {
      const r = verifyRefusal(bytes(`${s}.${pn}`), bytes(`${s}.${rn}`));
      assert.equal(r.valid, true, `${rn}: ${JSON.stringify(r.error)}`);
      assert.equal(r.facts.crossing, crossing);
      assert.equal(r.facts.behind, behind);
    }
    // A refusal checked against another proposal is refused.
    const wrong = verifyRefusal(bytes(`${s}.queue.first_proposal`), bytes(`${s}.queue.second_refusal`));
    assert.equal(wrong.valid, false);
  });

  test(`${s}: Tripwire proofs verify (head fork; parcel fork)`, () => {
    const e = verifyEquivocationProof(bytes(`${s}.a.equivocation_proof`));
    assert.equal(e.valid, true, JSON.stringify(e.error));
    assert.equal(e.facts.device, V[`${s}.a.device_id`].hex);
    const f = verifyEquivocationProof(bytes(`${s}.parcel.fork_proof`));
    assert.equal(f.valid, true, JSON.stringify(f.error));
    assert.equal(f.facts.form, 'parcel fork');
    assert.deepEqual(f.facts.parcels, [V[`${s}.parcel.root_id`].hex]);
    const fork = decode('ParcelFork', bytes(`${s}.parcel.fork`));
    assert.equal(hx(encode('ParcelFork', decode('EquivocationProof', bytes(`${s}.parcel.fork_proof`)).parcel_fork)), V[`${s}.parcel.fork`].hex);
    assert.equal(P.verifyParcelFork(fork).parcels.length, 1);
  });

  test(`${s}: parcel objects (§5.6), owned slot write (§15.2), b0x access (§16.1)`, () => {
    const st = decode('ParcelStatement', bytes(`${s}.parcel.statement`));
    expect(`${s}.parcel.statement.digest`, P.statementDigest(st));
    const hopBytes = bytes(`${s}.parcel.hop`);
    const hop = decode('Hop', hopBytes);
    assert.equal(hx(encode('ParcelStatement', hop.statement)), V[`${s}.parcel.statement`].hex);
    const commit = P.hopCommit(hop);
    expect(`${s}.parcel.commit`, commit);
    expect(`${s}.parcel.output_0.id`, P.outputId(commit, 0));
    // root_id, recomputed from its inputs (PROTOCOL.md §10).
    const amount100 = new Uint8Array(16);
    amount100[15] = 100;
    expect(`${s}.parcel.root_id`, P.rootId(new Uint8Array(32).fill(9), H('Token', utf8('GOLD')), amount100, V[`${s}.a.device_id`].bytes));
    // It is also the parcel the statement consumes.
    assert.deepEqual(st.inputs.map(hx), [V[`${s}.parcel.root_id`].hex]);
    covered.add(`${s}.parcel.root_id`);
    const idBytes = bytes(`${s}.a.identity`);
    const id = decode('DeviceIdentity', idBytes);
    P.verifyHop(hop, id);
    // The manifest lists the hop and the signer by object address.
    const m = decode('LineageManifest', bytes(`${s}.parcel.manifest`));
    assert.equal(hx(m.parcel), V[`${s}.parcel.output_0.id`].hex);
    const objects = new Map([[hx(P.objectAddress(hopBytes)), hopBytes], [hx(P.objectAddress(idBytes)), idBytes]]);
    const got = P.resolveManifest(m, objects, hx);
    assert.equal(hx(encode('Hop', got.hops[0])), V[`${s}.parcel.hop`].hex);
    P.verifyHop(got.hops[0], got.signers[0]);
    assert.throws(() => P.resolveManifest(m, new Map(), hx), /Missing/);
    // The owned put carries the hop sealed under the parcel id; its write verifies for the
    // slot its entry names, owned by the holder's slot owner (not its device id), §5.6, §15.2.
    expect(`${s}.slot.device_slots_owner(a)`, P.deviceSlotsOwner(id));
    const anchor = P.anchorSlot(id, fill(1));
    expect(`${s}.slot.anchor_slot(a, parent 01..)`, concat(anchor.owner, anchor.key));
    // §15.2 kind 2: the authority (here a's own key) owns the recovery owner, and a's slots
    // because a admitted it; another signer owns neither.
    const tomb = P.recoveryOwner(id.genesis, id.public_key);
    expect(`${s}.slot.recovery_owner(a's genesis, authority a)`, tomb);
    const authAdm = decode('Admission', bytes(`${s}.slot.admission(authority a, device a)`));
    covered.add(`${s}.slot.admission(authority a, device a)`);
    assert.equal(authAdm.kind, 2);
    assert.ok(P.admits(authAdm, id.public_key, tomb) && P.admits(authAdm, id.public_key, P.deviceSlotsOwner(id)));
    const stranger = { ...id.public_key, key: id.public_key.key.map((x, i) => (i === 0 ? x ^ 1 : x)) };
    assert.ok(!P.admits(authAdm, stranger, tomb) && !P.admits(authAdm, stranger, P.deviceSlotsOwner(id)));
    // §5.6 "Lineage objects at the nodes": sealed under the object's own address, at a
    // locator derived from it.
    const hopAddr = P.objectAddress(hopBytes);
    expect(`${s}.sealed_object.locator(hop)`, concat(H('SealedObjectLocator'), H('SealedObjectLocator', hopAddr)));
    assert.equal(hx(P.openSealed('SealedObject', hopAddr, bytes(`${s}.sealed_object(hop)`))), V[`${s}.parcel.hop`].hex);
    covered.add(`${s}.sealed_object(hop)`);
    const put = decode('OwnedPut', bytes(`${s}.slot.owned_put(hop)`));
    assert.equal(hx(put.body), V[`${s}.parcel.sealed_hop`].hex);
    covered.add(`${s}.parcel.sealed_hop`);
    assert.equal(hx(P.openSealed('ParcelSeal', st.inputs[0], put.body)), V[`${s}.parcel.hop`].hex);
    const e = put.write.entries[0];
    assert.ok(equal(e.owner, P.deviceSlotsOwner(id)));
    assert.ok(!equal(e.owner, O.deviceId(id)), 'the slot owner is not the device id');
    assert.equal(put.write.admission.kind, 6);
    // The write claims the consumed parcel's own slot: (holder, H(ParcelSlot, P)), §5.6.
    assert.ok(equal(e.key, H('ParcelSlot', st.inputs[0])), 'the slot key is H(ParcelSlot, P)');
    assert.equal(P.verifyOwnedPut(put, e.owner, e.key), true);
    assert.throws(() => P.verifyOwnedPut(put, e.owner, fill(9)), /NotCovered/);
    // b0x read: message, signature and the addresses it names.
    const read = decode('B0xRead', bytes(`${s}.b0x.read`));
    assert.ok(equal(read.owner, P.deviceSlotsOwner(id)), 'a read names the slot owner, not the device id');
    assert.equal(read.access.admission.kind, 6);
    expect(`${s}.b0x.read.message(127.0.0.1:7800,list)`, P.b0xReadMessage('127.0.0.1:7800', 1, { owner: read.owner, entries: read.entries }));
    const addrs = P.verifyB0xRead(read, '127.0.0.1:7800', 1);
    assert.deepEqual(addrs.map(hx), [hx(H('B0xAddress', read.owner)), hx(H('B0xRelationship', fill(9), read.owner))]);
    assert.equal(read.entries[0].cursor, 5n);
    assert.throws(() => P.verifyB0xRead(read, '127.0.0.1:7800', 2), /Signature/);
    assert.throws(() => P.verifyB0xRead(read, '127.0.0.1:7801', 1), /Signature/);
    assert.throws(() => P.verifyB0xRead({ ...read, entries: [read.entries[1], read.entries[0]] }, '127.0.0.1:7800', 1), /Entries/);
    assert.throws(() => P.verifyB0xRead({ ...read, owner: fill(3) }, '127.0.0.1:7800', 1), /NotAdmitted/);
    // A device admission (kind 1) proves the device id, from which no address derives:
    // refused even for a scope it proves (the signature is not reached).
    const kind1 = { ...read.access.admission, kind: 1, genesis: id.genesis };
    assert.throws(() => P.verifyB0xRead({ ...read, owner: O.deviceId(id), access: { ...read.access, admission: kind1 } }, '127.0.0.1:7800', 1), /NotAdmitted/);
  });
}

test('every vector line is covered by a test above', () => {
  const missing = VECTORS.map((v) => v.name).filter((n) => !covered.has(n));
  assert.deepEqual(missing, []);
});
