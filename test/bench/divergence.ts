// Distances between next-token distributions given as raw logits. All in float64 with the
// log-sum-exp shift, so a 49,152-way softmax neither overflows nor loses the small probabilities
// that KL divergence is made of.

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
  return best;
}

export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) {
    if (Number.isNaN(value)) throw new Error('logits contain NaN');
    if (value > max) max = value;
  }
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = (logits[i] as number) - logZ;
  return out;
}

/** KL(P || Q) in nats, P from `reference` logits and Q from `candidate` logits. */
export function klDivergence(reference: Float32Array, candidate: Float32Array): number {
  if (reference.length !== candidate.length) throw new Error(`vocabularies differ: ${reference.length} vs ${candidate.length}`);
  const logP = logSoftmax(reference);
  const logQ = logSoftmax(candidate);
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const lp = logP[i] as number;
    const p = Math.exp(lp);
    if (p > 0) kl += p * (lp - (logQ[i] as number));
  }
  // rounding can leave a tiny negative for identical distributions
  return Math.max(0, kl);
}

export interface FidelityMeasure {
  /** Distributions compared (one per forced token). */
  positions: number;
  /** Fraction of positions whose most likely token is the same. */
  top1Agreement: number;
  meanKl: number;
  maxKl: number;
  klPerPosition: number[];
}

export function compareDistributions(reference: readonly Float32Array[], candidate: readonly Float32Array[], positions: number): FidelityMeasure {
  if (reference.length < positions || candidate.length < positions) {
    throw new Error(`need ${positions} distributions, got ${reference.length} and ${candidate.length}`);
  }
  let agree = 0;
  const klPerPosition: number[] = [];
  for (let i = 0; i < positions; i++) {
    const ref = reference[i] as Float32Array;
    const cand = candidate[i] as Float32Array;
    if (argmax(ref) === argmax(cand)) agree++;
    klPerPosition.push(klDivergence(ref, cand));
  }
  const meanKl = klPerPosition.reduce((a, b) => a + b, 0) / Math.max(1, positions);
  return { positions, top1Agreement: agree / Math.max(1, positions), meanKl, maxKl: Math.max(0, ...klPerPosition), klPerPosition };
}
