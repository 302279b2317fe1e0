/**
 * The studio's one store: parameters, model loading, the run and its images, with the actions
 * next to the state. It talks to the inference worker through `InferenceClient`; components read
 * plain values (RGBA frames, numbers, strings) and never see tensors.
 */
import { create } from 'zustand';
import { InferenceClient } from '@/inference/client';
import type { Backend, LoadPhase, WorkerEvent } from '@/inference/protocol';
import { fetchManifest, manifestUrl, toModelSpec } from '@/lib/manifest';
import { defaultsFor, LIMITS, parseClass, readUrlParams, writeUrlParams, type StudioParams } from '@/lib/url-params';
import { Trajectory } from '@/lib/trajectory';
import { karrasSigmas } from '@/sampling/heun';
import { normalTensor } from '@/sampling/noise';
import { toBytes, toRgba } from '@/sampling/pixels';
import type { Manifest, ModelEntry } from '@/types/manifest';

export type RunStatus = 'idle' | 'running' | 'done' | 'error';
export type PreviewMode = 'x' | 'denoised';

export interface Notice {
  id: string;
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** One result image, ready for `putImageData`. */
export interface ImageFrame {
  width: number;
  height: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

export interface ModelLoadState {
  state: 'idle' | 'loading' | 'ready' | 'error';
  phase: LoadPhase | null;
  /** Which model and backend request the state is about ("id|backend"). */
  key: string | null;
  loadedBytes: number;
  totalBytes: number;
  loadMs: number | null;
}

/** Plain facts about the recorded trajectory (its floats stay in `currentTrajectory()`). */
export interface TrajectoryInfo {
  /** Increases with every run, so that views can tell runs apart. */
  run: number;
  /** Steps recorded so far, and of the run. */
  recorded: number;
  steps: number;
  /** The image whose attention is recorded, or null. */
  attentionImage: number | null;
}

export interface StudioState {
  manifest: Manifest | null;
  manifestState: 'loading' | 'ready' | 'error';
  params: StudioParams;
  preview: PreviewMode;
  notices: Notice[];
  load: ModelLoadState;
  backend: Backend | null;
  threads: number | null;
  status: RunStatus;
  error: string | null;
  step: number;
  steps: number;
  startedAt: number | null;
  elapsedMs: number;
  msPerStep: number | null;
  msPerForward: number | null;
  frames: ImageFrame[];
  /** Final pixels of the last finished run, row-major over [B, C, H, W] (the contract's mapping). */
  result: { shape: [number, number, number, number]; pixels: Uint8Array } | null;
  trajectory: TrajectoryInfo | null;
  /** The image of the batch whose TMSA attention the next run records (the enlarged one). */
  attentionImage: number;
  /** Fetch and keep attention at all (TMSA models only). */
  recordAttention: boolean;

  init: (search?: string) => Promise<void>;
  setParam: <K extends keyof StudioParams>(key: K, value: StudioParams[K]) => void;
  setPreview: (mode: PreviewMode) => void;
  generate: () => void;
  cancel: () => void;
  dismissNotice: (id: string) => void;
  addNotice: (notice: Notice) => void;
  setAttentionImage: (image: number) => void;
  setRecordAttention: (on: boolean) => void;
}

let client: InferenceClient | null = null;
let createClient: () => InferenceClient = () => new InferenceClient();
let runId = 0;
let loadId = 0;
/** The floats behind the frames of the current run (kept out of the state). */
let lastStep: { shape: [number, number, number, number]; x: Float32Array; denoised: Float32Array } | null = null;
/** The trajectory of the current (or last) run; replaced, never grown, by the next run. */
let trajectory: Trajectory | null = null;
let trajectoryRun = 0;

/** The recorded trajectory of the current or last run, for the timeline store. */
export function currentTrajectory(): Trajectory | null {
  return trajectory;
}

/** Lets tests swap the worker for a fake. */
export function setClientFactory(factory: () => InferenceClient): void {
  client?.terminate();
  client = null;
  createClient = factory;
}

function framesOf(x: Float32Array, shape: [number, number, number, number]): ImageFrame[] {
  const [b, , h, w] = shape;
  return Array.from({ length: b }, (_, i) => ({ width: w, height: h, rgba: toRgba(x, shape, i) }));
}

export function selectedModel(state: Pick<StudioState, 'manifest' | 'params'>): ModelEntry | undefined {
  return state.manifest?.models.find((m) => m.id === state.params.model);
}

const loadKey = (params: StudioParams) => `${params.model}|${params.backend}`;

export const useStudioStore = create<StudioState>()((set, get) => {
  const notify = (notice: Notice) => set((s) => ({ notices: [...s.notices.filter((n) => n.id !== notice.id), notice] }));
  const clearNotice = (id: string) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));

