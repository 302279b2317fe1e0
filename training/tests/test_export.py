"""`python -m diffit.export`: options refused before any work (exit 2, one line), `--rebuild` from the side files, and
a re-export that keeps every measured block."""

import json
import shutil

import pytest
import torch

from diffit.export import main
from diffit.models import build_model

from conftest import REPO

SHIPPED = REPO / "public" / "models" / "manifest.json"
LIMITS = json.loads((REPO / "contracts" / "sampling.json").read_text())["limits"]


def export(*args) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code


@pytest.mark.parametrize("options, mention", [
    (["--default-guidance", "nan", "--default-steps", "0"], "--default-steps 0"),
    (["--default-guidance", "nan"], "--default-guidance nan"),
    (["--default-guidance", "inf"], "--default-guidance inf"),
    (["--default-guidance", str(LIMITS["guidance"]["max"] + 1)], f"[{LIMITS['guidance']['min']}, {LIMITS['guidance']['max']}]"),
    (["--default-steps", str(LIMITS["steps"]["max"] + 1)], f"[{LIMITS['steps']['min']}, {LIMITS['steps']['max']}]"),
    (["--preview-steps", "0"], "--preview-steps 0"),
])
def test_out_of_range_defaults_exit_2_before_any_work(tmp_path, capsys, options, mention):
    models = tmp_path / "models"
    code = export("--checkpoint", tmp_path / "missing.pt", "--id", "t", "--label", "T", "--out-dir", models, *options)
    err = capsys.readouterr().err
    assert code == 2 and mention in err and "contracts/sampling.json" in err and len(err.strip().splitlines()) == 1
    assert not models.exists()  # refused before the checkpoint was even looked for


@pytest.mark.parametrize("bad", ["../../evil", "Evil", "a/b", "a_b", "-a", "a--b", ""])
def test_ids_with_path_characters_exit_2(tmp_path, capsys, bad):
    models = tmp_path / "models"
    code = export("--checkpoint", tmp_path / "missing.pt", f"--id={bad}", "--label", "T", "--out-dir", models)
    err = capsys.readouterr().err
    assert code == 2 and "lowercase letters and digits" in err and len(err.strip().splitlines()) == 1
    assert not models.exists() and not (tmp_path.parent / "evil.onnx").exists()


def test_an_unwritable_out_dir_exits_2_with_one_line(tmp_path, capsys, checkpoint):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    for out_dir, message in ((afile, "is a file, not a folder"), (afile / "models", "cannot write to --out-dir")):
        code = export("--checkpoint", checkpoint, "--id", "t", "--label", "T", "--out-dir", out_dir, "--no-preview")
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    assert afile.read_text() == "x"


def test_rebuild_reproduces_the_shipped_manifest_from_the_side_files(tmp_path, capsys):
    shutil.copy(SHIPPED, tmp_path / "manifest.json")
    main(["--rebuild", "--out-dir", str(tmp_path)])
    assert (tmp_path / "manifest.json").read_text() == SHIPPED.read_text()
    main(["--rebuild", "--id", "dws-fmnist", "--out-dir", str(tmp_path)])
    assert (tmp_path / "manifest.json").read_text() == SHIPPED.read_text()
    assert export("--rebuild", "--id", "nope", "--out-dir", tmp_path) == 2
    assert "no model 'nope'" in capsys.readouterr().err


