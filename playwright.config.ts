import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './scripts/chromium.mjs';

// E2E_PORT: another port where several checkouts or runs share one machine.
const PORT = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  timeout: 240_000,
  expect: { timeout: 30_000 },
  // Two cores: the WASM backend already uses both threads, so tests run one at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://localhost:${PORT}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      // No WebGPU flag: Chromium grants no adapter, so this also is "a browser without WebGPU".
      name: 'chromium-wasm',
      testIgnore: /webgpu\.spec\.ts/,
      use: { browserName: 'chromium', launchOptions: chromiumLaunchOptions() },
    },
    {
      // WebGPU on SwiftShader: correct but ~100x slower than WASM, so batch 1 and 2-3 steps only.
      name: 'chromium-webgpu',
      testMatch: /webgpu\.spec\.ts/,
      use: { browserName: 'chromium', launchOptions: chromiumLaunchOptions({ webgpu: true }) },
    },
  ],
  webServer: {
    // The built app, served with the COOP/COEP headers (vite.config.ts `preview.headers`).
    command: `npm run build && npx vite preview --port ${PORT} --strictPort`,
    // A test build (src/main.tsx installs the e2e hooks), also when a spec is run with plain `npx playwright test`.
    env: { VITE_TEST_HOOKS: '1' },
    url: `http://localhost:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 240_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
