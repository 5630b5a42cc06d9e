// Sections 1 and 2: matmul throughput at the model's shapes and at square sizes (ours, the naive
// kernel, tfjs-backend-webgpu on the same device), and the low-rank adapter path against the
// dense matmul it replaces.
import type { Tensor } from '../engine/backend.ts';
import { namedConfig } from '../model/init.ts';
import { PROJS, type Proj } from '../model/model.ts';
import { linearDims } from '../peft/common.ts';
import type { ModelSize } from './config.ts';
import { backendClock, errorMessage, relErr, testData, type BenchEnv } from './env.ts';
import { naiveMatmul } from './naive.ts';
import type { AdapterRow, BenchReport, MatmulRow, Throughput } from './report.ts';
import { createTfjsMatmul, type TfjsMatmul } from './tfjs.ts';
import { fromRuns, now, timeGpu, type Timing } from './timing.ts';

export interface MatmulShape {
  label: string;
  kind: 'model' | 'square';
  M: number;
  K: number;
  N: number;
}

/** Each projection of a model size (plus the tied LM head) as out (rows, OC) = x (rows, C) · Wᵀ,
 * shapes shared by several projections listed once. */
export function modelShapes(size: ModelSize, rows: number, vocab: number, maxPositions: number, only: string[]): MatmulShape[] {
  const cfg = namedConfig(size, vocab, maxPositions);
  const byDims = new Map<string, { names: string[]; C: number; OC: number }>();
  const add = (name: string, C: number, OC: number) => {
    const key = `${C}x${OC}`;
    const e = byDims.get(key) ?? { names: [], C, OC };
    e.names.push(name);
    byDims.set(key, e);
  };
  for (const p of PROJS as readonly Proj[]) {
    const { inF, outF } = linearDims(cfg, p);
    add(p, inF, outF);
  }
  add('lm_head', cfg.hidden, cfg.vocabSize);
  return [...byDims.values()]
    .filter((e) => only.length === 0 || e.names.some((n) => only.includes(n)))
    .map((e) => ({ label: `${size} ${e.names.join('/')}`, kind: 'model' as const, M: rows, K: e.C, N: e.OC }));
}

const gflops = (flop: number, t: Timing): number => flop / (t.medianMs * 1e6);
const through = (flop: number, t: Timing): Throughput => ({ timing: t, gflops: gflops(flop, t) });

export async function matmulSection(env: BenchEnv): Promise<{ rows: MatmulRow[]; tfjs: BenchReport['tfjs'] }> {
  const { be, cfg, log } = env;
  const m = cfg.matmul;
  const clock = backendClock(be);
  const shapes: MatmulShape[] = [
    ...m.models.flatMap((s) => modelShapes(s, m.sequences * m.tokens, cfg.vocab, cfg.maxPositions, m.only)),
    ...m.squares.map((n) => ({ label: `square ${n}`, kind: 'square' as const, M: n, K: n, N: n })),
  ];
  let tfjs: TfjsMatmul | null = null;
  let tfjsInfo: BenchReport['tfjs'] = { ok: false, version: null, note: 'not requested' };
  if (m.tfjs) {
    try {
      tfjs = await createTfjsMatmul(be.ctx.device, env.gpu);
      tfjsInfo = { ok: true, version: tfjs.version, note: null };
    } catch (e) {
      tfjsInfo = { ok: false, version: null, note: `tfjs-backend-webgpu could not run here: ${errorMessage(e)}` };
      log(`  ${tfjsInfo.note}`);
    }
  }
  const rows: MatmulRow[] = [];
  try {
    for (const s of shapes) {
      const { M, K, N } = s;
      const flop = 2 * M * K * N;
      const a = testData(M * K, 1), b = testData(N * K, 2);
      const ta = be.alloc('bench.a', M * K), tb = be.alloc('bench.b', N * K);
      const out = be.alloc('bench.out', M * N), outNaive = be.alloc('bench.outNaive', M * N);
      const tensors: Tensor[] = [ta, tb, out, outNaive];
      try {
        be.upload(ta, a);
        be.upload(tb, b);
        const ours = await timeGpu(() => be.matmulForward(out, ta, tb, null, M, K, N), clock, cfg.time);
        const ref = await be.read(out);
        let naive: Throughput | null = null, naiveRelErr: number | null = null;
        if (m.naive) {
          naive = through(flop, await timeGpu(() => naiveMatmul(be.ctx, outNaive, ta, tb, M, K, N), clock, cfg.time));
          naiveRelErr = relErr(await be.read(outNaive), ref);
        }
        let tf: Throughput | null = null, tfjsRelErr: number | null = null;
        if (tfjs) {
          try {
            tf = through(flop, await tfjs.time(M, K, N, cfg.time));
            tfjsRelErr = relErr(await tfjs.product(a, b, M, K, N), ref);
          } catch (e) {
            tfjsInfo.note = `tfjs failed at ${s.label}: ${errorMessage(e)}`;
          }
        }
        const o = through(flop, ours);
        rows.push({
          gpu: env.gpuName, label: s.label, kind: s.kind, M, K, N, gflop: flop / 1e9,
          ours: o, naive, tfjs: tf,
          oursOverNaive: naive ? o.gflops / naive.gflops : null,
          oursOverTfjs: tf ? o.gflops / tf.gflops : null,
          naiveRelErr, tfjsRelErr,
        });
        const r = rows[rows.length - 1];
        log(`  ${s.label.padEnd(28)} ${M}×${K}×${N}: ours ${o.gflops.toFixed(2)} GFLOP/s` +
          (naive ? `, naive ${naive.gflops.toFixed(2)} (×${r.oursOverNaive?.toFixed(2)})` : '') +
          (tf ? `, tfjs ${tf.gflops.toFixed(2)} (×${r.oursOverTfjs?.toFixed(2)})` : ''));
      } finally {
        await be.sync();
        for (const t of tensors) be.free(t);
      }
    }
  } finally {
    tfjs?.dispose();
  }
  return { rows, tfjs: tfjsInfo };
}