def test_a_re_export_keeps_every_measured_block(tmp_path, checkpoint, capsys):
    models, provenance = tmp_path / "models", tmp_path / "provenance"
    provenance.mkdir()
    results = tmp_path / "results.json"
    common = ["--checkpoint", checkpoint, "--id", "tiny", "--label", "Tiny", "--out-dir", models, "--no-preview",
              "--provenance-dir", provenance, "--bench-results", results]
    main([str(a) for a in common])
    entry = json.loads((models / "manifest.json").read_text())["models"][0]
    assert "evaluation" not in entry and "benchmark" not in entry and entry["training"]["hardware"] == "test CPU"

    # The tools that measure write their side files...
    (provenance / "tiny.json").write_text(json.dumps({"hardware": "a lent GPU", "batch": 16}))
    rows = [{"guidance": g, "classifier_accuracy": a, "samples": 10, "steps": 18, "seed": 1, "device": "cpu"}
            for g, a in ((1.0, 0.5), (2.0, 0.75))]
    (provenance / "tiny-eval.json").write_text(json.dumps(rows))
    block = {"machine": "test", "batch": 1, "runs": 3, "macs": 9, "ms_per_forward": {"onnxruntime_cpu": None}}
    results.write_text(json.dumps({"models": [{"id": "tiny", "bytes": entry["bytes"], "benchmark": block}]}))
    # ... which --rebuild merges without exporting,
    main([str(a) for a in ["--rebuild", "--out-dir", models, "--provenance-dir", provenance, "--bench-results", results]])
    rebuilt = json.loads((models / "manifest.json").read_text())["models"][0]
    assert rebuilt["training"]["hardware"] == "a lent GPU" and rebuilt["training"]["images_seen"] == 16
    assert rebuilt["evaluation"]["classifier_accuracy"] == {"1.0": 0.5, "2.0": 0.75}
    assert rebuilt["benchmark"] == block
    assert {k: v for k, v in rebuilt.items() if k not in ("training", "evaluation", "benchmark")} == \
        {k: v for k, v in entry.items() if k != "training"}
    # ... and a re-export of the same weights loses nothing.
    main([str(a) for a in common])
    assert json.loads((models / "manifest.json").read_text())["models"][0] == rebuilt
    # --evaluation-only reads the side file when no --evaluation is given.
    rows[1]["classifier_accuracy"] = 0.8
    (provenance / "tiny-eval.json").write_text(json.dumps(rows))
    main([str(a) for a in ["--id", "tiny", "--evaluation-only", "--out-dir", models, "--provenance-dir", provenance,
                           "--bench-results", results]])
    assert json.loads((models / "manifest.json").read_text())["models"][0]["evaluation"]["classifier_accuracy"]["2.0"] == 0.8


def test_a_side_file_outside_the_schema_stops_the_export_before_the_manifest_changes(tmp_path, checkpoint, capsys):
    models, provenance = tmp_path / "models", tmp_path / "provenance"
    provenance.mkdir()
    models.mkdir()
    (models / "manifest.json").write_text(SHIPPED.read_text())
    (provenance / "tiny.json").write_text(json.dumps({"gpu_hours": 3}))
    code = export("--checkpoint", checkpoint, "--id", "tiny", "--label", "Tiny", "--out-dir", models, "--no-preview",
                  "--provenance-dir", provenance, "--bench-results", tmp_path / "none.json")
    assert code == 2 and "gpu_hours" in capsys.readouterr().err
    assert (models / "manifest.json").read_text() == SHIPPED.read_text()


def test_reexport_exports_every_entry_again_with_its_label_and_defaults(tmp_path, checkpoint, capsys):
    models, weights, provenance = tmp_path / "models", tmp_path / "weights", tmp_path / "provenance"
    weights.mkdir()
    provenance.mkdir()
    for model_id in ("tiny-a", "tiny-b"):
        shutil.copy(checkpoint, weights / f"{model_id}-ema.pt")
        main([str(a) for a in ["--checkpoint", weights / f"{model_id}-ema.pt", "--id", model_id, "--label", model_id.upper(),
                               "--default-steps", "12", "--default-guidance", "1.5", "--out-dir", models,
                               "--no-preview", "--provenance-dir", provenance]])
    before = json.loads((models / "manifest.json").read_text())
    onnx_a = (models / "tiny-a.onnx").stat().st_mtime_ns
    (models / "tiny-b.onnx").unlink()
    main([str(a) for a in ["--reexport", "--id", "tiny-b", "--weights-dir", weights, "--out-dir", models, "--no-preview",
                           "--provenance-dir", provenance]])
    assert (models / "tiny-b.onnx").is_file() and (models / "tiny-a.onnx").stat().st_mtime_ns == onnx_a
    main([str(a) for a in ["--reexport", "--weights-dir", weights, "--out-dir", models, "--no-preview",
                           "--provenance-dir", provenance]])
    assert json.loads((models / "manifest.json").read_text()) == before  # same weights, same graph: same entries

    # A missing checkpoint stops the re-export before any file changes.
    (weights / "tiny-b-ema.pt").unlink()
    manifest_text = (models / "manifest.json").read_text()
    onnx_a = (models / "tiny-a.onnx").stat().st_mtime_ns
    code = export("--reexport", "--weights-dir", weights, "--out-dir", models, "--no-preview")
    err = capsys.readouterr().err
    assert code == 2 and "no weights for tiny-b" in err and len(err.strip().splitlines()) == 1
    assert (models / "manifest.json").read_text() == manifest_text and (models / "tiny-a.onnx").stat().st_mtime_ns == onnx_a
    assert export("--reexport", "--label", "X", "--out-dir", models) == 2
    assert "--reexport reads" in capsys.readouterr().err


