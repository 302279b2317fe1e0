#!/usr/bin/env node
// Issue #10's int8 experiment, the WASM half: ms per evaluation of fp32 and int8 variants of a model in
// onnxruntime-web's WASM backend, next to native onnxruntime, with the quality figures beside them.
//
//   1. reads the JSON of training/scripts/quantize_experiment.py (--quantized): the variant files, their
//      error against fp32, native onnxruntime timings and (if run) diffit.evaluate rows;
//   2. Node: the `onnxruntime-web/wasm` bundle the app uses, 1 thread (onnxruntime-web runs single-threaded
//      in Node: its README, "Node.js only support single-threaded wasm EP");
//   3. headless Chromium (scripts/chromium.mjs), the same bundle served with COOP/COEP by a small local
//      server, so that the page is cross-origin isolated and WASM gets threads: --threads (default 1 and 2);
//   4. in each runtime every (variant, batch) runs once per round, in an order rotated each round, for
//      --runs rounds after --warmup: A/B alternated forward by forward, so that both see the same load;
//      batch 8 is guidance's [4 with class 1; 4 unconditional], sigma 2.5;
//   5. prints median [IQR] ms per evaluation and each variant's speed-up over fp32, and the largest
//      |denoised - fp32| each runtime gives (a check that the int8 kernels agree with native's);
//      writes --out (default bench/int8-experiment.json).
//
// Usage: node scripts/bench-int8.mjs --quantized /tmp/diffit-int8/quantize.json [--runs 20] [--warmup 3]
//                                    [--threads 1,2] [--no-node] [--no-chromium] [--out bench/int8-experiment.json]
// A benchmark, not a test: it asserts nothing about times. Run it alone (the 2 cores are shared).
import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';
import { quartiles } from './stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ORT_DIST = resolve(ROOT, 'node_modules/onnxruntime-web/dist');
const BUNDLE = 'ort.wasm.bundle.min.mjs'; // what `import('onnxruntime-web/wasm')` resolves to in the app
const BATCHES = [1, 8];

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
function usage(message) {
  console.error(`bench-int8: ${message} (see the header of scripts/bench-int8.mjs)`);
  process.exit(2);
}
const QUANTIZED = option('--quantized');
const RUNS = Number(option('--runs', 20));
const WARMUP = Number(option('--warmup', 3));
const THREADS = option('--threads', '1,2').split(',').map(Number);
const OUT = resolve(ROOT, option('--out', 'bench/int8-experiment.json'));
if (!QUANTIZED || !existsSync(QUANTIZED)) usage(`--quantized must name the JSON of quantize_experiment.py, got ${QUANTIZED}`);
if (!Number.isInteger(RUNS) || RUNS < 1) usage(`--runs must be a positive integer, got ${option('--runs')}`);
if (!Number.isInteger(WARMUP) || WARMUP < 0) usage(`--warmup must be a non-negative integer, got ${option('--warmup')}`);
if (THREADS.some((t) => !Number.isInteger(t) || t < 1)) usage(`--threads must be positive integers, got ${option('--threads')}`);
if (!existsSync(dirname(OUT))) usage(`--out ${OUT}: no folder ${dirname(OUT)}`);
let quantized;
try {
  quantized = JSON.parse(readFileSync(QUANTIZED, 'utf8'));
} catch (e) {
  usage(`cannot read ${QUANTIZED}: ${e.message}`);
}
const manifest = JSON.parse(readFileSync(resolve(ROOT, 'public/models/manifest.json'), 'utf8'));
for (const m of quantized.models) {
  for (const [name, f] of Object.entries(m.files)) if (!existsSync(f.path)) usage(`${m.id} ${name}: ${f.path} is gone; rerun quantize_experiment.py`);
}

/**
 * Runs in Node and, serialised by Playwright, in the page: so it uses nothing from this module.
 * `globalThis.ort` is onnxruntime-web; a model's `source` is its bytes (Node) or a URL (page).
 * Returns per variant and batch the timed ms, and the largest |denoised - fp32's| at each batch.
 */
