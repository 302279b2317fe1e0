"""Memorisation check: how close do a model's samples come to its training images, measured against how close
genuinely new images of the same distribution (the held-out split) come to them?

    python -m diffit.memorization --model diffit-emoji --classifier training/weights/classifier-emoji.pt \\
        --samples 500 --steps 12 --guidance 1 --json emoji-memorization.json --pairs-png emoji-closest-pairs.png
    python -m diffit.memorization --checkpoint runs/diffit-emoji/checkpoint.pt --classifier weights/classifier-emoji.pt

Samples are drawn as `diffit.evaluate` draws them (deterministic Heun sampler, noise row i of --seed for sample i,
labels in the training split's class mix, quantised to the app's 8-bit pixels). For every sample and every held-out
image q, with T the training split:

    d1(q) = min_{t in T} ||q - t||,   d2(q) = the second smallest ||q - t||,   ratio(q) = d1(q) / d2(q)

in two spaces: pixels in [-1, 1] (C*32*32 values) and the classifier's 256-d penultimate features (pixel L2 puts a
copy shifted by a pixel or recoloured far away; the features are less sensitive to such changes). The held-out d1 is the reference: a sample with
d1 below the 1st percentile (or the minimum) of the held-out d1 is closer to a training image than almost (or any)
new image comes; the share of such samples is the memorisation rate. A copy also has ratio(q) near 0 (its nearest
training image far nearer than the next), a new image near 1. --pairs-png draws the closest sample/training pairs
and, below them, the closest held-out/training pairs for comparison.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from .benchmark import load_average, machine
from .contract import out_of_range
from .data import DATASETS, DataError, dataset_names, load_dataset
from .evaluate import EvaluationError, Subject, proportional_labels
from .images import grid_image
from .outputs import OutputError, check_output, write_atomic
from .sample import UsageError, load_entry

CANDIDATES = 8  # nearest candidates re-measured exactly after the float32 search
PERCENTILES = {"min": 0.0, "p1": 1.0, "p5": 5.0, "median": 50.0}


class MemorisationError(Exception):
    """Bad input or an unusable file: reported as one line, exit status 2."""


def nearest_two(queries: np.ndarray, reference: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d1, d2 (the two smallest L2 distances from each query row to the reference rows) and the nearest's index.

    queries (Q, D), reference (R, D), R >= 2. Candidates come from ||q - t||^2 = ||q||^2 + ||t||^2 - 2 q.t in
    float32 (one matrix product per chunk of queries); the CANDIDATES nearest are then measured directly in float64,
    so an exact copy comes out at 0 rather than at the product's round-off.
    """
    queries = np.ascontiguousarray(queries.reshape(len(queries), -1), dtype=np.float32)  # (Q, D)
    reference = np.ascontiguousarray(reference.reshape(len(reference), -1), dtype=np.float32)  # (R, D)
    k = min(CANDIDATES, len(reference))
    ref_sq = np.einsum("rd,rd->r", reference, reference)  # (R,)
    d1, d2, index = (np.empty(len(queries)) for _ in range(3))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]  # (B, D)
        approx = ref_sq[None, :] - 2.0 * (q @ reference.T)  # (B, R): ||q - t||^2 - ||q||^2
        candidates = np.argpartition(approx, k - 1, axis=1)[:, :k]  # (B, k)
        exact = np.linalg.norm(q[:, None, :].astype(np.float64) - reference[candidates].astype(np.float64), axis=2)
        order = np.argsort(exact, axis=1)  # (B, k)
        rows = np.arange(len(q))
        d1[start:start + len(q)] = exact[rows, order[:, 0]]
        d2[start:start + len(q)] = exact[rows, order[:, 1]]
        index[start:start + len(q)] = candidates[rows, order[:, 0]]
    return d1, d2, index.astype(np.int64)


