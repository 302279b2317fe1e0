import { useEffect } from 'react';
import { ErrorBanner } from '@/components/error-banner';
import { Notices } from '@/components/notices';
import { studioLink } from '@/lib/compare-params';
import { useCompareStore } from '../store';
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
      <Notices notices={notices} onDismiss={dismiss} />
      <ErrorBanner error={manifestState === 'error' ? manifestError : null} />
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
