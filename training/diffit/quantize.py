"""Int8 weights for the WASM backend (issue 10): a companion of an exported file that the app runs on CPUs.

    python -m diffit.quantize --id diffit-fmnist [--id ...] [--all] [--manifest ../public/models/manifest.json]

Affine quantisation (Jacob et al. 2018): a weight W is stored as int8 with one scale per output channel, W[:, o] ~
s_W[o] W_q[:, o]; at each call an input x is quantised to uint8 with a scale and zero point from its own minimum and
maximum, x ~ s_x (x_q - z_x); the product runs in integers and is rescaled:

    x W[:, o] ~ s_x s_W[o] (x_q - z_x) . W_q[:, o]

Two kinds of node get int8 weights:
- every MatMul and Gemm that reads a weight (TMSA's q/k/v and output projections, the MLPs, the time and label
  embeddings), through onnxruntime's dynamic quantisation;
- the convolutions, written here as matrix products (`convolutions_as_products`): each 3x3 convolution as an im2col of
  the uint8 input times the int8 weight matrix, each transposed convolution as one such product per output phase.

The MLPs' GELU takes its tanh form (`tanh_gelu`), which WASM runs faster.

What stays float32: the convolutions with few channels (the tokenizer in, the head out), the grouped (depthwise) and
the 1x1 ones (`convolutions_as_products` says why), attention's QK^T and AV, the softmax, the norms and the EDM
preconditioning; every other weight keeps the float file's storage (float16 behind a Cast). The graph keeps its inputs and outputs, `attn_*` included.

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
METHOD = ("dynamic: MatMul and Gemm weights int8 per output channel (onnxruntime quantize_dynamic); ungrouped 3x3 "
          "and transposed convolutions as uint8 im2col products with int8 weights per output channel; inputs uint8 "
          "per call; GELU in its tanh form")
CONV_MIN_CHANNELS = 16
"""A convolution with fewer input or output channels stays float: the tokenizer (image channels in) and the head
(image channels out), the first and last layers, which hold a sliver of the arithmetic."""


class QuantizeError(ValueError):
    """Bad input; the message is one line."""


def probe_values(model, names: list[str], feeds: dict) -> list[np.ndarray]:
    """The values of the named tensors of `model` (an onnx ModelProto) in one onnxruntime run on `feeds`."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names)
    return ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"]).run(names, feeds)


