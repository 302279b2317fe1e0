"""The app's model manifest (public/models/manifest.json): its schema, its validation, its one locked write, and
the building of an entry from the export and from the side files that hold what was measured.

contracts/manifest.schema.json owns every field (the app validates against the same file, and its TypeScript types
are generated from it). What JSON Schema cannot say is checked here and in src/lib/manifest.ts alike: classes match
num_classes, ids are unique, the defaults lie within contracts/sampling.json, the attention geometry adds up.

Measured figures live in the files that measured them; the export merges them, so a re-export or `--rebuild` loses
nothing and nothing is edited by hand (`SideFiles`):

    training/weights/provenance/<id>.json                training provenance (scripts/ship_models.py)
    training/weights/provenance/<id>-eval.json           `diffit.evaluate --json` rows, one per guidance scale
    training/weights/provenance/<id>-eval-onnx-cpu.json  `diffit.evaluate --onnx --json` rows: the ONNX check
    bench/results.json                                   `npm run bench`: one `benchmark` block per model
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np

from .contract import LIMITS
from .models.config import VARIANTS
from .outputs import write_atomic

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "contracts" / "manifest.schema.json"
DATASET_ORDER = ("fashion-mnist", "cifar10", "emoji")  # the app opens the first entry
# The part of `training` that the checkpoint records; the provenance side file overrides and extends it.
CHECKPOINT_TRAINING_KEYS = ("dataset_split", "images_seen", "hardware", "wall_time_s", "seed", "torch")


class ManifestError(ValueError):
    """A manifest, a side file or an option that would make the manifest invalid (one readable line)."""


@functools.cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


# ----------------------------------------------------------------------------- checks


def check_id(model_id: str) -> None:
    pattern = schema()["$defs"]["ModelId"]["pattern"]
    if not isinstance(model_id, str) or not jsonschema.Draft202012Validator({"pattern": pattern}).is_valid(model_id):
        raise ManifestError(f"model id {model_id!r} must be lowercase letters and digits in hyphen-separated words "
                            f"({pattern}), e.g. diffit-fmnist")


def default_problems(steps, guidance) -> list[str]:
    """Where the default steps and guidance fall outside contracts/sampling.json (NaN and infinities included)."""
    limits, out = LIMITS, []
    s, g = limits["steps"], limits["guidance"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not s["min"] <= steps <= s["max"]:
        out.append(f"default_steps {steps!r} must be a whole number in [{s['min']}, {s['max']}] (contracts/sampling.json)")
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not math.isfinite(guidance) \
            or not g["min"] <= guidance <= g["max"]:
        out.append(f"default_guidance {guidance!r} must be a finite number in [{g['min']}, {g['max']}] (contracts/sampling.json)")
    return out


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"


def _closest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Where no branch of an anyOf fits, the branch of the value's own type says what is wrong (a missing field, a
    range), not the branch that wants another type."""
    if not error.context:
        return error
    own_type = [e for e in error.context if e.validator != "type" or e.relative_path]
    return jsonschema.exceptions.best_match(own_type or error.context)


def _entry_problems(entry: dict, where: str) -> list[str]:
    """The checks of one schema-valid entry that JSON Schema cannot express."""
    out = []
    if len(entry["classes"]) != entry["num_classes"]:
        out.append(f"{where}.classes: must have num_classes ({entry['num_classes']}) names, has {len(entry['classes'])}")
    out += [f"{where}.{p}" for p in default_problems(entry["default_steps"], entry["default_guidance"])]
    if "int8" in entry and entry["int8"]["source_sha256"] != entry["sha256"]:
        out.append(f"{where}.int8: made from another {entry['file']} (source_sha256 is not the entry's sha256); "
                   f"run python -m diffit.quantize --id {entry['id']} again")
    for j, layer in enumerate(entry.get("attention", [])):
        grid = layer["resolution"] // layer["window"]
        if layer["tokens"] != layer["window"] ** 2 or layer["windows"] != grid**2 or grid * layer["window"] != layer["resolution"]:
            out.append(f"{where}.attention[{j}]: tokens must be window^2 and windows (resolution/window)^2 "
                       f"(got window {layer['window']}, resolution {layer['resolution']}, tokens {layer['tokens']}, "
                       f"windows {layer['windows']})")
    return out


