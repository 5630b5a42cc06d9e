// CPU reference: elementwise residual add.
type F = Float32Array | Float64Array;

/** out = a + b over n entries. out may alias a (each entry is read before it is written). */
export function add(out: F, a: F, b: F, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}
