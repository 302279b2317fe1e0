/**
 * The compare view's store: two or three models of one data set, driven by one set of parameters
 * (seed, class, guidance, steps, batch), so all start from the same noise. Each panel has its own
 * `RunSession` (its own worker and loaded model); the panels run one after the other, so two runs
 * never share the CPU. Each session keeps its trajectory, so one slider can show any step on all
 * panels. Components read plain values (RGBA frames, numbers, strings) and never see tensors.
 */
import { create } from 'zustand';
import { InferenceClient } from '@/inference/client';
import type { Notice } from '@/components/notices';
import { readCompareParams, writeCompareParams } from '@/lib/compare-params';
import type { ImageFrame } from '@/lib/frames';
import { loadManifest, manifestUrl, toModelSpec } from '@/lib/manifest';
import { IDLE_RUN, RunSession, type RunState } from '@/lib/run-session';
import { defaultsFor, type StudioParams, withParam } from '@/lib/url-params';
import type { Manifest, ModelEntry } from '@/types/manifest';

export type ShowMode = 'x' | 'denoised';
export type PanelStatus = 'idle' | 'queued' | 'loading' | 'running' | 'done' | 'error';

export interface PanelState extends RunState {
  id: string;
  /** Waiting for the panels before it. */
  queued: boolean;
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
  show: ShowMode;

  init: (search?: string) => Promise<void>;
  setParam: <K extends keyof StudioParams>(key: K, value: StudioParams[K]) => void;
  toggleModel: (id: string) => void;
  run: () => Promise<void>;
  cancel: () => void;
  setViewStep: (step: number | null) => void;
  setShow: (mode: ShowMode) => void;
  dismissNotice: (id: string) => void;
  dispose: () => void;
}

let createClient: () => InferenceClient = () => new InferenceClient();
const sessions = new Map<string, RunSession>();
let stopped = false;

/** Lets tests swap the workers for fakes. */
export function setCompareClientFactory(factory: () => InferenceClient): void {
  for (const s of sessions.values()) s.terminate();
  sessions.clear();
  createClient = factory;
}

function idlePanel(id: string, queued = false): PanelState {
  return { ...IDLE_RUN, id, queued };
}

/** What a panel is doing, in one word (its `data-state`). */
export function panelStatus(panel: PanelState): PanelStatus {
  if (panel.queued) return 'queued';
  if (panel.status === 'running') return panel.trajectory && panel.load.state === 'ready' ? 'running' : 'loading';
  return panel.status;
}

/** Steps a panel has recorded. */
export function recordedSteps(id: string): number {
  return sessions.get(id)?.trajectory?.recorded ?? 0;
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

/**
 * The frames a panel shows: the chosen step (clamped to what it recorded), or its latest. The
 * same frame objects come back for the same step (the trajectory caches them), so this can be a
 * store selector.
 */
export function panelFrames(panel: PanelState, viewStep: number | null, show: ShowMode): { step: number; frames: ImageFrame[] } | null {
  const trajectory = sessions.get(panel.id)?.trajectory;
  const recorded = panel.trajectory?.recorded ?? 0;
  if (!trajectory || recorded === 0) return null;
  const step = viewStep === null ? recorded - 1 : Math.min(viewStep, recorded - 1);
  return { step, frames: trajectory.frames(step, show) };
}

export const useCompareStore = create<CompareState>()((set, get) => {
  const notify = (notice: Notice) => set((s) => ({ notices: [...s.notices.filter((n) => n.id !== notice.id), notice] }));

  const sessionFor = (id: string): RunSession => {
    let session = sessions.get(id);
    if (!session) {
      session = new RunSession(createClient, (run) =>
        set((s) => (s.panels[id] ? { panels: { ...s.panels, [id]: { ...s.panels[id], ...run, queued: false } } } : {})),
      );
      sessions.set(id, session);
    }
    return session;
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
    params: defaultsFor(undefined),
    notices: [],
    running: false,
    panels: {},
    viewStep: null,
    show: 'x',

    init: async (search = location.search) => {
      let manifest: Manifest;
      try {
        const loaded = await loadManifest(manifestUrl());
        manifest = loaded.manifest;
        loaded.problems.forEach((text, i) => notify({ id: `manifest-${i}`, level: 'warning', text }));
      } catch (e) {
        set({ manifestState: 'error', manifestError: (e as Error).message });
        return;
      }
      const { ids, params, problems } = readCompareParams(search, manifest);
      set({ manifest, manifestState: 'ready', ids, params, panels: Object.fromEntries(ids.map((id) => [id, idlePanel(id)])), viewStep: null });
      problems.forEach((text, i) => notify({ id: `url-${i}`, level: 'warning', text }));
    },

    setParam: (key, value) => {
      const params = withParam(get().params, key, value);
      set({ params });
    },

    toggleModel: (id) => {
      const { ids, panels, running } = get();
      if (running) return;
      if (ids.includes(id)) {
        if (ids.length <= 2) return;
        const rest = { ...panels };
        delete rest[id];
        sessions.get(id)?.terminate();
        sessions.delete(id);
        set({ ids: ids.filter((i) => i !== id), panels: rest });
      } else {
        if (ids.length >= 3) return;
        set({ ids: [...ids, id], panels: { ...panels, [id]: idlePanel(id) } });
      }
      set((s) => ({ params: { ...s.params, model: s.ids[0] } }));
    },

    run: async () => {
      const state = get();
      if (state.running || state.ids.length === 0) return;
      writeUrl();
      stopped = false;
      const ids = [...state.ids];
      set((s) => ({ running: true, viewStep: null, panels: Object.fromEntries(ids.map((id) => [id, { ...(s.panels[id] ?? idlePanel(id)), queued: true }])) }));
      const { sampler, seed, steps, classLabel, guidance, guide, batch, backend, weights } = get().params;
      for (const id of ids) {
        const panel = () => get().panels[id];
        if (stopped) {
          if (panel()) set((s) => ({ panels: { ...s.panels, [id]: { ...panel(), queued: false } } }));
          continue;
        }
        const model = modelOf(get(), id);
        if (!model) {
          set((s) => ({ panels: { ...s.panels, [id]: { ...panel(), queued: false, status: 'error', error: `Unknown model "${id}".` } } }));
          continue;
        }
        const label = classLabel !== null && classLabel < model.num_classes ? classLabel : null;
        // One model at a time: wait for this panel's run to end before the next one starts.
        await sessionFor(id).start(toModelSpec(model, weights), backend, { sampler, seed, steps, classLabel: label, guidance, guide, batch });
      }
      set({ running: false });
    },

    cancel: () => {
      stopped = true;
      for (const s of sessions.values()) s.cancel();
    },

    setViewStep: (step) => set({ viewStep: step }),
    setShow: (mode) => set({ show: mode }),
    dismissNotice: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),

    dispose: () => {
      stopped = true;
      for (const s of sessions.values()) s.terminate();
      sessions.clear();
      set({ running: false });
    },
  };
});
