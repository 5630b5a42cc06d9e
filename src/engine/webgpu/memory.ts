// GPU memory as the WebGPU API sees it: every GPUBuffer created on a device (the engine's tensors,
// the matmul split scratch, the uniform arena, readback staging, tfjs's buffers) counted when
// created and uncounted when destroyed. Installed by wrapping the device's createBuffer, so nothing
// in the engine needs to know. `live` and `peak` are bytes of buffer size (what the driver must
// back, alignment and internal padding aside); textures and the driver's own allocations are not
// visible to a page. Used by the bench and by the lab's worker (the GPU card's memory line).

export class MemoryTracker {
  live = 0;
  peak = 0;
  /** Buffers created so far (including destroyed ones). */
  created = 0;
  private readonly buffers = new WeakMap<GPUBuffer, number>(); // weak: a buffer dropped without destroy() is not kept alive

  constructor(readonly device: GPUDevice) {
    const create = device.createBuffer.bind(device);
    device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
      const buffer = create(desc);
      this.created++;
      this.buffers.set(buffer, desc.size);
      this.live += desc.size;
      this.peak = Math.max(this.peak, this.live);
      const destroy = buffer.destroy.bind(buffer);
      buffer.destroy = (): undefined => {
        const bytes = this.buffers.get(buffer);
        if (bytes !== undefined) {
          this.buffers.delete(buffer);
          this.live -= bytes;
        }
        return destroy();
      };
      return buffer;
    };
  }

  /** Start a new peak window at the current live bytes. */
  resetPeak(): void {
    this.peak = this.live;
  }
}
