/**
 * EDM deterministic Heun sampler (Karras et al. 2022, Algorithm 1) with classifier-free
 * guidance. Mirrors `training/diffit/diffusion/` line for line (docs/contracts.md, "Sampler").
 * It knows nothing about onnxruntime: the model is a `denoise(x, sigma, labels)` callback.
 *
 * Arithmetic follows NumPy (NEP 50): sigmas are float64, rounded to float32 before use (`t`);
 * tensors are float32 and every tensor operation rounds to float32 (Math.fround), with Python
 * float scalars rounded to float32 first.
 */
import sampling from '../../contracts/sampling.json';
import type { EdmConstants } from '@/types/manifest';
import { normalTensor } from './noise';

const f32 = Math.fround;

/** (lo, hi]: guidance only where lo < sigma <= hi. */
export type GuidanceInterval = readonly [lo: number, hi: number];

/** The guidance intervals offered (contracts/sampling.json `guides`, the URL's `guide`; Python reads the same). */
export type GuideName = 'interval' | 'every';

export const GUIDES = Object.fromEntries(
  (['interval', 'every'] as const).map((name) => {
    const { label, lo, hi } = sampling.guides[name];
    return [name, { label, interval: [lo, hi ?? Infinity] as GuidanceInterval }];
  }),
) as Record<GuideName, { label: string; interval: GuidanceInterval }>;

/** Guidance at every evaluation (`EVERY_SIGMA` of training/diffit/diffusion/sampler.py). */
export const EVERY_SIGMA: GuidanceInterval = GUIDES.every.interval;

/** D(x; sigma, label) for a batch: x [n, C, H, W], sigma [n] (float32), labels [n]. */
export type Denoise = (x: Float32Array, sigma: Float32Array, labels: Int32Array) => Promise<Float32Array>;

export interface SampleOptions {
  seed: number;
  steps: number;
  /** [B, C, H, W] */
  shape: readonly [number, number, number, number];
  /** Class index, or `numClasses` (or null) for unconditional. */
  classLabel: number | null;
  guidance: number;
  numClasses: number;
  edm: EdmConstants;
  /** Where guidance applies; every evaluation (`EVERY_SIGMA`) when left out. */
  guidanceInterval?: GuidanceInterval;
}

export interface StepRecord {
  /** 0-based step index. */
  step: number;
  /** Total number of steps. */
  steps: number;
  /** x after the step, float32 [B, C, H, W]. */
  x: Float32Array;
  /** `denoised` of the evaluation the step ends on. */
  denoised: Float32Array;
  /** float32(sigma_{i+1}), the noise level of `x`. */
  sigma: number;
}

/** Karras sigmas in float64 for i = 0..N-1, then sigma_N = 0 (length N + 1). */
export function karrasSigmas(steps: number, sigmaMin: number, sigmaMax: number, rho: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const sigmas = new Float64Array(steps + 1);
  const maxInvRho = sigmaMax ** (1 / rho);
  const minInvRho = sigmaMin ** (1 / rho);
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : i / (steps - 1);
    sigmas[i] = (maxInvRho + t * (minInvRho - maxInvRho)) ** rho;
  }
  sigmas[steps] = 0;
  return sigmas;
}

/** True when a run feeds [x; x] with [class; uncond] labels and mixes the two outputs. */
export function usesGuidance(classLabel: number | null, guidance: number, numClasses: number): boolean {
  return classLabel !== null && classLabel !== numClasses && guidance !== 1;
}

/**
 * Wraps `denoise` with classifier-free guidance: D = D_uncond + w * (D_cond - D_uncond),
 * computed from one forward on the batch [x; x] with labels [c…; num_classes…], where
 * lo < sigma <= hi of `guidanceInterval` (Kynkäänniemi et al. 2024); elsewhere D = D_cond,
 * one forward of the batch.
 */
