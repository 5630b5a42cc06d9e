// Supervised fine-tuning (distillation from a task teacher) on the lab's engine: the model's own
// forward/backward, full fine-tuning of every parameter (src/peft/full.ts grouping: no weight decay
// on biases and norms), AdamW with warmup + cosine and global-norm clipping (src/rl/optimizer.ts),
// token-level cross-entropy on solution tokens only. Deterministic from the seed on a given
// backend; state() + the optimizer's moments + the weights resume it exactly.
import type { Model } from '../model/model.ts';
import { defaultPeftConfig } from '../peft/registry.ts';
import { full } from '../peft/full.ts';
import type { PeftInstance } from '../peft/types.ts';
import { AdamW } from '../rl/optimizer.ts';
import { evaluate, type EvalRecord } from '../rl/trainer.ts';
import type { CharTokenizer, RngState, Task } from '../tasks/index.ts';
import { sftLearningRate, type SftConfig } from './config.ts';
import { crossEntropy, crossEntropyGrad, heldOutBatches, TeacherStream, type SftBatch } from './data.ts';

export interface SftStepMetrics {
  step: number;
  /** Mean cross-entropy (nats/token) of this step's batch, before the update. */
  loss: number;
  /** Unmasked (solution) tokens in the batch, and the batch's padded shape. */
  tokens: number;
  B: number;
  T: number;
  grad_norm: number;
  lr: number;
  time_s: number;
  tokens_per_s: number;
}

/** Everything a checkpoint needs besides the weights and the optimizer's moments. */
export interface SftTrainerState {
  step: number;
  data: RngState;
}

const now = () => globalThis.performance.now() / 1000;

export class SftTrainer {
  step = 0;
  private readonly data: TeacherStream;
  private heldOut: SftBatch[] | null = null;

  private constructor(
    readonly model: Model, readonly peft: PeftInstance, readonly opt: AdamW,
    readonly task: Task, readonly tok: CharTokenizer, readonly cfg: SftConfig,
  ) {
    this.data = new TeacherStream(task, tok, cfg.difficulty, cfg.seed);
  }

  /** Every parameter of `model` becomes trainable. */
  static async create(model: Model, task: Task, tok: CharTokenizer, cfg: SftConfig): Promise<SftTrainer> {
    const peft = await full.attach(model, defaultPeftConfig('full'));
    const opt = new AdamW(model.backend, peft.params, {
      beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay, maxGradNorm: cfg.maxGradNorm,
    });
    return new SftTrainer(model, peft, opt, task, tok, cfg);
  }

  state(): SftTrainerState {
    return { step: this.step, data: this.data.getState() };
  }

  restore(s: SftTrainerState): void {
    this.step = s.step;
    this.data.setState(s.data);
  }

  /** One optimizer step on `batch` (by default the next batch of the teacher stream). */
  async trainStep(batch: SftBatch = this.data.next(this.cfg.batchSize)): Promise<SftStepMetrics> {
    const t0 = now();
    this.peft.zeroGrads();
    const { logp } = this.model.forward(batch.ids, batch.targets, batch.B, batch.T);
    const loss = crossEntropy(batch, await this.model.backend.read(logp));
    this.model.backward(crossEntropyGrad(batch));
    const lr = sftLearningRate(this.cfg, this.step, this.cfg.steps);
    this.opt.update(lr);
    const gradNorm = await this.opt.lastGradNorm();
    this.step++;
    const dt = now() - t0;
    return { step: this.step, loss, tokens: batch.tokens, B: batch.B, T: batch.T, grad_norm: gradNorm, lr, time_s: dt, tokens_per_s: (batch.B * batch.T) / Math.max(1e-9, dt) };
  }

  /** Mean token cross-entropy on a batch, without touching gradients or weights. */
  async loss(batch: SftBatch): Promise<number> {
    return crossEntropy(batch, await this.model.backend.read(this.model.forward(batch.ids, batch.targets, batch.B, batch.T).logp));
  }

  /** Token cross-entropy on the teacher's solutions to held-out problems (never trained on). */
  async heldOutLoss(): Promise<number> {
    this.heldOut ??= heldOutBatches(this.task, this.tok, this.cfg.difficulty, this.cfg.lossProblems, this.cfg.batchSize);
    let s = 0, n = 0;
    for (const b of this.heldOut) {
      s += (await this.loss(b)) * b.tokens;
      n += b.tokens;
    }
    return s / Math.max(1, n);
  }

  /** avg@k and pass@k on each held-out set (the RL evaluator: same prompts, seeds and sampling). */
  async evaluate(problems = this.cfg.evalProblems, k = this.cfg.evalK): Promise<EvalRecord[]> {
    const c = this.cfg;
    return evaluate(this.model, this.tok, this.task, { evalProblems: problems, evalK: k, temperature: c.temperature, topP: c.topP, maxNewTokens: c.maxNewTokens }, this.step);
  }

  /** The current weights under their HF names. */
  async weights(): Promise<Map<string, Float32Array>> {
    return this.peft.merged();
  }
}
