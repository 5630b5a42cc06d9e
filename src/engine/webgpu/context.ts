// The WebGPU execution context every op module uses: tensors, a pipeline cache, and a command
// encoder that collects all dispatches until something needs the results (read/sync/upload).
//
// Shader conventions (every file in shaders/):
//  - storage buffers at @group(0) @binding(0..k-1) in the order the op passes tensors,
//    then one uniform `Params` struct at @binding(k) whose fields are all 4-byte u32/i32/f32,
//    in the order of the `params` array (U(x) = u32, I(x) = i32, F(x) = f32);
//  - a 1-D dispatch of more than maxComputeWorkgroupsPerDimension workgroups is folded into
//    (x, y): shaders index with `folded(gid, nwg)` (shaders/core/common.wgsl) and bounds-check
//    against the real size;
//  - `// #include core/name` pulls in a library file (common: WG and folded; tree_sum; sincos; ...).
//
// Per dispatch the CPU does as little as it can (it is the floor of a decode step on a fast GPU):
// pipelines have explicit layouts (read from the shader's binding declarations) whose uniform is
// bound with a dynamic offset, so one bind group serves every dispatch of a pipeline over the same
// buffers, whatever its parameters: bind groups are made once and kept until one of their buffers
// is destroyed. Parameters go into a CPU copy of the uniform arena, uploaded once per submission.
import type { DType, Tensor, TokenColumn } from '../backend.ts';
import { GpuError, type GpuHandle, type GpuInfo } from './device.ts';

/** The bytes a tensor of `size` elements occupies: its buffer, or its slice of a shared one. */
const tensorBytes = (size: number): number => Math.max(16, Math.ceil((size * 4) / 16) * 16);

/** A GPUBuffer several tensors live in (`GpuContext.pack`); destroyed when the last of them is released. */
class SharedBuffer {
  constructor(readonly buffer: GPUBuffer, public live: number) {}
}

/** A tensor's storage: a GPUBuffer of its own, or (once packed) a slice of a shared one at a byte offset. */
export class GpuTensor implements Tensor {
  private buf: GPUBuffer;
  private byteOffset = 0;
  private shared: SharedBuffer | null = null;
  released = false;

  constructor(readonly label: string, readonly size: number, readonly dtype: DType, buffer: GPUBuffer) {
    this.buf = buffer;
  }

  get buffer(): GPUBuffer {
    return this.buf;
  }
  /** Byte offset of the tensor's first element in `buffer` (0 unless packed). */
  get offset(): number {
    return this.byteOffset;
  }
  get packed(): boolean {
    return this.shared !== null;
  }
  /** The storage binding: the whole buffer when the tensor owns it, else its slice. */
  binding(): GPUBufferBinding {
    return this.shared ? { buffer: this.buf, offset: this.byteOffset, size: tensorBytes(this.size) } : { buffer: this.buf };
  }

  /** @internal GpuContext.pack: the storage moves into `shared` at `offset`; returns the storage left behind. */
  moveTo(shared: SharedBuffer, offset: number): SharedBuffer | GPUBuffer {
    const old = this.shared ?? this.buf;
    this.shared = shared;
    this.buf = shared.buffer;
    this.byteOffset = offset;
    return old;
  }

  /** @internal The storage to let go of when the tensor is released. */
  storage(): SharedBuffer | GPUBuffer {
    return this.shared ?? this.buf;
  }
}

/** A whole GPUBuffer bound as one storage binding (the multi-tensor ops address packed tensors by
 * element offset within their shared buffer). */
export class WholeBuffer {
  constructor(readonly buffer: GPUBuffer) {}
}

export type Param = { t: 'u' | 'i' | 'f'; v: number };
export const U = (v: number): Param => ({ t: 'u', v });
export const I = (v: number): Param => ({ t: 'i', v });
export const F = (v: number): Param => ({ t: 'f', v });

export interface DispatchOptions {
  entry?: string;
  constants?: Record<string, number>;
}

/** Invocations per workgroup of every 1-D kernel: the `override WG` of shaders/core/common.wgsl, set
 * here for each shader that declares it, and what the ops divide by to count workgroups. */
export const WG = 256;

/** The uniform arena: 4096 dispatch slots of 256 bytes per submission. */
const ARENA_BYTES = 1 << 20;

type BindingKind = 'storage' | 'read-only-storage' | 'uniform';

/** Binding index → the kinds declared there, from a shader's `@group(0) @binding(i) var<storage, read_write>`
 * lines (a file with several entry points may declare a storage buffer and a uniform at one index). */
