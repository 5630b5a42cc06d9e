// Where a step's GPU time goes, op by op. The profiler wraps a backend so that, while active, each
// op is submitted on its own and stamped when the queue reports it done; an op's time is then
// done − max(previous done, its own submit). The queue stays busy as long as the CPU encodes
// faster than the GPU runs (true on a CPU rasteriser, where ops take milliseconds); on a fast GPU
// the stamps are limited by how often the runtime polls for completion, so the profile is only a
// guide there (the step's own timings are not affected: the profiler is off while they run).
import type { Backend } from '../engine/backend.ts';
import type { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { now } from './timing.ts';

/** The backend methods that encode GPU work (everything but storage management and readback). */
const STORAGE = new Set(['alloc', 'free', 'upload', 'read', 'readInt', 'sync', 'constructor']);

export interface OpProfile {
  op: string;
  calls: number;
  ms: number;
  /** Share of the profiled GPU time. */
  share: number;
}

interface Stamp {
  op: string;
  submit: number;
  done: number;
}

export class OpProfiler {
  active = false;
  private stamps: Stamp[] = [];

  /** A backend that forwards to `be`, stamping each op while the profiler is active. */
  wrap(be: WebGpuBackend): Backend {
    const handler: ProxyHandler<WebGpuBackend> = {
      get: (target, prop) => {
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        const fn = v as (...args: unknown[]) => unknown;
        if (typeof prop !== 'string' || STORAGE.has(prop)) return fn.bind(target);
        return (...args: unknown[]): unknown => {
          const result = fn.apply(target, args);
          if (this.active) {
            target.ctx.flush();
            const stamp: Stamp = { op: prop, submit: now(), done: NaN };
            this.stamps.push(stamp);
            void target.ctx.device.queue.onSubmittedWorkDone().then(() => {
              stamp.done = now();
            });
          }
          return result;
        };
      },
    };
    return new Proxy(be, handler);
  }

  start(): void {
    this.stamps = [];
    this.active = true;
  }

  /** Stop and summarise, after the caller has waited for the queue to drain (be.sync()). */
  stop(): OpProfile[] {
    this.active = false;
    const byOp = new Map<string, { calls: number; ms: number }>();
    let prev = -Infinity, total = 0;
    for (const s of this.stamps) {
      const done = Number.isFinite(s.done) ? s.done : s.submit;
      const ms = Math.max(0, done - Math.max(prev, s.submit));
      prev = Math.max(prev, done);
      const e = byOp.get(s.op) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += ms;
      byOp.set(s.op, e);
      total += ms;
    }
    return [...byOp].map(([op, e]) => ({ op, calls: e.calls, ms: e.ms, share: total > 0 ? e.ms / total : 0 }))
      .sort((a, b) => b.ms - a.ms);
  }
}
