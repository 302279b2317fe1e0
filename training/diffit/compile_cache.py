"""torch.compile's work carried from one machine to the next.

A GPU run compiles the network afresh on a fresh machine, and that time counts against a short budget.
PyTorch's portable cache ("mega-cache": torch.compiler.save_cache_artifacts / load_cache_artifacts) packs what
Inductor and AOTAutograd compiled into one blob; loading it before `torch.compile` turns the next run's
compilation into cache hits where the torch version, the device and the graphs match, and changes nothing
where they do not. `diffit.train --compile-cache FILE` loads FILE when it exists and writes it after the first
step (when the forward and backward graphs are compiled) and at the end; scripts/gpu_run.py brings it back
beside the checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .outputs import write_atomic


def load(path: str | Path) -> str:
    """Load the artifacts in `path` into this process's compile caches, before anything is compiled.
    Returns one line for the log; a missing, unreadable or foreign file is reported, never raised."""
    path = Path(path)
    if not path.is_file():
        return f"compile cache {path}: none yet (this run compiles from scratch and writes it)"
    try:
        info = torch.compiler.load_cache_artifacts(path.read_bytes())
    except Exception as error:  # another torch version's blob, a truncated file: compile from scratch
        return f"compile cache {path}: not used ({type(error).__name__}: {error})"
    if info is None:  # PyTorch logs why (a checksum or version mismatch) and loads nothing
        return f"compile cache {path}: not used (no artifacts that torch {torch.__version__} can load)"
    counts = {kind: len(keys) for kind, keys in info.artifacts.items()}
    return f"compile cache {path}: loaded {path.stat().st_size:,} bytes ({counts or 'no artifacts'})"


def save(path: str | Path) -> int:
    """Write what this process compiled (and loaded) so far to `path`, atomically; returns the bytes written
    (0, and `path` untouched, when nothing was compiled)."""
    artifacts = torch.compiler.save_cache_artifacts()
    if artifacts is None:
        return 0
    blob = artifacts[0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, blob)
    return len(blob)
