/**
 * The timeline and attention explorer: which recorded step is shown, in which view, which image
 * is enlarged, and the attention query (layer, head, pixel). It reads the trajectory that the
 * studio store records and hands components RGBA frames and plain numbers, never tensors.
 * The chosen step is part of the URL (`step=`, 1-based), written when the user picks a step and
 * restored after a run; a `step` past the run's last step shows the last step, with a notice.
 */
import { create } from 'zustand';
import { frameOf, type ImageFrame } from '@/lib/frames';
import type { TimelineView, TrajectoryBytes } from '@/lib/trajectory';
import { readStepParam, withStepParam } from '@/lib/url-params';
import { currentTrajectory, useStudioStore } from '@/stores/studio-store';

export interface AttentionOverlay {
  /** Heatmap RGBA over the whole image (transparent outside the query's window). */
  frame: ImageFrame;
  /** The query's window, in input pixels; null for a global layer (one window). */
  rect: { y: number; x: number; size: number } | null;
  /** The query token and its window, for the caption. */
  token: { ty: number; tx: number; window: number; token: number };
  max: number;
}

export interface TimelineState {
  /** 0-based index of the shown step. */
  selected: number;
  view: TimelineView;
  /** The enlarged image of the batch. */
  zoomed: number;
  layer: number;
  /** null = mean of the heads. */
  head: number | null;
  /** The query pixel (input pixels), or null. */
  query: { y: number; x: number } | null;
  /** A clicked query stays put while the pointer moves. */
  pinned: boolean;
  playing: boolean;
  fps: number;
  /** `step=` from the URL, waiting for a run to apply to (1-based). */
  urlStep: number | null;
  /** Noise level of x after the shown step. */
  sigma: number;
  /** The batch at the shown step and view. */
  frames: ImageFrame[];
  /** Attention of the query at the shown step, one overlay per step for the strip. */
  overlay: AttentionOverlay | null;
  strip: (ImageFrame | null)[];
  /** sigma after every recorded step. */
  sigmas: number[];
  /** Per layer, entropy (nats) and mean attention distance (input px) against the step. */
  chart: { layer: string; entropy: number[]; distance: number[] }[];
  /** What the recording holds, in bytes. */
  bytes: TrajectoryBytes | null;

  init: (search?: string) => void;
  setStep: (index: number) => void;
  setView: (view: TimelineView) => void;
  zoom: (image: number) => void;
  setLayer: (layer: number) => void;
  setHead: (head: number | null) => void;
  hover: (y: number, x: number) => void;
  pick: (y: number, x: number) => void;
  /** Moves the query pixel by (dy, dx) within the image, pinned; with no query yet, puts it at the centre. */
  moveQuery: (dy: number, dx: number, size: number) => void;
  setPlaying: (on: boolean) => void;
  setFps: (fps: number) => void;
  /** Advances one step while playing (wraps around to the first). */
  tick: () => void;
  /** RGBA of one image at every recorded step in a view (for the GIF), with the sigmas. */
  trajectoryFrames: (image: number, view: TimelineView) => { frames: ImageFrame[]; sigmas: number[] };
  /** RGBA of every image of the batch after the last recorded step. */
  finalFrames: () => ImageFrame[];
}

export const FPS_CHOICES = [1, 2, 4, 8, 12] as const;

/** Heat colour ramp (black → purple → orange → yellow) for a weight in [0, 1]. */
const RAMP: [number, number, number][] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

export function heatColor(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t));
  const f = t - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] + f * (RAMP[i + 1][c] - RAMP[i][c]))) as [number, number, number];
}

/** RGBA of weights (NaN = outside the window, transparent), normalised by their maximum. */
export function heatmapFrame(pixels: Float32Array, size: number, max: number, alpha: number): ImageFrame {
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let p = 0; p < pixels.length; p++) {
    if (Number.isNaN(pixels[p])) continue;
    const [r, g, b] = heatColor(max > 0 ? pixels[p] / max : 0);
    rgba[4 * p] = r;
    rgba[4 * p + 1] = g;
    rgba[4 * p + 2] = b;
    rgba[4 * p + 3] = alpha;
  }
  return { width: size, height: size, rgba };
}

