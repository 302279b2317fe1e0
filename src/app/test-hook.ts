/**
 * `window.__diffit` and `window.__diffitCompare`: typed, read-only views of the stores for
 * end-to-end tests (cf. tldraw's e2e hooks), so they need not scrape the DOM for state.
 * Only builds with `VITE_TEST_HOOKS=1` (what `npm run test:e2e` builds) include this module.
 */
import { panelStatus, recordedSteps, useCompareStore, type PanelStatus } from '@/features/compare/store';
import { useTimelineStore } from '@/features/timeline/store';
import type { Backend, WasmWeights } from '@/inference/protocol';
import type { RunStatus } from '@/lib/run-session';
import type { TimelineView, TrajectoryBytes } from '@/lib/trajectory';
import type { StudioParams } from '@/lib/url-params';
import { currentTrajectory, useStudioStore } from '@/stores/studio-store';
import { attentionRowSums, trajectoryPixels } from '@/testing/trajectory-checks';

export interface DiffitTestState {
  status: RunStatus;
  error: string | null;
  backend: Backend | null;
  threads: number | null;
  weights: WasmWeights | null;
  crossOriginIsolated: boolean;
  params: StudioParams;
  notices: string[];
  step: number;
  steps: number;
  msPerStep: number | null;
  msPerForward: number | null;
  /** Forwards of the last run that were WebGPU graph replays, and why capture is off if it is. */
  replayed: number | null;
  captureNote: string | null;
  elapsedMs: number;
  /** The last finished run: shape [B, C, H, W] and uint8 pixels row-major. */
  result: { shape: number[]; pixels: number[] } | null;
}

export interface DiffitTimelineState {
  /** Steps recorded, and the shown step (1-based). */
  recorded: number;
  selected: number;
  sigmas: number[];
  view: TimelineView;
  zoomed: number;
  attentionImage: number | null;
  bytes: TrajectoryBytes | null;
}

export interface DiffitTestHook {
  state(): DiffitTestState;
  timeline(): DiffitTimelineState;
  /** The recorded state of step `step` (1-based) in a view: uint8 row-major over [B, C, H, W]. */
  stepPixels(step: number, view: TimelineView): number[] | null;
  /** Per layer, the worker's entropy and distance against the step. */
  attentionStats(): { layer: string; entropy: number[]; distance: number[] }[];
  /** Sums of every recorded (decoded) attention row. */
  attentionRowSums(): { rows: number; min: number; max: number } | null;
}

export interface ComparePanelTestState {
  id: string;
  status: PanelStatus;
  error: string | null;
  step: number;
  steps: number;
  msPerStep: number | null;
  elapsedMs: number;
  recordedSteps: number;
  result: { shape: number[]; pixels: number[] } | null;
}

export interface CompareTestState {
  ids: string[];
  running: boolean;
  viewStep: number | null;
  params: { seed: number; steps: number; classLabel: number | null; guidance: number; batch: number; backend: string };
  notices: string[];
  panels: ComparePanelTestState[];
}

declare global {
  interface Window {
    __diffit?: DiffitTestHook;
    __diffitCompare?: { state(): CompareTestState };
  }
}

export function installTestHooks(): void {
  window.__diffitCompare = {
    state() {
      const s = useCompareStore.getState();
      const { seed, steps, classLabel, guidance, batch, backend } = s.params;
      return {
        ids: [...s.ids],
        running: s.running,
        viewStep: s.viewStep,
        params: { seed, steps, classLabel, guidance, batch, backend },
        notices: s.notices.map((n) => n.text),
        panels: s.ids.map((id) => {
          const p = s.panels[id];
          return {
            id,
            status: panelStatus(p),
            error: p.error,
            step: p.step,
            steps: p.steps,
            msPerStep: p.msPerStep,
            elapsedMs: p.elapsedMs,
            recordedSteps: recordedSteps(id),
            result: p.result ? { shape: [...p.result.shape], pixels: Array.from(p.result.pixels) } : null,
          };
        }),
      };
    },
  };

  window.__diffit = {
    state() {
      const s = useStudioStore.getState();
      return {
        status: s.status,
        error: s.error,
        backend: s.backend,
        threads: s.threads,
        weights: s.weights,
        crossOriginIsolated: self.crossOriginIsolated,
        params: { ...s.params },
        notices: s.notices.map((n) => n.text),
        step: s.step,
        steps: s.steps,
        msPerStep: s.msPerStep,
        msPerForward: s.msPerForward,
        replayed: s.replayed,
        captureNote: s.captureNote,
        elapsedMs: s.elapsedMs,
        result: s.result ? { shape: [...s.result.shape], pixels: Array.from(s.result.pixels) } : null,
      };
    },
    timeline() {
      const t = useTimelineStore.getState();
      const trajectory = currentTrajectory();
      return {
        recorded: trajectory?.recorded ?? 0,
        selected: t.selected + 1,
        sigmas: [...t.sigmas],
        view: t.view,
        zoomed: t.zoomed,
        attentionImage: trajectory?.attentionImage ?? null,
        bytes: t.bytes && { ...t.bytes },
      };
    },
    stepPixels(step, view) {
      const trajectory = currentTrajectory();
      if (!trajectory || step < 1 || step > trajectory.recorded) return null;
      return Array.from(trajectoryPixels(trajectory, step - 1, view));
    },
    attentionStats() {
      return currentTrajectory()?.stats() ?? [];
    },
    attentionRowSums() {
      const trajectory = currentTrajectory();
      return trajectory ? attentionRowSums(trajectory) : null;
    },
  };
}
