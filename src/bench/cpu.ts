// The CPU section of `npm run bench` (Node; `npm run bench:cpu` runs it alone). In one run on one
// machine: GFLOP/s of out = x·Wᵀ at the lab's shapes for the SIMD backend (all threads and one), the
// former FastCpuBackend (float64 sums, one thread) and OpenBLAS sgemm through numpy when
// ../shared/tools/sgemm_anchor.py can run (OpenBLAS and the SIMD backend on all threads in alternating
// rounds); then one RL step of the shipped default model at its
// catalogue settings on the old backend and on the new one, same config and seed, split by phase
// (the first step and the next: the first also pays for first-touched memory and compilation).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../engine/backend.ts';
import { FastCpuBackend, fastMatmulForward } from '../engine/cpu/fast.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { randArray } from '../engine/ref/testutil.ts';
import { simdPeakGflops } from './simd-peak.ts';
import { loadModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import type { RLConfig } from '../rl/config.ts';
import { catalogueConfig } from '../cli/catalogue.ts';
import { Trainer, type StepMetrics } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';

/** out = x·Wᵀ, M×K×N: the lab's shapes (128 sequences × 88 tokens = 11264 rows; hidden 128, MLP 384,
 * LoRA rank 16) and a square one; the same list as sgemm_anchor.py. */
export const SHAPES: [number, number, number][] = [[11264, 128, 384], [11264, 384, 128], [11264, 128, 128], [11264, 128, 16], [11264, 16, 384], [1024, 1024, 1024]];

export interface MatmulRow {
  M: number; K: number; N: number;
  simd: number; simd1: number; fast: number;
  /** OpenBLAS GFLOP/s by configuration label, where the anchor ran. */
  blas: Record<string, number>;
  /** Each round's GFLOP/s of the SIMD matmul on all threads and of OpenBLAS (by label): `simd` and `blas`
   * are their medians. */
  rounds: { simd: number[]; blas: Record<string, number[]> };
}

export interface RlStepRow {
  backend: string;
  /** 1: the first step (memory first touched, code compiled); 2: the next, as every later step. */
  step: number;
  seconds: number;
  rollout_s: number;
  train_s: number;
  groups: number;
  reward: number;
}

export interface CpuReport {
  machine: string;
  threads: number;
  simd: string;
  /** GFLOP/s of register-only f32x4 multiplies and adds on one thread (simd-peak.ts): the most the
   * matmul's instructions can do here. */
  peak1: number;
  /** Rounds of OpenBLAS then the SIMD matmul on all threads (each is the median over them). */
  rounds: number;
  matmul: MatmulRow[];
  blasNote: string;
  rl: { config: string; steps: RlStepRow[] } | null;
}

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function gflops(M: number, K: number, N: number, seconds: number): number {
  return (2 * M * K * N) / seconds / 1e9;
}

function timeSimd(be: SimdCpuBackend, M: number, K: number, N: number, reps: number): number {
  const x = be.alloc('x', M * K), w = be.alloc('w', N * K), out = be.alloc('out', M * N);
  be.upload(x, randArray(M * K, 1));
  be.upload(w, randArray(N * K, 2));
  be.matmulForward(out, x, w, null, M, K, N);
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    be.matmulForward(out, x, w, null, M, K, N);
    ts.push((performance.now() - t) / 1000);
  }
  for (const t of [x, w, out]) be.free(t);
  return gflops(M, K, N, median(ts));
}

function timeFast(M: number, K: number, N: number, reps: number): number {
  const x = randArray(M * K, 1), w = randArray(N * K, 2), out = new Float32Array(M * N), res = new Float64Array(M * N);
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fastMatmulForward(out, x, w, null, M, K, N, false, 1, res);
    ts.push((performance.now() - t) / 1000);
  }
  return gflops(M, K, N, median(ts));
}

/** OpenBLAS through numpy: as this machine's environment configures it and, when OPENBLAS_CORETYPE is
 * set (it pins an older kernel on some CPUs here), also without it, as the anchor's usage line says. */
