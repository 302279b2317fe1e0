"""Export a trained denoiser to ONNX, check it against PyTorch, and record it in the app's manifest.

    python -m diffit.export --checkpoint weights/diffit-fmnist-ema.pt --id diffit-fmnist \
        --label "DiffiT · Fashion-MNIST" --out-dir ../public/models

The graph holds the EDM preconditioning, so the app feeds (x, sigma, class_label) and reads
`denoised` and one `attn_<layer>` output per TMSA layer (softmax weights, heads kept).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, load_ema_model
from .diffusion import EDMConstants
from .models.config import variant_of

OPSET = 17
PARITY_SIGMAS = (0.002, 0.05, 0.5, 2.0, 20.0, 80.0)
PARITY_TOLERANCE = 1e-4
ATTENTION_LAYOUT = ("[batch, heads, windows, query, key]: windows row-major over the (H/window) x (W/window) grid "
                    "of the layer's feature map, tokens row-major inside a window; each query row sums to 1")


class ExportWrapper(torch.nn.Module):
    """(x, sigma, class_label) -> (denoised, attn_0, attn_1, ...) with the manual attention path."""

    def __init__(self, denoiser: torch.nn.Module):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x, sigma, class_label):
        denoised, attentions = self.denoiser(x, sigma, class_label, return_attention=True)
        return (denoised, *attentions)


class ParityError(RuntimeError):
    """onnxruntime and PyTorch disagree beyond the tolerance."""


def export_onnx(model: torch.nn.Module, path: Path) -> list[str]:
    """Write the ONNX file (dynamic batch) and return its output names."""
    config = model.config
    layers = model.net.attention_layers()
    output_names = ["denoised"] + [f"attn_{layer['name']}" for layer in layers]
    x = torch.randn(2, config.in_channels, config.resolution, config.resolution)
    sigma = torch.tensor([1.0, 5.0])
    label = torch.tensor([0, config.num_classes])
    dynamic = {"x": {0: "batch"}, "sigma": {0: "batch"}, "class_label": {0: "batch"}}
    dynamic.update({name: {0: "batch"} for name in output_names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ExportWrapper(model).eval(), (x, sigma, label), str(path), input_names=["x", "sigma", "class_label"],
                          output_names=output_names, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
                          do_constant_folding=True)
    return output_names


def check_parity(model: torch.nn.Module, path: Path, seed: int = 0, batch: int = 3) -> dict:
    """Max abs difference between onnxruntime and PyTorch at several sigmas, on random inputs."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    worst = {"denoised": 0.0, "attention": 0.0}
    for s in PARITY_SIGMAS:
        x = torch.randn(batch, config.in_channels, config.resolution, config.resolution, generator=generator) * (1 + s)
        sigma = torch.full((batch,), s)
        label = torch.randint(0, config.num_classes + 1, (batch,), generator=generator)
        with torch.no_grad():
            expected = ExportWrapper(model)(x, sigma, label)
        got = session.run(None, {"x": x.numpy(), "sigma": sigma.numpy(), "class_label": label.numpy()})
        worst["denoised"] = max(worst["denoised"], float(np.abs(got[0] - expected[0].numpy()).max()))
        for g, e in zip(got[1:], expected[1:]):
            worst["attention"] = max(worst["attention"], float(np.abs(g - e.numpy()).max()))
    if max(worst.values()) > PARITY_TOLERANCE:
        raise ParityError(f"onnxruntime differs from PyTorch by {worst} (tolerance {PARITY_TOLERANCE})")
    worst["sigmas"] = list(PARITY_SIGMAS)
    worst["tolerance"] = PARITY_TOLERANCE
    return worst


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_json_atomic(data: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextlib.contextmanager
def edited_manifest(manifest_path: Path, create: bool = False):
    """The manifest as a dict, written back atomically when the block ends without an error, under a lock: exports,
    evaluation updates and benchmark records may run together. `create` starts an empty one where none exists."""
    import fcntl

    with open(manifest_path.parent / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = {"version": 1, "models": []}
        if manifest_path.exists() or not create:
            try:
                manifest = json.loads(manifest_path.read_text())
            except (OSError, json.JSONDecodeError) as error:
                raise SystemExit(f"error: cannot read the manifest {manifest_path} ({error}); fix or remove it first")
        yield manifest
        write_json_atomic(manifest, manifest_path)


VARIANT_ORDER = ("diffit", "dws", "diffip")
DATASET_ORDER = ("fashion-mnist", "cifar10", "emoji")  # the app opens the first entry


def update_manifest(manifest_path: Path, entry: dict) -> None:
    """Insert or replace the entry with the same id, keeping the others."""
    with edited_manifest(manifest_path, create=True) as manifest:
        models = [m for m in manifest.get("models", []) if m.get("id") != entry["id"]]
        models.append(entry)
        order = {v: i for i, v in enumerate(VARIANT_ORDER)}
        datasets = {d: i for i, d in enumerate(DATASET_ORDER)}
        manifest["models"] = sorted(models, key=lambda m: (datasets.get(m.get("dataset"), 9), m.get("dataset", ""),
                                                           order.get(m.get("variant"), 9), m["id"]))


def render_preview(onnx_path: Path, config, out_path: Path, guidance: float, steps: int, seed: int) -> None:
    """A grid of class-conditional samples (one row per class) from the exported file itself."""
    from .evaluate import generate
    from .images import save_grid
    from .runtime import OnnxDenoiser

    per_class = 8
    labels = np.repeat(np.arange(config.num_classes), per_class)
    shape = (config.in_channels, config.resolution, config.resolution)
    samples = generate(OnnxDenoiser(onnx_path), config.num_classes, labels, shape, steps, guidance, seed, per_class,
                       progress=False)
    save_grid(samples, out_path, columns=per_class, scale=2)


def evaluation_block(rows: list[dict]) -> dict:
    """The manifest's `evaluation` from diffit.evaluate's rows (one per guidance scale; docs/contracts.md)."""
    block = {"classifier_accuracy": {str(r["guidance"]): r["classifier_accuracy"] for r in rows},
             "samples": rows[0]["samples"], "steps": rows[0]["steps"], "seed": rows[0]["seed"],
             "measured_on": rows[0].get("device"),
             "classifier": "SmallCNN, " + rows[0].get("classifier", "training/weights/classifier-fmnist.pt"),
             "classifier_test_accuracy": rows[0].get("classifier_test_accuracy")}
    per_class = {str(r["guidance"]): r.get("per_class_accuracy") for r in rows}
    if all(per_class.values()):  # the classifier's accuracy on each requested class, and their mean
        block["per_class_accuracy"] = per_class
        block["mean_class_accuracy"] = {w: float(np.mean(v)) for w, v in per_class.items()}
    judged = [r for r in rows if r.get("fd_clf") is not None]  # distribution metrics (evaluate --fd-samples)
    if judged:
        keys = ["fd_clf", "fd_clf_at_floor_samples", "precision", "recall", "fid_inception",
                "fid_inception_at_floor_samples"]
        block.update({key: {str(r["guidance"]): r.get(key) for r in rows} for key in keys})
        block.update({key: judged[0].get(key) for key in
                      ("fd_clf_floor", "fd_clf_floor_train", "fd_clf_floor_train_samples", "fid_inception_floor",
                       "fd_samples", "fd_floor_samples", "fd_reference", "fd_floor_reference", "pr_k")})
        block["fd_steps"] = judged[0].get("fd_steps", rows[0]["steps"])
    return block


def update_evaluation(manifest_path: Path, model_id: str, evaluation: dict) -> None:
    """Update one entry's `evaluation` and nothing else (no re-export): the fields `evaluation` holds are replaced,
    others already there (such as notes added by hand) are kept."""
    with edited_manifest(manifest_path) as manifest:
        entries = [m for m in manifest.get("models", []) if m.get("id") == model_id]
        if not entries:
            raise SystemExit(f"error: {manifest_path} has no model {model_id!r}; export it first")
        entries[0]["evaluation"] = {**entries[0].get("evaluation", {}), **evaluation}


def read_json_arg(path: str | None, what: str):
    """A JSON file named on the command line, or a clear exit before anything is written."""
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: cannot read the {what} {path}: {error}", file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="training checkpoint or EMA snapshot")
    p.add_argument("--id", required=True, help="model id in the manifest, e.g. diffit-fmnist")
    p.add_argument("--label", help="name shown in the app")
    p.add_argument("--out-dir", default="../public/models")
    p.add_argument("--default-steps", type=int, default=18)
    p.add_argument("--default-guidance", type=float, default=2.0)
    p.add_argument("--evaluation", help="JSON from diffit.evaluate (a list of rows, one per guidance)")
    p.add_argument("--training-json", help="JSON with provenance fields that override the checkpoint's")
    p.add_argument("--preview-steps", type=int, default=18)
    p.add_argument("--no-preview", action="store_true")
    p.add_argument("--evaluation-only", action="store_true",
                   help="only replace the entry's evaluation with --evaluation (no export, no checkpoint needed)")
    args = p.parse_args(argv)
    out_dir = Path(args.out_dir)
    # Read the side files first: a bad one must not leave a new ONNX file beside an old manifest entry.
    evaluation_rows = read_json_arg(args.evaluation, "evaluation file")
    training_fields = read_json_arg(args.training_json, "training JSON")
    if args.evaluation_only:
        if not args.evaluation:
            p.error("--evaluation-only needs --evaluation")
        update_evaluation(out_dir / "manifest.json", args.id, evaluation_block(evaluation_rows))
        print(f"evaluation of {args.id} replaced in {out_dir / 'manifest.json'}")
        return
    if not args.checkpoint or not args.label:
        p.error("--checkpoint and --label are required (unless --evaluation-only)")
    try:
        model, state = load_ema_model(Path(args.checkpoint))
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = model.config
    final = out_dir / f"{args.id}.onnx"
    # Export next to the target, check, and only then replace the shipped file.
    tmp = out_dir / f".{args.id}.onnx.tmp"
    try:
        export_onnx(model, tmp)
        parity = check_parity(model, tmp)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    print(f"{final}: {final.stat().st_size:,} bytes; parity {parity}")
    edm = EDMConstants()
    split = f"train ({state['train_images']:,} images)" if state.get("train_images") else "train (60,000 images)"
    training = {"dataset_split": split, "images_seen": state.get("images_seen"),
                "hardware": state.get("hardware"), "wall_time_s": state.get("wall_time_s"), "seed": state.get("seed"),
                "torch": state.get("torch")}
    if training_fields:
        training.update(training_fields)
    entry = {
        "id": args.id, "label": args.label, "dataset": state.get("dataset", "fashion-mnist"),
        "classes": state.get("classes", [str(i) for i in range(config.num_classes)]),
        "num_classes": config.num_classes, "variant": variant_of(config), "resolution": config.resolution,
        "channels": config.in_channels, "file": final.name, "bytes": final.stat().st_size, "sha256": sha256_of(final),
        "parameters": sum(t.numel() for t in model.parameters()), "config": config.to_dict(),
        "edm": {"sigma_min": edm.sigma_min, "sigma_max": edm.sigma_max, "rho": edm.rho, "sigma_data": config.sigma_data},
        "default_steps": args.default_steps, "default_guidance": args.default_guidance, "opset": OPSET,
        "attention": [{"output": f"attn_{layer['name']}", "layer": layer["name"], "level": layer["level"],
                       "resolution": layer["resolution"], "window": layer["window"], "heads": layer["heads"],
                       "windows": layer["windows"], "tokens": layer["tokens"], "layout": ATTENTION_LAYOUT}
                      for layer in model.net.attention_layers()],
        "token_mixer": "attention" if config.token_mixer == "tmsa" else "pooling",
        "training": training,
        "parity": parity,
    }
    if evaluation_rows:
        entry["evaluation"] = evaluation_block(evaluation_rows)
    if not args.no_preview:
        preview = out_dir / f"{args.id}-preview.png"
        render_preview(final, config, preview, args.default_guidance, args.preview_steps, seed=1)
        entry["preview"] = preview.name
    update_manifest(out_dir / "manifest.json", entry)
    print(f"manifest entry {args.id} written to {out_dir / 'manifest.json'}")


if __name__ == "__main__":
    main()
