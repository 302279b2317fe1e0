/** `public/models/manifest.json`, written by `python -m diffit.export` (docs/contracts.md). */

export interface EdmConstants {
  sigma_min: number;
  sigma_max: number;
  rho: number;
  sigma_data: number;
}

export interface AttentionOutput {
  output: string;
  layer: string;
  resolution: number;
  window: number;
  heads: number;
  windows: number;
  tokens: number;
  layout: string;
}

/** One timing summary (ms per forward at batch 1). */
export interface TimingSummary {
  median_ms: number;
  q25_ms: number;
  q75_ms: number;
}

/** What `npm run bench` measured on one machine (written by `python -m diffit.benchmark --record`). */
export interface ModelBenchmark {
  machine: string;
  measured_at?: string;
  batch: number;
  runs: number;
  /** Multiply-accumulates per forward at batch 1, counted from the exported graph. */
  macs: number;
  ms_per_forward: {
    pytorch_cpu?: TimingSummary | null;
    onnxruntime_cpu?: TimingSummary | null;
    wasm?: TimingSummary | null;
    wasm_app_threads?: TimingSummary | null;
  };
  threads?: Record<string, number>;
  vs_full?: Record<string, number | null>;
  wasm_vs_onnxruntime_cpu?: number | null;
}

/** Per guidance scale ({"1.0": 41.8}); null where that metric was not computed. */
export type PerGuidance = Record<string, number | null>;

/** What `python -m diffit.evaluate` measured (README: "Sample quality"). */
export interface ModelEvaluation {
  classifier_accuracy?: number | Record<string, number>;
  samples?: number;
  steps?: number;
  /** Fréchet distance in the project classifier's penultimate features, generated vs real training images. */
  fd_clf?: PerGuidance;
  fd_samples?: number;
  /** Real-vs-real floor: the test split against training images, at the test split's size. */
  fd_clf_floor?: number | null;
  fd_floor_samples?: number;
  /** Real-vs-real floor at the full count: two disjoint training subsets (where the split has room). */
  fd_clf_floor_train?: number | null;
  fd_clf_floor_train_samples?: number | null;
  precision?: PerGuidance;
  recall?: PerGuidance;
  [key: string]: unknown;
}

export interface ModelEntry {
  id: string;
  label: string;
  dataset: string;
  classes: string[];
  num_classes: number;
  variant: string;
  resolution: number;
  channels: number;
  file: string;
  bytes: number;
  sha256: string;
  parameters: number;
  edm: EdmConstants;
  default_steps: number;
  default_guidance: number;
  /** How tokens are mixed: "attention" (TMSA) or "pooling" (DiffiP). */
  token_mixer?: string;
  attention?: AttentionOutput[];
  training?: { images_seen?: number; hardware?: string; wall_time_s?: number; seed?: number; [key: string]: unknown };
  /** Classifier accuracy of samples, one number or one per guidance scale ({"2.0": 0.97}). */
  evaluation?: ModelEvaluation;
  /** Max |ONNX - PyTorch| of the exported graph. */
  parity?: { denoised?: number; attention?: number; [key: string]: unknown };
  preview?: string | null;
  benchmark?: ModelBenchmark;
}

export interface Manifest {
  version: number;
  models: ModelEntry[];
}
