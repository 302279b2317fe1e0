"""The training loop (EDM's training_loop.py in spirit): given one validated `RunOptions`, train and nothing else.

`diffit.train` parses and checks the command line, loads the data and any checkpoint to resume, and calls
`training_loop`. The loop minimises EDM's loss (Karras et al. 2022, Eq. 2 with the preconditioning of
Table 1) with Adam, keeps an EMA of the weights with a half-life counted in images, and writes the one
checkpoint format of `diffit.checkpoint`.
"""

from __future__ import annotations

import copy
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from . import compile_cache
from .checkpoint import save_checkpoint
from .data import random_xflip
from .diffusion import EDM, EDMLoss, heun_sample, karras_sigmas
from .images import save_grid
from .models import MODEL_PRESETS, DiffiTConfig, build_model
from .models.token_mixers import use_fused_attention
from .models.unet import use_subpixel_upsampling
from .noise import normal_tensor
from .throughput import peak_bf16_tflops, throughput_fields, training_flops_per_image

CHECKPOINT_NAME = "checkpoint.pt"


DIVERGENCE_RATIO = 2.0  # diffit.train's default --divergence-guard (DivergenceGuard)
DIVERGENCE_EVERY = 10_000  # its default --divergence-every, in images


@dataclass(frozen=True)
class RunOptions:
    """Everything one training run needs, already validated by diffit.train."""

    model: str
    dataset: str
    data: str
    out: str
    images: int  # training length in images seen
    batch: int  # global batch
    lr: float  # peak Adam learning rate (already scaled for the batch, if asked)
    lr_warmup: int  # linear warm-up, in images
    ema_halflife: int  # in images
    ema_rampup: float
    grad_clip: float
    seed: int
    device: str
    bf16: bool
    xflip: bool
    checkpoint_every: int  # images
    grid_every: int  # images; 0: only at the end
    grid_steps: int
    snapshot_every: int  # images; 0: none
    max_seconds: float  # 0: no wall-time limit
    quiet: bool
    fused_adam: bool = False
    compile: bool = False
    compile_mode: str = "default"  # torch.compile's mode; "reduce-overhead" replays CUDA graphs (diffit.train --compile-mode)
    compile_cache: str | None = None  # diffit.compile_cache: loaded before torch.compile, written after the first step
    sdpa: bool = False
    subpixel: bool = False
    part_bytes: int | None = None  # checkpoint part size (diffit.checkpoint.PART_BYTES by default)
    optimizer_state: str = "fp32"  # or "bf16": smaller, not bit-exact on resume
    init_from: str | None = None  # a snapshot's path, shown in the checkpoint (diffit.train --init-from)
    images_file: str | None = None  # a training length (up to images) another process may write (diffit.train --images-file)
    divergence_ratio: float = 0.0  # DivergenceGuard's ratio, 0: off (diffit.train turns it on: DIVERGENCE_RATIO)
    divergence_every: int = DIVERGENCE_EVERY  # images between the guard's copies of the state
    rank: int = 0
    world: int = 1


@dataclass
class TrainingData:
    images: np.ndarray  # (N, C, H, W) float32 in [-1, 1]
    labels: np.ndarray  # (N,) int64
    classes: list[str]


def hardware_name(device: torch.device, bf16: bool = False) -> str:
    precision = ", bf16 autocast" if bf16 else ""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}{precision}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads{precision}"


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

    x = heun_sample(denoise, noise, karras_sigmas(steps, EDM.sigma_min, EDM.sigma_max, EDM.rho))
    save_grid(x.float().cpu().numpy(), path, columns=per_class, scale=2)


