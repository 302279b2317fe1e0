"""`python -m diffit.quantize`: the int8 companion of an exported file (int8 weights on the MatMuls and Gemms, the
rest as the float file stores it, the same outputs), its manifest block, and bad input refused in one line."""

import hashlib
import json

import numpy as np
import pytest

from diffit.export import main as export_main
from diffit.manifest import problems
from diffit.quantize import INT8_TOLERANCE, main, probe_feeds


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
    assert "DynamicQuantizeLinear" in ops and "MatMulInteger" in ops
    assert any(i.data_type == TensorProto.INT8 for i in graph.initializer)
    assert any(i.data_type == TensorProto.FLOAT16 for i in graph.initializer)  # the convolutions keep float16 storage
    assert "Conv" in ops and "Softmax" in ops  # convolutions and attention stay float
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
