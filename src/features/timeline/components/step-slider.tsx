import { useEffect } from 'react';
import type { TimelineView } from '@/lib/trajectory';
import { useStudioStore } from '@/stores/studio-store';
import { FPS_CHOICES, useTimelineStore } from '@/features/timeline/store';

const VIEWS: { value: TimelineView; label: string }[] = [
  { value: 'x', label: 'noisy state x_t' },
  { value: 'denoised', label: 'predicted clean image' },
  { value: 'change', label: 'change since previous step' },
];

const HELP =
  'Each step shows x after the step and the model’s prediction of the clean image from the evaluation the step ends on: ' +
  'the Heun correction evaluation when there is one, else (last step) the Euler one. σ is the noise level of x after the step. ' +
  '“Change” is x minus the previous step’s x (the initial noise for step 1), scaled per image so that the largest change is black or white; mid grey = no change.';

export function formatSigma(sigma: number): string {
  return sigma === 0 ? '0' : sigma >= 10 ? sigma.toFixed(1) : sigma >= 0.1 ? sigma.toFixed(3) : sigma.toPrecision(3);
}

/** Slider over the recorded steps (arrow keys, Home, End), play/pause at a frame rate, and the view. */
export function StepSlider() {
  const recorded = useStudioStore((s) => s.trajectory?.recorded ?? 0);
  const steps = useStudioStore((s) => s.trajectory?.steps ?? 0);
  const running = useStudioStore((s) => s.status === 'running');
  const selected = useTimelineStore((s) => s.selected);
  const view = useTimelineStore((s) => s.view);
  const playing = useTimelineStore((s) => s.playing);
  const fps = useTimelineStore((s) => s.fps);
  const sigma = useTimelineStore((s) => s.sigma);
  const { setStep, setView, setPlaying, setFps, tick } = useTimelineStore.getState();

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(tick, 1000 / fps);
    return () => clearInterval(timer);
  }, [playing, fps, tick]);

  const disabled = recorded === 0 || running;
  return (
    <div className="timeline-controls" data-testid="timeline">
      <div className="timeline-row">
        <button type="button" data-testid="timeline-play" disabled={disabled || recorded < 2} onClick={() => setPlaying(!playing)} aria-pressed={playing}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          data-testid="timeline-slider"
          aria-label="step"
          aria-valuetext={recorded ? `step ${selected + 1} of ${steps}, sigma ${formatSigma(sigma)}` : 'no steps'}
          min={1}
          max={Math.max(1, recorded)}
          step={1}
          value={recorded ? selected + 1 : 1}
          disabled={disabled}
          onChange={(e) => setStep(e.target.valueAsNumber - 1)}
        />
        <span className="timeline-label" data-testid="timeline-label" data-step={recorded ? selected + 1 : 0} title={HELP}>
          {recorded ? `Step ${selected + 1} / ${steps} · σ = ${formatSigma(sigma)}` : 'No steps yet'}
        </span>
      </div>
      <div className="timeline-row">
        <label>
          View{' '}
          <select data-testid="timeline-view" value={view} onChange={(e) => setView(e.target.value as TimelineView)} title={HELP}>
            {VIEWS.map((v) => (
              <option key={v.value} value={v.value}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Frame rate{' '}
          <select data-testid="timeline-fps" value={fps} onChange={(e) => setFps(Number(e.target.value))}>
            {FPS_CHOICES.map((f) => (
              <option key={f} value={f}>
                {f} fps
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="help">{HELP}</p>
    </div>
  );
}
