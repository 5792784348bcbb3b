/**
 * Test-only builder: an owned-slot write (PROTOCOL.md §15.2) under a device-slots admission
 * (kind 6), a b0x read (§16.1) under a device admission (kind 1), and the deterministic
 * sealing of §2 (the verifier only opens).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { H } from '../../src/hash.mjs';
import { compare, concat } from '../../src/bytes.mjs';
import { b0xReadMessage, deviceSlotsOwner } from '../../src/parcel.mjs';
import { encode } from '../../src/codec.mjs';
import { sign, publicKeyOf } from './keys.mjs';

/** §15.2 admission kind 1: the signer is a device key of `genesis`. */
/** §15.2 admission kind 6: the signer is a device key of the genesis blinded as H(GenesisBlind, genesis). */
const deviceSlotsAdmission = (genesis) => ({ kind: 6, admitted: [], parties: [], genesis_blind: H('GenesisBlind', genesis) });

/**
 * §15.2 admission kind 2 of the authority `device`'s own key, with the device's admission of
 * it: the device signs H(SlotAuthority, its slot owner, H(SlotKey, enc(authority))) with zero
 * randomness.
 */
export function authorityAdmission(device) {
  const key = publicKeyOf(device.key);
  const blind = H('GenesisBlind', device.genesis);
  const owner = H('DeviceSlots', blind, H('SlotKey', encode('PublicKey', key)));
  const admission = sign(device.key, H('SlotAuthority', owner, H('SlotKey', encode('PublicKey', key))));
  return { kind: 2, admitted: [], parties: [], device: key, genesis_blind: blind, device_admission: admission };
}

/** §2 "Sealed at the nodes": nonce = H(tag, context, plain)[..24] ‖ XChaCha20-Poly1305(H(tag, context), nonce, plain, aad = context). */
export function seal(tag, context, plain) {
  const nonce = H(tag, context, plain).subarray(0, 24);
  return concat(nonce, xchacha20poly1305(H(tag, context), nonce, context).encrypt(plain));
}

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
  const write = { admission: deviceSlotsAdmission(device.genesis), signer: publicKeyOf(device.key), entries, signature: sign(device.key, msg, rnd) };
  return { write, body };
}

/**
 * §16.1 B0xRead: the device signs H(B0xAccess, node id, op, enc(B0xScope {owner, entries})) for
 * its slot owner, under its slot admission (kind 6).
 */
export function b0xRead(device, nodeId, op, entries) {
  const owner = deviceSlotsOwner({ genesis: device.genesis, public_key: publicKeyOf(device.key) });
  const msg = b0xReadMessage(nodeId, op, { owner, entries });
  const access = { admission: deviceSlotsAdmission(device.genesis), signer: publicKeyOf(device.key), signature: sign(device.key, msg) };
  return { owner, entries, access };
}