class Run:
    """The state that a checkpoint holds: weights, EMA, optimiser, images seen, random streams, data order."""

    def __init__(self, o: RunOptions, data: TrainingData, resume: dict | None, init: dict | None = None):
        self.o, self.data = o, data
        self.device = torch.device(o.device)
        self.config = MODEL_PRESETS[o.model]
        torch.manual_seed(o.seed)
        np.random.seed(o.seed)
        self.model = build_model(self.config).to(self.device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)  # explicit softmax, like the export
        use_fused_attention(self.model, o.sdpa)
        use_subpixel_upsampling(self.model, o.subpixel)
        fused = {"fused": True} if o.fused_adam else {}
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=o.lr, betas=(0.9, 0.99), eps=1e-8, **fused)
        self.images_seen, self.wall_time, self.history = 0, 0.0, []
        # A warm start (diffit.train --init-from): network and EMA from a snapshot, a fresh optimiser whose
        # learning-rate warm-up counts from here; images seen and wall time carry on from the snapshot's.
        self.lr_warmup_from, self.init_from = 0, None
        if init is not None:
            self.model.load_state_dict(init["ema"])
            self.ema.load_state_dict(init["ema"])
            self.images_seen, self.wall_time = init["images_seen"], init["wall_time_s"]
            self.lr_warmup_from = self.images_seen
            self.init_from = {"path": o.init_from, "images_seen": init["images_seen"], "seed": init["seed"],
                              "hardware": init["hardware"], "wall_time_s": init["wall_time_s"]}
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(o.seed * 1000 + o.rank)
        self.order_rng = np.random.default_rng(o.seed)
        self.permutation, self.cursor = self.order_rng.permutation(len(data.images)), 0
        if resume is not None:
            self.model.load_state_dict(resume["model"])
            self.ema.load_state_dict(resume["ema"])
            self.optimizer.load_state_dict(resume["optimizer"])
            self.images_seen, self.wall_time, self.history = resume["images_seen"], resume["wall_time_s"], resume["history"]
            self.generator.set_state(resume["generator"])
            self.order_rng.bit_generator.state = resume["order_rng"]
            self.permutation, self.cursor = resume["permutation"], resume["cursor"]
            self.lr_warmup_from, self.init_from = resume.get("lr_warmup_from", 0), resume.get("init_from")
        self.resumed_from = self.images_seen  # where this session started
        self.hardware = hardware_name(self.device, o.bf16) + (f" x{o.world}" if o.world > 1 else "")

    def metadata(self) -> dict:
        o = self.o
        return {"model_name": o.model, "config": self.config.to_dict(), "images_seen": self.images_seen,
                "wall_time_s": self.wall_time, "seed": o.seed, "dataset": o.dataset, "classes": self.data.classes,
                "hardware": self.hardware, "torch": torch.__version__, "train_images": len(self.data.images),
                "lr_warmup_from": self.lr_warmup_from, "init_from": self.init_from}

    def state(self) -> dict:
        """Everything a checkpoint holds (live tensors: copy.deepcopy it to keep it)."""
        return {**self.metadata(), "model": self.model.state_dict(), "ema": self.ema.state_dict(),
                "optimizer": self.optimizer.state_dict(), "history": self.history, "generator": self.generator.get_state(),
                "order_rng": self.order_rng.bit_generator.state, "permutation": self.permutation, "cursor": self.cursor,
                "xflip": self.o.xflip, "args": asdict(self.o)}

    def go_back(self, kept: dict) -> None:
        """Return to a state kept earlier (DivergenceGuard): weights, EMA, optimiser, images seen, random streams and
        data order; the history and the wall time stay as they are (they say what happened, and what it cost)."""
        self.model.load_state_dict(kept["model"])
        self.ema.load_state_dict(kept["ema"])
        self.optimizer.load_state_dict(kept["optimizer"])
        self.images_seen = kept["images_seen"]
        self.generator.set_state(kept["generator"])
        self.order_rng.bit_generator.state = kept["order_rng"]
        self.permutation, self.cursor = kept["permutation"], kept["cursor"]

    def save(self, out: Path) -> None:
        """The full checkpoint (resumable), in parts."""
        state = self.state()
        dtype = torch.bfloat16 if self.o.optimizer_state == "bf16" else None
        kwargs = {"part_bytes": self.o.part_bytes} if self.o.part_bytes else {}
        save_checkpoint(out / CHECKPOINT_NAME, state, optimizer_dtype=dtype, **kwargs)

    def save_snapshot(self, out: Path) -> None:
        """A small EMA-only snapshot in one file (what the shipped weights are made from)."""
        save_checkpoint(out / f"ema-{self.images_seen:09d}.pt", {**self.metadata(), "ema": self.ema.state_dict()},
                        part_bytes=None)


