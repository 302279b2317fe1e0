/**
 * The contract's pixel mapping: uint8 = clamp(floor((x + 1) * 127.5 + 0.5), 0, 255);
 * grey is replicated to RGB, alpha 255.
 */

/** Maps one float to a uint8 value. */
export function toByte(x: number): number {
  const v = Math.floor((x + 1) * 127.5 + 0.5);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** uint8 pixels of a whole [B, C, H, W] tensor, row-major (what `diffit.sample --json` writes). */
export function toBytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = Number.isNaN(x[k]) ? 0 : toByte(x[k]);
  return out;
}

/** RGBA bytes of image `b` of a [B, C, H, W] tensor, ready for `new ImageData(...)`. */
export function toRgba(x: Float32Array, shape: readonly number[], b: number): Uint8ClampedArray<ArrayBuffer> {
  const [, c, h, w] = shape;
  const plane = h * w;
  const base = b * c * plane;
  const out = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    const r = toByte(x[base + p]);
    const g = c >= 3 ? toByte(x[base + plane + p]) : r;
    const bl = c >= 3 ? toByte(x[base + 2 * plane + p]) : r;
    out[4 * p] = r;
    out[4 * p + 1] = g;
    out[4 * p + 2] = bl;
    out[4 * p + 3] = 255;
  }
  return out;
}
