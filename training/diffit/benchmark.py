"""Native cost of every shipped model: parameters, MACs, bytes, and ms per forward at batch 1 in
PyTorch (CPU) and onnxruntime (CPU), as median and interquartile range over repeated runs.

    python -m diffit.benchmark --manifest public/models/manifest.json --runs 30 --json bench/native.json
    python -m diffit.benchmark --record bench/results.json     # merge each `benchmark` block into the manifest

A benchmark, not a test: it prints what it measures and asserts nothing. `npm run bench`
(scripts/bench-models.mjs) runs the first form, adds the browser's WASM timings, writes
bench/results.json and then runs the second form.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from .manifest import ManifestError, edited_manifest, read_json, set_benchmark

RUNTIMES = ("pytorch_cpu", "onnxruntime_cpu")


def timed(fn, runs: int, warmup: int = 3) -> dict:
    """Median and quartiles of the wall time of `fn` (ms) over `runs` calls, after `warmup` calls."""
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


def machine(threads: int) -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "os": platform.platform(terse=True), "threads": threads}


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages, so a reader can tell whether other jobs were running."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def measure(manifest_path: Path, weights: Path, runs: int, threads: int, warmup: int = 3) -> dict:
    """Parameters, MACs, bytes and native ms/forward (batch 1, `denoised` only) of every manifest model."""
    import onnxruntime as ort
    import torch

    from .checkpoint import CheckpointError, load_ema_model
    from .macs import count_macs

    manifest = json.loads(manifest_path.read_text())
    torch.set_num_threads(threads)
    load_before = load_average()
    rows = []
    for entry in manifest["models"]:
        r, c = entry["resolution"], entry["channels"]
        feeds = {"x": np.random.default_rng(0).standard_normal((1, c, r, r)).astype(np.float32),
                 "sigma": np.array([1.0], np.float32), "class_label": np.array([0], np.int64)}
        path = manifest_path.parent / entry["file"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        macs = count_macs(path, feeds)
        row = {"id": entry["id"], "dataset": entry.get("dataset"), "variant": entry["variant"],
               "parameters": entry["parameters"], "bytes": path.stat().st_size,
               "macs": macs["total"], "macs_by_op": macs["by_op"],
               "onnxruntime_cpu": timed(partial(session.run, ["denoised"], feeds), runs, warmup)}
        try:
            model, _ = load_ema_model(weights / f"{entry['id']}-ema.pt")
            x, s, y = (torch.from_numpy(feeds[k]) for k in ("x", "sigma", "class_label"))
            with torch.inference_mode():
                row["pytorch_cpu"] = timed(partial(model, x, s, y), runs, warmup)
        except CheckpointError:
            row["pytorch_cpu"] = None  # no PyTorch weights for this model: ONNX only
        rows.append(row)
    return {"machine": machine(threads), "batch": 1, "runs": runs, "warmup": warmup, "threads": threads,
            "onnxruntime": ort.__version__, "torch": torch.__version__,
            "load_average": {"before": load_before, "after": load_average()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": rows}


def fmt(t: dict | None) -> str:
    return f"{t['median_ms']:.2f} [{t['q25_ms']:.2f}-{t['q75_ms']:.2f}]" if t else "-"


def print_table(result: dict) -> None:
    print(f"{result['machine']['cpu']}, {result['threads']} thread(s), batch {result['batch']}, "
          f"median [IQR] of {result['runs']} runs")
    print(f"{'model':16} {'params':>10} {'MACs':>13} {'bytes':>11} {'PyTorch CPU ms':>20} {'ORT CPU ms':>20}")
    for row in result["models"]:
        print(f"{row['id']:16} {row['parameters']:>10,} {row['macs']:>13,} {row['bytes']:>11,} "
              f"{fmt(row['pytorch_cpu']):>20} {fmt(row['onnxruntime_cpu']):>20}")


def record(manifest_path: Path, results: dict, source: Path | str = "the results") -> list[str]:
    """Sets each manifest entry's `benchmark` to its model's block in `results` (as the export merges bench/results.json),
    touching no other field (sha256 and bytes stay valid); returns the ids written."""
    written = []
    with edited_manifest(manifest_path) as manifest:
        for entry in manifest["models"]:
            if not any(row.get("id") == entry["id"] and row.get("benchmark") for row in results.get("models", [])):
                continue  # a model the run did not time keeps its block
            for note in set_benchmark(entry, results, source):
                print(f"note: {note}")
            if "benchmark" in entry:
                written.append(entry["id"])
    return written


def main(argv=None) -> dict | None:
    p = argparse.ArgumentParser(prog="python -m diffit.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default="public/models/manifest.json")
    p.add_argument("--weights", default="training/weights", help="folder with <id>-ema.pt for the PyTorch timing")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="threads for both runtimes (1 matches one WASM thread)")
    p.add_argument("--json", help="write the measurements here")
    p.add_argument("--record", metavar="RESULTS",
                   help="measure nothing: merge each model's `benchmark` block from RESULTS (bench/results.json) into the manifest")
    args = p.parse_args(argv)
    manifest_path = Path(args.manifest)
    try:
        read_json(manifest_path, "manifest")  # a missing or corrupt file fails before any work
        if args.record:
            written = record(manifest_path, read_json(args.record, "results file"), args.record)
            print(f"wrote the benchmark block of {', '.join(written) or 'no model'} into {manifest_path}")
            return None
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    result = measure(manifest_path, Path(args.weights), args.runs, args.threads, args.warmup)
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
