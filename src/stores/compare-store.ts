/**
 * The compare view's store: two or three models of one data set, driven by one set of parameters
 * (seed, class, guidance, steps, batch), so all start from the same noise. Each panel has its own
 * `InferenceClient` (its own worker and loaded model); the panels run one after the other, so two
 * runs never share the CPU. Every step's frames are kept, so one slider can show any step on all
 * panels. Components read plain values (RGBA frames, numbers, strings) and never see tensors.
 */
import { create } from 'zustand';
import { InferenceClient } from '@/inference/client';
import type { Backend, LoadPhase, WorkerEvent } from '@/inference/protocol';
import { readCompareParams, writeCompareParams } from '@/lib/compare-params';
import { fetchManifest, manifestUrl, toModelSpec } from '@/lib/manifest';
import { LIMITS, type StudioParams } from '@/lib/url-params';
import { toBytes, toRgba } from '@/sampling/pixels';
import type { Manifest, ModelEntry } from '@/types/manifest';
import type { ImageFrame, Notice, PreviewMode } from './studio-store';

export type PanelStatus = 'idle' | 'queued' | 'loading' | 'running' | 'done' | 'error';

export interface PanelState {
  id: string;
  status: PanelStatus;
  error: string | null;
  phase: LoadPhase | null;
  loadMs: number | null;
  backend: Backend | null;
  /** Steps finished so far, and of how many. */
  step: number;
  steps: number;
  elapsedMs: number;
  msPerStep: number | null;
  msPerForward: number | null;
  /** Per step, the batch as RGBA frames: x after the step, and the denoised prediction it ends on. */
  xFrames: ImageFrame[][];
  denoisedFrames: ImageFrame[][];
  /** Final pixels, row-major over [B, C, H, W] (the contract's mapping). */
  result: { shape: [number, number, number, number]; pixels: Uint8Array } | null;
}

export interface CompareState {
  manifest: Manifest | null;
  manifestState: 'loading' | 'ready' | 'error';
  manifestError: string | null;
  ids: string[];
  params: StudioParams;
  notices: Notice[];
  running: boolean;
  panels: Record<string, PanelState>;
  /** The step all panels show (0-based); null = follow each panel's latest step. */
  viewStep: number | null;
  show: PreviewMode;

  init: (search?: string) => Promise<void>;
  setParam: <K extends keyof StudioParams>(key: K, value: StudioParams[K]) => void;
  toggleModel: (id: string) => void;
  run: () => Promise<void>;
  cancel: () => void;
  setViewStep: (step: number | null) => void;
  setShow: (mode: PreviewMode) => void;
  dismissNotice: (id: string) => void;
  dispose: () => void;
}

let createClient: () => InferenceClient = () => new InferenceClient();
const clients = new Map<string, InferenceClient>();
/** The request in flight: which panel, which request id, and how to end its wait. */
let current: { panel: string; runId: number; finish: () => void } | null = null;
let stopped = false;

/** Lets tests swap the workers for fakes. */
export function setCompareClientFactory(factory: () => InferenceClient): void {
  for (const c of clients.values()) c.terminate();
  clients.clear();
  createClient = factory;
}

function framesOf(values: Float32Array, shape: [number, number, number, number]): ImageFrame[] {
  const [b, , h, w] = shape;
  return Array.from({ length: b }, (_, i) => ({ width: w, height: h, rgba: toRgba(values, shape, i) }));
}

function emptyPanel(id: string, status: PanelStatus = 'idle'): PanelState {
  return { id, status, error: null, phase: null, loadMs: null, backend: null, step: 0, steps: 0, elapsedMs: 0, msPerStep: null, msPerForward: null, xFrames: [], denoisedFrames: [], result: null };
}

export function modelOf(state: Pick<CompareState, 'manifest'>, id: string): ModelEntry | undefined {
  return state.manifest?.models.find((m) => m.id === id);
}

/** The panel the others are measured against: the full DiffiT model when it is compared, else the first. */
export function referencePanelId(state: Pick<CompareState, 'manifest' | 'ids'>): string | undefined {
  return state.ids.find((id) => modelOf(state, id)?.variant === 'diffit') ?? state.ids[0];
}

/** Speed-up of a finished panel against the reference panel (reference ms/step ÷ this ms/step). */
export function speedUp(state: Pick<CompareState, 'manifest' | 'ids' | 'panels'>, id: string): number | null {
  const ref = state.panels[referencePanelId(state) ?? ''];
  const panel = state.panels[id];
  if (!ref || !panel || ref.status !== 'done' || panel.status !== 'done' || !ref.msPerStep || !panel.msPerStep) return null;
  return ref.msPerStep / panel.msPerStep;
}

/** The frames a panel shows: the chosen step (clamped to what it recorded), or its latest. */
export function panelFrames(panel: PanelState, viewStep: number | null, show: PreviewMode): { step: number; frames: ImageFrame[] } | null {
  const all = show === 'x' ? panel.xFrames : panel.denoisedFrames;
  if (all.length === 0) return null;
  const step = viewStep === null ? all.length - 1 : Math.min(viewStep, all.length - 1);
  return { step, frames: all[step] };
}

