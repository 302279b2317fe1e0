import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from diffit.checkpoint import load_checkpoint
from diffit.data import DataError, load_fashion_mnist, read_idx
from diffit.diffusion import EDMLoss
from diffit.models import MODEL_PRESETS, build_model
from diffit.throughput import training_flops_per_image
from diffit.train import main as train_main

from conftest import REPO


def run_cli(module, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO / "training", timeout=600)


def test_few_steps_lower_the_loss_on_a_fixed_batch(tiny_fmnist):
    torch.manual_seed(0)
    images, labels = load_fashion_mnist(tiny_fmnist)
    x, y = torch.from_numpy(images[:16]), torch.from_numpy(labels[:16])
    model = build_model("diffit-tiny")
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = EDMLoss(num_classes=10, label_dropout=0.0)

    def loss_at_fixed_noise():
        return loss_fn(model, x, y, torch.Generator().manual_seed(123))

    with torch.no_grad():
        before = loss_at_fixed_noise().item()
    for _ in range(25):
        loss = loss_at_fixed_noise()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = loss_at_fixed_noise().item()
    assert after < 0.7 * before, (before, after)


def test_idx_reader_and_padding(tiny_fmnist):
    images, labels = load_fashion_mnist(tiny_fmnist, "test")
    assert images.shape == (20, 1, 32, 32) and labels.shape == (20,)
    assert images.min() >= -1 and images.max() <= 1
    assert np.all(images[:, :, :2] == -1) and np.all(images[:, :, :, -2:] == -1)  # 2-pixel padding


