"""The checkpoint format: split into parts, rejoined, resumed bit-exactly; damage is a clear error."""

import dataclasses
import io

import pytest
import torch

from diffit.checkpoint import CheckpointError, checkpoint_files, load_checkpoint, save_checkpoint
from diffit.data import load_dataset
from diffit.training_loop import RunOptions, TrainingData, training_loop

PART = 96 * 1024  # small enough that every section of a tiny model is cut into several parts


def options(out, **changes) -> RunOptions:
    base = RunOptions(model="dws-tiny", dataset="fashion-mnist", data="", out=str(out), images=64, batch=16, lr=2e-3,
                      lr_warmup=32, ema_halflife=500, ema_rampup=0.05, grad_clip=1.0, seed=4, device="cpu", bf16=False,
                      xflip=True, checkpoint_every=10**9, grid_every=0, grid_steps=1, snapshot_every=0, max_seconds=0,
                      quiet=True, part_bytes=PART)
    return dataclasses.replace(base, **changes)


def tiny_data(folder) -> TrainingData:
    return TrainingData(*load_dataset("fashion-mnist", folder, "train"))


def assert_same(a, b):
    """Bit-exact equality of two nested state structures."""
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)


def test_split_checkpoint_resumes_bit_exactly(tmp_path, tiny_fmnist):
    """64 images straight == 32 images, save in parts, load and rejoin, 32 more."""
    data = tiny_data(tiny_fmnist)
    training_loop(options(tmp_path / "straight"), data)
    training_loop(options(tmp_path / "halves", images=32), data)
    index = tmp_path / "halves" / "checkpoint.pt"
    files = checkpoint_files(index)
    parts = files[1:]
    assert {p.name.split(".")[1] for p in parts} == {"model", "ema", "optimizer"}
    assert len(parts) >= 6 and all(p.stat().st_size <= PART for p in parts)
    resumed = load_checkpoint(index)
    assert resumed["images_seen"] == 32
    training_loop(options(tmp_path / "halves"), data, resumed)

    straight = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    halves = load_checkpoint(index)
    for key in ("model", "ema", "optimizer", "generator", "cursor", "images_seen"):
        assert_same(straight[key], halves[key])
    # Parts the new index no longer names are gone: exactly the index and its parts remain.
    on_disk = {p.name for p in (tmp_path / "halves").glob("checkpoint*")}
    assert on_disk == {p.name for p in checkpoint_files(index)}


def sample_state():
    model = torch.nn.Sequential(torch.nn.Linear(64, 300), torch.nn.Linear(300, 8))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 64)).square().sum().backward()
    optimizer.step()
    return {"config": {"name": "x"}, "images_seen": 5, "model": model.state_dict(), "ema": model.state_dict(),
            "optimizer": optimizer.state_dict(), "generator": torch.Generator().manual_seed(1).get_state()}


def test_round_trip_and_single_file(tmp_path):
    state = sample_state()
    written = save_checkpoint(tmp_path / "c.pt", state, part_bytes=64 * 1024)
    assert len(written) > 4 and all(p.stat().st_size <= 64 * 1024 for p in written)
    assert_same(state, load_checkpoint(tmp_path / "c.pt"))
    assert save_checkpoint(tmp_path / "one.pt", state, part_bytes=None) == [tmp_path / "one.pt"]
    assert_same(state, load_checkpoint(tmp_path / "one.pt"))
    # The index alone is a plain torch file holding the metadata (what other tools read without the tensors).
    assert torch.load(tmp_path / "c.pt", weights_only=False)["images_seen"] == 5


def test_bf16_optimizer_state_is_smaller_and_close_but_not_exact(tmp_path):
    state = sample_state()
    exact = save_checkpoint(tmp_path / "a.pt", state)
    small = save_checkpoint(tmp_path / "b.pt", state, optimizer_dtype=torch.bfloat16)
    size = lambda files, section: sum(p.stat().st_size for p in files if f".{section}." in p.name)
    assert size(small, "optimizer") < 0.6 * size(exact, "optimizer")
    loaded = load_checkpoint(tmp_path / "b.pt")["optimizer"]["state"]
    for i, moments in state["optimizer"]["state"].items():
        assert torch.equal(loaded[i]["step"], moments["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            assert loaded[i][key].dtype == torch.float32
            torch.testing.assert_close(loaded[i][key], moments[key], rtol=1e-2, atol=1e-12)
    assert any(not torch.equal(loaded[i]["exp_avg"], m["exp_avg"]) for i, m in state["optimizer"]["state"].items())


def test_missing_or_damaged_part_is_a_clear_error(tmp_path):
    files = save_checkpoint(tmp_path / "c.pt", sample_state(), part_bytes=64 * 1024)
    part = next(p for p in files if ".optimizer." in p.name)
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="optimizer part .* is damaged"):
        load_checkpoint(tmp_path / "c.pt")
    part.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        load_checkpoint(tmp_path / "c.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "bad.pt")
    buffer = io.BytesIO()
    torch.save({"something": 1}, buffer)
    (tmp_path / "other.pt").write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="not a DiffiT training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
