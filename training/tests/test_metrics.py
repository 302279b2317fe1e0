"""Fréchet distance, k-NN precision/recall, Inception features from a file, and the evaluation CLI."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from diffit.checkpoint import save_atomic
from diffit.classifier import SmallCNN
from diffit.evaluate import generate, proportional_labels
from diffit.evaluate import main as evaluate_main
from diffit.export import export_onnx
from diffit.metrics import InceptionFeatures, frechet_distance, frechet_distance_features, gaussian_stats, precision_recall
from diffit.models import build_model

# ---------------------------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------------------------

def test_frechet_distance_of_commuting_gaussians_matches_the_closed_form():
    """Diagonal covariances A, B: d^2 = ||m1 - m2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2; also in a rotated basis."""
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 4, 6), rng.uniform(0.1, 4, 6)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))  # same eigenbasis: the matrices still commute
    assert frechet_distance(q @ m1, q @ np.diag(a) @ q.T, q @ m2, q @ np.diag(b) @ q.T) == pytest.approx(expected,
                                                                                                       rel=1e-9)
    assert frechet_distance(np.zeros(1), np.eye(1) * 4, np.ones(1) * 3, np.eye(1)) == pytest.approx(9 + 1)


def test_frechet_distance_of_general_covariances_and_singular_ones():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    s1, s2 = x @ x.T, y @ y.T  # do not commute
    reference = np.trace(s1 + s2) - 2 * np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    assert frechet_distance(np.zeros(8), s1, np.zeros(8), s2) == pytest.approx(reference, rel=1e-8)
    low_rank = x[:, :2] @ x[:, :2].T  # rank 2 of 8: a naive sqrtm of the product would go complex here
    d = frechet_distance(np.zeros(8), low_rank, np.zeros(8), low_rank)
    assert abs(d) < 1e-8


def test_frechet_distance_of_a_feature_set_with_itself_is_zero():
    features = np.random.default_rng(2).normal(size=(500, 64)) * np.linspace(0.1, 3, 64)
    assert frechet_distance_features(features, features) < 1e-8
    other = features + 0.5  # mean shift only: d^2 = D * 0.25
    assert frechet_distance_features(features, other) == pytest.approx(64 * 0.25, rel=1e-8)
    mu, sigma = gaussian_stats(features)
    assert mu.shape == (64,) and sigma.shape == (64, 64)
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(features[:1])


# ---------------------------------------------------------------------------------------------------------------
# Precision and recall
# ---------------------------------------------------------------------------------------------------------------

def test_precision_recall_hand_cases():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii: 1 each, so the real manifold is [-1, 4]
    fake = np.array([[0.5], [10.0]])  # k=1 radii: 9.5 each, the fake manifold covers [-9, 19.5]
    pr = precision_recall(real, fake, k=1)
    assert pr["precision"] == 0.5 and pr["recall"] == 1.0
    fake_tight = np.array([[0.0], [0.1], [0.2]])  # k=1 radii 0.1: covers only real point 0
    pr = precision_recall(real, fake_tight, k=1)
    assert pr["precision"] == 1.0 and pr["recall"] == 0.25
    # k=3 on a 2-D square: radius of each corner = the diagonal, so the centre is inside, a far point is not.
    square = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    pr = precision_recall(square, np.array([[0.5, 0.5], [5, 5], [-1, -1], [1.5, 1.5]]), k=3)
    assert pr["precision"] == 0.75  # |(-1,-1) - (0,0)| = sqrt(2) <= sqrt(2)
    with pytest.raises(ValueError, match="more than 3 points"):
        precision_recall(square[:3], square, k=3)


def test_proportional_labels_follow_the_class_frequencies():
    train = np.array([0] * 50 + [1] * 30 + [2] * 20)
    labels = proportional_labels(train, 7, 3)
    assert np.bincount(labels).tolist() == [4, 2, 1] and np.all(np.diff(labels) >= 0)
    assert len(proportional_labels(train, 5000, 3)) == 5000


def test_generate_splits_batches_at_label_changes():
    calls = []

    def denoise(x, sigma, labels):  # D(x) = x / 2, records the labels of each forward
        calls.append(list(labels))
        return x / 2

    labels = np.array([0, 0, 0, 1, 2, 2])
    out = generate(denoise, 3, labels, (1, 2, 2), steps=1, guidance=1.0, seed=0, batch=2, progress=False)
    assert out.shape == (6, 1, 2, 2)
    assert calls == [[0, 0], [0], [1], [2, 2]]


# ---------------------------------------------------------------------------------------------------------------
# Inception features from a file
# ---------------------------------------------------------------------------------------------------------------

class StandInInception(nn.Module):
    """A small network with Inception's interface: float RGB (B, 3, 299, 299) in [-1, 1] -> (B, 2048, 1, 1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2048, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (3, 299, 299)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 4)  # (B, 3, 4, 4)
        return torch.nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 1)  # (B, 2048, 1, 1)


