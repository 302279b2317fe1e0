"""`python -m diffit.float16_graph`: the network F of an exported file computes in float16, the preconditioning and
the file's inputs and outputs stay float32, and the file still computes the model as trained (within float16's
rounding); bad input is one line and exit 2, with nothing written."""

import hashlib
from collections import Counter

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from diffit.export import check_parity, drop_unused_outputs, export_onnx, store_float16
from diffit.float16_graph import GELU_OPSET, SOURCE_KEY, convert_file, in_network, main
from diffit.models import build_model

FLOAT16_PARITY = 2e-2
"""Largest |file - PyTorch| accepted for the float16 file (float32 is checked at 1e-4). onnxruntime on the CPU
measured 4.7e-4 to 7.3e-4 for the three tiny presets (it computes the float16 nodes it has no kernel for in float32)."""


def shipped_form(preset: str, path):
    """An untrained tiny model exported as diffit.export ships it: export form, float16-stored weights."""
    torch.manual_seed(0)
    model = build_model(preset).eval()
    export_onnx(model, path)
    drop_unused_outputs(path)
    store_float16(path)
    return model


@pytest.mark.parametrize("preset", ["diffit-tiny", "dws-tiny", "diffip-tiny"])
def test_the_network_computes_in_float16_and_the_file_in_float32(tmp_path, preset):
    src, dst = tmp_path / "m.onnx", tmp_path / "m.f16.onnx"
    model = shipped_form(preset, src)
    report = convert_file(src, dst)
    before, after = onnx.load(str(src)), onnx.load(str(dst))

    # The same interface under the same names: float32 in, `denoised` float32, the attention weights float16.
    assert [(v.name, v.type.tensor_type.elem_type) for v in after.graph.input] == \
        [(v.name, v.type.tensor_type.elem_type) for v in before.graph.input]
    assert [(v.name, v.type.tensor_type.elem_type) for v in after.graph.output] == \
        [(v.name, TensorProto.FLOAT16 if v.name.startswith("attn_") else TensorProto.FLOAT) for v in before.graph.output]
    # F reads only float16 constants; its Casts go to float16; the preconditioning is the file's own.
    inits = {i.name: i for i in after.graph.initializer}
    network = [n for n in after.graph.node if in_network(n)]
    read_by_f = {name for n in network for name in n.input}
    assert not [name for name in read_by_f if name in inits and inits[name].data_type == TensorProto.FLOAT]
    assert sum(inits[name].data_type == TensorProto.FLOAT16 for name in read_by_f if name in inits) > 10
    assert all(a.i != TensorProto.FLOAT for n in network if n.op_type == "Cast" for a in n.attribute if a.name == "to")
    outside = lambda m: Counter(n.op_type for n in m.graph.node  # noqa: E731
                                if n.name.startswith("/denoiser/") and not in_network(n) and n.op_type != "Constant"
                                and not n.name.endswith((".to_float16", ".to_float32")))
    assert outside(after) == outside(before)
    # The forms JSEP has float16 kernels for: no Split, ONNX's Gelu.
    ops = Counter((n.domain, n.op_type) for n in after.graph.node)
    assert ops[("", "Split")] == 0 and ops[("com.microsoft", "Gelu")] == 0 and ops[("", "Gelu")] == report["gelus_as_onnx"] > 0
    assert next(o.version for o in after.opset_import if o.domain in ("", "ai.onnx")) == GELU_OPSET
    # Only the border casts were added: c_in x and c_noise in (one retargeted); none out (F(.) has its own).
    assert report["casts_in"] == 2 and report["casts_out"] == 0
    assert {p.key: p.value for p in after.metadata_props}[SOURCE_KEY] == hashlib.sha256(src.read_bytes()).hexdigest()

    # Still the model as trained, within float16's rounding; and really float16 (not bit-equal to the float32 file).
    parity = check_parity(model, dst, tolerance=FLOAT16_PARITY)
    assert 0 < parity["denoised"] <= FLOAT16_PARITY and parity["attention"] <= FLOAT16_PARITY


def write_foreign(path):
    """A valid ONNX file that diffit.export did not write."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(path))


@pytest.mark.parametrize("case", ["missing", "foreign", "garbage", "no folder"])
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, case):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    if case == "foreign":
        write_foreign(src)
    elif case == "garbage":
        src.write_bytes(b"\x08\x07not an onnx file at all")
    elif case == "no folder":
        write_foreign(src)
        dst = tmp_path / "nowhere" / "out.onnx"
    with pytest.raises(SystemExit) as stop:
        main([str(src), str(dst)])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("float16_graph: "), err
    assert not dst.exists() and not list(tmp_path.rglob("*.part"))


def test_a_file_already_in_float16_is_refused(tmp_path, capsys):
    src, once = tmp_path / "m.onnx", tmp_path / "m.f16.onnx"
    shipped_form("diffip-tiny", src)
    convert_file(src, once)
    model = onnx.load(str(once))
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.save(model, str(once))
    with pytest.raises(SystemExit) as stop:
        main([str(once), str(tmp_path / "twice.onnx")])
    assert stop.value.code == 2 and "float16 inputs" in capsys.readouterr().err
