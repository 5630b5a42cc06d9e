// AssemblyScript: e^x for four float32 lanes at once (and one, by the same arithmetic), for SwiGLU and
// attention's softmax. Cephes' expf: n = round(x·log2 e), r = x − n·ln2 (ln2 split in two parts so
// n·C1 is exact), e^r by a degree-6 polynomial, then · 2^n as two exact power-of-two scalings (so the
// result underflows to a correctly rounded subnormal or 0, and overflows to +∞, without special
// cases). Every step a separate float32 operation, no fused multiply-add: the same bits on every
// machine. Within 2 ulp of e^x over the whole range (measured against float64 in the tests); NaN in,
// NaN out; x > 88.73 gives +∞, x < −104 gives 0.
//
// The constants are loaded from a table in memory rather than written as v128 constants: V8 builds a
// v128 constant from immediates with four instructions each time it is used (it did not hoist them
// out of loops), which made this function several times slower.
const LOG2E: f32 = 1.44269504088896341;
const C1: f32 = 0.693359375;
const C2: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4, P1: f32 = 1.3981999507e-3, P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2, P4: f32 = 1.6666665459e-1, P5: f32 = 5.0000001201e-1;
const HI: f32 = 88.73, LO: f32 = -104;
/** 1.5·2²³: adding it rounds a float32 of magnitude < 2²² to an integer, left in the low bits. */
const MAGIC: f32 = 12582912;
const MAGIC_BITS: i32 = 0x4b400000;

/** Each constant four times (one v128 each), in this order. */
const TABLE = memory.data<f32>([
  HI, HI, HI, HI, LO, LO, LO, LO, LOG2E, LOG2E, LOG2E, LOG2E, MAGIC, MAGIC, MAGIC, MAGIC,
  C1, C1, C1, C1, C2, C2, C2, C2, P0, P0, P0, P0, P1, P1, P1, P1, P2, P2, P2, P2,
  P3, P3, P3, P3, P4, P4, P4, P4, P5, P5, P5, P5, 1, 1, 1, 1,
]);
const T_HI = 0, T_LO = 16, T_LOG2E = 32, T_MAGIC = 48, T_C1 = 64, T_C2 = 80, T_P0 = 96, T_P1 = 112, T_P2 = 128;
const T_P3 = 144, T_P4 = 160, T_P5 = 176, T_ONE = 192;

@inline function c(offset: usize): v128 {
  return v128.load(TABLE + offset);
}

/** e^x lane by lane. */
@inline export function expv(x: v128): v128 {
  // pmin / pmax: one instruction each on x86; x first, so a NaN x stays NaN
  x = f32x4.pmax(f32x4.pmin(x, c(T_HI)), c(T_LO));
  // n = round(x·log2 e), ties to even
  const t = f32x4.add(f32x4.mul(x, c(T_LOG2E)), c(T_MAGIC));
  const nf = f32x4.sub(t, c(T_MAGIC));
  let r = f32x4.sub(x, f32x4.mul(nf, c(T_C1)));
  r = f32x4.sub(r, f32x4.mul(nf, c(T_C2)));
  let p = c(T_P0);
  p = f32x4.add(f32x4.mul(p, r), c(T_P1));
  p = f32x4.add(f32x4.mul(p, r), c(T_P2));
  p = f32x4.add(f32x4.mul(p, r), c(T_P3));
  p = f32x4.add(f32x4.mul(p, r), c(T_P4));
  p = f32x4.add(f32x4.mul(p, r), c(T_P5));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), c(T_ONE));
  // 2^n = 2^n1 · 2^n2 with n1 = n >> 1, n2 = n − n1: both exponents stay normal for n in [−150, 128]
  const n = i32x4.sub(t, i32x4.splat(MAGIC_BITS));
  const n1 = i32x4.shr_s(n, 1), n2 = i32x4.sub(n, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23), s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/** 1 in every lane (from the table, for the same reason). */
@inline export function onev(): v128 {
  return c(T_ONE);
}
