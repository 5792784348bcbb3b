/**
 * Test-only builder: the lines of one signature suite, in file order — the scenes of
 * PROTOCOL.md §10 "The fixture": (1) a transfer a → b and a's equivocation, (2) parcels,
 * (3) an owned-slot write and a b0x access, (4) a parcel fork, (5) crossed proposals,
 * (6) a queue refused.
 */
import { H } from '../../src/hash.mjs';
import { encode } from '../../src/codec.mjs';
import { utf8, bigIntToU128be, compare, concat } from '../../src/bytes.mjs';
import * as O from '../../src/objects.mjs';
import * as P from '../../src/parcel.mjs';
import { rootId, b0xReadMessage } from '../../src/parcel.mjs';
import { makeDevice, fund, ceremonyId, TEST_TOKEN } from './device.mjs';
import { propose, accept, refuse, release, proposalEquivocation, apply } from './transfer.mjs';
import { payment, signHop, parcelFork, rootManifest } from './parcels.mjs';
import { ownedPut, b0xRead, seal, authorityAdmission } from './slot.mjs';

/** §10: device a's introduction address after seq 5 and the relationship address of blind 09…09 from 0. */
const B0X_ENTRIES = [{ cursor: 5n }, { blind: new Uint8Array(32).fill(9), cursor: 0n }];
import { msg, raw } from './lines.mjs';

const fill = (b, n = 32) => new Uint8Array(n).fill(b);
const NODE = '127.0.0.1:7800';
const REASON = { OVER_EXPOSURE: 5n, CROSSED: 7n };

/** §10 scene 1: a funded 1,000 pays b 250 (b accepts); from the same head a also proposes 250 to c. */
function sceneTransfer(s, a, b, c) {
  const init = a.head; // §5.3: the initial head, before funding
  fund(a, 1000n);
  const ab = propose(a, b.id, TEST_TOKEN, 250n);
  const acc = accept(b, ab.signed);
  const receipt = { proposal: ab.signed, acceptance: acc.signed };
  const ac = propose(a, c.id, TEST_TOKEN, 250n);
  const k = O.relationshipKey(a.id, b.id);
  return [
    msg(`${s}.a.genesis_record`, 'GenesisRecord', a.record),
    raw(`${s}.a.genesis`, a.genesis),
    raw(`${s}.a.ceremony_id(commitment of contribution 0)`, ceremonyId(a.record, a.record.contributions[0])),
    msg(`${s}.a.identity`, 'DeviceIdentity', a.identity),
    raw(`${s}.a.device_id`, a.id),
    raw(`${s}.b.device_id`, b.id),
    raw(`${s}.ab.relationship_key`, k),
    raw(`${s}.ab.genesis_tip`, O.genesisTip(k)),
    msg(`${s}.a.initial_head`, 'DeviceHead', init),
    raw(`${s}.a.initial_head.digest`, O.headDigest(init)),
    msg(`${s}.a.funded_head`, 'DeviceHead', a.head),
    msg(`${s}.ab.step`, 'RelationshipStep', ab.step),
    raw(`${s}.ab.child_tip`, O.childTip(ab.step)),
    raw(`${s}.ab.proposal_commit`, ab.commit),
    raw(`${s}.ab.acceptance_commit`, O.acceptanceCommit(acc.signed.acceptance)),
    msg(`${s}.ab.receipt`, 'Receipt', receipt),
    raw(`${s}.ab.receipt.digest`, O.receiptDigest(encode('Receipt', receipt))),
    msg(`${s}.a.equivocation_proof`, 'EquivocationProof', proposalEquivocation(ab.signed, ac.signed)),
  ];
}

/**
 * §10 scenes 2–4: a's root parcel of 100 GOLD (once-key 09×32) paid 70 to b and 30 back
 * (rest 01×32), and again 100 to c (rest 02×32); the manifest of output 0, the owned write
 * of the consumed parcel's slot, a's b0x listing, and the parcel fork.
 */
