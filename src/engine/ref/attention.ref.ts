// CPU reference: causal grouped-query attention (HF Qwen2 eager semantics), its backward, and the
// KV-cache decode path (the cache append is kv_write.ref.ts). Scores are scaled by 1/sqrt(HS); query head h reads kv head
// floor(h / (NH/NKV)) (HF repeat_kv). Layouts: q (B,T,NH,HS), k/v (B,T,NKV,HS), att (B,NH,T,T).
type F = Float32Array | Float64Array;

function groupSize(NH: number, NKV: number): number {
  if (NKV <= 0 || NH % NKV !== 0) throw new RangeError(`attention: NH=${NH} is not a multiple of NKV=${NKV}`);
  return NH / NKV;
}

/** out (B,T,NH,HS) = softmax(q·kᵀ/sqrt(HS), causal) · v; att (B,NH,T,T) = the probabilities,
 * 0 above the diagonal. Both written (=). */
export function attentionForward(out: F, att: F, q: F, k: F, v: F, B: number, T: number, NH: number, NKV: number,
  HS: number): void {
  const G = groupSize(NH, NKV);
  const scale = 1 / Math.sqrt(HS);
  const p = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * NH + h) * HS;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * NKV + kh) * HS;
          let dot = 0;
          for (let d = 0; d < HS; d++) dot += q[qo + d] * k[ko + d];
          p[s] = dot * scale;
          if (p[s] > max) max = p[s];
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          p[s] = Math.exp(p[s] - max);
          sum += p[s];
        }
        const ao = ((b * NH + h) * T + t) * T;
        for (let s = 0; s < T; s++) att[ao + s] = s <= t ? p[s] / sum : 0;
        for (let d = 0; d < HS; d++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += (p[s] / sum) * v[((b * T + s) * NKV + kh) * HS + d];
          out[qo + d] = acc;
        }
      }
    }
  }
}

/** Backward of attentionForward, given its `att`. Writes (=) dq (B,T,NH,HS), dk and dv (B,T,NKV,HS),
 * and scratch (B,NH,T,T) = dL/d(scores), scores = q·kᵀ/sqrt(HS) (0 above the diagonal).
 * dk/dv sum over the NH/NKV query heads that share a kv head. */
export function attentionBackward(dq: F, dk: F, dv: F, scratch: F, dout: F, q: F, k: F, v: F, att: F, B: number,
  T: number, NH: number, NKV: number, HS: number): void {
  const G = groupSize(NH, NKV);
  const scale = 1 / Math.sqrt(HS);
  // dk, dv gather contributions from many (h, t): accumulate in float64, then assign once.
  const dkAcc = new Float64Array(B * T * NKV * HS);
  const dvAcc = new Float64Array(B * T * NKV * HS);
  const datt = new Float64Array(T);
  const dpre = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * NH + h) * HS;
        const ao = ((b * NH + h) * T + t) * T;
        // out[t] = Σ_s att[t,s] v[s]  ⇒  datt[t,s] = dout[t]·v[s], dv[s] += att[t,s] dout[t]
        let rowDot = 0;
        for (let s = 0; s <= t; s++) {
          const vo = ((b * T + s) * NKV + kh) * HS;
          const a = att[ao + s];
          let dot = 0;
          for (let d = 0; d < HS; d++) {
            dot += dout[qo + d] * v[vo + d];
            dvAcc[vo + d] += a * dout[qo + d];
          }
          datt[s] = dot;
          rowDot += a * dot;
        }
        // softmax backward: dpre = att ⊙ (datt − Σ att·datt)
        for (let s = 0; s < T; s++) {
          dpre[s] = s <= t ? att[ao + s] * (datt[s] - rowDot) : 0;
          scratch[ao + s] = dpre[s];
        }
        // scores = scale · q·k  ⇒  dq[t] = scale Σ_s dpre k[s], dk[s] += scale dpre q[t]
        for (let d = 0; d < HS; d++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) {
            const ko = ((b * T + s) * NKV + kh) * HS;
            acc += dpre[s] * k[ko + d];
            dkAcc[ko + d] += scale * dpre[s] * q[qo + d];
          }
          dq[qo + d] = scale * acc;
        }
      }
    }
  }
  for (let i = 0; i < dkAcc.length; i++) {
    dk[i] = dkAcc[i];
    dv[i] = dvAcc[i];
  }
}

/** Attention of queries q (B,Tq,NH,HS) at positions pos0..pos0+Tq−1 against kcache/vcache
 * (B,Tmax,NKV,HS), which hold keys/values for positions 0..pos0+Tq−1. Query t attends to cache
 * positions 0..pos0+t. out (B,Tq,NH,HS) written (=). */
export function attentionDecode(out: F, q: F, kcache: F, vcache: F, B: number, Tq: number, pos0: number, Tmax: number,
  NH: number, NKV: number, HS: number): void {
  const G = groupSize(NH, NKV);
  if (pos0 + Tq > Tmax) throw new RangeError(`attentionDecode: pos0+Tq=${pos0 + Tq} exceeds Tmax=${Tmax}`);
  const scale = 1 / Math.sqrt(HS);
  const p = new Float64Array(pos0 + Tq);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) {
      const last = pos0 + t;
      for (let h = 0; h < NH; h++) {
        const kh = Math.floor(h / G);
        const qo = ((b * Tq + t) * NH + h) * HS;
        let max = -Infinity;
        for (let s = 0; s <= last; s++) {
          const ko = ((b * Tmax + s) * NKV + kh) * HS;
          let dot = 0;
          for (let d = 0; d < HS; d++) dot += q[qo + d] * kcache[ko + d];
          p[s] = dot * scale;
          if (p[s] > max) max = p[s];
        }
        let sum = 0;
        for (let s = 0; s <= last; s++) {
          p[s] = Math.exp(p[s] - max);
          sum += p[s];
        }
        for (let d = 0; d < HS; d++) {
          let acc = 0;
          for (let s = 0; s <= last; s++) acc += p[s] * vcache[((b * Tmax + s) * NKV + kh) * HS + d];
          out[qo + d] = acc / sum;
        }
      }
    }
  }
}
