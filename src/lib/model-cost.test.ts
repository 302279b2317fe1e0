import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '@/types/manifest';
import { accuracyAt, accuracyText, costRows, formatCount, formatMs, macsOf } from './model-cost';

const base = {
  id: 'm', label: 'M', dataset: 'd', classes: [], num_classes: 0, variant: 'diffit', resolution: 32, channels: 1,
  file: 'm.onnx', bytes: 9_952_320, sha256: 'a'.repeat(64), parameters: 2_361_813,
  edm: { sigma_min: 0.002, sigma_max: 80, rho: 7, sigma_data: 0.5 }, default_steps: 18, default_guidance: 2,
} as ModelEntry;

const benchmarked: ModelEntry = {
  ...base,
  evaluation: { classifier_accuracy: { '1.0': 0.846, '2.0': 0.976 }, samples: 1000 },
  benchmark: {
    machine: 'AMD EPYC', batch: 1, runs: 30, macs: 510_300_000,
    ms_per_forward: { wasm: { median_ms: 21.34, q25_ms: 21, q75_ms: 22 }, onnxruntime_cpu: { median_ms: 6.3, q25_ms: 6.2, q75_ms: 6.4 } },
  },
};

describe('model cost', () => {
  it('formats counts, bytes and times', () => {
    expect(formatCount(2_361_813)).toBe('2.36 M');
    expect(formatCount(1234)).toBe('1.2 k');
    expect(formatCount(12)).toBe('12');
    expect(formatCount(1.5e9)).toBe('1.50 G');
    expect(formatMs(21.34)).toBe('21.3 ms');
    expect(formatMs(150.4)).toBe('150 ms');
    expect(formatMs(null)).toBe('–');
  });

  it('reads MACs and accuracy from the manifest entry', () => {
    expect(macsOf(base)).toBeNull();
    expect(macsOf(benchmarked)).toBe(510_300_000);
    expect(accuracyAt(benchmarked, 2)).toBe(0.976);
    expect(accuracyAt(benchmarked, 3)).toBeNull();
    expect(accuracyAt({ ...base, evaluation: { classifier_accuracy: 0.5 } }, 7)).toBe(0.5);
    expect(accuracyText(benchmarked)).toBe('84.6 % at w=1, 97.6 % at w=2 (1000 samples)');
  });

  it('lists parameters, MACs, bytes, measured times and accuracy', () => {
    const rows = Object.fromEntries(costRows(benchmarked).map((r) => [r.key, r.value]));
    expect(rows).toEqual({
      parameters: '2.36 M', macs: '510.30 M', bytes: '9.95 MB', wasm: '21.3 ms / forward', onnxruntime_cpu: '6.3 ms / forward',
      accuracy: '84.6 % at w=1, 97.6 % at w=2 (1000 samples)',
    });
    expect(costRows(base).map((r) => [r.key, r.value])).toEqual([['parameters', '2.36 M'], ['macs', 'not measured'], ['bytes', '9.95 MB']]);
  });
});
