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
//      load: per repetition every (run, build) once, then native once per run;
//   4. prints median [IQR] per run and build, native's, and their ratio, and with several builds each
//      one's paired saving against the first (round by round: steadier on a shared machine); writes bench/run.json.
//
// Each --query is one run to measure: URL parameters over the default run (repeat it to compare
// runs, e.g. --query "" --query "sampler=dpmpp-2m&steps=8&guide=interval"; `sampler`, `guide` and
// `weights` are read by the native side too, so `weights=int8` times native onnxruntime on the int8 file).
//
// --pair measures the i-th --query on the i-th --dist build only (a build made to run it).
//
// --no-isolation serves the builds without COOP/COEP, as a host that sends no such headers would: the
// page is not cross-origin isolated, so the app runs WASM on one thread; pair it with --threads 1.
//
// Usage: node scripts/bench-run.mjs [--runs 5] [--threads 2] [--query "steps=..."]...
//                                   [--dist LABEL=DIR]... [--pair] [--no-isolation] [--out bench/run.json]
// A benchmark, not a test: it asserts nothing about times. Run it alone (the 2 cores are shared).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from './chromium.mjs';
import { pairedSaving, quartiles } from './stats.mjs';

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
const queries = (options('--query').length ? options('--query') : ['']).map((text) => {
  const query = new URLSearchParams({ model: 'diffit-fmnist', steps: '18', batch: '4', class: '1', guidance: '2', backend: 'wasm' });
  for (const [k, v] of new URLSearchParams(text)) query.set(k, v);
  return query;
});
if (!Number.isInteger(RUNS) || RUNS < 1) usage(`--runs must be a positive integer, got ${option('--runs')}`);
if (!Number.isInteger(THREADS) || THREADS < 1) usage(`--threads must be a positive integer, got ${option('--threads')}`);
const builds = options('--dist').map((spec, index) => {
  const [label, dir] = spec.includes('=') ? spec.split(/=(.*)/s) : [spec, spec];
  return { label, dir: resolve(dir), index };
});
const PAIR = argv.includes('--pair');
const ISOLATED = !argv.includes('--no-isolation');
if (PAIR && builds.length !== queries.length) usage(`--pair needs as many --dist as --query (${builds.length} and ${queries.length})`);

const { chromium } = await import('@playwright/test');
const { build, preview } = await import('vite');
const CONFIG = resolve(ROOT, 'vite.config.ts');

