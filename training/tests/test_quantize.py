"""`python -m diffit.quantize`: the int8 companion of an exported file (int8 weights on the MatMuls, Gemms and
convolutions, the rest as the float file stores it, the same outputs), its manifest block, and bad input refused in
one line."""

import hashlib
import json

import numpy as np
import pytest

from diffit.export import main as export_main
from diffit.manifest import problems
from diffit.quantize import CONV_MIN_CHANNELS, INT8_TOLERANCE, convolutions_as_products, int8_columns, main, probe_feeds, tanh_gelu


def run(main_fn, *args) -> int:
    """The exit status of a command line: what main returns, or what it exits with."""
    try:
        return main_fn([str(a) for a in args]) or 0
    except SystemExit as exit_info:
        return exit_info.code


def exported(tmp_path, checkpoint):
    out = tmp_path / "models"
    assert run(export_main, "--checkpoint", checkpoint, "--id", "tiny", "--label", "Tiny", "--out-dir", out,
               "--no-preview", "--provenance-dir", tmp_path) == 0
    return out / "manifest.json"


def weighted_products(graph) -> list[str]:
    """The MatMul and Gemm nodes that read a float weight (an initializer, or one behind its float16 storage's Cast)."""
    from onnx import TensorProto

    floats = {i.name for i in graph.initializer if i.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)}
    floats |= {n.output[0] for n in graph.node if n.op_type == "Cast" and n.input[0] in floats}
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and any(i in floats for i in n.input)]


def test_the_int8_file_quantises_the_weighted_matmuls_and_keeps_every_output(tmp_path, checkpoint, capsys):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto

    manifest = exported(tmp_path, checkpoint)
    assert run(main, "--id", "tiny", "--manifest", manifest) == 0
    assert "tiny: tiny.int8.onnx" in capsys.readouterr().out
    entry = json.loads(manifest.read_text())["models"][0]
    block, path = entry["int8"], manifest.parent / "tiny.int8.onnx"
    assert block["file"] == path.name and block["bytes"] == path.stat().st_size
    assert block["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert block["source_sha256"] == entry["sha256"] and problems(json.loads(manifest.read_text())) == []

    graph = onnx.load(str(path)).graph
    ops = [n.op_type for n in graph.node]
    float_graph = onnx.load(str(manifest.parent / "tiny.onnx")).graph
    assert weighted_products(float_graph) and not weighted_products(graph)  # each one is int8 now
    assert "DynamicQuantizeLinear" in ops and "MatMulInteger" in ops and "MatMulIntegerToFloat" in ops
    assert any(i.data_type == TensorProto.INT8 for i in graph.initializer)
    float_ops = [n.op_type for n in float_graph.node]
    # the 3x3 and transposed convolutions are products now; the tokenizer, the head and the 1x1 merges stay float
    assert ops.count("Conv") < float_ops.count("Conv") and "ConvTranspose" in float_ops and "ConvTranspose" not in ops
    assert "Conv" in ops and "Softmax" in ops
    assert "Gelu" in float_ops and "Gelu" not in ops and ops.count("FastGelu") == float_ops.count("Gelu")
    assert [o.name for o in graph.output] == [o.name for o in float_graph.output]

    a, b = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (manifest.parent / "tiny.onnx", path))
    feeds = probe_feeds(entry, batch=2, sigma=2.0, seed=5)
    got, want = b.run(None, feeds), a.run(None, feeds)
    difference = float(np.abs(got[0] - want[0]).max())
    assert 0 < difference <= INT8_TOLERANCE["denoised"]  # quantised, and close
    parity = block["parity"]
    assert 0 < parity["denoised"] <= INT8_TOLERANCE["denoised"] and parity["attention"] <= INT8_TOLERANCE["attention"]
    assert parity["tolerance"] == INT8_TOLERANCE


def test_a_new_export_drops_the_int8_block_and_a_stale_block_is_invalid(tmp_path, checkpoint):
    manifest = exported(tmp_path, checkpoint)
    assert run(main, "--all", "--manifest", manifest) == 0
    data = json.loads(manifest.read_text())
    stale = json.loads(json.dumps(data))
    stale["models"][0]["int8"]["source_sha256"] = "0" * 64
    assert any("made from another tiny.onnx" in p and "diffit.quantize --id tiny" in p for p in problems(stale))

    exported(tmp_path, checkpoint)  # the float file is written again
    assert "int8" not in json.loads(manifest.read_text())["models"][0]


@pytest.mark.parametrize("args, says", [
    ([], "name the models with --id, or give --all"),
    (["--id", "tiny", "--all"], "name the models with --id, or give --all"),
    (["--id", "nope"], "has no model 'nope'"),
])
def test_bad_requests_exit_2_in_one_line_and_write_nothing(tmp_path, checkpoint, capsys, args, says):
    manifest = exported(tmp_path, checkpoint)
    before = manifest.read_text()
    capsys.readouterr()
    assert run(main, *args, "--manifest", manifest) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert manifest.read_text() == before and not list(manifest.parent.glob("*.int8.onnx*"))


