/**
 * `window.__diffit`: a typed, read-only view of the store for end-to-end tests
 * (cf. tldraw's e2e hooks), so they need not scrape the DOM for state.
 */
import type { Backend } from '@/inference/protocol';
import type { StudioParams } from '@/lib/url-params';
import { useStudioStore, type RunStatus } from '@/stores/studio-store';

export interface DiffitTestState {
  status: RunStatus;
  error: string | null;
  backend: Backend | null;
  threads: number | null;
  crossOriginIsolated: boolean;
  params: StudioParams;
  notices: string[];
  step: number;
  steps: number;
  msPerStep: number | null;
  msPerForward: number | null;
  elapsedMs: number;
  /** The last finished run: shape [B, C, H, W] and uint8 pixels row-major. */
  result: { shape: number[]; pixels: number[] } | null;
}

export interface DiffitTestHook {
  state(): DiffitTestState;
}

declare global {
  interface Window {
    __diffit?: DiffitTestHook;
  }
}

export function installTestHook(): void {
  window.__diffit = {
    state() {
      const s = useStudioStore.getState();
      return {
        status: s.status,
        error: s.error,
        backend: s.backend,
        threads: s.threads,
        crossOriginIsolated: self.crossOriginIsolated,
        params: { ...s.params },
        notices: s.notices.map((n) => n.text),
        step: s.step,
        steps: s.steps,
        msPerStep: s.msPerStep,
        msPerForward: s.msPerForward,
        elapsedMs: s.elapsedMs,
        result: s.result ? { shape: [...s.result.shape], pixels: Array.from(s.result.pixels) } : null,
      };
    },
  };
}
