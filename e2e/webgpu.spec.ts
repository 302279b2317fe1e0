import { pixelDiff, pythonSample, shippedModel } from './support/python-reference';
import { expect, test } from './support/studio-page';

// Runs in the `chromium-webgpu` project (WEBGPU_ARG of scripts/chromium.mjs, --enable-unsafe-webgpu:
// SwiftShader, ~100x slower than WASM), so batch 1 and 2 steps.
//
// WebGPU shaders sum and exponentiate in another order than onnxruntime's CPU kernels (one
// forward differs by ~1e-4 relative), and two Heun steps from sigma 80 amplify that, so a few
// pixels may be off by up to 3-4 levels; the mean stays tiny.
const MAX_DIFF = 4;
const MEAN_DIFF = 0.05;
test('WebGPU batch of one matches python -m diffit.sample', async ({ studio }, testInfo) => {
  const model = shippedModel();
  const args = { model: model.id, seed: 7, steps: 2, classLabel: null, guidance: 1, batch: 1 };
  await studio.goto({ model: args.model, seed: args.seed, steps: args.steps, class: 'none', guidance: 1, batch: 1, backend: 'webgpu' });
  const state = await studio.generate(220_000);
  expect(state.error).toBeNull();
  expect(state.backend).toBe('webgpu');
  await expect(studio.page.getByTestId('backend')).toHaveAttribute('data-backend', 'webgpu');
  await expect(studio.notices).toHaveCount(0);
  // Graph capture (src/inference/graph-capture.ts): the warm-up at batch 1 recorded the graph and checked a replay
  // against the plain forward, so every forward of the run is a replay.
  expect(state.captureNote).toBeNull();
  expect(state.replayed).toBeGreaterThan(0);
  await expect(studio.page.getByTestId('graph-replays')).toHaveText(`${state.replayed} graph replays`);

  const reference = pythonSample(args, testInfo.outputPath('reference.json'));
  const diff = pixelDiff(await studio.canvasPixels(reference.shape[1]), reference.pixels);
  const timing = `ms/forward ${state.msPerForward?.toFixed(1)} (${state.replayed} graph replays), pixel diff max ${diff.max} mean ${diff.mean.toFixed(4)}`;
  testInfo.annotations.push({ type: 'webgpu', description: timing });
  console.log(`[webgpu] ${timing}`);
  // Not all zeros (ORT returns zeros instead of failing on some missing GPU features).
  expect(state.result!.pixels.some((p) => p !== state.result!.pixels[0])).toBe(true);
  expect(diff.max).toBeLessThanOrEqual(MAX_DIFF);
  expect(diff.mean).toBeLessThanOrEqual(MEAN_DIFF);

  // On WebGPU a core is free of the model, so the attention of each step was summarised in the app's
  // second worker (src/inference/attention-summariser.ts) while the next step ran; every step has it.
  expect(studio.page.workers().some((w) => w.url().includes('attention-worker'))).toBe(true);
  expect((await studio.timeline()).attentionImage).toBe(0);
  const stats = await studio.page.evaluate(() => window.__diffit!.attentionStats());
  expect(stats.length).toBe(6); // diffit-fmnist's six TMSA layers
  for (const l of stats) expect([...l.entropy, ...l.distance].every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  const sums = await studio.page.evaluate(() => window.__diffit!.attentionRowSums());
  expect(sums!.rows).toBe(args.steps * 6656); // one image, diffit-fmnist's six layers
  expect(sums!.min).toBeGreaterThan(0.97);
  expect(sums!.max).toBeLessThan(1.03);
});

test('auto prefers WASM over a software WebGPU adapter, and says so in the badge, not as a warning', async ({ studio }) => {
  await studio.goto({ backend: 'auto', steps: 2, batch: 1 });
  await expect(studio.page.getByTestId('backend')).toHaveAttribute('data-backend', 'wasm', { timeout: 60_000 });
  await expect(studio.page.getByTestId('backend-note')).toContainText(/software fallback/);
  await expect(studio.notices.filter({ hasText: /software fallback/ })).toHaveCount(0);
});
