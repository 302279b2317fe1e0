"""The DiffiT transformer block and the DiffiT ResBlock (paper Eq. 7-10)."""

from __future__ import annotations

import torch
from torch import nn

from .convolutions import make_conv
from .norms import GroupNorm, skip_layer_norm
from .token_mixers import TMSA, TimePooling


class DiffiTTransformerBlock(nn.Module):
    """x_hat = Mixer(LN(x_s), x_t) + x_s;   x = MLP(LN(x_hat)) + x_hat   (Eq. 7-8).

    The mixer is TMSA for DiffiT and DWS, and time-conditioned pooling for DiffiP.
    """

    def __init__(self, dim: int, time_dim: int, heads: int, window: int, mlp_ratio: float, mixer: str):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        if mixer == "tmsa":
            self.mixer = TMSA(dim, time_dim, heads, window)
        elif mixer == "pool":
            self.mixer = TimePooling(dim, time_dim)
        else:
            raise ValueError(f"unknown token mixer {mixer!r} (expected 'tmsa' or 'pool')")
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x_s: torch.Tensor, x_t: torch.Tensor, return_attention: bool = False):
        mixed, attention = self.mixer(self.norm1(x_s), x_t, return_attention)  # (B, H, W, C)
        normed, x_hat = skip_layer_norm(mixed, x_s, self.norm2)  # LN(x_hat), x_hat: one node in the exported graph
        return self.mlp(normed) + x_hat, attention


class DiffiTResBlock(nn.Module):
    """x_hat = Conv3x3(Swish(GN(x)));   x = DiffiT-Block(x_hat, x_t) + x   (Eq. 9-10)."""

    def __init__(self, dim: int, time_dim: int, heads: int, window: int, mlp_ratio: float, mixer: str, conv: str,
                 groups: int):
        super().__init__()
        self.norm = GroupNorm(groups, dim)
        self.act = nn.SiLU()
        self.conv = make_conv(conv, dim, dim, 3)
        self.block = DiffiTTransformerBlock(dim, time_dim, heads, window, mlp_ratio, mixer)

    def forward(self, x: torch.Tensor, x_t: torch.Tensor, return_attention: bool = False):
        x_hat = self.conv(self.act(self.norm(x)))  # (B, C, H, W)
        tokens, attention = self.block(x_hat.permute(0, 2, 3, 1), x_t, return_attention)  # (B, H, W, C)
        return tokens.permute(0, 3, 1, 2) + x, attention  # (B, C, H, W)