class DivergenceGuard:
    """Stops a run whose loss runs away, at a state from before it began (diffit.train --divergence-guard RATIO).

    Each log line's loss (a window of steps) is smoothed by the median of the last `window` lines; the run has
    diverged once the smoothed loss exceeds `ratio` x the lowest smoothed loss of this session. Every `every` images
    while the smoothed loss is still within HEALTHY x that lowest, the trainer keeps a copy of its state; a diverged
    run goes back to the older of the last two copies, so that a slow rise before the trigger is left out as well.
    (Seen on emoji, batch 64, lr 4e-4 on the CPU: DiffiT's loss went 0.19 -> 0.25 -> 1.0 over ~6,000 images, with
    the first encoder TMSA's time projection W_qt/W_kt/W_vt growing 4.7x in norm.)"""

    HEALTHY = 1.25

    def __init__(self, ratio: float, every: int, window: int = 5):
        self.ratio, self.every, self.window = ratio, every, window
        self.losses: list[float] = []
        self.best = float("inf")
        self.copies: list[dict] = []  # the last two, oldest first
        self.next_copy = 0

    def smoothed(self) -> float | None:
        if len(self.losses) < self.window:
            return None
        return float(np.median(self.losses[-self.window:]))

    def observe(self, loss: float) -> bool:
        """Add a log line's loss; True once the run has diverged (a NaN loss has too)."""
        if not np.isfinite(loss):
            return True
        self.losses.append(loss)
        smoothed = self.smoothed()
        if smoothed is None:
            return False
        self.best = min(self.best, smoothed)
        return smoothed > self.ratio * self.best

    def wants_copy(self, images_seen: int) -> bool:
        smoothed = self.smoothed()
        return images_seen >= self.next_copy and smoothed is not None and smoothed <= self.HEALTHY * self.best

    def keep(self, state: dict, images_seen: int) -> None:
        self.copies = [*self.copies[-1:], copy.deepcopy(state)]
        self.next_copy = images_seen + self.every

    def fallback(self) -> dict | None:
        return self.copies[0] if self.copies else None


def marks_graph_steps(compile: bool, compile_mode: str, device: torch.device) -> bool:
    """Whether each step must call torch.compiler.cudagraph_mark_step_begin(): under CUDA graphs (torch.compile's
    reduce-overhead mode on a GPU) a replay overwrites the previous step's outputs."""
    return compile and compile_mode == "reduce-overhead" and device.type == "cuda"


