/**
 * The only module that touches onnxruntime-web (cf. transformers.js `backends/onnx.js`).
 *
 * One decision picks the backend: WebGPU when `navigator.gpu.requestAdapter()` grants an
 * adapter (for `auto`, a hardware one), else WASM. Each backend loads its own ORT bundle with a
 * dynamic import, because the bundle decides the WASM speed: the plain `onnxruntime-web/wasm`
 * bundle runs our models about twice as fast as the WASM path of the WebGPU bundle, and several
 * times faster than the default JSEP bundle. WebGPU uses that JSEP bundle, with graph capture
 * (`graph-capture.ts`): on an H200 in Node it replayed diffit-fmnist in 4.4-7.5 ms per forward
 * against 25-31 ms plain (docs/gpu-bench.md). Sessions run through one queue, so two runs never
 * overlap on a session.
 */
import type * as Ort from 'onnxruntime-web';
import { CapturedGraph, MAX_CAPTURED, maxAbsDiff, REPLAY_TOLERANCE } from './graph-capture';
import type { Backend, BackendInfo, BackendRequest } from './protocol';

type OrtModule = typeof Ort;

/**
 * WASM threads: one per core, at most 4, when cross-origin isolated (SharedArrayBuffer), else one.
 * Measured with `npm run bench:run` on a 2-core machine (the app's guided 18-step run, batch 4):
 * 2 threads 7.3 s, 1 thread 12.2 s, 4 threads 16.8 s (median of 3): more threads than cores is
 * far slower.
 */
export function wasmThreads(): number {
  if (!self.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/**
 * An output's values as an array of our own, free to transfer to the page. onnxruntime-web's WASM
 * backend already copies each CPU output out of its heap into a fresh Float32Array of its own
 * buffer, so that one is kept; a view into a larger or shared buffer is copied. Copying every
 * output again cost 8.3 ms per step of a first visit's run with class 1 and guidance 2, whose
 * every step records attention (the six `attn_*` outputs are 13.6 MB at batch 8; Chromium 156,
 * 2-core AMD EPYC, mean of 4 runs, 2026-12-07).
 */
export function ownedArray(data: Float32Array): Float32Array<ArrayBuffer> {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  return whole && data.buffer instanceof ArrayBuffer ? (data as Float32Array<ArrayBuffer>) : new Float32Array(data);
}

const bundles: Partial<Record<Backend, Promise<OrtModule>>> = {};

function loadBundle(backend: Backend): Promise<OrtModule> {
  bundles[backend] ??= (async () => {
    // WebGPU: the JSEP bundle, whose graph capture replays correctly as is (the C++ WebGPU EP of
    // `onnxruntime-web/webgpu` 1.30 releases the bound buffers after each run: docs/gpu-bench.md).
    const ort: OrtModule = backend === 'webgpu' ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm');
    // No wasmPaths: the bundle locates its .wasm via import.meta.url, which Vite emits as an asset.
    ort.env.wasm.numThreads = wasmThreads();
    ort.env.wasm.proxy = false; // we already are in a worker
    ort.env.logLevel = 'error';
    return ort;
  })();
  return bundles[backend];
}

interface GpuAdapterLike {
  info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; description?: string };
  isFallbackAdapter?: boolean;
}

/** The WebGPU adapter the browser grants, or null. */
async function requestAdapter(): Promise<GpuAdapterLike | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter();
  } catch {
    return null;
  }
}

/**
 * Picks the backend for a request. `webgpu` takes any adapter (SwiftShader included);
 * `auto` takes WebGPU only from a hardware adapter, since a software one is far slower than WASM.
 */
