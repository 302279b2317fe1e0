import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest, toModelSpec } from './manifest';

const entry = {
  id: 'diffit-fmnist',
  label: 'DiffiT · Fashion-MNIST',
  dataset: 'fashion-mnist',
  classes: ['a', 'b'],
  num_classes: 2,
  variant: 'diffit',
  resolution: 32,
  channels: 1,
  file: 'diffit-fmnist.onnx',
  bytes: 123,
  sha256: 'ab'.repeat(32),
  parameters: 456,
  edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 },
  default_steps: 18,
  default_guidance: 1.0,
};

describe('parseManifest', () => {
  it('accepts a valid manifest and keeps extra fields', () => {
    const m = parseManifest({ version: 1, models: [{ ...entry, preview: 'p.png' }] });
    expect(m.models[0].id).toBe('diffit-fmnist');
    expect(m.models[0].preview).toBe('p.png');
  });

  it.each([
    [null, /JSON object/],
    [{ version: 2, models: [entry] }, /version/],
    [{ version: 1, models: [] }, /models must be a non-empty list/],
    [{ version: 1, models: [{ ...entry, sha256: 'xyz' }] }, /sha256/],
    [{ version: 1, models: [{ ...entry, classes: ['a'] }] }, /classes/],
    [{ version: 1, models: [{ ...entry, resolution: 0 }] }, /resolution/],
    [{ version: 1, models: [{ ...entry, edm: { ...entry.edm, rho: 'x' } }] }, /edm\.rho/],
    [{ version: 1, models: [entry, entry] }, /duplicate/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseManifest(raw)).toThrow(ManifestError);
    expect(() => parseManifest(raw)).toThrow(message);
  });
});

describe('toModelSpec', () => {
  it('resolves the file next to the manifest', () => {
    const m = parseManifest({ version: 1, models: [entry] }).models[0];
    const spec = toModelSpec(m, 'http://localhost:4173/app/models/manifest.json');
    expect(spec.url).toBe('http://localhost:4173/app/models/diffit-fmnist.onnx');
    expect(spec.numClasses).toBe(2);
  });
});
