// The LoRA family beyond the golden fixtures: MiLoRA and PiSSA by their defining properties,
// LoRA+ / LoRA-FA optimizer groups and frozen A, settings validation, parameter counts, dropout
// (forward and backward share a mask, fresh per call, off in eval), decoding between a forward and
// its backward, and detach restoring the base weights.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../engine/backend.ts';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { tuning } from '../engine/webgpu/ops/matmul.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights } from '../model/parity.ts';
import { parseSafetensors } from '../model/safetensors.ts';
import { sites } from './common.ts';
import { dora } from './dora.ts';
import { lora, loraFa, loraPlus, loraR1, milora, olora, pissa, rslora } from './lora.ts';
import { defaultPeftConfig } from './registry.ts';
import { svd } from './svd.ts';
import type { MethodSpec, PeftConfig, PeftInstance } from './types.ts';

function fixture(name: string) {
  const dir = new URL(`../../tests/fixtures/${name}/`, import.meta.url);
  const bytes = (f: string) => {
    const b = readFileSync(new URL(f, dir));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  const cfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
  const weights = loadWeights(bytes('model.safetensors'), `${name}/model.safetensors`);
  const ids = Int32Array.from(parseSafetensors(bytes('golden_base.safetensors')).tensors.get('input_ids')!.data);
  return { cfg, weights, ids };
}
const qwen = fixture('hf-qwen2-tiny'), llama = fixture('hf-llama-tiny');
const newModel = (be: Backend = new CpuBackend(), f = qwen) => new Model(be, f.cfg, f.weights);
const cfgOf = (method: PeftConfig['method'], over: Partial<PeftConfig> = {}): PeftConfig => ({ ...defaultPeftConfig(method), r: 4, alpha: 8, dropout: 0, ...over });
const mine: MethodSpec[] = [lora, loraR1, rslora, loraPlus, loraFa, pissa, milora, olora, dora];

const dotp = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const close = (got: number, want: number, tol: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want)));
const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.5);

/** Run one adapted projection directly: out = adapter(x), then backward with dout. */
async function runAdapter(m: Model, inst: PeftInstance, base: string, N: number, seed: number, inF: number, outF: number) {
  const be = m.backend, a = m.adapters.get(base)!;
  const t = (n: string, data: Float32Array) => {
    const x = be.alloc(n, data.length);
    be.upload(x, data);
    return x;
  };
  const x = rnd(N * inF, seed), dout = rnd(N * outF, seed + 1);
  const X = t('x', x), D = t('dout', dout), out = be.alloc('out', N * outF), dinp = be.alloc('dinp', N * inF);
  inst.zeroGrads();
  a.forward(out, X, N);
  a.backward(dinp, D, X, N, false);
  const grads = new Map<string, Float32Array>();
  for (const p of inst.params) if (p.name.includes(`${base}.`)) grads.set(p.name.split('.').at(-3)!, await be.read(p.grad));
  const res = { x, dout, out: await be.read(out), dinp: await be.read(dinp), grads };
  for (const z of [X, D, out, dinp] as Tensor[]) be.free(z);
  return res;
}

