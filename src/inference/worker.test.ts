import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AttentionSummary, answerAttention, type AttentionRequest, type AttentionResponse } from './attention-summariser';
import type { ModelSpec, WorkerEvent, WorkerRequest } from './protocol';
import { sha256Hex } from './sha256';

// The worker with onnxruntime replaced by an analytic denoiser: tests the protocol, the
// download + sha256 check, streaming, and cancellation.
vi.mock('./ort-backend', () => {
  class FakeModel {
    backend = 'wasm' as const;
    forwards = 0;
    captureNote = 'graph capture is a WebGPU feature';
    static async create(file: Uint8Array) {
      sessionFiles.push(file);
      return new FakeModel();
    }
    async warmUp() {}
    resetStats() {
      this.forwards = 0;
    }
    stats() {
      return { msPerForward: 1, forwards: this.forwards, replayed: 0 };
    }
    async release() {}
    async run(x: Float32Array, sigma: Float32Array) {
      this.forwards++;
      const per = x.length / sigma.length;
      return x.map((v, k) => (0.25 * v) / (sigma[Math.floor(k / per)] ** 2 + 0.25));
    }
    /** Uniform attention over 4 tokens (1 head, 1 window) for every requested output. */
    async runFetching(x: Float32Array, sigma: Float32Array, _labels: Int32Array, _chw: unknown, extra: string[]) {
      fetches.push({ sigma: sigma[0], names: [...extra] });
      const denoised = await this.run(x, sigma);
      const outputs = new Map(extra.map((name) => [name, new Float32Array(sigma.length * 16).fill(0.25)]));
      return { denoised, outputs };
    }
  }
  return {
    OnnxModel: FakeModel,
    selectBackend: async (request: string) => ({ backend: 'wasm', notice: request === 'webgpu' ? 'no WebGPU here' : null, threads: 1 }),
  };
});

/** Cache Storage in memory: what the worker keeps of model files. */
const stored = new Map<string, Uint8Array>();
const fakeCaches = {
  open: async () => ({
    match: async (key: string) => (stored.has(key) ? new Response(stored.get(key)! as Uint8Array<ArrayBuffer>) : undefined),
    put: async (key: string, response: Response) => void stored.set(key, new Uint8Array(await response.arrayBuffer())),
    keys: async () => [...stored.keys()].map((url) => ({ url })),
    delete: async (key: { url: string } | string) => stored.delete(typeof key === 'string' ? key : key.url),
  }),
  delete: async () => stored.clear(),
};
let downloads = 0;

const events: WorkerEvent[] = [];
const transfers: Transferable[][] = [];
const fetches: { sigma: number; names: string[] }[] = [];
/** The bytes each session was made from. */
const sessionFiles: Uint8Array[] = [];
let onmessage: (e: { data: WorkerRequest }) => void;
const bytes = new TextEncoder().encode('fake onnx bytes');
const int8Bytes = new TextEncoder().encode('fake int8 onnx bytes');
let spec: ModelSpec;

beforeAll(async () => {
  vi.stubGlobal('self', {
    postMessage: (e: WorkerEvent, transfer: Transferable[] = []) => {
      events.push(e);
      transfers.push(transfer);
    },
    set onmessage(handler: typeof onmessage) {
      onmessage = handler;
    },
  });
  vi.stubGlobal('caches', fakeCaches);
  vi.stubGlobal('fetch', async (url: string) => {
    downloads += 1;
    if (url.endsWith('missing.onnx')) return new Response('no', { status: 404 });
    // What `vite preview` answers for a path it does not have: index.html, status 200.
    if (url.endsWith('deleted.onnx')) return new Response('<!doctype html><html><body>app</body></html>', { status: 200 });
    return new Response(url.endsWith('.int8.onnx') ? int8Bytes : bytes);
  });
  spec = {
    id: 'm',
    url: 'http://localhost/models/m.onnx',
    sha256: await sha256Hex(bytes),
    bytes: bytes.length,
    channels: 1,
    resolution: 2,
    numClasses: 3,
    edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 },
  };
  await import('./worker');
});

beforeEach(() => {
  events.length = 0;
  transfers.length = 0;
  fetches.length = 0;
});

async function until(predicate: () => boolean) {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(predicate()).toBe(true);
}

