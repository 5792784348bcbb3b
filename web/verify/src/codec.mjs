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
import { afterField, ADMISSION_KINDS } from './domain.mjs';
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

/**
 * Reads the key at `pos` (§3 rules 1 and 4): its field number and wire type. A number past
 * 32 bits is an unknown field; field 0 and wire types other than 0 and 2 are `WireType`.
 */
function peekKey(buf, pos, path) {
  if (pos >= buf.length) return null;
  const [tag, after] = readVarint(buf, pos, path);
  const num = tag >> 3n;
  const wt = Number(tag & 7n);
  if (num > 0xffffffffn) throw new DecodeError('UnexpectedField', `field number ${num}`, path);
  if (num === 0n) throw new DecodeError('WireType', 'field number 0', path);
  if (wt !== 0 && wt !== 2) throw new DecodeError('WireType', `field ${num} with wire type ${wt}`, path);
  return { num: Number(num), wt, after };
}

/** The value of field `fd` whose key ends at `pos`: [value, position after it]. */
function readValue(fd, buf, pos, fpath, depth) {
  if (wireTypeOf(fd.kind) === 0) {
    const [v, after] = readVarint(buf, pos, fpath);
    if (v === 0n) throw new DecodeError('DefaultPresent', 'a zero scalar is written explicitly', fpath);
    if (fd.kind === 'uint64') return [v, after];
    if (fd.kind === 'uint32') {
      if (v > 0xffffffffn) throw new DecodeError('Invalid', 'uint32 value out of range', fpath);
      return [Number(v), after];
    }
    const known = Object.values(ENUMS[fd.enum]);
    if (v > 0xffffffffn || !known.includes(Number(v))) throw new DecodeError('Invalid', `unknown ${fd.enum} value ${v}`, fpath);
    return [Number(v), after];
  }
  const [len, start] = readVarint(buf, pos, fpath);
  if (len > BigInt(buf.length - start)) throw new DecodeError('Truncated', 'length runs past the end', fpath);
  const data = buf.subarray(start, start + Number(len));
  const after = start + Number(len);
  if (fd.kind === 'msg') return [decodeMessage(fd.type, data, fpath, depth + 1), after];
  if (data.length === 0 && !fd.repeated) throw new DecodeError('DefaultPresent', 'empty bytes written explicitly', fpath);
  if (fd.kind === 'bytes32' && data.length !== 32) throw new DecodeError('Length', `${data.length} bytes, not 32`, fpath);
  if (fd.kind === 'u128be' && data.length !== 16) throw new DecodeError('Length', `${data.length} bytes, not 16`, fpath);
  if (fd.maxLen !== undefined && data.length > fd.maxLen) throw new DecodeError('Length', `${data.length} bytes, over ${fd.maxLen}`, fpath);
  return [data.slice(), after];
}

/**
 * §3 "Reading a message": the schema's fields in ascending number; for each, a key of
 * that number is read (wire type, count, value), a lower one is `UnexpectedField`, a higher
 * one or the end means absent (`Missing` when required); the field's domain rules follow
 * (domain.mjs). After the last field, anything left is `UnexpectedField`. `nest` counts
 * LineageManifest levels for the nesting rule of §5.6.
 */
function decodeMessage(type, buf, path, depth, nest = 0) {
  if (depth > MAX_DEPTH) throw new DecodeError('Invalid', 'nesting too deep', path);
  let fields = SCHEMA[type];
  if (!fields) throw new Error(`no schema for ${type}`);
  const obj = emptyObject(type);
  const pending = [];
  let pos = 0;
  for (let i = 0; i < fields.length; i++) {
    const fd = fields[i];
    const fpath = `${path}.${fd.name}`;
    let count = 0;
    for (;;) {
      const key = peekKey(buf, pos, path);
      if (key === null || key.num > fd.num) break;
      if (key.num < fd.num) throw new DecodeError('UnexpectedField', `field ${key.num} before field ${fd.num} (out of order, repeated or unknown)`, path);
      if (key.wt !== wireTypeOf(fd.kind)) throw new DecodeError('WireType', `wire type ${key.wt} for a ${fd.kind} field`, fpath);
      if (fd.repeated && count === fd.max) throw new DecodeError('TooMany', `field ${fd.num} (${fd.name}) has more than ${fd.max}`, fpath);
      if (fd.nest) {
        // §5.6: consumed manifests are read as bytes first, then each is checked against
        // the nesting rule and decoded (below).
        const [, after] = readValue({ kind: 'bytes', repeated: true }, buf, key.after, fpath, depth);
        pending.push([key.after, after]);
        pos = after;
        count++;
        continue;
      }
      const [value, after] = readValue(fd, buf, key.after, fd.repeated ? `${fpath}[${count}]` : fpath, depth);
      pos = after;
      count++;
      if (fd.repeated) obj[fd.name].push(value);
      else { obj[fd.name] = value; break; }
    }
    for (const [at, end] of pending.splice(0)) {
      if (obj.verified !== undefined || nest >= fd.nest) {
        throw new DecodeError('Invalid', `consumed manifests follow a root only, at most ${fd.nest} deep`, fpath);
      }
      const [, start] = readVarint(buf, at, fpath);
      obj[fd.name].push(decodeMessage(fd.type, buf.subarray(start, end), `${fpath}[${obj[fd.name].length}]`, depth + 1, nest + 1));
    }
    if (fd.req && count === 0) throw new DecodeError('Missing', `required field ${fd.num} (${fd.name}) absent`, fpath);
    afterField(type, fd.num, obj, path);
    if (type === 'Admission' && fd.num === 1) {
      // §15.2: the kind selects the fields that follow.
      fields = [fd, ...ADMISSION_KINDS[obj.kind].map(([num, r]) => ({ ...SCHEMA.Admission.find((x) => x.num === num), req: r === 'req' }))];
    }
  }
  const key = peekKey(buf, pos, path);
  if (key !== null) throw new DecodeError('UnexpectedField', `field ${key.num} after the last field of ${type}`, path);
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
