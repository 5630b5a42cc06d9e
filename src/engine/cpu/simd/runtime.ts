// The WebAssembly side of the SIMD CPU backend: one memory that holds every tensor, the compiled
// kernels (assembly/*.ts, built by `npm run build:wasm` into kernels.wasm.ts), an allocator over that
// memory, and a pool of worker threads that share it.
//
// Threads: where SharedArrayBuffer exists (Node; a cross-origin-isolated page or worker; Deno) the
// memory is shared and `threads − 1` workers run the same kernels on it. A job is described in
// memory, and the calling thread and every worker that wakes in time claim its tasks from one atomic
// counter. The caller never waits for a worker that has not started: once the caller's own share
// returns every task is claimed, so it closes the job and waits only for the workers inside it (a
// worker counts itself in before it checks that its job is still open, so a late one backs out
// instead of reading a job block being rewritten). On a busy machine, where a worker may not be
// scheduled for milliseconds, the caller then simply does the job alone. Each worker waits on its own
// slot. Where Atomics.wait is not
// allowed (a page's main thread) or there is no SharedArrayBuffer, everything runs on the calling
// thread. The thread count never changes a result (see assembly/gemm.ts).
import { KERNELS_SHARED, KERNELS_UNSHARED } from './kernels.wasm.ts';

