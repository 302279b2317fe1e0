"""A sample sheet: one row per class, --per-class samples each, for one or more exported models side by side.

    python scripts/sample_sheet.py --onnx /tmp/old/stage1.onnx /tmp/old/stage2.onnx ../public/models/diffit-cifar10.onnx \\
        --num-classes 10 --guidance 3 --png ../docs/cifar10-stages.png            (run from training/)

Every panel draws the same noise (seed --seed, the counter-based generator the app shares) with the app's
first-visit sampler and guide (contracts/sampling.json `first_visit`: DPM-Solver++(2M) at its default steps, guidance
only where the `interval` guide applies). Panels are placed left to right in the order of --onnx, a white gap
between them, so a before/after pair shows what training changed on the very same noise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from compare_samplers import draw
from PIL import Image

from diffit.contract import FIRST_VISIT, GUIDES, SAMPLER_STEPS
from diffit.diffusion.sampler import SAMPLERS
from diffit.images import grid_image
from diffit.noise import normal_tensor
from diffit.runtime import OnnxDenoiser


def sheet(panels: list[Image.Image], gap: int) -> Image.Image:
    """Panels of equal height, left to right, `gap` white pixels between them."""
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    out = Image.new(panels[0].mode, (width, max(p.height for p in panels)), 255 if panels[0].mode == "L" else (255,) * 3)
    x = 0
    for panel in panels:
        out.paste(panel, (x, 0))
        x += panel.width + gap
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python scripts/sample_sheet.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", type=Path, nargs="+", required=True, help="exported models, one panel each")
    p.add_argument("--num-classes", type=int, required=True)
    p.add_argument("--per-class", type=int, default=8)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=FIRST_VISIT["sampler"])
    p.add_argument("--steps", type=int, default=SAMPLER_STEPS[FIRST_VISIT["sampler"]])
    p.add_argument("--guide", choices=sorted(GUIDES), default=FIRST_VISIT["guide"])
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--scale", type=int, default=2, help="pixels per image pixel")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--png", type=Path, required=True)
    args = p.parse_args(argv)
    for path in args.onnx:
        if not path.is_file():
            p.exit(2, f"error: --onnx {path} is not a file\n")
    if not args.png.parent.is_dir():
        p.exit(2, f"error: --png {args.png}: no folder {args.png.parent}\n")
    if args.num_classes < 1 or args.per_class < 1 or args.steps < 1 or args.scale < 1:
        p.exit(2, "error: --num-classes, --per-class, --steps and --scale must be positive\n")

    labels = np.repeat(np.arange(args.num_classes), args.per_class)
    panels = []
    for path in args.onnx:
        try:  # an unreadable file, or one that is not a model of images: onnxruntime's first line names it
            denoise = OnnxDenoiser(path, args.threads)
            shape = tuple(denoise.session.get_inputs()[0].shape[1:])  # one image: (C, H, W)
            noise = normal_tensor(args.seed, (len(labels), *shape))
            x = draw(denoise, args.sampler, args.steps, noise, labels, args.num_classes, args.guidance,
                     args.per_class, GUIDES[args.guide])  # (classes * per_class, C, H, W)
        except Exception as error:
            p.exit(2, f"error: {path}: {str(error).splitlines()[0]}\n")
        panels.append(grid_image(x, args.per_class, args.scale))
        print(f"{path}: {len(labels)} samples", flush=True)
    tmp = args.png.with_name(args.png.name + ".tmp")
    sheet(panels, gap=8 * args.scale).save(tmp, format="PNG")
    tmp.replace(args.png)  # never a half-written PNG
    return 0


if __name__ == "__main__":
    sys.exit(main())
