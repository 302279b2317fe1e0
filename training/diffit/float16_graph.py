"""Float16 compute for WebGPU adapters with `shader-f16` (issue 10: "try fp16 on GPUs with shader-f16, falling back
to fp32"): an exported file rewritten so that the network F computes in float16 while the EDM preconditioning

    D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma))        (Karras et al. 2022, eq. 7)

stays in float32, as do the file's inputs (x, sigma, class_label) and `denoised`: the app and the GPU bench feed
and read the same tensors either way. The attention weights (`attn_*`, in [0, 1]) come out in float16, half the
bytes to read back. F's nodes are the ones torch.onnx names `/denoiser/net/...`.

    python -m diffit.float16_graph public/models/diffit-fmnist.onnx /tmp/diffit-fmnist.f16.onnx

What the rewrite does, in order:
1. folds every node whose inputs are all constant (the float16-stored weights' Casts to float32, the upsampling's
   4x4 kernel A W A^T), in float32, so each such tensor is rounded to float16 once;
2. stores every float initializer and Constant that F reads as float16, and turns F's Casts to float32 (and the
   ConstantOfShape unit scales of its GroupNorms) into float16;
3. casts at F's border: c_in x and c_noise enter as float16 (the float32 Cast that torch.onnx writes there is
   retargeted), F(.) leaves as float32 (through torch.onnx's own Cast), the attention weights stay float16;
4. writes F's Splits and Gelus in forms that onnxruntime-web's WebGPU provider has float16 kernels for
   (`_jsep_float16_forms`).

Only a file from `diffit.export` has that structure; anything else is refused with one line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

NETWORK_PREFIX = "/denoiser/net/"
"""torch.onnx names F's nodes after the module path denoiser.net (diffit.export's ExportWrapper)."""

ATTENTION_PREFIX = "attn_"
"""The graph's attention outputs (softmax weights), which the float16 file returns in float16."""

SOURCE_KEY = "float16_compute_of"
"""Metadata key of the rewritten file: the sha256 of the file it was made from (the GPU bench checks it)."""

FLOAT, FLOAT16, INT64 = 1, 10, 7  # onnx.TensorProto data types

_SAME_AS_FIRST_INPUT = {
    "Add", "BatchNormalization", "Concat", "Conv", "ConvTranspose", "Cos", "Div", "Einsum", "Gather", "Gelu", "Gemm",
    "LayerNormalization", "Log", "MatMul", "Mul", "Pow", "Reciprocal", "Reshape", "Sigmoid", "Sin", "SkipLayerNormalization",
    "Slice", "Softmax", "Split", "Sqrt", "Sub", "Transpose", "Unsqueeze", "Squeeze", "Tanh", "Erf", "Neg", "Exp",
    "ReduceMean", "Expand", "Tile", "Identity", "Where", "AveragePool", "MaxPool", "GlobalAveragePool", "Relu",
}
"""Ops whose (first) output has the element type of their first input (Where: of its second, handled below)."""


class Float16GraphError(ValueError):
    """The file is not an export of diffit.export, or holds an op whose output type this module does not know."""


def _output_type(node, types: dict[str, int]) -> int:
    """The element type of node's outputs, from its inputs' types (the few ops of an exported DiffiT)."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Constant":
        return attrs["value"].data_type
    if node.op_type == "Cast":
        return attrs["to"]
    if node.op_type in ("Shape", "Size"):
        return INT64
    if node.op_type == "ConstantOfShape":
        return attrs["value"].data_type if "value" in attrs else FLOAT
    if node.op_type == "Where":
        return types[node.input[1]]
    if node.op_type in _SAME_AS_FIRST_INPUT:
        return types[node.input[0]]
    raise Float16GraphError(f"node {node.name or node.op_type}: op {node.domain or 'ai.onnx'}.{node.op_type} is not one "
                            "this rewrite knows the output type of")


def _fold_constants(graph) -> int:
    """Make every Constant an initializer, and replace every node whose inputs are all constant (ConstantOfShape
    excepted: the export writes it to keep the file small) by an initializer computed in numpy by onnx's reference
    evaluator. Returns how many nodes were folded."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept, folded = [], 0
    for node in graph.node:
        if node.op_type == "Constant" and [a.name for a in node.attribute] == ["value"]:
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            graph.initializer.append(numpy_helper.from_array(values[node.output[0]], node.output[0]))
            folded += 1
            continue
        inputs = [name for name in node.input if name]
        if (node.domain in ("", "ai.onnx") and node.op_type != "ConstantOfShape" and inputs
                and all(name in values for name in inputs)):
            results = ReferenceEvaluator(node).run(None, {name: values[name] for name in inputs})
            for name, value in zip(node.output, results, strict=True):
                if name:
                    values[name] = np.asarray(value)
                    graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
            folded += 1
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused(graph)
    return folded


