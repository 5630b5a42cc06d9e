// One training run inside the worker: the backend, the model, the PEFT instance and the Trainer,
// and the loop that steps it, honouring pause / resume / stop between steps. Everything it learns
// is posted as WorkerEvents; the page keeps the data (so a lost device loses nothing but the
// steps since the last checkpoint, which replay identically: runs are deterministic).
import type { Backend } from '../engine/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { createGpu, describeGpu, GpuError, type GpuHandle } from '../engine/webgpu/device.ts';
import { paramCount } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import { SpectralProbe } from '../peft/spectral.ts';
import { webSpectralThread } from '../peft/spectral-thread.ts';
import type { PeftInstance } from '../peft/types.ts';
import { loadCheckpoint, saveCheckpoint } from '../rl/checkpoint.ts';
import { completeConfig, validateConfig, type RLConfig } from '../rl/config.ts';
import { Trainer, type SamplingProgress } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { groupViews } from './inspector.ts';
import { MemoryTracker } from '../engine/webgpu/memory.ts';
import { CheckpointCache, loadModel } from './model-loader.ts';
import { SPECTRAL_EVERY, type BackendChoice, type CheckpointData, type RunInfo, type RunState, type StartRequest, type WorkerEvent } from './protocol.ts';

/** A checkpoint is posted to the page every this many steps, or after a step that ends this long
 * after the last one (slow steps on a CPU), and on pause, stop and the end. */
export const CHECKPOINT_EVERY = 5;
export const CHECKPOINT_EVERY_MS = 30_000;

export type Post = (e: WorkerEvent, transfer?: Transferable[]) => void;

export interface Gpu {
  handle: GpuHandle;
  backend: Backend;
  bytes: MemoryTracker;
  lost: boolean;
}

export interface Built {
  backend: Backend;
  model: Model;
  refModel: Model | null;
  peft: PeftInstance;
  trainer: Trainer;
  probe: SpectralProbe;
  info: Omit<RunInfo, 'runId' | 'step'>;
}

