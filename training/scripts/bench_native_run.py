"""Native onnxruntime doing the evaluations of one app run: the denominator of `npm run bench:run`.

    python scripts/bench_native_run.py --model diffit-fmnist --sampler heun --steps 18 --batch 4 --class 1 \
        --guidance 2 --threads 2 --runs 5 --json out.json                                  (run from training/)

One run is what the app does after the click, on the CPU with onnxruntime: the noise, the sampler (the one of the
app, diffit.diffusion.sampler) and every model evaluation (one forward of 2B under guidance), fetching `denoised`
only. The session is made and warmed up before the clock starts, as the app's is when the model is loaded.
Prints one line per run and writes the wall times (ms) to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from diffit.contract import DEFAULTS, GUIDES, WEIGHTS
from diffit.diffusion.sampler import SAMPLERS, guided_denoiser, karras_sigmas
from diffit.manifest import ManifestError, model_file
from diffit.noise import normal_tensor

REPO = Path(__file__).resolve().parents[2]


class CountingSession:
    """D(x, sigma, labels) on an onnxruntime session with `threads` intra-op threads; counts forwards."""

    def __init__(self, path: Path, threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.forwards = 0

    def __call__(self, x: np.ndarray, sigma: float, labels: list[int]) -> np.ndarray:
        self.forwards += 1
        feeds = {"x": x, "sigma": np.full((x.shape[0],), sigma, np.float32), "class_label": np.asarray(labels, np.int64)}
        return self.session.run(["denoised"], feeds)[0]


def one_run(d: CountingSession, entry: dict, args) -> float:
    """Wall time (ms) of one run: noise, sampler and evaluations."""
    t0 = time.perf_counter()
    shape = (args.batch, entry["channels"], entry["resolution"], entry["resolution"])
    noise = normal_tensor(args.seed, shape)
    edm = entry["edm"]
    sigmas = karras_sigmas(args.steps, edm["sigma_min"], edm["sigma_max"], edm["rho"])
    denoise = guided_denoiser(d, args.class_label, entry["num_classes"], args.guidance, lambda parts: np.concatenate(parts, 0),
                              GUIDES[args.guide])
    SAMPLERS[args.sampler](denoise, noise, sigmas)
    return (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/bench_native_run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=REPO / "public/models/manifest.json")
    p.add_argument("--model", default="diffit-fmnist")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default="heun")
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--class", dest="class_label", type=int, default=1, help="class index (num_classes = unconditional)")
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--guide", choices=sorted(GUIDES), default=DEFAULTS["guide"], help="where guidance applies (the URL's guide)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--weights", choices=WEIGHTS, default=DEFAULTS["weights"],
                   help="the float file, or the entry's int8 file (the URL's weights, as the app's WASM runs it)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        manifest = json.loads(args.manifest.read_text())
    except (OSError, json.JSONDecodeError) as error:
        p.exit(2, f"error: cannot read --manifest {args.manifest}: {error}\n")
    entry = next((m for m in manifest.get("models", []) if m.get("id") == args.model), None)
    if entry is None:
        p.exit(2, f"error: --model {args.model!r} is not in {args.manifest}\n")
    if not (args.steps >= 1 and args.batch >= 1 and args.threads >= 1 and args.runs >= 1):
        p.exit(2, "error: --steps, --batch, --threads and --runs must be at least 1\n")
    if not 0 <= args.class_label <= entry["num_classes"]:
        p.exit(2, f"error: --class must be in 0..{entry['num_classes']} (the last is unconditional)\n")
    if args.json is not None and not args.json.parent.is_dir():
        p.exit(2, f"error: --json {args.json}: no folder {args.json.parent}\n")

    try:
        path = model_file(args.manifest, entry, args.weights)
    except ManifestError as error:
        p.exit(2, f"error: --weights {args.weights}: {error}\n")
    d = CountingSession(path, args.threads)
    one_run(d, entry, args)  # warm-up: the session's first runs allocate and plan
    d.forwards = 0
    times = []
    for _ in range(args.runs):
        times.append(one_run(d, entry, args))
        print(f"native: {times[-1]:.0f} ms for {d.forwards} forwards", flush=True)
        forwards, d.forwards = d.forwards, 0
    result = {"model": args.model, "sampler": args.sampler, "steps": args.steps, "batch": args.batch, "class": args.class_label,
              "guidance": args.guidance, "weights": args.weights, "threads": args.threads, "forwards_per_run": forwards, "run_ms": times,
              "onnxruntime": ort.__version__, "python": platform.python_version(), "cpus": os.cpu_count()}
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