def ratio(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """d1 / d2; 0 for an exact copy (d1 = 0, even where the training set holds the image twice and d2 = 0)."""
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


def distribution(values: np.ndarray) -> dict:
    return {name: float(np.percentile(values, q)) for name, q in PERCENTILES.items()}


def compare(samples: tuple[np.ndarray, np.ndarray], held_out: tuple[np.ndarray, np.ndarray]) -> dict:
    """Sample d1 and ratio against the held-out ones: their distributions and the memorisation rates.

    memorisation_rate_p1 = share of samples with d1 < p1(held-out d1); memorisation_rate_min uses the held-out
    minimum; ratio_rate_p1 = share of samples with ratio < p1(held-out ratio).
    """
    (s1, s2), (h1, h2) = samples, held_out
    s_ratio, h_ratio = ratio(s1, s2), ratio(h1, h2)
    return {"samples": {"nearest": distribution(s1), "ratio": distribution(s_ratio)},
            "held_out": {"nearest": distribution(h1), "ratio": distribution(h_ratio)},
            "memorisation_rate_p1": float(np.mean(s1 < np.percentile(h1, 1.0))),
            "memorisation_rate_min": float(np.mean(s1 < h1.min())),
            "ratio_rate_p1": float(np.mean(s_ratio < np.percentile(h_ratio, 1.0)))}


def memorisation(samples: np.ndarray, train: np.ndarray, held_out: np.ndarray, embed=None) -> dict:
    """The whole check for (N, C, H, W) samples, training and held-out images in [-1, 1].

    Returns {"pixels": compare(...), "features": compare(...) (with `embed`, images -> (N, F) features),
    "nearest": per-sample (d1, d2, index) in pixels, "held_out_nearest": the same for held-out images}.
    """
    if len(train) < 2:
        raise MemorisationError(f"the training split has {len(train)} image(s); the nearest and second nearest need 2")
    if len(held_out) < 1 or len(samples) < 1:
        raise MemorisationError("need at least one sample and one held-out image")
    nearest, held_nearest = nearest_two(samples, train), nearest_two(held_out, train)
    result = {"pixels": compare(nearest[:2], held_nearest[:2]), "nearest": nearest, "held_out_nearest": held_nearest}
    if embed is not None:
        train_features = embed(train)  # (R, F)
        result["features"] = compare(nearest_two(embed(samples), train_features)[:2],
                                     nearest_two(embed(held_out), train_features)[:2])
    return result


def closest_pairs(nearest: tuple[np.ndarray, np.ndarray, np.ndarray], k: int) -> list[int]:
    """Indices of the k queries nearest to a training image, closest first."""
    return [int(i) for i in np.argsort(nearest[0], kind="stable")[:k]]


def pairs_image(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], scale: int = 3, colours: int = 0):
    """One PIL image: per row a caption, then each (query, nearest training image) pair side by side, upscaled,
    with "d <d1>  r <ratio>" under it. rows: (caption, queries (k, C, H, W), their nearest (k, C, H, W), d1 (k,),
    ratio (k,)). colours > 0: a median-cut palette of that many colours (the drawing only; distances are measured
    on the exact images)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    line, gap, margin = 14, 10, 8
    tiles = [[grid_image(np.stack([q, t]), columns=2, scale=scale) for q, t in zip(qs, ts, strict=True)]
             for _, qs, ts, _, _ in rows]
    tile_w, tile_h = tiles[0][0].size
    columns = max(len(row) for row in tiles)
    width = max(margin * 2 + columns * tile_w + (columns - 1) * gap, 420)
    row_h = line + tile_h + line + gap
    canvas = Image.new("RGB", (width, margin * 2 + len(rows) * row_h), (228, 228, 228))
    draw = ImageDraw.Draw(canvas)
    for r, ((caption, _, _, d1, rat), row_tiles) in enumerate(zip(rows, tiles, strict=True)):
        y = margin + r * row_h
        draw.text((margin, y), caption, fill=(0, 0, 0), font=font)
        for c, tile in enumerate(row_tiles):
            x = margin + c * (tile_w + gap)
            canvas.paste(tile.convert("RGB"), (x, y + line))
            draw.text((x, y + line + tile_h + 2), f"d {d1[c]:.2f}  r {rat[c]:.2f}", fill=(0, 0, 0), font=font)
    return canvas.quantize(colours, method=Image.Quantize.MEDIANCUT) if colours else canvas


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise MemorisationError(f"{message} (see --help)")


def parse_args(argv=None) -> argparse.Namespace:
    p = _Parser(prog="python -m diffit.memorization", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a model id of --manifest (its ONNX file, data set from the manifest)")
    source.add_argument("--onnx", help="an exported model (onnxruntime, CPU)")
    source.add_argument("--checkpoint", help="a training checkpoint or EMA snapshot (PyTorch)")
    p.add_argument("--manifest", default="public/models/manifest.json", help="for --model")
    p.add_argument("--classifier", required=True, help="a diffit.classifier checkpoint trained on the same data set")
    p.add_argument("--no-features", action="store_true", help="pixel distances only (skip the classifier's features)")
    p.add_argument("--dataset", choices=dataset_names(), default=None,
                   help="default: the manifest's (--model), the checkpoint's, else the classifier's")
    p.add_argument("--data", default=None, help="folder with the data files (default: the data set's usual place)")
    p.add_argument("--samples", type=int, default=500, help="samples, in the training split's class mix")
    p.add_argument("--steps", type=int, default=12, help="Heun steps")
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1, help="noise seed (sample i starts from noise row i)")
    p.add_argument("--batch", type=int, default=10, help="samples per forward (10: the fastest per image on a CPU, see diffit.evaluate)")
    p.add_argument("--device", default="cpu", help="torch device for --checkpoint and the classifier")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and onnxruntime (0: their default)")
    p.add_argument("--pairs", type=int, default=8, help="closest pairs listed in the JSON and drawn by --pairs-png")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--pairs-png", help="write the closest sample/training and held-out/training pairs here")
    p.add_argument("--scale", type=int, default=3, help="upscaling of the images in --pairs-png")
    p.add_argument("--colours", type=int, default=0,
                   help="--pairs-png in a palette of this many colours (2-256; a third of the bytes at 256), 0: exact RGB")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for name, value in (("steps", args.steps), ("seed", args.seed), ("guidance", args.guidance)):
        reason = out_of_range(name, value)
        if reason:
            raise MemorisationError(f"--{reason}")
    for flag, value, low in (("--samples", args.samples, 1), ("--batch", args.batch, 1), ("--pairs", args.pairs, 1),
                             ("--scale", args.scale, 1), ("--threads", args.threads, 0)):
        if value < low:
            raise MemorisationError(f"{flag} {value} must be at least {low}")
    if args.colours and not 2 <= args.colours <= 256:
        raise MemorisationError(f"--colours {args.colours} must be 0 (exact RGB) or 2 to 256")
    if args.pairs > args.samples:
        raise MemorisationError(f"--pairs {args.pairs} is more than --samples {args.samples}")
    for flag, path in (("--json", args.json), ("--pairs-png", args.pairs_png)):
        if path:
            check_output(flag, Path(path))  # before minutes of sampling
    if args.model:
        resolve_model(args)
    return args


def resolve_model(args: argparse.Namespace) -> None:
    """--model: the manifest entry's ONNX file and data set."""
    manifest = Path(args.manifest)
    try:
        entry = load_entry(manifest, args.model)
    except UsageError as error:
        raise MemorisationError(str(error)) from None
    if args.dataset and args.dataset != entry["dataset"]:
        raise MemorisationError(f"--dataset {args.dataset}, but {args.model} was trained on {entry['dataset']}")
    args.dataset = entry["dataset"]
    args.onnx = str(manifest.parent / entry["file"])


