/**
 * Tripwire evidence, PROTOCOL.md §8.2: verifyEquivocationProof(bytes) accepts a canonical
 * EquivocationProof iff (statement form) the two statements differ, both identities derive
 * the same device id, which is also the device of both child heads, both signatures verify,
 * and they form a head fork, an accepted-and-refused pair, a tip fork or a parcel fork
 * (checked in that order; the first that holds is reported); or (parcel form) its
 * ParcelFork is accepted (§5.6). It needs nothing but its own bytes.
 */
import { decode } from './codec.mjs';
import { equal, bytesToHex } from './bytes.mjs';
import { Run, CheckFail } from './checks.mjs';
import { verifySignature } from './sig.mjs';
import { verifyParcelFork } from './parcel.mjs';
import {
  deviceId, headDigest, childTip, proposalCommit, acceptanceCommit, refusalCommit,
} from './objects.mjs';

const fail = (code, message) => { throw new CheckFail(code, message); };

/** The signer, child head, commit and parcel statement of a Statement. */
export function statementParts(st) {
  if (st.proposal) {
    const p = st.proposal.proposal;
    return { kind: 'proposal', identity: p.sender, child: p.sender_child_head, commit: proposalCommit(p), signature: st.proposal.signature, parcels: p.parcels, step: p.step };
  }
  if (st.acceptance) {
    const a = st.acceptance.acceptance;
    return { kind: 'acceptance', identity: a.receiver, child: a.receiver_child_head, commit: acceptanceCommit(a), signature: st.acceptance.signature, parcels: null, answers: a.proposal_commit };
  }
  const r = st.refusal.refusal;
  return { kind: 'refusal', identity: r.receiver, child: r.receiver_child_head, commit: refusalCommit(r), signature: st.refusal.signature, parcels: r.parcels, answers: r.proposal_commit };
}

/** §8.2, returns { valid, error, checks, facts: { device, form, parcels } }. */
export function verifyEquivocationProof(bytes) {
  const run = new Run();
  const proof = run.check('2', null, 'canonical decoding as EquivocationProof', () => decode('EquivocationProof', bytes));
  let facts = null;
  if (proof && proof.parcel_fork) {
    const r = run.check('PF', null, 'parcel fork (§5.6)', () => {
      try { return verifyParcelFork(proof.parcel_fork); } catch (e) { if (e instanceof CheckFail) fail('ParcelFork', e.message); throw e; }
    });
    if (r) facts = { device: bytesToHex(r.device), form: 'parcel fork', parcels: r.parcels.map(bytesToHex) };
  } else if (proof) {
    const a = statementParts(proof.first), b = statementParts(proof.second);
    run.check('E1', null, 'the statements differ', () => {
      if (a.kind === b.kind && equal(a.commit, b.commit)) fail('Identical', 'one statement twice');
    });
    const dev = run.check('E2', null, 'one signer, the device of both child heads', () => {
      const d = deviceId(a.identity);
      if (!equal(deviceId(b.identity), d) || !equal(a.child.device, d) || !equal(b.child.device, d)) fail('DifferentSigners', 'not one device');
      return d;
    });
    run.check('E3', null, 'both signatures verify', () => {
      for (const s of [a, b]) {
        const r = verifySignature(s.identity.public_key, s.signature, s.commit);
        if (!r.ok) fail('Signature', `${s.kind}: ${r.reason}`);
      }
    });
    const form = run.check('E4', null, 'head fork, accepted and refused, tip fork or parcel fork', () => {
      if (equal(a.child.parent, b.child.parent) && !equal(headDigest(a.child), headDigest(b.child))) return 'head fork';
      const pair = [a.kind, b.kind].sort().join('+');
      if (pair === 'acceptance+refusal' && equal(a.answers, b.answers)) return 'accepted and refused';
      if (a.kind === 'proposal' && b.kind === 'proposal' && equal(a.step.relationship, b.step.relationship)
        && equal(a.step.parent_tip, b.step.parent_tip) && !equal(childTip(a.step), childTip(b.step))) return 'tip fork';
      // §8.2: holders are not compared; the device convicted is the one that signed both.
      if (a.parcels && b.parcels && a.parcels.inputs.some((x) => b.parcels.inputs.some((y) => equal(x, y)))) return 'parcel fork';
      fail('NotConflicting', 'the statements do not conflict');
      return undefined;
    });
    if (run.ok) facts = { device: bytesToHex(dev), form, parcels: [] };
  }
  return { valid: run.ok, error: run.failed ? { check: run.failed.id, ...run.failed.error } : null, checks: run.checks, facts: run.ok ? facts : null };
}
