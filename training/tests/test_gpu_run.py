"""The prepared GPU run, end to end on CPU with tiny models: stage the data over several calls, train twice
(the second resumes the first), pack what comes back within the device's limits, unpack it here."""

import filecmp
import json
import os
import subprocess
import sys

import pytest

from diffit.checkpoint import checkpoint_files, load_checkpoint

from conftest import REPO

SCRIPTS = REPO / "training" / "scripts"
sys.path.insert(0, str(SCRIPTS))

import gpu_run  # noqa: E402
import slim_tree  # noqa: E402
import stage  # noqa: E402


def script(name, *args):
    return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def assert_device_limits(out):
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 0 < len(files) <= 8
    assert all(p.stat().st_size <= 16 * 2**20 for p in files)
    assert sum(p.stat().st_size for p in files) <= 64 * 2**20


def test_stage_over_several_calls_is_lossless(tmp_path, tiny_fmnist):
    big = tmp_path / "noise.bin"
    big.write_bytes(bytes(range(256)) * 4096 + os.urandom(3 * 2**20))  # ~4 MiB, partly incompressible
    manifest = stage.pack({"data/fmnist": tiny_fmnist, "blob.bin": big}, tmp_path / "carry", call_bytes=2**20,
                          chunk_bytes=2**20)
    assert manifest["calls"] >= 3 and all(c["bytes"] <= 2**20 for c in manifest["chunks"])
    device = tmp_path / "device-stage"
    for call in range(1, manifest["calls"]):
        stage.receive(tmp_path / "carry" / f"call-{call}", device)
    with pytest.raises(stage.StageError, match=f"send call\\(s\\) {manifest['calls']} first"):
        stage.unpack(device, tmp_path / "gpu")
    stage.receive(tmp_path / "carry" / f"call-{manifest['calls']}", device)
    first = device / "chunk-000"
    good = first.read_bytes()
    first.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(stage.StageError, match="sha256"):
        stage.unpack(device, tmp_path / "gpu")
    first.write_bytes(good)
    assert stage.unpack(device, tmp_path / "gpu") == ["blob.bin", "data/fmnist"]
    assert (tmp_path / "gpu" / "blob.bin").read_bytes() == big.read_bytes()
    comparison = filecmp.dircmp(tiny_fmnist, tmp_path / "gpu" / "data" / "fmnist")
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only


def test_gpu_run_resumes_trains_and_packs_within_the_limits(tmp_path, tiny_fmnist):
    runs, here = tmp_path / "device-runs", tmp_path / "checkpoints"
    common = ["train", "--dataset", "fashion-mnist", "--suffix", "tiny", "--variants", "dws", "diffip", "--data",
              tiny_fmnist, "--runs-dir", runs, "--budget-s", 120, "--reserve-s", 20, "--batch", 16, "--lr-ref-batch",
              0, "--train-args", "--grid-steps", "1", "--device", "cpu", "--part-mib", "0.25"]
    reports = []
    for target, out in ((32, tmp_path / "out1"), (64, tmp_path / "out2")):
        if target == 64:  # what --fast's compile cache would leave (diffit/compile_cache.py; no compile on CPU here)
            (runs / "dws-tiny" / gpu_run.COMPILE_CACHE).write_bytes(b"compiled graphs\n")
        result = script("gpu_run.py", *common[:1], "--target-images", target, "--out", out, *common[1:])
        assert result.returncode == 0, result.stderr[-3000:]
        assert_device_limits(out)
        reports.append(json.loads((out / "gpu-run.json").read_text()))
        unpacked = script("gpu_run.py", "unpack", "--from", out, "--into", here, "--extras", tmp_path / "extras")
        assert unpacked.returncode == 0, unpacked.stderr
    first, second = reports
    for model in ("dws-tiny", "diffip-tiny"):
        assert first["runs"][model]["images_before"] == 0 and first["runs"][model]["images_after"] == 32
        assert second["runs"][model]["images_before"] == 32 and second["runs"][model]["images_after"] == 64
        assert load_checkpoint(here / model / "checkpoint.pt")["images_seen"] == 64
        assert (tmp_path / "extras" / model / "samples.png").exists() and not (here / model / "samples.png").exists()
    assert not second["left_out"] and {m for b in second["back"] for m in b["members"]} >= {"dws-tiny/checkpoint.pt"}
    # The compile cache travels with the checkpoint to the next run, not with the extras.
    assert (here / "dws-tiny" / gpu_run.COMPILE_CACHE).read_bytes() == b"compiled graphs\n"
    assert not (tmp_path / "extras" / "dws-tiny" / gpu_run.COMPILE_CACHE).exists()
    # Packed parts replace the earlier ones here: only the index and the parts it names remain.
    names = {p.name for p in (here / "dws-tiny").glob("checkpoint*")}  # the compile cache aside
    assert names == {p.name for p in checkpoint_files(here / "dws-tiny" / "checkpoint.pt")}


