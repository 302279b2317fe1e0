import { describe, expect, it } from 'vitest';
import { attentionStats, decodeRow, summariseAttention, pixelToToken, quantizeAttention, tokenDistances, weightsToPixels, windowRect, type AttentionLayer } from './attention-map';

const layer = (resolution: number, windows: number, heads = 2): AttentionLayer => ({ output: `attn_${resolution}`, layer: `l${resolution}`, resolution, window: 8, heads, windows, tokens: 64 });
const windowed16 = layer(16, 4); // 2×2 windows of 8×8 tokens, each token 2×2 input pixels
const windowed32 = layer(32, 16); // 4×4 windows, one token per pixel
const global8 = layer(8, 1); // one window, each token 4×4 input pixels

/** A deterministic pseudo-random softmax row per (image, head, window, query). */
function softmaxAttention(l: AttentionLayer, images: number, sharpness = 3): Float32Array {
  const out = new Float32Array(images * l.heads * l.windows * l.tokens * l.tokens);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let r = 0; r < out.length / l.tokens; r++) {
    const logits = Array.from({ length: l.tokens }, () => sharpness * rand() * 4);
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => (out[r * l.tokens + k] = v / s));
  }
  return out;
}

describe('query pixel → token and window', () => {
  it('windowed layer at resolution 16 (hand-computed)', () => {
    // (21, 5) → token (⌊21·16/32⌋, ⌊5·16/32⌋) = (10, 2): window row 1, column 0 → window 1·2+0 = 2;
    // in-window (10 mod 8, 2 mod 8) = (2, 2) → token 2·8+2 = 18.
    expect(pixelToToken(21, 5, windowed16, 32)).toEqual({ ty: 10, tx: 2, window: 2, windowRow: 1, windowCol: 0, token: 18 });
    expect(windowRect(1, 0, windowed16, 32)).toEqual({ y: 16, x: 0, size: 16 });
  });

  it('windowed layer at full resolution (hand-computed)', () => {
    // (9, 30): token (9, 30), window (1, 3) → 1·4+3 = 7, in-window (1, 6) → 14.
    expect(pixelToToken(9, 30, windowed32, 32)).toEqual({ ty: 9, tx: 30, window: 7, windowRow: 1, windowCol: 3, token: 14 });
    expect(windowRect(1, 3, windowed32, 32)).toEqual({ y: 8, x: 24, size: 8 });
  });

  it('global layer at resolution 8 (hand-computed)', () => {
    // (13, 30) → token (3, 7), the only window, token 3·8+7 = 31.
    expect(pixelToToken(13, 30, global8, 32)).toEqual({ ty: 3, tx: 7, window: 0, windowRow: 0, windowCol: 0, token: 31 });
    expect(windowRect(0, 0, global8, 32)).toEqual({ y: 0, x: 0, size: 32 });
  });
});

describe('weights → pixels', () => {
  const weights = Float32Array.from({ length: 64 }, (_, k) => k);

  it('windowed: each key covers its 2×2 patch inside the window, NaN outside', () => {
    const px = weightsToPixels(weights, { windowRow: 1, windowCol: 0 }, windowed16, 32);
    // key 0 = token (8, 0) → pixels rows 16–17, columns 0–1; key 63 = token (15, 7) → rows 30–31, columns 14–15.
    for (const [y, x] of [[16, 0], [16, 1], [17, 0], [17, 1]]) expect(px[y * 32 + x]).toBe(0);
    for (const [y, x] of [[30, 14], [31, 15]]) expect(px[y * 32 + x]).toBe(63);
    expect(px[18 * 32 + 2]).toBe(9); // token (9, 1) → key 1·8+1
    expect(px[0]).toBeNaN();
    expect(px[16 * 32 + 16]).toBeNaN();
    expect(px.filter((v) => !Number.isNaN(v)).length).toBe(16 * 16);
  });

  it('global: the whole image, 4×4 pixels per key', () => {
    const px = weightsToPixels(weights, { windowRow: 0, windowCol: 0 }, global8, 32);
    expect(px.some(Number.isNaN)).toBe(false);
    for (let y = 12; y < 16; y++) for (let x = 28; x < 32; x++) expect(px[y * 32 + x]).toBe(31);
    expect(px[0]).toBe(0);
    expect(px[31 * 32 + 31]).toBe(63);
  });

  it('a query maps back onto its own window', () => {
    const a = pixelToToken(21, 5, windowed16, 32);
    const px = weightsToPixels(weights, a, windowed16, 32);
    expect(px[21 * 32 + 5]).toBe(a.token);
  });
});

