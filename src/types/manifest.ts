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

/** max |a - b| over every element of an output, on the parity inputs (a file against PyTorch, or the int8 file against the float file). */
export type MaxAbsDifference = number;

/** Max |onnxruntime - PyTorch| of the exported graph on random inputs at each of `sigmas`, measured by the export, which refuses a file beyond `tolerance`. With float16 weight storage these are the shipped file's, and `float32_graph` the same measure before the weights were rounded (refused beyond 1e-4). */
export interface Parity {
  denoised: MaxAbsDifference;
  attention: MaxAbsDifference;
  sigmas: ParitySigmas;
  tolerance: number;
  float32_graph?: GraphParity;
}

/** The noise levels of the parity inputs (diffit.export PARITY_SIGMAS). */
export type ParitySigmas = number[];

/** The float32 graph's parity figures, before its weights were rounded to float16 storage. */
export interface GraphParity {
  denoised: MaxAbsDifference;
  attention: MaxAbsDifference;
}

/** An ONNX file, a plain name beside the manifest (so always on the page's own origin). */
export type OnnxFileName = string;

/** A file's sha256, lowercase hex. */
export type Sha256 = string;

/** A companion file for the WASM backend, written by `python -m diffit.quantize`: the same function with the weights of its MatMuls, Gemms, 3x3 and transposed convolutions stored in int8 and their inputs quantised per call (the convolutions as im2col products). The app runs it on WASM unless the visitor asks for float32; WebGPU always runs `file`. A new export of `file` drops this block. */
export interface Int8File {
  file: OnnxFileName;
  bytes: number;
  sha256: Sha256;
  /** The sha256 of the float file it was made from: always the entry's `sha256`. */
  source_sha256: Sha256;
  method: string;
  /** Max |int8 file - float file| of `denoised` and of the attention weights on random inputs at each of `sigmas`; the quantiser refuses a file beyond `tolerance`. */
  parity: {
    denoised: MaxAbsDifference;
    attention: MaxAbsDifference;
    sigmas: ParitySigmas;
    tolerance: {
      denoised: number;
      attention: number;
    };
  };
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
  file: OnnxFileName;
  bytes: number;
  sha256: Sha256;
  parameters: number;
  config?: DiffitConfig;
  edm: EdmConstants;
  /** Within contracts/sampling.json limits.steps. */
  default_steps: number;
  /** Within contracts/sampling.json limits.guidance. */
  default_guidance: number;
  opset?: number;
  /** How the ONNX file stores its weights: float16 (each tensor of 1,024 or more elements, read through a Cast to float32, so the graph computes in float32) or float32. Absent in files exported before the choice existed, which are float32. */
  weight_storage?: 'float32' | 'float16';
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
  int8?: Int8File;
}

/** public/models/manifest.json: every model the app offers. The one owner of the manifest's fields. Written only by `python -m diffit.export` (training/diffit/manifest.py validates against this file before every write); the app validates against it (src/lib/manifest.ts), and src/types/manifest.ts is generated from it (training/scripts/gen_manifest_types.py). */
export interface Manifest {
  /** Format version of this file. */
  version: 1;
  /** Ordered by data set (fashion-mnist, cifar10, emoji), then variant (models/config.py VARIANTS); the app opens the first. */
  models: ModelEntry[];
}

export type JsonSchema = { readonly [keyword: string]: unknown };

