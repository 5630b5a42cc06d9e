// CPU reference: per-row target log-probability (the policy-gradient building block) and its
// backward. An optional `scale` (default 1; 1/temperature for a tempered policy)
// multiplies the logits before the log-softmax: z = scale · logits.
type F = Float32Array | Float64Array;

/** With z = scale · logits: logp (N) = z[n, t] − lse[n]; lse (N) = logsumexp(z[n]), computed for every
 * row (masked rows included, since it does not depend on the target). targets[n] < 0 marks a masked
 * row: logp = 0. scale = 1 computes exactly what it did before scale existed (x · 1 = x). */
export function logprobForward(logp: F, lse: F, logits: F, targets: Int32Array, N: number, V: number, scale = 1): void {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (scale * logits[o + i] > max) max = scale * logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(scale * logits[o + i] - max);
    const l = max + Math.log(sum);
    lse[n] = l;
    const t = targets[n];
    if (t >= V) throw new RangeError(`logprobForward: targets[${n}] = ${t} >= V = ${V}`);
    logp[n] = t < 0 ? 0 : scale * logits[o + t] - l;
  }
}

/** dlogits (N,V) = scale · dlogp[n] · (onehot(t) − softmax(z[n])), z = scale · logits and
 * softmax(z) = exp(z − lse) (the chain rule through z contributes the factor scale). Writes (=);
 * masked rows (target < 0) get 0. */
export function logprobBackward(dlogits: F, dlogp: F, logits: F, lse: F, targets: Int32Array, N: number,
  V: number, scale = 1): void {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    const t = targets[n];
    if (t < 0) {
      for (let i = 0; i < V; i++) dlogits[o + i] = 0;
      continue;
    }
    const g = dlogp[n];
    const l = lse[n];
    for (let i = 0; i < V; i++) dlogits[o + i] = scale * g * ((i === t ? 1 : 0) - Math.exp(scale * logits[o + i] - l));
  }
}