describe('stats (attention_stats.py definitions)', () => {
  it('uniform rows: entropy ln 64, distance = mean pixel distance in the window', () => {
    const l = global8;
    const data = new Float32Array(l.heads * l.windows * 64 * 64).fill(1 / 64);
    const d = tokenDistances(l, 32);
    expect(d[0 * 64 + 1]).toBe(4); // neighbouring tokens of a resolution-8 layer are 4 pixels apart
    expect(d[0 * 64 + 9]).toBeCloseTo(4 * Math.SQRT2, 10);
    const mean = d.reduce((a, b) => a + b, 0) / (64 * 64);
    const s = attentionStats(data, 1, l, d);
    expect(s.entropy).toBeCloseTo(Math.log(64), 5);
    expect(s.distance).toBeCloseTo(mean, 4);
  });

  it('one-hot rows on the query itself: entropy 0, distance 0', () => {
    const l = windowed32;
    const data = new Float32Array(l.heads * l.windows * 64 * 64);
    for (let r = 0; r < l.heads * l.windows * 64; r++) data[r * 64 + (r % 64)] = 1;
    const s = attentionStats(data, 1, l, tokenDistances(l, 32));
    expect(s.entropy).toBeCloseTo(0, 6);
    expect(s.distance).toBe(0);
  });
});

describe('stats on trained-like rows', () => {
  /** The definitions of attention_stats.py, spelled with Math.log: the reference the fast path must meet. */
  function referenceStats(data: Float32Array, images: number, l: AttentionLayer, d: Float64Array) {
    const n = l.tokens;
    const rows = images * l.heads * l.windows * n;
    let entropy = 0;
    let distance = 0;
    for (let row = 0; row < rows; row++) {
      for (let k = 0; k < n; k++) {
        const a = data[row * n + k];
        entropy -= a * Math.log(Math.max(a, 1e-12));
        distance += a * d[(row % n) * n + k];
      }
    }
    return { entropy: entropy / rows, distance: distance / rows };
  }

  it('matches Math.log within the 3e-8 bound of the table on peaked and flat softmax rows, zeros and sub-floor weights included', () => {
    const l = windowed32;
    const images = 2;
    const data = new Float32Array(images * l.heads * l.windows * 64 * 64);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let r = 0; r < data.length / 64; r++) {
      const sharpness = 30 * random(); // from near-uniform to nearly one-hot
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += data[r * 64 + k] = Math.exp(sharpness * random());
      for (let k = 0; k < 64; k++) data[r * 64 + k] /= sum;
    }
    data.set([0, 1e-13, 1e-30, 1e-12, 1, 0.5], 64 * 5); // exact zeros, below and at the floor, denormals, one
    const d = tokenDistances(l, 32);
    const fast = attentionStats(data, images, l, d);
    const reference = referenceStats(data, images, l, d);
    expect(Math.abs(fast.entropy - reference.entropy)).toBeLessThan(3e-8); // |error of ln| <= h^2/8, h = 2^-11, and the a's of a row sum to 1
    expect(fast.distance).toBeCloseTo(reference.distance, 10);
    expect(fast.entropy).toBeGreaterThan(0.1); // the rows are neither all flat nor all one-hot
    expect(fast.entropy).toBeLessThan(Math.log(64) - 0.1);
  });

  it('reads only the first images of the batch, from a view at any offset', () => {
    const l = global8;
    const per = l.heads * l.windows * 64 * 64;
    const backing = new Float32Array(3 * per + 16).fill(1 / 64);
    backing.fill(0, 16 + per); // the second image is all zeros
    const view = backing.subarray(16, 16 + 2 * per);
    expect(attentionStats(view, 1, l, tokenDistances(l, 32)).entropy).toBeCloseTo(Math.log(64), 6);
    expect(attentionStats(view, 2, l, tokenDistances(l, 32)).entropy).toBeCloseTo(Math.log(64) / 2, 6);
  });
});

