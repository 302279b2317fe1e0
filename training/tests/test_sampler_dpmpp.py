"""DPM-Solver++(2M) (diffit.diffusion.sampler.dpmpp_2m_sample): one evaluation per step, second order.

Bit-for-bit parity with src/sampling/dpmpp2m.ts goes through fixtures/sampler_reference.json (test_fixtures.py).
"""

import numpy as np

from diffit.diffusion import karras_sigmas
from diffit.diffusion.sampler import SAMPLERS, dpmpp_2m_sample, heun_sample
from diffit.noise import normal_tensor

MU, SD = 0.25, 0.5


def gaussian(calls):
    """The exact denoiser of data N(MU, SD^2), counting its evaluations."""

    def denoise(x, sigma):
        calls.append(sigma)
        return ((SD**2 * x.astype(np.float64) + sigma**2 * MU) / (sigma**2 + SD**2)).astype(np.float32)

    return denoise


def exact(noise):
    """x(0) of the probability-flow ODE from x(80) = 80 noise: MU + (x_T - MU) SD / sqrt(80^2 + SD^2)."""
    return MU + (noise.astype(np.float64) * 80 - MU) * SD / np.sqrt(80**2 + SD**2)


def test_one_evaluation_per_step_and_the_last_step_lands_on_the_denoised():
    calls, steps_seen = [], []
    noise = normal_tensor(1, (2, 1, 4, 4))
    x = dpmpp_2m_sample(gaussian(calls), noise, karras_sigmas(6), lambda i, x, d: steps_seen.append((i, x, d)))
    assert len(calls) == 6 and calls[0] == np.float32(80)
    assert [i for i, _, _ in steps_seen] == list(range(6))
    np.testing.assert_array_equal(x, steps_seen[-1][2])


def test_second_order_and_registered_by_name():
    noise = normal_tensor(1, (2, 1, 4, 4))
    error = {n: np.abs(dpmpp_2m_sample(gaussian([]), noise, karras_sigmas(n)) - exact(noise)).max() for n in (10, 20, 40)}
    assert error[40] < error[20] < error[10] / 3  # about a quarter per doubling
    assert set(SAMPLERS) == {"heun", "dpmpp-2m"} and SAMPLERS["dpmpp-2m"] is dpmpp_2m_sample and SAMPLERS["heun"] is heun_sample
