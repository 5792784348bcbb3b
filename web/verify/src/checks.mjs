/**
 * The per-party checks of the acceptance predicate, PROTOCOL.md §7.3 (checks 3–8), shared
 * by receipts, lone signed proposals, refusals (§7.5–§7.7) and Tripwire evidence (§8).
 * A `Run` records each check by its number and party, in order; after the first failure
 * every later check is recorded as skipped, so the first failure is the error reported.
 */
import { equal, compare, isZero, u128beToBigInt, bigIntToU128be, bytesToHex } from './bytes.mjs';
import { encode } from './codec.mjs';
import { verifySmt, rootAfterSet, SmtError } from './smt.mjs';
import { verifySignature } from './sig.mjs';
import {
  deviceId, relationshipKey, genesisTip, childTip, releaseTip, headDigest,
  proposalCommit, acceptanceCommit, refusalCommit, outputId,
} from './objects.mjs';
import { ENUMS } from './schema.mjs';

const KIND = ENUMS.TransitionKind;
const U128_MAX = (1n << 128n) - 1n;

export class CheckFail extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.code = code; this.detail = message; }
}
const fail = (code, message) => { throw new CheckFail(code, message); };

export class Run {
  constructor() { this.checks = []; this.failed = null; }
  /** Run check `id` for `party` (or null) unless an earlier one failed. */
  check(id, party, name, fn) {
    const entry = { id, party, name, status: 'skipped' };
    this.checks.push(entry);
    if (this.failed) return undefined;
    try {
      const v = fn();
      entry.status = 'pass';
      return v;
    } catch (e) {
      entry.status = 'fail';
      entry.error = e instanceof CheckFail || e.name === 'DecodeError' || e instanceof SmtError
        ? { code: e.code, message: e.message }
        : { code: 'Internal', message: String(e && e.message) };
      this.failed = entry;
      return undefined;
    }
  }
  get ok() { return this.failed === null; }
}

/** §7.3 check 3 (the step alone): amount > 0, sender ≠ receiver, relationship key. */
export function checkStep(step) {
  if (isZero(step.amount)) fail('ZeroAmount', 'the step moves nothing');
  if (equal(step.sender, step.receiver)) fail('SelfTransfer', 'sender and receiver are one device');
  if (!equal(step.relationship, relationshipKey(step.sender, step.receiver))) fail('RelationshipMismatch', 'relationship is not relationship_key(sender, receiver)');
}

/** §7.3 check 3b: the proposal's parcel statement fits the step. */
export function checkParcels(step, parcels) {
  if (!equal(parcels.holder, step.sender)) fail('Parcels', 'is not held by the sender');
  let toReceiver = 0n;
  for (const o of parcels.outputs) {
    if (equal(o.to, step.receiver)) toReceiver += u128beToBigInt(o.amount);
    else if (!equal(o.to, step.sender)) fail('Parcels', 'pays a device other than the sender or the receiver');
  }
  if (toReceiver !== u128beToBigInt(step.amount)) fail('Parcels', 'does not pay the receiver exactly the step\'s amount');
}

/** §7.3 check 4: device binding. */
export function checkBinding(party, identity, stepParty, parent, child) {
  const id = deviceId(identity);
  if (!equal(id, stepParty)) fail('DeviceBinding', `${party}: the identity does not derive the step's ${party}`);
  if (!equal(parent.device, id)) fail('DeviceBinding', `${party}: the parent head is another device's`);
  if (!equal(child.device, id)) fail('DeviceBinding', `${party}: the child head is another device's`);
  return id;
}

/** §7.3 check 5: adjacency of the two heads, with the expected kind and cause. */
export function checkAdjacency(party, parent, child, kind, cause) {
  if (!equal(child.parent, headDigest(parent))) fail('NotAdjacent', `${party}: child.parent is not the parent head's digest`);
  if (parent.height === (1n << 64n) - 1n || child.height !== parent.height + 1n) fail('NotAdjacent', `${party}: height does not increase by one`);
  if (child.kind !== kind) fail('NotAdjacent', `${party}: child head kind ${child.kind}, expected ${kind}`);
  if (!equal(child.cause, cause)) fail('NotAdjacent', `${party}: child.cause is not the expected ${kind === KIND.DEBIT || kind === KIND.CREDIT ? 'child tip' : 'release tip'}`);
}

/**
 * §7.3 check 6: the proof verifies under parent.smt_root; the leaf held there (the genesis
 * tip when absent) is where the move `mv` starts — `mv.from` (null = the step's parent tip),
 * or, for a move that stays (`mv.stays`, §7.6 loser, §7.7 behind), any tip not in
 * `mv.stays`; setting the leaf to `mv.to` (or, staying, to the held leaf) gives
 * child.smt_root.
 */