describe('quantised storage', () => {
  it('stores round(255·a / row max) for every weight, halves rounded up as Math.round does', () => {
    const l = global8;
    const data = softmaxAttention(l, 2);
    data.set([0.5, 1, 0, 0.25, 1.5 / 255, 2.5 / 255, 0.49999 / 255], 64 * 64 * l.heads + 64 * 3); // image 1, row 3: max 1
    const { q, scale } = quantizeAttention(data, 1, l);
    const rows = l.heads * l.windows * 64;
    for (let row = 0; row < rows; row++) {
      for (let k = 0; k < 64; k++) {
        const a = data[rows * 64 + row * 64 + k];
        expect(q[row * 64 + k]).toBe(Math.round((a * 255) / scale[row]));
      }
    }
    expect(Array.from(q.subarray(3 * 64, 3 * 64 + 7))).toEqual([128, 255, 0, 64, 2, 3, 0]);
  });

  it('every decoded row sums to 1 within quantisation error, for each head and their mean', () => {
    for (const l of [windowed16, global8]) {
      const data = softmaxAttention(l, 2);
      const att = quantizeAttention(data, 1, l);
      expect(att.q.length).toBe(l.heads * l.windows * 64 * 64);
      for (const head of [0, 1, null]) {
        for (let w = 0; w < l.windows; w++) {
          for (let t = 0; t < 64; t++) {
            const row = decodeRow(att, l, head, w, t);
            const sum = row.reduce((a, b) => a + b, 0);
            expect(Math.abs(sum - 1)).toBeLessThan(0.03);
          }
        }
      }
    }
  });

  it('decodes close to the floats of the chosen image (not another one)', () => {
    const l = windowed16;
    const data = softmaxAttention(l, 2);
    const att = quantizeAttention(data, 1, l);
    const rows = l.heads * l.windows * 64;
    const head = 1;
    const w = 3;
    const t = 17;
    const row = decodeRow(att, l, head, w, t);
    const base = (rows + (head * l.windows + w) * 64 + t) * 64;
    for (let k = 0; k < 64; k++) expect(Math.abs(row[k] - data[base + k])).toBeLessThanOrEqual(att.scale[(head * l.windows + w) * 64 + t] / 510 + 1e-7);
  });
});

describe('summariseAttention', () => {
  it("keeps every layer's statistics over the batch and the quantised weights of one image, and names a missing output", () => {
    const layers = [windowed32, global8];
    const per = layers.map((l) => l.heads * l.windows * 64 * 64);
    // Batch 2 of a guided forward (4 images): images 0-1 uniform, the unconditional half one-hot on key 0.
    const outputs = new Map(
      layers.map((l, i) => {
        const data = new Float32Array(4 * per[i]);
        data.fill(1 / 64, 0, 2 * per[i]);
        for (let row = 2 * per[i] / 64; row < data.length / 64; row++) data[row * 64] = 1;
        return [l.output, data] as const;
      }),
    );
    const distances = layers.map((l) => tokenDistances(l, 32));
    const step = summariseAttention(layers, 2, 1, outputs, distances);
    expect(step.image).toBe(1);
    for (let i = 0; i < layers.length; i++) {
      expect(step.entropy[i]).toBeCloseTo(Math.log(64), 5); // the one-hot half is not read
      expect(step.distance[i]).toBeCloseTo(attentionStats(outputs.get(layers[i].output)!, 2, layers[i], distances[i]).distance, 5);
      expect(Array.from(step.layers[i].q.slice(0, 64))).toEqual(Array(64).fill(255));
      expect(step.layers[i].q.length).toBe(per[i]);
    }
    outputs.delete(global8.output);
    expect(() => summariseAttention(layers, 2, 0, outputs, distances)).toThrow(`The model did not return ${global8.output}.`);
  });
});
