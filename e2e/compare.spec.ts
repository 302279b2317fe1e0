import type { Page } from '@playwright/test';
import { pixelDiff, pythonSample } from './support/python-reference';
import { expect, test } from './support/studio-page';

// Same tolerance as generate.spec.ts: onnxruntime-web and onnxruntime on CPU differ in the last float bits.
const MAX_DIFF = 2;
const MEAN_DIFF = 0.05;
const IDS = ['diffit-fmnist', 'dws-fmnist', 'diffip-fmnist'];

function compareQuery(args: { seed: number; steps: number; classLabel: number | null; guidance: number; guide: 'interval' | 'every'; batch: number }, ids = IDS): string {
  return `/?compare=${ids.join(',')}&sampler=heun&seed=${args.seed}&steps=${args.steps}&class=${args.classLabel ?? 'none'}&guidance=${args.guidance}&guide=${args.guide}&batch=${args.batch}&backend=wasm&weights=float32`;
}

const panel = (page: Page, id: string) => page.locator(`[data-testid="compare-panel"][data-model="${id}"]`);

/** uint8 pixels of one panel's canvases, row-major over [B, C, H, W] (grey: channel 0). */
function panelPixels(page: Page, id: string): Promise<number[]> {
  return page.evaluate((model) => {
    const canvases = [...document.querySelectorAll<HTMLCanvasElement>(`[data-testid="compare-panel"][data-model="${model}"] canvas[data-testid="compare-result"]`)];
    const out: number[] = [];
    for (const canvas of canvases) {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      for (let p = 0; p < canvas.width * canvas.height; p++) out.push(data[4 * p]);
    }
    return out;
  }, id);
}

async function runAll(page: Page, timeout = 200_000): Promise<void> {
  await page.getByTestId('compare-run').click();
  await expect(page.getByTestId('compare-run')).toBeDisabled();
  await expect(page.getByTestId('compare-run')).toBeEnabled({ timeout });
}