def problems(manifest) -> list[str]:
    """Every way `manifest` breaks contracts/manifest.schema.json or the checks beside it, as 'path: message'."""
    try:  # judge what the file will hold: tuples become lists, and JSON has no NaN or infinity
        manifest = json.loads(json.dumps(manifest, allow_nan=False))
    except ValueError as error:
        return [f"the document: {error} (a figure is NaN or infinite)"]
    except TypeError as error:
        return [f"the document: {error}"]
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    errors = [_closest(e) for e in errors]
    out = [f"{_path(e.absolute_path)}: {e.message}" for e in errors]
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if isinstance(models, list):
        seen = {}
        for i, entry in enumerate(models):
            where = f"models[{i}]"
            if not _validator().is_valid({"version": 1, "models": [entry]}):
                continue  # reported above
            out += _entry_problems(entry, where)
            if entry["id"] in seen:
                out.append(f"{where}.id: duplicate of models[{seen[entry['id']]}] ({entry['id']!r})")
            seen.setdefault(entry["id"], i)
    return out


def validate(manifest) -> None:
    found = problems(manifest)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise ManifestError("the manifest would be invalid: " + "; ".join(found[:3]) + more)


# ----------------------------------------------------------------------------- files


def read_json(path: Path | str, what: str):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"cannot read the {what} {path}: {error}") from None


def write_json_atomic(data, path: Path) -> None:
    """Write beside the target and rename over it, so a reader never sees half a file; NaN is refused."""
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    write_atomic(Path(path), text.encode())


