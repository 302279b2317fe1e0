/**
 * EDM deterministic Heun sampler (Karras et al. 2022, Algorithm 1) with classifier-free
 * guidance. Mirrors `training/diffit/diffusion/` line for line (docs/contracts.md, "Sampler").
 * It knows nothing about onnxruntime: the model is a `denoise(x, sigma, labels)` callback.
 *
 * Arithmetic: sigmas are float64, tensors are float32, and every tensor operation rounds to
 * float32 (Math.fround) with float64 scalars rounded to float32 first, as torch/numpy do.
 */
import { normalTensor } from './noise';

const f32 = Math.fround;

export interface EdmConfig {
  sigma_min: number;
  sigma_max: number;
  rho: number;
  sigma_data: number;
}

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
  edm: EdmConfig;
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
  /** sigma_{i+1} (float64), the noise level of `x`. */
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

/** Number of model forward passes (not images) a run makes: 2N-1. */
export function evaluationCount(steps: number): number {
  return 2 * steps - 1;
}

/** True when a run feeds [x; x] with [class; uncond] labels and mixes the two outputs. */
export function usesGuidance(classLabel: number | null, guidance: number, numClasses: number): boolean {
  return classLabel !== null && classLabel !== numClasses && guidance !== 1;
}

/**
 * Wraps `denoise` with classifier-free guidance: D = D_uncond + w * (D_cond - D_uncond),
 * computed from one forward on the batch [x; x] with labels [c…; num_classes…].
 */
export function guidedDenoiser(denoise: Denoise, opts: Pick<SampleOptions, 'classLabel' | 'guidance' | 'numClasses'>, batch: number): (x: Float32Array, sigma: number) => Promise<Float32Array> {
  const uncond = opts.numClasses;
  const label = opts.classLabel ?? uncond;
  const guided = usesGuidance(opts.classLabel, opts.guidance, opts.numClasses);
  const w = f32(opts.guidance);
  if (!guided) {
    const labels = new Int32Array(batch).fill(label);
    return (x, sigma) => denoise(x, new Float32Array(batch).fill(sigma), labels);
  }
  const labels = new Int32Array(2 * batch);
  labels.fill(label, 0, batch);
  labels.fill(uncond, batch);
  return async (x, sigma) => {
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
 * Runs the sampler. `onStep` sees every step (buffers are fresh per step and may be
 * transferred); `shouldStop` is polled before each evaluation and aborts with `SampleCancelled`.
 */
export async function sampleHeun(
  denoise: Denoise,
  opts: SampleOptions,
  onStep?: (record: StepRecord) => void | Promise<void>,
  shouldStop?: () => boolean,
): Promise<Float32Array> {
  const [batch] = opts.shape;
  const { sigma_min, sigma_max, rho } = opts.edm;
  const sigmas = karrasSigmas(opts.steps, sigma_min, sigma_max, rho);
  const D = guidedDenoiser(denoise, opts, batch);
  const check = () => {
    if (shouldStop?.()) throw new SampleCancelled();
  };

  // Initial noise: x = float32(normal(seed, [B,C,H,W])) * sigma_0.
  let x = normalTensor(opts.seed, opts.shape);
  const s0 = f32(sigmas[0]);
  for (let k = 0; k < x.length; k++) x[k] = f32(x[k] * s0);

  const n = x.length;
  for (let i = 0; i < opts.steps; i++) {
    const sCur = f32(sigmas[i]);
    const sNext = f32(sigmas[i + 1]);
    const h = f32(sigmas[i + 1] - sigmas[i]);

    // Euler step.
    check();
    let denoised = await D(x, sCur);
    const d = new Float32Array(n);
    const xNext = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      d[k] = f32(f32(x[k] - denoised[k]) / sCur);
      xNext[k] = f32(x[k] + f32(h * d[k]));
    }

    // Apply 2nd order correction.
    if (sigmas[i + 1] > 0) {
      check();
      denoised = await D(xNext, sNext);
      for (let k = 0; k < n; k++) {
        const d2 = f32(f32(xNext[k] - denoised[k]) / sNext);
        xNext[k] = f32(x[k] + f32(f32(h * f32(d[k] + d2)) / 2));
      }
    }

    x = xNext;
    await onStep?.({ step: i, steps: opts.steps, x: x.slice(), denoised: denoised.slice(), sigma: sigmas[i + 1] });
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
