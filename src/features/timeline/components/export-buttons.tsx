import { useState } from 'react';
import { useStudioStore } from '@/stores/studio-store';
import { useTimelineStore } from '@/features/timeline/store';
import { exportBaseName } from '../lib/export-name';

/** The encoders (and gifenc) load on the first export, not with the page. */
const encoders = () => import('../lib/export');
import { formatSigma } from './step-slider';

const SCALE = 4;

/** PNG of the enlarged final image, PNG grid of the batch, GIF of the enlarged image's trajectory. */
export function ExportButtons() {
  const info = useStudioStore((s) => s.trajectory);
  const done = useStudioStore((s) => s.status === 'done');
  const recorded = info?.recorded ?? 0;
  const zoomed = useTimelineStore((s) => s.zoomed);
  const view = useTimelineStore((s) => s.view);
  const fps = useTimelineStore((s) => s.fps);
  const [busy, setBusy] = useState(false);
  // The run's own settings name the files, so that different runs never overwrite one another.
  const base = info ? exportBaseName(info.model, info.params, recorded) : 'diffit';
  const disabled = !done || recorded === 0 || busy;

  /** The final image of each of the batch. */
  const finalFrames = () => useTimelineStore.getState().finalFrames();

  const run = async (work: (lib: Awaited<ReturnType<typeof encoders>>) => Promise<void>) => {
    setBusy(true);
    try {
      await work(await encoders());
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="buttons export-buttons">
      <button
        type="button"
        data-testid="export-png"
        disabled={disabled}
        onClick={() => run(async ({ download, pngBlob, upscale }) => download(await pngBlob(upscale(finalFrames()[zoomed], SCALE)), `${base}-image${zoomed + 1}.png`))}
      >
        PNG (image {zoomed + 1})
      </button>
      <button type="button" data-testid="export-grid" disabled={disabled} onClick={() => run(async ({ download, gridFrame, pngBlob, upscale }) => download(await pngBlob(upscale(gridFrame(finalFrames(), 4), SCALE)), `${base}-grid.png`))}>
        Grid PNG
      </button>
      <button
        type="button"
        data-testid="export-gif"
        disabled={disabled}
        title={`One frame per step of image ${zoomed + 1} in the current view, with the step and σ under each frame`}
        onClick={() =>
          run(async ({ captioned, download, encodeGif, upscale }) => {
            const { frames, sigmas } = useTimelineStore.getState().trajectoryFrames(zoomed, view);
            const gifFrames = frames.map((f, i) => captioned(upscale(f, SCALE), `step ${i + 1}/${frames.length} σ=${formatSigma(sigmas[i])}`));
            const bytes = encodeGif(gifFrames, Math.round(1000 / fps));
            const name = `${base}-image${zoomed + 1}-${view}-sigma${formatSigma(sigmas[0])}-to-${formatSigma(sigmas.at(-1)!)}.gif`;
            download(new Blob([bytes], { type: 'image/gif' }), name);
          })
        }
      >
        GIF (trajectory)
      </button>
    </div>
  );
}
