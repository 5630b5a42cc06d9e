// Inverted dropout with a counter-based hash (LoRA dropout). The mask is a pure function of
// (seed, element index), so the backward pass is the same kernel on the gradient, and the CPU
// reference (src/engine/ref/peft.ref.ts) agrees bit for bit:
//   pcg(v)        = state = v·747796405 + 2891336453; word = ((state >> ((state >> 28) + 4)) ^ state)
//                   · 277803737; return (word >> 22) ^ word          (all u32, wrapping)
//   keep(seed, i) = (pcg(i ^ pcg(seed)) >> 8) / 2²⁴ ≥ p
//   out (n)[i]    = keep ? inp (n)[i] · scale : 0
// The host passes threshold = ceil(p·2²⁴), so keep is the exact integer test (pcg(..) >> 8) ≥
// threshold (no float rounding of p), and scale = 1/(1−p) rounded to float32 (0 when p = 1): one
// correctly rounded f32 multiply, the same number the reference stores. p = 0: threshold 0,
// scale 1, a copy (ops/peft.ts copies the buffer instead, so NaN payloads and subnormals, which
// a GPU may flush, survive too).
// Reads inp; writes out (=). Entry `main`: out and inp distinct (Params at 2); entry `main_inplace`:
// out is also the input (Params at 1; binding 1 is declared twice, no entry point uses both).
// One invocation per element; folded 1-D dispatch of ceil(n / WG) workgroups.
// #include core/common
struct Params { n: u32, seed: u32, threshold: u32, scale: f32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
@group(0) @binding(1) var<uniform> PI: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn apply(p: Params, i: u32, x: f32) -> f32 {
  let keep = (pcg(i ^ pcg(p.seed)) >> 8u) >= p.threshold;
  return select(0.0, x * p.scale, keep);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = P;
  let i = folded(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = apply(p, i, inp[i]);
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = PI;
  let i = folded(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = apply(p, i, out[i]);
}
