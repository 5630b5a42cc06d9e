// (IA)³ (Liu et al., NeurIPS 2022) as HF PEFT's IA3 Linear: one trainable vector l, initialised to 1,
// per target. Attention targets scale their output, bias included: y = l ⊙ (W x + b), l stored as
// `ia3_l.default` (out, 1). Feed-forward targets (`feedforward_modules`, the MLP's down_proj by
// default) scale their input, the MLP's intermediate activation: y = W (l ⊙ x) + b, l (1, in).
// Merge (merge_and_unload): W[o, :] · l[o] (and b · l) for attention targets, W[:, i] · l[i] for
// feed-forward ones. PEFT requires feedforward_modules ⊆ target_modules; IA³ has no dropout.
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LinearAdapter, Proj } from '../model/model.ts';
import { peftName, savedName, sites, validateCommon, type Site } from './common.ts';
import { fail, targets, unsupported } from './hf_config.ts';
import { attachAdapters, baseOf, type AdapterRuntime, type MergeRule } from './runtime.ts';
import { NOT_LORA } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec } from './types.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get a scaling vector (PEFT\'s default: k, v, down for Llama; q, v, down for Qwen2)' },
  { key: 'ia3FeedForward', label: 'feed-forward modules', kind: 'targets', help: 'targets that scale their input instead of their output (a subset of the targets)' },
];

/** IA³'s feed-forward modules, in every config: PEFT's for Qwen2 / Llama, the MLP's down_proj. */
export const IA3_FEED_FORWARD: Proj[] = ['down_proj'];

// PEFT's default targets for Llama (the keys, values and MLP intermediate; Qwen2's are q, v, down).
const DEFAULTS: MethodDefaults = { peft: { targets: ['k_proj', 'v_proj', 'down_proj'] }, study: { lr: 1e-3 }, page: { lr: 3e-2 } };

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

function build(rt: AdapterRuntime): PeftInstance {
  const { be, model, cfg } = rt;
  const list = sites(model.cfg, cfg.targets).map((site) => {
    const { inF, outF } = site, ff = isFF(cfg, site);
    const l = rt.param(peftName(site.base, 'ia3_l.default'), ff ? [1, inF] : [outF, 1], new Float32Array(ff ? inF : outF).fill(1));
    const { w, bias } = baseOf(model, site);
    const kept = ff ? null : rt.acts(site.base, [outF]); // attention targets: the unscaled W x + b (N × out), for dl
    const adapter: LinearAdapter = ff
      ? {
          forward(out, inp, N) {
            const xs = rt.scratch('xs', N * inF);
            be.scaleCols(xs, inp, l.tensor, null, N, inF, false);
            be.matmulForward(out, xs, w, bias, N, inF, outF);
          },
          backward(dinp, dout, inp, N, accumulate) {
            const dxs = rt.scratch('xs', N * inF);
            be.matmulBackwardInput(dxs, dout, w, N, inF, outF, false);
            be.scaleColsBackward(l.grad, dxs, inp, N, inF);
            be.scaleCols(dinp, dxs, l.tensor, null, N, inF, accumulate);
          },
        }
      : {
          forward(out, inp, N) {
            const [y] = kept!.take(inp, N, -1).bufs;
            be.matmulForward(y, inp, w, bias, N, inF, outF);
            be.scaleCols(out, y, l.tensor, null, N, outF, false);
          },
          backward(dinp, dout, inp, N, accumulate) {
            let y = kept!.find(inp, N)?.bufs[0];
            if (!y) be.matmulForward((y = rt.scratch('y', N * outF)), inp, w, bias, N, inF, outF);
            const dy = rt.scratch('dy', N * outF);
            be.scaleColsBackward(l.grad, dout, y, N, outF);
            be.scaleCols(dy, dout, l.tensor, null, N, outF, false);
            be.matmulBackwardInput(dinp, dy, w, N, inF, outF, accumulate);
          },
        };
    // W′ = W ⊙ l per column (feed-forward) or per row, with b′ = b ⊙ l (output targets), as merged().
    const merge: MergeRule = ff
      ? { weight: (dst) => be.scaleCols(dst, w, l.tensor, null, outF, inF, false) }
      : {
          weight: (dst) => rt.scaleRows(dst, w, l.tensor, outF, inF),
          ...(bias ? { bias: (dst: Tensor) => be.scaleCols(dst, bias, l.tensor, null, 1, outF, false) } : {}),
        };
    rt.install(site.base, adapter, merge);
    return { site, l, ff, w, bias };
  });

  return rt.instance(list.map((s) => s.l), {
    /** On the host: the reference the merge rules are tested against. */
    async merged() {
      const out = new Map<string, Float32Array>();
      for (const s of list) {
        const { inF, outF, base } = s.site;
        const [w, l] = await Promise.all([be.read(s.w), be.read(s.l.tensor)]);
        const m = new Float32Array(outF * inF);
        for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) m[o * inF + i] = w[o * inF + i] * (s.ff ? l[i] : l[o]);
        out.set(`${base}.weight`, m);
        if (s.bias && !s.ff) out.set(`${base}.bias`, (await be.read(s.bias)).map((v, o) => v * l[o]));
      }
      return out;
    },
  });
}

const HF: HfMapping = {
  write: (cfg) => ({ peft_type: 'IA3', target_modules: [...cfg.targets], exclude_modules: null,
    feedforward_modules: cfg.ia3FeedForward.filter((p) => cfg.targets.includes(p)), fan_in_fan_out: false,
    modules_to_save: null, init_ia3_weights: true }),
  read: {
    types: ['IA3'],
    settings(json) {
      unsupported(json, ['fan_in_fan_out', 'modules_to_save', 'exclude_modules']);
      const t = targets(json, ['k_proj', 'v_proj', 'down_proj']);
      // PEFT fills a missing feedforward_modules from its model mapping: down_proj for llama and qwen2
      // (a missing target_modules is k, v, down for llama but q, v, down for qwen2: the lab assumes llama's).
      const given = json.feedforward_modules !== undefined && json.feedforward_modules !== null;
      const ff = given ? targets(json, [], 'feedforward_modules') : (['down_proj'] as Proj[]).filter((p) => t.includes(p));
      for (const f of ff) if (!t.includes(f)) fail('feedforward_modules', `"${f}" is not in target_modules`);
      return { method: 'ia3', dropout: 0, targets: t, ia3FeedForward: ff };
    },
  },
  // ia3_l: (1, in) on feed-forward layers, (out, 1) elsewhere.
  shapes(cfg, model) {
    const out = new Map<string, number[]>();
    for (const s of sites(model, cfg.targets)) out.set(savedName(peftName(s.base, 'ia3_l.default'))!, isFF(cfg, s) ? [1, s.inF] : [s.outF, 1]);
    return out;
  },
};

export const ia3: MethodSpec = {
  id: 'ia3',
  name: 'IA³',
  description: 'Learned vectors rescale the attention keys and values and the MLP intermediate activation',
  paper: 'https://arxiv.org/abs/2205.05638',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate,
  trainableCount,
  hf: HF,
  trlVerl: NOT_LORA,
  attach: (model, cfg) => attachAdapters(ia3, model, cfg, build, 0), // no dropout
};
