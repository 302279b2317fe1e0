import { describe, expect, it } from 'vitest';
import type { Manifest, ModelEntry } from '@/types/manifest';
import { comparableModels, isCompareUrl, readCompareParams, studioLink, writeCompareParams } from './compare-params';

const model = (id: string, variant: string, dataset = 'fashion-mnist'): ModelEntry =>
  ({
    id, label: id, dataset, variant, classes: ['a', 'b', 'c'], num_classes: 3, resolution: 32, channels: 1,
    file: `${id}.onnx`, bytes: 1, sha256: 'a'.repeat(64), parameters: 1,
    edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 }, default_steps: 18, default_guidance: 2,
  }) as ModelEntry;

const manifest: Manifest = {
  version: 1,
  models: [model('diffit-fmnist', 'diffit'), model('dws-fmnist', 'dws'), model('diffip-fmnist', 'diffip'), model('diffit-cifar', 'diffit', 'cifar10'), model('x-fmnist', 'dws')],
};

describe('compare URL', () => {
  it('reads two or three models and the usual parameters', () => {
    expect(isCompareUrl('?compare=a')).toBe(true);
    expect(isCompareUrl('?model=a')).toBe(false);
    const r = readCompareParams('?compare=diffit-fmnist,dws-fmnist,diffip-fmnist&seed=3&steps=6&class=1&guidance=2.5&batch=2&backend=wasm', manifest);
    expect(r.problems).toEqual([]);
    expect(r.ids).toEqual(['diffit-fmnist', 'dws-fmnist', 'diffip-fmnist']);
    expect(r.params).toMatchObject({ model: 'diffit-fmnist', seed: 3, steps: 6, classLabel: 1, guidance: 2.5, batch: 2, backend: 'wasm' });
  });

  it('takes the first model defaults and reports bad run parameters', () => {
    const r = readCompareParams('?compare=dws-fmnist,diffit-fmnist&steps=lots&class=b', manifest);
    expect(r.ids).toEqual(['dws-fmnist', 'diffit-fmnist']);
    expect(r.params.steps).toBe(18);
    expect(r.params.classLabel).toBe(1);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toContain('steps="lots"');
  });

  it('drops unknown, duplicate and other-dataset models with a notice', () => {
    const r = readCompareParams('?compare=diffit-fmnist,nope,diffit-fmnist,diffit-cifar,dws-fmnist', manifest);
    expect(r.ids).toEqual(['diffit-fmnist', 'dws-fmnist']);
    expect(r.problems.join(' ')).toMatch(/unknown model "nope"/);
    expect(r.problems.join(' ')).toMatch(/diffit-cifar.*one data set/);
  });

  it('keeps at most three models, and falls back when fewer than two remain', () => {
    const many = readCompareParams('?compare=diffit-fmnist,dws-fmnist,diffip-fmnist,x-fmnist', manifest);
    expect(many.ids).toEqual(['diffit-fmnist', 'dws-fmnist', 'diffip-fmnist']);
    expect(many.problems.join(' ')).toMatch(/at most 3/);
    for (const bad of ['?compare=', '?compare=nope', '?compare=dws-fmnist', '?compare=,,,']) {
      const r = readCompareParams(bad, manifest);
      expect(r.ids).toHaveLength(3);
      expect(r.problems.some((p) => p.startsWith('Ignored compare='))).toBe(true);
    }
    expect(readCompareParams('?compare=diffit-cifar', manifest).ids).toEqual(['diffit-cifar']);
  });

  it('writes a link that reads back the same', () => {
    const r = readCompareParams('?compare=diffit-fmnist,diffip-fmnist&seed=7&steps=4&class=none&guidance=1&batch=1&backend=wasm', manifest);
    const link = writeCompareParams(r.ids, r.params);
    expect(link).toBe('?compare=diffit-fmnist,diffip-fmnist&sampler=heun&seed=7&steps=4&class=none&guidance=1&guide=every&batch=1&backend=wasm&weights=float32');
    expect(readCompareParams(link, manifest)).toEqual(r);
    expect(studioLink(r.ids, r.params)).toBe('?model=diffit-fmnist&sampler=heun&seed=7&steps=4&class=none&guidance=1&guide=every&batch=1&backend=wasm&weights=float32');
    expect(comparableModels(manifest, manifest.models[0]).map((m) => m.id)).toEqual(['diffit-fmnist', 'dws-fmnist', 'diffip-fmnist', 'x-fmnist']);
  });
});