def _drop_unused(graph) -> None:
    """Remove initializers and Constant nodes that nothing reads any more."""
    while True:
        read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        unused_nodes = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in read]
        unused_inits = [i for i in graph.initializer if i.name not in read]
        if not unused_nodes and not unused_inits:
            return
        for node in unused_nodes:
            graph.node.remove(node)
        for init in unused_inits:
            graph.initializer.remove(init)


GELU_OPSET = 20
"""ONNX's own Gelu (approximate="none", the exact erf form) exists from opset 20 on."""


def _jsep_float16_forms(model) -> dict:
    """onnxruntime-web 1.30's WebGPU provider (JSEP) has float16 kernels for every op of F but two: Split and
    com.microsoft's Gelu (its verbose log says "webgpu kernel not found"; the node then runs on the CPU, which costs
    two transfers and rules out graph capture). So in F each Split becomes one Slice per output, and each Gelu ONNX's
    own Gelu, the same function, which needs opset GELU_OPSET. Returns how many of each were rewritten."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    order, splits, gelus = [], 0, 0
    for node in graph.node:
        if in_network(node) and node.op_type == "Gelu" and node.domain == "com.microsoft":
            order.append(helper.make_node("Gelu", list(node.input), list(node.output), name=node.name))
            gelus += 1
        elif in_network(node) and node.op_type == "Split" and node.domain in ("", "ai.onnx"):
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            if len(node.input) < 2 or node.input[1] not in inits:
                raise Float16GraphError(f"node {node.name}: a Split without constant sizes")
            sizes = numpy_helper.to_array(inits[node.input[1]]).astype(np.int64)
            start = 0
            for k, (name, size) in enumerate(zip(node.output, sizes, strict=True)):
                bounds = [numpy_helper.from_array(np.array([v], np.int64), f"{node.name}.slice{k}.{what}")
                          for what, v in (("starts", start), ("ends", start + size), ("axes", axis))]
                graph.initializer.extend(bounds)
                order.append(helper.make_node("Slice", [node.input[0]] + [b.name for b in bounds], [name],
                                              name=f"{node.name}.slice{k}"))
                start += int(size)
            splits += 1
        else:
            order.append(node)
    del graph.node[:]
    graph.node.extend(order)
    if gelus:
        for opset in model.opset_import:
            if opset.domain in ("", "ai.onnx") and opset.version < GELU_OPSET:
                opset.version = GELU_OPSET
    return {"splits_as_slices": splits, "gelus_as_onnx": gelus}


def in_network(node) -> bool:
    """Whether the node is part of F (its name says so; node names are unique in an export)."""
    return node.name.startswith(NETWORK_PREFIX)


def compute_in_float16(model):
    """Rewrite `model` (an onnx.ModelProto from diffit.export, float32 or float16-stored weights) in place so that F
    computes in float16 (module docstring). Returns a report: nodes folded, tensors converted, casts at the border."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    if not any(in_network(n) for n in graph.node) or "denoised" not in {o.name for o in graph.output}:
        raise Float16GraphError(f"no node named {NETWORK_PREFIX}... or no output 'denoised': not a file of diffit.export")
    if any(i.type.tensor_type.elem_type == FLOAT16 for i in graph.input):
        raise Float16GraphError("the file already has float16 inputs")

    folded = _fold_constants(graph)
    inits = {i.name: i for i in graph.initializer}

    # Element types of every value, before the rewrite.
    types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    types.update({name: init.data_type for name, init in inits.items()})
    for node in graph.node:
        out_type = _output_type(node, types)
        for name in node.output:
            if name:
                types[name] = out_type

    producer = {name: node for node in graph.node for name in node.output if name}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    # 2. F's constants and float32 casts become float16.
    converted = 0
    for name, init in list(inits.items()):
        readers = consumers.get(name, [])
        if init.data_type != FLOAT or not any(in_network(n) for n in readers):
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name)
        if all(in_network(n) for n in readers):
            init.CopyFrom(half)
        else:  # read on both sides of the border: F gets a float16 copy of its own
            half.name = f"{name}.float16"
            graph.initializer.append(half)
            for node in readers:
                if in_network(node):
                    node.input[:] = [half.name if i == name else i for i in node.input]
        converted += 1
    for node in graph.node:
        if not in_network(node):
            continue
        for attr in node.attribute:
            if node.op_type in ("Constant", "ConstantOfShape") and attr.name == "value" and attr.t.data_type == FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16), attr.t.name))
                converted += 1
            elif node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                attr.i = FLOAT16
                converted += 1
        if node.op_type == "ConstantOfShape" and not any(a.name == "value" for a in node.attribute):
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.zeros(1, np.float16))))
            converted += 1

    # 3. The border. Into F: float32 values made outside it (not initializers, handled above).
    border_in, border_out, new_nodes = 0, 0, []
    for name, readers in consumers.items():
        source = producer.get(name)
        if (types.get(name) != FLOAT or name in inits or (source is not None and in_network(source))
                or not any(in_network(n) for n in readers)):
            continue
        if source is not None and source.op_type == "Cast" and all(in_network(n) for n in readers) and name not in outputs:
            next(a for a in source.attribute if a.name == "to").i = FLOAT16  # torch.onnx's own Cast into F
        else:
            half = f"{name}.float16"
            new_nodes.append((source, helper.make_node("Cast", [name], [half], name=f"{name}.to_float16", to=FLOAT16)))
            for node in readers:
                if in_network(node):
                    node.input[:] = [half if i == name else i for i in node.input]
        border_in += 1
    # Out of F: float values read outside it or returned by the graph leave as float32 under their own names,
    # except the attention weights, which the graph returns in float16 (half the bytes to read back, no Cast).
    returned = {o.name: o for o in graph.output}
    for node in [n for n in graph.node if in_network(n)]:
        for k, name in enumerate(node.output):
            if not name or types[name] != FLOAT:
                continue
            outside = [n for n in consumers.get(name, []) if not in_network(n)]
            if name.startswith(ATTENTION_PREFIX) and name in returned and not outside:
                returned[name].type.tensor_type.elem_type = FLOAT16
                continue
            if name not in outputs and all(n.op_type == "Cast" for n in outside):
                continue  # read only by Casts (torch.onnx's F(.).to(float32)), which take float16 as well
            half = f"{name}.float16"
            node.output[k] = half
            for reader in consumers.get(name, []):
                if in_network(reader):
                    reader.input[:] = [half if i == name else i for i in reader.input]
            new_nodes.append((node, helper.make_node("Cast", [half], [name], name=f"{name}.to_float32", to=FLOAT)))
            border_out += 1

    rewritten = _jsep_float16_forms(model)

    # Insert each Cast right after the node that makes its input (graph inputs: at the front).
    order = list(graph.node)
    for after, cast in new_nodes:
        order.insert(order.index(after) + 1 if after is not None else 0, cast)
    del graph.node[:]
    graph.node.extend(order)
    del graph.value_info[:]
    _drop_unused(graph)
    for value in list(graph.input) + [o for o in graph.output if not o.name.startswith(ATTENTION_PREFIX)]:
        assert value.type.tensor_type.elem_type in (FLOAT, INT64, TensorProto.INT32), value.name
    return {"folded": folded, "converted": converted, "casts_in": border_in, "casts_out": border_out, **rewritten}


