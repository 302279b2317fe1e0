import { expect, test as base, type Page } from '@playwright/test';
import type { DiffitTestState, DiffitTimelineState } from '@/app/test-hook';
import type { TimelineView } from '@/lib/trajectory';

/** Page object for the studio (cf. tldraw's e2e fixtures). */
export class StudioPage {
  readonly consoleErrors: string[] = [];

  constructor(readonly page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => this.consoleErrors.push(`pageerror: ${e.message}`));
  }

  async goto(query: Record<string, string | number> = {}): Promise<void> {
    const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    await this.page.goto(`/?${search}`);
    await expect(this.page.getByRole('heading', { name: 'DiffiT Studio' })).toBeVisible();
  }

  get status() {
    return this.page.getByTestId('status');
  }

  get notices() {
    return this.page.getByTestId('notice');
  }

  get error() {
    return this.page.getByTestId('error');
  }

  get results() {
    return this.page.getByTestId('result');
  }

  async state(): Promise<DiffitTestState> {
    return this.page.evaluate(() => window.__diffit!.state());
  }

  async timeline(): Promise<DiffitTimelineState> {
    return this.page.evaluate(() => window.__diffit!.timeline());
  }

  /** The recorded state of a step (1-based) in a view, from the test hook: uint8 over [B, C, H, W]. */
  async stepPixels(step: number, view: TimelineView): Promise<number[] | null> {
    return this.page.evaluate(([s, v]) => window.__diffit!.stepPixels(s, v), [step, view] as const);
  }

  /** Clicks Generate and waits for the run to end (done or error). */
  async generate(timeout = 200_000): Promise<DiffitTestState> {
    await expect(this.page.getByTestId('generate')).toBeEnabled();
    await this.page.getByTestId('generate').click();
    await expect(this.status).not.toHaveAttribute('data-state', 'idle', { timeout: 10_000 });
    await expect(this.status).toHaveAttribute('data-state', /^(done|error)$/, { timeout });
    return this.state();
  }

  /** The pixels of every result canvas, as uint8 row-major over [B, C, H, W]. */
  async canvasPixels(channels: number): Promise<number[]> {
    return this.page.evaluate((c) => {
      const canvases = [...document.querySelectorAll<HTMLCanvasElement>('canvas[data-testid="result"]')];
      const out: number[] = [];
      for (const canvas of canvases) {
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const plane = canvas.width * canvas.height;
        for (let ch = 0; ch < c; ch++) for (let p = 0; p < plane; p++) out.push(data[4 * p + ch]);
      }
      return out;
    }, channels);
  }
}

export const test = base.extend<{ studio: StudioPage }>({
  studio: async ({ page }, use) => {
    await use(new StudioPage(page));
  },
});

export { expect };