def test_a_float_file_that_is_not_the_manifests_is_refused(tmp_path, checkpoint, capsys):
    manifest = exported(tmp_path, checkpoint)
    before = manifest.read_text()
    with open(manifest.parent / "tiny.onnx", "ab") as f:
        f.write(b"\0")
    capsys.readouterr()
    assert run(main, "--id", "tiny", "--manifest", manifest) == 2
    err = capsys.readouterr().err.strip()
    assert "is not the file the manifest names" in err and len(err.splitlines()) == 1
    assert manifest.read_text() == before and not list(manifest.parent.glob("*.int8.onnx*"))


def test_a_missing_manifest_is_one_line(tmp_path, capsys):
    assert run(main, "--all", "--manifest", tmp_path / "none.json") == 2
    err = capsys.readouterr().err.strip()
    assert "cannot read the manifest" in err and len(err.splitlines()) == 1


def conv_model(op: str, in_channels: int, out_channels: int, kernel: int, size: int, bias: bool, **attributes):
    """A one-node ONNX model y = op(x) with random weights: x [N, in_channels, size, size]."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(kernel * 100 + in_channels)
    shape = (out_channels, in_channels, kernel, kernel) if op == "Conv" else (in_channels, out_channels, kernel, kernel)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.2, "w")]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(out_channels).astype(np.float32), "b"))
    node = helper.make_node(op, ["x", "w", *(["b"] if bias else [])], ["y"], name=f"/{op}", **attributes)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", in_channels, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("op, cin, cout, kernel, size, bias, attributes", [
    ("Conv", 16, 24, 3, 9, True, {"pads": [1, 1, 1, 1]}),                       # a ResBlock's 3x3
    ("Conv", 24, 32, 3, 8, False, {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # a downsampling
    ("Conv", 16, 16, 3, 7, True, {"pads": [0, 1, 2, 0]}),                       # uneven padding, odd size
    ("ConvTranspose", 32, 16, 4, 5, True, {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # the sub-pixel upsampling
    ("ConvTranspose", 16, 16, 3, 4, False, {"pads": [1, 1, 1, 1], "strides": [2, 2], "output_padding": [1, 1]}),
])
def test_convolutions_become_int8_products_with_the_same_geometry(op, cin, cout, kernel, size, bias, attributes):
    """The rewrite agrees with the float convolution everywhere, borders included, within what int8 costs (a wrong
    tap or shift would be off by the size of the output itself)."""
    import onnxruntime as ort

    model = conv_model(op, cin, cout, kernel, size, bias, **attributes)
    x = np.random.default_rng(1).standard_normal((2, cin, size, size)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    if attributes.get("output_padding"):  # not an exact 2x upsampling: left float
        assert convolutions_as_products(model, {"x": x}) == 0 and [n.op_type for n in model.graph.node] == [op]
        return
    assert convolutions_as_products(model, {"x": x}) == 1
    ops = [n.op_type for n in model.graph.node]
    assert op not in ops and "MatMulIntegerToFloat" in ops and "DynamicQuantizeLinear" in ops
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert got.shape == want.shape
    error = np.abs(got - want)
    assert error.max() <= 0.02 * np.abs(want).max() and error.mean() <= 0.005 * np.abs(want).max()
    assert error.max() > 0  # it is quantised


@pytest.mark.parametrize("cin, cout, kernel, group", [(CONV_MIN_CHANNELS - 1, 32, 3, 1), (32, 1, 3, 1), (32, 32, 1, 1),
                                                      (32, 32, 3, 32)])
def test_small_pointwise_and_grouped_convolutions_stay_float(cin, cout, kernel, group):
    model = conv_model("Conv", cin // group, cout, kernel, 8, True, pads=[kernel // 2] * 4, group=group)
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = cin
    x = np.zeros((1, cin, 8, 8), np.float32)
    assert convolutions_as_products(model, {"x": x}) == 0 and [n.op_type for n in model.graph.node] == ["Conv"]


def test_int8_columns_scale_each_output_channel():
    w = np.array([[0.5, -2.0, 0.0], [-1.0, 1.0, 0.0]], np.float32)
    q, scale = int8_columns(w)
    assert q.dtype == np.int8 and np.array_equal(q[:, 0], [64, -127]) and np.array_equal(q[:, 1], [-127, 64])
    assert np.allclose(scale, [1 / 127, 2 / 127, 1.0]) and not q[:, 2].any()
    assert np.abs(q * scale - w).max() <= scale.max() / 2 + 1e-7


def test_tanh_gelu_is_within_5e_4_of_the_exact_gelu():
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    x = np.linspace(-8, 8, 16001, dtype=np.float32)
    exact = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert tanh_gelu(model) == 1 and model.graph.node[0].op_type == "FastGelu"
    tanh = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert 1e-4 < np.abs(tanh - exact).max() < 5e-4
