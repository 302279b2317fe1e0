/// <reference types="vitest/config" />
import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// Cross-origin isolation, so that onnxruntime-web's WASM backend can use threads
// (SharedArrayBuffer), on both the dev and the preview server.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The onnxruntime-web .wasm binaries the app loads (src/inference/ort-backend.ts sets
// `ort.env.wasm.wasmPaths` to `<base>ort/`): the plain build for the WASM backend, the
// asyncify build for the WebGPU bundle.
const ORT_WASM = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.wasm'];

function ortWasm(): Plugin {
  const file = (name: string) => fileURLToPath(new URL(`./node_modules/onnxruntime-web/dist/${name}`, import.meta.url));
  return {
    name: 'diffit:ort-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.split('?')[0].match(/\/ort\/([\w.-]+\.wasm)$/)?.[1];
        if (!name || !ORT_WASM.includes(name)) return next();
        res.setHeader('Content-Type', 'application/wasm');
        createReadStream(file(name)).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_WASM) this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(file(name)) });
    },
  };
}

export default defineConfig({
  plugins: [react(), ortWasm()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { headers: isolation },
  preview: { headers: isolation, port: 4173, strictPort: true },
  worker: { format: 'es' },
  // Pre-bundling would move onnxruntime-web away from its import.meta.url.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
