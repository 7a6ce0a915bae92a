// The live per-layer chart of a lazy prefill: tokens computed per layer from the native counter.
import { describe, expect, it } from 'vitest';
import { lazyLayerProgress, lazySegmentTokens } from '../../src-engine/lazyLayerProgress.js';

// 6 layers, pruned to half at layer 2 and a quarter at layer 4; 100 tokens, 4 sinks and 16 recent
const schedule = { pruneLayers: [2, 4], keep: [0.5, 0.25], nSink: 4, nRecent: 16 };

describe('a lazy prefill, layer by layer', () => {
  it('counts each segment as the native prefill does, never below the forced sinks and recent tokens', () => {
    expect(lazySegmentTokens(schedule, 100)).toEqual([100, 50, 25]);
    expect(lazySegmentTokens({ ...schedule, keep: [0.5, 0.1] }, 100)).toEqual([100, 50, 20]);
    expect(lazySegmentTokens({ ...schedule, nRecent: 0 }, 2)).toEqual([2, 2, 2]);
  });

  it('fills the first segment, then the kept tokens deeper, and ends at each layer\'s computed count', () => {
    // total work: 100×2 + 50×2 + 25×2 = 350 token-layers
    expect(lazyLayerProgress(schedule, 100, 6, 0)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(lazyLayerProgress(schedule, 100, 6, 100 / 350)).toEqual([50, 50, 0, 0, 0, 0]);
    expect(lazyLayerProgress(schedule, 100, 6, 260 / 350)).toEqual([100, 100, 30, 30, 0, 0]);
    expect(lazyLayerProgress(schedule, 100, 6, 330 / 350)).toEqual([100, 100, 50, 50, 15, 15]);
    expect(lazyLayerProgress(schedule, 100, 6, 1)).toEqual([100, 100, 50, 50, 25, 25]);
  });
});
