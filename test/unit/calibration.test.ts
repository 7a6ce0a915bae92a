// SimLayerKV calibration's choice, with made-up scores and fidelity: which sets are tried, where the
// search stops, the threshold that selects the chosen set, and how the profile is stored.
import { describe, expect, it } from 'vitest';
import {
  averageScores,
  candidateCounts,
  candidatePolicy,
  chooseTrimmedLayers,
  laziestLayers,
  policyUsesLayerProfile,
  rankLayers,
  readLayerProfile,
  thresholdFor,
  topOneAgreement,
  withLayerProfile,
  type CalibratedLayerProfile,
} from '../../src-common/policy/calibration.js';
import { resolveTrimmedLayers } from '../../src-common/policy/simLayerKvLayers.js';
import { parsePolicy } from '../../src-common/policy/spec.js';

// ten layers; laziest first: 3 (0.95), 7 (0.9), 1 (0.85), 8 (0.8), 5 (0.7), 0 (0.6), 9 (0.5), 2 (0.4), 6 (0.3), 4 (0.2)
const SCORES = [0.6, 0.85, 0.4, 0.95, 0.2, 0.7, 0.3, 0.9, 0.8, 0.5];

/** A fidelity measure from a table: agreement by number of trimmed layers, per document. */
function fakeMeasure(byCount: Record<number, number[]>) {
  const calls: number[][] = [];
  const measure = async (layers: number[]) => {
    calls.push(layers);
    const result = byCount[layers.length];
    if (!result) throw new Error(`unexpected set of ${layers.length}`);
    return result;
  };
  return { measure, calls };
}

function lazyByDelta(scores: number[], delta: number): number[] {
  return scores.flatMap((s, layer) => (s > delta ? [layer] : []));
}

describe('averageScores', () => {
  it('averages each layer over the documents', () => {
    expect(averageScores([[0.2, 1], [0.4, 0.5]])).toEqual([expect.closeTo(0.3, 12), 0.75]);
    expect(averageScores([[0.1, 0.2, 0.3]])).toEqual([0.1, 0.2, 0.3]);
  });

  it('refuses no documents and documents of different depths', () => {
    expect(() => averageScores([])).toThrow(/no document/);
    expect(() => averageScores([[1, 2], [1]])).toThrow(/different numbers/);
  });
});

