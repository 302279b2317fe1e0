"""Counter-based deterministic Gaussian noise, shared bit-for-bit with `src/sampling/noise.ts`.

The generator is a pure function of (seed, index), so any element of any noise tensor can be
computed independently and in any order, in Python or in the browser:

    key        = fmix32(seed XOR 0x5BD1E995)
    bits(c)    = fmix32( fmix32((c * 0x9E3779B9 + key) mod 2^32) XOR key )
    uniform(c) = ((bits(c) >> 8) + 0.5) / 2^24                      in (0, 1), exact in float32
    normal(i)  = sqrt(-2 ln uniform(2i)) * cos(2 pi uniform(2i + 1))   (Box-Muller, float64, then float32)

fmix32 is MurmurHash3's 32-bit finaliser. A noise tensor of shape [B, C, H, W] takes normal(i) for
its row-major flat index i, so image b of a batch does not depend on the batch size.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint32(0x9E3779B9)
_SEED_SALT = np.uint32(0x5BD1E995)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 fmix32 on uint32 arrays (wrapping arithmetic)."""
    h = np.asarray(h, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h


def _key(seed: int) -> np.uint32:
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2^32), got {seed}")
    return fmix32(np.array([seed], dtype=np.uint32) ^ _SEED_SALT)[0]


def random_bits(seed: int, counters: np.ndarray) -> np.ndarray:
    """32 random bits for each counter (uint32)."""
    key = _key(seed)
    c = np.asarray(counters, dtype=np.uint32)
    with np.errstate(over="ignore"):
        return fmix32(fmix32(c * _GOLDEN + key) ^ key)


def uniform(seed: int, counters: np.ndarray) -> np.ndarray:
    """Uniform in (0, 1): 24 random bits, centred in their bin (float64, exact in float32)."""
    return ((random_bits(seed, counters) >> np.uint32(8)).astype(np.float64) + 0.5) / 16777216.0


def normal(seed: int, count: int, offset: int = 0) -> np.ndarray:
    """`count` standard normals for flat indices offset .. offset+count-1 (float32)."""
    if offset < 0 or count < 0 or 2 * (offset + count) > 2**32:
        raise ValueError("noise index out of range")
    index = np.arange(offset, offset + count, dtype=np.uint64)
    u1 = uniform(seed, (2 * index).astype(np.uint32))
    u2 = uniform(seed, (2 * index + 1).astype(np.uint32))
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


def normal_tensor(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 tensor of standard normals, element i (row-major) = normal(i)."""
    return normal(seed, int(np.prod(shape))).reshape(shape)
