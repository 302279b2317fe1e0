"""Native cost of every shipped model: parameters, MACs, bytes, and ms per forward at batch 1 in
PyTorch (CPU) and onnxruntime (CPU), as median and interquartile range over repeated runs.

    python -m diffit.benchmark --manifest public/models/manifest.json --runs 30 --json bench/native.json

A benchmark, not a test: it prints what it measures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def timed(fn, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    q25, median, q75 = np.percentile(times, [25, 50, 75])
    return {"median_ms": float(median), "q25_ms": float(q25), "q75_ms": float(q75), "runs": runs}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    import onnxruntime as ort
    import torch

    from .checkpoint import CheckpointError, load_ema_model
    from .macs import count_macs

    p = argparse.ArgumentParser(prog="python -m diffit.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default="public/models/manifest.json")
    p.add_argument("--weights", default="training/weights", help="folder with <id>-ema.pt for the PyTorch timing")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--threads", type=int, default=1, help="threads for both runtimes (1 matches the browser's per-core work)")
    p.add_argument("--json")
    args = p.parse_args(argv)
    manifest_path = Path(args.manifest)
    manifest = json.loads(manifest_path.read_text())
    torch.set_num_threads(args.threads)
    rows = []
    for entry in manifest["models"]:
        r, c = entry["resolution"], entry["channels"]
        feeds = {"x": np.random.default_rng(0).standard_normal((1, c, r, r)).astype(np.float32),
                 "sigma": np.array([1.0], np.float32), "class_label": np.array([0], np.int64)}
        path = manifest_path.parent / entry["file"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        row = {"id": entry["id"], "variant": entry["variant"], "parameters": entry["parameters"],
               "bytes": entry["bytes"], "macs": count_macs(path, feeds)["total"],
               "onnxruntime_cpu": timed(lambda: session.run(["denoised"], feeds), args.runs)}
        weights = Path(args.weights) / f"{entry['id']}-ema.pt"
        try:
            model, _ = load_ema_model(weights)
            x, s, y = (torch.from_numpy(feeds[k]) for k in ("x", "sigma", "class_label"))
            with torch.inference_mode():
                row["pytorch_cpu"] = timed(lambda: model(x, s, y), args.runs)
        except CheckpointError:
            row["pytorch_cpu"] = None
        rows.append(row)
    result = {"machine": f"{cpu_name()}, {args.threads} thread(s)", "batch": 1, "onnxruntime": ort.__version__,
              "torch": torch.__version__, "models": rows}
    print(f"{'model':16} {'params':>10} {'MACs':>12} {'bytes':>11} {'PyTorch ms':>16} {'ORT ms':>16}")
    def fmt(t):
        return f"{t['median_ms']:.1f} [{t['q25_ms']:.1f}-{t['q75_ms']:.1f}]" if t else "-"

    for row in rows:
        print(f"{row['id']:16} {row['parameters']:>10,} {row['macs']:>12,} {row['bytes']:>11,} "
              f"{fmt(row['pytorch_cpu']):>16} {fmt(row['onnxruntime_cpu']):>16}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