def test_corrupt_or_missing_data_gives_clear_errors(tmp_path, tiny_fmnist):
    with pytest.raises(DataError, match="does not exist"):
        load_fashion_mnist(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte").write_bytes(b"not an idx file at all")
    (bad / "train-labels-idx1-ubyte").write_bytes((tiny_fmnist / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match="bad magic"):
        load_fashion_mnist(bad)
    truncated = tmp_path / "t.idx"
    truncated.write_bytes((tiny_fmnist / "train-labels-idx1-ubyte").read_bytes()[:-5])
    with pytest.raises(DataError, match="declares"):
        read_idx(truncated)


def test_train_cli_checkpoints_resumes_and_protects_good_runs(tmp_path, tiny_fmnist):
    out = tmp_path / "run"
    common = ["--model", "dws-tiny", "--data", tiny_fmnist, "--out", out, "--batch", 16, "--grid-steps", 2,
              "--checkpoint-every", 32, "--quiet", "--seed", 3]
    first = run_cli("diffit.train", *common, "--images", 64)
    assert first.returncode == 0, first.stderr
    ckpt = out / "checkpoint.pt"
    assert ckpt.exists() and (out / "samples.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_seen"] == 64
    # The chip's share (issue 9): F_img from diffit.throughput; a CPU has no listed bf16 peak.
    assert summary["train_flops_per_image"] == training_flops_per_image(MODEL_PRESETS["dws-tiny"])
    assert summary["tflops"] == pytest.approx(summary["images_per_s"] * summary["train_flops_per_image"] / 1e12)
    assert summary["peak_share"] is None and summary["peak_bf16_tflops"] is None
    good = ckpt.read_bytes()

    again = run_cli("diffit.train", *common, "--images", 64)
    assert again.returncode == 2 and "already exists" in again.stderr
    missing = run_cli("diffit.train", *[a if a != tiny_fmnist else tmp_path / "gone" for a in common], "--resume",
                      "--images", 96)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert ckpt.read_bytes() == good  # a bad data path never touches the good checkpoint

    resumed = run_cli("diffit.train", *common, "--resume", "--images", 96)
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(ckpt)["images_seen"] == 96

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "checkpoint.pt").write_bytes(b"garbage")
    broken = run_cli("diffit.train", *common[:4], "--out", tmp_path / "broken", "--resume", "--images", 96, "--quiet")
    assert broken.returncode == 2 and "unreadable" in broken.stderr


def test_init_from_warm_starts_a_new_run_from_a_snapshot(tmp_path, tiny_fmnist):
    """--init-from: network and EMA from the snapshot, images and wall time carried on, warm-up counted anew."""
    common = ["--data", tiny_fmnist, "--batch", 16, "--grid-steps", 1, "--quiet", "--seed", 3]
    first = run_cli("diffit.train", "--model", "dws-tiny", *common, "--out", tmp_path / "a", "--images", 64,
                    "--snapshot-every", 64)
    assert first.returncode == 0, first.stderr
    snapshot = tmp_path / "a" / "ema-000000064.pt"
    snap = load_checkpoint(snapshot)

    # Refusals, before anything is written.
    for args, message in (
        (["--model", "diffit-tiny", "--images", 96], "holds model dws-tiny, not diffit-tiny"),
        (["--model", "dws-tiny", "--images", 64], "must be more"),
        (["--model", "dws-tiny", "--images", 96, "--resume"], "give one of them"),
    ):
        refused = run_cli("diffit.train", *args, *common, "--out", tmp_path / "r", "--init-from", snapshot)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert not (tmp_path / "r").exists()
    missing = run_cli("diffit.train", "--model", "dws-tiny", *common, "--out", tmp_path / "m", "--images", 96,
                      "--init-from", tmp_path / "nothing.pt")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and not (tmp_path / "m").exists()

    # The Run starts from the snapshot's EMA, with a fresh optimiser and the warm-up counted from 64 images.
    from diffit.data import load_fashion_mnist
    from diffit.training_loop import Run, RunOptions, TrainingData
    images, labels = load_fashion_mnist(tiny_fmnist)
    options = RunOptions(model="dws-tiny", dataset="fashion-mnist", data=str(tiny_fmnist), out=str(tmp_path / "b"),
                         images=96, batch=16, lr=1e-3, lr_warmup=64, ema_halflife=1000, ema_rampup=0.05, grad_clip=1,
                         seed=3, device="cpu", bf16=False, xflip=False, checkpoint_every=1000, grid_every=0,
                         grid_steps=1, snapshot_every=0, max_seconds=0, quiet=True, init_from=str(snapshot))
    run = Run(options, TrainingData(images, labels, [str(i) for i in range(10)]), None, snap)
    for key, value in snap["ema"].items():
        torch.testing.assert_close(run.model.state_dict()[key], value, rtol=0, atol=0)
        torch.testing.assert_close(run.ema.state_dict()[key], value, rtol=0, atol=0)
    assert run.images_seen == 64 and run.lr_warmup_from == 64 and not run.optimizer.state

    warm = run_cli("diffit.train", "--model", "dws-tiny", *common, "--out", tmp_path / "c", "--images", 96,
                   "--init-from", snapshot)
    assert warm.returncode == 0, warm.stderr
    ckpt = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert ckpt["images_seen"] == 96 and ckpt["lr_warmup_from"] == 64
    assert ckpt["wall_time_s"] > snap["wall_time_s"]
    assert ckpt["init_from"] == {"path": str(snapshot), "images_seen": 64, "seed": 3, "hardware": snap["hardware"],
                                 "wall_time_s": snap["wall_time_s"]}
    resumed = run_cli("diffit.train", "--model", "dws-tiny", *common, "--out", tmp_path / "c", "--images", 112,
                      "--resume")
    assert resumed.returncode == 0, resumed.stderr
    again = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert again["images_seen"] == 112 and again["lr_warmup_from"] == 64 and again["init_from"] == ckpt["init_from"]


def test_images_file_lowers_the_training_length_while_it_runs(tmp_path, tiny_fmnist):
    """--images-file (gpu_run.py's equal terms): read every 20 steps, it stops the run at the first step at or past
    the length it names; garbage in it changes nothing."""
    common = ["--model", "dws-tiny", "--data", tiny_fmnist, "--batch", 16, "--grid-steps", 1, "--quiet",
              "--images", 100_000]
    lower = tmp_path / "images.txt"
    lower.write_text("400\n")
    run = run_cli("diffit.train", *common, "--out", tmp_path / "a", "--images-file", lower)
    assert run.returncode == 0, run.stderr
    assert load_checkpoint(tmp_path / "a" / "checkpoint.pt")["images_seen"] == 400  # checked at 320, then ran to 400
    assert "set to 400 images" in run.stdout
    # It may also raise the length, up to --images, and a file that names nothing keeps it.
    from diffit.training_loop import RunOptions, _target_from_file
    options = RunOptions(model="dws-tiny", dataset="fashion-mnist", data="", out="", images=1000, batch=16, lr=1e-3,
                         lr_warmup=0, ema_halflife=1, ema_rampup=0.05, grad_clip=1, seed=0, device="cpu", bf16=False,
                         xflip=False, checkpoint_every=1, grid_every=0, grid_steps=1, snapshot_every=0, max_seconds=0,
                         quiet=True, images_file=str(lower))
    at = SimpleNamespace(images_seen=320)  # a step where the file is read (every 20 steps of 16)
    for text, expected in (("700", 700), ("5000", 1000), ("", 400), ("x", 400)):
        lower.write_text(text)
        assert _target_from_file(options, at, 400, torch.device("cpu")) == expected
    assert _target_from_file(options, SimpleNamespace(images_seen=336), 400, torch.device("cpu")) == 400  # not read
    lower.write_text("not a number")
    run = run_cli("diffit.train", *common[:-1], 480, "--out", tmp_path / "b", "--images-file", lower)
    assert run.returncode == 0 and load_checkpoint(tmp_path / "b" / "checkpoint.pt")["images_seen"] == 480


def test_divergence_guard_goes_back_to_a_state_from_before_the_rise():
    """DivergenceGuard: smoothed by a median of 5 log lines, it fires above ratio x the lowest smoothed loss (and on a
    NaN loss); it keeps copies only while the loss is near its best, the last two, and falls back to the older."""
    from diffit.training_loop import DivergenceGuard

    guard = DivergenceGuard(ratio=2.0, every=100)
    for loss in (1.0, 0.9, 1.1, 0.95, 1.05):
        assert not guard.observe(loss)
    assert guard.smoothed() == 1.0 and guard.wants_copy(0)
    guard.keep({"images_seen": 0}, 0)
    assert not guard.wants_copy(50)  # not before `every` more images
    for images, loss in ((100, 0.9), (200, 0.8)):
        assert not guard.observe(loss) and guard.wants_copy(images)
        guard.keep({"images_seen": images}, images)
    assert guard.fallback() == {"images_seen": 100}  # the older of the last two
    rising = [1.2, 1.5, 2.0, 2.5, 3.0]
    fired = [guard.observe(loss) for loss in rising]
    assert not guard.wants_copy(10_000)  # the loss is no longer near its best: no copy of a bad state
    assert fired == [False] * 4 + [True]  # the median of the last five passes 2 x 0.95 only at 3.0 (median 2.0)
    assert DivergenceGuard(2.0, 100).observe(float("nan"))


def test_a_diverging_run_stops_at_a_state_kept_before_it_and_resumes_from_there(tmp_path, tiny_fmnist):
    """A learning rate ramped to 3 makes dws-tiny's loss run away after a few hundred images: the guard stops the run,
    the checkpoint holds the older kept state (finite weights, fewer images), the summary says what happened, and a
    resume trains on from there. --divergence-guard 0 or above 1 only, refused in one line otherwise."""
    common = ["--model", "dws-tiny", "--data", tiny_fmnist, "--batch", 16, "--grid-steps", 1, "--quiet",
              "--checkpoint-every", 16, "--divergence-every", 64]
    run = run_cli("diffit.train", *common, "--out", tmp_path / "a", "--images", 1600, "--lr", 3, "--lr-warmup", 1600)
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    diverged = summary["diverged"]
    assert diverged is not None and diverged["smoothed_loss"] > 2 * diverged["lowest_smoothed_loss"]
    assert diverged["back_to_images"] + 64 <= diverged["at_images"] < 1600
    assert "the loss diverged at" in run.stdout
    state = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    assert state["images_seen"] == summary["images_seen"] == diverged["back_to_images"]
    assert all(torch.isfinite(v).all() for v in state["model"].values() if torch.is_floating_point(v))
    more = run_cli("diffit.train", *common, "--out", tmp_path / "a", "--resume", "--images", state["images_seen"] + 32,
                   "--lr", 1e-3, "--divergence-guard", 0)
    assert more.returncode == 0, more.stderr
    assert load_checkpoint(tmp_path / "a" / "checkpoint.pt")["images_seen"] == state["images_seen"] + 32
    refused = run_cli("diffit.train", *common, "--out", tmp_path / "b", "--images", 32, "--divergence-guard", 0.5)
    assert refused.returncode == 2 and "--divergence-guard must be 0 (off) or above 1" in refused.stderr
    assert not (tmp_path / "b").exists()


def test_training_is_seeded(tmp_path, tiny_fmnist):
    weights = []
    for name in ("a", "b"):
        result = run_cli("diffit.train", "--model", "diffip-tiny", "--data", tiny_fmnist, "--out", tmp_path / name,
                         "--batch", 16, "--images", 32, "--grid-steps", 1, "--quiet", "--seed", 7)
        assert result.returncode == 0, result.stderr
        weights.append(load_checkpoint(tmp_path / name / "checkpoint.pt")["model"])
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=0, atol=0)


