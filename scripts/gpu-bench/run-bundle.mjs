// One onnxruntime-web bundle on the WebGPU adapter, in a process of its own (a bundle that aborts
// cannot take the other down), in each IO mode in turn: ms per forward of each model at each
// batch, `denoised` only, and the largest difference from the same bundle's WASM backend on the
// same inputs. The modes share the process, so later ones reuse the shaders the first compiled
// (the GPU call's time). Started by scripts/gpu-bench/bench.mjs with one JSON argument; writes its
// JSON result to `out` after every mode and model, so a crash keeps what was done before it.
//
// Modes (MODES in bench.mjs; docs/gpu-bench.md):
//   plain    CPU tensors in, `denoised` back as a CPU tensor (the bench's first numbers);
//   gpu-io   inputs are GPU tensors made once over buffers of ORT's own device, rewritten per
//            forward with queue.writeBuffer; `denoised` stays on the GPU (preferredOutputLocation)
//            and is downloaded with getData(), then disposed: the app's cost per evaluation;
//   capture  gpu-io with enableGraphCapture, one session per batch (freeDimensionOverrides), and
//            `denoised` written into a pre-allocated GPU buffer passed as a fetch; the first run
//            records the GPU commands, later ones replay them. For the C++ WebGPU EP the buffers'
//            registrations are pinned (pinRegistration below).
//   capture-nchw  capture with JSEP's `preferredLayout: 'NCHW'` (its default, NHWC, wraps every
//            convolution in layout transposes): fewer GPU dispatches per forward.
// Every timed row also gives `dispatches`, the compute dispatches of its last forward (counted on
// GPUComputePassEncoder.dispatchWorkgroups, which a captured graph's replay calls too), `submits`,
// its GPUQueue.submit calls (the read-back's included), and the first batch of each row `kernels`,
// those dispatches by program name (the pipeline's label).
/* global GPUBufferUsage, GPUMapMode -- WebGPU's, set on globalThis by installWebGPU */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { quartiles } from '../stats.mjs';
import { captureDenoiser, drawSamples, IMAGE_RUN_SETTINGS, SAMPLES, samplesFile, timeImageRun } from './image-run.mjs';
import { chooseAdapter, installWebGPU } from './webgpu-node.mjs';

const job = JSON.parse(process.argv[2]);
// job: { bundle, file, modes, ortDir, webgpuDir, allowFallback, runs, warmup, batches,
//        models: [{ id, path, referencePath (float16 rows: the float32 file), precision, channels, resolution, numClasses, edm }], out,
//        imageRuns: [{ key, sampler, steps, guide, batch }], imageRepeats, sampling (the bundled samplers) }

