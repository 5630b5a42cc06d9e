// GpuContext.pack (Backend.pack): tensors moved into one shared buffer keep their contents and their
// handles, and every storage path (upload, read, zero, copy, op bindings, free) addresses the slice,
// never its neighbours. Ops on packed tensors give the same bits as on tensors of their own.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../backend.ts';
import { randArray } from '../ref/testutil.ts';
import type { WebGpuBackend } from './backend.ts';
import { gpuTensor } from './context.ts';
import { testGpu } from './testing.ts';

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(0));

function put(gpu: WebGpuBackend, label: string, data: Float32Array | Int32Array): Tensor {
  const t = gpu.alloc(label, data.length, data instanceof Int32Array ? 'i32' : 'f32');
  gpu.upload(t, data);
  return t;
}

describe('webgpu context: pack', () => {
  it('keeps contents and handles; upload, read, zero and copy touch only the slice', async () => {
    const gpu = await testGpu();
    const a0 = randArray(37, 1), b0 = Int32Array.from({ length: 5 }, (_, i) => 100 + i), c0 = randArray(300, 2);
    const a = put(gpu, 'a', a0), b = put(gpu, 'b', b0), c = put(gpu, 'c', c0);
    gpu.pack('test.pack', [a, b, c]);
    const [ga, gb, gc] = [a, b, c].map(gpuTensor);
    expect(gb.buffer).toBe(ga.buffer);
    expect(gc.buffer).toBe(ga.buffer);
    expect([ga.offset, gb.offset > ga.offset, gc.offset > gb.offset]).toEqual([0, true, true]);
    expect(gb.offset % gpu.ctx.device.limits.minStorageBufferOffsetAlignment).toBe(0);
    expect(bits(await gpu.read(a))).toEqual(bits(a0));
    expect(Array.from(await gpu.readInt(b))).toEqual(Array.from(b0));
    expect(bits(await gpu.read(c))).toEqual(bits(c0));

    gpu.upload(c, Float32Array.from([7, 8]), 298); // the last two entries
    gpu.zero(b);
    gpu.copy(a, c, 2, 1, 298); // a[1..3) = c[298..300)
    expect(Array.from(await gpu.readInt(b))).toEqual([0, 0, 0, 0, 0]);
    const a1 = await gpu.read(a), c1 = await gpu.read(c);
    expect(Array.from(c1.slice(298))).toEqual([7, 8]);
    expect(bits(c1.slice(0, 298))).toEqual(bits(c0.slice(0, 298)));
    expect(Array.from(a1.slice(1, 3))).toEqual([7, 8]);
    expect(a1[0]).toBe(a0[0]);
    expect(bits(a1.slice(3))).toEqual(bits(a0.slice(3)));
  });

  it('zeroAll clears runs of neighbouring packed tensors with one clear each and leaves the rest alone', async () => {
    const gpu = await testGpu();
    const a = put(gpu, 'a', randArray(37, 3)), b = put(gpu, 'b', randArray(70, 4)), d0 = randArray(9, 5), d = put(gpu, 'd', d0);
    const c = put(gpu, 'c', randArray(300, 6)), e = put(gpu, 'e', randArray(12, 7));
    gpu.pack('test.zero', [a, b, d, c]); // e keeps a buffer of its own
    const ctx = gpu.ctx as unknown as { endPass(): GPUCommandEncoder };
    const endPass = ctx.endPass.bind(ctx);
    let clears = 0;
    ctx.endPass = () => (clears++, endPass());
    try {
      gpu.zeroAll([c, e, b, a]);
    } finally {
      ctx.endPass = endPass;
    }
    expect(clears).toBe(3); // a+b together, c (d lies between), e
    for (const t of [a, b, c, e]) expect((await gpu.read(t)).every((x) => x === 0)).toBe(true);
    expect(bits(await gpu.read(d))).toEqual(bits(d0));
  });

  it('ops read and write packed tensors exactly as tensors of their own', async () => {
    const gpu = await testGpu();
    const N = 5, C = 12, OC = 7;
    const x = randArray(N * C, 3), w = randArray(OC * C, 4), bias = randArray(OC, 5), r = randArray(N * OC, 6);
    const run = async (packed: boolean): Promise<Float32Array[]> => {
      const tw = put(gpu, 'w', w), tb = put(gpu, 'bias', bias), tx = put(gpu, 'x', x);
      const out = gpu.alloc('out', N * OC), out2 = put(gpu, 'out2', r);
      if (packed) { // each output in a buffer of its own: one dispatch writes out2 and reads out
        gpu.pack('test.weights', [put(gpu, 'spacer', new Float32Array(3)), tw, tb]);
        gpu.pack('test.out', [put(gpu, 'spacer', new Float32Array(70)), out]);
        gpu.pack('test.out2', [put(gpu, 'spacer', new Float32Array(1)), out2]);
      }
      gpu.matmulForward(out, tx, tw, tb, N, C, OC);
      gpu.add(out2, out2, out, N * OC); // in place, on a packed output
      return [await gpu.read(out), await gpu.read(out2)];
    };
    const [want, want2] = await run(false);
    const [got, got2] = await run(true);
    expect(bits(got)).toEqual(bits(want));
    expect(bits(got2)).toEqual(bits(want2));
  });

  it('frees the shared buffer with its last tensor; double free and re-packing are safe', async () => {
    const gpu = await testGpu();
    const a = put(gpu, 'a', randArray(10, 7)), b = put(gpu, 'b', randArray(20, 8)), c = put(gpu, 'c', randArray(30, 9));
    gpu.pack('test.first', [a, b, c]);
    const first = gpuTensor(a).buffer;
    let destroyed = 0;
    const destroy = first.destroy.bind(first);
    first.destroy = () => {
      destroyed++;
      destroy();
    };
    const c0 = await gpu.read(c);
    gpu.pack('test.second', [c]); // c moves out; a and b keep the first buffer
    expect(gpuTensor(c).buffer).not.toBe(first);
    expect(bits(await gpu.read(c))).toEqual(bits(c0));
    gpu.free(a);
    gpu.free(a);
    await gpu.sync();
    expect(destroyed).toBe(0);
    expect((await gpu.read(b)).length).toBe(20);
    gpu.free(b);
    await gpu.sync();
    expect(destroyed).toBe(1);
    expect(() => gpu.pack('test.freed', [b])).toThrow(/was freed/);
    expect(() => gpu.pack('test.twice', [c, c])).toThrow(/listed twice/);
  });

  it('ops refuse an output that shares a packed buffer with one of their inputs', async () => {
    const gpu = await testGpu();
    const out = gpu.alloc('out', 6), s = put(gpu, 's', randArray(3, 10)), inp = put(gpu, 'inp', randArray(6, 11));
    gpu.pack('test.out-and-scale', [out, s]);
    expect(() => gpu.scaleCols(out, inp, s, null, 2, 3, false)).toThrow(/may not alias input "s"/);
  });
});

