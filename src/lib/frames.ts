/**
 * RGBA frames: what components draw (`putImageData`). The one place where a [B, C, H, W] float
 * tensor becomes a batch of frames (the contract's pixel mapping, `@/sampling/pixels`).
 */
import { toRgba } from '@/sampling/pixels';

/** One image, ready for `putImageData`. */
export interface ImageFrame {
  width: number;
  height: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
}

/** The batch of a [B, C, H, W] tensor as frames. */
export function framesOf(values: Float32Array, shape: readonly [number, number, number, number]): ImageFrame[] {
  const [b, , h, w] = shape;
  return Array.from({ length: b }, (_, i) => ({ width: w, height: h, rgba: toRgba(values, shape, i) }));
}

/** One image of a [B, C, H, W] tensor as a frame. */
export function frameOf(values: Float32Array, shape: readonly [number, number, number, number], image: number): ImageFrame {
  const [, , h, w] = shape;
  return { width: w, height: h, rgba: toRgba(values, shape, image) };
}
