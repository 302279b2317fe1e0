import { useEffect, useState, type ReactNode } from 'react';
import { comparableModels, defaultComparison, writeCompareParams } from '@/lib/compare-params';
import { manifestUrl } from '@/lib/manifest';
import { clearModelCache, modelCacheSize } from '@/lib/model-cache';
import { costRows, formatCount } from '@/lib/model-cost';
import { selectedModel, useStudioStore } from '@/stores/studio-store';

/**
 * Chooses a model from the manifest and tells where it comes from. `controls` (the sampling form)
 * sits right under the model choice, above the details, so Generate stays in view.
 */
export function ModelPicker({ controls }: { controls?: ReactNode }) {
  const manifest = useStudioStore((s) => s.manifest);
  const manifestState = useStudioStore((s) => s.manifestState);
  const modelId = useStudioStore((s) => s.params.model);
  const model = useStudioStore(selectedModel);
  const load = useStudioStore((s) => s.load);
  const setParam = useStudioStore((s) => s.setParam);
  const running = useStudioStore((s) => s.status === 'running');
  const params = useStudioStore((s) => s.params);

  if (manifestState === 'loading') return <section className="panel">Loading the model list…{controls}</section>;
  if (!manifest) {
    return (
      <section className="panel" data-testid="model-picker">
        <p>No models available.</p>
        {controls}
      </section>
    );
  }

  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const loadText =
    load.state === 'loading'
      ? load.phase === 'downloading' && load.totalBytes
        ? `downloading ${mb(load.loadedBytes)} / ${mb(load.totalBytes)} MB (${Math.round((100 * load.loadedBytes) / load.totalBytes)} %)`
        : (load.phase ?? 'loading').replace('-', ' ')
      : load.state === 'ready'
        ? `ready${load.cached ? ', from the browser cache' : ''}${load.loadMs ? ` (${Math.round(load.loadMs)} ms)` : ''}`
        : load.state === 'error'
          ? 'failed to load'
          : '';

  return (
    <section className="panel" data-testid="model-picker">
      <label className="field stacked">
        <span>Model</span>
        <select data-testid="model" value={modelId} disabled={running} onChange={(e) => setParam('model', e.target.value)}>
          {manifest.models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {controls}
      {model && (
        <dl className="model-info" data-testid="model-info">
          {costRows(model).map((row) => (
            <div key={row.key} className="model-info-row" data-testid={`model-cost-${row.key}`} title={row.title}>
              <dt>{row.label}</dt>
              <dd>{row.value}</dd>
            </div>
          ))}
          <dt>Dataset</dt>
          <dd>{model.dataset}</dd>
          <dt>Variant</dt>
          <dd>{model.variant}</dd>
          <dt>Images</dt>
          <dd>
            {model.resolution}×{model.resolution}, {model.channels === 1 ? 'grey' : 'RGB'}
          </dd>
          <dt>Provenance</dt>
          <dd>
            {model.training?.images_seen ? `${formatCount(model.training.images_seen)} images seen` : 'untrained'}
            {model.training?.hardware ? ` on ${model.training.hardware}` : ''}
            {model.training?.wall_time_s ? `, ${Math.round(model.training.wall_time_s / 60)} min` : ''}
          </dd>
          {typeof model.parity?.denoised === 'number' && (
            <>
              <dt>ONNX parity</dt>
              <dd>
                max |Δ| {model.parity.denoised.toExponential(1)} vs PyTorch
                {model.weight_storage === 'float16' ? ' (weights stored as float16, computed in float32)' : ''}
              </dd>
            </>
          )}
          <dt>File</dt>
          <dd>
            {model.file} · {formatCount(model.bytes)}B · <span data-testid="model-load">{loadText}</span>
          </dd>
          {model.int8 && (
            <>
              <dt>Int8 file</dt>
              <dd data-testid="model-int8" title={model.int8.method}>
                {model.int8.file} · {formatCount(model.int8.bytes)}B · max |Δ| {model.int8.parity.denoised.toExponential(1)} vs the float file; WASM runs it when the weights are int8
              </dd>
            </>
          )}
          <dt>Cache</dt>
          <dd>
            <ModelCacheControl key={load.state === 'ready' ? load.key : 'loading'} />
          </dd>
        </dl>
      )}
      {model && comparableModels(manifest, model).length > 1 && (
        <p className="compare-link">
          <a href={writeCompareParams(defaultComparison(manifest, model), params)} data-testid="compare-link">
            Compare with the other {model.dataset} models →
          </a>
        </p>
      )}
      {model?.preview && (
        <details className="model-preview-details">
          <summary>Preview: one row of samples per class</summary>
          <img className="model-preview" src={new URL(model.preview, manifestUrl()).href} alt={`samples from ${model.label}`} />
        </details>
      )}
    </section>
  );
}

/** What the browser keeps of the model files (Cache Storage), and a way to forget it. */
function ModelCacheControl() {
  const [size, setSize] = useState<{ files: number; bytes: number } | null>(null);
  useEffect(() => {
    let live = true;
    modelCacheSize()
      .then((s) => live && setSize(s))
      .catch(() => live && setSize(null));
    return () => {
      live = false;
    };
  }, []);
  if (!size) return <span>not available here</span>;
  return (
    <span data-testid="model-cache">
      {size.files} file{size.files === 1 ? '' : 's'}, {formatCount(size.bytes)}B{' '}
      <button type="button" className="inline" data-testid="clear-cache" disabled={size.files === 0} onClick={() => void clearModelCache().then(() => setSize({ files: 0, bytes: 0 }))}>
        Clear
      </button>
    </span>
  );
}
