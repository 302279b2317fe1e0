/**
 * The samplers the app offers, by the name the URL and `training/diffit/diffusion/sampler.py`
 * (`SAMPLERS`) use, and what the worker needs to know of each: how many model evaluations a run
 * takes and which evaluation a step record ends on (the one whose attention it keeps).
 */
import { sampleDpmpp2m } from './dpmpp2m';
import { sampleHeun } from './heun';

export type SamplerName = 'heun' | 'dpmpp-2m';

/** Every sampler takes the arguments of `sampleHeun` (heun.ts). */
type Sampler = typeof sampleHeun;

export const SAMPLERS: Record<SamplerName, Sampler> = { heun: sampleHeun, 'dpmpp-2m': sampleDpmpp2m };

/** Model evaluations of a run of `steps` steps: Heun 2N - 1 (no correction on the last step), DPM-Solver++(2M) N. */
export function evaluationsPerRun(sampler: SamplerName, steps: number): number {
  return sampler === 'heun' ? 2 * steps - 1 : steps;
}

/**
 * True when evaluation `e` (0-based) is the one a step record carries: for Heun the correction
 * (evaluations 1, 3, 5, ...) and the Euler evaluation of the last step (2N - 2); for
 * DPM-Solver++(2M) every evaluation.
 */
export function endsStep(sampler: SamplerName, e: number, steps: number): boolean {
  return sampler === 'heun' ? e % 2 === 1 || e === 2 * steps - 2 : e < steps;
}
