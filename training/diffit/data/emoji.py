"""Google's Noto emoji (Apache-2.0) from the npm package `emoji-datasource-google@16.0.0`, as 32x32 RGB.

The package holds 64x64 RGBA PNGs under `img/google/64/` and `emoji.json`, one entry per emoji with its
`image` file name and `category`; skin-tone variants are listed under the entry's `skin_variations`
and keep its category. Each image is composited onto white, then reduced to 32x32 with a box
(area-average) filter, so edges are antialiased.

Classes are the sorted category names that have images, except "Component": its five images are
plain skin-tone swatches, not pictures. Version 16.0.0 gives 9 classes and 3,781 images (1,906 emoji
plus 1,875 skin-tone variants).

There is no official test split. The holdout is seeded and grouped: in each category, a fixed 10% of
the emoji (with all of their skin-tone variants) is held out, so no variant of a test emoji is trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .cifar10 import REPO_ROOT
from .fashion_mnist import DataError

DEFAULT_EMOJI = REPO_ROOT / "node_modules" / "emoji-datasource-google"
EXCLUDED_CATEGORIES = ("Component",)  # skin-tone swatches
HOLDOUT = 0.1  # fraction of each category's emoji held out as the test split
HOLDOUT_SEED = 0
IMAGE_DIR = "img/google/64"


def read_emoji_index(folder: Path) -> list[tuple[str, str, str]]:
    """(image file, category, group) for every Google image in emoji.json; group = the base emoji."""
    folder = Path(folder)
    index_path = folder / "emoji.json"
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist (install it with "
                        "`npm install emoji-datasource-google@16.0.0` in the repository root)")
    if not index_path.is_file():
        raise DataError(f"{index_path} not found: is {folder} the emoji-datasource-google package?")
    try:
        entries = json.loads(index_path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {index_path}: {error}") from error
    if not isinstance(entries, list):
        raise DataError(f"{index_path}: expected a list of emoji entries")
    index = []
    for entry in entries:
        try:
            category, group = entry["category"], entry.get("unified", entry["image"])
            variants = [entry, *(entry.get("skin_variations") or {}).values()]
            index += [(v["image"], category, group) for v in variants if v.get("has_img_google", True)]
        except (KeyError, TypeError, AttributeError) as error:
            raise DataError(f"{index_path}: malformed entry {str(entry)[:80]} ({error!r})") from error
    return index


def emoji_split(index: list[tuple[str, str, str]], split: str, holdout: float = HOLDOUT,
                seed: int = HOLDOUT_SEED) -> list[tuple[str, str, str]]:
    """The entries of one split; per category, round(holdout * emoji) emoji (at least 1 of 2+) go to test."""
    if split == "all":
        return list(index)
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} (train, test or all)")
    rng = np.random.default_rng(seed)
    test_groups = set()
    for category in sorted({c for _, c, _ in index}):
        groups = sorted({g for _, c, g in index if c == category})
        n_test = max(1, round(holdout * len(groups))) if len(groups) > 1 and holdout > 0 else 0
        test_groups.update(groups[i] for i in rng.permutation(len(groups))[:n_test])
    return [item for item in index if (item[2] in test_groups) == (split == "test")]


def emoji_image(path: Path, size: int = 32) -> np.ndarray:
    """One PNG composited onto white and box-filtered to size x size: (3, size, size) uint8."""
    try:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read emoji image {path}: {error}") from error
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")  # out = a * rgb + (1 - a) * white
    small = rgb.resize((size, size), Image.BOX)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)  # (3, size, size)


def load_emoji(folder: str | Path = DEFAULT_EMOJI, split: str = "train", holdout: float = HOLDOUT,
               seed: int = HOLDOUT_SEED) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, 3, 32, 32) float32 in [-1, 1] (white background = 1), labels (N,) int64, class names."""
    folder = Path(folder)
    index = [item for item in read_emoji_index(folder) if item[1] not in EXCLUDED_CATEGORIES]
    image_dir = folder / IMAGE_DIR
    missing = [name for name, _, _ in index if not (image_dir / name).is_file()]
    if missing:
        raise DataError(f"{len(missing)} image(s) listed in emoji.json are missing from {image_dir} "
                        f"(first: {missing[0]}); reinstall emoji-datasource-google")
    classes = sorted({category for _, category, _ in index})
    if not classes:
        raise DataError(f"{folder}: no emoji images with a usable category")
    chosen = emoji_split(index, split, holdout, seed)
    if not chosen:
        raise DataError(f"{folder}: the {split} split is empty")
    images = np.stack([emoji_image(image_dir / name) for name, _, _ in chosen])  # (N, 3, 32, 32) uint8
    labels = np.array([classes.index(category) for _, category, _ in chosen], dtype=np.int64)
    return images.astype(np.float32) / 127.5 - 1.0, labels, classes
