"""The time token x_t that every DiffiT layer receives (paper Sec. 3.2)."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """Transformer-style sinusoidal features of a scalar: [cos(c w_k), sin(c w_k)], w_k = 10000^(-k/half)."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        half = dim // 2
        frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = c_noise.float()[:, None] * self.frequencies[None, :]  # (B, half)
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (B, dim)


class TimeToken(nn.Module):
    """x_t = MLP_Swish(sinusoid(c_noise)) + class_embedding(label).

    The label `num_classes` is the learned null class used for unconditional generation and
    label dropout (classifier-free guidance, Ho & Salimans 2022).
    """

    def __init__(self, embed_dim: int, time_dim: int, num_classes: int):
        super().__init__()
        self.sinusoid = SinusoidalEmbedding(embed_dim)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.num_classes = num_classes
        self.class_embedding = nn.Embedding(num_classes + 1, time_dim) if num_classes > 0 else None

    def forward(self, c_noise: torch.Tensor, class_label: torch.Tensor | None) -> torch.Tensor:
        x_t = self.mlp(self.sinusoid(c_noise))  # (B, time_dim)
        if self.class_embedding is not None and class_label is not None:
            x_t = x_t + self.class_embedding(class_label)
        return x_t
