/**
 * Dev-only benchmark of onnxruntime-web bundles on the shipped model: ms per forward
 * (`denoised` only), for the bundle/EP pair given in the URL. Lives in src/inference/ because it
 * imports onnxruntime-web. Result: `window.__bench` and the <pre>.
 */
import type * as Ort from 'onnxruntime-web';
import { fetchManifest, manifestUrl, toModelSpec } from '@/lib/manifest';
import { normalTensor } from '@/sampling/noise';

type OrtModule = typeof Ort;

const loaders: Record<string, () => Promise<OrtModule>> = {
  wasm: () => import('onnxruntime-web/wasm'),
  webgpu: () => import('onnxruntime-web/webgpu'),
  all: () => import('onnxruntime-web/all'),
  default: () => import('onnxruntime-web'),
};

export interface BenchResult {
  model: string;
  bundle: string;
  ep: string;
  batch: number;
  runs: number;
  threads: number;
  /** onnxruntime-web version. */
  version?: string;
  msPerForward: number[];
  medianMs: number;
  meanMs: number;
  checksum: number;
  error?: string;
}

declare global {
  interface Window {
    __bench?: BenchResult | { error: string };
  }
}

async function main(): Promise<BenchResult> {
  const q = new URLSearchParams(location.search);
  const bundle = q.get('bundle') ?? 'wasm';
  const ep = q.get('ep') ?? 'wasm';
  const batch = Number(q.get('batch') ?? 1);
  const runs = Number(q.get('runs') ?? 20);
  const warmup = Number(q.get('warmup') ?? 2);
  const manifest = await fetchManifest(manifestUrl());
  const entry = manifest.models.find((m) => m.id === q.get('model')) ?? manifest.models[0];
  const spec = toModelSpec(entry);
  const bytes = new Uint8Array(await (await fetch(spec.url)).arrayBuffer());
  const ort = await loaders[bundle]();
  const threads = Number(q.get('threads') ?? (self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1));
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: (q.get('opt') ?? 'all') as 'all', logSeverityLevel: 3, enableProfiling: q.has('profile') });
  const shape = [batch, spec.channels, spec.resolution, spec.resolution];
  const x = normalTensor(1, shape);
  const feeds = {
    x: new ort.Tensor('float32', x, shape),
    sigma: new ort.Tensor('float32', new Float32Array(batch).fill(Number(q.get('sigma') ?? 2.5)), [batch]),
    class_label: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(q.get('label') ?? spec.numClasses)), [batch]),
  };
  const times: number[] = [];
  let checksum = 0;
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    const out = await session.run(feeds, ['denoised']);
    const data = (await out.denoised.getData()) as Float32Array;
    const dt = performance.now() - t0;
    if (i >= warmup) times.push(dt);
    checksum = data.reduce((a, v) => a + Math.abs(v), 0);
  }
  if (q.has('profile')) session.endProfiling();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    model: entry.id, bundle, ep, batch, runs, threads, version: ort.env.versions.web ?? ort.env.versions.common,
    msPerForward: times,
    medianMs: sorted[Math.floor(sorted.length / 2)],
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    checksum,
  };
}

const out = document.getElementById('out')!;
main().then(
  (r) => {
    window.__bench = r;
    out.textContent = JSON.stringify({ ...r, msPerForward: undefined }, null, 1);
  },
  (e: Error) => {
    window.__bench = { error: e.message };
    out.textContent = `error: ${e.message}`;
  },
);
