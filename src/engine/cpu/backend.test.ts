import { describe, it, expect } from 'vitest';
import { CpuBackend } from './backend.ts';
import { adamw, sumSquares } from '../ref/adamw.ref.ts';
import { embeddingForward } from '../ref/embedding.ref.ts';
import { logprobForward } from '../ref/logprob.ref.ts';
import { matmulForward } from '../ref/matmul.ref.ts';
import { rmsnormForward } from '../ref/rmsnorm.ref.ts';
import { randArray, randInts, relErr } from '../ref/testutil.ts';

describe('CpuBackend storage', () => {
  const be = new CpuBackend();

  it('validates alloc and upload, naming the tensor', () => {
    expect(() => be.alloc('bad', -1)).toThrow(/bad/);
    expect(() => be.alloc('frac', 2.5)).toThrow(/frac/);
    const t = be.alloc('weights', 4);
    expect(() => be.upload(t, new Float32Array(5))).toThrow(/weights/);
    expect(() => be.upload(t, new Float32Array(2), 3)).toThrow(/weights/);
    expect(() => be.upload(t, new Int32Array(4))).toThrow(/weights.*f32/);
    const ids = be.alloc('ids', 3, 'i32');
    expect(() => be.upload(ids, new Float32Array(3))).toThrow(/ids/);
  });

  it('partial upload at an offset; read returns a copy; dtype-checked reads', async () => {
    const t = be.alloc('x', 4);
    be.upload(t, Float32Array.from([1, 2]), 2);
    const a = await be.read(t);
    expect(Array.from(a)).toEqual([0, 0, 1, 2]);
    a[0] = 42;
    expect((await be.read(t))[0]).toBe(0);
    await expect(be.readInt(t)).rejects.toThrow(/x/);
    const ids = be.alloc('tok', 2, 'i32');
    be.upload(ids, Int32Array.from([7, -1]));
    expect(Array.from(await be.readInt(ids))).toEqual([7, -1]);
    await be.sync();
  });

  it('copy with offsets, zero, free', async () => {
    const a = be.alloc('a', 5), b = be.alloc('b', 5);
    be.upload(a, Float32Array.from([1, 2, 3, 4, 5]));
    be.copy(b, a, 2, 3, 1);
    expect(Array.from(await be.read(b))).toEqual([0, 0, 0, 2, 3]);
    expect(() => be.copy(b, a, 3, 3, 0)).toThrow(/out of range/);
    be.zero(a);
    expect(Array.from(await be.read(a))).toEqual([0, 0, 0, 0, 0]);
    be.free(a);
    expect(() => be.zero(a)).toThrow(/'a' used after free/);
  });

  it('ops reject tensors that are too small or of the wrong dtype', () => {
    const out = be.alloc('out', 5), x = be.alloc('x', 6), ids = be.alloc('ids', 6, 'i32');
    expect(() => be.add(out, x, x, 6)).toThrow(/'out' has 5 elements, op needs 6/);
    const col = { tokens: be.alloc('col', 6, 'i32'), offset: 1, stride: 2 };
    expect(() => be.argmax(x, x, 2, 3, col)).toThrow(/'x' is f32, expected i32/);
    expect(() => be.argmax(ids, x, 2, 3, { ...col, offset: 3, stride: 3 })).toThrow(/'col' has 6 elements, op needs 7/);
    expect(() => be.argmax(ids, x, 2, 3, { ...col, rows: Int32Array.from([2, 2]) })).toThrow(/distinct/);
    expect(() => be.argmax(ids, x, 2, 3, { ...col, rows: Int32Array.from([0]) })).toThrow(/1 entries for 2 rows/);
    expect(() => be.argmax(ids, x, 2, 3, { ...col, rows: Int32Array.from([0, 3]) })).toThrow(/'col' has 6 elements, op needs 8/);
    expect(() => be.embeddingForward(be.alloc('e', 6), ids, x, 3, 2)).not.toThrow();
    be.upload(ids, Int32Array.from([0, 1, 3, 0, 0, 0]));
    expect(() => be.embeddingForward(be.alloc('e', 6), ids, x, 3, 2)).toThrow(/'ids'\[2\] = 3/);
  });
});

