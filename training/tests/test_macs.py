import numpy as np
import onnx
from onnx import TensorProto, helper

from diffit.macs import count_macs


def test_hand_computed_conv_and_matmul(tmp_path):
    """Conv 3->8, 3x3, on 10x10 (pad 1): 8*10*10 * 3*3*3 = 21,600 MACs.
    Depthwise 8-channel 3x3: 8*10*10 * 1*3*3 = 7,200. MatMul [1,100,8] x [8,5]: 100*5*8 = 4,000."""
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [8, 3, 3, 3], np.zeros(216, np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [8, 1, 3, 3], np.zeros(72, np.float32))
    w3 = helper.make_tensor("w3", TensorProto.FLOAT, [8, 5], np.zeros(40, np.float32))
    shape = helper.make_tensor("s", TensorProto.INT64, [3], np.array([1, 8, 100], np.int64))
    perm = [0, 2, 1]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Reshape", ["c2", "s"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=perm),
             helper.make_node("MatMul", ["t", "w3"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w1, w2, w3, shape])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    result = count_macs(path, {"x": np.zeros((1, 3, 10, 10), np.float32)})
    assert result["by_op"] == {"Conv": 21_600 + 7_200, "MatMul": 4_000}


def test_dws_costs_fewer_conv_macs_than_dense(tmp_path):
    from diffit.export import export_onnx
    from diffit.models import build_model

    counts = {}
    for name in ("diffit-tiny", "dws-tiny"):
        model = build_model(name).eval()
        export_onnx(model, tmp_path / f"{name}.onnx")
        feeds = {"x": np.zeros((1, 1, 32, 32), np.float32), "sigma": np.ones(1, np.float32),
                 "class_label": np.zeros(1, np.int64)}
        counts[name] = count_macs(tmp_path / f"{name}.onnx", feeds)["by_op"]
    assert counts["dws-tiny"]["Conv"] < 0.5 * counts["diffit-tiny"]["Conv"]