/** contracts/manifest.schema.json less its prose (description, title, $comment): what src/lib/manifest.ts validates against. */
export const MANIFEST_SCHEMA: JsonSchema = {
  "type": "object",
  "required": [
    "version",
    "models"
  ],
  "additionalProperties": false,
  "properties": {
    "version": {
      "const": 1
    },
    "models": {
      "type": "array",
      "minItems": 1,
      "items": {
        "$ref": "#/$defs/ModelEntry"
      }
    }
  },
  "$defs": {
    "ModelId": {
      "type": "string",
      "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"
    },
    "GuidanceKey": {
      "type": "string",
      "pattern": "^[0-9]+(\\.[0-9]+)?$"
    },
    "Fraction": {
      "type": "number",
      "minimum": 0,
      "maximum": 1
    },
    "PerGuidance": {
      "type": "object",
      "propertyNames": {
        "$ref": "#/$defs/GuidanceKey"
      },
      "additionalProperties": {
        "type": [
          "number",
          "null"
        ]
      }
    },
    "EdmConstants": {
      "type": "object",
      "required": [
        "sigma_min",
        "sigma_max",
        "rho",
        "sigma_data"
      ],
      "additionalProperties": false,
      "properties": {
        "sigma_min": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "sigma_max": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "rho": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "sigma_data": {
          "type": "number",
          "exclusiveMinimum": 0
        }
      }
    },
    "AttentionOutput": {
      "type": "object",
      "required": [
        "output",
        "layer",
        "resolution",
        "window",
        "heads",
        "windows",
        "tokens",
        "layout"
      ],
      "additionalProperties": false,
      "properties": {
        "output": {
          "type": "string",
          "pattern": "^attn_[A-Za-z0-9_]+$"
        },
        "layer": {
          "type": "string",
          "minLength": 1
        },
        "level": {
          "type": "integer",
          "minimum": 0
        },
        "resolution": {
          "type": "integer",
          "minimum": 1
        },
        "window": {
          "type": "integer",
          "minimum": 1
        },
        "heads": {
          "type": "integer",
          "minimum": 1
        },
        "windows": {
          "type": "integer",
          "minimum": 1
        },
        "tokens": {
          "type": "integer",
          "minimum": 1
        },
        "layout": {
          "type": "string"
        }
      }
    },
    "DiffitConfig": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "resolution": {
          "type": "integer",
          "minimum": 1
        },
        "in_channels": {
          "type": "integer",
          "minimum": 1
        },
        "num_classes": {
          "type": "integer",
          "minimum": 0
        },
        "channels": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "integer",
            "minimum": 1
          }
        },
        "blocks_per_level": {
          "type": "integer",
          "minimum": 1
        },
        "windows": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "integer",
            "minimum": 1
          }
        },
        "head_dim": {
          "type": "integer",
          "minimum": 1
        },
        "mlp_ratio": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "time_dim": {
          "type": "integer",
          "minimum": 1
        },
        "groups": {
          "type": "integer",
          "minimum": 1
        },
        "token_mixer": {
          "enum": [
            "tmsa",
            "pool"
          ]
        },
        "conv": {
          "enum": [
            "dense",
            "dws"
          ]
        },
        "label_dropout": {
          "$ref": "#/$defs/Fraction"
        },
        "sigma_data": {
          "type": "number",
          "exclusiveMinimum": 0
        }
      }
    },
    "TrainingProvenance": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "dataset_split": {
          "type": "string"
        },
        "images_seen": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 0
        },
        "hardware": {
          "type": [
            "string",
            "null"
          ]
        },
        "wall_time_s": {
          "type": [
            "number",
            "null"
          ],
          "minimum": 0
        },
        "wall_time_note": {
          "type": "string"
        },
        "seed": {
          "type": [
            "integer",
            "null"
          ]
        },
        "torch": {
          "type": [
            "string",
            "null"
          ]
        },
        "batch": {
          "type": "integer",
          "minimum": 1
        },
        "learning_rate": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "precision": {
          "type": "string"
        },
        "recipe": {
          "type": "string"
        }
      }
    },
    "MaxAbsDifference": {
      "type": "number",
      "minimum": 0
    },
    "Parity": {
      "type": "object",
      "required": [
        "denoised",
        "attention",
        "sigmas",
        "tolerance"
      ],
      "additionalProperties": false,
      "properties": {
        "denoised": {
          "$ref": "#/$defs/MaxAbsDifference"
        },
        "attention": {
          "$ref": "#/$defs/MaxAbsDifference"
        },
        "sigmas": {
          "$ref": "#/$defs/ParitySigmas"
        },
        "tolerance": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "float32_graph": {
          "$ref": "#/$defs/GraphParity"
        }
      }
    },
    "ParitySigmas": {
      "type": "array",
      "items": {
        "type": "number",
        "exclusiveMinimum": 0
      }
    },
    "GraphParity": {
      "type": "object",
      "required": [
        "denoised",
        "attention"
      ],
      "additionalProperties": false,
      "properties": {
        "denoised": {
          "$ref": "#/$defs/MaxAbsDifference"
        },
        "attention": {
          "$ref": "#/$defs/MaxAbsDifference"
        }
      }
    },
    "OnnxFileName": {
      "type": "string",
      "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*\\.onnx$"
    },
    "Sha256": {
      "type": "string",
      "pattern": "^[0-9a-f]{64}$"
    },
    "Int8File": {
      "type": "object",
      "required": [
        "file",
        "bytes",
        "sha256",
        "source_sha256",
        "method",
        "parity"
      ],
      "additionalProperties": false,
      "properties": {
        "file": {
          "$ref": "#/$defs/OnnxFileName"
        },
        "bytes": {
          "type": "integer",
          "minimum": 1
        },
        "sha256": {
          "$ref": "#/$defs/Sha256"
        },
        "source_sha256": {
          "$ref": "#/$defs/Sha256"
        },
        "method": {
          "type": "string",
          "minLength": 1
        },
        "parity": {
          "type": "object",
          "required": [
            "denoised",
            "attention",
            "sigmas",
            "tolerance"
          ],
          "additionalProperties": false,
          "properties": {
            "denoised": {
              "$ref": "#/$defs/MaxAbsDifference"
            },
            "attention": {
              "$ref": "#/$defs/MaxAbsDifference"
            },
            "sigmas": {
              "$ref": "#/$defs/ParitySigmas"
            },
            "tolerance": {
              "type": "object",
              "required": [
                "denoised",
                "attention"
              ],
              "additionalProperties": false,
              "properties": {
                "denoised": {
                  "type": "number",
                  "exclusiveMinimum": 0
                },
                "attention": {
                  "type": "number",
                  "exclusiveMinimum": 0
                }
              }
            }
          }
        }
      }
    },
    "AccuracyPerGuidance": {
      "type": "object",
      "propertyNames": {
        "$ref": "#/$defs/GuidanceKey"
      },
      "additionalProperties": {
        "$ref": "#/$defs/Fraction"
      }
    },
    "OnnxCheck": {
      "type": "object",
      "required": [
        "guidance",
        "classifier_accuracy",
        "samples"
      ],
      "additionalProperties": false,
      "properties": {
        "guidance": {
          "type": "number",
          "minimum": 0
        },
        "classifier_accuracy": {
          "$ref": "#/$defs/Fraction"
        },
        "samples": {
          "type": "integer",
          "minimum": 1
        },
        "steps": {
          "type": "integer",
          "minimum": 1
        },
        "seed": {
          "type": "integer",
          "minimum": 0
        },
        "seconds": {
          "type": "number",
          "minimum": 0
        },
        "measured_on": {
          "type": [
            "string",
            "null"
          ]
        },
        "source": {
          "type": "string"
        }
      }
    },
    "ModelEvaluation": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "classifier_accuracy": {
          "anyOf": [
            {
              "$ref": "#/$defs/Fraction"
            },
            {
              "$ref": "#/$defs/AccuracyPerGuidance"
            }
          ]
        },
        "samples": {
          "type": "integer",
          "minimum": 1
        },
        "steps": {
          "type": "integer",
          "minimum": 1
        },
        "seed": {
          "type": "integer",
          "minimum": 0
        },
        "measured_on": {
          "type": [
            "string",
            "null"
          ]
        },
        "classifier": {
          "type": "string"
        },
        "classifier_test_accuracy": {
          "anyOf": [
            {
              "$ref": "#/$defs/Fraction"
            },
            {
              "type": "null"
            }
          ]
        },
        "onnx_check": {
          "$ref": "#/$defs/OnnxCheck"
        },
        "per_class_accuracy": {
          "type": "object",
          "propertyNames": {
            "$ref": "#/$defs/GuidanceKey"
          },
          "additionalProperties": {
            "type": "array",
            "items": {
              "$ref": "#/$defs/Fraction"
            }
          }
        },
        "mean_class_accuracy": {
          "$ref": "#/$defs/AccuracyPerGuidance"
        },
        "fd_clf": {
          "$ref": "#/$defs/PerGuidance"
        },
        "fd_clf_at_floor_samples": {
          "$ref": "#/$defs/PerGuidance"
        },
        "precision": {
          "$ref": "#/$defs/PerGuidance"
        },
        "recall": {
          "$ref": "#/$defs/PerGuidance"
        },
        "fid_inception": {
          "$ref": "#/$defs/PerGuidance"
        },
        "fid_inception_at_floor_samples": {
          "$ref": "#/$defs/PerGuidance"
        },
        "fd_clf_floor": {
          "type": [
            "number",
            "null"
          ],
          "minimum": 0
        },
        "fd_clf_floor_train": {
          "type": [
            "number",
            "null"
          ],
          "minimum": 0
        },
        "fd_clf_floor_train_samples": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 1
        },
        "fid_inception_floor": {
          "type": [
            "number",
            "null"
          ],
          "minimum": 0
        },
        "fd_samples": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 1
        },
        "fd_floor_samples": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 1
        },
        "fd_reference": {
          "type": [
            "string",
            "null"
          ]
        },
        "fd_floor_reference": {
          "type": [
            "string",
            "null"
          ]
        },
        "pr_k": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 1
        },
        "fd_steps": {
          "type": [
            "integer",
            "null"
          ],
          "minimum": 1
        }
      }
    },
    "TimingSummary": {
      "type": "object",
      "required": [
        "median_ms",
        "q25_ms",
        "q75_ms"
      ],
      "additionalProperties": false,
      "properties": {
        "median_ms": {
          "type": "number",
          "minimum": 0
        },
        "q25_ms": {
          "type": "number",
          "minimum": 0
        },
        "q75_ms": {
          "type": "number",
          "minimum": 0
        }
      }
    },
    "Timing": {
      "anyOf": [
        {
          "$ref": "#/$defs/TimingSummary"
        },
        {
          "type": "null"
        }
      ]
    },
    "Ratio": {
      "type": [
        "number",
        "null"
      ],
      "minimum": 0
    },
    "ModelBenchmark": {
      "type": "object",
      "required": [
        "machine",
        "batch",
        "runs",
        "macs",
        "ms_per_forward"
      ],
      "additionalProperties": false,
      "properties": {
        "machine": {
          "type": "string"
        },
        "measured_at": {
          "type": "string"
        },
        "batch": {
          "type": "integer",
          "minimum": 1
        },
        "runs": {
          "type": "integer",
          "minimum": 1
        },
        "warmup": {
          "type": "integer",
          "minimum": 0
        },
        "threads": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "pytorch_cpu": {
              "type": "integer",
              "minimum": 1
            },
            "onnxruntime_cpu": {
              "type": "integer",
              "minimum": 1
            },
            "wasm": {
              "type": "integer",
              "minimum": 1
            },
            "wasm_app_threads": {
              "type": "integer",
              "minimum": 1
            }
          }
        },
        "macs": {
          "type": "integer",
          "minimum": 0
        },
        "ms_per_forward": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "pytorch_cpu": {
              "$ref": "#/$defs/Timing"
            },
            "onnxruntime_cpu": {
              "$ref": "#/$defs/Timing"
            },
            "wasm": {
              "$ref": "#/$defs/Timing"
            },
            "wasm_app_threads": {
              "$ref": "#/$defs/Timing"
            }
          }
        },
        "vs_full": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "parameters": {
              "$ref": "#/$defs/Ratio"
            },
            "macs": {
              "$ref": "#/$defs/Ratio"
            },
            "bytes": {
              "$ref": "#/$defs/Ratio"
            },
            "pytorch_cpu": {
              "$ref": "#/$defs/Ratio"
            },
            "onnxruntime_cpu": {
              "$ref": "#/$defs/Ratio"
            },
            "wasm": {
              "$ref": "#/$defs/Ratio"
            },
            "wasm_app_threads": {
              "$ref": "#/$defs/Ratio"
            }
          }
        },
        "wasm_vs_onnxruntime_cpu": {
          "$ref": "#/$defs/Ratio"
        }
      }
    },
    "ModelEntry": {
      "type": "object",
      "required": [
        "id",
        "label",
        "dataset",
        "classes",
        "num_classes",
        "variant",
        "resolution",
        "channels",
        "file",
        "bytes",
        "sha256",
        "parameters",
        "edm",
        "default_steps",
        "default_guidance"
      ],
      "additionalProperties": false,
      "properties": {
        "id": {
          "$ref": "#/$defs/ModelId"
        },
        "label": {
          "type": "string",
          "minLength": 1
        },
        "dataset": {
          "type": "string",
          "minLength": 1
        },
        "classes": {
          "type": "array",
          "items": {
            "type": "string",
            "minLength": 1
          }
        },
        "num_classes": {
          "type": "integer",
          "minimum": 0
        },
        "variant": {
          "enum": [
            "diffit",
            "dws",
            "diffip"
          ]
        },
        "resolution": {
          "type": "integer",
          "minimum": 1
        },
        "channels": {
          "enum": [
            1,
            3
          ]
        },
        "file": {
          "$ref": "#/$defs/OnnxFileName"
        },
        "bytes": {
          "type": "integer",
          "minimum": 1
        },
        "sha256": {
          "$ref": "#/$defs/Sha256"
        },
        "parameters": {
          "type": "integer",
          "minimum": 0
        },
        "config": {
          "$ref": "#/$defs/DiffitConfig"
        },
        "edm": {
          "$ref": "#/$defs/EdmConstants"
        },
        "default_steps": {
          "type": "integer",
          "minimum": 1
        },
        "default_guidance": {
          "type": "number",
          "minimum": 0
        },
        "opset": {
          "type": "integer",
          "minimum": 1
        },
        "weight_storage": {
          "enum": [
            "float32",
            "float16"
          ]
        },
        "attention": {
          "type": "array",
          "items": {
            "$ref": "#/$defs/AttentionOutput"
          }
        },
        "token_mixer": {
          "enum": [
            "attention",
            "pooling"
          ]
        },
        "training": {
          "$ref": "#/$defs/TrainingProvenance"
        },
        "parity": {
          "$ref": "#/$defs/Parity"
        },
        "evaluation": {
          "$ref": "#/$defs/ModelEvaluation"
        },
        "preview": {
          "type": "string",
          "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*\\.png$"
        },
        "benchmark": {
          "$ref": "#/$defs/ModelBenchmark"
        },
        "int8": {
          "$ref": "#/$defs/Int8File"
        }
      }
    }
  }
};
