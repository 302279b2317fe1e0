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