export const useTimelineStore = create<TimelineState>()((set, get) => {
  /** Recomputes the frames, the overlay and the strip from the trajectory. */
  const refresh = () => {
    const t = currentTrajectory();
    const s = get();
    if (!t || t.recorded === 0) {
      set({ frames: [], overlay: null, strip: [], sigmas: [], chart: [], bytes: t ? t.bytes() : null });
      return;
    }
    const selected = Math.min(s.selected, t.recorded - 1);
    const frames = t.frames(selected, s.view);
    let overlay: AttentionOverlay | null = null;
    let strip: (ImageFrame | null)[] = [];
    if (s.query && t.hasAttention() && t.attentionImage === s.zoomed) {
      const layer = Math.min(s.layer, t.layers.length - 1);
      const q = t.queryAttention(selected, layer, s.head, s.query.y, s.query.x);
      if (q) {
        overlay = {
          frame: heatmapFrame(q.pixels, t.imageSize, q.max, 170),
          rect: t.layers[layer].windows > 1 ? q.rect : null,
          token: { ty: q.address.ty, tx: q.address.tx, window: q.address.window, token: q.address.token },
          max: q.max,
        };
      }
      strip = t.steps.map((_, i) => {
        const a = t.queryAttention(i, layer, s.head, s.query!.y, s.query!.x);
        return a ? heatmapFrame(a.pixels, t.imageSize, a.max, 255) : null;
      });
    }
    set({ selected, frames, overlay, strip, sigma: t.steps[selected].sigma, sigmas: t.sigmas(), chart: t.hasAttention() ? t.stats() : [], bytes: t.bytes() });
  };

  // Follow the studio: the newest step while running, the URL's step (or the last) when done.
  useStudioStore.subscribe((state, prev) => {
    const info = state.trajectory;
    if (!info) {
      if (prev.trajectory) set({ playing: false, frames: [], overlay: null, strip: [], sigmas: [], chart: [], bytes: null });
      return;
    }
    const newRun = info.run !== prev.trajectory?.run;
    if (newRun) set({ playing: false, zoomed: info.attentionImage ?? get().zoomed });
    if (state.status === 'running' && (newRun || info.recorded !== prev.trajectory?.recorded)) {
      set({ selected: Math.max(0, info.recorded - 1) });
      refresh();
    } else if (state.status === 'done' && prev.status !== 'done') {
      const wanted = get().urlStep;
      let selected = info.recorded - 1;
      if (wanted !== null) {
        if (wanted > info.recorded) {
          state.addNotice({ id: 'url-step', level: 'warning', text: `The URL asks for step ${wanted}, but this run has ${info.recorded} steps; showing the last step.` });
        } else selected = wanted - 1;
      }
      set({ selected });
      refresh();
    }
  });

  return {
    selected: 0,
    view: 'x',
    zoomed: 0,
    layer: 0,
    head: null,
    query: null,
    pinned: false,
    playing: false,
    fps: 4,
    urlStep: null,
    sigma: 0,
    frames: [],
    overlay: null,
    strip: [],
    sigmas: [],
    chart: [],
    bytes: null,

    init: (search = location.search) => {
      const { step, problem } = readStepParam(search);
      if (problem) useStudioStore.getState().addNotice({ id: 'url-step', level: 'warning', text: problem });
      set({ urlStep: step });
    },
    setStep: (index) => {
      const t = currentTrajectory();
      if (!t || t.recorded === 0) return;
      const selected = Math.min(t.recorded - 1, Math.max(0, Math.round(index)));
      set({ selected, urlStep: selected + 1 });
      if (useStudioStore.getState().status !== 'running') history.replaceState(history.state, '', `${location.pathname}${withStepParam(location.search, selected + 1)}${location.hash}`);
      refresh();
    },
    setView: (view) => {
      set({ view });
      refresh();
    },
    zoom: (image) => {
      set({ zoomed: image });
      // The next run records this image's attention.
      useStudioStore.getState().setAttentionImage(image);
      refresh();
    },
    setLayer: (layer) => {
      set({ layer });
      refresh();
    },
    setHead: (head) => {
      set({ head });
      refresh();
    },
    hover: (y, x) => {
      if (get().pinned) return;
      const q = get().query;
      if (q && q.y === y && q.x === x) return;
      set({ query: { y, x } });
      refresh();
    },
    pick: (y, x) => {
      const q = get().query;
      // Clicking the pinned pixel again unpins it.
      const unpin = get().pinned && q?.y === y && q?.x === x;
      set({ query: { y, x }, pinned: !unpin });
      refresh();
    },
    moveQuery: (dy, dx, size) => {
      const q = get().query;
      const clamp = (v: number) => Math.min(size - 1, Math.max(0, v));
      // The first key puts the query at the centre; later keys move it.
      const next = q ? { y: clamp(q.y + dy), x: clamp(q.x + dx) } : { y: Math.floor(size / 2), x: Math.floor(size / 2) };
      set({ query: next, pinned: true });
      refresh();
    },
    setPlaying: (on) => set({ playing: on }),
    setFps: (fps) => set({ fps }),
    tick: () => {
      const t = currentTrajectory();
      if (!t || t.recorded === 0) return;
      get().setStep((get().selected + 1) % t.recorded);
    },
    trajectoryFrames: (image, view) => {
      const t = currentTrajectory();
      if (!t) return { frames: [], sigmas: [] };
      const frames = t.steps.map((_, i) => frameOf(t.viewTensor(i, view), t.shape, image));
      return { frames, sigmas: t.sigmas() };
    },
    finalFrames: () => {
      const t = currentTrajectory();
      if (!t || t.recorded === 0) return [];
      return t.frames(t.recorded - 1, 'x');
    },
  };
});
