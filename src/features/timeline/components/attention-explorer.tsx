import { selectedModel, useStudioStore } from '@/stores/studio-store';
import { useTimelineStore } from '@/features/timeline/store';
import { AttentionChart } from './attention-chart';
import { AttentionStrip } from './attention-strip';

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/**
 * TMSA attention of the enlarged image at the shown step: layer and head (or their mean),
 * the query's heatmap (drawn over the enlarged image by `ZoomView`), the same query through
 * time, and per-layer entropy and distance along the trajectory.
 */
export function AttentionExplorer() {
  const model = useStudioStore(selectedModel);
  const info = useStudioStore((s) => s.trajectory);
  const running = useStudioStore((s) => s.status === 'running');
  const recordAttention = useStudioStore((s) => s.recordAttention);
  const layer = useTimelineStore((s) => s.layer);
  const head = useTimelineStore((s) => s.head);
  const zoomed = useTimelineStore((s) => s.zoomed);
  const selected = useTimelineStore((s) => s.selected);
  const chart = useTimelineStore((s) => s.chart);
  const sigmas = useTimelineStore((s) => s.sigmas);
  const bytes = useTimelineStore((s) => s.bytes);
  const { setLayer, setHead } = useTimelineStore.getState();
  const { setRecordAttention, generate } = useStudioStore.getState();
  const layers = model?.attention ?? [];

  if (!model) return null;
  if (layers.length === 0) {
    const pooling = model.token_mixer === 'pooling' || model.variant.includes('diffip');
    return (
      <section className="panel explorer" data-testid="attention-explorer">
        <h2>Attention</h2>
        <p data-testid="attention-none">
          {pooling
            ? `${model.label} mixes tokens by pooling (DiffiP), not by attention: it has no attention weights to show.`
            : `${model.label} exports no attention outputs: there is no attention to show.`}
        </p>
      </section>
    );
  }
  const current = layers[Math.min(layer, layers.length - 1)];
  const recordedFor = info?.attentionImage ?? null;
  return (
    <section className="panel explorer" data-testid="attention-explorer">
      <h2>TMSA attention</h2>
      <div className="explorer-controls">
        <label>
          Layer{' '}
          <select data-testid="attention-layer" value={layer} onChange={(e) => setLayer(Number(e.target.value))}>
            {layers.map((l, i) => (
              <option key={l.output} value={i}>
                {l.layer} · {l.resolution}×{l.resolution}, {l.windows > 1 ? `${l.window}×${l.window} windows (${l.windows})` : 'global (one window)'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Head{' '}
          <select data-testid="attention-head" value={head === null ? 'mean' : String(head)} onChange={(e) => setHead(e.target.value === 'mean' ? null : Number(e.target.value))}>
            <option value="mean">mean of {current.heads} heads</option>
            {Array.from({ length: current.heads }, (_, h) => (
              <option key={h} value={h}>
                head {h + 1}
              </option>
            ))}
          </select>
        </label>
        <label title="Fetching the attention outputs costs time and memory; off, runs fetch only the denoised image.">
          <input type="checkbox" data-testid="attention-record" checked={recordAttention} disabled={running} onChange={(e) => setRecordAttention(e.target.checked)} /> record attention
        </label>
      </div>
      {info && !running && recordedFor === null && <p className="help">This run did not record attention. Tick “record attention” and generate again.</p>}
      {info && !running && recordedFor !== null && recordedFor !== zoomed && (
        <p className="help" data-testid="attention-other-image">
          Attention was recorded for image {recordedFor + 1} only (to keep memory small).{' '}
          <button type="button" className="inline" onClick={generate}>
            Generate again recording image {zoomed + 1}
          </button>
        </p>
      )}
      <p className="help">
        Hover over the enlarged image, or click to pin a pixel: its token is the query. A layer at resolution r maps pixel (y, x) to token (⌊y·r/32⌋, ⌊x·r/32⌋); the heatmap shows that query’s weights over the keys of its window (outlined), scaled to the row’s largest weight.
      </p>
      <h3>Through time</h3>
      <AttentionStrip sigmas={sigmas} />
      <h3>Along the trajectory</h3>
      {chart.length > 0 ? (
        <AttentionChart entropy={chart.map((c) => ({ layer: c.layer, values: c.entropy }))} distance={chart.map((c) => ({ layer: c.layer, values: c.distance }))} selected={selected} />
      ) : (
        <p className="help">Generate to chart entropy and distance per layer.</p>
      )}
      <p className="help">
        Averaged over the batch’s queries, heads and windows, as in <code>training/diffit/attention_stats.py</code>: entropy of each row in nats (a uniform 64-token row has ln 64 ≈ 4.16), distance Σ a·‖q − k‖ in input pixels.
      </p>
      {bytes && (
        <p className="help" data-testid="trajectory-bytes" data-total={bytes.total}>
          Recorded: states {mb(bytes.states)}, attention {mb(bytes.attention)} (uint8 per row, one image), summary {bytes.summary} B.
        </p>
      )}
    </section>
  );
}
