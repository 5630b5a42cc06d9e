// CPU reference: SiLU-gated MLP nonlinearity, out = silu(gate) · up (HF Qwen2MLP).
type F = Float32Array | Float64Array;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** out = silu(gate) · up over n entries, silu(g) = g·σ(g). Writes (=). */
export function swigluForward(out: F, gate: F, up: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

/** dgate = dout · up · silu'(gate), silu'(g) = σ(g)(1 + g(1 − σ(g))); dup = dout · silu(gate). Both (=). */
export function swigluBackward(dgate: F, dup: F, dout: F, gate: F, up: F, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    const d = dout[i];
    dgate[i] = d * up[i] * s * (1 + g * (1 - s));
    dup[i] = d * g * s;
  }
}
