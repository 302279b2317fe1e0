// Whole images, as the app makes them: the app's own samplers (src/sampling/, bundled into one ES
// module by bundleSampling) driving an onnxruntime-web session through CPU tensors, one session.run
// per model evaluation, guidance as one forward of 2B inside the run's guide; or, as the app runs
// WebGPU, through its graph capture (src/inference/graph-capture.ts, bundled with them). Timed
// click-free: from the first evaluation to the final x. run-bundle.mjs times these on WebGPU and
// checks the final x against the same run on the same bundle's WASM backend.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { quartiles } from '../stats.mjs';
import { BenchError } from './webgpu-node.mjs';

// The sampler and guide names the app offers (the contract both sides read; it travels with the checkout).
const contract = JSON.parse(readFileSync(new URL('../../contracts/sampling.json', import.meta.url), 'utf8'));
const SAMPLER_NAMES = Object.keys(contract.samplers);
const GUIDE_NAMES = Object.keys(contract.guides).filter((name) => !name.startsWith('$'));

/** What every whole image is made with, and the untimed runs before the timed ones; the results file repeats it. */
export const IMAGE_RUN_SETTINGS = { seed: 0, class: 1, guidance: 2, warmup: 1 };

/**
 * The runs timed by default: issue 10's image (18 Heun steps, guidance 2 at every step, one image)
 * and a first visit's sampler and guide (DPM-Solver++(2M) 8 in the interval guide) at its batch of 4,
 * with class 1 and guidance 2.
 */
export const IMAGE_RUNS = 'heun:18:every:1,dpmpp-2m:8:interval:4';

/**
 * `SAMPLER:STEPS:GUIDE:BATCH[:attention|:attention-worker],...` (or `none`) -> [{ key, sampler, steps, guide,
 * batch, attention, attentionWorker }]; a bad one is a BenchError. `:attention` records attention as the app does
 * by default (`attentionRecorder`), summarised inline; `:attention-worker` summarises it in a second thread, as
 * the app does where a core is free of the model (src/inference/attention-summariser.ts).
 */
export function parseImageRuns(text) {
  if (text === 'none') return [];
  return text.split(',').map((item) => {
    const [sampler, steps, guide, batch, flag, extra] = item.split(':');
    const n = Number(steps);
    const b = Number(batch);
    if (extra !== undefined || ![undefined, 'attention', 'attention-worker'].includes(flag) || !SAMPLER_NAMES.includes(sampler) || !Number.isInteger(n) || n < 1 || !GUIDE_NAMES.includes(guide) || !Number.isInteger(b) || b < 1) {
      throw new BenchError(`--image-runs wants SAMPLER:STEPS:GUIDE:BATCH[:attention|:attention-worker] items (${SAMPLER_NAMES.join('|')}, steps >= 1, ${GUIDE_NAMES.join('|')}, batch >= 1) or none, got ${item}`);
    }
    return { key: `${sampler}:${n}:${guide}:${b}${flag ? `:${flag}` : ''}`, sampler, steps: n, guide, batch: b, attention: flag !== undefined, attentionWorker: flag === 'attention-worker' };
  });
}

/**
 * The app's attention worker (src/inference/attention-worker.ts) as a Node thread: the same
 * `AttentionSummary`, from the bundled module at `samplingFile`, behind the Worker interface that
 * `AttentionSummariser` uses.
 */
export function nodeAttentionWorker(samplingFile) {
  const thread = new Worker(new URL('./attention-worker-node.mjs', import.meta.url), { workerData: { sampling: pathToFileURL(samplingFile).href } });
  const worker = {
    onmessage: null,
    onerror: null,
    postMessage: (request, transfer) => thread.postMessage(request, transfer),
    terminate: () => void thread.terminate(),
  };
  thread.on('message', (data) => worker.onmessage?.({ data }));
  thread.on('error', (error) => worker.onerror?.({ message: error.message, preventDefault() {} }));
  return worker;
}

