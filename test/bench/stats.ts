// Small statistics for noisy timings: medians, not means, so one slow run (another job on the
// CPU, a page fault) does not move the figure.

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Median over rounds of baseline/candidate, pairing the runs of the same round (same prompt, run
 * back to back), so a slow patch of machine time affects both sides of each ratio.
 */
export function pairedSpeedup(baseline: ReadonlyMap<number, number>, candidate: ReadonlyMap<number, number>): number | null {
  const ratios: number[] = [];
  for (const [round, candidateMs] of candidate) {
    const baselineMs = baseline.get(round);
    if (baselineMs !== undefined && candidateMs > 0) ratios.push(baselineMs / candidateMs);
  }
  return median(ratios);
}
