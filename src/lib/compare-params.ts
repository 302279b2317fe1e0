/**
 * The compare view's share link: `?compare=a,b,c` plus the usual `sampler`, `seed`, `steps`, `class`,
 * `guidance`, `guide`, `batch` and `backend` (read with `readUrlParams`, against the first model).
 * Two or three models of one data set; anything else gives a notice and a fallback.
 */
import type { Manifest, ModelEntry } from '@/types/manifest';
import { readUrlParams, writeUrlParams, type StudioParams } from './url-params';

export const COMPARE_LIMITS = { min: 2, max: 3 } as const;

export interface CompareReadResult {
  ids: string[];
  params: StudioParams;
  problems: string[];
}

/** Whether the query string asks for the compare view. */
export function isCompareUrl(search: string): boolean {
  return new URLSearchParams(search).has('compare');
}

/** Models that can be compared with `model`: the same data set, image size and classes. */
export function comparableModels(manifest: Manifest, model: ModelEntry): ModelEntry[] {
  return manifest.models.filter(
    (m) => m.dataset === model.dataset && m.resolution === model.resolution && m.channels === model.channels && m.num_classes === model.num_classes,
  );
}

/** The default comparison: the first models comparable with `first` (the manifest's first model). */
export function defaultComparison(manifest: Manifest, first: ModelEntry = manifest.models[0]): string[] {
  return comparableModels(manifest, first)
    .slice(0, COMPARE_LIMITS.max)
    .map((m) => m.id);
}

/** Reads `compare` and the run parameters; bad values become readable problems and fall back. */
export function readCompareParams(search: string, manifest: Manifest): CompareReadResult {
  const query = new URLSearchParams(search);
  const raw = query.get('compare') ?? '';
  const problems: string[] = query.getAll('compare').length > 1 ? [`The URL gives compare ${query.getAll('compare').length} times; using the first.`] : [];
  const known = new Map(manifest.models.map((m) => [m.id, m]));
  const ids: string[] = [];
  const unknown: string[] = [];
  for (const id of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!known.has(id)) unknown.push(id);
    else if (!ids.includes(id)) ids.push(id);
  }
  if (unknown.length) problems.push(`Ignored unknown model${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')} in compare (known models: ${manifest.models.map((m) => m.id).join(', ')}).`);
  let chosen = ids;
  if (chosen.length) {
    const first = known.get(chosen[0])!;
    const comparable = new Set(comparableModels(manifest, first).map((m) => m.id));
    const other = chosen.filter((id) => !comparable.has(id));
    if (other.length) problems.push(`Ignored ${other.join(', ')} in compare: only models of one data set (${first.dataset}) can be compared.`);
    chosen = chosen.filter((id) => comparable.has(id));
  }
  if (chosen.length > COMPARE_LIMITS.max) {
    problems.push(`compare takes at most ${COMPARE_LIMITS.max} models; comparing ${chosen.slice(0, COMPARE_LIMITS.max).join(', ')}.`);
    chosen = chosen.slice(0, COMPARE_LIMITS.max);
  }
  if (chosen.length < COMPARE_LIMITS.min) {
    const fallback = defaultComparison(manifest, known.get(chosen[0] ?? '') ?? manifest.models[0]);
    problems.push(`Ignored compare=${JSON.stringify(raw)} from the URL (two or three models of one data set, e.g. ${fallback.join(',')}); comparing ${fallback.join(', ')}.`);
    chosen = fallback;
  }
  query.delete('compare');
  query.set('model', chosen[0]);
  const read = readUrlParams(`?${query.toString()}`, manifest);
  return { ids: chosen, params: read.params, problems: [...problems, ...read.problems] };
}

/** The compare link: `?compare=a,b&sampler=…&seed=…&steps=…&class=…&guidance=…&guide=…&batch=…&backend=…`. */
export function writeCompareParams(ids: string[], params: StudioParams): string {
  const query = new URLSearchParams(writeUrlParams(params));
  query.delete('model');
  return `?compare=${ids.map(encodeURIComponent).join(',')}&${query.toString()}`;
}

/** The studio link for the same parameters (back from the compare view), on the first model. */
export function studioLink(ids: string[], params: StudioParams): string {
  return writeUrlParams({ ...params, model: ids[0] ?? params.model });
}
