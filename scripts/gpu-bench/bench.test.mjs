// Behaviour of the real-GPU bench's pieces that need no GPU: `node --test scripts/`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assemble, BUNDLES, childResult, DEFAULT_BUNDLES, formatTable, MODES, parseArgs, patchBundle, PATCHES, runtimeKey, selectModels } from './bench.mjs';
import { bundleSampling, drawSamples, floatValues, IMAGE_RUNS, parseImageRuns, SAMPLES, samplesFile, timeImageRun } from './image-run.mjs';
import { BenchError, chooseAdapter, freshBytes, installWriteBufferCopy, isShared } from './webgpu-node.mjs';

test('freshBytes copies the elements a typed-array write names into an ArrayBuffer of its own', () => {
  const shared = new SharedArrayBuffer(32);
  const view = new Float32Array(shared, 8, 4); // elements 0..3 at bytes 8..23
  view.set([1, 2, 3, 4]);
  const copy = freshBytes(view, 1, 2); // elements 1 and 2: units are elements
  assert.ok(copy.buffer instanceof ArrayBuffer);
  assert.equal(copy.byteOffset, 0);
  assert.equal(copy.byteLength, 8);
  assert.deepEqual([...new Float32Array(copy.buffer)], [2, 3]);
  view[1] = 99; // a copy, not a view
  assert.deepEqual([...new Float32Array(copy.buffer)], [2, 3]);
  assert.deepEqual([...new Float32Array(freshBytes(view).buffer)], [1, 99, 3, 4]);
});

test('freshBytes counts bytes for an ArrayBuffer or SharedArrayBuffer (onnxruntime-web passes its WASM memory)', () => {
  const memory = new SharedArrayBuffer(16);
  new Uint8Array(memory).set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  assert.deepEqual([...freshBytes(memory, 4, 8)], [4, 5, 6, 7, 8, 9, 10, 11]);
  assert.throws(() => freshBytes(memory, 12, 8), RangeError);
});

test('the writeBuffer shim hands the binding a fresh copy, once however often it is installed', () => {
  const seen = [];
  class FakeQueue {
    writeBuffer(buffer, offset, data, dataOffset, size) {
      // Dawn's Node binding: no SharedArrayBuffer, no offset arguments needed after the copy.
      if (data.buffer instanceof SharedArrayBuffer || data instanceof SharedArrayBuffer) throw new TypeError('no overload matched for writeBuffer');
      seen.push({ buffer, offset, bytes: [...data], dataOffset, size });
    }
  }
  installWriteBufferCopy(FakeQueue);
  installWriteBufferCopy(FakeQueue);
  const memory = new SharedArrayBuffer(8);
  new Uint8Array(memory).set([9, 8, 7, 6, 5, 4, 3, 2]);
  new FakeQueue().writeBuffer('gpu-buffer', 16, memory, 2, 4);
  assert.deepEqual(seen, [{ buffer: 'gpu-buffer', offset: 16, bytes: [7, 6, 5, 4], dataOffset: undefined, size: undefined }]);
  // An ordinary typed array (the bench's own writes) passes untouched, offsets and all.
  const own = new Float32Array([1, 2, 3]);
  new FakeQueue().writeBuffer('x', 0, own, 1, 2);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[1], { buffer: 'x', offset: 0, bytes: [1, 2, 3], dataOffset: 1, size: 2 });
});

test('isShared tells WASM memory from ordinary memory', () => {
  assert.equal(isShared(new SharedArrayBuffer(4)), true);
  assert.equal(isShared(new Uint8Array(new SharedArrayBuffer(4))), true);
  assert.equal(isShared(new ArrayBuffer(4)), false);
  assert.equal(isShared(new Float32Array(1)), false);
});

