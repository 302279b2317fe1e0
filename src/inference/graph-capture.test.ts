import { describe, expect, it } from 'vitest';
import type * as Ort from 'onnxruntime-web';
import { CapturedGraph, maxAbsDiff } from './graph-capture';

/** GPU buffers as plain memory: writes, copies and mapping act on bytes, so what comes back is what was bound. */
class FakeBuffer {
  readonly memory: Uint8Array;
  destroyed = false;
  constructor(readonly size: number) {
    this.memory = new Uint8Array(size);
  }
  async mapAsync() {}
  getMappedRange() {
    return this.memory.buffer.slice(0);
  }
  unmap() {}
  destroy() {
    this.destroyed = true;
  }
}

function fakeOrt(runs: { feeds: Record<string, unknown>; fetches: Record<string, unknown> }[], options: unknown[]) {
  const device = {
    buffers: [] as FakeBuffer[],
    createBuffer({ size }: { size: number }) {
      const b = new FakeBuffer(size);
      this.buffers.push(b);
      return b;
    },
    createCommandEncoder() {
      const copies: (() => void)[] = [];
      return {
        copyBufferToBuffer(from: FakeBuffer, fo: number, to: FakeBuffer, too: number, size: number) {
          copies.push(() => to.memory.set(from.memory.subarray(fo, fo + size), too));
        },
        finish: () => copies,
      };
    },
    submits: 0,
    queue: {
      writeBuffer(b: FakeBuffer, offset: number, data: ArrayBufferView) {
        b.memory.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
      },
      submit(commands: (() => void)[][]) {
        device.submits += 1;
        for (const list of commands) for (const copy of list) copy();
      },
    },
  };
  type GpuTensor = { gpuBuffer: FakeBuffer; dims: number[]; type: string };
  // The "model": denoised = x * sigma (per image), attn = the class label, as floats.
  const session = {
    outputNames: ['denoised', 'attn_a'],
    released: false,
    async run(feeds: Record<string, GpuTensor>, fetches: Record<string, GpuTensor>) {
      runs.push({ feeds, fetches });
      const x = new Float32Array(feeds.x.gpuBuffer.memory.buffer.slice(0));
      const sigma = new Float32Array(feeds.sigma.gpuBuffer.memory.buffer.slice(0));
      const labels = new BigInt64Array(feeds.class_label.gpuBuffer.memory.buffer.slice(0));
      const n = feeds.x.dims[0];
      const per = (feeds.x.dims[1] * feeds.x.dims[2] * feeds.x.dims[3]) | 0;
      const out = new Float32Array(n * per).map((_, k) => x[k] * sigma[Math.floor(k / per)]);
      fetches.denoised.gpuBuffer.memory.set(new Uint8Array(out.buffer));
      fetches.attn_a.gpuBuffer.memory.set(new Uint8Array(Float32Array.from({ length: n }, (_, i) => Number(labels[i])).buffer));
      return fetches;
    },
    async release() {
      this.released = true;
    },
  };
  const ort = {
    env: { webgpu: { device: Promise.resolve(device) } },
    InferenceSession: {
      async create(_bytes: Uint8Array, opts: unknown) {
        options.push(opts);
        return session;
      },
    },
    Tensor: { fromGpuBuffer: (gpuBuffer: FakeBuffer, { dataType, dims }: { dataType: string; dims: number[] }) => ({ gpuBuffer, dims, type: dataType }) },
  };
  return { ort: ort as unknown as typeof Ort, device, session };
}

describe('CapturedGraph', () => {
  it('binds inputs and every output once, rewrites the inputs per run and reads back what the run wrote', async () => {
    const runs: { feeds: Record<string, unknown>; fetches: Record<string, unknown> }[] = [];
    const options: unknown[] = [];
    const { ort, device, session } = fakeOrt(runs, options);
    const dims = new Map([
      ['denoised', [2, 1, 2, 2]],
      ['attn_a', [2]],
    ]);
    const graph = await CapturedGraph.create(ort, new Uint8Array(1), 2, [1, 2, 2], dims);
    expect(options[0]).toMatchObject({ executionProviders: ['webgpu'], enableGraphCapture: true, freeDimensionOverrides: { batch: 2 }, preferredOutputLocation: 'gpu-buffer' });

    const x = Float32Array.from({ length: 8 }, (_, k) => k + 1);
    const first = await graph.run(x, new Float32Array([1, 2]), new Int32Array([3, 10]), ['attn_a']);
    expect(Array.from(first.denoised)).toEqual([1, 2, 3, 4, 10, 12, 14, 16]);
    expect(Array.from(first.outputs.get('attn_a')!)).toEqual([3, 10]);
    expect(device.submits).toBe(1); // denoised and attn_a come back in one submit

    const second = await graph.run(x.map((v) => -v), new Float32Array([0.5, 1]), new Int32Array([0, 0]), []);
    expect(Array.from(second.denoised)).toEqual([-0.5, -1, -1.5, -2, -5, -6, -7, -8]);
    expect(second.outputs.size).toBe(0);
    // The same tensors (so the same GPU buffers) in every run: what a captured graph needs.
    expect(runs[1].feeds).toBe(runs[0].feeds);
    expect(runs[1].fetches.denoised).toBe(runs[0].fetches.denoised);

    await graph.release();
    expect(session.released).toBe(true);
    expect(device.buffers.every((b) => b.destroyed)).toBe(true);
  });

  it('refuses to read an output the model lacks, before it submits anything', async () => {
    const { ort, device } = fakeOrt([], []);
    const graph = await CapturedGraph.create(ort, new Uint8Array(1), 1, [1, 2, 2], new Map([['denoised', [1, 1, 2, 2]], ['attn_a', [1]]]));
    await expect(graph.run(new Float32Array(4), new Float32Array([1]), new Int32Array([0]), ['attn_b'])).rejects.toThrow(/no output "attn_b"/);
    expect(device.submits).toBe(0);
  });

  it('refuses an output without dims, and releases its session', async () => {
    const { ort, session } = fakeOrt([], []);
    await expect(CapturedGraph.create(ort, new Uint8Array(1), 1, [1, 2, 2], new Map([['denoised', [1, 1, 2, 2]]]))).rejects.toThrow(/no dims for output attn_a/);
    expect(session.released).toBe(true);
  });
});

describe('maxAbsDiff', () => {
  it('is the largest difference, and Infinity for NaN or other lengths', () => {
    expect(maxAbsDiff(new Float32Array([1, 2]), new Float32Array([1.5, 1]))).toBe(1);
    expect(maxAbsDiff(new Float32Array([1]), new Float32Array([1, 2]))).toBe(Infinity);
    expect(maxAbsDiff(new Float32Array([NaN, 5]), new Float32Array([1, 1]))).toBe(Infinity);
  });
});
