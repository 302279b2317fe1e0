/**
 * What a new visitor trips over (issue #12): each test is the reproduction from the issue.
 * Short runs on WASM (1–3 steps, batch 1–2) keep them fast on two cores.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from './support/studio-page';

const FAST = { model: 'diffip-fmnist', backend: 'wasm', steps: 2, batch: 1, seed: 1 };

test.describe('number fields hold what is typed', () => {
  test('backspace, select-all and decimals: the field keeps the text, Generate runs it', async ({ studio, page }) => {
    await studio.goto({ ...FAST, batch: 4, guidance: 2, steps: 18 });
    /** Clicks into a field, goes to its end, deletes `backspaces` characters and types `text`. */
    const retype = async (key: string, backspaces: number, text: string) => {
      const field = page.getByTestId(key);
      await field.click();
      await field.press('End');
      for (let i = 0; i < backspaces; i++) await field.press('Backspace');
      await expect(field).toHaveValue('');
      await field.pressSequentially(text);
      await expect(field).toHaveValue(text);
    };
    await retype('batch', 1, '2'); // 4 → "" → "2", not 12
    await retype('guidance', 1, '0.5'); // 2 → "" → "0.5", not 10.5
    await retype('steps', 2, '3'); // 18 → "" → "3", not 13 or 18

    const state = await studio.generate();
    expect(state.status).toBe('done');
    expect(state.params).toMatchObject({ batch: 2, guidance: 0.5, steps: 3 });
    expect(new URL(page.url()).searchParams.get('batch')).toBe('2');
    expect(new URL(page.url()).searchParams.get('steps')).toBe('3');
  });

  test('a bad value is marked next to its field and blocks Generate, without being replaced', async ({ studio, page }) => {
    await studio.goto(FAST);
    const steps = page.getByTestId('steps');
    await steps.selectText();
    await steps.pressSequentially('abc');
    await page.getByTestId('seed').focus();
    await expect(steps).toHaveValue('abc');
    await expect(steps).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('steps-error')).toHaveText('Steps must be an integer from 1 to 200.');
    await page.getByTestId('generate').click();
    await expect(steps).toBeFocused();
    await expect(studio.status).toHaveAttribute('data-state', 'idle');
    await steps.fill('2');
    expect((await studio.generate()).status).toBe('done');
    await expect(page.getByTestId('steps-error')).toHaveCount(0);
  });
});

test.describe('guidance that is not a multiple of 0.25', () => {
  test('runs from the URL and from the field', async ({ studio, page }) => {
    await studio.goto({ ...FAST, class: 1, guidance: 1.3 });
    let state = await studio.generate();
    expect(state.status).toBe('done');
    expect(state.params.guidance).toBe(1.3);
    await page.getByTestId('guidance').fill('1.37');
    state = await studio.generate();
    expect(state.status).toBe('done');
    expect(state.params.guidance).toBe(1.37);
  });
});

