"""Checkpoints: one format, written and read here.

A checkpoint is one dict: the run's metadata (config, images seen, random states, ...) and up to three
tensor sections, "model", "ema" and "optimizer" (state dicts).

`save_checkpoint(path, state, part_bytes)` writes it as

    path                                  the index: metadata, and for each section its tensor-free
                                          skeleton, tensor shapes/dtypes and its part files (bytes, sha256)
    <stem>.<section>.<NN>.<sha12>.pt      the section's tensors, flattened and cut so that every part
                                          file stays under `part_bytes` (a GPU run brings back files of
                                          at most 16 MiB)

Parts are written first, under names carrying their content hash, then the index atomically (temporary
file, fsync, rename), then parts that the new index no longer names are removed: a crash at any moment
leaves the old or the new checkpoint whole. With `part_bytes=None` every section stays inline in the one
file (the small EMA snapshots and the shipped training/weights/*-ema.pt files).

`load_checkpoint` reads either, checks every part's size and sha256, and returns the same dict that was
saved. Optimizer moments may be stored in bf16 (`optimizer_dtype`), halving their size; that rounds them,
so a resume from such a checkpoint is close but not bit-exact. fp32 (the default) resumes bit-exactly.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import torch

from .models import DiffiTConfig, build_model

SECTIONS = ("model", "ema", "optimizer")
PART_BYTES = 15 * 2**20  # under the 16 MiB a GPU run can bring back per file
_SLOT = "__checkpoint_tensor__"  # skeleton marker: {_SLOT: index into the section's tensor list}
_RECORD_OVERHEAD = 1024  # zip header, alignment and pickle bytes per saved piece (measured: ~200-600)
_FILE_OVERHEAD = 16 * 1024


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, damaged or not a DiffiT checkpoint."""


