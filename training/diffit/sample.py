"""Generate images with an exported model through onnxruntime, exactly as the browser does.

    python -m diffit.sample --manifest public/models/manifest.json --model diffit-fmnist \
        --seed 3 --steps 18 --class 2 --guidance 2 --batch 4 --png out.png --json out.json

The noise comes from the counter-based generator shared with the app, so the same arguments
give the same pixels here and in the browser (within float tolerance).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .diffusion import guided_denoiser, heun_sample, karras_sigmas
from .images import save_grid, to_uint8
from .noise import normal_tensor
from .runtime import OnnxDenoiser, concat_for


def load_entry(manifest_path: Path, model_id: str) -> dict:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: cannot read manifest {manifest_path}: {error}")
    for entry in manifest.get("models", []):
        if entry.get("id") == model_id:
            return entry
    ids = ", ".join(m.get("id", "?") for m in manifest.get("models", []))
    raise SystemExit(f"error: model {model_id!r} is not in {manifest_path} (have: {ids})")


def sample(entry: dict, model_path: Path, seed: int, steps: int, class_label: int, guidance: float, batch: int,
           threads: int = 0, on_step=None) -> np.ndarray:
    """Final x, (B, C, H, W) float32, for one batch of the given class (num_classes = unconditional)."""
    denoise = OnnxDenoiser(model_path, threads)
    shape = (batch, entry["channels"], entry["resolution"], entry["resolution"])
    noise = normal_tensor(seed, shape)
    edm = entry["edm"]
    sigmas = karras_sigmas(steps, edm["sigma_min"], edm["sigma_max"], edm["rho"])
    d = guided_denoiser(denoise, class_label, entry["num_classes"], guidance, concat_for(noise))
    return heun_sample(d, noise, sigmas, on_step)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.sample", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default="public/models/manifest.json")
    p.add_argument("--model", required=True, help="model id in the manifest")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="Heun steps (default: the manifest's)")
    p.add_argument("--class", dest="class_name", default="none", help="class index, class name, or 'none'")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: manifest's)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: all)")
    p.add_argument("--png", help="write the batch as a grid PNG")
    p.add_argument("--json", help="write shape, uint8 pixels and float values as JSON")
    args = p.parse_args(argv)
    manifest_path = Path(args.manifest)
    entry = load_entry(manifest_path, args.model)
    k = entry["num_classes"]
    if args.class_name == "none":
        class_label = k
    elif args.class_name.isdigit() and int(args.class_name) < k:
        class_label = int(args.class_name)
    elif args.class_name in entry["classes"]:
        class_label = entry["classes"].index(args.class_name)
    else:
        raise SystemExit(f"error: --class {args.class_name!r} is not 'none', an index below {k}, or one of {entry['classes']}")
    if not 0 <= args.seed < 2**32 or args.batch < 1 or (args.steps is not None and args.steps < 1):
        raise SystemExit("error: seed must be in [0, 2^32), batch and steps at least 1")
    steps = args.steps or entry["default_steps"]
    guidance = entry.get("default_guidance", 1.0) if args.guidance is None else args.guidance
    model_path = manifest_path.parent / entry["file"]
    if not model_path.is_file():
        raise SystemExit(f"error: model file {model_path} does not exist")
    x = sample(entry, model_path, args.seed, steps, class_label, guidance, args.batch, args.threads)
    if args.png:
        save_grid(x, Path(args.png), columns=min(args.batch, 8), scale=4)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": args.model, "seed": args.seed, "steps": steps, "class": class_label, "guidance": guidance,
            "shape": list(x.shape), "pixels": to_uint8(x).reshape(-1).tolist(),
            "x": [float(v) for v in x.reshape(-1)]}))
    if not args.png and not args.json:
        print(f"generated {x.shape}; pass --png or --json to save", file=sys.stderr)


if __name__ == "__main__":
    main()