def test_float16_storage_halves_the_file_and_keeps_the_graph_in_float32(tmp_path, checkpoint):
    """--weights float16 (the default): every float tensor of FLOAT16_MIN_ELEMENTS or more is stored as float16 behind a
    Cast to float32 under its own name; the smaller ones stay float32; the file is checked against PyTorch twice (the
    float32 graph at 1e-4, the shipped file at the float16 tolerance) and its entry says how it stores its weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    from diffit.export import FLOAT16_MIN_ELEMENTS, PARITY_TOLERANCE, WEIGHT_STORAGE

    entries, files = {}, {}
    for storage in ("float32", "float16"):
        out = tmp_path / storage
        main([str(a) for a in ["--checkpoint", checkpoint, "--id", "tiny", "--label", "Tiny", "--out-dir", out,
                               "--no-preview", "--provenance-dir", tmp_path, "--weights", storage]])
        entries[storage] = json.loads((out / "manifest.json").read_text())["models"][0]
        files[storage] = onnx.load(str(out / "tiny.onnx"))
    assert entries["float32"]["weight_storage"] == "float32" and entries["float16"]["weight_storage"] == "float16"
    assert entries["float16"]["bytes"] < 0.6 * entries["float32"]["bytes"]

    full = {i.name: numpy_helper.to_array(i) for i in files["float32"].graph.initializer}
    half = {i.name: i for i in files["float16"].graph.initializer}
    casts = {n.output[0]: n for n in files["float16"].graph.node if n.op_type == "Cast"}
    for name, value in full.items():
        if value.dtype == np.float32 and value.size >= FLOAT16_MIN_ELEMENTS:
            stored = half[f"{name}.float16"]
            assert name not in half and stored.data_type == TensorProto.FLOAT16
            assert np.array_equal(numpy_helper.to_array(stored), value.astype(np.float16))
            assert casts[name].input == [stored.name] and casts[name].attribute[0].i == TensorProto.FLOAT
        else:
            assert np.array_equal(numpy_helper.to_array(half[name]), value) and name not in casts
    assert len(casts) > 0

    parity32, parity16 = entries["float32"]["parity"], entries["float16"]["parity"]
    assert parity32["tolerance"] == PARITY_TOLERANCE and "float32_graph" not in parity32
    assert parity16["tolerance"] == WEIGHT_STORAGE["float16"]
    assert parity16["float32_graph"] == {k: parity32[k] for k in ("denoised", "attention")}  # same graph, same check
    assert 0 < parity16["denoised"] <= WEIGHT_STORAGE["float16"]


def test_compare_weight_storage_refuses_bad_input_in_one_line(tmp_path, capsys):
    """scripts/compare_weight_storage.py: a missing file or an uneven batch is one line and exit 2, before any work."""
    import sys

    sys.path.insert(0, str(REPO / "training" / "scripts"))
    from compare_weight_storage import main as compare

    onnx_file = REPO / "public" / "models" / "diffip-fmnist.onnx"
    classifier = REPO / "training" / "weights" / "classifier-fmnist.pt"
    cases = [(["--a", tmp_path / "none.onnx", "--b", onnx_file, "--classifier", classifier], "--a"),
             (["--a", onnx_file, "--b", onnx_file, "--classifier", classifier, "--per-class", "7"], "multiple of --batch"),
             (["--a", onnx_file, "--b", onnx_file, "--classifier", classifier, "--json", tmp_path / "no" / "x.json"], "no folder")]
    for args, words in cases:
        with pytest.raises(SystemExit) as stop:
            compare([str(a) for a in args])
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and words in err, err


def test_compare_weight_storage_judges_quality_samples_of_the_gpu_bench(tmp_path, capsys):
    """Two .u8 files of class-major uint8 pixels (the GPU bench's quality samples) are judged as they are: real
    training images, 10 of each class in class order, score as real images do, and a file against itself differs by
    nothing. A .u8 against an .onnx, or a file of the wrong size, is one line and exit 2."""
    import sys

    import numpy as np

    from diffit.data import load_dataset
    from diffit.images import to_uint8

    sys.path.insert(0, str(REPO / "training" / "scripts"))
    from compare_weight_storage import main as compare

    images, labels, _ = load_dataset("fashion-mnist", None, "train")
    picked = np.concatenate([images[labels == c][:10] for c in range(10)])
    a, b = tmp_path / "samples-a.u8", tmp_path / "samples-b.u8"
    a.write_bytes(to_uint8(picked).tobytes())
    b.write_bytes(to_uint8(picked).tobytes())
    classifier = REPO / "training" / "weights" / "classifier-fmnist.pt"
    out = tmp_path / "judged.json"
    assert compare([str(v) for v in ["--a", a, "--b", b, "--classifier", classifier, "--per-class", 10,
                                     "--fd-reference", 200, "--json", out]]) == 0
    result = json.loads(out.read_text())
    assert result["samples"] == 100 and result["pixel_diff_max"] == 0
    assert result["a"]["accuracy"] >= 0.85 and result["a"] == {**result["b"], "samples": str(a), "seconds": result["a"]["seconds"]}
    assert result["a"]["samples"] == str(a) and "quality samples" in result["run"]
    capsys.readouterr()
    onnx_file = REPO / "public" / "models" / "diffip-fmnist.onnx"
    short = tmp_path / "short.u8"
    short.write_bytes(b"\0" * 100)
    for args, words in [(["--a", a, "--b", onnx_file], "both be ONNX files or both .u8 quality samples"),
                        (["--a", a, "--b", short], "does not hold 100 images")]:
        with pytest.raises(SystemExit) as stop:
            compare([str(v) for v in [*args, "--classifier", classifier, "--per-class", 10, "--fd-reference", 200]])
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and words in err, err


def test_the_exported_graph_has_the_fewer_dispatch_form_and_the_same_function(tmp_path):
    """Each GELU is one com.microsoft Gelu node (not the five nodes torch.onnx writes), each TMSA splits q, k, v with one
    Split (not three Gathers) after one permutation that both cuts windows and moves heads ahead of them, 1/sqrt(d) is
    folded into W_q, and every attention output comes straight from its Softmax (no transpose to the manifest's
    layout): fewer nodes, so fewer WebGPU dispatches per forward.
    The file still computes the network as trained (check_parity at 1e-4), and onnx's full check accepts it."""
    from collections import Counter

    import onnx

    from diffit.export import check_parity, export_onnx, fuse_gelu

    torch.manual_seed(0)
    model = build_model("diffit-tiny").eval()
    path = tmp_path / "tiny.onnx"
    export_onnx(model, path)
    graph = onnx.load(str(path)).graph
    ops = Counter((n.domain, n.op_type) for n in graph.node)
    blocks = sum(1 for m in model.modules() if type(m).__name__ == "DiffiTTransformerBlock")
    assert ops[("com.microsoft", "Gelu")] == blocks and ops[("", "Erf")] == 0
    assert ops[("", "Split")] == blocks
    producers = {out: n for n in graph.node for out in n.output}
    attention = [o.name for o in graph.output if o.name.startswith("attn_")]
    assert len(attention) == blocks and all(producers[name].op_type == "Softmax" for name in attention)
    # 1/sqrt(d) is folded into W_q: Softmax(Q K^T + B) with no Mul between the MatMul and the bias
    for name in attention:
        add = producers[producers[name].input[0]]
        assert add.op_type == "Add" and any(producers.get(i) is not None and producers[i].op_type == "MatMul"
                                            for i in add.input)
    # per block: NCHW -> NHWC and back around it, one permutation into windows and heads, K^T, one back to tokens
    assert ops[("", "Transpose")] == 5 * blocks
    parity = check_parity(model, path)
    assert parity["denoised"] < 1e-4 and parity["attention"] < 1e-4
    assert fuse_gelu(path) == 0  # nothing left to fuse: a second pass changes nothing


def test_add_evaluation_merges_rows_into_the_side_file_and_the_entry(tmp_path, capsys):
    """A later `diffit.evaluate` run at another guidance scale joins the entry's rows: the side file and the manifest
    both take it, a --rebuild gives the same manifest, and a row of another protocol changes nothing."""
    provenance = tmp_path / "provenance"
    shutil.copytree(REPO / "training" / "weights" / "provenance", provenance)
    shutil.copy(SHIPPED, tmp_path / "manifest.json")
    side = provenance / "diffit-cifar10-eval.json"
    kept = json.loads(side.read_text())
    added = dict(kept[0], guidance=3.0, classifier_accuracy=0.9, fd_clf=30.5)
    (tmp_path / "g3.json").write_text(json.dumps([added]))
    common = ["--id", "diffit-cifar10", "--out-dir", tmp_path, "--provenance-dir", provenance]
    main([str(a) for a in [*common, "--add-evaluation", tmp_path / "g3.json"]])
    assert [r["guidance"] for r in json.loads(side.read_text())] == [1.0, 2.0, 3.0]
    evaluation = json.loads((tmp_path / "manifest.json").read_text())["models"]
    evaluation = next(m for m in evaluation if m["id"] == "diffit-cifar10")["evaluation"]
    assert evaluation["fd_clf"]["3.0"] == 30.5 and evaluation["fd_clf"]["1.0"] == kept[0]["fd_clf"]
    assert evaluation["classifier_accuracy"] == {"1.0": kept[0]["classifier_accuracy"], "2.0": kept[1]["classifier_accuracy"],
                                                 "3.0": 0.9}
    merged = (tmp_path / "manifest.json").read_text()
    main(["--rebuild", "--out-dir", str(tmp_path), "--provenance-dir", str(provenance)])
    assert (tmp_path / "manifest.json").read_text() == merged
    # The same scale again replaces its row.
    (tmp_path / "g3.json").write_text(json.dumps([dict(added, fd_clf=29.5)]))
    main([str(a) for a in [*common, "--add-evaluation", tmp_path / "g3.json"]])
    assert [r.get("fd_clf") for r in json.loads(side.read_text())] == [kept[0]["fd_clf"], None, 29.5]
    capsys.readouterr()
    before = (side.read_text(), (tmp_path / "manifest.json").read_text())
    for bad, mention in (({"steps": 18}, "steps 18"), ({"fd_samples": 1000}, "fd_samples 1000"),
                         ({"classifier": "weights/classifier-fmnist.pt"}, "classifier-fmnist.pt")):
        (tmp_path / "bad.json").write_text(json.dumps([dict(added, guidance=4.0, **bad)]))
        assert export(*common, "--add-evaluation", tmp_path / "bad.json") == 2
        err = capsys.readouterr().err
        assert mention in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    (tmp_path / "bad.json").write_text("{}")
    assert export(*common, "--add-evaluation", tmp_path / "bad.json") == 2
    assert "list of diffit.evaluate rows" in capsys.readouterr().err
    assert (side.read_text(), (tmp_path / "manifest.json").read_text()) == before