def _next_multiple(value: int, every: int, never: int) -> int:
    return (value // every + 1) * every if every else never


def _go_back(run: Run, guard: DivergenceGuard, seen: int) -> dict:
    """The guard fired at `seen` images: back to its older copy (or stay, if it kept none); what happened, for the
    summary."""
    kept = guard.fallback()
    if kept is not None:
        run.go_back(kept)
    report = {"at_images": seen, "smoothed_loss": guard.smoothed(), "lowest_smoothed_loss": guard.best,
              "ratio": guard.ratio, "back_to_images": run.images_seen if kept is not None else None}
    where = f"went back to {run.images_seen:,} images" if kept is not None else "no earlier state was kept"
    print(f"{run.o.model}: the loss diverged at {seen:,} images (smoothed {report['smoothed_loss']}, lowest "
          f"{guard.best:.4f}, over {guard.ratio:g}x): {where}; stopping", flush=True)
    return report


def training_loop(o: RunOptions, data: TrainingData, resume: dict | None = None,
                  init: dict | None = None) -> dict | None:
    """Train from `resume`, from a snapshot `init` (a warm start) or from scratch, to `o.images` images or
    `o.max_seconds`; the summary on rank 0."""
    run = Run(o, data, resume, init)
    device, model, ema, optimizer, generator = run.device, run.model, run.ema, run.optimizer, run.generator
    is_main, distributed = o.rank == 0, o.world > 1
    out = Path(o.out)
    net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) if distributed else model
    cache = Path(o.compile_cache) if o.compile and o.compile_cache else None
    if cache is not None:
        message = compile_cache.load(cache)
        if is_main:
            print(f"{o.model}: {message}", flush=True)
    if o.compile:
        net = torch.compile(net, mode=o.compile_mode)
    graph_steps = marks_graph_steps(o.compile, o.compile_mode, device)
    images = torch.from_numpy(data.images).to(device)
    labels = torch.from_numpy(data.labels).to(device)
    loss_fn = EDMLoss(EDM, run.config.label_dropout, run.config.num_classes)
    local_batch, n = o.batch // o.world, len(data.images)

    chip = hardware_name(device)  # names the GPU, whose peak diffit.throughput looks up
    flops_per_image = training_flops_per_image(run.config) if is_main else 0.0  # F_img, forward + backward
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        params = sum(p.numel() for p in model.parameters())
        peak = peak_bf16_tflops(chip)
        print(f"{o.model}: {flops_per_image / 1e9:.2f} GFLOP per training image (3x the forward's); dense bf16 peak of "
              f"{chip}: {f'{peak:g} TFLOP/s' if peak else 'not listed'}")
        compiled = "torch.compile" + (f" ({o.compile_mode})" if o.compile_mode != "default" else "")
        fast = [name for name, on in (("fused Adam", o.fused_adam), (compiled, o.compile), ("SDPA", o.sdpa),
                                             ("sub-pixel upsampling", o.subpixel)) if on]
        print(f"{o.model}: {params:,} parameters, {n:,} training images, device {hardware_name(device, o.bf16)}, "
              f"world {o.world}, global batch {o.batch}, lr {o.lr:g}, fast path: {', '.join(fast) or 'off'}, "
              f"from {run.images_seen:,} to {o.images:,} images")
    bar = tqdm(total=o.images, initial=run.images_seen, unit="img", unit_scale=True, dynamic_ncols=True,
               disable=o.quiet or not is_main, file=sys.stdout, mininterval=2.0)
    target = o.images  # or what --images-file names, up to o.images (gpu_run.py's equal terms)
    never = o.images + 1
    next_ckpt = _next_multiple(run.images_seen, o.checkpoint_every, never)
    next_grid = _next_multiple(run.images_seen, o.grid_every, never)
    next_snapshot = _next_multiple(run.images_seen, o.snapshot_every, never)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=o.bf16)
    window_loss, window_images, window_start = 0.0, 0, time.perf_counter()
    run_start, resumed_wall_time = time.perf_counter(), run.wall_time
    ema_params = list(ema.parameters())
    model_params = [p.detach() for p in model.parameters()]  # views sharing storage with the trained weights
    # Under DDP the ranks would have to agree on the step to stop at: the guard runs in single-process runs only.
    guard = DivergenceGuard(o.divergence_ratio, o.divergence_every) if o.divergence_ratio > 0 and o.world == 1 else None
    diverged = None
    model.train()
    while run.images_seen < target:
        # Each rank takes its own slice of the shared, seeded epoch permutation.
        if run.cursor + o.batch > n:
            run.permutation, run.cursor = run.order_rng.permutation(n), 0
        index = run.permutation[run.cursor + o.rank * local_batch: run.cursor + (o.rank + 1) * local_batch]
        run.cursor += o.batch
        index_t = torch.from_numpy(np.asarray(index)).to(device)
        for group in optimizer.param_groups:
            group["lr"] = o.lr * min(1.0, (run.images_seen - run.lr_warmup_from + o.batch) / max(o.lr_warmup, 1))
        batch_images = random_xflip(images[index_t], generator) if o.xflip else images[index_t]  # (b, C, H, W)
        if graph_steps:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast:
            loss = loss_fn(net, batch_images, labels[index_t], generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip, foreach=True)
        optimizer.step()
        if cache is not None and is_main and run.images_seen == run.resumed_from:  # the first step compiled the graphs
            print(f"{o.model}: compile cache {cache}: wrote {compile_cache.save(cache):,} bytes", flush=True)
        run.images_seen += o.batch
        # EMA with a half-life in images, ramped up early in training (EDM's schedule).
        halflife = min(o.ema_halflife, run.images_seen * o.ema_rampup)
        beta = 0.5 ** (o.batch / max(halflife, 1e-8))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - beta)
        window_loss = window_loss + loss.detach() * o.batch  # stays on the device: no sync per step
        window_images += o.batch
        if is_main:
            bar.update(o.batch)
            elapsed = time.perf_counter() - window_start
            seen = run.images_seen
            if elapsed > 5 or seen >= target or seen >= next_ckpt or seen >= next_snapshot:
                window_loss = float(window_loss)
                rate = window_images / elapsed
                chip_use = throughput_fields(rate, flops_per_image, chip)
                run.history.append({"images": seen, "loss": window_loss / window_images, "images_per_s": rate,
                                    "tflops": chip_use["tflops"], "peak_share": chip_use["peak_share"]})
                share = f", {chip_use['peak_share']:.1%} of bf16 peak" if chip_use["peak_share"] is not None else ""
                bar.set_postfix_str(f"loss={window_loss / window_images:.4f}, {rate:.0f} img/s, "
                                    f"{chip_use['tflops']:.2f} TFLOP/s{share}")
                if o.quiet:
                    print(json.dumps(run.history[-1]), flush=True)
                window_loss, window_images, window_start = 0.0, 0, time.perf_counter()
                if guard is not None and guard.observe(run.history[-1]["loss"]):
                    diverged = _go_back(run, guard, seen)
                    break
                if guard is not None and guard.wants_copy(seen):
                    guard.keep(run.state(), seen)
            run.wall_time = resumed_wall_time + time.perf_counter() - run_start
            if seen >= next_ckpt or seen >= target:
                run.save(out)
                next_ckpt += o.checkpoint_every
            if seen >= next_snapshot:
                run.save_snapshot(out)
                next_snapshot += o.snapshot_every
            if next_grid <= seen < target:
                sample_grid(ema, run.config, out / f"samples-{seen // 1000:06d}k.png", o.grid_steps, o.seed, device)
                next_grid += o.grid_every
        run.wall_time = resumed_wall_time + time.perf_counter() - run_start
        if o.images_file:
            named = _target_from_file(o, run, target, device)
            if named != target and is_main:
                print(f"{o.model}: training length set to {named:,} images by --images-file {o.images_file}",
                      flush=True)
            target = named
        if o.max_seconds and _should_stop(o, run, run_start, device):
            if is_main:
                print(f"stopping at {run.images_seen:,} images: --max-seconds {o.max_seconds} reached")
            break
    bar.close()
    if not is_main:
        return None
    run.save(out)
    if cache is not None:  # again: any graph compiled after the first step joins it
        print(f"{o.model}: compile cache {cache}: wrote {compile_cache.save(cache):,} bytes", flush=True)
    sample_grid(ema, run.config, out / "samples.png", o.grid_steps, o.seed, device)
    history = run.history
    # This session's rate (a resumed run's earlier wall time is not in it).
    session_s = time.perf_counter() - run_start
    session_rate = (run.images_seen - run.resumed_from) / session_s if session_s > 0 else None
    summary = {"model": o.model, "images_seen": run.images_seen, "wall_time_s": round(run.wall_time, 1),
               "hardware": hardware_name(device, o.bf16), "world": o.world, "seed": o.seed,
               "final_loss": history[-1]["loss"] if history else None,
               "images_per_s": session_rate, "train_flops_per_image": flops_per_image,
               **throughput_fields(session_rate, flops_per_image, chip),
               "batch": o.batch, "lr": o.lr, "fused_adam": o.fused_adam, "compile": o.compile, "compile_mode": o.compile_mode, "sdpa": o.sdpa,
               "subpixel": o.subpixel, "init_from": run.init_from, "diverged": diverged}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return summary


def _target_from_file(o: RunOptions, run: Run, target: int, device: torch.device) -> int:
    """--images-file, read every 20 steps: the training length it names, up to --images (a missing or unreadable
    file keeps `target`). Under DDP every rank reads at the same step and takes the lowest value, or DDP would hang."""
    if (run.images_seen // o.batch) % 20:
        return target
    try:
        value = int(Path(o.images_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        value = target
    if o.world > 1:
        flag = torch.tensor(value, device=device, dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        value = int(flag.item())
    return min(o.images, value)


def _should_stop(o: RunOptions, run: Run, run_start: float, device: torch.device) -> bool:
    """--max-seconds: under DDP every rank stops at the same step (checked every 20 steps), or DDP would hang."""
    if o.world > 1 and run.images_seen % (20 * o.batch):
        return False
    stop = time.perf_counter() - run_start > o.max_seconds
    if o.world > 1:
        flag = torch.tensor(float(stop), device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        stop = bool(flag.item())
    return stop
