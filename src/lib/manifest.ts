/**
 * Reading `public/models/manifest.json`. Its fields are owned by contracts/manifest.schema.json,
 * which this module validates against (`MANIFEST_SCHEMA` and the types in `@/types/manifest` are
 * generated from that file, and `python -m diffit.export` validates against it before every write).
 * One bad model entry is left out with a readable problem; only a bad document, or no usable
 * model, fails the load.
 */
import sampling from '../../contracts/sampling.json';
import type { ModelSpec, WasmWeights } from '@/inference/protocol';
import { MANIFEST_SCHEMA, type JsonSchema, type Manifest, type ModelEntry } from '@/types/manifest';
import { isHtmlResponse, notFoundMessage } from './http';

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

/** The manifest's usable models, and one readable line per model entry that was skipped. */
export interface ManifestLoad {
  manifest: Manifest;
  problems: string[];
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft 2020-12), the subset contracts/manifest.schema.json uses.

/** The keywords `check` understands; a schema using any other is refused, never half-checked. */
export const SCHEMA_KEYWORDS = new Set([
  '$schema', 'title', 'description', '$comment', '$defs', '$ref', 'type', 'const', 'enum', 'anyOf',
  'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minItems',
  'minimum', 'maximum', 'exclusiveMinimum', 'minLength', 'pattern',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (path: string, key: string) => (path ? `${path}.${key}` : key);
const named = (path: string) => path || 'the document';
const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

const TYPES: Record<string, (v: unknown) => boolean> = {
  object: isObject,
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
};

function typeMatches(s: JsonSchema, value: unknown): boolean {
  if (typeof s.$ref === 'string') return typeMatches(resolve(s.$ref), value);
  return s.type === undefined || ([] as string[]).concat(s.type as string | string[]).some((t) => TYPES[t](value));
}

function resolve(ref: string): JsonSchema {
  const name = ref.replace(/^#\/\$defs\//, '');
  const found = (MANIFEST_SCHEMA.$defs as Record<string, JsonSchema>)[name];
  if (!found) throw new Error(`manifest schema: unresolved $ref ${ref}`);
  return found;
}

/** Appends to `out` every way `value` (at `path`) breaks schema `s`, as "path must ...". */
export function check(s: JsonSchema, value: unknown, path: string, out: string[]): void {
  for (const keyword of Object.keys(s)) if (!SCHEMA_KEYWORDS.has(keyword)) throw new Error(`manifest schema: unsupported keyword ${keyword}`);
  if (typeof s.$ref === 'string') check(resolve(s.$ref), value, path, out);
  if ('const' in s && value !== s.const) out.push(`${named(path)} must be ${show(s.const)} (got ${show(value)})`);
  if (Array.isArray(s.enum) && !s.enum.includes(value)) out.push(`${named(path)} must be one of ${s.enum.map(show).join(', ')} (got ${show(value)})`);
  if (Array.isArray(s.anyOf)) {
    const branches = (s.anyOf as JsonSchema[]).map((b) => {
      const e: string[] = [];
      check(b, value, path, e);
      return { e, typed: typeMatches(b, value) };
    });
    // None fits: report the branch of the value's own type (an object's missing field, a number's range).
    if (branches.every((b) => b.e.length)) out.push(...(branches.find((b) => b.typed) ?? branches[0]).e);
  }
  if (s.type !== undefined) {
    const types = ([] as string[]).concat(s.type as string | string[]);
    if (!types.some((t) => TYPES[t](value))) {
      out.push(`${named(path)} must be ${types.join(' or ')} (got ${show(value)})`);
      return;
    }
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) out.push(`${named(path)} must be at least ${s.minimum} (got ${value})`);
    if (typeof s.maximum === 'number' && value > s.maximum) out.push(`${named(path)} must be at most ${s.maximum} (got ${value})`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) out.push(`${named(path)} must be above ${s.exclusiveMinimum} (got ${value})`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) out.push(`${named(path)} must not be empty`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) out.push(`${named(path)} must match ${s.pattern} (got ${show(value)})`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) out.push(`${named(path)} must have at least ${s.minItems} item(s)`);
    if (isObject(s.items)) value.forEach((item, i) => check(s.items as JsonSchema, item, `${path}[${i}]`, out));
  }
  if (isObject(value)) {
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    for (const key of (s.required ?? []) as string[]) if (!(key in value)) out.push(`${at(path, key)} is missing`);
    for (const [key, v] of Object.entries(value)) {
      if (isObject(s.propertyNames)) check(s.propertyNames, key, `${named(path)} key ${show(key)}`, out);
      if (key in properties) check(properties[key], v, at(path, key), out);
      else if (s.additionalProperties === false) out.push(`${at(path, key)} is not a manifest field`);
      else if (isObject(s.additionalProperties)) check(s.additionalProperties, v, at(path, key), out);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The checks JSON Schema cannot express (the same as training/diffit/manifest.py's).

function entryProblems(m: ModelEntry, where: string): string[] {
  const out: string[] = [];
  if (m.classes.length !== m.num_classes) out.push(`${where}.classes must have num_classes (${m.num_classes}) names, has ${m.classes.length}`);
  const { steps, guidance } = sampling.limits;
  if (m.default_steps < steps.min || m.default_steps > steps.max) out.push(`${where}.default_steps must be in [${steps.min}, ${steps.max}] (contracts/sampling.json; got ${m.default_steps})`);
  if (m.default_guidance < guidance.min || m.default_guidance > guidance.max) out.push(`${where}.default_guidance must be in [${guidance.min}, ${guidance.max}] (contracts/sampling.json; got ${m.default_guidance})`);
  (m.attention ?? []).forEach((a, j) => {
    const grid = Math.floor(a.resolution / a.window);
    if (a.tokens !== a.window ** 2 || a.windows !== grid ** 2 || grid * a.window !== a.resolution) {
      out.push(`${where}.attention[${j}] must have tokens = window^2 and windows = (resolution/window)^2 (got window ${a.window}, resolution ${a.resolution}, tokens ${a.tokens}, windows ${a.windows})`);
    }
  });
  if (m.int8 && m.int8.source_sha256 !== m.sha256) out.push(`${where}.int8 was made from another ${m.file} (source_sha256 is not the entry's sha256); run python -m diffit.quantize --id ${m.id} again`);
  return out;
}

/**
 * Validates a parsed manifest.json. A bad document (not an object, another version, no model list)
 * throws ManifestError; a bad entry is left out and described in `problems`. Throws when no model
 * is left.
 */
export function parseManifest(raw: unknown): ManifestLoad {
  const errors: string[] = [];
  check(MANIFEST_SCHEMA, raw, '', errors);
  const perEntry = new Map<number, string[]>();
  const document: string[] = [];
  for (const e of errors) {
    const hit = /^models\[(\d+)\]/.exec(e);
    if (hit) perEntry.set(Number(hit[1]), [...(perEntry.get(Number(hit[1])) ?? []), e]);
    else document.push(e);
  }
  if (document.length) throw new ManifestError(`The model manifest is invalid: ${document[0]}.`);
  const models: ModelEntry[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  (raw as { models: unknown[] }).models.forEach((entry, i) => {
    const where = `models[${i}]`;
    let found = perEntry.get(i) ?? entryProblems(entry as ModelEntry, where);
    const id = isObject(entry) && typeof entry.id === 'string' ? entry.id : null;
    if (!found.length && id !== null && seen.has(id)) found = [`${where}.id duplicates models[${seen.get(id)}] ("${id}")`];
    if (found.length) {
      const more = found.length > 1 ? ` (and ${found.length - 1} more)` : '';
      problems.push(`The model ${id === null ? where : `"${id}"`} was left out: ${found[0]}${more}.`);
      return;
    }
    seen.set(id!, i);
    models.push(entry as ModelEntry);
  });
  if (!models.length) throw new ManifestError(`The model manifest has no usable model. ${problems.join(' ')}`);
  return { manifest: { version: 1, models }, problems };
}

/** Fetches and validates the manifest; every failure of the whole document becomes a ManifestError with a readable message. */
export async function loadManifest(url: string = manifestUrl()): Promise<ManifestLoad> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new ManifestError(`Could not fetch the model manifest (${url}): ${(e as Error).message}`);
  }
  if (response.status === 404) throw new ManifestError(notFoundMessage('model manifest', url, false));
  if (!response.ok) throw new ManifestError(`Could not fetch the model manifest (${url}): HTTP ${response.status}.`);
  const text = await response.text();
  if (isHtmlResponse(response, text)) throw new ManifestError(notFoundMessage('model manifest', url));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ManifestError(`The model manifest (${url}) is not valid JSON.`);
  }
  return parseManifest(raw);
}

/** The usable models only (the skipped ones are logged); callers that show problems use `loadManifest`. */
export async function fetchManifest(url: string = manifestUrl()): Promise<Manifest> {
  const { manifest, problems } = await loadManifest(url);
  for (const problem of problems) console.warn(problem);
  return manifest;
}

/**
 * What the inference worker needs about a model; its files are resolved next to the manifest. The
 * int8 file comes along when `weights` asks for it and the model has one (the worker runs it on WASM).
 */
export function toModelSpec(model: ModelEntry, weights: WasmWeights = 'float32', manifestHref: string = manifestUrl()): ModelSpec {
  const int8 = weights === 'int8' && model.int8 ? { url: new URL(model.int8.file, manifestHref).href, sha256: model.int8.sha256, bytes: model.int8.bytes } : undefined;
  return {
    id: model.id,
    url: new URL(model.file, manifestHref).href,
    sha256: model.sha256,
    bytes: model.bytes,
    ...(int8 ? { int8 } : {}),
    channels: model.channels,
    resolution: model.resolution,
    numClasses: model.num_classes,
    edm: model.edm,
    attention: (model.attention ?? []).map(({ output, layer, resolution, window, heads, windows, tokens }) => ({ output, layer, resolution, window, heads, windows, tokens })),
  };
}
