"""Int8 weights for the WASM backend (issue 10): a companion of an exported file that the app runs on CPUs.

    python -m diffit.quantize --id diffit-fmnist [--id ...] [--all] [--manifest ../public/models/manifest.json]

onnxruntime's dynamic quantisation (Jacob et al. 2018, affine uint8/int8 quantisation) of every MatMul and Gemm: the
weight W is stored as int8 with one scale s_W and zero point z_W per tensor, W ~ s_W (W_q - z_W); at each call the
input x is quantised to uint8 with a scale and zero point from its own minimum and maximum, the product runs in
integers and is rescaled:

    x W ~ s_x s_W (x_q - z_x)(W_q - z_W)

Only the MatMuls and Gemms that read a weight change (TMSA's q/k/v and output projections, the MLPs, the time and
label embeddings); the convolutions, attention's QK^T and AV, the softmax, the norms and the EDM preconditioning stay
float32, and every other weight keeps the float file's storage (float16 behind a Cast). The graph keeps its inputs and
outputs, `attn_*` included.

Writes <id>.int8.onnx beside the manifest (through a temporary file, so never half a file) and the entry's `int8`
block: the file, its bytes and sha256, the sha256 of the float file it was made from, and its parity against that
file (max |difference| of `denoised` and of the attention weights at diffit.export's sigmas on random inputs), which
must stay within INT8_TOLERANCE. The block is a sanity check of the file; what int8 costs in samples is measured by
training/scripts/compare_weight_storage.py (README, "Int8 weights on WASM"). A new export of the float file drops
the block: run this again after it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from .export import PARITY_SIGMAS, sha256_of, store_float16
from .manifest import REPO, ManifestError, edited_manifest, entry_of, read_json
from .outputs import write_atomic

INT8_SUFFIX = ".int8.onnx"
INT8_TOLERANCE = {"denoised": 0.1, "attention": 0.25}
"""Largest |difference| from the float file allowed in one forward: `denoised` in image units ([-1, 1]), attention
weights in [0, 1]. The nine shipped models give 0.015-0.038 and 0-0.10 (one weight of a softmax row moves most where
its quantised logits are large); a broken quantisation is off by far more."""
METHOD = "dynamic: MatMul and Gemm weights int8 per tensor, inputs uint8 per call (onnxruntime quantize_dynamic)"


class QuantizeError(ValueError):
    """Bad input; the message is one line."""


def annotate_types(path: Path, feeds: dict) -> None:
    """Writes every tensor's element type into the file's value_info, as one onnxruntime run finds it.

    ONNX's own type inference stops at the export form's com.microsoft nodes (Gelu, SkipLayerNormalization), and
    onnxruntime's quantiser leaves alone every node whose input it cannot type (the MLPs' second MatMul, for one).
    Shapes are left out, so the batch stays free."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    graph = model.graph
    known = {v.name for v in (*graph.input, *graph.output, *graph.initializer)}
    names = [o for n in graph.node for o in n.output if o and o not in known]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names)
    values = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"]).run(names, feeds)
    del graph.value_info[:]
    for name, value in zip(names, values, strict=True):
        graph.value_info.append(onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), None))
    onnx.save(model, str(path))


