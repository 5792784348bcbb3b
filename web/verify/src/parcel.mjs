/**
 * Parcel objects of PROTOCOL.md §5.6: statement digest, transfer commit, output ids, hops
 * (a holder's one signature over the commit), parcel forks (the third form of Tripwire
 * evidence), and lineage manifests as content-addressed objects. Also the owned-slot write
 * (§15.2) and b0x access (§16.1) signatures that the vectors carry for a hop.
 */
import { decode, encode } from './codec.mjs';
import { equal, compare, u64be, utf8 } from './bytes.mjs';
import { H } from './hash.mjs';
import { verifySignature } from './sig.mjs';
import { hopCommit } from './domain.mjs';
import { deviceId, statementDigest, outputId, objectAddress } from './objects.mjs';
import { CheckFail } from './checks.mjs';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export { hopCommit, statementDigest, outputId, objectAddress };

const fail = (code, message) => { throw new CheckFail(code, message); };

/** §5.6 root id: H(ParcelRoot, once_key, token, u128be(amount), holder). */
export const rootId = (onceKey, token, amountU128be, holder) => H('ParcelRoot', onceKey, token, amountU128be, holder);
/** §5.6 sink(token) = H(ParcelSink, token). */
export const sink = (token) => H('ParcelSink', token);

/** Verify a decoded Hop's signature by `identity` (decoded DeviceIdentity), the statement's holder. */
export function verifyHop(hop, identity) {
  if (!equal(deviceId(identity), hop.statement.holder)) fail('UnknownSigner', 'the identity is not the statement\'s holder');
  const commit = hopCommit(hop);
  const r = verifySignature(identity.public_key, hop.signature, commit);
  if (!r.ok) fail('Signature', r.reason);
  return { commit };
}

/**
 * §5.6 ParcelFork check: commits differ (Identical), both holders are the signer's device
 * (DifferentSigners), a common input (NotConflicting), both signatures (Signature).
 * Returns the parcels consumed in both statements.
 */
export function verifyParcelFork(fork) {
  const c1 = hopCommit(fork.first), c2 = hopCommit(fork.second);
  if (equal(c1, c2)) fail('Identical', 'both hops have one commit');
  const dev = deviceId(fork.signer);
  if (!equal(fork.first.statement.holder, dev) || !equal(fork.second.statement.holder, dev)) fail('DifferentSigners', 'a statement is not held by the signer\'s device');
  const common = fork.first.statement.inputs.filter((x) => fork.second.statement.inputs.some((y) => equal(x, y)));
  if (common.length === 0) fail('NotConflicting', 'the statements consume no common parcel');
  for (const [h, c] of [[fork.first, c1], [fork.second, c2]]) {
    const r = verifySignature(fork.signer.public_key, h.signature, c);
    if (!r.ok) fail('Signature', r.reason);
  }
  return { device: dev, parcels: common };
}

/**
 * Resolve a LineageManifest against content-addressed objects (Map hexAddress → bytes):
 * every listed object must be present and decode strictly as what the manifest lists it as
 * (Missing / Decode). Returns the decoded hops and signers. Does not run the lineage check
 * (that needs a root verifier of the token layer, §17.3).
 */
export function resolveManifest(manifest, objects, hex) {
  const get = (addr, type) => {
    const b = objects.get(hex(addr));
    if (!b || !equal(objectAddress(b), addr)) fail('Missing', hex(addr));
    try { return decode(type, b); } catch (e) { fail('Decode', `${hex(addr)}: ${e.message}`); }
    return undefined;
  };
  return { hops: manifest.hops.map((a) => get(a, 'Hop')), signers: manifest.signers.map((a) => get(a, 'DeviceIdentity')) };
}

/**
 * §15.2: the checks a node runs on an OwnedPut for slot (owner, key), from hashes first:
 * the entries cover (owner, key, H(SlotBody, body)); the admission proves `owner` for the
 * signer (kinds 1, 3, 5, 6 from hashes; 2 and 4 from the record); a kind-4 delegation; the
 * signature over H(SlotWrite, owner_1, key_1, body_1, …).
 */
export function verifyOwnedPut(put, owner, key) {
  const w = put.write;
  const body = H('SlotBody', put.body);
  if (!w.entries.some((e) => equal(e.owner, owner) && equal(e.key, key) && equal(e.body, body))) fail('NotCovered', 'does not cover this slot with this body');
  if (!admits(w.admission, w.signer, owner)) fail('NotAdmitted', 'the admission does not prove the owner for the signer');
  const msg = H('SlotWrite', ...w.entries.flatMap((e) => [e.owner, e.key, e.body]));
  const r = verifySignature(w.signer, w.signature, msg);
  if (!r.ok) fail('Signature', r.reason);
  return true;
}

/** §15.2: a device's slot owner, H(DeviceSlots, H(GenesisBlind, genesis), H(SlotKey, key)). */
export function deviceSlotsOwner(identity) {
  return slotsOwner(H('GenesisBlind', identity.genesis), identity.public_key);
}
const slotsOwner = (blind, key) => H('DeviceSlots', blind, H('SlotKey', encode('PublicKey', key)));

