import { describe, expect, it } from 'vitest';
import type { Manifest, ModelEntry } from '@/types/manifest';
import { parseClass, readUrlParams, writeUrlParams } from './url-params';

const model: ModelEntry = {
  id: 'diffit-fmnist',
  label: 'DiffiT',
  dataset: 'fashion-mnist',
  classes: ['T-shirt/top', 'Trouser', 'Pullover'],
  num_classes: 3,
  variant: 'diffit',
  resolution: 32,
  channels: 1,
  file: 'm.onnx',
  bytes: 1,
  sha256: 'a'.repeat(64),
  parameters: 1,
  edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 },
  default_steps: 12,
  default_guidance: 1.5,
};
const manifest: Manifest = { version: 1, models: [model, { ...model, id: 'other', default_steps: 30 }] };

describe('readUrlParams', () => {
  it('uses the first model and its defaults for an empty URL', () => {
    const { params, problems } = readUrlParams('', manifest);
    expect(problems).toEqual([]);
    expect(params).toEqual({ model: 'diffit-fmnist', seed: 0, steps: 12, classLabel: null, guidance: 1.5, batch: 4, backend: 'auto' });
  });

  it('reads every parameter', () => {
    const { params, problems } = readUrlParams('?model=other&seed=42&steps=7&class=2&guidance=2.5&batch=3&backend=wasm', manifest);
    expect(problems).toEqual([]);
    expect(params).toEqual({ model: 'other', seed: 42, steps: 7, classLabel: 2, guidance: 2.5, batch: 3, backend: 'wasm' });
  });

  it('reports each bad value and falls back to its default', () => {
    const { params, problems } = readUrlParams('?model=nope&seed=-1&steps=abc&class=9&guidance=NaN&batch=0&backend=cuda', manifest);
    expect(params).toEqual(readUrlParams('', manifest).params);
    expect(problems).toHaveLength(7);
    expect(problems[0]).toMatch(/model="nope"/);
    expect(problems.join(' ')).toMatch(/steps="abc".*using 12/);
  });

  it('round-trips through writeUrlParams', () => {
    const { params } = readUrlParams('?model=other&seed=4294967295&steps=3&class=none&guidance=0.75&batch=16&backend=webgpu', manifest);
    expect(readUrlParams(writeUrlParams(params, '?keep=1'), manifest)).toEqual({ params, problems: [] });
    expect(writeUrlParams(params, '?keep=1')).toMatch(/^\?keep=1&model=other/);
  });
});

describe('parseClass', () => {
  it('takes none, indices and names', () => {
    expect(parseClass('none', model)).toBeNull();
    expect(parseClass('1', model)).toBe(1);
    expect(parseClass('pullover', model)).toBe(2);
    expect(parseClass('3', model)).toBeUndefined();
    expect(parseClass('shoe', model)).toBeUndefined();
  });
});