/**
 * What the app's worker does on the steps its timeline records, for an image run with `attention`: the
 * evaluation each step ends on (`endsStep`) also fetches the `attn_*` outputs, which the app's own
 * `AttentionSummariser` turns into the step's statistics and image 0's quantised weights: inline, or with
 * `attentionWorker` in a second thread (`nodeAttentionWorker` over the bundle at `samplingFile`) while the
 * next step runs. `settle()` waits for the summaries still out, as the app's result waits for its steps.
 * Null without `attention`. `steps` counts the steps recorded since `reset()`; `close()` ends the thread.
 */
export function attentionRecorder(sampling, model, run, samplingFile = null) {
  if (!run.attention) return null;
  const layers = model.attention ?? [];
  if (!layers.length) throw new BenchError(`${model.id} has no attention outputs to record (image run ${run.key})`);
  if (run.attentionWorker && !samplingFile) throw new BenchError(`image run ${run.key} needs the bundled samplers' file for its attention thread`);
  const summariser = new sampling.AttentionSummariser(run.attentionWorker, () => nodeAttentionWorker(samplingFile));
  if (run.attentionWorker && !summariser.offThread) throw new BenchError(`image run ${run.key}: the attention thread did not start`);
  let evaluation = 0;
  let pending = [];
  return {
    names: layers.map((l) => l.output),
    steps: 0,
    reset() {
      evaluation = 0;
      this.steps = 0;
    },
    /** Whether the next evaluation is one the app records. */
    wants() {
      return sampling.endsStep(run.sampler, evaluation++, run.steps);
    },
    /** Summarises one step's outputs; with the thread, their buffers move to it, all but those in `kept`. */
    keep(outputs, kept = []) {
      pending.push(summariser.summarise({ layers, resolution: model.resolution, images: run.batch, image: 0, outputs }, kept));
      this.steps += 1;
    },
    async settle() {
      const summaries = await Promise.all(pending);
      pending = [];
      if (summaries.some((s) => s === null)) throw new BenchError(`image run ${run.key}: the attention thread failed`);
    },
    close() {
      summariser.close();
    },
  };
}

/** A float output of a CPU session as float32 values (a float16 file returns its attention in float16). */
export async function floatValues(sampling, tensor) {
  const data = tensor.getData ? await tensor.getData() : tensor.data;
  return tensor.type === 'float16' && !(data instanceof Float32Array) ? sampling.float16ToFloat32(new Uint16Array(data.buffer, data.byteOffset, data.length)) : data;
}

/** The denoiser the samplers call, over `session` with CPU tensors; counts forwards and images, and records attention with `recorder`. */
function sessionDenoiser(ort, session, model, counts, sampling = null, recorder = null) {
  const chw = [model.channels, model.resolution, model.resolution];
  return async (x, sigma, labels) => {
    const n = labels.length;
    counts.forwards += 1;
    counts.images += n;
    const extra = recorder?.wants() ? recorder.names : [];
    const out = await session.run(
      {
        x: new ort.Tensor('float32', x, [n, ...chw]),
        sigma: new ort.Tensor('float32', sigma, [n]),
        class_label: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]),
      },
      ['denoised', ...extra],
    );
    const denoised = out.denoised.getData ? await out.denoised.getData() : out.denoised.data;
    if (extra.length) recorder.keep(new Map(await Promise.all(extra.map(async (name) => [name, await floatValues(sampling, out[name])]))), [denoised.buffer]);
    return denoised;
  };
}

/**
 * The app's graph capture (src/inference/graph-capture.ts, bundled with the samplers) as the denoiser the
 * samplers call, as the app runs WebGPU: one captured session per batch size met, made on first use with
 * every output bound to a GPU buffer as the app binds them (dims from one forward of `referenceSession`),
 * then replayed by every later call. Counts forwards and images into `counts`; `release()` frees the sessions.
 */
export function captureDenoiser(ort, bytes, sampling, model, referenceSession, counts = { forwards: 0, images: 0 }, recorder = null) {
  const chw = [model.channels, model.resolution, model.resolution];
  const dimsAt = outputDims(ort, referenceSession, model);
  const graphs = new Map(); // batch -> captured graph
  const denoise = async (x, sigma, labels) => {
    const n = labels.length;
    counts.forwards += 1;
    counts.images += n;
    if (!graphs.has(n)) graphs.set(n, await sampling.CapturedGraph.create(ort, bytes, n, chw, await dimsAt(n)));
    const extra = recorder?.wants() ? recorder.names : [];
    const out = await graphs.get(n).run(x, Float32Array.from(sigma), Int32Array.from(labels), extra);
    if (extra.length) recorder.keep(out.outputs, [out.denoised.buffer]);
    return out.denoised;
  };
  const release = async () => {
    for (const graph of graphs.values()) await graph.release().catch(() => undefined);
  };
  return { denoise, counts, release };
}

