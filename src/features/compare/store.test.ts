import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InferenceClient, InferenceListener } from '@/inference/client';
import type { GenerateParams, ModelSpec, WorkerEvent } from '@/inference/protocol';
import { panelFrames, panelStatus, recordedSteps, setCompareClientFactory, speedUp, useCompareStore } from './store';

const entry = (id: string, variant: string) => ({
  id, label: id, dataset: 'fashion-mnist', classes: ['a', 'b', 'c'], num_classes: 3, variant, resolution: 2, channels: 1,
  file: `${id}.onnx`, bytes: 10, sha256: 'ab'.repeat(32), parameters: 5,
  edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 }, default_steps: 5, default_guidance: 2,
});
const manifest = { version: 1, models: [entry('diffit-fmnist', 'diffit'), entry('dws-fmnist', 'dws'), entry('diffip-fmnist', 'diffip')] };

/** One fake worker per panel; the test plays the worker's part with `emit`. */
class FakeClient {
  listener: InferenceListener = () => undefined;
  runs: { id: number; model: ModelSpec; params: GenerateParams }[] = [];
  cancels: number[] = [];
  terminated = false;
  private next = 1;
  subscribe(listener: InferenceListener) {
    this.listener = listener;
    return () => undefined;
  }
  load() {
    return this.next++;
  }
  generate(model: ModelSpec, _backend: unknown, params: GenerateParams) {
    this.runs.push({ id: this.next, model, params });
    return this.next++;
  }
  cancel(id: number) {
    this.cancels.push(id);
  }
  terminate() {
    this.terminated = true;
  }
  emit(event: WorkerEvent) {
    this.listener(event);
  }
}

let fakes: FakeClient[];
const initial = useCompareStore.getState();
const shape: [number, number, number, number] = [1, 1, 2, 2];
const flush = () => new Promise((r) => setTimeout(r, 0));

function step(fake: FakeClient, i: number, value: number): void {
  const id = fake.runs.at(-1)!.id;
  if (i === 0) fake.emit({ type: 'start', id, steps: 2, shape, x: new Float32Array(4).fill(80), sigma: 80 });
  fake.emit({ type: 'step', id, step: i, steps: 2, shape, x: new Float32Array(4).fill(value), denoised: new Float32Array(4).fill(-value), sigma: 0, attention: null, elapsedMs: 10 * (i + 1), msPerStep: 10, msPerForward: 5 });
}

function finish(fake: FakeClient, msPerStep: number): void {
  const id = fake.runs.at(-1)!.id;
  fake.emit({ type: 'result', id, shape, x: new Float32Array(4).fill(1), elapsedMs: 2 * msPerStep, msPerStep, msPerForward: msPerStep / 3, forwards: 3, replayed: 0, captureNote: null, backend: 'wasm' });
}

beforeEach(() => {
  fakes = [];
  setCompareClientFactory(() => {
    const fake = new FakeClient();
    fakes.push(fake);
    return fake as unknown as InferenceClient;
  });
  useCompareStore.setState(initial, true);
  const url = new URL('http://localhost:4173/');
  vi.stubGlobal('location', url);
  vi.stubGlobal('history', { state: null, replaceState: (_: unknown, __: string, next: string) => void (url.search = new URL(next, url).search) });
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(manifest), { status: 200 })));
});

afterEach(() => {
  useCompareStore.getState().dispose();
  vi.unstubAllGlobals();
});