describe('LoRA family: counts, names, groups, validation', () => {
  for (const f of [qwen, llama]) {
    it(`${f.cfg.family}: trainableCount equals the allocated trainable tensors, for every method and target set`, async () => {
      for (const spec of mine) {
        for (const targets of [undefined, ['k_proj', 'down_proj']] as const) {
          const cfg = cfgOf(spec.id, targets ? { targets: [...targets] } : {});
          const inst = await spec.attach(newModel(new CpuBackend(), f), cfg);
          const allocated = inst.params.reduce((s, p) => s + p.tensor.size, 0);
          expect(inst.params.every((p) => p.shape.reduce((a, b) => a * b, 1) === p.tensor.size)).toBe(true);
          expect(spec.trainableCount(cfg, f.cfg), `${spec.id}`).toBe(allocated);
          inst.detach();
        }
      }
    });
  }

  it('HF PEFT names and shapes: lora_A (r×in), lora_B (out×r), DoRA magnitude (out)', async () => {
    const inst = await dora.attach(newModel(), cfgOf('dora'));
    const shapes = Object.fromEntries(inst.params.filter((p) => p.name.includes('layers.0.mlp.down_proj')).map((p) => [p.name, p.shape]));
    expect(shapes).toEqual({
      'base_model.model.model.layers.0.mlp.down_proj.lora_A.default.weight': [4, 128],
      'base_model.model.model.layers.0.mlp.down_proj.lora_B.default.weight': [64, 4],
      'base_model.model.model.layers.0.mlp.down_proj.lora_magnitude_vector.default.weight': [64],
    });
    inst.detach();
  });

  it('LoRA+: B trains at λ·lr, A at lr (λ = loraPlusRatio); plain LoRA: all at lr', async () => {
    const inst = await loraPlus.attach(newModel(), cfgOf('lora_plus', { loraPlusRatio: 16 }));
    for (const p of inst.params) expect(p.lrScale, p.name).toBe(p.name.includes('.lora_B.') ? 16 : 1);
    expect(inst.params.every((p) => p.weightDecay)).toBe(true);
    inst.detach();
    const plain = await lora.attach(newModel(), cfgOf('lora'));
    expect(plain.params.every((p) => p.lrScale === 1)).toBe(true);
    plain.detach();
  });

  it('LoRA-FA: only B is trainable; A gets no gradient and does not change', async () => {
    const m = newModel();
    const inst = await loraFa.attach(m, cfgOf('lora_fa'));
    expect(inst.params.length).toBe(sites(m.cfg, PROJS_ALL).length);
    expect(inst.params.every((p) => p.name.includes('.lora_B.'))).toBe(true);
    const before = await inst.snapshot();
    // B ≠ 0 so A's gradient would be non-zero if it were computed.
    inst.load(new Map(inst.params.map((p) => [p.name, rnd(p.tensor.size, 3)])));
    const r = await runAdapter(m, inst, 'model.layers.0.self_attn.q_proj', 5, 7, 64, 64);
    expect(r.grads.has('lora_A')).toBe(false);
    expect(r.grads.get('lora_B')!.some((v) => v !== 0)).toBe(true);
    const after = await inst.snapshot();
    for (const [n, v] of before) if (n.includes('.lora_A.')) expect(after.get(n)).toEqual(v);
    inst.detach();
  });

  it('invalid settings: clear errors naming the setting, from validate() and attach(), model untouched', async () => {
    const m = newModel();
    const cases: [MethodSpec, Partial<PeftConfig>, string][] = [
      [lora, { r: 33 }, "r: rank 33 exceeds k_proj's size 32×64"],
      [pissa, { r: 0 }, 'r: rank must be a positive integer, got 0'],
      [lora, { alpha: -1 }, 'alpha: must be positive, got -1'],
      [lora, { targets: ['x_proj' as never] }, 'targets: unknown target module "x_proj"'],
      [lora, { targets: [] }, 'targets: choose at least one target module'],
      [lora, { dropout: 1 }, 'dropout: must be in [0, 1), got 1'],
      [loraPlus, { loraPlusRatio: 0 }, 'loraPlusRatio: must be a positive number, got 0'],
      [dora, { r: 1000 }, 'r: rank 1000 exceeds q_proj'],
    ];
    for (const [spec, over, msg] of cases) {
      const cfg = cfgOf(spec.id, over);
      expect(spec.validate(cfg, m.cfg).join('\n')).toContain(msg);
      await expect(spec.attach(m, cfg)).rejects.toThrow(msg);
      expect(m.adapters.size).toBe(0);
    }
  });
});

const PROJS_ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

