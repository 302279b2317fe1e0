"""Train the three variants of one data set side by side on equal terms, then judge them.

Each variant trains in its own process (same recipe, same seed) for a wall-clock budget, writing
EMA snapshots every --snapshot-every images. The shipped weights are the snapshots at the largest
image count that all three reached, so every variant has seen the same number of images. Each is
then sampled class-conditionally and judged by the project's classifier.

    python scripts/train_variants.py --data DIR --classifier CLF --seconds 300 --work /tmp/runs --out OUT
    python scripts/train_variants.py --dataset cifar10 --classifier CLF --train-classifier --seconds 3600 ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "cifar10", "emoji"])
    p.add_argument("--data", default=None, help="data folder (default: the data set's usual place)")
    p.add_argument("--classifier", required=True, help="classifier checkpoint (trained first if --train-classifier)")
    p.add_argument("--train-classifier", action="store_true", help="train the classifier beside the models")
    p.add_argument("--classifier-epochs", type=int, default=None, help="default: the data set's (diffit.classifier)")
    p.add_argument("--dataset-suffix", default=None,
                   help="preset suffix (default fmnist, cifar10 or emoji from --dataset; tiny for a smoke test)")
    p.add_argument("--variants", nargs="+", default=["diffit", "dws", "diffip"])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--snapshot-every", type=int, default=100_000)
    p.add_argument("--eval-samples", type=int, default=1000)
    p.add_argument("--eval-steps", type=int, default=18)
    p.add_argument("--fd-samples", type=int, default=5000, help="diffit.evaluate --fd-samples (0: accuracy only)")
    p.add_argument("--inception-weights", default=None, help="diffit.evaluate --inception-weights")
    p.add_argument("--guidance", nargs="+", default=["1", "2", "3"])
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more arguments for diffit.train")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.dataset_suffix = args.dataset_suffix or {"fashion-mnist": "fmnist"}.get(args.dataset, args.dataset)
    data = ["--dataset", args.dataset, *(["--data", args.data] if args.data else [])]
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    procs = {}
    start = time.time()
    for v in args.variants:
        name = f"{v}-{args.dataset_suffix}"
        log = open(work / f"{name}.log", "w")
        cmd = [sys.executable, "-m", "diffit.train", "--model", name, *data, "--out", str(work / name),
               "--images", "1000000000", "--batch", str(args.batch), "--lr", str(args.lr),
               "--snapshot-every", str(args.snapshot_every), "--checkpoint-every", "1000000000", "--grid-every", "0",
               "--max-seconds", str(args.seconds), "--quiet", *(["--bf16"] if "cuda" in _device() else []),
               *args.extra]
        procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if args.train_classifier:
        log = open(work / "classifier.log", "w")
        epochs = ["--epochs", str(args.classifier_epochs)] if args.classifier_epochs else []
        procs["classifier"] = subprocess.Popen([sys.executable, "-m", "diffit.classifier", *data, "--out",
                                                args.classifier, *epochs],
                                               stdout=log, stderr=subprocess.STDOUT)
    codes = {name: proc.wait() for name, proc in procs.items()}
    procs.pop("classifier", None)
    if args.train_classifier:
        shutil.copy(args.classifier, out / Path(args.classifier).name)
    print("training exit codes", codes, f"{time.time() - start:.0f} s", flush=True)
    reached = {name: sorted(int(f.stem.split("-")[1]) for f in (work / name).glob("ema-*.pt")) for name in procs}
    common = min(max(r) if r else 0 for r in reached.values())
    print("snapshots reached", {k: (v[-1] if v else 0) for k, v in reached.items()}, "common", common, flush=True)
    results = {"common_images": common, "seconds_budget": args.seconds, "batch": args.batch, "lr": args.lr,
               "exit_codes": codes, "models": {}}
    for name in procs:
        summary_path = work / name / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        entry = {"summary": summary}
        if common:
            snap = work / name / f"ema-{common:09d}.pt"
            shutil.copy(snap, out / f"{name}-ema.pt")
            eval_json = work / f"{name}-eval.json"
            subprocess.run([sys.executable, "-m", "diffit.evaluate", "--checkpoint", str(snap), "--classifier",
                            args.classifier, *data, "--samples", str(args.eval_samples), "--steps", str(args.eval_steps),
                            "--fd-samples", str(args.fd_samples), "--quiet",
                            *(["--inception-weights", args.inception_weights] if args.inception_weights else []),
                            "--guidance", *args.guidance, "--json", str(eval_json)], check=False)
            if eval_json.exists():
                entry["evaluation"] = json.loads(eval_json.read_text())
        results["models"][name] = entry
    (out / "results.json").write_text(json.dumps(results, indent=1))
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for f in list(work.glob("*.log")) + list(work.glob("*/samples*.png")) + list(work.glob("*/summary.json")):
            tar.add(f, arcname=str(f.relative_to(work)))
    print(json.dumps({k: [(e["guidance"], e["classifier_accuracy"]) for e in v.get("evaluation", [])]
                      for k, v in results["models"].items()}), flush=True)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    main()
