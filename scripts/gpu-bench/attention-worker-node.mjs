// The app's attention worker (src/inference/attention-worker.ts) as a Node thread for the GPU bench's
// `:attention-worker` image runs (image-run.mjs nodeAttentionWorker): the same `answerAttention`, from the
// bundled module named in workerData, answering the same requests.
import { parentPort, workerData } from 'node:worker_threads';

const { AttentionSummary, answerAttention } = await import(workerData.sampling);
const summary = new AttentionSummary();

parentPort.on('message', (request) => {
  const { response, transfer } = answerAttention(summary, request);
  parentPort.postMessage(response, transfer);
});
