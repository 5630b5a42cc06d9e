// AdamW over a list of trainable tensors, on the backend: sumSquares writes each tensor's squared
// gradient norm into its slot, then adamw reads every slot and clips by the global norm in-kernel,
// so a step needs no readback. The parameters, gradients and moments are each packed into one
// buffer (Backend.pack), so on the GPU both ops cover every tensor in one dispatch. Per-tensor lr
// multipliers carry LoRA+'s B/A ratio.
import type { Backend, Tensor } from '../engine/backend.ts';
import type { TrainableParam } from '../peft/types.ts';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
}

export class AdamW {
  readonly m: Tensor[];
  readonly v: Tensor[];
  private readonly sq: Tensor;
  /** Optimizer steps taken (bias correction uses step + 1 on the next call). */
  step = 0;

  constructor(private readonly be: Backend, readonly params: TrainableParam[], private readonly s: AdamWSettings) {
    if (params.length === 0) throw new Error('the optimizer has no trainable tensors');
    this.m = params.map((p) => be.alloc(`adam.m:${p.name}`, p.tensor.size));
    this.v = params.map((p) => be.alloc(`adam.v:${p.name}`, p.tensor.size));
    be.pack('adam.params', params.map((p) => p.tensor));
    be.pack('adam.grads', params.map((p) => p.grad));
    be.pack('adam.m', this.m);
    be.pack('adam.v', this.v);
    for (const t of [...this.m, ...this.v]) be.zero(t);
    this.sq = be.alloc('adam.sqnorm', params.length);
  }

  /** One update with learning rate `lr` from the accumulated gradients. */
  update(lr: number): void {
    const { be, params, s } = this;
    be.sumSquares(this.sq, params.map((p) => p.grad));
    this.step++;
    be.adamw(params.map((p, i) => ({
      param: p.tensor, grad: p.grad, m: this.m[i], v: this.v[i], lr: lr * p.lrScale, weightDecay: p.weightDecay ? s.weightDecay : 0,
    })), this.sq, params.length, { beta1: s.beta1, beta2: s.beta2, eps: s.eps, step: this.step, maxNorm: s.maxGradNorm });
  }

  /** The global gradient norm of the last update (before clipping). */
  async lastGradNorm(): Promise<number> {
    const sq = await this.be.read(this.sq);
    return Math.sqrt(sq.reduce((a, b) => a + b, 0));
  }

  /** Moments for a checkpoint. */
  async state(): Promise<{ step: number; m: Float32Array[]; v: Float32Array[] }> {
    return { step: this.step, m: await Promise.all(this.m.map((t) => this.be.read(t))), v: await Promise.all(this.v.map((t) => this.be.read(t))) };
  }

  load(state: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) throw new Error('optimizer state does not match the trainable tensors');
    this.step = state.step;
    state.m.forEach((d, i) => this.be.upload(this.m[i], d));
    state.v.forEach((d, i) => this.be.upload(this.v[i], d));
  }

  free(): void {
    for (const t of [...this.m, ...this.v, this.sq]) this.be.free(t);
  }
}