/** Standard normal noise from a fixed seed (mulberry32 + Box–Muller): the same feeds every run. */
function normal(n, seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

const gpu = await installWebGPU(job.webgpuDir);
const dispatches = countDispatches(globalThis.GPUComputePassEncoder, globalThis.GPUQueue);
const { adapter } = await chooseAdapter(gpu, { allowFallback: job.allowFallback }); // the parent checked; this fails the same way
const ort = await import(pathToFileURL(resolve(job.ortDir, job.file)).href);
ort.env.wasm.numThreads = 1; // the WASM reference only; Node has no threaded-WASM workers here
ort.env.logLevel = 'error';
const result = { bundle: job.bundle, file: job.file, version: ort.env.versions.web ?? ort.env.versions.common, modes: {} };
const base = { graphOptimizationLevel: 'all', logSeverityLevel: 3 };
const webgpu = { ...base, executionProviders: ['webgpu'] };
/**
 * Counts compute dispatches by the label of the pipeline set before them (ORT names its
 * pipelines after the program: 'MatMul', 'Transpose', ...), and queue submits (the forward's own,
 * and the read-back's). `take()` returns what was counted since the last take:
 * { total, kernels: { label: n }, submits }.
 */
function countDispatches(PassEncoder, Queue) {
  const { setPipeline, dispatchWorkgroups } = PassEncoder.prototype;
  const { submit } = Queue.prototype;
  const current = new WeakMap();
  let kernels = {};
  let submits = 0;
  Queue.prototype.submit = function (...args) {
    submits++;
    return submit.apply(this, args);
  };
  PassEncoder.prototype.setPipeline = function (pipeline) {
    current.set(this, pipeline?.label || '(unlabelled)');
    return setPipeline.call(this, pipeline);
  };
  PassEncoder.prototype.dispatchWorkgroups = function (...args) {
    const label = current.get(this) ?? '(unlabelled)';
    kernels[label] = (kernels[label] ?? 0) + 1;
    return dispatchWorkgroups.apply(this, args);
  };
  return {
    take() {
      const taken = { total: Object.values(kernels).reduce((a, b) => a + b, 0), kernels, submits };
      kernels = {};
      submits = 0;
      return taken;
    },
  };
}

/** The error's first line, and the next one where the first ends in ':' (Dawn's "no overload matched for X:"). */
const message = (e) => {
  const [first, ...rest] = String(e?.message ?? e).split('\n').map((l) => l.trim()).filter(Boolean);
  return first?.endsWith(':') && rest.length ? `${first} ${rest[0]}` : (first ?? 'no message');
};
const say = (mode, text) => console.error(`${job.bundle}: ${mode}: ${text}`);

/**
 * The inputs of one batch: x (seed 7, the one checked), another x (seed 8) that every forward but
 * the last one feeds, so a mode that missed a new input would fail the check; sigma = 1, class 0.
 */
function inputs(m, batch) {
  const shape = [batch, m.channels, m.resolution, m.resolution];
  const size = shape.reduce((p, d) => p * d, 1);
  return { shape, x: normal(size, 7), xOther: normal(size, 8), sigma: new Float32Array(batch).fill(1), labels: new BigInt64Array(batch).fill(0n) };
}

/** The WASM session a model's WebGPU results are checked against: a float16-compute file's is the float32 file it was made from. */
function openReference(m, bytes) {
  return ort.InferenceSession.create(m.referencePath ? readFileSync(m.referencePath) : bytes, { ...base, executionProviders: ['wasm'] });
}

/**
 * The same bundle's WASM outputs for x (seed 7) at every batch: `denoised` to check against, and
 * every output's dims (capture pre-allocates `denoised`). Once per model, for all the modes.
 */
const references = new Map();
async function reference(m, bytes) {
  if (!references.has(m.id)) {
    const session = await openReference(m, bytes);
    const byBatch = {};
    try {
      for (const batch of job.batches) {
        const data = inputs(m, batch);
        const out = await session.run({
          x: new ort.Tensor('float32', data.x, data.shape),
          sigma: new ort.Tensor('float32', data.sigma, [batch]),
          class_label: new ort.Tensor('int64', data.labels, [batch]),
        });
        byBatch[batch] = { dims: Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.dims])), denoised: out.denoised.data };
      }
    } finally {
      await session.release();
    }
    references.set(m.id, byBatch);
  }
  return references.get(m.id);
}

/** A GPU buffer for a tensor of `bytes` (rounded up to 16: no shader reads past its end). */
function gpuBuffer(device, bytes) {
  return device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
}

/** The feeds as GPU tensors over buffers of ORT's device, and how to rewrite them per forward. */
function gpuFeeds(device, data, batch) {
  const x = gpuBuffer(device, data.x.byteLength);
  const sigma = gpuBuffer(device, data.sigma.byteLength);
  const labels = gpuBuffer(device, data.labels.byteLength);
  return {
    buffers: [x, sigma, labels],
    feeds: {
      x: ort.Tensor.fromGpuBuffer(x, { dataType: 'float32', dims: data.shape }),
      sigma: ort.Tensor.fromGpuBuffer(sigma, { dataType: 'float32', dims: [batch] }),
      class_label: ort.Tensor.fromGpuBuffer(labels, { dataType: 'int64', dims: [batch] }),
    },
    write(xData) {
      device.queue.writeBuffer(x, 0, xData);
      device.queue.writeBuffer(sigma, 0, data.sigma);
      device.queue.writeBuffer(labels, 0, data.labels);
    },
    destroy() {
      for (const b of [x, sigma, labels]) b.destroy();
    },
  };
}

