// CPU reference: greedy decoding's argmax of each row of logits.
type F = Float32Array | Float64Array;

/** out (N) = argmax over logits[n, :]; ties go to the lowest index (strict > comparison). */
export function argmax(out: Int32Array, logits: F, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[n * V + i] > logits[n * V + best]) best = i;
    out[n] = best;
  }
}
