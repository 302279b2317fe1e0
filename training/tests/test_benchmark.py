"""`python -m diffit.benchmark` on the shipped models: the structure of its JSON, never a time."""

import json
import shutil

import pytest

from diffit.benchmark import main

from conftest import REPO

MANIFEST = REPO / "public/models/manifest.json"


def test_json_structure_on_shipped_models(tmp_path):
    out = tmp_path / "native.json"
    main(["--manifest", str(MANIFEST), "--weights", str(REPO / "training/weights"), "--runs", "2",
          "--warmup", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    shipped = json.loads(MANIFEST.read_text())["models"]
    assert {"machine", "batch", "runs", "threads", "onnxruntime", "torch", "models"} <= set(result)
    assert result["batch"] == 1 and result["runs"] == 2 and result["threads"] == 1
    assert result["machine"]["cpu"] and result["machine"]["cores"] >= 1
    assert [row["id"] for row in result["models"]] == [m["id"] for m in shipped]
    for row, entry in zip(result["models"], shipped, strict=True):
        assert row["parameters"] == entry["parameters"]
        assert row["bytes"] == entry["bytes"] == (MANIFEST.parent / entry["file"]).stat().st_size
        assert isinstance(row["macs"], int) and row["macs"] == sum(row["macs_by_op"].values()) > 0
        for runtime in ("onnxruntime_cpu", "pytorch_cpu"):
            t = row[runtime]
            assert set(t) == {"median_ms", "q25_ms", "q75_ms", "runs"} and t["runs"] == 2
            assert 0 < t["q25_ms"] <= t["median_ms"] <= t["q75_ms"]
    macs = {row["variant"]: row["macs"] for row in result["models"]}
    assert macs["dws"] < macs["diffit"] and macs["diffip"] < macs["dws"]


def test_record_touches_only_the_benchmark_block(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    manifest = folder / "manifest.json"
    shutil.copy(MANIFEST, manifest)
    before = json.loads(manifest.read_text())
    first = before["models"][0]
    block = {"machine": "test", "batch": 1, "runs": 2, "macs": 7, "ms_per_forward": {"wasm": None}}
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"models": [{"id": first["id"], "bytes": first["bytes"], "benchmark": block},
                                              {"id": "not-shipped", "benchmark": block}]}))
    main(["--manifest", str(manifest), "--record", str(results)])
    after = json.loads(manifest.read_text())
    assert after["models"][0]["benchmark"] == block
    del after["models"][0]["benchmark"]
    before["models"][0].pop("benchmark", None)
    assert after == before
    # Recording again with the same block leaves the file byte-identical.
    text = manifest.read_text()
    main(["--manifest", str(manifest), "--record", str(results)])
    assert manifest.read_text() == text


def test_record_refuses_a_block_outside_the_schema_and_leaves_the_manifest(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    shutil.copy(MANIFEST, manifest)
    text = manifest.read_text()
    first = json.loads(text)["models"][0]
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"models": [{"id": first["id"], "benchmark": {"macs": 7, "runs": 2}}]}))
    with pytest.raises(SystemExit) as exit_info:
        main(["--manifest", str(manifest), "--record", str(results)])
    assert exit_info.value.code == 2 and "'machine' is a required property" in capsys.readouterr().err
    assert manifest.read_text() == text


def test_record_leaves_out_a_benchmark_of_another_file(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    shutil.copy(MANIFEST, manifest)
    first = json.loads(manifest.read_text())["models"][0]
    block = {"machine": "test", "batch": 1, "runs": 2, "macs": 7, "ms_per_forward": {}}
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"models": [{"id": first["id"], "bytes": first["bytes"] + 1, "benchmark": block}]}))
    main(["--manifest", str(manifest), "--record", str(results)])
    assert "benchmark" not in json.loads(manifest.read_text())["models"][0]
    assert "timed another" in capsys.readouterr().out


def test_missing_or_corrupt_files_fail_clearly(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    for args, message in ((["--manifest", str(tmp_path / "none.json")], "cannot read the manifest"),
                          (["--manifest", str(tmp_path / "bad.json")], "cannot read the manifest"),
                          (["--manifest", str(MANIFEST), "--record", str(tmp_path / "none.json")],
                           "cannot read the results file")):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
