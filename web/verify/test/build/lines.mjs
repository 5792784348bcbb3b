/**
 * Test-only builder: one line of the vector file (PROTOCOL.md §10 format
 * `name <TAB> proto message type or '-' <TAB> hex`) from a message or from raw bytes.
 */
import { encode } from '../../src/codec.mjs';
import { bytesToHex } from '../../src/bytes.mjs';

/** A message vector: the canonical encoding (§3) of `obj` as `type`. */
export const msg = (name, type, obj) => ({ name, type: `dsm.v1.${type}`, hex: bytesToHex(encode(type, obj)) });

/** A '-' vector: raw bytes (a digest, an id, a key). */
export const raw = (name, bytes) => ({ name, type: '-', hex: bytesToHex(bytes) });
