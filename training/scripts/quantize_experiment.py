"""Issue #10's int8 experiment: quantise shipped models with onnxruntime's tools, and measure what it costs natively.

    python scripts/quantize_experiment.py --models diffit-fmnist --out-dir /tmp/diffit-int8 \
        --json /tmp/diffit-int8/quantize.json [--evaluate 200 --evaluate-variants qdq qdq-weights --spread-seed 3]      (run from training/)

then `node scripts/bench-int8.mjs --quantized /tmp/diffit-int8/quantize.json` times every file in WASM and
writes bench/int8-experiment.json. Nothing under public/models is written.

Variants (VARIANTS), each from the shipped fp32 file after onnxruntime's pre-processing (`quant_pre_process`):
- dynamic: MatMul and Gemm weights int8 per tensor, activations quantised per call (`quantize_dynamic`);
- qdq: QuantizeLinear/DequantizeLinear around Conv and MatMul (`quantize_static`, QDQ format): weights int8 per
  output channel, activations uint8 with MinMax ranges from the calibration set;
- qdq-weights: the same, but only where one input is a weight: the attention's activation-by-activation MatMuls
  (Q K^T and A V) stay fp32, and so do the first and the last Conv (the image in and out);
- qdq-mlp: qdq-weights with the TMSA mixer's projections in fp32 too (int8: the convolutions and the MLPs);
- qdq-conv: only the convolutions between the first and the last in int8.

Calibration set: training images y at the Karras sigmas that Heun 18 and DPM-Solver++(2M) 10 visit, x = y + sigma n
(EDM's forward process), batch 8 as guidance runs it: 4 class labels and 4 unconditional (label = num_classes).

Measured per variant against fp32 (native onnxruntime, CPU):
1. one-forward error on test images at every Heun-18 sigma: max and mean |D_int8 - D_fp32| of `denoised` (image
   units, [-1, 1]) and of every attention output (probabilities), and the attention rows' sums (each must be 1);
2. final-image error from the same noise: DPM-Solver++(2M) 10 steps, guidance 2, in 8-bit pixel levels;
3. ms per evaluation at batch 1 and 8, --threads threads, the variants interleaved forward by forward;
4. with --evaluate N: `python -m diffit.evaluate` (N class-conditional samples, --fd-samples, Heun --steps,
   guidance 2) for fp32 and each of --evaluate-variants; or, with --evaluate-from, an earlier run's rows for files
   that are byte for byte the same (to time again on a quieter machine without sampling again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from diffit.benchmark import load_average, machine
from diffit.data import DataError, load_dataset
from diffit.diffusion.sampler import dpmpp_2m_sample, guided_denoiser, karras_sigmas
from diffit.evaluate import quantise
from diffit.manifest import ManifestError, read_json, write_json_atomic
from diffit.noise import normal_tensor
from diffit.quantize import annotate_types
from diffit.runtime import OnnxDenoiser, concat_for

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION_SCHEDULES = (18, 10)  # Heun 18 (the default) and DPM-Solver++(2M) 10 visit these Karras sigmas
VARIANTS = ("dynamic", "qdq", "qdq-weights", "qdq-mlp", "qdq-conv")


class ExperimentError(Exception):
    """Bad input; the message is one line."""


# ----------------------------------------------------------------------------- quantisation


def calibration_feeds(images: np.ndarray, labels: np.ndarray, num_classes: int, seed: int) -> list[dict]:
    """One batch of 8 per sigma: x = y + sigma n (N, C, H, W), half class labels, half unconditional."""
    rng = np.random.default_rng(seed)
    sigmas = np.unique(np.concatenate([karras_sigmas(n)[:-1] for n in CALIBRATION_SCHEDULES]))
    feeds = []
    for sigma in sigmas:
        pick = rng.choice(len(images), 8, replace=False)
        y = images[pick]
        x = y + sigma * rng.standard_normal(y.shape).astype(np.float32)
        label = labels[pick].copy()
        label[4:] = num_classes  # guidance's unconditional half
        feeds.append({"x": x.astype(np.float32), "sigma": np.full(8, sigma, np.float32), "class_label": label.astype(np.int64)})
    return feeds


def quantise_variants(source: Path, out_dir: Path, stem: str, feeds: list[dict]) -> dict[str, Path]:
    """fp32 (the shipped file) and every VARIANTS file, written to out_dir."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    pre = out_dir / f"{stem}-pre.onnx"
    # Symbolic shape inference stops at the window reshapes; the types come from annotate_types instead.
    quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
    annotate_types(pre, feeds[0])
    paths = {"fp32": source}
    paths["dynamic"] = out_dir / f"{stem}-dynamic.onnx"
    quantize_dynamic(str(pre), str(paths["dynamic"]), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
    for name in VARIANTS[1:]:
        paths[name] = out_dir / f"{stem}-{name}.onnx"
        quantize_static(str(pre), str(paths[name]), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv", "MatMul"],
                        nodes_to_exclude=fp32_nodes(pre, name), activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        per_channel=True)
    pre.unlink()
    return paths


def fp32_nodes(path: Path, variant: str) -> list[str]:
    """The Conv and MatMul nodes a QDQ variant keeps in float32.

    qdq: none. qdq-weights: MatMuls of two activations (attention's Q K^T and A V), the first and the last Conv (the
    image in and out). qdq-mlp: also every MatMul of the TMSA mixer (its q/k/v and output projections), so that only
    the convolutions and the MLPs are int8. qdq-conv: only the convolutions between the first and the last are int8.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    weights = {i.name for i in graph.initializer} | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    convs = [n.name for n in graph.node if n.op_type == "Conv"]
    if variant == "qdq":
        return []
    keep = [n.name for n in matmuls if not any(i in weights for i in n.input)] + [convs[0], convs[-1]]
    if variant in ("qdq-mlp", "qdq-conv"):
        keep += [n.name for n in matmuls if "/mixer/" in n.name]
    if variant == "qdq-conv":
        keep += [n.name for n in matmuls if "/mlp/" in n.name]
    return sorted(set(keep))


# ----------------------------------------------------------------------------- error against fp32


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def forward_errors(paths: dict[str, Path], images: np.ndarray, labels: np.ndarray, num_classes: int, threads: int) -> dict:
    """Per variant and Heun-18 sigma: max/mean |Δ| of denoised and of the attention outputs, and attention row sums."""
    sessions = {name: session(p, threads) for name, p in paths.items()}
    outputs = [o.name for o in sessions["fp32"].get_outputs()]
    attention = [o for o in outputs if o.startswith("attn_")]
    rng = np.random.default_rng(7)
    pick = rng.choice(len(images), 8, replace=False)
    y, label = images[pick], labels[pick].copy()
    label[4:] = num_classes
    result = {name: {"missing_outputs": [], "per_sigma": []} for name in paths if name != "fp32"}
    for sigma in karras_sigmas(18)[:-1]:
        x = (y + sigma * rng.standard_normal(y.shape)).astype(np.float32)
        feeds = {"x": x, "sigma": np.full(8, sigma, np.float32), "class_label": label.astype(np.int64)}
        ref = dict(zip(outputs, sessions["fp32"].run(outputs, feeds), strict=True))
        for name, s in sessions.items():
            if name == "fp32":
                continue
            have = [o.name for o in s.get_outputs()]
            result[name]["missing_outputs"] = [o for o in outputs if o not in have]
            got = dict(zip(have, s.run(have, feeds), strict=True))
            d = np.abs(got["denoised"] - ref["denoised"])
            a = [np.abs(got[o] - ref[o]) for o in attention if o in got]
            rows = [np.abs(got[o].sum(-1) - 1).max() for o in attention if o in got]
            result[name]["per_sigma"].append({
                "sigma": float(sigma), "denoised_max_abs": float(d.max()), "denoised_mean_abs": float(d.mean()),
                "attention_max_abs": float(max(e.max() for e in a)) if a else None,
                "attention_mean_abs": float(np.mean([e.mean() for e in a])) if a else None,
                "attention_row_sum_error": float(max(rows)) if rows else None})
    for r in result.values():
        ps = r["per_sigma"]
        r["denoised_max_abs"] = max(p["denoised_max_abs"] for p in ps)
        r["denoised_mean_abs"] = float(np.mean([p["denoised_mean_abs"] for p in ps]))
        if attention:
            r["attention_max_abs"] = max(p["attention_max_abs"] for p in ps)
            r["attention_row_sum_error"] = max(p["attention_row_sum_error"] for p in ps)
    return result


def image_errors(paths: dict[str, Path], num_classes: int, shape: tuple, per_class: int, threads: int) -> dict:
    """Final images of DPM-Solver++(2M) 10 steps, guidance 2, same noise: |Δ| in 8-bit levels against fp32."""
    sigmas = karras_sigmas(10)
    noise = normal_tensor(5, (num_classes * per_class, *shape))  # (N, C, H, W)

    def draw(path):
        denoise = OnnxDenoiser(path, threads)
        out = []
        for c in range(num_classes):
            chunk = noise[c * per_class:(c + 1) * per_class]
            out.append(dpmpp_2m_sample(guided_denoiser(denoise, c, num_classes, 2.0, concat_for(chunk)), chunk, sigmas))
        return np.round((quantise(np.concatenate(out)) + 1) * 127.5)

    ref = draw(paths["fp32"])
    result = {}
    for name, path in paths.items():
        if name != "fp32":
            d = np.abs(draw(path) - ref)
            result[name] = {"images": len(ref), "mean_levels": float(d.mean()), "max_levels": float(d.max()),
                            "image_mean_p95_levels": float(np.percentile(d.reshape(len(d), -1).mean(1), 95)),
                            "pixels_changed": float((d > 0).mean())}
    return result


# ----------------------------------------------------------------------------- speed and quality


def native_speed(paths: dict[str, Path], num_classes: int, shape: tuple, threads: int, runs: int, warmup: int = 3) -> dict:
    """ms per evaluation (`denoised` only) at batch 1 and 8, every (variant, batch) once per round, `runs` rounds."""
    sessions = {name: session(p, threads) for name, p in paths.items()}
    feeds = {}
    for b in (1, 8):
        label = np.array([1] * (b - b // 2) + [num_classes] * (b // 2), np.int64)  # guidance's [class; unconditional]
        feeds[b] = {"x": normal_tensor(3, (b, *shape)), "sigma": np.full(b, 2.5, np.float32), "class_label": label}
    times = {(n, b): [] for n in sessions for b in feeds}
    for i in range(warmup + runs):
        for (name, b), t in times.items():
            start = time.perf_counter()
            sessions[name].run(["denoised"], feeds[b])
            if i >= warmup:
                t.append((time.perf_counter() - start) * 1000)
    out = {}
    for (name, b), t in times.items():
        q25, med, q75 = np.percentile(t, [25, 50, 75])
        out.setdefault(name, {})[f"batch_{b}"] = {"median_ms": float(med), "q25_ms": float(q25), "q75_ms": float(q75), "runs": runs}
    return out


def evaluate(path: Path, classifier: Path, samples: int, fd_samples: int, steps: int, seed: int, threads: int, work: Path) -> dict:
    """One `python -m diffit.evaluate` row at guidance 2 (a subprocess, so its CLI is what is measured)."""
    out = work / f"eval-{path.stem}-{seed}.json"
    cmd = [sys.executable, "-m", "diffit.evaluate", "--onnx", str(path), "--classifier", str(classifier),
           "--samples", str(samples), "--fd-samples", str(fd_samples), "--steps", str(steps), "--guidance", "2",
           "--seed", str(seed), "--threads", str(threads), "--json", str(out), "--quiet"]
    r = subprocess.run(cmd, cwd=ROOT / "training", capture_output=True, text=True)
    if r.returncode != 0:
        raise ExperimentError(f"diffit.evaluate failed on {path}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    row = json.loads(out.read_text())[0]
    keep = ("samples", "steps", "seed", "classifier_accuracy", "mean_class_accuracy", "fd_samples", "fd_clf",
            "precision", "recall", "seconds")
    return {"command": " ".join(cmd[1:]), **{k: row[k] for k in keep if k in row}}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def earlier_evaluation(path: Path, model: str, paths: dict[str, Path]) -> dict:
    """The evaluate rows of an earlier run, kept only for files identical to this run's (its files must still exist)."""
    earlier = next((m for m in read_json(path, "earlier result")["models"] if m["id"] == model), None)
    if earlier is None or not earlier.get("evaluate"):
        raise ExperimentError(f"--evaluate-from {path} has no diffit.evaluate rows for {model}")
    kept = {}
    for name, rows in earlier["evaluate"].items():
        old = Path(earlier["files"][name]["path"])
        if name in paths and old.is_file() and sha256(old) == sha256(paths[name]):
            kept[name] = rows
        else:
            print(f"{model}: {name} differs from the file evaluated in {path}; its evaluation is dropped", flush=True)
    return kept


# ----------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python scripts/quantize_experiment.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["diffit-fmnist"], help="manifest ids")
    p.add_argument("--manifest", type=Path, default=ROOT / "public/models/manifest.json")
    p.add_argument("--out-dir", type=Path, required=True, help="existing folder for the quantised files (not public/models)")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2, help="native onnxruntime threads for the timings (the app's WASM threads)")
    p.add_argument("--runs", type=int, default=30, help="timed rounds per (variant, batch)")
    p.add_argument("--per-class", type=int, default=2, help="images per class for the final-image error")
    p.add_argument("--evaluate", type=int, default=0, metavar="N", help="diffit.evaluate class-conditional samples (0: skip)")
    p.add_argument("--fd-samples", type=int, default=200)
    p.add_argument("--steps", type=int, default=12, help="Heun steps for diffit.evaluate")
    p.add_argument("--seed", type=int, default=2, help="diffit.evaluate seed, the same for every variant (paired)")
    p.add_argument("--spread-seed", type=int, default=0, help="one more fp32 evaluation at this seed: the seed-to-seed spread "
                   "that says what 'within noise' means (0: none)")
    p.add_argument("--evaluate-variants", nargs="+", default=["qdq"], choices=VARIANTS)
    p.add_argument("--evaluate-from", type=Path, default=None, metavar="JSON",
                   help="instead of --evaluate: take the diffit.evaluate rows of an earlier run's JSON, for the variants "
                        "whose file there is byte for byte this run's (sha256)")
    p.add_argument("--classifier", type=Path, default=ROOT / "training/weights/classifier-fmnist.pt")
    args = p.parse_args(argv)
    if not args.out_dir.is_dir():
        p.exit(2, f"error: --out-dir {args.out_dir} is not an existing folder\n")
    if args.out_dir.resolve() == (ROOT / "public/models").resolve():
        p.exit(2, "error: --out-dir must not be public/models (this is an experiment)\n")
    if not args.json.parent.is_dir():
        p.exit(2, f"error: --json {args.json}: no folder {args.json.parent}\n")
    if args.evaluate and not args.classifier.is_file():
        p.exit(2, f"error: --classifier {args.classifier} is not a file\n")
    if args.threads < 1 or args.runs < 1 or args.per_class < 1:
        p.exit(2, "error: --threads, --runs and --per-class must be positive\n")
    return args


