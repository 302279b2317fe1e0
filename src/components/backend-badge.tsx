import type { Backend, BackendRequest, WasmWeights } from '@/inference/protocol';

/**
 * Which backend actually runs the model (and how many WASM threads, and int8 weights when they run),
 * with why it is not WebGPU as a quiet note when `auto` chose WASM: that is `auto` doing its job, not a fault.
 */
export function BackendBadge({ backend, threads, weights = null, requested, note }: { backend: Backend | null; threads: number | null; weights?: WasmWeights | null; requested: BackendRequest; note?: string | null }) {
  const wasm = `WASM${threads ? ` · ${threads} thread${threads === 1 ? '' : 's'}` : ''}${weights === 'int8' ? ' · int8' : ''}`;
  const label = backend === null ? '…' : backend === 'webgpu' ? 'WebGPU' : wasm;
  return (
    <div className="backend">
      <span className="badge" data-testid="backend" data-backend={backend ?? ''} title={`requested: ${requested}${note ? `. ${note}` : ''}`}>
        Backend: {label}
      </span>
      {note && (
        <small className="backend-note" data-testid="backend-note">
          {note}
        </small>
      )}
    </div>
  );
}
