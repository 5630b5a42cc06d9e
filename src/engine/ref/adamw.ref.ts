// CPU reference: squared-norm reduction for global-norm clipping, and AdamW as in PyTorch
// (torch.optim.AdamW, decoupled weight decay; clip as torch.nn.utils.clip_grad_norm_).
import type { AdamWParams } from '../backend.ts';

type F = Float32Array | Float64Array;

/** sqnorm[slot] = Σ x² over n entries (=). One slot per parameter group, summed by adamw. */
export function sumSquares(sqnorm: F, slot: number, x: F, n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  sqnorm[slot] = s;
}

/** The gradient multiplier: min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖² = Σ sqnorm[0..normSlots); 1 if maxNorm <= 0. */
export function clipScale(sqnorm: F, normSlots: number, maxNorm: number): number {
  if (maxNorm <= 0) return 1;
  let ss = 0;
  for (let i = 0; i < normSlots; i++) ss += sqnorm[i];
  return Math.min(1, maxNorm / (Math.sqrt(ss) + 1e-6));
}

/** One AdamW step over n entries; param, m, v updated in place, grad read only:
 *   g = grad · clip;  p −= lr·wd·p;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
 *   p −= lr · (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps). */
export function adamw(param: F, grad: F, m: F, v: F, sqnorm: F, normSlots: number, n: number, p: AdamWParams): void {
  if (!(p.step >= 1)) throw new RangeError(`adamw: step must be >= 1 (1-based), got ${p.step}`);
  const scale = clipScale(sqnorm, normSlots, p.maxNorm);
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * scale;
    const mi = p.beta1 * m[i] + (1 - p.beta1) * g;
    const vi = p.beta2 * v[i] + (1 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let w = param[i];
    w -= p.lr * p.weightDecay * w;
    w -= (p.lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + p.eps);
    param[i] = w;
  }
}
