// The GPU as the page sees it, answered by the worker (the one place that opens a WebGPU device):
// what the worker's device runs on, for the "Your GPU" card and the backend choice, and the engine
// check ("Check engine": the model parity check of src/testpage/checks.ts) on that device.
import type { Backend } from '../engine/backend.ts';
import { describeGpu, GpuError, type GpuErrorKind, type GpuHandle, type GpuInfo } from '../engine/webgpu/device.ts';
import type { CheckProgress, ParityRow } from '../testpage/checks.ts';

export type GpuReport =
  | { status: 'ready'; description: string; /** A software rasteriser (SwiftShader, llvmpipe, lavapipe), not a GPU. */ software: boolean }
  | { status: 'unavailable'; kind: GpuErrorKind | 'exception'; message: string };

/** Whether the adapter is a software rasteriser rather than a GPU. The same test as the CLI's
 * `--backend auto` (src/cli/backends.ts, which cannot be imported here: it pulls in Node's WebGPU);
 * src/store/backend.test.ts checks that the two agree. On such an adapter the CPU backend is much
 * faster for the lab's small models (docs/PERFORMANCE.md). */
export function isSoftwareAdapter(info: Pick<GpuInfo, 'vendor' | 'architecture' | 'device' | 'description'>): boolean {
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** The device `open` gives (the worker's), described; every way of not getting one becomes a report. */
export async function gpuReport(open: () => Promise<GpuHandle>): Promise<GpuReport> {
  try {
    const handle = await open();
    return { status: 'ready', description: describeGpu(handle.info), software: isSoftwareAdapter(handle.info) };
  } catch (e) {
    return e instanceof GpuError ? { status: 'unavailable', kind: e.kind, message: e.message } : { status: 'unavailable', kind: 'exception', message: String(e) };
  }
}

let checker: { device: GPUDevice; backend: Backend } | null = null;

/** Run the model parity checks on WebGPU on `handle`'s device, reporting rows as each model finishes. */
export async function checkEngine(handle: GpuHandle, onProgress: (p: CheckProgress) => void): Promise<ParityRow[]> {
  // Loaded on demand: the check and its fixtures are not needed to train.
  const [{ WebGpuBackend }, { shaders }, { runModelChecks }] = await Promise.all([
    import('../engine/webgpu/backend.ts'),
    import('../engine/webgpu/shaders.vite.ts'),
    import('../testpage/checks.ts'),
  ]);
  // A backend of its own, so the check never shares scratch buffers with a run in progress; one per
  // device, so a second check reuses the compiled pipelines.
  if (checker?.device !== handle.device) checker = { device: handle.device, backend: new WebGpuBackend(handle, shaders) };
  return runModelChecks(checker.backend, onProgress);
}