def test_export_cli_writes_a_checked_manifest_entry(tmp_path, tiny_fmnist):
    run = tmp_path / "run"
    assert run_cli("diffit.train", "--model", "diffit-tiny", "--data", tiny_fmnist, "--out", run, "--batch", 16,
                   "--images", 16, "--grid-steps", 1, "--quiet").returncode == 0
    models = tmp_path / "models"
    result = run_cli("diffit.export", "--checkpoint", run / "checkpoint.pt", "--id", "t", "--label", "Tiny",
                     "--out-dir", models, "--preview-steps", 1)
    assert result.returncode == 0, result.stderr
    entry = json.loads((models / "manifest.json").read_text())["models"][0]
    data = (models / "t.onnx").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert entry["weight_storage"] == "float16" and entry["parity"]["float32_graph"]["denoised"] <= 1e-4
    assert entry["parity"]["denoised"] <= entry["parity"]["tolerance"] and len(entry["attention"]) == 4
    assert entry["training"]["images_seen"] == 16 and (models / entry["preview"]).exists()
    bad = run_cli("diffit.export", "--checkpoint", tmp_path / "nope.pt", "--id", "t", "--label", "x", "--out-dir", models)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
    assert (models / "t.onnx").read_bytes() == data

    # --evaluation-only replaces the entry's evaluation block and leaves the rest (and the file) alone.
    rows = [{"guidance": 1.0, "classifier_accuracy": 0.5, "samples": 10, "steps": 18, "seed": 1, "fd_clf": 3.5,
             "fd_clf_floor": 1.25, "fd_samples": 20, "fd_floor_samples": 20, "fd_steps": 12, "precision": 0.5,
             "recall": 0.25},
            {"guidance": 2.0, "classifier_accuracy": 0.75, "samples": 10, "steps": 18, "seed": 1}]
    for row, per_class in zip(rows, ([0.5, 0.5], [1.0, 0.5]), strict=True):
        row["per_class_accuracy"] = per_class
    (tmp_path / "eval.json").write_text(json.dumps(rows))
    result = run_cli("diffit.export", "--id", "t", "--evaluation-only", "--evaluation", tmp_path / "eval.json",
                     "--out-dir", models)
    assert result.returncode == 0, result.stderr
    updated = json.loads((models / "manifest.json").read_text())["models"][0]
    assert updated["evaluation"]["classifier_accuracy"] == {"1.0": 0.5, "2.0": 0.75}
    assert updated["evaluation"]["fd_clf"] == {"1.0": 3.5, "2.0": None} and updated["evaluation"]["fd_steps"] == 12
    assert updated["evaluation"]["fd_clf_floor"] == 1.25
    assert updated["evaluation"]["mean_class_accuracy"] == {"1.0": 0.5, "2.0": 0.75}
    assert {k: v for k, v in updated.items() if k != "evaluation"} == {k: v for k, v in entry.items() if k != "evaluation"}
    missing = run_cli("diffit.export", "--id", "nope", "--evaluation-only", "--evaluation", tmp_path / "eval.json",
                      "--out-dir", models)
    assert missing.returncode != 0 and "no model 'nope'" in missing.stderr


