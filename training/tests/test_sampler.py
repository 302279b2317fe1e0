import numpy as np
import pytest

from diffit.diffusion import EDM, guided_denoiser, heun_sample, karras_sigmas
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
