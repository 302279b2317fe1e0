"""Ship trained runs: EMA weights, ONNX export, evaluation from the ONNX file, manifest entry with provenance.

For each model id (e.g. diffit-cifar10) with a run folder <runs>/<id> written by diffit.train:
1. the EMA weights of the run's checkpoint (or of --snapshot N, `ema-<N>.pt`) go to <weights>/<id>-ema.pt;
2. `diffit.export` writes public/models/<id>.onnx (checked against PyTorch);
3. `diffit.evaluate --onnx` judges that file: class accuracy at every --guidance, and FD_clf, precision/recall
   with --fd-samples at the first guidance only (the other scales get accuracy alone, to keep CPU time sane);
4. `diffit.export` runs again and writes the manifest entry, merging the side files that steps 1-3 wrote to
   --provenance (diffit/manifest.py `SideFiles`: <id>.json training provenance, <id>-eval.json evaluation rows);
5. `diffit.quantize` writes the entry's int8 file for WASM (the export dropped the old one's block).

    python scripts/ship_models.py --dataset cifar10 --ids diffit-cifar10 dws-cifar10 diffip-cifar10 \\
        --runs runs --classifier weights/classifier-cifar10.pt --label "CIFAR-10" \\
        --provenance-json cifar10-provenance.json --jobs 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from diffit.checkpoint import load_checkpoint
from diffit.manifest import SideFiles, write_json_atomic

TRAINING = Path(__file__).resolve().parents[1]
VARIANT_LABELS = {"diffit": "DiffiT", "dws": "DiffiT-DWS", "diffip": "DiffiP"}


def run(cmd: list[str], log: Path) -> float:
    """Run one step, its output appended to `log`; seconds taken. Stops the script on failure."""
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=TRAINING).returncode
    if code:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - start


def extract_ema(source: Path, target: Path) -> dict:
    """The EMA-only snapshot of a checkpoint or snapshot (what diffit.export and diffit.evaluate read)."""
    state = load_checkpoint(source)  # a checkpoint's parts are rejoined; a snapshot is one file
    keep = ("model_name", "config", "ema", "images_seen", "wall_time_s", "seed", "dataset", "classes", "hardware",
            "train_images", "torch", "init_from")
    snapshot = {k: state[k] for k in keep if k in state}
    torch.save(snapshot, target)
    return snapshot


def wait_for(paths: list[Path], poll_s: float = 30) -> None:
    """Block until every path exists (runs still training when this script starts)."""
    while not all(path.exists() for path in paths):
        time.sleep(poll_s)


def ship(model_id: str, args) -> dict:
    runs, weights = Path(args.runs), Path(args.weights)
    side = SideFiles(provenance_dir=Path(args.provenance).resolve())
    source = runs / model_id / (f"ema-{args.snapshot:09d}.pt" if args.snapshot else "checkpoint.pt")
    if args.wait:  # a snapshot is complete once it exists (written atomically); a checkpoint once the run ends
        wait_for([source if args.snapshot else runs / model_id / "summary.json", TRAINING / args.classifier])
    log = Path(args.log_dir) / f"{model_id}.log"
    weights_file = weights / f"{model_id}-ema.pt"
    snapshot = extract_ema(source, weights_file)
    training = json.loads(Path(args.provenance_json).read_text()) if args.provenance_json else {}
    training.update({"images_seen": snapshot["images_seen"], "wall_time_s": round(snapshot["wall_time_s"], 1)})
    write_json_atomic(training, side.training(model_id))
    variant = model_id.split("-")[0]
    label = f"{VARIANT_LABELS[variant]} · {args.label}"
    export = [sys.executable, "-m", "diffit.export", "--checkpoint", str(weights_file.resolve()), "--id", model_id,
              "--label", label, "--out-dir", str(Path(args.out_dir).resolve()), "--provenance-dir", str(side.provenance_dir)]
    timings = {"export_s": run([*export, "--no-preview"], log)}
    onnx = Path(args.out_dir).resolve() / f"{model_id}.onnx"
    rows = []
    for i, guidance in enumerate(args.guidance):
        out = Path(args.log_dir) / f"{model_id}-eval-g{guidance}.json"
        cmd = [sys.executable, "-m", "diffit.evaluate", "--onnx", str(onnx), "--classifier",
               args.classifier, "--dataset", args.dataset, "--samples", str(args.samples),
               "--fd-samples", str(args.fd_samples if i == 0 else 0), "--steps", str(args.steps),
               "--guidance", str(guidance), "--threads", str(args.threads), "--batch", str(args.batch), "--quiet",
               "--json", str(out.resolve())]
        if args.data:
            cmd += ["--data", str(Path(args.data).resolve())]
        timings[f"evaluate_g{guidance}_s"] = run(cmd, log)
        rows += json.loads(out.read_text())
    write_json_atomic(rows, side.evaluation(model_id))
    timings["export_with_preview_s"] = run(export, log)
    manifest = Path(args.out_dir).resolve() / "manifest.json"
    timings["quantize_s"] = run([sys.executable, "-m", "diffit.quantize", "--id", model_id, "--manifest", str(manifest)], log)
    print(model_id, json.dumps(timings), flush=True)
    return timings


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--ids", nargs="+", required=True)
    p.add_argument("--runs", required=True, help="folder holding one diffit.train run folder per id")
    p.add_argument("--snapshot", type=int, default=0, help="ship ema-<N>.pt instead of the final checkpoint")
    p.add_argument("--classifier", required=True)
    p.add_argument("--label", required=True, help="data set name in the app's labels, e.g. CIFAR-10")
    p.add_argument("--provenance-json", help="training fields shared by the ids (hardware, recipe, ...)")
    p.add_argument("--weights", default=str(TRAINING / "weights"))
    p.add_argument("--provenance", default=str(SideFiles.provenance_dir), help="folder of the side files the export merges")
    p.add_argument("--out-dir", default=str(TRAINING.parent / "public" / "models"))
    p.add_argument("--log-dir", required=True)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--fd-samples", type=int, default=5000)
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0])
    p.add_argument("--batch", type=int, default=0, help="diffit.evaluate --batch (0: its default)")
    p.add_argument("--threads", type=int, default=1, help="per evaluation process")
    p.add_argument("--jobs", type=int, default=2, help="models shipped at once")
    p.add_argument("--wait", action="store_true", help="wait for each run's summary.json and for the classifier")
    args = p.parse_args()
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(args.ids, pool.map(lambda i: ship(i, args), args.ids), strict=True))
    (Path(args.log_dir) / "ship-timings.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