const params = { seed: 1, steps: 3, classLabel: null, guidance: 1, batch: 2 };

describe('inference worker', () => {
  it('loads: backend, download progress, verify, ready', async () => {
    onmessage({ data: { type: 'load', id: 1, model: spec, backend: 'webgpu' } });
    await until(() => events.some((e) => e.type === 'status' && e.phase === 'ready'));
    const phases = events.flatMap((e) => (e.type === 'status' ? [e.phase] : []));
    expect(phases).toEqual(['selecting-backend', 'reading-cache', 'downloading', 'verifying', 'creating-session', 'ready']);
    expect(events.find((e) => e.type === 'progress')).toMatchObject({ loaded: bytes.length });
    expect(events.at(-1)).toMatchObject({ info: { backend: 'wasm', notice: 'no WebGPU here' } });
  });

  it('keeps a verified model file in Cache Storage by its sha256, and reads it from there next time', async () => {
    expect([...stored.keys()]).toEqual([`http://localhost/models/m.onnx?sha256=${spec.sha256}`]);
    const before = downloads;
    onmessage({ data: { type: 'load', id: 11, model: spec, backend: 'wasm' } }); // another request: a new session
    await until(() => events.some((e) => e.type === 'status' && e.phase === 'ready'));
    const phases = events.flatMap((e) => (e.type === 'status' ? [e.phase] : []));
    expect(phases).toEqual(['selecting-backend', 'reading-cache', 'creating-session', 'ready']);
    expect(events.find((e) => e.type === 'progress')).toMatchObject({ loaded: bytes.length, cached: true });
    expect(downloads).toBe(before);
  });

  it('downloads again when the cached bytes do not match the sha256', async () => {
    const key = `http://localhost/models/m.onnx?sha256=${spec.sha256}`;
    stored.set(key, new TextEncoder().encode('tampered'));
    const before = downloads;
    onmessage({ data: { type: 'load', id: 12, model: spec, backend: 'webgpu' } });
    await until(() => events.some((e) => e.type === 'status' && e.phase === 'ready'));
    expect(downloads).toBe(before + 1);
    expect(stored.get(key)).toEqual(bytes);
  });

  it('streams every step, then the result', async () => {
    onmessage({ data: { type: 'generate', id: 2, model: spec, backend: 'wasm', params } });
    await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.type === 'step' && e.step)).toEqual([0, 1, 2]);
    const result = events.find((e) => e.type === 'result');
    expect(result).toMatchObject({ id: 2, shape: [2, 1, 2, 2], forwards: 5, backend: 'wasm' });
    expect(result?.type === 'result' && result.x.length).toBe(8);
  });

  it('rejects a model whose sha256 does not match', async () => {
    onmessage({ data: { type: 'load', id: 3, model: { ...spec, id: 'bad', sha256: '0'.repeat(64) }, backend: 'wasm' } });
    await until(() => events.some((e) => e.type === 'error'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 3, stage: 'load', cancelled: false, message: expect.stringMatching(/integrity check/) });
  });

  it('reports a missing file as a load error of the run', async () => {
    onmessage({ data: { type: 'generate', id: 4, model: { ...spec, id: 'gone', url: 'http://localhost/models/missing.onnx' }, backend: 'wasm', params } });
    await until(() => events.some((e) => e.type === 'error'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 4, stage: 'load', message: 'The model file of gone was not found at http://localhost/models/missing.onnx.' });
  });

  it('reports a web page answered for a model file as not found, not as a failed integrity check', async () => {
    onmessage({ data: { type: 'generate', id: 6, model: { ...spec, id: 'gone', url: 'http://localhost/models/deleted.onnx' }, backend: 'wasm', params } });
    await until(() => events.some((e) => e.type === 'error'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 6, stage: 'load', message: 'The model file of gone was not found at http://localhost/models/deleted.onnx (the server answered with a web page).' });
  });

  it('cancels between evaluations', async () => {
    onmessage({ data: { type: 'generate', id: 5, model: spec, backend: 'wasm', params: { ...params, steps: 200 } } });
    await until(() => events.some((e) => e.type === 'step'));
    onmessage({ data: { type: 'cancel', id: 5 } });
    await until(() => events.some((e) => e.type === 'error' || e.type === 'result'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 5, stage: 'generate', cancelled: true });
    expect(events.filter((e) => e.type === 'step').length).toBeLessThan(200);
  });

  it('fetches attention only on the evaluation each step ends on, summarised and quantised, and transfers it', async () => {
    // A 2×2 image, one layer at resolution 2 with one 2×2 window: 4 tokens.
    const attention = [{ output: 'attn_a', layer: 'a', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 }];
    onmessage({ data: { type: 'generate', id: 6, model: { ...spec, attention }, backend: 'wasm', params: { ...params, attentionImage: 1 } } });
    await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
    // 3 steps = 5 evaluations; the correction of steps 1 and 2 and the Euler evaluation of step 3.
    expect(fetches.map((f) => f.names)).toEqual([['attn_a'], ['attn_a'], ['attn_a']]);
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    expect(fetches.map((f) => f.sigma)).toEqual(steps.map((e, i) => (i < 2 ? e.sigma : fetches[2].sigma)));
    expect(steps.at(-1)!.sigma).toBe(0);
    for (const [i, e] of steps.entries()) {
      expect(e.attention).not.toBeNull();
      const a = e.attention!;
      expect(a.image).toBe(1);
      expect(a.entropy[0]).toBeCloseTo(Math.log(4), 5);
      // Uniform weights over a 2×2 window, tokens 1 px apart: mean distance (0 + 1 + 1 + √2) / 4.
      expect(a.distance[0]).toBeCloseTo((2 + Math.SQRT2) / 4, 5);
      expect(Array.from(a.layers[0].q)).toEqual(new Array(16).fill(255));
      expect(Array.from(a.layers[0].scale)).toEqual([0.25, 0.25, 0.25, 0.25]);
      const transfer = transfers[events.indexOf(e)];
      for (const buffer of [e.x.buffer, e.denoised.buffer, a.entropy.buffer, a.distance.buffer, a.layers[0].q.buffer, a.layers[0].scale.buffer]) {
        expect(transfer, `step ${i}`).toContain(buffer);
      }
    }
  });

  it('runs DPM-Solver++(2M) when asked: one evaluation per step, attention from each', async () => {
    const attention = [{ output: 'attn_a', layer: 'a', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 }];
    const dpm = { ...params, sampler: 'dpmpp-2m' as const, attentionImage: 0 };
    onmessage({ data: { type: 'generate', id: 8, model: { ...spec, attention }, backend: 'wasm', params: dpm } });
    await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
    expect(events.find((e) => e.type === 'result')).toMatchObject({ id: 8, forwards: 3 });
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    expect(steps.map((e) => e.step)).toEqual([0, 1, 2]);
    expect(steps.every((e) => e.attention !== null)).toBe(true);
    // Each step's attention comes from its one evaluation, at the step's starting noise level.
    const start = events.find((e) => e.type === 'start');
    expect(fetches.map((f) => f.sigma)).toEqual([start?.type === 'start' && start.sigma, steps[0].sigma, steps[1].sigma]);
  });

  it('runs the int8 file on WASM when the spec carries one, and says so', async () => {
    const int8 = { url: 'http://localhost/models/m.int8.onnx', sha256: await sha256Hex(int8Bytes), bytes: int8Bytes.length };
    onmessage({ data: { type: 'load', id: 21, model: { ...spec, int8 }, backend: 'wasm' } });
    await until(() => events.some((e) => e.type === 'status' && e.phase === 'ready'));
    expect(sessionFiles.at(-1)).toEqual(int8Bytes);
    expect(events.at(-1)).toMatchObject({ info: { backend: 'wasm', weights: 'int8' } });
    expect(events.find((e) => e.type === 'progress')).toMatchObject({ loaded: int8Bytes.length });
    // The same model without int8 weights is another session, on the float file.
    events.length = 0;
    onmessage({ data: { type: 'load', id: 22, model: spec, backend: 'wasm' } });
    await until(() => events.some((e) => e.type === 'status' && e.phase === 'ready'));
    expect(sessionFiles.at(-1)).toEqual(bytes);
    expect(events.at(-1)).toMatchObject({ info: { backend: 'wasm', weights: 'float32' } });
  });

  it('with a core to spare, summarises attention in a second worker and still posts the steps in order, then the result', async () => {
    const jobs: { transfer: Transferable[]; image: number }[] = [];
    const delays = [40, 1, 15, 1, 1]; // the first summary comes back last
    class FakeAttentionWorker {
      onmessage: ((event: MessageEvent<AttentionResponse>) => void) | null = null;
      onerror: ((event: ErrorEvent) => void) | null = null;
      private readonly summary = new AttentionSummary();
      postMessage(request: AttentionRequest, transfer: Transferable[]) {
        jobs.push({ transfer, image: request.image });
        const { response } = answerAttention(this.summary, request);
        setTimeout(() => this.onmessage?.({ data: response } as MessageEvent<AttentionResponse>), delays[jobs.length - 1]);
      }
      terminate() {}
    }
    const before = { navigator: globalThis.navigator, Worker: globalThis.Worker };
    vi.stubGlobal('navigator', { hardwareConcurrency: 4 }); // 4 cores, 1 WASM thread (the fake backend's)
    vi.stubGlobal('Worker', FakeAttentionWorker);
    try {
      const attention = [{ output: 'attn_a', layer: 'a', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 }];
      const dpm = { ...params, sampler: 'dpmpp-2m' as const, attentionImage: 1 };
      onmessage({ data: { type: 'generate', id: 9, model: { ...spec, attention }, backend: 'wasm', params: dpm } });
      await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
      expect(jobs.map((j) => j.image)).toEqual([1, 1, 1]);
      expect(jobs.every((j) => j.transfer.length === 1)).toBe(true); // the attention output moved, not copied
      const kinds = events.filter((e) => e.type === 'step' || e.type === 'result').map((e) => (e.type === 'step' ? e.step : e.type));
      expect(kinds).toEqual([0, 1, 2, 'result']);
      for (const e of events) {
        if (e.type !== 'step') continue;
        expect(e.attention?.image).toBe(1);
        expect(e.attention?.entropy[0]).toBeCloseTo(Math.log(4), 5);
      }
    } finally {
      vi.stubGlobal('navigator', before.navigator);
      vi.stubGlobal('Worker', before.Worker);
    }
  });

  it('fails the run with the reason when the attention worker cannot summarise a step', async () => {
    class FailingWorker {
      onmessage: ((event: MessageEvent<AttentionResponse>) => void) | null = null;
      onerror: ((event: ErrorEvent) => void) | null = null;
      postMessage(request: AttentionRequest) {
        setTimeout(() => this.onmessage?.({ data: { id: request.id, error: 'boom' } } as MessageEvent<AttentionResponse>), 1);
      }
      terminate() {}
    }
    const before = { navigator: globalThis.navigator, Worker: globalThis.Worker };
    const attention = [{ output: 'attn_a', layer: 'a', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 }];
    try {
      // One core: a run summarises inline, which retires the attention worker of the run before.
      vi.stubGlobal('navigator', { hardwareConcurrency: 1 });
      onmessage({ data: { type: 'generate', id: 19, model: { ...spec, attention }, backend: 'wasm', params: { ...params, attentionImage: 0 } } });
      await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
      expect(events.at(-1)).toMatchObject({ type: 'result', id: 19 });
      events.length = 0;
      vi.stubGlobal('navigator', { hardwareConcurrency: 4 });
      vi.stubGlobal('Worker', FailingWorker);
      onmessage({ data: { type: 'generate', id: 10, model: { ...spec, attention }, backend: 'wasm', params: { ...params, sampler: 'dpmpp-2m' as const, attentionImage: 0 } } });
      await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
      expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 10, stage: 'generate', cancelled: false, message: 'Could not summarise the attention: boom' });
      expect(events.some((e) => e.type === 'result')).toBe(false);
    } finally {
      vi.stubGlobal('navigator', before.navigator);
      vi.stubGlobal('Worker', before.Worker);
    }
  });

  it('fetches no attention unless asked', async () => {
    const attention = [{ output: 'attn_a', layer: 'a', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 }];
    onmessage({ data: { type: 'generate', id: 7, model: { ...spec, attention }, backend: 'wasm', params } });
    await until(() => events.some((e) => e.type === 'result' || e.type === 'error'));
    expect(fetches).toEqual([]);
    expect(events.filter((e) => e.type === 'step').every((e) => e.type === 'step' && e.attention === null)).toBe(true);
  });
});
