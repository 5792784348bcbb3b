/**
 * Test-only builder: transfers of PROTOCOL.md §7 on fixture devices (device.mjs) — a
 * proposal (§7.1, §7.2, inputs per §10), an acceptance (§7.1, `crossing` §7.6), a refusal
 * (§7.5, CROSSED §7.6, behind a queue §7.7), the sender's RELEASE (§7.5), and the
 * statement-form equivocation proof (§8.2). Each function returns the signed object and the
 * party's next state ({head, tree}); callers decide whether to apply it (§10's scenes).
 */
import { bigIntToU128be, compare, u128beToBigInt } from '../../src/bytes.mjs';
import { genesisTip, childTip, releaseTip, headDigest, relationshipKey, proposalCommit, acceptanceCommit, refusalCommit, statementHash } from '../../src/objects.mjs';
import { KIND, nextHead } from './device.mjs';
import { addBalance, balanceOf } from './balances.mjs';
import { payment, refund, testParcel } from './parcels.mjs';
import { sign } from './keys.mjs';

/** §5.2: a device's current tip of relationship `k`: its leaf, or genesis_tip(k) without one. */
const currentTip = (device, k) => device.tree.get(k) ?? genesisTip(k);

/** A party's head after a transition that moves leaf `k` to `leaf` (§5.3, §6). */
function moved(device, kind, cause, k, leaf, balances) {
  const tree = device.tree.with(k, leaf);
  return { head: nextHead(device.head, kind, cause, tree.root(), balances), tree };
}

/**
 * §7.1/§7.2: `sender` proposes `amount` (BigInt) of `token` to the device with id `to`, on
 * its current head and tip, paying from its one test parcel (§10 "Inputs").
 * Returns {signed: SignedProposal, proposal, commit, step, next: the sender's {head, tree}}.
 */
export function propose(sender, to, token, amount) {
  const k = relationshipKey(sender.id, to);
  const step = {
    relationship: k, parent_tip: currentTip(sender, k), sender: sender.id, receiver: to,
    token, amount: bigIntToU128be(amount), sender_parent_head: headDigest(sender.head),
  };
  const tip = childTip(step);
  const next = moved(sender, KIND.DEBIT, tip, k, tip, addBalance(sender.head.balances, token, -amount));
  const balance = balanceOf(sender.head.balances, token);
  const proposal = {
    step, sender: sender.identity, sender_parent_head: sender.head, sender_child_head: next.head,
    sender_proof: sender.tree.proof(k),
    parcels: payment(sender.id, testParcel(sender.head, token), balance, to, amount),
  };
  const commit = proposalCommit(proposal);
  return { signed: { proposal, signature: sign(sender.key, commit) }, proposal, commit, step, next };
}

/** §7.1: `receiver` accepts a signed proposal (`crossing`: its released step, §7.6). */
export function accept(receiver, signed, crossing) {
  const { step } = signed.proposal;
  const tip = childTip(step);
  const next = moved(receiver, KIND.CREDIT, tip, step.relationship, tip,
    addBalance(receiver.head.balances, step.token, u128beToBigInt(step.amount)));
  const acceptance = {
    proposal_commit: proposalCommit(signed.proposal), receiver: receiver.identity,
    receiver_parent_head: receiver.head, receiver_child_head: next.head,
    receiver_proof: receiver.tree.proof(step.relationship), crossing,
  };
  return { signed: { acceptance, signature: sign(receiver.key, acceptanceCommit(acceptance)) }, next };
}

/**
 * §7.5–§7.7: the receiver's leaf after refusing `step`: its release tip; after a crossing
 * the answered step lost (§7.6), the crossing's child tip, unchanged; behind a refused
 * step (§7.7), that step's release tip, unchanged.
 */
function leafAfterRefusal(step, crossing, behind) {
  if (behind.length > 0) return releaseTip(childTip(behind[0]));
  if (crossing && compare(childTip(step), childTip(crossing)) > 0) return childTip(crossing);
  return releaseTip(childTip(step));
}

/**
 * §7.5–§7.7: `receiver` refuses a signed proposal with `reason` (BigInt): the REFUSE head
 * (cause the step's release tip, balances unchanged), the refund statement, `refused_input`
 * absent (§10 "Refusing"), `crossing` and `behind` as named.
 */
export function refuse(receiver, signed, reason, { crossing, behind = [] } = {}) {
  const p = signed.proposal;
  const k = p.step.relationship;
  const next = moved(receiver, KIND.REFUSE, releaseTip(childTip(p.step)), k, leafAfterRefusal(p.step, crossing, behind), receiver.head.balances);
  const commit = proposalCommit(p);
  const refusal = {
    proposal_commit: commit, receiver: receiver.identity,
    receiver_parent_head: receiver.head, receiver_child_head: next.head,
    receiver_proof: receiver.tree.proof(k), reason,
    parcels: refund(p.parcels, commit, p.step.sender, p.step.receiver),
    refused_input: undefined, crossing, behind,
  };
  return { signed: { refusal, signature: sign(receiver.key, refusalCommit(refusal)) }, next };
}

/** §7.5: the sender's RELEASE head for its refused `step`: leaf → release tip, amount back. */
export function release(sender, step) {
  const rt = releaseTip(childTip(step));
  return moved(sender, KIND.RELEASE, rt, step.relationship, rt,
    addBalance(sender.head.balances, step.token, u128beToBigInt(step.amount)));
}

/** §8.2 statement form: two signed proposals, ordered by H(Statement, enc(·)). */
export function proposalEquivocation(sp1, sp2) {
  const [first, second] = [{ proposal: sp1 }, { proposal: sp2 }].sort((x, y) => compare(statementHash(x), statementHash(y)));
  return { first, second, parcel_fork: undefined };
}

/** §7.2 / §10: the party commits its next state ({head, tree}): its head and tree move on. */
export function apply(device, next) {
  device.head = next.head;
  device.tree = next.tree;
}
