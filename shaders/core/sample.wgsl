// Token sampling with temperature and top-p (nucleus) truncation, one workgroup per row.
// reads: logits (B,V); writes: ids (B) i32 and tokens at [b·colStride + colOffset] (=), logp and
// entropy at [b·stride + offset] only (=).
// Semantics (src/engine/backend.ts `sample`, CPU reference src/engine/ref/sample.ref.ts):
//   y_v = (logits[b,v] − max) · invT,  e_v = exp(y_v) (e = 1 at the max),  Z = Σ e,  p = e / Z
//   τ   = the largest threshold whose kept mass Σ_{e_v ≥ τ} e_v is ≥ topP · Z (ties at τ all kept);
//         topP ≥ 1 keeps everything
//   u   = (pcg(b ^ pcg(seed)) >> 8) / 2²⁴ (the dropout hash: a pure function of (seed, b))
//   id  = the first kept v in index order whose running kept mass exceeds u · (kept mass)
//   logp = y_id − log Z,  entropy = log Z − (Σ e·y) / Z    (both of the full tempered p)
//   with Z = 1 + R, R = Σ_{v ≠ argmax} e_v, and log Z = log1p(R) evaluated without forming 1 + R:
//   a confident row (R ≪ 1, the common case for a trained policy) keeps full relative precision
//   in its logp ≈ −R and entropy, which log(Z) in f32 would round to 0.
// Phases, all in fixed order (the same bits on every run):
//  1. max and argmax of the raw logits (invT > 0 keeps the order): strided loads, 2-level reduction.
//  2. R and Σ e·y: strided loads, 2-level reduction.
//  3. top-p (only when topP < 1): τ by bisection on the f32 bit pattern of e (the order of
//     non-negative floats is the order of their bits) over [lo, hi), starting from [0, bits(+inf)),
//     keeping M(lo) ≥ topP · Z > M(hi) for the kept mass M(b) = Σ_{bits(e) ≥ b} e. Each step is one
//     workgroup reduction at mid = (lo + hi) / 2 of M(mid), the smallest and largest pattern in
//     [mid, hi) and the largest in [lo, mid); the bracket then snaps onto token patterns (lo to the
//     smallest kept pattern, hi to one past the largest dropped one: M is unchanged by the snap) and
//     stops once it holds a single pattern. At most 31 steps; ~5 at V = 11, ~17 at V = 50k. Exact for
//     the definition above: ties at τ have equal bits, so all are kept.
//  4. inverse CDF in index order: thread t owns the contiguous chunk [t·c, (t+1)·c), c = ⌈V/256⌉,
//     sums its kept mass; an ordered 2-level exclusive prefix over the 256 chunk sums gives
//     excl[t] (monotone in t); the one thread with excl[t] ≤ u·total < excl[t+1] rescans its chunk
//     for the first kept v with excl[t] + run > u·total (its last kept token if rounding leaves the
//     crossing unfound). A NaN row falls back to the argmax.
// Reductions are two-level (16 threads each fold 16 partials in order, then one thread folds the 16
// group partials in order and workgroupUniformLoad hands the result to all, uniformly, so the
// bisection can leave its loop early): 3 barriers per reduction, no private arrays, no atomics.
// Sums are in a fixed order (the same bits every run); min/max are exact in any order.
// Folded 1-D dispatch over B (row = wid.x + wid.y · nwg.x).
@group(0) @binding(0) var<storage, read_write> ids: array<i32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(2) var<storage, read_write> logp: array<f32>;
@group(0) @binding(3) var<storage, read_write> entropy: array<f32>;
@group(0) @binding(4) var<storage, read> logits: array<f32>;
struct Params { B: u32, V: u32, invT: f32, topP: f32, seed: u32, offset: u32, stride: u32, colOffset: u32, colStride: u32 }
@group(0) @binding(5) var<uniform> P: Params;

const WG = 256u;
const NEG = -3.402823e38;
const NONE = 0xffffffffu;
const INF_BITS = 0x7f800000u;
const BIG = 3.402823e38; // min identity over e ∈ [0, 1]; −1 is the max identity

