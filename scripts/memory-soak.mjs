#!/usr/bin/env node
// Memory of the timeline: (1) the bytes one recorded run holds at the model's defaults, and
// (2) the JS heap across 100 generations in a row (few steps), after a forced GC every 10 runs.
// Usage: npm run build, then node scripts/memory-soak.mjs [runs=100] [base URL]
// Without a base URL it serves dist/ itself with `vite preview` on port 4179.
import { spawn } from 'node:child_process';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from './chromium.mjs';

const runs = Number(process.argv[2] ?? 100);
let base = process.argv[3];

let server = null;
if (!base) {
  base = 'http://localhost:4179';
  server = spawn('npx', ['vite', 'preview', '--port', '4179', '--strictPort'], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(base)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const browser = await chromium.launch(chromiumLaunchOptions({ extraArgs: ['--enable-precise-memory-info'] }));
try {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (name) => metrics.find((m) => m.name === name)?.value ?? NaN;
    // ArrayBuffer backing stores (the recorded trajectory) are outside the JS heap proper.
    const usage = await cdp.send('Runtime.getHeapUsage');
    return { used: get('JSHeapUsedSize'), total: get('JSHeapTotalSize'), backing: usage.backingStorageSize ?? NaN };
  };
  const generate = async () => {
    await page.getByTestId('generate').click();
    await page.waitForFunction(() => ['done', 'error'].includes(window.__diffit.state().status) && window.__diffit.state().step > 0, null, { timeout: 600_000 });
    const s = await page.evaluate(() => window.__diffit.state());
    if (s.status !== 'done') throw new Error(`run failed: ${s.error}`);
  };
  const mb = (b) => (b === null || Number.isNaN(b) ? 'n/a' : `${(b / 1e6).toFixed(2)} MB`);

  // (1) One run at the model's defaults (steps and batch from the app's defaults).
  await page.goto(`${base}/?model=diffit-fmnist&backend=wasm&seed=0`);
  await page.getByTestId('generate').waitFor();
  await page.waitForFunction(() => window.__diffit.state().params.model === 'diffit-fmnist');
  const params = await page.evaluate(() => window.__diffit.state().params);
  await generate();
  const t = await page.evaluate(() => window.__diffit.timeline());
  const afterDefault = await heap();
  console.log(`default run heap after GC: main JS heap used ${mb(afterDefault.used)}, ArrayBuffers ${mb(afterDefault.backing)}`);
  console.log(`default run: diffit-fmnist, ${params.steps} steps, batch ${params.batch}: recorded ${t.recorded} steps;` +
    ` states ${t.bytes.states} B, attention ${t.bytes.attention} B, summary ${t.bytes.summary} B, total ${t.bytes.total} B (${mb(t.bytes.total)})`);

  // (2) The soak: `runs` generations in a row with 2 steps, batch 2, attention recorded.
  await page.goto(`${base}/?model=diffit-fmnist&backend=wasm&seed=0&steps=2&batch=2`);
  await page.getByTestId('generate').waitFor();
  await page.waitForFunction(() => window.__diffit.state().params.steps === 2);
  await generate(); // warm-up: model loaded, code paths compiled
  const start = await heap();
  console.log(`soak: ${runs} generations of diffit-fmnist, 2 steps, batch 2, WASM; heap after GC`);
  console.log(`  after   0: main JS heap used ${mb(start.used)} (total ${mb(start.total)}), ArrayBuffers ${mb(start.backing)}`);
  const t0 = Date.now();
  for (let i = 1; i <= runs; i++) {
    await generate();
    if (i % 10 === 0) {
      const h = await heap();
      console.log(`  after ${String(i).padStart(3)}: main JS heap used ${mb(h.used)} (total ${mb(h.total)}), ArrayBuffers ${mb(h.backing)}  [${((Date.now() - t0) / 1000).toFixed(0)} s]`);
    }
  }
} finally {
  await browser.close();
  if (server) process.kill(-server.pid);
}
