// The lab page's state: what the GPU check found and the state of the engine check.
// Components select single fields; the actions below are plain module functions (no hooks) so
// any part of the app, or a test, can call them.
// The GPU device lives in this module, outside React state: it is a handle, not data to render.
import { create } from 'zustand';
import { createGpu, describeGpu, GpuError, type GpuErrorKind, type GpuHandle, type GpuInfo } from '../engine/webgpu/device.ts';
import type { Backend } from '../engine/backend.ts';
import type { ParityRow } from '../testpage/checks.ts';

export type GpuState =
  | { status: 'checking' }
  | { status: 'ready'; description: string; /** A software rasteriser (SwiftShader, llvmpipe, lavapipe), not a GPU. */ software: boolean }
  | { status: 'unavailable'; kind: GpuErrorKind | 'exception'; message: string };

export type CheckState =
  | { status: 'idle' }
  | { status: 'running'; model: string | null; index: number; total: number; rows: ParityRow[] }
  | { status: 'done'; rows: ParityRow[]; seconds: number }
  | { status: 'failed'; message: string; rows: ParityRow[] };

export interface LabState {
  gpu: GpuState;
  check: CheckState;
}

export const useLab = create<LabState>()(() => ({
  gpu: { status: 'checking' },
  check: { status: 'idle' },
}));

/** Whether the adapter is a software rasteriser rather than a GPU. The same test as the CLI's
 * `--backend auto` (src/cli/backends.ts, which cannot be imported here: it pulls in Node's WebGPU);
 * src/store/backend.test.ts checks that the two agree. On such an adapter the CPU backend is much
 * faster for the lab's small models (docs/PERFORMANCE.md). */
export function isSoftwareAdapter(info: Pick<GpuInfo, 'vendor' | 'architecture' | 'device' | 'description'>): boolean {
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

let handle: GpuHandle | null = null;
let backend: { device: GPUDevice; backend: Backend } | null = null;
let detecting: Promise<void> | null = null;

/** Find the WebGPU adapter once (later calls share the first). */
export function detectGpu(): Promise<void> {
  detecting ??= (async () => {
    useLab.setState({ gpu: { status: 'checking' } });
    try {
      handle = await createGpu();
      useLab.setState({ gpu: { status: 'ready', description: describeGpu(handle.info), software: isSoftwareAdapter(handle.info) } });
      void handle.device.lost.then((info) => {
        handle = null;
        detecting = null;
        useLab.setState({ gpu: { status: 'unavailable', kind: 'device-lost', message: `The GPU device was lost (${info.reason || 'unknown reason'}). ${info.message}` } });
      });
    } catch (e) {
      handle = null;
      detecting = null; // allow a retry
      useLab.setState({
        gpu: e instanceof GpuError
          ? { status: 'unavailable', kind: e.kind, message: e.message }
          : { status: 'unavailable', kind: 'exception', message: String(e) },
      });
    }
  })();
  return detecting;
}

/** Run the model parity checks on the WebGPU backend and keep the rows in the store. */
export async function runEngineCheck(): Promise<void> {
  if (useLab.getState().check.status === 'running') return;
  useLab.setState({ check: { status: 'running', model: null, index: 0, total: 0, rows: [] } });
  const t0 = performance.now();
  try {
    await detectGpu();
    if (!handle) throw new Error('no WebGPU device (see the GPU section above)');
    // Loaded on demand: the engine and its shaders are not needed to show the page.
    const [{ WebGpuBackend }, { shaders }, { runModelChecks }] = await Promise.all([
      import('../engine/webgpu/backend.ts'),
      import('../engine/webgpu/shaders.vite.ts'),
      import('../testpage/checks.ts'),
    ]);
    // One backend per device, so a second run reuses the compiled pipelines.
    if (backend?.device !== handle.device) backend = { device: handle.device, backend: new WebGpuBackend(handle, shaders) };
    const rows = await runModelChecks(backend.backend, (p) => useLab.setState({ check: { status: 'running', ...p } }));
    useLab.setState({ check: { status: 'done', rows, seconds: (performance.now() - t0) / 1000 } });
  } catch (e) {
    const prev = useLab.getState().check;
    useLab.setState({ check: { status: 'failed', message: e instanceof Error ? e.message : String(e), rows: 'rows' in prev ? prev.rows : [] } });
  }
}
