// CPU reference: linear layer out = inp · wᵀ + bias, w in PyTorch (OC, C) layout, and its backward.
// Every product carries an optional `scale` (default 1; never applied to the bias): low-rank
// adapters use it for their α/r factor, out += s · (x·Aᵀ)·Bᵀ.
type F = Float32Array | Float64Array;

/** out (N,OC) = scale · inp (N,C) · wᵀ + bias (OC) if given; += instead when `accumulate` (an
 * adapter's path added onto the base layer's output). The bias is not scaled. */
export function matmulForward(out: F, inp: F, w: F, bias: F | null, N: number, C: number, OC: number,
  accumulate = false, scale = 1): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += inp[n * C + c] * w[o * C + c];
      const v = scale * s + (bias ? bias[o] : 0);
      out[n * OC + o] = accumulate ? out[n * OC + o] + v : v;
    }
  }
}

/** dinp (N,C) = scale · dout (N,OC) · w (OC,C); += instead when `accumulate` (e.g. q/k/v projections
 * that share one input gradient). */
export function matmulBackwardInput(dinp: F, dout: F, w: F, N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let o = 0; o < OC; o++) s += dout[n * OC + o] * w[o * C + c];
      dinp[n * C + c] = accumulate ? dinp[n * C + c] + scale * s : scale * s;
    }
  }
}

/** dw (OC,C) += scale · doutᵀ · inp. Parameter gradient: accumulates. */
export function matmulBackwardWeight(dw: F, dout: F, inp: F, N: number, C: number, OC: number, scale = 1): void {
  for (let o = 0; o < OC; o++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dout[n * OC + o] * inp[n * C + c];
      dw[o * C + c] += scale * s;
    }
  }
}

/** dbias (OC) += Σ_n dout[n]. Parameter gradient: accumulates. */
export function biasBackward(dbias: F, dout: F, N: number, OC: number): void {
  for (let o = 0; o < OC; o++) {
    let s = 0;
    for (let n = 0; n < N; n++) s += dout[n * OC + o];
    dbias[o] += s;
  }
}