test('on a phone, the progress and the images are on screen once a run starts', async ({ studio, page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await studio.goto({ ...FAST, steps: 3 });
  await page.getByTestId('generate').click();
  await expect(studio.status).toBeInViewport();
  await expect(studio.status).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(studio.results.first()).toBeInViewport();
});

test('cancel keeps the last finished run, and says where the cancelled one stopped', async ({ studio, page }) => {
  await studio.goto(FAST);
  const finished = await studio.generate();
  expect(finished.status).toBe('done');
  await page.getByTestId('steps').fill('200');
  await page.getByTestId('generate').click();
  await expect.poll(async () => (await studio.state()).step, { timeout: 120_000 }).toBeGreaterThanOrEqual(1);
  await page.getByTestId('cancel').click();
  await expect(studio.status).toHaveAttribute('data-state', 'done');
  await expect(studio.notices).toContainText(/Generation cancelled at step \d+ of 200; showing the last finished run\./);
  const state = await studio.state();
  expect(state.result!.pixels).toEqual(finished.result!.pixels);
  expect((await studio.timeline()).recorded).toBe(2);
  await expect(page.getByTestId('export-grid')).toBeEnabled();
});

test('a model file missing from the real preview server is reported as not found', async ({ studio, page }) => {
  // The server answers a path it does not have with index.html and status 200; only the
  // manifest is rewritten here, the missing file's answer is the real server's.
  const manifest = JSON.parse(readFileSync('public/models/manifest.json', 'utf8'));
  manifest.models[0].file = 'no-such-model.onnx';
  await page.route('**/models/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(manifest) }));
  await studio.goto({ backend: 'wasm', steps: 1, batch: 1 });
  await expect(studio.error).toContainText(`The model file of ${manifest.models[0].id} was not found`);
  await expect(studio.error).toContainText('answered with a web page');
  await expect(studio.error).not.toContainText('integrity');
});

test('one invalid manifest entry is left out with a notice; the others still load', async ({ studio, page }) => {
  const manifest = JSON.parse(readFileSync('public/models/manifest.json', 'utf8'));
  manifest.models[1].default_guidance = 'NaN';
  const broken = manifest.models[1].id;
  await page.route('**/models/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(manifest) }));
  await studio.goto({ backend: 'wasm', steps: 1, batch: 1 });
  await expect(studio.notices.filter({ hasText: `"${broken}" was left out` })).toBeVisible();
  await expect(page.getByTestId('model').locator('option')).toHaveCount(manifest.models.length - 1);
  expect((await studio.generate()).status).toBe('done');
});

test('keyboard only: enlarge an image and move the attention query', async ({ studio, page }) => {
  await studio.goto({ model: 'diffit-fmnist', backend: 'wasm', steps: 2, batch: 2, seed: 1 });
  expect((await studio.generate()).status).toBe('done');
  const second = studio.results.nth(1);
  await second.focus();
  await expect(second).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('zoom')).toHaveAttribute('data-index', '1');
  await expect(second).toHaveAttribute('aria-pressed', 'true');
  // The next run records the enlarged image's attention.
  expect((await studio.generate()).status).toBe('done');
  const zoom = page.getByTestId('zoom');
  await zoom.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('attention-query')).toContainText('query pixel (16, 16)');
  await page.keyboard.press('Shift+ArrowDown');
  await expect(page.getByTestId('attention-query')).toContainText('query pixel (20, 16)');
  await expect(page.getByTestId('attention-overlay')).toBeVisible();
});

test('messages: a duplicated URL parameter is reported; auto without WebGPU is a note, not a warning', async ({ studio, page }) => {
  await page.goto('/?model=diffip-fmnist&seed=3&seed=4&backend=auto&steps=1&batch=1');
  await expect(studio.notices.filter({ hasText: 'The URL gives seed 2 times ("3", "4"); using the first.' })).toBeVisible();
  await expect(page.getByTestId('backend')).toHaveAttribute('data-backend', 'wasm');
  await expect(page.getByTestId('backend-note')).toContainText('WebGPU is not available');
  await expect(studio.notices.filter({ hasText: 'WebGPU' })).toHaveCount(0);
  expect((await studio.state()).params.seed).toBe(3);
});

test('changing the model keeps the steps and guidance the user set', async ({ studio, page }) => {
  await studio.goto({ ...FAST, steps: 3, guidance: 1.5, class: 2 });
  await page.getByTestId('model').selectOption('dws-fmnist');
  const state = await studio.state();
  expect(state.params).toMatchObject({ model: 'dws-fmnist', steps: 3, guidance: 1.5, classLabel: 2 });
  await expect(page.getByTestId('steps')).toHaveValue('3');
});

test('at 1280 px every sidebar select shows its whole choice', async ({ studio, page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await studio.goto({ ...FAST, class: 0, backend: 'auto' });
  const clipped = await page.evaluate(() => {
    const canvas = document.createElement('canvas').getContext('2d')!;
    return [...document.querySelectorAll<HTMLSelectElement>('.sidebar select')].flatMap((select) => {
      const style = getComputedStyle(select);
      canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const text = select.selectedOptions[0]?.text ?? '';
      // The text plus the select's padding and its arrow (about 20 px) must fit the box.
      const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
      return canvas.measureText(text).width > room ? [`${select.dataset.testid}: "${text}"`] : [];
    });
  });
  expect(clipped).toEqual([]);
});

test('compare view: no accuracy "at w" without a class, and the show select has a name', async ({ page }) => {
  await page.goto('/?compare=diffit-fmnist,dws-fmnist&class=none&guidance=2&steps=1&batch=1&backend=wasm');
  await expect(page.getByTestId('compare-panel')).toHaveCount(2);
  await expect(page.getByTestId('compare-accuracy')).toHaveCount(0);
  await expect(page.getByRole('combobox', { name: 'Show' })).toBeVisible();
  await page.goto('/?compare=diffit-fmnist,dws-fmnist&class=1&guidance=2&steps=1&batch=1&backend=wasm');
  await expect(page.getByTestId('compare-accuracy')).toHaveCount(2);
});
