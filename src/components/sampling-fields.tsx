import { LIMITS, type StudioParams } from '@/lib/url-params';

type NumericKey = 'seed' | 'steps' | 'guidance' | 'batch';
type SetParam = <K extends keyof StudioParams>(key: K, value: StudioParams[K]) => void;

const NUMBER_FIELDS: { key: NumericKey; label: string; step: number; title?: string }[] = [
  { key: 'seed', label: 'Seed', step: 1 },
  { key: 'steps', label: 'Steps', step: 1 },
  { key: 'guidance', label: 'Guidance', step: 0.25, title: 'classifier-free guidance scale w (used only when a class is chosen)' },
  { key: 'batch', label: 'Batch', step: 1 },
];

/**
 * The sampling parameters shared by the studio and the compare view: seed, steps, class (or none),
 * guidance and batch, bounded by the same LIMITS that the URL parser applies.
 */
export function SamplingFields({ params, classes, disabled, setParam }: {
  params: StudioParams;
  classes: readonly string[];
  disabled: boolean;
  setParam: SetParam;
}) {
  const field = ({ key, label, step, title }: (typeof NUMBER_FIELDS)[number]) => (
    <label className="field" key={key} title={title}>
      <span>{label}</span>
      <input
        data-testid={key}
        type="number"
        min={LIMITS[key].min}
        max={LIMITS[key].max}
        step={step}
        value={params[key]}
        disabled={disabled}
        onChange={(e) => setParam(key, e.target.valueAsNumber)}
      />
    </label>
  );
  return (
    <>
      {NUMBER_FIELDS.slice(0, 2).map(field)}
      <label className="field">
        <span>Class</span>
        <select
          data-testid="class"
          value={params.classLabel === null ? 'none' : String(params.classLabel)}
          disabled={disabled}
          onChange={(e) => setParam('classLabel', e.target.value === 'none' ? null : Number(e.target.value))}
        >
          <option value="none">none (unconditional)</option>
          {classes.map((name, i) => (
            <option key={name} value={i}>
              {i} · {name}
            </option>
          ))}
        </select>
      </label>
      {NUMBER_FIELDS.slice(2).map(field)}
    </>
  );
}
