#!/usr/bin/env node
// `npm run bench:run`: the app's run, click to done, in headless Chromium, against native onnxruntime
// doing the same evaluations on the same machine (issue #10's "browser ÷ native" measure).
//
//   1. builds the app (plain production build) into a temporary folder, unless --dist names builds;
//   2. serves each build with `vite preview` (COOP/COEP from vite.config.ts, so WASM gets threads),
//      opens the studio with the run's URL (default: diffit-fmnist, 18 steps, batch 4, class 1,
//      guidance 2, backend wasm), waits for the model to be loaded, and times Generate: from the
//      click to the status turning `done`, one warm-up run first;
//   3. runs training/scripts/bench_native_run.py (same model, sampler, steps, batch, class,
//      guidance; --threads native threads) between the browser runs, so that both see the same
//      load: per repetition every build once, then native once;
//   4. prints median [IQR] per build and native, and their ratio; writes bench/run.json.
//
// Usage: node scripts/bench-run.mjs [--runs 5] [--threads 2] [--query "model=...&steps=..."]
//                                   [--dist LABEL=DIR]... [--out bench/run.json]
// A benchmark, not a test: it asserts nothing about times. Run it alone (the 2 cores are shared).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';
import { quartiles } from './stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const options = (name) => argv.flatMap((a, i) => (a === name && i + 1 < argv.length ? [argv[i + 1]] : []));
const option = (name, fallback) => options(name).at(-1) ?? fallback;
function usage(message) {
  console.error(`bench-run: ${message} (see the header of scripts/bench-run.mjs)`);
  process.exit(2);
}

const RUNS = Number(option('--runs', 5));
const THREADS = Number(option('--threads', 2));
const OUT = resolve(ROOT, option('--out', 'bench/run.json'));
const query = new URLSearchParams({ model: 'diffit-fmnist', steps: '18', batch: '4', class: '1', guidance: '2', backend: 'wasm' });
for (const [k, v] of new URLSearchParams(option('--query', ''))) query.set(k, v);
if (!Number.isInteger(RUNS) || RUNS < 1) usage(`--runs must be a positive integer, got ${option('--runs')}`);
if (!Number.isInteger(THREADS) || THREADS < 1) usage(`--threads must be a positive integer, got ${option('--threads')}`);
const builds = options('--dist').map((spec) => {
  const [label, dir] = spec.includes('=') ? spec.split(/=(.*)/s) : [spec, spec];
  return { label, dir: resolve(dir) };
});

const { chromium } = await import('@playwright/test');
const { build, preview } = await import('vite');
const CONFIG = resolve(ROOT, 'vite.config.ts');

