import type { GenerateParams } from '@/inference/protocol';

/**
 * `model-seed3-class1-w2-18steps` (`…-w2-interval-…` for guidance in the interval guide, `…-dpmpp-2m-10steps`
 * for another sampler): every setting that changes the pixels.
 */
export function exportBaseName(model: string, params: GenerateParams, steps: number): string {
  const label = params.classLabel === null ? 'none' : String(params.classLabel);
  const sampler = params.sampler && params.sampler !== 'heun' ? `-${params.sampler}` : '';
  const guide = params.guide === 'interval' && params.classLabel !== null && params.guidance !== 1 ? '-interval' : '';
  return `${model}-seed${params.seed}-class${label}-w${params.guidance}${guide}${sampler}-${steps}steps`;
}
