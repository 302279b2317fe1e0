import { useStudioStore } from '@/stores/studio-store';

/** The last error (manifest, model load, or run), in words. */
export function ErrorBanner() {
  const error = useStudioStore((s) => s.error);
  if (!error) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error">
      <strong>Something went wrong.</strong> {error}
    </div>
  );
}
