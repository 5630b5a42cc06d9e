// GPU memory in use, as the WebGPU API sees it: the bytes of every live GPUBuffer of the device
// (tensors, activations, KV cache, scratch, staging), counted by wrapping createBuffer/destroy.
// Textures and the driver's own allocations are not visible to a page; this is an estimate.

export class BufferBytes {
  live = 0;
  peak = 0;
  private readonly sizes = new WeakMap<GPUBuffer, number>();

  constructor(device: GPUDevice) {
    const create = device.createBuffer.bind(device);
    device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
      const buffer = create(desc);
      this.sizes.set(buffer, desc.size);
      this.live += desc.size;
      this.peak = Math.max(this.peak, this.live);
      const destroy = buffer.destroy.bind(buffer);
      buffer.destroy = (): undefined => {
        const bytes = this.sizes.get(buffer);
        if (bytes !== undefined) {
          this.sizes.delete(buffer);
          this.live -= bytes;
        }
        return destroy();
      };
      return buffer;
    };
  }
}
