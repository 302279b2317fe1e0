import { useEffect, useRef } from 'react';
import type { ImageFrame } from '@/stores/studio-store';

/** One image at native resolution; CSS scales it up with `image-rendering: pixelated`. */
export function ResultCanvas({ frame, index }: { frame: ImageFrame; index: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    ctx?.putImageData(new ImageData(frame.rgba, frame.width, frame.height), 0, 0);
  }, [frame]);
  return <canvas ref={ref} className="result" data-testid="result" data-index={index} width={frame.width} height={frame.height} aria-label={`sample ${index + 1}`} />;
}