var<workgroup> part: array<vec4f, 256>;
var<workgroup> parti: array<u32, 256>;
var<workgroup> grp: array<vec4f, 16>;
var<workgroup> grpi: array<u32, 16>;
var<workgroup> res: vec4f;
var<workgroup> resi: u32;
var<workgroup> excl: array<f32, 256>;
var<workgroup> gexcl: array<f32, 17>;
var<workgroup> pick: u32;

/** log(1 + x) for x ≥ 0, accurate in relative terms for small x: 2·atanh(s), s = x / (2 + x) ≤ 1/33
 * (series to s⁷, truncation < 1e-13), and log(1 + x) once x ≥ 1/16 (where log's absolute error is
 * small against the result). */
fn log1p(x: f32) -> f32 {
  if (x < 0.0625) {
    let s = x / (2.0 + x);
    let s2 = s * s;
    return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0))));
  }
  return log(1.0 + x);
}

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** The fold of a reduction: four sums, or (when `mixed`) a sum, a min and two maxes. */
fn fold(a: vec4f, b: vec4f, mixed: bool) -> vec4f {
  if (mixed) { return vec4f(a.x + b.x, min(a.y, b.y), max(a.z, b.z), max(a.w, b.w)); }
  return a + b;
}

/** x folded over the workgroup (sums in a fixed order), returned uniformly to every thread. Must be
 * called in uniform control flow. Back-to-back calls are safe: every read of `part`, `grp` and
 * `res` in one call happens before the barrier that precedes the next call's write to it. */
fn reduce(t: u32, x: vec4f, mixed: bool) -> vec4f {
  part[t] = x;
  workgroupBarrier();
  if (t < 16u) {
    var s = part[t * 16u];
    for (var j = 1u; j < 16u; j++) { s = fold(s, part[t * 16u + j], mixed); }
    grp[t] = s;
  }
  workgroupBarrier();
  if (t == 0u) {
    var s = grp[0];
    for (var j = 1u; j < 16u; j++) { s = fold(s, grp[j], mixed); }
    res = s;
  }
  return workgroupUniformLoad(&res);
}

/** Whether (v2, i2) beats (v1, i1): a larger value, or an equal one at a smaller index; NONE is empty. */
fn better(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
  return i2 != NONE && (i1 == NONE || v2 > v1 || (v2 == v1 && i2 < i1));
}

