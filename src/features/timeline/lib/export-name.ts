import type { GenerateParams } from '@/inference/protocol';

/** `model-seed3-class1-w2-18steps`: every setting that changes the pixels, in the file name. */
export function exportBaseName(model: string, params: GenerateParams, steps: number): string {
  const label = params.classLabel === null ? 'none' : String(params.classLabel);
  return `${model}-seed${params.seed}-class${label}-w${params.guidance}-${steps}steps`;
}
