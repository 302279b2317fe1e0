/**
 * DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) on the Karras sigmas of `heun.ts`: one model
 * evaluation per step instead of Heun's two. Mirrors `dpmpp_2m_sample` in
 * `training/diffit/diffusion/sampler.py` line for line, with the float rules of `heun.ts`: scalars
 * in float64, rounded to float32 where they meet a tensor; every tensor operation rounds to float32.
 */
import { startSampling, type Denoise, type SampleOptions, type StepRecord } from './heun';

const f32 = Math.fround;

/**
 * With lambda = -log(sigma) and h_i = lambda_{i+1} - lambda_i, a step is the exact solution of the
 * ODE for a denoised output held at D:  x_{i+1} = (sigma_{i+1}/sigma_i) x_i - expm1(-h_i) D, where
 * D = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}, r = h_{i-1}/h_i, except on the first step and the last
 * (sigma_N = 0), where D = D_i. Same callbacks as `sampleHeun`; a step record carries the step's
 * one evaluation.
 */
export async function sampleDpmpp2m(
  denoise: Denoise,
  opts: SampleOptions,
  onStep?: (record: StepRecord) => void | Promise<void>,
  shouldStop?: () => boolean,
  onStart?: (x: Float32Array, sigma: number) => void,
): Promise<Float32Array> {
  const { t, D, x: x0, check } = startSampling(denoise, opts, shouldStop, onStart);
  let x = x0;

  const n = x.length;
  let oldDenoised: Float32Array | null = null;
  for (let i = 0; i < t.length - 1; i++) {
    const tCur = t[i];
    const tNext = t[i + 1];
    check();
    const denoised = await D(x, tCur);
    let ratio: number;
    let gain: number;
    let h = 0;
    if (tNext > 0) {
      h = Math.log(tCur) - Math.log(tNext); // lambda_{i+1} - lambda_i
      ratio = f32(tNext / tCur);
      gain = f32(-Math.expm1(-h));
    } else {
      ratio = 0; // the limit sigma_{i+1} -> 0: x_{i+1} = D
      gain = 1;
    }
    let d = denoised;
    if (oldDenoised !== null && tNext !== 0) {
      const r = (Math.log(t[i - 1]) - Math.log(tCur)) / h; // h_{i-1} / h_i
      const cNew = f32(1 + 1 / (2 * r));
      const cOld = f32(1 / (2 * r));
      d = new Float32Array(n);
      for (let k = 0; k < n; k++) d[k] = f32(f32(cNew * denoised[k]) - f32(cOld * oldDenoised[k]));
    }
    const xNext = new Float32Array(n);
    for (let k = 0; k < n; k++) xNext[k] = f32(f32(ratio * x[k]) + f32(gain * d[k]));
    x = xNext;
    oldDenoised = denoised;
    await onStep?.({ step: i, steps: opts.steps, x: x.slice(), denoised: denoised.slice(), sigma: tNext });
  }
  return x;
}
