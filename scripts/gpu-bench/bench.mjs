#!/usr/bin/env node
// `npm run bench -- --gpu`: the shipped models on a real GPU, for a machine that has one.
//
//   1. WebGPU: onnxruntime-web in Node on Dawn (the npm `webgpu` package, installed by
//      scripts/gpu-bench/prepare.sh into .carry/gpu-bench/, never into node_modules), one process
//      per bundle (BUNDLES below) running each IO mode (MODES below) in turn, ms per forward at
//      each batch, `denoised` only, and the largest difference from the same bundle's WASM backend;
//      then whole images per bundle (image-run.mjs): the app's own samplers driving the WebGPU
//      session through CPU tensors, as the app does, timed per run and checked against WASM;
//   2. PyTorch on CUDA, same models and batches: eager and CUDA-graph replay
//      (training/scripts/bench_cuda.py; skipped with its reason where there is no CUDA);
//   3. one table, and bench/gpu-results.json with the hardware named.
//
// Usage: node scripts/gpu-bench/bench.mjs [--models diffit-fmnist,dws-fmnist,diffip-fmnist | all; <id>@f16: F16_SUFFIX]
//   [--batches 1,2,8] [--runs 30] [--warmup 3] [--bundles jsep,webgpu (default; also jsep-1submit, PATCHES)] [--modes plain,gpu-io,capture,capture-nchw]
//   [--timeout 180 (seconds per bundle process)] [--model-dir public/models]
//   [--ort node_modules/onnxruntime-web/dist] [--webgpu .carry/gpu-bench/node_modules/webgpu]
//   [--python .venv/bin/python] [--no-cuda] [--allow-fallback-adapter] [--out bench/gpu-results.json]
//   [--image-runs heun:18:every:1,dpmpp-2m:8:interval:4 | none; SAMPLER:STEPS:GUIDE:BATCH[:attention|:attention-worker]] [--image-repeats 5]
//   [--sampling <app-sampling.mjs> (default: bundled from src/ here; prepare.sh carries one)]
//   [--samples PER_CLASS (default 0): quality samples per model, written beside --out (image-run.mjs SAMPLES)]
// A benchmark, not a test: it asserts nothing about times. docs/gpu-bench.md: the run on a GPU machine.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleSampling, IMAGE_RUN_SETTINGS, IMAGE_RUNS, parseImageRuns, SAMPLES } from './image-run.mjs';
import { BenchError, chooseAdapter, installWebGPU } from './webgpu-node.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = dirname(fileURLToPath(import.meta.url));

/** onnxruntime-web's bundles that can drive WebGPU, by the name the results use. */
export const BUNDLES = {
  jsep: 'ort.bundle.min.mjs', // the default export: JS execution provider (JSEP) for WebGPU, the app's
  webgpu: 'ort.webgpu.bundle.min.mjs', // `onnxruntime-web/webgpu`: the C++ WebGPU EP built to WASM
  'jsep-1submit': 'ort.bundle.min.mjs', // an experiment: jsep with one queue submit per forward (PATCHES)
};
/** The bundles a run measures unless --bundles says otherwise (the experiments are asked for by name). */
export const DEFAULT_BUNDLES = ['jsep', 'webgpu'];

/**
 * Bundles that are another bundle with one constant changed, for an experiment; the bench writes the
 * changed copy into its scratch folder beside links to the bundle's glue (`glue`, which it loads from
 * beside itself). `jsep-1submit`: JSEP ends its compute pass and submits its command buffer every
 * `maxDispatchNumber` (16) dispatches, so a forward of ~200 dispatches is ~13 queue submits; this copy
 * raises the number past any forward's dispatches, so a forward is one pass and one submit (less memory
 * reuse within a forward: buffers freed in it return to the pool at the flush). Whether the submits cost
 * time on a GPU is the question it asks (docs/gpu-bench.md).
 */