class StandInNVlabs(nn.Module):
    """The NVlabs/clean-fid interface: uint8 RGB at any size, features with return_features=True."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2048)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8
        return self.linear(x.float().mean((2, 3)) / 255)


def test_inception_features_from_torchscript_and_pickled_modules(tmp_path):
    torch.manual_seed(0)
    images = np.random.default_rng(0).uniform(-1, 1, (5, 1, 32, 32)).astype(np.float32)
    net = StandInInception().eval()
    torch.jit.script(net).save(str(tmp_path / "script.pt"))
    torch.save(net, tmp_path / "module.pt")
    a = InceptionFeatures(tmp_path / "script.pt")(images, batch=2)
    b = InceptionFeatures(tmp_path / "module.pt")(images)
    assert a.shape == (5, 2048) and not InceptionFeatures(tmp_path / "script.pt").takes_uint8
    np.testing.assert_allclose(a, b, atol=1e-5)
    with torch.no_grad():  # grey replicated to RGB, quantised to 8 bits, resized to 299
        x = torch.from_numpy(np.floor((images + 1) * 127.5 + 0.5) / 127.5 - 1).float().expand(-1, 3, -1, -1)
        direct = net(torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear")).flatten(1).numpy()
    np.testing.assert_allclose(a, direct, atol=1e-5)

    torch.jit.script(StandInNVlabs()).save(str(tmp_path / "nvlabs.pt"))
    nv = InceptionFeatures(tmp_path / "nvlabs.pt")
    assert nv.takes_uint8 and nv(images).shape == (5, 2048)

    torch.save(net.state_dict(), tmp_path / "state.pt")
    with pytest.raises(ValueError, match="state dict"):
        InceptionFeatures(tmp_path / "state.pt")  # torchvision is not a dependency of this project
    torch.save(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 10)), tmp_path / "small.pt")
    with pytest.raises(ValueError, match="10-d features, not 2048"):
        InceptionFeatures(tmp_path / "small.pt")(images)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="neither TorchScript nor a torch file"):
        InceptionFeatures(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        InceptionFeatures(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------------------------------------------
# The evaluation CLI, end to end on a tiny RGB model (PyTorch and ONNX)
# ---------------------------------------------------------------------------------------------------------------

def test_evaluate_cli_reports_every_metric(tmp_path, tiny_cifar, capsys):
    """In-process (fast): an untrained tiny RGB model and classifier, sampled with 1 Heun step."""
    torch.manual_seed(0)
    model = build_model("dws-tiny-rgb").eval()
    ckpt, clf, inception = tmp_path / "checkpoint.pt", tmp_path / "clf.pt", tmp_path / "inception.pt"
    save_atomic({"config": model.config.to_dict(), "ema": model.state_dict(), "dataset": "cifar10"}, ckpt)
    arch = {"in_channels": 3, "num_classes": 10, "feature_dim": 256}
    save_atomic({"arch": arch, "model": SmallCNN(**arch).state_dict(), "dataset": "cifar10"}, clf)
    torch.jit.script(StandInInception().eval()).save(str(inception))
    out = tmp_path / "eval.json"
    common = ["--classifier", clf, "--data", tiny_cifar, "--samples", 10, "--fd-samples", 30, "--steps", 1,
              "--batch", 6, "--k", 2, "--quiet", "--device", "cpu"]
    evaluate_main([*map(str, ["--checkpoint", ckpt, *common, "--guidance", 1, 2, "--inception-weights", inception,
                              "--json", out])])
    assert "FD_clf" in capsys.readouterr().out  # the table
    rows = json.loads(out.read_text())
    assert [r["guidance"] for r in rows] == [1, 2]
    for row in rows:
        assert row["dataset"] == "cifar10" and row["samples"] == 10 and len(row["per_class_accuracy"]) == 10
        assert row["fd_samples"] == 30 and row["fd_floor_samples"] == 20  # the test batch has 20 images
        for key in ("fd_clf", "fd_clf_floor", "fd_clf_at_floor_samples", "fid_inception", "fid_inception_floor"):
            assert np.isfinite(row[key]) and row[key] >= 0, key
        assert 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 and row["pr_k"] == 2
    assert rows[0]["fd_clf_floor"] == rows[1]["fd_clf_floor"]
    assert rows[0]["fd_clf_floor_train"] is None  # 40 training images leave no room for 2 x 30

    evaluate_main([*map(str, ["--checkpoint", ckpt, *common, "--fd-samples", 20, "--json", out])])
    row = json.loads(out.read_text())[0]  # 2 x 20 disjoint training images: a floor at the full count
    assert row["fd_clf_floor_train_samples"] == 20 and np.isfinite(row["fd_clf_floor_train"])
    assert row["fd_clf_floor_train"] > 0

    for extra, message in ((["--data", tmp_path / "no"], "error: data folder"),
                           (["--inception-weights", tmp_path / "none.pt"], "do not exist"),
                           (["--classifier", tmp_path / "none.pt"], "classifier")):
        with pytest.raises(SystemExit) as exit_info:
            evaluate_main([*map(str, ["--checkpoint", ckpt, *common, *extra])])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err

    export_onnx(model, tmp_path / "t.onnx")
    threads = torch.get_num_threads()
    try:
        evaluate_main([*map(str, ["--onnx", tmp_path / "t.onnx", *common, "--fd-samples", 0, "--threads", 1,
                                  "--json", out])])
    finally:
        torch.set_num_threads(threads)
    row = json.loads(out.read_text())[0]
    assert row["threads"] == 1
    assert row["samples"] == 10 and "fd_clf" not in row  # shape (3, 32, 32) read from the ONNX input


def test_evaluate_refuses_an_unwritable_json_before_loading_anything(tmp_path, capsys):
    """The --json folder is checked first: no model, classifier or data is read (none of them exist here)."""
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main([*map(str, ["--checkpoint", tmp_path / "none.pt", "--classifier", tmp_path / "none.pt",
                                  "--json", tmp_path / "missing" / "eval.json"])])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "--json" in err and "does not exist" in err
    assert not (tmp_path / "missing").exists()
