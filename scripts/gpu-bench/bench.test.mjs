// Behaviour of the real-GPU bench's pieces that need no GPU: `node --test scripts/`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assemble, BUNDLES, formatTable, parseArgs, selectModels } from './bench.mjs';
import { BenchError, chooseAdapter, freshBytes, installWriteBufferCopy } from './webgpu-node.mjs';

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
});

test('chooseAdapter refuses no adapter and a software one, and describes a GPU', async () => {
  await assert.rejects(chooseAdapter({ requestAdapter: async () => null }), (e) => e instanceof BenchError && /no WebGPU adapter/.test(e.message));
  const swiftshader = { info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true } };
  await assert.rejects(chooseAdapter({ requestAdapter: async () => swiftshader }), (e) => e instanceof BenchError && /software/.test(e.message));
  assert.equal((await chooseAdapter({ requestAdapter: async () => swiftshader }, { allowFallback: true })).info.is_fallback, true);
  const nvidia = { info: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' } };
  assert.deepEqual((await chooseAdapter({ requestAdapter: async () => nvidia })).info, { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', is_fallback: false });
});

test('parseArgs: defaults, and one clear error for a bad value', () => {
  const o = parseArgs([]);
  assert.deepEqual(o.batches, [1, 2, 8]);
  assert.deepEqual(o.bundles, Object.keys(BUNDLES));
  assert.equal(o.cuda, true);
  assert.throws(() => parseArgs(['--bundles', 'webgl']), BenchError);
  assert.throws(() => parseArgs(['--runs', 'x']), BenchError);
  assert.throws(() => parseArgs(['--frobnicate']), BenchError);
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
  assert.equal(r.pytorch.device, 'NVIDIA H200');
  assert.deepEqual(r.models[0].pytorch_graph_vs_eager_max_abs_diff, { 1: 0, 8: 1e-7 });
  const table = formatTable(r);
  assert.match(table, /weights initial$/m);
  assert.match(table, /webgpu_webgpu\s+failed: Invalid argument/);
  assert.match(table, /pytorch_cuda_graph\s+0\.80 \(0\.80\)\s+1\.00 \(0\.13\)/);
  const skipped = assemble({ options, models: [{ id: 'm' }], adapter, bundles, cuda: { skipped: 'no CUDA device' }, webgpuVersion: '0.6.2', measuredAt: 'now' });
  assert.deepEqual(skipped.pytorch, { skipped: 'no CUDA device' });
  assert.match(formatTable(skipped), /PyTorch CUDA: skipped \(no CUDA device\)/);
});
