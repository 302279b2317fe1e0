import { FrameCanvas } from '@/components/frame-canvas';
import { useTimelineStore } from '@/features/timeline/store';

/** The same query and layer at every recorded step, one small heatmap per step. */
export function AttentionStrip({ sigmas }: { sigmas: number[] }) {
  const strip = useTimelineStore((s) => s.strip);
  const selected = useTimelineStore((s) => s.selected);
  const { setStep } = useTimelineStore.getState();
  if (strip.length === 0) return <p className="help">Hover or click a pixel of the enlarged image to see its attention through time.</p>;
  return (
    <ol className="attention-strip" data-testid="attention-strip" aria-label="attention of the query at every step">
      {strip.map((frame, i) => (
        <li key={i} className={i === selected ? 'current' : undefined}>
          <button type="button" className="strip-cell" onClick={() => setStep(i)} title={`step ${i + 1}, σ = ${sigmas[i]?.toPrecision(3)}`}>
            {frame ? <FrameCanvas frame={frame} data-testid="attention-strip-cell" data-step={i + 1} /> : <span data-testid="attention-strip-cell" data-step={i + 1} className="strip-missing" />}
          </button>
          <span>{i + 1}</span>
        </li>
      ))}
    </ol>
  );
}
