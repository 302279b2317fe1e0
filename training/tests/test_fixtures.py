"""The committed cross-language fixtures are exactly what their generator writes today.

src/sampling/noise.test.ts and heun.test.ts check the TypeScript noise and sampler against these
files; this test proves the files come from training/scripts/write_fixtures.py and the current Python code.
"""

import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / "training" / "scripts" / "write_fixtures.py"
NAMES = ["noise_reference.json", "sampler_reference.json"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    result = subprocess.run([sys.executable, str(SCRIPT), "--out-dir", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("name", NAMES)
def test_committed_fixture_is_regenerated_byte_for_byte(regenerated, name):
    committed = (REPO / "fixtures" / name).read_text()
    assert (regenerated / name).read_text() == committed, f"fixtures/{name} differs from what {SCRIPT.name} writes: rerun it"


def test_generator_refuses_a_missing_folder(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--out-dir", str(tmp_path / "missing")], capture_output=True, text=True)
    assert result.returncode == 2 and "not an existing folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists()
