/**
 * WebGPU graph capture for one model: onnxruntime-web's `enableGraphCapture`, one session per batch
 * size (a captured graph has fixed shapes), whose inputs and outputs live in GPU buffers bound once.
 * The first run records the GPU commands; later runs write new inputs into the same buffers and
 * replay them, without the per-kernel round trips that set a plain WebGPU forward's pace.
 *
 * Measured with the same bundle in Node on an H200 (docs/gpu-bench.md, 2026-11-27, one run):
 * diffit-fmnist 25.4 / 30.9 / 31.0 ms per forward plain at batch 1 / 2 / 8, and 7.45 / 6.79 / 4.43 ms
 * replayed. Only `ort-backend.ts` uses this module; it passes the ORT module in.
 */
import type * as Ort from 'onnxruntime-web';

type OrtModule = typeof Ort;

/** The few WebGPU calls used here (the project carries no @webgpu/types). */
interface GpuBuffer {
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface GpuDevice {
  createBuffer(descriptor: { size: number; usage: number }): GpuBuffer;
  createCommandEncoder(): { copyBufferToBuffer(from: GpuBuffer, fromOffset: number, to: GpuBuffer, toOffset: number, size: number): void; finish(): unknown };
  queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void; submit(commands: unknown[]): void };
}

// GPUBufferUsage and GPUMapMode flags (WebGPU spec), as numbers so that this module loads anywhere.
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const STORAGE = 0x80;
const MODE_READ = 0x1;

/** Captured sessions kept per model (each holds its own copy of the weights on the GPU). */
export const MAX_CAPTURED = 4;
/** A replay must reproduce the plain WebGPU forward on the same input this closely (same kernels). */
export const REPLAY_TOLERANCE = 1e-4;

/** Buffer sizes rounded up to 16 bytes: no shader reads past a buffer's end. */
const padded = (bytes: number) => Math.ceil(bytes / 16) * 16;

function storage(device: GpuDevice, bytes: number): GpuBuffer {
  return device.createBuffer({ size: padded(bytes), usage: STORAGE | COPY_SRC | COPY_DST });
}

/** The largest |a - b|; Infinity for arrays of different lengths or a NaN on either side. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    if (d > worst) worst = d;
  }
  return worst;
}

/** Bytes per element of the output types a captured graph binds (a float16-compute file returns its attention in float16). */
const ELEMENT_BYTES = { float32: 4, float16: 2 } as const;
type OutputType = keyof typeof ELEMENT_BYTES;

