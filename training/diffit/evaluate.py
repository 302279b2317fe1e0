"""Judge a model's samples: class accuracy, FD_clf, k-NN precision/recall and (given the weights) Inception FID.

    python -m diffit.evaluate --checkpoint runs/diffit-fmnist/checkpoint.pt --classifier runs/classifier-fmnist.pt
    python -m diffit.evaluate --onnx public/models/diffit-fmnist.onnx --classifier runs/classifier-fmnist.pt
    python -m diffit.evaluate --checkpoint runs/diffit-cifar10/checkpoint.pt --classifier runs/classifier-cifar10.pt \\
        --dataset cifar10 --fd-samples 10000 --inception-weights inception-2015-12-05.pt --json eval.json

Per guidance scale, two sample sets are drawn with the deterministic Heun sampler:
- `--samples` class-conditional samples, equal per class (noise seed --seed): classifier accuracy, per class and
  mean over classes.
- `--fd-samples` samples whose labels follow the training split's class frequencies (noise seed --seed + 1),
  compared with as many training images (a seeded subset): FD_clf, the Fréchet distance in the classifier's
  penultimate features; k-NN precision and recall in the same features; Inception FID with --inception-weights.
The real-vs-real floor compares the test split with the training subset at the test split's size (capped by
--fd-samples), and the generated set is measured again at that size (`*_at_floor_samples`): Fréchet distances are
biased upwards at small sample counts, so only numbers at equal counts compare. Where the training split has room for
a second, disjoint subset of --fd-samples images (CIFAR-10), `fd_clf_floor_train` is the floor at the full count. Samples are quantised to the
8-bit pixels the app shows before they are judged.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .data import DATASETS, DataError, dataset_names, load_dataset
from .diffusion import EVERY_SIGMA, guided_denoiser, heun_sample, karras_sigmas
from .images import to_uint8
from .metrics import InceptionFeatures, frechet_distance_features, precision_recall
from .noise import normal_tensor
from .outputs import OutputError, check_output, write_atomic
from .runtime import OnnxDenoiser, TorchDenoiser, concat_for


def generate(denoise, num_classes: int, labels: np.ndarray, shape: tuple[int, int, int], steps: int, guidance: float,
             seed: int, batch: int, to_array=None, progress: bool = True) -> np.ndarray:
    """Samples for the given labels; sample i starts from noise row i of seed `seed`.

    Batches hold at most `batch` samples and never mix labels (guidance runs one label per forward).
    """
    sigmas = karras_sigmas(steps)  # EDM's sigma_min, sigma_max, rho
    noise = normal_tensor(seed, (len(labels), *shape))  # (N, C, H, W)
    labels = np.asarray(labels)
    starts = [0]
    while starts[-1] < len(labels):  # cut at label changes and every `batch` samples
        start = starts[-1]
        end = min(start + batch, len(labels))
        change = np.flatnonzero(labels[start:end] != labels[start])
        starts.append(start + int(change[0]) if len(change) else end)
    out = []
    for start, end in tqdm(list(itertools.pairwise(starts)), disable=not progress, unit="batch", desc="sampling"):
        chunk = noise[start:end]
        x0 = to_array(chunk) if to_array else chunk
        # The fixed protocol guides every evaluation (not the app's interval), so that figures stay
        # comparable across sessions; compare_samplers.py measures the interval against it.
        d = guided_denoiser(denoise, int(labels[start]), num_classes, guidance, concat_for(x0), EVERY_SIGMA)
        x = heun_sample(d, x0, sigmas)
        out.append(x if isinstance(x, np.ndarray) else x.float().cpu().numpy())
    return np.concatenate(out)


def quantise(x: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] rounded to the 8-bit pixels of docs/contracts.md, back in [-1, 1]."""
    return to_uint8(x).astype(np.float32) / 127.5 - 1.0


def class_accuracy(classifier, samples: np.ndarray, labels: np.ndarray, device="cpu") -> dict:
    from .classifier import predict

    predicted = predict(classifier, samples, device)
    per_class = [float((predicted[labels == c] == c).mean()) for c in np.unique(labels)]
    return {"accuracy": float((predicted == labels).mean()), "per_class": per_class,
            "mean_class": float(np.mean(per_class))}