export async function selectBackend(request: BackendRequest): Promise<Omit<BackendInfo, 'weights'>> {
  const threads = wasmThreads();
  if (request === 'wasm') return { backend: 'wasm', notice: null, threads };
  const adapter = await requestAdapter();
  if (!adapter) {
    const why = 'WebGPU is not available in this browser (no adapter was granted)';
    return { backend: 'wasm', notice: `${why}; running on WASM instead.`, threads };
  }
  const fallbackAdapter = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (request === 'auto' && fallbackAdapter) {
    return { backend: 'wasm', notice: 'The only WebGPU adapter is a software fallback; running on WASM, which is faster here.', threads };
  }
  return { backend: 'webgpu', notice: null, threads };
}

/**
 * A model session on one backend; `run` calls are queued. On WebGPU, each batch size gets a
 * graph-captured session (`graph-capture.ts`) the first time it runs: that forward runs plainly
 * and gives every output's dims, the captured session records and replays it once, and the replay
 * must match the plain output (REPLAY_TOLERANCE) before later forwards of that size are replays.
 * A refusal or a mismatch turns capture off for the model, which says why (`captureNote`).
 */
export class OnnxModel {
  private tail: Promise<unknown> = Promise.resolve();
  private forwardMs = 0;
  private forwards = 0;
  private replayed = 0;
  private readonly captured = new Map<number, CapturedGraph>(); // by batch, least recently used first
  /** Why graph capture is off for this model, or null while it is on (WebGPU only). */
  captureNote: string | null;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly backend: Backend,
    private readonly bytes: Uint8Array,
  ) {
    this.captureNote = backend === 'webgpu' ? null : 'graph capture is a WebGPU feature';
  }

  /** Creates a session from the model bytes. */
  static async create(bytes: Uint8Array, backend: Backend): Promise<OnnxModel> {
    const ort = await loadBundle(backend);
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [backend],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    for (const name of ['x', 'sigma', 'class_label']) {
      if (!session.inputNames.includes(name)) throw new Error(`The model has no input "${name}" (inputs: ${session.inputNames.join(', ')}).`);
    }
    if (!session.outputNames.includes('denoised')) throw new Error(`The model has no output "denoised" (outputs: ${session.outputNames.join(', ')}).`);
    return new OnnxModel(ort, session, backend, bytes);
  }

  /**
   * One forward on a batch of one, checked for sanity: a backend that lacks a feature the model
   * needs may return zeros or NaN instead of failing. Also compiles WebGPU shaders up front.
   */
  async warmUp(chw: readonly [number, number, number], uncondLabel: number): Promise<void> {
    const size = chw[0] * chw[1] * chw[2];
    const x = new Float32Array(size);
    for (let k = 0; k < size; k++) x[k] = Math.sin(k); // any non-constant input
    const out = await this.run(x, new Float32Array([1]), new Int32Array([uncondLabel]), chw);
    if (out.some((v) => !Number.isFinite(v))) throw new Error(`the ${this.backend} backend returned non-finite values`);
    if (out.every((v) => v === 0)) throw new Error(`the ${this.backend} backend returned only zeros`);
    this.resetStats();
  }

  /** D(x; sigma, class) for a batch: x [n, C, H, W], sigma [n], labels [n]. Fetches only `denoised`. */
  async run(x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number]): Promise<Float32Array> {
    return (await this.runFetching(x, sigma, labels, chw, [])).denoised;
  }

  /**
   * Like `run`, and also fetches the named extra outputs (the `attn_*` weights), which are
   * returned as float arrays of their own. Callers fetch them only when they keep them.
   */
  runFetching(x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number], extra: readonly string[]): Promise<{ denoised: Float32Array; outputs: Map<string, Float32Array> }> {
    const job = this.tail.then(() => this.forward(x, sigma, labels, chw, extra));
    this.tail = job.catch(() => undefined);
    return job;
  }

  /** Mean wall time of one forward so far (ms), how many there were, and how many were graph replays. */
  stats(): { msPerForward: number; forwards: number; replayed: number } {
    return { msPerForward: this.forwards ? this.forwardMs / this.forwards : 0, forwards: this.forwards, replayed: this.replayed };
  }

  resetStats(): void {
    this.forwardMs = 0;
    this.forwards = 0;
    this.replayed = 0;
  }

  async release(): Promise<void> {
    await this.tail;
    for (const graph of this.captured.values()) await graph.release();
    this.captured.clear();
    await this.session.release();
  }

  private async forward(x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number], extra: readonly string[]): Promise<{ denoised: Float32Array; outputs: Map<string, Float32Array> }> {
    const n = sigma.length;
    for (const name of extra) {
      if (!this.session.outputNames.includes(name)) throw new Error(`The model has no output "${name}" (outputs: ${this.session.outputNames.join(', ')}).`);
    }
    const t0 = performance.now();
    const graph = this.captured.get(n);
    let result: { denoised: Float32Array; outputs: Map<string, Float32Array> };
    if (graph) {
      this.captured.delete(n); // most recently used last
      this.captured.set(n, graph);
      result = await graph.run(x, sigma, labels, extra);
      this.replayed += 1;
    } else {
      // The first forward of this batch size fetches every output when capture may follow: their dims size its buffers.
      const names = this.captureNote === null ? this.session.outputNames : ['denoised', ...extra];
      const plain = await this.plainForward(x, sigma, labels, chw, names);
      result = { denoised: plain.data.get('denoised')!, outputs: new Map(extra.map((name) => [name, plain.data.get(name)!])) };
      if (this.captureNote === null) await this.capture(n, x, sigma, labels, chw, plain.dims, result.denoised);
    }
    this.forwardMs += performance.now() - t0;
    this.forwards += 1;
    if (result.denoised.length !== x.length) throw new Error(`The model returned ${result.denoised.length} values for an input of ${x.length}.`);
    return result;
  }

  /** One forward of the plain session: the named outputs as our own arrays (free to transfer), and their dims. */
  private async plainForward(x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number], names: readonly string[]): Promise<{ data: Map<string, Float32Array>; dims: Map<string, readonly number[]> }> {
    const n = sigma.length;
    const { Tensor } = this.ort;
    const feeds = {
      x: new Tensor('float32', x, [n, ...chw]),
      sigma: new Tensor('float32', sigma, [n]),
      class_label: new Tensor('int64', BigInt64Array.from(labels, (v) => BigInt(v)), [n]),
    };
    const out = await this.session.run(feeds, [...names]);
    const data = new Map<string, Float32Array>();
    const dims = new Map<string, readonly number[]>();
    for (const name of names) {
      data.set(name, ownedArray((await out[name].getData()) as Float32Array));
      dims.set(name, out[name].dims);
      out[name].dispose();
    }
    return { data, dims };
  }

  /**
   * Makes the captured session for batch n: records and replays the forward just run plainly, and
   * keeps the session only if the replay reproduces `reference`. Otherwise capture goes off.
   */
  private async capture(n: number, x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number], dims: ReadonlyMap<string, readonly number[]>, reference: Float32Array): Promise<void> {
    let graph: CapturedGraph | null = null;
    try {
      graph = await CapturedGraph.create(this.ort, this.bytes, n, chw, dims);
      await graph.run(x, sigma, labels, []); // records the commands
      const replay = await graph.run(x, sigma, labels, []);
      const diff = maxAbsDiff(replay.denoised, reference);
      if (!(diff <= REPLAY_TOLERANCE)) throw new Error(`a replay differed from the plain forward by ${diff.toExponential(1)}`);
    } catch (e) {
      this.captureNote = `graph capture is off: ${(e as Error).message}`;
      await graph?.release().catch(() => undefined);
      for (const kept of this.captured.values()) await kept.release().catch(() => undefined);
      this.captured.clear();
      return;
    }
    this.captured.set(n, graph);
    if (this.captured.size > MAX_CAPTURED) {
      const [oldest, old] = this.captured.entries().next().value as [number, CapturedGraph];
      this.captured.delete(oldest);
      await old.release();
    }
  }
}
