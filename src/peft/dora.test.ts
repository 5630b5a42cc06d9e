// DoRA against a float64 hand computation of one adapted layer (bias included): forward, the
// detached-norm gradients of A, B and m, the input gradient, the merged weight, and the init
// m = ‖W₀‖_row. On the CPU backend and on WebGPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../engine/backend.ts';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights, relErr } from '../model/parity.ts';
import { dora } from './dora.ts';
import { defaultPeftConfig } from './registry.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const buf = readFileSync(new URL('model.safetensors', dir));
const weights = loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors');
const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const rnd = (n: number, seed: number, amp = 0.5) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * amp);

/** Float64 DoRA of one layer: y = b + (m/n)⊙(W₀x + s·BAx), n = ‖W₀ + s·BA‖_row treated as a constant. */
function reference(W: Float32Array, bias: Float32Array | null, A: Float32Array, B: Float32Array, m: Float32Array, s: number,
  x: Float32Array, dout: Float32Array, N: number, inF: number, outF: number, r: number) {
  const V = new Float64Array(outF * inF), n = new Float64Array(outF);
  for (let o = 0; o < outF; o++) {
    for (let c = 0; c < inF; c++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * inF + c];
      V[o * inF + c] = W[o * inF + c] + s * ba;
      n[o] += V[o * inF + c] ** 2;
    }
    n[o] = Math.sqrt(n[o]);
  }
  const y = new Float64Array(N * outF), h = new Float64Array(N * outF), xa = new Float64Array(N * r);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < r; k++) for (let c = 0; c < inF; c++) xa[i * r + k] += A[k * inF + c] * x[i * inF + c];
    for (let o = 0; o < outF; o++) {
      let v = 0;
      for (let c = 0; c < inF; c++) v += W[o * inF + c] * x[i * inF + c];
      for (let k = 0; k < r; k++) v += s * B[o * r + k] * xa[i * r + k];
      h[i * outF + o] = v;
      y[i * outF + o] = (bias ? bias[o] : 0) + (m[o] / n[o]) * v;
    }
  }
  const dm = new Float64Array(outF), dA = new Float64Array(r * inF), dB = new Float64Array(outF * r), dx = new Float64Array(N * inF);
  for (let i = 0; i < N; i++) {
    const dxa = new Float64Array(r);
    for (let o = 0; o < outF; o++) {
      const g = dout[i * outF + o], dh = (g * m[o]) / n[o];
      dm[o] += (g * h[i * outF + o]) / n[o];
      for (let k = 0; k < r; k++) {
        dB[o * r + k] += s * dh * xa[i * r + k];
        dxa[k] += s * dh * B[o * r + k];
      }
      for (let c = 0; c < inF; c++) dx[i * inF + c] += dh * W[o * inF + c];
    }
    for (let k = 0; k < r; k++) {
      for (let c = 0; c < inF; c++) {
        dA[k * inF + c] += dxa[k] * x[i * inF + c];
        dx[i * inF + c] += dxa[k] * A[k * inF + c];
      }
    }
  }
  const merged = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) for (let c = 0; c < inF; c++) merged[o * inF + c] = (m[o] / n[o]) * V[o * inF + c];
  return { y, dm, dA, dB, dx, merged };
}

const backends: [string, () => Promise<Backend>][] = [['cpu', async () => new CpuBackend()], ['webgpu', testGpu]];

for (const [bname, make] of backends) {
  describe(`DoRA layer on ${bname}`, () => {
    it('init: m = ‖W₀‖_row, B = 0 (so the adapted model starts equal to the base model)', async () => {
      const m = new Model(await make(), mcfg, weights);
      const inst = await dora.attach(m, { ...defaultPeftConfig('dora'), r: 4, alpha: 8, dropout: 0 });
      const snap = await inst.snapshot();
      const W = weights.get('model.layers.1.mlp.up_proj.weight')!;
      const mag = snap.get('base_model.model.model.layers.1.mlp.up_proj.lora_magnitude_vector.default.weight')!;
      for (let o = 0; o < 128; o++) {
        let ss = 0;
        for (let c = 0; c < 64; c++) ss += W[o * 64 + c] ** 2;
        expect(Math.abs(mag[o] - Math.sqrt(ss))).toBeLessThan(1e-6);
      }
      expect(snap.get('base_model.model.model.layers.1.mlp.up_proj.lora_B.default.weight')!.every((v) => v === 0)).toBe(true);
      inst.detach();
    });

    for (const [base, inF, outF] of [['model.layers.0.self_attn.k_proj', 64, 32], ['model.layers.1.mlp.down_proj', 128, 64]] as const) {
      it(`${base}: forward, detached-norm gradients, input gradient and merged weight match a float64 reference`, async () => {
        const be = await make();
        const m = new Model(be, mcfg, weights);
        const r = 3, s = 5 / 3, N = 7;
        const inst = await dora.attach(m, { ...defaultPeftConfig('dora'), r, alpha: 5, dropout: 0, targets: ['k_proj', 'down_proj'] });
        const pre = `base_model.model.${base}`;
        const A = rnd(r * inF, 1), B = rnd(outF * r, 2), mag = rnd(outF, 3).map((v) => 1 + v);
        inst.load(new Map([[`${pre}.lora_A.default.weight`, A], [`${pre}.lora_B.default.weight`, B], [`${pre}.lora_magnitude_vector.default.weight`, mag]]));
        const x = rnd(N * inF, 4), dout = rnd(N * outF, 5);
        const X = be.alloc('x', N * inF), D = be.alloc('dout', N * outF), Y = be.alloc('y', N * outF), DX = be.alloc('dx', N * inF);
        be.upload(X, x);
        be.upload(D, dout);
        inst.zeroGrads();
        const ad = m.adapters.get(base)!;
        ad.forward(Y, X, N);
        ad.backward(DX, D, X, N, false);
        const want = reference(weights.get(`${base}.weight`)!, weights.get(`${base}.bias`) ?? null, A, B, mag, s, x, dout, N, inF, outF, r);
        const grad = async (suffix: string) => be.read(inst.params.find((p) => p.name === `${pre}.${suffix}`)!.grad);
        expect(relErr(await be.read(Y), want.y)).toBeLessThan(1e-6);
        expect(relErr(await be.read(DX), want.dx)).toBeLessThan(1e-5);
        expect(relErr(await grad('lora_A.default.weight'), want.dA)).toBeLessThan(1e-5);
        expect(relErr(await grad('lora_B.default.weight'), want.dB)).toBeLessThan(1e-5);
        expect(relErr(await grad('lora_magnitude_vector.default.weight'), want.dm)).toBeLessThan(1e-5);
        expect(relErr((await inst.merged()).get(`${base}.weight`)!, want.merged)).toBeLessThan(1e-6);
        for (const t of [X, D, Y, DX]) be.free(t);
        inst.detach();
      });
    }
  });
}