export const PATCHES = {
  'jsep-1submit': { find: 'maxDispatchNumber=16', replace: 'maxDispatchNumber=65536', glue: ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'] },
};

/** Writes PATCHES[bundle]'s copy of its file into `folder` beside links to its glue; returns the folder. */
export function patchBundle(bundle, ortDir, folder) {
  const patch = PATCHES[bundle];
  const text = readFileSync(join(ortDir, BUNDLES[bundle]), 'utf8');
  const found = text.split(patch.find).length - 1;
  if (found !== 1) throw new BenchError(`${BUNDLES[bundle]} has ${found} copies of '${patch.find}', not one: this onnxruntime-web cannot make the ${bundle} bundle`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, BUNDLES[bundle]), text.replace(patch.find, patch.replace));
  for (const file of patch.glue) {
    if (!existsSync(join(ortDir, file))) throw new BenchError(`${join(ortDir, file)} is missing (the ${bundle} bundle loads it)`);
    symlinkSync(join(ortDir, file), join(folder, file));
  }
  return folder;
}
export const DEFAULT_MODELS = ['diffit-fmnist', 'dws-fmnist', 'diffip-fmnist'];

/**
 * How a forward's tensors travel (run-bundle.mjs has the details): `plain` CPU tensors in and out;
 * `gpu-io` GPU tensors in, written per forward, `denoised` left on the GPU and downloaded;
 * `capture` gpu-io with ORT's graph capture (recorded once, replayed), one session per batch;
 * `capture-nchw` the same with JSEP's `preferredLayout: 'NCHW'` (fewer layout transposes).
 */
export const MODES = ['plain', 'gpu-io', 'capture', 'capture-nchw'];

/** The results' name for a bundle in a mode: `webgpu_<bundle>` for plain (the first runs' names), else `webgpu_<bundle>_<mode>`. */
export function runtimeKey(bundle, mode) {
  return mode === 'plain' ? `webgpu_${bundle}` : `webgpu_${bundle}_${mode}`;
}

/** Parses the command line; a bad value is a BenchError. */
export function parseArgs(argv) {
  const known = new Set(['--models', '--batches', '--runs', '--warmup', '--bundles', '--modes', '--timeout', '--model-dir', '--ort', '--webgpu', '--python', '--manifest', '--out', '--image-runs', '--image-repeats', '--sampling', '--samples']);
  const flags = new Set(['--no-cuda', '--allow-fallback-adapter']);
  const values = {};
  for (let i = 0; i < argv.length; i++) {
    if (flags.has(argv[i])) values[argv[i]] = true;
    else if (known.has(argv[i]) && i + 1 < argv.length) values[argv[i]] = argv[++i];
    else throw new BenchError(`unknown or incomplete option ${argv[i]} (see the usage at the top of scripts/gpu-bench/bench.mjs)`);
  }
  const ints = (name, text) => {
    const list = text.split(',').map(Number);
    if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new BenchError(`${name} wants whole numbers, got ${text}`);
    return list;
  };
  const bundles = (values['--bundles'] ?? DEFAULT_BUNDLES.join(',')).split(',');
  for (const b of bundles) if (!BUNDLES[b]) throw new BenchError(`unknown bundle ${b}; choose from ${Object.keys(BUNDLES).join(', ')}`);
  const modes = (values['--modes'] ?? MODES.join(',')).split(',');
  for (const m of modes) if (!MODES.includes(m)) throw new BenchError(`unknown mode ${m}; choose from ${MODES.join(', ')}`);
  if (new Set(modes).size !== modes.length || new Set(bundles).size !== bundles.length) throw new BenchError('--bundles and --modes name each one once');
  const [runs] = ints('--runs', values['--runs'] ?? '30');
  if (runs < 1) throw new BenchError('--runs must be at least 1');
  const [timeout] = ints('--timeout', values['--timeout'] ?? '180');
  if (timeout < 1) throw new BenchError('--timeout must be at least 1 (seconds per bundle)');
  const [imageRepeats] = ints('--image-repeats', values['--image-repeats'] ?? '5');
  if (imageRepeats < 1) throw new BenchError('--image-repeats must be at least 1');
  const [samples] = ints('--samples', values['--samples'] ?? '0');
  if (samples % SAMPLES.batch) throw new BenchError(`--samples wants images per class in multiples of ${SAMPLES.batch} (0: none), got ${samples}`);
  const python = values['--python'] ?? (existsSync(resolve(ROOT, '.venv/bin/python')) ? resolve(ROOT, '.venv/bin/python') : 'python3');
  return {
    models: (values['--models'] ?? DEFAULT_MODELS.join(',')).split(','),
    batches: ints('--batches', values['--batches'] ?? '1,2,8').filter((b) => b > 0),
    runs,
    warmup: ints('--warmup', values['--warmup'] ?? '3')[0],
    bundles,
    modes: MODES.filter((m) => modes.includes(m)), // in MODES order: plain first compiles the shaders the others reuse
    timeoutS: timeout,
    manifest: resolve(ROOT, values['--manifest'] ?? 'public/models/manifest.json'),
    modelDir: resolve(ROOT, values['--model-dir'] ?? 'public/models'),
    ortDir: resolve(ROOT, values['--ort'] ?? 'node_modules/onnxruntime-web/dist'),
    webgpuDir: resolve(ROOT, values['--webgpu'] ?? '.carry/gpu-bench/node_modules/webgpu'),
    python,
    cuda: !values['--no-cuda'],
    allowFallback: Boolean(values['--allow-fallback-adapter']),
    out: resolve(ROOT, values['--out'] ?? 'bench/gpu-results.json'),
    imageRuns: parseImageRuns(values['--image-runs'] ?? IMAGE_RUNS),
    imageRepeats,
    sampling: values['--sampling'] ? resolve(ROOT, values['--sampling']) : null,
    samples,
  };
}