@contextlib.contextmanager
def edited_manifest(manifest_path: Path, create: bool = False):
    """The manifest as a dict, validated and written back atomically when the block ends without an error, under a
    lock: exports, evaluation updates and benchmark records may run together. `create` starts an empty one where
    none exists."""
    import fcntl

    manifest_path = Path(manifest_path)
    with open(manifest_path.parent / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if create and not manifest_path.exists():
            manifest = {"version": 1, "models": []}
        else:
            manifest = read_json(manifest_path, "manifest")
            if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
                raise ManifestError(f"the manifest {manifest_path} has no `models` list; fix or remove it first")
        yield manifest
        validate(manifest)
        write_json_atomic(manifest, manifest_path)


# ----------------------------------------------------------------------------- entries


def evaluation_block(rows: list[dict]) -> dict:
    """The entry's `evaluation` from diffit.evaluate's rows (one per guidance scale)."""
    block = {"classifier_accuracy": {str(r["guidance"]): r["classifier_accuracy"] for r in rows},
             "samples": rows[0]["samples"], "steps": rows[0]["steps"], "seed": rows[0]["seed"],
             "measured_on": rows[0].get("device"),
             "classifier": "SmallCNN, " + rows[0].get("classifier", "training/weights/classifier-fmnist.pt"),
             "classifier_test_accuracy": rows[0].get("classifier_test_accuracy")}
    per_class = {str(r["guidance"]): r.get("per_class_accuracy") for r in rows}
    if all(per_class.values()):  # the classifier's accuracy on each requested class, and their mean
        block["per_class_accuracy"] = per_class
        block["mean_class_accuracy"] = {w: float(np.mean(v)) for w, v in per_class.items()}
    judged = [r for r in rows if r.get("fd_clf") is not None]  # distribution metrics (evaluate --fd-samples)
    if judged:
        keys = ["fd_clf", "fd_clf_at_floor_samples", "precision", "recall", "fid_inception",
                "fid_inception_at_floor_samples"]
        block.update({key: {str(r["guidance"]): r.get(key) for r in rows} for key in keys})
        block.update({key: judged[0].get(key) for key in
                      ("fd_clf_floor", "fd_clf_floor_train", "fd_clf_floor_train_samples", "fid_inception_floor",
                       "fd_samples", "fd_floor_samples", "fd_reference", "fd_floor_reference", "pr_k")})
        block["fd_steps"] = judged[0].get("fd_steps", rows[0]["steps"])
    return block


# What makes rows of diffit.evaluate one protocol: the entry's evaluation block states them once, from its first row.
_PROTOCOL_KEYS = ("samples", "steps", "seed", "dataset")
_FD_PROTOCOL_KEYS = ("fd_samples", "fd_steps", "fd_seed")


def merged_evaluation_rows(kept: list[dict], added: list[dict]) -> list[dict]:
    """`kept` (a side file's rows) with `added` merged in: a row replaces the row of its guidance scale, and the result
    is ordered by guidance. Rows of another protocol (samples, steps, seed, data set, classifier; and for the FD
    figures their samples, steps and seed) are refused, since the entry states one protocol for all its rows."""
    for rows, what in ((kept, "kept"), (added, "added")):
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "guidance" in r for r in rows):
            raise ManifestError(f"the {what} evaluation rows must be a list of diffit.evaluate rows, each with a guidance")
    if not added:
        raise ManifestError("no evaluation rows to add")
    scales = {float(r["guidance"]) for r in added}
    merged = sorted([r for r in kept if float(r["guidance"]) not in scales] + list(added), key=lambda r: float(r["guidance"]))
    # Judged against the rows that stay, not against a row that the merge replaces.
    reference = next((r for r in merged if float(r["guidance"]) not in scales), added[0])
    for row in added:
        for key in _PROTOCOL_KEYS:
            if row.get(key) != reference.get(key):
                raise ManifestError(f"the row at guidance {row['guidance']} has {key} {row.get(key)}, the others "
                                    f"{reference.get(key)}: only rows of one protocol make one evaluation")
        if Path(str(row.get("classifier"))).name != Path(str(reference.get("classifier"))).name:
            raise ManifestError(f"the row at guidance {row['guidance']} was judged by {row.get('classifier')}, the others "
                                f"by {reference.get('classifier')}")
    judged = [r for r in merged if r.get("fd_clf") is not None]
    for row in judged[1:]:
        for key in _FD_PROTOCOL_KEYS:
            if row.get(key) != judged[0].get(key):
                raise ManifestError(f"the FD figures at guidance {row['guidance']} have {key} {row.get(key)}, those at "
                                    f"{judged[0]['guidance']} {judged[0].get(key)}: they would not compare")
    return merged


def onnx_check_block(rows: list[dict]) -> dict:
    """`evaluation.onnx_check` from the rows of `diffit.evaluate --onnx` on the shipped file (one guidance scale)."""
    row = rows[0]
    block = {"guidance": row["guidance"], "classifier_accuracy": row["classifier_accuracy"], "samples": row["samples"],
             "steps": row.get("steps"), "seed": row.get("seed"), "seconds": row.get("seconds"),
             "measured_on": row.get("device"), "source": row.get("source")}
    if block["seconds"] is not None:
        block["seconds"] = round(block["seconds"], 1)
    return {k: v for k, v in block.items() if v is not None}


@dataclass(frozen=True)
class SideFiles:
    """Where the measured blocks of an entry are read from (module docstring)."""

    provenance_dir: Path = REPO / "training" / "weights" / "provenance"
    bench_results: Path = REPO / "bench" / "results.json"

    def training(self, model_id: str) -> Path:
        return Path(self.provenance_dir) / f"{model_id}.json"

    def evaluation(self, model_id: str) -> Path:
        return Path(self.provenance_dir) / f"{model_id}-eval.json"

    def onnx_check(self, model_id: str) -> Path:
        return Path(self.provenance_dir) / f"{model_id}-eval-onnx-cpu.json"


def _read_if_there(path: Path, what: str):
    return read_json(path, what) if Path(path).exists() else None


