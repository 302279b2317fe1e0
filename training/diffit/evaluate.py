"""Judge a model's samples with the project's classifier: class accuracy of class-conditional samples.

    python -m diffit.evaluate --checkpoint runs/diffit-fmnist/checkpoint.pt --classifier runs/classifier-fmnist.pt
    python -m diffit.evaluate --onnx public/models/diffit-fmnist.onnx --classifier runs/classifier-fmnist.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .diffusion import EDMConstants, guided_denoiser, heun_sample, karras_sigmas
from .noise import normal_tensor
from .runtime import OnnxDenoiser, TorchDenoiser, concat_for


def generate(denoise, num_classes: int, labels: np.ndarray, shape: tuple[int, int, int], steps: int, guidance: float,
             seed: int, batch: int, to_array=None, progress: bool = True) -> np.ndarray:
    """Samples for the given labels; sample i starts from noise row i of seed `seed`."""
    edm = EDMConstants()
    sigmas = karras_sigmas(steps, edm.sigma_min, edm.sigma_max, edm.rho)
    noise = normal_tensor(seed, (len(labels), *shape))
    out = []
    for start in tqdm(range(0, len(labels), batch), disable=not progress, unit="batch"):
        chunk = noise[start:start + batch]
        x0 = to_array(chunk) if to_array else chunk
        label = int(labels[start])
        if np.any(labels[start:start + batch] != label):
            raise ValueError("each batch must hold one label (sort labels and use a batch dividing the class count)")
        d = guided_denoiser(denoise, label, num_classes, guidance, concat_for(x0))
        x = heun_sample(d, x0, sigmas)
        out.append(x if isinstance(x, np.ndarray) else x.float().cpu().numpy())
    return np.concatenate(out)


def class_accuracy(classifier, samples: np.ndarray, labels: np.ndarray, device="cpu") -> dict:
    from .classifier import predict

    predicted = predict(classifier, samples, device)
    per_class = [float((predicted[labels == c] == c).mean()) for c in np.unique(labels)]
    return {"accuracy": float((predicted == labels).mean()), "per_class": per_class}


def main(argv=None):
    import torch

    from .checkpoint import CheckpointError, load_ema_model
    from .classifier import load_classifier

    p = argparse.ArgumentParser(prog="python -m diffit.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a training checkpoint or EMA snapshot (PyTorch)")
    source.add_argument("--onnx", help="an exported model (onnxruntime, CPU)")
    p.add_argument("--classifier", required=True)
    p.add_argument("--samples", type=int, default=1000, help="class-conditional samples, equal per class")
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    num_classes, shape = 10, (1, 32, 32)
    try:
        if args.checkpoint:
            model, state = load_ema_model(Path(args.checkpoint), args.device)
            num_classes = model.config.num_classes
            shape = (model.config.in_channels, model.config.resolution, model.config.resolution)
            denoise, to_array = TorchDenoiser(model, args.device), (lambda a: torch.from_numpy(a).to(args.device))
        else:
            if not Path(args.onnx).is_file():
                raise CheckpointError(f"model file {args.onnx} does not exist")
            denoise, to_array = OnnxDenoiser(args.onnx), None
        classifier, classifier_state = load_classifier(Path(args.classifier), args.device)
    except (CheckpointError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    per = args.samples // num_classes
    labels = np.repeat(np.arange(num_classes), per)
    batch = min(args.batch, per)
    while per % batch:
        batch -= 1
    results = []
    for guidance in args.guidance:
        start = time.perf_counter()
        samples = generate(denoise, num_classes, labels, shape, args.steps, guidance, args.seed, batch, to_array)
        acc = class_accuracy(classifier, samples, labels, args.device)
        row = {"guidance": guidance, "samples": len(labels), "steps": args.steps, "seed": args.seed,
               "classifier_accuracy": acc["accuracy"], "per_class_accuracy": acc["per_class"],
               "seconds": time.perf_counter() - start, "device": str(args.device),
               "classifier_test_accuracy": classifier_state.get("test_accuracy"),
               "source": args.checkpoint or args.onnx}
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "per_class_accuracy"}))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
