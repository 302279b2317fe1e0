import { useStudioStore } from '@/stores/studio-store';

/** Which backend actually runs the model (and how many WASM threads). */
export function BackendBadge() {
  const backend = useStudioStore((s) => s.backend);
  const threads = useStudioStore((s) => s.threads);
  const requested = useStudioStore((s) => s.params.backend);
  const label = backend === null ? '…' : backend === 'webgpu' ? 'WebGPU' : `WASM${threads ? ` · ${threads} thread${threads === 1 ? '' : 's'}` : ''}`;
  return (
    <span className="badge" data-testid="backend" data-backend={backend ?? ''} title={`requested: ${requested}`}>
      Backend: {label}
    </span>
  );
}