describe('CpuBackend ops', () => {
  it('a tiny forward (embedding → rmsnorm → linear → logprob) matches the float64 references', async () => {
    const TOL = 1e-5; // float32 storage vs float64 reference
    const N = 6, C = 12, V = 11, EPS = 1e-6;
    const be = new CpuBackend();
    const idsH = randInts(N, 1, 0, V), tgtH = Int32Array.from([1, 2, -1, 4, 5, 10]);
    const wteH = randArray(V * C, 2), wH = randArray(C, 3, 0.1).map((x) => 1 + x), headH = randArray(V * C, 4, 0.3);
    const t = (label: string, data: Float32Array | Int32Array) => {
      const x = be.alloc(label, data.length, data instanceof Int32Array ? 'i32' : 'f32');
      be.upload(x, data);
      return x;
    };
    const ids = t('ids', idsH), tgt = t('targets', tgtH), wte = t('wte', wteH), w = t('ln.w', wH), head = t('head', headH);
    const x = be.alloc('x', N * C), xn = be.alloc('xn', N * C), rstd = be.alloc('rstd', N);
    const logits = be.alloc('logits', N * V), logp = be.alloc('logp', N), lse = be.alloc('lse', N), am = be.alloc('am', N, 'i32');
    const col = t('col', Int32Array.from({ length: 3 * N }, (_, i) => -1 - i));
    be.embeddingForward(x, ids, wte, N, C);
    be.rmsnormForward(xn, rstd, x, w, N, C, EPS);
    be.matmulForward(logits, xn, head, null, N, C, V);
    be.logprobForward(logp, lse, logits, tgt, N, V);
    be.argmax(am, logits, N, V, { tokens: col, offset: 2, stride: 3 });
    await be.sync();

    const f64 = (a: Float32Array) => Float64Array.from(a);
    const x64 = new Float64Array(N * C), xn64 = new Float64Array(N * C), r64 = new Float64Array(N);
    const l64 = new Float64Array(N * V), lp64 = new Float64Array(N), lse64 = new Float64Array(N);
    embeddingForward(x64, idsH, f64(wteH), N, C);
    rmsnormForward(xn64, r64, x64, f64(wH), N, C, EPS);
    matmulForward(l64, xn64, f64(headH), null, N, C, V);
    logprobForward(lp64, lse64, l64, tgtH, N, V);
    expect(relErr(await be.read(logits), l64)).toBeLessThan(TOL);
    expect(relErr(await be.read(logp), lp64)).toBeLessThan(TOL);
    expect((await be.read(logp))[2]).toBe(0); // masked row
    const got = await be.readInt(am);
    for (let n = 0; n < N; n++) expect(l64[n * V + got[n]]).toBe(Math.max(...l64.subarray(n * V, n * V + V)));
    // the token column: every third entry from 2 holds the argmax, the rest is untouched
    const c = await be.readInt(col);
    for (let i = 0; i < 3 * N; i++) expect(c[i]).toBe(i % 3 === 2 ? got[(i - 2) / 3] : -1 - i);
  });
});

describe('CpuBackend optimizer ops over tensor lists', () => {
  it('sumSquares fills one slot per tensor; adamw applies the reference per tensor with its own lr and decay; pack only checks', async () => {
    const be = new CpuBackend();
    const sizes = [3, 8, 1];
    const t = (label: string, data: Float32Array) => {
      const x = be.alloc(label, data.length);
      be.upload(x, data);
      return x;
    };
    const ts = sizes.map((n, i) => ({
      param: t(`p${i}`, randArray(n, 10 + i)), grad: t(`g${i}`, randArray(n, 20 + i)), m: t(`m${i}`, randArray(n, 30 + i, 0.1)),
      v: t(`v${i}`, randArray(n, 40 + i, 0.1).map((x) => x * x)), lr: 0.01 * (i + 1), weightDecay: i === 1 ? 0 : 0.1,
    }));
    expect(() => be.pack('dup', [ts[0].param, ts[0].param])).toThrow(/listed twice/);
    be.pack('params', ts.map((x) => x.param));
    const want = await Promise.all(ts.map(async (x) => [await be.read(x.param), await be.read(x.grad), await be.read(x.m), await be.read(x.v)]));
    const sq = be.alloc('sq', 4);
    be.upload(sq, Float32Array.from([0, 0, 0, 5]));
    be.sumSquares(sq, ts.map((x) => x.grad));
    const shared = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 2, maxNorm: 0.5 };
    be.adamw(ts, sq, 3, shared);
    const wantSq = Float32Array.from([0, 0, 0, 5]);
    want.forEach(([, g], i) => sumSquares(wantSq, i, g, g.length));
    expect(Array.from(await be.read(sq))).toEqual(Array.from(wantSq));
    for (let i = 0; i < ts.length; i++) {
      const [p, g, m, v] = want[i];
      adamw(p, g, m, v, wantSq, 3, sizes[i], { ...shared, lr: ts[i].lr, weightDecay: ts[i].weightDecay });
      expect(Array.from(await be.read(ts[i].param))).toEqual(Array.from(p));
      expect(Array.from(await be.read(ts[i].v))).toEqual(Array.from(v));
    }
  });
});