def test_shipped_models_match_their_manifest():
    manifest = json.loads((REPO / "public" / "models" / "manifest.json").read_text())
    assert {m["id"] for m in manifest["models"]} >= {"diffit-fmnist", "dws-fmnist", "diffip-fmnist"}
    for entry in manifest["models"]:
        data = (REPO / "public" / "models" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        assert len(data) < 12 * 2**20
        for key in ("images_seen", "hardware", "wall_time_s", "seed"):
            assert entry["training"][key] is not None
        assert (REPO / "public" / "models" / entry["preview"]).exists()


def test_sample_cli_is_deterministic(tmp_path):
    args = ["--manifest", REPO / "public/models/manifest.json", "--model", "diffit-fmnist", "--seed", 5, "--steps", 2,
            "--class", "Trouser", "--guidance", 2, "--batch", 2]
    a = run_cli("diffit.sample", *args, "--json", tmp_path / "a.json", "--png", tmp_path / "a.png", cwd=REPO)
    b = run_cli("diffit.sample", *args, "--json", tmp_path / "b.json", cwd=REPO)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ja, jb = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert ja["shape"] == [2, 1, 32, 32] and ja["class"] == 1 and len(ja["pixels"]) == 2048
    assert ja["pixels"] == jb["pixels"]
    bad = run_cli("diffit.sample", *args[:4], "--class", "Spaceship", cwd=REPO)
    assert bad.returncode != 0 and "Spaceship" in bad.stderr


def test_ddp_under_torchrun(tmp_path, tiny_fmnist):
    """Two CPU processes (gloo) train one model with PyTorch DDP; rank 0 writes the run."""
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run([str(torchrun), "--nproc_per_node=2", "--master_port=29533", "-m", "diffit.train",
                             "--model", "diffip-tiny", "--data", str(tiny_fmnist), "--out", str(tmp_path / "ddp"),
                             "--images", "64", "--batch", "16", "--grid-steps", "1", "--quiet"],
                            capture_output=True, text=True, cwd=REPO / "training", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world"] == 2 and summary["images_seen"] == 64


def test_export_reads_its_side_files_before_writing(tmp_path, tiny_fmnist):
    """A missing evaluation or training JSON stops the export before the ONNX file or the manifest changes."""
    run = tmp_path / "run"
    assert run_cli("diffit.train", "--model", "diffip-tiny", "--data", tiny_fmnist, "--out", run, "--batch", 16,
                   "--images", 16, "--grid-steps", 1, "--quiet").returncode == 0
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text('{"version": 1, "models": []}\n')
    for flag in ("--evaluation", "--training-json"):
        result = run_cli("diffit.export", "--checkpoint", run / "checkpoint.pt", "--id", "t", "--label", "Tiny",
                         "--out-dir", models, "--no-preview", flag, tmp_path / "missing.json")
        assert result.returncode == 2 and "cannot read the" in result.stderr
        assert not (models / "t.onnx").exists()
        assert (models / "manifest.json").read_text() == '{"version": 1, "models": []}\n'


def train_error(capsys, *args) -> str:
    """Run diffit.train in-process, expecting exit 2; its stderr (one line)."""
    with pytest.raises(SystemExit) as exit_info:
        train_main(list(map(str, [*args, "--quiet", "--device", "cpu"])))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_unwritable_out_stops_before_any_work(tmp_path, tiny_fmnist, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = train_error(capsys, "--model", "diffit-tiny", "--data", tiny_fmnist, "--out", blocker / "run")
    assert "is a file, not a folder" in err
    err = train_error(capsys, "--model", "diffit-tiny", "--data", tiny_fmnist, "--out", "/proc/diffit-run")
    assert "not writable" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "fmnist"]  # nothing written


def test_data_that_is_not_a_data_set_is_named_for_what_it_is(tmp_path, capsys):
    out = tmp_path / "run"
    err = train_error(capsys, "--model", "diffit-tiny-rgb", "--dataset", "cifar10", "--data", "/etc/passwd", "--out", out)
    assert "/etc/passwd is a file" in err and "does not exist" not in err
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is no zip archive\n" * 10)
    err = train_error(capsys, "--model", "diffit-tiny", "--data", garbage, "--out", out)
    assert "is not a .npz archive" in err and "pickle" not in err
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    err = train_error(capsys, "--model", "diffit-tiny", "--data", other, "--out", out)
    assert "lacks classes, dataset, train_images, train_labels" in err
    assert not out.exists()
