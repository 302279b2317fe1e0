"""Quality against evaluations for each sampler of diffit.diffusion.sampler, on one exported model.

    python scripts/compare_samplers.py --onnx ../public/models/diffit-fmnist.onnx \
        --classifier weights/classifier-fmnist.pt --per-class 10 --runs heun:18 heun:8 dpmpp-2m:10 --json out.json
                                                                                      (run from training/)

Every run draws the same class-conditional set (--per-class images of each class, noise seed --seed, guidance
--guidance, the app's default) and is judged three ways:
- ODE error: |x - x_ref| of the final images against the reference run (the first of --runs) from the same noise,
  in 8-bit pixel levels: the mean, and the 95th percentile over images of each image's mean. Both solve the same
  probability-flow ODE, so this is the solver's own error, with no sampling noise in it.
- class accuracy of the project's classifier (diffit.evaluate's measure; at small counts it moves by whole images);
- FD_clf against --fd-reference training images (biased upwards at small counts; compare rows with each other only).

A run SAMPLER:STEPS is guided at every evaluation (not at the app's contracts/sampling.json interval);
SAMPLER:STEPS@LO-HI guides only where LO < sigma <= HI, the conditional denoiser alone elsewhere
(diffit.diffusion.guided_denoiser's `interval`); `network_images_per_image` says what a run costs in images
through the network (2 per guided evaluation, 1 per plain one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from diffit.classifier import embed, load_classifier
from diffit.data import load_dataset
from diffit.diffusion.sampler import EVERY_SIGMA, SAMPLERS, guided_denoiser, karras_sigmas
from diffit.evaluate import class_accuracy, quantise
from diffit.images import to_uint8
from diffit.metrics import frechet_distance_features
from diffit.noise import normal_tensor
from diffit.runtime import OnnxDenoiser, concat_for


def parse_run(text: str) -> tuple[str, int, tuple[float, float]]:
    """SAMPLER:STEPS, or SAMPLER:STEPS@LO-HI for guidance only where LO < sigma <= HI (guided_denoiser)."""
    bad = argparse.ArgumentTypeError(f"{text!r} is not SAMPLER:STEPS[@LO-HI] with SAMPLER in {sorted(SAMPLERS)} "
                                     "and LO < HI")
    name, _, rest = text.partition(":")
    steps, at, interval = rest.partition("@")
    if name not in SAMPLERS or not steps.isdigit() or int(steps) < 1:
        raise bad
    if not at:
        return name, int(steps), EVERY_SIGMA
    try:
        lo, hi = (float(v) for v in interval.split("-"))
    except ValueError:  # not two numbers
        raise bad from None
    if not lo < hi:
        raise bad
    return name, int(steps), (lo, hi)


class Counting:
    """Wraps a denoiser and counts its evaluations (one forward each, guidance included)."""

    def __init__(self, denoise):
        self.denoise, self.calls, self.images = denoise, 0, 0

    def __call__(self, x, sigma, labels):
        self.calls += 1
        self.images += len(labels)
        return self.denoise(x, sigma, labels)


class Judge:
    """What every comparison shares: the class-conditional set (--per-class of each class, noise seed --seed) and
    its judges, the classifier's accuracy and FD_clf against --fd-reference training images (seed --seed)."""

    def __init__(self, args):
        self.classifier, state = load_classifier(args.classifier)
        self.num_classes = state["arch"]["num_classes"]
        train, _, _ = load_dataset(args.dataset, args.data, "train")
        reference = train[np.random.default_rng(args.seed).choice(len(train), args.fd_reference, replace=False)]
        self.real = embed(self.classifier, reference)
        self.labels = np.repeat(np.arange(self.num_classes), args.per_class)
        self.noise = normal_tensor(args.seed, (len(self.labels), *train.shape[1:]))

    def score(self, x: np.ndarray) -> dict:
        """Class accuracy and FD_clf of final images x, rounded to the 8-bit pixels the app shows."""
        images = quantise(x)
        return {"accuracy": class_accuracy(self.classifier, images, self.labels)["accuracy"],
                "fd_clf": frechet_distance_features(embed(self.classifier, images), self.real)}


def draw(denoise, sampler: str, steps: int, noise: np.ndarray, labels: np.ndarray, num_classes: int, guidance: float,
         batch: int, interval: tuple[float, float] = EVERY_SIGMA) -> np.ndarray:
    """Final images (N, C, H, W) of one sampler, `batch` images of one label per run."""
    sigmas = karras_sigmas(steps)
    out = []
    for start in range(0, len(labels), batch):
        chunk, label = noise[start:start + batch], int(labels[start])
        assert (labels[start:start + batch] == label).all(), "--per-class must be a multiple of --batch"
        d = guided_denoiser(denoise, label, num_classes, guidance, concat_for(chunk), interval)
        out.append(SAMPLERS[sampler](d, chunk, sigmas))
    return np.concatenate(out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python scripts/compare_samplers.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", type=Path, required=True)
    p.add_argument("--classifier", type=Path, required=True)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data", default=None)
    p.add_argument("--runs", type=parse_run, nargs="+", required=True, help="SAMPLER:STEPS ...; the first is the reference")
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fd-reference", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    for path, what in ((args.onnx, "--onnx"), (args.classifier, "--classifier")):
        if not path.is_file():
            p.exit(2, f"error: {what} {path} is not a file\n")
    if args.json is not None and not args.json.parent.is_dir():
        p.exit(2, f"error: --json {args.json}: no folder {args.json.parent}\n")

    judge = Judge(args)
    labels = judge.labels
    denoise = Counting(OnnxDenoiser(args.onnx, args.threads))

    rows, ref_pixels = [], None
    for sampler, steps, interval in args.runs:
        denoise.calls, denoise.images, t0 = 0, 0, time.perf_counter()
        x = draw(denoise, sampler, steps, judge.noise, labels, judge.num_classes, args.guidance, args.batch, interval)
        seconds = time.perf_counter() - t0
        pixels = to_uint8(x).astype(np.int16)
        ref_pixels = pixels if ref_pixels is None else ref_pixels
        err = np.abs(pixels - ref_pixels)
        row = {"sampler": sampler, "steps": steps, "evaluations_per_image": denoise.calls * args.batch // len(labels),
               "guidance_interval": None if interval == EVERY_SIGMA else list(interval),
               "network_images_per_image": denoise.images / len(labels),  # 2 per guided evaluation, 1 per plain one
               "pixel_error_mean": float(err.mean()), "image_error_p95": float(np.percentile(err.mean(axis=(1, 2, 3)), 95)),
               **judge.score(x), "seconds": seconds}
        rows.append(row)
        name = sampler + ("" if row["guidance_interval"] is None else f"@{interval[0]:g}-{interval[1]:g}")
        print(f"{name:9s} {steps:3d} steps {row['evaluations_per_image']:3d} evals "
              f"({row['network_images_per_image']:.0f} network images): pixel error vs {args.runs[0][0]}:"
              f"{args.runs[0][1]} mean {row['pixel_error_mean']:.2f}, per image p95 {row['image_error_p95']:.2f}, accuracy "
              f"{row['accuracy']:.3f}, FD_clf {row['fd_clf']:.2f} ({seconds:.0f} s)", flush=True)
    if args.json is not None:
        setup = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("runs", "json")}
        args.json.write_text(json.dumps({"setup": setup, "samples": len(labels), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