async function interleaved({ models, batches, runs, warmup, threads, numClasses, shape }) {
  const ort = globalThis.ort;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const sessions = [];
  for (const m of models) {
    const bytes = typeof m.source === 'string' ? new Uint8Array(await (await fetch(m.source)).arrayBuffer()) : m.source;
    sessions.push(await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }));
  }
  let state = 12345; // a fixed LCG and Box-Muller: the same x in every runtime
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const feeds = batches.map((b) => {
    const n = b * shape.reduce((a, c) => a * c, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = 2.5 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const labels = Array.from({ length: b }, (_, i) => BigInt(i < b - Math.floor(b / 2) ? 1 : numClasses));
    return {
      x: new ort.Tensor('float32', x, [b, ...shape]),
      sigma: new ort.Tensor('float32', new Float32Array(b).fill(2.5), [b]),
      class_label: new ort.Tensor('int64', BigInt64Array.from(labels), [b]),
    };
  });
  const cells = [];
  for (let v = 0; v < models.length; v++) for (let j = 0; j < batches.length; j++) cells.push({ v, j, ms: [], out: null });
  for (let round = 0; round < warmup + runs; round++) {
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[(k + round) % cells.length]; // rotated, so that no variant always follows the same one
      const t0 = performance.now();
      const out = await sessions[cell.v].run(feeds[cell.j], ['denoised']);
      const data = await out.denoised.getData();
      const dt = performance.now() - t0;
      if (round >= warmup) cell.ms.push(dt);
      cell.out = data;
    }
  }
  const result = {};
  for (const cell of cells) {
    const ref = cells.find((c) => c.v === 0 && c.j === cell.j).out; // models[0] is fp32
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(cell.out[i] - ref[i]));
    const r = (result[models[cell.v].name] ??= {});
    r[`batch_${batches[cell.j]}`] = { ms: cell.ms, denoised_max_abs_vs_fp32: err };
  }
  for (const s of sessions) await s.release();
  return { result, version: ort.env.versions.web ?? ort.env.versions.common };
}

function summarise(raw) {
  const out = {};
  for (const [name, byBatch] of Object.entries(raw)) {
    out[name] = {};
    for (const [b, { ms, denoised_max_abs_vs_fp32 }] of Object.entries(byBatch)) out[name][b] = { ...quartiles(ms), denoised_max_abs_vs_fp32 };
  }
  return out;
}

const loadBefore = loadavg().map((v) => Math.round(v * 100) / 100);
const wasm = {};
let ortVersion = null;
let chromiumVersion = null;

for (const m of quantized.models) {
  const entry = manifest.models.find((e) => e.id === m.id);
  const shape = [entry.channels, entry.resolution, entry.resolution];
  const names = Object.keys(m.files); // fp32 first
  wasm[m.id] = {};
  if (!argv.includes('--no-node')) {
    globalThis.ort = await import(pathToFileURL(resolve(ORT_DIST, BUNDLE)).href);
    globalThis.ort.env.wasm.wasmBinary = readFileSync(resolve(ORT_DIST, 'ort-wasm-simd-threaded.wasm')); // Node cannot fetch file: URLs
    console.log(`${m.id}: Node ${process.version}, 1 thread, ${RUNS} rounds…`);
    const models = names.map((name) => ({ name, source: readFileSync(m.files[name].path) }));
    const r = await interleaved({ models, batches: BATCHES, runs: RUNS, warmup: WARMUP, threads: 1, numClasses: entry.num_classes, shape });
    wasm[m.id][`node_1`] = summarise(r.result);
    ortVersion = r.version;
  }
  if (!argv.includes('--no-chromium')) {
    const files = new Map(names.map((name) => [`/model/${name}.onnx`, m.files[name].path]));
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://localhost');
      const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
      let path = files.get(url.pathname);
      if (url.pathname.startsWith('/ort/')) path = resolve(ORT_DIST, basename(url.pathname));
      if (url.pathname === '/') {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
        res.end(`<!doctype html><script type="module">import * as ort from '/ort/${BUNDLE}'; globalThis.ort = ort; window.ready = true;</script>`);
      } else if (path && existsSync(path)) {
        const type = path.endsWith('.mjs') ? 'text/javascript' : path.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
        res.writeHead(200, { ...headers, 'Content-Type': type });
        res.end(readFileSync(path));
      } else {
        res.writeHead(404, headers);
        res.end();
      }
    });
    await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://localhost:${server.address().port}`;
    const { chromium } = await import('@playwright/test');
    const browser = await chromium.launch(chromiumLaunchOptions());
    chromiumVersion = browser.version();
    try {
      for (const threads of THREADS) {
        const page = await browser.newPage();
        await page.goto(`${base}/`);
        await page.waitForFunction(() => window.ready === true);
        const isolated = await page.evaluate(() => self.crossOriginIsolated);
        if (threads > 1 && !isolated) throw new Error('the page is not cross-origin isolated: WASM would run on 1 thread');
        console.log(`${m.id}: Chromium ${chromiumVersion}, ${threads} thread(s), ${RUNS} rounds…`);
        const models = names.map((name) => ({ name, source: `${base}/model/${name}.onnx` }));
        const r = await page.evaluate(interleaved, { models, batches: BATCHES, runs: RUNS, warmup: WARMUP, threads, numClasses: entry.num_classes, shape });
        wasm[m.id][`chromium_${threads}`] = summarise(r.result);
        ortVersion = r.version;
        await page.close();
      }
    } finally {
      await browser.close();
      server.close();
    }
  }
}
const loadAfter = loadavg().map((v) => Math.round(v * 100) / 100);

