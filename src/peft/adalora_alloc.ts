// AdaLoRA's rank allocator, as HF PEFT's RankAllocator + AdaLoraModel.update_and_allocate
// (peft/tuners/adalora/{layer,model}.py), on plain arrays so it is testable by hand.
//
// After each optimizer step t (gradients still in place):
//   importance   I = |w · ∇w| for every entry of every A, E, B
//   sensitivity  Ī ← β1 Ī + (1 − β1) I
//   uncertainty  Ū ← β2 Ū + (1 − β2) |I − Ī|        (with the Ī just updated)
//   score        s = Ī · Ū
//   triplet i of a layer: S_i = s(E_i) + mean_j s(A_ij) + mean_o s(B_oi)
//   budget       b(t) = b0 for t ≤ t_init;
//                int((b0 − bT)(1 − (t − t_init)/(T − t_final − t_init))³ + bT) afterwards,
//                b0 = Σ initial ranks, bT = target_r × layers
//   masking      when t % ΔT == 0 in the cubic phase: the (b0 − b)-th smallest S over all layers is
//                the threshold; every E_i with S_i ≤ threshold is set to 0 (it can grow back).
// At t = T − t_final the allocation is final (no importance update, budget bT, the mask is kept
// and the importance state reset); for t > T − t_final the kept mask is re-applied every step.
// PEFT's schedule branch "t > T − t_final" of budget_schedule is unreachable from
// update_and_allocate and is mirrored only in budgetSchedule().

export interface AllocSettings {
  initR: number;
  targetR: number;
  tInit: number;
  tFinal: number;
  deltaT: number;
  beta1: number;
  beta2: number;
  totalStep: number;
}

/** One adapted layer's factors and gradients: A (r×in), B (out×r), E (r), row-major. */
export interface TripletState {
  r: number;
  inF: number;
  outF: number;
  A: Float32Array;
  gA: Float32Array;
  B: Float32Array;
  gB: Float32Array;
  E: Float32Array;
  gE: Float32Array;
}

/** PEFT's budget_schedule: the rank budget at step t and whether this step masks. */
export function budgetSchedule(s: AllocSettings, initBudget: number, targetBudget: number, step: number): { budget: number; mask: boolean } {
  if (step <= s.tInit) return { budget: initBudget, mask: false };
  if (step > s.totalStep - s.tFinal) return { budget: targetBudget, mask: true };
  const mul = 1 - (step - s.tInit) / (s.totalStep - s.tFinal - s.tInit);
  return { budget: Math.trunc((initBudget - targetBudget) * mul ** 3 + targetBudget), mask: step % s.deltaT === 0 };
}

interface Ema {
  ipt: Float64Array;
  unc: Float64Array;
}

export class RankAllocator {
  readonly initBudget: number;
  readonly targetBudget: number;
  /** Per layer, which triplets the final allocation kept (null before it). */
  rankPattern: boolean[][] | null = null;
  private ema: { A: Ema; B: Ema; E: Ema }[] | null = null;

  constructor(readonly s: AllocSettings, ranks: number[]) {
    this.initBudget = ranks.reduce((a, b) => a + b, 0);
    this.targetBudget = s.targetR * ranks.length;
  }

  /** What afterStep(t) has to read back: factors and gradients, E alone, or nothing. */
  needs(step: number): 'all' | 'E' | 'none' {
    const end = this.s.totalStep - this.s.tFinal;
    if (step < end) return 'all';
    if (step === end) return 'E';
    return this.rankPattern ? 'E' : 'none';
  }

  /** PEFT's update_and_allocate(t). Mutates E in `layers`; returns which layers' E changed. */
  update(step: number, layers: TripletState[]): boolean[] {
    const end = this.s.totalStep - this.s.tFinal;
    if (step < end) {
      this.updateImportance(layers);
      const { budget, mask } = budgetSchedule(this.s, this.initBudget, this.targetBudget, step);
      return mask ? this.maskToBudget(layers, budget).changed : layers.map(() => false);
    }
    if (step === end) {
      const { budget } = budgetSchedule(this.s, this.initBudget, this.targetBudget, step);
      const { pattern, changed } = this.maskToBudget(layers, budget);
      this.rankPattern = pattern;
      this.ema = null;
      return changed;
    }
    const pattern = this.rankPattern;
    if (!pattern) return layers.map(() => false);
    return layers.map((l, i) => zeroMasked(l.E, pattern[i]));
  }

