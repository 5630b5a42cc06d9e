// Runs in IndexedDB: each run's record (config, model, status, colour), its step metrics,
// evaluations and spectral records (one row each, keyed by run and step, written as they arrive so a
// closed tab loses nothing), and its latest checkpoint (to resume after a device loss or a reload, and to export
// the adapter later).
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ModelSource } from '../model/source.ts';
import type { SpectralRecord } from '../peft/spectral.ts';
import type { RLConfig } from '../rl/config.ts';
import type { EvalRecord, StepMetrics } from '../rl/trainer.ts';
import type { BackendChoice, CheckpointData, RunInfo, RunState } from '../worker/protocol.ts';

export type RunStatus = RunState | 'interrupted';

export interface RunRecord {
  id: string;
  name: string;
  color: string;
  createdAt: number;
  config: RLConfig;
  model: ModelSource;
  backend: BackendChoice;
  status: RunStatus;
  message?: string;
  /** Last step recorded. */
  step: number;
  /** Seconds spent in rollouts and updates. */
  seconds: number;
  info?: RunInfo;
  /** Part of a sweep. */
  sweepId?: string;
}

export interface StepRow extends StepMetrics {
  runId: string;
  gpu_bytes: number | null;
}

export interface EvalRow extends EvalRecord {
  runId: string;
}

export interface SpectralRow extends SpectralRecord {
  runId: string;
}

export interface CheckpointRow {
  runId: string;
  step: number;
  checkpoint: CheckpointData;
}

interface LabDB extends DBSchema {
  runs: { key: string; value: RunRecord };
  steps: { key: [string, number]; value: StepRow };
  evals: { key: [string, number, string]; value: EvalRow };
  spectral: { key: [string, number]; value: SpectralRow };
  checkpoints: { key: string; value: CheckpointRow };
  kv: { key: string; value: unknown };
}

let dbp: Promise<IDBPDatabase<LabDB>> | null = null;

export function db(): Promise<IDBPDatabase<LabDB>> {
  dbp ??= openDB<LabDB>('rlvr-lab', 2, {
    upgrade(d, oldVersion) {
      if (oldVersion < 1) {
        d.createObjectStore('runs', { keyPath: 'id' });
        d.createObjectStore('steps', { keyPath: ['runId', 'step'] });
        d.createObjectStore('evals', { keyPath: ['runId', 'step', 'split'] });
        d.createObjectStore('checkpoints', { keyPath: 'runId' });
        d.createObjectStore('kv');
      }
      if (oldVersion < 2) d.createObjectStore('spectral', { keyPath: ['runId', 'step'] }); // version 2: spectral records
    },
    // A newer page in another tab wants to upgrade: let it (this tab reopens on its next access).
    blocking(_current, _wanted, event) {
      (event.target as IDBDatabase).close();
      dbp = null;
    },
  });
  return dbp;
}

const runRange = (id: string) => IDBKeyRange.bound([id], [id, []]);

export async function putRun(r: RunRecord): Promise<void> {
  await (await db()).put('runs', r);
}

export async function allRuns(): Promise<RunRecord[]> {
  return (await (await db()).getAll('runs')).sort((a, b) => a.createdAt - b.createdAt);
}

export async function putStep(row: StepRow): Promise<void> {
  await (await db()).put('steps', row);
}

export async function putEval(row: EvalRow): Promise<void> {
  await (await db()).put('evals', row);
}

export async function runSteps(id: string): Promise<StepRow[]> {
  return (await db()).getAll('steps', runRange(id));
}

export async function runEvals(id: string): Promise<EvalRow[]> {
  return (await db()).getAll('evals', runRange(id));
}

export async function putSpectral(row: SpectralRow): Promise<void> {
  await (await db()).put('spectral', row);
}

export async function runSpectral(id: string): Promise<SpectralRow[]> {
  return (await db()).getAll('spectral', runRange(id));
}

export async function putCheckpoint(row: CheckpointRow): Promise<void> {
  await (await db()).put('checkpoints', row);
}

export async function getCheckpoint(id: string): Promise<CheckpointRow | undefined> {
  return (await db()).get('checkpoints', id);
}

/** Drop the steps, evaluations and spectral records after `step` (a resume from an earlier
 * checkpoint replays them). */
export async function truncateRun(id: string, step: number): Promise<void> {
  const d = await db();
  const tx = d.transaction(['steps', 'evals', 'spectral'], 'readwrite');
  await tx.objectStore('steps').delete(IDBKeyRange.bound([id, step + 1], [id, Infinity]));
  await tx.objectStore('evals').delete(IDBKeyRange.bound([id, step + 1], [id, Infinity, []]));
  await tx.objectStore('spectral').delete(IDBKeyRange.bound([id, step + 1], [id, Infinity]));
  await tx.done;
}

export async function deleteRun(id: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'steps', 'evals', 'spectral', 'checkpoints'], 'readwrite');
  await Promise.all([
    tx.objectStore('runs').delete(id),
    tx.objectStore('steps').delete(runRange(id)),
    tx.objectStore('evals').delete(runRange(id)),
    tx.objectStore('spectral').delete(runRange(id)),
    tx.objectStore('checkpoints').delete(id),
    tx.done,
  ]);
}

export async function getKv<T>(key: string): Promise<T | undefined> {
  return (await (await db()).get('kv', key)) as T | undefined;
}

export async function putKv(key: string, value: unknown): Promise<void> {
  await (await db()).put('kv', value, key);
}
