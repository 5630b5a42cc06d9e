// The multi-tensor optimizer kernels (shaders/core/sum_squares.wgsl, adamw.wgsl) against the
// independent CPU references in src/engine/ref/adamw.ref.ts, applied tensor by tensor in float64 on
// the same float32 inputs. Odd tensor sizes (1, 37, 256, 257, 1000, 4099 or 100003) packed into shared
// buffers (Backend.pack), so segments start at aligned offsets inside one binding; each tensor with
// its own lr and weight decay. Packed and unpacked lists must give the same bits: per entry the
// arithmetic is the same, only the number of dispatches differs.
// Not through checkOp (../op-test.ts): these ops take tensor lists (packed or not) and run several
// steps, which its one-tensor-per-argument calls do not express.
import { describe, expect, it } from 'vitest';
import type { AdamWShared, AdamWTensor, Tensor } from '../../backend.ts';
import * as ref from '../../ref/adamw.ref.ts';
import { randArray, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { planAdamw, planSumSquares } from './adamw.ts';
import { testGpu } from '../testing.ts';

const TOL = 1e-5; // relative, float32 state and sums against float64
const SIZES = [1000, 37, 1, 257, 256, 100003];
/** For AdamW, whose tests run several steps: the same shapes without the 100003 (SwiftShader is slow). */
const ADAM_SIZES = [1000, 37, 1, 257, 256, 4099];

const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(0));

function put(gpu: WebGpuBackend, label: string, data: Float32Array): Tensor {
  const t = gpu.alloc(label, data.length);
  gpu.upload(t, data);
  return t;
}

/** Dispatches encoded by fn. */
function dispatches(gpu: WebGpuBackend, fn: () => void): number {
  const d0 = gpu.ctx.dispatches;
  fn();
  return gpu.ctx.dispatches - d0;
}

/** Trainable state for `sizes`: params, grads and moments, each role packed into its own buffer when `packed`. */
interface State { ts: AdamWTensor[]; grads: Tensor[] }
function makeState(gpu: WebGpuBackend, sizes: number[], packed: boolean, seed: number): State {
  const ts = sizes.map((n, i): AdamWTensor => ({
    param: put(gpu, `p${i}`, randArray(n, seed + i)),
    grad: gpu.alloc(`g${i}`, n),
    m: put(gpu, `m${i}`, randArray(n, seed + 100 + i, 0.01)),
    v: put(gpu, `v${i}`, Float32Array.from(randArray(n, seed + 200 + i, 0.01), (x) => x * x)),
    lr: 1e-2 * (1 + i), // LoRA+-style per-tensor rates
    weightDecay: i % 2 ? 0 : 0.1, // decay on some tensors only
  }));
  if (packed) for (const role of ['param', 'grad', 'm', 'v'] as const) gpu.pack(`test.${role}`, ts.map((t) => t[role]));
  return { ts, grads: ts.map((t) => t.grad) };
}

async function readAll(gpu: WebGpuBackend, ts: AdamWTensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of ts) out.push(await gpu.read(t.param), await gpu.read(t.m), await gpu.read(t.v));
  return out;
}

describe('sumSquares over a tensor list', () => {
  it('packed: one dispatch, each tensor into its own slot, other slots untouched; the same bits as unpacked', async () => {
    const gpu = await testGpu();
    const xs = SIZES.map((n, i) => randArray(n, 51 + i));
    const sq0 = Float32Array.from({ length: SIZES.length + 2 }, (_, i) => 7 + i);
    const run = async (packed: boolean): Promise<[Float32Array, number]> => {
      const ts = xs.map((x, i) => put(gpu, `x${i}`, x));
      if (packed) gpu.pack('test.x', ts);
      const tSq = put(gpu, 'sqnorm', sq0);
      const n = dispatches(gpu, () => gpu.sumSquares(tSq, ts));
      return [await gpu.read(tSq), n];
    };
    const [got, nPacked] = await run(true);
    const [unpacked, nUnpacked] = await run(false);
    expect(nPacked).toBe(1);
    expect(nUnpacked).toBe(SIZES.length);
    const want = Float64Array.from(sq0);
    xs.forEach((x, i) => ref.sumSquares(want, i, f64(x), x.length));
    for (let i = 0; i < SIZES.length; i++) expect(Math.abs(got[i] - want[i]) / want[i], `slot ${i}`).toBeLessThan(TOL);
    expect(Array.from(got.slice(SIZES.length))).toEqual(Array.from(sq0.slice(SIZES.length)));
    expect(bits(unpacked)).toEqual(bits(got));
  });

  it('a folded 3×2 grid for 4 segments (two spare workgroups)', async () => {
    const gpu = await testGpu();
    const xs = [37, 300, 1, 513].map((n, i) => randArray(n, 61 + i));
    const ts = xs.map((x, i) => put(gpu, `x${i}`, x));
    gpu.pack('test.x', ts);
    const tSq = put(gpu, 'sqnorm', new Float32Array(5).fill(-1));
    const [d] = planSumSquares(tSq, ts);
    gpu.ctx.dispatch(d.shader, d.bindings, d.params, [3, 2, 1]);
    const got = await gpu.read(tSq);
    const want = Float64Array.from([-1, -1, -1, -1, -1]);
    xs.forEach((x, i) => ref.sumSquares(want, i, f64(x), x.length));
    expect(relErr(got, want)).toBeLessThan(TOL);
    expect(got[4]).toBe(-1);
  });
});

