// The shape of a bench run's JSON (BENCH_SCHEMA). Every row names the GPU adapter it was measured
// on (`gpu`, the short name; the report's `gpu` holds its limits and features) so a row copied out
// of the file still says where it came from. Times are ms; every Timing keeps each run's time.
import type { GpuInfo } from '../engine/webgpu/device.ts';
import type { OpProfile } from './profile.ts';
import type { Timing } from './timing.ts';

export const BENCH_SCHEMA = 'rlvr-lab-bench/1';

export type SectionId = 'matmul' | 'adapter' | 'step' | 'decode' | 'memory';
export const SECTION_IDS: readonly SectionId[] = ['matmul', 'adapter', 'step', 'decode', 'memory'];

export interface MachineInfo {
  os: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number | null;
  /** Browser runs: the user agent. */
  userAgent?: string;
}

export interface RuntimeInfo {
  /** node-dawn, deno-wgpu or browser. */
  kind: 'node-dawn' | 'deno-wgpu' | 'browser';
  /** e.g. "Node v20.20.2, Dawn (npm webgpu 0.6.2)". */
  description: string;
}

export interface GpuReport extends GpuInfo {
  /** Short adapter name (vendor / architecture / device / description). */
  name: string;
  /** describeGpu(): name, key limits and features in one line. */
  summary: string;
}

export interface Throughput {
  timing: Timing;
  gflops: number;
}

export interface MatmulRow {
  gpu: string;
  /** "small gate_proj/up_proj", "square 1024", ... */
  label: string;
  kind: 'model' | 'square';
  /** out (M,N) = a (M,K) · bᵀ. */
  M: number;
  K: number;
  N: number;
  gflop: number;
  ours: Throughput;
  naive: Throughput | null;
  tfjs: Throughput | null;
  /** GFLOP/s ours / naive and ours / tfjs (> 1: ours faster). */
  oursOverNaive: number | null;
  oursOverTfjs: number | null;
  /** max |x − ours| / max |ours| on the same inputs. */
  naiveRelErr: number | null;
  tfjsRelErr: number | null;
}

export interface AdapterRow {
  gpu: string;
  label: string;
  /** N rows, C in, OC out, rank r. */
  N: number;
  C: number;
  OC: number;
  r: number;
  /** Dense layer: x·Wᵀ; backward dx = dout·W and dW += doutᵀ·x. */
  denseFwd: Throughput;
  denseBwd: Throughput;
  /** Low-rank path: xa = x·Aᵀ, out += s·xa·Bᵀ; backward dB, dxa, dA, dx +=. */
  adapterFwd: Throughput;
  adapterBwd: Throughput;
  /** Time of the low-rank path over the dense matmul it replaces (< 1: cheaper). */
  fwdRatio: number;
  bwdRatio: number;
}

