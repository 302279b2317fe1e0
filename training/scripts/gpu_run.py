"""One GPU run: resume every run from its last split checkpoint (or start it, warm with --init-dir), train for a wall-time budget
with the fast path, evaluate briefly, and pack what the next GPU run needs into files a device call brings back.

On the device (see docs/gpu-runs.md for the whole sequence of calls):

    python training/scripts/gpu_run.py train --budget-s 420 --dataset cifar10 --data /tmp/gpu/data/cifar10 \\
        --runs-dir /tmp/gpu/runs --classifier /tmp/gpu/classifiers/cifar10.pt --target-images 4000000 --out $OUT

Each model (--variants of --dataset) trains in its own process, all at once (one small model leaves most
of a GPU idle), under `python -m diffit.train --resume --fast --max-seconds ...`, towards the same
--target-images, so the variants end on equal terms once all have reached it. What comes back:

    $OUT/gpu-run.json      per run: images seen before and after, images/s, evaluation, packed files (sha256)
    $OUT/back-N.tar        checkpoint index + parts, summary, eval, compile cache, samples, log; whole files, each
                           tar <= 16 MiB

at most 8 files of 16 MiB (the device's limit); checkpoints first, logs last, anything left out is listed.
Here, after the call:

    python training/scripts/gpu_run.py unpack --from <files_at> --into training/checkpoints/cifar10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))

import torch  # noqa: E402

from diffit.checkpoint import CheckpointError, checkpoint_files, load_checkpoint, remove_stale_parts  # noqa: E402

BACK_FILES = 8  # a device call brings back at most 8 files ...
BACK_FILE_BYTES = 16 * 2**20 - 64 * 1024  # ... of at most 16 MiB each (kept a little under) ...
BACK_TOTAL_BYTES = 64 * 2**20 - 256 * 1024  # ... and 64 MiB together, gpu-run.json included
TAR_OVERHEAD = 2048  # header and padding per member, rounded up
SUFFIX = {"fashion-mnist": "fmnist", "cifar10": "cifar10", "emoji": "emoji"}
IMAGES_FILE = "common-images.txt"  # keep_equal -> diffit.train --images-file
EQUAL_MARGIN = 0.92  # of the slowest model's projected images, so that it gets there before its --max-seconds
COMPILE_CACHE = "compile-cache.bin"  # diffit/compile_cache.py: kept with the checkpoint, so the next run compiles from it


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def checkpoint_bytes(model: str, optimizer_state: str) -> int:
    """Predicted size of a full checkpoint: fp32 weights and EMA, Adam's two moments (fp32 or bf16)."""
    from diffit.models import build_model

    params = sum(p.numel() for p in build_model(model).parameters())
    return params * (4 + 4 + 2 * (2 if optimizer_state == "bf16" else 4)) + 256 * 1024


def pack_back(files: list[tuple[str, Path]], out: Path, slots: int = BACK_FILES - 1, capacity: int = BACK_FILE_BYTES,
              total: int = BACK_TOTAL_BYTES) -> tuple[list[dict], list[str]]:
    """First-fit the (name, path) files, in priority order, into at most `slots` tars of at most `capacity` bytes
    each and `total` bytes together; the tars written and the names left out."""
    bins: list[list[tuple[str, Path]]] = []
    used: list[int] = []
    left_out = []
    room = capacity - 10240  # a tar ends in a 10 KiB record
    for name, path in files:
        size = path.stat().st_size + TAR_OVERHEAD
        if sum(used) + size + 10240 * (len(bins) + 1) > total:
            left_out.append(name)
            continue
        slot = next((i for i, u in enumerate(used) if u + size <= room), None)
        if slot is None and len(bins) < slots and size <= room:
            bins.append([])
            used.append(0)
            slot = len(bins) - 1
        if slot is None:
            left_out.append(name)
            continue
        bins[slot].append((name, path))
        used[slot] += size
    written = []
    for i, members in enumerate(bins, 1):
        tar_path = out / f"back-{i}.tar"
        with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tar:
            for name, path in members:
                tar.add(path, arcname=name)
        data = tar_path.read_bytes()
        if len(data) > capacity:
            raise AssertionError(f"{tar_path} is {len(data)} bytes, over {capacity}")
        written.append({"file": tar_path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "members": [name for name, _ in members]})
    return written, left_out


def images_seen(checkpoint: Path) -> int:
    if not checkpoint.exists():
        return 0
    return int(load_checkpoint(checkpoint)["images_seen"])


