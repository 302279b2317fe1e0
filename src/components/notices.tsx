import { useStudioStore } from '@/stores/studio-store';

/** Visible notices: bad URL parameters, backend fallbacks, cancellations. */
export function Notices() {
  const notices = useStudioStore((s) => s.notices);
  const dismiss = useStudioStore((s) => s.dismissNotice);
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-live="polite">
      {notices.map((n) => (
        <li key={n.id} className={`notice notice-${n.level}`} data-testid="notice" data-notice-id={n.id} role={n.level === 'info' ? 'status' : 'alert'}>
          <span>{n.text}</span>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
