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
  readFrontier,
  vouchedLazy,
  withFrontier,
  type FrontierPoint,
  type ModelFrontier,
  type QuestionResult,
} from '../../src-common/policy/frontier.js';
import { readShippedFrontier, StoredFrontiers } from '../../src-main/models/modelFrontiers.js';
import { frontierCandidates, spreadDepths } from '../../src-main/models/frontierCalibration.js';

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

  it('round-trips beside other kinds of profile, and refuses malformed ones', () => {
    const profile = withFrontier({ simlayerkv: { keep: true } }, stored);
    expect(profile['simlayerkv']).toEqual({ keep: true });
    expect(readFrontier(JSON.parse(JSON.stringify(profile)))).toEqual(stored);
    expect(parseFrontier({ ...stored, points: [{ ...stored.points[0], top1: 1.5 }] })).toBeNull();
    expect(parseFrontier({ ...stored, source: 'guess' })).toBeNull();
    expect(readFrontier({ frontier: 'x' })).toBeNull();
    expect(readFrontier(null)).toBeNull();
  });

  it('reads a shipped file only for the hash it names, and prefers this machine calibration', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sift-frontiers-'));
    const hash = 'a'.repeat(64);
    const shipped = { ...stored, source: 'shipped' as const };
    writeFileSync(path.join(dir, `${hash}.json`), JSON.stringify({ modelHash: hash, name: 'm', frontier: shipped }));
    writeFileSync(path.join(dir, `${'b'.repeat(64)}.json`), JSON.stringify({ modelHash: hash, name: 'm', frontier: shipped }));
    const url = pathToFileURL(`${dir}/`);
    expect(readShippedFrontier(hash, url)).toEqual(shipped);
    expect(readShippedFrontier('b'.repeat(64), url)).toBeNull(); // names another model
    expect(readShippedFrontier('c'.repeat(64), url)).toBeNull();

    const model = path.join(dir, 'model.gguf');
    writeFileSync(model, 'not really a model');
    const { modelFileHash } = await import('../../src-main/models/modelHash.js');
    const modelHash = await modelFileHash(model);
    writeFileSync(path.join(dir, `${modelHash}.json`), JSON.stringify({ modelHash, name: 'm', frontier: shipped }));
    const none = new StoredFrontiers({ get: () => null }, url);
    expect(await none.forModel(model)).toEqual(shipped);
    const calibrated = new StoredFrontiers({ get: () => ({ modelHash, path: model, name: 'm', profile: withFrontier({}, stored), createdAt: 0 }) }, url);
    expect(await calibrated.forModel(model)).toEqual(stored);
  });
});

describe('what a calibration tries', () => {
  it('places the faster lazy schedule by depth, and leaves out what the model cannot run', () => {
    const all = frontierCandidates(30, { lazy: true, eviction: true, simLayerKv: { sink: 4, window: 512 } }).map((c) => c.policy);
    expect(all).toEqual([
      'kv:type=q8_0',
      'lazy',
      'lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question',
      'vatp:budget=0.5,pool=7',
      'vatp:budget=0.2,pool=7',
      'snapkv:budget=0.2',
      'keydiff:budget=0.2',
      'simlayerkv:sink=4,window=512',
    ]);
    expect(frontierCandidates(24, { lazy: false, eviction: false, simLayerKv: null }).map((c) => c.policy)).toEqual(['kv:type=q8_0']);
    expect(spreadDepths(4)).toEqual([0.125, 0.375, 0.625, 0.875]);
  });
});
