import type { Backend, BackendRequest } from '@/inference/protocol';

/**
 * Which backend actually runs the model (and how many WASM threads), with why it is not WebGPU
 * as a quiet note when `auto` chose WASM: that is `auto` doing its job, not a fault.
 */
export function BackendBadge({ backend, threads, requested, note }: { backend: Backend | null; threads: number | null; requested: BackendRequest; note?: string | null }) {
  const label = backend === null ? '…' : backend === 'webgpu' ? 'WebGPU' : `WASM${threads ? ` · ${threads} thread${threads === 1 ? '' : 's'}` : ''}`;
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
