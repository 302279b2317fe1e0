"""Token mixers of the DiffiT block: TMSA (the paper's contribution) and DiffiP's pooling mixer.

Both take channel-last tokens x_s of shape (B, H, W, C) and the time token x_t of shape (B, T),
and return mixed tokens of shape (B, H, W, C) plus the attention weights (or None).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, window*window, C); windows row-major over the grid, tokens row-major inside."""
    b, h, w, c = x.shape
    if h == window and w == window:  # one window: the permutation is the identity (no Transpose in the graph)
        return x.reshape(b, window * window, c)
    x = x.reshape(b, h // window, window, w // window, window, c)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, H/w, W/w, w, w, C)
    return x.reshape(-1, window * window, c)


def window_merge(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of window_partition: (B * nW, window*window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    if height == window and width == window:
        return windows.reshape(-1, height, width, c)
    x = windows.reshape(-1, height // window, width // window, window, window, c)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, H/w, w, W/w, w, C)
    return x.reshape(-1, height, width, c)


def heads_in_windows(x: torch.Tensor, window: int, head_dim: int) -> torch.Tensor:
    """(B, H, W, P*d) -> (B, P, nW, N, d): window_partition and the split into P heads of d channels in one
    permutation (one Transpose in the exported graph), windows and tokens ordered as window_partition orders them."""
    b, h, w, _ = x.shape
    x = x.reshape(b, h // window, window, w // window, window, -1, head_dim)  # (B, H/w, w, W/w, w, P, d)
    x = x.permute(0, 5, 1, 3, 2, 4, 6)  # (B, P, H/w, W/w, w, w, d)
    return x.reshape(b, -1, (h // window) * (w // window), window * window, head_dim)


def windows_to_tokens(x: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of heads_in_windows: (B, P, nW, N, d) -> (B, H, W, P*d), in one permutation."""
    b, heads, _, _, d = x.shape
    x = x.reshape(b, heads, height // window, width // window, window, window, d)
    x = x.permute(0, 2, 4, 3, 5, 1, 6)  # (B, H/w, w, W/w, w, P, d)
    return x.reshape(b, height, width, heads * d)


def relative_position_index(window: int) -> torch.Tensor:
    """(N, N) index into a ((2w-1)^2)-row bias table for every (query, key) pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)  # (2, N)
    relative = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, N, N), each in [0, 2w-2]
    return relative[0] * (2 * window - 1) + relative[1]


class TMSA(nn.Module):
    """Time-dependent multi-head self-attention (paper Eq. 3-6).

        q = x_s W_qs + x_t W_qt,   k = x_s W_ks + x_t W_kt,   v = x_s W_vs + x_t W_vt
        Attention(Q, K, V) = Softmax(Q K^T / sqrt(d) + B) V

    inside non-overlapping windows of `window` x `window` tokens, with B a learned relative
    position bias per head, indexed by the (dy, dx) offset between query and key.

    The softmax is computed explicitly (the graph that is exported, whose weights the app shows) unless
    `fused` is set (training's fast path, `use_fused_attention`): then the same equation runs as
    `scaled_dot_product_attention` with B as an additive mask.
    """

    fused = False
    fold_scale = False  # set by models.unet.use_export_form: 1/sqrt(d) folded into W_q

    def __init__(self, dim: int, time_dim: int, heads: int, window: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.dim, self.heads, self.window = dim, heads, window
        self.head_dim = dim // heads
        self.qkv_spatial = nn.Linear(dim, 3 * dim, bias=False)  # W_qs, W_ks, W_vs
        self.qkv_time = nn.Linear(time_dim, 3 * dim)  # W_qt, W_kt, W_vt
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window), persistent=False)
        q_scale = torch.ones(3 * dim)
        q_scale[:dim] = self.head_dim**-0.5
        self.register_buffer("q_scale", q_scale, persistent=False)  # 1/sqrt(d) on q's rows, 1 on k's and v's

    def relative_bias(self) -> torch.Tensor:
        """B: (heads, N, N)."""
        n = self.window * self.window
        return self.bias_table[self.bias_index.reshape(-1)].reshape(n, n, self.heads).permute(2, 0, 1)

    def qkv_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(W_s, W_t, b_t) of q, k, v stacked; with `fold_scale` (the export) the rows of q are scaled by 1/sqrt(d),
        so that Q K^T comes out scaled with no multiplication of its own (constants fold when the graph is written)."""
        weights = (self.qkv_spatial.weight, self.qkv_time.weight, self.qkv_time.bias)
        if not self.fold_scale:
            return weights
        return tuple(t * self.q_scale.reshape(-1, *[1] * (t.dim() - 1)) for t in weights)

    def forward(self, x_s: torch.Tensor, x_t: torch.Tensor, return_attention: bool = False):
        b, h, w, c = x_s.shape
        if h % self.window or w % self.window:
            raise ValueError(f"feature map {h}x{w} is not divisible by window {self.window}")
        n_windows = (h // self.window) * (w // self.window)
        w_s, w_t, b_t = self.qkv_weights()
        qkv = F.linear(x_s, w_s) + F.linear(x_t, w_t, b_t)[:, None, None, :]  # x_s W_s + x_t W_t: (B, H, W, 3C)
        # Windows cut and heads moved ahead of them in one permutation, so that the attention weights come out in the
        # manifest's layout with no transpose: one Transpose and one Split in the exported graph.
        q, k, v = heads_in_windows(qkv, self.window, self.head_dim).split(self.heads, dim=1)  # each (B, heads, nW, N, d)
        bias = self.relative_bias().to(q.dtype)[:, None]  # (heads, 1, N, N): per head, the same in every window
        if self.fused and not return_attention:  # training's fast path; the fused kernels return no weights
            mask = bias.expand(-1, n_windows, -1, -1).flatten(0, 1)  # (heads*nW, N, N)
            out = F.scaled_dot_product_attention(q.flatten(1, 2), k.flatten(1, 2), v.flatten(1, 2), attn_mask=mask,
                                                 scale=1.0 if self.fold_scale else None)
            out = out.unflatten(1, (self.heads, n_windows))  # (B, heads, nW, N, d)
            attention = None
        else:
            logits = q @ k.transpose(-2, -1)  # (B, heads, nW, N, N)
            logits = (logits if self.fold_scale else logits * self.head_dim**-0.5) + bias
            attention = logits.softmax(dim=-1)
            out = attention @ v  # (B, heads, nW, N, d)
            attention = attention if return_attention else None  # (B, heads, nW, N, N), the manifest's layout
        out = self.proj(windows_to_tokens(out, self.window, h, w))  # (B, H, W, C)
        return out, attention


def use_fused_attention(model: nn.Module, fused: bool = True) -> nn.Module:
    """Switch every TMSA of `model` to the fused SDPA kernel (training) or the explicit softmax (export, eval)."""
    for module in model.modules():
        if isinstance(module, TMSA):
            module.fused = fused
    return model


class TimePooling(nn.Module):
    """DiffiP's token mixer: PoolFormer pooling (Yu et al. 2022) made time-dependent.

        mixer(x_s, x_t) = AvgPool3x3(x_s + x_t W_t) - x_s

    The projected time token is added to every token before pooling, the analogue of TMSA's
    x_t W_t terms. Average pooling (stride 1, padding not counted) keeps a constant, just as
    attention's row-stochastic weights keep TMSA's x_t W_vt term; PoolFormer's "- x" subtracts the
    tokens alone, since subtracting x_s + x_t W_t would cancel the time term exactly.
    """

    def __init__(self, dim: int, time_dim: int, pool_size: int = 3):
        super().__init__()
        self.time_proj = nn.Linear(time_dim, dim)
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x_s: torch.Tensor, x_t: torch.Tensor, return_attention: bool = False):
        z = (x_s + self.time_proj(x_t)[:, None, None, :]).permute(0, 3, 1, 2)  # (B, C, H, W)
        mixed = self.pool(z).permute(0, 2, 3, 1) - x_s  # (B, H, W, C)
        return mixed, None
