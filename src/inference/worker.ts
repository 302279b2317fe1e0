/// <reference lib="webworker" />
/**
 * The inference worker: loads a model (download, sha256 check, session), runs the sampler (Heun,
 * or DPM-Solver++(2M), `@/sampling/samplers`) with the model as denoiser and streams every step
 * back. Speaks `protocol.ts`.
 */
import { stepAttentionBuffers, type StepAttention } from '@/lib/attention-map';
import { AttentionSummariser, summariseOffThread } from './attention-summariser';
import { GUIDES, SampleCancelled, type StepRecord } from '@/sampling/heun';
import { endsStep, SAMPLERS, type SamplerName } from '@/sampling/samplers';
import { OnnxModel, selectBackend } from './ort-backend';
import type { Backend, BackendInfo, BackendRequest, ModelFile, ModelSpec, WorkerEvent, WorkerRequest } from './protocol';
import { sha256Matches, verifySha256 } from './sha256';
import { cachedModel, keepModel } from '@/lib/model-cache';
import { isHtmlResponse, notFoundMessage } from '@/lib/http';

declare const self: DedicatedWorkerGlobalScope;

interface Loaded {
  key: string;
  model: OnnxModel;
  info: BackendInfo;
}

let loaded: Promise<Loaded> | null = null;
let loadedKey = '';
const cancelled = new Set<number>();
let summariser: { offThread: boolean; summariser: AttentionSummariser } | null = null;

/** The summariser for a backend: off this thread when a core is free of the model's work (`summariseOffThread`). */
function summariserFor(info: BackendInfo): AttentionSummariser {
  const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  const offThread = summariseOffThread(info.backend, info.threads, cores);
  if (summariser?.offThread !== offThread) {
    summariser?.summariser.close();
    summariser = { offThread, summariser: new AttentionSummariser(offThread) };
  }
  return summariser.summariser;
}

function post(event: WorkerEvent, transfer: Transferable[] = []): void {
  self.postMessage(event, transfer);
}

/** Lets queued messages (a cancel) in between two model evaluations. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

async function download(id: number, model: ModelFile & { id: string }): Promise<Uint8Array<ArrayBuffer>> {
  let response: Response;
  try {
    response = await fetch(model.url);
  } catch (e) {
    throw new Error(`Could not download the model ${model.id}: ${(e as Error).message}`);
  }
  const missing = () => new Error(notFoundMessage(`model file of ${model.id}`, model.url, response.status !== 404));
  if (response.status === 404 || isHtmlResponse(response)) throw missing();
  if (!response.ok) throw new Error(`Could not download the model ${model.id}: HTTP ${response.status} for ${model.url}`);
  const total = Number(response.headers.get('Content-Length')) || model.bytes;
  if (!response.body) {
    const whole = new Uint8Array(await response.arrayBuffer());
    if (isHtmlResponse(response, whole.subarray(0, 64))) throw missing();
    return whole;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // A server that has no such file may answer with its index page: that is "not found", not a corrupt model.
    if (received === 0 && isHtmlResponse(response, value.subarray(0, 64))) {
      await reader.cancel();
      throw missing();
    }
    chunks.push(value);
    received += value.length;
    post({ type: 'progress', id, loaded: received, total });
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** A model file's bytes, from the browser's cache or downloaded, checked against its sha256. */
async function fetchModelFile(id: number, spec: ModelSpec, file: ModelFile, info: BackendInfo): Promise<Uint8Array<ArrayBuffer>> {
  post({ type: 'status', id, phase: 'reading-cache', modelId: spec.id, info });
  const cached = await cachedModel(file.url, file.sha256);
  if (cached && (await sha256Matches(cached, file.sha256))) {
    post({ type: 'progress', id, loaded: cached.byteLength, total: cached.byteLength, cached: true });
    return cached;
  }
  post({ type: 'status', id, phase: 'downloading', modelId: spec.id, info });
  const bytes = await download(id, { ...file, id: spec.id });
  post({ type: 'status', id, phase: 'verifying', modelId: spec.id, info });
  await verifySha256(bytes, file.sha256, `The model file ${spec.id}${file === spec ? '' : ' (int8)'}`);
  await keepModel(file.url, file.sha256, bytes);
  return bytes;
}

