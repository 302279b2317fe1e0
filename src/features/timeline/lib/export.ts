/**
 * Exports: the enlarged image as PNG, the batch as one grid PNG, and the trajectory of the
 * enlarged image as an animated GIF (gifenc), one frame per step with the step and sigma written
 * under the image. Works on RGBA frames only.
 */
import { applyPalette, GIFEncoder, quantize } from 'gifenc';
import type { ImageFrame } from '@/lib/frames';

/** Nearest-neighbour upscaling (crisp pixels), onto a canvas of `width` × `height` at (0, 0). */
export function upscale(frame: ImageFrame, scale: number): ImageFrame {
  const width = frame.width * scale;
  const height = frame.height * scale;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < width; x++) {
      const s = 4 * (sy * frame.width + Math.floor(x / scale));
      const d = 4 * (y * width + x);
      rgba[d] = frame.rgba[s];
      rgba[d + 1] = frame.rgba[s + 1];
      rgba[d + 2] = frame.rgba[s + 2];
      rgba[d + 3] = frame.rgba[s + 3];
    }
  }
  return { width, height, rgba };
}

/** The batch side by side in a grid of `columns`, with a `gap` of white between images. */
export function gridFrame(frames: ImageFrame[], columns: number, gap = 2): ImageFrame {
  const { width: w, height: h } = frames[0];
  const cols = Math.min(columns, frames.length);
  const rows = Math.ceil(frames.length / cols);
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  frames.forEach((f, i) => {
    const ox = (i % cols) * (w + gap);
    const oy = Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) rgba.set(f.rgba.subarray(4 * y * w, 4 * (y + 1) * w), 4 * ((oy + y) * width + ox));
  });
  return { width, height, rgba };
}

/** Writes `caption` in a band under the frame (needs OffscreenCanvas; without one, the band stays blank). */
export function captioned(frame: ImageFrame, caption: string, band = 14): ImageFrame {
  const width = frame.width;
  const height = frame.height + band;
  if (typeof OffscreenCanvas === 'undefined') {
    const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
    rgba.set(frame.rgba);
    return { width, height, rgba };
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  ctx.fillStyle = '#000';
  ctx.font = `${band - 4}px sans-serif`;
  ctx.textBaseline = 'middle';
  ctx.fillText(caption, 3, frame.height + band / 2, width - 6);
  const data = ctx.getImageData(0, 0, width, height).data;
  return { width, height, rgba: new Uint8ClampedArray(data) };
}

/** An animated GIF (looping) of the frames, `delayMs` each. */
export function encodeGif(frames: ImageFrame[], delayMs: number): Uint8Array<ArrayBuffer> {
  const gif = GIFEncoder();
  for (const f of frames) {
    const palette = quantize(f.rgba, 256);
    gif.writeFrame(applyPalette(f.rgba, palette), f.width, f.height, { palette, delay: delayMs, repeat: 0 });
  }
  gif.finish();
  return gif.bytes();
}

/** A PNG of one frame (browser only). */
export async function pngBlob(frame: ImageFrame): Promise<Blob> {
  const canvas = new OffscreenCanvas(frame.width, frame.height);
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Hands a blob to the browser as a download named `name`. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
