/**
 * Tagged hashing, PROTOCOL.md §2:
 *   H(tag, f_1, …, f_n) = BLAKE3-256( lp(tag) ‖ lp(f_1) ‖ … ‖ lp(f_n) ),  lp(x) = u32be(len(x)) ‖ x
 * and the frozen tag table (name → ASCII label), in the table's order.
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { u32be, utf8 } from './bytes.mjs';

/** The tag table of §2, in its order: [name, label]. */
export const TAG_TABLE = [
  ['EntropyCommitment', 'DSM/v1/entropy-commitment'],
  ['Genesis', 'DSM/v1/genesis'],
  ['DeviceId', 'DSM/v1/device-id'],
  ['RelationshipKey', 'DSM/v1/relationship-key'],
  ['RelationshipGenesis', 'DSM/v1/relationship-genesis'],
  ['RelationshipTip', 'DSM/v1/relationship-tip'],
  ['DeviceHead', 'DSM/v1/device-head'],
  ['SmtEmpty', 'DSM/v1/smt-empty'],
  ['SmtLeaf', 'DSM/v1/smt-leaf'],
  ['SmtNode', 'DSM/v1/smt-node'],
  ['ProposalCommit', 'DSM/v1/proposal-commit'],
  ['AcceptanceCommit', 'DSM/v1/acceptance-commit'],
  ['Receipt', 'DSM/v1/receipt'],
  ['Statement', 'DSM/v1/statement'],
  ['Token', 'DSM/v1/token'],
  ['SlhDsaKeySeed', 'DSM/v1/slh-dsa-key-seed'],
  ['DevAllocation', 'DSM/v1/dev-allocation'],
  ['RefusalCommit', 'DSM/v1/refusal-commit'],
  ['ReleaseTip', 'DSM/v1/release-tip'],
  ['ObjectAddress', 'DSM/v1/object-address'],
  ['Placement', 'DSM/v1/placement'],
  ['B0xAddress', 'DSM/v1/b0x-address'],
  ['EntropyContributor', 'DSM/v1/entropy-contributor'],
  ['EntropyCeremony', 'DSM/v1/entropy-ceremony'],
  ['InsecureTestSignature', 'DSM/v1/insecure-test-signature'],
  ['TokenPolicy', 'DSM/v1/cpta-policy'],
  ['MintStatement', 'DSM/v1/mint-statement'],
  ['BurnStatement', 'DSM/v1/burn-statement'],
  ['SourceProof', 'DSM/v1/source-proof'],
  ['AllowlistMember', 'DSM/v1/allowlist-member'],
  ['DjteJoin', 'DSM/v1/djte/join'],
  ['DjteShard', 'DSM/v1/djte/shard'],
  ['DjteActive', 'DSM/v1/djte/active'],
  ['DjteSeed', 'DSM/v1/djte/seed'],
  ['DjteReseed', 'DSM/v1/djte/reseed'],
  ['DjteMmrNode', 'DSM/v1/djte/mmr-node'],
  ['DjteMmrRoot', 'DSM/v1/djte/mmr-root'],
  ['DjteCountLeaf', 'DSM/v1/djte/count-leaf'],
  ['DjteCountNode', 'DSM/v1/djte/count-node'],
  ['DjteState', 'DSM/v1/djte/state'],
  ['DjteSpent', 'DSM/v1/djte/spent'],
  ['DjteReceipt', 'DSM/v1/djte/receipt'],
  ['DlvVaultId', 'DSM/v1/dlv/vault-id'],
  ['DlvAuthorize', 'DSM/v1/dlv/authorize'],
  ['DlvLock', 'DSM/v1/dlv/lock'],
  ['DlvWorkSeed', 'DSM/v1/dlv/work-seed'],
  ['DlvWorkStep', 'DSM/v1/dlv/work-step'],
  ['DlvResolution', 'DSM/v1/dlv/resolution'],
  ['DbtcDeposit', 'DSM/v1/dbtc/deposit'],
  ['DbtcOutpoint', 'DSM/v1/dbtc/outpoint'],
  ['DbtcWithdrawal', 'DSM/v1/dbtc/withdrawal'],
  ['DbtcDecline', 'DSM/v1/dbtc/decline'],
  ['RecoveryRing', 'DSM/v1/recovery/ring'],
  ['RecoveryCapsuleKey', 'DSM/v1/recovery/sealing-key'],
  ['RecoveryAuthority', 'DSM/v1/recovery/authority'],
  ['RecoveryStream', 'DSM/v1/recovery/stream'],
  ['RecoveryNonce', 'DSM/v1/recovery/nonce'],
  ['RecoveryCapsule', 'DSM/v1/recovery/capsule'],
  ['RecoverySlot', 'DSM/v1/recovery/slot'],
  ['RecoveryPack', 'DSM/v1/recovery/pack'],
  ['RecoveryTombstone', 'DSM/v1/recovery/tombstone'],
  ['RecoverySuccession', 'DSM/v1/recovery/succession'],
  ['RecoveryAnswer', 'DSM/v1/recovery/answer'],
  ['SourceOnce', 'DSM/v1/source-once'],
  ['ParcelRoot', 'DSM/v1/parcel/root'],
  ['ParcelStatement', 'DSM/v1/parcel/statement'],
  ['TransferCommit', 'DSM/v1/transfer-commit'],
  ['ParcelOutput', 'DSM/v1/parcel/output'],
  ['ParcelSink', 'DSM/v1/parcel/sink'],
  ['ParcelSlot', 'DSM/v1/parcel/slot'],
  ['MintSlot', 'DSM/v1/mint/slot'],
  ['ReissueStatement', 'DSM/v1/reissue/statement'],
  ['ReissueBurn', 'DSM/v1/reissue/burn'],
  ['ReissueSlot', 'DSM/v1/reissue/slot'],
  ['SlotKey', 'DSM/v1/slot/key'],
  ['SlotOwner', 'DSM/v1/slot/owner'],
  ['RecoveryOwner', 'DSM/v1/slot/recovery-owner'],
  ['SlotBody', 'DSM/v1/slot/body'],
  ['SlotWrite', 'DSM/v1/slot/write'],
  ['SlotDelegation', 'DSM/v1/slot/delegation'],
  ['RecoveryStreamSigner', 'DSM/v1/recovery/writer'],
  ['SlotParties', 'DSM/v1/slot/parties'],
  ['ContactCard', 'DSM/v1/card'],
  ['WalletRecord', 'DSM/v1/wallet/record'],
  ['BackupFile', 'DSM/v1/backup/file'],
  ['ContactDocument', 'DSM/v1/contact/signed'],
  ['ContactDocumentKey', 'DSM/v1/contact/sealing-key'],
  ['DeviceKemSeed', 'DSM/v1/kem/seed'],
  ['B0xItem', 'DSM/v1/b0x-item'],
  ['B0xAccess', 'DSM/v1/b0x-access'],
  ['TombstoneSlot', 'DSM/v1/recovery/grave-slot'],
  ['SigningRandomness', 'DSM/v1/test/signing-randomness'],
  ['ReproducibleEntropy', 'DSM/v1/test/entropy'],
  ['Fixture', 'DSM/v1/test/fixture'],
  ['SealRandomness', 'DSM/v1/b0x-seal-randomness'],
  ['B0xRelationship', 'DSM/v1/b0x-relationship'],
  ['B0xReplyTo', 'DSM/v1/b0x-reply-to'],
  ['B0xBlind', 'DSM/v1/b0x-blind'],
  ['GenesisBlind', 'DSM/v1/slot/genesis-blind'],
  ['DeviceSlots', 'DSM/v1/slot/device'],
  ['AnchorSlot', 'DSM/v1/anchor/slot'],
  ['AnchorSeal', 'DSM/v1/anchor/seal'],
  ['ParcelSeal', 'DSM/v1/parcel/seal'],
  ['SealedObjectLocator', 'DSM/v1/sealed-object/locator'],
  ['SealedObject', 'DSM/v1/sealed-object/seal'],
  ['MintSeal', 'DSM/v1/mint/seal'],
  ['ReissueSeal', 'DSM/v1/reissue/seal'],
  ['EmissionList', 'DSM/v1/djte/list'],
  ['EmissionSeal', 'DSM/v1/djte/seal'],
  ['SlotAuthority', 'DSM/v1/slot/authority'],
  ['RecoverySeal', 'DSM/v1/recovery/record-seal'],
  ['DlvSlot', 'DSM/v1/dlv/slot'],
  ['DlvSeal', 'DSM/v1/dlv/seal'],
];

/** name → label */
export const TAGS = Object.freeze(Object.fromEntries(TAG_TABLE));

const labels = new Set(TAG_TABLE.map(([, l]) => l));
if (labels.size !== TAG_TABLE.length) throw new Error('tag table: duplicate label');

/** H(tag, ...fields): `tag` is a table name (e.g. 'DeviceHead'); fields are Uint8Arrays. */
export function H(tag, ...fields) {
  const label = TAGS[tag];
  if (label === undefined) throw new Error(`unknown tag ${tag}`);
  return hashLabel(label, ...fields);
}

/** The same hash for a raw label (used for the `tag.<label>` vectors). */
export function hashLabel(label, ...fields) {
  const h = blake3.create({ dkLen: 32 });
  const l = utf8(label);
  h.update(u32be(l.length)); h.update(l);
  for (const f of fields) {
    if (!(f instanceof Uint8Array)) throw new TypeError('hash field is not bytes');
    h.update(u32be(f.length)); h.update(f);
  }
  return h.digest();
}
