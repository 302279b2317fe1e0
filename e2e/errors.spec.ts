import { expect, test } from './support/studio-page';

test('a bad URL parameter shows a notice and falls back to the default', async ({ studio, page }) => {
  await studio.goto({ steps: 'lots', seed: 12, batch: 99, backend: 'wasm' });
  await expect(studio.notices.filter({ hasText: 'steps="lots"' })).toBeVisible();
  await expect(studio.notices.filter({ hasText: 'batch="99"' })).toBeVisible();
  const state = await studio.state();
  expect(state.params.seed).toBe(12);
  expect(state.params.batch).toBe(4);
  await expect(page.getByTestId('steps')).not.toHaveValue('lots');
  await expect(studio.status).toHaveAttribute('data-state', 'idle');
});

test('an unknown model in the URL shows a notice', async ({ studio }) => {
  await studio.goto({ model: 'no-such-model', backend: 'wasm' });
  await expect(studio.notices).toContainText('model="no-such-model"');
});

test('a corrupted model fails its sha256 check with a clear message, and the app stays usable', async ({ studio, page }) => {
  await page.route('**/*.onnx', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('this is not an onnx model'.repeat(100)) }));
  await studio.goto({ backend: 'wasm', steps: 2, batch: 1 });
  await expect(studio.error).toContainText(/integrity check/);
  await expect(studio.status).toHaveAttribute('data-state', 'error');
  // Still usable: the controls work, and once the file is good again a run succeeds.
  await expect(page.getByTestId('generate')).toBeEnabled();
  await page.unroute('**/*.onnx');
  const state = await studio.generate();
  expect(state.status).toBe('done');
  await expect(studio.error).toHaveCount(0);
  await expect(studio.results).toHaveCount(1);
});

test('a model file that is missing gives a clear message', async ({ studio, page }) => {
  await page.route('**/*.onnx', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await studio.goto({ backend: 'wasm', steps: 2, batch: 1 });
  await expect(studio.error).toContainText(/model file of diffit-fmnist was not found/);
  await expect(page.getByTestId('model')).toBeEnabled();
});

test('a missing manifest gives a clear message, not a blank page', async ({ studio, page }) => {
  await page.route('**/models/manifest.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await studio.goto();
  await expect(studio.error).toContainText(/model manifest was not found/);
  await expect(studio.status).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('generate')).toHaveCount(1);
});

test('a corrupt manifest gives a clear message', async ({ studio, page }) => {
  await page.route('**/models/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"version": 1, "models": [' }));
  await studio.goto();
  await expect(studio.error).toContainText(/not valid JSON/);
  await page.unroute('**/models/manifest.json');
  await page.route('**/models/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"version": 1, "models": [{"id": "x"}]}' }));
  await page.reload();
  await expect(studio.error).toContainText(/no usable model/);
});
