"""PyTorch on CUDA, the anchor for the WebGPU numbers of `npm run bench -- --gpu`: ms per forward of
each shipped model at each batch, in fp32 with TF32 off (as WebGPU computes), two ways:

- eager: D(x; sigma, class) as the model code runs it, then torch.cuda.synchronize();
- graph: the same forward captured once as a CUDA graph, then replayed and synchronized
  (no Python and no launch overhead: what the GPU itself needs).

Inputs x ~ N(0, I) of shape (B, C, H, W), sigma = 1, class 0, as scripts/gpu-bench/run-bundle.mjs
feeds onnxruntime-web. Weights: training/weights/<id>-ema.pt when it is there; otherwise the
manifest config's initial weights (the GPU run carries the ONNX files, not the checkpoints), which
costs the same time: no operation here branches on values.

    PYTHONPATH=training python training/scripts/bench_cuda.py --models diffit-fmnist --batches 1,2,8 --json cuda.json

Without a CUDA device it says so, writes {"skipped": <reason>} and exits 0, so the bench goes on.
--allow-cpu times eager on the CPU instead (a smoke test of this script; no graphs there).
A benchmark, not a test: it prints what it measures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from diffit.checkpoint import CheckpointError, load_ema_model
from diffit.models import DiffiTConfig, build_model
from diffit.outputs import write_atomic

ROOT = Path(__file__).resolve().parents[2]


def summary(times_ms: list[float], batch: int) -> dict:
    """Median and quartiles (numpy's linear interpolation, as diffit.benchmark and scripts/stats.mjs)."""
    q25, median, q75 = np.percentile(times_ms, [25, 50, 75])
    return {"median_ms": float(median), "q25_ms": float(q25), "q75_ms": float(q75), "runs": len(times_ms),
            "ms_per_image": float(median) / batch}


def timed(fn, runs: int, warmup: int, sync) -> list[float]:
    """Wall time (ms) of `fn` followed by `sync`, `runs` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return times


def load_model(entry: dict, weights: Path) -> tuple[torch.nn.Module, str]:
    """The denoiser of a manifest entry, and where its weights came from."""
    path = weights / f"{entry['id']}-ema.pt"
    try:
        model, _ = load_ema_model(path)
        return model, f"trained ({path.name})"
    except CheckpointError:
        model = build_model(DiffiTConfig.from_dict(entry["config"])).eval()
        return model, "initial (no checkpoint here; same time)"


def capture(model, x, s, y):
    """A CUDA graph of one forward on static inputs, warmed up on a side stream as PyTorch asks."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(x, s, y)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, _ = model(x, s, y)
    return graph, out


def measure(manifest: dict, ids: list[str], batches: list[int], runs: int, warmup: int, device: str,
            weights: Path) -> dict:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    by_id = {m["id"]: m for m in manifest["models"]}
    rows, sources = {}, {}
    for model_id in ids:
        entry = by_id[model_id]
        model, sources[model_id] = load_model(entry, weights)
        model = model.to(device)
        row = rows[model_id] = {"eager": {}, "graph": {} if cuda else None, "graph_vs_eager_max_abs_diff": {}}
        c, r = entry["channels"], entry["resolution"]
        for batch in batches:
            g = torch.Generator().manual_seed(7)
            x = torch.randn(batch, c, r, r, generator=g).to(device)
            s = torch.ones(batch, device=device)
            y = torch.zeros(batch, dtype=torch.long, device=device)
            with torch.no_grad():
                row["eager"][str(batch)] = summary(timed(partial(model, x, s, y), runs, warmup, sync), batch)
                if cuda:
                    try:
                        graph, out = capture(model, x, s, y)
                    except RuntimeError as error:  # a forward that cannot be captured: say so, time the rest
                        row["graph"][str(batch)] = {"error": str(error).splitlines()[0]}
                    else:
                        row["graph"][str(batch)] = summary(timed(graph.replay, runs, warmup, sync), batch)
                        eager, _ = model(x, s, y)
                        row["graph_vs_eager_max_abs_diff"][str(batch)] = float((out - eager).abs().max())
                        del graph
            graph_ms = row["graph"][str(batch)].get("median_ms") if cuda else None
            print(f"pytorch {device}: {model_id}, batch {batch}: eager {row['eager'][str(batch)]['median_ms']:.2f} ms"
                  + (f", graph {graph_ms:.3f} ms" if graph_ms is not None else ", graph failed" if cuda else ""), flush=True)
        if not cuda:
            row.pop("graph_vs_eager_max_abs_diff")
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "device": torch.cuda.get_device_name() if cuda else "cpu (smoke test, not a GPU)",
        "dtype": "float32",
        "tf32": False,
        "weights": sources,
        "runs": runs,
        "warmup": warmup,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "models": rows,
    }


def write_json(data: dict, path: Path) -> None:
    """Beside the target, then renamed over it: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode())


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"want positive whole numbers separated by commas, got {text!r}")
    return values


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench_cuda.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default=str(ROOT / "public/models/manifest.json"))
    p.add_argument("--weights", default=str(ROOT / "training/weights"), help="folder with <id>-ema.pt (optional)")
    p.add_argument("--models", required=True, help="manifest ids, comma-separated")
    p.add_argument("--batches", type=positive_ints, default=[1, 2, 8])
    p.add_argument("--runs", type=positive_ints, default=[30])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--allow-cpu", action="store_true", help="without CUDA, time eager on the CPU (smoke test)")
    args = p.parse_args(argv)

    try:
        manifest = json.loads(Path(args.manifest).read_text())
        known = {m["id"] for m in manifest["models"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"bench_cuda: {args.manifest} is missing or not a manifest ({error})", file=sys.stderr)
        return 2
    ids = args.models.split(",")
    unknown = [i for i in ids if i not in known]
    if unknown:
        print(f"bench_cuda: no model {', '.join(unknown)} in {args.manifest}", file=sys.stderr)
        return 2

    if torch.cuda.is_available():
        device = "cuda"
    elif args.allow_cpu:
        device = "cpu"
    else:
        reason = f"no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})"
        print(f"bench_cuda: {reason}: skipping the PyTorch CUDA timings")
        if args.json:
            write_json({"skipped": reason}, Path(args.json))
        return 0
    result = measure(manifest, ids, args.batches, args.runs[0], args.warmup, device, Path(args.weights))
    if args.json:
        write_json(result, Path(args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