/** The float32 value of every IEEE 754 half-precision bit pattern (256 KB, made on first use). */
let halfValues: Float32Array | null = null;
function halfTable(): Float32Array {
  if (halfValues) return halfValues;
  halfValues = new Float32Array(0x10000);
  for (let h = 0; h < 0x10000; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) halfValues[h] = sign * fraction * 2 ** -24; // zero and subnormals
    else if (exponent === 31) halfValues[h] = fraction ? NaN : sign * Infinity;
    else halfValues[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return halfValues;
}

/** IEEE 754 half-precision bits to float32 values: one table lookup per element (a step's attention is millions). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** The element type the session gives an output (float32 where it says nothing); other types are refused. */
function outputType(session: Ort.InferenceSession, name: string): OutputType {
  const meta = (session as { outputMetadata?: readonly Ort.InferenceSession.ValueMetadata[] }).outputMetadata?.find((m) => m.name === name);
  const type = meta?.isTensor ? meta.type : 'float32';
  if (!(type in ELEMENT_BYTES)) throw new Error(`output ${name} is ${type}; graph capture binds float32 and float16 outputs`);
  return type as OutputType;
}

interface Output {
  name: string;
  type: OutputType;
  buffer: GpuBuffer;
  staging: GpuBuffer;
  bytes: number;
  tensor: Ort.Tensor;
}

/** One captured session for batch `n`: every output bound to a GPU buffer of its own. */
export class CapturedGraph {
  private constructor(
    private readonly session: Ort.InferenceSession,
    private readonly device: GpuDevice,
    private readonly inputs: { x: GpuBuffer; sigma: GpuBuffer; labels: GpuBuffer },
    private readonly feeds: Record<string, Ort.Tensor>,
    private readonly outputs: Map<string, Output>,
    readonly batch: number,
    private readonly fetches: Record<string, Ort.Tensor> = Object.fromEntries([...outputs].map(([name, o]) => [name, o.tensor])),
  ) {}

  /**
   * A session for batch `n` with graph capture, its buffers made from `dims` (every output's dims at
   * batch n, from a plain run). Refused by ORT (no capture support, an op off the GPU) -> throws.
   */
  static async create(ort: OrtModule, bytes: Uint8Array, n: number, chw: readonly [number, number, number], dims: ReadonlyMap<string, readonly number[]>): Promise<CapturedGraph> {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      enableGraphCapture: true,
      freeDimensionOverrides: { batch: n },
      preferredOutputLocation: 'gpu-buffer',
    });
    try {
      const device = (await ort.env.webgpu.device) as unknown as GpuDevice;
      const size = n * chw[0] * chw[1] * chw[2];
      const inputs = { x: storage(device, size * 4), sigma: storage(device, n * 4), labels: storage(device, n * 8) };
      const feeds = {
        x: ort.Tensor.fromGpuBuffer(inputs.x as never, { dataType: 'float32', dims: [n, ...chw] }),
        sigma: ort.Tensor.fromGpuBuffer(inputs.sigma as never, { dataType: 'float32', dims: [n] }),
        class_label: ort.Tensor.fromGpuBuffer(inputs.labels as never, { dataType: 'int64', dims: [n] }),
      };
      const outputs = new Map<string, Output>();
      for (const name of session.outputNames) {
        const shape = dims.get(name);
        if (!shape) throw new Error(`no dims for output ${name}`);
        const type = outputType(session, name);
        const bytes = shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[type];
        const buffer = storage(device, bytes);
        const staging = device.createBuffer({ size: padded(bytes), usage: MAP_READ | COPY_DST });
        const tensor = ort.Tensor.fromGpuBuffer(buffer as never, { dataType: type, dims: [...shape] });
        outputs.set(name, { name, type, buffer, staging, bytes, tensor });
      }
      return new CapturedGraph(session, device, inputs, feeds, outputs, n);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** One forward: write the inputs, record (first run) or replay, read back `denoised` and `extra`. */
  async run(x: Float32Array, sigma: Float32Array, labels: Int32Array, extra: readonly string[]): Promise<{ denoised: Float32Array; outputs: Map<string, Float32Array> }> {
    const { queue } = this.device;
    queue.writeBuffer(this.inputs.x, 0, x);
    queue.writeBuffer(this.inputs.sigma, 0, sigma);
    queue.writeBuffer(this.inputs.labels, 0, BigInt64Array.from(labels, (v) => BigInt(v)));
    await this.session.run(this.feeds, this.fetches);
    const [denoised, ...rest] = await this.read(['denoised', ...extra]);
    return { denoised, outputs: new Map(extra.map((name, k) => [name, rest[k]])) };
  }

  /**
   * Copies the named outputs to the CPU through their staging buffers: one command buffer with every
   * copy, one submit (ordered after the run's commands), and the maps awaited together, so a step that
   * records attention waits for the GPU once rather than once per output.
   */
  private async read(names: readonly string[]): Promise<Float32Array[]> {
    const outputs = names.map((name) => {
      const output = this.outputs.get(name);
      if (!output) throw new Error(`The model has no output "${name}".`);
      return output;
    });
    const encoder = this.device.createCommandEncoder();
    for (const o of outputs) encoder.copyBufferToBuffer(o.buffer, 0, o.staging, 0, padded(o.bytes));
    this.device.queue.submit([encoder.finish()]);
    await Promise.all(outputs.map((o) => o.staging.mapAsync(MODE_READ)));
    return outputs.map((o) => {
      const copy = o.staging.getMappedRange().slice(0, o.bytes);
      o.staging.unmap();
      return o.type === 'float16' ? float16ToFloat32(new Uint16Array(copy)) : new Float32Array(copy);
    });
  }

  async release(): Promise<void> {
    await this.session.release();
    for (const b of Object.values(this.inputs)) b.destroy();
    for (const o of this.outputs.values()) {
      o.buffer.destroy();
      o.staging.destroy();
    }
  }
}
