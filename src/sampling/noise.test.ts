import { describe, expect, it } from 'vitest';
import reference from '../../fixtures/noise_reference.json';
import { fmix32, normal, normalTensor, randomBits, uniform } from './noise';

interface NoiseCase {
  seed: number;
  bits_0_8: number[];
  uniform_0_8: number[];
  normal_0_8: number[];
  normal_offset_1000_4: number[];
}

// A static import: a missing fixture fails this file. training/scripts/write_fixtures.py writes it.
const cases = (reference as { cases: NoiseCase[] }).cases;

describe('noise generator matches training/diffit/noise.py', () => {
  it('has cases to compare', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.seed, c] as const))('seed %d', (seed, c) => {
    expect(Array.from({ length: 8 }, (_, i) => randomBits(seed, i))).toEqual(c.bits_0_8);
    expect(Array.from({ length: 8 }, (_, i) => uniform(seed, i))).toEqual(c.uniform_0_8);
    // float32 values round-trip exactly through JSON's float64.
    expect(Array.from(normal(seed, 8))).toEqual(c.normal_0_8);
    expect(Array.from(normal(seed, 4, 1000))).toEqual(c.normal_offset_1000_4);
  });

  it('indexes a tensor row-major, independent of batch size', () => {
    const one = normalTensor(7, [1, 1, 4, 4]);
    const two = normalTensor(7, [2, 1, 4, 4]);
    expect(Array.from(two.subarray(0, 16))).toEqual(Array.from(one));
    expect(Array.from(two.subarray(16))).toEqual(Array.from(normal(7, 16, 16)));
  });

  it('fmix32 is MurmurHash3 finaliser', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
  });

  it('rejects bad seeds', () => {
    expect(() => normal(-1, 1)).toThrow(RangeError);
    expect(() => normal(2 ** 32, 1)).toThrow(RangeError);
    expect(() => normal(1.5, 1)).toThrow(RangeError);
  });
});
