// What tests.html publishes on window.__results (read by e2e/engine.spec.ts). Types only.
import type { ParityRow } from '../model/parity.ts';

export interface TestPageResults {
  /** False while the checks run; true once the results below are final. */
  done: boolean;
  /** True only when an adapter was found, rows exist and every row is ok. */
  ok: boolean;
  /** describeGpu() of the adapter, or null when there is none. */
  adapter: string | null;
  /** Why the run could not happen (no WebGPU, no adapter, a crash), or null. */
  error: string | null;
  /** GpuError kind ('no-webgpu', 'no-adapter', ...) or 'exception', or null. */
  errorKind: string | null;
  /** The fixtures checked, in order. */
  fixtures: string[];
  rows: ParityRow[];
  seconds: number;
}

declare global {
  interface Window {
    __results?: TestPageResults;
  }
}
