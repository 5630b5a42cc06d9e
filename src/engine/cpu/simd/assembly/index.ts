// AssemblyScript entry point of the CPU backend's kernels (gemm.ts, attention.ts, swiglu.ts, rows.ts). Every job block
// starts with the op and the task counter; `run` is what the calling thread and every pool worker call
// for a job (src/engine/cpu/simd/runtime.ts).
import { gemmRun } from './gemm';
import { attentionBackwardRun, attentionDecodeRun, attentionForwardRun } from './attention';
import { swigluBackwardRun, swigluForwardRun } from './swiglu';
import { addRun, rmsnormBackwardInputRun, rmsnormBackwardWeightRun, rmsnormForwardRun, ropeRun } from './rows';
import { expv } from './expf';
export { packB, packBroadcast, transpose } from './gemm';

// The op codes, as in ../backend.ts.
const OP_GEMM = 1, OP_ATTN_FORWARD = 2, OP_ATTN_DECODE = 3, OP_ATTN_BACKWARD = 4, OP_SWIGLU_FORWARD = 5, OP_SWIGLU_BACKWARD = 6, OP_ADD = 7, OP_RMSNORM_FORWARD = 8;
const OP_RMSNORM_BACKWARD_INPUT = 9, OP_RMSNORM_BACKWARD_WEIGHT = 10, OP_ROPE = 11;

export function run(job: usize): void {
  const op = load<i32>(job);
  if (op == OP_GEMM) gemmRun(job);
  else if (op == OP_ATTN_FORWARD) attentionForwardRun(job);
  else if (op == OP_ATTN_DECODE) attentionDecodeRun(job);
  else if (op == OP_ATTN_BACKWARD) attentionBackwardRun(job);
  else if (op == OP_SWIGLU_FORWARD) swigluForwardRun(job);
  else if (op == OP_SWIGLU_BACKWARD) swigluBackwardRun(job);
  else if (op == OP_ADD) addRun(job);
  else if (op == OP_RMSNORM_FORWARD) rmsnormForwardRun(job);
  else if (op == OP_RMSNORM_BACKWARD_INPUT) rmsnormBackwardInputRun(job);
  else if (op == OP_RMSNORM_BACKWARD_WEIGHT) rmsnormBackwardWeightRun(job);
  else if (op == OP_ROPE) ropeRun(job);
  else unreachable();
}

/** bytes of zeros at ptr (bulk memory: a memset, where typed-array fill on shared memory is slow). */
export function zero(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/** dst[i] = e^src[i] (expf.ts) over n floats, for the tests: vectors, then the tail lane by lane. */
export function exps(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), expv(v128.load(src + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), f32x4.extract_lane(expv(f32x4.splat(load<f32>(src + (<usize>i << 2)))), 0));
}

/** For b < B, t < T: `bytes` from src + b·srcB + t·srcT to dst + b·dstB + t·dstT (byte strides; a KV-cache
 * write, or v out of a stacked [q|k|v] row). */
export function copyBlocks(dst: usize, dstB: usize, dstT: usize, src: usize, srcB: usize, srcT: usize, bytes: usize, B: i32, T: i32): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) memory.copy(dst + <usize>b * dstB + <usize>t * dstT, src + <usize>b * srcB + <usize>t * srcT, bytes);
  }
}
