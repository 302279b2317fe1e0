"""Train a DiffiT denoiser with the EDM objective.

    python -m diffit.train --model diffit-fmnist --data /usr/share/datasets/fashion-mnist --out runs/diffit-fmnist
    python -m diffit.train --model diffit-cifar10 --dataset cifar10 --out runs/diffit-cifar10
    python -m diffit.train --model diffit-emoji --dataset emoji --out runs/diffit-emoji

Multi-GPU: `torchrun --nproc_per_node=N -m diffit.train ...` (PyTorch DDP; --batch is the global batch).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .checkpoint import CheckpointError, load_checkpoint, save_atomic
from .data import DATASETS, DataError, dataset_names, load_dataset, random_xflip
from .diffusion import EDMConstants, EDMLoss, guided_denoiser, heun_sample, karras_sigmas
from .images import save_grid
from .models import DiffiTConfig, build_model, model_names
from .models.config import MODEL_PRESETS
from .noise import normal_tensor

CHECKPOINT_NAME = "checkpoint.pt"


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
    p.add_argument("--max-train-images", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def hardware_name(device: torch.device, bf16: bool = False) -> str:
    precision = ", bf16 autocast" if bf16 else ""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}{precision}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads{precision}"


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


@torch.no_grad()
def sample_grid(model, config: DiffiTConfig, path: Path, steps: int, seed: int, device, per_class: int = 8):
    """One row of `per_class` samples per class (guidance 1), with the shared counter-based noise."""
    k = max(config.num_classes, 1)
    labels = [c for c in range(k) for _ in range(per_class)] if config.num_classes else [0] * per_class
    shape = (len(labels), config.in_channels, config.resolution, config.resolution)
    noise = torch.from_numpy(normal_tensor(seed, shape)).to(device)
    label_tensor = torch.tensor(labels, device=device)

    def denoise(x, sigma):
        s = torch.full((x.shape[0],), sigma, device=device)
        return model(x, s, label_tensor[: x.shape[0]])[0]

    edm = EDMConstants()
    x = heun_sample(denoise, noise, karras_sigmas(steps, edm.sigma_min, edm.sigma_max, edm.rho))
    save_grid(x.float().cpu().numpy(), path, columns=per_class, scale=2)


def main(argv=None):
    args = parse_args(argv)
    args.data = args.data or str(DATASETS[args.dataset].default_path)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank, world = 0, 1
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if distributed:
        dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if args.device.startswith("cuda"):
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            args.device = f"cuda:{local}"
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    is_main = rank == 0
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT_NAME

    def fail(message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)

    # Validate everything before anything is written: a bad data path must not touch a good run.
    if ckpt_path.exists() and not args.resume:
        fail(f"{ckpt_path} already exists; pass --resume to continue it, or choose another --out")
    if args.resume and not ckpt_path.exists():
        fail(f"--resume given but {ckpt_path} does not exist")
    if args.batch % world:
        fail(f"--batch {args.batch} is not divisible by the {world} processes")
    try:
        images_np, labels_np, class_names = load_data(args)
    except DataError as error:
        fail(str(error))
    xflip = DATASETS[args.dataset].train_xflip if args.xflip == "auto" else args.xflip == "on"
    state = None
    if args.resume:
        try:
            state = load_checkpoint(ckpt_path)
        except CheckpointError as error:
            fail(str(error))
        if state["model_name"] != args.model:
            fail(f"{ckpt_path} holds model {state['model_name']}, not {args.model}")
        if state.get("dataset", "fashion-mnist") != args.dataset:
            fail(f"{ckpt_path} was trained on {state.get('dataset')}, not {args.dataset}")

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    config = MODEL_PRESETS[args.model]
    model = build_model(config).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    images_seen, wall_time, history = 0, 0.0, []
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed * 1000 + rank)
    order_rng = np.random.default_rng(args.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        images_seen, wall_time, history = state["images_seen"], state["wall_time_s"], state["history"]
        generator.set_state(state["generator"])
        order_rng.bit_generator.state = state["order_rng"]

    net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) if distributed else model
    data = torch.from_numpy(images_np).to(device)
    labels = torch.from_numpy(labels_np).to(device)
    loss_fn = EDMLoss(EDMConstants(), config.label_dropout, config.num_classes)
    local_batch = args.batch // world
    n = len(data)
    permutation, cursor = order_rng.permutation(n), 0
    if state is not None:
        permutation, cursor = state["permutation"], state["cursor"]

    def write_checkpoint():
        save_atomic({
            "model_name": args.model, "config": config.to_dict(), "model": model.state_dict(), "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(), "images_seen": images_seen, "wall_time_s": wall_time,
            "history": history, "generator": generator.get_state(), "order_rng": order_rng.bit_generator.state,
            "permutation": permutation, "cursor": cursor, "seed": args.seed, "dataset": args.dataset,
            "classes": class_names, "hardware": hardware_name(device, args.bf16) + (f" x{world}" if world > 1 else ""),
            "args": vars(args), "torch": torch.__version__, "train_images": n, "xflip": xflip,
        }, ckpt_path)

    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        params = sum(p.numel() for p in model.parameters())
        print(f"{args.model}: {params:,} parameters, {n:,} training images, device {hardware_name(device, args.bf16)}, "
              f"world {world}, global batch {args.batch}, from {images_seen:,} to {args.images:,} images")
    bar = tqdm(total=args.images, initial=images_seen, unit="img", unit_scale=True, dynamic_ncols=True,
               disable=args.quiet or not is_main, file=sys.stdout, mininterval=2.0)
    next_ckpt = (images_seen // args.checkpoint_every + 1) * args.checkpoint_every
    next_grid = (images_seen // args.grid_every + 1) * args.grid_every if args.grid_every else args.images + 1
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    next_snapshot = (images_seen // args.snapshot_every + 1) * args.snapshot_every if args.snapshot_every else args.images + 1
    window_loss, window_images, window_start = 0.0, 0, time.perf_counter()
    run_start, resumed_wall_time = time.perf_counter(), wall_time
    ema_params = list(ema.parameters())
    model_params = [p.detach() for p in model.parameters()]  # views sharing storage with the trained weights
    model.train()
    while images_seen < args.images:
        step_start = time.perf_counter()
        # Each rank takes its own slice of the shared, seeded epoch permutation.
        if cursor + args.batch > n:
            permutation, cursor = order_rng.permutation(n), 0
        index = permutation[cursor + rank * local_batch: cursor + (rank + 1) * local_batch]
        cursor += args.batch
        index_t = torch.from_numpy(np.asarray(index)).to(device)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (images_seen + args.batch) / max(args.lr_warmup, 1))
        batch_images = random_xflip(data[index_t], generator) if xflip else data[index_t]  # (b, C, H, W)
        with autocast:
            loss = loss_fn(net, batch_images, labels[index_t], generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip, foreach=True)
        optimizer.step()
        images_seen += args.batch
        # EMA with a half-life in images, ramped up early in training (EDM's schedule).
        halflife = min(args.ema_halflife, images_seen * args.ema_rampup)
        beta = 0.5 ** (args.batch / max(halflife, 1e-8))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - beta)
        window_loss = window_loss + loss.detach() * args.batch  # stays on the device: no sync per step
        window_images += args.batch
        if is_main:
            bar.update(args.batch)
            elapsed = time.perf_counter() - window_start
            if elapsed > 5 or images_seen >= args.images or images_seen >= next_ckpt or images_seen >= next_snapshot:
                window_loss = float(window_loss)
                rate = window_images / elapsed
                history.append({"images": images_seen, "loss": window_loss / window_images, "images_per_s": rate})
                bar.set_postfix(loss=f"{window_loss / window_images:.4f}", img_s=f"{rate:.0f}")
                if args.quiet:
                    print(json.dumps(history[-1]), flush=True)
                window_loss, window_images, window_start = 0.0, 0, time.perf_counter()
            if images_seen >= next_ckpt or images_seen >= args.images:
                write_checkpoint()
                next_ckpt += args.checkpoint_every
            if images_seen >= next_snapshot:
                save_atomic({"model_name": args.model, "config": config.to_dict(), "ema": ema.state_dict(),
                             "images_seen": images_seen, "wall_time_s": resumed_wall_time + time.perf_counter() - run_start,
                             "seed": args.seed, "dataset": args.dataset, "classes": class_names,
                             "hardware": hardware_name(device, args.bf16) + (f" x{world}" if world > 1 else "")},
                            out / f"ema-{images_seen:09d}.pt")
                next_snapshot += args.snapshot_every
            if images_seen >= next_grid and images_seen < args.images:
                sample_grid(ema, config, out / f"samples-{images_seen // 1000:06d}k.png", args.grid_steps, args.seed, device)
                next_grid += args.grid_every
        wall_time = resumed_wall_time + time.perf_counter() - run_start
        if args.max_seconds and (not distributed or images_seen % (20 * args.batch) == 0):
            stop = time.perf_counter() - run_start > args.max_seconds
            if distributed:  # every rank stops at the same step, or DDP would hang
                flag = torch.tensor(float(stop), device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop = bool(flag.item())
            if not stop:
                continue
            if is_main:
                print(f"stopping at {images_seen:,} images: --max-seconds {args.max_seconds} reached")
            break
    bar.close()
    if is_main:
        write_checkpoint()
        sample_grid(ema, config, out / "samples.png", args.grid_steps, args.seed, device)
        summary = {"model": args.model, "images_seen": images_seen, "wall_time_s": round(wall_time, 1),
                   "hardware": hardware_name(device, args.bf16), "world": world, "seed": args.seed,
                   "final_loss": history[-1]["loss"] if history else None,
                   "images_per_s": images_seen / wall_time if wall_time else None}
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        print(json.dumps(summary))
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
