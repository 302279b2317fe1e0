"""Train a DiffiT denoiser with the EDM objective: the command line (diffit.training_loop does the training).

    python -m diffit.train --model diffit-fmnist --data /usr/share/datasets/fashion-mnist --out runs/diffit-fmnist
    python -m diffit.train --model diffit-cifar10 --dataset cifar10 --out runs/diffit-cifar10
    python -m diffit.train --model diffit-emoji --dataset emoji --out runs/diffit-emoji

Multi-GPU: `torchrun --nproc_per_node=N -m diffit.train ...` (PyTorch DDP; --batch is the global batch).
GPU speed: --fast (fused Adam, torch.compile, SDPA attention); a larger --batch with --lr-ref-batch scales
the learning rate linearly (the EMA half-life and warm-up are counted in images, so they need no change).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .checkpoint import PART_BYTES, CheckpointError, load_checkpoint
from .data import DATASETS, DataError, dataset_names, load_dataset
from .models import MODEL_PRESETS, model_names
from .training_loop import (
    CHECKPOINT_NAME,
    DIVERGENCE_EVERY,
    DIVERGENCE_RATIO,
    RunOptions,
    TrainingData,
    training_loop,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=model_names(), default="diffit-fmnist", help="model preset")
    p.add_argument("--dataset", choices=dataset_names(), default="fashion-mnist")
    p.add_argument("--data", default=None, help="folder with the data files (default: the data set's usual place)")
    p.add_argument("--xflip", choices=["auto", "on", "off"], default="auto",
                   help="random horizontal flips per batch (auto: on for cifar10, off for fashion-mnist and emoji)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, sample grids, log")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--init-from", metavar="SNAPSHOT", default=None,
                   help="warm start: network and EMA from an EMA snapshot (ema-*.pt or weights/*-ema.pt) of the same "
                        "model and data set; a fresh optimiser, whose --lr-warmup counts from here; images seen and "
                        "wall time carry on from the snapshot's")
    p.add_argument("--images", type=int, default=2_000_000, help="training length in images seen")
    p.add_argument("--batch", type=int, default=128, help="global batch size")
    p.add_argument("--lr", type=float, default=4e-4, help="Adam learning rate")
    p.add_argument("--lr-warmup", type=int, default=50_000, help="linear learning-rate warm-up, in images")
    p.add_argument("--ema-halflife", type=int, default=100_000, help="EMA half-life in images")
    p.add_argument("--ema-rampup", type=float, default=0.05, help="EMA half-life <= this ratio of images seen")
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="'cpu', 'cuda', 'cuda:N' or 'auto'")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA, or CPUs with bf16 instructions)")
    p.add_argument("--checkpoint-every", type=int, default=100_000, help="images between checkpoints")
    p.add_argument("--grid-every", type=int, default=500_000, help="images between sample grids (0: only at the end)")
    p.add_argument("--grid-steps", type=int, default=18, help="Heun steps for sample grids")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="images between small EMA-only snapshots ema-<images>.pt (0: none)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop (with a checkpoint) after this wall time")
    p.add_argument("--images-file", default=None, metavar="FILE",
                   help="a file that may name the training length, up to --images, while the run trains (read every "
                        "20 steps; gpu_run.py writes it so that models sharing a GPU stop at the same number of images)")
    p.add_argument("--divergence-guard", type=float, default=DIVERGENCE_RATIO, metavar="RATIO",
                   help="stop a run whose smoothed loss exceeds RATIO x its lowest, going back to a state kept before "
                        "the rise (training_loop.DivergenceGuard; single-process runs; 0: off)")
    p.add_argument("--divergence-every", type=int, default=DIVERGENCE_EVERY, help="images between the guard's kept states")
    p.add_argument("--max-train-images", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    fast = p.add_argument_group("fast path (off by default; each agrees with the plain path, tests/test_fast_path.py)")
    fast.add_argument("--fused-adam", action="store_true", help="torch.optim.Adam(fused=True)")
    fast.add_argument("--compile", action="store_true", help="torch.compile the network")
    fast.add_argument("--sdpa", action="store_true",
                      help="attention by scaled_dot_product_attention with the position bias as a mask (training only)")
    fast.add_argument("--fast", action="store_true", help="all three above")
    fast.add_argument("--compile-mode", choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                      default="default",
                      help="torch.compile's mode: reduce-overhead replays the compiled steps as CUDA graphs (launch "
                           "overhead, which sets this small model's pace on a GPU); a candidate until train_speed.py "
                           "measures a gain")
    fast.add_argument("--compile-cache", default=None, metavar="FILE",
                      help="with --compile: load torch.compile's artifacts from FILE if it exists, and write them there after "
                           "the first step and at the end (diffit/compile_cache.py; a fresh machine then compiles from cache)")
    fast.add_argument("--subpixel", action="store_true",
                      help="upsampling as four 2x2 convolutions on the low-resolution map (the exported form; same "
                           "function and gradients); a candidate, not part of --fast")
    fast.add_argument("--lr-ref-batch", type=int, default=0,
                      help="scale --lr linearly: lr = --lr * --batch / this (0: --lr as given)")
    ckpt = p.add_argument_group("checkpoint")
    ckpt.add_argument("--part-mib", type=float, default=PART_BYTES / 2**20,
                      help="checkpoint part files stay under this size (a GPU run brings back files of at most 16 MiB)")
    ckpt.add_argument("--optimizer-state", choices=["fp32", "bf16"], default="fp32",
                      help="optimizer moments in the checkpoint; bf16 halves them, but a resume is then not bit-exact")
    return p.parse_args(argv)


def load_data(args) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The training split, checked against the model preset's channels and classes."""
    images, labels, class_names = load_dataset(args.dataset, args.data, "train")
    if args.max_train_images:
        images, labels = images[: args.max_train_images], labels[: args.max_train_images]
    config = MODEL_PRESETS[args.model]
    if images.shape[1] != config.in_channels or len(class_names) != config.num_classes:
        raise DataError(f"{args.dataset} has {images.shape[1]} channel(s) and {len(class_names)} classes, but model "
                        f"{args.model} expects {config.in_channels} and {config.num_classes}; choose a matching preset")
    return images, labels, class_names


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def unwritable(out: Path, flag: str = "--out") -> str | None:
    """Why the folder `out` (given as `flag`) cannot be written, or None (checked before any work)."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{flag} {out}: {existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"{flag} {out} is not writable ({error.strerror or error})"
    return None


def setup_device(args) -> tuple[int, int]:
    """Resolve --device; under torchrun, join the process group. Returns (rank, world)."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
    if args.device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        args.device = f"cuda:{local}"
    return dist.get_rank(), dist.get_world_size()


