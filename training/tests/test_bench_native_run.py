"""scripts/bench_native_run.py, the native half of `npm run bench:run`: counts the app's evaluations, refuses bad input."""

import json
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "training" / "scripts" / "bench_native_run.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO / "training")


def test_one_run_makes_the_apps_evaluations(tmp_path):
    out = tmp_path / "run.json"
    # Guided (class 1, guidance 2): one forward of 2B per evaluation; Heun 2N - 1, DPM-Solver++(2M) N.
    for sampler, forwards in (("heun", 3), ("dpmpp-2m", 2)):
        result = run("--sampler", sampler, "--steps", "2", "--batch", "1", "--threads", "1", "--runs", "2", "--json", str(out))
        assert result.returncode == 0, result.stderr
        report = json.loads(out.read_text())
        assert report["forwards_per_run"] == forwards and len(report["run_ms"]) == 2 and report["sampler"] == sampler


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args, message in ((("--model", "nope"), "is not in"), (("--class", "11"), "--class must be in"), (("--runs", "0"), "at least 1"),
                          (("--json", str(tmp_path / "missing" / "x.json")), "no folder")):
        result = run(*args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
