// tfjs-backend-webgpu's matMul on the bench's own GPUDevice, for comparison only (a dev
// dependency; nothing in the lab uses it). tfjs is imported lazily so a bench without it still
// runs, and a failure to start is reported in the output rather than ending the run.
//
// Same device, same queue: tfjs's WebGPUBackend takes an existing GPUDevice. Its backend factory
// for "webgpu" (which would request its own adapter) is replaced by one returning that backend;
// its kernels are registered under the name "webgpu", so the name must stay. Under Node, tfjs
// only checks that navigator.gpu exists; Dawn's GPU object is installed there when missing.
// Timing: tfjs batches dispatches in its own command encoder and would submit every 15; the batch
// size is raised so a timed run's iterations are submitted together, at the clock's start.
import { timeGpu, type TimeOptions, type Timing } from './timing.ts';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfWebGpu = typeof import('@tensorflow/tfjs-backend-webgpu');
type TfBackend = InstanceType<TfWebGpu['WebGPUBackend']>;

export interface TfjsMatmul {
  /** tfjs version string. */
  readonly version: string;
  /** Time out (M,N) = a (M,K) · bᵀ, b (N,K): tf.matMul(a, b, false, true), the engine's layout. */
  time(M: number, K: number, N: number, o: TimeOptions): Promise<Timing>;
  /** tfjs's product for the given inputs (to check it agrees with ours). */
  product(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Promise<Float32Array>;
  /** Remove the backend (its buffers are destroyed; the device stays). */
  dispose(): void;
}

/** Make navigator.gpu visible to tfjs's support check (headless runtimes only). */
function exposeGpu(gpu: GPU | undefined): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  if (!gpu) throw new Error('tfjs-backend-webgpu needs navigator.gpu, and this runtime has none');
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
}

export async function createTfjsMatmul(device: GPUDevice, gpu: GPU | undefined): Promise<TfjsMatmul> {
  exposeGpu(gpu);
  const tf: Tf = await import('@tensorflow/tfjs-core');
  const tfw: TfWebGpu = await import('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1 << 20);
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  let backend: TfBackend | null = null;
  tf.registerBackend('webgpu', () => (backend = new tfw.WebGPUBackend(device)), 100);
  if (!(await tf.setBackend('webgpu')) || !backend) throw new Error('tfjs could not start its WebGPU backend on this device');
  const be: TfBackend = backend;
  const finish = async (): Promise<void> => {
    be.ensureCommandEncoderReady();
    be.endComputePassEncoder();
    be.submitQueue();
    await device.queue.onSubmittedWorkDone();
  };
  // tfjs reports its own dispatch count only privately; one matMul is one or two dispatches, and
  // the batch size above keeps a run in one submission whatever the count.
  const clock = { finish, submissions: () => null, dispatches: () => null };
  return {
    version: tf.version_core,
    async product(a, b, M, K, N) {
      const ta = tf.tensor2d(a, [M, K]), tb = tf.tensor2d(b, [N, K]);
      const c = tf.matMul(ta, tb, false, true);
      try {
        return new Float32Array(await c.data<'float32'>());
      } finally {
        for (const t of [ta, tb, c]) t.dispose();
      }
    },
    async time(M, K, N, o) {
      const a = tf.randomUniform([M, K], -1, 1, 'float32', 1);
      const b = tf.randomUniform([N, K], -1, 1, 'float32', 2);
      try {
        return await timeGpu(() => tf.matMul(a, b, false, true).dispose(), clock, o);
      } finally {
        a.dispose();
        b.dispose();
      }
    },
    dispose() {
      tf.disposeVariables();
      tf.removeBackend('webgpu');
    },
  };
}
