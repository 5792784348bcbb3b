/**
 * Strict canonical decoder and encoder, PROTOCOL.md §3, driven by schema.mjs.
 *
 * decode(type, bytes) refuses, with a DecodeError naming the rule, every input that is not
 * exactly what a deterministic proto3 encoder writes for the schema: wire types other than
 * 0 and 2, field 0, unknown fields, fields out of ascending order or repeated, explicit
 * defaults, non-minimal / over-long / overflowing varints, wrong fixed lengths, missing
 * required fields, trailing or truncated bytes, broken domain rules (domain.mjs); and, as the
 * last line of defence, anything that does not re-encode to the same bytes (NotCanonical).
 * The size caps of §3 are checked on the raw length first (TooLarge).
 *
 * Decoded values: bytes → Uint8Array, uint64 → BigInt, uint32 / enum → Number, absent
 * optional sub-messages and absent optional fixed-length bytes → undefined, absent
 * variable bytes → empty Uint8Array, absent scalars → 0n / 0, repeated → arrays.
 */
import { SCHEMA, ENUMS, SIZE_CAPS } from './schema.mjs';
import { DecodeError } from './errors.mjs';
import { validate } from './domain.mjs';
import { concat, equal } from './bytes.mjs';

const MAX_DEPTH = 32;
const U64_MAX = (1n << 64n) - 1n;

function readVarint(buf, pos, path) {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; ; i++) {
    if (pos + i >= buf.length) throw new DecodeError('Truncated', 'varint runs past the end', path);
    if (i >= 10) throw new DecodeError('NonMinimalVarint', 'varint longer than 10 bytes', path);
    const b = buf[pos + i];
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) throw new DecodeError('NonMinimalVarint', 'varint has a trailing zero group', path);
      if (v > U64_MAX) throw new DecodeError('NonMinimalVarint', 'varint overflows 64 bits', path);
      return [v, pos + i + 1];
    }
  }
}

const varintLen = (v) => { v = BigInt(v); let n = 1; while (v >= 0x80n) { v >>= 7n; n++; } return n; };

const wireTypeOf = (kind) => (kind === 'uint64' || kind === 'uint32' || kind === 'enum' ? 0 : 2);

function emptyObject(type) {
  const o = {};
  for (const fd of SCHEMA[type]) {
    if (fd.repeated) o[fd.name] = [];
    else if (fd.kind === 'uint64') o[fd.name] = 0n;
    else if (fd.kind === 'uint32' || fd.kind === 'enum') o[fd.name] = 0;
    else if (fd.kind === 'bytes') o[fd.name] = new Uint8Array(0);
    else o[fd.name] = undefined;
  }
  return o;
}

function decodeMessage(type, buf, path, depth) {
  if (depth > MAX_DEPTH) throw new DecodeError('Invalid', 'nesting too deep', path);
  const schema = SCHEMA[type];
  if (!schema) throw new Error(`no schema for ${type}`);
  const byNum = new Map(schema.map((fd) => [fd.num, fd]));
  const obj = emptyObject(type);
  const seen = new Set();
  let pos = 0;
  let last = 0;
  while (pos < buf.length) {
    let tag;
    [tag, pos] = readVarint(buf, pos, path);
    const wt = Number(tag & 7n);
    const num = tag >> 3n;
    if (wt !== 0 && wt !== 2) throw new DecodeError('WireType', `wire type ${wt} (only 0 and 2 occur)`, path);
    if (num === 0n) throw new DecodeError('WireType', 'field number 0', path);
    const fd = num <= 0xffffn ? byNum.get(Number(num)) : undefined;
    if (!fd) throw new DecodeError('UnexpectedField', `unknown field ${num} in ${type}`, path);
    const fpath = `${path}.${fd.name}`;
    if (wt !== wireTypeOf(fd.kind)) throw new DecodeError('WireType', `wire type ${wt} for a ${fd.kind} field`, fpath);
    if (fd.num < last) throw new DecodeError('UnexpectedField', `field ${fd.num} after field ${last} (out of order)`, fpath);
    if (fd.num === last && !fd.repeated) throw new DecodeError('UnexpectedField', `non-repeated field ${fd.num} appears twice`, fpath);
    // A required field passed over is Missing as soon as a later field appears (§3).
    for (const r of schema) {
      if (r.req && r.num > last && r.num < fd.num && !seen.has(r.num)) {
        throw new DecodeError('Missing', `required field ${r.num} (${r.name}) absent`, `${path}.${r.name}`);
      }
    }
    last = fd.num;
    seen.add(fd.num);
    let value;
    if (wt === 0) {
      let v;
      [v, pos] = readVarint(buf, pos, fpath);
      if (v === 0n) throw new DecodeError('DefaultPresent', 'a zero scalar is written explicitly', fpath);
      if (fd.kind === 'uint64') value = v;
      else if (fd.kind === 'uint32') {
        if (v > 0xffffffffn) throw new DecodeError('Invalid', 'uint32 value out of range', fpath);
        value = Number(v);
      } else {
        const known = Object.values(ENUMS[fd.enum]);
        if (v > 0xffffffffn || !known.includes(Number(v))) throw new DecodeError('Invalid', `unknown ${fd.enum} value ${v}`, fpath);
        value = Number(v);
      }
    } else {
      let len;
      [len, pos] = readVarint(buf, pos, fpath);
      if (len > BigInt(buf.length - pos)) throw new DecodeError('Truncated', 'length runs past the end', fpath);
      const data = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
      if (fd.kind === 'msg') {
        value = decodeMessage(fd.type, data, fd.repeated ? `${fpath}[${obj[fd.name].length}]` : fpath, depth + 1);
      } else {
        if (data.length === 0 && !fd.repeated) throw new DecodeError('DefaultPresent', 'empty bytes written explicitly', fpath);
        if (fd.kind === 'bytes32' && data.length !== 32) throw new DecodeError('Length', `${data.length} bytes, not 32`, fpath);
        if (fd.kind === 'u128be' && data.length !== 16) throw new DecodeError('Length', `${data.length} bytes, not 16`, fpath);
        value = data.slice();
      }
    }
    if (fd.repeated) obj[fd.name].push(value);
    else obj[fd.name] = value;
  }
  for (const fd of schema) {
    if (fd.req && !seen.has(fd.num)) throw new DecodeError('Missing', `required field ${fd.num} (${fd.name}) absent`, `${path}.${fd.name}`);
  }
  validate(type, obj, path);
  return obj;
}

