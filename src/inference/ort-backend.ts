/**
 * The only module that touches onnxruntime-web (cf. transformers.js `backends/onnx.js`).
 *
 * One decision picks the backend: WebGPU when `navigator.gpu.requestAdapter()` grants an
 * adapter (for `auto`, a hardware one), else WASM. Each backend loads its own ORT bundle with a
 * dynamic import, because the bundle decides the WASM speed: the plain `onnxruntime-web/wasm`
 * bundle runs our models about twice as fast as the WASM path of the WebGPU bundle, and several
 * times faster than the default JSEP bundle. Sessions run through one queue, so two runs never
 * overlap on a session.
 */
import type * as Ort from 'onnxruntime-web';
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

const bundles: Partial<Record<Backend, Promise<OrtModule>>> = {};

function loadBundle(backend: Backend): Promise<OrtModule> {
  bundles[backend] ??= (async () => {
    const ort: OrtModule = backend === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
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
export async function selectBackend(request: BackendRequest): Promise<BackendInfo> {
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

/** A model session on one backend; `run` calls are queued. */
export class OnnxModel {
  private tail: Promise<unknown> = Promise.resolve();
  private forwardMs = 0;
  private forwards = 0;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly backend: Backend,
  ) {}

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
    return new OnnxModel(ort, session, backend);
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

  /** Mean wall time of one forward so far (ms), and how many there were. */
  stats(): { msPerForward: number; forwards: number } {
    return { msPerForward: this.forwards ? this.forwardMs / this.forwards : 0, forwards: this.forwards };
  }

  resetStats(): void {
    this.forwardMs = 0;
    this.forwards = 0;
  }

  async release(): Promise<void> {
    await this.tail;
    await this.session.release();
  }

  private async forward(x: Float32Array, sigma: Float32Array, labels: Int32Array, chw: readonly [number, number, number], extra: readonly string[]): Promise<{ denoised: Float32Array; outputs: Map<string, Float32Array> }> {
    const n = sigma.length;
    const { Tensor } = this.ort;
    const feeds = {
      x: new Tensor('float32', x, [n, ...chw]),
      sigma: new Tensor('float32', sigma, [n]),
      class_label: new Tensor('int64', BigInt64Array.from(labels, (v) => BigInt(v)), [n]),
    };
    for (const name of extra) {
      if (!this.session.outputNames.includes(name)) throw new Error(`The model has no output "${name}" (outputs: ${this.session.outputNames.join(', ')}).`);
    }
    const t0 = performance.now();
    const out = await this.session.run(feeds, ['denoised', ...extra]);
    const denoised = out.denoised;
    const data = (await denoised.getData()) as Float32Array;
    const outputs = new Map<string, Float32Array>();
    for (const name of extra) {
      outputs.set(name, (await out[name].getData()) as Float32Array); // read once in the worker, never transferred
      out[name].dispose();
    }
    this.forwardMs += performance.now() - t0;
    this.forwards += 1;
    const copy = new Float32Array(data); // our own buffer, free to transfer
    denoised.dispose();
    if (copy.length !== x.length) throw new Error(`The model returned ${copy.length} values for an input of ${x.length}.`);
    return { denoised: copy, outputs };
  }
}
