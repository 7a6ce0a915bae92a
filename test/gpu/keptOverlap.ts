// How alike two probes' choices are: the characters of each message their caches kept, weighted as
// the turn reports them (1 for an evictor's kept text; a lazy prefill's share of layers computed).
import type { KeptText } from '../../src-common/engineTypes.js';

function weights(kept: KeptText | null | undefined): Map<string, number> {
  const byChar = new Map<string, number>();
  for (const message of kept?.messages ?? []) {
    for (let r = 0; r + 1 < message.ranges.length; r += 2) {
      const weight = message.weights?.[r / 2] ?? 1;
      for (let c = message.ranges[r]!; c < message.ranges[r + 1]!; c++) byChar.set(`${message.index}:${c}`, weight);
    }
  }
  return byChar;
}

/** Σ min / Σ max of the two choices' weights per character: 1 when alike, 0 when disjoint (1 when neither reports a choice). */
export function keptOverlap(a: KeptText | null | undefined, b: KeptText | null | undefined): number {
  const wa = weights(a);
  const wb = weights(b);
  let shared = 0;
  let either = 0;
  for (const key of new Set([...wa.keys(), ...wb.keys()])) {
    shared += Math.min(wa.get(key) ?? 0, wb.get(key) ?? 0);
    either += Math.max(wa.get(key) ?? 0, wb.get(key) ?? 0);
  }
  return either === 0 ? 1 : shared / either;
}