test('chooseAdapter refuses no adapter and a software one, and describes a GPU', async () => {
  await assert.rejects(chooseAdapter({ requestAdapter: async () => null }), (e) => e instanceof BenchError && /no WebGPU adapter/.test(e.message));
  const swiftshader = { info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true } };
  await assert.rejects(chooseAdapter({ requestAdapter: async () => swiftshader }), (e) => e instanceof BenchError && /software/.test(e.message));
  assert.equal((await chooseAdapter({ requestAdapter: async () => swiftshader }, { allowFallback: true })).info.is_fallback, true);
  const nvidia = { info: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' }, features: new Set(['shader-f16']) };
  assert.deepEqual((await chooseAdapter({ requestAdapter: async () => nvidia })).info, { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', is_fallback: false, shader_f16: true });
  assert.equal((await chooseAdapter({ requestAdapter: async () => ({ ...nvidia, features: new Set() }) })).info.shader_f16, false);
});

test('parseArgs: defaults, and one clear error for a bad value', () => {
  const o = parseArgs([]);
  assert.deepEqual(o.batches, [1, 2, 8]);
  assert.deepEqual(o.bundles, DEFAULT_BUNDLES);
  assert.deepEqual(DEFAULT_BUNDLES, ['jsep', 'webgpu']); // the experiments are asked for by name
  assert.deepEqual(parseArgs(['--bundles', 'jsep,jsep-1submit']).bundles, ['jsep', 'jsep-1submit']);
  assert.equal(o.cuda, true);
  assert.deepEqual(o.modes, ['plain', 'gpu-io', 'capture', 'capture-nchw']);
  assert.deepEqual(o.modes, MODES);
  assert.equal(o.timeoutS, 180);
  assert.equal(parseArgs(['--timeout', '60']).timeoutS, 60);
  assert.throws(() => parseArgs(['--timeout', '0']), /--timeout must be at least 1/);
  assert.throws(() => parseArgs(['--bundles', 'webgl']), BenchError);
  assert.throws(() => parseArgs(['--runs', 'x']), BenchError);
  assert.throws(() => parseArgs(['--frobnicate']), BenchError);
});

test('patchBundle: a copy with the one constant changed, beside links to its glue; a bundle without it is refused', () => {
  const ort = mkdtempSync(join(tmpdir(), 'ort-'));
  const { find, replace, glue } = PATCHES['jsep-1submit'];
  writeFileSync(join(ort, BUNDLES['jsep-1submit']), `a;this.${find};b`);
  for (const file of glue) writeFileSync(join(ort, file), file);
  const folder = patchBundle('jsep-1submit', ort, join(ort, 'patched'));
  assert.equal(readFileSync(join(folder, BUNDLES['jsep-1submit']), 'utf8'), `a;this.${replace};b`);
  for (const file of glue) {
    assert.ok(lstatSync(join(folder, file)).isSymbolicLink());
    assert.equal(readFileSync(join(folder, file), 'utf8'), file);
  }
  writeFileSync(join(ort, BUNDLES['jsep-1submit']), 'a;this.maxDispatchNumber=32;b'); // another onnxruntime-web
  assert.throws(() => patchBundle('jsep-1submit', ort, join(ort, 'again')), (e) => e instanceof BenchError && /0 copies of 'maxDispatchNumber=16'/.test(e.message));
});

test('parseArgs --modes: a subset, run in MODES order (plain first), each mode once', () => {
  assert.deepEqual(parseArgs(['--modes', 'capture,plain']).modes, ['plain', 'capture']);
  assert.deepEqual(parseArgs(['--modes', 'gpu-io']).modes, ['gpu-io']);
  assert.throws(() => parseArgs(['--modes', 'gpu_io']), (e) => e instanceof BenchError && /unknown mode gpu_io; choose from plain, gpu-io, capture, capture-nchw/.test(e.message));
  assert.throws(() => parseArgs(['--modes', 'plain,plain']), BenchError);
  assert.throws(() => parseArgs(['--modes', '']), BenchError);
  assert.throws(() => parseArgs(['--modes']), BenchError);
});

test('runtimeKey: plain keeps the first runs\' names, the other modes add theirs', () => {
  assert.equal(runtimeKey('jsep', 'plain'), 'webgpu_jsep');
  assert.equal(runtimeKey('webgpu', 'plain'), 'webgpu_webgpu');
  assert.equal(runtimeKey('jsep', 'gpu-io'), 'webgpu_jsep_gpu-io');
  assert.equal(runtimeKey('webgpu', 'capture'), 'webgpu_webgpu_capture');
});

test('childResult: one entry per mode; a dead child keeps what it finished and the rows of the mode it died in', () => {
  const id = { bundle: 'jsep', file: BUNDLES.jsep };
  const modes = ['plain', 'gpu-io', 'capture'];
  const rows = { a: { batches: {} } };
  const written = { ...id, version: '1.30.0', modes: { plain: { models: rows }, 'gpu-io': { models: rows }, capture: { models: rows, note: 'pinned' } } };
  assert.deepEqual(childResult(id, modes, true, written, '', 0), [
    { ...id, mode: 'plain', version: '1.30.0', models: rows },
    { ...id, mode: 'gpu-io', version: '1.30.0', models: rows },
    { ...id, mode: 'capture', version: '1.30.0', models: rows, note: 'pinned' },
  ]);
  const stderr = 'jsep: capture: a, batch 1: fine\nRuntimeError: Aborted()\n    at abort (ort.bundle.min.mjs:1:2)\n';
  const died = { ...id, version: '1.30.0', modes: { plain: { models: rows }, 'gpu-io': { models: {} } } };
  assert.deepEqual(childResult(id, modes, false, died, stderr, 'SIGABRT'), [
    { ...id, mode: 'plain', version: '1.30.0', models: rows },
    { ...id, mode: 'gpu-io', version: '1.30.0', models: {}, unfinished: 'exit SIGABRT: RuntimeError: Aborted()' },
    { ...id, mode: 'capture', error: 'exit SIGABRT: RuntimeError: Aborted()' },
  ]);
  assert.deepEqual(childResult(id, ['plain'], false, null, '', 1), [{ ...id, mode: 'plain', error: 'exit 1: no message' }]);
  assert.deepEqual(childResult(id, ['plain'], false, null, 'jsep: plain: a, batch 1: fine\nkilled after --timeout 9 s', 'SIGKILL'), [{ ...id, mode: 'plain', error: 'exit SIGKILL: killed after --timeout 9 s' }]);
});

test('selectModels refuses a file that is not the manifest\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bench-test-'));
  writeFileSync(join(dir, 'a.onnx'), 'model a');
  const entry = { id: 'a', variant: 'diffit', file: 'a.onnx', channels: 1, resolution: 32, num_classes: 10 };
  const good = { models: [{ ...entry, sha256: createHash('sha256').update('model a').digest('hex') }] };
  assert.equal(selectModels(good, ['a'], dir)[0].path, join(dir, 'a.onnx'));
  assert.throws(() => selectModels({ models: [{ ...entry, sha256: '0'.repeat(64) }] }, ['a'], dir), /sha256 differs/);
  assert.throws(() => selectModels(good, ['b'], dir), /no model b/);
});