def check_options(args, world: int) -> None:
    if args.batch <= 0 or args.images <= 0:
        fail("--batch and --images must be positive")
    if args.batch % world:
        fail(f"--batch {args.batch} is not divisible by the {world} processes")
    if args.part_mib < 0.25:
        fail(f"--part-mib {args.part_mib} is too small (at least 0.25)")
    if args.lr_ref_batch < 0:
        fail("--lr-ref-batch must be 0 or positive")
    if not (args.divergence_guard == 0 or args.divergence_guard > 1) or args.divergence_every <= 0:
        fail(f"--divergence-guard must be 0 (off) or above 1 (it is {args.divergence_guard:g}), and --divergence-every "
             f"positive (it is {args.divergence_every})")
    if args.compile_mode != "default" and not args.compile:
        fail("--compile-mode needs --compile (or --fast)")
    if args.compile_cache:
        if not args.compile:
            fail("--compile-cache needs --compile (or --fast)")
        cache = Path(args.compile_cache)
        problem = f"--compile-cache {cache} is a folder" if cache.is_dir() else unwritable(cache.parent, "--compile-cache's folder")
        if problem:
            fail(problem)
    if args.fused_adam:
        try:
            torch.optim.Adam([torch.zeros(1, device=args.device, requires_grad=True)], fused=True)
        except (RuntimeError, ValueError) as error:
            fail(f"--fused-adam is not supported on {args.device}: {error}")


def load_run_state(path: Path, args, name: str) -> dict:
    """A checkpoint or snapshot (`name` is how messages call it), checked against --model and --dataset."""
    try:
        state = load_checkpoint(path)
    except CheckpointError as error:
        fail(str(error))
    if state.get("model_name") != args.model:
        fail(f"{name} holds model {state.get('model_name')}, not {args.model}")
    if state.get("dataset", "fashion-mnist") != args.dataset:
        fail(f"{name} was trained on {state.get('dataset')}, not {args.dataset}")
    return state


def load_init(path: Path, args) -> dict:
    """The EMA snapshot for --init-from, checked against --model, --dataset and --images."""
    name = f"--init-from {path}"
    state = load_run_state(path, args, name)
    if "ema" not in state or "images_seen" not in state:
        fail(f"{name} holds no EMA weights with an image count")
    if state["images_seen"] >= args.images:
        fail(f"{name} has seen {state['images_seen']:,} images already; --images {args.images:,} must be more")
    return state


def main(argv=None):
    args = parse_args(argv)
    args.data = args.data or str(DATASETS[args.dataset].default_path)
    if args.fast:
        args.fused_adam = args.compile = args.sdpa = True
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT_NAME
    # Validate everything before anything is written: a bad data path must not touch a good run.
    problem = unwritable(out)
    if problem:
        fail(problem)
    if args.init_from and args.resume:
        fail("--init-from starts a new run; --resume continues one: give one of them")
    if ckpt_path.exists() and not args.resume:
        fail(f"{ckpt_path} already exists; pass --resume to continue it, or choose another --out")
    if args.resume and not ckpt_path.exists():
        fail(f"--resume given but {ckpt_path} does not exist")
    rank, world = setup_device(args)
    check_options(args, world)
    try:
        data = TrainingData(*load_data(args))
    except DataError as error:
        fail(str(error))
    resume = load_run_state(ckpt_path, args, str(ckpt_path)) if args.resume else None
    init = load_init(Path(args.init_from), args) if args.init_from else None
    options = RunOptions(
        model=args.model, dataset=args.dataset, data=args.data, out=args.out, images=args.images, batch=args.batch,
        lr=args.lr * args.batch / args.lr_ref_batch if args.lr_ref_batch else args.lr, lr_warmup=args.lr_warmup,
        ema_halflife=args.ema_halflife, ema_rampup=args.ema_rampup, grad_clip=args.grad_clip, seed=args.seed,
        device=args.device, bf16=args.bf16, xflip=DATASETS[args.dataset].train_xflip if args.xflip == "auto" else args.xflip == "on",
        checkpoint_every=args.checkpoint_every, grid_every=args.grid_every, grid_steps=args.grid_steps,
        snapshot_every=args.snapshot_every, max_seconds=args.max_seconds, quiet=args.quiet, fused_adam=args.fused_adam,
        compile=args.compile, compile_mode=args.compile_mode, compile_cache=args.compile_cache, sdpa=args.sdpa, subpixel=args.subpixel,
        part_bytes=int(args.part_mib * 2**20), optimizer_state=args.optimizer_state, init_from=args.init_from,
        images_file=args.images_file, divergence_ratio=args.divergence_guard, divergence_every=args.divergence_every,
        rank=rank, world=world)
    training_loop(options, data, resume, init)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
