"""Training throughput per preset and fast-path setting: a measured table (images/s), for the next GPU run.

    python training/scripts/train_speed.py --models diffit-fmnist diffit-cifar10 --batch 1024 --bf16 --steps 30

Each row times `--steps` optimiser steps (model, EDMLoss, backward, Adam; no EMA) after `--warmup` steps
(which include torch.compile's compilation), on random data, and prints images/s. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffit.diffusion import EDMLoss  # noqa: E402
from diffit.models import MODEL_PRESETS, build_model  # noqa: E402
from diffit.models.token_mixers import use_fused_attention  # noqa: E402
from diffit.models.unet import use_subpixel_upsampling  # noqa: E402
from diffit.throughput import peak_bf16_tflops, throughput_fields, training_flops_per_image  # noqa: E402
from diffit.training_loop import marks_graph_steps  # noqa: E402

SETTINGS = {"plain": {}, "fused Adam": {"fused_adam": True}, "SDPA": {"sdpa": True}, "compile": {"compile": True},
            "all (--fast)": {"fused_adam": True, "sdpa": True, "compile": True},
            # Candidate, not in --fast until a GPU measurement shows a gain: upsampling as four 2x2 convolutions on
            # the low-resolution map (the exported form; the same function and gradients, tests/test_models.py).
            "--fast + sub-pixel": {"fused_adam": True, "sdpa": True, "compile": True, "subpixel": True},
            # Candidate: torch.compile's reduce-overhead mode, which replays forward and backward as CUDA graphs (on a
            # GPU a forward of diffit-fmnist took 8.5 ms eager and 0.77 ms as a graph replay: issue 9).
            "--fast + CUDA graphs": {"fused_adam": True, "sdpa": True, "compile": True, "compile_mode": "reduce-overhead"}}


def images_per_s(name: str, batch: int, steps: int, warmup: int, device: torch.device, bf16: bool,
                 fused_adam=False, sdpa=False, compile=False, subpixel=False, compile_mode="default") -> float:
    config = MODEL_PRESETS[name]
    torch.manual_seed(0)
    model = use_subpixel_upsampling(use_fused_attention(build_model(config).to(device), sdpa), subpixel).train()
    net = torch.compile(model, mode=compile_mode) if compile else model
    graph_steps = marks_graph_steps(compile, compile_mode, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, **({"fused": True} if fused_adam else {}))
    loss_fn = EDMLoss(num_classes=config.num_classes, label_dropout=config.label_dropout)
    x = torch.randn(batch, config.in_channels, config.resolution, config.resolution, device=device)
    labels = torch.randint(0, max(config.num_classes, 1), (batch,), device=device)
    generator = torch.Generator(device=device).manual_seed(0)

    def step():
        if graph_steps:
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(net, x, labels, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["diffit-fmnist"], choices=sorted(MODEL_PRESETS))
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{hardware}, batch {args.batch}, {'bf16 autocast' if args.bf16 else 'fp32/TF32'}, torch {torch.__version__}")
    peak = peak_bf16_tflops(hardware)
    print(f"images/s per setting; the best as TFLOP/s (F_img = 3x forward FLOPs, diffit.throughput) and as a share "
          f"of the dense bf16 peak ({f'{peak:g} TFLOP/s' if peak else 'not listed for this chip'})")
    print("| model | GFLOP/image | " + " | ".join(args.settings) + " | best TFLOP/s | share of peak |")
    print("|---|---:|" + "---:|" * len(args.settings) + "---:|---:|")
    for name in args.models:
        rates = [images_per_s(name, args.batch, args.steps, args.warmup, device, args.bf16, **SETTINGS[s])
                 for s in args.settings]
        flops = training_flops_per_image(MODEL_PRESETS[name])
        use = throughput_fields(max(rates), flops, hardware)
        share = f"{use['peak_share']:.1%}" if use["peak_share"] is not None else "–"
        print(f"| {name} | {flops / 1e9:.2f} | " + " | ".join(f"{r:,.0f}" for r in rates)
              + f" | {use['tflops']:.2f} | {share} |", flush=True)


if __name__ == "__main__":
    main()
