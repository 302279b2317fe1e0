import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from './python-reference';

/** One row of `python -m diffit.attention_stats --json`: per layer [entropy, distance]. */
export interface PythonAttentionRow {
  step: number;
  sigma: number;
  layers: Record<string, [number, number]>;
}

/** Runs training/diffit/attention_stats.py (PyTorch, the EMA weights the ONNX file was exported from), unconditional. */
export function pythonAttentionStats(args: { checkpoint: string; seed: number; steps: number; batch: number }, outJson: string): PythonAttentionRow[] {
  execFileSync(
    resolve(REPO_ROOT, '.venv/bin/python'),
    ['-m', 'diffit.attention_stats', '--checkpoint', resolve(REPO_ROOT, args.checkpoint), '--seed', String(args.seed), '--steps', String(args.steps), '--batch', String(args.batch), '--json', outJson],
    { cwd: resolve(REPO_ROOT, 'training'), stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 },
  );
  return JSON.parse(readFileSync(outJson, 'utf8')) as PythonAttentionRow[];
}
