import { useStudioStore } from '@/stores/studio-store';
import { ResultCanvas } from './result-canvas';

/** The batch, updated at every step while it denoises. */
export function ResultGrid() {
  const frames = useStudioStore((s) => s.frames);
  if (frames.length === 0) return <section className="panel results empty">Press Generate to sample images.</section>;
  return (
    <section className="panel results" data-testid="results">
      {frames.map((frame, i) => (
        <ResultCanvas key={i} frame={frame} index={i} />
      ))}
    </section>
  );
}
