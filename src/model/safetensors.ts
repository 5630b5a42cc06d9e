// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
//   [u64 LE header length n][n bytes of JSON header][data section]
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end)} (offsets relative to
// the data section) plus an optional "__metadata__" string→string map.
//
// The engine computes in float32 (and int32 for token ids), so every floating dtype the HF hub
// commonly ships is widened to Float32Array here; F16 and BF16 widen exactly (every half and
// bfloat16 value is representable in float32). Plain JS, no `fs`: the caller supplies the bytes,
// from fetch() in the browser or readFileSync in Node.

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

export interface SafeTensor {
  /** The dtype stored in the file; `data` is Float32Array for F*, Int32Array for I*. */
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafeFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const ITEM_SIZE: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
// The Rust reference refuses headers above 100 MB; a larger length is a corrupt file, and
// refusing early avoids decoding megabytes of garbage as UTF-8.
const MAX_HEADER = 100_000_000;
// Typed-array views read in host byte order; safetensors is little-endian. Every browser/Node
// host is LE, but fall back to DataView decoding rather than silently misreading elsewhere.
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, s);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

export function parseSafetensors(buf: ArrayBuffer | Uint8Array, source = 'safetensors'): SafeFile {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  // Typed as a never-returning const so TypeScript narrows after `if (...) fail(...)`.
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenLo = dv.getUint32(0, true);
  const lenHi = dv.getUint32(4, true);
  const headerLen = lenHi * 2 ** 32 + lenLo;
  if (headerLen > bytes.byteLength - 8) {
    fail(`header length ${headerLen} runs past the end of the file (${bytes.byteLength - 8} bytes after the length field)`);
  }
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} exceeds the ${MAX_HEADER}-byte limit`);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isRecord(header)) fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(raw)) fail('"__metadata__" is not an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(`"__metadata__" entry "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isRecord(raw)) fail(`${where}: entry is not an object`);
    const info = raw;
    if (!('dtype' in info)) fail(`${where}: missing "dtype"`);
    if (!('shape' in info)) fail(`${where}: missing "shape"`);
    if (!('data_offsets' in info)) fail(`${where}: missing "data_offsets"`);
    const { dtype, shape, data_offsets: offs } = info;
    if (!isDType(dtype)) {
      fail(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      fail(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) {
      fail(`${where}: "data_offsets" must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs;
    if (end < begin) fail(`${where}: data_offsets end ${end} < begin ${begin}`);
    entries.push({ name, dtype, shape, begin, end });
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  for (const e of entries) {
    const where = `tensor "${e.name}"`;
    if (e.end > dataLen) fail(`${where}: data_offsets [${e.begin}, ${e.end}] run past the data section (${dataLen} bytes)`);
    let count = 1;
    for (const d of e.shape) count *= d;
    if (!Number.isSafeInteger(count)) fail(`${where}: shape ${JSON.stringify(e.shape)} is too large`);
    const want = count * ITEM_SIZE[e.dtype];
    if (e.end - e.begin !== want) {
      fail(`${where}: ${e.end - e.begin} bytes of data but shape ${JSON.stringify(e.shape)} × ${e.dtype} needs ${want}`);
    }
  }

  // The format requires the tensors to tile the data section exactly: no overlap (two tensors
  // aliasing bytes is how a crafted file smuggles data) and no gaps or trailing bytes.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev = '';
  for (const e of sorted) {
    if (e.begin < cursor) fail(`tensor "${e.name}" [${e.begin}, ${e.end}] overlaps tensor "${prev}" (which ends at ${cursor})`);
    if (e.begin > cursor) fail(`gap in the data section: bytes [${cursor}, ${e.begin}) before tensor "${e.name}" belong to no tensor`);
    cursor = e.end;
    prev = e.name;
  }
  if (cursor !== dataLen) fail(`data section has ${dataLen - cursor} trailing bytes after the last tensor (ends at ${cursor} of ${dataLen})`);

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const abs = bytes.byteOffset + dataStart + e.begin;
    const n = (e.end - e.begin) / ITEM_SIZE[e.dtype];
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(bytes, abs, n, e.dtype, `${source}: tensor "${e.name}"`) });
  }
  return { tensors, metadata };
}

/** Decode n elements at absolute byte offset `abs` of bytes.buffer. */
function decode(bytes: Uint8Array, abs: number, n: number, dtype: SafeDType, where: string): Float32Array | Int32Array {
  const buffer = bytes.buffer;
  const dv = new DataView(buffer, abs, n * ITEM_SIZE[dtype]);
  switch (dtype) {
    case 'F32':
    case 'I32': {
      const f32 = dtype === 'F32';
      // Aligned: a zero-copy view (matters for large checkpoints). Unaligned offsets are legal in
      // the format (e.g. a header length that is not a multiple of 4) but typed-array views
      // cannot start there, so copy the bytes into a fresh array instead.
      if (HOST_LE && abs % 4 === 0) return f32 ? new Float32Array(buffer, abs, n) : new Int32Array(buffer, abs, n);
      if (HOST_LE) {
        const copy = new Uint8Array(n * 4);
        copy.set(new Uint8Array(buffer, abs, n * 4));
        return f32 ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
      }
      const out = f32 ? new Float32Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = f32 ? dv.getFloat32(i * 4, true) : dv.getInt32(i * 4, true);
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits up is the exact conversion.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = halfToFloatBits(dv.getUint16(i * 2, true));
      return new Float32Array(bits.buffer);
    }
    case 'I64': {
      // Token ids and similar: the engine stores int32, so a value outside int32 is an error,
      // not a silent wrap. The value fits iff the high word is the sign extension of the low.
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = dv.getInt32(i * 8, true);
        const hi = dv.getInt32(i * 8 + 4, true);
        if (hi !== (lo < 0 ? -1 : 0)) {
          throw new SafetensorsError(`${where}: I64 element ${i} = ${dv.getBigInt64(i * 8, true)} does not fit in int32`);
        }
        out[i] = lo;
      }
      return out;
    }
  }
}

/** IEEE binary16 bits → binary32 bits (exact; NaN payloads kept, as in torch's conversion). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half (mant·2^-24) is a normal float32: shift the leading 1 into the implicit bit.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export interface WriteTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Compare by Unicode code point, which equals the UTF-8 byte order Rust's `str::cmp` uses. */
function codePointCompare(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const d = (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
}

/**
 * Serialise F32/I32 tensors. The layout matches what the HF `safetensors` library writes, byte for
 * byte: entries sorted by dtype (F32 before I32, the library sorts by dtype descending) then by
 * name, data in that order, compact JSON, header padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(
  tensors: Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const items = Object.entries(tensors).map(([name, t]) => {
    if (name === '__metadata__') throw new SafetensorsError('writeSafetensors: "__metadata__" is reserved, not a tensor name');
    const dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : null;
    if (dtype === null) throw new SafetensorsError(`writeSafetensors: tensor "${name}": data must be Float32Array or Int32Array`);
    if (!t.shape.every(isNonNegInt)) throw new SafetensorsError(`writeSafetensors: tensor "${name}": bad shape ${JSON.stringify(t.shape)}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(`writeSafetensors: tensor "${name}": shape ${JSON.stringify(t.shape)} has ${count} elements, data has ${t.data.length}`);
    }
    return { name, dtype, shape: t.shape, data: t.data };
  });
  items.sort((a, b) => (a.dtype === b.dtype ? codePointCompare(a.name, b.name) : a.dtype === 'F32' ? -1 : 1));

  // Built by hand rather than JSON.stringify(object): JS objects move integer-like keys ("0",
  // "12") to the front, which would break the sorted order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const m = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(String(v))}`);
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  let offset = 0;
  for (const it of items) {
    const end = offset + it.data.length * 4;
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":${JSON.stringify(it.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const it of items) {
    if (HOST_LE) out.set(new Uint8Array(it.data.buffer, it.data.byteOffset, it.data.byteLength), pos);
    else if (it.data instanceof Float32Array) it.data.forEach((v, i) => dv.setFloat32(pos + i * 4, v, true));
    else it.data.forEach((v, i) => dv.setInt32(pos + i * 4, v, true));
    pos += it.data.byteLength;
  }
  return out;
}
