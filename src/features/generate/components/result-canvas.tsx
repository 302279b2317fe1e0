import { FrameCanvas } from '@/components/frame-canvas';
import type { ImageFrame } from '@/lib/frames';

/** One result image at native resolution (CSS scales it up); click to enlarge. */
export function ResultCanvas({ frame, index, selected = false, onSelect }: { frame: ImageFrame; index: number; selected?: boolean; onSelect?: (index: number) => void }) {
  return (
    <FrameCanvas
      frame={frame}
      className={selected ? 'result selected' : 'result'}
      data-testid="result"
      data-index={index}
      aria-label={`sample ${index + 1}${onSelect ? ', press to enlarge' : ''}`}
      aria-pressed={onSelect ? selected : undefined}
      role={onSelect ? 'button' : 'img'}
      tabIndex={onSelect ? 0 : undefined}
      onClick={onSelect ? () => onSelect(index) : undefined}
      onKeyDown={
        onSelect
          ? (e) => {
              if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                onSelect(index);
              }
            }
          : undefined
      }
    />
  );
}
