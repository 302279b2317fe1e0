"""`python -m diffit.sample` on bad input: one line and exit 2 before any sampling; the app's limits and rounding."""

import json
import subprocess
import sys

import numpy as np
import pytest

from diffit.contract import LIMITS, round_guidance
from diffit.sample import main as sample_main

from conftest import REPO

MANIFEST = REPO / "public" / "models" / "manifest.json"
MODEL = "diffip-fmnist"  # the smallest shipped model


def sample_cli(*args):
    """The command line in a fresh interpreter (what a user sees, tracebacks included)."""
    return subprocess.run([sys.executable, "-m", "diffit.sample", "--manifest", str(MANIFEST), "--model", MODEL,
                           *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.fixture
def refused(capsys):
    """Runs main() in-process (fast) and returns (exit status, stderr)."""

    def run(*args):
        with pytest.raises(SystemExit) as stop:
            sample_main(["--manifest", str(MANIFEST), "--model", MODEL, *map(str, args)])
        return subprocess.CompletedProcess(args, stop.value.code, "", capsys.readouterr().err)

    return run


def assert_refused(result, *words):
    """Exit 2, one line naming the problem, no traceback and no sampling step."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]  # and no progress line: nothing was sampled


@pytest.mark.parametrize("flag, value", [("--steps", 100_000_000), ("--steps", 0), ("--batch", 100_000), ("--batch", 0),
                                         ("--seed", -1), ("--seed", 2**32), ("--guidance", 20.5), ("--guidance", -1)])
def test_limits_are_the_apps(refused, flag, value):
    name = flag[2:]
    assert_refused(refused(flag, value, "--steps" if flag != "--steps" else "--batch", 1), flag,
                   f"[{LIMITS[name]['min']}, {LIMITS[name]['max']}]")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_guidance_is_refused(refused, value):
    assert_refused(refused(f"--guidance={value}", "--steps", 1), "--guidance", "not a finite number")


def test_bad_integer_is_one_line():
    assert_refused(sample_cli("--steps", "abc"), "--steps", "abc")


def test_output_in_a_missing_folder_is_refused_and_not_created(refused, tmp_path):
    target = tmp_path / "newdir" / "x.png"
    assert_refused(refused("--steps", 1, "--png", target), "--png", "does not exist")
    assert not (tmp_path / "newdir").exists()


def test_output_under_a_file_or_onto_a_folder_is_refused(refused, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert_refused(refused("--steps", 1, "--json", tmp_path / "file.txt" / "out.json"), "--json", "does not exist")
    assert_refused(refused("--steps", 1, "--json", tmp_path), "--json", "is a folder")


def test_unwritable_folder_is_refused_before_sampling(tmp_path):
    # /proc takes no new files, for root as well; the PNG would otherwise fail after all the sampling.
    assert_refused(sample_cli("--steps", 1, "--json", tmp_path / "ok.json", "--png", "/proc/diffit-sample.png"),
                   "--png", "cannot write")
    assert not (tmp_path / "ok.json").exists()


def test_rounding_matches_javascript_math_round():
    # Math.round(v * 100) / 100 in the app: ties go up, and the product is rounded to float64 first.
    assert round_guidance(1.3) == 1.3
    assert round_guidance(0.125) == 0.13  # round() gives 0.12
    assert round_guidance(2.675) == 2.68  # 2.675 * 100 is 267.5 in float64; round() gives 2.67
    assert round_guidance(1.005) == 1.0  # 1.005 * 100 is 100.49999999999999
    assert round_guidance(19.995) == 20.0
    assert LIMITS["guidance"]["decimals"] == 2


def test_progress_per_step_and_rounded_guidance_in_the_output(tmp_path):
    out = tmp_path / "x.json"
    result = sample_cli("--steps", 3, "--batch", 1, "--class", 1, "--guidance", 1.304, "--json", out, "--png", tmp_path / "x.png")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "step" in line] == [f"{MODEL}: step {i}/3" for i in (1, 2, 3)]
    written = json.loads(out.read_text())
    assert written["guidance"] == 1.3 and written["steps"] == 3 and written["shape"] == [1, 1, 32, 32]
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.png"]  # no temporary files left


def test_unknown_sampler_is_refused(refused):
    assert_refused(refused("--sampler", "euler"), "--sampler", "heun", "dpmpp-2m")


def test_dpmpp_2m_runs_with_the_contracts_default_steps(tmp_path):
    """--sampler dpmpp-2m takes its steps from contracts/sampling.json and records the sampler."""
    from diffit.contract import SAMPLER_STEPS

    runs = {}
    for name in ("heun", "dpmpp-2m"):
        out = tmp_path / f"{name}.json"
        sample_main(["--manifest", str(MANIFEST), "--model", MODEL, "--sampler", name, "--batch", "1", "--seed", "4",
                     "--json", str(out), "--quiet"] + (["--steps", "3"] if name == "heun" else []))
        runs[name] = json.loads(out.read_text())
    assert runs["dpmpp-2m"]["sampler"] == "dpmpp-2m" and runs["dpmpp-2m"]["steps"] == SAMPLER_STEPS["dpmpp-2m"]
    assert runs["heun"]["sampler"] == "heun" and runs["heun"]["pixels"] != runs["dpmpp-2m"]["pixels"]


def test_the_contract_names_exactly_the_samplers_python_has():
    from diffit.contract import SAMPLER_STEPS
    from diffit.diffusion.sampler import SAMPLERS

    assert sorted(SAMPLER_STEPS) == sorted(SAMPLERS)


def test_unknown_guide_is_refused(refused):
    assert_refused(refused("--guide", "sometimes"), "--guide", "interval", "every")


def test_guide_interval_skips_guidance_above_it_and_is_recorded(tmp_path):
    """--guide interval: sigma 80 (4 DPM steps evaluate at 80, then inside the interval) runs the conditional
    denoiser alone, so the images differ from --guide every (the default), and the JSON names the guide."""
    from diffit.contract import DEFAULTS, GUIDES

    assert DEFAULTS["guide"] == "every" and GUIDES["interval"][1] < 80
    runs = {}
    for guide in ("every", "interval"):
        out = tmp_path / f"{guide}.json"
        sample_main(["--manifest", str(MANIFEST), "--model", MODEL, "--sampler", "dpmpp-2m", "--steps", "4", "--batch", "1",
                     "--class", "1", "--guidance", "2", "--guide", guide, "--json", str(out), "--quiet"])
        runs[guide] = json.loads(out.read_text())
    assert runs["every"]["guide"] == "every" and runs["interval"]["guide"] == "interval"
    assert runs["every"]["pixels"] != runs["interval"]["pixels"]


def test_weights_int8_runs_the_manifests_int8_file_close_to_the_float_one(tmp_path):
    """--weights int8 samples with the entry's int8 file (what the app's WASM runs with weights=int8): other pixels
    than the float file's, within a few levels of them."""
    runs = {}
    for weights in ("float32", "int8"):
        out = tmp_path / f"{weights}.json"
        sample_main(["--manifest", str(MANIFEST), "--model", MODEL, "--sampler", "dpmpp-2m", "--steps", "3", "--batch", "2",
                     "--class", "1", "--guidance", "2", "--weights", weights, "--json", str(out), "--quiet"])
        runs[weights] = np.array(json.loads(out.read_text())["pixels"], dtype=int)
    difference = np.abs(runs["int8"] - runs["float32"])
    assert 0 < difference.mean() < 3


def test_weights_int8_of_a_model_without_an_int8_file_is_one_line(tmp_path, capsys):
    manifest = json.loads(MANIFEST.read_text())
    for entry in manifest["models"]:
        entry.pop("int8", None)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as stop:
        sample_main(["--manifest", str(path), "--model", MODEL, "--weights", "int8"])
    result = subprocess.CompletedProcess([], stop.value.code, "", capsys.readouterr().err)
    assert_refused(result, "has no int8 file", "python -m diffit.quantize")


def test_unknown_weights_are_refused(refused):
    result = refused("--weights", "int4")
    assert result.returncode == 2 and "--weights" in result.stderr and "int8" in result.stderr
