// What the PEFT layer tests share (ia3, miss, vera, spectral; Node only: it reads the fixture files):
// the tiny Qwen2 fixture (on the CPU backend), deterministic inputs, one pass through an adapted layer, and that
// layer measured against the dense layer it should equal.
import { readFileSync } from 'node:fs';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { type LinearAdapter, Model } from '../model/model.ts';
import { loadWeights } from '../model/parity.ts';
import type { PeftInstance } from './types.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const buf = readFileSync(new URL('model.safetensors', dir));

/** The fixture's config. */
export const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));

/** The fixture's weights, a fresh copy. */
export const fixtureWeights = (): Map<string, Float32Array> => loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors');

/** A fresh fixture model on the CPU backend. */
export const newModel = (): Model => new Model(new CpuBackend(), mcfg, fixtureWeights());

/** n deterministic values in ±0.3. */
export const rnd = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.3);

/** One pass through an adapted layer on N rows: y = layer(xs), then (with ds) the gradients from zero
 * and dinp = its input gradient for dout = ds (=). */
export async function adapterPass(model: Model, inst: PeftInstance, ad: LinearAdapter, xs: Float32Array, ds: Float32Array | null,
  N: number, inF: number, outF: number): Promise<{ y: Float32Array; dinp: Float32Array | null }> {
  const be = model.backend;
  const x = be.alloc('x', N * inF), y = be.alloc('y', N * outF);
  be.upload(x, xs);
  ad.forward(y, x, N);
  let dinp: Float32Array | null = null;
  if (ds) {
    const dout = be.alloc('dout', N * outF), tDinp = be.alloc('dinp', N * inF);
    be.upload(dout, ds);
    inst.zeroGrads();
    ad.backward(tDinp, dout, x, N, false);
    dinp = await be.read(tDinp);
    be.free(dout);
    be.free(tDinp);
  }
  const out = { y: await be.read(y), dinp };
  be.free(x);
  be.free(y);
  return out;
}

/** ‖got − want‖ / ‖want‖ over n entries, want(i) in float64; Infinity when got does not have n. */
function relTo(got: ArrayLike<number>, n: number, want: (i: number) => number): number {
  if (got.length !== n) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const s = want(i);
    num += (got[i] - s) ** 2;
    den += s * s;
  }
  return Math.sqrt(num / den);
}

/** y (N,outF) against the dense layer xs·Wᵀ + b (W (outF,inF)), relative L2 in float64. */
export function denseForwardErr(y: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number> | null, xs: ArrayLike<number>, N: number, inF: number, outF: number): number {
  return relTo(y, N * outF, (k) => {
    const n = Math.floor(k / outF), o = k % outF;
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += W[o * inF + i] * xs[n * inF + i];
    return s;
  });
}

/** dinp (N,inF) against the dense layer's input gradient ds·W, relative L2 in float64. */
export function denseInputGradErr(dinp: ArrayLike<number>, W: ArrayLike<number>, ds: ArrayLike<number>, N: number, inF: number, outF: number): number {
  return relTo(dinp, N * inF, (k) => {
    const n = Math.floor(k / inF), i = k % inF;
    let s = 0;
    for (let o = 0; o < outF; o++) s += ds[n * outF + o] * W[o * inF + i];
    return s;
  });
}