test('selectModels: <id>@f16 is the float16-compute file made from the manifest\'s file, checked against it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-bench-test-'));
  writeFileSync(join(dir, 'a.onnx'), 'model a');
  const sha = createHash('sha256').update('model a').digest('hex');
  const manifest = { models: [{ id: 'a', variant: 'diffit', file: 'a.onnx', sha256: sha, channels: 1, resolution: 32, num_classes: 10 }] };
  assert.throws(() => selectModels(manifest, ['a@f16'], dir), /a\.f16\.onnx is missing \(make it with: python -m diffit\.float16_graph/);
  writeFileSync(join(dir, 'a.f16.onnx'), 'made from another file: 0123');
  assert.throws(() => selectModels(manifest, ['a@f16'], dir), /was not made from this a\.onnx/);
  writeFileSync(join(dir, 'a.f16.onnx'), `float16_compute_of ${sha} ...`);
  const [plain, half] = selectModels(manifest, ['a', 'a@f16'], dir);
  assert.deepEqual([plain.id, plain.precision, plain.path, plain.referencePath], ['a', 'float32', join(dir, 'a.onnx'), undefined]);
  assert.deepEqual([half.id, half.baseId, half.precision, half.path, half.referencePath], ['a@f16', 'a', 'float16', join(dir, 'a.f16.onnx'), join(dir, 'a.onnx')]);
  assert.throws(() => selectModels(manifest, ['b@f16'], dir), /no model b in the manifest/);
});