/** Which policy the KL term compares against, in words. */
export function referenceText(cfg: RLConfig): string {
  if (!(cfg.beta > 0)) return 'none: β = 0, so there is no KL term and no reference forward pass (the study’s setting)';
  if (cfg.peft.method === 'full' || cfg.peft.method === 'ln_tuning') return 'a frozen copy of the initial weights (this method changes the model’s own weights)';
  return 'the base model with the adapter switched off (no extra copy in memory)';
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown between decode chunks when Stop was asked for: the step (or evaluation) under way is dropped. */
class StopRequested extends Error {
  constructor() {
    super('stopped');
  }
}

export class Session {
  private gpu: Gpu | null = null;
  private run: (Built & { runId: string; cfg: RLConfig }) | null = null;
  state: RunState | 'idle' = 'idle';
  private pauseWanted = false;
  private stopWanted = false;
  private paused: (() => void) | null = null;
  private resumed: (() => void) | null = null;
  private stopped: (() => void) | null = null;
  /** Checkpoints downloaded this session (shared by every run, resume and export); progress goes to the page. */
  readonly checkpoints: CheckpointCache;

  constructor(private readonly post: Post) {
    this.checkpoints = new CheckpointCache((base, file, p) => this.post({ type: 'download', base, file, received: p.received, total: p.total }));
  }

  /** The worker's one WebGPU device and backend, opened on first use and again after a loss. */
  async webgpu(): Promise<Gpu> {
    if (this.gpu && !this.gpu.lost) return this.gpu;
    const handle = await createGpu(globalThis.navigator?.gpu);
    const bytes = new MemoryTracker(handle.device);
    const { WebGpuBackend } = await import('../engine/webgpu/backend.ts');
    const { shaders } = await import('../engine/webgpu/shaders.vite.ts');
    const gpu: Gpu = { handle, backend: new WebGpuBackend(handle, shaders), bytes, lost: false };
    void handle.device.lost.then((info) => {
      gpu.lost = true;
      if (info.reason !== 'destroyed') this.post({ type: 'gpuLost', message: `The GPU device was lost (${info.reason || 'unknown reason'}). ${info.message}` });
      if (this.run && this.gpu === gpu && (this.state === 'paused' || this.state === 'stopped' || this.state === 'done')) {
        this.setState('lost', `The GPU device was lost (${info.reason || 'unknown reason'}).`);
      }
    });
    this.gpu = gpu;
    return gpu;
  }

  /** Build the model, adapter and trainer for a config (also used to export a stored run). */
  async build(saved: RLConfig, source: StartRequest['model'], choice: BackendChoice): Promise<Built> {
    const cfg = completeConfig(saved);
    const errors = validateConfig(cfg);
    if (errors.length) throw new Error(`invalid settings: ${errors.join('; ')}`);
    const task = getTask(cfg.task);
    const spec = getMethod(cfg.peft.method);
    let backend: Backend, device: string;
    if (choice === 'webgpu') {
      const gpu = await this.webgpu();
      backend = gpu.backend;
      device = `WebGPU: ${describeGpu(gpu.handle.info).split(';')[0]}`;
    } else {
      const cpu = await SimdCpuBackend.create();
      backend = cpu;
      device = cpu.describe();
    }
    const loaded = await loadModel(source, cfg, this.checkpoints);
    const peftErrors = spec.validate(cfg.peft, loaded.cfg);
    if (peftErrors.length) throw new Error(`invalid ${spec.name} settings: ${peftErrors.join('; ')}`);
    const model = new Model(backend, loaded.cfg, loaded.weights);
    const peft = await spec.attach(model, cfg.peft);
    const refModel = cfg.beta > 0 && (cfg.peft.method === 'full' || cfg.peft.method === 'ln_tuning') ? new Model(backend, loaded.cfg, loaded.weights) : null;
    const trainer = new Trainer(model, peft, task, charTokenizer, cfg, refModel);
    // W_0 for the spectral view (and the method's internals as they start, DoRA's m₀): read before a
    // checkpoint is loaded over the fresh init.
    // Measured in a worker of this worker while training goes on (the loop waits for W_now's read-back).
    const probe = await SpectralProbe.create(peft, loaded.cfg, { thread: webSpectralThread() });
    const trainableParams = peft.params.reduce((a, p) => a + p.tensor.size, 0);
    return { backend, model, refModel, peft, trainer, probe, info: { device, backend: choice, trainableParams, totalParams: paramCount(loaded.cfg), reference: referenceText(cfg) } };
  }

  /** Free a built run's GPU tensors: adapters, models (weights, gradients, activations), optimizer state. */
  static free(b: Built): void {
    b.probe.close();
    try {
      b.peft.detach();
      b.model.free();
      b.refModel?.free();
      b.trainer.opt.free();
    } catch {
      // a lost device has nothing left to free
    }
  }

  private setState(state: RunState, message?: string): void {
    this.state = state;
    if (this.run) this.post({ type: 'status', runId: this.run.runId, state, step: this.run.trainer.step, message });
  }

  get active(): boolean {
    return this.state === 'loading' || this.state === 'running' || this.state === 'paused';
  }

  async start(req: StartRequest): Promise<RunInfo> {
    if (this.active) throw new Error('a run is already in progress: stop it first');
    this.dispose();
    this.state = 'loading';
    this.pauseWanted = this.stopWanted = false;
    this.post({ type: 'status', runId: req.runId, state: 'loading', step: req.resumeFrom?.meta.trainer.step ?? 0 });
    let built: Built;
    try {
      built = await this.build(req.config, req.model, req.backend);
      if (req.resumeFrom) loadCheckpoint(built.trainer, req.resumeFrom.tensors, req.resumeFrom.meta);
    } catch (e) {
      this.state = 'failed';
      this.post({ type: 'status', runId: req.runId, state: 'failed', step: 0, message: errorText(e) });
      this.stopped?.(); // a Stop sent while building still gets its answer
      this.stopped = null;
      throw e;
    }
    this.run = { ...built, runId: req.runId, cfg: req.config };
    this.lastCheckpoint = performance.now();
    built.trainer.onProgress = (p) => this.progress(req.runId, built.trainer.step, p);
    if (this.stopWanted) {
      // Stopped while the model was being built: nothing ran, nothing to keep but the run itself.
      this.setState('stopped');
      this.stopped?.();
      this.stopped = null;
    } else {
      this.setState('running');
      void this.loop(!req.resumeFrom);
    }
    return { runId: req.runId, ...built.info, step: built.trainer.step };
  }

  /** Between decode chunks: tell the page where sampling is, let pause / stop messages in (the CPU
   * backend otherwise holds the worker's event loop for a whole step), and drop the work under way
   * when Stop was asked for, so Stop takes effect within one chunk. */
  private async progress(runId: string, step: number, p: SamplingProgress): Promise<void> {
    this.post({ type: 'progress', runId, phase: p.phase, step, done: p.done, total: p.total });
    await wait(0);
    if (this.stopWanted) throw new StopRequested();
  }

  private async loop(fresh: boolean): Promise<void> {
    const run = this.run;
    if (!run) return;
    const { trainer, cfg, runId } = run;
    this.spectralError = null;
    try {
      if (fresh) await this.evaluate(); // the baseline every accuracy curve starts from
      while (trainer.step < cfg.steps && !this.stopWanted) {
        if (this.pauseWanted) {
          await this.sendCheckpoint();
          this.setState('paused');
          this.paused?.();
          this.paused = null;
          await new Promise<void>((r) => (this.resumed = r));
          if (this.stopWanted) break;
          this.setState('running');
        }
        const before = trainer.state();
        let m;
        try {
          m = await trainer.trainStep();
        } catch (e) {
          if (!(e instanceof StopRequested)) throw e;
          // Stopped while sampling: nothing was updated; the step is dropped and replays identically on resume.
          trainer.restore(before);
          break;
        }
        this.post({ type: 'step', runId, metrics: m, gpuBytes: run.backend.name === 'webgpu' ? (this.gpu?.bytes.live ?? null) : null });
        if (trainer.lastRollout) this.post({ type: 'groups', runId, step: m.step, groups: groupViews(trainer.lastRollout, cfg, charTokenizer) });
        if (m.step % SPECTRAL_EVERY === 0 && m.step < cfg.steps) await this.spectral();
        if (cfg.evalEvery > 0 && m.step % cfg.evalEvery === 0 && m.step < cfg.steps) await this.evaluate();
        if (m.step % CHECKPOINT_EVERY === 0 || performance.now() - this.lastCheckpoint >= CHECKPOINT_EVERY_MS) await this.sendCheckpoint();
        await wait(0); // let pause / stop messages in
      }
      if (trainer.step >= cfg.steps && !this.stopWanted) {
        await this.spectral();
        await this.evaluate();
        await this.sendCheckpoint();
        await this.spectralSettled();
        this.setState('done');
      } else {
        await this.sendCheckpoint();
        await this.spectralSettled();
        this.setState('stopped');
      }
    } catch (e) {
      const lost = this.gpu?.lost || (e instanceof GpuError && e.kind === 'device-lost');
      if (lost && run.backend.name === 'webgpu') {
        this.setState('lost', `The GPU device was lost at step ${trainer.step + 1}: ${errorText(e)}. The run’s data is kept; Resume continues from its last checkpoint.`);
      } else {
        this.setState('failed', errorText(e));
      }
    } finally {
      this.pauseWanted = false;
      this.paused?.();
      this.paused = null;
      this.stopped?.();
      this.stopped = null;
    }
  }

  /** Records measured but not yet posted, in capture order; a failure is kept for the run's end. */
  private spectralPosts: Promise<void> = Promise.resolve();
  private spectralError: unknown = null;

  /** Where the update lies against W_0's singular directions (src/peft/spectral.ts): W_now is read
   * now; the record is posted when the probe's worker has measured it, while training goes on. */
  private async spectral(): Promise<void> {
    const run = this.run;
    if (!run || !run.probe.measures) return;
    const { record } = await run.probe.capture(run.trainer.step);
    this.spectralPosts = this.spectralPosts.then(() => record).then(
      (r) => this.post({ type: 'spectral', runId: run.runId, record: r }),
      (e: unknown) => void (this.spectralError ??= e),
    );
  }

  /** Every captured record posted (before a run reports its end); throws the first failure. */
  private async spectralSettled(): Promise<void> {
    await this.spectralPosts;
    if (this.spectralError) throw this.spectralError;
  }

  private async evaluate(): Promise<void> {
    const run = this.run;
    if (!run) return;
    const t0 = performance.now();
    let records;
    try {
      records = await run.trainer.evaluate();
    } catch (e) {
      if (e instanceof StopRequested) return; // stopped during the evaluation: no record
      throw e;
    }
    this.post({ type: 'eval', runId: run.runId, records, seconds: (performance.now() - t0) / 1000 });
  }

  async checkpoint(): Promise<CheckpointData> {
    if (!this.run) throw new Error('no run to checkpoint');
    const ck = await saveCheckpoint(this.run.trainer);
    return { tensors: ck.tensors, meta: JSON.parse(JSON.stringify(ck.meta)) as CheckpointData['meta'] };
  }

  private lastCheckpoint = 0;

  private async sendCheckpoint(): Promise<void> {
    if (!this.run) return;
    this.lastCheckpoint = performance.now();
    const ck = await this.checkpoint();
    this.post({ type: 'checkpoint', runId: this.run.runId, step: ck.meta.trainer.step, checkpoint: ck }, [ck.tensors.buffer as ArrayBuffer]);
  }

  pause(): Promise<{ step: number }> {
    if (this.state !== 'running' || !this.run) return Promise.reject(new Error(`cannot pause: the run is ${this.state}`));
    const run = this.run;
    this.pauseWanted = true;
    return new Promise((res) => (this.paused = () => res({ step: run.trainer.step })));
  }

  resume(): { step: number } {
    if (this.state !== 'paused' || !this.run) throw new Error(`cannot resume: the run is ${this.state}`);
    this.pauseWanted = false;
    this.resumed?.();
    this.resumed = null;
    return { step: this.run.trainer.step };
  }

  stop(): Promise<{ step: number }> {
    if (this.state === 'loading') {
      this.stopWanted = true;
      return new Promise((res) => (this.stopped = () => res({ step: this.run?.trainer.step ?? 0 })));
    }
    const run = this.run;
    if (!run || !this.active) return Promise.resolve({ step: run?.trainer.step ?? 0 });
    this.stopWanted = true;
    const done = new Promise<{ step: number }>((res) => (this.stopped = () => res({ step: run.trainer.step })));
    this.resumed?.();
    this.resumed = null;
    return done;
  }

  dispose(): void {
    if (this.run) Session.free(this.run);
    this.run = null;
    this.state = 'idle';
  }

  /** The live run's trainer (for the adapter export), if any. */
  get current(): (Built & { runId: string; cfg: RLConfig }) | null {
    return this.run;
  }

  loseDevice(): void {
    if (!this.gpu) throw new Error('no GPU device in use');
    this.gpu.handle.device.destroy();
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
