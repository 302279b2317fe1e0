"""Carry data and checkpoints to the GPU machine over a few consecutive device calls, losslessly.

A device call sends at most 64 MiB (the working tree included); CIFAR-10 alone is 150 MB. So the payload is
packed here into one xz stream (delta + LZMA2: CIFAR-10's pixel planes shrink to about 70%), cut into
chunks, and the chunks grouped into one folder per call under an ignored carry folder:

    python training/scripts/stage.py pack --out .carry/stage data/cifar10=../shared/data/cifar-10-batches-bin \\
        data/emoji.npz=/tmp/emoji.npz runs=training/checkpoints classifiers/cifar10.pt=training/weights/...
      -> .carry/stage/call-1/, call-2/, ...: chunk files and stage.json (chunk sizes and sha256s)

On the device, each call moves its chunks into /tmp (which stays while the machine is warm):

    python training/scripts/stage.py receive .carry/stage/call-K --into /tmp/stage
    python training/scripts/stage.py unpack --from /tmp/stage --to /tmp/gpu     # last call: all chunks, checked

`unpack` checks every chunk and the whole stream against their sha256 before extracting anything.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import shutil
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slim_tree import DEVICE_TREE_BYTES, tree_bytes  # noqa: E402

CHUNK_BYTES = 15 * 2**20
FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
MARGIN_BYTES = 2 * 2**20  # for files that appear between packing and the call


class StageError(RuntimeError):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(members: dict[str, Path], out: Path, call_bytes: int, chunk_bytes: int = CHUNK_BYTES, preset: int = 6) -> dict:
    """Tar `members` (name in the stage -> file or folder here), xz it, cut it into chunks, group chunks per call."""
    for name, path in members.items():
        if not path.exists():
            raise StageError(f"{name}={path}: {path} does not exist")
    if call_bytes < 2**20:
        raise StageError(f"a call may carry only {call_bytes / 2**20:.1f} MiB beside the tree: slim the tree first "
                         f"(training/scripts/slim_tree.py out)")
    per_call = -(-call_bytes // chunk_bytes)
    chunk_bytes = call_bytes // per_call  # equal chunks that fill each call
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(members.items()):
            tar.add(path, arcname=name)
    filters = [FILTERS[0], {"id": lzma.FILTER_LZMA2, "preset": preset}]
    stream = lzma.compress(raw.getvalue(), format=lzma.FORMAT_XZ, filters=filters)
    chunks = [stream[i: i + chunk_bytes] for i in range(0, len(stream), chunk_bytes)]
    manifest = {"stream_sha256": _sha256(stream), "stream_bytes": len(stream), "raw_bytes": raw.tell(),
                "members": sorted(members), "calls": -(-len(chunks) // per_call),
                "chunks": [{"file": f"chunk-{i:03d}", "bytes": len(c), "sha256": _sha256(c), "call": i // per_call + 1}
                           for i, c in enumerate(chunks)]}
    if out.exists():
        shutil.rmtree(out)
    for entry, chunk in zip(manifest["chunks"], chunks, strict=True):
        folder = out / f"call-{entry['call']}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / entry["file"]).write_bytes(chunk)
    for call in range(1, manifest["calls"] + 1):
        (out / f"call-{call}" / "stage.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def receive(folder: Path, into: Path) -> list[str]:
    """Device side: check this call's chunks and move them into `into`."""
    manifest = json.loads((folder / "stage.json").read_text())
    into.mkdir(parents=True, exist_ok=True)
    got = []
    for entry in manifest["chunks"]:
        source = folder / entry["file"]
        if not source.exists():
            continue
        if _sha256(source.read_bytes()) != entry["sha256"]:
            raise StageError(f"{source} differs from its sha256: re-send call {entry['call']}")
        shutil.move(str(source), into / entry["file"])
        got.append(entry["file"])
    (into / "stage.json").write_text(json.dumps(manifest, indent=1))
    return got


def unpack(source: Path, to: Path) -> list[str]:
    """Device side: all chunks present and intact -> the members extracted under `to`."""
    manifest = json.loads((source / "stage.json").read_text())
    missing = [e["file"] for e in manifest["chunks"] if not (source / e["file"]).exists()]
    if missing:
        calls = sorted({e["call"] for e in manifest["chunks"] if e["file"] in missing})
        raise StageError(f"{len(missing)} chunk(s) missing: send call(s) {', '.join(map(str, calls))} first")
    stream = b"".join((source / e["file"]).read_bytes() for e in manifest["chunks"])
    if _sha256(stream) != manifest["stream_sha256"]:
        raise StageError("the reassembled stream differs from its sha256")
    to.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(stream)), mode="r") as tar:
        tar.extractall(to, filter="data")
    return manifest["members"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("pack")
    a.add_argument("members", nargs="+", help="NAME=PATH: a file or folder here, extracted as NAME on the device")
    a.add_argument("--out", default=".carry/stage")
    a.add_argument("--call-mib", type=float, default=0,
                   help="payload per call (default: 64 MiB minus what the tree sends now, minus 2 MiB)")
    a.add_argument("--preset", type=int, default=6, help="xz preset 0-9")
    r = sub.add_parser("receive")
    r.add_argument("folder")
    r.add_argument("--into", default="/tmp/stage")
    u = sub.add_parser("unpack")
    u.add_argument("--from", dest="source", default="/tmp/stage")
    u.add_argument("--to", default="/tmp/gpu")
    args = p.parse_args(argv)
    try:
        if args.action == "pack":
            members = {}
            for item in args.members:
                name, sep, path = item.partition("=")
                if not sep or not name:
                    raise StageError(f"{item!r} is not NAME=PATH")
                members[name] = Path(path)
            call_bytes = int(args.call_mib * 2**20) or DEVICE_TREE_BYTES - tree_bytes() - MARGIN_BYTES
            manifest = pack(members, Path(args.out), call_bytes, preset=args.preset)
            print(f"{manifest['raw_bytes'] / 2**20:.1f} MiB -> {manifest['stream_bytes'] / 2**20:.1f} MiB in "
                  f"{len(manifest['chunks'])} chunks over {manifest['calls']} call(s): carry {args.out}/call-1 ... "
                  f"{args.out}/call-{manifest['calls']}")
        elif args.action == "receive":
            got = receive(Path(args.folder), Path(args.into))
            print(f"received {len(got)} chunk(s) into {args.into}")
        else:
            members = unpack(Path(args.source), Path(args.to))
            print(f"unpacked {', '.join(members)} into {args.to}")
    except StageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
