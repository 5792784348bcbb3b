// Non-canonical and out-of-domain encodings are refused with the rule's error
// (PROTOCOL.md §3 rules 1–8 and the size caps); hand-made cases per rule. Rule 9
// (NotCanonical) is unreachable when 1–8 are enforced, so no input here reaches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../src/codec.mjs';
import { hexToBytes, concat, u128beToBigInt, bigIntToU128be } from '../src/bytes.mjs';
import { verifyReceipt } from '../src/receipt.mjs';
import { bytes } from '../testlib/vectors.mjs';

const refused = (type, b, code, re) => {
  assert.throws(() => decode(type, b), (e) => {
    assert.equal(e.name, 'DecodeError', String(e));
    assert.equal(e.code, code, `${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
};
const h = hexToBytes;
const b32 = (x) => new Uint8Array(32).fill(x);
const leaf = (k, v) => concat(h('0a20'), b32(k), h('1220'), b32(v)); // SmtLeaf{1: k, 2: v}

test('a canonical SmtLeaf decodes (baseline for the hand-made cases)', () => {
  assert.deepEqual(decode('SmtLeaf', leaf(1, 2)).key, b32(1));
});

test('rule 1: only wire types 0 and 2; field number 0 is invalid', () => {
  refused('SmtLeaf', concat(h('0d'), h('00000000')), 'WireType'); // field 1, wire type 5
  refused('SmtLeaf', concat(h('09'), new Uint8Array(8)), 'WireType'); // wire type 1
  refused('SmtLeaf', concat(h('0b'), h('0c')), 'WireType'); // group start
  refused('SmtLeaf', concat(h('0220'), b32(1)), 'WireType', /field number 0/);
  refused('SmtLeaf', concat(h('08'), h('01'), h('1220'), b32(2)), 'WireType'); // bytes field as varint
});

test('rule 2: strictly ascending fields, repeated consecutive, non-repeated at most once', () => {
  // The required key (1) is passed over when field 2 comes first: Missing (§3 precedence).
  refused('SmtLeaf', concat(h('1220'), b32(2), h('0a20'), b32(1)), 'Missing');
  refused('SmtLeaf', concat(h('0a20'), b32(1), h('0a20'), b32(1), h('1220'), b32(2)), 'UnexpectedField', /repeated/);
  // A field after the schema's last one: read after the message's fields, still refused.
  refused('SmtLeaf', concat(leaf(1, 2), h('1220'), b32(2)), 'UnexpectedField', /after the last field/);
  // SmtProof: siblings, terminal, then another sibling (repeated field not consecutive).
  const sib = concat(h('0a20'), b32(3));
  refused('SmtProof', concat(sib, h('1244'), leaf(1, 2), sib), 'UnexpectedField');
});

test('rule 3: explicit zero scalars and empty bytes are DefaultPresent', () => {
  const head = decode('DeviceHead', bytes('ml-dsa-65.a.initial_head'));
  const enc = encode('DeviceHead', head); // height 0 and kind CREATE are omitted
  const afterParent = 2 + 32; // 0a20 device
  // insert "10 00" (height = 0) after field 1
  refused('DeviceHead', concat(enc.subarray(0, afterParent), h('1000'), enc.subarray(afterParent)), 'DefaultPresent');
  // kind = CREATE (0) written explicitly before field 7
  const cause = enc.length - 34;
  refused('DeviceHead', concat(enc.subarray(0, cause), h('3000'), enc.subarray(cause)), 'DefaultPresent');
  // an empty bytes field: Refusal-free example, PublicKey with an explicit empty key
  refused('PublicKey', h('08011200'), 'DefaultPresent');
  // an explicit empty optional bytes32 (LineageManifest.verified)
  const m = bytes('ml-dsa-65.parcel.manifest');
  refused('LineageManifest', concat(m.subarray(0, 68), h('1a00'), m.subarray(68)), 'DefaultPresent');
});

test('rule 4: minimal varints, at most 10 bytes, no 64-bit overflow', () => {
  refused('SmtLeaf', concat(h('8a00'), h('20'), b32(1), h('1220'), b32(2)), 'NonMinimalVarint'); // tag 0x0a as 2 bytes
  refused('SmtLeaf', concat(h('0aa000'), b32(1), h('1220'), b32(2)), 'NonMinimalVarint'); // length 32 as 2 bytes
  const head = (v) => concat(h('0a20'), b32(1), h('10'), h(v), h('1a20'), b32(0), h('2220'), b32(0), h('3a20'), b32(0));
  assert.equal(decode('DeviceHead', head('01')).height, 1n);
  assert.equal(decode('DeviceHead', head('ffffffffffffffffff01')).height, (1n << 64n) - 1n);
  refused('DeviceHead', head('ffffffffffffffffff02'), 'NonMinimalVarint', /overflows/);
  refused('DeviceHead', head('ffffffffffffffffffff01'), 'NonMinimalVarint', /longer than 10/);
  refused('DeviceHead', head('8180808000'), 'NonMinimalVarint');
});

test('rule 5: exact lengths of bytes32 and u128be; required fields present', () => {
  refused('SmtLeaf', concat(h('0a1f'), b32(1).subarray(1), h('1220'), b32(2)), 'Length');
  refused('SmtLeaf', concat(h('0a21'), b32(1), h('01'), h('1220'), b32(2)), 'Length');
  refused('Balance', concat(h('0a20'), b32(1), h('120f'), new Uint8Array(15).fill(1)), 'Length');
  refused('SmtLeaf', concat(h('0a20'), b32(1)), 'Missing');
  const id = decode('DeviceIdentity', bytes('ml-dsa-65.a.identity'));
  refused('DeviceIdentity', encode('DeviceIdentity', { ...id, public_key: undefined }), 'Missing');
  // suite-exact key and signature lengths (rule 8, Length)
  refused('PublicKey', concat(h('080212'), h('1f'), b32(1).subarray(1)), 'Length');
  refused('DeviceIdentity', encode('DeviceIdentity', { ...id, public_key: { suite: 1, key: id.public_key.key.subarray(1) } }), 'Length');
});

test('rule 6: a required sub-message is written even when its encoding is empty', () => {
  const r = decode('Receipt', bytes('ml-dsa-65.ab.receipt'));
  const a = r.acceptance.acceptance;
  assert.equal(a.receiver_proof.siblings.length, 0); // the receiver's tree is empty: an empty proof
  assert.equal(encode('SmtProof', a.receiver_proof).length, 0);
  refused('Acceptance', encode('Acceptance', { ...a, receiver_proof: undefined }), 'Missing');
});

test('rule 7: no unknown fields, no trailing bytes, nothing truncated', () => {
  refused('SmtLeaf', concat(leaf(1, 2), h('1801')), 'UnexpectedField');
  refused('SmtLeaf', concat(leaf(1, 2), h('00')), 'WireType'); // a trailing 0 is field 0's key
  refused('SmtLeaf', concat(h('0a20'), b32(1), h('1221'), b32(2)), 'Truncated');
  refused('SmtLeaf', leaf(1, 2).subarray(0, 60), 'Truncated');
  const r = bytes('ml-dsa-65.ab.receipt');
  refused('Receipt', concat(r, h('00')), 'WireType');
  refused('Receipt', r.subarray(0, r.length - 1), 'Truncated');
});

test('rule 8: domain rules (suites, sorted lists, non-zero amounts, shapes)', () => {
  refused('PublicKey', concat(h('08031220'), b32(1)), 'Invalid', /unknown SuiteId/);
  refused('PublicKey', concat(h('087f1220'), b32(1)), 'Invalid', /unknown SuiteId/); // insecure-test suite
  refused('PublicKey', concat(h('1220'), b32(1)), 'Invalid', /suite absent/); // absent reads as 0, an unknown suite
  refused('Balance', concat(h('0a20'), b32(1), h('1210'), new Uint8Array(16)), 'Invalid', /zero/);
  const head = decode('DeviceHead', bytes('ml-dsa-65.a.funded_head'));
  const bal = head.balances[0];
  refused('DeviceHead', encode('DeviceHead', { ...head, balances: [bal, bal] }), 'Invalid', /ascending/);
  refused('DeviceHead', encode('DeviceHead', { ...head, kind: 9 }), 'Invalid', /TransitionKind/);
  const rec = decode('GenesisRecord', bytes('ml-dsa-65.a.genesis_record'));
  refused('GenesisRecord', encode('GenesisRecord', { ...rec, contributions: [...rec.contributions].reverse() }), 'Invalid', /ascending/);
  refused('GenesisRecord', encode('GenesisRecord', { ...rec, contributions: [] }), 'Invalid');
  refused('SmtProof', encode('SmtProof', { siblings: Array.from({ length: 257 }, () => b32(1)) }), 'TooMany', /256/);
  // ParcelStatement (§5.6 "Decoding refuses")
  const st = decode('ParcelStatement', bytes('ml-dsa-65.parcel.statement'));
  const o = st.outputs;
  refused('ParcelStatement', encode('ParcelStatement', { ...st, inputs: [] }), 'Invalid', /no input/);
  refused('ParcelStatement', encode('ParcelStatement', { ...st, inputs: [b32(2), b32(1)], outputs: [o[0], o[1], { ...o[0], input: 1 }] }), 'Invalid', /inputs not strictly/);
  refused('ParcelStatement', encode('ParcelStatement', { ...st, outputs: [o[1], o[0]] }), 'Invalid', /outputs not strictly/);
  refused('ParcelStatement', encode('ParcelStatement', { ...st, outputs: [o[0], o[1], { ...o[1], input: 1 }] }), 'Invalid', /names no input/);
  refused('ParcelStatement', encode('ParcelStatement', { ...st, outputs: [] }), 'Invalid', /zero or more than two/);
  const third = { ...o[1], to: b32(0xff) };
  refused('ParcelStatement', encode('ParcelStatement', { ...st, outputs: [o[0], o[1], third] }), 'Invalid', /zero or more than two/);
  refused('ParcelStatement', encode('ParcelStatement', { ...st, outputs: [{ ...o[0], amount: new Uint8Array(16) }, o[1]] }), 'Invalid', /zero amount/);
  // LineageManifest
  const m = decode('LineageManifest', bytes('ml-dsa-65.parcel.manifest'));
  refused('LineageManifest', encode('LineageManifest', { ...m, verified: b32(1) }), 'Invalid', /exactly one/);
  refused('LineageManifest', encode('LineageManifest', { ...m, root: undefined }), 'Invalid', /exactly one/);
  refused('LineageManifest', encode('LineageManifest', { ...m, signers: [b32(2), b32(1)] }), 'Invalid', /signers/);
  refused('LineageManifest', encode('LineageManifest', { ...m, root: undefined, verified: b32(1), consumed: [m] }), 'Invalid', /consumed/);
  let deep = m;
  for (let i = 0; i < 4; i++) deep = { ...m, consumed: [deep] };
  assert.doesNotThrow(() => decode('LineageManifest', encode('LineageManifest', deep))); // 4 deep
  refused('LineageManifest', encode('LineageManifest', { ...m, consumed: [deep] }), 'Invalid', /4 deep/);
  // Refusal.behind ≤ 3 (TooMany { field: 10 })
  const sr = decode('SignedRefusal', bytes('ml-dsa-65.queue.second_refusal'));
  const b = sr.refusal.behind[0];
  refused('SignedRefusal', encode('SignedRefusal', { ...sr, refusal: { ...sr.refusal, behind: [b, b, b, b] } }), 'TooMany');
  // Statement / EquivocationProof shapes and orders
  const ep = decode('EquivocationProof', bytes('ml-dsa-65.a.equivocation_proof'));
  refused('EquivocationProof', encode('EquivocationProof', { first: ep.second, second: ep.first }), 'Invalid', /order/);
  refused('EquivocationProof', encode('EquivocationProof', { first: ep.first }), 'Invalid', /two statements or one parcel fork/);
  const fp = decode('EquivocationProof', bytes('ml-dsa-65.parcel.fork_proof'));
  refused('EquivocationProof', encode('EquivocationProof', { ...ep, parcel_fork: fp.parcel_fork }), 'Invalid', /two statements or one parcel fork/);
  const rc = decode('Receipt', bytes('ml-dsa-65.ab.receipt'));
  refused('Statement', encode('Statement', { proposal: rc.proposal, acceptance: rc.acceptance }), 'Invalid', /exactly one/);
  refused('Statement', new Uint8Array(0), 'Invalid', /exactly one/);
  const pf = fp.parcel_fork;
  refused('ParcelFork', encode('ParcelFork', { ...pf, first: pf.second, second: pf.first }), 'Invalid', /ascending by commit/);
  refused('ParcelFork', encode('ParcelFork', { ...pf, second: pf.first }), 'Invalid', /ascending by commit/);
  refused('EquivocationProof', encode('EquivocationProof', { first: ep.first, second: ep.first }), 'Invalid', /order/);
  // Admission kinds
  refused('Admission', encode('Admission', { kind: 7, genesis: b32(1) }), 'Invalid', /kind/);
  refused('Admission', encode('Admission', { kind: 6, genesis: b32(1) }), 'UnexpectedField', /before field 8/);
  refused('Admission', encode('Admission', { kind: 6 }), 'Missing', /genesis_blind/);
  refused('Admission', encode('Admission', { kind: 1, genesis: b32(1), parties: [b32(1)] }), 'UnexpectedField', /after the last field/);
  refused('Admission', encode('Admission', { kind: 2, genesis: b32(1), genesis_blind: b32(1) }), 'UnexpectedField', /field 2 before field 4/);
  refused('Admission', concat(h('0802'), h('1a00'), h('4220'), b32(1)), 'UnexpectedField', /field 3/); // the genesis record kinds 2 and 4 showed until 2026-12-06
  const auth = decode('Admission', bytes('ml-dsa-65.slot.admission(authority a, device a)'));
  refused('Admission', encode('Admission', { ...auth, device_admission: undefined }), 'Invalid', /go together/);
  refused('Admission', encode('Admission', { ...auth, device: undefined }), 'Invalid', /go together/);
  refused('Admission', encode('Admission', { ...auth, kind: 4 }), 'Missing', /delegation/);
  refused('Admission', encode('Admission', { kind: 1 }), 'Missing', /genesis/);
  refused('Admission', encode('Admission', { kind: 3 }), 'Invalid', /no admitted/);
  refused('Admission', encode('Admission', { kind: 3, admitted: Array.from({ length: 17 }, (_, i) => b32(i)) }), 'TooMany');
  refused('Admission', encode('Admission', { kind: 5, parties: [b32(2), b32(1)], genesis_blind: b32(1) }), 'Invalid', /ascending/);
  refused('Admission', encode('Admission', { kind: 5, genesis: b32(1), parties: [b32(1)], genesis_blind: b32(1) }), 'UnexpectedField', /field 2 before field 7/); // the genesis kind 5 showed until 2026-12-06
});

test('size caps are checked before parsing (TooLarge)', () => {
  refused('Receipt', new Uint8Array(131073), 'TooLarge');
  refused('DeviceHead', new Uint8Array(4041), 'TooLarge');
  refused('SmtProof', new Uint8Array(9061), 'TooLarge');
  refused('GenesisRecord', new Uint8Array(8193), 'TooLarge');
  refused('EquivocationProof', new Uint8Array(262161), 'TooLarge');
  const r = verifyReceipt(new Uint8Array(131073));
  assert.equal(r.error.check, '1');
  assert.equal(r.checks[1].status, 'skipped');
});

test('predicate checks 3–8 each refuse with their own error (re-encoded, so decoding passes)', () => {
  const base = decode('Receipt', bytes('ml-dsa-65.ab.receipt'));
  const withStep = (step) => encode('Receipt', { ...base, proposal: { ...base.proposal, proposal: { ...base.proposal.proposal, step } } });
  const st = base.proposal.proposal.step;
  const first = (b) => verifyReceipt(b).error;
  assert.equal(first(withStep({ ...st, amount: new Uint8Array(16) })).code, 'ZeroAmount');
  assert.equal(first(withStep({ ...st, receiver: st.sender })).code, 'SelfTransfer');
  assert.equal(first(withStep({ ...st, relationship: b32(1) })).code, 'RelationshipMismatch');
  assert.equal(first(withStep({ ...st, sender_parent_head: b32(1) })).check, '3a');
  const more = bigIntToU128be(u128beToBigInt(st.amount) + 1n);
  assert.deepEqual([first(withStep({ ...st, amount: more })).check, first(withStep({ ...st, amount: more })).code], ['3b', 'Parcels']);
  // receiver signature swapped for the sender's: check 8 (receiver)
  const sw = encode('Receipt', { ...base, acceptance: { ...base.acceptance, signature: base.proposal.signature } });
  assert.deepEqual([first(sw).check, first(sw).party, first(sw).code], ['8', 'receiver', 'Signature']);
  // a suite mismatch between key and signature is refused
  const slh = decode('Receipt', bytes('slh-dsa-sha2-128f.ab.receipt'));
  const mix = encode('Receipt', { ...base, acceptance: { ...base.acceptance, signature: slh.acceptance.signature } });
  assert.match(first(mix).message, /suite/);
  // the acceptance of another receipt: 5a
  const cross = decode('Receipt', bytes('ml-dsa-65.cross.receipt'));
  const other = verifyReceipt(encode('Receipt', { ...base, acceptance: cross.acceptance })).error;
  assert.equal(other.party, 'receiver');
});
