// The one place that says how this project launches Chromium: Debian's build (`npx playwright
// install` cannot download browsers here) with the same flags for the e2e tests
// (playwright.config.ts) and every script that drives a browser (scripts/*.mjs).
// Types for TypeScript importers: scripts/chromium.d.mts.

/** Debian's Chromium unless CHROMIUM_PATH names another. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless and quiet: no sandbox (containers), no background or network chatter. */
export const BASE_ARGS = Object.freeze(['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']);

/** Grants a WebGPU adapter (SwiftShader without a GPU). Without it Chromium has no WebGPU adapter. */
export const WEBGPU_ARG = '--enable-unsafe-webgpu';

/**
 * Launch options for Playwright's `chromium.launch()` or a project's `use.launchOptions`.
 * @param {{ webgpu?: boolean, extraArgs?: readonly string[] }} [options]
 *   `webgpu`: add --enable-unsafe-webgpu; `extraArgs`: further flags after the base set.
 * @returns {{ executablePath: string, args: string[] }}
 */
export function chromiumLaunchOptions({ webgpu = false, extraArgs = [] } = {}) {
  return { executablePath: CHROMIUM_PATH, args: [...BASE_ARGS, ...(webgpu ? [WEBGPU_ARG] : []), ...extraArgs] };
}
