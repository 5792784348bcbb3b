/**
 * Test-only builder: parcel statements and hops of PROTOCOL.md §5.6 — the fixture's input
 * parcel (§10 "Inputs"), `ParcelStatement::payment` of one input, `ParcelStatement::refund`
 * (§7.5), a signed hop, a parcel fork in canonical order, and a lineage manifest.
 */
import { H } from '../../src/hash.mjs';
import { encode } from '../../src/codec.mjs';
import { compare, bigIntToU128be, equal, utf8 } from '../../src/bytes.mjs';
import { headDigest, outputId, objectAddress, transferCommit, statementDigest } from '../../src/objects.mjs';
import { sign } from './keys.mjs';

/** §10 "Inputs": the one parcel a device pays from, H(Token, "test-parcel", head_digest(head), token). */
export const testParcel = (head, token) => H('Token', utf8('test-parcel'), headDigest(head), token);

/** §5.6: outputs ascending by (input, to). */
const byInputTo = (x, y) => (x.input - y.input) || compare(x.to, y.to);

/**
 * §5.6 / §10 `ParcelStatement::payment` from one input of `balance`: `amount` to `receiver`
 * and, when the balance is larger, the change back to `holder` (BigInt amounts).
 */
export function payment(holder, input, balance, receiver, amount) {
  const outputs = [{ input: 0, to: receiver, amount: bigIntToU128be(amount) }];
  if (balance > amount) outputs.push({ input: 0, to: holder, amount: bigIntToU128be(balance - amount) });
  return { holder, inputs: [input], outputs: outputs.sort(byInputTo) };
}

/**
 * §7.5 `ParcelStatement::refund` of a proposal with commit `commit`: holder the receiver;
 * inputs output_id(commit, i) of every output i to the receiver, ascending; one output per
 * input, in input order, back to the sender whole.
 */
export function refund(parcels, commit, sender, receiver) {
  const back = parcels.outputs.map((o, i) => ({ id: outputId(commit, i), amount: o.amount, to: o.to }))
    .filter((o) => equal(o.to, receiver))
    .sort((x, y) => compare(x.id, y.id));
  return {
    holder: receiver,
    inputs: back.map((o) => o.id),
    outputs: back.map((o, i) => ({ input: i, to: sender, amount: o.amount })),
  };
}

/** §5.6 Hop {statement, rest, signature over transfer_commit(statement digest, rest)}. */
export function signHop(key, statement, rest) {
  return { statement, rest, signature: sign(key, transferCommit(statementDigest(statement), rest)) };
}

/** §5.6 ParcelFork {signer, first, second}, the hops ordered by commit. */
export function parcelFork(signer, h1, h2) {
  const c = (h) => transferCommit(statementDigest(h.statement), h.rest);
  const [first, second] = compare(c(h1), c(h2)) <= 0 ? [h1, h2] : [h2, h1];
  return { signer, first, second };
}

/** §5.6 LineageManifest from a root start: hops and signers by object address (signers ascending). */
export function rootManifest(parcel, rootObject, hops, signers) {
  return {
    parcel,
    root: objectAddress(rootObject),
    verified: undefined,
    hops: hops.map((h) => objectAddress(encode('Hop', h))),
    signers: signers.map((s) => objectAddress(encode('DeviceIdentity', s))).sort(compare),
    consumed: [],
  };
}
