import type { Backend, BackendRequest } from '@/inference/protocol';

/** Which backend actually runs the model (and how many WASM threads). */
export function BackendBadge({ backend, threads, requested }: { backend: Backend | null; threads: number | null; requested: BackendRequest }) {
  const label = backend === null ? '…' : backend === 'webgpu' ? 'WebGPU' : `WASM${threads ? ` · ${threads} thread${threads === 1 ? '' : 's'}` : ''}`;
  return (
    <span className="badge" data-testid="backend" data-backend={backend ?? ''} title={`requested: ${requested}`}>
      Backend: {label}
    </span>
  );
}