def run(args: argparse.Namespace) -> dict:
    manifest = read_json(args.manifest, "manifest")
    entries = {m["id"]: m for m in manifest["models"]}
    unknown = [m for m in args.models if m not in entries]
    if unknown:
        raise ExperimentError(f"not in {args.manifest}: {', '.join(unknown)} (have {', '.join(entries)})")
    load_before = load_average()
    results = []
    for model in args.models:
        entry = entries[model]
        shape, num_classes = (entry["channels"], entry["resolution"], entry["resolution"]), entry["num_classes"]
        train, train_labels, _ = load_dataset(entry["dataset"], None, "train")
        test, test_labels, _ = load_dataset(entry["dataset"], None, "test")
        t0 = time.perf_counter()
        paths = quantise_variants(args.manifest.parent / entry["file"], args.out_dir, model,
                                  calibration_feeds(train, train_labels, num_classes, seed=0))
        print(f"{model}: quantised in {time.perf_counter() - t0:.1f} s", flush=True)
        row = {"id": model, "files": {n: {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256(p)} for n, p in paths.items()},
               "forward_error": forward_errors(paths, test, test_labels, num_classes, args.threads),
               "image_error": image_errors(paths, num_classes, shape, args.per_class, args.threads)}
        print(f"{model}: errors measured", flush=True)
        row["native"] = native_speed(paths, num_classes, shape, args.threads, args.runs)
        if args.evaluate_from:
            row["evaluate"] = earlier_evaluation(args.evaluate_from, model, paths)
        elif args.evaluate:
            work = Path(tempfile.mkdtemp(prefix="diffit-int8-eval-"))
            row["evaluate"] = {}
            for name in ["fp32", *args.evaluate_variants]:
                seeds = [args.seed, args.spread_seed] if name == "fp32" and args.spread_seed else [args.seed]
                row["evaluate"][name] = [evaluate(paths[name], args.classifier, args.evaluate, args.fd_samples, args.steps,
                                                  seed, 1, work) for seed in seeds]
                print(f"{model}: evaluated {name}", flush=True)
        results.append(row)
    return {"machine": machine(args.threads), "load_average": {"before": load_before, "after": load_average()},
            "calibration": {"schedules": list(CALIBRATION_SCHEDULES), "batch": 8, "split": "train",
                            "method": "MinMax", "sigmas": len(np.unique(np.concatenate([karras_sigmas(n)[:-1] for n in CALIBRATION_SCHEDULES])))},
            "native_threads": args.threads, "runs": args.runs, "models": results}


