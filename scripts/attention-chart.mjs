#!/usr/bin/env node
// Screenshot of the attention explorer after one run of diffit-fmnist at its defaults (18 steps),
// with a query pixel pinned. Usage: npm run build, then node scripts/attention-chart.mjs [out.png] [query string]
import { spawn } from 'node:child_process';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from './chromium.mjs';

const out = process.argv[2] ?? 'attention-chart.png';
const query = process.argv[3] ?? 'model=diffit-fmnist&backend=wasm&seed=0&class=none&batch=4';
const base = 'http://localhost:4178';
const server = spawn('npx', ['vite', 'preview', '--port', '4178', '--strictPort'], { stdio: 'ignore', detached: true });
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(base)).ok) break;
  } catch {
    await new Promise((r) => setTimeout(r, 200));
  }
}
const browser = await chromium.launch(chromiumLaunchOptions());
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
  await page.goto(`${base}/?${query}`);
  await page.getByTestId('generate').click();
  await page.waitForFunction(() => window.__diffit.state().status === 'done', null, { timeout: 600_000 });
  const zoom = page.getByTestId('zoom');
  const box = await zoom.boundingBox();
  await zoom.click({ position: { x: (12.5 / 32) * box.width, y: (14.5 / 32) * box.height } });
  await page.getByTestId('attention-chart').waitFor();
  await page.locator('.content').screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  process.kill(-server.pid);
}