function sceneParcels(s, a, b, c) {
  const root = rootId(fill(9), H('Token', utf8('GOLD')), bigIntToU128be(100n), a.id);
  const statement = payment(a.id, root, 100n, b.id, 70n);
  const hop = signHop(a.key, statement, fill(1));
  const commit = O.transferCommit(O.statementDigest(statement), hop.rest);
  const out0 = O.outputId(commit, 0);
  const hopBytes = encode('Hop', hop);
  const sealedHop = seal('ParcelSeal', root, hopBytes); // §5.6: the slot holds the hop sealed under the parcel id
  const second = signHop(a.key, payment(a.id, root, 100n, c.id, 100n), fill(2));
  const fork = parcelFork(a.identity, hop, second);
  return [
    raw(`${s}.parcel.root_id`, root),
    msg(`${s}.parcel.statement`, 'ParcelStatement', statement),
    raw(`${s}.parcel.statement.digest`, O.statementDigest(statement)),
    raw(`${s}.parcel.commit`, commit),
    raw(`${s}.parcel.output_0.id`, out0),
    msg(`${s}.parcel.hop`, 'Hop', hop),
    msg(`${s}.parcel.manifest`, 'LineageManifest', rootManifest(out0, utf8('vector source'), [hop], [a.identity])),
    raw(`${s}.slot.device_slots_owner(a)`, P.deviceSlotsOwner(a.identity)),
    raw(`${s}.slot.anchor_slot(a, parent 01..)`, concat(P.anchorSlot(a.identity, fill(1)).owner, P.anchorSlot(a.identity, fill(1)).key)),
    raw(`${s}.slot.recovery_owner(a's genesis, authority a)`, P.recoveryOwner(a.identity.genesis, a.identity.public_key)),
    msg(`${s}.slot.admission(authority a, device a)`, 'Admission', authorityAdmission(a)),
    raw(`${s}.sealed_object.locator(hop)`, concat(H('SealedObjectLocator'), H('SealedObjectLocator', O.objectAddress(hopBytes)))),
    raw(`${s}.sealed_object(hop)`, seal('SealedObject', O.objectAddress(hopBytes), hopBytes)),
    raw(`${s}.parcel.sealed_hop`, sealedHop),
    msg(`${s}.slot.owned_put(hop)`, 'OwnedPut', ownedPut(a, [{ owner: P.deviceSlotsOwner(a.identity), key: H('ParcelSlot', root) }], sealedHop, Uint8Array.from({ length: 32 }, (_, i) => i))), // §10: hedged 00 01 … 1f
    raw(`${s}.b0x.read.message(${NODE},list)`, b0xReadMessage(NODE, 1, { owner: P.deviceSlotsOwner(a.identity), entries: B0X_ENTRIES })),
    msg(`${s}.b0x.read`, 'B0xRead', b0xRead(a, NODE, 1, B0X_ENTRIES)),
    msg(`${s}.parcel.fork`, 'ParcelFork', fork),
    msg(`${s}.parcel.fork_proof`, 'EquivocationProof', { first: undefined, second: undefined, parcel_fork: fork }),
  ];
}

/**
 * §10 scene 5 (§7.6): devices 4 and 5, funded 100 each, pay each other 5 and 3 from one
 * tip; the smaller child tip wins; its sender refuses the loser (CROSSED), the loser's
 * sender releases and accepts the winner naming its released step.
 */
function sceneCrossing(s, suite) {
  const [d4, d5] = [makeDevice(suite, 4), makeDevice(suite, 5)];
  fund(d4, 100n);
  fund(d5, 100n);
  const x = propose(d4, d5.id, TEST_TOKEN, 5n);
  const y = propose(d5, d4.id, TEST_TOKEN, 3n);
  apply(d4, x.next);
  apply(d5, y.next);
  const xWins = compare(O.childTip(x.step), O.childTip(y.step)) < 0;
  const [win, lose] = xWins ? [x, y] : [y, x];
  const [winSender, loseSender] = xWins ? [d4, d5] : [d5, d4];
  const refusal = refuse(winSender, lose.signed, REASON.CROSSED, { crossing: win.step });
  apply(winSender, refusal.next);
  apply(loseSender, release(loseSender, lose.step));
  const acc = accept(loseSender, win.signed, lose.step);
  return [
    msg(`${s}.cross.loser_proposal`, 'SignedProposal', lose.signed),
    msg(`${s}.cross.refusal`, 'SignedRefusal', refusal.signed),
    msg(`${s}.cross.receipt`, 'Receipt', { proposal: win.signed, acceptance: acc.signed }),
  ];
}

/**
 * §10 scene 6 (§7.7): device 6, funded 100, queues 5 then 4 to device 7; device 7 refuses
 * the first (OVER_EXPOSURE) and the second behind it.
 */
function sceneQueue(s, suite) {
  const [d6, d7] = [makeDevice(suite, 6), makeDevice(suite, 7)];
  fund(d6, 100n);
  const first = propose(d6, d7.id, TEST_TOKEN, 5n);
  apply(d6, first.next);
  const second = propose(d6, d7.id, TEST_TOKEN, 4n);
  apply(d6, second.next);
  const r1 = refuse(d7, first.signed, REASON.OVER_EXPOSURE);
  apply(d7, r1.next);
  const r2 = refuse(d7, second.signed, REASON.OVER_EXPOSURE, { behind: [first.step] });
  return [
    msg(`${s}.queue.first_proposal`, 'SignedProposal', first.signed),
    msg(`${s}.queue.first_refusal`, 'SignedRefusal', r1.signed),
    msg(`${s}.queue.second_proposal`, 'SignedProposal', second.signed),
    msg(`${s}.queue.second_refusal`, 'SignedRefusal', r2.signed),
  ];
}

/** Every line of suite `suite` (1 or 2) named `s`, in file order. */
export function suiteLines(s, suite) {
  const [a, b, c] = [1, 2, 3].map((n) => makeDevice(suite, n));
  return [...sceneTransfer(s, a, b, c), ...sceneParcels(s, a, b, c), ...sceneCrossing(s, suite), ...sceneQueue(s, suite)];
}
