"""The two ways to evaluate D(x; sigma, class) for sampling: onnxruntime on an exported file, or torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxDenoiser:
    """D from an exported ONNX file; fetches only `denoised` unless attention is asked for."""

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray, sigma: float, labels: list[int]) -> np.ndarray:
        feeds = {"x": np.ascontiguousarray(x, dtype=np.float32),
                 "sigma": np.full((x.shape[0],), sigma, dtype=np.float32),
                 "class_label": np.asarray(labels, dtype=np.int64)}
        return self.session.run(["denoised"], feeds)[0]


class TorchDenoiser:
    """D from a torch module, on NumPy in and out or on torch tensors in and out."""

    def __init__(self, model, device="cpu"):
        import torch

        self.torch = torch
        self.model = model.to(device).eval()
        self.device = device

    def __call__(self, x, sigma: float, labels: list[int]):
        torch = self.torch
        as_numpy = isinstance(x, np.ndarray)
        xt = torch.from_numpy(x).to(self.device) if as_numpy else x
        with torch.no_grad():
            s = torch.full((xt.shape[0],), sigma, device=self.device)
            out = self.model(xt, s, torch.tensor(labels, device=self.device))[0]
        return out.cpu().numpy() if as_numpy else out


def concat_for(x):
    """The concatenation function matching an array type (NumPy or torch)."""
    if isinstance(x, np.ndarray):
        return lambda parts: np.concatenate(parts, axis=0)
    import torch

    return lambda parts: torch.cat(parts, dim=0)
