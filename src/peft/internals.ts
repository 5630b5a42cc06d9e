// Method internals over time (issue 14, item 2): for the methods whose trainable part has a meaning of
// its own, a few numbers per adapted layer, read from the trainable tensors under their HF PEFT names:
//   AdaLoRA  the layer's rank: how many of its r "singular values" E are nonzero (the allocator masks
//            a triplet by zeroing its E entry, adalora_alloc.ts), and max |E|; with the allocator on,
//            the whole model's scheduled budget at this step (PEFT's budget_schedule). Between two
//            masking steps (every deltaT) PEFT's masked entries grow back, so the count is the
//            allocation only at masking steps (the record steps, with the default deltaT = 5).
//   DoRA     the magnitude vector m against its init m₀ = ‖W₀‖_row: ‖m − m₀‖ / ‖m₀‖ and max |m/m₀ − 1|.
//   VeRA     the scales: mean and max |λ_d| (r, init d_initial) and |λ_b| (out, init 0).
//   IA³      the scale vector l (init 1): mean, min, max and its RMS distance from 1.
// Other methods: none (null). Reading takes the instance's snapshot (its adapter tensors, small
// beside the merged weights the spectral record reads); the summaries are plain loops.
import { budgetSchedule } from './adalora_alloc.ts';
import type { MethodId, PeftConfig, PeftInstance } from './types.ts';

export interface AdaLoraLayer { name: string; rank: number; eMax: number }
export interface DoraLayer { name: string; rel: number; maxDev: number }
export interface VeraLayer { name: string; dMean: number; dMax: number; bMean: number; bMax: number }
export interface Ia3Layer { name: string; mean: number; min: number; max: number; rms1: number }

export type Internals =
  | { method: 'adalora'; r: number; budget: number | null; layers: AdaLoraLayer[] }
  | { method: 'dora'; layers: DoraLayer[] }
  | { method: 'vera'; layers: VeraLayer[] }
  | { method: 'ia3'; layers: Ia3Layer[] };

/** The trainable tensor each method's internals read, by the end of its PEFT name. */
const SUFFIX: Partial<Record<MethodId, RegExp>> = {
  adalora: /\.lora_E\.default$/,
  dora: /\.lora_magnitude_vector\.default\.weight$/,
  vera: /\.vera_lambda_[bd]\.default$/,
  ia3: /\.ia3_l\.default$/,
};

/** `base_model.model.model.layers.0.self_attn.q_proj.lora_E.default` → `model.layers.0.self_attn.q_proj.weight`
 * (the spectral records' layer names). */
export function layerOf(peftName: string): string {
  const base = peftName.replace(/^base_model\.model\./, '').replace(/\.(lora_E|lora_magnitude_vector|vera_lambda_[bd]|ia3_l)\..*$/, '');
  return `${base}.weight`;
}

/** The internals of one state: `values` holds the method's tensors (SUFFIX) by PEFT name, in layer
 * order; `init` their values when the run began (DoRA's m₀); `step` places AdaLoRA's budget. */
export function summarizeInternals(cfg: PeftConfig, values: Map<string, Float32Array>, init: Map<string, Float32Array> | null, step: number): Internals | null {
  const byLayer = new Map<string, Map<string, Float32Array>>();
  for (const [name, v] of values) {
    const layer = layerOf(name);
    if (!byLayer.has(layer)) byLayer.set(layer, new Map());
    byLayer.get(layer)!.set(name, v);
  }
  const one = (m: Map<string, Float32Array>, re: RegExp): [string, Float32Array] => {
    for (const e of m) if (re.test(e[0])) return e;
    throw new Error(`internals: no tensor matching ${re}`);
  };
  const layers = [...byLayer];
  switch (cfg.method) {
    case 'adalora': {
      const out = layers.map(([name, m]) => {
        const [, E] = one(m, SUFFIX.adalora!);
        let rank = 0, eMax = 0;
        for (const e of E) {
          if (e !== 0) rank++;
          eMax = Math.max(eMax, Math.abs(e));
        }
        return { name, rank, eMax };
      });
      const a = cfg.adalora, n = out.length;
      const budget = a.allocate ? budgetSchedule({ ...a, initR: cfg.r }, cfg.r * n, a.targetR * n, step).budget : null;
      return { method: 'adalora', r: cfg.r, budget, layers: out };
    }
    case 'dora':
      return {
        method: 'dora',
        layers: layers.map(([name, m]) => {
          const [key, v] = one(m, SUFFIX.dora!);
          const v0 = init?.get(key);
          if (!v0) throw new Error(`internals: DoRA's initial magnitude of ${key} was not kept`);
          let d2 = 0, n2 = 0, maxDev = 0;
          for (let i = 0; i < v.length; i++) {
            d2 += (v[i] - v0[i]) ** 2;
            n2 += v0[i] ** 2;
            if (v0[i] !== 0) maxDev = Math.max(maxDev, Math.abs(v[i] / v0[i] - 1));
          }
          return { name, rel: n2 > 0 ? Math.sqrt(d2 / n2) : 0, maxDev };
        }),
      };
    case 'vera':
      return {
        method: 'vera',
        layers: layers.map(([name, m]) => {
          const d = absStats(one(m, /\.vera_lambda_d\.default$/)[1]), b = absStats(one(m, /\.vera_lambda_b\.default$/)[1]);
          return { name, dMean: d.mean, dMax: d.max, bMean: b.mean, bMax: b.max };
        }),
      };
    case 'ia3':
      return {
        method: 'ia3',
        layers: layers.map(([name, m]) => {
          const [, l] = one(m, SUFFIX.ia3!);
          let s = 0, min = Infinity, max = -Infinity, d2 = 0;
          for (const x of l) {
            s += x;
            min = Math.min(min, x);
            max = Math.max(max, x);
            d2 += (x - 1) ** 2;
          }
          return { name, mean: s / l.length, min, max, rms1: Math.sqrt(d2 / l.length) };
        }),
      };
    default:
      return null;
  }
}