def print_tables(result: dict) -> None:
    for m in result["models"]:
        print(f"\n{m['id']}: error against fp32 (forward at Heun-18 sigmas, test images; final images DPM++(2M) 10, guidance 2)")
        print(f"{'variant':<9} {'bytes':>9} {'D max|Δ|':>9} {'D mean|Δ|':>10} {'attn max|Δ|':>11} {'img mean lv':>11} {'img max lv':>10}")
        for name, f in m["files"].items():
            e, i = m["forward_error"].get(name), m["image_error"].get(name)
            cells = [f"{e['denoised_max_abs']:.4f}", f"{e['denoised_mean_abs']:.5f}", f"{e.get('attention_max_abs', 0):.4f}",
                     f"{i['mean_levels']:.2f}", f"{i['max_levels']:.0f}"] if e else ["–"] * 5
            print(f"{name:<9} {f['bytes']:>9} {cells[0]:>9} {cells[1]:>10} {cells[2]:>11} {cells[3]:>11} {cells[4]:>10}")
        print(f"native onnxruntime, {result['native_threads']} threads, median [IQR] ms/evaluation over {result['runs']} interleaved rounds")
        for name, t in m["native"].items():
            print(f"  {name:<9} " + "  ".join(f"batch {b[6:]}: {v['median_ms']:.2f} [{v['q25_ms']:.2f}–{v['q75_ms']:.2f}]" for b, v in t.items()))
        for name, rows in m.get("evaluate", {}).items():
            for r in rows:
                print(f"  evaluate {name:<9} seed {r['seed']}: accuracy {r['classifier_accuracy']:.3f}, FD_clf {r.get('fd_clf', float('nan')):.2f}"
                      f" ({r['samples']} + {r.get('fd_samples', 0)} samples, Heun {r['steps']}, {r['seconds']:.0f} s)")


def main(argv=None):
    args = parse_args(argv)
    try:
        result = run(args)
    except (ExperimentError, ManifestError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print_tables(result)
    write_json_atomic(result, args.json)
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
