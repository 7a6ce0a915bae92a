// The benchmark's fidelity pooling and prompt layout: pure functions, checked without an engine.
import { describe, expect, it } from 'vitest';
import { compareDistributions } from '../bench/divergence.js';
import { poolFidelity } from '../bench/measurements.js';
import { fidelityCases, type FillerFit } from '../bench/prompts.js';

const fit: FillerFit = { tokensPerBlock: 22, passkeyOverhead: 40, fidelityOverhead: 50, followUpOverhead: 60 };

function logits(top: number, width = 4): Float32Array {
  return Float32Array.from({ length: width }, (_, i) => (i === top ? 2 : 0));
}

describe('poolFidelity', () => {
  it('weighs every forced position once, whatever prompt it came from', () => {
    // prompt A: 4 positions, all agree; prompt B: 2 positions, none agree
    const a = compareDistributions([0, 1, 2, 3].map((t) => logits(t)), [0, 1, 2, 3].map((t) => logits(t)), 4);
    const b = compareDistributions([logits(0), logits(1)], [logits(2), logits(3)], 2);
    const pooled = poolFidelity([
      { ...a, cached: true, depth: 0.5 },
      { ...b, cached: false, depth: 0 },
    ]);
    expect(pooled.positions).toBe(6);
    expect(pooled.top1Agreement).toBeCloseTo(4 / 6, 12);
    expect(pooled.meanKl).toBeCloseTo((a.meanKl * 4 + b.meanKl * 2) / 6, 12);
    expect(pooled.maxKl).toBe(b.maxKl);
    expect(pooled.cached).toBe(false);
    expect(pooled.perPrompt.map((p) => [p.depth, p.positions, p.top1Agreement])).toEqual([
      [0.5, 4, 1],
      [0, 2, 0],
    ]);
  });
});

describe('fidelityCases', () => {
  it('keeps the single-prompt layout first and spreads the rest over the document', () => {
    const cases = fidelityCases(8192, 8112, 4, fit);
    expect(cases.map((c) => c.depth)).toEqual([0.5, 0.75, 0, 0.25]);
    expect(fidelityCases(8192, 8112, 1, fit)[0]?.messages).toEqual(cases[0]?.messages);
    // different needles, same length of filler
    const texts = cases.map((c) => c.messages[0]?.content ?? '');
    expect(new Set(texts).size).toBe(4);
  });
});
