/**
 * One sampler run in the inference worker, as the studio and the compare view both see it: the
 * worker client, the one reducer of its events, and the recorded trajectory. The worker's `start`
 * event carries x_0 = noise · σ_0, so nothing outside the sampler recomputes the schedule.
 *
 * A run that is cancelled or fails never leaves half-denoised images behind as a result: the
 * session goes back to the last finished run (its trajectory and pixels), or to nothing.
 */
import type { InferenceClient } from '@/inference/client';
import type { Backend, BackendRequest, GenerateParams, LoadPhase, ModelSpec, WasmWeights, WorkerEvent } from '@/inference/protocol';
import { toBytes } from '@/sampling/pixels';
import { Trajectory } from './trajectory';

export type RunStatus = 'idle' | 'running' | 'done' | 'error';

export interface ModelLoadState {
  state: 'idle' | 'loading' | 'ready' | 'error';
  phase: LoadPhase | null;
  /** Which model and backend request the state is about ("id|backend"). */
  key: string | null;
  loadedBytes: number;
  totalBytes: number;
  /** The file came from the browser's model cache, not the network. */
  cached: boolean;
  loadMs: number | null;
}

/** Final pixels of a finished run, row-major over [B, C, H, W] (the contract's mapping). */
export interface RunResult {
  shape: [number, number, number, number];
  pixels: Uint8Array;
}

/** Plain facts about the shown trajectory (its floats stay in `RunSession.trajectory`). */
export interface TrajectoryInfo {
  /** Differs for every run, so that views can tell runs apart. */
  run: number;
  /** Steps recorded so far, and of the run. */
  recorded: number;
  steps: number;
  /** The image whose attention is recorded, or null. */
  attentionImage: number | null;
  /** The model and parameters of the run (for export names and captions). */
  model: string;
  params: GenerateParams;
}

/** Where a run stopped when it was cancelled (1-based step count). */
export interface Interrupted {
  step: number;
  steps: number;
  /** A finished run is shown instead of the interrupted one. */
  restored: boolean;
}

/** Everything a view shows about the session, in plain values. */
export interface RunState {
  status: RunStatus;
  error: string | null;
  load: ModelLoadState;
  backend: Backend | null;
  threads: number | null;
  /** The weights that run (int8 only on WASM). */
  weights: WasmWeights | null;
  /** Why the backend is not the one asked for, when it is not. */
  backendNotice: string | null;
  /** Steps finished, and of how many. */
  step: number;
  steps: number;
  startedAt: number | null;
  elapsedMs: number;
  msPerStep: number | null;
  msPerForward: number | null;
  /** Of the last run's forwards, how many were WebGPU graph replays, and why capture is off if it is. */
  replayed: number | null;
  captureNote: string | null;
  result: RunResult | null;
  trajectory: TrajectoryInfo | null;
  /** Set when the last run was cancelled; cleared by the next run. */
  interrupted: Interrupted | null;
}

export const IDLE_LOAD: ModelLoadState = { state: 'idle', phase: null, key: null, loadedBytes: 0, totalBytes: 0, cached: false, loadMs: null };

export const IDLE_RUN: RunState = {
  status: 'idle',
  error: null,
  load: IDLE_LOAD,
  backend: null,
  threads: null,
  weights: null,
  backendNotice: null,
  step: 0,
  steps: 0,
  startedAt: null,
  elapsedMs: 0,
  msPerStep: null,
  msPerForward: null,
  replayed: null,
  captureNote: null,
  result: null,
  trajectory: null,
  interrupted: null,
};

/** The id of a (model and its files, backend request) pair, as the load state names it. */
export const loadKey = (spec: ModelSpec, backend: BackendRequest) => `${spec.id}${spec.int8 ? '+int8' : ''}|${backend}`;

interface Finished {
  trajectory: Trajectory;
  info: TrajectoryInfo;
  result: RunResult;
  timings: Pick<RunState, 'step' | 'steps' | 'elapsedMs' | 'msPerStep' | 'msPerForward'>;
}

let nextRun = 1;

export class RunSession {
  private client: InferenceClient | null = null;
  private current: RunState = IDLE_RUN;
  private runId = 0;
  private loadId = 0;
  private spec: ModelSpec | null = null;
  private params: GenerateParams | null = null;
  /** The run in progress once it has started, else the last finished run. */
  private shown: Trajectory | null = null;
  private finished: Finished | null = null;
  private settle: ((status: RunStatus) => void) | null = null;

  constructor(
    private readonly createClient: () => InferenceClient,
    /** Called after every change of `state`. */
    private readonly onChange: (state: RunState) => void,
  ) {}

  get state(): RunState {
    return this.current;
  }

  /** The trajectory the state describes (`state.trajectory`), or null. */
  get trajectory(): Trajectory | null {
    return this.shown;
  }

  get running(): boolean {
    return this.runId !== 0;
  }

  /** Loads a model on a backend ahead of a run, unless it is loaded or loading. */
  preload(spec: ModelSpec, backend: BackendRequest): void {
    const key = loadKey(spec, backend);
    if (this.current.load.key === key && this.current.load.state !== 'error') return;
    this.update({
      load: { ...IDLE_LOAD, state: 'loading', key, totalBytes: spec.bytes },
      error: null,
      status: this.current.status === 'error' ? this.restingStatus() : this.current.status,
    });
    this.loadId = this.worker().load(spec, backend);
  }

