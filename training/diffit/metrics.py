"""Distribution metrics of samples in a feature space: Fréchet distance and k-NN precision/recall.

- Fréchet distance between Gaussians fitted to two feature sets (Dowson & Landau 1982; as FID, Heusel et al.
  2017): d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).
- Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls around
  its points with radius the distance to the k-th nearest neighbour in the same set.
- Inception-v3 pool features from a user-supplied network file, for FID comparable with papers.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .images import to_uint8

INCEPTION_DIM = 2048


# ---------------------------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------------------------

def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need an (N >= 2, D) feature array, got shape {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix, by eigendecomposition."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2}).

    S1 S2 is not symmetric, but it has the same eigenvalues as the PSD matrix S1^{1/2} S2 S1^{1/2}, so
    Tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(S1^{1/2} S2 S1^{1/2})): only symmetric eigendecompositions, no complex
    parts or singular-matrix fixes needed.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: {mu1.shape}, {s1.shape} vs {mu2.shape}, {s2.shape}")
    r1 = _sqrt_psd(s1)
    middle = r1 @ s2 @ r1  # (D, D), symmetric PSD
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt, 0.0))


def frechet_distance_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


# ---------------------------------------------------------------------------------------------------------------
# k-NN precision and recall
# ---------------------------------------------------------------------------------------------------------------

def knn_radii(features: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set, itself excluded: (N,)."""
    if len(features) <= k:
        raise ValueError(f"k = {k} needs more than {k} points, got {len(features)}")
    radii = []
    for start in range(0, len(features), chunk):
        d = torch.cdist(features[start:start + chunk], features)  # (chunk, N), includes the 0 to itself
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def manifold_coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> float:
    """Fraction of `points` inside at least one ball B(centres_j, radii_j)."""
    inside = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start:start + chunk], centres)  # (chunk, M)
        inside.append((d <= radii[None, :]).any(dim=1))
    return float(torch.cat(inside).float().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    """precision = share of fake samples in the real manifold; recall = share of real samples in the fake one."""
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    return {"precision": manifold_coverage(f, r, knn_radii(r, k)),
            "recall": manifold_coverage(r, f, knn_radii(f, k)), "k": k}


# ---------------------------------------------------------------------------------------------------------------
# Inception-v3 features from a user-supplied file
# ---------------------------------------------------------------------------------------------------------------

class InceptionFeatures:
    """2048-d pool features of Inception-v3 loaded from `path`, for the FID of Heusel et al. (2017).

    Accepted files:
    - TorchScript whose forward takes `return_features` (the NVlabs / clean-fid port of the TF graph
      `inception-2015-12-05.pt`): fed uint8 RGB at the native size; the network resizes to 299 itself.
    - any other TorchScript or pickled torch module mapping float RGB (B, 3, 299, 299) in [-1, 1] to (B, 2048)
      (or (B, 2048, 1, 1)): images are resized bilinearly to 299x299.
    - a state dict of torchvision's `inception_v3` (needs torchvision), used with fc removed, same input.
    Grey images are replicated to RGB; every image is first quantised to the 8-bit pixels the app shows.
    """

    def __init__(self, path: str | Path, device="cpu"):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights {path} do not exist")
        self.device = device
        try:
            net = torch.jit.load(str(path), map_location=device)
            arguments = [a.name for a in net.forward.schema.arguments]
        except RuntimeError:
            net, arguments = self._load_eager(path, device), None
        if arguments is None:
            arguments = list(inspect.signature(net.forward).parameters)
        self.net = net.eval()
        self.takes_uint8 = "return_features" in arguments

    @staticmethod
    def _load_eager(path: Path, device) -> torch.nn.Module:
        try:
            obj = torch.load(path, map_location=device, weights_only=False)
        except Exception as error:  # torch raises many kinds for a file it cannot read
            raise ValueError(f"{path} is neither TorchScript nor a torch file: {error}") from error
        if isinstance(obj, torch.nn.Module):
            return obj.to(device)
        if isinstance(obj, dict):
            state = obj.get("state_dict", obj)
            try:
                from torchvision.models import inception_v3
            except ImportError as error:
                raise ValueError(f"{path} is a state dict; loading it needs torchvision's inception_v3 (pip install "
                                 "torchvision), or pass a TorchScript file instead") from error
            net = inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=False)
            net.load_state_dict({k: v for k, v in state.items() if not k.startswith("AuxLogits.")})
            net.fc = torch.nn.Identity()  # the 2048-d average-pool output
            return net.to(device)
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a network or a state dict")

    @torch.no_grad()
    def __call__(self, images: np.ndarray, batch: int = 200) -> np.ndarray:
        """(N, C, H, W) images in [-1, 1] -> (N, 2048) float32 features."""
        out = []
        for start in range(0, len(images), batch):
            pixels = torch.from_numpy(to_uint8(images[start:start + batch])).to(self.device)  # (B, C, H, W) uint8
            if pixels.shape[1] == 1:
                pixels = pixels.expand(-1, 3, -1, -1)  # grey -> RGB
            if self.takes_uint8:
                features = self.net(pixels.contiguous(), return_features=True)
            else:
                x = pixels.float() / 127.5 - 1.0
                x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)  # (B, 3, 299, 299)
                features = self.net(x)
            features = features.reshape(len(pixels), -1)  # (B, 2048)
            if features.shape[1] != INCEPTION_DIM:
                raise ValueError(f"the Inception network returned {features.shape[1]}-d features, not {INCEPTION_DIM}")
            out.append(features.float().cpu().numpy())
        return np.concatenate(out)
