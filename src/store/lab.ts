// The lab page's state: what the GPU check found and the state of the engine check.
// Components select single fields; the actions below are plain module functions (no hooks) so
// any part of the app, or a test, can call them.
// The page opens no GPU device: the training worker owns the only one, describes it for the GPU
// card and runs the engine check on it. The page itself only looks for WebGPU and an adapter, so it
// can say at once, without the worker, when there is neither.
import { create } from 'zustand';
import { NO_WEBGPU_HELP } from '../engine/webgpu/device.ts';
import type { ParityRow } from '../testpage/checks.ts';
import type { GpuReport } from '../worker/gpu.ts';
import { labClient, onWorkerEvent } from './worker.ts';

export type GpuState = { status: 'checking' } | GpuReport;

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

let detecting: Promise<void> | null = null;

onWorkerEvent((e) => {
  if (e.type === 'gpuLost') {
    detecting = null; // Try again opens a new device
    useLab.setState({ gpu: { status: 'unavailable', kind: 'device-lost', message: e.message } });
  } else if (e.type === 'check' && useLab.getState().check.status === 'running') {
    useLab.setState({ check: { status: 'running', ...e.progress } });
  }
});

/** WebGPU and an adapter in this page, or why not (the same answers as createGpu's). */
async function pageAdapter(): Promise<GpuReport | null> {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { status: 'unavailable', kind: 'no-webgpu', message: NO_WEBGPU_HELP };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { status: 'unavailable', kind: 'no-adapter', message: `requestAdapter failed: ${String(e)}` };
  }
  if (!adapter) {
    return {
      status: 'unavailable', kind: 'no-adapter',
      message: 'WebGPU is present but no GPU adapter was found (blocklisted driver, or no GPU). In Chrome check chrome://gpu; otherwise switch to the CPU backend.',
    };
  }
  return null;
}

/** Find the WebGPU device once (later calls share the first): the worker opens and describes it. */
export function detectGpu(): Promise<void> {
  detecting ??= (async () => {
    useLab.setState({ gpu: { status: 'checking' } });
    let gpu: GpuReport;
    try {
      gpu = (await pageAdapter()) ?? (await labClient().request({ type: 'gpu' }));
    } catch (e) {
      gpu = { status: 'unavailable', kind: 'exception', message: String(e) };
    }
    if (gpu.status === 'unavailable') detecting = null; // allow a retry
    useLab.setState({ gpu });
  })();
  return detecting;
}

/** Run the model parity checks on the worker's WebGPU device and keep the rows in the store. */
export async function runEngineCheck(): Promise<void> {
  if (useLab.getState().check.status === 'running') return;
  useLab.setState({ check: { status: 'running', model: null, index: 0, total: 0, rows: [] } });
  const t0 = performance.now();
  try {
    await detectGpu();
    if (useLab.getState().gpu.status !== 'ready') throw new Error('no WebGPU device (see the GPU section above)');
    const rows = await labClient().request({ type: 'checkEngine' });
    useLab.setState({ check: { status: 'done', rows, seconds: (performance.now() - t0) / 1000 } });
  } catch (e) {
    const prev = useLab.getState().check;
    useLab.setState({ check: { status: 'failed', message: e instanceof Error ? e.message : String(e), rows: 'rows' in prev ? prev.rows : [] } });
  }
}
