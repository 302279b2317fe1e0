import { useRef } from 'react';
import { focusField, SamplingFields, useSamplingDrafts } from '@/components/sampling-fields';
import { BACKEND_REQUESTS, type BackendRequest, type WasmWeights } from '@/inference/protocol';
import { WASM_WEIGHTS, WEIGHT_CHOICES } from '@/lib/url-params';
import { selectedModel, useStudioStore, type PreviewMode } from '@/stores/studio-store';

/** Seed, steps, class, guidance, batch, backend, WASM weights; Generate and Cancel. */
export function GenerateControls() {
  const params = useStudioStore((s) => s.params);
  const model = useStudioStore(selectedModel);
  const status = useStudioStore((s) => s.status);
  const preview = useStudioStore((s) => s.preview);
  const { setParam, setPreview, generate, cancel } = useStudioStore.getState();
  const running = status === 'running';
  const drafts = useSamplingDrafts(setParam);
  const form = useRef<HTMLFormElement>(null);

  return (
    <form
      ref={form}
      className="panel controls"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const invalid = drafts.commitAll();
        if (invalid) focusField(form.current, invalid);
        else generate();
      }}
    >
      <SamplingFields params={params} classes={model?.classes ?? []} disabled={running} drafts={drafts} setParam={setParam} />
      <label className="field" title="auto: WebGPU on a hardware GPU, else WASM">
        <span>Backend</span>
        <select data-testid="backend-select" value={params.backend} disabled={running} onChange={(e) => setParam('backend', e.target.value as BackendRequest)}>
          {BACKEND_REQUESTS.map((b) => (
            <option key={b} value={b}>
              {b === 'auto' ? 'auto' : b === 'webgpu' ? 'WebGPU' : 'WASM'}
            </option>
          ))}
        </select>
      </label>
      <label className="field" title={model?.int8 ? 'The weights WASM runs: int8 is faster on CPUs and approximate; WebGPU always runs float32' : 'This model has no int8 file: WASM runs float32'}>
        <span>WASM weights</span>
        <select data-testid="weights-select" value={params.weights} disabled={running} onChange={(e) => setParam('weights', e.target.value as WasmWeights)}>
          {WASM_WEIGHTS.map((w) => (
            <option key={w} value={w}>
              {WEIGHT_CHOICES[w]}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Live view</span>
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
