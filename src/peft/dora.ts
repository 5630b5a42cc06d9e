// DoRA, weight-decomposed low-rank adaptation, as HF PEFT's DoraLinearLayer (tuners/lora/dora.py):
//   W′ = m ⊙ V / ‖V‖_row,  V = W₀ + s·B·A,  m (out) trainable, initialised to ‖W₀‖_row,
//   and the norm n = ‖V‖_row is detached (a constant for the gradient; DoRA paper §4.3).
// Forward, as PEFT computes it (result = base_layer(x) + dora output):
//   no dropout (or eval):  y = b + (m/n) ⊙ (W₀x + s·B·A·x)
//   dropout, x̃ = drop(x):  y = W₀x + b + (m/n − 1) ⊙ W₀x̃ + (m/n) ⊙ s·B·A·x̃
// Backward, with h = W₀x̃ + s·BAx̃ and dh = dout ⊙ (m/n):
//   dm += Σₙ dout ⊙ h / n;  dB += s·dhᵀ·xa;  dxa = s·dh·B;  dA += dxaᵀ·x̃;
//   dinp = dh·W₀ + dxa·A  (no dropout), or dout·W₀ + drop((dh − dout)·W₀ + dxa·A).
import type { Tensor } from '../engine/backend.ts';
import { peftName, trainable, validateCommon } from './common.ts';
import {
  ActCache, AdapterRuntime, LoraAdapter, lostSlot, lowRankCount, lowRankSettings, LowRankInstance,
  type FreeableAdapter, type LowRankSite,
} from './lora.ts';
import type { MethodSpec, TrainableParam } from './types.ts';

class DoraAdapter implements FreeableAdapter {
  // xa (N·r), h (N·out); n, m/n (out each)
  private readonly cache: ActCache;

  constructor(private readonly rt: AdapterRuntime, private readonly s: LowRankSite, private readonly m: TrainableParam) {
    this.cache = new ActCache(rt, `${s.site.base}.dora`, [s.r, s.site.outF], [s.site.outF, s.site.outF]);
  }

  /** n = ‖W₀ + s·B·A‖_row and mn = m / n. */
  private norms(n: Tensor, mn: Tensor): void {
    const be = this.rt.be, { inF, outF } = this.s.site;
    const V = this.rt.scratch('dense', outF * inF);
    be.matmulBackwardInput(V, this.s.B.tensor, this.s.A.tensor, outF, inF, this.s.r, false, this.s.scale);
    be.add(V, V, this.s.W, outF * inF);
    be.rowNorm(n, V, outF, inF);
    be.div(mn, this.m.tensor, n, outF, false);
  }

  /** h = W₀x + s·B·(x·Aᵀ), keeping xa. */
  private combined(h: Tensor, xa: Tensor, x: Tensor, N: number): void {
    const be = this.rt.be, { inF, outF } = this.s.site, { r, A, B, W, scale } = this.s;
    be.matmulForward(h, x, W, null, N, inF, outF);
    be.matmulForward(xa, x, A.tensor, null, N, inF, r);
    be.matmulForward(h, xa, B.tensor, null, N, r, outF, true, scale);
  }

  forward(out: Tensor, inp: Tensor, N: number): void {
    const be = this.rt.be, { inF, outF } = this.s.site, { W, bias } = this.s;
    const slot = this.cache.take(inp, N);
    const [xa, h, n, mn] = slot.bufs;
    this.norms(n, mn);
    const { x, seed } = this.rt.dropForward(inp, N * inF, this.s.index);
    slot.seed = seed;
    this.combined(h, xa, x, N);
    if (seed < 0) be.scaleCols(out, h, mn, bias, N, outF, false);
    else {
      be.matmulForward(out, inp, W, bias, N, inF, outF);
      be.matmulForward(out, x, W, null, N, inF, outF, true, -1);
      be.scaleCols(out, h, mn, null, N, outF, true);
    }
  }

