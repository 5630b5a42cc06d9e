// The ceiling the CPU backend's matmul is held to: the rate of 128-bit WebAssembly SIMD multiplies and
// adds (the GEMM's arithmetic, f32x4.mul and f32x4.add, no fused multiply-add) on one thread of this
// machine under this V8, with every operand in registers: no loads, no stores, independent chains
// enough to cover both units' latency. Measured, not derived from a clock the guest may misreport,
// so a matmul's GFLOP/s over it is the share of what the instruction set allows here.
import { ascCompile } from '../engine/cpu/simd/build.ts';

/** Six multiply chains and six add chains, four lanes each: 48 flops per iteration, as a GEMM counts
 * them (one multiply and one add per multiply-accumulate). Inputs come as arguments and the result is
 * returned, so nothing folds away. */
const SOURCE = `
export function peak(n: i32, m: f32, a: f32): f32 {
  const vm = f32x4.splat(m), va = f32x4.splat(a);
  let p0 = vm, p1 = f32x4.add(vm, va), p2 = f32x4.sub(vm, va), p3 = f32x4.mul(vm, vm), p4 = f32x4.add(p1, va), p5 = f32x4.sub(p2, va);
  let s0 = va, s1 = f32x4.add(va, va), s2 = f32x4.mul(va, vm), s3 = f32x4.sub(va, vm), s4 = f32x4.add(s1, va), s5 = f32x4.add(s2, va);
  for (let i = 0; i < n; i++) {
    p0 = f32x4.mul(p0, vm); p1 = f32x4.mul(p1, vm); p2 = f32x4.mul(p2, vm);
    p3 = f32x4.mul(p3, vm); p4 = f32x4.mul(p4, vm); p5 = f32x4.mul(p5, vm);
    s0 = f32x4.add(s0, va); s1 = f32x4.add(s1, va); s2 = f32x4.add(s2, va);
    s3 = f32x4.add(s3, va); s4 = f32x4.add(s4, va); s5 = f32x4.add(s5, va);
  }
  const p = f32x4.add(f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3)), f32x4.add(p4, p5));
  const s = f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(s4, s5));
  return f32x4.extract_lane(f32x4.add(p, s), 0);
}
`;

export const PEAK_FLOPS_PER_ITERATION = 48;

async function compile(): Promise<WebAssembly.Instance> {
  const wasm = await ascCompile('peak.ts', ['-O3', '--runtime', 'stub', '--enable', 'simd', '--use', 'abort='], SOURCE);
  const { instance } = await WebAssembly.instantiate(new Uint8Array(wasm));
  return instance;
}

/** GFLOP/s of register-only f32x4 multiplies and adds on the calling thread: the best of `reps` runs of
 * `iterations` iterations, after a warm-up that lets V8 tier the loop up. */
export async function simdPeakGflops(iterations = 20_000_000, reps = 5): Promise<number> {
  const peak = (await compile()).exports.peak as (n: number, m: number, a: number) => number;
  peak(iterations / 10, 0.9999999, 1e-7);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const v = peak(iterations, 0.9999999, 1e-7);
    const s = (performance.now() - t) / 1000;
    if (!Number.isFinite(v)) throw new Error(`SIMD peak probe returned ${v}`);
    best = Math.min(best, s);
  }
  return (iterations * PEAK_FLOPS_PER_ITERATION) / best / 1e9;
}
