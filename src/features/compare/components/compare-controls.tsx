import { comparableModels, COMPARE_LIMITS } from '@/lib/compare-params';
import { LIMITS } from '@/lib/url-params';
import { modelOf, useCompareStore } from '@/stores/compare-store';

/** Which models (two or three of one data set), and the one set of parameters that drives them all. */
export function CompareControls() {
  const manifest = useCompareStore((s) => s.manifest);
  const ids = useCompareStore((s) => s.ids);
  const params = useCompareStore((s) => s.params);
  const running = useCompareStore((s) => s.running);
  const first = useCompareStore((s) => modelOf(s, s.ids[0] ?? ''));
  const { setParam, toggleModel, run, cancel } = useCompareStore.getState();
  if (!manifest || !first) return null;
  const candidates = comparableModels(manifest, first);

  return (
    <form
      className="panel controls compare-controls"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <fieldset className="compare-models" data-testid="compare-models" disabled={running}>
        <legend>
          Models ({COMPARE_LIMITS.min} or {COMPARE_LIMITS.max}, {first.dataset})
        </legend>
        {candidates.map((m) => {
          const checked = ids.includes(m.id);
          const locked = (checked && ids.length <= COMPARE_LIMITS.min) || (!checked && ids.length >= COMPARE_LIMITS.max);
          return (
            <label key={m.id} className="compare-model">
              <input type="checkbox" data-testid={`compare-model-${m.id}`} checked={checked} disabled={locked} onChange={() => toggleModel(m.id)} />
              {m.label}
            </label>
          );
        })}
      </fieldset>
      <div className="compare-fields">
        <label className="field">
          <span>Seed</span>
          <input data-testid="seed" type="number" min={LIMITS.seed.min} max={LIMITS.seed.max} step={1} value={params.seed} disabled={running} onChange={(e) => setParam('seed', e.target.valueAsNumber)} />
        </label>
        <label className="field">
          <span>Steps</span>
          <input data-testid="steps" type="number" min={LIMITS.steps.min} max={LIMITS.steps.max} step={1} value={params.steps} disabled={running} onChange={(e) => setParam('steps', e.target.valueAsNumber)} />
        </label>
        <label className="field">
          <span>Class</span>
          <select data-testid="class" value={params.classLabel === null ? 'none' : String(params.classLabel)} disabled={running} onChange={(e) => setParam('classLabel', e.target.value === 'none' ? null : Number(e.target.value))}>
            <option value="none">none (unconditional)</option>
            {first.classes.map((name, i) => (
              <option key={name} value={i}>
                {i} · {name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Guidance</span>
          <input data-testid="guidance" type="number" min={LIMITS.guidance.min} max={LIMITS.guidance.max} step={0.25} value={params.guidance} disabled={running} onChange={(e) => setParam('guidance', e.target.valueAsNumber)} />
        </label>
        <label className="field">
          <span>Batch</span>
          <input data-testid="batch" type="number" min={LIMITS.batch.min} max={LIMITS.batch.max} step={1} value={params.batch} disabled={running} onChange={(e) => setParam('batch', e.target.valueAsNumber)} />
        </label>
      </div>
      <div className="buttons">
        <button type="submit" data-testid="compare-run" disabled={running}>
          Compare
        </button>
        <button type="button" data-testid="compare-cancel" disabled={!running} onClick={cancel}>
          Cancel
        </button>
      </div>
      <p className="help">The models run one after the other on the same noise (same seed), so the panels differ only by the network.</p>
    </form>
  );
}