export function checkTree(party, step, proof, parent, child, mv) {
  let found;
  try {
    found = verifySmt(proof, step.relationship, parent.smt_root);
  } catch (e) {
    if (e instanceof SmtError) fail('Proof', `${party}: ${e.code}`);
    throw e;
  }
  const held = found.present ? found.value : genesisTip(step.relationship);
  let newLeaf;
  if (mv.stays) {
    if (mv.stays.some((t) => equal(t, held))) fail('TipNotCurrent', party);
    newLeaf = held;
  } else {
    if (!equal(held, mv.from ?? step.parent_tip)) fail('TipNotCurrent', party);
    newLeaf = mv.to;
  }
  if (!equal(rootAfterSet(proof, step.relationship, newLeaf), child.smt_root)) fail('RootMismatch', party);
}

/** §7.3 check 7: child balances = parent balances ∓ amount in token, others unchanged. */
export function checkBalances(party, parent, child, token, amount, sign) {
  const list = parent.balances.map((b) => ({ token: b.token, amount: u128beToBigInt(b.amount) }));
  const a = u128beToBigInt(amount);
  const i = list.findIndex((b) => equal(b.token, token));
  if (sign < 0) {
    if (i < 0 || list[i].amount < a) fail('Balance', `${party}: Insufficient`);
    list[i].amount -= a;
    if (list[i].amount === 0n) list.splice(i, 1);
  } else if (sign > 0) {
    if (i >= 0) {
      if (list[i].amount + a > U128_MAX) fail('Balance', `${party}: Overflow`);
      list[i].amount += a;
    } else {
      if (list.length >= 64) fail('Balance', `${party}: TooManyTokens`);
      list.push({ token, amount: a });
      list.sort((x, y) => compare(x.token, y.token));
    }
  }
  const expect = encode('DeviceHead', { ...child, balances: list.map((b) => ({ token: b.token, amount: bigIntToU128be(b.amount) })) });
  if (!equal(expect, encode('DeviceHead', child))) fail('BalanceMismatch', party);
}

/** §7.3 check 8. */
export function checkSignature(party, identity, signature, digest) {
  const r = verifySignature(identity.public_key, signature, digest);
  if (!r.ok) fail('Signature', `${party}: ${r.reason}`);
}

/**
 * The sender's half (checks 3, 3a, 3b, 4, 5, 6, 7, 8) of a signed proposal.
 * Returns { tip, commit } (computed even when a check failed, for callers that need them).
 */
export function senderHalf(run, sp) {
  const p = sp.proposal;
  const step = p.step;
  const tip = childTip(step);
  const commit = proposalCommit(p);
  run.check('3', null, 'step: amount > 0, sender ≠ receiver, relationship key', () => checkStep(step));
  run.check('3a', 'sender', 'step names the sender\'s parent head', () => {
    if (!equal(step.sender_parent_head, headDigest(p.sender_parent_head))) fail('NotAdjacent', 'sender: step.sender_parent_head is not the parent head\'s digest');
  });
  run.check('3b', 'sender', 'parcel statement fits the step', () => checkParcels(step, p.parcels));
  run.check('4', 'sender', 'device binding', () => checkBinding('sender', p.sender, step.sender, p.sender_parent_head, p.sender_child_head));
  run.check('5', 'sender', 'adjacency (DEBIT, cause = child tip)', () => checkAdjacency('sender', p.sender_parent_head, p.sender_child_head, KIND.DEBIT, tip));
  run.check('6', 'sender', 'tree proof, current tip, new root', () => checkTree('sender', step, p.sender_proof, p.sender_parent_head, p.sender_child_head, { from: null, to: tip }));
  run.check('7', 'sender', 'balances debited', () => checkBalances('sender', p.sender_parent_head, p.sender_child_head, step.token, step.amount, -1));
  run.check('8', 'sender', 'signature over the proposal commit', () => checkSignature('sender', p.sender, sp.signature, commit));
  return { tip, commit };
}

/**
 * §7.3 check 5b: how a receiver's answer moves its leaf. `leaf` is the answer's own new leaf
 * (the child tip for an acceptance, the release tip for a refusal). Returns the move for
 * checkTree — { from (null: the step's parent tip), to, cause }, or { stays: [barred tips],
 * cause } when the leaf stays — after the §7.6 table for a `crossing` or the §7.7 table for
 * `behind`.
 */
export function answerMove(step, leaf, isRefusal, crossing, behind) {
  if (behind.length > 0) {
    if (!isRefusal) fail('Queue', 'is named by an answer that is not a refusal');
    if (crossing) fail('Queue', 'is named together with a crossing');
    if (behind.length > 3) fail('Queue', 'is longer than a queue can be');
    for (const b of behind) {
      let valid = true;
      try { checkStep(b); } catch { valid = false; }
      if (!valid || !equal(b.relationship, step.relationship) || !equal(b.sender, step.sender) || !equal(b.receiver, step.receiver)) {
        fail('Queue', 'holds a step that is not a valid one of the same sender to the same receiver');
      }
    }
    for (let i = 0; i < behind.length; i++) {
      const next = i + 1 < behind.length ? behind[i + 1].parent_tip : step.parent_tip;
      if (!equal(childTip(behind[i]), next)) fail('Queue', 'does not lead to the proposal');
    }
    // The queue's path: the tips from which a step of it could still be accepted.
    const path = [behind[0].parent_tip, ...behind.map(childTip), step.parent_tip, childTip(step)];
    return { stays: path, cause: leaf };
  }
  if (!crossing) return { from: null, to: leaf, cause: leaf };
  if (!equal(crossing.relationship, step.relationship) || !equal(crossing.parent_tip, step.parent_tip)
    || !equal(crossing.sender, step.receiver) || !equal(crossing.receiver, step.sender)) {
    fail('Crossing', 'does not cross the proposal');
  }
  try { checkStep(crossing); } catch { fail('Crossing', 'is not a valid step'); }
  const own = childTip(crossing);
  if (compare(childTip(step), own) < 0) return { from: releaseTip(own), to: leaf, cause: leaf };
  if (!isRefusal) fail('Crossing', 'won against the proposal, which can then only be refused');
  return { stays: [step.parent_tip], cause: leaf };
}

