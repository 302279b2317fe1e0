import { gifFrameCount } from '@/testing/gif-frames';
import { pythonAttentionStats } from './support/python-attention';
import { expect, test } from './support/studio-page';

// Few steps and a small batch keep this fast on two cores.
const RUN = { model: 'diffit-fmnist', seed: 3, steps: 4, class: 'none', guidance: 1, batch: 2, backend: 'wasm' };

test.describe('timeline and attention explorer', () => {
  test('slider shows each recorded step; a click draws a heatmap; the strip and GIF have one entry per step', async ({ studio, page }, testInfo) => {
    await studio.goto(RUN);
    const state = await studio.generate();
    expect(state.status).toBe('done');
    const tl = await studio.timeline();
    expect(tl.recorded).toBe(4);
    expect(tl.selected).toBe(4); // the last step by default
    expect(tl.sigmas).toHaveLength(4);
    expect(tl.sigmas[3]).toBe(0);
    expect(tl.attentionImage).toBe(0);

    // The final step is the result.
    expect(await studio.canvasPixels(1)).toEqual(state.result!.pixels);

    // Keyboard: Home → step 1; the canvases show the recorded state of step 1.
    const slider = page.getByTestId('timeline-slider');
    await slider.focus();
    await page.keyboard.press('Home');
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '1');
    await expect(page.getByTestId('timeline-label')).toContainText(/Step 1 \/ 4 · σ = /);
    expect(await studio.canvasPixels(1)).toEqual(await studio.stepPixels(1, 'x'));
    await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '2');
    expect(await studio.canvasPixels(1)).toEqual(await studio.stepPixels(2, 'x'));
    expect(new URL(page.url()).searchParams.get('step')).toBe('2');

    // Play advances through the steps (wrapping around); Pause stops.
    await page.getByTestId('timeline-fps').selectOption('12');
    await page.getByTestId('timeline-play').click();
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '3');
    await page.getByTestId('timeline-play').click();
    await expect(page.getByTestId('timeline-play')).toHaveText('Play');
    await slider.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '2');

    // Views: predicted clean image, and the change since the previous step.
    await page.getByTestId('timeline-view').selectOption('denoised');
    expect(await studio.canvasPixels(1)).toEqual(await studio.stepPixels(2, 'denoised'));
    await page.getByTestId('timeline-view').selectOption('change');
    expect(await studio.canvasPixels(1)).toEqual(await studio.stepPixels(2, 'change'));
    await page.keyboard.press('End'); // focus moved to the select: use the slider again
    await slider.focus();
    await page.keyboard.press('End');
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '4');
    await page.getByTestId('timeline-view').selectOption('x');
    expect(await studio.canvasPixels(1)).toEqual(state.result!.pixels);

    // Enlarge image 1, click a pixel: a heatmap appears over it, and the window is outlined.
    await studio.results.nth(0).click();
    const zoom = page.getByTestId('zoom');
    await expect(zoom).toHaveAttribute('data-index', '0');
    await expect(page.getByTestId('zoom-image')).toHaveCSS('image-rendering', 'pixelated');
    const box = (await zoom.boundingBox())!;
    // Pixel (y 20, x 5) of the 32×32 image, at the level-0 layer (32×32, 8×8 windows): window (2, 0) = 8, token (4, 5) = 37.
    await zoom.click({ position: { x: (5.5 / 32) * box.width, y: (20.5 / 32) * box.height } });
    await expect(page.getByTestId('attention-query')).toContainText('query pixel (20, 5) → token (20, 5), window 8, token 37');
    const overlay = page.getByTestId('attention-overlay');
    await expect(overlay).toBeVisible();
    const drawn = await overlay.evaluate((c: HTMLCanvasElement) => {
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      let inside = 0;
      let outside = 0;
      for (let p = 0; p < c.width * c.height; p++) {
        const y = Math.floor(p / c.width);
        const x = p % c.width;
        const inWindow = y >= 16 && y < 24 && x >= 0 && x < 8;
        if (data[4 * p + 3] > 0) inWindow ? inside++ : outside++;
      }
      return { inside, outside };
    });
    expect(drawn).toEqual({ inside: 64, outside: 0 });
    await expect(page.getByTestId('attention-window')).toHaveAttribute('width', '8');

    // A global layer: no window outline, the heatmap covers the whole image.
    await page.getByTestId('attention-layer').selectOption('2') // enc2_0: 8×8, one window;
    await expect(page.getByTestId('attention-window')).toHaveCount(0);
    await page.getByTestId('attention-head').selectOption('1');

    // Through time: one cell per step.
    await expect(page.getByTestId('attention-strip-cell')).toHaveCount(4);
    // Chart: one line per TMSA layer in each panel.
    await expect(page.getByTestId('attention-chart')).toBeVisible();
    await expect(page.getByTestId('chart-entropy').locator('polyline')).toHaveCount(6);
    await expect(page.getByTestId('chart-distance').locator('polyline')).toHaveCount(6);

    // The chart's numbers match training/diffit/attention_stats.py on the same noise (PyTorch vs onnxruntime-web).
    const py = pythonAttentionStats({ checkpoint: 'training/weights/diffit-fmnist-ema.pt', seed: RUN.seed, steps: RUN.steps, batch: RUN.batch }, testInfo.outputPath('attention.json'));
    const browser = await page.evaluate(() => window.__diffit!.attentionStats());
    expect(browser.map((l) => l.layer)).toEqual(Object.keys(py[0].layers));
    for (const l of browser) {
      for (let i = 0; i < RUN.steps; i++) {
        expect(Math.abs(l.entropy[i] - py[i].layers[l.layer][0]), `${l.layer} entropy, step ${i + 1}`).toBeLessThan(0.01);
        expect(Math.abs(l.distance[i] - py[i].layers[l.layer][1]), `${l.layer} distance, step ${i + 1}`).toBeLessThan(0.02);
      }
    }

    // Recorded attention rows sum to 1 (uint8 per row).
    const sums = await page.evaluate(() => window.__diffit!.attentionRowSums());
    expect(sums!.rows).toBe(4 * 6656);
    expect(sums!.min).toBeGreaterThan(0.97);
    expect(sums!.max).toBeLessThan(1.03);

    // GIF of the enlarged image's trajectory: GIF89a, one frame per step.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-gif').click()]);
    expect(download.suggestedFilename()).toMatch(/^diffit-fmnist-seed3-classnone-w1-4steps-image1-x-sigma.*-to-0\.gif$/);
    const { readFileSync } = await import('node:fs');
    const gif = new Uint8Array(readFileSync((await download.path())!));
    expect(String.fromCharCode(...gif.subarray(0, 6))).toBe('GIF89a');
    expect(gifFrameCount(gif)).toBe(4);

    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-grid').click()]);
    const pngBytes = new Uint8Array(readFileSync((await png.path())!));
    expect(Array.from(pngBytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    expect(png.suggestedFilename()).toBe('diffit-fmnist-seed3-classnone-w1-4steps-grid.png');
    expect(studio.consoleErrors).toEqual([]);
  });

  test('the URL step is restored after a run; a step past the end shows the last, with a notice', async ({ studio, page }) => {
    await studio.goto({ ...RUN, steps: 3, batch: 1, step: 2 });
    await studio.generate();
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '2');
    expect(await studio.canvasPixels(1)).toEqual(await studio.stepPixels(2, 'x'));

    await studio.goto({ ...RUN, steps: 2, batch: 1, step: 9 });
    await studio.generate();
    await expect(page.getByTestId('timeline-label')).toHaveAttribute('data-step', '2');
    await expect(studio.notices).toContainText('The URL asks for step 9, but this run has 2 steps; showing the last step.');
  });

  test('a pooling model says it has no attention, and records none', async ({ studio, page }) => {
    await studio.goto({ ...RUN, model: 'diffip-fmnist', steps: 2, batch: 1 });
    await expect(page.getByTestId('attention-none')).toContainText(/pooling/);
    await studio.generate();
    const tl = await studio.timeline();
    expect(tl.recorded).toBe(2);
    expect(tl.attentionImage).toBeNull();
    expect(tl.bytes!.attention).toBe(0);
    await expect(page.getByTestId('attention-layer')).toHaveCount(0);
  });
});
