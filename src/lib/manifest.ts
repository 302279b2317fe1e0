import type { ModelSpec } from '@/inference/protocol';
import type { Manifest, ModelEntry } from '@/types/manifest';

/** Where the app reads its manifest from. */
export function manifestUrl(base: string = import.meta.env.BASE_URL, origin: string = location.origin): string {
  return new URL(`${base}models/manifest.json`, origin).href;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

function fail(path: string, what: string): never {
  throw new ManifestError(`The model manifest is invalid: ${path} ${what}.`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(o: Record<string, unknown>, key: string, path: string, check: (v: number) => boolean = Number.isFinite): number {
  const v = o[key];
  if (typeof v !== 'number' || !check(v)) fail(`${path}.${key}`, 'must be a valid number');
  return v;
}

function str(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) fail(`${path}.${key}`, 'must be a non-empty string');
  return v;
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

function parseModel(raw: unknown, path: string): ModelEntry {
  if (!isObject(raw)) fail(path, 'must be an object');
  const edm = raw.edm;
  if (!isObject(edm)) fail(`${path}.edm`, 'must be an object');
  const classes = raw.classes;
  const numClasses = num(raw, 'num_classes', path, (v) => Number.isInteger(v) && v >= 0);
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) fail(`${path}.classes`, 'must be a list of names');
  if (classes.length !== numClasses) fail(`${path}.classes`, `must have num_classes (${numClasses}) names`);
  const sha256 = str(raw, 'sha256', path);
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) fail(`${path}.sha256`, 'must be 64 hex digits');
  const file = str(raw, 'file', path);
  return {
    ...(raw as object),
    id: str(raw, 'id', path),
    label: typeof raw.label === 'string' ? raw.label : String(raw.id),
    dataset: typeof raw.dataset === 'string' ? raw.dataset : 'unknown',
    classes: classes as string[],
    num_classes: numClasses,
    variant: typeof raw.variant === 'string' ? raw.variant : 'unknown',
    resolution: num(raw, 'resolution', path, positiveInt),
    channels: num(raw, 'channels', path, (v) => v === 1 || v === 3),
    file,
    bytes: num(raw, 'bytes', path, (v) => Number.isInteger(v) && v >= 0),
    sha256,
    parameters: num(raw, 'parameters', path, (v) => Number.isInteger(v) && v >= 0),
    edm: {
      sigma_min: num(edm, 'sigma_min', `${path}.edm`, (v) => v > 0),
      sigma_max: num(edm, 'sigma_max', `${path}.edm`, (v) => v > 0),
      rho: num(edm, 'rho', `${path}.edm`, (v) => v > 0),
      sigma_data: num(edm, 'sigma_data', `${path}.edm`, (v) => v > 0),
    },
    default_steps: num(raw, 'default_steps', path, positiveInt),
    default_guidance: num(raw, 'default_guidance', path),
  } as ModelEntry;
}

/** Validates a parsed manifest.json; throws ManifestError with the offending field. */
export function parseManifest(raw: unknown): Manifest {
  if (!isObject(raw)) fail('the document', 'must be a JSON object');
  if (raw.version !== 1) fail('version', `must be 1 (got ${JSON.stringify(raw.version)})`);
  if (!Array.isArray(raw.models) || raw.models.length === 0) fail('models', 'must be a non-empty list');
  const models = raw.models.map((m, i) => parseModel(m, `models[${i}]`));
  const ids = new Set<string>();
  for (const m of models) {
    if (ids.has(m.id)) fail(`models (${m.id})`, 'has a duplicate id');
    ids.add(m.id);
  }
  return { version: 1, models };
}

/** Fetches and validates the manifest; every failure becomes a ManifestError with a readable message. */
export async function fetchManifest(url: string = manifestUrl()): Promise<Manifest> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new ManifestError(`Could not fetch the model manifest (${url}): ${(e as Error).message}`);
  }
  if (!response.ok) throw new ManifestError(`Could not fetch the model manifest (${url}): HTTP ${response.status}.`);
  let raw: unknown;
  try {
    raw = await response.json();
  } catch {
    throw new ManifestError(`The model manifest (${url}) is not valid JSON.`);
  }
  return parseManifest(raw);
}

/** What the inference worker needs about a model; its file is resolved next to the manifest. */
export function toModelSpec(model: ModelEntry, manifestHref: string = manifestUrl()): ModelSpec {
  return {
    id: model.id,
    url: new URL(model.file, manifestHref).href,
    sha256: model.sha256,
    bytes: model.bytes,
    channels: model.channels,
    resolution: model.resolution,
    numClasses: model.num_classes,
    edm: model.edm,
    attention: (model.attention ?? []).map(({ output, layer, resolution, window, heads, windows, tokens }) => ({ output, layer, resolution, window, heads, windows, tokens })),
  };
}