export async function adapterSection(env: BenchEnv): Promise<AdapterRow[]> {
  const { be, cfg, log } = env;
  const clock = backendClock(be);
  const N = cfg.adapter.rows;
  const rows: AdapterRow[] = [];
  for (const shape of cfg.adapter.shapes) {
    const { C, OC } = shape;
    const owned: Tensor[] = [];
    const t = (label: string, n: number, seed: number): Tensor => {
      const x = be.alloc(`bench.${label}`, n);
      be.upload(x, testData(n, seed).map((v) => v * 0.1));
      owned.push(x);
      return x;
    };
    try {
      const x = t('x', N * C, 1), W = t('W', OC * C, 2), dout = t('dout', N * OC, 3);
      const out = t('out', N * OC, 4), dx = t('dx', N * C, 5), dW = t('dW', OC * C, 6);
      const denseFlop = 2 * N * C * OC;
      const denseFwd = through(denseFlop, await timeGpu(() => be.matmulForward(out, x, W, null, N, C, OC), clock, cfg.time));
      const denseBwd = through(2 * denseFlop, await timeGpu(() => {
        be.matmulBackwardInput(dx, dout, W, N, C, OC, false);
        be.matmulBackwardWeight(dW, dout, x, N, C, OC);
      }, clock, cfg.time));
      for (const r of cfg.adapter.ranks) {
        const mark = owned.length;
        const A = t(`A${r}`, r * C, 7), B = t(`B${r}`, OC * r, 8), xa = t(`xa${r}`, N * r, 9), dxa = t(`dxa${r}`, N * r, 10);
        const dA = t(`dA${r}`, r * C, 11), dB = t(`dB${r}`, OC * r, 12);
        const s = 2; // alpha / r with alpha = 2r, as the lab's defaults
        const flop = 2 * N * r * (C + OC);
        const adapterFwd = through(flop, await timeGpu(() => {
          be.matmulForward(xa, x, A, null, N, C, r);
          be.matmulForward(out, xa, B, null, N, r, OC, true, s);
        }, clock, cfg.time));
        const adapterBwd = through(2 * flop, await timeGpu(() => {
          be.matmulBackwardWeight(dB, dout, xa, N, r, OC, s);
          be.matmulBackwardInput(dxa, dout, B, N, r, OC, false, s);
          be.matmulBackwardWeight(dA, dxa, x, N, C, r);
          be.matmulBackwardInput(dx, dxa, A, N, C, r, true);
        }, clock, cfg.time));
        const row: AdapterRow = {
          gpu: env.gpuName, label: shape.label, N, C, OC, r, denseFwd, denseBwd, adapterFwd, adapterBwd,
          fwdRatio: adapterFwd.timing.medianMs / denseFwd.timing.medianMs,
          bwdRatio: adapterBwd.timing.medianMs / denseBwd.timing.medianMs,
        };
        rows.push(row);
        log(`  ${shape.label} r=${String(r).padEnd(3)} fwd ${adapterFwd.timing.medianMs.toFixed(2)} ms (dense ${denseFwd.timing.medianMs.toFixed(2)}), ` +
          `bwd ${adapterBwd.timing.medianMs.toFixed(2)} ms (dense ${denseBwd.timing.medianMs.toFixed(2)})`);
        await be.sync();
        for (const z of owned.splice(mark)) be.free(z);
      }
    } finally {
      await be.sync();
      for (const z of owned) be.free(z);
    }
  }
  return rows;
}

/** Fixed costs every dispatch and every submission pay, whatever the work: the CPU time to encode
 * one trivial dispatch (a 16-element add; uniform write, bind group, dispatch), and the round trip
 * of one submission of it (submit → onSubmittedWorkDone). */
export async function dispatchOverhead(env: BenchEnv): Promise<{ encodeUs: Timing; roundTripMs: Timing }> {
  const { be, cfg } = env;
  const a = be.alloc('bench.ovh.a', 16), b = be.alloc('bench.ovh.b', 16), o = be.alloc('bench.ovh.o', 16);
  const n = 128;
  try {
    be.add(o, a, b, 16);
    await be.sync();
    const encode: number[] = [], trip: number[] = [];
    for (let r = 0; r < cfg.wall.warmup + Math.max(cfg.wall.reps, 3); r++) {
      const t0 = now();
      for (let i = 0; i < n; i++) be.add(o, a, b, 16);
      const t1 = now();
      await be.sync();
      be.add(o, a, b, 16);
      const t2 = now();
      await be.sync();
      const t3 = now();
      if (r < cfg.wall.warmup) continue;
      encode.push((1000 * (t1 - t0)) / n);
      trip.push(t3 - t2);
    }
    return { encodeUs: fromRuns(encode, cfg.wall.warmup, 'wall'), roundTripMs: fromRuns(trip, cfg.wall.warmup, 'wall') };
  } finally {
    for (const t of [a, b, o]) be.free(t);
  }
}
