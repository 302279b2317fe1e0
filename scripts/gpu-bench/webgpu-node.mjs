// WebGPU in Node for onnxruntime-web: Google's Dawn through the npm `webgpu` package (its
// `create()` returns a GPU object like `navigator.gpu`). The package is not a dependency of the
// app: scripts/gpu-bench/prepare.sh installs it into .carry/gpu-bench/, and the bench loads it
// from there, so `npm ci` and CI stay lean.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A problem the user can fix (missing package, no adapter): one line, exit 2, no traceback. */
export class BenchError extends Error {}

/**
 * The bytes that `GPUQueue.writeBuffer(buffer, offset, data, dataOffset, size)` would write, in a
 * fresh Uint8Array with its own ArrayBuffer. Dawn's Node binding accepts no SharedArrayBuffer
 * (onnxruntime-web passes its threaded WASM memory, `TypeError: no overload matched for
 * writeBuffer`), so the shim below hands it this copy instead.
 * WebGPU's rule for the units: dataOffset and size count elements of a typed array, bytes of an
 * ArrayBuffer (or SharedArrayBuffer); size defaults to the rest of the data.
 * @param {ArrayBufferView | ArrayBufferLike} data
 * @param {number} [dataOffset]
 * @param {number} [size]
 * @returns {Uint8Array}
 */
export function freshBytes(data, dataOffset = 0, size = undefined) {
  const view = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
  const unit = ArrayBuffer.isView(data) ? (/** @type {any} */ (data).BYTES_PER_ELEMENT ?? 1) : 1;
  const start = dataOffset * unit;
  const length = size === undefined ? view.byteLength - start : size * unit;
  if (start < 0 || length < 0 || start + length > view.byteLength) throw new RangeError(`writeBuffer range ${start}+${length} outside ${view.byteLength} bytes`);
  const copy = new Uint8Array(length);
  copy.set(new Uint8Array(view.buffer, view.byteOffset + start, length));
  return copy;
}

/** Whether `data` (a typed array or buffer) lives in a SharedArrayBuffer. */
export function isShared(data) {
  const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

/**
 * Wraps `GPUQueue.prototype.writeBuffer` so that every write from shared memory goes through
 * `freshBytes`; other writes (the bench's own, from ordinary typed arrays) pass unchanged, as in
 * a browser.
 */
export function installWriteBufferCopy(GPUQueue) {
  const original = GPUQueue.prototype.writeBuffer;
  if (original.copiesData) return;
  const writeBuffer = function (...args) {
    const [buffer, bufferOffset, data, dataOffset, size] = args;
    if (!isShared(data)) return original.apply(this, args);
    return original.call(this, buffer, bufferOffset, freshBytes(data, dataOffset, size));
  };
  writeBuffer.copiesData = true;
  GPUQueue.prototype.writeBuffer = writeBuffer;
}

/**
 * Loads the `webgpu` package from `dir` (the folder holding its package.json), puts its classes
 * (GPUBufferUsage, GPUMapMode, …) and `navigator.gpu` on globalThis, as a browser has them, and
 * installs the writeBuffer copy. Returns the GPU object.
 */
export async function installWebGPU(dir) {
  const entry = resolve(dir, 'index.js');
  if (!existsSync(entry)) throw new BenchError(`no \`webgpu\` package at ${dir}: run scripts/gpu-bench/prepare.sh (or pass --webgpu DIR)`);
  const { create, globals } = await import(pathToFileURL(entry).href);
  Object.assign(globalThis, globals);
  const gpu = create([]);
  // Node 21+ has a navigator without `gpu`; Node 20 has none.
  Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true, writable: true });
  installWriteBufferCopy(globals.GPUQueue);
  return gpu;
}

/**
 * The adapter the bench runs on, described. A fallback adapter (SwiftShader, a CPU) would time
 * the CPU, not a GPU: refused unless `allowFallback` (the CPU smoke test).
 * @returns {Promise<{ adapter: any, info: { vendor: string, architecture: string, device: string, description: string, is_fallback: boolean, shader_f16: boolean } }>}
 */
export async function chooseAdapter(gpu, { allowFallback = false } = {}) {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new BenchError('no WebGPU adapter: Dawn found no Vulkan device (on an NVIDIA machine set VK_DRIVER_FILES to nvidia_icd.json and put libvulkan.so.1 on the library path; see docs/gpu-bench.md)');
  const i = adapter.info ?? {};
  const info = { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '', is_fallback: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter), shader_f16: Boolean(adapter.features?.has('shader-f16')) };
  const software = info.is_fallback || /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description}`);
  info.is_fallback = software;
  if (software && !allowFallback) throw new BenchError(`the only WebGPU adapter is a software one (${info.vendor} ${info.architecture}, ${info.description}): its times are the CPU's; pass --allow-fallback-adapter for a smoke test`);
  return { adapter, info };
}
