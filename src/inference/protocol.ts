/**
 * The typed message protocol between the app and the inference worker (`worker.ts`).
 * Requests go in (load / generate / cancel), events come out (status / progress / step /
 * result / error). Float32Array payloads are sent as transferables.
 */

/** An execution backend that actually runs a model. */
export type Backend = 'webgpu' | 'wasm';
/** What the app asks for: `auto` takes WebGPU when a hardware adapter is granted, else WASM. */
export type BackendRequest = 'auto' | Backend;

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'webgpu', 'wasm'];

/** Everything the worker needs to know about a model (taken from the manifest). */
export interface ModelSpec {
  id: string;
  /** Absolute URL of the .onnx file. */
  url: string;
  sha256: string;
  bytes: number;
  channels: number;
  resolution: number;
  numClasses: number;
  edm: { sigma_min: number; sigma_max: number; rho: number; sigma_data: number };
}

export interface GenerateParams {
  seed: number;
  steps: number;
  /** Class index, or null for unconditional. */
  classLabel: number | null;
  guidance: number;
  batch: number;
}

export type WorkerRequest =
  | { type: 'load'; id: number; model: ModelSpec; backend: BackendRequest }
  | { type: 'generate'; id: number; model: ModelSpec; backend: BackendRequest; params: GenerateParams }
  | { type: 'cancel'; id: number };

export type LoadPhase = 'selecting-backend' | 'downloading' | 'verifying' | 'creating-session' | 'ready';

export interface BackendInfo {
  backend: Backend;
  /** Why the backend is not the one asked for (a fallback to WASM), when it is not. */
  notice: string | null;
  /** Threads of the WASM backend (1 without cross-origin isolation). */
  threads: number;
}

export type WorkerEvent =
  | { type: 'status'; id: number; phase: LoadPhase; modelId: string; info?: BackendInfo; loadMs?: number }
  | { type: 'progress'; id: number; loaded: number; total: number }
  | {
      type: 'step';
      id: number;
      step: number;
      steps: number;
      shape: [number, number, number, number];
      x: Float32Array;
      denoised: Float32Array;
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
      backend: Backend;
    }
  | { type: 'error'; id: number; message: string; stage: 'load' | 'generate'; cancelled: boolean };
