import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.fixture
def tiny_fmnist(tmp_path) -> Path:
    """A synthetic Fashion-MNIST folder in the standard IDX format: 64 train and 20 test images."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "fmnist"
    folder.mkdir()
    for prefix, n in (("train", 64), ("t10k", 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a class-dependent bar plus noise
            images[i, 4 + 2 * label: 8 + 2 * label, 4:24] = 200
            images[i] += rng.integers(0, 30, (28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder
