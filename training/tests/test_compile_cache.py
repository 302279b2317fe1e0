"""torch.compile's artifacts carried between machines (diffit/compile_cache.py): a fresh process that loads the file
compiles from cache; a missing or foreign file is reported, never raised; diffit.train loads it before compiling and
writes it after the first step and at the end."""

import dataclasses
import json
import os
import subprocess
import sys

import torch
from test_checkpoint import options, tiny_data
from test_training import train_error

from diffit import compile_cache
from diffit.training_loop import training_loop

from conftest import REPO

# A fresh interpreter with its own, empty Inductor cache folder: whatever it finds compiled came from FILE.
CHILD = """
import json, sys, torch
from torch._dynamo.utils import counters
from diffit import compile_cache
mode, path = sys.argv[1], sys.argv[2]
message = compile_cache.load(path) if mode == "load" else None
f = torch.compile(lambda x: (x.sin() * 2 + x.square()).sum(dim=1))
f(torch.randn(4, 8))
written = compile_cache.save(path) if mode == "save" else None
print(json.dumps({"message": message, "written": written, "hits": counters["inductor"]["fxgraph_cache_hit"],
                  "misses": counters["inductor"]["fxgraph_cache_miss"]}))
"""


def child(mode, path, cache_dir):
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO / "training")}
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_fresh_process_compiles_from_the_saved_artifacts(tmp_path):
    path = tmp_path / "runs" / "m" / "compile-cache.bin"
    first = child("save", path, tmp_path / "inductor-a")
    assert first["misses"] >= 1 and first["hits"] == 0 and first["written"] == path.stat().st_size > 0
    second = child("load", path, tmp_path / "inductor-b")  # another machine, as far as Inductor can tell
    assert "loaded" in second["message"] and second["hits"] >= 1 and second["misses"] == 0


def test_a_missing_or_foreign_file_is_reported_not_raised(tmp_path):
    assert "none yet" in compile_cache.load(tmp_path / "none.bin")
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"not a cache\n" * 8)
    assert "not used" in compile_cache.load(foreign)


def test_training_loads_before_compiling_and_writes_after_the_first_step_and_at_the_end(tmp_path, tiny_fmnist,
                                                                                      monkeypatch):
    """The wiring of training_loop, with the graph compiled by aot_eager (no C++ build) and the cache calls recorded."""
    calls = []
    compile_eager = torch.compile
    monkeypatch.setattr(torch, "compile", lambda net, mode="default": calls.append("compile") or compile_eager(net, backend="aot_eager"))
    monkeypatch.setattr(compile_cache, "load", lambda path: calls.append(("load", path)) or "loaded")
    monkeypatch.setattr(compile_cache, "save", lambda path: calls.append(("save", path)) or 1)
    cache = tmp_path / "cache.bin"
    o = dataclasses.replace(options(tmp_path / "run", model="diffit-tiny", images=48, checkpoint_every=16), compile=True,
                            compile_cache=str(cache))
    training_loop(o, tiny_data(tiny_fmnist))
    assert calls == [("load", cache), "compile", ("save", cache), ("save", cache)]


def test_diffit_train_refuses_a_cache_without_compile_or_onto_a_folder(tmp_path, tiny_fmnist, capsys):
    common = ["--model", "diffit-tiny", "--data", tiny_fmnist, "--out", tmp_path / "run"]
    assert "--compile-cache needs --compile" in train_error(capsys, *common, "--compile-cache", tmp_path / "c.bin")
    assert "is a folder" in train_error(capsys, *common, "--compile", "--compile-cache", tmp_path)
    assert not (tmp_path / "run").exists()
