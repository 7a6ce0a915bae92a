// A model's measured frontier (src-common/policy/frontier.ts): per-question results aggregated
// against full KV's, the queries auto asks of it, and the stored and shipped forms read back
// only when well-formed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  bestEvictor,
  evictionLoss,
  measuredTrim,
  evictorWithoutBudget,
  frontierPoint,
  lossPoints,
  parseFrontier,
  readFrontiers,
  withPoints,
  nearestFrontier,
  vouchedLazy,
  withFrontier,
  type FrontierPoint,
  type ModelFrontier,
  type QuestionResult,
} from '../../src-common/policy/frontier.js';
import { readShippedFrontiers, readShippedLayerProfile, StoredFrontiers, writeShippedFrontiers, writeShippedLayerProfile } from '../../src-main/models/modelFrontiers.js';
import { StoredLayerProfiles } from '../../src-main/models/layerProfiles.js';
import { frontierCandidates, lengthsWithin, spreadDepths } from '../../src-main/models/frontierCalibration.js';

function result(correct: boolean, answer: string, ttftMs: number, agreeing: number, kv = 1000): QuestionResult {
  return { correct, answer, ttftMs, kvBytesSteady: kv, agreeing, positions: 10 };
}

function point(policy: string, family: FrontierPoint['family'], top1: number, ttftSpeedup: number, budgetFraction: number | null = null): FrontierPoint {
  return { policy, family, budgetFraction, kept: 1, sameAnswer: 1, top1, ttftSpeedup, kvSmaller: 1 };
}

function frontier(points: FrontierPoint[]): ModelFrontier {
  return { questions: 3, fullCorrect: 2, promptTokens: 2000, points, source: 'calibrate', machine: 'test CPU', measuredAt: '2026-12-04T00:00:00.000Z' };
}