/**
 * Float16 compute (`<id>@f16` in --models): the shipped file rewritten by `python -m diffit.float16_graph` so that
 * the network computes in float16 on adapters with `shader-f16` (inputs and outputs stay float32). The rewritten
 * file lies beside the shipped one as `<file>.f16.onnx` (prepare.sh writes it) and names the shipped file's sha256
 * in its metadata (`float16_compute_of`); its rows are checked against the shipped float32 file on WASM.
 */
export const F16_SUFFIX = '@f16';
export const f16File = (file) => file.replace(/\.onnx$/, '.f16.onnx');

/** A --models id -> its manifest id and whether it names the float16-compute file (prepare.sh asks this too). */
export function parseModelId(id) {
  const f16 = id.endsWith(F16_SUFFIX);
  return { baseId: f16 ? id.slice(0, -F16_SUFFIX.length) : id, f16 };
}

/** The manifest entries to run, each with its ONNX file checked against the manifest's sha256. */
export function selectModels(manifest, ids, modelDir) {
  const wanted = ids.length === 1 && ids[0] === 'all' ? manifest.models.map((m) => m.id) : ids;
  return wanted.map((wantedId) => {
    const { baseId, f16 } = parseModelId(wantedId);
    const e = manifest.models.find((m) => m.id === baseId);
    if (!e) throw new BenchError(`no model ${baseId} in the manifest; choose from ${manifest.models.map((m) => m.id).join(', ')} (each also as <id>${F16_SUFFIX})`);
    const path = join(modelDir, e.file);
    if (!existsSync(path)) throw new BenchError(`${path} is missing (--model-dir names the folder with the ONNX files)`);
    const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (e.sha256 && sha !== e.sha256) throw new BenchError(`${path} is not the manifest's ${e.id} (sha256 differs)`);
    const model = { id: wantedId, baseId, precision: f16 ? 'float16' : 'float32', variant: e.variant, dataset: e.dataset, path, channels: e.channels, resolution: e.resolution, numClasses: e.num_classes, edm: e.edm, attention: e.attention ?? [] };
    if (!f16) return model;
    const half = join(modelDir, f16File(e.file));
    const make = `make it with: python -m diffit.float16_graph ${path} ${half}`;
    if (!existsSync(half)) throw new BenchError(`${half} is missing (${make})`);
    if (!readFileSync(half).includes(sha)) throw new BenchError(`${half} was not made from this ${e.file} (${make})`);
    return { ...model, path: half, referencePath: path };
  });
}

function cpuName() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // No /proc/cpuinfo (not Linux): ask Node instead.
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Runs one bundle, every mode in turn, in a child process; one entry per mode: its rows, or
 * `{ error }` from the child's last stderr line. A child that dies keeps what it wrote before,
 * and the rest say why.
 */
