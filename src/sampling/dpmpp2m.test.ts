import { describe, expect, it } from 'vitest';
import { sampleDpmpp2m } from './dpmpp2m';
import { SampleCancelled, type Denoise, type StepRecord } from './heun';
import { normalTensor } from './noise';
import { endsStep, evaluationsPerRun } from './samplers';

// Fixture parity (bit for bit against training/diffit/diffusion/sampler.py) is in heun.test.ts,
// which runs every case of fixtures/sampler_reference.json through its sampler.

const edm = { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 };
const MU = 0.25;
const SD = 0.5;

/** The exact denoiser of data N(MU, SD^2): D = (SD^2 x + sigma^2 MU) / (sigma^2 + SD^2). */
const gaussian: Denoise = async (x, sigma, labels) => {
  const per = x.length / labels.length;
  return x.map((v, k) => {
    const s = sigma[Math.floor(k / per)];
    return (SD * SD * v + s * s * MU) / (s * s + SD * SD);
  });
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

describe('sampleDpmpp2m (analytic denoiser)', () => {
  const shape = [2, 1, 4, 4] as const;
  const opts = { seed: 1, shape, classLabel: null, guidance: 1, numClasses: 10, edm };

  it('makes one evaluation per step, the first on seeded noise * sigma_0, and records every step', async () => {
    const seen: number[] = [];
    let first: Float32Array | null = null;
    const records: StepRecord[] = [];
    await sampleDpmpp2m(
      (x, sigma, labels) => {
        if (seen.length === 0) first = x.slice();
        seen.push(sigma[0]);
        return gaussian(x, sigma, labels);
      },
      { ...opts, steps: 6 },
      (r) => {
        records.push(r);
      },
    );
    expect(seen.length).toBe(evaluationsPerRun('dpmpp-2m', 6));
    expect(seen[0]).toBe(Math.fround(80));
    expect(records.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(records[5].sigma).toBe(0);
    expect(Array.from(records[5].x)).toEqual(Array.from(records[5].denoised)); // the last step lands on D
    expect(Array.from(first!)).toEqual(Array.from(normalTensor(1, shape), (v) => Math.fround(v * Math.fround(80))));
  });

  it('follows the exact ODE of a Gaussian data distribution, to second order', async () => {
    // x(sigma) = MU + (x_T - MU) * sqrt(sigma^2 + SD^2) / sqrt(sigma_T^2 + SD^2), at sigma = 0.
    const exact = normalTensor(1, shape).map((z) => MU + (z * 80 - MU) * (SD / Math.sqrt(80 * 80 + SD * SD)));
    const error = async (steps: number) => maxAbsDiff(await sampleDpmpp2m(gaussian, { ...opts, steps }), exact);
    const [e10, e20, e40] = [await error(10), await error(20), await error(40)];
    expect(e40).toBeLessThan(e20);
    expect(e20).toBeLessThan(e10 / 3); // second order: about a quarter per doubling
  });

  it('can be cancelled before any evaluation', async () => {
    let calls = 0;
    const run = sampleDpmpp2m(
      (x, s, l) => {
        calls++;
        return gaussian(x, s, l);
      },
      { ...opts, steps: 10 },
      undefined,
      () => calls >= 3,
    );
    await expect(run).rejects.toBeInstanceOf(SampleCancelled);
    expect(calls).toBe(3);
  });
});

describe('endsStep', () => {
  it.each([
    ['heun', 1],
    ['heun', 5],
    ['dpmpp-2m', 1],
    ['dpmpp-2m', 7],
  ] as const)('%s with %d steps: one evaluation per step record, the last evaluation ends the run', (sampler, steps) => {
    const n = evaluationsPerRun(sampler, steps);
    const ends = Array.from({ length: n }, (_, e) => endsStep(sampler, e, steps));
    expect(ends.filter(Boolean).length).toBe(steps);
    expect(ends[n - 1]).toBe(true);
  });
});
