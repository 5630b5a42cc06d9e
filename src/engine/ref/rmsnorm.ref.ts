// CPU reference: RMSNorm (HF Qwen2RMSNorm): y = x · rsqrt(mean(x²) + eps) · w.
type F = Float32Array | Float64Array;

/** out (N,C) = inp · rstd · w; rstd (N) = 1/sqrt(mean(inp²) + eps). Both written (=). */
export function rmsnormForward(out: F, rstd: F, inp: F, w: F, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += inp[o + c] * inp[o + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[o + c] = inp[o + c] * r * w[c];
  }
}

/** dinp (N,C) += dout·w·r − x · r³/C · Σ_c(dout·w·x). Accumulates: dinp is the residual-stream
 * gradient, which already holds the skip path's contribution. */
export function rmsnormBackwardInput(dinp: F, dout: F, inp: F, w: F, rstd: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const r = rstd[n];
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dout[o + c] * w[c] * inp[o + c];
    const k = (dot * r * r * r) / C;
    for (let c = 0; c < C; c++) dinp[o + c] += dout[o + c] * w[c] * r - inp[o + c] * k;
  }
}

/** dw (C) += Σ_n dout · inp · rstd. Parameter gradient: accumulates. */
export function rmsnormBackwardWeight(dw: F, dout: F, inp: F, rstd: F, N: number, C: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) s += dout[n * C + c] * inp[n * C + c] * rstd[n];
    dw[c] += s;
  }
}