  /**
   * Starts a run (loading the model first if needed); resolves with how it ended: 'done',
   * 'error', or the status the session went back to after a cancel.
   */
  start(spec: ModelSpec, backend: BackendRequest, params: GenerateParams): Promise<RunStatus> {
    if (this.running) return Promise.resolve(this.current.status);
    const key = loadKey(spec, backend);
    const load = this.current.load.key !== key || this.current.load.state === 'error' ? { ...IDLE_LOAD, state: 'loading' as const, key, totalBytes: spec.bytes } : this.current.load;
    this.spec = spec;
    this.params = params;
    this.update({ load, status: 'running', error: null, step: 0, steps: params.steps, startedAt: performance.now(), elapsedMs: 0, msPerStep: null, msPerForward: null, replayed: null, captureNote: null, result: null, interrupted: null });
    const done = new Promise<RunStatus>((resolve) => (this.settle = resolve));
    this.runId = this.worker().generate(spec, backend, params);
    return done;
  }

  cancel(): void {
    if (this.running) this.client?.cancel(this.runId);
  }

  /** Ends the worker; a run in progress ends as cancelled. */
  terminate(): void {
    const wasRunning = this.running;
    this.client?.terminate();
    this.client = null;
    this.current = { ...this.current, load: IDLE_LOAD };
    if (wasRunning) this.endRun(true, null);
  }

  private worker(): InferenceClient {
    if (!this.client) {
      this.client = this.createClient();
      this.client.subscribe((event) => this.onEvent(event));
    }
    return this.client;
  }

  private update(change: Partial<RunState>): void {
    this.current = { ...this.current, ...change };
    this.onChange(this.current);
  }

  /** What the session shows when no run is going: the last finished run, or nothing. */
  private restingStatus(): RunStatus {
    return this.finished ? 'done' : 'idle';
  }

  private onEvent(event: WorkerEvent): void {
    const isRun = this.runId !== 0 && event.id === this.runId;
    // Load events come from the preload, or from the run that waits for (or redoes) it.
    const isLoad = isRun || event.id === this.loadId || event.id === 0;
    switch (event.type) {
      case 'status': {
        if (!isLoad) return;
        const { load } = this.current;
        const info = event.info;
        this.update({
          load: { ...load, state: event.phase === 'ready' ? 'ready' : 'loading', phase: event.phase, loadMs: event.loadMs ?? load.loadMs },
          backend: info?.backend ?? this.current.backend,
          threads: info?.threads ?? this.current.threads,
          weights: info?.weights ?? this.current.weights,
          backendNotice: info ? info.notice : this.current.backendNotice,
        });
        return;
      }
      case 'progress':
        if (isLoad) this.update({ load: { ...this.current.load, loadedBytes: event.loaded, totalBytes: event.total, cached: event.cached ?? false } });
        return;
      case 'start': {
        if (!isRun || !this.spec || !this.params) return;
        const layers = this.spec.attention ?? [];
        const image = this.params.attentionImage;
        const attentionImage = layers.length > 0 && image != null ? Math.min(Math.max(0, image), event.shape[0] - 1) : null;
        this.shown = new Trajectory(event.shape, event.steps, event.x, layers, attentionImage);
        this.update({ steps: event.steps, trajectory: { run: nextRun++, recorded: 0, steps: event.steps, attentionImage, model: this.spec.id, params: this.params } });
        return;
      }
      case 'step': {
        if (!isRun || !this.shown || !this.current.trajectory) return;
        this.shown.push({ sigma: event.sigma, x: event.x, denoised: event.denoised, attention: event.attention });
        this.update({
          trajectory: { ...this.current.trajectory, recorded: this.shown.recorded },
          step: event.step + 1,
          steps: event.steps,
          elapsedMs: event.elapsedMs,
          msPerStep: event.msPerStep,
          msPerForward: event.msPerForward,
        });
        return;
      }
      case 'result': {
        if (!isRun) return;
        const result: RunResult = { shape: event.shape, pixels: toBytes(event.x) };
        const timings = { step: this.current.steps, steps: this.current.steps, elapsedMs: event.elapsedMs, msPerStep: event.msPerStep, msPerForward: event.msPerForward };
        if (this.shown && this.current.trajectory) this.finished = { trajectory: this.shown, info: this.current.trajectory, result, timings };
        this.runId = 0;
        this.update({ ...timings, status: 'done', backend: event.backend, startedAt: null, result, replayed: event.replayed, captureNote: event.captureNote });
        this.settle?.('done');
        return;
      }
      case 'error': {
        if (!isLoad) return;
        if (event.stage === 'load') this.update({ load: { ...this.current.load, state: 'error', phase: null } });
        if (isRun) this.endRun(event.cancelled, event.cancelled ? null : event.message);
        else if (!event.cancelled) this.update({ status: 'error', error: event.message, startedAt: null });
        return;
      }
    }
  }

  /** A run that did not finish: back to the last finished run (or nothing), saying why. */
  private endRun(cancelled: boolean, error: string | null): void {
    const interrupted: Interrupted | null = cancelled ? { step: this.current.step, steps: this.current.steps, restored: this.finished !== null } : null;
    this.runId = 0;
    const back = this.finished;
    this.shown = back?.trajectory ?? null;
    const status: RunStatus = error !== null ? 'error' : this.restingStatus();
    this.update({
      ...(back ? back.timings : { step: 0, elapsedMs: 0, msPerStep: null, msPerForward: null }),
      status,
      error,
      startedAt: null,
      result: back?.result ?? null,
      trajectory: back?.info ?? null,
      interrupted,
    });
    this.settle?.(status);
  }
}