def proportional_labels(train_labels: np.ndarray, n: int, num_classes: int) -> np.ndarray:
    """n sorted labels with the class frequencies of `train_labels` (largest-remainder rounding)."""
    share = np.bincount(train_labels, minlength=num_classes) / len(train_labels) * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share)[: n - counts.sum()]] += 1  # largest remainders first
    return np.repeat(np.arange(num_classes), counts)


class RealFeatures:
    """Classifier (and Inception) features of the real images that generated sets are compared with."""

    def __init__(self, classifier, inception, dataset: str, data: str | None, fd_samples: int, seed: int, device):
        from .classifier import embed

        train, self.train_labels, self.classes = load_dataset(dataset, data, "train")
        test, _, _ = load_dataset(dataset, data, "test")
        rng = np.random.default_rng(seed)
        self.n = min(fd_samples, len(train))
        self.n_floor = min(fd_samples, len(test))
        drawn = rng.choice(len(train), self.n, replace=False)
        reference = train[drawn]  # seeded subset, class mix of train
        test = test[rng.choice(len(test), self.n_floor, replace=False)]
        # A second training subset, disjoint from the reference, where the split has room for it: the floor at the
        # full sample count when the test split is smaller (CIFAR-10 here ships 1,000 test images).
        rest = np.setdiff1d(np.arange(len(train)), drawn)
        self.train_floor = train[rng.choice(rest, self.n, replace=False)] if len(rest) >= self.n else None
        self.reference_description = f"{dataset} train split ({len(train):,} images; {self.n:,} drawn)"
        self.test_description = f"{dataset} {DATASETS[dataset].test_split}: {self.n_floor:,} images"
        self.clf = embed(classifier, reference, device)  # (n, 256)
        self.clf_test = embed(classifier, test, device)  # (n_floor, 256)
        self.clf_train_floor = embed(classifier, self.train_floor, device) if self.train_floor is not None else None
        self.inception = self.inception_test = None
        if inception is not None:
            self.inception = inception(reference)  # (n, 2048)
            self.inception_test = inception(test)  # (n_floor, 2048)

    def floor(self) -> dict:
        """Real-vs-real: test split against the first n_floor training-reference images."""
        row = {"fd_clf_floor": frechet_distance_features(self.clf_test, self.clf[: self.n_floor]),
               "fd_clf_floor_train": None, "fd_clf_floor_train_samples": None}
        if self.clf_train_floor is not None:  # train vs disjoint train at the full count
            row["fd_clf_floor_train"] = frechet_distance_features(self.clf_train_floor, self.clf)
            row["fd_clf_floor_train_samples"] = self.n
        if self.inception is not None:
            row["fid_inception_floor"] = frechet_distance_features(self.inception_test, self.inception[: self.n_floor])
        return row


def distribution_metrics(real: RealFeatures, classifier, inception, samples: np.ndarray, k: int, seed: int,
                         device) -> dict:
    """FD_clf, precision/recall and Inception FID of generated samples against the real reference."""
    from .classifier import embed

    fake = embed(classifier, samples, device)  # (n_fake, 256)
    # The same number of generated samples as the floor uses, drawn across classes (samples are sorted by label).
    at_floor = np.random.default_rng(seed).choice(len(samples), min(real.n_floor, len(samples)), replace=False)
    pr = precision_recall(real.clf, fake, k)
    row = {"fd_clf": frechet_distance_features(fake, real.clf),
           "fd_clf_at_floor_samples": frechet_distance_features(fake[at_floor], real.clf[: len(at_floor)]),
           "precision": pr["precision"], "recall": pr["recall"]}
    if inception is not None:
        fake_inception = inception(samples)  # (n_fake, 2048)
        row["fid_inception"] = frechet_distance_features(fake_inception, real.inception)
        row["fid_inception_at_floor_samples"] = frechet_distance_features(fake_inception[at_floor],
                                                                          real.inception[: len(at_floor)])
    return row