export function guidedDenoiser(
  denoise: Denoise,
  opts: Pick<SampleOptions, 'classLabel' | 'guidance' | 'numClasses' | 'guidanceInterval'>,
  batch: number,
): (x: Float32Array, sigma: number) => Promise<Float32Array> {
  const uncond = opts.numClasses;
  const label = opts.classLabel ?? uncond;
  const [lo, hi] = opts.guidanceInterval ?? EVERY_SIGMA;
  const w = f32(opts.guidance);
  const plainLabels = new Int32Array(batch).fill(label);
  const plain = (x: Float32Array, sigma: number) => denoise(x, new Float32Array(batch).fill(sigma), plainLabels);
  if (!usesGuidance(opts.classLabel, opts.guidance, opts.numClasses)) return plain;
  const labels = new Int32Array(2 * batch);
  labels.fill(label, 0, batch);
  labels.fill(uncond, batch);
  return async (x, sigma) => {
    if (!(lo < sigma && sigma <= hi)) return plain(x, sigma);
    const n = x.length;
    const xx = new Float32Array(2 * n);
    xx.set(x, 0);
    xx.set(x, n);
    const out = await denoise(xx, new Float32Array(2 * batch).fill(sigma), labels);
    const d = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const cond = out[k];
      const unc = out[n + k];
      d[k] = f32(unc + f32(w * f32(cond - unc)));
    }
    return d;
  };
}

/**
 * What every sampler starts from: the float32 noise levels t_i the model sees (Karras sigmas in
 * float64, rounded), the guided denoiser, x_0 = noise · t_0 (shown to `onStart`), and the cancel
 * check polled before each evaluation.
 */
export function startSampling(
  denoise: Denoise,
  opts: SampleOptions,
  shouldStop?: () => boolean,
  onStart?: (x: Float32Array, sigma: number) => void,
): { t: number[]; D: (x: Float32Array, sigma: number) => Promise<Float32Array>; x: Float32Array; check: () => void } {
  const { sigma_min, sigma_max, rho } = opts.edm;
  const t = Array.from(karrasSigmas(opts.steps, sigma_min, sigma_max, rho), (s) => f32(s));
  const D = guidedDenoiser(denoise, opts, opts.shape[0]);
  const x = normalTensor(opts.seed, opts.shape);
  for (let k = 0; k < x.length; k++) x[k] = f32(x[k] * t[0]);
  onStart?.(x.slice(), t[0]);
  const check = () => {
    if (shouldStop?.()) throw new SampleCancelled();
  };
  return { t, D, x, check };
}

/**
 * Runs the sampler. `onStart` sees x_0 = noise · σ_0 before the first evaluation, `onStep` every
 * step (buffers are fresh and may be transferred); `shouldStop` is polled before each evaluation
 * and aborts with `SampleCancelled`.
 */
export async function sampleHeun(
  denoise: Denoise,
  opts: SampleOptions,
  onStep?: (record: StepRecord) => void | Promise<void>,
  shouldStop?: () => boolean,
  onStart?: (x: Float32Array, sigma: number) => void,
): Promise<Float32Array> {
  const { t, D, x: x0, check } = startSampling(denoise, opts, shouldStop, onStart);
  let x = x0;

  const n = x.length;
  for (let i = 0; i < t.length - 1; i++) {
    const tCur = t[i];
    const tNext = t[i + 1];
    const h = f32(tNext - tCur);
    check();
    let denoised = await D(x, tCur);
    const dCur = new Float32Array(n);
    const xNext = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      dCur[k] = f32(f32(x[k] - denoised[k]) / tCur);
      xNext[k] = f32(x[k] + f32(h * dCur[k])); // Euler step.
    }
    if (tNext > 0) {
      // Apply 2nd order correction.
      check();
      denoised = await D(xNext, tNext);
      for (let k = 0; k < n; k++) {
        const dPrime = f32(f32(xNext[k] - denoised[k]) / tNext);
        xNext[k] = f32(x[k] + f32(h * f32(f32(0.5 * dCur[k]) + f32(0.5 * dPrime))));
      }
    }
    x = xNext;
    await onStep?.({ step: i, steps: opts.steps, x: x.slice(), denoised: denoised.slice(), sigma: tNext });
  }
  return x;
}

/** Thrown by `sampleHeun` when `shouldStop` returns true. */
export class SampleCancelled extends Error {
  constructor() {
    super('sampling cancelled');
    this.name = 'SampleCancelled';
  }
}
