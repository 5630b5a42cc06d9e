// AssemblyScript entry point of the CPU backend's kernels (see gemm.ts for the conventions). Every
// job block starts with the op and the task counter; `run` is what the calling thread and every
// pool worker call for a job.
import { gemmRun } from './gemm';
export { transpose } from './gemm';

const OP_GEMM = 1;

export function run(job: usize): void {
  const op = load<i32>(job);
  if (op == OP_GEMM) gemmRun(job);
  else unreachable();
}
