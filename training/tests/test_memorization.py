"""diffit.memorization: copies of training images are flagged, new images of the distribution are not; the exact
nearest-neighbour search; the command line end to end on a tiny data set and its refusals."""

import json

import numpy as np
import pytest
from PIL import Image

from diffit.evaluate import generate, quantise
from diffit.memorization import main as memorization_main
from diffit.memorization import memorisation, nearest_two

from conftest import REPO

MANIFEST = REPO / "public" / "models" / "manifest.json"
MODEL = "diffip-emoji"  # the smallest shipped emoji model
CLASSIFIER = REPO / "training" / "weights" / "classifier-emoji.pt"
EMOJI_CLASSES = 9


def images_like(n: int, seed: int) -> np.ndarray:
    """(n, 3, 32, 32) 8-bit images in [-1, 1] from one distribution: random 4x4 colour fields, upsampled, plus noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (n, 3, 4, 4))
    x = coarse.repeat(8, axis=2).repeat(8, axis=3) + rng.normal(0, 0.1, (n, 3, 32, 32))
    return quantise(np.clip(x, -1, 1).astype(np.float32))


@pytest.fixture(scope="module")
def split():
    """Training images and two disjoint held-out sets of the same distribution."""
    return images_like(120, 0), images_like(60, 1), images_like(60, 2)


def projection(images: np.ndarray) -> np.ndarray:
    """A stand-in feature extractor: a fixed random projection to 16 dimensions."""
    weights = np.random.default_rng(9).normal(size=(3 * 32 * 32, 16)).astype(np.float32)
    return images.reshape(len(images), -1) @ weights


def test_nearest_two_matches_brute_force(split):
    train, held, _ = split
    queries = np.concatenate([held[:20], train[5:8]])  # three exact copies
    d1, d2, index = nearest_two(queries, train, chunk=7)
    full = np.linalg.norm(queries.reshape(len(queries), 1, -1).astype(np.float64) - train.reshape(1, len(train), -1), axis=2)
    ordered = np.sort(full, axis=1)
    np.testing.assert_allclose(d1, ordered[:, 0], rtol=1e-12)
    np.testing.assert_allclose(d2, ordered[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(index, full.argmin(1))
    assert (d1[-3:] == 0).all() and (index[-3:] == [5, 6, 7]).all()


def test_a_model_that_returns_training_images_is_flagged(split):
    """A fake D that always predicts training images: the Heun sampler ends on D, so every sample is a copy."""
    train, held, _ = split

    def copying_denoiser(x, sigma, labels):
        return train[7 * labels[0]: 7 * labels[0] + len(x)]  # (B, 3, 32, 32), one class per batch

    labels = np.repeat(np.arange(4), 6)
    samples = quantise(generate(copying_denoiser, 4, labels, (3, 32, 32), steps=3, guidance=1.0, seed=0, batch=4,
                                progress=False))
    result = memorisation(samples, train, held, projection)
    for space in ("pixels", "features"):
        block = result[space]
        assert block["memorisation_rate_p1"] == 1.0 and block["memorisation_rate_min"] == 1.0, block
        assert block["samples"]["ratio"]["median"] < 1e-3 and block["ratio_rate_p1"] == 1.0, block
    assert block["held_out"]["nearest"]["min"] > 0
    assert set(result["nearest"][2]) <= set(range(28)) and result["nearest"][0].max() < 1e-3


def test_new_images_of_the_distribution_are_not_flagged(split):
    train, held, other = split
    result = memorisation(other, train, held, projection)
    for space in ("pixels", "features"):
        block = result[space]
        assert block["memorisation_rate_p1"] < 0.1 and block["memorisation_rate_min"] < 0.05, block
        assert block["samples"]["ratio"]["median"] > 0.8, block
        assert block["samples"]["nearest"]["median"] == pytest.approx(block["held_out"]["nearest"]["median"], rel=0.2)


@pytest.fixture
def tiny_emoji_npz(tmp_path):
    """A prepared emoji file (as `python -m diffit.data` writes) of 27 training and 9 test images, 9 classes."""
    path = tmp_path / "emoji.npz"
    to_uint8 = lambda x: np.round((x + 1) * 127.5).astype(np.uint8)
    np.savez_compressed(path, dataset=np.array("emoji"), classes=np.array([f"c{i}" for i in range(EMOJI_CLASSES)]),
                        train_images=to_uint8(images_like(27, 3)), train_labels=np.arange(27) % EMOJI_CLASSES,
                        test_images=to_uint8(images_like(9, 4)), test_labels=np.arange(9))
    return path


def cli(*args):
    return ["--manifest", str(MANIFEST), "--classifier", str(CLASSIFIER), "--quiet", "--threads", "1", *map(str, args)]


def test_command_line_end_to_end(tiny_emoji_npz, tmp_path, capsys):
    out, png = tmp_path / "m.json", tmp_path / "pairs.png"
    memorization_main(cli("--model", MODEL, "--data", tiny_emoji_npz, "--samples", 9, "--steps", 2, "--pairs", 3,
                          "--json", out, "--pairs-png", png, "--colours", 64))
    report = json.loads(out.read_text())
    assert (report["dataset"], report["samples"], report["train_images"], report["held_out_images"]) == ("emoji", 9, 27, 9)
    assert len(report["closest_pairs"]) == 3 and report["closest_pairs"][0]["distance"] <= report["closest_pairs"][2]["distance"]
    for space in ("pixels", "features"):
        assert 0 <= report[space]["memorisation_rate_p1"] <= 1
    with Image.open(png) as image:
        assert image.width > 6 * 32 and image.height > 2 * 32 and image.mode == "P" and len(image.getcolors()) <= 64
    assert "memorisation rate" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (("--model", "no-such-model"), ["no-such-model", "not in"]),
    (("--model", MODEL, "--samples", 0), ["--samples 0"]),
    (("--model", MODEL, "--steps", 0), ["--steps 0", "contracts/sampling.json"]),
    (("--model", MODEL, "--guidance", "nan"), ["--guidance", "not a finite number"]),
    (("--model", MODEL, "--samples", 4, "--pairs", 5), ["--pairs 5"]),
    (("--model", MODEL, "--samples", "many"), ["--samples", "many"]),
    (("--model", MODEL, "--colours", 1), ["--colours 1"]),
    (("--model", MODEL, "--dataset", "cifar10"), ["cifar10", "emoji"]),
    (("--onnx", "missing.onnx", "--dataset", "emoji"), ["missing.onnx"]),
    (("--model", MODEL, "--data", "missing-folder.npz"), ["missing-folder.npz"]),
    (("--model", "diffip-fmnist"), ["classifier"]),  # an emoji classifier cannot judge Fashion-MNIST samples
])
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    out = tmp_path / "m.json"
    with pytest.raises(SystemExit) as stop:
        memorization_main(cli(*args, "--json", out))
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert all(word in err[0] for word in words), err[0]
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--json", "--pairs-png"])
def test_unwritable_output_is_refused_before_work(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        memorization_main(cli("--model", MODEL, flag, tmp_path / "no-folder" / "out"))
    err = capsys.readouterr().err
    assert stop.value.code == 2 and flag in err and "does not exist" in err
