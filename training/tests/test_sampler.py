import json

import numpy as np
import pytest

from diffit.contract import CONTRACT, FIRST_VISIT, GUIDES, SAMPLER_STEPS
from diffit.diffusion import EDM, EVERY_SIGMA, guided_denoiser, heun_sample, karras_sigmas
from diffit.diffusion.sampler import SAMPLERS
from diffit.noise import normal_tensor

SD = EDM.sigma_data


def gaussian_denoiser(mu):
    """Exact denoiser of data N(mu, SD^2): D = (SD^2 x + sigma^2 mu) / (sigma^2 + SD^2)."""
    return lambda x, sigma: (SD**2 * x + sigma**2 * mu) / (sigma**2 + SD**2)


def test_karras_sigmas():
    s = karras_sigmas(18)
    assert len(s) == 19 and s[0] == pytest.approx(80) and s[-2] == pytest.approx(0.002) and s[-1] == 0
    assert np.all(np.diff(s) < 0)


def test_heun_solves_the_ode_in_closed_form():
    # For D above, the probability-flow ODE gives x(0) = mu + (x_T - mu) * SD / sqrt(sigma_max^2 + SD^2).
    noise = normal_tensor(3, (2, 1, 4, 4)).astype(np.float64)
    mu = 0.3
    x = heun_sample(gaussian_denoiser(mu), noise, karras_sigmas(200))
    expected = mu + (noise * 80.0 - mu) * SD / np.sqrt(80.0**2 + SD**2)
    np.testing.assert_allclose(x, expected, atol=2e-3)


def test_guidance_extrapolates_from_unconditional():
    calls = []

    def denoise(x, sigma, labels):
        calls.append(list(labels))
        return np.stack([np.full(x.shape[1:], 1.0 if label == 0 else 0.0) for label in labels])

    x = np.zeros((2, 1, 2, 2))
    d = guided_denoiser(denoise, 0, 10, 3.0, lambda parts: np.concatenate(parts))
    np.testing.assert_allclose(d(x, 1.0), 3.0)  # 0 + 3 (1 - 0)
    assert calls[-1] == [0, 0, 10, 10]
    plain = guided_denoiser(denoise, 10, 10, 3.0, lambda parts: np.concatenate(parts))
    plain(x, 1.0)
    assert calls[-1] == [10, 10]  # unconditional: one plain forward


def test_the_first_visit_names_a_sampler_and_guide_of_the_contract():
    """contracts/sampling.json `first_visit` (the app's first run, and the quality tools' default) is a sampler that
    diffit.diffusion runs, with default steps, and a guide the contract offers."""
    assert set(FIRST_VISIT) == {"sampler", "guide"}
    assert FIRST_VISIT["sampler"] in SAMPLERS and FIRST_VISIT["sampler"] in SAMPLER_STEPS
    assert FIRST_VISIT["guide"] in GUIDES


def test_guidance_interval_guides_only_inside_it():
    """guided_denoiser's `interval` (lo, hi]: [x; x] with [class; null] inside, the conditional D alone outside;
    EVERY_SIGMA, the default, guides at every sigma; the guides are contracts/sampling.json's."""
    seen = []

    def denoise(x, sigma, labels):
        seen.append((sigma, list(labels)))
        return np.stack([np.full(x.shape[1:], 1.0 if label == 3 else 0.0) for label in labels])  # cond 1, null 0

    x = np.zeros((2, 1, 2, 2))
    narrow = guided_denoiser(denoise, 3, 10, 2.5, lambda parts: np.concatenate(parts), interval=(0.3, 5.0))
    assert np.all(narrow(x, 5.0) == 2.5) and seen[-1] == (5.0, [3, 3, 10, 10])  # hi is inside: guided
    assert np.all(narrow(x, 0.5) == 2.5) and len(seen[-1][1]) == 4
    for sigma in (80.0, 5.0001, 0.3, 0.002):  # lo is outside, as is everything above hi
        assert np.all(narrow(x, sigma) == 1.0) and seen[-1] == (sigma, [3, 3])
    every = guided_denoiser(denoise, 3, 10, 2.5, lambda parts: np.concatenate(parts))
    for sigma in (80.0, 0.002):
        assert np.all(every(x, sigma) == 2.5) and len(seen[-1][1]) == 4
    assert GUIDES["every"] == EVERY_SIGMA == (0.0, np.inf)
    app = guided_denoiser(denoise, 3, 10, 2.5, lambda parts: np.concatenate(parts), GUIDES["interval"])
    lo, hi = GUIDES["interval"]
    assert (lo, hi) == tuple(json.loads(CONTRACT.read_text(encoding="utf-8"))["guides"]["interval"][k] for k in ("lo", "hi"))
    for sigma, guided in ((80.0, False), (np.nextafter(hi, np.inf), False), (hi, True), (0.002, lo < 0.002)):
        assert np.all(app(x, sigma) == (2.5 if guided else 1.0)) and len(seen[-1][1]) == (4 if guided else 2)


def test_compare_samplers_reads_an_interval_per_run():
    import argparse
    import math
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "training" / "scripts"))
    from compare_samplers import parse_run

    assert parse_run("dpmpp-2m:8") == ("dpmpp-2m", 8, (0.0, math.inf))
    assert parse_run("heun:18@0-5.42") == ("heun", 18, (0.0, 5.42))
    for bad in ("dpmpp-2m:8@5-1", "dpmpp-2m:8@x-2", "dpmpp-2m:8@3", "nope:8", "heun:0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_run(bad)


def test_sample_sheet_draws_every_model_on_the_same_noise(tmp_path, capsys):
    import sys

    from PIL import Image

    from conftest import REPO

    sys.path.insert(0, str(REPO / "training" / "scripts"))
    from sample_sheet import main as sample_sheet

    model = REPO / "public" / "models" / "diffip-fmnist.onnx"
    png = tmp_path / "sheet.png"
    assert sample_sheet(["--onnx", str(model), str(model), "--num-classes", "10", "--per-class", "2", "--steps", "2",
                         "--scale", "1", "--threads", "1", "--png", str(png)]) == 0
    sheet = np.asarray(Image.open(png))
    panel = 2 * 33 + 1  # two 32-pixel tiles, 1-pixel padding
    assert sheet.shape == (10 * 33 + 1, 2 * panel + 8)
    assert (sheet[:, :panel] == sheet[:, panel + 8:]).all() and (sheet[:, panel:panel + 8] == 255).all()
    assert sheet[:, :panel].std() > 10  # images, not a blank panel
    for args, message in ((["--onnx", str(tmp_path / "none.onnx")], "is not a file"),
                          (["--onnx", str(model), "--per-class", "0"], "must be positive")):
        with pytest.raises(SystemExit) as stop:
            sample_sheet([*args, "--num-classes", "10", "--png", str(tmp_path / "x.png")])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
