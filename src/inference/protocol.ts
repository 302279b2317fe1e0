/**
 * The typed message protocol between the app and the inference worker (`worker.ts`).
 * Requests go in (load / generate / cancel), events come out (status / progress / step /
 * result / error). Float32Array payloads are sent as transferables.
 */

import type { AttentionLayer, StepAttention } from '@/lib/attention-map';
import type { GuideName } from '@/sampling/heun';
import type { SamplerName } from '@/sampling/samplers';
import type { EdmConstants } from '@/types/manifest';

export type { StepAttention };

/** An execution backend that actually runs a model. */
export type Backend = 'webgpu' | 'wasm';
/** What the app asks for: `auto` takes WebGPU when a hardware adapter is granted, else WASM. */
export type BackendRequest = 'auto' | Backend;

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'webgpu', 'wasm'];

/**
 * Which weights the WASM backend runs (contracts/sampling.json `weights`): the model's int8 companion
 * file (`int8` in the manifest: the weights of the MatMuls and most convolutions in int8,
 * `python -m diffit.quantize`), or
 * the float file. WebGPU always runs the float file.
 */
export type WasmWeights = 'int8' | 'float32';

/** One downloadable model file. */
export interface ModelFile {
  /** Absolute URL of the .onnx file. */
  url: string;
  sha256: string;
  bytes: number;
}

/** Everything the worker needs to know about a model (taken from the manifest). */
export interface ModelSpec extends ModelFile {
  id: string;
  /** The int8 file the WASM backend runs instead, when the visitor asked for int8 weights and the model has one. */
  int8?: ModelFile;
  channels: number;
  resolution: number;
  numClasses: number;
  edm: EdmConstants;
  /** The model's TMSA `attn_*` outputs (empty for DiffiP and for models without attention). */
  attention?: AttentionLayer[];
}

export interface GenerateParams {
  /** Heun when absent. */
  sampler?: SamplerName;
  seed: number;
  steps: number;
  /** Class index, or null for unconditional. */
  classLabel: number | null;
  guidance: number;
  /** Where guidance applies (contracts/sampling.json `guides`); every evaluation when absent. */
  guide?: GuideName;
  batch: number;
  /**
   * Record TMSA attention for this image of the batch (its quantised weights at every step, plus
   * the per-layer entropy/distance summary over the batch); null or absent = do not fetch `attn_*`.
   */
  attentionImage?: number | null;
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: ModelSpec; backend: BackendRequest }
  | { type: 'generate'; id: number; model: ModelSpec; backend: BackendRequest; params: GenerateParams }
  | { type: 'cancel'; id: number };

export type LoadPhase = 'selecting-backend' | 'reading-cache' | 'downloading' | 'verifying' | 'creating-session' | 'ready';

export interface BackendInfo {
  backend: Backend;
  /** Why the backend is not the one asked for (a fallback to WASM), when it is not. */
  notice: string | null;
  /** Threads of the WASM backend (1 without cross-origin isolation). */
  threads: number;
  /** The weights that run: int8 only on WASM, for a model with an int8 file, when asked for. */
  weights: WasmWeights;
}

export type WorkerEvent =
  | { type: 'status'; id: number; phase: LoadPhase; modelId: string; info?: BackendInfo; loadMs?: number }
  | { type: 'progress'; id: number; loaded: number; total: number; /** Read from the browser's model cache. */ cached?: boolean }
  | {
      /** The sampler's start, once the model is loaded: x_0 = noise · σ_0, before the first step. */
      type: 'start';
      id: number;
      steps: number;
      shape: [number, number, number, number];
      x: Float32Array;
      /** float32(sigma_0), the noise level of x. */
      sigma: number;
    }
  | {
      type: 'step';
      id: number;
      step: number;
      steps: number;
      shape: [number, number, number, number];
      x: Float32Array;
      denoised: Float32Array;
      /** float32(sigma_{i+1}): the noise level of x after the step (0 after the last). */
      sigma: number;
      /** Attention of the evaluation the step ends on, when asked for (`attentionImage`). */
      attention: StepAttention | null;
      elapsedMs: number;
      msPerStep: number;
      msPerForward: number;
    }
  | {
      type: 'result';
      id: number;
      shape: [number, number, number, number];
      x: Float32Array;
      elapsedMs: number;
      msPerStep: number;
      msPerForward: number;
      forwards: number;
      /** Forwards that were WebGPU graph replays (`graph-capture.ts`). */
      replayed: number;
      /** Why WebGPU graph capture is off for this model (null while on, or on WASM). */
      captureNote: string | null;
      backend: Backend;
    }
  | { type: 'error'; id: number; message: string; stage: 'load' | 'generate'; cancelled: boolean };
