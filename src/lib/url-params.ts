/**
 * The URL is the share link: `model`, `sampler`, `seed`, `steps`, `class`, `guidance`, `guide`, `batch`,
 * `backend` and `weights` are read at start and written back on Generate, so a copied URL reproduces
 * the images. A link without `sampler` or `guide` means Heun with guidance at every step, and one
 * without `weights` float32 weights: what such links gave before those parameters existed.
 * A bad value is reported (a notice) and replaced by the default.
 */
import sampling from '../../contracts/sampling.json';
import { BACKEND_REQUESTS, type BackendRequest, type WasmWeights } from '@/inference/protocol';
import { GUIDES, type GuideName } from '@/sampling/heun';
import type { SamplerName } from '@/sampling/samplers';
import type { Manifest, ModelEntry } from '@/types/manifest';

export interface StudioParams {
  model: string;
  /** The sampler (contracts/sampling.json `samplers`): EDM Heun, or DPM-Solver++(2M). */
  sampler: SamplerName;
  seed: number;
  steps: number;
  /** Class index, or null for unconditional ("none"). */
  classLabel: number | null;
  guidance: number;
  /** Where guidance applies (contracts/sampling.json `guides`): the interval, or every step. */
  guide: GuideName;
  batch: number;
  backend: BackendRequest;
  /** The weights WASM runs: the model's int8 file, when it has one, or the float file (WebGPU always runs that). */
  weights: WasmWeights;
}

/** Ranges of the numeric parameters, shared with `python -m diffit.sample` (contracts/sampling.json). */
export const LIMITS = sampling.limits;

export type NumericParam = keyof typeof LIMITS;

/** The samplers, their labels and the steps a new choice of each starts from. */
export const SAMPLER_CHOICES = sampling.samplers as Record<SamplerName, { label: string; default_steps: number }>;
export const SAMPLER_NAMES = Object.keys(SAMPLER_CHOICES) as SamplerName[];

export const GUIDE_NAMES = Object.keys(GUIDES) as GuideName[];

/** The WASM weights and their labels (contracts/sampling.json `weights`; Python's `diffit.contract.WEIGHTS`). */
export const WEIGHT_CHOICES = Object.fromEntries(
  (['int8', 'float32'] as const).map((name) => [name, sampling.weights[name].label]),
) as Record<WasmWeights, string>;
export const WASM_WEIGHTS = Object.keys(WEIGHT_CHOICES) as WasmWeights[];

/**
 * What a first visit (no parameters) runs, at the sampler's default steps (contracts/sampling.json
 * `first_visit`; Python reads the same), with int8 weights on WASM: an 8-15% shorter run at the same
 * class accuracy and FD_clf within sampling noise (README, "Int8 weights on WASM").
 */
export const FIRST_VISIT = {
  sampler: sampling.first_visit.sampler as SamplerName,
  guide: sampling.first_visit.guide as GuideName,
  weights: 'int8' as WasmWeights,
};

export const DEFAULT_PARAMS: Omit<StudioParams, 'model'> = {
  ...sampling.defaults,
  sampler: sampling.defaults.sampler as SamplerName,
  guide: sampling.defaults.guide as GuideName,
  weights: sampling.defaults.weights as WasmWeights,
  classLabel: null,
  backend: 'auto',
};

/** Guidance is kept to `LIMITS.guidance.decimals` decimals, here, in the URL and in `diffit.sample`. */
export function roundGuidance(v: number): number {
  const scale = 10 ** LIMITS.guidance.decimals;
  return Math.round(v * scale) / scale;
}

/** A numeric parameter brought into its range (integers rounded, guidance to its decimals); NaN gives the default. */
export function clampParam(key: NumericParam, value: number): number {
  const { min, max } = LIMITS[key];
  if (!Number.isFinite(value)) return DEFAULT_PARAMS[key];
  const v = key === 'guidance' ? roundGuidance(value) : key === 'seed' ? Math.floor(value) : Math.round(value);
  return Math.min(max, Math.max(min, v));
}

