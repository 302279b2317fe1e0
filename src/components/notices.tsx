/** A notice: a bad URL parameter, a backend fallback, a cancelled run. */
export interface Notice {
  id: string;
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** Visible notices, each with a dismiss button. */
export function Notices({ notices, onDismiss }: { notices: readonly Notice[]; onDismiss: (id: string) => void }) {
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-live="polite">
      {notices.map((n) => (
        <li key={n.id} className={`notice notice-${n.level}`} data-testid="notice" data-notice-id={n.id} role={n.level === 'info' ? 'status' : 'alert'}>
          <span>{n.text}</span>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => onDismiss(n.id)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
