// Decode fusion: RMSNorm as the prologue of a matmul, optionally with SwiGLU as its epilogue.
//   ln (N,C)  = x · rstd · lnw, rstd = 1/sqrt(mean(x²) + eps)   (as rmsnorm_forward.wgsl, same sums)
//   out (N,OC) = ln · wᵀ                                         (GATED = false)
//   out (N,OC) = silu(ln · wᵀ) ⊙ (ln · w2ᵀ)                      (GATED: gate_proj, up_proj)
// reads: x (N,C), lnw (C), w (OC,C), w2 (OC,C) (bound but unread unless GATED); writes: out (N,OC) (=).
// One workgroup per row: the row's norm into workgroup memory (C ≤ 2048), then each invocation owns
// outputs t, t + WG, ...: a dot product over C with four running sums folded in a fixed order.
// Folded 1-D dispatch over N workgroups. References: rmsnorm.ref.ts, matmul.ref.ts, swiglu.ref.ts.
// #include core/common
// #include core/tree_sum
// #include core/rmsnorm_rstd
override GATED: bool = false;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> lnw: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> w2: array<f32>;
struct Params { N: u32, C: u32, OC: u32, eps: f32 }
@group(0) @binding(5) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;
var<workgroup> ln: array<f32, 2048>;

// #include core/norm_prologue

fn dot_w(o: u32, C: u32) -> f32 {
  var s4 = vec4f(0.0);
  var k = 0u;
  for (; k + 4u <= C; k += 4u) {
    s4 += vec4f(ln[k], ln[k + 1u], ln[k + 2u], ln[k + 3u]) * vec4f(w[o + k], w[o + k + 1u], w[o + k + 2u], w[o + k + 3u]);
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (; k < C; k++) { s += ln[k] * w[o + k]; }
  return s;
}

fn dot_w2(o: u32, C: u32) -> f32 {
  var s4 = vec4f(0.0);
  var k = 0u;
  for (; k + 4u <= C; k += 4u) {
    s4 += vec4f(ln[k], ln[k + 1u], ln[k + 2u], ln[k + 3u]) * vec4f(w2[o + k], w2[o + k + 1u], w2[o + k + 2u], w2[o + k + 3u]);
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (; k < C; k++) { s += ln[k] * w2[o + k]; }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; }
  let C = P.C;
  norm_prologue(row * C, C, P.eps, t);
  for (var j = t; j < P.OC; j += WG) {
    let g = dot_w(j * C, C);
    if (GATED) {
      let sg = 1.0 / (1.0 + exp(-g));
      out[row * P.OC + j] = g * sg * dot_w2(j * C, C);
    } else {
      out[row * P.OC + j] = g;
    }
  }
}
