"""Every registered variant gets shape, gradient and export tests (parametrised over the registry), and
every shipped model (public/models/manifest.json) is checked against its checkpoint and today's code."""

import json

import numpy as np
import pytest
import torch

from diffit.diffusion import EDM
from diffit.models import MODEL_PRESETS, DiffiTConfig, build_model
from diffit.models.norms import GroupNorm
from diffit.models.token_mixers import (
    TMSA,
    heads_in_windows,
    relative_position_index,
    window_merge,
    window_partition,
    windows_to_tokens,
)
from diffit.models.unet import Upsample, use_subpixel_upsampling, use_upsampling_form

from conftest import REPO

TINY = [name for name in MODEL_PRESETS if name.endswith("-tiny")]
SHIPPED_ENTRIES = json.loads((REPO / "public" / "models" / "manifest.json").read_text())["models"]
SHIPPED = [entry["id"] for entry in SHIPPED_ENTRIES]  # each id is also a preset name
WEIGHTS = REPO / "training" / "weights"


def inputs(config, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, config.in_channels, config.resolution, config.resolution, generator=g)
    return x, torch.tensor([0.5, 3.0][:batch]), torch.tensor([1, config.num_classes][:batch])


@pytest.mark.parametrize("name", TINY)
def test_shapes(name):
    model = build_model(name).eval()
    x, sigma, label = inputs(model.config)
    with torch.no_grad():
        denoised, attentions = model(x, sigma, label, return_attention=True)
    assert denoised.shape == x.shape and torch.isfinite(denoised).all()
    layers = model.net.attention_layers()
    assert len(attentions) == len(layers)
    for a, layer in zip(attentions, layers, strict=True):
        assert a.shape == (2, layer["heads"], layer["windows"], layer["tokens"], layer["tokens"])
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))  # every row is a distribution


@pytest.mark.parametrize("name", TINY)
def test_fast_and_manual_attention_agree(name):
    model = build_model(name).eval()
    x, sigma, label = inputs(model.config)
    with torch.no_grad():
        fast, _ = model(x, sigma, label, return_attention=False)
        manual, _ = model(x, sigma, label, return_attention=True)
    torch.testing.assert_close(fast, manual, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", TINY)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = build_model(name)
    for p in model.parameters():  # zero-initialised tables would hide a broken path: perturb them
        p.data.add_(torch.randn_like(p) * 0.01)
    x, sigma, label = inputs(model.config)
    denoised, _ = model(x, sigma, label)
    denoised.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, f"no gradient reaches {missing}"


def test_tmsa_attention_depends_on_time():
    """Same x at two sigmas gives different attention: x_t enters q and k (Eq. 3-4)."""
    model = build_model("diffit-tiny").eval()
    x, _, _ = inputs(model.config, batch=1)
    label = torch.tensor([model.config.num_classes])
    with torch.no_grad():
        # Feed the same network input at both noise levels, so only the time token x_t differs.
        _, low = model.net(x, torch.tensor([np.log(0.1) / 4]), label, return_attention=True)
        _, high = model.net(x, torch.tensor([np.log(10.0) / 4]), label, return_attention=True)
    for a, b in zip(low, high, strict=True):
        assert not torch.allclose(a, b, atol=1e-6)


def test_trained_tmsa_attention_changes_along_the_trajectory():
    """In the shipped model, the attention rows move by a clear total-variation distance between sigmas."""
    from diffit.checkpoint import load_ema_model

    model, _ = load_ema_model(WEIGHTS / "diffit-fmnist-ema.pt")
    x, _, _ = inputs(model.config, batch=1)
    label = torch.tensor([model.config.num_classes])
    with torch.no_grad():
        _, low = model.net(x, torch.tensor([np.log(0.05) / 4]), label, return_attention=True)
        _, high = model.net(x, torch.tensor([np.log(20.0) / 4]), label, return_attention=True)
    total_variation = [0.5 * (a - b).abs().sum(-1).mean().item() for a, b in zip(low, high, strict=True)]
    assert max(total_variation) > 0.05, total_variation


def test_tmsa_time_terms_are_linear_in_x_t():
    """q = x_s W_qs + x_t W_qt: zeroing W_t removes all time dependence."""
    tmsa = TMSA(dim=16, time_dim=8, heads=2, window=4).eval()
    torch.nn.init.zeros_(tmsa.qkv_time.weight)
    x = torch.randn(1, 8, 8, 16)
    with torch.no_grad():
        out1, a1 = tmsa(x, torch.randn(1, 8), return_attention=True)
        out2, a2 = tmsa(x, torch.randn(1, 8), return_attention=True)
    torch.testing.assert_close(a1, a2)


def test_window_partition_roundtrip_and_order():
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).reshape(2, 8, 8, 3)
    windows = window_partition(x, 4)
    assert windows.shape == (8, 16, 3)
    torch.testing.assert_close(windows[1, 0], x[0, 0, 4])  # window 1 = top-right; its first token is (0, 4)
    torch.testing.assert_close(window_merge(windows, 4, 8, 8), x)