/** The key of a loaded model: which model, which of its files, which backend request. */
const modelKey = (spec: ModelSpec, request: BackendRequest) => `${spec.id}|${spec.sha256}|${spec.int8?.sha256 ?? ''}|${request}`;

async function createModel(id: number, spec: ModelSpec, request: BackendRequest): Promise<Loaded> {
  const t0 = performance.now();
  post({ type: 'status', id, phase: 'selecting-backend', modelId: spec.id });
  const selected = await selectBackend(request);
  // WASM runs the int8 file when the spec carries one (the visitor asked for int8 weights); WebGPU the float file.
  const int8 = selected.backend === 'wasm' ? spec.int8 : undefined;
  let info: BackendInfo = { ...selected, weights: int8 ? 'int8' : 'float32' };
  let bytes = await fetchModelFile(id, spec, int8 ?? spec, info);
  post({ type: 'status', id, phase: 'creating-session', modelId: spec.id, info });
  const chw = [spec.channels, spec.resolution, spec.resolution] as const;
  const open = async (backend: Backend) => {
    const model = await OnnxModel.create(bytes, backend);
    try {
      await model.warmUp(chw, spec.numClasses);
    } catch (e) {
      await model.release().catch(() => undefined);
      throw e;
    }
    return model;
  };
  let model: OnnxModel;
  try {
    model = await open(info.backend);
  } catch (e) {
    if (info.backend !== 'webgpu') throw e;
    // A WebGPU adapter that cannot run the model: fall back to WASM, and say so.
    info = { ...info, backend: 'wasm', weights: spec.int8 ? 'int8' : 'float32', notice: `WebGPU could not run the model (${(e as Error).message}); running on WASM instead.` };
    if (spec.int8) bytes = await fetchModelFile(id, spec, spec.int8, info);
    model = await open('wasm');
  }
  post({ type: 'status', id, phase: 'ready', modelId: spec.id, info, loadMs: performance.now() - t0 });
  return { key: modelKey(spec, request), model, info };
}

/** The model for (spec, backend request), loading it unless it is the one already loaded. */
async function ensureModel(id: number, spec: ModelSpec, request: BackendRequest): Promise<Loaded> {
  const key = modelKey(spec, request);
  if (loaded && loadedKey === key) {
    try {
      const current = await loaded;
      post({ type: 'status', id, phase: 'ready', modelId: spec.id, info: current.info });
      return current;
    } catch {
      // The last load failed: try again below.
    }
  }
  const previous = loaded;
  const loading = createModel(id, spec, request);
  loaded = loading;
  loadedKey = key;
  previous?.then((p) => p.model.release()).catch(() => undefined);
  try {
    return await loading;
  } catch (e) {
    if (loaded === loading) {
      loaded = null;
      loadedKey = '';
    }
    throw e;
  }
}

function checkFinite(values: Float32Array, backend: string): void {
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k])) throw new Error(`The ${backend} backend returned a non-finite value; refusing to show garbage.`);
  }
}

