import { useCompareStore, type ShowMode } from '../store';

/** One slider for all panels: once the runs end, it shows the same step everywhere. */
export function CompareStepSlider() {
  const running = useCompareStore((s) => s.running);
  const recorded = useCompareStore((s) => Math.max(0, ...s.ids.map((id) => s.panels[id]?.trajectory?.recorded ?? 0)));
  const viewStep = useCompareStore((s) => s.viewStep);
  const show = useCompareStore((s) => s.show);
  const { setViewStep, setShow } = useCompareStore.getState();
  const last = recorded - 1;
  const value = viewStep === null ? last : Math.min(viewStep, last);
  const enabled = !running && recorded > 0;

  return (
    <section className="panel compare-slider">
      <div className="timeline-row">
        <label htmlFor="compare-step">Step</label>
        <input
          id="compare-step"
          data-testid="compare-step"
          type="range"
          min={0}
          max={Math.max(last, 0)}
          step={1}
          value={Math.max(value, 0)}
          disabled={!enabled}
          onChange={(e) => setViewStep(e.target.valueAsNumber === last ? null : e.target.valueAsNumber)}
        />
        <span className="timeline-label" data-testid="compare-step-label">
          {recorded === 0 ? 'no steps yet' : running ? `live (${recorded} steps so far)` : `step ${value + 1} of ${recorded}`}
        </span>
        <select data-testid="compare-show" aria-label="Show" value={show} onChange={(e) => setShow(e.target.value as ShowMode)}>
          <option value="x">sample x after the step</option>
          <option value="denoised">denoised prediction</option>
        </select>
      </div>
    </section>
  );
}
