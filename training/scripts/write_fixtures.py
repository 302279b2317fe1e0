"""Write the cross-language reference fixtures that the TypeScript tests check against.

    python scripts/write_fixtures.py [--out-dir ../fixtures]      (run from training/)

- `noise_reference.json`: bits, uniforms and normals of the counter-based noise generator
  (diffit/noise.py, mirrored by src/sampling/noise.ts) for a few seeds, including 0 and 2^32 - 1.
- `sampler_reference.json`: the Python samplers (Heun, and DPM-Solver++(2M), each case naming its
  `sampler`) run with an analytic denoiser,

      D(x, sigma, label) = (sd^2 x + sigma^2 mu(label)) / (sigma^2 + sd^2)   (float64, rounded to float32)
      mu(label) = (label + 1) / (num_classes + 1) - 0.5,   mu(num_classes) = 0,   sd = EDM.sigma_data

  the exact denoiser of data concentrated at mu(label) blurred to std sd, so the TypeScript samplers
  (src/sampling/heun.ts, src/sampling/dpmpp2m.ts) can be checked against the Python ones without any network.
  Each case names its `guidance_interval` [lo, hi] (hi null: no upper bound).

training/tests/test_fixtures.py regenerates both into a temporary folder and compares them with the
committed files byte for byte.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from diffit.contract import GUIDES
from diffit.diffusion import EDM, guided_denoiser, karras_sigmas
from diffit.diffusion.sampler import EVERY_SIGMA, SAMPLERS
from diffit.noise import normal, normal_tensor, random_bits, uniform

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOISE_SEEDS = (0, 1, 42, 4294967295)
# (sampler, seed, steps, batch, class label, guidance, guidance interval); 10 classes, so label 10 is unconditional.
# APP is contracts/sampling.json's `interval` guide (the app's first visit); a few cases guide every evaluation or a band.
APP, BAND = GUIDES["interval"], (0.28, 5.42)
SAMPLER_CASES = (("heun", 5, 4, 2, 3, 1.0, APP), ("heun", 11, 6, 2, 1, 2.5, APP), ("heun", 11, 6, 2, 1, 2.5, EVERY_SIGMA),
                 ("heun", 0, 3, 3, 10, 1.0, APP), ("heun", 4294967295, 1, 1, 0, 3.0, APP), ("heun", 4294967295, 1, 1, 0, 3.0, EVERY_SIGMA),
                 ("heun", 7, 18, 1, 9, 2.0, APP), ("heun", 7, 18, 1, 9, 2.0, BAND),
                 ("dpmpp-2m", 5, 4, 2, 3, 1.0, APP), ("dpmpp-2m", 11, 10, 2, 1, 2.0, APP), ("dpmpp-2m", 11, 10, 2, 1, 2.0, EVERY_SIGMA),
                 ("dpmpp-2m", 0, 2, 3, 10, 1.0, APP), ("dpmpp-2m", 4294967295, 1, 1, 0, 3.0, APP),
                 ("dpmpp-2m", 7, 18, 1, 9, 2.0, APP), ("dpmpp-2m", 7, 8, 2, 4, 2.0, BAND))


def analytic_denoiser(num_classes: int, sd: float = EDM.sigma_data):
    """D(x, sigma, labels) of the docstring above, on (B, C, H, W) float32 arrays."""

    def denoise(x, sigma, labels):
        mu = np.array([0.0 if label == num_classes else (label + 1) / (num_classes + 1) - 0.5 for label in labels])
        out = (sd**2 * x.astype(np.float64) + sigma**2 * mu[:, None, None, None]) / (sigma**2 + sd**2)
        return out.astype(np.float32)

    return denoise


def counting(denoise, batches: list):
    """`denoise` that appends the batch of each forward to `batches`."""

    def counted(x, sigma, labels):
        batches.append(len(labels))
        return denoise(x, sigma, labels)

    return counted


def noise_reference() -> dict:
    cases = [{"seed": seed,
              "bits_0_8": [int(v) for v in random_bits(seed, np.arange(8))],
              "uniform_0_8": [float(v) for v in uniform(seed, np.arange(8))],
              "normal_0_8": [float(v) for v in normal(seed, 8)],
              "normal_offset_1000_4": [float(v) for v in normal(seed, 4, offset=1000)]} for seed in NOISE_SEEDS]
    return {"description": "Reference values of the counter-based noise generator (training/diffit/noise.py, src/sampling/noise.ts).",
            "cases": cases}


def sampler_reference() -> dict:
    num_classes = 10
    cases = []
    for sampler, seed, steps, batch, label, guidance, interval in SAMPLER_CASES:
        shape = (batch, 1, 4, 4)
        sigmas = karras_sigmas(steps)
        noise = normal_tensor(seed, shape)
        steps_x = []
        network_images = []  # the batch of each forward: B, or 2B where guided
        d = guided_denoiser(counting(analytic_denoiser(num_classes), network_images), label, num_classes, guidance,
                            lambda parts: np.concatenate(parts, 0), interval)
        final = SAMPLERS[sampler](d, noise, sigmas, lambda i, x, den, steps_x=steps_x: steps_x.append([float(v) for v in x.reshape(-1)]))
        cases.append({"sampler": sampler, "seed": seed, "steps": steps, "batch": batch, "shape": list(shape), "class_label": label,
                      "guidance": guidance, "guidance_interval": [interval[0], None if math.isinf(interval[1]) else interval[1]],
                      "num_classes": num_classes, "sigma_min": EDM.sigma_min, "sigma_max": EDM.sigma_max, "rho": EDM.rho,
                      "sigma_data": EDM.sigma_data, "sigmas": [float(s) for s in sigmas],
                      "forward_batches": network_images, "final": [float(v) for v in final.reshape(-1)], "step_x": steps_x})
    return {"description": "The Python samplers with the analytic denoiser of training/scripts/write_fixtures.py (src/sampling/).",
            "cases": cases}


def write_fixtures(out_dir: Path) -> list[Path]:
    """Both fixtures, written into `out_dir` (which must exist); returns the paths written."""
    written = []
    for name, content in (("noise_reference.json", noise_reference()), ("sampler_reference.json", sampler_reference())):
        path = Path(out_dir) / name
        path.write_text(json.dumps(content, indent=1))
        written.append(path)
    return written


def main(argv=None):
    p = argparse.ArgumentParser(prog="python scripts/write_fixtures.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=FIXTURES, help="folder to write into (default: the repository's fixtures/)")
    args = p.parse_args(argv)
    if not args.out_dir.is_dir():
        p.exit(2, f"error: --out-dir {args.out_dir} is not an existing folder\n")
    for path in write_fixtures(args.out_dir):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
