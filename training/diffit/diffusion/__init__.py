"""EDM diffusion maths (Karras et al. 2022), kept apart from the networks."""

from .edm import EDM, EDMConstants, EDMLoss  # noqa: F401
from .sampler import EVERY_SIGMA, guided_denoiser, heun_sample, karras_sigmas  # noqa: F401
