// Types of scripts/chromium.mjs, for playwright.config.ts and e2e/*.ts under `tsc`.
export declare const CHROMIUM_PATH: string;
export declare const BASE_ARGS: readonly string[];
export declare const WEBGPU_ARG: string;
export declare function chromiumLaunchOptions(options?: { webgpu?: boolean; extraArgs?: readonly string[] }): { executablePath: string; args: string[] };