test('assemble: per model, per runtime, per batch, with failures and the hardware named', () => {
  const options = { batches: [1, 8], runs: 5, warmup: 1 };
  const t = (ms, b) => ({ median_ms: ms, q25_ms: ms, q75_ms: ms, runs: 5, ms_per_image: ms / b, max_abs_diff_vs_wasm: 1e-6 });
  const bundles = [
    { bundle: 'jsep', file: BUNDLES.jsep, version: '1.30.0', models: { m: { batches: { 1: t(20, 1), 8: t(24, 8) } } } },
    { bundle: 'webgpu', file: BUNDLES.webgpu, version: '1.30.0', models: { m: { error: 'Invalid argument', batches: {} } } },
  ];
  const cuda = { torch: '2.11', cuda: '13.0', device: 'NVIDIA H200', dtype: 'float32', tf32: false, weights: { m: 'initial' }, models: { m: { eager: { 1: t(8, 1), 8: t(9, 8) }, graph: { 1: t(0.8, 1), 8: t(1, 8) }, graph_vs_eager_max_abs_diff: { 1: 0, 8: 1e-7 } } } };
  const adapter = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', is_fallback: false };
  const r = assemble({ options, models: [{ id: 'm', dataset: 'fashion-mnist', variant: 'diffit' }], adapter, bundles, cuda, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.equal(r.machine.gpu, 'NVIDIA H200');
  assert.equal(r.machine.webgpu.package, 'webgpu 0.6.2');
  assert.equal(r.onnxruntime_web, '1.30.0');
  assert.deepEqual(Object.keys(r.models[0].ms_per_forward), ['webgpu_jsep', 'pytorch_cuda_eager', 'pytorch_cuda_graph']);
  assert.equal(r.models[0].ms_per_forward.webgpu_jsep[8].ms_per_image, 3);
  assert.deepEqual(r.models[0].errors, { webgpu_webgpu: 'Invalid argument' });
  assert.deepEqual(r.modes, ['plain']);
  assert.deepEqual(r.bundles, { jsep: { file: BUNDLES.jsep, modes: { plain: { error: null } } }, webgpu: { file: BUNDLES.webgpu, modes: { plain: { error: null } } } });
  assert.equal(r.pytorch.device, 'NVIDIA H200');
  assert.deepEqual(r.models[0].pytorch_graph_vs_eager_max_abs_diff, { 1: 0, 8: 1e-7 });
  const table = formatTable(r);
  assert.match(table, /weights initial$/m);
  assert.match(table, /webgpu_webgpu\s+failed: Invalid argument/);
  assert.match(table, /pytorch_cuda_graph\s+0\.80 \(0\.80\)\s+1\.00 \(0\.13\)/);
  const half = assemble({ options, models: [{ id: 'm', precision: 'float16' }], adapter, bundles, cuda, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(Object.keys(half.models[0].ms_per_forward), ['webgpu_jsep']); // PyTorch's rows are the float32 model's
  assert.match(formatTable(half), /^float16 compute: largest \|WebGPU - float32 WASM\| on 'denoised': webgpu_jsep 1\.00e-6$/m);
  assert.doesNotMatch(formatTable(half), /^largest \|WebGPU - WASM\|/m);
  const samples = { per_class: 50, ...SAMPLES, models: { m: { file: samplesFile('m'), images: 500, steps: 8, forwards: 400, ms: 2500 }, 'm@f16': { error: 'the adapter has no shader-f16' } } };
  const withSamples = assemble({ options, models: [{ id: 'm' }], adapter, bundles: [{ ...bundles[0], samples }, bundles[1]], cuda, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(withSamples.quality_samples, samples);
  assert.match(formatTable(withSamples), /^ {2}m: 500 images, 8 steps, in 2\.5 s -> samples-m\.u8$/m);
  assert.match(formatTable(withSamples), /^ {2}m@f16: failed: the adapter has no shader-f16$/m);
  assert.equal(r.quality_samples, undefined);
  const skipped = assemble({ options, models: [{ id: 'm' }], adapter, bundles, cuda: { skipped: 'no CUDA device' }, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(skipped.pytorch, { skipped: 'no CUDA device' });
  assert.match(formatTable(skipped), /PyTorch CUDA: skipped \(no CUDA device\)/);
});

test('assemble: one runtime per bundle and mode, a dead mode\'s rows and errors kept apart', () => {
  const options = { batches: [1, 2], runs: 3, warmup: 1 };
  const t = (ms, b, diff = 1e-6, dispatches = undefined) => ({ median_ms: ms, q25_ms: ms, q75_ms: ms, runs: 3, ms_per_image: ms / b, max_abs_diff_vs_wasm: diff, ...(dispatches ? { dispatches } : {}) });
  const bundles = [
    { bundle: 'jsep', file: BUNDLES.jsep, mode: 'plain', version: '1.30.0', models: { a: { batches: { 1: t(20, 1), 2: t(22, 2) } }, b: { batches: { 1: t(30, 1), 2: t(31, 2) } } } },
    { bundle: 'jsep', file: BUNDLES.jsep, mode: 'gpu-io', version: '1.30.0', models: { a: { batches: { 1: t(10, 1), 2: { error: 'device lost' } } }, b: { batches: { 1: t(11, 1), 2: t(12, 2, 3e-6) } } } },
    // died after model a: b says why
    { bundle: 'jsep', file: BUNDLES.jsep, mode: 'capture', version: '1.30.0', models: { a: { batches: { 1: t(2, 1, 1e-6, 246), 2: t(3, 2, 1e-6, 247) } } }, unfinished: 'exit 134: Aborted()' },
    { bundle: 'webgpu', file: BUNDLES.webgpu, mode: 'capture', error: 'exit 1: Invalid argument' },
    { bundle: 'webgpu', file: BUNDLES.webgpu, mode: 'gpu-io', version: '1.30.0', models: { a: { batches: { 1: t(5, 1), 2: t(6, 2) } }, b: { batches: { 1: t(7, 1), 2: t(8, 2) } } }, note: 'pinned' },
  ];
  const adapter = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', is_fallback: false };
  const models = [{ id: 'a' }, { id: 'b' }];
  const r = assemble({ options, models, adapter, bundles, cuda: { skipped: '--no-cuda' }, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(r.modes, ['plain', 'gpu-io', 'capture']);
  const [a, b] = r.models;
  assert.deepEqual(Object.keys(a.ms_per_forward), ['webgpu_jsep', 'webgpu_jsep_gpu-io', 'webgpu_jsep_capture', 'webgpu_webgpu_gpu-io']);
  assert.equal(a.ms_per_forward['webgpu_jsep_capture'][2].median_ms, 3);
  assert.deepEqual(a.ms_per_forward['webgpu_jsep_gpu-io'][2], { error: 'device lost' });
  assert.deepEqual(a.errors, { webgpu_webgpu_capture: 'exit 1: Invalid argument' });
  assert.deepEqual(Object.keys(b.ms_per_forward), ['webgpu_jsep', 'webgpu_jsep_gpu-io', 'webgpu_webgpu_gpu-io']);
  assert.deepEqual(b.errors, { webgpu_jsep_capture: 'exit 134: Aborted()', webgpu_webgpu_capture: 'exit 1: Invalid argument' });
  assert.deepEqual(r.bundles, {
    jsep: { file: BUNDLES.jsep, modes: { plain: { error: null }, 'gpu-io': { error: null }, capture: { error: 'exit 134: Aborted()' } } },
    webgpu: { file: BUNDLES.webgpu, modes: { capture: { error: 'exit 1: Invalid argument' }, 'gpu-io': { error: null, note: 'pinned' } } },
  });
  const table = formatTable(r);
  assert.match(table, /^a\s+webgpu_jsep_gpu-io\s+10\.00 \(10\.00\)\s+error$/m);
  assert.match(table, /^a\s+webgpu_jsep_capture\s+2\.00 \(2\.00\)\s+3\.00 \(1\.50\)$/m);
  assert.match(table, /^b\s+webgpu_jsep_capture\s+failed: exit 134: Aborted\(\)$/m);
  assert.match(table, /^failed: a webgpu_jsep_gpu-io batch 2: device lost$/m);
  assert.match(table, /^webgpu_webgpu_gpu-io: pinned$/m);
  assert.match(table, /^a: GPU dispatches per forward: webgpu_jsep_capture b1 246, webgpu_jsep_capture b2 247$/m);
  assert.doesNotMatch(table, /^b: GPU dispatches/m);
  assert.match(table, /webgpu_jsep 1\.00e-6, webgpu_jsep_gpu-io 3\.00e-6, webgpu_jsep_capture 1\.00e-6/);
});

test('parseImageRuns: SAMPLER:STEPS:GUIDE:BATCH items, none, and one clear error for a bad item', () => {
  assert.deepEqual(parseImageRuns(IMAGE_RUNS).map((r) => r.key), ['heun:18:every:1', 'dpmpp-2m:8:interval:4']);
  assert.deepEqual(parseImageRuns('none'), []);
  assert.deepEqual(parseImageRuns('dpmpp-2m:2:interval:3')[0], { key: 'dpmpp-2m:2:interval:3', sampler: 'dpmpp-2m', steps: 2, guide: 'interval', batch: 3, attention: false, attentionWorker: false });
  assert.deepEqual(parseImageRuns('heun:2:every:1:attention')[0], { key: 'heun:2:every:1:attention', sampler: 'heun', steps: 2, guide: 'every', batch: 1, attention: true, attentionWorker: false });
  assert.deepEqual(parseImageRuns('heun:2:every:1:attention-worker')[0], { key: 'heun:2:every:1:attention-worker', sampler: 'heun', steps: 2, guide: 'every', batch: 1, attention: true, attentionWorker: true });
  for (const bad of ['euler:8:every:1', 'heun:0:every:1', 'heun:8:sometimes:1', 'heun:8:every:0', 'heun:8:every', 'heun:8:every:1:2', 'heun:8:every:1:attention:x', 'heun:8:every:1:worker']) {
    assert.throws(() => parseImageRuns(bad), (e) => e instanceof BenchError && e.message.includes(bad));
  }
  assert.deepEqual(parseArgs(['--image-runs', 'none']).imageRuns, []);
  assert.equal(parseArgs([]).imageRepeats, 5);
  assert.throws(() => parseArgs(['--image-repeats', '0']), /at least 1/);
});

/** The app's samplers bundled, onnxruntime-web's WASM (one thread), and the shipped diffip-fmnist: what the image tests drive. */
async function samplersAndDiffip() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
  const samplingFile = await bundleSampling(root, join(mkdtempSync(join(tmpdir(), 'gpu-bench-test-')), 'app-sampling.mjs'));
  const sampling = await import(samplingFile);
  const ort = await import(join(root, 'node_modules/onnxruntime-web/dist/ort.node.min.mjs'));
  ort.env.wasm.numThreads = 1;
  const manifest = JSON.parse(readFileSync(join(root, 'public/models/manifest.json'), 'utf8'));
  const e = manifest.models.find((m) => m.id === 'diffip-fmnist');
  return { sampling, samplingFile, ort, e, bytes: readFileSync(join(root, 'public/models', e.file)) };
}

test('timeImageRun: the app\'s samplers, bundled, drive a session; forwards, images and the final x checked', async () => {
  const { sampling, ort, e, bytes } = await samplersAndDiffip();
  const [session, referenceSession] = await Promise.all([0, 1].map(() => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })));
  const model = { id: e.id, channels: e.channels, resolution: e.resolution, numClasses: e.num_classes };
  // 3 DPM steps evaluate at sigma 80 (above the interval: B images), then twice inside it (2B).
  const [run] = parseImageRuns('dpmpp-2m:3:interval:2');
  const t = await timeImageRun({ ort, session, referenceSession, sampling, model, run, edm: e.edm, runs: 2, warmup: 0 });
  assert.equal(t.runs, 2);
  assert.equal(t.forwards, 3);
  assert.equal(t.network_images, 2 + 4 + 4);
  assert.equal(t.max_abs_diff_vs_wasm, 0); // both sessions are WASM here: the same run, bit for bit
  assert.ok(t.median_ms > 0);
  const every = await timeImageRun({ ort, session, referenceSession, sampling, model, run: parseImageRuns('dpmpp-2m:3:every:2')[0], edm: e.edm, runs: 1, warmup: 0 });
  assert.equal(every.network_images, 12);
  assert.equal(typeof sampling.CapturedGraph?.create, 'function'); // the app's graph capture travels in the bundle

  // With `capture`, the forwards go through the app's CapturedGraph: one graph per batch size met (2 and 4
  // here), made once with every output's dims at that size, kept across runs, released at the end. A stand-in
  // graph runs the WASM session, so the run is the same bit for bit.
  const made = [];
  let released = 0;
  class StandIn {
    static async create(ortModule, modelBytes, n, chw, dims) {
      assert.equal(ortModule, ort);
      assert.equal(modelBytes, bytes);
      assert.deepEqual(chw, [1, 32, 32]);
      assert.deepEqual(dims.get('denoised'), [n, 1, 32, 32]);
      made.push(n);
      return new StandIn(n);
    }
    constructor(n) { this.n = n; }
    async run(x, sigma, labels, extra) {
      assert.ok(sigma instanceof Float32Array && labels instanceof Int32Array && extra.length === 0 && labels.length === this.n);
      const out = await session.run({ x: new ort.Tensor('float32', x, [this.n, 1, 32, 32]), sigma: new ort.Tensor('float32', sigma, [this.n]), class_label: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [this.n]) }, ['denoised']);
      return { denoised: out.denoised.data, outputs: new Map() };
    }
    async release() { released++; }
  }
  const captured = await timeImageRun({ ort, session, referenceSession, sampling: { ...sampling, CapturedGraph: StandIn }, model, run, edm: e.edm, runs: 2, warmup: 1, capture: { bytes } });
  assert.deepEqual(made, [2, 4]);
  assert.equal(released, 2);
  assert.equal(captured.forwards, 3);
  assert.equal(captured.max_abs_diff_vs_wasm, 0);
});

test('timeImageRun with :attention records the steps the app records, through a session and through capture', async () => {
  const { sampling, ort } = await samplersAndDiffip();
  const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
  const manifest = JSON.parse(readFileSync(join(root, 'public/models/manifest.json'), 'utf8'));
  const e = manifest.models.find((m) => m.id === 'diffit-fmnist');
  const bytes = readFileSync(join(root, 'public/models', e.file));
  const [session, referenceSession] = await Promise.all([0, 1].map(() => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })));
  const model = { id: e.id, channels: e.channels, resolution: e.resolution, numClasses: e.num_classes, attention: e.attention };
  const names = e.attention.map((l) => l.output);
  // Heun 2: Euler and correction at sigma 80, then the last step's Euler: the app records evaluations 2 and 3.
  const [run] = parseImageRuns('heun:2:every:1:attention');
  const plain = await timeImageRun({ ort, session, referenceSession, sampling, model, run, edm: e.edm, runs: 1, warmup: 1 });
  assert.equal(plain.forwards, 3);
  assert.equal(plain.attention_steps, 2);
  assert.equal(plain.max_abs_diff_vs_wasm, 0); // recording changes nothing in the image
  const asked = [];
  class StandIn {
    static async create(ortModule, modelBytes, n) {
      return new StandIn(n);
    }
    constructor(n) { this.n = n; }
    async run(x, sigma, labels, extra) {
      asked.push(extra);
      const out = await session.run({ x: new ort.Tensor('float32', x, [this.n, 1, 32, 32]), sigma: new ort.Tensor('float32', sigma, [this.n]), class_label: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [this.n]) }, ['denoised', ...extra]);
      return { denoised: out.denoised.data, outputs: new Map(extra.map((name) => [name, out[name].data])) };
    }
    async release() {}
  }
  const captured = await timeImageRun({ ort, session, referenceSession, sampling: { ...sampling, CapturedGraph: StandIn }, model, run, edm: e.edm, runs: 1, warmup: 1, capture: { bytes } });
  assert.deepEqual(asked, [[], names, names, [], names, names]); // the warm-up run and the timed one
  assert.equal(captured.attention_steps, 2);
  assert.equal(captured.max_abs_diff_vs_wasm, 0);
  // The same runs with the summaries in a second thread, as the app makes them where a core is free: the same steps and image.
  const { samplingFile } = await samplersAndDiffip();
  const [threaded] = parseImageRuns('heun:2:every:1:attention-worker');
  const off = await timeImageRun({ ort, session, referenceSession, sampling, samplingFile, model, run: threaded, edm: e.edm, runs: 1, warmup: 1 });
  assert.equal(off.attention_steps, 2);
  assert.equal(off.max_abs_diff_vs_wasm, 0);
  const offCaptured = await timeImageRun({ ort, session, referenceSession, sampling: { ...sampling, CapturedGraph: StandIn }, samplingFile, model, run: threaded, edm: e.edm, runs: 1, warmup: 1, capture: { bytes } });
  assert.equal(offCaptured.attention_steps, 2);
  assert.equal(offCaptured.max_abs_diff_vs_wasm, 0);
  await assert.rejects(
    timeImageRun({ ort, session, referenceSession, sampling, model, run: threaded, edm: e.edm, runs: 1, warmup: 0 }),
    (err) => err instanceof BenchError && /needs the bundled samplers' file/.test(err.message),
  );
  // A float16 file's attention comes back as float16 bits from a CPU session: decoded as the app's capture decodes it.
  const half = await floatValues(sampling, { type: 'float16', data: Uint16Array.from([0x3c00, 0x3800, 0x0000]) });
  assert.deepEqual(Array.from(half), [1, 0.5, 0]);
  const single = Float32Array.from([0.25]);
  assert.equal(await floatValues(sampling, { type: 'float32', data: single }), single);
  await assert.rejects(
    timeImageRun({ ort, session, referenceSession, sampling, model: { ...model, attention: [] }, run, edm: e.edm, runs: 1, warmup: 0 }),
    (err) => err instanceof BenchError && /no attention outputs to record/.test(err.message),
  );
});

test('whole images ride on the bundle\'s first entry, then on each model in the results and the table', () => {
  const id = { bundle: 'jsep', file: BUNDLES.jsep };
  const images = { models: { a: { 'heun:18:every:1': { median_ms: 700, q25_ms: 690, q75_ms: 710, runs: 5, forwards: 35, network_images: 70, max_abs_diff_vs_wasm: 2e-6 } } } };
  const captured = { models: { a: { 'heun:18:every:1': { median_ms: 240, q25_ms: 230, q75_ms: 250, runs: 5, forwards: 35, network_images: 70, max_abs_diff_vs_wasm: 2e-6 } } } };
  const written = { ...id, version: '1.30.0', modes: { plain: { models: {} }, 'gpu-io': { models: {} } }, image_runs: images, image_runs_capture: captured };
  const entries = childResult(id, ['plain', 'gpu-io'], true, written, '', 0);
  assert.deepEqual(entries[0].image_runs, images);
  assert.deepEqual(entries[0].image_runs_capture, captured);
  assert.equal(entries[1].image_runs, undefined);
  const options = { batches: [1], runs: 3, warmup: 1, imageRuns: parseImageRuns('heun:18:every:1'), imageRepeats: 5 };
  const adapter = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', is_fallback: false };
  const r = assemble({ options, models: [{ id: 'a' }], adapter, bundles: entries, cuda: { skipped: '--no-cuda' }, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(r.models[0].ms_per_image_run, { webgpu_jsep: images.models.a, webgpu_jsep_capture: captured.models.a });
  assert.match(formatTable(r), /^a\s+webgpu_jsep_capture\s+heun:18:every:1\s+240\.0 ms per run/m);
  assert.deepEqual(r.image_runs.runs, ['heun:18:every:1']);
  assert.match(formatTable(r), /^a\s+webgpu_jsep\s+heun:18:every:1\s+700\.0 ms per run \[690\.0–710\.0\], 35 forwards, 70 images, max \|webgpu - wasm\| 2\.0e-6$/m);
});

test('drawSamples: class-major runs of one class, each from its own seed, as uint8; --samples and the file name checked', async () => {
  const { sampling, ort, e, bytes } = await samplersAndDiffip();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const model = { id: e.id, channels: e.channels, resolution: e.resolution, numClasses: e.num_classes };
  const seen = [];
  const denoise = async (x, sigma, labels) => {
    seen.push(Array.from(new Set(labels)));
    const n = labels.length;
    const out = await session.run({ x: new ort.Tensor('float32', x, [n, 1, 32, 32]), sigma: new ort.Tensor('float32', sigma, [n]), class_label: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]) }, ['denoised']);
    return out.denoised.data;
  };
  const drawn = await drawSamples({ sampling, model, edm: e.edm, perClass: SAMPLES.batch, denoise });
  const size = 32 * 32;
  assert.equal(drawn.pixels.length, e.num_classes * SAMPLES.batch * size);
  assert.equal(drawn.steps, 8); // the contract's default for DPM-Solver++(2M)
  // Run 3 is class 3 from seed SAMPLES.seed + 3: the same images as the app's sampler called directly.
  const direct = await sampling.SAMPLERS['dpmpp-2m'](denoise, { seed: SAMPLES.seed + 3, steps: 8, shape: [SAMPLES.batch, 1, 32, 32], classLabel: 3, guidance: 2, guidanceInterval: sampling.GUIDES.interval.interval, numClasses: e.num_classes, edm: e.edm });
  assert.deepEqual(drawn.pixels.subarray(3 * SAMPLES.batch * size, 4 * SAMPLES.batch * size), sampling.toBytes(direct));
  assert.ok(seen.every((labels) => labels.length <= 2)); // one class per run (and the unconditional label under guidance)
  await assert.rejects(drawSamples({ sampling, model, edm: e.edm, perClass: 15, denoise }), /not a multiple of 10/);
  await assert.rejects(drawSamples({ sampling, model: { ...model, numClasses: 0 }, edm: e.edm, perClass: 10, denoise }), /no classes/);
  assert.equal(samplesFile('diffit-fmnist@f16'), 'samples-diffit-fmnist.f16.u8');
  assert.equal(parseArgs([]).samples, 0);
  assert.equal(parseArgs(['--samples', '50']).samples, 50);
  assert.throws(() => parseArgs(['--samples', '15']), /multiples of 10/);
  await session.release();
});
