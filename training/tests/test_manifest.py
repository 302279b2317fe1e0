"""diffit.manifest: the schema, its validation (the same conformance cases as src/lib/manifest.test.ts), the locked
write, the merge of the side files, and the TypeScript types generated from the schema."""

import copy
import dataclasses
import importlib.util
import json

import jsonschema
import pytest

from diffit import manifest as mf
from diffit.models.config import VARIANTS, DiffiTConfig

from conftest import REPO

SHIPPED = REPO / "public" / "models" / "manifest.json"
CASES = json.loads((REPO / "contracts" / "manifest.cases.json").read_text())["cases"]


def changed(entry: dict, case: dict) -> dict:
    entry = copy.deepcopy(entry)
    for path, value in case.get("set", []):
        *parents, last = path
        target = entry
        for key in parents:
            target = target[key]
        target[last] = value
    for path in case.get("delete", []):
        *parents, last = path
        target = entry
        for key in parents:
            target = target[key]
        del target[last]
    return entry


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(mf.schema())


def test_shipped_manifest_is_valid():
    assert mf.problems(json.loads(SHIPPED.read_text())) == []


def test_shipped_manifest_is_what_the_side_files_rebuild(tmp_path):
    """Every measured figure in the shipped manifest comes from a side file: rebuilding changes nothing."""
    shipped = json.loads(SHIPPED.read_text())
    rebuilt = copy.deepcopy(shipped)
    for entry in rebuilt["models"]:
        assert mf.merge_measured(entry, mf.SideFiles()) == []
    assert rebuilt == shipped
    assert [list(e) for e in rebuilt["models"]] == [list(e) for e in shipped["models"]]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance_case(case):
    shipped = json.loads(SHIPPED.read_text())
    manifest = {"version": 1, "models": [changed(shipped["models"][0], case)]}
    found = mf.problems(manifest)
    if case["valid"]:
        assert found == []
    else:
        assert found and case["mentions"] in " ".join(found), found


def test_document_problems():
    entry = json.loads(SHIPPED.read_text())["models"][0]
    assert "version" in " ".join(mf.problems({"version": 2, "models": [entry]}))
    assert mf.problems({"version": 1, "models": []})
    assert "duplicate" in " ".join(mf.problems({"version": 1, "models": [entry, entry]}))
    assert "NaN" in " ".join(mf.problems({"version": 1, "models": [{**entry, "default_guidance": float("nan")}]}))
    assert mf.problems({"version": 1, "models": [{**entry, "config": {**entry["config"], "channels": (64, 128, 128)}}]}) == []


def test_schema_lists_the_variants_and_the_config_fields():
    entry = mf.schema()["$defs"]["ModelEntry"]["properties"]
    assert tuple(entry["variant"]["enum"]) == VARIANTS
    config = set(mf.schema()["$defs"]["DiffitConfig"]["properties"])
    assert {f.name for f in dataclasses.fields(DiffiTConfig)} <= config


def test_ids_and_defaults_are_checked_against_the_contracts():
    mf.check_id("diffit-fmnist")
    for bad in ("../../evil", "Diffit", "a--b", "-a", "a_b", ""):
        with pytest.raises(mf.ManifestError, match="lowercase letters and digits"):
            mf.check_id(bad)
    limits = json.loads((REPO / "contracts" / "sampling.json").read_text())["limits"]
    assert mf.default_problems(limits["steps"]["max"], limits["guidance"]["max"]) == []
    found = mf.default_problems(limits["steps"]["max"] + 1, float("nan"))
    assert len(found) == 2 and f"[{limits['steps']['min']}, {limits['steps']['max']}]" in found[0]
    assert f"[{limits['guidance']['min']}, {limits['guidance']['max']}]" in found[1]


