// AssemblyScript: causal grouped-query attention for the CPU backend (the math of
// src/engine/ref/attention.ref.ts: scores q·kᵀ/√HS, softmax over keys s ≤ the query's position, query
// head h reads kv head h / (NH/NKV)). Float32 throughout, exp by expf.ts (four lanes at a time, the
// same bits on every machine); each sum in a fixed order. Tasks own their
// outputs: forward one (b, h), decode one sequence b, backward one (b, kv head) with every query head
// that reads it, so dk and dv are summed by one thread in a fixed order.
//
// Layouts: q (B,T,NH,HS); k, v (B,Tk,NKV,HS) (Tk = T in training, Tmax for a KV cache);
// att and the backward's scratch (B,NH,T,T).
const J_COUNTER = 1;
const J_B = 2, J_T = 3, J_NH = 4, J_NKV = 5, J_HS = 6;
const J_Q = 7, J_K = 8, J_V = 9, J_OUT = 10, J_ATT = 11;
const J_TK = 12, J_POS0 = 13, J_SCALE = 14;
const J_SCRATCH = 15; // decode: one row of Tk floats per thread slot
const J_SLOTS = 16; // decode: thread slots handed out (atomic)
const J_DOUT = 17, J_DQ = 18, J_DK = 19, J_DV = 20;
import { expv } from './expf';

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

@inline function ptr(job: usize, i: i32): usize {
  return <usize>load<i32>(job + (<usize>i << 2));
}

@inline function claim(job: usize): i32 {
  return atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1);
}

// dot(x, y) below means Σ_d x[d]·y[d] over HS floats summed as: four lanes (d mod 4) in parallel, then
// (l0 + l1) + (l2 + l3), then the tail d ≥ HS & ~3 in order.

/** Σ_d x[d]·y_j[d] over the first HS & ~3 floats for four keys y0..y3, as one vector (lane j): per key
 * the four-lane sums of dot(), then (l0 + l1) + (l2 + l3); the tail is the caller's. */
@inline function dot4(x: usize, y: usize, y1: usize, y2: usize, y3: usize, HS: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let d = 0; d + 4 <= HS; d += 4) {
    const o = <usize>d << 2;
    const xv = v128.load(x + o);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(y + o)));
    a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(y1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(y2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(y3 + o)));
  }
  // transpose: l_i holds lane i of a0..a3
  const lo01 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), hi01 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
  const lo23 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), hi23 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
  const l0 = v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5), l1 = v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7);
  const l2 = v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), l3 = v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7);
  return f32x4.add(f32x4.add(l0, l1), f32x4.add(l2, l3));
}

/** Lanes j < m all ones, the others zero. */
@inline function firstLanes(m: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(m));
}