/**
 * Copies `bytes` of a GPU buffer back to the CPU through one staging buffer, as ORT's own
 * downloader does for its outputs; commands ORT submitted before are ordered before the copy.
 */
function reader(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return {
    async read() {
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const data = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return data;
    },
    destroy: () => staging.destroy(),
  };
}

/**
 * onnxruntime-web 1.30 with the C++ WebGPU EP (ort.webgpu.bundle) registers each gpu-buffer
 * tensor's GPUBuffer with the WASM module before a run (an imported WGPUBuffer handle, kept on
 * the GPUBuffer under a private symbol with a reference count) and unregisters it after the run,
 * which releases the handle. A captured graph keeps the handles of the run it recorded, while
 * with graph capture the inputs and outputs are bound only once: later replays then read released
 * handles (seen on lavapipe: outputs stuck at the first forward's, or "no overload matched for
 * createBindGroup"). The symbol shows on a gpu-buffer output of a plain session; found, it is
 * returned so that pinRegistration can keep each registration alive. JSEP keeps no such symbol:
 * undefined, nothing to pin.
 */
async function registrationSymbol(bytes, m) {
  const session = await ort.InferenceSession.create(bytes, { ...webgpu, preferredOutputLocation: { denoised: 'gpu-buffer' } });
  try {
    const data = inputs(m, 1);
    const out = await session.run({ x: new ort.Tensor('float32', data.x, data.shape), sigma: new ort.Tensor('float32', data.sigma, [1]), class_label: new ort.Tensor('int64', data.labels, [1]) }, ['denoised']);
    const symbol = Object.getOwnPropertySymbols(out.denoised.gpuBuffer).find((s) => s.description === 'gpuBufferMetadata');
    out.denoised.dispose();
    return symbol;
  } finally {
    await session.release();
  }
}

const registration = { probed: false, symbol: undefined };

/** Keeps the registration of `buffer` from ever counting down to zero: the handle lives as long as the buffer. */
function pinRegistration(buffer, symbol) {
  let entry;
  const set = (v) => {
    entry = v && [v[0], Infinity];
  };
  Object.defineProperty(buffer, symbol, { configurable: true, get: () => entry, set });
}

/**
 * A forward per call for one mode at one batch: returns `forward(i)` (the i-th forward; the last
 * one feeds the checked x) resolving to `denoised` on the CPU, and `close()`.
 */
const MODES = {
  async plain(bytes, m, batch, data, state) {
    state.session ??= await ort.InferenceSession.create(bytes, webgpu);
    const session = state.session;
    const feeds = (x) => ({
      x: new ort.Tensor('float32', x, data.shape),
      sigma: new ort.Tensor('float32', data.sigma, [batch]),
      class_label: new ort.Tensor('int64', data.labels, [batch]),
    });
    const [checked, other] = [feeds(data.x), feeds(data.xOther)];
    return {
      async forward(last) {
        const out = await session.run(last ? checked : other, ['denoised']);
        return out.denoised.getData();
      },
      close: async () => undefined,
    };
  },

  async 'gpu-io'(bytes, m, batch, data, state) {
    state.session ??= await ort.InferenceSession.create(bytes, { ...webgpu, preferredOutputLocation: { denoised: 'gpu-buffer' } });
    const session = state.session;
    const device = await ort.env.webgpu.device; // ORT's device: its buffers are usable there
    const io = gpuFeeds(device, data, batch);
    return {
      async forward(last) {
        io.write(last ? data.x : data.xOther);
        const out = await session.run(io.feeds, ['denoised']);
        try {
          return await out.denoised.getData();
        } finally {
          out.denoised.dispose(); // hands the output's GPU buffer back to ORT
        }
      },
      close: async () => io.destroy(),
    };
  },

  capture: (bytes, m, batch, data, state, ref) => captured('capture', bytes, m, batch, data, ref, {}),
  'capture-nchw': (bytes, m, batch, data, state, ref) => captured('capture-nchw', bytes, m, batch, data, ref, { layout: 'NCHW' }),
};

