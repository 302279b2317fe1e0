import { useStudioStore } from '@/stores/studio-store';
import { useTimelineStore } from '@/stores/timeline-store';
import { ResultCanvas } from './result-canvas';

/** The batch, updated at every step while it denoises; after the run, the timeline's step and view. */
export function ResultGrid() {
  const live = useStudioStore((s) => s.frames);
  const done = useStudioStore((s) => s.status === 'done');
  const timeline = useTimelineStore((s) => s.frames);
  const zoomed = useTimelineStore((s) => s.zoomed);
  const { zoom } = useTimelineStore.getState();
  const frames = done && timeline.length === live.length && timeline.length > 0 ? timeline : live;
  if (frames.length === 0) return <section className="panel results empty">Press Generate to sample images.</section>;
  return (
    <section className="panel results" data-testid="results">
      {frames.map((frame, i) => (
        <ResultCanvas key={i} frame={frame} index={i} selected={i === zoomed} onSelect={zoom} />
      ))}
    </section>
  );
}