describe('webgpu context: bind groups and uniforms', () => {
  it('makes one bind group per pipeline and buffers, reuses it whatever the parameters, and forgets it when a buffer goes', async () => {
    const gpu = await testGpu();
    const ctx = gpu.ctx;
    const x = put(gpu, 'x', randArray(64, 20)), w = put(gpu, 'w', randArray(16, 21)), out = gpu.alloc('out', 64);
    const rstd = gpu.alloc('rstd', 16);
    const before = ctx.bindGroupsCreated;
    // The same pipeline and buffers with three different parameter sets, in one submission and across two.
    gpu.rmsnormForward(out, rstd, x, w, 8, 8, 1e-5);
    const a = await gpu.read(out);
    gpu.rmsnormForward(out, rstd, x, w, 4, 16, 1e-5);
    gpu.rmsnormForward(out, rstd, x, w, 8, 8, 1e-2);
    const c = await gpu.read(out);
    expect(ctx.bindGroupsCreated - before).toBe(1);
    // Each dispatch read its own parameters: the third (eps 1e-2) differs from the first (1e-5).
    gpu.rmsnormForward(out, rstd, x, w, 8, 8, 1e-5);
    expect(bits(await gpu.read(out))).toEqual(bits(a));
    expect(bits(c)).not.toEqual(bits(a));
    expect(ctx.bindGroupsCreated - before).toBe(1);
    // A freed buffer takes its bind groups with it; a new tensor gets a new one.
    gpu.free(out);
    const out2 = gpu.alloc('out2', 64);
    gpu.rmsnormForward(out2, rstd, x, w, 8, 8, 1e-5);
    expect(bits(await gpu.read(out2))).toEqual(bits(a));
    expect(ctx.bindGroupsCreated - before).toBe(2);
  });

  it('fits thousands of dispatches with parameters into one submission', async () => {
    const gpu = await testGpu();
    const ctx = gpu.ctx;
    const a = put(gpu, 'a', new Float32Array(4)), one = put(gpu, 'one', Float32Array.from([1, 1, 1, 1]));
    await gpu.sync();
    const s0 = ctx.submissions;
    for (let i = 0; i < 3000; i++) gpu.add(a, a, one, 1 + (i % 4));
    expect(ctx.submissions).toBe(s0);
    const got = await gpu.read(a);
    expect(Array.from(got)).toEqual([3000, 2250, 1500, 750]);
  });
});
