import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InferenceClient, InferenceListener } from '@/inference/client';
import type { BackendRequest, GenerateParams, ModelSpec, WorkerEvent } from '@/inference/protocol';
import { setClientFactory, useStudioStore } from './studio-store';
import { SAMPLER_CHOICES } from '@/lib/url-params';

const manifest = {
  version: 1,
  models: [
    {
      id: 'diffit-fmnist',
      label: 'DiffiT',
      dataset: 'fashion-mnist',
      classes: ['a', 'b', 'c'],
      num_classes: 3,
      variant: 'diffit',
      resolution: 2,
      channels: 1,
      file: 'm.onnx',
      bytes: 10,
      sha256: 'ab'.repeat(32),
      parameters: 5,
      edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 },
      default_steps: 5,
      default_guidance: 1,
    },
  ],
};

/** Records requests; the test plays the worker's part with `emit`. */
class FakeClient {
  listener: InferenceListener = () => undefined;
  requests: { type: string; id: number; model?: ModelSpec; backend?: BackendRequest; params?: GenerateParams }[] = [];
  private next = 1;
  subscribe(listener: InferenceListener) {
    this.listener = listener;
    return () => undefined;
  }
  load(model: ModelSpec, backend: BackendRequest) {
    this.requests.push({ type: 'load', id: this.next, model, backend });
    return this.next++;
  }
  generate(model: ModelSpec, backend: BackendRequest, params: GenerateParams) {
    this.requests.push({ type: 'generate', id: this.next, model, backend, params });
    return this.next++;
  }
  cancel(id: number) {
    this.requests.push({ type: 'cancel', id });
  }
  terminate() {}
  emit(event: WorkerEvent) {
    this.listener(event);
  }
}

let fake: FakeClient;
const initial = useStudioStore.getState();

