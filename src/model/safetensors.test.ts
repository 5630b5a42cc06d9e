import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseSafetensors, writeSafetensors, SafetensorsError, type SafeFile } from './safetensors.ts';

const fixture = (model: string, file: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../tests/fixtures/${model}/${file}`, import.meta.url)));

// --- independent round-to-nearest-even references (arithmetic, not bit tricks, so they share no
// code with the decoder under test) ------------------------------------------------------------
const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);
/** Unbiased exponent of a float32 (−127 for subnormals, clamped by the callers). */
function exponentOf(x: number): number {
  scratch[0] = x;
  return ((scratchBits[0] >>> 23) & 0xff) - 127;
}
function roundHalfEven(r: number): number {
  const f = Math.floor(r);
  const d = r - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}
/** Round a float32 value to a binary format with `mant` stored mantissa bits. Exact in float64. */
function roundTo(x: number, mant: number, minExp: number, maxFinite: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const q = 2 ** (Math.max(exponentOf(a), minExp) - mant);
  let v = roundHalfEven(a / q) * q;
  if (v > maxFinite) v = Infinity;
  return x < 0 ? -v : v;
}
const roundF16 = (x: number): number => roundTo(x, 10, -14, 65504);
const roundBF16 = (x: number): number => roundTo(x, 7, -126, (2 - 2 ** -7) * 2 ** 127);

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Assemble a file from a header (object or raw text) and data bytes, optionally lying about the length. */
function craft(header: unknown, data: Uint8Array | number = 0, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function expectError(buf: Uint8Array, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    parseSafetensors(buf, 'bad.safetensors');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  const msg = (err as Error).message;
  expect(msg).toMatch(/^bad\.safetensors: /);
  for (const p of patterns) expect(msg).toMatch(p);
}

describe('reference rounding (sanity of the test oracle)', () => {
  it('rounds ties to even and overflows like IEEE', () => {
    expect(roundF16(1 + 2 ** -11)).toBe(1); // tie → even
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie → even (up)
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity);
    expect(roundF16(2 ** -25)).toBe(0); // half the smallest subnormal: tie → 0
    expect(roundF16(3 * 2 ** -26)).toBe(2 ** -24);
    expect(Object.is(roundF16(-(2 ** -30)), -0)).toBe(true);
    expect(roundBF16(1 + 2 ** -8)).toBe(1);
    expect(roundBF16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
  });
});

describe('parseSafetensors on the fixtures', () => {
  const f32 = parseSafetensors(fixture('hf-qwen2-tiny', 'model.safetensors'), 'model.safetensors');

  it('reads the F32 model', () => {
    expect(f32.metadata).toEqual({ format: 'pt' });
    const emb = f32.tensors.get('model.embed_tokens.weight');
    expect(emb?.dtype).toBe('F32');
    expect(emb?.shape).toEqual([96, 64]);
    expect(emb?.data).toBeInstanceOf(Float32Array);
    expect(emb?.data.length).toBe(96 * 64);
  });

  const rounded: [string, (x: number) => number][] = [
    ['model.f16.safetensors', roundF16],
    ['model.bf16.safetensors', roundBF16],
  ];
  for (const [file, round] of rounded) {
    it(`${file} decodes to exactly the round-to-nearest-even values`, () => {
      const half = parseSafetensors(fixture('hf-qwen2-tiny', file), file);
      expect([...half.tensors.keys()].sort()).toEqual([...f32.tensors.keys()].sort());
      let changed = 0;
      for (const [name, t] of f32.tensors) {
        const h = half.tensors.get(name);
        expect(h?.shape).toEqual(t.shape);
        expect(h?.data).toBeInstanceOf(Float32Array);
        const want = Float32Array.from(t.data, round);
        const got = bitsOf(h?.data as Float32Array);
        const wantBits = bitsOf(want);
        let mismatches = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== wantBits[i]) mismatches++;
        expect(mismatches, `${file} ${name}`).toBe(0);
        for (let i = 0; i < want.length; i++) if (want[i] !== t.data[i]) changed++;
      }
      expect(changed).toBeGreaterThan(1000); // the rounding really happened
    });
  }

  it('decodes every F16 bit pattern exactly (subnormals, ±0, ±inf, NaN)', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const buf = craft({ h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, new Uint8Array(bits.buffer));
    const got = parseSafetensors(buf).tensors.get('h')?.data as Float32Array;
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const want = e === 31 ? (m ? NaN : sign * Infinity) : e === 0 ? sign * m * 2 ** -24 : sign * (1024 + m) * 2 ** (e - 25);
      if (!Object.is(got[h], want)) expect(got[h], `half bits 0x${h.toString(16)}`).toBe(want);
    }
  });
});

describe('writeSafetensors', () => {
  it('round trips F32 and I32 with metadata, awkward names and empty/scalar shapes', () => {
    const tensors = {
      'b.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-40]) },
      '0': { shape: [], data: Float32Array.from([7]) },
      '10': { shape: [3], data: Int32Array.from([-1, 2 ** 31 - 1, -(2 ** 31)]) },
      'a.empty': { shape: [0, 4], data: new Float32Array(0) },
      ids: { shape: [1, 2], data: Int32Array.from([5, 6]) },
    };
    const buf = writeSafetensors(tensors, { format: 'pt', note: 'hé "quoted"' });
    const n = Number(new DataView(buf.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(buf.subarray(8, 8 + n));
    // F32 entries first, then I32; each group sorted by name (as the HF library orders them).
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order).toEqual(['0', 'a.empty', 'b.weight', '10', 'ids']);
    const back = parseSafetensors(buf);
    expect(back.metadata).toEqual({ format: 'pt', note: 'hé "quoted"' });
    for (const [name, t] of Object.entries(tensors)) {
      const g = back.tensors.get(name);
      expect(g?.dtype).toBe(t.data instanceof Float32Array ? 'F32' : 'I32');
      expect(g?.shape).toEqual(t.shape);
      expect(g?.data.constructor).toBe(t.data.constructor);
      expect(Array.from(g?.data ?? []).map((x) => Object.is(x, -0) ? 'neg0' : x)).toEqual(
        Array.from(t.data).map((x) => Object.is(x, -0) ? 'neg0' : x),
      );
    }
  });

  it('reproduces the HF-written fixture files byte for byte', () => {
    for (const [model, file] of [
      ['hf-qwen2-tiny', 'model.safetensors'],
      ['hf-llama-tiny', 'model.safetensors'],
      ['hf-qwen2-tiny', 'golden_base.safetensors'], // F32 and I32 mixed, no metadata
    ]) {
      const orig = fixture(model, file);
      const parsed = parseSafetensors(orig, file);
      const rec = Object.fromEntries([...parsed.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
      const meta = Object.keys(parsed.metadata).length > 0 ? parsed.metadata : undefined;
      const again = writeSafetensors(rec, meta);
      expect(again.length, `${model}/${file}`).toBe(orig.length);
      expect(Buffer.compare(Buffer.from(again), Buffer.from(orig)), `${model}/${file}`).toBe(0);
    }
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(SafetensorsError);
  });
});

describe('parseSafetensors: layout details', () => {
  it('returns zero-copy views when aligned and correct copies when not', () => {
    const data = Float32Array.from([1.5, -2.25, 3, 4]);
    const good = writeSafetensors({ w: { shape: [4], data } });
    const aligned = parseSafetensors(good).tensors.get('w')?.data;
    expect(aligned?.buffer).toBe(good.buffer);
    // Same file at an odd offset of a larger buffer: every tensor is unaligned.
    const host = new Uint8Array(good.length + 3);
    host.set(good, 3);
    const un = parseSafetensors(host.subarray(3)).tensors.get('w')?.data;
    expect(Array.from(un ?? [])).toEqual([1.5, -2.25, 3, 4]);
    expect(un?.buffer).not.toBe(host.buffer);
    // A header whose length is not a multiple of 4 (legal; unpadded): data starts unaligned.
    const hdr = { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } };
    const raw = craft(hdr, new Uint8Array(data.buffer));
    expect((8 + JSON.stringify(hdr).length) % 4).not.toBe(0);
    expect(Array.from(parseSafetensors(raw).tensors.get('w')?.data ?? [])).toEqual([1.5, -2.25, 3, 4]);
  });

  it('reads I64 into Int32Array and range-checks it', () => {
    const ok = BigInt64Array.from([0n, -1n, 2147483647n, -2147483648n]);
    const f: SafeFile = parseSafetensors(craft({ ids: { dtype: 'I64', shape: [2, 2], data_offsets: [0, 32] } }, new Uint8Array(ok.buffer)));
    const t = f.tensors.get('ids');
    expect(t?.dtype).toBe('I64');
    expect(t?.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t?.data ?? [])).toEqual([0, -1, 2147483647, -2147483648]);
    const big = BigInt64Array.from([1n, 2147483648n]);
    expectError(craft({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(big.buffer)), /"ids"/, /element 1 = 2147483648/, /int32/);
  });
});

describe('parseSafetensors: malformed files throw SafetensorsError naming file and tensor', () => {
  const w = (offs: number[], shape: number[] = [2], dtype = 'F32'): unknown => ({ dtype, shape, data_offsets: offs });

  it('buffer shorter than 8 bytes', () => expectError(new Uint8Array(5), /5 bytes/));
  it('truncated file', () => {
    const good = writeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
    expectError(good.subarray(0, good.length - 4), /"w"/, /past the data section/);
    expectError(good.subarray(0, 20), /header length \d+ runs past the end/);
  });
  it('header length beyond the file', () => expectError(craft({ w: w([0, 8]) }, 8, 10_000), /header length 10000 runs past/));
  it('header length with the high word set', () => expectError(craft({}, 0, 2 ** 40), /runs past the end/));
  it('garbage JSON', () => expectError(craft('{"w": {dtype: F32'), /not valid UTF-8 JSON/));
  it('header JSON that is not an object', () => expectError(craft('[1,2]'), /not a JSON object/));
  it('tensor entry not an object', () => expectError(craft({ w: 3 }), /"w": entry is not an object/));
  it('missing dtype', () => expectError(craft({ w: { shape: [2], data_offsets: [0, 8] } }, 8), /"w"/, /missing "dtype"/));
  it('missing shape', () => expectError(craft({ w: { dtype: 'F32', data_offsets: [0, 8] } }, 8), /"w"/, /missing "shape"/));
  it('missing data_offsets', () => expectError(craft({ w: { dtype: 'F32', shape: [2] } }, 8), /"w"/, /missing "data_offsets"/));
  it('unsupported dtype', () => expectError(craft({ w: w([0, 2], [2], 'U8') }, 2), /"w"/, /unsupported dtype "U8"/));
  it('bad shape', () => expectError(craft({ w: w([0, 8], [-2]) }, 8), /"w"/, /"shape"/));
  it('bad data_offsets', () => expectError(craft({ w: w([0]) }, 8), /"w"/, /"data_offsets"/));
  it('offsets past the end', () => expectError(craft({ w: w([0, 80], [20]) }, 8), /"w"/, /\[0, 80\] run past the data section \(8 bytes\)/));
  it('end < begin', () => expectError(craft({ w: w([8, 0]) }, 8), /"w"/, /end 0 < begin 8/));
  it('byte length ≠ product(shape)·itemsize', () => expectError(craft({ w: w([0, 8], [3]) }, 8), /"w"/, /8 bytes of data but shape \[3\] × F32 needs 12/));
  it('overlapping tensors', () => expectError(craft({ a: w([0, 8]), b: w([4, 12]) }, 12), /"b"/, /overlaps tensor "a"/));
  it('gap between tensors', () => expectError(craft({ a: w([0, 8]), b: w([12, 20]) }, 20), /gap/, /"b"/));
  it('gap at the start', () => expectError(craft({ a: w([4, 12]) }, 12), /gap/, /"a"/));
  it('trailing bytes', () => expectError(craft({ a: w([0, 8]) }, 12), /4 trailing bytes/));
  it('metadata that is not string → string', () => expectError(craft({ __metadata__: { n: 1 } }), /"__metadata__" entry "n"/));
});
