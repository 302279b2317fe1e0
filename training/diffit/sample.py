"""Generate images with an exported model through onnxruntime, exactly as the browser does.

    python -m diffit.sample --manifest public/models/manifest.json --model diffit-fmnist \
        --seed 3 --steps 18 --class 2 --guidance 2 --guide interval --batch 4 --png out.png --json out.json

`--weights int8` runs the model's int8 file (the manifest's `int8`, from `python -m diffit.quantize`), as the app's
WASM backend does with `weights=int8`; integer kernels differ between CPUs, so its pixels match the browser's only
within a few levels.

The noise comes from the counter-based generator shared with the app, so the same arguments
give the same pixels here and in the browser (within float tolerance). Seed, steps, batch and
guidance have the app's ranges and the app's guidance rounding (contracts/sampling.json).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from .contract import DEFAULTS, GUIDES, LIMITS, SAMPLER_STEPS, WEIGHTS, out_of_range, round_guidance
from .diffusion import guided_denoiser, karras_sigmas
from .diffusion.sampler import SAMPLERS
from .images import grid_image, to_uint8
from .manifest import ManifestError, model_file
from .noise import normal_tensor
from .outputs import OutputError, check_output, write_atomic
from .runtime import OnnxDenoiser, concat_for


class UsageError(Exception):
    """Bad input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see --help)")


def load_entry(manifest_path: Path, model_id: str) -> dict:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read manifest {manifest_path}: {error}") from None
    for entry in manifest.get("models", []):
        if entry.get("id") == model_id:
            return entry
    ids = ", ".join(m.get("id", "?") for m in manifest.get("models", []))
    raise UsageError(f"model {model_id!r} is not in {manifest_path} (have: {ids})")


def class_label_of(entry: dict, name: str) -> int:
    """'none' -> num_classes (unconditional), else a class index or a class name of the manifest entry."""
    k = entry["num_classes"]
    if name == "none":
        return k
    if name.isdigit() and int(name) < k:
        return int(name)
    if name in entry["classes"]:
        return entry["classes"].index(name)
    raise UsageError(f"--class {name!r} is not 'none', an index below {k}, or one of {entry['classes']}")


def sample(entry: dict, model_path: Path, seed: int, steps: int, class_label: int, guidance: float, batch: int,
           threads: int = 0, on_step=None, sampler: str = "heun", guide: str = "every") -> np.ndarray:
    """Final x, (B, C, H, W) float32, for one batch of the given class (num_classes = unconditional)."""
    denoise = OnnxDenoiser(model_path, threads)
    shape = (batch, entry["channels"], entry["resolution"], entry["resolution"])
    noise = normal_tensor(seed, shape)
    edm = entry["edm"]
    sigmas = karras_sigmas(steps, edm["sigma_min"], edm["sigma_max"], edm["rho"])
    d = guided_denoiser(denoise, class_label, entry["num_classes"], guidance, concat_for(noise), GUIDES[guide])
    return SAMPLERS[sampler](d, noise, sigmas, on_step)


def parse_args(argv=None) -> argparse.Namespace:
    p = _Parser(prog="python -m diffit.sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default="public/models/manifest.json")
    p.add_argument("--model", required=True, help="model id in the manifest")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--sampler", default=DEFAULTS["sampler"], help=f"one of {', '.join(SAMPLERS)} (contracts/sampling.json)")
    p.add_argument("--steps", type=int, default=None,
                   help="sampler steps (default: the manifest's for heun, the contract's for the others)")
    p.add_argument("--class", dest="class_name", default="none", help="class index, class name, or 'none'")
    p.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance scale, rounded to {LIMITS['guidance']['decimals']} decimals (default: the manifest's)")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument("--guide", default=DEFAULTS["guide"],
                   help=f"where guidance applies: one of {', '.join(GUIDES)} (contracts/sampling.json `guides`)")
    p.add_argument("--weights", choices=WEIGHTS, default=DEFAULTS["weights"],
                   help="the float file, or the int8 file of the manifest's `int8` (the app's WASM weights)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: all)")
    p.add_argument("--png", type=Path, help="write the batch as a grid PNG (into an existing folder)")
    p.add_argument("--json", type=Path, help="write shape, uint8 pixels and float values as JSON (into an existing folder)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def validate(args: argparse.Namespace, entry: dict) -> dict:
    """The run's settings, each checked against contracts/sampling.json; raises UsageError."""
    if args.sampler not in SAMPLERS:
        raise UsageError(f"--sampler {args.sampler!r} is not one of {', '.join(SAMPLERS)}")
    default_steps = entry["default_steps"] if args.sampler == "heun" else SAMPLER_STEPS[args.sampler]
    steps = default_steps if args.steps is None else args.steps
    guidance = entry.get("default_guidance", 1.0) if args.guidance is None else args.guidance
    guidance = round_guidance(guidance)
    for name, value in (("seed", args.seed), ("steps", steps), ("batch", args.batch), ("guidance", guidance)):
        reason = out_of_range(name, value)
        if reason:
            raise UsageError(f"--{reason}")
    if args.guide not in GUIDES:
        raise UsageError(f"--guide {args.guide!r} is not one of {', '.join(GUIDES)}")
    if args.threads < 0:
        raise UsageError(f"--threads {args.threads} is negative")
    for flag, path in (("--png", args.png), ("--json", args.json)):
        if path is not None:
            check_output(flag, path)
    return {"sampler": args.sampler, "seed": args.seed, "steps": steps, "class_label": class_label_of(entry, args.class_name),
            "guidance": guidance, "guide": args.guide, "batch": args.batch}


def run(args: argparse.Namespace) -> None:
    manifest_path = Path(args.manifest)
    entry = load_entry(manifest_path, args.model)
    settings = validate(args, entry)
    try:
        model_path = model_file(manifest_path, entry, args.weights)
    except ManifestError as error:
        raise UsageError(str(error)) from None
    if not model_path.is_file():
        raise UsageError(f"model file {model_path} does not exist")
    steps = settings["steps"]

    def progress(i, x, denoised):
        print(f"{args.model}: step {i + 1}/{steps}", file=sys.stderr, flush=True)

    x = sample(entry, model_path, settings["seed"], steps, settings["class_label"], settings["guidance"],
               settings["batch"], args.threads, None if args.quiet else progress, settings["sampler"], settings["guide"])
    if args.png:
        buffer = io.BytesIO()
        grid_image(x, columns=min(settings["batch"], 8), scale=4).save(buffer, format="PNG")
        write_atomic(args.png, buffer.getvalue())
    if args.json:
        write_atomic(args.json, json.dumps({
            "model": args.model, "sampler": settings["sampler"], "seed": settings["seed"], "steps": steps, "class": settings["class_label"],
            "guidance": settings["guidance"], "guide": settings["guide"], "shape": list(x.shape), "pixels": to_uint8(x).reshape(-1).tolist(),
            "x": [float(v) for v in x.reshape(-1)]}).encode())
    if not args.png and not args.json:
        print(f"generated {x.shape}; pass --png or --json to save", file=sys.stderr)


def main(argv=None):
    try:
        run(parse_args(argv))
    except (UsageError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
