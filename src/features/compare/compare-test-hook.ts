/**
 * `window.__diffitCompare`: a typed, read-only view of the compare store for end-to-end tests,
 * beside the studio's `window.__diffit`.
 */
import { useCompareStore, type PanelStatus } from '@/stores/compare-store';

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
    __diffitCompare?: { state(): CompareTestState };
  }
}

export function installCompareTestHook(): void {
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
            status: p.status,
            error: p.error,
            step: p.step,
            steps: p.steps,
            msPerStep: p.msPerStep,
            elapsedMs: p.elapsedMs,
            recordedSteps: p.xFrames.length,
            result: p.result ? { shape: [...p.result.shape], pixels: Array.from(p.result.pixels) } : null,
          };
        }),
      };
    },
  };
}
