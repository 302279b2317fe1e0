import { FrameCanvas } from '@/components/frame-canvas';
import { accuracyAt, costRows, formatMs, formatPercent } from '@/lib/model-cost';
import { modelOf, panelFrames, panelStatus, referencePanelId, speedUp, useCompareStore } from '../store';

const statusText: Record<string, string> = { idle: 'Ready', queued: 'Waiting for the previous model', loading: 'Loading model', running: 'Running', done: 'Done', error: 'Failed' };

/** One model of the comparison: its progress and timings, its cost, and its images at the shared step. */
export function ComparePanel({ id }: { id: string }) {
  const panel = useCompareStore((s) => s.panels[id]);
  const model = useCompareStore((s) => modelOf(s, id));
  const viewStep = useCompareStore((s) => s.viewStep);
  const show = useCompareStore((s) => s.show);
  const speed = useCompareStore((s) => speedUp(s, id));
  const isReference = useCompareStore((s) => referencePanelId(s) === id);
  const guidance = useCompareStore((s) => s.params.guidance);
  const conditional = useCompareStore((s) => s.params.classLabel !== null);
  if (!panel || !model) return null;
  const shown = panelFrames(panel, viewStep, show);
  // Accuracy is measured on class-conditional samples; with class "none" guidance does nothing.
  const accuracy = conditional ? accuracyAt(model, guidance) : null;
  const status = panelStatus(panel);
  const phase = panel.load.phase;
  const label = status === 'running' && panel.step > 0 ? `Step ${panel.step} of ${panel.steps}` : status === 'loading' && phase ? `Loading model (${phase.replace('-', ' ')})` : statusText[status];

  return (
    <section className="panel compare-panel" data-testid="compare-panel" data-model={id} data-state={status}>
      <h2>{model.label}</h2>
      <div className={`status status-${status === 'done' ? 'done' : status === 'error' ? 'error' : 'idle'}`} data-testid="compare-status">
        {label}
      </div>
      <progress data-testid="compare-progress" max={Math.max(panel.steps, 1)} value={panel.step} />
      {panel.error && (
        <div className="error-banner" role="alert" data-testid="compare-error">
          {panel.error}
        </div>
      )}
      <dl className="model-info compare-timings">
        <dt>ms / step</dt>
        <dd data-testid="compare-ms-per-step">{formatMs(panel.msPerStep)}</dd>
        <dt>Load</dt>
        <dd data-testid="compare-load">{panel.load.loadMs === null ? '–' : `${formatMs(panel.load.loadMs)}${panel.backend ? ` · ${panel.backend.toUpperCase()}` : ''}`}</dd>
        <dt>Total</dt>
        <dd data-testid="compare-total">{status === 'done' ? `${(panel.elapsedMs / 1000).toFixed(2)} s` : '–'}</dd>
        <dt>Speed-up</dt>
        <dd data-testid="compare-speedup" title="ms/step of the full model ÷ ms/step of this one, measured in this run">
          {speed === null ? '–' : `${speed.toFixed(2)}×`}
          {isReference ? ' (reference)' : ''}
        </dd>
        {costRows(model).map((row) => (
          <div key={row.key} className="model-info-row" data-testid={`compare-cost-${row.key}`} title={row.title}>
            <dt>{row.label}</dt>
            <dd>{row.value}</dd>
          </div>
        ))}
        {accuracy !== null && (
          <>
            <dt>At w={guidance}</dt>
            <dd data-testid="compare-accuracy">{formatPercent(accuracy)} class accuracy</dd>
          </>
        )}
      </dl>
      <div className="compare-results" data-testid="compare-results" data-step={shown?.step ?? ''}>
        {shown?.frames.map((frame, i) => (
          <FrameCanvas key={i} frame={frame} className="result compare-result" data-testid="compare-result" data-index={i} data-step={shown.step} aria-label={`${model.label}, sample ${i + 1}, step ${shown.step + 1}`} />
        ))}
      </div>
    </section>
  );
}
