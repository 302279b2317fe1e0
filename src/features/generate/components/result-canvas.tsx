import { useEffect, useRef } from 'react';
import type { ImageFrame } from '@/stores/studio-store';

/** One image at native resolution; CSS scales it up with `image-rendering: pixelated`. Click to enlarge. */
export function ResultCanvas({ frame, index, selected = false, onSelect }: { frame: ImageFrame; index: number; selected?: boolean; onSelect?: (index: number) => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    ctx?.putImageData(new ImageData(frame.rgba, frame.width, frame.height), 0, 0);
  }, [frame]);
  return (
    <canvas
      ref={ref}
      className={selected ? 'result selected' : 'result'}
      data-testid="result"
      data-index={index}
      width={frame.width}
      height={frame.height}
      aria-label={`sample ${index + 1}${onSelect ? ', click to enlarge' : ''}`}
      onClick={onSelect ? () => onSelect(index) : undefined}
    />
  );
}
