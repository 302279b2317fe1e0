#!/usr/bin/env node
// `npm run bench`: cost of every shipped model, measured in one run on this machine.
//
//   1. native: `.venv/bin/python -m diffit.benchmark --json bench/native.json` (parameters, MACs,
//      bytes, PyTorch CPU and onnxruntime CPU ms/forward at batch 1, 1 thread);
//   2. browser: the dev bench page (src/inference/bench/) in headless Chromium with the project's
//      launch flags, timing `denoised`-only forwards with the plain `onnxruntime-web/wasm` bundle
//      that the app uses, at 1 thread (the native runs' thread count) and at the app's thread count;
//   3. one table with median [IQR] and the ratios (each variant against the full model, and
//      browser WASM against native onnxruntime), written to bench/results.json;
//   4. `python -m diffit.benchmark --record bench/results.json`: each model's `benchmark` block
//      goes into public/models/manifest.json (no other field is touched).
//
// Usage: node scripts/bench-models.mjs [--runs 30] [--no-record]
//        node scripts/bench-models.mjs --gpu [options]: the real-GPU mode instead (WebGPU through
//        Dawn in Node, next to PyTorch CUDA), scripts/gpu-bench/bench.mjs; docs/gpu-bench.md.
// A benchmark, not a test: it asserts nothing about times. Run it alone (the 2 cores are shared):
//   flock /tmp/diffit-e2e.lock npm run bench
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';
import { quartiles } from './stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const argv = process.argv.slice(2);
if (argv.includes('--gpu')) {
  // A GPU machine may have no node_modules: nothing below is imported in this mode.
  const r = spawnSync(process.execPath, [resolve(ROOT, 'scripts/gpu-bench/bench.mjs'), ...argv.filter((a) => a !== '--gpu')], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const { chromium } = await import('@playwright/test');
const { createServer } = await import('vite');
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const RUNS = Number(option('--runs', 30));
const WARMUP = 3;
const RECORD = !argv.includes('--no-record');
const OUT_DIR = resolve(ROOT, 'bench');
const MANIFEST = resolve(ROOT, 'public/models/manifest.json');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

// 1. Native.
mkdirSync(OUT_DIR, { recursive: true });
const nativePath = resolve(OUT_DIR, 'native.json');
console.log(`native: python -m diffit.benchmark, ${RUNS} runs per model…`);
run(resolve(ROOT, '.venv/bin/python'), ['-m', 'diffit.benchmark', '--manifest', MANIFEST, '--weights', resolve(ROOT, 'training/weights'), '--runs', String(RUNS), '--warmup', String(WARMUP), '--threads', '1', '--json', nativePath]);
const native = JSON.parse(readFileSync(nativePath, 'utf8'));

// 2. Browser (WASM), through the Vite dev server, which serves the bench page with COOP/COEP.
const server = await createServer({ root: ROOT, configFile: resolve(ROOT, 'vite.config.ts'), logLevel: 'warn', server: { port: 5190, strictPort: false, hmr: false } });
await server.listen();
const base = server.resolvedUrls.local[0].replace(/\/$/, '');
const browser = await chromium.launch(chromiumLaunchOptions()) // the e2e project chromium-wasm's launch;
const chromiumVersion = browser.version();
const appThreads = Math.max(1, Math.min(4, cpus().length)); // src/inference/ort-backend.ts wasmThreads()
const wasm = {};
try {
  for (const row of native.models) {
    wasm[row.id] = {};
    for (const threads of [...new Set([1, appThreads])]) {
      const page = await browser.newPage();
      const query = new URLSearchParams({ model: row.id, bundle: 'wasm', ep: 'wasm', batch: '1', runs: String(RUNS), warmup: String(WARMUP), threads: String(threads), sigma: '1', label: '0' });
      await page.goto(`${base}/src/inference/bench/index.html?${query}`);
      await page.waitForFunction(() => window.__bench, null, { timeout: 600_000 });
      const r = await page.evaluate(() => window.__bench);
      const isolated = await page.evaluate(() => self.crossOriginIsolated);
      await page.close();
      if (r.error) throw new Error(`browser bench of ${row.id} failed: ${r.error}`);
      wasm[row.id][threads] = { ...quartiles(r.msPerForward), threads: r.threads, version: r.version, crossOriginIsolated: isolated };
      console.log(`wasm: ${row.id}, ${threads} thread(s): median ${wasm[row.id][threads].median_ms.toFixed(2)} ms`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}

// 3. One table with ratios.
const full = native.models.find((m) => m.variant === 'diffit') ?? native.models[0];
const ratio = (a, b) => (a && b ? a / b : null);
const timings = (row) => ({
  pytorch_cpu: row.pytorch_cpu,
  onnxruntime_cpu: row.onnxruntime_cpu,
  wasm: wasm[row.id][1],
  wasm_app_threads: wasm[row.id][appThreads],
});
const machine = {
  ...native.machine,
  browser: `Chromium ${chromiumVersion} (headless), onnxruntime-web ${wasm[full.id][1].version} wasm bundle`,
  app_threads: appThreads,
};
const models = native.models.map((row) => {
  const t = timings(row);
  const f = timings(full);
  const vsFull = { parameters: ratio(row.parameters, full.parameters), macs: ratio(row.macs, full.macs), bytes: ratio(row.bytes, full.bytes) };
  for (const k of Object.keys(t)) vsFull[k] = ratio(t[k]?.median_ms, f[k]?.median_ms);
  const wasmVsNative = ratio(t.wasm.median_ms, t.onnxruntime_cpu.median_ms);
  const medians = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v ? { median_ms: v.median_ms, q25_ms: v.q25_ms, q75_ms: v.q75_ms } : null]));
  return {
    id: row.id,
    dataset: row.dataset,
    variant: row.variant,
    parameters: row.parameters,
    macs: row.macs,
    macs_by_op: row.macs_by_op,
    bytes: row.bytes,
    ms_per_forward: t,
    vs_full: vsFull,
    wasm_vs_onnxruntime_cpu: wasmVsNative,
    benchmark: {
      machine: `${machine.cpu}, ${machine.cores} cores, ${machine.os}; ${machine.browser}`,
      measured_at: native.measured_at,
      batch: 1,
      runs: RUNS,
      warmup: WARMUP,
      threads: { pytorch_cpu: 1, onnxruntime_cpu: 1, wasm: 1, wasm_app_threads: appThreads },
      macs: row.macs,
      ms_per_forward: medians,
      vs_full: vsFull,
      wasm_vs_onnxruntime_cpu: wasmVsNative,
    },
  };
});
const results = {
  machine,
  batch: 1,
  runs: RUNS,
  warmup: WARMUP,
  onnxruntime: native.onnxruntime,
  torch: native.torch,
  measured_at: native.measured_at,
  load_average: { native_before: native.load_average?.before ?? null, native_after: native.load_average?.after ?? null, browser_after: loadavg().map((v) => Math.round(v * 100) / 100) },
  full_model: full.id,
  models,
};

const f2 = (t) => (t ? `${t.median_ms.toFixed(2)} [${t.q25_ms.toFixed(2)}–${t.q75_ms.toFixed(2)}]` : '–');
const x = (r) => (r === null || r === undefined ? '–' : `${r.toFixed(2)}×`);
const pad = (s, n) => String(s).padStart(n);
console.log(`\n${machine.cpu}, ${machine.cores} cores; ${machine.browser}. Batch 1, median [IQR] ms/forward over ${RUNS} runs (after ${WARMUP} warm-up), 1 thread unless said.`);
console.log(`${'model'.padEnd(15)}${pad('params', 11)}${pad('MACs', 13)}${pad('bytes', 11)}${pad('PyTorch CPU', 22)}${pad('ORT CPU', 22)}${pad('WASM', 22)}${pad(`WASM ${appThreads} thr`, 22)}${pad('WASM/ORT', 10)}`);
for (const m of models) {
  const t = m.ms_per_forward;
  console.log(`${m.id.padEnd(15)}${pad(m.parameters.toLocaleString('en'), 11)}${pad(m.macs.toLocaleString('en'), 13)}${pad(m.bytes.toLocaleString('en'), 11)}${pad(f2(t.pytorch_cpu), 22)}${pad(f2(t.onnxruntime_cpu), 22)}${pad(f2(t.wasm), 22)}${pad(f2(t.wasm_app_threads), 22)}${pad(x(m.wasm_vs_onnxruntime_cpu), 10)}`);
}
console.log(`\nagainst ${full.id} (ratio of medians; < 1 is smaller or faster):`);
console.log(`${'model'.padEnd(15)}${pad('params', 9)}${pad('MACs', 9)}${pad('bytes', 9)}${pad('PyTorch', 9)}${pad('ORT', 9)}${pad('WASM', 9)}${pad(`WASM ${appThreads}t`, 9)}`);
for (const m of models) {
  const v = m.vs_full;
  console.log(`${m.id.padEnd(15)}${pad(x(v.parameters), 9)}${pad(x(v.macs), 9)}${pad(x(v.bytes), 9)}${pad(x(v.pytorch_cpu), 9)}${pad(x(v.onnxruntime_cpu), 9)}${pad(x(v.wasm), 9)}${pad(x(v.wasm_app_threads), 9)}`);
}
console.log(`load average (1/5/15 min) before ${results.load_average.native_before?.join(' / ')}, after ${results.load_average.browser_after.join(' / ')} (2 cores: above ~1 means other jobs ran too)`);

const resultsPath = resolve(OUT_DIR, 'results.json');
writeFileSync(resultsPath, `${JSON.stringify(results, null, 1)}\n`);
console.log(`wrote ${resultsPath}`);

// 4. The manifest's `benchmark` blocks.
if (RECORD) run(resolve(ROOT, '.venv/bin/python'), ['-m', 'diffit.benchmark', '--manifest', MANIFEST, '--record', resultsPath]);
