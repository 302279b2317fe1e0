"""What storing the weights in float16 costs in samples: two ONNX files of one model (e.g. `diffit.export --weights
float32` and `--weights float16`), the same noise, a first visit's sampler and guide (contracts/sampling.json
`first_visit`: DPM-Solver++(2M) at its default steps, the `interval` guide) with guidance 2, judged as scripts/compare_samplers.py judges samplers.

    python scripts/compare_weight_storage.py --dataset fashion-mnist --classifier weights/classifier-fmnist.pt \
        --a /tmp/fp32/diffit-fmnist.onnx --b ../public/models/diffit-fmnist.onnx --json out.json   (from training/)

Reports |pixels_a - pixels_b| in 8-bit levels (mean, max, and the 95th percentile of each image's mean) and each
file's class accuracy and FD_clf against --fd-reference training images.

--a and --b may instead both be quality samples of the GPU bench (`npm run bench -- --gpu --samples 50`: files
`samples-<id>.u8`, e.g. the float32 file and its float16-compute form drawn on a real GPU, with the same noise),
which are judged as they are: uint8 pixels, class-major, --per-class images of each class.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from compare_samplers import Judge, draw

from diffit.contract import FIRST_VISIT, GUIDES, SAMPLER_STEPS
from diffit.data import dataset_names
from diffit.images import to_uint8
from diffit.runtime import OnnxDenoiser

SAMPLES_SUFFIX = ".u8"
"""The GPU bench's quality samples (scripts/gpu-bench/image-run.mjs samplesFile)."""


def read_samples(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """A quality-samples file as images in [-1, 1] (exact 8-bit levels), or None if it does not hold `shape`."""
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        return None
    return data.reshape(shape).astype(np.float64) / 127.5 - 1.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/compare_weight_storage.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", type=Path, required=True, help="the reference file (float32 weights), or its quality samples")
    p.add_argument("--b", type=Path, required=True, help="the file to judge against it, or its quality samples")
    p.add_argument("--classifier", type=Path, required=True)
    p.add_argument("--dataset", choices=dataset_names(), default="fashion-mnist")
    p.add_argument("--data", default=None)
    p.add_argument("--per-class", type=int, default=50)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--fd-reference", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    for path, what in ((args.a, "--a"), (args.b, "--b"), (args.classifier, "--classifier")):
        if not path.is_file():
            p.exit(2, f"error: {what} {path} is not a file\n")
    if args.json is not None and not args.json.parent.is_dir():
        p.exit(2, f"error: --json {args.json}: no folder {args.json.parent}\n")
    if args.per_class % args.batch:
        p.exit(2, f"error: --per-class {args.per_class} must be a multiple of --batch {args.batch}\n")
    drawn = [path.suffix == SAMPLES_SUFFIX for path in (args.a, args.b)]
    if drawn[0] != drawn[1]:
        p.exit(2, f"error: --a and --b must both be ONNX files or both {SAMPLES_SUFFIX} quality samples (drawn with the "
                  "same noise), not one of each\n")

    judge = Judge(args)
    labels = judge.labels
    sampler, guide = FIRST_VISIT["sampler"], FIRST_VISIT["guide"]
    steps = SAMPLER_STEPS[sampler]
    files, pixels = {}, {}
    for key, path in (("a", args.a), ("b", args.b)):
        t0 = time.perf_counter()
        if drawn[0]:
            x = read_samples(path, (len(labels), *judge.noise.shape[1:]))
            if x is None:
                p.exit(2, f"error: --{key} {path} does not hold {len(labels)} images of {judge.noise.shape[1:]} "
                          f"(--per-class {args.per_class}, {judge.num_classes} classes)\n")
        else:
            x = draw(OnnxDenoiser(path, args.threads), sampler, steps, judge.noise, labels, judge.num_classes,
                     args.guidance, args.batch, GUIDES[guide])
        pixels[key] = to_uint8(x).astype(np.int16)
        files[key] = {("samples" if drawn[0] else "onnx"): str(path), "bytes": path.stat().st_size, **judge.score(x),
                      "seconds": time.perf_counter() - t0}
    diff = np.abs(pixels["a"] - pixels["b"])
    result = {"setup": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "json"},
              "run": ("the GPU bench's quality samples (scripts/gpu-bench/image-run.mjs SAMPLES)" if drawn[0] else
                      f"{sampler}, {steps} steps, guidance {args.guidance} in ({GUIDES[guide][0]:g}, {GUIDES[guide][1]:g}]"),
              "samples": len(labels), "pixel_diff_mean": float(diff.mean()), "pixel_diff_max": int(diff.max()),
              "image_diff_p95": float(np.percentile(diff.mean(axis=(1, 2, 3)), 95)), **files}
    print(f"{args.b.name} vs {args.a.name}: pixels differ by {result['pixel_diff_mean']:.3f} levels on average "
          f"(max {result['pixel_diff_max']}); accuracy {files['a']['accuracy']:.3f} -> {files['b']['accuracy']:.3f}, "
          f"FD_clf {files['a']['fd_clf']:.2f} -> {files['b']['fd_clf']:.2f}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