/** `capture`, with JSEP's preferred layout where `layout` names one. */
async function captured(mode, bytes, m, batch, data, ref, { layout }) {
  if (!registration.probed) {
    registration.symbol = await registrationSymbol(bytes, m); // one symbol per WASM module: once a process
    registration.probed = true;
  }
  if (registration.symbol) result.modes[mode].note = 'GPU buffer registrations pinned (ORT-web 1.30 releases them after each run; scripts/gpu-bench/run-bundle.mjs)';
  // One session per batch: a captured graph has fixed shapes.
  const executionProviders = layout ? [{ name: 'webgpu', preferredLayout: layout }] : webgpu.executionProviders;
  const session = await ort.InferenceSession.create(bytes, { ...webgpu, executionProviders, enableGraphCapture: true, freeDimensionOverrides: { batch }, preferredOutputLocation: 'gpu-buffer' });
  const device = await ort.env.webgpu.device;
  const io = gpuFeeds(device, data, batch);
  const bytesOut = data.x.byteLength;
  const out = gpuBuffer(device, bytesOut);
  const fetches = { denoised: ort.Tensor.fromGpuBuffer(out, { dataType: 'float32', dims: ref.dims.denoised }) };
  const read = reader(device, out, bytesOut);
  if (registration.symbol) for (const b of [...io.buffers, out]) pinRegistration(b, registration.symbol);
  return {
    async forward(last) {
      io.write(last ? data.x : data.xOther);
      const results = await session.run(io.feeds, fetches);
      for (const t of Object.values(results)) if (t !== fetches.denoised) t.dispose();
      return read.read();
    },
    async close() {
      await session.release();
      read.destroy();
      out.destroy();
      io.destroy();
    },
  };
}

/** One mode, one model, every batch: the row of the results. */
async function measure(mode, m, bytes) {
  const row = { batches: {} };
  if (m.precision === 'float16' && !adapter.features.has('shader-f16')) return { batches: {}, error: 'the adapter has no shader-f16' };
  const state = {};
  for (const batch of job.batches) {
    let runner;
    try {
      const ref = (await reference(m, bytes))[batch];
      const data = inputs(m, batch);
      runner = await MODES[mode](bytes, m, batch, data, state, ref);
      const times = [];
      let last;
      const total = job.warmup + job.runs;
      let counted;
      for (let i = 0; i < total; i++) {
        dispatches.take();
        const t0 = performance.now();
        last = await runner.forward(i === total - 1);
        const dt = performance.now() - t0;
        if (i >= job.warmup) times.push(dt);
        counted = dispatches.take();
      }
      if (last.length !== ref.denoised.length) throw new Error(`denoised has ${last.length} values, the WASM reference ${ref.denoised.length}`);
      if (last.some((v) => !Number.isFinite(v))) throw new Error('denoised has non-finite values');
      let diff = 0;
      for (let i = 0; i < last.length; i++) diff = Math.max(diff, Math.abs(ref.denoised[i] - last[i]));
      const q = quartiles(times);
      const first = batch === job.batches[0];
      row.batches[batch] = { ...q, ms_per_image: q.median_ms / batch, max_abs_diff_vs_wasm: diff, dispatches: counted.total, submits: counted.submits, ...(first ? { kernels: counted.kernels } : {}) };
      say(mode, `${m.id}, batch ${batch}: median ${q.median_ms.toFixed(2)} ms/forward, ${counted.total} dispatches, ${counted.submits} submits, max |webgpu - wasm| ${diff.toExponential(1)}`);
    } catch (e) {
      row.batches[batch] = { error: message(e) };
      say(mode, `${m.id}, batch ${batch}: ${row.batches[batch].error}`);
    } finally {
      await runner?.close().catch(() => undefined);
    }
  }
  await state.session?.release().catch(() => undefined);
  const errors = job.batches.map((b) => row.batches[b]?.error);
  if (errors.every(Boolean) && new Set(errors).size === 1) row.error = errors[0]; // one cause for every batch: say it once
  return row;
}