test.describe('compare view on WASM', () => {
  test('three models on the same noise match python -m diffit.sample, and one slider moves all panels', async ({ page, studio }, testInfo) => {
    const args = { seed: 3, steps: 4, classLabel: 1, guidance: 2, guide: 'interval' as const, batch: 2 };
    await page.goto(compareQuery(args));
    await expect(page.getByTestId('compare-panel')).toHaveCount(3);
    await expect(studio.notices).toHaveCount(0);
    // Cost from the manifest (its `benchmark` block) before anything runs.
    for (const id of IDS) {
      await expect(panel(page, id).getByTestId('compare-cost-macs')).toContainText(/\d+\.\d\d M/);
      await expect(panel(page, id).getByTestId('compare-cost-parameters')).toContainText(/\d/);
      await expect(panel(page, id).getByTestId('compare-cost-bytes')).toContainText(/MB/);
      await expect(panel(page, id).getByTestId('compare-accuracy')).toContainText('%');
    }
    await runAll(page);

    const state = await page.evaluate(() => window.__diffitCompare!.state());
    expect(state.params).toMatchObject({ seed: 3, steps: 4, classLabel: 1, guidance: 2, batch: 2, backend: 'wasm' });
    expect(state.panels.map((p) => [p.id, p.status, p.error, p.recordedSteps])).toEqual(IDS.map((id) => [id, 'done', null, 4]));
    expect(new URL(page.url()).search).toBe(compareQuery(args).slice(1));
    const finals: Record<string, number[]> = {};
    for (const id of IDS) {
      const reference = pythonSample({ model: id, ...args }, testInfo.outputPath(`${id}.json`));
      const hook = state.panels.find((p) => p.id === id)!.result!;
      expect(hook.shape).toEqual(reference.shape);
      finals[id] = await panelPixels(page, id);
      const diff = pixelDiff(finals[id], reference.pixels);
      console.log(`[compare] ${id}: pixel diff max ${diff.max} mean ${diff.mean.toFixed(4)}, ms/step ${state.panels.find((p) => p.id === id)!.msPerStep?.toFixed(1)}`);
      expect(diff.max).toBeLessThanOrEqual(MAX_DIFF);
      expect(diff.mean).toBeLessThanOrEqual(MEAN_DIFF);
      expect(pixelDiff(hook.pixels, reference.pixels)).toEqual(diff);
      await expect(panel(page, id).getByTestId('compare-ms-per-step')).toHaveText(/\d+(\.\d)? ms/);
      await expect(panel(page, id).getByTestId('compare-total')).toHaveText(/\d+\.\d\d s/);
      await expect(panel(page, id).getByTestId('compare-speedup')).toHaveText(id === 'diffit-fmnist' ? '1.00× (reference)' : /^\d+\.\d\d×$/);
    }
    // The models differ, the noise does not: different pictures from one seed.
    expect(pixelDiff(finals['diffit-fmnist'], finals['dws-fmnist']).max).toBeGreaterThan(0);

    // The shared slider: step 1 on every panel, then back to the last step.
    const slider = page.getByTestId('compare-step');
    await expect(page.getByTestId('compare-step-label')).toHaveText('step 4 of 4');
    await slider.fill('0');
    await expect(page.getByTestId('compare-step-label')).toHaveText('step 1 of 4');
    for (const id of IDS) {
      await expect(panel(page, id).getByTestId('compare-results')).toHaveAttribute('data-step', '0');
      await expect(panel(page, id).getByTestId('compare-result')).toHaveCount(2);
      for (const canvas of await panel(page, id).getByTestId('compare-result').all()) await expect(canvas).toHaveAttribute('data-step', '0');
      expect(pixelDiff(await panelPixels(page, id), finals[id]).max).toBeGreaterThan(10); // still noisy after one step of four
    }
    await slider.fill('2');
    for (const id of IDS) await expect(panel(page, id).getByTestId('compare-results')).toHaveAttribute('data-step', '2');
    await slider.fill('3');
    await expect(page.getByTestId('compare-step-label')).toHaveText('step 4 of 4');
    for (const id of IDS) expect(await panelPixels(page, id)).toEqual(finals[id]);
    expect(studio.consoleErrors).toEqual([]);
  });

  test('a model that fails to load fails only its own panel', async ({ page }) => {
    await page.route('**/dws-fmnist.onnx', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('this is not an onnx model'.repeat(100)) }));
    await page.goto(compareQuery({ seed: 5, steps: 2, classLabel: null, guidance: 1, guide: 'every', batch: 1 }));
    await runAll(page);
    await expect(panel(page, 'dws-fmnist')).toHaveAttribute('data-state', 'error');
    await expect(panel(page, 'dws-fmnist').getByTestId('compare-error')).toContainText(/integrity check/);
    await expect(panel(page, 'dws-fmnist').getByTestId('compare-result')).toHaveCount(0);
    for (const id of ['diffit-fmnist', 'diffip-fmnist']) {
      await expect(panel(page, id)).toHaveAttribute('data-state', 'done');
      await expect(panel(page, id).getByTestId('compare-error')).toHaveCount(0);
      await expect(panel(page, id).getByTestId('compare-result')).toHaveCount(1);
    }
    await expect(panel(page, 'dws-fmnist').getByTestId('compare-speedup')).toHaveText('–');
    await expect(panel(page, 'diffip-fmnist').getByTestId('compare-speedup')).toHaveText(/^\d+\.\d\d×$/);
  });

  test('a bad compare value shows a notice; the studio links to the compare view and back', async ({ page, studio }) => {
    await page.goto('/?compare=nope,diffit-fmnist&seed=4&steps=3&batch=1&backend=wasm');
    await expect(studio.notices.filter({ hasText: 'unknown model "nope"' })).toBeVisible();
    await expect(studio.notices.filter({ hasText: 'compare="nope,diffit-fmnist"' })).toBeVisible();
    await expect(page.getByTestId('compare-panel')).toHaveCount(3);

    await page.getByTestId('studio-link').click();
    await expect(page.getByRole('heading', { name: 'DiffiT Studio' })).toBeVisible();
    await expect(page.getByTestId('model-picker')).toBeVisible();
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toMatchObject({ model: 'diffit-fmnist', seed: '4', steps: '3', batch: '1', backend: 'wasm' });
    // The picker shows each model's cost and quality.
    await expect(page.getByTestId('model-cost-macs')).toContainText(/\d+\.\d\d M/);
    await expect(page.getByTestId('model-cost-wasm')).toContainText(/ms \/ forward/);
    await expect(page.getByTestId('model-cost-accuracy')).toContainText('%');
    await page.getByTestId('model').selectOption('dws-fmnist');
    await expect(page.getByTestId('model-cost-parameters')).toContainText('1.39 M');
    // Distribution metrics, with the real-vs-real floor, for every model that has them.
    const { readFileSync } = await import('node:fs');
    type Judged = { id: string; evaluation?: { fd_clf?: Record<string, number | null>; fd_clf_floor?: number; fd_floor_samples?: number } };
    const judged = (JSON.parse(readFileSync('public/models/manifest.json', 'utf8')).models as Judged[]).filter(
      (m) => typeof m.evaluation?.fd_clf_floor === 'number',
    );
    expect(judged.length).toBeGreaterThan(0);
    for (const m of judged) {
      await page.getByTestId('model').selectOption(m.id);
      const [w, fd] = Object.entries(m.evaluation!.fd_clf!).find(([, v]) => typeof v === 'number')!;
      await expect(page.getByTestId('model-cost-fd_clf')).toContainText(`${fd!.toFixed(1)} at w=${Number(w)}`);
      await expect(page.getByTestId('model-cost-fd_clf')).toContainText(`${m.evaluation!.fd_clf_floor!.toFixed(1)} at ${m.evaluation!.fd_floor_samples}`);
      await expect(page.getByTestId('model-cost-precision_recall')).toContainText(/\d\.\d\d \/ \d\.\d\d at w=/);
    }
    await page.getByTestId('model').selectOption('dws-fmnist');

    await page.getByTestId('compare-link').click();
    await expect(page.getByTestId('compare-view')).toBeVisible();
    await expect(page.getByTestId('compare-panel')).toHaveCount(3);
    expect(new URL(page.url()).searchParams.get('compare')).toBe(IDS.join(','));
    await expect(studio.notices).toHaveCount(0);
  });
});
