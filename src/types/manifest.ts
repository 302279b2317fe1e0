// Generated from contracts/manifest.schema.json by training/scripts/gen_manifest_types.py: do not edit.
// Regenerate with `.venv/bin/python training/scripts/gen_manifest_types.py`.

/** Lowercase letters and digits in hyphen-separated words, e.g. diffit-fmnist; also names the ONNX file. */
export type ModelId = string;

/** A guidance scale written as Python's str(float), e.g. "2.0". */
export type GuidanceKey = string;

export type Fraction = number;

/** One figure per guidance scale ({"1.0": 41.8}); null where that metric was not measured at that scale. */
export type PerGuidance = Record<string, number | null>;

/** EDM noise-level constants (Karras et al. 2022) of the sampler and the in-graph preconditioning (diffit.diffusion.edm.EDM). */
export interface EdmConstants {
  sigma_min: number;
  sigma_max: number;
  rho: number;
  sigma_data: number;
}

/** One TMSA layer's softmax weights, ONNX output `output` of shape [batch, heads, windows, tokens, tokens]; tokens = window^2 and windows = (resolution / window)^2 (docs/contracts.md). */
export interface AttentionOutput {
  output: string;
  layer: string;
  /** U-Net level (the feature map is resolution / 2^level); absent in entries written before it was recorded. */
  level?: number;
  /** Side of the layer's feature map, in tokens. */
  resolution: number;
  window: number;
  heads: number;
  windows: number;
  tokens: number;
  /** The axes in words, for a reader of the file. */
  layout: string;
}

/** The network's DiffiTConfig (training/diffit/models/config.py), as its to_dict() writes it; the app does not read it. */
export interface DiffitConfig {
  resolution?: number;
  in_channels?: number;
  num_classes?: number;
  channels?: number[];
  blocks_per_level?: number;
  windows?: number[];
  head_dim?: number;
  mlp_ratio?: number;
  time_dim?: number;
  groups?: number;
  token_mixer?: 'tmsa' | 'pool';
  conv?: 'dense' | 'dws';
  label_dropout?: Fraction;
  /** Only in entries exported before sigma_data moved to EDM (see edm.sigma_data). */
  sigma_data?: number;
}

/** How the weights were made: the checkpoint's own record (dataset_split, images_seen, hardware, wall_time_s, seed, torch), overridden by the side file training/weights/provenance/<id>.json where one exists. */
export interface TrainingProvenance {
  dataset_split?: string;
  images_seen?: number | null;
  hardware?: string | null;
  wall_time_s?: number | null;
  /** What wall_time_s counts. */
  wall_time_note?: string;
  seed?: number | null;
  /** PyTorch version of the run, null where the checkpoint did not record it. */
  torch?: string | null;
  batch?: number;
  learning_rate?: number;
  /** Arithmetic of the training run, e.g. bf16 autocast. */
  precision?: string;
  recipe?: string;
}

/** Max |onnxruntime - PyTorch| of the exported graph on random inputs at each of `sigmas`, measured by the export, which refuses a file beyond `tolerance`. */
export interface Parity {
  denoised: number;
  attention: number;
  sigmas: number[];
  tolerance: number;
}

export type AccuracyPerGuidance = Record<string, Fraction>;

/** Class accuracy re-measured from the shipped ONNX file at one guidance scale (side file training/weights/provenance/<id>-eval-onnx-cpu.json, rows of `diffit.evaluate --onnx --json`). */
export interface OnnxCheck {
  guidance: number;
  classifier_accuracy: Fraction;
  samples: number;
  steps?: number;
  seed?: number;
  seconds?: number;
  measured_on?: string | null;
  /** The file that was judged. */
  source?: string;
}

