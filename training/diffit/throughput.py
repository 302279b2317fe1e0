"""Training throughput as a share of the chip (issue 9): the FLOPs of one training image, and the dense bf16 peak.

    achieved TFLOP/s = images/s x F_img / 1e12,   share = achieved / peak_bf16

F_img, the forward and backward FLOPs of one image, is 3x the forward's, which PyTorch's FlopCounterMode counts
on the model's explicit (exported) attention path, so it follows the network as written (matmuls, convolutions;
elementwise work is not counted, as is customary). The backward is taken as twice the forward (gradients of the
inputs and of the weights), the usual rule, rather than counted: FlopCounterMode's convolution_backward ignores
`groups` (torch 2.13), which would count a depthwise convolution's backward 64x too high. The peak is NVIDIA's
dense (no 2:4 sparsity) BF16 Tensor Core rate.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models import DiffiTConfig, build_model

# Dense BF16 Tensor Core TFLOP/s from NVIDIA's data sheets (their headline figures, with sparsity, are twice these).
# Matched against torch.cuda.get_device_name in this order: the PCIe H100 before the SXM one.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100", 989.4),
    ("A100", 312.0),
)


def peak_bf16_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU named as torch.cuda.get_device_name does, or None (a CPU, an unlisted chip)."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in device_name:
            return tflops
    return None


def forward_flops_per_image(config: DiffiTConfig, batch: int = 2) -> float:
    """FLOPs of one denoiser evaluation of one image (2 per multiply-add), counted on the CPU. The global random
    state is left as it was (a training run calls this after seeding)."""
    counter = FlopCounterMode(display=False)
    with torch.random.fork_rng(devices=[]):
        model = build_model(config).eval()
        x = torch.randn(batch, config.in_channels, config.resolution, config.resolution)
        with counter, torch.no_grad():
            model(x, torch.full((batch,), 1.0), torch.zeros(batch, dtype=torch.long))
    return counter.get_total_flops() / batch


def training_flops_per_image(config: DiffiTConfig) -> float:
    """F_img: forward + backward FLOPs of one training image, 3x the forward's."""
    return 3 * forward_flops_per_image(config)


def throughput_fields(images_per_s: float | None, flops_per_image: float, device_name: str) -> dict:
    """images/s -> {'tflops', 'peak_bf16_tflops', 'peak_share'} (the last two None where the peak is unknown)."""
    tflops = images_per_s * flops_per_image / 1e12 if images_per_s else None
    peak = peak_bf16_tflops(device_name)
    return {"tflops": tflops, "peak_bf16_tflops": peak,
            "peak_share": tflops / peak if tflops is not None and peak else None}
