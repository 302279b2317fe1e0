/**
 * The studio's store: the manifest, the parameters, the notices and one `RunSession` (model
 * loading, the run, its trajectory), with the actions next to the state. Components read plain
 * values (RGBA frames, numbers, strings) and never see tensors.
 */
import { create } from 'zustand';
import { InferenceClient } from '@/inference/client';
import type { Notice } from '@/components/notices';
import type { ImageFrame } from '@/lib/frames';
import { loadManifest, manifestUrl, toModelSpec } from '@/lib/manifest';
import { IDLE_RUN, RunSession, type RunState } from '@/lib/run-session';
import type { Trajectory } from '@/lib/trajectory';
import { defaultsFor, FIRST_VISIT, parseClass, readUrlParams, SAMPLER_CHOICES, writeUrlParams, type StudioParams, withParam } from '@/lib/url-params';
import type { Manifest, ModelEntry } from '@/types/manifest';

export type PreviewMode = 'x' | 'denoised';

export interface StudioState extends RunState {
  manifest: Manifest | null;
  manifestState: 'loading' | 'ready' | 'error';
  params: StudioParams;
  preview: PreviewMode;
  notices: Notice[];
  /** The batch as shown while running (the newest step in the preview mode), or after a run. */
  frames: ImageFrame[];
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

let createClient: () => InferenceClient = () => new InferenceClient();
let session: RunSession | null = null;

/** The recorded trajectory that the studio shows (the run in progress, or the last finished one). */
export function currentTrajectory(): Trajectory | null {
  return session?.trajectory ?? null;
}

/** Lets tests swap the worker for a fake. */
export function setClientFactory(factory: () => InferenceClient): void {
  session?.terminate();
  session = null;
  createClient = factory;
}

export function selectedModel(state: Pick<StudioState, 'manifest' | 'params'>): ModelEntry | undefined {
  return state.manifest?.models.find((m) => m.id === state.params.model);
}

/** The frames to show: the newest step of the trajectory in the preview mode ('x' once done). */
function shownFrames(trajectory: Trajectory | null, state: Pick<StudioState, 'status' | 'preview'>): ImageFrame[] {
  if (!trajectory || trajectory.recorded === 0) return [];
  return trajectory.frames(trajectory.recorded - 1, state.status === 'running' ? state.preview : 'x');
}

export const useStudioStore = create<StudioState>()((set, get) => {
  const notify = (notice: Notice) => set((s) => ({ notices: [...s.notices.filter((n) => n.id !== notice.id), notice] }));
  const clearNotice = (id: string) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));

  const onRun = (run: RunState) => {
    const prev = get();
    set({ ...run, frames: shownFrames(session?.trajectory ?? null, { status: run.status, preview: prev.preview }) });
    // A fallback is a warning only when WebGPU was asked for; under `auto` the badge notes it.
    if (run.backendNotice !== prev.backendNotice) {
      if (run.backendNotice && prev.params.backend === 'webgpu') notify({ id: 'backend', level: 'warning', text: run.backendNotice });
      else clearNotice('backend');
    }
    if (run.interrupted && run.interrupted !== prev.interrupted) {
      const { step, steps, restored } = run.interrupted;
      notify({ id: 'run', level: 'info', text: `Generation cancelled at step ${step} of ${steps}${restored ? '; showing the last finished run.' : '.'}` });
    }
  };

  const runs = () => {
    if (!session) session = new RunSession(createClient, onRun);
    return session;
  };

  /** Starts loading the selected model on the requested backend, unless it is loaded or loading. */
  const preload = () => {
    const model = selectedModel(get());
    if (model) runs().preload(toModelSpec(model, get().params.weights), get().params.backend);
  };

  return {
    ...IDLE_RUN,
    manifest: null,
    manifestState: 'loading',
    params: defaultsFor(undefined),
    preview: 'x',
    notices: [],
    frames: [],
    attentionImage: 0,
    recordAttention: true,

    init: async (search = location.search) => {
      let manifest: Manifest | null = null;
      try {
        const loaded = await loadManifest(manifestUrl());
        manifest = loaded.manifest;
        loaded.problems.forEach((text, i) => notify({ id: `manifest-${i}`, level: 'warning', text }));
      } catch (e) {
        const { params, problems } = readUrlParams(search, null);
        set({ manifestState: 'error', params, status: 'error', error: (e as Error).message });
        problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
        return;
      }
      const { params, problems } = readUrlParams(search, manifest);
      set({ manifest, manifestState: 'ready', params, steps: params.steps });
      problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
      // A first visit (no parameters) starts with a run, so the page shows what it does at once
      // (contracts/sampling.json `first_visit`):
      // DPM-Solver++(2M) at its default steps, Heun's quality from 8 evaluations instead of 35, and
      // guidance (once a class is chosen) in the interval guide, which spares the noisiest steps' second
      // forward at the same quality, and int8 weights on WASM (README).
      if (new URLSearchParams(search).size === 0) {
        const { sampler, guide, weights } = FIRST_VISIT;
        set({ params: { ...params, sampler, steps: SAMPLER_CHOICES[sampler].default_steps, guide, weights } });
        get().generate();
      } else preload();
    },

    setParam: (key, value) => {
      const params = withParam(get().params, key, value);
      if (key === 'model') {
        // Steps and guidance stay as the user set them (valid for every model), but guidance still
        // at the previous model's default moves to the new model's (CIFAR-10 and emoji start higher);
        // a class the new model does not have becomes "none", and the page says so.
        const model = get().manifest?.models.find((m) => m.id === value);
        const previous = selectedModel(get());
        if (model && previous && params.guidance === defaultsFor(previous).guidance) params.guidance = defaultsFor(model).guidance;
        if (params.classLabel !== null && (!model || params.classLabel >= model.num_classes)) {
          const name = previous?.classes[params.classLabel] ?? String(params.classLabel);
          notify({ id: 'model-class', level: 'info', text: `${model?.label ?? String(value)} has no class "${name}"; sampling unconditionally (class none).` });
          params.classLabel = null;
        } else clearNotice('model-class');
      }
      set({ params });
      if (key === 'model' || key === 'backend' || key === 'weights') preload();
    },

    setPreview: (mode) => {
      set({ preview: mode });
      if (get().status === 'running') set({ frames: shownFrames(currentTrajectory(), { status: 'running', preview: mode }) });
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
      set({ params });
      const layers = model.attention ?? [];
      const attentionImage = layers.length > 0 && state.recordAttention ? Math.min(state.attentionImage, params.batch - 1) : null;
      void runs().start(toModelSpec(model, params.weights), params.backend, {
        sampler: params.sampler,
        seed: params.seed,
        steps: params.steps,
        classLabel: params.classLabel,
        guidance: params.guidance,
        guide: params.guide,
        batch: params.batch,
        attentionImage,
      });
    },

    cancel: () => session?.cancel(),
    dismissNotice: (id) => clearNotice(id),
    addNotice: (notice) => notify(notice),
    setAttentionImage: (image) => set({ attentionImage: Math.max(0, Math.floor(image)) }),
    setRecordAttention: (on) => set({ recordAttention: on }),
  };
});
