"""Normalisations of the network, each with the form it takes in the exported graph.

The exported forms compute the same function in fewer graph nodes, hence fewer GPU dispatches in the browser's
WebGPU backend (README "GPU sessions"); `models.unet.use_export_form` switches them on for `diffit.export`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GroupNorm(nn.GroupNorm):
    """GN(x) = gamma * (x - mu_g) / sqrt(var_g + eps) + beta, statistics per sample and group of channels.

    torch.onnx writes it as an InstanceNormalization between two reshapes and the per-channel affine as a Mul and an
    Add. With `export_form` the statistics are one LayerNormalization over each group (_GroupStatistics) and the
    affine one BatchNormalization node with mean 0, variance 1 and epsilon 0, which computes
    (x - 0) / sqrt(1 + 0) * gamma + beta: the same arithmetic. The parameters and checkpoints are nn.GroupNorm's.
    """

    export_form = False

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5):
        super().__init__(num_groups, num_channels, eps)
        self.register_buffer("zero_mean", torch.zeros(num_channels), persistent=False)
        self.register_buffer("unit_variance", torch.ones(num_channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.export_form:
            return super().forward(x)
        if torch.onnx.is_in_onnx_export():
            length = int(x.shape[1]) // self.num_groups * int(x.shape[2]) * int(x.shape[3])  # C/G * H * W, fixed
            normed = _GroupStatistics.apply(x, self.num_groups, length, self.eps)  # (B, C, H, W), no affine
        else:
            normed = F.group_norm(x, self.num_groups, eps=self.eps)
        return F.batch_norm(normed, self.zero_mean, self.unit_variance, self.weight, self.bias, training=False,
                            momentum=0.0, eps=0.0)


class _GroupStatistics(torch.autograd.Function):
    """(x - mu_g) / sqrt(var_g + eps), GroupNorm without its affine, written as one LayerNormalization over each
    group's C/G * H * W values: x (B, C, H, W) -> (B, G, C/G*H*W) -> LayerNormalization(axis -1, unit scale) -> back.
    torch.onnx writes group_norm as an InstanceNormalization between two reshapes, which onnxruntime's WebGPU provider
    in its default channels-last layout wraps in four transposes (the reshapes need channels-first, and it runs
    InstanceNormalization channels-last); a LayerNormalization is layout-free. Used only while exporting."""

    @staticmethod
    def forward(ctx, x, groups: int, length: int, eps: float):
        return F.group_norm(x, groups, eps=eps)

    @staticmethod
    def symbolic(g, x, groups: int, length: int, eps: float):
        grouped = g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, groups, length])))  # (B, G, C/G*H*W)
        # A unit scale of `length` ones, as a ConstantOfShape (onnxruntime folds it at load) rather than stored ones.
        scale = g.op("ConstantOfShape", g.op("Constant", value_t=torch.tensor([length])), value_t=torch.ones(1))
        normed = g.op("LayerNormalization", grouped, scale, axis_i=-1, epsilon_f=eps)
        out = g.op("Reshape", normed, g.op("Shape", x))  # (B, C, H, W)
        out.setType(x.type())
        return out


class _SkipLayerNorm(torch.autograd.Function):
    """(LN(x + skip), x + skip) written as one com.microsoft SkipLayerNormalization node (onnxruntime's contrib op,
    run by both its WASM and WebGPU backends), whose fourth output is the sum. Used only while exporting."""

    @staticmethod
    def forward(ctx, x, skip, weight, bias, eps: float):
        total = x + skip
        return F.layer_norm(total, total.shape[-1:], weight, bias, eps), total

    @staticmethod
    def symbolic(g, x, skip, weight, bias, eps: float):
        out, _mean, _inv_std, total = g.op("com.microsoft::SkipLayerNormalization", x, skip, weight, bias,
                                           epsilon_f=eps, outputs=4)
        out.setType(x.type())
        total.setType(x.type())
        return out, total


def skip_layer_norm(x: torch.Tensor, skip: torch.Tensor, norm: nn.LayerNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """s = x + skip and LN(s) over the last axis, for tokens (B, ..., C). While exporting: one SkipLayerNormalization
    node instead of an Add and a LayerNormalization, on the tokens flattened to (B, N, C) as the op wants."""
    if not torch.onnx.is_in_onnx_export():
        total = x + skip
        return norm(total), total
    shape = x.shape
    flat = (shape[0], -1, shape[-1])  # (B, N, C)
    out, total = _SkipLayerNorm.apply(x.reshape(flat), skip.reshape(flat), norm.weight, norm.bias, norm.eps)
    return out.reshape(shape), total.reshape(shape)
