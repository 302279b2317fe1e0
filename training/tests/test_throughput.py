"""diffit.throughput: F_img from PyTorch's FLOP counter agrees with the ONNX graph's MAC count, and the chip share."""

import warnings

import numpy as np
import pytest
import torch

from diffit.macs import count_macs
from diffit.models import MODEL_PRESETS, build_model
from diffit.throughput import forward_flops_per_image, peak_bf16_tflops, throughput_fields, training_flops_per_image


class DenoisedOnly(torch.nn.Module):
    def __init__(self, denoiser):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x, sigma, label):
        return self.denoiser(x, sigma, label)[0]


@pytest.mark.parametrize("name", ["diffit-tiny", "dws-tiny", "diffip-tiny"])
def test_forward_flops_are_twice_the_macs_of_the_same_graph_in_onnx(name, tmp_path):
    """Two independent counts of the network as trained (upsample, then convolve): PyTorch's FlopCounterMode and
    diffit.macs on an ONNX export of the same module. Depthwise convolutions (dws, diffip) count once per channel."""
    config = MODEL_PRESETS[name]
    model = DenoisedOnly(build_model(config).eval())
    x = torch.randn(1, config.in_channels, config.resolution, config.resolution)
    sigma, label = torch.ones(1), torch.zeros(1, dtype=torch.long)
    path = tmp_path / "plain.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x, sigma, label), str(path), input_names=["x", "sigma", "class_label"],
                          output_names=["denoised"], opset_version=17, dynamo=False)
    macs = count_macs(path, {"x": x.numpy(), "sigma": sigma.numpy(), "class_label": label.numpy().astype(np.int64)})
    assert forward_flops_per_image(config) == pytest.approx(2 * macs["total"], rel=1e-9)
    assert training_flops_per_image(config) == pytest.approx(6 * macs["total"], rel=1e-9)


def test_peak_of_each_listed_chip_and_none_elsewhere():
    assert peak_bf16_tflops("NVIDIA H200") == 989.4
    assert peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_bf16_tflops("x86_64 CPU, 2 threads") is None


def test_share_of_the_chip():
    use = throughput_fields(10_000.0, 3e9, "NVIDIA H200")
    assert use["tflops"] == pytest.approx(30.0) and use["peak_share"] == pytest.approx(30.0 / 989.4)
    assert throughput_fields(10_000.0, 3e9, "CPU") == {"tflops": pytest.approx(30.0), "peak_bf16_tflops": None,
                                                        "peak_share": None}
    assert throughput_fields(None, 3e9, "NVIDIA H200")["tflops"] is None


def test_counting_leaves_the_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    forward_flops_per_image(MODEL_PRESETS["diffit-tiny"])
    assert torch.equal(torch.rand(3), expected)