describe('SVD inits by their defining properties', () => {
  for (const [spec, which] of [[milora, 'last'], [pissa, 'first']] as const) {
    it(`${spec.name}: s·B·A is the sum of the ${which} r singular triplets of W; residual + s·B·A = W`, async () => {
      const m = newModel();
      const r = 4, alpha = 6, s = alpha / r;
      const original = new Map(sites(m.cfg, PROJS_ALL).map((st) => [st.base, qwen.weights.get(`${st.base}.weight`)!]));
      const inst = await spec.attach(m, cfgOf(spec.id, { r, alpha }));
      const snap = await inst.snapshot();
      for (const st of sites(m.cfg, PROJS_ALL)) {
        const { inF, outF, base } = st;
        const W = original.get(base)!, A = snap.get(`base_model.model.${base}.lora_A.default.weight`)!;
        const B = snap.get(`base_model.model.${base}.lora_B.default.weight`)!, res = snap.get(`base_model.model.${base}.base_layer.weight`)!;
        expect(await m.backend.read(m.p(`${base}.weight`))).toEqual(res);
        const d = svd(W, outF, inF), first = which === 'first' ? 0 : d.k - r;
        let err = 0, big = 0, rerr = 0;
        for (let o = 0; o < outF; o++) {
          for (let c = 0; c < inF; c++) {
            let ba = 0, trip = 0;
            for (let i = 0; i < r; i++) ba += B[o * r + i] * A[i * inF + c];
            for (let t = first; t < first + r; t++) trip += d.U[o * d.k + t] * d.S[t] * d.V[c * d.k + t];
            err = Math.max(err, Math.abs(ba - trip / s));
            big = Math.max(big, Math.abs(trip / s));
            rerr = Math.max(rerr, Math.abs(res[o * inF + c] + s * ba - W[o * inF + c]));
          }
        }
        expect(err / big, `${base} B·A`).toBeLessThan(1e-5);
        expect(rerr, `${base} residual`).toBeLessThan(1e-6);
        // The product's own singular values are the chosen ones of W.
        const prod = new Float64Array(outF * inF);
        for (let o = 0; o < outF; o++) for (let c = 0; c < inF; c++) for (let i = 0; i < r; i++) prod[o * inF + c] += s * B[o * r + i] * A[i * inF + c];
        const ps = svd(prod, outF, inF).S;
        for (let i = 0; i < r; i++) close(ps[i], d.S[first + i], 1e-5);
      }
      inst.detach();
    });
  }

  it('OLoRA: B has orthonormal columns, A = BᵀW (upper-triangular R rows), residual + s·B·A = W', async () => {
    const m = newModel();
    const inst = await olora.attach(m, cfgOf('olora', { r: 4, alpha: 4 }));
    const snap = await inst.snapshot();
    const base = 'model.layers.1.mlp.down_proj', inF = 128, outF = 64, r = 4;
    const W = qwen.weights.get(`${base}.weight`)!, A = snap.get(`base_model.model.${base}.lora_A.default.weight`)!;
    const B = snap.get(`base_model.model.${base}.lora_B.default.weight`)!;
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < r; j++) {
        let g = 0;
        for (let o = 0; o < outF; o++) g += B[o * r + i] * B[o * r + j];
        close(g, i === j ? 1 : 0, 1e-6);
      }
      for (let c = 0; c < i; c++) close(A[i * inF + c], 0, 1e-6);
      for (let c = 0; c < inF; c++) {
        let v = 0;
        for (let o = 0; o < outF; o++) v += B[o * r + i] * W[o * inF + c];
        close(A[i * inF + c], v, 1e-5);
      }
    }
    inst.detach();
  });

  it('detach restores the original base weights, removes the adapters and re-enables base training', async () => {
    const m = newModel();
    const inst = await pissa.attach(m, cfgOf('pissa'));
    expect(m.adapters.size).toBe(14);
    expect(await m.backend.read(m.p('model.layers.0.self_attn.q_proj.weight'))).not.toEqual(qwen.weights.get('model.layers.0.self_attn.q_proj.weight'));
    inst.detach();
    expect(m.adapters.size).toBe(0);
    for (const st of sites(m.cfg, PROJS_ALL)) expect(await m.backend.read(m.p(`${st.base}.weight`))).toEqual(qwen.weights.get(`${st.base}.weight`));
    m.zeroGrads();
    expect(m.grads.size).toBe(m.params.size);
  });
});

const backends: [string, () => Promise<Backend>][] = [['cpu', async () => new CpuBackend()], ['webgpu', testGpu]];

