// AssemblyScript entry point of the CPU backend's kernels (gemm.ts, attention.ts, swiglu.ts, rows.ts). Every job block
// starts with the op and the task counter; `run` is what the calling thread and every pool worker call
// for a job (src/engine/cpu/simd/runtime.ts).
import { gemmRun } from './gemm';
import { attentionBackwardRun, attentionDecodeRun, attentionForwardRun } from './attention';
import { swigluBackwardRun, swigluForwardRun } from './swiglu';
import { addRun, rmsnormForwardRun } from './rows';
export { transpose } from './gemm';

// The op codes, as in ../backend.ts.
const OP_GEMM = 1, OP_ATTN_FORWARD = 2, OP_ATTN_DECODE = 3, OP_ATTN_BACKWARD = 4, OP_SWIGLU_FORWARD = 5, OP_SWIGLU_BACKWARD = 6, OP_ADD = 7, OP_RMSNORM_FORWARD = 8;

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
  else unreachable();
}

/** bytes of zeros at ptr (bulk memory: a memset, where typed-array fill on shared memory is slow). */
export function zero(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}
