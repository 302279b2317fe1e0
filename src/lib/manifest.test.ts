import { afterEach, describe, expect, it, vi } from 'vitest';
import conformance from '../../contracts/manifest.cases.json';
import schema from '../../contracts/manifest.schema.json';
import shipped from '../../public/models/manifest.json';
import { ManifestError, SCHEMA_KEYWORDS, loadManifest, parseManifest, toModelSpec } from './manifest';

type Path = (string | number)[];
interface Case { name: string; valid: boolean; mentions?: string; set?: [Path, unknown][]; delete?: Path[] }

const first = () => structuredClone(shipped.models[0]) as unknown as Record<string, unknown>;

function changed(entry: Record<string, unknown>, c: Case): Record<string, unknown> {
  const walk = (path: Path) => {
    let target = entry as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    return [target, path[path.length - 1]] as const;
  };
  for (const [path, value] of c.set ?? []) {
    const [target, key] = walk(path);
    target[key] = value;
  }
  for (const path of c.delete ?? []) {
    const [target, key] = walk(path);
    if (Array.isArray(target)) target.splice(key as number, 1);
    else delete target[key];
  }
  return entry;
}

describe('the manifest schema', () => {
  it('uses only keywords the validator checks', () => {
    const used = new Set<string>();
    const walk = (s: unknown, inDefinitions = false): void => {
      if (Array.isArray(s)) s.forEach((x) => walk(x));
      else if (typeof s === 'object' && s !== null) {
        for (const [k, v] of Object.entries(s)) {
          if (!inDefinitions) used.add(k);
          // Under properties and $defs the keys are names, not keywords; under const/enum they are values.
          if (k === 'const' || k === 'enum') continue;
          walk(v, !inDefinitions && (k === 'properties' || k === '$defs'));
        }
      }
    };
    walk(schema);
    expect([...used].filter((k) => !SCHEMA_KEYWORDS.has(k))).toEqual([]);
  });

  it('accepts the shipped manifest, every model of it', () => {
    const { manifest, problems } = parseManifest(shipped);
    expect(problems).toEqual([]);
    expect(manifest.models.map((m) => m.id)).toEqual(shipped.models.map((m) => m.id));
  });

  // The same cases run through training/diffit/manifest.py in training/tests/test_manifest.py.
  it.each((conformance.cases as Case[]).map((c) => [c.name, c] as const))('conformance: %s', (_, c) => {
    const entry = changed(first(), c);
    const other = { ...first(), id: 'other-model' };
    const { manifest, problems } = parseManifest({ version: 1, models: [entry, other] });
    if (c.valid) {
      expect(problems).toEqual([]);
      expect(manifest.models).toHaveLength(2);
    } else {
      expect(manifest.models.map((m) => m.id)).toEqual(['other-model']);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(c.mentions);
    }
  });
});

describe('parseManifest', () => {
  it('leaves out one bad entry, naming it, and keeps the others', () => {
    const bad = { ...first(), default_guidance: 25 };
    const { manifest, problems } = parseManifest({ version: 1, models: [bad, shipped.models[1]] });
    expect(manifest.models.map((m) => m.id)).toEqual([shipped.models[1].id]);
    expect(problems).toEqual([
      `The model "${shipped.models[0].id}" was left out: models[0].default_guidance must be in [0, 20] (contracts/sampling.json; got 25).`,
    ]);
  });

  it('leaves out a later duplicate id', () => {
    const { manifest, problems } = parseManifest({ version: 1, models: [first(), first()] });
    expect(manifest.models).toHaveLength(1);
    expect(problems[0]).toMatch(/models\[1\]\.id duplicates models\[0\]/);
  });

  it('names an entry without an id by its place', () => {
    const { problems } = parseManifest({ version: 1, models: [first(), 7] });
    expect(problems).toEqual(['The model models[1] was left out: models[1] must be object (got 7).']);
  });

  it.each([
    ['null', null, /the document must be object/],
    ['a list', [], /the document must be object/],
    ['version 2', { version: 2, models: [first()] }, /version must be 1/],
    ['no models', { version: 1 }, /models is missing/],
    ['models as an object', { version: 1, models: {} }, /models must be array/],
    ['an empty model list', { version: 1, models: [] }, /models must have at least 1/],
    ['a top-level field nobody owns', { version: 1, models: [first()], extra: 1 }, /extra is not a manifest field/],
    ['its only model bad', { version: 1, models: [{ ...first(), sha256: 'xyz' }] }, /no usable model.*sha256/],
    ['its only model with a string rho', { version: 1, models: [{ ...first(), edm: { ...(first().edm as object), rho: 'x' } }] }, /models\[0\]\.edm\.rho/],
  ])('refuses a document with %s', (_, raw, message) => {
    expect(() => parseManifest(raw)).toThrow(ManifestError);
    expect(() => parseManifest(raw)).toThrow(message);
  });
});

