import { BACKEND_REQUESTS, type BackendRequest } from '@/inference/protocol';
import { LIMITS } from '@/lib/url-params';
import { selectedModel, useStudioStore, type PreviewMode } from '@/stores/studio-store';

/** Seed, steps, class, guidance, batch, backend; Generate and Cancel. */
export function GenerateControls() {
  const params = useStudioStore((s) => s.params);
  const model = useStudioStore(selectedModel);
  const status = useStudioStore((s) => s.status);
  const preview = useStudioStore((s) => s.preview);
  const { setParam, setPreview, generate, cancel } = useStudioStore.getState();
  const running = status === 'running';
  const guidanceUsed = params.classLabel !== null;

  return (
    <form
      className="panel controls"
      onSubmit={(e) => {
        e.preventDefault();
        generate();
      }}
    >
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
        <select
          data-testid="class"
          value={params.classLabel === null ? 'none' : String(params.classLabel)}
          disabled={running}
          onChange={(e) => setParam('classLabel', e.target.value === 'none' ? null : Number(e.target.value))}
        >
          <option value="none">none (unconditional)</option>
          {model?.classes.map((name, i) => (
            <option key={name} value={i}>
              {i} · {name}
            </option>
          ))}
        </select>
      </label>
      <label className="field" title={guidanceUsed ? 'classifier-free guidance scale w' : 'guidance applies only when a class is chosen'}>
        <span>Guidance</span>
        <input data-testid="guidance" type="number" min={LIMITS.guidance.min} max={LIMITS.guidance.max} step={0.25} value={params.guidance} disabled={running} onChange={(e) => setParam('guidance', e.target.valueAsNumber)} />
      </label>
      <label className="field">
        <span>Batch</span>
        <input data-testid="batch" type="number" min={LIMITS.batch.min} max={LIMITS.batch.max} step={1} value={params.batch} disabled={running} onChange={(e) => setParam('batch', e.target.valueAsNumber)} />
      </label>
      <label className="field">
        <span>Backend</span>
        <select data-testid="backend-select" value={params.backend} disabled={running} onChange={(e) => setParam('backend', e.target.value as BackendRequest)}>
          {BACKEND_REQUESTS.map((b) => (
            <option key={b} value={b}>
              {b === 'auto' ? 'auto (WebGPU if a GPU, else WASM)' : b === 'webgpu' ? 'WebGPU' : 'WASM'}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Show while running</span>
        <select data-testid="preview" value={preview} onChange={(e) => setPreview(e.target.value as PreviewMode)}>
          <option value="x">current sample x</option>
          <option value="denoised">denoised prediction</option>
        </select>
      </label>
      <div className="buttons">
        <button type="submit" data-testid="generate" disabled={running || !model}>
          Generate
        </button>
        <button type="button" data-testid="cancel" disabled={!running} onClick={cancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
