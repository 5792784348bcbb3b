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
  // §3 rule 8: an absent suite reads as 0, SUITE_UNSPECIFIED, an unknown value.
  if (obj.suite === 0) throw inv('suite absent (SUITE_UNSPECIFIED is never valid)', `${path}.suite`);
  const s = SUITES[obj.suite];
  if (!s) throw inv(`unknown suite ${obj.suite}`, `${path}.suite`);
  return s;
}

/** A hop's commit, §5.6: H(TransferCommit, H(ParcelStatement, enc(statement)), rest). */
export function hopCommit(hop) {
  return H('TransferCommit', H('ParcelStatement', encode('ParcelStatement', hop.statement)), hop.rest);
}

/**
 * §3 rule 8, each rule checked as soon as the last field it concerns has been passed (read,
 * or found absent): RULES[type][field number](decoded-so-far object, path).
 */
const RULES = {
  PublicKey: {
    1: (o, p) => { suiteOf(o, p); },
    2: (o, p) => {
      const s = suiteOf(o, p);
      if (o.key.length !== s.key) throw new DecodeError('Length', `${s.name} key of ${o.key.length} bytes, not ${s.key}`, `${p}.key`);
    },
  },
  Signature: {
    1: (o, p) => { suiteOf(o, p); },
    2: (o, p) => {
      const s = suiteOf(o, p);
      if (o.signature.length !== s.sig) throw new DecodeError('Length', `${s.name} signature of ${o.signature.length} bytes, not ${s.sig}`, `${p}.signature`);
    },
  },
  GenesisRecord: {
    // §4.2: at least one contribution, strictly ascending by contributor.
    2: (o, p) => {
      if (o.contributions.length < 1) throw inv('no contribution', `${p}.contributions`);
      strictlyAscending(o.contributions, (c) => c.contributor, 'contributions', `${p}.contributions`);
    },
  },
  Balance: {
    // §5.1: amount > 0.
    2: (o, p) => { if (isZero(o.amount)) throw inv('zero balance', `${p}.amount`); },
  },
  DeviceHead: {
    // §5.1: strictly ascending by token.
    5: (o, p) => strictlyAscending(o.balances, (b) => b.token, 'balances', `${p}.balances`),
  },
  ParcelOutput: {
    // §5.6: an input index below 64 (MAX_INPUTS); a non-zero amount.
    1: (o, p) => { if (o.input > 63) throw inv('input index over 63', `${p}.input`); },
    3: (o, p) => { if (isZero(o.amount)) throw inv('zero amount', `${p}.amount`); },
  },
  ParcelStatement: {
    // §5.6 "Decoding refuses (Invalid)", in this order.
    3: (o, p) => {
      if (o.inputs.length === 0) throw inv('no input', `${p}.inputs`);
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
  },
  Statement: {
    3: (o, p) => {
      const n = [o.proposal, o.acceptance, o.refusal].filter((x) => x !== undefined).length;
      if (n !== 1) throw inv('a statement is exactly one of proposal, acceptance, refusal', p);
    },
  },
  EquivocationProof: {
    // §8.2: exactly one form; the statement form strictly ascending by H(Statement, enc(·)).
    3: (o, p) => {
      const pair = o.first !== undefined && o.second !== undefined && o.parcel_fork === undefined;
      const fork = o.first === undefined && o.second === undefined && o.parcel_fork !== undefined;
      if (!pair && !fork) throw inv('a proof is two statements or one parcel fork', p);
      if (pair) {
        const a = H('Statement', encode('Statement', o.first));
        const b = H('Statement', encode('Statement', o.second));
        if (compare(a, b) >= 0) throw inv('statements not in strictly ascending H(Statement) order', p);
      }
    },
  },
  ParcelFork: {
    // §5.6: first before second by commit, strictly.
    3: (o, p) => { if (compare(hopCommit(o.first), hopCommit(o.second)) >= 0) throw inv('hops not strictly ascending by commit', p); },
  },
  LineageManifest: {
    // §5.6 "Shipping a lineage"; the nesting rule is checked per consumed manifest, before
    // it is decoded (codec.mjs, `nest`).
    3: (o, p) => { if ((o.root === undefined) === (o.verified === undefined)) throw inv('exactly one of root and verified', p); },
    5: (o, p) => strictlyAscending(o.signers, (x) => x, 'signers', `${p}.signers`),
  },
  Admission: {
    // §15.2: kind 1–6 selects the fields (ADMISSION_KINDS); lists non-empty, ascending.
    1: (o, p) => { if (!ADMISSION_KINDS[o.kind]) throw inv(`unknown admission kind ${o.kind}`, `${p}.kind`); },
    5: (o, p) => {
      if (o.admitted.length === 0) throw inv('no admitted key', `${p}.admitted`);
      strictlyAscending(o.admitted, (x) => x, 'admitted', `${p}.admitted`);
    },
    7: (o, p) => {
      if (o.parties.length === 0) throw inv('no admitted device', `${p}.parties`);
      strictlyAscending(o.parties, (x) => x, 'parties', `${p}.parties`);
    },
    9: (o, p) => {
      if (o.kind === 2 && (o.device === undefined) !== (o.device_admission === undefined)) {
        throw inv('a device and its admission of the authority go together', p);
      }
    },
  },
  SlotWrite: {
    // §15.2: at least one entry, strictly ascending by owner ‖ key ‖ body.
    3: (o, p) => {
      if (o.entries.length < 1) throw inv('no entry', `${p}.entries`);
      strictlyAscending(o.entries, (e) => concat(e.owner, e.key, e.body), 'entries', `${p}.entries`);
    },
  },
};

/**
 * §15.2: the fields each Admission kind has after `kind` (field numbers; `req` required).
 * Any other field is not part of the message (UnexpectedField).
 */
export const ADMISSION_KINDS = {
  1: [[2, 'req']],
  2: [[4], [8, 'req'], [9]],
  3: [[5]],
  4: [[4, 'req'], [6, 'req'], [8, 'req'], [9, 'req'], [10, 'req']],
  5: [[7], [8, 'req']],
  6: [[8, 'req']],
};

/** Runs the domain rule of `type` that is due once field `num` has been passed. */
export function afterField(type, num, obj, path) {
  const rule = RULES[type]?.[num];
  if (rule) rule(obj, path);
}