beforeEach(() => {
  fake = new FakeClient();
  setClientFactory(() => fake as unknown as InferenceClient);
  useStudioStore.setState(initial, true);
  const url = new URL('http://localhost:4173/');
  vi.stubGlobal('location', url);
  vi.stubGlobal('history', {
    state: null,
    replaceState: (_: unknown, __: string, next: string) => {
      const u = new URL(next, url);
      url.search = u.search;
    },
  });
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(manifest), { status: 200 })));
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('studio store', () => {
  it('reads the URL, reports bad values and preloads the model', async () => {
    await useStudioStore.getState().init('?seed=9&steps=x&class=b&backend=wasm');
    const s = useStudioStore.getState();
    expect(s.manifestState).toBe('ready');
    expect(s.params).toMatchObject({ model: 'diffit-fmnist', seed: 9, steps: 5, classLabel: 1, backend: 'wasm' });
    expect(s.notices.map((n) => n.text)).toEqual([expect.stringMatching(/steps="x"/)]);
    expect(fake.requests).toEqual([{ type: 'load', id: 1, model: expect.objectContaining({ url: 'http://localhost:4173/models/m.onnx' }), backend: 'wasm' }]);
    fake.emit({ type: 'status', id: 1, phase: 'ready', modelId: 'diffit-fmnist', info: { backend: 'wasm', notice: null, threads: 2, weights: 'float32' }, loadMs: 5 });
    expect(useStudioStore.getState().backend).toBe('wasm');
    expect(useStudioStore.getState().load.state).toBe('ready');
  });

  it('starts with a run on a first visit (no parameters)', async () => {
    await useStudioStore.getState().init('');
    expect(fake.requests.map((r) => r.type)).toEqual(['generate']);
    expect(fake.requests[0].params).toMatchObject({ sampler: 'dpmpp-2m', steps: SAMPLER_CHOICES['dpmpp-2m'].default_steps, guide: 'interval' });
    expect(useStudioStore.getState().status).toBe('running');
  });

  it('shows a backend fallback as a notice', async () => {
    await useStudioStore.getState().init('?backend=webgpu');
    fake.emit({ type: 'status', id: 1, phase: 'ready', modelId: 'diffit-fmnist', info: { backend: 'wasm', notice: 'no WebGPU', threads: 1, weights: 'float32' } });
    const s = useStudioStore.getState();
    expect(s.backend).toBe('wasm');
    expect(s.notices).toEqual([{ id: 'backend', level: 'warning', text: 'no WebGPU' }]);
  });

  it('generates: writes the URL, streams frames, ends with pixels', async () => {
    await useStudioStore.getState().init('?seed=0');
    useStudioStore.getState().setParam('batch', 2);
    useStudioStore.getState().setParam('seed', 4);
    useStudioStore.getState().generate();
    expect(location.search).toBe('?model=diffit-fmnist&sampler=heun&seed=4&steps=5&class=none&guidance=1&guide=every&batch=2&backend=auto&weights=float32');
    const run = fake.requests.at(-1)!;
    expect(run).toMatchObject({ type: 'generate', params: { sampler: 'heun', seed: 4, steps: 5, classLabel: null, guidance: 1, guide: 'every', batch: 2 } });
    expect(useStudioStore.getState().status).toBe('running');

    const shape: [number, number, number, number] = [2, 1, 2, 2];
    const x = new Float32Array([-1, 0, 1, 2, 1, 1, 1, 1]);
    fake.emit({ type: 'start', id: run.id, steps: 5, shape, x: new Float32Array(8).fill(80), sigma: 80 });
    expect(useStudioStore.getState().trajectory).toMatchObject({ recorded: 0, steps: 5 });
    fake.emit({ type: 'step', id: run.id, step: 0, steps: 5, shape, x, denoised: x.map(() => 0), sigma: 1, attention: null, elapsedMs: 10, msPerStep: 10, msPerForward: 5 });
    let s = useStudioStore.getState();
    expect(s.step).toBe(1);
    expect(s.frames).toHaveLength(2);
    expect(Array.from(s.frames[0].rgba.slice(0, 8))).toEqual([0, 0, 0, 255, 128, 128, 128, 255]);

    useStudioStore.getState().setPreview('denoised');
    expect(Array.from(useStudioStore.getState().frames[0].rgba.slice(0, 4))).toEqual([128, 128, 128, 255]);

    fake.emit({ type: 'result', id: run.id, shape, x, elapsedMs: 50, msPerStep: 10, msPerForward: 5, forwards: 9, replayed: 0, captureNote: null, backend: 'wasm' });
    s = useStudioStore.getState();
    expect(s.status).toBe('done');
    expect(Array.from(s.result!.pixels)).toEqual([0, 128, 255, 255, 255, 255, 255, 255]);
    expect(s.msPerStep).toBe(10);
  });

  it('cancels back to idle with a notice', async () => {
    await useStudioStore.getState().init('?seed=0');
    useStudioStore.getState().generate();
    const run = fake.requests.at(-1)!;
    useStudioStore.getState().cancel();
    expect(fake.requests.at(-1)).toEqual({ type: 'cancel', id: run.id });
    fake.emit({ type: 'error', id: run.id, stage: 'generate', message: 'Cancelled.', cancelled: true });
    const s = useStudioStore.getState();
    expect(s.status).toBe('idle');
    expect(s.frames).toEqual([]);
    expect(s.notices.map((n) => n.text)).toContain('Generation cancelled at step 0 of 5.');
  });

  it('keeps the last finished run when the next one is cancelled', async () => {
    await useStudioStore.getState().init('?seed=0');
    useStudioStore.getState().setParam('batch', 1);
    const shape: [number, number, number, number] = [1, 1, 2, 2];
    const play = (x: number, steps: number, finish: boolean) => {
      useStudioStore.getState().generate();
      const id = fake.requests.at(-1)!.id;
      fake.emit({ type: 'start', id, steps: 5, shape, x: new Float32Array(4).fill(80), sigma: 80 });
      for (let i = 0; i < steps; i++) {
        fake.emit({ type: 'step', id, step: i, steps: 5, shape, x: new Float32Array(4).fill(x), denoised: new Float32Array(4).fill(x), sigma: 1, attention: null, elapsedMs: 10, msPerStep: 10, msPerForward: 5 });
      }
      if (finish) fake.emit({ type: 'result', id, shape, x: new Float32Array(4).fill(x), elapsedMs: 50, msPerStep: 10, msPerForward: 5, forwards: 9, replayed: 0, captureNote: null, backend: 'wasm' });
      return id;
    };
    play(1, 5, true);
    const finished = useStudioStore.getState();
    expect(finished.status).toBe('done');
    const id = play(-1, 2, false);
    expect(useStudioStore.getState()).toMatchObject({ status: 'running', step: 2, result: null });
    fake.emit({ type: 'error', id, stage: 'generate', message: 'Cancelled.', cancelled: true });
    const s = useStudioStore.getState();
    expect(s).toMatchObject({ status: 'done', step: 5, steps: 5, interrupted: { step: 2, steps: 5, restored: true } });
    expect(s.trajectory).toEqual(finished.trajectory);
    expect(Array.from(s.result!.pixels)).toEqual([255, 255, 255, 255]);
    expect(Array.from(s.frames[0].rgba.slice(0, 4))).toEqual([255, 255, 255, 255]);
    expect(s.notices.map((n) => n.text)).toContain('Generation cancelled at step 2 of 5; showing the last finished run.');
  });

  it('turns a load failure into an error and retries on Generate', async () => {
    await useStudioStore.getState().init('?seed=0');
    fake.emit({ type: 'error', id: 1, stage: 'load', message: 'bad sha', cancelled: false });
    expect(useStudioStore.getState()).toMatchObject({ status: 'error', error: 'bad sha', load: { state: 'error' } });
    useStudioStore.getState().generate();
    expect(useStudioStore.getState()).toMatchObject({ status: 'running', error: null, load: { state: 'loading' } });
    expect(fake.requests.at(-1)!.type).toBe('generate');
  });

  it('keeps the app usable when the manifest cannot be read', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('nope', { status: 404 })));
    await useStudioStore.getState().init('?seed=3');
    const s = useStudioStore.getState();
    expect(s.manifestState).toBe('error');
    expect(s.error).toMatch(/manifest was not found at http:\/\/localhost:4173\/models\/manifest.json/);
    expect(s.params.seed).toBe(3);
    useStudioStore.getState().generate();
    expect(useStudioStore.getState().error).toMatch(/manifest could not be loaded/);
  });

  it('moves guidance left at the old model default to the new model default, and keeps a guidance the user set', async () => {
    const other = { ...manifest.models[0], id: 'diffit-cifar10', dataset: 'cifar10', default_guidance: 4 };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ ...manifest, models: [manifest.models[0], other] }), { status: 200 })));
    await useStudioStore.getState().init('?model=diffit-fmnist&class=1');
    useStudioStore.getState().setParam('model', 'diffit-cifar10');
    expect(useStudioStore.getState().params).toMatchObject({ model: 'diffit-cifar10', guidance: 4, classLabel: 1 });
    useStudioStore.getState().setParam('guidance', 2.5);
    useStudioStore.getState().setParam('model', 'diffit-fmnist');
    expect(useStudioStore.getState().params.guidance).toBe(2.5);
  });
});
