// The app's attention worker (src/inference/attention-worker.ts) as a Node thread for the GPU bench's
// `:attention-worker` image runs (image-run.mjs nodeAttentionWorker): the same AttentionSummary, from the
// bundled module named in workerData, answering the same requests.
import { parentPort, workerData } from 'node:worker_threads';

const { AttentionSummary } = await import(workerData.sampling);
const summary = new AttentionSummary();

parentPort.on('message', ({ id, outputs, ...job }) => {
  try {
    const attention = summary.run({ ...job, outputs: new Map(outputs) });
    parentPort.postMessage({ id, attention }, [attention.entropy.buffer, attention.distance.buffer, ...attention.layers.flatMap((a) => [a.q.buffer, a.scale.buffer])]);
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