export interface StepResult {
  gpu: string;
  model: string;
  params: number;
  /** The PEFT method used (lora, or full when PEFT could not attach) and why it fell back. */
  method: string;
  rank: number | null;
  fallback: string | null;
  trainableParams: number;
  prompts: number;
  group: number;
  promptLen: number;
  newTokens: number;
  /** Training rows = prompts × group sequences of promptLen + newTokens tokens. */
  sequences: number;
  seqLen: number;
  /** The whole step as the trainer runs it: forward, read log-probs, loss, backward, AdamW, read grad norm. */
  step: Timing;
  /** The same step with a sync after each phase, split by phase. `…Encode`: the synchronous call
   * alone (CPU time to encode the phase's dispatches); the rest of the phase is the GPU catching up. */
  phases: {
    forward: Timing; forwardEncode: Timing; loss: Timing; backward: Timing; backwardEncode: Timing; optimizer: Timing; optimizerEncode: Timing;
  };
  /** GPU time by op for one step and one rollout (profile.ts: each op submitted alone). */
  profile: { step: OpProfile[]; rollout: OpProfile[] };
  dispatchesPerStep: number;
  /** Buffer-to-buffer copies (`Backend.copy`) per step: each ends the compute pass. */
  copiesPerStep: number;
  /** CPU time in the step's synchronous calls (the three phases') per dispatch, µs. */
  encodeUsPerDispatch: number;
  /** Fixed costs on this runtime: CPU µs to encode one trivial dispatch (a Timing whose values are µs), and ms for one submission's
   * round trip (submit → onSubmittedWorkDone) — the floor under every dispatch and every readback. */
  overhead: { encodeUs: Timing; roundTripMs: Timing };
  submissionsPerStep: number;
  /** Bind groups created during the (last timed) step: 0 once every (pipeline, buffers) pair has one. */
  bindGroupsPerStep: number;
  /** CPU µs spent inside dispatch encoding during the step (GpuContext.encodeMs). */
  encodeUsPerStep: number;
  trainTokensPerS: number;
  /** The rollout as the trainer samples (adapters merged into the weights). */
  rollout: {
    timing: Timing;
    dispatches: number;
    copies: number;
    submissions: number;
    bindGroups: number;
    /** CPU µs of dispatch encoding per decode step (one token for every row). */
    encodeUsPerToken: number;
    /** Generated tokens per second (sequences × newTokens / time). */
    tokensPerS: number;
  };
}

export interface DecodeRow {
  gpu: string;
  batch: number;
  promptLen: number;
  /** Positions at the end of generation (promptLen + newTokens). */
  positions: number;
  newTokens: number;
  generate: Timing;
  /** generate time / newTokens. */
  msPerToken: number;
  /** Extra time per extra token against the previous (shorter) row: the cost of the tokens at positions
   * previous.positions .. positions. null on the first row. */
  marginalMsPerToken: number | null;
  /** A full forward over (batch, positions): what every decode step would cost without a KV cache. */
  noCacheForward: Timing;
}

export interface MemoryRow {
  gpu: string;
  method: string;
  model: string;
  trainableParams: number | null;
  /** Bytes of GPU buffers, each measured as the growth over the state before the model was built. */
  weightsBytes: number | null;
  adapterBytes: number | null;
  optimizerBytes: number | null;
  /** Peak during one training step (forward, backward, AdamW) and during the rollout after it (the
   * step's activations still allocated, as in every rollout after the first). */
  peakTrainBytes: number | null;
  peakRolloutBytes: number | null;
  peakBytes: number | null;
  rows: number;
  error: string | null;
}

/** Section 4b: the rollout with the adapters as separate matmuls against merged into the weights. */
export interface MergedRolloutRow {
  gpu: string;
  method: string;
  rank: number | null;
  /** Adapters merged into the weights for the rollout. */
  merged: boolean;
  sequences: number;
  promptLen: number;
  newTokens: number;
  dispatchesPerToken: number;
  /** CPU µs of dispatch encoding per decode token (the last timed rollout's, prefill and merge included, over its
   * tokens), and bind groups created per token (0: all reused; from the same two lengths as the dispatches). */
  encodeUsPerToken: number;
  bindGroupsPerToken: number;
  /** The whole rollout (generate), with the merge and its undoing when merged. */
  rollout: Timing;
  /** The merge and its undoing alone (merged rows; null otherwise), and its dispatches. */
  merge: Timing | null;
  mergeDispatches: number;
}

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  createdAt: string;
  preset: string;
  machine: MachineInfo;
  runtime: RuntimeInfo;
  gpu: GpuReport;
  /** The settings the run used (the preset after overrides). */
  settings: unknown;
  sections: SectionId[];
  tfjs: { ok: boolean; version: string | null; note: string | null };
  matmul: MatmulRow[];
  adapter: AdapterRow[];
  step: StepResult | null;
  decode: DecodeRow[];
  /** The rollout with the adapters as separate matmuls and merged into the weights (part of decode). */
  mergedRollout: MergedRolloutRow[];
  memory: MemoryRow[];
  /** Sections that failed, with the error. */
  errors: { section: SectionId; message: string }[];
  notes: string[];
  durationS: number;
}
