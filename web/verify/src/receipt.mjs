/**
 * verifyReceipt(bytes): the stateless part of the acceptance predicate, PROTOCOL.md §7.3
 * checks 1–8 (check 9 needs a verifier's view, §7.4, and is not run here). Also
 * verifySignedProposal (the sender's half alone) and verifyRefusal (§7.5–§7.7).
 *
 * The result names every check separately, in the predicate's order, with status
 * 'pass' | 'fail' | 'skipped' (skipped = not run because an earlier check failed: the first
 * failure is the predicate's error). `facts` is present only when every check passed, and
 * holds only values decoded from the verified bytes or recomputed from them.
 */
import { decode } from './codec.mjs';
import { SIZE_CAPS } from './schema.mjs';
import { DecodeError } from './errors.mjs';
import { bytesToHex, u128beToBigInt } from './bytes.mjs';
import { Run, senderHalf, receiverHalf, refusalHalf } from './checks.mjs';
import { receiptDigest, headDigest, relationshipKey } from './objects.mjs';
import { SUITES } from './domain.mjs';

function decodeChecks(run, type, bytes) {
  run.check('1', null, `size ≤ ${SIZE_CAPS[type]} bytes`, () => {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('expects bytes');
    if (bytes.length > SIZE_CAPS[type]) throw new DecodeError('TooLarge', `${bytes.length} bytes`, type);
  });
  return run.check('2', null, `canonical decoding as ${type}`, () => decode(type, bytes));
}

function headFacts(h) {
  return { digest: bytesToHex(headDigest(h)), height: h.height.toString(), kind: h.kind, smt_root: bytesToHex(h.smt_root) };
}

function summary(run, facts) {
  return { valid: run.ok, error: run.failed ? { check: run.failed.id, party: run.failed.party, ...run.failed.error } : null, checks: run.checks, facts: run.ok ? facts : null };
}

/** §7.3 checks 1–8 on a canonical Receipt. */
export function verifyReceipt(bytes) {
  const run = new Run();
  const r = decodeChecks(run, 'Receipt', bytes);
  let sender = {}, receiver = {};
  if (r) {
    sender = senderHalf(run, r.proposal);
    receiver = receiverHalf(run, r.proposal.proposal.step, sender.tip, sender.commit, r.acceptance);
  }
  let facts = null;
  if (run.ok) {
    const p = r.proposal.proposal, a = r.acceptance.acceptance, st = p.step;
    facts = {
      sender: bytesToHex(st.sender),
      receiver: bytesToHex(st.receiver),
      token: bytesToHex(st.token),
      amount: u128beToBigInt(st.amount).toString(),
      relationship: bytesToHex(st.relationship),
      parent_tip: bytesToHex(st.parent_tip),
      child_tip: bytesToHex(sender.tip),
      sender_suite: SUITES[p.sender.public_key.suite].name,
      receiver_suite: SUITES[a.receiver.public_key.suite].name,
      sender_heads: { parent: headFacts(p.sender_parent_head), child: headFacts(p.sender_child_head) },
      receiver_heads: { parent: headFacts(a.receiver_parent_head), child: headFacts(a.receiver_child_head) },
      proposal_commit: bytesToHex(sender.commit),
      acceptance_commit: bytesToHex(receiver.commit),
      receipt_digest: bytesToHex(receiptDigest(bytes)),
      crossing: a.crossing ? bytesToHex(a.crossing.sender) : null,
    };
  }
  return summary(run, facts);
}

/** The sender's half of §7.3 (checks 1–3b, 4–8 for the sender) on a canonical SignedProposal. */
export function verifySignedProposal(bytes) {
  const run = new Run();
  const sp = decodeChecks(run, 'SignedProposal', bytes);
  let s = {};
  if (sp) s = senderHalf(run, sp);
  return summary(run, run.ok ? {
    sender: bytesToHex(sp.proposal.step.sender), receiver: bytesToHex(sp.proposal.step.receiver),
    token: bytesToHex(sp.proposal.step.token), amount: u128beToBigInt(sp.proposal.step.amount).toString(),
    proposal_commit: bytesToHex(s.commit), child_tip: bytesToHex(s.tip),
  } : null);
}

/** §7.5 verify_refusal: a canonical SignedRefusal against the canonical SignedProposal it refuses. */
export function verifyRefusal(proposalBytes, refusalBytes) {
  const run = new Run();
  const sp = decodeChecks(run, 'SignedProposal', proposalBytes);
  let s = {};
  if (sp) s = senderHalf(run, sp);
  const sr = run.check('2r', null, 'canonical decoding as SignedRefusal', () => {
    if (refusalBytes.length > SIZE_CAPS.Statement) throw new DecodeError('TooLarge', `${refusalBytes.length} bytes`, 'SignedRefusal');
    return decode('SignedRefusal', refusalBytes);
  });
  let rr = {};
  if (sr) rr = refusalHalf(run, sp.proposal, s.commit, s.tip, sr);
  return summary(run, run.ok ? {
    sender: bytesToHex(sp.proposal.step.sender), receiver: bytesToHex(sp.proposal.step.receiver),
    amount: u128beToBigInt(sp.proposal.step.amount).toString(), reason: sr.refusal.reason.toString(),
    refusal_commit: bytesToHex(rr.commit),
    crossing: sr.refusal.crossing !== undefined, behind: sr.refusal.behind.length,
  } : null);
}

export { relationshipKey };