def test_gpu_run_starts_a_model_without_checkpoint_warm_from_init_dir(tmp_path, tiny_fmnist):
    snapshot_run = tmp_path / "shipped-run"
    trained = subprocess.run([sys.executable, "-m", "diffit.train", "--model", "diffip-tiny", "--data", str(tiny_fmnist),
                              "--out", str(snapshot_run), "--images", "32", "--batch", "16", "--snapshot-every", "32",
                              "--grid-steps", "1", "--quiet"], capture_output=True, text=True, cwd=gpu_run.TRAINING)
    assert trained.returncode == 0, trained.stderr
    weights = tmp_path / "weights"
    weights.mkdir()
    (snapshot_run / "ema-000000032.pt").rename(weights / "diffip-tiny-ema.pt")
    common = ["train", "--dataset", "fashion-mnist", "--suffix", "tiny", "--data", tiny_fmnist, "--budget-s", 120,
              "--reserve-s", 20, "--batch", 16, "--target-images", 64, "--init-dir", weights,
              "--train-args", "--grid-steps", "1", "--device", "cpu"]
    missing = script("gpu_run.py", *common[:1], "--variants", "dws", "diffip", "--runs-dir", tmp_path / "r1",
                     "--out", tmp_path / "o1", *common[1:])
    assert missing.returncode == 2 and "holds no dws-tiny-ema.pt for dws-tiny" in missing.stderr
    assert not (tmp_path / "r1").exists()
    result = script("gpu_run.py", *common[:1], "--variants", "diffip", "--runs-dir", tmp_path / "r2",
                    "--out", tmp_path / "o2", *common[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    entry = json.loads((tmp_path / "o2" / "gpu-run.json").read_text())["runs"]["diffip-tiny"]
    assert entry["images_before"] == 32 and entry["images_after"] == 64
    assert entry["init_from"] == str(weights / "diffip-tiny-ema.pt")
    assert load_checkpoint(tmp_path / "r2" / "diffip-tiny" / "checkpoint.pt")["init_from"]["images_seen"] == 32


def test_gpu_run_refuses_work_whose_checkpoints_cannot_come_back(tmp_path, tiny_fmnist):
    result = script("gpu_run.py", "train", "--dataset", "cifar10", "--data", tiny_fmnist, "--runs-dir", tmp_path,
                    "--budget-s", 60, "--out", tmp_path / "out")
    assert result.returncode == 2 and "--optimizer-state bf16" in result.stderr and result.stderr.count("\n") == 1
    assert gpu_run.checkpoint_bytes("diffit-cifar10", "bf16") < 0.8 * gpu_run.checkpoint_bytes("diffit-cifar10", "fp32")


def test_common_target_is_what_the_slowest_model_reaches_in_time():
    def rows(*pairs):  # (images, images/s) per history line
        return [{"images": i, "images_per_s": r} for i, r in pairs]

    steady = {"diffit": rows((10, 1), (600, 100), (1100, 100)), "dws": rows((10, 1), (900, 200), (1900, 200))}
    # diffit: 1100 + 100 img/s x 10 s x 0.9 = 2000; dws would reach 3700.
    assert gpu_run.common_target(steady, 10, margin=0.9) == 2000
    # Not before every model has a rate past its compiling first window.
    assert gpu_run.common_target({**steady, "diffip": rows((10, 1), (500, 300))}, 10) is None
    # Never below what a model has already seen, even at the end of the time.
    assert gpu_run.common_target(steady, 0) == 1900


def test_keep_equal_writes_the_common_length_whole_while_all_train(tmp_path):
    """keep_equal reads each run's log (from its offset), writes the common length, and returns once one run ends."""
    runs = {}
    for m, rate in (("a", 100), ("b", 400)):
        (tmp_path / m).mkdir()
        log = tmp_path / m / "train.log"
        old = json.dumps({"images": 10**9, "images_per_s": 1.0})  # an earlier run's line, before the offset
        lines = [json.dumps({"images": n, "images_per_s": rate}) for n in (100, 200, 300)]
        log.write_text(old + "\nsome other line\n" + "\n".join(lines) + '\n{"images": 4')
        runs[m] = (subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"]), None)
    offsets = {m: len(json.dumps({"images": 10**9, "images_per_s": 1.0})) + 1 for m in runs}
    import time
    deadline = time.time() + 100
    result = gpu_run.keep_equal(runs, tmp_path, offsets, deadline, poll_s=0.2)
    target = int((tmp_path / gpu_run.IMAGES_FILE).read_text())
    # a: 300 + 100 img/s x ~100 s x margin; b would reach far more
    assert result["target"] == target and 300 + 100 * 98 * gpu_run.EQUAL_MARGIN < target <= 300 + 100 * 100 * gpu_run.EQUAL_MARGIN
    assert result["updates"][0]["images_per_s"] == {"a": 100, "b": 400}
    assert not (tmp_path / gpu_run.IMAGES_FILE).with_suffix(".part").exists()
    assert result["final_because"] == "a model stopped"

    # A model at (or within the horizon of) the length fixes it: it may be stopping, and must not be left behind.
    (tmp_path / "b" / "train.log").write_text("\n".join(json.dumps({"images": n, "images_per_s": 400})
                                                        for n in (1000, 1500, 2000)) + "\n")
    runs = {m: (subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"]), None) for m in ("a", "b")}
    result = gpu_run.keep_equal(runs, tmp_path, {"a": offsets["a"], "b": 0}, time.time() + 10, poll_s=0.2)
    assert result["target"] == 2000 and result["final_because"] == "b within 15 s of it"
    assert len(result["updates"]) == 1


def test_pack_back_keeps_priority_and_limits(tmp_path):
    files = []
    for i, size in enumerate([700, 700, 300, 300, 900]):
        path = tmp_path / f"f{i}"
        path.write_bytes(bytes(size * 1024))
        files.append((f"run/f{i}", path))
    out = tmp_path / "out"
    out.mkdir()
    written, left_out = gpu_run.pack_back(files, out, slots=2, capacity=1100 * 1024, total=2100 * 1024)
    assert left_out == ["run/f4"]  # the last (least needed) file that fits nowhere
    assert [w["members"] for w in written] == [["run/f0", "run/f2"], ["run/f1", "run/f3"]]
    assert all((out / w["file"]).stat().st_size <= 1100 * 1024 for w in written)


def test_slim_tree_moves_big_tracked_files_out_and_back(tmp_path):
    repo = tmp_path / "repo"
    (repo / "public" / "models").mkdir(parents=True)
    (repo / "training" / "weights").mkdir(parents=True)
    onnx, weights, small = repo / "public/models/m.onnx", repo / "training/weights/m-ema.pt", repo / "README.md"
    onnx.write_bytes(b"o" * 5000)
    weights.write_bytes(b"w" * 3000)
    small.write_text("hello\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    assert slim_tree.tree_bytes(repo) == 8006
    stash = tmp_path / "stash"
    assert sorted(slim_tree.move_out(repo, stash)) == ["public/models/m.onnx", "training/weights/m-ema.pt"]
    assert slim_tree.tree_bytes(repo) == 6 and not onnx.exists()
    with pytest.raises(SystemExit, match="run `slim_tree.py back` first"):
        slim_tree.move_out(repo, stash)
    slim_tree.move_back(repo, stash)
    assert onnx.read_bytes() == b"o" * 5000 and weights.read_bytes() == b"w" * 3000
    assert slim_tree.tree_bytes(repo) == 8006 and not (stash / "stash.json").exists()
