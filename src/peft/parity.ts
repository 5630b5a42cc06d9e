// Parity of every PEFT method against HF PEFT's golden_peft.safetensors: for each method `<m>`
// present, attach it with the manifest's config, compare the deterministic parts of its init
// (`<m>/init/*`), load `<m>/state/*`, then compare logits, loss (AdaLoRA's includes its
// regulariser), ce_loss, every trainable gradient and the merged weights.
import type { Backend } from '../engine/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights, relErr, TOL, type ParityFiles, type ParityRow } from '../model/parity.ts';
import { parseSafetensors, type SafeTensor } from '../model/safetensors.ts';
import { fromHfPeftConfig } from './hf.ts';
import { getMethod } from './registry.ts';
import type { MethodId } from './types.ts';

/** What the harness compares of a method's init with PEFT's `<m>/init/*`: the names whose init is
 * deterministic (compared as they are), whether B·A products are compared (SVD/QR inits, whose
 * factors have arbitrary signs), and the init tensors PEFT draws from torch's RNG that the lab
 * cannot reproduce but a state needs (VeRA's frozen shared projections), loaded before `<m>/state/*`. */
interface InitCheck {
  deterministic?: RegExp;
  products?: boolean;
  fixture?: RegExp;
}

const KAIMING_LORA: InitCheck = { deterministic: /\.lora_B\.default\.weight$/ };
// SVD/QR inits: the golden residual comes from PEFT's float32 SVD/QR, whose top-r subspace is
// only good to ~ε₃₂·‖W‖/gap (layer-0 v_proj of the Qwen2 fixture: σ₄/σ₅ gap 2e-3, residual off
// by 3e-5). Our own init is compared (B·A, residual) at TOL.grad; the forward then runs on
// PEFT's residual, as the state it was computed with.
const SVD_LORA: InitCheck = { products: true, fixture: /\.base_layer\.weight$/ };

const INIT_CHECKS: Record<MethodId, InitCheck> = {
  full: {},
  lora: KAIMING_LORA, lora_r1: KAIMING_LORA, rslora: KAIMING_LORA, lora_plus: KAIMING_LORA, lora_fa: KAIMING_LORA,
  dora: { deterministic: /\.(lora_B|lora_magnitude_vector)\.default\.weight$/ },
  adalora: { deterministic: /\.(lora_E|ranknum)\.default$/ },
  miss: { deterministic: /\.miss_block\.default$/ },
  pissa: SVD_LORA, milora: SVD_LORA, olora: SVD_LORA,
  vera: { deterministic: /\.vera_lambda_[bd]\.default$/, fixture: /(^|\.)vera_[AB]\.default$/ },
  ia3: { deterministic: /\.ia3_l\.default$/ },
  ln_tuning: { deterministic: /\.ln_tuning_layers\.default\.weight$/ },
};

interface Manifest {
  methods: Record<string, { config?: Record<string, unknown>; error?: string }>;
}

/** B·A (out×in) from PEFT-named factors of one module, or null when either is missing. */
function product(tensors: Map<string, { shape: number[]; data: Float32Array }>, module: string): Float32Array | null {
  const a = tensors.get(`${module}.lora_A.default.weight`), b = tensors.get(`${module}.lora_B.default.weight`);
  if (!a || !b) return null;
  const [r, inF] = a.shape, outF = b.shape[0];
  const out = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b.data[o * r + k] * a.data[k * inF + i];
      out[o * inF + i] = s;
    }
  }
  return out;
}

function f32(t: SafeTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
}

