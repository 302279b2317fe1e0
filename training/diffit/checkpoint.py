"""Checkpoints written atomically (temporary file, fsync, rename), so a crash never leaves a broken one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .models import DiffiTConfig, build_model


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not a DiffiT checkpoint."""


def save_atomic(state: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable: {error}") from error
    if not isinstance(state, dict) or "config" not in state or "ema" not in state:
        raise CheckpointError(f"{path} is not a DiffiT training checkpoint")
    return state


def load_ema_model(path: Path, map_location="cpu") -> tuple[torch.nn.Module, dict]:
    """The EMA denoiser of a checkpoint, in eval mode, and the checkpoint itself."""
    state = load_checkpoint(path, map_location)
    model = build_model(DiffiTConfig.from_dict(state["config"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state