/** §16.2: a device's anchor slot from `parent`: (its slot owner, H(AnchorSlot, parent)). */
export function anchorSlot(identity, parent) {
  return { owner: deviceSlotsOwner(identity), key: H('AnchorSlot', parent) };
}

/**
 * §2 "Sealed at the nodes": opens nonce (24) ‖ XChaCha20-Poly1305(H(tag, context), nonce,
 * plain, aad = context) when the nonce is the synthetic H(tag, context, plain)[..24];
 * undefined for anything else.
 */
export function openSealed(tag, context, sealed) {
  if (sealed.length < 40) return undefined;
  const nonce = sealed.subarray(0, 24);
  let plain;
  try {
    plain = xchacha20poly1305(H(tag, context), nonce, context).decrypt(sealed.subarray(24));
  } catch {
    return undefined;
  }
  return equal(H(tag, context, plain).subarray(0, 24), nonce) ? plain : undefined;
}

/**
 * §15.2: whether `device` signed `sig` admitting the authority (canonical key `encAuthority`)
 * to its slot owner `owner`: over H(SlotAuthority, owner, H(SlotKey, encAuthority)).
 */
function admitsAuthority(device, sig, owner, encAuthority) {
  return verifySignature(device, sig, H('SlotAuthority', owner, H('SlotKey', encAuthority))).ok;
}

/** §15.2 the recovery owner of `genesis` and `authority`: H(RecoveryOwner, H(GenesisBlind, genesis), H(SlotKey, enc(authority))). */
export function recoveryOwner(genesis, authority) {
  return H('RecoveryOwner', H('GenesisBlind', genesis), H('SlotKey', encode('PublicKey', authority)));
}

/** §15.2 owners an admission proves for a signer (kinds 1 to 6). */
export function admits(adm, signer, owner) {
  const encSigner = encode('PublicKey', signer);
  switch (adm.kind) {
    case 1: return equal(H('DeviceId', adm.genesis, encSigner), owner);
    case 2: {
      if (equal(H('RecoveryOwner', adm.genesis_blind, H('SlotKey', encSigner)), owner)) return true;
      return adm.device !== undefined && equal(slotsOwner(adm.genesis_blind, adm.device), owner)
        && admitsAuthority(adm.device, adm.device_admission, owner, encSigner);
    }
    case 3: {
      const k = H('SlotKey', encSigner);
      return adm.admitted.some((x) => equal(x, k)) && equal(H('SlotOwner', ...adm.admitted), owner);
    }
    case 4: {
      const dev = slotsOwner(adm.genesis_blind, adm.device);
      if (!equal(dev, owner)) return false;
      return admitsAuthority(adm.device, adm.device_admission, dev, encode('PublicKey', adm.authority))
        && verifySignature(adm.authority, adm.delegation, H('SlotDelegation', dev, H('SlotKey', encSigner))).ok;
    }
    case 5: {
      const mine = slotsOwner(adm.genesis_blind, signer);
      return adm.parties.some((x) => equal(x, mine)) && equal(H('SlotParties', ...adm.parties), owner);
    }
    case 6: return equal(slotsOwner(adm.genesis_blind, signer), owner);
    default: return false;
  }
}

/**
 * §16.1 b0x address of a device's slot owner: the introduction address H(B0xAddress, slot
 * owner) without a blind, the relationship address H(B0xRelationship, blind, slot owner) with one.
 */
export function b0xAddress(owner, blind) {
  return blind ? H('B0xRelationship', blind, owner) : H('B0xAddress', owner);
}

/** §16.1 b0x read message: H(B0xAccess, node id, op (1 byte), enc(B0xScope)). */
export function b0xReadMessage(nodeId, op, scope) {
  return H('B0xAccess', utf8(nodeId), Uint8Array.of(op), encode('B0xScope', scope));
}

/** §16.1: the node's checks on a B0xRead for a node id and op; the addresses it reads. */
export function verifyB0xRead(read, nodeId, op) {
  const { access } = read;
  // The admission proves the reader's slot owner (§15.2); a device admission (kind 1) proves a
  // device id, from which no address derives: refused whatever the scope.
  if (access.admission.kind === 1 || !admits(access.admission, access.signer, read.owner)) fail('NotAdmitted', 'not admitted');
  for (let i = 1; i < read.entries.length; i++) {
    const [x, y] = [read.entries[i - 1].blind, read.entries[i].blind];
    if (y === undefined || (x !== undefined && compare(x, y) >= 0)) fail('Entries', 'entries not strictly ascending by blind');
  }
  const scope = { owner: read.owner, entries: read.entries };
  const r = verifySignature(access.signer, access.signature, b0xReadMessage(nodeId, op, scope));
  if (!r.ok) fail('Signature', r.reason);
  return read.entries.map((e) => b0xAddress(read.owner, e.blind));
}

export { compare };