export const useCompareStore = create<CompareState>()((set, get) => {
  const notify = (notice: Notice) => set((s) => ({ notices: [...s.notices.filter((n) => n.id !== notice.id), notice] }));
  const patch = (id: string, change: Partial<PanelState> | ((p: PanelState) => Partial<PanelState>)) =>
    set((s) => {
      const panel = s.panels[id];
      if (!panel) return {};
      return { panels: { ...s.panels, [id]: { ...panel, ...(typeof change === 'function' ? change(panel) : change) } } };
    });

  const onEvent = (panel: string, event: WorkerEvent) => {
    if (!current || current.panel !== panel || (event.id !== current.runId && event.id !== 0)) return;
    switch (event.type) {
      case 'status':
        patch(panel, (p) => ({ status: event.phase === 'ready' ? 'running' : 'loading', phase: event.phase, backend: event.info?.backend ?? p.backend, loadMs: event.loadMs ?? p.loadMs }));
        return;
      case 'progress':
        return;
      case 'step':
        patch(panel, (p) => ({
          status: 'running',
          step: event.step + 1,
          steps: event.steps,
          elapsedMs: event.elapsedMs,
          msPerStep: event.msPerStep,
          msPerForward: event.msPerForward,
          xFrames: [...p.xFrames, framesOf(event.x, event.shape)],
          denoisedFrames: [...p.denoisedFrames, framesOf(event.denoised, event.shape)],
        }));
        return;
      case 'result':
        patch(panel, (p) => ({
          status: 'done',
          step: p.steps || get().params.steps,
          elapsedMs: event.elapsedMs,
          msPerStep: event.msPerStep,
          msPerForward: event.msPerForward,
          backend: event.backend,
          result: { shape: event.shape, pixels: toBytes(event.x) },
        }));
        current.finish();
        return;
      case 'error':
        patch(panel, { status: event.cancelled ? 'idle' : 'error', error: event.cancelled ? null : event.message, phase: null });
        current.finish();
        return;
    }
  };

  const clientFor = (panel: string): InferenceClient => {
    let client = clients.get(panel);
    if (!client) {
      client = createClient();
      client.subscribe((event) => onEvent(panel, event));
      clients.set(panel, client);
    }
    return client;
  };

  const writeUrl = () => {
    const { ids, params } = get();
    if (typeof history !== 'undefined') history.replaceState(history.state, '', `${location.pathname}${writeCompareParams(ids, params)}${location.hash}`);
  };

  return {
    manifest: null,
    manifestState: 'loading',
    manifestError: null,
    ids: [],
    params: { model: '', seed: 0, steps: 18, classLabel: null, guidance: 1, batch: 4, backend: 'auto' },
    notices: [],
    running: false,
    panels: {},
    viewStep: null,
    show: 'x',

    init: async (search = location.search) => {
      let manifest: Manifest;
      try {
        manifest = await fetchManifest(manifestUrl());
      } catch (e) {
        set({ manifestState: 'error', manifestError: (e as Error).message });
        return;
      }
      const { ids, params, problems } = readCompareParams(search, manifest);
      set({ manifest, manifestState: 'ready', ids, params, panels: Object.fromEntries(ids.map((id) => [id, emptyPanel(id)])), viewStep: null });
      problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
    },

    setParam: (key, value) => {
      const params = { ...get().params, [key]: value };
      if (key === 'seed') params.seed = Math.min(LIMITS.seed.max, Math.max(0, Math.floor(Number(value) || 0)));
      if (key === 'steps') params.steps = Math.min(LIMITS.steps.max, Math.max(LIMITS.steps.min, Math.round(Number(value) || 1)));
      if (key === 'batch') params.batch = Math.min(LIMITS.batch.max, Math.max(LIMITS.batch.min, Math.round(Number(value) || 1)));
      if (key === 'guidance') params.guidance = Math.min(LIMITS.guidance.max, Math.max(LIMITS.guidance.min, Number.isFinite(Number(value)) ? Number(value) : 1));
      set({ params });
    },

    toggleModel: (id) => {
      const { ids, panels, running } = get();
      if (running) return;
      if (ids.includes(id)) {
        if (ids.length <= 2) return;
        const rest = { ...panels };
        delete rest[id];
        clients.get(id)?.terminate();
        clients.delete(id);
        set({ ids: ids.filter((i) => i !== id), panels: rest });
      } else {
        if (ids.length >= 3) return;
        set({ ids: [...ids, id], panels: { ...panels, [id]: emptyPanel(id) } });
      }
      set((s) => ({ params: { ...s.params, model: s.ids[0] } }));
    },

    run: async () => {
      const state = get();
      if (state.running || state.ids.length === 0) return;
      writeUrl();
      stopped = false;
      const ids = [...state.ids];
      set({ running: true, viewStep: null, panels: Object.fromEntries(ids.map((id) => [id, emptyPanel(id, 'queued')])) });
      const { seed, steps, classLabel, guidance, batch, backend } = get().params;
      for (const id of ids) {
        if (stopped) {
          patch(id, { status: 'idle' });
          continue;
        }
        const model = modelOf(get(), id);
        if (!model) {
          patch(id, { status: 'error', error: `Unknown model "${id}".` });
          continue;
        }
        patch(id, { status: 'loading', steps });
        const label = classLabel !== null && classLabel < model.num_classes ? classLabel : null;
        // One model at a time: wait for this panel's result or error before the next one starts.
        await new Promise<void>((resolve) => {
          current = { panel: id, runId: -1, finish: resolve };
          current.runId = clientFor(id).generate(toModelSpec(model), backend, { seed, steps, classLabel: label, guidance, batch });
        });
        current = null;
      }
      set({ running: false });
    },

    cancel: () => {
      stopped = true;
      if (current) clients.get(current.panel)?.cancel(current.runId);
    },

    setViewStep: (step) => set({ viewStep: step }),
    setShow: (mode) => set({ show: mode }),
    dismissNotice: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),

    dispose: () => {
      stopped = true;
      current?.finish();
      current = null;
      for (const c of clients.values()) c.terminate();
      clients.clear();
      set({ running: false });
    },
  };
});
