"""Export a trained denoiser to ONNX, check it against PyTorch, and record it in the app's manifest.

    python -m diffit.export --checkpoint weights/diffit-fmnist-ema.pt --id diffit-fmnist \
        --label "DiffiT · Fashion-MNIST" --out-dir ../public/models
    python -m diffit.export --rebuild --out-dir ../public/models     # re-merge the side files, export nothing
    python -m diffit.export --reexport --out-dir ../public/models    # export every entry again (a new graph form)

The entry's measured blocks (training provenance, evaluation, benchmark) come from side files beside the weights
and from bench/results.json (diffit/manifest.py says which); the manifest is never edited by hand.

The graph holds the EDM preconditioning, so the app feeds (x, sigma, class_label) and reads
`denoised` and one `attn_<layer>` output per TMSA layer (softmax weights, heads kept). The network is exported in
its export form (models.unet.use_export_form: the same function in fewer nodes, hence fewer GPU dispatches; upsampling
as one transposed convolution with the sub-pixel form's 16/36 of the work); the parity check compares the file
against the network as trained. `--weights float16` (the default) stores the
weight tensors in float16 behind a Cast to float32, which halves the file; the graph still computes in float32.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, load_ema_model
from .contract import LIMITS
from .diffusion import EDM
from .manifest import (
    ManifestError,
    SideFiles,
    check_id,
    default_problems,
    edited_manifest,
    entry_of,
    merge_measured,
    merged_evaluation_rows,
    read_json,
    set_evaluation,
    upsert,
    write_json_atomic,
)
from .models.config import variant_of
from .models.unet import use_export_form

OPSET = 17
PARITY_SIGMAS = (0.002, 0.05, 0.5, 2.0, 20.0, 80.0)
PARITY_TOLERANCE = 1e-4
WEIGHT_STORAGE = {"float32": 1e-4, "float16": 1e-2}
"""How the file stores its weights -> the parity tolerance of the shipped file against PyTorch (float16 rounds each
weight by up to 2^-11 of itself; the float32 graph is always checked at PARITY_TOLERANCE first)."""
FLOAT16_MIN_ELEMENTS = 1024
"""Float tensors with fewer elements (biases, norm scales: ~0.5% of the weights) stay float32."""
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
        use_export_form(model)
        try:
            torch.onnx.export(ExportWrapper(model).eval(), (x, sigma, label), str(path),
                              input_names=["x", "sigma", "class_label"], output_names=output_names,
                              dynamic_axes=dynamic, opset_version=OPSET, dynamo=False, do_constant_folding=True,
                              custom_opsets={"com.microsoft": 1})
        finally:
            use_export_form(model, False)
    fuse_gelu(path)
    drop_unused_outputs(path)
    return output_names


def drop_unused_outputs(path: Path) -> int:
    """Blank the optional outputs that nothing reads (SkipLayerNormalization's mean and inverse standard deviation),
    so that no backend computes or allocates them. Returns how many were dropped."""
    import onnx

    model = onnx.load(str(path))
    read = {name for node in model.graph.node for name in node.input} | {out.name for out in model.graph.output}
    dropped = 0
    for node in model.graph.node:
        if node.domain == "com.microsoft" and node.op_type == "SkipLayerNormalization":
            for i in (1, 2):
                if i < len(node.output) and node.output[i] and node.output[i] not in read:
                    node.output[i] = ""
                    dropped += 1
    if dropped:
        onnx.save(model, str(path))
    return dropped


def store_float16(path: Path, min_elements: int = FLOAT16_MIN_ELEMENTS) -> int:
    """Rewrite the ONNX file with each float32 initializer of at least `min_elements` elements stored as float16,
    W16 = float16(W), read through a node Cast(W16) -> float32 under W's own name, so that every consumer is
    unchanged. onnxruntime folds those Casts when it loads the file: same graph, same speed, half the bytes.
    Returns how many tensors were converted."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}.float16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], name=f"{init.name}.cast", to=TensorProto.FLOAT))
        else:
            kept.append(init)
    nodes = casts + list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))
    return len(casts)