@pytest.mark.parametrize("size", [4, 8])
def test_heads_in_windows_is_window_partition_then_heads(size):
    """TMSA's one permutation orders windows, tokens and heads as window_partition and a head split do."""
    x = torch.randn(2, size, size, 12)  # P * d = 3 * 4 channels
    got = heads_in_windows(x, 4, 4)  # (B, P, nW, N, d)
    n_windows = (size // 4) ** 2
    expected = window_partition(x, 4).reshape(2, n_windows, 16, 3, 4).permute(0, 3, 1, 2, 4)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(windows_to_tokens(got, 4, size, size), x, rtol=0, atol=0)


def test_group_norm_export_form_is_group_norm():
    torch.manual_seed(0)
    norm = GroupNorm(4, 8)
    norm.weight.data.normal_()
    norm.bias.data.normal_()
    x = torch.randn(3, 8, 5, 5) * 3 + 1
    plain = norm(x)
    torch.testing.assert_close(plain, torch.nn.functional.group_norm(x, 4, norm.weight, norm.bias, norm.eps))
    norm.export_form = True
    torch.testing.assert_close(norm(x), plain, atol=1e-6, rtol=1e-6)
    assert not any(name.startswith(("zero_mean", "unit_variance")) for name in norm.state_dict())  # checkpoints as before


def test_relative_position_index_hand_case():
    index = relative_position_index(2)  # offsets (dy, dx) in {-1, 0, 1}^2 -> (dy+1)*3 + (dx+1)
    assert index[0, 0] == 4 and index[0, 3] == 0 and index[3, 0] == 8 and index[1, 2] == 2


def test_diffip_depends_on_time_beyond_preconditioning():
    """With the EDM scalings held fixed, the pooling network's output still changes with c_noise."""
    model = build_model("diffip-tiny").eval()
    x, _, _ = inputs(model.config, batch=1)
    label = torch.tensor([0])
    with torch.no_grad():
        f_low, _ = model.net(x, torch.tensor([np.log(0.1) / 4]), label)
        f_high, _ = model.net(x, torch.tensor([np.log(10.0) / 4]), label)
        f_other_class, _ = model.net(x, torch.tensor([np.log(0.1) / 4]), torch.tensor([5]))
    assert (f_low - f_high).abs().max() > 1e-3
    assert (f_low - f_other_class).abs().max() > 1e-3


def test_dws_replaces_every_3x3_convolution():
    for name in ("dws-fmnist", "diffip-fmnist"):
        model = build_model(name)
        dense = [n for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and m.groups == 1 and m.in_channels > 1]
        assert not dense, dense
    assert any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) and m.groups == 1
               for m in build_model("diffit-fmnist").modules())


