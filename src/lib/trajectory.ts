/**
 * The recorded denoising trajectory of one run: for every step, x after the step and the
 * `denoised` of the evaluation the step ends on (the Heun correction when there is one, else the
 * Euler evaluation of the last step: what the worker's step event carries, docs/contracts.md),
 * plus the compact attention record of one image. Lives outside React state; the stores hand
 * components RGBA frames and plain numbers only.
 */
import { decodeRow, pixelToToken, quantizedBytes, weightsToPixels, windowRect, type AttentionLayer, type StepAttention, type TokenAddress } from '@/lib/attention-map';
import { framesOf, type ImageFrame } from '@/lib/frames';

/** What the timeline shows: the noisy state x_t, the predicted clean image, or the change since the previous step. */
export type TimelineView = 'x' | 'denoised' | 'change';

export interface TrajectoryStep {
  /** float32(sigma_{i+1}): the noise level of x after the step. */
  sigma: number;
  x: Float32Array;
  denoised: Float32Array;
  attention: StepAttention | null;
}

/** One query's attention at one step, mapped back to input pixels. */
export interface QueryAttention {
  address: TokenAddress;
  /** imageSize² weights, row-major; NaN outside the query's window. */
  pixels: Float32Array;
  /** The window in input pixels. */
  rect: { y: number; x: number; size: number };
  /** The largest weight of the row. */
  max: number;
}

export interface TrajectoryBytes {
  /** x and denoised of every step. */
  states: number;
  /** Quantised weights and row scales. */
  attention: number;
  /** Entropy and distance summaries. */
  summary: number;
  total: number;
}

export class Trajectory {
  readonly steps: TrajectoryStep[] = [];
  /** RGBA frames per step and view, made once when first asked for (views draw them often). */
  private readonly frameCache = new Map<string, ImageFrame[]>();

  constructor(
    /** [B, C, H, W] */
    readonly shape: readonly [number, number, number, number],
    readonly totalSteps: number,
    /** x before the first step (the scaled initial noise), for the change of step 1. */
    readonly initial: Float32Array,
    readonly layers: readonly AttentionLayer[],
    /** The image whose attention is recorded, or null when none is. */
    readonly attentionImage: number | null,
  ) {}

  push(step: TrajectoryStep): void {
    this.steps.push(step);
  }

  get recorded(): number {
    return this.steps.length;
  }

  get imageSize(): number {
    return this.shape[2];
  }

  sigmas(): number[] {
    return this.steps.map((s) => s.sigma);
  }

  /**
   * The [B, C, H, W] floats of one view at step `index` (0-based), in the pixel range [-1, 1]:
   * `change` is x_i − x_{i−1} divided by its largest magnitude in each image (mid grey = no change).
   */
  viewTensor(index: number, view: TimelineView): Float32Array {
    const step = this.steps[index];
    if (view === 'x') return step.x;
    if (view === 'denoised') return step.denoised;
    const previous = index === 0 ? this.initial : this.steps[index - 1].x;
    const [b, c, h, w] = this.shape;
    const per = c * h * w;
    const out = new Float32Array(step.x.length);
    for (let i = 0; i < b; i++) {
      let max = 0;
      for (let k = i * per; k < (i + 1) * per; k++) {
        out[k] = step.x[k] - previous[k];
        max = Math.max(max, Math.abs(out[k]));
      }
      if (max > 0) for (let k = i * per; k < (i + 1) * per; k++) out[k] /= max;
    }
    return out;
  }

  /** The batch of one view at step `index` as RGBA frames (the same objects on every call). */
  frames(index: number, view: TimelineView): ImageFrame[] {
    const key = `${index}|${view}`;
    let frames = this.frameCache.get(key);
    if (!frames) {
      frames = framesOf(this.viewTensor(index, view), this.shape);
      this.frameCache.set(key, frames);
    }
    return frames;
  }

  /** Is attention recorded for this run (a TMSA model, recording on)? */
  hasAttention(): boolean {
    return this.attentionImage !== null && this.layers.length > 0 && this.steps.some((s) => s.attention);
  }

  /** The attention of the token under input pixel (y, x) at step `index`; head null = mean of the heads. */
  queryAttention(index: number, layerIndex: number, head: number | null, y: number, x: number): QueryAttention | null {
    const att = this.steps[index]?.attention;
    const layer = this.layers[layerIndex];
    if (!att || !layer) return null;
    const address = pixelToToken(y, x, layer, this.imageSize);
    const row = decodeRow(att.layers[layerIndex], layer, head, address.window, address.token);
    let max = 0;
    for (const v of row) max = Math.max(max, v);
    return {
      address,
      pixels: weightsToPixels(row, address, layer, this.imageSize),
      rect: windowRect(address.windowRow, address.windowCol, layer, this.imageSize),
      max,
    };
  }

  /** Entropy and mean distance per layer against the step (NaN where a step has no record). */
  stats(): { layer: string; entropy: number[]; distance: number[] }[] {
    return this.layers.map((l, i) => ({
      layer: l.layer,
      entropy: this.steps.map((s) => (s.attention ? s.attention.entropy[i] : Number.NaN)),
      distance: this.steps.map((s) => (s.attention ? s.attention.distance[i] : Number.NaN)),
    }));
  }

  /** Bytes the recording holds (typed-array payloads). */
  bytes(): TrajectoryBytes {
    let states = this.initial.byteLength;
    let attention = 0;
    let summary = 0;
    for (const s of this.steps) {
      states += s.x.byteLength + s.denoised.byteLength;
      if (s.attention) {
        attention += s.attention.layers.reduce((sum, a) => sum + quantizedBytes(a), 0);
        summary += s.attention.entropy.byteLength + s.attention.distance.byteLength;
      }
    }
    return { states, attention, summary, total: states + attention + summary };
  }
}