if (builds.length === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'diffit-bench-run-'));
  console.log(`building the app into ${dir}…`);
  await build({ root: ROOT, configFile: CONFIG, logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  builds.push({ label: 'app', dir, index: 0 });
}

function native(query) {
  const args = ['scripts/bench_native_run.py', '--model', query.get('model'), '--steps', query.get('steps'), '--batch', query.get('batch'), '--guidance', query.get('guidance'), '--threads', String(THREADS), '--runs', '1'];
  if (query.get('sampler')) args.push('--sampler', query.get('sampler'));
  if (query.get('guide')) args.push('--guide', query.get('guide'));
  if (query.get('weights')) args.push('--weights', query.get('weights'));
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
async function openStudio(browser, base, query) {
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
const runs = queries.map((query, i) => ({ query, builds: (PAIR ? [builds[i]] : builds).map((b) => ({ ...b, ms: [], perForward: [] })), nativeMs: [], nativeInfo: null }));
try {
  const bases = [];
  for (const b of builds) {
    // Without the config file, `vite preview` sends no COOP/COEP headers (vite.config.ts adds them).
    const server = await preview({ root: ROOT, configFile: ISOLATED ? CONFIG : false, logLevel: 'warn', build: { outDir: b.dir }, preview: { port: 4190, strictPort: false } });
    servers.push(server);
    bases.push(server.resolvedUrls.local[0].replace(/\/$/, ''));
  }
  for (const run of runs) {
    for (const b of run.builds) {
      b.studio = await openStudio(browser, bases[b.index], run.query);
      if (ISOLATED && !b.studio.isolated) throw new Error(`${b.label}: the page is not cross-origin isolated, so WASM runs on one thread`);
      if (!ISOLATED && b.studio.isolated) throw new Error(`${b.label}: the page is cross-origin isolated although --no-isolation was given`);
      await b.studio.time(); // warm-up run
    }
  }
  for (let rep = 0; rep < RUNS; rep++) {
    for (const run of runs) {
      for (const b of run.builds) {
        const r = await b.studio.time();
        b.ms.push(r.ms);
        b.perForward.push(r.perForward);
        console.log(`run ${rep + 1}/${RUNS}: ${run.query}: ${b.label}: ${r.ms.toFixed(0)} ms click to done, ${r.perForward} ms/forward (the app's figure)`);
      }
      run.nativeInfo = native(run.query);
      run.nativeMs.push(run.nativeInfo.run_ms[0]);
      console.log(`run ${rep + 1}/${RUNS}: ${run.query}: native, ${THREADS} threads: ${run.nativeMs.at(-1).toFixed(0)} ms (${run.nativeInfo.forwards_per_run} forwards)`);
    }
  }
} finally {
  await browser.close();
  for (const s of servers) await new Promise((r) => s.httpServer.close(r));
}
const loadAfter = load();

const fmt = (q) => `${q.median_ms.toFixed(0)} [${q.q25_ms.toFixed(0)}–${q.q75_ms.toFixed(0)}]`;
const median = (v) => quartiles(v).median_ms;
const summary = runs.map(({ query, builds: measured, nativeMs, nativeInfo }) => {
  const nat = quartiles(nativeMs);
  return {
    query: Object.fromEntries(query),
    forwards_per_run: nativeInfo.forwards_per_run,
    // Every build after the first against the first, round by round (they ran alternated).
    browser: measured.map((b, i) => ({ label: b.label, dist: b.dir, ...quartiles(b.ms), all_ms: b.ms, ms_per_forward: median(b.perForward), all_ms_per_forward: b.perForward, ratio_to_native: median(b.ms) / nat.median_ms, ...(i > 0 ? { saving_vs_first: { than: measured[0].label, ...pairedSaving(measured[0].ms, b.ms) } } : {}) })),
    native: { ...nat, all_ms: nativeMs, ms_per_forward: nat.median_ms / nativeInfo.forwards_per_run, threads: THREADS, onnxruntime: nativeInfo.onnxruntime },
  };
});
console.log(`\n${RUNS} runs each, median [IQR]; ${cpus().length} CPUs (${cpus()[0].model}), load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`);
console.log('| run | what | forwards | click to done, ms | ms/forward | ÷ native |\n|---|---|---:|---:|---:|---:|');
for (const s of summary) {
  const run = Object.entries(s.query).map(([k, v]) => `${k}=${v}`).join('&');
  for (const b of s.browser) console.log(`| ${run} | browser (${b.label}), Chromium ${chromiumVersion} | ${s.forwards_per_run} | ${fmt(b)} | ${b.ms_per_forward.toFixed(1)} | ${b.ratio_to_native.toFixed(2)}× |`);
  console.log(`| ${run} | native onnxruntime ${s.native.onnxruntime}, ${THREADS} threads | ${s.forwards_per_run} | ${fmt(s.native)} | ${s.native.ms_per_forward.toFixed(1)} | 1 |`);
  for (const b of s.browser.filter((x) => x.saving_vs_first)) {
    const p = b.saving_vs_first;
    console.log(`paired saving of ${b.label} against ${p.than}: ${fmt(p)} ms (${b.label} faster in ${p.after_faster} of ${p.runs} rounds) — ${run}`);
  }
}
const report = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0].model, load_before: loadBefore, load_after: loadAfter }, chromium: chromiumVersion, cross_origin_isolated: ISOLATED, runs: summary };
writeFileSync(OUT, `${JSON.stringify(report, null, 1)}\n`);
console.log(`wrote ${OUT}`);