function runBundle(bundle, options, models, scratch) {
  const out = join(scratch, `${bundle}.json`);
  const id = { bundle, file: BUNDLES[bundle] };
  // Whole images also through the app's graph capture on the bundles that run it (the JSEP ones).
  // Quality samples once per model, from the first JSEP bundle (the app's), beside the results file.
  const samples = bundle === options.bundles.find((b) => BUNDLES[b] === BUNDLES.jsep) ? options.samples : 0;
  const job = { ...id, samples, samplesDir: dirname(options.out), imageCapture: BUNDLES[bundle] === BUNDLES.jsep, modes: options.modes, ortDir: options.ortDir, webgpuDir: options.webgpuDir, allowFallback: options.allowFallback, runs: options.runs, warmup: options.warmup, batches: options.batches, models, out, imageRuns: options.imageRuns, imageRepeats: options.imageRepeats, sampling: options.sampling };
  if (!existsSync(join(options.ortDir, job.file))) return options.modes.map((mode) => ({ ...id, mode, error: `${join(options.ortDir, job.file)} is missing (--ort names onnxruntime-web's dist folder)` }));
  if (PATCHES[bundle]) {
    try {
      job.ortDir = patchBundle(bundle, options.ortDir, join(scratch, bundle));
    } catch (e) {
      return options.modes.map((mode) => ({ ...id, mode, error: e.message }));
    }
  }
  console.log(`webgpu: bundle ${bundle} (${job.file}), modes ${options.modes.join('/')}, ${models.length} model(s), batches ${options.batches.join('/')}, ${options.runs} runs after ${options.warmup} warm-up…`);
  const t0 = performance.now();
  // A hung forward (a map that never resolves) must not eat the GPU call: kill the child, keep what it wrote.
  const r = spawnSync(process.execPath, [join(HERE, 'run-bundle.mjs'), JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20, timeout: options.timeoutS * 1000, killSignal: 'SIGKILL' });
  const own = new RegExp(`^(${Object.keys(BUNDLES).join('|')}|image): `); // the child's progress lines
  process.stderr.write((r.stderr ?? '').split('\n').filter((l) => own.test(l)).map((l) => `${l}\n`).join(''));
  console.log(`webgpu: bundle ${bundle} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const stderr = r.error?.code === 'ETIMEDOUT' ? `${r.stderr ?? ''}\nkilled after --timeout ${options.timeoutS} s` : r.stderr;
  return childResult(id, options.modes, r.status === 0, readJson(out), stderr, r.status ?? r.signal);
}

/**
 * A child's result, one entry per mode: what it wrote. Where it died, the modes it finished stand,
 * the one it was in keeps its rows and carries its last stderr line as `unfinished` (for the
 * models it did not reach), and the ones it never began fail with that line.
 */
export function childResult(id, modes, finished, written, stderr, exit) {
  const lines = (stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ') && l.length < 400);
  const error = `exit ${exit}: ${lines.at(-1) ?? 'no message'}`;
  const current = Object.keys(written?.modes ?? {}).at(-1); // the mode it was in: the child runs them in order
  const entries = modes.map((mode) => {
    const done = written?.modes?.[mode];
    if (!done) return { ...id, mode, error };
    const entry = { ...id, mode, version: written.version, models: done.models, ...(done.note ? { note: done.note } : {}) };
    return finished || mode !== current ? entry : { ...entry, unfinished: error };
  });
  // Whole images belong to the bundle, not to a mode: they ride on its first entry.
  for (const key of ['image_runs', 'image_runs_capture', 'samples']) {
    if (written?.[key]) entries[0] = { ...entries[0], [key]: finished ? written[key] : { ...written[key], unfinished: error } };
  }
  return entries;
}

/** PyTorch CUDA eager and graph timings (training/scripts/bench_cuda.py), or why there are none. */
function runCuda(options, models, scratch) {
  if (!options.cuda) return { skipped: '--no-cuda' };
  const out = join(scratch, 'cuda.json');
  const args = [resolve(ROOT, 'training/scripts/bench_cuda.py'), '--manifest', options.manifest, '--models', [...new Set(models.map((m) => m.baseId))].join(','), '--batches', options.batches.join(','), '--runs', String(options.runs), '--warmup', String(options.warmup), '--json', out];
  console.log(`cuda: ${options.python} training/scripts/bench_cuda.py …`);
  const r = spawnSync(options.python, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PYTHONPATH: [resolve(ROOT, 'training'), process.env.PYTHONPATH].filter(Boolean).join(':') } });
  if (r.error) return { skipped: `${options.python} did not start (${r.error.code}); pass --python` };
  if (r.status !== 0) return { skipped: `bench_cuda.py failed (exit ${r.status})` };
  return readJson(out) ?? { skipped: 'bench_cuda.py wrote no results' };
}

/** The results file: per model, per runtime, per batch. */
export function assemble({ options, models, adapter, bundles, cuda, webgpuVersion, measuredAt }) {
  const runtimes = {};
  for (const b of bundles) runtimes[runtimeKey(b.bundle, b.mode ?? 'plain')] = b;
  const rows = models.map((m) => {
    const ms = {};
    const errors = {};
    for (const [name, b] of Object.entries(runtimes)) {
      const row = b.models?.[m.id];
      const error = b.error ?? row?.error ?? (row ? undefined : b.unfinished);
      if (error) errors[name] = error;
      else ms[name] = Object.fromEntries(options.batches.map((n) => [n, row?.batches?.[n] ?? { error: 'not run' }]));
    }
    for (const mode of m.precision === 'float16' ? [] : ['eager', 'graph']) { // PyTorch runs the float32 model only
      const t = cuda.models?.[m.id]?.[mode];
      if (t) ms[`pytorch_cuda_${mode}`] = t;
    }
    const graphDiff = cuda.models?.[m.id]?.graph_vs_eager_max_abs_diff;
    const images = {};
    for (const b of bundles) {
      for (const [key, mode] of [['image_runs', 'plain'], ['image_runs_capture', 'capture']]) {
        const runs = b[key]?.models?.[m.id];
        if (runs || b[key]?.error) images[runtimeKey(b.bundle, mode)] = runs ?? { error: b[key].error };
      }
    }
    return {
      id: m.id, dataset: m.dataset, variant: m.variant, precision: m.precision, ms_per_forward: ms, errors,
      ...(Object.keys(images).length ? { ms_per_image_run: images } : {}),
      ...(graphDiff ? { pytorch_graph_vs_eager_max_abs_diff: graphDiff } : {}),
    };
  });
  const version = bundles.find((b) => b.version)?.version ?? null;
  const samples = bundles.find((b) => b.samples)?.samples;
  return {
    kind: 'diffit-gpu-bench',
    measured_at: measuredAt,
    batches: options.batches,
    runs: options.runs,
    warmup: options.warmup,
    outputs: ['denoised'],
    ...(options.imageRuns?.length ? { image_runs: { runs: options.imageRuns.map((r) => r.key), repeats: options.imageRepeats, ...IMAGE_RUN_SETTINGS } } : {}),
    modes: [...new Set(bundles.map((b) => b.mode ?? 'plain'))],
    machine: {
      cpu: cpuName(),
      cores: cpus().length,
      os: `${platform()} ${release()}`,
      node: process.version,
      webgpu: { package: `webgpu ${webgpuVersion}`, adapter },
      gpu: cuda.device ?? adapter.description ?? null,
    },
    onnxruntime_web: version,
    bundles: bundleSummary(bundles),
    ...(samples ? { quality_samples: samples } : {}),
    pytorch: cuda.models ? { torch: cuda.torch, cuda: cuda.cuda, device: cuda.device, dtype: cuda.dtype, tf32: cuda.tf32, weights: cuda.weights } : { skipped: cuda.skipped ?? 'no results' },
    models: rows,
  };
}

/** Per bundle: its file, and per mode the error that stopped its process (null when it finished) and any workaround it used. */
function bundleSummary(bundles) {
  const out = {};
  for (const b of bundles) {
    out[b.bundle] ??= { file: b.file, modes: {} };
    out[b.bundle].modes[b.mode ?? 'plain'] = { error: b.error ?? b.unfinished ?? null, ...(b.note ? { note: b.note } : {}) };
  }
  return out;
}

export function formatTable(results) {
  const lines = [];
  const { machine } = results;
  const a = machine.webgpu.adapter;
  lines.push(`${machine.gpu ?? '?'}; WebGPU adapter ${a.vendor} ${a.architecture} (${a.description})${a.is_fallback ? ' — SOFTWARE, not a GPU' : ''}${a.shader_f16 ? ', shader-f16' : ''}; ${machine.webgpu.package}, Node ${machine.node}, onnxruntime-web ${results.onnxruntime_web ?? '?'}; ${machine.cpu}.`);
  lines.push(`Median ms per forward (ms per image) over ${results.runs} runs after ${results.warmup} warm-up, 'denoised' only; WebGPU includes reading the output back.`);
  const cell = (t) => (!t ? '–' : t.error ? 'error' : `${t.median_ms.toFixed(2)} (${(t.median_ms / t.batch_size).toFixed(2)})`);
  const names = results.models.flatMap((m) => [...Object.keys(m.ms_per_forward), ...Object.keys(m.errors), ...Object.keys(m.ms_per_image_run ?? {})]);
  const width = Math.max(24, ...names.map((name) => name.length + 2)); // the runtime column, in every row below
  const idWidth = Math.max(15, ...results.models.map((m) => m.id.length + 2)); // the model column (ids with @f16 are longer)
  lines.push(['model'.padEnd(idWidth), 'runtime'.padEnd(width), ...results.batches.map((b) => `batch ${b}`.padStart(18))].join(''));
  for (const m of results.models) {
    for (const [name, byBatch] of Object.entries(m.ms_per_forward)) {
      lines.push([m.id.padEnd(idWidth), name.padEnd(width), ...results.batches.map((b) => cell(byBatch[b] && { ...byBatch[b], batch_size: b }).padStart(18))].join(''));
    }
    for (const [name, error] of Object.entries(m.errors)) lines.push(`${m.id.padEnd(idWidth)}${name.padEnd(width)}failed: ${error}`);
  }
  for (const [bundle, { modes }] of Object.entries(results.bundles)) {
    for (const [mode, { note }] of Object.entries(modes ?? {})) if (note) lines.push(`${runtimeKey(bundle, mode)}: ${note}`);
  }
  for (const m of results.models) {
    const counts = Object.entries(m.ms_per_forward).flatMap(([name, byBatch]) => results.batches.filter((b) => byBatch[b]?.dispatches !== undefined).map((b) => `${name} b${b} ${byBatch[b].dispatches}`));
    if (counts.length) lines.push(`${m.id}: GPU dispatches per forward: ${counts.join(', ')}`);
    const submits = Object.entries(m.ms_per_forward).flatMap(([name, byBatch]) => results.batches.filter((b) => byBatch[b]?.submits !== undefined).map((b) => `${name} b${b} ${byBatch[b].submits}`));
    if (submits.length) lines.push(`${m.id}: queue submits per forward: ${submits.join(', ')}`);
  }
  const imageRows = results.models.flatMap((m) => Object.entries(m.ms_per_image_run ?? {}).flatMap(([name, runs]) => (runs.error ? [`${m.id.padEnd(idWidth)}${name.padEnd(width)}whole images failed: ${runs.error}`] : Object.entries(runs).map(([key, t]) => `${m.id.padEnd(idWidth)}${name.padEnd(width)}${key.padEnd(40)}${t.error ? `failed: ${t.error}` : `${t.median_ms.toFixed(1)} ms per run [${t.q25_ms.toFixed(1)}–${t.q75_ms.toFixed(1)}], ${t.forwards} forwards, ${t.network_images} images${t.attention_steps === undefined ? '' : `, attention recorded at ${t.attention_steps} steps`}, max |webgpu - wasm| ${t.max_abs_diff_vs_wasm.toExponential(1)}`}`))));
  const { class: label, guidance, repeats, warmup } = results.image_runs ?? {};
  if (imageRows.length) lines.push(`Whole images (the app's samplers; CPU tensors, or the app's graph capture in the _capture rows; SAMPLER:STEPS:GUIDE:BATCH[:attention|:attention-worker], class ${label}, guidance ${guidance}; median of ${repeats} after ${warmup} warm-up):`, ...imageRows);
  const q = results.quality_samples;
  if (q) {
    lines.push(`Quality samples (${q.per_class} per class, ${q.sampler} ${q.guide} guide, guidance ${q.guidance}, the app's graph capture; judge with training/scripts/compare_weight_storage.py):`);
    if (q.error) lines.push(`  failed: ${q.error}`);
    for (const [id, t] of Object.entries(q.models ?? {})) lines.push(`  ${id}: ${t.error ? `failed: ${t.error}` : `${t.images} images, ${t.steps} steps, in ${(t.ms / 1000).toFixed(1)} s -> ${t.file}`}`);
  }
  if (results.pytorch.skipped) lines.push(`PyTorch CUDA: skipped (${results.pytorch.skipped})`);
  else lines.push(`PyTorch ${results.pytorch.torch}, CUDA ${results.pytorch.cuda}, ${results.pytorch.dtype}, TF32 ${results.pytorch.tf32 ? 'on' : 'off'}, weights ${[...new Set(Object.values(results.pytorch.weights ?? {}))].join(' / ')}`);
  const batchErrors = results.models.flatMap((m) => Object.entries(m.ms_per_forward).flatMap(([name, byBatch]) => Object.entries(byBatch).filter(([, t]) => t.error).map(([b, t]) => `${m.id} ${name} batch ${b}: ${t.error}`)));
  for (const e of batchErrors) lines.push(`failed: ${e}`);
  // One line per precision: float16 rows differ from the float32 file by float16's rounding, float32 rows by ~1e-6.
  for (const precision of ['float32', 'float16']) {
    const diffs = {};
    for (const m of results.models) {
      if ((m.precision ?? 'float32') !== precision) continue;
      for (const [name, byBatch] of Object.entries(m.ms_per_forward)) {
        if (!name.startsWith('webgpu_')) continue;
        for (const t of Object.values(byBatch)) if (t.max_abs_diff_vs_wasm !== undefined) diffs[name] = Math.max(diffs[name] ?? 0, t.max_abs_diff_vs_wasm);
      }
    }
    const what = precision === 'float32' ? "largest |WebGPU - WASM| on 'denoised'" : "float16 compute: largest |WebGPU - float32 WASM| on 'denoised'";
    if (Object.keys(diffs).length) lines.push(`${what}: ${Object.entries(diffs).map(([n, d]) => `${n} ${d.toExponential(2)}`).join(', ')}`);
  }
  return lines.join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const manifest = readJson(options.manifest);
  if (!manifest?.models) throw new BenchError(`${options.manifest} is missing or not a manifest`);
  const models = selectModels(manifest, options.models, options.modelDir);
  // Fail before anything runs when there is no GPU to measure.
  const gpu = await installWebGPU(options.webgpuDir);
  const { info: adapter } = await chooseAdapter(gpu, { allowFallback: options.allowFallback });
  console.log(`WebGPU adapter: ${adapter.vendor} ${adapter.architecture} (${adapter.description})${adapter.is_fallback ? ', software' : ''}`);
  const webgpuVersion = readJson(join(options.webgpuDir, 'package.json'))?.version ?? '?';
  const measuredAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const scratch = mkdtempSync(join(tmpdir(), 'gpu-bench-'));
  try {
    if ((options.imageRuns.length || options.samples) && !options.sampling) {
      try {
        options.sampling = await bundleSampling(ROOT, join(scratch, 'app-sampling.mjs'));
      } catch (e) {
        console.error(`gpu bench: no whole-image runs or quality samples (bundling src/sampling failed: ${String(e?.message ?? e).split('\n')[0]}; pass --sampling)`);
        options.imageRuns = [];
        options.samples = 0;
      }
    }
    const bundles = options.bundles.flatMap((b) => runBundle(b, options, models, scratch));
    const cuda = runCuda(options, models, scratch);
    const results = assemble({ options, models, adapter, bundles, cuda, webgpuVersion, measuredAt });
    console.log(`\n${formatTable(results)}`);
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(`${options.out}.tmp`, `${JSON.stringify(results, null, 1)}\n`);
    renameSync(`${options.out}.tmp`, options.out);
    console.log(`wrote ${options.out}`);
    const timed = results.models.some((m) => Object.entries(m.ms_per_forward).some(([k, byBatch]) => k.startsWith('webgpu_') && Object.values(byBatch).some((t) => t.median_ms !== undefined)));
    if (!timed) {
      console.error('gpu bench: no bundle timed any model on WebGPU (the errors are above and in the results file)');
      process.exitCode = 1;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(process.exitCode ?? 0), // Dawn keeps the event loop alive
    (e) => {
      if (!(e instanceof BenchError)) throw e;
      console.error(`gpu bench: ${e.message}`);
      process.exit(2);
    },
  );
}
