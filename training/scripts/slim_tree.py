"""What a device call sends, and a slimmer tree for it: the big tracked files moved out and back.

A device call sends the working tree (tracked and untracked-not-ignored files) plus its carried paths,
64 MiB in all; the shipped ONNX models and EMA weights alone are larger than that. So, for the calls:

    python training/scripts/slim_tree.py list     # what travels, largest first, and the total
    python training/scripts/slim_tree.py size     # bytes that travel once the big files are out (for scripts)
    python training/scripts/slim_tree.py out      # move the big tracked files to a stash outside the repo
    ... device calls ...
    python training/scripts/slim_tree.py back     # move them back, checked against their sha256

`out` refuses to run over an earlier stash that was not moved back; `back` restores every file byte for byte
(or says which one differs) and removes the stash record only when all are back.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEVICE_TREE_BYTES = 64 * 2**20  # what one device call may send, carried paths included
HEAVY = ("public/models/*.onnx", "training/weights/*.pt", "training/checkpoints/*")  # the data stage carries checkpoints
STASH = Path("/tmp/diffit-slim-stash")


def travelling(repo: Path = REPO) -> list[tuple[str, int]]:
    """(path, bytes) of every file a device call sends: tracked and untracked-not-ignored files that exist."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout.decode()
    files = []
    for name in sorted(set(filter(None, out.split("\0")))):
        path = repo / name
        if path.is_file() and not path.is_symlink():
            files.append((name, path.stat().st_size))
    return files


def tree_bytes(repo: Path = REPO) -> int:
    return sum(size for _, size in travelling(repo))


def heavy_files(repo: Path = REPO) -> list[tuple[str, int]]:
    return [(name, size) for name, size in travelling(repo) if any(fnmatch.fnmatch(name, p) for p in HEAVY)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def move_out(repo: Path = REPO, stash: Path = STASH) -> list[str]:
    record = stash / "stash.json"
    if record.exists():
        raise SystemExit(f"error: {record} exists: run `slim_tree.py back` first (an earlier stash was not moved back)")
    entries = [{"path": name, "bytes": size, "sha256": sha256(repo / name)} for name, size in heavy_files(repo)]
    stash.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"repo": str(repo), "files": entries}, indent=1))  # first: `back` can always finish
    for entry in entries:
        target = stash / "files" / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(repo / entry["path"]), target)
    return [e["path"] for e in entries]


def move_back(repo: Path = REPO, stash: Path = STASH) -> list[str]:
    record = stash / "stash.json"
    if not record.exists():
        raise SystemExit(f"error: no stash at {stash} (nothing was moved out)")
    entries = json.loads(record.read_text())["files"]
    for entry in entries:
        source, target = stash / "files" / entry["path"], repo / entry["path"]
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)
        if not target.is_file() or sha256(target) != entry["sha256"]:
            raise SystemExit(f"error: {entry['path']} is missing or differs from the file moved out; stash kept at {stash}")
    record.unlink()
    shutil.rmtree(stash / "files", ignore_errors=True)
    return [e["path"] for e in entries]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["list", "size", "out", "back"])
    p.add_argument("--stash", default=str(STASH))
    p.add_argument("--top", type=int, default=15, help="list: how many of the largest files to show")
    args = p.parse_args(argv)
    stash = Path(args.stash)
    if args.action == "size":
        heavy = {name for name, _ in heavy_files()}
        print(sum(size for name, size in travelling() if name not in heavy))
    elif args.action == "list":
        files = travelling()
        heavy = {name for name, _ in heavy_files()}
        for name, size in sorted(files, key=lambda f: -f[1])[: args.top]:
            print(f"{size / 2**20:8.2f} MiB  {'(moved by out) ' if name in heavy else ''}{name}")
        total = sum(size for _, size in files)
        slim = total - sum(size for name, size in files if name in heavy)
        print(f"travels now: {total / 2**20:.1f} MiB in {len(files)} files; after `out`: {slim / 2**20:.1f} MiB; "
              f"a call may send {DEVICE_TREE_BYTES / 2**20:.0f} MiB, carried paths included")
    elif args.action == "out":
        moved = move_out(stash=stash)
        print(f"moved {len(moved)} files to {stash}; the tree now sends {tree_bytes() / 2**20:.1f} MiB")
    else:
        restored = move_back(stash=stash)
        print(f"restored {len(restored)} files, each checked against its sha256")


if __name__ == "__main__":
    sys.exit(main())
