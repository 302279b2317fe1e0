import { describe, expect, it } from 'vitest';
import { captioned, encodeGif, gridFrame, upscale } from './export';
import { exportBaseName } from './export-name';
import { gifFrameCount } from '@/testing/gif-frames';

const frame = (v: number) => ({ width: 2, height: 2, rgba: new Uint8ClampedArray(16).map((_, k) => (k % 4 === 3 ? 255 : v + k)) });

describe('exports', () => {
  it('upscales with crisp (nearest) pixels', () => {
    const big = upscale(frame(0), 3);
    expect([big.width, big.height]).toEqual([6, 6]);
    expect(Array.from(big.rgba.subarray(0, 4))).toEqual(Array.from(big.rgba.subarray(8, 12))); // pixel (0,2) = source (0,0)
    expect(Array.from(big.rgba.subarray(12, 16))).toEqual([4, 5, 6, 255]); // pixel (0,3) = source (0,1)
  });

  it('lays the batch out in a grid', () => {
    const g = gridFrame([frame(0), frame(10), frame(20)], 2, 1);
    expect([g.width, g.height]).toEqual([5, 5]);
    expect(Array.from(g.rgba.subarray(4 * 3, 4 * 4))).toEqual([10, 11, 12, 255]); // image 2 starts at x = 3
    expect(Array.from(g.rgba.subarray(4 * 15, 4 * 16))).toEqual([20, 21, 22, 255]); // image 3 at y = 3
  });

  it('encodes an animated GIF89a with one frame per step', () => {
    const frames = [0, 40, 80, 120, 160].map((v) => captioned(upscale(frame(v), 4), `step ${v}`));
    const gif = encodeGif(frames, 250);
    expect(new TextDecoder().decode(gif.subarray(0, 6))).toBe('GIF89a');
    expect(gifFrameCount(gif)).toBe(5);
  });

  it('rejects what is not a GIF', () => {
    expect(() => gifFrameCount(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]))).toThrow(/not a GIF/);
  });
});

describe('exportBaseName', () => {
  const base = { seed: 3, steps: 8, classLabel: 1, guidance: 2, batch: 4 };
  it('names every setting that changes the pixels', () => {
    expect(exportBaseName('m', base, 18)).toBe('m-seed3-class1-w2-18steps');
    expect(exportBaseName('m', { ...base, guide: 'every' }, 18)).toBe('m-seed3-class1-w2-18steps');
    expect(exportBaseName('m', { ...base, sampler: 'dpmpp-2m', guide: 'interval' }, 8)).toBe('m-seed3-class1-w2-interval-dpmpp-2m-8steps');
  });
  it('leaves the guide out where there is no guidance', () => {
    expect(exportBaseName('m', { ...base, classLabel: null, guide: 'interval' }, 8)).toBe('m-seed3-classnone-w2-8steps');
    expect(exportBaseName('m', { ...base, guidance: 1, guide: 'interval' }, 8)).toBe('m-seed3-class1-w1-8steps');
  });
});