/** Encode a decoded-shape object of `type` canonically. */
export function encode(type, obj) {
  const sizes = new Map();
  const out = new Uint8Array(sizeOf(type, obj, sizes));
  const end = writeInto(type, obj, out, 0, sizes);
  if (end !== out.length) throw new Error('encoder size mismatch');
  return out;
}

/** Present values of a field, in order. */
function present(fd, obj) {
  const vals = fd.repeated ? obj[fd.name] ?? [] : [obj[fd.name]];
  return vals.filter((v) => {
    if (v === undefined || v === null) return false;
    if (fd.kind === 'msg') return true;
    if (wireTypeOf(fd.kind) === 0) return BigInt(v) !== 0n;
    return fd.repeated || v.length > 0;
  });
}

function sizeOf(type, obj, sizes) {
  let n = 0;
  for (const fd of SCHEMA[type]) {
    for (const v of present(fd, obj)) {
      n += varintLen(fd.num << 3);
      if (wireTypeOf(fd.kind) === 0) n += varintLen(v);
      else {
        const len = fd.kind === 'msg' ? sizeOf(fd.type, v, sizes) : v.length;
        n += varintLen(len) + len;
      }
    }
  }
  sizes.set(obj, n);
  return n;
}

function putVarint(out, pos, v) {
  v = BigInt(v);
  while (v >= 0x80n) { out[pos++] = Number(v & 0x7fn) | 0x80; v >>= 7n; }
  out[pos++] = Number(v);
  return pos;
}

function writeInto(type, obj, out, pos, sizes) {
  for (const fd of SCHEMA[type]) {
    for (const v of present(fd, obj)) {
      const wt = wireTypeOf(fd.kind);
      pos = putVarint(out, pos, (fd.num << 3) | wt);
      if (wt === 0) pos = putVarint(out, pos, v);
      else if (fd.kind === 'msg') {
        pos = putVarint(out, pos, sizes.get(v));
        pos = writeInto(fd.type, v, out, pos, sizes);
      } else {
        pos = putVarint(out, pos, v.length);
        out.set(v, pos);
        pos += v.length;
      }
    }
  }
  return pos;
}

/**
 * Strictly decode `bytes` as message `type` (a name of schema.mjs, e.g. 'Receipt').
 * Throws DecodeError on any non-canonical input.
 */
export function decode(type, bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decode expects a Uint8Array');
  const cap = SIZE_CAPS[type];
  if (cap !== undefined && bytes.length > cap) throw new DecodeError('TooLarge', `${bytes.length} bytes, cap ${cap}`, type);
  const obj = decodeMessage(type, bytes, type, 0);
  const again = encode(type, obj);
  if (!equal(again, bytes)) throw new DecodeError('NotCanonical', 'does not re-encode to the input', type);
  return obj;
}

export { concat };
