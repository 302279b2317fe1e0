import type { KeyboardEvent, PointerEvent } from 'react';
import { FrameCanvas } from '@/components/frame-canvas';
import { useTimelineStore } from '@/features/timeline/store';

/** The input pixel under the pointer, from the element's box and the image size. */
function pixelAt(e: PointerEvent<HTMLElement>, size: number): { y: number; x: number } {
  const box = e.currentTarget.getBoundingClientRect();
  const x = Math.floor(((e.clientX - box.left) / box.width) * size);
  const y = Math.floor(((e.clientY - box.top) / box.height) * size);
  return { y: Math.min(size - 1, Math.max(0, y)), x: Math.min(size - 1, Math.max(0, x)) };
}

/**
 * The enlarged image with crisp pixels; hover or click a pixel to make its token the attention
 * query (a click pins it). The heatmap of that token's weights lies over the image, and the
 * query's window is outlined for windowed layers.
 */
export function ZoomView({ explore }: { explore: boolean }) {
  const frames = useTimelineStore((s) => s.frames);
  const zoomed = useTimelineStore((s) => s.zoomed);
  const overlay = useTimelineStore((s) => s.overlay);
  const query = useTimelineStore((s) => s.query);
  const pinned = useTimelineStore((s) => s.pinned);
  const { hover, pick, moveQuery } = useTimelineStore.getState();
  const frame = frames[zoomed];
  if (!frame) return <div className="zoom empty">Click an image of the batch to enlarge it.</div>;
  const size = frame.width;
  // Keyboard: arrow keys move the query pixel (pinned), Escape releases it.
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const move = moves[e.key];
    if (move) {
      e.preventDefault();
      moveQuery(move[0] * (e.shiftKey ? 4 : 1), move[1] * (e.shiftKey ? 4 : 1), size);
    } else if (e.key === 'Escape' && query) {
      e.preventDefault();
      pick(query.y, query.x);
    }
  };
  return (
    <figure className="zoom-figure">
      <div
        className="zoom"
        data-testid="zoom"
        data-index={zoomed}
        tabIndex={explore ? 0 : undefined}
        role={explore ? 'application' : undefined}
        aria-label={explore ? `image ${zoomed + 1}, enlarged: arrow keys move the attention query pixel${query ? ` (now ${query.y}, ${query.x})` : ''}, shift for 4 pixels` : undefined}
        onKeyDown={explore ? onKey : undefined}
        onPointerMove={explore ? (e) => { const p = pixelAt(e, size); hover(p.y, p.x); } : undefined}
        onClick={explore ? (e) => { const p = pixelAt(e as unknown as PointerEvent<HTMLElement>, size); pick(p.y, p.x); } : undefined}
      >
        <FrameCanvas frame={frame} className="zoom-layer" data-testid="zoom-image" aria-label={`image ${zoomed + 1}, enlarged`} />
        {overlay && <FrameCanvas frame={overlay.frame} className="zoom-layer" data-testid="attention-overlay" aria-hidden />}
        <svg className="zoom-layer" viewBox={`0 0 ${size} ${size}`} aria-hidden>
          {overlay?.rect && <rect data-testid="attention-window" x={overlay.rect.x} y={overlay.rect.y} width={overlay.rect.size} height={overlay.rect.size} fill="none" stroke="#35d0ff" strokeWidth={0.35} />}
          {query && overlay && <rect x={query.x} y={query.y} width={1} height={1} fill="none" stroke={pinned ? '#fff' : '#ccc'} strokeWidth={0.25} />}
        </svg>
      </div>
      <figcaption>
        Image {zoomed + 1}
        {query && overlay && (
          <span data-testid="attention-query">
            {' '}· query pixel ({query.y}, {query.x}) → token ({overlay.token.ty}, {overlay.token.tx}), window {overlay.token.window}, token {overlay.token.token}
            {pinned ? ' (pinned: click it again to release)' : ''}
          </span>
        )}
      </figcaption>
    </figure>
  );
}
