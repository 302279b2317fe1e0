import { describe, expect, it } from 'vitest';
import type { Manifest, ModelEntry } from '@/types/manifest';
import { clampParam, DEFAULT_PARAMS, FIRST_VISIT, GUIDE_NAMES, LIMITS, parseClass, SAMPLER_NAMES, readStepParam, readUrlParams, roundGuidance, SAMPLER_CHOICES, withParam, withStepParam, writeUrlParams } from './url-params';

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
    expect(params).toEqual({ model: 'diffit-fmnist', sampler: 'heun', seed: 0, steps: 12, classLabel: null, guidance: 1.5, guide: 'every', batch: 4, backend: 'auto', weights: 'float32' });
  });

  it('reads every parameter', () => {
    const { params, problems } = readUrlParams('?model=other&seed=42&steps=7&class=2&guidance=2.5&guide=interval&batch=3&backend=wasm&weights=int8', manifest);
    expect(problems).toEqual([]);
    expect(params).toEqual({ model: 'other', sampler: 'heun', seed: 42, steps: 7, classLabel: 2, guidance: 2.5, guide: 'interval', batch: 3, backend: 'wasm', weights: 'int8' });
  });

  it('reads the WASM weights: float32 for a link without them (what it gave before int8 files), a bad value falls back with a notice', () => {
    expect(readUrlParams('?model=other', manifest).params.weights).toBe('float32');
    expect(FIRST_VISIT.weights).toBe('int8');
    const bad = readUrlParams('?weights=int4', manifest);
    expect(bad.params.weights).toBe('float32');
    expect(bad.problems).toEqual(['Ignored weights="int4" from the URL (int8, float32); using float32.']);
    expect(new URLSearchParams(writeUrlParams({ ...bad.params, weights: 'int8' })).get('weights')).toBe('int8');
  });

  it('reads the sampler; its steps default to the contract, a bad name falls back with a notice', () => {
    expect(readUrlParams('?sampler=dpmpp-2m', manifest).params).toMatchObject({ sampler: 'dpmpp-2m', steps: SAMPLER_CHOICES['dpmpp-2m'].default_steps });
    expect(readUrlParams('?sampler=dpmpp-2m&steps=6', manifest).params).toMatchObject({ sampler: 'dpmpp-2m', steps: 6 });
    const bad = readUrlParams('?sampler=euler', manifest);
    expect(bad.params).toMatchObject({ sampler: 'heun', steps: 12 });
    expect(bad.problems).toEqual(['Ignored sampler="euler" from the URL (heun, dpmpp-2m); using heun.']);
    // Switching sampler moves the steps with it only while they are the old sampler's default.
    const heun = { ...bad.params, steps: 18 };
    expect(withParam(heun, 'sampler', 'dpmpp-2m').steps).toBe(SAMPLER_CHOICES['dpmpp-2m'].default_steps);
    expect(withParam({ ...heun, steps: 7 }, 'sampler', 'dpmpp-2m').steps).toBe(7);
  });

  it('reports each bad value and falls back to its default', () => {
    const { params, problems } = readUrlParams('?model=nope&seed=-1&steps=abc&class=9&guidance=NaN&guide=sometimes&batch=0&backend=cuda', manifest);
    expect(params).toEqual(readUrlParams('', manifest).params);
    expect(problems).toHaveLength(8);
    expect(problems.join(' ')).toMatch(/guide="sometimes" from the URL \(interval, every\); using every/);
    expect(problems[0]).toMatch(/model="nope"/);
    expect(problems.join(' ')).toMatch(/steps="abc".*using 12/);
  });

  it('round-trips through writeUrlParams', () => {
    const { params } = readUrlParams('?model=other&seed=4294967295&steps=3&class=none&guidance=0.75&guide=interval&batch=16&backend=webgpu', manifest);
    expect(readUrlParams(writeUrlParams(params, '?keep=1'), manifest)).toEqual({ params, problems: [] });
    expect(writeUrlParams(params, '?keep=1')).toMatch(/^\?keep=1&model=other/);
  });

  it('reads a link without guide as guidance at every step, what it gave before guides existed', () => {
    expect(readUrlParams('?model=other&class=2&guidance=2', manifest).params.guide).toBe('every');
    expect(readUrlParams('?guide=interval', manifest).params.guide).toBe('interval');
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

describe('one rule for every parameter', () => {
  it('reports a parameter given twice and uses the first value', () => {
    const { params, problems } = readUrlParams('?seed=3&seed=4', null);
    expect(params.seed).toBe(3);
    expect(problems).toEqual(['The URL gives seed 2 times ("3", "4"); using the first.']);
  });

  it('rounds guidance to the contract decimals, in the URL and in the store alike', () => {
    expect(readUrlParams('?guidance=1.3', null).params.guidance).toBe(1.3);
    expect(readUrlParams('?guidance=1.23456', null).params.guidance).toBe(1.23);
    expect(roundGuidance(2.005)).toBe(Math.round(2.005 * 100) / 100);
    expect(clampParam('guidance', 99)).toBe(LIMITS.guidance.max);
    expect(clampParam('steps', 0)).toBe(LIMITS.steps.min);
    expect(clampParam('batch', Number.NaN)).toBe(DEFAULT_PARAMS.batch);
    expect(withParam(readUrlParams('', null).params, 'seed', 7.9).seed).toBe(7);
  });

  it('reads and writes the timeline step', () => {
    expect(readStepParam('?step=4')).toEqual({ step: 4, problem: null });
    expect(readStepParam('')).toEqual({ step: null, problem: null });
    expect(readStepParam('?step=0').problem).toMatch(/Ignored step="0"/);
    expect(withStepParam('?seed=2&step=1', 5)).toBe('?seed=2&step=5');
  });
});

describe('sampler names', () => {
  it('the contract names exactly the samplers the worker can run', async () => {
    const { SAMPLERS } = await import('@/sampling/samplers');
    expect([...SAMPLER_NAMES].sort()).toEqual(Object.keys(SAMPLERS).sort());
  });

  it("the first visit's sampler and guide are ones the app offers", () => {
    expect(SAMPLER_NAMES).toContain(FIRST_VISIT.sampler);
    expect(GUIDE_NAMES).toContain(FIRST_VISIT.guide);
  });
});