def fuse_gelu(path: Path) -> int:
    """Rewrite each exact GELU that torch.onnx writes as five nodes, x * 0.5 * (1 + Erf(x / sqrt 2)), as one
    com.microsoft Gelu node (the same function). onnxruntime's CPU provider fuses that pattern itself when it loads the
    file; its WebGPU provider does not, and there each node is a GPU dispatch. Returns how many were fused."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    produced = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    initializers = {init.name: init for init in graph.initializer}
    graph_outputs = {out.name for out in graph.output}

    def scalar(name: str) -> float | None:
        node = produced.get(name)
        if node is not None and node.op_type == "Constant" and node.attribute[0].name == "value":
            value = numpy_helper.to_array(node.attribute[0].t)
        elif name in initializers:
            value = numpy_helper.to_array(initializers[name])
        else:
            return None
        return float(value) if value.size == 1 else None

    def only_consumer(name: str, op_type: str):
        found = consumers.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type and name not in graph_outputs else None

    def other_input(node, name: str) -> str:
        return node.input[1] if node.input[0] == name else node.input[0]

    replace, dropped = {}, set()
    for div in graph.node:
        if div.op_type != "Div" or not np.isclose(scalar(div.input[1]) or 0.0, np.sqrt(2.0), rtol=1e-6):
            continue
        x = div.input[0]
        erf = only_consumer(div.output[0], "Erf")
        add = erf and only_consumer(erf.output[0], "Add")
        if not add or scalar(other_input(add, erf.output[0])) != 1.0:
            continue
        mul = only_consumer(add.output[0], "Mul")
        if not mul or other_input(mul, add.output[0]) != x:
            continue
        half = only_consumer(mul.output[0], "Mul")
        if not half or scalar(other_input(half, mul.output[0])) != 0.5:
            continue
        replace[id(div)] = helper.make_node("Gelu", [x], [half.output[0]], name=f"{div.name}.gelu", domain="com.microsoft")
        dropped.update({id(erf), id(add), id(mul), id(half)})
    if not replace:
        return 0
    nodes = [replace.get(id(node), node) for node in graph.node if id(node) not in dropped]
    used = {name for node in nodes for name in node.input}  # the constants 0.5, 1 and sqrt 2 go with their nodes
    del graph.node[:]
    graph.node.extend(node for node in nodes if node.op_type != "Constant" or any(o in used for o in node.output))
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))
    return len(replace)


def check_parity(model: torch.nn.Module, path: Path, seed: int = 0, batch: int = 3,
                 tolerance: float = PARITY_TOLERANCE) -> dict:
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
        for g, e in zip(got[1:], expected[1:], strict=True):
            worst["attention"] = max(worst["attention"], float(np.abs(g - e.numpy()).max()))
    if max(worst.values()) > tolerance:
        raise ParityError(f"onnxruntime differs from PyTorch by {worst} (tolerance {tolerance})")
    worst["sigmas"] = list(PARITY_SIGMAS)
    worst["tolerance"] = tolerance
    return worst


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def writable_folder(path: Path) -> None:
    """Create the output folder where needed and prove that it takes a file, before any work starts."""
    if path.exists() and not path.is_dir():
        raise ManifestError(f"--out-dir {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ManifestError(f"cannot write to --out-dir {path}: {error.strerror or error}") from None


def check_options(args) -> None:
    """Every option that can be judged before the work starts (ManifestError with one line)."""
    if args.id is not None:
        check_id(args.id)
    if not (args.rebuild or args.evaluation_only):
        found = default_problems(args.default_steps, args.default_guidance)
        steps = LIMITS["steps"]
        if not steps["min"] <= args.preview_steps <= steps["max"]:
            found.append(f"--preview-steps {args.preview_steps} must be in [{steps['min']}, {steps['max']}] (contracts/sampling.json)")
        if found:
            raise ManifestError("; ".join(f"--{p.replace('_', '-')}" for p in found))


def export_entry(args, side: SideFiles, evaluation_rows, training_fields) -> dict:
    """Export and check the ONNX file, render the preview, and build the manifest entry."""
    try:
        model, state = load_ema_model(Path(args.checkpoint))
    except CheckpointError as error:
        raise ManifestError(str(error)) from None
    out_dir = Path(args.out_dir)
    config = model.config
    final = out_dir / f"{args.id}.onnx"
    # Export next to the target, check, and only then replace the shipped file.
    tmp = out_dir / f".{args.id}.onnx.tmp"
    try:
        export_onnx(model, tmp)
        parity = check_parity(model, tmp)  # the float32 graph, strictly
        if args.weights == "float16":
            graph = {k: parity[k] for k in ("denoised", "attention")}
            store_float16(tmp)
            parity = {**check_parity(model, tmp, tolerance=WEIGHT_STORAGE["float16"]), "float32_graph": graph}
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    print(f"{final}: {final.stat().st_size:,} bytes; parity {parity}")
    split = f"train ({state['train_images']:,} images)" if state.get("train_images") else "train (60,000 images)"
    entry = {
        "id": args.id, "label": args.label, "dataset": state.get("dataset", "fashion-mnist"),
        "classes": state.get("classes", [str(i) for i in range(config.num_classes)]),
        "num_classes": config.num_classes, "variant": variant_of(config), "resolution": config.resolution,
        "channels": config.in_channels, "file": final.name, "bytes": final.stat().st_size, "sha256": sha256_of(final),
        "parameters": sum(t.numel() for t in model.parameters()), "config": config.to_dict(),
        "edm": {"sigma_min": EDM.sigma_min, "sigma_max": EDM.sigma_max, "rho": EDM.rho, "sigma_data": EDM.sigma_data},
        "default_steps": args.default_steps, "default_guidance": args.default_guidance, "opset": OPSET,
        "weight_storage": args.weights,
        "attention": [{"output": f"attn_{layer['name']}", "layer": layer["name"], "level": layer["level"],
                       "resolution": layer["resolution"], "window": layer["window"], "heads": layer["heads"],
                       "windows": layer["windows"], "tokens": layer["tokens"], "layout": ATTENTION_LAYOUT}
                      for layer in model.net.attention_layers()],
        "token_mixer": "attention" if config.token_mixer == "tmsa" else "pooling",
        "training": {"dataset_split": split, "images_seen": state.get("images_seen"), "hardware": state.get("hardware"),
                     "wall_time_s": state.get("wall_time_s"), "seed": state.get("seed"), "torch": state.get("torch")},
        "parity": parity,
    }
    if not args.no_preview:
        preview = out_dir / f"{args.id}-preview.png"
        render_preview(final, config, preview, args.default_guidance, args.preview_steps, seed=1)
        entry["preview"] = preview.name
    for note in merge_measured(entry, side, evaluation_rows, training_fields):
        print(f"note: {note}")
    return entry


def reexport(args, manifest_path: Path, side: SideFiles) -> None:
    """Export the manifest's entries (or --id's) again, each from <weights-dir>/<id>-ema.pt with its own label and
    defaults; every checkpoint is found before the first file is replaced."""
    manifest = read_json(manifest_path, "manifest")
    entries = [entry_of(manifest, args.id, manifest_path)] if args.id else manifest["models"]
    jobs = []
    for entry in entries:
        checkpoint = args.weights_dir / f"{entry['id']}-ema.pt"
        if not checkpoint.is_file():
            raise ManifestError(f"no weights for {entry['id']}: {checkpoint} is missing")
        jobs.append(argparse.Namespace(**{**vars(args), "id": entry["id"], "checkpoint": str(checkpoint),
                                          "label": entry["label"], "default_steps": entry["default_steps"],
                                          "default_guidance": entry["default_guidance"]}))
    for job in jobs:
        check_options(job)
    for job in jobs:
        entry = export_entry(job, side, None, None)
        with edited_manifest(manifest_path) as manifest:
            upsert(manifest, entry)
        print(f"manifest entry {job.id} re-exported to {manifest_path}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="training checkpoint or EMA snapshot")
    p.add_argument("--id", help="model id in the manifest, e.g. diffit-fmnist (lowercase letters, digits, hyphens)")
    p.add_argument("--label", help="name shown in the app")
    p.add_argument("--out-dir", default="../public/models", help="folder of the ONNX files and manifest.json")
    p.add_argument("--default-steps", type=int, default=18)
    p.add_argument("--default-guidance", type=float, default=2.0)
    p.add_argument("--evaluation", help="JSON from diffit.evaluate (a list of rows, one per guidance); "
                                        "default: <provenance-dir>/<id>-eval.json where it exists")
    p.add_argument("--training-json", help="provenance fields that override the checkpoint's; "
                                           "default: <provenance-dir>/<id>.json where it exists")
    p.add_argument("--provenance-dir", type=Path, default=SideFiles.provenance_dir,
                   help="folder of the side files (<id>.json, <id>-eval.json, <id>-eval-onnx-cpu.json)")
    p.add_argument("--bench-results", type=Path, default=SideFiles.bench_results,
                   help="npm run bench's results, whose `benchmark` blocks are merged")
    p.add_argument("--weights", choices=sorted(WEIGHT_STORAGE), default="float16",
                   help="how the file stores its weights (default float16: half the bytes; the graph computes in float32)")
    p.add_argument("--preview-steps", type=int, default=18)
    p.add_argument("--no-preview", action="store_true")
    p.add_argument("--evaluation-only", action="store_true",
                   help="only replace the entry's evaluation (no export, no checkpoint needed)")
    p.add_argument("--add-evaluation", metavar="ROWS", help="JSON rows of diffit.evaluate to merge into the entry's "
                   "side file <provenance-dir>/<id>-eval.json (a row replaces the one of its guidance scale; the protocol "
                   "must match), then the entry's evaluation is rebuilt from it; implies --evaluation-only")
    p.add_argument("--rebuild", action="store_true",
                   help="re-merge the side files into every entry (or --id's): no export, no checkpoint needed")
    p.add_argument("--reexport", action="store_true",
                   help="export every entry (or --id's) again from <weights-dir>/<id>-ema.pt, keeping its label and "
                        "defaults: for a change to the exported graph")
    p.add_argument("--weights-dir", type=Path, default=Path("weights"), help="folder of <id>-ema.pt, with --reexport")
    args = p.parse_args(argv)
    if args.add_evaluation:
        if args.evaluation:
            p.error("--add-evaluation merges into the side file; --evaluation stands in for it: choose one")
        args.evaluation_only = True
    if sum((args.rebuild, args.reexport, args.evaluation_only)) > 1:
        p.error("choose one of --rebuild, --reexport and --evaluation-only")
    if args.id is None and not (args.rebuild or args.reexport):
        p.error("--id is required (unless --rebuild or --reexport)")
    if args.reexport and (args.checkpoint or args.label):
        p.error("--reexport reads each entry's checkpoint from --weights-dir and its label from the manifest")
    if not (args.rebuild or args.evaluation_only or args.reexport) and not (args.checkpoint and args.label):
        p.error("--checkpoint and --label are required (unless --evaluation-only, --rebuild or --reexport)")
    out_dir = Path(args.out_dir)
    manifest_path = out_dir / "manifest.json"
    side = SideFiles(args.provenance_dir, args.bench_results)
    try:
        check_options(args)
        writable_folder(out_dir)
        # Read the side files first: a bad one must not leave a new ONNX file beside an old manifest entry.
        evaluation_rows = read_json(args.evaluation, "evaluation file") if args.evaluation else None
        training_fields = read_json(args.training_json, "training JSON") if args.training_json else None
        if args.rebuild:
            with edited_manifest(manifest_path) as manifest:
                entries = [entry_of(manifest, args.id, manifest_path)] if args.id else manifest["models"]
                for entry in entries:
                    for note in merge_measured(entry, side, evaluation_rows, training_fields):
                        print(f"note: {note}")
            print(f"rebuilt {', '.join(e['id'] for e in entries)} in {manifest_path} from the side files in "
                  f"{side.provenance_dir} and {side.bench_results}")
            return
        if args.reexport:
            reexport(args, manifest_path, side)
            return
        if args.evaluation_only:
            rows = evaluation_rows or read_json(side.evaluation(args.id), "evaluation rows")
            if args.add_evaluation:
                rows = merged_evaluation_rows(rows, read_json(args.add_evaluation, "evaluation rows to add"))
            with edited_manifest(manifest_path) as manifest:
                set_evaluation(entry_of(manifest, args.id, manifest_path), side, rows)
            if args.add_evaluation:  # the side file follows once the manifest, validated, holds the rows
                try:
                    write_json_atomic(rows, side.evaluation(args.id))
                except OSError as error:
                    raise ManifestError(f"the manifest holds the merged rows, but {side.evaluation(args.id)} could not "
                                        f"be written ({error.strerror or error}): run the same command again") from None
            print(f"evaluation of {args.id} replaced in {manifest_path}"
                  + (f"; {side.evaluation(args.id)} now holds guidance {', '.join(str(r['guidance']) for r in rows)}"
                     if args.add_evaluation else ""))
            return
        entry = export_entry(args, side, evaluation_rows, training_fields)
        with edited_manifest(manifest_path, create=True) as manifest:
            upsert(manifest, entry)
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"manifest entry {args.id} written to {manifest_path}")


if __name__ == "__main__":
    main()