const NUMERIC_PARAMS: readonly string[] = ['seed', 'steps', 'batch', 'guidance'] satisfies NumericParam[];

/** `params` with one parameter changed; a numeric one is brought into its range (`clampParam`). */
export function withParam<K extends keyof StudioParams>(params: StudioParams, key: K, value: StudioParams[K]): StudioParams {
  const next: StudioParams = { ...params, [key]: value };
  if (NUMERIC_PARAMS.includes(key)) next[key as NumericParam] = clampParam(key as NumericParam, Number(value));
  // A new sampler starts from its own step count, unless the steps were set to something else.
  if (key === 'sampler' && value !== params.sampler && params.steps === SAMPLER_CHOICES[params.sampler].default_steps) {
    next.steps = SAMPLER_CHOICES[value as SamplerName].default_steps;
  }
  return next;
}

/** Defaults for one model (its manifest entry sets steps and guidance). */
export function defaultsFor(model: ModelEntry | undefined): StudioParams {
  return {
    ...DEFAULT_PARAMS,
    model: model?.id ?? '',
    steps: model ? clampParam('steps', model.default_steps) : DEFAULT_PARAMS.steps,
    guidance: model ? clampParam('guidance', model.default_guidance) : DEFAULT_PARAMS.guidance,
  };
}

/** What a numeric parameter accepts, in words ("an integer from 1 to 200"). */
export function expectedParam(key: NumericParam): string {
  const { min, max } = LIMITS[key];
  return `${key === 'guidance' ? 'a number' : 'an integer'} from ${min} to ${max}`;
}

/**
 * Reads a numeric parameter from text, the same way for the URL and the input fields: integers
 * for seed, steps and batch; a decimal number for guidance, rounded to its decimals. Out of range
 * or not a number is an error, never silently replaced.
 */
export function parseParam(key: NumericParam, raw: string): { value: number } | { error: string } {
  const text = raw.trim();
  const { min, max } = LIMITS[key];
  const pattern = key === 'guidance' ? /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i : /^\d+$/;
  const v = Number(text);
  if (!pattern.test(text) || !Number.isFinite(v) || (key !== 'guidance' && !Number.isSafeInteger(v)) || v < min || v > max) {
    return { error: `${key[0].toUpperCase()}${key.slice(1)} must be ${expectedParam(key)}.` };
  }
  return { value: key === 'guidance' ? roundGuidance(v) : v };
}

/** Parses a class value: "none", an index, or a class name (any case). `undefined` = invalid. */
export function parseClass(raw: string, model: ModelEntry | undefined): number | null | undefined {
  const value = raw.trim();
  if (value.toLowerCase() === 'none' || value === '') return null;
  if (!model) return /^\d+$/.test(value) ? Number(value) : undefined;
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    return index < model.num_classes ? index : undefined;
  }
  const byName = model.classes.findIndex((c) => c.toLowerCase() === value.toLowerCase());
  return byName >= 0 ? byName : undefined;
}

export interface ReadResult {
  params: StudioParams;
  /** One readable sentence per bad parameter. */
  problems: string[];
}

/** A parameter given more than once is read from its first value, with a notice. */
function duplicates(query: URLSearchParams, names: readonly string[]): string[] {
  return names
    .filter((name) => query.getAll(name).length > 1)
    .map((name) => `The URL gives ${name} ${query.getAll(name).length} times (${query.getAll(name).map((v) => JSON.stringify(v)).join(', ')}); using the first.`);
}

const STUDIO_NAMES = ['model', 'sampler', 'seed', 'steps', 'class', 'guidance', 'guide', 'batch', 'backend', 'weights', 'step'] as const;

