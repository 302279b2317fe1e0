"""Multiply-accumulates per forward, counted from an exported ONNX graph.

Every Conv, ConvTranspose, MatMul and Gemm node is counted from the tensor shapes that
onnxruntime actually produces at batch 1 (all intermediate tensors are exposed as outputs for one
run), so the count follows the graph that ships, not a re-implementation of the network:

    Conv:    MACs = |output| * (C_in / groups) * kH * kW
    MatMul:  MACs = |output| * K          (A: [..., M, K], B: [..., K, N])
    Gemm:    MACs = |output| * K

Elementwise work (norms, softmax, activations, pooling) is not counted, as is customary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def count_macs(onnx_path: str | Path, feeds: dict[str, np.ndarray]) -> dict:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    wanted = set()
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            wanted.update(node.input[:2])
            wanted.update(node.output[:1])
    existing = {o.name for o in model.graph.output}
    initializers = {i.name: i for i in model.graph.initializer}
    for name in sorted(wanted - existing - set(initializers)):
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, feeds), strict=True))

    def shape(name):
        if name in initializers:
            return tuple(initializers[name].dims)
        if name in feeds:
            return feeds[name].shape
        return values[name].shape

    per_op: dict[str, int] = {}
    for node in model.graph.node:
        op = node.op_type
        if op not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        out = int(np.prod(shape(node.output[0])))
        if op == "Conv":
            w = shape(node.input[1])  # (C_out, C_in / groups, kH, kW)
            macs = out * int(np.prod(w[1:]))
        elif op == "ConvTranspose":
            w = shape(node.input[1])  # (C_in, C_out / groups, kH, kW)
            macs = int(np.prod(shape(node.input[0]))) * int(np.prod(w[1:]))
        elif op == "MatMul":
            macs = out * shape(node.input[0])[-1]
        else:
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            a = shape(node.input[0])
            macs = out * (a[0] if trans_a else a[-1])
        per_op[op] = per_op.get(op, 0) + macs
    return {"total": sum(per_op.values()), "by_op": per_op}
