import { useEffect } from 'react';
import { BackendBadge } from '@/components/backend-badge';
import { ErrorBanner } from '@/components/error-banner';
import { Notices } from '@/components/notices';
import { CompareView } from '@/features/compare/components/compare-view';
import { GenerateControls } from '@/features/generate/components/generate-controls';
import { ResultGrid } from '@/features/generate/components/result-grid';
import { RunProgress } from '@/features/generate/components/run-progress';
import { ModelPicker } from '@/features/models/components/model-picker';
import { AttentionExplorer } from '@/features/timeline/components/attention-explorer';
import { TimelinePanel } from '@/features/timeline/components/timeline-panel';
import { isCompareUrl } from '@/lib/compare-params';
import { useStudioStore } from '@/stores/studio-store';
import { useTimelineStore } from '@/stores/timeline-store';

/** `?compare=…` opens the compare view (its own store and workers); anything else, the studio. */
export function App() {
  if (isCompareUrl(location.search)) {
    return (
      <main className="app">
        <header className="app-header">
          <h1>DiffiT Studio · compare models</h1>
        </header>
        <CompareView />
      </main>
    );
  }
  return <Studio />;
}

function Studio() {
  useEffect(() => {
    useTimelineStore.getState().init();
    void useStudioStore.getState().init();
  }, []);

  return (
    <main className="app">
      <header className="app-header">
        <h1>DiffiT Studio</h1>
        <BackendBadge />
      </header>
      <Notices />
      <ErrorBanner />
      <div className="layout">
        <aside className="sidebar">
          <ModelPicker controls={<GenerateControls />} />
        </aside>
        <div className="content">
          <RunProgress />
          <ResultGrid />
          <TimelinePanel />
          <AttentionExplorer />
        </div>
      </div>
    </main>
  );
}
