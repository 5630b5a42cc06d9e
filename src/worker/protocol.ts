// The message protocol between the page (main thread) and the training worker, which owns the GPU,
// the model and the Trainer. Every message is discriminated by `type`:
//   page → worker   RequestMessage: a Request (one of RequestMap's bodies) with an `id`; the worker
//                   answers every one with exactly one Reply (ok with the value RequestMap names for
//                   that type, or an error message), so every request resolves or rejects.
//   worker → page   Reply, or an unsolicited WorkerEvent (status, step metrics, evals, groups, …).
// The worker's Handlers are keyed by request type and must return that type's reply (a wrong reply
// does not compile), and the page's LabClient.request infers the reply type from the body's `type`.
import type { ModelConfig } from '../model/config.ts';
import type { ModelSource } from '../model/source.ts';
import type { SpectralRecord } from '../peft/spectral.ts';
import type { CheckpointMeta } from '../rl/checkpoint.ts';
import type { RLConfig } from '../rl/config.ts';
import type { EvalRecord, StepMetrics } from '../rl/trainer.ts';
import type { CheckProgress, ParityRow } from '../testpage/checks.ts';
import type { GpuReport } from './gpu.ts';

/** What the page may know about a checkpoint's model.safetensors before downloading it (from the
 * model catalogue); the worker checks the download against it. */
export interface ModelExpect {
  bytes?: number;
  sha256?: string;
}

/** A checkpoint the worker has downloaded, checked and keeps for the session. */
export interface CheckpointSummary {
  base: string;
  cfg: ModelConfig;
  parameters: number;
  /** Size of model.safetensors. */
  bytes: number;
  /** Whether its SHA-256 was checked against the catalogue's. */
  sha256Checked: boolean;
}

/** The compute backend the visitor chose: WebGPU, or the (slow) CPU backend when WebGPU is missing. */
export type BackendChoice = 'webgpu' | 'cpu';

/** A checkpoint in transit: the trainable tensors + optimizer moments (safetensors) and the JSON header. */
export interface CheckpointData {
  tensors: Uint8Array;
  meta: CheckpointMeta;
}

/** What rebuilding a finished run needs: its config, base model and last checkpoint. */
export interface StoredRun {
  config: RLConfig;
  model: ModelSource;
  checkpoint: CheckpointData;
}

export interface StartRequest {
  type: 'start';
  runId: string;
  config: RLConfig;
  model: ModelSource;
  backend: BackendChoice;
  /** Continue from this checkpoint instead of step 0 (after a device loss or a reload). */
  resumeFrom?: CheckpointData;
}

/** Each request type and the value its reply carries. */
export interface RequestMap {
  start: { req: StartRequest; res: RunInfo };
  /** Download and check a checkpoint folder (progress arrives as 'download' events), or reuse this session's copy. */
  loadModel: { req: { type: 'loadModel'; base: string; expect?: ModelExpect }; res: CheckpointSummary };
  pause: { req: { type: 'pause' }; res: { step: number } };
  resume: { req: { type: 'resume' }; res: { step: number } };
  stop: { req: { type: 'stop' }; res: { step: number } };
  /** Free the model and trainer (Reset): the next start begins at step 0. */
  dispose: { req: { type: 'dispose' }; res: null };
  checkpoint: { req: { type: 'checkpoint' }; res: CheckpointData };
  /** The trained adapter of the live run `runId`, or of a stored run rebuilt from its checkpoint. */
  exportAdapter: { req: { type: 'exportAdapter'; runId: string; /** The run's base model (names it in adapter_config.json). */ model?: ModelSource; stored?: StoredRun }; res: AdapterExport };
  /** Test aid: destroy the GPU device as a driver reset would (device loss handling). */
  loseDevice: { req: { type: 'loseDevice' }; res: null };
  /** Open the worker's WebGPU device (or reuse it) and say what it runs on, or why there is none. */
  gpu: { req: { type: 'gpu' }; res: GpuReport };
  /** The engine check on the worker's WebGPU device: model parity against HF's tensors (progress
   * arrives as 'check' events). */
  checkEngine: { req: { type: 'checkEngine' }; res: ParityRow[] };
}

