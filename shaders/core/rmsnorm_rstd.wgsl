// Library (no entry point), pulled in by `// #include core/rmsnorm_rstd` (rmsnorm_forward.wgsl, and
// norm_prologue's includers norm_matmul.wgsl and qkv_rope.wgsl): RMSNorm's r = 1/sqrt(mean(x²) + eps) of
// one row of C values from each lane's partial sum of squares s, summed by the fixed-order tree, so every
// kernel that normalises a row gets the same bits. The includer declares `var<workgroup> red: array<f32, WG>`
// and includes core/common and core/tree_sum. Every lane calls it in uniform control flow; it returns r to all.
fn rmsnorm_rstd(s: f32, C: u32, eps: f32, t: u32) -> f32 {
  red[t] = s;
  tree_sum(t);
  return 1.0 / sqrt(red[0] / f32(C) + eps);
}