/** What `python -m diffit.evaluate` measured (side file training/weights/provenance/<id>-eval.json; README "Sample quality"). Per-guidance metrics are null at scales where they were not measured. */
export interface ModelEvaluation {
  /** Share of class-conditional samples the project classifier labels as the requested class: one per guidance scale (what the export writes), or a single figure. */
  classifier_accuracy?: Fraction | AccuracyPerGuidance;
  samples?: number;
  /** Heun steps of the accuracy samples. */
  steps?: number;
  seed?: number;
  /** Device of the accuracy run (cpu, cuda, ...). */
  measured_on?: string | null;
  classifier?: string;
  /** The classifier's accuracy on the data set's test split. */
  classifier_test_accuracy?: Fraction | null;
  onnx_check?: OnnxCheck;
  /** Per guidance scale, the accuracy on each requested class, in class order. */
  per_class_accuracy?: Record<string, Fraction[]>;
  mean_class_accuracy?: AccuracyPerGuidance;
  /** Fréchet distance in the project classifier's penultimate features, generated vs real training images, at fd_samples. */
  fd_clf?: PerGuidance;
  /** FD_clf at fd_floor_samples, comparable with fd_clf_floor. */
  fd_clf_at_floor_samples?: PerGuidance;
  /** k-NN precision (Kynkäänniemi et al. 2019) in the classifier's features, k = pr_k. */
  precision?: PerGuidance;
  recall?: PerGuidance;
  /** FID with Inception weights, null unless such weights were given. */
  fid_inception?: PerGuidance;
  fid_inception_at_floor_samples?: PerGuidance;
  /** Real-vs-real floor: the test split against training images, at fd_floor_samples. */
  fd_clf_floor?: number | null;
  /** Real-vs-real floor at fd_clf_floor_train_samples: two disjoint training subsets, where the split has room. */
  fd_clf_floor_train?: number | null;
  fd_clf_floor_train_samples?: number | null;
  fid_inception_floor?: number | null;
  fd_samples?: number | null;
  fd_floor_samples?: number | null;
  fd_reference?: string | null;
  fd_floor_reference?: string | null;
  pr_k?: number | null;
  /** Heun steps of the FD samples (may differ from `steps`). */
  fd_steps?: number | null;
}

/** Milliseconds per forward at batch 1 over the benchmark's runs. */
export interface TimingSummary {
  median_ms: number;
  q25_ms: number;
  q75_ms: number;
}

export type Timing = TimingSummary | null;

export type Ratio = number | null;

/** What `npm run bench` measured on one machine: the model's `benchmark` block of bench/results.json, merged by the export and by `python -m diffit.benchmark --record`. */
export interface ModelBenchmark {
  machine: string;
  /** UTC time, ISO 8601. */
  measured_at?: string;
  batch: number;
  runs: number;
  warmup?: number;
  /** Threads per runtime. */
  threads?: {
    pytorch_cpu?: number;
    onnxruntime_cpu?: number;
    wasm?: number;
    wasm_app_threads?: number;
  };
  /** Multiply-accumulates per forward at batch 1, counted from the exported graph. */
  macs: number;
  ms_per_forward: {
    pytorch_cpu?: Timing;
    onnxruntime_cpu?: Timing;
    wasm?: Timing;
    wasm_app_threads?: Timing;
  };
  /** Each figure divided by the full DiffiT model's of the same run. */
  vs_full?: {
    parameters?: Ratio;
    macs?: Ratio;
    bytes?: Ratio;
    pytorch_cpu?: Ratio;
    onnxruntime_cpu?: Ratio;
    wasm?: Ratio;
    wasm_app_threads?: Ratio;
  };
  wasm_vs_onnxruntime_cpu?: Ratio;
}

/** One exported model. Properties are listed in the order the export writes them. */
export interface ModelEntry {
  id: ModelId;
  /** Name shown in the app. */
  label: string;
  dataset: string;
  /** Class names, one per label; exactly num_classes of them. */
  classes: string[];
  /** Label num_classes is the unconditional (null) class. */
  num_classes: number;
  /** models/config.py VARIANTS: full TMSA, depthwise-separable convs, pooling mixer. */
  variant: 'diffit' | 'dws' | 'diffip';
  resolution: number;
  channels: 1 | 3;
  /** The ONNX file, a plain name beside the manifest (so always on the page's own origin). */
  file: string;
  bytes: number;
  sha256: string;
  parameters: number;
  config?: DiffitConfig;
  edm: EdmConstants;
  /** Within contracts/sampling.json limits.steps. */
  default_steps: number;
  /** Within contracts/sampling.json limits.guidance. */
  default_guidance: number;
  opset?: number;
  /** TMSA outputs in graph order; empty for a pooling model; the app treats an absent list as empty. */
  attention?: AttentionOutput[];
  /** How tokens are mixed: attention (TMSA) or pooling (DiffiP). */
  token_mixer?: 'attention' | 'pooling';
  training?: TrainingProvenance;
  parity?: Parity;
  evaluation?: ModelEvaluation;
  /** A PNG grid of samples beside the manifest. */
  preview?: string;
  benchmark?: ModelBenchmark;
}

/** public/models/manifest.json: every model the app offers. The one owner of the manifest's fields. Written only by `python -m diffit.export` (training/diffit/manifest.py validates against this file before every write); the app validates against it (src/lib/manifest.ts), and src/types/manifest.ts is generated from it (training/scripts/gen_manifest_types.py). */
export interface Manifest {
  /** Format version of this file. */
  version: 1;
  /** Ordered by data set (fashion-mnist, cifar10, emoji), then variant (models/config.py VARIANTS); the app opens the first. */
  models: ModelEntry[];
}
