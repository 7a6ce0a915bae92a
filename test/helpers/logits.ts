// Bit-for-bit comparison of logits rows: the no-op invariants ("equals stock / full KV exactly").

/** Entries that differ (Object.is: -0 and +0 differ, NaN equals NaN), plus rows one side lacks. */
export function differingLogits(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let count = 0;
  a.forEach((row, i) => row.forEach((v, j) => (count += Object.is(v, b[i]?.[j]) ? 0 : 1)));
  return count + Math.abs(a.length - b.length);
}

/** node-llama-cpp's logits map for one evaluated token as a dense row (NaN where it gave none). */
export function logitsRow(map: ReadonlyMap<number, number>): Float32Array {
  const row = new Float32Array(map.size).fill(Number.NaN);
  for (const [token, value] of map) row[token] = value;
  return row;
}
