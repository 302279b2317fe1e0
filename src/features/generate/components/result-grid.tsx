import type { ImageFrame } from '@/lib/frames';
import { ResultCanvas } from './result-canvas';

/** The batch: updated at every step while it denoises, and whatever step the page shows after. */
export function ResultGrid({ frames, selected, onSelect, running }: { frames: readonly ImageFrame[]; selected: number; onSelect: (index: number) => void; running: boolean }) {
  if (frames.length === 0) {
    return <section className="panel results empty">{running ? 'Denoising: the images appear after the first step…' : 'Press Generate to sample images.'}</section>;
  }
  return (
    <section className="panel results" data-testid="results">
      {frames.map((frame, i) => (
        <ResultCanvas key={i} frame={frame} index={i} selected={i === selected} onSelect={onSelect} />
      ))}
    </section>
  );
}
