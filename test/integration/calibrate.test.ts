// `sift calibrate` on the real model, kept short (one document, 400 tokens), then a `simlayerkv`
// turn that finds the stored profile: the engine trims exactly the calibrated layers. And the
// frontier (one real-prose question of ~512 tokens, every candidate policy against full KV), which
// `sift plan`'s auto then reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelFileHash } from '../../src-main/models/modelHash.js';
import { readLayerProfile } from '../../src-common/policy/calibration.js';
import { readFrontiers, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { openStore } from '../../src-main/store/index.js';
import { readShippedLayerProfile } from '../../src-main/models/modelFrontiers.js';
import { testModelPath } from '../helpers/testModel.js';

const CLI = ['--import', 'tsx', path.resolve('src-main/cli/main.ts')];

function runCli(args: string[], dataDir: string) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SIFT_DATA_DIR: dataDir },
    // the suite's projects share the cores with Chromium's e2e runs: a two-length calibration took 123 s alone and over 170 s there
    timeout: 400_000,
  });
}

describe('sift calibrate', () => {
  it('uncalibrated here, a simlayerkv turn trims the layers of the profile Sift ships for the model', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-shipped-layers-'));
    const model = testModelPath();
    const shipped = readShippedLayerProfile(await modelFileHash(model));
    expect(shipped?.trimmedLayers.length).toBeGreaterThan(0);
    const ask = runCli(['ask', '--json', '--policy', 'simlayerkv', '--max-tokens', '2', '--model', model, 'Name a colour.'], dataDir);
    expect(ask.status, ask.stderr).toBe(0);
    const out = JSON.parse(ask.stdout.trim()) as { notice: string | null; perLayer: Array<{ layer: number; trimmed?: boolean }> };
    expect(out.notice ?? '').not.toMatch(/calibrat/);
    expect(out.perLayer.filter((l) => l.trimmed).map((l) => l.layer)).toEqual(shipped!.trimmedLayers);
  });

  it('stores a SimLayerKV profile that a simlayerkv turn then uses', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-calibrate-'));
    const model = testModelPath();
    const res = runCli(['calibrate', '--json', '--measure', 'layers', '--tokens', '400', '--window', '64', '--forced', '8', '--documents', '1', model], dataDir);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/scoring layers: document 1\/1 \(\d+ tokens/);
    expect(res.stderr).toMatch(/trying \d+ trimmed layers: top-1 \d+\.\d%/);

    const printed = JSON.parse(res.stdout.trim()) as { modelHash: string; scores: number[]; trimmedLayers: number[]; delta: number; fidelity: unknown[] };
    const modelHash = await modelFileHash(model);
    expect(printed.modelHash).toBe(modelHash);
    expect(printed.fidelity.length).toBeGreaterThan(0);

    const store = openStore({ dataDir });
    let stored;
    try {
      stored = store.modelProfiles.get(modelHash);
    } finally {
      store.close();
    }
    expect(stored?.path).toBe(model);
    const profile = readLayerProfile(stored?.profile);
    expect(profile).not.toBeNull();
    expect(profile!.scores).toHaveLength(30);
    for (const score of profile!.scores) {
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(1 + 1e-4);
    }
    expect(profile!.delta).toBeGreaterThan(0);
    // measured: a dozen of SmolLM2's 30 layers keep 100% agreement here; none would make the turn below vacuous
    expect(profile!.trimmedLayers.length).toBeGreaterThan(0);
    expect(profile!.trimmedLayers).toEqual(profile!.scores.flatMap((s, layer) => (s > profile!.delta ? [layer] : [])));
    expect(profile).toMatchObject({ sink: 4, window: 64, trimmedLayers: printed.trimmedLayers });

    const ask = runCli(['ask', '--json', '--policy', 'simlayerkv', '--max-tokens', '4', '--model', model, 'Name a colour.'], dataDir);
    expect(ask.status, ask.stderr).toBe(0);
    const out = JSON.parse(ask.stdout.trim()) as { notice: string | null; perLayer: Array<{ layer: number; trimmed?: boolean }> };
    expect(out.notice ?? '').not.toMatch(/calibrat/);
    expect(out.perLayer).toHaveLength(30);
    expect(out.perLayer.filter((l) => l.trimmed).map((l) => l.layer)).toEqual(profile!.trimmedLayers);
  });

  it('measures the frontier at two lengths on real-prose questions, stores both, and auto plans from the nearest', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-calibrate-'));
    const model = testModelPath();
    const res = runCli(['calibrate', '--json', '--measure', 'frontier', '--frontier-tokens', '1024,512', '--depths', '1', model], dataDir);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/measuring .*'s frontier at 512, 1024 tokens/);
    expect(res.stderr).toMatch(/7 policies against full KV on 1 real-prose question of ~512 tokens/);
    expect(res.stderr).toMatch(/7 policies against full KV on 1 real-prose question of ~1024 tokens/);
    expect(res.stderr).toMatch(/question 1\/1 \(\d+ tokens, full KV (right|wrong)/);

    const printed = JSON.parse(res.stdout.trim()) as { frontiers: ModelFrontier[]; scores?: unknown };
    expect(printed.scores).toBeUndefined(); // layers were not measured
    expect(printed.frontiers).toHaveLength(2);
    const [frontier, longer] = printed.frontiers as [ModelFrontier, ModelFrontier];
    expect(longer.promptTokens).toBeGreaterThan(frontier.promptTokens * 1.5);
    expect(longer.promptTokens).toBeLessThanOrEqual(1024);
    expect(frontier.questions).toBe(1);
    expect(frontier.promptTokens).toBeGreaterThan(300);
    expect(frontier.promptTokens).toBeLessThanOrEqual(512);
    expect(frontier.points.map((p) => p.policy)).toEqual([
      'kv:type=q8_0',
      'lazy',
      'lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question',
      'vatp:budget=0.5,chunk=sentence',
      'vatp:budget=0.2,chunk=sentence',
      'snapkv:budget=0.2',
      'keydiff:budget=0.2',
    ]);
    for (const p of frontier.points) {
      expect(p.top1).toBeGreaterThan(0);
      expect(p.top1).toBeLessThanOrEqual(1);
      expect(p.ttftSpeedup).toBeGreaterThan(0);
    }
    // an 8-bit cache keeps all the cells; eviction at a fifth keeps fewer, so its cache is smaller
    expect(frontier.points[0]!.kvSmaller).toBeGreaterThan(1.5);
    expect(frontier.points.find((p) => p.policy === 'vatp:budget=0.2,chunk=sentence')!.kvSmaller).toBeGreaterThan(frontier.points[0]!.kvSmaller);

    const store = openStore({ dataDir });
    try {
      expect(readFrontiers(store.modelProfiles.get(await modelFileHash(model))?.profile)).toEqual(printed.frontiers);
    } finally {
      store.close();
    }

    type Planned = { calibration: { source: string; promptTokens: number; lengths: number[] } | null; explanation: string; notices: string[]; policy: string };
    const plan = (tokens: number): Planned => {
      const res = runCli(['plan', '--json', '--model', model, '--prompt-tokens', String(tokens), '--prefer', 'fast'], dataDir);
      expect(res.status, res.stderr).toBe(0);
      return JSON.parse(res.stdout.trim()) as Planned;
    };
    // a prompt of about the longer length reads this machine's measurement of it
    const near = plan(longer.promptTokens);
    expect(near.calibration).toMatchObject({ source: 'calibrate', promptTokens: longer.promptTokens });
    // a long prompt reads a length of the shipped frontier (~2k or ~4k), nearer it than this machine's two;
    // auto under prefer=fast decides lazy prefill from that measurement, and says so
    const far = plan(4000);
    expect(far.calibration?.source).toBe('shipped');
    expect(far.calibration?.promptTokens).toBeGreaterThan(1800);
    expect(far.calibration?.lengths.slice(0, 2)).toEqual([frontier.promptTokens, longer.promptTokens]);
    expect(far.calibration?.lengths).toContain(far.calibration?.promptTokens);
    expect([far.explanation, ...far.notices].join(' ')).toMatch(/on this model/i);
    const text = runCli(['plan', '--model', model, '--prompt-tokens', '4000'], dataDir);
    expect(text.stdout).toMatch(/^Calibration: read at ~[\d,]+ tokens \(shipped with Sift, \d{4}-\d\d-\d\d\); also measured at ~\d+, ~\d+(, ~[\d,]+)*$/m);
  }, 420_000);
});
