// The ceiling the CPU backend's matmul is held to: the rate of 128-bit WebAssembly SIMD multiplies and
// adds (the GEMM's arithmetic, f32x4.mul and f32x4.add, no fused multiply-add) on one thread of this
// machine under this V8, with every operand in registers: no loads, no stores, independent chains
// enough to cover both units' latency. Measured, not derived from a clock the guest may misreport,
// so a matmul's GFLOP/s over it is the share of what the instruction set allows here.
import { ascCompile } from '../engine/cpu/simd/build.ts';

/** Seven multiply chains and seven add chains, four lanes each: 56 flops per iteration, as a GEMM counts
 * them (one multiply and one add per multiply-accumulate). Seven chains of each cover three cycles of
 * latency at two of each per cycle with room to spare (six left the loop bound by latency: it read
 * below the matmul itself); with the one constant that makes fifteen v128 values, all in registers.
 * Inputs come as arguments and the result is returned, so nothing folds away. */
const SOURCE = `
export function peak(n: i32, c: f32): f32 {
  const vc = f32x4.splat(c);
  let p0 = vc, p1 = f32x4.add(vc, vc), p2 = f32x4.mul(vc, vc), p3 = f32x4.add(p1, vc), p4 = f32x4.mul(p1, p1), p5 = f32x4.add(p3, vc), p6 = f32x4.add(p4, vc);
  let s0 = f32x4.sub(vc, vc), s1 = f32x4.add(p6, vc), s2 = f32x4.add(s1, vc), s3 = f32x4.add(s2, vc), s4 = f32x4.add(s3, vc), s5 = f32x4.add(s4, vc), s6 = f32x4.add(s5, vc);
  for (let i = 0; i < n; i++) {
    p0 = f32x4.mul(p0, vc); p1 = f32x4.mul(p1, vc); p2 = f32x4.mul(p2, vc); p3 = f32x4.mul(p3, vc);
    p4 = f32x4.mul(p4, vc); p5 = f32x4.mul(p5, vc); p6 = f32x4.mul(p6, vc);
    s0 = f32x4.add(s0, vc); s1 = f32x4.add(s1, vc); s2 = f32x4.add(s2, vc); s3 = f32x4.add(s3, vc);
    s4 = f32x4.add(s4, vc); s5 = f32x4.add(s5, vc); s6 = f32x4.add(s6, vc);
  }
  const p = f32x4.add(f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3)), f32x4.add(f32x4.add(p4, p5), p6));
  const s = f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(f32x4.add(s4, s5), s6));
  return f32x4.extract_lane(f32x4.add(p, s), 0);
}
`;

export const PEAK_FLOPS_PER_ITERATION = 56;

let compiled: Promise<WebAssembly.Instance> | null = null;

/** The probe's instance, compiled once per process (the bench measures it in every round). */
function compile(): Promise<WebAssembly.Instance> {
  compiled ??= ascCompile('peak.ts', ['-O3', '--runtime', 'stub', '--enable', 'simd', '--use', 'abort='], SOURCE)
    .then((wasm) => WebAssembly.instantiate(new Uint8Array(wasm)))
    .then(({ instance }) => instance);
  return compiled;
}

/** GFLOP/s of register-only f32x4 multiplies and adds on the calling thread: the best of `reps` runs of
 * `iterations` iterations, after a warm-up that lets V8 tier the loop up. */
export async function simdPeakGflops(iterations = 20_000_000, reps = 5): Promise<number> {
  const peak = (await compile()).exports.peak as (n: number, c: number) => number;
  peak(iterations / 10, 1.0000001);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const v = peak(iterations, 1.0000001);
    const s = (performance.now() - t) / 1000;
    if (!Number.isFinite(v)) throw new Error(`SIMD peak probe returned ${v}`);
    best = Math.min(best, s);
  }
  return (iterations * PEAK_FLOPS_PER_ITERATION) / best / 1e9;
}
