/**
 * Counter-based deterministic Gaussian noise, bit-for-bit identical to
 * `training/diffit/noise.py` (see docs/contracts.md, "Noise").
 *
 *     key        = fmix32(seed XOR 0x5BD1E995)
 *     bits(c)    = fmix32( fmix32((c * 0x9E3779B9 + key) mod 2^32) XOR key )
 *     uniform(c) = ((bits(c) >>> 8) + 0.5) / 2^24
 *     normal(i)  = float32( sqrt(-2 ln uniform(2i)) * cos(2π uniform(2i+1)) )
 *
 * A [B, C, H, W] noise tensor takes normal(i) at row-major flat index i.
 */

const GOLDEN = 0x9e3779b9;
const SEED_SALT = 0x5bd1e995;
const TWO_POW_24 = 16777216;

/** MurmurHash3's 32-bit finaliser (uint32 in, uint32 out). */
export function fmix32(h: number): number {
  h >>>= 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Checks that `seed` is an integer in [0, 2^32). */
export function isValidSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32;
}

function seedKey(seed: number): number {
  if (!isValidSeed(seed)) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  return fmix32((seed ^ SEED_SALT) >>> 0);
}

function bitsWithKey(key: number, counter: number): number {
  const mixed = (Math.imul(counter >>> 0, GOLDEN) + key) >>> 0;
  return fmix32((fmix32(mixed) ^ key) >>> 0);
}

function uniformWithKey(key: number, counter: number): number {
  return ((bitsWithKey(key, counter) >>> 8) + 0.5) / TWO_POW_24;
}

/** 32 random bits for one counter. */
export function randomBits(seed: number, counter: number): number {
  return bitsWithKey(seedKey(seed), counter);
}

/** Uniform in (0, 1): 24 random bits, centred in their bin. */
export function uniform(seed: number, counter: number): number {
  return uniformWithKey(seedKey(seed), counter);
}

/** `count` standard normals for flat indices offset .. offset+count-1 (float32). */
export function normal(seed: number, count: number, offset = 0): Float32Array {
  if (!Number.isInteger(count) || !Number.isInteger(offset) || offset < 0 || count < 0 || 2 * (offset + count) > 2 ** 32) {
    throw new RangeError('noise index out of range');
  }
  const key = seedKey(seed);
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const i = offset + k;
    const u1 = uniformWithKey(key, 2 * i);
    const u2 = uniformWithKey(key, 2 * i + 1);
    out[k] = Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
  }
  return out;
}

/** A float32 tensor of standard normals for `shape`, element i (row-major) = normal(i). */
export function normalTensor(seed: number, shape: readonly number[]): Float32Array {
  return normal(seed, shape.reduce((a, b) => a * b, 1));
}