def convert_file(src: Path, dst: Path) -> dict:
    """Read an exported file, rewrite it for float16 compute, record the source's sha256 (SOURCE_KEY), check the
    result with onnx's checker, write it atomically."""
    import onnx

    try:
        model = onnx.load(str(src))
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file: say so in one line
        raise Float16GraphError(f"{src} is not a readable ONNX file ({type(e).__name__}: {e})") from None
    report = compute_in_float16(model)
    source = hashlib.sha256(src.read_bytes()).hexdigest()
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, SOURCE_KEY: source})
    onnx.checker.check_model(model)
    tmp = dst.with_name(f".{dst.name}.part")
    onnx.save(model, str(tmp))
    os.replace(tmp, dst)
    return {**report, "bytes": dst.stat().st_size}


def _refuse(message: str) -> None:
    print(f"float16_graph: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m diffit.float16_graph", description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path, help="an ONNX file written by diffit.export")
    p.add_argument("dst", type=Path, help="where to write the float16-compute file")
    args = p.parse_args(argv)
    if not args.src.is_file():
        _refuse(f"{args.src} is not a file")
    if not args.dst.parent.is_dir():
        _refuse(f"{args.dst.parent} is not a folder")
    try:
        report = convert_file(args.src, args.dst)
    except Float16GraphError as e:
        _refuse(str(e))
    print(f"{args.dst}: {report['bytes']:,} bytes; {report['folded']} nodes folded, {report['converted']} tensors and "
          f"casts to float16, {report['casts_in']} casts into F, {report['casts_out']} out, "
          f"{report['splits_as_slices']} Splits as Slices, {report['gelus_as_onnx']} Gelus as ONNX's")


if __name__ == "__main__":
    main()
