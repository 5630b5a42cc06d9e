// Decode fusion: the attention block's input side in one dispatch, for rows n = b·Tq + t at
// positions pos = pos0 + t:
//   ln (N,C) = rmsnorm(x) · lnw                         (as rmsnorm_forward.wgsl, same sums)
//   [q | k | v] = ln · wᵀ + bias, w = [Wq; Wk; Wv] ((NH + 2·NKV)·HS, C), bias likewise (if HAS_BIAS)
//   q (N, NH·HS)                  = rope(q)  at pos      (as rope.wgsl, same angles and sincos)
//   kcache (B,Tmax,NKV·HS)[b,pos] = rope(k);  vcache[b,pos] = v
// reads: x, lnw, w, bias (bound but unread unless HAS_BIAS), inv_freq (HS/2); writes q, kcache, vcache (=).
// One workgroup per row (norm into workgroup memory, C ≤ 2048); each invocation owns rotation pairs
// (i, i + HS/2) of one head: two dot products, then the rotation (v: none). Folded dispatch over N.
// References: rmsnorm.ref.ts, matmul.ref.ts, rope.ref.ts, kv_write.ref.ts.
// #include core/common
// #include core/tree_sum
// #include core/rmsnorm_rstd
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> kcache: array<f32>;
@group(0) @binding(2) var<storage, read_write> vcache: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> lnw: array<f32>;
@group(0) @binding(5) var<storage, read> w: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> inv_freq: array<f32>;
struct Params { N: u32, Tq: u32, pos0: u32, Tmax: u32, C: u32, NH: u32, NKV: u32, half: u32, eps: f32 }
@group(0) @binding(8) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;
var<workgroup> ln: array<f32, 2048>;

// #include core/norm_prologue

// #include core/sincos

fn dot_row(r: u32, C: u32) -> f32 {
  let o = r * C;
  var s4 = vec4f(0.0);
  var k = 0u;
  for (; k + 4u <= C; k += 4u) {
    s4 += vec4f(ln[k], ln[k + 1u], ln[k + 2u], ln[k + 3u]) * vec4f(w[o + k], w[o + k + 1u], w[o + k + 2u], w[o + k + 3u]);
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (; k < C; k++) { s += ln[k] * w[o + k]; }
  if (HAS_BIAS) { s += bias[r]; }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; }
  let C = P.C;
  norm_prologue(row * C, C, P.eps, t);

  let half = P.half;
  let HS = 2u * half;
  let b = row / P.Tq;
  let pos = P.pos0 + row % P.Tq;
  let KD = P.NKV * HS;
  let units = (P.NH + 2u * P.NKV) * half;
  for (var u = t; u < units; u += WG) {
    let h = u / half;            // head in [q heads | k heads | v heads]
    let i = u % half;
    let d1 = dot_row(h * HS + i, C);
    let d2 = dot_row(h * HS + i + half, C);
    if (h >= P.NH + P.NKV) {
      let dst = (b * P.Tmax + pos) * KD + (h - P.NH - P.NKV) * HS + i;
      vcache[dst] = d1;
      vcache[dst + half] = d2;
      continue;
    }
    let sc = sincos(f32(pos) * inv_freq[i]);
    let r1 = d1 * sc.y - d2 * sc.x;
    let r2 = d2 * sc.y + d1 * sc.x;
    if (h < P.NH) {
      let dst = row * P.NH * HS + h * HS + i;
      q[dst] = r1;
      q[dst + half] = r2;
    } else {
      let dst = (b * P.Tmax + pos) * KD + (h - P.NH) * HS + i;
      kcache[dst] = r1;
      kcache[dst + half] = r2;
    }
  }
}
