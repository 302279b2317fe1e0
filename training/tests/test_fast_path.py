"""The fast training path (SDPA attention, fused Adam, torch.compile) agrees with the plain path on CPU."""

import dataclasses
import subprocess
import sys

import torch
from test_checkpoint import options, tiny_data

from diffit.checkpoint import load_checkpoint
from diffit.diffusion import EDMLoss
from diffit.models import build_model
from diffit.models.token_mixers import TMSA, use_fused_attention
from diffit.training_loop import training_loop

from conftest import REPO


def forward_and_grads(model, x, sigma, labels):
    model.zero_grad(set_to_none=True)
    out, _ = model(x, sigma, labels)
    out.square().mean().backward()
    return out.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def test_sdpa_and_explicit_softmax_agree_forward_and_backward():
    torch.manual_seed(0)
    model = build_model("diffit-tiny")
    with torch.no_grad():  # a bias large enough to matter
        for module in model.modules():
            if isinstance(module, TMSA):
                module.bias_table.normal_(0, 1.0)
    x, sigma, labels = torch.randn(3, 1, 32, 32), torch.tensor([0.1, 1.0, 20.0]), torch.tensor([0, 4, 10])
    explicit = forward_and_grads(use_fused_attention(model, False), x, sigma, labels)
    fused = forward_and_grads(use_fused_attention(model, True), x, sigma, labels)
    torch.testing.assert_close(fused[0], explicit[0], rtol=1e-5, atol=1e-5)
    for name, grad in explicit[1].items():
        torch.testing.assert_close(fused[1][name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # Attention weights (what the export and the app read) always come from the explicit softmax.
    _, attention = model(x, sigma, labels, return_attention=True)
    assert len(attention) == 4 and torch.allclose(attention[0].sum(-1), torch.ones(()))


def test_compiled_training_step_agrees_with_eager():
    """torch.compile captures forward and backward of the EDM loss (aot_eager: the graph, without C++ codegen)."""
    torch.manual_seed(0)
    model = use_fused_attention(build_model("diffit-tiny"), True)
    compiled = torch.compile(model, backend="aot_eager")
    loss_fn = EDMLoss(num_classes=10, label_dropout=0.1)
    x, labels = torch.randn(4, 1, 32, 32), torch.tensor([1, 2, 3, 4])
    results = []
    for net in (model, compiled):
        model.zero_grad(set_to_none=True)
        loss = loss_fn(net, x, labels, torch.Generator().manual_seed(5))
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_fast_training_matches_plain_training(tmp_path, tiny_fmnist):
    """Fused Adam + SDPA + sub-pixel upsampling through training_loop: the same losses and weights as the plain
    path, within tolerance."""
    data = tiny_data(tiny_fmnist)
    runs = {}
    for name, fast in (("plain", {}), ("fast", {"fused_adam": True, "sdpa": True, "subpixel": True})):
        o = dataclasses.replace(options(tmp_path / name, model="diffit-tiny", images=64, checkpoint_every=16), **fast)
        summary = training_loop(o, data)
        assert summary["fused_adam"] == bool(fast)
        runs[name] = load_checkpoint(tmp_path / name / "checkpoint.pt")
    plain, fast = runs["plain"], runs["fast"]
    assert len(plain["history"]) == len(fast["history"]) == 4  # one loss per step (a checkpoint every step)
    for a, b in zip(plain["history"], fast["history"], strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-4 * a["loss"]
    # Adam moves each weight by at most about lr per step whatever the gradient's size, so rounding differences in
    # near-zero gradients show up at that scale: the weights agree within 1% of the largest possible movement.
    movement = o.lr * o.images / o.batch
    for key, value in plain["model"].items():
        torch.testing.assert_close(fast["model"][key], value, rtol=0, atol=0.01 * movement, msg=key)
    assert fast["args"]["fused_adam"] and fast["args"]["sdpa"] and not plain["args"]["sdpa"]
    assert fast["args"]["subpixel"] and not plain["args"]["subpixel"]


def test_compile_mode_reaches_torch_compile(tmp_path, tiny_fmnist, monkeypatch):
    """--compile-mode (reduce-overhead: CUDA graphs on a GPU) is what torch.compile gets, and the summary names it; without
    --compile it is refused before anything is written."""
    modes = []

    def fake_compile(module, mode="default", **kwargs):  # records the mode; the step runs eagerly
        modes.append(mode)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    o = dataclasses.replace(options(tmp_path / "run", model="dws-tiny", images=32, checkpoint_every=16), compile=True,
                            compile_mode="reduce-overhead")
    summary = training_loop(o, tiny_data(tiny_fmnist))
    assert modes == ["reduce-overhead"] and summary["compile_mode"] == "reduce-overhead"
    refused = subprocess.run([sys.executable, "-m", "diffit.train", "--model", "dws-tiny", "--data", str(tiny_fmnist),
                              "--out", str(tmp_path / "r"), "--compile-mode", "reduce-overhead"],
                             capture_output=True, text=True, cwd=REPO / "training")
    assert refused.returncode == 2 and "--compile-mode needs --compile" in refused.stderr
    assert not (tmp_path / "r").exists()
