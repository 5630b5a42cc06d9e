// The WebGPU execution context every op module uses: tensors, a pipeline cache, and a command
// encoder that collects all dispatches until something needs the results (read/sync/upload).
//
// Shader conventions (every file in shaders/):
//  - storage buffers at @group(0) @binding(0..k-1) in the order the op passes tensors,
//    then one uniform `Params` struct at @binding(k) whose fields are all 4-byte u32/i32/f32,
//    in the order of the `params` array (U(x) = u32, I(x) = i32, F(x) = f32);
//  - a 1-D dispatch of more than maxComputeWorkgroupsPerDimension workgroups is folded into
//    (x, y): shaders index with `gid.x + gid.y * nwg.x * WG` (nwg = @builtin(num_workgroups))
//    and bounds-check against the real size.
import type { DType, Tensor } from '../backend.ts';
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

const ARENA_BYTES = 1 << 16;

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
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private arenaOffset = 0;
  private readonly align: number;
  private failure: GpuError | null = null;
  /** Buffers freed while the open encoder may still use them: destroyed right after its submit. */
  private pendingDestroy: GPUBuffer[] = [];
  /** Counters for the benchmark: dispatches, buffer-to-buffer copies (`copy`) and submissions since creation. */
  dispatches = 0;
  copies = 0;
  submissions = 0;

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

  private getPipeline(shader: string, opts: DispatchOptions): GPUComputePipeline {
    const entry = opts.entry ?? 'main';
    const constants = opts.constants ?? {};
    const key = `${shader}:${entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(shader);
    if (!module) {
      const code = this.shaders[shader];
      if (code === undefined) throw new Error(`unknown shader "${shader}"`);
      module = this.device.createShaderModule({ label: shader, code });
      this.modules.set(shader, module);
    }
    p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: entry, constants } });
    this.pipelines.set(key, p);
    return p;
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
    const pipeline = this.getPipeline(shader, opts);
    const bytes = Math.max(16, params.length * 4);
    const slot = Math.ceil(bytes / this.align) * this.align;
    if (this.arenaOffset + slot > ARENA_BYTES) this.flush();
    const data = new ArrayBuffer(bytes);
    const dv = new DataView(data);
    params.forEach((p, i) => {
      if (p.t === 'u') dv.setUint32(i * 4, p.v, true);
      else if (p.t === 'i') dv.setInt32(i * 4, p.v, true);
      else dv.setFloat32(i * 4, p.v, true);
    });
    const offset = this.arenaOffset;
    this.device.queue.writeBuffer(this.arena, offset, data);
    this.arenaOffset += slot;
    const entries: GPUBindGroupEntry[] = tensors.map((t, i) => ({ binding: i, resource: t instanceof WholeBuffer ? { buffer: t.buffer } : gpuTensor(t).binding() }));
    if (params.length > 0) entries.push({ binding: tensors.length, resource: { buffer: this.arena, offset, size: bytes } });
    const bindGroup = this.device.createBindGroup({ label: shader, layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
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
    else buffer.destroy();
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
    this.device.queue.submit([cb]);
    this.submissions++;
    this.arenaOffset = 0;
    for (const b of this.pendingDestroy) b.destroy(); // the submitted work keeps them alive until done
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