def _write_atomic(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _serialise(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_atomic(state: dict, path: Path) -> None:
    """One file, written atomically (temporary file, fsync, rename)."""
    _write_atomic(_serialise(state), Path(path))


def _extract(obj, tensors: list[torch.Tensor]):
    """The skeleton of `obj` with every tensor replaced by {_SLOT: i}; the tensors appended to `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors.append(obj)
        return {_SLOT: len(tensors) - 1}
    if isinstance(obj, dict):
        return {key: _extract(value, tensors) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_extract(value, tensors) for value in obj)
    return obj


def _fill(skeleton, tensors: list[torch.Tensor]):
    """Inverse of _extract."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_SLOT}:
            return tensors[skeleton[_SLOT]]
        return {key: _fill(value, tensors) for key, value in skeleton.items()}
    if isinstance(skeleton, (list, tuple)):
        return type(skeleton)(_fill(value, tensors) for value in skeleton)
    return skeleton


def _pieces(tensors: list[torch.Tensor], budget: int) -> list[list[tuple[int, int, int]]]:
    """Cut the flattened tensors into parts of at most `budget` bytes: per part, (tensor, start, stop) ranges."""
    parts: list[list[tuple[int, int, int]]] = [[]]
    used = _FILE_OVERHEAD
    for i, tensor in enumerate(tensors):
        size, start = tensor.element_size(), 0
        while start < tensor.numel():
            room = (budget - used - _RECORD_OVERHEAD) // size
            if room <= 0:
                parts.append([])
                used = _FILE_OVERHEAD
                continue
            stop = min(tensor.numel(), start + room)
            parts[-1].append((i, start, stop))
            used += (stop - start) * size + _RECORD_OVERHEAD
            start = stop
    return [part for part in parts if part]


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """A tensor as stored in a part: on the CPU, flat, optionally cast (floating tensors with elements to spare)."""
    flat = tensor.detach().to("cpu").reshape(-1)
    if dtype is not None and tensor.is_floating_point() and tensor.dim() > 0:
        flat = flat.to(dtype)
    return flat


def _part_name(stem: str, section: str, number: int, sha: str) -> str:
    return f"{stem}.{section}.{number:02d}.{sha[:12]}.pt"


def _part_pattern(stem: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(stem)}\.({'|'.join(SECTIONS)})\.\d\d\.[0-9a-f]{{12}}\.pt$")


def save_checkpoint(path: Path, state: dict, part_bytes: int | None = PART_BYTES,
                    optimizer_dtype: torch.dtype | None = None) -> list[Path]:
    """Write `state` as an index plus part files under `part_bytes` each (see the module doc); the files written."""
    path = Path(path)
    if part_bytes is None:
        save_atomic(state, path)
        return [path]
    if part_bytes < 4 * _FILE_OVERHEAD:
        raise ValueError(f"part size {part_bytes} bytes is too small")
    index = {key: value for key, value in state.items() if key not in SECTIONS}
    index["sections"] = {}
    written = []
    for section in SECTIONS:
        if section not in state:
            continue
        tensors: list[torch.Tensor] = []
        skeleton = _extract(state[section], tensors)
        dtype = optimizer_dtype if section == "optimizer" else None
        stored = [_stored(t, dtype) for t in tensors]
        files = []
        for number, part in enumerate(_pieces(stored, part_bytes)):
            data = _serialise([(i, start, stored[i][start:stop].clone()) for i, start, stop in part])
            if len(data) > part_bytes:
                raise AssertionError(f"part of {len(data)} bytes exceeds {part_bytes}: raise _RECORD_OVERHEAD")
            sha = hashlib.sha256(data).hexdigest()
            part_path = path.with_name(_part_name(path.stem, section, number, sha))
            if not (part_path.is_file() and part_path.stat().st_size == len(data)):
                _write_atomic(data, part_path)
            files.append({"file": part_path.name, "bytes": len(data), "sha256": sha})
            written.append(part_path)
        index["sections"][section] = {"skeleton": skeleton, "files": files,
                                      "tensors": [(tuple(t.shape), t.dtype) for t in tensors]}
    save_atomic(index, path)
    remove_stale_parts(path)
    return [path, *written]


def remove_stale_parts(path: Path) -> list[Path]:
    """Delete the part files beside the index `path` that it does not name (left by earlier saves); those deleted."""
    path = Path(path)
    keep = {p.name for p in checkpoint_files(path)}
    pattern = _part_pattern(path.stem)
    stale = [p for p in path.parent.iterdir() if pattern.match(p.name) and p.name not in keep]
    for p in stale:
        p.unlink()
    return stale


def checkpoint_files(path: Path) -> list[Path]:
    """The index and the part files of a checkpoint (what must travel together)."""
    path = Path(path)
    index = _load_file(path, "cpu")
    return [path] + [path.with_name(f["file"]) for s in index.get("sections", {}).values() for f in s["files"]]


def _load_file(path: Path, map_location):
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable: {error}") from error


def _load_section(path: Path, section: str, entry: dict, map_location) -> dict:
    flat: dict[int, list[torch.Tensor]] = {}
    for f in entry["files"]:
        part = path.with_name(f["file"])
        if not part.is_file():
            raise CheckpointError(f"checkpoint {path}: its {section} part {part.name} is missing")
        data = part.read_bytes()
        if len(data) != f["bytes"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise CheckpointError(f"checkpoint {path}: its {section} part {part.name} is damaged (size or sha256 differs)")
        for i, _start, piece in torch.load(io.BytesIO(data), map_location="cpu", weights_only=True):
            flat.setdefault(i, []).append(piece)
    tensors = []
    for i, (shape, dtype) in enumerate(entry["tensors"]):
        pieces = flat.get(i, [])
        tensor = torch.cat(pieces) if pieces else torch.empty(0, dtype=dtype)
        tensors.append(tensor.to(dtype).reshape(shape).to(map_location))
    return _fill(entry["skeleton"], tensors)


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """The dict that save_checkpoint (or save_atomic) wrote, its parts checked and rejoined."""
    path = Path(path)
    state = _load_file(path, map_location)
    if not isinstance(state, dict) or "config" not in state or not ("ema" in state or "ema" in state.get("sections", {})):
        raise CheckpointError(f"{path} is not a DiffiT training checkpoint")
    for section, entry in state.pop("sections", {}).items():
        state[section] = _load_section(path, section, entry, map_location)
    return state


def load_ema_model(path: Path, map_location="cpu") -> tuple[torch.nn.Module, dict]:
    """The EMA denoiser of a checkpoint, in eval mode, and the checkpoint itself."""
    state = load_checkpoint(path, map_location)
    model = build_model(DiffiTConfig.from_dict(state["config"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state