export type RequestType = keyof RequestMap;
/** A request of type K, as the page writes it. */
export type RequestOf<K extends RequestType> = RequestMap[K]['req'] & { type: K };
/** Any request, as the page writes it. */
export type Request = { [K in RequestType]: RequestOf<K> }[RequestType];
/** The value the reply to a request of type K carries. */
export type ReplyOf<K extends RequestType> = RequestMap[K]['res'];
/** A request as it travels: its body and the id its reply answers. */
export type RequestMessage = Request & { id: number };

/** The worker's side of the protocol: one handler per request type, returning that type's reply. */
export type Handlers = { [K in RequestType]: (req: RequestOf<K>) => ReplyOf<K> | Promise<ReplyOf<K>> };

/** Run the handler of `req`'s type. */
export function dispatch<K extends RequestType>(handlers: Handlers, req: RequestOf<K>): ReplyOf<K> | Promise<ReplyOf<K>> {
  const handler: Handlers[K] | undefined = handlers[req.type];
  if (typeof handler !== 'function') throw new Error(`unexpected message ${JSON.stringify(req)}`);
  return handler(req);
}

export type Reply =
  | { type: 'reply'; id: number; ok: true; value: ReplyOf<RequestType> }
  | { type: 'reply'; id: number; ok: false; error: string };

export interface RunInfo {
  runId: string;
  /** What the backend runs on, in words. */
  device: string;
  backend: BackendChoice;
  trainableParams: number;
  totalParams: number;
  /** Which policy the KL term compares against, in words. */
  reference: string;
  /** The step the run continues from (0 for a new run). */
  step: number;
}

export interface AdapterExport {
  /** File name → contents, as PEFT's save_pretrained writes them. */
  files: Record<string, Uint8Array | string>;
  format: 'peft' | 'safetensors';
}

/** One completion of a group, as the inspector shows it. */
export interface SampleView {
  completion: string;
  /** Per generated token: its text and log-prob under the sampler. */
  tokens: { text: string; logp: number }[];
  extracted: string | null;
  reward: number;
  advantage: number;
  correct: boolean;
  malformed: boolean;
}

export interface GroupView {
  prompt: string;
  answer: string;
  samples: SampleView[];
  /** Every reward equal: Â = 0 for all, the group teaches nothing (dropped under dynamic sampling). */
  zeroVariance: boolean;
}

export type RunState = 'loading' | 'running' | 'paused' | 'stopped' | 'done' | 'failed' | 'lost';

export type WorkerEvent =
  | { type: 'status'; runId: string; state: RunState; step: number; message?: string }
  | { type: 'step'; runId: string; metrics: StepMetrics; gpuBytes: number | null }
  | { type: 'eval'; runId: string; records: EvalRecord[]; seconds: number }
  | { type: 'groups'; runId: string; step: number; groups: GroupView[] }
  /** Every SPECTRAL_EVERY steps and at the end: where the update lies against W_0's singular directions. */
  | { type: 'spectral'; runId: string; record: SpectralRecord }
  | { type: 'checkpoint'; runId: string; step: number; checkpoint: CheckpointData }
  /** Sampling progress between decode chunks: the rollout of step `step + 1` (decode steps done of the
   * most), or the held-out evaluation at step `step` (problems done, a chunk counted in proportion, of all). */
  | { type: 'progress'; runId: string; phase: 'rollout' | 'eval'; step: number; done: number; total: number }
  /** Bytes of a checkpoint file received so far (`total` null when neither the server nor the catalogue says). */
  | { type: 'download'; base: string; file: string; received: number; total: number | null }
  /** The engine check's progress: the model being checked and every row so far. */
  | { type: 'check'; progress: CheckProgress }
  /** The worker's GPU device was lost (not by the loseDevice test aid): the page's GPU card says so. */
  | { type: 'gpuLost'; message: string };

/** The worker posts a spectral record (src/peft/spectral.ts) every this many steps, and at the end. */
export const SPECTRAL_EVERY = 5;

export type WorkerMessage = Reply | { type: 'event'; event: WorkerEvent };

/** For exhaustive switches: a compile error when a case is missing. */
export function unreachable(x: never): never {
  throw new Error(`unexpected message ${JSON.stringify(x)}`);
}
