// Causal grouped-query attention, one workgroup per query row. Serves both the training forward
// and the KV-cache decode (same code, so decode reproduces the forward bit for bit).
// reads:  q (B,Tq,NH,HS); k, v (B,Tk,NKV,HS) — the sequence itself (Tk = Tq, pos0 = 0) or a KV
//         cache (Tk = Tmax) holding positions 0 .. pos0+Tq−1.
// writes: out (B,Tq,NH,HS) (=);
//         att (B,NH,Tq,Tq) (=) the softmax probabilities, 0 above the diagonal — only when
//         write_att != 0 (the forward; decode binds a dummy tensor and skips it).
// Query t (position pos0+t) of head h attends to keys 0 ..= pos0+t of kv head h / (NH/NKV),
// scores q·k · scale (scale = 1/sqrt(HS)).
//
// Per row: (A) each invocation scores keys j ≡ lid (mod WG) and keeps an online softmax (max,
// sum); a fixed-order tree merges the 64 partial (max, sum) pairs. (B) keys in chunks of WG:
// each invocation recomputes its key's score (cheaper than a round trip through memory),
// p = exp(s − max)/sum, writes att, and parks p in workgroup memory; then the workgroup adds
// Σ p·v into registers: invocation (slice sl, lane d0) covers channels d0, d0+DW, d0+2DW,
// d0+3DW (DW = min(HS, WG)) over keys jj ≡ sl (mod S), S = WG/DW slices, merged in a fixed
// order at the end. Named accumulators, no run-time-indexed private arrays. HS ≤ 256.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> att: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
struct Params { rows: u32, Tq: u32, pos0: u32, Tk: u32, NH: u32, NKV: u32, HS: u32, scale: f32, write_att: u32 }
@group(0) @binding(5) var<uniform> P: Params;

const WG: u32 = 64u;
const NEG: f32 = -3.0e38;   // "minus infinity" that keeps exp(m − m') and 0·exp(...) finite

var<workgroup> qrow: array<f32, 256>;
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_l: array<f32, WG>;
var<workgroup> wts: array<f32, WG>;

// scale · q_row · k[kb .. kb+HS)
fn score(kb: u32) -> f32 {
  let hs = P.HS;
  var acc = 0.0;
  var d = 0u;
  for (; d + 4u <= hs; d += 4u) {
    acc += dot(vec4f(qrow[d], qrow[d + 1u], qrow[d + 2u], qrow[d + 3u]),
               vec4f(k[kb + d], k[kb + d + 1u], k[kb + d + 2u], k[kb + d + 3u]));
  }
  for (; d < hs; d++) { acc += qrow[d] * k[kb + d]; }
  return acc * P.scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;      // (b*Tq + t)*NH + h, q's row order
  if (row >= P.rows) { return; }
  let HS = P.HS;
  let h = row % P.NH;
  let bt = row / P.NH;
  let t = bt % P.Tq;
  let b = bt / P.Tq;
  let kh = h / (P.NH / P.NKV);
  let last = P.pos0 + t;                // keys 0 ..= last
  let kstride = P.NKV * HS;             // between key positions
  let kb = (b * P.Tk * P.NKV + kh) * HS;
  let qo = row * HS;

  for (var d = lid; d < HS; d += WG) { qrow[d] = q[qo + d]; }
  workgroupBarrier();

  // (A) running max and sum of exp over this invocation's keys, then a tree merge.
  var m = NEG;
  var l = 0.0;
  for (var j = lid; j <= last; j += WG) {
    let s = score(kb + j * kstride);
    if (s > m) { l = l * exp(m - s) + 1.0; m = s; } else { l += exp(s - m); }
  }
  red_m[lid] = m;
  red_l[lid] = l;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) {
      let m1 = red_m[lid];
      let m2 = red_m[lid + st];
      let mm = max(m1, m2);
      red_l[lid] = red_l[lid] * exp(m1 - mm) + red_l[lid + st] * exp(m2 - mm);
      red_m[lid] = mm;
    }
    workgroupBarrier();
  }
  let M = red_m[0];
  let L = red_l[0];

  // (B) probabilities chunk by chunk, and out = Σ p·v.
  let DW = min(HS, WG);
  let S = WG / DW;
  let sl = lid / DW;
  let d0 = lid % DW;
  let ao = ((b * P.NH + h) * P.Tq + t) * P.Tq;
  var a0 = 0.0;
  var a1 = 0.0;
  var a2 = 0.0;
  var a3 = 0.0;
  for (var c0 = 0u; c0 <= last; c0 += WG) {
    let j = c0 + lid;
    var p = 0.0;
    if (j <= last) {
      p = exp(score(kb + j * kstride) - M) / L;
      if (P.write_att != 0u) { att[ao + j] = p; }
    }
    wts[lid] = p;
    workgroupBarrier();
    let n = min(WG, last + 1u - c0);
    if (sl < S) {
      for (var jj = sl; jj < n; jj += S) {
        let w = wts[jj];
        let vo = kb + (c0 + jj) * kstride + d0;
        a0 += w * v[vo];
        if (d0 + DW < HS) { a1 += w * v[vo + DW]; }
        if (d0 + 2u * DW < HS) { a2 += w * v[vo + 2u * DW]; }
        if (d0 + 3u * DW < HS) { a3 += w * v[vo + 3u * DW]; }
      }
    }
    workgroupBarrier();
  }
  if (P.write_att != 0u) {
    for (var j = last + 1u + lid; j < P.Tq; j += WG) { att[ao + j] = 0.0; }
  }

  if (S == 1u) {
    if (sl == 0u) {                     // HS in (WG/2, WG): lanes past HS hold nothing
      out[qo + d0] = a0;
      if (d0 + DW < HS) { out[qo + d0 + DW] = a1; }
      if (d0 + 2u * DW < HS) { out[qo + d0 + 2u * DW] = a2; }
      if (d0 + 3u * DW < HS) { out[qo + d0 + 3u * DW] = a3; }
    }
  } else {
    red_l[lid] = a0;                    // slices' partial sums (red_l is free again)
    workgroupBarrier();
    if (lid < DW) {
      var acc = 0.0;
      for (var r = 0u; r < S; r++) { acc += red_l[r * DW + lid]; }
      out[qo + lid] = acc;
    }
  }
}