/** Every output's dims at batch n, from one forward of `session` (the WASM reference). */
function outputDims(ort, session, model) {
  const cache = new Map();
  return async (n) => {
    if (!cache.has(n)) {
      const size = n * model.channels * model.resolution * model.resolution;
      const out = await session.run({
        x: new ort.Tensor('float32', new Float32Array(size), [n, model.channels, model.resolution, model.resolution]),
        sigma: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
        class_label: new ort.Tensor('int64', new BigInt64Array(n), [n]),
      });
      cache.set(n, new Map(Object.entries(out).map(([name, t]) => [name, t.dims])));
    }
    return cache.get(n);
  };
}

/** One image run's options: IMAGE_RUN_SETTINGS (no class for an unconditional model) and EDM's constants. */
function sampleOptions(model, run, edm) {
  const { seed, class: label, guidance } = IMAGE_RUN_SETTINGS;
  return {
    seed,
    steps: run.steps,
    shape: [run.batch, model.channels, model.resolution, model.resolution],
    classLabel: model.numClasses > 0 ? label % model.numClasses : null,
    guidance,
    numClasses: model.numClasses,
    edm,
  };
}

/**
 * Times `runs` image runs (after `warmup`) of `run` on `session`: median [IQR] ms per run, forwards
 * and images through the network per run, and the largest difference of the final x from
 * `referenceSession`'s run (the same bundle's WASM backend). `sampling` is the bundled module
 * (SAMPLERS, GUIDES, CapturedGraph); `edm` the manifest's constants. With `capture` ({ bytes }: the
 * model file) the forwards go through the app's graph capture instead of `session`, as the app runs
 * WebGPU: the warm-up runs record each batch size's graph, the timed runs replay.
 */
export async function timeImageRun({ ort, session, referenceSession, sampling, model, run, edm, runs, warmup, capture = null, samplingFile = null }) {
  const opts = { ...sampleOptions(model, run, edm), guidanceInterval: sampling.GUIDES[run.guide].interval };
  const sample = sampling.SAMPLERS[run.sampler];
  const reference = await sample(sessionDenoiser(ort, referenceSession, model, { forwards: 0, images: 0 }), opts);
  const times = [];
  let last;
  const counts = { forwards: 0, images: 0 };
  const recorder = attentionRecorder(sampling, model, run, samplingFile);
  // With `capture` ({ bytes }): the app's captured sessions, one per batch size, kept across the runs.
  const captured = capture && captureDenoiser(ort, capture.bytes, sampling, model, referenceSession, counts, recorder);
  const denoise = captured ? captured.denoise : sessionDenoiser(ort, session, model, counts, sampling, recorder);
  try {
    for (let i = 0; i < warmup + runs; i++) {
      Object.assign(counts, { forwards: 0, images: 0 });
      recorder?.reset();
      const t0 = performance.now();
      last = await sample(denoise, opts);
      await recorder?.settle(); // the image is done when its last step's summary is
      if (i >= warmup) times.push(performance.now() - t0);
    }
  } finally {
    recorder?.close();
    await captured?.release();
  }
  let diff = 0;
  for (let k = 0; k < last.length; k++) diff = Math.max(diff, Math.abs(last[k] - reference[k]));
  if (!Number.isFinite(diff)) throw new Error('the final x has non-finite values');
  return { ...quartiles(times), forwards: counts.forwards, network_images: counts.images, ...(recorder ? { attention_steps: recorder.steps } : {}), max_abs_diff_vs_wasm: diff };
}

/**
 * Quality samples (`--samples PER_CLASS`): images to judge a file by, class accuracy and FD_clf, with
 * training/scripts/compare_weight_storage.py. A first visit's sampler and guide (the contract's `first_visit`) at its default
 * steps, guidance 2, PER_CLASS images of each class in runs of `batch` images of one class; run r (counted
 * over all classes) starts from the app's noise of seed `seed` + r, so two files drawn with the same settings
 * see the same noise and their images pair up.
 */