/** The receiver's half of a receipt, in §7.3's order: 5a, 5b, 4, 5, 6, 7, 8. */
export function receiverHalf(run, step, tip, pCommit, sa) {
  const a = sa.acceptance;
  const commit = acceptanceCommit(a);
  run.check('5a', 'receiver', 'acceptance names the proposal commit', () => {
    if (!equal(a.proposal_commit, pCommit)) fail('NotAdjacent', 'receiver: acceptance.proposal_commit is not the proposal\'s commit');
  });
  const mv = run.check('5b', 'receiver', 'crossing (§7.6), if named', () => answerMove(step, tip, false, a.crossing, []));
  run.check('4', 'receiver', 'device binding', () => checkBinding('receiver', a.receiver, step.receiver, a.receiver_parent_head, a.receiver_child_head));
  run.check('5', 'receiver', 'adjacency (CREDIT, cause = child tip)', () => checkAdjacency('receiver', a.receiver_parent_head, a.receiver_child_head, KIND.CREDIT, mv.cause));
  run.check('6', 'receiver', 'tree proof, current tip, new root', () => checkTree('receiver', step, a.receiver_proof, a.receiver_parent_head, a.receiver_child_head, mv));
  run.check('7', 'receiver', 'balances credited', () => checkBalances('receiver', a.receiver_parent_head, a.receiver_child_head, step.token, step.amount, +1));
  run.check('8', 'receiver', 'signature over the acceptance commit', () => checkSignature('receiver', a.receiver, sa.signature, commit));
  return { commit };
}

/** §7.5 ParcelStatement::refund(proposal): the receiver's outputs, each back to the sender whole. */
export function refundOf(proposal, pCommit) {
  const { parcels, step } = proposal;
  const ins = [];
  parcels.outputs.forEach((o, i) => { if (equal(o.to, step.receiver)) ins.push({ id: outputId(pCommit, i), amount: o.amount }); });
  ins.sort((x, y) => compare(x.id, y.id));
  return {
    holder: step.receiver,
    inputs: ins.map((x) => x.id),
    outputs: ins.map((x, i) => ({ input: i, to: step.sender, amount: x.amount })),
  };
}

/**
 * The receiver's half of a refusal (§7.5, with §7.6 crossing and §7.7 behind), given the
 * refused proposal whose sender half was verified.
 */
export function refusalHalf(run, proposal, pCommit, tip, sr) {
  const r = sr.refusal;
  const step = proposal.step;
  const rel = releaseTip(tip);
  const commit = refusalCommit(r);
  run.check('R1', 'receiver', 'refusal gives the receiver\'s outputs back to the sender', () => {
    if (!equal(encode('ParcelStatement', r.parcels), encode('ParcelStatement', refundOf(proposal, pCommit)))) {
      fail('Parcels', 'of the refusal does not give the receiver\'s outputs back to the sender');
    }
    if (r.refused_input !== undefined && !proposal.parcels.inputs.some((x) => equal(x, r.refused_input))) {
      fail('Parcels', 'named by the refusal is not an input of the proposal');
    }
  });
  run.check('5a', 'receiver', 'refusal names the proposal commit', () => {
    if (!equal(r.proposal_commit, pCommit)) fail('NotAdjacent', 'receiver: refusal.proposal_commit is not the proposal\'s commit');
  });
  const mv = run.check('5b', 'receiver', 'crossing (§7.6) or queue (§7.7), if named', () => answerMove(step, rel, true, r.crossing, r.behind));
  run.check('4', 'receiver', 'device binding', () => checkBinding('receiver', r.receiver, step.receiver, r.receiver_parent_head, r.receiver_child_head));
  run.check('5', 'receiver', 'adjacency (REFUSE, cause = release tip)', () => checkAdjacency('receiver', r.receiver_parent_head, r.receiver_child_head, KIND.REFUSE, mv.cause));
  run.check('6', 'receiver', 'tree proof, current tip, new root', () => checkTree('receiver', step, r.receiver_proof, r.receiver_parent_head, r.receiver_child_head, mv));
  run.check('7', 'receiver', 'balances unchanged', () => checkBalances('receiver', r.receiver_parent_head, r.receiver_child_head, step.token, step.amount, 0));
  run.check('8', 'receiver', 'signature over the refusal commit', () => checkSignature('receiver', r.receiver, sr.signature, commit));
  return { commit };
}

export const hex = bytesToHex;