export async function runPeftParity(backend: Backend, files: ParityFiles, model: string, only?: string[]): Promise<ParityRow[]> {
  if (!files.goldenPeft || !files.manifest) return [];
  const cfg = parseHfConfig(files.config);
  const weights = loadWeights(files.model, `${model}/model.safetensors`);
  const base = parseSafetensors(files.goldenBase, `${model}/golden_base.safetensors`).tensors;
  const golden = parseSafetensors(files.goldenPeft, `${model}/golden_peft.safetensors`).tensors;
  const manifest = files.manifest as Manifest;
  const rows: ParityRow[] = [];

  const ids = base.get('input_ids'), labels = base.get('labels');
  if (!ids || !labels) throw new Error(`${model}/golden_base.safetensors lacks input_ids/labels`);
  const [B, T] = ids.shape;
  const idArr = Int32Array.from(ids.data), labArr = Int32Array.from(labels.data);
  const targets = new Int32Array(B * T).fill(-1), dlogp = new Float32Array(B * T);
  let count = 0;
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) if (labArr[b * T + t + 1] >= 0) count++;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      if (labArr[b * T + t + 1] < 0) continue;
      targets[b * T + t] = idArr[b * T + t + 1];
      dlogp[b * T + t] = -1 / count;
    }
  }

  for (const [key, entry] of Object.entries(manifest.methods)) {
    if (entry.error || !entry.config || (only && !only.includes(key))) continue;
    const row = (name: string, err: number, tol: number) =>
      rows.push({ backend: backend.name, model, name: `${key}/${name}`, relErr: err, tol, ok: err <= tol });
    const want = (name: string) => {
      const t = golden.get(`${key}/${name}`);
      if (!t) throw new Error(`${model}/golden_peft.safetensors has no "${key}/${name}"`);
      return f32(t);
    };
    const group = (prefix: string) => {
      const m = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [name, t] of golden) if (name.startsWith(`${key}/${prefix}/`)) m.set(name.slice(key.length + prefix.length + 2), { shape: t.shape, data: f32(t) });
      return m;
    };

    const peftCfg = fromHfPeftConfig(entry.config);
    const spec = getMethod(peftCfg.method), check = INIT_CHECKS[peftCfg.method];
    const m = new Model(backend, cfg, weights);
    const inst = await spec.attach(m, peftCfg);
    try {
      // Init: deterministic tensors as they are; SVD/QR inits through B·A products.
      const init = group('init');
      const ours = await inst.snapshot();
      const oursShaped = new Map([...ours].map(([n, d]) => [n, { shape: init.get(n)?.shape ?? [d.length], data: d }]));
      for (const [name, t] of init) {
        const mine = ours.get(name);
        if (check.deterministic?.test(name) && mine) row(`init/${name}`, relErr(mine, t.data), TOL.logits);
        if (check.products && name.endsWith('.lora_A.default.weight')) {
          const module = name.slice(0, -'.lora_A.default.weight'.length);
          const w = product(init, module), g = product(oursShaped, module);
          if (w && g) row(`init/${module}.B·A`, relErr(g, w), TOL.grad);
        }
        if (check.products && name.endsWith('.base_layer.weight') && mine) row(`init/${name}`, relErr(mine, t.data), TOL.grad);
      }

      // State → forward/backward (after the frozen random tensors the lab cannot redraw, e.g. VeRA's).
      const fixtureInit = check.fixture;
      if (fixtureInit) inst.load(new Map([...init].filter(([n]) => fixtureInit.test(n)).map(([n, t]) => [n, t.data])));
      inst.load(new Map([...group('state')].map(([n, t]) => [n, t.data])));
      m.zeroGrads();
      inst.zeroGrads();
      const { logits, logp } = m.forward(idArr, targets, B, T);
      m.backward(dlogp);
      // AdaLoRA's regulariser is added by AdaLoraModel.forward, which a PeftModel without task_type
      // (as make_golden.py builds it) bypasses: then `loss` = `ce_loss` and the gradients exclude it.
      // The fixture says which: the regulariser (and its gradients) counts only when loss ≠ ce_loss.
      const ceWant = want('ce_loss')[0], regInLoss = Math.abs(want('loss')[0] - ceWant) > TOL.loss * Math.abs(ceWant);
      const reg = inst.regularize && regInLoss ? await inst.regularize() : 0;
      const lp = await backend.read(logp);
      let ce = 0;
      for (let i = 0; i < lp.length; i++) ce += dlogp[i] * lp[i];
      row('logits', relErr(await backend.read(logits), want('logits')), TOL.logits);
      row('ce_loss', relErr([ce], want('ce_loss')), TOL.loss);
      row('loss', relErr([ce + reg], want('loss')), TOL.loss);
      for (const p of inst.params) {
        const g = golden.get(`${key}/grad/${p.name}`);
        if (!g) {
          row(`grad/${p.name} (no golden gradient for this tensor)`, Infinity, TOL.grad);
          continue;
        }
        row(`grad/${p.name}`, relErr(await backend.read(p.grad), f32(g)), TOL.grad);
      }
      const merged = await inst.merged();
      for (const [name, t] of group('merged')) {
        const mine = merged.get(name) ?? (m.params.has(name) ? await backend.read(m.p(name)) : undefined);
        row(`merged/${name}`, mine ? relErr(mine, t.data) : Infinity, TOL.logits);
      }
    } finally {
      inst.detach();
    }
  }
  return rows;
}
