// Library (no entry point), pulled in by `// #include core/gemm_params` (matmul_tiled.wgsl,
// matmul_small.wgsl, matmul_lr_backward.wgsl): the GEMM's uniform, one layout for both GEMM kernels, since
// ops/matmul.ts packs the same words whichever kernel it picks.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  kchunk: u32,
  scale: f32,
}

// Params of a GEMM with a low-rank term (matmul_tiled `main_lr`, matmul_lr_backward): Params' fields in
// its order, then R, the rank, and scale2. Written out rather than nesting Params (WGSL has no struct
// extension): in a uniform, the member after a struct member starts on a 16-byte boundary and the struct
// grows to 48 bytes, so the host would pack pad words between scale and R.
struct ParamsLR {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  kchunk: u32,
  scale: f32,
  R: u32,
  scale2: f32,
}