describe('a frontier point from per-question results', () => {
  const full = [result(true, 'paris', 1000, 10, 4000), result(true, 'x', 2000, 10, 4000), result(false, 'y', 3000, 10, 4000)];

  it('counts kept answers only among full KV correct ones, pairs TTFT per question and pools agreement', () => {
    const mine = [result(true, 'paris', 500, 9, 1000), result(false, 'z', 1000, 6, 1000), result(true, 'y', 1000, 10, 1000)];
    const p = frontierPoint('vatp:budget=0.2,pool=7', 'eviction', 0.2, full, mine);
    expect(p.kept).toBe(1); // the third is right where full was wrong: not "kept"
    expect(p.sameAnswer).toBe(2);
    expect(p.top1).toBeCloseTo(25 / 30);
    expect(p.ttftSpeedup).toBe(2); // median of 2, 2, 3
    expect(p.kvSmaller).toBe(4);
    expect(lossPoints(p)).toBeCloseTo(100 * (5 / 30));
  });

  it('refuses results that do not pair with full KV', () => {
    expect(() => frontierPoint('lazy', 'lazy', null, full, full.slice(1))).toThrow(/2 results against full KV's 3/);
  });
});

describe('what auto asks of a frontier', () => {
  const measured = frontier([
    point('lazy', 'lazy', 0.95, 1.3),
    point('lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question', 'lazy', 0.92, 1.7),
    point('lazy:at=2,keep=0.1', 'lazy', 0.99, 1.05),
    point('vatp:budget=0.5,pool=7', 'eviction', 0.95, 0.9, 0.5),
    point('vatp:budget=0.2,pool=7', 'eviction', 0.7, 0.9, 0.2),
    point('snapkv:budget=0.2', 'eviction', 0.75, 0.9, 0.2),
  ]);

  it('takes the soonest first token within the preference loss, and nothing worth less than 1.1x', () => {
    expect(vouchedLazy(measured, 'fast')?.policy).toBe('lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question');
    expect(vouchedLazy(measured, 'balanced')).toBeNull(); // 1.05x is within 2 points but not worth it
    expect(vouchedLazy(measured, 'exact')).toBeNull();
    expect(vouchedLazy(null, 'fast')).toBeNull();
  });

  it('ranks evictors at the smallest budget measured, and keeps their own knobs without the budget', () => {
    const best = bestEvictor(measured);
    expect(best?.policy).toBe('snapkv:budget=0.2');
    expect(evictorWithoutBudget(best!)).toBe('snapkv');
    expect(evictorWithoutBudget(point('vatp:budget=0.2,pool=7', 'eviction', 1, 1, 0.2))).toBe('vatp:pool=7');
    expect(bestEvictor(frontier([point('lazy', 'lazy', 1, 2)]))).toBeNull();
  });
});

describe('an eviction budget between the measured ones', () => {
  const measured = frontier([
    point('vatp:budget=0.5,pool=7', 'eviction', 0.9, 1, 0.5),
    point('vatp:budget=0.2,pool=7', 'eviction', 0.78, 1, 0.2),
    point('snapkv:budget=0.2', 'eviction', 0.5, 1, 0.2),
    point('simlayerkv', 'simlayerkv', 0.97, 1.1),
  ]);
  const vatp = measured.points[1]!;

  it('reads the loss off the scorer\'s own budgets, linearly, with full KV (all of the prompt) losing nothing', () => {
    expect(evictionLoss(measured, vatp, 0.5)).toEqual({ points: expect.closeTo(10, 6), withinMeasured: true });
    expect(evictionLoss(measured, vatp, 0.35).points).toBeCloseTo(16, 6);
    expect(evictionLoss(measured, vatp, 0.75).points).toBeCloseTo(5, 6);
    expect(evictionLoss(measured, vatp, 1).points).toBe(0);
  });

  it('below the smallest budget measured, that budget\'s loss, said to be outside what was measured', () => {
    expect(evictionLoss(measured, vatp, 0.1)).toEqual({ points: expect.closeTo(22, 6), withinMeasured: false });
    // another scorer's points are its own: SnapKV was measured only at 0.2
    expect(evictionLoss(measured, measured.points[2]!, 0.6).points).toBeCloseTo(25, 6);
  });

  it('finds SimLayerKV\'s measurement', () => {
    expect(measuredTrim(measured)?.top1).toBe(0.97);
    expect(measuredTrim(frontier([vatp]))).toBeNull();
  });
});

describe('the stored and shipped forms', () => {
  const stored = frontier([point('lazy', 'lazy', 0.9, 1.4)]);

  const at = (promptTokens: number, source: ModelFrontier['source'] = 'calibrate'): ModelFrontier => ({ ...stored, promptTokens, source });

  it('round-trips beside other kinds of profile, one frontier per length, and refuses malformed ones', () => {
    const profile = withFrontier({ simlayerkv: { keep: true } }, at(4000));
    expect(profile['simlayerkv']).toEqual({ keep: true });
    const both = withFrontier(JSON.parse(JSON.stringify(profile)), at(2000));
    expect(readFrontiers(both)).toEqual([at(2000), at(4000)]);
    // a new measurement at about a stored length replaces it
    const again = { ...at(2100), questions: 9 };
    expect(readFrontiers(withFrontier(both, again))).toEqual([again, at(4000)]);
    expect(parseFrontier({ ...stored, points: [{ ...stored.points[0], top1: 1.5 }] })).toBeNull();
    expect(parseFrontier({ ...stored, source: 'guess' })).toBeNull();
    // a malformed length is left out, the others are read
    expect(readFrontiers({ frontiers: [{ ...at(2000), source: 'guess' }, at(8000)] })).toEqual([at(8000)]);
    expect(readFrontiers({ frontiers: 'x' })).toEqual([]);
    expect(readFrontiers(null)).toEqual([]);
  });

  it('reads a profile stored before frontiers had lengths as its one length, and moves it on the next write', () => {
    const old = { simlayerkv: { keep: true }, frontier: at(2000) };
    expect(readFrontiers(old)).toEqual([at(2000)]);
    const written = withFrontier(old, at(8000));
    expect(written['frontier']).toBeUndefined();
    expect(readFrontiers(written)).toEqual([at(2000), at(8000)]);
  });

  it('adds points measured on the same questions to a length, and refuses ones measured on others', () => {
    const trim = point('simlayerkv:sink=4,window=512', 'simlayerkv', 0.97, 1);
    const withTrim = withPoints(at(2000), { ...at(2050), points: [trim] });
    expect(withTrim.points.map((p) => p.policy)).toEqual(['lazy', 'simlayerkv:sink=4,window=512']);
    expect(withTrim.measuredAt).toBe(at(2000).measuredAt);
    // measured again: replaced, not doubled
    expect(withPoints(withTrim, { ...at(2000), points: [{ ...trim, top1: 0.9 }] }).points.map((p) => p.top1)).toEqual([0.9, 0.9]);
    expect(() => withPoints(at(2000), { ...at(2000), questions: 9, points: [trim] })).toThrow(/9 questions/);
    expect(() => withPoints(at(2000), { ...at(4000), points: [trim] })).toThrow(/~4000/);
  });

  it('gives a turn the length measured nearest its prompt, by ratio', () => {
    const all = [at(2000), at(4000), at(8000)];
    expect(nearestFrontier(all, 500)?.promptTokens).toBe(2000);
    expect(nearestFrontier(all, 2900)?.promptTokens).toBe(4000); // 2900/2000 is 1.45×, 4000/2900 is 1.38×
    expect(nearestFrontier(all, 2700)?.promptTokens).toBe(2000);
    expect(nearestFrontier(all, 60_000)?.promptTokens).toBe(8000);
    expect(nearestFrontier([], 2000)).toBeNull();
  });

  it('reads a shipped file only for the hash it names, and puts this machine calibration of a length in place of the shipped one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-frontiers-'));
    const hash = 'a'.repeat(64);
    const shipped = [at(2000, 'shipped'), at(4000, 'shipped')];
    writeFileSync(path.join(dir, `${hash}.json`), JSON.stringify({ modelHash: hash, name: 'm', frontiers: shipped }));
    writeFileSync(path.join(dir, `${'b'.repeat(64)}.json`), JSON.stringify({ modelHash: hash, name: 'm', frontiers: shipped }));
    const url = pathToFileURL(`${dir}/`);
    expect(readShippedFrontiers(hash, url)).toEqual(shipped);
    expect(readShippedFrontiers('b'.repeat(64), url)).toEqual([]); // names another model
    expect(readShippedFrontiers('c'.repeat(64), url)).toEqual([]);

    // a file shipped before frontiers had lengths
    const older = 'd'.repeat(64);
    writeFileSync(path.join(dir, `${older}.json`), JSON.stringify({ modelHash: older, name: 'm', frontier: shipped[0] }));
    expect(readShippedFrontiers(older, url)).toEqual([shipped[0]]);
    // writing merges by length into what ships
    await writeShippedFrontiers(older, 'm', [at(8000)], url);
    expect(readShippedFrontiers(older, url)).toEqual([shipped[0], at(8000, 'shipped')]);

    const model = path.join(dir, 'model.gguf');
    writeFileSync(model, 'not really a model');
    const { modelFileHash } = await import('../../src-main/models/modelHash.js');
    const modelHash = await modelFileHash(model);
    writeFileSync(path.join(dir, `${modelHash}.json`), JSON.stringify({ modelHash, name: 'm', frontiers: shipped }));
    const none = new StoredFrontiers({ get: () => null }, url);
    expect(await none.forModel(model)).toEqual(shipped);
    const calibrated = new StoredFrontiers({ get: () => ({ modelHash, path: model, name: 'm', profile: withFrontier({}, at(4100)), createdAt: 0 }) }, url);
    expect(await calibrated.forModel(model)).toEqual([shipped[0], at(4100)]);

    // a layer profile ships in the same file: read when this machine has none, kept when frontiers are written
    const layers = { scores: [0.1, 0.9, 0.8], delta: 0.5, trimmedLayers: [1, 2], sink: 4, window: 512 };
    const noneHere = new StoredLayerProfiles({ get: () => null }, url);
    expect(await noneHere.forModel(model)).toBeNull();
    await writeShippedLayerProfile(modelHash, 'm', { ...layers, threshold: 0.9, agreement: 1, fidelity: [], lastW: 32, forced: 32, documents: [], measuredAt: '' }, url);
    expect(readShippedLayerProfile(modelHash, url)).toEqual(layers);
    expect(await noneHere.forModel(model)).toEqual(layers);
    await writeShippedFrontiers(modelHash, 'm', [at(8000)], url);
    expect(readShippedLayerProfile(modelHash, url)).toEqual(layers);
    expect(readShippedFrontiers(modelHash, url).map((f) => f.promptTokens)).toEqual([2000, 4000, 8000]);
    const measuredHere = { ...layers, trimmedLayers: [2] };
    const here = new StoredLayerProfiles({ get: () => ({ modelHash, path: model, name: 'm', profile: { simlayerkv: measuredHere }, createdAt: 0 }) }, url);
    expect(await here.forModel(model)).toEqual(measuredHere);
  });
});