/** The index of the largest v over the workgroup, ties to the smallest index. Uniform control flow. */
fn reduce_argmax(t: u32, v: f32, i: u32) -> u32 {
  part[t] = vec4f(v, 0.0, 0.0, 0.0);
  parti[t] = i;
  workgroupBarrier();
  if (t < 16u) {
    var bv = NEG;
    var bi = NONE;
    for (var j = 0u; j < 16u; j++) {
      let k = t * 16u + j;
      if (better(bv, bi, part[k].x, parti[k])) { bv = part[k].x; bi = parti[k]; }
    }
    grp[t] = vec4f(bv, 0.0, 0.0, 0.0);
    grpi[t] = bi;
  }
  workgroupBarrier();
  if (t == 0u) {
    var bv = NEG;
    var bi = NONE;
    for (var j = 0u; j < 16u; j++) {
      if (better(bv, bi, grp[j].x, grpi[j])) { bv = grp[j].x; bi = grpi[j]; }
    }
    resi = bi;
  }
  return workgroupUniformLoad(&resi);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.B) { return; }
  let V = P.V;
  let o = row * V;
  let invT = P.invT;

  // 1. argmax (lowest index on ties) of the raw logits.
  var bv = NEG;
  var bi = NONE;
  for (var i = t; i < V; i += WG) {
    let x = logits[o + i];
    if (bi == NONE || x > bv) { bv = x; bi = i; }
  }
  let amax = reduce_argmax(t, bv, bi);
  let m = logits[o + min(amax, V - 1u)];

  // 2. R = Σ_{v ≠ argmax} e (the argmax term is exp(0) = 1) and Σ e·y; Z = Σ e = 1 + R.
  var acc = vec2f(0.0);
  for (var i = t; i < V; i += WG) {
    let y = (logits[o + i] - m) * invT;
    let e = exp(y);
    acc += vec2f(select(e, 0.0, i == amax), e * y);
  }
  let rs = reduce(t, vec4f(acc, 0.0, 0.0), false).xy;
  let Z = 1.0 + rs.x;

  // 3. τ as a bit pattern: the largest `lo` with M(lo) = Σ_{bits(e) ≥ lo} e ≥ goal = topP · Z. lo = 0
  //    keeps all; the kept set is {bits(e) ≥ lo}. lo, hi and every test below are uniform.
  var lo = 0u;
  if (P.topP < 1.0) {
    let goal = P.topP * Z;
    var hi = INF_BITS;
    for (var it = 0u; it < 31u; it++) { // hi − lo < 2³¹ at least halves every step
      let mid = lo + (hi - lo) / 2u;
      // (M(mid), smallest and largest e in [mid, hi), largest e in [lo, mid)): floats compare as bits
      var a = vec4f(0.0, BIG, -1.0, -1.0);
      for (var i = t; i < V; i += WG) {
        let e = exp((logits[o + i] - m) * invT);
        let b = bitcast<u32>(e);
        let up = b >= mid;
        let inU = up && b < hi;
        let inL = !up && b >= lo;
        a = vec4f(a.x + select(0.0, e, up), min(a.y, select(BIG, e, inU)), max(a.z, select(-1.0, e, inU)),
                  max(a.w, select(-1.0, e, inL)));
      }
      let r = reduce(t, a, true);
      if (r.x >= goal) {
        // M(mid) ≥ goal > M(hi): [mid, hi) holds tokens; M(smallest of them) = M(mid).
        lo = bitcast<u32>(r.y);
        if (r.z == r.y) { break; } // one pattern left in [lo, hi): τ = lo
      } else {
        // M(lo) ≥ goal > M(mid): [lo, mid) holds tokens; M(largest of them + 1) = M(mid).
        hi = bitcast<u32>(r.w) + 1u;
        if (bitcast<u32>(r.w) == lo) { break; } // [lo, hi) = [lo, lo + 1): τ = lo
      }
    }
  }

  // 4. Inverse CDF over contiguous chunks.
  let chunk = (V + WG - 1u) / WG;
  let c0 = min(t * chunk, V);
  let c1 = min(c0 + chunk, V);
  var cs = 0.0;
  for (var i = c0; i < c1; i++) {
    let e = exp((logits[o + i] - m) * invT);
    if (bitcast<u32>(e) >= lo) { cs += e; }
  }
  part[t] = vec4f(cs, 0.0, 0.0, 0.0);
  if (t == 0u) { pick = NONE; }
  workgroupBarrier();
  if (t < 16u) { // exclusive prefix within each group of 16 chunks
    var s = 0.0;
    for (var j = 0u; j < 16u; j++) {
      excl[t * 16u + j] = s;
      s += part[t * 16u + j].x;
    }
    gexcl[t] = s;
  }
  workgroupBarrier();
  if (t == 0u) { // exclusive prefix over the 16 groups; gexcl[16] is the total
    var s = 0.0;
    for (var j = 0u; j < 16u; j++) {
      let g = gexcl[j];
      gexcl[j] = s;
      s += g;
    }
    gexcl[16] = s;
  }
  workgroupBarrier();
  let u = f32(pcg(row ^ pcg(P.seed)) >> 8u) * (1.0 / 16777216.0);
  let thresh = u * gexcl[16];
  let base = gexcl[t / 16u] + excl[t];
  var next = gexcl[16];
  if (t + 1u < WG) { next = gexcl[(t + 1u) / 16u] + excl[t + 1u]; }
  if (base <= thresh && thresh < next) { // exactly one thread: base is non-decreasing in t
    var run = 0.0;
    var found = NONE;
    var last = NONE;
    for (var i = c0; i < c1; i++) {
      let e = exp((logits[o + i] - m) * invT);
      if (bitcast<u32>(e) >= lo) {
        run += e;
        last = i;
        if (base + run > thresh) { found = i; break; }
      }
    }
    pick = select(found, last, found == NONE);
  }
  workgroupBarrier();
  if (t == 0u) {
    var id = pick;
    if (id >= V) { id = min(amax, V - 1u); } // NaN logits: nothing crossed
    let logZ = log1p(rs.x);
    ids[row] = i32(id);
    tokens[row * P.colStride + P.colOffset] = i32(id);
    let w = row * P.stride + P.offset;
    logp[w] = (logits[o + id] - m) * invT - logZ;
    entropy[w] = logZ - rs.y / Z;
  }
}