async function generate(request: Extract<WorkerRequest, { type: 'generate' }>): Promise<void> {
  const { id, model: spec, params } = request;
  const sampler: SamplerName = params.sampler ?? 'heun';
  let current: Loaded;
  try {
    current = await ensureModel(id, spec, request.backend);
  } catch (e) {
    fail(id, 'load', e);
    return;
  }
  const { model, info } = current;
  const shape: [number, number, number, number] = [params.batch, spec.channels, spec.resolution, spec.resolution];
  const chw = [spec.channels, spec.resolution, spec.resolution] as const;
  const layers = spec.attention ?? [];
  const recordImage = layers.length > 0 && params.attentionImage != null ? Math.min(Math.max(0, params.attentionImage), params.batch - 1) : null;
  const attnNames = layers.map((l) => l.output);
  const summarise = recordImage !== null ? summariserFor(info) : null;
  model.resetStats();
  const t0 = performance.now();
  let allZero = true;
  // The step record holds the evaluation the step ends on (`endsStep`: for Heun the correction,
  // or the Euler evaluation of the last step; for DPM-Solver++(2M) the step's one evaluation).
  // Only those evaluations fetch the `attn_*` outputs. Their summary may come from the attention
  // worker while the next evaluation runs: a step whose summary is still out waits in `steps`, and
  // every later step behind it, so the page gets the steps in order and the result after them.
  let evaluation = 0;
  let lastAttention: StepAttention | Promise<StepAttention | null> | null = null;
  let steps: Promise<void> = Promise.resolve();
  let queued = 0;
  let abandoned = false;
  const postStep = (record: StepRecord, attention: StepAttention | null, elapsedMs: number, msPerForward: number) => {
    if (abandoned) return;
    const transfer: Transferable[] = [record.x.buffer, record.denoised.buffer];
    if (attention) transfer.push(...stepAttentionBuffers(attention));
    post(
      { type: 'step', id, step: record.step, steps: record.steps, shape, x: record.x, denoised: record.denoised, sigma: record.sigma, attention, elapsedMs, msPerStep: elapsedMs / (record.step + 1), msPerForward },
      transfer,
    );
  };
  let x: Float32Array;
  try {
    x = await SAMPLERS[sampler](
      async (xs, sigma, labels) => {
        const fetchAttention = recordImage !== null && endsStep(sampler, evaluation, params.steps);
        evaluation += 1;
        let out: Float32Array;
        if (fetchAttention) {
          const result = await model.runFetching(xs, sigma, labels, chw, attnNames);
          out = result.denoised;
          const job = { layers, resolution: spec.resolution, images: params.batch, image: recordImage, outputs: result.outputs };
          lastAttention = summarise!.summarise(job, [out.buffer]);
          // Awaited in `steps`; a step behind a failed one is never awaited, so its failure is handled here.
          if (lastAttention instanceof Promise) lastAttention.catch(() => undefined);
        } else {
          out = await model.run(xs, sigma, labels, chw);
        }
        checkFinite(out, info.backend);
        if (allZero && out.some((v) => v !== 0)) allZero = false;
        await yieldToEvents();
        return out;
      },
      {
        seed: params.seed,
        steps: params.steps,
        shape,
        classLabel: params.classLabel,
        guidance: params.guidance,
        guidanceInterval: GUIDES[params.guide ?? 'every'].interval,
        numClasses: spec.numClasses,
        edm: spec.edm,
      },
      (record) => {
        const elapsedMs = performance.now() - t0;
        const { msPerForward } = model.stats();
        const pending = lastAttention;
        lastAttention = null;
        if (queued === 0 && !(pending instanceof Promise)) {
          postStep(record, pending, elapsedMs, msPerForward);
          return;
        }
        queued += 1;
        steps = steps.then(async () => {
          const attention = await pending;
          queued -= 1;
          postStep(record, attention, elapsedMs, msPerForward);
        });
        steps.catch(() => undefined); // a failed summary fails the run below, at `await steps`, not as an unhandled rejection
      },
      () => cancelled.has(id),
      (x0, sigma) => post({ type: 'start', id, steps: params.steps, shape, x: x0, sigma }, [x0.buffer]),
    );
  } catch (e) {
    abandoned = true; // no step after the error event
    steps.catch(() => undefined);
    throw e;
  }
  await steps;
  if (allZero) throw new Error(`The ${info.backend} backend returned only zeros; it cannot run this model correctly.`);
  const elapsedMs = performance.now() - t0;
  const { msPerForward, forwards, replayed } = model.stats();
  const captureNote = info.backend === 'webgpu' ? model.captureNote : null;
  post({ type: 'result', id, shape, x, elapsedMs, msPerStep: elapsedMs / params.steps, msPerForward, forwards, replayed, captureNote, backend: info.backend }, [x.buffer]);
}

function fail(id: number, stage: 'load' | 'generate', e: unknown): void {
  const isCancel = e instanceof SampleCancelled;
  const message = isCancel ? 'Cancelled.' : e instanceof Error ? e.message : String(e);
  post({ type: 'error', id, stage, message, cancelled: isCancel });
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  switch (request.type) {
    case 'load':
      ensureModel(request.id, request.model, request.backend).catch((e) => fail(request.id, 'load', e));
      break;
    case 'generate':
      generate(request)
        .catch((e) => fail(request.id, 'generate', e))
        .finally(() => cancelled.delete(request.id));
      break;
    case 'cancel':
      cancelled.add(request.id);
      break;
  }
};
