/**
 * The app's handle on the inference worker: typed requests in, typed events out.
 * Owns the module worker (`new Worker(new URL(...), { type: 'module' })`).
 */
import type { BackendRequest, GenerateParams, ModelSpec, WorkerEvent, WorkerRequest } from './protocol';

export type InferenceListener = (event: WorkerEvent) => void;

export class InferenceClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly listeners = new Set<InferenceListener>();

  constructor(worker?: Worker) {
    this.worker = worker ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'diffit-inference' });
    this.worker.onmessage = (event: MessageEvent<WorkerEvent>) => {
      for (const listener of this.listeners) listener(event.data);
    };
    this.worker.onerror = (event: ErrorEvent) => {
      const message = `The inference worker crashed: ${event.message || 'unknown error'}`;
      for (const listener of this.listeners) listener({ type: 'error', id: 0, stage: 'load', message, cancelled: false });
    };
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: InferenceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts loading a model on a backend; returns the request id that its events carry. */
  load(model: ModelSpec, backend: BackendRequest): number {
    return this.send({ type: 'load', id: this.nextId++, model, backend });
  }

  /** Starts a generation (loading the model first if needed); returns its request id. */
  generate(model: ModelSpec, backend: BackendRequest, params: GenerateParams): number {
    return this.send({ type: 'generate', id: this.nextId++, model, backend, params });
  }

  cancel(id: number): void {
    this.send({ type: 'cancel', id });
  }

  terminate(): void {
    this.worker.terminate();
    this.listeners.clear();
  }

  private send(request: WorkerRequest): number {
    this.worker.postMessage(request);
    return request.id;
  }
}
