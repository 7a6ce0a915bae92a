// How far two probes' logits are apart: rows are the positions a probe returns (after the prompt
// and after each forced token).
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';

export interface LogitsDifference {
  /** Logit values that are not bit-identical, over every row. */
  differing: number;
  /** The largest |a − b| over every logit of every row. */
  maxAbs: number;
  /** Fraction of rows whose argmax is the same token. */
  top1Agreement: number;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

export function compareLogits(a: LogitsProbeResult, b: LogitsProbeResult): LogitsDifference {
  if (a.logits.length !== b.logits.length) throw new Error(`probes have ${a.logits.length} and ${b.logits.length} rows`);
  let differing = 0;
  let maxAbs = 0;
  let sameTop = 0;
  a.logits.forEach((row, i) => {
    const other = b.logits[i]!;
    for (let j = 0; j < row.length; j++) {
      if (row[j] !== other[j]) differing++;
      maxAbs = Math.max(maxAbs, Math.abs(row[j]! - other[j]!));
    }
    if (argmax(row) === argmax(other)) sameTop++;
  });
  return { differing, maxAbs: Number(maxAbs.toPrecision(4)), top1Agreement: sameTop / a.logits.length };
}