def probe_feeds(entry: dict, batch: int = 2, sigma: float = 2.0, seed: int = 0) -> dict:
    """Random inputs of the entry's shape: x ~ N(0, (1 + sigma)^2), labels from every class and the unconditional."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, entry["channels"], entry["resolution"], entry["resolution"])) * (1 + sigma)
    return {"x": x.astype(np.float32), "sigma": np.full(batch, sigma, np.float32),
            "class_label": rng.integers(0, entry["num_classes"] + 1, batch).astype(np.int64)}


def quantize_file(source: Path, target: Path, entry: dict) -> None:
    """Writes the int8 companion of `source` (an export of diffit.export) to `target` (a temporary path)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        # onnxruntime's basic optimisations fold the float16 weights' Casts, so the quantiser sees float32 weights.
        # Symbolic shape inference stops at the window reshapes; the types come from annotate_types instead.
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        annotate_types(pre, probe_feeds(entry))
        quantize_dynamic(str(pre), str(target), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
    if entry.get("weight_storage") == "float16":
        store_float16(target)


def parity(source: Path, target: Path, entry: dict, batch: int = 3) -> dict:
    """Max |target - source| of `denoised` and of the attention outputs at diffit.export's sigmas."""
    import onnxruntime as ort

    a, b = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (source, target))
    names = [o.name for o in a.get_outputs()]
    missing = sorted(set(names) - {o.name for o in b.get_outputs()})
    if missing:
        raise QuantizeError(f"the int8 file lacks the outputs {missing}")
    worst = {"denoised": 0.0, "attention": 0.0}
    for seed, s in enumerate(PARITY_SIGMAS):
        feeds = probe_feeds(entry, batch, s, seed)
        for name, x, y in zip(names, a.run(names, feeds), b.run(names, feeds), strict=True):
            key = "denoised" if name == "denoised" else "attention"
            worst[key] = max(worst[key], float(np.abs(x - y).max()))
    return {**worst, "sigmas": list(PARITY_SIGMAS), "tolerance": INT8_TOLERANCE}


def quantize_entry(manifest_path: Path, model_id: str) -> dict:
    """Quantise one entry's file and record its `int8` block. Returns the block."""
    entry = entry_of(read_json(manifest_path, "manifest"), model_id, manifest_path)
    folder = manifest_path.parent
    source = folder / entry["file"]
    if not source.is_file():
        raise QuantizeError(f"{model_id}: its file {source} is missing")
    if sha256_of(source) != entry["sha256"]:
        raise QuantizeError(f"{model_id}: {source} is not the file the manifest names (sha256 differs); export it again")
    final = folder / f"{model_id}{INT8_SUFFIX}"
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / final.name
        quantize_file(source, target, entry)
        check = parity(source, target, entry)
        over = {k: round(check[k], 4) for k, limit in INT8_TOLERANCE.items() if check[k] > limit}
        if over:
            raise QuantizeError(f"{model_id}: the int8 file differs from the float file by {over} "
                                f"(tolerance {INT8_TOLERANCE}); nothing written")
        write_atomic(final, target.read_bytes())
    block = {"file": final.name, "bytes": final.stat().st_size, "sha256": sha256_of(final),
             "source_sha256": entry["sha256"], "method": METHOD, "parity": check}
    with edited_manifest(manifest_path) as manifest:
        current = entry_of(manifest, model_id, manifest_path)
        if current["sha256"] != block["source_sha256"]:
            raise QuantizeError(f"{model_id}: its float file changed while it was quantised; run again")
        current["int8"] = block
    return block


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.quantize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--id", action="append", default=[], help="a manifest id (repeat it); or --all")
    p.add_argument("--all", action="store_true", help="every entry of the manifest")
    p.add_argument("--manifest", type=Path, default=REPO / "public" / "models" / "manifest.json")
    args = p.parse_args(argv)
    if bool(args.id) == args.all:
        p.exit(2, "error: name the models with --id, or give --all\n")
    try:
        manifest = read_json(args.manifest, "manifest")
        ids = [m["id"] for m in manifest.get("models", [])] if args.all else args.id
        for model_id in ids:
            entry_of(manifest, model_id, args.manifest)  # every id is known before the first file is written
        for model_id in ids:
            block = quantize_entry(args.manifest, model_id)
            print(f"{model_id}: {block['file']} {block['bytes']:,} bytes; max |int8 - float|: denoised "
                  f"{block['parity']['denoised']:.4f}, attention {block['parity']['attention']:.4f}")
    except (ManifestError, QuantizeError) as error:
        p.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
