import { describe, expect, it } from 'vitest';
import type * as Ort from 'onnxruntime-web';
import { CapturedGraph, float16ToFloat32, maxAbsDiff } from './graph-capture';

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

/** Half-precision bits of the few small whole numbers the fake model returns as float16. */
const HALF_BITS: Record<number, number> = { 0: 0x0000, 3: 0x4200, 10: 0x4900 };

function fakeOrt(runs: { feeds: Record<string, unknown>; fetches: Record<string, unknown> }[], options: unknown[], attnType: 'float32' | 'float16' | 'int64' | null = null) {
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
    // onnxruntime-web's output metadata, where the test gives a type (the app's sessions have it; older fakes did not)
    ...(attnType ? { outputMetadata: [{ name: 'denoised', isTensor: true, type: 'float32', shape: [] }, { name: 'attn_a', isTensor: true, type: attnType, shape: [] }] } : {}),
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
      const attn = fetches.attn_a.type === 'float16' ? Uint16Array.from({ length: n }, (_, i) => HALF_BITS[Number(labels[i])]) : Float32Array.from({ length: n }, (_, i) => Number(labels[i]));
      fetches.attn_a.gpuBuffer.memory.set(new Uint8Array(attn.buffer));
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

  it('binds a float16 output at 2 bytes an element and returns it as float32; refuses other types', async () => {
    const { ort, device } = fakeOrt([], [], 'float16');
    const graph = await CapturedGraph.create(ort, new Uint8Array(1), 2, [1, 2, 2], new Map([['denoised', [2, 1, 2, 2]], ['attn_a', [2]]]));
    expect(device.buffers.map((b) => b.size)).toContain(16); // 2 halves padded to 16 bytes, beside 32-byte float32 buffers
    const out = await graph.run(new Float32Array(8).fill(1), new Float32Array([1, 1]), new Int32Array([3, 10]), ['attn_a']);
    expect(Array.from(out.outputs.get('attn_a')!)).toEqual([3, 10]);
    const int64 = fakeOrt([], [], 'int64');
    await expect(CapturedGraph.create(int64.ort, new Uint8Array(1), 2, [1, 2, 2], new Map([['denoised', [2, 1, 2, 2]], ['attn_a', [2]]]))).rejects.toThrow(/attn_a is int64/);
    expect(int64.session.released).toBe(true);
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

describe('float16ToFloat32', () => {
  it('decodes normals, subnormals, zeros, the largest half, infinities and NaN', () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x8000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3800]);
    const got = Array.from(float16ToFloat32(bits));
    expect(got.slice(0, 2)).toEqual([1, -2]);
    expect(got[2]).toBeCloseTo(1 / 3, 3);
    expect(got.slice(3, 8)).toEqual([2 ** -24, -0, 65504, Infinity, -Infinity]);
    expect(got[8]).toBeNaN();
    expect(got[9]).toBe(0.5);
  });
});

describe('maxAbsDiff', () => {
  it('is the largest difference, and Infinity for NaN or other lengths', () => {
    expect(maxAbsDiff(new Float32Array([1, 2]), new Float32Array([1.5, 1]))).toBe(1);
    expect(maxAbsDiff(new Float32Array([1]), new Float32Array([1, 2]))).toBe(Infinity);
    expect(maxAbsDiff(new Float32Array([NaN, 5]), new Float32Array([1, 1]))).toBe(Infinity);
  });
});
