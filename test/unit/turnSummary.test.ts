import { describe, expect, it } from 'vitest';
import { describeLazyPrefill } from '../../src-main/api/turnSummary.js';
import type { LazyTurnMetrics } from '../../src-main/engine/types.js';

const lazy: LazyTurnMetrics = {
  pruneLayers: [8, 20, 24],
  keep: [0.7, 0.6, 0.5],
  pool: 15,
  scoreFrom: 3,
  obsWindow: 18,
  segments: [],
  pruned: 2025,
  auxBytes: 0,
  revived: 0,
  reviveMs: 0,
};

describe('describeLazyPrefill', () => {
  it('says what was pruned, where, and which tokens ranked the rest', () => {
    expect(describeLazyPrefill(lazy, 4050)).toBe(
      "pruned 2,025 of 4,050 prompt tokens (kept 70% from layer 8, 60% from 20, 50% from 24), ranked by the last 18 tokens' attention",
    );
  });

  it('adds revival when pruned tokens were completed', () => {
    expect(describeLazyPrefill({ ...lazy, revived: 2025, reviveMs: 812.4 }, 4050)).toMatch(/; revived 2,025 after the first token in 812 ms$/);
  });
});
