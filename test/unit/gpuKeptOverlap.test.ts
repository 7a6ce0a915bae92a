// test:gpu's measure of how alike two backends' choices were (test/gpu/keptOverlap.ts).
import { describe, expect, it } from 'vitest';
import { keptOverlap } from '../gpu/keptOverlap.js';
import type { KeptText } from '../../src-common/engineTypes.js';

const evicted = (ranges: number[]): KeptText => ({ basis: 'evicted', keptTokens: 0, promptTokens: 0, messages: [{ index: 0, ranges }] });

describe('keptOverlap', () => {
  it('is 1 for the same choice, 0 for disjoint ones, and the shared share in between', () => {
    expect(keptOverlap(evicted([0, 10, 20, 30]), evicted([0, 10, 20, 30]))).toBe(1);
    expect(keptOverlap(evicted([0, 10]), evicted([10, 20]))).toBe(0);
    // 18 characters shared of 24 in either
    expect(keptOverlap(evicted([0, 10, 20, 30]), evicted([0, 10, 22, 34]))).toBeCloseTo(18 / 24, 6);
    expect(keptOverlap(null, undefined)).toBe(1);
  });

  it("weighs a lazy prefill's depths", () => {
    const depths = (weights: number[]): KeptText => ({ basis: 'computed', keptTokens: 0, promptTokens: 0, messages: [{ index: 0, ranges: [0, 10, 10, 20], weights }] });
    expect(keptOverlap(depths([1, 0.5]), depths([1, 0.5]))).toBe(1);
    // the second range computed through half the layers on one backend, all on the other
    expect(keptOverlap(depths([1, 0.5]), depths([1, 1]))).toBeCloseTo(15 / 20, 6);
  });
});