def train(args) -> None:
    models = [f"{v}-{args.suffix or SUFFIX[args.dataset]}" for v in args.variants]
    runs_dir, out = Path(args.runs_dir), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Everything that can be known before training is checked first: the results must fit what comes back.
    predicted = sum(checkpoint_bytes(m, args.optimizer_state) for m in models)
    capacity = min((BACK_FILES - 1) * BACK_FILE_BYTES, BACK_TOTAL_BYTES)  # one file is gpu-run.json
    if predicted > 0.95 * capacity:
        fail(f"checkpoints of {', '.join(models)} need about {predicted / 2**20:.0f} MiB, but a call brings back "
             f"{capacity / 2**20:.0f} MiB beside gpu-run.json: use --optimizer-state bf16 or fewer --variants")
    for path in (args.data, args.classifier):
        if path and not Path(path).exists():
            fail(f"{path} does not exist")
    start = time.time()
    report = {"dataset": args.dataset, "budget_s": args.budget_s, "target_images": args.target_images, "runs": {}}
    before, init = {}, {}
    for m in models:
        try:
            before[m] = images_seen(runs_dir / m / "checkpoint.pt")
            if args.init_dir and not before[m]:  # no checkpoint yet: a warm start from the shipped EMA weights
                init[m] = Path(args.init_dir) / f"{m}-ema.pt"
                if not init[m].exists():
                    fail(f"--init-dir {args.init_dir} holds no {init[m].name} for {m}, which has no checkpoint")
                before[m] = images_seen(init[m])
        except CheckpointError as error:
            fail(str(error))
    todo = [m for m in models if not args.target_images or before[m] < args.target_images]
    train_seconds = args.budget_s - args.reserve_s - (time.time() - start)
    if todo and train_seconds < 5:
        fail(f"--budget-s {args.budget_s} leaves {train_seconds:.0f} s to train after --reserve-s {args.reserve_s}")
    fast = args.fast == "on" or (args.fast == "auto" and torch.cuda.is_available())
    report["fast"] = fast
    procs, log_from = {}, {}
    # By time (no --target-images), models sharing the chip would end at different numbers of images; instead a
    # common training length is set from their measured rates (keep_equal), so they end on equal terms.
    equal = not args.target_images and len(todo) > 1
    (runs_dir / IMAGES_FILE).unlink(missing_ok=True)
    for m in todo:
        run = runs_dir / m
        cmd = [sys.executable, "-m", "diffit.train", "--model", m, "--dataset", args.dataset, "--data", args.data,
               "--out", str(run), "--images", str(args.target_images or 10**12), "--batch", str(args.batch),
               "--lr", str(args.lr), "--max-seconds", str(train_seconds), "--checkpoint-every", str(10**12),
               "--grid-every", "0", "--optimizer-state", args.optimizer_state, "--quiet", "--seed", str(args.seed),
               *(["--resume"] if (run / "checkpoint.pt").exists() else []),
               *(["--init-from", str(init[m])] if m in init else []),
               *(["--lr-ref-batch", str(args.lr_ref_batch)] if args.lr_ref_batch else []),
               *(["--fast", "--compile-cache", str(run / COMPILE_CACHE)] if fast else []),
               *(["--bf16"] if args.bf16 else []), *args.train_args]
        if equal:
            cmd += ["--images-file", str(runs_dir / IMAGES_FILE)]
        run.mkdir(parents=True, exist_ok=True)
        log = open(run / "train.log", "a")
        log_from[m] = log.tell()  # this run's lines start here
        procs[m] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=TRAINING), log)
    if equal:
        report["equal_terms"] = keep_equal(procs, runs_dir, log_from, start + args.budget_s - args.reserve_s)
    for m, (proc, log) in procs.items():
        report["runs"][m] = {"exit_code": proc.wait()}
        log.close()
    report["train_wall_s"] = round(time.time() - start, 1)
    for m in models:
        entry = report["runs"].setdefault(m, {"exit_code": None, "skipped": "target reached"})
        run = runs_dir / m
        summary = json.loads((run / "summary.json").read_text()) if m in procs and (run / "summary.json").exists() else {}
        entry.update({"images_before": before[m], "init_from": str(init[m]) if m in init else None,
                      "images_after": images_seen(run / "checkpoint.pt"),
                      "images_per_s": summary.get("images_per_s"), "tflops": summary.get("tflops"),
                      "peak_share": summary.get("peak_share"), "hardware": summary.get("hardware"),
                      "diverged": summary.get("diverged")})  # diffit.train's guard stopped it (and went back)
        if args.classifier and entry["images_after"] and args.eval_samples:
            evaluate(args, run, entry)
    if "equal_terms" in report:  # did every model get there? (one that fell short says the margin was too small)
        report["equal_terms"]["reached"] = len({report["runs"][m]["images_after"] for m in procs}) == 1
    # The models train at once on one chip: its use is the sum of theirs.
    rates = [e["tflops"] for e in report["runs"].values() if e.get("tflops")]
    shares = [e["peak_share"] for e in report["runs"].values() if e.get("peak_share")]
    report["chip"] = {"tflops_total": sum(rates) if rates else None,
                      "peak_share_total": sum(shares) if len(shares) == len(rates) and shares else None}
    report["wall_s"] = round(time.time() - start, 1)
    files = collect(models, runs_dir)
    report["back"], report["left_out"] = pack_back(files, out)
    (out / "gpu-run.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({m: {k: e.get(k) for k in ("exit_code", "images_before", "images_after", "images_per_s", "peak_share",
                                                 "diverged")}
                      for m, e in report["runs"].items()}))
    if report["left_out"]:
        print(f"left out (did not fit): {', '.join(report['left_out'])}", file=sys.stderr)
    failed = [m for m, e in report["runs"].items() if e["exit_code"] not in (0, None)]
    if failed:
        fail(f"training failed for {', '.join(failed)}: see their train.log in the packed files")


