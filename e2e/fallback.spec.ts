import { expect, test } from './support/studio-page';

// The `chromium-wasm` project launches Chromium without WEBGPU_ARG (scripts/chromium.mjs): no adapter.
test('asking for WebGPU without it falls back to WASM with a notice', async ({ studio, page }) => {
  await studio.goto({ backend: 'webgpu', steps: 2, batch: 1 });
  await expect(studio.notices).toContainText(/WebGPU is not available/);
  await expect(page.getByTestId('backend')).toHaveAttribute('data-backend', 'wasm');
  await expect(page.getByTestId('backend')).toContainText('WASM');
  const state = await studio.generate();
  expect(state.status).toBe('done');
  expect(state.backend).toBe('wasm');
  // The notice stays visible after the run.
  await expect(studio.notices.first()).toBeVisible();
});
