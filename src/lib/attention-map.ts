/**
 * TMSA attention geometry and compact storage, shared by the worker (which summarises and
 * quantises the `attn_*` outputs) and the timeline (which maps a query pixel to its token and the
 * weights back to pixels). Layout (docs/contracts.md): [B, heads, windows, tokens, tokens], windows
 * row-major over the (r/w)×(r/w) grid of a layer at resolution r, tokens row-major in a window.
 */

import type { AttentionOutput } from '@/types/manifest';

/** What the app needs to know about one TMSA layer: the manifest's `attention` entry without its prose layout. */
export type AttentionLayer = Omit<AttentionOutput, 'layout'>;

/** Where an input pixel's token sits in a layer. */
export interface TokenAddress {
  /** Token row and column on the layer's feature map. */
  ty: number;
  tx: number;
  /** Window index (row-major over the grid of windows) and the window's grid row/column. */
  window: number;
  windowRow: number;
  windowCol: number;
  /** Token index inside its window (row-major). */
  token: number;
}

/** Side of the window actually used: a window never exceeds the feature map. */
export function windowSide(layer: Pick<AttentionLayer, 'resolution' | 'window' | 'tokens'>): number {
  return Math.round(Math.sqrt(layer.tokens));
}

/**
 * The token of input pixel (y, x) of an `imageSize`² image: (floor(y·r/size), floor(x·r/size)),
 * then its window and in-window index in row-major order.
 */
export function pixelToToken(y: number, x: number, layer: Pick<AttentionLayer, 'resolution' | 'window' | 'tokens'>, imageSize: number): TokenAddress {
  const r = layer.resolution;
  const w = windowSide(layer);
  const ty = Math.min(r - 1, Math.max(0, Math.floor((y * r) / imageSize)));
  const tx = Math.min(r - 1, Math.max(0, Math.floor((x * r) / imageSize)));
  const perRow = r / w;
  const windowRow = Math.floor(ty / w);
  const windowCol = Math.floor(tx / w);
  return { ty, tx, window: windowRow * perRow + windowCol, windowRow, windowCol, token: (ty % w) * w + (tx % w) };
}

/** The input-pixel rectangle covered by a window: [y0, x0, size] (size in input pixels). */
export function windowRect(windowRow: number, windowCol: number, layer: Pick<AttentionLayer, 'resolution' | 'window' | 'tokens'>, imageSize: number): { y: number; x: number; size: number } {
  const scale = imageSize / layer.resolution;
  const w = windowSide(layer);
  return { y: windowRow * w * scale, x: windowCol * w * scale, size: w * scale };
}

/**
 * Spreads one query's weights over the keys of its window (length tokens) back onto the input
 * image: every pixel of a key token's (size/r)² patch gets that key's weight; pixels outside the
 * window are NaN. Returns imageSize² values, row-major.
 */
export function weightsToPixels(weights: ArrayLike<number>, address: Pick<TokenAddress, 'windowRow' | 'windowCol'>, layer: Pick<AttentionLayer, 'resolution' | 'window' | 'tokens'>, imageSize: number): Float32Array {
  const out = new Float32Array(imageSize * imageSize).fill(Number.NaN);
  const w = windowSide(layer);
  const r = layer.resolution;
  for (let y = 0; y < imageSize; y++) {
    const ty = Math.floor((y * r) / imageSize);
    if (Math.floor(ty / w) !== address.windowRow) continue;
    for (let x = 0; x < imageSize; x++) {
      const tx = Math.floor((x * r) / imageSize);
      if (Math.floor(tx / w) !== address.windowCol) continue;
      out[y * imageSize + x] = weights[(ty % w) * w + (tx % w)];
    }
  }
  return out;
}

/** (tokens × tokens) distances between token centres of one window, in input pixels (stride = size / r). */
export function tokenDistances(layer: Pick<AttentionLayer, 'resolution' | 'window' | 'tokens'>, imageSize: number): Float64Array {
  const w = windowSide(layer);
  const n = w * w;
  const stride = imageSize / layer.resolution;
  const d = new Float64Array(n * n);
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const dy = (Math.floor(q / w) - Math.floor(k / w)) * stride;
      const dx = ((q % w) - (k % w)) * stride;
      d[q * n + k] = Math.sqrt(dy * dy + dx * dx);
    }
  }
  return d;
}

const ENTROPY_FLOOR = 1e-12;
const LN_ENTROPY_FLOOR = Math.log(ENTROPY_FLOOR);
const LN_TABLE_BITS = 11;
const LN_TABLE_SHIFT = 23 - LN_TABLE_BITS;
/** ln(1 + i / 2^11), i = 0 .. 2^11: the mantissa part of ln a. */
const LN_TABLE = Float64Array.from({ length: (1 << LN_TABLE_BITS) + 1 }, (_, i) => Math.log(1 + i / (1 << LN_TABLE_BITS)));

/**
 * ln a for a normal, positive float32 given by its bits: a = (1 + f)·2^e, ln a = ln(1 + f) + e·ln 2, with
 * ln(1 + f) interpolated linearly in a 2^11-entry table (error below 3e-8 absolute, far under the
 * quantities shown). With Math.log, the statistics and quantisation of one step of a guided batch-4
 * diffit-fmnist run (1.7 M weights) took 17.9 ms; with this and the rounding in quantizeAttention,
 * 7.8 ms (Node 20, 2-core dev Xeon, median of 30): the step itself is ~180 ms on WASM.
 */