def canonical_order(entry: dict) -> None:
    """Put the entry's keys in the order of the schema's ModelEntry properties (the order the export writes)."""
    canonical = list(schema()["$defs"]["ModelEntry"]["properties"])
    items = sorted(entry.items(), key=lambda kv: canonical.index(kv[0]) if kv[0] in canonical else len(canonical))
    entry.clear()
    entry.update(items)


def set_evaluation(entry: dict, side: SideFiles, rows: list[dict] | None = None) -> None:
    """The entry's `evaluation` from `rows` (default: its side file) plus the ONNX check's side file; none without
    rows."""
    model_id = entry["id"]
    if rows is None:
        rows = _read_if_there(side.evaluation(model_id), "evaluation rows")
    entry.pop("evaluation", None)
    if rows:
        entry["evaluation"] = evaluation_block(rows)
        check_rows = _read_if_there(side.onnx_check(model_id), "ONNX check rows")
        if check_rows:
            entry["evaluation"]["onnx_check"] = onnx_check_block(check_rows)
    canonical_order(entry)


def merge_measured(entry: dict, side: SideFiles, evaluation_rows: list[dict] | None = None,
                   training_fields: dict | None = None) -> list[str]:
    """Replace the entry's measured blocks (training provenance, evaluation, benchmark) by what the side files hold;
    `evaluation_rows` / `training_fields` stand in for their side files when given. The export-written fields stay.
    Returns notes for the user (a benchmark of another file that was left out)."""
    model_id = entry["id"]
    training = {k: v for k, v in entry.get("training", {}).items() if k in CHECKPOINT_TRAINING_KEYS}
    if training_fields is None:
        training_fields = _read_if_there(side.training(model_id), "training provenance")
    entry["training"] = {**training, **(training_fields or {})}
    set_evaluation(entry, side, evaluation_rows)
    return set_benchmark(entry, _read_if_there(side.bench_results, "benchmark results") or {}, side.bench_results)


def set_benchmark(entry: dict, results: dict, source: Path | str = "the results") -> list[str]:
    """The entry's `benchmark`: its model's block in `results` (bench/results.json), none where `results` has none
    or timed a file of another size. Returns a note for the user in that last case."""
    rows = [row for row in results.get("models", []) if row.get("id") == entry["id"] and row.get("benchmark")]
    entry.pop("benchmark", None)
    notes = []
    if rows and rows[0].get("bytes") not in (None, entry.get("bytes")):
        notes.append(f"{source} timed another {entry['id']}.onnx ({rows[0]['bytes']:,} bytes, this one has "
                     f"{entry.get('bytes'):,}): its benchmark block is left out until `npm run bench` runs again")
    elif rows:
        entry["benchmark"] = rows[0]["benchmark"]
    canonical_order(entry)
    return notes


def upsert(manifest: dict, entry: dict) -> None:
    """Insert or replace the entry with the same id, keeping the others in data set, then variant, order."""
    models = [m for m in manifest.get("models", []) if m.get("id") != entry["id"]] + [entry]
    datasets = {d: i for i, d in enumerate(DATASET_ORDER)}
    variants = {v: i for i, v in enumerate(VARIANTS)}
    manifest["models"] = sorted(models, key=lambda m: (datasets.get(m.get("dataset"), len(datasets)), m.get("dataset", ""),
                                                       variants.get(m.get("variant"), len(variants)), m["id"]))


def model_file(manifest_path: Path, entry: dict, weights: str) -> Path:
    """The ONNX file of `entry` that runs with `weights` (contract.WEIGHTS): its int8 file, or its float file."""
    if weights != "int8":
        return Path(manifest_path).parent / entry["file"]
    if "int8" not in entry:
        raise ManifestError(f"{entry['id']} has no int8 file in {manifest_path}; python -m diffit.quantize --id {entry['id']} "
                            "makes one")
    return Path(manifest_path).parent / entry["int8"]["file"]


def entry_of(manifest: dict, model_id: str, manifest_path: Path) -> dict:
    entries = [m for m in manifest["models"] if m.get("id") == model_id]
    if not entries:
        raise ManifestError(f"{manifest_path} has no model {model_id!r}; export it first")
    return entries[0]
