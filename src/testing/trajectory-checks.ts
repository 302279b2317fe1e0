/**
 * Checks on a recorded trajectory that only tests need (the end-to-end hook and unit tests):
 * contract pixels of any step and view, and the sums of every decoded attention row.
 */
import type { Trajectory, TimelineView } from '@/lib/trajectory';
import { toBytes } from '@/sampling/pixels';

/** uint8 pixels of a view at step `index`, row-major over [B, C, H, W] (the contract's mapping). */
export function trajectoryPixels(t: Trajectory, index: number, view: TimelineView): Uint8Array {
  return toBytes(t.viewTensor(index, view));
}

/** Every recorded attention row, decoded: the smallest and largest row sum (1 up to quantisation). */
export function attentionRowSums(t: Trajectory): { rows: number; min: number; max: number } {
  let rows = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const step of t.steps) {
    step.attention?.layers.forEach((att, l) => {
      const n = t.layers[l].tokens;
      for (let r = 0; r < att.scale.length; r++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += att.q[r * n + k];
        sum *= att.scale[r] / 255;
        rows++;
        min = Math.min(min, sum);
        max = Math.max(max, sum);
      }
    });
  }
  return { rows, min, max };
}