describe('what a calibration tries', () => {
  it('places the faster lazy schedule by depth, and leaves out what the model cannot run', () => {
    const all = frontierCandidates(30, { lazy: true, eviction: true, simLayerKv: { sink: 4, window: 512 } }).map((c) => c.policy);
    expect(all).toEqual([
      'kv:type=q8_0',
      'lazy',
      'lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question',
      'vatp:budget=0.5,chunk=sentence',
      'vatp:budget=0.2,chunk=sentence',
      'snapkv:budget=0.2',
      'keydiff:budget=0.2',
      'simlayerkv:sink=4,window=512',
    ]);
    expect(frontierCandidates(24, { lazy: false, eviction: false, simLayerKv: null }).map((c) => c.policy)).toEqual(['kv:type=q8_0']);
    expect(spreadDepths(4)).toEqual([0.125, 0.375, 0.625, 0.875]);
  });

  it('calibrates the lengths the opened context holds, or the longest question it does', () => {
    expect(lengthsWithin([4096, 2048, 2048], 8192, 32)).toEqual([2048, 4096]);
    // a model trained at 4k opens 4,096 tokens: 4,096 of prompt has no room for the answer
    expect(lengthsWithin([2048, 4096], 4096, 32)).toEqual([2048]);
    expect(lengthsWithin([2048, 4096], 1024, 32)).toEqual([1024 - 32 - 16]);
  });
});
