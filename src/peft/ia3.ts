// (IA)³ (Liu et al., NeurIPS 2022) as HF PEFT's IA3 Linear: one trainable vector l, initialised to 1,
// per target. Attention targets scale their output, bias included: y = l ⊙ (W x + b), l stored as
// `ia3_l.default` (out, 1). Feed-forward targets (`feedforward_modules`, the MLP's down_proj by
// default) scale their input, the MLP's intermediate activation: y = W (l ⊙ x) + b, l (1, in).
// Merge (merge_and_unload): W[o, :] · l[o] (and b · l) for attention targets, W[:, i] · l[i] for
// feed-forward ones. PEFT requires feedforward_modules ⊆ target_modules; IA³ has no dropout.
import type { ModelConfig } from '../model/config.ts';
import type { LinearAdapter, Model } from '../model/model.ts';
import { AdapterKit, baseOf, loadChecked, safeFree, Slots, uploadTo } from './adalora.ts';
import { peftName, sites, trainable, validateCommon, type Site } from './common.ts';
import type { MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get a scaling vector (PEFT default for Qwen2/Llama: k, v, down)' },
  { key: 'ia3FeedForward', label: 'feed-forward modules', kind: 'targets', help: 'targets that scale their input instead of their output (a subset of the targets)' },
];

function validate(cfg: PeftConfig, model: ModelConfig): string[] {
  const e = validateCommon(cfg, model, { rank: false }).filter((m) => !m.startsWith('dropout:'));
  for (const t of cfg.ia3FeedForward) {
    if (!cfg.targets.includes(t)) e.push(`ia3FeedForward: "${t}" is not among the targets (feed-forward modules must be a subset of the target modules)`);
  }
  return e;
}

const isFF = (cfg: PeftConfig, s: Site) => cfg.ia3FeedForward.includes(s.proj);

function trainableCount(cfg: PeftConfig, model: ModelConfig): number {
  return sites(model, cfg.targets).reduce((n, s) => n + (isFF(cfg, s) ? s.inF : s.outF), 0);
}

interface Ia3Site {
  site: Site;
  l: TrainableParam;
  ff: boolean;
  /** Attention targets: the unscaled output W x + b (N × out), per input, kept for dl. */
  y: Slots | null;
}

async function attach(model: Model, cfg: PeftConfig): Promise<PeftInstance> {
  const errors = validate(cfg, model.cfg);
  if (errors.length) throw new Error(`IA³: ${errors.join('; ')}`);
  const be = model.backend;
  model.setTrainable([]);
  const kit = new AdapterKit(be, 0, 0, 'ia3');
  const list: Ia3Site[] = [];
  const byName = new Map<string, TrainableParam>();
  for (const site of sites(model.cfg, cfg.targets)) {
    const { inF, outF } = site, ff = isFF(cfg, site);
    const n = ff ? inF : outF;
    const l = trainable(be, peftName(site.base, 'ia3_l.default'), ff ? [1, inF] : [outF, 1], new Float32Array(n).fill(1));
    const s: Ia3Site = { site, l, ff, y: ff ? null : new Slots(be, `${site.base}.ia3`, [outF]) };
    list.push(s);
    byName.set(l.name, l);
    const { w, bias } = baseOf(model, site);
    const adapter: LinearAdapter = ff
      ? {
          forward(out, inp, N) {
            const xs = kit.scratch('xs', N * inF);
            be.scaleCols(xs, inp, l.tensor, null, N, inF, false);
            be.matmulForward(out, xs, w, bias, N, inF, outF);
          },
          backward(dinp, dout, inp, N, accumulate) {
            const dxs = kit.scratch('xs', N * inF);
            be.matmulBackwardInput(dxs, dout, w, N, inF, outF, false);
            be.scaleColsBackward(l.grad, dxs, inp, N, inF);
            be.scaleCols(dinp, dxs, l.tensor, null, N, inF, accumulate);
          },
        }
      : {
          forward(out, inp, N) {
            const [y] = s.y!.take(inp, N, -1).bufs;
            be.matmulForward(y, inp, w, bias, N, inF, outF);
            be.scaleCols(out, y, l.tensor, null, N, outF, false);
          },
          backward(dinp, dout, inp, N, accumulate) {
            let y = s.y!.find(inp, N, site.base, false)?.bufs[0];
            if (!y) be.matmulForward((y = kit.scratch('y', N * outF)), inp, w, bias, N, inF, outF);
            const dy = kit.scratch('dy', N * outF);
            be.scaleColsBackward(l.grad, dout, y, N, outF);
            be.scaleCols(dy, dout, l.tensor, null, N, outF, false);
            be.matmulBackwardInput(dinp, dy, w, N, inF, outF, accumulate);
          },
        };
    model.adapters.set(site.base, adapter);
  }
  const params = list.map((s) => s.l);

  return {
    config: cfg,
    params,
    zeroGrads() {
      for (const p of params) be.zero(p.grad);
    },
    async merged() {
      const out = new Map<string, Float32Array>();
      for (const s of list) {
        const { inF, outF, base } = s.site;
        const [w, l] = await Promise.all([be.read(model.p(`${base}.weight`)), be.read(s.l.tensor)]);
        const m = new Float32Array(outF * inF);
        for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) m[o * inF + i] = w[o * inF + i] * (s.ff ? l[i] : l[o]);
        out.set(`${base}.weight`, m);
        const b = model.params.get(`${base}.bias`);
        if (b && !s.ff) out.set(`${base}.bias`, (await be.read(b)).map((v, o) => v * l[o]));
      }
      return out;
    },
    async snapshot() {
      const out = new Map<string, Float32Array>();
      for (const p of params) out.set(p.name, await be.read(p.tensor));
      return out;
    },
    load(tensors) {
      loadChecked(tensors, 'IA³', (name) => {
        const p = byName.get(name);
        return p && uploadTo(be, p.tensor);
      });
    },
    detach() {
      for (const s of list) {
        model.adapters.delete(s.site.base);
        safeFree(be, s.l.tensor);
        be.free(s.l.grad);
        s.y?.free();
      }
      kit.free();
      model.setTrainable(model.params.keys());
    },
  };
}

export const ia3: MethodSpec = {
  id: 'ia3',
  name: 'IA³',
  description: 'Learned vectors rescale the attention keys and values and the MLP intermediate activation',
  paper: 'https://arxiv.org/abs/2205.05638',
  settings: SETTINGS,
  validate,
  trainableCount,
  deterministicInit: /\.ia3_l\.default$/,
  attach,
};
