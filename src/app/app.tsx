import { lazy, Suspense, useEffect } from 'react';
import { BackendBadge } from '@/components/backend-badge';
import { ErrorBanner } from '@/components/error-banner';
import { Notices } from '@/components/notices';
import { GenerateControls } from '@/features/generate/components/generate-controls';
import { ResultGrid } from '@/features/generate/components/result-grid';
import { RunProgress } from '@/features/generate/components/run-progress';
import { ModelPicker } from '@/features/models/components/model-picker';
import { isCompareUrl } from '@/lib/compare-params';
import { useStudioStore } from '@/stores/studio-store';
import { useTimelineStore } from '@/features/timeline/store';
import type { ImageFrame } from '@/lib/frames';

// The compare view (its store, workers and panels) loads only for `?compare=…`.
const CompareView = lazy(() => import('@/features/compare/components/compare-view').then((m) => ({ default: m.CompareView })));
// The trajectory and attention views appear after a run: they load with the first one.
const TimelinePanel = lazy(() => import('@/features/timeline/components/timeline-panel').then((m) => ({ default: m.TimelinePanel })));
const AttentionExplorer = lazy(() => import('@/features/timeline/components/attention-explorer').then((m) => ({ default: m.AttentionExplorer })));

/** `?compare=…` opens the compare view (its own store and workers); anything else, the studio. */
export function App() {
  if (isCompareUrl(location.search)) {
    return (
      <main className="app">
        <header className="app-header">
          <h1>DiffiT Studio · compare models</h1>
        </header>
        <Suspense fallback={<section className="panel">Loading the compare view…</section>}>
          <CompareView />
        </Suspense>
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
        <div>
          <h1>DiffiT Studio</h1>
          <p className="intro" data-testid="intro">
            DiffiT is a diffusion vision transformer whose self-attention depends on the noise level. It runs here, in your browser: watch noise
            become images step by step, scrub the trajectory, and see where each pixel attends.
          </p>
        </div>
        <StudioBackendBadge />
      </header>
      <StudioNotices />
      <div className="layout">
        <aside className="sidebar">
          <ModelPicker controls={<GenerateControls />} />
        </aside>
        <div className="content">
          <RunProgress />
          <StudioResults />
          <Suspense fallback={null}>
            <TimelinePanel />
            <AttentionExplorer />
          </Suspense>
        </div>
      </div>
    </main>
  );
}

function StudioBackendBadge() {
  const backend = useStudioStore((s) => s.backend);
  const threads = useStudioStore((s) => s.threads);
  const weights = useStudioStore((s) => s.weights);
  const requested = useStudioStore((s) => s.params.backend);
  const notice = useStudioStore((s) => s.backendNotice);
  return <BackendBadge backend={backend} threads={threads} weights={weights} requested={requested} note={requested === 'webgpu' ? null : notice} />;
}

function StudioNotices() {
  const notices = useStudioStore((s) => s.notices);
  const error = useStudioStore((s) => s.error);
  return (
    <>
      <Notices notices={notices} onDismiss={useStudioStore.getState().dismissNotice} />
      <ErrorBanner error={error} />
    </>
  );
}

/** While running, the studio's live frames; after a run, the timeline's step and view. */
function StudioResults() {
  const live = useStudioStore((s) => s.frames);
  const done = useStudioStore((s) => s.status === 'done');
  const running = useStudioStore((s) => s.status === 'running');
  const timeline = useTimelineStore((s) => s.frames);
  const zoomed = useTimelineStore((s) => s.zoomed);
  const frames: readonly ImageFrame[] = done && timeline.length === live.length && timeline.length > 0 ? timeline : live;
  return <ResultGrid frames={frames} selected={zoomed} onSelect={useTimelineStore.getState().zoom} running={running} />;
}
