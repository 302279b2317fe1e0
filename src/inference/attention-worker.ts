/// <reference lib="webworker" />
/**
 * The attention worker: summarises one recorded step's `attn_*` outputs (`AttentionSummary`) off the
 * inference worker's thread, which starts it when a core is free (`attention-summariser.ts`). Jobs
 * arrive with their outputs moved here and leave as the step's summary, its buffers moved back.
 */
import { AttentionSummary, type AttentionRequest, type AttentionResponse } from './attention-summariser';

declare const self: DedicatedWorkerGlobalScope;

const summary = new AttentionSummary();

self.onmessage = (event: MessageEvent<AttentionRequest>) => {
  const { id, outputs, ...job } = event.data;
  let response: AttentionResponse;
  let transfer: Transferable[] = [];
  try {
    const attention = summary.run({ ...job, outputs: new Map(outputs) });
    response = { id, attention };
    transfer = [attention.entropy.buffer, attention.distance.buffer, ...attention.layers.flatMap((a) => [a.q.buffer, a.scale.buffer])];
  } catch (e) {
    response = { id, error: e instanceof Error ? e.message : String(e) };
  }
  self.postMessage(response, transfer);
};