function bindingKinds(code: string): Map<number, BindingKind[]> {
  const kinds = new Map<number, BindingKind[]>();
  for (const m of code.matchAll(/@binding\((\d+)\)\s*var<\s*(storage|uniform)\s*(?:,\s*(read_write|read))?\s*>/g)) {
    const i = Number(m[1]);
    kinds.set(i, [...(kinds.get(i) ?? []), m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'storage' : 'read-only-storage']);
  }
  return kinds;
}

/** Throws (naming the op and the tensor) when a tensor holds fewer values than the op will touch: a GPU
 * would clamp the access silently where the CPU backend throws. */
export function checkSizes(op: string, pairs: [Tensor, number][]): void {
  for (const [t, need] of pairs) {
    if (t.size < need) throw new RangeError(`${op}: tensor "${t.label}" has ${t.size} elements, needs ${need}`);
  }
}

/** Throws when a dimension is not an integer in 0..2³²−1 (every dimension goes to a shader as a u32). */
export function checkDims(op: string, dims: Record<string, number>): void {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${op}: ${k} must be a non-negative integer, got ${v}`);
  }
}

/** Throws when an output shares a buffer with an input (WebGPU binds a buffer writable or read-only, not both). */
export function checkNoAlias(op: string, outputs: Tensor[], inputs: Tensor[]): void {
  for (const o of outputs) for (const i of inputs) {
    if (gpuTensor(o).buffer === gpuTensor(i).buffer) throw new Error(`${op}: output "${o.label}" may not alias input "${i.label}"`);
  }
}

/** The token column argmax and sample also write the chosen tokens into: it must hold `rows` slots,
 * be i32, and share no buffer with the op's other tensors. */
export function checkColumn(op: string, col: TokenColumn, rows: number, others: Tensor[]): void {
  checkDims(op, { 'column offset': col.offset, 'column stride': col.stride });
  if (col.rows) throw new Error(`${op}: a row map (TokenColumn.rows) is for CPU backends; the GPU kernels write row n`);
  if (col.tokens.dtype !== 'i32') throw new Error(`${op}: column tokens "${col.tokens.label}" must be i32`);
  const buf = gpuTensor(col.tokens).buffer;
  for (const t of others) if (gpuTensor(t).buffer === buf) throw new Error(`${op}: column tokens "${col.tokens.label}" must be distinct from "${t.label}"`);
  if (rows > 1 && col.stride === 0) throw new RangeError(`${op}: column stride 0 would make ${rows} rows write one slot`);
  const need = (rows - 1) * col.stride + col.offset + 1;
  if (rows > 0 && col.tokens.size < need) throw new RangeError(`${op}: column tokens "${col.tokens.label}" has ${col.tokens.size} elements, needs ${need}`);
}

/** Workgroups for n invocations of `per` each (a 1-D kernel: per = WG). */
export const groups = (n: number, per = WG): number => Math.ceil(n / per);

export function gpuTensor(t: Tensor): GpuTensor {
  if (!(t instanceof GpuTensor)) throw new Error(`tensor "${t.label}" does not belong to the WebGPU backend`);
  return t;
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly info: GpuInfo;
  private readonly shaders: Record<string, string>;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  /** (shader, storage bindings, uniform) → its layout key and layout: the per-dispatch lookup. */
  private readonly layoutOf = new Map<string, [string, GPUBindGroupLayout]>();
  private readonly kinds = new Map<string, Map<number, BindingKind[]>>();
  /** Shaders that declare `override WG` (through core/common). */
  private readonly usesWG = new Set<string>();
  /** Bind groups by layout + bound buffers; and, per buffer, the keys that mention it (evicted on destroy). */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly groupsOf = new Map<GPUBuffer, string[]>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly scratches = new Map<string, GpuTensor>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private readonly arenaData = new ArrayBuffer(ARENA_BYTES);
  private readonly arenaView = new DataView(this.arenaData);
  private arenaOffset = 0;
  private readonly align: number;
  private failure: GpuError | null = null;
  /** Buffers freed while the open encoder may still use them: destroyed right after its submit. */
  private pendingDestroy: GPUBuffer[] = [];
  /** Counters for the benchmark: dispatches, buffer-to-buffer copies (`copy`), submissions and bind
   * groups created since creation, and the CPU time spent encoding dispatches (ms). */
  dispatches = 0;
  copies = 0;
  submissions = 0;
  bindGroupsCreated = 0;
  encodeMs = 0;

  constructor(handle: GpuHandle, shaders: Record<string, string>) {
    this.device = handle.device;
    this.info = handle.info;
    this.shaders = shaders;
    this.align = this.device.limits.minUniformBufferOffsetAlignment;
    this.arena = this.device.createBuffer({ label: 'params-arena', size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.lost.then((info) => {
      this.failure ??= new GpuError('device-lost', `the GPU device was lost (${info.reason}): ${info.message}`);
    });
    this.device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.failure ??= new GpuError('validation', `WebGPU error: ${err.message}`);
    });
  }

  /** Throws the first device error seen, if any. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  createTensor(label: string, size: number, dtype: DType): GpuTensor {
    this.check();
    if (!Number.isInteger(size) || size < 0) throw new Error(`tensor "${label}": invalid size ${size}`);
    const bytes = tensorBytes(size);
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > max) {
      throw new GpuError('device-failed', `tensor "${label}" needs ${bytes} bytes, more than this GPU's largest storage binding (${max} bytes)`);
    }
    const buffer = this.device.createBuffer({
      label,
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    return new GpuTensor(label, size, dtype, buffer);
  }

  private getPipeline(shader: string, opts: DispatchOptions, layoutKey: string, layout: GPUBindGroupLayout): GPUComputePipeline {
    const entry = opts.entry ?? 'main';
    const key = `${shader}:${entry}:${JSON.stringify(opts.constants ?? {})}:${layoutKey}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const module = this.module(shader);
    const constants = this.usesWG.has(shader) ? { WG, ...opts.constants } : opts.constants ?? {};
    p = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants },
    });
    this.pipelines.set(key, p);
    return p;
  }

  private module(shader: string): GPUShaderModule {
    let module = this.modules.get(shader);
    if (!module) {
      const code = this.source(shader);
      module = this.device.createShaderModule({ label: shader, code });
      this.modules.set(shader, module);
      this.kinds.set(shader, bindingKinds(code));
      if (/^override WG\b/m.test(code)) this.usesWG.add(shader);
    }
    return module;
  }

  /** A shader's WGSL with its `// #include name` lines replaced by those library files (one level: a kernel
   * lists every library it needs, those its libraries use included). */
  private source(shader: string): string {
    const code = this.shaders[shader];
    if (code === undefined) throw new Error(`unknown shader "${shader}"`);
    return code.replace(/^\/\/ #include (\S+)$/gm, (_, name: string) => {
      const lib = this.shaders[name];
      if (lib === undefined) throw new Error(`shader "${shader}" includes unknown "${name}"`);
      return lib;
    });
  }

  /** The layout of `storage` storage bindings (kinds as the shader declares them), then a dynamic-offset uniform if `uniform`. */
  private getLayout(shader: string, storage: number, uniform: boolean): [string, GPUBindGroupLayout] {
    const cacheKey = `${shader}|${storage}|${uniform}`;
    let found = this.layoutOf.get(cacheKey);
    if (!found) this.layoutOf.set(cacheKey, (found = this.makeLayout(shader, storage, uniform)));
    return found;
  }

  private makeLayout(shader: string, storage: number, uniform: boolean): [string, GPUBindGroupLayout] {
    this.module(shader);
    const kinds = this.kinds.get(shader)!;
    const list: BindingKind[] = [];
    for (let i = 0; i < storage; i++) {
      const k = kinds.get(i)?.find((x) => x !== 'uniform');
      if (k === undefined) throw new Error(`shader "${shader}": binding ${i} is not a storage buffer`);
      list.push(k);
    }
    if (uniform) {
      if (!kinds.get(storage)?.includes('uniform')) throw new Error(`shader "${shader}": binding ${storage} is not the uniform`);
      list.push('uniform');
    }
    const key = list.map((k) => k[0]).join('');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout ${key}`,
        entries: list.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type, hasDynamicOffset: type === 'uniform' } })),
      });
      this.layouts.set(key, layout);
    }
    return [key, layout];
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  private getBindGroup(layoutKey: string, layout: GPUBindGroupLayout, resources: GPUBufferBinding[]): GPUBindGroup {
    const key = `${layoutKey}|${resources.map((r) => `${this.bufferId(r.buffer)}@${r.offset ?? 0}+${r.size ?? ''}`).join(',')}`;
    let group = this.bindGroups.get(key);
    if (group) return group;
    group = this.device.createBindGroup({ label: key, layout, entries: resources.map((resource, binding) => ({ binding, resource })) });
    this.bindGroups.set(key, group);
    for (const r of resources) {
      const keys = this.groupsOf.get(r.buffer);
      if (keys) keys.push(key);
      else this.groupsOf.set(r.buffer, [key]);
    }
    this.bindGroupsCreated++;
    return group;
  }

  /** Destroy a buffer and forget the bind groups that bind it. */
  private destroyBuffer(b: GPUBuffer): void {
    for (const key of this.groupsOf.get(b) ?? []) this.bindGroups.delete(key);
    this.groupsOf.delete(b);
    b.destroy();
  }

  private getPass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'step' });
    this.pass ??= this.encoder.beginComputePass({ label: 'compute' });
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder({ label: 'step' });
    return this.encoder;
  }

  /** Encode one dispatch. `workgroups` is a total count (folded into x,y when needed) or [x, y, z]. */
  dispatch(shader: string, tensors: (Tensor | WholeBuffer)[], params: Param[], workgroups: number | [number, number, number], opts: DispatchOptions = {}): void {
    this.check();
    let [x, y, z] = typeof workgroups === 'number' ? [workgroups, 1, 1] : workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (typeof workgroups === 'number' && x > maxDim) {
      y = Math.ceil(x / maxDim);
      x = Math.ceil(x / y);
    }
    const t0 = performance.now();
    const bytes = Math.max(16, params.length * 4);
    const slot = params.length > 0 ? Math.ceil(bytes / this.align) * this.align : 0;
    if (this.arenaOffset + slot > ARENA_BYTES) this.flush();
    const [layoutKey, layout] = this.getLayout(shader, tensors.length, params.length > 0);
    const pipeline = this.getPipeline(shader, opts, layoutKey, layout);
    const resources: GPUBufferBinding[] = tensors.map((t) => (t instanceof WholeBuffer ? { buffer: t.buffer } : gpuTensor(t).binding()));
    const offset = this.arenaOffset, dv = this.arenaView;
    if (params.length > 0) {
      params.forEach((p, i) => {
        if (p.t === 'u') dv.setUint32(offset + i * 4, p.v, true);
        else if (p.t === 'i') dv.setInt32(offset + i * 4, p.v, true);
        else dv.setFloat32(offset + i * 4, p.v, true);
      });
      this.arenaOffset += slot;
      resources.push({ buffer: this.arena, offset: 0, size: bytes });
    }
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    if (params.length > 0) pass.setBindGroup(0, this.getBindGroup(layoutKey, layout, resources), [offset]);
    else pass.setBindGroup(0, this.getBindGroup(layoutKey, layout, resources));
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    this.encodeMs += performance.now() - t0;
  }

  /**
   * A per-context scratch tensor named `name` of at least `size` floats (a power of two, at least
   * `min`), grown and never shrunk; ops use it for partial sums. Reusing one across ops in a command
   * encoder is safe: dispatches in a pass see each other's storage writes in order. A grown one's old
   * buffer is destroyed once the encoded work that may use it is submitted.
   */
  scratch(name: string, size: number, min = 1 << 12): GpuTensor {
    let t = this.scratches.get(name);
    if (!t || t.size < size) {
      if (t) this.release(t);
      let n = min;
      while (n < size) n *= 2;
      t = this.createTensor(name, n, 'f32');
      this.scratches.set(name, t);
    }
    return t;
  }

  /** Destroy a tensor's storage once no encoded work can still reference it (a shared buffer once
   * its last tensor is released). Releasing twice is a no-op. */
  release(t: GpuTensor): void {
    if (t.released) return;
    t.released = true;
    this.drop(t.storage());
  }

  private drop(storage: SharedBuffer | GPUBuffer): void {
    let buffer: GPUBuffer;
    if (storage instanceof SharedBuffer) {
      if (--storage.live > 0) return;
      buffer = storage.buffer;
    } else buffer = storage;
    if (this.encoder) this.pendingDestroy.push(buffer);
    else this.destroyBuffer(buffer);
  }

  /**
   * Move the tensors' storage into shared buffers, in order, each tensor at an offset aligned for a
   * storage binding (one buffer unless they exceed the largest binding). Contents are copied in the
   * open encoder, so work encoded before still sees them; the handles stay valid.
   */
  pack(label: string, tensors: GpuTensor[]): void {
    this.check();
    if (new Set(tensors).size !== tensors.length) throw new Error(`pack "${label}": a tensor is listed twice`);
    for (const t of tensors) if (t.released) throw new Error(`pack "${label}": tensor "${t.label}" was freed`);
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    const max = this.device.limits.maxStorageBufferBindingSize;
    const slot = (t: GpuTensor) => Math.ceil(tensorBytes(t.size) / align) * align;
    for (let start = 0, part = 0; start < tensors.length; part++) {
      let end = start, bytes = 0;
      while (end < tensors.length && (end === start || bytes + slot(tensors[end]) <= max)) bytes += slot(tensors[end++]);
      const buffer = this.device.createBuffer({
        label: part === 0 ? label : `${label}#${part}`,
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      const shared = new SharedBuffer(buffer, end - start);
      const enc = this.endPass();
      for (let i = start, off = 0; i < end; off += slot(tensors[i]), i++) {
        const t = tensors[i];
        enc.copyBufferToBuffer(t.buffer, t.offset, buffer, off, tensorBytes(t.size));
        this.drop(t.moveTo(shared, off));
      }
      start = end;
    }
  }

  clear(t: GpuTensor): void {
    if (t.packed) this.endPass().clearBuffer(t.buffer, t.offset, tensorBytes(t.size));
    else this.endPass().clearBuffer(t.buffer);
  }

  /** Clear every tensor; runs of tensors in consecutive slots of one packed buffer (as pack laid
   * them out) become one clearBuffer, padding between slots included (no tensor lives there). */
  clearAll(ts: GpuTensor[]): void {
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    const byBuffer = new Map<GPUBuffer, GpuTensor[]>();
    for (const t of ts) {
      if (!t.packed) this.clear(t);
      else byBuffer.set(t.buffer, [...(byBuffer.get(t.buffer) ?? []), t]);
    }
    for (const [buffer, group] of byBuffer) {
      group.sort((a, b) => a.offset - b.offset);
      for (let i = 0; i < group.length;) {
        const start = group[i].offset;
        let end = start + tensorBytes(group[i].size);
        while (++i < group.length && group[i].offset === Math.ceil(end / align) * align) end = group[i].offset + tensorBytes(group[i].size);
        this.endPass().clearBuffer(buffer, start, end - start);
      }
    }
  }

  copy(dst: GpuTensor, src: GpuTensor, n: number, dstOff: number, srcOff: number): void {
    if (n === 0) return;
    const enc = this.endPass(), from = src.offset + srcOff * 4, to = dst.offset + dstOff * 4;
    if (src.buffer === dst.buffer) {
      // Two tensors packed in one buffer: WebGPU copies only between different buffers.
      const tmp = this.device.createBuffer({ label: `copy:${src.label}`, size: n * 4, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(src.buffer, from, tmp, 0, n * 4);
      enc.copyBufferToBuffer(tmp, 0, dst.buffer, to, n * 4);
      this.pendingDestroy.push(tmp);
    } else enc.copyBufferToBuffer(src.buffer, from, dst.buffer, to, n * 4);
    this.copies++;
  }

  /** Submit everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cb = this.encoder.finish();
    this.encoder = null;
    if (this.arenaOffset > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaData, 0, this.arenaOffset);
    this.device.queue.submit([cb]);
    this.submissions++;
    this.arenaOffset = 0;
    for (const b of this.pendingDestroy) this.destroyBuffer(b); // the submitted work keeps them alive until done
    this.pendingDestroy = [];
  }

  write(t: GpuTensor, data: Float32Array | Int32Array, offset: number): void {
    if (offset + data.length > t.size) {
      throw new Error(`upload to "${t.label}": ${data.length} values at offset ${offset} exceed its size ${t.size}`);
    }
    if (data.length === 0) return; // Deno's wgpu panics on an empty write
    this.flush(); // queue.writeBuffer is ordered against submissions, not against our open encoder
    this.device.queue.writeBuffer(t.buffer, t.offset + offset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async readBytes(t: GpuTensor): Promise<ArrayBuffer> {
    this.check();
    const bytes = Math.max(4, t.size * 4);
    const staging = this.device.createBuffer({ label: `read:${t.label}`, size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass().copyBufferToBuffer(t.buffer, t.offset, staging, 0, staging.size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.check();
      throw new GpuError('device-lost', `reading "${t.label}" back failed: ${String(e)}`);
    }
    const out = staging.getMappedRange().slice(0, t.size * 4);
    staging.unmap();
    staging.destroy();
    this.check();
    return out;
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }
}