interface Kernels {
  run(job: number): void;
  transpose(dst: number, src: number, rows: number, cols: number): void;
  /** B (K rows, row stride sbk floats) in strips of eight columns for the packed GEMM tile (assembly/gemm.ts). */
  packB(dst: number, b: number, sbk: number, K: number, N8: number): void;
  /** B's N columns (B(k,j) at b + (k·sbk + j·sbj)·4) in groups of four, every value broadcast to a vector:
   * the transposed GEMM scheme's broadcast operand (assembly/gemm.ts). */
  packBroadcast(dst: number, b: number, sbk: number, sbj: number, N: number, K: number): void;
  zero(addr: number, bytes: number): void;
  copyBlocks(dst: number, dstB: number, dstT: number, src: number, srcB: number, srcT: number, bytes: number, B: number, T: number): void;
  /** e^x by expf.ts over n floats (for the tests). */
  exps(dst: number, src: number, n: number): void;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit
const HEAP_BASE = PAGE; // page 0 is left to the module

// Control words (i32) shared with the workers, in their own block of memory.
const C_ACTIVE = 0; // workers inside a job now
const C_JOB = 1; // address of the current job block
const C_OPEN = 2; // generation of the open job; 0: closed (the job block may be rewritten)
const C_SLOTS = 8; // + id: the job generation worker id should run (−1: exit)
const MAX_WORKERS = 63;
const C_READY = C_SLOTS + MAX_WORKERS; // + id: 1 once worker id is instantiated and waiting
/** Polls of a control word before a thread sleeps in Atomics.wait (a few tens of microseconds): a
 * futex wake-up costs about as much as a small job. */
const SPIN = 20000;

/** The worker's whole program: instantiate the kernels on the shared memory, then run jobs. It
 * runs as a Node worker (workerData) or a Web Worker (first message). */
const WORKER_SOURCE = `
function start(d) {
  const ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  const ctl = new Int32Array(d.memory.buffer, d.ctl, ${C_READY + MAX_WORKERS});
  let seen = 0;
  Atomics.store(ctl, ${C_READY} + d.id, 1);
  for (;;) {
    // spin briefly before sleeping: the next job of a decode step follows within microseconds
    for (let i = 0; i < ${SPIN} && Atomics.load(ctl, ${C_SLOTS} + d.id) === seen; i++);
    Atomics.wait(ctl, ${C_SLOTS} + d.id, seen);
    seen = Atomics.load(ctl, ${C_SLOTS} + d.id);
    if (seen < 0) return;
    // count in, then run only if this generation's job is still open (else the caller has moved on)
    Atomics.add(ctl, ${C_ACTIVE}, 1);
    if (Atomics.load(ctl, ${C_OPEN}) === seen) ex.run(Atomics.load(ctl, ${C_JOB}));
    if (Atomics.sub(ctl, ${C_ACTIVE}, 1) === 1) Atomics.notify(ctl, ${C_ACTIVE});
  }
}
if (typeof require === 'function' && require('node:worker_threads').workerData) start(require('node:worker_threads').workerData);
else self.onmessage = (e) => start(e.data);
`;

function decode(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && !('Deno' in globalThis);
/** A page's main thread may not block in Atomics.wait; workers, Node and Deno may. */
const canBlock = typeof (globalThis as { document?: unknown }).document === 'undefined';
const sharedOk = typeof SharedArrayBuffer !== 'undefined' && canBlock
  && (isNode || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false);

/** Why the pool is limited to the calling thread, or null when threads are available. */
export const singleThreadReason: string | null = !canBlock ? 'a page\'s main thread cannot wait for workers'
  : typeof SharedArrayBuffer === 'undefined' ? 'no SharedArrayBuffer (the page is not cross-origin isolated)'
    : !sharedOk ? 'the page is not cross-origin isolated' : null;

/** Cores reported by the platform. */
export function hardwareThreads(): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  // Node 20 has no navigator; its os module says (process.getBuiltinModule: Node 20.16+)
  const os = isNode ? (process as unknown as { getBuiltinModule?: (m: string) => { availableParallelism(): number } }).getBuiltinModule?.('node:os') : undefined;
  const n = nav?.hardwareConcurrency ?? os?.availableParallelism() ?? 1;
  return Math.max(1, Math.min(MAX_WORKERS + 1, n));
}

interface PoolWorker { terminate(): unknown }

/** The block size that serves `bytes`: 64 bytes at least, else the next of 2^e·{1, 1.25, 1.5, 1.75}
 * (rounded up to 64). */
export function sizeClass(bytes: number): number {
  if (bytes <= 64) return 64;
  const e = Math.floor(Math.log2(bytes));
  const step = 2 ** (e - 2);
  const size = Math.ceil(bytes / step) * step;
  return Math.ceil(size / 64) * 64;
}

export class SimdRuntime {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  private readonly module: WebAssembly.Module;
  private top = HEAP_BASE;
  private readonly freeLists = new Map<number, number[]>();
  /** Each block's size (its class when it was carved from the top). */
  private readonly blockSize = new Map<number, number>();
  private live = 0;
  private readonly ctlAddr: number;
  private ctl: Int32Array;
  private readonly workers: PoolWorker[] = [];
  private gen = 0;
  private starting: Promise<void> = Promise.resolve();

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: sharedOk } as WebAssembly.MemoryDescriptor);
    this.module = new WebAssembly.Module(decode(sharedOk ? KERNELS_SHARED : KERNELS_UNSHARED) as BufferSource);
    this.kernels = new WebAssembly.Instance(this.module, { env: { memory: this.memory } }).exports as unknown as Kernels;
    this.ctlAddr = this.alloc((C_READY + MAX_WORKERS) * 4);
    this.ctl = new Int32Array(this.memory.buffer, this.ctlAddr, C_READY + MAX_WORKERS);
    this.ctl.fill(0);
  }

  // --- memory --------------------------------------------------------------------------------

  /** A zeroed, 64-byte aligned block of at least `bytes` (fresh memory is zero already). A freed block is
   * reused: one of the request's size class (four classes per doubling, so a block serves requests up to
   * ~19% smaller), else the smallest free block of a larger class up to twice the request. Shapes vary
   * from step to step (a rollout's length, a mini-batch's rows, attention's T²): without the larger
   * classes the memory grew by a few hundred MB a step, each first touched (page faults) and towards
   * the 4 GiB limit. Blocks are not split or merged. */
  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    const reuse = this.takeFree(size);
    if (reuse !== undefined) {
      this.kernels.zero(reuse, size);
      this.live += this.blockSize.get(reuse)!;
      return reuse;
    }
    const at = this.top;
    const end = at + size;
    const pages = this.memory.buffer.byteLength / PAGE;
    if (end > pages * PAGE) {
      const need = Math.ceil(end / PAGE) - pages;
      if (pages + need > MAX_PAGES) throw new RangeError(`CPU backend: out of memory (${(end / 2 ** 30).toFixed(2)} GiB > the 4 GiB of WebAssembly)`);
      // grow in steps of at least 1/8 of the memory, so repeated small allocations do not grow it each time
      this.memory.grow(Math.min(MAX_PAGES - pages, Math.max(need, Math.ceil(pages / 8))));
    }
    this.top = end;
    this.blockSize.set(at, size);
    this.live += size;
    return at;
  }

  /** A free block for a request of size class `size`: its own class, else the smallest larger class ≤ 2·size. */
  private takeFree(size: number): number | undefined {
    const own = this.freeLists.get(size);
    if (own?.length) return own.pop();
    let best = 0;
    for (const [c, list] of this.freeLists) if (list.length && c > size && c <= 2 * size && (!best || c < best)) best = c;
    return best ? this.freeLists.get(best)!.pop() : undefined;
  }

  free(addr: number, bytes: number): void {
    const size = this.blockSize.get(addr) ?? sizeClass(bytes);
    this.live -= size;
    const list = this.freeLists.get(size);
    if (list) list.push(addr);
    else this.freeLists.set(size, [addr]);
  }

  /** Bytes in blocks handed out and not freed. */
  get liveBytes(): number {
    return this.live;
  }

  /** Bytes handed out from the memory so far (live or on a free list). */
  get reservedBytes(): number {
    return this.top;
  }

  f32(addr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, addr, n);
  }

  i32(addr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, addr, n);
  }

  // --- threads -------------------------------------------------------------------------------

  /** Start workers until `threads − 1` exist (at most MAX_WORKERS); resolves when they are ready
   * or after `timeoutMs` (then the ones not ready yet simply join later jobs once they are). */
  startWorkers(threads: number, timeoutMs = 20_000): Promise<void> {
    if (singleThreadReason) return Promise.resolve();
    const want = Math.min(MAX_WORKERS, Math.max(0, threads - 1));
    // one start at a time, so two callers never spawn the same worker id
    this.starting = this.starting.then(() => this.spawnUpTo(want, timeoutMs));
    return this.starting;
  }

  private async spawnUpTo(want: number, timeoutMs: number): Promise<void> {
    while (this.workers.length < want) this.workers.push(await this.spawn(this.workers.length));
    const t0 = Date.now();
    while (this.readyWorkers(want) < want && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 2));
  }

  /** Workers among the first `n` that are ready for jobs. */
  readyWorkers(n = this.workers.length): number {
    let k = 0;
    for (let i = 0; i < Math.min(n, this.workers.length); i++) k += Atomics.load(this.ctl, C_READY + i);
    return k;
  }

  private async spawn(id: number): Promise<PoolWorker> {
    const data = { module: this.module, memory: this.memory, ctl: this.ctlAddr, id };
    if (isNode) {
      const { Worker } = await import('node:worker_threads');
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
      w.unref();
      w.on('error', (e) => console.error(`CPU backend worker ${id} failed:`, e));
      return w;
    }
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new Worker(url, { type: 'module', name: `rlvr-cpu-${id}` });
    // A worker that fails (say, a runtime that cannot receive the module) never becomes ready and is
    // never waited for: the jobs run on the threads that are.
    w.onerror = (e) => {
      e.preventDefault();
      console.error(`CPU backend worker ${id} failed: ${e.message}`);
    };
    w.postMessage(data);
    return w;
  }

  /** Run a job block on the calling thread and on up to `threads − 1` ready workers; returns when every
   * task is done and no worker is inside the job (the block may then be rewritten). */
  run(job: number, threads: number): void {
    if (this.ctl.buffer !== this.memory.buffer) this.ctl = new Int32Array(this.memory.buffer, this.ctlAddr, C_READY + MAX_WORKERS);
    const ctl = this.ctl;
    const use = Math.min(threads - 1, this.workers.length);
    if (use > 0) {
      Atomics.store(ctl, C_JOB, job);
      this.gen = (this.gen % 0x3fffffff) + 1; // 1 .. 2^30 − 1: never 0 (closed) nor a slot's −1 (exit)
      Atomics.store(ctl, C_OPEN, this.gen);
      for (let i = 0; i < use; i++) {
        if (Atomics.load(ctl, C_READY + i) !== 1) continue;
        Atomics.store(ctl, C_SLOTS + i, this.gen);
        Atomics.notify(ctl, C_SLOTS + i);
      }
    }
    this.kernels.run(job); // returns once every task is claimed; the ones workers claimed may still run
    if (use > 0) {
      Atomics.store(ctl, C_OPEN, 0);
      for (let i = 0; i < SPIN && Atomics.load(ctl, C_ACTIVE) !== 0; i++);
      for (let a = Atomics.load(ctl, C_ACTIVE); a !== 0; a = Atomics.load(ctl, C_ACTIVE)) Atomics.wait(ctl, C_ACTIVE, a);
    }
  }

  /** Stop every worker (they exit at their next wake-up). */
  close(): void {
    for (let i = 0; i < this.workers.length; i++) {
      Atomics.store(this.ctl, C_SLOTS + i, -1);
      Atomics.notify(this.ctl, C_SLOTS + i);
    }
    for (const w of this.workers.splice(0)) void w.terminate();
  }
}

let shared: SimdRuntime | null = null;

/** The process's (or worker's) one runtime: tensors of every SIMD backend live in its memory. */
export function simdRuntime(): SimdRuntime {
  shared ??= new SimdRuntime();
  return shared;
}