def annotate_types(path: Path, feeds: dict) -> None:
    """Writes every tensor's element type into the file's value_info, as one onnxruntime run finds it.

    ONNX's own type inference stops at the export form's com.microsoft nodes (Gelu, SkipLayerNormalization), and
    onnxruntime's quantiser leaves alone every node whose input it cannot type (the MLPs' second MatMul, for one).
    Shapes are left out, so the batch stays free."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    known = {v.name for v in (*graph.input, *graph.output, *graph.initializer)}
    names = [o for n in graph.node for o in n.output if o and o not in known]
    values = probe_values(model, names, feeds)
    del graph.value_info[:]
    for name, value in zip(names, values, strict=True):
        graph.value_info.append(onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), None))
    onnx.save(model, str(path))


def int8_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per column: w [K, N] ~ scale[o] * q[:, o], |q| <= 127. Returns (q int8 [K, N], scale float32 [N])."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


class _Nodes:
    """The nodes and initializers that replace one convolution, named after it."""

    def __init__(self, prefix: str):
        self.prefix, self.nodes, self.initializers, self.names = prefix, [], [], set()

    def const(self, name: str, value, dtype=np.int64) -> str:
        """An initializer named `prefix/name`, added once (the windows of one node share their axes and steps)."""
        from onnx import numpy_helper

        full = f"{self.prefix}/{name}"
        if full not in self.names:
            self.names.add(full)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype)), full))
        return full

    def add(self, op: str, inputs: list[str], outputs: list[str] | None = None, **attributes) -> str:
        from onnx import helper

        name = f"{self.prefix}/{op}_{len(self.nodes)}"
        domain = "com.microsoft" if op == "MatMulIntegerToFloat" else ""
        self.nodes.append(helper.make_node(op, inputs, outputs or [name], name=name, domain=domain, **attributes))
        return (outputs or [name])[0]

    def quantised_nhwc(self, x: str, pads: list[int]) -> tuple[str, str, str]:
        """x [N, C, H, W] float -> zero-padded [N, H + pt + pb, W + pl + pr, C] uint8, its scale and zero point.
        Padding with the zero point z_x is padding with 0."""
        q, scale, zero = (f"{self.prefix}/x_q", f"{self.prefix}/x_scale", f"{self.prefix}/x_zero_point")
        self.add("DynamicQuantizeLinear", [self.add("Transpose", [x], perm=[0, 2, 3, 1])], [q, scale, zero])
        top, left, bottom, right = pads
        return self.add("Pad", [q, self.const("pads", [0, top, left, 0, 0, bottom, right, 0]), zero], mode="constant"), scale, zero

    def product(self, cols: str, w: np.ndarray, scale: str, zero: str, tag: str, bias: np.ndarray | None = None) -> str:
        """cols [N, H, W, K] uint8 times w [K, Cout] -> float [N, H, W, Cout]: s_x s_W[o] (cols - z_x) . W_q[:, o] (+ bias)."""
        q, w_scale = int8_columns(w)
        inputs = [cols, self.const(f"W_q{tag}", q, np.int8), scale, self.const(f"W_scale{tag}", w_scale, np.float32), zero]
        if bias is not None:
            inputs += ["", self.const("bias", bias, np.float32)]
        return self.add("MatMulIntegerToFloat", inputs)

    def window(self, padded: str, start: tuple[int, int], count: tuple[int, int], stride: int) -> str:
        """padded[:, start_h : start_h + stride * count_h : stride, start_w : ... , :] -> [N, count_h, count_w, C]."""
        ends = [start[0] + stride * (count[0] - 1) + 1, start[1] + stride * (count[1] - 1) + 1]
        tag = f"{start[0]}_{start[1]}".replace("-", "m")
        return self.add("Slice", [padded, self.const(f"starts_{tag}", start), self.const(f"ends_{tag}", ends),
                                  self.const("axes", [1, 2]), self.const("steps", [stride, stride])])


def _plain_windows(attrs: dict) -> bool:
    """The same stride on both axes, no dilation, explicit padding: the geometry the rewrites below handle."""
    return (len(set(attrs.get("strides", [1, 1]))) == 1 and all(d == 1 for d in attrs.get("dilations", [1, 1]))
            and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))


def _conv_as_product(node, w: np.ndarray, bias, attrs: dict, height: int, width: int) -> _Nodes | None:
    """A k x k convolution (k > 1), y[n, o, h, w] = sum_{i, j, c} x_pad[n, c, s h + i, s w + j] W[o, c, i, j] + b[o], as
    one product: the k*k shifted windows of the padded input, concatenated along channels (im2col, cols [N, Ho, Wo,
    k*k*C] in (i, j, c) order), times W reshaped to [k*k*C, Cout]. None if the node is not of that kind."""
    out_channels, in_channels, kh, kw = w.shape
    stride = attrs.get("strides", [1, 1])
    if (kh == 1 and kw == 1) or not _plain_windows(attrs):
        return None
    s, pads = stride[0], attrs.get("pads", [0, 0, 0, 0])
    nodes = _Nodes(node.name)
    padded, scale, zero = nodes.quantised_nhwc(node.input[0], pads)
    out_h, out_w = (height + pads[0] + pads[2] - kh) // s + 1, (width + pads[1] + pads[3] - kw) // s + 1
    windows = [nodes.window(padded, (i, j), (out_h, out_w), s) for i in range(kh) for j in range(kw)]
    cols = nodes.add("Concat", windows, axis=3)                                                  # [N, Ho, Wo, k*k*C]
    product = nodes.product(cols, w.transpose(2, 3, 1, 0).reshape(kh * kw * in_channels, out_channels), scale, zero,
                            "", bias)                                                            # [N, Ho, Wo, Cout]
    nodes.add("Transpose", [product], [node.output[0]], perm=[0, 3, 1, 2])                      # [N, Cout, Ho, Wo]
    return nodes


def _conv_transpose_as_products(node, w: np.ndarray, bias, attrs: dict, height: int, width: int) -> _Nodes | None:
    """A transposed convolution of stride s, kernel k and padding p (the upsampling of sub-pixel form), y[s m + a] =
    sum_d x[m - d] W[s d + a + p] over the taps d with 0 <= s d + a + p < k (per axis), as s*s products: output phase
    (a, b) is the im2col of its taps times their weights, and the phases interleave into [N, Cout, s H, s W]."""
    in_channels, out_channels, k, k2 = w.shape
    stride, pads = attrs.get("strides", [1, 1]), attrs.get("pads", [0, 0, 0, 0])
    if k != k2 or len(set(pads)) != 1 or any(attrs.get("output_padding", [0, 0])) or attrs.get("output_shape") \
            or not _plain_windows(attrs):
        return None
    s, p = stride[0], pads[0]
    if (height - 1) * s - 2 * p + k != s * height or (width - 1) * s - 2 * p + k != s * width:
        return None  # not an exact s-fold upsampling
    taps = {a: [d for d in range(-k, k + 1) if 0 <= s * d + a + p < k] for a in range(s)}
    before = max(max(t) for t in taps.values())                 # x[m - d] for the largest d reads rows before 0
    after = max(max(-min(t), 0) for t in taps.values())         # and for the most negative d rows after H - 1
    nodes = _Nodes(node.name)
    padded, scale, zero = nodes.quantised_nhwc(node.input[0], [before, before, after, after])
    phases = []
    for a in range(s):
        for b in range(s):
            taps_ab = [(dy, dx) for dy in taps[a] for dx in taps[b]]
            cols = nodes.add("Concat", [nodes.window(padded, (before - dy, before - dx), (height, width), 1)
                                        for dy, dx in taps_ab], axis=3)                         # [N, H, W, taps*C]
            w_ab = np.concatenate([w[:, :, s * dy + a + p, s * dx + b + p] for dy, dx in taps_ab])  # [taps*C, Cout]
            phases.append(nodes.product(cols, w_ab, scale, zero, f"_{a}{b}"))                    # [N, H, W, Cout]
    y = nodes.add("Concat", phases, axis=3)                                                      # [N, H, W, (a, b, o)]
    y = nodes.add("Reshape", [y, nodes.const("phases", [0, height, width, s, s, out_channels])])
    y = nodes.add("Transpose", [y], perm=[0, 5, 1, 3, 2, 4])                                    # [N, Cout, H, a, W, b]
    last = [node.output[0]] if bias is None else None
    y = nodes.add("Reshape", [y, nodes.const("image", [0, out_channels, s * height, s * width])], last)
    if bias is not None:
        nodes.add("Add", [y, nodes.const("bias", bias.reshape(1, out_channels, 1, 1), np.float32)], [node.output[0]])
    return nodes


def tanh_gelu(model) -> int:
    """Rewrites, in `model`, each exact GELU (com.microsoft Gelu, x Phi(x) with the normal CDF by erf) as its tanh form
    (Hendrycks & Gimpel 2016; com.microsoft FastGelu): 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). The two
    differ by at most 4.7e-4 (at x = -2.70), a sliver of what int8 moves; onnxruntime-web's WASM, whose erf is not
    vectorised, runs the tanh form 3.2x faster (9.14 against 2.83 ms for [8, 32, 32, 128], one thread, Node, 2-core AMD
    EPYC, 2026-12-08). Returns how many were rewritten."""
    count = 0
    for node in model.graph.node:
        if node.op_type == "Gelu" and node.domain == "com.microsoft":
            node.op_type = "FastGelu"
            count += 1
    return count


def convolutions_as_products(model, feeds: dict, min_channels: int = CONV_MIN_CHANNELS) -> int:
    """Rewrites, in `model` (an onnx ModelProto whose weights are float initializers), every ungrouped k x k
    convolution (k > 1) and transposed convolution with at least `min_channels` channels in and out as uint8 matrix
    products with int8 weights (`_conv_as_product`, `_conv_transpose_as_products`), so that the WASM backend's integer
    GEMM runs them. The input shapes (batch aside) come from one run on `feeds`. Returns how many were rewritten.

    The 1x1 convolutions stay float, measured on the fashion-mnist models (onnxruntime-web WASM in Node, batch 8, one
    thread, one run, 2-core AMD EPYC, 2026-12-08):
    - DiffiT's are the merges of a skip connection with the upsampled path. One input scale for both ranges moved
      500 samples 0.11 levels further from the float file's on average; every other convolution together, 0.01;
    - DWS's and DiffiP's pointwise convolutions sit between depthwise ones in [N, C, H, W], so each product needs two
      layout transposes. Those cost what the integer product saves: DWS 5% faster, DiffiP 12% slower."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    candidates = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose") and n.input[1] in weights]
    inputs = list(dict.fromkeys(n.input[0] for n in candidates))  # each once, for one probe run
    shapes = dict(zip(inputs, (v.shape for v in probe_values(model, inputs, feeds)), strict=True)) if inputs else {}
    nodes, added, count = [], [], 0
    for node in graph.node:
        replaced = None
        if node in candidates:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            w = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
            channels = (w.shape[0], w.shape[1])
            bias = numpy_helper.to_array(weights[node.input[2]]).astype(np.float32) \
                if len(node.input) > 2 and node.input[2] in weights else None
            plain = len(node.input) < 3 or not node.input[2] or bias is not None
            if attrs.get("group", 1) == 1 and min(channels) >= min_channels and w.ndim == 4 and plain:
                rewrite = _conv_as_product if node.op_type == "Conv" else _conv_transpose_as_products
                replaced = rewrite(node, w, bias, attrs, *shapes[node.input[0]][2:])
        if replaced is None:
            nodes.append(node)
        else:
            nodes += replaced.nodes
            added += replaced.initializers
            count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    if count and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return count


def probe_feeds(entry: dict, batch: int = 2, sigma: float = 2.0, seed: int = 0) -> dict:
    """Random inputs of the entry's shape: x ~ N(0, (1 + sigma)^2), labels from every class and the unconditional."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, entry["channels"], entry["resolution"], entry["resolution"])) * (1 + sigma)
    return {"x": x.astype(np.float32), "sigma": np.full(batch, sigma, np.float32),
            "class_label": rng.integers(0, entry["num_classes"] + 1, batch).astype(np.int64)}


def quantize_file(source: Path, target: Path, entry: dict) -> None:
    """Writes the int8 companion of `source` (an export of diffit.export) to `target` (a temporary path)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        # onnxruntime's basic optimisations fold the float16 weights' Casts, so the rewrite and the quantiser see
        # float32 weights. Symbolic shape inference stops at the window reshapes; the types come from annotate_types.
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        feeds = probe_feeds(entry)
        convolutions_as_products(model, feeds)
        tanh_gelu(model)
        onnx.save(model, str(pre))
        annotate_types(pre, feeds)
        quantize_dynamic(str(pre), str(target), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8,
                         per_channel=True)
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
