"""CIFAR-10 (Krizhevsky 2009) from the official binary version, in [-1, 1].

Each `.bin` file is a sequence of 3,073-byte records: 1 label byte (0..9), then 3,072 pixel bytes,
the 1,024 red, 1,024 green and 1,024 blue values of a 32x32 image, each plane row-major.
Training split: `data_batch_1.bin` .. `data_batch_5.bin` (50,000 images). Test split: `test_batch.bin`
(10,000 images), or `test_batch_first1000.bin` (its first 1,000 records) where only that is present.
Class names come from `batches.meta.txt` (one per line) when the folder has it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .fashion_mnist import DataError

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CIFAR10 = REPO_ROOT.parent / "shared" / "data" / "cifar-10-batches-bin"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR10_TEST_FILES = ["test_batch.bin", "test_batch_first1000.bin"]  # the first one present is used
_PIXELS = 3 * 32 * 32
_RECORD = 1 + _PIXELS


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file: images (N, 3, 32, 32) uint8 and labels (N,) uint8."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(f"cannot read CIFAR-10 file {path}: {error}") from error
    if raw.size == 0 or raw.size % _RECORD:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {_RECORD}-byte CIFAR-10 records "
                        "(truncated or not a CIFAR-10 binary batch)")
    records = raw.reshape(-1, _RECORD)  # (N, 3073)
    labels = records[:, 0]
    if labels.max() >= len(CIFAR10_CLASSES):
        raise DataError(f"{path}: label byte {labels.max()} out of range 0..9 (not a CIFAR-10 binary batch?)")
    images = records[:, 1:].reshape(-1, 3, 32, 32)  # (N, 3, 32, 32): R, G, B planes, row-major
    return images, labels


def cifar10_class_names(folder: Path) -> list[str]:
    """Class names from batches.meta.txt, or the official list when the file is absent."""
    meta = Path(folder) / "batches.meta.txt"
    if not meta.is_file():
        return list(CIFAR10_CLASSES)
    names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
    if len(names) != len(CIFAR10_CLASSES):
        raise DataError(f"{meta}: expected {len(CIFAR10_CLASSES)} class names, found {len(names)}")
    return names


def load_cifar10(folder: str | Path = DEFAULT_CIFAR10, split: str = "train") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, 3, 32, 32) float32 in [-1, 1], labels (N,) int64 and the class names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist (CIFAR-10 binary version: a folder with "
                        "data_batch_1..5.bin and test_batch.bin)")
    if split == "train":
        missing = [name for name in CIFAR10_TRAIN_FILES if not (folder / name).is_file()]
        if missing:
            raise DataError(f"CIFAR-10 training file(s) {', '.join(missing)} not found in {folder}")
        files = [folder / name for name in CIFAR10_TRAIN_FILES]
    elif split == "test":
        files = [folder / name for name in CIFAR10_TEST_FILES if (folder / name).is_file()][:1]
        if not files:
            raise DataError(f"CIFAR-10 test file ({' or '.join(CIFAR10_TEST_FILES)}) not found in {folder}")
    else:
        raise DataError(f"unknown split {split!r} (train or test)")
    batches = [read_cifar_batch(path) for path in files]
    images = np.concatenate([b[0] for b in batches])  # (N, 3, 32, 32) uint8
    labels = np.concatenate([b[1] for b in batches]).astype(np.int64)
    x = images.astype(np.float32)
    x /= 127.5
    x -= 1.0  # [0, 255] -> [-1, 1]
    return x, labels, cifar10_class_names(folder)


def random_xflip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Mirror each image of a (B, C, H, W) batch left-right with probability p (training augmentation)."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < p  # (B,)
    return torch.where(flip[:, None, None, None], x.flip(3), x)