def run(args: argparse.Namespace) -> dict:
    import torch

    from .classifier import embed

    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        subject = Subject(args)  # the model, its classifier and data set, checked against each other
        train, train_labels, classes = load_dataset(subject.dataset, args.data, "train")
        held_out, _, _ = load_dataset(subject.dataset, args.data, "test")
    except (EvaluationError, DataError) as error:
        raise MemorisationError(str(error)) from None
    if len(classes) != subject.num_classes:
        raise MemorisationError(f"{subject.dataset} has {len(classes)} classes, the model {subject.num_classes}")
    if train.shape[1:] != tuple(subject.shape):
        raise MemorisationError(f"{subject.dataset} images are {train.shape[1:]}, the model makes {tuple(subject.shape)}")
    labels = proportional_labels(train_labels, args.samples, subject.num_classes)  # (N,), sorted
    sampling = time.perf_counter()
    samples = subject.generate(labels, args, args.guidance, args.seed)  # (N, C, H, W), 8-bit pixels in [-1, 1]
    sampling = time.perf_counter() - sampling
    features = None if args.no_features else (lambda images: embed(subject.classifier, images, args.device))
    result = memorisation(samples, train, held_out, features)
    d1, d2, index = result.pop("nearest")
    held = result.pop("held_out_nearest")
    pairs = closest_pairs((d1, d2, index), args.pairs)
    held_pairs = closest_pairs(held, args.pairs)
    report = {
        "source": args.onnx or args.checkpoint, "model": args.model, "dataset": subject.dataset,
        "classifier": None if args.no_features else args.classifier,
        "train_images": len(train), "held_out_images": len(held_out), "held_out": DATASETS[subject.dataset].test_split,
        "samples": len(samples), "labels": "the training split's class mix", "steps": args.steps, "guidance": args.guidance,
        "seed": args.seed, "sampler": "heun", "distance": f"L2 over {int(np.prod(train.shape[1:]))} pixel values in [-1, 1]; "
                                                             "features: L2 in the classifier's penultimate features",
        **result,
        "closest_pairs": [{"sample": i, "class": classes[labels[i]], "train": int(index[i]),
                           "train_class": classes[train_labels[index[i]]], "distance": float(d1[i]),
                           "ratio": float(ratio(d1[i:i + 1], d2[i:i + 1])[0])} for i in pairs],
        "sampling_s": sampling, "seconds": time.perf_counter() - start,
        "machine": machine(args.threads or torch.get_num_threads()), "load_average": load_average(),
    }
    if args.pairs_png:
        name = args.model or Path(report["source"]).name
        rows = [(f"{name}: generated -> nearest training image (pixel L2 d, ratio r = d1/d2)", samples[pairs],
                 train[index[pairs]], d1[pairs], ratio(d1, d2)[pairs]),
                (f"{subject.dataset} held-out -> nearest training image (the reference)", held_out[held_pairs],
                 train[held[2][held_pairs]], held[0][held_pairs], ratio(held[0], held[1])[held_pairs])]
        buffer = io.BytesIO()
        pairs_image(rows, args.scale, args.colours).save(buffer, format="PNG", optimize=True)
        write_atomic(Path(args.pairs_png), buffer.getvalue())
    return report


