"""The k x k convolution of the network, plain or depthwise-separable.

The DWS variant swaps every k x k convolution (tokenizer, ResBlock convs, down- and upsampling,
head) for a depthwise k x k convolution followed by a pointwise 1 x 1 (Howard et al. 2017).
"""

from __future__ import annotations

from torch import nn


class DepthwiseSeparableConv2d(nn.Sequential):
    """y = Conv1x1(DepthwiseConv_kxk(x)): C_in*k*k + C_in*C_out weights instead of C_in*C_out*k*k."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride, kernel_size // 2, groups=in_channels),
            nn.Conv2d(in_channels, out_channels, 1),
        )


def make_conv(kind: str, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Module:
    """Build the k x k convolution of the configured kind ('dense' or 'dws')."""
    if kind == "dense":
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)
    if kind == "dws":
        return DepthwiseSeparableConv2d(in_channels, out_channels, kernel_size, stride)
    raise ValueError(f"unknown convolution kind {kind!r} (expected 'dense' or 'dws')")