  backward(dinp: Tensor, dout: Tensor, inp: Tensor, N: number, accumulate: boolean): void {
    const be = this.rt.be, rt = this.rt, { inF, outF } = this.s.site, { r, A, B, W, scale } = this.s;
    const slot = this.cache.find(inp, N);
    if (!slot && rt.training && rt.cfg.dropout > 0) throw lostSlot(this.s.site.base);
    let xa: Tensor, h: Tensor, n: Tensor, mn: Tensor, seed = -1, x = inp;
    if (slot) {
      [xa, h, n, mn] = slot.bufs;
      seed = slot.seed;
      x = rt.dropAgain(inp, N * inF, seed);
    } else {
      // The slot was reused by other forwards: recompute (no dropout here, checked above).
      [xa, h, n, mn] = [rt.scratch('xa', N * r), rt.scratch('h', N * outF), rt.scratch('n', outF), rt.scratch('mn', outF)];
      this.norms(n, mn);
      this.combined(h, xa, x, N);
    }
    const t = rt.scratch('dm', outF);
    be.zero(t);
    be.scaleColsBackward(t, dout, h, N, outF);
    be.div(this.m.grad, t, n, outF, true);
    const dh = rt.scratch('dh', N * outF);
    be.scaleCols(dh, dout, mn, null, N, outF, false);
    be.matmulBackwardWeight(B.grad, dh, xa, N, r, outF, scale);
    const dxa = rt.scratch('dxa', N * r);
    be.matmulBackwardInput(dxa, dh, B.tensor, N, r, outF, false, scale);
    be.matmulBackwardWeight(A.grad, dxa, x, N, inF, r);
    if (seed < 0) {
      be.matmulBackwardInput(dinp, dh, W, N, inF, outF, accumulate);
      be.matmulBackwardInput(dinp, dxa, A.tensor, N, inF, r, true);
    } else {
      be.matmulBackwardInput(dinp, dout, W, N, inF, outF, accumulate);
      const g = rt.scratch('gx', N * inF);
      be.matmulBackwardInput(g, dh, W, N, inF, outF, false);
      be.matmulBackwardInput(g, dout, W, N, inF, outF, true, -1);
      be.matmulBackwardInput(g, dxa, A.tensor, N, inF, r, true);
      rt.addDropped(dinp, g, N * inF, seed);
    }
  }

  free(): void {
    this.cache.free();
  }
}

class DoraInstance extends LowRankInstance {
  private readonly magnitudes = new Map<number, TrainableParam>();

  protected override needsBaseWeight(): boolean {
    return true;
  }

  protected override siteExtras(ls: LowRankSite, w0: Float32Array | null): void {
    if (!w0) throw new Error('DoRA: base weight not read');
    const { inF, outF, base } = ls.site;
    const norm = new Float32Array(outF);
    for (let o = 0; o < outF; o++) {
      let ss = 0;
      for (let c = 0; c < inF; c++) ss += w0[o * inF + c] * w0[o * inF + c];
      norm[o] = Math.sqrt(ss);
    }
    const m = trainable(this.be, peftName(base, 'lora_magnitude_vector.default.weight'), [outF], norm);
    this.params.push(m);
    this.byName.set(m.name, m);
    this.magnitudes.set(ls.index, m);
  }

  protected override makeAdapter(ls: LowRankSite): FreeableAdapter {
    const m = this.magnitudes.get(ls.index);
    return m ? new DoraAdapter(this.rt, ls, m) : new LoraAdapter(this.rt, ls);
  }

  /** PEFT's merge: (m / ‖W₀ + s·BA‖_row) ⊙ (W₀ + s·BA). */
  override async merged(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const ls of this.sites) {
      const { inF, outF, base } = ls.site;
      const V = (await this.be.read(this.denseUpdate(ls))).slice(0, outF * inF);
      const m = await this.be.read(this.magnitudes.get(ls.index)!.tensor);
      for (let o = 0; o < outF; o++) {
        let ss = 0;
        for (let c = 0; c < inF; c++) ss += V[o * inF + c] ** 2;
        const f = m[o] / Math.sqrt(ss);
        for (let c = 0; c < inF; c++) V[o * inF + c] *= f;
      }
      out.set(`${base}.weight`, V);
    }
    return out;
  }
}

export const dora: MethodSpec = {
  id: 'dora',
  name: 'DoRA',
  description: 'Weight-decomposed LoRA: W′ = m ⊙ (W₀ + s·BA) / ‖W₀ + s·BA‖_row with a trainable magnitude m (init ‖W₀‖_row); the norm is detached.',
  paper: 'https://arxiv.org/abs/2402.09353',
  settings: lowRankSettings(),
  validate: (cfg, model) => validateCommon(cfg, model, { rank: true }),
  trainableCount: (cfg, model) => lowRankCount(cfg, model, true, 1),
  deterministicInit: /\.(lora_B|lora_magnitude_vector)\.default\.weight$/,
  async attach(model, cfg) {
    const inst = new DoraInstance(model, cfg, { init: 'kaiming', rsScale: false, trainA: true, loraPlus: false });
    try {
      await inst.init(dora);
    } catch (e) {
      inst.detach();
      throw e;
    }
    return inst;
  },
};
