(() => {
  var __defProp = Object.defineProperty;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

  // src/index.mjs
  var index_exports = {};
  __export(index_exports, {
    DecodeError: () => DecodeError,
    H: () => H,
    SIGNATURE_CONTEXT: () => SIGNATURE_CONTEXT,
    SMT_EMPTY: () => EMPTY,
    SmtError: () => SmtError,
    TAGS: () => TAGS,
    TAG_TABLE: () => TAG_TABLE,
    anchorSlot: () => anchorSlot,
    b0xAddress: () => b0xAddress,
    b0xReadMessage: () => b0xReadMessage,
    bytesToHex: () => bytesToHex,
    decode: () => decode,
    deviceSlotsOwner: () => deviceSlotsOwner,
    encode: () => encode,
    hashLabel: () => hashLabel,
    hexToBytes: () => hexToBytes,
    hopCommit: () => hopCommit,
    objectAddress: () => objectAddress,
    objects: () => objects_exports,
    openSealed: () => openSealed,
    outputId: () => outputId,
    resolveManifest: () => resolveManifest,
    rootAfterSet: () => rootAfterSet,
    rootId: () => rootId,
    sink: () => sink,
    statementDigest: () => statementDigest,
    verifyB0xRead: () => verifyB0xRead,
    verifyEquivocationProof: () => verifyEquivocationProof,
    verifyHop: () => verifyHop,
    verifyOwnedPut: () => verifyOwnedPut,
    verifyParcelFork: () => verifyParcelFork,
    verifyReceipt: () => verifyReceipt,
    verifyRefusal: () => verifyRefusal,
    verifySignature: () => verifySignature,
    verifySignedProposal: () => verifySignedProposal,
    verifySmt: () => verifySmt
  });

  // src/schema.mjs
  var f = (num, name, kind, opts = {}) => ({ num, name, kind, ...opts });
  var req = { req: true };
  var rep = { repeated: true };
  var ENUMS = {
    SuiteId: { ML_DSA_65: 1, SLH_DSA_SHA2_128F: 2 },
    // proto/dsm.proto lists 0..6; PROTOCOL.md §5.3 adds SUCCEED 7 and RECLAIM 8 (GAPS.md).
    TransitionKind: { CREATE: 0, DEBIT: 1, CREDIT: 2, ALLOCATION: 3, REFUSE: 4, RELEASE: 5, BURN: 6, SUCCEED: 7, RECLAIM: 8 }
  };
  var SCHEMA = {
    PublicKey: [f(1, "suite", "enum", { enum: "SuiteId" }), f(2, "key", "bytes")],
    Signature: [f(1, "suite", "enum", { enum: "SuiteId" }), f(2, "signature", "bytes")],
    EntropyReveal: [f(1, "contributor", "bytes32", req), f(2, "secret", "bytes32", req)],
    GenesisRecord: [
      f(1, "founding_key", "msg", { type: "PublicKey", ...req }),
      f(2, "contributions", "msg", { type: "EntropyReveal", ...rep, max: 16 }),
      f(3, "recovery_authority", "msg", { type: "PublicKey" })
    ],
    DeviceIdentity: [f(1, "genesis", "bytes32", req), f(2, "public_key", "msg", { type: "PublicKey", ...req })],
    Balance: [f(1, "token", "bytes32", req), f(2, "amount", "u128be", req)],
    DeviceHead: [
      f(1, "device", "bytes32", req),
      f(2, "height", "uint64"),
      f(3, "parent", "bytes32", req),
      f(4, "smt_root", "bytes32", req),
      f(5, "balances", "msg", { type: "Balance", ...rep, max: 64 }),
      f(6, "kind", "enum", { enum: "TransitionKind" }),
      f(7, "cause", "bytes32", req)
    ],
    RelationshipStep: [
      f(1, "relationship", "bytes32", req),
      f(2, "parent_tip", "bytes32", req),
      f(3, "sender", "bytes32", req),
      f(4, "receiver", "bytes32", req),
      f(5, "token", "bytes32", req),
      f(6, "amount", "u128be", req),
      f(7, "sender_parent_head", "bytes32", req)
    ],
    SmtLeaf: [f(1, "key", "bytes32", req), f(2, "value", "bytes32", req)],
    SmtProof: [f(1, "siblings", "bytes32", { ...rep, max: 256 }), f(2, "terminal", "msg", { type: "SmtLeaf" })],
    Proposal: [
      f(1, "step", "msg", { type: "RelationshipStep", ...req }),
      f(2, "sender", "msg", { type: "DeviceIdentity", ...req }),
      f(3, "sender_parent_head", "msg", { type: "DeviceHead", ...req }),
      f(4, "sender_child_head", "msg", { type: "DeviceHead", ...req }),
      f(5, "sender_proof", "msg", { type: "SmtProof", ...req }),
      f(6, "parcels", "msg", { type: "ParcelStatement", ...req })
    ],
    SignedProposal: [f(1, "proposal", "msg", { type: "Proposal", ...req }), f(2, "signature", "msg", { type: "Signature", ...req })],
    Acceptance: [
      f(1, "proposal_commit", "bytes32", req),
      f(2, "receiver", "msg", { type: "DeviceIdentity", ...req }),
      f(3, "receiver_parent_head", "msg", { type: "DeviceHead", ...req }),
      f(4, "receiver_child_head", "msg", { type: "DeviceHead", ...req }),
      f(5, "receiver_proof", "msg", { type: "SmtProof", ...req }),
      f(6, "crossing", "msg", { type: "RelationshipStep" })
    ],
    SignedAcceptance: [f(1, "acceptance", "msg", { type: "Acceptance", ...req }), f(2, "signature", "msg", { type: "Signature", ...req })],
    Receipt: [f(1, "proposal", "msg", { type: "SignedProposal", ...req }), f(2, "acceptance", "msg", { type: "SignedAcceptance", ...req })],
    Refusal: [
      f(1, "proposal_commit", "bytes32", req),
      f(2, "receiver", "msg", { type: "DeviceIdentity", ...req }),
      f(3, "receiver_parent_head", "msg", { type: "DeviceHead", ...req }),
      f(4, "receiver_child_head", "msg", { type: "DeviceHead", ...req }),
      f(5, "receiver_proof", "msg", { type: "SmtProof", ...req }),
      f(6, "reason", "uint64"),
      f(7, "parcels", "msg", { type: "ParcelStatement", ...req }),
      f(8, "refused_input", "bytes32"),
      f(9, "crossing", "msg", { type: "RelationshipStep" }),
      f(10, "behind", "msg", { type: "RelationshipStep", ...rep, max: 3 })
    ],
    SignedRefusal: [f(1, "refusal", "msg", { type: "Refusal", ...req }), f(2, "signature", "msg", { type: "Signature", ...req })],
    Statement: [
      f(1, "proposal", "msg", { type: "SignedProposal" }),
      f(2, "acceptance", "msg", { type: "SignedAcceptance" }),
      f(3, "refusal", "msg", { type: "SignedRefusal" })
    ],
    EquivocationProof: [
      f(1, "first", "msg", { type: "Statement" }),
      f(2, "second", "msg", { type: "Statement" }),
      f(3, "parcel_fork", "msg", { type: "ParcelFork" })
    ],
    ParcelOutput: [f(1, "input", "uint32"), f(2, "to", "bytes32", req), f(3, "amount", "u128be", req)],
    ParcelStatement: [
      f(1, "holder", "bytes32", req),
      f(2, "inputs", "bytes32", { ...rep, max: 64 }),
      f(3, "outputs", "msg", { type: "ParcelOutput", ...rep, max: 128 })
    ],
    Hop: [
      f(1, "statement", "msg", { type: "ParcelStatement", ...req }),
      f(2, "rest", "bytes32", req),
      f(3, "signature", "msg", { type: "Signature", ...req })
    ],
    LineageManifest: [
      f(1, "parcel", "bytes32", req),
      f(2, "root", "bytes32"),
      f(3, "verified", "bytes32"),
      f(4, "hops", "bytes32", { ...rep, max: 3072 }),
      f(5, "signers", "bytes32", { ...rep, max: 3073 }),
      f(6, "consumed", "msg", { type: "LineageManifest", ...rep, max: 64, nest: 4 })
    ],
    ParcelFork: [
      f(1, "signer", "msg", { type: "DeviceIdentity", ...req }),
      f(2, "first", "msg", { type: "Hop", ...req }),
      f(3, "second", "msg", { type: "Hop", ...req })
    ],
    Admission: [
      f(1, "kind", "uint32"),
      f(2, "genesis", "bytes32"),
      f(4, "device", "msg", { type: "PublicKey" }),
      f(5, "admitted", "bytes32", { ...rep, max: 16 }),
      f(6, "delegation", "msg", { type: "Signature" }),
      f(7, "parties", "bytes32", { ...rep, max: 16 }),
      f(8, "genesis_blind", "bytes32"),
      f(9, "device_admission", "msg", { type: "Signature" }),
      f(10, "authority", "msg", { type: "PublicKey" })
    ],
    SlotEntry: [f(1, "owner", "bytes32", req), f(2, "key", "bytes32", req), f(3, "body", "bytes32", req)],
    SlotWrite: [
      f(1, "admission", "msg", { type: "Admission", ...req }),
      f(2, "signer", "msg", { type: "PublicKey", ...req }),
      f(3, "entries", "msg", { type: "SlotEntry", ...rep, max: 64 }),
      f(4, "signature", "msg", { type: "Signature", ...req })
    ],
    OwnedPut: [f(1, "write", "msg", { type: "SlotWrite", ...req }), f(2, "body", "bytes", { maxLen: 237568 })],
    B0xAccess: [
      f(1, "admission", "msg", { type: "Admission", ...req }),
      f(2, "signer", "msg", { type: "PublicKey", ...req }),
      f(3, "signature", "msg", { type: "Signature", ...req })
    ],
    B0xCursor: [f(1, "blind", "bytes32"), f(2, "cursor", "uint64")],
    B0xScope: [f(1, "owner", "bytes32", req), f(2, "entries", "msg", { type: "B0xCursor", ...rep, max: 4096 })],
    B0xRead: [
      f(1, "owner", "bytes32", req),
      f(2, "entries", "msg", { type: "B0xCursor", ...rep, max: 4096 }),
      f(3, "access", "msg", { type: "B0xAccess", ...req })
    ]
  };
  var SIZE_CAPS = {
    Receipt: 131072,
    SignedProposal: 131072,
    SignedAcceptance: 131072,
    Statement: 131072,
    EquivocationProof: 262160,
    DeviceHead: 4040,
    SmtProof: 9060,
    GenesisRecord: 8192
  };

  // src/errors.mjs
  var DecodeError = class extends Error {
    constructor(code, message, path = "") {
      super(`${code}${path ? ` at ${path}` : ""}: ${message}`);
      this.name = "DecodeError";
      this.code = code;
      this.path = path;
      this.detail = message;
    }
  };

  // src/bytes.mjs
  function hexToBytes(hex) {
    const s = hex.trim();
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("not a hex string");
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }
  function bytesToHex(b) {
    let s = "";
    for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
    return s;
  }
  var utf8 = (s) => new TextEncoder().encode(s);
  function concat(...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  function compare(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }
  var equal = (a, b) => a.length === b.length && compare(a, b) === 0;
  function u32be(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0, false);
    return b;
  }
  function u128beToBigInt(b) {
    let v = 0n;
    for (const x of b) v = v << 8n | BigInt(x);
    return v;
  }
  function bigIntToU128be(v) {
    if (v < 0n || v >= 1n << 128n) throw new RangeError("out of u128 range");
    const b = new Uint8Array(16);
    for (let i = 15; i >= 0; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return b;
  }
  var isZero = (b) => b.every((x) => x === 0);

  // node_modules/@noble/hashes/_u64.js
  var U32_MASK64 = /* @__PURE__ */ (() => BigInt(2 ** 32 - 1))();
  var _32n = /* @__PURE__ */ BigInt(32);
  function fromBig(n, le = false) {
    if (le)
      return { h: Number(n & U32_MASK64), l: Number(n >> _32n & U32_MASK64) };
    return { h: Number(n >> _32n & U32_MASK64) | 0, l: Number(n & U32_MASK64) | 0 };
  }
  function split(lst, le = false) {
    const len = lst.length;
    let Ah = new Uint32Array(len);
    let Al = new Uint32Array(len);
    for (let i = 0; i < len; i++) {
      const { h, l } = fromBig(lst[i], le);
      [Ah[i], Al[i]] = [h, l];
    }
    return [Ah, Al];
  }
  var fromNumH = (n) => n / 2 ** 32 | 0;
  var fromNumL = (n) => n >>> 0;
  function setU64FromNum(view, byteOffset, n, isLE3) {
    const h = fromNumH(n);
    const l = fromNumL(n);
    view.setUint32(byteOffset, isLE3 ? l : h, isLE3);
    view.setUint32(byteOffset + 4, isLE3 ? h : l, isLE3);
  }

  // node_modules/@noble/hashes/utils.js
  function isBytes(a) {
    return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a && a.BYTES_PER_ELEMENT === 1;
  }
  var atitle = (title) => title ? `"${title}" ` : "";
  function anumber(n, title = "") {
    if (typeof n !== "number")
      throw new TypeError(atitle(title) + "expected number, got " + typeof n);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(atitle(title) + "expected integer >= 0, got " + n);
    return n;
  }
  function abool(value, title = "") {
    if (typeof value !== "boolean")
      throw new TypeError(atitle(title) + "expected boolean, got type=" + typeof value);
    return value;
  }
  function abytes(value, length, title = "") {
    if (isBytes(value) && (length === void 0 || value.length === length))
      return value;
    if (length !== void 0)
      anumber(length, "length");
    const bytes = isBytes(value);
    const ofLen = length !== void 0 ? ` of length ${length}` : "";
    const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
    const message = atitle(title) + "expected Uint8Array" + ofLen + ", got " + got;
    if (!bytes)
      throw new TypeError(message);
    throw new RangeError(message);
  }
  function copyBytes(bytes) {
    return Uint8Array.from(abytes(bytes));
  }
  function ahash(h) {
    if (typeof h !== "function" || typeof h.create !== "function")
      throw new TypeError("expected hash wrapped by utils.createHasher");
    anumber(h.outputLen);
    anumber(h.blockLen);
    if (h.outputLen < 1 || h.blockLen < 1)
      throw new Error("hash blockLen / outputLen must be >= 1");
  }
  var aobject = (value, label) => {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new TypeError((label === "object" ? "" : `"${label}" `) + "expected object, got type=" + typeof value);
  };
  var aopts = (value, label) => {
    aobject(value, label);
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      throw new TypeError(`"${label}" expected plain object`);
    if (Object.hasOwn(value, "__proto__"))
      throw new TypeError(`"${label}.__proto__" is not allowed`);
  };
  function aexists(instance, checkFinished = true) {
    if (instance.destroyed)
      throw new Error("hash was destroyed");
    if (checkFinished && instance.finished)
      throw new Error("digest() was already called");
  }
  function aoutput(out, instance) {
    abytes(out, void 0, "output");
    const min = instance.outputLen;
    if (!(out.length >= min)) {
      throw new RangeError('"output" expected length >= ' + min);
    }
  }
  function u8(arr) {
    return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  function u32(arr) {
    return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
  }
  function clean(...arrays) {
    for (let i = 0; i < arrays.length; i++) {
      arrays[i].fill(0);
    }
  }
  function createView(arr) {
    return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  function rotr(word, shift) {
    return word << 32 - shift | word >>> shift;
  }
  var isLE = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
  function byteSwap(word) {
    return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
  }
  var swap8IfBE = isLE ? (n) => n : (n) => byteSwap(n) >>> 0;
  function byteSwap32(arr) {
    for (let i = 0; i < arr.length; i++) {
      arr[i] = byteSwap(arr[i]);
    }
    return arr;
  }
  var swap32IfBE = isLE ? (u) => u : byteSwap32;
  var hasHexBuiltin = /* @__PURE__ */ (() => (
    // @ts-ignore
    typeof Uint8Array.from([]).toHex === "function" && typeof Uint8Array.fromHex === "function"
  ))();
  var hexes = /* @__PURE__ */ Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
  function bytesToHex2(bytes) {
    abytes(bytes);
    if (hasHexBuiltin)
      return bytes.toHex();
    let hex = "";
    for (let i = 0; i < bytes.length; i++) {
      hex += hexes[bytes[i]];
    }
    return hex;
  }
  function asciiToBase16(ch) {
    return ch >= 48 && ch <= 57 ? ch - 48 : ch >= 65 && ch <= 70 ? ch - (65 - 10) : ch >= 97 && ch <= 102 ? ch - (97 - 10) : void 0;
  }
  function hexToBytes2(hex) {
    if (typeof hex !== "string")
      throw new TypeError("hex string expected, got " + typeof hex);
    if (hasHexBuiltin) {
      try {
        return Uint8Array.fromHex(hex);
      } catch (error) {
        if (error instanceof SyntaxError)
          throw new RangeError(error.message);
        throw error;
      }
    }
    const hl = hex.length;
    const al = hl / 2;
    if (hl % 2)
      throw new RangeError("hex string expected, got unpadded hex of length " + hl);
    const array = new Uint8Array(al);
    for (let ai = 0, hi = 0; ai < al; ai++, hi += 2) {
      const n1 = asciiToBase16(hex.charCodeAt(hi));
      const n2 = asciiToBase16(hex.charCodeAt(hi + 1));
      if (n1 === void 0 || n2 === void 0) {
        const char = hex[hi] + hex[hi + 1];
        throw new RangeError('hex string expected, got non-hex character "' + char + '" at index ' + hi);
      }
      array[ai] = n1 * 16 + n2;
    }
    return array;
  }
  function concatBytes(...arrays) {
    let sum = 0;
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      abytes(a);
      sum += a.length;
    }
    const res = new Uint8Array(sum);
    for (let i = 0, pad = 0; i < arrays.length; i++) {
      const a = arrays[i];
      res.set(a, pad);
      pad += a.length;
    }
    return res;
  }
  function checkOpts(defaults, opts, title = "opts") {
    aopts(defaults, "defaults");
    if (opts !== void 0)
      aopts(opts, title);
    const merged = Object.assign(/* @__PURE__ */ Object.create(null), defaults, opts);
    return merged;
  }
  function createHasher(hashCons, info = {}) {
    if (typeof hashCons !== "function")
      throw new TypeError('"hashCons" expected function, got type=' + typeof hashCons);
    info = checkOpts({}, info, "info");
    const hashC = (msg, opts) => hashCons(opts).update(msg).digest();
    const tmp = hashCons(void 0);
    hashC.outputLen = tmp.outputLen;
    hashC.blockLen = tmp.blockLen;
    hashC.canXOF = tmp.canXOF;
    hashC.create = (opts) => hashCons(opts);
    Object.assign(hashC, info);
    return Object.freeze(hashC);
  }
  function randomBytes(bytesLength = 32) {
    anumber(bytesLength, "bytesLength");
    const cr = typeof globalThis === "object" ? globalThis.crypto : null;
    if (typeof cr?.getRandomValues !== "function")
      throw new Error("crypto.getRandomValues must be defined");
    if (bytesLength > 65536)
      throw new RangeError(`"bytesLength" expected <= 65536, got ${bytesLength}`);
    return cr.getRandomValues(new Uint8Array(bytesLength));
  }
  var oidNist = (suffix) => ({
    // Current NIST hashAlgs suffixes used here fit in one DER subidentifier octet.
    // Larger suffix values would need base-128 OID encoding and a different length byte.
    oid: Uint8Array.from([6, 9, 96, 134, 72, 1, 101, 3, 4, 2, suffix])
  });

  // node_modules/@noble/hashes/_md.js
  function Chi(a, b, c) {
    return a & b ^ ~a & c;
  }
  function Maj(a, b, c) {
    return a & b ^ a & c ^ b & c;
  }
  var HashMD = class {
    constructor(blockLen, outputLen, padOffset, isLE3) {
      __publicField(this, "blockLen");
      __publicField(this, "outputLen");
      __publicField(this, "canXOF", false);
      __publicField(this, "padOffset");
      __publicField(this, "isLE");
      // For partial updates less than block size
      __publicField(this, "buffer");
      __publicField(this, "view");
      __publicField(this, "finished", false);
      __publicField(this, "length", 0);
      __publicField(this, "pos", 0);
      __publicField(this, "destroyed", false);
      this.blockLen = blockLen;
      this.outputLen = outputLen;
      this.padOffset = padOffset;
      this.isLE = isLE3;
      this.buffer = new Uint8Array(blockLen);
      this.view = createView(this.buffer);
    }
    update(data) {
      aexists(this);
      abytes(data);
      const { view, buffer, blockLen } = this;
      const len = data.length;
      let processed = false;
      for (let pos = 0; pos < len; ) {
        const take = Math.min(blockLen - this.pos, len - pos);
        if (take === blockLen) {
          const dataView = createView(data);
          for (; blockLen <= len - pos; pos += blockLen)
            this.process(dataView, pos);
          processed = true;
          continue;
        }
        buffer.set(pos === 0 && take === len ? data : data.subarray(pos, pos + take), this.pos);
        this.pos += take;
        pos += take;
        if (this.pos === blockLen) {
          this.process(view, 0);
          this.pos = 0;
          processed = true;
        }
      }
      this.length += data.length;
      if (processed)
        this.roundClean();
      return this;
    }
    digestInto(out) {
      aexists(this);
      aoutput(out, this);
      this.finished = true;
      const { buffer, view, blockLen, isLE: isLE3 } = this;
      let { pos } = this;
      buffer[pos++] = 128;
      buffer.fill(0, pos);
      if (this.padOffset > blockLen - pos) {
        this.process(view, 0);
        buffer.fill(0);
      }
      setU64FromNum(view, blockLen - 8, this.length * 8, isLE3);
      this.process(view, 0);
      this.roundClean();
      const oview = out === buffer ? view : createView(out);
      const len = this.outputLen;
      const outLen = len / 4;
      const state = this.get();
      if (len % 4 || outLen > state.length)
        throw new Error("invalid outputLen");
      for (let i = 0; i < outLen; i++)
        oview.setUint32(4 * i, state[i], isLE3);
    }
    digest() {
      const { buffer, outputLen } = this;
      this.digestInto(buffer);
      const res = buffer.slice(0, outputLen);
      this.destroy();
      return res;
    }
    _cloneIntoMeta(to) {
      const { buffer, length, finished, destroyed, pos } = this;
      to.destroyed = destroyed;
      to.finished = finished;
      to.length = length;
      to.pos = pos;
      if (pos)
        to.buffer.set(buffer);
      return to;
    }
    clone() {
      return this._cloneInto();
    }
  };
  var SHA256_IV = /* @__PURE__ */ Uint32Array.from([
    1779033703,
    3144134277,
    1013904242,
    2773480762,
    1359893119,
    2600822924,
    528734635,
    1541459225
  ]);

  // node_modules/@noble/hashes/_blake.js
  function G1s(a, b, c, d, x) {
    a = a + b + x | 0;
    d = rotr(d ^ a, 16);
    c = c + d | 0;
    b = rotr(b ^ c, 12);
    return { a, b, c, d };
  }
  function G2s(a, b, c, d, x) {
    a = a + b + x | 0;
    d = rotr(d ^ a, 8);
    c = c + d | 0;
    b = rotr(b ^ c, 7);
    return { a, b, c, d };
  }

  // node_modules/@noble/hashes/blake2.js
  var _BLAKE2 = class {
    constructor(blockLen, outputLen) {
      __publicField(this, "buffer");
      __publicField(this, "buffer32");
      __publicField(this, "finished", false);
      __publicField(this, "destroyed", false);
      __publicField(this, "length", 0);
      __publicField(this, "pos", 0);
      __publicField(this, "blockLen");
      __publicField(this, "outputLen");
      __publicField(this, "canXOF", false);
      anumber(blockLen);
      anumber(outputLen);
      this.blockLen = blockLen;
      this.outputLen = outputLen;
      this.buffer = new Uint8Array(blockLen);
      this.buffer32 = u32(this.buffer);
    }
    update(data) {
      aexists(this);
      abytes(data);
      const { blockLen, buffer, buffer32 } = this;
      const len = data.length;
      const offset = data.byteOffset;
      const buf = data.buffer;
      for (let pos = 0; pos < len; ) {
        if (this.pos === blockLen) {
          swap32IfBE(buffer32);
          this.compress(buffer32, 0, false);
          swap32IfBE(buffer32);
          this.pos = 0;
        }
        const take = Math.min(blockLen - this.pos, len - pos);
        const dataOffset = offset + pos;
        if (take === blockLen && !(dataOffset % 4) && pos + take < len) {
          const data32 = new Uint32Array(buf, dataOffset, Math.floor((len - pos) / 4));
          swap32IfBE(data32);
          for (let pos32 = 0; pos + blockLen < len; pos32 += buffer32.length, pos += blockLen) {
            this.length += blockLen;
            this.compress(data32, pos32, false);
          }
          swap32IfBE(data32);
          continue;
        }
        buffer.set(pos === 0 && take === len ? data : data.subarray(pos, pos + take), this.pos);
        this.pos += take;
        this.length += take;
        pos += take;
      }
      return this;
    }
    digestInto(out) {
      aexists(this);
      aoutput(out, this);
      if (out.byteOffset & 3)
        throw new RangeError('"output" expected 4-byte aligned byteOffset, got ' + out.byteOffset);
      const { pos, buffer32 } = this;
      this.finished = true;
      this.buffer.fill(0, pos);
      swap32IfBE(buffer32);
      this.compress(buffer32, 0, true);
      swap32IfBE(buffer32);
      const state = this.get();
      const out32 = out === this.buffer ? buffer32 : u32(out);
      const full = Math.floor(this.outputLen / 4);
      for (let i = 0; i < full; i++)
        out32[i] = swap8IfBE(state[i]);
      const tail = this.outputLen % 4;
      if (!tail)
        return;
      const off = full * 4;
      const word = state[full];
      for (let i = 0; i < tail; i++)
        out[off + i] = word >>> 8 * i;
    }
    digest() {
      const { buffer, outputLen } = this;
      this.digestInto(buffer);
      const res = buffer.slice(0, outputLen);
      this.destroy();
      return res;
    }
    _cloneInto(to) {
      const { buffer, length, finished, destroyed, outputLen, pos } = this;
      to || (to = new this.constructor({ dkLen: outputLen }));
      to.set(...this.get());
      to.buffer.set(buffer);
      to.destroyed = destroyed;
      to.finished = finished;
      to.length = length;
      to.pos = pos;
      to.outputLen = outputLen;
      return to;
    }
    clone() {
      return this._cloneInto();
    }
  };
  function _compress(s, offset, msg, rounds, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15) {
    let j = 0;
    for (let i = 0; i < rounds; i++) {
      ({ a: v0, b: v4, c: v8, d: v12 } = G1s(v0, v4, v8, v12, msg[offset + s[j++]]));
      ({ a: v0, b: v4, c: v8, d: v12 } = G2s(v0, v4, v8, v12, msg[offset + s[j++]]));
      ({ a: v1, b: v5, c: v9, d: v13 } = G1s(v1, v5, v9, v13, msg[offset + s[j++]]));
      ({ a: v1, b: v5, c: v9, d: v13 } = G2s(v1, v5, v9, v13, msg[offset + s[j++]]));
      ({ a: v2, b: v6, c: v10, d: v14 } = G1s(v2, v6, v10, v14, msg[offset + s[j++]]));
      ({ a: v2, b: v6, c: v10, d: v14 } = G2s(v2, v6, v10, v14, msg[offset + s[j++]]));
      ({ a: v3, b: v7, c: v11, d: v15 } = G1s(v3, v7, v11, v15, msg[offset + s[j++]]));
      ({ a: v3, b: v7, c: v11, d: v15 } = G2s(v3, v7, v11, v15, msg[offset + s[j++]]));
      ({ a: v0, b: v5, c: v10, d: v15 } = G1s(v0, v5, v10, v15, msg[offset + s[j++]]));
      ({ a: v0, b: v5, c: v10, d: v15 } = G2s(v0, v5, v10, v15, msg[offset + s[j++]]));
      ({ a: v1, b: v6, c: v11, d: v12 } = G1s(v1, v6, v11, v12, msg[offset + s[j++]]));
      ({ a: v1, b: v6, c: v11, d: v12 } = G2s(v1, v6, v11, v12, msg[offset + s[j++]]));
      ({ a: v2, b: v7, c: v8, d: v13 } = G1s(v2, v7, v8, v13, msg[offset + s[j++]]));
      ({ a: v2, b: v7, c: v8, d: v13 } = G2s(v2, v7, v8, v13, msg[offset + s[j++]]));
      ({ a: v3, b: v4, c: v9, d: v14 } = G1s(v3, v4, v9, v14, msg[offset + s[j++]]));
      ({ a: v3, b: v4, c: v9, d: v14 } = G2s(v3, v4, v9, v14, msg[offset + s[j++]]));
    }
    return { v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 };
  }

  // node_modules/@noble/hashes/blake3.js
  var B3_Flags = {
    CHUNK_START: 1,
    CHUNK_END: 2,
    PARENT: 4,
    ROOT: 8,
    KEYED_HASH: 16,
    DERIVE_KEY_CONTEXT: 32,
    DERIVE_KEY_MATERIAL: 64
  };
  var B3_IV = /* @__PURE__ */ SHA256_IV.slice();
  var B3_SIGMA = /* @__PURE__ */ (() => {
    const Id = Array.from({ length: 16 }, (_, i) => i);
    const permute = (arr) => [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8].map((i) => arr[i]);
    const res = [];
    for (let i = 0, v = Id; i < 7; i++, v = permute(v))
      res.push(...v);
    return Uint8Array.from(res);
  })();
  var _BLAKE3 = class __BLAKE3 extends _BLAKE2 {
    constructor(opts = {}, flags = 0) {
      opts = checkOpts({}, opts);
      super(64, opts.dkLen === void 0 ? 32 : opts.dkLen);
      __publicField(this, "canXOF", true);
      __publicField(this, "chunkPos", 0);
      // Position of current block in chunk
      // How many chunks we already have; exact while this stays within
      // JS's safe-integer range.
      __publicField(this, "chunksDone", 0);
      __publicField(this, "flags", 0 | 0);
      __publicField(this, "IV");
      __publicField(this, "state");
      __publicField(this, "stack", []);
      // Output
      __publicField(this, "posOut", 0);
      __publicField(this, "bufferOut32", new Uint32Array(16));
      __publicField(this, "bufferOut");
      // Index of output chunk; exact while this stays within JS's
      // safe-integer range.
      __publicField(this, "chunkOut", 0);
      __publicField(this, "enableXOF", true);
      const { key, context } = opts;
      const hasContext = context !== void 0;
      if (key !== void 0) {
        if (hasContext)
          throw new Error('cannot use both "key" and "context"');
        abytes(key, 32, "key");
        const k = copyBytes(key);
        this.IV = u32(k);
        swap32IfBE(this.IV);
        this.flags = flags | B3_Flags.KEYED_HASH;
      } else if (hasContext) {
        abytes(context, void 0, "context");
        const ctx = context;
        const contextKey = new __BLAKE3({ dkLen: 32 }, B3_Flags.DERIVE_KEY_CONTEXT).update(ctx).digest();
        this.IV = u32(contextKey);
        swap32IfBE(this.IV);
        this.flags = flags | B3_Flags.DERIVE_KEY_MATERIAL;
      } else {
        this.IV = B3_IV;
        this.flags = flags;
      }
      this.state = this.IV.slice();
      this.bufferOut = u8(this.bufferOut32);
    }
    // _BLAKE2's scalar-state hooks are unused here: BLAKE3 keeps its tree/XOF state in arrays and
    // copies it directly in _cloneInto().
    get() {
      return [];
    }
    set() {
    }
    // Truncated chunk/parent compression: seed v8..v15 as IV[0..3], t0, t1,
    // block length, and flags, then keep only the first 8 output words.
    b2Compress(counter, flags, buf, bufPos = 0) {
      const { state: s, pos } = this;
      const t0 = fromNumL(counter);
      const t1 = fromNumH(counter);
      const { v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 } = _compress(B3_SIGMA, bufPos, buf, 7, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], B3_IV[0], B3_IV[1], B3_IV[2], B3_IV[3], t0, t1, pos, flags);
      s[0] = v0 ^ v8;
      s[1] = v1 ^ v9;
      s[2] = v2 ^ v10;
      s[3] = v3 ^ v11;
      s[4] = v4 ^ v12;
      s[5] = v5 ^ v13;
      s[6] = v6 ^ v14;
      s[7] = v7 ^ v15;
    }
    compress(buf, bufPos = 0, isLast = false) {
      let flags = this.flags;
      if (!this.chunkPos)
        flags |= B3_Flags.CHUNK_START;
      if (this.chunkPos === 15 || isLast)
        flags |= B3_Flags.CHUNK_END;
      if (!isLast)
        this.pos = this.blockLen;
      this.b2Compress(this.chunksDone, flags, buf, bufPos);
      this.chunkPos += 1;
      if (this.chunkPos === 16 || isLast) {
        let chunk = this.state;
        this.state = this.IV.slice();
        for (let last, chunks = this.chunksDone + 1; isLast || !(chunks & 1); chunks = Math.floor(chunks / 2)) {
          if (!(last = this.stack.pop()))
            break;
          this.buffer32.set(last, 0);
          this.buffer32.set(chunk, 8);
          this.pos = this.blockLen;
          this.b2Compress(0, this.flags | B3_Flags.PARENT, this.buffer32, 0);
          chunk = this.state;
          this.state = this.IV.slice();
        }
        this.chunksDone++;
        this.chunkPos = 0;
        this.stack.push(chunk);
      }
      this.pos = 0;
    }
    // Overriding hides _BLAKE2's flat implementation, which would otherwise be inherited
    // and silently miss the tree state (CV stack, chunk counters; get()/set() are stubs here).
    _cloneInto(to) {
      const staleOutput = !!to && to.finished && !to.destroyed;
      to = super._cloneInto(to);
      const { IV, flags, state, chunkPos, posOut, chunkOut, stack, chunksDone } = this;
      to.state.set(state);
      to.stack = stack.map((i) => Uint32Array.from(i));
      if (IV === B3_IV) {
        if (to.IV !== B3_IV)
          clean(to.IV);
        to.IV = B3_IV;
      } else if (to.IV === B3_IV) {
        to.IV = IV.slice();
      } else {
        to.IV.set(IV);
      }
      to.flags = flags;
      to.chunkPos = chunkPos;
      to.chunksDone = chunksDone;
      to.posOut = posOut;
      to.chunkOut = chunkOut;
      to.enableXOF = this.enableXOF;
      if (this.finished) {
        to.bufferOut32.set(this.bufferOut32);
      } else if (staleOutput) {
        clean(to.bufferOut32);
      }
      return to;
    }
    destroy() {
      this.destroyed = true;
      clean(this.state, this.buffer32, this.bufferOut32);
      if (this.IV !== B3_IV)
        clean(this.IV);
      clean(...this.stack);
    }
    // Root/XOF compression: rerun the same ROOT inputs with incrementing output
    // counter `t` and materialize all 16 output words.
    // Same as b2Compress, but doesn't modify state and returns 16 u32 array (instead of 8)
    b2CompressOut() {
      const { state: s, pos, flags, buffer32, bufferOut32: out32 } = this;
      const outCounter = this.chunkOut++;
      const t0 = fromNumL(outCounter);
      const t1 = fromNumH(outCounter);
      swap32IfBE(buffer32);
      const { v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 } = _compress(B3_SIGMA, 0, buffer32, 7, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], B3_IV[0], B3_IV[1], B3_IV[2], B3_IV[3], t0, t1, pos, flags);
      out32[0] = v0 ^ v8;
      out32[1] = v1 ^ v9;
      out32[2] = v2 ^ v10;
      out32[3] = v3 ^ v11;
      out32[4] = v4 ^ v12;
      out32[5] = v5 ^ v13;
      out32[6] = v6 ^ v14;
      out32[7] = v7 ^ v15;
      out32[8] = s[0] ^ v8;
      out32[9] = s[1] ^ v9;
      out32[10] = s[2] ^ v10;
      out32[11] = s[3] ^ v11;
      out32[12] = s[4] ^ v12;
      out32[13] = s[5] ^ v13;
      out32[14] = s[6] ^ v14;
      out32[15] = s[7] ^ v15;
      swap32IfBE(buffer32);
      swap32IfBE(out32);
      this.posOut = 0;
    }
    finish() {
      if (this.finished)
        return;
      this.finished = true;
      this.buffer.fill(0, this.pos);
      let flags = this.flags | B3_Flags.ROOT;
      if (this.stack.length) {
        flags |= B3_Flags.PARENT;
        swap32IfBE(this.buffer32);
        this.compress(this.buffer32, 0, true);
        swap32IfBE(this.buffer32);
        this.chunksDone = 0;
        this.pos = this.blockLen;
      } else {
        flags |= (!this.chunkPos ? B3_Flags.CHUNK_START : 0) | B3_Flags.CHUNK_END;
      }
      this.flags = flags;
      this.b2CompressOut();
    }
    writeInto(out) {
      aexists(this, false);
      abytes(out);
      this.finish();
      const { blockLen, bufferOut } = this;
      for (let pos = 0, len = out.length; pos < len; ) {
        if (this.posOut >= blockLen)
          this.b2CompressOut();
        const take = Math.min(blockLen - this.posOut, len - pos);
        out.set(bufferOut.subarray(this.posOut, this.posOut + take), pos);
        this.posOut += take;
        pos += take;
      }
      return out;
    }
    xofInto(out) {
      if (!this.enableXOF)
        throw new Error("no XOF after digest()");
      return this.writeInto(out);
    }
    xof(bytes) {
      anumber(bytes);
      return this.xofInto(new Uint8Array(bytes));
    }
    digestInto(out) {
      aoutput(out, this);
      if (this.finished)
        throw new Error("digest() was already called");
      this.enableXOF = false;
      this.writeInto(out.length === this.outputLen ? out : out.subarray(0, this.outputLen));
      this.destroy();
    }
    digest() {
      const out = new Uint8Array(this.outputLen);
      this.digestInto(out);
      return out;
    }
  };
  var blake3 = /* @__PURE__ */ createHasher((opts = {}) => new _BLAKE3(opts));

  // src/hash.mjs
  var TAG_TABLE = [
    ["EntropyCommitment", "DSM/v1/entropy-commitment"],
    ["Genesis", "DSM/v1/genesis"],
    ["DeviceId", "DSM/v1/device-id"],
    ["RelationshipKey", "DSM/v1/relationship-key"],
    ["RelationshipGenesis", "DSM/v1/relationship-genesis"],
    ["RelationshipTip", "DSM/v1/relationship-tip"],
    ["DeviceHead", "DSM/v1/device-head"],
    ["SmtEmpty", "DSM/v1/smt-empty"],
    ["SmtLeaf", "DSM/v1/smt-leaf"],
    ["SmtNode", "DSM/v1/smt-node"],
    ["ProposalCommit", "DSM/v1/proposal-commit"],
    ["AcceptanceCommit", "DSM/v1/acceptance-commit"],
    ["Receipt", "DSM/v1/receipt"],
    ["Statement", "DSM/v1/statement"],
    ["Token", "DSM/v1/token"],
    ["SlhDsaKeySeed", "DSM/v1/slh-dsa-key-seed"],
    ["DevAllocation", "DSM/v1/dev-allocation"],
    ["RefusalCommit", "DSM/v1/refusal-commit"],
    ["ReleaseTip", "DSM/v1/release-tip"],
    ["ObjectAddress", "DSM/v1/object-address"],
    ["Placement", "DSM/v1/placement"],
    ["B0xAddress", "DSM/v1/b0x-address"],
    ["EntropyContributor", "DSM/v1/entropy-contributor"],
    ["EntropyCeremony", "DSM/v1/entropy-ceremony"],
    ["InsecureTestSignature", "DSM/v1/insecure-test-signature"],
    ["TokenPolicy", "DSM/v1/cpta-policy"],
    ["MintStatement", "DSM/v1/mint-statement"],
    ["BurnStatement", "DSM/v1/burn-statement"],
    ["SourceProof", "DSM/v1/source-proof"],
    ["AllowlistMember", "DSM/v1/allowlist-member"],
    ["DjteJoin", "DSM/v1/djte/join"],
    ["DjteShard", "DSM/v1/djte/shard"],
    ["DjteActive", "DSM/v1/djte/active"],
    ["DjteSeed", "DSM/v1/djte/seed"],
    ["DjteReseed", "DSM/v1/djte/reseed"],
    ["DjteMmrNode", "DSM/v1/djte/mmr-node"],
    ["DjteMmrRoot", "DSM/v1/djte/mmr-root"],
    ["DjteCountLeaf", "DSM/v1/djte/count-leaf"],
    ["DjteCountNode", "DSM/v1/djte/count-node"],
    ["DjteState", "DSM/v1/djte/state"],
    ["DjteSpent", "DSM/v1/djte/spent"],
    ["DjteReceipt", "DSM/v1/djte/receipt"],
    ["DlvVaultId", "DSM/v1/dlv/vault-id"],
    ["DlvAuthorize", "DSM/v1/dlv/authorize"],
    ["DlvLock", "DSM/v1/dlv/lock"],
    ["DlvWorkSeed", "DSM/v1/dlv/work-seed"],
    ["DlvWorkStep", "DSM/v1/dlv/work-step"],
    ["DlvResolution", "DSM/v1/dlv/resolution"],
    ["DbtcDeposit", "DSM/v1/dbtc/deposit"],
    ["DbtcOutpoint", "DSM/v1/dbtc/outpoint"],
    ["DbtcWithdrawal", "DSM/v1/dbtc/withdrawal"],
    ["DbtcDecline", "DSM/v1/dbtc/decline"],
    ["RecoveryRing", "DSM/v1/recovery/ring"],
    ["RecoveryCapsuleKey", "DSM/v1/recovery/sealing-key"],
    ["RecoveryAuthority", "DSM/v1/recovery/authority"],
    ["RecoveryStream", "DSM/v1/recovery/stream"],
    ["RecoveryNonce", "DSM/v1/recovery/nonce"],
    ["RecoveryCapsule", "DSM/v1/recovery/capsule"],
    ["RecoverySlot", "DSM/v1/recovery/slot"],
    ["RecoveryPack", "DSM/v1/recovery/pack"],
    ["RecoveryTombstone", "DSM/v1/recovery/tombstone"],
    ["RecoverySuccession", "DSM/v1/recovery/succession"],
    ["RecoveryAnswer", "DSM/v1/recovery/answer"],
    ["SourceOnce", "DSM/v1/source-once"],
    ["ParcelRoot", "DSM/v1/parcel/root"],
    ["ParcelStatement", "DSM/v1/parcel/statement"],
    ["TransferCommit", "DSM/v1/transfer-commit"],
    ["ParcelOutput", "DSM/v1/parcel/output"],
    ["ParcelSink", "DSM/v1/parcel/sink"],
    ["ParcelSlot", "DSM/v1/parcel/slot"],
    ["MintSlot", "DSM/v1/mint/slot"],
    ["ReissueStatement", "DSM/v1/reissue/statement"],
    ["ReissueBurn", "DSM/v1/reissue/burn"],
    ["ReissueSlot", "DSM/v1/reissue/slot"],
    ["SlotKey", "DSM/v1/slot/key"],
    ["SlotOwner", "DSM/v1/slot/owner"],
    ["RecoveryOwner", "DSM/v1/slot/recovery-owner"],
    ["SlotBody", "DSM/v1/slot/body"],
    ["SlotWrite", "DSM/v1/slot/write"],
    ["SlotDelegation", "DSM/v1/slot/delegation"],
    ["RecoveryStreamSigner", "DSM/v1/recovery/writer"],
    ["SlotParties", "DSM/v1/slot/parties"],
    ["ContactCard", "DSM/v1/card"],
    ["WalletRecord", "DSM/v1/wallet/record"],
    ["BackupFile", "DSM/v1/backup/file"],
    ["ContactDocument", "DSM/v1/contact/signed"],
    ["ContactDocumentKey", "DSM/v1/contact/sealing-key"],
    ["DeviceKemSeed", "DSM/v1/kem/seed"],
    ["B0xItem", "DSM/v1/b0x-item"],
    ["B0xAccess", "DSM/v1/b0x-access"],
    ["TombstoneSlot", "DSM/v1/recovery/grave-slot"],
    ["SigningRandomness", "DSM/v1/test/signing-randomness"],
    ["ReproducibleEntropy", "DSM/v1/test/entropy"],
    ["Fixture", "DSM/v1/test/fixture"],
    ["SealRandomness", "DSM/v1/b0x-seal-randomness"],
    ["B0xRelationship", "DSM/v1/b0x-relationship"],
    ["B0xReplyTo", "DSM/v1/b0x-reply-to"],
    ["B0xBlind", "DSM/v1/b0x-blind"],
    ["GenesisBlind", "DSM/v1/slot/genesis-blind"],
    ["DeviceSlots", "DSM/v1/slot/device"],
    ["AnchorSlot", "DSM/v1/anchor/slot"],
    ["AnchorSeal", "DSM/v1/anchor/seal"],
    ["ParcelSeal", "DSM/v1/parcel/seal"],
    ["SealedObjectLocator", "DSM/v1/sealed-object/locator"],
    ["SealedObject", "DSM/v1/sealed-object/seal"],
    ["MintSeal", "DSM/v1/mint/seal"],
    ["ReissueSeal", "DSM/v1/reissue/seal"],
    ["EmissionList", "DSM/v1/djte/list"],
    ["EmissionSeal", "DSM/v1/djte/seal"],
    ["SlotAuthority", "DSM/v1/slot/authority"],
    ["RecoverySeal", "DSM/v1/recovery/record-seal"],
    ["DlvSlot", "DSM/v1/dlv/slot"],
    ["DlvSeal", "DSM/v1/dlv/seal"]
  ];
  var TAGS = Object.freeze(Object.fromEntries(TAG_TABLE));
  var labels = new Set(TAG_TABLE.map(([, l]) => l));
  if (labels.size !== TAG_TABLE.length) throw new Error("tag table: duplicate label");
  function H(tag, ...fields) {
    const label = TAGS[tag];
    if (label === void 0) throw new Error(`unknown tag ${tag}`);
    return hashLabel(label, ...fields);
  }
  function hashLabel(label, ...fields) {
    const h = blake3.create({ dkLen: 32 });
    const l = utf8(label);
    h.update(u32be(l.length));
    h.update(l);
    for (const f2 of fields) {
      if (!(f2 instanceof Uint8Array)) throw new TypeError("hash field is not bytes");
      h.update(u32be(f2.length));
      h.update(f2);
    }
    return h.digest();
  }

  // src/domain.mjs
  var SUITES = {
    1: { name: "ml-dsa-65", key: 1952, sig: 3309 },
    2: { name: "slh-dsa-sha2-128f", key: 32, sig: 17088 }
  };
  var inv = (msg, path) => new DecodeError("Invalid", msg, path);
  function strictlyAscending(list, key, what, path) {
    for (let i = 1; i < list.length; i++) {
      if (compare(key(list[i - 1]), key(list[i])) >= 0) throw inv(`${what} not strictly ascending`, path);
    }
  }
  function suiteOf(obj, path) {
    if (obj.suite === 0) throw inv("suite absent (SUITE_UNSPECIFIED is never valid)", `${path}.suite`);
    const s = SUITES[obj.suite];
    if (!s) throw inv(`unknown suite ${obj.suite}`, `${path}.suite`);
    return s;
  }
  function hopCommit(hop) {
    return H("TransferCommit", H("ParcelStatement", encode("ParcelStatement", hop.statement)), hop.rest);
  }
  var RULES = {
    PublicKey: {
      1: (o, p) => {
        suiteOf(o, p);
      },
      2: (o, p) => {
        const s = suiteOf(o, p);
        if (o.key.length !== s.key) throw new DecodeError("Length", `${s.name} key of ${o.key.length} bytes, not ${s.key}`, `${p}.key`);
      }
    },
    Signature: {
      1: (o, p) => {
        suiteOf(o, p);
      },
      2: (o, p) => {
        const s = suiteOf(o, p);
        if (o.signature.length !== s.sig) throw new DecodeError("Length", `${s.name} signature of ${o.signature.length} bytes, not ${s.sig}`, `${p}.signature`);
      }
    },
    GenesisRecord: {
      // §4.2: at least one contribution, strictly ascending by contributor.
      2: (o, p) => {
        if (o.contributions.length < 1) throw inv("no contribution", `${p}.contributions`);
        strictlyAscending(o.contributions, (c) => c.contributor, "contributions", `${p}.contributions`);
      }
    },
    Balance: {
      // §5.1: amount > 0.
      2: (o, p) => {
        if (isZero(o.amount)) throw inv("zero balance", `${p}.amount`);
      }
    },
    DeviceHead: {
      // §5.1: strictly ascending by token.
      5: (o, p) => strictlyAscending(o.balances, (b) => b.token, "balances", `${p}.balances`)
    },
    ParcelOutput: {
      // §5.6: an input index below 64 (MAX_INPUTS); a non-zero amount.
      1: (o, p) => {
        if (o.input > 63) throw inv("input index over 63", `${p}.input`);
      },
      3: (o, p) => {
        if (isZero(o.amount)) throw inv("zero amount", `${p}.amount`);
      }
    },
    ParcelStatement: {
      // §5.6 "Decoding refuses (Invalid)", in this order.
      3: (o, p) => {
        if (o.inputs.length === 0) throw inv("no input", `${p}.inputs`);
        strictlyAscending(o.inputs, (x) => x, "inputs", `${p}.inputs`);
        for (let i = 1; i < o.outputs.length; i++) {
          const a = o.outputs[i - 1], b = o.outputs[i];
          if (a.input > b.input || a.input === b.input && compare(a.to, b.to) >= 0) throw inv("outputs not strictly ascending by (input, to)", `${p}.outputs`);
        }
        const per = new Array(o.inputs.length).fill(0);
        for (const out of o.outputs) {
          if (out.input >= o.inputs.length) throw inv("an output names no input", `${p}.outputs`);
          per[out.input]++;
        }
        if (per.some((n) => n === 0 || n > 2)) throw inv("an input with zero or more than two outputs", `${p}.outputs`);
      }
    },
    Statement: {
      3: (o, p) => {
        const n = [o.proposal, o.acceptance, o.refusal].filter((x) => x !== void 0).length;
        if (n !== 1) throw inv("a statement is exactly one of proposal, acceptance, refusal", p);
      }
    },
    EquivocationProof: {
      // §8.2: exactly one form; the statement form strictly ascending by H(Statement, enc(·)).
      3: (o, p) => {
        const pair = o.first !== void 0 && o.second !== void 0 && o.parcel_fork === void 0;
        const fork = o.first === void 0 && o.second === void 0 && o.parcel_fork !== void 0;
        if (!pair && !fork) throw inv("a proof is two statements or one parcel fork", p);
        if (pair) {
          const a = H("Statement", encode("Statement", o.first));
          const b = H("Statement", encode("Statement", o.second));
          if (compare(a, b) >= 0) throw inv("statements not in strictly ascending H(Statement) order", p);
        }
      }
    },
    ParcelFork: {
      // §5.6: first before second by commit, strictly.
      3: (o, p) => {
        if (compare(hopCommit(o.first), hopCommit(o.second)) >= 0) throw inv("hops not strictly ascending by commit", p);
      }
    },
    LineageManifest: {
      // §5.6 "Shipping a lineage"; the nesting rule is checked per consumed manifest, before
      // it is decoded (codec.mjs, `nest`).
      3: (o, p) => {
        if (o.root === void 0 === (o.verified === void 0)) throw inv("exactly one of root and verified", p);
      },
      5: (o, p) => strictlyAscending(o.signers, (x) => x, "signers", `${p}.signers`)
    },
    Admission: {
      // §15.2: kind 1–6 selects the fields (ADMISSION_KINDS); lists non-empty, ascending.
      1: (o, p) => {
        if (!ADMISSION_KINDS[o.kind]) throw inv(`unknown admission kind ${o.kind}`, `${p}.kind`);
      },
      5: (o, p) => {
        if (o.admitted.length === 0) throw inv("no admitted key", `${p}.admitted`);
        strictlyAscending(o.admitted, (x) => x, "admitted", `${p}.admitted`);
      },
      7: (o, p) => {
        if (o.parties.length === 0) throw inv("no admitted device", `${p}.parties`);
        strictlyAscending(o.parties, (x) => x, "parties", `${p}.parties`);
      },
      9: (o, p) => {
        if (o.kind === 2 && o.device === void 0 !== (o.device_admission === void 0)) {
          throw inv("a device and its admission of the authority go together", p);
        }
      }
    },
    SlotWrite: {
      // §15.2: at least one entry, strictly ascending by owner ‖ key ‖ body.
      3: (o, p) => {
        if (o.entries.length < 1) throw inv("no entry", `${p}.entries`);
        strictlyAscending(o.entries, (e) => concat(e.owner, e.key, e.body), "entries", `${p}.entries`);
      }
    }
  };
  var ADMISSION_KINDS = {
    1: [[2, "req"]],
    2: [[4], [8, "req"], [9]],
    3: [[5]],
    4: [[4, "req"], [6, "req"], [8, "req"], [9, "req"], [10, "req"]],
    5: [[7], [8, "req"]],
    6: [[8, "req"]]
  };
  function afterField(type, num, obj, path) {
    const rule = RULES[type]?.[num];
    if (rule) rule(obj, path);
  }

  // src/codec.mjs
  var MAX_DEPTH = 32;
  var U64_MAX = (1n << 64n) - 1n;
  function readVarint(buf, pos, path) {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (pos + i >= buf.length) throw new DecodeError("Truncated", "varint runs past the end", path);
      if (i >= 10) throw new DecodeError("NonMinimalVarint", "varint longer than 10 bytes", path);
      const b = buf[pos + i];
      v |= BigInt(b & 127) << shift;
      shift += 7n;
      if ((b & 128) === 0) {
        if (i > 0 && b === 0) throw new DecodeError("NonMinimalVarint", "varint has a trailing zero group", path);
        if (v > U64_MAX) throw new DecodeError("NonMinimalVarint", "varint overflows 64 bits", path);
        return [v, pos + i + 1];
      }
    }
  }
  var varintLen = (v) => {
    v = BigInt(v);
    let n = 1;
    while (v >= 0x80n) {
      v >>= 7n;
      n++;
    }
    return n;
  };
  var wireTypeOf = (kind) => kind === "uint64" || kind === "uint32" || kind === "enum" ? 0 : 2;
  function emptyObject(type) {
    const o = {};
    for (const fd of SCHEMA[type]) {
      if (fd.repeated) o[fd.name] = [];
      else if (fd.kind === "uint64") o[fd.name] = 0n;
      else if (fd.kind === "uint32" || fd.kind === "enum") o[fd.name] = 0;
      else if (fd.kind === "bytes") o[fd.name] = new Uint8Array(0);
      else o[fd.name] = void 0;
    }
    return o;
  }
  function peekKey(buf, pos, path) {
    if (pos >= buf.length) return null;
    const [tag, after] = readVarint(buf, pos, path);
    const num = tag >> 3n;
    const wt = Number(tag & 7n);
    if (num > 0xffffffffn) throw new DecodeError("UnexpectedField", `field number ${num}`, path);
    if (num === 0n) throw new DecodeError("WireType", "field number 0", path);
    if (wt !== 0 && wt !== 2) throw new DecodeError("WireType", `field ${num} with wire type ${wt}`, path);
    return { num: Number(num), wt, after };
  }
  function readValue(fd, buf, pos, fpath, depth) {
    if (wireTypeOf(fd.kind) === 0) {
      const [v, after2] = readVarint(buf, pos, fpath);
      if (v === 0n) throw new DecodeError("DefaultPresent", "a zero scalar is written explicitly", fpath);
      if (fd.kind === "uint64") return [v, after2];
      if (fd.kind === "uint32") {
        if (v > 0xffffffffn) throw new DecodeError("Invalid", "uint32 value out of range", fpath);
        return [Number(v), after2];
      }
      const known = Object.values(ENUMS[fd.enum]);
      if (v > 0xffffffffn || !known.includes(Number(v))) throw new DecodeError("Invalid", `unknown ${fd.enum} value ${v}`, fpath);
      return [Number(v), after2];
    }
    const [len, start] = readVarint(buf, pos, fpath);
    if (len > BigInt(buf.length - start)) throw new DecodeError("Truncated", "length runs past the end", fpath);
    const data = buf.subarray(start, start + Number(len));
    const after = start + Number(len);
    if (fd.kind === "msg") return [decodeMessage(fd.type, data, fpath, depth + 1), after];
    if (data.length === 0 && !fd.repeated) throw new DecodeError("DefaultPresent", "empty bytes written explicitly", fpath);
    if (fd.kind === "bytes32" && data.length !== 32) throw new DecodeError("Length", `${data.length} bytes, not 32`, fpath);
    if (fd.kind === "u128be" && data.length !== 16) throw new DecodeError("Length", `${data.length} bytes, not 16`, fpath);
    if (fd.maxLen !== void 0 && data.length > fd.maxLen) throw new DecodeError("Length", `${data.length} bytes, over ${fd.maxLen}`, fpath);
    return [data.slice(), after];
  }
  function decodeMessage(type, buf, path, depth, nest = 0) {
    if (depth > MAX_DEPTH) throw new DecodeError("Invalid", "nesting too deep", path);
    let fields = SCHEMA[type];
    if (!fields) throw new Error(`no schema for ${type}`);
    const obj = emptyObject(type);
    const pending = [];
    let pos = 0;
    for (let i = 0; i < fields.length; i++) {
      const fd = fields[i];
      const fpath = `${path}.${fd.name}`;
      let count = 0;
      for (; ; ) {
        const key2 = peekKey(buf, pos, path);
        if (key2 === null || key2.num > fd.num) break;
        if (key2.num < fd.num) throw new DecodeError("UnexpectedField", `field ${key2.num} before field ${fd.num} (out of order, repeated or unknown)`, path);
        if (key2.wt !== wireTypeOf(fd.kind)) throw new DecodeError("WireType", `wire type ${key2.wt} for a ${fd.kind} field`, fpath);
        if (fd.repeated && count === fd.max) throw new DecodeError("TooMany", `field ${fd.num} (${fd.name}) has more than ${fd.max}`, fpath);
        if (fd.nest) {
          const [, after2] = readValue({ kind: "bytes", repeated: true }, buf, key2.after, fpath, depth);
          pending.push([key2.after, after2]);
          pos = after2;
          count++;
          continue;
        }
        const [value, after] = readValue(fd, buf, key2.after, fd.repeated ? `${fpath}[${count}]` : fpath, depth);
        pos = after;
        count++;
        if (fd.repeated) obj[fd.name].push(value);
        else {
          obj[fd.name] = value;
          break;
        }
      }
      for (const [at, end] of pending.splice(0)) {
        if (obj.verified !== void 0 || nest >= fd.nest) {
          throw new DecodeError("Invalid", `consumed manifests follow a root only, at most ${fd.nest} deep`, fpath);
        }
        const [, start] = readVarint(buf, at, fpath);
        obj[fd.name].push(decodeMessage(fd.type, buf.subarray(start, end), `${fpath}[${obj[fd.name].length}]`, depth + 1, nest + 1));
      }
      if (fd.req && count === 0) throw new DecodeError("Missing", `required field ${fd.num} (${fd.name}) absent`, fpath);
      afterField(type, fd.num, obj, path);
      if (type === "Admission" && fd.num === 1) {
        fields = [fd, ...ADMISSION_KINDS[obj.kind].map(([num, r]) => ({ ...SCHEMA.Admission.find((x) => x.num === num), req: r === "req" }))];
      }
    }
    const key = peekKey(buf, pos, path);
    if (key !== null) throw new DecodeError("UnexpectedField", `field ${key.num} after the last field of ${type}`, path);
    return obj;
  }
  function encode(type, obj) {
    const sizes = /* @__PURE__ */ new Map();
    const out = new Uint8Array(sizeOf(type, obj, sizes));
    const end = writeInto(type, obj, out, 0, sizes);
    if (end !== out.length) throw new Error("encoder size mismatch");
    return out;
  }
  function present(fd, obj) {
    const vals = fd.repeated ? obj[fd.name] ?? [] : [obj[fd.name]];
    return vals.filter((v) => {
      if (v === void 0 || v === null) return false;
      if (fd.kind === "msg") return true;
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
          const len = fd.kind === "msg" ? sizeOf(fd.type, v, sizes) : v.length;
          n += varintLen(len) + len;
        }
      }
    }
    sizes.set(obj, n);
    return n;
  }
  function putVarint(out, pos, v) {
    v = BigInt(v);
    while (v >= 0x80n) {
      out[pos++] = Number(v & 0x7fn) | 128;
      v >>= 7n;
    }
    out[pos++] = Number(v);
    return pos;
  }
  function writeInto(type, obj, out, pos, sizes) {
    for (const fd of SCHEMA[type]) {
      for (const v of present(fd, obj)) {
        const wt = wireTypeOf(fd.kind);
        pos = putVarint(out, pos, fd.num << 3 | wt);
        if (wt === 0) pos = putVarint(out, pos, v);
        else if (fd.kind === "msg") {
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
  function decode(type, bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("decode expects a Uint8Array");
    const cap = SIZE_CAPS[type];
    if (cap !== void 0 && bytes.length > cap) throw new DecodeError("TooLarge", `${bytes.length} bytes, cap ${cap}`, type);
    const obj = decodeMessage(type, bytes, type, 0);
    const again = encode(type, obj);
    if (!equal(again, bytes)) throw new DecodeError("NotCanonical", "does not re-encode to the input", type);
    return obj;
  }

  // src/smt.mjs
  var SmtError = class extends Error {
    constructor(code, message) {
      super(`${code}: ${message}`);
      this.name = "SmtError";
      this.code = code;
    }
  };
  var EMPTY = H("SmtEmpty");
  var bit = (k, i) => k[i >> 3] >> 7 - (i & 7) & 1;
  function fold(proof, key, h) {
    for (let i = proof.siblings.length - 1; i >= 0; i--) {
      const s = proof.siblings[i];
      h = bit(key, i) === 1 ? H("SmtNode", s, h) : H("SmtNode", h, s);
    }
    return h;
  }
  function checkShape(proof, key) {
    const d = proof.siblings.length;
    if (d > 256) throw new SmtError("Depth", `proof depth ${d} > 256`);
    const t = proof.terminal;
    if (t && !equal(t.key, key)) {
      for (let i = 0; i < d; i++) if (bit(t.key, i) !== bit(key, i)) throw new SmtError("TerminalOffPath", `terminal key leaves the path at bit ${i}`);
    }
  }
  function verifySmt(proof, key, root) {
    checkShape(proof, key);
    const t = proof.terminal;
    const h0 = t ? H("SmtLeaf", t.key, t.value) : EMPTY;
    if (!equal(fold(proof, key, h0), root)) throw new SmtError("RootMismatch", "the proof does not lead to the root");
    if (t && equal(t.key, key)) return { present: true, value: t.value };
    return { present: false };
  }
  function rootAfterSet(proof, key, value) {
    checkShape(proof, key);
    const d = proof.siblings.length;
    const t = proof.terminal;
    const L = H("SmtLeaf", key, value);
    let h;
    if (!t || equal(t.key, key)) {
      h = L;
    } else {
      const L2 = H("SmtLeaf", t.key, t.value);
      let j = d;
      while (bit(key, j) === bit(t.key, j)) j++;
      h = bit(key, j) === 1 ? H("SmtNode", L2, L) : H("SmtNode", L, L2);
      for (let i = j - 1; i >= d; i--) h = bit(key, i) === 1 ? H("SmtNode", EMPTY, h) : H("SmtNode", h, EMPTY);
    }
    return fold(proof, key, h);
  }

  // node_modules/@noble/curves/utils.js
  /*! noble-curves - MIT License (c) 2022 Paul Miller (paulmillr.com) */
  var anumber2 = anumber;
  function aobject2(value, title = "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new TypeError(title === "object" ? "expected valid options object" : `"${title}" expected object, got type=${typeof value}`);
    return value;
  }
  var _0n = /* @__PURE__ */ BigInt(0);
  var atitle2 = (title) => title ? `"${title}" ` : "";
  function abool2(value, title = "") {
    if (typeof value !== "boolean")
      throw new TypeError(atitle2(title) + "expected boolean, got type=" + typeof value);
    return value;
  }
  function abignumber(n) {
    if (typeof n === "bigint") {
      if (!isPosBig(n))
        throw new RangeError("positive bigint expected, got " + n);
    } else
      anumber2(n);
    return n;
  }
  function hexToNumber(hex) {
    if (typeof hex !== "string")
      throw new TypeError("hex string expected, got " + typeof hex);
    return hex === "" ? _0n : BigInt("0x" + hex);
  }
  function bytesToNumberBE(bytes) {
    return hexToNumber(bytesToHex2(bytes));
  }
  function numberToBytesBE(n, len) {
    anumber(len);
    if (len === 0)
      throw new Error("zero output length is invalid");
    n = abignumber(n);
    const expectedLen = len * 2;
    const hex = n.toString(16);
    if (hex.length > expectedLen)
      throw new RangeError("number is too large");
    return hexToBytes2(hex.padStart(expectedLen, "0"));
  }
  function isPosBig(n) {
    return typeof n === "bigint" && _0n <= n;
  }
  function validateObject(object, fields = {}, optFields = {}, title = "object") {
    aobject2(object, title);
    aobject2(fields, "fields");
    aobject2(optFields, "optFields");
    function checkField(fieldName, expectedType, isOpt) {
      const label = title === "object" ? `param "${String(fieldName)}"` : `"${title}.${String(fieldName)}"`;
      const val = object[fieldName];
      if (!Object.hasOwn(object, fieldName) && (isOpt ? val !== void 0 : expectedType !== "function")) {
        throw new TypeError(`${label} is invalid: expected own property`);
      }
      if (isOpt && val === void 0)
        return;
      const current = typeof val;
      if (current !== expectedType || val === null)
        throw new TypeError(`${label} is invalid: expected ${expectedType}, got ${current}`);
    }
    const iter = (f2, isOpt) => Object.entries(f2).forEach(([k, v]) => checkField(k, v, isOpt));
    iter(fields, false);
    iter(optFields, true);
  }

  // node_modules/@noble/hashes/sha3.js
  var _0n2 = BigInt(0);
  var _1n = BigInt(1);
  var _2n = BigInt(2);
  var _7n = BigInt(7);
  var _256n = BigInt(256);
  var _0x71n = BigInt(113);
  var SHA3_PI = [];
  var SHA3_ROTL = [];
  var _SHA3_IOTA = [];
  for (let round = 0, R = _1n, x = 1, y = 0; round < 24; round++) {
    [x, y] = [y, (2 * x + 3 * y) % 5];
    SHA3_PI.push(2 * (5 * y + x));
    SHA3_ROTL.push((round + 1) * (round + 2) / 2 % 64);
    let t = _0n2;
    for (let j = 0; j < 7; j++) {
      R = (R << _1n ^ (R >> _7n) * _0x71n) % _256n;
      if (R & _2n)
        t ^= _1n << (_1n << BigInt(j)) - _1n;
    }
    _SHA3_IOTA.push(t);
  }
  var IOTAS = split(_SHA3_IOTA, true);
  var SHA3_IOTA_H = IOTAS[0];
  var SHA3_IOTA_L = IOTAS[1];
  var rotlSH = (h, l, s) => h << s | l >>> 32 - s;
  var rotlSL = (h, l, s) => l << s | h >>> 32 - s;
  var rotlBH = (h, l, s) => l << s - 32 | h >>> 64 - s;
  var rotlBL = (h, l, s) => h << s - 32 | l >>> 64 - s;
  var rotlH = (h, l, s) => s > 32 ? rotlBH(h, l, s) : rotlSH(h, l, s);
  var rotlL = (h, l, s) => s > 32 ? rotlBL(h, l, s) : rotlSL(h, l, s);
  var B = new Uint32Array(5 * 2);
  function keccakP(s, rounds = 24) {
    if (!(s instanceof Uint32Array))
      throw new TypeError('"s" expected Uint32Array(50), got type=' + typeof s);
    if (s.length !== 50)
      throw new RangeError('"s" expected Uint32Array(50), got length=' + s.length);
    anumber(rounds, "rounds");
    if (rounds < 1 || rounds > 24)
      throw new Error('"rounds" expected integer 1..24');
    for (let round = 24 - rounds; round < 24; round++) {
      for (let x = 0; x < 10; x++)
        B[x] = s[x] ^ s[x + 10] ^ s[x + 20] ^ s[x + 30] ^ s[x + 40];
      for (let x = 0; x < 10; x += 2) {
        const idx1 = (x + 8) % 10;
        const idx0 = (x + 2) % 10;
        const B0 = B[idx0];
        const B1 = B[idx0 + 1];
        const Th = rotlH(B0, B1, 1) ^ B[idx1];
        const Tl = rotlL(B0, B1, 1) ^ B[idx1 + 1];
        for (let y = 0; y < 50; y += 10) {
          s[x + y] ^= Th;
          s[x + y + 1] ^= Tl;
        }
      }
      let curH = s[2];
      let curL = s[3];
      for (let t = 0; t < 24; t++) {
        const shift = SHA3_ROTL[t];
        const Th = rotlH(curH, curL, shift);
        const Tl = rotlL(curH, curL, shift);
        const PI = SHA3_PI[t];
        curH = s[PI];
        curL = s[PI + 1];
        s[PI] = Th;
        s[PI + 1] = Tl;
      }
      for (let y = 0; y < 50; y += 10) {
        const b0 = s[y], b1 = s[y + 1], b2 = s[y + 2], b3 = s[y + 3];
        s[y] ^= ~s[y + 2] & s[y + 4];
        s[y + 1] ^= ~s[y + 3] & s[y + 5];
        s[y + 2] ^= ~s[y + 4] & s[y + 6];
        s[y + 3] ^= ~s[y + 5] & s[y + 7];
        s[y + 4] ^= ~s[y + 6] & s[y + 8];
        s[y + 5] ^= ~s[y + 7] & s[y + 9];
        s[y + 6] ^= ~s[y + 8] & b0;
        s[y + 7] ^= ~s[y + 9] & b1;
        s[y + 8] ^= ~b0 & b2;
        s[y + 9] ^= ~b1 & b3;
      }
      s[0] ^= SHA3_IOTA_H[round];
      s[1] ^= SHA3_IOTA_L[round];
    }
    clean(B);
  }
  var Keccak = class _Keccak {
    // NOTE: we accept arguments in bytes instead of bits here.
    constructor(blockLen, suffix, outputLen, enableXOF = false, rounds = 24) {
      __publicField(this, "state");
      __publicField(this, "pos", 0);
      __publicField(this, "posOut", 0);
      __publicField(this, "finished", false);
      __publicField(this, "state32");
      __publicField(this, "destroyed", false);
      __publicField(this, "blockLen");
      __publicField(this, "suffix");
      __publicField(this, "outputLen");
      __publicField(this, "canXOF");
      __publicField(this, "enableXOF", false);
      __publicField(this, "rounds");
      anumber(blockLen, "blockLen");
      anumber(suffix, "suffix");
      anumber(rounds, "rounds");
      abool(enableXOF, "enableXOF");
      this.blockLen = blockLen;
      this.suffix = suffix;
      this.outputLen = outputLen;
      this.enableXOF = enableXOF;
      this.canXOF = enableXOF;
      this.rounds = rounds;
      anumber(outputLen, "outputLen");
      if (!(0 < blockLen && blockLen < 200))
        throw new Error('"blockLen" must be 1..199');
      this.state = new Uint8Array(200);
      this.state32 = u32(this.state);
    }
    clone() {
      return this._cloneInto();
    }
    keccak() {
      swap32IfBE(this.state32);
      keccakP(this.state32, this.rounds);
      swap32IfBE(this.state32);
      this.posOut = 0;
      this.pos = 0;
    }
    update(data) {
      aexists(this);
      abytes(data);
      const { blockLen, state, state32 } = this;
      const len = data.length;
      const canUseU32 = blockLen % 4 === 0 && data.byteOffset % 4 === 0;
      const blockLen32 = blockLen / 4;
      const data32 = canUseU32 && len >= blockLen ? u32(data) : void 0;
      for (let pos = 0; pos < len; ) {
        if (data32 !== void 0 && this.pos === 0 && pos % 4 === 0 && len - pos >= blockLen) {
          for (let i = 0, o = pos / 4; i < blockLen32; i++)
            state32[i] ^= data32[o + i];
          pos += blockLen;
          this.pos = blockLen;
          this.keccak();
          continue;
        }
        const take = Math.min(blockLen - this.pos, len - pos);
        for (let i = 0; i < take; i++)
          state[this.pos++] ^= data[pos++];
        if (this.pos === blockLen)
          this.keccak();
      }
      return this;
    }
    finish() {
      if (this.finished)
        return;
      this.finished = true;
      const { state, suffix, pos, blockLen } = this;
      state[pos] ^= suffix;
      if ((suffix & 128) !== 0 && pos === blockLen - 1)
        this.keccak();
      state[blockLen - 1] ^= 128;
      this.keccak();
    }
    writeInto(out) {
      aexists(this, false);
      abytes(out);
      this.finish();
      const bufferOut = this.state;
      const { blockLen } = this;
      for (let pos = 0, len = out.length; pos < len; ) {
        if (this.posOut >= blockLen)
          this.keccak();
        const take = Math.min(blockLen - this.posOut, len - pos);
        out.set(bufferOut.subarray(this.posOut, this.posOut + take), pos);
        this.posOut += take;
        pos += take;
      }
      return out;
    }
    xofInto(out) {
      if (!this.enableXOF)
        throw new Error("XOF is not enabled");
      return this.writeInto(out);
    }
    xof(bytes) {
      anumber(bytes);
      return this.xofInto(new Uint8Array(bytes));
    }
    digestInto(out) {
      aoutput(out, this);
      if (this.finished)
        throw new Error("digest() was already called");
      this.writeInto(out.length === this.outputLen ? out : out.subarray(0, this.outputLen));
      this.destroy();
    }
    digest() {
      const out = new Uint8Array(this.outputLen);
      this.digestInto(out);
      return out;
    }
    destroy() {
      this.destroyed = true;
      clean(this.state);
    }
    _cloneInto(to) {
      const { blockLen, suffix, outputLen, rounds, enableXOF } = this;
      to || (to = new _Keccak(blockLen, suffix, outputLen, enableXOF, rounds));
      to.blockLen = blockLen;
      to.state32.set(this.state32);
      to.pos = this.pos;
      to.posOut = this.posOut;
      to.finished = this.finished;
      to.rounds = rounds;
      to.suffix = suffix;
      to.outputLen = outputLen;
      to.enableXOF = enableXOF;
      to.canXOF = this.canXOF;
      to.destroyed = this.destroyed;
      return to;
    }
  };
  var genShake = (suffix, blockLen, outputLen, info = {}) => createHasher((opts = {}) => {
    opts = checkOpts({}, opts);
    return new Keccak(blockLen, suffix, opts.dkLen === void 0 ? outputLen : opts.dkLen, true);
  }, info);
  var shake128 = /* @__PURE__ */ genShake(31, 168, 16, /* @__PURE__ */ oidNist(11));
  var shake256 = /* @__PURE__ */ genShake(31, 136, 32, /* @__PURE__ */ oidNist(12));

  // node_modules/@noble/curves/abstract/fft.js
  function checkU32(n, title = "n") {
    if (typeof n !== "number")
      throw new TypeError(`wrong u32 integer "${title}": expected number, got type=${typeof n}`);
    if (!Number.isSafeInteger(n) || n < 0 || n > 4294967295)
      throw new RangeError(`wrong u32 integer "${title}": expected 0..4294967295, got ${n}`);
    return n;
  }
  function isPowerOfTwo(x) {
    checkU32(x, "x");
    return (x & x - 1) === 0 && x !== 0;
  }
  function reverseBits(n, bits) {
    checkU32(n);
    if (typeof bits !== "number")
      throw new TypeError('"bits" expected number, got type=' + typeof bits);
    if (!Number.isSafeInteger(bits) || bits < 0 || bits > 32)
      throw new Error(`expected integer 0 <= bits <= 32, got ${bits}`);
    let reversed = 0;
    for (let i = 0; i < bits; i++, n >>>= 1)
      reversed = reversed << 1 | n & 1;
    return reversed >>> 0;
  }
  function log2(n) {
    checkU32(n);
    return 31 - Math.clz32(n);
  }
  function bitReversalInplace(values) {
    if (!values || typeof values !== "object" || typeof values.length !== "number")
      throw new TypeError('"values" expected array-like, got type=' + typeof values);
    const n = values.length;
    if (!isPowerOfTwo(n))
      throw new Error("expected positive power-of-two length, got " + n);
    const bits = log2(n);
    for (let i = 0; i < n; i++) {
      const j = reverseBits(i, bits);
      if (i < j) {
        const tmp = values[i];
        values[i] = values[j];
        values[j] = tmp;
      }
    }
    return values;
  }
  var FFTCore = (F2, coreOpts) => {
    validateObject(coreOpts, { N: "number", roots: "object", dit: "boolean" }, { invertButterflies: "boolean", skipStages: "number", brp: "boolean" }, "coreOpts");
    const { N: N2, roots, dit, invertButterflies = false, skipStages = 0, brp = true } = coreOpts;
    checkU32(N2, "coreOpts.N");
    const bits = log2(N2);
    if (!isPowerOfTwo(N2))
      throw new Error("FFT: Polynomial size should be power of two");
    checkU32(skipStages, "coreOpts.skipStages");
    const maxSkipStages = bits === 0 ? 0 : bits - 1;
    if (skipStages > maxSkipStages)
      throw new Error(`FFT: wrong skipStages: expected 0 <= skipStages <= ${maxSkipStages}`);
    if (roots.length !== N2)
      throw new Error(`FFT: wrong roots length: expected ${N2}, got ${roots.length}`);
    const isDit = dit !== invertButterflies;
    return (values) => {
      if (values.length !== N2)
        throw new Error("FFT: wrong Polynomial length");
      if (dit && brp)
        bitReversalInplace(values);
      for (let i = 0, g = 1; i < bits - skipStages; i++) {
        const s = dit ? i + 1 + skipStages : bits - i;
        const m = 1 << s;
        const m2 = m >> 1;
        const stride = N2 >> s;
        for (let k = 0; k < N2; k += m) {
          for (let j = 0, grp = g++; j < m2; j++) {
            const rootPos = invertButterflies ? dit ? N2 - grp : grp : j * stride;
            const i0 = k + j;
            const i1 = k + j + m2;
            const omega = roots[rootPos];
            const b = values[i1];
            const a = values[i0];
            if (isDit) {
              const t = F2.mul(b, omega);
              values[i0] = F2.add(a, t);
              values[i1] = F2.sub(a, t);
            } else if (invertButterflies) {
              values[i0] = F2.add(b, a);
              values[i1] = F2.mul(F2.sub(b, a), omega);
            } else {
              values[i0] = F2.add(a, b);
              values[i1] = F2.mul(F2.sub(a, b), omega);
            }
          }
        }
      }
      if (!dit && brp)
        bitReversalInplace(values);
      return values;
    };
  };

  // node_modules/@noble/post-quantum/utils.js
  /*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) */
  var abytesDoc = abytes;
  var randomBytes2 = randomBytes;
  function aarray2(item, title, inner = () => {
  }) {
    if (!Array.isArray(item))
      throw new TypeError(`"${title}" expected array, got type=${typeof item}`);
    for (let i = 0; i < item.length; i++)
      inner(item[i], `${title}[${i}]`);
    return item;
  }
  function aobject3(value, title = "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new TypeError(title === "object" ? "expected valid options object" : `"${title}" expected object, got type=${typeof value}`);
    return value;
  }
  function equalBytes(a, b) {
    a = abytes(a);
    b = abytes(b);
    if (a.length !== b.length)
      return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++)
      diff |= a[i] ^ b[i];
    return diff === 0;
  }
  function copyBytes2(bytes) {
    return new Uint8Array(abytes(bytes));
  }
  function validateOpts(opts) {
    if (isBytes(opts))
      throw new TypeError('"opts" expected object, got Uint8Array');
    aobject3(opts, "opts");
    const proto = Object.getPrototypeOf(opts);
    if (proto !== null && proto !== Object.prototype)
      throw new TypeError('"opts" expected a plain object');
  }
  var VER_OPT_KEYS = /* @__PURE__ */ Object.freeze([
    "context"
  ]);
  var SIG_OPT_KEYS = /* @__PURE__ */ Object.freeze([
    "context",
    "extraEntropy"
  ]);
  function checkOptKeys(opts, allowed) {
    validateOpts(opts);
    const normalized = Object.assign(/* @__PURE__ */ Object.create(null), opts);
    for (const [k, v] of Object.entries(normalized)) {
      if (v === void 0)
        continue;
      if (!allowed.includes(k))
        throw new TypeError('unexpected option "' + String(k) + '"; expected one of: ' + allowed.join(", "));
    }
    return Object.freeze(normalized);
  }
  function validateVerOpts(opts, allowed = VER_OPT_KEYS) {
    const normalized = checkOptKeys(opts, allowed);
    if (normalized.context !== void 0)
      abytes(normalized.context, void 0, "opts.context");
    return normalized;
  }
  function validateSigOpts(opts, allowed = SIG_OPT_KEYS) {
    const normalized = checkOptKeys(opts, allowed);
    if (normalized.context !== void 0)
      abytes(normalized.context, void 0, "opts.context");
    if (normalized.extraEntropy !== false && normalized.extraEntropy !== void 0)
      abytes(normalized.extraEntropy, void 0, "opts.extraEntropy");
    return normalized;
  }
  function splitCoder(label, ...lengths) {
    const getLength = (c) => typeof c === "number" ? c : c.bytesLen;
    const bytesLen = lengths.reduce((sum, a) => sum + getLength(a), 0);
    return {
      bytesLen,
      encode: (bufs) => {
        const res = new Uint8Array(bytesLen);
        for (let i = 0, pos = 0; i < lengths.length; i++) {
          const c = lengths[i];
          const l = getLength(c);
          const b = typeof c === "number" ? bufs[i] : c.encode(bufs[i]);
          abytes(b, l, label);
          res.set(b, pos);
          if (typeof c !== "number")
            b.fill(0);
          pos += l;
        }
        return res;
      },
      decode: (buf) => {
        abytes(buf, bytesLen, label);
        const res = [];
        for (const c of lengths) {
          const l = getLength(c);
          const b = buf.subarray(0, l);
          res.push(typeof c === "number" ? b : c.decode(b));
          buf = buf.subarray(l);
        }
        return res;
      }
    };
  }
  function vecCoder(c, vecLen) {
    const coder = c;
    const bytesLen = vecLen * coder.bytesLen;
    return {
      bytesLen,
      encode: (u) => {
        const uArr = aarray2(u, "u");
        if (uArr.length !== vecLen)
          throw new RangeError(`vecCoder.encode: wrong length=${uArr.length}. Expected: ${vecLen}`);
        const res = new Uint8Array(bytesLen);
        for (let i = 0, pos = 0; i < uArr.length; i++) {
          const b = coder.encode(uArr[i]);
          res.set(b, pos);
          b.fill(0);
          pos += b.length;
        }
        return res;
      },
      decode: (a) => {
        abytes(a, bytesLen);
        const r = [];
        for (let i = 0; i < a.length; i += coder.bytesLen)
          r.push(coder.decode(a.subarray(i, i + coder.bytesLen)));
        return r;
      }
    };
  }
  function cleanBytes(...list) {
    for (const t of list) {
      if (Array.isArray(t))
        for (const b of t)
          b.fill(0);
      else
        t.fill(0);
    }
  }
  function getMask(bits) {
    anumber(bits, "bits");
    if (bits > 32)
      throw new RangeError('"bits" expected <= 32, got ' + bits);
    return bits === 32 ? 4294967295 : ~(-1 << bits) >>> 0;
  }
  var EMPTY2 = /* @__PURE__ */ Uint8Array.of();
  function getMessage(msg, ctx = EMPTY2) {
    abytes(msg, void 0, "msg");
    abytes(ctx, void 0, "ctx");
    if (ctx.length > 255)
      throw new RangeError("context should be 255 bytes or less");
    return concatBytes(new Uint8Array([0, ctx.length]), ctx, msg);
  }
  var oidNistP = /* @__PURE__ */ Uint8Array.from([6, 9, 96, 134, 72, 1, 101, 3, 4, 2]);
  var XOF_OID_OUTPUT_LEN = /* @__PURE__ */ (() => ({
    "060960864801650304020b": 32,
    // id-shake128, SHAKE128(M, 256)
    "060960864801650304020c": 64
    // id-shake256, SHAKE256(M, 512)
  }))();
  function checkHash(hash, requiredStrength = 0) {
    if (typeof hash !== "function" || typeof hash.create !== "function")
      throw new TypeError('"hash" expected hash function, got type=' + typeof hash);
    ahash(hash);
    anumber(requiredStrength, "requiredStrength");
    const oid = hash.oid;
    abytes(oid, void 0, "hash.oid");
    if (!equalBytes(oid.subarray(0, 10), oidNistP))
      throw new Error('"hash.oid" is invalid: expected NIST hash');
    const xofLen = XOF_OID_OUTPUT_LEN[bytesToHex2(oid)];
    if (xofLen !== void 0 && hash.outputLen !== xofLen) {
      throw new Error("Pre-hash XOF output length must be " + xofLen + " bytes for this OID, got: " + hash.outputLen);
    }
    const collisionResistance = hash.outputLen * 8 / 2;
    if (requiredStrength > collisionResistance) {
      throw new Error("Pre-hash security strength too low: " + collisionResistance + ", required: " + requiredStrength);
    }
  }
  function getMessagePrehash(hash, msg, ctx = EMPTY2) {
    checkHash(hash);
    abytes(msg, void 0, "msg");
    abytes(ctx, void 0, "ctx");
    if (ctx.length > 255)
      throw new RangeError("context should be 255 bytes or less");
    const hashed = hash(msg);
    return concatBytes(new Uint8Array([1, ctx.length]), ctx, hash.oid, hashed);
  }

  // node_modules/@noble/post-quantum/_crystals.js
  /*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) */
  var genCrystals = (opts) => {
    const { newPoly: newPoly2, N: N2, Q: Q2, F: F2, ROOT_OF_UNITY: ROOT_OF_UNITY2, brvBits, isKyber } = opts;
    const mod = (a, modulo = Q2) => {
      const result = a % modulo | 0;
      return (result >= 0 ? result | 0 : modulo + result | 0) | 0;
    };
    const smod = (a, modulo = Q2) => {
      const r = mod(a, modulo) | 0;
      return (r > modulo >> 1 ? r - modulo | 0 : r) | 0;
    };
    function getZettas() {
      const out = newPoly2(N2);
      for (let i = 0; i < N2; i++) {
        const b = reverseBits(i, brvBits);
        const p = BigInt(ROOT_OF_UNITY2) ** BigInt(b) % BigInt(Q2);
        out[i] = Number(p) | 0;
      }
      return out;
    }
    const nttZetas = getZettas();
    const inv2 = (_a) => {
      throw new Error("not implemented");
    };
    const field = isKyber ? {
      add: (a, b) => {
        const r = a + b | 0;
        return r >= Q2 ? r - Q2 | 0 : r;
      },
      sub: (a, b) => {
        const r = a - b | 0;
        return r < 0 ? r + Q2 | 0 : r;
      },
      mul: (a, b) => mod((a | 0) * (b | 0)) | 0,
      inv: inv2
    } : {
      add: (a, b) => mod((a | 0) + (b | 0)) | 0,
      sub: (a, b) => mod((a | 0) - (b | 0)) | 0,
      mul: (a, b) => mod((a | 0) * (b | 0)) | 0,
      inv: inv2
    };
    const nttOpts = {
      N: N2,
      roots: nttZetas,
      invertButterflies: true,
      skipStages: isKyber ? 1 : 0,
      brp: false
    };
    const dif = FFTCore(field, { dit: false, ...nttOpts });
    const dit = FFTCore(field, { dit: true, ...nttOpts });
    const NTT = {
      encode: (r) => {
        return dif(r);
      },
      decode: (r) => {
        dit(r);
        for (let i = 0; i < r.length; i++)
          r[i] = mod(F2 * r[i]);
        return r;
      }
    };
    const bitsCoder = (d, c) => {
      for (let i = 0, bufLen = 0; i < N2; i++) {
        bufLen += d;
        if (bufLen > 32)
          getMask(bufLen);
        bufLen %= 8;
      }
      const mask = getMask(d);
      const bytesLen = d * (N2 / 8);
      return {
        bytesLen,
        encode: (poly_) => {
          const poly = poly_;
          const r = new Uint8Array(bytesLen);
          for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < poly.length; i++) {
            buf |= (c.encode(poly[i]) & mask) << bufLen;
            bufLen += d;
            for (; bufLen >= 8; bufLen -= 8, buf >>= 8)
              r[pos++] = buf & 255;
          }
          return r;
        },
        decode: (bytes) => {
          const r = newPoly2(N2);
          for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < bytes.length; i++) {
            buf |= bytes[i] << bufLen;
            bufLen += 8;
            for (; bufLen >= d; bufLen -= d, buf >>= d)
              r[pos++] = c.decode(buf & mask);
          }
          return r;
        }
      };
    };
    return {
      mod,
      smod,
      nttZetas,
      NTT: {
        encode: (r) => NTT.encode(r),
        decode: (r) => NTT.decode(r)
      },
      bitsCoder
    };
  };
  var createXofShake = (shake) => (seed, blockLen) => {
    if (!blockLen)
      blockLen = shake.blockLen;
    const _seed = new Uint8Array(seed.length + 2);
    _seed.set(seed);
    const seedLen = seed.length;
    const buf = new Uint8Array(blockLen);
    let h = shake.create({});
    let calls = 0;
    let xofs = 0;
    return {
      stats: () => ({ calls, xofs }),
      get: (x, y) => {
        _seed[seedLen + 0] = x;
        _seed[seedLen + 1] = y;
        h.destroy();
        h = shake.create({}).update(_seed);
        calls++;
        return () => {
          xofs++;
          return h.xofInto(buf);
        };
      },
      clean: () => {
        h.destroy();
        cleanBytes(buf, _seed);
      }
    };
  };
  var XOF128 = /* @__PURE__ */ createXofShake(shake128);
  var XOF256 = /* @__PURE__ */ createXofShake(shake256);

  // node_modules/@noble/post-quantum/ml-dsa.js
  /*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) */
  var INTERNAL_SIG_OPT_KEYS = /* @__PURE__ */ Object.freeze([
    "extraEntropy",
    "externalMu"
  ]);
  var INTERNAL_VER_OPT_KEYS = /* @__PURE__ */ Object.freeze(["externalMu"]);
  function validateInternalOpts(opts, allowed) {
    const normalized = checkOptKeys(opts, allowed);
    if (normalized.externalMu !== void 0)
      abool2(normalized.externalMu, "opts.externalMu");
    return normalized;
  }
  var N = 256;
  var Q = 8380417;
  var ROOT_OF_UNITY = 1753;
  var F = 8347681;
  var D = 13;
  var GAMMA2_1 = Math.floor((Q - 1) / 88) | 0;
  var GAMMA2_2 = Math.floor((Q - 1) / 32) | 0;
  var PARAMS = /* @__PURE__ */ (() => Object.freeze({
    2: Object.freeze({
      K: 4,
      L: 4,
      D,
      GAMMA1: 2 ** 17,
      GAMMA2: GAMMA2_1,
      TAU: 39,
      ETA: 2,
      OMEGA: 80
    }),
    3: Object.freeze({
      K: 6,
      L: 5,
      D,
      GAMMA1: 2 ** 19,
      GAMMA2: GAMMA2_2,
      TAU: 49,
      ETA: 4,
      OMEGA: 55
    }),
    5: Object.freeze({
      K: 8,
      L: 7,
      D,
      GAMMA1: 2 ** 19,
      GAMMA2: GAMMA2_2,
      TAU: 60,
      ETA: 2,
      OMEGA: 75
    })
  }))();
  var newPoly = (n) => new Int32Array(n);
  var crystals = /* @__PURE__ */ genCrystals({
    N,
    Q,
    F,
    ROOT_OF_UNITY,
    newPoly,
    isKyber: false,
    brvBits: 8
  });
  var id = (n) => n;
  var polyCoder = (d, compress = id, verify = id) => crystals.bitsCoder(d, {
    encode: (i) => compress(verify(i)),
    decode: (i) => verify(compress(i))
  });
  var polyAdd = (a_, b_) => {
    const a = a_;
    const b = b_;
    for (let i = 0; i < a.length; i++)
      a[i] = crystals.mod(a[i] + b[i]);
    return a;
  };
  var polySub = (a_, b_) => {
    const a = a_;
    const b = b_;
    for (let i = 0; i < a.length; i++)
      a[i] = crystals.mod(a[i] - b[i]);
    return a;
  };
  var polyShiftl = (p_) => {
    const p = p_;
    for (let i = 0; i < N; i++)
      p[i] <<= D;
    return p;
  };
  var polyChknorm = (p_, B2) => {
    const p = p_;
    for (let i = 0; i < N; i++)
      if (Math.abs(crystals.smod(p[i])) >= B2)
        return true;
    return false;
  };
  var MultiplyNTTs = (a_, b_) => {
    const a = a_;
    const b = b_;
    const c = newPoly(N);
    for (let i = 0; i < a.length; i++)
      c[i] = crystals.mod(a[i] * b[i]);
    return c;
  };
  function RejNTTPoly(xof_) {
    const xof = xof_;
    const r = newPoly(N);
    for (let j = 0; j < N; ) {
      const b = xof();
      if (b.length % 3)
        throw new Error("RejNTTPoly: unaligned block");
      for (let i = 0; j < N && i <= b.length - 3; i += 3) {
        const t = (b[i + 0] | b[i + 1] << 8 | b[i + 2] << 16) & 8388607;
        if (t < Q)
          r[j++] = t;
      }
    }
    return r;
  }
  function getDilithium(opts_) {
    const opts = opts_;
    const { K, L, GAMMA1, GAMMA2, TAU, ETA, OMEGA } = opts;
    const { CRH_BYTES, TR_BYTES, C_TILDE_BYTES, XOF128: XOF1282, XOF256: XOF2562, securityLevel } = opts;
    if (![2, 4].includes(ETA))
      throw new Error("Wrong ETA");
    if (![1 << 17, 1 << 19].includes(GAMMA1))
      throw new Error("Wrong GAMMA1");
    if (![GAMMA2_1, GAMMA2_2].includes(GAMMA2))
      throw new Error("Wrong GAMMA2");
    const BETA = TAU * ETA;
    const decompose = (r) => {
      const rPlus = crystals.mod(r);
      const r0 = crystals.smod(rPlus, 2 * GAMMA2) | 0;
      if (rPlus - r0 === Q - 1)
        return { r1: 0 | 0, r0: r0 - 1 | 0 };
      const r1 = Math.floor((rPlus - r0) / (2 * GAMMA2)) | 0;
      return { r1, r0 };
    };
    const HighBits = (r) => decompose(r).r1;
    const LowBits = (r) => decompose(r).r0;
    const MakeHint = (z, r) => {
      const res0 = z <= GAMMA2 || z > Q - GAMMA2 || z === Q - GAMMA2 && r === 0 ? 0 : 1;
      return res0;
    };
    const HINT_M = Math.floor((Q - 1) / (2 * GAMMA2));
    const UseHint = (h, r) => {
      const { r1, r0 } = decompose(r);
      if (h === 1)
        return r0 > 0 ? crystals.mod(r1 + 1, HINT_M) | 0 : crystals.mod(r1 - 1, HINT_M) | 0;
      return r1 | 0;
    };
    const Power2Round = (r) => {
      const rPlus = crystals.mod(r);
      const r0 = crystals.smod(rPlus, 2 ** D) | 0;
      return { r1: Math.floor((rPlus - r0) / 2 ** D) | 0, r0 };
    };
    const hintCoder = {
      bytesLen: OMEGA + K,
      encode: (h_) => {
        const h = h_;
        if (h === false)
          throw new Error("hint.encode: hint is false");
        const res = new Uint8Array(OMEGA + K);
        for (let i = 0, k = 0; i < K; i++) {
          for (let j = 0; j < N; j++)
            if (h[i][j] !== 0)
              res[k++] = j;
          res[OMEGA + i] = k;
        }
        return res;
      },
      decode: (buf) => {
        const h = [];
        let k = 0;
        for (let i = 0; i < K; i++) {
          const hi = newPoly(N);
          if (buf[OMEGA + i] < k || buf[OMEGA + i] > OMEGA)
            return false;
          for (let j = k; j < buf[OMEGA + i]; j++) {
            if (j > k && buf[j] <= buf[j - 1])
              return false;
            hi[buf[j]] = 1;
          }
          k = buf[OMEGA + i];
          h.push(hi);
        }
        for (let j = k; j < OMEGA; j++)
          if (buf[j] !== 0)
            return false;
        return h;
      }
    };
    const ETACoder = polyCoder(ETA === 2 ? 3 : 4, (i) => ETA - i, (i) => {
      if (!(-ETA <= i && i <= ETA))
        throw new Error(`malformed key s1/s3 ${i} outside of ETA range [${-ETA}, ${ETA}]`);
      return i;
    });
    const T0Coder = polyCoder(13, (i) => (1 << D - 1) - i);
    const T1Coder = polyCoder(10);
    const ZCoder = polyCoder(GAMMA1 === 1 << 17 ? 18 : 20, (i) => crystals.smod(GAMMA1 - i));
    const W1Coder = polyCoder(GAMMA2 === GAMMA2_1 ? 6 : 4);
    const W1Vec = vecCoder(W1Coder, K);
    const publicCoder = splitCoder("publicKey", 32, vecCoder(T1Coder, K));
    const secretCoder = splitCoder("secretKey", 32, 32, TR_BYTES, vecCoder(ETACoder, L), vecCoder(ETACoder, K), vecCoder(T0Coder, K));
    const sigCoder = splitCoder("signature", C_TILDE_BYTES, vecCoder(ZCoder, L), hintCoder);
    const CoefFromHalfByte = ETA === 2 ? (n) => n < 15 ? 2 - n % 5 : false : (n) => n < 9 ? 4 - n : false;
    function RejBoundedPoly(xof_) {
      const xof = xof_;
      const r = newPoly(N);
      for (let j = 0; j < N; ) {
        const b = xof();
        for (let i = 0; j < N && i < b.length; i += 1) {
          const d1 = CoefFromHalfByte(b[i] & 15);
          const d2 = CoefFromHalfByte(b[i] >> 4 & 15);
          if (d1 !== false)
            r[j++] = d1;
          if (j < N && d2 !== false)
            r[j++] = d2;
        }
      }
      return r;
    }
    const SampleInBall = (seed) => {
      const pre = newPoly(N);
      const s = shake256.create({}).update(seed);
      const buf = new Uint8Array(shake256.blockLen);
      s.xofInto(buf);
      const masks = buf.slice(0, 8);
      for (let i = N - TAU, pos = 8, maskPos = 0, maskBit = 0; i < N; i++) {
        let b = i + 1;
        for (; b > i; ) {
          b = buf[pos++];
          if (pos < shake256.blockLen)
            continue;
          s.xofInto(buf);
          pos = 0;
        }
        pre[i] = pre[b];
        pre[b] = 1 - ((masks[maskPos] >> maskBit++ & 1) << 1);
        if (maskBit >= 8) {
          maskPos++;
          maskBit = 0;
        }
      }
      return pre;
    };
    const polyPowerRound = (p_) => {
      const p = p_;
      const res0 = newPoly(N);
      const res1 = newPoly(N);
      for (let i = 0; i < p.length; i++) {
        const { r0, r1 } = Power2Round(p[i]);
        res0[i] = r0;
        res1[i] = r1;
      }
      return { r0: res0, r1: res1 };
    };
    const polyUseHint = (u_, h_) => {
      const u = u_;
      const h = h_;
      for (let i = 0; i < N; i++)
        u[i] = UseHint(h[i], u[i]);
      return u;
    };
    const polyMakeHint = (a_, b_) => {
      const a = a_;
      const b = b_;
      const v = newPoly(N);
      let cnt = 0;
      for (let i = 0; i < N; i++) {
        const h = MakeHint(a[i], b[i]);
        v[i] = h;
        cnt += h;
      }
      return { v, cnt };
    };
    const signRandBytes = 32;
    const seedCoder = splitCoder("seed", 32, 64, 32);
    const internal = Object.freeze({
      info: Object.freeze({ type: "internal-ml-dsa" }),
      lengths: Object.freeze({
        secretKey: secretCoder.bytesLen,
        publicKey: publicCoder.bytesLen,
        seed: 32,
        signature: sigCoder.bytesLen,
        signRand: signRandBytes
      }),
      keygen: (seed) => {
        const seedDst = new Uint8Array(32 + 2);
        const randSeed = seed === void 0;
        if (randSeed)
          seed = randomBytes2(32);
        abytesDoc(seed, 32, "seed");
        seedDst.set(seed);
        if (randSeed)
          cleanBytes(seed);
        seedDst[32] = K;
        seedDst[33] = L;
        const [rho, rhoPrime, K_] = seedCoder.decode(shake256(seedDst, { dkLen: seedCoder.bytesLen }));
        const xofPrime = XOF2562(rhoPrime);
        const s1 = [];
        for (let i = 0; i < L; i++)
          s1.push(RejBoundedPoly(xofPrime.get(i & 255, i >> 8 & 255)));
        const s2 = [];
        for (let i = L; i < L + K; i++)
          s2.push(RejBoundedPoly(xofPrime.get(i & 255, i >> 8 & 255)));
        const s1Hat = s1.map((i) => crystals.NTT.encode(i.slice()));
        const t0 = [];
        const t1 = [];
        const xof = XOF1282(rho);
        const t = newPoly(N);
        for (let i = 0; i < K; i++) {
          cleanBytes(t);
          for (let j = 0; j < L; j++) {
            const aij = RejNTTPoly(xof.get(j, i));
            polyAdd(t, MultiplyNTTs(aij, s1Hat[j]));
          }
          crystals.NTT.decode(t);
          const { r0, r1 } = polyPowerRound(polyAdd(t, s2[i]));
          t0.push(r0);
          t1.push(r1);
        }
        const publicKey = publicCoder.encode([rho, t1]);
        const tr = shake256(publicKey, { dkLen: TR_BYTES });
        const secretKey = secretCoder.encode([rho, K_, tr, s1, s2, t0]);
        xof.clean();
        xofPrime.clean();
        cleanBytes(rho, rhoPrime, K_, s1, s2, s1Hat, t, t0, t1, tr, seedDst);
        return {
          publicKey,
          secretKey
        };
      },
      getPublicKey: (secretKey) => {
        const [rho, _K, _tr, s1, s2, _t0] = secretCoder.decode(secretKey);
        const xof = XOF1282(rho);
        const s1Hat = s1.map((p) => crystals.NTT.encode(p.slice()));
        const t1 = [];
        const tmp = newPoly(N);
        for (let i = 0; i < K; i++) {
          tmp.fill(0);
          for (let j = 0; j < L; j++) {
            const aij = RejNTTPoly(xof.get(j, i));
            polyAdd(tmp, MultiplyNTTs(aij, s1Hat[j]));
          }
          crystals.NTT.decode(tmp);
          polyAdd(tmp, s2[i]);
          const { r1 } = polyPowerRound(tmp);
          t1.push(r1);
        }
        xof.clean();
        cleanBytes(tmp, s1Hat, _t0, s1, s2);
        return publicCoder.encode([rho, t1]);
      },
      // NOTE: random is optional.
      sign: (msg, secretKey, opts2 = {}) => {
        opts2 = validateSigOpts(opts2, INTERNAL_SIG_OPT_KEYS);
        opts2 = validateInternalOpts(opts2, INTERNAL_SIG_OPT_KEYS);
        const { extraEntropy: random, externalMu = false } = opts2;
        if (externalMu)
          abytesDoc(msg, CRH_BYTES, "mu");
        const ownRnd = random === false || random === void 0;
        const rnd = random === false ? new Uint8Array(32) : random === void 0 ? randomBytes2(signRandBytes) : random;
        abytesDoc(rnd, 32, "extraEntropy");
        const decoded = (() => {
          try {
            return secretCoder.decode(secretKey);
          } catch (error) {
            if (ownRnd)
              cleanBytes(rnd);
            throw error;
          }
        })();
        const [rho, _K, tr, s1, s2, t0] = decoded;
        const A = [];
        const xof = XOF1282(rho);
        for (let i = 0; i < K; i++) {
          const pv = [];
          for (let j = 0; j < L; j++)
            pv.push(RejNTTPoly(xof.get(j, i)));
          A.push(pv);
        }
        xof.clean();
        for (let i = 0; i < L; i++)
          crystals.NTT.encode(s1[i]);
        for (let i = 0; i < K; i++) {
          crystals.NTT.encode(s2[i]);
          crystals.NTT.encode(t0[i]);
        }
        const mu = externalMu ? msg : (
          // 6: µ ← H(tr||M, 512)
          //    ▷ Compute message representative µ
          shake256.create({ dkLen: CRH_BYTES }).update(tr).update(msg).digest()
        );
        const rhoprime = shake256.create({ dkLen: CRH_BYTES }).update(_K).update(rnd).update(mu).digest();
        if (ownRnd)
          cleanBytes(rnd);
        abytesDoc(rhoprime, CRH_BYTES);
        const x256 = XOF2562(rhoprime, ZCoder.bytesLen);
        main_loop: for (let kappa = 0; ; ) {
          const y = [];
          for (let i = 0; i < L; i++, kappa++)
            y.push(ZCoder.decode(x256.get(kappa & 255, kappa >> 8)()));
          const z = y.map((i) => crystals.NTT.encode(i.slice()));
          const w = [];
          for (let i = 0; i < K; i++) {
            const wi = newPoly(N);
            for (let j = 0; j < L; j++)
              polyAdd(wi, MultiplyNTTs(A[i][j], z[j]));
            crystals.NTT.decode(wi);
            w.push(wi);
          }
          const w1 = w.map((j) => j.map(HighBits));
          const cTilde = shake256.create({ dkLen: C_TILDE_BYTES }).update(mu).update(W1Vec.encode(w1)).digest();
          const cHat = crystals.NTT.encode(SampleInBall(cTilde));
          const cs1 = s1.map((i) => MultiplyNTTs(i, cHat));
          for (let i = 0; i < L; i++) {
            polyAdd(crystals.NTT.decode(cs1[i]), y[i]);
            if (polyChknorm(cs1[i], GAMMA1 - BETA)) {
              cleanBytes(cTilde, cs1, cHat, w1, w, z, y);
              continue main_loop;
            }
          }
          let cnt = 0;
          const h = [];
          for (let i = 0; i < K; i++) {
            const cs2 = crystals.NTT.decode(MultiplyNTTs(s2[i], cHat));
            const r0 = polySub(w[i], cs2).map(LowBits);
            if (polyChknorm(r0, GAMMA2 - BETA)) {
              cleanBytes(cTilde, cs1, cHat, w1, w, z, y, h, cs2, r0);
              continue main_loop;
            }
            const ct0 = crystals.NTT.decode(MultiplyNTTs(t0[i], cHat));
            if (polyChknorm(ct0, GAMMA2)) {
              cleanBytes(cTilde, cs1, cHat, w1, w, z, y, h, cs2, r0, ct0);
              continue main_loop;
            }
            polyAdd(r0, ct0);
            const hint = polyMakeHint(r0, w1[i]);
            h.push(hint.v);
            cnt += hint.cnt;
          }
          if (cnt > OMEGA) {
            cleanBytes(cTilde, cs1, cHat, w1, w, z, y, h);
            continue;
          }
          x256.clean();
          const res = sigCoder.encode([cTilde, cs1, h]);
          cleanBytes(cTilde, cs1, h, cHat, w1, w, z, y, rhoprime, s1, s2, t0, ...A);
          if (!externalMu)
            cleanBytes(mu);
          return res;
        }
        throw new Error("Unreachable code path reached, report this error");
      },
      verify: (sig, msg, publicKey, opts2 = {}) => {
        opts2 = validateInternalOpts(opts2, INTERNAL_VER_OPT_KEYS);
        const { externalMu = false } = opts2;
        if (externalMu)
          abytesDoc(msg, CRH_BYTES, "mu");
        const [rho, t1] = publicCoder.decode(publicKey);
        const tr = shake256(publicKey, { dkLen: TR_BYTES });
        if (sig.length !== sigCoder.bytesLen)
          return false;
        const [cTilde, z, h] = sigCoder.decode(sig);
        if (h === false)
          return false;
        for (let i = 0; i < L; i++)
          if (polyChknorm(z[i], GAMMA1 - BETA))
            return false;
        const mu = externalMu ? msg : (
          // 7: µ ← H(tr||M, 512)
          shake256.create({ dkLen: CRH_BYTES }).update(tr).update(msg).digest()
        );
        const c = crystals.NTT.encode(SampleInBall(cTilde));
        const zNtt = z.map((i) => i.slice());
        for (let i = 0; i < L; i++)
          crystals.NTT.encode(zNtt[i]);
        const wTick1 = [];
        const xof = XOF1282(rho);
        for (let i = 0; i < K; i++) {
          const ct12d = MultiplyNTTs(crystals.NTT.encode(polyShiftl(t1[i])), c);
          const Az = newPoly(N);
          for (let j = 0; j < L; j++) {
            const aij = RejNTTPoly(xof.get(j, i));
            polyAdd(Az, MultiplyNTTs(aij, zNtt[j]));
          }
          const wApprox = crystals.NTT.decode(polySub(Az, ct12d));
          wTick1.push(polyUseHint(wApprox, h[i]));
        }
        xof.clean();
        const c2 = shake256.create({ dkLen: C_TILDE_BYTES }).update(mu).update(W1Vec.encode(wTick1)).digest();
        for (const t of h) {
          const sum = t.reduce((acc, i) => acc + i, 0);
          if (!(sum <= OMEGA))
            return false;
        }
        for (const t of z)
          if (polyChknorm(t, GAMMA1 - BETA))
            return false;
        return equalBytes(cTilde, c2);
      }
    });
    return Object.freeze({
      info: Object.freeze({ type: "ml-dsa" }),
      internal,
      securityLevel,
      keygen: internal.keygen,
      lengths: internal.lengths,
      getPublicKey: internal.getPublicKey,
      sign: (msg, secretKey, opts2 = {}) => {
        opts2 = validateSigOpts(opts2);
        const M = getMessage(msg, opts2.context);
        const res = internal.sign(M, secretKey, {
          extraEntropy: opts2.extraEntropy,
          externalMu: false
        });
        cleanBytes(M);
        return res;
      },
      verify: (sig, msg, publicKey, opts2 = {}) => {
        opts2 = validateVerOpts(opts2);
        abytesDoc(sig, void 0, "signature");
        return internal.verify(sig, getMessage(msg, opts2.context), publicKey, { externalMu: false });
      },
      prehash: (hash) => {
        checkHash(hash, securityLevel);
        const rawHash = hash;
        return Object.freeze({
          info: Object.freeze({ type: "hashml-dsa" }),
          securityLevel,
          lengths: internal.lengths,
          keygen: internal.keygen,
          getPublicKey: internal.getPublicKey,
          sign: (msg, secretKey, opts2 = {}) => {
            opts2 = validateSigOpts(opts2);
            const M = getMessagePrehash(rawHash, msg, opts2.context);
            const res = internal.sign(M, secretKey, {
              extraEntropy: opts2.extraEntropy,
              externalMu: false
            });
            cleanBytes(M);
            return res;
          },
          verify: (sig, msg, publicKey, opts2 = {}) => {
            opts2 = validateVerOpts(opts2);
            abytesDoc(sig, void 0, "signature");
            return internal.verify(sig, getMessagePrehash(rawHash, msg, opts2.context), publicKey, {
              externalMu: false
            });
          }
        });
      }
    });
  }
  var ml_dsa65 = /* @__PURE__ */ (() => getDilithium({
    ...PARAMS[3],
    CRH_BYTES: 64,
    TR_BYTES: 64,
    C_TILDE_BYTES: 48,
    XOF128,
    XOF256,
    securityLevel: 192
  }))();

  // node_modules/@noble/hashes/hmac.js
  var _HMAC = class {
    constructor(hash, key) {
      __publicField(this, "oHash");
      __publicField(this, "iHash");
      __publicField(this, "blockLen");
      __publicField(this, "outputLen");
      __publicField(this, "canXOF", false);
      __publicField(this, "finished", false);
      __publicField(this, "destroyed", false);
      ahash(hash);
      abytes(key, void 0, "key");
      this.iHash = hash.create();
      if (typeof this.iHash.update !== "function")
        throw new Error("expected Hash instance");
      this.blockLen = this.iHash.blockLen;
      this.outputLen = this.iHash.outputLen;
      const blockLen = this.blockLen;
      const pad = new Uint8Array(blockLen);
      pad.set(key.length > blockLen ? hash.create().update(key).digest() : key);
      for (let i = 0; i < pad.length; i++)
        pad[i] ^= 54;
      this.iHash.update(pad);
      this.oHash = hash.create();
      for (let i = 0; i < pad.length; i++)
        pad[i] ^= 54 ^ 92;
      this.oHash.update(pad);
      clean(pad);
    }
    update(buf) {
      aexists(this);
      this.iHash.update(buf);
      return this;
    }
    digestInto(out) {
      aexists(this);
      aoutput(out, this);
      this.finished = true;
      const buf = out.subarray(0, this.outputLen);
      this.iHash.digestInto(buf);
      this.oHash.update(buf);
      this.oHash.digestInto(buf);
      this.destroy();
    }
    digest() {
      const out = new Uint8Array(this.oHash.outputLen);
      this.digestInto(out);
      return out;
    }
    _cloneInto(to) {
      to || (to = Object.create(Object.getPrototypeOf(this), {}));
      const { oHash, iHash, finished, destroyed, blockLen, outputLen, canXOF } = this;
      to = to;
      to.finished = finished;
      to.destroyed = destroyed;
      to.blockLen = blockLen;
      to.outputLen = outputLen;
      to.canXOF = canXOF;
      to.oHash = oHash._cloneInto(to.oHash);
      to.iHash = iHash._cloneInto(to.iHash);
      return to;
    }
    clone() {
      return this._cloneInto();
    }
    destroy() {
      this.destroyed = true;
      this.oHash.destroy();
      this.iHash.destroy();
    }
  };
  var hmac = /* @__PURE__ */ (() => {
    const hmac_ = ((hash, key, message) => new _HMAC(hash, key).update(message).digest());
    hmac_.create = (hash, key) => new _HMAC(hash, key);
    return hmac_;
  })();

  // node_modules/@noble/hashes/sha2.js
  var SHA256_K = /* @__PURE__ */ Uint32Array.from([
    1116352408,
    1899447441,
    3049323471,
    3921009573,
    961987163,
    1508970993,
    2453635748,
    2870763221,
    3624381080,
    310598401,
    607225278,
    1426881987,
    1925078388,
    2162078206,
    2614888103,
    3248222580,
    3835390401,
    4022224774,
    264347078,
    604807628,
    770255983,
    1249150122,
    1555081692,
    1996064986,
    2554220882,
    2821834349,
    2952996808,
    3210313671,
    3336571891,
    3584528711,
    113926993,
    338241895,
    666307205,
    773529912,
    1294757372,
    1396182291,
    1695183700,
    1986661051,
    2177026350,
    2456956037,
    2730485921,
    2820302411,
    3259730800,
    3345764771,
    3516065817,
    3600352804,
    4094571909,
    275423344,
    430227734,
    506948616,
    659060556,
    883997877,
    958139571,
    1322822218,
    1537002063,
    1747873779,
    1955562222,
    2024104815,
    2227730452,
    2361852424,
    2428436474,
    2756734187,
    3204031479,
    3329325298
  ]);
  var SHA256_W = /* @__PURE__ */ new Uint32Array(64);
  var SHA2_32B = class extends HashMD {
    constructor(outputLen, IV) {
      super(64, outputLen, 8, false);
      // We cannot use array here since array allows indexing by variable
      // which means optimizer/compiler cannot use registers.
      // Numeric initializers matter: starting the fields as `undefined` changes
      // V8's field representation and makes sha256 3x slower (measured).
      __publicField(this, "A", 0);
      __publicField(this, "B", 0);
      __publicField(this, "C", 0);
      __publicField(this, "D", 0);
      __publicField(this, "E", 0);
      __publicField(this, "F", 0);
      __publicField(this, "G", 0);
      __publicField(this, "H", 0);
      this.A = IV[0] | 0;
      this.B = IV[1] | 0;
      this.C = IV[2] | 0;
      this.D = IV[3] | 0;
      this.E = IV[4] | 0;
      this.F = IV[5] | 0;
      this.G = IV[6] | 0;
      this.H = IV[7] | 0;
    }
    get() {
      const { A, B: B2, C, D: D2, E, F: F2, G, H: H2 } = this;
      return [A, B2, C, D2, E, F2, G, H2];
    }
    // prettier-ignore
    set(A, B2, C, D2, E, F2, G, H2) {
      this.A = A | 0;
      this.B = B2 | 0;
      this.C = C | 0;
      this.D = D2 | 0;
      this.E = E | 0;
      this.F = F2 | 0;
      this.G = G | 0;
      this.H = H2 | 0;
    }
    _cloneInto(to) {
      (to || (to = new this.constructor())).set(...this.get());
      return this._cloneIntoMeta(to);
    }
    process(view, offset) {
      for (let i = 0; i < 16; i++, offset += 4)
        SHA256_W[i] = view.getUint32(offset, false);
      for (let i = 16; i < 64; i++) {
        const W15 = SHA256_W[i - 15];
        const W2 = SHA256_W[i - 2];
        const s0 = rotr(W15, 7) ^ rotr(W15, 18) ^ W15 >>> 3;
        const s1 = rotr(W2, 17) ^ rotr(W2, 19) ^ W2 >>> 10;
        SHA256_W[i] = s1 + SHA256_W[i - 7] + s0 + SHA256_W[i - 16] | 0;
      }
      let { A, B: B2, C, D: D2, E, F: F2, G, H: H2 } = this;
      for (let i = 0; i < 64; i++) {
        const sigma1 = rotr(E, 6) ^ rotr(E, 11) ^ rotr(E, 25);
        const T1 = H2 + sigma1 + Chi(E, F2, G) + SHA256_K[i] + SHA256_W[i] | 0;
        const sigma0 = rotr(A, 2) ^ rotr(A, 13) ^ rotr(A, 22);
        const T2 = sigma0 + Maj(A, B2, C) | 0;
        H2 = G;
        G = F2;
        F2 = E;
        E = D2 + T1 | 0;
        D2 = C;
        C = B2;
        B2 = A;
        A = T1 + T2 | 0;
      }
      A = A + this.A | 0;
      B2 = B2 + this.B | 0;
      C = C + this.C | 0;
      D2 = D2 + this.D | 0;
      E = E + this.E | 0;
      F2 = F2 + this.F | 0;
      G = G + this.G | 0;
      H2 = H2 + this.H | 0;
      this.set(A, B2, C, D2, E, F2, G, H2);
    }
    roundClean() {
      clean(SHA256_W);
    }
    destroy() {
      this.destroyed = true;
      this.set(0, 0, 0, 0, 0, 0, 0, 0);
      clean(this.buffer);
    }
  };
  var _SHA256 = class extends SHA2_32B {
    constructor() {
      super(32, SHA256_IV);
    }
  };
  var sha256 = /* @__PURE__ */ createHasher(
    () => new _SHA256(),
    /* @__PURE__ */ oidNist(1)
  );

  // node_modules/@noble/post-quantum/slh-dsa.js
  /*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) */
  var INTERNAL_SIG_OPT_KEYS2 = /* @__PURE__ */ Object.freeze(["extraEntropy"]);
  var INTERNAL_VER_OPT_KEYS2 = /* @__PURE__ */ Object.freeze([]);
  var PARAMS2 = /* @__PURE__ */ (() => Object.freeze({
    "128f": Object.freeze({ W: 16, N: 16, H: 66, D: 22, K: 33, A: 6, securityLevel: 128 }),
    "128s": Object.freeze({ W: 16, N: 16, H: 63, D: 7, K: 14, A: 12, securityLevel: 128 }),
    "192f": Object.freeze({ W: 16, N: 24, H: 66, D: 22, K: 33, A: 8, securityLevel: 192 }),
    "192s": Object.freeze({ W: 16, N: 24, H: 63, D: 7, K: 17, A: 14, securityLevel: 192 }),
    "256f": Object.freeze({ W: 16, N: 32, H: 68, D: 17, K: 35, A: 9, securityLevel: 256 }),
    "256s": Object.freeze({ W: 16, N: 32, H: 64, D: 8, K: 22, A: 14, securityLevel: 256 })
  }))();
  var AddressType = {
    WOTS: 0,
    WOTSPK: 1,
    HASHTREE: 2,
    FORSTREE: 3,
    FORSPK: 4,
    WOTSPRF: 5,
    FORSPRF: 6
  };
  var base2b = (outLen, b) => {
    const mask = getMask(b);
    return (bytes) => {
      const baseB = new Uint32Array(outLen);
      for (let out = 0, pos = 0, bits = 0, total = 0; out < outLen; out++) {
        while (bits < b) {
          total = total << 8 | bytes[pos++];
          bits += 8;
        }
        bits -= b;
        baseB[out] = total >>> bits & mask;
      }
      return baseB;
    };
  };
  var _1n2 = /* @__PURE__ */ BigInt(1);
  var _8n = /* @__PURE__ */ BigInt(8);
  var _0xffn = /* @__PURE__ */ BigInt(255);
  function getMaskBig(bits) {
    return (_1n2 << BigInt(bits)) - _1n2;
  }
  function gen(opts, hashOpts_) {
    const hashOpts = hashOpts_;
    const { N: N2, W, H: H2, D: D2, K, A, securityLevel } = opts;
    const getContext = hashOpts.getContext(opts);
    if (W !== 16)
      throw new Error("Unsupported Winternitz parameter");
    const WOTS_LOGW = 4;
    const WOTS_LEN1 = Math.floor(8 * N2 / WOTS_LOGW);
    const WOTS_LEN2 = N2 <= 8 ? 2 : N2 <= 136 ? 3 : 4;
    const TREE_HEIGHT = Math.floor(H2 / D2);
    const WOTS_LEN = WOTS_LEN1 + WOTS_LEN2;
    let ADDR_BYTES = 22;
    let OFFSET_LAYER = 0;
    let OFFSET_TREE = 1;
    let OFFSET_TYPE = 9;
    let OFFSET_KP_ADDR2 = 12;
    let OFFSET_KP_ADDR1 = 13;
    let OFFSET_CHAIN_ADDR = 17;
    let OFFSET_TREE_INDEX = 18;
    let OFFSET_HASH_ADDR = 21;
    if (!hashOpts.isCompressed) {
      ADDR_BYTES = 32;
      OFFSET_LAYER += 3;
      OFFSET_TREE += 7;
      OFFSET_TYPE += 10;
      OFFSET_KP_ADDR2 += 10;
      OFFSET_KP_ADDR1 += 10;
      OFFSET_CHAIN_ADDR += 10;
      OFFSET_TREE_INDEX += 10;
      OFFSET_HASH_ADDR += 10;
    }
    const setAddr = (opts2, addr = new Uint8Array(ADDR_BYTES)) => {
      const type = Object.hasOwn(opts2, "type") ? opts2.type : void 0;
      const height = Object.hasOwn(opts2, "height") ? opts2.height : void 0;
      const tree = Object.hasOwn(opts2, "tree") ? opts2.tree : void 0;
      const layer = Object.hasOwn(opts2, "layer") ? opts2.layer : void 0;
      const index = Object.hasOwn(opts2, "index") ? opts2.index : void 0;
      const chain = Object.hasOwn(opts2, "chain") ? opts2.chain : void 0;
      const hash = Object.hasOwn(opts2, "hash") ? opts2.hash : void 0;
      const keypair = Object.hasOwn(opts2, "keypair") ? opts2.keypair : void 0;
      const subtreeAddr = Object.hasOwn(opts2, "subtreeAddr") ? opts2.subtreeAddr : void 0;
      const keypairAddr = Object.hasOwn(opts2, "keypairAddr") ? opts2.keypairAddr : void 0;
      if (height !== void 0)
        addr[OFFSET_CHAIN_ADDR] = height;
      if (layer !== void 0)
        addr[OFFSET_LAYER] = layer;
      if (type !== void 0)
        addr[OFFSET_TYPE] = type;
      if (chain !== void 0)
        addr[OFFSET_CHAIN_ADDR] = chain;
      if (hash !== void 0)
        addr[OFFSET_HASH_ADDR] = hash;
      if (index !== void 0) {
        addr[OFFSET_TREE_INDEX + 0] = index >>> 24;
        addr[OFFSET_TREE_INDEX + 1] = index >>> 16;
        addr[OFFSET_TREE_INDEX + 2] = index >>> 8;
        addr[OFFSET_TREE_INDEX + 3] = index;
      }
      if (subtreeAddr)
        addr.set(subtreeAddr.subarray(0, OFFSET_TREE + 8));
      if (tree !== void 0) {
        let t = tree;
        for (let i = 7; i >= 0; i--, t >>= _8n)
          addr[OFFSET_TREE + i] = Number(t & _0xffn);
      }
      if (keypair !== void 0) {
        addr[OFFSET_KP_ADDR1] = keypair;
        if (TREE_HEIGHT > 8)
          addr[OFFSET_KP_ADDR2] = keypair >>> 8;
      }
      if (keypairAddr) {
        addr.set(keypairAddr.subarray(0, OFFSET_TREE + 8));
        addr[OFFSET_KP_ADDR1] = keypairAddr[OFFSET_KP_ADDR1];
        if (TREE_HEIGHT > 8)
          addr[OFFSET_KP_ADDR2] = keypairAddr[OFFSET_KP_ADDR2];
      }
      return addr;
    };
    const chainCoder = base2b(WOTS_LEN2, WOTS_LOGW);
    const chainLengths = (msg) => {
      const W1 = base2b(WOTS_LEN1, WOTS_LOGW)(msg);
      let csum = 0;
      for (let i = 0; i < W1.length; i++)
        csum += W - 1 - W1[i];
      csum <<= (8 - WOTS_LEN2 * WOTS_LOGW % 8) % 8;
      const W2 = chainCoder(numberToBytesBE(csum, Math.ceil(WOTS_LEN2 * WOTS_LOGW / 8)));
      const lengths = new Uint32Array(WOTS_LEN);
      lengths.set(W1);
      lengths.set(W2, W1.length);
      return lengths;
    };
    const messageToIndices = base2b(K, A);
    const TREE_BITS = TREE_HEIGHT * (D2 - 1);
    const LEAF_BITS = TREE_HEIGHT;
    const hashMsgCoder = splitCoder("hashedMessage", Math.ceil(A * K / 8), Math.ceil(TREE_BITS / 8), Math.ceil(TREE_HEIGHT / 8));
    const hashMessage = (R, pkSeed, msg, context) => {
      const rawContext = context;
      const digest = rawContext.Hmsg(R, pkSeed, msg, hashMsgCoder.bytesLen);
      const [md, tmpIdxTree, tmpIdxLeaf] = hashMsgCoder.decode(digest);
      const tree = bytesToNumberBE(tmpIdxTree) & getMaskBig(TREE_BITS);
      const leafIdx = Number(bytesToNumberBE(tmpIdxLeaf)) & getMask(LEAF_BITS);
      return { tree, leafIdx, md };
    };
    const treehash = (height, fn) => function treehash_i(context, leafIdx, idxOffset, treeAddr, info) {
      const rawContext = context;
      const leafFn = fn;
      const maxIdx = (1 << height) - 1;
      const stack = new Uint8Array(height * N2);
      const authPath = new Uint8Array(height * N2);
      const current = new Uint8Array(2 * N2);
      const cur0 = current.subarray(0, N2);
      const cur1 = current.subarray(N2);
      for (let idx = 0; ; idx++) {
        const addrOffset = idx + idxOffset;
        cur1.set(leafFn(leafIdx, addrOffset, rawContext, info));
        let h = 0;
        for (let i = idx, o = idxOffset, l = leafIdx; ; h++, i >>>= 1, l >>>= 1, o >>>= 1) {
          if (h === height)
            return { root: cur1, authPath };
          if ((i ^ l) === 1)
            authPath.subarray(h * N2).set(cur1);
          if ((i & 1) === 0 && idx < maxIdx)
            break;
          setAddr({ height: h + 1, index: (i >> 1) + (o >> 1) }, treeAddr);
          cur0.set(stack.subarray(h * N2).subarray(0, N2));
          cur1.set(rawContext.thashN(2, current, treeAddr));
        }
        stack.subarray(h * N2).set(cur1);
      }
      throw new Error("Unreachable code path reached, report this error");
    };
    const wotsTreehash = treehash(TREE_HEIGHT, (leafIdx, addrOffset, context, info) => {
      const rawContext = context;
      const wotsPk = new Uint8Array(WOTS_LEN * N2);
      const wotsKmask = addrOffset === leafIdx ? 0 : ~0 >>> 0;
      setAddr({ keypair: addrOffset }, info.leafAddr);
      setAddr({ keypair: addrOffset }, info.pkAddr);
      for (let i = 0; i < WOTS_LEN; i++) {
        const wotsK = info.wotsSteps[i] | wotsKmask;
        const pk = wotsPk.subarray(i * N2, (i + 1) * N2);
        setAddr({ chain: i, hash: 0, type: AddressType.WOTSPRF }, info.leafAddr);
        pk.set(rawContext.PRFaddr(info.leafAddr));
        setAddr({ type: AddressType.WOTS }, info.leafAddr);
        for (let k = 0; ; k++) {
          if (k === wotsK)
            info.wotsSig.subarray(i * N2).set(pk);
          if (k === W - 1)
            break;
          setAddr({ hash: k }, info.leafAddr);
          pk.set(rawContext.thash1(pk, info.leafAddr));
        }
      }
      return rawContext.thashN(WOTS_LEN, wotsPk, info.pkAddr);
    });
    const forsTreehash = treehash(A, (_, addrOffset, context, forsLeafAddr) => {
      const rawContext = context;
      setAddr({ type: AddressType.FORSPRF, index: addrOffset }, forsLeafAddr);
      const prf = rawContext.PRFaddr(forsLeafAddr);
      setAddr({ type: AddressType.FORSTREE }, forsLeafAddr);
      return rawContext.thash1(prf, forsLeafAddr);
    });
    const merkleSign = (context, wotsAddr, treeAddr, leafIdx, prevRoot = new Uint8Array(N2)) => {
      setAddr({ type: AddressType.HASHTREE }, treeAddr);
      const info = {
        wotsSig: new Uint8Array(wotsCoder.bytesLen),
        wotsSteps: chainLengths(prevRoot),
        leafAddr: setAddr({ subtreeAddr: wotsAddr }),
        pkAddr: setAddr({ type: AddressType.WOTSPK, subtreeAddr: wotsAddr })
      };
      const { root, authPath } = wotsTreehash(context, leafIdx, 0, treeAddr, info);
      return {
        root,
        sigWots: info.wotsSig.subarray(0, WOTS_LEN * N2),
        sigAuth: authPath
      };
    };
    const computeRoot = (leaf, leafIdx, idxOffset, authPath, treeHeight, context, addr) => {
      const rawContext = context;
      const buffer = new Uint8Array(2 * N2);
      const b0 = buffer.subarray(0, N2);
      const b1 = buffer.subarray(N2, 2 * N2);
      if ((leafIdx & 1) !== 0) {
        b1.set(leaf.subarray(0, N2));
        b0.set(authPath.subarray(0, N2));
      } else {
        b0.set(leaf.subarray(0, N2));
        b1.set(authPath.subarray(0, N2));
      }
      leafIdx >>>= 1;
      idxOffset >>>= 1;
      for (let i = 0; i < treeHeight - 1; i++, leafIdx >>= 1, idxOffset >>= 1) {
        setAddr({ height: i + 1, index: leafIdx + idxOffset }, addr);
        const a = authPath.subarray((i + 1) * N2, (i + 2) * N2);
        if ((leafIdx & 1) !== 0) {
          b1.set(rawContext.thashN(2, buffer, addr));
          b0.set(a);
        } else {
          buffer.set(rawContext.thashN(2, buffer, addr));
          b1.set(a);
        }
      }
      setAddr({ height: treeHeight, index: leafIdx + idxOffset }, addr);
      return rawContext.thashN(2, buffer, addr);
    };
    const seedCoder = splitCoder("seed", N2, N2, N2);
    const publicCoder = splitCoder("publicKey", N2, N2);
    const secretCoder = splitCoder("secretKey", N2, N2, publicCoder.bytesLen);
    const forsCoder = vecCoder(splitCoder("fors", N2, N2 * A), K);
    const wotsCoder = vecCoder(splitCoder("wots", WOTS_LEN * N2, TREE_HEIGHT * N2), D2);
    const sigCoder = splitCoder("signature", N2, forsCoder, wotsCoder);
    const internal = Object.freeze({
      info: Object.freeze({ type: "internal-slh-dsa" }),
      lengths: Object.freeze({
        publicKey: publicCoder.bytesLen,
        secretKey: secretCoder.bytesLen,
        signature: sigCoder.bytesLen,
        seed: seedCoder.bytesLen,
        signRand: N2
      }),
      keygen(seed) {
        if (seed !== void 0)
          abytesDoc(seed, seedCoder.bytesLen, "seed");
        seed = seed === void 0 ? randomBytes2(seedCoder.bytesLen) : copyBytes2(seed);
        const [secretSeed, secretPRF, publicSeed] = seedCoder.decode(seed);
        const context = getContext(publicSeed, secretSeed);
        const topTreeAddr = setAddr({ layer: D2 - 1 });
        const wotsAddr = setAddr({ layer: D2 - 1 });
        const { root } = merkleSign(context, wotsAddr, topTreeAddr, ~0 >>> 0);
        const publicKey = publicCoder.encode([publicSeed, root]);
        const secretKey = secretCoder.encode([secretSeed, secretPRF, publicKey]);
        context.clean();
        cleanBytes(secretSeed, secretPRF, root, wotsAddr, topTreeAddr);
        return {
          publicKey,
          secretKey
        };
      },
      getPublicKey: (secretKey) => {
        const [_skSeed, _skPRF, pk] = secretCoder.decode(secretKey);
        return Uint8Array.from(pk);
      },
      sign: (msg, sk, opts2 = {}) => {
        opts2 = validateSigOpts(opts2, INTERNAL_SIG_OPT_KEYS2);
        let { extraEntropy: random } = opts2;
        const [skSeed, skPRF, pk] = secretCoder.decode(sk);
        const [pkSeed, _] = publicCoder.decode(pk);
        if (random === false)
          random = copyBytes2(pkSeed);
        else if (random === void 0)
          random = randomBytes2(N2);
        else
          random = copyBytes2(random);
        abytesDoc(random, N2);
        const context = getContext(pkSeed, skSeed);
        const R = context.PRFmsg(skPRF, random, msg);
        let { tree, leafIdx, md } = hashMessage(R, pk, msg, context);
        const wotsAddr = setAddr({
          type: AddressType.WOTS,
          tree,
          keypair: leafIdx
        });
        const roots = [];
        const forsLeaf = setAddr({ keypairAddr: wotsAddr });
        const forsTreeAddr = setAddr({ keypairAddr: wotsAddr });
        const indices = messageToIndices(md);
        const fors = [];
        for (let i = 0; i < indices.length; i++) {
          const idxOffset = i << A;
          setAddr({
            type: AddressType.FORSPRF,
            height: 0,
            index: indices[i] + idxOffset
          }, forsTreeAddr);
          const prf = copyBytes2(context.PRFaddr(forsTreeAddr));
          setAddr({ type: AddressType.FORSTREE }, forsTreeAddr);
          const { root: root2, authPath } = forsTreehash(context, indices[i], idxOffset, forsTreeAddr, forsLeaf);
          roots.push(root2);
          fors.push([prf, authPath]);
        }
        const forsPkAddr = setAddr({
          type: AddressType.FORSPK,
          keypairAddr: wotsAddr
        });
        const root = copyBytes2(context.thashN(K, concatBytes(...roots), forsPkAddr));
        const treeAddr = setAddr({ type: AddressType.HASHTREE });
        const wots = [];
        for (let i = 0; i < D2; i++, tree >>= BigInt(TREE_HEIGHT)) {
          setAddr({ tree, layer: i }, treeAddr);
          setAddr({ subtreeAddr: treeAddr, keypair: leafIdx }, wotsAddr);
          const { sigWots, sigAuth, root: r } = merkleSign(context, wotsAddr, treeAddr, leafIdx, root);
          root.set(r);
          cleanBytes(r);
          wots.push([sigWots, sigAuth]);
          leafIdx = Number(tree & getMaskBig(TREE_HEIGHT));
        }
        context.clean();
        const SIG = sigCoder.encode([R, fors, wots]);
        cleanBytes(R, random, treeAddr, wotsAddr, forsLeaf, forsTreeAddr, indices, roots);
        return SIG;
      },
      verify: (sig, msg, publicKey, opts2 = {}) => {
        validateVerOpts(opts2, INTERNAL_VER_OPT_KEYS2);
        const [pkSeed, pubRoot] = publicCoder.decode(publicKey);
        const pk = publicKey;
        abytesDoc(sig, void 0, "signature");
        if (sig.length !== sigCoder.bytesLen)
          return false;
        const [random, forsVec, wotsVec] = sigCoder.decode(sig);
        const context = getContext(pkSeed);
        let { tree, leafIdx, md } = hashMessage(random, pk, msg, context);
        const wotsAddr = setAddr({
          type: AddressType.WOTS,
          tree,
          keypair: leafIdx
        });
        const roots = [];
        const forsTreeAddr = setAddr({
          type: AddressType.FORSTREE,
          keypairAddr: wotsAddr
        });
        const indices = messageToIndices(md);
        for (let i = 0; i < forsVec.length; i++) {
          const [prf, authPath] = forsVec[i];
          const idxOffset = i << A;
          setAddr({ height: 0, index: indices[i] + idxOffset }, forsTreeAddr);
          const leaf = context.thash1(prf, forsTreeAddr);
          roots.push(copyBytes2(computeRoot(leaf, indices[i], idxOffset, authPath, A, context, forsTreeAddr)));
        }
        const forsPkAddr = setAddr({
          type: AddressType.FORSPK,
          keypairAddr: wotsAddr
        });
        let root = copyBytes2(context.thashN(K, concatBytes(...roots), forsPkAddr));
        const treeAddr = setAddr({ type: AddressType.HASHTREE });
        const wotsPkAddr = setAddr({ type: AddressType.WOTSPK });
        const wotsPk = new Uint8Array(WOTS_LEN * N2);
        for (let i = 0; i < wotsVec.length; i++, tree >>= BigInt(TREE_HEIGHT)) {
          const [wots, sigAuth] = wotsVec[i];
          setAddr({ tree, layer: i }, treeAddr);
          setAddr({ subtreeAddr: treeAddr, keypair: leafIdx }, wotsAddr);
          setAddr({ keypairAddr: wotsAddr }, wotsPkAddr);
          const lengths = chainLengths(root);
          for (let i2 = 0; i2 < WOTS_LEN; i2++) {
            setAddr({ chain: i2 }, wotsAddr);
            const steps = W - 1 - lengths[i2];
            const start = lengths[i2];
            const out = wotsPk.subarray(i2 * N2);
            out.set(wots.subarray(i2 * N2, (i2 + 1) * N2));
            for (let j = start; j < start + steps && j < W; j++) {
              setAddr({ hash: j }, wotsAddr);
              out.set(context.thash1(out, wotsAddr));
            }
          }
          const leaf = context.thashN(WOTS_LEN, wotsPk, wotsPkAddr);
          root = copyBytes2(computeRoot(leaf, leafIdx, 0, sigAuth, TREE_HEIGHT, context, treeAddr));
          leafIdx = Number(tree & getMaskBig(TREE_HEIGHT));
        }
        return equalBytes(root, pubRoot);
      }
    });
    return Object.freeze({
      info: Object.freeze({ type: "slh-dsa" }),
      internal,
      securityLevel,
      lengths: internal.lengths,
      keygen: internal.keygen,
      getPublicKey: internal.getPublicKey,
      sign: (msg, secretKey, opts2 = {}) => {
        opts2 = validateSigOpts(opts2);
        const M = getMessage(msg, opts2.context);
        const res = internal.sign(M, secretKey, { extraEntropy: opts2.extraEntropy });
        cleanBytes(M);
        return res;
      },
      verify: (sig, msg, publicKey, opts2 = {}) => {
        opts2 = validateVerOpts(opts2);
        return internal.verify(sig, getMessage(msg, opts2.context), publicKey);
      },
      prehash: (hash) => {
        checkHash(hash, securityLevel);
        const rawHash = hash;
        return Object.freeze({
          info: Object.freeze({ type: "hashslh-dsa" }),
          lengths: internal.lengths,
          keygen: internal.keygen,
          getPublicKey: internal.getPublicKey,
          sign: (msg, secretKey, opts2 = {}) => {
            opts2 = validateSigOpts(opts2);
            const M = getMessagePrehash(rawHash, msg, opts2.context);
            const res = internal.sign(M, secretKey, { extraEntropy: opts2.extraEntropy });
            cleanBytes(M);
            return res;
          },
          verify: (sig, msg, publicKey, opts2 = {}) => {
            opts2 = validateVerOpts(opts2);
            return internal.verify(sig, getMessagePrehash(rawHash, msg, opts2.context), publicKey);
          }
        });
      }
    });
  }
  var genSha = (h0, h1) => (opts) => (pub_seed, sk_seed) => {
    const { N: N2 } = opts;
    const stats = { prf: 0, thash: 0, hmsg: 0, gen_message_random: 0, mgf1: 0 };
    const counterB = new Uint8Array(4);
    const counterV = createView(counterB);
    const h0ps = h0.create().update(pub_seed).update(new Uint8Array(h0.blockLen - N2));
    const h1ps = h1.create().update(pub_seed).update(new Uint8Array(h1.blockLen - N2));
    const h0tmp = h0ps.clone();
    const h1tmp = h1ps.clone();
    const h0out = new Uint8Array(h0.outputLen);
    const h1out = new Uint8Array(h1.outputLen);
    const prfOut = new Uint8Array(h0.outputLen);
    const h0outN = h0out.subarray(0, N2);
    const h1outN = h1out.subarray(0, N2);
    const prfOutN = prfOut.subarray(0, N2);
    function mgf1(seed, length, hash) {
      stats.mgf1++;
      const out = new Uint8Array(Math.ceil(length / hash.outputLen) * hash.outputLen);
      if (length > 2 ** 32)
        throw new Error("mask too long");
      for (let counter = 0, o = out; o.length; counter++) {
        counterV.setUint32(0, counter, false);
        hash.create().update(seed).update(counterB).digestInto(o);
        o = o.subarray(hash.outputLen);
      }
      cleanBytes(out.subarray(length));
      return out.subarray(0, length);
    }
    const thash = (h, hTmp, out, outN) => (blocks, input, addr) => {
      stats.thash++;
      const len = blocks * N2;
      h._cloneInto(hTmp).update(addr).update(input.length === len ? input : input.subarray(0, len)).digestInto(out);
      return outN;
    };
    return {
      PRFaddr: (addr) => {
        if (!sk_seed)
          throw new Error("No sk seed");
        stats.prf++;
        h0ps._cloneInto(h0tmp).update(addr).update(sk_seed).digestInto(prfOut);
        return prfOutN;
      },
      PRFmsg: (skPRF, random, msg) => {
        stats.gen_message_random++;
        return hmac.create(h1, skPRF).update(random).update(msg).digest().subarray(0, N2);
      },
      Hmsg: (R, pk, m, outLen) => {
        stats.hmsg++;
        const seed = concatBytes(R.subarray(0, N2), pk.subarray(0, N2), h1.create().update(R.subarray(0, N2)).update(pk).update(m).digest());
        return mgf1(seed, outLen, h1);
      },
      thash1: thash(h0ps, h0tmp, h0out, h0outN).bind(null, 1),
      thashN: thash(h1ps, h1tmp, h1out, h1outN),
      clean: () => {
        h0ps.destroy();
        h1ps.destroy();
        h0tmp.destroy();
        h1tmp.destroy();
        cleanBytes(h0out, h1out, prfOut);
      }
    };
  };
  var SHA256_SIMPLE = /* @__PURE__ */ (() => ({
    isCompressed: true,
    getContext: genSha(sha256, sha256)
  }))();
  var slh_dsa_sha2_128f = /* @__PURE__ */ (() => gen(PARAMS2["128f"], SHA256_SIMPLE))();

  // src/sig.mjs
  var SIGNATURE_CONTEXT = utf8("DSM/v1/signature");
  var ALGS = { 1: ml_dsa65, 2: slh_dsa_sha2_128f };
  var memo = null;
  function verifySignature(publicKey, signature, digest) {
    if (publicKey.suite !== signature.suite) return { ok: false, reason: `signature suite ${signature.suite} differs from the key's suite ${publicKey.suite}` };
    const alg = ALGS[publicKey.suite];
    if (!alg) return { ok: false, reason: `unknown suite ${publicKey.suite}` };
    let mk;
    if (memo) {
      mk = `${publicKey.suite}:${bytesToHex(blake3(concat(publicKey.key, signature.signature, digest)))}`;
      const hit = memo.get(mk);
      if (hit) return hit;
    }
    let r;
    try {
      r = alg.verify(signature.signature, digest, publicKey.key, { context: SIGNATURE_CONTEXT }) ? { ok: true } : { ok: false, reason: "does not verify" };
    } catch (e) {
      r = { ok: false, reason: `verifier error: ${e.message}` };
    }
    if (memo) {
      if (memo.size > 256) memo.clear();
      memo.set(mk, r);
    }
    return r;
  }

  // src/objects.mjs
  var objects_exports = {};
  __export(objects_exports, {
    acceptanceCommit: () => acceptanceCommit,
    childTip: () => childTip,
    concat: () => concat,
    deviceId: () => deviceId,
    genesisDigest: () => genesisDigest,
    genesisTip: () => genesisTip,
    headDigest: () => headDigest,
    objectAddress: () => objectAddress,
    outputId: () => outputId,
    proposalCommit: () => proposalCommit,
    proposalRest: () => proposalRest,
    receiptDigest: () => receiptDigest,
    refusalCommit: () => refusalCommit,
    refusalRest: () => refusalRest,
    relationshipKey: () => relationshipKey,
    releaseTip: () => releaseTip,
    statementDigest: () => statementDigest,
    statementHash: () => statementHash,
    transferCommit: () => transferCommit
  });
  var genesisDigest = (record) => H("Genesis", encode("GenesisRecord", record));
  var deviceId = (identity) => H("DeviceId", identity.genesis, encode("PublicKey", identity.public_key));
  function relationshipKey(a, b) {
    return compare(a, b) <= 0 ? H("RelationshipKey", a, b) : H("RelationshipKey", b, a);
  }
  var genesisTip = (k) => H("RelationshipGenesis", k);
  var childTip = (step) => H("RelationshipTip", encode("RelationshipStep", step));
  var releaseTip = (tip) => H("ReleaseTip", tip);
  var headDigest = (head) => H("DeviceHead", encode("DeviceHead", head));
  var statementDigest = (st) => H("ParcelStatement", encode("ParcelStatement", st));
  var transferCommit = (stDigest, rest) => H("TransferCommit", stDigest, rest);
  function proposalRest(proposal) {
    return H("ProposalCommit", encode("Proposal", { ...proposal, parcels: void 0 }));
  }
  var proposalCommit = (proposal) => transferCommit(statementDigest(proposal.parcels), proposalRest(proposal));
  var acceptanceCommit = (acc) => H("AcceptanceCommit", encode("Acceptance", acc));
  function refusalRest(refusal) {
    return H("RefusalCommit", encode("Refusal", { ...refusal, parcels: void 0 }));
  }
  var refusalCommit = (refusal) => transferCommit(statementDigest(refusal.parcels), refusalRest(refusal));
  var receiptDigest = (receiptBytes) => H("Receipt", receiptBytes);
  var statementHash = (statement) => H("Statement", encode("Statement", statement));
  function outputId(commit, i) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, i, false);
    return H("ParcelOutput", commit, b);
  }
  var objectAddress = (bytes) => H("ObjectAddress", bytes);

  // src/checks.mjs
  var KIND = ENUMS.TransitionKind;
  var U128_MAX = (1n << 128n) - 1n;
  var CheckFail = class extends Error {
    constructor(code, message) {
      super(`${code}: ${message}`);
      this.code = code;
      this.detail = message;
    }
  };
  var fail = (code, message) => {
    throw new CheckFail(code, message);
  };
  var Run = class {
    constructor() {
      this.checks = [];
      this.failed = null;
    }
    /** Run check `id` for `party` (or null) unless an earlier one failed. */
    check(id2, party, name, fn) {
      const entry = { id: id2, party, name, status: "skipped" };
      this.checks.push(entry);
      if (this.failed) return void 0;
      try {
        const v = fn();
        entry.status = "pass";
        return v;
      } catch (e) {
        entry.status = "fail";
        entry.error = e instanceof CheckFail || e.name === "DecodeError" || e instanceof SmtError ? { code: e.code, message: e.message } : { code: "Internal", message: String(e && e.message) };
        this.failed = entry;
        return void 0;
      }
    }
    get ok() {
      return this.failed === null;
    }
  };
  function checkStep(step) {
    if (isZero(step.amount)) fail("ZeroAmount", "the step moves nothing");
    if (equal(step.sender, step.receiver)) fail("SelfTransfer", "sender and receiver are one device");
    if (!equal(step.relationship, relationshipKey(step.sender, step.receiver))) fail("RelationshipMismatch", "relationship is not relationship_key(sender, receiver)");
  }
  function checkParcels(step, parcels) {
    if (!equal(parcels.holder, step.sender)) fail("Parcels", "is not held by the sender");
    let toReceiver = 0n;
    for (const o of parcels.outputs) {
      if (equal(o.to, step.receiver)) toReceiver += u128beToBigInt(o.amount);
      else if (!equal(o.to, step.sender)) fail("Parcels", "pays a device other than the sender or the receiver");
    }
    if (toReceiver !== u128beToBigInt(step.amount)) fail("Parcels", "does not pay the receiver exactly the step's amount");
  }
  function checkBinding(party, identity, stepParty, parent, child) {
    const id2 = deviceId(identity);
    if (!equal(id2, stepParty)) fail("DeviceBinding", `${party}: the identity does not derive the step's ${party}`);
    if (!equal(parent.device, id2)) fail("DeviceBinding", `${party}: the parent head is another device's`);
    if (!equal(child.device, id2)) fail("DeviceBinding", `${party}: the child head is another device's`);
    return id2;
  }
  function checkAdjacency(party, parent, child, kind, cause) {
    if (!equal(child.parent, headDigest(parent))) fail("NotAdjacent", `${party}: child.parent is not the parent head's digest`);
    if (parent.height === (1n << 64n) - 1n || child.height !== parent.height + 1n) fail("NotAdjacent", `${party}: height does not increase by one`);
    if (child.kind !== kind) fail("NotAdjacent", `${party}: child head kind ${child.kind}, expected ${kind}`);
    if (!equal(child.cause, cause)) fail("NotAdjacent", `${party}: child.cause is not the expected ${kind === KIND.DEBIT || kind === KIND.CREDIT ? "child tip" : "release tip"}`);
  }
  function checkTree(party, step, proof, parent, child, mv) {
    let found;
    try {
      found = verifySmt(proof, step.relationship, parent.smt_root);
    } catch (e) {
      if (e instanceof SmtError) fail("Proof", `${party}: ${e.code}`);
      throw e;
    }
    const held = found.present ? found.value : genesisTip(step.relationship);
    let newLeaf;
    if (mv.stays) {
      if (mv.stays.some((t) => equal(t, held))) fail("TipNotCurrent", party);
      newLeaf = held;
    } else {
      if (!equal(held, mv.from ?? step.parent_tip)) fail("TipNotCurrent", party);
      newLeaf = mv.to;
    }
    if (!equal(rootAfterSet(proof, step.relationship, newLeaf), child.smt_root)) fail("RootMismatch", party);
  }
  function checkBalances(party, parent, child, token, amount, sign) {
    const list = parent.balances.map((b) => ({ token: b.token, amount: u128beToBigInt(b.amount) }));
    const a = u128beToBigInt(amount);
    const i = list.findIndex((b) => equal(b.token, token));
    if (sign < 0) {
      if (i < 0 || list[i].amount < a) fail("Balance", `${party}: Insufficient`);
      list[i].amount -= a;
      if (list[i].amount === 0n) list.splice(i, 1);
    } else if (sign > 0) {
      if (i >= 0) {
        if (list[i].amount + a > U128_MAX) fail("Balance", `${party}: Overflow`);
        list[i].amount += a;
      } else {
        if (list.length >= 64) fail("Balance", `${party}: TooManyTokens`);
        list.push({ token, amount: a });
        list.sort((x, y) => compare(x.token, y.token));
      }
    }
    const expect = encode("DeviceHead", { ...child, balances: list.map((b) => ({ token: b.token, amount: bigIntToU128be(b.amount) })) });
    if (!equal(expect, encode("DeviceHead", child))) fail("BalanceMismatch", party);
  }
  function checkSignature(party, identity, signature, digest) {
    const r = verifySignature(identity.public_key, signature, digest);
    if (!r.ok) fail("Signature", `${party}: ${r.reason}`);
  }
  function senderHalf(run, sp) {
    const p = sp.proposal;
    const step = p.step;
    const tip = childTip(step);
    const commit = proposalCommit(p);
    run.check("3", null, "step: amount > 0, sender \u2260 receiver, relationship key", () => checkStep(step));
    run.check("3a", "sender", "step names the sender's parent head", () => {
      if (!equal(step.sender_parent_head, headDigest(p.sender_parent_head))) fail("NotAdjacent", "sender: step.sender_parent_head is not the parent head's digest");
    });
    run.check("3b", "sender", "parcel statement fits the step", () => checkParcels(step, p.parcels));
    run.check("4", "sender", "device binding", () => checkBinding("sender", p.sender, step.sender, p.sender_parent_head, p.sender_child_head));
    run.check("5", "sender", "adjacency (DEBIT, cause = child tip)", () => checkAdjacency("sender", p.sender_parent_head, p.sender_child_head, KIND.DEBIT, tip));
    run.check("6", "sender", "tree proof, current tip, new root", () => checkTree("sender", step, p.sender_proof, p.sender_parent_head, p.sender_child_head, { from: null, to: tip }));
    run.check("7", "sender", "balances debited", () => checkBalances("sender", p.sender_parent_head, p.sender_child_head, step.token, step.amount, -1));
    run.check("8", "sender", "signature over the proposal commit", () => checkSignature("sender", p.sender, sp.signature, commit));
    return { tip, commit };
  }
  function answerMove(step, leaf, isRefusal, crossing, behind) {
    if (behind.length > 0) {
      if (!isRefusal) fail("Queue", "is named by an answer that is not a refusal");
      if (crossing) fail("Queue", "is named together with a crossing");
      if (behind.length > 3) fail("Queue", "is longer than a queue can be");
      for (const b of behind) {
        let valid = true;
        try {
          checkStep(b);
        } catch {
          valid = false;
        }
        if (!valid || !equal(b.relationship, step.relationship) || !equal(b.sender, step.sender) || !equal(b.receiver, step.receiver)) {
          fail("Queue", "holds a step that is not a valid one of the same sender to the same receiver");
        }
      }
      for (let i = 0; i < behind.length; i++) {
        const next = i + 1 < behind.length ? behind[i + 1].parent_tip : step.parent_tip;
        if (!equal(childTip(behind[i]), next)) fail("Queue", "does not lead to the proposal");
      }
      const path = [behind[0].parent_tip, ...behind.map(childTip), step.parent_tip, childTip(step)];
      return { stays: path, cause: leaf };
    }
    if (!crossing) return { from: null, to: leaf, cause: leaf };
    if (!equal(crossing.relationship, step.relationship) || !equal(crossing.parent_tip, step.parent_tip) || !equal(crossing.sender, step.receiver) || !equal(crossing.receiver, step.sender)) {
      fail("Crossing", "does not cross the proposal");
    }
    try {
      checkStep(crossing);
    } catch {
      fail("Crossing", "is not a valid step");
    }
    const own = childTip(crossing);
    if (compare(childTip(step), own) < 0) return { from: releaseTip(own), to: leaf, cause: leaf };
    if (!isRefusal) fail("Crossing", "won against the proposal, which can then only be refused");
    return { stays: [step.parent_tip], cause: leaf };
  }
  function receiverHalf(run, step, tip, pCommit, sa) {
    const a = sa.acceptance;
    const commit = acceptanceCommit(a);
    run.check("5a", "receiver", "acceptance names the proposal commit", () => {
      if (!equal(a.proposal_commit, pCommit)) fail("NotAdjacent", "receiver: acceptance.proposal_commit is not the proposal's commit");
    });
    const mv = run.check("5b", "receiver", "crossing (\xA77.6), if named", () => answerMove(step, tip, false, a.crossing, []));
    run.check("4", "receiver", "device binding", () => checkBinding("receiver", a.receiver, step.receiver, a.receiver_parent_head, a.receiver_child_head));
    run.check("5", "receiver", "adjacency (CREDIT, cause = child tip)", () => checkAdjacency("receiver", a.receiver_parent_head, a.receiver_child_head, KIND.CREDIT, mv.cause));
    run.check("6", "receiver", "tree proof, current tip, new root", () => checkTree("receiver", step, a.receiver_proof, a.receiver_parent_head, a.receiver_child_head, mv));
    run.check("7", "receiver", "balances credited", () => checkBalances("receiver", a.receiver_parent_head, a.receiver_child_head, step.token, step.amount, 1));
    run.check("8", "receiver", "signature over the acceptance commit", () => checkSignature("receiver", a.receiver, sa.signature, commit));
    return { commit };
  }
  function refundOf(proposal, pCommit) {
    const { parcels, step } = proposal;
    const ins = [];
    parcels.outputs.forEach((o, i) => {
      if (equal(o.to, step.receiver)) ins.push({ id: outputId(pCommit, i), amount: o.amount });
    });
    ins.sort((x, y) => compare(x.id, y.id));
    return {
      holder: step.receiver,
      inputs: ins.map((x) => x.id),
      outputs: ins.map((x, i) => ({ input: i, to: step.sender, amount: x.amount }))
    };
  }
  function refusalHalf(run, proposal, pCommit, tip, sr) {
    const r = sr.refusal;
    const step = proposal.step;
    const rel = releaseTip(tip);
    const commit = refusalCommit(r);
    run.check("R1", "receiver", "refusal gives the receiver's outputs back to the sender", () => {
      if (!equal(encode("ParcelStatement", r.parcels), encode("ParcelStatement", refundOf(proposal, pCommit)))) {
        fail("Parcels", "of the refusal does not give the receiver's outputs back to the sender");
      }
      if (r.refused_input !== void 0 && !proposal.parcels.inputs.some((x) => equal(x, r.refused_input))) {
        fail("Parcels", "named by the refusal is not an input of the proposal");
      }
    });
    run.check("5a", "receiver", "refusal names the proposal commit", () => {
      if (!equal(r.proposal_commit, pCommit)) fail("NotAdjacent", "receiver: refusal.proposal_commit is not the proposal's commit");
    });
    const mv = run.check("5b", "receiver", "crossing (\xA77.6) or queue (\xA77.7), if named", () => answerMove(step, rel, true, r.crossing, r.behind));
    run.check("4", "receiver", "device binding", () => checkBinding("receiver", r.receiver, step.receiver, r.receiver_parent_head, r.receiver_child_head));
    run.check("5", "receiver", "adjacency (REFUSE, cause = release tip)", () => checkAdjacency("receiver", r.receiver_parent_head, r.receiver_child_head, KIND.REFUSE, mv.cause));
    run.check("6", "receiver", "tree proof, current tip, new root", () => checkTree("receiver", step, r.receiver_proof, r.receiver_parent_head, r.receiver_child_head, mv));
    run.check("7", "receiver", "balances unchanged", () => checkBalances("receiver", r.receiver_parent_head, r.receiver_child_head, step.token, step.amount, 0));
    run.check("8", "receiver", "signature over the refusal commit", () => checkSignature("receiver", r.receiver, sr.signature, commit));
    return { commit };
  }

  // src/receipt.mjs
  function decodeChecks(run, type, bytes) {
    run.check("1", null, `size \u2264 ${SIZE_CAPS[type]} bytes`, () => {
      if (!(bytes instanceof Uint8Array)) throw new TypeError("expects bytes");
      if (bytes.length > SIZE_CAPS[type]) throw new DecodeError("TooLarge", `${bytes.length} bytes`, type);
    });
    return run.check("2", null, `canonical decoding as ${type}`, () => decode(type, bytes));
  }
  function headFacts(h) {
    return { digest: bytesToHex(headDigest(h)), height: h.height.toString(), kind: h.kind, smt_root: bytesToHex(h.smt_root) };
  }
  function summary(run, facts) {
    return { valid: run.ok, error: run.failed ? { check: run.failed.id, party: run.failed.party, ...run.failed.error } : null, checks: run.checks, facts: run.ok ? facts : null };
  }
  function verifyReceipt(bytes) {
    const run = new Run();
    const r = decodeChecks(run, "Receipt", bytes);
    let sender = {}, receiver = {};
    if (r) {
      sender = senderHalf(run, r.proposal);
      receiver = receiverHalf(run, r.proposal.proposal.step, sender.tip, sender.commit, r.acceptance);
    }
    let facts = null;
    if (run.ok) {
      const p = r.proposal.proposal, a = r.acceptance.acceptance, st = p.step;
      facts = {
        sender: bytesToHex(st.sender),
        receiver: bytesToHex(st.receiver),
        token: bytesToHex(st.token),
        amount: u128beToBigInt(st.amount).toString(),
        relationship: bytesToHex(st.relationship),
        parent_tip: bytesToHex(st.parent_tip),
        child_tip: bytesToHex(sender.tip),
        sender_suite: SUITES[p.sender.public_key.suite].name,
        receiver_suite: SUITES[a.receiver.public_key.suite].name,
        sender_heads: { parent: headFacts(p.sender_parent_head), child: headFacts(p.sender_child_head) },
        receiver_heads: { parent: headFacts(a.receiver_parent_head), child: headFacts(a.receiver_child_head) },
        proposal_commit: bytesToHex(sender.commit),
        acceptance_commit: bytesToHex(receiver.commit),
        receipt_digest: bytesToHex(receiptDigest(bytes)),
        crossing: a.crossing ? bytesToHex(a.crossing.sender) : null
      };
    }
    return summary(run, facts);
  }
  function verifySignedProposal(bytes) {
    const run = new Run();
    const sp = decodeChecks(run, "SignedProposal", bytes);
    let s = {};
    if (sp) s = senderHalf(run, sp);
    return summary(run, run.ok ? {
      sender: bytesToHex(sp.proposal.step.sender),
      receiver: bytesToHex(sp.proposal.step.receiver),
      token: bytesToHex(sp.proposal.step.token),
      amount: u128beToBigInt(sp.proposal.step.amount).toString(),
      proposal_commit: bytesToHex(s.commit),
      child_tip: bytesToHex(s.tip)
    } : null);
  }
  function verifyRefusal(proposalBytes, refusalBytes) {
    const run = new Run();
    const sp = decodeChecks(run, "SignedProposal", proposalBytes);
    let s = {};
    if (sp) s = senderHalf(run, sp);
    const sr = run.check("2r", null, "canonical decoding as SignedRefusal", () => {
      if (refusalBytes.length > SIZE_CAPS.Statement) throw new DecodeError("TooLarge", `${refusalBytes.length} bytes`, "SignedRefusal");
      return decode("SignedRefusal", refusalBytes);
    });
    let rr = {};
    if (sr) rr = refusalHalf(run, sp.proposal, s.commit, s.tip, sr);
    return summary(run, run.ok ? {
      sender: bytesToHex(sp.proposal.step.sender),
      receiver: bytesToHex(sp.proposal.step.receiver),
      amount: u128beToBigInt(sp.proposal.step.amount).toString(),
      reason: sr.refusal.reason.toString(),
      refusal_commit: bytesToHex(rr.commit),
      crossing: sr.refusal.crossing !== void 0,
      behind: sr.refusal.behind.length
    } : null);
  }

  // node_modules/@noble/ciphers/utils.js
  /*! noble-ciphers - MIT License (c) 2023 Paul Miller (paulmillr.com) */
  function isBytes2(a) {
    return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a && a.BYTES_PER_ELEMENT === 1;
  }
  var atitle3 = (title) => title ? `"${title}" ` : "";
  function abool3(value, title = "") {
    if (typeof value !== "boolean")
      throw new TypeError(atitle3(title) + "expected boolean, got type=" + typeof value);
    return value;
  }
  function anumber3(n, title = "") {
    if (typeof n !== "number")
      throw new TypeError(atitle3(title) + "expected number, got " + typeof n);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(atitle3(title) + "expected integer >= 0, got " + n);
    return n;
  }
  function abytes2(value, length, title = "") {
    if (isBytes2(value) && (length === void 0 || value.length === length))
      return value;
    if (length !== void 0)
      anumber3(length, "length");
    const bytes = isBytes2(value);
    const ofLen = length !== void 0 ? ` of length ${length}` : "";
    const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
    const message = atitle3(title) + "expected Uint8Array" + ofLen + ", got " + got;
    if (!bytes)
      throw new TypeError(message);
    throw new RangeError(message);
  }
  var aobject4 = (value, label) => {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new TypeError(label === "object" ? "expected valid options object" : `"${label}" expected object, got type=${typeof value}`);
  };
  function aexists2(instance, checkFinished = true) {
    if (instance.destroyed)
      throw new Error("hash was destroyed");
    if (checkFinished && instance.finished)
      throw new Error("digest() was already called");
  }
  function aoutput2(out, instance) {
    abytes2(out, void 0, "output");
    const min = instance.outputLen;
    if (!(out.length >= min)) {
      throw new RangeError('"output" expected length >= ' + min);
    }
  }
  function u322(arr) {
    return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
  }
  function clean2(...arrays) {
    for (let i = 0; i < arrays.length; i++) {
      arrays[i].fill(0);
    }
  }
  function createView2(arr) {
    return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  var isLE2 = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
  function byteSwap2(word) {
    return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
  }
  function byteSwap322(arr) {
    for (let i = 0; i < arr.length; i++) {
      arr[i] = byteSwap2(arr[i]);
    }
    return arr;
  }
  var swap32IfBE2 = isLE2 ? (u) => u : byteSwap322;
  function overlapBytes(a, b) {
    if (!a.byteLength || !b.byteLength)
      return false;
    return a.buffer === b.buffer && // best we can do, may fail with an obscure Proxy
    a.byteOffset < b.byteOffset + b.byteLength && // a starts before b end
    b.byteOffset < a.byteOffset + a.byteLength;
  }
  function complexOverlapBytes(input, output) {
    if (overlapBytes(input, output) && input.byteOffset < output.byteOffset)
      throw new Error("complex overlap of input and output is not supported");
  }
  function checkOpts2(defaults, opts) {
    aobject4(defaults, "defaults");
    aobject4(opts, "opts");
    const merged = Object.assign(defaults, opts);
    return merged;
  }
  function equalBytes2(a, b) {
    a = abytes2(a);
    b = abytes2(b);
    if (a.length !== b.length)
      return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++)
      diff |= a[i] ^ b[i];
    return diff === 0;
  }
  function wrapMacConstructor(keyLen, macCons, fromMsg) {
    const mac = macCons;
    const getArgs = fromMsg || (() => []);
    const macC = (msg, key) => mac(key, ...getArgs(msg)).update(msg).digest();
    const tmp = mac(new Uint8Array(keyLen), ...getArgs(new Uint8Array(0)));
    macC.outputLen = tmp.outputLen;
    macC.blockLen = tmp.blockLen;
    macC.create = (key, ...args) => mac(key, ...args);
    return macC;
  }
  var wrapCipher = /* @__NO_SIDE_EFFECTS__ */ (params, constructor) => {
    function wrappedCipher(key, ...args) {
      abytes2(key, void 0, "key");
      if (params.nonceLength !== void 0) {
        const nonce = args[0];
        abytes2(nonce, params.varSizeNonce ? void 0 : params.nonceLength, "nonce");
      }
      const tagl = params.tagLength;
      const aadStart = params.nonceLength !== void 0 ? 1 : 0;
      if (!params.withAAD) {
        for (let i = aadStart; i < args.length; i++)
          if (isBytes2(args[i]))
            throw new Error("AAD not supported");
      }
      if (params.withAAD && args[aadStart] !== void 0)
        abytes2(args[aadStart], void 0, "AAD");
      const cipher = constructor(key, ...args);
      const checkOutput = (fnLength, output) => {
        if (output !== void 0) {
          if (fnLength !== 2)
            throw new Error("cipher output not supported");
          abytes2(output, void 0, "output");
        }
      };
      let called = false;
      const wrCipher = {
        encrypt(data, output) {
          if (called)
            throw new Error("cannot encrypt() twice with same key + nonce");
          called = true;
          abytes2(data, void 0, "data");
          checkOutput(cipher.encrypt.length, output);
          return cipher.encrypt(data, output);
        },
        decrypt(data, output) {
          abytes2(data, void 0, "data");
          if (tagl && data.length < tagl)
            throw new Error('"ciphertext" expected length >= tagLength=' + tagl);
          checkOutput(cipher.decrypt.length, output);
          return cipher.decrypt(data, output);
        }
      };
      return wrCipher;
    }
    Object.assign(wrappedCipher, params);
    return wrappedCipher;
  };
  function getOutput(expectedLength, out, onlyAligned = true) {
    if (out === void 0)
      return new Uint8Array(expectedLength);
    abytes2(out, expectedLength, "output");
    if (onlyAligned && !isAligned32(out))
      throw new Error("invalid output, must be aligned");
    return out;
  }
  function u64Lengths(dataLength, aadLength, isLE3) {
    anumber3(dataLength);
    anumber3(aadLength);
    abool3(isLE3);
    const num = new Uint8Array(16);
    const view = createView2(num);
    view.setBigUint64(0, BigInt(aadLength), isLE3);
    view.setBigUint64(8, BigInt(dataLength), isLE3);
    return num;
  }
  function isAligned32(bytes) {
    return bytes.byteOffset % 4 === 0;
  }
  function copyBytes3(bytes) {
    return Uint8Array.from(abytes2(bytes));
  }

  // node_modules/@noble/ciphers/_arx.js
  var encodeStr = (str) => Uint8Array.from(str.split(""), (c) => c.charCodeAt(0));
  var sigma16_32 = /* @__PURE__ */ (() => swap32IfBE2(u322(encodeStr("expand 16-byte k"))))();
  var sigma32_32 = /* @__PURE__ */ (() => swap32IfBE2(u322(encodeStr("expand 32-byte k"))))();
  function rotl(a, b) {
    return a << b | a >>> 32 - b;
  }
  var BLOCK_LEN = 64;
  var BLOCK_LEN32 = 16;
  var MAX_COUNTER = /* @__PURE__ */ (() => 2 ** 32 - 1)();
  var U32_EMPTY = /* @__PURE__ */ Uint32Array.of();
  function runCipher(core, sigma, key, nonce, data, output, counter, rounds) {
    const len = data.length;
    const block = new Uint8Array(BLOCK_LEN);
    const b32 = u322(block);
    const isAligned = isLE2 && isAligned32(data) && isAligned32(output);
    const d32 = isAligned ? u322(data) : U32_EMPTY;
    const o32 = isAligned ? u322(output) : U32_EMPTY;
    if (!isLE2) {
      for (let pos = 0; pos < len; counter++) {
        core(sigma, key, nonce, b32, counter, rounds);
        swap32IfBE2(b32);
        if (counter >= MAX_COUNTER)
          throw new Error("arx: counter overflow");
        const take = Math.min(BLOCK_LEN, len - pos);
        for (let j = 0, posj; j < take; j++) {
          posj = pos + j;
          output[posj] = data[posj] ^ block[j];
        }
        pos += take;
      }
      return;
    }
    for (let pos = 0; pos < len; counter++) {
      core(sigma, key, nonce, b32, counter, rounds);
      if (counter >= MAX_COUNTER)
        throw new Error("arx: counter overflow");
      const take = Math.min(BLOCK_LEN, len - pos);
      if (isAligned && take === BLOCK_LEN) {
        const pos32 = pos / 4;
        if (pos % 4 !== 0)
          throw new Error("arx: invalid block position");
        for (let j = 0, posj; j < BLOCK_LEN32; j++) {
          posj = pos32 + j;
          o32[posj] = d32[posj] ^ b32[j];
        }
        pos += BLOCK_LEN;
        continue;
      }
      for (let j = 0, posj; j < take; j++) {
        posj = pos + j;
        output[posj] = data[posj] ^ block[j];
      }
      pos += take;
    }
  }
  function createCipher(core, opts) {
    const { allowShortKeys, extendNonceFn, counterLength, counterRight, rounds } = checkOpts2({ allowShortKeys: false, counterLength: 8, counterRight: false, rounds: 20 }, opts);
    if (typeof core !== "function")
      throw new Error("core must be a function");
    anumber3(counterLength);
    anumber3(rounds);
    abool3(counterRight);
    abool3(allowShortKeys);
    return (key, nonce, data, output, counter = 0) => {
      abytes2(key, void 0, "key");
      abytes2(nonce, void 0, "nonce");
      abytes2(data, void 0, "data");
      const len = data.length;
      const hasOutput = output !== void 0;
      output = getOutput(len, output, false);
      if (hasOutput)
        complexOverlapBytes(data, output);
      anumber3(counter);
      if (counter < 0 || counter >= MAX_COUNTER)
        throw new Error("arx: counter overflow");
      const toClean = [];
      let l = key.length;
      let k;
      let sigma;
      if (l === 32) {
        toClean.push(k = copyBytes3(key));
        sigma = sigma32_32;
      } else if (l === 16 && allowShortKeys) {
        k = new Uint8Array(32);
        k.set(key);
        k.set(key, 16);
        sigma = sigma16_32;
        toClean.push(k);
      } else {
        abytes2(key, 32, "arx key");
        throw new Error("invalid key size");
      }
      if (!isLE2 || !isAligned32(nonce))
        toClean.push(nonce = copyBytes3(nonce));
      let k32 = u322(k);
      if (extendNonceFn) {
        if (nonce.length !== 24)
          throw new Error("arx: extended nonce must be 24 bytes");
        const n16 = nonce.subarray(0, 16);
        if (isLE2)
          extendNonceFn(sigma, k32, u322(n16), k32);
        else {
          const sigmaRaw = swap32IfBE2(Uint32Array.from(sigma));
          extendNonceFn(sigmaRaw, k32, u322(n16), k32);
          clean2(sigmaRaw);
          swap32IfBE2(k32);
        }
        nonce = nonce.subarray(16);
      } else if (!isLE2)
        swap32IfBE2(k32);
      const nonceNcLen = 16 - counterLength;
      if (nonceNcLen !== nonce.length)
        throw new Error(`arx: nonce must be ${nonceNcLen} or 16 bytes`);
      if (nonceNcLen !== 12) {
        const nc = new Uint8Array(12);
        nc.set(nonce, counterRight ? 0 : 12 - nonce.length);
        nonce = nc;
        toClean.push(nonce);
      }
      const n32 = swap32IfBE2(u322(nonce));
      try {
        runCipher(core, sigma, k32, n32, data, output, counter, rounds);
        return output;
      } finally {
        clean2(...toClean);
      }
    };
  }

  // node_modules/@noble/ciphers/_poly1305.js
  function u8to16(a, i) {
    return a[i++] & 255 | (a[i++] & 255) << 8;
  }
  var Poly1305 = class {
    // Can be speed-up using BigUint64Array, at the cost of complexity
    constructor(key) {
      __publicField(this, "blockLen", 16);
      __publicField(this, "outputLen", 16);
      __publicField(this, "buffer", new Uint8Array(16));
      __publicField(this, "r", new Uint16Array(10));
      // Allocating 1 array with .subarray() here is slower than 3
      __publicField(this, "h", new Uint16Array(10));
      __publicField(this, "pad", new Uint16Array(8));
      __publicField(this, "pos", 0);
      __publicField(this, "finished", false);
      __publicField(this, "destroyed", false);
      key = copyBytes3(abytes2(key, 32, "key"));
      const t0 = u8to16(key, 0);
      const t1 = u8to16(key, 2);
      const t2 = u8to16(key, 4);
      const t3 = u8to16(key, 6);
      const t4 = u8to16(key, 8);
      const t5 = u8to16(key, 10);
      const t6 = u8to16(key, 12);
      const t7 = u8to16(key, 14);
      this.r[0] = t0 & 8191;
      this.r[1] = (t0 >>> 13 | t1 << 3) & 8191;
      this.r[2] = (t1 >>> 10 | t2 << 6) & 7939;
      this.r[3] = (t2 >>> 7 | t3 << 9) & 8191;
      this.r[4] = (t3 >>> 4 | t4 << 12) & 255;
      this.r[5] = t4 >>> 1 & 8190;
      this.r[6] = (t4 >>> 14 | t5 << 2) & 8191;
      this.r[7] = (t5 >>> 11 | t6 << 5) & 8065;
      this.r[8] = (t6 >>> 8 | t7 << 8) & 8191;
      this.r[9] = t7 >>> 5 & 127;
      for (let i = 0; i < 8; i++)
        this.pad[i] = u8to16(key, 16 + 2 * i);
    }
    process(data, offset, isLast = false) {
      const hibit = isLast ? 0 : 1 << 11;
      const { h, r } = this;
      const r0 = r[0];
      const r1 = r[1];
      const r2 = r[2];
      const r3 = r[3];
      const r4 = r[4];
      const r5 = r[5];
      const r6 = r[6];
      const r7 = r[7];
      const r8 = r[8];
      const r9 = r[9];
      const t0 = u8to16(data, offset + 0);
      const t1 = u8to16(data, offset + 2);
      const t2 = u8to16(data, offset + 4);
      const t3 = u8to16(data, offset + 6);
      const t4 = u8to16(data, offset + 8);
      const t5 = u8to16(data, offset + 10);
      const t6 = u8to16(data, offset + 12);
      const t7 = u8to16(data, offset + 14);
      let h0 = h[0] + (t0 & 8191);
      let h1 = h[1] + ((t0 >>> 13 | t1 << 3) & 8191);
      let h2 = h[2] + ((t1 >>> 10 | t2 << 6) & 8191);
      let h3 = h[3] + ((t2 >>> 7 | t3 << 9) & 8191);
      let h4 = h[4] + ((t3 >>> 4 | t4 << 12) & 8191);
      let h5 = h[5] + (t4 >>> 1 & 8191);
      let h6 = h[6] + ((t4 >>> 14 | t5 << 2) & 8191);
      let h7 = h[7] + ((t5 >>> 11 | t6 << 5) & 8191);
      let h8 = h[8] + ((t6 >>> 8 | t7 << 8) & 8191);
      let h9 = h[9] + (t7 >>> 5 | hibit);
      let c = 0;
      let d0 = c + h0 * r0 + h1 * (5 * r9) + h2 * (5 * r8) + h3 * (5 * r7) + h4 * (5 * r6);
      c = d0 >>> 13;
      d0 &= 8191;
      d0 += h5 * (5 * r5) + h6 * (5 * r4) + h7 * (5 * r3) + h8 * (5 * r2) + h9 * (5 * r1);
      c += d0 >>> 13;
      d0 &= 8191;
      let d1 = c + h0 * r1 + h1 * r0 + h2 * (5 * r9) + h3 * (5 * r8) + h4 * (5 * r7);
      c = d1 >>> 13;
      d1 &= 8191;
      d1 += h5 * (5 * r6) + h6 * (5 * r5) + h7 * (5 * r4) + h8 * (5 * r3) + h9 * (5 * r2);
      c += d1 >>> 13;
      d1 &= 8191;
      let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * (5 * r9) + h4 * (5 * r8);
      c = d2 >>> 13;
      d2 &= 8191;
      d2 += h5 * (5 * r7) + h6 * (5 * r6) + h7 * (5 * r5) + h8 * (5 * r4) + h9 * (5 * r3);
      c += d2 >>> 13;
      d2 &= 8191;
      let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * (5 * r9);
      c = d3 >>> 13;
      d3 &= 8191;
      d3 += h5 * (5 * r8) + h6 * (5 * r7) + h7 * (5 * r6) + h8 * (5 * r5) + h9 * (5 * r4);
      c += d3 >>> 13;
      d3 &= 8191;
      let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
      c = d4 >>> 13;
      d4 &= 8191;
      d4 += h5 * (5 * r9) + h6 * (5 * r8) + h7 * (5 * r7) + h8 * (5 * r6) + h9 * (5 * r5);
      c += d4 >>> 13;
      d4 &= 8191;
      let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
      c = d5 >>> 13;
      d5 &= 8191;
      d5 += h5 * r0 + h6 * (5 * r9) + h7 * (5 * r8) + h8 * (5 * r7) + h9 * (5 * r6);
      c += d5 >>> 13;
      d5 &= 8191;
      let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
      c = d6 >>> 13;
      d6 &= 8191;
      d6 += h5 * r1 + h6 * r0 + h7 * (5 * r9) + h8 * (5 * r8) + h9 * (5 * r7);
      c += d6 >>> 13;
      d6 &= 8191;
      let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
      c = d7 >>> 13;
      d7 &= 8191;
      d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * (5 * r9) + h9 * (5 * r8);
      c += d7 >>> 13;
      d7 &= 8191;
      let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
      c = d8 >>> 13;
      d8 &= 8191;
      d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * (5 * r9);
      c += d8 >>> 13;
      d8 &= 8191;
      let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
      c = d9 >>> 13;
      d9 &= 8191;
      d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
      c += d9 >>> 13;
      d9 &= 8191;
      c = (c << 2) + c | 0;
      c = c + d0 | 0;
      d0 = c & 8191;
      c = c >>> 13;
      d1 += c;
      h[0] = d0;
      h[1] = d1;
      h[2] = d2;
      h[3] = d3;
      h[4] = d4;
      h[5] = d5;
      h[6] = d6;
      h[7] = d7;
      h[8] = d8;
      h[9] = d9;
    }
    finalize() {
      const { h, pad } = this;
      const g = new Uint16Array(10);
      let c = h[1] >>> 13;
      h[1] &= 8191;
      for (let i = 2; i < 10; i++) {
        h[i] += c;
        c = h[i] >>> 13;
        h[i] &= 8191;
      }
      h[0] += c * 5;
      c = h[0] >>> 13;
      h[0] &= 8191;
      h[1] += c;
      c = h[1] >>> 13;
      h[1] &= 8191;
      h[2] += c;
      g[0] = h[0] + 5;
      c = g[0] >>> 13;
      g[0] &= 8191;
      for (let i = 1; i < 10; i++) {
        g[i] = h[i] + c;
        c = g[i] >>> 13;
        g[i] &= 8191;
      }
      g[9] -= 1 << 13;
      let mask = (c ^ 1) - 1;
      for (let i = 0; i < 10; i++)
        g[i] &= mask;
      mask = ~mask;
      for (let i = 0; i < 10; i++)
        h[i] = h[i] & mask | g[i];
      h[0] = (h[0] | h[1] << 13) & 65535;
      h[1] = (h[1] >>> 3 | h[2] << 10) & 65535;
      h[2] = (h[2] >>> 6 | h[3] << 7) & 65535;
      h[3] = (h[3] >>> 9 | h[4] << 4) & 65535;
      h[4] = (h[4] >>> 12 | h[5] << 1 | h[6] << 14) & 65535;
      h[5] = (h[6] >>> 2 | h[7] << 11) & 65535;
      h[6] = (h[7] >>> 5 | h[8] << 8) & 65535;
      h[7] = (h[8] >>> 8 | h[9] << 5) & 65535;
      let f2 = h[0] + pad[0];
      h[0] = f2 & 65535;
      for (let i = 1; i < 8; i++) {
        f2 = (h[i] + pad[i] | 0) + (f2 >>> 16) | 0;
        h[i] = f2 & 65535;
      }
      clean2(g);
    }
    update(data) {
      aexists2(this);
      abytes2(data);
      data = copyBytes3(data);
      const { buffer, blockLen } = this;
      const len = data.length;
      for (let pos = 0; pos < len; ) {
        const take = Math.min(blockLen - this.pos, len - pos);
        if (take === blockLen) {
          for (; blockLen <= len - pos; pos += blockLen)
            this.process(data, pos);
          continue;
        }
        buffer.set(data.subarray(pos, pos + take), this.pos);
        this.pos += take;
        pos += take;
        if (this.pos === blockLen) {
          this.process(buffer, 0, false);
          this.pos = 0;
        }
      }
      return this;
    }
    destroy() {
      this.destroyed = true;
      clean2(this.h, this.r, this.buffer, this.pad);
    }
    digestInto(out) {
      aexists2(this);
      aoutput2(out, this);
      this.finished = true;
      const { buffer, h } = this;
      let { pos } = this;
      if (pos) {
        buffer[pos++] = 1;
        for (; pos < 16; pos++)
          buffer[pos] = 0;
        this.process(buffer, 0, true);
      }
      this.finalize();
      let opos = 0;
      for (let i = 0; i < 8; i++) {
        out[opos++] = h[i] >>> 0;
        out[opos++] = h[i] >>> 8;
      }
    }
    digest() {
      const { buffer, outputLen } = this;
      this.digestInto(buffer);
      const res = buffer.slice(0, outputLen);
      this.destroy();
      return res;
    }
  };
  var poly1305 = /* @__PURE__ */ wrapMacConstructor(32, (key) => new Poly1305(key));

  // node_modules/@noble/ciphers/chacha.js
  function chachaCore(s, k, n, out, cnt, rounds = 20) {
    let y00 = s[0], y01 = s[1], y02 = s[2], y03 = s[3], y04 = k[0], y05 = k[1], y06 = k[2], y07 = k[3], y08 = k[4], y09 = k[5], y10 = k[6], y11 = k[7], y12 = cnt, y13 = n[0], y14 = n[1], y15 = n[2];
    let x00 = y00, x01 = y01, x02 = y02, x03 = y03, x04 = y04, x05 = y05, x06 = y06, x07 = y07, x08 = y08, x09 = y09, x10 = y10, x11 = y11, x12 = y12, x13 = y13, x14 = y14, x15 = y15;
    for (let r = 0; r < rounds; r += 2) {
      x00 = x00 + x04 | 0;
      x12 = rotl(x12 ^ x00, 16);
      x08 = x08 + x12 | 0;
      x04 = rotl(x04 ^ x08, 12);
      x00 = x00 + x04 | 0;
      x12 = rotl(x12 ^ x00, 8);
      x08 = x08 + x12 | 0;
      x04 = rotl(x04 ^ x08, 7);
      x01 = x01 + x05 | 0;
      x13 = rotl(x13 ^ x01, 16);
      x09 = x09 + x13 | 0;
      x05 = rotl(x05 ^ x09, 12);
      x01 = x01 + x05 | 0;
      x13 = rotl(x13 ^ x01, 8);
      x09 = x09 + x13 | 0;
      x05 = rotl(x05 ^ x09, 7);
      x02 = x02 + x06 | 0;
      x14 = rotl(x14 ^ x02, 16);
      x10 = x10 + x14 | 0;
      x06 = rotl(x06 ^ x10, 12);
      x02 = x02 + x06 | 0;
      x14 = rotl(x14 ^ x02, 8);
      x10 = x10 + x14 | 0;
      x06 = rotl(x06 ^ x10, 7);
      x03 = x03 + x07 | 0;
      x15 = rotl(x15 ^ x03, 16);
      x11 = x11 + x15 | 0;
      x07 = rotl(x07 ^ x11, 12);
      x03 = x03 + x07 | 0;
      x15 = rotl(x15 ^ x03, 8);
      x11 = x11 + x15 | 0;
      x07 = rotl(x07 ^ x11, 7);
      x00 = x00 + x05 | 0;
      x15 = rotl(x15 ^ x00, 16);
      x10 = x10 + x15 | 0;
      x05 = rotl(x05 ^ x10, 12);
      x00 = x00 + x05 | 0;
      x15 = rotl(x15 ^ x00, 8);
      x10 = x10 + x15 | 0;
      x05 = rotl(x05 ^ x10, 7);
      x01 = x01 + x06 | 0;
      x12 = rotl(x12 ^ x01, 16);
      x11 = x11 + x12 | 0;
      x06 = rotl(x06 ^ x11, 12);
      x01 = x01 + x06 | 0;
      x12 = rotl(x12 ^ x01, 8);
      x11 = x11 + x12 | 0;
      x06 = rotl(x06 ^ x11, 7);
      x02 = x02 + x07 | 0;
      x13 = rotl(x13 ^ x02, 16);
      x08 = x08 + x13 | 0;
      x07 = rotl(x07 ^ x08, 12);
      x02 = x02 + x07 | 0;
      x13 = rotl(x13 ^ x02, 8);
      x08 = x08 + x13 | 0;
      x07 = rotl(x07 ^ x08, 7);
      x03 = x03 + x04 | 0;
      x14 = rotl(x14 ^ x03, 16);
      x09 = x09 + x14 | 0;
      x04 = rotl(x04 ^ x09, 12);
      x03 = x03 + x04 | 0;
      x14 = rotl(x14 ^ x03, 8);
      x09 = x09 + x14 | 0;
      x04 = rotl(x04 ^ x09, 7);
    }
    let oi = 0;
    out[oi++] = y00 + x00 | 0;
    out[oi++] = y01 + x01 | 0;
    out[oi++] = y02 + x02 | 0;
    out[oi++] = y03 + x03 | 0;
    out[oi++] = y04 + x04 | 0;
    out[oi++] = y05 + x05 | 0;
    out[oi++] = y06 + x06 | 0;
    out[oi++] = y07 + x07 | 0;
    out[oi++] = y08 + x08 | 0;
    out[oi++] = y09 + x09 | 0;
    out[oi++] = y10 + x10 | 0;
    out[oi++] = y11 + x11 | 0;
    out[oi++] = y12 + x12 | 0;
    out[oi++] = y13 + x13 | 0;
    out[oi++] = y14 + x14 | 0;
    out[oi++] = y15 + x15 | 0;
  }
  function hchacha(s, k, i, out) {
    const s2 = isLE2 ? s : swap32IfBE2(s.slice(0, 4));
    const k2 = isLE2 ? k : swap32IfBE2(k.slice(0, 8));
    const i2 = isLE2 ? i : swap32IfBE2(i.slice(0, 4));
    const t = new Uint32Array(16);
    chachaCore(s2, k2, i2.subarray(1), t, i2[0]);
    let oi = 0;
    out[oi++] = t[0] - s2[0] | 0;
    out[oi++] = t[1] - s2[1] | 0;
    out[oi++] = t[2] - s2[2] | 0;
    out[oi++] = t[3] - s2[3] | 0;
    out[oi++] = t[12] - i2[0] | 0;
    out[oi++] = t[13] - i2[1] | 0;
    out[oi++] = t[14] - i2[2] | 0;
    out[oi++] = t[15] - i2[3] | 0;
    swap32IfBE2(out);
    if (!isLE2)
      clean2(s2, k2, i2);
    clean2(t);
  }
  var xchacha20 = /* @__PURE__ */ createCipher(chachaCore, {
    counterRight: false,
    counterLength: 8,
    extendNonceFn: hchacha,
    allowShortKeys: false
  });
  var ZEROS16 = /* @__PURE__ */ new Uint8Array(16);
  var updatePadded = (h, msg) => {
    h.update(msg);
    const leftover = msg.length % 16;
    if (leftover)
      h.update(ZEROS16.subarray(leftover));
  };
  var ZEROS32 = /* @__PURE__ */ new Uint8Array(32);
  function computeTag(fn, key, nonce, ciphertext, AAD) {
    if (AAD !== void 0)
      abytes2(AAD, void 0, "AAD");
    const authKey = fn(key, nonce, ZEROS32);
    const lengths = u64Lengths(ciphertext.length, AAD ? AAD.length : 0, true);
    const h = poly1305.create(authKey);
    if (AAD)
      updatePadded(h, AAD);
    updatePadded(h, ciphertext);
    h.update(lengths);
    const res = h.digest();
    clean2(authKey, lengths);
    return res;
  }
  var _poly1305_aead = (xorStream) => (key, nonce, AAD) => {
    const tagLength = 16;
    return {
      encrypt(plaintext, output) {
        const plength = plaintext.length;
        output = getOutput(plength + tagLength, output, false);
        output.set(plaintext);
        const oPlain = output.subarray(0, -tagLength);
        xorStream(key, nonce, oPlain, oPlain, 1);
        const tag = computeTag(xorStream, key, nonce, oPlain, AAD);
        output.set(tag, plength);
        clean2(tag);
        return output;
      },
      decrypt(ciphertext, output) {
        output = getOutput(ciphertext.length - tagLength, output, false);
        const data = ciphertext.subarray(0, -tagLength);
        const passedTag = ciphertext.subarray(-tagLength);
        const tag = computeTag(xorStream, key, nonce, data, AAD);
        if (!equalBytes2(passedTag, tag)) {
          clean2(tag);
          throw new Error("invalid tag");
        }
        output.set(ciphertext.subarray(0, -tagLength));
        xorStream(key, nonce, output, output, 1);
        clean2(tag);
        return output;
      }
    };
  };
  var xchacha20poly1305 = /* @__PURE__ */ wrapCipher(
    { blockSize: 64, nonceLength: 24, tagLength: 16, withAAD: true },
    /* @__PURE__ */ _poly1305_aead(xchacha20)
  );

  // src/parcel.mjs
  var fail2 = (code, message) => {
    throw new CheckFail(code, message);
  };
  var rootId = (onceKey, token, amountU128be, holder) => H("ParcelRoot", onceKey, token, amountU128be, holder);
  var sink = (token) => H("ParcelSink", token);
  function verifyHop(hop, identity) {
    if (!equal(deviceId(identity), hop.statement.holder)) fail2("UnknownSigner", "the identity is not the statement's holder");
    const commit = hopCommit(hop);
    const r = verifySignature(identity.public_key, hop.signature, commit);
    if (!r.ok) fail2("Signature", r.reason);
    return { commit };
  }
  function verifyParcelFork(fork) {
    const c1 = hopCommit(fork.first), c2 = hopCommit(fork.second);
    if (equal(c1, c2)) fail2("Identical", "both hops have one commit");
    const dev = deviceId(fork.signer);
    if (!equal(fork.first.statement.holder, dev) || !equal(fork.second.statement.holder, dev)) fail2("DifferentSigners", "a statement is not held by the signer's device");
    const common = fork.first.statement.inputs.filter((x) => fork.second.statement.inputs.some((y) => equal(x, y)));
    if (common.length === 0) fail2("NotConflicting", "the statements consume no common parcel");
    for (const [h, c] of [[fork.first, c1], [fork.second, c2]]) {
      const r = verifySignature(fork.signer.public_key, h.signature, c);
      if (!r.ok) fail2("Signature", r.reason);
    }
    return { device: dev, parcels: common };
  }
  function resolveManifest(manifest, objects, hex) {
    const get = (addr, type) => {
      const b = objects.get(hex(addr));
      if (!b || !equal(objectAddress(b), addr)) fail2("Missing", hex(addr));
      try {
        return decode(type, b);
      } catch (e) {
        fail2("Decode", `${hex(addr)}: ${e.message}`);
      }
      return void 0;
    };
    return { hops: manifest.hops.map((a) => get(a, "Hop")), signers: manifest.signers.map((a) => get(a, "DeviceIdentity")) };
  }
  function verifyOwnedPut(put, owner, key) {
    const w = put.write;
    const body = H("SlotBody", put.body);
    if (!w.entries.some((e) => equal(e.owner, owner) && equal(e.key, key) && equal(e.body, body))) fail2("NotCovered", "does not cover this slot with this body");
    if (!admits(w.admission, w.signer, owner)) fail2("NotAdmitted", "the admission does not prove the owner for the signer");
    const msg = H("SlotWrite", ...w.entries.flatMap((e) => [e.owner, e.key, e.body]));
    const r = verifySignature(w.signer, w.signature, msg);
    if (!r.ok) fail2("Signature", r.reason);
    return true;
  }
  function deviceSlotsOwner(identity) {
    return slotsOwner(H("GenesisBlind", identity.genesis), identity.public_key);
  }
  var slotsOwner = (blind, key) => H("DeviceSlots", blind, H("SlotKey", encode("PublicKey", key)));
  function anchorSlot(identity, parent) {
    return { owner: deviceSlotsOwner(identity), key: H("AnchorSlot", parent) };
  }
  function openSealed(tag, context, sealed) {
    if (sealed.length < 40) return void 0;
    const nonce = sealed.subarray(0, 24);
    let plain;
    try {
      plain = xchacha20poly1305(H(tag, context), nonce, context).decrypt(sealed.subarray(24));
    } catch {
      return void 0;
    }
    return equal(H(tag, context, plain).subarray(0, 24), nonce) ? plain : void 0;
  }
  function admitsAuthority(device, sig, owner, encAuthority) {
    return verifySignature(device, sig, H("SlotAuthority", owner, H("SlotKey", encAuthority))).ok;
  }
  function admits(adm, signer, owner) {
    const encSigner = encode("PublicKey", signer);
    switch (adm.kind) {
      case 1:
        return equal(H("DeviceId", adm.genesis, encSigner), owner);
      case 2: {
        if (equal(H("RecoveryOwner", adm.genesis_blind, H("SlotKey", encSigner)), owner)) return true;
        return adm.device !== void 0 && equal(slotsOwner(adm.genesis_blind, adm.device), owner) && admitsAuthority(adm.device, adm.device_admission, owner, encSigner);
      }
      case 3: {
        const k = H("SlotKey", encSigner);
        return adm.admitted.some((x) => equal(x, k)) && equal(H("SlotOwner", ...adm.admitted), owner);
      }
      case 4: {
        const dev = slotsOwner(adm.genesis_blind, adm.device);
        if (!equal(dev, owner)) return false;
        return admitsAuthority(adm.device, adm.device_admission, dev, encode("PublicKey", adm.authority)) && verifySignature(adm.authority, adm.delegation, H("SlotDelegation", dev, H("SlotKey", encSigner))).ok;
      }
      case 5: {
        const mine = slotsOwner(adm.genesis_blind, signer);
        return adm.parties.some((x) => equal(x, mine)) && equal(H("SlotParties", ...adm.parties), owner);
      }
      case 6:
        return equal(slotsOwner(adm.genesis_blind, signer), owner);
      default:
        return false;
    }
  }
  function b0xAddress(owner, blind) {
    return blind ? H("B0xRelationship", blind, owner) : H("B0xAddress", owner);
  }
  function b0xReadMessage(nodeId, op, scope) {
    return H("B0xAccess", utf8(nodeId), Uint8Array.of(op), encode("B0xScope", scope));
  }
  function verifyB0xRead(read, nodeId, op) {
    const { access } = read;
    if (access.admission.kind === 1 || !admits(access.admission, access.signer, read.owner)) fail2("NotAdmitted", "not admitted");
    for (let i = 1; i < read.entries.length; i++) {
      const [x, y] = [read.entries[i - 1].blind, read.entries[i].blind];
      if (y === void 0 || x !== void 0 && compare(x, y) >= 0) fail2("Entries", "entries not strictly ascending by blind");
    }
    const scope = { owner: read.owner, entries: read.entries };
    const r = verifySignature(access.signer, access.signature, b0xReadMessage(nodeId, op, scope));
    if (!r.ok) fail2("Signature", r.reason);
    return read.entries.map((e) => b0xAddress(read.owner, e.blind));
  }

  // src/tripwire.mjs
  var fail3 = (code, message) => {
    throw new CheckFail(code, message);
  };
  function statementParts(st) {
    if (st.proposal) {
      const p = st.proposal.proposal;
      return { kind: "proposal", identity: p.sender, child: p.sender_child_head, commit: proposalCommit(p), signature: st.proposal.signature, parcels: p.parcels, step: p.step };
    }
    if (st.acceptance) {
      const a = st.acceptance.acceptance;
      return { kind: "acceptance", identity: a.receiver, child: a.receiver_child_head, commit: acceptanceCommit(a), signature: st.acceptance.signature, parcels: null, answers: a.proposal_commit };
    }
    const r = st.refusal.refusal;
    return { kind: "refusal", identity: r.receiver, child: r.receiver_child_head, commit: refusalCommit(r), signature: st.refusal.signature, parcels: r.parcels, answers: r.proposal_commit };
  }
  function verifyEquivocationProof(bytes) {
    const run = new Run();
    const proof = run.check("2", null, "canonical decoding as EquivocationProof", () => decode("EquivocationProof", bytes));
    let facts = null;
    if (proof && proof.parcel_fork) {
      const r = run.check("PF", null, "parcel fork (\xA75.6)", () => {
        try {
          return verifyParcelFork(proof.parcel_fork);
        } catch (e) {
          if (e instanceof CheckFail) fail3("ParcelFork", e.message);
          throw e;
        }
      });
      if (r) facts = { device: bytesToHex(r.device), form: "parcel fork", parcels: r.parcels.map(bytesToHex) };
    } else if (proof) {
      const a = statementParts(proof.first), b = statementParts(proof.second);
      run.check("E1", null, "the statements differ", () => {
        if (a.kind === b.kind && equal(a.commit, b.commit)) fail3("Identical", "one statement twice");
      });
      const dev = run.check("E2", null, "one signer, the device of both child heads", () => {
        const d = deviceId(a.identity);
        if (!equal(deviceId(b.identity), d) || !equal(a.child.device, d) || !equal(b.child.device, d)) fail3("DifferentSigners", "not one device");
        return d;
      });
      run.check("E3", null, "both signatures verify", () => {
        for (const s of [a, b]) {
          const r = verifySignature(s.identity.public_key, s.signature, s.commit);
          if (!r.ok) fail3("Signature", `${s.kind}: ${r.reason}`);
        }
      });
      const form = run.check("E4", null, "head fork, accepted and refused, tip fork or parcel fork", () => {
        if (equal(a.child.parent, b.child.parent) && !equal(headDigest(a.child), headDigest(b.child))) return "head fork";
        const pair = [a.kind, b.kind].sort().join("+");
        if (pair === "acceptance+refusal" && equal(a.answers, b.answers)) return "accepted and refused";
        if (a.kind === "proposal" && b.kind === "proposal" && equal(a.step.relationship, b.step.relationship) && equal(a.step.parent_tip, b.step.parent_tip) && !equal(childTip(a.step), childTip(b.step))) return "tip fork";
        if (a.parcels && b.parcels && a.parcels.inputs.some((x) => b.parcels.inputs.some((y) => equal(x, y)))) return "parcel fork";
        fail3("NotConflicting", "the statements do not conflict");
        return void 0;
      });
      if (run.ok) facts = { device: bytesToHex(dev), form, parcels: [] };
    }
    return { valid: run.ok, error: run.failed ? { check: run.failed.id, ...run.failed.error } : null, checks: run.checks, facts: run.ok ? facts : null };
  }

  // src/render.mjs
  function render(section, result, lineage) {
    const verdict = section.querySelector(".verdict");
    const checks = section.querySelector(".checks");
    const facts = section.querySelector(".facts");
    checks.replaceChildren();
    facts.replaceChildren();
    const add = (dl, term, value) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    };
    for (const c of result.checks) {
      const who = c.party ? ` (${c.party})` : "";
      const state = c.status === "pass" ? "passed" : c.status === "fail" ? `FAILED: ${c.error ? c.error.message : ""}` : "not run (an earlier check failed)";
      add(checks, `Check ${c.id}${who}: ${c.name}`, state);
    }
    add(checks, "Lineage (the parcels back to their source)", lineage || "not checked in this page");
    if (result.valid) {
      verdict.dataset.state = "valid";
      verdict.dataset.lineage = lineage ? "checked" : "unchecked";
      verdict.textContent = lineage ? "Valid receipt: PROTOCOL.md \xA77.3 checks 1\u20138 and its lineage passed in this page." : "Receipt checks 1\u20138 of PROTOCOL.md \xA77.3 passed in this page. Its lineage (where the value came from) is NOT checked here.";
      const f2 = result.facts;
      add(facts, "Sender", f2.sender);
      add(facts, "Receiver", f2.receiver);
      add(facts, "Token", f2.token);
      add(facts, "Amount (base units)", f2.amount);
      add(facts, "Receipt digest", f2.receipt_digest);
    } else {
      verdict.dataset.state = "invalid";
      const e = result.error || {};
      verdict.textContent = `Invalid receipt: check ${e.check}${e.party ? ` (${e.party})` : ""} failed${e.message ? `: ${e.message}` : ""}.`;
    }
  }

  // src/bundle.mjs
  globalThis.DsmVerify = { ...index_exports, render };
  var inWorker = typeof WorkerGlobalScope !== "undefined" && globalThis instanceof WorkerGlobalScope;
  if (inWorker) {
    globalThis.onmessage = (e) => {
      const { id: id2, hex } = e.data || {};
      let result;
      try {
        result = verifyReceipt(hexToBytes(String(hex)));
      } catch (err) {
        result = { valid: false, error: { check: "2", code: "Unreadable", message: String(err && err.message) }, checks: [], facts: null };
      }
      globalThis.postMessage({ id: id2, result });
    };
  }
})();
