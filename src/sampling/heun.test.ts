import { describe, expect, it } from 'vitest';
import reference from '../../fixtures/sampler_reference.json';
import { EVERY_SIGMA, GUIDES, karrasSigmas, sampleHeun, SampleCancelled, type Denoise, type GuidanceInterval, type StepRecord } from './heun';
import { evaluationsPerRun, SAMPLERS, type SamplerName } from './samplers';
import { normalTensor } from './noise';

/** The contract's analytic denoiser: D = (sd^2 x + sigma^2 mu) / (sigma^2 + sd^2), float64 then float32. */
function analyticDenoiser(numClasses: number, sd: number, shape: readonly number[]): Denoise {
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  return async (x, sigma, labels) => {
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const b = Math.floor(k / per);
      const label = labels[b];
      const mu = label === numClasses ? 0 : (label + 1) / (numClasses + 1) - 0.5;
      const s = sigma[b];
      out[k] = (sd * sd * x[k] + s * s * mu) / (s * s + sd * sd);
    }
    return out;
  };
}

interface SamplerCase {
  sampler: SamplerName;
  seed: number;
  steps: number;
  batch: number;
  shape: [number, number, number, number];
  class_label: number;
  guidance: number;
  /** [lo, hi]; hi null for no upper bound. */
  guidance_interval: [number, number | null];
  num_classes: number;
  sigma_min: number;
  sigma_max: number;
  rho: number;
  sigma_data: number;
  sigmas: number[];
  /** The batch of each forward: B, or 2B where guided. */
  forward_batches: number[];
  final: number[];
  step_x: number[][];
}

// A static import: a missing fixture fails this file instead of skipping the parity tests.
// training/scripts/write_fixtures.py writes it; training/tests/test_fixtures.py proves it is current.
const cases = (reference as unknown as { cases: SamplerCase[] }).cases;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

describe('karrasSigmas', () => {
  it('runs from sigma_max to sigma_min, then 0', () => {
    const s = karrasSigmas(18, 0.002, 80, 7);
    expect(s.length).toBe(19);
    expect(s[0]).toBeCloseTo(80, 10);
    expect(s[17]).toBeCloseTo(0.002, 12);
    expect(s[18]).toBe(0);
    for (let i = 1; i < 18; i++) expect(s[i]).toBeLessThan(s[i - 1]);
  });
});

