"""Samplers of the probability-flow ODE: EDM's deterministic Heun (Karras et al. 2022, Algorithm 1 with
S_churn = 0) and DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), on the same Karras sigmas.

Mirrored line for line by `src/sampling/heun.ts` and `src/sampling/dpmpp2m.ts`; see docs/contracts.md.
Works on NumPy arrays (onnxruntime) and on torch tensors alike: it only uses arithmetic on the arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..contract import GUIDES
from .edm import EDM

EVERY_SIGMA = GUIDES["every"]
"""The guidance interval that guides every evaluation: (0, inf)."""


def karras_sigmas(steps: int, sigma_min: float = EDM.sigma_min, sigma_max: float = EDM.sigma_max, rho: float = EDM.rho) -> np.ndarray:
    """sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho, i < N, then sigma_N = 0 (float64)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    i = np.arange(steps, dtype=np.float64)
    ramp = i / (steps - 1) if steps > 1 else np.zeros(1)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(sigmas, 0.0)


def guided_denoiser(denoise: Callable, class_label: int, num_classes: int, guidance: float, concat: Callable,
                    interval: tuple[float, float] = EVERY_SIGMA) -> Callable:
    """Classifier-free guidance (Ho & Salimans 2022): D = D_uncond + w (D_cond - D_uncond).

    `denoise(x, sigma_scalar, labels_list)` evaluates the network on a batch. With w == 1 or an
    unconditional label, it is one plain forward; otherwise one forward on [x; x].

    `interval` = (lo, hi) applies guidance only where lo < sigma <= hi, and the conditional D alone (one
    forward of B) elsewhere (Kynkaanniemi et al. 2024, guidance in a limited interval). The intervals
    the app offers are contracts/sampling.json's `guides` (diffit.contract.GUIDES); the default,
    EVERY_SIGMA, guides every evaluation.
    """

    def plain(x, sigma):
        return denoise(x, sigma, [class_label] * x.shape[0])

    if class_label == num_classes or guidance == 1.0:
        return plain
    lo, hi = interval

    def guided(x, sigma):
        if not lo < sigma <= hi:
            return plain(x, sigma)
        b = x.shape[0]
        both = denoise(concat([x, x]), sigma, [class_label] * b + [num_classes] * b)
        d_cond, d_uncond = both[:b], both[b:]
        return d_uncond + guidance * (d_cond - d_uncond)

    return guided


def heun_sample(denoise: Callable, noise, sigmas: np.ndarray, on_step: Callable | None = None):
    """Integrate the probability-flow ODE from sigma_0 to 0.

    denoise(x, sigma) -> D(x; sigma); noise ~ N(0, I) (float32); sigmas from karras_sigmas.
    on_step(i, x_next, denoised) is called after each step with the evaluation the step ends on.
    """
    t = [float(np.float32(s)) for s in sigmas]  # the float32 noise levels the model sees
    x = noise * t[0]
    for i in range(len(t) - 1):
        t_cur, t_next = t[i], t[i + 1]
        denoised = denoise(x, t_cur)
        d_cur = (x - denoised) / t_cur
        x_next = x + (t_next - t_cur) * d_cur  # Euler step.
        if t_next > 0:  # Apply 2nd order correction.
            denoised = denoise(x_next, t_next)
            d_prime = (x_next - denoised) / t_next
            x_next = x + (t_next - t_cur) * (0.5 * d_cur + 0.5 * d_prime)
        x = x_next
        if on_step is not None:
            on_step(i, x, denoised)
    return x


def dpmpp_2m_sample(denoise: Callable, noise, sigmas: np.ndarray, on_step: Callable | None = None):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) on the same sigmas: one evaluation per step.

    With lambda = -log(sigma) and h_i = lambda_{i+1} - lambda_i, a step is the exact solution of the
    ODE for a denoised output held at D:  x_{i+1} = (sigma_{i+1}/sigma_i) x_i - expm1(-h_i) D.
    D is the multistep estimate D = (1 + 1/(2 r)) D_i - 1/(2 r) D_{i-1}, r = h_{i-1}/h_i, except on the
    first step and the last (sigma_N = 0), where D = D_i (first order). Same arguments as heun_sample;
    on_step(i, x_next, denoised) gets the step's one evaluation.
    """
    t = [float(np.float32(s)) for s in sigmas]  # the float32 noise levels the model sees
    x = noise * t[0]
    old_denoised = None
    for i in range(len(t) - 1):
        t_cur, t_next = t[i], t[i + 1]
        denoised = denoise(x, t_cur)
        if t_next > 0:
            h = math.log(t_cur) - math.log(t_next)  # lambda_{i+1} - lambda_i
            ratio, gain = t_next / t_cur, -math.expm1(-h)
        else:
            ratio, gain = 0.0, 1.0  # the limit sigma_{i+1} -> 0: x_{i+1} = D
        if old_denoised is None or t_next == 0:
            d = denoised
        else:
            r = (math.log(t[i - 1]) - math.log(t_cur)) / h  # h_{i-1} / h_i
            d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        x = ratio * x + gain * d
        old_denoised = denoised
        if on_step is not None:
            on_step(i, x, denoised)
    return x


SAMPLERS = {"heun": heun_sample, "dpmpp-2m": dpmpp_2m_sample}
"""Sampler name (the app's `sampler` URL value) -> function; evaluations per run: heun 2N - 1, dpmpp-2m N."""
