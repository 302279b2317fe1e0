"""EDM's constants and training objective (Karras et al. 2022, Table 1 and Sec. 5).

`EDM` is the one place the noise levels live: the preconditioning (models.unet), the loss below,
the Karras schedule (diffusion.sampler) and the exported manifest's `edm` block all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EDMConstants:
    """EDM's settings for image data in [-1, 1] (Karras et al. 2022, Table 1)."""

    sigma_min: float = 0.002  # sampling: smallest noise level
    sigma_max: float = 80.0  # sampling: largest noise level
    rho: float = 7.0  # sampling: Karras schedule curvature
    sigma_data: float = 0.5  # data standard deviation
    p_mean: float = -1.2  # training: ln(sigma) ~ N(p_mean, p_std^2)
    p_std: float = 1.2


EDM = EDMConstants()


class EDMLoss:
    """L = E[ lambda(sigma) || D(y + n; sigma, class) - y ||^2 ],
    ln sigma ~ N(P_mean, P_std^2), n ~ N(0, sigma^2 I), lambda = (sigma^2 + sd^2) / (sigma sd)^2.
    """

    def __init__(self, constants: EDMConstants = EDM, label_dropout: float = 0.1, num_classes: int = 0):
        self.c = constants
        self.label_dropout = label_dropout
        self.num_classes = num_classes

    def __call__(self, denoiser, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None):
        b = images.shape[0]
        device = images.device
        ln_sigma = torch.randn(b, device=device, generator=generator) * self.c.p_std + self.c.p_mean
        sigma = ln_sigma.exp()  # (B,)
        weight = (sigma**2 + self.c.sigma_data**2) / (sigma * self.c.sigma_data) ** 2
        noise = torch.randn(images.shape, device=device, generator=generator) * sigma[:, None, None, None]
        if self.num_classes > 0 and self.label_dropout > 0:
            drop = torch.rand(b, device=device, generator=generator) < self.label_dropout
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        denoised, _ = denoiser(images + noise, sigma, labels)
        per_image = ((denoised - images) ** 2).flatten(1).mean(1)  # (B,)
        return (weight * per_image).mean()
