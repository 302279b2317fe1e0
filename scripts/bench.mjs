#!/usr/bin/env node
// Headless ms/forward of each onnxruntime-web bundle on one shipped model.
// Usage: npm run dev (in another shell), then node scripts/bench.mjs [model] [batch] [runs] [base URL]
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from './chromium.mjs';

const model = process.argv[2] ?? 'diffit-fmnist';
const batch = Number(process.argv[3] ?? 1);
const runs = Number(process.argv[4] ?? 20);
const base = process.argv[5] ?? 'http://localhost:5173';
const cases = [
  { bundle: 'wasm', ep: 'wasm', gpu: false },
  { bundle: 'webgpu', ep: 'wasm', gpu: false },
  { bundle: 'default', ep: 'wasm', gpu: false },
  ...(process.env.BENCH_WEBGPU === '0' ? [] : [{ bundle: 'webgpu', ep: 'webgpu', gpu: true, runs: 3 }]),
];
for (const c of cases) {
  const browser = await chromium.launch(chromiumLaunchOptions({ webgpu: c.gpu }));
  const page = await browser.newPage();
  await page.goto(`${base}/src/inference/bench/index.html?model=${model}&bundle=${c.bundle}&ep=${c.ep}&batch=${batch}&runs=${c.runs ?? runs}`);
  await page.waitForFunction(() => window.__bench, null, { timeout: 600_000 });
  const r = await page.evaluate(() => window.__bench);
  console.log(r.error ? `${c.bundle}/${c.ep}: error ${r.error}` : `${r.model}: ${r.bundle.padEnd(8)} bundle, ${r.ep.padEnd(6)} EP, batch ${r.batch}, ${r.runs} runs, ${r.threads} threads: median ${r.medianMs.toFixed(1)} ms, mean ${r.meanMs.toFixed(1)} ms/forward (checksum ${r.checksum.toFixed(3)})`);
  await browser.close();
}
