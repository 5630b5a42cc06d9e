// The WebGPU backend: storage lives in GPUBuffers, each op encodes WGSL dispatches into the
// context's open command encoder (one submission per forward/backward unless something reads).
// The op bodies live in ops/<family>.ts, one file per kernel family named as its shaders
// (shaders/core/<family>*.wgsl; the PEFT kernels' in shaders/peft/) and its CPU reference
// (src/engine/ref/<family>.ref.ts).
import type { AdamWShared, AdamWTensor, Backend, DType, Tensor, TokenColumn } from '../backend.ts';
import { GpuContext, gpuTensor } from './context.ts';
import type { GpuHandle } from './device.ts';
import { add } from './ops/add.ts';
import { adamw, sumSquares } from './ops/adamw.ts';
import { argmax } from './ops/argmax.ts';
import { attentionBackward, attentionDecode, attentionForward } from './ops/attention.ts';
import { embeddingBackward, embeddingForward } from './ops/embedding.ts';
import { kvWrite } from './ops/kv_write.ts';
import { logprobBackward, logprobForward } from './ops/logprob.ts';
import * as mm from './ops/matmul.ts';
import { normMatmul } from './ops/norm_matmul.ts';
import * as peft from './ops/peft.ts';
import { qkvRope } from './ops/qkv_rope.ts';
import { addRmsnormForward, rmsnormBackwardInput, rmsnormBackwardWeight, rmsnormForward } from './ops/rmsnorm.ts';
import { rope } from './ops/rope.ts';
import { sample } from './ops/sample.ts';
import { swigluBackward, swigluForward } from './ops/swiglu.ts';

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly ctx: GpuContext;

  constructor(handle: GpuHandle, shaders: Record<string, string>) {
    this.ctx = new GpuContext(handle, shaders);
  }

  alloc(label: string, size: number, dtype: DType = 'f32'): Tensor {
    return this.ctx.createTensor(label, size, dtype);
  }
  free(t: Tensor): void {
    this.ctx.release(gpuTensor(t));
  }
  upload(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    const g = gpuTensor(t);
    if ((g.dtype === 'i32') !== data instanceof Int32Array) throw new Error(`upload to "${t.label}": dtype is ${g.dtype}`);
    this.ctx.write(g, data, offset);
  }
  async read(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32') throw new Error(`read("${t.label}"): tensor is ${t.dtype}, use readInt`);
    return new Float32Array(await this.ctx.readBytes(gpuTensor(t)));
  }
  async readInt(t: Tensor): Promise<Int32Array> {
    if (t.dtype !== 'i32') throw new Error(`readInt("${t.label}"): tensor is ${t.dtype}, use read`);
    return new Int32Array(await this.ctx.readBytes(gpuTensor(t)));
  }
  zero(t: Tensor): void {
    this.ctx.clear(gpuTensor(t));
  }
  zeroAll(ts: Tensor[]): void {
    this.ctx.clearAll(ts.map(gpuTensor));
  }
  copy(dst: Tensor, src: Tensor, n: number, dstOff = 0, srcOff = 0): void {
    if (dstOff + n > dst.size || srcOff + n > src.size) throw new Error(`copy ${src.label} -> ${dst.label}: range out of bounds`);
    this.ctx.copy(gpuTensor(dst), gpuTensor(src), n, dstOff, srcOff);
  }
  pack(label: string, tensors: Tensor[]): void {
    this.ctx.pack(label, tensors.map(gpuTensor));
  }
  sync(): Promise<void> {
    return this.ctx.sync();
  }

  embeddingForward(out: Tensor, ids: Tensor, wte: Tensor, N: number, C: number): void {
    embeddingForward(this.ctx, out, ids, wte, N, C);
  }
  embeddingBackward(dwte: Tensor, dout: Tensor, ids: Tensor, N: number, C: number, V: number): void {
    embeddingBackward(this.ctx, dwte, dout, ids, N, C, V);
  }
  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, N: number, C: number, eps: number): void {
    rmsnormForward(this.ctx, out, rstd, inp, w, N, C, eps);
  }
  addRmsnormForward(sum: Tensor, out: Tensor, rstd: Tensor, x: Tensor, d: Tensor, w: Tensor, N: number, C: number, eps: number): void {
    addRmsnormForward(this.ctx, sum, out, rstd, x, d, w, N, C, eps);
  }

  rmsnormBackwardInput(dinp: Tensor, dout: Tensor, inp: Tensor, w: Tensor, rstd: Tensor, N: number, C: number): void {
    rmsnormBackwardInput(this.ctx, dinp, dout, inp, w, rstd, N, C);
  }
  rmsnormBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
    rmsnormBackwardWeight(this.ctx, dw, dout, inp, rstd, N, C);
  }
  matmulForward(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, N: number, C: number, OC: number, accumulate = false, scale = 1): void {
    mm.matmulForward(this.ctx, out, inp, w, bias, N, C, OC, accumulate, scale);
  }
  matmulBackwardInput(dinp: Tensor, dout: Tensor, w: Tensor, N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
    mm.matmulBackwardInput(this.ctx, dinp, dout, w, N, C, OC, accumulate, scale);
  }
  matmulBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, scale = 1): void {
    mm.matmulBackwardWeight(this.ctx, dw, dout, inp, N, C, OC, scale);
  }
  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void {
    mm.biasBackward(this.ctx, dbias, dout, N, OC);
  }
  rope(qOut: Tensor, q: Tensor, kOut: Tensor, k: Tensor, B: number, T: number, NH: number, NKV: number, HS: number,
    base: number, pos0: number, inverse: boolean): void {
    rope(this.ctx, qOut, q, kOut, k, B, T, NH, NKV, HS, base, pos0, inverse);
  }
  attentionForward(out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void {
    attentionForward(this.ctx, out, att, q, k, v, B, T, NH, NKV, HS);
  }
  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, att: Tensor,
    B: number, T: number, NH: number, NKV: number, HS: number): void {
    attentionBackward(this.ctx, dq, dk, dv, scratch, dout, q, k, v, att, B, T, NH, NKV, HS);
  }
  attentionDecode(out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number, pos0: number, Tmax: number,
    NH: number, NKV: number, HS: number): void {
    attentionDecode(this.ctx, out, q, kcache, vcache, B, Tq, pos0, Tmax, NH, NKV, HS);
  }
  kvWrite(cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
    kvWrite(this.ctx, cache, x, B, Tq, pos0, Tmax, W);
  }
  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    swigluForward(this.ctx, out, gate, up, n);
  }
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    swigluBackward(this.ctx, dgate, dup, dout, gate, up, n);
  }
  add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    add(this.ctx, out, a, b, n);
  }
  logprobForward(logp: Tensor, lse: Tensor, logits: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
    logprobForward(this.ctx, logp, lse, logits, targets, N, V, scale);
  }
  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, lse: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
    logprobBackward(this.ctx, dlogits, dlogp, logits, lse, targets, N, V, scale);
  }
  argmax(out: Tensor, logits: Tensor, N: number, V: number, column: TokenColumn): void {
    argmax(this.ctx, out, logits, N, V, column);
  }
  sample(ids: Tensor, logp: Tensor, entropy: Tensor, logits: Tensor, B: number, V: number, temperature: number, topP: number,
    seed: number, offset: number, stride: number, column: TokenColumn): void {
    sample(this.ctx, ids, logp, entropy, logits, B, V, temperature, topP, seed, offset, stride, column);
  }
  scaleCols(out: Tensor, inp: Tensor, s: Tensor, bias: Tensor | null, N: number, OC: number, accumulate: boolean): void {
    peft.scaleCols(this.ctx, out, inp, s, bias, N, OC, accumulate);
  }
  scaleColsBackward(ds: Tensor, dout: Tensor, inp: Tensor, N: number, OC: number): void {
    peft.scaleColsBackward(this.ctx, ds, dout, inp, N, OC);
  }
  rowNorm(out: Tensor, x: Tensor, N: number, C: number): void {
    peft.rowNorm(this.ctx, out, x, N, C);
  }
  div(out: Tensor, a: Tensor, b: Tensor, n: number, accumulate: boolean): void {
    peft.div(this.ctx, out, a, b, n, accumulate);
  }
  chunkSum(xbar: Tensor, x: Tensor, N: number, C: number, R: number): void {
    peft.chunkSum(this.ctx, xbar, x, N, C, R);
  }
  chunkSumBackward(dx: Tensor, dxbar: Tensor, N: number, C: number, R: number, accumulate: boolean): void {
    peft.chunkSumBackward(this.ctx, dx, dxbar, N, C, R, accumulate);
  }
  dropout(out: Tensor, inp: Tensor, n: number, p: number, seed: number): void {
    peft.dropout(this.ctx, out, inp, n, p, seed);
  }
  sumSquares(sqnorm: Tensor, xs: Tensor[]): void {
    sumSquares(this.ctx, sqnorm, xs);
  }
  adamw(tensors: AdamWTensor[], sqnorm: Tensor, normSlots: number, p: AdamWShared): void {
    adamw(this.ctx, tensors, sqnorm, normSlots, p);
  }

  normMatmul(out: Tensor, x: Tensor, lnw: Tensor, w: Tensor, w2: Tensor | null, N: number, C: number, OC: number, eps: number): void {
    normMatmul(this.ctx, out, x, lnw, w, w2, N, C, OC, eps);
  }
  qkvRope(q: Tensor, kcache: Tensor, vcache: Tensor, x: Tensor, lnw: Tensor, w: Tensor, bias: Tensor | null,
    B: number, Tq: number, pos0: number, Tmax: number, C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void {
    qkvRope(this.ctx, q, kcache, vcache, x, lnw, w, bias, B, Tq, pos0, Tmax, C, NH, NKV, HS, eps, base);
  }
  linearLowRank(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, xa: Tensor, b: Tensor,
    N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void {
    mm.linearLowRank(this.ctx, out, inp, w, bias, xa, b, N, C, OC, R, scale2, accumulate);
  }
  linearLowRankBackwardInput(dinp: Tensor, dxa: Tensor, dout: Tensor, w: Tensor, b: Tensor, a: Tensor,
    N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void {
    mm.linearLowRankBackwardInput(this.ctx, dinp, dxa, dout, w, b, a, N, C, OC, R, scale2, accumulate);
  }
}
