import { describe, expect, it } from 'vitest';
import { quantizeAttention, type AttentionLayer } from './attention-map';
import { attentionRowSums, trajectoryPixels } from '@/testing/trajectory-checks';
import { Trajectory } from './trajectory';

const layer: AttentionLayer = { output: 'attn_g', layer: 'g', resolution: 2, window: 2, heads: 2, windows: 1, tokens: 4 };

/** Two 2×2 grey images, two steps; head 0 attends to key 3, head 1 uniformly. */
function recorded(): Trajectory {
  const t = new Trajectory([2, 1, 2, 2], 2, new Float32Array([0, 0, 0, 0, 1, 1, 1, 1]), [layer], 0);
  const attn = new Float32Array(2 * 2 * 4 * 4);
  for (let r = 0; r < 8; r++) attn[r * 4 + 3] = 1; // image 0, head 0
  attn.fill(0.25, 16, 32); // image 0, head 1
  for (const [i, sigma] of [0.5, 0].entries()) {
    t.push({
      sigma,
      x: new Float32Array([-1, 0, 0.5, 1, 1, 0.5, 0, i]),
      denoised: new Float32Array(8).fill(i),
      attention: { image: 0, layers: [quantizeAttention(attn, 0, layer)], entropy: new Float32Array([0.7 + i]), distance: new Float32Array([1 - i]) },
    });
  }
  return t;
}

describe('Trajectory', () => {
  it('gives the contract pixels of x, denoised, and the change scaled per image', () => {
    const t = recorded();
    expect(Array.from(trajectoryPixels(t, 0, 'x'))).toEqual([0, 128, 191, 255, 255, 191, 128, 128]);
    expect(Array.from(trajectoryPixels(t, 1, 'denoised'))).toEqual(new Array(8).fill(255));
    // Step 1 against the initial state: image 0 changes by (-1, 0, .5, 1) → /1; image 1 by (0, -.5, -1, -1) → /1.
    expect(Array.from(t.viewTensor(0, 'change'))).toEqual([-1, 0, 0.5, 1, 0, -0.5, -1, -1]);
    // Step 2 against step 1: only the last pixel changes (0 → 1): +1 after scaling, mid grey elsewhere.
    expect(Array.from(trajectoryPixels(t, 1, 'change'))).toEqual([128, 128, 128, 128, 128, 128, 128, 255]);
  });

  it('maps a query to its weights in pixels, per head and for the mean of the heads', () => {
    const t = recorded();
    const head0 = t.queryAttention(1, 0, 0, 0, 0)!;
    expect(Array.from(head0.pixels)).toEqual([0, 0, 0, 1]);
    expect(head0.rect).toEqual({ y: 0, x: 0, size: 2 });
    const mean = t.queryAttention(1, 0, null, 1, 0)!;
    expect(mean.address.token).toBe(2);
    expect(Array.from(mean.pixels)).toEqual([0.125, 0.125, 0.125, 0.625]);
  });

  it('summarises per layer, checks row sums, and counts its bytes', () => {
    const t = recorded();
    expect(t.stats()).toEqual([{ layer: 'g', entropy: [Math.fround(0.7), Math.fround(1.7)], distance: [1, 0] }]);
    expect(attentionRowSums(t)).toEqual({ rows: 16, min: 1, max: 1 });
    // initial 32 B; per step x 32 + denoised 32; attention 32 q + 8 scales × 4 B; summary 8 B.
    expect(t.bytes()).toEqual({ states: 32 + 2 * 64, attention: 2 * (32 + 32), summary: 16, total: 160 + 128 + 16 });
  });
});