for (const mode of job.modes) {
  if (!MODES[mode]) throw new Error(`unknown mode ${mode}`);
  result.modes[mode] = { models: {} };
  for (const m of job.models) {
    result.modes[mode].models[m.id] = await measure(mode, m, readFileSync(m.path));
    writeFileSync(job.out, JSON.stringify(result));
  }
}
if (job.imageRuns?.length) await imageRuns();
if (job.samples > 0) await qualitySamples();
writeFileSync(job.out, JSON.stringify(result));
process.exit(0); // Dawn's device keeps the event loop alive

/**
 * Whole images per model on a plain WebGPU session, each checked against WASM; where `job.imageCapture`
 * (the JSEP bundles, which the app runs) also through the app's graph capture (`image_runs_capture`).
 */
async function imageRuns() {
  result.image_runs = { models: {} };
  if (job.imageCapture) result.image_runs_capture = { models: {} };
  try {
    const sampling = await import(pathToFileURL(job.sampling).href);
    for (const m of job.models) {
      const bytes = readFileSync(m.path);
      const session = await ort.InferenceSession.create(bytes, webgpu);
      const referenceSession = await openReference(m, bytes);
      const kinds = [[result.image_runs, null], ...(job.imageCapture ? [[result.image_runs_capture, { bytes }]] : [])];
      try {
        for (const run of job.imageRuns) {
          for (const [into, capture] of kinds) {
            const rows = (into.models[m.id] ??= {});
            const label = `${m.id}, ${run.key}${capture ? ', graph capture' : ''}`;
            try {
              rows[run.key] = await timeImageRun({ ort, session, referenceSession, sampling, samplingFile: job.sampling, model: m, run, edm: m.edm, runs: job.imageRepeats, warmup: IMAGE_RUN_SETTINGS.warmup, capture });
              const t = rows[run.key];
              say('image', `${label}: median ${t.median_ms.toFixed(1)} ms per run (${t.forwards} forwards, ${t.network_images} images${t.attention_steps === undefined ? '' : `, attention recorded at ${t.attention_steps} steps`}), max |webgpu - wasm| ${t.max_abs_diff_vs_wasm.toExponential(1)}`);
            } catch (e) {
              rows[run.key] = { error: message(e) };
              say('image', `${label}: ${rows[run.key].error}`);
            }
            writeFileSync(job.out, JSON.stringify(result));
          }
        }
      } finally {
        await session.release().catch(() => undefined);
        await referenceSession.release().catch(() => undefined);
      }
    }
  } catch (e) {
    result.image_runs.error = message(e);
    if (result.image_runs_capture) result.image_runs_capture.error = result.image_runs.error;
    say('image', result.image_runs.error);
  }
}

/**
 * Quality samples per model (image-run.mjs SAMPLES), drawn through the app's graph capture and written
 * beside the results as `samplesFile(id)`, for training/scripts/compare_weight_storage.py to judge.
 */
async function qualitySamples() {
  result.samples = { per_class: job.samples, ...SAMPLES, models: {} };
  try {
    const sampling = await import(pathToFileURL(job.sampling).href);
    for (const m of job.models) {
      let referenceSession;
      let capture;
      try {
        const bytes = readFileSync(m.path);
        referenceSession = await openReference(m, bytes);
        capture = captureDenoiser(ort, bytes, sampling, m, referenceSession);
        const drawn = await drawSamples({ sampling, model: m, edm: m.edm, perClass: job.samples, denoise: capture.denoise });
        const file = samplesFile(m.id);
        writeFileSync(join(job.samplesDir, file), drawn.pixels);
        const images = m.numClasses * job.samples;
        result.samples.models[m.id] = { file, images, steps: drawn.steps, forwards: capture.counts.forwards, ms: drawn.ms };
        say('samples', `${m.id}: ${images} images in ${(drawn.ms / 1000).toFixed(1)} s (${capture.counts.forwards} forwards) -> ${file}`);
      } catch (e) {
        result.samples.models[m.id] = { error: message(e) };
        say('samples', `${m.id}: ${result.samples.models[m.id].error}`);
      } finally {
        await capture?.release();
        await referenceSession?.release().catch(() => undefined);
      }
      writeFileSync(job.out, JSON.stringify(result));
    }
  } catch (e) {
    result.samples.error = message(e);
    say('samples', result.samples.error);
  }
}
