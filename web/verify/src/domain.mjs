/**
 * Domain rules of the decoder (PROTOCOL.md §3 rule 8): sorted lists, non-zero amounts,
 * known suites with exact key and signature lengths, list bounds, and the "exactly one"
 * shapes (Statement, EquivocationProof, LineageManifest start, Admission kinds). Each is
 * cited to the section that states it; rules this file adds beyond the text are listed in
 * GAPS.md.
 */
import { DecodeError } from './errors.mjs';
import { compare, isZero, concat } from './bytes.mjs';
import { encode } from './codec.mjs';
import { H } from './hash.mjs';

/** §4.1: suite id → exact public key and signature length. */
export const SUITES = {
  1: { name: 'ml-dsa-65', key: 1952, sig: 3309 },
  2: { name: 'slh-dsa-sha2-128f', key: 32, sig: 17088 },
};

const inv = (msg, path) => new DecodeError('Invalid', msg, path);

function strictlyAscending(list, key, what, path) {
  for (let i = 1; i < list.length; i++) {
    if (compare(key(list[i - 1]), key(list[i])) >= 0) throw inv(`${what} not strictly ascending`, path);
  }
}

function suiteOf(obj, path) {
  if (obj.suite === 0) throw new DecodeError('Missing', 'suite absent (SUITE_UNSPECIFIED is never valid)', `${path}.suite`);
  const s = SUITES[obj.suite];
  if (!s) throw inv(`unknown suite ${obj.suite}`, `${path}.suite`);
  return s;
}

/** Nesting depth of a manifest's consumed tree (0 = no consumed manifests). */
function nesting(m) {
  let d = 0;
  for (const c of m.consumed) d = Math.max(d, 1 + nesting(c));
  return d;
}

/** A hop's commit, §5.6: H(TransferCommit, H(ParcelStatement, enc(statement)), rest). */
export function hopCommit(hop) {
  return H('TransferCommit', H('ParcelStatement', encode('ParcelStatement', hop.statement)), hop.rest);
}