describe('candidates', () => {
  it('ranks laziest first and lists each set in layer order', () => {
    expect(rankLayers(SCORES)).toEqual([3, 7, 1, 8, 5, 0, 9, 2, 6, 4]);
    expect(laziestLayers(SCORES, 3)).toEqual([1, 3, 7]);
    expect(laziestLayers(SCORES, 0)).toEqual([]);
  });

  it('grows by about a tenth of the depth up to every layer', () => {
    expect(candidateCounts(SCORES)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(candidateCounts(SCORES, 3)).toEqual([3, 6, 9, 10]);
    expect(candidateCounts(new Array(30).fill(0).map((_, i) => i / 30))).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
  });

  it('never splits layers of equal score', () => {
    // ranked: 0.9, 0.8, 0.8, 0.8, 0.1: a set of 2 or 3 would split the 0.8s
    const scores = [0.8, 0.9, 0.8, 0.1, 0.8];
    expect(candidateCounts(scores, 2)).toEqual([1, 4, 5]);
    expect(candidateCounts([0.5, 0.5, 0.5], 1)).toEqual([3]);
  });

  it('names each set as an explicit simlayerkv policy', () => {
    const spec = candidatePolicy([1, 3, 7], 4, 512);
    expect(spec).toBe('simlayerkv:layers=1/3/7,sink=4,window=512');
    expect(parsePolicy(spec).simLayerKv).toMatchObject({ layers: [1, 3, 7], sink: 4, window: 512 });
  });
});

describe('thresholdFor', () => {
  it('lies midway between the last lazy score and the next', () => {
    expect(thresholdFor(SCORES, 3)).toBeCloseTo((0.85 + 0.8) / 2, 12);
    expect(lazyByDelta(SCORES, thresholdFor(SCORES, 3))).toEqual(laziestLayers(SCORES, 3));
  });

  it('selects exactly the chosen set for every count', () => {
    for (let k = 0; k <= SCORES.length; k++) expect(lazyByDelta(SCORES, thresholdFor(SCORES, k))).toEqual(laziestLayers(SCORES, k));
  });

  it('goes above the highest score for none, and stays a valid delta', () => {
    const delta = thresholdFor(SCORES, 0);
    expect(delta).toBeGreaterThan(0.95);
    expect(delta).toBeLessThanOrEqual(1);
    expect(thresholdFor([0.3, 1], 0)).toBe(1);
  });

  it('goes below the lowest score (but above 0) for all', () => {
    expect(thresholdFor(SCORES, 10)).toBeCloseTo(0.1, 12);
  });
});

describe('chooseTrimmedLayers', () => {
  it('keeps the largest set that holds the agreement, stopping at the first that does not', async () => {
    const { measure, calls } = fakeMeasure({ 3: [1, 1], 6: [0.95, 0.9], 9: [0.85, 0.9], 10: [1, 1] });
    const tried: number[][] = [];
    const choice = await chooseTrimmedLayers(SCORES, measure, { minAgreement: 0.9, step: 3, onTry: (l) => tried.push(l) });
    expect(calls.map((c) => c.length)).toEqual([3, 6, 9]); // 10 is never measured: 9 already failed
    expect(tried).toEqual(calls);
    expect(choice.count).toBe(6);
    expect(choice.trimmedLayers).toEqual([0, 1, 3, 5, 7, 8]);
    expect(choice.agreement).toBeCloseTo(0.925, 12);
    expect(choice.delta).toBeCloseTo((0.6 + 0.5) / 2, 12);
    expect(lazyByDelta(SCORES, choice.delta)).toEqual(choice.trimmedLayers);
    expect(choice.fidelity.map((p) => [p.count, p.agreement])).toEqual([
      [3, 1],
      [6, expect.closeTo(0.925, 12)],
      [9, expect.closeTo(0.875, 12)],
    ]);
    expect(choice.fidelity[1]!.perDocument).toEqual([0.95, 0.9]);
  });

  it('counts the mean over documents, not the worst one', async () => {
    const { measure } = fakeMeasure({ 5: [0.8, 1], 10: [0.5, 0.5] });
    const choice = await chooseTrimmedLayers(SCORES, measure, { minAgreement: 0.9, step: 5 });
    expect(choice.count).toBe(5);
  });

  it('makes no layer lazy when even the smallest set falls short', async () => {
    const { measure, calls } = fakeMeasure({ 3: [0.5] });
    const results: number[] = [];
    const choice = await chooseTrimmedLayers(SCORES, measure, { minAgreement: 0.9, step: 3, onResult: (p) => results.push(p.agreement) });
    expect(calls).toHaveLength(1);
    expect(results).toEqual([0.5]);
    expect(choice).toMatchObject({ count: 0, trimmedLayers: [], agreement: null });
    expect(lazyByDelta(SCORES, choice.delta)).toEqual([]);
    expect(choice.fidelity).toHaveLength(1);
  });

  it('can make every layer lazy', async () => {
    const { measure } = fakeMeasure({ 5: [1], 10: [0.95] });
    const choice = await chooseTrimmedLayers(SCORES, measure, { minAgreement: 0.9, step: 5 });
    expect(choice.trimmedLayers).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(lazyByDelta(SCORES, choice.delta)).toHaveLength(10);
  });
});

describe('topOneAgreement', () => {
  const row = (best: number) => Float32Array.from([0, 1, 2, 3], (_, i) => (i === best ? 5 : 0));

  it('counts positions whose top token matches the reference', () => {
    expect(topOneAgreement([1, 2, 3, 0], [row(1), row(2), row(0), row(0)])).toBe(0.75);
  });

  it('refuses missing rows', () => {
    expect(() => topOneAgreement([1, 2], [row(1)])).toThrow(/2 rows/);
    expect(() => topOneAgreement([], [])).toThrow(/no reference/);
  });
});

describe('the stored profile', () => {
  const calibrated: CalibratedLayerProfile = {
    scores: SCORES,
    delta: 0.825,
    trimmedLayers: [1, 3, 7],
    sink: 4,
    window: 512,
    threshold: 0.9,
    agreement: 0.95,
    fidelity: [],
    lastW: 32,
    forced: 32,
    documents: [{ id: 'town-history', promptTokens: 1100, positions: 33, selfConsistent: 32 }],
    measuredAt: '2026-01-01T00:00:00.000Z',
  };

  it('sits under its own key, next to other kinds of profile', () => {
    const merged = withLayerProfile({ speed: { tokensPerSec: 40 }, simlayerkv: { old: true } }, calibrated);
    expect(merged['speed']).toEqual({ tokensPerSec: 40 });
    expect(merged['simlayerkv']).toBe(calibrated);
    expect(withLayerProfile(null, calibrated)).toEqual({ simlayerkv: calibrated });
  });

  it('reads back as the engine profile the policy resolves against', () => {
    const profile = readLayerProfile(JSON.parse(JSON.stringify(withLayerProfile({}, calibrated))));
    expect(profile).toEqual({ scores: SCORES, delta: 0.825, trimmedLayers: [1, 3, 7], sink: 4, window: 512 });
    expect(resolveTrimmedLayers(parsePolicy('simlayerkv').simLayerKv!, 10, profile)).toEqual({ trimmedLayers: [1, 3, 7], notice: null });
  });

  it('is null when absent or malformed', () => {
    expect(readLayerProfile(null)).toBeNull();
    expect(readLayerProfile({ speed: {} })).toBeNull();
    expect(readLayerProfile({ simlayerkv: { ...calibrated, scores: 'no' } })).toBeNull();
    expect(readLayerProfile({ simlayerkv: { ...calibrated, trimmedLayers: [12] } })).toBeNull();
  });

  it('is needed by simlayerkv without layers=, and by nothing else', () => {
    expect(policyUsesLayerProfile('simlayerkv')).toBe(true);
    expect(policyUsesLayerProfile('simlayerkv:delta=0.8+kv:type=q8_0')).toBe(true);
    expect(policyUsesLayerProfile('simlayerkv:layers=1/3')).toBe(false);
    expect(policyUsesLayerProfile('full')).toBe(false);
    expect(policyUsesLayerProfile('not a policy')).toBe(false);
  });
});
