"""Output files of the command lines: checked before the work starts, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(ValueError):
    """An output path that cannot be written; the message is one line naming the flag."""


def check_output(flag: str, path: Path) -> None:
    """Refuse an output file that cannot be written, before any work: its folder must already exist
    (nothing is created silently) and take a new file."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file name")
    if not folder.is_dir():
        raise OutputError(f"{flag} {path}: the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{flag} {path} is not writable")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{flag} {path}: cannot write in {folder} ({error.strerror or error})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written output."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