  const onEvent = (event: WorkerEvent) => {
    const isRun = event.id === runId && runId !== 0;
    // Load events come from the preload, or from the run that waits for (or redoes) it.
    const isLoad = event.id === loadId || isRun || event.id === 0;
    switch (event.type) {
      case 'status': {
        if (!isLoad) return;
        set((s) => ({
          load: {
            ...s.load,
            state: event.phase === 'ready' ? 'ready' : 'loading',
            phase: event.phase,
            loadMs: event.loadMs ?? s.load.loadMs,
          },
          backend: event.info?.backend ?? s.backend,
          threads: event.info?.threads ?? s.threads,
        }));
        if (event.info) {
          if (event.info.notice) notify({ id: 'backend', level: 'warning', text: event.info.notice });
          else clearNotice('backend');
        }
        return;
      }
      case 'progress':
        if (isLoad) set((s) => ({ load: { ...s.load, loadedBytes: event.loaded, totalBytes: event.total } }));
        return;
      case 'step': {
        if (!isRun) return;
        lastStep = { shape: event.shape, x: event.x, denoised: event.denoised };
        trajectory?.push({ sigma: event.sigma, x: event.x, denoised: event.denoised, attention: event.attention });
        set((s) => ({
          trajectory: s.trajectory && { ...s.trajectory, recorded: trajectory?.recorded ?? 0 },
          step: event.step + 1,
          steps: event.steps,
          elapsedMs: event.elapsedMs,
          msPerStep: event.msPerStep,
          msPerForward: event.msPerForward,
          frames: framesOf(s.preview === 'x' ? event.x : event.denoised, event.shape),
        }));
        return;
      }
      case 'result': {
        if (!isRun) return;
        lastStep = { shape: event.shape, x: event.x, denoised: event.x };
        set({
          status: 'done',
          step: get().steps,
          elapsedMs: event.elapsedMs,
          msPerStep: event.msPerStep,
          msPerForward: event.msPerForward,
          backend: event.backend,
          startedAt: null,
          frames: framesOf(event.x, event.shape),
          result: { shape: event.shape, pixels: toBytes(event.x) },
        });
        runId = 0;
        return;
      }
      case 'error': {
        if (!isLoad && !isRun) return;
        if (event.cancelled) {
          set({ status: 'idle', startedAt: null, error: null });
          if (isRun) {
            trajectory = null;
            set({ trajectory: null });
          }
          notify({ id: 'run', level: 'info', text: 'Generation cancelled.' });
          runId = 0;
          return;
        }
        if (event.stage === 'load') set((s) => ({ load: { ...s.load, state: 'error', phase: null } }));
        set({ status: 'error', error: event.message, startedAt: null });
        if (isRun) {
          runId = 0;
          trajectory = null;
          set({ trajectory: null });
        }
        return;
      }
    }
  };

  const worker = () => {
    if (!client) {
      client = createClient();
      client.subscribe(onEvent);
    }
    return client;
  };

  /** Starts loading the selected model on the requested backend, unless it is loaded or loading. */
  const preload = () => {
    const state = get();
    const model = selectedModel(state);
    if (!model) return;
    const key = loadKey(state.params);
    if (state.load.key === key && state.load.state !== 'error') return;
    set({ load: { state: 'loading', phase: null, key, loadedBytes: 0, totalBytes: model.bytes, loadMs: null }, error: null, status: state.status === 'error' ? 'idle' : state.status });
    loadId = worker().load(toModelSpec(model), state.params.backend);
  };

