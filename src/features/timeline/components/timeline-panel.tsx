import { selectedModel, useStudioStore } from '@/stores/studio-store';
import { ExportButtons } from './export-buttons';
import { StepSlider } from './step-slider';
import { ZoomView } from './zoom-view';

/** Steps through the recorded trajectory: slider, views, the enlarged image, exports. */
export function TimelinePanel() {
  const hasRun = useStudioStore((s) => s.trajectory !== null);
  const tmsa = useStudioStore((s) => (selectedModel(s)?.attention?.length ?? 0) > 0);
  if (!hasRun) return null;
  return (
    <section className="panel timeline" aria-label="timeline">
      <h2>Trajectory</h2>
      <StepSlider />
      <ZoomView explore={tmsa} />
      <ExportButtons />
    </section>
  );
}