export const SAMPLES = { sampler: contract.first_visit.sampler, guide: contract.first_visit.guide, guidance: 2, batch: 10, seed: 1000 };

/** The file name the quality samples of a model row are written to (no '@': the device call brings back plain names). */
export const samplesFile = (id) => `samples-${id.replace('@', '.')}.u8`;

/**
 * Draws the quality samples of `model` through `denoise` (see SAMPLES): uint8 pixels, class-major
 * [classes × perClass, C, H, W], the forwards and the milliseconds it took.
 */
export async function drawSamples({ sampling, model, edm, perClass, denoise }) {
  if (!(model.numClasses > 0)) throw new Error(`${model.id} has no classes to draw samples of`);
  if (!Number.isInteger(perClass / SAMPLES.batch) || perClass < SAMPLES.batch) throw new Error(`--samples ${perClass} is not a multiple of ${SAMPLES.batch}`);
  const size = model.channels * model.resolution * model.resolution;
  const pixels = new Uint8Array(model.numClasses * perClass * size);
  const sample = sampling.SAMPLERS[SAMPLES.sampler];
  const steps = contract.samplers[SAMPLES.sampler].default_steps;
  const t0 = performance.now();
  let run = 0;
  for (let label = 0; label < model.numClasses; label++) {
    for (let start = 0; start < perClass; start += SAMPLES.batch, run++) {
      const x = await sample(denoise, {
        seed: SAMPLES.seed + run,
        steps,
        shape: [SAMPLES.batch, model.channels, model.resolution, model.resolution],
        classLabel: label,
        guidance: SAMPLES.guidance,
        guidanceInterval: sampling.GUIDES[SAMPLES.guide].interval,
        numClasses: model.numClasses,
        edm,
      });
      pixels.set(sampling.toBytes(x), run * SAMPLES.batch * size);
    }
  }
  return { pixels, ms: performance.now() - t0, steps };
}

/**
 * Bundles the app's samplers and guides (src/sampling/samplers.ts, src/sampling/heun.ts, with the
 * contract they read), its graph capture (src/inference/graph-capture.ts) and its attention summary
 * (src/lib/attention-map.ts) into one ES module at `outFile`, with rolldown (a dependency of Vite):
 * prepare.sh carries it to the GPU machine, which has no node_modules.
 */
export async function bundleSampling(root, outFile) {
  const { build } = await import('rolldown');
  const entry = '\0app-sampling';
  await build({
    input: entry,
    plugins: [
      {
        name: 'app-sampling',
        resolveId: (id) => (id === entry ? entry : null),
        load: (id) =>
          id === entry
            ? [
                `export { SAMPLERS, endsStep, evaluationsPerRun } from ${JSON.stringify(`${root}/src/sampling/samplers.ts`)};`,
                `export { GUIDES } from ${JSON.stringify(`${root}/src/sampling/heun.ts`)};`,
                `export { toBytes } from ${JSON.stringify(`${root}/src/sampling/pixels.ts`)};`,
                `export { CapturedGraph, float16ToFloat32 } from ${JSON.stringify(`${root}/src/inference/graph-capture.ts`)};`,
                `export { summariseAttention, tokenDistances } from ${JSON.stringify(`${root}/src/lib/attention-map.ts`)};`,
                `export { AttentionSummariser, AttentionSummary, answerAttention } from ${JSON.stringify(`${root}/src/inference/attention-summariser.ts`)};`,
              ].join('\n')
            : null,
      },
    ],
    resolve: { alias: { '@': `${root}/src` } },
    output: { file: outFile, format: 'esm' },
    logLevel: 'warn',
  });
  return outFile;
}

if (process.argv[1]?.endsWith('image-run.mjs') && process.argv[2] === 'bundle') {
  // scripts/gpu-bench/prepare.sh: node scripts/gpu-bench/image-run.mjs bundle <root> <out.mjs>
  await bundleSampling(process.argv[3], process.argv[4]);
  console.log(`bundled the app's samplers into ${process.argv[4]}`);
}