def print_report(report: dict) -> None:
    """One line per space and set: min / p1 / median of d1 and ratio, then the rates."""
    print(f"{report['source']}: {report['samples']} samples, {report['steps']} steps, guidance {report['guidance']:g}, "
          f"against {report['train_images']} training and {report['held_out_images']} held-out images")
    for space in ("pixels", "features"):
        if space not in report:
            continue
        block = report[space]
        for who in ("samples", "held_out"):
            n, r = block[who]["nearest"], block[who]["ratio"]
            print(f"  {space:8s} {who:8s} nearest min {n['min']:.3f}  p1 {n['p1']:.3f}  median {n['median']:.3f}   "
                  f"ratio min {r['min']:.3f}  p1 {r['p1']:.3f}  median {r['median']:.3f}")
        print(f"  {space:8s} memorisation rate {block['memorisation_rate_p1']:.3f} (below held-out p1), "
              f"{block['memorisation_rate_min']:.3f} (below held-out min); ratio below held-out p1: {block['ratio_rate_p1']:.3f}")
    print(f"  {report['seconds']:.0f} s ({report['sampling_s']:.0f} s sampling)")


def main(argv=None):
    try:
        args = parse_args(argv)
        report = run(args)
    except (MemorisationError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print_report(report)
    if args.json:
        write_atomic(Path(args.json), json.dumps(report, indent=1).encode())
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