for (const [bname, make] of backends) {
  describe(`LoRA/DoRA dropout and activations on ${bname}`, () => {
    for (const spec of [lora, dora]) {
      it(`${spec.name}: forward and backward share one mask per call (linearity identities), masks differ between calls, eval mode drops nothing`, async () => {
        const be = await make();
        const m = newModel(be);
        const base = 'model.layers.0.self_attn.q_proj', N = 6, C = 64;
        const inst = await spec.attach(m, cfgOf(spec.id, { dropout: 0.4 }));
        inst.load(new Map(inst.params.filter((p) => p.name.includes('.lora_B.')).map((p) => [p.name, rnd(p.tensor.size, 11)])));
        const bias = qwen.weights.get(`${base}.bias`)!;
        const biasDot = (dout: Float32Array) => {
          let s = 0;
          for (let n = 0; n < N; n++) for (let o = 0; o < C; o++) s += dout[n * C + o] * bias[o];
          return s;
        };
        const a = await runAdapter(m, inst, base, N, 5, C, C);
        // y is linear in x for a fixed mask: ⟨dinp, x⟩ = ⟨dout, y − b⟩ only if backward used forward's mask.
        close(dotp(a.dinp, a.x), dotp(a.dout, a.out) - biasDot(a.dout), 1e-4);
        if (spec === lora) {
          // y − base is bilinear in (A, B): ⟨dA, A⟩ = ⟨dB, B⟩.
          const snap = await inst.snapshot();
          const A = snap.get(`base_model.model.${base}.lora_A.default.weight`)!, B = snap.get(`base_model.model.${base}.lora_B.default.weight`)!;
          close(dotp(a.grads.get('lora_A')!, A), dotp(a.grads.get('lora_B')!, B), 1e-4);
        }
        const b = await runAdapter(m, inst, base, N, 5, C, C);
        expect(b.out).not.toEqual(a.out);
        inst.setTraining?.(false);
        const e1 = await runAdapter(m, inst, base, N, 5, C, C), e2 = await runAdapter(m, inst, base, N, 5, C, C);
        expect(e1.out).toEqual(e2.out);
        inst.detach();
        // Eval mode equals the same adapter with dropout 0.
        const m0 = newModel(be);
        const i0 = await spec.attach(m0, cfgOf(spec.id, { dropout: 0 }));
        i0.load(new Map(i0.params.filter((p) => p.name.includes('.lora_B.')).map((p) => [p.name, rnd(p.tensor.size, 11)])));
        const z = await runAdapter(m0, i0, base, N, 5, C, C);
        expect(Math.max(...z.out.map((v, i) => Math.abs(v - e1.out[i])))).toBeLessThan(1e-6);
        i0.detach();
      });

      it(`${spec.name}: the dropout path with p → 0 equals the plain path (forward and every gradient)`, async () => {
        const be = await make();
        const run = async (p: number) => {
          const m = newModel(be);
          const inst = await spec.attach(m, cfgOf(spec.id, { dropout: p }));
          inst.load(new Map(inst.params.map((q) => [q.name, rnd(q.tensor.size, q.name.length)])));
          const r = await runAdapter(m, inst, 'model.layers.1.mlp.down_proj', 5, 9, 128, 64);
          inst.detach();
          return r;
        };
        // Like for like: without dropout the GPU computes dxa inside the fused input-gradient kernel, in the
        // tiled GEMM's summation order; with dropout as its own GEMM, which at rank ≤ tuning.smallDim would be
        // the one-invocation-per-output kernel with another order (≈2e-6 apart in float32, the fused one the
        // closer to float64). Held to the tiled kernel here, the two paths differ only in the dropout logic.
        const small = tuning.smallDim;
        tuning.smallDim = 0;
        let plain, tiny;
        try {
          plain = await run(0);
          tiny = await run(1e-9);
        } finally {
          tuning.smallDim = small;
        }
        const rel = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / y.reduce((s, v) => s + v * v, 0));
        expect(rel(tiny.out, plain.out)).toBeLessThan(1e-6);
        expect(rel(tiny.dinp, plain.dinp)).toBeLessThan(1e-6);
        for (const [k, g] of plain.grads) expect(rel(tiny.grads.get(k)!, g), k).toBeLessThan(1e-6);
      });

      it(`${spec.name}: decoding between a forward and its backward leaves the gradients unchanged (dropout on)`, async () => {
        const be = await make();
        const B = 3, T = 16, ids = qwen.ids, targets = new Int32Array(B * T).fill(-1), dlogp = new Float32Array(B * T);
        for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) {
          targets[b * T + t] = ids[b * T + t + 1];
          dlogp[b * T + t] = -1 / (B * (T - 1));
        }
        const grads = async (decode: boolean) => {
          const m = newModel(be);
          const inst = await spec.attach(m, cfgOf(spec.id, { dropout: 0.1, seed: 3 }));
          inst.load(new Map(inst.params.filter((p) => p.name.includes('.lora_B.')).map((p) => [p.name, rnd(p.tensor.size, 2)])));
          inst.zeroGrads();
          m.forward(ids, targets, B, T);
          if (decode) await m.generateGreedy(ids.slice(0, 5), 1, 3);
          m.backward(dlogp);
          const out = await Promise.all(inst.params.map((p) => be.read(p.grad)));
          inst.detach();
          return out;
        };
        const direct = await grads(false), around = await grads(true);
        for (let i = 0; i < direct.length; i++) expect(around[i]).toEqual(direct[i]);
      });
    }
  });
}