describe('sampleHeun (analytic denoiser)', () => {
  const edm = { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 };
  const shape = [2, 1, 4, 4] as const;

  it('starts from seeded noise * sigma_0 and makes 2N-1 evaluations', async () => {
    let calls = 0;
    let first: Float32Array | null = null;
    const base = analyticDenoiser(10, 0.5, shape);
    const denoise: Denoise = (x, s, l) => {
      if (calls++ === 0) first = x.slice();
      return base(x, s, l);
    };
    const steps: StepRecord[] = [];
    await sampleHeun(denoise, { seed: 3, steps: 5, shape, classLabel: null, guidance: 1, numClasses: 10, edm }, (r) => {
      steps.push(r);
    });
    expect(calls).toBe(9);
    expect(steps.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    const noise = normalTensor(3, shape);
    expect(Array.from(first!)).toEqual(Array.from(noise, (v) => Math.fround(v * Math.fround(80))));
  });

  it('follows the exact ODE of a Gaussian data distribution N(mu, sd^2)', async () => {
    // For D = (sd^2 x + sigma^2 mu) / (sigma^2 + sd^2) the probability-flow ODE has the
    // closed form x(sigma) = mu + (x_T - mu) * sqrt(sigma^2 + sd^2) / sqrt(sigma_T^2 + sd^2).
    const s = [2, 1, 4, 4] as const;
    const run = (guidance: number) =>
      sampleHeun(analyticDenoiser(10, 0.5, [4, 1, 4, 4]), { seed: 1, steps: 80, shape: s, classLabel: 4, guidance, numClasses: 10, edm });
    const mu = 5 / 11 - 0.5;
    const noise = normalTensor(1, s);
    const scale = 0.5 / Math.sqrt(80 * 80 + 0.25);
    const exact = noise.map((z) => mu + (z * 80 - mu) * scale);
    expect(maxAbsDiff(await run(1), exact)).toBeLessThan(4e-3); // second order: the error quarters when steps double
    // Guidance w > 1 pushes the mean past mu (mu < 0 here).
    const guided = await run(3);
    const mean = (a: Float32Array) => a.reduce((p, v) => p + v, 0) / a.length;
    expect(mean(guided) - mean(exact)).toBeLessThan(mu / 2);
  });

  it('feeds [x; x] with [class; uncond] labels under guidance, inside the guidance interval only', async () => {
    const base = analyticDenoiser(10, 0.5, [4, 1, 2, 2]);
    const labelsSeen = async (guidanceInterval?: GuidanceInterval) => {
      const seen: number[][] = [];
      await sampleHeun(
        (x, s, l) => {
          seen.push(Array.from(l));
          expect(x.length).toBe(4 * l.length);
          return base(x, s, l);
        },
        { seed: 1, steps: 2, shape: [2, 1, 2, 2], classLabel: 3, guidance: 2, numClasses: 10, edm, guidanceInterval },
      );
      return seen;
    };
    // Two steps evaluate at sigma 80, 0.002 (correction) and 0.002 (last step, no correction).
    expect(await labelsSeen()).toEqual(await labelsSeen(EVERY_SIGMA)); // every evaluation by default
    expect(await labelsSeen(EVERY_SIGMA)).toEqual([
      [3, 3, 10, 10],
      [3, 3, 10, 10],
      [3, 3, 10, 10],
    ]);
    // The `interval` guide (contracts/sampling.json) leaves sigma 80 unguided: the conditional D alone.
    expect(GUIDES.interval.interval[1]).toBeLessThan(80);
    expect(await labelsSeen(GUIDES.interval.interval)).toEqual([
      [3, 3],
      [3, 3, 10, 10],
      [3, 3, 10, 10],
    ]);
    const last = Math.fround(0.002); // the float32 noise level the model sees
    expect(await labelsSeen([0.001, last])).toEqual([[3, 3], [3, 3, 10, 10], [3, 3, 10, 10]]); // hi is inside
    expect(await labelsSeen([last, 80])).toEqual([[3, 3, 10, 10], [3, 3], [3, 3]]); // lo is outside
  });

  it('can be cancelled', async () => {
    let calls = 0;
    const base = analyticDenoiser(10, 0.5, shape);
    const run = sampleHeun(
      (x, s, l) => {
        calls++;
        return base(x, s, l);
      },
      { seed: 1, steps: 10, shape, classLabel: null, guidance: 1, numClasses: 10, edm },
      undefined,
      () => calls >= 3,
    );
    await expect(run).rejects.toBeInstanceOf(SampleCancelled);
    expect(calls).toBe(3);
  });
});

describe('each sampler vs fixtures/sampler_reference.json', () => {
  it('has cases of every sampler', () => {
    expect(new Set(cases.map((c) => c.sampler))).toEqual(new Set(Object.keys(SAMPLERS)));
  });

  it.each(cases.map((c, i) => [i, c.sampler, c] as const))('case %d (%s)', async (_, __, c) => {
    const sigmas = karrasSigmas(c.steps, c.sigma_min, c.sigma_max, c.rho);
    expect(maxAbsDiff(sigmas, c.sigmas)).toBeLessThanOrEqual(1e-12 * c.sigma_max);
    const stepX: Float32Array[] = [];
    const denoise = analyticDenoiser(c.num_classes, c.sigma_data, [2 * c.batch, ...c.shape.slice(1)]);
    const batches: number[] = [];
    const final = await SAMPLERS[c.sampler](
      (x, sigma, labels) => {
        batches.push(labels.length);
        return denoise(x, sigma, labels);
      },
      {
        seed: c.seed,
        steps: c.steps,
        shape: c.shape,
        classLabel: c.class_label,
        guidance: c.guidance,
        numClasses: c.num_classes,
        edm: { sigma_min: c.sigma_min, sigma_max: c.sigma_max, rho: c.rho, sigma_data: c.sigma_data },
        guidanceInterval: [c.guidance_interval[0], c.guidance_interval[1] ?? Infinity],
      },
      (r) => {
        stepX.push(r.x);
      },
    );
    expect(stepX.length).toBe(c.step_x.length);
    expect(batches.length).toBe(evaluationsPerRun(c.sampler, c.steps)); // guidance is one forward of 2B
    expect(batches).toEqual(c.forward_batches); // guided (2B) exactly where Python guided
    // Bit for bit: every float32 operation is mirrored, in the same order.
    c.step_x.forEach((ref, i) => expect(Array.from(stepX[i])).toEqual(ref));
    expect(Array.from(final)).toEqual(c.final);
  });
});
