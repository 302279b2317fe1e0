"""Fashion-MNIST from the standard IDX files (Xiao et al. 2017), padded to 32x32 in [-1, 1].

Debian's `dataset-fashion-mnist` installs the files under /usr/share/datasets/fashion-mnist;
any folder with `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` works.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DEFAULT_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(RuntimeError):
    """A data path is missing, unreadable or not in the expected format."""


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its declared shape."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"cannot read IDX file {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header declares {shape} ({expected} bytes) but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"Fashion-MNIST file {stem}[.gz] not found in {folder} "
                    "(install Debian's dataset-fashion-mnist or pass --data with the IDX files)")


def load_fashion_mnist(folder: str | Path = DEFAULT_FASHION_MNIST, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, 32, 32) float32 in [-1, 1] (zero-padded background = -1) and labels (N,) int64."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{folder}: expected N x 28 x 28 images and N labels, got {images.shape} and {labels.shape}")
    if labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DataError(f"{folder}: label {labels.max()} out of range")
    x = images.astype(np.float32) / 127.5 - 1.0  # (N, 28, 28) in [-1, 1]
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)[:, None]  # (N, 1, 32, 32)
    return x, labels.astype(np.int64)
