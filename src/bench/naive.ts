// The baseline every matmul number is compared with: the textbook one-output-per-invocation WGSL
// kernel (no tiling, no workgroup memory, no register blocking), run through the same execution
// context as the engine's kernels so dispatch overhead is identical. Inline here rather than in
// shaders/ because it is not part of the engine.
import type { Tensor } from '../engine/backend.ts';
import { U, type GpuContext } from '../engine/webgpu/context.ts';

export const NAIVE_SHADER = 'bench/naive_matmul';

/** out (M,N) = a (M,K) · bᵀ with b (N,K): the layout of matmulForward (out = inp · wᵀ). */
export const NAIVE_WGSL = /* wgsl */ `
struct Params { M: u32, N: u32, K: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  let m = gid.y;
  if (m >= p.M || n >= p.N) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc += a[m * p.K + k] * b[n * p.K + k];
  }
  out[m * p.N + n] = acc;
}
`;

/** The shader table the bench's backend is built with: the engine's shaders plus the baseline. */
export function withBenchShaders(shaders: Record<string, string>): Record<string, string> {
  return { ...shaders, [NAIVE_SHADER]: NAIVE_WGSL };
}

/** Encode out (M,N) = a (M,K) · bᵀ with the naive kernel. */
export function naiveMatmul(ctx: GpuContext, out: Tensor, a: Tensor, b: Tensor, M: number, K: number, N: number): void {
  const maxDim = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.ceil(N / 16), y = Math.ceil(M / 16);
  if (x > maxDim || y > maxDim) throw new Error(`naive matmul ${M}×${N}: too many workgroups along one dimension`);
  ctx.dispatch(NAIVE_SHADER, [out, a, b], [U(M), U(N), U(K)], [x, y, 1]);
}
