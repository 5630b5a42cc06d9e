// Where a step's GPU time goes, op by op, from GPU timestamps. While the profiler is active each
// backend op is submitted on its own and followed by an empty compute pass that writes a timestamp
// (timestampWrites, the core `timestamp-query` feature); the queue runs submissions in order, so
// the difference between consecutive stamps is the GPU time of the op between them. Adds a
// submission per op, so it runs apart from the step's own timings. Without the feature the profile
// is empty. Browsers may quantise timestamps (Chrome: 100 µs unless its flag allows full precision).
import type { Backend } from '../engine/backend.ts';
import type { WebGpuBackend } from '../engine/webgpu/backend.ts';

/** Backend methods that do not encode GPU work of their own. */
const STORAGE = new Set(['alloc', 'free', 'upload', 'read', 'readInt', 'sync', 'constructor']);
/** Timestamps per profile (the WebGPU maximum query-set size). */
const MAX_STAMPS = 4096;

export interface OpProfile {
  op: string;
  calls: number;
  ms: number;
  /** Share of the profiled GPU time. */
  share: number;
}

export class OpProfiler {
  private active = false;
  private ops: string[] = [];
  private querySet: GPUQuerySet | null = null;
  private be: WebGpuBackend | null = null;

  /** Whether this device can write timestamps. */
  static supported(be: WebGpuBackend): boolean {
    return be.ctx.device.features.has('timestamp-query');
  }

  /** A backend that forwards to `be`, timing each op while the profiler is active. */
  wrap(be: WebGpuBackend): Backend {
    this.be = be;
    const handler: ProxyHandler<WebGpuBackend> = {
      get: (target, prop) => {
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        const fn = v as (...args: unknown[]) => unknown;
        if (typeof prop !== 'string' || STORAGE.has(prop)) return fn.bind(target);
        return (...args: unknown[]): unknown => {
          const result = fn.apply(target, args);
          if (this.active && this.ops.length + 1 < MAX_STAMPS) {
            this.ops.push(prop);
            this.stamp();
          }
          return result;
        };
      },
    };
    return new Proxy(be, handler);
  }

  private stamp(): void {
    const be = this.be;
    if (!be || !this.querySet) return;
    be.ctx.flush();
    const enc = be.ctx.device.createCommandEncoder({ label: 'profile-stamp' });
    enc.beginComputePass({ label: 'profile-stamp', timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: this.ops.length } }).end();
    be.ctx.device.queue.submit([enc.finish()]);
  }

  /** Start profiling (after the caller has synced). Returns false when timestamps are unsupported. */
  start(): boolean {
    const be = this.be;
    if (!be || !OpProfiler.supported(be)) return false;
    this.querySet ??= be.ctx.device.createQuerySet({ label: 'profile', type: 'timestamp', count: MAX_STAMPS });
    this.ops = [];
    this.active = true;
    this.stamp(); // stamp 0: the start
    return true;
  }

  /** Stop, read the stamps back and summarise by op. */
  async stop(): Promise<OpProfile[]> {
    const be = this.be;
    this.active = false;
    if (!be || !this.querySet) return [];
    const n = this.ops.length + 1;
    const device = be.ctx.device;
    be.ctx.flush();
    const resolve = device.createBuffer({ label: 'profile-resolve', size: n * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ label: 'profile-read', size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder({ label: 'profile-resolve' });
    enc.resolveQuerySet(this.querySet, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ns = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    read.destroy();
    resolve.destroy();
    const byOp = new Map<string, { calls: number; ms: number }>();
    let total = 0;
    this.ops.forEach((op, i) => {
      const ms = Math.max(0, Number(ns[i + 1] - ns[i]) / 1e6);
      const e = byOp.get(op) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += ms;
      byOp.set(op, e);
      total += ms;
    });
    return [...byOp].map(([op, e]) => ({ op, calls: e.calls, ms: e.ms, share: total > 0 ? e.ms / total : 0 })).sort((a, b) => b.ms - a.ms);
  }

  dispose(): void {
    this.querySet?.destroy();
    this.querySet = null;
  }
}
