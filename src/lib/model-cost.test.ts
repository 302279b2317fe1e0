import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '@/types/manifest';
import { accuracyAt, accuracyText, costRows, fdText, formatCount, formatMs, macsOf, precisionRecallText } from './model-cost';

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

  it('states FD_clf with its floors, and precision / recall, per guidance scale', () => {
    const judged: ModelEntry = {
      ...base,
      evaluation: {
        fd_clf: { '2.0': 41.83, '1.0': 65.164 }, fd_samples: 1000, fd_clf_floor: 19.411, fd_floor_samples: 410,
        precision: { '1.0': 0.187, '2.0': 0.271 }, recall: { '1.0': 0.49, '2.0': null },
      },
    };
    expect(fdText(judged)).toBe('65.2 at w=1, 41.8 at w=2 (1000 samples; real-vs-real floor 19.4 at 410)');
    expect(precisionRecallText(judged)).toBe('0.19 / 0.49 at w=1');
    const withTrainFloor: ModelEntry = {
      ...base,
      evaluation: { fd_clf: { '1.0': 80 }, fd_samples: 5000, fd_clf_floor: 6.25, fd_floor_samples: 1000, fd_clf_floor_train: 1.04, fd_clf_floor_train_samples: 5000 },
    };
    expect(fdText(withTrainFloor)).toBe('80.0 at w=1 (5000 samples; real-vs-real floor 1.0 at 5000 (train vs train), 6.3 at 1000 (train vs test))');
    expect(fdText(base)).toBeNull();
    expect(fdText({ ...base, evaluation: { fd_clf: { '1.0': null } } })).toBeNull();
    expect(precisionRecallText(base)).toBeNull();
    const keys = costRows(judged).map((r) => r.key);
    expect(keys.slice(-2)).toEqual(['fd_clf', 'precision_recall']);
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
