/// <reference lib="webworker" />
/**
 * The attention worker: summarises one recorded step's `attn_*` outputs (`answerAttention`) off the
 * inference worker's thread, which starts it when a core is free (`attention-summariser.ts`). Jobs
 * arrive with their outputs moved here and leave as the step's summary, its buffers moved back.
 */
import { AttentionSummary, answerAttention, type AttentionRequest } from './attention-summariser';

declare const self: DedicatedWorkerGlobalScope;

const summary = new AttentionSummary();

self.onmessage = (event: MessageEvent<AttentionRequest>) => {
  const { response, transfer } = answerAttention(summary, event.data);
  self.postMessage(response, transfer);
};
