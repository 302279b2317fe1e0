import { useEffect, useRef, type CanvasHTMLAttributes } from 'react';
import type { ImageFrame } from '@/lib/frames';

/** An RGBA frame drawn at native resolution; CSS scales it up with `image-rendering: pixelated`. */
export function FrameCanvas({ frame, ...props }: { frame: ImageFrame } & CanvasHTMLAttributes<HTMLCanvasElement> & { 'data-testid'?: string; 'data-index'?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, frame.width, frame.height);
    ctx.putImageData(new ImageData(frame.rgba, frame.width, frame.height), 0, 0);
  }, [frame]);
  return <canvas ref={ref} width={frame.width} height={frame.height} {...props} />;
}
