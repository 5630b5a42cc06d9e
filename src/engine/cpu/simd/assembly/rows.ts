// AssemblyScript: the CPU backend's cheap per-row and elementwise ops, split into tasks of whole rows or
// CHUNK entries: residual add (the float32 sum, as the reference rounds it: the same bits) and RMSNorm
// forward (the math of src/engine/ref/rmsnorm.ref.ts with a float32 sum of squares, four lanes then
// (l0 + l1) + (l2 + l3) then the tail).
const J_COUNTER = 1, J_N = 2, J_C = 3, J_A = 4, J_B = 5, J_OUT = 6, J_RSTD = 7, J_EPS = 8;
const CHUNK = 16384, ROWS = 64;

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

@inline function claim(job: usize): i32 {
  return atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1);
}

/** out = a + b over n entries (out may be a). */
export function addRun(job: usize): void {
  const n = word(job, J_N), a = <usize>word(job, J_A), b = <usize>word(job, J_B), out = <usize>word(job, J_OUT);
  while (true) {
    const i0 = claim(job) * CHUNK;
    if (i0 >= n) return;
    const i1 = min(i0 + CHUNK, n);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
    for (; i < i1; i++) store<f32>(out + (<usize>i << 2), load<f32>(a + (<usize>i << 2)) + load<f32>(b + (<usize>i << 2)));
  }
}

/** out (N,C) = inp · rstd · w, rstd (N) = 1/sqrt(mean(inp²) + eps). A = inp, B = w. */
export function rmsnormForwardRun(job: usize): void {
  const N = word(job, J_N), C = word(job, J_C), inp = <usize>word(job, J_A), w = <usize>word(job, J_B);
  const out = <usize>word(job, J_OUT), rstd = <usize>word(job, J_RSTD), eps = reinterpret<f32>(word(job, J_EPS));
  while (true) {
    const n0 = claim(job) * ROWS;
    if (n0 >= N) return;
    const n1 = min(n0 + ROWS, N);
    for (let n = n0; n < n1; n++) {
      const x = inp + ((<usize>n * C) << 2), o = out + ((<usize>n * C) << 2);
      let acc = f32x4.splat(0);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const v = v128.load(x + (<usize>c << 2));
        acc = f32x4.add(acc, f32x4.mul(v, v));
      }
      let ss = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
      for (; c < C; c++) {
        const v = load<f32>(x + (<usize>c << 2));
        ss += v * v;
      }
      const r: f32 = 1 / Mathf.sqrt(ss / <f32>C + eps);
      store<f32>(rstd + (<usize>n << 2), r);
      const rv = f32x4.splat(r);
      c = 0;
      for (; c + 4 <= C; c += 4) {
        const at = <usize>c << 2;
        v128.store(o + at, f32x4.mul(f32x4.mul(v128.load(x + at), rv), v128.load(w + at)));
      }
      for (; c < C; c++) store<f32>(o + (<usize>c << 2), load<f32>(x + (<usize>c << 2)) * r * load<f32>(w + (<usize>c << 2)));
    }
  }
}