@pytest.mark.parametrize("form", ["subpixel", "transposed"])
@pytest.mark.parametrize("conv", ["dense", "dws"])
@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_every_upsampling_form_is_upsample_then_convolve(form, conv, size):
    """The sub-pixel (training's --subpixel) and transposed (exported) forms of Upsample give the trained function,
    values and gradients, at every size, the borders included (a wrong padding shows at the edges first)."""
    torch.manual_seed(size)
    up = Upsample(6, 4, conv)
    for p in up.parameters():
        p.data.normal_()
    x = torch.randn(3, 6, size, size, requires_grad=True)
    plain = up(x)
    grad_plain = torch.autograd.grad(plain.square().sum(), [x, *up.parameters()])
    use_upsampling_form(up, form)
    other = up(x)
    grad_other = torch.autograd.grad(other.square().sum(), [x, *up.parameters()])
    assert other.shape == plain.shape == (3, 4, 2 * size, 2 * size)
    torch.testing.assert_close(other, plain, atol=1e-5, rtol=1e-5)
    for a, b in zip(grad_other, grad_plain, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    use_subpixel_upsampling(up, False)
    assert up.form == "nearest"
    with pytest.raises(ValueError, match="unknown upsampling form"):
        use_upsampling_form(up, "bilinear")


@pytest.mark.parametrize("name", TINY)
def test_export_parity(name, tmp_path):
    from diffit.export import FLOAT16_MIN_ELEMENTS, check_parity, export_onnx

    torch.manual_seed(0)
    model = build_model(name).eval()
    outputs = export_onnx(model, tmp_path / "m.onnx")
    assert outputs[0] == "denoised" and len(outputs) == 1 + len(model.net.attention_layers())
    worst = check_parity(model, tmp_path / "m.onnx")  # against the network as trained (upsample, then convolve)
    assert worst["denoised"] <= 1e-4 and worst["attention"] <= 1e-4
    # the export leaves the network as it was
    assert all(m.form == "nearest" for m in model.modules() if isinstance(m, Upsample))
    assert not any(getattr(m, "export_form", False) or getattr(m, "fold_scale", False) for m in model.modules())
    import onnx

    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    ops = [node.op_type for node in graph.node]
    # the export form is what ships: one transposed convolution per upsampling, GroupNorm as one LayerNormalization
    # over each group and one BatchNormalization for its affine, each block's residual sum and LayerNorm as one
    # SkipLayerNormalization
    config = model.config
    blocks, group_norms = 2 * len(config.channels), 2 * len(config.channels) + 1  # encoder + decoder; + the head's
    assert ops.count("ConvTranspose") == len(config.channels) - 1 and "Resize" not in ops and "DepthToSpace" not in ops
    assert ops.count("BatchNormalization") == group_norms and "InstanceNormalization" not in ops
    assert ops.count("SkipLayerNormalization") == blocks and ops.count("LayerNormalization") == blocks + group_norms
    for node in graph.node:
        if node.op_type == "SkipLayerNormalization":  # mean and inverse std: not computed
            assert list(node.output[1:3]) == ["", ""] and node.output[3]
        if node.op_type == "Constant":  # no large tensor escapes the float16 storage as a Constant node
            assert int(np.prod(node.attribute[0].t.dims)) < FLOAT16_MIN_ELEMENTS, node.output[0]


def test_every_shipped_model_is_tested():
    assert len(SHIPPED) == 9 and set(SHIPPED) <= set(MODEL_PRESETS)


@pytest.mark.parametrize("entry", SHIPPED_ENTRIES, ids=SHIPPED)
def test_shipped_model_matches_its_checkpoint_and_preset(entry):
    """The ONNX file the app downloads, the EMA checkpoint it came from and today's model code give the same
    denoised images and attention on one small batch (two noise levels, a class and the null class), within what
    the file's weight storage allows (float16 rounds each stored weight by up to 2^-11 of itself)."""
    import onnxruntime as ort

    from diffit.checkpoint import load_ema_model
    from diffit.export import WEIGHT_STORAGE

    model, _ = load_ema_model(WEIGHTS / f"{entry['id']}-ema.pt")
    assert model.config == MODEL_PRESETS[entry["id"]] == DiffiTConfig.from_dict(entry["config"])
    assert entry["edm"] == {key: getattr(EDM, key) for key in ("sigma_min", "sigma_max", "rho", "sigma_data")}
    x, sigma, label = inputs(model.config)
    with torch.no_grad():
        denoised, attentions = model(x, sigma, label, return_attention=True)
    session = ort.InferenceSession(str(REPO / "public" / "models" / entry["file"]), providers=["CPUExecutionProvider"])
    names = ["denoised"] + [layer["output"] for layer in entry["attention"]]
    outputs = session.run(names, {"x": x.numpy(), "sigma": sigma.numpy(), "class_label": label.numpy()})
    tolerance = WEIGHT_STORAGE[entry.get("weight_storage", "float32")]
    np.testing.assert_allclose(outputs[0], denoised.numpy(), atol=tolerance)
    assert denoised.shape == x.shape and len(outputs) - 1 == len(attentions) == len(model.net.attention_layers())
    for onnx_attention, torch_attention, layer in zip(outputs[1:], attentions, entry["attention"], strict=True):
        assert onnx_attention.shape == (2, layer["heads"], layer["windows"], layer["tokens"], layer["tokens"])
        np.testing.assert_allclose(onnx_attention.sum(-1), 1.0, atol=1e-5)  # every row is a distribution
        np.testing.assert_allclose(onnx_attention, torch_attention.numpy(), atol=tolerance)
