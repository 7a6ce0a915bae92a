import { describe, expect, it } from 'vitest';
import { evictedRanges, maxPool, mostImportant, recalledRuns, sentenceRuns, shareOf } from '../../src-engine/evictionSelection.js';
import { layerLaziness, resolveTrimmedLayers, type LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import type { SimLayerKvPolicy } from '../../src-common/policy/spec.js';

const trim = (over: Partial<SimLayerKvPolicy> = {}): SimLayerKvPolicy => ({ delta: null, layers: null, sink: 4, window: 1024, lastW: 32, rule: 'profile', ...over });
const profile: LayerProfile = { scores: [0.2, 0.95, 0.7, 0.99], delta: 0.9, trimmedLayers: [1, 3], sink: 4, window: 512 };

describe('eviction helpers', () => {
  it('turns kept indices into the runs of evicted ones', () => {
    expect(evictedRanges([0, 1, 2, 5, 6, 9], 10)).toEqual([
      { start: 3, end: 5 },
      { start: 7, end: 9 },
    ]);
    expect(evictedRanges([2, 3], 4)).toEqual([{ start: 0, end: 2 }]);
    expect(evictedRanges([0, 1, 2], 3)).toEqual([]);
  });

  it('max-pools over a centred window (SnapKV), clamped at the edges', () => {
    expect([...maxPool(Float64Array.from([0, 5, 0, 0, 0, 1]), 3)]).toEqual([5, 5, 5, 0, 1, 1]);
    expect([...maxPool(Float64Array.from([1, 2, 3]), 1)]).toEqual([1, 2, 3]);
  });

  it('scales a slot to its share of the candidates, so slots of different scales compare (heads=share)', () => {
    // the sink (index 0) and the recent token (index 4) are outside the candidates [1, 4)
    expect([...shareOf(Float64Array.from([100, 2, 6, 2, 50]), 1, 4)]).toEqual([10, 0.2, 0.6, 0.2, 5]);
    const small = shareOf(Float64Array.from([0.01, 0.02, 0.06, 0.02, 0.5]), 1, 4);
    [0.2, 0.6, 0.2].forEach((share, k) => expect(small[k + 1]).toBeCloseTo(share, 12));
    expect([...shareOf(Float64Array.from([3, 0, 0, 1]), 1, 3)]).toEqual([0, 0, 0, 0]);
  });
});

describe('choosing the kept tokens', () => {
  const importance = Float64Array.from([0, 9, 1, 1, 1, 1, 5, 0, 0, 0]);
  const stream = Array.from({ length: 10 }, (_, i) => i);

  it('ranks token by token with chunk=1, ties to the later token', () => {
    expect(mostImportant([1, 2, 3, 4, 5, 6, 7, 8], importance, 3, null).sort((a, b) => a - b)).toEqual([1, 5, 6]);
  });

  const runsOf = (chunk: number, origin: readonly number[]) => ({ runOf: origin.map((index) => Math.floor(index / chunk)), score: 'sum' as const });

  it('keeps whole runs by their summed importance with chunk > 1', () => {
    // runs of 4 stream tokens: [0..3] sums 11, [4..7] sums 7, [8, 9] 0; one spike does not outrank a run
    expect(mostImportant(stream, importance, 4, runsOf(4, stream)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    // the second run does not fit whole: its most important tokens fill the rest
    expect(mostImportant(stream, importance, 6, runsOf(4, stream)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 5, 6]);
  });

  it('groups by stream index, so runs stay aligned after earlier evictions', () => {
    // the cache holds stream tokens 0, 1, 8, 9, 10, 11: token indices 2..5 are one run of 4 (8..11)
    const origin = [0, 1, 8, 9, 10, 11];
    const scores = Float64Array.from([0, 0, 1, 1, 1, 1]);
    expect(mostImportant([0, 1, 2, 3, 4, 5], scores, 4, runsOf(4, origin)).sort((a, b) => a - b)).toEqual([2, 3, 4, 5]);
  });
});

describe('sentences as units (chunk=sentence)', () => {
  it('splits after a sentence end, where the stream has a gap, and at the length cap', () => {
    // stream tokens 0..5 then 9, 10 (6..8 evicted by an earlier round); token 2 ends a sentence
    const origin = [0, 1, 2, 3, 4, 5, 9, 10];
    const ends = [false, false, true, false, false, false, false, false];
    expect(sentenceRuns(origin, ends, 64)).toEqual([0, 0, 0, 1, 1, 1, 2, 2]);
    expect(sentenceRuns(origin, ends, 2)).toEqual([0, 0, 1, 2, 2, 3, 4, 4]);
  });

  it('ranks a sentence by its most important token and keeps it whole', () => {
    // two sentences: [0..3] with one spike of 9, [4..7] evenly 3 (sum 12 > 9, max 3 < 9)
    const importance = Float64Array.from([0, 9, 0, 0, 3, 3, 3, 3]);
    const stream = Array.from({ length: 8 }, (_, i) => i);
    const runOf = sentenceRuns(stream, [false, false, false, true, false, false, false, true], 64);
    expect(mostImportant(stream, importance, 4, { runOf, score: 'max' }).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(mostImportant(stream, importance, 4, { runOf, score: 'sum' }).sort((a, b) => a - b)).toEqual([4, 5, 6, 7]);
  });
});

describe('recall: the sentences re-read just before the question', () => {
  // three sentences: [0..2] top 5, [3..5] top 9, [6..9] top 7
  const importance = Float64Array.from([1, 5, 0, 0, 9, 1, 7, 0, 0, 0]);
  const runOf = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
  const candidates = Array.from({ length: 10 }, (_, i) => i);

  it('takes whole sentences by their top token, the highest ranked last, each in its own order', () => {
    expect(recalledRuns(candidates, importance, 7, runOf)).toEqual([6, 7, 8, 9, 3, 4, 5]);
    expect(recalledRuns(candidates, importance, 10, runOf)).toEqual([0, 1, 2, 6, 7, 8, 9, 3, 4, 5]);
  });

  it('skips a sentence longer than the room left for a shorter one ranked lower', () => {
    expect(recalledRuns(candidates, importance, 6, runOf)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(recalledRuns(candidates, importance, 2, runOf)).toEqual([]);
    // a sentence that scores nothing (line breaks alone) stays where it is
    expect(recalledRuns(candidates, Float64Array.from([0, 0, 0, 0, 9, 1, 0, 0, 0, 0]), 10, runOf)).toEqual([3, 4, 5]);
  });

  it('only ever moves candidates (the middle: neither sinks nor the recent window)', () => {
    expect(recalledRuns([0, 1, 2, 6, 7, 8, 9], importance, 10, runOf)).toEqual([0, 1, 2, 6, 7, 8, 9]);
  });
});

describe('SimLayerKV layer choice', () => {
  it('takes explicit layers first, then delta over the profile, then the profile itself', () => {
    expect(resolveTrimmedLayers(trim({ layers: [0, 2] }), 4, null)).toEqual({ trimmedLayers: [0, 2], notice: null });
    expect(resolveTrimmedLayers(trim({ delta: 0.6 }), 4, profile).trimmedLayers).toEqual([1, 2, 3]);
    expect(resolveTrimmedLayers(trim({ delta: 1.5 }), 4, profile).trimmedLayers).toEqual([]);
    expect(resolveTrimmedLayers(trim(), 4, profile).trimmedLayers).toEqual([1, 3]);
  });

  it('trims nothing, and says why, without a profile for this model', () => {
    expect(resolveTrimmedLayers(trim(), 4, null).notice).toMatch(/sift calibrate/);
    expect(resolveTrimmedLayers(trim({ delta: 0.5 }), 30, profile).trimmedLayers).toEqual([]);
    expect(() => resolveTrimmedLayers(trim({ layers: [7] }), 4, null)).toThrow(/past this model's last layer/);
  });

  it('scores a layer by the attention mass on the first tokens and the recent window', () => {
    // 2 KV heads, 6 cells holding positions 0..5; sink 1, window 2 of a 6-token prompt: positions 0, 4, 5
    const scores = Float32Array.from([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1]);
    const laziness = layerLaziness({ nKv: 6, nHeadKv: 2, scores }, Int32Array.from([0, 1, 2, 3, 4, 5]), 6, 1, 2);
    expect(laziness).toBeCloseTo((0.7 + 0.4) / 2, 6);
    // cells that hold nothing do not count
    expect(layerLaziness({ nKv: 2, nHeadKv: 1, scores: Float32Array.from([0.6, 0.4]) }, Int32Array.from([-1, 0]), 1, 1, 0)).toBeCloseTo(0.4, 6);
  });
});
