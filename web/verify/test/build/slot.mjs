/**
 * Test-only builder: an owned-slot write (PROTOCOL.md §15.2) and a b0x read (§16.1), each
 * under a device admission (kind 1).
 */
import { H } from '../../src/hash.mjs';
import { compare, concat } from '../../src/bytes.mjs';
import { b0xReadMessage } from '../../src/parcel.mjs';
import { sign, publicKeyOf } from './keys.mjs';

/** §15.2 admission kind 1: the signer is a device key of `genesis`. */
const deviceAdmission = (genesis) => ({ kind: 1, genesis, admitted: [], parties: [] });

/**
 * §15.2 OwnedPut {SlotWrite, body}: the device writes `body` to the slots (owner, key) of
 * `slots`; entries strictly ascending, signature over H(SlotWrite, owner, key, body digest, …)
 * with randomness `rnd` (§10: hedged 00 01 … 1f for the vector).
 */
export function ownedPut(device, slots, body, rnd) {
  const digest = H('SlotBody', body);
  const entries = slots.map(({ owner, key }) => ({ owner, key, body: digest }))
    .sort((x, y) => compare(concat(x.owner, x.key, x.body), concat(y.owner, y.key, y.body)));
  const msg = H('SlotWrite', ...entries.flatMap((e) => [e.owner, e.key, e.body]));
  const write = { admission: deviceAdmission(device.genesis), signer: publicKeyOf(device.key), entries, signature: sign(device.key, msg, rnd) };
  return { write, body };
}

/** §16.1 B0xRead: the device signs H(B0xAccess, node id, op, enc(B0xScope {device, entries})). */
export function b0xRead(device, nodeId, op, entries) {
  const msg = b0xReadMessage(nodeId, op, { device: device.id, entries });
  const access = { admission: deviceAdmission(device.genesis), signer: publicKeyOf(device.key), signature: sign(device.key, msg) };
  return { device: device.id, entries, access };
}
