import { describe, expect, it } from 'vitest';
import { toByte, toBytes, toRgba } from './pixels';

describe('pixel mapping', () => {
  it('maps [-1, 1] to [0, 255] with round-half-up and clamps', () => {
    expect(toByte(-1)).toBe(0);
    expect(toByte(1)).toBe(255);
    expect(toByte(0)).toBe(128); // 127.5 + 0.5 = 128
    expect(toByte(-5)).toBe(0);
    expect(toByte(5)).toBe(255);
    expect(toByte(-1 + 1 / 127.5)).toBe(1);
  });

  it('maps a tensor row-major and NaN to 0', () => {
    expect(Array.from(toBytes(new Float32Array([-1, 0, 1, NaN])))).toEqual([0, 128, 255, 0]);
  });

  it('replicates grey to RGB with opaque alpha', () => {
    const x = new Float32Array([-1, 1, 0, 0, /* image 1 */ 1, 1, 1, -1]);
    const rgba = toRgba(x, [2, 1, 2, 2], 1);
    expect(Array.from(rgba)).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
  });

  it('uses three channels as RGB', () => {
    const x = new Float32Array([-1, 0, 1]);
    expect(Array.from(toRgba(x, [1, 3, 1, 1], 0))).toEqual([0, 128, 255, 255]);
  });
});
