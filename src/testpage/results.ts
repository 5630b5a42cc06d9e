// What tests.html publishes on window.__results (read by e2e/engine.spec.ts). Types only.
import type { ParityRow } from '../model/parity.ts';
import type { TestResult } from './vitest-shim.ts';

export type { ParityRow, TestResult };

/** tests.html?suite=parity | kernels | all (the default). */
export type Suite = 'parity' | 'kernels';

export interface TestPageResults {
  /** False while the checks run; true once the results below are final. */
  done: boolean;
  /** True only when an adapter was found, every suite asked for produced results, and none failed. */
  ok: boolean;
  suites: Suite[];
  /** describeGpu() of the adapter, or null when there is none. */
  adapter: string | null;
  /** Why the run could not happen (no WebGPU, no adapter, a crash), or null. */
  error: string | null;
  /** GpuError kind ('no-webgpu', 'no-adapter', ...) or 'exception', or null. */
  errorKind: string | null;
  /** The fixtures the parity suite checks, in order. */
  fixtures: string[];
  /** Model parity against the HF goldens, one row per tensor (suite "parity"). */
  rows: ParityRow[];
  /** The GPU kernel tests (src/engine/webgpu/**\/*.test.ts) run in this page (suite "kernels"). */
  kernels: TestResult[];
  seconds: number;
}

declare global {
  interface Window {
    __results?: TestPageResults;
  }
}
