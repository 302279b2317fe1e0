/** An error (manifest, model load, or run), in words; nothing when there is none. */
export function ErrorBanner({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error">
      <strong>Something went wrong.</strong> {error}
    </div>
  );
}
