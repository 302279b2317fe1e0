import { useEffect, useRef, useState } from 'react';
import { useStudioStore } from '@/stores/studio-store';

/** Ticks while a run is going, so the elapsed time moves between steps. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(performance.now()), 100);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

const ms = (v: number | null) => (v === null ? '–' : v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);

/** Status, a progress bar per step, elapsed time and live ms/step. */
export function RunProgress() {
  const status = useStudioStore((s) => s.status);
  const step = useStudioStore((s) => s.step);
  const steps = useStudioStore((s) => s.steps);
  const startedAt = useStudioStore((s) => s.startedAt);
  const elapsedMs = useStudioStore((s) => s.elapsedMs);
  const msPerStep = useStudioStore((s) => s.msPerStep);
  const msPerForward = useStudioStore((s) => s.msPerForward);
  const replayed = useStudioStore((s) => s.replayed);
  const captureNote = useStudioStore((s) => s.captureNote);
  const backend = useStudioStore((s) => s.backend);
  const loadPhase = useStudioStore((s) => (s.load.state === 'loading' ? s.load.phase : null));
  const now = useNow(status === 'running');
  const section = useRef<HTMLElement>(null);
  // On a narrow screen the controls sit above the results: bring the progress into view.
  useEffect(() => {
    const box = section.current?.getBoundingClientRect();
    if (status === 'running' && box && (box.top < 0 || box.top > window.innerHeight - 80)) section.current?.scrollIntoView({ block: 'start' });
  }, [status]);
  const elapsed = status === 'running' && startedAt !== null ? Math.max(elapsedMs, now - startedAt) : elapsedMs;
  const label =
    status === 'running'
      ? step === 0
        ? loadPhase
          ? `Loading model (${loadPhase.replace('-', ' ')})…`
          : `Running step 1 of ${steps}…`
        : `Step ${step} of ${steps}`
      : status === 'done'
        ? `Done: ${steps} steps`
        : status === 'error'
          ? 'Error'
          : 'Ready';

  return (
    <section ref={section} className="panel progress" aria-label="progress">
      <div data-testid="status" data-state={status} className={`status status-${status}`}>
        {label}
      </div>
      <progress data-testid="progress" max={Math.max(steps, 1)} value={status === 'idle' ? 0 : step} />
      <div className="timings">
        <span>
          Elapsed <span data-testid="elapsed">{(elapsed / 1000).toFixed(1)} s</span>
        </span>
        <span>
          <span data-testid="ms-per-step">{ms(msPerStep)}</span> / step
        </span>
        <span>
          <span data-testid="ms-per-forward">{ms(msPerForward)}</span> / forward
        </span>
        {status === 'done' && backend === 'webgpu' && replayed !== null && (
          <span data-testid="graph-replays" title={captureNote ?? 'WebGPU graph capture: a forward of a batch size seen before replays its recorded GPU commands'}>
            {captureNote ? 'no graph capture' : `${replayed} graph replays`}
          </span>
        )}
      </div>
    </section>
  );
}