def print_table(rows: list[dict]) -> None:
    """One line per guidance scale; '-' where a metric was not computed."""
    columns = [("guidance", "guidance", "{:g}"), ("acc", "classifier_accuracy", "{:.3f}"),
               ("mean/class", "mean_class_accuracy", "{:.3f}"), ("FD_clf", "fd_clf", "{:.3f}"),
               ("FD_clf@floor_n", "fd_clf_at_floor_samples", "{:.3f}"), ("floor", "fd_clf_floor", "{:.3f}"),
               ("floor@n", "fd_clf_floor_train", "{:.3f}"),
               ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"),
               ("FID", "fid_inception", "{:.2f}"), ("FID floor", "fid_inception_floor", "{:.2f}")]
    cells = [[name for name, _, _ in columns]]
    cells += [[fmt.format(row[key]) if row.get(key) is not None else "-" for _, key, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for i, line in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * width for width in widths))


class EvaluationError(Exception):
    """Bad input or an unusable file: reported as one line, exit status 2."""


def parse_args(argv=None) -> argparse.Namespace:
    import torch

    p = argparse.ArgumentParser(prog="python -m diffit.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a training checkpoint or EMA snapshot (PyTorch)")
    source.add_argument("--onnx", help="an exported model (onnxruntime, CPU)")
    p.add_argument("--classifier", required=True, help="a diffit.classifier checkpoint trained on the same data set")
    p.add_argument("--dataset", choices=dataset_names(), default=None,
                   help="default: the data set recorded in the checkpoint, else in the classifier")
    p.add_argument("--data", default=None, help="folder with the data files (default: the data set's usual place)")
    p.add_argument("--samples", type=int, default=1000, help="class-conditional samples for accuracy, equal per class")
    p.add_argument("--fd-samples", type=int, default=5000,
                   help="samples (and real images, where the data has them) for FD_clf, precision/recall and FID; "
                        "0 skips these")
    p.add_argument("--k", type=int, default=3, help="neighbours for k-NN precision and recall")
    p.add_argument("--inception-weights", help="Inception-v3 network file (TorchScript, module or state dict) for FID")
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=0,
                   help="samples per forward (0: 10 on CPU, where larger batches run slower per image; 250 for a checkpoint on CUDA)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and onnxruntime (0: their default)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if not args.batch:  # measured on the dev CPU, diffip-fmnist, onnxruntime, 1 thread: 8.5 ms per image at
        on_gpu = args.checkpoint and str(args.device).startswith("cuda")  # ONNX files run on onnxruntime's CPU
        args.batch = 250 if on_gpu else 10  # batch 1-8, 9.5 at 25, 11.4 at 100
    if args.fd_samples and args.fd_samples <= max(args.k, 2):
        raise EvaluationError(f"--fd-samples {args.fd_samples} is too few for k = {args.k} nearest neighbours (or 0 to skip)")
    if args.json:
        check_output("--json", Path(args.json))  # before hours of sampling
    return args


class Subject:
    """The model under evaluation and its classifier: D for sampling, image shape, classes and data set."""

    def __init__(self, args: argparse.Namespace):
        import torch

        from .checkpoint import CheckpointError, load_ema_model
        from .classifier import load_classifier

        try:
            self.classifier, self.classifier_state = load_classifier(Path(args.classifier), args.device)
            arch = self.classifier_state["arch"]
            self.num_classes, self.shape, dataset = arch["num_classes"], (arch["in_channels"], 32, 32), None
            if args.checkpoint:
                model, state = load_ema_model(Path(args.checkpoint), args.device)
                self.num_classes = model.config.num_classes
                self.shape = (model.config.in_channels, model.config.resolution, model.config.resolution)
                dataset = state.get("dataset")
                self.denoise, self.to_array = TorchDenoiser(model, args.device), (lambda a: torch.from_numpy(a).to(args.device))
            else:
                if not Path(args.onnx).is_file():
                    raise CheckpointError(f"model file {args.onnx} does not exist")
                self.denoise, self.to_array = OnnxDenoiser(args.onnx, args.threads), None
                declared = self.denoise.session.get_inputs()[0].shape[1:]  # [C, H, W], ints where static
                if all(isinstance(d, int) for d in declared):
                    self.shape = tuple(declared)
        except (CheckpointError, OSError, KeyError) as error:
            raise EvaluationError(str(error)) from None
        self.dataset = args.dataset or dataset or self.classifier_state.get("dataset", "fashion-mnist")
        self.check_classifier(arch)

    def check_classifier(self, arch: dict) -> None:
        """The classifier must judge images of the model's kind: same channels, classes and data set."""
        if (self.num_classes, self.shape[0]) != (arch["num_classes"], arch["in_channels"]):
            raise EvaluationError(
                f"the classifier sees {arch['in_channels']}-channel images of {arch['num_classes']} classes, the model "
                f"makes {self.shape[0]}-channel images of {self.num_classes} classes: use a classifier trained on the same data")
        if self.classifier_state.get("dataset", self.dataset) != self.dataset:
            raise EvaluationError(f"the classifier was trained on {self.classifier_state['dataset']}, not {self.dataset}")

    def generate(self, labels: np.ndarray, args: argparse.Namespace, guidance: float, seed: int) -> np.ndarray:
        """Samples for `labels`, quantised to the app's 8-bit pixels."""
        return quantise(generate(self.denoise, self.num_classes, labels, self.shape, args.steps, guidance, seed, args.batch,
                                 self.to_array, not args.quiet))


