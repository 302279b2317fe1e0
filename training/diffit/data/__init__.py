"""Image data sets, read from the files users already have (no downloads), and their registry.

`load_dataset(name, path, split)` returns (images (N, C, 32, 32) float32 in [-1, 1], labels (N,) int64,
class names) for every data set in `DATASETS`; the CLIs take `--dataset` from `dataset_names()`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cifar10 import CIFAR10_CLASSES, DEFAULT_CIFAR10, load_cifar10, random_xflip, read_cifar_batch  # noqa: F401
from .emoji import DEFAULT_EMOJI, load_emoji  # noqa: F401
from .fashion_mnist import DEFAULT_FASHION_MNIST, FASHION_MNIST_CLASSES, DataError, load_fashion_mnist, read_idx  # noqa: F401


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the --dataset value
    loader: Callable[[Path, str], tuple[np.ndarray, np.ndarray, list[str]]]  # (folder, split) -> data
    default_path: Path  # where --data points when not given
    channels: int  # image channels
    train_xflip: bool  # random horizontal flips when training the diffusion model
    classifier_xflip: bool  # random horizontal flips when training the judging classifier
    fill: float | None  # background value for the classifier's shift augmentation; None: replicate the edge
    classifier_epochs: int  # default classifier training length
    test_split: str  # what the "test" split is, for reports


def _fashion_mnist(folder: Path, split: str):
    images, labels = load_fashion_mnist(folder, split)
    return images, labels, list(FASHION_MNIST_CLASSES)


DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist": DatasetSpec("fashion-mnist", _fashion_mnist, DEFAULT_FASHION_MNIST, 1, train_xflip=False,
                                 classifier_xflip=True, fill=-1.0, classifier_epochs=8,
                                 test_split="official test set (t10k)"),
    "cifar10": DatasetSpec("cifar10", load_cifar10, DEFAULT_CIFAR10, 3, train_xflip=True, classifier_xflip=True,
                           fill=None, classifier_epochs=30,
                           test_split="official test batch (test_batch.bin or its first 1,000 images)"),
    "emoji": DatasetSpec("emoji", load_emoji, DEFAULT_EMOJI, 3, train_xflip=False, classifier_xflip=False,
                         fill=1.0, classifier_epochs=60,
                         test_split="seeded 10% holdout of each category's emoji (with their skin-tone variants)"),
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def load_dataset(name: str, path: str | Path | None = None, split: str = "train"
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, C, 32, 32) float32 in [-1, 1], labels (N,) int64 and class names of one split."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    path = Path(path) if path else spec.default_path
    if path.suffix == ".npz":
        return load_prepared(path, name, split)
    if path.exists() and not path.is_dir():
        raise DataError(f"{path} is a file, but {name} is read from a folder of its original files "
                        f"or from a .npz written by `python -m diffit.data`")
    return spec.loader(path, split)


def prepare(name: str, path: str | Path | None, out: str | Path) -> None:
    """Decode a data set once into one compressed .npz (uint8 pixels, both splits) that --data also accepts:
    handy for carrying the data to a machine without the original files."""
    arrays: dict[str, np.ndarray] = {"dataset": np.array(name)}
    for split in ("train", "test"):
        images, labels, classes = load_dataset(name, path, split)
        arrays[f"{split}_images"] = np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8)  # (N, C, 32, 32)
        arrays[f"{split}_labels"] = labels
        arrays["classes"] = np.array(classes)
    np.savez_compressed(out, **arrays)


def load_prepared(path: Path, name: str, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a file written by `prepare` (pixels back to [-1, 1])."""
    if not path.is_file():
        raise DataError(f"prepared data {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a .npz archive (a zip of arrays, as `python -m diffit.data` writes)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = sorted({"dataset", "classes", f"{split}_images", f"{split}_labels"} - set(data.files))
            if missing:
                raise DataError(f"{path} lacks {', '.join(missing)}: it was not written by `python -m diffit.data`")
            if str(data["dataset"]) != name:
                raise DataError(f"{path} holds the {data['dataset']} data set, not {name}")
            images = data[f"{split}_images"].astype(np.float32) / 127.5 - 1.0
            return images, data[f"{split}_labels"].astype(np.int64), [str(c) for c in data["classes"]]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read prepared data {path}: {error}") from error


def main(argv=None):
    """python -m diffit.data --dataset emoji --out emoji.npz"""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m diffit.data", description=prepare.__doc__)
    p.add_argument("--dataset", choices=dataset_names(), required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        prepare(args.dataset, args.data, args.out)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {args.out}")
