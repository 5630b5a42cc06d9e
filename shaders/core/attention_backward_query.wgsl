// Attention backward, part 1 of 2: everything owned by a query row (b, t, h).
// reads:  dout (B,T,NH,HS), k, v (B,T,NKV,HS), att (B,NH,T,T) (the forward's probabilities)
// writes: scratch (B,NH,T,T) (=) dpre = d(scores), scores = q·kᵀ·scale: for s ≤ t
//           dpre[t,s] = att[t,s] · (datt[t,s] − Σ_s' att[t,s']·datt[t,s']),  datt[t,s] = dout[t]·v[s]
//         and 0 above the diagonal;
//         dq (B,T,NH,HS) (=) scale · Σ_{s ≤ t} dpre[t,s] · k[s].
// One workgroup per row, laid out as attention_forward.wgsl: (A) each invocation takes keys
// j ≡ lid (mod WG) and sums att·datt, a fixed-order tree adds the partials; (B) in chunks of WG
// keys each invocation recomputes its datt, writes dpre and parks it in workgroup memory, then
// the workgroup adds Σ dpre·k into named accumulators (lane d0, slice sl; DW = min(HS, WG),
// S = WG/DW slices merged in a fixed order). HS ≤ 256. dk, dv: attention_backward_kv.wgsl.
@group(0) @binding(0) var<storage, read_write> dq: array<f32>;
@group(0) @binding(1) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read> att: array<f32>;
struct Params { rows: u32, T: u32, NH: u32, NKV: u32, HS: u32, scale: f32 }
@group(0) @binding(6) var<uniform> P: Params;

const WG: u32 = 64u;

var<workgroup> drow: array<f32, 256>;
var<workgroup> red: array<f32, WG>;
var<workgroup> wts: array<f32, WG>;

// datt = dout_row · v[vb .. vb+HS)
fn datt(vb: u32) -> f32 {
  let hs = P.HS;
  var acc = 0.0;
  var d = 0u;
  for (; d + 4u <= hs; d += 4u) {
    acc += dot(vec4f(drow[d], drow[d + 1u], drow[d + 2u], drow[d + 3u]),
               vec4f(v[vb + d], v[vb + d + 1u], v[vb + d + 2u], v[vb + d + 3u]));
  }
  for (; d < hs; d++) { acc += drow[d] * v[vb + d]; }
  return acc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;      // (b*T + t)*NH + h, q's row order
  if (row >= P.rows) { return; }
  let HS = P.HS;
  let T = P.T;
  let h = row % P.NH;
  let bt = row / P.NH;
  let t = bt % T;
  let b = bt / T;
  let kh = h / (P.NH / P.NKV);
  let kstride = P.NKV * HS;
  let kb = (b * T * P.NKV + kh) * HS;
  let qo = row * HS;
  let ao = ((b * P.NH + h) * T + t) * T;

  for (var d = lid; d < HS; d += WG) { drow[d] = dout[qo + d]; }
  workgroupBarrier();

  // (A) Σ_s att·datt over keys 0 ..= t.
  var part = 0.0;
  for (var j = lid; j <= t; j += WG) { part += att[ao + j] * datt(kb + j * kstride); }
  red[lid] = part;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) { red[lid] += red[lid + st]; }
    workgroupBarrier();
  }
  let R = red[0];

  // (B) dpre chunk by chunk, and dq = scale · Σ dpre·k.
  let DW = min(HS, WG);
  let S = WG / DW;
  let sl = lid / DW;
  let d0 = lid % DW;
  var a0 = 0.0;
  var a1 = 0.0;
  var a2 = 0.0;
  var a3 = 0.0;
  for (var c0 = 0u; c0 <= t; c0 += WG) {
    let j = c0 + lid;
    var ds = 0.0;
    if (j <= t) {
      ds = att[ao + j] * (datt(kb + j * kstride) - R);
      scratch[ao + j] = ds;
    }
    wts[lid] = ds;
    workgroupBarrier();
    let n = min(WG, t + 1u - c0);
    if (sl < S) {
      for (var jj = sl; jj < n; jj += S) {
        let w = wts[jj];
        let ko = kb + (c0 + jj) * kstride + d0;
        a0 += w * k[ko];
        if (d0 + DW < HS) { a1 += w * k[ko + DW]; }
        if (d0 + 2u * DW < HS) { a2 += w * k[ko + 2u * DW]; }
        if (d0 + 3u * DW < HS) { a3 += w * k[ko + 3u * DW]; }
      }
    }
    workgroupBarrier();
  }
  for (var j = t + 1u + lid; j < T; j += WG) { scratch[ao + j] = 0.0; }

  let sc = P.scale;
  if (S == 1u) {
    if (sl == 0u) {                     // HS in (WG/2, WG): lanes past HS hold nothing
      dq[qo + d0] = sc * a0;
      if (d0 + DW < HS) { dq[qo + d0 + DW] = sc * a1; }
      if (d0 + 2u * DW < HS) { dq[qo + d0 + 2u * DW] = sc * a2; }
      if (d0 + 3u * DW < HS) { dq[qo + d0 + 3u * DW] = sc * a3; }
    }
  } else {
    red[lid] = a0;                      // slices' partial sums (red is free again)
    workgroupBarrier();
    if (lid < DW) {
      var acc = 0.0;
      for (var r = 0u; r < S; r++) { acc += red[r * DW + lid]; }
      dq[qo + lid] = sc * acc;
    }
  }
}
