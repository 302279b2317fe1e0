"""How TMSA's attention changes along the denoising trajectory: per layer and per step, the mean
entropy of the attention rows and the mean attention distance (in input pixels), averaged over
queries, heads, windows and images. The app draws the same chart from the same definitions.

    python -m diffit.attention_stats --checkpoint training/weights/diffit-fmnist-ema.pt --class 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_ema_model
from .diffusion import guided_denoiser, heun_sample, karras_sigmas
from .noise import normal_tensor


def token_distances(window: int, stride: int) -> torch.Tensor:
    """(N, N) Euclidean distance between token centres of one window, in input pixels."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()], 1).float() * stride  # (N, 2)
    return torch.cdist(coords, coords)


def layer_stats(attention: torch.Tensor, window: int, stride: int) -> tuple[float, float]:
    """attention: (B, heads, windows, N, N) -> (mean row entropy in nats, mean attention distance in pixels)."""
    entropy = -(attention * attention.clamp_min(1e-12).log()).sum(-1).mean().item()
    distance = (attention * token_distances(window, stride)).sum(-1).mean().item()
    return entropy, distance


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.attention_stats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--class", dest="class_label", type=int, default=None, help="class index (default: unconditional)")
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    args = p.parse_args(argv)
    try:
        model, _ = load_ema_model(Path(args.checkpoint))
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    config = model.config
    layers = model.net.attention_layers()
    label = config.num_classes if args.class_label is None else args.class_label
    noise = torch.from_numpy(normal_tensor(args.seed, (args.batch, config.in_channels, config.resolution, config.resolution)))
    sigmas = karras_sigmas(args.steps)  # EDM's sigma_min, sigma_max, rho
    rows = []

    def denoise(x, sigma, labels):
        with torch.no_grad():
            denoised, attentions = model(x, torch.full((x.shape[0],), sigma), torch.tensor(labels), return_attention=True)
        denoise.last = attentions
        return denoised

    def on_step(i, x, denoised):
        # Statistics of the evaluation the step ends on (the Heun correction when there is one).
        stats = {layer["name"]: layer_stats(a[: args.batch], layer["window"], 2 ** layer["level"])
                 for layer, a in zip(layers, denoise.last, strict=True)}
        rows.append({"step": i + 1, "sigma": float(sigmas[i + 1] if sigmas[i + 1] > 0 else sigmas[i]), "layers": stats})

    d = guided_denoiser(denoise, label, config.num_classes, args.guidance, lambda parts: torch.cat(parts))
    heun_sample(d, noise, sigmas, on_step)
    names = [layer["name"] for layer in layers]
    print("entropy (nats) / mean distance (px) per layer; uniform entropy in a 64-token window = ln 64 = 4.16")
    print(f"{'step':>4} {'sigma':>8} " + " ".join(f"{n:>14}" for n in names))
    for row in rows:
        print(f"{row['step']:>4} {row['sigma']:>8.3f} " + " ".join(f"{row['layers'][n][0]:>6.2f} /{row['layers'][n][1]:>6.2f}" for n in names))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