/** The first m ≤ 4 floats at p in lanes 0..m−1 (the rest 0), reading nothing past them. */
@inline function loadLanes(p: usize, m: i32): v128 {
  if (m >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (m > 1) v = f32x4.replace_lane(v, 1, load<f32>(p + 4));
  if (m > 2) v = f32x4.replace_lane(v, 2, load<f32>(p + 8));
  return v;
}

/** Stores the first m ≤ 4 lanes of v at p. */
@inline function storeLanes(p: usize, v: v128, m: i32): void {
  if (m >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (m > 1) store<f32>(p + 4, f32x4.extract_lane(v, 1));
  if (m > 2) store<f32>(p + 8, f32x4.extract_lane(v, 2));
}

/** out[d0 .. d0 + 4·W) = Σ_s p[s]·v[s][d0 ..] with W vector accumulators in registers, s ascending. */
@inline function weighted(out: usize, p: usize, v: usize, kstride: usize, n: i32, d0: i32, W: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let vs = v + (<usize>d0 << 2);
  for (let s = 0; s < n; s++) {
    const ps = v128.load32_splat(p + (<usize>s << 2));
    c0 = f32x4.add(c0, f32x4.mul(ps, v128.load(vs)));
    if (W > 1) c1 = f32x4.add(c1, f32x4.mul(ps, v128.load(vs, 16)));
    if (W > 2) {
      c2 = f32x4.add(c2, f32x4.mul(ps, v128.load(vs, 32)));
      c3 = f32x4.add(c3, f32x4.mul(ps, v128.load(vs, 48)));
    }
    vs += kstride;
  }
  const o = out + (<usize>d0 << 2);
  v128.store(o, c0);
  if (W > 1) v128.store(o, c1, 16);
  if (W > 2) {
    v128.store(o, c2, 32);
    v128.store(o, c3, 48);
  }
}

/**
 * One query row: p[s] = softmax_s(scale · q·k[s]) for s < n (keys `kstride` bytes apart), written to
 * p; out = Σ_s p[s] v[s] (s ascending, from 0). Scores four keys at a time (dot4, then each key's tail
 * in order), e^x four lanes at a time (expf.ts), the softmax sum in four lanes then (l0 + l1) + (l2 + l3);
 * the probabilities are normalised before the weighted sum, as in the reference.
 */
function attendRow(q: usize, k: usize, v: usize, kstride: usize, n: i32, HS: i32, scale: f32, p: usize, out: usize): void {
  const H4 = HS & ~3;
  const sv = f32x4.splat(scale);
  let mx = f32x4.splat(-Infinity);
  for (let s = 0; s < n; s += 4) {
    const m = min(4, n - s);
    const ks = k + <usize>s * kstride;
    // lanes ≥ m (past the last key) repeat key s: every read stays among the n keys, and those lanes are dropped
    const k1 = m > 1 ? ks + kstride : ks, k2 = m > 2 ? ks + 2 * kstride : ks, k3 = m > 3 ? ks + 3 * kstride : ks;
    let x = dot4(q, ks, k1, k2, k3, HS);
    if (H4 < HS) {
      for (let j = 0; j < m; j++) {
        let t = f32x4.extract_lane(x, 0);
        if (j == 1) t = f32x4.extract_lane(x, 1);
        else if (j == 2) t = f32x4.extract_lane(x, 2);
        else if (j == 3) t = f32x4.extract_lane(x, 3);
        const kj = ks + <usize>j * kstride;
        for (let d = H4; d < HS; d++) t += load<f32>(q + (<usize>d << 2)) * load<f32>(kj + (<usize>d << 2));
        if (j == 0) x = f32x4.replace_lane(x, 0, t);
        else if (j == 1) x = f32x4.replace_lane(x, 1, t);
        else if (j == 2) x = f32x4.replace_lane(x, 2, t);
        else x = f32x4.replace_lane(x, 3, t);
      }
    }
    x = f32x4.mul(x, sv);
    storeLanes(p + (<usize>s << 2), x, m);
    mx = f32x4.max(mx, v128.bitselect(x, f32x4.splat(-Infinity), firstLanes(m)));
  }
  const top = max<f32>(max<f32>(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)), max<f32>(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
  const mv = f32x4.splat(top);
  let acc = f32x4.splat(0);
  for (let s = 0; s < n; s += 4) {
    const m = min(4, n - s);
    const e = v128.and(expv(f32x4.sub(loadLanes(p + (<usize>s << 2), m), mv)), firstLanes(m));
    storeLanes(p + (<usize>s << 2), e, m);
    acc = f32x4.add(acc, e);
  }
  const sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  const inv = f32x4.splat(<f32>1 / sum);
  for (let s = 0; s < n; s += 4) {
    const m = min(4, n - s);
    storeLanes(p + (<usize>s << 2), f32x4.mul(loadLanes(p + (<usize>s << 2), m), inv), m);
  }
  weightedRow(out, p, v, kstride, n, HS);
}

/** out[d] = Σ_s p[s]·v[s][d] for d < HS, s ascending from 0: register blocks of 16, 8, 4 floats, then the tail. */
function weightedRow(out: usize, p: usize, v: usize, kstride: usize, n: i32, HS: i32): void {
  let d = 0;
  for (; d + 16 <= HS; d += 16) weighted(out, p, v, kstride, n, d, 4);
  for (; d + 8 <= HS; d += 8) weighted(out, p, v, kstride, n, d, 2);
  for (; d + 4 <= HS; d += 4) weighted(out, p, v, kstride, n, d, 1);
  for (; d < HS; d++) {
    let c: f32 = 0;
    for (let s = 0; s < n; s++) c += load<f32>(p + (<usize>s << 2)) * load<f32>(v + <usize>s * kstride + (<usize>d << 2));
    store<f32>(out + (<usize>d << 2), c);
  }
}

/** p[s] = x·k[s] for s < n (keys kstride bytes apart): dot4 on four keys at a time, then each key's
 * tail in order, so each equals dot(). */
function dotsTo(p: usize, x: usize, k: usize, kstride: usize, n: i32, HS: i32): void {
  const H4 = HS & ~3;
  for (let s = 0; s < n; s += 4) {
    const m = min(4, n - s);
    const ks = k + <usize>s * kstride;
    const k1 = m > 1 ? ks + kstride : ks, k2 = m > 2 ? ks + 2 * kstride : ks, k3 = m > 3 ? ks + 3 * kstride : ks;
    storeLanes(p + (<usize>s << 2), dot4(x, ks, k1, k2, k3, HS), m);
    if (H4 < HS) {
      for (let j = 0; j < m; j++) {
        const kj = ks + <usize>j * kstride, at = p + (<usize>(s + j) << 2);
        let t = load<f32>(at);
        for (let d = H4; d < HS; d++) t += load<f32>(x + (<usize>d << 2)) * load<f32>(kj + (<usize>d << 2));
        store<f32>(at, t);
      }
    }
  }
}

/**
 * out[d0 .. d0 + 4·W) = Σ_{h < G} Σ_{t = s}^{T−1} c(h, t)·row(h, t)[d0 ..], h then t ascending, in W vector
 * registers; c(h, t) = coef[h·chs + t·cts] (times `scale` first when useScale), row(h, t) = rows + h·rhs + t·rts.
 * The backward's dv[s] and dk[s] (coef: att or dL/d(scores) column s; rows: dout or q).
 */
@inline function columnBlock(out: usize, coef: usize, chs: usize, cts: usize, rows: usize, rhs: usize, rts: usize,
  s: i32, T: i32, G: i32, scale: f32, useScale: bool, d0: i32, W: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let h = 0; h < G; h++) {
    let cp = coef + <usize>h * chs + <usize>s * cts;
    let rp = rows + <usize>h * rhs + <usize>s * rts + (<usize>d0 << 2);
    for (let t = s; t < T; t++) {
      let cf = load<f32>(cp);
      if (useScale) cf = scale * cf;
      const cv = f32x4.splat(cf);
      c0 = f32x4.add(c0, f32x4.mul(cv, v128.load(rp)));
      if (W > 1) c1 = f32x4.add(c1, f32x4.mul(cv, v128.load(rp, 16)));
      if (W > 2) {
        c2 = f32x4.add(c2, f32x4.mul(cv, v128.load(rp, 32)));
        c3 = f32x4.add(c3, f32x4.mul(cv, v128.load(rp, 48)));
      }
      cp += cts; rp += rts;
    }
  }
  const o = out + (<usize>d0 << 2);
  v128.store(o, c0);
  if (W > 1) v128.store(o, c1, 16);
  if (W > 2) {
    v128.store(o, c2, 32);
    v128.store(o, c3, 48);
  }
}

/** columnBlock over every d < HS (register blocks of 16, 8, 4 floats, then the tail one float at a time). */
function column(out: usize, coef: usize, chs: usize, cts: usize, rows: usize, rhs: usize, rts: usize,
  s: i32, T: i32, G: i32, scale: f32, useScale: bool, HS: i32): void {
  let d = 0;
  for (; d + 16 <= HS; d += 16) columnBlock(out, coef, chs, cts, rows, rhs, rts, s, T, G, scale, useScale, d, 4);
  for (; d + 8 <= HS; d += 8) columnBlock(out, coef, chs, cts, rows, rhs, rts, s, T, G, scale, useScale, d, 2);
  for (; d + 4 <= HS; d += 4) columnBlock(out, coef, chs, cts, rows, rhs, rts, s, T, G, scale, useScale, d, 1);
  for (; d < HS; d++) {
    let c: f32 = 0;
    for (let h = 0; h < G; h++) {
      for (let t = s; t < T; t++) {
        let cf = load<f32>(coef + <usize>h * chs + <usize>t * cts);
        if (useScale) cf = scale * cf;
        c += cf * load<f32>(rows + <usize>h * rhs + <usize>t * rts + (<usize>d << 2));
      }
    }
    store<f32>(out + (<usize>d << 2), c);
  }
}

/** Training forward: tasks (b, h); att rows get the probabilities and 0 above the diagonal. */
export function attentionForwardRun(job: usize): void {
  const B = word(job, J_B), T = word(job, J_T), NH = word(job, J_NH), NKV = word(job, J_NKV), HS = word(job, J_HS);
  const q = ptr(job, J_Q), k = ptr(job, J_K), v = ptr(job, J_V), out = ptr(job, J_OUT), att = ptr(job, J_ATT);
  const scale = reinterpret<f32>(word(job, J_SCALE));
  const G = NH / NKV;
  const kstride = (<usize>NKV * HS) << 2;
  while (true) {
    const task = claim(job);
    if (task >= B * NH) return;
    const b = task / NH, h = task % NH, kh = h / G;
    const kb = k + ((<usize>b * T * NKV + kh) * HS << 2), vb = v + ((<usize>b * T * NKV + kh) * HS << 2);
    for (let t = 0; t < T; t++) {
      const qo = (((<usize>b * T + t) * NH + h) * HS) << 2;
      const row = att + ((((<usize>b * NH + h) * T + t) * T) << 2);
      attendRow(q + qo, kb, vb, kstride, t + 1, HS, scale, row, out + qo);
      for (let s = t + 1; s < T; s++) store<f32>(row + (<usize>s << 2), 0);
    }
  }
}

/** KV-cache decode: tasks b; query t of sequence b attends to cache positions 0..pos0+t. */
export function attentionDecodeRun(job: usize): void {
  const B = word(job, J_B), Tq = word(job, J_T), NH = word(job, J_NH), NKV = word(job, J_NKV), HS = word(job, J_HS);
  const q = ptr(job, J_Q), k = ptr(job, J_K), v = ptr(job, J_V), out = ptr(job, J_OUT);
  const Tmax = word(job, J_TK), pos0 = word(job, J_POS0);
  const scale = reinterpret<f32>(word(job, J_SCALE));
  const G = NH / NKV;
  const kstride = (<usize>NKV * HS) << 2;
  const slot = atomic.add<i32>(job + (<usize>J_SLOTS << 2), 1);
  const p = ptr(job, J_SCRATCH) + ((<usize>slot * Tmax) << 2);
  while (true) {
    const b = claim(job);
    if (b >= B) return;
    for (let t = 0; t < Tq; t++) {
      for (let h = 0; h < NH; h++) {
        const kh = h / G;
        const qo = (((<usize>b * Tq + t) * NH + h) * HS) << 2;
        const kb = (<usize>b * Tmax * NKV + kh) * HS << 2;
        attendRow(q + qo, k + kb, v + kb, kstride, pos0 + t + 1, HS, scale, p, out + qo);
      }
    }
  }
}

/**
 * Training backward, given the forward's att: tasks (b, kv head). Writes dq, dk, dv (=) and
 * scratch = dL/d(scores) (0 above the diagonal). First each query row (h ascending within the group,
 * then t): datt[s] = dout·v[s]; dpre[s] = att[t,s]·(datt[s] − Σ_s att·datt) (that sum in s order);
 * dq = scale·(Σ_s dpre[s]·k[s]) (s ascending, in registers). Then each key s: dv[s] = Σ att[t,s]·dout[t] and
 * dk[s] = Σ (scale·dpre[t,s])·q[t] over h ascending, then t ≥ s ascending, in registers: the order in
 * which a row-by-row pass would add them into memory.
 */
export function attentionBackwardRun(job: usize): void {
  const B = word(job, J_B), T = word(job, J_T), NH = word(job, J_NH), NKV = word(job, J_NKV), HS = word(job, J_HS);
  const q = ptr(job, J_Q), k = ptr(job, J_K), v = ptr(job, J_V), att = ptr(job, J_ATT), scratch = ptr(job, J_OUT);
  const dout = ptr(job, J_DOUT), dq = ptr(job, J_DQ), dk = ptr(job, J_DK), dv = ptr(job, J_DV);
  const scale = reinterpret<f32>(word(job, J_SCALE));
  const G = NH / NKV;
  const kstride = (<usize>NKV * HS) << 2;
  const sv = f32x4.splat(scale);
  while (true) {
    const task = claim(job);
    if (task >= B * NKV) return;
    const b = task / NKV, kh = task % NKV;
    const kvo = (<usize>b * T * NKV + kh) * HS << 2;
    for (let h = kh * G; h < (kh + 1) * G; h++) {
      for (let t = 0; t < T; t++) {
        const qo = (((<usize>b * T + t) * NH + h) * HS) << 2;
        const row = (((<usize>b * NH + h) * T + t) * T) << 2;
        const a = att + row, g = scratch + row; // g: this row of scratch = dL/d(scores)
        dotsTo(g, dout + qo, v + kvo, kstride, t + 1, HS);
        let rowDot: f32 = 0;
        for (let s = 0; s <= t; s++) rowDot += load<f32>(a + (<usize>s << 2)) * load<f32>(g + (<usize>s << 2));
        const rv = f32x4.splat(rowDot);
        for (let s = 0; s <= t; s += 4) {
          const at = <usize>s << 2;
          const m = min(4, t + 1 - s); // the last group reads only its m floats: the row may end the tensor
          storeLanes(g + at, f32x4.mul(loadLanes(a + at, m), f32x4.sub(loadLanes(g + at, m), rv)), m);
        }
        if (t + 1 < T) memory.fill(g + (<usize>(t + 1) << 2), 0, <usize>(T - t - 1) << 2);
        weightedRow(dq + qo, g, k + kvo, kstride, t + 1, HS);
        let d = 0;
        for (; d + 4 <= HS; d += 4) v128.store(dq + qo + (<usize>d << 2), f32x4.mul(sv, v128.load(dq + qo + (<usize>d << 2))));
        for (; d < HS; d++) store<f32>(dq + qo + (<usize>d << 2), scale * load<f32>(dq + qo + (<usize>d << 2)));
      }
    }
    // columns: coef(h, t) at base + h·T·T + t·T floats (+ s); rows(h, t) at (b·T + t)·NH + h heads of HS
    const cbase = (((<usize>b * NH + kh * G) * T) * T) << 2, chs = (<usize>T * T) << 2, cts = <usize>T << 2;
    const rbase = (((<usize>b * T) * NH + kh * G) * HS) << 2, rhs = <usize>HS << 2, rts = (<usize>NH * HS) << 2;
    for (let s = 0; s < T; s++) {
      const at = kvo + <usize>s * kstride;
      column(dv + at, att + cbase + (<usize>s << 2), chs, cts, dout + rbase, rhs, rts, s, T, G, scale, false, HS);
      column(dk + at, scratch + cbase + (<usize>s << 2), chs, cts, q + rbase, rhs, rts, s, T, G, scale, true, HS);
    }
  }
}
