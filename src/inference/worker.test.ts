import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelSpec, WorkerEvent, WorkerRequest } from './protocol';
import { sha256Hex } from './sha256';

// The worker with onnxruntime replaced by an analytic denoiser: tests the protocol, the
// download + sha256 check, streaming, and cancellation.
vi.mock('./ort-backend', () => {
  class FakeModel {
    backend = 'wasm' as const;
    forwards = 0;
    static async create() {
      return new FakeModel();
    }
    async warmUp() {}
    resetStats() {
      this.forwards = 0;
    }
    stats() {
      return { msPerForward: 1, forwards: this.forwards };
    }
    async release() {}
    async run(x: Float32Array, sigma: Float32Array) {
      this.forwards++;
      const per = x.length / sigma.length;
      return x.map((v, k) => (0.25 * v) / (sigma[Math.floor(k / per)] ** 2 + 0.25));
    }
  }
  return {
    OnnxModel: FakeModel,
    selectBackend: async (request: string) => ({ backend: 'wasm', notice: request === 'webgpu' ? 'no WebGPU here' : null, threads: 1 }),
  };
});

const events: WorkerEvent[] = [];
let onmessage: (e: { data: WorkerRequest }) => void;
const bytes = new TextEncoder().encode('fake onnx bytes');
let spec: ModelSpec;

beforeAll(async () => {
  vi.stubGlobal('self', {
    postMessage: (e: WorkerEvent) => events.push(e),
    set onmessage(handler: typeof onmessage) {
      onmessage = handler;
    },
  });
  vi.stubGlobal('fetch', async (url: string) => (url.endsWith('missing.onnx') ? new Response('no', { status: 404 }) : new Response(bytes)));
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
    expect(phases).toEqual(['selecting-backend', 'downloading', 'verifying', 'creating-session', 'ready']);
    expect(events.find((e) => e.type === 'progress')).toMatchObject({ loaded: bytes.length });
    expect(events.at(-1)).toMatchObject({ info: { backend: 'wasm', notice: 'no WebGPU here' } });
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
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 4, stage: 'load', message: expect.stringMatching(/HTTP 404/) });
  });

  it('cancels between evaluations', async () => {
    onmessage({ data: { type: 'generate', id: 5, model: spec, backend: 'wasm', params: { ...params, steps: 200 } } });
    await until(() => events.some((e) => e.type === 'step'));
    onmessage({ data: { type: 'cancel', id: 5 } });
    await until(() => events.some((e) => e.type === 'error' || e.type === 'result'));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ id: 5, stage: 'generate', cancelled: true });
    expect(events.filter((e) => e.type === 'step').length).toBeLessThan(200);
  });
});
