// Picks a token from raw logits, for the one token Sift samples itself: the first answer token
// after a lazy prefill. Greedy at temperature 0; otherwise temperature then top-p, with a seeded
// generator so a given seed repeats. node-llama-cpp samples every later token with the same knobs.
import type { SamplingOptions } from '../src-common/engineTypes.js';

/** mulberry32: small, fast and good enough to draw one token (or a test model's weights). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export function sampleToken(logits: ArrayLike<number>, sampling: Pick<SamplingOptions, 'temperature' | 'topP' | 'seed'>): number {
  if (sampling.temperature <= 0) return argmax(logits);
  const max = logits[argmax(logits)]!;
  const weighted: Array<[number, number]> = [];
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const w = Math.exp((logits[i]! - max) / sampling.temperature);
    if (w > 0) {
      weighted.push([i, w]);
      total += w;
    }
  }
  weighted.sort((a, b) => b[1] - a[1]);
  // the smallest set of most likely tokens whose probability reaches top-p
  const topP = sampling.topP > 0 && sampling.topP < 1 ? sampling.topP : 1;
  let kept = 0;
  let mass = 0;
  while (kept < weighted.length && mass < topP * total) mass += weighted[kept++]![1];
  const random = seededRandom(sampling.seed ?? Date.now());
  let draw = random() * mass;
  for (let i = 0; i < kept; i++) {
    draw -= weighted[i]![1];
    if (draw <= 0) return weighted[i]![0];
  }
  return weighted[kept - 1]![0];
}