describe('loadManifest', () => {
  const url = 'http://localhost:4173/models/manifest.json';
  const serve = (body: string, init: ResponseInit) => vi.stubGlobal('fetch', vi.fn(async () => new Response(body, init)));
  afterEach(() => vi.unstubAllGlobals());

  it('returns the usable models and the problems', async () => {
    serve(JSON.stringify({ version: 1, models: [{ ...first(), default_steps: 0 }, shipped.models[1]] }), { headers: { 'content-type': 'application/json' } });
    const { manifest, problems } = await loadManifest(url);
    expect(manifest.models.map((m) => m.id)).toEqual([shipped.models[1].id]);
    expect(problems[0]).toContain('default_steps');
  });

  it('says "not found" when the server answers with its index page', async () => {
    serve('<!doctype html><html><body>app</body></html>', { status: 200, headers: { 'content-type': 'text/html' } });
    await expect(loadManifest(url)).rejects.toThrow(`The model manifest was not found at ${url} (the server answered with a web page).`);
    serve('\n<!doctype html>', { status: 200, headers: { 'content-type': 'application/octet-stream' } });
    await expect(loadManifest(url)).rejects.toThrow(/not found .*web page/);
  });

  it('says "not found" for a 404, and what failed otherwise', async () => {
    serve('', { status: 404 });
    await expect(loadManifest(url)).rejects.toThrow(`The model manifest was not found at ${url}.`);
    serve('', { status: 500 });
    await expect(loadManifest(url)).rejects.toThrow(/HTTP 500/);
    serve('{"version": 1, "models": [NaN]}', { headers: { 'content-type': 'application/json' } });
    await expect(loadManifest(url)).rejects.toThrow(/not valid JSON/);
  });
});

describe('toModelSpec', () => {
  it('resolves the file next to the manifest', () => {
    const m = parseManifest(shipped).manifest.models[0];
    const spec = toModelSpec(m, 'float32', 'http://localhost:4173/app/models/manifest.json');
    expect(spec.url).toBe(`http://localhost:4173/app/models/${m.file}`);
    expect(spec.numClasses).toBe(m.num_classes);
    expect(spec.attention).toHaveLength(m.attention!.length);
    expect(spec.int8).toBeUndefined();
  });

  it('carries the int8 file when int8 weights are asked for and the model has one', () => {
    const m = parseManifest(shipped).manifest.models[0];
    expect(m.int8).toBeDefined();
    const spec = toModelSpec(m, 'int8', 'http://localhost:4173/app/models/manifest.json');
    expect(spec.int8).toEqual({ url: `http://localhost:4173/app/models/${m.int8!.file}`, sha256: m.int8!.sha256, bytes: m.int8!.bytes });
    expect(spec.url).toBe(`http://localhost:4173/app/models/${m.file}`); // WebGPU still runs the float file
    const { int8: _, ...withoutInt8 } = m;
    expect(toModelSpec(withoutInt8, 'int8', 'http://localhost:4173/app/models/manifest.json').int8).toBeUndefined();
  });
});