function lnFloat32Bits(bits: number): number {
  const index = (bits >> LN_TABLE_SHIFT) & ((1 << LN_TABLE_BITS) - 1);
  const t = (bits & ((1 << LN_TABLE_SHIFT) - 1)) / (1 << LN_TABLE_SHIFT);
  const lo = LN_TABLE[index];
  return lo + t * (LN_TABLE[index + 1] - lo) + (((bits >> 23) & 255) - 127) * Math.LN2;
}

/**
 * Mean row entropy (nats) and mean attention distance (input pixels) over the first `images`
 * images of one `attn_*` output, averaged over images, heads, windows and queries: the
 * definitions of `training/diffit/attention_stats.py` (entropy = -Σ a·ln max(a, 1e-12),
 * distance = Σ_k a_qk·‖pos_q − pos_k‖).
 */
export function attentionStats(data: Float32Array, images: number, layer: AttentionLayer, distances: Float64Array): { entropy: number; distance: number } {
  const n = layer.tokens;
  const rows = images * layer.heads * layer.windows * n;
  const bits = new Int32Array(data.buffer, data.byteOffset, data.length); // the same floats, as IEEE-754 bits
  let entropy = 0;
  let distance = 0;
  for (let row = 0; row < rows; row++) {
    const base = row * n;
    const q = row % n;
    let h = 0;
    let dist = 0;
    for (let k = 0; k < n; k++) {
      const a = data[base + k];
      h -= a > ENTROPY_FLOOR ? a * lnFloat32Bits(bits[base + k]) : a * LN_ENTROPY_FLOOR;
      dist += a * distances[q * n + k];
    }
    entropy += h;
    distance += dist;
  }
  return { entropy: entropy / rows, distance: distance / rows };
}

/**
 * Attention of one image, stored compactly: each row quantised to uint8 relative to its maximum
 * (q = round(255·a / max)), with the row maximum kept as float32. [heads, windows, tokens, tokens].
 */
export interface QuantizedAttention {
  /** uint8 weights, row-major over [heads, windows, query, key]. */
  q: Uint8Array<ArrayBuffer>;
  /** The maximum of each row, [heads, windows, query]. */
  scale: Float32Array<ArrayBuffer>;
}

/** Quantises image `image` of a [B, heads, windows, tokens, tokens] output. */
export function quantizeAttention(data: Float32Array, image: number, layer: AttentionLayer): QuantizedAttention {
  const n = layer.tokens;
  const rows = layer.heads * layer.windows * n;
  const offset = image * rows * n;
  const q = new Uint8Array(rows * n);
  const scale = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    const base = offset + row * n;
    let max = 0;
    for (let k = 0; k < n; k++) if (data[base + k] > max) max = data[base + k];
    scale[row] = max;
    if (max <= 0) continue;
    const f = 255 / max;
    // Weights are >= 0, so adding 0.5 before the Uint8Array's truncation is Math.round, at a third of the cost.
    for (let k = 0; k < n; k++) q[row * n + k] = data[base + k] * f + 0.5;
  }
  return { q, scale };
}

/** The attention recorded at one step: one entry per layer of the model's `attention` list. */
export interface StepAttention {
  /** Which image of the batch `layers` belongs to. */
  image: number;
  /** Quantised weights of that image, [heads, windows, tokens, tokens] per layer. */
  layers: QuantizedAttention[];
  /** Per layer: mean row entropy (nats) and mean attention distance (input pixels) over the batch. */
  entropy: Float32Array<ArrayBuffer>;
  distance: Float32Array<ArrayBuffer>;
}

/** The buffers of a step's attention, to move it to another thread without copying. */
export function stepAttentionBuffers(attention: StepAttention): ArrayBuffer[] {
  return [attention.entropy.buffer, attention.distance.buffer, ...attention.layers.flatMap((a) => [a.q.buffer, a.scale.buffer])];
}

/**
 * Turns the `attn_*` outputs of one evaluation into what the timeline keeps: the per-layer
 * entropy/distance summary over the first `images` images (the batch, which is the conditional half
 * under guidance, as in `training/diffit/attention_stats.py`) and the quantised weights of image
 * `image` only. `distances` are `tokenDistances` per layer. The worker calls it on the steps it
 * records, and the GPU bench (scripts/gpu-bench/image-run.mjs) likewise.
 */
export function summariseAttention(layers: readonly AttentionLayer[], images: number, image: number, outputs: ReadonlyMap<string, Float32Array>, distances: readonly Float64Array[]): StepAttention {
  const entropy = new Float32Array(layers.length);
  const distance = new Float32Array(layers.length);
  const quantised = layers.map((layer, l) => {
    const data = outputs.get(layer.output);
    if (!data) throw new Error(`The model did not return ${layer.output}.`);
    const stats = attentionStats(data, images, layer, distances[l]);
    entropy[l] = stats.entropy;
    distance[l] = stats.distance;
    return quantizeAttention(data, image, layer);
  });
  return { image, layers: quantised, entropy, distance };
}

/** The weights of one query row (head, window, token), decoded to floats; `head` null = mean of the heads. */
export function decodeRow(att: QuantizedAttention, layer: AttentionLayer, head: number | null, window: number, token: number): Float32Array {
  const n = layer.tokens;
  const out = new Float32Array(n);
  const heads = head === null ? Array.from({ length: layer.heads }, (_, h) => h) : [head];
  for (const h of heads) {
    const row = (h * layer.windows + window) * n + token;
    const f = att.scale[row] / 255;
    for (let k = 0; k < n; k++) out[k] += att.q[row * n + k] * f;
  }
  if (heads.length > 1) for (let k = 0; k < n; k++) out[k] /= heads.length;
  return out;
}

/** Bytes held by a quantised attention record. */
export function quantizedBytes(att: QuantizedAttention): number {
  return att.q.byteLength + att.scale.byteLength;
}
