// Library (no entry point), pulled in by `// #include core/norm_prologue` (norm_matmul.wgsl, qkv_rope.wgsl).
// The includer declares x and lnw (storage, read) and the workgroup arrays red (256) and ln (2048).
// ln[c] = x[o + c] · rstd · lnw[c] for one row of C values starting at o, with rstd computed exactly as
// rmsnorm_forward.wgsl does (strided partial sums over 256 lanes, then the same fixed-order tree).
// Called by every lane of a 256-lane workgroup in uniform control flow; ends with a barrier.
fn norm_prologue(o: u32, C: u32, eps: f32, t: u32) {
  var s = 0.0;
  for (var c = t; c < C; c += 256u) {
    let v = x[o + c];
    s += v * v;
  }
  red[t] = s;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] += red[t + k]; }
    workgroupBarrier();
  }
  let r = 1.0 / sqrt(red[0] / f32(C) + eps);
  for (var c = t; c < C; c += 256u) { ln[c] = x[o + c] * r * lnw[c]; }
  workgroupBarrier();
}
