// Attention backward, part 2 of 2: everything owned by a key row (b, s, kv head g).
// reads:  scratch (B,NH,T,T) = dpre from attention_backward_query.wgsl, att (B,NH,T,T),
//         q, dout (B,T,NH,HS)
// writes: dk (B,T,NKV,HS) (=) scale · Σ_{h in group g} Σ_{t ≥ s} dpre[b,h,t,s] · q[b,t,h]
//         dv (B,T,NKV,HS) (=)         Σ_{h in group g} Σ_{t ≥ s}  att[b,h,t,s] · dout[b,t,h]
// (group g = query heads g·G .. g·G+G−1, G = NH/NKV). No atomics: one workgroup per key row walks
// its (head, t) pairs in a fixed order, WG at a time: each invocation loads one pair's two
// weights and q/dout row offset into workgroup memory, then the workgroup adds weight·row into
// named accumulators (lane d0, slice sl; DW = min(HS, WG), S = WG/DW slices merged in a fixed
// order), as in attention_forward.wgsl. HS ≤ 256.
@group(0) @binding(0) var<storage, read_write> dk: array<f32>;
@group(0) @binding(1) var<storage, read_write> dv: array<f32>;
@group(0) @binding(2) var<storage, read> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> att: array<f32>;
@group(0) @binding(4) var<storage, read> q: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
struct Params { rows: u32, T: u32, NH: u32, NKV: u32, HS: u32, scale: f32 }
@group(0) @binding(6) var<uniform> P: Params;

const WG: u32 = 64u;

var<workgroup> wk: array<f32, WG>;
var<workgroup> wv: array<f32, WG>;
var<workgroup> offs: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;      // (b*T + s)*NKV + g, k's row order
  if (row >= P.rows) { return; }
  let HS = P.HS;
  let T = P.T;
  let NH = P.NH;
  let g = row % P.NKV;
  let bs = row / P.NKV;
  let s = bs % T;
  let b = bs / T;
  let G = NH / P.NKV;
  let cnt = T - s;                      // queries t = s .. T−1 see key s
  let npairs = G * cnt;

  let DW = min(HS, WG);
  let S = WG / DW;
  let sl = lid / DW;
  let d0 = lid % DW;
  var k0 = 0.0;
  var k1 = 0.0;
  var k2 = 0.0;
  var k3 = 0.0;
  var v0 = 0.0;
  var v1 = 0.0;
  var v2 = 0.0;
  var v3 = 0.0;
  for (var c0 = 0u; c0 < npairs; c0 += WG) {
    let p = c0 + lid;
    var a = 0.0;
    var ds = 0.0;
    var o = 0u;
    if (p < npairs) {
      let h = g * G + p / cnt;
      let t = s + p % cnt;
      let ai = ((b * NH + h) * T + t) * T + s;
      ds = scratch[ai];
      a = att[ai];
      o = ((b * T + t) * NH + h) * HS;
    }
    wk[lid] = ds;
    wv[lid] = a;
    offs[lid] = o;
    workgroupBarrier();
    let n = min(WG, npairs - c0);
    if (sl < S) {
      for (var jj = sl; jj < n; jj += S) {
        let wgt_k = wk[jj];
        let wgt_v = wv[jj];
        let ro = offs[jj] + d0;
        k0 += wgt_k * q[ro];
        v0 += wgt_v * dout[ro];
        if (d0 + DW < HS) { k1 += wgt_k * q[ro + DW]; v1 += wgt_v * dout[ro + DW]; }
        if (d0 + 2u * DW < HS) { k2 += wgt_k * q[ro + 2u * DW]; v2 += wgt_v * dout[ro + 2u * DW]; }
        if (d0 + 3u * DW < HS) { k3 += wgt_k * q[ro + 3u * DW]; v3 += wgt_v * dout[ro + 3u * DW]; }
      }
    }
    workgroupBarrier();
  }

  let ko = row * HS;
  let sc = P.scale;
  if (S == 1u) {
    if (sl == 0u) {                     // HS in (WG/2, WG): lanes past HS hold nothing
      dk[ko + d0] = sc * k0;
      dv[ko + d0] = v0;
      if (d0 + DW < HS) { dk[ko + d0 + DW] = sc * k1; dv[ko + d0 + DW] = v1; }
      if (d0 + 2u * DW < HS) { dk[ko + d0 + 2u * DW] = sc * k2; dv[ko + d0 + 2u * DW] = v2; }
      if (d0 + 3u * DW < HS) { dk[ko + d0 + 3u * DW] = sc * k3; dv[ko + d0 + 3u * DW] = v3; }
    }
  } else {
    wk[lid] = k0;                       // slices' partial sums (the chunk arrays are free again)
    wv[lid] = v0;
    workgroupBarrier();
    if (lid < DW) {
      var acc_k = 0.0;
      var acc_v = 0.0;
      for (var r = 0u; r < S; r++) {
        acc_k += wk[r * DW + lid];
        acc_v += wv[r * DW + lid];
      }
      dk[ko + lid] = sc * acc_k;
      dv[ko + lid] = acc_v;
    }
  }
}
