"""A small CNN classifier of 32x32 images, used to judge samples (class accuracy; FD and precision/recall in its
penultimate features, see diffit.evaluate).

    python -m diffit.classifier --data /usr/share/datasets/fashion-mnist --out runs/classifier-fmnist.pt
    python -m diffit.classifier --dataset cifar10 --out runs/classifier-cifar10.pt
    python -m diffit.classifier --dataset emoji --out runs/classifier-emoji.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .checkpoint import CheckpointError, save_atomic
from .data import DATASETS, DataError, dataset_names, load_dataset


class SmallCNN(nn.Module):
    """Three conv stages (32, 64, 128 channels) with BatchNorm and max-pooling, then a 256-d feature layer."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, feature_dim: int = 256):
        super().__init__()

        def stage(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.body = nn.Sequential(stage(in_channels, 32), stage(32, 64), stage(64, 128))  # (B, 128, 4, 4)
        self.features_layer = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 16, feature_dim), nn.ReLU())
        self.logits_layer = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_layer(self.body(x))  # (B, feature_dim), the penultimate layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_layer(self.features(x))  # (B, num_classes)


def load_classifier(path: Path, device="cpu") -> tuple[SmallCNN, dict]:
    """A classifier written by this module's CLI, in eval mode, and its checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"classifier {path} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"classifier {path} is unreadable: {error}") from error
    if not isinstance(state, dict) or "arch" not in state or "model" not in state:
        raise CheckpointError(f"{path} is not a diffit.classifier checkpoint")
    model = SmallCNN(**state["arch"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state


@torch.no_grad()
def predict(model: SmallCNN, images: np.ndarray | torch.Tensor, device="cpu", batch: int = 500) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch):
        x = torch.as_tensor(images[i:i + batch], dtype=torch.float32, device=device)
        out.append(model(x).argmax(1).cpu().numpy())
    return np.concatenate(out)


@torch.no_grad()
def embed(model: SmallCNN, images: np.ndarray | torch.Tensor, device="cpu", batch: int = 500) -> np.ndarray:
    """Penultimate features `SmallCNN.features` of (N, C, H, W) images: (N, feature_dim) float32."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.as_tensor(images[i:i + batch], dtype=torch.float32, device=device)
        out.append(model.features(x).float().cpu().numpy())
    return np.concatenate(out)


def augment(x: torch.Tensor, generator: torch.Generator, flip: bool = True, fill: float | None = -1.0) -> torch.Tensor:
    """Random shifts of up to 2 pixels (padding with `fill`, or the edge pixels if None) and horizontal flips."""
    b = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2), value=fill) if fill is not None else F.pad(x, (2, 2, 2, 2), mode="replicate")
    dy, dx = torch.randint(0, 5, (2,), generator=generator).tolist()
    x = padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    if not flip:
        return x
    mirror = torch.rand(b, generator=generator) < 0.5
    return torch.where(mirror[:, None, None, None], x.flip(3), x)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m diffit.classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=dataset_names(), default="fashion-mnist")
    p.add_argument("--data", default=None, help="folder with the data files (default: the data set's usual place)")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=None, help="default: 8 fashion-mnist, 30 cifar10, 60 emoji")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--max-train-images", type=int, default=0)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for training (CUDA, or CPUs with bf16 instructions)")
    args = p.parse_args(argv)
    spec = DATASETS[args.dataset]
    args.epochs = args.epochs or spec.classifier_epochs
    try:
        x_train, y_train, class_names = load_dataset(args.dataset, args.data, "train")
        x_test, y_test, _ = load_dataset(args.dataset, args.data, "test")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if args.max_train_images:
        x_train, y_train = x_train[: args.max_train_images], y_train[: args.max_train_images]
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    device = torch.device(args.device)
    arch = {"in_channels": int(x_train.shape[1]), "num_classes": len(class_names), "feature_dim": 256}
    model = SmallCNN(**arch).to(device)
    steps = args.epochs * (len(x_train) // args.batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps)
    data, labels = torch.from_numpy(x_train), torch.from_numpy(y_train)
    start = time.perf_counter()
    bar = tqdm(total=steps, unit="step", mininterval=2.0)
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(data), generator=generator)
        for i in range(len(data) // args.batch):
            index = order[i * args.batch:(i + 1) * args.batch]
            x = augment(data[index], generator, spec.classifier_xflip, spec.fill).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                loss = F.cross_entropy(model(x), labels[index].to(device), label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    predicted = predict(model, x_test, device)
    accuracy = float((predicted == y_test).mean())
    per_class = [float((predicted[y_test == c] == c).mean()) for c in np.unique(y_test)]
    wall = time.perf_counter() - start
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    hardware += ", bf16 autocast" if args.bf16 else ""
    save_atomic({"arch": arch, "model": {k: v.cpu() for k, v in model.state_dict().items()},
                 "test_accuracy": accuracy, "test_mean_class_accuracy": float(np.mean(per_class)),
                 "test_split": spec.test_split, "test_images": len(y_test), "train_images": len(y_train),
                 "dataset": args.dataset, "classes": class_names, "epochs": args.epochs, "seed": args.seed,
                 "wall_time_s": wall, "hardware": hardware}, Path(args.out))
    print(f"test accuracy {accuracy:.4f} (mean over classes {np.mean(per_class):.4f}) on {len(y_test)} images; "
          f"{wall:.0f} s on {hardware}")


if __name__ == "__main__":
    main()
