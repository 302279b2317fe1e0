/**
 * Where the inference worker summarises recorded attention (`summariseAttention`: the per-layer
 * entropy and distance over the batch, the quantised weights of one image). On one thread that is
 * 7-14 ms per recorded step at batch 8 (six `attn_*` outputs, 13.6 MB), time during which the model
 * waits. When a core is free of the model's work (WebGPU, whose forward runs on the GPU, or fewer
 * WASM threads than cores), a second worker (`attention-worker.ts`) summarises step i while the
 * model computes step i + 1; otherwise it is done inline, as before, so that it never competes with
 * the WASM threads for a core.
 */
import { stepAttentionBuffers, summariseAttention, tokenDistances, type AttentionLayer, type StepAttention } from '@/lib/attention-map';
import type { Backend } from './protocol';

/** One step's attention to summarise: the model's layers, the batch's `attn_*` outputs and which image to keep. */
export interface AttentionJob {
  layers: readonly AttentionLayer[];
  /** Input image side, in pixels (distances are in input pixels). */
  resolution: number;
  /** The first `images` images of the batch are averaged (the conditional half under guidance). */
  images: number;
  /** The image whose weights are kept. */
  image: number;
  outputs: ReadonlyMap<string, Float32Array>;
}

/** The attention worker's protocol: a job in (its outputs as entries), a summary or an error out. */
export type AttentionRequest = Omit<AttentionJob, 'outputs'> & { id: number; outputs: [string, Float32Array][] };
export type AttentionResponse = { id: number; attention: StepAttention } | { id: number; error: string };

/**
 * Whether a core is left for summarising beside the model: WebGPU keeps one thread busy at most
 * (the worker's), WASM `wasmThreads` of them.
 */
export function summariseOffThread(backend: Backend, wasmThreads: number, cores: number): boolean {
  return cores > (backend === 'webgpu' ? 1 : wasmThreads);
}

/** Summarises a job where it is (the attention worker's body, and the inline path), with distances cached per layer geometry. */
export class AttentionSummary {
  private readonly distances = new Map<string, Float64Array>();

  run(job: AttentionJob): StepAttention {
    const distances = job.layers.map((layer) => {
      const key = `${job.resolution}|${layer.resolution}|${layer.window}|${layer.tokens}`;
      let d = this.distances.get(key);
      if (!d) this.distances.set(key, (d = tokenDistances(layer, job.resolution)));
      return d;
    });
    return summariseAttention(job.layers, job.images, job.image, job.outputs, distances);
  }
}

/**
 * The attention worker's answer to one request, with the buffers to move back: the body of
 * `attention-worker.ts` and of the GPU bench's Node thread (scripts/gpu-bench/attention-worker-node.mjs).
 */
export function answerAttention(summary: AttentionSummary, request: AttentionRequest): { response: AttentionResponse; transfer: ArrayBuffer[] } {
  const { id, outputs, ...job } = request;
  try {
    const attention = summary.run({ ...job, outputs: new Map(outputs) });
    return { response: { id, attention }, transfer: stepAttentionBuffers(attention) };
  } catch (e) {
    return { response: { id, error: e instanceof Error ? e.message : String(e) }, transfer: [] };
  }
}

/** The buffers of `arrays` that can be moved to another thread: each once, none that `keep` uses. */
export function transferable(arrays: Iterable<Float32Array>, keep: readonly ArrayBufferLike[] = []): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && !keep.includes(a.buffer)) buffers.add(a.buffer);
  return [...buffers];
}

/** What the summariser uses of a Worker (the tests pass one that lives in this thread). */
export interface WorkerLike {
  postMessage(request: AttentionRequest, transfer: Transferable[]): void;
  terminate(): void;
  onmessage: ((event: MessageEvent<AttentionResponse>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
}

/** The attention worker; throws where this scope cannot start workers (then jobs stay inline). */
function startAttentionWorker(): WorkerLike {
  if (typeof Worker === 'undefined') throw new Error('no Worker here');
  return new Worker(new URL('./attention-worker.ts', import.meta.url), { type: 'module', name: 'diffit-attention' }) as WorkerLike;
}

/**
 * Summarises jobs in the attention worker when `offThread`, else inline. A worker that cannot start
 * leaves every job inline; one that crashes gives null for the jobs it held (their outputs went with
 * it: those steps keep no attention, the run goes on) and leaves later jobs inline. A job that fails
 * (an output missing) rejects, inline or not.
 */
export class AttentionSummariser {
  private worker: WorkerLike | null = null;
  private readonly inline = new AttentionSummary();
  private readonly waiting = new Map<number, { resolve: (a: StepAttention | null) => void; reject: (e: unknown) => void }>();
  private nextId = 1;

  constructor(offThread: boolean, startWorker: () => WorkerLike = startAttentionWorker) {
    if (offThread) {
      try {
        this.worker = startWorker();
        this.worker.onmessage = (event) => this.settle(event.data);
        this.worker.onerror = (event) => {
          event.preventDefault?.();
          this.drop();
        };
      } catch {
        this.worker = null; // nested workers unsupported: inline
      }
    }
  }

  /** Whether jobs go to the attention worker (false: inline, or the worker failed). */
  get offThread(): boolean {
    return this.worker !== null;
  }

  /**
   * The summary of `job`: inline, the summary itself (and a failure throws here); off the thread, a
   * promise of it, and the outputs' buffers move to the worker (`keep` names buffers that must stay
   * here, e.g. `denoised`'s, should an output share it), so the caller must not read them afterwards.
   */
  summarise(job: AttentionJob, keep: readonly ArrayBufferLike[] = []): StepAttention | Promise<StepAttention | null> {
    if (!this.worker) return this.inline.run(job);
    const id = this.nextId++;
    const request: AttentionRequest = { id, layers: job.layers, resolution: job.resolution, images: job.images, image: job.image, outputs: [...job.outputs] };
    return new Promise<StepAttention | null>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      try {
        this.worker!.postMessage(request, transferable(job.outputs.values(), keep));
      } catch (e) {
        this.waiting.delete(id);
        reject(e);
      }
    });
  }

  /** Stops the worker; jobs still waiting give null. */
  close(): void {
    this.drop();
  }

  private settle(response: AttentionResponse): void {
    const entry = this.waiting.get(response.id);
    if (!entry) return;
    this.waiting.delete(response.id);
    if ('error' in response) entry.reject(new Error(`Could not summarise the attention: ${response.error}`));
    else entry.resolve(response.attention);
  }

  /** The worker stops (closed, or crashed): later jobs run inline; waiting ones give null (their outputs went with it). */
  private drop(): void {
    this.worker?.terminate();
    this.worker = null;
    for (const { resolve } of this.waiting.values()) resolve(null);
    this.waiting.clear();
  }
}