const RULES = {
  PublicKey(o, p) {
    const s = suiteOf(o, p);
    if (o.key.length !== s.key) throw new DecodeError('Length', `${s.name} key of ${o.key.length} bytes, not ${s.key}`, `${p}.key`);
  },
  Signature(o, p) {
    const s = suiteOf(o, p);
    if (o.signature.length !== s.sig) throw new DecodeError('Length', `${s.name} signature of ${o.signature.length} bytes, not ${s.sig}`, `${p}.signature`);
  },
  GenesisRecord(o, p) {
    // §4.2: 1–16 contributions, strictly ascending by contributor.
    if (o.contributions.length < 1 || o.contributions.length > 16) throw inv('not 1–16 contributions', `${p}.contributions`);
    strictlyAscending(o.contributions, (c) => c.contributor, 'contributions', `${p}.contributions`);
  },
  Balance(o, p) {
    // §5.1: amount > 0.
    if (isZero(o.amount)) throw inv('zero balance', `${p}.amount`);
  },
  DeviceHead(o, p) {
    // §5.1: strictly ascending by token, at most 64.
    if (o.balances.length > 64) throw inv('more than 64 balances', `${p}.balances`);
    strictlyAscending(o.balances, (b) => b.token, 'balances', `${p}.balances`);
  },
  SmtProof(o, p) {
    // §6 / §9: proof depth ≤ 256.
    if (o.siblings.length > 256) throw inv('more than 256 siblings', `${p}.siblings`);
  },
  ParcelOutput(o, p) {
    if (isZero(o.amount)) throw inv('zero amount', `${p}.amount`);
  },
  ParcelStatement(o, p) {
    // §5.6 "Decoding refuses (Invalid)".
    if (o.inputs.length === 0) throw inv('no input', `${p}.inputs`);
    if (o.inputs.length > 64) throw inv('more than 64 inputs', `${p}.inputs`);
    strictlyAscending(o.inputs, (x) => x, 'inputs', `${p}.inputs`);
    for (let i = 1; i < o.outputs.length; i++) {
      const a = o.outputs[i - 1], b = o.outputs[i];
      if (a.input > b.input || (a.input === b.input && compare(a.to, b.to) >= 0)) throw inv('outputs not strictly ascending by (input, to)', `${p}.outputs`);
    }
    const per = new Array(o.inputs.length).fill(0);
    for (const out of o.outputs) {
      if (out.input >= o.inputs.length) throw inv('an output names no input', `${p}.outputs`);
      per[out.input]++;
    }
    if (per.some((n) => n === 0 || n > 2)) throw inv('an input with zero or more than two outputs', `${p}.outputs`);
  },
  Refusal(o, p) {
    // §7.7: at most MAX_QUEUE − 1 = 3 steps behind ("TooMany { field: 10 }").
    if (o.behind.length > 3) throw new DecodeError('TooMany', 'field 10 (behind) has more than 3 steps', `${p}.behind`);
  },
  Statement(o, p) {
    const n = [o.proposal, o.acceptance, o.refusal].filter((x) => x !== undefined).length;
    if (n !== 1) throw inv('a statement is exactly one of proposal, acceptance, refusal', p);
  },
  EquivocationProof(o, p) {
    // §8.2: exactly one form; statement form ordered by H(Statement, enc(·)).
    const pair = o.first !== undefined && o.second !== undefined && o.parcel_fork === undefined;
    const fork = o.first === undefined && o.second === undefined && o.parcel_fork !== undefined;
    if (!pair && !fork) throw inv('a proof is two statements or one parcel fork', p);
    if (pair) {
      const a = H('Statement', encode('Statement', o.first));
      const b = H('Statement', encode('Statement', o.second));
      if (compare(a, b) > 0) throw inv('statements not in canonical order', p);
    }
  },
  ParcelFork(o, p) {
    // §5.6: first before second by commit; the decoder refuses the other order.
    if (compare(hopCommit(o.first), hopCommit(o.second)) > 0) throw inv('hops not ordered by commit', p);
  },
  LineageManifest(o, p) {
    // §5.6 "Shipping a lineage".
    if ((o.root === undefined) === (o.verified === undefined)) throw inv('exactly one of root and verified', p);
    if (o.hops.length > 3072) throw inv('more than 3,072 hops', `${p}.hops`);
    if (o.signers.length > 3073) throw inv('more than 3,073 signers', `${p}.signers`);
    strictlyAscending(o.signers, (x) => x, 'signers', `${p}.signers`);
    if (o.consumed.length > 64) throw inv('more than 64 consumed manifests', `${p}.consumed`);
    if ((o.consumed.length > 0 && o.verified !== undefined) || nesting(o) > 4) {
      throw inv('consumed manifests follow a root only, at most 4 deep', `${p}.consumed`);
    }
  },
  Admission(o, p) {
    // §15.2: the fields each admission kind uses; the others must be absent (GAPS.md).
    const uses = { 1: ['genesis'], 2: ['record', 'device'], 3: ['admitted'], 4: ['record', 'device', 'delegation'], 5: ['genesis', 'parties'] }[o.kind];
    if (!uses) throw inv(`unknown admission kind ${o.kind}`, `${p}.kind`);
    const present = (k) => (Array.isArray(o[k]) ? o[k].length > 0 : o[k] !== undefined);
    for (const k of ['genesis', 'record', 'device', 'admitted', 'delegation', 'parties']) {
      if (present(k) && !uses.includes(k)) throw inv(`field ${k} is not used by admission kind ${o.kind}`, `${p}.${k}`);
    }
    const required = { 1: ['genesis'], 2: ['record'], 3: ['admitted'], 4: ['record', 'device', 'delegation'], 5: ['genesis', 'parties'] }[o.kind];
    for (const k of required) if (!present(k)) throw new DecodeError('Missing', `admission kind ${o.kind} needs ${k}`, `${p}.${k}`);
    for (const k of ['admitted', 'parties']) {
      if (o[k].length > 16) throw inv(`more than 16 ${k}`, `${p}.${k}`);
      strictlyAscending(o[k], (x) => x, k, `${p}.${k}`);
    }
  },
  SlotWrite(o, p) {
    // §15.2: 1–64 entries, strictly ascending.
    if (o.entries.length < 1 || o.entries.length > 64) throw inv('not 1–64 entries', `${p}.entries`);
    strictlyAscending(o.entries, (e) => concat(e.owner, e.key, e.body), 'entries', `${p}.entries`);
  },
  OwnedPut(o, p) {
    if (o.body.length > 237568) throw inv('body over 237,568 bytes', `${p}.body`);
  },
};

export function validate(type, obj, path) {
  const rule = RULES[type];
  if (rule) rule(obj, path);
}