function absStats(v: Float32Array): { mean: number; max: number } {
  let s = 0, max = 0;
  for (const x of v) {
    s += Math.abs(x);
    max = Math.max(max, Math.abs(x));
  }
  return { mean: v.length ? s / v.length : 0, max };
}

/** Reads a method's internal tensors each record (through the instance's snapshot, under their PEFT
 * names); keeps their values at creation (the init, as the spectral probe keeps W₀: create it before
 * a checkpoint is loaded). */
export class InternalsProbe {
  private constructor(private readonly inst: PeftInstance, private readonly re: RegExp, private readonly init: Map<string, Float32Array>) {}

  /** null for a method without internals. */
  static async create(inst: PeftInstance): Promise<InternalsProbe | null> {
    const re = SUFFIX[inst.config.method];
    if (!re) return null;
    const probe = new InternalsProbe(inst, re, new Map());
    for (const [k, v] of await probe.read()) probe.init.set(k, v);
    return probe;
  }

  private async read(): Promise<Map<string, Float32Array>> {
    return new Map([...await this.inst.snapshot()].filter(([name]) => this.re.test(name)));
  }

  async record(step: number): Promise<Internals> {
    return summarizeInternals(this.inst.config, await this.read(), this.init, step)!;
  }
}

/** Min, max and mean of one number over layers. */
function over<L>(layers: L[], f: (l: L) => number): { min: number; max: number; mean: number } {
  const v = layers.map(f);
  return { min: Math.min(...v), max: Math.max(...v), mean: v.reduce((a, b) => a + b, 0) / Math.max(1, v.length) };
}

/** The model-wide summary in one line (the CLI's log). */
export function internalsLine(x: Internals): string {
  const g = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : '—');
  switch (x.method) {
    case 'adalora': {
      const rank = over(x.layers, (l) => l.rank);
      return `AdaLoRA rank per layer ${rank.min}–${rank.max} (mean ${rank.mean.toFixed(1)}) of ${x.r}${x.budget === null ? '' : `; scheduled budget ${x.budget}`}`;
    }
    case 'dora': {
      const rel = over(x.layers, (l) => l.rel);
      return `DoRA magnitude change ‖m − m₀‖/‖m₀‖ mean ${g(rel.mean)}, largest ${g(rel.max)}; max |m/m₀ − 1| ${g(over(x.layers, (l) => l.maxDev).max)}`;
    }
    case 'vera': {
      const d = over(x.layers, (l) => l.dMean), b = over(x.layers, (l) => l.bMean);
      return `VeRA mean |λ_d| ${g(d.mean)} (max ${g(over(x.layers, (l) => l.dMax).max)}), mean |λ_b| ${g(b.mean)} (max ${g(over(x.layers, (l) => l.bMax).max)})`;
    }
    case 'ia3':
      return `IA³ scales ${g(over(x.layers, (l) => l.min).min)}–${g(over(x.layers, (l) => l.max).max)}, mean ${g(over(x.layers, (l) => l.mean).mean)}; RMS |l − 1| mean ${g(over(x.layers, (l) => l.rms1).mean)}`;
  }
}
