// Token embedding backward: dwte (V,C) += Σ_{n: ids[n]=v} dout (N,C)[n].
// reads: dout (N,C), ids (N) i32; writes: dwte (V,C) (+=, parameter gradient).
// Deterministic, no atomics on floats: one workgroup owns vocabulary row v. It walks ids in chunks
// of 256 staged in workgroup memory; only chunks that contain v (a workgroup-uniform flag) are
// scanned, in increasing n, and each thread adds dout[n, c] for its columns c = t + 256k.
// Four named accumulators cover 1024 columns per pass over ids (no run-time-indexed private
// arrays); wider C takes more passes. Each (v, c) sums its rows in order of n, then adds once.
@group(0) @binding(0) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
struct Params { N: u32, C: u32, V: u32 }
@group(0) @binding(3) var<uniform> P: Params;

var<workgroup> chunk: array<i32, 256>;
var<workgroup> hitFlag: atomic<u32>;
var<workgroup> hit: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let v = wid.x + wid.y * nwg.x;
  if (v >= P.V) { return; }
  let C = P.C;
  let N = P.N;
  let vi = i32(v);
  for (var c0 = 0u; c0 < C; c0 += 1024u) {
    let c1 = c0 + t;
    let c2 = c1 + 256u;
    let c3 = c1 + 512u;
    let c4 = c1 + 768u;
    var a1 = 0.0;
    var a2 = 0.0;
    var a3 = 0.0;
    var a4 = 0.0;
    for (var base = 0u; base < N; base += 256u) {
      let n = base + t;
      var id = -1;
      if (n < N) { id = ids[n]; }
      chunk[t] = id;
      if (id == vi) { atomicStore(&hitFlag, 1u); }
      workgroupBarrier();
      if (t == 0u) {
        hit = atomicLoad(&hitFlag);
        atomicStore(&hitFlag, 0u);
      }
      if (workgroupUniformLoad(&hit) != 0u) {
        let cnt = min(256u, N - base);
        for (var j = 0u; j < cnt; j++) {
          if (chunk[j] == vi) {
            let row = (base + j) * C;
            if (c1 < C) { a1 += dout[row + c1]; }
            if (c2 < C) { a2 += dout[row + c2]; }
            if (c3 < C) { a3 += dout[row + c3]; }
            if (c4 < C) { a4 += dout[row + c4]; }
          }
        }
      }
      workgroupBarrier(); // chunk is rewritten next iteration
    }
    let o = v * C;
    if (c1 < C) { dwte[o + c1] += a1; }
    if (c2 < C) { dwte[o + c2] += a2; }
    if (c3 < C) { dwte[o + c3] += a3; }
    if (c4 < C) { dwte[o + c4] += a4; }
  }
}
