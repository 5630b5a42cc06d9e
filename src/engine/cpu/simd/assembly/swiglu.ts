// AssemblyScript: SwiGLU for the CPU backend (the math of src/engine/ref/swiglu.ref.ts in float32, exp
// by expf.ts: four lanes at a time, the same bits on every machine and in a tail as in a lane).
// Elementwise, so tasks are chunks of CHUNK entries.
import { expv, onev } from './expf';

const J_COUNTER = 1, J_N = 2, J_GATE = 3, J_UP = 4, J_OUT = 5, J_DOUT = 6, J_DGATE = 7, J_DUP = 8;
const CHUNK = 16384;

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

/** σ(g) = 1 / (1 + e^−g), four lanes. */
@inline function sigmoidv(g: v128): v128 {
  const one = onev();
  return f32x4.div(one, f32x4.add(one, expv(f32x4.neg(g))));
}

/** Four entries from i, or the n − i < 4 left (the rest of the lanes read and write nothing). */
@inline function load4(p: usize, i: i32, n: i32): v128 {
  if (i + 4 <= n) return v128.load(p + (<usize>i << 2));
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p + (<usize>i << 2)));
  if (i + 1 < n) v = f32x4.replace_lane(v, 1, load<f32>(p + (<usize>(i + 1) << 2)));
  if (i + 2 < n) v = f32x4.replace_lane(v, 2, load<f32>(p + (<usize>(i + 2) << 2)));
  return v;
}

@inline function store4(p: usize, i: i32, n: i32, v: v128): void {
  if (i + 4 <= n) {
    v128.store(p + (<usize>i << 2), v);
    return;
  }
  store<f32>(p + (<usize>i << 2), f32x4.extract_lane(v, 0));
  if (i + 1 < n) store<f32>(p + (<usize>(i + 1) << 2), f32x4.extract_lane(v, 1));
  if (i + 2 < n) store<f32>(p + (<usize>(i + 2) << 2), f32x4.extract_lane(v, 2));
}

/** out = silu(gate)·up = (gate·σ(gate))·up. */
export function swigluForwardRun(job: usize): void {
  const n = word(job, J_N), gate = <usize>word(job, J_GATE), up = <usize>word(job, J_UP), out = <usize>word(job, J_OUT);
  while (true) {
    const i0 = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1) * CHUNK;
    if (i0 >= n) return;
    const i1 = min(i0 + CHUNK, n);
    for (let i = i0; i < i1; i += 4) {
      const g = load4(gate, i, i1);
      store4(out, i, i1, f32x4.mul(f32x4.mul(g, sigmoidv(g)), load4(up, i, i1)));
    }
  }
}

/** dgate = ((dout·up)·σ(g))·(1 + g(1 − σ(g))), dup = (dout·g)·σ(g). */
export function swigluBackwardRun(job: usize): void {
  const n = word(job, J_N), gate = <usize>word(job, J_GATE), up = <usize>word(job, J_UP);
  const dout = <usize>word(job, J_DOUT), dgate = <usize>word(job, J_DGATE), dup = <usize>word(job, J_DUP);
  const one = onev();
  while (true) {
    const i0 = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1) * CHUNK;
    if (i0 >= n) return;
    const i1 = min(i0 + CHUNK, n);
    for (let i = i0; i < i1; i += 4) {
      const g = load4(gate, i, i1), s = sigmoidv(g), d = load4(dout, i, i1);
      const dsilu = f32x4.add(one, f32x4.mul(g, f32x4.sub(one, s)));
      store4(dgate, i, i1, f32x4.mul(f32x4.mul(f32x4.mul(d, load4(up, i, i1)), s), dsilu));
      store4(dup, i, i1, f32x4.mul(f32x4.mul(d, g), s));
    }
  }
}
