// AssemblyScript: the CPU backend's cheap per-row and elementwise ops, split into tasks of whole rows or
// CHUNK entries: residual add (the float32 sum, as the reference rounds it: the same bits) and RMSNorm
// forward and backward (the math of src/engine/ref/rmsnorm.ref.ts in float32; a sum along a row in
// four lanes then (l0 + l1) + (l2 + l3) then the tail; the weight gradient's sum over rows in row
// order, its tasks blocks of columns, so no sum is split between threads).
const J_COUNTER = 1, J_N = 2, J_C = 3, J_A = 4, J_B = 5, J_OUT = 6, J_RSTD = 7, J_EPS = 8;
const CHUNK = 16384, ROWS = 64, COLS = 16;

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

/** Σ_c a[c]·b[c]·x[c] over C floats: ((a·b)·x) in four lanes, then (l0 + l1) + (l2 + l3), then the tail. */
@inline function dot3(a: usize, b: usize, x: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const at = <usize>c << 2;
    acc = f32x4.add(acc, f32x4.mul(f32x4.mul(v128.load(a + at), v128.load(b + at)), v128.load(x + at)));
  }
  let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; c < C; c++) s += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2)) * load<f32>(x + (<usize>c << 2));
  return s;
}

/** RMSNorm backward, input (the math of rmsnorm.ref.ts in float32): per row, k = dot·r³/C with
 * dot = Σ_c dout·w·inp; dinp += (dout·w)·r − inp·k. A = dout, B = w, OUT = dinp, RSTD = rstd, word 8 = inp. */
export function rmsnormBackwardInputRun(job: usize): void {
  const N = word(job, J_N), C = word(job, J_C), dout = <usize>word(job, J_A), w = <usize>word(job, J_B);
  const dinp = <usize>word(job, J_OUT), rstd = <usize>word(job, J_RSTD), inp = <usize>word(job, J_EPS);
  while (true) {
    const n0 = claim(job) * ROWS;
    if (n0 >= N) return;
    const n1 = min(n0 + ROWS, N);
    for (let n = n0; n < n1; n++) {
      const row = (<usize>n * C) << 2;
      const g = dout + row, x = inp + row, d = dinp + row;
      const r = load<f32>(rstd + (<usize>n << 2));
      const k: f32 = (dot3(g, w, x, C) * r * r * r) / <f32>C;
      const rv = f32x4.splat(r), kv = f32x4.splat(k);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const at = <usize>c << 2;
        const t = f32x4.sub(f32x4.mul(f32x4.mul(v128.load(g + at), v128.load(w + at)), rv), f32x4.mul(v128.load(x + at), kv));
        v128.store(d + at, f32x4.add(v128.load(d + at), t));
      }
      for (; c < C; c++) {
        const at = <usize>c << 2;
        store<f32>(d + at, load<f32>(d + at) + (load<f32>(g + at) * load<f32>(w + at) * r - load<f32>(x + at) * k));
      }
    }
  }
}

/** RMSNorm backward, weight: dw[c] += Σ_n (dout·inp)·rstd[n], n ascending, one float32 sum per column.
 * Tasks are blocks of COLS columns over every row. A = dout, B = inp, OUT = dw, RSTD = rstd. */
export function rmsnormBackwardWeightRun(job: usize): void {
  const N = word(job, J_N), C = word(job, J_C), dout = <usize>word(job, J_A), inp = <usize>word(job, J_B);
  const dw = <usize>word(job, J_OUT), rstd = <usize>word(job, J_RSTD);
  const rs = <usize>C << 2;
  while (true) {
    const c0 = claim(job) * COLS;
    if (c0 >= C) return;
    const c1 = min(c0 + COLS, C);
    let c = c0;
    for (; c + 16 <= c1; c += 16) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let g = dout + (<usize>c << 2), x = inp + (<usize>c << 2);
      for (let n = 0; n < N; n++) {
        const r = v128.load32_splat(rstd + (<usize>n << 2));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.mul(v128.load(g), v128.load(x)), r));
        a1 = f32x4.add(a1, f32x4.mul(f32x4.mul(v128.load(g, 16), v128.load(x, 16)), r));
        a2 = f32x4.add(a2, f32x4.mul(f32x4.mul(v128.load(g, 32), v128.load(x, 32)), r));
        a3 = f32x4.add(a3, f32x4.mul(f32x4.mul(v128.load(g, 48), v128.load(x, 48)), r));
        g += rs; x += rs;
      }
      const o = dw + (<usize>c << 2);
      v128.store(o, f32x4.add(v128.load(o), a0));
      v128.store(o, f32x4.add(v128.load(o, 16), a1), 16);
      v128.store(o, f32x4.add(v128.load(o, 32), a2), 32);
      v128.store(o, f32x4.add(v128.load(o, 48), a3), 48);
    }
    for (; c < c1; c++) {
      let s: f32 = 0;
      for (let n = 0; n < N; n++) {
        const at = ((<usize>n * C + c) << 2);
        s += load<f32>(dout + at) * load<f32>(inp + at) * load<f32>(rstd + (<usize>n << 2));
      }
      store<f32>(dw + (<usize>c << 2), load<f32>(dw + (<usize>c << 2)) + s);
    }
  }
}

/** RoPE (the arithmetic of rope.ref.ts: float64 products and sums, rounded to float32 once, so the same
 * bits) over positions p = b·T + t, each H heads of HS floats: out[i] = x[i]·cos − x[i + HS/2]·sin,
 * out[i + HS/2] = x[i + HS/2]·cos + x[i]·sin, with the float64 tables cos, sin (T, HS/2) from the host.
 * Position p reads inp + p·inRow floats and writes out + b·outB + t·outRow floats (a plain tensor, or a
 * KV cache's rows from pos0, or q and k inside a stacked [q|k|v] row). Tasks: blocks of ROWS positions.
 * Words: 2 N = B·T, 3 T, 4 inp, 5 out, 6 H, 7 HS, 8 cos, 9 sin, 10 inRow, 11 outB, 12 outRow. */
export function ropeRun(job: usize): void {
  const N = word(job, 2), T = word(job, 3), inp = <usize>word(job, 4), out = <usize>word(job, 5);
  const H = word(job, 6), HS = word(job, 7), cos = <usize>word(job, 8), sin = <usize>word(job, 9);
  const inRow = <usize>word(job, 10), outB = <usize>word(job, 11), outRow = <usize>word(job, 12);
  const half = HS >> 1;
  while (true) {
    const p0 = claim(job) * ROWS;
    if (p0 >= N) return;
    const p1 = min(p0 + ROWS, N);
    for (let p = p0; p < p1; p++) {
      const b = p / T, t = p % T;
      const tab = <usize>t * half << 3;
      for (let h = 0; h < H; h++) {
        const x = inp + ((<usize>p * inRow + <usize>h * HS) << 2);
        const o = out + ((<usize>b * outB + <usize>t * outRow + <usize>h * HS) << 2);
        for (let i = 0; i < half; i++) {
          const c = load<f64>(cos + tab + (<usize>i << 3)), s = load<f64>(sin + tab + (<usize>i << 3));
          const x1 = <f64>load<f32>(x + (<usize>i << 2)), x2 = <f64>load<f32>(x + (<usize>(i + half) << 2));
          store<f32>(o + (<usize>i << 2), <f32>(x1 * c - x2 * s));
          store<f32>(o + (<usize>(i + half) << 2), <f32>(x2 * c + x1 * s));
        }
      }
    }
  }
}
