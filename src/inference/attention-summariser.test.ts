import { describe, expect, it } from 'vitest';
import { summariseAttention, tokenDistances, type AttentionLayer } from '@/lib/attention-map';
import { AttentionSummariser, AttentionSummary, answerAttention, summariseOffThread, transferable, type AttentionJob, type AttentionRequest, type AttentionResponse, type WorkerLike } from './attention-summariser';

// Two layers of a 4×4 image: one 4×4 window of 16 tokens at full resolution, and a 2×2 map in one window.
const layers: AttentionLayer[] = [
  { output: 'attn_a', layer: 'a', resolution: 4, window: 4, heads: 2, windows: 1, tokens: 16 },
  { output: 'attn_b', layer: 'b', resolution: 2, window: 2, heads: 1, windows: 1, tokens: 4 },
];

/** Softmax rows of pseudo-random logits, [batch, heads, windows, tokens, tokens]. */
function outputs(batch: number, seed: number): Map<string, Float32Array> {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 6;
  return new Map(
    layers.map((l) => {
      const data = new Float32Array(batch * l.heads * l.windows * l.tokens * l.tokens);
      for (let row = 0; row < data.length / l.tokens; row++) {
        const logits = Array.from({ length: l.tokens }, next);
        const sum = logits.reduce((a, v) => a + Math.exp(v), 0);
        logits.forEach((v, k) => (data[row * l.tokens + k] = Math.exp(v) / sum));
      }
      return [l.output, data];
    }),
  );
}

const job = (seed: number): AttentionJob => ({ layers, resolution: 4, images: 2, image: 1, outputs: outputs(3, seed) });
const direct = (j: AttentionJob) => summariseAttention(j.layers, j.images, j.image, j.outputs, j.layers.map((l) => tokenDistances(l, j.resolution)));

/** The attention worker in this thread: runs `AttentionSummary` and answers after `delays[n]` ms (job n), or crashes at job `crashAt`. */
class FakeWorker implements WorkerLike {
  onmessage: ((event: MessageEvent<AttentionResponse>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  readonly transfers: Transferable[][] = [];
  terminated = false;
  private readonly summary = new AttentionSummary();
  private jobs = 0;
  constructor(
    private readonly delays: number[] = [0],
    private readonly crashAt = -1,
  ) {}
  postMessage(request: AttentionRequest, transfer: Transferable[]) {
    this.transfers.push(transfer);
    const n = this.jobs++;
    if (n === this.crashAt) {
      setTimeout(() => this.onerror?.({ message: 'out of memory' } as ErrorEvent), 1);
      return;
    }
    const { response } = answerAttention(this.summary, request);
    setTimeout(() => this.onmessage?.({ data: response } as MessageEvent<AttentionResponse>), this.delays[n % this.delays.length]);
  }
  terminate() {
    this.terminated = true;
  }
}

describe('attention summariser', () => {
  it('works off the thread only where a core is free of the model', () => {
    expect(summariseOffThread('wasm', 2, 2)).toBe(false); // this project's 2-core machines: inline, as before
    expect(summariseOffThread('wasm', 4, 4)).toBe(false);
    expect(summariseOffThread('wasm', 4, 8)).toBe(true);
    expect(summariseOffThread('wasm', 1, 2)).toBe(true); // no cross-origin isolation: one WASM thread
    expect(summariseOffThread('webgpu', 4, 2)).toBe(true); // the GPU runs the model
    expect(summariseOffThread('webgpu', 1, 1)).toBe(false);
  });

  it('inline, gives the summary of summariseAttention itself, at once', () => {
    const j = job(1);
    const s = new AttentionSummariser(false);
    expect(s.offThread).toBe(false);
    const got = s.summarise(j);
    expect(got).not.toBeInstanceOf(Promise);
    expect(got).toEqual(direct(j));
    expect(() => s.summarise({ ...j, outputs: new Map() })).toThrow(/did not return attn_a/);
  });

  it('off the thread, gives the same summaries, each to its job, moving the outputs but not the kept buffers', async () => {
    const worker = new FakeWorker([20, 1, 8]); // the first job answers last
    const s = new AttentionSummariser(true, () => worker);
    expect(s.offThread).toBe(true);
    const jobs = [job(1), job(2), job(3)];
    const want = jobs.map(direct);
    const kept = jobs[2].outputs.get('attn_b')!.buffer;
    const got = await Promise.all(jobs.map((j, i) => s.summarise(j, i === 2 ? [kept] : [])));
    expect(got).toEqual(want);
    expect(worker.transfers[0]).toEqual([...jobs[0].outputs.values()].map((a) => a.buffer));
    expect(worker.transfers[2]).toEqual([jobs[2].outputs.get('attn_a')!.buffer]);
    s.close();
    expect(worker.terminated).toBe(true);
  });

  it('rejects a job that fails in the worker, with its reason', async () => {
    const s = new AttentionSummariser(true, () => new FakeWorker());
    await expect(s.summarise({ ...job(1), outputs: new Map() })).rejects.toThrow('Could not summarise the attention: The model did not return attn_a.');
  });

  it('after a crash, gives null for the jobs the worker held and runs later ones inline', async () => {
    const worker = new FakeWorker([5], 0);
    const s = new AttentionSummariser(true, () => worker);
    expect(await s.summarise(job(1))).toBeNull();
    expect(worker.terminated).toBe(true);
    expect(s.offThread).toBe(false);
    const j = job(2);
    expect(s.summarise(j)).toEqual(direct(j));
  });

  it('stays inline when no worker can be started', () => {
    const s = new AttentionSummariser(true, () => {
      throw new Error('nested workers are not supported');
    });
    expect(s.offThread).toBe(false);
    expect(new AttentionSummariser(true).offThread).toBe(false); // no Worker in this scope (Node)
  });

  it('lists each movable buffer once', () => {
    const shared = new Float32Array(8);
    const a = new Float32Array(shared.buffer, 0, 4);
    const b = new Float32Array(shared.buffer, 16, 4);
    const c = new Float32Array(2);
    expect(transferable([a, b, c])).toEqual([shared.buffer, c.buffer]);
    expect(transferable([a, c], [shared.buffer])).toEqual([c.buffer]);
  });
});