  return {
    manifest: null,
    manifestState: 'loading',
    params: defaultsFor(undefined),
    preview: 'x',
    notices: [],
    load: { state: 'idle', phase: null, key: null, loadedBytes: 0, totalBytes: 0, loadMs: null },
    backend: null,
    threads: null,
    status: 'idle',
    error: null,
    step: 0,
    steps: 0,
    startedAt: null,
    elapsedMs: 0,
    msPerStep: null,
    msPerForward: null,
    frames: [],
    result: null,
    trajectory: null,
    attentionImage: 0,
    recordAttention: true,

    init: async (search = location.search) => {
      let manifest: Manifest | null = null;
      try {
        manifest = await fetchManifest(manifestUrl());
      } catch (e) {
        const { params, problems } = readUrlParams(search, null);
        set({ manifestState: 'error', params, status: 'error', error: (e as Error).message });
        problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
        return;
      }
      const { params, problems } = readUrlParams(search, manifest);
      set({ manifest, manifestState: 'ready', params, steps: params.steps });
      problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
      preload();
    },

    setParam: (key, value) => {
      const params = { ...get().params, [key]: value };
      if (key === 'model') {
        // A new model brings its own defaults and classes.
        const model = get().manifest?.models.find((m) => m.id === value);
        const defaults = defaultsFor(model);
        params.steps = defaults.steps;
        params.guidance = defaults.guidance;
        if (params.classLabel !== null && (!model || params.classLabel >= model.num_classes)) params.classLabel = null;
      }
      if (key === 'seed') params.seed = Math.min(LIMITS.seed.max, Math.max(0, Math.floor(Number(value) || 0)));
      if (key === 'steps') params.steps = Math.min(LIMITS.steps.max, Math.max(LIMITS.steps.min, Math.round(Number(value) || 1)));
      if (key === 'batch') params.batch = Math.min(LIMITS.batch.max, Math.max(LIMITS.batch.min, Math.round(Number(value) || 1)));
      if (key === 'guidance') params.guidance = Math.min(LIMITS.guidance.max, Math.max(LIMITS.guidance.min, Number.isFinite(Number(value)) ? Number(value) : 1));
      set({ params });
      if (key === 'model' || key === 'backend') preload();
    },

    setPreview: (mode) => {
      set({ preview: mode });
      if (lastStep && get().status === 'running') set({ frames: framesOf(mode === 'x' ? lastStep.x : lastStep.denoised, lastStep.shape) });
    },

    generate: () => {
      const state = get();
      if (state.status === 'running') return;
      const model = selectedModel(state);
      if (!model) {
        set({ status: 'error', error: state.manifest ? `Unknown model "${state.params.model}".` : 'No models: the manifest could not be loaded.' });
        return;
      }
      const params = { ...state.params };
      if (params.classLabel !== null && parseClass(String(params.classLabel), model) === undefined) params.classLabel = null;
      history.replaceState(history.state, '', `${location.pathname}${writeUrlParams(params, location.search)}${location.hash}`);
      clearNotice('run');
      const key = loadKey(params);
      if (state.load.key !== key || state.load.state === 'error') {
        set({ load: { state: 'loading', phase: null, key, loadedBytes: 0, totalBytes: model.bytes, loadMs: null } });
      }
      lastStep = null;
      // A new run drops the last trajectory before recording its own (memory stays bounded).
      const shape: [number, number, number, number] = [params.batch, model.channels, model.resolution, model.resolution];
      const layers = model.attention ?? [];
      const attentionImage = layers.length > 0 && state.recordAttention ? Math.min(state.attentionImage, params.batch - 1) : null;
      const sigma0 = Math.fround(karrasSigmas(params.steps, model.edm.sigma_min, model.edm.sigma_max, model.edm.rho)[0]);
      const initial = normalTensor(params.seed, shape);
      for (let k = 0; k < initial.length; k++) initial[k] = Math.fround(initial[k] * sigma0);
      trajectory = new Trajectory(shape, params.steps, initial, layers, attentionImage);
      trajectoryRun += 1;
      set({ trajectory: { run: trajectoryRun, recorded: 0, steps: params.steps, attentionImage } });
      set({ params, status: 'running', error: null, step: 0, steps: params.steps, startedAt: performance.now(), elapsedMs: 0, msPerStep: null, msPerForward: null, result: null });
      runId = worker().generate(toModelSpec(model), params.backend, {
        seed: params.seed,
        steps: params.steps,
        classLabel: params.classLabel,
        guidance: params.guidance,
        batch: params.batch,
        attentionImage,
      });
    },

    cancel: () => {
      if (runId && get().status === 'running') client?.cancel(runId);
    },

    dismissNotice: (id) => clearNotice(id),
    addNotice: (notice) => notify(notice),
    setAttentionImage: (image) => set({ attentionImage: Math.max(0, Math.floor(image)) }),
    setRecordAttention: (on) => set({ recordAttention: on }),
  };
});
