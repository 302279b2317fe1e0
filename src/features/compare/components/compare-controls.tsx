import { useRef } from 'react';
import { focusField, SamplingFields, useSamplingDrafts } from '@/components/sampling-fields';
import { comparableModels, COMPARE_LIMITS } from '@/lib/compare-params';
import { modelOf, useCompareStore } from '../store';

/** Which models (two or three of one data set), and the one set of parameters that drives them all. */
export function CompareControls() {
  const manifest = useCompareStore((s) => s.manifest);
  const ids = useCompareStore((s) => s.ids);
  const params = useCompareStore((s) => s.params);
  const running = useCompareStore((s) => s.running);
  const first = useCompareStore((s) => modelOf(s, s.ids[0] ?? ''));
  const { setParam, toggleModel, run, cancel } = useCompareStore.getState();
  const drafts = useSamplingDrafts(setParam);
  const form = useRef<HTMLFormElement>(null);
  if (!manifest || !first) return null;
  const candidates = comparableModels(manifest, first);

  return (
    <form
      ref={form}
      className="panel controls compare-controls"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const invalid = drafts.commitAll();
        if (invalid) focusField(form.current, invalid);
        else void run();
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
        <SamplingFields params={params} classes={first.classes} disabled={running} drafts={drafts} setParam={setParam} />
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