def progress(log: Path, offset: int) -> list[dict]:
    """The history lines (images, images_per_s, ...) that `diffit.train --quiet` has written to `log` since `offset`."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        if line.startswith('{"images"'):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line still being written
                pass
    return rows


def common_target(rows: dict[str, list[dict]], seconds_left: float, margin: float = EQUAL_MARGIN) -> int | None:
    """The training length every model can reach in time: min over models of images now + rate x time left (x
    `margin`), and never below the images any model has already seen. A row's own `t_left_s` (the time left when it
    was written) counts instead of `seconds_left` where present. None until every model has a steady rate: three
    history lines, since the first window holds compilation."""
    if not rows or any(len(r) < 3 for r in rows.values()):
        return None
    reach = min(r[-1]["images"] + r[-1]["images_per_s"] * max(r[-1].get("t_left_s", seconds_left), 0.0) * margin
                for r in rows.values())
    return int(max(reach, max(r[-1]["images"] for r in rows.values())))


def keep_equal(procs: dict, runs_dir: Path, log_from: dict[str, int], deadline: float, poll_s: float = 2.0,
               freeze: float = 0.25, horizon_s: float = 15.0) -> dict:
    """While every model trains, keep writing the common training length (common_target) to IMAGES_FILE, which each
    diffit.train reads every 20 steps (--images-file). The length is final once a model is within `horizon_s` of it
    (it may be stopping: a later change would reach the others but not it), once one has stopped, or when only
    `freeze` of the training time is left (late estimates are noisy). Returns what was set, for gpu-run.json."""
    path, target, history, seen_at, final = runs_dir / IMAGES_FILE, None, [], {}, None
    freeze_at = deadline - freeze * max(deadline - time.time(), 0.0)
    while all(proc.poll() is None for proc, _ in procs.values()):
        now = time.time()
        rows = {m: progress(runs_dir / m / "train.log", log_from[m]) for m in procs}
        for m, r in rows.items():  # a line's time is when it was first seen here (at most poll_s late)
            for row in r:
                row["t_left_s"] = deadline - seen_at.setdefault((m, row["images"]), now)
        if target is not None and final is None:
            near = [m for m, r in rows.items() if r and r[-1]["images"] + r[-1]["images_per_s"] * horizon_s >= target]
            if near or now >= freeze_at:
                final = f"{near[0]} within {horizon_s:g} s of it" if near else f"the last {freeze:.0%} of the time"
        new = common_target(rows, deadline - now) if final is None else target
        if new is not None and new != target:
            target = new
            part = path.with_suffix(".part")
            part.write_text(f"{target}\n")
            part.replace(path)  # whole, never half-written
            history.append({"t_left_s": round(deadline - now, 1), "target": target,
                            "images_per_s": {m: round(r[-1]["images_per_s"]) for m, r in rows.items()}})
        time.sleep(poll_s)
    return {"target": target, "final_because": final or "a model stopped", "updates": history}


def evaluate(args, run: Path, entry: dict) -> None:
    eval_json = run / "eval.json"
    cmd = [sys.executable, "-m", "diffit.evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--classifier",
           args.classifier, "--dataset", args.dataset, "--data", args.data, "--samples", str(args.eval_samples),
           "--steps", str(args.eval_steps), "--fd-samples", "0", "--guidance", *map(str, args.guidance), "--quiet",
           "--json", str(eval_json)]
    with open(run / "train.log", "a") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=TRAINING).returncode
    entry["evaluation"] = json.loads(eval_json.read_text()) if code == 0 and eval_json.exists() else {"exit_code": code}


def collect(models: list[str], runs_dir: Path) -> list[tuple[str, Path]]:
    """What to bring back, most needed first: checkpoints, then summaries and evaluations, compile caches, samples,
    logs."""
    files: list[tuple[str, Path]] = []
    for m in models:
        index = runs_dir / m / "checkpoint.pt"
        if index.exists():
            files += [(f"{m}/{p.name}", p) for p in checkpoint_files(index)]
    for pattern in ("summary.json", "eval.json", COMPILE_CACHE, "samples.png", "train.log"):
        files += [(f"{m}/{pattern}", runs_dir / m / pattern) for m in models if (runs_dir / m / pattern).exists()]
    return files


def unpack(args) -> None:
    """Here, after the call: check the tars against gpu-run.json; checkpoints (index and parts) and compile caches
    into --into (both travel to the next run), checkpoints checked
    and with the parts they no longer name removed; samples, summaries, evaluations and logs into --extras."""
    source, into, extras = Path(args.source), Path(args.into), Path(args.extras)
    report_path = source / "gpu-run.json"
    if not report_path.exists():
        fail(f"{report_path} does not exist")
    report = json.loads(report_path.read_text())
    for entry in report["back"]:
        data = (source / entry["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            fail(f"{entry['file']} differs from its sha256 in gpu-run.json")
    for entry in report["back"]:
        with tarfile.open(source / entry["file"]) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                resumed_from = name.startswith("checkpoint.") or name == COMPILE_CACHE  # what the next run needs
                tar.extract(member, into if resumed_from else extras, filter="data")
    extras.mkdir(parents=True, exist_ok=True)
    (extras / "gpu-run.json").write_text(json.dumps(report, indent=1))
    for m in report["runs"]:
        if (into / m / "checkpoint.pt").exists():
            try:
                state = load_checkpoint(into / m / "checkpoint.pt")
            except CheckpointError as error:
                fail(str(error))
            stale = remove_stale_parts(into / m / "checkpoint.pt")  # the new parts replace the old
            print(f"{m}: {state['images_seen']:,} images, checkpoint whole; {len(stale)} old part file(s) removed")
    print(f"samples, summaries, evaluations, logs and gpu-run.json: {extras}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train", help="on the device")
    t.add_argument("--budget-s", type=float, required=True, help="wall time for the whole command")
    t.add_argument("--reserve-s", type=float, default=90, help="of the budget, kept for evaluation and packing")
    t.add_argument("--dataset", choices=sorted(SUFFIX), required=True)
    t.add_argument("--suffix", default=None, help="preset suffix (default from --dataset; 'tiny' for tests)")
    t.add_argument("--variants", nargs="+", default=["diffit", "dws", "diffip"])
    t.add_argument("--data", required=True, help="the data set's folder or .npz on the device")
    t.add_argument("--runs-dir", required=True, help="one folder per model; resumed where it holds a checkpoint")
    t.add_argument("--init-dir", default=None,
                   help="a model without a checkpoint starts warm from DIR/<model>-ema.pt (diffit.train --init-from)")
    t.add_argument("--target-images", type=int, default=0,
                   help="train every model to this many images (0: by time, all stopping at the same number of images, "
                        "set from their measured rates)")
    t.add_argument("--batch", type=int, default=512)
    t.add_argument("--lr", type=float, default=1e-3, help="EDM's CIFAR-10 recipe: 1e-3 at batch 512")
    t.add_argument("--lr-ref-batch", type=int, default=0, help="lr = --lr * --batch / this (0: --lr as given)")
    t.add_argument("--optimizer-state", choices=["fp32", "bf16"], default="fp32")
    t.add_argument("--bf16", action="store_true", help="bf16 autocast")
    t.add_argument("--fast", choices=["auto", "on", "off"], default="auto",
                   help="diffit.train --fast (fused Adam, torch.compile, SDPA); auto: on with CUDA")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--classifier", default=None, help="diffit.classifier checkpoint: evaluate each model briefly")
    t.add_argument("--eval-samples", type=int, default=500)
    t.add_argument("--eval-steps", type=int, default=18)
    t.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0])
    t.add_argument("--out", required=True, help="$OUT: what comes back")
    t.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more arguments for diffit.train")
    u = sub.add_parser("unpack", help="here, after the call")
    u.add_argument("--from", dest="source", required=True, help="the folder the call's files landed in")
    u.add_argument("--into", required=True, help="where the checkpoints live here, e.g. training/checkpoints/cifar10")
    u.add_argument("--extras", default="/tmp/gpu-run-extras", help="everything else (not for the repository)")
    args = p.parse_args(argv)
    if args.action == "train":
        train(args)
    else:
        unpack(args)


if __name__ == "__main__":
    main()
