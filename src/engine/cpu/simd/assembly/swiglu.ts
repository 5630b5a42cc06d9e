// AssemblyScript: SwiGLU for the CPU backend (the math of src/engine/ref/swiglu.ref.ts in float32, exp
// by the standard library's expf, a software routine: the same bits on every machine). Elementwise,
// so tasks are chunks of CHUNK entries.
const J_COUNTER = 1, J_N = 2, J_GATE = 3, J_UP = 4, J_OUT = 5, J_DOUT = 6, J_DGATE = 7, J_DUP = 8;
const CHUNK = 16384;

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

@inline function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline function sigmoid(x: f32): f32 {
  return 1 / (1 + Mathf.exp(-x));
}

/** out = silu(gate)·up = gate·σ(gate)·up. */
export function swigluForwardRun(job: usize): void {
  const n = word(job, J_N), gate = <usize>word(job, J_GATE), up = <usize>word(job, J_UP), out = <usize>word(job, J_OUT);
  while (true) {
    const i0 = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1) * CHUNK;
    if (i0 >= n) return;
    const i1 = min(i0 + CHUNK, n);
    for (let i = i0; i < i1; i++) {
      const g = f(gate, i);
      store<f32>(out + (<usize>i << 2), g * sigmoid(g) * f(up, i));
    }
  }
}

/** dgate = dout·up·σ(g)(1 + g(1 − σ(g))), dup = dout·g·σ(g). */
export function swigluBackwardRun(job: usize): void {
  const n = word(job, J_N), gate = <usize>word(job, J_GATE), up = <usize>word(job, J_UP);
  const dout = <usize>word(job, J_DOUT), dgate = <usize>word(job, J_DGATE), dup = <usize>word(job, J_DUP);
  while (true) {
    const i0 = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1) * CHUNK;
    if (i0 >= n) return;
    const i1 = min(i0 + CHUNK, n);
    for (let i = i0; i < i1; i++) {
      const g = f(gate, i), s = sigmoid(g), d = f(dout, i);
      store<f32>(dgate + (<usize>i << 2), d * f(up, i) * s * (1 + g * (1 - s)));
      store<f32>(dup + (<usize>i << 2), d * g * s);
    }
  }
}
