import gzip
import json
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
def checkpoint(tmp_path) -> Path:
    """An untrained tiny DiffiT snapshot in the format diffit.train writes."""
    import torch

    from diffit.models import build_model

    torch.manual_seed(0)
    model = build_model("diffit-tiny")
    path = tmp_path / "tiny-ema.pt"
    torch.save({"config": model.config.to_dict(), "ema": model.state_dict(), "images_seen": 16, "seed": 0,
                "wall_time_s": 1.5, "hardware": "test CPU"}, path)
    return path


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


CIFAR_CLASSES_TINY = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar_batch(path: Path, labels: np.ndarray, images: np.ndarray) -> None:
    """Official CIFAR-10 binary layout: per record 1 label byte, then R, G, B planes of 32x32, row-major."""
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(labels), -1)], axis=1)
    path.write_bytes(records.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_cifar(tmp_path) -> Path:
    """A synthetic CIFAR-10 folder: 5 training batches of 8 records, a 20-record test batch, class names."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar"
    folder.mkdir()
    for name, n in [(f"data_batch_{i}.bin", 8) for i in range(1, 6)] + [("test_batch.bin", 20)]:
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 3, 32, 32))
        for i, label in enumerate(labels):  # a class-dependent colour band
            images[i, label % 3, 3 * label: 3 * label + 3] = 250
        write_cifar_batch(folder / name, labels, images)
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR_CLASSES_TINY) + "\n\n")
    return folder


def write_png(path: Path, rgba: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(path)


@pytest.fixture
def tiny_emoji(tmp_path) -> Path:
    """A synthetic emoji-datasource-google folder: emoji.json and 64x64 RGBA PNGs under img/google/64.

    Two picture categories of 5 emoji (one with two skin-tone variants), one 'Component' swatch and one
    entry without a Google image (no file).
    """
    folder = tmp_path / "emoji-datasource-google"
    images = folder / "img" / "google" / "64"
    images.mkdir(parents=True)
    entries = []
    for c, category in enumerate(["Smileys & Emotion", "Animals & Nature"]):
        for i in range(5):
            code = f"1f{c}{i:02d}"
            rgba = np.zeros((64, 64, 4), np.uint8)
            rgba[8 + 8 * i: 24 + 8 * i, 8:56] = (200 * c, 50 * i, 255, 255)  # opaque bar on a transparent ground
            write_png(images / f"{code}.png", rgba)
            entry = {"unified": code.upper(), "image": f"{code}.png", "category": category, "has_img_google": True}
            if c == 1 and i == 0:
                entry["skin_variations"] = {}
                for tone in ("1f3fb", "1f3fc"):
                    write_png(images / f"{code}-{tone}.png", rgba)
                    entry["skin_variations"][tone.upper()] = {"image": f"{code}-{tone}.png", "has_img_google": True}
            entries.append(entry)
    write_png(images / "1f3fb.png", np.full((64, 64, 4), (230, 190, 160, 255), np.uint8))
    entries.append({"unified": "1F3FB", "image": "1f3fb.png", "category": "Component", "has_img_google": True})
    entries.append({"unified": "1F9FF", "image": "1f9ff.png", "category": "Flags", "has_img_google": False})
    (folder / "emoji.json").write_text(json.dumps(entries))
    return folder