def test_locked_write_refuses_an_invalid_manifest_and_leaves_the_file(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(SHIPPED.read_text())
    with pytest.raises(mf.ManifestError, match=r"models\[0\]\.default_steps"):
        with mf.edited_manifest(path) as manifest:
            manifest["models"][0]["default_steps"] = 0
    assert path.read_text() == SHIPPED.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with mf.edited_manifest(path) as manifest:  # a valid edit is written, in the export's layout
        manifest["models"][0]["label"] = "Renamed"
    assert json.loads(path.read_text())["models"][0]["label"] == "Renamed"
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(mf.ManifestError, match="cannot read the manifest"):
        with mf.edited_manifest(tmp_path / "bad.json"):
            pass


def test_merge_reads_each_measured_block_from_its_side_file(tmp_path):
    entry = json.loads(SHIPPED.read_text())["models"][0]
    side = mf.SideFiles(provenance_dir=tmp_path, bench_results=tmp_path / "results.json")
    # No side files: only the checkpoint's part of `training` stays.
    bare = copy.deepcopy(entry)
    assert mf.merge_measured(bare, side) == []
    assert "evaluation" not in bare and "benchmark" not in bare
    assert set(bare["training"]) <= set(mf.CHECKPOINT_TRAINING_KEYS)
    # Each side file fills its block.
    rows = [{"guidance": 1.0, "classifier_accuracy": 0.5, "samples": 10, "steps": 18, "seed": 1, "device": "cpu"},
            {"guidance": 2.0, "classifier_accuracy": 0.75, "samples": 10, "steps": 18, "seed": 1, "device": "cpu"}]
    (tmp_path / f"{entry['id']}-eval.json").write_text(json.dumps(rows))
    (tmp_path / f"{entry['id']}-eval-onnx-cpu.json").write_text(json.dumps([{**rows[1], "seconds": 12.345, "source": "x.onnx"}]))
    (tmp_path / f"{entry['id']}.json").write_text(json.dumps({"hardware": "a test", "batch": 8}))
    block = {"machine": "m", "batch": 1, "runs": 3, "macs": 5, "ms_per_forward": {}}
    (tmp_path / "results.json").write_text(json.dumps({"models": [{"id": entry["id"], "bytes": entry["bytes"], "benchmark": block}]}))
    assert mf.merge_measured(bare, side) == []
    assert bare["evaluation"]["classifier_accuracy"] == {"1.0": 0.5, "2.0": 0.75}
    assert bare["evaluation"]["onnx_check"] == {"guidance": 2.0, "classifier_accuracy": 0.75, "samples": 10, "steps": 18,
                                                "seed": 1, "seconds": 12.3, "measured_on": "cpu", "source": "x.onnx"}
    assert bare["training"]["hardware"] == "a test" and bare["training"]["batch"] == 8
    assert bare["benchmark"] == block
    assert list(bare) == [k for k in mf.schema()["$defs"]["ModelEntry"]["properties"] if k in bare]
    mf.validate({"version": 1, "models": [bare]})
    # A benchmark of a file of another size is left out, with a note.
    (tmp_path / "results.json").write_text(json.dumps({"models": [{"id": entry["id"], "bytes": 1, "benchmark": block}]}))
    notes = mf.merge_measured(bare, side)
    assert "benchmark" not in bare and len(notes) == 1 and "timed another" in notes[0]


def test_upsert_orders_by_data_set_then_variant():
    shipped = json.loads(SHIPPED.read_text())
    manifest = {"version": 1, "models": list(reversed(shipped["models"]))}
    mf.upsert(manifest, shipped["models"][4])
    assert [m["id"] for m in manifest["models"]] == [m["id"] for m in shipped["models"]]


def test_generated_typescript_types_are_current():
    spec = importlib.util.spec_from_file_location("gen_manifest_types", REPO / "training/scripts/gen_manifest_types.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (REPO / "src/types/manifest.ts").read_text() == gen.render(mf.schema()), \
        "src/types/manifest.ts is stale: run .venv/bin/python training/scripts/gen_manifest_types.py"
