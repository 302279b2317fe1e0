"""CIFAR-10 and emoji readers, the data-set registry, and the CLIs on RGB data."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffit.classifier import main as classifier_main
from diffit.data import CIFAR10_CLASSES, DATASETS, DEFAULT_EMOJI, DataError, load_cifar10, load_dataset, load_emoji, random_xflip, read_cifar_batch
from diffit.data.cifar10 import cifar10_class_names
from diffit.data.emoji import emoji_image, emoji_split, read_emoji_index
from diffit.models import MODEL_PRESETS, build_model
from diffit.models.config import EMOJI_NUM_CLASSES
from diffit.train import main as train_main

from conftest import CIFAR_CLASSES_TINY, REPO, write_cifar_batch, write_png

CIFAR_REAL = next((p for p in (REPO.parent / "shared/data/cifar-10-batches-bin",
                               Path("/work/shared/data/cifar-10-batches-bin")) if p.is_dir()), None)
EMOJI_REAL = Path(os.environ.get("DIFFIT_EMOJI_DIR", DEFAULT_EMOJI))


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------------------------

def test_cifar_reader_decodes_the_binary_layout(tmp_path):
    labels = np.array([3, 7], np.uint8)
    images = np.zeros((2, 3, 32, 32), np.uint8)
    images[0, 0, 0, 1] = 255  # red, row 0, column 1
    images[1, 2, 31, 0] = 128  # blue, row 31, column 0
    path = tmp_path / "b.bin"
    write_cifar_batch(path, labels, images)
    raw = path.read_bytes()
    assert len(raw) == 2 * 3073 and raw[0] == 3 and raw[1 + 1] == 255  # label byte, then the red plane row-major
    assert raw[3073 + 1 + 2048 + 31 * 32] == 128  # second record: blue plane, row 31
    got_images, got_labels = read_cifar_batch(path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_cifar_splits_range_and_class_names(tiny_cifar):
    x, y, classes = load_cifar10(tiny_cifar, "train")
    assert x.shape == (40, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= -1 and x.max() <= 1 and classes == CIFAR_CLASSES_TINY
    raw, raw_labels = read_cifar_batch(tiny_cifar / "data_batch_1.bin")
    np.testing.assert_allclose(x[:8], raw / 127.5 - 1, atol=1e-6)  # batches in order 1..5
    np.testing.assert_array_equal(y[:8], raw_labels)
    x_test, _, _ = load_cifar10(tiny_cifar, "test")
    assert x_test.shape == (20, 3, 32, 32)
    (tiny_cifar / "batches.meta.txt").unlink()
    (tiny_cifar / "test_batch.bin").rename(tiny_cifar / "test_batch_first1000.bin")  # the copy in shared/
    x_test2, _, classes2 = load_cifar10(tiny_cifar, "test")
    np.testing.assert_array_equal(x_test, x_test2)
    assert classes2 == CIFAR10_CLASSES


def test_cifar_missing_and_truncated_files_give_clear_errors(tmp_path, tiny_cifar):
    with pytest.raises(DataError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")
    (tiny_cifar / "data_batch_4.bin").unlink()
    with pytest.raises(DataError, match="data_batch_4.bin not found"):
        load_cifar10(tiny_cifar, "train")
    (tiny_cifar / "test_batch.bin").write_bytes((tiny_cifar / "data_batch_1.bin").read_bytes()[:-100])
    with pytest.raises(DataError, match="not a whole number of 3073-byte"):
        load_cifar10(tiny_cifar, "test")
    (tiny_cifar / "test_batch.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(DataError, match="out of range"):
        load_cifar10(tiny_cifar, "test")
    (tiny_cifar / "test_batch.bin").unlink()
    with pytest.raises(DataError, match="test file"):
        load_cifar10(tiny_cifar, "test")
    (tiny_cifar / "batches.meta.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match="expected 10 class names"):
        cifar10_class_names(tiny_cifar)


def test_random_xflip_mirrors_about_half_and_is_seeded():
    x = torch.arange(2000 * 4, dtype=torch.float32).reshape(2000, 1, 1, 4)
    a = random_xflip(x, torch.Generator().manual_seed(0))
    b = random_xflip(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    flipped = (a != x).any(3).flatten()
    assert torch.equal(a[flipped], x[flipped].flip(3)) and torch.equal(a[~flipped], x[~flipped])
    assert 0.45 < flipped.float().mean() < 0.55


@pytest.mark.skipif(CIFAR_REAL is None, reason="CIFAR-10 binary batches not found at ../shared/data/cifar-10-batches-bin")
def test_real_cifar10():
    sums = dict(line.split()[::-1] for line in (CIFAR_REAL / "SHA256SUMS").read_text().splitlines() if line.strip())
    counts = np.zeros(10, int)
    for name in sums:
        data = (CIFAR_REAL / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sums[name], name
        if name.startswith("data_batch"):
            images, labels = read_cifar_batch(CIFAR_REAL / name)
            assert images.shape == (10000, 3, 32, 32)
            counts += np.bincount(labels, minlength=10)
    assert counts.tolist() == [5000] * 10
    x, y, classes = load_dataset("cifar10", None, "test")  # the default path, relative to the repository
    assert classes == CIFAR10_CLASSES and x.shape[1:] == (3, 32, 32) and len(x) in (1000, 10000)
    assert y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # cat, ship, ship, airplane, frog, ... (official order)


# ---------------------------------------------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------------------------------------------

def test_emoji_composite_onto_white_and_box_resize(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:32] = (255, 0, 0, 255)  # top half opaque red
    rgba[32:, :, :3] = (0, 0, 255)  # bottom half blue but fully transparent -> white
    rgba[32:48, ::2] = (0, 0, 0, 255)  # a 1-pixel black/transparent stripe pattern -> averages to grey
    write_png(tmp_path / "a.png", rgba)
    pixels = emoji_image(tmp_path / "a.png")
    assert pixels.shape == (3, 32, 32) and pixels.dtype == np.uint8
    assert (pixels[:, :16] == np.array([255, 0, 0])[:, None, None]).all()
    assert (pixels[:, 24:] == 255).all()
    assert np.abs(pixels[:, 16:24].astype(int) - 128).max() <= 1  # half black, half white per 2x2 box


def test_emoji_reader_categories_and_holdout(tiny_emoji):
    index = read_emoji_index(tiny_emoji)
    assert len(index) == 13  # 10 emoji + 2 skin-tone variants + 1 component; the one without an image is left out
    x, y, classes = load_emoji(tiny_emoji, "all")
    assert classes == ["Animals & Nature", "Smileys & Emotion"]  # sorted; 'Component' excluded
    assert x.shape == (12, 3, 32, 32) and x.dtype == np.float32 and np.isclose(x.max(), 1) and x.min() >= -1
    train, test = emoji_split(index, "train"), emoji_split(index, "test")
    assert len(train) + len(test) == len(index)
    assert {g for _, _, g in train}.isdisjoint({g for _, _, g in test})  # variants stay with their emoji
    assert sum(c == "Smileys & Emotion" for _, c, _ in test) == 1  # round(10% of 5) -> at least 1 per category
    assert emoji_split(index, "test") == test  # seeded
    _, y_test, _ = load_emoji(tiny_emoji, "test")
    _, y_train, _ = load_emoji(tiny_emoji, "train")
    assert len(y_test) + len(y_train) == 12 and set(y_test.tolist()) == {0, 1}


def test_emoji_errors_are_clear(tmp_path, tiny_emoji):
    with pytest.raises(DataError, match="npm install emoji-datasource-google"):
        load_emoji(tmp_path / "nowhere")
    (tiny_emoji / "img/google/64/1f100.png").unlink()
    with pytest.raises(DataError, match="missing .*1f100.png"):
        load_emoji(tiny_emoji)
    (tiny_emoji / "img/google/64/1f100.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read emoji image"):
        load_emoji(tiny_emoji, "all")
    (tiny_emoji / "emoji.json").write_text('[{"image": "x.png"}]')
    with pytest.raises(DataError, match="malformed entry"):
        load_emoji(tiny_emoji)


@pytest.mark.skipif(not EMOJI_REAL.is_dir(),
                    reason="emoji-datasource-google not installed (npm install emoji-datasource-google@16.0.0)")
def test_real_emoji():
    x_train, y_train, classes = load_emoji(EMOJI_REAL, "train")
    x_test, y_test, test_classes = load_emoji(EMOJI_REAL, "test")
    assert classes == test_classes and len(classes) == EMOJI_NUM_CLASSES and "Component" not in classes
    assert len(x_train) + len(x_test) == 3781 and 0.09 < len(x_test) / 3781 < 0.12
    assert x_train.shape[1:] == (3, 32, 32) and set(y_test.tolist()) == set(range(EMOJI_NUM_CLASSES))
    corner = x_train[:, :, 0, 0]  # the background of every emoji is white, or nearly, in the corner
    assert np.median(corner) == 1.0


# ---------------------------------------------------------------------------------------------------------------
# Registry, presets and the CLIs on RGB data
# ---------------------------------------------------------------------------------------------------------------

def test_registry_loads_every_data_set(tiny_fmnist, tiny_cifar, tiny_emoji):
    for name, folder, channels in (("fashion-mnist", tiny_fmnist, 1), ("cifar10", tiny_cifar, 3),
                                   ("emoji", tiny_emoji, 3)):
        x, y, classes = load_dataset(name, folder, "test")
        assert x.shape[1:] == (channels, 32, 32) and len(x) == len(y) and y.max() < len(classes)
        assert DATASETS[name].channels == channels
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("imagenet", tiny_cifar)


@pytest.mark.parametrize("name", [n for n in MODEL_PRESETS if n.endswith("-emoji")])
def test_emoji_presets(name):
    config = MODEL_PRESETS[name]
    assert config.in_channels == 3 and config.num_classes == EMOJI_NUM_CLASSES
    model = build_model(name).eval()
    with torch.no_grad():
        out, _ = model(torch.randn(1, 3, 32, 32), torch.tensor([1.0]), torch.tensor([EMOJI_NUM_CLASSES]))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


def test_train_and_classifier_clis_on_rgb_data(tmp_path, tiny_cifar, tiny_emoji, capsys):
    """In-process (fast): one training step on synthetic CIFAR-10, one classifier epoch on synthetic emoji."""
    run = tmp_path / "run"
    train_main(list(map(str, ["--model", "diffit-tiny-rgb", "--dataset", "cifar10", "--data", tiny_cifar, "--out", run,
                              "--batch", 8, "--images", 8, "--grid-steps", 1, "--quiet", "--device", "cpu"])))
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["dataset"] == "cifar10" and state["classes"] == CIFAR_CLASSES_TINY and state["xflip"] is True
    assert state["train_images"] == 40 and state["images_seen"] == 8
    assert Image.open(run / "samples.png").mode == "RGB"
    for args, message in (
            (["--model", "diffit-tiny", "--dataset", "cifar10", "--data", tiny_cifar], "expects 1 and 10"),
            (["--model", "diffit-tiny-rgb", "--dataset", "emoji", "--data", tmp_path / "no"], "error: data folder")):
        with pytest.raises(SystemExit) as exit_info:
            train_main(list(map(str, ["--out", tmp_path / "wrong", *args, "--quiet"])))
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "wrong").exists()

    clf = tmp_path / "clf.pt"
    classifier_main(list(map(str, ["--dataset", "emoji", "--data", tiny_emoji, "--out", clf, "--epochs", 1,
                                   "--batch", 4, "--device", "cpu"])))
    state = torch.load(clf, weights_only=False)
    assert state["arch"] == {"in_channels": 3, "num_classes": 2, "feature_dim": 256}
    assert state["dataset"] == "emoji" and state["classes"] == ["Animals & Nature", "Smileys & Emotion"]
    assert "holdout" in state["test_split"]


def test_prepared_npz_round_trip(tmp_path, tiny_fmnist):
    """`python -m diffit.data` writes both splits as 8-bit pixels; --data accepts the .npz instead of the folder."""
    import subprocess
    import sys

    import numpy as np

    from diffit.data import DataError, load_dataset

    out = tmp_path / "fm.npz"
    result = subprocess.run([sys.executable, "-m", "diffit.data", "--dataset", "fashion-mnist", "--data", str(tiny_fmnist),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for split in ("train", "test"):
        original, labels, classes = load_dataset("fashion-mnist", tiny_fmnist, split)
        prepared, prepared_labels, prepared_classes = load_dataset("fashion-mnist", out, split)
        np.testing.assert_allclose(prepared, original, atol=0.5 / 127.5 + 1e-6)  # 8-bit rounding only
        assert (prepared_labels == labels).all() and prepared_classes == classes
    with pytest.raises(DataError, match="not emoji"):
        load_dataset("emoji", out)
