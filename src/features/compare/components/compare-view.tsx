import { useEffect } from 'react';
import { studioLink } from '@/lib/compare-params';
import { useCompareStore } from '@/stores/compare-store';
import { installCompareTestHook } from '../compare-test-hook';
import { CompareControls } from './compare-controls';
import { ComparePanel } from './compare-panel';
import { CompareStepSlider } from './compare-step-slider';
import '../compare.css';

/** Two or three models of one data set side by side: same seed, class, guidance, steps and noise. */
export function CompareView() {
  const ids = useCompareStore((s) => s.ids);
  const params = useCompareStore((s) => s.params);
  const notices = useCompareStore((s) => s.notices);
  const manifestState = useCompareStore((s) => s.manifestState);
  const manifestError = useCompareStore((s) => s.manifestError);
  const dismiss = useCompareStore((s) => s.dismissNotice);

  useEffect(() => {
    installCompareTestHook();
    void useCompareStore.getState().init();
    return () => useCompareStore.getState().dispose();
  }, []);

  return (
    <div className="compare" data-testid="compare-view">
      <nav className="compare-nav">
        <a href={ids.length ? studioLink(ids, params) : '?'} data-testid="studio-link">
          ← Back to the studio
        </a>
      </nav>
      {notices.length > 0 && (
        <ul className="notices" aria-live="polite">
          {notices.map((n) => (
            <li key={n.id} className={`notice notice-${n.level}`} data-testid="notice" role="alert">
              <span>{n.text}</span>
              <button type="button" className="link" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {manifestState === 'error' && (
        <div className="error-banner" role="alert" data-testid="error">
          <strong>Something went wrong.</strong> {manifestError}
        </div>
      )}
      {manifestState === 'loading' && <section className="panel">Loading the model list…</section>}
      <CompareControls />
      <CompareStepSlider />
      <div className="compare-panels" style={{ gridTemplateColumns: `repeat(${Math.max(ids.length, 1)}, minmax(0, 1fr))` }}>
        {ids.map((id) => (
          <ComparePanel key={id} id={id} />
        ))}
      </div>
    </div>
  );
}