if (builds.length === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'diffit-bench-run-'));
  console.log(`building the app into ${dir}…`);
  await build({ root: ROOT, configFile: CONFIG, logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  builds.push({ label: 'app', dir });
}

function native() {
  const args = ['scripts/bench_native_run.py', '--model', query.get('model'), '--steps', query.get('steps'), '--batch', query.get('batch'), '--guidance', query.get('guidance'), '--threads', String(THREADS), '--runs', '1'];
  if (query.get('sampler')) args.push('--sampler', query.get('sampler'));
  const manifest = JSON.parse(readFileSync(resolve(ROOT, 'public/models/manifest.json'), 'utf8'));
  const entry = manifest.models.find((m) => m.id === query.get('model'));
  if (!entry) usage(`model ${query.get('model')} is not in public/models/manifest.json`);
  args.push('--class', query.get('class') === 'none' || !query.get('class') ? String(entry.num_classes) : query.get('class'));
  const json = join(mkdtempSync(join(tmpdir(), 'diffit-native-')), 'run.json');
  const r = spawnSync(resolve(ROOT, '.venv/bin/python'), [...args, '--json', json], { cwd: resolve(ROOT, 'training'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench_native_run.py failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(readFileSync(json, 'utf8'));
}

/** Opens the studio of one build and returns a function timing one Generate (ms, click to done). */
async function openStudio(browser, base) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/?${query}`);
  await page.getByTestId('model-load').filter({ hasText: /ready/ }).waitFor({ timeout: 300_000 });
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const time = async () => {
    await page.getByTestId('generate').waitFor({ state: 'visible' });
    const r = await page.evaluate(
      () =>
        new Promise((done) => {
          const status = document.querySelector('[data-testid="status"]');
          const button = document.querySelector('[data-testid="generate"]');
          let t0 = 0;
          let started = false;
          const observer = new MutationObserver(() => {
            const state = status.getAttribute('data-state');
            if (state === 'running') started = true;
            if (started && (state === 'done' || state === 'error')) {
              observer.disconnect();
              const perForward = document.querySelector('[data-testid="ms-per-forward"]')?.textContent ?? '';
              done({ ms: performance.now() - t0, state, text: status.textContent, perForward: Number.parseFloat(perForward) });
            }
          });
          observer.observe(status, { attributes: true, attributeFilter: ['data-state'] });
          t0 = performance.now();
          button.click();
        }),
    );
    if (r.state !== 'done') throw new Error(`the run ended in ${r.state}: ${r.text}${errors.length ? `; ${errors.join('; ')}` : ''}`);
    return r;
  };
  return { page, time, isolated };
}

const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const loadBefore = load();
const servers = [];
const browser = await chromium.launch(chromiumLaunchOptions());
const chromiumVersion = browser.version();
const results = builds.map((b) => ({ ...b, ms: [], perForward: [] }));
const nativeMs = [];
let nativeInfo = null;
try {
  const studios = [];
  for (const b of builds) {
    const server = await preview({ root: ROOT, configFile: CONFIG, logLevel: 'warn', build: { outDir: b.dir }, preview: { port: 4190, strictPort: false } });
    servers.push(server);
    const studio = await openStudio(browser, server.resolvedUrls.local[0].replace(/\/$/, ''));
    if (!studio.isolated) throw new Error(`${b.label}: the page is not cross-origin isolated, so WASM runs on one thread`);
    await studio.time(); // warm-up run
    studios.push(studio);
  }
  for (let rep = 0; rep < RUNS; rep++) {
    for (let k = 0; k < builds.length; k++) {
      const r = await studios[k].time();
      results[k].ms.push(r.ms);
      results[k].perForward.push(r.perForward);
      console.log(`run ${rep + 1}/${RUNS}: ${builds[k].label}: ${r.ms.toFixed(0)} ms click to done, ${r.perForward} ms/forward (the app's figure)`);
    }
    nativeInfo = native();
    nativeMs.push(nativeInfo.run_ms[0]);
    console.log(`run ${rep + 1}/${RUNS}: native onnxruntime ${nativeInfo.onnxruntime}, ${THREADS} threads: ${nativeMs.at(-1).toFixed(0)} ms (${nativeInfo.forwards_per_run} forwards)`);
  }
} finally {
  await browser.close();
  for (const s of servers) await new Promise((r) => s.httpServer.close(r));
}
const loadAfter = load();

const nat = quartiles(nativeMs);
const fmt = (q) => `${q.median_ms.toFixed(0)} [${q.q25_ms.toFixed(0)}–${q.q75_ms.toFixed(0)}]`;
const median = (v) => quartiles(v).median_ms;
const rows = results.map((r) => ({ label: r.label, dist: r.dir, ...quartiles(r.ms), all_ms: r.ms, ms_per_forward: median(r.perForward), all_ms_per_forward: r.perForward }));
const nativePerForward = median(nativeMs) / nativeInfo.forwards_per_run;
console.log(`\n${query}: ${RUNS} runs each (median [IQR] ms), ${cpus().length} CPUs (${cpus()[0].model}), load ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`);
console.log('| what | click to done, ms | ms/forward | ÷ native |\n|---|---:|---:|---:|');
for (const r of rows) console.log(`| browser, ${r.label} | ${fmt(r)} | ${r.ms_per_forward.toFixed(1)} | ${(r.median_ms / nat.median_ms).toFixed(2)}× |`);
console.log(`| native onnxruntime ${nativeInfo.onnxruntime}, ${THREADS} threads, ${nativeInfo.forwards_per_run} forwards | ${fmt(nat)} | ${nativePerForward.toFixed(1)} | 1 |`);
writeFileSync(
  OUT,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      query: Object.fromEntries(query),
      machine: { cpus: cpus().length, model: cpus()[0].model, load_before: loadBefore, load_after: loadAfter },
      chromium: chromiumVersion,
      browser: rows.map((r) => ({ ...r, ratio_to_native: r.median_ms / nat.median_ms })),
      native: { ...nat, all_ms: nativeMs, ms_per_forward: nativePerForward, threads: THREADS, onnxruntime: nativeInfo.onnxruntime, forwards_per_run: nativeInfo.forwards_per_run },
    },
    null,
    1,
  ) + '\n',
);
console.log(`wrote ${OUT}`);