describe('compare store', () => {
  it('runs the panels one after the other with the same parameters, keeping every step', async () => {
    await useCompareStore.getState().init('?compare=dws-fmnist,diffit-fmnist,diffip-fmnist&seed=3&steps=2&class=1&guidance=2&batch=1&backend=wasm');
    const store = useCompareStore.getState();
    expect(store.ids).toEqual(['dws-fmnist', 'diffit-fmnist', 'diffip-fmnist']);
    const done = store.run();
    await flush();
    expect(fakes).toHaveLength(1); // the second panel waits for the first
    expect(fakes[0].runs[0].model.id).toBe('dws-fmnist');
    expect(fakes[0].runs[0].params).toEqual({ sampler: 'heun', seed: 3, steps: 2, classLabel: 1, guidance: 2, guide: 'every', batch: 1 });
    step(fakes[0], 0, 0.5);
    step(fakes[0], 1, 1);
    finish(fakes[0], 10);
    await flush();
    expect(fakes).toHaveLength(2);
    expect(fakes[1].runs[0].params).toEqual(fakes[0].runs[0].params);
    step(fakes[1], 0, 0.5);
    finish(fakes[1], 30);
    await flush();
    // The third model fails to load: only its panel fails.
    fakes[2].emit({ type: 'error', id: fakes[2].runs[0].id, stage: 'load', message: 'integrity check failed', cancelled: false });
    await done;

    const s = useCompareStore.getState();
    expect(s.running).toBe(false);
    expect(s.panels['dws-fmnist']).toMatchObject({ status: 'done', msPerStep: 10, error: null });
    expect(s.panels['diffit-fmnist'].status).toBe('done');
    expect(s.panels['diffip-fmnist']).toMatchObject({ status: 'error', error: 'integrity check failed' });
    expect(recordedSteps('dws-fmnist')).toBe(2);
    expect(Array.from(s.panels['dws-fmnist'].result!.pixels)).toEqual([255, 255, 255, 255]);
    expect(speedUp(s, 'dws-fmnist')).toBe(3); // against the full model, whatever its position
    expect(speedUp(s, 'diffit-fmnist')).toBe(1);
    expect(speedUp(s, 'diffip-fmnist')).toBeNull();
    expect(location.search).toBe('?compare=dws-fmnist,diffit-fmnist,diffip-fmnist&sampler=heun&seed=3&steps=2&class=1&guidance=2&guide=every&batch=1&backend=wasm&weights=float32');

    // The shared step: every panel shows the chosen step (or its last one).
    const first = panelFrames(s.panels['dws-fmnist'], 0, 'x')!;
    expect(first.step).toBe(0);
    expect(Array.from(first.frames[0].rgba.slice(0, 4))).toEqual([191, 191, 191, 255]);
    expect(panelFrames(s.panels['dws-fmnist'], 0, 'denoised')!.frames[0].rgba[0]).toBe(64);
    expect(panelFrames(s.panels['diffit-fmnist'], 1, 'x')!.step).toBe(0);
    expect(panelFrames(s.panels['dws-fmnist'], null, 'x')!.step).toBe(1);
    expect(panelFrames(s.panels['diffip-fmnist'], 0, 'x')).toBeNull();
  });

  it('reports a bad compare value and can be cancelled', async () => {
    await useCompareStore.getState().init('?compare=nope&steps=2');
    expect(useCompareStore.getState().notices.map((n) => n.text).join(' ')).toMatch(/compare="nope"/);
    expect(useCompareStore.getState().ids).toHaveLength(3);
    const done = useCompareStore.getState().run();
    await flush();
    useCompareStore.getState().cancel();
    expect(fakes[0].cancels).toEqual([fakes[0].runs[0].id]);
    fakes[0].emit({ type: 'error', id: fakes[0].runs[0].id, stage: 'generate', message: 'Cancelled.', cancelled: true });
    await done;
    const s = useCompareStore.getState();
    expect(Object.values(s.panels).map(panelStatus)).toEqual(['idle', 'idle', 'idle']);
    expect(fakes).toHaveLength(1);
  });

  it('keeps two or three models when toggling', async () => {
    await useCompareStore.getState().init('?compare=diffit-fmnist,dws-fmnist');
    const { toggleModel } = useCompareStore.getState();
    toggleModel('dws-fmnist');
    expect(useCompareStore.getState().ids).toEqual(['diffit-fmnist', 'dws-fmnist']);
    toggleModel('diffip-fmnist');
    toggleModel('diffit-fmnist');
    expect(useCompareStore.getState().ids).toEqual(['dws-fmnist', 'diffip-fmnist']);
    expect(useCompareStore.getState().params.model).toBe('dws-fmnist');
  });
});