function runAnchor(log: (m: string) => void): { runs: Record<string, Map<string, number>>; note: string } {
  const script = root('../shared/tools/sgemm_anchor.py');
  if (!existsSync(script)) return { runs: {}, note: `OpenBLAS: not measured (${script} not found)` };
  const configs: [string, NodeJS.ProcessEnv][] = [];
  const { OPENBLAS_CORETYPE: core, OPENBLAS_L2_SIZE: _l2, ...clean } = process.env;
  if (core) configs.push([`OpenBLAS (OPENBLAS_CORETYPE=${core})`, process.env]);
  configs.push([core ? 'OpenBLAS (own kernels)' : 'OpenBLAS', clean]);
  const runs: Record<string, Map<string, number>> = {};
  for (const [label, env] of configs) {
    log(`  ${label}: python3 ${script} ...`);
    const r = spawnSync('python3', [script], { env, encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) return { runs, note: `OpenBLAS: not measured (python3 sgemm_anchor.py: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()}; it needs Debian's python3-numpy)` };
    const m = new Map<string, number>();
    for (const line of r.stdout.trim().split('\n')) {
      const j = JSON.parse(line) as { M: number; K: number; N: number; gflops: number };
      m.set(`${j.M}x${j.K}x${j.N}`, j.gflops);
    }
    runs[label] = m;
  }
  return { runs, note: core ? `OPENBLAS_CORETYPE=${core} is set in this environment; both OpenBLAS configurations are shown` : '' };
}

/** Two RL steps from the model folder on `backend`: the first and a steady one. */
async function rlSteps(backend: Backend, name: string, dir: string, cfg: RLConfig): Promise<RlStepRow[]> {
  const loaded = loadModelDir(dir);
  const model = new Model(backend, loaded.cfg, loaded.weights);
  const inst = await getMethod(cfg.peft.method).attach(model, cfg.peft);
  const trainer = new Trainer(model, inst, getTask(cfg.task), charTokenizer, cfg, null);
  const rows: RlStepRow[] = [];
  for (let i = 0; i < 2; i++) {
    const m: StepMetrics = await trainer.trainStep();
    rows.push({ backend: name, step: m.step, seconds: m.time_rollout_s + m.time_train_s, rollout_s: m.time_rollout_s, train_s: m.time_train_s, groups: m.groups_total, reward: m.reward_mean });
  }
  inst.detach();
  model.free();
  trainer.opt.free();
  return rows;
}

export async function runCpuBench(opts: { quick: boolean; rl: boolean; machine: string; log: (m: string) => void }): Promise<CpuReport> {
  const { log } = opts;
  const be = await SimdCpuBackend.create();
  const one = await SimdCpuBackend.create({ threads: 1 });
  const reps = opts.quick ? 3 : 7, fastReps = opts.quick ? 1 : 3;
  // This machine is shared, and its speed swings within a minute. So the SIMD matmul (both threads) and
  // OpenBLAS take turns: in each round the anchor runs, then the SIMD backend at every shape; each is
  // the median over rounds (of medians over reps), and the peak probe the best of its rounds.
  const rounds = opts.quick ? 1 : 5;
  log(`CPU section: ${be.describe()}; ${rounds} round(s) of OpenBLAS then the SIMD matmul`);
  const peaks: number[] = [], simdRuns: number[][] = SHAPES.map(() => []);
  const anchors: ReturnType<typeof runAnchor>[] = [];
  for (let round = 1; round <= rounds; round++) {
    log(`  round ${round}: 128-bit SIMD multiply + add peak, one thread ...`);
    peaks.push(await simdPeakGflops(opts.quick ? 5_000_000 : 20_000_000));
    anchors.push(runAnchor(log));
    SHAPES.forEach(([M, K, N], i) => {
      log(`  round ${round}: SIMD matmul ${M}×${K}×${N}`);
      simdRuns[i].push(timeSimd(be, M, K, N, reps));
    });
  }
  const matmul: MatmulRow[] = SHAPES.map(([M, K, N], i) => {
    log(`  matmul ${M}×${K}×${N}: one thread, and FastCpuBackend`);
    const blas: Record<string, number> = {}, blasRounds: Record<string, number[]> = {};
    for (const label of new Set(anchors.flatMap((a) => Object.keys(a.runs)))) {
      const gs = anchors.map((a) => a.runs[label]?.get(`${M}x${K}x${N}`)).filter((g) => g !== undefined);
      if (gs.length) { blas[label] = median(gs); blasRounds[label] = gs; }
    }
    return { M, K, N, simd: median(simdRuns[i]), simd1: timeSimd(one, M, K, N, reps), fast: timeFast(M, K, N, fastReps), blas,
      rounds: { simd: simdRuns[i], blas: blasRounds } };
  });
  const peak1 = Math.max(...peaks);
  let rl: CpuReport['rl'] = null;
  if (opts.rl) {
    const { dir, cfg, label } = catalogueConfig();
    log(`  two RL steps, ${label}: FastCpuBackend (the former CPU backend) ...`);
    const old = await rlSteps(new FastCpuBackend(), 'FastCpuBackend (before)', dir, cfg);
    log(`  ... and the SIMD backend`);
    const now = await rlSteps(be, `SIMD, ${be.threadsReady} threads`, dir, cfg);
    rl = { config: label, steps: [...old, ...now] };
  }
  return { machine: opts.machine, threads: be.threadsReady, simd: be.describe(), peak1, rounds, matmul, blasNote: anchors[0].note, rl };
}

export function formatCpuReport(r: CpuReport): string {
  const blasLabels = [...new Set(r.matmul.flatMap((m) => Object.keys(m.blas)))];
  const lines = [`CPU backend — ${r.machine}; ${r.simd}`, ''];
  const head = ['M×K×N', `SIMD ${r.threads}T`, 'SIMD 1T', '1T/peak', 'Fast (old)', ...blasLabels, 'SIMD/Fast', ...blasLabels.map((l) => `SIMD/${l.replace('OpenBLAS ', 'BLAS')}`)];
  const rows = r.matmul.map((m) => [`${m.M}×${m.K}×${m.N}`, m.simd.toFixed(1), m.simd1.toFixed(1), (m.simd1 / r.peak1).toFixed(2), m.fast.toFixed(2),
    ...blasLabels.map((l) => m.blas[l]?.toFixed(1) ?? '—'), `${(m.simd / m.fast).toFixed(1)}×`,
    ...blasLabels.map((l) => (m.blas[l] ? (m.simd / m.blas[l]).toFixed(2) : '—'))]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join('  ');
  lines.push(`128-bit SIMD peak (f32x4 multiplies and adds in registers, one thread; best of ${r.rounds}): ${r.peak1.toFixed(1)} GFLOP/s`,
    `matmul out = x·Wᵀ, GFLOP/s (medians; SIMD ${r.threads}T and OpenBLAS: over ${r.rounds} alternating round(s))`, fmt(head), ...rows.map(fmt));
  if (r.blasNote) lines.push(r.blasNote);
  if (r.rl) {
    lines.push('', `RL steps 1 and 2, ${r.rl.config}`);
    for (const s of r.rl.steps) {
      lines.push(`  ${s.backend.padEnd(26)} step ${s.step} ${s.seconds.toFixed(2).padStart(7)} s  (rollout ${s.rollout_s.toFixed(2)} s, update ${s.train_s.toFixed(2)} s; ${s.groups} groups, reward ${s.reward.toFixed(3)})`);
    }
    const old = r.rl.steps.filter((s) => s.backend.startsWith('Fast')), now = r.rl.steps.filter((s) => !s.backend.startsWith('Fast'));
    old.forEach((a, i) => {
      const b = now[i];
      lines.push(`  step ${a.step} speedup ${(a.seconds / b.seconds).toFixed(1)}× (rollout ${(a.rollout_s / b.rollout_s).toFixed(1)}×, update ${(a.train_s / b.train_s).toFixed(1)}×)`);
    });
  }
  return lines.join('\n');
}
