import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StudioParams } from '../../src/lib/url-params';

/** What `python -m diffit.sample --json` writes (docs/contracts.md). */
export interface PythonSample {
  model: string;
  seed: number;
  steps: number;
  class: number | string | null;
  guidance: number;
  shape: [number, number, number, number];
  pixels: number[];
  x: number[];
}

/**
 * The studio's sampling parameters, without the backend (Python always runs onnxruntime on CPU);
 * Heun unless a sampler is named, guidance at every step unless a guide is named.
 */
export type SampleArgs = Omit<StudioParams, 'backend' | 'sampler' | 'guide' | 'weights'> & Partial<Pick<StudioParams, 'sampler' | 'guide' | 'weights'>>;

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the Python reference sampler (onnxruntime on CPU) on the shipped manifest. */
export function pythonSample(args: SampleArgs, outJson: string): PythonSample {
  const python = resolve(REPO_ROOT, '.venv/bin/python');
  // `diffit.sample` refuses to create folders; a test's output folder may not exist yet.
  mkdirSync(dirname(outJson), { recursive: true });
  execFileSync(
    python,
    [
      '-m', 'diffit.sample',
      '--manifest', 'public/models/manifest.json',
      '--model', args.model,
      '--sampler', args.sampler ?? 'heun',
      '--seed', String(args.seed),
      '--steps', String(args.steps),
      '--class', args.classLabel === null ? 'none' : String(args.classLabel),
      '--guidance', String(args.guidance),
      '--guide', args.guide ?? 'every',
      '--batch', String(args.batch),
      '--weights', args.weights ?? 'float32',
      '--json', outJson,
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 },
  );
  return JSON.parse(readFileSync(outJson, 'utf8')) as PythonSample;
}

/** The shipped DiffiT model (variant "diffit"), else the manifest's first model. */
export function shippedModel(): { id: string; num_classes: number; default_guidance: number } {
  const manifest = JSON.parse(readFileSync(resolve(REPO_ROOT, 'public/models/manifest.json'), 'utf8'));
  return manifest.models.find((m: { variant: string }) => m.variant === 'diffit') ?? manifest.models[0];
}

export interface PixelDiff {
  max: number;
  mean: number;
  count: number;
}

export function pixelDiff(a: ArrayLike<number>, b: ArrayLike<number>): PixelDiff {
  if (a.length !== b.length) throw new Error(`pixel counts differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let k = 0; k < a.length; k++) {
    const d = Math.abs(a[k] - b[k]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length, count: a.length };
}
