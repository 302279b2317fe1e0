/**
 * What a model costs and how good it is, as plain numbers and short strings, read from its
 * manifest entry (the `benchmark` block is written by `npm run bench`). Shared by the model
 * picker and the compare panels.
 */
import type { ModelEntry, PerGuidance, TimingSummary } from '@/types/manifest';

/** 2361813 → "2.36 M", 9952320 → "9.95 M", 1234 → "1.2 k". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export const formatPercent = (v: number) => `${(100 * v).toFixed(1)} %`;

/** Milliseconds, to one decimal below 100 ms. */
export function formatMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}

/** Multiply-accumulates per forward at batch 1, when the model has been benchmarked. */
export function macsOf(model: ModelEntry): number | null {
  const macs = model.benchmark?.macs;
  return typeof macs === 'number' && Number.isFinite(macs) ? macs : null;
}

/** Classifier accuracy of samples at a guidance scale (or the single figure), if measured. */
export function accuracyAt(model: ModelEntry, guidance: number): number | null {
  const acc = model.evaluation?.classifier_accuracy;
  if (typeof acc === 'number') return acc;
  if (!acc) return null;
  const hit = Object.entries(acc).find(([w]) => Number(w) === guidance);
  return hit ? hit[1] : null;
}

/** "84.6 % at w=1, 97.6 % at w=2 (1000 samples)". */
export function accuracyText(model: ModelEntry): string | null {
  const acc = model.evaluation?.classifier_accuracy;
  if (acc === undefined) return null;
  const samples = model.evaluation?.samples ? ` (${model.evaluation.samples} samples)` : '';
  if (typeof acc === 'number') return `${formatPercent(acc)}${samples}`;
  const parts = Object.entries(acc).map(([w, v]) => `${formatPercent(v)} at w=${Number(w)}`);
  return parts.length ? `${parts.join(', ')}${samples}` : null;
}

/** The guidance scales a per-guidance metric was measured at, ascending, with their values. */
function byGuidance(values: PerGuidance | undefined): [number, number][] {
  if (!values) return [];
  return Object.entries(values)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]))
    .map(([w, v]): [number, number] => [Number(w), v])
    .sort((a, b) => a[0] - b[0]);
}

/** "65.2 at w=1, 41.8 at w=2 (1000 samples; real-vs-real floor 19.4 at 410)". Lower is better. */
export function fdText(model: ModelEntry): string | null {
  const e = model.evaluation;
  const parts = byGuidance(e?.fd_clf).map(([w, v]) => `${v.toFixed(1)} at w=${w}`);
  if (!e || !parts.length) return null;
  const floors: string[] = [];
  if (typeof e.fd_clf_floor_train === 'number' && e.fd_clf_floor_train_samples) {
    floors.push(`${e.fd_clf_floor_train.toFixed(1)} at ${e.fd_clf_floor_train_samples} (train vs train)`);
  }
  if (typeof e.fd_clf_floor === 'number') {
    floors.push(`${e.fd_clf_floor.toFixed(1)} at ${e.fd_floor_samples ?? '?'}${floors.length ? ' (train vs test)' : ''}`);
  }
  const samples = e.fd_samples ? `${e.fd_samples} samples` : '';
  const floor = floors.length ? `real-vs-real floor ${floors.join(', ')}` : '';
  const note = [samples, floor].filter(Boolean).join('; ');
  return `${parts.join(', ')}${note ? ` (${note})` : ''}`;
}

/** "0.27 / 0.46 at w=2" (precision / recall, k-NN in the classifier's features). */
export function precisionRecallText(model: ModelEntry): string | null {
  const recall = new Map(byGuidance(model.evaluation?.recall));
  const parts = byGuidance(model.evaluation?.precision)
    .filter(([w]) => recall.has(w))
    .map(([w, p]) => `${p.toFixed(2)} / ${recall.get(w)!.toFixed(2)} at w=${w}`);
  return parts.length ? parts.join(', ') : null;
}

export interface CostRow {
  key: 'parameters' | 'macs' | 'bytes' | 'wasm' | 'onnxruntime_cpu' | 'accuracy' | 'fd_clf' | 'precision_recall';
  label: string;
  value: string;
  title?: string;
}

const median = (t: TimingSummary | null | undefined) => (t ? t.median_ms : null);

/** The rows the picker and the compare panels show: params, MACs, bytes, measured ms, accuracy. */
export function costRows(model: ModelEntry): CostRow[] {
  const rows: CostRow[] = [
    { key: 'parameters', label: 'Parameters', value: formatCount(model.parameters) },
    { key: 'macs', label: 'MACs / forward', value: macsOf(model) === null ? 'not measured' : formatCount(macsOf(model)!), title: 'multiply-accumulates per forward at batch 1, counted from the ONNX graph' },
    { key: 'bytes', label: 'ONNX bytes', value: `${formatCount(model.bytes)}B`, title: `${model.bytes.toLocaleString('en')} bytes` },
  ];
  const b = model.benchmark;
  if (b) {
    const runs = `median of ${b.runs} runs, batch 1, on ${b.machine}`;
    const wasm = median(b.ms_per_forward.wasm);
    const ort = median(b.ms_per_forward.onnxruntime_cpu);
    if (wasm !== null) rows.push({ key: 'wasm', label: 'WASM, 1 thread', value: `${formatMs(wasm)} / forward`, title: `browser WASM, 1 thread, ${runs}` });
    if (ort !== null) rows.push({ key: 'onnxruntime_cpu', label: 'Native ORT', value: `${formatMs(ort)} / forward`, title: `onnxruntime CPU, 1 thread, ${runs}` });
  }
  const acc = accuracyText(model);
  if (acc) rows.push({ key: 'accuracy', label: 'Class accuracy', value: acc, title: 'share of class-conditional samples that the project classifier labels as the requested class' });
  const fd = fdText(model);
  if (fd) rows.push({ key: 'fd_clf', label: 'FD_clf', value: fd, title: 'Fréchet distance between generated and real training images in the project classifier\'s penultimate features; lower is better, and the real-vs-real floor is the best a perfect model could score at that sample count' });
  const pr = precisionRecallText(model);
  if (pr) rows.push({ key: 'precision_recall', label: 'Precision / recall', value: pr, title: 'k-NN precision (samples that look real) and recall (real images the samples cover), Kynkäänniemi et al. 2019, in the classifier\'s features' });
  return rows;
}