  /** The state a resumed run needs (Ī, Ū, the final pattern) as named int32 tensors: float64
   * values keep their exact bits (two int32 words each), a pattern is 0/1 per triplet. */
  exportState(): Map<string, Int32Array> {
    const out = new Map<string, Int32Array>();
    this.ema?.forEach((e, i) => {
      for (const part of ['A', 'B', 'E'] as const)
        for (const kind of ['ipt', 'unc'] as const) out.set(`ema.${i}.${part}.${kind}`, new Int32Array(e[part][kind].slice().buffer));
    });
    this.rankPattern?.forEach((p, i) => out.set(`pattern.${i}`, Int32Array.from(p, Number)));
    return out;
  }

  /** Restore exportState() for these layers (sizes checked; nothing changes on an error). An empty
   * map is the state before the first step. */
  importState(state: Map<string, Int32Array>, layers: { r: number; inF: number; outF: number }[]): void {
    const get = (key: string, n: number): Int32Array | undefined => {
      const v = state.get(key);
      if (v && v.length !== n) throw new Error(`AdaLoRA allocator state "${key}": ${v.length} values, expected ${n}`);
      return v;
    };
    const f64 = (v: Int32Array) => new Float64Array(v.slice().buffer);
    const hasEma = state.has('ema.0.A.ipt'), hasPattern = state.has('pattern.0');
    const ema = hasEma ? layers.map((l, i) => {
      const part = (p: string, n: number): Ema => {
        const ipt = get(`ema.${i}.${p}.ipt`, 2 * n), unc = get(`ema.${i}.${p}.unc`, 2 * n);
        if (!ipt || !unc) throw new Error(`AdaLoRA allocator state: layer ${i} lacks ${p}`);
        return { ipt: f64(ipt), unc: f64(unc) };
      };
      return { A: part('A', l.r * l.inF), B: part('B', l.outF * l.r), E: part('E', l.r) };
    }) : null;
    const pattern = hasPattern ? layers.map((l, i) => {
      const p = get(`pattern.${i}`, l.r);
      if (!p) throw new Error(`AdaLoRA allocator state: layer ${i} lacks its rank pattern`);
      return Array.from(p, (x) => x !== 0);
    }) : null;
    this.ema = ema;
    this.rankPattern = pattern;
  }

  /** Ī and Ū from this step's |w·∇w|. */
  updateImportance(layers: TripletState[]): void {
    const fresh = () => layers.map((l) => ({ A: ema(l.r * l.inF), B: ema(l.outF * l.r), E: ema(l.r) }));
    this.ema ??= fresh();
    const { beta1: b1, beta2: b2 } = this.s;
    layers.forEach((l, i) => {
      const e = this.ema![i];
      for (const [w, g, st] of [[l.A, l.gA, e.A], [l.B, l.gB, e.B], [l.E, l.gE, e.E]] as const) {
        for (let k = 0; k < w.length; k++) {
          const ipt = Math.abs(w[k] * g[k]);
          st.ipt[k] = b1 * st.ipt[k] + (1 - b1) * ipt;
          st.unc[k] = b2 * st.unc[k] + (1 - b2) * Math.abs(ipt - st.ipt[k]);
        }
      }
    });
  }

  /** S_i for every triplet of every layer (zeros before any importance update). */
  tripletScores(layers: TripletState[]): Float64Array[] {
    return layers.map((l, i) => {
      const e = this.ema?.[i];
      const S = new Float64Array(l.r);
      if (!e) return S;
      const sc = (st: Ema, k: number) => st.ipt[k] * st.unc[k];
      for (let t = 0; t < l.r; t++) {
        let a = 0, b = 0;
        for (let j = 0; j < l.inF; j++) a += sc(e.A, t * l.inF + j);
        for (let o = 0; o < l.outF; o++) b += sc(e.B, o * l.r + t);
        S[t] = sc(e.E, t) + a / l.inF + b / l.outF;
      }
      return S;
    });
  }

  /** Zero every E entry whose triplet score is at or below the (b0 − budget)-th smallest. */
  maskToBudget(layers: TripletState[], budget: number): { pattern: boolean[][]; changed: boolean[] } {
    const scores = this.tripletScores(layers);
    const all = scores.flatMap((s) => Array.from(s)).sort((a, b) => a - b);
    const k = this.initBudget - budget;
    // torch.kthvalue is 1-based; with k = 0 nothing falls at or below the threshold.
    const threshold = k >= 1 ? all[Math.min(k, all.length) - 1] : -Infinity;
    const pattern = scores.map((s) => Array.from(s, (v) => !(v <= threshold)));
    return { pattern, changed: layers.map((l, i) => zeroMasked(l.E, pattern[i])) };
  }
}

function ema(n: number): Ema {
  return { ipt: new Float64Array(n), unc: new Float64Array(n) };
}

function zeroMasked(E: Float32Array, keep: boolean[]): boolean {
  let changed = false;
  keep.forEach((k, i) => {
    if (!k && E[i] !== 0) {
      E[i] = 0;
      changed = true;
    }
  });
  return changed;
}