def load_references(subject: Subject, args: argparse.Namespace) -> tuple[object, RealFeatures | None]:
    """Inception (with --inception-weights) and the real-image features (unless --fd-samples 0)."""
    inception = real = None
    try:
        if args.inception_weights:
            inception = InceptionFeatures(args.inception_weights, args.device)
        if args.fd_samples > 0:
            real = RealFeatures(subject.classifier, inception, subject.dataset, args.data, args.fd_samples, args.seed, args.device)
    except (DataError, FileNotFoundError, ValueError) as error:
        raise EvaluationError(str(error)) from None
    if real is not None and len(real.classes) != subject.num_classes:
        raise EvaluationError(f"{subject.dataset} has {len(real.classes)} classes, the model {subject.num_classes}")
    return inception, real


def evaluate_guidance(subject: Subject, inception, real: RealFeatures | None, args: argparse.Namespace, guidance: float,
                      labels: np.ndarray, fd_labels: np.ndarray | None, floor: dict) -> dict:
    """One result row: class accuracy of equal-per-class samples, then (with real features) the distribution metrics."""
    start = time.perf_counter()
    samples = subject.generate(labels, args, guidance, args.seed)
    acc = class_accuracy(subject.classifier, samples, labels, args.device)
    row = {"guidance": guidance, "samples": len(labels), "steps": args.steps, "seed": args.seed,
           "classifier_accuracy": acc["accuracy"], "mean_class_accuracy": acc["mean_class"],
           "per_class_accuracy": acc["per_class"], "device": str(args.device),
           "classifier_test_accuracy": subject.classifier_state.get("test_accuracy"), "threads": args.threads or None,
           "source": args.checkpoint or args.onnx, "classifier": args.classifier, "dataset": subject.dataset}
    if real is not None:
        fd_set = subject.generate(fd_labels, args, guidance, args.seed + 1)
        row.update({"fd_samples": len(fd_set), "fd_seed": args.seed + 1, "fd_steps": args.steps, "fd_reference": real.reference_description,
                    "fd_floor_samples": real.n_floor, "fd_floor_reference": real.test_description, "pr_k": args.k,
                    "inception_weights": args.inception_weights})
        row.update(distribution_metrics(real, subject.classifier, inception, fd_set, args.k, args.seed, args.device))
        row.update(floor)
    row["seconds"] = time.perf_counter() - start
    return row


def run(args: argparse.Namespace) -> list[dict]:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    subject = Subject(args)
    inception, real = load_references(subject, args)
    per = args.samples // subject.num_classes
    if per < 1:
        raise EvaluationError(f"--samples {args.samples} gives no sample per class for {subject.num_classes} classes")
    labels = np.repeat(np.arange(subject.num_classes), per)
    fd_labels = proportional_labels(real.train_labels, args.fd_samples, subject.num_classes) if real is not None else None
    floor = real.floor() if real is not None else {}
    return [evaluate_guidance(subject, inception, real, args, guidance, labels, fd_labels, floor) for guidance in args.guidance]


def main(argv=None):
    try:
        args = parse_args(argv)
        results = run(args)
    except (EvaluationError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print_table(results)
    if args.json:
        write_atomic(Path(args.json), json.dumps(results, indent=1).encode())
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
