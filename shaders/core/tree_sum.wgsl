// Library (no entry point): red[0] = the sum of red[0 .. WG) by a halving tree, in a fixed order
// (bit-reproducible). The includer declares `var<workgroup> red: array<f32, WG>` and includes
// core/common; every lane calls it in uniform control flow after writing its red[t]. Ends with a barrier.
fn tree_sum(t: u32) {
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] += red[t + k]; }
    workgroupBarrier();
  }
}