// One table per model: every runtime's median [IQR] and the speed-up of each variant over fp32.
const fmt = (t) => (t ? `${t.median_ms.toFixed(1)} [${t.q25_ms.toFixed(1)}–${t.q75_ms.toFixed(1)}]` : '–');
const models = quantized.models.map((m) => {
  const runtimes = { ...wasm[m.id], [`native_${quantized.native_threads}`]: m.native };
  const speedup = {};
  for (const [rt, byVariant] of Object.entries(runtimes)) {
    speedup[rt] = {};
    for (const [name, byBatch] of Object.entries(byVariant)) {
      speedup[rt][name] = Object.fromEntries(Object.entries(byBatch).map(([b, t]) => [b, runtimes[rt].fp32[b].median_ms / t.median_ms]));
    }
  }
  console.log(`\n${m.id}: median [IQR] ms per evaluation (speed-up over fp32), ${RUNS} interleaved rounds (native: ${quantized.runs})`);
  for (const [rt, byVariant] of Object.entries(runtimes)) {
    for (const b of BATCHES.map((x) => `batch_${x}`)) {
      const cells = Object.entries(byVariant).map(([name, t]) => `${name} ${fmt(t[b])} (${speedup[rt][name][b].toFixed(2)}×)`);
      console.log(`  ${rt.padEnd(10)} ${b.replace('_', ' ').padEnd(8)} ${cells.join('  ')}`);
    }
  }
  const errs = Object.entries(runtimes).filter(([rt]) => !rt.startsWith('native')).map(([rt, v]) => `${rt} ${Object.entries(v).filter(([n]) => n !== 'fp32').map(([n, t]) => `${n} ${t.batch_8.denoised_max_abs_vs_fp32.toFixed(4)}`).join(', ')}`);
  console.log(`  WASM max |denoised - fp32| at batch 8: ${errs.join('; ')}`);
  const ev = m.evaluate ?? {};
  for (const [name, rows] of Object.entries(ev)) for (const r of rows) console.log(`  evaluate ${name} seed ${r.seed}: accuracy ${(100 * r.classifier_accuracy).toFixed(1)}%, FD_clf ${r.fd_clf?.toFixed(2)} (${r.samples} + ${r.fd_samples} samples, Heun ${r.steps})`);
  return { id: m.id, files: m.files, ms_per_evaluation: runtimes, speedup_over_fp32: speedup, forward_error: m.forward_error, image_error: m.image_error, evaluate: m.evaluate ?? null };
});
console.log(`load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`);

const result = {
  machine: { cpu: quantized.machine.cpu, cores: cpus().length, os: quantized.machine.os, node: process.version, chromium: chromiumVersion, onnxruntime_web: ortVersion, bundle: BUNDLE },
  measured_at: new Date().toISOString(),
  batches: BATCHES,
  runs: RUNS,
  warmup: WARMUP,
  wasm_input: 'x ~ N(0, 2.5^2), sigma 2.5, labels [class 1; unconditional] at batch 8, class 1 at batch 1; denoised only',
  load_average: { wasm_before: loadBefore, wasm_after: loadAfter, native: quantized.load_average },
  calibration: quantized.calibration,
  native_threads: quantized.native_threads,
  native_runs: quantized.runs,
  models,
};
const tmp = `${OUT}.${process.pid}.tmp`;
writeFileSync(tmp, `${JSON.stringify(result, null, 1)}\n`);
renameSync(tmp, OUT);
console.log(`written to ${OUT}`);
