// Bench presets. `full` is what a real GPU should run (the lab's real shapes: 128 sequences × 88
// tokens, the study's 16 prompts × 8 samples × 64 new tokens); `quick` shrinks every shape so the
// whole suite finishes in minutes on a CPU rasteriser (SwiftShader, lavapipe); `smoke` is the
// smallest configuration of `quick`, for the unit test.
import type { MethodId } from '../peft/types.ts';
import type { SectionId } from './report.ts';
import type { TimeOptions } from './timing.ts';

export type Preset = 'full' | 'quick' | 'smoke';
export type ModelSize = 'tiny' | 'small' | 'base';

export interface AdapterShape {
  label: string;
  C: number;
  OC: number;
}

export interface BenchConfig {
  preset: Preset;
  sections: SectionId[];
  /** Kernel timings (matmul, adapter). */
  time: TimeOptions;
  /** End-to-end timings (step, rollout, decode): warm-up and timed runs. */
  wall: { warmup: number; reps: number };
  /** The character tokenizer's vocabulary and the model's position limit. */
  vocab: number;
  maxPositions: number;
  matmul: {
    models: ModelSize[];
    /** Rows = sequences × tokens. */
    sequences: number;
    tokens: number;
    /** Only these projection labels (empty: all of each model's). */
    only: string[];
    squares: number[];
    naive: boolean;
    tfjs: boolean;
  };
  adapter: { rows: number; shapes: AdapterShape[]; ranks: number[] };
  step: { model: ModelSize; method: MethodId; rank: number; prompts: number; group: number; promptLen: number; newTokens: number };
  decode: { batch: number; promptLen: number; positions: number[] };
  memory: { model: ModelSize; methods: MethodId[] | 'all'; sequences: number; promptLen: number; newTokens: number };
}

const ALL: SectionId[] = ['matmul', 'adapter', 'step', 'decode', 'memory'];

export function presetConfig(preset: Preset): BenchConfig {
  const common = { vocab: 99, maxPositions: 256 };
  switch (preset) {
    case 'full':
      return {
        preset, sections: ALL, ...common,
        time: { warmup: 2, reps: 5, targetMs: 100, maxIters: 4000 },
        wall: { warmup: 1, reps: 5 },
        matmul: { models: ['small', 'base'], sequences: 128, tokens: 88, only: [], squares: [256, 512, 1024, 2048, 4096], naive: true, tfjs: true },
        adapter: {
          rows: 128 * 88,
          shapes: [{ label: 'small up_proj', C: 128, OC: 384 }, { label: 'base up_proj', C: 256, OC: 768 }],
          ranks: [1, 4, 8, 16, 32, 64],
        },
        step: { model: 'small', method: 'lora', rank: 16, prompts: 16, group: 8, promptLen: 24, newTokens: 64 },
        decode: { batch: 128, promptLen: 8, positions: [16, 32, 64, 128] },
        memory: { model: 'small', methods: 'all', sequences: 128, promptLen: 24, newTokens: 64 },
      };
    case 'quick':
      return {
        preset, sections: ALL, ...common,
        time: { warmup: 1, reps: 3, targetMs: 0, maxIters: 1 },
        wall: { warmup: 1, reps: 3 },
        matmul: { models: ['small'], sequences: 4, tokens: 88, only: [], squares: [128, 256], naive: true, tfjs: true },
        adapter: { rows: 4 * 88, shapes: [{ label: 'small up_proj', C: 128, OC: 384 }], ranks: [1, 4, 8, 16, 32, 64] },
        step: { model: 'small', method: 'lora', rank: 16, prompts: 2, group: 2, promptLen: 8, newTokens: 8 },
        decode: { batch: 4, promptLen: 4, positions: [8, 16, 32] },
        memory: { model: 'small', methods: 'all', sequences: 4, promptLen: 8, newTokens: 4 },
      };
    case 'smoke':
      return {
        preset, sections: ALL, ...common,
        time: { warmup: 1, reps: 5, targetMs: 0, maxIters: 1 },
        wall: { warmup: 1, reps: 2 },
        // down_proj (K = 384): the model shape where tiling pays off even on SwiftShader (docs/PERFORMANCE.md).
        matmul: { models: ['small'], sequences: 1, tokens: 88, only: ['down_proj'], squares: [], naive: true, tfjs: true },
        adapter: { rows: 88, shapes: [{ label: 'small up_proj', C: 128, OC: 384 }], ranks: [16] },
        step: { model: 'small', method: 'lora', rank: 16, prompts: 1, group: 2, promptLen: 4, newTokens: 4 },
        decode: { batch: 2, promptLen: 4, positions: [6, 10] },
        memory: { model: 'small', methods: ['lora', 'full'], sequences: 2, promptLen: 4, newTokens: 2 },
      };
  }
}