describe('adamw over a tensor list', () => {
  const shared: AdamWShared = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1, maxNorm: 0 };
  const variants: [string, number][] = [['no clipping (maxNorm 0)', 0], ['clipping inactive (maxNorm 1e6)', 1e6], ['clipping active (maxNorm 1)', 1]];
  for (const [name, maxNorm] of variants) {
    it(`3 steps, ${name}, 6 packed tensors in one dispatch, per-tensor lr and decay`, async () => {
      const gpu = await testGpu();
      const { ts, grads } = makeState(gpu, ADAM_SIZES, true, 300);
      // one slot past the tensors holds junk that normSlots must ignore
      const tSq = put(gpu, 'sqnorm', Float32Array.from([...ADAM_SIZES.map(() => 0), 1e9]));
      const wantSq = Float64Array.from([...ADAM_SIZES.map(() => 0), 1e9]);
      for (let step = 1; step <= 3; step++) {
        // Each step's reference starts from the GPU's state, so float32 storage does not compound.
        const want = await Promise.all(ts.map(async (t) => ({ p: f64(await gpu.read(t.param)), m: f64(await gpu.read(t.m)), v: f64(await gpu.read(t.v)) })));
        const p0 = want.map((w) => Float64Array.from(w.p));
        const g = ADAM_SIZES.map((n, i) => randArray(n, 400 + 10 * step + i, 0.5));
        g.forEach((x, i) => gpu.upload(grads[i], x));
        const p = { ...shared, step, maxNorm };
        const n = dispatches(gpu, () => {
          gpu.sumSquares(tSq, grads);
          gpu.adamw(ts, tSq, ADAM_SIZES.length, p);
        });
        expect(n).toBe(2);
        g.forEach((x, i) => ref.sumSquares(wantSq, i, f64(x), x.length));
        if (maxNorm === 1) expect(ref.clipScale(wantSq, ADAM_SIZES.length, maxNorm)).toBeLessThan(0.2); // really clips
        ts.forEach((t, i) => ref.adamw(want[i].p, f64(g[i]), want[i].m, want[i].v, wantSq, ADAM_SIZES.length, ADAM_SIZES[i], { ...p, lr: t.lr, weightDecay: t.weightDecay }));
        for (let i = 0; i < ts.length; i++) {
          const got = await gpu.read(ts[i].param);
          expect(relErr(got, want[i].p), `param ${i}`).toBeLessThan(TOL);
          expect(relErr(await gpu.read(ts[i].m), want[i].m), `m ${i}`).toBeLessThan(TOL);
          expect(relErr(await gpu.read(ts[i].v), want[i].v), `v ${i}`).toBeLessThan(TOL);
          // The update itself, not just the parameter it lands on. Only over ≥ 256 entries: the
          // param's own float32 rounding (half an ulp of p) is what a single entry's net update
          // (decay and step can nearly cancel) is measured against, not the kernel's arithmetic.
          if (ADAM_SIZES[i] >= 256) expect(relErr(sub(got, p0[i]), sub(want[i].p, p0[i])), `update ${i}`).toBeLessThan(TOL);
        }
      }
    });
  }

  it('packed, unpacked and half-packed lists give the same bits, and repeat them', async () => {
    const gpu = await testGpu();
    const grads = ADAM_SIZES.map((n, i) => randArray(n, 500 + i));
    const p: AdamWShared = { beta1: 0.9, beta2: 0.95, eps: 1e-8, step: 4, maxNorm: 1 };
    const run = async (layout: 'packed' | 'unpacked' | 'half'): Promise<[Float32Array[], number]> => {
      const { ts, grads: tg } = makeState(gpu, ADAM_SIZES, layout === 'packed', 600);
      if (layout === 'half') { // v not packed (adamw: one dispatch per tensor); m packed in reverse: offsets differ by role
        gpu.pack('test.param', ts.map((t) => t.param));
        gpu.pack('test.grad', tg);
        gpu.pack('test.m', ts.map((t) => t.m).reverse());
      }
      grads.forEach((g, i) => gpu.upload(tg[i], g));
      const tSq = gpu.alloc('sqnorm', ADAM_SIZES.length);
      const n = dispatches(gpu, () => {
        gpu.sumSquares(tSq, tg);
        gpu.adamw(ts, tSq, ADAM_SIZES.length, p);
      });
      return [await readAll(gpu, ts), n];
    };
    const [a, nA] = await run('packed');
    const [b, nB] = await run('unpacked');
    const [c, nC] = await run('half');
    const [d] = await run('packed');
    expect([nA, nB, nC]).toEqual([2, 2 * ADAM_SIZES.length, ADAM_SIZES.length + 1]);
    for (let i = 0; i < a.length; i++) {
      expect(bits(b[i]), `unpacked ${i}`).toEqual(bits(a[i]));
      expect(bits(c[i]), `half-packed ${i}`).toEqual(bits(a[i]));
      expect(bits(d[i]), `again ${i}`).toEqual(bits(a[i]));
    }
  });

  it(`more tensors than one dispatch's table (130 > 128) split into two dispatches`, async () => {
    const gpu = await testGpu();
    const sizes = Array.from({ length: 130 }, (_, i) => 1 + (i % 7) * 40);
    const { ts, grads } = makeState(gpu, sizes, true, 700);
    const g = sizes.map((n, i) => randArray(n, 900 + i));
    g.forEach((x, i) => gpu.upload(grads[i], x));
    const want = await Promise.all(ts.map(async (t) => ({ p: f64(await gpu.read(t.param)), m: f64(await gpu.read(t.m)), v: f64(await gpu.read(t.v)) })));
    const tSq = gpu.alloc('sqnorm', sizes.length);
    const p: AdamWShared = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 2, maxNorm: 0.5 };
    const n = dispatches(gpu, () => {
      gpu.sumSquares(tSq, grads);
      gpu.adamw(ts, tSq, sizes.length, p);
    });
    expect(n).toBe(4);
    const wantSq = new Float64Array(sizes.length);
    g.forEach((x, i) => ref.sumSquares(wantSq, i, f64(x), x.length));
    expect(relErr(await gpu.read(tSq), wantSq)).toBeLessThan(TOL);
    ts.forEach((t, i) => ref.adamw(want[i].p, f64(g[i]), want[i].m, want[i].v, wantSq, sizes.length, sizes[i], { ...p, lr: t.lr, weightDecay: t.weightDecay }));
    for (const i of [0, 1, 127, 128, 129]) expect(relErr(await gpu.read(ts[i].param), want[i].p), `param ${i}`).toBeLessThan(TOL);
  });

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader: dispatch the planned table on a small explicit grid with spare workgroups instead.
  it('a folded 3×3 grid for segments of 4 + 1 + 2 workgroups (two spare)', async () => {
    const gpu = await testGpu();
    const sizes = [1000, 3, 257];
    const { ts, grads } = makeState(gpu, sizes, true, 800);
    const g = sizes.map((n, i) => randArray(n, 850 + i));
    g.forEach((x, i) => gpu.upload(grads[i], x));
    const want = await Promise.all(ts.map(async (t) => ({ p: f64(await gpu.read(t.param)), m: f64(await gpu.read(t.m)), v: f64(await gpu.read(t.v)) })));
    const sq = Float32Array.from(g.map((x) => x.reduce((s, y) => s + y * y, 0)));
    const tSq = put(gpu, 'sqnorm', sq);
    const p: AdamWShared = { beta1: 0.8, beta2: 0.99, eps: 1e-6, step: 3, maxNorm: 2 };
    const [d] = planAdamw(ts, tSq, sizes.length, p);
    expect(d.workgroups).toBe(7);
    gpu.ctx.dispatch(d.shader, d.bindings, d.params, [3, 3, 1]);
    ts.forEach((t, i) => ref.adamw(want[i].p, f64(g[i]), want[i].m, want[i].v, f64(sq), sizes.length, sizes[i], { ...p, lr: t.lr, weightDecay: t.weightDecay }));
    for (let i = 0; i < ts.length; i++) {
      expect(relErr(await gpu.read(ts[i].param), want[i].p), `param ${i}`).toBeLessThan(TOL);
      expect(relErr(await gpu.read(ts[i].v), want[i].v), `v ${i}`).toBeLessThan(TOL);
    }
  });

  it('rejects lists it cannot bind or update', async () => {
    const gpu = await testGpu();
    const p: AdamWShared = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1, maxNorm: 0 };
    const tSq = gpu.alloc('sqnorm', 2);
    const { ts } = makeState(gpu, [5, 7], false, 950);
    expect(() => gpu.adamw([ts[0], ts[0]], tSq, 2, p)).toThrow(/listed twice/);
    expect(() => gpu.adamw([{ ...ts[0], grad: ts[1].grad }], tSq, 2, p)).toThrow(/"g1" has 7 elements/);
    expect(() => gpu.adamw(ts, tSq, 3, p)).toThrow(/normSlots 3/);
    expect(() => gpu.adamw(ts, tSq, 2, { ...p, step: 0 })).toThrow(/step/);
    expect(() => gpu.sumSquares(gpu.alloc('sq1', 1), [ts[0].grad, ts[1].grad])).toThrow(/2 tensors/);
    // a parameter packed with its gradient cannot be bound writable and read-only at once
    const { ts: mixed } = makeState(gpu, [5], false, 960);
    gpu.pack('test.param-and-grad', [mixed[0].param, mixed[0].grad]);
    expect(() => gpu.adamw(mixed, tSq, 1, p)).toThrow(/"g0" shares a buffer/);
  });
});
