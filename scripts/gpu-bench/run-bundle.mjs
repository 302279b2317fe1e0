// One onnxruntime-web bundle on the WebGPU adapter, in a process of its own (a bundle that aborts
// cannot take the others down): ms per forward of each model at each batch, `denoised` only,
// and the largest difference from the same bundle's WASM backend on the same inputs.
// Started by scripts/gpu-bench/bench.mjs with one JSON argument; writes its JSON result to `out`.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { quartiles } from '../stats.mjs';
import { chooseAdapter, installWebGPU } from './webgpu-node.mjs';

const job = JSON.parse(process.argv[2]);
// job: { bundle, file, ortDir, webgpuDir, allowFallback, runs, warmup, batches, models: [{ id, path, channels, resolution, numClasses }], out }

/** Standard normal noise from a fixed seed (mulberry32 + Box–Muller): the same feeds every run. */
function normal(n, seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

const gpu = await installWebGPU(job.webgpuDir);
await chooseAdapter(gpu, { allowFallback: job.allowFallback }); // the parent checked; this fails the same way
const ort = await import(pathToFileURL(resolve(job.ortDir, job.file)).href);
ort.env.wasm.numThreads = 1; // the WASM reference only; Node has no threaded-WASM workers here
ort.env.logLevel = 'error';
const result = { bundle: job.bundle, file: job.file, version: ort.env.versions.web ?? ort.env.versions.common, models: {} };

const message = (e) => String(e?.message ?? e).split('\n')[0];
for (const m of job.models) {
  const row = (result.models[m.id] = { batches: {} });
  const bytes = readFileSync(m.path);
  let session;
  let reference;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    reference = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  } catch (e) {
    row.error = message(e);
    console.error(`${job.bundle}: ${m.id}: ${row.error}`);
    continue;
  }
  for (const batch of job.batches) {
    const shape = [batch, m.channels, m.resolution, m.resolution];
    const feeds = {
      x: new ort.Tensor('float32', normal(shape.reduce((p, d) => p * d, 1), 7), shape),
      sigma: new ort.Tensor('float32', new Float32Array(batch).fill(1), [batch]),
      class_label: new ort.Tensor('int64', new BigInt64Array(batch).fill(0n), [batch]),
    };
    try {
      const times = [];
      let last;
      for (let i = 0; i < job.warmup + job.runs; i++) {
        const t0 = performance.now();
        const out = await session.run(feeds, ['denoised']);
        last = await out.denoised.getData();
        const dt = performance.now() - t0;
        if (i >= job.warmup) times.push(dt);
      }
      const want = (await reference.run(feeds, ['denoised'])).denoised.data;
      let diff = 0;
      for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - last[i]));
      const q = quartiles(times);
      row.batches[batch] = { ...q, ms_per_image: q.median_ms / batch, max_abs_diff_vs_wasm: diff };
      console.error(`${job.bundle}: ${m.id}, batch ${batch}: median ${q.median_ms.toFixed(2)} ms/forward, max |webgpu - wasm| ${diff.toExponential(1)}`);
    } catch (e) {
      row.batches[batch] = { error: message(e) };
      console.error(`${job.bundle}: ${m.id}, batch ${batch}: ${row.batches[batch].error}`);
    }
  }
  await session.release();
  await reference.release();
}
writeFileSync(job.out, JSON.stringify(result));
process.exit(0); // Dawn's device keeps the event loop alive
