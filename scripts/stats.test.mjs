import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairedSaving, quartiles } from './stats.mjs';

test('quartiles interpolate linearly, as numpy.percentile does', () => {
  assert.deepEqual(quartiles([4, 1, 3, 2]), { median_ms: 2.5, q25_ms: 1.75, q75_ms: 3.25, runs: 4 });
  assert.deepEqual(quartiles([7]), { median_ms: 7, q25_ms: 7, q75_ms: 7, runs: 1 });
});

test('a paired saving is taken round by round, not from the two medians', () => {
  // The load drifts up over the rounds; after is 10 ms faster in every round but one.
  const before = [100, 200, 300, 400, 500];
  const after = [90, 190, 290, 390, 520];
  const s = pairedSaving(before, after);
  assert.equal(s.median_ms, 10);
  assert.equal(s.after_faster, 4);
  assert.equal(s.runs, 5);
  assert.deepEqual([s.q25_ms, s.q75_ms], [10, 10]);
});

test('paired sides of unequal length are refused', () => {
  assert.throws(() => pairedSaving([1, 2], [1]), /same, non-zero number of rounds/);
  assert.throws(() => pairedSaving([], []), /same, non-zero number of rounds/);
});
