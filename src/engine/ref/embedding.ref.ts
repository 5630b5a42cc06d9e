// CPU reference: token embedding lookup and its backward.
// Written from the math, independently of the WGSL kernels. Layouts as in ../backend.ts.
type F = Float32Array | Float64Array;

/** out (N,C) = wte[ids[n]]; ids (N). Writes (=). */
export function embeddingForward(out: F, ids: Int32Array, wte: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const row = ids[n] * C;
    for (let c = 0; c < C; c++) out[n * C + c] = wte[row + c];
  }
}

/** dwte (V,C) += Σ_{n: ids[n]=v} dout[n]. Parameter gradient: accumulates. Sums in float64, in
 * order of n, per (v, c) like the one-invocation-per-(v,c) kernel. */
export function embeddingBackward(dwte: F, dout: F, ids: Int32Array, N: number, C: number, V: number): void {
  const acc = new Float64Array(V * C);
  const hit = new Uint8Array(V);
  for (let n = 0; n < N; n++) {
    const v = ids[n];
    if (v < 0 || v >= V) throw new RangeError(`embeddingBackward: ids[${n}] = ${v} outside [0, ${V})`);
    hit[v] = 1;
    for (let c = 0; c < C; c++) acc[v * C + c] += dout[n * C + c];
  }
  for (let v = 0; v < V; v++) {
    if (!hit[v]) continue;
    for (let c = 0; c < C; c++) dwte[v * C + c] += acc[v * C + c];
  }
}
