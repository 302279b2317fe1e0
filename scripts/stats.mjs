// Summaries shared by the benchmark scripts.

/**
 * Median and quartiles with linear interpolation (numpy's default percentile, as diffit.benchmark
 * uses), so the Python and the JavaScript halves summarise alike.
 * @param {number[]} values
 * @returns {{ median_ms: number, q25_ms: number, q75_ms: number, runs: number }}
 */
export function quartiles(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p) => {
    const h = (s.length - 1) * p;
    const lo = Math.floor(h);
    return s[lo] + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]) - s[lo]);
  };
  return { median_ms: at(0.5), q25_ms: at(0.25), q75_ms: at(0.75), runs: s.length };
}

/**
 * A paired comparison of two sides measured in the same rounds (`before[i]` and `after[i]` alternated
 * in round i, so that both saw the same load): the quartiles of the savings before[i] - after[i], and
 * in how many rounds `after` was the faster. On a shared machine the paired median is steadier than
 * the difference of the two medians.
 * @param {number[]} before
 * @param {number[]} after
 * @returns {{ median_ms: number, q25_ms: number, q75_ms: number, runs: number, after_faster: number }}
 */
export function pairedSaving(before, after) {
  if (before.length !== after.length || before.length === 0) {
    throw new Error(`paired sides need the same, non-zero number of rounds (got ${before.length} and ${after.length})`);
  }
  const savings = before.map((b, i) => b - after[i]);
  return { ...quartiles(savings), after_faster: savings.filter((d) => d > 0).length };
}
