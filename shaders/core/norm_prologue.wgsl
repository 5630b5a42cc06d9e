// Library (no entry point), pulled in by `// #include core/norm_prologue` (norm_matmul.wgsl, qkv_rope.wgsl).
// The includer declares x and lnw (storage, read) and the workgroup arrays red (WG) and ln (2048), and
// includes core/common, core/tree_sum and core/rmsnorm_rstd (includes are one level deep: the kernel lists
// every library). ln[c] = x[o + c] · rstd · lnw[c] for one row of C values starting at o, with rstd computed
// as rmsnorm_forward.wgsl does (strided partial sums over WG lanes, then the same rmsnorm_rstd).
// Called by every lane in uniform control flow; ends with a barrier.
fn norm_prologue(o: u32, C: u32, eps: f32, t: u32) {
  var s = 0.0;
  for (var c = t; c < C; c += WG) {
    let v = x[o + c];
    s += v * v;
  }
  let r = rmsnorm_rstd(s, C, eps, t);
  for (var c = t; c < C; c += WG) { ln[c] = x[o + c] * r * lnw[c]; }
  workgroupBarrier();
}