/** Reads the studio parameters from a query string, falling back to defaults with a notice. */
export function readUrlParams(search: string, manifest: Manifest | null): ReadResult {
  const query = new URLSearchParams(search);
  const problems: string[] = duplicates(query, STUDIO_NAMES);
  const bad = (name: string, raw: string, expected: string, fallback: string) =>
    problems.push(`Ignored ${name}=${JSON.stringify(raw)} from the URL (${expected}); using ${fallback}.`);

  let model = manifest?.models[0];
  const rawModel = query.get('model');
  if (rawModel !== null && manifest) {
    const found = manifest.models.find((m) => m.id === rawModel);
    if (found) model = found;
    else bad('model', rawModel, `known models: ${manifest.models.map((m) => m.id).join(', ')}`, model?.id ?? 'none');
  }
  const params = defaultsFor(model);
  if (rawModel !== null && !manifest) params.model = rawModel;

  const rawSampler = query.get('sampler');
  if (rawSampler !== null) {
    if ((SAMPLER_NAMES as string[]).includes(rawSampler)) {
      params.sampler = rawSampler as SamplerName;
      // Steps default per sampler: the model's for Heun, the contract's for the others.
      if (params.sampler !== 'heun') params.steps = SAMPLER_CHOICES[params.sampler].default_steps;
    }
    else bad('sampler', rawSampler, SAMPLER_NAMES.join(', '), params.sampler);
  }
  for (const key of ['seed', 'steps', 'batch', 'guidance'] as const) {
    const raw = query.get(key);
    if (raw === null) continue;
    const read = parseParam(key, raw);
    if ('error' in read) bad(key, raw, expectedParam(key), String(params[key]));
    else params[key] = read.value;
  }
  const rawClass = query.get('class');
  if (rawClass !== null) {
    const v = parseClass(rawClass, model);
    if (v === undefined) bad('class', rawClass, model ? `"none", 0 to ${model.num_classes - 1}, or a class name` : '"none" or a class index', 'none');
    else params.classLabel = v;
  }
  const rawGuide = query.get('guide');
  if (rawGuide !== null) {
    if ((GUIDE_NAMES as string[]).includes(rawGuide)) params.guide = rawGuide as GuideName;
    else bad('guide', rawGuide, GUIDE_NAMES.join(', '), params.guide);
  }
  const rawBackend = query.get('backend');
  if (rawBackend !== null) {
    if ((BACKEND_REQUESTS as readonly string[]).includes(rawBackend)) params.backend = rawBackend as BackendRequest;
    else bad('backend', rawBackend, BACKEND_REQUESTS.join(', '), params.backend);
  }
  const rawWeights = query.get('weights');
  if (rawWeights !== null) {
    if ((WASM_WEIGHTS as readonly string[]).includes(rawWeights)) params.weights = rawWeights as WasmWeights;
    else bad('weights', rawWeights, WASM_WEIGHTS.join(', '), params.weights);
  }
  return { params, problems };
}

/** The query string for `params`, keeping any other parameters of `search`. */
export function writeUrlParams(params: StudioParams, search = ''): string {
  const query = new URLSearchParams(search);
  query.set('model', params.model);
  query.set('sampler', params.sampler);
  query.set('seed', String(params.seed));
  query.set('steps', String(params.steps));
  query.set('class', params.classLabel === null ? 'none' : String(params.classLabel));
  query.set('guidance', String(params.guidance));
  query.set('guide', params.guide);
  query.set('batch', String(params.batch));
  query.set('backend', params.backend);
  query.set('weights', params.weights);
  return `?${query.toString()}`;
}

/**
 * `step=` (1-based): the timeline's shown step. null when absent; a problem when it is not a
 * step number.
 */
export function readStepParam(search: string): { step: number | null; problem: string | null } {
  const raw = new URLSearchParams(search).get('step');
  if (raw === null) return { step: null, problem: null };
  if (/^\d+$/.test(raw.trim()) && Number(raw) >= 1) return { step: Number(raw), problem: null };
  return { step: null, problem: `Ignored step=${JSON.stringify(raw)} from the URL (a step number from 1); showing the last step.` };
}

/** The query string `search` with `step=` set. */
export function withStepParam(search: string, step: number): string {
  const query = new URLSearchParams(search);
  query.set('step', String(step));
  return `?${query.toString()}`;
}
